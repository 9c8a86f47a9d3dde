// SPDX-License-Identifier: MIT
/*
 * chop_relay: a TCP relay that hands the server's bytes to the client in
 * small pieces, so that the client's reads often end in the middle of a
 * frame — as they do when responses cross a network in MTU-sized segments.
 * Used by the kernel tests to check that replies the sender's sk_msg
 * program answers itself never break into the server's byte stream.
 *
 *   chop_relay LISTEN_PORT UPSTREAM_PORT CHUNK
 *
 * Listens on 127.0.0.1:LISTEN_PORT; each accepted connection is relayed to
 * 127.0.0.1:UPSTREAM_PORT by a child process. Client-to-server bytes pass
 * unchanged; server-to-client bytes are written CHUNK bytes per send, with
 * TCP_NODELAY, yielding the CPU between sends. Prints "listening" when
 * ready; runs until killed.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "send_all.h"

static void relay(int cfd, int upstream_port, size_t chunk)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)upstream_port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int one = 1, sfd = socket(AF_INET, SOCK_STREAM, 0);
	char buf[65536];

	if (sfd < 0 || connect(sfd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		fprintf(stderr, "chop_relay: connect to port %d: %s\n", upstream_port, strerror(errno));
		_exit(1);
	}
	setsockopt(sfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	struct pollfd p[2] = { { .fd = cfd, .events = POLLIN }, { .fd = sfd, .events = POLLIN } };
	for (;;) {
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			_exit(1);
		}
		for (int i = 0; i < 2; i++) {
			if (!(p[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			ssize_t n = read(p[i].fd, buf, sizeof(buf));
			if (n <= 0)
				_exit(0);
			int rc = i == 0 ? send_all(sfd, buf, (size_t)n, sizeof(buf))
					: send_all(cfd, buf, (size_t)n, chunk);
			if (rc)
				_exit(0);
		}
	}
}

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: chop_relay LISTEN_PORT UPSTREAM_PORT CHUNK\n");
		return 2;
	}
	int port = atoi(argv[1]), up = atoi(argv[2]);
	long chunk = atol(argv[3]);
	if (port <= 0 || port > 65535 || up <= 0 || up > 65535 || chunk <= 0) {
		fprintf(stderr, "chop_relay: bad arguments\n");
		return 2;
	}
	signal(SIGCHLD, SIG_IGN); /* children reaped by the kernel */
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int one = 1, lfd = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(lfd, 64) < 0) {
		fprintf(stderr, "chop_relay: listen on port %d: %s\n", port, strerror(errno));
		return 1;
	}
	printf("listening\n");
	fflush(stdout);
	for (;;) {
		int cfd = accept(lfd, NULL, NULL);
		if (cfd < 0) {
			if (errno == EINTR)
				continue;
			return 1;
		}
		pid_t pid = fork();
		if (pid == 0) {
			prctl(PR_SET_PDEATHSIG, SIGKILL); /* killed with the relay */
			close(lfd);
			relay(cfd, up, (size_t)chunk);
		}
		close(cfd);
	}
}
