/* SPDX-License-Identifier: MIT */
/* A ready user-defined element: authenticated encryption with replay
 * protection (adn_udf_aead), AES-256-GCM or ChaCha20-Poly1305 through
 * OpenSSL's EVP interface. In its own object file, so programs that do not
 * use it need no -lcrypto. docs/rpc-library.md "The encrypt element: what
 * it protects" says what is authenticated and why.
 *
 * Messages (all integers little-endian):
 *   request  = sender (8) || seq (8) || time_ms (8) || nonce (12) || ciphertext || tag (16)
 *   response = seq (8)                               || nonce (12) || ciphertext || tag (16)
 * The nonce is fresh from the CSPRNG for every message (with random 96-bit
 * nonces a key should encrypt well under 2^32 messages). The associated
 * data (AAD) binds a message to this format, the cipher, the chain (name
 * and layout hash), the direction, the method and the call's rpc_id (so
 * that a response moved to another call is refused); a request's also to its
 * network fields (the bytes the kernel reads in clear, but for the ranges
 * the key names mutable) and to sender, seq and time; a response's to the
 * client's sender id and the seq of the request it answers.
 *
 * Replay state lives in each client and server (new_state at use_chain):
 * a client numbers its requests 1, 2, ... under a random 64-bit sender id
 * and accepts one response per request, within the last ADN_AEAD_WINDOW
 * requests; a server keeps, per sender seen in the last
 * ADN_AEAD_MAX_AGE_MS, the highest seq and a bitmap of the ADN_AEAD_WINDOW
 * before it, and refuses a request that is stale, replayed, too late or
 * stamped before the server opened the chain. Responses need no clock: they
 * are bound to the client's own requests. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "udf_internal.h"

#define REQ_PRE 24  /* sender, seq, time */
#define RESP_PRE 8  /* seq */
#define WORDS (ADN_AEAD_WINDOW / 64)
#define PEER_SLOTS (2 * ADN_AEAD_MAX_SENDERS) /* open addressing, at most half full */

static uint64_t clock_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

uint64_t (*adn_aead_now_ms)(void) = clock_ms;

static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

struct peer {
	uint64_t sender;   /* 0: free slot */
	uint64_t hi;       /* highest seq accepted */
	uint64_t last_ms;  /* newest time stamp accepted */
	uint64_t *bits;    /* WORDS: seqs hi-WINDOW+1 .. hi, bit seq % WINDOW */
};

struct aead_state {
	uint64_t me, seq, start_ms;
	uint64_t answered[WORDS]; /* client: bit seq % WINDOW set once its response came */
	struct peer *peers;       /* server: PEER_SLOTS, allocated at the first request */
	unsigned n_peers;
	bool cur;                 /* server: the request being answered */
	uint16_t cur_method;
	uint64_t cur_sender, cur_seq;
};

static bool bit_get(const uint64_t *b, uint64_t seq)
{
	return b[(seq % ADN_AEAD_WINDOW) / 64] >> (seq % 64) & 1;
}

static void bit_put(uint64_t *b, uint64_t seq, bool v)
{
	uint64_t m = 1ull << (seq % 64);
	uint64_t *w = &b[(seq % ADN_AEAD_WINDOW) / 64];
	*w = v ? *w | m : *w & ~m;
}

static void *aead_new_state(void *ctx)
{
	(void)ctx;
	struct aead_state *st = calloc(1, sizeof(*st));
	if (!st)
		return NULL;
	do {
		if (RAND_bytes((unsigned char *)&st->me, sizeof(st->me)) != 1) {
			free(st);
			return NULL;
		}
	} while (!st->me);
	st->start_ms = adn_aead_now_ms();
	return st;
}

static void free_peers(struct peer *p, unsigned n)
{
	for (unsigned i = 0; p && i < n; i++)
		free(p[i].bits);
	free(p);
}

static void aead_free_state(void *state)
{
	struct aead_state *st = state;
	if (!st)
		return;
	free_peers(st->peers, PEER_SLOTS);
	memset(st, 0, sizeof(*st));
	free(st);
}

/* The slot of sender (existing or free); NULL when the table is full of
 * senders seen within MAX_AGE. A full table is rebuilt without the
 * senders whose newest message is older than MAX_AGE: any message of theirs
 * is then refused as stale, so forgetting their windows opens no replay. */
static struct peer *peer_find(struct aead_state *st, uint64_t sender, uint64_t now)
{
	if (!st->peers && !(st->peers = calloc(PEER_SLOTS, sizeof(*st->peers))))
		return NULL;
	for (int pass = 0; pass < 2; pass++) {
		uint64_t h = sender * 0x9e3779b97f4a7c15ull;
		for (unsigned k = 0; k < PEER_SLOTS; k++) {
			struct peer *p = &st->peers[(h + k) % PEER_SLOTS];
			if (p->sender == sender)
				return p;
			if (!p->sender) {
				if (st->n_peers >= ADN_AEAD_MAX_SENDERS)
					break;
				return p;
			}
		}
		if (pass)
			break;
		struct peer *old = st->peers, *nu = calloc(PEER_SLOTS, sizeof(*nu));
		if (!nu)
			return NULL;
		st->peers = nu;
		st->n_peers = 0;
		for (unsigned i = 0; i < PEER_SLOTS; i++) {
			if (!old[i].sender)
				continue;
			if (old[i].last_ms + ADN_AEAD_MAX_AGE_MS < now) {
				free(old[i].bits);
				continue;
			}
			uint64_t g = old[i].sender * 0x9e3779b97f4a7c15ull;
			for (unsigned k = 0; k < PEER_SLOTS; k++) {
				struct peer *p = &nu[(g + k) % PEER_SLOTS];
				if (!p->sender) {
					*p = old[i];
					st->n_peers++;
					break;
				}
			}
		}
		free(old);
	}
	return NULL;
}

static const EVP_CIPHER *aead_cipher(const struct adn_aead_key *k)
{
	return k->cipher == ADN_AEAD_CHACHA20_POLY1305 ? EVP_chacha20_poly1305() : EVP_aes_256_gcm();
}

/* The associated data of a message: at most 64 + 255 + clear_len bytes.
 * Returns its length; *heap set when it had to be allocated. */
static size_t make_aad(const struct adn_aead_key *k, const struct adn_udf_msg *m, const uint8_t *pre,
		       size_t pre_len, uint64_t peer_sender, uint8_t *buf, size_t cap, uint8_t **out)
{
	static const char tag[] = "adn-aead-v3";
	size_t cl = m->chain ? strlen(m->chain) : 0;
	if (cl > 255)
		cl = 255;
	size_t need = sizeof(tag) + 1 + 1 + 2 + 4 + 4 + 1 + cl + pre_len + 8 + 4 + m->clear_len;
	uint8_t *a = buf;
	if (need > cap && !(a = malloc(need)))
		return 0;
	size_t n = 0;
	memcpy(a, tag, sizeof(tag)); /* with its NUL */
	n += sizeof(tag);
	a[n++] = (uint8_t)k->cipher;
	a[n++] = (uint8_t)m->dir;
	a[n++] = (uint8_t)m->method;
	a[n++] = (uint8_t)(m->method >> 8);
	for (int i = 0; i < 4; i++)
		a[n++] = (uint8_t)(m->layout >> (8 * i));
	for (int i = 0; i < 4; i++) /* a response answers this call only */
		a[n++] = (uint8_t)(m->rpc_id >> (8 * i));
	a[n++] = (uint8_t)cl;
	memcpy(a + n, m->chain, cl);
	n += cl;
	memcpy(a + n, pre, pre_len);
	n += pre_len;
	put64(a + n, peer_sender); /* responses: the client's sender id; requests: 0 */
	n += 8;
	for (int i = 0; i < 4; i++)
		a[n++] = (uint8_t)(m->clear_len >> (8 * i));
	if (m->clear_len) {
		memcpy(a + n, m->clear, m->clear_len);
		for (unsigned r = 0; r < k->n_mutable && r < ADN_AEAD_MUTABLE_MAX; r++) {
			uint64_t off = k->mutable_ranges[r].off, len = k->mutable_ranges[r].len;
			if (off >= m->clear_len)
				continue;
			if (len > m->clear_len - off)
				len = m->clear_len - off;
			memset(a + n + off, 0, len);
		}
		n += m->clear_len;
	}
	*out = a;
	return n;
}

/* nonce || ciphertext || tag of n bytes at in, into out (cap at least
 * n + ADN_AEAD_OVERHEAD). GCM and ChaCha20-Poly1305 share the control
 * codes (EVP_CTRL_AEAD_*). */
static int seal(const struct adn_aead_key *k, const uint8_t *aad, size_t aad_len, const void *in,
		size_t n, uint8_t *o)
{
	int len, fin, ret = -1;
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	if (!c)
		return -1;
	if (RAND_bytes(o, ADN_AEAD_NONCE_LEN) != 1 ||
	    EVP_EncryptInit_ex(c, aead_cipher(k), NULL, NULL, NULL) != 1 ||
	    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_IVLEN, ADN_AEAD_NONCE_LEN, NULL) != 1 ||
	    EVP_EncryptInit_ex(c, NULL, NULL, k->key, o) != 1 ||
	    EVP_EncryptUpdate(c, NULL, &len, aad, (int)aad_len) != 1)
		goto out;
	len = 0;
	if (n && EVP_EncryptUpdate(c, o + ADN_AEAD_NONCE_LEN, &len, in, (int)n) != 1)
		goto out;
	if (EVP_EncryptFinal_ex(c, o + ADN_AEAD_NONCE_LEN + len, &fin) != 1 ||
	    (size_t)(len + fin) != n ||
	    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_GET_TAG, ADN_AEAD_TAG_LEN,
				o + ADN_AEAD_NONCE_LEN + n) != 1)
		goto out;
	ret = 0;
out:
	EVP_CIPHER_CTX_free(c);
	return ret;
}

/* Undoes seal: n bytes at i (n >= ADN_AEAD_OVERHEAD) into out (cap at
 * least n - ADN_AEAD_OVERHEAD). 0, or -1 when the tag does not verify
 * (out then holds zeros: no unauthenticated plaintext left behind). */
static int open_sealed(const struct adn_aead_key *k, const uint8_t *aad, size_t aad_len,
		       const uint8_t *i, size_t n, uint8_t *out)
{
	size_t m = n - ADN_AEAD_OVERHEAD;
	int len, fin, ret = -1;
	unsigned char tag[ADN_AEAD_TAG_LEN];
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	if (!c)
		return -1;
	memcpy(tag, i + ADN_AEAD_NONCE_LEN + m, sizeof(tag));
	if (EVP_DecryptInit_ex(c, aead_cipher(k), NULL, NULL, NULL) != 1 ||
	    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_IVLEN, ADN_AEAD_NONCE_LEN, NULL) != 1 ||
	    EVP_DecryptInit_ex(c, NULL, NULL, k->key, i) != 1 ||
	    EVP_DecryptUpdate(c, NULL, &len, aad, (int)aad_len) != 1)
		goto out;
	len = 0;
	if (m && EVP_DecryptUpdate(c, out, &len, i + ADN_AEAD_NONCE_LEN, (int)m) != 1)
		goto out;
	if (EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_TAG, ADN_AEAD_TAG_LEN, tag) != 1 ||
	    EVP_DecryptFinal_ex(c, out + len, &fin) != 1 || /* tag check */
	    (size_t)(len + fin) != m)
		goto out;
	ret = 0;
out:
	if (ret)
		memset(out, 0, m);
	EVP_CIPHER_CTX_free(c);
	return ret;
}

__attribute__((format(printf, 3, 4)))
static long refuse(struct adn_udf_msg *m, int status, const char *fmt, ...)
{
	va_list ap;
	m->status = status;
	va_start(ap, fmt);
	vsnprintf(m->why, sizeof(m->why), fmt, ap);
	va_end(ap);
	return -1;
}

static long aead_encode_msg(void *ctx, struct adn_udf_msg *m, const void *in, size_t n, void *out,
			    size_t cap)
{
	const struct adn_aead_key *k = ctx;
	struct aead_state *st = m->state;
	uint8_t *o = out, pre[REQ_PRE], abuf[512], *aad;
	size_t pre_len;
	uint64_t peer = 0;

	if (!k || !st || n > (size_t)INT_MAX - ADN_AEAD_REQ_OVERHEAD)
		return -1;
	if (m->dir == ADN_APP_REQUEST) {
		put64(pre, st->me);
		put64(pre + 8, st->seq + 1);
		put64(pre + 16, adn_aead_now_ms());
		pre_len = REQ_PRE;
	} else {
		if (!st->cur || st->cur_method != m->method) {
			snprintf(m->why, sizeof(m->why), "no authenticated request of method %u to answer",
				 (unsigned)m->method);
			return -1;
		}
		put64(pre, st->cur_seq);
		peer = st->cur_sender;
		pre_len = RESP_PRE;
		st->cur = false;
	}
	if (cap < pre_len + n + ADN_AEAD_OVERHEAD)
		return -1;
	size_t aad_len = make_aad(k, m, pre, pre_len, peer, abuf, sizeof(abuf), &aad);
	if (!aad_len)
		return -1;
	memcpy(o, pre, pre_len);
	int rc = seal(k, aad, aad_len, in, n, o + pre_len);
	if (aad != abuf)
		free(aad);
	if (rc)
		return -1;
	if (m->dir == ADN_APP_REQUEST) {
		st->seq++;
		bit_put(st->answered, st->seq, false); /* not answered yet */
	}
	return (long)(pre_len + n + ADN_AEAD_OVERHEAD);
}

/* Server: a request's sender, seq and time after its tag verified. */
static long check_request(struct aead_state *st, struct adn_udf_msg *m, uint64_t sender,
			  uint64_t seq, uint64_t ts)
{
	uint64_t now = adn_aead_now_ms();
	if (ts + ADN_AEAD_MAX_AGE_MS < now)
		return refuse(m, ADN_UNAUTHENTICATED, "stale: sent %llu ms ago (at most %llu)",
			      (unsigned long long)(now - ts), (unsigned long long)ADN_AEAD_MAX_AGE_MS);
	if (ts > now + ADN_AEAD_MAX_AGE_MS)
		return refuse(m, ADN_UNAUTHENTICATED, "stamped %llu ms in the future (at most %llu)",
			      (unsigned long long)(ts - now), (unsigned long long)ADN_AEAD_MAX_AGE_MS);
	if (ts < st->start_ms)
		return refuse(m, ADN_UNAUTHENTICATED,
			      "stamped %llu ms before the server opened the chain (a recording?)",
			      (unsigned long long)(st->start_ms - ts));
	if (!seq)
		return refuse(m, ADN_UNAUTHENTICATED, "sequence number 0");
	struct peer *p = peer_find(st, sender, now);
	if (!p)
		return refuse(m, ADN_RESOURCE_EXHAUSTED,
			      "more than %u senders within %u ms", ADN_AEAD_MAX_SENDERS,
			      ADN_AEAD_MAX_AGE_MS);
	if (!p->bits && !(p->bits = calloc(WORDS, sizeof(uint64_t))))
		return refuse(m, ADN_RESOURCE_EXHAUSTED, "out of memory");
	if (!p->sender) {
		p->sender = sender;
		st->n_peers++;
	}
	if (seq > p->hi) {
		if (seq - p->hi >= ADN_AEAD_WINDOW)
			memset(p->bits, 0, WORDS * sizeof(uint64_t));
		else
			for (uint64_t s = p->hi + 1; s < seq; s++)
				bit_put(p->bits, s, false);
		p->hi = seq;
	} else if (p->hi - seq >= ADN_AEAD_WINDOW) {
		return refuse(m, ADN_UNAUTHENTICATED,
			      "too late: request %llu is more than %llu requests behind its sender's newest",
			      (unsigned long long)seq, (unsigned long long)ADN_AEAD_WINDOW);
	} else if (bit_get(p->bits, seq)) {
		return refuse(m, ADN_UNAUTHENTICATED, "replayed: request %llu of sender %016llx was seen already",
			      (unsigned long long)seq, (unsigned long long)sender);
	}
	bit_put(p->bits, seq, true);
	if (ts > p->last_ms)
		p->last_ms = ts;
	return 0;
}

static long aead_decode_msg(void *ctx, struct adn_udf_msg *m, const void *in, size_t n, void *out,
			    size_t cap)
{
	const struct adn_aead_key *k = ctx;
	struct aead_state *st = m->state;
	const uint8_t *i = in;
	uint8_t abuf[512], *aad;
	bool req = m->dir == ADN_APP_REQUEST;
	size_t pre_len = req ? REQ_PRE : RESP_PRE;

	if (!k || !st)
		return -1;
	if (req)
		st->cur = false;
	if (n < pre_len + ADN_AEAD_OVERHEAD || n > (size_t)INT_MAX)
		return refuse(m, ADN_DATA_LOSS, "%llu bytes, shorter than the %llu of an empty message",
			      (unsigned long long)n, (unsigned long long)(pre_len + ADN_AEAD_OVERHEAD));
	size_t plen = n - pre_len - ADN_AEAD_OVERHEAD;
	if (cap < plen)
		return -1;
	size_t aad_len = make_aad(k, m, i, pre_len, req ? 0 : st->me, abuf, sizeof(abuf), &aad);
	if (!aad_len)
		return -1;
	int rc = open_sealed(k, aad, aad_len, i + pre_len, n - pre_len, out);
	if (aad != abuf)
		free(aad);
	if (rc)
		return refuse(m, ADN_DATA_LOSS,
			      "the tag does not verify (tampered with, or another key, cipher or chain)");
	long ret = (long)plen;
	if (req) {
		uint64_t sender = get64(i), seq = get64(i + 8), ts = get64(i + 16);
		if (check_request(st, m, sender, seq, ts))
			ret = -1;
		else {
			st->cur = true;
			st->cur_method = m->method;
			st->cur_sender = sender;
			st->cur_seq = seq;
		}
	} else {
		uint64_t seq = get64(i);
		if (!seq || seq > st->seq || st->seq - seq >= ADN_AEAD_WINDOW)
			ret = refuse(m, ADN_UNAUTHENTICATED,
				     "answers request %llu, not one of this client's last %llu",
				     (unsigned long long)seq, (unsigned long long)ADN_AEAD_WINDOW);
		else if (bit_get(st->answered, seq))
			ret = refuse(m, ADN_UNAUTHENTICATED,
				     "replayed: request %llu was answered already",
				     (unsigned long long)seq);
		else
			bit_put(st->answered, seq, true);
	}
	if (ret < 0)
		memset(out, 0, plen);
	return ret;
}

struct adn_udf_ops adn_udf_aead(const struct adn_aead_key *k)
{
	return (struct adn_udf_ops){ .encode_msg = aead_encode_msg, .decode_msg = aead_decode_msg,
				     .new_state = aead_new_state, .free_state = aead_free_state,
				     .flags = ADN_UDF_F_BOTH_SIDES, .ctx = (void *)k };
}

int adn_aead_key_mutable(struct adn_aead_key *k, uint32_t off, uint32_t len)
{
	if (!k || !len || off > UINT32_MAX - len)
		return -EINVAL;
	if (k->n_mutable >= ADN_AEAD_MUTABLE_MAX)
		return -ENOSPC;
	k->mutable_ranges[k->n_mutable].off = off;
	k->mutable_ranges[k->n_mutable].len = len;
	k->n_mutable++;
	return 0;
}

static int hexval(int ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

int adn_aead_key_load(struct adn_aead_key *k, enum adn_aead_cipher cipher, const char *path,
		      char *err, size_t errlen)
{
	unsigned char buf[2 * ADN_AEAD_KEY_LEN + 3];
	struct stat st;
	ssize_t n;
	int fd;

	if (!k || !path || (cipher != ADN_AEAD_AES_256_GCM && cipher != ADN_AEAD_CHACHA20_POLY1305)) {
		snprintf(err, errlen, "aead: invalid arguments");
		return -1;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "aead: cannot open key file %s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) || (st.st_mode & 077)) {
		snprintf(err, errlen, "aead: key file %s must be a regular file readable by its owner only (chmod 600)",
			 path);
		close(fd);
		return -1;
	}
	n = read(fd, buf, sizeof(buf));
	close(fd);
	if (n < 0) {
		snprintf(err, errlen, "aead: cannot read key file %s: %s", path, strerror(errno));
		return -1;
	}
	k->cipher = cipher;
	k->n_mutable = 0;
	if (n == ADN_AEAD_KEY_LEN) {
		memcpy(k->key, buf, ADN_AEAD_KEY_LEN);
		memset(buf, 0, sizeof(buf));
		return 0;
	}
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		n--;
	if (n == 2 * ADN_AEAD_KEY_LEN) {
		int ok = 1;
		for (int i = 0; i < ADN_AEAD_KEY_LEN; i++) {
			int hi = hexval(buf[2 * i]), lo = hexval(buf[2 * i + 1]);
			if (hi < 0 || lo < 0)
				ok = 0;
			k->key[i] = (uint8_t)(ok ? hi << 4 | lo : 0);
		}
		memset(buf, 0, sizeof(buf));
		if (ok)
			return 0;
	}
	memset(k->key, 0, sizeof(k->key));
	snprintf(err, errlen, "aead: key file %s: want %d raw bytes or %d hex digits", path,
		 ADN_AEAD_KEY_LEN, 2 * ADN_AEAD_KEY_LEN);
	return -1;
}
