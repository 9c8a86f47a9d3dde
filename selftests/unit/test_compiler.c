/* Unit tests of adnc: every diagnostic (the programs in selftests/bad, one test each),
 * the golden plans, the generated C through clang, the generated header
 * through cc with an encode/decode round trip, and a small fuzz. */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "adnc.h"
#include "interp.h"
#include "tokenize.h"

static const char *root(void)
{
	const char *r = getenv("ADN_ROOT");
	return r && *r ? r : ".";
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t cap = 0, n = 0;

	if (!f)
		return NULL;
	for (;;) {
		if (n + 4096 + 1 > cap) {
			cap = cap ? cap * 2 : 8192;
			buf = realloc(buf, cap);
		}
		size_t got = fread(buf + n, 1, cap - n - 1, f);
		if (!got)
			break;
		n += got;
	}
	fclose(f);
	buf[n] = '\0';
	if (len)
		*len = n;
	return buf;
}

/* Compiles src (named `name` in diagnostics); returns the diagnostics text
 * (malloc'd) and, if unit is not NULL, the unit (caller frees). */
static char *compile(const char *name, const char *src, struct adnc_unit **unit)
{
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);
	struct adnc_unit *u = adnc_compile_source(name, src, strlen(src), out);

	fclose(out);
	if (unit)
		*unit = u;
	else
		adnc_unit_free(u);
	return text;
}

/* noinline: gcc 12 sees a false dangling pointer when this is inlined */
__attribute__((noinline)) static char *first_line_with(const char *text, const char *what)
{
	const char *hit = strstr(text, what);
	if (!hit)
		return strdup("");
	size_t start = (size_t)(hit - text), end = start;
	while (start > 0 && text[start - 1] != '\n')
		start--;
	while (text[end] && text[end] != '\n')
		end++;
	return strndup(text + start, end - start);
}

/* ---- diagnostics: one test per bad program ---- */

static char *bad_files[512];
static int n_bad;

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void list_bad_programs(void)
{
	char dir[4096];
	snprintf(dir, sizeof(dir), "%s/selftests/bad", root());
	DIR *d = opendir(dir);
	struct dirent *e;

	if (!d)
		return;
	while ((e = readdir(d)) && n_bad < 512) {
		size_t l = strlen(e->d_name);
		/* offload_*.adn need --target offload: test_offload.c runs them */
		if (l > 4 && strcmp(e->d_name + l - 4, ".adn") == 0 && strncmp(e->d_name, "offload_", 8))
			bad_files[n_bad++] = strdup(e->d_name);
	}
	closedir(d);
	qsort(bad_files, (size_t)n_bad, sizeof(bad_files[0]), cmp_str);
}

START_TEST(test_bad_program)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/selftests/bad/%s", root(), bad_files[_i]);
	char *src = slurp(path, NULL);
	ck_assert_msg(src, "cannot read %s", path);
	ck_assert_msg(strncmp(src, "-- expect: ", 11) == 0, "%s: first line must be -- expect: ...", path);
	char *nl = strchr(src, '\n');
	char *expect = strndup(src + 11, (size_t)(nl - src - 11));
	char *want;
	ck_assert(asprintf(&want, "%s%s", bad_files[_i], expect) > 0);

	struct adnc_unit *u;
	char *diags = compile(bad_files[_i], src, &u);
	char *got = first_line_with(diags, ": error: ");
	ck_assert_msg(strcmp(got, want) == 0, "%s:\n  want: %s\n  got:  %s\n  all:\n%s", bad_files[_i], want, got, diags);
	ck_assert_msg(u->ir == NULL, "%s: produced IR despite errors", bad_files[_i]);
	/* every error comes with its source line and a caret */
	ck_assert_msg(strstr(diags, "^\n"), "%s: no caret line", bad_files[_i]);
	adnc_unit_free(u);
	free(got);
	free(diags);
	free(want);
	free(expect);
	free(src);
}
END_TEST

START_TEST(test_caret_under_column)
{
	const char *src = "CREATE SERVICE s (METHOD get REQUEST (n UINT32));\n"
			  "CREATE ELEMENT e (n UINT32) BEGIN\n"
			  "\tON REQUEST INSERT INTO output SELECT * FROM input WHERE n > nope;\n"
			  "END;\nCREATE CHAIN c ON s (e);\n";
	char *d = compile("t.adn", src, NULL);
	const char *want =
		"t.adn:3:62: error: unknown name 'nope' (not a field, parameter, input column or joined column of element 'e')\n"
		"\tON REQUEST INSERT INTO output SELECT * FROM input WHERE n > nope;\n"
		"\t                                                            ^\n";
	ck_assert_msg(strncmp(d, want, strlen(want)) == 0, "got:\n%s", d);
	free(d);
}
END_TEST

START_TEST(test_several_errors_collected)
{
	const char *src = "CREATE SERVICE s (METHOD get REQUEST (n UINT32));\n"
			  "CREATE ELEMENT e (n UINT32) BEGIN\n"
			  "  ON REQUEST INSERT INTO output SELECT * FROM input WHERE a > 1 AND b > 2 AND c > 3;\n"
			  "END;\nCREATE CHAIN c ON s (e);\n";
	char *d = compile("t.adn", src, NULL);
	ck_assert_msg(strstr(d, "t.adn:3:59: error: unknown name 'a'"), "%s", d);
	ck_assert_msg(strstr(d, "t.adn:3:69: error: unknown name 'b'"), "%s", d);
	ck_assert_msg(strstr(d, "t.adn:3:79: error: unknown name 'c'"), "%s", d);
	free(d);
}
END_TEST

START_TEST(test_error_limit)
{
	char src[8192] = "";
	for (int i = 0; i < 40; i++)
		strcat(src, "@ ");
	char *d = compile("t.adn", src, NULL);
	int n = 0;
	for (const char *p = d; (p = strstr(p, ": error: ")); p++)
		n++;
	ck_assert_int_eq(n, 20);
	ck_assert_msg(strstr(d, "too many errors"), "%s", d);
	free(d);
}
END_TEST

START_TEST(test_warning_no_output)
{
	const char *src = "CREATE SERVICE s (METHOD get REQUEST (n UINT32));\n"
			  "CREATE ELEMENT e (n UINT32) BEGIN\n"
			  "  ON REQUEST\n"
			  "END;\nCREATE CHAIN c ON s (e);\n";
	struct adnc_unit *u;
	char *d = compile("t.adn", src, &u);
	ck_assert_msg(strstr(d, "t.adn:3:3: warning: ON REQUEST of element 'e' has no INSERT INTO output: every request is dropped\n"),
		      "%s", d);
	ck_assert_ptr_nonnull(u->ir); /* a warning, not an error */
	char *c = adnc_gen_bpf(u);
	ck_assert_msg(strstr(c, "return ADN_ABORTED;"), "%s", c);
	free(c);
	adnc_unit_free(u);
	free(d);
}
END_TEST

START_TEST(test_keywords_case_insensitive)
{
	const char *src = "create service s port 1 (method get request (user char(4)));\n"
			  "Create Element e (user Char(4)) Drop Status Permission_Denied Begin\n"
			  "  on request insert into output select * from input where user = 'ab' and not false;\n"
			  "end;\ncreate chain c on s (e);\n";
	char *d = compile("t.adn", src, NULL);
	ck_assert_msg(strcmp(d, "") == 0, "%s", d);
	free(d);
}
END_TEST

/* ---- literals and hashes ---- */

START_TEST(test_real_literals)
{
	struct arena a = { 0 };
	struct diag dg;
	const char *src = "0.05 1.0 0.5 3";
	diag_init(&dg, "t", src, strlen(src), stderr);
	struct token_list t = tokenize(&a, &dg, src, strlen(src));
	ck_assert_int_eq(t.toks[0].kind, TOK_DECIMAL);
	ck_assert_uint_eq(t.toks[0].rval, 0x0CCCCCCDu);
	ck_assert_uint_eq(t.toks[1].rval, 1ull << 32);
	ck_assert_uint_eq(t.toks[2].rval, 1ull << 31);
	ck_assert_int_eq(t.toks[3].kind, TOK_INTEGER);
	ck_assert_uint_eq(t.toks[3].ival, 3);
	arena_free(&a);
}
END_TEST

START_TEST(test_fnv1a)
{
	ck_assert_uint_eq(ir_fnv1a32(""), 0x811c9dc5u);
	ck_assert_uint_eq(ir_fnv1a32("a"), 0xe40c292cu);
	ck_assert_uint_eq(ir_fnv1a32("foobar"), 0xbf9cf968u);
}
END_TEST

/* ---- golden plans ---- */

/* Compiles ROOT/rel (diagnostics named by its base name) and checks that
 * it compiles; *src holds the text, which the unit points into. Returns
 * the diagnostics. */
static char *compile_repo(const char *rel, char **src, struct adnc_unit **u)
{
	char path[4096];
	const char *slash = strrchr(rel, '/');
	snprintf(path, sizeof(path), "%s/%s", root(), rel);
	*src = slurp(path, NULL);
	ck_assert_msg(*src, "cannot read %s", path);
	char *d = compile(slash ? slash + 1 : rel, *src, u);
	ck_assert_msg((*u)->ir, "%s does not compile:\n%s", rel, d);
	return d;
}

static void check_golden(const char *adn, const char *golden)
{
	char gpath[4096], *src;
	snprintf(gpath, sizeof(gpath), "%s/selftests/golden/%s", root(), golden);
	struct adnc_unit *u;
	char *d = compile_repo(adn, &src, &u);
	char *plan = adnc_gen_plan(u);
	if (getenv("ADN_UPDATE_GOLDEN")) {
		FILE *f = fopen(gpath, "w");
		ck_assert(f);
		fputs(plan, f);
		fclose(f);
	}
	char *want = slurp(gpath, NULL);
	ck_assert_msg(want, "missing %s (run with ADN_UPDATE_GOLDEN=1 to create it)", gpath);
	ck_assert_msg(strcmp(plan, want) == 0, "%s differs from the plan of %s:\n%s", gpath, adn, plan);
	free(want);
	free(plan);
	free(d);
	free(src);
	adnc_unit_free(u);
}

START_TEST(test_golden_kv_plan)
{
	check_golden("examples/kv/kv.adn", "kv.plan.json");
}
END_TEST

START_TEST(test_golden_s2_plan)
{
	check_golden("examples/s2/s2.adn", "s2.plan.json");
}
END_TEST

START_TEST(test_golden_features_plan)
{
	check_golden("selftests/golden/features.adn", "features.plan.json");
}
END_TEST

/* The generated C of kv: the shape docs/internals.md §3 fixes. */
START_TEST(test_kv_bpf_shape)
{
	char *src;
	struct adnc_unit *u;
	char *d = compile_repo("examples/kv/kv.adn", &src, &u);
	char *c = adnc_gen_bpf(u);
	const char *in_order[] = {
		"#include \"adn_bpf.h\"",
		"struct adn_net {\n\tchar username[16]; /* offset 0 */\n\tchar key[32]; /* offset 16 */\n} __attribute__((packed));",
		"#include \"adn_frame.h\"",
		"enum kv_method {\n\tKV_GET = 1,\n\tKV_PUT = 2,\n};",
		"struct adn_params {\n\tadn_real_t fault__probability;\n};",
		"} adn_params SEC(\".maps\");",
		"struct adn_rec__logging__log {",
		"__uint(max_entries, 8388608);\n} logging__log SEC(\".maps\");",
		"struct acl__ac_tab_key {\n\tchar username[16];\n};",
		"} acl__ac_tab SEC(\".maps\");",
		"static __always_inline int logging_request(struct adn_frame *f)",
		"/* kv.adn:20: INSERT INTO log SELECT now(),",
		"ADN_LOG(logging__log, rec);",
		"static __always_inline int logging_response(struct adn_frame *f)",
		"static __always_inline int acl_request(struct adn_frame *f)",
		"/* kv.adn:35: INSERT INTO output SELECT * FROM input JOIN ac_tab ON input.user = ac_tab.username WHERE ac_tab.permission = 'W'; */",
		"return ADN_PERMISSION_DENIED; /* JOIN: no row with this key */",
		"static __always_inline int fault_request(struct adn_frame *f)",
		"if (!(adn_random() >= params->fault__probability))",
		"#define ADN_N_ELEMENTS 3",
		"static __always_inline int adn_chain_request(struct adn_frame *f, __u32 *at)",
		"static __always_inline int adn_chain_response(struct adn_frame *f, __u32 from)",
		"ADN_META(",
		"\"row=acl.ac_tab username=alice permission=W\\n\"",
		"\"row=acl.ac_tab username=bob permission=R\\n\"",
		"\"param=fault.probability=0.05\\n\"",
		"\"log=logging.log\\n\"",
		"#include \"adn_sk_msg.h\"",
	};
	const char *p = c;
	for (size_t i = 0; i < sizeof(in_order) / sizeof(in_order[0]); i++) {
		const char *q = strstr(p, in_order[i]);
		ck_assert_msg(q, "missing (or out of order): %s", in_order[i]);
		p = q + strlen(in_order[i]);
	}
	free(c);
	free(d);
	free(src);
	adnc_unit_free(u);
}
END_TEST

/* ---- through clang and cc ---- */

static int run(const char *cmd)
{
	int rc = system(cmd);
	return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

static bool have_runtime_headers(void)
{
	char path[4096];
	struct stat st;
	snprintf(path, sizeof(path), "%s/bpf/adn_bpf.h", root());
	return stat(path, &st) == 0;
}

static void compile_with_clang(const char *adn, const char *chain)
{
	if (!have_runtime_headers()) {
		fprintf(stderr, "SKIP: bpf/adn_bpf.h is missing: generated C not compiled\n");
		return;
	}
	char tmpl[] = "/tmp/adnc-test-XXXXXX", input[4096], env[4096], obj[4200];
	ck_assert(mkdtemp(tmpl));
	snprintf(input, sizeof(input), "%s/%s", root(), adn);
	snprintf(env, sizeof(env), "%s/bpf", root());
	setenv("ADN_BPF_INCLUDE", env, 1);
	snprintf(env, sizeof(env), "%s/headers", root());
	setenv("ADN_HEADERS_INCLUDE", env, 1);
	struct adnc_options o = { .input = input, .outdir = tmpl };
	ck_assert_int_eq(adnc_run(&o), ADNC_EXIT_OK);
	snprintf(obj, sizeof(obj), "%s/%s.bpf.o", tmpl, chain);
	struct stat st;
	ck_assert_msg(stat(obj, &st) == 0 && st.st_size > 0, "no %s", obj);
	char cmd[8400];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpl);
	run(cmd);
}

START_TEST(test_kv_compiles_with_clang)
{
	compile_with_clang("examples/kv/kv.adn", "kv");
}
END_TEST

START_TEST(test_features_compile_with_clang)
{
	compile_with_clang("selftests/golden/features.adn", "shopchain");
}
END_TEST

START_TEST(test_state_compiles_with_clang)
{
	compile_with_clang("selftests/golden/state.adn", "c");
}
END_TEST

START_TEST(test_ten_compiles_with_clang)
{
	compile_with_clang("selftests/golden/ten.adn", "ten");
}
END_TEST

/* A program whose code needs more than the 512-byte BPF stack (the
 * runtime copies the network fields onto it per frame) is the user's error:
 * one diagnostic at the chain and exit 2, never clang's exit 3. */
START_TEST(test_stack_limit_is_a_program_error)
{
	if (!have_runtime_headers()) {
		fprintf(stderr, "SKIP: bpf/adn_bpf.h is missing: generated C not compiled\n");
		return;
	}
	char tmpl[] = "/tmp/adnc-test-XXXXXX", input[4200], env[4096], cmd[8400];
	ck_assert(mkdtemp(tmpl));
	snprintf(input, sizeof(input), "%s/big.adn", tmpl);
	FILE *f = fopen(input, "w");
	ck_assert(f);
	fputs("CREATE SERVICE s (METHOD get REQUEST (a CHAR(200), b CHAR(40)));\n"
	      "CREATE ELEMENT e (a CHAR(200), b CHAR(40)) BEGIN\n"
	      "  ON REQUEST\n"
	      "    INSERT INTO output SELECT * FROM input WHERE a = 'x' AND b = 'y';\n"
	      "END;\n"
	      "CREATE CHAIN c ON s (e);\n", f);
	fclose(f);
	snprintf(env, sizeof(env), "%s/bpf", root());
	setenv("ADN_BPF_INCLUDE", env, 1);
	snprintf(env, sizeof(env), "%s/headers", root());
	setenv("ADN_HEADERS_INCLUDE", env, 1);
	char *out = NULL;
	size_t len = 0;
	FILE *diag = open_memstream(&out, &len);
	struct adnc_options o = { .input = input, .outdir = tmpl, .diag_out = diag };
	int rc = adnc_run(&o);
	fclose(diag);
	ck_assert_msg(rc == ADNC_EXIT_PROGRAM, "exit %d: %s", rc, out);
	ck_assert_msg(strstr(out, "big.adn:6:14: error: chain 'c' needs more than the 512-byte BPF stack"), "%s", out);
	ck_assert_msg(!strstr(out, "internal error") && !strstr(out, "Looks like"), "%s", out);
	free(out);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpl);
	run(cmd);
}
END_TEST

/* Every library element with its example chain. */
static const char *const library[] = {
	"acl", "logging", "fault", "ratelimit", "ratelimit_key", "metrics",
	"mutation", "circuitbreaker", "admission", "bandwidth",
	"abtest", "header_routing", "stateful_routing", "encrypt", "cache",
};

START_TEST(test_element_compiles_with_clang)
{
	char adn[256];
	snprintf(adn, sizeof(adn), "elements/%s/%s.adn", library[_i], library[_i]);
	compile_with_clang(adn, library[_i]);
}
END_TEST

/* The C of an answer (INSERT INTO reply) and of response field reads:
 * values first, the body zeroed to whole words, the fields at the method's
 * offsets, ADN_ANSWER(size); reads from the frame after the header. */
START_TEST(test_cache_bpf_shape)
{
	char *src;
	struct adnc_unit *u;
	char *d = compile_repo("elements/cache/cache.adn", &src, &u);
	char *c = adnc_gen_bpf(u);
	const char *in_order[] = {
		"static __always_inline int cache_request(struct adn_frame *f)",
		"__u8 adn_r0 = row_entries->found;\n\t\t__u64 adn_r1 = row_entries->value;\n"
		"\t\t__builtin_memset((__u8 *)f + ADN_HDR_LEN, 0, 12);\n"
		"\t\tadn_gen_st8((__u8 *)f + ADN_HDR_LEN + 0, adn_r0); /* found */\n"
		"\t\tadn_gen_st64((__u8 *)f + ADN_HDR_LEN + 1, adn_r1); /* value */\n"
		"\t\treturn ADN_ANSWER(9);",
		"static __always_inline int cache_response(struct adn_frame *f)",
		"ins_val.found = adn_gen_ld8((const __u8 *)f + ADN_HDR_LEN + 0 /* found */);",
		"ins_val.value = adn_gen_ld64((const __u8 *)f + ADN_HDR_LEN + 1 /* value */);",
	};
	const char *at = c;
	for (size_t i = 0; i < sizeof(in_order) / sizeof(in_order[0]); i++) {
		const char *p = strstr(at, in_order[i]);
		ck_assert_msg(p, "generated C lacks (in this order):\n%s", in_order[i]);
		at = p + strlen(in_order[i]);
	}
	/* response fields are not network fields: the layout is the key alone */
	ck_assert_uint_eq(u->ir->n_net, 1);
	ck_assert_int_eq(u->ir->net_size, 32);
	/* an answering element counts as one that can drop (reordering) */
	ck_assert(u->ir->elems[0].answers && u->ir->elems[0].can_drop[DIR_REQUEST]);
	free(c);
	free(d);
	free(src);
	adnc_unit_free(u);
}
END_TEST

/* The C of the statements that write state and rewrite fields. */
START_TEST(test_state_bpf_shape)
{
	char *src;
	struct adnc_unit *u;
	char *d = compile_repo("selftests/golden/state.adn", &src, &u);
	char *c = adnc_gen_bpf(u);
	const char *want[] = {
		"BPF_MAP_TYPE_PERCPU_ARRAY",
		"bpf_map_update_elem(&rl__bucket, &ins_key, &ins_val, BPF_NOEXIST);",
		/* SET values are computed before any store */
		"__typeof__(row_bucket->last) adn_v1 = adn_now();\n\t\trow_bucket->tokens = adn_v0;",
		"__sync_fetch_and_add(&row_tot->n, adn_v0);",
		"__sync_fetch_and_add(&row_bucket->tokens, -adn_v0);",
		/* per-CPU rows are plain stores */
		"row_counts->n = adn_v0;",
		"adn_sdiv64(",
		"adn_hash_fin(adn_hash_mix(adn_hash_mix(adn_hash_mix(ADN_HASH_SEED, adn_gen_ld64(f->net.username + 0)), adn_gen_ld64(f->net.username + 8)), (__u64)f->hdr.len))",
		"(adn_gen_ld16(f->net.username + 0) == 0x6c61U) /* 'al' */",
		"bpf_map_delete_elem(&rl__bucket, &key_bucket);",
		"static __always_inline int mut_request(struct adn_frame *f, int *rw)",
		"*rw = 1;",
		"return rw ? ADN_PASS_REWRITE : 0;",
		"\"merge=rl.bucket LAST last\\n\"",
		"\"merge=rl.counts SUM\\n\"",
		"\"merge=rl.tot MAX\\n\"",
	};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		ck_assert_msg(strstr(c, want[i]), "generated C lacks:\n%s", want[i]);
	/* the rewritten field travels in the network header */
	ck_assert_ptr_nonnull(ir_net_field(u->ir, "key"));
	free(c);
	free(d);
	free(src);
	adnc_unit_free(u);
}
END_TEST

/* Column DEFAULTs: initial rows that leave a column out get it (row= line
 * and interpreter), and a default= line per column for restore / update. */
START_TEST(test_column_default)
{
	const char *src =
		"CREATE SERVICE s PORT 9000 (METHOD get REQUEST (user CHAR(16), n UINT32) RESPONSE (ok BOOL));\n"
		"CREATE ELEMENT e (n UINT32) BEGIN\n"
		"  CREATE TABLE kv (k UINT32 PRIMARY KEY, a UINT32, b UINT32 DEFAULT 7,\n"
		"                   s CHAR(4) DEFAULT 'h i', r REAL DEFAULT 1.5, f BOOL DEFAULT TRUE,\n"
		"                   m INT16 DEFAULT -3) CAPACITY 8;\n"
		"  INSERT INTO kv (k, a) VALUES (1, 5);\n"
		"  INSERT INTO kv VALUES (2, 6, 8, 'x', 2, FALSE, 4);\n"
		"  ON REQUEST\n"
		"    INSERT INTO output SELECT * FROM input JOIN kv ON kv.k = input.n;\n"
		"END;\n"
		"CREATE CHAIN c ON s (e);\n";
	struct adnc_unit *u;
	char *d = compile("default.adn", src, &u);
	ck_assert_msg(u->ir, "does not compile:\n%s", d);
	char *c = adnc_gen_bpf(u);
	const char *want[] = {
		"\"row=e.kv k=1 a=5 b=7 s='h i' r=1.5 f=true m=-3\\n\"",
		"\"row=e.kv k=2 a=6 b=8 s=x r=2 f=false m=4\\n\"",
		"\"default=e.kv b 7\\n\"",
		"\"default=e.kv s 'h i'\\n\"",
		"\"default=e.kv r 1.5\\n\"",
		"\"default=e.kv f true\\n\"",
		"\"default=e.kv m -3\\n\"",
	};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		ck_assert_msg(strstr(c, want[i]), "generated C lacks:\n%s\n---\n%s", want[i], c);
	ck_assert_ptr_null(strstr(c, "default=e.kv a "));
	ck_assert_ptr_null(strstr(c, "default=e.kv k "));

	/* the interpreter's initial rows */
	struct interp *in = interp_new(u->ir);
	ck_assert_ptr_nonnull(in);
	struct interp_table *t = interp_table_by_name(in, "e__kv");
	ck_assert_ptr_nonnull(t);
	uint32_t k = 1;
	const uint8_t *v = interp_table_lookup(t, &k);
	ck_assert_ptr_nonnull(v);
	uint32_t a, b;
	uint64_t r;
	int16_t m;
	memcpy(&a, v, 4);
	memcpy(&b, v + 4, 4);
	ck_assert_uint_eq(a, 5);
	ck_assert_uint_eq(b, 7);
	ck_assert_mem_eq(v + 8, "h i", 4);
	memcpy(&r, v + 16, 8);
	ck_assert_uint_eq(r, 3ull << 31); /* 1.5 in 32.32 */
	ck_assert_uint_eq(v[24], 1);
	memcpy(&m, v + 26, 2);
	ck_assert_int_eq(m, -3);
	k = 2;
	v = interp_table_lookup(t, &k);
	ck_assert_ptr_nonnull(v);
	memcpy(&b, v + 4, 4);
	ck_assert_uint_eq(b, 8);
	ck_assert_mem_eq(v + 8, "x\0\0\0", 4);
	ck_assert_uint_eq(v[24], 0);
	interp_free(in);
	free(c);
	free(d);
	adnc_unit_free(u);
}
END_TEST

/* The reordering rule: moves allowed past an inert element, refused past
 * a logger and past another dropper; -O0 keeps the written order. */
START_TEST(test_reorder)
{
	char *src;
	struct adnc_unit *u;
	char *d = compile_repo("selftests/golden/reorder.adn", &src, &u);
	ir_reorder(&u->arena, u->ir, 0);
	ck_assert_str_eq(u->ir->elems[1].decl->name, "tag");
	ck_assert_uint_eq(u->ir->n_moves, 0);
	ir_reorder(&u->arena, u->ir, 1);
	const char *want[] = { "logging", "acl", "fault", "tag" };
	for (int i = 0; i < 4; i++)
		ck_assert_str_eq(u->ir->elems[i].decl->name, want[i]);
	ck_assert_uint_eq(u->ir->n_moves, 4);
	ck_assert(u->ir->moves[0].allowed && !u->ir->moves[1].allowed);
	ck_assert(strstr(u->ir->moves[1].reason, "appends to log table 'log'"));
	ck_assert(u->ir->moves[2].allowed && !u->ir->moves[3].allowed);
	ck_assert(strstr(u->ir->moves[3].reason, "can drop requests too"));
	char *c = adnc_gen_bpf(u);
	ck_assert(strstr(c, "status = fault_request(f);\n\tif (status) {\n\t\t*at = 2;"));
	free(c);
	free(d);
	free(src);
	adnc_unit_free(u);
}
END_TEST

static const char roundtrip_c[] =
	"#include <assert.h>\n#include <stdio.h>\n#include <string.h>\n#include \"kv_rpc.h\"\n"
	"int main(void)\n{\n"
	"\tuint8_t buf[256];\n"
	"\tstruct kv_put_request in = { .username = \"alice\", .key = \"k1\" }, out;\n"
	"\tin.value.ptr = \"hello\";\n\tin.value.len = 5;\n"
	"\tlong n = kv_put_request_encode(&in, buf, sizeof(buf));\n"
	"\tassert(n == 48 + 4 + 5 && (size_t)n == kv_put_request_size(&in));\n"
	"\tassert(memcmp(buf, \"alice\", 6) == 0 && memcmp(buf + 16, \"k1\", 3) == 0);\n"
	"\tassert(buf[48] == 5 && buf[49] == 0 && memcmp(buf + 52, \"hello\", 5) == 0);\n"
	"\tassert(kv_put_request_decode(&out, buf, (size_t)n) == 0);\n"
	"\tassert(memcmp(out.username, in.username, 16) == 0 && memcmp(out.key, in.key, 32) == 0);\n"
	"\tassert(out.value.len == 5 && memcmp(out.value.ptr, \"hello\", 5) == 0);\n"
	"\tassert(kv_put_request_decode(&out, buf, (size_t)n - 1) == -1);\n"
	"\tassert(kv_put_request_encode(&in, buf, 10) == -1);\n"
	"\tstruct kv_get_response r = { .found = 1 }, r2;\n"
	"\tr.value.ptr = \"v\";\n\tr.value.len = 1;\n"
	"\tn = kv_get_response_encode(&r, buf, sizeof(buf));\n"
	"\tassert(n == 6 && kv_get_response_decode(&r2, buf, 6) == 0 && r2.found == 1 && r2.value.len == 1);\n"
	"\tassert(KV_GET == 1 && KV_PUT == 2 && KV_PORT == 7070);\n"
	"\tassert(strcmp(kv_method_name(KV_PUT), \"put\") == 0 && kv_method_name(9) == NULL);\n"
	"\tprintf(\"0x%08x\\n\", (unsigned)KV_LAYOUT_HASH);\n"
	"\treturn 0;\n}\n";

/* Signed integers, REAL and BOOL through the features header. */
static const char features_roundtrip_c[] =
	"#include \"shopchain_rpc.h\"\n"
	"int main(void)\n{\n"
	"\tstruct shop_buy_request r = { .user = \"bob\", .item = 7, .qty = -3, .price = 1ull << 32, .vip = 1 }, r2;\n"
	"\tuint8_t b[256];\n"
	"\tlong n = shop_buy_request_encode(&r, b, sizeof(b));\n"
	"\tif (n != 16 + 4 + 2 + 8 + 1 + 4 || shop_buy_request_decode(&r2, b, (size_t)n))\n\t\treturn 1;\n"
	"\treturn !(r2.qty == -3 && r2.price == r.price && r2.item == 7 && r2.vip == 1 && r2.note.len == 0);\n}\n";

static void header_roundtrip(const char *adn, const char *program)
{
	char tmpl[] = "/tmp/adnc-test-XXXXXX", input[4096], cmd[16384];
	ck_assert(mkdtemp(tmpl));
	snprintf(input, sizeof(input), "%s/%s", root(), adn);
	struct adnc_options o = { .input = input, .outdir = tmpl, .emit_c_only = true };
	ck_assert_int_eq(adnc_run(&o), ADNC_EXIT_OK);
	snprintf(cmd, sizeof(cmd), "%s/roundtrip.c", tmpl);
	FILE *f = fopen(cmd, "w");
	ck_assert(f);
	fputs(program, f);
	fclose(f);
	snprintf(cmd, sizeof(cmd),
		 "cc -std=c11 -Wall -Wextra -Werror -I'%s/headers' -I'%s' '%s/roundtrip.c' -o '%s/roundtrip' && '%s/roundtrip' >/dev/null",
		 root(), tmpl, tmpl, tmpl, tmpl);
	int rc = run(cmd);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpl);
	run(cmd);
	ck_assert_int_eq(rc, 0);
}

START_TEST(test_features_header_roundtrip)
{
	header_roundtrip("selftests/golden/features.adn", features_roundtrip_c);
}
END_TEST

START_TEST(test_kv_header_roundtrip)
{
	header_roundtrip("examples/kv/kv.adn", roundtrip_c);
}
END_TEST

/* ---- sender-only network fields (docs/compiler.md "The IR") ---- */

START_TEST(test_golden_sender_only_plan)
{
	check_golden("selftests/golden/sender_only.adn", "sender_only.plan.json");
}
END_TEST

/* tag (audit, AT SENDER) and object (lb, ROUTE TO REPLICA) are read first
 * along the chain but only at the sender: they follow the header field
 * user (acl, which may run at the receiver). */
START_TEST(test_sender_only_layout)
{
	char *src;
	struct adnc_unit *u;
	char *d = compile_repo("selftests/golden/sender_only.adn", &src, &u);
	const struct ir_chain *ir = u->ir;
	ck_assert_uint_eq(ir->n_net, 3);
	ck_assert_uint_eq(ir->n_header, 1);
	ck_assert_int_eq(ir->header_size, 16);
	ck_assert_int_eq(ir->net_size, 28);
	ck_assert_str_eq(ir->net[0].name, "user");
	ck_assert(ir->net[0].header && ir->net[0].offset == 0);
	ck_assert_str_eq(ir->net[1].name, "tag");
	ck_assert(!ir->net[1].header && ir->net[1].offset == 16);
	ck_assert_str_eq(ir->net[2].name, "object");
	ck_assert(!ir->net[2].header && ir->net[2].offset == 20);
	ck_assert_msg(strstr(ir->layout_string, "service store\nnet user CHAR(16) 0\nsender tag UINT32 16\n"
						"sender object UINT64 20\nmethod 1 get\n"
						"request user CHAR(16) 0 net\nrequest tag UINT32 16 sender\n"
						"request object UINT64 20 sender\nresponse found BOOL 0\n"),
		      "%s", ir->layout_string);
	ck_assert_msg(!strstr(d, "warning"), "%s", d);

	char *ex = adnc_gen_explain(u);
	const char *want_ex[] = {
		"network header (16 bytes after the 16-byte frame header):\n     0  user                 CHAR(16)\n",
		"    16  tag                  UINT32       read only by 'audit', which runs at the sender (AT SENDER)\n",
		"    20  object               UINT64       read only by 'lb', which runs at the sender (ROUTE TO REPLICA)\n",
		"        16  tag                  UINT32       network, sender-only\n",
	};
	for (size_t i = 0; i < sizeof(want_ex) / sizeof(want_ex[0]); i++)
		ck_assert_msg(strstr(ex, want_ex[i]), "--explain lacks:\n%s\n---\n%s", want_ex[i], ex);
	char *h = adnc_gen_header(u);
	const char *want_h[] = {
		" *   0   user                 CHAR(16)\n * Sender-only (after the header: only elements at the sender read them):\n"
		" *   16  tag                  UINT32\n *   20  object               UINT64\n",
		"\tmemcpy(p + 0, m->user, 16); /* network field */\n"
		"\tadn_rpc_put_le(p + 16, (uint64_t)m->tag, 4); /* network field, sender-only: not in the header */\n"
		"\tadn_rpc_put_le(p + 20, (uint64_t)m->object, 8); /* network field, sender-only: not in the header */\n",
		".req_keep = 28,",
	};
	for (size_t i = 0; i < sizeof(want_h) / sizeof(want_h[0]); i++)
		ck_assert_msg(strstr(h, want_h[i]), "so_rpc.h lacks:\n%s\n---\n%s", want_h[i], h);
	char *c = adnc_gen_bpf(u);
	ck_assert_msg(strstr(c, "struct adn_net {\n\tchar user[16]; /* offset 0 */\n"
				"\t__u32 tag; /* offset 16, sender-only: not in the header */\n"
				"\t__u64 object; /* offset 20, sender-only: not in the header */\n"),
		      "%s", c);
	free(c);
	free(h);
	free(ex);
	free(d);
	free(src);
	adnc_unit_free(u);
}
END_TEST

/* One reader that may run beyond the sender makes a field a header field;
 * the transport does not change the layout (one client binary speaks TCP
 * and UDP): over UDP an element with ON RESPONSE cannot run at XDP, but
 * over TCP it can run at sk_skb. */
START_TEST(test_sender_only_rules)
{
#define SO_SVC(t) "CREATE SERVICE s PORT 1" t " (METHOD get REQUEST (a CHAR(16), b CHAR(60)), METHOD put REQUEST (b CHAR(60), a CHAR(16)));\n"
#define SO_LB(f) "CREATE ELEMENT lb (x CHAR(60)) BEGIN ON REQUEST ROUTE TO REPLICA hash(input.x); INSERT INTO output SELECT * FROM input; END;\n"
#define SO_ACL "CREATE ELEMENT acl (u CHAR(16), v CHAR(60)) BEGIN ON REQUEST INSERT INTO output SELECT * FROM input WHERE u != 'x' AND v != 'y'; END;\n"
#define SO_CHK "CREATE ELEMENT chk (u CHAR(16)) BEGIN ON REQUEST INSERT INTO output SELECT * FROM input WHERE u != 'x';\n" \
	       "  ON RESPONSE INSERT INTO output SELECT * FROM input; END;\n"
	struct adnc_unit *u;
	char *d;

	/* b (60 bytes) only at the sender: 76 bytes of network fields, a
	 * 16-byte header, no warning */
	d = compile("t.adn", SO_SVC("") SO_LB(b) SO_CHK "CREATE CHAIN c ON s (lb (x = b), chk (u = a));\n", &u);
	ck_assert_msg(u->ir, "%s", d);
	ck_assert_int_eq(u->ir->net_size, 76);
	ck_assert_int_eq(u->ir->header_size, 16);
	ck_assert_str_eq(u->ir->net[0].name, "a");
	ck_assert_int_eq(u->ir->net[1].offset, 16);
	ck_assert_msg(!strstr(d, "warning"), "%s", d);
	uint32_t tcp_hash = u->ir->layout_hash;
	adnc_unit_free(u);
	free(d);

	/* the same over UDP: chk (ON RESPONSE) cannot run at XDP, but the
	 * layout is the TCP one */
	d = compile("t.adn", SO_SVC(" TRANSPORT UDP") SO_LB(b) SO_CHK "CREATE CHAIN c ON s (lb (x = b), chk (u = a));\n",
		    &u);
	ck_assert_msg(u->ir, "%s", d);
	ck_assert_int_eq(u->ir->header_size, 16);
	ck_assert_uint_eq(u->ir->layout_hash, tcp_hash);
	adnc_unit_free(u);
	free(d);

	/* acl (may run at the receiver) reads b too: b is a header field, 76
	 * header bytes draw the warning */
	d = compile("t.adn", SO_SVC("") SO_LB(b) SO_ACL "CREATE CHAIN c ON s (lb (x = b), acl (u = a, v = b));\n", &u);
	ck_assert_msg(u->ir, "%s", d);
	ck_assert_int_eq(u->ir->header_size, 76);
	ck_assert_uint_eq(u->ir->n_header, 2);
	ck_assert_str_eq(u->ir->net[0].name, "b"); /* first use */
	ck_assert_msg(strstr(d, "t.adn:4:14: warning: the header fields take 76 bytes; SmartNICs and switches see only the first 64 bytes of a frame\n"),
		      "%s", d);
	adnc_unit_free(u);
	free(d);

	/* acl AT SENDER: both fields sender-only, no warning */
	d = compile("t.adn", SO_SVC("") SO_LB(b) SO_ACL "CREATE CHAIN c ON s (lb (x = b), acl (u = a, v = b) AT SENDER);\n",
		    &u);
	ck_assert_msg(u->ir, "%s", d);
	ck_assert_int_eq(u->ir->header_size, 0);
	ck_assert_uint_eq(u->ir->n_header, 0);
	ck_assert_int_eq(u->ir->net_size, 76);
	ck_assert_msg(!strstr(d, "warning"), "%s", d);
	char *ex = adnc_gen_explain(u);
	ck_assert_msg(strstr(ex, "read only by 'lb' (ROUTE TO REPLICA) and 'acl' (AT SENDER), which run at the sender"), "%s", ex);
	free(ex);
	adnc_unit_free(u);
	free(d);
#undef SO_SVC
#undef SO_LB
#undef SO_ACL
#undef SO_CHK
}
END_TEST

static const char sender_only_roundtrip_c[] =
	"#include \"so_rpc.h\"\n"
	"int main(void)\n{\n"
	"\tstruct store_get_request r = { .tag = 7, .object = 0x1122334455667788ull, .user = \"alice\" }, r2;\n"
	"\tuint8_t b[64];\n"
	"\tlong n = store_get_request_encode(&r, b, sizeof(b));\n"
	"\tif (n != 28 || memcmp(b, \"alice\", 6) || b[16] != 7 || b[17] || b[20] != 0x88 || b[27] != 0x11)\n\t\treturn 1;\n"
	"\tif (store_get_request_decode(&r2, b, (size_t)n))\n\t\treturn 1;\n"
	"\treturn !(r2.tag == 7 && r2.object == r.object && !strcmp(r2.user, \"alice\"));\n}\n";

START_TEST(test_sender_only_header_roundtrip)
{
	header_roundtrip("selftests/golden/sender_only.adn", sender_only_roundtrip_c);
}
END_TEST

START_TEST(test_exit_codes)
{
	char tmpl[] = "/tmp/adnc-test-XXXXXX", input[4096];
	FILE *devnull = fopen("/dev/null", "w");
	ck_assert(mkdtemp(tmpl));
	struct adnc_options o = { .input = "/nonexistent.adn", .outdir = tmpl, .diag_out = devnull };
	ck_assert_int_eq(adnc_run(&o), ADNC_EXIT_USAGE);
	snprintf(input, sizeof(input), "%s/selftests/bad/unknown_table.adn", root());
	o.input = input;
	ck_assert_int_eq(adnc_run(&o), ADNC_EXIT_PROGRAM);
	snprintf(input, sizeof(input), "%s/examples/kv/kv.adn", root());
	o.emit_c_only = true;
	ck_assert_int_eq(adnc_run(&o), ADNC_EXIT_OK);
	fclose(devnull);
	char cmd[4200];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpl);
	run(cmd);
}
END_TEST

/* ---- robustness ---- */

/* Deep expressions (30,000 levels, far beyond the limit): one diagnostic
 * at the token past the limit, no stack overflow, in the parser or after. */
START_TEST(test_deep_expressions)
{
	static const char *const open_[] = { "(", "", "CASE WHEN n > 1 THEN ", "NOT ", "- ", "min(", "hash(" };
	static const char *const close_[] = { ")", " + 1", " ELSE 0 END", "", "", ", n)", ")" };
	const int n = 30000;
	for (size_t k = 0; k < sizeof(open_) / sizeof(open_[0]); k++) {
		size_t cap = 256 + (size_t)n * (strlen(open_[k]) + strlen(close_[k]) + 8);
		char *src = malloc(cap), *o = src;
		o += sprintf(o, "CREATE SERVICE s (METHOD get REQUEST (n INT32));\n"
				"CREATE ELEMENT e (n INT32) BEGIN ON REQUEST INSERT INTO output SELECT * FROM input WHERE ");
		for (int i = 0; i < n; i++)
			o += sprintf(o, "%s", open_[k]);
		o += sprintf(o, "n");
		for (int i = 0; i < n; i++)
			o += sprintf(o, "%s", close_[k]);
		sprintf(o, " > 0 AND n > 0;\nEND;\nCREATE CHAIN c ON s (e);\n");
		struct adnc_unit *u;
		char *d = compile("t.adn", src, &u);
		ck_assert_msg(u->ir == NULL, "%zu: compiled", k);
		ck_assert_msg(strstr(d, "error: expression nested too deeply (more than 64 levels)\n"), "%zu: %.500s", k, d);
		adnc_unit_free(u);
		free(d);
		free(src);
	}
	/* AND and OR chains are trees as deep as they are long */
	for (int op = 0; op < 2; op++) {
		char *src = malloc(256 + 100000 * 16), *o = src;
		o += sprintf(o, "CREATE SERVICE s (METHOD get REQUEST (n INT32));\n"
				"CREATE ELEMENT e (n INT32) BEGIN ON REQUEST INSERT INTO output SELECT * FROM input WHERE n > 0");
		for (int i = 0; i < 100000; i++)
			o += sprintf(o, op ? " OR n > 0" : " AND n > 0");
		sprintf(o, ";\nEND;\nCREATE CHAIN c ON s (e);\n");
		char *d = compile("t.adn", src, NULL);
		ck_assert_msg(strstr(d, "t.adn:2:") && strstr(d, "expression nested too deeply"), "%.500s", d);
		free(d);
		free(src);
	}
}
END_TEST

/* 64 levels compile, also through clang (the C nests two brackets per
 * level of INT64 arithmetic: within clang's 256). */
START_TEST(test_deep_expression_limit)
{
	char src[4096], *o = src;
	o += sprintf(o, "CREATE SERVICE s (METHOD get REQUEST (n INT64));\n"
			"CREATE ELEMENT e (n INT64) BEGIN ON REQUEST INSERT INTO output SELECT * FROM input WHERE n");
	for (int i = 0; i < 63; i++)
		o += sprintf(o, " + 1");
	sprintf(o, " > 0;\nEND;\nCREATE CHAIN c ON s (e);\n");
	struct adnc_unit *u;
	char *d = compile("t.adn", src, &u);
	ck_assert_msg(u->ir, "%s", d);
	adnc_unit_free(u);
	free(d);
	if (!have_runtime_headers())
		return;
	char tmpl[] = "/tmp/adnc-test-XXXXXX", input[4200], cmd[8400];
	ck_assert(mkdtemp(tmpl));
	snprintf(input, sizeof(input), "%s/deep.adn", tmpl);
	FILE *f = fopen(input, "w");
	ck_assert(f);
	fputs(src, f);
	fclose(f);
	snprintf(cmd, sizeof(cmd), "%s/bpf", root());
	setenv("ADN_BPF_INCLUDE", cmd, 1);
	snprintf(cmd, sizeof(cmd), "%s/headers", root());
	setenv("ADN_HEADERS_INCLUDE", cmd, 1);
	struct adnc_options opt = { .input = input, .outdir = tmpl };
	ck_assert_int_eq(adnc_run(&opt), ADNC_EXIT_OK);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpl);
	run(cmd);
}
END_TEST

/* An input larger than 16 MiB, or a device, is refused before it is read
 * whole (adnc /dev/zero would read until memory runs out). */
START_TEST(test_input_limits)
{
	char tmpl[] = "/tmp/adnc-test-XXXXXX", input[4200], cmd[8400];
	char *text = NULL;
	size_t len = 0;
	FILE *err = open_memstream(&text, &len);
	ck_assert(mkdtemp(tmpl));
	struct adnc_options o = { .input = "/dev/zero", .outdir = tmpl, .diag_out = err };
	ck_assert_int_eq(adnc_run(&o), ADNC_EXIT_PROGRAM);
	snprintf(input, sizeof(input), "%s/big.adn", tmpl);
	FILE *f = fopen(input, "w");
	ck_assert(f);
	ck_assert_int_eq(ftruncate(fileno(f), (16 << 20) + 1), 0);
	fclose(f);
	o.input = input;
	ck_assert_int_eq(adnc_run(&o), ADNC_EXIT_PROGRAM);
	fclose(err);
	ck_assert_msg(strstr(text, "adnc: error: /dev/zero: not a regular file\n"), "%s", text);
	ck_assert_msg(strstr(text, "big.adn: larger than 16777216 bytes\n"), "%s", text);
	free(text);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpl);
	run(cmd);
}
END_TEST


static void compile_all_outputs(const char *src, size_t len)
{
	FILE *devnull = fopen("/dev/null", "w");
	struct adnc_unit *u = adnc_compile_source("fuzz.adn", src, len, devnull);
	if (u->ir) {
		free(adnc_gen_bpf(u));
		free(adnc_gen_header(u));
		free(adnc_gen_plan(u));
		free(adnc_gen_explain(u));
	}
	adnc_unit_free(u);
	fclose(devnull);
}

START_TEST(test_fuzz_no_crash)
{
	const char *inputs[] = { "examples/kv/kv.adn", "selftests/golden/features.adn",
				 "elements/cache/cache.adn" };
	static const char alphabet[] = "();,.*='-0123456789abcdefgh_ \n\t\"@\\";
	unsigned seed = 12345;

	for (size_t k = 0; k < sizeof(inputs) / sizeof(inputs[0]); k++) {
		char path[4096];
		size_t len;
		snprintf(path, sizeof(path), "%s/%s", root(), inputs[k]);
		char *orig = slurp(path, &len);
		ck_assert(orig);
		/* every truncation */
		for (size_t cut = 0; cut <= len; cut += 7)
			compile_all_outputs(orig, cut);
		/* random byte edits, deletions of a token-sized run */
		char *buf = malloc(len + 1);
		for (int iter = 0; iter < 1500; iter++) {
			memcpy(buf, orig, len + 1);
			size_t n = len;
			int edits = 1 + rand_r(&seed) % 4;
			for (int e = 0; e < edits; e++) {
				size_t at = (size_t)rand_r(&seed) % n;
				if (rand_r(&seed) % 2) {
					buf[at] = alphabet[rand_r(&seed) % (sizeof(alphabet) - 1)];
				} else {
					size_t del = 1 + (size_t)rand_r(&seed) % 12;
					if (at + del > n)
						del = n - at;
					memmove(buf + at, buf + at + del, n - at - del + 1);
					n -= del;
				}
				if (n == 0)
					break;
			}
			compile_all_outputs(buf, n);
		}
		/* random bytes */
		for (int iter = 0; iter < 200; iter++) {
			char junk[512];
			size_t n = (size_t)rand_r(&seed) % sizeof(junk);
			for (size_t i = 0; i < n; i++)
				junk[i] = (char)(rand_r(&seed) & 0xff);
			compile_all_outputs(junk, n);
		}
		free(buf);
		free(orig);
	}
}
END_TEST

static Suite *compiler_suite(void)
{
	Suite *s = suite_create("adnc");
	TCase *diag = tcase_create("diagnostics");
	list_bad_programs();
	tcase_add_loop_test(diag, test_bad_program, 0, n_bad);
	tcase_add_test(diag, test_caret_under_column);
	tcase_add_test(diag, test_several_errors_collected);
	tcase_add_test(diag, test_error_limit);
	tcase_add_test(diag, test_warning_no_output);
	tcase_add_test(diag, test_keywords_case_insensitive);
	suite_add_tcase(s, diag);

	TCase *lang = tcase_create("language");
	tcase_add_test(lang, test_real_literals);
	tcase_add_test(lang, test_fnv1a);
	suite_add_tcase(s, lang);

	TCase *gen = tcase_create("codegen");
	tcase_set_timeout(gen, 30);
	tcase_add_test(gen, test_golden_kv_plan);
	tcase_add_test(gen, test_golden_s2_plan);
	tcase_add_test(gen, test_golden_features_plan);
	tcase_add_test(gen, test_kv_bpf_shape);
	tcase_add_test(gen, test_kv_compiles_with_clang);
	tcase_add_test(gen, test_features_compile_with_clang);
	tcase_add_test(gen, test_state_compiles_with_clang);
	tcase_add_test(gen, test_state_bpf_shape);
	tcase_add_test(gen, test_column_default);
	tcase_add_test(gen, test_cache_bpf_shape);
	tcase_add_test(gen, test_reorder);
	tcase_add_test(gen, test_ten_compiles_with_clang);
	tcase_add_test(gen, test_stack_limit_is_a_program_error);
	tcase_add_loop_test(gen, test_element_compiles_with_clang, 0,
			    (int)(sizeof(library) / sizeof(library[0])));
	tcase_add_test(gen, test_kv_header_roundtrip);
	tcase_add_test(gen, test_features_header_roundtrip);
	tcase_add_test(gen, test_golden_sender_only_plan);
	tcase_add_test(gen, test_sender_only_layout);
	tcase_add_test(gen, test_sender_only_rules);
	tcase_add_test(gen, test_sender_only_header_roundtrip);
	tcase_add_test(gen, test_exit_codes);
	suite_add_tcase(s, gen);

	TCase *fuzz = tcase_create("robustness");
	tcase_set_timeout(fuzz, 30);
	tcase_add_test(fuzz, test_fuzz_no_crash);
	tcase_add_test(fuzz, test_deep_expressions);
	tcase_add_test(fuzz, test_deep_expression_limit);
	tcase_add_test(fuzz, test_input_limits);
	suite_add_tcase(s, fuzz);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(compiler_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
