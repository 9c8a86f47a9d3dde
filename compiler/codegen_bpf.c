/* eBPF C generation. The output is meant to be read: one function per
 * element and direction, every block preceded by the DSL line it comes from,
 * explicit bounds, no loops. docs/compiler.md shows the shape. */
#include <inttypes.h>
#include <string.h>

#include "codegen_bpf_int.h"
#include "tokenize.h"

/* Records up to this size are built on the stack and written with
 * bpf_ringbuf_output; larger ones are built in place (reserve/submit). */
#define STACK_RECORD_MAX 128

/* struct cg: codegen_bpf_int.h */

int cg_log2_bytes(int c)
{
	return c == 8 ? 3 : c == 4 ? 2 : c == 2 ? 1 : 0;
}

static const char *kind_map_type(enum ir_map_kind k)
{
	switch (k) {
	case MAP_HASH: return "BPF_MAP_TYPE_HASH";
	case MAP_LRU_HASH: return "BPF_MAP_TYPE_LRU_HASH";
	case MAP_ARRAY: return "BPF_MAP_TYPE_ARRAY";
	case MAP_PERCPU_HASH: return "BPF_MAP_TYPE_PERCPU_HASH";
	case MAP_PERCPU_ARRAY: return "BPF_MAP_TYPE_PERCPU_ARRAY";
	case MAP_RINGBUF: return "BPF_MAP_TYPE_RINGBUF";
	}
	return "?";
}

/* A C string literal, escaped. */
static void c_string(struct strbuf *out, const char *s, size_t n)
{
	sb_putc(out, '"');
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '"' || c == '\\')
			sb_printf(out, "\\%c", c);
		else if (c == '\n')
			sb_puts(out, "\\n");
		else if (c < 0x20 || c >= 0x7f)
			sb_printf(out, "\\%03o", c);
		else
			sb_putc(out, (char)c);
	}
	sb_putc(out, '"');
}

/* A comment that shows source text; never closes itself early. */
static void comment_text(struct strbuf *out, const char *s)
{
	for (; *s; s++) {
		if (s[0] == '*' && s[1] == '/')
			sb_puts(out, "* ");
		else
			sb_putc(out, *s);
	}
}

void cg_line_comment(struct cg *g, const char *indent, int line, const char *text)
{
	sb_printf(g->out, "%s/* %s:%d: ", indent, g->ir->prog->basename, line);
	comment_text(g->out, text);
	sb_puts(g->out, " */\n");
}

/* Looks up the joined rows; `miss` is what to do when a row is missing. */
void cg_emit_joins(struct cg *g, const char *ind, const struct select_insert *s, const char *miss)
{
	const char *el = g->el->decl->name;
	for (size_t i = 0; i < s->n_joins; i++) {
		const struct join_clause *j = &s->joins[i];
		const char *t = j->tab->name;
		sb_printf(g->out, "%sstruct %s__%s_key key_%s;\n", ind, el, t, t);
		sb_printf(g->out, "%sstruct %s__%s_val *row_%s;\n\n", ind, el, t, t);
		sb_printf(g->out, "%s__builtin_memset(&key_%s, 0, sizeof(key_%s));\n", ind, t, t);
		size_t k = 0;
		for (size_t c = 0; c < j->tab->n_cols; c++) {
			const struct column_decl *col = &j->tab->cols[c];
			if (!col->primary_key)
				continue;
			char dst[160];
			snprintf(dst, sizeof(dst), "key_%s.%s", t, col->name);
			cg_emit_store(g, ind, dst, col->type, j->key_vals[k++]);
		}
		sb_printf(g->out, "%srow_%s = bpf_map_lookup_elem(&%s__%s, &key_%s);\n", ind, t, el, t, t);
		sb_printf(g->out, "%sif (!row_%s)\n%s\t%s; /* JOIN: no row with this key */\n", ind, t, ind, miss);
	}
}

/* WHERE a AND b AND c: one test per conjunct, in order (same short circuit). */
void cg_emit_where_conjuncts(struct cg *g, const char *ind, const struct expr *e, const char *miss)
{
	if (e->kind == EX_BINARY && e->op == 'A') {
		cg_emit_where_conjuncts(g, ind, e->lhs, miss);
		cg_emit_where_conjuncts(g, ind, e->rhs, miss);
		return;
	}
	sb_printf(g->out, "%sif (!", ind);
	cg_emit_expr(g, e); /* comparisons and operators come parenthesized */
	sb_printf(g->out, ")\n%s\t%s; /* WHERE is false */\n", ind, miss);
}

void cg_emit_where(struct cg *g, const char *ind, const struct select_insert *s, const char *miss)
{
	if (s->where)
		cg_emit_where_conjuncts(g, ind, s->where, miss);
}

static bool log_on_stack(const struct cg *g, const struct select_insert *s)
{
	for (size_t i = 0; s->log && i < g->ir->n_maps; i++)
		if (g->ir->maps[i].tab == s->log)
			return g->ir->maps[i].record_size <= STACK_RECORD_MAX;
	return true;
}

static void emit_log_write(struct cg *g, const char *ind, const struct select_insert *s)
{
	const struct table_decl *t = s->log;
	const char *el = g->el->decl->name;
	char dst[160];
	bool on_stack = log_on_stack(g, s);
	if (on_stack) {
		sb_printf(g->out, "%sstruct adn_rec__%s__%s rec;\n\n", ind, el, t->name);
		sb_printf(g->out, "%s__builtin_memset(&rec, 0, sizeof(rec));\n", ind);
	} else {
		sb_printf(g->out, "%sstruct adn_rec__%s__%s *rec;\n\n", ind, el, t->name);
		sb_printf(g->out, "%srec = bpf_ringbuf_reserve(&%s__%s, sizeof(*rec), 0);\n", ind, el, t->name);
		sb_printf(g->out, "%sif (!rec) {\n%s\tADN_COUNT(log_lost);\n%s\tbreak;\n%s}\n", ind, ind, ind, ind);
		sb_printf(g->out, "%s__builtin_memset(rec, 0, sizeof(*rec));\n", ind);
	}
	for (size_t i = 0; i < t->n_cols; i++) {
		snprintf(dst, sizeof(dst), "rec%s%s", on_stack ? "." : "->", t->cols[i].name);
		cg_emit_store(g, ind, dst, t->cols[i].type, s->exprs[i]);
	}
	if (on_stack)
		sb_printf(g->out, "%sADN_LOG(%s__%s, rec);\n", ind, el, t->name);
	else
		sb_printf(g->out, "%sbpf_ringbuf_submit(rec, BPF_RB_NO_WAKEUP);\n", ind);
}

static bool expr_uses_params(const struct expr *e)
{
	if (!e)
		return false;
	if (e->kind == EX_NAME && e->ref == REF_PARAM)
		return true;
	if (expr_uses_params(e->lhs) || expr_uses_params(e->rhs))
		return true;
	for (size_t i = 0; i < e->n_args; i++)
		if (expr_uses_params(e->args[i]))
			return true;
	return false;
}

static bool stmt_uses_params(const struct select_insert *s)
{
	if (expr_uses_params(s->where))
		return true;
	for (size_t i = 0; i < s->n_exprs; i++)
		if (expr_uses_params(s->exprs[i]))
			return true;
	for (size_t i = 0; i < s->n_joins; i++)
		if (expr_uses_params(s->joins[i].on))
			return true;
	for (size_t i = 0; i < s->n_sets; i++)
		if (expr_uses_params(s->sets[i].value))
			return true;
	return false;
}

static void emit_direction(struct cg *g, enum direction d)
{
	const struct element_decl *el = g->el->decl;
	const struct on_block *on = &el->on[d];
	char drop_stmt[64];
	bool uses_params = false;
	size_t last_output = on->n_stmts;

	snprintf(drop_stmt, sizeof(drop_stmt), "return ADN_%s", status_name(el->drop_code));
	for (size_t i = 0; i < on->n_stmts; i++) {
		uses_params |= stmt_uses_params(&on->stmts[i]);
		if (on->stmts[i].to_output)
			last_output = i;
	}
	/* Early returns are exact when nothing follows the output statement. */
	bool early = last_output + 1 == on->n_stmts;
	bool has_output = last_output < on->n_stmts;

	sb_printf(g->out, "static __always_inline int %s_%s(struct adn_frame *f%s%s)\n{\n", el->name,
		  d == DIR_REQUEST ? "request" : "response",
		  d == DIR_REQUEST && g->el->n_writes ? ", int *rw" : "",
		  d == DIR_REQUEST && g->el->routes ? ", __u32 *at" : "");
	if (uses_params) {
		sb_puts(g->out, "\tconst struct adn_params *params = adn_gen_params();\n");
		if (!early && has_output)
			sb_puts(g->out, "\tint passed = 0;\n");
		sb_puts(g->out, "\n\tif (!params) /* cannot happen: ARRAY of one entry */\n\t\treturn 0;\n");
	} else if (!early && has_output) {
		sb_puts(g->out, "\tint passed = 0;\n\n");
	}
	for (size_t i = 0; i < on->n_stmts; i++) {
		const struct select_insert *s = &on->stmts[i];
		if (i || uses_params)
			sb_putc(g->out, '\n');
		cg_line_comment(g, "\t", s->line, s->src_text);
		if (s->to_output && early) {
			cg_emit_joins(g, "\t", s, drop_stmt);
			cg_emit_where(g, "\t", s, drop_stmt);
			continue;
		}
		if (s->to_output && !s->n_joins && !s->where) {
			sb_puts(g->out, "\tpassed = 1;\n");
			continue;
		}
		if (s->kind != ST_INSERT || s->table) {
			sb_puts(g->out, "\tdo {\n");
			cg_emit_write(g, "\t\t", s);
			sb_puts(g->out, "\t} while (0);\n");
			continue;
		}
		/* a block to leave early (break) when a JOIN or WHERE yields no row */
		bool exits = s->n_joins || s->where || !log_on_stack(g, s);
		sb_puts(g->out, exits ? "\tdo {\n" : "\t{\n");
		cg_emit_joins(g, "\t\t", s, "break");
		cg_emit_where(g, "\t\t", s, "break");
		if (s->to_output)
			sb_puts(g->out, "\t\tpassed = 1;\n");
		else if (s->log)
			emit_log_write(g, "\t\t", s);
		sb_puts(g->out, exits ? "\t} while (0);\n" : "\t}\n");
	}
	if (!has_output)
		sb_printf(g->out, "\n\t/* no INSERT INTO output: every %s is dropped */\n\t%s;\n}\n\n",
			  d == DIR_REQUEST ? "request" : "response", drop_stmt);
	else if (early)
		sb_puts(g->out, "\treturn 0;\n}\n\n");
	else
		sb_printf(g->out, "\n\tif (!passed)\n\t\t%s;\n\treturn 0;\n}\n\n", drop_stmt);
}
static void emit_struct(struct cg *g, const char *name, const struct table_decl *t, bool keys,
			bool packed)
{
	sb_printf(g->out, "struct %s {\n", name);
	for (size_t i = 0; i < t->n_cols; i++) {
		if (t->kind != TABLE_LOG && t->cols[i].primary_key != keys)
			continue;
		sb_puts(g->out, "\t");
		cg_bpf_type(g->out, g->ir, t->cols[i].type, t->cols[i].name);
		sb_puts(g->out, ";\n");
	}
	sb_printf(g->out, "}%s;\n", packed ? " __attribute__((packed))" : "");
}

static void emit_prologue(struct cg *g)
{
	const struct ir_chain *ir = g->ir;
	char up[80], m[80];

	sb_printf(g->out,
		  "/* Generated by adnc %s from %s: chain '%s' on service '%s'.\n"
		  " * Do not edit: change %s and run adnc again. A comment\n"
		  " * \"%s:N: ...\" before a block names the DSL statement it implements. */\n\n",
		  ADNC_VERSION, ir->prog->basename, ir->chain->name, ir->svc->name,
		  ir->prog->basename, ir->prog->basename);
	sb_puts(g->out, "#include \"adn_bpf.h\"\n\n");
	sb_puts(g->out, "/* The network fields: what the elements read, at the same offset in the\n"
			" * body of every request (first use along the chain; the header fields,\n"
			" * read by elements that may run beyond the sender, before the others). */\n");
	sb_puts(g->out, "struct adn_net {\n");
	for (size_t i = 0; i < ir->n_net; i++) {
		sb_puts(g->out, "\t");
		cg_bpf_type(g->out, ir, ir->net[i].type, ir->net[i].name);
		sb_printf(g->out, "; /* offset %d%s */\n", ir->net[i].offset,
			  ir->net[i].header ? "" : ", sender-only: not in the header");
	}
	if (!ir->n_net)
		sb_puts(g->out, "\t/* no element reads a field */\n");
	sb_puts(g->out, "} __attribute__((packed));\n\n");
	sb_puts(g->out, "#include \"adn_frame.h\"\n\n");

	sb_printf(g->out, "/* Methods of service '%s' (the METHOD type of log columns). */\n", ir->svc->name);
	sb_printf(g->out, "enum %s_method {\n", ir->svc->name);
	for (size_t i = 0; i < ir->svc->n_methods; i++)
		sb_printf(g->out, "\t%s_%s = %d,\n", cg_upper(up, sizeof(up), ir->svc->name),
			  cg_upper(m, sizeof(m), ir->svc->methods[i].name), ir->svc->methods[i].id);
	sb_puts(g->out, "};\n\n");
}

static void emit_params(struct cg *g)
{
	const struct ir_chain *ir = g->ir;
	char name[160];

	sb_puts(g->out, "/* Element parameters, one member <element>__<param>. The loader writes\n"
			" * the chain's values (param= lines of .adn.meta). */\n");
	sb_puts(g->out, "struct adn_params {\n");
	for (size_t ei = 0; ei < ir->n_elems; ei++) {
		const struct element_decl *el = ir->elems[ei].decl;
		for (size_t i = 0; i < el->n_params; i++) {
			snprintf(name, sizeof(name), "%s__%s", el->name, el->params[i].name);
			sb_puts(g->out, "\t");
			cg_bpf_type(g->out, ir, el->params[i].type, name);
			sb_puts(g->out, ";\n");
		}
	}
	if (!ir->n_params)
		sb_puts(g->out, "\t__u8 adn_no_params; /* no element has parameters */\n");
	sb_puts(g->out, "};\n\n");
	sb_puts(g->out, "struct {\n\t__uint(type, BPF_MAP_TYPE_ARRAY);\n\t__uint(max_entries, 1);\n"
			"\t__type(key, __u32);\n\t__type(value, struct adn_params);\n} adn_params SEC(\".maps\");\n\n");
	sb_puts(g->out, "static __always_inline __attribute__((unused)) const struct adn_params *adn_gen_params(void)\n{\n"
			"\t__u32 zero = 0;\n\n\treturn bpf_map_lookup_elem(&adn_params, &zero);\n}\n\n");
}

/* Small helpers of the generated code: unaligned loads and stores of 1..8
 * bytes (frames and records are packed, and stack accesses must be aligned,
 * so go through memcpy and let clang pick the instructions). Only the ones
 * the elements use. */
static void emit_helpers(struct cg *g)
{
	static const int bits[] = { 8, 16, 32, 64 };
	for (int i = 0; i < 4; i++) {
		int b = bits[i];
		if (g->used_ld & (1u << i))
			sb_printf(g->out,
			  "static __always_inline __u%d adn_gen_ld%d(const void *p)\n{\n"
			  "\t__u%d v;\n\n\t__builtin_memcpy(&v, p, %d);\n\treturn v;\n}\n\n",
			  b, b, b, b / 8);
		if (g->used_st & (1u << i))
			sb_printf(g->out,
			  "static __always_inline void adn_gen_st%d(void *p, __u%d v)\n{\n"
			  "\t__builtin_memcpy(p, &v, %d);\n}\n\n",
			  b, b, b / 8);
	}
}

static void emit_tables(struct cg *g)
{
	const struct ir_chain *ir = g->ir;

	for (size_t mi = 0; mi < ir->n_maps; mi++) {
		const struct ir_map *m = &ir->maps[mi];
		const struct table_decl *t = m->tab;
		if (!t)
			continue;
		const char *el = m->el->name;
		cg_line_comment(g, "", t->loc.line, t->src_text);
		if (t->kind == TABLE_LOG) {
			char name[160];
			snprintf(name, sizeof(name), "adn_rec__%s__%s", el, t->name);
			emit_struct(g, name, t, false, false);
			sb_printf(g->out, "_Static_assert(sizeof(struct %s) == %d, \"record layout\");\n\n",
				  name, m->record_size);
			sb_printf(g->out, "/* %" PRIu64 " records of %d bytes: a ring of %" PRIu64 " bytes. */\n",
				  t->capacity, m->record_size, m->max_entries);
			sb_printf(g->out, "struct {\n\t__uint(type, BPF_MAP_TYPE_RINGBUF);\n"
					  "\t__uint(max_entries, %" PRIu64 ");\n} %s SEC(\".maps\");\n\n",
				  m->max_entries, m->name);
			/* A ring buffer map has no BTF of its own, and clang leaves
			 * out types used only by locals: ADN_BTF_KEEP (adn_bpf.h)
			 * keeps the record type where log readers find it by name. */
			sb_printf(g->out, "ADN_BTF_KEEP(struct %s, %s__%s);\n\n",
				  name, el, t->name);
			continue;
		}
		char key[160], val[160];
		snprintf(key, sizeof(key), "%s__%s_key", el, t->name);
		snprintf(val, sizeof(val), "%s__%s_val", el, t->name);
		emit_struct(g, key, t, true, false);
		emit_struct(g, val, t, false, false);
		/* The kernel wants a plain 4-byte integer as the BTF key of an
		 * ARRAY: the key struct (one UINT32) has the same layout, and
		 * ADN_BTF_KEEP keeps it in BTF, where adnctl and the snapshot
		 * find the key column's name (maps/row.c, named_struct). */
		bool array = m->kind == MAP_ARRAY || m->kind == MAP_PERCPU_ARRAY;
		if (array)
			sb_printf(g->out, "ADN_BTF_KEEP(struct %s, %s);\n", key, key);
		sb_printf(g->out, "struct {\n\t__uint(type, %s);\n\t__uint(max_entries, %" PRIu64 ");\n",
			  kind_map_type(m->kind), m->max_entries);
		if (array)
			sb_printf(g->out, "\t__type(key, __u32); /* same layout as struct %s */\n", key);
		else
			sb_printf(g->out, "\t__type(key, struct %s);\n", key);
		sb_printf(g->out, "\t__type(value, struct %s);\n} %s SEC(\".maps\");\n\n", val, m->name);
	}
}

/* The replica set of the element that routes (bpf/adn_route.h). */
static void emit_route_map(struct cg *g)
{
	const struct ir_chain *ir = g->ir;

	for (size_t ei = 0; ei < ir->n_elems; ei++) {
		const struct element_decl *el = ir->elems[ei].decl;
		if (!ir->elems[ei].routes)
			continue;
		cg_line_comment(g, "", el->route_loc.line, "ROUTE TO REPLICA: the replica set (adnctl replica)");
		sb_printf(g->out, "#include \"adn_route.h\"\n\nADN_ROUTE_MAP_DEFINE(%s__replicas);\n"
				  "#define ADN_ROUTE_MAP %s__replicas\n\n", el->name, el->name);
		return;
	}
}

static void emit_elements(struct cg *g)
{
	const struct ir_chain *ir = g->ir;

	for (size_t ei = 0; ei < ir->n_elems; ei++) {
		const struct ir_element *e = &ir->elems[ei];
		const struct element_decl *el = e->decl;
		g->el = e;
		cg_line_comment(g, "", el->line, el->src_text);
		sb_printf(g->out, "/* element %zu of the chain", ei);
		for (size_t i = 0; i < el->n_fields; i++) {
			const char *src = ir_field_source(e, &el->fields[i]);
			if (src)
				sb_printf(g->out, "%s %s = %s", i ? "," : ":", el->fields[i].name, src);
		}
		if (el->in_app)
			sb_puts(g->out, "; IMPLEMENTED IN APP: the RPC library runs it */\n");
		else if (e->place == PLACE_APP) {
			/* no hook calls it: no code (its tables stay declared) */
			sb_puts(g->out, "; IN APP: the client's RPC library runs it */\n");
			continue;
		} else
			sb_printf(g->out, "; drops with %s; at %s */\n", status_name(el->drop_code),
				  ir_place_name(e->place));
		for (int d = DIR_REQUEST; d <= DIR_RESPONSE; d++)
			if (e->has[d])
				emit_direction(g, (enum direction)d);
	}
	g->el = NULL;
}

/* The .adn.meta text (docs/internals.md §3): what the loader needs that BTF
 * does not say. */
static void build_meta(struct strbuf *meta, const struct ir_chain *ir)
{
	sb_printf(meta, "version=0\nchain=%s\nservice=%s\nport=%d\nlayout=0x%08x\n", ir->chain->name,
		  ir->svc->name, ir->svc->port, ir->layout_hash);
	cg_meta_placement(meta, ir);
	for (size_t i = 0; i < ir->n_elems; i++)
		sb_printf(meta, "element=%s\n", ir->elems[i].decl->name);
	for (size_t ei = 0; ei < ir->n_elems; ei++) {
		const struct element_decl *el = ir->elems[ei].decl;
		for (size_t ii = 0; ii < el->n_inserts; ii++) {
			const struct rows_insert *ins = &el->inserts[ii];
			if (!ins->tab)
				continue;
			for (size_t r = 0; r < ins->n_rows; r++) {
				sb_printf(meta, "row=%s.%s", el->name, ins->tab->name);
				for (size_t c = 0; c < ins->rows[r].n_vals; c++) {
					sb_printf(meta, " %s=", ins->col_of[c]->name);
					cg_meta_value(meta, ins->rows[r].vals[c]);
				}
				/* the columns left out that have a DEFAULT: written
				 * out, so the loader needs no other source */
				for (size_t tc = 0; tc < ins->tab->n_cols; tc++) {
					const struct column_decl *col = &ins->tab->cols[tc];
					size_t c = 0;
					while (c < ins->rows[r].n_vals && ins->col_of[c] != col)
						c++;
					if (!col->def || c < ins->rows[r].n_vals)
						continue;
					sb_printf(meta, " %s=", col->name);
					cg_meta_value(meta, col->def);
				}
				sb_putc(meta, '\n');
			}
		}
	}
	for (size_t ei = 0; ei < ir->n_elems; ei++) {
		const struct ir_element *e = &ir->elems[ei];
		for (size_t i = 0; i < e->decl->n_params; i++) {
			sb_printf(meta, "param=%s.%s=", e->decl->name, e->decl->params[i].name);
			cg_meta_value(meta, e->use->param_value[i]);
			sb_putc(meta, '\n');
		}
	}
	for (size_t ei = 0; ei < ir->n_elems; ei++)
		if (ir->elems[ei].routes)
			sb_printf(meta, "route=%s\n", ir->elems[ei].decl->name);
	for (size_t mi = 0; mi < ir->n_maps; mi++)
		if (ir->maps[mi].kind == MAP_RINGBUF)
			sb_printf(meta, "log=%s.%s\n", ir->maps[mi].el->name, ir->maps[mi].tab->name);
	/* how the state of two instances combines (scale-in): one line per
	 * state table; tools read a missing line as UNION */
	for (size_t mi = 0; mi < ir->n_maps; mi++) {
		const struct ir_map *m = &ir->maps[mi];
		static const char *const policy[] = { "UNION", "SUM", "MAX", "MIN", "LAST" };
		if (!m->tab || m->kind == MAP_RINGBUF)
			continue;
		sb_printf(meta, "merge=%s.%s %s", m->el->name, m->tab->name, policy[m->tab->merge]);
		if (m->tab->merge == MERGE_LAST)
			sb_printf(meta, " %s", m->tab->merge_ts.name);
		sb_putc(meta, '\n');
	}
	/* column defaults: what restore and update put into a column that
	 * the old rows lack (maps/snapshot.c adn_snap_table_apply_defaults) */
	for (size_t mi = 0; mi < ir->n_maps; mi++) {
		const struct ir_map *m = &ir->maps[mi];
		if (!m->tab || m->kind == MAP_RINGBUF)
			continue;
		for (size_t c = 0; c < m->tab->n_cols; c++) {
			const struct column_decl *col = &m->tab->cols[c];
			if (!col->def || col->primary_key)
				continue;
			sb_printf(meta, "default=%s.%s %s ", m->el->name, m->tab->name, col->name);
			cg_meta_value(meta, col->def);
			sb_putc(meta, '\n');
		}
	}
}

static void emit_meta(struct cg *g)
{
	struct strbuf meta = { 0 };
	const char *p;

	build_meta(&meta, g->ir);
	sb_puts(g->out, "ADN_META(\n");
	p = sb_str(&meta);
	while (*p) {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) + 1 : strlen(p);
		sb_puts(g->out, "\t");
		c_string(g->out, p, n);
		sb_puts(g->out, "\n");
		p += n;
	}
	sb_puts(g->out, ");\n\n");
	sb_free(&meta);
}

void codegen_bpf(struct strbuf *out, const struct ir_chain *ir)
{
	struct cg g = { .out = out, .ir = ir };
	struct strbuf elements = { 0 };

	/* elements first, into their own buffer: they tell which helpers are used */
	g.out = &elements;
	emit_elements(&g);
	g.out = out;
	emit_prologue(&g);
	emit_params(&g);
	emit_helpers(&g);
	emit_tables(&g);
	emit_route_map(&g);
	sb_puts(out, sb_str(&elements));
	sb_free(&elements);
	cg_emit_chain(&g);
	emit_meta(&g);
	cg_emit_runtime(&g);
	sb_puts(out, "char LICENSE[] SEC(\"license\") = \"GPL\";\n");
}
