/* SPDX-License-Identifier: MIT */
/*
 * kv-server: the example key-value service. An in-memory map from key to
 * value, served over the adn RPC library. It counts the requests its
 * handler saw per user and, at SIGTERM/SIGINT, writes them as JSON, so
 * tests can prove that a denied user's RPCs never reached it.
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
#include "kv_rpc.h"
#include "../common/ex_util.h"

#define MAX_KEYS (1u << 20)
#define MAX_USERS (1u << 16)

/* A small chained hash table keyed by up to 32 bytes; used both for the
 * store (key -> value) and for the per-user counters. */
struct entry {
	struct entry *next;
	uint8_t klen;
	char key[32];
	uint64_t count;   /* users */
	void *value;      /* store */
	uint32_t vlen, vcap;
};

struct table {
	struct entry **buckets;
	size_t nbuckets, n, max;
};

static uint32_t hash_bytes(const char *p, size_t n)
{
	uint32_t h = 2166136261u; /* FNV-1a */
	for (size_t i = 0; i < n; i++)
		h = (h ^ (uint8_t)p[i]) * 16777619u;
	return h;
}

static bool table_grow(struct table *t)
{
	size_t nb = t->nbuckets ? t->nbuckets * 2 : 1024;
	struct entry **b = calloc(nb, sizeof(*b));
	if (!b)
		return false;
	for (size_t i = 0; i < t->nbuckets; i++) {
		for (struct entry *e = t->buckets[i], *next; e; e = next) {
			next = e->next;
			size_t j = hash_bytes(e->key, e->klen) & (nb - 1);
			e->next = b[j];
			b[j] = e;
		}
	}
	free(t->buckets);
	t->buckets = b;
	t->nbuckets = nb;
	return true;
}

/* The entry for key (klen <= 32), created if create is set; NULL if absent
 * or if the table is full or out of memory. */
static struct entry *table_get(struct table *t, const char *key, size_t klen, bool create)
{
	if (t->nbuckets) {
		struct entry *e = t->buckets[hash_bytes(key, klen) & (t->nbuckets - 1)];
		for (; e; e = e->next)
			if (e->klen == klen && !memcmp(e->key, key, klen))
				return e;
	}
	if (!create || t->n >= t->max)
		return NULL;
	if (t->n >= t->nbuckets && !table_grow(t))
		return NULL;
	struct entry *e = calloc(1, sizeof(*e));
	if (!e)
		return NULL;
	e->klen = (uint8_t)klen;
	memcpy(e->key, key, klen);
	size_t j = hash_bytes(key, klen) & (t->nbuckets - 1);
	e->next = t->buckets[j];
	t->buckets[j] = e;
	t->n++;
	return e;
}

static void table_free(struct table *t)
{
	for (size_t i = 0; i < t->nbuckets; i++) {
		for (struct entry *e = t->buckets[i], *next; e; e = next) {
			next = e->next;
			free(e->value);
			free(e);
		}
	}
	free(t->buckets);
	memset(t, 0, sizeof(*t));
}

struct kv_state {
	struct table store, users, keys;
	uint64_t handled, invalid;
};

/* Requests handled per user and per key (tests: which replica served which
 * object). */
static void count_user(struct kv_state *kv, const char username[16], const char key[32])
{
	struct entry *u = table_get(&kv->users, username, strnlen(username, 16), true);
	if (u)
		u->count++;
	u = table_get(&kv->keys, key, strnlen(key, 32), true);
	if (u)
		u->count++;
	kv->handled++;
}

static int handle_get(struct kv_state *kv, const void *req, size_t len, void *resp,
		      size_t cap, size_t *resp_len)
{
	struct kv_get_request in;
	if (kv_get_request_decode(&in, req, len)) {
		kv->invalid++;
		return ADN_INVALID_ARGUMENT;
	}
	count_user(kv, in.username, in.key);
	struct entry *e = table_get(&kv->store, in.key, strnlen(in.key, 32), false);
	struct kv_get_response out = { .found = e != NULL };
	if (e)
		out.value = (struct adn_bytes){ .ptr = e->value, .len = e->vlen };
	long n = kv_get_response_encode(&out, resp, cap);
	if (n < 0)
		return ADN_RESOURCE_EXHAUSTED;
	*resp_len = (size_t)n;
	return ADN_OK;
}

static int handle_put(struct kv_state *kv, const void *req, size_t len, void *resp,
		      size_t cap, size_t *resp_len)
{
	struct kv_put_request in;
	if (kv_put_request_decode(&in, req, len)) {
		kv->invalid++;
		return ADN_INVALID_ARGUMENT;
	}
	count_user(kv, in.username, in.key);
	struct entry *e = table_get(&kv->store, in.key, strnlen(in.key, 32), true);
	if (!e)
		return ADN_RESOURCE_EXHAUSTED;
	/* Reuse the old value's memory when it is big enough: overwriting a
	 * key must not cost an allocation (and page faults) per PUT. */
	if (!e->value || e->vcap < in.value.len) {
		void *bigger = malloc(in.value.len ? in.value.len : 1);
		if (!bigger)
			return ADN_RESOURCE_EXHAUSTED;
		free(e->value);
		e->value = bigger;
		e->vcap = in.value.len;
	}
	memcpy(e->value, in.value.ptr, in.value.len);
	e->vlen = in.value.len;
	struct kv_put_response out = { .ok = 1 };
	long n = kv_put_response_encode(&out, resp, cap);
	if (n < 0)
		return ADN_INTERNAL;
	*resp_len = (size_t)n;
	return ADN_OK;
}

static int kv_handler(void *user, uint16_t method, const void *req, size_t len,
		      void *resp, size_t cap, size_t *resp_len)
{
	switch (method) {
	case KV_GET:
		return handle_get(user, req, len, resp, cap, resp_len);
	case KV_PUT:
		return handle_put(user, req, len, resp, cap, resp_len);
	default:
		return ADN_UNIMPLEMENTED;
	}
}

/* A JSON string; bytes outside printable ASCII become \u00XX so that any
 * username (CHAR(16) is raw bytes) gives valid JSON. */
static int by_name(const void *a, const void *b)
{
	const struct entry *x = *(const struct entry *const *)a;
	const struct entry *y = *(const struct entry *const *)b;
	int c = memcmp(x->key, y->key, x->klen < y->klen ? x->klen : y->klen);
	return c ? c : (int)x->klen - (int)y->klen;
}

/* {"name": count, ...} of a counter table, sorted by name. */
static void write_counts(FILE *f, const struct table *t)
{
	struct entry **v = calloc(t->n ? t->n : 1, sizeof(*v));
	size_t n = 0;

	for (size_t i = 0; v && i < t->nbuckets; i++)
		for (struct entry *e = t->buckets[i]; e; e = e->next)
			v[n++] = e;
	if (v)
		qsort(v, n, sizeof(*v), by_name);
	fputc('{', f);
	for (size_t i = 0; i < n; i++) {
		fputs(i ? ", " : "", f);
		ex_json_string(f, v[i]->key, v[i]->klen);
		fprintf(f, ": %llu", (unsigned long long)v[i]->count);
	}
	fputc('}', f);
	free(v);
}

static void write_stats(FILE *f, const void *arg)
{
	const struct kv_state *kv = arg;
	fprintf(f, "{\"handled\": %llu, \"invalid\": %llu, \"by_user\": ",
		(unsigned long long)kv->handled, (unsigned long long)kv->invalid);
	write_counts(f, &kv->users);
	fputs(", \"by_key\": ", f);
	write_counts(f, &kv->keys);
	fputs("}\n", f);
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: kv-server [--listen ADDR] [--port N] [--udp] [--stats-file PATH]\n"
		"  --listen ADDR      address to listen on (default 0.0.0.0)\n"
		"  --port N           TCP port (default %d; 0 picks a free one)\n"
		"  --udp              also serve UDP on the same port (one RPC per datagram)\n"
		"  --stats-file PATH  at SIGTERM/SIGINT write {\"handled\": N, \"by_user\": {...},\n"
		"                     \"by_key\": {...}}\n"
		"                     there (default: stderr)\n",
		KV_PORT);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "listen", required_argument, NULL, 'l' },
		{ "port", required_argument, NULL, 'p' },
		{ "stats-file", required_argument, NULL, 's' },
		{ "udp", no_argument, NULL, 'U' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *listen_addr = NULL, *stats_path = NULL;
	unsigned long port = KV_PORT;
	bool udp = false;
	int opt;

	opterr = 0;
	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		char *end;
		switch (opt) {
		case 'l':
			listen_addr = optarg;
			break;
		case 'p':
			errno = 0;
			port = strtoul(optarg, &end, 10);
			if (errno || *end || !*optarg || port > 65535 || optarg[0] == '-') {
				fprintf(stderr, "kv-server: --port: '%s' is not a port number (0..65535)\n",
					optarg);
				return 1;
			}
			break;
		case 's':
			stats_path = optarg;
			break;
		case 'U':
			udp = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			fprintf(stderr, "kv-server: unknown option '%s', or its value is missing "
					"(see --help)\n", argv[optind - 1]);
			return 1;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "kv-server: unexpected argument '%s' (see --help)\n", argv[optind]);
		return 1;
	}

	ex_catch_stop();
	signal(SIGPIPE, SIG_IGN);

	struct kv_state kv = { .store.max = MAX_KEYS, .users.max = MAX_USERS, .keys.max = MAX_KEYS };
	char err[256];
	struct adn_server *srv = adn_server_listen(listen_addr, (uint16_t)port, kv_handler,
						   &kv, err, sizeof(err));
	if (!srv) {
		fprintf(stderr, "kv-server: %s\n", err);
		return 1;
	}
	if (udp && adn_server_add_udp(srv, err, sizeof(err))) {
		fprintf(stderr, "kv-server: %s\n", err);
		adn_server_close(srv);
		return 1;
	}
	printf("kv-server: listening on %s:%u%s\n",
	       listen_addr && *listen_addr ? listen_addr : "0.0.0.0", adn_server_port(srv),
	       udp ? " (tcp and udp)" : "");
	fflush(stdout);

	int rc = adn_server_run(srv, &ex_stop);
	if (rc < 0)
		fprintf(stderr, "kv-server: %s\n", strerror(-rc));
	adn_server_close(srv);
	/* written whole or not at all (tests read it) */
	int saved = ex_save_json("kv-server", stats_path, write_stats, &kv);
	table_free(&kv.store);
	table_free(&kv.users);
	table_free(&kv.keys);
	return rc < 0 || saved ? 1 : 0;
}
