/* SPDX-License-Identifier: MIT */
/*
 * The reference interpreter (compiler/interp.c) on hand-picked RPCs: golden
 * expectations for every library element (elements/<e>/<e>.adn), written
 * from the elements' documentation, not from the kernel. The kernel program
 * is compared with the interpreter on random RPCs by test_differential.c.
 */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "interp_util.h"

struct world {
	uint64_t now;
	uint32_t rnd;
	int n_logs;
	uint8_t log[8][256];
	size_t log_size[8];
};

static uint64_t w_now(void *c) { return ((struct world *)c)->now; }
static uint32_t w_random(void *c) { return ((struct world *)c)->rnd; }
static void w_log(void *c, const struct ir_map *m, const void *rec, size_t size)
{
	struct world *w = c;
	(void)m;
	if (w->n_logs < 8 && size <= 256) {
		memcpy(w->log[w->n_logs], rec, size);
		w->log_size[w->n_logs++] = size;
	}
}

struct chain {
	struct adnc_unit *u;
	const struct ir_chain *ir;
	struct interp *in;
	struct world w;
	struct interp_env env;
};

static void open_chain(struct chain *c, const char *element)
{
	char rel[256];
	snprintf(rel, sizeof(rel), "elements/%s/%s.adn", element, element);
	memset(c, 0, sizeof(*c));
	c->u = iu_compile(rel, 1, 0);
	ck_assert_msg(c->u, "%s does not compile", rel);
	c->ir = c->u->ir;
	c->in = interp_new(c->ir);
	c->w.now = 1000000000000ull;
	c->w.rnd = 0xffffffffu;
	c->env = (struct interp_env){ w_now, w_random, w_log, &c->w };
}

static void close_chain(struct chain *c)
{
	interp_free(c->in);
	adnc_unit_free(c->u);
}

/* A kv request (get) with the given user and key: the verdict. */
static struct interp_verdict req(struct chain *c, const char *user, const char *key, size_t extra,
				 uint8_t *out)
{
	uint8_t f[512];
	struct interp_verdict v;
	size_t len = iu_request(c->ir, f, 7, 1, extra);
	iu_set_str(c->ir, f, "username", user);
	iu_set_str(c->ir, f, "key", key);
	c->w.n_logs = 0;
	interp_datagram(c->in, f, len, 1, &c->env, &v);
	if (out)
		memcpy(out, f, len);
	return v;
}

static struct interp_verdict resp(struct chain *c, uint32_t rpc_id, uint8_t status)
{
	uint8_t f[64];
	struct interp_verdict v;
	size_t len = iu_response(f, 20, rpc_id, 1, status);
	c->w.n_logs = 0;
	interp_datagram(c->in, f, len, 0, &c->env, &v);
	return v;
}

static uint64_t row_u64(struct chain *c, const char *map, uint32_t key, int off)
{
	struct interp_table *t = interp_table_by_name(c->in, map);
	ck_assert_ptr_nonnull(t);
	uint8_t *v = interp_table_lookup(t, &key);
	ck_assert_ptr_nonnull(v);
	uint64_t x;
	memcpy(&x, v + off, 8);
	return x;
}

#define PASSES(v) ck_assert_int_eq((v).action, INTERP_PASS)
#define DROPS(v, st) do { ck_assert_int_eq((v).action, INTERP_REPLY); ck_assert_int_eq((v).status, st); \
			  ck_assert_int_eq((v).at, 0); } while (0)

START_TEST(test_acl)
{
	struct chain c;
	uint8_t out[512];
	open_chain(&c, "acl");
	PASSES(req(&c, "alice", "k", 0, NULL));
	struct interp_verdict v = req(&c, "bob", "k", 0, out);
	DROPS(v, 7); /* PERMISSION_DENIED: bob has R */
	ck_assert_int_eq(out[10], 1); /* the reply: kind RESPONSE, status, net reply flag */
	ck_assert_int_eq(out[11], 7);
	ck_assert_int_eq(out[12], 1);
	DROPS(req(&c, "carol", "k", 0, NULL), 7); /* no row */
	DROPS(req(&c, "alicex", "k", 0, NULL), 7);
	close_chain(&c);
}
END_TEST

START_TEST(test_fault)
{
	struct chain c;
	open_chain(&c, "fault");
	c.w.rnd = 0; /* random() = 0 < 0.05 */
	DROPS(req(&c, "alice", "k", 0, NULL), 10); /* ABORTED */
	c.w.rnd = 0x0CCCCCCD; /* exactly 0.05: passes (random() >= probability) */
	PASSES(req(&c, "alice", "k", 0, NULL));
	c.w.rnd = 0x0CCCCCCC;
	DROPS(req(&c, "alice", "k", 0, NULL), 10);
	close_chain(&c);
}
END_TEST

START_TEST(test_logging)
{
	struct chain c;
	open_chain(&c, "logging");
	c.w.now = 12345;
	PASSES(req(&c, "alice", "the-key", 4, NULL));
	ck_assert_int_eq(c.w.n_logs, 1);
	/* time u64 | rpc_id u32 | method u32 | kind u32 | status u32 | len u32 | user[16] | key[32] */
	uint8_t *r = c.w.log[0];
	uint64_t t;
	uint32_t u;
	memcpy(&t, r, 8);
	ck_assert_uint_eq(t, 12345);
	memcpy(&u, r + 8, 4);
	ck_assert_uint_eq(u, 7);
	memcpy(&u, r + 12, 4);
	ck_assert_uint_eq(u, 1);
	memcpy(&u, r + 24, 4);
	ck_assert_uint_eq(u, 16 + 48 + 4);
	ck_assert_str_eq((char *)r + 28, "alice");
	ck_assert_str_eq((char *)r + 44, "the-key");
	PASSES(resp(&c, 7, 5));
	ck_assert_int_eq(c.w.n_logs, 1);
	r = c.w.log[0];
	memcpy(&u, r + 16, 4);
	ck_assert_uint_eq(u, 1); /* kind RESPONSE */
	memcpy(&u, r + 20, 4);
	ck_assert_uint_eq(u, 5); /* status NOT_FOUND */
	ck_assert_int_eq(r[28], 0); /* '' */
	close_chain(&c);
}
END_TEST

START_TEST(test_mutation)
{
	struct chain c;
	uint8_t out[512];
	open_chain(&c, "mutation");
	PASSES(req(&c, "alice", "public/x", 0, out));
	struct interp_verdict v = req(&c, "bob", "secret/plans", 0, out);
	ck_assert_int_eq(v.action, INTERP_REWRITE);
	ck_assert_str_eq((char *)iu_field(c.ir, out, "username", NULL), "guest");
	ck_assert_str_eq((char *)iu_field(c.ir, out, "key", NULL), "redacted");
	v = req(&c, "bobby", "secret", 0, out); /* 'secret' is not under 'secret/' */
	ck_assert_int_eq(v.action, INTERP_PASS);
	close_chain(&c);
}
END_TEST

START_TEST(test_ratelimit)
{
	struct chain c;
	open_chain(&c, "ratelimit"); /* rate 1/s, burst 20 */
	for (int i = 0; i < 20; i++)
		PASSES(req(&c, "alice", "k", 0, NULL));
	DROPS(req(&c, "alice", "k", 0, NULL), 8); /* RESOURCE_EXHAUSTED */
	c.w.now += 999999999;
	DROPS(req(&c, "bob", "k", 0, NULL), 8); /* 0.999999999 token */
	c.w.now += 1;
	PASSES(req(&c, "bob", "k", 0, NULL));
	ck_assert_uint_eq(row_u64(&c, "ratelimit__bucket", 0, 0), 0);
	close_chain(&c);
}
END_TEST

START_TEST(test_ratelimit_key)
{
	struct chain c;
	open_chain(&c, "ratelimit_key"); /* per user: rate 1/s, burst 10 */
	for (int i = 0; i < 10; i++)
		PASSES(req(&c, "alice", "k", 0, NULL));
	DROPS(req(&c, "alice", "k", 0, NULL), 8);
	PASSES(req(&c, "bob", "k", 0, NULL));
	ck_assert_uint_eq(interp_table_rows(interp_table_by_name(c.in, "ratelimit_key__buckets")), 2);
	c.w.now += 2000000000;
	PASSES(req(&c, "alice", "k", 0, NULL));
	PASSES(req(&c, "alice", "k", 0, NULL));
	DROPS(req(&c, "alice", "k", 0, NULL), 8);
	close_chain(&c);
}
END_TEST

START_TEST(test_circuitbreaker)
{
	struct chain c;
	open_chain(&c, "circuitbreaker"); /* max_inflight 4 */
	for (int i = 0; i < 4; i++)
		PASSES(req(&c, "alice", "k", 0, NULL));
	DROPS(req(&c, "alice", "k", 0, NULL), 14); /* UNAVAILABLE */
	ck_assert_uint_eq(row_u64(&c, "circuitbreaker__inflight", 0, 0), 4);
	PASSES(resp(&c, 7, 0));
	ck_assert_uint_eq(row_u64(&c, "circuitbreaker__inflight", 0, 0), 3);
	PASSES(req(&c, "alice", "k", 0, NULL));
	/* a network reply is not a server response: it passes untouched */
	uint8_t f[32];
	struct interp_verdict v;
	iu_response(f, 16, 7, 1, 14);
	f[12] = 1;
	interp_datagram(c.in, f, 16, 0, &c.env, &v);
	ck_assert_int_eq(v.action, INTERP_PASS);
	ck_assert_uint_eq(row_u64(&c, "circuitbreaker__inflight", 0, 0), 4);
	close_chain(&c);
}
END_TEST

START_TEST(test_admission)
{
	struct chain c;
	open_chain(&c, "admission"); /* admission, fault (probability 0) */
	for (int i = 0; i < 20; i++) {
		PASSES(req(&c, "alice", "k", 0, NULL));
		PASSES(resp(&c, 7, 13)); /* INTERNAL */
	}
	ck_assert_uint_eq(row_u64(&c, "admission__stats", 0, 0), 20); /* total */
	ck_assert_uint_eq(row_u64(&c, "admission__stats", 0, 8), 0);  /* ok */
	c.w.rnd = 0xffffffffu; /* random() >= probe 0.1: no probe */
	DROPS(req(&c, "alice", "k", 0, NULL), 14);
	c.w.rnd = 0; /* a probe */
	PASSES(req(&c, "alice", "k", 0, NULL));
	for (int i = 0; i < 80; i++)
		PASSES(resp(&c, 7, 0));
	/* 100 responses: halved to 50 total, 40 ok */
	ck_assert_uint_eq(row_u64(&c, "admission__stats", 0, 0), 50);
	ck_assert_uint_eq(row_u64(&c, "admission__stats", 0, 8), 40);
	c.w.rnd = 0xffffffffu;
	PASSES(req(&c, "alice", "k", 0, NULL)); /* 80% >= 50% */
	close_chain(&c);
}
END_TEST

START_TEST(test_bandwidth)
{
	struct chain c;
	open_chain(&c, "bandwidth"); /* 64 B/s, burst 640 B */
	ck_assert_int_eq(c.ir->net_size, 0);
	for (int i = 0; i < 6; i++)
		PASSES(req(&c, "", "", 84, NULL)); /* 100-byte frames */
	DROPS(req(&c, "", "", 84, NULL), 8);
	PASSES(req(&c, "", "", 24, NULL)); /* 40 bytes left */
	c.w.now += 1000000000ull; /* 64 more bytes */
	PASSES(req(&c, "", "", 48, NULL));
	DROPS(req(&c, "", "", 0, NULL), 8);
	close_chain(&c);
}
END_TEST

START_TEST(test_metrics)
{
	struct chain c;
	open_chain(&c, "metrics");
	PASSES(req(&c, "alice", "k", 0, NULL));
	PASSES(req(&c, "alice", "k", 0, NULL));
	ck_assert_uint_eq(row_u64(&c, "metrics__requests", 1, 0), 2);
	ck_assert_uint_eq(interp_table_rows(interp_table_by_name(c.in, "metrics__pending")), 1);
	c.w.now += 1000; /* 1000 ns: bucket 9 */
	PASSES(resp(&c, 7, 5));
	ck_assert_uint_eq(row_u64(&c, "metrics__responses", 5, 0), 1);
	ck_assert_uint_eq(row_u64(&c, "metrics__latency", 9, 0), 1);
	ck_assert_uint_eq(interp_table_rows(interp_table_by_name(c.in, "metrics__pending")), 0);
	PASSES(resp(&c, 7, 0)); /* no pending row: no latency */
	ck_assert_uint_eq(row_u64(&c, "metrics__latency", 9, 0), 1);
	ck_assert_uint_eq(row_u64(&c, "metrics__responses", 0, 0), 1);
	close_chain(&c);
}
END_TEST

/* The cache (elements/cache): a get passes and waits in `pending`; the
 * server's OK response fills `entries`; the next get of the key is
 * answered by the network with the response's bytes; the TTL and a put
 * make it reach the server again. */
static struct interp_verdict cache_req(struct chain *c, uint16_t method, uint32_t rpc_id, const char *key,
				       uint8_t *out, size_t *out_len)
{
	uint8_t f[INTERP_ANSWER_MAX + 64];
	struct interp_verdict v;
	size_t len = iu_request(c->ir, f, rpc_id, method, method == 2 ? 8 : 0);
	iu_set_str(c->ir, f, "key", key);
	interp_datagram(c->in, f, len, 1, &c->env, &v);
	if (out) {
		*out_len = v.action == INTERP_ANSWER ? v.len : len;
		memcpy(out, f, *out_len);
	}
	return v;
}

START_TEST(test_cache)
{
	static const uint8_t body[9] = { 1, 0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11 };
	struct chain c;
	uint8_t f[INTERP_ANSWER_MAX + 64];
	size_t n;
	struct interp_verdict v;

	open_chain(&c, "cache");
	struct interp_table *entries = interp_table_by_name(c.in, "cache__entries");
	struct interp_table *pending = interp_table_by_name(c.in, "cache__pending");
	PASSES(cache_req(&c, 1, 7, "k1", NULL, NULL));
	ck_assert_uint_eq(interp_table_rows(pending), 1);
	/* the server's response: found, value; an error status fills nothing */
	n = iu_response(f, 16, 7, 1, 14);
	interp_datagram(c.in, f, n, 0, &c.env, &v);
	PASSES(v);
	ck_assert_uint_eq(interp_table_rows(entries), 0);
	ck_assert_uint_eq(interp_table_rows(pending), 0);
	PASSES(cache_req(&c, 1, 7, "k1", NULL, NULL));
	n = iu_response(f, 16 + 9, 7, 1, 0);
	memcpy(f + 16, body, 9);
	interp_datagram(c.in, f, n, 0, &c.env, &v);
	PASSES(v);
	ck_assert_uint_eq(interp_table_rows(entries), 1);
	ck_assert_uint_eq(interp_table_rows(pending), 0);
	/* answered: the reply is the response, with the request's rpc_id */
	v = cache_req(&c, 1, 8, "k1", f, &n);
	ck_assert_int_eq(v.action, INTERP_ANSWER);
	ck_assert_int_eq(v.at, 0);
	ck_assert_uint_eq(n, 25);
	static const uint8_t hdr[12] = { 25, 0, 0, 0, 8, 0, 0, 0, 1, 0, 1, 0 };
	ck_assert_mem_eq(f, hdr, 12);
	ck_assert_uint_eq(f[12], 1); /* ADN_F_NET_REPLY */
	ck_assert_mem_eq(f + 16, body, 9);
	/* another key, and another method, are not answered */
	PASSES(cache_req(&c, 1, 9, "k2", NULL, NULL));
	/* the TTL (1 s by default): still fresh just before, not at it */
	c.w.now += 999999999;
	ck_assert_int_eq(cache_req(&c, 1, 10, "k1", NULL, NULL).action, INTERP_ANSWER);
	c.w.now += 1;
	PASSES(cache_req(&c, 1, 11, "k1", NULL, NULL));
	/* a put forgets the key */
	n = iu_response(f, 16 + 9, 11, 1, 0);
	memcpy(f + 16, body, 9);
	interp_datagram(c.in, f, n, 0, &c.env, &v);
	ck_assert_int_eq(cache_req(&c, 1, 12, "k1", NULL, NULL).action, INTERP_ANSWER);
	PASSES(cache_req(&c, 2, 13, "k1", NULL, NULL));
	ck_assert_uint_eq(interp_table_rows(entries), 0);
	PASSES(cache_req(&c, 1, 14, "k1", NULL, NULL));
	close_chain(&c);
}
END_TEST

/* The layout check and malformed frames, as the runtime decides them. */
START_TEST(test_runtime_checks)
{
	struct chain c;
	uint8_t f[512];
	struct interp_verdict v;
	open_chain(&c, "acl");
	size_t len = iu_request(c.ir, f, 1, 1, 0);
	iu_set_str(c.ir, f, "username", "alice");
	f[14] = (uint8_t)~c.ir->layout_hash;
	f[15] = (uint8_t)(~c.ir->layout_hash >> 8);
	interp_datagram(c.in, f, len, 1, &c.env, &v);
	ck_assert_int_eq(v.action, INTERP_REPLY);
	ck_assert_int_eq(v.status, 9); /* FAILED_PRECONDITION */
	ck_assert_int_eq(v.at, -1);
	len = iu_request(c.ir, f, 1, 1, 0);
	interp_datagram(c.in, f, len - 1, 1, &c.env, &v); /* len field != datagram */
	ck_assert_int_eq(v.action, INTERP_BAD);
	close_chain(&c);
}
END_TEST

/* Reordering keeps what anyone can observe: the -O0 and -O1 programs of
 * reorder.adn give the same verdicts, records and tables. */
START_TEST(test_reorder_equivalent)
{
	struct adnc_unit *u[2];
	struct interp *in[2];
	struct world w[2];
	struct interp_env env[2];
	for (int k = 0; k < 2; k++) {
		u[k] = iu_compile("selftests/golden/reorder.adn", k, 0);
		ck_assert_ptr_nonnull(u[k]);
		in[k] = interp_new(u[k]->ir);
		memset(&w[k], 0, sizeof(w[k]));
		env[k] = (struct interp_env){ w_now, w_random, w_log, &w[k] };
	}
	static const char *const users[] = { "alice", "al", "bob", "", "alx" };
	for (int i = 0; i < 200; i++) {
		uint8_t f[2][256];
		struct interp_verdict v[2];
		for (int k = 0; k < 2; k++) {
			size_t len = iu_request(u[k]->ir, f[k], (uint32_t)i, 1, 0);
			iu_set_str(u[k]->ir, f[k], "username", users[i % 5]);
			w[k].rnd = (uint32_t)i * 0x1234567u;
			w[k].n_logs = 0;
			interp_datagram(in[k], f[k], len, 1, &env[k], &v[k]);
		}
		ck_assert_int_eq(v[0].action, v[1].action);
		ck_assert_int_eq(v[0].status, v[1].status);
		ck_assert_int_eq(w[0].n_logs, w[1].n_logs);
	}
	for (int k = 0; k < 2; k++) {
		interp_free(in[k]);
		adnc_unit_free(u[k]);
	}
}
END_TEST

static Suite *interp_suite(void)
{
	Suite *s = suite_create("interp");
	TCase *tc = tcase_create("elements");
	tcase_add_test(tc, test_acl);
	tcase_add_test(tc, test_fault);
	tcase_add_test(tc, test_logging);
	tcase_add_test(tc, test_mutation);
	tcase_add_test(tc, test_ratelimit);
	tcase_add_test(tc, test_ratelimit_key);
	tcase_add_test(tc, test_circuitbreaker);
	tcase_add_test(tc, test_admission);
	tcase_add_test(tc, test_bandwidth);
	tcase_add_test(tc, test_metrics);
	tcase_add_test(tc, test_cache);
	tcase_add_test(tc, test_runtime_checks);
	tcase_add_test(tc, test_reorder_equivalent);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(interp_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
