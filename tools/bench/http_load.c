/* SPDX-License-Identifier: MIT */
/*
 * http-load: the HTTP/1.1 counterpart of kv-client for the sidecar setups
 * of `make bench`. One thread, epoll, keep-alive connections, a closed loop
 * that keeps K requests outstanding over C connections, at most one per
 * connection (HTTP/1.1 proxies serialize requests on a connection, so
 * pipelining buys nothing through them and is not used). Every request is
 * "GET /k<i> HTTP/1.1" with an "x-user" header the sidecar's ACL checks;
 * the server answers 32-byte bodies.
 *
 * Output (--json) uses kv-client's keys: {sent, ok, status{name:count},
 * net_replies, lost, bad_replies, seconds, rps, p50_us, p99_us, p999_us},
 * plus reconnects. "ok" counts 200s; status names are the HTTP codes
 * ("503": n); net_replies counts responses that lack the server's
 * "x-server" header, i.e. that a proxy made.
 *
 * Exit: 0 every request got a response, 1 usage error, 2 connect failure or
 * requests without a response.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "http_header.h"
#include "latency_hist.h"

#define RBUF 65536
#define MAX_CONNS 65536


struct conn {
	int fd;
	unsigned idx;
	bool busy;
	uint64_t t0;
	size_t rlen;
	char *rbuf;
	struct conn *next_idle;
};

struct options {
	const char *host, *user;
	unsigned long port, outstanding, conns;
	unsigned long long count;
	double duration, timeout;
	bool json;
};

static struct options o = { .host = "127.0.0.1", .user = "alice", .port = 17084,
			    .outstanding = 128, .conns = 128, .count = 1000, .timeout = 5 };
static struct conn *conns;
static struct conn *idle_head, *idle_tail;
static int ep;
static struct sockaddr_in dst;
static uint64_t sent, completed, ok, net_replies, lost, bad, reconnects, last_done;
static uint64_t by_code[1000];
static struct histogram lat;
static char errmsg[256];

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void idle_push(struct conn *c)
{
	c->next_idle = NULL;
	if (idle_tail)
		idle_tail->next_idle = c;
	else
		idle_head = c;
	idle_tail = c;
}

static struct conn *idle_pop(void)
{
	struct conn *c = idle_head;
	if (c) {
		idle_head = c->next_idle;
		if (!idle_head)
			idle_tail = NULL;
	}
	return c;
}

/* Blocking connect, then non-blocking I/O. 0 or -1 (errmsg set). */
static int conn_open(struct conn *c)
{
	int one = 1;
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0 || connect(c->fd, (struct sockaddr *)&dst, sizeof(dst))) {
		snprintf(errmsg, sizeof(errmsg), "connect %s:%lu: %s", o.host, o.port,
			 strerror(errno));
		if (c->fd >= 0)
			close(c->fd);
		c->fd = -1;
		return -1;
	}
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) | O_NONBLOCK);
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };
	epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
	c->rlen = 0;
	c->busy = false;
	return 0;
}

static void conn_close(struct conn *c)
{
	if (c->fd >= 0) {
		epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
		close(c->fd);
	}
	c->fd = -1;
}

static void record(struct conn *c, uint64_t now)
{
	completed++;
	last_done = now;
	uint64_t l = now - c->t0;
	hist_add(&lat, l);
}

/* Sends one request on idle connection c. 0, or -1 if the connection broke. */
static int issue(struct conn *c)
{
	char req[256];
	int n = snprintf(req, sizeof(req),
			 "GET /k%llu HTTP/1.1\r\nhost: %s\r\nx-user: %s\r\n\r\n",
			 (unsigned long long)(sent % 1000), o.host, o.user);
	c->t0 = now_ns();
	ssize_t w;
	do
		w = send(c->fd, req, (size_t)n, MSG_NOSIGNAL);
	while (w < 0 && errno == EINTR);
	if (w != n) /* 200 bytes into an idle socket: anything else is a broken connection */
		return -1;
	c->busy = true;
	sent++;
	return 0;
}

/* Parses one response from c->rbuf. 1 complete (consumed), 0 need more,
 * -1 malformed. *close_after is set when the peer announced a close. */
static int parse_response(struct conn *c, bool *close_after)
{
	const char *p = c->rbuf, *end = c->rbuf + c->rlen;
	const char *hend = memmem(p, c->rlen, "\r\n\r\n", 4);
	if (!hend)
		return c->rlen > RBUF / 2 ? -1 : 0;
	hend += 4;
	if (c->rlen < 12 || strncmp(p, "HTTP/1.", 7))
		return -1;
	int code = atoi(p + 9);
	const char *v = find_header(p, hend, "content-length");
	unsigned long cl = v ? strtoul(v, NULL, 10) : 0;
	if (cl > RBUF / 2)
		return -1;
	if ((size_t)(end - hend) < cl)
		return 0;
	v = find_header(p, hend, "connection");
	*close_after = v && !strncasecmp(v, "close", 5);
	if (code >= 100 && code < 1000)
		by_code[code]++;
	if (code == 200)
		ok++;
	if (!find_header(p, hend, "x-server"))
		net_replies++;
	size_t used = (size_t)(hend - p) + cl;
	memmove(c->rbuf, c->rbuf + used, c->rlen - used);
	c->rlen -= used;
	return 1;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: http-load [--host H] [--port N] [--user NAME] [--count N | --duration S]\n"
		"                 [--outstanding K] [--conns C] [--timeout S] [--json]\n"
		"  K requests in flight over C >= K keep-alive connections, one per connection.\n");
}

static int parse_args(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "host", required_argument, 0, 'H' },     { "port", required_argument, 0, 'p' },
		{ "user", required_argument, 0, 'u' },     { "count", required_argument, 0, 'n' },
		{ "duration", required_argument, 0, 'd' }, { "outstanding", required_argument, 0, 'k' },
		{ "conns", required_argument, 0, 'c' },    { "timeout", required_argument, 0, 't' },
		{ "json", no_argument, 0, 'j' },           { "help", no_argument, 0, 'h' },
		{ 0, 0, 0, 0 },
	};
	bool have_count = false, have_conns = false;
	int opt;
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		char *e = NULL;
		switch (opt) {
		case 'H': o.host = optarg; break;
		case 'u': o.user = optarg; break;
		case 'p': o.port = strtoul(optarg, &e, 10); break;
		case 'n': o.count = strtoull(optarg, &e, 10); have_count = true; break;
		case 'd': o.duration = strtod(optarg, &e); break;
		case 'k': o.outstanding = strtoul(optarg, &e, 10); break;
		case 'c': o.conns = strtoul(optarg, &e, 10); have_conns = true; break;
		case 't': o.timeout = strtod(optarg, &e); break;
		case 'j': o.json = true; break;
		case 'h': usage(stdout); exit(0);
		default: usage(stderr); return 1;
		}
		if (e && *e) {
			fprintf(stderr, "http-load: bad value '%s'\n", optarg);
			return 1;
		}
	}
	if (optind < argc || (have_count && o.duration > 0)) {
		usage(stderr);
		return 1;
	}
	if (!have_conns)
		o.conns = o.outstanding;
	if (!o.outstanding || !o.conns || o.conns > MAX_CONNS || o.outstanding > o.conns) {
		fprintf(stderr, "http-load: need 1 <= --outstanding <= --conns <= %u "
				"(no pipelining)\n", MAX_CONNS);
		return 1;
	}
	if (o.port > 65535) {
		fprintf(stderr, "http-load: bad port\n");
		return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (parse_args(argc, argv))
		return 1;
	dst = (struct sockaddr_in){ .sin_family = AF_INET, .sin_port = htons((uint16_t)o.port) };
	if (inet_pton(AF_INET, o.host, &dst.sin_addr) != 1) {
		fprintf(stderr, "http-load: --host must be an IPv4 address\n");
		return 1;
	}
	ep = epoll_create1(EPOLL_CLOEXEC);
	conns = calloc(o.conns, sizeof(*conns));
	if (!conns)
		return 2;
	for (unsigned long i = 0; i < o.conns; i++) {
		conns[i].idx = (unsigned)i;
		conns[i].rbuf = malloc(RBUF);
		if (!conns[i].rbuf || conn_open(&conns[i])) {
			fprintf(stderr, "http-load: %s\n", errmsg[0] ? errmsg : "out of memory");
			return 2;
		}
		idle_push(&conns[i]);
	}

	uint64_t t0 = now_ns(), inflight = 0;
	uint64_t end = o.duration > 0 ? t0 + (uint64_t)(o.duration * 1e9) : 0;
	uint64_t deadline = (uint64_t)(o.timeout * 1e9);
	last_done = t0;
	struct epoll_event evs[512];
	bool broken = false;
	for (;;) {
		uint64_t now = now_ns();
		bool more = end ? now < end : sent < o.count;
		while (more && !broken && inflight < o.outstanding && idle_head) {
			struct conn *c = idle_pop();
			if (issue(c)) {
				conn_close(c);
				reconnects++;
				if (conn_open(c)) {
					broken = true;
					break;
				}
				idle_push(c);
				continue;
			}
			inflight++;
			if (!end && sent >= o.count)
				break;
		}
		if (!inflight && (broken || !(end ? now_ns() < end : sent < o.count)))
			break;
		int n = epoll_wait(ep, evs, 512, 100);
		if (n < 0 && errno != EINTR) {
			perror("http-load: epoll_wait");
			break;
		}
		now = now_ns();
		for (int i = 0; i < n; i++) {
			struct conn *c = evs[i].data.ptr;
			bool eof = false;
			for (;;) {
				ssize_t r = recv(c->fd, c->rbuf + c->rlen, RBUF - c->rlen, 0);
				if (r > 0) {
					c->rlen += (size_t)r;
					if (c->rlen == RBUF)
						break;
					continue;
				}
				if (r < 0 && errno == EINTR)
					continue;
				if (r == 0 || (r < 0 && errno != EAGAIN))
					eof = true;
				break;
			}
			bool close_after = false;
			int pr = c->busy ? parse_response(c, &close_after) : (c->rlen ? -1 : 0);
			if (pr == 1) {
				record(c, now);
				c->busy = false;
				inflight--;
			} else if (pr < 0) {
				bad++;
				eof = true;
			}
			if (eof || close_after) {
				if (c->busy) { /* the response never came */
					record(c, now);
					lost++;
					c->busy = false;
					inflight--;
				}
				conn_close(c);
				reconnects++;
				if (conn_open(c)) {
					broken = true;
					continue;
				}
				idle_push(c);
			} else if (pr == 1) {
				idle_push(c);
			}
		}
		if (deadline) {
			for (unsigned long i = 0; i < o.conns; i++) {
				struct conn *c = &conns[i];
				if (c->busy && now - c->t0 > deadline) {
					record(c, now);
					lost++;
					c->busy = false;
					inflight--;
					conn_close(c);
					reconnects++;
					if (conn_open(c))
						broken = true;
					else
						idle_push(c);
				}
			}
		}
	}

	double secs = (double)(last_done - t0) / 1e9;
	double rps = secs > 0 ? (double)completed / secs : 0;
	double p50 = hist_percentile(&lat, 0.50) / 1e3, p99 = hist_percentile(&lat, 0.99) / 1e3,
	       p999 = hist_percentile(&lat, 0.999) / 1e3;
	if (o.json) {
		printf("{\"sent\": %llu, \"ok\": %llu, \"status\": {", (unsigned long long)sent,
		       (unsigned long long)ok);
		const char *sep = "";
		for (int s = 100; s < 1000; s++) {
			if (!by_code[s] || s == 200)
				continue;
			printf("%s\"%d\": %llu", sep, s, (unsigned long long)by_code[s]);
			sep = ", ";
		}
		printf("}, \"net_replies\": %llu, \"lost\": %llu, \"bad_replies\": %llu, "
		       "\"reconnects\": %llu, \"seconds\": %.6f, \"rps\": %.1f, \"p50_us\": %.1f, "
		       "\"p99_us\": %.1f, \"p999_us\": %.1f}\n",
		       (unsigned long long)net_replies, (unsigned long long)lost,
		       (unsigned long long)bad, (unsigned long long)reconnects, secs, rps, p50, p99,
		       p999);
	} else {
		printf("sent %llu  ok %llu  net_replies %llu  reconnects %llu\n",
		       (unsigned long long)sent, (unsigned long long)ok,
		       (unsigned long long)net_replies, (unsigned long long)reconnects);
		for (int s = 100; s < 1000; s++)
			if (by_code[s] && s != 200)
				printf("  HTTP %d  %llu\n", s, (unsigned long long)by_code[s]);
		if (lost)
			printf("  no response (lost)  %llu\n", (unsigned long long)lost);
		printf("seconds %.3f  req/s %.0f\n", secs, rps);
		printf("latency us  p50 %.1f  p99 %.1f  p99.9 %.1f\n", p50, p99, p999);
	}
	fflush(stdout);
	if (lost || completed != sent || broken) {
		fprintf(stderr, "http-load: %llu of %llu requests got no response%s%s\n",
			(unsigned long long)(sent - completed + lost), (unsigned long long)sent,
			errmsg[0] ? ": " : "", errmsg);
		return 2;
	}
	return 0;
}
