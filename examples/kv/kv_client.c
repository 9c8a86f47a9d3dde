/* SPDX-License-Identifier: MIT */
/*
 * kv-client: load generator and demo client for the kv service. Keeps K
 * calls outstanding over C connections, sends N calls (or runs for a
 * duration), then prints what came back: statuses, how many replies the
 * network made (ADN_F_NET_REPLY), throughput and latency percentiles.
 *
 * Exit: 0 every call completed (whatever its status), 1 usage error,
 * 2 could not connect, or calls got no reply (connection lost, deadline).
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdbool.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "adn_rpc.h"
#include "latency_hist.h"
#include "kv_rpc.h"

#define MAX_OUTSTANDING 65536u
#define MAX_VALUE (ADN_FRAME_MAX - ADN_HDR_LEN - 64)

enum mode { MODE_GET, MODE_PUT, MODE_MIXED };

struct options {
	const char *host;
	unsigned long port;
	char user[16];
	unsigned long long count;
	double duration; /* > 0: run for this long instead of count calls */
	unsigned long outstanding, conns, value_size;
	double timeout;
	enum mode mode;
	bool json;
	bool udp;
	long layout; /* -1: KV_LAYOUT_HASH */
	const char *replicas; /* --replicas H[:P],...: a replica client */
	const char *key_prefix;
	unsigned grace_ms; /* 0: the library's default */
};

#define MAX_REPLICAS 16


/* One in-flight call: when it left. Records come from a free list sized
 * to --outstanding, so the hot path allocates nothing. */
struct call_rec {
	uint64_t t0;
	struct call_rec *next_free;
};

struct run {
	struct options o;
	struct adn_client *client;
	struct call_rec *recs, *free_recs;
	uint8_t *body, *value;
	uint64_t sent, completed, ok, net_replies, lost, bad_replies;
	uint64_t by_status[256];
	uint64_t last_done_ns;
	struct histogram lat;
};

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static bool reply_is_valid(uint16_t method, const void *body, size_t len)
{
	if (method == KV_GET) {
		struct kv_get_response r;
		return kv_get_response_decode(&r, body, len) == 0;
	}
	struct kv_put_response r;
	return kv_put_response_decode(&r, body, len) == 0;
}

/* The method travels with the record's address: even slots are GETs. */
struct reply_ctx {
	struct run *r;
	struct call_rec *rec;
	uint16_t method;
};

static void on_reply(void *user, uint32_t rpc_id, int status, uint16_t flags,
		     const void *body, size_t len)
{
	struct reply_ctx *ctx = user;
	struct run *r = ctx->r;
	uint64_t now = now_ns();

	(void)rpc_id;
	r->completed++;
	r->last_done_ns = now;
	r->by_status[status & 0xff]++;
	if (status == ADN_OK) {
		r->ok++;
		if (!reply_is_valid(ctx->method, body, len))
			r->bad_replies++;
	}
	if (flags & ADN_F_NET_REPLY)
		r->net_replies++;
	if (flags & ADN_RPC_F_LOCAL)
		r->lost++; /* no reply came: connection broke or deadline passed */
	uint64_t lat = now - ctx->rec->t0;
	hist_add(&r->lat, lat);
	ctx->rec->next_free = r->free_recs;
	r->free_recs = ctx->rec;
}

/* Issues call number r->sent. 0, or -errno from the library. */
static long issue(struct run *r, struct reply_ctx *ctxs)
{
	uint64_t i = r->sent;
	bool put = r->o.mode == MODE_PUT || (r->o.mode == MODE_MIXED && (i & 1));
	char key[32] = { 0 };
	long len;

	/* Mixed runs GET then PUT each key, so both touch the same keys. */
	uint64_t k = r->o.mode == MODE_MIXED ? i / 2 : i;
	snprintf(key, sizeof(key), "%s%llu", r->o.key_prefix, (unsigned long long)(k % 1000));
	if (put) {
		struct kv_put_request m = { .value = { .ptr = r->value,
						       .len = (uint32_t)r->o.value_size } };
		memcpy(m.username, r->o.user, sizeof(m.username));
		memcpy(m.key, key, sizeof(m.key));
		len = kv_put_request_encode(&m, r->body, MAX_VALUE + 64);
	} else {
		struct kv_get_request m;
		memcpy(m.username, r->o.user, sizeof(m.username));
		memcpy(m.key, key, sizeof(m.key));
		len = kv_get_request_encode(&m, r->body, MAX_VALUE + 64);
	}
	if (len < 0)
		return -EMSGSIZE;

	struct call_rec *rec = r->free_recs;
	struct reply_ctx *ctx = &ctxs[rec - r->recs];
	*ctx = (struct reply_ctx){ .r = r, .rec = rec, .method = put ? KV_PUT : KV_GET };
	rec->t0 = now_ns();
	long id = adn_client_call(r->client, ctx->method, r->body, (size_t)len, on_reply, ctx);
	if (id < 0)
		return id;
	r->free_recs = rec->next_free;
	r->sent++;
	return 0;
}

static void lower(char *dst, const char *src, size_t cap)
{
	size_t i = 0;
	for (; src[i] && i + 1 < cap; i++)
		dst[i] = (char)(src[i] >= 'A' && src[i] <= 'Z' ? src[i] - 'A' + 'a' : src[i]);
	dst[i] = 0;
}

static void print_summary(const struct run *r, double secs)
{
	double rps = secs > 0 ? (double)r->completed / secs : 0;
	double p50 = hist_percentile(&r->lat, 0.50) / 1e3, p99 = hist_percentile(&r->lat, 0.99) / 1e3,
	       p999 = hist_percentile(&r->lat, 0.999) / 1e3;
	char name[32];

	if (r->o.json) {
		printf("{\"sent\": %llu, \"ok\": %llu, \"status\": {", (unsigned long long)r->sent,
		       (unsigned long long)r->ok);
		const char *sep = "";
		for (int s = 1; s < 256; s++) {
			if (!r->by_status[s])
				continue;
			lower(name, adn_status_name(s), sizeof(name));
			printf("%s\"%s\": %llu", sep, name, (unsigned long long)r->by_status[s]);
			sep = ", ";
		}
		struct adn_client_stats st;
		adn_client_get_stats(r->client, &st);
		printf("}, \"net_replies\": %llu, \"lost\": %llu, \"bad_replies\": %llu, "
		       "\"retransmits\": %llu, \"conns_broken\": %llu, \"redirect_retries\": %llu, "
		       "\"seconds\": %.6f, \"rps\": %.1f, \"p50_us\": %.1f, \"p99_us\": %.1f, "
		       "\"p999_us\": %.1f}\n",
		       (unsigned long long)r->net_replies, (unsigned long long)r->lost,
		       (unsigned long long)r->bad_replies, (unsigned long long)st.retransmits,
		       (unsigned long long)st.conns_broken, (unsigned long long)st.redirect_retries, secs, rps, p50, p99, p999);
		return;
	}
	printf("sent %llu  ok %llu  net_replies %llu\n", (unsigned long long)r->sent,
	       (unsigned long long)r->ok, (unsigned long long)r->net_replies);
	for (int s = 1; s < 256; s++) {
		if (!r->by_status[s])
			continue;
		lower(name, adn_status_name(s), sizeof(name));
		printf("  %-20s %llu\n", name, (unsigned long long)r->by_status[s]);
	}
	if (r->lost)
		printf("  no reply (lost)      %llu\n", (unsigned long long)r->lost);
	if (r->bad_replies)
		printf("  undecodable replies  %llu\n", (unsigned long long)r->bad_replies);
	printf("seconds %.3f  req/s %.0f\n", secs, rps);
	printf("latency us  p50 %.1f  p99 %.1f  p99.9 %.1f\n", p50, p99, p999);
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: kv-client [--host H] [--port N] [--user NAME] [--count N | --duration SECONDS]\n"
		"                 [--outstanding K] [--conns C] [--method get|put|mixed]\n"
		"                 [--value-size B] [--timeout SECONDS] [--udp] [--json]\n"
		"                 [--replicas H[:P],H[:P]... [--grace-ms MS]] [--key-prefix P]\n"
		"  --host H           server (default 127.0.0.1)\n"
		"  --port N           port (default %d)\n"
		"  --user NAME        username in every request, at most 16 bytes (default alice)\n"
		"  --count N          calls to make (default 1000)\n"
		"  --duration S       keep calling for S seconds instead\n"
		"  --outstanding K    calls in flight at once (default 128)\n"
		"  --conns C          connections (default 1)\n"
		"  --method M         get, put or mixed (default get)\n"
		"  --value-size B     bytes of each PUT value (default 32)\n"
		"  --timeout S        per-call deadline; 0 = none (default 5)\n"
		"  --udp              one RPC per UDP datagram (at most %u bytes each; calls\n"
		"                     without a reply are retried, then end UNAVAILABLE)\n"
		"  --json             print the summary as one JSON object\n"
		"  --replicas LIST    a client of a replica set (chains that ROUTE TO REPLICA):\n"
		"                     one connection per replica (TCP) or one unconnected socket\n"
		"                     (--udp); the kernel picks the replica of each call.\n"
		"                     Port defaults to --port; replaces --host and --conns\n"
		"  --grace-ms MS      replicas: how long calls outstanding when a replica's\n"
		"                     connection broke may still be answered (default 1000)\n"
		"  --key-prefix P     keys are P0 .. P999 (default k), at most 16 bytes\n"
		"  --layout N         put layout N in every header instead of KV_LAYOUT_HASH's low\n"
		"                     16 bits (tests: a peer of another schema; 0 = unchecked)\n"
		"exit: 0 all calls completed (any status), 1 usage error, 2 could not connect\n"
		"      or some calls got no reply\n",
		KV_PORT, ADN_UDP_FRAME_MAX);
}

static int bad_value(const char *opt, const char *val, const char *want)
{
	fprintf(stderr, "kv-client: --%s: '%s' is not %s\n", opt, val, want);
	return 1;
}

static bool parse_ulong(const char *s, unsigned long long lo, unsigned long long hi,
			unsigned long long *out)
{
	char *end;
	errno = 0;
	if (!*s || *s == '-')
		return false;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || *end || v < lo || v > hi)
		return false;
	*out = v;
	return true;
}

static bool parse_seconds(const char *s, double lo, double *out)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || *end || !*s || !isfinite(v) || v < lo || v > 1e6)
		return false;
	*out = v;
	return true;
}

/* Fills o from argv; 0, 1 on a usage error (message printed), -1 for --help. */
static int parse_options(int argc, char **argv, struct options *o)
{
	static const struct option opts[] = {
		{ "host", required_argument, NULL, 'H' },
		{ "port", required_argument, NULL, 'p' },
		{ "user", required_argument, NULL, 'u' },
		{ "count", required_argument, NULL, 'n' },
		{ "duration", required_argument, NULL, 'd' },
		{ "outstanding", required_argument, NULL, 'k' },
		{ "conns", required_argument, NULL, 'c' },
		{ "method", required_argument, NULL, 'm' },
		{ "value-size", required_argument, NULL, 'v' },
		{ "timeout", required_argument, NULL, 't' },
		{ "json", no_argument, NULL, 'j' },
		{ "udp", no_argument, NULL, 'U' },
		{ "layout", required_argument, NULL, 'L' },
		{ "replicas", required_argument, NULL, 'R' },
		{ "grace-ms", required_argument, NULL, 'G' },
		{ "key-prefix", required_argument, NULL, 'K' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	bool have_count = false;
	unsigned long long v;
	int opt;

	*o = (struct options){ .host = "127.0.0.1", .port = KV_PORT, .user = "alice",
			       .count = 1000, .outstanding = 128, .conns = 1,
			       .value_size = 32, .timeout = 5, .mode = MODE_GET, .layout = -1,
			       .key_prefix = "k" };
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (opt) {
		case 'H':
			o->host = optarg;
			break;
		case 'L': /* for tests: a peer built from another schema */
			if (!parse_ulong(optarg, 0, 65535, &v))
				return bad_value("layout", optarg, "a number in 0..65535");
			o->layout = (long)v;
			break;
		case 'p':
			if (!parse_ulong(optarg, 1, 65535, &v))
				return bad_value("port", optarg, "a port number (1..65535)");
			o->port = (unsigned long)v;
			break;
		case 'u':
			if (strlen(optarg) > sizeof(o->user))
				return bad_value("user", optarg, "a name of at most 16 bytes");
			memset(o->user, 0, sizeof(o->user));
			memcpy(o->user, optarg, strlen(optarg));
			break;
		case 'n':
			if (!parse_ulong(optarg, 1, 1ull << 48, &v))
				return bad_value("count", optarg, "a positive number");
			o->count = v;
			have_count = true;
			break;
		case 'd':
			if (!parse_seconds(optarg, 0.001, &o->duration))
				return bad_value("duration", optarg, "a number of seconds (>= 0.001)");
			break;
		case 'k':
			if (!parse_ulong(optarg, 1, MAX_OUTSTANDING, &v))
				return bad_value("outstanding", optarg, "a number in 1..65536");
			o->outstanding = (unsigned long)v;
			break;
		case 'c':
			if (!parse_ulong(optarg, 1, 1024, &v))
				return bad_value("conns", optarg, "a number in 1..1024");
			o->conns = (unsigned long)v;
			break;
		case 'm':
			if (!strcmp(optarg, "get"))
				o->mode = MODE_GET;
			else if (!strcmp(optarg, "put"))
				o->mode = MODE_PUT;
			else if (!strcmp(optarg, "mixed"))
				o->mode = MODE_MIXED;
			else
				return bad_value("method", optarg, "get, put or mixed");
			break;
		case 'v':
			if (!parse_ulong(optarg, 0, MAX_VALUE, &v))
				return bad_value("value-size", optarg, "a size in 0..1048496 bytes");
			o->value_size = (unsigned long)v;
			break;
		case 't':
			if (!parse_seconds(optarg, 0, &o->timeout))
				return bad_value("timeout", optarg, "a number of seconds");
			break;
		case 'j':
			o->json = true;
			break;
		case 'U':
			o->udp = true;
			break;
		case 'R':
			o->replicas = optarg;
			break;
		case 'G':
			if (!parse_ulong(optarg, 1, 3600000, &v))
				return bad_value("grace-ms", optarg, "a number of ms in 1..3600000");
			o->grace_ms = (unsigned)v;
			break;
		case 'K':
			if (!*optarg || strlen(optarg) > 16)
				return bad_value("key-prefix", optarg, "a prefix of 1..16 bytes");
			o->key_prefix = optarg;
			break;
		case 'h':
			return -1;
		default:
			fprintf(stderr, "kv-client: unknown option '%s', or its value is missing "
					"(see --help)\n", argv[optind - 1]);
			return 1;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "kv-client: unexpected argument '%s' (see --help)\n", argv[optind]);
		return 1;
	}
	if (have_count && o->duration > 0) {
		fprintf(stderr, "kv-client: give --count or --duration, not both\n");
		return 1;
	}
	if (o->udp && o->conns != 1) {
		fprintf(stderr, "kv-client: --conns applies to TCP only (--udp uses one socket)\n");
		return 1;
	}
	if (o->timeout * 1000 > 4e9) {
		fprintf(stderr, "kv-client: --timeout: at most 4000000 seconds\n");
		return 1;
	}
	return 0;
}

/* --replicas H[:P],...: a replica client (TCP or --udp). */
static struct adn_client *open_replicas(const struct options *o, uint16_t layout, char *err,
					size_t errlen)
{
	static char buf[1024];
	const char *hosts[MAX_REPLICAS];
	uint16_t ports[MAX_REPLICAS];
	unsigned n = 0;
	char *save = NULL;

	if (strlen(o->replicas) >= sizeof(buf)) {
		snprintf(err, errlen, "--replicas: list too long");
		return NULL;
	}
	strcpy(buf, o->replicas);
	for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		char *colon = strrchr(t, ':');
		unsigned long long p = o->port;
		if (n == MAX_REPLICAS) {
			snprintf(err, errlen, "--replicas: at most %d replicas", MAX_REPLICAS);
			return NULL;
		}
		if (colon && strchr(t, ':') == colon) { /* not a bare IPv6 address */
			*colon = 0;
			if (!parse_ulong(colon + 1, 1, 65535, &p)) {
				snprintf(err, errlen, "--replicas: '%s' is not a port", colon + 1);
				return NULL;
			}
		}
		hosts[n] = t;
		ports[n++] = (uint16_t)p;
	}
	if (!n) {
		snprintf(err, errlen, "--replicas: no replica given");
		return NULL;
	}
	struct adn_client *c = o->udp ? adn_client_open_replicas_udp(hosts, ports, n, layout, err, errlen) :
					adn_client_open_replicas(hosts, ports, n, layout, err, errlen);
	if (c && o->grace_ms)
		adn_client_set_replica_grace(c, o->grace_ms);
	return c;
}

/* SIGINT/SIGTERM end a run early but cleanly: no new calls, the outstanding
 * ones complete, the summary is printed (tests stop a --duration run so). */
static volatile sig_atomic_t interrupted;

static void on_interrupt(int sig)
{
	(void)sig;
	interrupted = 1;
}

int main(int argc, char **argv)
{
	static struct run r;
	char err[256];

	int rc = parse_options(argc, argv, &r.o);
	if (rc < 0) {
		usage(stdout);
		return 0;
	}
	if (rc)
		return 1;

	r.recs = calloc(r.o.outstanding, sizeof(*r.recs));
	struct reply_ctx *ctxs = calloc(r.o.outstanding, sizeof(*ctxs));
	r.body = malloc(MAX_VALUE + 64);
	r.value = malloc(r.o.value_size ? r.o.value_size : 1);
	if (!r.recs || !ctxs || !r.body || !r.value) {
		fprintf(stderr, "kv-client: out of memory\n");
		return 2;
	}
	for (unsigned long i = 0; i < r.o.outstanding; i++) {
		r.recs[i].next_free = r.free_recs;
		r.free_recs = &r.recs[i];
	}
	for (unsigned long i = 0; i < r.o.value_size; i++)
		r.value[i] = (uint8_t)('a' + i % 26);

	uint16_t layout = r.o.layout >= 0 ? (uint16_t)r.o.layout : (uint16_t)KV_LAYOUT_HASH;
	if (r.o.replicas)
		r.client = open_replicas(&r.o, layout, err, sizeof(err));
	else if (r.o.udp)
		r.client = adn_client_open_udp(r.o.host, (uint16_t)r.o.port,
					       layout, err, sizeof(err));
	else
		r.client = adn_client_open(r.o.host, (uint16_t)r.o.port, (unsigned)r.o.conns,
					   layout, err, sizeof(err));
	if (!r.client) {
		fprintf(stderr, "kv-client: %s\n", err);
		return 2;
	}
	adn_client_set_timeout(r.client, (unsigned)(r.o.timeout * 1000));

	struct sigaction sa = { .sa_handler = on_interrupt };
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	uint64_t t0 = now_ns();
	uint64_t end = r.o.duration > 0 ? t0 + (uint64_t)(r.o.duration * 1e9) : 0;
	bool stopped = false; /* the client refused a call: no connection left */
	r.last_done_ns = t0;
	for (;;) {
		while (!stopped && !interrupted && r.free_recs &&
		       (end ? now_ns() < end : r.sent < r.o.count)) {
			long e = issue(&r, ctxs);
			if (e == -ENOBUFS)
				break; /* too many bytes queued: let poll send them */
			if (e == -ENOTCONN) {
				fprintf(stderr, "kv-client: every connection is lost (%s)\n",
					adn_client_error(r.client));
				stopped = true;
			} else if (e == -EMSGSIZE && r.o.udp) {
				fprintf(stderr, "kv-client: a request does not fit in one datagram "
						"(at most %u bytes of body over UDP): lower --value-size\n",
					ADN_UDP_BODY_MAX);
				stopped = true;
			} else if (e < 0) {
				fprintf(stderr, "kv-client: cannot send: %s\n", strerror((int)-e));
				stopped = true;
			}
		}
		if (!adn_client_outstanding(r.client) &&
		    (stopped || interrupted || (end ? now_ns() >= end : r.sent >= r.o.count)))
			break;
		int n = adn_client_poll(r.client, 100);
		if (n < 0) {
			fprintf(stderr, "kv-client: poll: %s\n", strerror(-n));
			break;
		}
	}
	double secs = (double)(r.last_done_ns - t0) / 1e9;
	print_summary(&r, secs);
	fflush(stdout);

	int status = 0;
	if (r.lost || r.completed != r.sent || stopped) {
		fprintf(stderr, "kv-client: %llu of %llu calls got no reply%s%s\n",
			(unsigned long long)(r.sent - r.completed + r.lost),
			(unsigned long long)r.sent, *adn_client_error(r.client) ? ": " : "",
			adn_client_error(r.client));
		status = 2;
	}
	adn_client_close(r.client);
	free(ctxs);
	free(r.recs);
	free(r.body);
	free(r.value);
	return status;
}
