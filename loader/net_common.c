/* SPDX-License-Identifier: MIT */
/* Network namespaces, attachment records, detach and status of a chain's
 * TC/XDP attachments (netdev.h). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "adn_chaindir.h"
#include "adn_err.h"
#include "netdev.h"

int net_enter(const char *netns, int *saved)
{
	char path[PATH_MAX];
	int fd;

	*saved = -1;
	if (!strcmp(netns, "-"))
		return 0;
	snprintf(path, sizeof(path), "/run/netns/%s", netns);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	*saved = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (*saved < 0 || setns(fd, CLONE_NEWNET)) {
		int rc = -errno;
		close(fd);
		if (*saved >= 0)
			close(*saved);
		*saved = -1;
		return rc;
	}
	close(fd);
	return 0;
}

void net_leave(int saved)
{
	if (saved < 0)
		return;
	if (setns(saved, CLONE_NEWNET))
		abort(); /* never go on in the wrong namespace */
	close(saved);
}

int net_dev_enter(const struct net_att *att, int *saved, char *err, size_t errlen)
{
	int rc = net_enter(att->netns, saved);
	unsigned ifindex;

	if (rc) {
		snprintf(err, errlen, "netns %s: %s", att->netns, strerror(-rc));
		return rc;
	}
	ifindex = if_nametoindex(att->ifname);
	if (!ifindex) {
		rc = -errno;
		snprintf(err, errlen, "device %s%s%s: %s", att->ifname, *att->netns != '-' ? "@" : "",
			 *att->netns != '-' ? att->netns : "", strerror(errno));
		net_leave(*saved);
		return rc;
	}
	return (int)ifindex;
}

/* tc:egress:eth0:ns:HANDLE:PRIO:q  |  xdp:generic:eth0:ns */
void net_record_name(const struct net_att *att, char *buf, size_t len)
{
	if (att->hook == NET_TC)
		snprintf(buf, len, "tc:%s:%s:%s:%u:%u:%d", att->ingress ? "ingress" : "egress", att->ifname,
			 att->netns, att->handle, att->prio, att->made_qdisc);
	else
		snprintf(buf, len, "xdp:%s:%s:%s", att->ingress ? "native" : "generic", att->ifname,
			 att->netns);
}

int net_record_parse(const char *name, struct net_att *att)
{
	char kind[8], where[16];
	int q = 0;

	memset(att, 0, sizeof(*att));
	if (sscanf(name, "%7[^:]:%15[^:]:%31[^:]:%63[^:]:%u:%u:%d", kind, where, att->ifname, att->netns,
		   &att->handle, &att->prio, &q) >= 4) {
		att->hook = strcmp(kind, "xdp") ? NET_TC : NET_XDP;
		att->ingress = !strcmp(where, "ingress") || !strcmp(where, "native");
		att->made_qdisc = q;
		return 0;
	}
	return -1;
}

typedef void (*record_fn)(const char *chain, const char *name, const struct net_att *att, void *ctx);

static void for_each_record(const char *chain, record_fn fn, void *ctx)
{
	char dir[PATH_MAX];
	struct dirent **ents;
	int n;

	adn_chain_path(dir, sizeof(dir), chain, "dev");
	n = scandir(dir, &ents, NULL, alphasort);
	for (int i = 0; i < n; i++) {
		struct net_att att;
		if (ents[i]->d_name[0] != '.' && !net_record_parse(ents[i]->d_name, &att))
			fn(chain, ents[i]->d_name, &att, ctx);
		free(ents[i]);
	}
	if (n >= 0)
		free(ents);
}

struct same_dev {
	const struct net_att *att;
	const char *skip; /* chain:record of the attachment being removed */
	const char *skip_chain;
	int others;
};

static void count_same(const char *chain, const char *name, const struct net_att *att, void *ctx)
{
	struct same_dev *s = ctx;

	if (att->hook != NET_TC || strcmp(att->ifname, s->att->ifname) || strcmp(att->netns, s->att->netns))
		return;
	if (!strcmp(chain, s->skip_chain))
		return; /* this chain's own filters all go now */
	s->others++;
	(void)name;
}

/* Another chain still has a TC filter on the device: keep the qdisc. */
static bool last_on_dev(const char *chain, const struct net_att *att)
{
	struct same_dev s = { .att = att, .skip_chain = chain };
	char **names;
	int n;
	struct adn_err err;

	if (adn_chain_list(&names, &n, &err))
		return false;
	for (int i = 0; i < n; i++)
		for_each_record(names[i], count_same, &s);
	adn_names_free(names, n);
	return s.others == 0;
}

static int prog_fd_of(const char *chain, const char *pin)
{
	char path[PATH_MAX];

	adn_chain_path(path, sizeof(path), chain, pin);
	return bpf_obj_get(path);
}

/* Pass 1 (ctx NULL): filters and XDP programs. Pass 2: qdiscs adn made,
 * when no other chain has a filter on the device; records go. */
static void detach_one(const char *chain, const char *name, const struct net_att *att, void *ctx)
{
	char path[PATH_MAX];

	if (ctx) {
		if (att->hook == NET_TC && att->made_qdisc && last_on_dev(chain, att))
			tc_destroy_qdisc(att);
		adn_chain_path(path, sizeof(path), chain, "dev");
		snprintf(path + strlen(path), sizeof(path) - strlen(path), "/%s", name);
		rmdir(path);
		return;
	}
	if (att->hook == NET_TC) {
		tc_detach_dev(att);
	} else {
		int fd = prog_fd_of(chain, "prog_xdp");
		xdp_detach_dev(att, fd);
		if (fd >= 0)
			close(fd);
	}
}

void net_detach_chain(const char *chain)
{
	char path[PATH_MAX];

	for_each_record(chain, detach_one, NULL);
	for_each_record(chain, detach_one, (void *)1);
	adn_chain_path(path, sizeof(path), chain, "dev");
	rmdir(path);
}

static void print_one(const char *chain, const char *name, const struct net_att *att, void *ctx)
{
	FILE *out = ctx;

	(void)chain;
	(void)name;
	if (att->hook == NET_TC)
		fprintf(out, "    tc %-7s %s%s%s (filter handle 0x%x pref %u%s)\n",
			att->ingress ? "ingress" : "egress", att->ifname, strcmp(att->netns, "-") ? "@" : "",
			strcmp(att->netns, "-") ? att->netns : "", att->handle, att->prio,
			att->made_qdisc ? ", clsact qdisc made by adn" : "");
	else
		fprintf(out, "    xdp %-6s %s%s%s\n", att->ingress ? "native" : "generic", att->ifname,
			strcmp(att->netns, "-") ? "@" : "", strcmp(att->netns, "-") ? att->netns : "");
}

void net_status_print(FILE *out, const char *chain)
{
	char path[PATH_MAX];

	if (!chain) {
		char **names;
		int n;
		struct adn_err err;
		if (adn_chain_list(&names, &n, &err))
			return;
		for (int i = 0; i < n; i++)
			net_status_print(out, names[i]);
		adn_names_free(names, n);
		return;
	}
	adn_chain_path(path, sizeof(path), chain, "dev");
	if (access(path, F_OK))
		return;
	fprintf(out, "  devices of %s (TC/XDP):\n", chain);
	for_each_record(chain, print_one, out);
}

struct replace_ctx {
	int tc_fd, xdp_fd, old_xdp_fd, rc, done;
	char *err;
	size_t errlen;
};

static void replace_one(const char *chain, const char *name, const struct net_att *att, void *ctx)
{
	struct replace_ctx *r = ctx;
	(void)chain;
	(void)name;
	if (r->rc)
		return;
	if (att->hook == NET_TC)
		r->rc = r->tc_fd < 0 ? -ENOENT : tc_replace_dev(r->tc_fd, att, r->err, r->errlen);
	else
		r->rc = r->xdp_fd < 0 ? -ENOENT : xdp_replace_dev(r->xdp_fd, r->old_xdp_fd, att, r->err,
								  r->errlen);
	if (r->rc == -ENOENT && !*r->err)
		snprintf(r->err, r->errlen, "%s: no new %s program", att->ifname,
			 att->hook == NET_TC ? "TC" : "XDP");
	r->done += !r->rc;
}

int net_replace_chain(const char *chain, int tc_fd, int xdp_fd, char *err, size_t errlen)
{
	struct replace_ctx r = { .tc_fd = tc_fd, .xdp_fd = xdp_fd, .err = err, .errlen = errlen };

	*err = '\0';
	r.old_xdp_fd = prog_fd_of(chain, "prog_xdp");
	for_each_record(chain, replace_one, &r);
	if (r.old_xdp_fd >= 0)
		close(r.old_xdp_fd);
	return r.rc ? r.rc : r.done;
}

bool net_chain_has_devices(const char *chain)
{
	char path[PATH_MAX];

	adn_chain_path(path, sizeof(path), chain, "prog_tc");
	if (!access(path, F_OK))
		return true;
	adn_chain_path(path, sizeof(path), chain, "prog_xdp");
	return !access(path, F_OK);
}
