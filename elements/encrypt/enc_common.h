/* SPDX-License-Identifier: MIT */
/* What enc-client and enc-server agree on: the value of a key (both ends
 * check it byte by byte, so a payload the library did not restore is
 * caught; it carries the marker ENC_MARKER, which must never be seen on the
 * wire), the key name of call i, and the options that pick the key. */
#ifndef ENC_COMMON_H
#define ENC_COMMON_H

#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
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

/* An element that encrypts, then flips one bit of every `every`-th message
 * it sends (tests: a frame tampered with on its way; the byte moves through
 * sequence number, nonce, ciphertext and tag from one message to the next).
 * It wraps adn_udf_aead's ops: enc_tamper_ops(&t) after t.inner is set. */
struct enc_tamper {
	struct adn_udf_ops inner;
	unsigned every;
	uint64_t n, done;
};

static inline long enc_tamper_encode(void *ctx, struct adn_udf_msg *m, const void *in, size_t n,
				     void *out, size_t cap)
{
	struct enc_tamper *t = ctx;
	long len = t->inner.encode_msg(t->inner.ctx, m, in, n, out, cap);
	if (len > 0 && t->every && ++t->n % t->every == 0) {
		((uint8_t *)out)[(t->done * 7919) % (uint64_t)len] ^= 0x01;
		t->done++;
	}
	return len;
}

static inline long enc_tamper_decode(void *ctx, struct adn_udf_msg *m, const void *in, size_t n,
				     void *out, size_t cap)
{
	struct enc_tamper *t = ctx;
	return t->inner.decode_msg(t->inner.ctx, m, in, n, out, cap);
}

static inline void *enc_tamper_new_state(void *ctx)
{
	struct enc_tamper *t = ctx;
	return t->inner.new_state(t->inner.ctx);
}

static inline struct adn_udf_ops enc_tamper_ops(struct enc_tamper *t)
{
	return (struct adn_udf_ops){ .encode_msg = enc_tamper_encode, .decode_msg = enc_tamper_decode,
				     .new_state = enc_tamper_new_state,
				     .free_state = t->inner.free_state, .flags = t->inner.flags,
				     .ctx = t };
}

/* The options enc-client and enc-server share: --key-file FILE,
 * --cipher NAME, --tamper-every N (getopt_long entries ENC_OPTIONS). */
struct enc_opts {
	const char *key_file;
	enum adn_aead_cipher cipher; /* zero: aes-256-gcm */
	long tamper;
};
#define ENC_OPTIONS                                                  \
	{ "key-file", required_argument, NULL, 'k' },                \
	{ "cipher", required_argument, NULL, 'c' },                  \
	{ "tamper-every", required_argument, NULL, 'T' }

/* Takes getopt's option c if it is one of those: 1, or -1 after one line
 * on stderr (a bad value); 0: not one of them. */
static inline int enc_opt(struct enc_opts *o, int c, const char *arg, const char *prog)
{
	char *end;
	switch (c) {
	case 'k':
		o->key_file = arg;
		return 1;
	case 'c':
		if (!enc_cipher(arg, &o->cipher))
			return 1;
		fprintf(stderr, "%s: --cipher: aes-256-gcm or chacha20-poly1305\n", prog);
		return -1;
	case 'T':
		o->tamper = strtol(arg, &end, 10);
		if (!*end && o->tamper >= 0)
			return 1;
		fprintf(stderr, "%s: --tamper-every must be >= 0\n", prog);
		return -1;
	default:
		return 0;
	}
}

static inline const char *enc_cipher_name(enum adn_aead_cipher c)
{
	return c == ADN_AEAD_AES_256_GCM ? "aes-256-gcm" : "chacha20-poly1305";
}

/* Loads the key and makes the element's ops (adn_udf_aead, wrapped to flip
 * a bit of every tamper-th message); the key lives as long as the program.
 * 0, or -1 with one line in err. */
static inline int enc_make_ops(const struct enc_opts *o, struct adn_udf_ops *ops, char *err,
			       size_t errlen)
{
	static struct adn_aead_key key;
	static struct enc_tamper tw;
	if (adn_aead_key_load(&key, o->cipher, o->key_file, err, errlen))
		return -1;
	tw.inner = adn_udf_aead(&key);
	tw.every = (unsigned)o->tamper;
	*ops = enc_tamper_ops(&tw);
	return 0;
}

#endif /* ENC_COMMON_H */
