/* adnc --verify: the kernel verifier's verdict, mapped back to DSL lines. */
#ifndef ADNC_VERIFY_H
#define ADNC_VERIFY_H

#include <stdio.h>

/* Where a rejected program stopped, as far as the log tells. */
struct verify_site {
	char reason[512];    /* the verifier's message */
	char c_file[256];    /* generated C file or runtime header (basename) */
	unsigned c_line;     /* 0 if the log had no line info */
	char dsl_file[256];  /* e.g. kv.adn */
	unsigned dsl_line;   /* 0 if not found */
	char dsl_text[256];  /* the DSL statement, as the generated comment has it */
};

/* Parse a verifier log (as libbpf prints it) and the generated C source
 * (c_name: its file name as clang saw it). Fills site. */
int verify_locate(const char *log, const char *c_source, const char *c_name,
		  struct verify_site *site);

/* Load obj_path into the kernel (nothing pinned or attached; all freed).
 * 0: accepted; 2: rejected (a message on err, with the DSL line);
 * 1: could not try (not root, unreadable object). */
int adnc_verify(const char *obj_path, const char *c_path, FILE *err);

#endif
