/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * The per-datagram decision shared by adn_tc.h and adn_xdp.h: given the
 * frame prefix copied from one UDP datagram (one RPC), run the chain the
 * way adn_sk_msg.h runs it on one frame, and say what the program must do
 * to the packet. Knows nothing of the context type; the programs load and
 * store the bytes and fix the checksums.
 *
 * Same contract as the sk_msg runtime (docs/internals.md section 3): the
 * chain defines ADN_N_ELEMENTS, adn_chain_request() and
 * adn_chain_response() before including adn_tc.h or adn_xdp.h. A chain
 * whose elements never change network fields may define ADN_NO_REWRITE:
 * the runtime then skips summing the prefix before the chain runs (that
 * sum is what lets it fix the UDP checksum after a rewrite without a
 * second copy of the prefix).
 */
#ifndef ADN_DGRAM_H
#define ADN_DGRAM_H

#include "adn_layout.h"
#include "adn_route_run.h"

#define ADN_FRAME_WORDS ((ADN_FRAME_PREFIX + 3) / 4)

/* The prefix on the stack, padded with zeros to whole 32-bit words:
 * bpf_csum_diff sums words, and zeros add nothing. */
union adn_frame_buf {
	struct adn_frame f;
	__u32 w[ADN_FRAME_WORDS];
	/* room for a reply's response fields (ADN_ANSWER) and for the
	 * response fields that response sides read: the body's first
	 * ADN_REPLY_BODY_MAX bytes */
	__u8 b[ADN_HDR_LEN + ADN_REPLY_BODY_MAX];
};

/* Offset of kind, status and flags in the header: the 4 bytes a reply or
 * a status change rewrites (two 16-bit words of the UDP checksum). */
#define ADN_HDR_WORD_OFF 10

enum adn_dgram_action {
	ADN_DG_PASS,   /* leave the packet as it is */
	ADN_DG_STATUS, /* a response whose status an element changed: write bytes 10..13 */
	ADN_DG_NET,    /* a request whose network fields an element changed: write them */
	ADN_DG_REPLY,  /* a dropped request, now the network's reply: write bytes 10..13, turn around */
	ADN_DG_ANSWER, /* a request an element answered: the frame is now the whole reply
			  (answer_len bytes), resize, write it, turn around */
	ADN_DG_BAD,    /* malformed: count and drop */
};

struct adn_dgram {
	union adn_frame_buf u;
	__u32 old_word; /* header bytes 10..13 as received */
	__u32 old_sum;  /* csum of the prefix as received (ADN_DG_NET only) */
	__u32 answer_len; /* ADN_DG_ANSWER: bytes of the reply frame, header included */
	struct adn_verdict v; /* a passing request: where ROUTE TO REPLICA sends it */
};

static __always_inline __u32 adn_dgram_hdr_word(const struct adn_dgram *d)
{
	__u32 w;

	__builtin_memcpy(&w, (const __u8 *)&d->u.f.hdr + ADN_HDR_WORD_OFF, sizeof(w));
	return w;
}

/* The chain functions of the hook: xdp is a constant of the caller, so
 * only one branch survives inlining. */
static __always_inline int adn_dgram_chain_request(int xdp, struct adn_frame *f, __u32 *at)
{
	return xdp ? ADN_XDP_CHAIN_REQUEST(f, at) : ADN_TC_CHAIN_REQUEST(f, at);
}

static __always_inline int adn_dgram_chain_response(int xdp, struct adn_frame *f, __u32 from)
{
	return xdp ? ADN_XDP_CHAIN_RESPONSE(f, from) : ADN_TC_CHAIN_RESPONSE(f, from);
}

/* The frame of a datagram with payload_len bytes of UDP payload: the
 * caller copied ADN_FRAME_PREFIX bytes into d->u if have_prefix, else only
 * the 16-byte header (the rest of d->u is zero). xdp: 1 from adn_xdp.h,
 * 0 from adn_tc.h (which elements run). */
static __always_inline enum adn_dgram_action
adn_dgram_decide(struct adn_dgram *d, __u32 payload_len, int request, int have_prefix, int xdp)
{
	struct adn_frame *f = &d->u.f;
	int status;

	d->v.at = 0;
	d->v.routed = 0;
	d->v.route = 0;

	/* One datagram is exactly one frame. */
	if (f->hdr.len != payload_len || f->hdr.len < ADN_FRAME_MIN ||
	    f->hdr.kind != (request ? ADN_KIND_REQUEST : ADN_KIND_RESPONSE))
		return ADN_DG_BAD;
	d->old_word = adn_dgram_hdr_word(d);

	if (!request) {
		/* A reply the network made has been through the chain already
		 * (by the run that dropped the request). */
		if (f->hdr.flags & ADN_F_NET_REPLY)
			return ADN_DG_PASS;
		ADN_COUNT(responses);
		status = adn_dgram_chain_response(xdp, f, ADN_N_ELEMENTS);
		if (!status)
			return ADN_DG_PASS;
		f->hdr.status = status;
		ADN_COUNT(rewritten);
		return ADN_DG_STATUS;
	}

	/* A request of another layout: answered by the network, no element
	 * runs (its fields are not where the elements would read them). */
	if (adn_layout_bad(f->hdr)) {
		ADN_COUNT(bad_layout);
		f->hdr.kind = ADN_KIND_RESPONSE;
		f->hdr.status = ADN_LAYOUT_STATUS;
		f->hdr.flags |= ADN_F_NET_REPLY;
		return ADN_DG_REPLY;
	}
	/* A request: the elements need the header and the network fields. */
	if (!have_prefix)
		return ADN_DG_BAD;
#ifndef ADN_NO_REWRITE
	d->old_sum = (__u32)bpf_csum_diff(0, 0, d->u.w, sizeof(d->u.w), 0);
#endif
	ADN_COUNT(requests);
	status = adn_dgram_chain_request(xdp, f, &d->v.at);
	if (status == ADN_PASS_REWRITE) {
		ADN_COUNT(rewritten);
#ifndef ADN_NO_REWRITE
		return ADN_DG_NET;
#else
		return ADN_DG_PASS; /* the chain promised never to rewrite */
#endif
	}
	if (!status)
		return ADN_DG_PASS;
	if (status & ADN_ANSWER_BIT) {
		if (!xdp) {
			/* an element answered: the reply is status OK with the
			 * response fields it wrote after the header; the
			 * elements before it see the reply, as for a drop */
			d->answer_len = ADN_HDR_LEN + (status & 0xff);
			f->hdr.len = d->answer_len;
			f->hdr.kind = ADN_KIND_RESPONSE;
			f->hdr.status = ADN_OK;
			f->hdr.flags |= ADN_F_NET_REPLY;
			adn_dgram_chain_response(xdp, f, d->v.at);
			return ADN_DG_ANSWER;
		}
		/* XDP does not build replies (placement keeps such elements
		 * at TC): never answer OK without the fields */
		status = ADN_UNIMPLEMENTED;
	}
	ADN_COUNT(dropped);
	f->hdr.kind = ADN_KIND_RESPONSE;
	f->hdr.status = status;
	f->hdr.flags |= ADN_F_NET_REPLY;
	/* The elements before the one that dropped it see the reply, as
	 * they would see a server's response (a log records it once). */
	adn_dgram_chain_response(xdp, f, d->v.at);
	return ADN_DG_REPLY;
}

/* ~(~sum + new - old) over 32-bit partial sums, folded: RFC 1624 eqn. 3.
 * zero_means_none: a 0 checksum (IPv4 UDP: "none") stays 0, and a
 * computed 0 is sent as 0xffff, as the kernel's CSUM_MANGLED_0. */
static __always_inline __u16 adn_csum_update(__u16 sum, __u64 add)
{
	__u64 s = (__u16)~sum + add;

	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	sum = (__u16)~s;
	return sum ? sum : 0xffff;
}

/* What to add to a checksum when 32 bits at an even offset change from
 * old to new: the two new 16-bit words plus the complements of the old. */
static __always_inline __u64 adn_csum_word_delta(__u32 old, __u32 new)
{
	return (__u64)(__u16)~(old & 0xffff) + (__u16)~(old >> 16) +
	       (new & 0xffff) + (new >> 16);
}

#endif /* ADN_DGRAM_H */
