/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * The TC program of a chain: SEC("tc"), a cls_bpf classifier in
 * direct-action mode, for RPCs carried one per UDP datagram. Included last
 * by a chain, after it has defined (docs/internals.md section 3):
 *
 *   ADN_N_ELEMENTS
 *   int adn_chain_request(struct adn_frame *f, __u32 *at);
 *   int adn_chain_response(struct adn_frame *f, __u32 from);
 *
 * Attach it at the client's egress (requests leave: the earliest point that
 * still sees every RPC of the client) and, for response-side elements, at
 * the client's ingress; or at a server's ingress/egress. The same program
 * works in each place:
 *
 *  - a request (UDP to adn_cfg.port) runs adn_chain_request; a request an
 *    element drops becomes the network's reply in place (kind = response,
 *    the element's status, ADN_F_NET_REPLY), addresses and ports swapped,
 *    and is redirected back: at an egress hook into the same device's
 *    ingress (BPF_F_INGRESS), so the client's own socket receives it; at
 *    an ingress hook out of the same device, towards the client;
 *  - a request an element answers (ADN_ANSWER, INSERT INTO reply) becomes
 *    the whole reply: resized to the header and the response fields the
 *    element wrote, status OK, ADN_F_NET_REPLY, turned around and
 *    redirected as above (adn_tc_answer);
 *  - a response (UDP from the port) runs adn_chain_response, unless the
 *    network made it (ADN_F_NET_REPLY): that one has been through the
 *    chain already. The elements find the first bytes of its body after
 *    the header (RESPONSE fields), zeros past its end;
 *  - a malformed datagram of the port (shorter than a header, its len
 *    field not the UDP payload length, a request too short for the
 *    network fields, the wrong kind for its direction, a fragment) is
 *    counted in adn_stats.malformed and dropped (TC_ACT_SHOT); unlike a
 *    TCP stream nothing else depends on it, so nothing else is affected.
 *
 * Checksums: a reply changes 4 header bytes and a rewrite the network
 * fields; swapping addresses and ports changes no checksum (the sums are
 * over the same words). bpf_l4_csum_replace does the right thing for each
 * skb state: at the sender's egress the skb is usually CHECKSUM_PARTIAL
 * (the checksum field holds the pseudo-header sum, the payload is summed
 * later) and a payload change must not touch it; otherwise the field is
 * updated. BPF_F_MARK_MANGLED_0 keeps a 0 ("no checksum", IPv4) at 0.
 */
#ifndef ADN_TC_H
#define ADN_TC_H

#include <linux/pkt_cls.h>
#include "adn_pkt.h"
#include "adn_dgram.h"

/* At an ingress hook the kernel has set the skb's input device to the
 * device the hook is on; at egress it is 0 for local traffic and the
 * input device for forwarded traffic (another device). */
static __always_inline int adn_tc_at_ingress(const struct __sk_buff *skb)
{
	return skb->ingress_ifindex == skb->ifindex;
}

/* Writes header bytes 10..13 (kind, status, flags) and fixes the UDP
 * checksum. 0 or -1. */
static __always_inline int adn_tc_write_hdr_word(struct __sk_buff *skb, const struct adn_pkt *p,
						 struct adn_dgram *d)
{
	__u32 new_word = adn_dgram_hdr_word(d);

	if (bpf_skb_store_bytes(skb, p->payload_off + ADN_HDR_WORD_OFF, &new_word,
				sizeof(new_word), 0))
		return -1;
	return bpf_l4_csum_replace(skb, p->l4_off + __builtin_offsetof(struct udphdr, check),
				   d->old_word, new_word,
				   sizeof(new_word) | BPF_F_MARK_MANGLED_0) ? -1 : 0;
}

/* Writes the network fields back and fixes the UDP checksum by the
 * difference of the two sums of the prefix. 0 or -1. */
static __always_inline int adn_tc_write_net(struct __sk_buff *skb, const struct adn_pkt *p,
					    struct adn_dgram *d)
{
	__u32 diff = (__u32)bpf_csum_diff(0, 0, d->u.w, sizeof(d->u.w), ~d->old_sum);

	if (bpf_skb_store_bytes(skb, p->payload_off + ADN_HDR_LEN, &d->u.f.net, ADN_NET_LEN, 0))
		return -1;
	/* size 0: "to" is a checksum difference from bpf_csum_diff */
	return bpf_l4_csum_replace(skb, p->l4_off + __builtin_offsetof(struct udphdr, check), 0, diff,
				   BPF_F_MARK_MANGLED_0) ? -1 : 0;
}

static __always_inline int adn_tc_reply(struct __sk_buff *skb, const struct adn_pkt *p,
					struct adn_dgram *d)
{
	int ingress = adn_tc_at_ingress(skb);

	/* Direct writes first: the helpers below invalidate packet pointers. */
	if (adn_pkt_swap((void *)(long)skb->data, (void *)(long)skb->data_end, p))
		return TC_ACT_SHOT;
	if (adn_tc_write_hdr_word(skb, p, d))
		return TC_ACT_SHOT;
	return bpf_redirect(skb->ifindex, ingress ? 0 : BPF_F_INGRESS);
}

/* A request an element answered (ADN_DG_ANSWER): d->u holds the whole
 * reply frame, answer_len bytes, zero-padded to a whole word. The datagram
 * is resized to it, turned around and redirected like a drop's reply.
 * Lengths change (UDP, IP, the skb), so the UDP checksum is set anew: the
 * pseudo-header part through BPF_F_PSEUDO_HDR (right for each skb state;
 * at the sender's egress the skb is usually CHECKSUM_PARTIAL and the field
 * holds only that part), then, for a skb whose field holds the full sum,
 * the full sum computed here over the new header and payload (a
 * non-pseudo-header replace, which the kernel applies only then). A 0
 * ("no checksum", IPv4) stays 0. */
static __always_inline int adn_tc_answer(struct __sk_buff *skb, const struct adn_pkt *p,
					 struct adn_dgram *d)
{
	const __u32 csum_off = p->l4_off + __builtin_offsetof(struct udphdr, check);
	int ingress = adn_tc_at_ingress(skb);
	__u32 len = d->answer_len, words, sum;
	__u16 old_ulen, new_ulen, check;
	struct udphdr uh;
	__u32 pseudo[10];

	if (len < ADN_HDR_LEN || len > sizeof(d->u.b) || p->l4_off > ADN_L4_OFF_MAX)
		return TC_ACT_SHOT;
	/* Direct writes first: the helpers below invalidate packet pointers. */
	if (adn_pkt_swap((void *)(long)skb->data, (void *)(long)skb->data_end, p))
		return TC_ACT_SHOT;
	if (bpf_skb_load_bytes(skb, p->l4_off, &uh, sizeof(uh)))
		return TC_ACT_SHOT;
	old_ulen = uh.len;
	new_ulen = bpf_htons((__u16)(sizeof(uh) + len));
	check = uh.check;
	if (p->ipv6) {
		const __u32 plen_off = ETH_HLEN + __builtin_offsetof(struct ipv6hdr, payload_len);

		if (bpf_skb_store_bytes(skb, plen_off, &new_ulen, sizeof(new_ulen), 0) ||
		    bpf_skb_load_bytes(skb, ETH_HLEN + __builtin_offsetof(struct ipv6hdr, saddr),
				       pseudo, 32))
			return TC_ACT_SHOT;
		pseudo[8] = bpf_htonl(sizeof(uh) + len);
		pseudo[9] = bpf_htonl(IPPROTO_UDP);
	} else {
		const __u32 tot_off = ETH_HLEN + __builtin_offsetof(struct iphdr, tot_len);
		const __u32 ipsum_off = ETH_HLEN + __builtin_offsetof(struct iphdr, check);
		__u16 old_tot, new_tot;

		if (bpf_skb_load_bytes(skb, tot_off, &old_tot, sizeof(old_tot)) ||
		    bpf_skb_load_bytes(skb, ETH_HLEN + __builtin_offsetof(struct iphdr, saddr),
				       pseudo, 8))
			return TC_ACT_SHOT;
		new_tot = bpf_htons((__u16)(bpf_ntohs(old_tot) - p->payload_len + len));
		if (bpf_l3_csum_replace(skb, ipsum_off, old_tot, new_tot, sizeof(new_tot)) ||
		    bpf_skb_store_bytes(skb, tot_off, &new_tot, sizeof(new_tot), 0))
			return TC_ACT_SHOT;
		pseudo[2] = bpf_htonl((IPPROTO_UDP << 16) | (sizeof(uh) + len));
	}
	if (bpf_skb_change_tail(skb, p->payload_off + len, 0))
		return TC_ACT_SHOT;
	if (bpf_skb_store_bytes(skb, p->l4_off + __builtin_offsetof(struct udphdr, len), &new_ulen,
				sizeof(new_ulen), 0) ||
	    bpf_skb_store_bytes(skb, p->payload_off, d->u.b, len, 0))
		return TC_ACT_SHOT;
	if (check || p->ipv6) {
		/* the pseudo-header's length, in either skb state */
		if (bpf_l4_csum_replace(skb, csum_off, old_ulen, new_ulen,
					BPF_F_PSEUDO_HDR | BPF_F_MARK_MANGLED_0 | sizeof(new_ulen)))
			return TC_ACT_SHOT;
		if (bpf_skb_load_bytes(skb, csum_off, &check, sizeof(check)))
			return TC_ACT_SHOT;
		/* the full sum: pseudo-header, UDP header (check 0), payload */
		uh.len = new_ulen;
		uh.check = 0;
		sum = (__u32)bpf_csum_diff(0, 0, pseudo, p->ipv6 ? 40 : 12, 0);
		sum = (__u32)bpf_csum_diff(0, 0, (__u32 *)&uh, sizeof(uh), sum);
		words = (len + 3) & ~3u;
		if (words > sizeof(d->u.b))
			return TC_ACT_SHOT;
		sum = (__u32)bpf_csum_diff(0, 0, (__u32 *)d->u.b, words, sum);
		sum = (sum & 0xffff) + (sum >> 16);
		sum = (sum & 0xffff) + (sum >> 16);
		/* field ~check -> ~full: the kernel writes ~(check - ~check + ~full)
		 * = full, for a skb that is not CHECKSUM_PARTIAL only */
		if (bpf_l4_csum_replace(skb, csum_off, (__u16)~check, (__u16)sum,
					BPF_F_MARK_MANGLED_0 | sizeof(check)))
			return TC_ACT_SHOT;
	}
	return bpf_redirect(skb->ifindex, ingress ? 0 : BPF_F_INGRESS);
}

#ifdef ADN_ROUTE_MAP
/* Rewrites the destination IPv6 address of the datagram to the replica's.
 * There is no IPv6 header checksum, but the UDP checksum is mandatory over
 * IPv6 and covers both addresses (pseudo-header): one
 * bpf_l4_csum_replace with BPF_F_PSEUDO_HDR per 4-byte word of the
 * address, the same replace the IPv4 path makes for its one word, right
 * for each skb state (at the sender's egress usually CHECKSUM_PARTIAL: the
 * field holds the pseudo-header sum only and is updated as such; otherwise
 * the full checksum is). BPF_F_MARK_MANGLED_0 turns a result of 0 into
 * 0xffff (0 means "no checksum", which IPv6 does not allow), and leaves
 * alone a field that is 0 already (a sender with UDP_NO_CHECK6_TX).
 * Kernel quirk, not met here: on a CHECKSUM_COMPLETE skb (an ingress
 * hook) a BPF_F_PSEUDO_HDR replace also changes skb->csum, which is wrong
 * for IPv6 (the addresses are not in it; fixed in 6.16 with the new
 * BPF_F_IPV6 flag, which older kernels refuse); routing runs at egress
 * only, where a local datagram is CHECKSUM_PARTIAL or NONE. 0 or -1. */
static __always_inline int adn_tc_route6(struct __sk_buff *skb, __u32 csum_off,
					 const struct adn_replica *r)
{
	const __u32 daddr_off = ETH_HLEN + __builtin_offsetof(struct ipv6hdr, daddr);
	__u32 old_ip[4], new_ip[4];
	int i;

	if (bpf_skb_load_bytes(skb, daddr_off, old_ip, sizeof(old_ip)))
		return -1;
	__builtin_memcpy(new_ip, r->addr, sizeof(new_ip));
	if (!((old_ip[0] ^ new_ip[0]) | (old_ip[1] ^ new_ip[1]) | (old_ip[2] ^ new_ip[2]) |
	      (old_ip[3] ^ new_ip[3])))
		return 0;
#pragma unroll
	for (i = 0; i < 4; i++)
		if (bpf_l4_csum_replace(skb, csum_off, old_ip[i], new_ip[i],
					BPF_F_PSEUDO_HDR | BPF_F_MARK_MANGLED_0 | sizeof(new_ip[i])))
			return -1;
	return bpf_skb_store_bytes(skb, daddr_off, new_ip, sizeof(new_ip), 0) ? -1 : 0;
}

/* Sends a passing request leaving the client to the replica its route
 * value chose (adn_route.h): destination address (IPv4 or IPv6), UDP port
 * and, when the replica set knows it, MAC rewritten; checksums fixed (IPv4
 * header; UDP, whose pseudo-header has the address). The client's socket
 * must accept replies from every replica (the RPC library's replica
 * client does). An empty set leaves the packet alone; so does a replica
 * of the other family than the datagram (route_miss): the request goes
 * where the client sent it. */
static __always_inline int adn_tc_route(struct __sk_buff *skb, const struct adn_pkt *p,
					const struct adn_dgram *d)
{
	const __u32 daddr_off = ETH_HLEN + __builtin_offsetof(struct iphdr, daddr);
	const __u32 ipsum_off = ETH_HLEN + __builtin_offsetof(struct iphdr, check);
	__u32 csum_off, dport_off, old_ip, new_ip;
	__u16 old_port, new_port;
	const struct adn_replica *r;
	__u8 mac[ETH_ALEN];
	__u32 port;

	if (!d->v.routed || adn_tc_at_ingress(skb))
		return 0;
	r = adn_route_pick(d->v.route);
	if (!r)
		return 0;
	if (r->family != (p->ipv6 ? AF_INET6 : AF_INET)) {
		ADN_COUNT(route_miss);
		return 0;
	}
	if (p->l4_off > ADN_L4_OFF_MAX)
		return -1;
	csum_off = p->l4_off + __builtin_offsetof(struct udphdr, check);
	dport_off = p->l4_off + __builtin_offsetof(struct udphdr, dest);
	if (bpf_skb_load_bytes(skb, dport_off, &old_port, sizeof(old_port)))
		return -1;
	port = r->port;
	__builtin_memcpy(mac, r->mac, ETH_ALEN);
	new_port = bpf_htons((__u16)port);
	if (p->ipv6) {
		if (adn_tc_route6(skb, csum_off, r))
			return -1;
	} else {
		if (bpf_skb_load_bytes(skb, daddr_off, &old_ip, sizeof(old_ip)))
			return -1;
		new_ip = r->addr[0];
		if (old_ip != new_ip &&
		    (bpf_l4_csum_replace(skb, csum_off, old_ip, new_ip,
					 BPF_F_PSEUDO_HDR | BPF_F_MARK_MANGLED_0 | sizeof(new_ip)) ||
		     bpf_l3_csum_replace(skb, ipsum_off, old_ip, new_ip, sizeof(new_ip)) ||
		     bpf_skb_store_bytes(skb, daddr_off, &new_ip, sizeof(new_ip), 0)))
			return -1;
	}
	ADN_COUNT(routed);
	if (old_port != new_port) {
		if (bpf_l4_csum_replace(skb, csum_off, old_port, new_port,
					BPF_F_MARK_MANGLED_0 | sizeof(new_port)) ||
		    bpf_skb_store_bytes(skb, dport_off, &new_port, sizeof(new_port), 0))
			return -1;
	}
	if (mac[0] | mac[1] | mac[2] | mac[3] | mac[4] | mac[5])
		if (bpf_skb_store_bytes(skb, __builtin_offsetof(struct ethhdr, h_dest), mac,
					ETH_ALEN, 0))
			return -1;
	return 0;
}
#else
#define adn_tc_route(skb, p, d) 0
#endif

SEC("tc")
int adn_tc(struct __sk_buff *skb)
{
	struct adn_cfg *cfg;
	struct adn_dgram d;
	struct adn_pkt p = {};
	enum adn_pkt_class cls;
	__u32 zero = 0, linear;
	int have_prefix;

	cfg = bpf_map_lookup_elem(&adn_cfg, &zero);
	if (!cfg || !cfg->port || cfg->port > 0xffff)
		return TC_ACT_OK;
	/* The headers are linear for locally made packets; make sure. */
	linear = skb->data_end - skb->data;
	if (linear < ADN_L2L4_MAX && skb->len > linear)
		bpf_skb_pull_data(skb, skb->len < ADN_L2L4_MAX ? skb->len : ADN_L2L4_MAX);

	cls = adn_pkt_parse((void *)(long)skb->data, (void *)(long)skb->data_end, skb->len,
			    bpf_htons((__u16)cfg->port), &p);
	if (cls == ADN_PKT_OTHER)
		return TC_ACT_OK;
	if (cls == ADN_PKT_BAD || p.payload_len < ADN_HDR_LEN)
		goto bad;

	/* The prefix is copied with bpf_skb_load_bytes: it may lie in paged
	 * data, and elements read it from the stack. */
	__builtin_memset(&d.u, 0, sizeof(d.u));
	have_prefix = p.payload_len >= ADN_FRAME_PREFIX;
	if (!p.request) {
		/* a response: the header and the first bytes of its body, for
		 * response sides that read response fields (zeros past its end) */
		__u32 n = p.payload_len;

		if (n > sizeof(d.u))
			n = sizeof(d.u);
		if (n < ADN_HDR_LEN || bpf_skb_load_bytes(skb, p.payload_off, &d.u, n))
			goto bad;
	} else if (have_prefix) {
		if (bpf_skb_load_bytes(skb, p.payload_off, &d.u.f, ADN_FRAME_PREFIX))
			goto bad;
	} else {
		if (bpf_skb_load_bytes(skb, p.payload_off, &d.u.f.hdr, ADN_HDR_LEN))
			goto bad;
	}

	switch (adn_dgram_decide(&d, p.payload_len, p.request, have_prefix, 0)) {
	case ADN_DG_PASS:
		return adn_tc_route(skb, &p, &d) ? TC_ACT_SHOT : TC_ACT_OK;
	case ADN_DG_STATUS:
		return adn_tc_write_hdr_word(skb, &p, &d) ? TC_ACT_SHOT : TC_ACT_OK;
	case ADN_DG_NET:
#ifndef ADN_NO_REWRITE
		if (adn_tc_write_net(skb, &p, &d))
			return TC_ACT_SHOT;
#endif
		return adn_tc_route(skb, &p, &d) ? TC_ACT_SHOT : TC_ACT_OK;
	case ADN_DG_REPLY:
		return adn_tc_reply(skb, &p, &d);
	case ADN_DG_ANSWER: {
		int act = adn_tc_answer(skb, &p, &d);

		if (act != TC_ACT_SHOT)
			ADN_COUNT(answered); /* the reply is on its way */
		return act;
	}
	default:
		break;
	}
bad:
	ADN_COUNT(malformed);
	return TC_ACT_SHOT;
}

#endif /* ADN_TC_H */
