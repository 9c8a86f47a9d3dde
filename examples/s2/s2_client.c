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

#define MAX_REPLICAS 16

struct call {
	uint64_t object;
	uint16_t method;
};

static struct {
	struct call *calls;
	uint64_t ok, net_replies, lost, bad_replies;
	uint64_t by_status[ADN_STATUS_MAX + 1];
} R;

static void on_reply(void *user, uint32_t rpc_id, int status, uint16_t flags, const void *body,
		     size_t len)
{
	const struct call *c = user;
	(void)rpc_id;
	if (status >= 0 && status <= ADN_STATUS_MAX)
		R.by_status[status]++;
	if (flags & ADN_RPC_F_LOCAL)
		R.lost++;
	else if (flags & ADN_F_NET_REPLY)
		R.net_replies++;
	if (status != ADN_OK)
		return;
	R.ok++;
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

	char uname[16] = { 0 };
	memcpy(uname, user, strlen(user));
	uint8_t *content = malloc((size_t)payload + 1);
	uint8_t *body = malloc((size_t)payload + 64);
	R.calls = calloc((size_t)count + 1, sizeof(*R.calls));
	if (!content || !body || !R.calls) {
		fprintf(stderr, "s2-client: out of memory\n");
		return 2;
	}

	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	long sent = 0;
	int rc = 0;
	while (sent < count || adn_client_outstanding(cl)) {
		while (sent < count && adn_client_outstanding(cl) < (size_t)outstanding) {
			struct call *k = &R.calls[sent];
			k->object = first + (unsigned long long)sent % (last - first + 1);
			k->method = !strcmp(method, "get") ? OBJSTORE_GET :
				    !strcmp(method, "put") ? OBJSTORE_PUT :
				    sent % 2 ? OBJSTORE_PUT : OBJSTORE_GET;
			long n;
			if (k->method == OBJSTORE_GET) {
				struct objstore_get_request r = { .object_id = k->object };
				memcpy(r.user, uname, 16);
				n = objstore_get_request_encode(&r, body, (size_t)payload + 64);
			} else {
				struct objstore_put_request r = { .object_id = k->object };
				memcpy(r.user, uname, 16);
				s2_fill(content, (size_t)payload, k->object);
				r.data = (struct adn_bytes){ .ptr = content, .len = (uint32_t)payload };
				n = objstore_put_request_encode(&r, body, (size_t)payload + 64);
			}
			long id = n < 0 ? -EMSGSIZE : adn_client_call(cl, k->method, body, (size_t)n, on_reply, k);
			if (id < 0) {
				fprintf(stderr, "s2-client: call %ld: %s%s%s\n", sent, strerror((int)-id),
					*adn_client_error(cl) ? ": " : "", adn_client_error(cl));
				rc = 2;
				count = sent; /* stop issuing; let the others finish */
				break;
			}
			sent++;
		}
		int n = adn_client_poll(cl, 100);
		if (n < 0) {
			fprintf(stderr, "s2-client: poll: %s\n", strerror(-n));
			rc = 2;
			break;
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	struct adn_client_stats cs;
	adn_client_get_stats(cl, &cs);
	double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;

	if (json) {
		printf("{\"sent\": %ld, \"ok\": %llu, \"status\": {", sent, (unsigned long long)R.ok);
		bool firstst = true;
		for (int s = 1; s <= ADN_STATUS_MAX; s++) {
			if (!R.by_status[s])
				continue;
			char name[32];
			snprintf(name, sizeof(name), "%s", adn_status_name(s));
			for (char *p = name; *p; p++)
				if (*p >= 'A' && *p <= 'Z')
					*p = (char)(*p - 'A' + 'a');
			printf("%s\"%s\": %llu", firstst ? "" : ", ", name, (unsigned long long)R.by_status[s]);
			firstst = false;
		}
		printf("}, \"net_replies\": %llu, \"lost\": %llu, \"bad_replies\": %llu, "
		       "\"app_bytes\": %llu, \"wire_bytes\": %llu, \"udf_errors\": %llu, \"seconds\": %.3f}\n",
		       (unsigned long long)R.net_replies, (unsigned long long)R.lost,
		       (unsigned long long)R.bad_replies, (unsigned long long)cs.app_bytes,
		       (unsigned long long)cs.wire_bytes, (unsigned long long)cs.udf_errors, secs);
	} else {
		printf("s2-client: %ld calls, %llu ok, %llu answered by the network, %llu lost, "
		       "%llu bad replies; request bodies %llu bytes, %llu on the wire\n",
		       sent, (unsigned long long)R.ok, (unsigned long long)R.net_replies,
		       (unsigned long long)R.lost, (unsigned long long)R.bad_replies,
		       (unsigned long long)cs.app_bytes, (unsigned long long)cs.wire_bytes);
	}
	if (R.lost || R.bad_replies)
		rc = 2;
	if (R.lost && *adn_client_error(cl))
		fprintf(stderr, "s2-client: %s\n", adn_client_error(cl));
	adn_client_close(cl);
	free(content);
	free(body);
	free(R.calls);
	return rc;
}
