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

/* Runs `$CLANG -O2 -g -target bpf -Wall -I<bpf> -I<headers> -c src -o obj`
 * (plus -I/usr/include/<arch>-linux-gnu, where asm/types.h lives).
 * Returns 0 on success, -1 if clang could not run or failed. */
int build_bpf_object(const struct build_dirs *dirs, const char *src, const char *obj, FILE *err);

#endif
