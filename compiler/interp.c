/* The reference interpreter of the IR (interp.h; docs/compiler.md "The
 * reference interpreter"). It works from the resolved statements of each
 * element, as the code generators do, but implements the language's rules
 * (docs/language.md) independently of the generated C: values are 64-bit
 * numbers in their resolved type, CHAR values byte strings, tables byte
 * rows in the C layout of the key and value structs. */
#include <stdlib.h>
#include <string.h>

#include "interp.h"
#include "tokenize.h"
#include "../bpf/adn_hash.h"

#define HDR_LEN 16
#define KIND_REQUEST 0
#define KIND_RESPONSE 1
#define F_NET_REPLY 1
#define STATUS_FAILED_PRECONDITION 9
#define MAX_JOINS 16

/* ---- tables ---------------------------------------------------------- */

struct interp_table {
	const struct ir_map *map;
	const struct table_decl *tab;
	int *off;       /* per column: offset in the key or the value struct */
	bool array, lru;
	uint64_t capacity;
	int ks, vs;
	/* ARRAY: capacity rows of vs bytes. Hash: n dense rows (key, value,
	 * last use) and an open-addressing index of row numbers + 1. */
	uint8_t *keys, *vals;
	uint64_t *used;
	size_t n, cap;
	uint32_t *index;
	size_t slots;
	uint64_t clock;
};

struct interp {
	const struct ir_chain *ir;
	struct interp_table *tables; /* state tables, ir->maps order */
	size_t n_tables;
	int **log_off; /* per map: column offsets of a log record */
	uint8_t *params;
	size_t params_size;
	int *param_off; /* per element (execution order), index of its first member */
	int *param_member_off;
	size_t n_members;
	enum ir_place only; /* interp_only_at: PLACE_NONE = the kernel's elements */
};

/* C layout of a struct of the given types (natural alignment, as
 * ir_struct_size): offsets into off[], returns the size. */
static int layout(const struct type *types, size_t n, int *off)
{
	int o = 0, max_align = 1;
	for (size_t i = 0; i < n; i++) {
		int al = type_align(types[i]);
		o = (o + al - 1) / al * al;
		off[i] = o;
		o += type_size(types[i]);
		if (al > max_align)
			max_align = al;
	}
	return (o + max_align - 1) / max_align * max_align;
}

static uint64_t hash_bytes(const uint8_t *p, int n)
{
	uint64_t h = 1469598103934665603ull;
	for (int i = 0; i < n; i++)
		h = (h ^ p[i]) * 1099511628211ull;
	return h;
}

static size_t *find_slot(const struct interp_table *t, const void *key, size_t *slot)
{
	if (!t->slots)
		return NULL;
	size_t mask = t->slots - 1;
	for (size_t s = (size_t)hash_bytes(key, t->ks) & mask;; s = (s + 1) & mask) {
		if (!t->index[s]) {
			*slot = s;
			return NULL;
		}
		if (!memcmp(t->keys + (size_t)(t->index[s] - 1) * (size_t)t->ks, key, (size_t)t->ks)) {
			*slot = s;
			return slot;
		}
	}
}

static void reindex(struct interp_table *t, size_t slots)
{
	free(t->index);
	t->slots = slots;
	t->index = calloc(slots, sizeof(*t->index));
	for (size_t r = 0; r < t->n; r++) {
		size_t s;
		find_slot(t, t->keys + r * (size_t)t->ks, &s);
		t->index[s] = (uint32_t)(r + 1);
	}
}

static int64_t row_of(const struct interp_table *t, const void *key)
{
	if (t->array) {
		uint32_t i;
		memcpy(&i, key, sizeof(i));
		return i < t->capacity ? (int64_t)i : -1;
	}
	size_t s;
	if (!find_slot(t, key, &s))
		return -1;
	return (int64_t)t->index[s] - 1;
}

void *interp_table_lookup(struct interp_table *t, const void *key)
{
	int64_t r = row_of(t, key);
	if (r < 0)
		return NULL;
	if (!t->array)
		t->used[r] = ++t->clock;
	return t->vals + (size_t)r * (size_t)t->vs;
}

int interp_table_delete(struct interp_table *t, const void *key)
{
	size_t s;
	if (t->array || !find_slot(t, key, &s))
		return -1;
	size_t r = t->index[s] - 1, last = t->n - 1;
	/* backward-shift deletion of slot s */
	size_t mask = t->slots - 1, hole = s;
	for (size_t j = (s + 1) & mask; t->index[j]; j = (j + 1) & mask) {
		size_t home = (size_t)hash_bytes(t->keys + (size_t)(t->index[j] - 1) * (size_t)t->ks, t->ks) & mask;
		/* can the entry at j move to the hole? (its home is not in (hole, j]) */
		bool between = hole <= j ? (home > hole && home <= j) : (home > hole || home <= j);
		if (!between) {
			t->index[hole] = t->index[j];
			hole = j;
		}
	}
	t->index[hole] = 0;
	if (r != last) { /* move the last row into r */
		size_t ls;
		find_slot(t, t->keys + last * (size_t)t->ks, &ls);
		memcpy(t->keys + r * (size_t)t->ks, t->keys + last * (size_t)t->ks, (size_t)t->ks);
		memcpy(t->vals + r * (size_t)t->vs, t->vals + last * (size_t)t->vs, (size_t)t->vs);
		t->used[r] = t->used[last];
		t->index[ls] = (uint32_t)(r + 1);
	}
	t->n--;
	return 0;
}

int interp_table_update(struct interp_table *t, const void *key, const void *val, bool noexist)
{
	int64_t r = row_of(t, key);
	if (t->array) {
		if (r < 0 || noexist) /* out of range; ARRAY rows always exist */
			return -1;
		memcpy(t->vals + (size_t)r * (size_t)t->vs, val, (size_t)t->vs);
		return 0;
	}
	if (r >= 0) {
		if (noexist)
			return -1;
		memcpy(t->vals + (size_t)r * (size_t)t->vs, val, (size_t)t->vs);
		t->used[r] = ++t->clock;
		return 0;
	}
	if (t->n >= t->capacity) {
		if (!t->lru)
			return -1; /* a full HASH refuses new rows */
		size_t victim = 0; /* LRU: the least recently used row goes */
		for (size_t i = 1; i < t->n; i++)
			if (t->used[i] < t->used[victim])
				victim = i;
		uint8_t *k = malloc((size_t)t->ks);
		memcpy(k, t->keys + victim * (size_t)t->ks, (size_t)t->ks);
		interp_table_delete(t, k);
		free(k);
	}
	if (t->n == t->cap) {
		t->cap = t->cap ? t->cap * 2 : 16;
		t->keys = realloc(t->keys, t->cap * (size_t)t->ks);
		t->vals = realloc(t->vals, t->cap * (size_t)t->vs);
		t->used = realloc(t->used, t->cap * sizeof(*t->used));
	}
	if ((t->n + 1) * 2 > t->slots)
		reindex(t, t->slots ? t->slots * 2 : 32);
	size_t s;
	find_slot(t, key, &s);
	memcpy(t->keys + t->n * (size_t)t->ks, key, (size_t)t->ks);
	memcpy(t->vals + t->n * (size_t)t->vs, val, (size_t)t->vs);
	t->used[t->n] = ++t->clock;
	t->index[s] = (uint32_t)(++t->n);
	return 0;
}

size_t interp_table_rows(const struct interp_table *t)
{
	return t->array ? (size_t)t->capacity : t->n;
}

bool interp_table_row(const struct interp_table *t, size_t i, const void **key, const void **val)
{
	static uint32_t idx; /* ARRAY keys: the index (valid until the next call) */
	if (i >= interp_table_rows(t))
		return false;
	if (t->array) {
		idx = (uint32_t)i;
		*key = &idx;
	} else {
		*key = t->keys + i * (size_t)t->ks;
	}
	*val = t->vals + i * (size_t)t->vs;
	return true;
}

size_t interp_n_tables(const struct interp *in) { return in->n_tables; }
struct interp_table *interp_table_at(struct interp *in, size_t i) { return i < in->n_tables ? &in->tables[i] : NULL; }
const struct ir_map *interp_table_map(const struct interp_table *t) { return t->map; }

struct interp_table *interp_table_by_name(struct interp *in, const char *name)
{
	for (size_t i = 0; i < in->n_tables; i++)
		if (!strcmp(in->tables[i].map->name, name))
			return &in->tables[i];
	return NULL;
}

static struct interp_table *table_of(struct interp *in, const struct table_decl *tab)
{
	for (size_t i = 0; i < in->n_tables; i++)
		if (in->tables[i].tab == tab)
			return &in->tables[i];
	return NULL;
}

static const struct ir_map *log_of(const struct interp *in, const struct table_decl *tab, int **off)
{
	for (size_t i = 0; i < in->ir->n_maps; i++)
		if (in->ir->maps[i].tab == tab) {
			*off = in->log_off[i];
			return &in->ir->maps[i];
		}
	return NULL;
}

/* ---- values ---------------------------------------------------------- */

struct joined {
	const struct join_clause *j;
	uint8_t key[512];
	uint8_t *val;
	const int *off;
};

struct ctx {
	struct interp *in;
	const struct ir_element *e;
	uint8_t *f; /* the frame prefix: header + network fields */
	const struct interp_env *env;
	struct joined rows[MAX_JOINS + 1];
	size_t n_rows;
	struct interp_verdict *route; /* where ROUTE TO REPLICA writes, or NULL */
};

static uint64_t load_le(const uint8_t *p, int n)
{
	uint64_t v = 0;
	for (int i = n - 1; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static void store_le(uint8_t *p, int n, uint64_t v)
{
	for (int i = 0; i < n; i++, v >>= 8)
		p[i] = (uint8_t)v;
}

/* A stored value of type t as a 64-bit number: signed types sign-extended. */
static uint64_t load_typed(const uint8_t *p, struct type t)
{
	int n = type_size(t);
	uint64_t v = load_le(p, n);
	if (type_is_signed(t) && n < 8 && (v >> (n * 8 - 1)) & 1)
		v |= ~0ull << (n * 8);
	return v;
}

static const struct joined *row_for(const struct ctx *c, const struct join_clause *j)
{
	for (size_t i = 0; i < c->n_rows; i++)
		if (c->rows[i].j == j)
			return &c->rows[i];
	return NULL;
}

static int col_index(const struct table_decl *t, const struct column_decl *col)
{
	return (int)(col - t->cols);
}

/* Where a CHAR / number value named by e is stored; its type in *t. */
static const uint8_t *name_addr(const struct ctx *c, const struct expr *e)
{
	switch (e->ref) {
	case REF_FIELD: {
		if (e->field->response) /* the response's bytes after the header */
			return e->resp_off >= 0 ? c->f + HDR_LEN + e->resp_off : NULL;
		const struct ir_net_field *nf = ir_net_field(c->in->ir, ir_field_source(c->e, e->field));
		return nf ? c->f + HDR_LEN + nf->offset : NULL;
	}
	case REF_PARAM: {
		size_t pi = (size_t)(e->param - c->e->decl->params);
		size_t ei = (size_t)(c->e - c->in->ir->elems);
		return c->in->params + c->in->param_member_off[c->in->param_off[ei] + (int)pi];
	}
	case REF_COLUMN: {
		const struct joined *r = row_for(c, e->join);
		if (!r)
			return NULL;
		int o = r->off[col_index(e->join->tab, e->column)];
		return e->column->primary_key ? r->key + o : r->val + o;
	}
	default:
		return NULL;
	}
}

static uint64_t meta_value(const struct ctx *c, enum meta_col m)
{
	switch (m) {
	case META_RPC_ID: return load_le(c->f + 4, 4);
	case META_METHOD: return load_le(c->f + 8, 2);
	case META_KIND: return c->f[10];
	case META_STATUS: return c->f[11];
	case META_LEN: return load_le(c->f, 4);
	}
	return 0;
}

/* The n bytes of a CHAR value (a literal NUL-padded; a shorter CHAR too). */
static void char_bytes(const struct ctx *c, const struct expr *e, uint8_t *out, int n)
{
	memset(out, 0, (size_t)n);
	if (e->kind == EX_STRING) {
		memcpy(out, e->str, (size_t)(e->str_len < n ? e->str_len : n));
		return;
	}
	const uint8_t *p = name_addr(c, e);
	int m = e->type.len < n ? e->type.len : n;
	if (p)
		memcpy(out, p, (size_t)m);
}

static uint64_t eval(struct ctx *c, const struct expr *e);

static bool literal_negative(const struct expr *e, uint64_t v)
{
	return e->type.kind == TY_INT_LITERAL && (int64_t)v < 0;
}

/* a op b on numbers: INT64 if a side is signed (or a negative literal),
 * REAL and everything else unsigned (docs/language.md "Typing rules"). */
static bool compare_numbers(int op, uint64_t a, uint64_t b, bool is_signed)
{
	int r;
	if (is_signed)
		r = (int64_t)a < (int64_t)b ? -1 : (int64_t)a > (int64_t)b;
	else
		r = a < b ? -1 : a > b;
	switch (op) {
	case TOK_EQ: return r == 0;
	case TOK_NE: return r != 0;
	case TOK_LT: return r < 0;
	case TOK_LE: return r <= 0;
	case TOK_GT: return r > 0;
	case TOK_GE: return r >= 0;
	}
	return false;
}

static uint64_t eval_compare(struct ctx *c, const struct expr *e)
{
	const struct expr *l = e->lhs, *r = e->rhs;
	struct type lt = l->type, rt = r->type;
	if (lt.kind == TY_CHAR || rt.kind == TY_CHAR) {
		int n = lt.kind == TY_CHAR ? lt.len : rt.len;
		uint8_t a[256], b[256];
		char_bytes(c, l, a, n);
		char_bytes(c, r, b, n);
		int m = memcmp(a, b, (size_t)n);
		return compare_numbers(e->op, (uint64_t)(int64_t)m, 0, true);
	}
	uint64_t a = l->kind == EX_STRING && l->enum_value >= 0 ? (uint64_t)l->enum_value : eval(c, l);
	uint64_t b = r->kind == EX_STRING && r->enum_value >= 0 ? (uint64_t)r->enum_value : eval(c, r);
	bool real = lt.kind == TY_REAL || rt.kind == TY_REAL;
	bool sgn = !real && (type_is_signed(lt) || type_is_signed(rt) || literal_negative(l, a) ||
			     literal_negative(r, b));
	return compare_numbers(e->op, a, b, sgn);
}

static uint64_t real_mul(uint64_t a, uint64_t b)
{
	return (uint64_t)(((unsigned __int128)a * b) >> 32);
}

static uint64_t eval_arith(struct ctx *c, const struct expr *e)
{
	uint64_t a = eval(c, e->lhs), b = eval(c, e->rhs);
	bool sgn = e->type.kind == TY_INT64 || e->type.kind == TY_INT_LITERAL;
	switch (e->op) {
	case TOK_PLUS: return a + b;
	case TOK_MINUS: return a - b;
	case TOK_STAR:
		if (e->lhs->type.kind == TY_REAL && e->rhs->type.kind == TY_REAL)
			return real_mul(a, b);
		return a * b; /* REAL * integer: the integer scales the 32.32 value */
	case TOK_SLASH:
	case TOK_PERCENT: {
		bool div = e->op == TOK_SLASH;
		if (b == 0) /* eBPF: x / 0 = 0, x % 0 = x */
			return div ? 0 : a;
		if (sgn && e->type.kind != TY_REAL) {
			int64_t x = (int64_t)a, y = (int64_t)b;
			if (x == INT64_MIN && y == -1)
				return div ? a : 0;
			return div ? (uint64_t)(x / y) : (uint64_t)(x % y);
		}
		return div ? a / b : a % b;
	}
	}
	return 0;
}

static uint64_t eval_call(struct ctx *c, const struct expr *e)
{
	const struct interp_env *env = c->env;
	switch (e->func) {
	case FN_RANDOM:
		return env && env->random ? env->random(env->ctx) : 0;
	case FN_NOW:
		return env && env->now ? env->now(env->ctx) : 0;
	case FN_LOG2: {
		uint64_t v = eval(c, e->args[0]);
		uint32_t r = 0;
		while (v >>= 1)
			r++;
		return r;
	}
	case FN_MIN:
	case FN_MAX: {
		bool sgn = e->type.kind == TY_INT64;
		uint64_t best = eval(c, e->args[0]);
		for (size_t i = 1; i < e->n_args; i++) {
			uint64_t v = eval(c, e->args[i]);
			bool less = sgn ? (int64_t)v < (int64_t)best : v < best;
			bool more = sgn ? (int64_t)v > (int64_t)best : v > best;
			if (e->func == FN_MIN ? less : more)
				best = v;
		}
		return best;
	}
	case FN_HASH: {
		/* bpf/adn_hash.h: a number mixes once as 64 bits, a CHAR in
		 * little-endian chunks of 8, 4, 2, 1 bytes */
		uint64_t h = ADN_HASH_SEED;
		for (size_t i = 0; i < e->n_args; i++) {
			const struct expr *a = e->args[i];
			if (a->type.kind != TY_CHAR) {
				h = adn_hash_mix(h, eval(c, a));
				continue;
			}
			uint8_t b[256];
			int n = a->type.len;
			char_bytes(c, a, b, n);
			for (int off = 0; off < n;) {
				int k = n - off >= 8 ? 8 : n - off >= 4 ? 4 : n - off >= 2 ? 2 : 1;
				h = adn_hash_mix(h, load_le(b + off, k));
				off += k;
			}
		}
		return adn_hash_fin(h);
	}
	}
	return 0;
}

static uint64_t eval_raw(struct ctx *c, const struct expr *e)
{
	switch (e->kind) {
	case EX_INT: case EX_REAL: case EX_BOOL:
		return e->ival;
	case EX_STRING:
		return e->enum_value >= 0 ? (uint64_t)e->enum_value : 0;
	case EX_NAME:
		if (e->ref == REF_META)
			return meta_value(c, e->meta);
		{
			const uint8_t *p = name_addr(c, e);
			return p ? load_typed(p, e->type) : 0;
		}
	case EX_CALL:
		return eval_call(c, e);
	case EX_CASE:
		for (size_t i = 0; i + 1 < e->n_args; i += 2)
			if (eval(c, e->args[i]))
				return eval(c, e->args[i + 1]);
		return eval(c, e->rhs);
	case EX_UNARY:
		if (e->op == 'N')
			return !eval(c, e->lhs);
		return -eval(c, e->lhs);
	case EX_BINARY:
		switch (e->op) {
		case 'A': return eval(c, e->lhs) && eval(c, e->rhs);
		case 'O': return eval(c, e->lhs) || eval(c, e->rhs);
		case 'L': {
			int n = e->like_len >= 0 ? e->like_len : e->lhs->type.len;
			uint8_t a[256], b[256];
			char_bytes(c, e->lhs, a, e->lhs->type.len);
			char_bytes(c, e->rhs, b, e->lhs->type.len);
			return !memcmp(a, b, (size_t)n);
		}
		case TOK_EQ: case TOK_NE: case TOK_LT: case TOK_LE: case TOK_GT: case TOK_GE:
			return eval_compare(c, e);
		default:
			return eval_arith(c, e);
		}
	}
	return 0;
}

/* The value of a number, BOOL, enum or REAL expression as 64 bits (signed
 * types sign-extended); an integer used as REAL is converted to 32.32. */
static uint64_t eval(struct ctx *c, const struct expr *e)
{
	uint64_t v = eval_raw(c, e);
	return e->int_to_real ? v << 32 : v;
}

/* dst (a column, record member or field of type t) = v */
static void store(struct ctx *c, uint8_t *dst, struct type t, const struct expr *v)
{
	if (t.kind == TY_CHAR) {
		char_bytes(c, v, dst, t.len);
		return;
	}
	store_le(dst, type_size(t), eval(c, v));
}

/* ---- statements -------------------------------------------------------- */

static int *table_offsets(struct interp *in, const struct table_decl *tab)
{
	struct interp_table *t = table_of(in, tab);
	return t ? t->off : NULL;
}

/* Looks up a row by the key values of j; false if there is none. */
static bool join_row(struct ctx *c, const struct join_clause *j)
{
	struct interp_table *t = table_of(c->in, j->tab);
	if (!t || c->n_rows > MAX_JOINS)
		return false;
	struct joined *r = &c->rows[c->n_rows];
	memset(r->key, 0, sizeof(r->key));
	r->j = j;
	r->off = t->off;
	size_t k = 0;
	for (size_t i = 0; i < j->tab->n_cols; i++)
		if (j->tab->cols[i].primary_key)
			store(c, r->key + t->off[i], j->tab->cols[i].type, j->key_vals[k++]);
	r->val = interp_table_lookup(t, r->key);
	if (!r->val)
		return false;
	c->n_rows++;
	return true;
}

static bool joins_and_where(struct ctx *c, const struct select_insert *s)
{
	for (size_t i = 0; i < s->n_joins; i++)
		if (!join_row(c, &s->joins[i]))
			return false;
	return !s->where || eval(c, s->where);
}

static void exec_log(struct ctx *c, const struct select_insert *s)
{
	int *off;
	const struct ir_map *m = log_of(c->in, s->log, &off);
	if (!m || !joins_and_where(c, s))
		return;
	uint8_t *rec = calloc(1, (size_t)m->record_size);
	for (size_t i = 0; i < s->log->n_cols; i++)
		store(c, rec + off[i], s->log->cols[i].type, s->exprs[i]);
	if (c->env && c->env->log)
		c->env->log(c->env->ctx, m, rec, (size_t)m->record_size);
	free(rec);
}

static void exec_insert(struct ctx *c, const struct select_insert *s)
{
	struct interp_table *t = table_of(c->in, s->table);
	if (!t || !joins_and_where(c, s))
		return;
	uint8_t *key = calloc(1, (size_t)t->ks + 1), *val = calloc(1, (size_t)t->vs + 1);
	for (size_t i = 0; i < s->table->n_cols; i++) {
		const struct column_decl *col = &s->table->cols[i];
		store(c, (col->primary_key ? key : val) + t->off[i], col->type, s->exprs[i]);
	}
	interp_table_update(t, key, val, !s->replace);
	free(key);
	free(val);
}

/* SET values, all computed before any is stored (SQL). */
static void exec_sets(struct ctx *c, const struct select_insert *s, uint8_t *row, const int *off,
		      int *rw)
{
	uint8_t tmp[16][256];
	size_t n = s->n_sets < 16 ? s->n_sets : 16;
	for (size_t i = 0; i < n; i++) {
		const struct set_clause *sc = &s->sets[i];
		struct type t = s->to_input ? sc->field->type : sc->column->type;
		store(c, tmp[i], t, sc->value);
	}
	for (size_t i = 0; i < n; i++) {
		const struct set_clause *sc = &s->sets[i];
		uint8_t *dst;
		struct type t;
		if (s->to_input) {
			const struct ir_net_field *nf =
				ir_net_field(c->in->ir, ir_field_source(c->e, sc->field));
			if (!nf)
				continue;
			dst = c->f + HDR_LEN + nf->offset;
			t = sc->field->type;
		} else {
			t = sc->column->type;
			dst = row + off[col_index(s->table, sc->column)];
		}
		memcpy(dst, tmp[i], (size_t)type_size(t));
	}
	if (s->to_input)
		*rw = 1;
}

static bool filters_hold(struct ctx *c, const struct select_insert *s)
{
	for (size_t i = 0; i < s->n_filters; i++)
		if (!eval(c, s->filters[i]))
			return false;
	return true;
}

static void exec_update(struct ctx *c, const struct select_insert *s, int *rw)
{
	for (size_t i = 0; i < s->n_joins; i++)
		if (!join_row(c, &s->joins[i]))
			return;
	if (s->to_input) {
		if (s->where && !eval(c, s->where))
			return;
		exec_sets(c, s, NULL, NULL, rw);
		return;
	}
	if (!join_row(c, &s->target_join) || !filters_hold(c, s))
		return;
	const struct joined *r = &c->rows[c->n_rows - 1];
	exec_sets(c, s, r->val, table_offsets(c->in, s->table), rw);
}

static void exec_delete(struct ctx *c, const struct select_insert *s)
{
	struct interp_table *t = table_of(c->in, s->table);
	if (!t)
		return;
	bool found = join_row(c, &s->target_join);
	if (s->n_filters && (!found || !filters_hold(c, s)))
		return;
	/* the key was built by join_row even when no row matched */
	interp_table_delete(t, c->rows[c->n_rows - (found ? 1 : 0)].key);
}

/* INSERT INTO reply: true if it answers; the response fields are then in
 * the frame after the header (zero-padded to whole words), as the
 * generated code writes them. */
static bool exec_reply(struct ctx *c, const struct select_insert *s)
{
	uint8_t tmp[16][256];
	size_t n = s->n_exprs < 16 ? s->n_exprs : 16;

	if (!joins_and_where(c, s) || s->reply_size < 0)
		return false;
	for (size_t i = 0; i < n; i++)
		store(c, tmp[i], s->reply_field[i]->type, s->exprs[i]);
	memset(c->f + HDR_LEN, 0, (size_t)(s->reply_size + 3) / 4 * 4);
	for (size_t i = 0; i < n; i++)
		memcpy(c->f + HDR_LEN + s->reply_off[i], tmp[i], (size_t)type_size(s->reply_field[i]->type));
	return true;
}

/* One element, one direction: 0 (pass), its drop status, or
 * INTERP_ANSWER(n) when it answered. */
static int run_element(struct interp *in, const struct ir_element *e, enum direction d, uint8_t *f,
		       const struct interp_env *env, int *rw, struct interp_verdict *route)
{
	const struct on_block *on = &e->decl->on[d];
	bool has_output = false, passed = false;
	struct ctx *c = calloc(1, sizeof(*c));

	c->in = in;
	c->e = e;
	c->f = f;
	c->env = env;
	c->route = route;
	for (size_t i = 0; i < on->n_stmts; i++) {
		const struct select_insert *s = &on->stmts[i];
		c->n_rows = 0;
		if (s->to_output) {
			has_output = true;
			passed |= joins_and_where(c, s);
		} else if (s->kind == ST_INSERT && s->log) {
			exec_log(c, s);
		} else if (s->kind == ST_INSERT) {
			exec_insert(c, s);
		} else if (s->kind == ST_UPDATE) {
			exec_update(c, s, rw);
		} else if (s->kind == ST_DELETE) {
			exec_delete(c, s);
		} else if (s->kind == ST_REPLY) {
			if (exec_reply(c, s)) {
				free(c);
				return INTERP_ANSWER_CODE(s->reply_size);
			}
		} else if (s->kind == ST_ROUTE) {
			if (joins_and_where(c, s) && c->route) {
				c->route->routed = true;
				c->route->route = eval(c, s->exprs[0]);
			}
		}
	}
	free(c);
	return has_output && passed ? 0 : e->decl->drop_code;
}

static bool runs(const struct interp *in, const struct ir_element *e, enum direction d)
{
	if (e->decl->in_app || !e->has[d])
		return false;
	return in->only == PLACE_NONE ? e->place != PLACE_APP : e->place == in->only;
}

void interp_only_at(struct interp *in, enum ir_place p)
{
	in->only = p;
}

static int chain_request(struct interp *in, uint8_t *prefix, const struct interp_env *env, uint32_t *at,
			 struct interp_verdict *route)
{
	int rw = 0;
	for (size_t i = 0; i < in->ir->n_elems; i++) {
		const struct ir_element *e = &in->ir->elems[i];
		if (!runs(in, e, DIR_REQUEST))
			continue;
		int st = run_element(in, e, DIR_REQUEST, prefix, env, &rw, route);
		if (st) {
			*at = (uint32_t)i;
			return st;
		}
	}
	return rw ? INTERP_PASS_REWRITE : 0;
}

int interp_chain_request(struct interp *in, uint8_t *prefix, const struct interp_env *env, uint32_t *at)
{
	return chain_request(in, prefix, env, at, NULL);
}

int interp_chain_response(struct interp *in, uint8_t *prefix, uint32_t from, const struct interp_env *env)
{
	int rw = 0;
	for (size_t i = from; i-- > 0;) {
		const struct ir_element *e = &in->ir->elems[i];
		if (!runs(in, e, DIR_RESPONSE))
			continue;
		int st = run_element(in, e, DIR_RESPONSE, prefix, env, &rw, NULL);
		if (st)
			return st;
	}
	return 0;
}

/* bpf/adn_dgram.h adn_dgram_decide, on the payload bytes. */
void interp_datagram(struct interp *in, uint8_t *frame, size_t len, int request,
		     const struct interp_env *env, struct interp_verdict *v)
{
	size_t plen = HDR_LEN + (size_t)in->ir->net_size;
	/* the runtime's buffer: the prefix, or room for a reply's fields */
	size_t blen = plen > INTERP_ANSWER_MAX ? plen : INTERP_ANSWER_MAX;
	uint8_t *pre;

	memset(v, 0, sizeof(*v));
	v->at = -1;
	if (len < HDR_LEN || load_le(frame, 4) != len ||
	    frame[10] != (request ? KIND_REQUEST : KIND_RESPONSE)) {
		v->action = INTERP_BAD;
		return;
	}
	pre = calloc(1, blen + 4);
	/* a request: the prefix; a response: its first bytes (response sides
	 * may read response fields; zeros past its end) */
	memcpy(pre, frame, len < (request ? plen : blen) ? len : (request ? plen : blen));
	if (!request) {
		uint16_t flags = (uint16_t)load_le(frame + 12, 2);
		int st = flags & F_NET_REPLY ? 0 : interp_chain_response(in, pre, (uint32_t)in->ir->n_elems, env);
		if (st) {
			frame[11] = (uint8_t)st;
			v->action = INTERP_STATUS;
			v->status = st;
		}
		free(pre);
		return;
	}
	uint16_t layout = (uint16_t)load_le(frame + 14, 2);
	if (layout && layout != (uint16_t)in->ir->layout_hash) {
		frame[10] = KIND_RESPONSE;
		frame[11] = STATUS_FAILED_PRECONDITION;
		store_le(frame + 12, 2, load_le(frame + 12, 2) | F_NET_REPLY);
		v->action = INTERP_REPLY;
		v->status = STATUS_FAILED_PRECONDITION;
		free(pre);
		return;
	}
	if (len < plen) {
		v->action = INTERP_BAD;
		free(pre);
		return;
	}
	uint32_t at = 0;
	int st = chain_request(in, pre, env, &at, v);
	if (st == INTERP_PASS_REWRITE) {
		memcpy(frame + HDR_LEN, pre + HDR_LEN, (size_t)in->ir->net_size);
		v->action = INTERP_REWRITE;
	} else if (st & INTERP_ANSWER_BIT) {
		/* the network's reply with the response fields the element
		 * wrote: status OK, the elements before it see it */
		v->routed = false;
		v->len = HDR_LEN + (size_t)(st & 0xff);
		store_le(pre, 4, v->len);
		pre[10] = KIND_RESPONSE;
		pre[11] = 0;
		store_le(pre + 12, 2, load_le(pre + 12, 2) | F_NET_REPLY);
		v->action = INTERP_ANSWER;
		v->at = (int)at;
		interp_chain_response(in, pre, at, env);
		memcpy(frame, pre, v->len);
	} else if (st) {
		v->routed = false;
		/* the reply: header bytes 10..13 change, rewrites are not written */
		pre[10] = KIND_RESPONSE;
		pre[11] = (uint8_t)st;
		store_le(pre + 12, 2, load_le(pre + 12, 2) | F_NET_REPLY);
		memcpy(frame + 10, pre + 10, 4);
		v->action = INTERP_REPLY;
		v->status = st;
		v->at = (int)at;
		/* the elements before the dropping one see the reply; what they
		 * return is not written anywhere */
		interp_chain_response(in, pre, at, env);
	}
	free(pre);
}

/* ---- setup ------------------------------------------------------------- */

uint8_t *interp_params(struct interp *in, size_t *size)
{
	if (size)
		*size = in->params_size;
	return in->params;
}

uint8_t *interp_param(struct interp *in, const char *element, const char *param, struct type *type)
{
	for (size_t ei = 0; ei < in->ir->n_elems; ei++) {
		const struct element_decl *el = in->ir->elems[ei].decl;
		if (strcmp(el->name, element))
			continue;
		for (size_t i = 0; i < el->n_params; i++)
			if (!strcmp(el->params[i].name, param)) {
				if (type)
					*type = el->params[i].type;
				return in->params + in->param_member_off[in->param_off[ei] + (int)i];
			}
	}
	return NULL;
}

/* A literal of a row or a parameter value, stored as type t. */
static void store_literal(struct interp *in, uint8_t *dst, struct type t, const struct expr *v)
{
	struct ctx c = { .in = in };
	store(&c, dst, t, v);
}

static void init_table(struct interp *in, struct interp_table *t, const struct ir_map *m)
{
	const struct table_decl *tab = m->tab;
	struct type keys[256], vals[256];
	int koff[256], voff[256];
	size_t nk = 0, nv = 0;

	t->map = m;
	t->tab = tab;
	t->capacity = m->max_entries;
	t->array = m->kind == MAP_ARRAY || m->kind == MAP_PERCPU_ARRAY;
	t->lru = m->kind == MAP_LRU_HASH;
	t->off = calloc(tab->n_cols + 1, sizeof(int));
	for (size_t i = 0; i < tab->n_cols && i < 256; i++) {
		if (tab->cols[i].primary_key)
			keys[nk++] = tab->cols[i].type;
		else
			vals[nv++] = tab->cols[i].type;
	}
	t->ks = layout(keys, nk, koff);
	t->vs = layout(vals, nv, voff);
	nk = nv = 0;
	for (size_t i = 0; i < tab->n_cols && i < 256; i++)
		t->off[i] = tab->cols[i].primary_key ? koff[nk++] : voff[nv++];
	if (t->array)
		t->vals = calloc(t->capacity ? t->capacity : 1, (size_t)t->vs);
	(void)in;
}

struct interp *interp_new(const struct ir_chain *ir)
{
	struct interp *in = calloc(1, sizeof(*in));
	in->ir = ir;

	/* parameters: struct adn_params, members in execution order */
	size_t n = 0;
	for (size_t ei = 0; ei < ir->n_elems; ei++)
		n += ir->elems[ei].decl->n_params;
	struct type *types = calloc(n + 1, sizeof(*types));
	in->param_member_off = calloc(n + 1, sizeof(int));
	in->param_off = calloc(ir->n_elems + 1, sizeof(int));
	n = 0;
	for (size_t ei = 0; ei < ir->n_elems; ei++) {
		in->param_off[ei] = (int)n;
		for (size_t i = 0; i < ir->elems[ei].decl->n_params; i++)
			types[n++] = ir->elems[ei].decl->params[i].type;
	}
	in->n_members = n;
	in->params_size = n ? (size_t)layout(types, n, in->param_member_off) : 1;
	in->params = calloc(1, in->params_size);
	for (size_t ei = 0; ei < ir->n_elems; ei++) {
		const struct ir_element *e = &ir->elems[ei];
		for (size_t i = 0; i < e->decl->n_params; i++)
			store_literal(in, in->params + in->param_member_off[in->param_off[ei] + (int)i],
				      e->decl->params[i].type, e->use->param_value[i]);
	}
	free(types);

	/* tables and the layout of log records */
	in->tables = calloc(ir->n_maps + 1, sizeof(*in->tables));
	in->log_off = calloc(ir->n_maps + 1, sizeof(*in->log_off));
	for (size_t mi = 0; mi < ir->n_maps; mi++) {
		const struct ir_map *m = &ir->maps[mi];
		if (!m->tab)
			continue;
		if (m->kind == MAP_RINGBUF) {
			struct type cols[256];
			size_t nc = m->tab->n_cols < 256 ? m->tab->n_cols : 256;
			for (size_t i = 0; i < nc; i++)
				cols[i] = m->tab->cols[i].type;
			in->log_off[mi] = calloc(nc + 1, sizeof(int));
			layout(cols, nc, in->log_off[mi]);
			continue;
		}
		init_table(in, &in->tables[in->n_tables++], m);
	}

	/* initial rows, in the order of the program (the loader inserts the
	 * row= lines in order; a later row with the same key replaces) */
	for (size_t ei = 0; ei < ir->n_elems; ei++) {
		const struct element_decl *el = ir->elems[ei].decl;
		for (size_t ii = 0; ii < el->n_inserts; ii++) {
			const struct rows_insert *ins = &el->inserts[ii];
			struct interp_table *t = ins->tab ? table_of(in, ins->tab) : NULL;
			if (!t)
				continue;
			uint8_t *key = calloc(1, (size_t)t->ks + 1), *val = calloc(1, (size_t)t->vs + 1);
			for (size_t r = 0; r < ins->n_rows; r++) {
				memset(key, 0, (size_t)t->ks);
				memset(val, 0, (size_t)t->vs);
				/* columns left out: their DEFAULT (the row= line
				 * carries it, codegen_bpf.c build_meta) */
				for (size_t ci = 0; ci < ins->tab->n_cols; ci++) {
					const struct column_decl *col = &ins->tab->cols[ci];
					if (col->def && !col->primary_key)
						store_literal(in, val + t->off[ci], col->type, col->def);
				}
				for (size_t ci = 0; ci < ins->rows[r].n_vals; ci++) {
					const struct column_decl *col = ins->col_of[ci];
					int i = col_index(ins->tab, col);
					store_literal(in, (col->primary_key ? key : val) + t->off[i], col->type,
						      ins->rows[r].vals[ci]);
				}
				interp_table_update(t, key, val, false);
			}
			free(key);
			free(val);
		}
	}
	return in;
}

void interp_free(struct interp *in)
{
	if (!in)
		return;
	for (size_t i = 0; i < in->n_tables; i++) {
		struct interp_table *t = &in->tables[i];
		free(t->off);
		free(t->keys);
		free(t->vals);
		free(t->used);
		free(t->index);
	}
	for (size_t i = 0; i < in->ir->n_maps; i++)
		free(in->log_off[i]);
	free(in->log_off);
	free(in->tables);
	free(in->params);
	free(in->param_off);
	free(in->param_member_off);
	free(in);
}
