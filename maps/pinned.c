/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "adn_chaindir.h"
#include "adn_err.h"
#include "adn_pinned.h"

int adn_map_info(int fd, struct bpf_map_info *info)
{
	__u32 len = sizeof(*info);

	memset(info, 0, sizeof(*info));
	return bpf_obj_get_info_by_fd(fd, info, &len) ? -errno : 0;
}

bool adn_map_is_percpu(__u32 map_type)
{
	return map_type == BPF_MAP_TYPE_PERCPU_ARRAY || map_type == BPF_MAP_TYPE_PERCPU_HASH ||
	       map_type == BPF_MAP_TYPE_LRU_PERCPU_HASH;
}

size_t adn_percpu_stride(__u32 value_size)
{
	return ((size_t)value_size + 7) & ~(size_t)7;
}

static struct btf *btf_by_id(__u32 id, const char *what, struct adn_err *err)
{
	struct btf *btf = btf__load_from_kernel_by_id(id);

	if (!btf)
		adn_err_set(err, errno, "%s: cannot load BTF id %u: %s", what, id, strerror(errno));
	return btf;
}

struct btf *adn_chain_btf(const char *chain, struct adn_err *err)
{
	struct bpf_map_info info;
	char path[PATH_MAX];
	int fd;

	adn_chain_path(path, sizeof(path), chain, "adn_params");
	fd = bpf_obj_get(path);
	if (fd < 0) {
		adn_err_set(err, errno, "%s: %s", path, strerror(errno));
		return NULL;
	}
	int rc = adn_map_info(fd, &info);
	close(fd);
	if (rc) {
		adn_err_set(err, -rc, "%s: %s", path, strerror(-rc));
		return NULL;
	}
	if (!info.btf_id) {
		adn_err_set(err, ENOENT, "%s: map has no BTF (object built without -g?)", path);
		return NULL;
	}
	return btf_by_id(info.btf_id, path, err);
}

int adn_table_open_pin(struct adn_table *t, const char *chain, const char *rel,
		       const char *label, struct adn_err *err)
{
	int rc;

	memset(t, 0, sizeof(*t));
	t->fd = -1;
	if (adn_chain_path(t->path, sizeof(t->path), chain, rel))
		return adn_err_set(err, ENAMETOOLONG, "name too long");
	if (!adn_chain_exists(chain))
		return adn_err_set(err, ENOENT, "chain %s is not attached (no %s/%s)", chain,
				   ADN_PIN_ROOT, chain);
	t->fd = bpf_obj_get(t->path);
	if (t->fd < 0) {
		rc = adn_err_set(err, errno, "table %s: %s: %s", label, t->path,
				 errno == ENOENT ? "no such table in this chain" : strerror(errno));
		t->fd = -1;
		return rc;
	}
	rc = adn_map_info(t->fd, &t->info);
	if (rc) {
		rc = adn_err_set(err, -rc, "%s: %s", t->path, strerror(-rc));
		goto fail;
	}
	t->btf = t->info.btf_id ? btf_by_id(t->info.btf_id, t->path, err)
				: adn_chain_btf(chain, err);
	if (!t->btf) {
		rc = -ENOENT;
		goto fail;
	}
	if (t->info.type == BPF_MAP_TYPE_RINGBUF) {
		snprintf(t->rt.table, sizeof(t->rt.table), "%s", label);
		return 0;
	}
	rc = adn_row_type_init(&t->rt, t->btf, label, t->info.btf_key_type_id,
			       t->info.btf_value_type_id, err);
	if (rc)
		goto fail;
	if (t->rt.key.size != t->info.key_size || t->rt.val.size != t->info.value_size) {
		rc = adn_err_set(err, EINVAL, "table %s: BTF sizes (%u/%u) differ from the map's (%u/%u)",
				 label, t->rt.key.size, t->rt.val.size, t->info.key_size,
				 t->info.value_size);
		goto fail;
	}
	return 0;
fail:
	adn_table_close(t);
	return rc;
}

int adn_table_open(struct adn_table *t, const char *chain, const char *dotted,
		   struct adn_err *err)
{
	char elem[64], table[64], rel[160];
	const char *dot = strchr(dotted, '.');

	if (!dot || (size_t)(dot - dotted) >= sizeof(elem) || strlen(dot + 1) >= sizeof(table))
		return adn_err_set(err, EINVAL, "'%s': expected ELEMENT.TABLE, e.g. acl.ac_tab", dotted);
	snprintf(elem, sizeof(elem), "%.*s", (int)(dot - dotted), dotted);
	snprintf(table, sizeof(table), "%s", dot + 1);
	if (!adn_name_valid(elem) || !adn_name_valid(table))
		return adn_err_set(err, EINVAL, "'%s': expected ELEMENT.TABLE, e.g. acl.ac_tab", dotted);
	snprintf(rel, sizeof(rel), "%s/%s", elem, table);
	return adn_table_open_pin(t, chain, rel, dotted, err);
}

void adn_table_close(struct adn_table *t)
{
	if (t->fd >= 0)
		close(t->fd);
	btf__free(t->btf);
	t->fd = -1;
	t->btf = NULL;
}
