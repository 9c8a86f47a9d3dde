/*
 * adnc --verify: load the generated object into the kernel's verifier and,
 * when a program is rejected, say which DSL line produced the instruction
 * it stopped at. A rejection is a bug in adnc (or its runtime), never the
 * user's: the message says so.
 *
 * The path back to the source: with BTF line info the verifier log annotates
 * instructions as "; <C source> @ <file>:<line>"; the generated C carries a
 * comment "/ * <file>.adn:<line>: <statement> * /" before the code of each
 * DSL statement, so the nearest such comment above the C line names it.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/libbpf.h>

#include "verify.h"

/* libbpf prints the verifier log of a failed load through its print
 * callback between these markers; collect it. */
static struct {
	char *buf;
	size_t len, cap;
	int in_log;
} captured;

static void capture(const char *s, size_t n)
{
	if (captured.len + n + 1 > captured.cap) {
		size_t cap = (captured.cap ? captured.cap * 2 : 1 << 16);
		while (cap < captured.len + n + 1)
			cap *= 2;
		char *nb = realloc(captured.buf, cap);
		if (!nb)
			return;
		captured.buf = nb;
		captured.cap = cap;
	}
	memcpy(captured.buf + captured.len, s, n);
	captured.len += n;
	captured.buf[captured.len] = '\0';
}

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	char *line = NULL;

	/* one call can carry the whole verifier log: no fixed-size buffer */
	if (vasprintf(&line, fmt, ap) < 0)
		return 0;
	if (strstr(line, "-- BEGIN PROG LOAD LOG --"))
		captured.in_log = 1;
	if (captured.in_log || level == LIBBPF_WARN)
		capture(line, strlen(line));
	if (strstr(line, "-- END PROG LOAD LOG --"))
		captured.in_log = 0;
	free(line);
	return 0;
}

/* Is this verifier-log line an instruction ("123: (bf) r1 = r6")? */
static int is_insn_line(const char *l)
{
	const char *p = l;

	while (*p >= '0' && *p <= '9')
		p++;
	return p > l && p[0] == ':' && p[1] == ' ' && p[2] == '(';
}

static int is_noise(const char *l)
{
	static const char *const prefixes[] = {
		"processed ", "verification time", "stack depth", "max_states",
		"libbpf:", "-- ", "from ", "mark_precise", "frame", "Validating",
	};
	if (!*l || *l == ';' || is_insn_line(l))
		return 1;
	for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++)
		if (!strncmp(l, prefixes[i], strlen(prefixes[i])))
			return 1;
	/* register-state dumps: "123: R0=..." */
	const char *p = l;
	while (*p >= '0' && *p <= '9')
		p++;
	return p > l && p[0] == ':' && p[1] == ' ' && p[2] == 'R';
}

/* The last "@ file:line" annotation of the log at or before line end of the
 * log; for the generated file only if gen_only. */
/* Linux before 6.2 annotates with the source text only ("; <C source>"),
 * no "@ file:line": find that text among the lines of the generated C.
 * Returns its line number (the first at or after min), 0 if not there. */
static unsigned find_source_line(const char *c_source, const char *text, unsigned min)
{
	while (*text == ' ' || *text == '\t')
		text++;
	size_t tlen = strlen(text);
	while (tlen && (text[tlen - 1] == ' ' || text[tlen - 1] == '\t'))
		tlen--;
	if (!tlen)
		return 0;
	unsigned ln = 1;
	for (const char *p = c_source; p && *p; ln++) {
		const char *eol = strchr(p, '\n');
		const char *q = p;
		while (*q == ' ' || *q == '\t')
			q++;
		size_t qlen = (size_t)((eol ? eol : q + strlen(q)) - q);
		while (qlen && (q[qlen - 1] == ' ' || q[qlen - 1] == '\t'))
			qlen--;
		if (ln >= min && qlen == tlen && !memcmp(q, text, tlen))
			return ln;
		p = eol ? eol + 1 : NULL;
	}
	return 0;
}

static int last_annotation(char **lines, size_t end, const char *gen_base, unsigned gen_min,
			   const char *c_source, char *file, size_t file_len, unsigned *line_no)
{
	for (size_t i = end + 1; i-- > 0;) {
		const char *at;

		if (lines[i][0] != ';')
			continue;
		char f[256];
		unsigned ln;
		if (!(at = strstr(lines[i], " @ "))) {
			/* no file:line in this kernel's log: match the text */
			ln = find_source_line(c_source, lines[i] + 1, gen_min ? gen_min : 1);
			if (!ln)
				continue;
			snprintf(file, file_len, "%s", gen_base);
			*line_no = ln;
			return 0;
		}
		if (sscanf(at + 3, " %255[^:]:%u", f, &ln) != 2)
			continue;
		const char *base = strrchr(f, '/') ? strrchr(f, '/') + 1 : f;
		/* gen_min: only generated lines at or after it (the helpers
		 * before the first element serve every element) */
		if (gen_min && (strcmp(base, gen_base) || ln < gen_min))
			continue;
		if (!ln)
			continue;
		snprintf(file, file_len, "%s", base);
		*line_no = ln;
		return 0;
	}
	return -1;
}

/* The line of the first "<file>.adn:N:" comment in the generated C, or 0. */
static unsigned first_dsl_comment_line(const char *src)
{
	unsigned ln = 1;

	for (const char *p = src; p && *p; ln++) {
		const char *eol = strchr(p, '\n');
		const char *c = strstr(p, "/* ");
		if (c && (!eol || c < eol)) {
			char f[256];
			unsigned dl;
			if (sscanf(c + 3, "%255[^: ]:%u:", f, &dl) == 2 && strstr(f, ".adn"))
				return ln;
		}
		p = eol ? eol + 1 : NULL;
	}
	return 0;
}

int verify_locate(const char *log, const char *c_source, const char *c_name,
		  struct verify_site *site)
{
	char *copy = strdup(log ? log : "");
	char **lines = NULL;
	size_t n = 0, cap = 0, last_insn = 0;
	int have_insn = 0;

	memset(site, 0, sizeof(*site));
	if (!copy)
		return -1;
	for (char *save, *l = strtok_r(copy, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		if (n == cap) {
			cap = cap ? cap * 2 : 256;
			char **nl = realloc(lines, cap * sizeof(*lines));
			if (!nl)
				break;
			lines = nl;
		}
		while (*l == ' ' || *l == '\t')
			l++;
		if (is_insn_line(l)) {
			last_insn = n;
			have_insn = 1;
		}
		lines[n++] = l;
	}
	/* the reason: the first line after the last instruction that is not
	 * log noise (e.g. "invalid access to packet, off=12 size=2, ...") */
	for (size_t i = have_insn ? last_insn + 1 : 0; i < n; i++) {
		if (!is_noise(lines[i])) {
			snprintf(site->reason, sizeof(site->reason), "%s", lines[i]);
			break;
		}
	}
	if (!site->reason[0])
		snprintf(site->reason, sizeof(site->reason), "rejected (no reason in the log)");

	const char *gen_base = strrchr(c_name, '/') ? strrchr(c_name, '/') + 1 : c_name;
	size_t end = have_insn ? last_insn : (n ? n - 1 : 0);
	unsigned first_dsl = first_dsl_comment_line(c_source);
	if (n && !last_annotation(lines, end, gen_base, 0, c_source, site->c_file,
				  sizeof(site->c_file), &site->c_line)) {
		/* The DSL line is that of the last generated line in an element
		 * the program ran: the failing line itself, or, when it is in a
		 * runtime header or a shared helper, the one before it. */
		unsigned gen_line = 0;
		char gen_file[256];
		if (first_dsl &&
		    last_annotation(lines, end, gen_base, first_dsl, c_source, gen_file, sizeof(gen_file),
				    &gen_line))
			gen_line = 0;
		/* the nearest DSL comment at or above gen_line in the generated C */
		unsigned cur = 1;
		for (const char *p = c_source; p && *p && gen_line && cur <= gen_line; cur++) {
			const char *eol = strchr(p, '\n');
			const char *c = strstr(p, "/* ");
			if (c && (!eol || c < eol)) {
				char dsl[256];
				unsigned dl;
				if (sscanf(c + 3, "%255[^: ]:%u:", dsl, &dl) == 2 && strstr(dsl, ".adn")) {
					snprintf(site->dsl_file, sizeof(site->dsl_file), "%s", dsl);
					site->dsl_line = dl;
					const char *text = strchr(strchr(c + 3, ':') + 1, ':');
					size_t len = text ? (size_t)((eol ? eol : text + strlen(text)) - text - 1) : 0;
					if (text && len > 0) {
						snprintf(site->dsl_text, sizeof(site->dsl_text), "%.*s",
							 (int)(len < sizeof(site->dsl_text) ? len : sizeof(site->dsl_text) - 1),
							 text + 1);
						char *close = strstr(site->dsl_text, " */");
						if (close)
							*close = '\0';
					}
				}
			}
			p = eol ? eol + 1 : NULL;
		}
	}
	free(lines);
	free(copy);
	return 0;
}

int adnc_verify(const char *obj_path, const char *c_path, FILE *err)
{
	struct bpf_object *obj;
	int rc;

	if (geteuid() != 0) {
		fprintf(err, "adnc: error: --verify loads programs into the kernel: run it as root\n");
		return 1;
	}
	captured.len = 0;
	libbpf_print_fn_t old = libbpf_set_print(libbpf_print);
	obj = bpf_object__open_file(obj_path, NULL);
	if (!obj) {
		libbpf_set_print(old);
		fprintf(err, "adnc: error: %s: cannot open: %s\n", obj_path, strerror(errno));
		return 1;
	}
	rc = bpf_object__load(obj);
	bpf_object__close(obj); /* nothing was pinned or attached: all of it goes */
	libbpf_set_print(old);
	if (!rc)
		return 0;

	/* read the generated C to map its lines back to the DSL */
	char *src = NULL;
	FILE *f = fopen(c_path, "r");
	if (f) {
		fseek(f, 0, SEEK_END);
		long sz = ftell(f);
		fseek(f, 0, SEEK_SET);
		src = sz > 0 ? calloc(1, (size_t)sz + 1) : NULL;
		if (src && fread(src, 1, (size_t)sz, f) != (size_t)sz)
			src[0] = '\0';
		fclose(f);
	}
	struct verify_site site;
	verify_locate(captured.buf, src ? src : "", c_path, &site);
	if (site.dsl_line)
		fprintf(err, "%s:%u:1: error: the kernel verifier rejected the code of this statement: %s\n"
			"    %s\n",
			site.dsl_file, site.dsl_line, site.reason, site.dsl_text);
	else
		fprintf(err, "%s: error: the kernel verifier rejected the program: %s\n", obj_path,
			site.reason);
	if (site.c_line)
		fprintf(err, "note: at %s:%u (generated C or adn runtime)\n", site.c_file, site.c_line);
	fprintf(err, "note: this is a bug in adnc, not in your program: please report it with the file\n");
	free(src);
	return 2;
}
