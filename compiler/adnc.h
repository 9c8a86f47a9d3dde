/* adnc as a library: the whole pipeline behind one call, used by main.c and
 * by the unit tests. */
#ifndef ADNC_H
#define ADNC_H

#include <stdbool.h>
#include <stdio.h>

#include "arena.h"
#include "ast.h"
#include "diag.h"
#include "ir.h"

enum adnc_exit {
	ADNC_EXIT_OK = 0,
	ADNC_EXIT_USAGE = 1,   /* bad command line, unreadable input, unwritable output */
	ADNC_EXIT_PROGRAM = 2, /* errors in the .adn program */
	ADNC_EXIT_CLANG = 3,   /* clang rejected generated code: a compiler bug */
	ADNC_EXIT_VERIFIER = 4, /* --verify: the kernel verifier rejected it: a compiler bug */
};

/* One compilation: source, diagnostics, AST and IR in one arena. */
struct adnc_unit {
	struct arena arena;
	struct diag diag;
	char *src;
	size_t len;
	struct program *prog;
	struct ir_chain *ir; /* NULL if the program has errors */
};

/* Runs lexer, parser, checks and IR construction on a source text.
 * Diagnostics go to diag_out (stderr if NULL). Never returns NULL. */
struct adnc_unit *adnc_compile_source(const char *file, const char *src, size_t len, FILE *diag_out);
/* The same, with locations forced from the command line (--place, --hook). */
struct adnc_unit *adnc_compile_source_placed(const char *file, const char *src, size_t len,
					     FILE *diag_out, const struct ir_forced_place *forced,
					     size_t n_forced);
void adnc_unit_free(struct adnc_unit *u);

/* Generated texts; the caller frees with free(). */
char *adnc_gen_bpf(const struct adnc_unit *u);
char *adnc_gen_header(const struct adnc_unit *u);
char *adnc_gen_plan(const struct adnc_unit *u);
char *adnc_gen_explain(const struct adnc_unit *u);

struct adnc_options {
	const char *input;
	const char *outdir;  /* NULL: write nothing (with --explain) */
	bool explain;
	bool emit_c_only;
	int opt_level;       /* -O0: written order; default 1: reorder drops earlier */
	bool fold_params;    /* --fold-params: parameters become constants */
	bool verify;         /* --verify: load the object into the kernel verifier */
	bool offload;        /* --target offload: XDP elements on the NIC (compiler/offload.c) */
	const struct ir_forced_place *forced; /* --place / --hook */
	size_t n_forced;
	FILE *diag_out;      /* stderr if NULL */
	FILE *explain_out;   /* stdout if NULL */
};

/* The command: compile input, write outputs, run clang. Returns an exit code. */
int adnc_run(const struct adnc_options *o);

#endif
