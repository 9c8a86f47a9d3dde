/* A growable string for the code generators (heap, not arena: outputs can be
 * large and are written to files). */
#ifndef ADNC_STRBUF_H
#define ADNC_STRBUF_H

#include <stddef.h>

struct strbuf {
	char *buf;
	size_t len, cap;
};

void sb_putc(struct strbuf *sb, char c);
void sb_puts(struct strbuf *sb, const char *s);
void sb_putn(struct strbuf *sb, const char *s, size_t n);
void sb_printf(struct strbuf *sb, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* A JSON string literal, quotes included. */
void sb_json_str(struct strbuf *sb, const char *s);
void sb_free(struct strbuf *sb);
/* Returns the contents ("" if empty); stays owned by sb. */
const char *sb_str(struct strbuf *sb);

#endif
