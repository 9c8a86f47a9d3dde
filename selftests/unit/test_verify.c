/* adnc --verify: a verifier log maps back to the DSL statement. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "verify.h"

/* The shape of generated C: DSL comments before each statement's code. */
static const char *gen_c =
	"#include \"adn_bpf.h\"\n"                                     /* 1 */
	"/* kv.adn:30: CREATE ELEMENT acl (user CHAR(16)) BEGIN */\n"  /* 2 */
	"static __always_inline int acl_request(struct adn_frame *f)\n" /* 3 */
	"{\n"                                                           /* 4 */
	"\t/* kv.adn:35: INSERT INTO output SELECT * FROM input JOIN ac_tab ON input.user = ac_tab.username; */\n" /* 5 */
	"\tstruct acl__ac_tab_key key_ac_tab;\n"                        /* 6 */
	"\trow = bpf_map_lookup_elem(&acl__ac_tab, &key_ac_tab);\n"     /* 7 */
	"\treturn row->permission[0];\n"                                /* 8 */
	"}\n";

/* A log as libbpf prints it for a rejected program (abridged). */
static const char *log_in_generated =
	"libbpf: prog 'adn_msg': BPF program load failed: Permission denied\n"
	"libbpf: prog 'adn_msg': -- BEGIN PROG LOAD LOG --\n"
	"; row = bpf_map_lookup_elem(&acl__ac_tab, &key_ac_tab); @ kv.bpf.c:7\n"
	"70: (85) call bpf_map_lookup_elem#1   ; R0_w=map_value_or_null(id=3)\n"
	"; return row->permission[0]; @ kv.bpf.c:8\n"
	"71: (71) r1 = *(u8 *)(r0 +0)\n"
	"R0 invalid mem access 'map_value_or_null'\n"
	"verification time 120 usec\n"
	"stack depth 112+328\n"
	"processed 71 insns (limit 1000000) max_states_per_insn 0 total_states 6\n"
	"-- END PROG LOAD LOG --\n";

/* Stopped inside a runtime header: the DSL line is that of the last
 * generated line before it. */
static const char *log_in_runtime =
	"; row = bpf_map_lookup_elem(&acl__ac_tab, &key_ac_tab); @ kv.bpf.c:7\n"
	"70: (85) call bpf_map_lookup_elem#1\n"
	"; h->flags = flags; @ adn_sk_msg.h:180\n"
	"810: (6b) *(u16 *)(r2 +12) = r9\n"
	"invalid access to packet, off=12 size=2, R2(id=599,off=12,r=0)\n"
	"R2 offset is outside of the packet\n"
	"processed 12640 insns (limit 1000000)\n";

START_TEST(test_locate_generated_line)
{
	struct verify_site s;

	ck_assert_int_eq(verify_locate(log_in_generated, gen_c, "/tmp/out/kv.bpf.c", &s), 0);
	ck_assert_str_eq(s.reason, "R0 invalid mem access 'map_value_or_null'");
	ck_assert_str_eq(s.c_file, "kv.bpf.c");
	ck_assert_uint_eq(s.c_line, 8);
	ck_assert_str_eq(s.dsl_file, "kv.adn");
	ck_assert_uint_eq(s.dsl_line, 35);
	ck_assert_msg(strstr(s.dsl_text, "JOIN ac_tab") != NULL, "dsl text: %s", s.dsl_text);
}
END_TEST

START_TEST(test_locate_runtime_line)
{
	struct verify_site s;

	ck_assert_int_eq(verify_locate(log_in_runtime, gen_c, "kv.bpf.c", &s), 0);
	ck_assert_str_eq(s.reason, "invalid access to packet, off=12 size=2, R2(id=599,off=12,r=0)");
	ck_assert_str_eq(s.c_file, "adn_sk_msg.h");
	ck_assert_uint_eq(s.c_line, 180);
	ck_assert_uint_eq(s.dsl_line, 35);
}
END_TEST

/* Linux 6.1 prints the source text without "@ file:line". */
static const char *log_61 =
	"; row = bpf_map_lookup_elem(&acl__ac_tab, &key_ac_tab);\n"
	"70: (85) call bpf_map_lookup_elem#1\n"
	"; return row->permission[0];\n"
	"71: (71) r1 = *(u8 *)(r0 +0)\n"
	"R0 invalid mem access 'map_value_or_null'\n"
	"processed 71 insns (limit 1000000)\n";

START_TEST(test_locate_source_text_only)
{
	struct verify_site s;

	ck_assert_int_eq(verify_locate(log_61, gen_c, "kv.bpf.c", &s), 0);
	ck_assert_str_eq(s.reason, "R0 invalid mem access 'map_value_or_null'");
	ck_assert_uint_eq(s.c_line, 8);
	ck_assert_uint_eq(s.dsl_line, 35);
}
END_TEST

START_TEST(test_locate_without_line_info)
{
	struct verify_site s;

	ck_assert_int_eq(verify_locate("5: (bf) r1 = r2\nR2 !read_ok\n", gen_c, "kv.bpf.c", &s), 0);
	ck_assert_str_eq(s.reason, "R2 !read_ok");
	ck_assert_uint_eq(s.c_line, 0);
	ck_assert_uint_eq(s.dsl_line, 0);
	ck_assert_int_eq(verify_locate(NULL, "", "kv.bpf.c", &s), 0);
	ck_assert_str_eq(s.reason, "rejected (no reason in the log)");
}
END_TEST

int main(void)
{
	Suite *su = suite_create("verify");
	TCase *tc = tcase_create("locate");
	tcase_add_test(tc, test_locate_generated_line);
	tcase_add_test(tc, test_locate_runtime_line);
	tcase_add_test(tc, test_locate_without_line_info);
	tcase_add_test(tc, test_locate_source_text_only);
	suite_add_tcase(su, tc);
	SRunner *sr = srunner_create(su);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
