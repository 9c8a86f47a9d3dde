/* SPDX-License-Identifier: MIT */
/* The pin tree of attached chains (docs/internals.md §4):
 * /sys/fs/bpf/adn/<chain>/{prog_*,link_cgroup<N>,adn_*,<element>/<table>} */
#ifndef ADN_CHAINDIR_H
#define ADN_CHAINDIR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct adn_err;

#define ADN_BPFFS "/sys/fs/bpf"
#define ADN_PIN_ROOT ADN_BPFFS "/adn"

/* Chain, element and table names: [A-Za-z0-9_-], 1..63 characters. */
bool adn_name_valid(const char *name);

/* Mounts bpffs at /sys/fs/bpf if nothing is mounted there, then creates
 * /sys/fs/bpf/adn. */
int adn_pin_root_prepare(struct adn_err *err);
/* Takes an exclusive flock on /sys/fs/bpf/adn (attach/detach hold it, so two
 * loaders do not race on one chain). Returns the fd to close, or -errno. */
int adn_pin_root_lock(struct adn_err *err);
/* Removes ADN_PIN_ROOT if no chain is left in it; call with the lock held,
 * after the last chain's pins went (detach), so that nothing adn made
 * stays behind. */
void adn_pin_root_release(void);

int adn_mkdir_p(const char *path, mode_t mode, struct adn_err *err);

/* "/sys/fs/bpf/adn/<chain>" or ".../<chain>/<rel>" when rel is not NULL. */
int adn_chain_path(char *buf, size_t len, const char *chain, const char *rel);
bool adn_chain_exists(const char *chain);

/* Calls fn for every pin under the chain dir, depth-first, sorted by name;
 * rel is "adn_cfg" or "acl/ac_tab". Stops at the first non-zero return. */
typedef int (*adn_pin_fn)(const char *rel, const char *path, void *ctx);
int adn_chain_walk(const char *chain, adn_pin_fn fn, void *ctx, struct adn_err *err);

/* Unlinks every pin (link_cgroup* first) and removes the directories.
 * Missing entries are not an error. */
int adn_chain_remove(const char *chain, struct adn_err *err);

/* Names of the attached chains, sorted; free with adn_names_free. */
int adn_chain_list(char ***names, int *n, struct adn_err *err);
void adn_names_free(char **names, int n);

/* The cgroup v2 mount point from /proc/mounts, or NULL. */
const char *adn_cgroup2_root(void);
/* Finds the cgroup directory whose id (its inode number on cgroup2) is id. */
int adn_cgroup_path_by_id(uint64_t id, char *buf, size_t len);

#endif
