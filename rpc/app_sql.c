/* SPDX-License-Identifier: MIT */
/*
 * SQL elements placed in the application (IN APP, adnc --place E=app): the
 * client's RPC library runs them with the reference interpreter of the IR
 * (compiler/interp.c), the same code that is the oracle of the differential
 * tests. The chain's source, embedded in the generated header, is compiled
 * here by adnc's front end (no clang: parse, check, IR, placement,
 * reordering); the request sides of the elements at app run before the
 * request is written, the response sides when the response arrives. Their
 * tables live in this process (adnctl does not see them); log records go
 * to the FILE* of adn_client_app_log as JSON lines, in adnctl's format.
 * docs/rpc-library.md "SQL elements in the application".
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "../compiler/adnc.h"
#include "../compiler/interp.h"
#include "adn_scalar.h"
#include "app_sql.h"
#include "client_internal.h"

#define PREFIX_MIN 80 /* INTERP_ANSWER_MAX: response sides may read response fields */

struct adn_app_sql {
	struct adnc_unit *unit;
	struct interp *in;
	struct interp_env env;
	uint64_t rng; /* xorshift64*, seeded by getrandom */
	FILE *log;
	uint8_t *pre;   /* 16-byte header + the network fields (or a response's first bytes) */
	size_t pre_cap;
	uint8_t *body;  /* a rewritten request body: ADN_FRAME_MAX */
	/* calls completed locally, run by the next poll */
	size_t n_local;
};

static uint64_t env_now(void *ctx)
{
	(void)ctx;
	return adn_now_ns(); /* CLOCK_MONOTONIC, as bpf_ktime_get_ns */
}

static uint32_t env_random(void *ctx)
{
	struct adn_app_sql *a = ctx;
	uint64_t x = a->rng;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	a->rng = x;
	return (uint32_t)((x * 0x2545F4914F6CDD1Dull) >> 32);
}

static uint64_t load_uint(const uint8_t *p, int n)
{
	uint64_t v = 0;
	for (int i = n - 1; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static void lower(FILE *out, const char *s)
{
	fputc('"', out);
	for (; *s; s++)
		fputc(*s >= 'A' && *s <= 'Z' ? *s - 'A' + 'a' : *s, out);
	fputc('"', out);
}

/* One record as adnctl's log drainer writes it (maps/log_drain.c
 * adn_log_print_json): {"table":"element.table","col":value,...}, enums
 * by their lower-case names, TIMESTAMP as wall-clock text. The columns come
 * from the IR (no BTF here), laid out as the interpreter lays them out. */
static void env_log(void *ctx, const struct ir_map *m, const void *rec, size_t size)
{
	struct adn_app_sql *a = ctx;
	const struct ir_chain *ir = a->unit->ir;
	const uint8_t *r = rec;
	char buf[128];
	int off = 0;

	if (!a->log || !m->el || !m->tab)
		return;
	fputs("{\"table\":", a->log);
	snprintf(buf, sizeof(buf), "%s.%s", m->el->name, m->tab->name);
	adn_json_string(a->log, buf, strlen(buf));
	for (size_t i = 0; i < m->tab->n_cols; i++) {
		struct type t = m->tab->cols[i].type;
		int al = type_align(t), sz = type_size(t);
		off = (off + al - 1) / al * al;
		if ((size_t)(off + sz) > size)
			break;
		const uint8_t *p = r + off;
		off += sz;
		fputc(',', a->log);
		adn_json_string(a->log, m->tab->cols[i].name, strlen(m->tab->cols[i].name));
		fputc(':', a->log);
		switch (t.kind) {
		case TY_INT8: case TY_INT16: case TY_INT32: case TY_INT64: {
			uint64_t v = load_uint(p, sz);
			if (sz < 8 && (v >> (8 * sz - 1)) & 1)
				v |= ~0ull << (8 * sz);
			fprintf(a->log, "%" PRId64, (int64_t)v);
			break;
		}
		case TY_BOOL:
			fputs(load_uint(p, sz) ? "true" : "false", a->log);
			break;
		case TY_CHAR:
			adn_json_string(a->log, (const char *)p, strnlen((const char *)p, (size_t)sz));
			break;
		case TY_TIMESTAMP:
			adn_time_format(load_uint(p, 8), buf, sizeof(buf));
			adn_json_string(a->log, buf, strlen(buf));
			break;
		case TY_REAL:
			adn_real_format(load_uint(p, 8), buf, sizeof(buf));
			fputs(buf, a->log);
			break;
		case TY_KIND: {
			/* as adnctl prints enums: the name, or the number */
			uint64_t k = load_uint(p, sz);
			if (k == ADN_KIND_REQUEST || k == ADN_KIND_RESPONSE)
				lower(a->log, k == ADN_KIND_RESPONSE ? "RESPONSE" : "REQUEST");
			else
				fprintf(a->log, "%llu", (unsigned long long)k);
			break;
		}
		case TY_STATUS: {
			uint64_t st = load_uint(p, sz);
			if (st <= ADN_STATUS_MAX)
				lower(a->log, adn_status_name((int)st));
			else
				fprintf(a->log, "%llu", (unsigned long long)st);
			break;
		}
		case TY_METHOD: {
			uint64_t id = load_uint(p, sz);
			const char *name = NULL;
			for (size_t k = 0; k < ir->svc->n_methods; k++)
				if ((uint64_t)ir->svc->methods[k].id == id)
					name = ir->svc->methods[k].name;
			if (name)
				lower(a->log, name);
			else
				fprintf(a->log, "%" PRIu64, id);
			break;
		}
		default:
			fprintf(a->log, "%" PRIu64, load_uint(p, sz));
		}
	}
	fputs("}\n", a->log);
	fflush(a->log);
}

struct adn_app_sql *adn_app_sql_new(const struct adn_app_chain *chain, uint16_t layout,
				    char *err, size_t errlen)
{
	const char *cn = chain->chain ? chain->chain : "?";
	const char *file = chain->source_file ? chain->source_file : "chain.adn";
	struct ir_forced_place forced[64];
	char *diags = NULL;
	size_t dlen = 0;

	if (!chain->source) {
		adn_errf(err, errlen, "chain '%s': %u SQL elements run in the application, but the header has no source",
			 cn, chain->n_sql);
		return NULL;
	}
	if (chain->n_forced_app > 64) {
		adn_errf(err, errlen, "chain '%s': more than 64 --place forcings", cn);
		return NULL;
	}
	for (unsigned i = 0; i < chain->n_forced_app; i++)
		forced[i] = (struct ir_forced_place){ .element = chain->forced_app[i], .place = PLACE_APP };
	FILE *dout = open_memstream(&diags, &dlen);
	if (!dout) {
		adn_errf(err, errlen, "out of memory");
		return NULL;
	}
	struct adnc_unit *u = adnc_compile_source_placed(file, chain->source, strlen(chain->source), dout,
							 forced, chain->n_forced_app);
	fclose(dout);
	if (!u->ir) {
		/* the first diagnostic line */
		size_t n = diags ? strcspn(diags, "\n") : 0;
		adn_errf(err, errlen, "chain '%s': its source does not compile here: %.*s", cn, (int)n,
			 diags ? diags : "");
		free(diags);
		adnc_unit_free(u);
		return NULL;
	}
	free(diags);
	ir_reorder(&u->arena, u->ir, chain->opt_level);
	uint32_t h = u->ir->layout_hash;
	if (h != chain->layout_hash || (layout && layout != (uint16_t)h)) {
		adn_errf(err, errlen, "chain '%s': its source (%s) compiles to layout 0x%08x, but %s 0x%0*x",
			 cn, file, h, h != chain->layout_hash ? "the header says" : "this end was opened with layout",
			 h != chain->layout_hash ? 8 : 4, h != chain->layout_hash ? chain->layout_hash : layout);
		adnc_unit_free(u);
		return NULL;
	}
	unsigned n_sql = 0;
	for (size_t i = 0; i < u->ir->n_elems; i++)
		n_sql += u->ir->elems[i].place == PLACE_APP && !u->ir->elems[i].decl->in_app;
	if (n_sql != chain->n_sql) {
		adn_errf(err, errlen, "chain '%s': the header places %u SQL elements in the application, its source %u",
			 cn, chain->n_sql, n_sql);
		adnc_unit_free(u);
		return NULL;
	}
	struct adn_app_sql *a = calloc(1, sizeof(*a));
	size_t cap = ADN_HDR_LEN + (size_t)u->ir->net_size;
	if (cap < PREFIX_MIN)
		cap = PREFIX_MIN;
	if (a) {
		a->pre_cap = cap;
		a->pre = calloc(1, cap + 8);
		a->body = malloc(ADN_FRAME_MAX);
		a->in = interp_new(u->ir);
	}
	if (!a || !a->pre || !a->body || !a->in) {
		if (a) {
			free(a->pre);
			free(a->body);
			if (a->in)
				interp_free(a->in);
			free(a);
		}
		adnc_unit_free(u);
		adn_errf(err, errlen, "out of memory");
		return NULL;
	}
	a->unit = u;
	interp_only_at(a->in, PLACE_APP);
	if (getrandom(&a->rng, sizeof(a->rng), 0) != (ssize_t)sizeof(a->rng) || !a->rng)
		a->rng = adn_now_ns() | 1;
	a->env = (struct interp_env){ .now = env_now, .random = env_random, .log = env_log, .ctx = a };
	return a;
}

void adn_app_sql_free(struct adn_app_sql *a)
{
	if (!a)
		return;
	interp_free(a->in);
	adnc_unit_free(a->unit);
	free(a->pre);
	free(a->body);
	free(a);
}

void adn_app_sql_set_log(struct adn_app_sql *a, FILE *out)
{
	a->log = out;
}

int adn_app_sql_request(struct adn_app_sql *a, uint32_t rpc_id, uint16_t method, uint16_t layout,
			const void *body, size_t len, const void **out)
{
	size_t net = (size_t)a->unit->ir->net_size;
	struct adn_hdr h = { .len = (uint32_t)(ADN_HDR_LEN + len), .rpc_id = rpc_id, .method = method,
			     .kind = ADN_KIND_REQUEST, .layout = layout };
	uint32_t at = 0;

	*out = body;
	if (len < net)
		return 0;
	memset(a->pre, 0, a->pre_cap);
	adn_hdr_encode(&h, a->pre);
	memcpy(a->pre + ADN_HDR_LEN, body, net);
	int st = interp_chain_request(a->in, a->pre, &a->env, &at);
	if (st == INTERP_PASS_REWRITE) {
		memcpy(a->body, body, len);
		memcpy(a->body, a->pre + ADN_HDR_LEN, net);
		*out = a->body;
		return 0;
	}
	if (st & INTERP_ANSWER_BIT) /* placement keeps answering elements in the kernel */
		return ADN_INTERNAL;
	if (st) {
		/* the reply the network would make: the response sides of the
		 * elements before the dropping one see it; they change nothing */
		a->pre[10] = ADN_KIND_RESPONSE;
		a->pre[11] = (uint8_t)st;
		a->pre[12] |= ADN_F_NET_REPLY;
		interp_chain_response(a->in, a->pre, at, &a->env);
	}
	return st;
}

int adn_app_sql_response(struct adn_app_sql *a, const struct adn_hdr *h, const uint8_t *body,
			 size_t len)
{
	memset(a->pre, 0, a->pre_cap);
	adn_hdr_encode(h, a->pre);
	memcpy(a->pre + ADN_HDR_LEN, body, len < a->pre_cap - ADN_HDR_LEN ? len : a->pre_cap - ADN_HDR_LEN);
	int st = interp_chain_response(a->in, a->pre, (uint32_t)a->unit->ir->n_elems, &a->env);
	return st && !(h->flags & ADN_F_NET_REPLY) ? st : h->status;
}

/* ---- the client's side ------------------------------------------------ */

long adn_cl_app_sql_call(struct adn_client *c, uint16_t method, const void **body, size_t len,
			 adn_reply_fn fn, void *user)
{
	struct adn_app_sql *a = c->app;
	uint32_t next = c->next_id, id;
	/* the id the call will get: elements may read input.rpc_id */
	struct call_slot *s = adn_cl_take_slot(c, &id);
	if (!s)
		return -ENOBUFS;
	int st = adn_app_sql_request(a, id, method, c->layout, *body, len, body);
	if (!st) {
		/* give the id back: tcp_call / adn_udp_call take the same slot */
		c->next_id = next;
		return 0;
	}
	*s = (struct call_slot){ .rpc_id = id, .conn = UINT32_MAX, .used = true, .fn = fn, .user = user,
				 .local_status = st };
	c->outstanding++;
	c->st.calls++;
	a->n_local++;
	return id;
}

void adn_cl_app_sql_complete(struct adn_client *c)
{
	struct adn_app_sql *a = c->app;
	struct done_call batch[64];
	int status[64];
	size_t n;

	/* the calls completed so far: those that callbacks issue and that
	 * complete locally wait for the next poll */
	size_t todo = a->n_local;

	while (todo) {
		n = 0;
		for (uint32_t i = 0; i <= c->mask && n < 64 && n < todo; i++) {
			struct call_slot *s = &c->slots[i];
			if (s->used && s->local_status) {
				status[n] = s->local_status;
				s->local_status = 0;
				batch[n++] = adn_cl_release(c, s);
			}
		}
		if (!n) { /* cannot happen */
			a->n_local = 0;
			break;
		}
		a->n_local -= n;
		todo -= n;
		for (size_t i = 0; i < n; i++)
			batch[i].fn(batch[i].user, batch[i].rpc_id, status[i], ADN_RPC_F_LOCAL, NULL, 0);
	}
}

bool adn_app_sql_pending(const struct adn_app_sql *a)
{
	return a->n_local != 0;
}
