/* SPDX-License-Identifier: MIT */
/* The replica set of a routing chain (ROUTE TO REPLICA): map
 * <element>__replicas, pinned at <chain>/<element>/replicas, layout in
 * bpf/adn_route_abi.h. adnctl replica and tests change it at run time;
 * the programs see a change on their next request (no re-attach). */
#ifndef ADN_REPLICA_H
#define ADN_REPLICA_H

#include <stddef.h>

#include "../bpf/adn_route_abi.h"
#include "adn_err.h"

/* Opens the pinned set of ELEMENT in CHAIN: the fd, or -errno. */
int adn_replica_open(const char *chain, const char *element, struct adn_err *err);

/* Reads the live set. 0 or -errno. */
int adn_replica_read(int fd, struct adn_replica_set *set, struct adn_err *err);

/* Makes set the live set: writes the buffer no program reads, then
 * switches to it. 0 or -errno. */
int adn_replica_write(int fd, const struct adn_replica_set *set, struct adn_err *err);

/* "10.0.0.1:7070" or "[fd00::1]:7070" -> r (family, address, port; MAC
 * zero). 0 or -EINVAL with the reason. */
int adn_replica_parse(const char *text, struct adn_replica *r, struct adn_err *err);

/* "02:00:00:00:00:01" -> mac. 0 or -EINVAL. */
int adn_replica_parse_mac(const char *text, unsigned char mac[6], struct adn_err *err);

/* Index of the replica with r's family, address and port in set, or -1. */
int adn_replica_find(const struct adn_replica_set *set, const struct adn_replica *r);

/* "10.0.0.1:7070" (IPv6 in brackets) into buf. */
void adn_replica_format(const struct adn_replica *r, char *buf, size_t len);

#endif
