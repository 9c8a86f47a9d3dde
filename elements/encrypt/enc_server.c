/* SPDX-License-Identifier: MIT */
/*
 * enc-server: a kv server for the chain of elements/encrypt/encrypt.adn,
 * whose user-defined element `encrypt` runs in the RPC library
 * (adn_udf_aead): put requests arrive encrypted and the library decrypts
 * them before the handler (a message whose tag does not verify is answered
 * DATA_LOSS without running the handler); get responses leave encrypted.
 * `put` checks that the value is the key's (enc_common.h); `get` returns it.
 *
 * --raw opens no chain: the handler sees request bodies as they came off
 * the wire and checks that they are not plaintext: the marker never
 * appears, the length is the plaintext's + 28 (nonce and tag), and no two
 * messages share a nonce.
 *
 * At SIGTERM/SIGINT it writes JSON: {"handled", "invalid", "bad_payload",
 * "udf_errors", "wire_bytes", "app_bytes", "raw", "plaintext_seen",
 * "bad_length", "nonce_repeats", "by_user": {...}}.
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

#define MAX_USERS 256
#define MAX_NONCES (1u << 20)

struct state {
	struct {
		char name[16];
		uint64_t n;
	} users[MAX_USERS];
	unsigned n_users;
	uint64_t handled, invalid, bad_payload, uncounted;
	uint64_t raw, plaintext_seen, bad_length;
	size_t value_size;
	uint8_t *value; /* scratch for get responses */
	uint8_t (*nonces)[ADN_AEAD_NONCE_LEN];
	size_t n_nonces;
};

static void count(struct state *st, const char user[16])
{
	unsigned i;
	st->handled++;
	for (i = 0; i < st->n_users; i++)
		if (!memcmp(st->users[i].name, user, 16))
			break;
	if (i == st->n_users && st->n_users < MAX_USERS)
		memcpy(st->users[st->n_users++].name, user, 16);
	if (i < st->n_users)
		st->users[i].n++;
	else
		st->uncounted++;
}

/* --raw: body as on the wire: network fields (req_keep bytes), then
 * nonce || ciphertext || tag of the rest. */
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
	if (len != keep + 32 + 4 + st->value_size + ADN_AEAD_OVERHEAD)
		st->bad_length++;
	if (len >= keep + ADN_AEAD_NONCE_LEN && st->n_nonces < MAX_NONCES)
		memcpy(st->nonces[st->n_nonces++], req + keep, ADN_AEAD_NONCE_LEN);
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

static void write_stats(FILE *f, struct state *st, const struct adn_server_stats *ss)
{
	uint64_t repeats = 0;
	qsort(st->nonces, st->n_nonces, ADN_AEAD_NONCE_LEN, cmp_nonce);
	for (size_t i = 1; i < st->n_nonces; i++)
		repeats += !memcmp(st->nonces[i - 1], st->nonces[i], ADN_AEAD_NONCE_LEN);
	fprintf(f,
		"{\"handled\": %llu, \"invalid\": %llu, \"bad_payload\": %llu, \"uncounted\": %llu, "
		"\"udf_errors\": %llu, \"wire_bytes\": %llu, \"app_bytes\": %llu, \"raw\": %llu, "
		"\"plaintext_seen\": %llu, \"bad_length\": %llu, \"nonces\": %zu, \"nonce_repeats\": %llu, "
		"\"by_user\": {",
		(unsigned long long)st->handled, (unsigned long long)st->invalid,
		(unsigned long long)st->bad_payload, (unsigned long long)st->uncounted,
		(unsigned long long)ss->udf_errors, (unsigned long long)ss->wire_bytes,
		(unsigned long long)ss->app_bytes, (unsigned long long)st->raw,
		(unsigned long long)st->plaintext_seen, (unsigned long long)st->bad_length,
		st->n_nonces, (unsigned long long)repeats);
	for (unsigned i = 0; i < st->n_users; i++) {
		fprintf(f, "%s\"", i ? ", " : "");
		for (size_t j = 0; j < 16 && st->users[i].name[j]; j++) {
			unsigned char ch = (unsigned char)st->users[i].name[j];
			if (ch == '"' || ch == '\\' || ch < 0x20 || ch >= 0x7f)
				fprintf(f, "\\u%04x", ch);
			else
				fputc(ch, f);
		}
		fprintf(f, "\": %llu", (unsigned long long)st->users[i].n);
	}
	fputs("}}\n", f);
}

static int save_stats(const char *path, struct state *st, const struct adn_server_stats *ss)
{
	if (!path) {
		write_stats(stderr, st, ss);
		return 0;
	}
	char tmp[4096];
	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
		return -1;
	FILE *f = fopen(tmp, "w");
	if (!f) {
		fprintf(stderr, "enc-server: cannot write %s: %s\n", tmp, strerror(errno));
		return -1;
	}
	write_stats(f, st, ss);
	if (fclose(f) || rename(tmp, path)) {
		fprintf(stderr, "enc-server: cannot write %s: %s\n", path, strerror(errno));
		unlink(tmp);
		return -1;
	}
	return 0;
}

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
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
		{ "key-file", required_argument, NULL, 'k' },
		{ "cipher", required_argument, NULL, 'c' },
		{ "listen", required_argument, NULL, 'l' },
		{ "port", required_argument, NULL, 'p' },
		{ "udp", no_argument, NULL, 'U' },
		{ "value-size", required_argument, NULL, 'v' },
		{ "tamper-every", required_argument, NULL, 'T' },
		{ "raw", no_argument, NULL, 'r' },
		{ "no-register", no_argument, NULL, 'N' },
		{ "stats-file", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *listen_addr = NULL, *stats_file = NULL, *key_file = NULL;
	long port = KV_PORT, value_size = 256, tamper = 0;
	enum adn_aead_cipher cipher = ADN_AEAD_AES_256_GCM;
	bool udp = false, no_register = false;
	char *end;
	int c;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'k': key_file = optarg; break;
		case 'c':
			if (enc_cipher(optarg, &cipher)) {
				fprintf(stderr, "enc-server: --cipher: aes-256-gcm or chacha20-poly1305\n");
				return 2;
			}
			break;
		case 'l': listen_addr = optarg; break;
		case 'p': port = strtol(optarg, &end, 10); if (*end) port = -1; break;
		case 'U': udp = true; break;
		case 'v': value_size = strtol(optarg, &end, 10); if (*end) value_size = -1; break;
		case 'T': tamper = strtol(optarg, &end, 10); if (*end) tamper = -1; break;
		case 'r': raw_mode = true; break;
		case 'N': no_register = true; break;
		case 's': stats_file = optarg; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	const char *bad = optind < argc ? "unexpected argument" :
			  !key_file && !raw_mode ? "--key-file is required" :
			  port < 1 || port > 65535 ? "--port must be 1..65535" :
			  value_size < 0 || value_size > (1 << 19) ? "--value-size must be 0..524288" :
			  tamper < 0 ? "--tamper-every must be >= 0" : NULL;
	if (bad) {
		fprintf(stderr, "enc-server: %s\n", bad);
		return 2;
	}

	char err[256];
	static struct adn_aead_key key;
	static struct enc_tamper tw;
	if (key_file && adn_aead_key_load(&key, cipher, key_file, err, sizeof(err))) {
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

	struct adn_server *s = adn_server_listen(listen_addr, (uint16_t)port, handler, st, err,
						 sizeof(err));
	if (!s) {
		fprintf(stderr, "enc-server: %s\n", err);
		return 1;
	}
	tw.inner = adn_udf_aead(&key);
	tw.every = (unsigned)tamper;
	struct adn_udf_ops ops = { .encode = enc_tamper_encode, .decode = enc_tamper_decode, .ctx = &tw };
	if ((!raw_mode && ((!no_register && adn_server_udf_register(s, "encrypt", &ops)) ||
			   adn_server_use_chain(s, encrypt_app_chain(), err, sizeof(err)))) ||
	    (udp && adn_server_add_udp(s, err, sizeof(err)))) {
		fprintf(stderr, "enc-server: %s\n", err);
		adn_server_close(s);
		return 1;
	}
	struct sigaction sa = { .sa_handler = on_signal };
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	printf("enc-server: listening on %s:%u%s (chain encrypt, %s)\n",
	       listen_addr ? listen_addr : "0.0.0.0", adn_server_port(s), udp ? " tcp+udp" : "",
	       raw_mode ? "raw: no decryption" :
	       cipher == ADN_AEAD_AES_256_GCM ? "aes-256-gcm" : "chacha20-poly1305");
	fflush(stdout);

	int rc = adn_server_run(s, &stop);
	if (rc < 0)
		fprintf(stderr, "enc-server: %s\n", strerror(-rc));
	struct adn_server_stats ss;
	adn_server_get_stats(s, &ss);
	if (save_stats(stats_file, st, &ss))
		rc = -1;
	adn_server_close(s);
	free(st->nonces);
	free(st->value);
	free(st);
	return rc < 0 ? 1 : 0;
}
