/* SPDX-License-Identifier: MIT */
/* What s2-client and s2-server agree on: the content of an object, which
 * both ends can check byte by byte (so a payload that the library failed
 * to restore is caught), and compressible like real text. */
#ifndef S2_COMMON_H
#define S2_COMMON_H

#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* Byte i of object id's content: "object <id>, byte <i/64*64>; " repeated. */
static inline void s2_fill(uint8_t *p, size_t len, uint64_t id)
{
	char line[128];
	for (size_t i = 0; i < len; i += 64) {
		int n = snprintf(line, sizeof(line), "object %llu, bytes %zu.. of this object; ",
				 (unsigned long long)id, i);
		for (size_t j = 0; j < 64 && i + j < len; j++)
			p[i + j] = (uint8_t)(j < (size_t)n ? line[j] : '.');
	}
}

/* 1 if the len bytes at p are object id's content. */
static inline int s2_check(const uint8_t *p, size_t len, uint64_t id)
{
	uint8_t want[64];
	for (size_t i = 0; i < len; i += 64) {
		size_t n = len - i < 64 ? len - i : 64;
		char line[128];
		int k = snprintf(line, sizeof(line), "object %llu, bytes %zu.. of this object; ",
				 (unsigned long long)id, i);
		for (size_t j = 0; j < 64; j++)
			want[j] = (uint8_t)(j < (size_t)k ? line[j] : '.');
		if (memcmp(p + i, want, n))
			return 0;
	}
	return 1;
}

#endif /* S2_COMMON_H */
