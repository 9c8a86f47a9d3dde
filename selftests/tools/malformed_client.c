// SPDX-License-Identifier: MIT
/*
 * malformed_client: sends one kind of broken adn frame to a server and
 * reports what the network did with the connection. Used by the kernel
 * tests to check that bad input is dropped without hurting other clients.
 *
 *   malformed_client HOST PORT short|huge|zero|garbage|tiny
 *
 * short   : 10 bytes of a header, then close (the program waits for the rest)
 * huge    : a header announcing 0xfffffff0 bytes
 * zero    : a header announcing 0 bytes
 * tiny    : a request announcing 16 bytes (no room for its network fields)
 * garbage : 256 random bytes
 *
 * Prints one line: "sent=N then=<what a second send did>" and exits 0 if the
 * process neither hung nor crashed; the test reads the line and the chain's
 * counters. A 5 s alarm turns a hang into exit 3.
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

static size_t build(const char *kind, uint8_t *buf, size_t cap)
{
	struct adn_hdr h = { .rpc_id = 1, .method = 1, .kind = ADN_KIND_REQUEST };

	if (!strcmp(kind, "garbage")) {
		srand(42);
		for (size_t i = 0; i < 256 && i < cap; i++)
			buf[i] = (uint8_t)rand();
		/* make sure the length field is impossible, not by luck valid */
		buf[3] = 0xff;
		return 256;
	}
	if (!strcmp(kind, "huge"))
		h.len = 0xfffffff0u;
	else if (!strcmp(kind, "zero"))
		h.len = 0;
	else if (!strcmp(kind, "tiny"))
		h.len = ADN_HDR_LEN;
	else if (!strcmp(kind, "short"))
		h.len = 64;
	else
		return 0;
	memcpy(buf, &h, sizeof(h));
	return !strcmp(kind, "short") ? 10 : sizeof(h);
}

int main(int argc, char **argv)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	uint8_t buf[512] = { 0 };
	size_t n;
	ssize_t sent, again;
	int fd;

	if (argc != 4) {
		fprintf(stderr, "usage: malformed_client HOST PORT short|huge|zero|tiny|garbage\n");
		return 1;
	}
	alarm(5);
	n = build(argv[3], buf, sizeof(buf));
	if (!n) {
		fprintf(stderr, "malformed_client: unknown kind '%s'\n", argv[3]);
		return 1;
	}
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
	sent = send(fd, buf, n, MSG_NOSIGNAL);
	usleep(50 * 1000);
	if (!strcmp(argv[3], "short")) {
		/* the header stays incomplete: nothing more is sent */
		printf("sent=%zd then=closed\n", sent);
		close(fd);
		return 0;
	}
	again = send(fd, buf, n, MSG_NOSIGNAL);
	printf("sent=%zd then=%s\n", sent, again < 0 ? strerror(errno) : "accepted");
	close(fd);
	return 0;
}
