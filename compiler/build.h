/* The clang driver: turns the generated <chain>.bpf.c into an object with
 * BTF, with the runtime headers of bpf/ and headers/ on the include path. */
#ifndef ADNC_BUILD_H
#define ADNC_BUILD_H

#include <limits.h>
#include <stdio.h>

struct build_dirs {
	char bpf[PATH_MAX];     /* holds adn_bpf.h, adn_frame.h, adn_sk_msg.h */
	char headers[PATH_MAX]; /* holds adn_wire.h */
};

/* Finds the include directories: $ADN_BPF_INCLUDE / $ADN_HEADERS_INCLUDE,
 * else ../../bpf and ../../headers from the running executable (the build
 * tree: build/bin/adnc), else PREFIX/share/adn/bpf and PREFIX/include/adn.
 * Returns 0, or -1 after explaining on err what is missing. */
int build_find_dirs(struct build_dirs *dirs, FILE *err);

/* Why clang failed, when the cause is the user's program: the generated
 * code needs more than the 512-byte BPF stack (too many or too long CHAR
 * fields read or compared at once). file:line is clang's first such error
 * (the generated C or a runtime header). */
struct build_failure {
	int stack_limit;
	char file[PATH_MAX];
	unsigned line;
};

/* Runs `$CLANG -O2 -g -target bpf -Wall -I<bpf> -I<headers> -c src -o obj`
 * (plus -I/usr/include/<arch>-linux-gnu, where asm/types.h lives).
 * Returns 0 on success, -1 if clang could not run or failed. */
int build_bpf_object(const struct build_dirs *dirs, const char *src, const char *obj, FILE *err);

/* The same; returns 0, -1 if clang could not run or failed (its messages
 * on err), or -2 if it failed on the BPF stack limit (bf filled, nothing
 * on err: the caller reports it at the DSL). bf may be NULL (then -1). */
int build_bpf_object_ex(const struct build_dirs *dirs, const char *src, const char *obj, FILE *err,
			struct build_failure *bf);

struct diag;
struct loc;
/* Reports a stack-limit failure (build_bpf_object returned -2) as one
 * diagnostic: at the DSL statement whose generated code clang stopped in,
 * else at fallback (the chain), naming the chain's network field bytes. */
void build_report_stack_limit(struct diag *d, struct loc fallback, const char *chain, int net_size,
			      const char *c_path, const struct build_failure *bf);

#endif
