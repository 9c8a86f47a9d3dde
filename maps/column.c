/* SPDX-License-Identifier: MIT */
/* One column: what its BTF type means, and its value as text. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <bpf/btf.h>

#include "adn_err.h"
#include "adn_row.h"
#include "adn_scalar.h"

/* Classify type_id, looking through typedef/const/volatile but stopping at
 * the typedefs whose *name* carries meaning. */
static void classify(const struct btf *btf, uint32_t type_id, struct adn_col *col)
{
	const struct btf_type *t = btf__type_by_id(btf, type_id);
	uint32_t id = type_id;

	col->kind = ADN_COL_OPAQUE;
	while (t && (btf_is_typedef(t) || btf_is_mod(t))) {
		if (btf_is_typedef(t)) {
			const char *name = btf__name_by_offset(btf, t->name_off);
			if (name && !strcmp(name, "adn_real_t"))
				col->kind = ADN_COL_REAL;
			else if (name && !strcmp(name, "adn_time_t"))
				col->kind = ADN_COL_TIME;
		}
		id = t->type;
		t = btf__type_by_id(btf, id);
	}
	col->base_id = id;
	if (!t)
		return;
	if ((col->kind == ADN_COL_REAL || col->kind == ADN_COL_TIME) &&
	    !(btf_is_int(t) && t->size == 8))
		col->kind = ADN_COL_OPAQUE; /* a typedef name reused for something else */
	if (col->kind != ADN_COL_OPAQUE) {
		col->size = 8;
		return;
	}
	if (btf_is_int(t) && (t->size == 1 || t->size == 2 || t->size == 4 || t->size == 8)) {
		col->kind = ADN_COL_INT;
		col->size = t->size;
		col->is_signed = btf_int_encoding(t) & BTF_INT_SIGNED;
		col->is_bool = btf_int_encoding(t) & BTF_INT_BOOL;
	} else if (btf_is_any_enum(t) &&
		   (t->size == 1 || t->size == 2 || t->size == 4 || t->size == 8)) {
		col->kind = ADN_COL_ENUM;
		col->size = t->size;
		col->is_signed = btf_kflag(t);
	} else if (btf_is_array(t)) {
		const struct btf_array *arr = btf_array(t);
		const struct btf_type *elem = btf__type_by_id(btf, btf__resolve_type(btf, arr->type));
		if (elem && btf_is_int(elem) && elem->size == 1)
			col->kind = ADN_COL_STRING;
		col->size = (uint32_t)btf__resolve_size(btf, id);
	} else {
		long sz = btf__resolve_size(btf, id);
		col->size = sz > 0 ? (uint32_t)sz : 0;
	}
}

int adn_cols_from_type(struct adn_cols *cols, const struct btf *btf, uint32_t type_id,
		       const char *scalar_name, struct adn_err *err)
{
	const struct btf_type *t;
	long size;
	uint32_t id = (uint32_t)btf__resolve_type(btf, type_id);

	memset(cols, 0, sizeof(*cols));
	cols->btf = btf;
	t = btf__type_by_id(btf, id);
	size = btf__resolve_size(btf, type_id);
	if (!t || size < 0)
		return adn_err_set(err, EINVAL, "BTF type %u cannot be resolved", type_id);
	cols->size = (uint32_t)size;
	if (!btf_is_struct(t)) {
		snprintf(cols->col[0].name, sizeof(cols->col[0].name), "%s", scalar_name);
		classify(btf, type_id, &cols->col[0]);
		cols->n = 1;
		return 0;
	}
	if (btf_vlen(t) > ADN_MAX_COLS)
		return adn_err_set(err, E2BIG, "struct %s has %u members, more than %d",
				   btf__name_by_offset(btf, t->name_off), btf_vlen(t),
				   ADN_MAX_COLS);
	const struct btf_member *m = btf_members(t);
	for (int i = 0; i < btf_vlen(t); i++, m++) {
		struct adn_col *col = &cols->col[cols->n++];
		snprintf(col->name, sizeof(col->name), "%s", btf__name_by_offset(btf, m->name_off));
		col->offset = btf_member_bit_offset(t, (uint32_t)i) / 8;
		classify(btf, m->type, col);
		if (btf_member_bitfield_size(t, (uint32_t)i))
			col->kind = ADN_COL_OPAQUE; /* adnc never emits bitfields */
		if (col->offset + col->size > cols->size)
			col->size = cols->size > col->offset ? cols->size - col->offset : 0;
	}
	return 0;
}

void adn_cols_dot_names(struct adn_cols *cols)
{
	for (int i = 0; i < cols->n; i++) {
		char *sep = strstr(cols->col[i].name, "__");
		if (sep) {
			*sep = '.';
			memmove(sep + 1, sep + 2, strlen(sep + 2) + 1);
		}
	}
}

int adn_cols_find(const struct adn_cols *cols, const char *name)
{
	for (int i = 0; i < cols->n; i++)
		if (!strcmp(cols->col[i].name, name))
			return i;
	return -1;
}

void adn_cols_names(const struct adn_cols *cols, char *buf, size_t len)
{
	size_t used = 0;

	if (len)
		buf[0] = '\0';
	for (int i = 0; i < cols->n && used < len; i++)
		used += (size_t)snprintf(buf + used, len - used, "%s%s", i ? ", " : "",
					 cols->col[i].name);
}

static void store_uint(void *dst, uint32_t size, uint64_t v)
{
	uint8_t u8 = (uint8_t)v;
	uint16_t u16 = (uint16_t)v;
	uint32_t u32 = (uint32_t)v;

	switch (size) {
	case 1: memcpy(dst, &u8, 1); break;
	case 2: memcpy(dst, &u16, 2); break;
	case 4: memcpy(dst, &u32, 4); break;
	default: memcpy(dst, &v, 8); break;
	}
}

static uint64_t load_uint(const void *src, uint32_t size)
{
	uint8_t u8;
	uint16_t u16;
	uint32_t u32;
	uint64_t u64;

	switch (size) {
	case 1: memcpy(&u8, src, 1); return u8;
	case 2: memcpy(&u16, src, 2); return u16;
	case 4: memcpy(&u32, src, 4); return u32;
	default: memcpy(&u64, src, 8); return u64;
	}
}

static int64_t load_int(const void *src, uint32_t size, bool is_signed)
{
	uint64_t v = load_uint(src, size);

	if (is_signed && size < 8 && (v >> (size * 8 - 1)) & 1)
		v |= ~0ULL << (size * 8); /* sign-extend */
	return (int64_t)v;
}

/* text -> integer in range for size/signedness; 0 or -ERANGE/-EINVAL */
static int parse_integer(const char *text, uint32_t size, bool is_signed, uint64_t *out,
			 char *range, size_t range_len)
{
	char *end;
	unsigned bits = size * 8;

	if (is_signed) {
		int64_t lo = bits == 64 ? INT64_MIN : -(INT64_C(1) << (bits - 1));
		int64_t hi = bits == 64 ? INT64_MAX : (INT64_C(1) << (bits - 1)) - 1;
		snprintf(range, range_len, "%" PRId64 "..%" PRId64, lo, hi);
		errno = 0;
		long long v = strtoll(text, &end, 0);
		if (end == text || *end)
			return -EINVAL;
		if (errno || v < lo || v > hi)
			return -ERANGE;
		*out = (uint64_t)v;
	} else {
		uint64_t hi = bits == 64 ? UINT64_MAX : (UINT64_C(1) << bits) - 1;
		snprintf(range, range_len, "0..%" PRIu64, hi);
		const char *p = text;
		while (*p == ' ')
			p++;
		if (*p == '-') { /* strtoull would wrap a negative number around */
			(void)strtoull(p + 1, &end, 0);
			return end != p + 1 && !*end ? -ERANGE : -EINVAL;
		}
		errno = 0;
		unsigned long long v = strtoull(text, &end, 0);
		if (end == text || *end)
			return -EINVAL;
		if (errno || v > hi)
			return -ERANGE;
		*out = v;
	}
	return 0;
}

int adn_col_parse(const struct adn_cols *cols, const struct adn_col *col, const char *text,
		  void *base, const char *where, struct adn_err *err)
{
	uint8_t *dst = (uint8_t *)base + col->offset;
	char range[64], names[512], subject[256];
	uint64_t v;
	int64_t ev;
	int rc;

	/* "column 'x' in table acl.ac_tab", or "parameter 'fault.probability'" */
	if (where)
		snprintf(subject, sizeof(subject), "column '%s' in table %.128s", col->name, where);
	else
		snprintf(subject, sizeof(subject), "parameter '%s'", col->name);
	switch (col->kind) {
	case ADN_COL_STRING: {
		size_t len = strlen(text);
		if (len > col->size)
			return adn_err_set(err, ERANGE,
					   "%s: value is %zu bytes, max length is %u",
					   subject, len, col->size);
		memset(dst, 0, col->size);
		memcpy(dst, text, len);
		return 0;
	}
	case ADN_COL_INT:
		if (!strcasecmp(text, "true") || !strcasecmp(text, "false")) {
			store_uint(dst, col->size, !strcasecmp(text, "true"));
			return 0;
		}
		rc = parse_integer(text, col->size, col->is_signed, &v, range, sizeof(range));
		if (rc == -ERANGE)
			return adn_err_set(err, ERANGE,
					   "%s: %s is out of range (%s)",
					   subject, text, range);
		if (rc)
			return adn_err_set(err, EINVAL,
					   "%s: '%s' is not an integer",
					   subject, text);
		store_uint(dst, col->size, v);
		return 0;
	case ADN_COL_ENUM:
		if (adn_enum_value_by_name(cols->btf, col->base_id, text, &ev) == 0) {
			store_uint(dst, col->size, (uint64_t)ev);
			return 0;
		}
		if (parse_integer(text, col->size, col->is_signed, &v, range, sizeof(range)) == 0) {
			store_uint(dst, col->size, v);
			return 0;
		}
		adn_enum_names(cols->btf, col->base_id, names, sizeof(names));
		return adn_err_set(err, EINVAL,
				   "%s: unknown value '%s' (one of: %s)",
				   subject, text, names);
	case ADN_COL_REAL:
		rc = adn_real_parse(text, &v);
		if (rc)
			return adn_err_set(err, -rc,
					   "%s: '%s' is not a REAL "
					   "(a decimal in 0..4294967295.99)",
					   subject, text);
		memcpy(dst, &v, 8);
		return 0;
	case ADN_COL_TIME:
		rc = adn_time_parse(text, &v);
		if (rc)
			return adn_err_set(err, -rc,
					   "%s: '%s' is not a TIMESTAMP "
					   "(RFC 3339 like 2024-05-01T12:00:00Z, after boot)",
					   subject, text);
		memcpy(dst, &v, 8);
		return 0;
	case ADN_COL_OPAQUE:
		break;
	}
	return adn_err_set(err, ENOTSUP, "%s: its type cannot be set from text",
			   subject);
}

static void print_hex(FILE *out, const uint8_t *p, uint32_t size, enum adn_style style)
{
	if (style == ADN_STYLE_JSON)
		fputc('"', out);
	fputs("0x", out);
	for (uint32_t i = 0; i < size; i++)
		fprintf(out, "%02x", p[i]);
	if (style == ADN_STYLE_JSON)
		fputc('"', out);
}

void adn_col_print(FILE *out, const struct adn_cols *cols, const struct adn_col *col,
		   const void *base, enum adn_style style)
{
	const uint8_t *src = (const uint8_t *)base + col->offset;
	char buf[128];
	uint64_t v;

	switch (col->kind) {
	case ADN_COL_STRING: {
		const char *s = (const char *)src;
		size_t len = strnlen(s, col->size);
		if (style == ADN_STYLE_JSON)
			adn_json_string(out, s, len);
		else
			adn_sql_string(out, s, len);
		return;
	}
	case ADN_COL_INT:
		if (col->is_bool) {
			fputs(load_uint(src, col->size) ? "true" : "false", out);
		} else if (col->is_signed) {
			fprintf(out, "%" PRId64, load_int(src, col->size, true));
		} else {
			fprintf(out, "%" PRIu64, load_uint(src, col->size));
		}
		return;
	case ADN_COL_ENUM: {
		int64_t ev = load_int(src, col->size, col->is_signed);
		if (adn_enum_name_by_value(cols->btf, col->base_id, ev, buf, sizeof(buf)) == 0) {
			if (style == ADN_STYLE_JSON)
				adn_json_string(out, buf, strlen(buf));
			else
				fputs(buf, out);
		} else {
			fprintf(out, "%" PRId64, ev); /* a value the enum does not name */
		}
		return;
	}
	case ADN_COL_REAL:
		memcpy(&v, src, 8);
		adn_real_format(v, buf, sizeof(buf));
		fputs(buf, out);
		return;
	case ADN_COL_TIME:
		memcpy(&v, src, 8);
		adn_time_format(v, buf, sizeof(buf));
		if (style == ADN_STYLE_JSON)
			adn_json_string(out, buf, strlen(buf));
		else
			fputs(buf, out);
		return;
	case ADN_COL_OPAQUE:
		print_hex(out, src, col->size, style);
		return;
	}
}

void adn_cols_print(FILE *out, const struct adn_cols *cols, const void *base,
		    enum adn_style style, bool *first)
{
	for (int i = 0; i < cols->n; i++) {
		const struct adn_col *col = &cols->col[i];
		if (!*first)
			fputc(style == ADN_STYLE_JSON ? ',' : ' ', out);
		*first = false;
		if (style == ADN_STYLE_JSON) {
			adn_json_string(out, col->name, strlen(col->name));
			fputc(':', out);
		} else {
			fprintf(out, "%s=", col->name);
		}
		adn_col_print(out, cols, col, base, style);
	}
}

void adn_cols_sum_percpu(const struct adn_cols *cols, const void *percpu, int ncpus,
			 size_t stride, void *out)
{
	const uint8_t *p = percpu;

	memcpy(out, p, cols->size);
	for (int i = 0; i < cols->n; i++) {
		const struct adn_col *col = &cols->col[i];
		if (!(col->kind == ADN_COL_INT && !col->is_bool) && col->kind != ADN_COL_REAL)
			continue;
		uint64_t sum = 0;
		for (int cpu = 0; cpu < ncpus; cpu++)
			sum += load_uint(p + (size_t)cpu * stride + col->offset, col->size);
		store_uint((uint8_t *)out + col->offset, col->size, sum);
	}
}
