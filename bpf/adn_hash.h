/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * hash() of the adn language. The same functions serve the eBPF programs and
 * userspace (the loader, tests, a future in-process processor), so a value
 * hashes the same everywhere:
 *
 *   h = ADN_HASH_SEED
 *   for each argument, in order:
 *     a number (any integer type, BOOL, TIMESTAMP, REAL, METHOD ...):
 *         h = adn_hash_mix(h, value as a 64-bit two's complement integer)
 *     a CHAR(n): its bytes in chunks of 8, then 4, 2, 1 bytes (as many of
 *         each as fit, like the equality test), each chunk read
 *         little-endian: h = adn_hash_mix(h, chunk)
 *   hash = adn_hash_fin(h)
 *
 * mix is one multiply-xorshift round, fin is the splitmix64 finalizer: no
 * loops, about 10 instructions per chunk.
 */
#ifndef ADN_HASH_H
#define ADN_HASH_H

#include <linux/types.h>

#define ADN_HASH_SEED 0x9e3779b97f4a7c15ULL

static inline __attribute__((always_inline)) __u64 adn_hash_mix(__u64 h, __u64 v)
{
	h ^= v;
	h *= 0xff51afd7ed558ccdULL;
	return h ^ (h >> 32);
}

static inline __attribute__((always_inline)) __u64 adn_hash_fin(__u64 h)
{
	h ^= h >> 30;
	h *= 0xbf58476d1ce4e5b9ULL;
	h ^= h >> 27;
	h *= 0x94d049bb133111ebULL;
	return h ^ (h >> 31);
}

#endif /* ADN_HASH_H */
