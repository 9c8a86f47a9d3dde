/* SPDX-License-Identifier: MIT */
/* String values on output: JSON literals and SQL-quoted `col=value` text. */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "adn_scalar.h"

void adn_json_string(FILE *out, const char *s, size_t len)
{
	fputc('"', out);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		switch (c) {
		case '"': fputs("\\\"", out); break;
		case '\\': fputs("\\\\", out); break;
		case '\n': fputs("\\n", out); break;
		case '\r': fputs("\\r", out); break;
		case '\t': fputs("\\t", out); break;
		default:
			/* bytes >= 0x80 pass through: CHAR(n) columns hold UTF-8 */
			if (c < 0x20 || c == 0x7f)
				fprintf(out, "\\u%04x", c);
			else
				fputc(c, out);
		}
	}
	fputc('"', out);
}

static int is_plain_word(const char *s, size_t len)
{
	if (len == 0)
		return 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (isspace(c) || c == '\'' || c == '=' || c == '"' || c < 0x20)
			return 0;
	}
	return 1;
}

void adn_sql_string(FILE *out, const char *s, size_t len)
{
	if (is_plain_word(s, len)) {
		fwrite(s, 1, len, out);
		return;
	}
	fputc('\'', out);
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '\'')
			fputc('\'', out);
		fputc(s[i], out);
	}
	fputc('\'', out);
}
