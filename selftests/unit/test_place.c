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
		{ SVC(""), { "acl", PLACE_SK_SKB }, "not available in this version" },
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
	tcase_add_test(t, test_reorder_stays_on_hook);
	suite_add_tcase(s, t);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
