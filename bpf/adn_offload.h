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
 * It mirrors the parts of adn_bpf.h that generated element code uses
 * (types, adn_cfg, adn_stats, ADN_COUNT, adn_random, the operator helpers,
 * ADN_META, ADN_BTF_KEEP, ADN_PASS_REWRITE) and defines ADN_BPF_H so that
 * adn_bpf.h is never pulled in as well. What it leaves out on purpose
 * (adn_now, ADN_LOG, adn_socks) makes code that needs it fail to compile
 * rather than silently fall back to the host.
 */
#ifndef ADN_OFFLOAD_H
#define ADN_OFFLOAD_H
#define ADN_OFFLOAD 1
#define ADN_BPF_H /* stands in for adn_bpf.h */

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "adn_wire.h"
#include "adn_hash.h"

typedef __u64 adn_time_t; /* ns of CLOCK_MONOTONIC (not available on the NIC) */
typedef __u64 adn_real_t; /* 32.32 fixed point: 1.0 == 1 << 32 */
#define ADN_REAL_ONE (1ULL << 32)

typedef enum adn_status adn_status_t;
typedef enum adn_kind adn_kind_t;

struct adn_cfg {
	__u32 port; /* the service's UDP port */
};

/* The counters of adn_bpf.h, same names and layout (tools print them by
 * BTF), in a plain ARRAY: the NIC has no per-CPU maps. Bumped with atomic
 * adds (ADN_COUNT). Only the per-datagram ones move here. */
struct adn_stats {
	__u64 sockets;
	__u64 msgs;
	__u64 requests;
	__u64 responses;
	__u64 dropped;
	__u64 rewritten;
	__u64 malformed;
	__u64 corked;
	__u64 log_lost;
	__u64 explicit_runs;
	__u64 bad_layout;
	__u64 routed;
	__u64 route_miss;
};

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

#define ADN_PASS_REWRITE 0x100

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

#define ADN_META(text) \
	__attribute__((section(".adn.meta"), used)) static const char adn_meta[] = text
#define ADN_BTF_KEEP(type, name) \
	__attribute__((section(".adn.btf"), used)) static const type *const adn_btf__##name = 0

/* An atomic add (BPF_XADD): the only write into a map value the NIC has. */
#define ADN_COUNT(field)                                                   \
	do {                                                               \
		__u32 __zero = 0;                                          \
		struct adn_stats *__s = bpf_map_lookup_elem(&adn_stats, &__zero); \
		if (__s)                                                   \
			__sync_fetch_and_add(&__s->field, 1);              \
	} while (0)

static __always_inline adn_real_t adn_random(void)
{
	return (adn_real_t)bpf_get_prandom_u32();
}

/* The operator helpers of adn_bpf.h that compile to NIC instructions
 * (compares, shifts). adn_sdiv64/adn_smod64/adn_real_mul are left out:
 * they need 64-bit multiply or divide, and adnc refuses their operators. */
static __always_inline int adn_cmp_u64(__u64 a, __u64 b)
{
	return a < b ? -1 : a > b ? 1 : 0;
}

static __always_inline __u64 adn_min_u64(__u64 a, __u64 b) { return a < b ? a : b; }
static __always_inline __u64 adn_max_u64(__u64 a, __u64 b) { return a > b ? a : b; }
static __always_inline __s64 adn_min_s64(__s64 a, __s64 b) { return a < b ? a : b; }
static __always_inline __s64 adn_max_s64(__s64 a, __s64 b) { return a > b ? a : b; }

static __always_inline __u32 adn_log2(__u64 v)
{
	__u32 r = 0;

	if (v >> 32) { v >>= 32; r += 32; }
	if (v >> 16) { v >>= 16; r += 16; }
	if (v >> 8) { v >>= 8; r += 8; }
	if (v >> 4) { v >>= 4; r += 4; }
	if (v >> 2) { v >>= 2; r += 2; }
	if (v >> 1) r += 1;
	return r;
}

/* Signed / and % by a power of two (the only divisors adnc lets through):
 * the quotient's magnitude is a shift, so no divide instruction remains
 * once the constant divisor is inlined. */
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

#endif /* ADN_OFFLOAD_H */
