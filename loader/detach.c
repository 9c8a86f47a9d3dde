/* SPDX-License-Identifier: MIT */
/* adn-load detach: take a chain off its cgroups and socket map and remove
 * its pins. The kernel frees programs and maps once the last reference
 * (pin, link, attachment, open fd) is gone. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "adn_chaindir.h"
#include "adn_err.h"
#include "adn_pinned.h"
#include "loader.h"
#include "netdev.h"
#include "attach_offload.h"


static int collect_id(const char *rel, const char *path, void *ctx)
{
	struct held_ids *ids = ctx;
	int fd = bpf_obj_get(path);

	if (fd < 0)
		return 0;
	if (!strncmp(rel, "prog_", 5))
		held_ids_add(ids, fd, true);
	else if (strncmp(rel, "link_", 5))
		held_ids_add(ids, fd, false);
	close(fd);
	return 0;
}

static int detach_link(const char *rel, const char *path, void *ctx)
{
	int fd;

	(void)ctx;
	if (strncmp(rel, "link_", 5))
		return 0;
	fd = bpf_obj_get(path);
	if (fd < 0)
		return 0;
	/* Detach now even if some process still holds the link open. */
	bpf_link_detach(fd);
	close(fd);
	return 0;
}

static void detach_map_prog(const char *chain, const char *prog, const char *map,
			    enum bpf_attach_type type)
{
	char prog_path[PATH_MAX], map_path[PATH_MAX];
	int prog_fd, map_fd;

	adn_chain_path(prog_path, sizeof(prog_path), chain, prog);
	adn_chain_path(map_path, sizeof(map_path), chain, map);
	prog_fd = bpf_obj_get(prog_path);
	map_fd = bpf_obj_get(map_path);
	if (prog_fd >= 0 && map_fd >= 0)
		bpf_prog_detach2(prog_fd, map_fd, type);
	if (prog_fd >= 0)
		close(prog_fd);
	if (map_fd >= 0)
		close(map_fd);
}

static void detach_msg(const char *chain)
{
	detach_map_prog(chain, "prog_msg", "adn_socks", BPF_SK_MSG_VERDICT);
	/* the receiver's programs, when the chain has elements at sk_skb */
	detach_map_prog(chain, "prog_skb_verdict", "adn_rsocks", BPF_SK_SKB_STREAM_VERDICT);
	detach_map_prog(chain, "prog_skb_parser", "adn_rsocks", BPF_SK_SKB_STREAM_PARSER);
}

bool chain_has_receiver(const char *chain)
{
	char path[PATH_MAX];

	adn_chain_path(path, sizeof(path), chain, "prog_skb_verdict");
	return access(path, F_OK) == 0;
}

/* Whether id still exists, without opening it: opening a PROG_ARRAY by id
 * after its last pin and fd are gone revives its user count, and a second
 * drop to zero while the first clear is still queued leaks the map
 * (prog_array_map_clear: bpf_map_inc + schedule_work of a pending work;
 * docs/kernel-notes.md). The id walk takes no reference. */
static bool id_alive(__u32 id, bool is_prog)
{
	__u32 next = 0;
	int rc = is_prog ? bpf_prog_get_next_id(id - 1, &next) : bpf_map_get_next_id(id - 1, &next);

	if (rc)
		return errno != ENOENT;
	return next == id;
}

/* Takes every socket out of adn_socks: their psocks (which hold the
 * dispatcher, which holds adn_progs) go now, not when the connections
 * close, so the chain's maps are freed while detach waits for them. */
static void flush_sockhash(const char *chain, const char *map)
{
	char path[PATH_MAX];
	struct { __u32 w[64]; } key, next; /* >= key_size */
	int fd;

	adn_chain_path(path, sizeof(path), chain, map);
	fd = bpf_obj_get(path);
	if (fd < 0)
		return;
	while (!bpf_map_get_next_key(fd, NULL, &next)) {
		key = next;
		if (bpf_map_delete_elem(fd, &key) && errno != ENOENT)
			break;
	}
	close(fd);
}

/* adn_rsocks first: a socket leaving it stops its stream parser, and
 * leaving adn_socks last drops its psock. */
static void flush_socks(const char *chain)
{
	flush_sockhash(chain, "adn_rsocks");
	flush_sockhash(chain, "adn_socks");
}

/* Empties slot 0 of adn_progs and, with receiver elements, of adn_skb_progs
 * (the stream verdict dispatcher's): the dispatchers then pass what they
 * see unprocessed until their sockets leave the maps. */
void chain_clear_slot(const char *chain)
{
	static const char *const maps[] = { "adn_progs", "adn_skb_progs" };
	char path[PATH_MAX];
	__u32 zero = 0;
	int fd;

	for (size_t i = 0; i < sizeof(maps) / sizeof(maps[0]); i++) {
		adn_chain_path(path, sizeof(path), chain, maps[i]);
		fd = bpf_obj_get(path);
		if (fd < 0)
			continue;
		bpf_map_delete_elem(fd, &zero);
		close(fd);
	}
}

void held_ids_collect_pins(struct held_ids *ids, const char *chain)
{
	adn_chain_walk(chain, collect_id, ids, NULL);
}

void held_ids_add(struct held_ids *ids, int fd, bool is_prog)
{
	if (is_prog) {
		struct bpf_prog_info info = { 0 };
		__u32 len = sizeof(info);
		if (!bpf_obj_get_info_by_fd(fd, &info, &len) && ids->n_prog < MAX_HELD_IDS)
			ids->prog[ids->n_prog++] = info.id;
	} else {
		struct bpf_map_info info;
		if (!adn_map_info(fd, &info) && ids->n_map < MAX_HELD_IDS)
			ids->map[ids->n_map++] = info.id;
	}
}

/* Freeing is deferred (RCU, workqueues): wait up to 2 s so that tools run
 * right after detach see nothing left. */
void wait_released(const struct held_ids *ids, const char *cmd, const char *chain)
{
	struct timespec tick = { 0, 5 * 1000 * 1000 };
	int alive = 0;

	for (int round = 0; round < 400; round++) {
		alive = 0;
		for (int i = 0; i < ids->n_prog; i++)
			alive += id_alive(ids->prog[i], true);
		for (int i = 0; i < ids->n_map; i++)
			alive += id_alive(ids->map[i], false);
		if (!alive)
			return;
		nanosleep(&tick, NULL);
	}
	loader_error(cmd, "chain %s: %d program(s)/map(s) still held open by another process "
			       "(e.g. adnctl log); the kernel frees them when it exits",
		     chain, alive);
}

int chain_teardown(const char *chain, bool wait_for_release, struct adn_err *err)
{
	struct held_ids ids = { 0 };
	int rc;

	offload_detach_chain(chain); /* hardware XDP (attach_offload.c) */
	net_detach_chain(chain); /* TC/XDP attachments first (attach_net.c) */
	held_ids_collect_pins(&ids, chain);
	chain_clear_slot(chain);
	detach_msg(chain);
	flush_socks(chain);
	adn_chain_walk(chain, detach_link, NULL, NULL);
	rc = adn_chain_remove(chain, err);
	if (!rc && wait_for_release)
		wait_released(&ids, "detach", chain);
	return rc;
}

static void detach_usage(FILE *out)
{
	fprintf(out,
		"Usage: adn-load detach [OPTIONS] CHAIN\n"
		"\n"
		"Detach CHAIN's sk_msg program (and the receiver's stream parser and verdict,\n"
		"if it has them) from its socket maps and its sock_ops program\n"
		"from every cgroup, then remove /sys/fs/bpf/adn/CHAIN/.\n"
		"\n"
		"Options:\n"
		"  -h, --help   this help\n"
		"\n"
		"Exit status 2 if CHAIN is not attached.\n");
}

int cmd_detach(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct adn_err err;
	const char *chain;
	int c, lock_fd, rc;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (c == 'h') {
			detach_usage(stdout);
			return EXIT_OK;
		}
		loader_usage_hint("detach"); /* after getopt's message */
		return EXIT_USAGE;
	}
	if (optind != argc - 1) {
		loader_error("detach", optind == argc ? "missing CHAIN" : "more than one CHAIN given");
		loader_usage_hint("detach");
		return EXIT_USAGE;
	}
	chain = argv[optind];
	if (!adn_name_valid(chain)) {
		loader_error("detach", "'%s' is not a valid chain name", chain);
		return EXIT_USAGE;
	}
	if (!adn_chain_exists(chain)) {
		loader_error("detach", "chain %s is not attached (no %s/%s)", chain, ADN_PIN_ROOT, chain);
		return EXIT_RUNTIME;
	}
	lock_fd = adn_pin_root_lock(&err);
	if (lock_fd < 0) {
		loader_error("detach", "%s", err.msg);
		return EXIT_RUNTIME;
	}
	if (!adn_chain_exists(chain)) { /* another detach won the race */
		close(lock_fd);
		loader_error("detach", "chain %s is not attached (no %s/%s)", chain, ADN_PIN_ROOT, chain);
		return EXIT_RUNTIME;
	}
	rc = chain_teardown(chain, true, &err);
	if (!rc)
		adn_pin_root_release();
	close(lock_fd);
	if (rc) {
		loader_error("detach", "%s", err.msg);
		return EXIT_RUNTIME;
	}
	printf("chain %s detached\n", chain);
	return EXIT_OK;
}
