/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of user-defined elements in the RPC library (rpc/udf.c): a
 * chain of two in-app elements (a byte-reversing toy, then zlib) applied on
 * send and undone on receive at both ends, over TCP and UDP on loopback;
 * network fields left in place; per-method directions; an element with no
 * implementation refused at use_chain; a body an element cannot undo
 * answered DATA_LOSS. The encrypt element (adn_udf_aead): every
 * authenticated part of a message tampered with is refused, so are a
 * replayed request or response, one too late for the window, a stale one,
 * one from the future, one stamped before the server started, a response
 * for another client; legit traffic, pipelined over TCP and UDP, passes.
 */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "adn_rpc.h"
#include "udf_internal.h"

#define KEEP 8 /* "network fields": never transformed */

/* Method 1: both directions; method 2: requests only; method 3: none. */
static const uint8_t dirs_rev[4] = { 0, ADN_APP_REQUEST | ADN_APP_RESPONSE, ADN_APP_REQUEST, 0 };
static const uint8_t dirs_z[4] = { 0, ADN_APP_REQUEST | ADN_APP_RESPONSE, ADN_APP_REQUEST, 0 };
static const struct adn_app_element elems[] = { { "rev", dirs_rev }, { "zip", dirs_z } };
static const struct adn_app_chain chain = { .chain = "t", .layout_hash = 0xabcd1234u,
					    .req_keep = KEEP, .n_methods = 3, .n_elems = 2,
					    .elems = elems };

static long rev(void *ctx, const void *in, size_t n, void *out, size_t cap)
{
	const uint8_t *i = in;
	uint8_t *o = out;
	(void)ctx;
	if (n > cap)
		return -1;
	for (size_t k = 0; k < n; k++)
		o[k] = i[n - 1 - k];
	return (long)n;
}
static const struct adn_udf_ops rev_ops = { .encode = rev, .decode = rev };

/* What the handler saw last, and a record of the bodies. */
static uint8_t seen[8192];
static size_t seen_len;

/* Echoes the request body; checks nothing itself. */
static int echo(void *user, uint16_t method, const void *req, size_t len, void *resp, size_t cap,
		size_t *resp_len)
{
	(void)user;
	(void)method;
	memcpy(seen, req, len < sizeof(seen) ? len : sizeof(seen));
	seen_len = len;
	if (len > cap)
		return ADN_RESOURCE_EXHAUSTED;
	memcpy(resp, req, len);
	*resp_len = len;
	return ADN_OK;
}

struct srv {
	struct adn_server *s;
	pthread_t tid;
	volatile sig_atomic_t stop;
	struct adn_server_stats st;
};

static void *srv_main(void *arg)
{
	struct srv *t = arg;
	adn_server_run(t->s, &t->stop);
	return NULL;
}

static uint16_t srv_start(struct srv *t, bool with_chain)
{
	char err[256];
	memset(t, 0, sizeof(*t));
	t->s = adn_server_listen("127.0.0.1", 0, echo, NULL, err, sizeof(err));
	ck_assert_msg(t->s, "%s", err);
	ck_assert_int_eq(adn_server_add_udp(t->s, err, sizeof(err)), 0);
	if (with_chain) {
		ck_assert_int_eq(adn_server_udf_register(t->s, "rev", &rev_ops), 0);
		ck_assert_int_eq(adn_server_udf_register(t->s, "zip", &adn_udf_zlib), 0);
		ck_assert_msg(!adn_server_use_chain(t->s, &chain, err, sizeof(err)), "%s", err);
	}
	ck_assert_int_eq(pthread_create(&t->tid, NULL, srv_main, t), 0);
	return adn_server_port(t->s);
}

static void srv_stop(struct srv *t)
{
	t->stop = 1;
	pthread_join(t->tid, NULL);
	adn_server_get_stats(t->s, &t->st);
	adn_server_close(t->s);
}

struct reply {
	int status, n;
	uint8_t body[8192];
	size_t len;
};

static void on_reply(void *user, uint32_t id, int status, uint16_t flags, const void *body, size_t len)
{
	struct reply *r = user;
	(void)id;
	(void)flags;
	r->status = status;
	r->n++;
	r->len = len;
	if (len)
		memcpy(r->body, body, len);
}

static void drain(struct adn_client *c)
{
	for (int i = 0; i < 100 && adn_client_outstanding(c); i++)
		ck_assert_int_ge(adn_client_poll(c, 50), 0);
	ck_assert_uint_eq(adn_client_outstanding(c), 0);
}

static struct adn_client *client(bool udp, uint16_t port, bool with_chain)
{
	char err[256];
	struct adn_client *c = udp ? adn_client_open_udp("127.0.0.1", port, 0x1234, err, sizeof(err)) :
				     adn_client_open("127.0.0.1", port, 1, 0x1234, err, sizeof(err));
	ck_assert_msg(c, "%s", err);
	if (with_chain) {
		ck_assert_int_eq(adn_client_udf_register(c, "rev", &rev_ops), 0);
		ck_assert_int_eq(adn_client_udf_register(c, "zip", &adn_udf_zlib), 0);
		ck_assert_int_eq(adn_client_udf_register(c, "zip", &adn_udf_zlib), -EEXIST);
		ck_assert_msg(!adn_client_use_chain(c, &chain, err, sizeof(err)), "%s", err);
	}
	return c;
}

static void roundtrip(bool udp)
{
	struct srv t;
	uint16_t port = srv_start(&t, true);
	struct adn_client *c = client(udp, port, true);
	static uint8_t body[3000];
	struct reply r = { 0 };

	for (size_t i = 0; i < sizeof(body); i++)
		body[i] = i < KEEP ? (uint8_t)(0xA0 + i) : (uint8_t)"abcabcabd"[i % 9];
	/* 3000 bytes: over UDP's limit raw, not once compressed (method 2's
	 * response is not compressed: 1000 bytes over UDP) */
	size_t total = 0;
	for (uint16_t m = 1; m <= 3; m++) {
		size_t len = m == 3 || (udp && m == 2) ? 1000 : sizeof(body);
		total += len;
		memset(&r, 0, sizeof(r));
		ck_assert_int_gt(adn_client_call(c, m, body, len, on_reply, &r), 0);
		drain(c);
		ck_assert_int_eq(r.n, 1);
		ck_assert_int_eq(r.status, ADN_OK);
		ck_assert_uint_eq(seen_len, len); /* the handler got it restored */
		ck_assert(!memcmp(seen, body, len));
		/* method 2: the response is not transformed by either end, so
		 * the client gets the echo as is; method 1 both ways */
		ck_assert_uint_eq(r.len, len);
		ck_assert(!memcmp(r.body, body, len));
	}
	struct adn_client_stats cs;
	adn_client_get_stats(c, &cs);
	ck_assert_uint_eq(cs.app_bytes, total);
	ck_assert_uint_lt(cs.wire_bytes, 1000 + 400); /* methods 1, 2 compressed, 3 not */
	adn_client_close(c);
	srv_stop(&t);
	ck_assert_uint_eq(t.st.wire_bytes, cs.wire_bytes);
	ck_assert_uint_eq(t.st.app_bytes, cs.app_bytes);
	ck_assert_uint_eq(t.st.udf_errors, 0);
}

START_TEST(test_roundtrip_tcp) { roundtrip(false); }
END_TEST

START_TEST(test_roundtrip_udp) { roundtrip(true); }
END_TEST

/* The network fields stay at their offsets on the wire: a server with no
 * chain sees the first KEEP bytes as sent, and the rest transformed. */
START_TEST(test_network_fields_untouched)
{
	struct srv t;
	uint16_t port = srv_start(&t, false);
	struct adn_client *c = client(false, port, true);
	uint8_t body[600];
	struct reply r = { 0 };

	for (size_t i = 0; i < sizeof(body); i++)
		body[i] = (uint8_t)(i < KEEP ? 0x11 * (i + 1) : 'x');
	ck_assert_int_gt(adn_client_call(c, 2, body, sizeof(body), on_reply, &r), 0);
	drain(c);
	ck_assert_int_eq(r.status, ADN_OK);
	ck_assert_uint_lt(seen_len, sizeof(body));
	ck_assert(!memcmp(seen, body, KEEP));
	ck_assert(memcmp(seen + KEEP, body + KEEP, 16));
	adn_client_close(c);
	srv_stop(&t);
}
END_TEST

/* A server with the chain given a body no element can undo: DATA_LOSS. */
START_TEST(test_undecodable_request)
{
	struct srv t;
	uint16_t port = srv_start(&t, true);
	struct adn_client *c = client(false, port, false); /* sends plain bodies */
	uint8_t body[100] = { 0 };
	struct reply r = { 0 };

	ck_assert_int_gt(adn_client_call(c, 1, body, sizeof(body), on_reply, &r), 0);
	drain(c);
	ck_assert_int_eq(r.status, ADN_DATA_LOSS);
	adn_client_close(c);
	srv_stop(&t);
	ck_assert_uint_eq(t.st.udf_errors, 1);
}
END_TEST

START_TEST(test_missing_implementation)
{
	char err[256];
	struct srv t;
	uint16_t port = srv_start(&t, false);
	struct adn_client *c = adn_client_open("127.0.0.1", port, 1, 0x1234, err, sizeof(err));
	ck_assert(c);
	ck_assert_int_eq(adn_client_udf_register(c, "rev", &rev_ops), 0);
	ck_assert_int_eq(adn_client_use_chain(c, &chain, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "chain 't': element 'zip' is IMPLEMENTED IN APP but has no registered "
			      "implementation (adn_*_udf_register)");
	ck_assert_int_eq(adn_client_udf_register(c, NULL, &rev_ops), -EINVAL);
	adn_client_close(c);
	/* another layout than the client's */
	c = adn_client_open("127.0.0.1", port, 1, 0x4321, err, sizeof(err));
	ck_assert(c);
	ck_assert_int_eq(adn_client_udf_register(c, "rev", &rev_ops), 0);
	ck_assert_int_eq(adn_client_udf_register(c, "zip", &adn_udf_zlib), 0);
	ck_assert_int_eq(adn_client_use_chain(c, &chain, err, sizeof(err)), -1);
	ck_assert(strstr(err, "layout 0x1234"));
	adn_client_close(c);
	srv_stop(&t);
}
END_TEST

/* ---- the encrypt element: adn_udf_aead ---------------------------------- */

/* Like kv's encrypt chain: method 1's field only in its response (get),
 * method 2's only in its request (put); method 3 carries none. */
static const uint8_t dirs_enc[4] = { 0, ADN_APP_RESPONSE, ADN_APP_REQUEST, 0 };
static const struct adn_app_element elems_enc[] = { { "encrypt", dirs_enc } };
static const struct adn_app_chain chain_enc = { .chain = "enc", .layout_hash = 0x5eed1234u,
						.req_keep = KEEP, .n_methods = 3, .n_elems = 1,
						.elems = elems_enc };

static struct adn_aead_key test_key(enum adn_aead_cipher cipher)
{
	struct adn_aead_key k = { .cipher = cipher };
	for (int i = 0; i < ADN_AEAD_KEY_LEN; i++)
		k.key[i] = (uint8_t)(i * 37 + 11);
	return k;
}

static struct adn_udf_set *aead_set(const struct adn_aead_key *k, const struct adn_app_chain *c)
{
	struct adn_udf_set *u = NULL;
	char err[256];
	struct adn_udf_ops ops = adn_udf_aead(k);
	ck_assert_int_eq(adn_udf_register(&u, "encrypt", &ops), 0);
	ck_assert_msg(!adn_udf_bind(&u, c, 0, err, sizeof(err)), "%s", err);
	return u;
}

/* One message through an end: ADN_OK with the result in out, or the
 * status the end answers for it. */
struct msg {
	uint8_t b[4096];
	size_t len;
};

/* the rpc_id of the frame run_udf's message travels in */
static uint32_t udf_rpc_id = 7;

static int run_udf(struct adn_udf_set *u, unsigned dir, bool encode, uint16_t method,
		   const struct msg *in, struct msg *out)
{
	size_t n;
	const uint8_t *r = adn_udf_run(u, dir, encode, method, udf_rpc_id, in->b, in->len, &n);
	if (!r)
		return u->status;
	ck_assert_uint_le(n, sizeof(out->b));
	memcpy(out->b, r, n);
	out->len = n;
	return ADN_OK;
}

static void plain_body(struct msg *m, size_t len, uint8_t seed)
{
	m->len = len;
	for (size_t i = 0; i < len; i++)
		m->b[i] = (uint8_t)(i < KEEP ? 0x40 + i : seed + i * 7);
}

static uint64_t fake_ms;
static uint64_t fake_now(void)
{
	return fake_ms;
}

/* Every byte of a request on the wire is authenticated: the network fields
 * (in clear), sender, seq, time, nonce, ciphertext and tag; so are the
 * method, the direction and the chain; cut short, it is refused. Then the
 * intact one passes, once: the second time it is a replay. */
static void tamper_request(enum adn_aead_cipher cipher, uint16_t method)
{
	struct adn_aead_key k = test_key(cipher);
	struct adn_udf_set *cl = aead_set(&k, &chain_enc), *sv = aead_set(&k, &chain_enc);
	struct msg plain, wire, t, out;

	plain_body(&plain, method == 1 ? KEEP + 40 : 300, 3);
	ck_assert_int_eq(run_udf(cl, ADN_APP_REQUEST, true, method, &plain, &wire), ADN_OK);
	ck_assert_uint_eq(wire.len, plain.len + ADN_AEAD_REQ_OVERHEAD);
	ck_assert(!memcmp(wire.b, plain.b, KEEP));                 /* network fields in clear */
	ck_assert(!memmem(wire.b + KEEP, wire.len - KEEP, plain.b + KEEP, 16)); /* the rest not */
	for (size_t i = 0; i < wire.len; i++) {
		t = wire;
		t.b[i] ^= 0x20;
		ck_assert_msg(run_udf(sv, ADN_APP_REQUEST, false, method, &t, &out) == ADN_DATA_LOSS,
			      "byte %zu of %zu tampered with, accepted", i, wire.len);
	}
	ck_assert(strstr(sv->why, "tag does not verify"));
	t = wire;
	for (size_t cut = 1; cut < wire.len; cut += cut < 64 ? 1 : 97) {
		t.len = wire.len - cut;
		ck_assert_int_ne(run_udf(sv, ADN_APP_REQUEST, false, method, &t, &out), ADN_OK);
	}
	uint16_t other = method == 1 ? 2 : 1; /* the other method the element covers */
	ck_assert_int_eq(run_udf(sv, ADN_APP_REQUEST, false, other, &wire, &out), ADN_DATA_LOSS);
	ck_assert_int_eq(run_udf(sv, ADN_APP_RESPONSE, false, method, &wire, &out), ADN_DATA_LOSS);
	struct adn_app_chain c2 = chain_enc;
	c2.layout_hash ^= 1;
	struct adn_udf_set *sv2 = aead_set(&k, &c2);
	ck_assert_int_eq(run_udf(sv2, ADN_APP_REQUEST, false, method, &wire, &out), ADN_DATA_LOSS);
	adn_udf_free(sv2);
	c2 = chain_enc;
	c2.chain = "enc2";
	sv2 = aead_set(&k, &c2);
	ck_assert_int_eq(run_udf(sv2, ADN_APP_REQUEST, false, method, &wire, &out), ADN_DATA_LOSS);
	adn_udf_free(sv2);
	struct adn_aead_key k2 = test_key(cipher == ADN_AEAD_AES_256_GCM ? ADN_AEAD_CHACHA20_POLY1305 :
									    ADN_AEAD_AES_256_GCM);
	sv2 = aead_set(&k2, &chain_enc);
	ck_assert_int_eq(run_udf(sv2, ADN_APP_REQUEST, false, method, &wire, &out), ADN_DATA_LOSS);
	adn_udf_free(sv2);

	ck_assert_int_eq(run_udf(sv, ADN_APP_REQUEST, false, method, &wire, &out), ADN_OK);
	ck_assert_uint_eq(out.len, plain.len);
	ck_assert(!memcmp(out.b, plain.b, plain.len));
	ck_assert_int_eq(run_udf(sv, ADN_APP_REQUEST, false, method, &wire, &out), ADN_UNAUTHENTICATED);
	ck_assert_msg(strstr(sv->why, "replayed"), "%s", sv->why);
	adn_udf_free(cl);
	adn_udf_free(sv);
}

START_TEST(test_aead_tamper_request)
{
	for (uint16_t m = 1; m <= 2; m++) {
		tamper_request(ADN_AEAD_AES_256_GCM, m);
		tamper_request(ADN_AEAD_CHACHA20_POLY1305, m);
	}
}
END_TEST

/* A response is bound to the request it answers: every byte tampered with,
 * another method, a replay, another client: refused. */
START_TEST(test_aead_tamper_response)
{
	struct adn_aead_key k = test_key(ADN_AEAD_AES_256_GCM);
	struct adn_udf_set *cl = aead_set(&k, &chain_enc), *sv = aead_set(&k, &chain_enc);
	struct adn_udf_set *cl2 = aead_set(&k, &chain_enc);
	struct msg plain, wire, t, out, resp, rwire;

	for (uint16_t method = 1; method <= 2; method++) {
		plain_body(&plain, 200, 9);
		ck_assert_int_eq(run_udf(cl, ADN_APP_REQUEST, true, method, &plain, &wire), ADN_OK);
		ck_assert_int_eq(run_udf(cl2, ADN_APP_REQUEST, true, method, &plain, &t), ADN_OK);
		ck_assert_int_eq(run_udf(sv, ADN_APP_REQUEST, false, method, &wire, &out), ADN_OK);
		plain_body(&resp, 150, 77);
		ck_assert_int_eq(run_udf(sv, ADN_APP_RESPONSE, true, method, &resp, &rwire), ADN_OK);
		ck_assert_uint_eq(rwire.len, resp.len + ADN_AEAD_RESP_OVERHEAD);
		/* one response per request: the server has none left to answer */
		ck_assert_int_eq(run_udf(sv, ADN_APP_RESPONSE, true, method, &resp, &t), ADN_DATA_LOSS);
		for (size_t i = 0; i < rwire.len; i++) {
			t = rwire;
			t.b[i] ^= 0x01;
			ck_assert_msg(run_udf(cl, ADN_APP_RESPONSE, false, method, &t, &out) == ADN_DATA_LOSS,
				      "response byte %zu tampered with, accepted", i);
		}
		ck_assert_int_eq(run_udf(cl, ADN_APP_RESPONSE, false, method == 1 ? 2 : 1, &rwire, &out),
				 ADN_DATA_LOSS);
		ck_assert_int_eq(run_udf(cl, ADN_APP_REQUEST, false, method, &rwire, &out), ADN_DATA_LOSS);
		/* another client with the same key, same seq: not its request */
		ck_assert_int_eq(run_udf(cl2, ADN_APP_RESPONSE, false, method, &rwire, &out), ADN_DATA_LOSS);
		ck_assert_int_eq(run_udf(cl, ADN_APP_RESPONSE, false, method, &rwire, &out), ADN_OK);
		ck_assert_uint_eq(out.len, resp.len);
		ck_assert(!memcmp(out.b, resp.b, resp.len));
		ck_assert_int_eq(run_udf(cl, ADN_APP_RESPONSE, false, method, &rwire, &out),
				 ADN_UNAUTHENTICATED);
		ck_assert_msg(strstr(cl->why, "answered already"), "%s", cl->why);
	}
	adn_udf_free(cl);
	adn_udf_free(cl2);
	adn_udf_free(sv);
}
END_TEST

/* A response is bound to its call's rpc_id: two calls outstanding, the
 * first one's response moved into a frame of the second (rpc_ids are not
 * encrypted) is refused, and still accepted where it belongs. Requests
 * too: a request moved to another rpc_id does not verify. */
START_TEST(test_aead_rpc_id_bound)
{
	struct adn_aead_key k = test_key(ADN_AEAD_AES_256_GCM);
	struct adn_udf_set *cl = aead_set(&k, &chain_enc), *sv = aead_set(&k, &chain_enc);
	struct msg plain, wa, wb, out, resp, ra;

	plain_body(&plain, 120, 5);
	udf_rpc_id = 1;
	ck_assert_int_eq(run_udf(cl, ADN_APP_REQUEST, true, 1, &plain, &wa), ADN_OK);
	udf_rpc_id = 2;
	ck_assert_int_eq(run_udf(cl, ADN_APP_REQUEST, true, 1, &plain, &wb), ADN_OK);
	udf_rpc_id = 3; /* request 1 moved to id 3 */
	ck_assert_int_eq(run_udf(sv, ADN_APP_REQUEST, false, 1, &wa, &out), ADN_DATA_LOSS);
	udf_rpc_id = 1;
	ck_assert_int_eq(run_udf(sv, ADN_APP_REQUEST, false, 1, &wa, &out), ADN_OK);
	plain_body(&resp, 90, 11);
	ck_assert_int_eq(run_udf(sv, ADN_APP_RESPONSE, true, 1, &resp, &ra), ADN_OK);
	udf_rpc_id = 2; /* call 1's response in call 2's frame */
	ck_assert_int_eq(run_udf(cl, ADN_APP_RESPONSE, false, 1, &ra, &out), ADN_DATA_LOSS);
	udf_rpc_id = 1;
	ck_assert_int_eq(run_udf(cl, ADN_APP_RESPONSE, false, 1, &ra, &out), ADN_OK);
	ck_assert(!memcmp(out.b, resp.b, resp.len));
	udf_rpc_id = 7;
	adn_udf_free(cl);
	adn_udf_free(sv);
}
END_TEST

/* Requests may come out of order within the window, each once; one more
 * than ADN_AEAD_WINDOW behind the newest is refused. */
START_TEST(test_aead_window)
{
	struct adn_aead_key k = test_key(ADN_AEAD_AES_256_GCM);
	struct adn_udf_set *cl = aead_set(&k, &chain_enc), *sv = aead_set(&k, &chain_enc);
	static struct msg w[64];
	struct msg plain, out, first;

	plain_body(&plain, 64, 1);
	for (int i = 0; i < 64; i++)
		ck_assert_int_eq(run_udf(cl, ADN_APP_REQUEST, true, 2, &plain, &w[i]), ADN_OK);
	for (int i = 63; i >= 0; i -= 2) /* odd ones newest first, then the even ones */
		ck_assert_int_eq(run_udf(sv, ADN_APP_REQUEST, false, 2, &w[i], &out), ADN_OK);
	for (int i = 0; i < 64; i += 2)
		ck_assert_int_eq(run_udf(sv, ADN_APP_REQUEST, false, 2, &w[i], &out), ADN_OK);
	for (int i = 0; i < 64; i += 7)
		ck_assert_int_eq(run_udf(sv, ADN_APP_REQUEST, false, 2, &w[i], &out), ADN_UNAUTHENTICATED);

	ck_assert_int_eq(run_udf(cl, ADN_APP_REQUEST, true, 2, &plain, &first), ADN_OK);
	for (unsigned i = 0; i < ADN_AEAD_WINDOW; i++)
		ck_assert_int_eq(run_udf(cl, ADN_APP_REQUEST, true, 2, &plain, &w[0]), ADN_OK);
	ck_assert_int_eq(run_udf(sv, ADN_APP_REQUEST, false, 2, &w[0], &out), ADN_OK);
	ck_assert_int_eq(run_udf(sv, ADN_APP_REQUEST, false, 2, &first, &out), ADN_UNAUTHENTICATED);
	ck_assert_msg(strstr(sv->why, "too late"), "%s", sv->why);
	adn_udf_free(cl);
	adn_udf_free(sv);
}
END_TEST

/* Time: a request older than ADN_AEAD_MAX_AGE_MS, or from that far in the
 * future, or stamped before the server opened the chain (recorded before
 * a restart), is refused; the server forgets quiet senders only when any
 * message of theirs would be stale. */
START_TEST(test_aead_time)
{
	struct adn_aead_key k = test_key(ADN_AEAD_AES_256_GCM);
	struct msg plain, wire, out;

	uint64_t (*real_clock)(void) = adn_aead_now_ms;
	adn_aead_now_ms = fake_now;
	fake_ms = 1000000000;
	struct adn_udf_set *cl = aead_set(&k, &chain_enc), *sv = aead_set(&k, &chain_enc);
	plain_body(&plain, 64, 5);

	ck_assert_int_eq(run_udf(cl, ADN_APP_REQUEST, true, 2, &plain, &wire), ADN_OK);
	fake_ms += ADN_AEAD_MAX_AGE_MS + 1;
	ck_assert_int_eq(run_udf(sv, ADN_APP_REQUEST, false, 2, &wire, &out), ADN_UNAUTHENTICATED);
	ck_assert_msg(strstr(sv->why, "stale"), "%s", sv->why);
	fake_ms -= 2; /* within the age: accepted */
	ck_assert_int_eq(run_udf(sv, ADN_APP_REQUEST, false, 2, &wire, &out), ADN_OK);

	fake_ms += 2 * ADN_AEAD_MAX_AGE_MS;
	ck_assert_int_eq(run_udf(cl, ADN_APP_REQUEST, true, 2, &plain, &wire), ADN_OK);
	fake_ms -= ADN_AEAD_MAX_AGE_MS + 1;
	ck_assert_int_eq(run_udf(sv, ADN_APP_REQUEST, false, 2, &wire, &out), ADN_UNAUTHENTICATED);
	ck_assert_msg(strstr(sv->why, "future"), "%s", sv->why);

	/* a server started after the request was made: a recording */
	ck_assert_int_eq(run_udf(cl, ADN_APP_REQUEST, true, 2, &plain, &wire), ADN_OK);
	fake_ms += 5;
	struct adn_udf_set *sv2 = aead_set(&k, &chain_enc);
	ck_assert_int_eq(run_udf(sv2, ADN_APP_REQUEST, false, 2, &wire, &out), ADN_UNAUTHENTICATED);
	ck_assert_msg(strstr(sv2->why, "before the server opened"), "%s", sv2->why);
	ck_assert_int_eq(run_udf(cl, ADN_APP_REQUEST, true, 2, &plain, &wire), ADN_OK);
	ck_assert_int_eq(run_udf(sv2, ADN_APP_REQUEST, false, 2, &wire, &out), ADN_OK);

	/* ADN_AEAD_MAX_SENDERS senders fill the table; more within the age
	 * are refused; once the first ones are stale, there is room again */
	struct msg w;
	for (unsigned i = 0; i <= ADN_AEAD_MAX_SENDERS; i++) {
		struct adn_udf_set *c = aead_set(&k, &chain_enc);
		ck_assert_int_eq(run_udf(c, ADN_APP_REQUEST, true, 2, &plain, &w), ADN_OK);
		int st = run_udf(sv2, ADN_APP_REQUEST, false, 2, &w, &out);
		ck_assert_int_eq(st, i < ADN_AEAD_MAX_SENDERS - 1 ? ADN_OK : ADN_RESOURCE_EXHAUSTED);
		adn_udf_free(c);
	}
	fake_ms += ADN_AEAD_MAX_AGE_MS + 1;
	struct adn_udf_set *c = aead_set(&k, &chain_enc);
	ck_assert_int_eq(run_udf(c, ADN_APP_REQUEST, true, 2, &plain, &wire), ADN_OK);
	ck_assert_int_eq(run_udf(sv2, ADN_APP_REQUEST, false, 2, &wire, &out), ADN_OK);
	adn_udf_free(c);
	adn_udf_free(sv2);
	adn_udf_free(cl);
	adn_udf_free(sv);
	adn_aead_now_ms = real_clock;
}
END_TEST

/* Network-field bytes named mutable (a kernel element rewrites them) may
 * change on the way; the others may not. */
START_TEST(test_aead_mutable_fields)
{
	struct adn_aead_key k = test_key(ADN_AEAD_AES_256_GCM);
	ck_assert_int_eq(adn_aead_key_mutable(&k, 2, 3), 0);
	ck_assert_int_eq(adn_aead_key_mutable(&k, 1, 0), -EINVAL);
	struct adn_udf_set *cl = aead_set(&k, &chain_enc), *sv = aead_set(&k, &chain_enc);
	struct msg plain, wire, t, out;

	plain_body(&plain, 100, 2);
	for (size_t i = 0; i < KEEP; i++) {
		ck_assert_int_eq(run_udf(cl, ADN_APP_REQUEST, true, 2, &plain, &wire), ADN_OK);
		t = wire;
		t.b[i] ^= 0x55;
		bool mut = i >= 2 && i < 5;
		ck_assert_int_eq(run_udf(sv, ADN_APP_REQUEST, false, 2, &t, &out),
				 mut ? ADN_OK : ADN_DATA_LOSS);
		if (mut) /* the handler sees the rewritten field */
			ck_assert_uint_eq(out.b[i], plain.b[i] ^ 0x55);
	}
	/* a body shorter than the network fields cannot slip by unchecked */
	plain.len = KEEP - 1;
	ck_assert_int_ne(run_udf(cl, ADN_APP_REQUEST, true, 2, &plain, &wire), ADN_OK);
	ck_assert_int_ne(run_udf(sv, ADN_APP_REQUEST, false, 2, &plain, &out), ADN_OK);
	adn_udf_free(cl);
	adn_udf_free(sv);
}
END_TEST

/* Real sockets: a server that counts its handler's runs, the encrypt
 * chain at both ends, pipelined calls over 4 TCP connections and over UDP:
 * every call OK and right. Then a request frame recorded on its way is
 * sent again on a connection of its own: refused, the handler not run. */
static volatile int handled;

static int echo_count(void *user, uint16_t method, const void *req, size_t len, void *resp,
		      size_t cap, size_t *resp_len)
{
	__atomic_add_fetch(&handled, 1, __ATOMIC_SEQ_CST);
	return echo(user, method, req, len, resp, cap, resp_len);
}

/* An element that records what it sends: the last request on the wire. */
struct tap {
	struct adn_udf_ops inner;
	struct msg last;
	uint32_t last_id; /* the rpc_id of last */
};

static long tap_encode(void *ctx, struct adn_udf_msg *m, const void *in, size_t n, void *out,
		       size_t cap)
{
	struct tap *t = ctx;
	long r = t->inner.encode_msg(t->inner.ctx, m, in, n, out, cap);
	if (r > 0 && m->dir == ADN_APP_REQUEST && m->clear_len + (size_t)r <= sizeof(t->last.b)) {
		memcpy(t->last.b, m->clear, m->clear_len);
		memcpy(t->last.b + m->clear_len, out, (size_t)r);
		t->last.len = m->clear_len + (size_t)r;
		t->last_id = m->rpc_id;
	}
	return r;
}

static long tap_decode(void *ctx, struct adn_udf_msg *m, const void *in, size_t n, void *out,
		       size_t cap)
{
	struct tap *t = ctx;
	return t->inner.decode_msg(t->inner.ctx, m, in, n, out, cap);
}

static void *tap_state(void *ctx)
{
	struct tap *t = ctx;
	return t->inner.new_state(t->inner.ctx);
}

struct pipe_reply {
	int ok, bad, n;
	uint8_t want[512];
	size_t len;
};

static void on_pipe_reply(void *user, uint32_t id, int status, uint16_t flags, const void *body,
			  size_t len)
{
	struct pipe_reply *r = user;
	(void)id;
	(void)flags;
	r->n++;
	if (status == ADN_OK && len == r->len && !memcmp(body, r->want, len))
		r->ok++;
	else
		r->bad++;
}

static int raw_call(uint16_t port, uint16_t method, const struct msg *body, uint32_t rpc_id)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	uint8_t f[ADN_HDR_LEN + sizeof(body->b)];
	struct adn_hdr h = { .len = (uint32_t)(ADN_HDR_LEN + body->len), .rpc_id = rpc_id,
			     .method = method, .kind = ADN_KIND_REQUEST, .layout = 0x1234 };
	adn_hdr_encode(&h, f);
	memcpy(f + ADN_HDR_LEN, body->b, body->len);
	ck_assert_int_eq(write(fd, f, ADN_HDR_LEN + body->len), (ssize_t)(ADN_HDR_LEN + body->len));
	size_t got = 0;
	while (got < ADN_HDR_LEN) {
		ssize_t n = read(fd, f + got, ADN_HDR_LEN - got);
		ck_assert_int_gt(n, 0);
		got += (size_t)n;
	}
	close(fd);
	adn_hdr_decode(&h, f);
	ck_assert_uint_eq(h.rpc_id, rpc_id);
	ck_assert_uint_eq(h.kind, ADN_KIND_RESPONSE);
	return h.status;
}

static void aead_pipelined(bool udp)
{
	char err[256];
	static struct adn_aead_key k;
	k = test_key(ADN_AEAD_CHACHA20_POLY1305);
	static struct tap tap;
	tap.inner = adn_udf_aead(&k);
	struct adn_udf_ops ops = adn_udf_aead(&k);
	struct adn_udf_ops tops = { .encode_msg = tap_encode, .decode_msg = tap_decode,
				    .new_state = tap_state, .free_state = tap.inner.free_state,
				    .flags = tap.inner.flags, .ctx = &tap };
	struct srv t;
	memset(&t, 0, sizeof(t));
	handled = 0;
	t.s = adn_server_listen("127.0.0.1", 0, echo_count, NULL, err, sizeof(err));
	ck_assert_msg(t.s, "%s", err);
	ck_assert_int_eq(adn_server_add_udp(t.s, err, sizeof(err)), 0);
	ck_assert_int_eq(adn_server_udf_register(t.s, "encrypt", &ops), 0);
	ck_assert_msg(!adn_server_use_chain(t.s, &chain_enc, err, sizeof(err)), "%s", err);
	ck_assert_int_eq(pthread_create(&t.tid, NULL, srv_main, &t), 0);
	uint16_t port = adn_server_port(t.s);

	struct adn_client *c = udp ? adn_client_open_udp("127.0.0.1", port, 0x1234, err, sizeof(err)) :
				     adn_client_open("127.0.0.1", port, 4, 0x1234, err, sizeof(err));
	ck_assert_msg(c, "%s", err);
	ck_assert_int_eq(adn_client_udf_register(c, "encrypt", &tops), 0);
	ck_assert_msg(!adn_client_use_chain(c, &chain_enc, err, sizeof(err)), "%s", err);
	static struct pipe_reply r;
	memset(&r, 0, sizeof(r));
	struct msg body;
	plain_body(&body, 300, 4);
	memcpy(r.want, body.b, body.len);
	r.len = body.len;
	int total = udp ? 1000 : 4000, sent = 0;
	while (r.n < total) {
		while (sent < total && adn_client_outstanding(c) < 64) {
			uint16_t m = (uint16_t)(1 + sent % 3); /* get-like, put-like, uncovered */
			ck_assert_int_gt(adn_client_call(c, m, body.b, body.len, on_pipe_reply, &r), 0);
			sent++;
		}
		ck_assert_int_ge(adn_client_poll(c, 100), 0);
	}
	ck_assert_int_eq(r.ok, total);
	ck_assert_int_eq(r.bad, 0);
	struct adn_client_stats cs;
	adn_client_get_stats(c, &cs);
	ck_assert_uint_eq(cs.udf_errors, 0);
	int covered = total - total / 3; /* methods 1 and 2 */
	ck_assert_uint_eq(cs.wire_bytes - cs.app_bytes, (uint64_t)covered * ADN_AEAD_REQ_OVERHEAD);
	ck_assert_int_eq(handled, total);

	/* replayed on the wire: the last request the client encrypted, that of
	 * its last call (method 1) */
	struct msg rec = tap.last;
	int last_m = 1 + (total - 1) % 3;
	ck_assert_int_eq(last_m, 1);
	ck_assert_uint_eq(rec.len, body.len + ADN_AEAD_REQ_OVERHEAD);
	/* with the rpc_id it was sent with (another one does not verify) */
	ck_assert_int_eq(raw_call(port, (uint16_t)last_m, &rec, tap.last_id + 1), ADN_DATA_LOSS);
	int st = raw_call(port, (uint16_t)last_m, &rec, tap.last_id);
	/* UNAUTHENTICATED once the server answers with the element's status
	 * (adn_udf_set.status); the library answered DATA_LOSS for every
	 * refusal before that */
	ck_assert_msg(st == ADN_UNAUTHENTICATED, "replay answered %d", st);
	/* tampered with: the method, a network field, the sequence number */
	struct msg bad = rec;
	ck_assert_int_eq(raw_call(port, (uint16_t)(last_m == 1 ? 2 : 1), &bad, tap.last_id), ADN_DATA_LOSS);
	bad.b[0] ^= 1;
	ck_assert_int_eq(raw_call(port, (uint16_t)last_m, &bad, tap.last_id), ADN_DATA_LOSS);
	bad = rec;
	bad.b[KEEP + 8] ^= 1;
	ck_assert_int_eq(raw_call(port, (uint16_t)last_m, &bad, tap.last_id), ADN_DATA_LOSS);
	ck_assert_int_eq(handled, total); /* none of them ran the handler */
	adn_client_close(c);
	srv_stop(&t);
	ck_assert_uint_eq(t.st.udf_errors, 5); /* the five refused above */
}

START_TEST(test_aead_pipelined_tcp) { aead_pipelined(false); }
END_TEST

START_TEST(test_aead_pipelined_udp) { aead_pipelined(true); }
END_TEST

int main(void)
{
	Suite *s = suite_create("rpc_udf");
	TCase *tc = tcase_create("udf");
	tcase_set_timeout(tc, 20);
	tcase_add_test(tc, test_roundtrip_tcp);
	tcase_add_test(tc, test_roundtrip_udp);
	tcase_add_test(tc, test_network_fields_untouched);
	tcase_add_test(tc, test_undecodable_request);
	tcase_add_test(tc, test_missing_implementation);
	tcase_add_test(tc, test_aead_tamper_request);
	tcase_add_test(tc, test_aead_tamper_response);
	tcase_add_test(tc, test_aead_rpc_id_bound);
	tcase_add_test(tc, test_aead_window);
	tcase_add_test(tc, test_aead_time);
	tcase_add_test(tc, test_aead_mutable_fields);
	tcase_add_test(tc, test_aead_pipelined_tcp);
	tcase_add_test(tc, test_aead_pipelined_udp);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
