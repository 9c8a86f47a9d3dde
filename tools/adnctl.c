/* SPDX-License-Identifier: MIT */
/* adnctl: read and change the state of an attached chain: table rows,
 * parameters, logs, counters. Text <-> row conversion is maps/'s job. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "adn_chaindir.h"
#include "adn_err.h"
#include "adn_logdrain.h"
#include "adn_pinned.h"
#include "adn_replica.h"
#include "adn_row.h"
#include "adn_status.h"

enum { EXIT_OK = 0, EXIT_USAGE = 1, EXIT_RUNTIME = 2 };

static void error_line(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void error_line(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "adnctl: %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* The line after a usage error (an unknown option, a missing or extra
 * argument), which error_line or getopt printed: where to look. */
static void usage_hint(const char *cmd)
{
	fprintf(stderr, "Try 'adnctl %s%s--help'.\n", cmd ? cmd : "", cmd ? " " : "");
}

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: adnctl COMMAND CHAIN ...\n"
		"\n"
		"Commands:\n"
		"  table CHAIN ELEMENT.TABLE insert COL=VALUE ...   insert or update a row\n"
		"  table CHAIN ELEMENT.TABLE delete KEYCOL=VALUE ... delete a row by key\n"
		"  table CHAIN ELEMENT.TABLE list [--json]          print every row\n"
		"  param CHAIN [ELEMENT.PARAM [VALUE]] [--json]     show or set parameters\n"
		"  log CHAIN [-o FILE] [--follow] [--interval-ms N] [--format json|binary]\n"
		"                                           drain LOG tables to JSON lines\n"
		"  log-decode FILE                          print a binary log file as JSON lines\n"
		"  stats CHAIN [--json]                             adn_stats counters (all CPUs)\n"
		"  replica CHAIN ELEMENT add ADDR:PORT [mac=MAC] | remove ADDR:PORT | list [--json]\n"
		"                                           the replica set of a ROUTE TO REPLICA\n"
		"\n"
		"Values: integers, true/false, REAL decimals (0.05), enumerator names\n"
		"(permission_denied), RFC 3339 times, strings; quote strings with spaces\n"
		"SQL style: name='a b', name='it''s'.\n"
		"Run `adnctl COMMAND --help` for details. Exit status: 0 ok, 1 usage error,\n"
		"2 runtime failure.\n");
}

/* Options shared by the subcommands: --json and --help anywhere. Removes
 * them from argv; returns the new argc, -1 after printing help, or -2
 * after a usage error (another --option; after "--" every argument is
 * taken as it is, for a value that starts with "--"). */
static int take_common_flags(const char *cmd, int argc, char **argv, bool *json,
			     void (*help)(FILE *))
{
	bool opts = true;
	int n = 0;

	for (int i = 0; i < argc; i++) {
		if (opts && (!strcmp(argv[i], "--json") || !strcmp(argv[i], "-j"))) {
			*json = true;
		} else if (opts && (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))) {
			help(stdout);
			return -1;
		} else if (opts && !strcmp(argv[i], "--")) {
			opts = false;
		} else if (opts && !strncmp(argv[i], "--", 2)) {
			error_line(cmd, "unknown option '%s'", argv[i]);
			usage_hint(cmd);
			return -2;
		} else {
			argv[n++] = argv[i];
		}
	}
	return n;
}

static bool valid_chain(const char *cmd, const char *chain)
{
	if (adn_name_valid(chain))
		return true;
	error_line(cmd, "'%s' is not a valid chain name", chain);
	return false;
}

/* ELEMENT.NAME (a table or a parameter) is syntax: a wrong one is a usage
 * error, found before the chain is looked at (maps/pinned.c applies the
 * same rule when it opens the table). */
static bool valid_dotted(const char *cmd, const char *what, const char *dotted)
{
	const char *dot = strchr(dotted, '.');
	char elem[64];

	if (dot && (size_t)(dot - dotted) < sizeof(elem)) {
		snprintf(elem, sizeof(elem), "%.*s", (int)(dot - dotted), dotted);
		if (adn_name_valid(elem) && adn_name_valid(dot + 1))
			return true;
	}
	error_line(cmd, "'%s': expected ELEMENT.%s, e.g. %s", dotted, what,
		   !strcmp(what, "TABLE") ? "acl.ac_tab" : "fault.probability");
	return false;
}

/* ---- table ----------------------------------------------------------- */

static void table_usage(FILE *out)
{
	fprintf(out,
		"Usage: adnctl table CHAIN ELEMENT.TABLE insert COL=VALUE ...\n"
		"       adnctl table CHAIN ELEMENT.TABLE delete KEYCOL=VALUE ...\n"
		"       adnctl table CHAIN ELEMENT.TABLE list [--json]\n"
		"\n"
		"insert writes a row (every key column required; value columns left out\n"
		"are 0 / empty), replacing the row with the same key. delete removes the\n"
		"row with the given key. list prints one row per line as COL=VALUE text, or\n"
		"a JSON array of objects with --json. Per-CPU tables: insert writes every\n"
		"CPU's copy, list shows counters summed over CPUs.\n");
}

/* Value buffer as the syscall wants it: one copy per CPU for per-CPU maps. */
static void *alloc_value(const struct adn_table *t, int *ncpus, size_t *stride)
{
	bool percpu = adn_map_is_percpu(t->info.type);

	*ncpus = percpu ? libbpf_num_possible_cpus() : 1;
	*stride = percpu ? adn_percpu_stride(t->info.value_size) : t->info.value_size;
	if (*ncpus < 1)
		*ncpus = 1;
	return calloc((size_t)*ncpus, *stride ? *stride : 1);
}

static int table_write(struct adn_table *t, int argc, char **argv, bool del)
{
	const char *cmd = del ? "table delete" : "table insert";
	struct adn_assigns as;
	struct adn_err err;
	size_t stride;
	int ncpus, rc = EXIT_RUNTIME;
	void *key = calloc(1, t->info.key_size);
	void *val = alloc_value(t, &ncpus, &stride);

	if (!key || !val) {
		error_line(cmd, "out of memory");
		goto out;
	}
	if (argc == 0) {
		error_line(cmd, "give the row as COL=VALUE ...");
		rc = EXIT_USAGE;
		goto out;
	}
	if (adn_assigns_from_argv(&as, argc, argv, &err)) {
		error_line(cmd, "%s", err.msg);
		rc = EXIT_USAGE;
		goto out;
	}
	if (adn_row_parse(&t->rt, &as, del ? ADN_ROW_KEY_ONLY : ADN_ROW_FULL, key, val, &err)) {
		error_line(cmd, "%s", err.msg);
		goto out_as;
	}
	if (del) {
		if (!bpf_map_delete_elem(t->fd, key)) {
			rc = EXIT_OK;
		} else if (errno == ENOENT) {
			error_line(cmd, "table %s has no row with that key", t->rt.table);
		} else if (errno == EINVAL && (t->info.type == BPF_MAP_TYPE_ARRAY ||
					       t->info.type == BPF_MAP_TYPE_PERCPU_ARRAY)) {
			error_line(cmd, "table %s is an array: its rows cannot be deleted, only overwritten",
				   t->rt.table);
		} else {
			error_line(cmd, "table %s: %s", t->rt.table, strerror(errno));
		}
		goto out_as;
	}
	for (int cpu = 1; cpu < ncpus; cpu++)
		memcpy((char *)val + (size_t)cpu * stride, val, t->info.value_size);
	if (!bpf_map_update_elem(t->fd, key, val, BPF_ANY))
		rc = EXIT_OK;
	else if (errno == E2BIG && (t->info.type == BPF_MAP_TYPE_ARRAY ||
				    t->info.type == BPF_MAP_TYPE_PERCPU_ARRAY))
		error_line(cmd, "table %s: index out of range (capacity %u)", t->rt.table,
			   t->info.max_entries);
	else if (errno == E2BIG)
		error_line(cmd, "table %s is full (capacity %u)", t->rt.table, t->info.max_entries);
	else
		error_line(cmd, "table %s: %s", t->rt.table, strerror(errno));
out_as:
	adn_assigns_free(&as);
out:
	free(key);
	free(val);
	return rc;
}

static int table_list(struct adn_table *t, bool json)
{
	size_t stride;
	int ncpus, rc = EXIT_OK, rows = 0;
	void *key = calloc(1, t->info.key_size), *next = calloc(1, t->info.key_size);
	void *val = alloc_value(t, &ncpus, &stride), *sum = calloc(1, t->info.value_size + 1);

	if (!key || !next || !val || !sum) {
		error_line("table list", "out of memory");
		rc = EXIT_RUNTIME;
		goto out;
	}
	if (json)
		putchar('[');
	for (int r = bpf_map_get_next_key(t->fd, NULL, next); !r;
	     r = bpf_map_get_next_key(t->fd, key, next)) {
		memcpy(key, next, t->info.key_size);
		if (bpf_map_lookup_elem(t->fd, key, val))
			continue; /* deleted meanwhile */
		const void *row = val;
		if (ncpus > 1) {
			adn_cols_sum_percpu(&t->rt.val, val, ncpus, stride, sum);
			row = sum;
		}
		if (json && rows)
			putchar(',');
		adn_row_print(stdout, &t->rt, key, row, json ? ADN_STYLE_JSON : ADN_STYLE_TEXT);
		if (!json)
			putchar('\n');
		rows++;
	}
	if (json)
		puts("]");
out:
	free(key);
	free(next);
	free(val);
	free(sum);
	return rc;
}

/* Writes hold the lock adn-load holds while it replaces maps (update,
 * migrate, restore: maps/chain_dir.c), so a row written during a hot
 * update lands in the map the new code uses, not in one about to be
 * unpinned. -1 (write unlocked, as before) when there is no pin root: the
 * open that follows says why. */
static int write_lock(void)
{
	struct adn_err err;
	return adn_pin_root_lock(&err);
}

static void write_unlock(int fd)
{
	if (fd >= 0)
		close(fd);
}

static int cmd_table(int argc, char **argv)
{
	struct adn_table t;
	struct adn_err err;
	bool json = false;
	int rc;

	argv++; /* past "table" */
	argc = take_common_flags("table", argc - 1, argv, &json, table_usage);
	if (argc < 0)
		return argc == -1 ? EXIT_OK : EXIT_USAGE;
	if (argc < 3) {
		error_line("table", "expected CHAIN ELEMENT.TABLE insert|delete|list");
		usage_hint("table");
		return EXIT_USAGE;
	}
	const char *chain = argv[0], *table = argv[1], *op = argv[2];
	if (!valid_chain("table", chain) || !valid_dotted("table", "TABLE", table))
		return EXIT_USAGE;
	if (strcmp(op, "insert") && strcmp(op, "delete") && strcmp(op, "list")) {
		error_line("table", "unknown operation '%s' (insert, delete, list)", op);
		usage_hint("table");
		return EXIT_USAGE;
	}
	if (!strcmp(op, "list") && argc > 3) {
		error_line("table list", "unexpected argument '%s'", argv[3]);
		usage_hint("table");
		return EXIT_USAGE;
	}
	if (strcmp(op, "list") && argc == 3) {
		error_line(!strcmp(op, "delete") ? "table delete" : "table insert",
			   "give the row as COL=VALUE ...");
		usage_hint("table");
		return EXIT_USAGE;
	}
	int lock_fd = strcmp(op, "list") ? write_lock() : -1;
	if (adn_table_open(&t, chain, table, &err)) {
		error_line("table", "%s", err.msg);
		write_unlock(lock_fd);
		return EXIT_RUNTIME;
	}
	if (t.info.type == BPF_MAP_TYPE_RINGBUF) {
		error_line("table", "%s is a LOG table: read it with `adnctl log %s`", table, chain);
		rc = EXIT_RUNTIME;
	} else if (!strcmp(op, "list")) {
		rc = table_list(&t, json);
	} else {
		rc = table_write(&t, argc - 3, argv + 3, !strcmp(op, "delete"));
	}
	adn_table_close(&t);
	write_unlock(lock_fd);
	return rc;
}

/* ---- param ----------------------------------------------------------- */

static void param_usage(FILE *out)
{
	fprintf(out,
		"Usage: adnctl param CHAIN [--json]                 show every parameter\n"
		"       adnctl param CHAIN ELEMENT.PARAM [--json]   show one\n"
		"       adnctl param CHAIN ELEMENT.PARAM VALUE      set one\n"
		"\n"
		"Parameters live in the chain's adn_params map; the programs read them on\n"
		"every RPC, so a new value applies to the next RPC.\n");
}

static int cmd_param(int argc, char **argv)
{
	struct adn_table t;
	struct adn_err err;
	bool json = false, first = true;
	__u32 zero = 0;
	void *val = NULL;
	int rc = EXIT_RUNTIME;

	argv++;
	argc = take_common_flags("param", argc - 1, argv, &json, param_usage);
	if (argc < 0)
		return argc == -1 ? EXIT_OK : EXIT_USAGE;
	if (argc < 1 || argc > 3) {
		error_line("param", "expected CHAIN [ELEMENT.PARAM [VALUE]]");
		usage_hint("param");
		return EXIT_USAGE;
	}
	if (!valid_chain("param", argv[0]) || (argc >= 2 && !valid_dotted("param", "PARAM", argv[1])))
		return EXIT_USAGE;
	int lock_fd = argc == 3 ? write_lock() : -1;
	if (adn_table_open_pin(&t, argv[0], "adn_params", "adn_params", &err)) {
		error_line("param", "%s", err.msg);
		write_unlock(lock_fd);
		return EXIT_RUNTIME;
	}
	adn_cols_dot_names(&t.rt.val);
	val = calloc(1, t.info.value_size);
	if (!val || bpf_map_lookup_elem(t.fd, &zero, val)) {
		error_line("param", "%s: read: %s", t.path, strerror(errno));
		goto out;
	}
	if (argc == 1) {
		if (json) {
			putchar('{');
			adn_cols_print(stdout, &t.rt.val, val, ADN_STYLE_JSON, &first);
			puts("}");
		} else {
			for (int i = 0; i < t.rt.val.n; i++) {
				printf("%s=", t.rt.val.col[i].name);
				adn_col_print(stdout, &t.rt.val, &t.rt.val.col[i], val, ADN_STYLE_TEXT);
				putchar('\n');
			}
		}
		rc = EXIT_OK;
		goto out;
	}
	int c = adn_cols_find(&t.rt.val, argv[1]);
	if (c < 0) {
		char names[512];
		adn_cols_names(&t.rt.val, names, sizeof(names));
		error_line("param", "chain %s has no parameter '%s' (parameters: %s)", argv[0], argv[1],
			   *names ? names : "none");
		goto out;
	}
	const struct adn_col *col = &t.rt.val.col[c];
	if (argc == 2) {
		if (json)
			printf("{\"%s\":", col->name);
		adn_col_print(stdout, &t.rt.val, col, val, json ? ADN_STYLE_JSON : ADN_STYLE_TEXT);
		puts(json ? "}" : "");
		rc = EXIT_OK;
		goto out;
	}
	if (adn_col_parse(&t.rt.val, col, argv[2], val, NULL, &err)) {
		error_line("param", "%s", err.msg);
		goto out;
	}
	/* A whole-value write: the programs see either the old or the new row. */
	if (bpf_map_update_elem(t.fd, &zero, val, BPF_ANY)) {
		error_line("param", "%s: write: %s", t.path, strerror(errno));
		goto out;
	}
	rc = EXIT_OK;
out:
	free(val);
	adn_table_close(&t);
	write_unlock(lock_fd);
	return rc;
}

/* ---- log ------------------------------------------------------------- */

static volatile sig_atomic_t stop_requested;

static void on_stop(int sig)
{
	(void)sig;
	stop_requested = 1;
}

static void log_usage(FILE *out)
{
	fprintf(out,
		"Usage: adnctl log CHAIN [-o FILE] [--follow] [--interval-ms N] [--format json|binary]\n"
		"\n"
		"Drain every LOG table (ring buffer) of CHAIN as JSON lines, one object\n"
		"per record: {\"table\":\"logging.log\",\"time\":\"...\",...}.\n"
		"\n"
		"Options:\n"
		"  -o, --output FILE     append to FILE (flushed after each drain); with\n"
		"                        --format binary FILE is created anew\n"
		"  -F, --format F        json (default) or binary: the records as the programs\n"
		"                        wrote them, with the chain's BTF in a header, for\n"
		"                        logging at line rate; decode with adnctl log-decode\n"
		"  -f, --follow          keep draining until SIGINT/SIGTERM, then drain once\n"
		"                        more and exit 0\n"
		"  -i, --interval-ms N   drain period with --follow (default 10). The programs\n"
		"                        write without wakeups, so records are polled\n"
		"  -h, --help            this help\n"
		"\n"
		"Records lost because a ring was full are reported on stderr (adn_stats\n"
		"counter log_lost).\n");
}

static void report_lost(const char *chain, uint64_t *last_lost, bool have_counter)
{
	uint64_t now;

	if (!have_counter || adn_stats_counter(chain, "log_lost", &now, NULL))
		return;
	if (now > *last_lost)
		fprintf(stderr, "adnctl: log: %" PRIu64 " record(s) lost: a ring buffer was full "
				"(drain more often: --interval-ms)\n",
			now - *last_lost);
	*last_lost = now;
}

static int cmd_log(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "follow", no_argument, NULL, 'f' },
		{ "interval-ms", required_argument, NULL, 'i' },
		{ "format", required_argument, NULL, 'F' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *path = NULL;
	bool follow = false, binary = false;
	long interval_ms = 10;
	struct adn_err err;
	char *end;
	int c;

	while ((c = getopt_long(argc, argv, "o:fi:F:h", opts, NULL)) != -1) {
		switch (c) {
		case 'o':
			path = optarg;
			break;
		case 'F':
			if (strcmp(optarg, "json") && strcmp(optarg, "binary")) {
				error_line("log", "--format: '%s' is not json or binary", optarg);
				return EXIT_USAGE;
			}
			binary = !strcmp(optarg, "binary");
			break;
		case 'f':
			follow = true;
			break;
		case 'i':
			errno = 0;
			interval_ms = strtol(optarg, &end, 10);
			if (errno || *end || end == optarg || interval_ms < 1 || interval_ms > 60000) {
				error_line("log", "--interval-ms: '%s' is not 1..60000", optarg);
				return EXIT_USAGE;
			}
			break;
		case 'h':
			log_usage(stdout);
			return EXIT_OK;
		default: /* getopt said which option */
			usage_hint("log");
			return EXIT_USAGE;
		}
	}
	if (optind != argc - 1) {
		error_line("log", optind == argc ? "missing CHAIN" : "more than one CHAIN given");
		usage_hint("log");
		return EXIT_USAGE;
	}
	const char *chain = argv[optind];
	if (!valid_chain("log", chain))
		return EXIT_USAGE;
	if (binary && !path && isatty(STDOUT_FILENO)) {
		error_line("log", "--format binary needs -o FILE (or a pipe), not a terminal");
		return EXIT_USAGE;
	}
	/* Find the chain and its LOG tables before FILE is created or
	 * truncated (--format binary): a failed `log` leaves FILE as it was. */
	struct adn_log_drain *d = adn_log_drain_open(chain, stdout, &err);
	if (!d) {
		error_line("log", "%s", err.msg);
		return EXIT_RUNTIME;
	}
	bool created = false;
	FILE *out = stdout;
	if (path) {
		adn_log_drain_close(d);
		created = access(path, F_OK) && errno == ENOENT;
		out = fopen(path, binary ? "w" : "a");
		if (!out) {
			error_line("log", "%s: %s", path, strerror(errno));
			return EXIT_RUNTIME;
		}
		d = adn_log_drain_open(chain, out, &err);
	}
	if (!d || (binary && adn_log_drain_binary(d, &err))) {
		/* the chain went away meanwhile, or the header failed */
		error_line("log", "%s", err.msg);
		adn_log_drain_close(d);
		if (path) {
			fclose(out);
			if (created)
				unlink(path);
		}
		return EXIT_RUNTIME;
	}
	uint64_t lost = 0;
	bool have_counter = !adn_stats_counter(chain, "log_lost", &lost, NULL);
	if (have_counter && lost)
		fprintf(stderr, "adnctl: log: %" PRIu64 " record(s) lost since the chain was attached "
				"(adn_stats log_lost)\n", lost);

	/* no SA_RESTART: the signal must cut the sleep short */
	struct sigaction sa = { .sa_handler = on_stop };
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	int rc = EXIT_OK;
	struct timespec period = { interval_ms / 1000, (interval_ms % 1000) * 1000000L };
	for (;;) {
		bool last = !follow || stop_requested; /* read the flag before draining */
		long n = adn_log_drain_once(d);
		if (n < 0) {
			error_line("log", "drain: %s", strerror((int)-n));
			rc = EXIT_RUNTIME;
			break;
		}
		if (fflush(out)) {
			error_line("log", "%s: %s", path ? path : "stdout", strerror(errno));
			rc = EXIT_RUNTIME;
			break;
		}
		report_lost(chain, &lost, have_counter);
		if (last)
			break;
		nanosleep(&period, NULL);
	}
	adn_log_drain_close(d);
	if (path && fclose(out) && rc == EXIT_OK) {
		error_line("log", "%s: %s", path, strerror(errno));
		rc = EXIT_RUNTIME;
	}
	return rc;
}

/* ---- stats ----------------------------------------------------------- */

static void stats_usage(FILE *out)
{
	fprintf(out,
		"Usage: adnctl stats CHAIN [--json]\n"
		"\n"
		"Print the chain's adn_stats counters, summed over CPUs.\n");
}

static int cmd_stats(int argc, char **argv)
{
	struct adn_err err;
	bool json = false;

	argv++;
	argc = take_common_flags("stats", argc - 1, argv, &json, stats_usage);
	if (argc < 0)
		return argc == -1 ? EXIT_OK : EXIT_USAGE;
	if (argc != 1) {
		error_line("stats", argc ? "more than one CHAIN given" : "missing CHAIN");
		usage_hint("stats");
		return EXIT_USAGE;
	}
	if (!valid_chain("stats", argv[0]))
		return EXIT_USAGE;
	if (adn_status_print(stdout, argv[0], ADN_STATUS_STATS, json, &err)) {
		error_line("stats", "%s", err.msg);
		return EXIT_RUNTIME;
	}
	return EXIT_OK;
}

static void replica_usage(FILE *out)
{
	fprintf(out,
		"Usage: adnctl replica CHAIN ELEMENT add ADDR:PORT [mac=MAC]\n"
		"       adnctl replica CHAIN ELEMENT remove ADDR:PORT\n"
		"       adnctl replica CHAIN ELEMENT list [--json]\n"
		"\n"
		"Change the replica set of ELEMENT's ROUTE TO REPLICA while the chain runs:\n"
		"a request with route value v goes to replica v %% n, in list order. add\n"
		"appends, remove closes the gap (later replicas move up). mac= is the\n"
		"replica's Ethernet address, needed over UDP (TC rewrites the destination\n"
		"MAC); IPv6 addresses in brackets: [fd00::1]:7070. At most %d replicas.\n",
		ADN_REPLICAS_MAX);
}

static int replica_list(const struct adn_replica_set *set, bool json)
{
	char a[80];

	if (json)
		printf("[");
	for (__u32 i = 0; i < set->n; i++) {
		const unsigned char *m = set->r[i].mac;
		char mac[24] = "";

		adn_replica_format(&set->r[i], a, sizeof(a));
		if (m[0] | m[1] | m[2] | m[3] | m[4] | m[5])
			snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3],
				 m[4], m[5]);
		if (json)
			printf("%s{\"index\": %u, \"replica\": \"%s\", \"mac\": \"%s\"}", i ? ", " : "", i,
			       a, mac);
		else
			printf("%u %s%s%s\n", i, a, *mac ? " mac=" : "", mac);
	}
	if (json)
		printf("]\n");
	return EXIT_OK;
}

static int cmd_replica(int argc, char **argv)
{
	struct adn_replica_set set;
	struct adn_replica r;
	struct adn_err err;
	bool json = false;
	int fd, idx, rc = EXIT_OK;

	argv++;
	argc = take_common_flags("replica", argc - 1, argv, &json, replica_usage);
	if (argc < 0)
		return argc == -1 ? EXIT_OK : EXIT_USAGE;
	if (argc < 3) {
		error_line("replica", "expected CHAIN ELEMENT add|remove|list ...");
		usage_hint("replica");
		return EXIT_USAGE;
	}
	if (!valid_chain("replica", argv[0]))
		return EXIT_USAGE;
	const char *op = argv[2];
	bool add = !strcmp(op, "add"), remove = !strcmp(op, "remove"), list = !strcmp(op, "list");
	if (!add && !remove && !list) {
		error_line("replica", "unknown operation '%s' (add, remove or list)", op);
		usage_hint("replica");
		return EXIT_USAGE;
	}
	if ((list && argc != 3) || (remove && argc != 4) || (add && (argc < 4 || argc > 5))) {
		error_line("replica", list ? "list takes no more arguments" :
				      remove ? "expected remove ADDR:PORT" : "expected add ADDR:PORT [mac=MAC]");
		usage_hint("replica");
		return EXIT_USAGE;
	}
	if (!list && adn_replica_parse(argv[3], &r, &err)) {
		error_line("replica", "%s", err.msg);
		return EXIT_USAGE;
	}
	if (add && argc == 5 && (strncmp(argv[4], "mac=", 4) || adn_replica_parse_mac(argv[4] + 4, r.mac, &err))) {
		error_line("replica", "%s", strncmp(argv[4], "mac=", 4) ? "expected mac=MAC after the address" : err.msg);
		return EXIT_USAGE;
	}
	fd = adn_replica_open(argv[0], argv[1], &err);
	if (fd < 0) {
		error_line("replica", "%s", err.msg);
		return EXIT_RUNTIME;
	}
	if (adn_replica_read(fd, &set, &err)) {
		error_line("replica", "%s", err.msg);
		close(fd);
		return EXIT_RUNTIME;
	}
	idx = list ? -1 : adn_replica_find(&set, &r);
	if (list) {
		rc = replica_list(&set, json);
	} else if (add && idx >= 0) {
		error_line("replica", "%s is already replica %d of %s %s", argv[3], idx, argv[0], argv[1]);
		rc = EXIT_RUNTIME;
	} else if (add && set.n >= ADN_REPLICAS_MAX) {
		error_line("replica", "%s %s has %d replicas, the most a set holds", argv[0], argv[1], ADN_REPLICAS_MAX);
		rc = EXIT_RUNTIME;
	} else if (remove && idx < 0) {
		error_line("replica", "%s is not a replica of %s %s", argv[3], argv[0], argv[1]);
		rc = EXIT_RUNTIME;
	} else {
		if (add) {
			set.r[set.n++] = r;
		} else {
			memmove(&set.r[idx], &set.r[idx + 1], (set.n - (__u32)idx - 1) * sizeof(set.r[0]));
			memset(&set.r[--set.n], 0, sizeof(set.r[0]));
		}
		if (adn_replica_write(fd, &set, &err)) {
			error_line("replica", "%s", err.msg);
			rc = EXIT_RUNTIME;
		}
	}
	close(fd);
	return rc;
}

static int cmd_log_decode(int argc, char **argv)
{
	struct adn_err err;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			printf("Usage: adnctl log-decode FILE\n\n"
			       "Print a binary log file (adnctl log --format binary) as JSON lines.\n");
			return EXIT_OK;
		}
	}
	if (argc != 2 || (argv[1][0] == '-' && argv[1][1])) {
		if (argc == 2)
			error_line("log-decode", "unknown option '%s'", argv[1]);
		else
			error_line("log-decode", argc < 2 ? "missing FILE" : "more than one FILE given");
		usage_hint("log-decode");
		return EXIT_USAGE;
	}
	FILE *in = fopen(argv[1], "rb");
	if (!in) {
		error_line("log-decode", "%s: %s", argv[1], strerror(errno));
		return EXIT_RUNTIME;
	}
	long n = adn_log_file_decode(in, stdout, &err);
	fclose(in);
	if (n < 0) {
		error_line("log-decode", "%s: %s", argv[1], err.msg);
		return EXIT_RUNTIME;
	}
	return EXIT_OK;
}

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*fn)(int, char **);
	} cmds[] = {
		{ "table", cmd_table },
		{ "param", cmd_param },
		{ "log", cmd_log },
		{ "log-decode", cmd_log_decode },
		{ "stats", cmd_stats },
		{ "replica", cmd_replica },
	};

	if (argc < 2) {
		fputs("adnctl: missing COMMAND\n", stderr);
		usage_hint(NULL);
		return EXIT_USAGE;
	}
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return EXIT_OK;
	}
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		if (!strcmp(argv[1], cmds[i].name)) {
			/* getopt names argv[0] in its messages: "adnctl log: ..." */
			static char name[64];
			snprintf(name, sizeof(name), "adnctl %s", argv[1]);
			argv[1] = name;
			return cmds[i].fn(argc - 1, argv + 1);
		}
	}
	fprintf(stderr, "adnctl: unknown command '%s'\n", argv[1]);
	usage_hint(NULL);
	return EXIT_USAGE;
}
