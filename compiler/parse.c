/* Hand-written recursive-descent parser for the adn language. The grammar is
 * in docs/language.md. Syntax errors unwind with longjmp to the innermost
 * statement boundary, which skips to a point where parsing can go on. */
#include "parse.h"

#include <setjmp.h>
#include <string.h>

struct parser {
	struct arena *a;
	struct diag *d;
	const struct token *toks;
	size_t n, pos;
	jmp_buf *recover;
	size_t stmt_start; /* first token of the current top-level statement */
	int nest;          /* expressions being parsed inside one another */
};

/* The deepest expression accepted: both the nesting of the parser's
 * recursion (parentheses, NOT, unary minus, CASE, call arguments) and the
 * depth of the expression tree built (a chain a + b + c ... is a tree as
 * deep as it is long). The later passes recurse over the tree, and the
 * generated C nests at most two brackets per level (INT64 arithmetic:
 * "((__s64)((__u64)a + (__u64)b))"), plus the statement around it and a
 * hash() (at most 64 mixes, resolve_func.c): 64 levels stay well within
 * clang's limit of 256 nested brackets. */
#define MAX_EXPR_DEPTH 64

static const struct token *peek(struct parser *p)
{
	return &p->toks[p->pos];
}

static const struct token *peek_at(struct parser *p, size_t ahead)
{
	size_t i = p->pos + ahead;
	return &p->toks[i < p->n ? i : p->n - 1];
}

static const struct token *next(struct parser *p)
{
	const struct token *t = &p->toks[p->pos];
	if (t->kind != TOK_EOF)
		p->pos++;
	return t;
}

/* A printable description of a token for "found ..." messages. */
static const char *describe(struct parser *p, const struct token *t)
{
	if (t->kind == TOK_EOF)
		return "end of file";
	if (t->kind == TOK_STRING) { /* already quoted in the source */
		int len = t->len > 40 ? 40 : t->len;
		return arena_printf(p->a, "%.*s%s", len, t->start, t->len > 40 ? "..." : "");
	}
	if (t->kind == TOK_IDENT || t->kind == TOK_INTEGER || t->kind == TOK_DECIMAL) {
		int len = t->len > 40 ? 40 : t->len;
		return arena_printf(p->a, "'%.*s%s'", len, t->start, t->len > 40 ? "..." : "");
	}
	return tok_kind_name(t->kind);
}

static _Noreturn void syntax_error(struct parser *p, const struct token *at, const char *expected)
{
	diag_error(p->d, at->loc, "expected %s, found %s", expected, describe(p, at));
	longjmp(*p->recover, 1);
}

static bool accept(struct parser *p, enum tok_kind k)
{
	if (peek(p)->kind != k)
		return false;
	next(p);
	return true;
}

static bool accept_kw(struct parser *p, const char *kw)
{
	if (!tok_is_kw(peek(p), kw))
		return false;
	next(p);
	return true;
}

static const struct token *expect(struct parser *p, enum tok_kind k)
{
	if (peek(p)->kind != k)
		syntax_error(p, peek(p), tok_kind_name(k));
	return next(p);
}

static void expect_kw(struct parser *p, const char *kw)
{
	if (!accept_kw(p, kw))
		syntax_error(p, peek(p), arena_printf(p->a, "%s", kw));
}

static struct name_ref expect_name(struct parser *p, const char *what)
{
	const struct token *t = peek(p);
	if (t->kind != TOK_IDENT)
		syntax_error(p, t, what);
	next(p);
	return (struct name_ref){ arena_strndup(p->a, t->start, (size_t)t->len), t->loc };
}

/* The statement's text rebuilt from its tokens with single spaces: used in
 * the comments that map generated C back to DSL lines. */
static const char *stmt_text(struct parser *p, size_t from, size_t to)
{
	size_t cap = 1;
	for (size_t i = from; i < to; i++)
		cap += (size_t)p->toks[i].len + 1;
	char *s = arena_alloc(p->a, cap), *o = s;
	for (size_t i = from; i < to; i++) {
		const struct token *t = &p->toks[i];
		/* one space where the source has any whitespace or comment */
		const struct token *prev = i > from ? &p->toks[i - 1] : NULL;
		bool glue = !prev || prev->start + prev->len == t->start;
		if (!glue)
			*o++ = ' ';
		memcpy(o, t->start, (size_t)t->len);
		o += t->len;
	}
	*o = '\0';
	/* never end a C comment early */
	for (char *c = s; *c && c[1]; c++)
		if (c[0] == '*' && c[1] == '/')
			c[1] = ' ';
	return s;
}

/* ---- types ---- */

static struct type parse_type(struct parser *p)
{
	static const struct { const char *kw; enum type_kind kind; } simple[] = {
		{ "INT8", TY_INT8 }, { "INT16", TY_INT16 }, { "INT32", TY_INT32 },
		{ "INT64", TY_INT64 }, { "UINT8", TY_UINT8 }, { "UINT16", TY_UINT16 },
		{ "UINT32", TY_UINT32 }, { "UINT64", TY_UINT64 }, { "BOOL", TY_BOOL },
		{ "BYTES", TY_BYTES }, { "TIMESTAMP", TY_TIMESTAMP }, { "REAL", TY_REAL },
		{ "METHOD", TY_METHOD }, { "KIND", TY_KIND }, { "STATUS", TY_STATUS },
	};
	const struct token *t = peek(p);
	for (size_t i = 0; i < sizeof(simple) / sizeof(simple[0]); i++) {
		if (tok_is_kw(t, simple[i].kw)) {
			next(p);
			return (struct type){ simple[i].kind, 0 };
		}
	}
	if (tok_is_kw(t, "CHAR") || tok_is_kw(t, "VARCHAR")) {
		next(p);
		expect(p, TOK_LPAREN);
		const struct token *n = expect(p, TOK_INTEGER);
		if (n->ival < 1 || n->ival > 255)
			diag_error(p->d, n->loc, "CHAR length must be 1..255, not %.*s", n->len, n->start);
		expect(p, TOK_RPAREN);
		int len = n->ival < 1 ? 1 : n->ival > 255 ? 255 : (int)n->ival;
		return (struct type){ TY_CHAR, len };
	}
	syntax_error(p, t, "a type (INT8..INT64, UINT8..UINT64, BOOL, CHAR(n), BYTES, TIMESTAMP, REAL)");
}

/* ---- expressions ---- */

static struct expr *new_expr(struct parser *p, enum expr_kind kind, struct loc at)
{
	struct expr *e = arena_alloc(p->a, sizeof(*e));
	e->kind = kind;
	e->loc = at;
	e->enum_value = -1;
	return e;
}

static struct expr *parse_expr(struct parser *p);
static struct expr *binary(struct parser *p, int op, struct loc at, struct expr *l, struct expr *r);

static _Noreturn void too_deep(struct parser *p, struct loc at)
{
	diag_error(p->d, at, "expression nested too deeply (more than %d levels)", MAX_EXPR_DEPTH);
	longjmp(*p->recover, 1);
}

/* One more level of parser recursion at token t; leave() undoes it. */
static void enter(struct parser *p, const struct token *t)
{
	if (++p->nest > MAX_EXPR_DEPTH)
		too_deep(p, t->loc);
}

static void leave(struct parser *p)
{
	p->nest--;
}

static int depth_of(const struct expr *e)
{
	return e ? e->depth : 0;
}

/* Sets the tree depth of a new node e from its operands; refuses a tree
 * deeper than MAX_EXPR_DEPTH at the token that made it (at). */
static struct expr *deepen(struct parser *p, struct expr *e, struct loc at)
{
	int d = depth_of(e->lhs) > depth_of(e->rhs) ? depth_of(e->lhs) : depth_of(e->rhs);
	for (size_t i = 0; i < e->n_args; i++)
		if (depth_of(e->args[i]) > d)
			d = depth_of(e->args[i]);
	/* min() and max() nest one C call per argument (at most 8 are allowed) */
	if (e->kind == EX_CALL && e->n_args > 1)
		d += (int)(e->n_args < 8 ? e->n_args : 8) - 1;
	e->depth = d + 1;
	if (e->depth > MAX_EXPR_DEPTH)
		too_deep(p, at);
	return e;
}

/* CASE [x] WHEN a THEN b ... [ELSE c] END. The simple form CASE x WHEN v is
 * read as CASE WHEN x = v. A missing ELSE is reported by resolve.c. */
static struct expr *parse_case(struct parser *p)
{
	struct expr *e = new_expr(p, EX_CASE, next(p)->loc);
	struct expr *operand = NULL;

	if (!tok_is_kw(peek(p), "WHEN"))
		operand = parse_expr(p);
	if (!tok_is_kw(peek(p), "WHEN"))
		syntax_error(p, peek(p), "WHEN");
	while (tok_is_kw(peek(p), "WHEN")) {
		const struct token *w = next(p);
		struct expr *cond = parse_expr(p);
		if (operand)
			cond = binary(p, TOK_EQ, w->loc, operand, cond);
		expect_kw(p, "THEN");
		struct expr *val = parse_expr(p);
		ARENA_PUSH(p->a, e->args, e->n_args, e->cap_args, cond);
		ARENA_PUSH(p->a, e->args, e->n_args, e->cap_args, val);
	}
	if (accept_kw(p, "ELSE"))
		e->rhs = parse_expr(p);
	expect_kw(p, "END");
	return deepen(p, e, e->loc);
}

static struct expr *parse_primary(struct parser *p)
{
	const struct token *t = peek(p);
	struct expr *e;

	switch (t->kind) {
	case TOK_INTEGER:
		next(p);
		e = new_expr(p, EX_INT, t->loc);
		e->ival = t->ival;
		e->text = arena_strndup(p->a, t->start, (size_t)t->len);
		return e;
	case TOK_DECIMAL:
		next(p);
		e = new_expr(p, EX_REAL, t->loc);
		e->ival = t->rval;
		e->text = arena_strndup(p->a, t->start, (size_t)t->len);
		return e;
	case TOK_STRING:
		next(p);
		e = new_expr(p, EX_STRING, t->loc);
		e->str = t->str;
		e->str_len = t->str_len;
		return e;
	case TOK_LPAREN:
		next(p);
		e = parse_expr(p);
		expect(p, TOK_RPAREN);
		return e;
	case TOK_IDENT:
		if (tok_is_kw(t, "CASE") && peek_at(p, 1)->kind != TOK_LPAREN &&
		    peek_at(p, 1)->kind != TOK_DOT)
			return parse_case(p);
		if (tok_is_kw(t, "TRUE") || tok_is_kw(t, "FALSE")) {
			next(p);
			e = new_expr(p, EX_BOOL, t->loc);
			e->ival = tok_is_kw(t, "TRUE");
			return e;
		}
		next(p);
		if (peek(p)->kind == TOK_LPAREN) {
			next(p);
			e = new_expr(p, EX_CALL, t->loc);
			e->name = arena_strndup(p->a, t->start, (size_t)t->len);
			if (!accept(p, TOK_RPAREN)) {
				do {
					struct expr *arg = parse_expr(p);
					ARENA_PUSH(p->a, e->args, e->n_args, e->cap_args, arg);
				} while (accept(p, TOK_COMMA));
				expect(p, TOK_RPAREN);
			}
			return deepen(p, e, t->loc);
		}
		e = new_expr(p, EX_NAME, t->loc);
		e->name = arena_strndup(p->a, t->start, (size_t)t->len);
		if (accept(p, TOK_DOT)) {
			e->qual = e->name;
			e->qual_loc = e->loc;
			struct name_ref n = expect_name(p, "a column name after '.'");
			e->name = n.name;
			e->loc = n.loc;
		}
		return e;
	default:
		syntax_error(p, t, "an expression");
	}
}

static struct expr *parse_unary(struct parser *p)
{
	const struct token *t = peek(p);
	if (t->kind == TOK_MINUS) {
		next(p);
		enter(p, t);
		struct expr *operand = parse_unary(p);
		leave(p);
		struct expr *e = new_expr(p, EX_UNARY, t->loc);
		e->op = TOK_MINUS;
		e->lhs = operand;
		return deepen(p, e, t->loc);
	}
	return parse_primary(p);
}

static struct expr *binary(struct parser *p, int op, struct loc at, struct expr *l, struct expr *r)
{
	struct expr *e = new_expr(p, EX_BINARY, at);
	e->op = op;
	e->lhs = l;
	e->rhs = r;
	return deepen(p, e, at);
}

static struct expr *parse_mul(struct parser *p)
{
	struct expr *e = parse_unary(p);
	for (;;) {
		const struct token *t = peek(p);
		if (t->kind != TOK_STAR && t->kind != TOK_SLASH && t->kind != TOK_PERCENT)
			return e;
		next(p);
		e = binary(p, t->kind, t->loc, e, parse_unary(p));
	}
}

static struct expr *parse_add(struct parser *p)
{
	struct expr *e = parse_mul(p);
	for (;;) {
		const struct token *t = peek(p);
		if (t->kind != TOK_PLUS && t->kind != TOK_MINUS)
			return e;
		next(p);
		e = binary(p, t->kind, t->loc, e, parse_mul(p));
	}
}

static struct expr *parse_cmp(struct parser *p)
{
	struct expr *e = parse_add(p);
	const struct token *t = peek(p);
	if (t->kind >= TOK_EQ && t->kind <= TOK_GE) {
		next(p);
		e = binary(p, t->kind, t->loc, e, parse_add(p));
	} else if (tok_is_kw(t, "LIKE") ||
		   (tok_is_kw(t, "NOT") && tok_is_kw(peek_at(p, 1), "LIKE"))) {
		bool negate = tok_is_kw(t, "NOT");
		if (negate)
			next(p);
		struct loc at = next(p)->loc;
		e = binary(p, 'L', at, e, parse_add(p));
		if (negate) {
			struct expr *n = new_expr(p, EX_UNARY, t->loc);
			n->op = 'N';
			n->lhs = e;
			e = deepen(p, n, t->loc);
		}
	}
	return e;
}

static struct expr *parse_not(struct parser *p)
{
	const struct token *t = peek(p);
	if (tok_is_kw(t, "NOT")) {
		next(p);
		enter(p, t);
		struct expr *e = new_expr(p, EX_UNARY, t->loc);
		e->op = 'N';
		e->lhs = parse_not(p);
		leave(p);
		return deepen(p, e, t->loc);
	}
	return parse_cmp(p);
}

static struct expr *parse_and(struct parser *p)
{
	struct expr *e = parse_not(p);
	while (tok_is_kw(peek(p), "AND")) {
		struct loc at = next(p)->loc;
		e = binary(p, 'A', at, e, parse_not(p));
	}
	return e;
}

static struct expr *parse_expr(struct parser *p)
{
	enter(p, peek(p));
	struct expr *e = parse_and(p);
	while (tok_is_kw(peek(p), "OR")) {
		struct loc at = next(p)->loc;
		e = binary(p, 'O', at, e, parse_and(p));
	}
	leave(p);
	return e;
}

/* A literal where only a constant may appear (DEFAULT, VALUES, bindings). */
static struct expr *parse_literal(struct parser *p)
{
	const struct token *t = peek(p);
	if (t->kind == TOK_MINUS) {
		next(p);
		const struct token *n = peek(p);
		if (n->kind != TOK_INTEGER && n->kind != TOK_DECIMAL)
			syntax_error(p, n, "a number after '-'");
		struct expr *e = new_expr(p, EX_UNARY, t->loc);
		e->op = TOK_MINUS;
		e->lhs = parse_primary(p);
		return e;
	}
	if (t->kind == TOK_INTEGER || t->kind == TOK_DECIMAL || t->kind == TOK_STRING ||
	    tok_is_kw(t, "TRUE") || tok_is_kw(t, "FALSE"))
		return parse_primary(p);
	syntax_error(p, t, "a literal (number, 'string', TRUE or FALSE)");
}

/* ---- services ---- */

static void parse_field_list(struct parser *p, struct field_decl **items, size_t *n, size_t *cap)
{
	expect(p, TOK_LPAREN);
	if (accept(p, TOK_RPAREN))
		return;
	do {
		struct name_ref name = expect_name(p, "a field name");
		struct field_decl f = { name.name, parse_type(p), name.loc, false };
		*items = arena_grow(p->a, *items, sizeof(**items), *n, cap);
		(*items)[(*n)++] = f;
	} while (accept(p, TOK_COMMA));
	expect(p, TOK_RPAREN);
}

static void parse_service(struct parser *p, struct program *prog)
{
	struct service_decl *s = arena_alloc(p->a, sizeof(*s));
	struct name_ref name = expect_name(p, "a service name");
	s->name = name.name;
	s->loc = name.loc;
	if (accept_kw(p, "PORT")) {
		const struct token *t = expect(p, TOK_INTEGER);
		s->port_loc = t->loc;
		if (t->ival < 1 || t->ival > 65535)
			diag_error(p->d, t->loc, "PORT must be 1..65535, not %.*s", t->len, t->start);
		else
			s->port = (int)t->ival;
	}
	if (accept_kw(p, "TRANSPORT")) {
		const struct token *t = peek(p);
		s->transport_loc = t->loc;
		if (accept_kw(p, "UDP"))
			s->udp = true;
		else if (!accept_kw(p, "TCP"))
			syntax_error(p, t, "UDP or TCP after TRANSPORT");
	}
	expect(p, TOK_LPAREN);
	do {
		struct method_decl m = { 0 };
		expect_kw(p, "METHOD");
		name = expect_name(p, "a method name");
		m.name = name.name;
		m.loc = name.loc;
		m.id = (int)s->n_methods + 1;
		expect_kw(p, "REQUEST");
		parse_field_list(p, &m.req, &m.n_req, &m.cap_req);
		if (accept_kw(p, "RESPONSE"))
			parse_field_list(p, &m.resp, &m.n_resp, &m.cap_resp);
		ARENA_PUSH(p->a, s->methods, s->n_methods, s->cap_methods, m);
	} while (accept(p, TOK_COMMA));
	expect(p, TOK_RPAREN);
	expect(p, TOK_SEMI);
	ARENA_PUSH(p->a, prog->services, prog->n_services, prog->cap_services, s);
}

/* ---- element bodies ---- */

static void parse_table(struct parser *p, struct element_decl *el, bool is_log, size_t start)
{
	struct table_decl t = { 0 };
	struct name_ref name = expect_name(p, "a table name");
	t.name = name.name;
	t.loc = name.loc;
	t.kind = is_log ? TABLE_LOG : TABLE_HASH;
	expect(p, TOK_LPAREN);
	do {
		if (accept_kw(p, "PRIMARY")) { /* table constraint: PRIMARY KEY (a, b) */
			expect_kw(p, "KEY");
			expect(p, TOK_LPAREN);
			do {
				struct name_ref col = expect_name(p, "a column name");
				size_t i;
				for (i = 0; i < t.n_cols; i++)
					if (strcmp(t.cols[i].name, col.name) == 0)
						break;
				if (i == t.n_cols)
					diag_error(p->d, col.loc, "unknown column '%s' in PRIMARY KEY of table '%s'",
						   col.name, t.name);
				else
					t.cols[i].primary_key = true;
			} while (accept(p, TOK_COMMA));
			expect(p, TOK_RPAREN);
			continue;
		}
		struct name_ref col = expect_name(p, "a column name");
		struct column_decl c = { col.name, parse_type(p), col.loc, false, NULL };
		for (;;) { /* PRIMARY KEY and DEFAULT literal, in either order */
			const struct token *k = peek(p);
			if (accept_kw(p, "PRIMARY")) {
				expect_kw(p, "KEY");
				c.primary_key = true;
			} else if (accept_kw(p, "DEFAULT")) {
				struct expr *d = parse_literal(p);
				if (c.def)
					diag_error(p->d, k->loc, "column '%s' has more than one DEFAULT", c.name);
				else
					c.def = d;
			} else {
				break;
			}
		}
		ARENA_PUSH(p->a, t.cols, t.n_cols, t.cap_cols, c);
	} while (accept(p, TOK_COMMA));
	expect(p, TOK_RPAREN);
	for (;;) {
		if (accept_kw(p, "CAPACITY")) {
			const struct token *n = expect(p, TOK_INTEGER);
			t.capacity = n->ival;
			t.capacity_loc = n->loc;
			if (n->ival == 0)
				diag_error(p->d, n->loc, "CAPACITY of table '%s' must be at least 1", t.name);
		} else if (tok_is_kw(peek(p), "USING")) {
			const struct token *u = next(p);
			const struct token *k = peek(p);
			if (is_log)
				diag_error(p->d, u->loc, "a LOG table is always a ring buffer; USING is not allowed");
			if (tok_is_kw(k, "HASH"))
				t.kind = TABLE_HASH;
			else if (tok_is_kw(k, "LRU"))
				t.kind = TABLE_LRU;
			else if (tok_is_kw(k, "ARRAY"))
				t.kind = TABLE_ARRAY;
			else if (tok_is_kw(k, "PERCPU_HASH"))
				t.kind = TABLE_PERCPU_HASH;
			else if (tok_is_kw(k, "PERCPU_ARRAY"))
				t.kind = TABLE_PERCPU_ARRAY;
			else
				syntax_error(p, k, "HASH, LRU, ARRAY, PERCPU_HASH or PERCPU_ARRAY after USING");
			next(p);
			if (is_log)
				t.kind = TABLE_LOG;
			t.kind_loc = k->loc;
		} else if (tok_is_kw(peek(p), "MERGE")) {
			static const char *const names[] = { "UNION", "SUM", "MAX", "MIN", "LAST" };
			const struct token *k;
			size_t i;
			next(p);
			k = peek(p);
			for (i = 0; i < 5 && !tok_is_kw(k, names[i]); i++)
				;
			if (i == 5)
				syntax_error(p, k, "UNION, SUM, MAX, MIN or LAST after MERGE");
			next(p);
			t.merge = (enum merge_policy)i;
			t.merge_loc = k->loc;
			if (t.merge == MERGE_LAST)
				t.merge_ts = expect_name(p, "the TIMESTAMP column that orders rows after MERGE LAST");
		} else {
			break;
		}
	}
	expect(p, TOK_SEMI);
	t.src_text = stmt_text(p, start, p->pos);
	ARENA_PUSH(p->a, el->tables, el->n_tables, el->cap_tables, t);
}

static void parse_rows(struct parser *p, struct rows_insert *ins)
{
	do {
		struct row_values r = { 0 };
		r.loc = expect(p, TOK_LPAREN)->loc;
		do {
			struct expr *v = parse_literal(p);
			ARENA_PUSH(p->a, r.vals, r.n_vals, r.cap_vals, v);
		} while (accept(p, TOK_COMMA));
		expect(p, TOK_RPAREN);
		ARENA_PUSH(p->a, ins->rows, ins->n_rows, ins->cap_rows, r);
	} while (accept(p, TOK_COMMA));
}

static void parse_joins(struct parser *p, struct select_insert *s);

static void parse_select(struct parser *p, struct select_insert *s)
{
	expect_kw(p, "SELECT");
	if (accept(p, TOK_STAR)) {
		s->star = true;
	} else {
		bool any_as = false;
		struct name_ref *as = NULL;
		size_t n_as = 0, cap_as = 0;
		do {
			struct expr *e = parse_expr(p);
			struct name_ref a = { 0 };
			ARENA_PUSH(p->a, s->exprs, s->n_exprs, s->cap_exprs, e);
			if (accept_kw(p, "AS")) {
				a = expect_name(p, "a name after AS");
				any_as = true;
			}
			ARENA_PUSH(p->a, as, n_as, cap_as, a);
		} while (accept(p, TOK_COMMA));
		if (any_as)
			s->as_names = as;
	}
	expect_kw(p, "FROM");
	s->from = expect_name(p, "'input' after FROM");
	parse_joins(p, s);
	if (accept_kw(p, "WHERE"))
		s->where = parse_expr(p);
}

static void parse_joins(struct parser *p, struct select_insert *s)
{
	for (;;) {
		if (accept_kw(p, "INNER")) {
			if (!tok_is_kw(peek(p), "JOIN"))
				syntax_error(p, peek(p), "JOIN");
		}
		if (!accept_kw(p, "JOIN"))
			break;
		struct join_clause j = { 0 };
		j.table = expect_name(p, "a table name after JOIN");
		expect_kw(p, "ON");
		j.on = parse_expr(p);
		j.index = (int)s->n_joins;
		ARENA_PUSH(p->a, s->joins, s->n_joins, s->cap_joins, j);
	}
}

/* INSERT INTO t [(cols)] VALUES ... | INSERT INTO t SELECT ... */
static void parse_insert(struct parser *p, struct element_decl *el, struct on_block *on,
			 size_t start)
{
	struct loc at = p->toks[start].loc;
	bool replace = false;
	if (accept_kw(p, "OR")) {
		expect_kw(p, "REPLACE");
		replace = true;
	}
	expect_kw(p, "INTO");
	struct name_ref target = expect_name(p, "a table name after INSERT INTO");
	if (tok_is_kw(peek(p), "SELECT")) {
		struct select_insert s = { 0 };
		s.target = target;
		s.replace = replace;
		s.loc = at;
		s.line = at.line;
		parse_select(p, &s);
		expect(p, TOK_SEMI);
		s.src_text = stmt_text(p, start, p->pos);
		if (!on) {
			diag_error(p->d, at, "INSERT ... SELECT must be inside ON REQUEST or ON RESPONSE");
			return;
		}
		ARENA_PUSH(p->a, on->stmts, on->n_stmts, on->cap_stmts, s);
		return;
	}
	struct rows_insert ins = { 0 };
	ins.table = target;
	ins.loc = at;
	if (accept(p, TOK_LPAREN)) {
		ins.has_cols = true;
		do {
			struct name_ref c = expect_name(p, "a column name");
			ARENA_PUSH(p->a, ins.cols, ins.n_cols, ins.cap_cols, c);
		} while (accept(p, TOK_COMMA));
		expect(p, TOK_RPAREN);
	}
	if (!tok_is_kw(peek(p), "VALUES"))
		syntax_error(p, peek(p), "VALUES or SELECT");
	if (replace)
		diag_error(p->d, at, "INSERT OR REPLACE takes a SELECT, not VALUES (initial rows never conflict)");
	next(p);
	parse_rows(p, &ins);
	expect(p, TOK_SEMI);
	if (on) {
		diag_error(p->d, at, "INSERT ... VALUES inside ON %s: initial rows go before the first ON (at run time write INSERT INTO t SELECT ... FROM input)",
			   on == &el->on[DIR_REQUEST] ? "REQUEST" : "RESPONSE");
		return;
	}
	ARENA_PUSH(p->a, el->inserts, el->n_inserts, el->cap_inserts, ins);
}

/* UPDATE t SET c = e {, c = e} [FROM input {JOIN ...}] [WHERE e] ;
 * DELETE FROM t [WHERE e] ; */
static void parse_update_delete(struct parser *p, struct on_block *on, size_t start, bool update)
{
	struct select_insert s = { 0 };
	struct loc at = p->toks[start].loc;

	s.kind = update ? ST_UPDATE : ST_DELETE;
	s.loc = at;
	s.line = at.line;
	if (!update)
		expect_kw(p, "FROM");
	s.target = expect_name(p, update ? "a table name (or input) after UPDATE" : "a table name after DELETE FROM");
	if (update) {
		expect_kw(p, "SET");
		do {
			struct set_clause c = { 0 };
			c.col = expect_name(p, "a column name");
			expect(p, TOK_EQ);
			c.value = parse_expr(p);
			ARENA_PUSH(p->a, s.sets, s.n_sets, s.cap_sets, c);
		} while (accept(p, TOK_COMMA));
		if (accept_kw(p, "FROM")) {
			s.from = expect_name(p, "'input' after FROM");
			parse_joins(p, &s);
		}
	}
	if (accept_kw(p, "WHERE"))
		s.where = parse_expr(p);
	expect(p, TOK_SEMI);
	s.src_text = stmt_text(p, start, p->pos);
	if (!on) {
		diag_error(p->d, at, "%s must be inside ON REQUEST or ON RESPONSE", update ? "UPDATE" : "DELETE");
		return;
	}
	ARENA_PUSH(p->a, on->stmts, on->n_stmts, on->cap_stmts, s);
}

/* ROUTE TO REPLICA e [FROM input {JOIN ...}] [WHERE e] ; */
static void parse_route(struct parser *p, struct on_block *on, size_t start)
{
	struct select_insert s = { 0 };
	struct loc at = p->toks[start].loc;

	s.kind = ST_ROUTE;
	s.loc = at;
	s.line = at.line;
	s.target = (struct name_ref){ "replica", at };
	expect_kw(p, "TO");
	expect_kw(p, "REPLICA");
	struct expr *e = parse_expr(p);
	ARENA_PUSH(p->a, s.exprs, s.n_exprs, s.cap_exprs, e);
	if (accept_kw(p, "FROM")) {
		s.from = expect_name(p, "'input' after FROM");
		parse_joins(p, &s);
	}
	if (accept_kw(p, "WHERE"))
		s.where = parse_expr(p);
	expect(p, TOK_SEMI);
	s.src_text = stmt_text(p, start, p->pos);
	if (!on) {
		diag_error(p->d, at, "ROUTE TO REPLICA must be inside ON REQUEST");
		return;
	}
	ARENA_PUSH(p->a, on->stmts, on->n_stmts, on->cap_stmts, s);
}

static bool at_top_level_create(struct parser *p)
{
	return tok_is_kw(peek(p), "CREATE") &&
	       (tok_is_kw(peek_at(p, 1), "SERVICE") || tok_is_kw(peek_at(p, 1), "ELEMENT") ||
		tok_is_kw(peek_at(p, 1), "CHAIN"));
}

/* After a syntax error inside a body: skip to the next statement. */
static void sync_body(struct parser *p)
{
	for (;;) {
		const struct token *t = peek(p);
		if (t->kind == TOK_EOF || tok_is_kw(t, "END") || tok_is_kw(t, "ON") ||
		    at_top_level_create(p))
			return;
		next(p);
		if (t->kind == TOK_SEMI)
			return;
	}
}

static void parse_body(struct parser *p, struct element_decl *el)
{
	struct on_block *volatile on = NULL; /* survives longjmp */
	jmp_buf here, *outer = p->recover;

	p->recover = &here;
	if (setjmp(here)) {
		p->nest = 0;
		sync_body(p);
	}
	while (!p->d->too_many) {
		const struct token *t = peek(p);
		size_t start = p->pos;
		if (accept_kw(p, "END"))
			break;
		if (t->kind == TOK_EOF || at_top_level_create(p)) {
			diag_error(p->d, t->loc, "expected END to close element '%s'", el->name);
			p->recover = outer;
			return;
		}
		if (accept_kw(p, "ON")) {
			const struct token *dir = peek(p);
			enum direction d;
			if (tok_is_kw(dir, "REQUEST"))
				d = DIR_REQUEST;
			else if (tok_is_kw(dir, "RESPONSE"))
				d = DIR_RESPONSE;
			else
				syntax_error(p, dir, "REQUEST or RESPONSE after ON");
			next(p);
			on = &el->on[d];
			if (on->present)
				diag_error(p->d, t->loc, "duplicate ON %s in element '%s'",
					   d == DIR_REQUEST ? "REQUEST" : "RESPONSE", el->name);
			on->present = true;
			on->loc = t->loc;
		} else if (accept_kw(p, "CREATE")) {
			bool is_log = accept_kw(p, "LOG");
			expect_kw(p, "TABLE");
			parse_table(p, el, is_log, start);
		} else if (accept_kw(p, "INSERT")) {
			parse_insert(p, el, on, start);
		} else if (accept_kw(p, "UPDATE")) {
			parse_update_delete(p, on, start, true);
		} else if (accept_kw(p, "DELETE")) {
			parse_update_delete(p, on, start, false);
		} else if (accept_kw(p, "ROUTE")) {
			parse_route(p, on, start);
		} else {
			syntax_error(p, t, "CREATE TABLE, INSERT, UPDATE, DELETE, ROUTE, ON REQUEST, ON RESPONSE or END");
		}
	}
	p->recover = outer;
	expect(p, TOK_SEMI);
}

static void parse_element(struct parser *p, struct program *prog, size_t start)
{
	struct element_decl *el = arena_alloc(p->a, sizeof(*el));
	struct name_ref name = expect_name(p, "an element name");
	el->name = name.name;
	el->loc = name.loc;
	el->line = p->toks[start].loc.line;
	el->drop_code = 10; /* ABORTED */
	expect(p, TOK_LPAREN);
	if (!accept(p, TOK_RPAREN)) {
		do {
			if (accept_kw(p, "PARAM")) {
				struct param_decl pd = { 0 };
				struct name_ref pn = expect_name(p, "a parameter name");
				pd.name = pn.name;
				pd.loc = pn.loc;
				pd.type = parse_type(p);
				expect_kw(p, "DEFAULT");
				pd.def = parse_literal(p);
				ARENA_PUSH(p->a, el->params, el->n_params, el->cap_params, pd);
			} else {
				/* RESPONSE name type: a field of the response (a field
				 * may itself be called `response`: `response BOOL`) */
				bool resp = tok_is_kw(peek(p), "RESPONSE") &&
					    peek_at(p, 1)->kind == TOK_IDENT &&
					    peek_at(p, 2)->kind == TOK_IDENT;
				if (resp)
					next(p);
				struct name_ref fn = expect_name(p, "a field name, RESPONSE or PARAM");
				struct field_decl f = { fn.name, parse_type(p), fn.loc, resp };
				ARENA_PUSH(p->a, el->fields, el->n_fields, el->cap_fields, f);
			}
		} while (accept(p, TOK_COMMA));
		expect(p, TOK_RPAREN);
	}
	if (accept_kw(p, "DROP")) {
		expect_kw(p, "STATUS");
		struct name_ref st = expect_name(p, "a status name (e.g. PERMISSION_DENIED)");
		el->drop_status = st.name;
		el->drop_loc = st.loc;
	}
	if (tok_is_kw(peek(p), "IMPLEMENTED")) {
		/* a user-defined element: no body, the RPC library runs it */
		el->in_app_loc = next(p)->loc;
		expect_kw(p, "IN");
		expect_kw(p, "APP");
		el->in_app = true;
		el->src_text = stmt_text(p, start, p->pos);
		expect(p, TOK_SEMI);
		ARENA_PUSH(p->a, prog->elements, prog->n_elements, prog->cap_elements, el);
		return;
	}
	if (!tok_is_kw(peek(p), "BEGIN"))
		syntax_error(p, peek(p), "BEGIN or IMPLEMENTED IN APP");
	next(p);
	el->src_text = stmt_text(p, start, p->pos);
	/* the element exists even if its body has errors: fewer follow-on errors */
	ARENA_PUSH(p->a, prog->elements, prog->n_elements, prog->cap_elements, el);
	parse_body(p, el);
}

/* ---- chains ---- */

/* Placement constraints after an element of a chain:
 * AT SENDER | AT RECEIVER | NOT IN APP | IN KERNEL | IN APP, any number. */
static void parse_place_rules(struct parser *p, struct chain_use *u)
{
	for (;;) {
		const struct token *t = peek(p);
		struct place_constraint r = { .loc = t->loc };
		if (accept_kw(p, "AT")) {
			if (accept_kw(p, "SENDER"))
				r.rule = RULE_AT_SENDER;
			else if (accept_kw(p, "RECEIVER"))
				r.rule = RULE_AT_RECEIVER;
			else
				syntax_error(p, peek(p), "SENDER or RECEIVER after AT");
		} else if (accept_kw(p, "NOT")) {
			expect_kw(p, "IN");
			expect_kw(p, "APP");
			r.rule = RULE_NOT_IN_APP;
		} else if (accept_kw(p, "IN")) {
			if (accept_kw(p, "APP"))
				r.rule = RULE_IN_APP;
			else if (accept_kw(p, "KERNEL"))
				r.rule = RULE_NOT_IN_APP;
			else
				syntax_error(p, peek(p), "APP or KERNEL after IN");
		} else {
			return;
		}
		ARENA_PUSH(p->a, u->rules, u->n_rules, u->cap_rules, r);
	}
}

static void parse_chain(struct parser *p, struct program *prog)
{
	struct chain_decl *c = arena_alloc(p->a, sizeof(*c));
	struct name_ref name = expect_name(p, "a chain name");
	c->name = name.name;
	c->loc = name.loc;
	expect_kw(p, "ON");
	c->service = expect_name(p, "a service name after ON");
	expect(p, TOK_LPAREN);
	do {
		struct chain_use u = { 0 };
		u.element = expect_name(p, "an element name");
		if (accept(p, TOK_LPAREN)) {
			do {
				struct binding b = { 0 };
				b.target = expect_name(p, "a field or parameter name");
				b.loc = b.target.loc;
				expect(p, TOK_EQ);
				if (peek(p)->kind == TOK_IDENT && !tok_is_kw(peek(p), "TRUE") &&
				    !tok_is_kw(peek(p), "FALSE"))
					b.source = expect_name(p, "a service field");
				else
					b.value = parse_literal(p);
				ARENA_PUSH(p->a, u.binds, u.n_binds, u.cap_binds, b);
			} while (accept(p, TOK_COMMA));
			expect(p, TOK_RPAREN);
		}
		parse_place_rules(p, &u);
		ARENA_PUSH(p->a, c->uses, c->n_uses, c->cap_uses, u);
	} while (accept(p, TOK_COMMA));
	expect(p, TOK_RPAREN);
	expect(p, TOK_SEMI);
	ARENA_PUSH(p->a, prog->chains, prog->n_chains, prog->cap_chains, c);
}

/* After a syntax error at top level: skip to the next CREATE SERVICE/ELEMENT/CHAIN. */
static void sync_top(struct parser *p, size_t stmt_start)
{
	if (p->pos == stmt_start)
		next(p); /* make progress */
	while (peek(p)->kind != TOK_EOF && !at_top_level_create(p))
		next(p);
}

struct program *parse_program(struct arena *a, struct diag *d, struct token_list toks,
			      const char *file)
{
	struct parser p = { .a = a, .d = d, .toks = toks.toks, .n = toks.n };
	struct program *prog = arena_alloc(a, sizeof(*prog));
	jmp_buf top;
	const char *slash = strrchr(file, '/');

	prog->file = file;
	prog->basename = slash ? slash + 1 : file;
	p.recover = &top;
	if (setjmp(top)) {
		p.nest = 0;
		sync_top(&p, p.stmt_start);
	}
	prog->end = toks.toks[toks.n > 1 ? toks.n - 2 : 0].loc; /* the last token */
	while (peek(&p)->kind != TOK_EOF && !d->too_many) {
		size_t start = p.pos;
		p.stmt_start = start;
		const struct token *t = peek(&p);
		if (!accept_kw(&p, "CREATE"))
			syntax_error(&p, t, "CREATE SERVICE, CREATE ELEMENT or CREATE CHAIN");
		if (accept_kw(&p, "SERVICE"))
			parse_service(&p, prog);
		else if (accept_kw(&p, "ELEMENT"))
			parse_element(&p, prog, start);
		else if (accept_kw(&p, "CHAIN"))
			parse_chain(&p, prog);
		else
			syntax_error(&p, peek(&p), "SERVICE, ELEMENT or CHAIN after CREATE");
	}
	return prog;
}
