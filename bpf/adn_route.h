/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * Per-RPC load balancing (ROUTE TO REPLICA, docs/language.md): the replica
 * set of a chain and how a route value picks one of its replicas. Included
 * by a generated chain whose element routes, after adn_frame.h; the chain
 * then defines ADN_ROUTE_MAP (the map below) before the runtime headers,
 * which send each request to the replica it chose:
 *
 *  - sk_msg (TCP): the client keeps one connection per replica, all bound
 *    to the same local address and port, so the SOCKHASH key of "this
 *    client's connection to replica r" is the sending socket's own local
 *    address and port plus the replica's address and port. Consecutive
 *    frames with the same target form a group: one verdict (a redirect)
 *    per group (docs/kernel-notes.md, "Load balancing").
 *  - TC egress (UDP): the destination MAC, IPv4 or IPv6 address and port
 *    of the datagram are rewritten to the replica's (checksums fixed).
 *
 * The set lives in an ARRAY of three entries, double-buffered so that a
 * program never reads a set while adnctl writes it: entry 0 says which of
 * entries 1 and 2 is live (its `live`; 0 means 1), adnctl writes the other
 * one whole and then flips entry 0. Replica i of the live set receives
 * the requests whose route value v has v % n == i.
 */
#ifndef ADN_ROUTE_H
#define ADN_ROUTE_H

#include "adn_route_abi.h"

/* Where the route value of a request goes: the chain's elements write it
 * through the `at` pointer the runtime hands them, which points at the
 * first member of this struct (struct adn_verdict, adn_bpf.h). */
#define adn_route_set(at, value)                                              \
	do {                                                                  \
		struct adn_verdict *__v = (struct adn_verdict *)(void *)(at); \
		__v->route = (value);                                         \
		__v->routed = 1;                                              \
	} while (0)

#define ADN_ROUTE_MAP_DEFINE(name)                                  \
	struct {                                                    \
		__uint(type, BPF_MAP_TYPE_ARRAY);                   \
		__uint(max_entries, 3);                             \
		__type(key, __u32);                                 \
		__type(value, struct adn_replica_set);              \
	} name SEC(".maps")

#endif /* ADN_ROUTE_H */
