/* SPDX-License-Identifier: MIT */
/*
 * adn wire format v0 — shared by the eBPF programs, the RPC library and the
 * code adnc generates. See docs/wire-format.md.
 *
 * A frame is a fixed 16-byte header followed by the body. The body starts
 * with the "network fields" (the application fields that elements read, at
 * offsets adnc fixes, identical for every method of a service), then the
 * method's other fixed-size fields, then its BYTES fields (u32 length +
 * data each). Everything is little-endian; the header is naturally aligned,
 * the body is packed.
 *
 * This header must compile both as eBPF C (clang -target bpf) and as C11
 * userspace, so it only uses fixed-width types and no libc.
 */
#ifndef ADN_WIRE_H
#define ADN_WIRE_H

#ifdef __bpf__
#include <linux/types.h>
typedef __u8 adn_u8;
typedef __u16 adn_u16;
typedef __u32 adn_u32;
typedef __u64 adn_u64;
#else
#include <stdint.h>
typedef uint8_t adn_u8;
typedef uint16_t adn_u16;
typedef uint32_t adn_u32;
typedef uint64_t adn_u64;
#endif

#define ADN_WIRE_VERSION 0

/* Frame header: 16 bytes, little-endian. */
struct adn_hdr {
	adn_u32 len;    /* whole frame, header included: ADN_FRAME_MIN..ADN_FRAME_MAX */
	adn_u32 rpc_id; /* chosen by the client, echoed in the response */
	adn_u16 method; /* 1..N: the method's position in the service declaration */
	adn_u8 kind;    /* enum adn_kind */
	adn_u8 status;  /* enum adn_status; 0 in requests */
	adn_u16 flags;  /* ADN_F_* */
	adn_u16 layout; /* low 16 bits of the layout hash of the sender's schema */
};

#define ADN_HDR_LEN 16u
#define ADN_FRAME_MIN ADN_HDR_LEN
#define ADN_FRAME_MAX (1u << 20) /* 1 MiB, header included */

enum adn_kind {
	ADN_KIND_REQUEST = 0,
	ADN_KIND_RESPONSE = 1,
};

/* The reply was made by the network (an element dropped the request), not
 * by the server. Set by the eBPF programs, read by the RPC library. */
#define ADN_F_NET_REPLY 0x0001u

/* A network reply made at the receiver (the server's sk_skb stream verdict,
 * bpf/adn_sk_skb.h): it reaches the server process in place of the request,
 * and the server's RPC library sends it back unread, without calling the
 * handler. Always set together with ADN_F_NET_REPLY. Bits 8..15 then hold
 * the index in the chain of the element that dropped the request, so that
 * the server's sk_msg runs the response side of the elements before it
 * once (ADN_F_AT_SHIFT, ADN_F_AT_MASK; chains have at most 255 elements
 * when any runs at the receiver). */
#define ADN_F_RECV_REPLY 0x0002u
#define ADN_F_AT_SHIFT 8
#define ADN_F_AT_MASK 0xff00u

/* Status codes: the gRPC numbering, so that users read familiar names. */
enum adn_status {
	ADN_OK = 0,
	ADN_CANCELLED = 1,
	ADN_UNKNOWN = 2,
	ADN_INVALID_ARGUMENT = 3,
	ADN_DEADLINE_EXCEEDED = 4,
	ADN_NOT_FOUND = 5,
	ADN_ALREADY_EXISTS = 6,
	ADN_PERMISSION_DENIED = 7,
	ADN_RESOURCE_EXHAUSTED = 8,
	ADN_FAILED_PRECONDITION = 9,
	ADN_ABORTED = 10,
	ADN_OUT_OF_RANGE = 11,
	ADN_UNIMPLEMENTED = 12,
	ADN_INTERNAL = 13,
	ADN_UNAVAILABLE = 14,
	ADN_DATA_LOSS = 15,
	ADN_UNAUTHENTICATED = 16,
	ADN_STATUS_MAX = 16,
};

/* A BYTES field as the generated stubs see it: a view into a buffer. */
struct adn_bytes {
	const void *ptr;
	adn_u32 len;
};

#endif /* ADN_WIRE_H */
