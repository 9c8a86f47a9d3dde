/* SPDX-License-Identifier: MIT */
/* Helpers the example programs share: ex_util.h. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ex_util.h"

long ex_arg_long(const char *arg)
{
	char *end;
	long v = strtol(arg, &end, 10);
	return *end ? -1 : v;
}

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

int ex_server_opt(struct ex_server_opts *o, int c, const char *arg)
{
	switch (c) {
	case 'l': o->listen = arg; break;
	case 'U': o->udp = true; break;
	case 's': o->stats_file = arg; break;
	case 'N': o->no_register = true; break;
	default: return 0;
	}
	return 1;
}

struct adn_server *ex_server_start(const struct ex_server_opts *o, const char *prog,
				   adn_handler_fn handler, void *user,
				   const struct adn_app_chain *chain, const char *udf,
				   const struct adn_udf_ops *ops, const char *what)
{
	char err[256] = "";
	struct adn_server *s = adn_server_listen(o->listen, (uint16_t)o->port, handler, user, err,
						 sizeof(err));
	if (!s) {
		fprintf(stderr, "%s: %s\n", prog, err);
		return NULL;
	}
	if ((chain && ((!o->no_register && adn_server_udf_register(s, udf, ops)) ||
		       adn_server_use_chain(s, chain, err, sizeof(err)))) ||
	    (o->udp && adn_server_add_udp(s, err, sizeof(err)))) {
		fprintf(stderr, "%s: %s\n", prog, err);
		adn_server_close(s);
		return NULL;
	}
	ex_catch_stop();
	printf("%s: listening on %s:%u%s (%s)\n", prog, o->listen ? o->listen : "0.0.0.0",
	       adn_server_port(s), o->udp ? " tcp+udp" : "", what);
	fflush(stdout);
	return s;
}

/* ex_save_json's writer for ex_serve: the server's own, given ex_served. */
struct served_writer {
	ex_served_fn write;
	struct ex_served o;
};

static void write_served(FILE *f, const void *arg)
{
	const struct served_writer *w = arg;
	w->write(f, &w->o);
}

int ex_serve(struct adn_server *s, const char *prog, const char *stats_file, ex_served_fn write,
	     const void *state)
{
	int rc = adn_server_run(s, &ex_stop);
	if (rc < 0)
		fprintf(stderr, "%s: %s\n", prog, strerror(-rc));
	struct served_writer w = { .write = write,
				   .o = { .state = state, .last_error = adn_server_error(s) } };
	adn_server_get_stats(s, &w.o.ss);
	if (ex_save_json(prog, stats_file, write_served, &w))
		rc = -1;
	adn_server_close(s);
	return rc < 0 ? -1 : 0;
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

int ex_client_opt(struct ex_client_opts *o, int c, const char *arg)
{
	switch (c) {
	case 'H': o->host = arg; break;
	case 'p': o->port = ex_arg_long(arg); break;
	case 'U': o->udp = true; break;
	case 'u': o->user = arg; break;
	case 'n': o->count = ex_arg_long(arg); break;
	case 'm': o->method = arg; break;
	case 'S': o->size = ex_arg_long(arg); break;
	case 'O': o->outstanding = ex_arg_long(arg); break;
	case 't': o->timeout = ex_arg_long(arg); break;
	case 'j': o->json = true; break;
	case 'N': o->no_register = true; break;
	default: return 0;
	}
	return 1;
}

const char *ex_client_check(const struct ex_client_opts *o)
{
	static char size_msg[64];
	if (!o->user)
		return "--user is required";
	if (strlen(o->user) > 16)
		return "--user: at most 16 bytes";
	if (o->port < 1 || o->port > 65535)
		return "--port must be 1..65535";
	if (o->count < 0 || o->count > 10000000)
		return "--count must be 0..10000000";
	if (o->size < 0 || o->size > (1 << 19)) {
		snprintf(size_msg, sizeof(size_msg), "%s must be 0..524288", o->size_name);
		return size_msg;
	}
	if (o->outstanding < 1 || o->outstanding > 4096)
		return "--outstanding must be 1..4096";
	if (o->timeout < 1)
		return "--timeout must be >= 1";
	if (strcmp(o->method, "get") && strcmp(o->method, "put") && strcmp(o->method, "mixed"))
		return "--method must be get, put or mixed";
	return NULL;
}

struct adn_client *ex_client_open(const struct ex_client_opts *o, uint16_t layout, char *err,
				  size_t errlen)
{
	return o->udp ? adn_client_open_udp(o->host, (uint16_t)o->port, layout, err, errlen) :
			adn_client_open(o->host, (uint16_t)o->port, 1, layout, err, errlen);
}

bool ex_call_is_put(const char *method, long i)
{
	return !strcmp(method, "get") ? false : !strcmp(method, "put") ? true : i % 2;
}

bool ex_tally_count(struct ex_tally *t, int status, uint16_t flags)
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
	return status == ADN_OK;
}

void ex_tally_json_start(const struct ex_tally *t, long sent)
{
	printf("{\"sent\": %ld, \"ok\": %llu, \"status\": ", sent, (unsigned long long)t->ok);
	fflush(stdout);
	ex_status_json(stdout, t->by_status);
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
