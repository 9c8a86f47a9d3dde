/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * adn eBPF types and pure helpers: what every chain's code may use on any
 * target. adn_bpf.h (host hooks) and adn_offload.h (NIC) add their own maps
 * and counters on top; neither repeats what is here.
 */
#ifndef ADN_TYPES_H
#define ADN_TYPES_H

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
	__u32 port; /* the service's port: which sockets (sock_ops) or datagrams (TC/XDP) are the chain's */
};

/* Counters (per CPU on the host, one ARRAY on a NIC); `adn-load status`
 * sums and prints them by these names. */
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
	__u64 answered;      /* requests an element answered itself (INSERT INTO reply, TC) */
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

/* adn_chain_request() returns this when the request passes and an element
 * changed its network fields: the runtime writes them back into the frame. */
#define ADN_PASS_REWRITE 0x100

/* An element that answers a request itself (INSERT INTO reply) returns
 * ADN_ANSWER(n): it wrote the n bytes of the method's response fields
 * into the frame right after the header (n <= ADN_REPLY_BODY_MAX), and the
 * runtime turns the request into the network's reply, status OK, with
 * those fields (bpf/adn_dgram.h, adn_tc.h). Only the TC runtime builds
 * such a reply: the compiler refuses the statement over TCP. */
#define ADN_ANSWER_BIT 0x200
#define ADN_ANSWER(n) (ADN_ANSWER_BIT | (n))
#define ADN_REPLY_BODY_MAX 64

/* Meta text for the loader: ELF section .adn.meta, see docs/internals.md. */
#define ADN_META(text) \
	__attribute__((section(".adn.meta"), used)) static const char adn_meta[] = text

/* Keep a type in the object's BTF although no map or program names it:
 * log records go through a ring buffer, which carries no BTF of its own,
 * and readers find the record type by name. libbpf skips the section. */
#define ADN_BTF_KEEP(type, name) \
	__attribute__((section(".adn.btf"), used)) static const type *const adn_btf__##name = 0

/* random() of the language: uniform in [0, 1) as 32.32 fixed point. */
static __always_inline adn_real_t adn_random(void)
{
	return (adn_real_t)bpf_get_prandom_u32();
}

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

#endif /* ADN_TYPES_H */
