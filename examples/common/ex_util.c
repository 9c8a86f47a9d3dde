/* SPDX-License-Identifier: MIT */
/* Helpers the example programs share: ex_util.h. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ex_util.h"

volatile sig_atomic_t ex_stop;

static void on_stop(int sig)
{
	(void)sig;
	ex_stop = 1;
}

void ex_catch_stop(void)
{
	struct sigaction sa = { .sa_handler = on_stop };
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
}

void ex_json_string(FILE *f, const char *s, size_t n)
{
	fputc('"', f);
	for (size_t i = 0; i < n && s[i]; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (ch == '"' || ch == '\\')
			fprintf(f, "\\%c", ch);
		else if (ch < 0x20 || ch >= 0x7f)
			fprintf(f, "\\u%04x", ch);
		else
			fputc(ch, f);
	}
	fputc('"', f);
}

int ex_save_json(const char *prog, const char *path, void (*write)(FILE *f, const void *arg),
		 const void *arg)
{
	if (!path) {
		write(stderr, arg);
		return 0;
	}
	char tmp[4096];
	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp)) {
		fprintf(stderr, "%s: stats file path too long\n", prog);
		return -1;
	}
	FILE *f = fopen(tmp, "w");
	if (!f) {
		fprintf(stderr, "%s: cannot write %s: %s\n", prog, tmp, strerror(errno));
		return -1;
	}
	write(f, arg);
	if (fclose(f) || rename(tmp, path)) {
		fprintf(stderr, "%s: cannot write %s: %s\n", prog, path, strerror(errno));
		unlink(tmp);
		return -1;
	}
	return 0;
}

int ex_users_count(struct ex_users *t, const char user[16])
{
	unsigned i;
	for (i = 0; i < t->n; i++)
		if (!memcmp(t->u[i].name, user, 16))
			break;
	if (i == t->n) {
		if (t->n == EX_MAX_USERS)
			return -1;
		memcpy(t->u[t->n++].name, user, 16);
	}
	t->u[i].n++;
	return 0;
}

void ex_users_json(FILE *f, const struct ex_users *t)
{
	fputc('{', f);
	for (unsigned i = 0; i < t->n; i++) {
		fputs(i ? ", " : "", f);
		ex_json_string(f, t->u[i].name, 16);
		fprintf(f, ": %llu", (unsigned long long)t->u[i].n);
	}
	fputc('}', f);
}

void ex_tally_count(struct ex_tally *t, int status, uint16_t flags)
{
	if (status >= 0 && status <= ADN_STATUS_MAX)
		t->by_status[status]++;
	if (flags & ADN_RPC_F_LOCAL) {
		t->local++;
		if (status == ADN_DATA_LOSS || status == ADN_UNAUTHENTICATED)
			t->local_data_loss++;
	} else if (flags & ADN_F_NET_REPLY) {
		t->net_replies++;
	}
	if (status == ADN_OK)
		t->ok++;
}

void ex_status_json(FILE *f, const uint64_t by_status[ADN_STATUS_MAX + 1])
{
	bool first = true;
	fputc('{', f);
	for (int s = 1; s <= ADN_STATUS_MAX; s++) {
		if (!by_status[s])
			continue;
		char name[32];
		snprintf(name, sizeof(name), "%s", adn_status_name(s));
		for (char *p = name; *p; p++)
			if (*p >= 'A' && *p <= 'Z')
				*p = (char)(*p - 'A' + 'a');
		fprintf(f, "%s\"%s\": %llu", first ? "" : ", ", name, (unsigned long long)by_status[s]);
		first = false;
	}
	fputc('}', f);
}

long ex_run_calls(struct adn_client *cl, long count, long outstanding, ex_call_fn fn, void *arg,
		  const char *prog, bool *failed, double *secs)
{
	struct timespec t0, t1;
	long sent = 0;

	*failed = false;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (sent < count || adn_client_outstanding(cl)) {
		while (sent < count && adn_client_outstanding(cl) < (size_t)outstanding) {
			long id = fn(cl, sent, arg);
			if (id < 0) {
				fprintf(stderr, "%s: call %ld: %s%s%s\n", prog, sent, strerror((int)-id),
					*adn_client_error(cl) ? ": " : "", adn_client_error(cl));
				*failed = true;
				count = sent; /* stop issuing; let the others finish */
				break;
			}
			sent++;
		}
		int n = adn_client_poll(cl, 100);
		if (n < 0) {
			fprintf(stderr, "%s: poll: %s\n", prog, strerror(-n));
			*failed = true;
			break;
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	*secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	return sent;
}
