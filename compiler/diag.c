#include "diag.h"

#include <stdarg.h>
#include <string.h>

void diag_init(struct diag *d, const char *file, const char *src, size_t len, FILE *out)
{
	memset(d, 0, sizeof(*d));
	d->file = file;
	d->src = src;
	d->src_len = len;
	d->out = out ? out : stderr;
}

/* Prints the source line of `at` and a caret under its column. Tabs are
 * copied into the caret line so the caret lines up in any tab width. */
static void print_source_line(struct diag *d, struct loc at)
{
	const char *p = d->src, *end = d->src + d->src_len;
	int line = 1;

	if (at.line < 1)
		return;
	while (p < end && line < at.line) {
		if (*p++ == '\n')
			line++;
	}
	if (line != at.line)
		return;
	const char *eol = p;
	while (eol < end && *eol != '\n' && *eol != '\0')
		eol++;
	fprintf(d->out, "%.*s\n", (int)(eol - p), p);
	for (int i = 1; i < at.col && p + i - 1 < eol; i++)
		fputc(p[i - 1] == '\t' ? '\t' : ' ', d->out);
	fputs("^\n", d->out);
}

static void report(struct diag *d, const char *kind, struct loc at, const char *fmt, va_list ap)
{
	if (at.line > 0)
		fprintf(d->out, "%s:%d:%d: %s: ", d->file, at.line, at.col, kind);
	else
		fprintf(d->out, "%s: %s: ", d->file, kind);
	vfprintf(d->out, fmt, ap);
	fputc('\n', d->out);
	print_source_line(d, at);
}

void diag_error(struct diag *d, struct loc at, const char *fmt, ...)
{
	va_list ap;

	if (d->too_many)
		return;
	va_start(ap, fmt);
	report(d, "error", at, fmt, ap);
	va_end(ap);
	if (++d->errors >= DIAG_MAX_ERRORS) {
		fprintf(d->out, "%s: fatal error: too many errors (%d), stopping\n",
			d->file, d->errors);
		d->too_many = true;
	}
}

void diag_warning(struct diag *d, struct loc at, const char *fmt, ...)
{
	va_list ap;

	if (d->too_many)
		return;
	va_start(ap, fmt);
	report(d, "warning", at, fmt, ap);
	va_end(ap);
	d->warnings++;
}

void diag_note(struct diag *d, struct loc at, const char *fmt, ...)
{
	va_list ap;

	if (d->too_many)
		return;
	va_start(ap, fmt);
	report(d, "note", at, fmt, ap);
	va_end(ap);
}
