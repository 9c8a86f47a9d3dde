/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * The part of a request frame the chain parses: the 16-byte header and the
 * network fields (struct adn_net, defined by the chain before this header is
 * included). The runtime copies this prefix onto the stack once per frame;
 * elements read it from there, never from the message.
 */
#ifndef ADN_FRAME_H
#define ADN_FRAME_H

struct adn_frame {
	struct adn_hdr hdr;
	struct adn_net net;
} __attribute__((packed));

#define ADN_NET_LEN ((__u32)sizeof(struct adn_net))
#define ADN_FRAME_PREFIX ((__u32)sizeof(struct adn_frame))

_Static_assert(sizeof(struct adn_hdr) == ADN_HDR_LEN, "adn_hdr must be 16 bytes");
_Static_assert(sizeof(struct adn_frame) <= 256,
	       "the parsed prefix is copied to the stack: keep it small");

#endif /* ADN_FRAME_H */
