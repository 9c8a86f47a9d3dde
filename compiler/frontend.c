/* The front end as a library: source -> tokens -> AST -> checks -> IR ->
 * placement. Apart from driver.c (code generation, clang, the verifier) so
 * that the RPC library can compile a chain in-process (rpc/app_sql.c)
 * without linking libbpf. */
#include <stdlib.h>

#include "adnc.h"
#include "parse.h"
#include "resolve.h"
#include "tokenize.h"

struct adnc_unit *adnc_compile_source(const char *file, const char *src, size_t len, FILE *diag_out)
{
	return adnc_compile_source_placed(file, src, len, diag_out, NULL, 0);
}

struct adnc_unit *adnc_compile_source_placed(const char *file, const char *src, size_t len,
					     FILE *diag_out, const struct ir_forced_place *forced,
					     size_t n_forced)
{
	struct adnc_unit *u = calloc(1, sizeof(*u));
	if (!u) {
		fputs("adnc: out of memory\n", stderr);
		abort();
	}
	u->src = arena_strndup(&u->arena, src, len);
	u->len = len;
	diag_init(&u->diag, file, u->src, len, diag_out);
	struct token_list toks = tokenize(&u->arena, &u->diag, u->src, len);
	u->prog = parse_program(&u->arena, &u->diag, toks, arena_strdup(&u->arena, file));
	/* Semantic checks only on a program that parsed: a statement cut short
	 * by a syntax error would only produce follow-on errors. */
	if (u->diag.errors)
		return u;
	struct chain_decl *chain = resolve_program(&u->arena, &u->diag, u->prog);
	if (!chain || u->diag.errors)
		return u;
	u->ir = ir_build(&u->arena, &u->diag, chain);
	if (u->ir) {
		u->ir->prog = u->prog;
		u->ir->src = u->src;
		u->ir->src_len = len;
		ir_place(&u->arena, &u->diag, u->ir, forced, n_forced);
	}
	if (u->diag.errors)
		u->ir = NULL;
	return u;
}

void adnc_unit_free(struct adnc_unit *u)
{
	if (!u)
		return;
	arena_free(&u->arena);
	free(u);
}

