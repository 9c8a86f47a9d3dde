#include "build.h"

#include "diag.h"

#include <errno.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef ADN_PREFIX
#define ADN_PREFIX "/usr/local"
#endif

static int file_exists(const char *dir, const char *name)
{
	char path[PATH_MAX + 64];
	struct stat st;
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return stat(path, &st) == 0;
}

static void copy_path(char *dst, const char *src)
{
	size_t n = strlen(src);
	if (n >= PATH_MAX)
		n = PATH_MAX - 1; /* such a path fails the existence check later */
	memcpy(dst, src, n);
	dst[n] = '\0';
}

int build_find_dirs(struct build_dirs *dirs, FILE *err)
{
	const char *env_bpf = getenv("ADN_BPF_INCLUDE");
	const char *env_hdr = getenv("ADN_HEADERS_INCLUDE");
	char exe[PATH_MAX], base[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

	dirs->bpf[0] = dirs->headers[0] = '\0';
	if (env_bpf && *env_bpf)
		copy_path(dirs->bpf, env_bpf);
	if (env_hdr && *env_hdr)
		copy_path(dirs->headers, env_hdr);
	if (n > 0) {
		exe[n] = '\0';
		snprintf(base, sizeof(base), "%s", dirname(exe));
		char cand[PATH_MAX + 32];
		snprintf(cand, sizeof(cand), "%s/../../bpf", base);
		if (!dirs->bpf[0] && file_exists(cand, "adn_bpf.h"))
			copy_path(dirs->bpf, cand);
		snprintf(cand, sizeof(cand), "%s/../../headers", base);
		if (!dirs->headers[0] && file_exists(cand, "adn_wire.h"))
			copy_path(dirs->headers, cand);
		/* installed: PREFIX/bin/adnc next to PREFIX/share and PREFIX/include,
		 * whatever PREFIX was (also under a DESTDIR) */
		snprintf(cand, sizeof(cand), "%s/../share/adn/bpf", base);
		if (!dirs->bpf[0] && file_exists(cand, "adn_bpf.h"))
			copy_path(dirs->bpf, cand);
		snprintf(cand, sizeof(cand), "%s/../include/adn", base);
		if (!dirs->headers[0] && file_exists(cand, "adn_wire.h"))
			copy_path(dirs->headers, cand);
	}
	if (!dirs->bpf[0] && file_exists(ADN_PREFIX "/share/adn/bpf", "adn_bpf.h"))
		copy_path(dirs->bpf, ADN_PREFIX "/share/adn/bpf");
	if (!dirs->headers[0] && file_exists(ADN_PREFIX "/include/adn", "adn_wire.h"))
		copy_path(dirs->headers, ADN_PREFIX "/include/adn");
	if (!dirs->bpf[0] || !file_exists(dirs->bpf, "adn_bpf.h")) {
		fprintf(err, "adnc: error: cannot find the eBPF runtime headers (adn_bpf.h)%s%s; set ADN_BPF_INCLUDE or use --emit-c-only\n",
			dirs->bpf[0] ? " in " : "", dirs->bpf);
		return -1;
	}
	if (!dirs->headers[0] || !file_exists(dirs->headers, "adn_wire.h")) {
		fprintf(err, "adnc: error: cannot find adn_wire.h%s%s; set ADN_HEADERS_INCLUDE or use --emit-c-only\n",
			dirs->headers[0] ? " in " : "", dirs->headers);
		return -1;
	}
	return 0;
}

/* Reads clang's diagnostics (in t) and echoes them on err unless they are a
 * stack-limit failure, which the caller turns into a DSL diagnostic. */
static int clang_output(FILE *t, int ok, FILE *err, struct build_failure *bf)
{
	char line[4096];
	int stack = 0;

	if (!t)
		return ok ? 0 : -1;
	rewind(t);
	while (fgets(line, sizeof(line), t)) {
		if (!strstr(line, "BPF stack limit"))
			continue;
		if (!stack && bf) {
			/* "FILE:LINE:COL: error: Looks like the BPF stack limit ..." */
			char *e = strstr(line, ": error:");
			if (e) {
				*e = '\0';
				char *c = strrchr(line, ':');
				if (c) {
					*c = '\0';
					char *l = strrchr(line, ':');
					if (l) {
						*l = '\0';
						bf->line = (unsigned)strtoul(l + 1, NULL, 10);
						snprintf(bf->file, sizeof(bf->file), "%s", line);
					}
				}
			}
		}
		stack = 1;
	}
	if (stack && !ok && bf) {
		bf->stack_limit = 1;
		fclose(t);
		return -2;
	}
	rewind(t);
	size_t n;
	while ((n = fread(line, 1, sizeof(line), t)) > 0)
		fwrite(line, 1, n, err);
	fclose(t);
	return ok ? 0 : -1;
}

int build_bpf_object(const struct build_dirs *dirs, const char *src, const char *obj, FILE *err)
{
	return build_bpf_object_ex(dirs, src, obj, err, NULL) < 0 ? -1 : 0;
}

int build_bpf_object_ex(const struct build_dirs *dirs, const char *src, const char *obj, FILE *err,
			struct build_failure *bf)
{
	const char *clang = getenv("CLANG");
	char inc_bpf[PATH_MAX + 3], inc_hdr[PATH_MAX + 3], inc_arch[128];
	struct utsname uts;
	struct stat st;

	if (!clang || !*clang)
		clang = "clang";
	snprintf(inc_bpf, sizeof(inc_bpf), "-I%s", dirs->bpf);
	snprintf(inc_hdr, sizeof(inc_hdr), "-I%s", dirs->headers);
	/* <linux/types.h> includes <asm/types.h>, which lives in the multiarch
	 * directory that -target bpf does not search (Debian). */
	inc_arch[0] = '\0';
	if (uname(&uts) == 0) {
		snprintf(inc_arch, sizeof(inc_arch), "/usr/include/%.60s-linux-gnu", uts.machine);
		if (stat(inc_arch, &st) == 0)
			snprintf(inc_arch, sizeof(inc_arch), "-I/usr/include/%.60s-linux-gnu", uts.machine);
		else
			inc_arch[0] = '\0';
	}
	char *argv[16];
	int argc = 0;
	const char *fixed[] = { clang, "-O2", "-g", "-target", "bpf", "-Wall", inc_bpf, inc_hdr };
	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
		argv[argc++] = (char *)fixed[i];
	if (inc_arch[0])
		argv[argc++] = inc_arch;
	argv[argc++] = "-c";
	argv[argc++] = (char *)src;
	argv[argc++] = "-o";
	argv[argc++] = (char *)obj;
	argv[argc] = NULL;
	if (bf)
		memset(bf, 0, sizeof(*bf));
	/* clang's diagnostics go to a temporary file: a stack-limit failure
	 * is reported at the DSL instead (see build.h) */
	FILE *t = tmpfile();
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0) {
		fprintf(err, "adnc: error: fork: %s\n", strerror(errno));
		if (t)
			fclose(t);
		return -1;
	}
	if (pid == 0) {
		if (t)
			dup2(fileno(t), 2);
		execvp(clang, argv);
		fprintf(stderr, "adnc: error: cannot run '%s': %s (set CLANG)\n", clang, strerror(errno));
		_exit(127);
	}
	int status;
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			fprintf(err, "adnc: error: waitpid: %s\n", strerror(errno));
			if (t)
				fclose(t);
			return -1;
		}
	}
	return clang_output(t, WIFEXITED(status) && WEXITSTATUS(status) == 0, err, bf);
}

void build_report_stack_limit(struct diag *d, struct loc fallback, const char *chain, int net_size,
			      const char *c_path, const struct build_failure *bf)
{
	const char *cb = strrchr(c_path, '/') ? strrchr(c_path, '/') + 1 : c_path;
	const char *fb = strrchr(bf->file, '/') ? strrchr(bf->file, '/') + 1 : bf->file;
	struct loc at = fallback;
	char fn[128] = "";
	FILE *f = strcmp(cb, fb) == 0 && bf->line ? fopen(c_path, "r") : NULL;

	/* in the generated C: the nearest "<file>.adn:N:" comment above the
	 * line, and the element function it is in */
	if (f) {
		char line[4096];
		for (unsigned ln = 1; ln <= bf->line && fgets(line, sizeof(line), f); ln++) {
			char dsl[256], name[128];
			unsigned dl;
			char *c = strstr(line, "/* ");
			if (c && sscanf(c + 3, "%255[^: ]:%u:", dsl, &dl) == 2 && strstr(dsl, ".adn")) {
				at.line = (int)dl;
				at.col = 1;
			}
			if (sscanf(line, "static __always_inline int %127[A-Za-z0-9_](", name) == 1) {
				snprintf(fn, sizeof(fn), "%s", name);
				at = fallback;
			}
		}
		fclose(f);
	}
	if (at.line != fallback.line || at.col != fallback.col)
		diag_error(d, at, "the code of this statement (%s) needs more than the 512-byte BPF stack: compare fewer or shorter CHAR columns at once, or split the element",
			   fn[0] ? fn : "generated C");
	else
		diag_error(d, at, "chain '%s' needs more than the 512-byte BPF stack (its %d bytes of network fields are copied onto it per frame, plus the table rows and CHAR values its statements build): read or store fewer or shorter CHAR columns, or split the elements",
			   chain, net_size);
}
