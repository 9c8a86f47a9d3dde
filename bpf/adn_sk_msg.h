/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * The socket-level programs of a chain: a cgroup sock_ops program that puts
 * the service's TCP sockets into adn_socks, and an sk_msg program that runs
 * the chain on every frame a socket sends. Included last by every chain,
 * after it has defined:
 *
 *   ADN_N_ELEMENTS
 *   int adn_chain_request(struct adn_frame *f, __u32 *at);
 *   int adn_chain_response(struct adn_frame *f, __u32 from);
 *
 * How verdicts are given (kernel facts measured on Linux 6.18, see
 * docs/kernel-notes.md):
 *  - One verdict per sendmsg when every frame in it passes: the program walks
 *    all frames of the message and returns SK_PASS once.
 *  - SK_DROP would make every later send on the socket fail, so a dropped
 *    request is turned in place into its error reply (kind=response,
 *    status, ADN_F_NET_REPLY) and redirected to the sender's own socket with
 *    BPF_F_INGRESS: the client reads the reply, the server never sees it.
 *  - A redirect sticks to the rest of the same sendmsg (the kernel keeps the
 *    message's redirect target and maps a later SK_PASS to it). After a
 *    redirect that leaves bytes of the message, the socket is flagged and
 *    later runs give explicit verdicts: passing frames are redirected to the
 *    sender's own socket without BPF_F_INGRESS, which sends them on.
 *  - A frame whose parsed prefix is split across sends is waited for with
 *    bpf_msg_cork_bytes; a frame whose body continues in a later send is
 *    covered by bpf_msg_apply_bytes reaching past the end of this message.
 */
#ifndef ADN_SK_MSG_H
#define ADN_SK_MSG_H

#include "adn_layout.h"
#include "adn_route_run.h"

#ifndef ADN_MAX_FRAMES
#define ADN_MAX_FRAMES 64 /* frames walked per run; the rest in the next run */
#endif

#ifdef ADN_ROUTE_MAP
/* The routing state of one run of the sk_msg program. It lives in the
 * socket's storage, not on the stack (the walk's stack is near the 512-byte
 * limit); a socket's sendmsg calls never overlap. Scalars only: it is an
 * argument of a global function. */
struct adn_route_io {
	struct adn_sock_key own;  /* the sending socket's key */
	struct adn_sock_key gkey; /* where the frames [0, off) go */
	struct adn_sock_key k;    /* out: where the frame just routed goes */
	__u64 route;              /* in: the frame's route value */
	__u32 routed;             /* in: a ROUTE TO REPLICA ran on it */
	__u32 grouped;            /* gkey is set */
	__u32 gself;              /* gkey is the sender's own connection */
	__u32 probed;             /* a redirect was tried: the verdict must be explicit */
	__u32 self;               /* out: k is the sender's own connection */
	__u32 pad;
};
#endif

/* Per-socket state of the sk_msg program. */
struct adn_sock_state {
	__u32 explicit_verdicts; /* a redirect happened earlier in this sendmsg */
#ifdef ADN_ROUTE_MAP
	/* A routed frame whose target differs from the frames before it ends
	 * a run; its decision waits here for the next run, which starts at
	 * that frame, so the chain runs once per frame. */
	__u32 pend_valid;
	__u32 pend_rpc_id;
	__u32 pend_self;
	struct adn_sock_key pend_key;
	struct adn_route_io rt;
#endif
};

struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct adn_sock_state);
} adn_sk_state SEC(".maps");

static __always_inline void adn_key_from_ops(const struct bpf_sock_ops *ops,
					     struct adn_sock_key *k)
{
	__builtin_memset(k, 0, sizeof(*k));
	k->family = ops->family;
	if (ops->family == AF_INET) {
		k->local_ip[0] = ops->local_ip4;
		k->remote_ip[0] = ops->remote_ip4;
	} else {
		k->local_ip[0] = ops->local_ip6[0];
		k->local_ip[1] = ops->local_ip6[1];
		k->local_ip[2] = ops->local_ip6[2];
		k->local_ip[3] = ops->local_ip6[3];
		k->remote_ip[0] = ops->remote_ip6[0];
		k->remote_ip[1] = ops->remote_ip6[1];
		k->remote_ip[2] = ops->remote_ip6[2];
		k->remote_ip[3] = ops->remote_ip6[3];
	}
	k->local_port = ops->local_port;
	k->remote_port = ops->remote_port;
}

static __always_inline void adn_key_from_msg(const struct sk_msg_md *msg,
					     struct adn_sock_key *k)
{
	__builtin_memset(k, 0, sizeof(*k));
	k->family = msg->family;
	if (msg->family == AF_INET) {
		__u32 l = msg->local_ip4, r = msg->remote_ip4;

		/* keeps clang from merging these loads with the IPv6 ones into
		 * one load through a computed ctx pointer (refused) */
		asm volatile("" : "+r"(l), "+r"(r));
		k->local_ip[0] = l;
		k->remote_ip[0] = r;
	} else {
		k->local_ip[0] = msg->local_ip6[0];
		k->local_ip[1] = msg->local_ip6[1];
		k->local_ip[2] = msg->local_ip6[2];
		k->local_ip[3] = msg->local_ip6[3];
		k->remote_ip[0] = msg->remote_ip6[0];
		k->remote_ip[1] = msg->remote_ip6[1];
		k->remote_ip[2] = msg->remote_ip6[2];
		k->remote_ip[3] = msg->remote_ip6[3];
	}
	k->local_port = msg->local_port;
	k->remote_port = msg->remote_port;
}

SEC("sockops")
int adn_sockops(struct bpf_sock_ops *ops)
{
	struct adn_sock_key key;
	struct adn_cfg *cfg;
	__u32 zero = 0, op = ops->op;
	int ours;

#ifdef ADN_RECV_SOCKS
	/* only the receiver's sockets asked for it (adn_recv_join) */
	if (op == BPF_SOCK_OPS_STATE_CB) {
		if (ops->args[1] == BPF_TCP_CLOSE)
			adn_recv_closed(ops);
		return 1;
	}
#endif
	if (op != BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB &&
	    op != BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB)
		return 1;
	if (ops->family != AF_INET && ops->family != AF_INET6)
		return 1;
	cfg = bpf_map_lookup_elem(&adn_cfg, &zero);
	if (!cfg || !cfg->port)
		return 1;
	/* remote_port is in network byte order, local_port in host order */
	if (op == BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB)
		ours = bpf_ntohl(ops->remote_port) == cfg->port;
	else
		ours = ops->local_port == cfg->port;
	adn_key_from_ops(ops, &key);
#ifdef ADN_ROUTE_MAP
	/* Replicas may listen on other ports than the service's. */
	if (!ours && op == BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB)
		ours = adn_route_is_replica(key.family, key.remote_ip,
					    bpf_ntohl(key.remote_port), 1);
	else if (!ours)
		ours = adn_route_is_replica(key.family, key.local_ip, key.local_port, 0);
#endif
	if (!ours)
		return 1;
	if (bpf_sock_hash_update(ops, &adn_socks, &key, BPF_NOEXIST) == 0)
		ADN_COUNT(sockets);
#ifdef ADN_RECV_SOCKS
	/* The server's sockets also get the stream parser and verdict
	 * (adn_sk_skb.h); the client's never do. */
	if (op == BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB)
		adn_recv_join(ops, &key);
#endif
	return 1;
}

/* The verifier gives a packet pointer no range once its variable offset may
 * exceed 0xffff (MAX_PACKET_OFF): data further into the message than this
 * is pulled to the front first. */
#define ADN_MSG_REL_MAX 0x7fff

/* Make bytes [off, off+len) of the message linear and return their offset
 * from msg->data, or -1 if the message is shorter. *base is the message
 * offset that msg->data points at (0 until the first pull). Callers re-check
 * the bounds right where they access the data: a pointer returned through a
 * helper loses its verified range when clang merges the two paths. */
static __always_inline long adn_msg_linear(struct sk_msg_md *msg, __u32 off,
					   const __u32 len, __u32 *base)
{
	void *data = (void *)(long)msg->data;
	void *end = (void *)(long)msg->data_end;

	if (off >= *base && off - *base <= ADN_MSG_REL_MAX &&
	    data + (off - *base) + len <= end)
		return off - *base;
	if (bpf_msg_pull_data(msg, off, off + len, 0))
		return -1;
	*base = off;
	return 0;
}

/* Copy len bytes at message offset off to buf. */
static __always_inline int adn_msg_copy(struct sk_msg_md *msg, __u32 off,
					void *buf, const __u32 len, __u32 *base)
{
	long rel = adn_msg_linear(msg, off, len, base);
	void *data, *end;

	/* Hide rel from clang: it would otherwise reuse the bounds check in
	 * adn_msg_linear and drop ours, which the verifier needs here. */
	asm volatile("" : "+r"(rel));
	if (rel < 0 || rel > ADN_MSG_REL_MAX)
		return -1;
	data = (void *)(long)msg->data + rel;
	end = (void *)(long)msg->data_end;
	if (data + len > end)
		return -1;
	__builtin_memcpy(buf, data, len);
	return 0;
}

/* Rewrite kind, status and flags of the frame header at message offset off. */
static __always_inline int adn_msg_write_hdr(struct sk_msg_md *msg, __u32 off,
					     __u32 *base, __u8 kind, __u8 status, __u16 flags)
{
	long rel = adn_msg_linear(msg, off, ADN_HDR_LEN, base);
	struct adn_hdr *h;
	void *end;

	/* Hide rel from clang: it would otherwise reuse the bounds check in
	 * adn_msg_linear and drop ours, which the verifier needs here. */
	asm volatile("" : "+r"(rel));
	if (rel < 0 || rel > ADN_MSG_REL_MAX)
		return -1;
	h = (void *)(long)msg->data + rel;
	end = (void *)(long)msg->data_end;
	if ((void *)(h + 1) > end)
		return -1;
	h->kind = kind;
	h->status = status;
	h->flags = flags;
	return 0;
}

/* Write the network fields an element changed back into the frame at off. */
static __always_inline int adn_msg_write_net(struct sk_msg_md *msg, __u32 off,
					     __u32 *base, const struct adn_frame *f)
{
	long rel = adn_msg_linear(msg, off, ADN_FRAME_PREFIX, base);
	void *data, *end;

	asm volatile("" : "+r"(rel)); /* see adn_msg_copy */
	if (rel < 0 || rel > ADN_MSG_REL_MAX)
		return -1;
	data = (void *)(long)msg->data + rel;
	end = (void *)(long)msg->data_end;
	if (data + ADN_FRAME_PREFIX > end)
		return -1;
	__builtin_memcpy(data + ADN_HDR_LEN, &f->net, ADN_NET_LEN);
	return 0;
}

/* Turn the request at off into the network's reply to it, in place. */
static __always_inline int adn_msg_make_reply(struct sk_msg_md *msg, __u32 off,
					      __u32 *base, struct adn_frame *f,
					      __u8 status)
{
	f->hdr.kind = ADN_KIND_RESPONSE;
	f->hdr.status = status;
	f->hdr.flags |= ADN_F_NET_REPLY;
	return adn_msg_write_hdr(msg, off, base, f->hdr.kind, f->hdr.status, f->hdr.flags);
}

/* Send the first bytes of the message on the socket's own connection. */
static __always_inline int adn_msg_pass(struct sk_msg_md *msg,
					struct adn_sock_state *st)
{
	struct adn_sock_key self;

	if (!st || !st->explicit_verdicts)
		return SK_PASS;
	ADN_COUNT(explicit_runs);
	adn_key_from_msg(msg, &self);
	return bpf_msg_redirect_hash(msg, &adn_socks, &self, 0);
}

/* Deliver the first bytes of the message back to the sender as received data. */
static __always_inline int adn_msg_bounce(struct sk_msg_md *msg)
{
	struct adn_sock_key self;

	adn_key_from_msg(msg, &self);
	return bpf_msg_redirect_hash(msg, &adn_socks, &self, BPF_F_INGRESS);
}


enum adn_walk_end {
	ADN_WALK_ALL,     /* every frame walked passes */
	ADN_WALK_PARTIAL, /* stopped at a frame whose prefix is not all here */
	ADN_WALK_DROP,    /* stopped at a request an element dropped */
	ADN_WALK_REPLY,   /* stopped at a network reply (made by this or an earlier run) */
	ADN_WALK_BAD,     /* stopped at an impossible header */
};

/* State of one run of the sk_msg program over the frames of a message. */
struct adn_walk {
	struct sk_msg_md *msg;
	__u32 size; /* bytes in the message */
	__u32 off;  /* start of the next frame: frames before it pass */
	__u32 base; /* message offset msg->data points at */
	__u32 len;  /* length of the frame the walk stopped at */
	__u32 need; /* ADN_WALK_PARTIAL: bytes to wait for */
	enum adn_walk_end end;
#ifdef ADN_ROUTE_MAP
	struct adn_sock_state *st; /* NULL: no storage, requests are not routed */
#endif
};

#ifdef ADN_ROUTE_MAP
static __always_inline int adn_key_same_peer(const struct adn_sock_key *a,
					     const struct adn_sock_key *b)
{
	return !((a->remote_port ^ b->remote_port) | (a->remote_ip[0] ^ b->remote_ip[0]) |
		 (a->remote_ip[1] ^ b->remote_ip[1]) | (a->remote_ip[2] ^ b->remote_ip[2]) |
		 (a->remote_ip[3] ^ b->remote_ip[3]));
}

/* Where a passing request goes (docs/kernel-notes.md, "Load balancing").
 * 0: with the frames before it (the group, io->gkey); 1: to another
 * target (io->k, io->self) than theirs: the run ends before it; -1: its
 * replica has no connection from this client (the caller answers it
 * UNAVAILABLE).
 * A global function: the verifier checks it once, on its own, instead of
 * once per path of the frame walk (inlined, the walk of a chain with a
 * hash exceeded the 1M-instruction limit). */
__attribute__((noinline)) int adn_route_frame(struct sk_msg_md *msg, struct adn_route_io *io)
{
	const struct adn_replica *rep;
	int self = 1;

	if (!msg || !io)
		return -1;
	io->k = io->own;
	rep = io->routed ? adn_route_pick(io->route) : 0;
	if (rep) {
		if (rep->family != io->own.family) {
			ADN_COUNT(route_miss);
			return -1;
		}
		io->k.remote_ip[0] = rep->addr[0];
		io->k.remote_ip[1] = rep->addr[1];
		io->k.remote_ip[2] = rep->addr[2];
		io->k.remote_ip[3] = rep->addr[3];
		io->k.remote_port = bpf_htonl(rep->port);
		self = adn_key_same_peer(&io->k, &io->own);
		ADN_COUNT(routed);
	}
	io->self = self;
	if (io->grouped && (self ? io->gself : !io->gself && adn_key_same_peer(&io->k, &io->gkey)))
		return 0;
	if (!self) {
		/* Does this client have a connection to the replica? A failed
		 * redirect changes nothing; a successful one is overridden by
		 * the run's final, explicit verdict. */
		/* The key through the socket storage that io points into: io
		 * itself is a global function's argument (PTR_TO_MEM), which
		 * Linux 6.1 refuses as a map key, and a stack copy would take
		 * the three-frame stack past 512 bytes. */
		struct adn_sock_state *st = bpf_sk_storage_get(&adn_sk_state, msg->sk, 0, 0);

		if (!st)
			return -1;
		io->probed = 1;
		if (bpf_msg_redirect_hash(msg, &adn_socks, &st->rt.k, 0) != SK_PASS) {
			ADN_COUNT(route_miss);
			return -1;
		}
	}
	if (io->grouped)
		return 1;
	io->gkey = io->k;
	io->gself = self;
	io->grouped = 1;
	return 0;
}

static __always_inline int adn_walk_route(struct adn_walk *w, const struct adn_frame *f,
					  const struct adn_verdict *v)
{
	struct adn_sock_state *st = w->st;
	int r;

	if (!st)
		return 0;
	st->rt.routed = v->routed;
	st->rt.route = v->route;
	r = adn_route_frame(w->msg, &st->rt);
	if (r <= 0)
		return r;
	/* The next run starts at this frame and takes the decision from here,
	 * so the chain runs once per frame. */
	st->pend_valid = 1;
	st->pend_rpc_id = f->hdr.rpc_id;
	st->pend_self = st->rt.self;
	st->pend_key = st->rt.k;
	return 1;
}

/* The first frame of a run may have been decided by the run before. */
static __always_inline int adn_walk_pending(struct adn_walk *w, __u32 off,
					    const struct adn_frame *f)
{
	struct adn_sock_state *st = w->st;

	if (off || !st || !st->pend_valid)
		return 0;
	st->pend_valid = 0;
	if (st->pend_rpc_id != f->hdr.rpc_id)
		return 0; /* stale (the rest of that send never came) */
	st->rt.gkey = st->pend_key;
	st->rt.gself = st->pend_self;
	st->rt.grouped = 1;
	st->rt.probed |= !st->pend_self;
	return 1;
}
#endif

/* One frame: run the chain on it; 0 to go on to the next, 1 to stop.
 * Called through bpf_loop so that the verifier checks it once, not once
 * per frame (an unrolled walk of 64 frames exceeds the 1M-insn limit). */
static int adn_walk_frame(__u32 i, void *ctx)
{
	struct adn_walk *w = ctx;
	struct sk_msg_md *msg = w->msg;
	struct adn_frame f;
	struct adn_verdict v = {};
	__u32 off = w->off, len;
	int status;

	if (off >= w->size)
		return 1;
	if (w->size - off < ADN_HDR_LEN) {
		w->need = ADN_HDR_LEN;
		w->end = ADN_WALK_PARTIAL;
		return 1;
	}
	if (adn_msg_copy(msg, off, &f.hdr, ADN_HDR_LEN, &w->base))
		goto bad;
	len = f.hdr.len;
	w->len = len;
	if (len < ADN_FRAME_MIN || len > ADN_FRAME_MAX ||
	    f.hdr.kind > ADN_KIND_RESPONSE)
		goto bad;

	if (f.hdr.kind == ADN_KIND_RESPONSE) {
		if (f.hdr.flags & ADN_F_NET_REPLY) {
			if (!(f.hdr.flags & ADN_F_RECV_REPLY)) {
				/* made by the sender's elements: back to it */
				w->end = ADN_WALK_REPLY;
				return 1;
			}
			/* Made by the receiver's elements (adn_sk_skb.h) and sent
			 * back by the server: it goes on to the client, and the
			 * elements before the one that dropped the request see
			 * it, as they would a server's response. Its status is
			 * the network's: not rewritten. */
			ADN_COUNT(responses);
			ADN_MSG_CHAIN_RESPONSE(&f, (f.hdr.flags & ADN_F_AT_MASK) >> ADN_F_AT_SHIFT);
			w->off = off + len;
			return 0;
		}
		ADN_COUNT(responses);
		status = ADN_MSG_CHAIN_RESPONSE(&f, ADN_N_ELEMENTS);
		if (status) {
			if (adn_msg_write_hdr(msg, off, &w->base, f.hdr.kind,
					      status, f.hdr.flags))
				goto bad;
			ADN_COUNT(rewritten);
		}
		w->off = off + len;
		return 0;
	}

	/* A request of another layout: its fields are not where the elements
	 * would read them. Answered by the network, no element runs. */
	if (adn_layout_bad(f.hdr)) {
		ADN_COUNT(bad_layout);
		if (adn_msg_make_reply(msg, off, &w->base, &f, ADN_LAYOUT_STATUS))
			goto bad;
		w->end = off ? ADN_WALK_DROP : ADN_WALK_REPLY;
		return 1;
	}
	/* A request: the elements need the header and the network fields. */
	if (len < ADN_FRAME_PREFIX)
		goto bad;
	if (w->size - off < ADN_FRAME_PREFIX) {
		w->need = ADN_FRAME_PREFIX;
		w->end = ADN_WALK_PARTIAL;
		return 1;
	}
	if (adn_msg_copy(msg, off, &f, ADN_FRAME_PREFIX, &w->base))
		goto bad;
#ifdef ADN_ROUTE_MAP
	if (adn_walk_pending(w, off, &f)) {
		w->off = off + len;
		return 0;
	}
#endif
	ADN_COUNT(requests);
	status = ADN_MSG_CHAIN_REQUEST(&f, &v.at);
	if (status == ADN_PASS_REWRITE) {
		if (adn_msg_write_net(msg, off, &w->base, &f))
			goto bad;
		ADN_COUNT(rewritten);
		status = 0;
	}
#ifdef ADN_ROUTE_MAP
	if (!status) {
		int r = adn_walk_route(w, &f, &v);

		if (r > 0)
			return 1; /* frames before this one: one verdict */
		if (r < 0) {
			/* passed every element, but its replica is unreachable */
			status = ADN_UNAVAILABLE;
			v.at = ADN_N_ELEMENTS;
		}
	}
#endif
	if (!status) {
		w->off = off + len;
		return 0;
	}
	ADN_COUNT(dropped);
	if (adn_msg_make_reply(msg, off, &w->base, &f, status))
		goto bad;
	/* The elements before the one that dropped it see the reply, as
	 * they would see a server's response (a log records it once). */
	ADN_MSG_CHAIN_RESPONSE(&f, v.at);
	w->end = off ? ADN_WALK_DROP : ADN_WALK_REPLY;
	return 1;
bad:
	w->end = ADN_WALK_BAD;
	return 1;
}

SEC("sk_msg")
int adn_msg(struct sk_msg_md *msg)
{
	struct adn_walk w = { .msg = msg, .size = msg->size };
	struct adn_sock_state *st;

	ADN_COUNT(msgs);
	st = bpf_sk_storage_get(&adn_sk_state, msg->sk, 0,
				BPF_SK_STORAGE_GET_F_CREATE);
#ifdef ADN_ROUTE_MAP
	w.st = st;
	if (st) {
		/* here, not in the bpf_loop callback: there clang merges the
		 * IPv4 and IPv6 loads into one access through a modified ctx
		 * pointer */
		adn_key_from_msg(msg, &st->rt.own);
		st->rt.grouped = 0;
		st->rt.probed = 0;
	}
#endif
	bpf_loop(ADN_MAX_FRAMES, adn_walk_frame, &w, 0);

	if (w.off) {
		/* Frames [0, off) pass. off may reach past this message when the
		 * last frame's body continues in the next send. */
		int verdict;

		/* Always set: the message keeps apply_bytes from an earlier run
		 * of the same sendmsg, and a stale value would cut this verdict
		 * short and make the kernel run the chain again on frames this
		 * run has already decided. */
		bpf_msg_apply_bytes(msg, w.off);
#ifdef ADN_ROUTE_MAP
		/* A group for another connection, or after a redirect was tried
		 * in this send: an explicit verdict (docs/kernel-notes.md). */
		if (st && st->rt.grouped && (!st->rt.gself || st->rt.probed || st->explicit_verdicts)) {
			verdict = bpf_msg_redirect_hash(msg, &adn_socks, &st->rt.gkey, 0);
			if (verdict != SK_PASS) {
				/* the replica's socket closed since the walk */
				ADN_COUNT(route_miss);
				verdict = bpf_msg_redirect_hash(msg, &adn_socks, &st->rt.own, 0);
			}
			st->explicit_verdicts = w.off < w.size;
			return verdict;
		}
#endif
		verdict = adn_msg_pass(msg, st);
		if (st && w.off >= w.size)
			st->explicit_verdicts = 0;
		return verdict;
	}

	switch (w.end) {
	case ADN_WALK_REPLY:
		/* The first frame is the network's reply to a dropped request:
		 * back to the sender. Later frames of this send need explicit
		 * verdicts, the redirect would stick to them. */
		bpf_msg_apply_bytes(msg, w.len);
		if (st)
			st->explicit_verdicts = w.len < w.size;
		return adn_msg_bounce(msg);
	case ADN_WALK_PARTIAL:
		ADN_COUNT(corked);
		bpf_msg_apply_bytes(msg, 0);
		bpf_msg_cork_bytes(msg, w.need);
		return SK_PASS;
	case ADN_WALK_BAD:
		/* The byte stream has lost its frame boundaries: nothing after
		 * this point can be checked, so the socket may send no more. */
		ADN_COUNT(malformed);
		bpf_msg_apply_bytes(msg, 0);
		return SK_DROP;
	default:
		return SK_PASS; /* empty message */
	}
}

/* Hot update (docs/kernel-notes.md, "Hot update"). A socket copies the
 * SOCKHASH's sk_msg program when it joins the map, so replacing the
 * attached program would leave open connections on the old code. The
 * program attached to adn_socks is therefore this fixed dispatcher, and the
 * chain (adn_msg above) runs as its tail call from slot 0 of adn_progs:
 * `adn-load update` swaps the slot, and the next sendmsg of every socket,
 * old or new, runs the new chain. A run reads the slot once, so no frame
 * sees a mix of old and new elements. The slot is empty only while the
 * chain is being detached: the message then passes unprocessed, as it
 * does once the chain is gone. */
struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} adn_progs SEC(".maps");

SEC("sk_msg")
int adn_msg_dispatch(struct sk_msg_md *msg)
{
	/* Slot 0, as a value the verifier cannot know (family is AF_INET = 2
	 * or AF_INET6 = 10: sock_ops admits no other). With a constant index
	 * the JIT turns the call into a direct jump and `update` re-patches
	 * live code (text_poke); a 6.12 guest under QEMU TCG oopsed on that
	 * int3 mid-patch. An indexed tail call patches nothing. */
	__u32 slot = msg->family >> 4;

	bpf_tail_call(msg, &adn_progs, slot);
	return SK_PASS;
}

#endif /* ADN_SK_MSG_H */
