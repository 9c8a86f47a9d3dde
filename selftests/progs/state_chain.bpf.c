// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * A test chain for state lifecycle (snapshot, restore, merge, migrate, hot
 * update) with every table kind adn maps onto BPF: HASH, LRU_HASH, ARRAY,
 * PERCPU_HASH, PERCPU_ARRAY, and a 1M-row HASH (BIG adds a 1M-row table of
 * every other kind: big.lru, big.phash, big.arr, big.parr). Written by hand in adnc's style (same
 * runtime, names, .adn.meta) because the language does not yet have
 * UPDATE / runtime INSERT (docs/language.md, "Not in v0").
 * Built by the kernel tests:
 *   clang -O2 -g -target bpf -Ibpf -Iheaders -I/usr/include/$(uname -m)-linux-gnu \
 *         -DVERSION=1 -c selftests/progs/state_chain.bpf.c -o state1.bpf.o
 * VERSION (1..3) is counted per request in count.by_ver; WIDE adds a column
 * to count.hits (an incompatible layout for hot update); NARROW changes the
 * type of count.hits.n (a restore must refuse it); MORE_PARAM adds the
 * parameter rate.floor. BIG_FILL is BIG with
 * big.phash a plain HASH: the tests fill it with map_fill and restore it
 * into a BIG chain (each row onto CPU 0).
 */
#include "adn_bpf.h"

#ifndef VERSION
#define VERSION 1
#endif

struct adn_net {
	char username[16];
	char key[32];
} __attribute__((packed));

#include "adn_frame.h"

struct adn_params {
	__u64 rate__burst;
#ifdef MORE_PARAM
	__u64 rate__floor; /* a parameter older snapshots lack */
#endif
};
#ifdef MORE_PARAM
#define MORE_PARAM_META "param=rate.floor=7\n"
#else
#define MORE_PARAM_META ""
#endif

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct adn_params);
} adn_params SEC(".maps");

/* count.hits: requests per user (SUM) */
struct count__hits_key {
	char user[16];
};
struct count__hits_val {
#ifdef NARROW
	__u32 n; /* a changed column type: restore refuses it */
#else
	__u64 n;
#endif
	adn_time_t last;
#ifdef WIDE
	__u32 extra;
#endif
};
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, struct count__hits_key);
	__type(value, struct count__hits_val);
} count__hits SEC(".maps");

/* count.by_ver: requests per chain version (SUM) */
struct count__by_ver_key {
	__u32 ver;
};
ADN_BTF_KEEP(struct count__by_ver_key, count__by_ver_key);
struct count__by_ver_val {
	__u64 n;
};
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, struct count__by_ver_val);
} count__by_ver SEC(".maps");

/* count.pcpu: requests, one counter per CPU (SUM) */
struct count__pcpu_key {
	__u32 idx;
};
ADN_BTF_KEEP(struct count__pcpu_key, count__pcpu_key);
struct count__pcpu_val {
	__u64 requests;
};
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct count__pcpu_val);
} count__pcpu SEC(".maps");

/* count.users: requests per user, one counter per CPU (SUM) */
struct count__users_key {
	char user[16];
};
struct count__users_val {
	__u64 n;
};
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 1024);
	__type(key, struct count__users_key);
	__type(value, struct count__users_val);
} count__users SEC(".maps");

/* seen.users: last request per user, LRU (LAST at) */
struct seen__users_key {
	char user[16];
};
struct seen__users_val {
	adn_time_t at;
	__u32 rpc;
	char tag[8];
};
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 256);
	__type(key, struct seen__users_key);
	__type(value, struct seen__users_val);
} seen__users SEC(".maps");

/* pair.rows: written whole (b == 2a always): per-row atomicity of snapshots */
struct pair__rows_key {
	char user[16];
};
struct pair__rows_val {
	__u64 a;
	__u64 pad[6];
	__u64 b;
};
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, struct pair__rows_key);
	__type(value, struct pair__rows_val);
} pair__rows SEC(".maps");

/* big.rows: 1M rows, filled by the tests (MAX) */
struct big__rows_key {
	__u64 id;
};
struct big__rows_val {
	__u64 v;
	char name[8];
};
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1 << 20);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct big__rows_key);
	__type(value, struct big__rows_val);
} big__rows SEC(".maps");

#if defined(BIG) || defined(BIG_FILL)
/* 1M rows of the other kinds, same row shape as big.rows (map_fill) */
#ifdef BIG_FILL
#define BIG_PHASH_TYPE BPF_MAP_TYPE_HASH
#else
#define BIG_PHASH_TYPE BPF_MAP_TYPE_PERCPU_HASH
#endif
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 1 << 20);
	__type(key, struct big__rows_key);
	__type(value, struct big__rows_val);
} big__lru SEC(".maps");
struct {
	__uint(type, BIG_PHASH_TYPE);
	__uint(max_entries, 1 << 20); /* preallocated: per-CPU allocations of 1M rows fail */
	__type(key, struct big__rows_key);
	__type(value, struct big__rows_val);
} big__phash SEC(".maps");
struct big__arr_key {
	__u32 idx;
};
ADN_BTF_KEEP(struct big__arr_key, big__arr_key);
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1000000);
	__type(key, __u32);
	__type(value, struct big__rows_val);
} big__arr SEC(".maps");
struct big__parr_key {
	__u32 idx;
};
ADN_BTF_KEEP(struct big__parr_key, big__parr_key);
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1000000);
	__type(key, __u32);
	__type(value, struct big__rows_val);
} big__parr SEC(".maps");
#endif

/* rate.bucket: a token bucket (MIN); never drops, records what it would */
struct rate__bucket_key {
	__u32 idx;
};
ADN_BTF_KEEP(struct rate__bucket_key, rate__bucket_key);
struct rate__bucket_val {
	__s64 tokens;
	adn_time_t stamp;
	__u64 consumed;
};
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct rate__bucket_val);
} rate__bucket SEC(".maps");

static __always_inline void count_user(struct adn_frame *f)
{
	struct count__users_val one = { .n = 1 }, *u;

	u = bpf_map_lookup_elem(&count__users, f->net.username);
	if (u)
		u->n++; /* this CPU's copy */
	else
		bpf_map_update_elem(&count__users, f->net.username, &one, BPF_NOEXIST);
}

static __always_inline int count_request(struct adn_frame *f)
{
	struct count__hits_val *v, nv = { .n = 1, .last = adn_now() };
	struct count__pcpu_val *p;
	struct count__by_ver_val *bv;
	struct pair__rows_val pr = {};
	__u32 ver = VERSION, zero = 0;
	__u64 n = 1;

	v = bpf_map_lookup_elem(&count__hits, f->net.username);
	if (v) {
#ifdef NARROW
		n = ++v->n;
#else
		n = __sync_fetch_and_add(&v->n, 1) + 1;
#endif
		v->last = nv.last;
	} else if (bpf_map_update_elem(&count__hits, f->net.username, &nv, BPF_NOEXIST)) {
		v = bpf_map_lookup_elem(&count__hits, f->net.username);
		if (v)
			__sync_fetch_and_add(&v->n, 1);
	}
	bv = bpf_map_lookup_elem(&count__by_ver, &ver);
	if (bv)
		__sync_fetch_and_add(&bv->n, 1);
	p = bpf_map_lookup_elem(&count__pcpu, &zero);
	if (p)
		__sync_fetch_and_add(&p->requests, 1);
	count_user(f);
	pr.a = n;
	pr.b = 2 * n;
	bpf_map_update_elem(&pair__rows, f->net.username, &pr, BPF_ANY);
	return 0;
}

static __always_inline int seen_request(struct adn_frame *f)
{
	struct seen__users_val sv = { .at = adn_now(), .rpc = f->hdr.rpc_id };

	sv.tag[0] = 'v';
	sv.tag[1] = '0' + VERSION;
	bpf_map_update_elem(&seen__users, f->net.username, &sv, BPF_ANY);
	return 0;
}

static __always_inline int rate_request(struct adn_frame *f)
{
	struct rate__bucket_val *b;
	struct adn_params *p;
	__u32 zero = 0;
	__u64 now = adn_now();

	b = bpf_map_lookup_elem(&rate__bucket, &zero);
	p = bpf_map_lookup_elem(&adn_params, &zero);
	if (!b || !p)
		return 0;
	__s64 t = b->tokens + (__s64)((now - b->stamp) / 1000000); /* 1000 tokens/s */
	if (t > (__s64)p->rate__burst)
		t = (__s64)p->rate__burst;
	b->tokens = t - 1;
	b->stamp = now;
	__sync_fetch_and_add(&b->consumed, 1);
	return 0;
}

#define ADN_N_ELEMENTS 3

static __always_inline int adn_chain_request(struct adn_frame *f, __u32 *at)
{
	count_request(f);
	seen_request(f);
	rate_request(f);
	return 0;
}

static __always_inline int adn_chain_response(struct adn_frame *f, __u32 from)
{
	return 0;
}

ADN_META("version=0\n"
	 "chain=state\n"
	 "service=kv\n"
	 "port=7070\n"
	 "layout=0xcd631b53\n"
	 "element=count\n"
	 "element=seen\n"
	 "element=rate\n"
	 "param=rate.burst=1000\n" MORE_PARAM_META
	 "merge=count.hits SUM\n"
	 "merge=count.by_ver SUM\n"
	 "merge=count.pcpu SUM\n"
	 "merge=count.users SUM\n"
	 "merge=seen.users LAST at\n"
	 "merge=big.rows MAX\n"
	 "merge=rate.bucket MIN\n");

#include "adn_sk_msg.h"

char LICENSE[] SEC("license") = "GPL";
