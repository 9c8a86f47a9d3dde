// SPDX-License-Identifier: MIT
/*
 * malformed_udp: sends UDP datagrams to an adn service port that cannot be
 * one adn frame, for the kernel tests of the TC and XDP programs (which
 * must count and drop each one, with no effect on other clients).
 *
 *   malformed_udp HOST PORT KIND [COUNT]
 *
 * short   : 10 bytes, less than a header
 * longer  : a header whose len field is 8 more than the datagram
 * shorter : a header whose len field is 8 less than the datagram
 * zero    : len field 0
 * tiny    : a 16-byte request (no room for its network fields)
 * kind    : kind 7 (neither request nor response)
 * all     : each of the above once (COUNT times)
 *
 * Prints "sent=N" (datagrams sent) and exits 0; 1 on a usage error, 2 if
 * a send fails. Expects no answer.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "adn_wire.h"

static const char *const kinds[] = { "short", "longer", "shorter", "zero", "tiny", "kind" };
#define NKINDS (sizeof(kinds) / sizeof(kinds[0]))

/* A kv GET request of 64 bytes (header, username, key), then spoiled. */
static size_t build(const char *kind, uint8_t *buf)
{
	struct adn_hdr h = { .len = 64, .rpc_id = 1, .method = 1, .kind = ADN_KIND_REQUEST };
	size_t n = 64;

	memset(buf, 0, 64);
	memcpy(buf + 16, "alice", 5);
	if (!strcmp(kind, "short"))
		n = 10;
	else if (!strcmp(kind, "longer"))
		h.len = 72;
	else if (!strcmp(kind, "shorter"))
		h.len = 56;
	else if (!strcmp(kind, "zero"))
		h.len = 0;
	else if (!strcmp(kind, "tiny"))
		h.len = 16, n = 16;
	else if (!strcmp(kind, "kind"))
		h.kind = 7;
	else
		return 0;
	/* little-endian on the wire (adn_wire.h); this tool runs on x86/arm64 */
	memcpy(buf, &h, n < sizeof(h) ? n : sizeof(h));
	return n;
}

int main(int argc, char **argv)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	uint8_t buf[64];
	long count = argc > 4 ? atol(argv[4]) : 1;
	int fd, sent = 0;

	if (argc < 4 || argc > 5 || count < 1) {
		fprintf(stderr, "usage: malformed_udp HOST PORT short|longer|shorter|zero|tiny|kind|all [COUNT]\n");
		return 1;
	}
	sa.sin_port = htons((uint16_t)atoi(argv[2]));
	if (inet_pton(AF_INET, argv[1], &sa.sin_addr) != 1) {
		fprintf(stderr, "malformed_udp: bad address '%s'\n", argv[1]);
		return 1;
	}
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (fd < 0) {
		fprintf(stderr, "malformed_udp: socket: %s\n", strerror(errno));
		return 2;
	}
	for (long i = 0; i < count; i++) {
		for (size_t k = 0; k < NKINDS; k++) {
			if (strcmp(argv[3], "all") && strcmp(argv[3], kinds[k]))
				continue;
			size_t n = build(kinds[k], buf);
			if (sendto(fd, buf, n, 0, (struct sockaddr *)&sa, sizeof(sa)) != (ssize_t)n) {
				fprintf(stderr, "malformed_udp: send: %s\n", strerror(errno));
				return 2;
			}
			sent++;
		}
	}
	if (!sent) {
		fprintf(stderr, "malformed_udp: unknown kind '%s'\n", argv[3]);
		return 1;
	}
	printf("sent=%d\n", sent);
	close(fd);
	return 0;
}
