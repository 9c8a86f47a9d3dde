/* SPDX-License-Identifier: MIT */
/* Keeps what libbpf prints, so that a verifier rejection can be shown as
 * the tail of the verifier's log instead of libbpf's full chatter. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/libbpf.h>

#include "loader.h"

static char *log_buf;
static size_t log_len, log_cap;
static bool log_verbose;
static char last_warning[512];

static void append(const char *s, size_t n)
{
	if (log_len + n + 1 > log_cap) {
		size_t cap = (log_cap ? log_cap * 2 : 65536);
		while (cap < log_len + n + 1)
			cap *= 2;
		char *grown = realloc(log_buf, cap);
		if (!grown)
			return;
		log_buf = grown;
		log_cap = cap;
	}
	memcpy(log_buf + log_len, s, n);
	log_len += n;
	log_buf[log_len] = '\0';
}

static int on_libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	char line[4096];
	va_list copy;

	va_copy(copy, ap);
	int n = vsnprintf(line, sizeof(line), fmt, copy);
	va_end(copy);
	if (n < 0)
		return 0;
	if (log_verbose)
		fputs(line, stderr);
	if (level == LIBBPF_DEBUG)
		return 0;
	if ((size_t)n >= sizeof(line)) {
		/* the verifier log comes as one big string: keep all of it */
		char *big = malloc((size_t)n + 1);
		if (big) {
			vsnprintf(big, (size_t)n + 1, fmt, ap);
			append(big, (size_t)n);
			free(big);
		}
		return 0;
	}
	append(line, (size_t)n);
	if (level == LIBBPF_WARN && !strstr(line, "PROG LOAD LOG")) {
		size_t len = strnlen(line, sizeof(last_warning) - 1);
		memcpy(last_warning, line, len);
		last_warning[len] = '\0';
		last_warning[strcspn(last_warning, "\n")] = '\0';
	}
	return 0;
}

void libbpf_log_capture(bool verbose)
{
	log_verbose = verbose;
	libbpf_set_print(on_libbpf_print);
}

const char *libbpf_log_last_warning(void)
{
	return last_warning;
}

bool libbpf_log_print_verifier_tail(FILE *out, int max_lines)
{
	const char *begin, *end, *p;
	int lines = 0;

	if (!log_buf)
		return false;
	begin = NULL;
	for (p = log_buf; (p = strstr(p, "-- BEGIN PROG LOAD LOG --")); p++)
		begin = p; /* the last program that failed */
	if (!begin)
		return false;
	begin = strchr(begin, '\n');
	if (!begin)
		return false;
	begin++;
	end = strstr(begin, "-- END PROG LOAD LOG --");
	if (!end)
		end = log_buf + log_len;
	/* back up max_lines lines from the end */
	for (p = end; p > begin; p--) {
		if (p[-1] == '\n' && p != end && ++lines > max_lines)
			break;
	}
	if (p > begin)
		fprintf(out, "...\n");
	fwrite(p, 1, (size_t)(end - p), out);
	return true;
}
