/* SPDX-License-Identifier: MIT */
/*
 * What the test tools in this folder share (chop_relay, frame_tamper):
 * sending a whole buffer on a socket. Header-only because each tool is
 * built from its one .c file (the Makefile's selftests/tools rule).
 */
#ifndef ADN_TOOLS_SEND_ALL_H
#define ADN_TOOLS_SEND_ALL_H

#include <errno.h>
#include <sched.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/types.h>

/* Sends the n bytes at buf on socket fd (MSG_NOSIGNAL; EINTR retried): at
 * most chunk bytes a send(), yielding the CPU between them (chunk 0: no
 * limit, no yield). 0, or -1 when a send fails or the peer is gone. */
static inline int send_all(int fd, const void *buf, size_t n, size_t chunk)
{
	const char *p = buf;

	while (n) {
		size_t k = chunk && n > chunk ? chunk : n;
		ssize_t w = send(fd, p, k, MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
		if (n && chunk)
			sched_yield();
	}
	return 0;
}

#endif /* ADN_TOOLS_SEND_ALL_H */
