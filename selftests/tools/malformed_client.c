// SPDX-License-Identifier: MIT
/*
 * malformed_client: sends one kind of broken adn frame to a server and
 * reports what the network did with the connection. Used by the kernel
 * tests to check that bad input is dropped without hurting other clients.
 *
 *   malformed_client HOST PORT KIND [ARG]
 *
 * huge        : a header announcing 0xfffffff0 bytes
 * zero        : a header announcing 0 bytes
 * tiny        : a request announcing 16 bytes (no room for its network fields)
 * garbage     : a frame of random bytes (ARG: the seed, default 42) with a
 *               plausible length (ADN_HDR_LEN..256) and random rpc_id,
 *               method, kind, status, flags and layout; the kind is never
 *               ADN_KIND_REQUEST (a request with random fields is a legal
 *               frame: the elements judge it), so the chain must refuse it
 *               as malformed, bounce it, or the server must close on it
 * short       : the first 10 bytes of a valid 64-byte request's header, then
 *               the connection stays open ARG ms (default 2000) with nothing
 *               more sent; it checks that nothing came back meanwhile
 * short-bad   : like short, then the rest of the header (with kind 0xff: an
 *               impossible header) and the body are sent
 *
 * Prints one line:
 *   "sent=N then=<what a later send did> read=<none|reply|eof|error> kind=K len=L"
 * "then" is the result of the send after the frame was complete (for
 * short: "held"; for short-bad: the send that completed the header, then a
 * second send). "read" is what a non-blocking read found after it. Exits 0
 * if the process neither hung nor crashed; the test reads the line and the
 * chain's counters. An alarm (5 s plus the hold) turns a hang into exit 3.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "adn_wire.h"

#define SHORT_LEN 10 /* bytes of the header sent by short and short-bad */

static void on_alarm(int sig)
{
	(void)sig;
	_exit(3);
}

/* Fills buf with the frame of KIND; returns its length, 0 if KIND is
 * unknown. */
static size_t build(const char *kind, uint8_t *buf, size_t cap, unsigned seed)
{
	struct adn_hdr h = { .rpc_id = 1, .method = 1, .kind = ADN_KIND_REQUEST };

	if (!strcmp(kind, "garbage")) {
		size_t len;

		srand(seed);
		len = ADN_HDR_LEN + (size_t)rand() % (256 - ADN_HDR_LEN + 1);
		for (size_t i = 0; i < len && i < cap; i++)
			buf[i] = (uint8_t)rand();
		memcpy(&h, buf, sizeof(h));
		h.len = (uint32_t)len;
		if (h.kind == ADN_KIND_REQUEST)
			h.kind = (uint8_t)(2 + rand() % 254);
		memcpy(buf, &h, sizeof(h));
		return len;
	}
	if (!strcmp(kind, "huge"))
		h.len = 0xfffffff0u;
	else if (!strcmp(kind, "zero"))
		h.len = 0;
	else if (!strcmp(kind, "tiny"))
		h.len = ADN_HDR_LEN;
	else if (!strcmp(kind, "short") || !strcmp(kind, "short-bad")) {
		h.len = 64;
		if (!strcmp(kind, "short-bad"))
			h.kind = 0xff;
		memcpy(buf, &h, sizeof(h));
		for (size_t i = sizeof(h); i < 64 && i < cap; i++)
			buf[i] = (uint8_t)i;
		return 64;
	} else
		return 0;
	memcpy(buf, &h, sizeof(h));
	return sizeof(h);
}

/* What a non-blocking read finds on fd, waiting up to ms for it. */
static const char *peek(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	uint8_t b[512];
	ssize_t r;

	if (poll(&p, 1, ms) <= 0)
		return "none";
	r = recv(fd, b, sizeof(b), MSG_DONTWAIT);
	if (r > 0)
		return "reply";
	if (r == 0)
		return "eof";
	return errno == EAGAIN ? "none" : strerror(errno);
}

static const char *send_result(int fd, const uint8_t *buf, size_t n)
{
	return send(fd, buf, n, MSG_NOSIGNAL) < 0 ? strerror(errno) : "accepted";
}

int main(int argc, char **argv)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	uint8_t buf[512] = { 0 };
	const char *kind, *then, *rd;
	struct adn_hdr h;
	unsigned long arg = 0;
	size_t n;
	ssize_t sent;
	int fd, is_short;

	if (argc != 4 && argc != 5) {
		fprintf(stderr, "usage: malformed_client HOST PORT "
				"huge|zero|tiny|garbage [SEED]|short [MS]|short-bad [MS]\n");
		return 1;
	}
	kind = argv[3];
	is_short = !strcmp(kind, "short") || !strcmp(kind, "short-bad");
	if (argc == 5)
		arg = strtoul(argv[4], NULL, 10);
	else
		arg = is_short ? 2000 : 42;
	signal(SIGALRM, on_alarm);
	alarm(5 + (is_short ? (unsigned)(arg / 1000) : 0));
	n = build(kind, buf, sizeof(buf), (unsigned)arg);
	if (!n) {
		fprintf(stderr, "malformed_client: unknown kind '%s'\n", kind);
		return 1;
	}
	memcpy(&h, buf, sizeof(h));
	sa.sin_port = htons((uint16_t)atoi(argv[2]));
	if (inet_pton(AF_INET, argv[1], &sa.sin_addr) != 1) {
		fprintf(stderr, "malformed_client: bad address '%s'\n", argv[1]);
		return 1;
	}
	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		fprintf(stderr, "malformed_client: connect: %s\n", strerror(errno));
		return 2;
	}
	usleep(50 * 1000); /* let sock_ops put the socket into the chain */
	if (is_short) {
		/* an incomplete header, kept open: nothing may come back */
		sent = send(fd, buf, SHORT_LEN, MSG_NOSIGNAL);
		rd = peek(fd, (int)arg);
		if (strcmp(rd, "none") || !strcmp(kind, "short")) {
			printf("sent=%zd then=held read=%s kind=%u len=%u\n", sent, rd,
			       h.kind, h.len);
			close(fd);
			return 0;
		}
		/* the rest of the frame completes an impossible header */
		then = send_result(fd, buf + SHORT_LEN, n - SHORT_LEN);
		usleep(50 * 1000);
		if (!strcmp(then, "accepted"))
			then = send_result(fd, buf, n);
	} else {
		sent = send(fd, buf, n, MSG_NOSIGNAL);
		usleep(50 * 1000);
		then = send_result(fd, buf, n);
	}
	rd = peek(fd, 200);
	printf("sent=%zd then=%s read=%s kind=%u len=%u\n", sent, then, rd, h.kind, h.len);
	close(fd);
	return 0;
}
