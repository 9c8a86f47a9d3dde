/* SPDX-License-Identifier: MIT */
/*
 * enc-server: a kv server for the chain of elements/encrypt/encrypt.adn,
 * whose user-defined element `encrypt` runs in the RPC library
 * (adn_udf_aead): requests arrive encrypted and authenticated and the
 * library checks and decrypts them before the handler (a message whose tag
 * does not verify is answered DATA_LOSS, a replayed one UNAUTHENTICATED,
 * without running the handler); responses leave encrypted. `put` checks
 * that the value is the key's (enc_common.h); `get` returns it.
 *
 * --raw opens no chain: the handler sees request bodies as they came off
 * the wire and checks that they are not plaintext: the marker never
 * appears, a put's length is the plaintext's + ADN_AEAD_REQ_OVERHEAD
 * (sender, seq, time, nonce and tag), and no two messages share a nonce.
 *
 * At SIGTERM/SIGINT it writes JSON: {"handled", "invalid", "bad_payload",
 * "uncounted", "udf_errors", "wire_bytes", "app_bytes", "raw",
 * "plaintext_seen", "bad_length", "nonces", "nonce_repeats", "last_error",
 * "by_user": {...}}; last_error is adn_server_error(): the last refusal.
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
#include "encrypt_rpc.h"
#include "enc_common.h"
#include "../../examples/common/ex_util.h"

#define MAX_NONCES (1u << 20)

struct state {
	struct ex_users users;
	uint64_t handled, invalid, bad_payload, uncounted;
	uint64_t raw, plaintext_seen, bad_length;
	size_t value_size;
	uint8_t *value; /* scratch for get responses */
	uint8_t (*nonces)[ADN_AEAD_NONCE_LEN];
	size_t n_nonces;
};

static void count(struct state *st, const char user[16])
{
	st->handled++;
	if (ex_users_count(&st->users, user))
		st->uncounted++;
}

/* --raw: body as on the wire: network fields (req_keep bytes), then
 * sender || seq || time || nonce || ciphertext || tag of the rest. */
static int handle_raw(struct state *st, uint16_t method, const uint8_t *req, size_t len,
		      void *resp, size_t cap, size_t *resp_len)
{
	size_t keep = encrypt_app_chain()->req_keep;
	char user[16] = { 0 };

	st->raw++;
	if (len >= 16)
		memcpy(user, req, 16);
	count(st, user);
	if (memmem(req, len, ENC_MARKER, strlen(ENC_MARKER)))
		st->plaintext_seen++;
	if (method != KV_PUT)
		return ADN_UNIMPLEMENTED;
	/* plaintext after the network fields: key CHAR(32), value BYTES (4 + n) */
	size_t at = keep + ADN_AEAD_REQ_OVERHEAD - ADN_AEAD_OVERHEAD; /* the nonce */
	if (len != keep + 32 + 4 + st->value_size + ADN_AEAD_REQ_OVERHEAD)
		st->bad_length++;
	else if (st->n_nonces < MAX_NONCES) /* nonces of the encrypted ones */
		memcpy(st->nonces[st->n_nonces++], req + at, ADN_AEAD_NONCE_LEN);
	struct kv_put_response out = { .ok = 1 };
	long n = kv_put_response_encode(&out, resp, cap);
	if (n < 0)
		return ADN_INTERNAL;
	*resp_len = (size_t)n;
	return ADN_OK;
}

static bool raw_mode;

static int handler(void *user, uint16_t method, const void *req, size_t len, void *resp,
		   size_t cap, size_t *resp_len)
{
	struct state *st = user;
	long n;

	if (raw_mode)
		return handle_raw(st, method, req, len, resp, cap, resp_len);
	if (method == KV_GET) {
		struct kv_get_request in;
		if (kv_get_request_decode(&in, req, len)) {
			st->invalid++;
			return ADN_INVALID_ARGUMENT;
		}
		count(st, in.username);
		enc_fill(st->value, st->value_size, in.key);
		struct kv_get_response out = {
			.found = 1, .value = { .ptr = st->value, .len = (uint32_t)st->value_size } };
		n = kv_get_response_encode(&out, resp, cap);
	} else if (method == KV_PUT) {
		struct kv_put_request in;
		if (kv_put_request_decode(&in, req, len)) {
			st->invalid++;
			return ADN_INVALID_ARGUMENT;
		}
		count(st, in.username);
		if (!enc_check(in.value.ptr, in.value.len, in.key)) {
			st->bad_payload++;
			return ADN_DATA_LOSS;
		}
		struct kv_put_response out = { .ok = 1 };
		n = kv_put_response_encode(&out, resp, cap);
	} else {
		return ADN_UNIMPLEMENTED;
	}
	if (n < 0)
		return ADN_INTERNAL;
	*resp_len = (size_t)n;
	return ADN_OK;
}

static int cmp_nonce(const void *a, const void *b)
{
	return memcmp(a, b, ADN_AEAD_NONCE_LEN);
}

static void write_stats(FILE *f, const struct ex_served *o)
{
	struct state *st = (struct state *)o->state; /* sorts its nonces */
	const struct adn_server_stats *ss = &o->ss;
	uint64_t repeats = 0;
	qsort(st->nonces, st->n_nonces, ADN_AEAD_NONCE_LEN, cmp_nonce);
	for (size_t i = 1; i < st->n_nonces; i++)
		repeats += !memcmp(st->nonces[i - 1], st->nonces[i], ADN_AEAD_NONCE_LEN);
	fprintf(f,
		"{\"handled\": %llu, \"invalid\": %llu, \"bad_payload\": %llu, \"uncounted\": %llu, "
		"\"udf_errors\": %llu, \"wire_bytes\": %llu, \"app_bytes\": %llu, \"raw\": %llu, "
		"\"plaintext_seen\": %llu, \"bad_length\": %llu, \"nonces\": %zu, \"nonce_repeats\": %llu, "
		"\"last_error\": ",
		(unsigned long long)st->handled, (unsigned long long)st->invalid,
		(unsigned long long)st->bad_payload, (unsigned long long)st->uncounted,
		(unsigned long long)ss->udf_errors, (unsigned long long)ss->wire_bytes,
		(unsigned long long)ss->app_bytes, (unsigned long long)st->raw,
		(unsigned long long)st->plaintext_seen, (unsigned long long)st->bad_length,
		st->n_nonces, (unsigned long long)repeats);
	ex_json_string(f, o->last_error, strlen(o->last_error));
	fputs(", \"by_user\": ", f);
	ex_users_json(f, &st->users);
	fputs("}\n", f);
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: enc-server --key-file FILE [--cipher aes-256-gcm|chacha20-poly1305]\n"
		"                  [--listen ADDR] [--port PORT] [--udp] [--value-size B]\n"
		"                  [--tamper-every N] [--raw] [--no-register] [--stats-file FILE]\n"
		"  --key-file FILE    the AEAD key: 32 raw bytes or 64 hex digits, mode 600\n"
		"  --cipher C         default aes-256-gcm\n"
		"  --port PORT        default %u (the service's PORT)\n"
		"  --value-size B     bytes of a value: get returns it, --raw expects puts of it\n"
		"                     (default 256)\n"
		"  --tamper-every N   flip a bit in every N-th encrypted response (tests)\n"
		"  --raw              open no chain: check that request bodies are not plaintext\n"
		"  --no-register      register no implementation of 'encrypt' (tests: the\n"
		"                     library must refuse the chain)\n",
		(unsigned)KV_PORT);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		ENC_OPTIONS,
		EX_SERVER_OPTIONS,
		{ "port", required_argument, NULL, 'p' },
		{ "value-size", required_argument, NULL, 'v' },
		{ "raw", no_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct ex_server_opts so = { .port = KV_PORT };
	long value_size = 256;
	struct enc_opts eo = { .cipher = ADN_AEAD_AES_256_GCM };
	int c;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		int e = enc_opt(&eo, c, optarg, "enc-server");
		if (e < 0)
			return 2;
		if (e || ex_server_opt(&so, c, optarg))
			continue;
		switch (c) {
		case 'p': so.port = ex_arg_long(optarg); break;
		case 'v': value_size = ex_arg_long(optarg); break;
		case 'r': raw_mode = true; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	const char *bad = optind < argc ? "unexpected argument" :
			  !eo.key_file && !raw_mode ? "--key-file is required" :
			  so.port < 1 || so.port > 65535 ? "--port must be 1..65535" :
			  value_size < 0 || value_size > (1 << 19) ? "--value-size must be 0..524288" :
			  NULL;
	if (bad) {
		fprintf(stderr, "enc-server: %s\n", bad);
		return 2;
	}

	char err[256];
	struct adn_udf_ops ops = { 0 };
	if (eo.key_file && enc_make_ops(&eo, &ops, err, sizeof(err))) {
		fprintf(stderr, "enc-server: %s\n", err);
		return 1;
	}
	struct state *st = calloc(1, sizeof(*st));
	if (!st || !(st->value = malloc((size_t)value_size + 1)) ||
	    !(st->nonces = calloc(MAX_NONCES, sizeof(*st->nonces)))) {
		fprintf(stderr, "enc-server: out of memory\n");
		return 1;
	}
	st->value_size = (size_t)value_size;

	char what[64];
	snprintf(what, sizeof(what), "chain encrypt, %s",
		 raw_mode ? "raw: no decryption" : enc_cipher_name(eo.cipher));
	struct adn_server *s = ex_server_start(&so, "enc-server", handler, st,
					       raw_mode ? NULL : encrypt_app_chain(), "encrypt", &ops,
					       what);
	if (!s)
		return 1;

	int rc = ex_serve(s, "enc-server", so.stats_file, write_stats, st);
	free(st->nonces);
	free(st->value);
	free(st);
	return rc < 0 ? 1 : 0;
}
