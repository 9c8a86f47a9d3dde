/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * adn eBPF runtime: what every generated chain (and the hand-written
 * reference chain) includes first. Types, the maps every chain has, and
 * small always-inline helpers. The programs themselves are in
 * adn_sk_msg.h, included last, after the chain's functions.
 */
#ifndef ADN_BPF_H
#define ADN_BPF_H

#include "adn_types.h"

struct {
	__uint(type, BPF_MAP_TYPE_SOCKHASH);
	__uint(max_entries, 65536);
	__type(key, struct adn_sock_key);
	__type(value, __u64);
} adn_socks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct adn_cfg);
} adn_cfg SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct adn_stats);
} adn_stats SEC(".maps");


/* Which chain functions each runtime header calls (docs/internals.md §3):
 * a chain split across hooks defines these before including the headers. */
#ifndef ADN_MSG_CHAIN_REQUEST
#define ADN_MSG_CHAIN_REQUEST adn_chain_request
#define ADN_MSG_CHAIN_RESPONSE adn_chain_response
#endif
#ifndef ADN_SKB_CHAIN_REQUEST
#define ADN_SKB_CHAIN_REQUEST adn_chain_request
#endif
#ifndef ADN_TC_CHAIN_REQUEST
#define ADN_TC_CHAIN_REQUEST adn_chain_request
#define ADN_TC_CHAIN_RESPONSE adn_chain_response
#endif
#ifndef ADN_XDP_CHAIN_REQUEST
#define ADN_XDP_CHAIN_REQUEST adn_chain_request
#define ADN_XDP_CHAIN_RESPONSE adn_chain_response
#endif



#define ADN_COUNT(field)                                                   \
	do {                                                               \
		__u32 __zero = 0;                                          \
		struct adn_stats *__s = bpf_map_lookup_elem(&adn_stats, &__zero); \
		if (__s)                                                   \
			__s->field++;                                      \
	} while (0)

static __always_inline adn_time_t adn_now(void)
{
	return bpf_ktime_get_ns();
}


/* Append one record to a log table. BPF_RB_NO_WAKEUP: a wakeup per record
 * costs an interrupt and a reader wakeup (6-11 us per RPC measured here);
 * the drainer polls on a timer instead. */
#define ADN_LOG(map, rec)                                                  \
	do {                                                               \
		if (bpf_ringbuf_output(&(map), &(rec), sizeof(rec), BPF_RB_NO_WAKEUP)) \
			ADN_COUNT(log_lost);                               \
	} while (0)

/* Helpers of the language's operators and functions (docs/language.md). */

/* Signed / and % (clang 14 has no signed division for BPF): C semantics,
 * truncation toward zero; division by zero gives 0 like eBPF's. */
static __always_inline __s64 adn_sdiv64(__s64 a, __s64 b)
{
	__u64 ua = a < 0 ? -(__u64)a : (__u64)a, ub = b < 0 ? -(__u64)b : (__u64)b;
	__u64 q;

	if (!ub)
		return 0;
	q = ua / ub;
	return (a < 0) != (b < 0) ? -(__s64)q : (__s64)q;
}

static __always_inline __s64 adn_smod64(__s64 a, __s64 b)
{
	__u64 ua = a < 0 ? -(__u64)a : (__u64)a, ub = b < 0 ? -(__u64)b : (__u64)b;
	__u64 m;

	if (!ub)
		return a;
	m = ua % ub;
	return a < 0 ? -(__s64)m : (__s64)m;
}

/* REAL * REAL in 32.32 fixed point, without a 128-bit product. */
static __always_inline adn_real_t adn_real_mul(adn_real_t a, adn_real_t b)
{
	__u64 ah = a >> 32, al = a & 0xffffffffULL, bh = b >> 32, bl = b & 0xffffffffULL;

	return ((ah * bh) << 32) + ah * bl + al * bh + ((al * bl) >> 32);
}

#endif /* ADN_BPF_H */
