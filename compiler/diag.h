/* Diagnostics in the gcc/clang shape:
 *   kv.adn:12:5: error: unknown table 'acl_tab'
 *       JOIN acl_tab ON input.user = acl_tab.username
 *            ^
 * Errors are counted; after DIAG_MAX_ERRORS the compilation stops. */
#ifndef ADNC_DIAG_H
#define ADNC_DIAG_H

#include <stdbool.h>
#include <stdio.h>

#define DIAG_MAX_ERRORS 20

struct loc {
	int line, col; /* 1-based; col counts bytes */
};

struct diag {
	const char *file; /* as named on the command line */
	const char *src;
	size_t src_len;
	FILE *out;
	int errors, warnings;
	bool too_many; /* the error limit was reached: stop */
};

void diag_init(struct diag *d, const char *file, const char *src, size_t len, FILE *out);
void diag_error(struct diag *d, struct loc at, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void diag_warning(struct diag *d, struct loc at, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* A follow-up line ("note:") attached to the previous diagnostic. */
void diag_note(struct diag *d, struct loc at, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
