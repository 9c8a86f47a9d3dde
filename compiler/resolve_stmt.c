/* Semantic checks of the statements that change state: INSERT INTO a state
 * table, UPDATE of a table or of input (a rewrite of request fields), and
 * DELETE. docs/language.md "Writing state" and "Rewriting fields". */
#include <string.h>
#include <strings.h>

#include "resolve_int.h"
#include "tokenize.h"

static bool is_array(const struct table_decl *t)
{
	return t->kind == TABLE_ARRAY || t->kind == TABLE_PERCPU_ARRAY;
}

static bool is_percpu(const struct table_decl *t)
{
	return t->kind == TABLE_PERCPU_ARRAY || t->kind == TABLE_PERCPU_HASH;
}

void rs_split_key(struct resolver *r, struct join_clause *j, struct expr *cond,
		  struct expr ***filters, size_t *n_filters, size_t *cap_filters, const char *what)
{
	size_t n_keys = 0;
	for (size_t i = 0; i < j->tab->n_cols; i++)
		n_keys += j->tab->cols[i].primary_key;
	j->n_keys = n_keys;
	j->key_vals = arena_alloc(r->a, sizeof(*j->key_vals) * (n_keys ? n_keys : 1));

	struct expr **conj = NULL;
	size_t n_conj = 0, cap_conj = 0;
	if (cond)
		rs_flatten_and(r, cond, &conj, &n_conj, &cap_conj);
	for (size_t i = 0; i < n_conj; i++) {
		struct expr *c = conj[i];
		if (c->type.kind == TY_NONE && c->kind != EX_BINARY)
			continue;
		struct expr *col = NULL, *val = NULL;
		if (c->kind == EX_BINARY && c->op == TOK_EQ) {
			if (c->lhs->ref == REF_COLUMN && c->lhs->join == j && !rs_mentions_join(c->rhs, j)) {
				col = c->lhs;
				val = c->rhs;
			} else if (c->rhs->ref == REF_COLUMN && c->rhs->join == j && !rs_mentions_join(c->lhs, j)) {
				col = c->rhs;
				val = c->lhs;
			}
		}
		size_t k = 0;
		if (col && col->column->primary_key) {
			for (size_t ci = 0; ci < j->tab->n_cols && &j->tab->cols[ci] != col->column; ci++)
				k += j->tab->cols[ci].primary_key;
		}
		bool is_key = col && col->column->primary_key && !j->key_vals[k];
		if (is_key) {
			j->key_vals[k] = val;
			continue;
		}
		if (filters) { /* UPDATE/DELETE: any other test filters the row */
			ARENA_PUSH(r->a, *filters, *n_filters, *cap_filters, c);
			continue;
		}
		if (!col) {
			if (c->lhs && c->rhs && (c->lhs->type.kind == TY_NONE || c->rhs->type.kind == TY_NONE))
				continue; /* already reported */
			diag_error(r->d, c->loc, "JOIN ON must compare key columns of '%s' with values (%s.key = input.field AND ...)",
				   j->table.name, j->table.name);
		} else if (!col->column->primary_key) {
			diag_error(r->d, col->loc, "column '%s' is not a key of table '%s'; a JOIN looks rows up by key (move this test to WHERE)",
				   col->column->name, j->table.name);
		} else {
			diag_error(r->d, col->loc, "key column '%s' is compared twice in JOIN ON", col->column->name);
		}
	}
	size_t k = 0;
	for (size_t ci = 0; ci < j->tab->n_cols; ci++) {
		if (!j->tab->cols[ci].primary_key)
			continue;
		if (!j->key_vals[k])
			diag_error(r->d, cond ? cond->loc : j->table.loc,
				   "%s does not give key column '%s' of table '%s'%s",
				   what, j->tab->cols[ci].name, j->table.name,
				   filters ? " (a row is found by its key: WHERE t.key = value AND ...)" : "");
		else
			rs_check_assign(r, j->tab->cols[ci].type, j->key_vals[k],
					arena_printf(r->a, "key column '%s' of '%s'", j->tab->cols[ci].name, j->table.name));
		k++;
	}
}

/* c = c + d or c = c - d on a row other CPUs share: an atomic add. */
static void detect_atomic(const struct table_decl *t, struct join_clause *target, struct set_clause *c)
{
	const struct expr *v = c->value;
	int size = type_size(c->column->type);
	if (is_percpu(t) || !type_is_integer(c->column->type) || (size != 4 && size != 8))
		return;
	if (v->kind != EX_BINARY || (v->op != TOK_PLUS && v->op != TOK_MINUS))
		return;
	if (v->lhs->kind != EX_NAME || v->lhs->ref != REF_COLUMN || v->lhs->join != target ||
	    v->lhs->column != c->column || v->rhs->type.kind == TY_REAL || v->rhs->int_to_real)
		return;
	c->atomic = v->op == TOK_PLUS ? '+' : '-';
	c->delta = v->rhs;
}

static void resolve_sets_table(struct resolver *r, struct scope *s, struct select_insert *sel)
{
	struct table_decl *t = sel->table;
	for (size_t i = 0; i < sel->n_sets; i++) {
		struct set_clause *c = &sel->sets[i];
		rs_resolve_expr(r, s, c->value);
		c->column = rs_find_column(t, c->col.name);
		if (!c->column) {
			diag_error(r->d, c->col.loc, "unknown column '%s' in table '%s'", c->col.name, t->name);
			continue;
		}
		if (c->column->primary_key) {
			diag_error(r->d, c->col.loc, "cannot SET key column '%s' of table '%s' (delete the row and insert another)",
				   c->col.name, t->name);
			continue;
		}
		for (size_t k = 0; k < i; k++)
			if (sel->sets[k].column == c->column)
				diag_error(r->d, c->col.loc, "column '%s' is set twice", c->col.name);
		if (rs_check_assign(r, c->column->type, c->value,
				    arena_printf(r->a, "column '%s' of '%s'", c->col.name, t->name)))
			detect_atomic(t, &sel->target_join, c);
	}
}

/* UPDATE input SET f = value: the request's field f changes on its way. */
static void resolve_sets_input(struct resolver *r, struct scope *s, struct select_insert *sel)
{
	struct element_decl *el = s->el;
	if (s->dir == DIR_RESPONSE) {
		diag_error(r->d, sel->target.loc, "UPDATE input is only possible ON REQUEST (a response carries only its header in the network)");
		return;
	}
	sel->to_input = true;
	for (size_t i = 0; i < sel->n_sets; i++) {
		struct set_clause *c = &sel->sets[i];
		rs_resolve_expr(r, s, c->value);
		c->field = rs_find_elem_field(el, c->col.name);
		if (!c->field) {
			diag_error(r->d, c->col.loc, "unknown field '%s' in input of element '%s' (only declared fields can be rewritten; the frame header cannot)",
				   c->col.name, el->name);
			continue;
		}
		if (c->field->type.kind == TY_BYTES) {
			diag_error(r->d, c->col.loc, "BYTES field '%s' cannot be rewritten (only fixed-size fields travel in the network header)",
				   c->col.name);
			continue;
		}
		for (size_t k = 0; k < i; k++)
			if (sel->sets[k].field == c->field)
				diag_error(r->d, c->col.loc, "field '%s' is set twice", c->col.name);
		rs_check_assign(r, c->field->type, c->value, arena_printf(r->a, "field '%s'", c->col.name));
		bool seen = false;
		for (size_t k = 0; k < el->n_writes; k++)
			seen |= el->writes[k] == c->field;
		if (!seen)
			ARENA_PUSH(r->a, el->writes, el->n_writes, el->cap_writes, c->field);
	}
	if (sel->where) {
		rs_resolve_expr(r, s, sel->where);
		rs_expect_bool(r, sel->where, "WHERE");
	}
}

static void resolve_insert_table(struct resolver *r, struct scope *s, struct select_insert *sel,
				 struct table_decl *t)
{
	sel->table = t; /* values and WHERE are resolved by resolve_select */
	if (is_array(t) && !sel->replace) {
		diag_error(r->d, sel->target.loc, "rows of ARRAY table '%s' always exist: write INSERT OR REPLACE INTO %s or UPDATE %s",
			   t->name, t->name, t->name);
		return;
	}
	if (sel->star) {
		diag_error(r->d, sel->loc, "INSERT INTO table '%s' needs one value per column, not SELECT *", t->name);
		return;
	}
	if (sel->n_exprs != t->n_cols) {
		diag_error(r->d, sel->exprs[0]->loc, "table '%s' has %zu columns but the SELECT gives %zu values",
			   t->name, t->n_cols, sel->n_exprs);
		return;
	}
	for (size_t i = 0; i < t->n_cols; i++) {
		const char *what = arena_printf(r->a, "column '%s' of '%s'", t->cols[i].name, t->name);
		struct expr *v = sel->exprs[i];
		if (v->kind == EX_STRING && rs_is_meta_enum(t->cols[i].type)) {
			rs_resolve_enum_literal(r, s, t->cols[i].type, v);
			continue;
		}
		rs_check_assign(r, t->cols[i].type, v, what);
	}
}

/* ROUTE TO REPLICA value: the request goes to replica value % n of the
 * chain's replica set (docs/language.md "Load balancing"). */
static void resolve_route(struct resolver *r, struct scope *s, struct select_insert *sel)
{
	struct element_decl *el = s->el;
	struct expr *v = sel->exprs[0];

	rs_resolve_expr(r, s, v);
	if (sel->where) {
		rs_resolve_expr(r, s, sel->where);
		rs_expect_bool(r, sel->where, "WHERE");
	}
	if (s->dir == DIR_RESPONSE) {
		diag_error(r->d, sel->loc, "ROUTE TO REPLICA is only possible ON REQUEST (a response goes back the way its request came)");
		return;
	}
	if (el->routes) {
		diag_error(r->d, sel->loc, "element '%s' has a second ROUTE TO REPLICA (line %d has the first); an element routes once",
			   el->name, el->route_loc.line);
		return;
	}
	if (v->type.kind != TY_NONE && !type_is_integer(v->type) && v->type.kind != TY_INT_LITERAL)
		diag_error(r->d, v->loc, "ROUTE TO REPLICA needs an integer (e.g. hash(input.object_id)), not %s",
			   rs_tname(r, v->type));
	if (rs_find_table(el, "replicas"))
		diag_error(r->d, rs_find_table(el, "replicas")->loc, "table 'replicas' of element '%s': the name is taken by the replica set of its ROUTE TO REPLICA",
			   el->name);
	el->routes = true;
	el->route_loc = sel->loc;
}

void rs_resolve_write(struct resolver *r, struct scope *s, struct select_insert *sel)
{
	struct element_decl *el = s->el;
	if (sel->kind == ST_ROUTE) {
		resolve_route(r, s, sel);
		return;
	}
	if (sel->kind == ST_UPDATE && strcasecmp(sel->target.name, "input") == 0) {
		resolve_sets_input(r, s, sel);
		return;
	}
	struct table_decl *t = rs_find_table(el, sel->target.name);
	if (!t) {
		diag_error(r->d, sel->target.loc, "unknown table '%s' in element '%s'", sel->target.name, el->name);
		return;
	}
	if (sel->kind == ST_INSERT) {
		resolve_insert_table(r, s, sel, t);
		return;
	}
	if (t->kind == TABLE_LOG) {
		diag_error(r->d, sel->target.loc, "cannot %s log table '%s' (a log is append-only)",
			   sel->kind == ST_UPDATE ? "UPDATE" : "DELETE FROM", t->name);
		return;
	}
	if (sel->kind == ST_DELETE && is_array(t)) {
		diag_error(r->d, sel->target.loc, "cannot DELETE FROM ARRAY table '%s' (its rows always exist; UPDATE them to zero)",
			   t->name);
		return;
	}
	for (size_t i = 0; i < sel->n_joins; i++) {
		if (sel->joins[i].tab == t) {
			diag_error(r->d, sel->joins[i].table.loc, "table '%s' is the target of this %s; it cannot also be joined",
				   t->name, sel->kind == ST_UPDATE ? "UPDATE" : "DELETE");
			return;
		}
	}
	sel->table = t;
	sel->target.name = t->name;
	sel->target_join.table = sel->target;
	sel->target_join.tab = t;
	sel->target_join.index = -1;
	s->target = &sel->target_join;
	if (sel->where) {
		rs_resolve_expr(r, s, sel->where);
		rs_expect_bool(r, sel->where, "WHERE");
	}
	rs_split_key(r, &sel->target_join, sel->where, &sel->filters, &sel->n_filters, &sel->cap_filters,
		     sel->kind == ST_UPDATE ? "WHERE of UPDATE" : "WHERE of DELETE");
	if (sel->kind == ST_UPDATE)
		resolve_sets_table(r, s, sel);
}
