#ifndef ADNC_PARSE_H
#define ADNC_PARSE_H

#include "arena.h"
#include "ast.h"
#include "diag.h"
#include "tokenize.h"

/* Parses a token list into a program. Syntax errors are reported to d; the
 * parser resynchronizes at the next statement, so one run reports several.
 * Always returns a program (possibly partial). */
struct program *parse_program(struct arena *a, struct diag *d, struct token_list toks,
			      const char *file);

#endif
