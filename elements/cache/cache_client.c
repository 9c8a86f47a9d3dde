/* SPDX-License-Identifier: MIT */
/*
 * cache-client: calls of the kvc service (elements/cache/cache.adn) over
 * UDP through the RPC library, one at a time, for the cache element's
 * test. Prints one line per call:
 *
 *   get KEY status=OK net=0|1 found=F value=V body=HEX
 *   put KEY status=OK net=0|1 ok=1 body=HEX
 *
 * net=1: the network answered (ADN_F_NET_REPLY), not the server; body is
 * the response body exactly as the library delivered it; found/value are
 * what the generated decoder (cache_rpc.h) makes of it.
 *
 *   cache-client [--host H] [--port P] get KEY... | put KEY VALUE
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adn_rpc.h"
#include "cache_rpc.h"

struct result {
	int done, status;
	uint16_t flags;
	uint8_t body[ADN_UDP_BODY_MAX];
	size_t len;
};

static void on_reply(void *user, uint32_t rpc_id, int status, uint16_t flags, const void *body,
		     size_t len)
{
	struct result *r = user;
	(void)rpc_id;
	r->done = 1;
	r->status = status;
	r->flags = flags;
	r->len = len < sizeof(r->body) ? len : sizeof(r->body);
	if (body)
		memcpy(r->body, body, r->len);
}

/* One call, waited for. 0, or -1 after a message. */
static int call(struct adn_client *c, uint16_t method, const void *body, size_t len,
		struct result *r)
{
	memset(r, 0, sizeof(*r));
	long id = adn_client_call(c, method, body, len, on_reply, r);
	if (id < 0) {
		fprintf(stderr, "cache-client: call: %ld\n", id);
		return -1;
	}
	while (!r->done)
		if (adn_client_poll(c, 1000) < 0)
			return -1;
	return 0;
}

static void print_tail(const struct result *r)
{
	printf(" body=");
	for (size_t i = 0; i < r->len; i++)
		printf("%02x", r->body[i]);
	printf("\n");
}

int main(int argc, char **argv)
{
	const char *host = "127.0.0.1";
	unsigned port = KVC_PORT;
	char err[256];
	struct result r;
	int c;

	static const struct option opts[] = {
		{ "host", required_argument, NULL, 'h' },
		{ "port", required_argument, NULL, 'p' },
		{ NULL, 0, NULL, 0 },
	};
	while ((c = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
		switch (c) {
		case 'h': host = optarg; break;
		case 'p': port = (unsigned)strtoul(optarg, NULL, 10); break;
		default: goto usage;
		}
	}
	if (optind >= argc)
		goto usage;
	struct adn_client *cl = adn_client_open_udp(host, (uint16_t)port, (uint16_t)KVC_LAYOUT_HASH,
						    err, sizeof(err));
	if (!cl) {
		fprintf(stderr, "cache-client: %s\n", err);
		return 1;
	}
	adn_client_set_retries(cl, 3, 300);
	if (!strcmp(argv[optind], "get")) {
		for (int i = optind + 1; i < argc; i++) {
			struct kvc_get_request q = { 0 };
			struct kvc_get_response a = { 0 };
			uint8_t buf[64];
			memcpy(q.key, argv[i], strnlen(argv[i], sizeof(q.key)));
			long n = kvc_get_request_encode(&q, buf, sizeof(buf));
			if (n < 0 || call(cl, KVC_GET, buf, (size_t)n, &r))
				return 1;
			int bad = r.status == ADN_OK && kvc_get_response_decode(&a, r.body, r.len);
			printf("get %s status=%s net=%d found=%u value=%llu%s", argv[i], adn_status_name(r.status),
			       !!(r.flags & ADN_F_NET_REPLY), a.found, (unsigned long long)a.value,
			       bad ? " undecodable=1" : "");
			print_tail(&r);
		}
	} else if (!strcmp(argv[optind], "put") && argc - optind == 3) {
		struct kvc_put_request q = { 0 };
		struct kvc_put_response a = { 0 };
		uint8_t buf[64];
		memcpy(q.key, argv[optind + 1], strnlen(argv[optind + 1], sizeof(q.key)));
		q.value = strtoull(argv[optind + 2], NULL, 0);
		long n = kvc_put_request_encode(&q, buf, sizeof(buf));
		if (n < 0 || call(cl, KVC_PUT, buf, (size_t)n, &r))
			return 1;
		int bad = r.status == ADN_OK && kvc_put_response_decode(&a, r.body, r.len);
		printf("put %s status=%s net=%d ok=%u%s", argv[optind + 1], adn_status_name(r.status),
		       !!(r.flags & ADN_F_NET_REPLY), a.ok, bad ? " undecodable=1" : "");
		print_tail(&r);
	} else {
		goto usage;
	}
	fflush(stdout);
	adn_client_close(cl);
	return 0;
usage:
	fprintf(stderr, "usage: cache-client [--host H] [--port P] get KEY... | put KEY VALUE\n");
	return 1;
}
