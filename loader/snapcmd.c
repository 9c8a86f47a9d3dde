/* SPDX-License-Identifier: MIT */
/* adn-load snapshot / restore / merge (docs/snapshot-format.md). */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "adn_chaindir.h"
#include "adn_err.h"
#include "adn_snapshot.h"
#include "loader.h"

static double now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static uint64_t total_rows(const struct adn_snap *s)
{
	uint64_t n = 0;
	for (int i = 0; i < s->n; i++)
		n += s->t[i].nrows;
	return n;
}

/* 1 usage (the error and the hint printed), 0 ok; sets *out, *json; exits
 * after --help; leaves positional args in argv[optind..] */
static int short_opts(int argc, char **argv, const char *cmd, void (*usage)(FILE *),
		      const char **out, bool *json)
{
	static const struct option opts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "o:jh", opts, NULL)) != -1) {
		switch (c) {
		case 'o':
			if (!out) {
				loader_error(cmd, "option -o does not apply");
				goto bad;
			}
			*out = optarg;
			break;
		case 'j':
			*json = true;
			break;
		case 'h':
			usage(stdout);
			exit(EXIT_OK);
		default: /* getopt said which option */
			goto bad;
		}
	}
	return 0;
bad:
	loader_usage_hint(cmd);
	return 1;
}

static void snapshot_usage(FILE *out)
{
	fprintf(out,
		"Usage: adn-load snapshot CHAIN -o FILE [--json]\n"
		"\n"
		"Save the state of CHAIN to FILE: every state table (hash, LRU, array and\n"
		"per-CPU tables, by pin under /sys/fs/bpf/adn/CHAIN/) with its schema from\n"
		"BTF and its merge policy, and the parameters (adn_params). LOG tables are\n"
		"streams (drain them with adnctl log) and are not saved. The file format is\n"
		"docs/snapshot-format.md: versioned, zlib-compressed sections, CRC32 each.\n"
		"\n"
		"Consistency: taken while traffic flows, in one pass of batch lookups. Each\n"
		"row of a hash/LRU table is copied under its bucket lock, so it is a row\n"
		"some update wrote whole; rows are read at slightly different moments\n"
		"(the table is not frozen). Array rows and fields that programs change in\n"
		"place (atomic counters) are copied word by word.\n"
		"\n"
		"Options:\n"
		"  -o, --output FILE   where to write (written to FILE.tmp.PID, then renamed)\n"
		"  -j, --json          print a JSON summary\n"
		"  -h, --help          this help\n");
}

int cmd_snapshot(int argc, char **argv)
{
	const char *out = NULL;
	bool json = false;
	struct adn_snap s;
	struct adn_err err;

	if (short_opts(argc, argv, "snapshot", snapshot_usage, &out, &json))
		return EXIT_USAGE;
	if (optind != argc - 1 || !out) {
		loader_error("snapshot", optind == argc ? "missing CHAIN" : !out ? "missing -o FILE"
										 : "more than one CHAIN given");
		loader_usage_hint("snapshot");
		return EXIT_USAGE;
	}
	const char *chain = argv[optind];
	if (!adn_name_valid(chain)) {
		loader_error("snapshot", "'%s' is not a valid chain name", chain);
		return EXIT_USAGE;
	}
	double t0 = now_ms();
	if (adn_snap_take(&s, chain, &err)) {
		loader_error("snapshot", "%s", err.msg);
		return EXIT_RUNTIME;
	}
	double t1 = now_ms();
	if (adn_snap_write(&s, out, &err)) {
		loader_error("snapshot", "%s", err.msg);
		adn_snap_free(&s);
		return EXIT_RUNTIME;
	}
	double t2 = now_ms();
	if (json)
		printf("{\"chain\":\"%s\",\"file\":\"%s\",\"tables\":%d,\"rows\":%" PRIu64
		       ",\"layout\":\"0x%08x\",\"read_ms\":%.1f,\"write_ms\":%.1f}\n",
		       chain, out, s.n, total_rows(&s), s.layout, t1 - t0, t2 - t1);
	else
		printf("snapshot of %s: %d tables, %" PRIu64 " rows, layout 0x%08x -> %s "
		       "(read %.1f ms, write %.1f ms)\n",
		       chain, s.n, total_rows(&s), s.layout, out, t1 - t0, t2 - t1);
	adn_snap_free(&s);
	return EXIT_OK;
}

static void restore_usage(FILE *out)
{
	fprintf(out,
		"Usage: adn-load restore CHAIN FILE [--json]\n"
		"\n"
		"Make each table of the running CHAIN hold exactly the rows of snapshot\n"
		"FILE (rows the snapshot lacks are deleted; array rows zeroed), and set\n"
		"the parameters it saved. Tables are matched by name, columns by name:\n"
		"a column the chain added gets its DSL DEFAULT, else zero (a parameter\n"
		"keeps its current value),\n"
		"a column the chain removed is dropped, a column whose type changed is\n"
		"refused. A table of FILE that CHAIN lacks is skipped, a table FILE lacks\n"
		"is left as it is (a note on stderr each); a FILE none of whose tables is\n"
		"in CHAIN (a snapshot of another chain) is refused. The whole file is\n"
		"checked (magic, version, CRCs, layout hash) and every table converted in\n"
		"memory before anything is written: a bad file or schema leaves the chain\n"
		"untouched.\n"
		"\n"
		"Scale-out: restore one snapshot into several chains.\n"
		"\n"
		"Exit status: 0 ok, 1 usage, 2 runtime failure, 3 bad file, 4 incompatible\n"
		"schema.\n");
}

struct notes {
	int n;
};

static const char *skipped_text(int n)
{
	static char buf[48];

	if (!n)
		return "";
	snprintf(buf, sizeof(buf), " (%d skipped: not in the chain)", n);
	return buf;
}

static void print_note(void *ctx, const char *line)
{
	struct notes *n = ctx;
	n->n++;
	fprintf(stderr, "adn-load: restore: note: %s\n", line);
}

int cmd_restore(int argc, char **argv)
{
	bool json = false;
	struct adn_snap s;
	struct adn_err err;
	struct notes notes = { 0 };
	int tables = 0;
	uint64_t rows = 0;
	struct adn_restore_opts opts = { .note = print_note, .ctx = &notes, .tables = &tables,
					 .rows = &rows };
	int rc, lock_fd;

	if (short_opts(argc, argv, "restore", restore_usage, NULL, &json))
		return EXIT_USAGE;
	if (optind != argc - 2) {
		loader_error("restore", "expected CHAIN FILE");
		loader_usage_hint("restore");
		return EXIT_USAGE;
	}
	const char *chain = argv[optind], *file = argv[optind + 1];
	if (!adn_name_valid(chain)) {
		loader_error("restore", "'%s' is not a valid chain name", chain);
		return EXIT_USAGE;
	}
	double t0 = now_ms();
	rc = adn_snap_read(&s, file, &err);
	if (rc) {
		loader_error("restore", "%s", err.msg);
		return rc == -EINVAL ? EXIT_BADFILE : EXIT_RUNTIME;
	}
	double t1 = now_ms();
	if (!adn_chain_exists(chain)) {
		loader_error("restore", "chain %s is not attached (no %s/%s)", chain, ADN_PIN_ROOT, chain);
		adn_snap_free(&s);
		return EXIT_RUNTIME;
	}
	lock_fd = adn_pin_root_lock(&err);
	if (lock_fd < 0) {
		loader_error("restore", "%s", err.msg);
		adn_snap_free(&s);
		return EXIT_RUNTIME;
	}
	rc = adn_snap_restore(&s, chain, &opts, &err);
	double t2 = now_ms();
	close(lock_fd);
	if (rc) {
		loader_error("restore", "%s: %s", file, err.msg);
		adn_snap_free(&s);
		return rc == -EINVAL ? EXIT_SCHEMA : EXIT_RUNTIME;
	}
	if (json)
		printf("{\"chain\":\"%s\",\"file\":\"%s\",\"tables\":%d,\"rows\":%" PRIu64
		       ",\"skipped\":%d,\"notes\":%d,\"read_ms\":%.1f,\"write_ms\":%.1f}\n",
		       chain, file, tables, rows, s.n - tables, notes.n, t1 - t0, t2 - t1);
	else
		printf("restored %" PRIu64 " rows of %d tables%s from %s (chain %s) into %s "
		       "(read %.1f ms, write %.1f ms)\n",
		       rows, tables, skipped_text(s.n - tables), file, s.chain, chain, t1 - t0, t2 - t1);
	adn_snap_free(&s);
	return EXIT_OK;
}

static void merge_usage(FILE *out)
{
	fprintf(out,
		"Usage: adn-load merge -o OUT SNAP1 SNAP2 ...\n"
		"\n"
		"Combine snapshots of several instances of one chain into OUT, table by\n"
		"table, by the merge policy the chain declares (.adn.meta merge= lines):\n"
		"  SUM        same key: integer and REAL columns added, TIMESTAMPs the latest\n"
		"  MAX, MIN   same key: each number / TIMESTAMP column the largest / smallest\n"
		"  LAST col   same key: the row with the newest TIMESTAMP col (tie: later file)\n"
		"  UNION      (default) every key; same key: the later file's row\n"
		"Parameters are taken from SNAP1. Tables must have the same schema in\n"
		"every snapshot; the merge must fit each table's capacity.\n");
}

int cmd_merge(int argc, char **argv)
{
	const char *out = NULL;
	bool json = false;
	struct adn_snap *in, merged;
	struct adn_err err;
	int n, rc;

	if (short_opts(argc, argv, "merge", merge_usage, &out, &json))
		return EXIT_USAGE;
	n = argc - optind;
	if (!out || n < 1) {
		loader_error("merge", !out ? "missing -o OUT" : "no snapshot given");
		loader_usage_hint("merge");
		return EXIT_USAGE;
	}
	in = calloc((size_t)n, sizeof(*in));
	if (!in)
		return EXIT_RUNTIME;
	for (int i = 0; i < n; i++) {
		rc = adn_snap_read(&in[i], argv[optind + i], &err);
		if (rc) {
			loader_error("merge", "%s", err.msg);
			for (int j = 0; j < i; j++)
				adn_snap_free(&in[j]);
			free(in);
			return rc == -EINVAL ? EXIT_BADFILE : EXIT_RUNTIME;
		}
	}
	rc = adn_snap_merge(&merged, in, n, &err);
	if (!rc)
		rc = adn_snap_write(&merged, out, &err);
	if (rc)
		loader_error("merge", "%s", err.msg);
	else
		printf("merged %d snapshots: %d tables, %" PRIu64 " rows -> %s\n", n, merged.n,
		       total_rows(&merged), out);
	if (!rc)
		adn_snap_free(&merged);
	for (int i = 0; i < n; i++)
		adn_snap_free(&in[i]);
	free(in);
	return rc ? (rc == -EINVAL ? EXIT_SCHEMA : EXIT_RUNTIME) : EXIT_OK;
}
