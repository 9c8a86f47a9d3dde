/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * The runtime of an offloaded chain (adnc --target offload, docs/offload.md):
 * what `<chain>.offload.bpf.c` includes first, in place of adn_bpf.h. The
 * program itself is in adn_offload_xdp.h, included last.
 *
 * A SmartNIC of the Netronome NFP kind runs XDP (and TC) programs under
 * rules that the host kernel's verifier does not check:
 *   - maps: HASH and ARRAY only (no per-CPU map, no ring buffer, no LRU, no
 *     SOCKHASH, no global data sections);
 *   - helpers: map lookup/update/delete, get_prandom_u32, xdp_adjust_head,
 *     xdp_adjust_tail, perf_event_output;
 *   - no plain stores into map values: atomic adds only;
 *   - no tail calls, no bpf_loop, no bpf_ktime_get_ns;
 *   - multiply and divide: 32-bit, by constants only.
 * adnc checks the elements against these rules (compiler/offload.c) and the
 * object it built against the helper and instruction rules. This header
 * keeps the runtime inside them: one ARRAY of counters bumped with atomic
 * adds instead of adn_bpf.h's per-CPU array, no socket map, no ring
 * buffer, no clock.
 *
 * It shares adn_types.h with adn_bpf.h, adds its own maps and ADN_COUNT,
 * and defines ADN_BPF_H so that adn_bpf.h is never pulled in as well. What it leaves out on purpose
 * (adn_now, ADN_LOG, adn_socks) makes code that needs it fail to compile
 * rather than silently fall back to the host.
 */
#ifndef ADN_OFFLOAD_H
#define ADN_OFFLOAD_H
#define ADN_OFFLOAD 1
#define ADN_BPF_H /* stands in for adn_bpf.h */

/* Types, adn_cfg, adn_stats (the same counters, so tools print them by
 * the same BTF; here in a plain ARRAY, the NIC has no per-CPU maps),
 * ADN_META, ADN_BTF_KEEP, ADN_PASS_REWRITE, adn_random and the operator
 * helpers that compile to NIC instructions. */
#include "adn_types.h"

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct adn_cfg);
} adn_cfg SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct adn_stats);
} adn_stats SEC(".maps");

/* The chain also defines a response pair and the pairs of hooks that have
 * no program in this object: unused on the NIC, and declared so. */
struct adn_frame;
static __always_inline __attribute__((unused)) int adn_chain_response(struct adn_frame *f, __u32 from);
static __always_inline __attribute__((unused)) int adn_chain_request_none(struct adn_frame *f, __u32 *at);
static __always_inline __attribute__((unused)) int adn_chain_response_none(struct adn_frame *f, __u32 from);

#ifndef ADN_XDP_CHAIN_REQUEST
#define ADN_XDP_CHAIN_REQUEST adn_chain_request
#define ADN_XDP_CHAIN_RESPONSE adn_chain_response
#endif

/* An atomic add (BPF_XADD): the only write into a map value the NIC has. */
#define ADN_COUNT(field)                                                   \
	do {                                                               \
		__u32 __zero = 0;                                          \
		struct adn_stats *__s = bpf_map_lookup_elem(&adn_stats, &__zero); \
		if (__s)                                                   \
			__sync_fetch_and_add(&__s->field, 1);              \
	} while (0)

#endif /* ADN_OFFLOAD_H */
