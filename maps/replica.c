/* SPDX-License-Identifier: MIT */
/* The replica set map of a routing chain (adn_replica.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "adn_chaindir.h"
#include "adn_replica.h"

int adn_replica_open(const char *chain, const char *element, struct adn_err *err)
{
	char rel[256], path[PATH_MAX];
	struct bpf_map_info info;
	__u32 len = sizeof(info);
	int fd;

	if (!adn_chain_exists(chain))
		return adn_err_set(err, ENOENT, "no chain '%s' is attached", chain);
	snprintf(rel, sizeof(rel), "%s/replicas", element);
	adn_chain_path(path, sizeof(path), chain, rel);
	fd = bpf_obj_get(path);
	if (fd < 0)
		return adn_err_set(err, errno == ENOENT ? ENOENT : errno,
				   errno == ENOENT ? "chain '%s' has no element '%s' that routes (no %s)" :
						     "chain '%s' element '%s': %s: cannot open",
				   chain, element, path);
	memset(&info, 0, sizeof(info));
	if (bpf_obj_get_info_by_fd(fd, &info, &len) || info.type != BPF_MAP_TYPE_ARRAY ||
	    info.key_size != 4 || info.value_size != sizeof(struct adn_replica_set) ||
	    info.max_entries != 3) {
		close(fd);
		return adn_err_set(err, EINVAL, "%s is not a replica set of this adn version", path);
	}
	return fd;
}

static int live_index(int fd, __u32 *live, struct adn_err *err)
{
	struct adn_replica_set ctl;
	__u32 k = 0;

	if (bpf_map_lookup_elem(fd, &k, &ctl))
		return adn_err_set(err, errno, "replica set: read: %s", strerror(errno));
	*live = ctl.live == 2 ? 2 : 1;
	return 0;
}

int adn_replica_read(int fd, struct adn_replica_set *set, struct adn_err *err)
{
	__u32 k;
	int rc = live_index(fd, &k, err);

	if (rc)
		return rc;
	if (bpf_map_lookup_elem(fd, &k, set))
		return adn_err_set(err, errno, "replica set: read: %s", strerror(errno));
	set->live = 0;
	if (set->n > ADN_REPLICAS_MAX)
		set->n = ADN_REPLICAS_MAX;
	return 0;
}

int adn_replica_write(int fd, const struct adn_replica_set *set, struct adn_err *err)
{
	struct adn_replica_set buf = *set, ctl;
	__u32 live, other, zero = 0;
	int rc = live_index(fd, &live, err);

	if (rc)
		return rc;
	if (set->n > ADN_REPLICAS_MAX)
		return adn_err_set(err, ENOSPC, "a replica set holds at most %d replicas", ADN_REPLICAS_MAX);
	other = live == 1 ? 2 : 1;
	buf.live = 0;
	if (bpf_map_update_elem(fd, &other, &buf, BPF_ANY))
		return adn_err_set(err, errno, "replica set: write: %s", strerror(errno));
	memset(&ctl, 0, sizeof(ctl));
	ctl.live = other;
	if (bpf_map_update_elem(fd, &zero, &ctl, BPF_ANY))
		return adn_err_set(err, errno, "replica set: switch: %s", strerror(errno));
	return 0;
}

int adn_replica_parse(const char *text, struct adn_replica *r, struct adn_err *err)
{
	char host[INET6_ADDRSTRLEN + 2];
	const char *colon, *h = text;
	size_t hlen;
	char *end;
	unsigned long port;

	memset(r, 0, sizeof(*r));
	if (text[0] == '[') {
		const char *close = strchr(text, ']');
		if (!close || close[1] != ':')
			return adn_err_set(err, EINVAL, "replica '%s': expected [IPV6]:PORT", text);
		h = text + 1;
		hlen = (size_t)(close - h);
		colon = close + 1;
	} else {
		colon = strrchr(text, ':');
		if (!colon)
			return adn_err_set(err, EINVAL, "replica '%s': expected ADDRESS:PORT", text);
		hlen = (size_t)(colon - text);
	}
	if (hlen >= sizeof(host))
		return adn_err_set(err, EINVAL, "replica '%s': address too long", text);
	memcpy(host, h, hlen);
	host[hlen] = 0;
	errno = 0;
	port = strtoul(colon + 1, &end, 10);
	if (!colon[1] || *end || errno || port < 1 || port > 65535)
		return adn_err_set(err, EINVAL, "replica '%s': port must be 1..65535", text);
	if (inet_pton(AF_INET, host, &r->addr[0]) == 1)
		r->family = AF_INET;
	else if (inet_pton(AF_INET6, host, r->addr) == 1)
		r->family = AF_INET6;
	else
		return adn_err_set(err, EINVAL, "replica '%s': '%s' is not an IPv4 or IPv6 address", text, host);
	r->port = (__u32)port;
	return 0;
}

int adn_replica_parse_mac(const char *text, unsigned char mac[6], struct adn_err *err)
{
	unsigned v[6];
	char tail;

	if (sscanf(text, "%2x:%2x:%2x:%2x:%2x:%2x%c", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5],
		   &tail) != 6)
		return adn_err_set(err, EINVAL, "MAC '%s': expected six hex bytes like 02:00:00:00:00:01", text);
	for (int i = 0; i < 6; i++)
		mac[i] = (unsigned char)v[i];
	return 0;
}

int adn_replica_find(const struct adn_replica_set *set, const struct adn_replica *r)
{
	for (__u32 i = 0; i < set->n && i < ADN_REPLICAS_MAX; i++) {
		const struct adn_replica *o = &set->r[i];
		if (o->family == r->family && o->port == r->port &&
		    !memcmp(o->addr, r->addr, sizeof(o->addr)))
			return (int)i;
	}
	return -1;
}

void adn_replica_format(const struct adn_replica *r, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN];

	if (!inet_ntop((int)r->family, r->addr, a, sizeof(a)))
		snprintf(a, sizeof(a), "?");
	snprintf(buf, len, r->family == AF_INET6 ? "[%s]:%u" : "%s:%u", a, r->port);
}
