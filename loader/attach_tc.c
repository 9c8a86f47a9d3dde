/* SPDX-License-Identifier: MIT */
/* A chain's TC program on a device: cls_bpf in direct-action mode on a
 * clsact qdisc (created when missing), egress or ingress. libbpf 1.1 has
 * no tcx links, so the filter is found again by handle and priority. */
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>

#include <bpf/libbpf.h>

#include "netdev.h"

int tc_attach_dev(int prog_fd, struct net_att *att, char *err, size_t errlen)
{
	int saved, rc, ifindex = net_dev_enter(att, &saved, err, errlen);

	if (ifindex < 0)
		return ifindex;
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex,
		    .attach_point = att->ingress ? BPF_TC_INGRESS : BPF_TC_EGRESS);
	rc = bpf_tc_hook_create(&hook);
	if (rc && rc != -EEXIST) {
		snprintf(err, errlen, "%s: clsact qdisc: %s", att->ifname, strerror(-rc));
		goto out;
	}
	att->made_qdisc = rc == 0;
	LIBBPF_OPTS(bpf_tc_opts, opts, .prog_fd = prog_fd);
	rc = bpf_tc_attach(&hook, &opts);
	if (rc) {
		snprintf(err, errlen, "%s: tc filter %s: %s", att->ifname,
			 att->ingress ? "ingress" : "egress", strerror(-rc));
		if (att->made_qdisc) {
			hook.attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS;
			bpf_tc_hook_destroy(&hook);
		}
		goto out;
	}
	att->handle = opts.handle;
	att->prio = opts.priority;
out:
	net_leave(saved);
	return rc;
}

int tc_destroy_qdisc(const struct net_att *att)
{
	int saved, rc = -ENODEV;
	unsigned ifindex;

	if (net_enter(att->netns, &saved))
		return -ENOENT;
	ifindex = if_nametoindex(att->ifname);
	if (ifindex) {
		LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = (int)ifindex,
			    .attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS);
		rc = bpf_tc_hook_destroy(&hook);
	}
	net_leave(saved);
	return rc;
}

int tc_detach_dev(const struct net_att *att)
{
	int saved, rc;
	unsigned ifindex;

	if (net_enter(att->netns, &saved))
		return -ENOENT; /* the namespace is gone, and its devices with it */
	ifindex = if_nametoindex(att->ifname);
	rc = ifindex ? 0 : -ENODEV;
	if (ifindex) {
		LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = (int)ifindex,
			    .attach_point = att->ingress ? BPF_TC_INGRESS : BPF_TC_EGRESS);
		LIBBPF_OPTS(bpf_tc_opts, opts, .handle = att->handle, .priority = att->prio);
		rc = bpf_tc_detach(&hook, &opts);
	}
	net_leave(saved);
	return rc;
}

/* Replaces the program of the recorded filter (same handle and priority)
 * in one netlink request: packets see the old program or the new one. */
int tc_replace_dev(int prog_fd, const struct net_att *att, char *err, size_t errlen)
{
	int saved, rc, ifindex = net_dev_enter(att, &saved, err, errlen);

	if (ifindex < 0)
		return ifindex;
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex,
		    .attach_point = att->ingress ? BPF_TC_INGRESS : BPF_TC_EGRESS);
	LIBBPF_OPTS(bpf_tc_opts, opts, .prog_fd = prog_fd, .handle = att->handle,
		    .priority = att->prio, .flags = BPF_TC_F_REPLACE);
	rc = bpf_tc_attach(&hook, &opts);
	if (rc)
		snprintf(err, errlen, "%s: replace tc filter %s: %s", att->ifname,
			 att->ingress ? "ingress" : "egress", strerror(-rc));
	net_leave(saved);
	return rc;
}
