/* eBPF C of expressions and of stores into columns: comparisons of CHAR
 * values without loops, built-in functions, CASE, LIKE, 32.32 REAL. */
#include <inttypes.h>
#include <string.h>

#include "codegen_bpf_int.h"
#include "tokenize.h"

/* Little-endian value of bytes [off, off+n) of a NUL-padded literal. */
static uint64_t literal_chunk(const struct expr *lit, int off, int n)
{
	uint64_t v = 0;
	for (int i = n - 1; i >= 0; i--) {
		unsigned char c = off + i < lit->str_len ? (unsigned char)lit->str[off + i] : 0;
		v = v << 8 | c;
	}
	return v;
}

static int chunk_size(int remaining)
{
	return remaining >= 8 ? 8 : remaining >= 4 ? 4 : remaining >= 2 ? 2 : 1;
}


/* A CHAR(n) value as an address: the field, column or parameter. */
static void emit_chars_addr(struct cg *g, const struct expr *e)
{
	cg_emit_expr(g, e);
}

/* CHAR(n) = CHAR(n) or CHAR(n) = 'literal': compares all n bytes, 8 at a
 * time, with constant offsets (no loop for the verifier to bound). */
static void emit_chars_eq(struct cg *g, const struct expr *a, const struct expr *b, int n, bool negate)
{
	if (b->kind != EX_STRING) {
		/* two CHAR(n) values, 8 bytes at a time. (Not adn_str_eq of the
		 * runtime: clang 14 turns its __builtin_memcmp into a call to
		 * memcmp, which BPF does not have.) */
		sb_puts(g->out, negate ? "!(" : "(");
		for (int off = 0; off < n;) {
			int c = chunk_size(n - off);
			g->used_ld |= 1u << cg_log2_bytes(c);
			if (off)
				sb_puts(g->out, " &&\n\t\t    ");
			sb_printf(g->out, "adn_gen_ld%d(", c * 8);
			emit_chars_addr(g, a);
			sb_printf(g->out, " + %d) == adn_gen_ld%d(", off, c * 8);
			emit_chars_addr(g, b);
			sb_printf(g->out, " + %d)", off);
			off += c;
		}
		sb_puts(g->out, ")");
		return;
	}
	/* CHAR(n) = 'literal': the literal NUL-padded to n bytes, compared in
	 * chunks of 8, 4, 2, 1 bytes against constants (no string in .rodata). */
	sb_puts(g->out, negate ? "!(" : "(");
	for (int off = 0; off < n;) {
		int c = chunk_size(n - off);
		if (off)
			sb_puts(g->out, " &&\n\t\t    ");
		g->used_ld |= 1u << cg_log2_bytes(c);
		sb_printf(g->out, "adn_gen_ld%d(", c * 8);
		emit_chars_addr(g, a);
		sb_printf(g->out, " + %d) == 0x%" PRIx64 "%s", off, literal_chunk(b, off, c), c == 8 ? "ULL" : "U");
		off += c;
	}
	sb_puts(g->out, ") /* '");
	for (int i = 0; i < b->str_len; i++) {
		char ch = b->str[i];
		if (ch == '*' && i + 1 < b->str_len && b->str[i + 1] == '/')
			ch = '?';
		sb_putc(g->out, ch >= 0x20 && ch < 0x7f ? ch : '?');
	}
	sb_puts(g->out, "' */");
}

static const char *c_op(int op)
{
	switch (op) {
	case TOK_EQ: return "==";
	case TOK_NE: return "!=";
	case TOK_LT: return "<";
	case TOK_LE: return "<=";
	case TOK_GT: return ">";
	case TOK_GE: return ">=";
	case TOK_PLUS: return "+";
	case TOK_MINUS: return "-";
	case TOK_STAR: return "*";
	case TOK_SLASH: return "/";
	case TOK_PERCENT: return "%";
	case 'A': return "&&";
	case 'O': return "||";
	}
	return "?";
}

static void emit_enum_literal(struct cg *g, struct type t, const struct expr *lit)
{
	char up[80], m[80];
	if (t.kind == TY_KIND)
		sb_puts(g->out, lit->enum_value == 1 ? "ADN_KIND_RESPONSE" : "ADN_KIND_REQUEST");
	else if (t.kind == TY_STATUS)
		sb_printf(g->out, "ADN_%s", status_name(lit->enum_value));
	else
		for (size_t i = 0; i < g->ir->svc->n_methods; i++)
			if (g->ir->svc->methods[i].id == lit->enum_value)
				sb_printf(g->out, "%s_%s", cg_upper(up, sizeof(up), g->ir->svc->name),
					  cg_upper(m, sizeof(m), g->ir->svc->methods[i].name));
}

/* The big-endian value of chunk [off, off+c) of a CHAR value: chunks compare
 * as unsigned numbers in the order memcmp compares bytes. */
static void emit_be_chunk(struct cg *g, const struct expr *v, int off, int c)
{
	if (v->kind == EX_STRING) {
		uint64_t le = literal_chunk(v, off, c), be = 0;
		for (int i = 0; i < c; i++)
			be = be << 8 | ((le >> (8 * i)) & 0xff);
		sb_printf(g->out, "0x%" PRIx64 "ULL", be);
		return;
	}
	g->used_ld |= 1u << cg_log2_bytes(c);
	if (c > 1)
		sb_printf(g->out, "__builtin_bswap%d(", c * 8);
	sb_printf(g->out, "adn_gen_ld%d(", c * 8);
	emit_chars_addr(g, v);
	sb_printf(g->out, " + %d)%s", off, c > 1 ? ")" : "");
}

/* CHAR(n) < > <= >= : memcmp order, chunk by chunk, no loop. */
static void emit_chars_order(struct cg *g, const struct expr *a, const struct expr *b, int n, int op)
{
	sb_puts(g->out, "(({ int adn_c = 0;");
	for (int off = 0; off < n;) {
		int c = chunk_size(n - off);
		sb_puts(g->out, off ? " if (!adn_c) adn_c = adn_cmp_u64(" : " adn_c = adn_cmp_u64(");
		emit_be_chunk(g, a, off, c);
		sb_puts(g->out, ", ");
		emit_be_chunk(g, b, off, c);
		sb_puts(g->out, ");");
		off += c;
	}
	sb_printf(g->out, " adn_c; }) %s 0)", c_op(op));
}

static int flip_op(int op)
{
	switch (op) {
	case TOK_LT: return TOK_GT;
	case TOK_GT: return TOK_LT;
	case TOK_LE: return TOK_GE;
	case TOK_GE: return TOK_LE;
	}
	return op;
}

static void emit_compare(struct cg *g, const struct expr *e)
{
	const struct expr *l = e->lhs, *r = e->rhs;
	int op = e->op;
	if (l->type.kind == TY_STRING_LITERAL || (r->type.kind != TY_STRING_LITERAL && l->kind == EX_STRING)) {
		const struct expr *t = l; l = r; r = t;
		op = flip_op(op);
	}
	if (l->type.kind == TY_CHAR) {
		if (op == TOK_EQ || op == TOK_NE)
			emit_chars_eq(g, l, r, l->type.len, op == TOK_NE);
		else
			emit_chars_order(g, l, r, l->type.len, op);
		return;
	}
	sb_puts(g->out, "(");
	/* a signed value compared with an unsigned one: compare as signed 64 */
	bool mixed = (type_is_signed(l->type) && type_is_integer(r->type) && !type_is_signed(r->type) &&
		      r->type.kind != TY_INT_LITERAL) ||
		     (type_is_signed(r->type) && type_is_integer(l->type) && !type_is_signed(l->type) &&
		      l->type.kind != TY_INT_LITERAL);
	/* a negative literal is a signed value too: C would make -1 unsigned */
	bool lneg = l->kind == EX_UNARY && l->op == TOK_MINUS && l->lhs->kind == EX_INT && l->lhs->ival;
	bool rneg = r->kind == EX_UNARY && r->op == TOK_MINUS && r->lhs->kind == EX_INT && r->lhs->ival;
	mixed |= (lneg && type_is_integer(r->type) && !type_is_signed(r->type) && r->type.kind != TY_INT_LITERAL) ||
		 (rneg && type_is_integer(l->type) && !type_is_signed(l->type) && l->type.kind != TY_INT_LITERAL);
	if (mixed)
		sb_puts(g->out, "(__s64)");
	cg_emit_expr(g, l);
	sb_printf(g->out, " %s ", c_op(op));
	if (mixed)
		sb_puts(g->out, "(__s64)");
	if (r->kind == EX_STRING && r->enum_value >= 0)
		emit_enum_literal(g, l->type, r);
	else
		cg_emit_expr(g, r);
	sb_puts(g->out, ")");
}

/* The C type a value of type t is computed in. */
static const char *c_calc_type(struct type t)
{
	if (t.kind == TY_BOOL)
		return "__u8";
	if (type_is_signed(t))
		return "__s64";
	return "__u64";
}

static void emit_hash_arg(struct cg *g, const struct expr *a, int depth)
{
	/* h = adn_hash_mix(h, chunk) for every 8/4/2/1-byte chunk of a CHAR,
	 * or once for a number: nested calls, innermost first */
	if (a->type.kind != TY_CHAR) {
		sb_puts(g->out, ", (__u64)");
		cg_emit_expr(g, a);
		sb_puts(g->out, ")");
		return;
	}
	(void)depth;
}

static void emit_call(struct cg *g, const struct expr *e)
{
	switch (e->func) {
	case FN_RANDOM:
		sb_puts(g->out, "adn_random()");
		break;
	case FN_NOW:
		sb_puts(g->out, "adn_now()");
		break;
	case FN_LOG2:
		sb_puts(g->out, "adn_log2((__u64)");
		cg_emit_expr(g, e->args[0]);
		sb_puts(g->out, ")");
		break;
	case FN_MIN:
	case FN_MAX: {
		const char *fn = e->func == FN_MIN ? "min" : "max";
		const char *w = e->type.kind == TY_INT64 ? "s64" : "u64";
		for (size_t i = 0; i + 1 < e->n_args; i++)
			sb_printf(g->out, "adn_%s_%s(", fn, w);
		cg_emit_expr(g, e->args[0]);
		for (size_t i = 1; i < e->n_args; i++) {
			sb_printf(g->out, ", (__%s)", w);
			cg_emit_expr(g, e->args[i]);
			sb_puts(g->out, ")");
		}
		break;
	}
	case FN_HASH: {
		/* adn_hash_fin(mix(mix(SEED, x0), x1)...): one mix per number,
		 * one per 8/4/2/1-byte chunk of a CHAR (bpf/adn_hash.h) */
		int mixes = 0;
		for (size_t i = 0; i < e->n_args; i++) {
			const struct expr *a = e->args[i];
			for (int off = 0; a->type.kind == TY_CHAR && off < a->type.len; off += chunk_size(a->type.len - off))
				mixes++;
			if (a->type.kind != TY_CHAR)
				mixes++;
		}
		sb_puts(g->out, "adn_hash_fin(");
		for (int i = 0; i < mixes; i++)
			sb_puts(g->out, "adn_hash_mix(");
		sb_puts(g->out, "ADN_HASH_SEED");
		for (size_t i = 0; i < e->n_args; i++) {
			const struct expr *a = e->args[i];
			if (a->type.kind != TY_CHAR) {
				emit_hash_arg(g, a, 0);
				continue;
			}
			for (int off = 0; off < a->type.len;) {
				int c = chunk_size(a->type.len - off);
				g->used_ld |= 1u << cg_log2_bytes(c);
				sb_printf(g->out, ", adn_gen_ld%d(", c * 8);
				emit_chars_addr(g, a);
				sb_printf(g->out, " + %d))", off);
				off += c;
			}
		}
		sb_puts(g->out, ")");
		break;
	}
	default:
		sb_puts(g->out, "0");
	}
}

/* CASE WHEN c THEN v ... ELSE w END: a chain of conditional expressions. */
static void emit_case(struct cg *g, const struct expr *e)
{
	const char *t = c_calc_type(e->type);
	sb_puts(g->out, "(");
	for (size_t i = 0; i + 1 < e->n_args; i += 2) {
		cg_emit_expr(g, e->args[i]);
		sb_printf(g->out, " ? (%s)", t);
		cg_emit_expr(g, e->args[i + 1]);
		sb_puts(g->out, " : ");
	}
	sb_printf(g->out, "(%s)", t);
	cg_emit_expr(g, e->rhs);
	sb_puts(g->out, ")");
}

/* The cast that sign-extends a loaded n-byte value. */
static const char *signed_cast(int n)
{
	return n == 1 ? "((__s8)" : n == 2 ? "((__s16)" : n == 4 ? "((__s32)" : "((__s64)";
}

void cg_emit_expr(struct cg *g, const struct expr *e)
{
	const struct ir_element *el = g->el;

	if (e->int_to_real) { /* integer -> 32.32 */
		if (e->kind == EX_INT) {
			sb_printf(g->out, "0x%" PRIx64 "ULL /* %s */", e->ival << 32, e->text);
			return;
		}
		sb_puts(g->out, "((__u64)");
		struct expr copy = *e;
		copy.int_to_real = false;
		cg_emit_expr(g, &copy);
		sb_puts(g->out, " << 32)");
		return;
	}
	switch (e->kind) {
	case EX_INT:
		sb_printf(g->out, "%" PRIu64 "%s", e->ival, e->ival > 0x7fffffff ? "ULL" : "");
		break;
	case EX_REAL:
		sb_printf(g->out, "0x%" PRIx64 "ULL /* %s */", e->ival, e->text);
		break;
	case EX_BOOL:
		sb_puts(g->out, e->ival ? "1" : "0");
		break;
	case EX_STRING:
		sb_puts(g->out, "0 /* string */");
		break;
	case EX_NAME:
		switch (e->ref) {
		case REF_FIELD:
			if (e->field->response) {
				/* a response field: the runtime copied the response's
				 * first bytes after the header (bpf/adn_dgram.h) */
				int n = type_size(e->type);
				if (e->type.kind == TY_CHAR) {
					sb_printf(g->out, "((const __u8 *)f + ADN_HDR_LEN + %d)", e->resp_off);
					break;
				}
				g->used_ld |= 1u << cg_log2_bytes(n);
				sb_printf(g->out, "%sadn_gen_ld%d((const __u8 *)f + ADN_HDR_LEN + %d /* %s */)%s",
					  type_is_signed(e->type) ? signed_cast(n) : "",
					  n * 8, e->resp_off, ir_field_source(el, e->field),
					  type_is_signed(e->type) ? ")" : "");
				break;
			}
			sb_printf(g->out, "f->net.%s", ir_field_source(el, e->field));
			break;
		case REF_PARAM:
			if (g->ir->fold_params && e->param->type.kind != TY_CHAR) {
				/* --fold-params: the chain's value, a constant for clang */
				size_t pi = (size_t)(e->param - el->decl->params);
				sb_printf(g->out, "(/* %s */ ", e->param->name);
				cg_emit_expr(g, el->use->param_value[pi]);
				sb_puts(g->out, ")");
				break;
			}
			sb_printf(g->out, "params->%s__%s", el->decl->name, e->param->name);
			break;
		case REF_META: {
			static const char *const hdr[] = { "rpc_id", "method", "kind", "status", "len" };
			sb_printf(g->out, "f->hdr.%s", hdr[e->meta]);
			break;
		}
		case REF_COLUMN:
			if (e->column->primary_key)
				sb_printf(g->out, "key_%s.%s", e->join->tab->name, e->column->name);
			else
				sb_printf(g->out, "row_%s->%s", e->join->tab->name, e->column->name);
			break;
		case REF_NONE:
			sb_puts(g->out, "0");
		}
		break;
	case EX_CALL:
		emit_call(g, e);
		break;
	case EX_CASE:
		emit_case(g, e);
		break;
	case EX_UNARY:
		if (e->op != 'N' && e->lhs->kind != EX_INT) {
			/* negated in __u64: -INT64_MIN wraps instead of being undefined */
			sb_puts(g->out, "((__s64)-(__u64)");
			cg_emit_expr(g, e->lhs);
			sb_puts(g->out, ")");
			break;
		}
		sb_puts(g->out, e->op == 'N' ? "!" : "-");
		cg_emit_expr(g, e->lhs);
		break;
	case EX_BINARY:
		if (e->op >= TOK_EQ && e->op <= TOK_GE) {
			emit_compare(g, e);
			break;
		}
		if (e->op == 'L') { /* LIKE: a prefix, or all n bytes */
			int n = e->like_len >= 0 ? e->like_len : e->lhs->type.len;
			if (n == 0)
				sb_puts(g->out, "1 /* LIKE '%' */");
			else
				emit_chars_eq(g, e->lhs, e->rhs, n, false);
			break;
		}
		if (e->type.kind == TY_INT64 && (e->op == TOK_SLASH || e->op == TOK_PERCENT)) {
			/* clang 14 has no signed division for BPF */
			sb_printf(g->out, "%s((__s64)", e->op == TOK_SLASH ? "adn_sdiv64" : "adn_smod64");
			cg_emit_expr(g, e->lhs);
			sb_puts(g->out, ", (__s64)");
			cg_emit_expr(g, e->rhs);
			sb_puts(g->out, ")");
			break;
		}
		if (e->op == TOK_STAR && e->lhs->type.kind == TY_REAL && e->rhs->type.kind == TY_REAL) {
			sb_puts(g->out, "adn_real_mul(");
			cg_emit_expr(g, e->lhs);
			sb_puts(g->out, ", ");
			cg_emit_expr(g, e->rhs);
			sb_puts(g->out, ")");
			break;
		}
		if (e->type.kind == TY_INT64) {
			/* INT64 + - *: computed in __u64 (wraps, no undefined
			 * overflow for clang to reason with), then signed, also
			 * when an operand is a __u64 (a - b < 0 on UINT64 a, b) */
			sb_puts(g->out, "((__s64)((__u64)");
			cg_emit_expr(g, e->lhs);
			sb_printf(g->out, " %s (__u64)", c_op(e->op));
			cg_emit_expr(g, e->rhs);
			sb_puts(g->out, "))");
			break;
		}
		sb_puts(g->out, "(");
		if (e->type.kind == TY_UINT64 || e->type.kind == TY_TIMESTAMP || e->type.kind == TY_REAL)
			sb_puts(g->out, "(__u64)");
		cg_emit_expr(g, e->lhs);
		sb_printf(g->out, " %s ", c_op(e->op));
		cg_emit_expr(g, e->rhs);
		sb_puts(g->out, ")");
		break;
	}
}

/* dst = value, where dst is a struct member of column type t. */
void cg_emit_store(struct cg *g, const char *ind, const char *dst, struct type t, const struct expr *v)
{
	if (t.kind == TY_CHAR) {
		if (v->kind == EX_STRING) {
			/* the target is zeroed: store only the literal's non-zero chunks */
			for (int off = 0; off < v->str_len;) {
				int c = chunk_size(t.len - off);
				g->used_st |= 1u << cg_log2_bytes(c);
				sb_printf(g->out, "%sadn_gen_st%d(%s + %d, 0x%" PRIx64 "%s);\n", ind, c * 8, dst, off,
					  literal_chunk(v, off, c), c == 8 ? "ULL" : "U");
				off += c;
			}
			return;
		}
		sb_printf(g->out, "%s__builtin_memcpy(%s, ", ind, dst);
		cg_emit_expr(g, v);
		sb_printf(g->out, ", %d);\n", v->type.len);
		return;
	}
	sb_printf(g->out, "%s%s = ", ind, dst);
	if (v->kind == EX_STRING && v->enum_value >= 0)
		emit_enum_literal(g, t, v);
	else
		cg_emit_expr(g, v);
	sb_puts(g->out, ";\n");
}

