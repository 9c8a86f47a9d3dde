/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the per-datagram runtime (bpf/adn_tc.h, bpf/adn_xdp.h)
 * through the reference chain (bpf/reference/kv_chain_{tc,xdp}.bpf.c),
 * run on hand-made packets with BPF_PROG_TEST_RUN
 * (tools/lib/prog_test_run.h): an allowed request passes unchanged; a
 * denied one comes out as the network's reply with addresses and ports
 * swapped and valid checksums (recomputed here from scratch); malformed
 * datagrams are dropped and counted; other traffic is left alone. Prints per-packet nanoseconds (repeat = 100000).
 *
 * Needs root (real BPF); without it, says SKIP and passes. The objects are
 * compiled here with the Makefile's flags, in variants (with and without
 * the log element's ring buffer records).
 */
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <check.h>
#include <linux/if_ether.h>
#include <linux/pkt_cls.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "adn_rpc.h"
#include "../../tools/lib/prog_test_run.h"

#define PORT 7070
#define CLIENT_PORT 40000
#define XDP_PASS_ 2
#define XDP_DROP_ 1
#define XDP_TX_ 3

/* What struct adn_stats holds, in order (bpf/adn_bpf.h). */
enum { ST_SOCKETS, ST_MSGS, ST_REQUESTS, ST_RESPONSES, ST_DROPPED, ST_REWRITTEN,
       ST_MALFORMED, ST_CORKED, ST_LOG_LOST, ST_EXPLICIT, ST_N };

enum variant { V_TC, V_XDP, V_TC_NOLOG, V_XDP_NOLOG, V_N };
static const char *const vname[V_N] = { "tc", "xdp", "tc_nolog", "xdp_nolog" };

struct loaded {
	struct bpf_object *obj;
	int prog, cfg, stats, params, acl;
};

static struct loaded L[V_N];
static char tmpdir[] = "/tmp/adn-tcxdp.XXXXXX";
static int have_root;

static const char *root(void)
{
	const char *r = getenv("ADN_ROOT");
	return r && *r ? r : ".";
}

static int quiet(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	return level == LIBBPF_WARN && !strstr(fmt, "skipping unrecognized") ? vfprintf(stderr, fmt, ap) : 0;
}

static void compile(enum variant v)
{
	struct utsname u;
	char cmd[4096];
	const char *hook = (v == V_TC || v == V_TC_NOLOG) ? "tc" : "xdp";

	uname(&u);
	snprintf(cmd, sizeof(cmd),
		 "clang -O2 -g -target bpf -Wall -Werror %s -I%s/bpf -I%s/headers "
		 "-I/usr/include/%s-linux-gnu -c %s/bpf/reference/kv_chain_%s.bpf.c -o %s/%s.o",
		 v >= V_TC_NOLOG ? "-DKV_CHAIN_NO_LOG" : "", root(), root(), u.machine, root(),
		 hook, tmpdir, vname[v]);
	ck_assert_msg(system(cmd) == 0, "%s", cmd);
}

static void load(enum variant v)
{
	char path[4096];
	struct loaded *l = &L[v];

	snprintf(path, sizeof(path), "%s/%s.o", tmpdir, vname[v]);
	l->obj = bpf_object__open_file(path, NULL);
	ck_assert_msg(l->obj, "open %s", path);
	ck_assert_msg(bpf_object__load(l->obj) == 0, "load %s", path);
	struct bpf_program *p = bpf_object__next_program(l->obj, NULL);
	ck_assert_ptr_nonnull(p);
	l->prog = bpf_program__fd(p);
	l->cfg = bpf_object__find_map_fd_by_name(l->obj, "adn_cfg");
	l->stats = bpf_object__find_map_fd_by_name(l->obj, "adn_stats");
	l->params = bpf_object__find_map_fd_by_name(l->obj, "adn_params");
	l->acl = bpf_object__find_map_fd_by_name(l->obj, "acl__ac_tab");
	ck_assert(l->cfg >= 0 && l->stats >= 0 && l->params >= 0 && l->acl >= 0);

	uint32_t zero = 0, port = PORT;
	ck_assert_int_eq(bpf_map_update_elem(l->cfg, &zero, &port, 0), 0);
	char key[16] = "alice", val[2] = "W";
	ck_assert_int_eq(bpf_map_update_elem(l->acl, key, val, 0), 0);
	char key2[16] = "bob", val2[2] = "R";
	ck_assert_int_eq(bpf_map_update_elem(l->acl, key2, val2, 0), 0);
}

static void set_fault(enum variant v, double p)
{
	uint32_t zero = 0;
	uint64_t real = (uint64_t)(p * 4294967296.0);
	ck_assert_int_eq(bpf_map_update_elem(L[v].params, &zero, &real, 0), 0);
}

static uint64_t stat(enum variant v, int which)
{
	/* the stride is the map's value size, not ST_N: struct adn_stats
	 * grows at its end, and a short buffer would be overrun */
	struct bpf_map_info info = { 0 };
	uint32_t len = sizeof(info);
	ck_assert_int_eq(bpf_obj_get_info_by_fd(L[v].stats, &info, &len), 0); /* libbpf 1.1 */
	size_t stride = info.value_size / sizeof(uint64_t);
	ck_assert_uint_ge(stride, ST_N);
	int ncpu = libbpf_num_possible_cpus();
	uint64_t *vals = calloc((size_t)ncpu, stride * sizeof(uint64_t)), sum = 0;
	uint32_t zero = 0;

	ck_assert_int_eq(bpf_map_lookup_elem(L[v].stats, &zero, vals), 0);
	for (int c = 0; c < ncpu; c++)
		sum += vals[c * stride + which];
	free(vals);
	return sum;
}

static void setup(void)
{
	if (!have_root)
		return;
	libbpf_set_print(quiet);
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
	for (int v = 0; v < V_N; v++) {
		compile(v);
		load(v);
	}
}

static void teardown(void)
{
	char cmd[4200];

	for (int v = 0; v < V_N; v++)
		bpf_object__close(L[v].obj);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	if (system(cmd))
		fprintf(stderr, "cannot remove %s\n", tmpdir);
}

/* ---- packets --------------------------------------------------------- */

/* pkt_build with this test's ports unless o gives others. */
static size_t build(uint8_t *b, const struct pkt_opts *o, const uint8_t *payload, size_t plen)
{
	struct pkt_opts d = *o;

	if (!d.sport)
		d.sport = CLIENT_PORT;
	if (!d.dport)
		d.dport = PORT;
	return pkt_build(b, &d, payload, plen);
}

/* A kv GET request frame (header + username + key), or another kind. */
static size_t frame(uint8_t *f, const char *user, unsigned kind, uint16_t flags)
{
	struct adn_hdr h = { .len = 64, .rpc_id = 0x01020304, .method = 1, .kind = (uint8_t)kind,
			     .flags = flags, .layout = 0x1b53 };
	memset(f, 0, 64);
	adn_hdr_encode(&h, f);
	strncpy((char *)f + 16, user, 16);
	memcpy(f + 32, "k1", 2);
	return 64;
}

static int run(enum variant v, const uint8_t *in, size_t len, uint8_t *out, uint32_t *out_len,
	       int repeat, uint32_t *ns)
{
	struct prog_run r;
	ck_assert_int_eq(prog_test_run(L[v].prog, in, len, out, 2048, repeat, &r), 0);
	if (out_len)
		*out_len = r.out_len;
	if (ns)
		*ns = r.ns;
	return r.retval;
}

#define SKIP_IF_NOT_ROOT()                                   \
	do {                                                 \
		if (!have_root)                              \
			return;                              \
	} while (0)

static int is_tc(enum variant v)
{
	return v == V_TC || v == V_TC_NOLOG;
}

/* ---- tests ----------------------------------------------------------- */

static void check_allowed(enum variant v, int v6)
{
	uint8_t f[64], in[256], out[2048];
	struct pkt_opts o = { .v6 = v6 };
	uint32_t out_len;
	size_t n = build(in, &o, f, frame(f, "alice", ADN_KIND_REQUEST, 0));
	uint64_t before = stat(v, ST_REQUESTS);

	set_fault(v, 0);
	int rc = run(v, in, n, out, &out_len, 1, NULL);
	ck_assert_int_eq(rc, is_tc(v) ? TC_ACT_OK : XDP_PASS_);
	ck_assert_uint_eq(out_len, n);
	ck_assert_mem_eq(out, in, n);
	ck_assert_uint_eq(stat(v, ST_REQUESTS), before + 1);
}

START_TEST(test_allowed_passes_unchanged)
{
	SKIP_IF_NOT_ROOT();
	for (int v = V_TC; v <= V_XDP; v++) {
		check_allowed(v, 0);
		check_allowed(v, 1);
	}
}
END_TEST

/* out must be in with addresses and ports swapped, kind/status/flags set
 * as the network's reply, and both checksums valid. */
static void check_reply(const uint8_t *in, const uint8_t *out, size_t n, int status, int v6,
			int no_csum)
{
	size_t l4 = pkt_l4_offset(in), pl = l4 + 8;
	uint8_t want[256];

	memcpy(want, in, n);
	memcpy(want, in + 6, 6);
	memcpy(want + 6, in, 6);
	if (v6) {
		memcpy(want + 14 + 8, in + 14 + 24, 16);
		memcpy(want + 14 + 24, in + 14 + 8, 16);
	} else {
		memcpy(want + 14 + 12, in + 14 + 16, 4);
		memcpy(want + 14 + 16, in + 14 + 12, 4);
		ck_assert_uint_eq(pkt_fold(pkt_sum16(out + 14, l4 - 14, 0)), 0xffff); /* IPv4 header */
	}
	memcpy(want + l4, in + l4 + 2, 2);
	memcpy(want + l4 + 2, in + l4, 2);
	want[pl + 10] = ADN_KIND_RESPONSE;
	want[pl + 11] = (uint8_t)status;
	want[pl + 12] = ADN_F_NET_REPLY;
	/* the checksum is checked by summing, not by comparing */
	memcpy(want + l4 + 6, out + l4 + 6, 2);
	ck_assert_mem_eq(out, want, n);
	if (no_csum)
		ck_assert(out[l4 + 6] == 0 && out[l4 + 7] == 0);
	else
		ck_assert_uint_eq(pkt_udp_sum(out), 0xffff);
	struct adn_hdr h;
	adn_hdr_decode(&h, out + pl);
	ck_assert_uint_eq(h.kind, ADN_KIND_RESPONSE);
	ck_assert_uint_eq(h.status, (unsigned)status);
	ck_assert_uint_eq(h.flags, ADN_F_NET_REPLY);
	ck_assert_uint_eq(h.rpc_id, 0x01020304);
}

static void check_denied(enum variant v, const struct pkt_opts *o, const char *user, int status)
{
	uint8_t f[64], in[256], out[2048];
	uint32_t out_len;
	size_t n = build(in, o, f, frame(f, user, ADN_KIND_REQUEST, 0));
	uint64_t before = stat(v, ST_DROPPED);

	int rc = run(v, in, n, out, &out_len, 1, NULL);
	ck_assert_int_eq(rc, is_tc(v) ? TC_ACT_REDIRECT : XDP_TX_);
	ck_assert_uint_eq(out_len, n);
	check_reply(in, out, n, status, o->v6, o->no_csum);
	ck_assert_uint_eq(stat(v, ST_DROPPED), before + 1);
}

START_TEST(test_denied_becomes_reply)
{
	SKIP_IF_NOT_ROOT();
	for (int v = V_TC; v <= V_XDP; v++) {
		set_fault(v, 0);
		check_denied(v, &(struct pkt_opts){ 0 }, "mallory", ADN_PERMISSION_DENIED);
		check_denied(v, &(struct pkt_opts){ 0 }, "bob", ADN_PERMISSION_DENIED);
		check_denied(v, &(struct pkt_opts){ .v6 = 1 }, "mallory", ADN_PERMISSION_DENIED);
		check_denied(v, &(struct pkt_opts){ .ip_opts = 2 }, "mallory", ADN_PERMISSION_DENIED);
		check_denied(v, &(struct pkt_opts){ .no_csum = 1 }, "mallory", ADN_PERMISSION_DENIED);
		set_fault(v, 1.0);
		check_denied(v, &(struct pkt_opts){ 0 }, "alice", ADN_ABORTED);
		check_denied(v, &(struct pkt_opts){ .v6 = 1 }, "alice", ADN_ABORTED);
		set_fault(v, 0);
	}
}
END_TEST

/* Each is a datagram to the service port that cannot be one adn frame. */
START_TEST(test_malformed_dropped_and_counted)
{
	SKIP_IF_NOT_ROOT();
	for (int v = V_TC; v <= V_XDP; v++) {
		uint8_t f[128], in[256], out[2048];
		struct adn_hdr h;
		size_t n, count = 0;
		uint64_t before = stat(v, ST_MALFORMED);
		int drop = is_tc(v) ? TC_ACT_SHOT : XDP_DROP_;

		/* shorter than a header */
		frame(f, "alice", ADN_KIND_REQUEST, 0);
		n = build(in, &(struct pkt_opts){ 0 }, f, 10);
		ck_assert_int_eq(run(v, in, n, out, NULL, 1, NULL), drop);
		count++;
		/* len field above / below the UDP payload length */
		for (int adj = -1; adj <= 1; adj += 2) {
			frame(f, "alice", ADN_KIND_REQUEST, 0);
			adn_hdr_decode(&h, f);
			h.len = (uint32_t)(64 + adj);
			adn_hdr_encode(&h, f);
			n = build(in, &(struct pkt_opts){ 0 }, f, 64);
			ck_assert_int_eq(run(v, in, n, out, NULL, 1, NULL), drop);
			count++;
		}
		/* len field zero, and 1 MiB */
		for (uint32_t bad = 0; bad <= 1; bad++) {
			frame(f, "alice", ADN_KIND_REQUEST, 0);
			adn_hdr_decode(&h, f);
			h.len = bad ? ADN_FRAME_MAX : 0;
			adn_hdr_encode(&h, f);
			n = build(in, &(struct pkt_opts){ 0 }, f, 64);
			ck_assert_int_eq(run(v, in, n, out, NULL, 1, NULL), drop);
			count++;
		}
		/* a request too short for its network fields */
		frame(f, "alice", ADN_KIND_REQUEST, 0);
		adn_hdr_decode(&h, f);
		h.len = 16;
		adn_hdr_encode(&h, f);
		n = build(in, &(struct pkt_opts){ 0 }, f, 16);
		ck_assert_int_eq(run(v, in, n, out, NULL, 1, NULL), drop);
		count++;
		/* an unknown kind; a response sent to the service port */
		frame(f, "alice", 7, 0);
		n = build(in, &(struct pkt_opts){ 0 }, f, 64);
		ck_assert_int_eq(run(v, in, n, out, NULL, 1, NULL), drop);
		count++;
		frame(f, "alice", ADN_KIND_RESPONSE, 0);
		n = build(in, &(struct pkt_opts){ 0 }, f, 64);
		ck_assert_int_eq(run(v, in, n, out, NULL, 1, NULL), drop);
		count++;
		/* UDP length beyond the IP datagram; a first fragment */
		frame(f, "alice", ADN_KIND_REQUEST, 0);
		n = build(in, &(struct pkt_opts){ .udp_len_adj = 8 }, f, 64);
		ck_assert_int_eq(run(v, in, n, out, NULL, 1, NULL), drop);
		count++;
		n = build(in, &(struct pkt_opts){ .mf = 1 }, f, 64);
		ck_assert_int_eq(run(v, in, n, out, NULL, 1, NULL), drop);
		count++;
		n = build(in, &(struct pkt_opts){ .v6 = 1 }, f, 10);
		ck_assert_int_eq(run(v, in, n, out, NULL, 1, NULL), drop);
		count++;

		ck_assert_uint_eq(stat(v, ST_MALFORMED), before + count);
		/* and the next good request is unaffected */
		check_allowed(v, 0);
	}
}
END_TEST

START_TEST(test_other_traffic_untouched)
{
	SKIP_IF_NOT_ROOT();
	for (int v = V_TC; v <= V_XDP; v++) {
		uint8_t f[64], in[256], out[2048];
		uint32_t out_len;
		int pass = is_tc(v) ? TC_ACT_OK : XDP_PASS_;
		uint64_t mal = stat(v, ST_MALFORMED), req = stat(v, ST_REQUESTS);
		struct pkt_opts cases[] = {
			{ .dport = 53 },                /* another UDP port */
			{ .proto = 6 },                 /* TCP to the port */
			{ .v6 = 1, .dport = 9999 },
		};
		frame(f, "mallory", ADN_KIND_REQUEST, 0);
		for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
			size_t n = build(in, &cases[i], f, 64);
			ck_assert_int_eq(run(v, in, n, out, &out_len, 1, NULL), pass);
			ck_assert_mem_eq(out, in, n);
		}
		/* IPv4 ethertype, garbage where the IP header should be */
		memset(in, 0xab, 40);
		in[12] = 0x08;
		in[13] = 0;
		ck_assert_int_eq(run(v, in, 40, out, &out_len, 1, NULL), pass);
		ck_assert_uint_eq(stat(v, ST_MALFORMED), mal);
		ck_assert_uint_eq(stat(v, ST_REQUESTS), req);
	}
}
END_TEST

START_TEST(test_responses_run_the_response_side)
{
	SKIP_IF_NOT_ROOT();
	for (int v = V_TC; v <= V_XDP; v++) {
		uint8_t f[64], in[256], out[2048];
		int pass = is_tc(v) ? TC_ACT_OK : XDP_PASS_;
		uint64_t resp = stat(v, ST_RESPONSES);
		struct pkt_opts o = { .sport = PORT, .dport = CLIENT_PORT };

		size_t n = build(in, &o, f, frame(f, "", ADN_KIND_RESPONSE, 0));
		ck_assert_int_eq(run(v, in, n, out, NULL, 1, NULL), pass);
		ck_assert_mem_eq(out, in, n);
		ck_assert_uint_eq(stat(v, ST_RESPONSES), resp + 1);
		/* a reply the network made has been through the chain */
		n = build(in, &o, f, frame(f, "", ADN_KIND_RESPONSE, ADN_F_NET_REPLY));
		ck_assert_int_eq(run(v, in, n, out, NULL, 1, NULL), pass);
		ck_assert_uint_eq(stat(v, ST_RESPONSES), resp + 1);
	}
}
END_TEST

/* Per-packet cost, averaged by the kernel over 100000 runs of one packet. */
START_TEST(test_ns_per_packet)
{
	SKIP_IF_NOT_ROOT();
	uint8_t f[64], in[256], out[2048];
	uint32_t ns;

	printf("per-packet cost, BPF_PROG_TEST_RUN, repeat=100000 (ns):\n");
	for (int v = 0; v < V_N; v++) {
		set_fault(v, 0);
		size_t n = build(in, &(struct pkt_opts){ 0 }, f, frame(f, "alice", ADN_KIND_REQUEST, 0));
		run(v, in, n, out, NULL, 100000, &ns);
		printf("  %-10s allowed request, full chain   %4u\n", vname[v], ns);
		n = build(in, &(struct pkt_opts){ .dport = 53 }, f, 64);
		run(v, in, n, out, NULL, 100000, &ns);
		printf("  %-10s other port (parse only)       %4u\n", vname[v], ns);
	}
	/* The log's ring buffer filled up above: records were counted as lost,
	 * not silently dropped. */
	ck_assert_uint_gt(stat(V_TC, ST_REQUESTS), 100000);
}
END_TEST

static Suite *tc_xdp_suite(void)
{
	Suite *s = suite_create("tc_xdp");
	TCase *tc = tcase_create("test_run");

	tcase_add_unchecked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_allowed_passes_unchanged);
	tcase_add_test(tc, test_denied_becomes_reply);
	tcase_add_test(tc, test_malformed_dropped_and_counted);
	tcase_add_test(tc, test_other_traffic_untouched);
	tcase_add_test(tc, test_responses_run_the_response_side);
	tcase_add_test(tc, test_ns_per_packet);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	have_root = geteuid() == 0;
	if (!have_root)
		printf("SKIP: test_tc_xdp needs root (real BPF)\n");
	SRunner *sr = srunner_create(tc_xdp_suite());
	/* One process: the fixture loads the programs once for all tests. */
	srunner_set_fork_status(sr, CK_NOFORK);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
