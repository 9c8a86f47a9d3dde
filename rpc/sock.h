/* SPDX-License-Identifier: MIT */
/*
 * What rpc/sock.c offers the other socket code of the library beyond
 * rpc_internal.h's helpers: the connect loop that TCP (adn_sock_connect)
 * and UDP (adn_sock_udp_connect, rpc/sock_udp.c) clients share.
 */
#ifndef ADN_RPC_SOCK_H
#define ADN_RPC_SOCK_H

#include <stddef.h>
#include <stdint.h>

/* A socket of socktype (SOCK_STREAM, SOCK_DGRAM; flags such as
 * SOCK_CLOEXEC added to its type) connected to the first address of host
 * (NULL or "": 127.0.0.1) and port that takes it; the fd, or -1 with
 * "cannot connect<what> to HOST port PORT: ..." (or the resolver's error)
 * in err. */
int adn_sock_dial(const char *host, uint16_t port, int socktype, int flags, const char *what,
		  char *err, size_t errlen);

#endif /* ADN_RPC_SOCK_H */
