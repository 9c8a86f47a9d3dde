/* SPDX-License-Identifier: MIT */
/*
 * enc-client: a kv client for the chain of elements/encrypt/encrypt.adn.
 * The chain's user-defined element `encrypt` runs here, in the RPC library
 * (adn_udf_aead): requests leave encrypted and authenticated, replies are
 * checked and decrypted, and get replies checked against the key's value
 * (enc_common.h). Keys k0..k99 in turn.
 *
 * --json prints {"sent", "ok", "status": {name: n}, "net_replies",
 * "local_data_loss", "lost", "bad_replies", "app_bytes", "wire_bytes",
 * "udf_errors", "seconds"}: local_data_loss are replies the library
 * refused (DATA_LOSS or UNAUTHENTICATED with ADN_RPC_F_LOCAL), lost the other calls that
 * got no reply. Exit 0 when every call completed with a status (any) and
 * every OK reply was right; 2 otherwise, or on a usage or setup error (one
 * line on stderr).
 */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "adn_rpc.h"
#include "encrypt_rpc.h"
#include "enc_common.h"
#include "../../examples/common/ex_util.h"

struct call {
	char key[32];
	uint16_t method;
};

/* R.local - R.local_data_loss: calls that got no reply (lost) */
static struct ex_tally R;

static void on_reply(void *user, uint32_t rpc_id, int status, uint16_t flags, const void *body,
		     size_t len)
{
	const struct call *c = user;
	(void)rpc_id;
	if (!ex_tally_count(&R, status, flags))
		return;
	if (c->method == KV_GET) {
		struct kv_get_response r;
		if (kv_get_response_decode(&r, body, len) || !r.found ||
		    !enc_check(r.value.ptr, r.value.len, c->key))
			R.bad_replies++;
	} else {
		struct kv_put_response r;
		if (kv_put_response_decode(&r, body, len) || !r.ok)
			R.bad_replies++;
	}
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: enc-client --key-file FILE [--cipher aes-256-gcm|chacha20-poly1305]\n"
		"                  [--host H] [--port P] [--udp] [--user U] [--count N]\n"
		"                  [--method get|put|mixed] [--value-size B] [--outstanding N]\n"
		"                  [--tamper-every N] [--no-register] [--plain] [--timeout S] [--json]\n"
		"  --key-file FILE    the AEAD key: 32 raw bytes or 64 hex digits, mode 600\n"
		"  --cipher C         default aes-256-gcm\n"
		"  --method M         get, put or mixed (alternating; default mixed)\n"
		"  --value-size B     bytes of each put value (default 256)\n"
		"  --tamper-every N   flip a bit in every N-th encrypted request (tests)\n"
		"  --no-register      register no implementation of 'encrypt' (tests: the\n"
		"                     library must refuse the chain)\n"
		"  --plain            open no chain: send plaintext (tests: a control for\n"
		"                     enc-server --raw)\n");
}

/* What issuing call i needs. */
struct run {
	struct call *calls;
	const char *method;
	char uname[16];
	uint8_t *value, *body;
	size_t value_size;
};

static long issue(struct adn_client *cl, long i, void *arg)
{
	struct run *r = arg;
	struct call *k = &r->calls[i];
	enc_key(k->key, (uint64_t)i);
	k->method = ex_call_is_put(r->method, i) ? KV_PUT : KV_GET;
	long n;
	if (k->method == KV_GET) {
		struct kv_get_request q;
		memcpy(q.username, r->uname, 16);
		memcpy(q.key, k->key, 32);
		n = kv_get_request_encode(&q, r->body, r->value_size + 128);
	} else {
		struct kv_put_request q;
		memcpy(q.username, r->uname, 16);
		memcpy(q.key, k->key, 32);
		enc_fill(r->value, r->value_size, k->key);
		q.value = (struct adn_bytes){ .ptr = r->value, .len = (uint32_t)r->value_size };
		n = kv_put_request_encode(&q, r->body, r->value_size + 128);
	}
	return n < 0 ? -EMSGSIZE : adn_client_call(cl, k->method, r->body, (size_t)n, on_reply, k);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		ENC_OPTIONS,
		EX_CLIENT_OPTIONS,
		{ "value-size", required_argument, NULL, 'S' },
		{ "plain", no_argument, NULL, 'P' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct ex_client_opts o = { .host = "127.0.0.1", .user = "alice", .method = "mixed",
				    .port = KV_PORT, .count = 1000, .size = 256,
				    .size_name = "--value-size", .outstanding = 16, .timeout = 10 };
	struct enc_opts eo = { .cipher = ADN_AEAD_AES_256_GCM };
	bool plain = false;
	int c;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		int e = enc_opt(&eo, c, optarg, "enc-client");
		if (e < 0)
			return 2;
		if (e || ex_client_opt(&o, c, optarg))
			continue;
		switch (c) {
		case 'P': plain = true; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	const char *bad = optind < argc ? "unexpected argument" :
			  !eo.key_file ? "--key-file is required" : ex_client_check(&o);
	if (bad) {
		fprintf(stderr, "enc-client: %s\n", bad);
		return 2;
	}

	char err[256];
	struct adn_udf_ops ops;
	if (enc_make_ops(&eo, &ops, err, sizeof(err))) {
		fprintf(stderr, "enc-client: %s\n", err);
		return 2;
	}
	struct adn_client *cl = ex_client_open(&o, (uint16_t)KV_LAYOUT_HASH, err, sizeof(err));
	if (!cl) {
		fprintf(stderr, "enc-client: %s\n", err);
		return 2;
	}
	if (!plain && ((!o.no_register && adn_client_udf_register(cl, "encrypt", &ops)) ||
		       adn_client_use_chain(cl, encrypt_app_chain(), err, sizeof(err)))) {
		fprintf(stderr, "enc-client: %s\n", err);
		adn_client_close(cl);
		return 2;
	}
	adn_client_set_timeout(cl, (unsigned)o.timeout * 1000u);

	long value_size = o.size, count = o.count;
	struct run run = { .method = o.method, .value_size = (size_t)value_size };
	memcpy(run.uname, o.user, strlen(o.user));
	run.value = malloc((size_t)value_size + 1);
	run.body = malloc((size_t)value_size + 128);
	run.calls = calloc((size_t)count + 1, sizeof(*run.calls));
	if (!run.value || !run.body || !run.calls) {
		fprintf(stderr, "enc-client: out of memory\n");
		return 2;
	}

	double secs;
	bool failed;
	long sent = ex_run_calls(cl, count, o.outstanding, issue, &run, "enc-client", &failed, &secs);
	int rc = failed ? 2 : 0;
	struct adn_client_stats cs;
	adn_client_get_stats(cl, &cs);
	uint64_t lost = R.local - R.local_data_loss;

	if (o.json) {
		ex_tally_json_start(&R, sent);
		printf(", \"net_replies\": %llu, \"local_data_loss\": %llu, \"lost\": %llu, "
		       "\"bad_replies\": %llu, \"app_bytes\": %llu, \"wire_bytes\": %llu, "
		       "\"udf_errors\": %llu, \"seconds\": %.3f}\n",
		       (unsigned long long)R.net_replies, (unsigned long long)R.local_data_loss,
		       (unsigned long long)lost, (unsigned long long)R.bad_replies,
		       (unsigned long long)cs.app_bytes, (unsigned long long)cs.wire_bytes,
		       (unsigned long long)cs.udf_errors, secs);
	} else {
		printf("enc-client: %ld calls, %llu ok, %llu answered by the network, %llu not "
		       "decryptable, %llu lost, %llu bad replies\n",
		       sent, (unsigned long long)R.ok, (unsigned long long)R.net_replies,
		       (unsigned long long)R.local_data_loss, (unsigned long long)lost,
		       (unsigned long long)R.bad_replies);
	}
	if (lost || R.bad_replies)
		rc = 2;
	adn_client_close(cl);
	free(run.value);
	free(run.body);
	free(run.calls);
	return rc;
}
