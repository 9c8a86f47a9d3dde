/* SPDX-License-Identifier: MIT */
/* The `.adn.meta` ELF section of a compiled chain (docs/internals.md §3):
 * NUL-terminated text, one key=value per line. */
#ifndef ADN_META_H
#define ADN_META_H

#include <stdbool.h>
#include <stdint.h>

struct adn_err;

struct adn_str_list {
	int n;
	char **v; /* point into adn_meta.text */
};

struct adn_meta {
	char *text; /* owned, lines split in place */
	int version;
	const char *chain;
	const char *service;
	bool has_port;
	uint32_t port;
	bool has_layout;
	uint32_t layout;
	struct adn_str_list elements; /* "logging" */
	struct adn_str_list rows;     /* "acl.ac_tab username=alice permission=W" */
	struct adn_str_list params;   /* "fault.probability=0.05" */
	struct adn_str_list logs;     /* "logging.log" */
	struct adn_str_list merges;   /* "count.hits SUM" (absent: UNION) */
	struct adn_str_list defaults; /* "acl.ac_tab level 7": column DEFAULTs */
};

/* Reads section .adn.meta of the ELF object at path. */
int adn_meta_read_elf(struct adn_meta *meta, const char *path, struct adn_err *err);
/* Parses text[0..len) (stops at the first NUL). Unknown keys are ignored so
 * that newer compilers can add some; version must be 0. */
int adn_meta_parse(struct adn_meta *meta, const char *text, size_t len, struct adn_err *err);
void adn_meta_free(struct adn_meta *meta);

#endif
