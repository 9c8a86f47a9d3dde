/* Shared by the parts of the eBPF C generator (codegen_bpf.c: the file,
 * elements and chain; codegen_expr.c: expressions; codegen_stmt.c: the
 * statements that write state). Not a public interface. */
#ifndef ADNC_CODEGEN_BPF_INT_H
#define ADNC_CODEGEN_BPF_INT_H

#include "codegen.h"

struct cg {
	struct strbuf *out;
	const struct ir_chain *ir;
	const struct ir_element *el;
	unsigned used_ld, used_st; /* bit n: adn_gen_ld/st of 8<<n bits is used */
};

int cg_log2_bytes(int c);
void cg_line_comment(struct cg *g, const char *indent, int line, const char *text);
void cg_emit_expr(struct cg *g, const struct expr *e);
/* dst = value, where dst is a struct member (or a local) of type t. */
void cg_emit_store(struct cg *g, const char *ind, const char *dst, struct type t, const struct expr *v);
/* Looks up the joined rows; `miss` is what to do when a row is missing. */
void cg_emit_joins(struct cg *g, const char *ind, const struct select_insert *s, const char *miss);
void cg_emit_where_conjuncts(struct cg *g, const char *ind, const struct expr *e, const char *miss);
void cg_emit_where(struct cg *g, const char *ind, const struct select_insert *s, const char *miss);
/* INSERT INTO <state table> SELECT, UPDATE, DELETE: a do { } while (0) body. */
void cg_emit_write(struct cg *g, const char *ind, const struct select_insert *s);

/* codegen_hooks.c: ADN_N_ELEMENTS, one adn_chain_request/_response pair per
 * hook the elements are placed at, the runtime headers of those hooks; the
 * hook=, transport= and place= lines of .adn.meta. */
void cg_emit_chain(struct cg *g);
void cg_emit_runtime(struct cg *g);
void cg_meta_placement(struct strbuf *meta, const struct ir_chain *ir);

#endif
