/* SPDX-License-Identifier: MIT */
/* Pieces shared by the client and the server; not part of the public API. */
#ifndef ADN_RPC_INTERNAL_H
#define ADN_RPC_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "adn_rpc.h"

/* A byte queue: the live bytes are data[off .. len). */
struct adn_buf {
	uint8_t *data;
	size_t off, len, cap;
};

/* Makes room for n more bytes after len, compacting first; the buffer
 * never grows past limit. 0, -ENOBUFS (over limit) or -ENOMEM. */
int adn_buf_reserve(struct adn_buf *b, size_t n, size_t limit);
static inline size_t adn_buf_used(const struct adn_buf *b)
{
	return b->len - b->off;
}
static inline uint8_t *adn_buf_head(const struct adn_buf *b)
{
	return b->data + b->off;
}
void adn_buf_consume(struct adn_buf *b, size_t n);
void adn_buf_free(struct adn_buf *b);

/* Looks at the front of in. 1: a whole frame is there (*h filled, its
 * bytes at adn_buf_head(in), h->len long); 0: need more bytes (*need =
 * bytes still missing, or 0 if unknown); -1: the length field is out of
 * range (*h filled, so the caller can say why). */
int adn_next_frame(const struct adn_buf *in, struct adn_hdr *h, size_t *need);

/* One read into in, with room for at least need bytes. >0: bytes read,
 * 0: peer closed, -EAGAIN: nothing there, other -errno: error.
 *
 * from_tcp (may be NULL) tells which receive queue the bytes came from.
 * A socket in a chain's SOCKHASH has two: the TCP stream from the peer,
 * and the psock's queue, where the sender's own sk_msg program puts the
 * replies it made to requests it dropped (BPF_F_INGRESS). One read
 * returns bytes of one queue only, the psock's first (tcp_bpf_recvmsg),
 * so when a read ends inside a frame of the TCP stream, the next read may
 * bring a network reply before the rest of that frame. Only tcp_recvmsg
 * attaches the TCP_CM_INQ control message (TCP_INQ, set by adn_sock_tune),
 * so *from_tcp is true exactly for bytes of the TCP stream. */
long adn_buf_read(int fd, struct adn_buf *in, size_t need, bool *from_tcp);

/* One send() of everything in out. 0: all sent, 1: some left (wait for
 * EPOLLOUT), -errno on a broken connection. */
int adn_buf_send(int fd, struct adn_buf *out);

struct addrinfo;

/* Socket helpers. Each fills err (one line) and returns -1 on failure. */
/* The port a bound socket got; 0 or -1 with err set. */
int adn_sock_bound_port(int fd, uint16_t *port, char *err, size_t errlen);
/* getaddrinfo for socktype (SOCK_STREAM / SOCK_DGRAM); passive with no
 * host means 0.0.0.0. */
int adn_sock_resolve(const char *host, uint16_t port, int passive, int socktype,
		     struct addrinfo **res, char *err, size_t errlen);
int adn_sock_connect(const char *host, uint16_t port, char *err, size_t errlen);
int adn_sock_listen(const char *addr, uint16_t port, uint16_t *bound,
		    char *err, size_t errlen);
int adn_sock_tune(int fd); /* non-blocking, TCP_NODELAY, TCP_INQ: 0 or -errno */
/* UDP: a non-blocking datagram socket connected to host:port (client), or
 * bound to addr:port (server; *bound gets the port). Socket buffers are
 * enlarged (best effort) for bursts of pipelined datagrams. */
int adn_sock_udp_connect(const char *host, uint16_t port, char *err, size_t errlen);
int adn_sock_udp_bind(const char *addr, uint16_t port, uint16_t *bound,
		      char *err, size_t errlen);
/* UDP, not connected: a non-blocking socket of host's family, and host:port
 * in *dst for sendto. */
struct sockaddr_storage;
int adn_sock_udp_open(const char *host, uint16_t port, struct sockaddr_storage *dst,
		      unsigned *dstlen, char *err, size_t errlen);

/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t adn_now_ns(void);

/* snprintf into err if err is not NULL. */
void adn_errf(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif /* ADN_RPC_INTERNAL_H */
