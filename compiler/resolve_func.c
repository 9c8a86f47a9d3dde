/* Semantic checks of the built-in functions, CASE and LIKE
 * (docs/language.md "Expressions"). */
#include <string.h>
#include <strings.h>

#include "resolve_int.h"
#include "tokenize.h"

static bool is_negative_literal(const struct expr *e)
{
	return e->kind == EX_UNARY && e->op == TOK_MINUS && e->lhs->kind == EX_INT;
}

struct type rs_numeric_result(struct resolver *r, struct expr **v, size_t n, const char *what)
{
	bool any_real = false, any_signed = false, all_ts = true, ok = true;
	for (size_t i = 0; i < n; i++) {
		struct type t = v[i]->type;
		if (t.kind == TY_NONE)
			return t;
		if (!type_is_numeric(t)) {
			diag_error(r->d, v[i]->loc, "%s needs numbers, not %s", what, rs_tname(r, t));
			ok = false;
			continue;
		}
		any_real |= t.kind == TY_REAL;
		any_signed |= type_is_signed(t) || is_negative_literal(v[i]);
		all_ts &= t.kind == TY_TIMESTAMP || t.kind == TY_INT_LITERAL;
	}
	if (!ok)
		return (struct type){ TY_NONE, 0 };
	if (any_real) {
		for (size_t i = 0; i < n; i++) {
			if (v[i]->type.kind == TY_REAL)
				continue;
			if (is_negative_literal(v[i])) {
				diag_error(r->d, v[i]->loc, "negative values cannot be REAL");
				return (struct type){ TY_NONE, 0 };
			}
			v[i]->int_to_real = true;
		}
		return (struct type){ TY_REAL, 0 };
	}
	if (any_signed)
		return (struct type){ TY_INT64, 0 };
	return (struct type){ all_ts ? TY_TIMESTAMP : TY_UINT64, 0 };
}

static const struct {
	const char *name;
	enum builtin_func fn;
	size_t min_args, max_args;
} funcs[] = {
	{ "random", FN_RANDOM, 0, 0 },
	{ "now", FN_NOW, 0, 0 },
	{ "hash", FN_HASH, 1, 8 },
	{ "min", FN_MIN, 2, 8 },
	{ "max", FN_MAX, 2, 8 },
	{ "log2", FN_LOG2, 1, 1 },
};

void rs_resolve_call(struct resolver *r, struct expr *e)
{
	size_t i;
	for (i = 0; i < sizeof(funcs) / sizeof(funcs[0]); i++)
		if (strcasecmp(e->name, funcs[i].name) == 0)
			break;
	if (i == sizeof(funcs) / sizeof(funcs[0])) {
		diag_error(r->d, e->loc, "unknown function '%s' (functions: random(), now(), hash(x, ...), min(a, b, ...), max(a, b, ...), log2(x))",
			   e->name);
		return;
	}
	e->func = funcs[i].fn;
	if (e->n_args < funcs[i].min_args || e->n_args > funcs[i].max_args) {
		struct loc at = e->n_args ? e->args[0]->loc : e->loc;
		if (funcs[i].max_args == 0)
			diag_error(r->d, at, "%s() takes no arguments", e->name);
		else if (funcs[i].min_args == funcs[i].max_args)
			diag_error(r->d, at, "%s() takes %zu argument%s", e->name, funcs[i].min_args,
				   funcs[i].min_args == 1 ? "" : "s");
		else
			diag_error(r->d, at, "%s() takes %zu to %zu arguments", e->name, funcs[i].min_args,
				   funcs[i].max_args);
		e->func = FN_NONE;
		return;
	}
	switch (e->func) {
	case FN_RANDOM:
		e->type = (struct type){ TY_REAL, 0 };
		break;
	case FN_NOW:
		e->type = (struct type){ TY_TIMESTAMP, 0 };
		break;
	case FN_HASH:
		e->type = (struct type){ TY_UINT64, 0 };
		for (size_t a = 0; a < e->n_args; a++) {
			struct type t = e->args[a]->type;
			if (t.kind == TY_STRING_LITERAL || t.kind == TY_BYTES)
				diag_error(r->d, e->args[a]->loc, "hash() of %s: give it fields, columns or numbers",
					   rs_tname(r, t));
		}
		/* the C nests one adn_hash_mix() per number and per 8/4/2/1-byte
		 * chunk of a CHAR (codegen_expr.c): bound it (clang allows 256
		 * nested brackets, parse.c MAX_EXPR_DEPTH) */
		int mixes = 0;
		for (size_t a = 0; a < e->n_args; a++) {
			struct type t = e->args[a]->type;
			if (t.kind != TY_CHAR) {
				mixes++;
				continue;
			}
			for (int left = t.len; left > 0; mixes++)
				left -= left >= 8 ? 8 : left >= 4 ? 4 : left >= 2 ? 2 : 1;
		}
		if (mixes > 64)
			diag_error(r->d, e->loc, "hash() of too much: %d numbers and CHAR chunks (of up to 8 bytes), at most 64",
				   mixes);
		break;
	case FN_MIN:
	case FN_MAX:
		e->type = rs_numeric_result(r, e->args, e->n_args,
					    e->func == FN_MIN ? "min()" : "max()");
		break;
	case FN_LOG2:
		e->type = (struct type){ TY_UINT32, 0 };
		if (!type_is_integer(e->args[0]->type) && e->args[0]->type.kind != TY_NONE)
			diag_error(r->d, e->args[0]->loc, "log2() needs an integer, not %s",
				   rs_tname(r, e->args[0]->type));
		break;
	default:
		break;
	}
}

void rs_resolve_case(struct resolver *r, struct scope *s, struct expr *e)
{
	struct expr **vals = arena_alloc(r->a, sizeof(*vals) * (e->n_args / 2 + 1));
	size_t n = 0;
	bool all_bool = true;

	for (size_t i = 0; i < e->n_args; i++)
		rs_resolve_expr(r, s, e->args[i]);
	if (e->rhs)
		rs_resolve_expr(r, s, e->rhs);
	e->type.kind = TY_NONE;
	for (size_t i = 0; i + 1 < e->n_args; i += 2) {
		rs_expect_bool(r, e->args[i], "WHEN");
		vals[n++] = e->args[i + 1];
	}
	if (!e->rhs) {
		diag_error(r->d, e->loc, "CASE needs an ELSE (adn has no NULL)");
		return;
	}
	vals[n++] = e->rhs;
	for (size_t i = 0; i < n; i++) {
		if (vals[i]->type.kind == TY_NONE)
			return;
		all_bool &= vals[i]->type.kind == TY_BOOL;
	}
	if (all_bool) {
		e->type.kind = TY_BOOL;
		return;
	}
	for (size_t i = 0; i < n; i++) {
		if (!type_is_numeric(vals[i]->type)) {
			diag_error(r->d, vals[i]->loc, "CASE values must all be numbers or all be BOOL; this one is %s",
				   rs_tname(r, vals[i]->type));
			return;
		}
	}
	e->type = rs_numeric_result(r, vals, n, "CASE");
}

/* x LIKE 'abc%' (prefix) or x LIKE 'abc' (equality); backslash escapes. */
void rs_resolve_like(struct resolver *r, struct expr *e)
{
	struct expr *l = e->lhs, *p = e->rhs;
	e->type = (struct type){ TY_BOOL, 0 };
	if (l->type.kind == TY_NONE || p->type.kind == TY_NONE)
		return;
	if (l->type.kind != TY_CHAR) {
		diag_error(r->d, l->loc, "LIKE needs a CHAR value on its left, not %s", rs_tname(r, l->type));
		return;
	}
	if (p->kind != EX_STRING) {
		diag_error(r->d, p->loc, "LIKE needs a pattern literal such as 'abc%%' on its right");
		return;
	}
	char *out = arena_alloc(r->a, (size_t)p->str_len + 1);
	int n = 0;
	e->like_len = -1;
	for (int i = 0; i < p->str_len; i++) {
		char c = p->str[i];
		if (c == '\\' && i + 1 < p->str_len) {
			out[n++] = p->str[++i];
			continue;
		}
		if (c == '%' && i == p->str_len - 1) {
			e->like_len = n;
			break;
		}
		if (c == '%' || c == '_') {
			struct loc at = p->loc;
			at.col += i + 1;
			diag_error(r->d, at, "only prefix patterns are supported: 'abc%%' or 'abc' ('%c' here; write \\%c for the character itself)",
				   c, c);
			return;
		}
		out[n++] = c;
	}
	if (n > l->type.len) {
		diag_error(r->d, p->loc, "LIKE pattern '%s' (%d bytes) is longer than %s", p->str, n,
			   rs_tname(r, l->type));
		return;
	}
	e->like_str = out;
	p->str = out;
	p->str_len = n;
	p->type = (struct type){ TY_STRING_LITERAL, n };
}
