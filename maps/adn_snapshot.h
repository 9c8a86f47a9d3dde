/* SPDX-License-Identifier: MIT */
/* Snapshots of a chain's state tables: taken from the pinned maps (batch
 * lookups), written to / read from the file format of
 * docs/snapshot-format.md, restored into a running chain with schema
 * evolution, merged by each table's merge policy, and applied as a delta
 * (migrate, hot update). */
#ifndef ADN_SNAPSHOT_H
#define ADN_SNAPSHOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "adn_row.h"

struct adn_err;
struct adn_meta;

#define ADN_SNAP_MAGIC "ADNSNAP\0"
#define ADN_SNAP_VERSION 1

enum adn_merge {
	ADN_MERGE_UNION, /* rows of every snapshot; same key: the later snapshot's row */
	ADN_MERGE_SUM,   /* same key: integer and REAL columns added, TIMESTAMPs max */
	ADN_MERGE_MAX,   /* same key: each number / time column the largest */
	ADN_MERGE_MIN,   /* same key: each number / time column the smallest */
	ADN_MERGE_LAST,  /* same key: the row whose timestamp column is newest */
	ADN_MERGE_FIRST, /* parameters: the first snapshot's row */
};

struct adn_snap_col {
	char name[64];
	char type[64]; /* "uint32", "char(16)", "timestamp", "real", "bool", "enum32", "bytes(8)" */
	enum adn_col_kind kind;
	uint32_t offset, size;
	bool is_signed, is_bool;
	uint16_t def; /* value column with a DEFAULT: 1 + its offset in the table's defs */
};

struct adn_snap_table {
	char name[128]; /* "acl.ac_tab", or "adn_params" */
	char rel[160];  /* pin path under the chain dir: "acl/ac_tab" */
	uint32_t map_type, max_entries, key_size, value_size, map_flags;
	uint32_t ncpus; /* value copies per row: 1, or the CPUs of a per-CPU map */
	int nkey, nval;
	struct adn_snap_col key[ADN_MAX_COLS], val[ADN_MAX_COLS];
	enum adn_merge merge;
	char merge_col[64]; /* ADN_MERGE_LAST: the TIMESTAMP column */
	/* column DEFAULTs (.adn.meta default= lines; not part of the schema
	 * text nor of the file): per column with one, its text, NUL, then
	 * its bytes (size of the column) */
	char defs[1024];
	uint32_t defs_used;
	uint64_t nrows, cap;
	uint8_t *keys; /* nrows * key_size */
	uint8_t *vals; /* nrows * value_size * ncpus, copies packed */
};

struct adn_snap {
	char chain[64];
	uint32_t layout;      /* FNV-1a 32 of the schema text of every table */
	uint32_t wire_layout; /* layout= of .adn.meta (0: unknown) */
	uint64_t created_ns;  /* CLOCK_REALTIME */
	int64_t mono_offset;  /* REALTIME - MONOTONIC of the host that took it */
	int n;
	struct adn_snap_table *t;
};

static inline size_t adn_snap_row_vsize(const struct adn_snap_table *t)
{
	return (size_t)t->value_size * t->ncpus;
}

/* The state tables of an attached chain: every pinned HASH / LRU_HASH /
 * ARRAY / per-CPU map under <element>/<table>, and adn_params. */
int adn_snap_take(struct adn_snap *s, const char *chain, struct adn_err *err);
/* Only the schemas (no rows): to compare layouts. */
int adn_snap_schema(struct adn_snap *s, const char *chain, struct adn_err *err);
void adn_snap_free(struct adn_snap *s);

int adn_snap_write(const struct adn_snap *s, const char *path, struct adn_err *err);
/* Reads and checks everything (magic, version, CRCs, lengths, schema,
 * layout hash) before returning. */
int adn_snap_read(struct adn_snap *s, const char *path, struct adn_err *err);

/* Merge policies and column defaults of a chain's tables from its
 * .adn.meta merge= and default= lines. */
int adn_snap_apply_meta(struct adn_snap *s, const struct adn_meta *meta, struct adn_err *err);
/* The default= lines of one table (name "element.table") into t: what a
 * conversion puts into a value column the old rows lack. */
int adn_snap_table_apply_defaults(struct adn_snap_table *t, const struct adn_meta *meta,
				  struct adn_err *err);

/* A value column's DEFAULT as text ("7", "a b"), or NULL; its bytes
 * (c->size of them) follow the text's NUL. */
static inline const char *adn_snap_col_default(const struct adn_snap_table *t,
					       const struct adn_snap_col *c)
{
	return c->def ? t->defs + c->def - 1 : NULL;
}

/* Schema text of one table (what the layout hash covers). */
void adn_snap_table_schema(const struct adn_snap_table *t, char *buf, size_t len);
uint32_t adn_snap_layout_hash(const struct adn_snap *s);

/* Writes the snapshot into the attached chain: for each table of the chain
 * that the snapshot has, the table ends up holding exactly the snapshot's
 * rows (converted: added columns get their DEFAULT from the chain's
 * .adn.meta, else zero; removed columns dropped; a changed
 * type is refused). Everything is checked and converted in memory first;
 * nothing is written unless all tables convert. notes (may be NULL) gets
 * one line per dropped column / table. */
struct adn_restore_opts {
	void (*note)(void *ctx, const char *line);
	void *ctx;
	/* when not NULL, set after a restore: the tables written (the file's
	 * tables the chain has) and their rows */
	int *tables;
	uint64_t *rows;
};
int adn_snap_restore(const struct adn_snap *s, const char *chain,
		     const struct adn_restore_opts *opts, struct adn_err *err);

/* out = merge of in[0..n) by each table's policy. */
int adn_snap_merge(struct adn_snap *out, const struct adn_snap *in, int n, struct adn_err *err);

/* Adds the change from `before` to `after` (two snapshots of one source
 * chain) into the live tables of chain `target`, by each table's policy.
 * SUM columns are added in the kernel with atomic adds, so concurrent
 * increments by the target's programs are not lost. before may be NULL
 * (everything in after is new). */
int adn_snap_apply_delta(const struct adn_snap *before, const struct adn_snap *after,
			 const char *target, struct adn_err *err);

/* Checks that every table of `from` that `to` also has converts (no
 * changed column type). */
int adn_snap_check_compat(const struct adn_snap *from, const struct adn_snap *to,
			  struct adn_err *err);

/* Appends every row of the map behind fd to t (batch lookups). */
int adn_snap_read_rows_fd(int fd, struct adn_snap_table *t, struct adn_err *err);

/* Table-level forms used by hot update (maps not pinned yet): the live
 * table l's map is fd. */
int adn_snap_copy_fd(const struct adn_snap_table *from, const struct adn_snap_table *l, int fd,
		     struct adn_err *err);
int adn_snap_delta_fd(const struct adn_snap_table *before, const struct adn_snap_table *after,
		      const struct adn_snap_table *l, int fd, struct adn_err *err);
/* A table's schema from a row type (BTF) and map parameters; no rows. */
void adn_snap_table_init(struct adn_snap_table *t, const struct adn_row_type *rt,
			 const char *name, const char *rel, uint32_t map_type,
			 uint32_t max_entries, uint32_t key_size, uint32_t value_size,
			 uint32_t map_flags);

uint32_t adn_crc32(const void *buf, size_t len);

#endif
