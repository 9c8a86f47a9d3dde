/* Code generators: eBPF C, the application header, the JSON plan and the
 * human-readable explanation. Each writes into a strbuf. */
#ifndef ADNC_CODEGEN_H
#define ADNC_CODEGEN_H

#include "ir.h"
#include "strbuf.h"

#define ADNC_VERSION "0.1.0"

void codegen_bpf(struct strbuf *out, const struct ir_chain *ir);
void codegen_header(struct strbuf *out, const struct ir_chain *ir);
void codegen_plan(struct strbuf *out, const struct ir_chain *ir);
void codegen_explain(struct strbuf *out, const struct ir_chain *ir);

/* Shared helpers (codegen_util.c). */
const char *cg_upper(char *buf, size_t n, const char *s);   /* "kv" -> "KV" */
/* C type of a column/field for the eBPF side ("__u32", "char", "enum kv_method"). */
void cg_bpf_type(struct strbuf *out, const struct ir_chain *ir, struct type t, const char *name);
/* A value for .adn.meta row=/param= lines, quoted SQL-style when needed. */
void cg_meta_value(struct strbuf *out, const struct expr *e);
/* The text of a literal as written ("0.05", "-3", "alice", "true"). */
void cg_literal_text(struct strbuf *out, const struct expr *e);

#endif
