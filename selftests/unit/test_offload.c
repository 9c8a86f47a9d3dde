/* Unit tests of adnc --target offload (compiler/offload.c, docs/offload.md):
 * every offload diagnostic (selftests/bad/offload_*.adn, one test each,
 * compiled with the offload pass), the placement of what fits and what
 * does not (--explain reasons), the generated C of the NIC's object, the
 * object through clang and the object check, and the object check refusing
 * a host object. */
#include <check.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "adnc.h"
#include "offload.h"

static const char *root(void)
{
	const char *r = getenv("ADN_ROOT");
	return r && *r ? r : ".";
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t)n + 1);
	if (fread(buf, 1, (size_t)n, f) != (size_t)n)
		n = 0;
	buf[n] = '\0';
	fclose(f);
	return buf;
}

/* Compiles src with the offload pass; diagnostics text (malloc'd), unit. */
static char *compile_offload(const char *name, const char *src, struct adnc_unit **unit)
{
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);
	struct adnc_unit *u = adnc_compile_source(name, src, strlen(src), out);

	offload_apply(u, NULL, 0);
	fclose(out);
	if (unit)
		*unit = u;
	else
		adnc_unit_free(u);
	return text;
}

/* ---- one test per selftests/bad/offload_*.adn ---- */

static char *bad_files[64];
static int n_bad;

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void list_bad(void)
{
	char dir[4096];
	struct dirent *e;
	DIR *d;

	snprintf(dir, sizeof(dir), "%s/selftests/bad", root());
	d = opendir(dir);
	if (!d)
		return;
	while ((e = readdir(d)) && n_bad < 64)
		if (!strncmp(e->d_name, "offload_", 8) && strstr(e->d_name, ".adn"))
			bad_files[n_bad++] = strdup(e->d_name);
	closedir(d);
	qsort(bad_files, (size_t)n_bad, sizeof(bad_files[0]), cmp_str);
}

START_TEST(test_offload_bad_program)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/selftests/bad/%s", root(), bad_files[_i]);
	char *src = slurp(path);
	ck_assert_msg(src, "cannot read %s", path);
	ck_assert_msg(!strncmp(src, "-- expect: ", 11), "%s: first line must be -- expect: ...", path);
	char *nl = strchr(src, '\n');
	char *want = NULL;
	ck_assert(asprintf(&want, "%s%.*s", bad_files[_i], (int)(nl - src - 11), src + 11) > 0);

	/* without --target offload the program is fine */
	FILE *null = fopen("/dev/null", "w");
	struct adnc_unit *plain = adnc_compile_source(bad_files[_i], src, strlen(src), null);
	fclose(null);
	ck_assert_msg(plain->ir, "%s: should compile without --target offload", bad_files[_i]);
	adnc_unit_free(plain);

	struct adnc_unit *u;
	char *diags = compile_offload(bad_files[_i], src, &u);
	char *end = strchr(diags, '\n');
	char *got = strndup(diags, end ? (size_t)(end - diags) : strlen(diags));
	ck_assert_msg(!strcmp(got, want), "%s:\n  want: %s\n  got:  %s\n  all:\n%s", bad_files[_i], want, got, diags);
	ck_assert_msg(u->ir == NULL, "%s: IR despite errors", bad_files[_i]);
	ck_assert_msg(strstr(diags, "^\n"), "%s: no caret line", bad_files[_i]);
	adnc_unit_free(u);
	free(got);
	free(diags);
	free(want);
	free(src);
}
END_TEST

/* ---- placement ---- */

static const char *svc =
	"CREATE SERVICE s PORT 9000 TRANSPORT UDP (\n"
	"  METHOD get REQUEST (user CHAR(16), data BYTES) RESPONSE (ok BOOL)\n"
	");\n"
	"CREATE ELEMENT acl (user CHAR(16)) DROP STATUS PERMISSION_DENIED BEGIN\n"
	"  ON REQUEST\n"
	"    INSERT INTO output SELECT * FROM input WHERE user != 'mallory';\n"
	"END;\n"
	"CREATE ELEMENT fault (PARAM p REAL DEFAULT 0.05) DROP STATUS ABORTED BEGIN\n"
	"  ON REQUEST\n"
	"    INSERT INTO output SELECT * FROM input WHERE random() >= p;\n"
	"END;\n"
	"CREATE ELEMENT logging (user CHAR(16)) BEGIN\n"
	"  CREATE LOG TABLE log (t TIMESTAMP, user CHAR(16)) CAPACITY 64;\n"
	"  ON REQUEST\n"
	"    INSERT INTO log SELECT now(), input.user FROM input;\n"
	"    INSERT INTO output SELECT * FROM input;\n"
	"  ON RESPONSE\n"
	"    INSERT INTO log SELECT now(), '' FROM input;\n"
	"    INSERT INTO output SELECT * FROM input;\n"
	"END;\n"
	"CREATE ELEMENT stamp (user CHAR(16)) BEGIN\n"
	"  CREATE TABLE last (user CHAR(16) PRIMARY KEY, t TIMESTAMP) CAPACITY 2;\n"
	"  ON REQUEST\n"
	"    INSERT OR REPLACE INTO last SELECT input.user, now() FROM input;\n"
	"    INSERT INTO output SELECT * FROM input;\n"
	"END;\n";

static struct adnc_unit *place(const char *chain, char **diags)
{
	char *src = NULL;
	struct adnc_unit *u;
	ck_assert(asprintf(&src, "%s%s\n", svc, chain) > 0);
	*diags = compile_offload("t.adn", src, &u);
	free(src);
	ck_assert_msg(u->ir, "errors: %s", *diags);
	return u;
}

static const struct ir_element *elem(const struct adnc_unit *u, const char *name)
{
	for (size_t i = 0; i < u->ir->n_elems; i++)
		if (!strcmp(u->ir->elems[i].decl->name, name))
			return &u->ir->elems[i];
	ck_abort_msg("no element %s", name);
	return NULL;
}

START_TEST(test_offload_all_fit)
{
	char *d;
	struct adnc_unit *u = place("CREATE CHAIN c ON s (acl (user = user), fault);", &d);
	ck_assert_int_eq(elem(u, "acl")->place, PLACE_XDP);
	ck_assert_int_eq(elem(u, "fault")->place, PLACE_XDP);
	ck_assert(strstr(elem(u, "acl")->place_reason, "fits the NIC's rules"));
	ck_assert(offload_has_elements(u->ir));
	adnc_unit_free(u);
	free(d);
}
END_TEST

/* A sender element that cannot go to the NIC stays on the client's TC,
 * and the tail after it goes to the NIC. */
START_TEST(test_offload_split)
{
	char *d;
	struct adnc_unit *u = place("CREATE CHAIN c ON s (logging (user = user), acl (user = user), fault);", &d);
	const struct ir_element *lg = elem(u, "logging");
	ck_assert_int_eq(lg->place, PLACE_TC);
	ck_assert_msg(strstr(lg->place_reason, "--target offload: stays on the host: offload: 'logging' has an ON RESPONSE side"),
		      "%s", lg->place_reason);
	ck_assert_int_eq(elem(u, "acl")->place, PLACE_XDP);
	ck_assert_int_eq(elem(u, "fault")->place, PLACE_XDP);
	ck_assert(u->ir->hooks == (IR_PLACE_BIT(PLACE_TC) | IR_PLACE_BIT(PLACE_XDP)));
	adnc_unit_free(u);
	free(d);
}
END_TEST

/* An element that fits but comes before one that does not stays at the
 * sender (chain order), with the reason; nothing is offloaded: a warning. */
START_TEST(test_offload_nothing_fits)
{
	char *d;
	struct adnc_unit *u = place("CREATE CHAIN c ON s (acl (user = user), stamp (user = user));", &d);
	const struct ir_element *acl = elem(u, "acl"), *st = elem(u, "stamp");
	ck_assert_int_eq(acl->place, PLACE_TC);
	ck_assert_int_eq(st->place, PLACE_TC);
	ck_assert_msg(strstr(acl->place_reason, "'stamp' later in the chain cannot run on the NIC (now() needs bpf_ktime_get_ns"),
		      "%s", acl->place_reason);
	ck_assert_msg(strstr(st->place_reason, "stays on the host: offload: now() needs bpf_ktime_get_ns"), "%s",
		      st->place_reason);
	ck_assert(!offload_has_elements(u->ir));
	ck_assert_msg(strstr(d, "warning: --target offload: no element of chain 'c' can run on the NIC"), "%s", d);
	ck_assert_ptr_null(offload_gen_bpf(u->ir));
	adnc_unit_free(u);
	free(d);
}
END_TEST

/* AT SENDER keeps an element that fits on the host. */
START_TEST(test_offload_at_sender)
{
	char *d;
	struct adnc_unit *u = place("CREATE CHAIN c ON s (acl (user = user), fault AT SENDER);", &d);
	ck_assert_int_eq(elem(u, "fault")->place, PLACE_TC);
	ck_assert(strstr(elem(u, "fault")->place_reason, "a constraint (AT SENDER"));
	ck_assert_int_eq(elem(u, "acl")->place, PLACE_TC);
	adnc_unit_free(u);
	free(d);
}
END_TEST

/* The rule check itself, element by element. */
START_TEST(test_offload_why_not)
{
	char *d;
	struct adnc_unit *u = place("CREATE CHAIN c ON s (logging (user = user), acl (user = user), fault);", &d);
	struct loc at = { 0, 0 };
	ck_assert_ptr_null(offload_why_not(&u->arena, u->ir, elem(u, "acl"), &at));
	ck_assert_ptr_null(offload_why_not(&u->arena, u->ir, elem(u, "fault"), &at));
	const char *w = offload_why_not(&u->arena, u->ir, elem(u, "logging"), &at);
	ck_assert_msg(w && strstr(w, "table 'log' is a LOG table"), "%s", w ? w : "(null)");
	ck_assert_int_eq(at.line, 13);
	adnc_unit_free(u);
	free(d);
}
END_TEST

/* ---- the NIC's object ---- */

static void set_includes(void)
{
	char env[4096];
	snprintf(env, sizeof(env), "%s/bpf", root());
	setenv("ADN_BPF_INCLUDE", env, 1);
	snprintf(env, sizeof(env), "%s/headers", root());
	setenv("ADN_HEADERS_INCLUDE", env, 1);
}

START_TEST(test_offload_kv_object)
{
	char tmpl[] = "/tmp/adnc-offload-XXXXXX", input[4096], path[4200], cmd[8400];
	ck_assert(mkdtemp(tmpl));
	set_includes();
	snprintf(input, sizeof(input), "%s/selftests/golden/offload_kv.adn", root());
	FILE *null = fopen("/dev/null", "w");
	struct adnc_options o = { .input = input, .outdir = tmpl, .offload = true, .opt_level = 1,
				  .diag_out = null };
	ck_assert_int_eq(adnc_run(&o), ADNC_EXIT_OK);
	fclose(null);

	snprintf(path, sizeof(path), "%s/offload_kv.offload.bpf.c", tmpl);
	char *c = slurp(path);
	ck_assert_msg(c, "no %s", path);
	ck_assert(strstr(c, "#include \"adn_offload.h\""));
	ck_assert(strstr(c, "#include \"adn_offload_xdp.h\""));
	ck_assert(!strstr(c, "#include \"adn_bpf.h\""));
	ck_assert(!strstr(c, "#include \"adn_sk_msg.h\""));
	ck_assert(!strstr(c, "#include \"adn_xdp.h\""));
	ck_assert(strstr(c, "\"offload=1\\n\""));
	ck_assert(strstr(c, "\"hook=xdp\\n\""));
	ck_assert(strstr(c, "#define ADN_NO_REWRITE"));
	ck_assert(strstr(c, "__sync_fetch_and_add")); /* count: c = c + 1 */
	ck_assert(!strstr(c, "RINGBUF") && !strstr(c, "PERCPU"));
	free(c);

	snprintf(path, sizeof(path), "%s/offload_kv.offload.bpf.o", tmpl);
	ck_assert_int_eq(offload_check_object(path, stderr), 0);

	/* the host object of the same chain breaks the NIC's rules: the
	 * check sees socket programs, per-CPU and SOCKHASH maps */
	snprintf(path, sizeof(path), "%s/offload_kv.bpf.o", tmpl);
	char *text = NULL;
	size_t len = 0;
	FILE *err = open_memstream(&text, &len);
	ck_assert_int_eq(offload_check_object(path, err), -1);
	fclose(err);
	ck_assert_msg(strstr(text, "is not XDP") && strstr(text, "map adn_stats has type"), "%s", text);
	free(text);

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpl);
	ck_assert_int_eq(system(cmd), 0);
}
END_TEST

/* The object check on instructions: a hand-written XDP program with a
 * 64-bit multiply and bpf_ktime_get_ns. */
START_TEST(test_offload_check_insns)
{
	char tmpl[] = "/tmp/adnc-offload-XXXXXX", src[4200], obj[4200], cmd[12800];
	ck_assert(mkdtemp(tmpl));
	snprintf(src, sizeof(src), "%s/bad.bpf.c", tmpl);
	snprintf(obj, sizeof(obj), "%s/bad.bpf.o", tmpl);
	FILE *f = fopen(src, "w");
	fputs("#include <linux/bpf.h>\n#include <bpf/bpf_helpers.h>\n"
	      "SEC(\"xdp\") int p(struct xdp_md *ctx)\n"
	      "{\n\tunsigned long long t = bpf_ktime_get_ns();\n"
	      "\treturn (t * (unsigned long long)ctx->data_end) & 1 ? XDP_PASS : XDP_DROP;\n}\n"
	      "char LICENSE[] SEC(\"license\") = \"GPL\";\n", f);
	fclose(f);
	snprintf(cmd, sizeof(cmd), "${CLANG:-clang} -O2 -g -target bpf -I/usr/include/$(uname -m)-linux-gnu -c %s -o %s", src, obj);
	ck_assert_int_eq(system(cmd), 0);
	char *text = NULL;
	size_t len = 0;
	FILE *err = open_memstream(&text, &len);
	ck_assert_int_eq(offload_check_object(obj, err), -1);
	fclose(err);
	ck_assert_msg(strstr(text, "(ktime_get_ns)") && strstr(text, "64-bit multiply"), "%s", text);
	free(text);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpl);
	ck_assert_int_eq(system(cmd), 0);
}
END_TEST

/* --target offload on a TCP chain: usage of the whole chain, exit 2. */
START_TEST(test_offload_exit_codes)
{
	char input[4096];
	snprintf(input, sizeof(input), "%s/selftests/bad/offload_tcp.adn", root());
	FILE *null = fopen("/dev/null", "w");
	struct adnc_options o = { .input = input, .explain = true, .offload = true, .diag_out = null,
				  .explain_out = null };
	ck_assert_int_eq(adnc_run(&o), ADNC_EXIT_PROGRAM);
	o.offload = false;
	ck_assert_int_eq(adnc_run(&o), ADNC_EXIT_OK);
	fclose(null);
}
END_TEST

static Suite *offload_suite(void)
{
	Suite *s = suite_create("offload");
	TCase *diag = tcase_create("diagnostics");
	list_bad();
	tcase_add_loop_test(diag, test_offload_bad_program, 0, n_bad);
	suite_add_tcase(s, diag);

	TCase *pl = tcase_create("placement");
	tcase_add_test(pl, test_offload_all_fit);
	tcase_add_test(pl, test_offload_split);
	tcase_add_test(pl, test_offload_nothing_fits);
	tcase_add_test(pl, test_offload_at_sender);
	tcase_add_test(pl, test_offload_why_not);
	suite_add_tcase(s, pl);

	TCase *obj = tcase_create("object");
	tcase_set_timeout(obj, 30);
	tcase_add_test(obj, test_offload_kv_object);
	tcase_add_test(obj, test_offload_check_insns);
	tcase_add_test(obj, test_offload_exit_codes);
	suite_add_tcase(s, obj);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(offload_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	if (n_bad < 10) {
		fprintf(stderr, "test_offload: found only %d selftests/bad/offload_*.adn (ADN_ROOT?)\n", n_bad);
		return 1;
	}
	return failed ? 1 : 0;
}
