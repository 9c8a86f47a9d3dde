/* Unit tests of placement (compiler/place.c): the cost model's choices,
 * constraints, forced locations, the generated C per hook, and that
 * reordering never moves an element across hooks. Errors of impossible
 * constraints are selftests/bad/place_*.adn (test_compiler). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adnc.h"

#define SVC(transport)                                                              \
	"CREATE SERVICE s PORT 9000 " transport " (\n"                               \
	"  METHOD get REQUEST (user CHAR(16), data BYTES) RESPONSE (ok BOOL)\n);\n"
#define ACL                                                                          \
	"CREATE ELEMENT acl (user CHAR(16)) DROP STATUS PERMISSION_DENIED BEGIN\n"   \
	"  ON REQUEST INSERT INTO output SELECT * FROM input WHERE user != 'm';\nEND;\n"
#define LOG                                                                          \
	"CREATE ELEMENT count (user CHAR(16)) BEGIN\n"                              \
	"  CREATE TABLE n (id UINT32 PRIMARY KEY, c UINT64) CAPACITY 1 USING ARRAY;\n" \
	"  ON REQUEST INSERT INTO output SELECT * FROM input;\n"                    \
	"  ON RESPONSE UPDATE n SET c = c + 1 WHERE id = 0;\n"                       \
	"    INSERT INTO output SELECT * FROM input;\nEND;\n"
#define UDF "CREATE ELEMENT compress (data BYTES) IMPLEMENTED IN APP;\n"

static struct adnc_unit *place(const char *src, const struct ir_forced_place *f, size_t n,
			       char **diags)
{
	size_t len = 0;
	FILE *out = open_memstream(diags, &len);
	struct adnc_unit *u = adnc_compile_source_placed("t.adn", src, strlen(src), out, f, n);
	fclose(out);
	return u;
}

static const char *where(const struct adnc_unit *u, const char *name)
{
	for (size_t i = 0; i < u->ir->n_elems; i++)
		if (!strcmp(u->ir->elems[i].decl->name, name))
			return ir_place_name(u->ir->elems[i].place);
	return "?";
}

START_TEST(test_tcp_sk_msg)
{
	char *d;
	struct adnc_unit *u = place(SVC("") ACL LOG UDF "CREATE CHAIN c ON s (count, acl, compress);", NULL, 0, &d);
	ck_assert_msg(u->ir, "%s", d);
	ck_assert_str_eq(where(u, "count"), "sk_msg");
	ck_assert_str_eq(where(u, "acl"), "sk_msg");
	ck_assert_str_eq(where(u, "compress"), "app");
	char *c = adnc_gen_bpf(u);
	ck_assert(strstr(c, "#include \"adn_sk_msg.h\""));
	ck_assert(!strstr(c, "adn_tc.h"));
	ck_assert(!strstr(c, "adn_sk_skb.h")); /* no receiver element: no stream parser */
	ck_assert(!strstr(c, "ADN_SKB_CHAIN_REQUEST"));
	ck_assert(strstr(c, "#define ADN_LAYOUT 0x"));
	ck_assert(strstr(c, "place=compress=app\\n"));
	free(c);
	adnc_unit_free(u);
	free(d);
}
END_TEST

START_TEST(test_udp_tc_then_xdp)
{
	char *d;
	struct adnc_unit *u = place(SVC("TRANSPORT UDP") ACL LOG "CREATE CHAIN c ON s (count, acl);", NULL, 0, &d);
	ck_assert_msg(u->ir, "%s", d);
	ck_assert_str_eq(where(u, "count"), "tc");
	ck_assert_str_eq(where(u, "acl"), "tc");
	adnc_unit_free(u);
	free(d);
	/* AT RECEIVER moves acl to XDP; the element before it stays at TC */
	u = place(SVC("TRANSPORT UDP") ACL LOG "CREATE CHAIN c ON s (count, acl AT RECEIVER);", NULL, 0, &d);
	ck_assert_msg(u->ir, "%s", d);
	ck_assert_str_eq(where(u, "count"), "tc");
	ck_assert_str_eq(where(u, "acl"), "xdp");
	char *c = adnc_gen_bpf(u);
	ck_assert(strstr(c, "adn_chain_request_tc(struct adn_frame *f, __u32 *at)"));
	ck_assert(strstr(c, "adn_chain_request_xdp(struct adn_frame *f, __u32 *at)"));
	ck_assert(strstr(c, "#define ADN_XDP_CHAIN_REQUEST adn_chain_request_xdp"));
	ck_assert(strstr(c, "#define ADN_MSG_CHAIN_REQUEST adn_chain_request_none"));
	ck_assert(strstr(c, "#include \"adn_xdp.h\""));
	ck_assert(strstr(c, "hook=tc\\n"));
	ck_assert(strstr(c, "hook=xdp\\n"));
	ck_assert(strstr(c, "tc_ingress=1\\n"));
	free(c);
	char *e = adnc_gen_explain(u);
	ck_assert_msg(strstr(e, "AT RECEIVER over UDP"), "%s", e);
	free(e);
	adnc_unit_free(u);
	free(d);
}
END_TEST

START_TEST(test_forced)
{
	char *d;
	struct ir_forced_place f[] = { { "acl", PLACE_XDP } };
	struct adnc_unit *u = place(SVC("TRANSPORT UDP") ACL LOG "CREATE CHAIN c ON s (count, acl);", f, 1, &d);
	ck_assert_msg(u->ir, "%s", d);
	ck_assert_str_eq(where(u, "acl"), "xdp");
	adnc_unit_free(u);
	free(d);
	/* --hook xdp: count has a response side, XDP cannot run it */
	struct ir_forced_place h[] = { { NULL, PLACE_XDP } };
	u = place(SVC("TRANSPORT UDP") ACL LOG "CREATE CHAIN c ON s (count, acl);", h, 1, &d);
	ck_assert(!u->ir);
	ck_assert_msg(strstr(d, "--hook count=xdp: XDP at the server's ingress runs request elements only"), "%s", d);
	adnc_unit_free(u);
	free(d);
	/* an element that answers requests: TC builds the reply, XDP cannot */
	struct ir_forced_place ax[] = { { "ans", PLACE_XDP } };
	u = place(SVC("TRANSPORT UDP")
		  "CREATE ELEMENT ans (user CHAR(16), RESPONSE ok BOOL) BEGIN ON REQUEST\n"
		  "  INSERT INTO reply SELECT TRUE AS ok FROM input WHERE input.method = 'get' AND input.user = 'c';\n"
		  "  INSERT INTO output SELECT * FROM input;\nEND;\nCREATE CHAIN c ON s (ans);",
		  ax, 1, &d);
	ck_assert(!u->ir);
	ck_assert_msg(strstr(d, "XDP at the server's ingress does not build replies"), "%s", d);
	adnc_unit_free(u);
	free(d);
	/* a forced location that breaks chain order */
	u = place(SVC("TRANSPORT UDP") ACL "CREATE ELEMENT n2 (user CHAR(16)) BEGIN ON REQUEST INSERT INTO output SELECT * FROM input; END;\n"
		  "CREATE CHAIN c ON s (n2, acl);", (struct ir_forced_place[]){ { "n2", PLACE_XDP }, { "acl", PLACE_TC } }, 2, &d);
	ck_assert(!u->ir);
	ck_assert_msg(strstr(d, "chain order would break"), "%s", d);
	adnc_unit_free(u);
	free(d);
	/* sk_msg on UDP, tc on TCP, a UDF in the kernel, an unknown element */
	struct { const char *svc; struct ir_forced_place f; const char *want; } bad[] = {
		{ SVC("TRANSPORT UDP"), { "acl", PLACE_SK_MSG }, "sk_msg sees TCP streams only" },
		{ SVC(""), { "acl", PLACE_TC }, "needs TRANSPORT UDP" },
		{ SVC("TRANSPORT UDP"), { "acl", PLACE_SK_SKB }, "sk_skb sees TCP streams only" },
		{ SVC(""), { "compress", PLACE_SK_MSG }, "IMPLEMENTED IN APP" },
		{ SVC(""), { "nope", PLACE_SK_MSG }, "has no element 'nope'" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char src[2048];
		snprintf(src, sizeof(src), "%s%s%sCREATE CHAIN c ON s (acl, compress);", bad[i].svc, ACL, UDF);
		u = place(src, &bad[i].f, 1, &d);
		ck_assert(!u->ir);
		ck_assert_msg(strstr(d, bad[i].want), "case %zu: %s", i, d);
		adnc_unit_free(u);
		free(d);
	}
}
END_TEST

/* TCP: the receiver's sk_skb, chosen only when asked for */
START_TEST(test_tcp_sk_skb)
{
	char *d;
	/* AT RECEIVER: acl at sk_skb; count after it follows (chain order),
	 * its response side in the server's sk_msg */
	struct adnc_unit *u = place(SVC("") ACL LOG "CREATE CHAIN c ON s (acl AT RECEIVER, count);", NULL, 0, &d);
	ck_assert_msg(u->ir, "%s", d);
	ck_assert_str_eq(where(u, "acl"), "sk_skb");
	ck_assert_str_eq(where(u, "count"), "sk_skb");
	char *c = adnc_gen_bpf(u);
	ck_assert(strstr(c, "#include \"adn_sk_skb.h\"\n#include \"adn_sk_msg.h\""));
	ck_assert(strstr(c, "adn_chain_request_sk_skb(struct adn_frame *f, __u32 *at)"));
	ck_assert(strstr(c, "#define ADN_SKB_CHAIN_REQUEST adn_chain_request_sk_skb"));
	ck_assert(strstr(c, "#define ADN_MSG_CHAIN_RESPONSE adn_chain_response_sk_msg"));
	/* the response side of count runs in the sk_msg pair */
	const char *resp = strstr(c, "adn_chain_response_sk_msg(struct adn_frame *f, __u32 from)");
	ck_assert(resp && strstr(resp, "count_response(f)"));
	ck_assert(!strstr(c, "adn_tc.h"));
	ck_assert(!strstr(c, "_none"));
	ck_assert(strstr(c, "hook=sk_skb\\n"));
	ck_assert(strstr(c, "place=acl=sk_skb\\n"));
	free(c);
	char *e = adnc_gen_explain(u);
	ck_assert_msg(strstr(e, "AT RECEIVER over TCP: the server's sk_skb stream verdict"), "%s", e);
	ck_assert_msg(strstr(e, "an earlier element of the chain runs at the receiver, so this one must too (chain order): the server's sk_skb"), "%s", e);
	free(e);
	adnc_unit_free(u);
	free(d);
	/* forced: only acl moves; the element before it stays at the sender */
	struct ir_forced_place f[] = { { "acl", PLACE_SK_SKB } };
	u = place(SVC("") ACL LOG "CREATE CHAIN c ON s (count, acl);", f, 1, &d);
	ck_assert_msg(u->ir, "%s", d);
	ck_assert_str_eq(where(u, "count"), "sk_msg");
	ck_assert_str_eq(where(u, "acl"), "sk_skb");
	c = adnc_gen_bpf(u);
	ck_assert(strstr(c, "adn_chain_request_sk_msg(struct adn_frame *f, __u32 *at)"));
	ck_assert(strstr(c, "#define ADN_MSG_CHAIN_REQUEST adn_chain_request_sk_msg"));
	free(c);
	adnc_unit_free(u);
	free(d);
	/* a sender element after a receiver element breaks chain order */
	u = place(SVC("") ACL LOG "CREATE CHAIN c ON s (acl, count);",
		  (struct ir_forced_place[]){ { "acl", PLACE_SK_SKB }, { "count", PLACE_SK_MSG } }, 2, &d);
	ck_assert(!u->ir);
	ck_assert_msg(!strncmp(d, "t.adn:", 6) && strstr(d, ": error: --place count=sk_msg"), "%s", d);
	ck_assert_msg(strstr(d, "--place count=sk_msg: 'acl' runs earlier in the chain and is placed at the receiver; chain order would break"), "%s", d);
	adnc_unit_free(u);
	free(d);
	/* ROUTE TO REPLICA must run at the sender */
	u = place(SVC("") "CREATE ELEMENT lb (user CHAR(16)) BEGIN ON REQUEST ROUTE TO REPLICA hash(input.user);\n"
		  "INSERT INTO output SELECT * FROM input; END;\nCREATE CHAIN c ON s (lb);", f, 0, &d);
	ck_assert_msg(u->ir, "%s", d);
	adnc_unit_free(u);
	free(d);
	u = place(SVC("") "CREATE ELEMENT lb (user CHAR(16)) BEGIN ON REQUEST ROUTE TO REPLICA hash(input.user);\n"
		  "INSERT INTO output SELECT * FROM input; END;\nCREATE CHAIN c ON s (lb);",
		  (struct ir_forced_place[]){ { "lb", PLACE_SK_SKB } }, 1, &d);
	ck_assert(!u->ir);
	ck_assert_msg(strstr(d, "--place lb=sk_skb: 'lb' routes requests (ROUTE TO REPLICA), which must happen before they leave the client: the sender's sk_msg, not the receiver's sk_skb"), "%s", d);
	adnc_unit_free(u);
	free(d);
}
END_TEST

/* A SQL element runs in the client's RPC library only when the chain says
 * IN APP or --place forces it; the header then carries its source. */
START_TEST(test_sql_in_app)
{
	char *d;
	struct adnc_unit *u = place(SVC("") ACL LOG "CREATE CHAIN c ON s (acl IN APP, count);", NULL, 0, &d);
	ck_assert_msg(u->ir, "%s", d);
	ck_assert_str_eq(where(u, "acl"), "app");
	ck_assert_str_eq(where(u, "count"), "sk_msg");
	ck_assert_str_eq(u->ir->elems[0].place_reason,
			 "IN APP: the RPC library runs it in the client's process with the reference interpreter (compiler/interp.c)");
	/* confined to the sender: its field is sender-only */
	ck_assert_str_eq(u->ir->elems[0].sender_why, "IN APP");
	char *h = adnc_gen_header(u);
	ck_assert_msg(strstr(h, ".n_sql = 1, .source = source, .source_file = \"t.adn\""), "%s", h);
	ck_assert_msg(strstr(h, "WHERE user != 'm';\\n\"\n"), "%s", h);
	ck_assert_msg(strstr(h, ".forced_app = NULL, .n_forced_app = 0"), "%s", h);
	free(h);
	adnc_unit_free(u);
	free(d);
	/* without IN APP the cost model keeps it in the kernel, over UDP too */
	u = place(SVC("TRANSPORT UDP") ACL "CREATE CHAIN c ON s (acl);", NULL, 0, &d);
	ck_assert_msg(u->ir, "%s", d);
	ck_assert_str_eq(where(u, "acl"), "tc");
	h = adnc_gen_header(u);
	ck_assert(!strstr(h, "n_sql"));
	free(h);
	adnc_unit_free(u);
	free(d);
	/* --place acl=app: forced, and recorded for the library */
	struct ir_forced_place f = { "acl", PLACE_APP };
	u = place(SVC("") ACL LOG "CREATE CHAIN c ON s (acl, count);", &f, 1, &d);
	ck_assert_msg(u->ir, "%s", d);
	ck_assert_str_eq(where(u, "acl"), "app");
	h = adnc_gen_header(u);
	ck_assert_msg(strstr(h, "forced_app[] = { \"acl\", }"), "%s", h);
	free(h);
	adnc_unit_free(u);
	free(d);
	/* ... but not after a kernel element */
	struct ir_forced_place g = { "count", PLACE_APP };
	u = place(SVC("") ACL LOG "CREATE CHAIN c ON s (acl, count);", &g, 1, &d);
	ck_assert(!u->ir);
	ck_assert_msg(strstr(d, "element 'count' cannot run in the application"), "%s", d);
	adnc_unit_free(u);
	free(d);
}
END_TEST

START_TEST(test_reorder_stays_on_hook)
{
	char *d;
	/* acl (a dropper) after count at another hook: never moved before it */
	const char *src = SVC("TRANSPORT UDP")
		"CREATE ELEMENT pass (user CHAR(16)) BEGIN ON REQUEST INSERT INTO output SELECT * FROM input; END;\n" ACL
		"CREATE CHAIN c ON s (pass, acl);";
	struct ir_forced_place f[] = { { "pass", PLACE_TC }, { "acl", PLACE_XDP } };
	struct adnc_unit *u = place(src, f, 2, &d);
	ck_assert_msg(u->ir, "%s", d);
	ir_reorder(&u->arena, u->ir, 1);
	ck_assert_str_eq(u->ir->elems[0].decl->name, "pass");
	ck_assert_uint_eq(u->ir->n_moves, 1);
	ck_assert(!u->ir->moves[0].allowed);
	ck_assert(strstr(u->ir->moves[0].reason, "do not move between hooks"));
	adnc_unit_free(u);
	free(d);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("placement");
	TCase *t = tcase_create("place");
	tcase_add_test(t, test_tcp_sk_msg);
	tcase_add_test(t, test_udp_tc_then_xdp);
	tcase_add_test(t, test_forced);
	tcase_add_test(t, test_tcp_sk_skb);
	tcase_add_test(t, test_reorder_stays_on_hook);
	tcase_add_test(t, test_sql_in_app);
	suite_add_tcase(s, t);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
