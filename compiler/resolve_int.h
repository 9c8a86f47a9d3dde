/* Shared by the parts of semantic analysis (resolve.c: names, types and
 * declarations; resolve_func.c: functions, CASE, LIKE; resolve_stmt.c: the
 * statements that write state and rewrite fields). Not a public interface. */
#ifndef ADNC_RESOLVE_INT_H
#define ADNC_RESOLVE_INT_H

#include "resolve.h"

struct resolver {
	struct arena *a;
	struct diag *d;
	struct program *prog;
};

/* Where an expression is being resolved. */
struct scope {
	struct element_decl *el;
	enum direction dir;
	struct select_insert *sel; /* NULL outside a SELECT */
	size_t n_visible_joins;    /* joins of sel that are in scope */
	struct join_clause *target; /* UPDATE/DELETE: the target row, if in scope */
};

const char *rs_tname(struct resolver *r, struct type t);
bool rs_check_assign(struct resolver *r, struct type to, struct expr *e, const char *what);
struct table_decl *rs_find_table(struct element_decl *el, const char *name);
struct column_decl *rs_find_column(struct table_decl *t, const char *name);
struct field_decl *rs_find_elem_field(struct element_decl *el, const char *name);
void rs_use_field(struct resolver *r, struct scope *s, struct expr *e, struct field_decl *f);
bool rs_is_meta_enum(struct type t);
void rs_resolve_enum_literal(struct resolver *r, struct scope *s, struct type t, struct expr *lit);
void rs_resolve_expr(struct resolver *r, struct scope *s, struct expr *e);
void rs_expect_bool(struct resolver *r, struct expr *e, const char *where);
void rs_flatten_and(struct resolver *r, struct expr *e, struct expr ***out, size_t *n, size_t *cap);
bool rs_mentions_join(const struct expr *e, const struct join_clause *j);

/* resolve_func.c */
void rs_resolve_call(struct resolver *r, struct expr *e);
void rs_resolve_case(struct resolver *r, struct scope *s, struct expr *e);
void rs_resolve_like(struct resolver *r, struct expr *e);
/* The result type of numbers combined by min/max/CASE; marks integers that
 * must become REAL. TY_NONE after an error (reported). */
struct type rs_numeric_result(struct resolver *r, struct expr **v, size_t n, const char *what);

/* resolve_stmt.c */
/* Splits `cond` (AND of conjuncts) into the key of table j (t.k = value, each
 * key column once) and the rest. With filters == NULL every conjunct must be
 * a key comparison (JOIN ON). Reports missing key columns with `what`. */
void rs_split_key(struct resolver *r, struct join_clause *j, struct expr *cond,
		  struct expr ***filters, size_t *n_filters, size_t *cap_filters, const char *what);
/* INSERT INTO <state table> SELECT, UPDATE, DELETE. */
void rs_resolve_write(struct resolver *r, struct scope *s, struct select_insert *sel);

#endif
