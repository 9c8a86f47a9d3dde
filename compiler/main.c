/* adnc: the adn compiler's command line. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "adnc.h"
#include "codegen.h"
#include "verify.h"

static void usage(FILE *out)
{
	fputs("usage: adnc FILE.adn -o OUTDIR [-O0|-O1] [--fold-params] [--place E=HOOK] [--hook HOOK]\n"
	      "            [--explain] [--emit-c-only] [--verify] [--target host|offload]\n"
	      "       adnc FILE.adn --explain\n"
	      "\n"
	      "Compiles a chain of adn elements into eBPF. Writes into OUTDIR:\n"
	      "  <chain>.bpf.c   the generated eBPF C (readable)\n"
	      "  <chain>.bpf.o   the object with BTF (clang -O2 -g -target bpf)\n"
	      "  <chain>.json    the plan: elements, network fields, layout, maps\n"
	      "  <chain>_rpc.h   the wire layout and encode/decode stubs for the app\n"
	      "\n"
	      "options:\n"
	      "  -o, --output DIR  where to write (created if missing)\n"
	      "  --explain         print the plan: order, placement, header layout, maps\n"
	      "  --emit-c-only     do not run clang (no .bpf.o)\n"
	      "  -O0               keep the written element order\n"
	      "  -O1               (default) move drops earlier where nothing observable changes\n"
	      "  --fold-params     compile parameters in as constants (adnctl param has no effect)\n"
	      "  --verify          load the object into the kernel verifier (root); a rejection\n"
	      "                    is reported at the DSL line that produced the code\n"
	      "  --place E=HOOK    run element E at HOOK (sk_msg, sk_skb, tc, xdp, app): for testing;\n"
	      "                    refused with a reason when E cannot run there\n"
	      "  --hook HOOK       run every kernel element at HOOK\n"
	      "  --target offload  also build <chain>.offload.bpf.o: the elements that fit a\n"
	      "                    SmartNIC's rules (NFP) run at XDP on the server's NIC\n"
	      "                    (docs/offload.md); --target host (default) does not\n"
	      "  --verify-object X.bpf.o  only verify an object (its X.bpf.c maps lines back)\n"
	      "  --help            this text\n"
	      "  --version         print the version\n"
	      "\n"
	      "environment: CLANG (default clang), ADN_BPF_INCLUDE, ADN_HEADERS_INCLUDE\n"
	      "exit status: 0 ok, 1 usage, 2 errors in the program, 3 clang failed (a bug in adnc),\n"
	      "             4 the verifier rejected the program (--verify; a bug in adnc)\n",
	      out);
}

/* A usage error (an unknown option, a missing or extra argument): its one
 * line, then where to look; returns the exit status. */
static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs("adnc: error: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\nTry 'adnc --help'.\n", stderr);
	return ADNC_EXIT_USAGE;
}

static int verify_object_cli(const char *obj)
{
	char c_path[4096];
	size_t n = strlen(obj);

	if (n < 2 || strcmp(obj + n - 2, ".o") || n + 1 > sizeof(c_path)) {
		fprintf(stderr, "adnc: error: --verify-object: '%s' is not an X.bpf.o file\n", obj);
		return ADNC_EXIT_USAGE;
	}
	snprintf(c_path, sizeof(c_path), "%.*s.c", (int)(n - 2), obj);
	int v = adnc_verify(obj, c_path, stderr);
	return v == 2 ? ADNC_EXIT_VERIFIER : v ? ADNC_EXIT_USAGE : ADNC_EXIT_OK;
}

int main(int argc, char **argv)
{
	struct adnc_options o = { .opt_level = 1 };
	static struct ir_forced_place forced[64];
	size_t n_forced = 0;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			usage(stdout);
			return ADNC_EXIT_OK;
		} else if (strcmp(a, "--version") == 0) {
			printf("adnc %s (language v0, wire format v0)\n", ADNC_VERSION);
			return ADNC_EXIT_OK;
		} else if (strcmp(a, "--explain") == 0) {
			o.explain = true;
		} else if (strcmp(a, "-O0") == 0 || strcmp(a, "-O1") == 0) {
			o.opt_level = a[2] - '0';
		} else if (strcmp(a, "--fold-params") == 0) {
			o.fold_params = true;
		} else if (strcmp(a, "--verify") == 0) {
			o.verify = true;
		} else if (strcmp(a, "--verify-object") == 0) {
			/* an object built (or edited) outside adnc: X.bpf.o with its
			 * generated source X.bpf.c beside it */
			if (++i == argc)
				return usage_error("--verify-object needs X.bpf.o");
			return verify_object_cli(argv[i]);
		} else if (strcmp(a, "--target") == 0 || strncmp(a, "--target=", 9) == 0) {
			const char *v = a[8] == '=' ? a + 9 : ++i < argc ? argv[i] : NULL;
			if (!v)
				return usage_error("--target needs host or offload");
			if (strcmp(v, "offload") && strcmp(v, "host")) {
				fprintf(stderr, "adnc: error: --target needs host or offload\n");
				return ADNC_EXIT_USAGE;
			}
			o.offload = strcmp(v, "offload") == 0;
		} else if (strcmp(a, "--emit-c-only") == 0) {
			o.emit_c_only = true;
		} else if (strcmp(a, "--place") == 0 || strcmp(a, "--hook") == 0) {
			bool hook = a[2] == 'h';
			const char *v = ++i < argc ? argv[i] : NULL;
			char *eq = v && !hook ? strchr(v, '=') : NULL;
			if (!v || (!hook && !eq))
				return usage_error("%s needs %s", a, hook ? "HOOK" : "ELEMENT=HOOK");
			if (n_forced == sizeof(forced) / sizeof(forced[0])) {
				fprintf(stderr, "adnc: error: %s: at most %zu\n", a,
					sizeof(forced) / sizeof(forced[0]));
				return ADNC_EXIT_USAGE;
			}
			if (eq)
				*eq = '\0';
			forced[n_forced].element = hook ? NULL : v;
			forced[n_forced].place = ir_place_parse(hook ? v : eq + 1);
			if (forced[n_forced].place == PLACE_NONE) {
				fprintf(stderr, "adnc: error: %s: unknown hook '%s' (sk_msg, sk_skb, tc, xdp, app)\n",
					a, hook ? v : eq + 1);
				return ADNC_EXIT_USAGE;
			}
			n_forced++;
		} else if (strcmp(a, "-o") == 0 || strcmp(a, "--output") == 0) {
			if (++i == argc)
				return usage_error("%s needs a directory", a);
			o.outdir = argv[i];
		} else if (strncmp(a, "-o", 2) == 0) {
			o.outdir = a + 2;
		} else if (strncmp(a, "--output=", 9) == 0) {
			o.outdir = a + 9;
		} else if (a[0] == '-' && a[1]) {
			return usage_error("unknown option '%s'", a);
		} else if (o.input) {
			return usage_error("more than one input file ('%s' and '%s')", o.input, a);
		} else {
			o.input = a;
		}
	}
	if (!o.input)
		return usage_error("no input file");
	if (!o.outdir && !o.explain)
		return usage_error("no output directory (-o DIR), and no --explain");
	o.forced = forced;
	o.n_forced = n_forced;
	return adnc_run(&o);
}
