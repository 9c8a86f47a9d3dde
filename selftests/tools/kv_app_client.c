/* SPDX-License-Identifier: MIT */
/*
 * kv_app_client: a kv client that opens the in-app side of
 * selftests/progs/kv_app.adn (the kv chain with acl IN APP, built into
 * build/kv_app/kv_rpc.h), so the RPC library runs acl in this process with
 * the reference interpreter (docs/rpc-library.md "SQL elements in the
 * application"). selftests/kernel/test_place_app.sh compares what it sees
 * with kv-client's outcomes when acl runs in the kernel.
 *
 *   kv_app_client --port N [--host H] [--user NAME] [--count N]
 *                 [--outstanding K] [--method get|put] [--timeout S]
 *                 [--no-chain] [--app-log FILE]
 *
 * --no-chain skips adn_client_use_chain (the library then runs no app
 * element: a control). --app-log writes the app elements' LOG records.
 * Prints one JSON object:
 *   {"sent": N, "completed": N, "ok": N, "status": {"permission_denied": N, ...},
 *    "local": N, "local_status": {...}, "net_replies": N, "server_replies": N}
 * "local": calls the library completed itself (ADN_RPC_F_LOCAL: an app
 * element dropped them, or no reply came), "net_replies": replies the
 * network made (ADN_F_NET_REPLY), "server_replies": the rest.
 * Exit: 0 every call completed, 1 usage, 2 cannot connect / use the chain,
 * or calls left without a completion.
 */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adn_rpc.h"
#include "kv_rpc.h"

#define MAX_OUTSTANDING 4096u

struct counts {
	unsigned long long sent, completed, ok, local, net_replies, server_replies;
	unsigned long long by_status[256], local_by_status[256];
};

static struct counts cnt;
static unsigned long inflight;

static void on_reply(void *user, uint32_t id, int status, uint16_t flags, const void *body,
		     size_t len)
{
	(void)user;
	(void)id;
	(void)body;
	(void)len;
	cnt.completed++;
	inflight--;
	cnt.by_status[status & 0xff]++;
	if (status == ADN_OK)
		cnt.ok++;
	if (flags & ADN_RPC_F_LOCAL) {
		cnt.local++;
		cnt.local_by_status[status & 0xff]++;
	} else if (flags & ADN_F_NET_REPLY) {
		cnt.net_replies++;
	} else {
		cnt.server_replies++;
	}
}

static void lower(char *dst, const char *src, size_t cap)
{
	size_t i = 0;
	for (; src[i] && i + 1 < cap; i++)
		dst[i] = (char)(src[i] >= 'A' && src[i] <= 'Z' ? src[i] - 'A' + 'a' : src[i]);
	dst[i] = 0;
}

static void print_statuses(const unsigned long long *by)
{
	char name[32];
	const char *sep = "";
	putchar('{');
	for (int s = 1; s < 256; s++) {
		if (!by[s])
			continue;
		lower(name, adn_status_name(s), sizeof(name));
		printf("%s\"%s\": %llu", sep, name, by[s]);
		sep = ", ";
	}
	putchar('}');
}

static long encode(bool put, const char *user, unsigned long long i, uint8_t *buf, size_t cap)
{
	char key[32] = { 0 };
	snprintf(key, sizeof(key), "k%llu", i % 1000);
	if (put) {
		static const uint8_t value[8] = "vvvvvvv";
		struct kv_put_request m = { .value = { .ptr = value, .len = sizeof(value) } };
		memcpy(m.username, user, sizeof(m.username));
		memcpy(m.key, key, sizeof(m.key));
		return kv_put_request_encode(&m, buf, cap);
	}
	struct kv_get_request m;
	memcpy(m.username, user, sizeof(m.username));
	memcpy(m.key, key, sizeof(m.key));
	return kv_get_request_encode(&m, buf, cap);
}

static int usage(void)
{
	fprintf(stderr, "usage: kv_app_client --port N [--host H] [--user NAME] [--count N] "
			"[--outstanding K] [--method get|put] [--timeout S] [--no-chain] "
			"[--app-log FILE]\n");
	return 1;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "host", required_argument, NULL, 'H' },   { "port", required_argument, NULL, 'p' },
		{ "user", required_argument, NULL, 'u' },   { "count", required_argument, NULL, 'n' },
		{ "outstanding", required_argument, NULL, 'k' },
		{ "method", required_argument, NULL, 'm' }, { "timeout", required_argument, NULL, 't' },
		{ "no-chain", no_argument, NULL, 'C' },     { "app-log", required_argument, NULL, 'L' },
		{ 0 },
	};
	const char *host = "127.0.0.1", *app_log = NULL;
	char user[16] = "alice";
	unsigned long port = 0, outstanding = 64, timeout_s = 5;
	unsigned long long count = 1000;
	bool put = false, use_chain = true;
	int opt;

	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case 'H':
			host = optarg;
			break;
		case 'p':
			port = strtoul(optarg, NULL, 10);
			break;
		case 'u':
			if (strlen(optarg) > sizeof(user))
				return usage();
			memset(user, 0, sizeof(user));
			memcpy(user, optarg, strlen(optarg));
			break;
		case 'n':
			count = strtoull(optarg, NULL, 10);
			break;
		case 'k':
			outstanding = strtoul(optarg, NULL, 10);
			break;
		case 'm':
			if (!strcmp(optarg, "put"))
				put = true;
			else if (strcmp(optarg, "get"))
				return usage();
			break;
		case 't':
			timeout_s = strtoul(optarg, NULL, 10);
			break;
		case 'C':
			use_chain = false;
			break;
		case 'L':
			app_log = optarg;
			break;
		default:
			return usage();
		}
	}
	if (optind < argc || !port || port > 65535 || !count || !outstanding ||
	    outstanding > MAX_OUTSTANDING)
		return usage();

	char err[256];
	struct adn_client *c = adn_client_open(host, (uint16_t)port, 1, (uint16_t)KV_LAYOUT_HASH, err,
					       sizeof(err));
	if (!c) {
		fprintf(stderr, "kv_app_client: %s\n", err);
		return 2;
	}
	if (use_chain && adn_client_use_chain(c, kv_app_chain(), err, sizeof(err))) {
		fprintf(stderr, "kv_app_client: %s\n", err);
		return 2;
	}
	FILE *logf = NULL;
	if (app_log) {
		logf = fopen(app_log, "w");
		if (!logf) {
			fprintf(stderr, "kv_app_client: %s: %s\n", app_log, strerror(errno));
			return 2;
		}
		adn_client_app_log(c, logf);
	}
	adn_client_set_timeout(c, (unsigned)(timeout_s * 1000));

	uint8_t buf[256];
	bool stopped = false;
	for (;;) {
		while (!stopped && cnt.sent < count && inflight < outstanding) {
			long len = encode(put, user, cnt.sent, buf, sizeof(buf));
			long id = len < 0 ? -EMSGSIZE :
					    adn_client_call(c, put ? KV_PUT : KV_GET, buf, (size_t)len,
							    on_reply, NULL);
			if (id == -ENOBUFS)
				break;
			if (id < 0) {
				fprintf(stderr, "kv_app_client: call: %s (%s)\n", strerror((int)-id),
					adn_client_error(c));
				stopped = true;
				break;
			}
			cnt.sent++;
			inflight++;
		}
		if (!adn_client_outstanding(c) && (stopped || cnt.sent >= count))
			break;
		int n = adn_client_poll(c, 100);
		if (n < 0) {
			fprintf(stderr, "kv_app_client: poll: %s\n", strerror(-n));
			break;
		}
	}

	printf("{\"sent\": %llu, \"completed\": %llu, \"ok\": %llu, \"status\": ", cnt.sent,
	       cnt.completed, cnt.ok);
	print_statuses(cnt.by_status);
	printf(", \"local\": %llu, \"local_status\": ", cnt.local);
	print_statuses(cnt.local_by_status);
	printf(", \"net_replies\": %llu, \"server_replies\": %llu}\n", cnt.net_replies,
	       cnt.server_replies);
	fflush(stdout);
	adn_client_close(c);
	if (logf)
		fclose(logf);
	return stopped || cnt.completed != cnt.sent ? 2 : 0;
}
