/* SPDX-License-Identifier: MIT */
/* Snapshots: taking them from pinned maps, and the file format
 * (docs/snapshot-format.md). */
#include <errno.h>
#include <stdarg.h>
#include <strings.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <zlib.h>

#include "adn_chaindir.h"
#include "adn_chainobj.h"
#include "adn_err.h"
#include "adn_meta.h"
#include "adn_pinned.h"
#include "adn_scalar.h"
#include "adn_snapshot.h"

#define SEC_CHAIN 1
#define SEC_TABLE 2
#define SEC_F_ZLIB 1
#define FILE_HDR_LEN 24
#define SEC_HDR_LEN 32
#define MAX_RAW ((uint64_t)1 << 36) /* 64 GiB: anything larger is a corrupt length */

uint32_t adn_crc32(const void *buf, size_t len)
{
	uLong c = crc32(0L, Z_NULL, 0);
	const Bytef *p = buf;

	while (len) { /* crc32() takes a uInt length */
		uInt n = len > (1u << 30) ? (1u << 30) : (uInt)len;
		c = crc32(c, p, n);
		p += n;
		len -= n;
	}
	return (uint32_t)c;
}

static uint32_t fnv1a(uint32_t h, const char *s)
{
	for (; *s; s++) {
		h ^= (uint8_t)*s;
		h *= 16777619u;
	}
	return h;
}

/* ---- schema ------------------------------------------------------------ */

static const char *merge_name(enum adn_merge m)
{
	static const char *names[] = { "UNION", "SUM", "MAX", "MIN", "LAST", "FIRST" };
	return names[m];
}

static int merge_parse(const char *s, enum adn_merge *m)
{
	for (int i = 0; i <= ADN_MERGE_FIRST; i++)
		if (!strcasecmp(s, merge_name((enum adn_merge)i))) {
			*m = (enum adn_merge)i;
			return 0;
		}
	return -EINVAL;
}

static void col_type(const struct adn_col *c, char *buf, size_t len)
{
	switch (c->kind) {
	case ADN_COL_STRING: snprintf(buf, len, "char(%u)", c->size); break;
	case ADN_COL_INT:
		if (c->is_bool)
			snprintf(buf, len, "bool");
		else
			snprintf(buf, len, "%sint%u", c->is_signed ? "" : "u", c->size * 8);
		break;
	case ADN_COL_ENUM: snprintf(buf, len, "enum%u", c->size * 8); break;
	case ADN_COL_REAL: snprintf(buf, len, "real"); break;
	case ADN_COL_TIME: snprintf(buf, len, "timestamp"); break;
	default: snprintf(buf, len, "bytes(%u)", c->size); break;
	}
}

/* type text -> kind, size, signedness; -EINVAL if unknown */
static int type_parse(struct adn_snap_col *c)
{
	unsigned n;
	char tail;

	c->is_signed = c->is_bool = false;
	if (!strcmp(c->type, "bool")) {
		c->kind = ADN_COL_INT, c->is_bool = true, n = 8;
	} else if (!strcmp(c->type, "real")) {
		c->kind = ADN_COL_REAL, n = 64;
	} else if (!strcmp(c->type, "timestamp")) {
		c->kind = ADN_COL_TIME, n = 64;
	} else if (!strncmp(c->type, "char(", 5) || !strncmp(c->type, "bytes(", 6)) {
		bool is_char = c->type[0] == 'c';
		char *end;
		unsigned long v = strtoul(c->type + (is_char ? 5 : 6), &end, 10);
		if (end[0] != ')' || end[1] || v == 0 || v > 65536)
			return -EINVAL;
		c->kind = is_char ? ADN_COL_STRING : ADN_COL_OPAQUE;
		n = (unsigned)v * 8;
	} else if (sscanf(c->type, "enum%u%c", &n, &tail) == 1) {
		c->kind = ADN_COL_ENUM;
	} else if (sscanf(c->type, "uint%u%c", &n, &tail) == 1) {
		c->kind = ADN_COL_INT;
	} else if (sscanf(c->type, "int%u%c", &n, &tail) == 1) {
		c->kind = ADN_COL_INT, c->is_signed = true;
	} else {
		return -EINVAL;
	}
	if (n == 0 || n % 8 || (c->kind != ADN_COL_STRING && c->kind != ADN_COL_OPAQUE &&
				n != 8 && n != 16 && n != 32 && n != 64))
		return -EINVAL;
	c->size = n / 8;
	return 0;
}

static void cols_to_snap(const struct adn_cols *cols, struct adn_snap_col *out, int *n)
{
	*n = cols->n;
	for (int i = 0; i < cols->n; i++) {
		const struct adn_col *c = &cols->col[i];
		memset(&out[i], 0, sizeof(out[i]));
		snprintf(out[i].name, sizeof(out[i].name), "%s", c->name);
		col_type(c, out[i].type, sizeof(out[i].type));
		out[i].kind = c->kind;
		out[i].offset = c->offset;
		out[i].size = c->size;
		out[i].is_signed = c->is_signed;
		out[i].is_bool = c->is_bool;
	}
}

static const char *type_name(uint32_t map_type)
{
	const char *s = libbpf_bpf_map_type_str((enum bpf_map_type)map_type);
	return s ? s : "unknown";
}

static int type_by_name(const char *s, uint32_t *out)
{
	for (uint32_t t = 0; t < 64; t++) {
		const char *n = libbpf_bpf_map_type_str((enum bpf_map_type)t);
		if (n && !strcmp(n, s)) {
			*out = t;
			return 0;
		}
	}
	return -EINVAL;
}

static void append(char *buf, size_t len, size_t *used, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void append(char *buf, size_t len, size_t *used, const char *fmt, ...)
{
	va_list ap;

	if (*used >= len)
		return;
	va_start(ap, fmt);
	int n = vsnprintf(buf + *used, len - *used, fmt, ap);
	va_end(ap);
	if (n > 0)
		*used += (size_t)n;
}

void adn_snap_table_schema(const struct adn_snap_table *t, char *buf, size_t len)
{
	size_t used = 0;

	buf[0] = '\0';
	append(buf, len, &used, "table %s\npin %s\nmap %s %u %u %u %u\n", t->name, t->rel,
	       type_name(t->map_type), t->max_entries, t->key_size, t->value_size, t->map_flags);
	if (t->merge == ADN_MERGE_LAST)
		append(buf, len, &used, "merge LAST %s\n", t->merge_col);
	else
		append(buf, len, &used, "merge %s\n", merge_name(t->merge));
	for (int i = 0; i < t->nkey; i++)
		append(buf, len, &used, "key %s %s %u\n", t->key[i].name, t->key[i].type,
		       t->key[i].offset);
	for (int i = 0; i < t->nval; i++)
		append(buf, len, &used, "val %s %s %u\n", t->val[i].name, t->val[i].type,
		       t->val[i].offset);
}

uint32_t adn_snap_layout_hash(const struct adn_snap *s)
{
	char *buf = malloc(65536);
	uint32_t h = 2166136261u;

	if (!buf)
		return 0;
	for (int i = 0; i < s->n; i++) {
		adn_snap_table_schema(&s->t[i], buf, 65536);
		h = fnv1a(h, buf);
	}
	free(buf);
	return h;
}

/* ---- taking a snapshot from the pins ----------------------------------- */

static bool state_map_type(uint32_t t)
{
	return t == BPF_MAP_TYPE_HASH || t == BPF_MAP_TYPE_LRU_HASH || t == BPF_MAP_TYPE_ARRAY ||
	       t == BPF_MAP_TYPE_PERCPU_HASH || t == BPF_MAP_TYPE_LRU_PERCPU_HASH ||
	       t == BPF_MAP_TYPE_PERCPU_ARRAY;
}

struct take_ctx {
	struct adn_snap *s;
	const char *chain;
	bool rows;
	struct adn_err *err;
	int rc;
};

static int grow_rows(struct adn_snap_table *t, uint64_t want)
{
	if (want <= t->cap)
		return 0;
	uint64_t cap = t->cap ? t->cap : 64;
	while (cap < want)
		cap *= 2;
	uint8_t *k = realloc(t->keys, cap * t->key_size + 1);
	if (!k)
		return -ENOMEM;
	t->keys = k;
	uint8_t *v = realloc(t->vals, cap * adn_snap_row_vsize(t) + 1);
	if (!v)
		return -ENOMEM;
	t->vals = v;
	t->cap = cap;
	return 0;
}

/* Appends n rows read from the kernel (per-CPU values padded to 8). */
static int push_rows(struct adn_snap_table *t, const uint8_t *keys, const uint8_t *vals,
		     uint64_t n)
{
	size_t stride = t->ncpus > 1 ? adn_percpu_stride(t->value_size) : t->value_size;

	if (grow_rows(t, t->nrows + n))
		return -ENOMEM;
	memcpy(t->keys + t->nrows * t->key_size, keys, n * t->key_size);
	if (t->ncpus == 1 && stride == t->value_size) {
		memcpy(t->vals + t->nrows * t->value_size, vals, n * t->value_size);
	} else {
		for (uint64_t r = 0; r < n; r++)
			for (uint32_t c = 0; c < t->ncpus; c++)
				memcpy(t->vals + (t->nrows + r) * adn_snap_row_vsize(t) +
					       (size_t)c * t->value_size,
				       vals + (r * t->ncpus + c) * stride, t->value_size);
	}
	t->nrows += n;
	return 0;
}

/* Every row, by batch lookups (one pass; hash buckets are copied under
 * their lock, so each row is read whole). Falls back to get_next_key. */
static int read_rows(int fd, struct adn_snap_table *t, struct adn_err *err)
{
	size_t stride = t->ncpus > 1 ? adn_percpu_stride(t->value_size) : t->value_size;
	uint32_t chunk = 8192;
	size_t bsz = t->key_size > 8 ? t->key_size : 8;
	uint8_t *in = calloc(1, bsz), *out = calloc(1, bsz);
	uint8_t *keys = NULL, *vals = NULL;
	bool first = true;
	int rc = 0;

	if (!in || !out)
		goto nomem;
	for (;;) {
		uint32_t count = chunk;
		free(keys);
		free(vals);
		keys = malloc((size_t)chunk * t->key_size);
		vals = malloc((size_t)chunk * stride * t->ncpus);
		if (!keys || !vals)
			goto nomem;
		int r = bpf_map_lookup_batch(fd, first ? NULL : in, out, keys, vals, &count, NULL);
		int e = r ? errno : 0;
		if (r && e == ENOSPC && count == 0) { /* a bucket larger than chunk */
			chunk *= 4;
			continue;
		}
		if (r && e != ENOENT) {
			if (first && (e == EINVAL || e == ENOTSUP || e == EOPNOTSUPP || e == 524))
				goto slow;
			rc = adn_err_set(err, e, "table %s: batch lookup: %s", t->name, strerror(e));
			goto out;
		}
		if (count && push_rows(t, keys, vals, count))
			goto nomem;
		if (r) /* ENOENT: that was the last batch */
			break;
		memcpy(in, out, bsz);
		first = false;
	}
	goto out;
slow:
	free(keys);
	free(vals);
	keys = malloc(t->key_size * 2);
	vals = malloc(stride * t->ncpus);
	if (!keys || !vals)
		goto nomem;
	for (int r = bpf_map_get_next_key(fd, NULL, keys + t->key_size); !r;
	     r = bpf_map_get_next_key(fd, keys, keys + t->key_size)) {
		memcpy(keys, keys + t->key_size, t->key_size);
		if (bpf_map_lookup_elem(fd, keys, vals))
			continue;
		if (push_rows(t, keys, vals, 1))
			goto nomem;
	}
	goto out;
nomem:
	rc = adn_err_set(err, ENOMEM, "table %s: out of memory", t->name);
out:
	free(in);
	free(out);
	free(keys);
	free(vals);
	return rc;
}

static bool runtime_pin(const char *rel)
{
	static const char *skip[] = { "adn_socks", "adn_cfg", "adn_stats", "adn_progs",
				      "adn_obj", "adn_sk_state",
				      /* the receiver's (bpf/adn_sk_skb.h) */
				      "adn_rsocks", "adn_strp", "adn_skb_progs", "adn_skb_stats",
				      NULL };
	if (!strncmp(rel, "prog_", 5) || !strncmp(rel, "link_", 5) || strstr(rel, "__swap"))
		return true;
	for (int i = 0; skip[i]; i++)
		if (!strcmp(rel, skip[i]))
			return true;
	return false;
}

static int snap_table_from_fd(struct adn_snap_table *t, const struct adn_table *tab,
			   const char *rel, const char *label)
{
	memset(t, 0, sizeof(*t));
	snprintf(t->name, sizeof(t->name), "%.127s", label);
	snprintf(t->rel, sizeof(t->rel), "%s", rel);
	t->map_type = tab->info.type;
	t->max_entries = tab->info.max_entries;
	t->key_size = tab->info.key_size;
	t->value_size = tab->info.value_size;
	t->map_flags = tab->info.map_flags;
	t->ncpus = adn_map_is_percpu(t->map_type) ? (uint32_t)libbpf_num_possible_cpus() : 1;
	t->merge = strcmp(label, "adn_params") ? ADN_MERGE_UNION : ADN_MERGE_FIRST;
	cols_to_snap(&tab->rt.key, t->key, &t->nkey);
	cols_to_snap(&tab->rt.val, t->val, &t->nval);
	return 0;
}

static int take_one(const char *rel, const char *path, void *vctx)
{
	struct take_ctx *c = vctx;
	struct adn_table tab;
	char label[160];
	int rc;

	(void)path;
	if (runtime_pin(rel))
		return 0;
	snprintf(label, sizeof(label), "%s", rel);
	char *slash = strchr(label, '/');
	if (slash)
		*slash = '.';
	rc = adn_table_open_pin(&tab, c->chain, rel, label, c->err);
	if (rc)
		return c->rc = rc;
	if (!state_map_type(tab.info.type)) {
		adn_table_close(&tab);
		return 0; /* ring buffers: a stream, drained by adnctl log */
	}
	struct adn_snap_table *grown = realloc(c->s->t, sizeof(*grown) * (size_t)(c->s->n + 1));
	if (!grown) {
		adn_table_close(&tab);
		return c->rc = adn_err_set(c->err, ENOMEM, "out of memory");
	}
	c->s->t = grown;
	struct adn_snap_table *t = &c->s->t[c->s->n++];
	snap_table_from_fd(t, &tab, rel, label);
	rc = c->rows ? read_rows(tab.fd, t, c->err) : 0;
	adn_table_close(&tab);
	return c->rc = rc;
}


static int take(struct adn_snap *s, const char *chain, bool rows, struct adn_err *err)
{
	struct take_ctx c = { .s = s, .chain = chain, .rows = rows, .err = err };
	struct timespec r, m;
	struct adn_meta meta;
	int rc;

	memset(s, 0, sizeof(*s));
	if (!adn_chain_exists(chain))
		return adn_err_set(err, ENOENT, "chain %s is not attached (no %s/%s)", chain,
				   ADN_PIN_ROOT, chain);
	snprintf(s->chain, sizeof(s->chain), "%s", chain);
	clock_gettime(CLOCK_REALTIME, &r);
	clock_gettime(CLOCK_MONOTONIC, &m);
	s->created_ns = (uint64_t)r.tv_sec * 1000000000ull + (uint64_t)r.tv_nsec;
	s->mono_offset = (int64_t)s->created_ns - ((int64_t)m.tv_sec * 1000000000ll + m.tv_nsec);
	rc = adn_chain_walk(chain, take_one, &c, err);
	if (!rc)
		rc = c.rc;
	if (!rc && adn_chain_meta(chain, &meta, NULL) == 0) {
		s->wire_layout = meta.has_layout ? meta.layout : 0;
		rc = adn_snap_apply_meta(s, &meta, err);
		adn_meta_free(&meta);
	}
	if (rc) {
		adn_snap_free(s);
		return rc;
	}
	s->layout = adn_snap_layout_hash(s);
	return 0;
}

int adn_snap_take(struct adn_snap *s, const char *chain, struct adn_err *err)
{
	return take(s, chain, true, err);
}

int adn_snap_schema(struct adn_snap *s, const char *chain, struct adn_err *err)
{
	return take(s, chain, false, err);
}

void adn_snap_free(struct adn_snap *s)
{
	for (int i = 0; i < s->n; i++) {
		free(s->t[i].keys);
		free(s->t[i].vals);
	}
	free(s->t);
	memset(s, 0, sizeof(*s));
}

int adn_snap_apply_meta(struct adn_snap *s, const struct adn_meta *meta, struct adn_err *err)
{
	for (int i = 0; i < meta->merges.n; i++) {
		char table[128] = "", policy[16] = "", col[64] = "", extra[8] = "";
		int n = sscanf(meta->merges.v[i], "%127s %15s %63s %7s", table, policy, col, extra);
		enum adn_merge m;
		if (n < 2 || n > 3 || merge_parse(policy, &m) || m == ADN_MERGE_FIRST ||
		    (m == ADN_MERGE_LAST) != (n == 3))
			return adn_err_set(err, EINVAL, ".adn.meta: bad merge line '%s' (expected "
					   "ELEMENT.TABLE SUM|MAX|MIN|UNION or LAST COLUMN)",
					   meta->merges.v[i]);
		for (int t = 0; t < s->n; t++) {
			if (strcmp(s->t[t].name, table))
				continue;
			if (m == ADN_MERGE_LAST) {
				int found = -1;
				for (int c = 0; c < s->t[t].nval; c++)
					if (!strcmp(s->t[t].val[c].name, col))
						found = c;
				if (found < 0 || s->t[t].val[found].kind != ADN_COL_TIME)
					return adn_err_set(err, EINVAL, ".adn.meta: merge LAST %s: table %s "
							   "has no TIMESTAMP value column '%s'",
							   col, table, col);
			}
			s->t[t].merge = m;
			snprintf(s->t[t].merge_col, sizeof(s->t[t].merge_col), "%s", col);
		}
	}
	for (int t = 0; t < s->n; t++) {
		int rc = adn_snap_table_apply_defaults(&s->t[t], meta, err);
		if (rc)
			return rc;
	}
	return 0;
}

/* A DEFAULT's text into the column's bytes (dst: c->size bytes). */
static int def_bytes(const struct adn_snap_col *c, const char *text, uint8_t *dst)
{
	char *end;
	uint64_t v;

	memset(dst, 0, c->size);
	switch (c->kind) {
	case ADN_COL_STRING:
		if (strlen(text) > c->size)
			return -ERANGE;
		memcpy(dst, text, strlen(text));
		return 0;
	case ADN_COL_INT:
		if (c->size > 8)
			return -EINVAL;
		if (!strcasecmp(text, "true") || !strcasecmp(text, "false")) {
			v = !strcasecmp(text, "true");
		} else {
			errno = 0;
			v = *text == '-' ? (uint64_t)strtoll(text, &end, 0) : strtoull(text, &end, 0);
			if (errno || end == text || *end)
				return -EINVAL;
		}
		for (uint32_t b = 0; b < c->size; b++) /* little-endian, as BPF maps on x86/arm64 */
			dst[b] = (uint8_t)(v >> (8 * b));
		return 0;
	case ADN_COL_REAL:
		if (c->size != 8 || adn_real_parse(text, &v))
			return -EINVAL;
		memcpy(dst, &v, 8);
		return 0;
	default:
		return -EINVAL;
	}
}

/* "'a b'" -> "a b" ('' is one quote); anything else as it is */
static void unquote(char *out, size_t len, const char *in)
{
	size_t o = 0;

	if (*in != '\'') {
		snprintf(out, len, "%s", in);
		return;
	}
	for (in++; *in && o + 1 < len; in++) {
		if (*in == '\'') {
			if (in[1] != '\'')
				break;
			in++;
		}
		out[o++] = *in;
	}
	out[o] = '\0';
}

int adn_snap_table_apply_defaults(struct adn_snap_table *t, const struct adn_meta *meta,
				  struct adn_err *err)
{
	for (int i = 0; i < meta->defaults.n; i++) {
		const char *line = meta->defaults.v[i];
		char table[128] = "", col[64] = "", text[512];
		int pos = 0;
		if (sscanf(line, "%127s %63s %n", table, col, &pos) < 2 || !pos || !line[pos])
			return adn_err_set(err, EINVAL, ".adn.meta: bad default line '%s' (expected "
					   "ELEMENT.TABLE COLUMN VALUE)", line);
		if (strcmp(table, t->name))
			continue;
		int c = -1;
		for (int k = 0; k < t->nval; k++)
			if (!strcmp(t->val[k].name, col))
				c = k;
		if (c < 0)
			return adn_err_set(err, EINVAL, ".adn.meta: default for table %s: no value "
					   "column '%s'", table, col);
		unquote(text, sizeof(text), line + pos);
		struct adn_snap_col *sc = &t->val[c];
		size_t tl = strlen(text) + 1;
		if (t->defs_used + tl + sc->size > sizeof(t->defs))
			return adn_err_set(err, E2BIG, ".adn.meta: table %s: the column defaults take "
					   "more than %zu bytes", table, sizeof(t->defs));
		char *at = t->defs + t->defs_used;
		memcpy(at, text, tl);
		if (def_bytes(sc, text, (uint8_t *)at + tl))
			return adn_err_set(err, EINVAL, ".adn.meta: table %s: default '%s' does not fit "
					   "column '%s' (%s)", table, text, col, sc->type);
		sc->def = (uint16_t)(t->defs_used + 1);
		t->defs_used += (uint32_t)(tl + sc->size);
	}
	return 0;
}

/* ---- the file ------------------------------------------------------------ */

static void put32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }
static void put64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }
static uint32_t get32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static uint64_t get64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }

static int write_section(FILE *f, uint32_t type, const uint8_t *raw, uint64_t raw_len,
			 const char *path, struct adn_err *err)
{
	uLongf stored_len = compressBound((uLong)raw_len);
	uint8_t *stored = malloc(stored_len ? stored_len : 1);
	uint8_t hdr[SEC_HDR_LEN];

	if (!stored)
		return adn_err_set(err, ENOMEM, "out of memory");
	if (compress2(stored, &stored_len, raw, (uLong)raw_len, 1) != Z_OK) {
		free(stored);
		return adn_err_set(err, EIO, "%s: zlib compression failed", path);
	}
	put32(hdr, type);
	put32(hdr + 4, SEC_F_ZLIB);
	put64(hdr + 8, raw_len);
	put64(hdr + 16, stored_len);
	put32(hdr + 24, adn_crc32(stored, stored_len));
	put32(hdr + 28, adn_crc32(hdr, 28));
	int ok = fwrite(hdr, 1, sizeof(hdr), f) == sizeof(hdr) &&
		 fwrite(stored, 1, stored_len, f) == stored_len;
	free(stored);
	return ok ? 0 : adn_err_set(err, errno, "%s: write: %s", path, strerror(errno));
}

int adn_snap_write(const struct adn_snap *s, const char *path, struct adn_err *err)
{
	char tmp[4096], text[1024];
	uint8_t hdr[FILE_HDR_LEN];
	FILE *f;
	int rc = 0;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, getpid()) >= (int)sizeof(tmp))
		return adn_err_set(err, ENAMETOOLONG, "%s: path too long", path);
	f = fopen(tmp, "wb");
	if (!f)
		return adn_err_set(err, errno, "%s: %s", tmp, strerror(errno));
	memcpy(hdr, ADN_SNAP_MAGIC, 8);
	put32(hdr + 8, ADN_SNAP_VERSION);
	put32(hdr + 12, (uint32_t)s->n + 1);
	put32(hdr + 16, s->layout);
	put32(hdr + 20, adn_crc32(hdr, 20));
	if (fwrite(hdr, 1, sizeof(hdr), f) != sizeof(hdr)) {
		rc = adn_err_set(err, errno, "%s: write: %s", tmp, strerror(errno));
		goto out;
	}
	int n = snprintf(text, sizeof(text),
			 "chain=%s\nwire_layout=0x%08x\ncreated_ns=%" PRIu64 "\nmono_offset_ns=%" PRId64
			 "\ntables=%d\n",
			 s->chain, s->wire_layout, s->created_ns, s->mono_offset, s->n);
	rc = write_section(f, SEC_CHAIN, (const uint8_t *)text, (uint64_t)n + 1, tmp, err);
	for (int i = 0; !rc && i < s->n; i++) {
		const struct adn_snap_table *t = &s->t[i];
		char schema[16384];
		adn_snap_table_schema(t, schema, sizeof(schema) - 64);
		size_t sl = strlen(schema);
		sl += (size_t)snprintf(schema + sl, sizeof(schema) - sl, "cpus %u\nrows %" PRIu64 "\n",
				       t->ncpus, t->nrows);
		size_t row = t->key_size + adn_snap_row_vsize(t);
		uint64_t raw_len = sl + 1 + t->nrows * row;
		uint8_t *raw = malloc(raw_len);
		if (!raw) {
			rc = adn_err_set(err, ENOMEM, "out of memory");
			break;
		}
		memcpy(raw, schema, sl + 1);
		uint8_t *p = raw + sl + 1;
		for (uint64_t r = 0; r < t->nrows; r++) {
			memcpy(p, t->keys + r * t->key_size, t->key_size);
			memcpy(p + t->key_size, t->vals + r * adn_snap_row_vsize(t), adn_snap_row_vsize(t));
			p += row;
		}
		rc = write_section(f, SEC_TABLE, raw, raw_len, tmp, err);
		free(raw);
	}
out:
	if (fflush(f) || fsync(fileno(f))) {
		if (!rc)
			rc = adn_err_set(err, errno, "%s: write: %s", tmp, strerror(errno));
	}
	fclose(f);
	if (!rc && rename(tmp, path))
		rc = adn_err_set(err, errno, "%s: %s", path, strerror(errno));
	if (rc)
		unlink(tmp);
	return rc;
}

static int parse_cols_line(struct adn_snap_table *t, char *line, const char *path)
{
	char kind[8], name[64], type[64];
	unsigned off;
	char extra;

	if (sscanf(line, "%7s %63s %63s %u %c", kind, name, type, &off, &extra) != 4)
		return -EINVAL;
	bool is_key = !strcmp(kind, "key");
	struct adn_snap_col *c = is_key ? &t->key[t->nkey] : &t->val[t->nval];
	if ((is_key ? t->nkey : t->nval) >= ADN_MAX_COLS)
		return -E2BIG;
	memset(c, 0, sizeof(*c));
	snprintf(c->name, sizeof(c->name), "%s", name);
	snprintf(c->type, sizeof(c->type), "%s", type);
	c->offset = off;
	if (type_parse(c))
		return -EINVAL;
	if (is_key)
		t->nkey++;
	else
		t->nval++;
	(void)path;
	return 0;
}

/* Parses a table section's schema text (NUL-terminated at raw[..]). */
static int parse_table(struct adn_snap_table *t, char *text, const char *path, int sec,
		       struct adn_err *err)
{
	char *line, *next;
	bool have_rows = false, have_map = false;
	char mtype[64], pol[16], col[64];

	memset(t, 0, sizeof(*t));
	t->ncpus = 1;
	for (line = text; line && *line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		int rc = 0, n;
		if (!strncmp(line, "table ", 6)) {
			rc = sscanf(line + 6, "%127s", t->name) == 1 ? 0 : -EINVAL;
		} else if (!strncmp(line, "pin ", 4)) {
			rc = sscanf(line + 4, "%159s", t->rel) == 1 ? 0 : -EINVAL;
		} else if (!strncmp(line, "map ", 4)) {
			rc = sscanf(line + 4, "%63s %u %u %u %u", mtype, &t->max_entries, &t->key_size,
				    &t->value_size, &t->map_flags) == 5 &&
					     !type_by_name(mtype, &t->map_type)
				     ? 0
				     : -EINVAL;
			have_map = true;
		} else if (!strncmp(line, "merge ", 6)) {
			n = sscanf(line + 6, "%15s %63s", pol, col);
			rc = n >= 1 && !merge_parse(pol, &t->merge) &&
					     (t->merge == ADN_MERGE_LAST) == (n == 2)
				     ? 0
				     : -EINVAL;
			if (n == 2)
				snprintf(t->merge_col, sizeof(t->merge_col), "%s", col);
		} else if (!strncmp(line, "key ", 4) || !strncmp(line, "val ", 4)) {
			rc = parse_cols_line(t, line, path);
		} else if (!strncmp(line, "cpus ", 5)) {
			rc = sscanf(line + 5, "%u", &t->ncpus) == 1 && t->ncpus >= 1 && t->ncpus <= 8192
				     ? 0
				     : -EINVAL;
		} else if (!strncmp(line, "rows ", 5)) {
			rc = sscanf(line + 5, "%" SCNu64, &t->nrows) == 1 ? 0 : -EINVAL;
			have_rows = true;
		} else {
			rc = -EINVAL;
		}
		if (rc)
			return adn_err_set(err, EINVAL, "%s: section %d: bad schema line '%.80s'", path,
					   sec, line);
	}
	if (!*t->name || !*t->rel || !have_map || !have_rows || !t->key_size || !t->value_size)
		return adn_err_set(err, EINVAL, "%s: section %d: incomplete table schema", path, sec);
	for (int i = 0; i < t->nkey + t->nval; i++) {
		const struct adn_snap_col *c = i < t->nkey ? &t->key[i] : &t->val[i - t->nkey];
		uint32_t lim = i < t->nkey ? t->key_size : t->value_size;
		if (c->offset + c->size > lim)
			return adn_err_set(err, EINVAL, "%s: table %s: column '%s' lies outside the row",
					   path, t->name, c->name);
	}
	return 0;
}

int adn_snap_read(struct adn_snap *s, const char *path, struct adn_err *err)
{
	uint8_t *file = NULL, *raw = NULL;
	struct stat st;
	size_t size, pos;
	int fd, rc = 0;
	uint32_t nsec, layout;

	memset(s, 0, sizeof(*s));
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return adn_err_set(err, errno, "%s: %s", path, strerror(errno));
	if (fstat(fd, &st)) {
		rc = adn_err_set(err, errno, "%s: %s", path, strerror(errno));
		close(fd);
		return rc;
	}
	size = (size_t)st.st_size;
	file = malloc(size ? size : 1);
	if (!file) {
		close(fd);
		return adn_err_set(err, ENOMEM, "%s: out of memory", path);
	}
	for (pos = 0; pos < size;) {
		ssize_t n = read(fd, file + pos, size - pos);
		if (n <= 0) {
			rc = adn_err_set(err, n ? errno : EIO, "%s: read: %s", path,
					 n ? strerror(errno) : "short read");
			close(fd);
			goto out;
		}
		pos += (size_t)n;
	}
	close(fd);
	if (size < FILE_HDR_LEN || memcmp(file, ADN_SNAP_MAGIC, 8)) {
		rc = adn_err_set(err, EINVAL, "%s: not an adn snapshot (bad magic)", path);
		goto out;
	}
	if (get32(file + 20) != adn_crc32(file, 20)) {
		rc = adn_err_set(err, EINVAL, "%s: corrupt: file header CRC mismatch", path);
		goto out;
	}
	if (get32(file + 8) != ADN_SNAP_VERSION) {
		rc = adn_err_set(err, EINVAL, "%s: snapshot format version %u is not supported "
				 "(this adn-load reads version %d)", path, get32(file + 8),
				 ADN_SNAP_VERSION);
		goto out;
	}
	nsec = get32(file + 12);
	layout = get32(file + 16);
	if (nsec < 1 || nsec > 100000) {
		rc = adn_err_set(err, EINVAL, "%s: corrupt: %u sections", path, nsec);
		goto out;
	}
	pos = FILE_HDR_LEN;
	for (uint32_t i = 0; i < nsec; i++) {
		if (size - pos < SEC_HDR_LEN) {
			rc = adn_err_set(err, EINVAL, "%s: truncated: section %u of %u is missing", path,
					 i, nsec);
			goto out;
		}
		const uint8_t *h = file + pos;
		if (get32(h + 28) != adn_crc32(h, 28)) {
			rc = adn_err_set(err, EINVAL, "%s: corrupt: section %u header CRC mismatch", path, i);
			goto out;
		}
		uint32_t type = get32(h), flags = get32(h + 4);
		uint64_t raw_len = get64(h + 8), stored_len = get64(h + 16);
		pos += SEC_HDR_LEN;
		if (stored_len > size - pos) {
			rc = adn_err_set(err, EINVAL, "%s: truncated: section %u needs %" PRIu64
					 " bytes, %zu left", path, i, stored_len, size - pos);
			goto out;
		}
		if (get32(h + 24) != adn_crc32(file + pos, stored_len)) {
			rc = adn_err_set(err, EINVAL, "%s: corrupt: section %u data CRC mismatch", path, i);
			goto out;
		}
		if ((type != SEC_CHAIN && type != SEC_TABLE) || (i == 0) != (type == SEC_CHAIN) ||
		    flags != SEC_F_ZLIB || raw_len == 0 || raw_len > MAX_RAW) {
			rc = adn_err_set(err, EINVAL, "%s: corrupt: section %u has type %u flags %u length %"
					 PRIu64, path, i, type, flags, raw_len);
			goto out;
		}
		free(raw);
		raw = malloc(raw_len + 1);
		if (!raw) {
			rc = adn_err_set(err, ENOMEM, "%s: out of memory", path);
			goto out;
		}
		uLongf out_len = (uLongf)raw_len;
		if (uncompress(raw, &out_len, file + pos, (uLong)stored_len) != Z_OK ||
		    out_len != raw_len) {
			rc = adn_err_set(err, EINVAL, "%s: corrupt: section %u does not decompress", path, i);
			goto out;
		}
		raw[raw_len] = '\0';
		pos += stored_len;
		size_t tl = strnlen((char *)raw, raw_len);
		if (tl == raw_len) {
			rc = adn_err_set(err, EINVAL, "%s: corrupt: section %u has no header text", path, i);
			goto out;
		}
		if (type == SEC_CHAIN) {
			int tables = -1;
			char *line, *next;
			for (line = (char *)raw; line && *line; line = next) {
				next = strchr(line, '\n');
				if (next)
					*next++ = '\0';
				if (!strncmp(line, "chain=", 6))
					snprintf(s->chain, sizeof(s->chain), "%s", line + 6);
				else if (!strncmp(line, "wire_layout=", 12))
					s->wire_layout = (uint32_t)strtoul(line + 12, NULL, 0);
				else if (!strncmp(line, "created_ns=", 11))
					s->created_ns = strtoull(line + 11, NULL, 10);
				else if (!strncmp(line, "mono_offset_ns=", 15))
					s->mono_offset = strtoll(line + 15, NULL, 10);
				else if (!strncmp(line, "tables=", 7))
					tables = atoi(line + 7);
			}
			if (!*s->chain || tables != (int)nsec - 1) {
				rc = adn_err_set(err, EINVAL, "%s: corrupt: chain section", path);
				goto out;
			}
			s->t = calloc(nsec, sizeof(*s->t));
			if (!s->t) {
				rc = adn_err_set(err, ENOMEM, "out of memory");
				goto out;
			}
			continue;
		}
		struct adn_snap_table *t = &s->t[s->n];
		rc = parse_table(t, (char *)raw, path, (int)i, err);
		if (rc)
			goto out;
		s->n++;
		size_t row = t->key_size + adn_snap_row_vsize(t);
		if (raw_len - tl - 1 != t->nrows * row) {
			rc = adn_err_set(err, EINVAL, "%s: corrupt: table %s has %" PRIu64 " bytes of rows, "
					 "expected %" PRIu64 " rows of %zu", path, t->name,
					 raw_len - tl - 1, t->nrows, row);
			goto out;
		}
		if (grow_rows(t, t->nrows ? t->nrows : 1)) {
			rc = adn_err_set(err, ENOMEM, "out of memory");
			goto out;
		}
		const uint8_t *p = raw + tl + 1;
		for (uint64_t r = 0; r < t->nrows; r++, p += row) {
			memcpy(t->keys + r * t->key_size, p, t->key_size);
			memcpy(t->vals + r * adn_snap_row_vsize(t), p + t->key_size, adn_snap_row_vsize(t));
		}
	}
	if (pos != size) {
		rc = adn_err_set(err, EINVAL, "%s: corrupt: %zu unexpected bytes after the last section",
				 path, size - pos);
		goto out;
	}
	s->layout = adn_snap_layout_hash(s);
	if (s->layout != layout) {
		rc = adn_err_set(err, EINVAL, "%s: layout hash 0x%08x in the header does not match its "
				 "tables (0x%08x)", path, layout, s->layout);
		goto out;
	}
out:
	free(raw);
	free(file);
	if (rc)
		adn_snap_free(s);
	return rc;
}

int adn_snap_read_rows_fd(int fd, struct adn_snap_table *t, struct adn_err *err)
{
	return read_rows(fd, t, err);
}

void adn_snap_table_init(struct adn_snap_table *t, const struct adn_row_type *rt,
			 const char *name, const char *rel, uint32_t map_type,
			 uint32_t max_entries, uint32_t key_size, uint32_t value_size,
			 uint32_t map_flags)
{
	memset(t, 0, sizeof(*t));
	snprintf(t->name, sizeof(t->name), "%.127s", name);
	snprintf(t->rel, sizeof(t->rel), "%.159s", rel);
	t->map_type = map_type;
	t->max_entries = max_entries;
	t->key_size = key_size;
	t->value_size = value_size;
	t->map_flags = map_flags;
	t->ncpus = adn_map_is_percpu(map_type) ? (uint32_t)libbpf_num_possible_cpus() : 1;
	t->merge = strcmp(name, "adn_params") ? ADN_MERGE_UNION : ADN_MERGE_FIRST;
	cols_to_snap(&rt->key, t->key, &t->nkey);
	cols_to_snap(&rt->val, t->val, &t->nval);
}
