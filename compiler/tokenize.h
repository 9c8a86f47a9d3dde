/* The lexer. Keywords are not separate token kinds: SQL keywords such as KEY
 * or TIME are also good field names, so the parser matches identifiers
 * against keywords case-insensitively where the grammar expects one. */
#ifndef ADNC_TOKENIZE_H
#define ADNC_TOKENIZE_H

#include <stdbool.h>
#include <stdint.h>

#include "arena.h"
#include "diag.h"

enum tok_kind {
	TOK_EOF,
	TOK_IDENT,
	TOK_INTEGER, /* value in .ival */
	TOK_DECIMAL, /* 1.5, .05: value in .rval (32.32 fixed point) */
	TOK_STRING,  /* 'it''s': unquoted text in .str, length .str_len */
	TOK_LPAREN, TOK_RPAREN, TOK_COMMA, TOK_SEMI, TOK_DOT, TOK_STAR,
	TOK_EQ, TOK_NE, TOK_LT, TOK_LE, TOK_GT, TOK_GE,
	TOK_PLUS, TOK_MINUS, TOK_SLASH, TOK_PERCENT,
};

struct token {
	enum tok_kind kind;
	struct loc loc;
	const char *start; /* into the source */
	int len;
	uint64_t ival;
	uint64_t rval;
	bool real_overflow;
	const char *str; /* TOK_STRING: arena copy, quotes removed */
	int str_len;
};

struct token_list {
	struct token *toks;
	size_t n;
};

/* Tokenizes the whole source; reports bad characters, unterminated strings
 * and oversized numbers, skipping them. The list always ends with TOK_EOF. */
struct token_list tokenize(struct arena *a, struct diag *d, const char *src, size_t len);

const char *tok_kind_name(enum tok_kind k);
bool tok_is_kw(const struct token *t, const char *kw);

#endif
