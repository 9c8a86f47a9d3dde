/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * The receiver's socket programs of a TCP chain with elements placed at
 * sk_skb (docs/compiler.md "Placement", docs/kernel-notes.md "The
 * receiver's socket"). Included by the generated chain before
 * adn_sk_msg.h, after it has defined ADN_N_ELEMENTS and the chain
 * functions (ADN_SKB_CHAIN_REQUEST: the request side of the elements
 * placed here; their response side runs in the server's sk_msg, with the
 * other elements', when the response leaves the server).
 *
 *  - adn_rsocks: a second SOCKHASH, filled by sock_ops with the server's
 *    (passive) sockets only, so that a client socket never pays for the
 *    stream parser. The server's sockets are in both maps: adn_socks gives
 *    them the sk_msg dispatcher, adn_rsocks the parser and the verdict (the
 *    kernel merges the programs of every map a socket is in, refusing only
 *    two programs of one kind: sock_map_link).
 *  - adn_skb_parser (sk_skb/stream_parser): the length of a batch of whole
 *    frames: every consecutive frame whose header and body are in the data
 *    strparser gives it, from where the batch starts (at most
 *    ADN_SKB_BATCH_FRAMES frames; frames after the first only while the
 *    batch stays within ADN_SKB_BATCH_BYTES); a first frame not all here
 *    is the batch alone (strparser waits for the rest of it), a first
 *    header not all here is 0 (wait for more). A negative errno for an impossible header at the start of a
 *    batch, which makes strparser stop and report the error on the socket:
 *    the stream is refused, never mis-framed (an impossible header later in
 *    the data ends the batch before it, and starts the next one).
 *  - adn_skb_verdict (sk_skb/stream_verdict, run as the tail call of the
 *    attached adn_skb_dispatch, see "Hot update" below): walks the frames of the batch
 *    (bpf_loop) and runs the request side of the receiver's elements on
 *    each request frame. A dropped request becomes its reply in place
 *    (kind=response, the element's status, ADN_F_NET_REPLY |
 *    ADN_F_RECV_REPLY, the element's index in flags bits 8..15); then the
 *    whole batch is passed to the server process, whose RPC library sends
 *    the replies back unread; SK_DROP would leave the client waiting
 *    forever. Responses pass.
 *
 * One strparser message per batch, not per frame: strparser clones the
 * segment for every message and the psock charges each clone the whole
 * segment's truesize when it queues it for the reader, so one message per
 * frame cost a clone, a verdict and a segment's truesize per RPC
 * (docs/kernel-notes.md).
 *
 * Where the batch is: strparser gives both programs an skb whose data
 * start at the beginning of the TCP segment the batch starts in, not at
 * the batch (the kernel keeps the batch's offset in strp_msg(skb)->offset,
 * which no BPF context field exposes; verified on Linux 6.1 and 6.18). The
 * programs therefore track the stream themselves, per socket (adn_strp):
 * after a batch, the bytes left in its last segment (`rest`); the next
 * batch starts `rest` bytes before the end of the skb the parser is first
 * called with (a clone of that same segment), or at 0 when nothing was
 * left. The parser records the batch's length (`mlen`) for the verdict.
 */
#ifndef ADN_SK_SKB_H
#define ADN_SK_SKB_H

#include "adn_layout.h"

#define ADN_RECV_SOCKS 1

#ifndef ADN_SKB_CHAIN_REQUEST
#define ADN_SKB_CHAIN_REQUEST adn_chain_request
#endif

struct {
	__uint(type, BPF_MAP_TYPE_SOCKHASH);
	__uint(max_entries, 65536);
	__type(key, struct adn_sock_key);
	__type(value, __u64);
} adn_rsocks SEC(".maps");

/* Where the parser and the verdict are in a socket's byte stream. */
struct adn_strp {
	__u32 rest;     /* bytes after the last frame's end in its last segment */
	__u32 off;      /* offset of the current frame in its skb */
	__u32 in_frame; /* the parser has seen the current batch */
	__u32 mlen;     /* the length of the current batch, as the parser returned it */
};

/* Keyed by socket cookie; sock_ops deletes the entry when the socket
 * closes (BPF_SOCK_OPS_STATE_CB). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, __u64);
	__type(value, struct adn_strp);
} adn_strp SEC(".maps");

/* Counters of the receiver's programs (adn_stats counts the sender's). */
struct adn_skb_stats {
	__u64 frames;     /* frames the verdict ran on */
	__u64 requests;   /* request frames that ran the receiver's elements */
	__u64 dropped;    /* requests an element dropped (reflected to the client) */
	__u64 rewritten;  /* requests an element changed */
	__u64 malformed;  /* impossible headers: the stream was refused */
	__u64 bad_layout; /* requests of another layout, answered FAILED_PRECONDITION */
	__u64 batches;    /* strparser messages (batches of frames) the verdict ran on */
	__u64 unrun;      /* batches passed without the chain's verdict (its slot was empty) */
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct adn_skb_stats);
} adn_skb_stats SEC(".maps");

#define ADN_SKB_COUNT(field)                                                       \
	do {                                                                       \
		__u32 __zero = 0;                                                  \
		struct adn_skb_stats *__s = bpf_map_lookup_elem(&adn_skb_stats, &__zero); \
		if (__s)                                                           \
			__s->field++;                                              \
	} while (0)

/* -EPROTO: strparser stops and sets it as the socket's error. */
#define ADN_STRP_REFUSE (-71)

static __always_inline struct adn_strp *adn_strp_of(struct __sk_buff *skb, int create)
{
	__u64 cookie = bpf_get_socket_cookie(skb);
	struct adn_strp *st, zero = {};

	if (!cookie)
		return 0;
	st = bpf_map_lookup_elem(&adn_strp, &cookie);
	if (st || !create)
		return st;
	bpf_map_update_elem(&adn_strp, &cookie, &zero, BPF_NOEXIST);
	return bpf_map_lookup_elem(&adn_strp, &cookie);
}

/* Frames per batch: the verdict walks them with bpf_loop. */
#define ADN_SKB_BATCH_FRAMES 64
/* Frames after the first join a batch only while it stays within this many
 * bytes: strparser refuses a message longer than the socket's sk_rcvbuf
 * (-EMSGSIZE), which only a single frame that long may be. */
#define ADN_SKB_BATCH_BYTES 16384

struct adn_parse {
	struct __sk_buff *skb;
	__u32 off;   /* where the batch starts in skb */
	__u32 avail; /* bytes from there to the end of skb */
	__u32 total; /* the batch so far */
	__u32 bad;   /* impossible header at the start of the batch */
};

/* One frame of the batch: 0 to go on, 1 to stop. */
static int adn_parse_frame(__u32 i, void *ctx)
{
	struct adn_parse *p = ctx;
	struct adn_hdr h;
	__u32 total = p->total, left;

	if (total >= p->avail)
		return 1;
	left = p->avail - total;
	if (left < ADN_HDR_LEN || bpf_skb_load_bytes(p->skb, p->off + total, &h, ADN_HDR_LEN))
		return 1; /* the header is not all here: the batch ends before it */
	if (h.len < ADN_FRAME_MIN || h.len > ADN_FRAME_MAX || h.kind > ADN_KIND_RESPONSE) {
		/* refused when it starts a batch: the frames before it go on */
		p->bad = !total;
		return 1;
	}
	if (!total) {
		p->total = h.len; /* whole or not: strparser waits for the rest */
		return h.len > left;
	}
	if (h.len > left || total + h.len > ADN_SKB_BATCH_BYTES)
		return 1;
	p->total = total + h.len;
	return 0;
}

SEC("sk_skb/stream_parser")
int adn_skb_parser(struct __sk_buff *skb)
{
	struct adn_strp *st = adn_strp_of(skb, 1);
	struct adn_parse p = { .skb = skb };
	__u32 len = skb->len;

	if (!st)
		return ADN_STRP_REFUSE;
	if (!st->in_frame) {
		/* the first call for this batch: skb is a clone of the segment
		 * it starts in, whole */
		if (st->rest > len)
			goto bad;
		st->off = st->rest ? len - st->rest : 0;
		st->in_frame = 1;
	}
	/* later calls (after a 0: not even the first header was here) get
	 * the same head, grown by the segments that came since */
	if (st->off > len)
		goto bad;
	p.off = st->off;
	p.avail = len - st->off;
	bpf_loop(ADN_SKB_BATCH_FRAMES, adn_parse_frame, &p, 0);
	if (p.bad)
		goto bad;
	st->mlen = p.total;
	return p.total;
bad:
	ADN_SKB_COUNT(malformed);
	return ADN_STRP_REFUSE;
}

/* Write kind, status and flags (bytes 10..13 of the header) at off. */
static __always_inline int adn_skb_write_hdr(struct __sk_buff *skb, __u32 off, __u8 kind,
					     __u8 status, __u16 flags)
{
	struct {
		__u8 kind;
		__u8 status;
		__u16 flags;
	} w = { kind, status, flags };

	return bpf_skb_store_bytes(skb, off + 10, &w, sizeof(w), 0);
}

struct adn_vwalk {
	struct __sk_buff *skb;
	struct adn_skb_stats *stats; /* this CPU's, or NULL */
	__u32 off;                   /* the next frame */
	__u32 end;                   /* the end of the batch */
	__u32 bad;                   /* a helper failed */
};

#define ADN_SKB_STAT(w, field)                                                     \
	do {                                                                       \
		if ((w)->stats)                                                    \
			(w)->stats->field++;                                       \
	} while (0)

/* One frame of the batch: run the receiver's elements on it if it is a
 * request; 0 to go on to the next, 1 to stop. Called through bpf_loop so
 * that the verifier checks it once, not once per frame. */
static int adn_skb_frame(__u32 i, void *ctx)
{
	struct adn_vwalk *w = ctx;
	struct __sk_buff *skb = w->skb;
	struct adn_verdict v = {};
	struct adn_frame f;
	__u32 off = w->off, len;
	int status;

	if (off >= w->end)
		return 1;
	if (w->end - off < ADN_HDR_LEN || bpf_skb_load_bytes(skb, off, &f.hdr, ADN_HDR_LEN))
		goto bad;
	len = f.hdr.len;
	if (len < ADN_FRAME_MIN || len > w->end - off)
		goto bad;
	w->off = off + len;
	ADN_SKB_STAT(w, frames);
	if (f.hdr.kind != ADN_KIND_REQUEST)
		return 0;
	if (adn_layout_bad(f.hdr)) {
		ADN_SKB_STAT(w, bad_layout);
		status = ADN_LAYOUT_STATUS;
		v.at = 0;
		goto reply;
	}
	if (len < ADN_FRAME_PREFIX || bpf_skb_load_bytes(skb, off, &f, ADN_FRAME_PREFIX))
		goto bad;
	ADN_SKB_STAT(w, requests);
	status = ADN_SKB_CHAIN_REQUEST(&f, &v.at);
	if (status == ADN_PASS_REWRITE) {
		if (bpf_skb_store_bytes(skb, off + ADN_HDR_LEN, &f.net, ADN_NET_LEN, 0))
			goto bad;
		ADN_SKB_STAT(w, rewritten);
		status = 0;
	}
	if (!status)
		return 0;
	ADN_SKB_STAT(w, dropped);
reply:
	/* The request becomes its reply, in place, and goes on to the server
	 * process, which sends it back unread (rpc/server.c). */
	if (adn_skb_write_hdr(skb, off, ADN_KIND_RESPONSE, status,
			      (f.hdr.flags & ~ADN_F_AT_MASK) | ADN_F_NET_REPLY | ADN_F_RECV_REPLY |
				      ((v.at << ADN_F_AT_SHIFT) & ADN_F_AT_MASK)))
		goto bad;
	return 0;
bad:
	w->bad = 1;
	return 1;
}

SEC("sk_skb/stream_verdict")
int adn_skb_verdict(struct __sk_buff *skb)
{
	struct adn_strp *st = adn_strp_of(skb, 0);
	__u32 zero = 0;
	struct adn_vwalk w = { .skb = skb };
	__u32 off, mlen;

	w.stats = bpf_map_lookup_elem(&adn_skb_stats, &zero);
	if (!st || !st->in_frame) {
		/* the parser ran for every batch: cannot happen */
		ADN_SKB_STAT(&w, malformed);
		return SK_PASS;
	}
	off = st->off;
	mlen = st->mlen;
	st->in_frame = 0;
	ADN_SKB_STAT(&w, batches);
	if (mlen > skb->len || off > skb->len - mlen)
		goto bad;
	st->rest = skb->len - off - mlen;
	w.off = off;
	w.end = off + mlen;
	bpf_loop(ADN_SKB_BATCH_FRAMES, adn_skb_frame, &w, 0);
	if (w.bad || w.off != w.end)
		goto bad;
	return SK_PASS;
bad:
	/* The parser framed it, so only the helpers can fail here. Passing
	 * the batch unprocessed would skip the elements: drop it (all of it:
	 * the verdict is the message's), and refuse the rest of the stream
	 * (its offsets are no longer known). */
	st->rest = ~0u;
	ADN_SKB_STAT(&w, malformed);
	return SK_DROP;
}

/* Hot update (docs/kernel-notes.md, "Hot update"). A socket copies the
 * stream parser and verdict of adn_rsocks when it joins the map, so
 * replacing the attached verdict would leave open connections on the old
 * code. The program attached as BPF_SK_SKB_STREAM_VERDICT is therefore
 * this fixed dispatcher, and the verdict that runs the chain (adn_skb_verdict
 * above) runs as its tail call from slot 0 of adn_skb_progs, as adn_msg runs
 * from adn_progs (bpf/adn_sk_msg.h): `adn-load update` swaps the slot, and
 * the next batch of every socket, old or new, runs the new elements. A run
 * reads the slot once, so no batch (and no frame) sees a mix of old and new
 * elements.
 *
 * The stream parser is not swapped: it only frames (it runs no element),
 * so the parser attached with the chain stays for the chain's lifetime,
 * whatever code later verdicts carry. Parser and verdict share the
 * per-socket stream state (adn_strp, struct adn_strp) and adn_skb_stats:
 * update reuses those maps, and refuses a new object whose maps differ in
 * layout; objects built from the same runtime have the same layout.
 *
 * The slot is empty only while the chain is being detached: the batch then
 * passes unprocessed, as it does once the chain is gone; the stream state
 * still advances past it, so that the parser frames the next batch right. */
struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} adn_skb_progs SEC(".maps");

SEC("sk_skb/stream_verdict")
int adn_skb_dispatch(struct __sk_buff *skb)
{
	/* Slot 0 as an index the verifier cannot know, for the reason given
	 * in adn_msg_dispatch (bpf/adn_sk_msg.h); strparser sets skb->sk to
	 * the psock's socket around the verdict, so family reads it. */
	__u32 slot = skb->family >> 4;
	struct adn_strp *st;

	bpf_tail_call(skb, &adn_skb_progs, slot);
	/* empty slot: pass the batch, keep the stream state (as adn_skb_verdict) */
	ADN_SKB_COUNT(unrun);
	st = adn_strp_of(skb, 0);
	if (st && st->in_frame) {
		__u32 off = st->off, mlen = st->mlen;

		st->in_frame = 0;
		st->rest = (mlen <= skb->len && off <= skb->len - mlen) ? skb->len - off - mlen : ~0u;
	}
	return SK_PASS;
}

/* sock_ops side (called from adn_sockops in adn_sk_msg.h). */
static __always_inline void adn_recv_join(struct bpf_sock_ops *ops, struct adn_sock_key *key)
{
	if (bpf_sock_hash_update(ops, &adn_rsocks, key, BPF_NOEXIST) == 0)
		bpf_sock_ops_cb_flags_set(ops, ops->bpf_sock_ops_cb_flags |
						       BPF_SOCK_OPS_STATE_CB_FLAG);
}

static __always_inline void adn_recv_closed(struct bpf_sock_ops *ops)
{
	__u64 cookie = bpf_get_socket_cookie(ops);

	bpf_map_delete_elem(&adn_strp, &cookie);
}

#endif /* ADN_SK_SKB_H */
