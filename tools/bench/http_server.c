/* SPDX-License-Identifier: MIT */
/*
 * http-server: the HTTP/1.1 counterpart of kv-server for the sidecar
 * setups of `make bench`. One thread, epoll, keep-alive; every request
 * (any method, any path) is answered with a fixed body of --body-size bytes
 * (default 32, the "short byte string" of the paper's workload). Requests
 * that arrive pipelined on one connection are all answered, in order, with
 * one send(). Every response carries "x-server: adn-bench" so that the load
 * client can tell them from replies a proxy made (the 403s and 503s of the
 * sidecar chain).
 *
 * usage: http-server [--listen ADDR] [--port N] [--body-size B]
 * Prints "http-server: listening on ADDR:PORT" once ready; exits 0 at
 * SIGTERM/SIGINT, printing {"handled": N} when --stats is given.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http_header.h"

#define RBUF 65536
#define MAX_HDR 16384

struct conn {
	int fd;
	bool want_out, close_after;
	size_t rlen, olen, ooff, ocap;
	char *rbuf, *obuf;
};

static volatile sig_atomic_t stop;
static char response[1024];
static size_t response_len;
static unsigned long long handled;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void conn_free(int ep, struct conn *c)
{
	epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	free(c->rbuf);
	free(c->obuf);
	free(c);
}

static bool out_append(struct conn *c, const char *p, size_t n)
{
	if (c->olen + n > c->ocap) {
		size_t cap = c->ocap ? c->ocap : 4096;
		while (cap < c->olen + n)
			cap *= 2;
		char *b = realloc(c->obuf, cap);
		if (!b)
			return false;
		c->obuf = b;
		c->ocap = cap;
	}
	memcpy(c->obuf + c->olen, p, n);
	c->olen += n;
	return true;
}

/* Answers every complete request in rbuf. -1: malformed or out of memory. */
static int serve(struct conn *c)
{
	size_t off = 0;
	while (off < c->rlen) {
		const char *p = c->rbuf + off, *end = c->rbuf + c->rlen;
		const char *hend = memmem(p, (size_t)(end - p), "\r\n\r\n", 4);
		if (!hend) {
			if (c->rlen - off > MAX_HDR)
				return -1;
			break;
		}
		hend += 4;
		unsigned long cl = 0;
		const char *v = find_header(p, hend, "content-length");
		if (v)
			cl = strtoul(v, NULL, 10);
		if (cl > RBUF / 2)
			return -1;
		if ((size_t)(end - hend) < cl)
			break;
		v = find_header(p, hend, "connection");
		if (v && !strncasecmp(v, "close", 5))
			c->close_after = true;
		if (!out_append(c, response, response_len))
			return -1;
		handled++;
		off = (size_t)(hend - c->rbuf) + cl;
		if (c->close_after)
			break;
	}
	memmove(c->rbuf, c->rbuf + off, c->rlen - off);
	c->rlen -= off;
	return 0;
}

/* Sends what is queued; 1 all sent, 0 would block, -1 error. */
static int flush_out(struct conn *c)
{
	while (c->ooff < c->olen) {
		ssize_t n = send(c->fd, c->obuf + c->ooff, c->olen - c->ooff, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				return 0;
			return -1;
		}
		c->ooff += (size_t)n;
	}
	c->ooff = c->olen = 0;
	return 1;
}

static void set_out(int ep, struct conn *c, bool want)
{
	if (c->want_out == want)
		return;
	struct epoll_event ev = { .events = EPOLLIN | (want ? EPOLLOUT : 0), .data.ptr = c };
	epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
	c->want_out = want;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: http-server [--listen ADDR] [--port N] [--body-size B] [--stats]\n"
		   "  --listen ADDR   address (default 127.0.0.1)\n"
		   "  --port N        TCP port (default 17084)\n"
		   "  --body-size B   bytes in every response body (default 32, at most 512)\n"
		   "  --stats         print {\"handled\": N} at exit\n");
}

int main(int argc, char **argv)
{
	const char *addr = "127.0.0.1";
	unsigned long port = 17084, body = 32;
	bool stats = false;
	static const struct option opts[] = {
		{ "listen", required_argument, 0, 'l' }, { "port", required_argument, 0, 'p' },
		{ "body-size", required_argument, 0, 'b' }, { "stats", no_argument, 0, 's' },
		{ "help", no_argument, 0, 'h' },         { 0, 0, 0, 0 },
	};
	int o;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		char *e;
		switch (o) {
		case 'l': addr = optarg; break;
		case 'p':
			port = strtoul(optarg, &e, 10);
			if (*e || port > 65535) {
				fprintf(stderr, "http-server: --port: bad value '%s'\n", optarg);
				return 1;
			}
			break;
		case 'b':
			body = strtoul(optarg, &e, 10);
			if (*e || body > 512) {
				fprintf(stderr, "http-server: --body-size: bad value '%s'\n", optarg);
				return 1;
			}
			break;
		case 's': stats = true; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 1;
		}
	}

	int hl = snprintf(response, sizeof(response),
			  "HTTP/1.1 200 OK\r\ncontent-type: application/octet-stream\r\n"
			  "x-server: adn-bench\r\ncontent-length: %lu\r\n\r\n", body);
	for (unsigned long i = 0; i < body; i++)
		response[hl + (int)i] = (char)('a' + i % 26);
	response_len = (size_t)hl + body;

	struct sigaction sa = { .sa_handler = on_signal };
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	int ls = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), one = 1;
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	if (ls < 0 || inet_pton(AF_INET, addr, &sin.sin_addr) != 1) {
		fprintf(stderr, "http-server: bad address '%s'\n", addr);
		return 2;
	}
	setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(ls, (struct sockaddr *)&sin, sizeof(sin)) || listen(ls, 4096)) {
		fprintf(stderr, "http-server: %s:%lu: %s\n", addr, port, strerror(errno));
		return 2;
	}
	int ep = epoll_create1(EPOLL_CLOEXEC);
	struct epoll_event lev = { .events = EPOLLIN, .data.ptr = NULL };
	epoll_ctl(ep, EPOLL_CTL_ADD, ls, &lev);
	printf("http-server: listening on %s:%lu\n", addr, port);
	fflush(stdout);

	struct epoll_event evs[256];
	while (!stop) {
		int n = epoll_wait(ep, evs, 256, 500);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			perror("http-server: epoll_wait");
			return 2;
		}
		for (int i = 0; i < n; i++) {
			struct conn *c = evs[i].data.ptr;
			if (!c) {
				int fd;
				while ((fd = accept4(ls, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
					setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
					struct conn *nc = calloc(1, sizeof(*nc));
					if (!nc || !(nc->rbuf = malloc(RBUF))) {
						free(nc);
						close(fd);
						continue;
					}
					nc->fd = fd;
					struct epoll_event ev = { .events = EPOLLIN, .data.ptr = nc };
					epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
				}
				continue;
			}
			bool dead = false;
			if (evs[i].events & EPOLLIN) {
				for (;;) {
					ssize_t r = recv(c->fd, c->rbuf + c->rlen, RBUF - c->rlen, 0);
					if (r > 0) {
						c->rlen += (size_t)r;
						if (serve(c) < 0) {
							dead = true;
							break;
						}
						if (c->rlen == RBUF) {
							dead = true;
							break;
						}
						if ((size_t)r < RBUF / 2)
							break; /* most likely drained */
						continue;
					}
					if (r < 0 && errno == EINTR)
						continue;
					if (r < 0 && errno == EAGAIN)
						break;
					dead = true; /* EOF or error */
					break;
				}
			}
			if (!dead && (evs[i].events & (EPOLLERR | EPOLLHUP)) && !(evs[i].events & EPOLLIN))
				dead = true;
			if (!dead && c->olen) {
				int f = flush_out(c);
				if (f < 0)
					dead = true;
				else
					set_out(ep, c, f == 0);
			} else if (!dead && (evs[i].events & EPOLLOUT)) {
				set_out(ep, c, false);
			}
			if (!dead && c->close_after && !c->olen)
				dead = true;
			if (dead)
				conn_free(ep, c);
		}
	}
	if (stats)
		printf("{\"handled\": %llu}\n", handled);
	return 0;
}
