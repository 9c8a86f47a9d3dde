/* The syntax tree of one .adn file. Nodes live in the compilation's arena.
 * The parser fills the syntactic parts; resolve.c fills the fields marked
 * "resolved" (types, what each name refers to). */
#ifndef ADNC_AST_H
#define ADNC_AST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "diag.h"

enum type_kind {
	TY_NONE, /* unknown (after an error) */
	TY_INT8, TY_INT16, TY_INT32, TY_INT64,
	TY_UINT8, TY_UINT16, TY_UINT32, TY_UINT64,
	TY_BOOL, TY_CHAR, TY_BYTES, TY_TIMESTAMP, TY_REAL,
	TY_METHOD, TY_KIND, TY_STATUS, /* meta types of the frame header */
	/* types of literals, converted to the type their context wants */
	TY_INT_LITERAL, TY_STRING_LITERAL,
};

struct type {
	enum type_kind kind;
	int len; /* TY_CHAR: n; TY_STRING_LITERAL: its length */
};

struct name_ref {
	const char *name;
	struct loc loc;
};

struct field_decl { /* `name type` in a service method or an element */
	const char *name;
	struct type type;
	struct loc loc;
	bool response; /* element: `RESPONSE name type`, a field of the response */
};
struct expr;

struct method_decl {
	const char *name;
	struct loc loc;
	int id; /* 1..N */
	struct field_decl *req;
	size_t n_req, cap_req;
	struct field_decl *resp;
	size_t n_resp, cap_resp;
};

struct service_decl {
	const char *name;
	struct loc loc;
	int port; /* 0 if none */
	struct loc port_loc;
	bool udp; /* TRANSPORT UDP (default TCP) */
	struct loc transport_loc;
	struct method_decl *methods;
	size_t n_methods, cap_methods;
};

/* ---- expressions ---- */

enum expr_kind {
	EX_INT, EX_REAL, EX_STRING, EX_BOOL,
	EX_NAME,   /* [qualifier.]name */
	EX_CALL,   /* name() */
	EX_UNARY,  /* op: TOK_MINUS or 'N' (NOT) */
	EX_BINARY, /* op: a TOK_* operator, or 'A' (AND), 'O' (OR), 'L' (LIKE) */
	EX_CASE,   /* CASE WHEN args[2i] THEN args[2i+1] ... ELSE rhs END */
};

enum ref_kind { /* resolved: what an EX_NAME names */
	REF_NONE,
	REF_FIELD,  /* an input field of the element (.field) */
	REF_PARAM,  /* a parameter (.param) */
	REF_META,   /* a header column (.meta) */
	REF_COLUMN, /* a column of a joined table (.join, .column) */
};

enum meta_col { META_RPC_ID, META_METHOD, META_KIND, META_STATUS, META_LEN };

struct param_decl;
struct column_decl;
struct join_clause;

struct expr {
	enum expr_kind kind;
	struct loc loc;
	uint64_t ival;     /* EX_INT, EX_BOOL; EX_REAL: 32.32 fixed point */
	const char *text;  /* the literal as written (EX_INT, EX_REAL) */
	const char *str;   /* EX_STRING, not NUL-padded */
	int str_len;
	const char *qual;  /* EX_NAME: qualifier or NULL */
	struct loc qual_loc;
	const char *name;  /* EX_NAME, EX_CALL */
	struct expr **args; /* EX_CALL */
	size_t n_args, cap_args;
	int op;
	struct expr *lhs, *rhs; /* EX_UNARY uses lhs */
	int depth;         /* of the tree below and including this node (parse.c) */

	/* resolved */
	struct type type;
	enum ref_kind ref;
	struct field_decl *field;
	struct param_decl *param;
	enum meta_col meta;
	struct join_clause *join;
	struct column_decl *column;
	bool int_to_real; /* integer value used as REAL: shift by 32 */
	int enum_value;   /* string literal compared with METHOD/KIND/STATUS: its value; -1 if none */
	int func;         /* EX_CALL: enum builtin_func */
	int like_len;     /* EX_BINARY 'L': bytes of the prefix; -1: exact match */
	const char *like_str; /* the pattern without '%' and escapes */
	int resp_off;     /* REF_FIELD of a RESPONSE field: its offset in the response
			     body of the statement's method (set per chain) */
};

enum builtin_func { FN_NONE, FN_RANDOM, FN_NOW, FN_HASH, FN_MIN, FN_MAX, FN_LOG2 };

/* ---- elements ---- */

struct param_decl {
	const char *name;
	struct type type;
	struct loc loc;
	struct expr *def; /* DEFAULT literal */
};

struct column_decl {
	const char *name;
	struct type type;
	struct loc loc;
	bool primary_key;
	struct expr *def; /* DEFAULT literal of a value column, or NULL */
};

enum table_kind { TABLE_HASH, TABLE_LRU, TABLE_ARRAY, TABLE_LOG, TABLE_PERCPU_HASH,
		  TABLE_PERCPU_ARRAY };

/* How rows of one table combine when the state of two instances is merged
 * (scale-in): the loader reads it from the merge= meta lines. */
enum merge_policy { MERGE_UNION, MERGE_SUM, MERGE_MAX, MERGE_MIN, MERGE_LAST };

struct table_decl {
	const char *name;
	struct loc loc;
	const char *src_text; /* the statement, for the generated comment */
	enum table_kind kind;
	struct loc kind_loc;
	uint64_t capacity; /* 0 if missing */
	struct loc capacity_loc;
	struct column_decl *cols;
	size_t n_cols, cap_cols;
	enum merge_policy merge;
	struct loc merge_loc;
	struct name_ref merge_ts; /* MERGE LAST <column> */
};

struct row_values { /* one `( ... )` of an INSERT ... VALUES */
	struct expr **vals;
	size_t n_vals, cap_vals;
	struct loc loc;
};

struct rows_insert { /* INSERT INTO t [(cols)] VALUES (...), ... in the body */
	struct name_ref table;
	struct name_ref *cols;
	size_t n_cols, cap_cols;
	bool has_cols;
	struct row_values *rows;
	size_t n_rows, cap_rows;
	struct loc loc;
	/* resolved */
	struct table_decl *tab;
	struct column_decl **col_of; /* per value position */
};

struct join_clause {
	struct name_ref table;
	struct expr *on;
	struct table_decl *tab;       /* resolved */
	struct expr **key_vals;       /* resolved: value of each key column, in key order */
	size_t n_keys;
	int index;                    /* position among the joins of its SELECT */
};

enum stmt_kind {
	ST_INSERT, /* INSERT [OR REPLACE] INTO target SELECT ... FROM input ... */
	ST_UPDATE, /* UPDATE target SET c = e, ... [FROM input JOIN ...] [WHERE ...] */
	ST_DELETE, /* DELETE FROM target WHERE key = v ... */
	ST_ROUTE,  /* ROUTE TO REPLICA exprs[0] [FROM input JOIN ...] [WHERE ...] */
	ST_REPLY,  /* INSERT INTO reply SELECT v AS f, ... (resolve turns the ST_INSERT into it) */
};

struct set_clause { /* c = value in UPDATE */
	struct name_ref col;
	struct expr *value;
	/* resolved */
	struct column_decl *column; /* UPDATE of a table */
	struct field_decl *field;   /* UPDATE input */
	int atomic;                 /* 0, or '+' / '-': c = c +/- delta on a shared row */
	struct expr *delta;
};

/* One statement of an ON block. (The name is historical: it started as
 * INSERT INTO target SELECT ... FROM input [JOIN ...] [WHERE ...].) */
struct select_insert {
	enum stmt_kind kind;
	bool replace;            /* INSERT OR REPLACE */
	struct set_clause *sets; /* ST_UPDATE */
	size_t n_sets, cap_sets;
	struct name_ref target;
	struct loc loc;
	int line;
	const char *src_text;
	bool star;
	struct expr **exprs;
	size_t n_exprs, cap_exprs;
	struct name_ref from;
	struct join_clause *joins;
	size_t n_joins, cap_joins;
	struct expr *where;
	/* resolved */
	bool to_output;
	struct table_decl *log; /* target log table, else NULL */
	struct table_decl *table; /* target state table (INSERT/UPDATE/DELETE), else NULL */
	bool to_input;            /* UPDATE input: rewrites request fields */
	struct join_clause target_join; /* UPDATE/DELETE: the target row, looked up by key */
	struct expr **filters;    /* UPDATE/DELETE: WHERE conjuncts that are not the key */
	size_t n_filters, cap_filters;
	/* INSERT INTO reply SELECT v AS f, ...: the network answers the request */
	struct name_ref *as_names; /* per expr: `AS name` (name NULL if none) */
	bool to_reply;
	struct field_decl **reply_field; /* per expr: the element's RESPONSE field it gives */
	int *reply_off;            /* per expr: offset in the response body (per chain) */
	int reply_size;            /* fixed size of the method's response (per chain) */
	/* the method a statement that answers or reads response fields is about:
	 * the `method = 'name'` conjunct of its WHERE (NULL if none) */
	struct expr *resp_method;
	struct expr **resp_reads;  /* RESPONSE fields read by the statement */
	size_t n_resp_reads, cap_resp_reads;
};

enum direction { DIR_REQUEST, DIR_RESPONSE };

struct on_block {
	bool present;
	struct loc loc;
	struct select_insert *stmts;
	size_t n_stmts, cap_stmts;
};

struct element_decl {
	const char *name;
	struct loc loc;
	int line;
	const char *src_text; /* the header line up to BEGIN */
	struct field_decl *fields;
	size_t n_fields, cap_fields;
	struct param_decl *params;
	size_t n_params, cap_params;
	bool in_app; /* IMPLEMENTED IN APP: no eBPF body; the RPC library runs it */
	struct loc in_app_loc;
	const char *drop_status; /* NULL: ABORTED */
	struct loc drop_loc;
	int drop_code; /* resolved */
	struct table_decl *tables;
	size_t n_tables, cap_tables;
	struct rows_insert *inserts;
	size_t n_inserts, cap_inserts;
	struct on_block on[2]; /* DIR_REQUEST, DIR_RESPONSE */
	/* resolved */
	struct field_decl **reads;  /* fields read, in order of first use */
	size_t n_reads, cap_reads;
	struct field_decl **writes; /* fields written (UPDATE input), in order */
	size_t n_writes, cap_writes;
	bool routes;                /* has a ROUTE TO REPLICA (ON REQUEST) */
	struct loc route_loc;
	bool answers;               /* has an INSERT INTO reply (ON REQUEST) */
	struct expr **method_names; /* 'name' literals compared with METHOD: checked per chain */
	size_t n_method_names, cap_method_names;
};

/* ---- chain ---- */

struct binding {
	struct name_ref target; /* element field or param */
	struct loc loc;
	struct name_ref source; /* service field (if value is NULL) */
	struct expr *value;     /* literal (param binding) */
};

/* A placement constraint written after an element of a chain. */
enum place_rule {
	RULE_AT_SENDER,   /* AT SENDER: co-located with the client */
	RULE_AT_RECEIVER, /* AT RECEIVER: co-located with the server */
	RULE_NOT_IN_APP,  /* NOT IN APP (or IN KERNEL): never inside the app's process */
	RULE_IN_APP,      /* IN APP: in the RPC library */
};

struct place_constraint {
	enum place_rule rule;
	struct loc loc;
};

struct chain_use {
	struct name_ref element;
	struct binding *binds;
	size_t n_binds, cap_binds;
	struct place_constraint *rules;
	size_t n_rules, cap_rules;
	/* resolved */
	struct element_decl *elem;
	const struct field_decl **field_src; /* per element field: the service's request field
						(RESPONSE fields: a response field of that name) */
	struct expr **param_value;           /* per param: chain override or DEFAULT */
};

struct chain_decl {
	const char *name;
	struct loc loc;
	struct name_ref service;
	struct chain_use *uses;
	size_t n_uses, cap_uses;
	struct service_decl *svc; /* resolved */
};

struct program {
	struct loc end;       /* end of file, for "missing" errors */
	const char *file;     /* as given */
	const char *basename; /* for generated comments */
	struct service_decl **services;
	size_t n_services, cap_services;
	struct element_decl **elements;
	size_t n_elements, cap_elements;
	struct chain_decl **chains;
	size_t n_chains, cap_chains;
};

/* helpers shared by the stages (types.c) */
const char *type_name(struct type t, char *buf, size_t n); /* "CHAR(16)" */
int type_size(struct type t);   /* bytes on the wire/in C; 0 for BYTES */
int type_align(struct type t);  /* C alignment in a BPF struct */
bool type_is_integer(struct type t);  /* INTn/UINTn, TIMESTAMP */
bool type_is_signed(struct type t);
bool type_is_numeric(struct type t);  /* integer, REAL, literal integer */
bool type_equal(struct type a, struct type b);
const char *status_name(int code);    /* "PERMISSION_DENIED" */
int status_code(const char *name);    /* -1 if unknown; case-insensitive */

#endif
