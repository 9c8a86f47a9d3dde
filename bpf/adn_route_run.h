/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * Picking the replica of a routed request (adn_route.h): shared by the
 * sk_msg and TC runtimes. Only compiled when the chain defines
 * ADN_ROUTE_MAP.
 */
#ifndef ADN_ROUTE_RUN_H
#define ADN_ROUTE_RUN_H

#ifdef ADN_ROUTE_MAP

/* The live set, or NULL. */
static __always_inline const struct adn_replica_set *adn_route_live_set(void)
{
	const struct adn_replica_set *ctl;
	__u32 k = 0;

	ctl = bpf_map_lookup_elem(&ADN_ROUTE_MAP, &k);
	if (!ctl)
		return 0;
	k = ctl->live == 2 ? 2 : 1;
	return bpf_map_lookup_elem(&ADN_ROUTE_MAP, &k);
}

/* The replica of route value v (in the map: read it at once), or NULL
 * when the set is empty (the request then goes where the application
 * sent it). */
static __always_inline const struct adn_replica *adn_route_pick(__u64 v)
{
	const struct adn_replica_set *set = adn_route_live_set();
	__u32 n, i;

	if (!set)
		return 0;
	n = set->n;
	if (!n || n > ADN_REPLICAS_MAX)
		return 0;
	i = (__u32)(v % n);
	if (i >= ADN_REPLICAS_MAX)
		return 0;
	return &set->r[i];
}

/* 1 if family/addr/port (port in host order) is a replica of the live set.
 * check_addr 0: the port alone (a server's listening port). */
static __always_inline int adn_route_is_replica(__u32 family, const __u32 *addr, __u32 port,
						int check_addr)
{
	const struct adn_replica_set *set = adn_route_live_set();
	__u32 n;

	if (!set)
		return 0;
	n = set->n;
#pragma unroll
	for (__u32 i = 0; i < ADN_REPLICAS_MAX; i++) {
		const struct adn_replica *r = &set->r[i];

		if (i >= n)
			break;
		if (r->port != port || r->family != family)
			continue;
		if (!check_addr)
			return 1;
		if (r->addr[0] == addr[0] &&
		    (family != AF_INET6 ||
		     (r->addr[1] == addr[1] && r->addr[2] == addr[2] && r->addr[3] == addr[3])))
			return 1;
	}
	return 0;
}

#endif /* ADN_ROUTE_MAP */
#endif /* ADN_ROUTE_RUN_H */
