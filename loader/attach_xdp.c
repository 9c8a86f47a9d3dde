/* SPDX-License-Identifier: MIT */
/* A chain's XDP program on a device: generic (skb) mode by default, which
 * was cheaper on veth and needs nothing of the peer (docs/kernel-notes.md);
 * native with --xdp-native. Never replaces another program: attach fails if
 * the device has one, detach removes only the chain's own. */
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>

#include <linux/if_link.h>

#include <bpf/libbpf.h>

#include "netdev.h"

static unsigned mode_flags(const struct net_att *att)
{
	return att->ingress ? XDP_FLAGS_DRV_MODE : XDP_FLAGS_SKB_MODE;
}

/* att->ingress doubles as "native mode" for XDP records. */
int xdp_attach_dev(int prog_fd, struct net_att *att, bool native, char *err, size_t errlen)
{
	int saved, rc, ifindex;

	att->ingress = native;
	ifindex = net_dev_enter(att, &saved, err, errlen);
	if (ifindex < 0)
		return ifindex;
	rc = bpf_xdp_attach(ifindex, prog_fd, mode_flags(att) | XDP_FLAGS_UPDATE_IF_NOEXIST, NULL);
	if (rc)
		snprintf(err, errlen, "%s: attach XDP (%s): %s%s", att->ifname,
			 native ? "native" : "generic", strerror(-rc),
			 rc == -EBUSY || rc == -EEXIST ? " (the device already has an XDP program)" : "");
	net_leave(saved);
	return rc;
}

int xdp_detach_dev(const struct net_att *att, int prog_fd)
{
	int saved, rc;
	unsigned ifindex;

	if (net_enter(att->netns, &saved))
		return -ENOENT;
	ifindex = if_nametoindex(att->ifname);
	rc = ifindex ? 0 : -ENODEV;
	if (ifindex) {
		LIBBPF_OPTS(bpf_xdp_attach_opts, opts, .old_prog_fd = prog_fd);
		rc = bpf_xdp_detach((int)ifindex, mode_flags(att) | (prog_fd >= 0 ? XDP_FLAGS_REPLACE : 0),
				    prog_fd >= 0 ? &opts : NULL);
	}
	net_leave(saved);
	return rc;
}

/* Replaces old_fd by prog_fd on the device (XDP_FLAGS_REPLACE: refused if
 * another program is there now), in one netlink request. */
int xdp_replace_dev(int prog_fd, int old_fd, const struct net_att *att, char *err, size_t errlen)
{
	int saved, rc, ifindex = net_dev_enter(att, &saved, err, errlen);

	if (ifindex < 0)
		return ifindex;
	LIBBPF_OPTS(bpf_xdp_attach_opts, opts, .old_prog_fd = old_fd);
	rc = bpf_xdp_attach(ifindex, prog_fd, mode_flags(att) | XDP_FLAGS_REPLACE, &opts);
	if (rc)
		snprintf(err, errlen, "%s: replace XDP program: %s", att->ifname, strerror(-rc));
	net_leave(saved);
	return rc;
}
