/* SPDX-License-Identifier: MIT */
/*
 * Latencies in a log-linear histogram: 64 sub-buckets per power of two
 * (under 2% error) in a fixed array, whatever the run length. Shared by the
 * load generators (examples/kv/kv_client.c, tools/bench/http_load.c) so
 * that their percentiles are computed alike. Header-only; needs -lm.
 */
#ifndef ADN_LATENCY_HIST_H
#define ADN_LATENCY_HIST_H

#include <math.h>
#include <stdint.h>

#define LAT_SUB_BITS 6
#define LAT_SUB (1u << LAT_SUB_BITS)
#define LAT_NBUCKETS ((64 - LAT_SUB_BITS) * LAT_SUB + 2 * LAT_SUB)

struct histogram {
	uint64_t n[LAT_NBUCKETS], total;
};

static inline unsigned hist_bucket_of(uint64_t v)
{
	if (v < 2 * LAT_SUB)
		return (unsigned)v;
	unsigned shift = 63 - (unsigned)__builtin_clzll(v) - LAT_SUB_BITS;
	return shift * LAT_SUB + (unsigned)(v >> shift);
}

static inline double hist_bucket_mid(unsigned b)
{
	if (b < 2 * LAT_SUB)
		return b;
	unsigned shift = b / LAT_SUB - 1;
	return ldexp((double)(b - shift * LAT_SUB) + 0.5, (int)shift);
}

/* Count one latency (any unit; percentiles come back in the same one). */
static inline void hist_add(struct histogram *h, uint64_t v)
{
	h->n[hist_bucket_of(v)]++;
	h->total++;
}

static inline double hist_percentile(const struct histogram *h, double p)
{
	if (!h->total)
		return 0;
	uint64_t rank = (uint64_t)ceil(p * (double)h->total), seen = 0;
	if (rank < 1)
		rank = 1;
	for (unsigned b = 0; b < LAT_NBUCKETS; b++) {
		seen += h->n[b];
		if (seen >= rank)
			return hist_bucket_mid(b);
	}
	return 0;
}

#endif
