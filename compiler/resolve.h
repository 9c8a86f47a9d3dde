#ifndef ADNC_RESOLVE_H
#define ADNC_RESOLVE_H

#include "arena.h"
#include "ast.h"
#include "diag.h"

/* Semantic checks: names, types, bindings. Fills the "resolved" parts of the
 * AST and reports every error it finds. Returns the program's one chain, or
 * NULL if there is none usable. */
struct chain_decl *resolve_program(struct arena *a, struct diag *d, struct program *prog);

#endif
