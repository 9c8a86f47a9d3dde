/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * Packet parsing for the per-datagram programs (adn_tc.h, adn_xdp.h):
 * Ethernet, IPv4 or IPv6, UDP to or from the service port. Works on the
 * direct packet pointers both program types have, so it is shared.
 *
 * What counts as "ours": a UDP datagram whose destination port (a request)
 * or source port (a response) is the service's port. Everything else is
 * left alone. A datagram of ours that cannot be one whole adn frame is
 * malformed: adn frames never fragment (ADN_UDP_FRAME_MAX keeps them under
 * a 1500-byte MTU), so the first fragment of a datagram to the port is
 * malformed too; dropping it makes reassembly fail, so the later fragments
 * (which carry no UDP header and cannot be matched) are let through.
 *
 * Not parsed (left alone): VLAN tags, IPv4 with IHL < 5, IPv6 extension
 * headers other than a fragment header.
 */
#ifndef ADN_PKT_H
#define ADN_PKT_H

#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/udp.h>

#define ADN_IP_MF 0x2000
#define ADN_IP_OFFMASK 0x1fff
#define ADN_IPV6_FRAG 44

/* Worst case of Ethernet + IPv4 with options + UDP: what must be linear. */
#define ADN_L2L4_MAX (ETH_HLEN + 60 + 8)
/* Largest offset of the UDP header (IPv4 with 40 bytes of options). */
#define ADN_L4_OFF_MAX (ETH_HLEN + 60)

enum adn_pkt_class {
	ADN_PKT_OTHER, /* not a datagram of the service: leave it alone */
	ADN_PKT_OURS,  /* a datagram to or from the port, lengths consistent */
	ADN_PKT_BAD,   /* to or from the port, but impossible: drop and count */
};

struct adn_pkt {
	__u32 l4_off;      /* UDP header, from the start of the packet */
	__u32 payload_off; /* the adn frame */
	__u32 payload_len; /* UDP length - 8 */
	__u8 ipv6;
	__u8 request; /* 1: to the port (a request), 0: from it (a response) */
};

/* Classifies the UDP header at l4_off; ip_end is where the IP datagram
 * ends (from the IP header's length field). */
static __always_inline enum adn_pkt_class
adn_pkt_udp(void *data, void *data_end, __u32 l4_off, __u32 ip_end, __u32 pkt_len,
	    __u16 port_be, int first_fragment, struct adn_pkt *p)
{
	struct udphdr *udp;
	__u32 ulen;

	if (l4_off > ADN_L4_OFF_MAX)
		return ADN_PKT_OTHER;
	udp = data + l4_off;
	if ((void *)(udp + 1) > data_end)
		return ADN_PKT_OTHER;
	if (udp->dest == port_be)
		p->request = 1;
	else if (udp->source == port_be)
		p->request = 0;
	else
		return ADN_PKT_OTHER;
	if (first_fragment)
		return ADN_PKT_BAD;
	ulen = bpf_ntohs(udp->len);
	/* The UDP length must fit in the IP datagram, and that in the packet
	 * (what follows ip_end is link-layer padding). */
	if (ulen < sizeof(*udp) || ip_end > pkt_len || l4_off + ulen > ip_end)
		return ADN_PKT_BAD;
	p->l4_off = l4_off;
	p->payload_off = l4_off + sizeof(*udp);
	p->payload_len = ulen - sizeof(*udp);
	return ADN_PKT_OURS;
}

/* data..data_end: the linear part, starting at the Ethernet header;
 * pkt_len: the whole packet's length; port_be: the service port in
 * network byte order. */
static __always_inline enum adn_pkt_class
adn_pkt_parse(void *data, void *data_end, __u32 pkt_len, __u16 port_be, struct adn_pkt *p)
{
	struct ethhdr *eth = data;

	if ((void *)(eth + 1) > data_end)
		return ADN_PKT_OTHER;
	if (eth->h_proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = (void *)(eth + 1);
		__u32 ihl, tot;
		__u16 frag;

		if ((void *)(ip + 1) > data_end)
			return ADN_PKT_OTHER;
		ihl = ip->ihl;
		if (ip->version != 4 || ihl < 5 || ip->protocol != IPPROTO_UDP)
			return ADN_PKT_OTHER;
		frag = bpf_ntohs(ip->frag_off);
		if (frag & ADN_IP_OFFMASK)
			return ADN_PKT_OTHER; /* no UDP header in a later fragment */
		tot = bpf_ntohs(ip->tot_len);
		p->ipv6 = 0;
		return adn_pkt_udp(data, data_end, ETH_HLEN + ihl * 4, ETH_HLEN + tot, pkt_len,
				   port_be, frag & ADN_IP_MF, p);
	}
	if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = (void *)(eth + 1);
		__u32 l4 = ETH_HLEN + sizeof(*ip6), end;

		if ((void *)(ip6 + 1) > data_end)
			return ADN_PKT_OTHER;
		end = l4 + bpf_ntohs(ip6->payload_len);
		p->ipv6 = 1;
		if (ip6->nexthdr == IPPROTO_UDP)
			return adn_pkt_udp(data, data_end, l4, end, pkt_len, port_be, 0, p);
		if (ip6->nexthdr == ADN_IPV6_FRAG) {
			/* nexthdr u8, reserved u8, offset+flags be16, id be32 */
			__u8 *fh = data + l4;

			if ((void *)(fh + 8) > data_end)
				return ADN_PKT_OTHER;
			if (fh[0] != IPPROTO_UDP || (bpf_ntohs(*(__u16 *)(fh + 2)) & 0xfff8))
				return ADN_PKT_OTHER;
			/* A first fragment: datagrams of ours never fragment. */
			return adn_pkt_udp(data, data_end, l4 + 8, end, pkt_len, port_be, 1, p);
		}
	}
	return ADN_PKT_OTHER;
}

/* Turns the packet around: Ethernet, IP addresses and UDP ports swapped.
 * None of the checksums changes (both are sums over the same words).
 * 0, or -1 if the headers are not where parse found them. */
static __always_inline int adn_pkt_swap(void *data, void *data_end, const struct adn_pkt *p)
{
	struct ethhdr *eth = data;
	struct udphdr *udp;
	__u8 mac[ETH_ALEN];
	__u16 port;

	if ((void *)(eth + 1) > data_end)
		return -1;
	__builtin_memcpy(mac, eth->h_dest, ETH_ALEN);
	__builtin_memcpy(eth->h_dest, eth->h_source, ETH_ALEN);
	__builtin_memcpy(eth->h_source, mac, ETH_ALEN);
	if (p->ipv6) {
		struct ipv6hdr *ip6 = (void *)(eth + 1);
		struct in6_addr a;

		if ((void *)(ip6 + 1) > data_end)
			return -1;
		a = ip6->saddr;
		ip6->saddr = ip6->daddr;
		ip6->daddr = a;
	} else {
		struct iphdr *ip = (void *)(eth + 1);
		__u32 a;

		if ((void *)(ip + 1) > data_end)
			return -1;
		a = ip->saddr;
		ip->saddr = ip->daddr;
		ip->daddr = a;
	}
	if (p->l4_off > ADN_L4_OFF_MAX)
		return -1;
	udp = data + p->l4_off;
	if ((void *)(udp + 1) > data_end)
		return -1;
	port = udp->source;
	udp->source = udp->dest;
	udp->dest = port;
	return 0;
}

/* The UDP checksum field, or NULL. */
static __always_inline __u16 *adn_pkt_udp_csum(void *data, void *data_end,
					       const struct adn_pkt *p)
{
	struct udphdr *udp;

	if (p->l4_off > ADN_L4_OFF_MAX)
		return 0;
	udp = data + p->l4_off;
	if ((void *)(udp + 1) > data_end)
		return 0;
	return &udp->check;
}

#endif /* ADN_PKT_H */
