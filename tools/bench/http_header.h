/* SPDX-License-Identifier: MIT */
/*
 * What the benchmark's HTTP/1.1 load generator and server share
 * (http_load.c, http_server.c): finding a header in a message. Header-only
 * because tools/bench/run.sh builds each from its one .c file.
 */
#ifndef ADN_BENCH_HTTP_HEADER_H
#define ADN_BENCH_HTTP_HEADER_H

#include <string.h>
#include <strings.h>

/* Case-insensitive search of NAME: in the header block [p, end); returns the
 * value's start (blanks skipped) or NULL. */
static inline const char *find_header(const char *p, const char *end, const char *name)
{
	size_t n = strlen(name);
	for (const char *l = p; l < end;) {
		const char *eol = memchr(l, '\n', (size_t)(end - l));
		if (!eol)
			eol = end;
		if ((size_t)(eol - l) > n && !strncasecmp(l, name, n) && l[n] == ':') {
			const char *v = l + n + 1;
			while (v < eol && (*v == ' ' || *v == '\t'))
				v++;
			return v;
		}
		l = eol + 1;
	}
	return NULL;
}

#endif /* ADN_BENCH_HTTP_HEADER_H */
