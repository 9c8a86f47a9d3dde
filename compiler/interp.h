/* The reference interpreter of the IR (docs/compiler.md "The reference
 * interpreter"): runs a compiled chain in userspace on frames given as bytes,
 * over in-memory tables that it models with the BPF maps' layout and rules.
 * It is the oracle of the differential tests (the kernel program and the
 * interpreter must agree on every verdict, rewrite, log record and table
 * row) and the RPC library's processor of the SQL elements placed in the
 * application (IN APP: rpc/app_sql.c, with interp_only_at(PLACE_APP)).
 *
 * random() and now() are inputs (struct interp_env), so that a test can give
 * the kernel program the same values. */
#ifndef ADNC_INTERP_H
#define ADNC_INTERP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ir.h"

struct interp;
struct interp_table;

/* What the language leaves to the world: every call of now() and random()
 * asks the callbacks (in evaluation order: left to right, AND/OR and CASE
 * short-circuit, like the generated C). log receives every record appended
 * to a log table, in the record struct's C layout. Any callback may be NULL:
 * now() is then 0, random() 0, records are dropped. */
struct interp_env {
	uint64_t (*now)(void *ctx);
	uint32_t (*random)(void *ctx); /* random() of the language is this / 2^32 */
	void (*log)(void *ctx, const struct ir_map *m, const void *rec, size_t size);
	void *ctx;
};

/* What the runtime does with a datagram (bpf/adn_dgram.h). */
enum interp_action {
	INTERP_PASS,    /* unchanged */
	INTERP_REWRITE, /* a request whose network fields an element changed */
	INTERP_REPLY,   /* a request turned into the network's reply (dropped) */
	INTERP_STATUS,  /* a response whose status an element changed */
	INTERP_BAD,     /* malformed: the runtime drops and counts it */
	INTERP_ANSWER,  /* a request an element answered (INSERT INTO reply): the
			   frame is now the network's reply, status OK, len bytes */
};

struct interp_verdict {
	enum interp_action action;
	int status; /* REPLY: the drop status; STATUS: the status written */
	int at;     /* REPLY, ANSWER: index (execution order) of the dropping or
		       answering element, -1 when the layout check answered */
	size_t len; /* ANSWER: bytes of the reply, written over the frame (the
		       caller's buffer must hold INTERP_ANSWER_MAX bytes) */
	bool routed;    /* a passing request that ROUTE TO REPLICA chose a */
	uint64_t route; /* replica for: replica route % n of the set */
};

/* What an answering element returns from the chain functions (bpf/adn_types.h
 * ADN_ANSWER), and the largest reply the network builds. */
#define INTERP_ANSWER_BIT 0x200
#define INTERP_ANSWER_CODE(n) (INTERP_ANSWER_BIT | (n))
#define INTERP_ANSWER_MAX (16 + 64)

/* The bit adn_chain_request() ORs into its result when a field changed. */
#define INTERP_PASS_REWRITE 0x100

/* A new state for a chain: tables empty (ARRAY rows zero), the initial rows
 * of every element inserted, parameters set to the chain's values. The IR
 * must outlive the interpreter; execution order is ir->elems (after
 * ir_reorder, if called). */
struct interp *interp_new(const struct ir_chain *ir);
void interp_free(struct interp *in);

/* Which elements run: by default (PLACE_NONE) every SQL element the kernel
 * runs (all but those placed at app); PLACE_APP: only the SQL elements
 * placed in the application, as the RPC library runs them (rpc/app_sql.c);
 * any other location: only the elements placed there. The others are
 * skipped as if absent. */
void interp_only_at(struct interp *in, enum ir_place p);

/* A whole datagram payload (frame header + body, `len` bytes) as the TC and
 * XDP runtimes see it, changed in place as the runtime changes the packet:
 * request = 1 for a datagram to the service's port. */
void interp_datagram(struct interp *in, uint8_t *frame, size_t len, int request,
		     const struct interp_env *env, struct interp_verdict *v);

/* The chain functions themselves (docs/internals.md §3) on a frame prefix of
 * 16 + ir->net_size bytes (at least INTERP_ANSWER_MAX if an element
 * answers or reads response fields): 0, INTERP_PASS_REWRITE, the status of
 * the first element that dropped the request (*at = its index), or
 * INTERP_ANSWER_CODE(n) from the element that answered. */
int interp_chain_request(struct interp *in, uint8_t *prefix, const struct interp_env *env,
			 uint32_t *at);
/* Response sides of elements from-1 .. 0: 0 or the status to write. */
int interp_chain_response(struct interp *in, uint8_t *prefix, uint32_t from,
			  const struct interp_env *env);

/* Parameters: the struct adn_params blob, as the kernel's adn_params map
 * holds it (members in execution order). Writable: a test changes a
 * parameter as `adnctl param` would. NULL if the element or parameter is
 * unknown. */
uint8_t *interp_params(struct interp *in, size_t *size);
uint8_t *interp_param(struct interp *in, const char *element, const char *param,
		      struct type *type);

/* State tables (not log tables), in ir->maps order. */
size_t interp_n_tables(const struct interp *in);
struct interp_table *interp_table_at(struct interp *in, size_t i);
struct interp_table *interp_table_by_name(struct interp *in, const char *map_name);
const struct ir_map *interp_table_map(const struct interp_table *t);
/* Rows that exist: every row of an ARRAY, the present rows of a hash. */
size_t interp_table_rows(const struct interp_table *t);
/* The i-th row (0 .. rows-1, no particular order); false past the end. */
bool interp_table_row(const struct interp_table *t, size_t i, const void **key, const void **val);
void *interp_table_lookup(struct interp_table *t, const void *key);
/* BPF_ANY (noexist false) or BPF_NOEXIST semantics; 0 or -1. */
int interp_table_update(struct interp_table *t, const void *key, const void *val, bool noexist);
int interp_table_delete(struct interp_table *t, const void *key);

#endif
