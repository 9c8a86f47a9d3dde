/* SPDX-License-Identifier: MIT */
/* The server's state, shared by its TCP part (server.c) and its UDP part
 * (server_udp.c); not part of the public API. */
#ifndef ADN_SERVER_INTERNAL_H
#define ADN_SERVER_INTERNAL_H

#include <stdbool.h>

#include "rpc_internal.h"

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
	struct srv_conn *conns;
	int answered; /* requests answered in the current poll */
	char *addr;             /* as given to adn_server_listen, or NULL */
	struct udp_server *udp; /* NULL: TCP only */
	unsigned udp_cache_entries;
	struct adn_server_stats st;
	char err[256];
};

/* UDP side, server_udp.c. epoll data.ptr of the UDP socket: */
#define ADN_UDP_MARK ((void *)&adn_udp_mark)
extern const char adn_udp_mark;
void adn_udp_serve(struct adn_server *s); /* the socket is readable */
void adn_udp_server_close(struct adn_server *s);

#endif /* ADN_SERVER_INTERNAL_H */
