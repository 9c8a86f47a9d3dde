// SPDX-License-Identifier: MIT
/*
 * frame_tamper: an on-path attacker for the kernel tests of the encrypt
 * element (selftests/kernel/test_elem_encrypt.sh). A TCP relay for one
 * client connection that reads the client's request frames and, besides
 * passing them on:
 *
 *   frame_tamper LPORT UPORT replay N          sends every N-th request frame
 *                                              again, right after it, on the
 *                                              same connection; the server's
 *                                              answer to the copy is kept
 *                                              from the client and counted
 *   frame_tamper LPORT UPORT replay-later K    records the first K request
 *                                              frames; after the client left,
 *                                              sends them again on a new
 *                                              connection and counts answers
 *   frame_tamper LPORT UPORT flip N OFF MASK   XORs byte OFF of every N-th
 *                                              request frame with MASK (OFF
 *                                              from the frame's start, header
 *                                              included; negative: from its
 *                                              end); the client gets the
 *                                              server's answer
 *
 * Listens on 127.0.0.1:LPORT (prints "listening"), relays one connection to
 * 127.0.0.1:UPORT, and when the client has closed it (and the injected
 * frames are answered, 5 s at most) prints one JSON line (no client
 * within 30 s: exit 1):
 *   {"frames": N, "injected": K, "answers": {"ok": a, "data_loss": b,
 *    "unauthenticated": c, "other": d}, "unanswered": u}
 * where answers counts the server's answers to the injected copies
 * (replay modes; flip: 0). Exit 0, or 1 with one line on stderr.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "adn_wire.h"
#include "send_all.h"

#define MAX_FRAME (1u << 20)
#define MAX_PENDING 65536
#define MAX_RECORD 4096

static void die(const char *what)
{
	fprintf(stderr, "frame_tamper: %s: %s\n", what, strerror(errno));
	exit(1);
}

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static int connect_up(int port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		die("connect upstream");
	return fd;
}

/* A byte stream cut into frames. */
struct stream {
	uint8_t *b;
	size_t len;
};

static void stream_add(struct stream *s, const uint8_t *p, size_t n)
{
	if (!(s->b = realloc(s->b, s->len + n)))
		die("realloc");
	memcpy(s->b + s->len, p, n);
	s->len += n;
}

/* Length of the complete frame at the start of s, 0 if none yet. */
static size_t stream_frame(const struct stream *s)
{
	if (s->len < ADN_HDR_LEN)
		return 0;
	uint32_t len = le32(s->b);
	if (len < ADN_HDR_LEN || len > MAX_FRAME) {
		fprintf(stderr, "frame_tamper: a frame of %u bytes\n", len);
		exit(1);
	}
	return s->len >= len ? len : 0;
}

static void stream_drop(struct stream *s, size_t n)
{
	memmove(s->b, s->b + n, s->len - n);
	s->len -= n;
}

static uint64_t answers[4]; /* ok, data_loss, unauthenticated, other */
static uint64_t n_answers;

static void count_answer(const uint8_t *f)
{
	uint8_t st = f[11];
	answers[st == ADN_OK ? 0 : st == ADN_DATA_LOSS ? 1 : st == ADN_UNAUTHENTICATED ? 2 : 3]++;
	n_answers++;
}

/* rpc_ids whose request was sent twice: the first answer goes to the
 * client, the second is counted and kept. */
static struct {
	uint32_t id;
	bool passed;
} pend[MAX_PENDING];
static unsigned n_pend;

static bool swallow(const uint8_t *f)
{
	uint32_t id = le32(f + 4);
	for (unsigned i = 0; i < n_pend; i++) {
		if (pend[i].id != id)
			continue;
		if (!pend[i].passed) {
			pend[i].passed = true;
			return false;
		}
		count_answer(f);
		pend[i] = pend[--n_pend];
		return true;
	}
	return false;
}

int main(int argc, char **argv)
{
	if (argc < 5) {
		fprintf(stderr, "usage: frame_tamper LPORT UPORT replay N | replay-later K | flip N OFF MASK\n");
		return 1;
	}
	int lport = atoi(argv[1]), uport = atoi(argv[2]);
	const char *mode = argv[3];
	long n = atol(argv[4]), off = 0, mask = 0;
	bool replay = !strcmp(mode, "replay"), later = !strcmp(mode, "replay-later"),
	     flip = !strcmp(mode, "flip");
	if ((!replay && !later && !flip) || n < 1 || (flip && argc != 7) || (!flip && argc != 5) ||
	    (later && n > MAX_RECORD)) {
		fprintf(stderr, "frame_tamper: bad arguments (see the comment at the top)\n");
		return 1;
	}
	if (flip) {
		off = atol(argv[5]);
		mask = strtol(argv[6], NULL, 0);
		if (!mask || mask > 255) {
			fprintf(stderr, "frame_tamper: MASK must be 1..255\n");
			return 1;
		}
	}

	int one = 1, lfd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in la = { .sin_family = AF_INET, .sin_port = htons((uint16_t)lport),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	if (lfd < 0 || setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(lfd, (struct sockaddr *)&la, sizeof(la)) || listen(lfd, 1))
		die("listen");
	printf("listening\n");
	fflush(stdout);
	struct pollfd lp = { .fd = lfd, .events = POLLIN };
	if (poll(&lp, 1, 30000) != 1) {
		fprintf(stderr, "frame_tamper: no client within 30 s\n");
		return 1;
	}
	int cfd = accept(lfd, NULL, NULL);
	if (cfd < 0)
		die("accept");
	close(lfd);
	int sfd = connect_up(uport);

	struct stream up = { 0 }, down = { 0 };
	static uint8_t buf[65536];
	struct {
		uint8_t *f;
		size_t len;
	} rec[MAX_RECORD];
	unsigned n_rec = 0;
	uint64_t frames = 0, injected = 0;
	bool client_open = true;
	time_t deadline = 0;

	while (client_open || (n_pend && time(NULL) < deadline)) {
		struct pollfd p[2] = { { .fd = client_open ? cfd : -1, .events = POLLIN },
				       { .fd = sfd, .events = POLLIN } };
		if (poll(p, 2, 200) < 0) {
			if (errno == EINTR)
				continue;
			die("poll");
		}
		if (p[0].revents) {
			ssize_t r = recv(cfd, buf, sizeof(buf), 0);
			if (r <= 0) {
				client_open = false;
				deadline = time(NULL) + 5;
			} else {
				stream_add(&up, buf, (size_t)r);
			}
			size_t len;
			while ((len = stream_frame(&up))) {
				uint8_t *f = up.b;
				frames++;
				bool nth = frames % (uint64_t)n == 0;
				if (flip && nth) {
					long at = off < 0 ? (long)len + off : off;
					if (at >= 0 && at < (long)len)
						f[at] ^= (uint8_t)mask;
				}
				if (send_all(sfd, f, len, 0))
					die("send upstream");
				if (replay && nth && n_pend < MAX_PENDING) {
					pend[n_pend].id = le32(f + 4);
					pend[n_pend++].passed = false;
					if (send_all(sfd, f, len, 0))
						die("send upstream");
					injected++;
				}
				if (later && n_rec < (unsigned)n) {
					if (!(rec[n_rec].f = malloc(len)))
						die("malloc");
					memcpy(rec[n_rec].f, f, len);
					rec[n_rec++].len = len;
				}
				stream_drop(&up, len);
			}
		}
		if (p[1].revents) {
			ssize_t r = recv(sfd, buf, sizeof(buf), 0);
			if (r <= 0)
				break; /* the server closed */
			stream_add(&down, buf, (size_t)r);
			size_t len;
			while ((len = stream_frame(&down))) {
				if (!swallow(down.b) && client_open && send_all(cfd, down.b, len, 0))
					client_open = false;
				stream_drop(&down, len);
			}
		}
	}
	close(cfd);
	close(sfd);

	uint64_t unanswered = n_pend;
	if (later && n_rec) {
		/* the recording, again, on a connection of the attacker's own */
		sfd = connect_up(uport);
		for (unsigned i = 0; i < n_rec; i++)
			if (send_all(sfd, rec[i].f, rec[i].len, 0))
				die("send upstream");
		injected = n_rec;
		struct stream in = { 0 };
		uint64_t got = 0;
		time_t end = time(NULL) + 5;
		while (got < n_rec && time(NULL) < end) {
			struct pollfd p = { .fd = sfd, .events = POLLIN };
			if (poll(&p, 1, 200) <= 0)
				continue;
			ssize_t r = recv(sfd, buf, sizeof(buf), 0);
			if (r <= 0)
				break;
			stream_add(&in, buf, (size_t)r);
			size_t len;
			while ((len = stream_frame(&in))) {
				count_answer(in.b);
				got++;
				stream_drop(&in, len);
			}
		}
		unanswered = n_rec - got;
		close(sfd);
	}
	printf("{\"frames\": %llu, \"injected\": %llu, \"answers\": {\"ok\": %llu, \"data_loss\": %llu, "
	       "\"unauthenticated\": %llu, \"other\": %llu}, \"unanswered\": %llu}\n",
	       (unsigned long long)frames, (unsigned long long)injected,
	       (unsigned long long)answers[0], (unsigned long long)answers[1],
	       (unsigned long long)answers[2], (unsigned long long)answers[3],
	       (unsigned long long)unanswered);
	return 0;
}
