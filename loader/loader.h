/* SPDX-License-Identifier: MIT */
/* adn-load: attach, detach and inspect compiled chains. */
#ifndef ADN_LOADER_H
#define ADN_LOADER_H

#include <stdbool.h>
#include <stdio.h>

/* Exit codes (docs/loader.md). */
enum {
	EXIT_OK = 0,
	EXIT_USAGE = 1,
	EXIT_RUNTIME = 2,
	EXIT_BADFILE = 3, /* snapshot file corrupt / wrong version: nothing written */
	EXIT_SCHEMA = 4,  /* incompatible table schema: nothing written */
};

int cmd_attach(int argc, char **argv);
int cmd_detach(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_snapshot(int argc, char **argv);
int cmd_restore(int argc, char **argv);
int cmd_merge(int argc, char **argv);
int cmd_update(int argc, char **argv);
int cmd_migrate(int argc, char **argv);

/* Reads a whole file; free *buf. */
struct adn_err;
int loader_read_file(const char *path, void **buf, size_t *len, struct adn_err *err);
/* A full RCU grace period (membarrier MEMBARRIER_CMD_GLOBAL): every program
 * run that started before the call has finished when it returns. */
void loader_grace_period(void);
/* Empties slot 0 of the chain's adn_progs (before its pins go). */
void chain_clear_slot(const char *chain);
/* Whether the attached chain has the receiver's programs (prog_skb_verdict). */
bool chain_has_receiver(const char *chain);

/* Writes the .adn.meta row= lines (initial rows of the DSL's INSERT ...
 * VALUES) into OBJ's loaded maps; with WANT, only into maps it accepts. */
struct adn_meta;
struct bpf_object;
struct bpf_map;
int loader_write_initial_rows(struct bpf_object *obj, const struct adn_meta *meta,
			      bool (*want)(const struct bpf_map *map, void *ctx), void *ctx,
			      struct adn_err *err);

/* "adn-load: <cmd>: <message>" on stderr. */
void loader_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The line after a usage error (after loader_error's, or getopt's own):
 * "Try 'adn-load CMD --help'." (CMD NULL: "Try 'adn-load --help'."). */
void loader_usage_hint(const char *cmd);

/* libbpf messages: kept in a buffer (and echoed with --verbose) so that a
 * failed load can show the verifier's log. */
void libbpf_log_capture(bool verbose);
/* Prints the tail of the last verifier log on stderr; false if none. */
bool libbpf_log_print_verifier_tail(FILE *out, int max_lines);
/* The last warning line libbpf printed, or "". */
const char *libbpf_log_last_warning(void);

/* Removes chain's pins after detaching its programs; used by detach and
 * by attach to undo a failed attach. Returns 0 or -errno (message in err). */
struct adn_err;
int chain_teardown(const char *chain, bool wait_for_release, struct adn_err *err);

/* Ids of a chain's programs and maps, to wait until the kernel freed them. */
#define MAX_HELD_IDS 256
struct held_ids {
	unsigned prog[MAX_HELD_IDS], map[MAX_HELD_IDS];
	int n_prog, n_map;
};
void held_ids_add(struct held_ids *ids, int fd, bool is_prog);
/* Adds the ids of every program and map pinned under the chain's dir. */
void held_ids_collect_pins(struct held_ids *ids, const char *chain);
void wait_released(const struct held_ids *ids, const char *cmd, const char *chain);

#endif
