/* SPDX-License-Identifier: MIT */
/* What enc-client and enc-server agree on: the value of a key (both ends
 * check it byte by byte, so a payload the library did not restore is
 * caught; it carries the marker ENC_MARKER, which must never be seen on the
 * wire), the key name of call i, and the options that pick the key. */
#ifndef ENC_COMMON_H
#define ENC_COMMON_H

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "adn_rpc.h"

#define ENC_MARKER "PLAINTEXT"
#define ENC_KEYS 100

static inline void enc_key(char key[32], uint64_t i)
{
	memset(key, 0, 32);
	snprintf(key, 32, "k%llu", (unsigned long long)(i % ENC_KEYS));
}

/* Byte j of the value of key: "PLAINTEXT of <key> at <j/48*48>; " repeated. */
static inline void enc_fill(uint8_t *p, size_t len, const char key[32])
{
	char line[96];
	for (size_t i = 0; i < len; i += 48) {
		int n = snprintf(line, sizeof(line), ENC_MARKER " of %.32s at %zu; ", key, i);
		for (size_t j = 0; j < 48 && i + j < len; j++)
			p[i + j] = (uint8_t)(j < (size_t)n ? line[j] : '.');
	}
}

static inline int enc_check(const uint8_t *p, size_t len, const char key[32])
{
	uint8_t want[48];
	for (size_t i = 0; i < len; i += 48) {
		size_t n = len - i < 48 ? len - i : 48;
		char line[96];
		int k = snprintf(line, sizeof(line), ENC_MARKER " of %.32s at %zu; ", key, i);
		for (size_t j = 0; j < 48; j++)
			want[j] = (uint8_t)(j < (size_t)k ? line[j] : '.');
		if (memcmp(p + i, want, n))
			return 0;
	}
	return 1;
}

/* --cipher NAME */
static inline int enc_cipher(const char *name, enum adn_aead_cipher *c)
{
	if (!strcmp(name, "aes-256-gcm"))
		*c = ADN_AEAD_AES_256_GCM;
	else if (!strcmp(name, "chacha20-poly1305"))
		*c = ADN_AEAD_CHACHA20_POLY1305;
	else
		return -1;
	return 0;
}

/* An encode that encrypts, then flips one bit of every `every`-th message
 * (tests: a frame tampered with on its way; the byte moves through nonce,
 * ciphertext and tag from one message to the next). */
struct enc_tamper {
	struct adn_udf_ops inner;
	unsigned every;
	uint64_t n, done;
};

static inline long enc_tamper_encode(void *ctx, const void *in, size_t n, void *out, size_t cap)
{
	struct enc_tamper *t = ctx;
	long len = t->inner.encode(t->inner.ctx, in, n, out, cap);
	if (len > 0 && t->every && ++t->n % t->every == 0) {
		((uint8_t *)out)[(t->done * 7919) % (uint64_t)len] ^= 0x01;
		t->done++;
	}
	return len;
}

static inline long enc_tamper_decode(void *ctx, const void *in, size_t n, void *out, size_t cap)
{
	struct enc_tamper *t = ctx;
	return t->inner.decode(t->inner.ctx, in, n, out, cap);
}

#endif /* ENC_COMMON_H */
