/* SPDX-License-Identifier: MIT */
/*
 * Running an adn TC or XDP program on a hand-built packet with
 * BPF_PROG_TEST_RUN: the Ethernet/IPv4-or-IPv6/UDP datagram around a
 * payload (valid checksums unless asked otherwise), the Internet checksum
 * to check what a program wrote, and one test run (repeat, return value,
 * output, the kernel's mean nanoseconds per run).
 *
 * Used by selftests/unit/test_tc_xdp.c (correctness) and
 * tools/bench/prog_ns.c (nanoseconds per packet). tools/lib/ holds what
 * the tools and the tests share outside the libraries. Header-only (static
 * inline) because both are built as one source file each: the unit tests
 * by the Makefile's test_%.c rule, prog_ns by tools/bench/micro.sh.
 */
#ifndef ADN_PROG_TEST_RUN_H
#define ADN_PROG_TEST_RUN_H

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* The two ends of every packet: the client (source) and the server. */
static const uint8_t PKT_MAC_C[6] = { 0x02, 0, 0, 0, 0, 0x01 }, PKT_MAC_S[6] = { 0x02, 0, 0, 0, 0, 0x02 };
static const uint8_t PKT_IP4_C[4] = { 10, 77, 0, 1 }, PKT_IP4_S[4] = { 10, 77, 0, 11 };
static const uint8_t PKT_IP6_C[16] = { 0xfd, 0, 0, 0x77, [15] = 1 },
		     PKT_IP6_S[16] = { 0xfd, 0, 0, 0x77, [15] = 11 };

/* How pkt_build shapes a datagram; { .sport, .dport } is a plain IPv4/UDP one. */
struct pkt_opts {
	int v6;
	int ip_opts;     /* IPv4 options words (IHL - 5) */
	int no_csum;     /* IPv4: UDP checksum 0 */
	int mf;          /* IPv4: more-fragments bit */
	int udp_len_adj; /* added to the UDP length field */
	int proto;       /* 0: UDP */
	uint16_t sport, dport;
};

/* The 16-bit one's-complement sum of n bytes at p (big-endian words), added to s. */
static inline uint32_t pkt_sum16(const uint8_t *p, size_t n, uint32_t s)
{
	for (size_t i = 0; i + 1 < n; i += 2)
		s += (uint32_t)p[i] << 8 | p[i + 1];
	if (n & 1)
		s += (uint32_t)p[n - 1] << 8;
	return s;
}

/* s folded to 16 bits (the carries added back). */
static inline uint16_t pkt_fold(uint32_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)s;
}

/* Where the UDP header of the Ethernet frame b starts. */
static inline size_t pkt_l4_offset(const uint8_t *b)
{
	if (b[12] == 0x86 && b[13] == 0xdd)
		return 14 + 40;
	return 14 + (size_t)(b[14] & 0xf) * 4;
}

/* The UDP checksum of the datagram in b over its pseudo-header, header and
 * payload: 0xffff when the checksum field is right. */
static inline uint16_t pkt_udp_sum(const uint8_t *b)
{
	size_t l4 = pkt_l4_offset(b);
	uint16_t ulen = (uint16_t)(b[l4 + 4] << 8 | b[l4 + 5]);
	uint32_t s;

	if (b[12] == 0x86 && b[13] == 0xdd)
		s = pkt_sum16(b + 14 + 8, 32, 0);
	else
		s = pkt_sum16(b + 14 + 12, 8, 0);
	s += 17 + ulen;
	return pkt_fold(pkt_sum16(b + l4, ulen, s));
}

/* Writes into b the Ethernet frame client -> server of a UDP datagram
 * (as o says) holding payload; its length. */
static inline size_t pkt_build(uint8_t *b, const struct pkt_opts *o, const uint8_t *payload,
			       size_t plen)
{
	size_t l3 = 14, ipl = o->v6 ? 40 : 20 + 4 * (size_t)o->ip_opts, l4 = l3 + ipl;
	uint16_t ulen = (uint16_t)(8 + plen);

	memset(b, 0, l4 + 8 + plen);
	memcpy(b, PKT_MAC_S, 6);
	memcpy(b + 6, PKT_MAC_C, 6);
	b[12] = o->v6 ? 0x86 : 0x08;
	b[13] = o->v6 ? 0xdd : 0x00;
	if (o->v6) {
		b[l3] = 0x60;
		b[l3 + 4] = (uint8_t)(ulen >> 8);
		b[l3 + 5] = (uint8_t)ulen;
		b[l3 + 6] = o->proto ? (uint8_t)o->proto : 17;
		b[l3 + 7] = 64;
		memcpy(b + l3 + 8, PKT_IP6_C, 16);
		memcpy(b + l3 + 24, PKT_IP6_S, 16);
	} else {
		uint16_t tot = (uint16_t)(ipl + ulen);
		b[l3] = (uint8_t)(0x45 + o->ip_opts);
		b[l3 + 2] = (uint8_t)(tot >> 8);
		b[l3 + 3] = (uint8_t)tot;
		b[l3 + 6] = o->mf ? 0x20 : 0x40; /* MF, or DF */
		b[l3 + 8] = 64;
		b[l3 + 9] = o->proto ? (uint8_t)o->proto : 17;
		memcpy(b + l3 + 12, PKT_IP4_C, 4);
		memcpy(b + l3 + 16, PKT_IP4_S, 4);
		for (int i = 0; i < o->ip_opts; i++)
			b[l3 + 20 + 4 * i] = 1; /* NOP options */
		uint16_t c = (uint16_t)~pkt_fold(pkt_sum16(b + l3, ipl, 0));
		b[l3 + 10] = (uint8_t)(c >> 8);
		b[l3 + 11] = (uint8_t)c;
	}
	b[l4] = (uint8_t)(o->sport >> 8);
	b[l4 + 1] = (uint8_t)o->sport;
	b[l4 + 2] = (uint8_t)(o->dport >> 8);
	b[l4 + 3] = (uint8_t)o->dport;
	b[l4 + 4] = (uint8_t)((ulen + o->udp_len_adj) >> 8);
	b[l4 + 5] = (uint8_t)(ulen + o->udp_len_adj);
	memcpy(b + l4 + 8, payload, plen);
	if (!o->no_csum && !o->proto) {
		uint16_t c = (uint16_t)~pkt_udp_sum(b);
		if (!c)
			c = 0xffff;
		b[l4 + 6] = (uint8_t)(c >> 8);
		b[l4 + 7] = (uint8_t)c;
	}
	return l4 + 8 + plen;
}

/* What one prog_test_run gives back. */
struct prog_run {
	int retval;       /* the program's verdict */
	uint32_t out_len; /* bytes of the packet it left in out */
	uint32_t ns;      /* the kernel's mean nanoseconds per run (timer included) */
};

/* Runs program prog repeat times on the len bytes at in (the packet it
 * leaves in out, out_cap bytes); bpf_prog_test_run_opts's result (0, or
 * negative with errno set). */
static inline int prog_test_run(int prog, const void *in, size_t len, void *out, uint32_t out_cap,
				int repeat, struct prog_run *r)
{
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = in, .data_size_in = (uint32_t)len,
		    .data_out = out, .data_size_out = out_cap, .repeat = repeat);
	int rc = bpf_prog_test_run_opts(prog, &o);
	r->retval = (int)o.retval;
	r->out_len = o.data_size_out;
	r->ns = o.duration;
	return rc;
}

#endif /* ADN_PROG_TEST_RUN_H */
