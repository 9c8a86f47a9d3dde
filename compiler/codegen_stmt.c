/* eBPF C of the statements that change state or the RPC: INSERT INTO a state
 * table, UPDATE of a table row, UPDATE input (rewrite), DELETE. Each is the
 * body of a do { } while (0) block: `break` leaves it when a JOIN misses, the
 * row is absent or a WHERE test is false. */
#include <string.h>

#include "codegen_bpf_int.h"

static void emit_key(struct cg *g, const char *ind, const struct join_clause *j, const char *var)
{
	const char *el = g->el->decl->name, *t = j->tab->name;
	char dst[200];
	size_t k = 0;

	sb_printf(g->out, "%sstruct %s__%s_key %s;\n", ind, el, t, var);
	sb_printf(g->out, "%s__builtin_memset(&%s, 0, sizeof(%s));\n", ind, var, var);
	for (size_t c = 0; c < j->tab->n_cols; c++) {
		const struct column_decl *col = &j->tab->cols[c];
		if (!col->primary_key)
			continue;
		snprintf(dst, sizeof(dst), "%s.%s", var, col->name);
		cg_emit_store(g, ind, dst, col->type, j->key_vals[k++]);
	}
}

static void emit_filters(struct cg *g, const char *ind, const struct select_insert *s)
{
	for (size_t i = 0; i < s->n_filters; i++)
		cg_emit_where_conjuncts(g, ind, s->filters[i], "break");
}

/* INSERT [OR REPLACE] INTO t SELECT v1, ..., vn FROM input ... */
static void emit_insert(struct cg *g, const char *ind, const struct select_insert *s)
{
	const char *el = g->el->decl->name, *t = s->table->name;
	char dst[200];

	cg_emit_joins(g, ind, s, "break");
	cg_emit_where(g, ind, s, "break");
	sb_printf(g->out, "%sstruct %s__%s_key ins_key;\n", ind, el, t);
	sb_printf(g->out, "%sstruct %s__%s_val ins_val;\n\n", ind, el, t);
	sb_printf(g->out, "%s__builtin_memset(&ins_key, 0, sizeof(ins_key));\n", ind);
	sb_printf(g->out, "%s__builtin_memset(&ins_val, 0, sizeof(ins_val));\n", ind);
	for (size_t i = 0; i < s->table->n_cols; i++) {
		const struct column_decl *c = &s->table->cols[i];
		snprintf(dst, sizeof(dst), "%s.%s", c->primary_key ? "ins_key" : "ins_val", c->name);
		cg_emit_store(g, ind, dst, c->type, s->exprs[i]);
	}
	sb_printf(g->out, "%sbpf_map_update_elem(&%s__%s, &ins_key, &ins_val, %s);%s\n", ind, el, t,
		  s->replace ? "BPF_ANY" : "BPF_NOEXIST",
		  s->replace ? "" : " /* keeps an existing row */");
}

/* The new values first (SQL: every SET sees the row as it was), then the
 * stores; c = c +/- d on a row that CPUs share is an atomic add. */
static void emit_sets(struct cg *g, const char *ind, const struct select_insert *s)
{
	char dst[200], tmp[32];

	for (size_t i = 0; i < s->n_sets; i++) {
		const struct set_clause *c = &s->sets[i];
		struct type t = s->to_input ? c->field->type : c->column->type;
		snprintf(tmp, sizeof(tmp), "adn_v%zu", i);
		if (s->to_input)
			snprintf(dst, sizeof(dst), "f->net.%s", ir_field_source(g->el, c->field));
		else
			snprintf(dst, sizeof(dst), "row_%s->%s", s->table->name, c->column->name);
		if (t.kind == TY_CHAR) {
			sb_printf(g->out, "%schar %s[%d];\n\n%s__builtin_memset(%s, 0, sizeof(%s));\n", ind, tmp,
				  t.len, ind, tmp, tmp);
			cg_emit_store(g, ind, tmp, t, c->value);
			continue;
		}
		sb_printf(g->out, "%s__typeof__(%s) %s = ", ind, dst, tmp);
		cg_emit_expr(g, c->atomic ? c->delta : c->value);
		sb_puts(g->out, ";\n");
	}
	for (size_t i = 0; i < s->n_sets; i++) {
		const struct set_clause *c = &s->sets[i];
		struct type t = s->to_input ? c->field->type : c->column->type;
		if (s->to_input)
			snprintf(dst, sizeof(dst), "f->net.%s", ir_field_source(g->el, c->field));
		else
			snprintf(dst, sizeof(dst), "row_%s->%s", s->table->name, c->column->name);
		if (t.kind == TY_CHAR)
			sb_printf(g->out, "%s__builtin_memcpy(%s, adn_v%zu, %d);\n", ind, dst, i, t.len);
		else if (c->atomic)
			sb_printf(g->out, "%s__sync_fetch_and_add(&%s, %sadn_v%zu); /* atomic: rows are shared by CPUs */\n",
				  ind, dst, c->atomic == '-' ? "-" : "", i);
		else
			sb_printf(g->out, "%s%s = adn_v%zu;\n", ind, dst, i);
	}
}

static void emit_update(struct cg *g, const char *ind, const struct select_insert *s)
{
	const char *el = g->el->decl->name;

	cg_emit_joins(g, ind, s, "break");
	if (s->to_input) {
		cg_emit_where(g, ind, s, "break");
		emit_sets(g, ind, s);
		sb_printf(g->out, "%s*rw = 1; /* the runtime writes the network fields back */\n", ind);
		return;
	}
	const char *t = s->table->name;
	char var[160];
	snprintf(var, sizeof(var), "key_%s", t);
	emit_key(g, ind, &s->target_join, var);
	sb_printf(g->out, "%sstruct %s__%s_val *row_%s = bpf_map_lookup_elem(&%s__%s, &key_%s);\n\n", ind, el, t,
		  t, el, t, t);
	sb_printf(g->out, "%sif (!row_%s)\n%s\tbreak; /* no row with this key: nothing to update */\n", ind, t, ind);
	emit_filters(g, ind, s);
	emit_sets(g, ind, s);
}

static void emit_delete(struct cg *g, const char *ind, const struct select_insert *s)
{
	const char *el = g->el->decl->name, *t = s->table->name;
	char var[160];

	snprintf(var, sizeof(var), "key_%s", t);
	emit_key(g, ind, &s->target_join, var);
	if (s->n_filters) {
		sb_printf(g->out, "%sstruct %s__%s_val *row_%s = bpf_map_lookup_elem(&%s__%s, &key_%s);\n\n", ind,
			  el, t, t, el, t, t);
		sb_printf(g->out, "%sif (!row_%s)\n%s\tbreak;\n", ind, t, ind);
		emit_filters(g, ind, s);
	}
	sb_printf(g->out, "%sbpf_map_delete_elem(&%s__%s, &key_%s);\n", ind, el, t, t);
}

/* ROUTE TO REPLICA v: the runtime sends the request to replica v % n
 * (bpf/adn_route.h); `at` points at the runtime's struct adn_verdict. */
static void emit_route(struct cg *g, const char *ind, const struct select_insert *s)
{
	cg_emit_joins(g, ind, s, "break");
	cg_emit_where(g, ind, s, "break");
	sb_printf(g->out, "%sadn_route_set(at, (__u64)(", ind);
	cg_emit_expr(g, s->exprs[0]);
	sb_puts(g->out, "));\n");
}

/* INSERT INTO reply SELECT v AS f, ...: the network answers the request.
 * The values first (they may read request fields, which the reply
 * overwrites), then the response body into the frame after the header,
 * zero-padded to whole words (the runtime sums it for the UDP checksum);
 * the runtime turns the datagram into the reply (bpf/adn_tc.h). */
static void emit_reply(struct cg *g, const char *ind, const struct select_insert *s)
{
	char tmp[32];

	cg_emit_joins(g, ind, s, "break");
	cg_emit_where(g, ind, s, "break");
	for (size_t i = 0; i < s->n_exprs; i++) {
		struct type t = s->reply_field[i]->type;
		snprintf(tmp, sizeof(tmp), "adn_r%zu", i);
		if (t.kind == TY_CHAR) {
			sb_printf(g->out, "%schar %s[%d];\n\n%s__builtin_memset(%s, 0, sizeof(%s));\n", ind, tmp,
				  t.len, ind, tmp, tmp);
			cg_emit_store(g, ind, tmp, t, s->exprs[i]);
			continue;
		}
		sb_printf(g->out, "%s__u%d %s = ", ind, type_size(t) * 8, tmp);
		cg_emit_expr(g, s->exprs[i]);
		sb_puts(g->out, ";\n");
	}
	if (s->reply_size > 0)
		sb_printf(g->out, "%s__builtin_memset((__u8 *)f + ADN_HDR_LEN, 0, %d);\n", ind,
			  (s->reply_size + 3) / 4 * 4);
	for (size_t i = 0; i < s->n_exprs; i++) {
		struct type t = s->reply_field[i]->type;
		const char *name = ir_field_source(g->el, s->reply_field[i]);
		if (t.kind == TY_CHAR) {
			sb_printf(g->out, "%s__builtin_memcpy((__u8 *)f + ADN_HDR_LEN + %d, adn_r%zu, %d); /* %s */\n",
				  ind, s->reply_off[i], i, t.len, name ? name : "?");
			continue;
		}
		int n = type_size(t);
		g->used_st |= 1u << cg_log2_bytes(n);
		sb_printf(g->out, "%sadn_gen_st%d((__u8 *)f + ADN_HDR_LEN + %d, adn_r%zu); /* %s */\n", ind, n * 8,
			  s->reply_off[i], i, name ? name : "?");
	}
	sb_printf(g->out, "%sreturn ADN_ANSWER(%d); /* the network answers: status OK, %d bytes of response fields */\n",
		  ind, s->reply_size, s->reply_size);
}

void cg_emit_write(struct cg *g, const char *ind, const struct select_insert *s)
{
	switch (s->kind) {
	case ST_INSERT:
		emit_insert(g, ind, s);
		break;
	case ST_UPDATE:
		emit_update(g, ind, s);
		break;
	case ST_DELETE:
		emit_delete(g, ind, s);
		break;
	case ST_ROUTE:
		emit_route(g, ind, s);
		break;
	case ST_REPLY:
		emit_reply(g, ind, s);
		break;
	}
}
