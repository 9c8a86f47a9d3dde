/* libFuzzer target: any bytes through the whole front end (lexer, parser,
 * checks, IR, reordering) and every generator. Built by selftests/fuzz/fuzz.mk
 * with clang -fsanitize=fuzzer,address,undefined. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "adnc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static FILE *devnull;
	if (!devnull)
		devnull = fopen("/dev/null", "w");
	struct adnc_unit *u = adnc_compile_source("fuzz.adn", (const char *)data, size, devnull);
	if (u->ir) {
		ir_reorder(&u->arena, u->ir, size & 1);
		u->ir->fold_params = size & 2;
		free(adnc_gen_bpf(u));
		free(adnc_gen_header(u));
		free(adnc_gen_plan(u));
		free(adnc_gen_explain(u));
	}
	adnc_unit_free(u);
	return 0;
}
