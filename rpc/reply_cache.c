/* SPDX-License-Identifier: MIT */
/* The UDP server's reply cache, see reply_cache.h. */
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "reply_cache.h"
#include "rpc_internal.h"

struct rc_entry {
	struct adn_rc_key key;
	uint16_t len; /* 0: empty */
	uint8_t reply[ADN_UDP_FRAME_MAX];
};

struct adn_reply_cache {
	uint32_t mask;
	struct rc_entry *e;
};

struct adn_reply_cache *adn_rc_new(unsigned entries)
{
	struct adn_reply_cache *rc = calloc(1, sizeof(*rc));

	if (!rc)
		return NULL;
	/* calloc: untouched pages cost nothing until entries are used */
	rc->e = calloc(entries, sizeof(*rc->e));
	if (!rc->e) {
		free(rc);
		return NULL;
	}
	rc->mask = entries - 1;
	return rc;
}

void adn_rc_free(struct adn_reply_cache *rc)
{
	if (!rc)
		return;
	free(rc->e);
	free(rc);
}

static uint32_t fnv1a(const uint8_t *p, size_t n, uint32_t h)
{
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 16777619u;
	return h;
}

void adn_rc_key(struct adn_rc_key *k, const struct sockaddr_storage *peer,
		const uint8_t *frame, size_t len)
{
	memset(k, 0, sizeof(*k));
	k->family = peer->ss_family;
	if (peer->ss_family == AF_INET6) {
		const struct sockaddr_in6 *a = (const void *)peer;
		memcpy(k->addr, &a->sin6_addr, 16);
		k->port = a->sin6_port;
	} else {
		const struct sockaddr_in *a = (const void *)peer;
		memcpy(k->addr, &a->sin_addr, 4);
		k->port = a->sin_port;
	}
	/* bytes 4..7 are the rpc_id, little-endian (adn_wire.h) */
	k->rpc_id = (uint32_t)frame[4] | (uint32_t)frame[5] << 8 | (uint32_t)frame[6] << 16 |
		    (uint32_t)frame[7] << 24;
	/* The header (its len field included) and the first bytes of the body
	 * tell requests apart well enough; hashing whole 1.4 KiB datagrams
	 * would cost microseconds per request. */
	k->req_hash = fnv1a(frame, len < 64 ? len : 64, 2166136261u);
}

static struct rc_entry *slot(const struct adn_reply_cache *rc, const struct adn_rc_key *k)
{
	uint32_t h = fnv1a((const uint8_t *)k, sizeof(*k), 2166136261u);

	return &rc->e[h & rc->mask];
}

const uint8_t *adn_rc_find(const struct adn_reply_cache *rc, const struct adn_rc_key *k,
			   size_t *len)
{
	const struct rc_entry *e = slot(rc, k);

	if (!e->len || memcmp(&e->key, k, sizeof(*k)))
		return NULL;
	*len = e->len;
	return e->reply;
}

void adn_rc_put(struct adn_reply_cache *rc, const struct adn_rc_key *k,
		const uint8_t *reply, size_t len)
{
	struct rc_entry *e = slot(rc, k);

	if (len > ADN_UDP_FRAME_MAX)
		return;
	e->key = *k;
	e->len = (uint16_t)len;
	memcpy(e->reply, reply, len);
}
