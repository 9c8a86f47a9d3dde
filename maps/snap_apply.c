/* SPDX-License-Identifier: MIT */
/* Snapshots into live chains: restore (with schema evolution), merge by
 * policy, and deltas added in the kernel (migrate, hot update). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>

#include "adn_chaindir.h"
#include "adn_err.h"
#include "adn_pinned.h"
#include "adn_snapshot.h"

/* ---- a key index: key bytes -> row --------------------------------------- */

struct kidx {
	const uint8_t *keys;
	uint32_t ksize;
	uint64_t mask;
	int64_t *slot; /* row, or -1 */
};

static uint64_t khash(const uint8_t *k, uint32_t n)
{
	uint64_t h = 1469598103934665603ull;
	for (uint32_t i = 0; i < n; i++)
		h = (h ^ k[i]) * 1099511628211ull;
	return h ^ (h >> 29);
}

static int kidx_init(struct kidx *x, const uint8_t *keys, uint32_t ksize, uint64_t nrows)
{
	uint64_t cap = 16;
	while (cap < nrows * 2)
		cap *= 2;
	x->keys = keys;
	x->ksize = ksize;
	x->mask = cap - 1;
	x->slot = malloc(cap * sizeof(int64_t));
	if (!x->slot)
		return -ENOMEM;
	memset(x->slot, 0xff, cap * sizeof(int64_t));
	return 0;
}

/* row of key k, or -1; with insert_row >= 0, adds it when absent */
static int64_t kidx_find(struct kidx *x, const uint8_t *k, int64_t insert_row)
{
	for (uint64_t i = khash(k, x->ksize) & x->mask;; i = (i + 1) & x->mask) {
		int64_t r = x->slot[i];
		if (r < 0) {
			if (insert_row >= 0)
				x->slot[i] = insert_row;
			return -1;
		}
		if (!memcmp(x->keys + (uint64_t)r * x->ksize, k, x->ksize))
			return r;
	}
}

static int kidx_build(struct kidx *x, const struct adn_snap_table *t)
{
	if (kidx_init(x, t->keys, t->key_size, t->nrows))
		return -ENOMEM;
	for (uint64_t r = 0; r < t->nrows; r++)
		kidx_find(x, t->keys + r * t->key_size, (int64_t)r);
	return 0;
}

static void kidx_free(struct kidx *x)
{
	free(x->slot);
	x->slot = NULL;
}

/* ---- column arithmetic --------------------------------------------------- */

static uint64_t ld(const uint8_t *p, uint32_t size)
{
	uint64_t v = 0;
	memcpy(&v, p, size > 8 ? 8 : size); /* little-endian */
	return v;
}

static void st(uint8_t *p, uint32_t size, uint64_t v)
{
	memcpy(p, &v, size > 8 ? 8 : size);
}

static int64_t sext(uint64_t v, uint32_t size)
{
	if (size < 8 && (v >> (size * 8 - 1)) & 1)
		v |= ~0ull << (size * 8);
	return (int64_t)v;
}

static bool numeric(const struct adn_snap_col *c)
{
	return (c->kind == ADN_COL_INT && !c->is_bool) || c->kind == ADN_COL_REAL;
}

static bool ordered(const struct adn_snap_col *c)
{
	return numeric(c) || c->kind == ADN_COL_TIME;
}

/* a < b for the column's type */
static bool col_less(const struct adn_snap_col *c, uint64_t a, uint64_t b)
{
	if (c->kind == ADN_COL_INT && c->is_signed)
		return sext(a, c->size) < sext(b, c->size);
	return a < b;
}

/* dst := merge(dst, src) for one value copy, by policy. */
static void combine_copy(const struct adn_snap_table *t, enum adn_merge m, uint8_t *dst,
			 const uint8_t *src)
{
	switch (m) {
	case ADN_MERGE_UNION:
		memcpy(dst, src, t->value_size);
		return;
	case ADN_MERGE_FIRST:
		return;
	case ADN_MERGE_LAST:
		return; /* decided per row by the caller */
	default:
		break;
	}
	for (int i = 0; i < t->nval; i++) {
		const struct adn_snap_col *c = &t->val[i];
		uint8_t *d = dst + c->offset;
		const uint8_t *s = src + c->offset;
		if (!ordered(c) || c->size > 8)
			continue;
		uint64_t a = ld(d, c->size), b = ld(s, c->size);
		if (m == ADN_MERGE_SUM && numeric(c))
			st(d, c->size, a + b);
		else if ((m == ADN_MERGE_SUM || m == ADN_MERGE_MAX) && col_less(c, a, b))
			st(d, c->size, b);
		else if (m == ADN_MERGE_MIN && col_less(c, b, a))
			st(d, c->size, b);
	}
}

static int col_index(const struct adn_snap_col *cols, int n, const char *name)
{
	for (int i = 0; i < n; i++)
		if (!strcmp(cols[i].name, name))
			return i;
	return -1;
}

/* the LAST policy's timestamp, from copy 0 */
static uint64_t row_time(const struct adn_snap_table *t, const uint8_t *vals)
{
	int c = col_index(t->val, t->nval, t->merge_col);
	return c < 0 ? 0 : ld(vals + t->val[c].offset, 8);
}

/* dst row (ncpus copies) := merge(dst, src) */
static void combine_row(const struct adn_snap_table *t, uint8_t *dst, const uint8_t *src)
{
	if (t->merge == ADN_MERGE_LAST) {
		if (row_time(t, src) >= row_time(t, dst))
			memcpy(dst, src, adn_snap_row_vsize(t));
		return;
	}
	for (uint32_t c = 0; c < t->ncpus; c++)
		combine_copy(t, t->merge, dst + (size_t)c * t->value_size,
			     src + (size_t)c * t->value_size);
}

/* ---- conversion between two layouts of one table -------------------------- */

struct conv {
	const struct adn_snap_table *f; /* from (file) */
	const struct adn_snap_table *l; /* to (live) */
	bool identical;
	bool defaults; /* a value column f lacks gets its DEFAULT (else zero) */
	int kmap[ADN_MAX_COLS], vmap[ADN_MAX_COLS];
};

typedef void (*note_fn)(void *ctx, const char *line);

static bool is_params(const struct adn_snap_table *t)
{
	return !strcmp(t->name, "adn_params");
}

/* "rate__burst" -> "rate.burst", as adnctl param names it */
static void param_name(char *out, size_t len, const char *col)
{
	const char *sep = strstr(col, "__");

	if (sep)
		snprintf(out, len, "%.*s.%s", (int)(sep - col), col, sep + 2);
	else
		snprintf(out, len, "%s", col);
}

/* A column of the chain that the snapshot lacks. Restored parameters start
 * from the live row (adn_snap_restore), so a parameter keeps its value. */
static void note_new_col(const struct adn_snap_table *l, const struct adn_snap_col *c,
			 note_fn note, void *ctx)
{
	char line[512], p[80];

	if (is_params(l)) {
		param_name(p, sizeof(p), c->name);
		snprintf(line, sizeof(line), "parameter %s is not in the snapshot: keeps its "
			 "current value", p);
	} else if (adn_snap_col_default(l, c)) {
		snprintf(line, sizeof(line), "table %.128s: column '%.64s' is new: set to its "
			 "default %.200s in every restored row", l->name, c->name,
			 adn_snap_col_default(l, c));
	} else {
		snprintf(line, sizeof(line), "table %.128s: column '%.64s' is new: set to zero in "
			 "every restored row", l->name, c->name);
	}
	note(ctx, line);
}

static void note_dropped_col(const struct adn_snap_table *l, const struct adn_snap_col *c,
			     note_fn note, void *ctx)
{
	char line[512], p[80];

	if (is_params(l)) {
		param_name(p, sizeof(p), c->name);
		snprintf(line, sizeof(line), "parameter %s is not in the chain any more: dropped", p);
	} else {
		snprintf(line, sizeof(line), "table %.128s: column '%.64s' is not in the chain any "
			 "more: dropped", l->name, c->name);
	}
	note(ctx, line);
}

static bool is_array(uint32_t t);

static int conv_init(struct conv *cv, const struct adn_snap_table *f,
		     const struct adn_snap_table *l, note_fn note, void *ctx, struct adn_err *err)
{
	cv->f = f;
	cv->l = l;
	cv->defaults = true;
	cv->identical = f->key_size == l->key_size && f->value_size == l->value_size &&
			f->nkey == l->nkey && f->nval == l->nval;
	for (int side = 0; side < 2; side++) {
		const struct adn_snap_col *lc = side ? l->val : l->key, *fc = side ? f->val : f->key;
		const struct adn_snap_col *fo = side ? f->key : f->val;
		int ln = side ? l->nval : l->nkey, fn = side ? f->nval : f->nkey;
		int fon = side ? f->nkey : f->nval;
		int *map = side ? cv->vmap : cv->kmap;
		/* An ARRAY table's index was named "key" by adnc before its key
		 * struct was kept in BTF (docs/language.md): the same single
		 * index column, now under its DSL name. */
		bool old_index = !side && is_array(l->map_type) && ln == 1 && fn == 1 &&
				 !strcmp(fc[0].name, "key") && !strcmp(fc[0].type, lc[0].type) &&
				 col_index(fc, fn, lc[0].name) < 0;
		for (int i = 0; i < ln; i++) {
			int j = old_index ? 0 : col_index(fc, fn, lc[i].name);
			map[i] = j;
			if (j < 0) {
				if (col_index(fo, fon, lc[i].name) >= 0)
					return adn_err_set(err, EINVAL, "table %s: column '%s' moved between "
							   "key and value: refused", l->name, lc[i].name);
				cv->identical = false;
				if (note)
					note_new_col(l, &lc[i], note, ctx);
				continue;
			}
			if (strcmp(fc[j].type, lc[i].type))
				return adn_err_set(err, EINVAL, "table %s: column '%s' changed type from %s "
						   "to %s: refused", l->name, lc[i].name, fc[j].type,
						   lc[i].type);
			if (fc[j].offset != lc[i].offset || j != i)
				cv->identical = false;
		}
		for (int j = 0; j < fn && note && !old_index; j++)
			if (col_index(lc, ln, fc[j].name) < 0 && col_index(side ? l->key : l->val,
									    side ? l->nkey : l->nval,
									    fc[j].name) < 0) {
				cv->identical = false;
				note_dropped_col(l, &fc[j], note, ctx);
			}
	}
	return 0;
}

/* defs: the table whose DEFAULTs fill the columns src lacks (NULL: none) */
static void conv_cols(const struct adn_snap_col *lc, int ln, const struct adn_snap_col *fc,
		      const int *map, uint8_t *dst, const uint8_t *src,
		      const struct adn_snap_table *defs)
{
	for (int i = 0; i < ln; i++) {
		const char *d;
		if (map[i] >= 0)
			memcpy(dst + lc[i].offset, src + fc[map[i]].offset, lc[i].size);
		else if (defs && (d = adn_snap_col_default(defs, &lc[i])))
			memcpy(dst + lc[i].offset, d + strlen(d) + 1, lc[i].size);
	}
}

static void conv_key(const struct conv *cv, uint8_t *dst, const uint8_t *src)
{
	if (cv->identical) {
		memcpy(dst, src, cv->l->key_size);
		return;
	}
	memset(dst, 0, cv->l->key_size);
	conv_cols(cv->l->key, cv->l->nkey, cv->f->key, cv->kmap, dst, src, NULL);
}

/* one value copy; dst holds the base (zero, or the live row for params).
 * New columns get their DEFAULT in the first copy only (defaults): a
 * per-CPU row then sums to it. */
static void conv_val(const struct conv *cv, uint8_t *dst, const uint8_t *src, bool defaults)
{
	if (cv->identical)
		memcpy(dst, src, cv->l->value_size);
	else
		conv_cols(cv->l->val, cv->l->nval, cv->f->val, cv->vmap, dst, src,
			  defaults && cv->defaults ? cv->l : NULL);
}

/* Sums the numeric columns of all copies of a row (from layout) into one. */
static void collapse(const struct adn_snap_table *t, const uint8_t *row, uint8_t *out)
{
	memcpy(out, row, t->value_size);
	for (uint32_t c = 1; c < t->ncpus; c++)
		combine_copy(t, ADN_MERGE_SUM, out, row + (size_t)c * t->value_size);
}

/* The value as the map syscalls want it (per-CPU: ncpus copies, stride 8). */
static void conv_row_sys(const struct conv *cv, uint8_t *dst, const uint8_t *src,
			 uint8_t *scratch)
{
	const struct adn_snap_table *l = cv->l, *f = cv->f;
	size_t stride = l->ncpus > 1 ? adn_percpu_stride(l->value_size) : l->value_size;

	if (f->ncpus == l->ncpus) {
		for (uint32_t c = 0; c < l->ncpus; c++)
			conv_val(cv, dst + c * stride, src + (size_t)c * f->value_size, c == 0);
		return;
	}
	collapse(f, src, scratch);
	conv_val(cv, dst, scratch, true);
}

/* ---- writing rows -------------------------------------------------------- */

static bool is_array(uint32_t t)
{
	return t == BPF_MAP_TYPE_ARRAY || t == BPF_MAP_TYPE_PERCPU_ARRAY;
}

static int update_rows(int fd, const char *name, const uint8_t *keys, const uint8_t *vals,
		       uint32_t ksize, size_t vstride, uint64_t n, struct adn_err *err)
{
	DECLARE_LIBBPF_OPTS(bpf_map_batch_opts, opts, .elem_flags = BPF_ANY);
	const uint64_t chunk = 65536;

	for (uint64_t done = 0; done < n;) {
		__u32 count = (__u32)(n - done < chunk ? n - done : chunk);
		if (bpf_map_update_batch(fd, keys + done * ksize, vals + done * vstride, &count, &opts)) {
			int e = errno;
			if (e == EINVAL || e == ENOTSUP || e == EOPNOTSUPP || e == 524) {
				for (uint64_t r = done; r < n; r++)
					if (bpf_map_update_elem(fd, keys + r * ksize, vals + r * vstride, BPF_ANY))
						return adn_err_set(err, errno, "table %s: update: %s", name,
								   strerror(errno));
				return 0;
			}
			return adn_err_set(err, e, "table %s: batch update after %" PRIu64 " rows: %s",
					   name, done + count, e == E2BIG ? "table is full" : strerror(e));
		}
		done += count;
	}
	return 0;
}

/* A table ready to be written: converted rows in the syscall layout. */
struct staged {
	const struct adn_snap_table *l;
	uint64_t nrows;
	uint8_t *keys, *vals;
	size_t vstride; /* bytes per row in vals */
};

static int stage(struct staged *sg, const struct conv *cv, const uint8_t *base,
		 struct adn_err *err)
{
	const struct adn_snap_table *l = cv->l, *f = cv->f;
	size_t stride = l->ncpus > 1 ? adn_percpu_stride(l->value_size) : l->value_size;
	uint8_t *scratch = malloc(f->value_size + 8);

	memset(sg, 0, sizeof(*sg));
	sg->l = l;
	sg->vstride = stride * l->ncpus;
	sg->keys = calloc(f->nrows + 1, l->key_size);
	sg->vals = calloc(f->nrows + 1, sg->vstride);
	if (!sg->keys || !sg->vals || !scratch) {
		free(scratch);
		return adn_err_set(err, ENOMEM, "table %s: out of memory", l->name);
	}
	for (uint64_t r = 0; r < f->nrows; r++) {
		uint8_t *k = sg->keys + sg->nrows * l->key_size, *v = sg->vals + sg->nrows * sg->vstride;
		conv_key(cv, k, f->keys + r * f->key_size);
		if (base)
			for (uint32_t c = 0; c < l->ncpus; c++)
				memcpy(v + c * stride, base + c * stride, l->value_size);
		conv_row_sys(cv, v, f->vals + r * adn_snap_row_vsize(f), scratch);
		if (is_array(l->map_type)) {
			uint32_t idx;
			memcpy(&idx, k, 4);
			if (idx >= l->max_entries) {
				/* zero but for the DEFAULTs: dropped like a zero row */
				struct conv nd = *cv;
				nd.defaults = false;
				memset(v, 0, sg->vstride);
				conv_row_sys(&nd, v, f->vals + r * adn_snap_row_vsize(f), scratch);
				bool zero = true;
				for (size_t b = 0; b < sg->vstride; b++)
					zero &= !v[b];
				if (zero)
					continue;
				free(scratch);
				return adn_err_set(err, E2BIG, "table %s: row %u does not fit: the chain's "
						   "array has %u rows", l->name, idx, l->max_entries);
			}
		}
		sg->nrows++;
	}
	free(scratch);
	if (!is_array(l->map_type) && sg->nrows > l->max_entries)
		return adn_err_set(err, E2BIG, "table %s: the snapshot has %" PRIu64 " rows, the chain's "
				   "table holds %u", l->name, sg->nrows, l->max_entries);
	return 0;
}

static void staged_free(struct staged *sg)
{
	free(sg->keys);
	free(sg->vals);
}

static int open_live(const char *chain, const struct adn_snap_table *l, struct adn_err *err)
{
	char path[PATH_MAX];
	adn_chain_path(path, sizeof(path), chain, l->rel);
	int fd = bpf_obj_get(path);
	if (fd < 0)
		return adn_err_set(err, errno, "table %s: %s: %s", l->name, path, strerror(errno));
	return fd;
}

/* Makes the live table hold exactly the staged rows. */
static int write_staged_fd(int fd, struct staged *sg, struct adn_err *err)
{
	const struct adn_snap_table *l = sg->l;
	int rc = 0;

	/* rows the snapshot does not have: deleted (hash), zeroed (array) */
	struct adn_snap_table lt = *l;
	lt.nrows = lt.cap = 0;
	lt.keys = lt.vals = NULL;
	struct kidx x;
	if (kidx_init(&x, sg->keys, l->key_size, sg->nrows)) {
		close(fd);
		return adn_err_set(err, ENOMEM, "out of memory");
	}
	for (uint64_t r = 0; r < sg->nrows; r++)
		kidx_find(&x, sg->keys + r * l->key_size, (int64_t)r);
	/* the live keys (values are read too: batch lookups need them) */
	rc = adn_snap_read_rows_fd(fd, &lt, err);
	uint8_t *gone = NULL, *zeros = NULL;
	uint64_t ngone = 0;
	if (!rc && lt.nrows) {
		gone = malloc(lt.nrows * l->key_size);
		zeros = calloc(lt.nrows, sg->vstride);
		if (!gone || !zeros)
			rc = adn_err_set(err, ENOMEM, "out of memory");
	}
	for (uint64_t r = 0; !rc && r < lt.nrows; r++) {
		const uint8_t *k = lt.keys + r * l->key_size;
		if (kidx_find(&x, k, -1) < 0)
			memcpy(gone + (ngone++) * l->key_size, k, l->key_size);
	}
	if (!rc && ngone) {
		if (is_array(l->map_type)) {
			rc = update_rows(fd, l->name, gone, zeros, l->key_size, sg->vstride, ngone, err);
		} else {
			__u32 cnt = (__u32)ngone;
			if (ngone <= UINT32_MAX && !bpf_map_delete_batch(fd, gone, &cnt, NULL))
				ngone = 0; /* all gone in one call */
			for (uint64_t r = 0; r < ngone; r++)
				if (bpf_map_delete_elem(fd, gone + r * l->key_size) && errno != ENOENT) {
					rc = adn_err_set(err, errno, "table %s: delete: %s", l->name,
							 strerror(errno));
					break;
				}
		}
	}
	if (!rc)
		rc = update_rows(fd, l->name, sg->keys, sg->vals, l->key_size, sg->vstride, sg->nrows,
				 err);
	free(gone);
	free(zeros);
	free(lt.keys);
	free(lt.vals);
	kidx_free(&x);
	return rc;
}

static int write_staged(const char *chain, struct staged *sg, struct adn_err *err)
{
	int fd = open_live(chain, sg->l, err), rc;

	if (fd < 0)
		return fd;
	rc = write_staged_fd(fd, sg, err);
	close(fd);
	return rc;
}

int adn_snap_copy_fd(const struct adn_snap_table *from, const struct adn_snap_table *l, int fd,
		     struct adn_err *err)
{
	struct conv cv;
	struct staged sg;
	uint8_t *base = NULL;
	int rc = conv_init(&cv, from, l, NULL, NULL, err);

	if (rc)
		return rc;
	if (!cv.identical && is_array(l->map_type) && l->max_entries == 1) {
		/* parameters: members the old row lacks keep the new defaults */
		size_t stride = l->ncpus > 1 ? adn_percpu_stride(l->value_size) : l->value_size;
		__u32 zero = 0;
		base = calloc(l->ncpus, stride);
		if (!base || bpf_map_lookup_elem(fd, &zero, base)) {
			free(base);
			base = NULL;
		}
	}
	rc = stage(&sg, &cv, base, err);
	free(base);
	if (!rc)
		rc = write_staged_fd(fd, &sg, err);
	staged_free(&sg);
	return rc;
}

static const struct adn_snap_table *find_table(const struct adn_snap *s, const char *name)
{
	for (int i = 0; i < s->n; i++)
		if (!strcmp(s->t[i].name, name))
			return &s->t[i];
	return NULL;
}

/* the live row 0 of an ARRAY (parameters keep their current values for
 * members the snapshot does not have) */
static uint8_t *live_row0(const char *chain, const struct adn_snap_table *l, struct adn_err *err)
{
	size_t stride = l->ncpus > 1 ? adn_percpu_stride(l->value_size) : l->value_size;
	uint8_t *v = calloc(l->ncpus, stride);
	__u32 zero = 0;
	int fd = open_live(chain, l, err);

	if (fd < 0 || !v || bpf_map_lookup_elem(fd, &zero, v)) {
		if (fd >= 0)
			close(fd);
		free(v);
		return NULL;
	}
	close(fd);
	return v;
}

int adn_snap_check_compat(const struct adn_snap *from, const struct adn_snap *to,
			  struct adn_err *err)
{
	for (int i = 0; i < from->n; i++) {
		const struct adn_snap_table *l = find_table(to, from->t[i].name);
		struct conv cv;
		if (l && conv_init(&cv, &from->t[i], l, NULL, NULL, err))
			return -EINVAL;
	}
	return 0;
}

/* "a, b, c" (the first few names), for one-line messages */
static void table_names(char *out, size_t len, const struct adn_snap *s)
{
	size_t at = 0;
	int shown = 0;

	out[0] = '\0';
	for (int i = 0; i < s->n && at < len; i++) {
		if (is_params(&s->t[i]))
			continue;
		if (shown++ == 3) {
			snprintf(out + at, len - at, ", ...");
			return;
		}
		at += (size_t)snprintf(out + at, len - at, "%s%s", at ? ", " : "", s->t[i].name);
	}
}

/* A snapshot of another chain: none of the file's state tables is in the
 * live chain (a chain of another name with the same tables is fine:
 * scale-out). Only parameters would be written: refused. */
static int check_tables_match(const struct adn_snap *s, const struct adn_snap *live,
			      const char *chain, struct adn_err *err)
{
	char names[200];
	int nstate = 0;

	for (int i = 0; i < s->n; i++) {
		if (is_params(&s->t[i]))
			continue;
		if (find_table(live, s->t[i].name))
			return 0;
		nstate++;
	}
	if (!nstate)
		return 0; /* parameters only */
	table_names(names, sizeof(names), s);
	return adn_err_set(err, EINVAL, "none of the snapshot's %d tables (%s) is in chain %s "
			   "(the snapshot is of chain %s): refused", nstate, names, chain, s->chain);
}

/* one note per table restore leaves alone, either way */
static void note_unmatched(const struct adn_snap *s, const struct adn_snap *live,
			   const char *chain, note_fn note, void *ctx)
{
	char line[512];

	for (int i = 0; note && i < s->n; i++)
		if (!find_table(live, s->t[i].name)) {
			snprintf(line, sizeof(line), "table %.128s (%" PRIu64 " rows) is not in chain "
				 "%.64s: skipped", s->t[i].name, s->t[i].nrows, chain);
			note(ctx, line);
		}
	for (int i = 0; note && i < live->n; i++)
		if (!find_table(s, live->t[i].name)) {
			snprintf(line, sizeof(line), "table %.128s of chain %.64s is not in the "
				 "snapshot: left as it is", live->t[i].name, chain);
			note(ctx, line);
		}
}

int adn_snap_restore(const struct adn_snap *s, const char *chain,
		     const struct adn_restore_opts *opts, struct adn_err *err)
{
	struct adn_snap live;
	struct staged *sg;
	int rc, n = 0;
	note_fn note = opts ? opts->note : NULL;
	void *ctx = opts ? opts->ctx : NULL;

	rc = adn_snap_schema(&live, chain, err);
	if (rc)
		return rc;
	rc = check_tables_match(s, &live, chain, err);
	if (rc) {
		adn_snap_free(&live);
		return rc;
	}
	note_unmatched(s, &live, chain, note, ctx);
	sg = calloc((size_t)s->n + 1, sizeof(*sg));
	if (!sg) {
		adn_snap_free(&live);
		return adn_err_set(err, ENOMEM, "out of memory");
	}
	/* 1. check and convert everything in memory */
	for (int i = 0; i < s->n; i++) {
		const struct adn_snap_table *l = find_table(&live, s->t[i].name);
		struct conv cv;
		if (!l)
			continue; /* noted above */
		rc = conv_init(&cv, &s->t[i], l, note, ctx, err);
		if (rc)
			goto out;
		uint8_t *base = NULL;
		if (!cv.identical && is_params(l)) {
			base = live_row0(chain, l, err);
			if (!base) {
				rc = -EIO;
				goto out;
			}
		}
		rc = stage(&sg[n++], &cv, base, err);
		free(base);
		if (rc)
			goto out;
	}
	/* 2. write */
	for (int i = 0; i < n && !rc; i++)
		rc = write_staged(chain, &sg[i], err);
	if (!rc && opts && opts->tables)
		*opts->tables = n;
	for (int i = 0; !rc && opts && opts->rows && i < n; i++)
		*opts->rows += sg[i].nrows;
out:
	for (int i = 0; i < n; i++)
		staged_free(&sg[i]);
	free(sg);
	adn_snap_free(&live);
	return rc;
}

/* ---- merge --------------------------------------------------------------- */

static int copy_schema(struct adn_snap_table *dst, const struct adn_snap_table *src)
{
	*dst = *src;
	dst->nrows = dst->cap = 0;
	dst->keys = dst->vals = NULL;
	return 0;
}

static int push_row(struct adn_snap_table *t, const uint8_t *k, const uint8_t *v)
{
	if (t->nrows == t->cap) {
		uint64_t cap = t->cap ? t->cap * 2 : 1024;
		uint8_t *nk = realloc(t->keys, cap * t->key_size);
		if (!nk)
			return -ENOMEM;
		t->keys = nk;
		uint8_t *nv = realloc(t->vals, cap * adn_snap_row_vsize(t));
		if (!nv)
			return -ENOMEM;
		t->vals = nv;
		t->cap = cap;
	}
	memcpy(t->keys + t->nrows * t->key_size, k, t->key_size);
	memcpy(t->vals + t->nrows * adn_snap_row_vsize(t), v, adn_snap_row_vsize(t));
	t->nrows++;
	return 0;
}

int adn_snap_merge(struct adn_snap *out, const struct adn_snap *in, int n, struct adn_err *err)
{
	char a[16384], b[16384];
	int rc = 0;

	memset(out, 0, sizeof(*out));
	*out = in[0];
	out->n = 0;
	out->t = NULL;
	for (int s = 0; s < n; s++) {
		for (int i = 0; i < in[s].n; i++) {
			const struct adn_snap_table *src = &in[s].t[i];
			struct adn_snap_table *dst = NULL;
			for (int j = 0; j < out->n; j++)
				if (!strcmp(out->t[j].name, src->name))
					dst = &out->t[j];
			if (!dst) {
				struct adn_snap_table *g = realloc(out->t, sizeof(*g) * (size_t)(out->n + 1));
				if (!g) {
					rc = adn_err_set(err, ENOMEM, "out of memory");
					goto fail;
				}
				out->t = g;
				dst = &out->t[out->n++];
				copy_schema(dst, src);
			} else {
				adn_snap_table_schema(dst, a, sizeof(a));
				adn_snap_table_schema(src, b, sizeof(b));
				if (strcmp(a, b) || dst->ncpus != src->ncpus) {
					rc = adn_err_set(err, EINVAL, "table %s: snapshot %d has another "
							 "layout than snapshot 1 (merge needs equal "
							 "schemas; restore one into the other's chain first)",
							 src->name, s + 1);
					goto fail;
				}
			}
			struct kidx x;
			/* index the rows merged so far; new keys are appended and indexed */
			uint64_t want = dst->nrows + src->nrows;
			if (kidx_init(&x, NULL, dst->key_size, want)) {
				rc = adn_err_set(err, ENOMEM, "out of memory");
				goto fail;
			}
			/* keys move when push_row reallocates: re-point before each use */
			for (uint64_t r = 0; r < dst->nrows; r++) {
				x.keys = dst->keys;
				kidx_find(&x, dst->keys + r * dst->key_size, (int64_t)r);
			}
			for (uint64_t r = 0; r < src->nrows; r++) {
				const uint8_t *k = src->keys + r * src->key_size;
				const uint8_t *v = src->vals + r * adn_snap_row_vsize(src);
				x.keys = dst->keys;
				int64_t at = kidx_find(&x, k, -1);
				if (at >= 0) {
					combine_row(dst, dst->vals + (uint64_t)at * adn_snap_row_vsize(dst), v);
					continue;
				}
				if (push_row(dst, k, v)) {
					kidx_free(&x);
					rc = adn_err_set(err, ENOMEM, "out of memory");
					goto fail;
				}
				x.keys = dst->keys;
				kidx_find(&x, k, (int64_t)dst->nrows - 1);
			}
			kidx_free(&x);
			if (!is_array(dst->map_type) && dst->nrows > dst->max_entries) {
				rc = adn_err_set(err, E2BIG, "table %s: the merge has %" PRIu64 " rows, more "
						 "than its capacity %u", dst->name, dst->nrows,
						 dst->max_entries);
				goto fail;
			}
		}
	}
	out->layout = adn_snap_layout_hash(out);
	return 0;
fail:
	adn_snap_free(out);
	return rc;
}

/* ---- deltas, added in the kernel ------------------------------------------ */

/* A tiny XDP program, generated for one table and run with
 * BPF_PROG_TEST_RUN once per row: it reads key + delta from a scratch map,
 * looks the key up in the target table and adds each SUM column with an
 * atomic add (TIMESTAMP columns: max), or inserts the row if the key is
 * absent. Concurrent increments by the chain's own programs compose. */
struct adder {
	int prog_fd, scratch_fd;
	uint32_t ks8;
	size_t scratch_size;
};

#define I(c, d, s, o, i) ((struct bpf_insn){ .code = (c), .dst_reg = (d), .src_reg = (s), .off = (o), .imm = (i) })

static int emit_ld_map(struct bpf_insn *p, int reg, int fd)
{
	p[0] = I(BPF_LD | BPF_DW | BPF_IMM, reg, BPF_PSEUDO_MAP_FD, 0, fd);
	p[1] = I(0, 0, 0, 0, 0);
	return 2;
}

static int size_code(uint32_t size)
{
	return size == 8 ? BPF_DW : size == 4 ? BPF_W : size == 2 ? BPF_H : BPF_B;
}

/* r7 = scratch (key at 0, delta at ks8), r8 = target row: add every column */
static int emit_adds(struct bpf_insn *p, const struct adn_snap_table *l, uint32_t ks8)
{
	int n = 0;

	for (int i = 0; i < l->nval; i++) {
		const struct adn_snap_col *c = &l->val[i];
		if (c->size > 8 || !ordered(c))
			continue;
		int sz = size_code(c->size);
		n += 0;
		p[n++] = I(BPF_LDX | BPF_MEM | sz, 1, 7, (short)(ks8 + c->offset), 0);
		if (numeric(c) && (c->size == 4 || c->size == 8) && c->offset % c->size == 0) {
			p[n++] = I(BPF_STX | BPF_ATOMIC | sz, 8, 1, (short)c->offset, BPF_ADD);
		} else if (numeric(c)) {
			p[n++] = I(BPF_LDX | BPF_MEM | sz, 2, 8, (short)c->offset, 0);
			p[n++] = I(BPF_ALU64 | BPF_ADD | BPF_X, 2, 1, 0, 0);
			p[n++] = I(BPF_STX | BPF_MEM | sz, 8, 2, (short)c->offset, 0);
		} else { /* TIMESTAMP: max */
			p[n++] = I(BPF_LDX | BPF_MEM | sz, 2, 8, (short)c->offset, 0);
			p[n++] = I(BPF_JMP | BPF_JGE | BPF_X, 2, 1, 1, 0);
			p[n++] = I(BPF_STX | BPF_MEM | sz, 8, 1, (short)c->offset, 0);
		}
	}
	return n;
}

static int adder_load(struct adder *a, int target_fd, const struct adn_snap_table *l,
		      struct adn_err *err)
{
	struct bpf_insn prog[1200], adds[600];
	int n = 0, na;

	a->ks8 = (l->key_size + 7) & ~7u;
	a->scratch_size = a->ks8 + ((l->value_size + 7) & ~7u);
	a->scratch_fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "adn_delta", 4, (__u32)a->scratch_size, 1,
				       NULL);
	if (a->scratch_fd < 0)
		return adn_err_set(err, errno, "table %s: delta map: %s", l->name, strerror(errno));
	na = emit_adds(adds, l, a->ks8);
	/* r7 = scratch[0] */
	prog[n++] = I(BPF_ST | BPF_MEM | BPF_W, 10, 0, -4, 0);
	n += emit_ld_map(prog + n, 1, a->scratch_fd);
	prog[n++] = I(BPF_ALU64 | BPF_MOV | BPF_X, 2, 10, 0, 0);
	prog[n++] = I(BPF_ALU64 | BPF_ADD | BPF_K, 2, 0, 0, -4);
	prog[n++] = I(BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_map_lookup_elem);
	int j_exit0 = n;
	prog[n++] = I(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 0, 0); /* patched: -> fail */
	prog[n++] = I(BPF_ALU64 | BPF_MOV | BPF_X, 7, 0, 0, 0);
	int fix[4], nfix = 0, ins_fix[2];
	for (int attempt = 0; attempt < 2; attempt++) {
		n += emit_ld_map(prog + n, 1, target_fd);
		prog[n++] = I(BPF_ALU64 | BPF_MOV | BPF_X, 2, 7, 0, 0);
		prog[n++] = I(BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_map_lookup_elem);
		ins_fix[attempt] = n;
		prog[n++] = I(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 0, 0); /* -> insert */
		prog[n++] = I(BPF_ALU64 | BPF_MOV | BPF_X, 8, 0, 0, 0);
		memcpy(prog + n, adds, sizeof(adds[0]) * (size_t)na);
		n += na;
		fix[nfix++] = n;
		prog[n++] = I(BPF_JMP | BPF_JA, 0, 0, 0, 0); /* -> ok */
		prog[ins_fix[attempt]].off = (short)(n - ins_fix[attempt] - 1);
		/* insert (BPF_NOEXIST); a concurrent insert -> try the add again */
		n += emit_ld_map(prog + n, 1, target_fd);
		prog[n++] = I(BPF_ALU64 | BPF_MOV | BPF_X, 2, 7, 0, 0);
		prog[n++] = I(BPF_ALU64 | BPF_MOV | BPF_X, 3, 7, 0, 0);
		prog[n++] = I(BPF_ALU64 | BPF_ADD | BPF_K, 3, 0, 0, (int)a->ks8);
		prog[n++] = I(BPF_ALU64 | BPF_MOV | BPF_K, 4, 0, 0, BPF_NOEXIST);
		prog[n++] = I(BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_map_update_elem);
		fix[nfix++] = n;
		prog[n++] = I(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 0, 0); /* 0 -> ok */
	}
	/* fail: r0 = 1 */
	prog[j_exit0].off = (short)(n - j_exit0 - 1);
	prog[n++] = I(BPF_ALU64 | BPF_MOV | BPF_K, 0, 0, 0, 1);
	prog[n++] = I(BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
	/* ok: r0 = XDP_PASS */
	for (int i = 0; i < nfix; i++)
		prog[fix[i]].off = (short)(n - fix[i] - 1);
	prog[n++] = I(BPF_ALU64 | BPF_MOV | BPF_K, 0, 0, 0, XDP_PASS);
	prog[n++] = I(BPF_JMP | BPF_EXIT, 0, 0, 0, 0);

	a->prog_fd = bpf_prog_load(BPF_PROG_TYPE_XDP, "adn_delta", "GPL", prog, (size_t)n, NULL);
	if (a->prog_fd < 0) {
		int e = errno;
		close(a->scratch_fd);
		return adn_err_set(err, e, "table %s: load the delta program: %s", l->name, strerror(e));
	}
	return 0;
}

static int adder_run(struct adder *a, const uint8_t *scratch, const char *name,
		     struct adn_err *err)
{
	uint8_t pkt[64] = { 0 };
	__u32 zero = 0;
	DECLARE_LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = pkt, .data_size_in = sizeof(pkt),
			    .repeat = 1);

	if (bpf_map_update_elem(a->scratch_fd, &zero, scratch, BPF_ANY))
		return adn_err_set(err, errno, "table %s: delta map: %s", name, strerror(errno));
	if (bpf_prog_test_run_opts(a->prog_fd, &opts))
		return adn_err_set(err, errno, "table %s: run the delta program: %s", name,
				   strerror(errno));
	if (opts.retval != XDP_PASS)
		return adn_err_set(err, E2BIG, "table %s: cannot add a row (table full?)", name);
	return 0;
}

static void adder_close(struct adder *a)
{
	close(a->prog_fd);
	close(a->scratch_fd);
}

/* d := a - b on the numeric columns (one copy, from layout); TIMESTAMP: a */
static void sub_copy(const struct adn_snap_table *t, uint8_t *d, const uint8_t *a, const uint8_t *b)
{
	memset(d, 0, t->value_size);
	for (int i = 0; i < t->nval; i++) {
		const struct adn_snap_col *c = &t->val[i];
		if (c->size > 8)
			continue;
		if (numeric(c))
			st(d + c->offset, c->size, ld(a + c->offset, c->size) - (b ? ld(b + c->offset, c->size) : 0));
		else if (c->kind == ADN_COL_TIME)
			st(d + c->offset, 8, ld(a + c->offset, 8));
	}
}

int adn_snap_delta_fd(const struct adn_snap_table *b, const struct adn_snap_table *a,
		      const struct adn_snap_table *l, int fd, struct adn_err *err)
{
	struct conv cv;
	struct kidx x = { 0 };
	struct adder ad = { .prog_fd = -1, .scratch_fd = -1 };
	size_t stride = l->ncpus > 1 ? adn_percpu_stride(l->value_size) : l->value_size;
	uint8_t *d = malloc(a->value_size + 8), *da = malloc(a->value_size + 8),
		*db = malloc(a->value_size + 8), *sys = calloc(l->ncpus + 1, stride),
		*cur = calloc(l->ncpus + 1, stride), *key = malloc(l->key_size + 8), *scr = NULL;
	int rc;

	rc = conv_init(&cv, a, l, NULL, NULL, err);
	if (rc)
		goto out;
	/* a new row of the delta gets the DEFAULTs; a SUM delta is added to
	 * the target's row, which has them already */
	cv.defaults = a->merge != ADN_MERGE_SUM;
	if (!d || !da || !db || !sys || !cur || !key || (b && kidx_build(&x, b))) {
		rc = adn_err_set(err, ENOMEM, "out of memory");
		goto out;
	}
	if (a->merge == ADN_MERGE_SUM) {
		rc = adder_load(&ad, fd, l, err);
		if (rc)
			goto out;
		scr = calloc(1, ad.scratch_size);
		if (!scr) {
			rc = adn_err_set(err, ENOMEM, "out of memory");
			goto out;
		}
	}
	for (uint64_t r = 0; r < a->nrows && !rc; r++) {
		const uint8_t *k = a->keys + r * a->key_size;
		const uint8_t *va = a->vals + r * adn_snap_row_vsize(a);
		const uint8_t *vb = NULL;
		if (b) {
			int64_t at = kidx_find(&x, k, -1);
			if (at >= 0) {
				vb = b->vals + (uint64_t)at * adn_snap_row_vsize(b);
				if (!memcmp(va, vb, adn_snap_row_vsize(a)))
					continue; /* unchanged since the copy */
			}
		}
		conv_key(&cv, key, k);
		if (a->merge == ADN_MERGE_SUM) {
			collapse(a, va, da);
			if (vb)
				collapse(b, vb, db);
			sub_copy(a, d, da, vb ? db : NULL);
			memset(scr, 0, ad.scratch_size);
			memcpy(scr, key, l->key_size);
			conv_val(&cv, scr + ad.ks8, d, false);
			rc = adder_run(&ad, scr, l->name, err);
			continue;
		}
		/* other policies: read the target row, combine, write back */
		memset(sys, 0, (size_t)l->ncpus * stride);
		uint8_t *scratch = malloc(a->value_size + 8);
		conv_row_sys(&cv, sys, va, scratch);
		free(scratch);
		if (!bpf_map_lookup_elem(fd, key, cur)) {
			/* combine per copy in the target layout */
			struct adn_snap_table lt = *l;
			lt.merge = a->merge;
			snprintf(lt.merge_col, sizeof(lt.merge_col), "%s", a->merge_col);
			for (uint32_t c = 0; c < l->ncpus; c++) {
				if (lt.merge == ADN_MERGE_LAST) {
					if (row_time(&lt, sys) < row_time(&lt, cur))
						memcpy(sys + c * stride, cur + c * stride, l->value_size);
				} else {
					combine_copy(&lt, lt.merge, cur + c * stride, sys + c * stride);
					memcpy(sys + c * stride, cur + c * stride, l->value_size);
				}
			}
		}
		if (bpf_map_update_elem(fd, key, sys, BPF_ANY))
			rc = adn_err_set(err, errno, "table %s: update: %s", l->name, strerror(errno));
	}
out:
	if (ad.prog_fd >= 0)
		adder_close(&ad);
	kidx_free(&x);
	free(d);
	free(da);
	free(db);
	free(sys);
	free(cur);
	free(key);
	free(scr);
	return rc;
}

int adn_snap_apply_delta(const struct adn_snap *before, const struct adn_snap *after,
			 const char *target, struct adn_err *err)
{
	struct adn_snap live;
	int rc = adn_snap_schema(&live, target, err);

	if (rc)
		return rc;
	rc = adn_snap_check_compat(after, &live, err);
	for (int i = 0; !rc && i < after->n; i++) {
		const struct adn_snap_table *a = &after->t[i];
		const struct adn_snap_table *l = find_table(&live, a->name);
		if (!l || a->merge == ADN_MERGE_FIRST)
			continue; /* parameters are the target's own */
		int fd = open_live(target, l, err);
		if (fd < 0)
			rc = fd;
		else
			rc = adn_snap_delta_fd(before ? find_table(before, a->name) : NULL, a, l, fd, err);
		if (fd >= 0)
			close(fd);
	}
	adn_snap_free(&live);
	return rc;
}
