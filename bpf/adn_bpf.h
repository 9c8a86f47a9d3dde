/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * adn eBPF runtime: what every generated chain (and the hand-written
 * reference chain) includes first. Types, the maps every chain has, and
 * small always-inline helpers. The programs themselves are in
 * adn_sk_msg.h, included last, after the chain's functions.
 */
#ifndef ADN_BPF_H
#define ADN_BPF_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "adn_wire.h"
#include "adn_hash.h"

#ifndef AF_INET
#define AF_INET 2
#endif
#ifndef AF_INET6
#define AF_INET6 10
#endif

/* Typedefs whose names tell tools (maps/, adnctl, the log drainer) how to
 * print a value; keep them typedefs so they survive into BTF. */
typedef __u64 adn_time_t; /* ns of CLOCK_MONOTONIC (bpf_ktime_get_ns) */
typedef __u64 adn_real_t; /* 32.32 fixed point: 1.0 == 1 << 32 */
#define ADN_REAL_ONE (1ULL << 32)

/* Referenced from a map value below so that the enums reach BTF. */
typedef enum adn_status adn_status_t;
typedef enum adn_kind adn_kind_t;

/* Key of adn_socks. sock_ops and sk_msg both see the 4-tuple (sk_msg cannot
 * call bpf_get_socket_cookie on this kernel), so the key is the tuple as the
 * socket itself sees it: local first. Ports are copied raw from the context
 * (local host order, remote network order in the high half); both program
 * types present them the same way. */
struct adn_sock_key {
	__u32 family;
	__u32 local_ip[4];
	__u32 remote_ip[4];
	__u32 local_port;
	__u32 remote_port;
};

struct adn_cfg {
	__u32 port; /* the service's TCP port: which sockets join the chain */
};

/* Counters, per CPU; `adn-load status` sums and prints them by these names. */
struct adn_stats {
	__u64 sockets;       /* sockets added to adn_socks */
	__u64 msgs;          /* sk_msg runs */
	__u64 requests;      /* request frames that ran the chain */
	__u64 responses;     /* response frames that ran the chain */
	__u64 dropped;       /* requests an element dropped (answered by the network) */
	__u64 rewritten;     /* frames an element changed (request fields, response status) */
	__u64 malformed;     /* frames with an impossible header: the sending socket is dropped */
	__u64 corked;        /* runs that waited for the rest of a split header */
	__u64 log_lost;      /* log records the ring buffer had no room for */
	__u64 explicit_runs; /* runs that needed per-frame verdicts (after a drop) */
	__u64 bad_layout;    /* requests of another layout hash, answered FAILED_PRECONDITION */
	__u64 routed;        /* requests sent to a replica by ROUTE TO REPLICA */
	__u64 route_miss;    /* requests whose replica had no connection (UNAVAILABLE) or address family */
};

/* What the chain decided for one request besides pass or drop. The runtime
 * hands the chain functions &v.at (the first member), so chains that do not
 * route see a plain __u32 *at; a ROUTE TO REPLICA writes the rest
 * (adn_route_set, adn_route.h). */
struct adn_verdict {
	__u32 at;     /* index of the element that dropped the request */
	__u32 routed; /* 1: route holds the route value of the request */
	__u64 route;
};

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

/* adn_chain_request() returns this when the request passes and an element
 * changed its network fields: the runtime writes them back into the frame. */
#define ADN_PASS_REWRITE 0x100

/* Which chain functions each runtime header calls (docs/internals.md §3):
 * a chain split across hooks defines these before including the headers. */
#ifndef ADN_MSG_CHAIN_REQUEST
#define ADN_MSG_CHAIN_REQUEST adn_chain_request
#define ADN_MSG_CHAIN_RESPONSE adn_chain_response
#endif
#ifndef ADN_TC_CHAIN_REQUEST
#define ADN_TC_CHAIN_REQUEST adn_chain_request
#define ADN_TC_CHAIN_RESPONSE adn_chain_response
#endif
#ifndef ADN_XDP_CHAIN_REQUEST
#define ADN_XDP_CHAIN_REQUEST adn_chain_request
#define ADN_XDP_CHAIN_RESPONSE adn_chain_response
#endif

/* Meta text for the loader: ELF section .adn.meta, see docs/internals.md. */
#define ADN_META(text) \
	__attribute__((section(".adn.meta"), used)) static const char adn_meta[] = text

/* Keep a type in the object's BTF although no map or program names it:
 * log records go through a ring buffer, which carries no BTF of its own,
 * and readers find the record type by name. libbpf skips the section. */
#define ADN_BTF_KEEP(type, name) \
	__attribute__((section(".adn.btf"), used)) static const type *const adn_btf__##name = 0

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

/* random() of the language: uniform in [0, 1) as 32.32 fixed point. */
static __always_inline adn_real_t adn_random(void)
{
	return (adn_real_t)bpf_get_prandom_u32();
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

/* -1, 0, 1: chunks of CHAR values compared in memcmp order. */
static __always_inline int adn_cmp_u64(__u64 a, __u64 b)
{
	return a < b ? -1 : a > b ? 1 : 0;
}

static __always_inline __u64 adn_min_u64(__u64 a, __u64 b) { return a < b ? a : b; }
static __always_inline __u64 adn_max_u64(__u64 a, __u64 b) { return a > b ? a : b; }
static __always_inline __s64 adn_min_s64(__s64 a, __s64 b) { return a < b ? a : b; }
static __always_inline __s64 adn_max_s64(__s64 a, __s64 b) { return a > b ? a : b; }

/* log2(x): floor of the base-2 logarithm, 0 for 0 and 1. Six steps, no loop. */
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
