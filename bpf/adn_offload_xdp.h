/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * The XDP program of an offloaded chain: SEC("xdp") on the server's NIC
 * (adnc --target offload, docs/offload.md). Included last by
 * `<chain>.offload.bpf.c`, after adn_offload.h and the chain functions
 * (docs/internals.md §3): same decisions as adn_xdp.h + adn_dgram.h for a
 * request, under the NIC's rules:
 *
 *  - direct packet access only: no bpf_xdp_load_bytes/store_bytes, no
 *    bpf_xdp_get_buff_len (single-buffer frames; adn datagrams never exceed
 *    one MTU), no bpf_csum_diff;
 *  - the network's reply to a dropped request (and to a request of another
 *    layout) is written in place and sent back with XDP_TX; only header
 *    bytes 10..13 change, and the UDP checksum follows by RFC 1624 from
 *    those two words (plain arithmetic);
 *  - elements never rewrite network fields here (adnc refuses UPDATE input
 *    on the NIC: the checksum of the new fields would need bpf_csum_diff),
 *    so the chain defines ADN_NO_REWRITE;
 *  - responses are left alone: elements on the NIC have no ON RESPONSE
 *    side (the NIC sits at the server's ingress, where requests arrive);
 *  - counters in the ARRAY adn_stats, atomic adds.
 */
#ifndef ADN_OFFLOAD_XDP_H
#define ADN_OFFLOAD_XDP_H

#include "adn_layout.h"
#include "adn_pkt.h"

/* Offset of kind, status and flags in the header (adn_dgram.h). */
#define ADN_OFL_HDR_WORD_OFF 10

static __always_inline __u16 adn_ofl_csum_update(__u16 sum, __u32 old, __u32 new)
{
	__u32 s = (__u16)~sum;

	s += (__u16)~(old & 0xffff);
	s += (__u16)~(old >> 16);
	s += new & 0xffff;
	s += new >> 16;
	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	sum = (__u16)~s;
	return sum ? sum : 0xffff;
}

SEC("xdp")
int adn_xdp_offload(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data, *data_end = (void *)(long)ctx->data_end;
	struct adn_frame f;
	struct adn_pkt p = {};
	struct adn_cfg *cfg;
	enum adn_pkt_class cls;
	__u32 zero = 0, at = 0, old_word, new_word;
	__u8 *frame;
	__u16 *check;
	int status;

	cfg = bpf_map_lookup_elem(&adn_cfg, &zero);
	if (!cfg || !cfg->port || cfg->port > 0xffff)
		return XDP_PASS;
	cls = adn_pkt_parse(data, data_end, (__u32)(data_end - data), bpf_htons((__u16)cfg->port), &p);
	if (cls == ADN_PKT_OTHER)
		return XDP_PASS;
	if (cls == ADN_PKT_BAD)
		goto bad;
	if (!p.request)
		return XDP_PASS; /* no element here has a response side */
	if (p.payload_off > ADN_L4_OFF_MAX + 8)
		goto bad;
	frame = data + p.payload_off;
	if ((void *)(frame + ADN_HDR_LEN) > data_end)
		goto bad;
	__builtin_memset(&f, 0, sizeof(f));
	__builtin_memcpy(&f.hdr, frame, ADN_HDR_LEN);
	/* one datagram is exactly one frame */
	if (f.hdr.len != p.payload_len || f.hdr.len < ADN_FRAME_MIN ||
	    f.hdr.kind != ADN_KIND_REQUEST)
		goto bad;
	__builtin_memcpy(&old_word, (__u8 *)&f.hdr + ADN_OFL_HDR_WORD_OFF, sizeof(old_word));

	if (adn_layout_bad(f.hdr)) {
		ADN_COUNT(bad_layout);
		status = ADN_LAYOUT_STATUS;
	} else {
		if ((void *)(frame + ADN_FRAME_PREFIX) > data_end)
			goto bad; /* the elements need the network fields */
		__builtin_memcpy(&f, frame, ADN_FRAME_PREFIX);
		ADN_COUNT(requests);
		status = ADN_XDP_CHAIN_REQUEST(&f, &at);
		if (!status || status == ADN_PASS_REWRITE)
			return XDP_PASS;
		ADN_COUNT(dropped);
	}
	/* The network's reply, in place: kind, status, flags; turned around. */
	f.hdr.kind = ADN_KIND_RESPONSE;
	f.hdr.status = (__u8)status;
	f.hdr.flags |= ADN_F_NET_REPLY;
	__builtin_memcpy(&new_word, (__u8 *)&f.hdr + ADN_OFL_HDR_WORD_OFF, sizeof(new_word));
	if ((void *)(frame + ADN_HDR_LEN) > data_end)
		goto bad;
	__builtin_memcpy(frame + ADN_OFL_HDR_WORD_OFF, &new_word, sizeof(new_word));
	check = adn_pkt_udp_csum(data, data_end, &p);
	if (!check)
		goto bad;
	if (*check || p.ipv6)
		*check = adn_ofl_csum_update(*check, old_word, new_word);
	if (adn_pkt_swap(data, data_end, &p))
		goto bad;
	return XDP_TX;
bad:
	ADN_COUNT(malformed);
	return XDP_DROP;
}

#endif /* ADN_OFFLOAD_XDP_H */
