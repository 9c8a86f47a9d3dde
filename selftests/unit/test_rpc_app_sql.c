/* SQL elements placed in the application (IN APP): the client's RPC library
 * runs them with the reference interpreter (rpc/app_sql.c). Real loopback
 * sockets, a library server in a thread, no eBPF. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adnc.h"
#include "rpc_util.h"

#define KV                                                                          \
	"CREATE SERVICE kv PORT 7070 (\n"                                           \
	"  METHOD get REQUEST (username CHAR(16), key CHAR(32))\n"                  \
	"             RESPONSE (found BOOL, value BYTES)\n);\n"                     \
	"CREATE ELEMENT logging (user CHAR(16), key CHAR(32)) BEGIN\n"              \
	"  CREATE LOG TABLE log (time TIMESTAMP, rpc_id UINT32, method METHOD,\n"   \
	"    kind KIND, status STATUS, user CHAR(16), key CHAR(32)) CAPACITY 64;\n"  \
	"  ON REQUEST\n"                                                            \
	"    INSERT INTO log SELECT now(), input.rpc_id, input.method, input.kind,\n" \
	"      input.status, input.user, input.key FROM input;\n"                   \
	"    INSERT INTO output SELECT * FROM input;\n"                             \
	"  ON RESPONSE\n"                                                           \
	"    INSERT INTO log SELECT now(), input.rpc_id, input.method, input.kind,\n" \
	"      input.status, '', '' FROM input;\n"                                  \
	"    INSERT INTO output SELECT * FROM input;\nEND;\n"                       \
	"CREATE ELEMENT acl (user CHAR(16)) DROP STATUS PERMISSION_DENIED BEGIN\n"  \
	"  CREATE TABLE ac_tab (username CHAR(16) PRIMARY KEY, permission CHAR(2))\n" \
	"    CAPACITY 16;\n"                                                        \
	"  INSERT INTO ac_tab (username, permission) VALUES ('alice', 'W'), ('bob', 'R');\n" \
	"  ON REQUEST\n"                                                            \
	"    INSERT INTO output SELECT * FROM input\n"                              \
	"      JOIN ac_tab ON input.user = ac_tab.username WHERE ac_tab.permission = 'W';\nEND;\n" \
	"CREATE ELEMENT fault (PARAM probability REAL DEFAULT 0.05) DROP STATUS ABORTED BEGIN\n" \
	"  ON REQUEST INSERT INTO output SELECT * FROM input WHERE random() >= probability;\nEND;\n"

/* The chain description the generated header would give (adnc's
 * emit_app_chain), from the source compiled here. */
struct chain_desc {
	struct adn_app_chain ch;
	struct adnc_unit *u;
};

static void describe(struct chain_desc *d, const char *src)
{
	char *diags = NULL;
	size_t dl = 0;
	FILE *out = open_memstream(&diags, &dl);
	d->u = adnc_compile_source("app.adn", src, strlen(src), out);
	fclose(out);
	ck_assert_msg(d->u->ir, "%s", diags);
	free(diags);
	ir_reorder(&d->u->arena, d->u->ir, 1);
	unsigned n_sql = 0;
	for (size_t i = 0; i < d->u->ir->n_elems; i++)
		n_sql += d->u->ir->elems[i].place == PLACE_APP;
	d->ch = (struct adn_app_chain){
		.chain = d->u->ir->chain->name, .layout_hash = d->u->ir->layout_hash,
		.req_keep = (uint32_t)d->u->ir->net_size, .n_methods = d->u->ir->svc->n_methods,
		.n_sql = n_sql, .source = src, .source_file = "app.adn", .opt_level = 1,
	};
	/* and the generated header says the same */
	char *h = adnc_gen_header(d->u);
	char want[64];
	snprintf(want, sizeof(want), ".n_sql = %u, .source = source", n_sql);
	ck_assert_msg(strstr(h, want), "%s", h);
	free(h);
}

static int handled;

static int kv_handler(void *user, uint16_t method, const void *req, size_t len, void *resp, size_t cap,
		      size_t *resp_len)
{
	(void)user;
	(void)method;
	(void)req;
	(void)len;
	(void)cap;
	__atomic_add_fetch(&handled, 1, __ATOMIC_SEQ_CST);
	((uint8_t *)resp)[0] = 1;
	*resp_len = 1;
	return ADN_OK;
}

struct outcome {
	int n, status;
	uint16_t flags;
	uint32_t id; /* what adn_client_call returned */
};

static void on_reply(void *user, uint32_t id, int status, uint16_t flags, const void *b, size_t l)
{
	struct outcome *o = user;
	(void)id;
	(void)b;
	(void)l;
	o->n++;
	o->status = status;
	o->flags = flags;
}

static struct outcome get(struct adn_client *c, const char *user)
{
	uint8_t body[48] = { 0 };
	struct outcome o = { 0 };
	strncpy((char *)body, user, 16);
	memcpy(body + 16, "k1", 2);
	long id = adn_client_call(c, 1, body, sizeof(body), on_reply, &o);
	ck_assert_int_gt(id, 0);
	o.id = (uint32_t)id;
	ck_assert_int_eq(o.n, 0); /* never inside adn_client_call */
	drain(c, 5);
	ck_assert_int_eq(o.n, 1);
	return o;
}

static struct server_thread srv;

static struct adn_client *open_with(struct chain_desc *d, const char *src, uint16_t *port)
{
	char err[256];
	describe(d, src);
	srv.srv = adn_server_listen("127.0.0.1", 0, kv_handler, NULL, err, sizeof(err));
	ck_assert_msg(srv.srv, "%s", err);
	srv.stop = 0;
	*port = server_thread_start(&srv);
	struct adn_client *c = adn_client_open("127.0.0.1", *port, 1, (uint16_t)d->ch.layout_hash, err,
					       sizeof(err));
	ck_assert_msg(c, "%s", err);
	ck_assert_msg(adn_client_use_chain(c, &d->ch, err, sizeof(err)) == 0, "%s", err);
	return c;
}

START_TEST(test_acl_in_app)
{
	struct chain_desc d;
	uint16_t port;
	struct adn_client *c = open_with(&d, KV "CREATE CHAIN kv ON kv (acl (user = username) IN APP);", &port);
	__atomic_store_n(&handled, 0, __ATOMIC_SEQ_CST);

	struct outcome o = get(c, "alice");
	ck_assert_int_eq(o.status, ADN_OK);
	ck_assert_int_eq(o.flags & ADN_RPC_F_LOCAL, 0);
	ck_assert_int_eq(__atomic_load_n(&handled, __ATOMIC_SEQ_CST), 1);
	for (int i = 0; i < 3; i++) {
		o = get(c, i == 1 ? "bob" : "mallory");
		ck_assert_int_eq(o.status, ADN_PERMISSION_DENIED);
		ck_assert_uint_eq(o.flags & ADN_RPC_F_LOCAL, ADN_RPC_F_LOCAL);
	}
	o = get(c, "alice");
	ck_assert_int_eq(o.status, ADN_OK);
	/* the denied calls never reached the server */
	ck_assert_int_eq(__atomic_load_n(&handled, __ATOMIC_SEQ_CST), 2);
	struct adn_client_stats st;
	adn_client_get_stats(c, &st);
	ck_assert_uint_eq(st.calls, 5);
	ck_assert_uint_eq(st.completed, 5);
	ck_assert_uint_eq(adn_client_outstanding(c), 0);
	adn_client_close(c);
	stop_server(&srv);
	adnc_unit_free(d.u);
}
END_TEST

START_TEST(test_fault_in_app)
{
	struct chain_desc d;
	uint16_t port;
	struct adn_client *c = open_with(
		&d, KV "CREATE CHAIN kv ON kv (fault (probability = 1.0) IN APP, acl (user = username));", &port);
	__atomic_store_n(&handled, 0, __ATOMIC_SEQ_CST);
	for (int i = 0; i < 20; i++) {
		struct outcome o = get(c, "alice");
		ck_assert_int_eq(o.status, ADN_ABORTED);
		ck_assert_uint_eq(o.flags & ADN_RPC_F_LOCAL, ADN_RPC_F_LOCAL);
	}
	ck_assert_int_eq(__atomic_load_n(&handled, __ATOMIC_SEQ_CST), 0);
	adn_client_close(c);
	stop_server(&srv);
	adnc_unit_free(d.u);
}
END_TEST

static int count_lines(const char *s, const char *needle)
{
	int n = 0;
	for (const char *p = s; (p = strstr(p, needle)); p++)
		n++;
	return n;
}

START_TEST(test_logging_in_app)
{
	struct chain_desc d;
	uint16_t port;
	char *text = NULL;
	size_t tl = 0;
	FILE *log = open_memstream(&text, &tl);
	struct adn_client *c = open_with(
		&d, KV "CREATE CHAIN kv ON kv (logging (user = username, key = key) IN APP, acl (user = username) IN APP);",
		&port);
	adn_client_app_log(c, log);
	struct outcome o = get(c, "alice");
	ck_assert_int_eq(o.status, ADN_OK);
	uint32_t alice_id = o.id;
	o = get(c, "mallory");
	ck_assert_int_eq(o.status, ADN_PERMISSION_DENIED);
	uint32_t mallory_id = o.id;
	adn_client_close(c);
	stop_server(&srv);
	fclose(log);
	/* alice: request + response; mallory: request + the network's reply
	 * (logging runs before acl, so it sees the reply to the dropped request) */
	ck_assert_msg(count_lines(text, "\n") == 4, "%s", text);
	ck_assert_msg(count_lines(text, "{\"table\":\"logging.log\",\"time\":\"") == 4, "%s", text);
	ck_assert_msg(strstr(text, "\"method\":\"get\",\"kind\":\"request\",\"status\":\"ok\",\"user\":\"alice\",\"key\":\"k1\"}"),
		      "%s", text);
	ck_assert_msg(strstr(text, "\"kind\":\"response\",\"status\":\"ok\",\"user\":\"\",\"key\":\"\"}"), "%s", text);
	ck_assert_msg(strstr(text, "\"kind\":\"response\",\"status\":\"permission_denied\""), "%s", text);
	/* each record's rpc_id is the one its call got: two records (request,
	 * response) per call */
	char want[32];
	snprintf(want, sizeof(want), "\"rpc_id\":%u,", alice_id);
	ck_assert_msg(count_lines(text, want) == 2, "alice's call %u: %s", alice_id, text);
	snprintf(want, sizeof(want), "\"rpc_id\":%u,", mallory_id);
	ck_assert_msg(count_lines(text, want) == 2, "mallory's call %u: %s", mallory_id, text);
	ck_assert_uint_ne(alice_id, mallory_id);
	free(text);
	adnc_unit_free(d.u);
}
END_TEST

START_TEST(test_layout_mismatch)
{
	char err[256];
	struct chain_desc d, other;
	describe(&d, KV "CREATE CHAIN kv ON kv (acl (user = username) IN APP);");
	/* a client opened with another layout */
	struct adn_client *c = adn_client_open_udp("127.0.0.1", 9, 0x1234, err, sizeof(err));
	ck_assert_msg(c, "%s", err);
	ck_assert_int_eq(adn_client_use_chain(c, &d.ch, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "compiles to layout 0x") && strstr(err, "opened with layout 0x1234") &&
			      !strchr(err, '\n'),
		      "%s", err);
	adn_client_close(c);
	/* a header whose source is not the one its layout came from */
	describe(&other, KV "CREATE CHAIN kv ON kv (logging (user = username, key = key) IN APP);");
	ck_assert_uint_ne(other.ch.layout_hash, d.ch.layout_hash);
	d.ch.source = other.ch.source;
	c = adn_client_open_udp("127.0.0.1", 9, (uint16_t)d.ch.layout_hash, err, sizeof(err));
	ck_assert_msg(c, "%s", err);
	ck_assert_int_eq(adn_client_use_chain(c, &d.ch, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "but the header says 0x"), "%s", err);
	/* and a source that does not compile */
	d.ch.source = "CREATE CHAIN";
	ck_assert_int_eq(adn_client_use_chain(c, &d.ch, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "does not compile here: app.adn:"), "%s", err);
	adn_client_close(c);
	adnc_unit_free(d.u);
	adnc_unit_free(other.u);
}
END_TEST

/* Over UDP the same path: acl drops locally, alice reaches the server. */
START_TEST(test_acl_in_app_udp)
{
	char err[256];
	struct chain_desc d;
	describe(&d, KV "CREATE CHAIN kv ON kv (acl (user = username) IN APP);");
	srv.srv = adn_server_listen("127.0.0.1", 0, kv_handler, NULL, err, sizeof(err));
	ck_assert_msg(srv.srv, "%s", err);
	ck_assert_msg(adn_server_add_udp(srv.srv, err, sizeof(err)) == 0, "%s", err);
	srv.stop = 0;
	uint16_t port = server_thread_start(&srv);
	struct adn_client *c = adn_client_open_udp("127.0.0.1", port, (uint16_t)d.ch.layout_hash, err,
						   sizeof(err));
	ck_assert_msg(c, "%s", err);
	ck_assert_msg(adn_client_use_chain(c, &d.ch, err, sizeof(err)) == 0, "%s", err);
	__atomic_store_n(&handled, 0, __ATOMIC_SEQ_CST);
	ck_assert_int_eq(get(c, "mallory").status, ADN_PERMISSION_DENIED);
	ck_assert_int_eq(get(c, "alice").status, ADN_OK);
	ck_assert_int_eq(__atomic_load_n(&handled, __ATOMIC_SEQ_CST), 1);
	adn_client_close(c);
	stop_server(&srv);
	adnc_unit_free(d.u);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("rpc_app_sql");
	TCase *tc = tcase_create("core");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_acl_in_app);
	tcase_add_test(tc, test_fault_in_app);
	tcase_add_test(tc, test_logging_in_app);
	tcase_add_test(tc, test_layout_mismatch);
	tcase_add_test(tc, test_acl_in_app_udp);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
