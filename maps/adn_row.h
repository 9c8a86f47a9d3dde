/* SPDX-License-Identifier: MIT */
/* Rows of adn tables as text, by BTF. This is the one place that turns
 * `col=value` text into key/value buffers and buffers back into text or
 * JSON; adnctl, adn-load (initial rows, parameter defaults) and the log
 * drainer all go through it. */
#ifndef ADN_ROW_H
#define ADN_ROW_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

struct btf;
struct adn_err;

enum adn_col_kind {
	ADN_COL_INT,    /* any integer; BTF_INT_BOOL prints true/false */
	ADN_COL_ENUM,   /* prints the enumerator short name */
	ADN_COL_STRING, /* char[N], NUL-padded */
	ADN_COL_REAL,   /* typedef adn_real_t: 32.32 fixed point */
	ADN_COL_TIME,   /* typedef adn_time_t: CLOCK_MONOTONIC ns */
	ADN_COL_OPAQUE, /* anything else: printed as hex, not parsed */
};

struct adn_col {
	char name[64];
	uint32_t base_id; /* type id with typedef/const/volatile removed */
	uint32_t offset;  /* bytes from the start of the struct */
	uint32_t size;    /* bytes */
	enum adn_col_kind kind;
	bool is_signed;
	bool is_bool;
};

#define ADN_MAX_COLS 64

/* The columns of one struct (or of one scalar, as a single column). */
struct adn_cols {
	const struct btf *btf;
	uint32_t size;
	int n;
	struct adn_col col[ADN_MAX_COLS];
};

enum adn_style { ADN_STYLE_TEXT, ADN_STYLE_JSON };

/* Columns of BTF type type_id: its members if it is a struct, else one
 * column named scalar_name. */
int adn_cols_from_type(struct adn_cols *cols, const struct btf *btf, uint32_t type_id,
		       const char *scalar_name, struct adn_err *err);
/* Replace the first "__" of every column name with "." (adn_params members
 * are <element>__<param>; users write element.param). */
void adn_cols_dot_names(struct adn_cols *cols);
int adn_cols_find(const struct adn_cols *cols, const char *name);
/* "a, b, c" */
void adn_cols_names(const struct adn_cols *cols, char *buf, size_t len);

/* One column: text -> bytes at base + col->offset. `where` names the table
 * in error messages ("acl.ac_tab"); NULL means the columns are parameters. */
int adn_col_parse(const struct adn_cols *cols, const struct adn_col *col, const char *text,
		  void *base, const char *where, struct adn_err *err);
/* One column's value (no name). */
void adn_col_print(FILE *out, const struct adn_cols *cols, const struct adn_col *col,
		   const void *base, enum adn_style style);

/* Every column: "a=1 b='x y'" (text) or "\"a\":1,\"b\":\"x y\"" (JSON, no
 * braces, so callers can add fields). *first tracks separators across calls. */
void adn_cols_print(FILE *out, const struct adn_cols *cols, const void *base,
		    enum adn_style style, bool *first);

/* Sum the integer and REAL columns of ncpus per-CPU copies (stride bytes
 * apart, as bpf_map_lookup_elem returns them) into out; others from CPU 0. */
void adn_cols_sum_percpu(const struct adn_cols *cols, const void *percpu, int ncpus,
			 size_t stride, void *out);

/* `col=value` assignments. */
struct adn_assign {
	char *col;
	char *value;
};

struct adn_assigns {
	int n;
	struct adn_assign *a;
};

/* Split a line: `a=1 b='x y' c='it''s'` (values single-quoted SQL style). */
int adn_assigns_from_line(struct adn_assigns *as, const char *line, struct adn_err *err);
/* One assignment per argument; the shell already split them, so the value is
 * the rest after the first '=' (unquoted if it is single-quoted). */
int adn_assigns_from_argv(struct adn_assigns *as, int argc, char *const argv[],
			  struct adn_err *err);
void adn_assigns_free(struct adn_assigns *as);

/* Assign into one struct; columns not named keep their bytes. where as for
 * adn_col_parse. */
int adn_cols_parse(const struct adn_cols *cols, const struct adn_assigns *as, void *base,
		   const char *where, struct adn_err *err);

/* A table: key columns + value columns. */
struct adn_row_type {
	char table[128]; /* "acl.ac_tab" */
	struct adn_cols key;
	struct adn_cols val;
};

/* key_id/val_id: the map's BTF key/value types. A map whose key is not a
 * struct (ARRAY maps must have an int key) takes its column names from
 * struct <element>__<table>_key if the BTF has one of the same size, else
 * the single key column is called "key" (value: "value"). */
int adn_row_type_init(struct adn_row_type *rt, const struct btf *btf, const char *table,
		      uint32_t key_id, uint32_t val_id, struct adn_err *err);

enum adn_row_mode {
	ADN_ROW_FULL,     /* insert: every key column required, values default 0 */
	ADN_ROW_KEY_ONLY, /* delete/lookup: key columns only */
};

/* Zeroes key and val, then assigns. */
int adn_row_parse(const struct adn_row_type *rt, const struct adn_assigns *as,
		  enum adn_row_mode mode, void *key, void *val, struct adn_err *err);
void adn_row_print(FILE *out, const struct adn_row_type *rt, const void *key,
		   const void *val, enum adn_style style);

#endif
