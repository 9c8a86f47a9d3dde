/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of user-defined elements in the RPC library (rpc/udf.c): a
 * chain of two in-app elements (a byte-reversing toy, then zlib) applied on
 * send and undone on receive at both ends, over TCP and UDP on loopback;
 * network fields left in place; per-method directions; an element with no
 * implementation refused at use_chain; a body an element cannot undo
 * answered DATA_LOSS.
 */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "adn_rpc.h"

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
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
