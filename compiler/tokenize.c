#include "tokenize.h"

#include <ctype.h>
#include <strings.h>
#include <string.h>

const char *tok_kind_name(enum tok_kind k)
{
	switch (k) {
	case TOK_EOF: return "end of file";
	case TOK_IDENT: return "identifier";
	case TOK_INTEGER: return "integer";
	case TOK_DECIMAL: return "decimal number";
	case TOK_STRING: return "string";
	case TOK_LPAREN: return "'('";
	case TOK_RPAREN: return "')'";
	case TOK_COMMA: return "','";
	case TOK_SEMI: return "';'";
	case TOK_DOT: return "'.'";
	case TOK_STAR: return "'*'";
	case TOK_EQ: return "'='";
	case TOK_NE: return "'!='";
	case TOK_LT: return "'<'";
	case TOK_LE: return "'<='";
	case TOK_GT: return "'>'";
	case TOK_GE: return "'>='";
	case TOK_PLUS: return "'+'";
	case TOK_MINUS: return "'-'";
	case TOK_SLASH: return "'/'";
	case TOK_PERCENT: return "'%'";
	}
	return "token";
}

bool tok_is_kw(const struct token *t, const char *kw)
{
	return t->kind == TOK_IDENT && (size_t)t->len == strlen(kw) &&
	       strncasecmp(t->start, kw, (size_t)t->len) == 0;
}

struct lexer {
	struct arena *a;
	struct diag *d;
	const char *src, *end, *p;
	int line;
	const char *line_start;
	struct token *toks;
	size_t n, cap;
};

static struct loc here(const struct lexer *lx)
{
	return (struct loc){ lx->line, (int)(lx->p - lx->line_start) + 1 };
}

static void push(struct lexer *lx, enum tok_kind kind, struct loc at, const char *start, int len)
{
	struct token t = { .kind = kind, .loc = at, .start = start, .len = len };
	ARENA_PUSH(lx->a, lx->toks, lx->n, lx->cap, t);
}

/* Decimal digits after the point -> 32.32 fraction, rounded to nearest. */
static uint64_t fraction_to_fixed(const char *digits, int n)
{
	/* value = digits / 10^n; fixed = round(value * 2^32). Keep at most 18
	 * digits so the arithmetic fits in 128 bits comfortably. */
	unsigned __int128 num = 0, den = 1;
	for (int i = 0; i < n && i < 18; i++) {
		num = num * 10 + (unsigned)(digits[i] - '0');
		den *= 10;
	}
	return (uint64_t)(((num << 32) + den / 2) / den);
}

static void lex_number(struct lexer *lx)
{
	struct loc at = here(lx);
	const char *start = lx->p;
	uint64_t v = 0;
	bool overflow = false;

	while (lx->p < lx->end && isdigit((unsigned char)*lx->p)) {
		unsigned digit = (unsigned)(*lx->p - '0');
		if (v > (UINT64_MAX - digit) / 10)
			overflow = true;
		v = v * 10 + digit;
		lx->p++;
	}
	bool decimal = lx->p < lx->end && *lx->p == '.' && lx->p + 1 < lx->end &&
		       isdigit((unsigned char)lx->p[1]);
	if (!decimal) {
		push(lx, TOK_INTEGER, at, start, (int)(lx->p - start));
		lx->toks[lx->n - 1].ival = v;
		if (overflow)
			diag_error(lx->d, at, "integer literal '%.*s' is too large",
				   (int)(lx->p - start), start);
		return;
	}
	lx->p++; /* '.' */
	const char *frac = lx->p;
	while (lx->p < lx->end && isdigit((unsigned char)*lx->p))
		lx->p++;
	push(lx, TOK_DECIMAL, at, start, (int)(lx->p - start));
	uint64_t f = fraction_to_fixed(frac, (int)(lx->p - frac));
	struct token *t = &lx->toks[lx->n - 1];
	/* REAL is 32.32: the integer part must fit in 32 bits. */
	if (overflow || v > 0xffffffffull || (v == 0xffffffffull && f >> 32)) {
		t->real_overflow = true;
		diag_error(lx->d, at, "decimal literal '%.*s' is out of range for REAL (32.32 fixed point)",
			   t->len, start);
	}
	t->rval = (v << 32) + f;
}

/* 'text' with '' for a quote; strings end at the line's end. */
static void lex_string(struct lexer *lx)
{
	struct loc at = here(lx);
	const char *start = lx->p, *q = lx->p + 1;

	while (q < lx->end && *q != '\n' && *q != '\0') {
		if (*q == '\'') {
			if (q + 1 < lx->end && q[1] == '\'') {
				q += 2;
				continue;
			}
			break;
		}
		q++;
	}
	if (q >= lx->end || *q != '\'') {
		diag_error(lx->d, at, "unterminated string literal");
		lx->p = q; /* resume at the end of the line */
		return;
	}
	char *text = arena_alloc(lx->a, (size_t)(q - start));
	int n = 0;
	for (const char *r = start + 1; r < q; r++) {
		text[n++] = *r;
		if (*r == '\'')
			r++; /* the second quote of '' */
	}
	lx->p = q + 1;
	push(lx, TOK_STRING, at, start, (int)(lx->p - start));
	lx->toks[lx->n - 1].str = text;
	lx->toks[lx->n - 1].str_len = n;
}

static bool lex_punct(struct lexer *lx)
{
	static const struct { const char *text; enum tok_kind kind; } ops[] = {
		{ "<=", TOK_LE }, { ">=", TOK_GE }, { "<>", TOK_NE }, { "!=", TOK_NE },
		{ "(", TOK_LPAREN }, { ")", TOK_RPAREN }, { ",", TOK_COMMA },
		{ ";", TOK_SEMI }, { ".", TOK_DOT }, { "*", TOK_STAR }, { "=", TOK_EQ },
		{ "<", TOK_LT }, { ">", TOK_GT }, { "+", TOK_PLUS }, { "-", TOK_MINUS },
		{ "/", TOK_SLASH }, { "%", TOK_PERCENT },
	};
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		size_t n = strlen(ops[i].text);
		if ((size_t)(lx->end - lx->p) >= n && memcmp(lx->p, ops[i].text, n) == 0) {
			push(lx, ops[i].kind, here(lx), lx->p, (int)n);
			lx->p += n;
			return true;
		}
	}
	return false;
}

struct token_list tokenize(struct arena *a, struct diag *d, const char *src, size_t len)
{
	struct lexer lx = { .a = a, .d = d, .src = src, .end = src + len, .p = src,
			    .line = 1, .line_start = src };

	while (lx.p < lx.end && !d->too_many) {
		char c = *lx.p;
		if (c == '\n') {
			lx.p++;
			lx.line++;
			lx.line_start = lx.p;
		} else if (c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v') {
			lx.p++;
		} else if (c == '-' && lx.p + 1 < lx.end && lx.p[1] == '-') {
			while (lx.p < lx.end && *lx.p != '\n')
				lx.p++;
		} else if (isalpha((unsigned char)c) || c == '_') {
			const char *start = lx.p;
			struct loc at = here(&lx);
			while (lx.p < lx.end && (isalnum((unsigned char)*lx.p) || *lx.p == '_'))
				lx.p++;
			push(&lx, TOK_IDENT, at, start, (int)(lx.p - start));
		} else if (isdigit((unsigned char)c)) {
			lex_number(&lx);
		} else if (c == '\'') {
			lex_string(&lx);
		} else if (!lex_punct(&lx)) {
			if (isprint((unsigned char)c))
				diag_error(d, here(&lx), "unexpected character '%c'", c);
			else
				diag_error(d, here(&lx), "unexpected byte 0x%02x", (unsigned char)c);
			lx.p++;
		}
	}
	push(&lx, TOK_EOF, here(&lx), lx.p, 0);
	return (struct token_list){ lx.toks, lx.n };
}
