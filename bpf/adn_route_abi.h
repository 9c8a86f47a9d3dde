/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * The replica set map of a routing chain, as both the eBPF runtime
 * (adn_route.h) and userspace (maps/replica.c, adnctl replica) see it.
 * Map `<element>__replicas`, pinned at /sys/fs/bpf/adn/<chain>/<element>/replicas:
 * ARRAY, key __u32, 3 entries of struct adn_replica_set. Entry 0 is the
 * control entry (only `live` counts: 1 or 2, 0 means 1); entries 1 and 2
 * are the two buffers of the set.
 */
#ifndef ADN_ROUTE_ABI_H
#define ADN_ROUTE_ABI_H

#include <linux/types.h>

#define ADN_REPLICAS_MAX 16

struct adn_replica {
	__u32 family;  /* AF_INET or AF_INET6 */
	__u32 addr[4]; /* network byte order: IPv4 in addr[0] */
	__u32 port;    /* host byte order */
	__u8 mac[6];   /* UDP: destination MAC for TC egress (all zero: unknown) */
	__u16 flags;   /* reserved, 0 */
};

struct adn_replica_set {
	__u32 n;    /* replicas in r[0 .. n) */
	__u32 live; /* entry 0 only: the live buffer, 1 or 2 (0 means 1) */
	struct adn_replica r[ADN_REPLICAS_MAX];
};

#endif /* ADN_ROUTE_ABI_H */
