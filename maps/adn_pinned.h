/* SPDX-License-Identifier: MIT */
/* Pinned maps of an attached chain, with the BTF that names their columns. */
#ifndef ADN_PINNED_H
#define ADN_PINNED_H

#include <limits.h>
#include <stddef.h>

#include <linux/bpf.h>

#include "adn_row.h"

struct btf;
struct adn_err;

struct adn_table {
	int fd;
	struct bpf_map_info info;
	struct btf *btf; /* owned */
	struct adn_row_type rt;
	char path[PATH_MAX];
};

/* Opens pin <chain>/<rel> ("acl/ac_tab", "adn_params") and its BTF; label
 * names the table in messages ("acl.ac_tab"). A map without BTF (ring
 * buffers) gets the chain's BTF and no columns. */
int adn_table_open_pin(struct adn_table *t, const char *chain, const char *rel,
		       const char *label, struct adn_err *err);
/* "acl.ac_tab" -> pin acl/ac_tab. */
int adn_table_open(struct adn_table *t, const char *chain, const char *dotted,
		   struct adn_err *err);
void adn_table_close(struct adn_table *t);

/* The object's BTF, through the pinned adn_params map (ring buffers carry
 * none of their own). */
struct btf *adn_chain_btf(const char *chain, struct adn_err *err);

/* bpf_obj_get_info_by_fd for a map (libbpf 1.1 has no bpf_map_get_info_by_fd). */
int adn_map_info(int fd, struct bpf_map_info *info);

/* A per-CPU map's value as the syscall returns it: one copy per possible
 * CPU, each rounded up to 8 bytes. */
bool adn_map_is_percpu(__u32 map_type);
size_t adn_percpu_stride(__u32 value_size);

#endif
