/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of maps/: text <-> row conversion by BTF for every column kind,
 * the error messages users see, `col=value` tokenizing, .adn.meta parsing.
 * The BTF is built in memory (btf__new_empty + btf__add_*): no kernel needed.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/btf.h>

#include "adn_err.h"
#include "adn_meta.h"
#include "adn_row.h"
#include "adn_scalar.h"
#include "adn_snapshot.h"

/* ---- the BTF every test uses ---------------------------------------- */

static struct btf *btf;
static int id_u8, id_u32, id_char, id_all, id_key, id_val, id_params, id_arr_key_struct;
static int id_status, id_kind, id_method, id_nested;

/* struct all_types, packed by hand: offsets in bytes */
enum {
	OFF_A = 0, OFF_B = 1, OFF_C = 2, OFF_D = 4, OFF_E = 6, OFF_F = 10, OFF_G = 14,
	OFF_H = 22, OFF_FLAG = 30, OFF_R = 31, OFF_T = 39, OFF_M = 47, OFF_ST = 51,
	OFF_KIND = 55, OFF_NAME = 56, OFF_NEST = 64, ALL_SIZE = 68,
};

static void build_btf(void)
{
	btf = btf__new_empty();
	ck_assert_ptr_nonnull(btf);
	id_u8 = btf__add_int(btf, "unsigned char", 1, 0);
	int s8 = btf__add_int(btf, "signed char", 1, BTF_INT_SIGNED);
	int u16 = btf__add_int(btf, "unsigned short", 2, 0);
	int s16 = btf__add_int(btf, "short", 2, BTF_INT_SIGNED);
	id_u32 = btf__add_int(btf, "unsigned int", 4, 0);
	int s32 = btf__add_int(btf, "int", 4, BTF_INT_SIGNED);
	int u64 = btf__add_int(btf, "unsigned long long", 8, 0);
	int s64 = btf__add_int(btf, "long long", 8, BTF_INT_SIGNED);
	int boolean = btf__add_int(btf, "_Bool", 1, BTF_INT_BOOL);
	id_char = btf__add_int(btf, "char", 1, BTF_INT_SIGNED);
	int real = btf__add_typedef(btf, "adn_real_t", u64);
	int time = btf__add_typedef(btf, "adn_time_t", u64);
	int u64_td = btf__add_typedef(btf, "__u64", u64);

	id_status = btf__add_enum(btf, "adn_status", 4);
	btf__add_enum_value(btf, "ADN_OK", 0);
	btf__add_enum_value(btf, "ADN_PERMISSION_DENIED", 7);
	btf__add_enum_value(btf, "ADN_ABORTED", 10);
	id_kind = btf__add_enum(btf, "adn_kind", 1); /* a packed enum */
	btf__add_enum_value(btf, "ADN_KIND_REQUEST", 0);
	btf__add_enum_value(btf, "ADN_KIND_RESPONSE", 1);
	id_method = btf__add_enum(btf, "kv_method", 4);
	btf__add_enum_value(btf, "KV_GET", 1);

	int char8 = btf__add_array(btf, id_u32, id_char, 8);
	int char16 = btf__add_array(btf, id_u32, id_char, 16);
	int char2 = btf__add_array(btf, id_u32, id_char, 2);

	id_nested = btf__add_struct(btf, "pair", 4);
	btf__add_field(btf, "x", u16, 0, 0);
	btf__add_field(btf, "y", u16, 16, 0);

	id_all = btf__add_struct(btf, "all_types", ALL_SIZE);
	btf__add_field(btf, "a", id_u8, OFF_A * 8, 0);
	btf__add_field(btf, "b", s8, OFF_B * 8, 0);
	btf__add_field(btf, "c", u16, OFF_C * 8, 0);
	btf__add_field(btf, "d", s16, OFF_D * 8, 0);
	btf__add_field(btf, "e", id_u32, OFF_E * 8, 0);
	btf__add_field(btf, "f", s32, OFF_F * 8, 0);
	btf__add_field(btf, "g", u64_td, OFF_G * 8, 0);
	btf__add_field(btf, "h", s64, OFF_H * 8, 0);
	btf__add_field(btf, "flag", boolean, OFF_FLAG * 8, 0);
	btf__add_field(btf, "r", real, OFF_R * 8, 0);
	btf__add_field(btf, "t", time, OFF_T * 8, 0);
	btf__add_field(btf, "m", id_method, OFF_M * 8, 0);
	btf__add_field(btf, "st", id_status, OFF_ST * 8, 0);
	btf__add_field(btf, "kind", id_kind, OFF_KIND * 8, 0);
	btf__add_field(btf, "name", char8, OFF_NAME * 8, 0);
	btf__add_field(btf, "nest", id_nested, OFF_NEST * 8, 0);

	id_key = btf__add_struct(btf, "acl__ac_tab_key", 16);
	btf__add_field(btf, "username", char16, 0, 0);
	id_val = btf__add_struct(btf, "acl__ac_tab_val", 2);
	btf__add_field(btf, "permission", char2, 0, 0);

	id_params = btf__add_struct(btf, "adn_params", 12);
	btf__add_field(btf, "fault__probability", real, 0, 0);
	btf__add_field(btf, "limit__rate", id_u32, 64, 0);

	/* an ARRAY table: the map's key is a u32, the key struct names it */
	id_arr_key_struct = btf__add_struct(btf, "rl__bucket_key", 4);
	btf__add_field(btf, "slot", id_u32, 0, 0);
	ck_assert_int_gt(id_arr_key_struct, 0);
}

static void setup(void)
{
	build_btf();
	/* 2023-11-14T22:13:20Z at monotonic 0 */
	adn_time_set_offset_for_tests(1700000000LL * 1000000000LL);
}

static void teardown(void)
{
	btf__free(btf);
	btf = NULL;
	adn_time_set_offset_for_tests(0);
}

/* ---- helpers ---------------------------------------------------------- */

static char out_buf[8192];

/* Formats the columns of data into out_buf. */
static const char *print_cols(const struct adn_cols *cols, const void *data, enum adn_style style)
{
	FILE *f = fmemopen(out_buf, sizeof(out_buf), "w");
	bool first = true;

	adn_cols_print(f, cols, data, style, &first);
	fclose(f);
	return out_buf;
}

static int parse_line(const struct adn_cols *cols, const char *line, void *data,
		      struct adn_err *err)
{
	struct adn_assigns as;
	int rc = adn_assigns_from_line(&as, line, err);

	if (rc)
		return rc;
	rc = adn_cols_parse(cols, &as, data, "t.all", err);
	adn_assigns_free(&as);
	return rc;
}

static void all_cols(struct adn_cols *cols)
{
	struct adn_err err;

	ck_assert_int_eq(adn_cols_from_type(cols, btf, (uint32_t)id_all, "v", &err), 0);
	ck_assert_int_eq(cols->n, 16);
	ck_assert_uint_eq(cols->size, ALL_SIZE);
}

/* ---- round trips ------------------------------------------------------ */

static const char *ALL_TEXT =
	"a=255 b=-128 c=65535 d=-32768 e=4294967295 f=-2147483648 "
	"g=18446744073709551615 h=-9223372036854775808 flag=true r=0.05 "
	"t=2023-11-14T22:13:25.000000123Z m=get st=permission_denied kind=response "
	"name='o''b x' nest=0x01000200";

START_TEST(test_text_round_trip_every_kind)
{
	struct adn_cols cols;
	struct adn_err err;
	uint8_t row[ALL_SIZE] = { 0 }, again[ALL_SIZE] = { 0 };
	const char *no_nest = "a=255 b=-128 c=65535 d=-32768 e=4294967295 f=-2147483648 "
			      "g=18446744073709551615 h=-9223372036854775808 flag=true r=0.05 "
			      "t=2023-11-14T22:13:25.000000123Z m=get st=permission_denied "
			      "kind=response name='o''b x'";

	all_cols(&cols);
	ck_assert_msg(parse_line(&cols, no_nest, row, &err) == 0, "%s", err.msg);
	row[OFF_NEST] = 1; /* the nested struct is opaque: printed as hex */
	row[OFF_NEST + 2] = 2;
	ck_assert_str_eq(print_cols(&cols, row, ADN_STYLE_TEXT), ALL_TEXT);
	ck_assert_msg(parse_line(&cols, no_nest, again, &err) == 0, "%s", err.msg);
	again[OFF_NEST] = 1;
	again[OFF_NEST + 2] = 2;
	ck_assert_mem_eq(row, again, ALL_SIZE);

	/* the bytes are what the eBPF side expects */
	uint64_t r, t;
	memcpy(&r, row + OFF_R, 8);
	memcpy(&t, row + OFF_T, 8);
	ck_assert_uint_eq(r, 214748365u); /* round(0.05 * 2^32) */
	ck_assert_uint_eq(t, 5000000123ull);
	ck_assert_uint_eq(row[OFF_KIND], 1);
	ck_assert_uint_eq(row[OFF_ST], 7);
	ck_assert_str_eq((char *)row + OFF_NAME, "o'b x");
}
END_TEST

START_TEST(test_json_every_kind)
{
	struct adn_cols cols;
	struct adn_err err;
	uint8_t row[ALL_SIZE] = { 0 };

	all_cols(&cols);
	ck_assert_msg(parse_line(&cols, "a=1 b=-1 flag=false r=2.5 m=1 st=aborted "
					 "name='q\"\\' t=0",
				 row, &err) == 0, "%s", err.msg);
	row[OFF_NAME + 2] = '\n';
	ck_assert_str_eq(print_cols(&cols, row, ADN_STYLE_JSON),
			 "\"a\":1,\"b\":-1,\"c\":0,\"d\":0,\"e\":0,\"f\":0,\"g\":0,\"h\":0,"
			 "\"flag\":false,\"r\":2.5,\"t\":\"2023-11-14T22:13:20.000000000Z\","
			 "\"m\":\"get\",\"st\":\"aborted\",\"kind\":\"request\","
			 "\"name\":\"q\\\"\\n\",\"nest\":\"0x00000000\"");
}
END_TEST

START_TEST(test_full_width_string_and_unknown_enum_value)
{
	struct adn_cols cols;
	struct adn_err err;
	uint8_t row[ALL_SIZE] = { 0 };

	all_cols(&cols);
	/* CHAR(8) holds 8 bytes without a NUL */
	ck_assert_int_eq(parse_line(&cols, "name=abcdefgh st=99", row, &err), 0);
	print_cols(&cols, row, ADN_STYLE_TEXT);
	ck_assert_ptr_nonnull(strstr(out_buf, "name=abcdefgh nest="));
	ck_assert_ptr_nonnull(strstr(out_buf, " st=99 ")); /* no enumerator: the number */
}
END_TEST

START_TEST(test_row_parse_and_print)
{
	struct adn_row_type rt;
	struct adn_assigns as;
	struct adn_err err;
	char key[16], val[2];
	FILE *f;

	ck_assert_int_eq(adn_row_type_init(&rt, btf, "acl.ac_tab", (uint32_t)id_key,
					   (uint32_t)id_val, &err), 0);
	ck_assert_int_eq(adn_assigns_from_line(&as, " username=alice   permission=W ", &err), 0);
	ck_assert_int_eq(adn_row_parse(&rt, &as, ADN_ROW_FULL, key, val, &err), 0);
	adn_assigns_free(&as);
	ck_assert_mem_eq(key, "alice\0\0\0\0\0\0\0\0\0\0\0", 16);
	ck_assert_mem_eq(val, "W\0", 2);
	f = fmemopen(out_buf, sizeof(out_buf), "w");
	adn_row_print(f, &rt, key, val, ADN_STYLE_TEXT);
	fputc('|', f);
	adn_row_print(f, &rt, key, val, ADN_STYLE_JSON);
	fclose(f);
	ck_assert_str_eq(out_buf, "username=alice permission=W|{\"username\":\"alice\",\"permission\":\"W\"}");

	/* value columns left out are zero */
	ck_assert_int_eq(adn_assigns_from_line(&as, "username=bob", &err), 0);
	memset(val, 'x', sizeof(val));
	ck_assert_int_eq(adn_row_parse(&rt, &as, ADN_ROW_FULL, key, val, &err), 0);
	ck_assert_mem_eq(val, "\0\0", 2);
	ck_assert_int_eq(adn_row_parse(&rt, &as, ADN_ROW_KEY_ONLY, key, NULL, &err), 0);
	adn_assigns_free(&as);
}
END_TEST

START_TEST(test_array_table_key_names)
{
	struct adn_row_type rt;
	struct adn_err err;

	/* the map's key is a u32; struct rl__bucket_key names the column */
	ck_assert_int_eq(adn_row_type_init(&rt, btf, "rl.bucket", (uint32_t)id_u32,
					   (uint32_t)id_val, &err), 0);
	ck_assert_int_eq(rt.key.n, 1);
	ck_assert_str_eq(rt.key.col[0].name, "slot");
	/* no such struct: the column is called "key" */
	ck_assert_int_eq(adn_row_type_init(&rt, btf, "rl.other", (uint32_t)id_u32,
					   (uint32_t)id_val, &err), 0);
	ck_assert_str_eq(rt.key.col[0].name, "key");
	ck_assert_int_eq(rt.key.col[0].kind, ADN_COL_INT);
}
END_TEST

START_TEST(test_params_dotted)
{
	struct adn_cols cols;
	struct adn_err err;
	struct adn_assigns as;
	uint8_t p[12] = { 0 };

	ck_assert_int_eq(adn_cols_from_type(&cols, btf, (uint32_t)id_params, "v", &err), 0);
	adn_cols_dot_names(&cols);
	ck_assert_str_eq(cols.col[0].name, "fault.probability");
	ck_assert_int_eq(adn_assigns_from_line(&as, "fault.probability=0.5 limit.rate=100", &err), 0);
	ck_assert_int_eq(adn_cols_parse(&cols, &as, p, NULL, &err), 0);
	adn_assigns_free(&as);
	ck_assert_str_eq(print_cols(&cols, p, ADN_STYLE_TEXT), "fault.probability=0.5 limit.rate=100");
	ck_assert_int_eq(adn_assigns_from_line(&as, "fault.p=1", &err), 0);
	ck_assert_int_lt(adn_cols_parse(&cols, &as, p, NULL, &err), 0);
	adn_assigns_free(&as);
	ck_assert_str_eq(err.msg, "unknown parameter 'fault.p' (parameters: fault.probability, limit.rate)");
	ck_assert_int_lt(adn_col_parse(&cols, &cols.col[0], "x", p, NULL, &err), 0);
	ck_assert_str_eq(err.msg, "parameter 'fault.probability': 'x' is not a REAL (a decimal in 0..4294967295.99)");
}
END_TEST

START_TEST(test_percpu_sum)
{
	struct adn_cols cols;
	struct adn_err err;
	uint8_t percpu[2][72] = { { 0 } }, sum[ALL_SIZE];
	uint32_t e0 = 5, e1 = 7;

	all_cols(&cols);
	memcpy(percpu[0] + OFF_E, &e0, 4);
	memcpy(percpu[1] + OFF_E, &e1, 4);
	percpu[0][OFF_NAME] = 'z';
	adn_cols_sum_percpu(&cols, percpu, 2, 72, sum);
	uint32_t e;
	memcpy(&e, sum + OFF_E, 4);
	ck_assert_uint_eq(e, 12);
	ck_assert_uint_eq(sum[OFF_NAME], 'z'); /* not a counter: CPU 0's */
	(void)err;
}
END_TEST

/* ---- scalars ---------------------------------------------------------- */

START_TEST(test_real_values)
{
	static const struct {
		const char *in, *out;
		uint64_t v;
	} cases[] = {
		{ "0", "0.0", 0 },
		{ "1", "1.0", 1ull << 32 },
		{ "0.5", "0.5", 1ull << 31 },
		{ "0.05", "0.05", 214748365 },
		{ "1.25", "1.25", (1ull << 32) + (1ull << 30) },
		{ ".75", "0.75", 3ull << 30 },
		{ "+2", "2.0", 2ull << 32 },
		{ "0.0000000001", "", 0 }, /* 1e-10 * 2^32 = 0.43: rounds to 0 */
		{ "4294967295.5", "4294967295.5", (0xffffffffull << 32) | (1ull << 31) },
	};
	char buf[64];
	uint64_t v;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ck_assert_int_eq(adn_real_parse(cases[i].in, &v), 0);
		ck_assert_uint_eq(v, cases[i].v);
		if (!*cases[i].out)
			continue;
		adn_real_format(v, buf, sizeof(buf));
		ck_assert_str_eq(buf, cases[i].out);
	}
	ck_assert_int_eq(adn_real_parse("-1", &v), -EINVAL);
	ck_assert_int_eq(adn_real_parse("1.2.3", &v), -EINVAL);
	ck_assert_int_eq(adn_real_parse("", &v), -EINVAL);
	ck_assert_int_eq(adn_real_parse(".", &v), -EINVAL);
	ck_assert_int_eq(adn_real_parse("4294967296", &v), -ERANGE);
	ck_assert_int_eq(adn_real_parse("4294967295.9999999999", &v), -ERANGE);
}
END_TEST

START_TEST(test_real_format_round_trips)
{
	char buf[64];
	uint64_t v, back, x = 0x9e3779b97f4a7c15ull;

	for (int i = 0; i < 100000; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		v = i < 1000 ? (uint64_t)i : x;
		adn_real_format(v, buf, sizeof(buf));
		ck_assert_int_eq(adn_real_parse(buf, &back), 0);
		ck_assert_msg(back == v, "%llu -> %s -> %llu", (unsigned long long)v, buf,
			      (unsigned long long)back);
	}
}
END_TEST

START_TEST(test_time_values)
{
	char buf[64];
	uint64_t v;

	adn_time_format(0, buf, sizeof(buf));
	ck_assert_str_eq(buf, "2023-11-14T22:13:20.000000000Z");
	adn_time_format(86400ull * 1000000000ull + 999999999ull, buf, sizeof(buf));
	ck_assert_str_eq(buf, "2023-11-15T22:13:20.999999999Z");
	ck_assert_int_eq(adn_time_parse("2023-11-15T22:13:20.999999999Z", &v), 0);
	ck_assert_uint_eq(v, 86400ull * 1000000000ull + 999999999ull);
	ck_assert_int_eq(adn_time_parse("2023-11-15T00:13:20.5+02:00", &v), 0);
	ck_assert_uint_eq(v, 500000000ull);
	ck_assert_int_eq(adn_time_parse("2023-11-14T22:13:21.5+00:00", &v), 0);
	ck_assert_uint_eq(v, 1500000000ull);
	ck_assert_int_eq(adn_time_parse("2023-11-14T23:13:21+01:00", &v), 0);
	ck_assert_uint_eq(v, 1000000000ull);
	ck_assert_int_eq(adn_time_parse("42", &v), 0); /* raw monotonic ns */
	ck_assert_uint_eq(v, 42);
	ck_assert_int_eq(adn_time_parse("2023-11-14", &v), -EINVAL);
	ck_assert_int_eq(adn_time_parse("2023-13-14T00:00:00Z", &v), -EINVAL);
	ck_assert_int_eq(adn_time_parse("2000-01-01T00:00:00Z", &v), -ERANGE); /* before boot */
}
END_TEST

START_TEST(test_enum_short_names)
{
	char buf[64], names[256];
	int64_t v;

	ck_assert_int_eq(adn_enum_name_by_value(btf, (uint32_t)id_status, 7, buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "permission_denied");
	ck_assert_int_eq(adn_enum_name_by_value(btf, (uint32_t)id_kind, 1, buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "response");
	/* one enumerator: the prefix stops before its last word */
	ck_assert_int_eq(adn_enum_name_by_value(btf, (uint32_t)id_method, 1, buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "get");
	ck_assert_int_eq(adn_enum_name_by_value(btf, (uint32_t)id_status, 3, buf, sizeof(buf)), -ENOENT);
	ck_assert_int_eq(adn_enum_value_by_name(btf, (uint32_t)id_status, "ABORTED", &v), 0);
	ck_assert_int_eq(v, 10);
	ck_assert_int_eq(adn_enum_value_by_name(btf, (uint32_t)id_status, "adn_ok", &v), 0);
	ck_assert_int_eq(v, 0);
	ck_assert_int_eq(adn_enum_value_by_name(btf, (uint32_t)id_status, "nope", &v), -ENOENT);
	adn_enum_names(btf, (uint32_t)id_status, names, sizeof(names));
	ck_assert_str_eq(names, "ok, permission_denied, aborted");
}
END_TEST

/* ---- errors users see ------------------------------------------------- */

static const char *parse_error(const char *line)
{
	static struct adn_err err;
	struct adn_cols cols;
	uint8_t row[ALL_SIZE];

	all_cols(&cols);
	ck_assert_msg(parse_line(&cols, line, row, &err) < 0, "'%s' was accepted", line);
	return err.msg;
}

START_TEST(test_value_errors)
{
	ck_assert_str_eq(parse_error("a=256"), "column 'a' in table t.all: 256 is out of range (0..255)");
	ck_assert_str_eq(parse_error("b=-129"), "column 'b' in table t.all: -129 is out of range (-128..127)");
	ck_assert_str_eq(parse_error("e=-1"), "column 'e' in table t.all: -1 is out of range (0..4294967295)");
	ck_assert_str_eq(parse_error("g=18446744073709551616"),
			 "column 'g' in table t.all: 18446744073709551616 is out of range (0..18446744073709551615)");
	ck_assert_str_eq(parse_error("c=12x"), "column 'c' in table t.all: '12x' is not an integer");
	ck_assert_str_eq(parse_error("name=123456789"),
			 "column 'name' in table t.all: value is 9 bytes, max length is 8");
	ck_assert_str_eq(parse_error("st=fine"),
			 "column 'st' in table t.all: unknown value 'fine' (one of: ok, permission_denied, aborted)");
	ck_assert_str_eq(parse_error("kind=2x"),
			 "column 'kind' in table t.all: unknown value '2x' (one of: request, response)");
	ck_assert_str_eq(parse_error("r=-0.5"),
			 "column 'r' in table t.all: '-0.5' is not a REAL (a decimal in 0..4294967295.99)");
	ck_assert_ptr_nonnull(strstr(parse_error("t=yesterday"), "is not a TIMESTAMP"));
	ck_assert_str_eq(parse_error("nest=1"), "column 'nest' in table t.all: its type cannot be set from text");
	ck_assert_str_eq(parse_error("a=1 a=2"), "column 'a' given twice");
	ck_assert_str_eq(parse_error("name='abc"), "unterminated quoted value at ''abc'");
	ck_assert_str_eq(parse_error("name='a'b"), "expected a space after the quoted value at ''a'b'");
	ck_assert_str_eq(parse_error("a 1"), "expected column=value at 'a 1'");
	ck_assert_str_eq(parse_error("=1"), "expected column=value at '=1'");
}
END_TEST

START_TEST(test_row_errors)
{
	struct adn_row_type rt;
	struct adn_assigns as;
	struct adn_err err;
	char key[16], val[2];

	ck_assert_int_eq(adn_row_type_init(&rt, btf, "acl.ac_tab", (uint32_t)id_key,
					   (uint32_t)id_val, &err), 0);
	ck_assert_int_eq(adn_assigns_from_line(&as, "username=x perm=W", &err), 0);
	ck_assert_int_lt(adn_row_parse(&rt, &as, ADN_ROW_FULL, key, val, &err), 0);
	ck_assert_str_eq(err.msg, "unknown column 'perm' in table acl.ac_tab (columns: username, permission)");
	adn_assigns_free(&as);

	ck_assert_int_eq(adn_assigns_from_line(&as, "permission=W", &err), 0);
	ck_assert_int_lt(adn_row_parse(&rt, &as, ADN_ROW_FULL, key, val, &err), 0);
	ck_assert_str_eq(err.msg, "missing key column 'username' for table acl.ac_tab");
	adn_assigns_free(&as);

	ck_assert_int_eq(adn_assigns_from_line(&as, "username=x permission=W", &err), 0);
	ck_assert_int_lt(adn_row_parse(&rt, &as, ADN_ROW_KEY_ONLY, key, val, &err), 0);
	ck_assert_str_eq(err.msg, "column 'permission' is not a key column of table acl.ac_tab (key: username)");
	adn_assigns_free(&as);

	ck_assert_int_eq(adn_assigns_from_line(&as, "username=aaaaaaaaaaaaaaaaaaaaaa", &err), 0);
	ck_assert_int_lt(adn_row_parse(&rt, &as, ADN_ROW_FULL, key, val, &err), 0);
	ck_assert_str_eq(err.msg, "column 'username' in table acl.ac_tab: value is 22 bytes, max length is 16");
	adn_assigns_free(&as);
}
END_TEST

/* ---- assignments ------------------------------------------------------ */

START_TEST(test_assign_tokenizing)
{
	struct adn_assigns as;
	struct adn_err err;
	char *argv[] = { "name='a b'", "x=it's", "y=", "z='it''s'", "w=a=b" };

	ck_assert_int_eq(adn_assigns_from_line(&as, "a=1 b='x y' c='it''s' d='' e=", &err), 0);
	ck_assert_int_eq(as.n, 5);
	ck_assert_str_eq(as.a[1].col, "b");
	ck_assert_str_eq(as.a[1].value, "x y");
	ck_assert_str_eq(as.a[2].value, "it's");
	ck_assert_str_eq(as.a[3].value, "");
	ck_assert_str_eq(as.a[4].value, "");
	adn_assigns_free(&as);

	ck_assert_int_eq(adn_assigns_from_argv(&as, 5, argv, &err), 0);
	ck_assert_str_eq(as.a[0].value, "a b");
	ck_assert_str_eq(as.a[1].value, "it's"); /* unquoted: taken as is */
	ck_assert_str_eq(as.a[2].value, "");
	ck_assert_str_eq(as.a[3].value, "it's");
	ck_assert_str_eq(as.a[4].col, "w");
	ck_assert_str_eq(as.a[4].value, "a=b");
	adn_assigns_free(&as);

	char *bad[] = { "novalue" };
	ck_assert_int_lt(adn_assigns_from_argv(&as, 1, bad, &err), 0);
	ck_assert_str_eq(err.msg, "expected column=value, got 'novalue'");
}
END_TEST

START_TEST(test_sql_string_quoting)
{
	FILE *f = fmemopen(out_buf, sizeof(out_buf), "w");

	adn_sql_string(f, "plain", 5);
	fputc('|', f);
	adn_sql_string(f, "a b", 3);
	fputc('|', f);
	adn_sql_string(f, "it's", 4);
	fputc('|', f);
	adn_sql_string(f, "", 0);
	fputc('|', f);
	adn_sql_string(f, "k=v", 3);
	fclose(f);
	ck_assert_str_eq(out_buf, "plain|'a b'|'it''s'|''|'k=v'");
}
END_TEST

/* ---- .adn.meta -------------------------------------------------------- */

static const char META[] = "version=0\nchain=kv\nservice=kv\nport=7070\nlayout=0x1234abcd\n"
			   "element=logging\nelement=acl\nelement=fault\n"
			   "row=acl.ac_tab username=alice permission=W\n"
			   "row=acl.ac_tab username='o''b' permission=R\n"
			   "param=fault.probability=0.05\nlog=logging.log\nfuture_key=1\n";

START_TEST(test_meta_parse)
{
	struct adn_meta m;
	struct adn_err err;

	ck_assert_int_eq(adn_meta_parse(&m, META, sizeof(META), &err), 0);
	ck_assert_str_eq(m.chain, "kv");
	ck_assert_str_eq(m.service, "kv");
	ck_assert(m.has_port);
	ck_assert_uint_eq(m.port, 7070);
	ck_assert_uint_eq(m.layout, 0x1234abcd);
	ck_assert_int_eq(m.elements.n, 3);
	ck_assert_str_eq(m.elements.v[2], "fault");
	ck_assert_int_eq(m.rows.n, 2);
	ck_assert_str_eq(m.rows.v[1], "acl.ac_tab username='o''b' permission=R");
	ck_assert_int_eq(m.params.n, 1);
	ck_assert_str_eq(m.params.v[0], "fault.probability=0.05");
	ck_assert_int_eq(m.logs.n, 1);
	adn_meta_free(&m);
}
END_TEST

/* default= lines: into a table's value columns, text and bytes */
START_TEST(test_meta_defaults)
{
	static const char text[] = "version=0\nchain=kv\n"
				   "default=acl.ac_tab level 7\n"
				   "default=acl.ac_tab nm 'a b'\n"
				   "default=acl.ac_tab neg -3\n"
				   "default=acl.ac_tab on true\n"
				   "default=acl.ac_tab ratio 1.5\n"
				   "default=other.t x 1\n";
	struct adn_meta m;
	struct adn_err err;
	struct adn_snap_table *t = calloc(1, sizeof(*t));
	static const struct { const char *name; enum adn_col_kind kind; uint32_t off, size; } cols[] = {
		{ "permission", ADN_COL_STRING, 0, 2 }, { "level", ADN_COL_INT, 4, 4 },
		{ "nm", ADN_COL_STRING, 8, 4 },         { "neg", ADN_COL_INT, 12, 2 },
		{ "on", ADN_COL_INT, 14, 1 },           { "ratio", ADN_COL_REAL, 16, 8 },
	};

	ck_assert_int_eq(adn_meta_parse(&m, text, sizeof(text), &err), 0);
	ck_assert_int_eq(m.defaults.n, 6);
	ck_assert_str_eq(m.defaults.v[1], "acl.ac_tab nm 'a b'");
	snprintf(t->name, sizeof(t->name), "acl.ac_tab");
	t->nval = 6;
	for (int i = 0; i < 6; i++) {
		snprintf(t->val[i].name, sizeof(t->val[i].name), "%s", cols[i].name);
		t->val[i].kind = cols[i].kind;
		t->val[i].offset = cols[i].off;
		t->val[i].size = cols[i].size;
	}
	ck_assert_int_eq(adn_snap_table_apply_defaults(t, &m, &err), 0);
	ck_assert_ptr_null(adn_snap_col_default(t, &t->val[0]));
	const char *d = adn_snap_col_default(t, &t->val[1]);
	uint32_t u32;
	memcpy(&u32, d + strlen(d) + 1, 4);
	ck_assert_str_eq(d, "7");
	ck_assert_uint_eq(u32, 7);
	d = adn_snap_col_default(t, &t->val[2]);
	ck_assert_str_eq(d, "a b");
	ck_assert_mem_eq(d + 4, "a b\0", 4);
	d = adn_snap_col_default(t, &t->val[3]);
	int16_t i16;
	memcpy(&i16, d + strlen(d) + 1, 2);
	ck_assert_int_eq(i16, -3);
	d = adn_snap_col_default(t, &t->val[4]);
	ck_assert_uint_eq((uint8_t)d[strlen(d) + 1], 1);
	d = adn_snap_col_default(t, &t->val[5]);
	uint64_t r;
	memcpy(&r, d + strlen(d) + 1, 8);
	ck_assert_uint_eq(r, 3ull << 31);
	adn_meta_free(&m);

	/* a default that does not fit, a column the table lacks */
	static const char big[] = "version=0\nchain=kv\ndefault=acl.ac_tab permission abc\n";
	static const char none[] = "version=0\nchain=kv\ndefault=acl.ac_tab nope 1\n";
	memset(t->defs, 0, sizeof(t->defs));
	t->defs_used = 0;
	ck_assert_int_eq(adn_meta_parse(&m, big, sizeof(big), &err), 0);
	ck_assert_int_lt(adn_snap_table_apply_defaults(t, &m, &err), 0);
	ck_assert_str_eq(err.msg, ".adn.meta: table acl.ac_tab: default 'abc' does not fit column "
				  "'permission' ()");
	adn_meta_free(&m);
	ck_assert_int_eq(adn_meta_parse(&m, none, sizeof(none), &err), 0);
	ck_assert_int_lt(adn_snap_table_apply_defaults(t, &m, &err), 0);
	ck_assert_str_eq(err.msg, ".adn.meta: default for table acl.ac_tab: no value column 'nope'");
	adn_meta_free(&m);
	free(t);
}
END_TEST

START_TEST(test_meta_errors)
{
	struct adn_meta m;
	struct adn_err err;
	const char v1[] = "version=1\nchain=kv\n", nochain[] = "version=0\n",
		   badport[] = "version=0\nchain=kv\nport=70000\n", noeq[] = "version=0\nchain\n";

	ck_assert_int_lt(adn_meta_parse(&m, v1, sizeof(v1), &err), 0);
	ck_assert_str_eq(err.msg, ".adn.meta: version 1 is not supported (this loader reads version 0)");
	ck_assert_int_lt(adn_meta_parse(&m, nochain, sizeof(nochain), &err), 0);
	ck_assert_str_eq(err.msg, ".adn.meta: no chain= line");
	ck_assert_int_lt(adn_meta_parse(&m, badport, sizeof(badport), &err), 0);
	ck_assert_str_eq(err.msg, ".adn.meta line 3: bad port '70000'");
	ck_assert_int_lt(adn_meta_parse(&m, noeq, sizeof(noeq), &err), 0);
	ck_assert_str_eq(err.msg, ".adn.meta line 2: expected key=value, got 'chain'");
}
END_TEST

START_TEST(test_meta_read_elf)
{
	const char *root = getenv("ADN_ROOT");
	char path[4096];
	struct adn_meta m;
	struct adn_err err;

	ck_assert_int_lt(adn_meta_read_elf(&m, "/nonexistent.o", &err), 0);
	ck_assert_str_eq(err.msg, "/nonexistent.o: No such file or directory");
	ck_assert_int_lt(adn_meta_read_elf(&m, "/proc/self/status", &err), 0);
	ck_assert_str_eq(err.msg, "/proc/self/status: not an ELF object");
	/* an ELF without the section: this test binary */
	ck_assert_int_lt(adn_meta_read_elf(&m, "/proc/self/exe", &err), 0);
	ck_assert_ptr_nonnull(strstr(err.msg, "no .adn.meta section"));
	snprintf(path, sizeof(path), "%s/build/reference/kv_chain.bpf.o", root ? root : ".");
	if (access(path, R_OK))
		return; /* the reference object is built by `make all` */
	ck_assert_msg(adn_meta_read_elf(&m, path, &err) == 0, "%s", err.msg);
	ck_assert_str_eq(m.chain, "kv");
	adn_meta_free(&m);
}
END_TEST

static Suite *maps_suite(void)
{
	Suite *s = suite_create("maps");
	TCase *tc = tcase_create("rows");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_text_round_trip_every_kind);
	tcase_add_test(tc, test_json_every_kind);
	tcase_add_test(tc, test_full_width_string_and_unknown_enum_value);
	tcase_add_test(tc, test_row_parse_and_print);
	tcase_add_test(tc, test_array_table_key_names);
	tcase_add_test(tc, test_params_dotted);
	tcase_add_test(tc, test_percpu_sum);
	tcase_add_test(tc, test_real_values);
	tcase_add_test(tc, test_real_format_round_trips);
	tcase_add_test(tc, test_time_values);
	tcase_add_test(tc, test_enum_short_names);
	tcase_add_test(tc, test_value_errors);
	tcase_add_test(tc, test_row_errors);
	tcase_add_test(tc, test_assign_tokenizing);
	tcase_add_test(tc, test_sql_string_quoting);
	tcase_add_test(tc, test_meta_parse);
	tcase_add_test(tc, test_meta_errors);
	tcase_add_test(tc, test_meta_defaults);
	tcase_add_test(tc, test_meta_read_elf);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(maps_suite());

	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
