/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * The paper's chain (logging, ACL, fault injection) for examples/kv/kv.adn,
 * written by hand: the network fields, parameters, tables and one function
 * per element and direction, ending with adn_chain_request() and
 * adn_chain_response(). Shared by the three reference programs, which add
 * their hook's runtime after it: kv_chain.bpf.c (sk_msg, TCP),
 * kv_chain_tc.bpf.c (TC, UDP) and kv_chain_xdp.bpf.c (XDP, UDP).
 *
 * Include after adn_bpf.h. -DKV_CHAIN_NO_LOG leaves the log element's
 * records out (it still runs, as a pass-through), to measure what the ring
 * buffer costs.
 */
#ifndef KV_CHAIN_ELEMENTS_H
#define KV_CHAIN_ELEMENTS_H

/* Network fields of service kv: what the elements read, right after the
 * 16-byte header. */
struct adn_net {
	char username[16];
	char key[32];
} __attribute__((packed));

#include "adn_frame.h"

enum kv_method {
	KV_GET = 1,
	KV_PUT = 2,
};

/* Parameters, one member per element parameter, changeable at run time. */
struct adn_params {
	adn_real_t fault__probability;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct adn_params);
} adn_params SEC(".maps");

/* logging.log: one record per request and per response. */
struct adn_rec__logging__log {
	adn_time_t time;
	__u32 rpc_id;
	enum kv_method method;
	enum adn_kind kind;
	enum adn_status status;
	char user[16];
	char key[32];
};
ADN_BTF_KEEP(struct adn_rec__logging__log, logging__log);

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 23); /* 65536 records of 72 bytes, rounded up */
} logging__log SEC(".maps");

/* acl.ac_tab: username -> permission. */
struct acl__ac_tab_key {
	char username[16];
};

struct acl__ac_tab_val {
	char permission[2];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, struct acl__ac_tab_key);
	__type(value, struct acl__ac_tab_val);
} acl__ac_tab SEC(".maps");

static __always_inline struct adn_params *params(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&adn_params, &zero);
}

static __always_inline int logging_request(struct adn_frame *f)
{
	struct adn_rec__logging__log rec = {
		.time = adn_now(),
		.rpc_id = f->hdr.rpc_id,
		.method = f->hdr.method,
		.kind = f->hdr.kind,
		.status = f->hdr.status,
	};

	__builtin_memcpy(rec.user, f->net.username, sizeof(rec.user));
	__builtin_memcpy(rec.key, f->net.key, sizeof(rec.key));
#ifndef KV_CHAIN_NO_LOG
	ADN_LOG(logging__log, rec);
#else
	(void)rec;
#endif
	return 0;
}

static __always_inline int logging_response(struct adn_frame *f)
{
	struct adn_rec__logging__log rec = {
		.time = adn_now(),
		.rpc_id = f->hdr.rpc_id,
		.method = f->hdr.method,
		.kind = f->hdr.kind,
		.status = f->hdr.status,
	};

#ifndef KV_CHAIN_NO_LOG
	ADN_LOG(logging__log, rec);
#else
	(void)rec;
#endif
	return 0;
}

static __always_inline int acl_request(struct adn_frame *f)
{
	struct acl__ac_tab_val *row;

	/* the key struct is the username itself: look up in place */
	row = bpf_map_lookup_elem(&acl__ac_tab, f->net.username);
	if (!row || row->permission[0] != 'W' || row->permission[1] != 0)
		return ADN_PERMISSION_DENIED;
	return 0;
}

static __always_inline int fault_request(struct adn_frame *f)
{
	struct adn_params *p = params();

	if (p && adn_random() < p->fault__probability)
		return ADN_ABORTED;
	return 0;
}

#define ADN_N_ELEMENTS 3
/* No element changes a network field: the datagram runtimes need not sum
 * the prefix before the chain runs (see bpf/adn_dgram.h). */
#define ADN_NO_REWRITE 1

static __always_inline int adn_chain_request(struct adn_frame *f, __u32 *at)
{
	int s;

	s = logging_request(f);
	if (s) {
		*at = 0;
		return s;
	}
	s = acl_request(f);
	if (s) {
		*at = 1;
		return s;
	}
	s = fault_request(f);
	if (s) {
		*at = 2;
		return s;
	}
	return 0;
}

static __always_inline int adn_chain_response(struct adn_frame *f, __u32 from)
{
	/* only logging has a response side; it is element 0 */
	if (from > 0)
		logging_response(f);
	return 0;
}

#endif /* KV_CHAIN_ELEMENTS_H */
