/* SPDX-License-Identifier: MIT */
/* Table rows: key columns + value columns, parsed from and printed as text. */
#include <errno.h>
#include <string.h>

#include <bpf/btf.h>

#include "adn_err.h"
#include "adn_row.h"

int adn_cols_parse(const struct adn_cols *cols, const struct adn_assigns *as, void *base,
		   const char *where, struct adn_err *err)
{
	uint64_t seen = 0;
	char names[512];

	for (int i = 0; i < as->n; i++) {
		int c = adn_cols_find(cols, as->a[i].col);
		if (c < 0) {
			adn_cols_names(cols, names, sizeof(names));
			if (!where)
				return adn_err_set(err, ENOENT, "unknown parameter '%s' (parameters: %s)",
						   as->a[i].col, *names ? names : "none");
			return adn_err_set(err, ENOENT, "unknown column '%s' in table %s (columns: %s)",
					   as->a[i].col, where, names);
		}
		if (seen & (1ULL << c))
			return adn_err_set(err, EINVAL, "column '%s' given twice", as->a[i].col);
		seen |= 1ULL << c;
		int rc = adn_col_parse(cols, &cols->col[c], as->a[i].value, base, where, err);
		if (rc)
			return rc;
	}
	return 0;
}

/* The struct <element>__<table><suffix> of the given size, or 0. */
static uint32_t named_struct(const struct btf *btf, const char *table, const char *suffix,
			     uint32_t size)
{
	char name[192];
	const char *dot = strchr(table, '.');

	if (!dot)
		snprintf(name, sizeof(name), "%s%s", table, suffix);
	else
		snprintf(name, sizeof(name), "%.*s__%s%s", (int)(dot - table), table, dot + 1,
			 suffix);
	int id = btf__find_by_name_kind(btf, name, BTF_KIND_STRUCT);
	if (id <= 0)
		return 0;
	if (size && (uint32_t)btf__resolve_size(btf, (uint32_t)id) != size)
		return 0;
	return (uint32_t)id;
}

static int side_init(struct adn_cols *cols, const struct btf *btf, const char *table,
		     uint32_t type_id, const char *suffix, const char *scalar_name,
		     struct adn_err *err)
{
	const struct btf_type *t = type_id ? btf__type_by_id(btf, btf__resolve_type(btf, type_id))
					   : NULL;
	uint32_t named;

	if (t && btf_is_struct(t))
		return adn_cols_from_type(cols, btf, type_id, scalar_name, err);
	/* ARRAY maps need an int key in BTF; the compiler's key struct, if it
	 * emitted one, still names the column. */
	named = named_struct(btf, table, suffix,
			     type_id ? (uint32_t)btf__resolve_size(btf, type_id) : 0);
	if (named)
		return adn_cols_from_type(cols, btf, named, scalar_name, err);
	if (type_id)
		return adn_cols_from_type(cols, btf, type_id, scalar_name, err);
	return adn_err_set(err, ENOENT, "table %s has no BTF type for its %s", table,
			   scalar_name);
}

int adn_row_type_init(struct adn_row_type *rt, const struct btf *btf, const char *table,
		      uint32_t key_id, uint32_t val_id, struct adn_err *err)
{
	int rc;

	memset(rt, 0, sizeof(*rt));
	snprintf(rt->table, sizeof(rt->table), "%s", table);
	rc = side_init(&rt->key, btf, table, key_id, "_key", "key", err);
	if (rc)
		return rc;
	return side_init(&rt->val, btf, table, val_id, "_val", "value", err);
}

static void all_names(const struct adn_row_type *rt, char *buf, size_t len)
{
	size_t used;

	adn_cols_names(&rt->key, buf, len);
	used = strlen(buf);
	if (rt->val.n && used + 2 < len) {
		snprintf(buf + used, len - used, ", ");
		adn_cols_names(&rt->val, buf + used + 2, len - used - 2);
	}
}

int adn_row_parse(const struct adn_row_type *rt, const struct adn_assigns *as,
		  enum adn_row_mode mode, void *key, void *val, struct adn_err *err)
{
	uint64_t key_seen = 0, val_seen = 0;
	char names[512];
	int rc;

	memset(key, 0, rt->key.size);
	if (val)
		memset(val, 0, rt->val.size);
	for (int i = 0; i < as->n; i++) {
		const char *name = as->a[i].col;
		int k = adn_cols_find(&rt->key, name);
		int v = k < 0 ? adn_cols_find(&rt->val, name) : -1;
		if (k < 0 && v < 0) {
			all_names(rt, names, sizeof(names));
			return adn_err_set(err, ENOENT, "unknown column '%s' in table %s (columns: %s)",
					   name, rt->table, names);
		}
		if (v >= 0 && mode == ADN_ROW_KEY_ONLY) {
			adn_cols_names(&rt->key, names, sizeof(names));
			return adn_err_set(err, EINVAL, "column '%s' is not a key column of table %s (key: %s)",
					   name, rt->table, names);
		}
		uint64_t *seen = k >= 0 ? &key_seen : &val_seen;
		uint64_t bit = 1ULL << (k >= 0 ? k : v);
		if (*seen & bit)
			return adn_err_set(err, EINVAL, "column '%s' given twice", name);
		*seen |= bit;
		if (k >= 0)
			rc = adn_col_parse(&rt->key, &rt->key.col[k], as->a[i].value, key, rt->table, err);
		else
			rc = adn_col_parse(&rt->val, &rt->val.col[v], as->a[i].value, val, rt->table, err);
		if (rc)
			return rc;
	}
	for (int k = 0; k < rt->key.n; k++)
		if (!(key_seen & (1ULL << k)))
			return adn_err_set(err, EINVAL, "missing key column '%s' for table %s",
					   rt->key.col[k].name, rt->table);
	return 0;
}

void adn_row_print(FILE *out, const struct adn_row_type *rt, const void *key,
		   const void *val, enum adn_style style)
{
	bool first = true;

	if (style == ADN_STYLE_JSON)
		fputc('{', out);
	adn_cols_print(out, &rt->key, key, style, &first);
	if (val)
		adn_cols_print(out, &rt->val, val, style, &first);
	if (style == ADN_STYLE_JSON)
		fputc('}', out);
}
