/* SPDX-License-Identifier: MIT */
/* The server's state, shared by its TCP part (server.c) and its UDP part
 * (server_udp.c); not part of the public API. */
#ifndef ADN_SERVER_INTERNAL_H
#define ADN_SERVER_INTERNAL_H

#include <stdbool.h>

#include "rpc_internal.h"
#include "udf_internal.h"

struct srv_conn {
	int fd;
	uint32_t events; /* as registered with epoll */
	struct adn_buf in, out;
	struct srv_conn *prev, *next;
};

struct udp_server; /* server_udp.c */

struct adn_server {
	int lfd, epfd;
	uint16_t port;
	adn_handler_fn fn;
	void *user;
	uint8_t *scratch; /* response body, ADN_FRAME_MAX - 16 bytes */
	uint8_t *big;     /* with user-defined elements on responses: the handler's body */
	struct srv_conn *conns;
	int answered; /* requests answered in the current poll */
	uint64_t reflected; /* replies made at the receiver's sk_skb, sent back unread */
	char *addr;             /* as given to adn_server_listen, or NULL */
	struct udp_server *udp; /* NULL: TCP only */
	unsigned udp_cache_entries;
	struct adn_udf_set *udf; /* user-defined elements (udf.c); NULL: none */
	struct adn_server_stats st;
	char err[256];
};

/* Answers one request body through the handler: undoes the chain's
 * user-defined elements on it, runs the handler, applies them to the
 * response, which goes to resp (at most cap bytes, *resp_len). Returns
 * the status (a bad one turned into ADN_INTERNAL; *resp_len 0 unless OK). */
int adn_srv_handle(struct adn_server *s, uint16_t method, uint32_t rpc_id, const uint8_t *body,
		   size_t len, uint8_t *resp, size_t cap, size_t *resp_len);

/* UDP side, server_udp.c. epoll data.ptr of the UDP socket: */
#define ADN_UDP_MARK ((void *)&adn_udp_mark)
extern const char adn_udp_mark;
void adn_udp_serve(struct adn_server *s); /* the socket is readable */
void adn_udp_server_close(struct adn_server *s);

#endif /* ADN_SERVER_INTERNAL_H */
