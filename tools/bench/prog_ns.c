/* SPDX-License-Identifier: MIT */
/*
 * prog_ns: nanoseconds per packet of one adn TC or XDP program, measured with
 * BPF_PROG_TEST_RUN on hand-built Ethernet/IPv4/UDP packets (as
 * selftests/unit/test_tc_xdp.c does: tools/lib/prog_test_run.h), plus the
 * program's size from bpf_prog_info.
 * Built and run by tools/bench/micro.sh.
 *
 *   prog_ns OBJ [--repeat N] [--runs K] [--param E.P=V]... [--row 'E.T c=v ...']...
 *               [--acl-rows N [--acl-map NAME]] [--calls M] [--seed S]
 *               --case 'NAME[;user=U][;dport=P][;expect=pass|reply|any][;repeat=N]
 *                        [;param=E.P=V][;row=E.T c=v ...][;random=1]'...
 *
 * The object is loaded with libbpf and initialised as adn-load does (adn_cfg's
 * port, the .adn.meta rows and parameter defaults, through libadnmaps), then
 * --row/--param override. Cases run in order on the same loaded object (state
 * such as counters carries over); a case's param=/row= apply before it runs.
 *
 * One output line per case, CSV:
 *   case,verdict,ns_median,ns_min,ns_max,runs,repeat,xlated_insns,xlated_bytes,
 *   jited_bytes,log_lost,prog_type
 * verdict: pass / reply (the network's reply: TC_ACT_REDIRECT, XDP_TX) /
 * shot (TC_ACT_SHOT, XDP_DROP: malformed) / other:<n>.
 *
 * ns: the kernel's own measurement (bpf_test_run_opts.duration: the mean
 * over `repeat` runs of the same packet, timer included); median, min and
 * max over `runs` calls. With random=1, each of --calls calls runs once
 * (repeat = 1) on a packet whose user is drawn at random from the ACL rows
 * loaded by --acl-rows; ns_median/min/max are then over the calls, and the
 * timer's own cost is in every call (compare with the same case run with
 * random=0 and repeat=1: see --calls). The log's ring buffers are drained
 * before each call (or all along by a thread: --drain-cpu) so that records
 * are written, not lost for lack of room (log_lost counts what was lost
 * anyway).
 *
 * A repeated run keeps the packet the program wrote: a request the chain
 * drops comes out as the network's reply (a response), so its second run
 * would be another path. Cases that change the packet (dropped, rewritten)
 * must be measured with repeat=1.
 */
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <getopt.h>
#include <math.h>
#include <linux/bpf.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "adn_err.h"
#include "adn_meta.h"
#include "adn_pinned.h"
#include "adn_row.h"
#include "../lib/prog_test_run.h"

#define CLIENT_PORT 40000
#define MAX_CASES 32
#define MAX_OVR 32
#define ST_LOG_LOST 8 /* index of log_lost in struct adn_stats (bpf/adn_bpf.h) */

static void die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("prog_ns: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(1);
}

static int quiet(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	return level == LIBBPF_WARN && !strstr(fmt, "skipping unrecognized") ? vfprintf(stderr, fmt, ap) : 0;
}

/* ---- tables and parameters, as loader/attach.c writes them ------------ */

static struct bpf_object *obj;
static struct btf *btf;

static void write_assigns(struct bpf_map *map, const char *table, const char *assigns, bool params)
{
	struct adn_row_type rt;
	struct adn_assigns as;
	struct adn_err err;
	size_t vsize = bpf_map__value_size(map);
	bool percpu = adn_map_is_percpu(bpf_map__type(map));
	int ncpus = percpu ? libbpf_num_possible_cpus() : 1;
	size_t stride = percpu ? adn_percpu_stride((__u32)vsize) : vsize;
	void *key = calloc(1, bpf_map__key_size(map));
	void *val = calloc((size_t)ncpus, stride);
	int rc;

	if (!key || !val)
		die("out of memory");
	if (adn_row_type_init(&rt, btf, table, bpf_map__btf_key_type_id(map),
			      bpf_map__btf_value_type_id(map), &err))
		die("%s: %s", table, err.msg);
	if (adn_assigns_from_line(&as, assigns, &err))
		die("%s: %s", assigns, err.msg);
	if (params) {
		/* one row at index 0: start from what the map holds */
		adn_cols_dot_names(&rt.val);
		if (bpf_map_lookup_elem(bpf_map__fd(map), key, val))
			die("%s: lookup: %s", table, strerror(errno));
		rc = adn_cols_parse(&rt.val, &as, val, NULL, &err);
	} else {
		rc = adn_row_parse(&rt, &as, ADN_ROW_FULL, key, val, &err);
	}
	if (rc)
		die("%s %s: %s", table, assigns, err.msg);
	for (int c = 1; c < ncpus; c++)
		memcpy((char *)val + (size_t)c * stride, val, vsize);
	if (bpf_map_update_elem(bpf_map__fd(map), key, val, BPF_ANY))
		die("%s: update: %s", table, strerror(errno));
	adn_assigns_free(&as);
	free(key);
	free(val);
}

/* "fault.probability=0". A value @FILL@ becomes floor(4e18 / now), now being
 * CLOCK_MONOTONIC in ns (what the programs' now() reads): a token-bucket
 * rate at which the first request, finding last = 0, fills the bucket
 * ((now - 0) * rate ~ 4e18, above burst * 1e9 for any burst <= 4e9) and
 * stays below 2^63: the generated min() of the refill is a signed 64-bit
 * min (adn_min_s64), so a larger sum would wrap negative and win. */
static void set_param(const char *assign)
{
	struct bpf_map *m = bpf_object__find_map_by_name(obj, "adn_params");
	char buf[256];
	const char *fill = strstr(assign, "@FILL@");
	if (!m)
		die("no map adn_params for %s", assign);
	if (fill) {
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		double now = (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
		snprintf(buf, sizeof(buf), "%.*s%.0f%s", (int)(fill - assign), assign,
			 now > 1 ? floor(4e18 / now) : 1e9, fill + 6);
		assign = buf;
	}
	write_assigns(m, "adn_params", assign, true);
}

static void set_row(const char *line) /* "acl.ac_tab username=alice permission=W" */
{
	size_t tlen = strcspn(line, " \t");
	char table[128], map_name[160];

	snprintf(table, sizeof(table), "%.*s", (int)tlen, line);
	char *dot = strchr(table, '.');
	if (!dot)
		die("row '%s': expected ELEMENT.TABLE first", line);
	snprintf(map_name, sizeof(map_name), "%.*s__%s", (int)(dot - table), table, dot + 1);
	struct bpf_map *m = bpf_object__find_map_by_name(obj, map_name);
	if (!m)
		die("row '%s': no map %s", line, map_name);
	write_assigns(m, table, line + tlen, false);
}

/* ---- packets ---------------------------------------------------------- */

static void put16le(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static void put32le(uint8_t *p, uint32_t v) { put16le(p, (uint16_t)v); put16le(p + 2, (uint16_t)(v >> 16)); }

/* An Ethernet/IPv4/UDP datagram holding one kv GET request frame (64 bytes:
 * header, username CHAR(16), key CHAR(32)) to dport; valid checksums. */
static size_t packet(uint8_t *b, const char *user, uint16_t dport, uint16_t layout, uint32_t rpc_id)
{
	uint8_t f[64] = { 0 };

	/* frame: len, rpc_id, method 1 (get), kind 0 (request), status 0, flags 0, layout */
	put32le(f, (uint32_t)sizeof(f));
	put32le(f + 4, rpc_id);
	put16le(f + 8, 1);
	put16le(f + 14, layout);
	strncpy((char *)f + 16, user, 16);
	memcpy(f + 32, "k1", 2);
	return pkt_build(b, &(struct pkt_opts){ .sport = CLIENT_PORT, .dport = dport }, f, sizeof(f));
}

/* ---- the program ------------------------------------------------------ */

static int prog_fd, stats_fd = -1;
static enum bpf_prog_type prog_type;
static struct ring_buffer *rb;
static volatile int drainer_stop;
static int drainer_on;

static int on_rec(void *ctx, void *data, size_t size) { (void)ctx; (void)data; (void)size; return 0; }

static void drain(void)
{
	if (rb && !drainer_on)
		ring_buffer__consume(rb);
}

/* --drain-cpu C: a thread on CPU C empties the ring buffers every 1 ms
 * while the programs run, as adnctl log --follow does in a deployment (a
 * run of 100000 records of 80+ bytes does not fit in the 8 MiB ring). */
static void *drainer(void *arg)
{
	(void)arg;
	while (!drainer_stop) {
		ring_buffer__consume(rb);
		usleep(1000);
	}
	ring_buffer__consume(rb);
	return NULL;
}

static uint64_t log_lost(void)
{
	if (stats_fd < 0)
		return 0;
	struct bpf_map_info info = { 0 };
	uint32_t len = sizeof(info), zero = 0;
	if (bpf_obj_get_info_by_fd(stats_fd, &info, &len))
		return 0;
	size_t stride = (info.value_size + 7) / 8; /* u64s per CPU */
	int ncpu = libbpf_num_possible_cpus();
	uint64_t *v = calloc((size_t)ncpu, stride * 8), sum = 0;
	if (!v || stride <= ST_LOG_LOST || bpf_map_lookup_elem(stats_fd, &zero, v)) {
		free(v);
		return 0;
	}
	for (int c = 0; c < ncpu; c++)
		sum += v[(size_t)c * stride + ST_LOG_LOST];
	free(v);
	return sum;
}

static const char *verdict(int rc)
{
	static char buf[32];
	if (prog_type == BPF_PROG_TYPE_XDP) {
		switch (rc) {
		case 2: return "pass";
		case 3: return "reply";
		case 1: return "shot";
		}
	} else {
		switch (rc) {
		case 0: return "pass";
		case 7: return "reply";
		case 2: return "shot";
		}
	}
	snprintf(buf, sizeof(buf), "other:%d", rc);
	return buf;
}

static uint8_t last_out[2048];
static uint32_t last_out_len;

static uint32_t run(const uint8_t *in, size_t len, int repeat, int *retval)
{
	struct prog_run r;
	if (prog_test_run(prog_fd, in, len, last_out, sizeof(last_out), repeat, &r))
		die("BPF_PROG_TEST_RUN: %s", strerror(errno));
	if (retval)
		*retval = r.retval;
	last_out_len = r.out_len;
	return r.ns;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

/* ---- ACL rows --------------------------------------------------------- */

static const char *acl_map = "acl__ac_tab";
static long acl_rows; /* rows in the table: alice + (acl_rows - 1) generated */

static void acl_user(long i, char *u16) /* row i: 0 is alice, then u00000000000001.. */
{
	memset(u16, 0, 16);
	if (i == 0)
		memcpy(u16, "alice", 5);
	else
		snprintf(u16, 16, "u%014ld", i);
}

static void acl_fill(long rows)
{
	struct bpf_map *m = bpf_object__find_map_by_name(obj, acl_map);
	if (!m)
		die("no map %s", acl_map);
	if (bpf_map__key_size(m) != 16)
		die("%s: key size %u, expected 16", acl_map, bpf_map__key_size(m));
	uint32_t vs = bpf_map__value_size(m);
	if ((long)bpf_map__max_entries(m) < rows)
		die("%s holds at most %u rows, asked for %ld", acl_map, bpf_map__max_entries(m), rows);
	int fd = bpf_map__fd(m);
	/* only alice: delete the other initial rows (bob) */
	char k[16] = "bob";
	bpf_map_delete_elem(fd, k);
	const long chunk = 8192;
	char *keys = calloc((size_t)chunk, 16), *vals = calloc((size_t)chunk, vs);
	if (!keys || !vals)
		die("out of memory");
	for (long j = 0; j < chunk; j++)
		vals[j * vs] = 'W';
	for (long i = 1; i < rows; i += chunk) {
		uint32_t n = (uint32_t)(rows - i < chunk ? rows - i : chunk);
		for (uint32_t j = 0; j < n; j++)
			acl_user(i + j, keys + (size_t)j * 16);
		LIBBPF_OPTS(bpf_map_batch_opts, bo);
		if (bpf_map_update_batch(fd, keys, vals, &n, &bo)) {
			/* kernels without batch ops on this map: one by one */
			for (uint32_t j = 0; j < n; j++)
				if (bpf_map_update_elem(fd, keys + (size_t)j * 16, vals + (size_t)j * vs, BPF_ANY))
					die("%s: update: %s", acl_map, strerror(errno));
		}
	}
	free(keys);
	free(vals);
	acl_rows = rows;
}

/* ---- main ------------------------------------------------------------- */

struct kase {
	char name[64];
	char user[17];
	uint16_t dport;
	char expect[8];
	bool random;
	int repeat; /* 0: --repeat */
	int n_param, n_row;
	char *param[MAX_OVR], *row[MAX_OVR];
};

static void parse_case(struct kase *k, char *spec, uint16_t port)
{
	memset(k, 0, sizeof(*k));
	strcpy(k->user, "alice");
	strcpy(k->expect, "any");
	k->dport = port;
	char *save = NULL, *tok = strtok_r(spec, ";", &save);
	if (!tok)
		die("empty --case");
	snprintf(k->name, sizeof(k->name), "%s", tok);
	while ((tok = strtok_r(NULL, ";", &save))) {
		if (!strncmp(tok, "user=", 5))
			snprintf(k->user, sizeof(k->user), "%s", tok + 5);
		else if (!strncmp(tok, "dport=", 6))
			k->dport = (uint16_t)atoi(tok + 6);
		else if (!strncmp(tok, "expect=", 7))
			snprintf(k->expect, sizeof(k->expect), "%s", tok + 7);
		else if (!strncmp(tok, "repeat=", 7))
			k->repeat = atoi(tok + 7);
		else if (!strncmp(tok, "random=", 7))
			k->random = atoi(tok + 7) != 0;
		else if (!strncmp(tok, "param=", 6) && k->n_param < MAX_OVR)
			k->param[k->n_param++] = tok + 6;
		else if (!strncmp(tok, "row=", 4) && k->n_row < MAX_OVR)
			k->row[k->n_row++] = tok + 4;
		else
			die("case %s: unknown '%s'", k->name, tok);
	}
}

static uint64_t rng = 88172645463325252ull;
static uint64_t xorshift(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

int main(int argc, char **argv)
{
	int repeat = 100000, runs = 5;
	long calls = 200000, want_acl = 0;
	int drain_cpu = -1;
	char *params[MAX_OVR], *rows[MAX_OVR], *cases[MAX_CASES];
	int np = 0, nr = 0, nc = 0;
	static const struct option opts[] = {
		{ "repeat", required_argument, NULL, 'r' }, { "runs", required_argument, NULL, 'k' },
		{ "param", required_argument, NULL, 'p' },  { "row", required_argument, NULL, 'w' },
		{ "case", required_argument, NULL, 'c' },   { "acl-rows", required_argument, NULL, 'a' },
		{ "acl-map", required_argument, NULL, 'm' }, { "calls", required_argument, NULL, 'n' },
		{ "seed", required_argument, NULL, 's' },   { "drain-cpu", required_argument, NULL, 'd' },
		{ 0 }
	};
	int ch;
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 'r': repeat = atoi(optarg); break;
		case 'k': runs = atoi(optarg); break;
		case 'p': if (np < MAX_OVR) params[np++] = optarg; break;
		case 'w': if (nr < MAX_OVR) rows[nr++] = optarg; break;
		case 'c': if (nc < MAX_CASES) cases[nc++] = optarg; break;
		case 'a': want_acl = atol(optarg); break;
		case 'm': acl_map = optarg; break;
		case 'n': calls = atol(optarg); break;
		case 's': rng = strtoull(optarg, NULL, 0) | 1; break;
		case 'd': drain_cpu = atoi(optarg); break;
		default: return 2;
		}
	}
	if (optind != argc - 1 || !nc || repeat < 1 || runs < 1 || calls < 1) {
		fprintf(stderr, "usage: prog_ns OBJ [--repeat N] [--runs K] [--param E.P=V]... "
				"[--row 'E.T c=v ...']... [--acl-rows N] [--calls M] --case SPEC...\n");
		return 2;
	}
	const char *path = argv[optind];
	libbpf_set_print(quiet);

	struct adn_meta meta;
	struct adn_err err;
	if (adn_meta_read_elf(&meta, path, &err))
		die("%s: .adn.meta: %s", path, err.msg);
	obj = bpf_object__open_file(path, NULL);
	if (!obj)
		die("open %s: %s", path, strerror(errno));
	if (bpf_object__load(obj))
		die("load %s (verifier?)", path);
	btf = bpf_object__btf(obj);
	if (!btf)
		die("%s has no BTF", path);

	struct bpf_program *p, *prog = NULL;
	bpf_object__for_each_program(p, obj) {
		enum bpf_prog_type t = bpf_program__type(p);
		if (!prog && (t == BPF_PROG_TYPE_SCHED_CLS || t == BPF_PROG_TYPE_XDP))
			prog = p;
	}
	if (!prog)
		die("%s: no tc or xdp program", path);
	prog_fd = bpf_program__fd(prog);
	prog_type = bpf_program__type(prog);
	stats_fd = bpf_object__find_map_fd_by_name(obj, "adn_stats");

	/* adn_cfg, initial rows, parameter defaults: as adn-load does */
	uint16_t port = meta.has_port ? (uint16_t)meta.port : 7070;
	uint16_t layout = meta.has_layout ? (uint16_t)meta.layout : 0;
	{
		struct bpf_map *cfg = bpf_object__find_map_by_name(obj, "adn_cfg");
		char line[32];
		if (!cfg)
			die("no map adn_cfg");
		snprintf(line, sizeof(line), "port=%u", port);
		write_assigns(cfg, "adn_cfg", line, true);
	}
	for (int i = 0; i < meta.rows.n; i++)
		set_row(meta.rows.v[i]);
	for (int i = 0; i < meta.params.n; i++)
		set_param(meta.params.v[i]);
	for (int i = 0; i < nr; i++)
		set_row(rows[i]);
	for (int i = 0; i < np; i++)
		set_param(params[i]);
	if (want_acl > 0)
		acl_fill(want_acl);

	/* every ring buffer: drained before each measurement */
	struct bpf_map *m;
	bpf_object__for_each_map(m, obj) {
		if (bpf_map__type(m) != BPF_MAP_TYPE_RINGBUF)
			continue;
		if (!rb)
			rb = ring_buffer__new(bpf_map__fd(m), on_rec, NULL, NULL);
		else if (ring_buffer__add(rb, bpf_map__fd(m), on_rec, NULL))
			die("ring_buffer__add");
		if (!rb)
			die("ring_buffer__new");
	}

	pthread_t drain_thread;
	if (rb && drain_cpu >= 0) {
		if (pthread_create(&drain_thread, NULL, drainer, NULL))
			die("pthread_create");
		cpu_set_t set;
		CPU_ZERO(&set);
		CPU_SET(drain_cpu, &set);
		pthread_setaffinity_np(drain_thread, sizeof(set), &set);
		drainer_on = 1;
	}

	/* size of the loaded program */
	struct bpf_prog_info info = { 0 };
	uint32_t ilen = sizeof(info);
	if (bpf_obj_get_info_by_fd(prog_fd, &info, &ilen))
		die("bpf_prog_info: %s", strerror(errno));
	uint32_t xbytes = info.xlated_prog_len, jbytes = info.jited_prog_len, ninsn = 0;
	{
		struct bpf_insn *insns = calloc(1, xbytes);
		struct bpf_prog_info i2 = { 0 };
		uint32_t l2 = sizeof(i2);
		i2.xlated_prog_len = xbytes;
		i2.xlated_prog_insns = (uint64_t)(uintptr_t)insns;
		if (insns && !bpf_obj_get_info_by_fd(prog_fd, &i2, &l2)) {
			/* as bpftool counts: a 16-byte ld_imm64 is one instruction */
			for (uint32_t j = 0; j < xbytes / 8; j++, ninsn++)
				if (insns[j].code == (BPF_LD | BPF_IMM | BPF_DW))
					j++;
		}
		free(insns);
	}
	const char *ptype = prog_type == BPF_PROG_TYPE_XDP ? "xdp" : "tc";

	for (int ci = 0; ci < nc; ci++) {
		struct kase k;
		uint8_t pkt[256];
		int rc;
		parse_case(&k, cases[ci], port);
		for (int i = 0; i < k.n_row; i++)
			set_row(k.row[i]);
		for (int i = 0; i < k.n_param; i++)
			set_param(k.param[i]);
		size_t n = packet(pkt, k.user, k.dport, layout, 0x01020304);
		uint64_t lost0 = log_lost();
		uint32_t med, lo, hi;
		int nmeas;

		/* one probe run: the verdict, and the first-request work (a bucket
		 * filled, a row inserted) out of the measurement */
		drain();
		run(pkt, n, 1, &rc);
		const char *v = verdict(rc);
		if (strcmp(k.expect, "any") && strcmp(k.expect, v))
			die("case %s: verdict %s, expected %s", k.name, v, k.expect);

		int rep = k.repeat > 0 ? k.repeat : repeat;
		if (!k.random && rep > 1 && (last_out_len != n || memcmp(last_out, pkt, n)))
			die("case %s: the program changes the packet (%s); a repeated run would "
			    "measure another path: give this case repeat=1", k.name, v);
		if (!k.random && rep > 1) {
			uint32_t *ns = calloc((size_t)runs, sizeof(*ns));
			for (int r = 0; r < runs; r++) {
				drain();
				ns[r] = run(pkt, n, rep, &rc);
				if (strcmp(verdict(rc), v))
					die("case %s: verdict changed from %s to %s", k.name, v, verdict(rc));
			}
			qsort(ns, (size_t)runs, sizeof(*ns), cmp_u32);
			med = ns[runs / 2], lo = ns[0], hi = ns[runs - 1];
			nmeas = runs;
			free(ns);
		} else {
			/* one run per call: a new packet each time when random */
			uint32_t *ns = calloc((size_t)calls, sizeof(*ns));
			if (!ns)
				die("out of memory");
			if (k.random && acl_rows < 1)
				die("case %s: random=1 needs --acl-rows", k.name);
			for (long c = 0; c < calls; c++) {
				if (k.random) {
					char u[16];
					acl_user((long)(xorshift() % (uint64_t)acl_rows), u);
					char us[17];
					memcpy(us, u, 16);
					us[16] = 0;
					n = packet(pkt, us, k.dport, layout, (uint32_t)c);
				}
				if ((c & 4095) == 0)
					drain();
				ns[c] = run(pkt, n, 1, &rc);
				if (strcmp(verdict(rc), v))
					die("case %s: verdict changed from %s to %s", k.name, v, verdict(rc));
			}
			qsort(ns, (size_t)calls, sizeof(*ns), cmp_u32);
			med = ns[calls / 2], lo = ns[0], hi = ns[calls - 1];
			nmeas = (int)calls;
			free(ns);
		}
		printf("%s,%s,%u,%u,%u,%d,%d,%u,%u,%u,%llu,%s\n", k.name, v, med, lo, hi, nmeas,
		       (k.random || rep == 1) ? 1 : rep, ninsn, xbytes, jbytes,
		       (unsigned long long)(log_lost() - lost0), ptype);
		fflush(stdout);
	}
	if (drainer_on) {
		drainer_stop = 1;
		pthread_join(drain_thread, NULL);
	}
	ring_buffer__free(rb);
	bpf_object__close(obj);
	adn_meta_free(&meta);
	return 0;
}
