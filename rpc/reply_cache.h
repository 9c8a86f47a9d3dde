/* SPDX-License-Identifier: MIT */
/*
 * The UDP server's reply cache: the last reply sent for a request, keyed by
 * the peer's address and port, the rpc_id and a hash of the request's first
 * 64 bytes (header with its length, then the network fields), so that a
 * different request reusing an id is not answered from it.
 * Direct-mapped: a new reply evicts whatever hashed to the same entry.
 * A retried request found here is answered again without running the
 * handler a second time. Not part of the public API.
 */
#ifndef ADN_REPLY_CACHE_H
#define ADN_REPLY_CACHE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct adn_reply_cache;

struct adn_rc_key {
	uint8_t addr[16]; /* IPv4 in the first 4 bytes */
	uint16_t port;
	uint16_t family;
	uint32_t rpc_id;
	uint32_t req_hash; /* FNV-1a of the request's first 64 bytes */
};

/* entries: a power of two. NULL if out of memory. */
struct adn_reply_cache *adn_rc_new(unsigned entries);
void adn_rc_free(struct adn_reply_cache *rc);

/* The key of a request of len bytes at frame from peer. */
void adn_rc_key(struct adn_rc_key *k, const struct sockaddr_storage *peer,
		const uint8_t *frame, size_t len);

/* The cached reply (*len bytes), or NULL. Valid until the next put. */
const uint8_t *adn_rc_find(const struct adn_reply_cache *rc, const struct adn_rc_key *k,
			   size_t *len);

/* Remembers reply (len <= ADN_UDP_FRAME_MAX bytes) for k. */
void adn_rc_put(struct adn_reply_cache *rc, const struct adn_rc_key *k,
		const uint8_t *reply, size_t len);

#endif /* ADN_REPLY_CACHE_H */
