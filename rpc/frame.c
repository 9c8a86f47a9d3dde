/* SPDX-License-Identifier: MIT */
/* The 16-byte frame header, byte by byte so host order never matters. */
#include <stdio.h>

#include "adn_rpc.h"

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)v);
	put16(p + 2, (uint16_t)(v >> 16));
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)get16(p) | (uint32_t)get16(p + 2) << 16;
}

void adn_hdr_encode(const struct adn_hdr *h, void *buf)
{
	uint8_t *p = buf;

	put32(p + 0, h->len);
	put32(p + 4, h->rpc_id);
	put16(p + 8, h->method);
	p[10] = h->kind;
	p[11] = h->status;
	put16(p + 12, h->flags);
	put16(p + 14, h->layout);
}

void adn_hdr_decode(struct adn_hdr *h, const void *buf)
{
	const uint8_t *p = buf;

	h->len = get32(p + 0);
	h->rpc_id = get32(p + 4);
	h->method = get16(p + 8);
	h->kind = p[10];
	h->status = p[11];
	h->flags = get16(p + 12);
	h->layout = get16(p + 14);
}

const char *adn_hdr_invalid(const struct adn_hdr *h, unsigned want_kind)
{
	/* One static buffer per reason keeps this allocation-free; callers
	 * copy the text right away. */
	static _Thread_local char why[80];

	if (h->len < ADN_FRAME_MIN) {
		snprintf(why, sizeof(why), "length %u below %u", h->len, ADN_FRAME_MIN);
		return why;
	}
	if (h->len > ADN_FRAME_MAX) {
		snprintf(why, sizeof(why), "length %u above %u", h->len, ADN_FRAME_MAX);
		return why;
	}
	if (h->kind != want_kind) {
		snprintf(why, sizeof(why), "kind %u where %s expected", h->kind,
			 want_kind == ADN_KIND_REQUEST ? "request (0)" : "response (1)");
		return why;
	}
	return NULL;
}
