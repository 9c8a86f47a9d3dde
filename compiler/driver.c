/* The pipeline: source -> tokens -> AST -> checks -> IR (frontend.c) -> outputs. */
#include "adnc.h"
#include "verify.h"
#include "offload.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "build.h"
#include "codegen.h"
#include "parse.h"
#include "resolve.h"
#include "strbuf.h"
#include "tokenize.h"

static char *generate(const struct adnc_unit *u, void (*gen)(struct strbuf *, const struct ir_chain *))
{
	struct strbuf sb = { 0 };
	if (!u->ir)
		return NULL;
	gen(&sb, u->ir);
	if (!sb.buf)
		sb_puts(&sb, "");
	return sb.buf; /* ownership passes to the caller */
}

char *adnc_gen_bpf(const struct adnc_unit *u) { return generate(u, codegen_bpf); }
char *adnc_gen_header(const struct adnc_unit *u) { return generate(u, codegen_header); }
char *adnc_gen_plan(const struct adnc_unit *u) { return generate(u, codegen_plan); }
char *adnc_gen_explain(const struct adnc_unit *u) { return generate(u, codegen_explain); }

/* The largest input read: far beyond any chain, and a bound on what a
 * mistaken input (adnc /dev/zero, a log file) can make adnc allocate. */
#define ADNC_MAX_INPUT (16u << 20)

/* Reads the whole input; NULL after an error message, with *rc the exit
 * status (usage: cannot open; program: not a source file). */
static char *read_file(const char *path, size_t *len, FILE *err, int *rc)
{
	FILE *f = fopen(path, "rb");
	struct strbuf sb = { 0 };
	struct stat st;
	char buf[65536];
	size_t n;

	*rc = ADNC_EXIT_USAGE;
	if (!f) {
		fprintf(err, "adnc: error: cannot open '%s': %s\n", path, strerror(errno));
		return NULL;
	}
	/* a pipe is fine (adnc <(gen) -o out); a directory or a device is not */
	if (fstat(fileno(f), &st) == 0 && !S_ISREG(st.st_mode) && !S_ISFIFO(st.st_mode)) {
		fprintf(err, "adnc: error: %s: not a regular file\n", path);
		fclose(f);
		*rc = ADNC_EXIT_PROGRAM;
		return NULL;
	}
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0) {
		if (sb.len + n > ADNC_MAX_INPUT) {
			fprintf(err, "adnc: error: %s: larger than %u bytes\n", path, ADNC_MAX_INPUT);
			fclose(f);
			sb_free(&sb);
			*rc = ADNC_EXIT_PROGRAM;
			return NULL;
		}
		sb_putn(&sb, buf, n);
	}
	if (ferror(f)) {
		fprintf(err, "adnc: error: cannot read '%s': %s\n", path, strerror(errno));
		fclose(f);
		sb_free(&sb);
		return NULL;
	}
	fclose(f);
	*len = sb.len;
	if (!sb.buf)
		sb_puts(&sb, "");
	return sb.buf;
}

static int mkdir_p(const char *dir)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s", dir);
	for (char *p = path + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(path, 0777) < 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	if (mkdir(path, 0777) < 0 && errno != EEXIST)
		return -1;
	return 0;
}

static int write_file(const char *dir, const char *name, const char *suffix, const char *text, FILE *err,
		      char *path_out, size_t path_cap)
{
	char path[4096];
	size_t n = strlen(dir);
	while (n > 1 && dir[n - 1] == '/')
		n--; /* "build/kv/" -> "build/kv/kv.bpf.c", not "build/kv//..." */
	snprintf(path, sizeof(path), "%.*s/%s%s", (int)n, dir, name, suffix);
	FILE *f = fopen(path, "w");
	if (!f || fputs(text, f) < 0 || fclose(f) != 0) {
		fprintf(err, "adnc: error: cannot write '%s': %s\n", path, strerror(errno));
		return -1;
	}
	if (path_out)
		snprintf(path_out, path_cap, "%s", path);
	return 0;
}

static int write_outputs(const struct adnc_unit *u, const struct adnc_options *o, FILE *err)
{
	const char *chain = u->ir->chain->name;
	char c_path[4096], o_path[4096];
	char *bpf = adnc_gen_bpf(u), *hdr = adnc_gen_header(u), *plan = adnc_gen_plan(u);
	int rc = ADNC_EXIT_OK;

	if (mkdir_p(o->outdir) < 0) {
		fprintf(err, "adnc: error: cannot create '%s': %s\n", o->outdir, strerror(errno));
		rc = ADNC_EXIT_USAGE;
		goto out;
	}
	if (write_file(o->outdir, chain, ".bpf.c", bpf, err, c_path, sizeof(c_path)) ||
	    write_file(o->outdir, chain, ".json", plan, err, NULL, 0) ||
	    write_file(o->outdir, chain, "_rpc.h", hdr, err, NULL, 0)) {
		rc = ADNC_EXIT_USAGE;
		goto out;
	}
	if (o->emit_c_only)
		goto out;
	struct build_dirs dirs;
	if (build_find_dirs(&dirs, err) < 0) {
		rc = ADNC_EXIT_USAGE;
		goto out;
	}
	snprintf(o_path, sizeof(o_path), "%.*s.bpf.o", (int)(strlen(c_path) - strlen(".bpf.c")), c_path);
	struct build_failure bf;
	int built = build_bpf_object_ex(&dirs, c_path, o_path, err, &bf);
	if (built == -2) {
		build_report_stack_limit((struct diag *)&u->diag, u->ir->chain->loc, chain, u->ir->net_size,
					 c_path, &bf);
		fprintf(err, "1 error generated.\n");
		rc = ADNC_EXIT_PROGRAM;
	} else if (built < 0) {
		fprintf(err, "adnc: internal error: clang failed on the generated %s.\n"
			     "This is a bug in adnc, not in %s: please report it with the .adn file.\n",
			c_path, u->diag.file);
		rc = ADNC_EXIT_CLANG;
	} else if (o->verify) {
		int v = adnc_verify(o_path, c_path, err);
		rc = v == 2 ? ADNC_EXIT_VERIFIER : v ? ADNC_EXIT_USAGE : ADNC_EXIT_OK;
	}
out:
	free(bpf);
	free(hdr);
	free(plan);
	return rc;
}

int adnc_run(const struct adnc_options *o)
{
	FILE *err = o->diag_out ? o->diag_out : stderr;
	size_t len = 0;
	int rc;
	char *src = read_file(o->input, &len, err, &rc);

	if (!src)
		return rc;
	struct adnc_unit *u = adnc_compile_source_placed(o->input, src, len, err, o->forced, o->n_forced);
	free(src);
	if (o->offload) /* --target offload: the NIC takes XDP (offload.c) */
		offload_apply(u, o->forced, o->n_forced);
	if (!u->ir) {
		if (u->diag.errors)
			fprintf(err, "%d error%s generated.\n", u->diag.errors, u->diag.errors == 1 ? "" : "s");
		adnc_unit_free(u);
		return ADNC_EXIT_PROGRAM;
	}
	ir_reorder(&u->arena, u->ir, o->opt_level);
	u->ir->fold_params = o->fold_params;
	if (o->explain) {
		char *text = adnc_gen_explain(u);
		fputs(text, o->explain_out ? o->explain_out : stdout);
		free(text);
	}
	rc = o->outdir ? write_outputs(u, o, err) : ADNC_EXIT_OK;
	if (rc == ADNC_EXIT_OK && o->outdir && o->offload)
		rc = offload_write_outputs(u, o, err);
	adnc_unit_free(u);
	return rc;
}
