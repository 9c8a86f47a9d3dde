/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * The XDP program of a chain: SEC("xdp"), at a server's ingress (the
 * earliest point on the receiving host, and the shape a SmartNIC can take
 * over), for RPCs carried one per UDP datagram. Included last by a chain,
 * after it has defined (docs/internals.md section 3):
 *
 *   ADN_N_ELEMENTS
 *   int adn_chain_request(struct adn_frame *f, __u32 *at);
 *   int adn_chain_response(struct adn_frame *f, __u32 from);
 *
 *  - a request (UDP to adn_cfg.port) runs adn_chain_request; a request an
 *    element drops becomes the network's reply in place (kind = response,
 *    the element's status, ADN_F_NET_REPLY), addresses and ports swapped,
 *    and leaves by the device it came in on (XDP_TX);
 *  - a response (UDP from the port; XDP at a client's ingress) runs
 *    adn_chain_response unless the network made it;
 *  - a malformed datagram of the port is counted in adn_stats.malformed
 *    and dropped (XDP_DROP), with no effect on anything else.
 *
 * There is no skb here, so the UDP checksum is updated by hand (RFC 1624)
 * from the bytes that changed; a 0 checksum ("none", IPv4) stays 0.
 * A packet that reached XDP from a veth peer may still carry
 * CHECKSUM_PARTIAL state in generic mode (its checksum field holding only
 * the pseudo-header sum, to be completed in software later); the program
 * cannot see that state. Replies are correct on the wire from real NICs,
 * whose received packets always carry a full checksum, and on veth, which
 * never completes the sum and whose receiver trusts it.
 *
 * XDP_TX on veth in native mode needs the peer device to have NAPI (an XDP
 * program or GRO on); generic mode (xdpgeneric) has no such condition.
 */
#ifndef ADN_XDP_H
#define ADN_XDP_H

#include "adn_pkt.h"
#include "adn_dgram.h"

/* Adds add (a 32-bit partial sum) to the UDP checksum. 0 or -1. */
static __always_inline int adn_xdp_csum_add(struct xdp_md *ctx, const struct adn_pkt *p,
					    __u64 add)
{
	__u16 *check = adn_pkt_udp_csum((void *)(long)ctx->data, (void *)(long)ctx->data_end, p);

	if (!check)
		return -1;
	if (*check || p->ipv6)
		*check = adn_csum_update(*check, add);
	return 0;
}

/* Writes header bytes 10..13 (kind, status, flags) and fixes the checksum. */
static __always_inline int adn_xdp_write_hdr_word(struct xdp_md *ctx, const struct adn_pkt *p,
						  struct adn_dgram *d)
{
	__u32 new_word = adn_dgram_hdr_word(d);

	if (bpf_xdp_store_bytes(ctx, p->payload_off + ADN_HDR_WORD_OFF, &new_word,
				sizeof(new_word)))
		return -1;
	return adn_xdp_csum_add(ctx, p, adn_csum_word_delta(d->old_word, new_word));
}

SEC("xdp")
int adn_xdp(struct xdp_md *ctx)
{
	struct adn_cfg *cfg;
	struct adn_dgram d;
	struct adn_pkt p = {};
	enum adn_pkt_class cls;
	__u32 zero = 0;
	int have_prefix;

	cfg = bpf_map_lookup_elem(&adn_cfg, &zero);
	if (!cfg || !cfg->port || cfg->port > 0xffff)
		return XDP_PASS;
	/* Headers are in the first buffer; the frame may reach into later
	 * fragments of a multi-buffer packet, so it is copied with
	 * bpf_xdp_load_bytes, and lengths are checked against the whole. */
	cls = adn_pkt_parse((void *)(long)ctx->data, (void *)(long)ctx->data_end,
			    (__u32)bpf_xdp_get_buff_len(ctx), bpf_htons((__u16)cfg->port), &p);
	if (cls == ADN_PKT_OTHER)
		return XDP_PASS;
	if (cls == ADN_PKT_BAD || p.payload_len < ADN_HDR_LEN)
		goto bad;

	d.u.w[ADN_FRAME_WORDS - 1] = 0;
	have_prefix = p.payload_len >= ADN_FRAME_PREFIX;
	if (have_prefix) {
		if (bpf_xdp_load_bytes(ctx, p.payload_off, &d.u.f, ADN_FRAME_PREFIX))
			goto bad;
	} else {
		__builtin_memset(&d.u, 0, sizeof(d.u));
		if (bpf_xdp_load_bytes(ctx, p.payload_off, &d.u.f.hdr, ADN_HDR_LEN))
			goto bad;
	}

	switch (adn_dgram_decide(&d, p.payload_len, p.request, have_prefix, 1)) {
	case ADN_DG_PASS:
		return XDP_PASS;
	case ADN_DG_STATUS:
		return adn_xdp_write_hdr_word(ctx, &p, &d) ? XDP_DROP : XDP_PASS;
	case ADN_DG_NET:
#ifndef ADN_NO_REWRITE
		if (bpf_xdp_store_bytes(ctx, p.payload_off + ADN_HDR_LEN, &d.u.f.net, ADN_NET_LEN))
			return XDP_DROP;
		/* bpf_csum_diff with seed ~old: sum(new) - sum(old) */
		if (adn_xdp_csum_add(ctx, &p,
				     (__u32)bpf_csum_diff(0, 0, d.u.w, sizeof(d.u.w), ~d.old_sum)))
			return XDP_DROP;
#endif
		return XDP_PASS;
	case ADN_DG_REPLY:
		if (adn_pkt_swap((void *)(long)ctx->data, (void *)(long)ctx->data_end, &p) ||
		    adn_xdp_write_hdr_word(ctx, &p, &d))
			return XDP_DROP;
		return XDP_TX;
	default:
		break;
	}
bad:
	ADN_COUNT(malformed);
	return XDP_DROP;
}

#endif /* ADN_XDP_H */
