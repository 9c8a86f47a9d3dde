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
	ex_tally_count(&R, status, flags);
	if (status != ADN_OK)
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
	k->method = !strcmp(r->method, "get") ? OBJSTORE_GET :
		    !strcmp(r->method, "put") ? OBJSTORE_PUT :
		    i % 2 ? OBJSTORE_PUT : OBJSTORE_GET;
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
		{ "host", required_argument, NULL, 'H' },
		{ "replicas", required_argument, NULL, 'R' },
		{ "port", required_argument, NULL, 'p' },
		{ "udp", no_argument, NULL, 'U' },
		{ "user", required_argument, NULL, 'u' },
		{ "objects", required_argument, NULL, 'o' },
		{ "count", required_argument, NULL, 'n' },
		{ "method", required_argument, NULL, 'm' },
		{ "payload-size", required_argument, NULL, 'P' },
		{ "outstanding", required_argument, NULL, 'O' },
		{ "timeout", required_argument, NULL, 't' },
		{ "json", no_argument, NULL, 'j' },
		{ "no-register", no_argument, NULL, 'N' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *host = NULL, *user = NULL, *method = "mixed";
	char *replicas = NULL;
	long port = OBJSTORE_PORT, count = 1000, payload = 2000, outstanding = 16, timeout = 10;
	unsigned long long first = 0, last = 99;
	bool udp = false, json = false, no_register = false;
	int c;
	char *end;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'H': host = optarg; break;
		case 'R': replicas = optarg; break;
		case 'p': port = strtol(optarg, &end, 10); if (*end) port = -1; break;
		case 'U': udp = true; break;
		case 'u': user = optarg; break;
		case 'o':
			if (sscanf(optarg, "%llu-%llu", &first, &last) != 2 || last < first) {
				fprintf(stderr, "s2-client: --objects wants FIRST-LAST, e.g. 0-99\n");
				return 2;
			}
			break;
		case 'n': count = strtol(optarg, &end, 10); if (*end) count = -1; break;
		case 'm': method = optarg; break;
		case 'P': payload = strtol(optarg, &end, 10); if (*end) payload = -1; break;
		case 'O': outstanding = strtol(optarg, &end, 10); if (*end) outstanding = -1; break;
		case 't': timeout = strtol(optarg, &end, 10); if (*end) timeout = -1; break;
		case 'j': json = true; break;
		case 'N': no_register = true; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	const char *bad = optind < argc ? "unexpected argument" :
			  !host == !replicas ? "give --host or --replicas" :
			  !user ? "--user is required" :
			  strlen(user) > 16 ? "--user: at most 16 bytes" :
			  port < 1 || port > 65535 ? "--port must be 1..65535" :
			  count < 0 || count > 10000000 ? "--count must be 0..10000000" :
			  payload < 0 || payload > (1 << 19) ? "--payload-size must be 0..524288" :
			  outstanding < 1 || outstanding > 4096 ? "--outstanding must be 1..4096" :
			  timeout < 1 ? "--timeout must be >= 1" :
			  strcmp(method, "get") && strcmp(method, "put") && strcmp(method, "mixed") ?
			  "--method must be get, put or mixed" : NULL;
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
		if (parse_replicas(replicas, hosts, ports, &n, (uint16_t)port)) {
			fprintf(stderr, "s2-client: --replicas: 1..%d addresses, comma-separated\n",
				MAX_REPLICAS);
			return 2;
		}
		cl = udp ? adn_client_open_replicas_udp(hosts, ports, n, layout, err, sizeof(err)) :
			   adn_client_open_replicas(hosts, ports, n, layout, err, sizeof(err));
	} else {
		cl = udp ? adn_client_open_udp(host, (uint16_t)port, layout, err, sizeof(err)) :
			   adn_client_open(host, (uint16_t)port, 1, layout, err, sizeof(err));
	}
	if (!cl) {
		fprintf(stderr, "s2-client: %s\n", err);
		return 2;
	}
	if ((!no_register && adn_client_udf_register(cl, "compress", &adn_udf_zlib)) ||
	    adn_client_use_chain(cl, s2_app_chain(), err, sizeof(err))) {
		fprintf(stderr, "s2-client: %s\n", err);
		adn_client_close(cl);
		return 2;
	}
	adn_client_set_timeout(cl, (unsigned)timeout * 1000u);

	struct run run = { .method = method, .first = first, .last = last,
			   .payload = (size_t)payload };
	memcpy(run.uname, user, strlen(user));
	run.content = malloc((size_t)payload + 1);
	run.body = malloc((size_t)payload + 64);
	run.calls = calloc((size_t)count + 1, sizeof(*run.calls));
	if (!run.content || !run.body || !run.calls) {
		fprintf(stderr, "s2-client: out of memory\n");
		return 2;
	}

	double secs;
	bool failed;
	long sent = ex_run_calls(cl, count, outstanding, issue, &run, "s2-client", &failed, &secs);
	int rc = failed ? 2 : 0;
	struct adn_client_stats cs;
	adn_client_get_stats(cl, &cs);

	if (json) {
		printf("{\"sent\": %ld, \"ok\": %llu, \"status\": ", sent, (unsigned long long)R.ok);
		fflush(stdout);
		ex_status_json(stdout, R.by_status);
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
