/* Semantic analysis: checks every name, type and binding of a parsed
 * program and annotates the AST with what each name refers to. */
#include "resolve.h"

#include <inttypes.h>
#include <string.h>
#include <strings.h>

#include "resolve_int.h"
#include "tokenize.h"

/* struct resolver and struct scope: resolve_int.h */

const char *rs_tname(struct resolver *r, struct type t)
{
	char buf[32];
	return arena_strdup(r->a, type_name(t, buf, sizeof(buf)));
}

/* ---- identifiers ---- */

static const char *const c_keywords[] = {
	"auto", "break", "case", "char", "const", "continue", "default", "do", "double",
	"else", "enum", "extern", "float", "for", "goto", "if", "inline", "int", "long",
	"register", "restrict", "return", "short", "signed", "sizeof", "static", "struct",
	"switch", "typedef", "union", "unsigned", "void", "volatile", "while", "bool",
	"true", "false", "asm", "typeof",
};

/* Names become C identifiers in the generated code (struct members, map and
 * function names), so they must be usable there. */
static void check_ident(struct resolver *r, const char *name, struct loc at, const char *what)
{
	for (size_t i = 0; i < sizeof(c_keywords) / sizeof(c_keywords[0]); i++) {
		if (strcmp(name, c_keywords[i]) == 0) {
			diag_error(r->d, at, "%s name '%s' is a C keyword; it would not compile in the generated code",
				   what, name);
			return;
		}
	}
	if (strncasecmp(name, "adn_", 4) == 0 || strncasecmp(name, "bpf_", 4) == 0 || name[0] == '_')
		diag_error(r->d, at, "%s name '%s' is reserved (names starting with 'adn_', 'bpf_' or '_' belong to the runtime)",
			   what, name);
	else if (strstr(name, "__"))
		diag_error(r->d, at, "%s name '%s' must not contain '__' (it separates element and table in map names)",
			   what, name);
	else if (strlen(name) > 64)
		diag_error(r->d, at, "%s name '%.20s...' is longer than 64 characters", what, name);
}

static bool is_meta_name(const char *name, enum meta_col *col)
{
	static const char *const names[] = { "rpc_id", "method", "kind", "status", "len" };
	for (int i = 0; i < 5; i++) {
		if (strcasecmp(name, names[i]) == 0) {
			if (col)
				*col = (enum meta_col)i;
			return true;
		}
	}
	return false;
}

static struct type meta_type(enum meta_col c)
{
	static const enum type_kind kinds[] = { TY_UINT32, TY_METHOD, TY_KIND, TY_STATUS, TY_UINT32 };
	return (struct type){ kinds[c], 0 };
}

/* ---- literal values ---- */

/* An integer literal, possibly negated: sets *neg and *mag. */
static bool int_literal(const struct expr *e, bool *neg, uint64_t *mag)
{
	if (e->kind == EX_INT) {
		*neg = false;
		*mag = e->ival;
		return true;
	}
	if (e->kind == EX_UNARY && e->op == TOK_MINUS && e->lhs->kind == EX_INT) {
		*neg = e->lhs->ival != 0;
		*mag = e->lhs->ival;
		return true;
	}
	return false;
}

static bool int_fits(enum type_kind k, bool neg, uint64_t mag)
{
	switch (k) {
	case TY_INT8: return neg ? mag <= 128 : mag <= 127;
	case TY_INT16: return neg ? mag <= 32768 : mag <= 32767;
	case TY_INT32: return neg ? mag <= 2147483648u : mag <= 2147483647u;
	case TY_INT64: return neg ? mag <= (uint64_t)1 << 63 : mag <= INT64_MAX;
	case TY_UINT8: return !neg && mag <= 255;
	case TY_UINT16: return !neg && mag <= 65535;
	case TY_UINT32: return !neg && mag <= 4294967295u;
	case TY_UINT64: case TY_TIMESTAMP: return !neg;
	case TY_METHOD: return !neg && mag <= 65535;
	case TY_KIND: return !neg && mag <= 1;
	case TY_STATUS: return !neg && mag <= 16;
	default: return false;
	}
}

/* Can a value of expression e be stored where type `to` is expected?
 * Converts literals in place (integer -> REAL). `what` names the target. */
bool rs_check_assign(struct resolver *r, struct type to, struct expr *e, const char *what)
{
	struct type from = e->type;
	bool neg;
	uint64_t mag;

	if (from.kind == TY_NONE || to.kind == TY_NONE)
		return true;
	if (from.kind == TY_STRING_LITERAL && to.kind == TY_CHAR) {
		if (from.len <= to.len)
			return true;
		diag_error(r->d, e->loc, "string literal '%s' (%d bytes) is longer than %s of %s",
			   e->str, from.len, rs_tname(r, to), what);
		return false;
	}
	if (from.kind == TY_INT_LITERAL && int_literal(e, &neg, &mag)) {
		if (to.kind == TY_REAL) {
			if (neg || mag > 0xffffffffu)
				goto range;
			e->int_to_real = true;
			return true;
		}
		if (type_is_integer(to) || to.kind == TY_METHOD || to.kind == TY_KIND ||
		    to.kind == TY_STATUS) {
			if (int_fits(to.kind, neg, mag))
				return true;
range:
			diag_error(r->d, e->loc, "value %s%" PRIu64 " does not fit in %s of %s",
				   neg ? "-" : "", mag, rs_tname(r, to), what);
			return false;
		}
	}
	if (from.kind == TY_CHAR && to.kind == TY_CHAR && from.len <= to.len)
		return true;
	if (type_equal(from, to))
		return true;
	if (type_is_integer(from) && type_is_integer(to))
		return true;
	if ((from.kind == TY_METHOD || from.kind == TY_KIND || from.kind == TY_STATUS) &&
	    type_is_integer(to) && to.kind != TY_TIMESTAMP)
		return true;
	if (type_is_integer(from) && to.kind == TY_REAL) {
		e->int_to_real = true;
		return true;
	}
	diag_error(r->d, e->loc, "type mismatch: %s is %s, the value is %s", what, rs_tname(r, to),
		   rs_tname(r, from));
	return false;
}

/* ---- expressions ---- */

struct table_decl *rs_find_table(struct element_decl *el, const char *name)
{
	for (size_t i = 0; i < el->n_tables; i++)
		if (strcmp(el->tables[i].name, name) == 0)
			return &el->tables[i];
	return NULL;
}

struct column_decl *rs_find_column(struct table_decl *t, const char *name)
{
	for (size_t i = 0; i < t->n_cols; i++)
		if (strcmp(t->cols[i].name, name) == 0)
			return &t->cols[i];
	return NULL;
}

struct field_decl *rs_find_elem_field(struct element_decl *el, const char *name)
{
	for (size_t i = 0; i < el->n_fields; i++)
		if (strcmp(el->fields[i].name, name) == 0)
			return &el->fields[i];
	return NULL;
}

static struct param_decl *find_param(struct element_decl *el, const char *name)
{
	for (size_t i = 0; i < el->n_params; i++)
		if (strcmp(el->params[i].name, name) == 0)
			return &el->params[i];
	return NULL;
}

void rs_use_field(struct resolver *r, struct scope *s, struct expr *e, struct field_decl *f)
{
	e->ref = REF_FIELD;
	e->field = f;
	e->type = f->type;
	if (f->response) {
		/* a field of the response: read from the response frame, at the
		 * offset of the statement's method (set per chain) */
		if (s->dir == DIR_REQUEST || !s->sel) {
			diag_error(r->d, e->loc, "response field '%s' can be read only ON RESPONSE (a request carries no response fields)",
				   f->name);
			e->type.kind = TY_NONE;
			return;
		}
		ARENA_PUSH(r->a, s->sel->resp_reads, s->sel->n_resp_reads, s->sel->cap_resp_reads, e);
		return;
	}
	if (s->dir == DIR_RESPONSE) {
		diag_error(r->d, e->loc, "field '%s' is not available ON RESPONSE: in v0 a response frame carries only its header (use rpc_id, method, kind, status, parameters and tables)",
			   f->name);
		e->type.kind = TY_NONE;
		return;
	}
	if (f->type.kind == TY_BYTES) {
		diag_error(r->d, e->loc, "BYTES field '%s' cannot be read by an element in v0 (only fixed-size fields travel in the network header)",
			   f->name);
		e->type.kind = TY_NONE;
		return;
	}
	for (size_t i = 0; i < s->el->n_reads; i++)
		if (s->el->reads[i] == f)
			return;
	ARENA_PUSH(r->a, s->el->reads, s->el->n_reads, s->el->cap_reads, f);
}

static void resolve_name(struct resolver *r, struct scope *s, struct expr *e)
{
	struct element_decl *el = s->el;
	enum meta_col meta;

	if (e->qual && strcasecmp(e->qual, "input") == 0) {
		struct field_decl *f = rs_find_elem_field(el, e->name);
		if (f) {
			rs_use_field(r, s, e, f);
		} else if (is_meta_name(e->name, &meta)) {
			e->ref = REF_META;
			e->meta = meta;
			e->type = meta_type(meta);
		} else {
			diag_error(r->d, e->loc, "unknown field '%s' in input of element '%s' (declare it in the element's field list)",
				   e->name, el->name);
		}
		return;
	}
	if (e->qual) {
		struct join_clause *j = NULL;
		for (size_t i = 0; s->sel && i < s->n_visible_joins; i++)
			if (strcmp(s->sel->joins[i].table.name, e->qual) == 0)
				j = &s->sel->joins[i];
		if (!j && s->target && strcmp(s->target->table.name, e->qual) == 0)
			j = s->target;
		if (!j) {
			if (rs_find_table(el, e->qual))
				diag_error(r->d, e->qual_loc, "table '%s' is not joined here (add JOIN %s ON ...)",
					   e->qual, e->qual);
			else if (strcasecmp(e->qual, "output") == 0)
				diag_error(r->d, e->qual_loc, "'output' cannot be read; use input");
			else
				diag_error(r->d, e->qual_loc, "unknown table '%s' in element '%s'", e->qual, el->name);
			return;
		}
		if (!j->tab)
			return; /* the JOIN itself was in error */
		struct column_decl *c = rs_find_column(j->tab, e->name);
		if (!c) {
			diag_error(r->d, e->loc, "unknown column '%s' in table '%s'", e->name, e->qual);
			return;
		}
		e->ref = REF_COLUMN;
		e->join = j;
		e->column = c;
		e->type = c->type;
		return;
	}
	/* UPDATE t / DELETE FROM t: t's columns come first, as in SQL */
	struct column_decl *tc = s->target && s->target->tab ? rs_find_column(s->target->tab, e->name) : NULL;
	if (tc) {
		e->ref = REF_COLUMN;
		e->join = s->target;
		e->column = tc;
		e->type = tc->type;
		return;
	}
	struct field_decl *f = rs_find_elem_field(el, e->name);
	if (f) {
		rs_use_field(r, s, e, f);
		return;
	}
	struct param_decl *p = find_param(el, e->name);
	if (p) {
		e->ref = REF_PARAM;
		e->param = p;
		e->type = p->type;
		return;
	}
	if (is_meta_name(e->name, &meta)) {
		e->ref = REF_META;
		e->meta = meta;
		e->type = meta_type(meta);
		return;
	}
	/* an unqualified column of a joined table, if exactly one has it */
	struct join_clause *found = NULL;
	struct column_decl *col = NULL;
	int matches = 0;
	for (size_t i = 0; s->sel && i <= s->n_visible_joins; i++) {
		struct join_clause *j = i < s->n_visible_joins ? &s->sel->joins[i] : s->target;
		if (!j)
			continue;
		struct column_decl *c = j->tab ? rs_find_column(j->tab, e->name) : NULL;
		if (c) {
			found = j;
			col = c;
			matches++;
		}
	}
	if (matches == 1) {
		e->ref = REF_COLUMN;
		e->join = found;
		e->column = col;
		e->type = col->type;
		return;
	}
	if (matches > 1) {
		diag_error(r->d, e->loc, "column name '%s' is ambiguous; qualify it with its table", e->name);
		return;
	}
	diag_error(r->d, e->loc, "unknown name '%s' (not a field, parameter, input column or joined column of element '%s')",
		   e->name, el->name);
}

bool rs_is_meta_enum(struct type t)
{
	return t.kind == TY_METHOD || t.kind == TY_KIND || t.kind == TY_STATUS;
}

/* 'REQUEST' compared with KIND, 'PERMISSION_DENIED' with STATUS, 'get' with
 * METHOD (checked against the chain's service later). */
void rs_resolve_enum_literal(struct resolver *r, struct scope *s, struct type t, struct expr *lit)
{
	if (t.kind == TY_KIND) {
		if (strcasecmp(lit->str, "REQUEST") == 0)
			lit->enum_value = 0;
		else if (strcasecmp(lit->str, "RESPONSE") == 0)
			lit->enum_value = 1;
		else
			diag_error(r->d, lit->loc, "'%s' is not a KIND (REQUEST or RESPONSE)", lit->str);
	} else if (t.kind == TY_STATUS) {
		lit->enum_value = status_code(lit->str);
		if (lit->enum_value < 0)
			diag_error(r->d, lit->loc, "'%s' is not a STATUS (a gRPC status name such as OK or PERMISSION_DENIED)",
				   lit->str);
	} else {
		ARENA_PUSH(r->a, s->el->method_names, s->el->n_method_names,
			   s->el->cap_method_names, lit);
	}
	lit->type = t;
}

void rs_resolve_expr(struct resolver *r, struct scope *s, struct expr *e);

static void resolve_compare(struct resolver *r, struct scope *s, struct expr *e)
{
	struct expr *l = e->lhs, *rr = e->rhs;
	struct type lt = l->type, rt = rr->type;
	bool equality = e->op == TOK_EQ || e->op == TOK_NE;

	e->type = (struct type){ TY_BOOL, 0 };
	if (lt.kind == TY_NONE || rt.kind == TY_NONE)
		return;
	if (lt.kind == TY_STRING_LITERAL && rt.kind != TY_STRING_LITERAL) { /* literal on the right */
		struct expr *tmp = l; l = rr; rr = tmp;
		struct type tt = lt; lt = rt; rt = tt;
	}
	(void)equality; /* every type orders: CHAR bytewise (memcmp), BOOL FALSE < TRUE */
	if (lt.kind == TY_CHAR && rt.kind == TY_CHAR) {
		if (lt.len != rt.len)
			diag_error(r->d, e->loc, "cannot compare %s with %s (CHAR sizes differ)",
				   rs_tname(r, lt), rs_tname(r, rt));
		return;
	}
	if (lt.kind == TY_CHAR && rt.kind == TY_STRING_LITERAL) {
		if (rt.len > lt.len)
			diag_error(r->d, rr->loc, "string literal '%s' (%d bytes) is longer than %s",
				   rr->str, rt.len, rs_tname(r, lt));
		return;
	}
	if (rs_is_meta_enum(lt) && rt.kind == TY_STRING_LITERAL) {
		rs_resolve_enum_literal(r, s, lt, rr);
		return;
	}
	if (rs_is_meta_enum(lt) || rs_is_meta_enum(rt)) {
		struct type other = rs_is_meta_enum(lt) ? rt : lt;
		if (type_equal(lt, rt) || type_is_integer(other))
			return;
	} else if (lt.kind == TY_BOOL && rt.kind == TY_BOOL) {
		return;
	} else if (type_is_numeric(lt) && type_is_numeric(rt)) {
		if (lt.kind == TY_REAL && rt.kind != TY_REAL)
			rr->int_to_real = true;
		else if (rt.kind == TY_REAL && lt.kind != TY_REAL)
			l->int_to_real = true;
		return;
	}
	diag_error(r->d, e->loc, "cannot compare %s with %s", rs_tname(r, lt), rs_tname(r, rt));
}

static void resolve_arith(struct resolver *r, struct expr *e)
{
	struct type lt = e->lhs->type, rt = e->rhs->type;
	const char *op = tok_kind_name(e->op);

	e->type.kind = TY_NONE;
	if (lt.kind == TY_NONE || rt.kind == TY_NONE)
		return;
	if (!type_is_numeric(lt) || !type_is_numeric(rt)) {
		diag_error(r->d, e->loc, "operator %s needs numbers, not %s and %s", op,
			   rs_tname(r, lt), rs_tname(r, rt));
		return;
	}
	if ((e->op == TOK_SLASH || e->op == TOK_PERCENT) && e->rhs->kind == EX_INT && e->rhs->ival == 0) {
		diag_error(r->d, e->rhs->loc, "division by zero");
		return;
	}
	bool lreal = lt.kind == TY_REAL, rreal = rt.kind == TY_REAL;
	if (lreal || rreal) {
		if (e->op == TOK_PERCENT || (rreal && e->op == TOK_SLASH)) {
			diag_error(r->d, e->loc, "operator %s on REAL values is not supported (REAL supports +, -, *, and / by an integer)",
				   op);
			return;
		}
		if (e->op == TOK_PLUS || e->op == TOK_MINUS || (lreal && rreal)) {
			e->lhs->int_to_real = !lreal;
			e->rhs->int_to_real = !rreal;
		}
		e->type.kind = TY_REAL;
		return;
	}
	/* signed / and %: clang 14 has no sdiv for BPF, codegen calls adn_sdiv64 */
	if (lt.kind == TY_INT_LITERAL && rt.kind == TY_INT_LITERAL)
		e->type.kind = TY_INT_LITERAL;
	else if ((lt.kind == TY_TIMESTAMP || rt.kind == TY_TIMESTAMP) && e->op != TOK_MINUS)
		e->type.kind = TY_TIMESTAMP;
	else if (type_is_signed(lt) || type_is_signed(rt) || e->op == TOK_MINUS)
		e->type.kind = TY_INT64;
	else
		e->type.kind = TY_UINT64;
}


void rs_resolve_expr(struct resolver *r, struct scope *s, struct expr *e)
{
	switch (e->kind) {
	case EX_INT:
		e->type = (struct type){ TY_INT_LITERAL, 0 };
		break;
	case EX_REAL:
		e->type = (struct type){ TY_REAL, 0 };
		break;
	case EX_STRING:
		e->type = (struct type){ TY_STRING_LITERAL, e->str_len };
		break;
	case EX_BOOL:
		e->type = (struct type){ TY_BOOL, 0 };
		break;
	case EX_NAME:
		resolve_name(r, s, e);
		break;
	case EX_CALL:
		for (size_t i = 0; i < e->n_args; i++)
			rs_resolve_expr(r, s, e->args[i]);
		rs_resolve_call(r, e);
		break;
	case EX_CASE:
		rs_resolve_case(r, s, e);
		break;
	case EX_UNARY:
		rs_resolve_expr(r, s, e->lhs);
		if (e->op == 'N') {
			e->type = (struct type){ TY_BOOL, 0 };
			if (e->lhs->type.kind != TY_BOOL && e->lhs->type.kind != TY_NONE)
				diag_error(r->d, e->lhs->loc, "NOT needs a BOOL, not %s", rs_tname(r, e->lhs->type));
		} else {
			e->type = e->lhs->type;
			if (e->type.kind == TY_REAL)
				diag_error(r->d, e->loc, "negative REAL values are not supported in v0");
			else if (!type_is_integer(e->type) && e->type.kind != TY_NONE)
				diag_error(r->d, e->loc, "unary '-' needs a number, not %s", rs_tname(r, e->type));
			else if (e->type.kind != TY_INT_LITERAL && e->type.kind != TY_NONE)
				e->type.kind = TY_INT64;
		}
		break;
	case EX_BINARY:
		rs_resolve_expr(r, s, e->lhs);
		rs_resolve_expr(r, s, e->rhs);
		if (e->op == 'A' || e->op == 'O') {
			e->type = (struct type){ TY_BOOL, 0 };
			struct expr *sides[2] = { e->lhs, e->rhs };
			for (int i = 0; i < 2; i++)
				if (sides[i]->type.kind != TY_BOOL && sides[i]->type.kind != TY_NONE)
					diag_error(r->d, sides[i]->loc, "%s needs BOOL operands, not %s",
						   e->op == 'A' ? "AND" : "OR", rs_tname(r, sides[i]->type));
		} else if (e->op >= TOK_EQ && e->op <= TOK_GE) {
			resolve_compare(r, s, e);
		} else if (e->op == 'L') {
			rs_resolve_like(r, e);
		} else {
			resolve_arith(r, e);
		}
		break;
	}
}

void rs_expect_bool(struct resolver *r, struct expr *e, const char *where)
{
	if (e->type.kind != TY_BOOL && e->type.kind != TY_NONE)
		diag_error(r->d, e->loc, "%s must be a condition (BOOL), not %s", where, rs_tname(r, e->type));
}

/* ---- statements ---- */

void rs_flatten_and(struct resolver *r, struct expr *e, struct expr ***out, size_t *n, size_t *cap)
{
	if (e->kind == EX_BINARY && e->op == 'A') {
		rs_flatten_and(r, e->lhs, out, n, cap);
		rs_flatten_and(r, e->rhs, out, n, cap);
		return;
	}
	ARENA_PUSH(r->a, *out, *n, *cap, e);
}

bool rs_mentions_join(const struct expr *e, const struct join_clause *j)
{
	if (!e)
		return false;
	if (e->kind == EX_NAME)
		return e->ref == REF_COLUMN && e->join == j;
	if (rs_mentions_join(e->lhs, j) || rs_mentions_join(e->rhs, j))
		return true;
	for (size_t i = 0; i < e->n_args; i++)
		if (rs_mentions_join(e->args[i], j))
			return true;
	return false;
}

/* JOIN t ON t.k1 = v1 AND t.k2 = v2: each key column of t exactly once. */
static void resolve_join(struct resolver *r, struct scope *s, struct join_clause *j)
{
	struct element_decl *el = s->el;

	j->tab = rs_find_table(el, j->table.name);
	if (!j->tab) {
		diag_error(r->d, j->table.loc, "unknown table '%s' in element '%s'", j->table.name, el->name);
		return;
	}
	if (j->tab->kind == TABLE_LOG) {
		diag_error(r->d, j->table.loc, "cannot JOIN log table '%s' (a log is write-only)", j->table.name);
		j->tab = NULL;
		return;
	}
	for (int i = 0; i < j->index; i++) {
		if (s->sel->joins[i].tab == j->tab) {
			diag_error(r->d, j->table.loc, "table '%s' is joined twice in one SELECT", j->table.name);
			j->tab = NULL;
			return;
		}
	}
	s->n_visible_joins = (size_t)j->index + 1;
	rs_resolve_expr(r, s, j->on);
	rs_split_key(r, j, j->on, NULL, NULL, NULL, "JOIN ON");
}

/* INSERT INTO reply SELECT v AS f, ...: one value per RESPONSE field of the
 * element, by name (AS, or the name of a column or field). Which response
 * fields the method has is checked per chain (check_responses). */
static void resolve_reply(struct resolver *r, struct scope *s, struct select_insert *sel)
{
	struct element_decl *el = s->el;

	sel->to_reply = true;
	sel->kind = ST_REPLY;
	el->answers = true;
	if (s->dir == DIR_RESPONSE) {
		diag_error(r->d, sel->target.loc, "INSERT INTO reply answers a request: it belongs in ON REQUEST");
		return;
	}
	if (sel->replace) {
		diag_error(r->d, sel->loc, "INSERT OR REPLACE INTO reply: reply is not a table with keys; write INSERT INTO reply");
		return;
	}
	if (sel->star) {
		diag_error(r->d, sel->target.loc, "INSERT INTO reply needs one value per response field (SELECT v AS field, ...), not SELECT *");
		return;
	}
	sel->reply_field = arena_alloc(r->a, sizeof(*sel->reply_field) * (sel->n_exprs + 1));
	sel->reply_off = arena_alloc(r->a, sizeof(*sel->reply_off) * (sel->n_exprs + 1));
	for (size_t i = 0; i < sel->n_exprs; i++) {
		struct expr *v = sel->exprs[i];
		const char *name = sel->as_names && sel->as_names[i].name ? sel->as_names[i].name :
				   v->kind == EX_NAME ? v->name : NULL;
		struct loc at = sel->as_names && sel->as_names[i].name ? sel->as_names[i].loc : v->loc;
		if (!name) {
			diag_error(r->d, v->loc, "name the response field this value gives: SELECT value AS field");
			continue;
		}
		struct field_decl *f = rs_find_elem_field(el, name);
		if (!f || !f->response) {
			diag_error(r->d, at, "'%s' is not a RESPONSE field of element '%s' (declare it: RESPONSE %s type)",
				   name, el->name, name);
			continue;
		}
		for (size_t k = 0; k < i; k++)
			if (sel->reply_field[k] == f)
				diag_error(r->d, at, "response field '%s' is given twice", name);
		sel->reply_field[i] = f;
		rs_check_assign(r, f->type, v, arena_printf(r->a, "response field '%s'", name));
	}
}

/* The `method = 'name'` conjunct of a WHERE, or NULL. */
static struct expr *method_filter(struct resolver *r, struct expr *where)
{
	struct expr **conj = NULL;
	size_t n = 0, cap = 0;

	if (!where)
		return NULL;
	rs_flatten_and(r, where, &conj, &n, &cap);
	for (size_t i = 0; i < n; i++) {
		struct expr *c = conj[i];
		if (c->kind != EX_BINARY || c->op != TOK_EQ)
			continue;
		struct expr *m = c->lhs, *lit = c->rhs;
		if (m->kind == EX_STRING) {
			m = c->rhs;
			lit = c->lhs;
		}
		if (m->kind == EX_NAME && m->ref == REF_META && m->meta == META_METHOD &&
		    lit->kind == EX_STRING)
			return lit;
	}
	return NULL;
}

static void resolve_select_body(struct resolver *r, struct element_decl *el, enum direction dir,
				struct select_insert *sel);

static void resolve_select(struct resolver *r, struct element_decl *el, enum direction dir,
			   struct select_insert *sel)
{
	resolve_select_body(r, el, dir, sel);
	if (sel->as_names && !sel->to_reply)
		for (size_t i = 0; i < sel->n_exprs; i++)
			if (sel->as_names[i].name) {
				diag_error(r->d, sel->as_names[i].loc, "AS names a response field: only INSERT INTO reply SELECT v AS field uses it");
				break;
			}
	if (!sel->to_reply && !sel->n_resp_reads)
		return;
	sel->resp_method = method_filter(r, sel->where);
	if (!sel->resp_method && (!sel->to_reply || sel->reply_field))
		diag_error(r->d, sel->loc, "this statement %s, whose layout depends on the method: add input.method = 'name' to its WHERE",
			   sel->to_reply ? "answers with response fields" : "reads response fields");
}

static void resolve_select_body(struct resolver *r, struct element_decl *el, enum direction dir,
				struct select_insert *sel)
{
	struct scope s = { .el = el, .dir = dir, .sel = sel };

	if (sel->from.name && strcasecmp(sel->from.name, "input") != 0)
		diag_error(r->d, sel->from.loc, "FROM must name 'input' (the RPC), not '%s'", sel->from.name);
	for (size_t i = 0; i < sel->n_joins; i++)
		resolve_join(r, &s, &sel->joins[i]);
	s.n_visible_joins = sel->n_joins;
	if (sel->kind != ST_INSERT) {
		rs_resolve_write(r, &s, sel);
		return;
	}
	for (size_t i = 0; i < sel->n_exprs; i++)
		rs_resolve_expr(r, &s, sel->exprs[i]);
	if (sel->where) {
		rs_resolve_expr(r, &s, sel->where);
		rs_expect_bool(r, sel->where, "WHERE");
	}

	if (strcasecmp(sel->target.name, "reply") == 0 && !rs_find_table(el, sel->target.name)) {
		resolve_reply(r, &s, sel);
		return;
	}
	if (strcasecmp(sel->target.name, "output") == 0) {
		sel->to_output = true;
		if (sel->replace)
			diag_error(r->d, sel->loc, "INSERT OR REPLACE INTO output: output is not a table with keys; write INSERT INTO output");
		else if (!sel->star)
			diag_error(r->d, sel->exprs[0]->loc, "INSERT INTO output needs SELECT * (to change fields write UPDATE input SET field = value before it)");
		return;
	}
	struct table_decl *t = rs_find_table(el, sel->target.name);
	if (!t) {
		diag_error(r->d, sel->target.loc, "unknown table '%s' in element '%s'", sel->target.name, el->name);
		return;
	}
	if (t->kind != TABLE_LOG) {
		rs_resolve_write(r, &s, sel);
		return;
	}
	if (sel->replace)
		diag_error(r->d, sel->loc, "INSERT OR REPLACE INTO log table '%s': a log only appends", t->name);
	sel->log = t;
	if (sel->star) {
		diag_error(r->d, sel->loc, "INSERT INTO log table '%s' needs one value per column, not SELECT *", t->name);
		return;
	}
	if (sel->n_exprs != t->n_cols) {
		diag_error(r->d, sel->exprs[0]->loc, "log table '%s' has %zu columns but the SELECT gives %zu values",
			   t->name, t->n_cols, sel->n_exprs);
		return;
	}
	for (size_t i = 0; i < t->n_cols; i++) {
		const char *what = arena_printf(r->a, "column '%s' of '%s'", t->cols[i].name, t->name);
		struct expr *v = sel->exprs[i];
		if (v->kind == EX_STRING && rs_is_meta_enum(t->cols[i].type)) {
			rs_resolve_enum_literal(r, &s, t->cols[i].type, v);
			continue;
		}
		rs_check_assign(r, t->cols[i].type, v, what);
	}
}

/* MERGE SUM|MAX|MIN need numbers in every value column; LAST names a
 * TIMESTAMP value column; a log is never merged row by row. */
static void check_merge(struct resolver *r, struct table_decl *t)
{
	static const char *const names[] = { "UNION", "SUM", "MAX", "MIN", "LAST" };
	if (!t->merge_loc.line)
		return;
	if (t->kind == TABLE_LOG) {
		diag_error(r->d, t->merge_loc, "log table '%s' cannot have a MERGE policy (logs are concatenated)", t->name);
		return;
	}
	if (t->merge == MERGE_SUM || t->merge == MERGE_MAX || t->merge == MERGE_MIN) {
		for (size_t i = 0; i < t->n_cols; i++) {
			const struct column_decl *c = &t->cols[i];
			if (!c->primary_key && !type_is_numeric(c->type) && c->type.kind != TY_NONE)
				diag_error(r->d, t->merge_loc, "MERGE %s needs numeric value columns; column '%s' of '%s' is %s",
					   names[t->merge], c->name, t->name, rs_tname(r, c->type));
		}
	}
	if (t->merge == MERGE_LAST) {
		const struct column_decl *c = rs_find_column(t, t->merge_ts.name);
		if (!c)
			diag_error(r->d, t->merge_ts.loc, "unknown column '%s' in table '%s'", t->merge_ts.name, t->name);
		else if (c->primary_key || c->type.kind != TY_TIMESTAMP)
			diag_error(r->d, t->merge_ts.loc, "MERGE LAST needs a TIMESTAMP value column, and '%s' is %s%s",
				   c->name, c->primary_key ? "a key column of type " : "", rs_tname(r, c->type));
	}
}

/* col TYPE DEFAULT literal (docs/language.md "State tables"): a value
 * column of a state table; integers, BOOL, REAL, CHAR(n). */
static void check_column_default(struct resolver *r, struct element_decl *el, struct table_decl *t,
				 struct column_decl *c)
{
	if (!c->def)
		return;
	if (t->kind == TABLE_LOG) {
		diag_error(r->d, c->def->loc, "column '%s' of log table '%s' cannot have a DEFAULT (a log INSERT gives every column)",
			   c->name, t->name);
		c->def = NULL;
		return;
	}
	if (c->primary_key) {
		diag_error(r->d, c->def->loc, "key column '%s' of table '%s' cannot have a DEFAULT (every row gives its key)",
			   c->name, t->name);
		c->def = NULL;
		return;
	}
	if (c->type.kind == TY_TIMESTAMP || c->type.kind == TY_BYTES || rs_is_meta_enum(c->type)) {
		diag_error(r->d, c->def->loc, "column '%s' of type %s cannot have a DEFAULT (integers, BOOL, REAL and CHAR(n) can)",
			   c->name, rs_tname(r, c->type));
		c->def = NULL;
		return;
	}
	struct scope s = { .el = el };
	rs_resolve_expr(r, &s, c->def);
	if (!rs_check_assign(r, c->type, c->def, arena_printf(r->a, "column '%s' of '%s'", c->name, t->name)))
		c->def = NULL;
}

static void resolve_table(struct resolver *r, struct element_decl *el, struct table_decl *t)
{
	check_ident(r, t->name, t->loc, "table");
	if (strcasecmp(t->name, "input") == 0 || strcasecmp(t->name, "output") == 0)
		diag_error(r->d, t->loc, "'%s' is reserved: it names the RPC", t->name);
	else if (strcasecmp(t->name, "reply") == 0)
		diag_error(r->d, t->loc, "'%s' is reserved: INSERT INTO reply answers a request", t->name);
	for (struct table_decl *o = el->tables; o < t; o++)
		if (strcmp(o->name, t->name) == 0)
			diag_error(r->d, t->loc, "duplicate table '%s' in element '%s'", t->name, el->name);
	int n_keys = 0;
	for (size_t i = 0; i < t->n_cols; i++) {
		struct column_decl *c = &t->cols[i];
		check_ident(r, c->name, c->loc, "column");
		for (size_t k = 0; k < i; k++)
			if (strcmp(t->cols[k].name, c->name) == 0)
				diag_error(r->d, c->loc, "duplicate column '%s' in table '%s'", c->name, t->name);
		if (c->type.kind == TY_BYTES)
			diag_error(r->d, c->loc, "column '%s': BYTES columns are not supported in tables (use CHAR(n))", c->name);
		n_keys += c->primary_key;
	}
	for (size_t i = 0; i < t->n_cols; i++)
		check_column_default(r, el, t, &t->cols[i]);
	if (t->kind == TABLE_LOG) {
		if (n_keys)
			diag_error(r->d, t->loc, "log table '%s' cannot have a PRIMARY KEY (it is append-only)", t->name);
	} else {
		if (!n_keys)
			diag_error(r->d, t->loc, "table '%s' needs a PRIMARY KEY", t->name);
		else if ((size_t)n_keys == t->n_cols)
			diag_error(r->d, t->loc, "table '%s' needs at least one column that is not in the PRIMARY KEY", t->name);
		if (t->kind == TABLE_ARRAY || t->kind == TABLE_PERCPU_ARRAY) {
			struct column_decl *k = NULL;
			for (size_t i = 0; i < t->n_cols; i++)
				if (t->cols[i].primary_key)
					k = &t->cols[i];
			if (n_keys != 1 || k->type.kind != TY_UINT32)
				diag_error(r->d, t->kind_loc, "ARRAY table '%s' needs exactly one UINT32 key column", t->name);
		}
	}
	check_merge(r, t);
	if (!t->capacity) {
		if (!t->capacity_loc.line)
			diag_error(r->d, t->loc, "table '%s' needs a CAPACITY", t->name);
	} else if (t->capacity > 0x7fffffffu) {
		diag_error(r->d, t->capacity_loc, "CAPACITY of table '%s' is too large (at most 2147483647)", t->name);
		t->capacity = 0;
	}
}

static void resolve_rows(struct resolver *r, struct element_decl *el, struct rows_insert *ins)
{
	struct table_decl *t = rs_find_table(el, ins->table.name);
	if (!t) {
		diag_error(r->d, ins->table.loc, "unknown table '%s' in element '%s'", ins->table.name, el->name);
		return;
	}
	if (t->kind == TABLE_LOG) {
		diag_error(r->d, ins->table.loc, "cannot insert initial rows into log table '%s'", t->name);
		return;
	}
	size_t n = ins->has_cols ? ins->n_cols : t->n_cols;
	ins->col_of = arena_alloc(r->a, sizeof(*ins->col_of) * (n ? n : 1));
	for (size_t i = 0; i < n; i++) {
		if (!ins->has_cols) {
			ins->col_of[i] = &t->cols[i];
			continue;
		}
		ins->col_of[i] = rs_find_column(t, ins->cols[i].name);
		if (!ins->col_of[i])
			diag_error(r->d, ins->cols[i].loc, "unknown column '%s' in table '%s'", ins->cols[i].name, t->name);
		for (size_t k = 0; k < i; k++)
			if (ins->col_of[i] && ins->col_of[k] == ins->col_of[i])
				diag_error(r->d, ins->cols[i].loc, "column '%s' is listed twice", ins->cols[i].name);
	}
	/* a column left out is its DEFAULT or zero, but a row needs its key (the loader
	 * refuses a row= line without one: maps/row.c adn_row_parse) */
	for (size_t c = 0; ins->has_cols && c < t->n_cols; c++) {
		size_t i = 0;
		while (i < n && ins->col_of[i] != &t->cols[c])
			i++;
		if (t->cols[c].primary_key && i == n)
			diag_error(r->d, ins->table.loc, "initial rows of table '%s' need its key column '%s'",
				   t->name, t->cols[c].name);
	}
	ins->tab = t;
	struct scope s = { .el = el };
	for (size_t ri = 0; ri < ins->n_rows; ri++) {
		struct row_values *row = &ins->rows[ri];
		if (row->n_vals != n) {
			diag_error(r->d, row->loc, "row has %zu values but %zu columns are listed", row->n_vals, n);
			continue;
		}
		for (size_t i = 0; i < n; i++) {
			if (!ins->col_of[i])
				continue;
			rs_resolve_expr(r, &s, row->vals[i]);
			const char *what = arena_printf(r->a, "column '%s' of '%s'", ins->col_of[i]->name, t->name);
			if (rs_check_assign(r, ins->col_of[i]->type, row->vals[i], what) &&
			    (t->kind == TABLE_ARRAY || t->kind == TABLE_PERCPU_ARRAY) && ins->col_of[i]->primary_key && t->capacity &&
			    row->vals[i]->kind == EX_INT && row->vals[i]->ival >= t->capacity)
				diag_error(r->d, row->vals[i]->loc, "index %" PRIu64 " is outside ARRAY table '%s' (CAPACITY %" PRIu64 ")",
					   row->vals[i]->ival, t->name, t->capacity);
		}
	}
}

static void resolve_element(struct resolver *r, struct element_decl *el)
{
	check_ident(r, el->name, el->loc, "element");
	for (size_t i = 0; i < el->n_fields; i++) {
		struct field_decl *f = &el->fields[i];
		check_ident(r, f->name, f->loc, "field");
		if (is_meta_name(f->name, NULL))
			diag_error(r->d, f->loc, "'%s' is a column of input (the frame header); the element's field needs another name",
				   f->name);
		if (rs_is_meta_enum(f->type))
			diag_error(r->d, f->loc, "type %s is only for log table columns", rs_tname(r, f->type));
		else if (f->response && f->type.kind == TY_BYTES)
			diag_error(r->d, f->loc, "RESPONSE field '%s' cannot be BYTES: elements read and give fixed-size response fields only",
				   f->name);
		for (size_t k = 0; k < i; k++)
			if (strcmp(el->fields[k].name, f->name) == 0)
				diag_error(r->d, f->loc, "duplicate field '%s' in element '%s'", f->name, el->name);
	}
	for (size_t i = 0; i < el->n_params; i++) {
		struct param_decl *p = &el->params[i];
		check_ident(r, p->name, p->loc, "parameter");
		if (rs_find_elem_field(el, p->name) || find_param(el, p->name) != p)
			diag_error(r->d, p->loc, "duplicate name '%s' in element '%s'", p->name, el->name);
		if (p->type.kind == TY_BYTES || rs_is_meta_enum(p->type)) {
			diag_error(r->d, p->loc, "parameter '%s' cannot have type %s", p->name, rs_tname(r, p->type));
			p->type.kind = TY_NONE;
		}
		struct scope s = { .el = el };
		rs_resolve_expr(r, &s, p->def);
		rs_check_assign(r, p->type, p->def, arena_printf(r->a, "parameter '%s'", p->name));
	}
	if (el->drop_status) {
		el->drop_code = status_code(el->drop_status);
		if (el->drop_code <= 0) {
			diag_error(r->d, el->drop_loc, el->drop_code == 0 ?
				   "DROP STATUS cannot be OK" :
				   "unknown status '%s' (expected a gRPC status name such as PERMISSION_DENIED, ABORTED, UNAVAILABLE)",
				   el->drop_status);
			el->drop_code = 10;
		}
	}
	for (size_t i = 0; i < el->n_tables; i++)
		resolve_table(r, el, &el->tables[i]);
	for (size_t i = 0; i < el->n_inserts; i++)
		resolve_rows(r, el, &el->inserts[i]);
	for (int d = DIR_REQUEST; d <= DIR_RESPONSE; d++) {
		struct on_block *on = &el->on[d];
		int outputs = 0;
		for (size_t i = 0; i < on->n_stmts; i++) {
			resolve_select(r, el, (enum direction)d, &on->stmts[i]);
			if (on->stmts[i].to_output && ++outputs == 2)
				diag_error(r->d, on->stmts[i].loc, "more than one INSERT INTO output in ON %s of element '%s'",
					   d == DIR_REQUEST ? "REQUEST" : "RESPONSE", el->name);
		}
		if (on->present && outputs == 0)
			diag_warning(r->d, on->loc, "ON %s of element '%s' has no INSERT INTO output: every %s is dropped",
				     d == DIR_REQUEST ? "REQUEST" : "RESPONSE", el->name,
				     d == DIR_REQUEST ? "request" : "response");
	}
}

/* ---- services ---- */

static void check_field_list(struct resolver *r, struct method_decl *m, struct field_decl *fs,
			     size_t n, const char *side)
{
	for (size_t i = 0; i < n; i++) {
		check_ident(r, fs[i].name, fs[i].loc, "field");
		if (rs_is_meta_enum(fs[i].type))
			diag_error(r->d, fs[i].loc, "type %s is only for log table columns", rs_tname(r, fs[i].type));
		for (size_t k = 0; k < i; k++)
			if (strcmp(fs[k].name, fs[i].name) == 0)
				diag_error(r->d, fs[i].loc, "duplicate field '%s' in %s of method '%s'",
					   fs[i].name, side, m->name);
	}
}

static void resolve_service(struct resolver *r, struct service_decl *s)
{
	check_ident(r, s->name, s->loc, "service");
	for (size_t i = 0; i < s->n_methods; i++) {
		struct method_decl *m = &s->methods[i];
		check_ident(r, m->name, m->loc, "method");
		for (size_t k = 0; k < i; k++)
			if (strcasecmp(s->methods[k].name, m->name) == 0)
				diag_error(r->d, m->loc, "duplicate method '%s' in service '%s'", m->name, s->name);
		check_field_list(r, m, m->req, m->n_req, "REQUEST");
		check_field_list(r, m, m->resp, m->n_resp, "RESPONSE");
	}
}

/* ---- chain ---- */

static const struct field_decl *service_request_field(struct service_decl *s, const char *name)
{
	for (size_t i = 0; i < s->n_methods; i++)
		for (size_t k = 0; k < s->methods[i].n_req; k++)
			if (strcmp(s->methods[i].req[k].name, name) == 0)
				return &s->methods[i].req[k];
	return NULL;
}

static bool service_response_has(struct service_decl *s, const char *name)
{
	for (size_t i = 0; i < s->n_methods; i++)
		for (size_t k = 0; k < s->methods[i].n_resp; k++)
			if (strcmp(s->methods[i].resp[k].name, name) == 0)
				return true;
	return false;
}

static bool field_is_read(struct element_decl *el, const struct field_decl *f)
{
	for (size_t i = 0; i < el->n_reads; i++)
		if (el->reads[i] == f)
			return true;
	return false;
}

static const struct field_decl *service_response_field(struct service_decl *s, const char *name)
{
	for (size_t i = 0; i < s->n_methods; i++)
		for (size_t k = 0; k < s->methods[i].n_resp; k++)
			if (strcmp(s->methods[i].resp[k].name, name) == 0)
				return &s->methods[i].resp[k];
	return NULL;
}

/* RESPONSE f: binds to the response field of that name (any method that
 * has it; each statement's method is checked by check_responses). */
static void bind_response_field(struct resolver *r, struct chain_decl *c, struct chain_use *u,
				size_t fi, const char *src, struct loc at)
{
	struct element_decl *el = u->elem;
	struct field_decl *f = &el->fields[fi];
	const struct field_decl *sf = service_response_field(c->svc, src);

	if (!sf) {
		diag_error(r->d, at, "RESPONSE field '%s' of element '%s': service '%s' has no response field '%s'",
			   f->name, el->name, c->svc->name, src);
		return;
	}
	u->field_src[fi] = sf;
}

static void bind_field(struct resolver *r, struct chain_decl *c, struct chain_use *u, size_t fi,
		       const char *src, struct loc at, bool explicit)
{
	struct element_decl *el = u->elem;
	struct field_decl *f = &el->fields[fi];
	if (f->response) {
		bind_response_field(r, c, u, fi, src, at);
		return;
	}
	const struct field_decl *sf = service_request_field(c->svc, src);

	if (!sf) {
		if (!explicit && !field_is_read(el, f))
			return; /* never read: nothing to bind */
		if (service_response_has(c->svc, src))
			diag_error(r->d, at, "field '%s' is only in responses of service '%s'; elements read request fields in v0",
				   src, c->svc->name);
		else if (explicit)
			diag_error(r->d, at, "unknown field '%s' in service '%s'", src, c->svc->name);
		else
			diag_error(r->d, at, "field '%s' of element '%s' is not bound and service '%s' has no field '%s' (bind it: %s = <service field>)",
				   f->name, el->name, c->svc->name, src, f->name);
		return;
	}
	if (!type_equal(f->type, sf->type) && f->type.kind != TY_NONE) {
		char a[32], b[32];
		diag_error(r->d, at, "type mismatch: field '%s' of element '%s' is %s but service field '%s' is %s",
			   f->name, el->name, type_name(f->type, a, sizeof(a)), src,
			   type_name(sf->type, b, sizeof(b)));
		return;
	}
	u->field_src[fi] = sf;
}

/* The largest response the network builds (bpf/adn_dgram.h ADN_REPLY_BODY_MAX). */
#define REPLY_BODY_MAX 64

/* Offset of response field k of m in the response body; -1 if it follows a
 * BYTES field (no fixed offset) or is BYTES itself. */
static int response_offset(const struct method_decl *m, size_t k)
{
	int off = 0;
	for (size_t i = 0; i < m->n_resp; i++) {
		if (m->resp[i].type.kind == TY_BYTES)
			return -1;
		if (i == k)
			return off;
		off += type_size(m->resp[i].type);
	}
	return -1;
}

/* Per chain: statements that answer requests or read response fields, against
 * the response of their method (docs/language.md "Answering: INSERT INTO
 * reply"). The method literals have their values by now. */
static void check_responses(struct resolver *r, struct chain_decl *c, struct chain_use *u)
{
	struct element_decl *el = u->elem;
	for (size_t i = 0; el->answers && i < u->n_rules; i++)
		if (u->rules[i].rule == RULE_AT_RECEIVER)
			diag_error(r->d, u->rules[i].loc, "element '%s' cannot be placed AT RECEIVER: it answers requests itself (INSERT INTO reply), which the TC program at the client's egress does, not a hook at the server",
				   el->name);
	for (int d = DIR_REQUEST; d <= DIR_RESPONSE; d++) {
		for (size_t si = 0; si < el->on[d].n_stmts; si++) {
			struct select_insert *sel = &el->on[d].stmts[si];
			if ((!sel->to_reply || !sel->reply_field) && !sel->n_resp_reads)
				continue;
			if (!c->svc->udp) {
				diag_error(r->d, sel->loc, "element '%s' %s: only the TC program of a TRANSPORT UDP service sees a whole RPC in one packet, and service '%s' is TCP (the sender's sk_msg cannot do it)",
					   el->name, sel->to_reply ? "answers requests itself (INSERT INTO reply)" :
					   "reads response fields", c->svc->name);
				continue;
			}
			if (!sel->resp_method || sel->resp_method->enum_value < 1)
				continue; /* reported */
			const struct method_decl *m = NULL;
			for (size_t i = 0; i < c->svc->n_methods; i++)
				if (c->svc->methods[i].id == sel->resp_method->enum_value)
					m = &c->svc->methods[i];
			if (!m)
				continue;
			for (size_t i = 0; i < sel->n_resp_reads; i++) {
				struct expr *e = sel->resp_reads[i];
				const struct field_decl *sf = u->field_src[e->field - el->fields];
				size_t k;
				for (k = 0; k < m->n_resp && &m->resp[k] != sf; k++)
					;
				e->resp_off = k < m->n_resp ? response_offset(m, k) : -1;
				if (!sf)
					continue;
				if (k == m->n_resp) {
					diag_error(r->d, e->loc, "method '%s' has no response field '%s' (RESPONSE field '%s' of element '%s')",
						   m->name, sf->name, e->field->name, el->name);
				} else if (!type_equal(sf->type, e->field->type)) {
					char a[32], b[32];
					diag_error(r->d, e->loc, "type mismatch: RESPONSE field '%s' of element '%s' is %s but response field '%s' of method '%s' is %s",
						   e->field->name, el->name, type_name(e->field->type, a, sizeof(a)),
						   sf->name, m->name, type_name(sf->type, b, sizeof(b)));
				} else if (e->resp_off < 0) {
					diag_error(r->d, e->loc, "response field '%s' of method '%s' follows a BYTES field: it has no fixed offset to read",
						   sf->name, m->name);
				} else if (e->resp_off + type_size(sf->type) > REPLY_BODY_MAX) {
					diag_error(r->d, e->loc, "response field '%s' of method '%s' ends at byte %d of the body; elements read the first %d",
						   sf->name, m->name, e->resp_off + type_size(sf->type), REPLY_BODY_MAX);
				}
			}
			if (!sel->to_reply)
				continue;
			int size = 0;
			for (size_t k = 0; k < m->n_resp; k++) {
				const struct field_decl *mf = &m->resp[k];
				size_t i;
				if (mf->type.kind == TY_BYTES) {
					diag_error(r->d, sel->loc, "response field '%s' of method '%s' is BYTES: the network builds replies of fixed-size fields only",
						   mf->name, m->name);
					size = -1;
					break;
				}
				size += type_size(mf->type);
				for (i = 0; i < sel->n_exprs; i++)
					if (sel->reply_field[i] && u->field_src[sel->reply_field[i] - el->fields] == mf)
						break;
				if (i == sel->n_exprs) {
					diag_error(r->d, sel->loc, "INSERT INTO reply does not give response field '%s' of method '%s' (the client decodes every field)",
						   mf->name, m->name);
					size = -1;
					continue;
				}
				if (!type_equal(mf->type, sel->reply_field[i]->type)) {
					char a[32], b[32];
					diag_error(r->d, sel->exprs[i]->loc, "type mismatch: RESPONSE field '%s' of element '%s' is %s but response field '%s' of method '%s' is %s",
						   sel->reply_field[i]->name, el->name,
						   type_name(sel->reply_field[i]->type, a, sizeof(a)), mf->name, m->name,
						   type_name(mf->type, b, sizeof(b)));
					size = -1;
				}
				sel->reply_off[i] = response_offset(m, k);
			}
			for (size_t i = 0; size >= 0 && i < sel->n_exprs; i++) {
				const struct field_decl *sf = sel->reply_field[i] ? u->field_src[sel->reply_field[i] - el->fields] : NULL;
				size_t k;
				for (k = 0; sf && k < m->n_resp && &m->resp[k] != sf; k++)
					;
				if (sf && k == m->n_resp) {
					diag_error(r->d, sel->exprs[i]->loc, "method '%s' has no response field '%s' (RESPONSE field '%s' of element '%s')",
						   m->name, sf->name, sel->reply_field[i]->name, el->name);
					size = -1;
				}
			}
			if (size > REPLY_BODY_MAX)
				diag_error(r->d, sel->loc, "the response of method '%s' has %d bytes of fields; the network builds replies of at most %d",
					   m->name, size, REPLY_BODY_MAX);
			sel->reply_size = size;
		}
	}
}

static void resolve_use(struct resolver *r, struct chain_decl *c, struct chain_use *u, size_t index)
{
	struct element_decl *el = NULL;

	for (size_t i = 0; i < r->prog->n_elements; i++)
		if (strcmp(r->prog->elements[i]->name, u->element.name) == 0)
			el = r->prog->elements[i];
	if (!el) {
		diag_error(r->d, u->element.loc, "unknown element '%s'", u->element.name);
		return;
	}
	for (size_t i = 0; i < index; i++) {
		if (c->uses[i].elem == el) {
			diag_error(r->d, u->element.loc, "element '%s' appears twice in chain '%s' (v0: each element at most once)",
				   el->name, c->name);
			return;
		}
	}
	u->elem = el;
	u->field_src = arena_alloc(r->a, sizeof(*u->field_src) * (el->n_fields + 1));
	u->param_value = arena_alloc(r->a, sizeof(*u->param_value) * (el->n_params + 1));
	bool *bound = arena_alloc(r->a, el->n_fields + el->n_params + 1);

	for (size_t i = 0; i < u->n_binds; i++) {
		struct binding *b = &u->binds[i];
		size_t fi, pi;
		for (size_t k = 0; k < i; k++)
			if (strcmp(u->binds[k].target.name, b->target.name) == 0)
				diag_error(r->d, b->loc, "'%s' is bound twice", b->target.name);
		for (fi = 0; fi < el->n_fields && strcmp(el->fields[fi].name, b->target.name); fi++)
			;
		for (pi = 0; pi < el->n_params && strcmp(el->params[pi].name, b->target.name); pi++)
			;
		if (fi < el->n_fields) {
			bound[fi] = true;
			if (b->value) {
				diag_error(r->d, b->value->loc, "field '%s' must be bound to a service field, not a literal (parameters take literals)",
					   b->target.name);
				continue;
			}
			bind_field(r, c, u, fi, b->source.name, b->source.loc, true);
		} else if (pi < el->n_params) {
			if (!b->value) {
				diag_error(r->d, b->source.loc, "parameter '%s' needs a literal value, not '%s'",
					   b->target.name, b->source.name);
				continue;
			}
			struct scope s = { .el = el };
			rs_resolve_expr(r, &s, b->value);
			if (rs_check_assign(r, el->params[pi].type, b->value,
					 arena_printf(r->a, "parameter '%s'", b->target.name)))
				u->param_value[pi] = b->value;
		} else {
			diag_error(r->d, b->target.loc, "element '%s' has no field or parameter '%s'",
				   el->name, b->target.name);
		}
	}
	for (size_t fi = 0; fi < el->n_fields; fi++)
		if (!bound[fi])
			bind_field(r, c, u, fi, el->fields[fi].name, u->element.loc, false);
	for (size_t pi = 0; pi < el->n_params; pi++)
		if (!u->param_value[pi])
			u->param_value[pi] = el->params[pi].def;
	for (size_t i = 0; i < el->n_method_names; i++) {
		struct expr *lit = el->method_names[i];
		for (size_t m = 0; m < c->svc->n_methods; m++)
			if (strcmp(c->svc->methods[m].name, lit->str) == 0)
				lit->enum_value = c->svc->methods[m].id;
		if (lit->enum_value < 0)
			diag_error(r->d, lit->loc, "'%s' is not a method of service '%s'", lit->str, c->svc->name);
	}
	check_responses(r, c, u);
}

static struct chain_decl *resolve_chain(struct resolver *r)
{
	struct program *prog = r->prog;

	if (prog->n_chains == 0) {
		diag_error(r->d, prog->end, "no CREATE CHAIN in this file: nothing to compile");
		return NULL;
	}
	for (size_t i = 1; i < prog->n_chains; i++)
		diag_error(r->d, prog->chains[i]->loc, "only one CREATE CHAIN per file in v0 (the first is '%s')",
			   prog->chains[0]->name);
	struct chain_decl *c = prog->chains[0];
	check_ident(r, c->name, c->loc, "chain");
	for (size_t i = 0; i < prog->n_services; i++)
		if (strcmp(prog->services[i]->name, c->service.name) == 0)
			c->svc = prog->services[i];
	if (!c->svc) {
		diag_error(r->d, c->service.loc, "unknown service '%s'", c->service.name);
		return NULL;
	}
	for (size_t i = 0; i < c->n_uses; i++)
		resolve_use(r, c, &c->uses[i], i);
	return c;
}

struct chain_decl *resolve_program(struct arena *a, struct diag *d, struct program *prog)
{
	struct resolver r = { a, d, prog };

	for (size_t i = 0; i < prog->n_services; i++) {
		resolve_service(&r, prog->services[i]);
		for (size_t k = 0; k < i; k++)
			if (strcmp(prog->services[k]->name, prog->services[i]->name) == 0)
				diag_error(d, prog->services[i]->loc, "duplicate service '%s'", prog->services[i]->name);
	}
	for (size_t i = 0; i < prog->n_elements; i++) {
		resolve_element(&r, prog->elements[i]);
		for (size_t k = 0; k < i; k++)
			if (strcmp(prog->elements[k]->name, prog->elements[i]->name) == 0)
				diag_error(d, prog->elements[i]->loc, "duplicate element '%s'", prog->elements[i]->name);
	}
	return resolve_chain(&r);
}
