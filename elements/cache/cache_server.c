/* SPDX-License-Identifier: MIT */
/*
 * cache-server: the kvc service of elements/cache/cache.adn over UDP, for
 * the cache element's test. `get` answers found = 1 and the key's value:
 * the value a `put` stored, else base(key) + 1000000 * generation, where
 * SIGUSR1 adds one to the generation (the server's data changes behind
 * the network's back). Every request the handler runs is one line
 * "<method> <key>" in --log FILE (flushed at once), so a test can count
 * which calls reached the server.
 *
 *   cache-server --listen ADDR --port PORT --log FILE
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adn_rpc.h"
#include "cache_rpc.h"
#include "../../examples/common/ex_util.h"

#define MAX_KEYS 4096

struct state {
	FILE *log;
	struct { char key[32]; uint64_t value; } put[MAX_KEYS];
	size_t n_put;
};

static volatile sig_atomic_t generation;

static void on_usr1(int sig) { (void)sig; generation++; }

/* FNV-1a of the key's 32 bytes: a value that differs per key. */
static uint64_t base(const char key[32])
{
	uint64_t h = 0xcbf29ce484222325ull;
	for (int i = 0; i < 32; i++)
		h = (h ^ (uint8_t)key[i]) * 0x100000001b3ull;
	return h >> 8;
}

static void log_req(struct state *st, const char *method, const char key[32])
{
	fprintf(st->log, "%s %.32s\n", method, key);
	fflush(st->log);
}

static int handle(void *user, uint16_t method, const void *req, size_t len, void *resp,
		  size_t cap, size_t *resp_len)
{
	struct state *st = user;
	long n;

	if (method == KVC_GET) {
		struct kvc_get_request r;
		struct kvc_get_response out = { .found = 1 };
		if (kvc_get_request_decode(&r, req, len))
			return ADN_INVALID_ARGUMENT;
		log_req(st, "get", r.key);
		out.value = base(r.key) + 1000000ull * (uint64_t)generation;
		for (size_t i = 0; i < st->n_put; i++)
			if (!memcmp(st->put[i].key, r.key, 32))
				out.value = st->put[i].value;
		n = kvc_get_response_encode(&out, resp, cap);
	} else if (method == KVC_PUT) {
		struct kvc_put_request r;
		struct kvc_put_response out = { .ok = 1 };
		size_t i;
		if (kvc_put_request_decode(&r, req, len))
			return ADN_INVALID_ARGUMENT;
		log_req(st, "put", r.key);
		for (i = 0; i < st->n_put && memcmp(st->put[i].key, r.key, 32); i++)
			;
		if (i == MAX_KEYS)
			return ADN_RESOURCE_EXHAUSTED;
		if (i == st->n_put)
			memcpy(st->put[st->n_put++].key, r.key, 32);
		st->put[i].value = r.value;
		n = kvc_put_response_encode(&out, resp, cap);
	} else {
		return ADN_UNIMPLEMENTED;
	}
	if (n < 0)
		return ADN_INTERNAL;
	*resp_len = (size_t)n;
	return ADN_OK;
}

int main(int argc, char **argv)
{
	static struct state st;
	const char *listen = "127.0.0.1", *log = NULL;
	unsigned port = KVC_PORT;
	char err[256];
	int c;

	static const struct option opts[] = {
		{ "listen", required_argument, NULL, 'l' },
		{ "port", required_argument, NULL, 'p' },
		{ "log", required_argument, NULL, 'L' },
		{ NULL, 0, NULL, 0 },
	};
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'l': listen = optarg; break;
		case 'p': port = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'L': log = optarg; break;
		default:
			fprintf(stderr, "usage: cache-server --listen ADDR --port PORT --log FILE\n");
			return 1;
		}
	}
	if (!log || !(st.log = fopen(log, "w"))) {
		fprintf(stderr, "cache-server: --log FILE is required and must be writable\n");
		return 1;
	}
	struct adn_server *s = adn_server_listen(listen, (uint16_t)port, handle, &st, err, sizeof(err));
	if (!s || adn_server_add_udp(s, err, sizeof(err))) {
		fprintf(stderr, "cache-server: %s\n", err);
		return 1;
	}
	ex_catch_stop();
	signal(SIGUSR1, on_usr1);
	printf("listening on %s:%u (udp)\n", listen, adn_server_port(s));
	fflush(stdout);
	adn_server_run(s, &ex_stop);
	adn_server_close(s);
	fclose(st.log);
	return 0;
}
