/* SPDX-License-Identifier: MIT */
/*
 * s2-client: service A of the ADN paper's section 2 example. Sends get and
 * put requests for a range of objects as one user, to the replica set of
 * service B (the chain's `lb` element picks the replica of each request in
 * the kernel; `acl` denies in the kernel; `compress` runs here, in the RPC
 * library: zlib). put carries the object's content (compressible text);
 * get's reply must be the object's content: every reply is checked.
 *
 * --json prints {"sent", "ok", "status": {name: n}, "net_replies", "lost",
 * "bad_replies", "app_bytes", "wire_bytes", "udf_errors", "seconds"}.
 * Exit 0 when every call completed with a status and every OK reply was
 * right; 2 otherwise (or on a usage or setup error, one line on stderr).
 */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "adn_rpc.h"
#include "s2_rpc.h"
#include "s2_common.h"
#include "../common/ex_util.h"

#define MAX_REPLICAS 16

struct call {
	uint64_t object;
	uint16_t method;
};

static struct ex_tally R; /* R.local: calls that got no reply (lost) */

static void on_reply(void *user, uint32_t rpc_id, int status, uint16_t flags, const void *body,
		     size_t len)
{
	const struct call *c = user;
	(void)rpc_id;
	if (!ex_tally_count(&R, status, flags))
		return;
	if (c->method == OBJSTORE_GET) {
		struct objstore_get_response r;
		if (objstore_get_response_decode(&r, body, len) || !r.found ||
		    !s2_check(r.data.ptr, r.data.len, c->object))
			R.bad_replies++;
	} else {
		struct objstore_put_response r;
		if (objstore_put_response_decode(&r, body, len) || !r.ok)
			R.bad_replies++;
	}
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: s2-client (--host H | --replicas H,H...) [--port P] [--udp] --user U\n"
		"                 [--objects FIRST-LAST] [--count N] [--method get|put|mixed]\n"
		"                 [--payload-size B] [--outstanding N] [--timeout S] [--json]\n"
		"                 [--no-register]\n"
		"  --host H           one server (no load balancing)\n"
		"  --replicas LIST    the replica set of B, in the order the chain numbers it\n"
		"                     (adnctl replica ... add); the kernel picks per request\n"
		"  --udp              one RPC per UDP datagram\n"
		"  --objects A-B      object ids A..B, used in turn (default 0-99)\n"
		"  --method M         get, put or mixed (alternating; default mixed)\n"
		"  --payload-size B   bytes of content a put carries (default 2000)\n"
		"  --no-register      register no implementation of 'compress' (tests: the\n"
		"                     library must refuse the chain)\n");
}

static int parse_replicas(char *list, const char **hosts, uint16_t *ports, unsigned *n,
			  uint16_t port)
{
	*n = 0;
	for (char *tok = strtok(list, ","); tok; tok = strtok(NULL, ",")) {
		if (*n == MAX_REPLICAS)
			return -1;
		hosts[*n] = tok;
		ports[(*n)++] = port;
	}
	return *n ? 0 : -1;
}

/* What issuing call i needs. */
struct run {
	struct call *calls;
	const char *method;
	unsigned long long first, last;
	char uname[16];
	uint8_t *content, *body;
	size_t payload;
};

static long issue(struct adn_client *cl, long i, void *arg)
{
	struct run *r = arg;
	struct call *k = &r->calls[i];
	k->object = r->first + (unsigned long long)i % (r->last - r->first + 1);
	k->method = ex_call_is_put(r->method, i) ? OBJSTORE_PUT : OBJSTORE_GET;
	long n;
	if (k->method == OBJSTORE_GET) {
		struct objstore_get_request q = { .object_id = k->object };
		memcpy(q.user, r->uname, 16);
		n = objstore_get_request_encode(&q, r->body, r->payload + 64);
	} else {
		struct objstore_put_request q = { .object_id = k->object };
		memcpy(q.user, r->uname, 16);
		s2_fill(r->content, r->payload, k->object);
		q.data = (struct adn_bytes){ .ptr = r->content, .len = (uint32_t)r->payload };
		n = objstore_put_request_encode(&q, r->body, r->payload + 64);
	}
	return n < 0 ? -EMSGSIZE : adn_client_call(cl, k->method, r->body, (size_t)n, on_reply, k);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		EX_CLIENT_OPTIONS,
		{ "replicas", required_argument, NULL, 'R' },
		{ "objects", required_argument, NULL, 'o' },
		{ "payload-size", required_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct ex_client_opts o = { .method = "mixed", .port = OBJSTORE_PORT, .count = 1000,
				    .size = 2000, .size_name = "--payload-size", .outstanding = 16,
				    .timeout = 10 };
	char *replicas = NULL;
	unsigned long long first = 0, last = 99;
	int c;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (ex_client_opt(&o, c, optarg))
			continue;
		switch (c) {
		case 'R': replicas = optarg; break;
		case 'o':
			if (sscanf(optarg, "%llu-%llu", &first, &last) != 2 || last < first) {
				fprintf(stderr, "s2-client: --objects wants FIRST-LAST, e.g. 0-99\n");
				return 2;
			}
			break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	const char *bad = optind < argc ? "unexpected argument" :
			  !o.host == !replicas ? "give --host or --replicas" : ex_client_check(&o);
	if (bad) {
		fprintf(stderr, "s2-client: %s\n", bad);
		return 2;
	}

	char err[256];
	struct adn_client *cl;
	uint16_t layout = (uint16_t)OBJSTORE_LAYOUT_HASH;
	if (replicas) {
		const char *hosts[MAX_REPLICAS];
		uint16_t ports[MAX_REPLICAS];
		unsigned n;
		if (parse_replicas(replicas, hosts, ports, &n, (uint16_t)o.port)) {
			fprintf(stderr, "s2-client: --replicas: 1..%d addresses, comma-separated\n",
				MAX_REPLICAS);
			return 2;
		}
		cl = o.udp ? adn_client_open_replicas_udp(hosts, ports, n, layout, err, sizeof(err)) :
			     adn_client_open_replicas(hosts, ports, n, layout, err, sizeof(err));
	} else {
		cl = ex_client_open(&o, layout, err, sizeof(err));
	}
	if (!cl) {
		fprintf(stderr, "s2-client: %s\n", err);
		return 2;
	}
	if ((!o.no_register && adn_client_udf_register(cl, "compress", &adn_udf_zlib)) ||
	    adn_client_use_chain(cl, s2_app_chain(), err, sizeof(err))) {
		fprintf(stderr, "s2-client: %s\n", err);
		adn_client_close(cl);
		return 2;
	}
	adn_client_set_timeout(cl, (unsigned)o.timeout * 1000u);

	long payload = o.size, count = o.count;
	struct run run = { .method = o.method, .first = first, .last = last,
			   .payload = (size_t)payload };
	memcpy(run.uname, o.user, strlen(o.user));
	run.content = malloc((size_t)payload + 1);
	run.body = malloc((size_t)payload + 64);
	run.calls = calloc((size_t)count + 1, sizeof(*run.calls));
	if (!run.content || !run.body || !run.calls) {
		fprintf(stderr, "s2-client: out of memory\n");
		return 2;
	}

	double secs;
	bool failed;
	long sent = ex_run_calls(cl, count, o.outstanding, issue, &run, "s2-client", &failed, &secs);
	int rc = failed ? 2 : 0;
	struct adn_client_stats cs;
	adn_client_get_stats(cl, &cs);

	if (o.json) {
		ex_tally_json_start(&R, sent);
		printf(", \"net_replies\": %llu, \"lost\": %llu, \"bad_replies\": %llu, "
		       "\"app_bytes\": %llu, \"wire_bytes\": %llu, \"udf_errors\": %llu, \"seconds\": %.3f}\n",
		       (unsigned long long)R.net_replies, (unsigned long long)R.local,
		       (unsigned long long)R.bad_replies, (unsigned long long)cs.app_bytes,
		       (unsigned long long)cs.wire_bytes, (unsigned long long)cs.udf_errors, secs);
	} else {
		printf("s2-client: %ld calls, %llu ok, %llu answered by the network, %llu lost, "
		       "%llu bad replies; request bodies %llu bytes, %llu on the wire\n",
		       sent, (unsigned long long)R.ok, (unsigned long long)R.net_replies,
		       (unsigned long long)R.local, (unsigned long long)R.bad_replies,
		       (unsigned long long)cs.app_bytes, (unsigned long long)cs.wire_bytes);
	}
	if (R.local || R.bad_replies)
		rc = 2;
	if (R.local && *adn_client_error(cl))
		fprintf(stderr, "s2-client: %s\n", adn_client_error(cl));
	adn_client_close(cl);
	free(run.content);
	free(run.body);
	free(run.calls);
	return rc;
}
