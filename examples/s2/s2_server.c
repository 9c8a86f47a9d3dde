/* SPDX-License-Identifier: MIT */
/*
 * s2-server: service B of the ADN paper's section 2 example (one replica,
 * B.1 or B.2). Serves objects: `get` returns an object's content, `put`
 * checks that the content it received is the object's. The chain's
 * user-defined element `compress` runs in the RPC library (zlib): requests
 * arrive compressed and the library restores them before the handler;
 * responses leave compressed.
 *
 * At SIGTERM/SIGINT it writes JSON: requests handled per user and per
 * object (so tests see which replica served which object, and that denied
 * RPCs never reached a handler), payloads that were not the object's
 * content, and the request body bytes received on the wire against the
 * bytes the handler got.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "adn_rpc.h"
#include "s2_rpc.h"
#include "s2_common.h"
#include "../common/ex_util.h"

#define MAX_OBJECTS 65536 /* distinct objects counted; a power of two */

struct obj_counter {
	uint64_t id;
	uint64_t n; /* 0: free */
};

struct state {
	struct ex_users users;
	struct obj_counter *objs;
	uint64_t n_objs, handled, invalid, bad_payload, uncounted;
	size_t object_size;
	uint8_t *content; /* scratch for get responses */
};

static void count(struct state *st, const char user[16], uint64_t object)
{
	st->handled++;
	if (ex_users_count(&st->users, user))
		st->uncounted++;
	uint64_t h = object * 0x9e3779b97f4a7c15ull;
	for (uint64_t k = 0; k < MAX_OBJECTS; k++) {
		struct obj_counter *o = &st->objs[(h + k) & (MAX_OBJECTS - 1)];
		if (o->n && o->id != object)
			continue;
		if (!o->n) {
			o->id = object;
			st->n_objs++;
		}
		o->n++;
		return;
	}
	st->uncounted++;
}

static int handle_get(struct state *st, const void *req, size_t len, void *resp, size_t cap,
		      size_t *resp_len)
{
	struct objstore_get_request in;
	if (objstore_get_request_decode(&in, req, len)) {
		st->invalid++;
		return ADN_INVALID_ARGUMENT;
	}
	count(st, in.user, in.object_id);
	s2_fill(st->content, st->object_size, in.object_id);
	struct objstore_get_response out = {
		.found = 1, .data = { .ptr = st->content, .len = (uint32_t)st->object_size } };
	long n = objstore_get_response_encode(&out, resp, cap);
	if (n < 0)
		return ADN_RESOURCE_EXHAUSTED;
	*resp_len = (size_t)n;
	return ADN_OK;
}

static int handle_put(struct state *st, const void *req, size_t len, void *resp, size_t cap,
		      size_t *resp_len)
{
	struct objstore_put_request in;
	if (objstore_put_request_decode(&in, req, len)) {
		st->invalid++;
		return ADN_INVALID_ARGUMENT;
	}
	count(st, in.user, in.object_id);
	if (!s2_check(in.data.ptr, in.data.len, in.object_id)) {
		st->bad_payload++;
		return ADN_DATA_LOSS;
	}
	struct objstore_put_response out = { .ok = 1 };
	long n = objstore_put_response_encode(&out, resp, cap);
	if (n < 0)
		return ADN_INTERNAL;
	*resp_len = (size_t)n;
	return ADN_OK;
}

static int handler(void *user, uint16_t method, const void *req, size_t len, void *resp,
		   size_t cap, size_t *resp_len)
{
	switch (method) {
	case OBJSTORE_GET:
		return handle_get(user, req, len, resp, cap, resp_len);
	case OBJSTORE_PUT:
		return handle_put(user, req, len, resp, cap, resp_len);
	default:
		return ADN_UNIMPLEMENTED;
	}
}

static void write_stats(FILE *f, const struct ex_served *o)
{
	const struct state *st = o->state;
	const struct adn_server_stats *ss = &o->ss;
	fprintf(f, "{\"handled\": %llu, \"invalid\": %llu, \"bad_payload\": %llu, \"uncounted\": %llu, ",
		(unsigned long long)st->handled, (unsigned long long)st->invalid,
		(unsigned long long)st->bad_payload, (unsigned long long)st->uncounted);
	fprintf(f, "\"wire_bytes\": %llu, \"app_bytes\": %llu, \"udf_errors\": %llu, \"by_user\": ",
		(unsigned long long)ss->wire_bytes, (unsigned long long)ss->app_bytes,
		(unsigned long long)ss->udf_errors);
	ex_users_json(f, &st->users);
	fputs(", \"by_object\": {", f);
	bool first = true;
	for (unsigned i = 0; i < MAX_OBJECTS; i++) {
		if (!st->objs[i].n)
			continue;
		fprintf(f, "%s\"%llu\": %llu", first ? "" : ", ", (unsigned long long)st->objs[i].id,
			(unsigned long long)st->objs[i].n);
		first = false;
	}
	fputs("}}\n", f);
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: s2-server [--listen ADDR] [--port PORT] [--udp] [--object-size BYTES]\n"
		"                 [--stats-file FILE] [--no-register]\n"
		"  --listen ADDR      address to listen on (default every IPv4 address)\n"
		"  --port PORT        default %u (the service's PORT)\n"
		"  --udp              serve UDP too (one RPC per datagram)\n"
		"  --object-size B    bytes of an object's content returned by get (default 2000)\n"
		"  --stats-file FILE  where to write the JSON counters at exit (default stderr)\n"
		"  --no-register      register no implementation of 'compress' (tests: the\n"
		"                     library must refuse the chain)\n",
		(unsigned)OBJSTORE_PORT);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		EX_SERVER_OPTIONS,
		{ "port", required_argument, NULL, 'p' },
		{ "object-size", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct ex_server_opts so = { .port = OBJSTORE_PORT };
	long object_size = 2000;
	int c;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (ex_server_opt(&so, c, optarg))
			continue;
		switch (c) {
		case 'p':
			so.port = ex_arg_long(optarg);
			if (so.port < 1 || so.port > 65535) {
				fprintf(stderr, "s2-server: --port must be 1..65535\n");
				return 2;
			}
			break;
		case 'o':
			object_size = ex_arg_long(optarg);
			if (object_size < 0 || object_size > (1 << 19)) {
				fprintf(stderr, "s2-server: --object-size must be 0..524288\n");
				return 2;
			}
			break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "s2-server: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}

	struct state *st = calloc(1, sizeof(*st));
	if (!st || !(st->objs = calloc(MAX_OBJECTS, sizeof(*st->objs))) ||
	    !(st->content = malloc((size_t)object_size + 1))) {
		fprintf(stderr, "s2-server: out of memory\n");
		return 1;
	}
	st->object_size = (size_t)object_size;

	struct adn_server *s = ex_server_start(&so, "s2-server", handler, st, s2_app_chain(),
					       "compress", &adn_udf_zlib,
					       "chain s2, compress in the library");
	if (!s)
		return 1;

	int rc = ex_serve(s, "s2-server", so.stats_file, write_stats, st);
	free(st->content);
	free(st->objs);
	free(st);
	return rc < 0 ? 1 : 0;
}
