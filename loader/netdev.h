/* SPDX-License-Identifier: MIT */
/* Per-datagram hooks of a chain (TC, XDP) on network devices, possibly in
 * other network namespaces (docs/internals.md §4, docs/loader.md). */
#ifndef ADN_NETDEV_H
#define ADN_NETDEV_H

#include <stdbool.h>
#include <stdio.h>

enum net_hook { NET_TC, NET_XDP };

/* One attachment; its record is an empty bpffs directory
 * /sys/fs/bpf/adn/<chain>/dev/<name> whose name holds these fields
 * (net_record_name / net_record_parse). */
struct net_att {
	enum net_hook hook;
	bool ingress;      /* NET_TC: egress or ingress */
	bool made_qdisc;   /* NET_TC: the loader created the clsact qdisc */
	unsigned handle, prio; /* NET_TC: the filter */
	char ifname[32];
	char netns[64];    /* name under /run/netns, or "-" for the loader's own */
};

/* Enters netns (a name under /run/netns, "-" = stay); *saved is the fd to
 * come back with through net_leave. 0 or -errno. */
int net_enter(const char *netns, int *saved);
void net_leave(int saved);
/* net_enter(att's namespace), then att's device: its ifindex (> 0), with
 * the namespace entered (net_leave(*saved) after), or -errno with err set
 * and the namespace left. */
int net_dev_enter(const struct net_att *att, int *saved, char *err, size_t errlen);

int tc_attach_dev(int prog_fd, struct net_att *att, char *err, size_t errlen);
int tc_detach_dev(const struct net_att *att);
/* Removes the device's clsact qdisc (with whatever filters it still has). */
int tc_destroy_qdisc(const struct net_att *att);
int xdp_attach_dev(int prog_fd, struct net_att *att, bool native, char *err, size_t errlen);
int xdp_detach_dev(const struct net_att *att, int prog_fd);

/* Hot update and migrate: the recorded filter / XDP program replaced by
 * prog_fd in one netlink request each. 0 or -errno (message in err). */
int tc_replace_dev(int prog_fd, const struct net_att *att, char *err, size_t errlen);
int xdp_replace_dev(int prog_fd, int old_fd, const struct net_att *att, char *err, size_t errlen);
/* Every recorded attachment of chain gets tc_fd / xdp_fd (device by
 * device, in record order); the number replaced, or -errno at the first
 * failure (message in err). */
int net_replace_chain(const char *chain, int tc_fd, int xdp_fd, char *err, size_t errlen);
/* Whether chain was attached at TC or XDP (prog_tc / prog_xdp pinned). */
bool net_chain_has_devices(const char *chain);

void net_record_name(const struct net_att *att, char *buf, size_t len);
int net_record_parse(const char *name, struct net_att *att);

/* Detaches every TC/XDP attachment recorded for chain (called by detach
 * before the pins go). Quiet when there is none. */
void net_detach_chain(const char *chain);
/* Lines "  devices:" for `adn-load status` (text mode). */
void net_status_print(FILE *out, const char *chain);
/* adn-load attach with --dev (called from cmd_attach). */
bool attach_net_wanted(int argc, char **argv);
int cmd_attach_net(int argc, char **argv);
/* Set while cmd_attach_net runs cmd_attach for the socket part: a chain
 * attached to devices only needs no --cgroup. */
extern bool attach_net_no_cgroup_ok;

#endif
