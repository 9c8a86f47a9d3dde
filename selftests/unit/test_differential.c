/* SPDX-License-Identifier: MIT */
/*
 * Differential tests: the kernel program adnc generates and the reference
 * interpreter (compiler/interp.c) on the same random RPCs must agree on
 * every verdict (pass, rewrite, the network's reply with its status and the
 * index of the dropping element, a response's new status, malformed), every
 * byte of the frame that comes out, every log record, and every table row.
 *
 * How the kernel side runs: each chain is compiled as TRANSPORT UDP with
 * every element at TC (the wire layout does not depend on it), so its TC
 * program runs under BPF_PROG_TEST_RUN on Ethernet/IPv4/UDP packets built
 * here. now() and random() are made inputs: the generated C is changed in
 * exactly two kinds of places, the calls adn_now() and adn_random(), which
 * read a test map (adn_test_env) holding the frozen clock of this RPC and a
 * sequence of 32 random words that the interpreter gets too; and the TC
 * runtime's chain call is wrapped to record the status and the `at` index
 * (docs/compiler.md "The reference interpreter"). The process is pinned to
 * one CPU so that per-CPU tables have one copy to compare. Maps start with
 * the interpreter's initial state (rows, parameters).
 *
 * ADN_DIFF_RPCS (default 10000) requests per chain, ADN_DIFF_SEED the seed,
 * ADN_DIFF_ONLY=<name> one chain.
 * Needs root; without it says SKIP and passes.
 */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <check.h>
#include <sched.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "build.h"
#include "interp_util.h"
#include "tokenize.h"
#include "../../bpf/adn_route_abi.h"

#define PORT_CLIENT 40000
#define N_RND 32
#define TC_ACT_OK_ 0
#define TC_ACT_SHOT_ 2
#define TC_ACT_REDIRECT_ 7

/* Must match the struct in the C prelude below. */
struct test_env {
	uint64_t now;
	uint32_t idx, status, at, calls;
	uint32_t rnd[N_RND];
};

static const char PRELUDE[] =
	"\n/* ---- differential test: now() and random() are inputs ---- */\n"
	"struct adn_test_env { __u64 now; __u32 idx, status, at, calls; __u32 rnd[32]; };\n"
	"struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 1); __type(key, __u32);\n"
	"\t__type(value, struct adn_test_env); } adn_test_env SEC(\".maps\");\n"
	"static __always_inline struct adn_test_env *adn_test_get(void)\n"
	"{ __u32 z = 0; return bpf_map_lookup_elem(&adn_test_env, &z); }\n"
	"static __always_inline __attribute__((unused)) adn_time_t adn_test_now(void)\n"
	"{ struct adn_test_env *t = adn_test_get(); return t ? t->now : 0; }\n"
	"static __always_inline __attribute__((unused)) adn_real_t adn_test_random(void)\n"
	"{ struct adn_test_env *t = adn_test_get(); __u32 i; if (!t) return 0; i = t->idx++; return t->rnd[i & 31]; }\n\n";

static const char WRAPPER[] =
	"/* ---- differential test: the chain's verdict and `at` ---- */\n"
	"static __always_inline int adn_test_chain_request(struct adn_frame *f, __u32 *at)\n"
	"{ int s = adn_chain_request(f, at); struct adn_test_env *t = adn_test_get();\n"
	"  if (t) { t->status = s; t->at = *at; t->calls++; } return s; }\n"
	"#undef ADN_TC_CHAIN_REQUEST\n#define ADN_TC_CHAIN_REQUEST adn_test_chain_request\n\n";

static int have_root;
static char tmpdir[] = "/tmp/adn-diff.XXXXXX";
static int ncpu, mycpu;

/* ---- records ---------------------------------------------------------- */

struct rec {
	const struct ir_map *m;
	size_t size;
	uint8_t *data;
};

struct recq {
	struct rec *v;
	size_t n, cap;
};

static void recq_push(struct recq *q, const struct ir_map *m, const void *data, size_t size)
{
	if (q->n == q->cap) {
		q->cap = q->cap ? q->cap * 2 : 16;
		q->v = realloc(q->v, q->cap * sizeof(*q->v));
	}
	q->v[q->n].m = m;
	q->v[q->n].size = size;
	q->v[q->n].data = malloc(size ? size : 1);
	memcpy(q->v[q->n].data, data, size);
	q->n++;
}

static void recq_clear(struct recq *q)
{
	for (size_t i = 0; i < q->n; i++)
		free(q->v[i].data);
	q->n = 0;
}

/* ---- one chain under test --------------------------------------------- */

struct ring_ctx {
	struct diff *d;
	const struct ir_map *m;
};

struct diff {
	const char *name;
	struct adnc_unit *u;
	const struct ir_chain *ir;
	struct interp *in;
	struct bpf_object *obj;
	int prog, env_fd;
	int *fds; /* per interp table */
	struct ring_buffer *rb;
	struct ring_ctx rctx[32];
	struct recq kq, iq;
	struct test_env env; /* this RPC's clock and random words */
	uint32_t used_rnd;
	uint64_t rng;
	/* the vocabulary of values */
	const char *strs[128];
	int str_len[128];
	size_t n_strs;
	size_t n_prog_strs; /* the first ones come from the program */
	uint64_t ints[128];
	size_t n_ints, n_prog_ints;
	/* network fields of requests that passed: new requests mutate them */
	uint8_t pool[32][256];
	size_t n_pool;
	/* requests that passed and wait for their response */
	struct { uint32_t rpc_id; uint16_t method; } out[256];
	size_t n_out;
	/* counts, for the report */
	unsigned long requests, responses, passed, rewritten, replies, statuses, bad, records;
	unsigned long answers, routed;
	/* the replica set of a routing chain (ROUTE TO REPLICA), as the map holds it */
	struct adn_replica_set replicas;
	unsigned long drops_at[16];
};

static uint64_t rnd(struct diff *d)
{
	uint64_t x = d->rng;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return d->rng = x;
}

static uint64_t below(struct diff *d, uint64_t n)
{
	return n ? rnd(d) % n : 0;
}

static uint64_t env_now(void *ctx)
{
	return ((struct diff *)ctx)->env.now;
}

static uint32_t env_random(void *ctx)
{
	struct diff *d = ctx;
	return d->env.rnd[d->used_rnd++ & (N_RND - 1)];
}

static void env_log(void *ctx, const struct ir_map *m, const void *rec, size_t size)
{
	recq_push(&((struct diff *)ctx)->iq, m, rec, size);
}

static int on_ring(void *ctx, void *data, size_t size)
{
	struct ring_ctx *r = ctx;
	recq_push(&r->d->kq, r->m, data, size);
	return 0;
}

static void write_map_value(int fd, const struct ir_map *m, const void *key, const void *val, int vs);

/* ---- the vocabulary: literals of the program, and their neighbours ---- */

static void add_str(struct diff *d, const char *s, int n)
{
	for (size_t i = 0; i < d->n_strs; i++)
		if (d->str_len[i] == n && !memcmp(d->strs[i], s, (size_t)n))
			return;
	if (d->n_strs < 128) {
		d->strs[d->n_strs] = s;
		d->str_len[d->n_strs++] = n;
	}
}

static void add_int(struct diff *d, uint64_t v)
{
	for (size_t i = 0; i < d->n_ints; i++)
		if (d->ints[i] == v)
			return;
	if (d->n_ints < 128)
		d->ints[d->n_ints++] = v;
}

static void harvest(struct diff *d, const struct expr *e)
{
	if (!e)
		return;
	if (e->kind == EX_STRING && e->str_len > 0)
		add_str(d, e->str, e->str_len);
	if (e->kind == EX_REAL) {
		add_int(d, e->ival);
		add_int(d, e->ival - 1);
	}
	if (e->kind == EX_INT) {
		add_int(d, e->ival);
		add_int(d, e->ival + 1);
		add_int(d, e->ival - 1);
		add_int(d, -e->ival);
	}
	harvest(d, e->lhs);
	harvest(d, e->rhs);
	for (size_t i = 0; i < e->n_args; i++)
		harvest(d, e->args[i]);
}

static void harvest_chain(struct diff *d)
{
	static const char *const base[] = { "alice", "bob", "carol", "guest", "mallory", "secret/x",
					    "zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz" };
	static const uint64_t ints[] = { 0, 1, 2, 3, 7, 100, 255, 256, 65535, 0x7fffffff, 0x80000000,
					 0xffffffff, 0x7fffffffffffffffull, 0x8000000000000000ull, ~0ull };
	for (size_t ei = 0; ei < d->ir->n_elems; ei++) {
		const struct ir_element *e = &d->ir->elems[ei];
		const struct element_decl *el = e->decl;
		for (size_t p = 0; p < el->n_params; p++)
			harvest(d, e->use->param_value[p]);
		for (size_t ii = 0; ii < el->n_inserts; ii++)
			for (size_t r = 0; r < el->inserts[ii].n_rows; r++)
				for (size_t c = 0; c < el->inserts[ii].rows[r].n_vals; c++)
					harvest(d, el->inserts[ii].rows[r].vals[c]);
		for (int dir = 0; dir < 2; dir++)
			for (size_t si = 0; si < el->on[dir].n_stmts; si++) {
				const struct select_insert *s = &el->on[dir].stmts[si];
				for (size_t i = 0; i < s->n_exprs; i++)
					harvest(d, s->exprs[i]);
				harvest(d, s->where);
				for (size_t i = 0; i < s->n_joins; i++)
					harvest(d, s->joins[i].on);
				for (size_t i = 0; i < s->n_sets; i++)
					harvest(d, s->sets[i].value);
			}
	}
	d->n_prog_strs = d->n_strs;
	d->n_prog_ints = d->n_ints;
	for (size_t i = 0; i < sizeof(base) / sizeof(base[0]); i++)
		add_str(d, base[i], (int)strlen(base[i]));
	for (size_t i = 0; i < sizeof(ints) / sizeof(ints[0]); i++)
		add_int(d, ints[i]);
}

/* A random value of type t at p (a network field or a column). CHAR values
 * come from a bounded set (program literals and 16 variants of each), so that LRU
 * tables never fill: the kernel's LRU evicts in an order the interpreter
 * does not model (docs/compiler.md "The reference interpreter"). */
static void random_value(struct diff *d, uint8_t *p, struct type t)
{
	int n = type_size(t);
	if (t.kind == TY_CHAR) {
		memset(p, 0, (size_t)n);
		uint64_t k = below(d, 10), pick = below(d, 16);
		struct diff tmp = { .rng = 0x2545f4914f6cdd1dull * (pick + 1) }; /* a bounded variety */
		if (k < 7) { /* a literal of the program, maybe with a tail or a changed byte */
			size_t i = below(d, 2) && d->n_prog_strs ? below(d, d->n_prog_strs) : below(d, d->n_strs);
			int l = d->str_len[i] < n ? d->str_len[i] : n;
			memcpy(p, d->strs[i], (size_t)l);
			if (k == 5 && l < n)
				p[l + below(&tmp, (uint64_t)(n - l))] = (uint8_t)('a' + below(&tmp, 26));
			if (k == 6 && l)
				p[below(&tmp, (uint64_t)l)] ^= (uint8_t)(1 + below(&tmp, 255));
		} else if (k < 9) { /* printable, random length */
			int l = (int)below(&tmp, (uint64_t)n + 1);
			for (int i = 0; i < l; i++)
				p[i] = (uint8_t)(' ' + below(&tmp, 95));
		} else { /* any bytes */
			for (int i = 0; i < n; i++)
				p[i] = (uint8_t)rnd(&tmp);
		}
		return;
	}
	uint64_t v;
	if (t.kind == TY_BOOL)
		v = below(d, 2);
	else if (below(d, 2))
		v = d->ints[below(d, 2) && d->n_prog_ints ? below(d, d->n_prog_ints) : below(d, d->n_ints)];
	else if (below(d, 2))
		v = below(d, 300);
	else
		v = rnd(d);
	if (t.kind == TY_REAL && below(d, 2))
		v <<= 32;
	for (int i = 0; i < n; i++, v >>= 8)
		p[i] = (uint8_t)v;
}

static void random_field(struct diff *d, uint8_t *p, struct type t)
{
	random_value(d, p, t);
}

/* Extra rows in every state table (both sides), from the same values the
 * requests use, so that JOINs and UPDATEs find rows often. */
static void populate(struct diff *d)
{
	for (size_t i = 0; i < interp_n_tables(d->in); i++) {
		struct interp_table *t = interp_table_at(d->in, i);
		const struct ir_map *m = interp_table_map(t);
		const struct table_decl *tab = m->tab;
		bool array = m->kind == MAP_ARRAY || m->kind == MAP_PERCPU_ARRAY;
		uint64_t n = m->max_entries / 4 < 64 ? m->max_entries / 4 : 64;
		uint8_t key[1024], val[1024];
		int koff[256], voff[256];
		struct type kt[256], vt[256];
		size_t nk = 0, nv = 0;
		for (size_t c = 0; c < tab->n_cols && c < 256; c++) {
			if (tab->cols[c].primary_key)
				kt[nk++] = tab->cols[c].type;
			else
				vt[nv++] = tab->cols[c].type;
		}
		/* offsets: as the C layout (natural alignment) */
		for (int side = 0; side < 2; side++) {
			struct type *ty = side ? vt : kt;
			int *off = side ? voff : koff;
			size_t cnt = side ? nv : nk;
			int o = 0;
			for (size_t c = 0; c < cnt; c++) {
				int al = type_align(ty[c]);
				o = (o + al - 1) / al * al;
				off[c] = o;
				o += type_size(ty[c]);
			}
		}
		for (uint64_t r = 0; r < n; r++) {
			memset(key, 0, sizeof(key));
			memset(val, 0, sizeof(val));
			for (size_t c = 0; c < nk; c++)
				random_value(d, key + koff[c], kt[c]);
			for (size_t c = 0; c < nv; c++)
				random_value(d, val + voff[c], vt[c]);
			if (array) {
				uint32_t idx = (uint32_t)below(d, m->max_entries);
				memcpy(key, &idx, 4);
			}
			if (interp_table_update(t, key, val, !array)) /* initial rows stay */
				continue;
			write_map_value(d->fds[i], m, key, val, m->value_size);
		}
	}
}

/* ---- building and loading the kernel side ------------------------------- */

static char *replace_all(const char *s, const char *from, const char *to)
{
	size_t n = 0, fl = strlen(from), tl = strlen(to);
	for (const char *p = s; (p = strstr(p, from)); p += fl)
		n++;
	char *out = malloc(strlen(s) + n * (tl > fl ? tl - fl : 0) + 1), *o = out;
	for (const char *p = s;;) {
		const char *q = strstr(p, from);
		if (!q) {
			strcpy(o, p);
			break;
		}
		memcpy(o, p, (size_t)(q - p));
		o += q - p;
		memcpy(o, to, tl);
		o += tl;
		p = q + fl;
	}
	return out;
}

static char *insert_after(const char *s, const char *mark, const char *text, bool before)
{
	const char *q = strstr(s, mark);
	ck_assert_msg(q, "generated C has no '%s'", mark);
	size_t at = (size_t)(q - s) + (before ? 0 : strlen(mark));
	char *out = malloc(strlen(s) + strlen(text) + 1);
	memcpy(out, s, at);
	strcpy(out + at, text);
	strcat(out, s + at);
	return out;
}

/* The generated C with now()/random() as inputs and the verdict recorded. */
static char *instrument(const char *c)
{
	char *a = replace_all(c, "adn_now()", "adn_test_now()");
	char *b = replace_all(a, "adn_random()", "adn_test_random()");
	char *e = insert_after(b, "#include \"adn_bpf.h\"\n", PRELUDE, false);
	char *f = insert_after(e, "#include \"adn_sk_msg.h\"", WRAPPER, true);
	free(a);
	free(b);
	free(e);
	return f;
}

static int quiet(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	return level == LIBBPF_WARN && !strstr(fmt, "skipping unrecognized") ? vfprintf(stderr, fmt, ap) : 0;
}

static void write_map_value(int fd, const struct ir_map *m, const void *key, const void *val, int vs)
{
	if (m->kind == MAP_PERCPU_ARRAY || m->kind == MAP_PERCPU_HASH) {
		size_t stride = ((size_t)vs + 7) / 8 * 8;
		uint8_t *all = calloc((size_t)ncpu, stride);
		for (int c = 0; c < ncpu; c++)
			memcpy(all + (size_t)c * stride, val, (size_t)vs);
		ck_assert_int_eq(bpf_map_update_elem(fd, key, all, 0), 0);
		free(all);
		return;
	}
	ck_assert_int_eq(bpf_map_update_elem(fd, key, val, 0), 0);
}

static void load(struct diff *d, const char *file, int level)
{
	char src[4200], obj[4200];
	struct build_dirs dirs;

	d->u = iu_compile(file, level, 1);
	ck_assert_msg(d->u, "%s does not compile", file);
	d->ir = d->u->ir;
	d->in = interp_new(d->ir);
	char *c = adnc_gen_bpf(d->u);
	char *ci = instrument(c);
	free(c);
	snprintf(src, sizeof(src), "%s/%s.bpf.c", tmpdir, d->name);
	snprintf(obj, sizeof(obj), "%s/%s.bpf.o", tmpdir, d->name);
	FILE *f = fopen(src, "w");
	ck_assert_ptr_nonnull(f);
	fputs(ci, f);
	fclose(f);
	free(ci);
	ck_assert_int_eq(build_find_dirs(&dirs, stderr), 0);
	ck_assert_msg(build_bpf_object(&dirs, src, obj, stderr) == 0, "clang failed on %s", src);

	d->obj = bpf_object__open_file(obj, NULL);
	ck_assert_msg(d->obj, "open %s", obj);
	ck_assert_msg(bpf_object__load(d->obj) == 0, "load %s (verifier)", obj);
	struct bpf_program *p = bpf_object__find_program_by_name(d->obj, "adn_tc");
	ck_assert_ptr_nonnull(p);
	d->prog = bpf_program__fd(p);
	d->env_fd = bpf_object__find_map_fd_by_name(d->obj, "adn_test_env");
	int cfg = bpf_object__find_map_fd_by_name(d->obj, "adn_cfg");
	int params = bpf_object__find_map_fd_by_name(d->obj, "adn_params");
	ck_assert(d->env_fd >= 0 && cfg >= 0 && params >= 0);
	uint32_t zero = 0, port = (uint32_t)d->ir->svc->port;
	ck_assert_int_eq(bpf_map_update_elem(cfg, &zero, &port, 0), 0);
	size_t psize;
	uint8_t *pv = interp_params(d->in, &psize);
	struct bpf_map *pm = bpf_object__find_map_by_name(d->obj, "adn_params");
	ck_assert_uint_eq(bpf_map__value_size(pm), psize);
	ck_assert_int_eq(bpf_map_update_elem(params, &zero, pv, 0), 0);

	/* tables: the interpreter's initial state */
	size_t nt = interp_n_tables(d->in);
	d->fds = calloc(nt + 1, sizeof(int));
	for (size_t i = 0; i < nt; i++) {
		struct interp_table *t = interp_table_at(d->in, i);
		const struct ir_map *m = interp_table_map(t);
		struct bpf_map *bm = bpf_object__find_map_by_name(d->obj, m->name);
		ck_assert_msg(bm, "no map %s", m->name);
		ck_assert_uint_eq(bpf_map__key_size(bm), (unsigned)m->key_size);
		ck_assert_uint_eq(bpf_map__value_size(bm), (unsigned)m->value_size);
		d->fds[i] = bpf_map__fd(bm);
		const void *k, *v;
		for (size_t r = 0; interp_table_row(t, r, &k, &v); r++) {
			static const uint8_t zeros[4096];
			if ((m->kind == MAP_ARRAY || m->kind == MAP_PERCPU_ARRAY) &&
			    !memcmp(v, zeros, (size_t)m->value_size))
				continue;
			write_map_value(d->fds[i], m, k, v, m->value_size);
		}
	}
	/* log tables: one ring buffer reader for all */
	size_t nr = 0;
	for (size_t i = 0; i < d->ir->n_maps && nr < 32; i++) {
		const struct ir_map *m = &d->ir->maps[i];
		if (m->kind != MAP_RINGBUF)
			continue;
		int fd = bpf_object__find_map_fd_by_name(d->obj, m->name);
		ck_assert_int_ge(fd, 0);
		d->rctx[nr] = (struct ring_ctx){ d, m };
		if (!d->rb)
			d->rb = ring_buffer__new(fd, on_ring, &d->rctx[nr], NULL);
		else
			ck_assert_int_eq(ring_buffer__add(d->rb, fd, on_ring, &d->rctx[nr]), 0);
		ck_assert_ptr_nonnull(d->rb);
		nr++;
	}
	/* a routing chain: a set of three replicas, so that every routed
	 * request's new address, port and MAC can be checked */
	for (size_t i = 0; i < d->ir->n_elems; i++) {
		char name[160];
		if (!d->ir->elems[i].routes)
			continue;
		snprintf(name, sizeof(name), "%s__replicas", d->ir->elems[i].decl->name);
		int fd = bpf_object__find_map_fd_by_name(d->obj, name);
		ck_assert_msg(fd >= 0, "no map %s", name);
		struct adn_replica_set ctl = { .live = 1 };
		d->replicas.n = 3;
		for (uint32_t r = 0; r < 3; r++) {
			struct adn_replica *x = &d->replicas.r[r];
			uint8_t a[4] = { 10, 0, 1, (uint8_t)(1 + r) }, mac[6] = { 2, 0, 0, 0, 1, (uint8_t)(1 + r) };
			x->family = 2; /* AF_INET */
			memcpy(&x->addr[0], a, 4);
			x->port = 7100 + r;
			memcpy(x->mac, mac, 6);
		}
		uint32_t k0 = 0, k1 = 1;
		ck_assert_int_eq(bpf_map_update_elem(fd, &k0, &ctl, 0), 0);
		ck_assert_int_eq(bpf_map_update_elem(fd, &k1, &d->replicas, 0), 0);
	}
	harvest_chain(d);
	populate(d);
}

static void unload(struct diff *d)
{
	ring_buffer__free(d->rb);
	bpf_object__close(d->obj);
	interp_free(d->in);
	adnc_unit_free(d->u);
	recq_clear(&d->kq);
	recq_clear(&d->iq);
	free(d->kq.v);
	free(d->iq.v);
	free(d->fds);
}

/* ---- packets ---------------------------------------------------------------- */

/* Ones' complement sum of n bytes (big-endian words), folded. */
static uint32_t sum16(const uint8_t *p, size_t n, uint32_t sum)
{
	for (size_t i = 0; i + 1 < n; i += 2)
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (n & 1)
		sum += (uint32_t)p[n - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return sum;
}

/* The UDP checksum of an Ethernet/IPv4 (no options)/UDP packet of n bytes,
 * with its check field as it is: 0 when the field is right (and the field's
 * value when it is 0). */
static uint16_t udp_sum(const uint8_t *b, size_t n)
{
	uint8_t ph[12];
	memcpy(ph, b + 26, 8);
	ph[8] = 0;
	ph[9] = 17;
	ph[10] = (uint8_t)((n - 34) >> 8);
	ph[11] = (uint8_t)(n - 34);
	uint16_t s = (uint16_t)~sum16(b + 34, n - 34, sum16(ph, 12, 0));
	return s;
}

static const char *action_name(enum interp_action a);
static void hex(const char *what, const uint8_t *p, size_t n);

static size_t packet(uint8_t *b, const uint8_t *payload, size_t plen, int request, uint16_t port)
{
	static const uint8_t mac_c[6] = { 2, 0, 0, 0, 0, 1 }, mac_s[6] = { 2, 0, 0, 0, 0, 2 };
	uint16_t sport = request ? PORT_CLIENT : port, dport = request ? port : PORT_CLIENT;
	size_t ip = 14, udp = 34, tot = 20 + 8 + plen;

	memset(b, 0, 42);
	memcpy(b, request ? mac_s : mac_c, 6);
	memcpy(b + 6, request ? mac_c : mac_s, 6);
	b[12] = 0x08;
	b[ip] = 0x45;
	b[ip + 2] = (uint8_t)(tot >> 8);
	b[ip + 3] = (uint8_t)tot;
	b[ip + 8] = 64;
	b[ip + 9] = 17;
	uint8_t a[4] = { 10, 0, 0, 1 }, s[4] = { 10, 0, 0, 2 };
	memcpy(b + ip + 12, request ? a : s, 4);
	memcpy(b + ip + 16, request ? s : a, 4);
	b[udp] = (uint8_t)(sport >> 8);
	b[udp + 1] = (uint8_t)sport;
	b[udp + 2] = (uint8_t)(dport >> 8);
	b[udp + 3] = (uint8_t)dport;
	b[udp + 4] = (uint8_t)((8 + plen) >> 8);
	b[udp + 5] = (uint8_t)(8 + plen);
	memcpy(b + 42, payload, plen);
	/* valid checksums, so that the kernel's changes to them are checked */
	uint16_t ipsum = (uint16_t)~sum16(b + ip, 20, 0);
	b[ip + 10] = (uint8_t)(ipsum >> 8);
	b[ip + 11] = (uint8_t)ipsum;
	uint16_t usum = udp_sum(b, 42 + plen);
	b[udp + 6] = (uint8_t)(usum >> 8);
	b[udp + 7] = (uint8_t)usum;
	return 42 + plen;
}

/* Checks the Ethernet/IPv4/UDP headers of a packet the kernel let out:
 * lengths, both checksums, and where it goes (turned around for a reply,
 * to the chosen replica for a routed request, else as sent). */
static bool check_headers(struct diff *d, const uint8_t *in, const uint8_t *out, size_t n,
			  const struct interp_verdict *v)
{
	const char *why = NULL;
	bool back = v->action == INTERP_REPLY || v->action == INTERP_ANSWER;
	uint8_t want_mac[6], want_daddr[4];
	uint16_t want_dport;

	memcpy(want_mac, in + (back ? 6 : 0), 6);
	memcpy(want_daddr, in + (back ? 26 : 30), 4);
	want_dport = (uint16_t)(in[back ? 34 : 36] << 8 | in[back ? 35 : 37]);
	if (!back && v->routed && (v->action == INTERP_PASS || v->action == INTERP_REWRITE) && d->replicas.n) {
		const struct adn_replica *r = &d->replicas.r[v->route % d->replicas.n];
		memcpy(want_mac, r->mac, 6);
		memcpy(want_daddr, &r->addr[0], 4);
		want_dport = (uint16_t)r->port;
	}
	if (n < 42)
		why = "shorter than the headers";
	else if ((size_t)(out[16] << 8 | out[17]) != n - 14)
		why = "IP total length";
	else if ((size_t)(out[38] << 8 | out[39]) != n - 34)
		why = "UDP length";
	else if ((uint16_t)~sum16(out + 14, 20, 0) != 0)
		why = "IP header checksum";
	else if ((out[40] | out[41]) && udp_sum(out, n) != 0)
		why = "UDP checksum";
	else if (memcmp(out, want_mac, 6))
		why = "destination MAC";
	else if (memcmp(out + 30, want_daddr, 4))
		why = "destination address";
	else if ((uint16_t)(out[36] << 8 | out[37]) != want_dport)
		why = "destination port";
	else if (back && (memcmp(out + 6, in, 6) || memcmp(out + 26, in + 30, 4) ||
			  memcmp(out + 34, in + 36, 2)))
		why = "source of the reply";
	if (!why)
		return true;
	fprintf(stderr, "%s: the kernel's packet is wrong: %s (interpreter: %s%s)\n", d->name, why,
		action_name(v->action), v->routed ? ", routed" : "");
	hex("kernel packet", out, n);
	return false;
}

static void hex(const char *what, const uint8_t *p, size_t n)
{
	fprintf(stderr, "  %s (%zu bytes):", what, n);
	for (size_t i = 0; i < n; i++)
		fprintf(stderr, "%s%02x", i % 32 ? (i % 4 ? "" : " ") : "\n    ", p[i]);
	fputc('\n', stderr);
}

static const char *action_name(enum interp_action a)
{
	static const char *const n[] = { "pass", "rewrite", "reply", "status", "bad", "answer" };
	return n[a];
}

/* One datagram through both; returns false (after explaining) on a mismatch. */
static bool one(struct diff *d, uint8_t *payload, size_t plen, int request)
{
	uint8_t in_pkt[2048], out_pkt[2048], mine[2048];
	size_t n = packet(in_pkt, payload, plen, request, (uint16_t)d->ir->svc->port);
	uint32_t zero = 0;

	d->env.idx = d->env.status = d->env.at = d->env.calls = 0;
	ck_assert_int_eq(bpf_map_update_elem(d->env_fd, &zero, &d->env, 0), 0);
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = in_pkt, .data_size_in = (uint32_t)n,
		    .data_out = out_pkt, .data_size_out = sizeof(out_pkt), .repeat = 1);
	ck_assert_int_eq(bpf_prog_test_run_opts(d->prog, &o), 0);
	struct test_env kenv;
	ck_assert_int_eq(bpf_map_lookup_elem(d->env_fd, &zero, &kenv), 0);
	if (d->rb)
		ring_buffer__consume(d->rb);

	memcpy(mine, payload, plen);
	struct interp_env env = { env_now, env_random, env_log, d };
	struct interp_verdict v;
	d->used_rnd = 0;
	interp_datagram(d->in, mine, plen, request, &env, &v);

	bool ok = true;
	int kact = (int)o.retval;
	int want = v.action == INTERP_BAD ? TC_ACT_SHOT_ :
		   v.action == INTERP_REPLY || v.action == INTERP_ANSWER ? TC_ACT_REDIRECT_ : TC_ACT_OK_;
	size_t out_len = v.action == INTERP_ANSWER ? v.len : plen;
	if (kact != want) {
		fprintf(stderr, "%s: kernel verdict %d, interpreter %s\n", d->name, kact, action_name(v.action));
		ok = false;
	}
	if (ok && v.action != INTERP_BAD &&
	    (o.data_size_out != 42 + out_len || memcmp(out_pkt + 42, mine, out_len))) {
		fprintf(stderr, "%s: the frames differ (interpreter: %s)\n", d->name, action_name(v.action));
		hex("kernel", out_pkt + 42, o.data_size_out > 42 ? o.data_size_out - 42 : 0);
		hex("interpreter", mine, out_len);
		ok = false;
	}
	if (ok && v.action != INTERP_BAD)
		ok = check_headers(d, in_pkt, out_pkt, o.data_size_out, &v);
	if (ok && request && kenv.calls && v.action == INTERP_ANSWER) {
		if (kenv.status != (uint32_t)INTERP_ANSWER_CODE(v.len - 16) || (int)kenv.at != v.at) {
			fprintf(stderr, "%s: chain verdict: kernel status 0x%x at %u, interpreter answer of %zu bytes at %d\n",
				d->name, kenv.status, kenv.at, v.len, v.at);
			ok = false;
		}
	} else if (ok && request && kenv.calls) {
		int ks = (int)kenv.status & 0xff, is = v.action == INTERP_REPLY ? v.status : 0;
		if (ks != is || (is && (int)kenv.at != v.at) ||
		    ((kenv.status == INTERP_PASS_REWRITE) != (v.action == INTERP_REWRITE))) {
			fprintf(stderr, "%s: chain verdict: kernel status %u at %u, interpreter %s %d at %d\n",
				d->name, kenv.status, kenv.at, action_name(v.action), v.status, v.at);
			ok = false;
		}
	}
	if (ok && kenv.idx != d->used_rnd) {
		fprintf(stderr, "%s: random() called %u times in the kernel, %u in the interpreter\n",
			d->name, kenv.idx, d->used_rnd);
		ok = false;
	}
	if (ok) {
		bool same = d->kq.n == d->iq.n;
		for (size_t i = 0; same && i < d->kq.n; i++)
			same = d->kq.v[i].m == d->iq.v[i].m && d->kq.v[i].size == d->iq.v[i].size &&
			       !memcmp(d->kq.v[i].data, d->iq.v[i].data, d->kq.v[i].size);
		if (!same) {
			fprintf(stderr, "%s: log records differ (kernel %zu, interpreter %zu)\n", d->name,
				d->kq.n, d->iq.n);
			for (size_t i = 0; i < d->kq.n; i++)
				hex(d->kq.v[i].m->name, d->kq.v[i].data, d->kq.v[i].size);
			for (size_t i = 0; i < d->iq.n; i++)
				hex(d->iq.v[i].m->name, d->iq.v[i].data, d->iq.v[i].size);
			ok = false;
		}
		d->records += d->kq.n;
	}
	recq_clear(&d->kq);
	recq_clear(&d->iq);
	if (!ok) {
		fprintf(stderr, "  %s now=%llu random words used=%u\n", request ? "request" : "response",
			(unsigned long long)d->env.now, kenv.idx);
		hex("frame sent", payload, plen);
		return false;
	}
	/* counts */
	if (request) {
		d->requests++;
		d->passed += v.action == INTERP_PASS || v.action == INTERP_REWRITE;
		d->rewritten += v.action == INTERP_REWRITE;
		d->replies += v.action == INTERP_REPLY;
		d->answers += v.action == INTERP_ANSWER;
		d->routed += v.routed && (v.action == INTERP_PASS || v.action == INTERP_REWRITE);
		if (v.action == INTERP_REPLY && v.at >= 0 && v.at < 16)
			d->drops_at[v.at]++;
	} else {
		d->responses++;
		d->statuses += v.action == INTERP_STATUS;
	}
	d->bad += v.action == INTERP_BAD;
	memcpy(payload, mine, plen);
	return true;
}

/* Every row of every table, kernel against interpreter. */
static bool same_tables(struct diff *d)
{
	size_t nt = interp_n_tables(d->in);
	for (size_t i = 0; i < nt; i++) {
		struct interp_table *t = interp_table_at(d->in, i);
		const struct ir_map *m = interp_table_map(t);
		bool percpu = m->kind == MAP_PERCPU_ARRAY || m->kind == MAP_PERCPU_HASH;
		bool array = m->kind == MAP_ARRAY || m->kind == MAP_PERCPU_ARRAY;
		size_t stride = ((size_t)m->value_size + 7) / 8 * 8;
		uint8_t *kv = calloc(percpu ? (size_t)ncpu : 1, stride + 8);
		uint8_t key[1024], next[1024];
		size_t kernel_rows = 0;
		const void *k, *v;

		if (array) {
			for (size_t r = 0; interp_table_row(t, r, &k, &v); r++) {
				uint32_t idx = (uint32_t)r;
				ck_assert_int_eq(bpf_map_lookup_elem(d->fds[i], &idx, kv), 0);
				const uint8_t *mine = kv + (percpu ? (size_t)mycpu * stride : 0);
				if (memcmp(mine, v, (size_t)m->value_size)) {
					fprintf(stderr, "%s: table %s row %zu differs\n", d->name, m->name, r);
					hex("kernel", mine, (size_t)m->value_size);
					hex("interpreter", v, (size_t)m->value_size);
					free(kv);
					return false;
				}
			}
			free(kv);
			continue;
		}
		void *prev = NULL;
		while (!bpf_map_get_next_key(d->fds[i], prev, next)) {
			memcpy(key, next, (size_t)m->key_size);
			prev = key;
			kernel_rows++;
			if (bpf_map_lookup_elem(d->fds[i], key, kv))
				continue;
			const uint8_t *mine = kv + (percpu ? (size_t)mycpu * stride : 0);
			const void *iv = interp_table_lookup(t, key);
			if (!iv || memcmp(mine, iv, (size_t)m->value_size)) {
				fprintf(stderr, "%s: table %s: row %s (interpreter: %zu rows)\n", d->name, m->name,
					iv ? "differs" : "only in the kernel", interp_table_rows(t));
				hex("key", key, (size_t)m->key_size);
				hex("kernel", mine, (size_t)m->value_size);
				if (iv)
					hex("interpreter", iv, (size_t)m->value_size);
				free(kv);
				return false;
			}
		}
		free(kv);
		if (kernel_rows != interp_table_rows(t)) {
			fprintf(stderr, "%s: table %s has %zu rows in the kernel, %zu in the interpreter\n",
				d->name, m->name, kernel_rows, interp_table_rows(t));
			return false;
		}
	}
	return true;
}

/* ---- the random traffic ------------------------------------------------ */

static void next_clock(struct diff *d)
{
	uint64_t k = below(d, 100);
	if (k < 20)
		return; /* the same instant */
	if (k < 60)
		d->env.now += below(d, 1000000); /* < 1 ms */
	else if (k < 90)
		d->env.now += below(d, 100000000); /* < 100 ms */
	else if (k < 99)
		d->env.now += below(d, 5000000000ull);
	else
		d->env.now += below(d, 100000000000ull);
	for (int i = 0; i < N_RND; i++)
		d->env.rnd[i] = (uint32_t)rnd(d);
}

static bool random_request(struct diff *d)
{
	uint8_t f[1024];
	const struct ir_chain *ir = d->ir;
	uint16_t method = (uint16_t)(1 + below(d, ir->svc->n_methods));
	if (!below(d, 50))
		method = (uint16_t)below(d, 5);
	uint32_t rpc_id = (uint32_t)below(d, 300);
	size_t len = iu_request(ir, f, rpc_id, method, below(d, 4) ? below(d, 64) : below(d, 400));
	bool from_pool = d->n_pool && ir->n_net && ir->net_size <= 256 && below(d, 2);
	if (from_pool) { /* a request that passed, again or with one field changed */
		memcpy(f + 16, d->pool[below(d, d->n_pool)], (size_t)ir->net_size);
		size_t i = below(d, ir->n_net);
		if (below(d, 4))
			random_field(d, f + 16 + ir->net[i].offset, ir->net[i].type);
	} else {
		for (size_t i = 0; i < ir->n_net; i++)
			random_field(d, f + 16 + ir->net[i].offset, ir->net[i].type);
	}
	for (size_t i = 16 + (size_t)ir->net_size; i < len; i++)
		f[i] = (uint8_t)rnd(d);
	uint64_t k = below(d, 200);
	if (k == 0)
		f[11] = (uint8_t)below(d, 17); /* a status in a request */
	if (k == 1 || k == 2) { /* the layout hash: right or wrong */
		uint16_t l = (uint16_t)(k == 1 ? ir->layout_hash : rnd(d));
		f[14] = (uint8_t)l;
		f[15] = (uint8_t)(l >> 8);
	}
	if (k == 3)
		f[0] ^= 1; /* len is not the datagram's length: malformed */
	if (k == 4 && ir->net_size) /* too short for the network fields */
		len = iu_request(ir, f, rpc_id, method, 0) - 1 - below(d, (uint64_t)ir->net_size);
	if (k == 4 && ir->net_size)
		f[0] = (uint8_t)len;
	next_clock(d);
	if (!one(d, f, len, 1))
		return false;
	if (f[10] == 0 && ir->net_size <= 256 && len >= 16 + (size_t)ir->net_size) {
		memcpy(d->pool[d->n_pool < 32 ? d->n_pool++ : below(d, 32)], f + 16, (size_t)ir->net_size);
	}
	if (f[10] == 0 && d->n_out < 256) { /* passed: the server will answer */
		d->out[d->n_out].rpc_id = rpc_id;
		d->out[d->n_out++].method = method;
	}
	return true;
}

static bool random_response(struct diff *d)
{
	uint8_t f[256];
	uint32_t rpc_id;
	uint16_t method;
	if (d->n_out && below(d, 10)) {
		size_t i = below(d, d->n_out);
		rpc_id = d->out[i].rpc_id;
		method = d->out[i].method;
		d->out[i] = d->out[--d->n_out];
	} else {
		rpc_id = (uint32_t)below(d, 300);
		method = (uint16_t)(1 + below(d, d->ir->svc->n_methods));
	}
	uint8_t status = below(d, 10) < 7 ? 0 : (uint8_t)below(d, 17);
	size_t len = iu_response(f, 16 + below(d, 48), rpc_id, method, status);
	for (size_t i = 16; i < len; i++)
		f[i] = (uint8_t)rnd(d);
	if (!below(d, 50))
		f[12] = 1; /* a reply the network made: passes untouched */
	next_clock(d);
	return one(d, f, len, 0);
}

static unsigned long n_rpcs(void)
{
	/* make check-unit runs a quick 1,000; the kernel suite
	 * (test_differential.sh) sets the full 10,000 */
	const char *s = getenv("ADN_DIFF_RPCS");
	return s && *s ? strtoul(s, NULL, 10) : 1000;
}

static void run_chain(const char *name, const char *file, int level)
{
	const char *only = getenv("ADN_DIFF_ONLY");
	if (!have_root || (only && *only && strcmp(only, name)))
		return;
	struct diff *d = calloc(1, sizeof(*d));
	const char *seed = getenv("ADN_DIFF_SEED");
	d->name = name;
	d->rng = seed && *seed ? strtoull(seed, NULL, 0) : 0x9e3779b97f4a7c15ull;
	d->rng ^= (uint64_t)strlen(name) * 0x100000001b3ull + (uint64_t)level;
	d->env.now = 1000000000000ull;
	load(d, file, level);
	ck_assert_msg(same_tables(d), "%s: initial state differs", name);

	unsigned long n = n_rpcs();
	for (unsigned long i = 0; i < n; i++) {
		bool ok = random_request(d);
		while (ok && below(d, 3))
			ok = random_response(d);
		if (ok && (i % 64 == 63 || i + 1 == n))
			ok = same_tables(d);
		if (!ok) {
			fprintf(stderr, "%s: mismatch at RPC %lu (seed 0x%llx)\n", name, i,
				(unsigned long long)(seed && *seed ? strtoull(seed, NULL, 0) : 0x9e3779b97f4a7c15ull));
			unload(d);
			free(d);
			ck_abort_msg("%s: kernel and interpreter differ (details above)", name);
		}
	}
	printf("%-22s -O%d  %5lu requests: %lu passed (%lu rewritten, %lu routed), %lu replies, "
	       "%lu answered, %lu malformed; %lu responses (%lu status changed); %lu log records; "
	       "drops by element:",
	       name, level, d->requests, d->passed, d->rewritten, d->routed, d->replies, d->answers,
	       d->bad, d->responses, d->statuses, d->records);
	for (size_t i = 0; i < d->ir->n_elems && i < 16; i++)
		printf(" %s=%lu", d->ir->elems[i].decl->name, d->drops_at[i]);
	printf("\n");
	fflush(stdout);
	unload(d);
	free(d);
}

#define ELEMENT_TEST(el)                                                    \
	START_TEST(test_##el)                                               \
	{                                                                   \
		run_chain(#el, "elements/" #el "/" #el ".adn", 1);          \
	}                                                                   \
	END_TEST

ELEMENT_TEST(acl)
ELEMENT_TEST(admission)
ELEMENT_TEST(bandwidth)
ELEMENT_TEST(circuitbreaker)
ELEMENT_TEST(fault)
ELEMENT_TEST(logging)
ELEMENT_TEST(metrics)
ELEMENT_TEST(mutation)
ELEMENT_TEST(ratelimit)
ELEMENT_TEST(ratelimit_key)
ELEMENT_TEST(cache)
ELEMENT_TEST(abtest)
ELEMENT_TEST(header_routing)
ELEMENT_TEST(stateful_routing)

/* Expressions at their edges: every value goes into a log record, so the
 * records compare the arithmetic, comparisons and functions bit for bit. */
static const char ARITH[] =
	"CREATE SERVICE calc PORT 9090 TRANSPORT UDP (\n"
	"  METHOD op REQUEST (a UINT64, b UINT64, x INT32, y INT16, u8 UINT8, r REAL, s CHAR(5), t CHAR(5),\n"
	"                     ts TIMESTAMP, ok BOOL, w UINT32),\n"
	"  METHOD op2 REQUEST (a UINT64, b UINT64, x INT32, y INT16, u8 UINT8, r REAL, s CHAR(5), t CHAR(5),\n"
	"                      ts TIMESTAMP, ok BOOL, w UINT32)\n"
	");\n"
	"CREATE ELEMENT arith (a UINT64, b UINT64, x INT32, y INT16, u8 UINT8, r REAL, s CHAR(5), t CHAR(5),\n"
	"                      ts TIMESTAMP, ok BOOL, w UINT32, PARAM k INT32 DEFAULT -3, PARAM q REAL DEFAULT 0.5) BEGIN\n"
	"  CREATE LOG TABLE nums (d INT64, q1 INT64, m1 INT64, q2 UINT64, m2 UINT64, n INT64, p INT64,\n"
	"    mn INT64, mx UINT64, l2 UINT32, h UINT64, cs INT64, rr REAL, rd REAL, ra REAL, el INT64, ts2 TIMESTAMP,\n"
	"    nar UINT8, w16 INT16, lq INT64, rm REAL, mnr REAL) CAPACITY 1024;\n"
	"  CREATE LOG TABLE cmps (c1 BOOL, c2 BOOL, c3 BOOL, c4 BOOL, c5 BOOL, c6 BOOL, c7 BOOL, c8 BOOL,\n"
	"    c9 BOOL, c10 BOOL, c11 BOOL, c12 BOOL, c13 BOOL, c14 BOOL, c15 BOOL, c16 BOOL, c17 BOOL, c18 BOOL, c19 BOOL, c20 BOOL) CAPACITY 1024;\n"
	"  ON REQUEST\n"
	"    INSERT INTO nums SELECT a - b, x / y, x % y, a / b, a % b, -x, x * y, min(x, a, k), max(y, b),\n"
	"      log2(a), hash(a, s, x, y, ok), CASE WHEN a > b THEN x WHEN ok THEN y ELSE k END, r * r, r / y,\n"
	"      r + 1, now() - ts, ts + 5, a + 1, x, 2 - 5 * 3, r * q, min(r, q, 2) FROM input;\n"
	"    INSERT INTO cmps SELECT a - b < 0, x < a, u8 < -1, y < k, s < t, s <= 'ab', s LIKE 'ab%',\n"
	"      NOT s = t, r < q, random() < q, ok = TRUE, ok < TRUE, x - 1 > k, a * 2 < b, y >= -32768 AND y != 0,\n"
	"      method = 'op2' OR len > 80, w < -1, w > -5, a = -1, w + 1 > w FROM input;\n"
	"    INSERT INTO output SELECT * FROM input WHERE x != k OR y > 0;\n"
	"END;\n"
	"CREATE CHAIN calc ON calc (arith);\n";

START_TEST(test_arith)
{
	char path[4200];
	snprintf(path, sizeof(path), "%s/arith.adn", tmpdir);
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(ARITH, f);
	fclose(f);
	run_chain("arith", path, 1);
}
END_TEST

/* The cache between an element that reads response fields of every type
 * (and logs them, also from the network's answers) and one that drops
 * after it: answers built from computed values, response fields read past
 * a short response's end (zeros), TTL churn. */
static const char CACHE_CHAIN[] =
	"CREATE SERVICE kvc PORT 7072 TRANSPORT UDP (\n"
	"  METHOD get REQUEST (key CHAR(12), n INT16) RESPONSE (found BOOL, value UINT64, tag CHAR(5), delta INT32),\n"
	"  METHOD put REQUEST (key CHAR(12), n INT16) RESPONSE (ok BOOL)\n"
	");\n"
	"CREATE ELEMENT tap (RESPONSE tag CHAR(5), RESPONSE delta INT32, RESPONSE value UINT64, RESPONSE ok BOOL) BEGIN\n"
	"  CREATE LOG TABLE seen (rpc_id UINT32, kind KIND, status STATUS, len UINT32, tag CHAR(5), delta INT32,\n"
	"    big BOOL, ok BOOL) CAPACITY 1024;\n"
	"  ON RESPONSE\n"
	"    INSERT INTO seen SELECT input.rpc_id, input.kind, input.status, input.len, input.tag, input.delta,\n"
	"      input.value > 1000 AND input.tag != 'x', FALSE FROM input WHERE input.method = 'get';\n"
	"    INSERT INTO seen SELECT input.rpc_id, input.kind, input.status, input.len, '', 0, FALSE, input.ok\n"
	"      FROM input WHERE method = 'put';\n"
	"    INSERT INTO output SELECT * FROM input;\n"
	"END;\n"
	"CREATE ELEMENT cache (key CHAR(12), n INT16, RESPONSE found BOOL, RESPONSE value UINT64, RESPONSE tag CHAR(5),\n"
	"                      RESPONSE delta INT32, PARAM ttl UINT64 DEFAULT 50000000) BEGIN\n"
	"  CREATE TABLE entries (key CHAR(12) PRIMARY KEY, found BOOL, value UINT64, tag CHAR(5), delta INT32,\n"
	"    stored TIMESTAMP) CAPACITY 1024 USING LRU;\n"
	"  CREATE TABLE pending (rpc_id UINT32 PRIMARY KEY, key CHAR(12)) CAPACITY 4096 USING LRU;\n"
	"  ON REQUEST\n"
	"    INSERT INTO reply SELECT entries.found, entries.value + n AS value, entries.tag,\n"
	"      CASE WHEN n > 0 THEN entries.delta ELSE -1 END AS delta\n"
	"      FROM input JOIN entries ON entries.key = input.key\n"
	"      WHERE input.method = 'get' AND now() - entries.stored < ttl;\n"
	"    INSERT OR REPLACE INTO pending SELECT input.rpc_id, input.key FROM input WHERE input.method = 'get';\n"
	"    INSERT INTO output SELECT * FROM input;\n"
	"  ON RESPONSE\n"
	"    INSERT OR REPLACE INTO entries SELECT pending.key, input.found, input.value, input.tag, input.delta, now()\n"
	"      FROM input JOIN pending ON pending.rpc_id = input.rpc_id\n"
	"      WHERE input.method = 'get' AND input.status = 'OK' AND input.delta != 7;\n"
	"    DELETE FROM pending WHERE pending.rpc_id = input.rpc_id;\n"
	"    INSERT INTO output SELECT * FROM input;\n"
	"END;\n"
	"CREATE ELEMENT deny (key CHAR(12)) DROP STATUS PERMISSION_DENIED BEGIN\n"
	"  ON REQUEST\n"
	"    INSERT INTO output SELECT * FROM input WHERE input.key NOT LIKE 'b%';\n"
	"END;\n"
	"CREATE CHAIN cc ON kvc (tap, cache, deny);\n";

START_TEST(test_cache_chain)
{
	char path[4200];
	snprintf(path, sizeof(path), "%s/cache_chain.adn", tmpdir);
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(CACHE_CHAIN, f);
	fclose(f);
	run_chain("cache_chain", path, 1);
}
END_TEST

START_TEST(test_reorder_o1)
{
	run_chain("reorder", "selftests/golden/reorder.adn", 1);
}
END_TEST

START_TEST(test_reorder_o0)
{
	run_chain("reorder_o0", "selftests/golden/reorder.adn", 0);
}
END_TEST

START_TEST(test_ten)
{
	run_chain("ten", "selftests/golden/ten.adn", 1);
}
END_TEST

START_TEST(test_state)
{
	run_chain("state", "selftests/golden/state.adn", 1);
}
END_TEST

START_TEST(test_sender_only)
{
	run_chain("sender_only", "selftests/golden/sender_only.adn", 1);
}
END_TEST

START_TEST(test_features)
{
	run_chain("features", "selftests/golden/features.adn", 1);
}
END_TEST

static void setup(void)
{
	if (!have_root)
		return;
	libbpf_set_print(quiet);
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
	/* one CPU: per-CPU tables then have one copy that changes */
	ncpu = libbpf_num_possible_cpus();
	mycpu = sched_getcpu();
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(mycpu, &set);
	ck_assert_int_eq(sched_setaffinity(0, sizeof(set), &set), 0);
	/* the runtime headers of this tree */
	char dir[4200];
	snprintf(dir, sizeof(dir), "%s/bpf", iu_root());
	setenv("ADN_BPF_INCLUDE", dir, 0);
	snprintf(dir, sizeof(dir), "%s/headers", iu_root());
	setenv("ADN_HEADERS_INCLUDE", dir, 0);
}

static void teardown(void)
{
	char cmd[4200];
	if (!have_root)
		return;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	if (system(cmd))
		fprintf(stderr, "cannot remove %s\n", tmpdir);
}

static Suite *diff_suite(void)
{
	Suite *s = suite_create("differential");
	TCase *tc = tcase_create("kernel_vs_interpreter");
	tcase_add_unchecked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, test_acl);
	tcase_add_test(tc, test_admission);
	tcase_add_test(tc, test_bandwidth);
	tcase_add_test(tc, test_circuitbreaker);
	tcase_add_test(tc, test_fault);
	tcase_add_test(tc, test_logging);
	tcase_add_test(tc, test_metrics);
	tcase_add_test(tc, test_mutation);
	tcase_add_test(tc, test_ratelimit);
	tcase_add_test(tc, test_ratelimit_key);
	tcase_add_test(tc, test_cache);
	tcase_add_test(tc, test_abtest);
	tcase_add_test(tc, test_header_routing);
	tcase_add_test(tc, test_stateful_routing);
	tcase_add_test(tc, test_reorder_o1);
	tcase_add_test(tc, test_reorder_o0);
	tcase_add_test(tc, test_ten);
	tcase_add_test(tc, test_state);
	tcase_add_test(tc, test_features);
	tcase_add_test(tc, test_sender_only);
	tcase_add_test(tc, test_arith);
	tcase_add_test(tc, test_cache_chain);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	have_root = geteuid() == 0;
	if (!have_root)
		printf("SKIP: test_differential needs root (real BPF)\n");
	SRunner *sr = srunner_create(diff_suite());
	srunner_set_fork_status(sr, CK_NOFORK);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
