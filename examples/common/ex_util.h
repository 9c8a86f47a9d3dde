/* SPDX-License-Identifier: MIT */
/*
 * What the example programs share (kv-server, s2-client, s2-server,
 * enc-client, enc-server, cache-server): stopping at SIGTERM/SIGINT, a
 * server's run until then and the JSON counters it writes at exit (written
 * whole or not at all), per-user counts, a client's common options, its
 * tally of replies and the loop that keeps N calls in flight.
 * Not part of the RPC library: small helpers of the examples and tests.
 */
#ifndef EX_UTIL_H
#define EX_UTIL_H

#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "adn_rpc.h"

/* ---- command line ----------------------------------------------------- */

/* arg as a decimal number (strtol); -1 when anything follows the digits,
 * so that the option's range check refuses it. */
long ex_arg_long(const char *arg);

/* ---- servers ---------------------------------------------------------- */

/* Set by SIGTERM and SIGINT once ex_catch_stop() ran: adn_server_run's stop. */
extern volatile sig_atomic_t ex_stop;
void ex_catch_stop(void);

/* s as a JSON string: its first n bytes, up to a NUL; '"' and '\' escaped,
 * bytes outside printable ASCII as \u00XX. */
void ex_json_string(FILE *f, const char *s, size_t n);

/* write(f, arg) into path through a temporary file renamed into place, so a
 * reader never sees half a file; to stderr when path is NULL. 0, or -1 with
 * one line "<prog>: cannot write ..." on stderr. */
int ex_save_json(const char *prog, const char *path, void (*write)(FILE *f, const void *arg),
		 const void *arg);

/* The options the example servers with a chain share (getopt_long entries
 * EX_SERVER_OPTIONS); --port each parses itself, into port. */
struct ex_server_opts {
	const char *listen, *stats_file; /* listen NULL: every IPv4 address */
	long port;
	bool udp, no_register;
};
#define EX_SERVER_OPTIONS                                         \
	{ "listen", required_argument, NULL, 'l' },               \
	{ "udp", no_argument, NULL, 'U' },                        \
	{ "stats-file", required_argument, NULL, 's' },           \
	{ "no-register", no_argument, NULL, 'N' }

/* Takes getopt_long's c when it is one of EX_SERVER_OPTIONS: 1, else 0. */
int ex_server_opt(struct ex_server_opts *o, int c, const char *arg);

/* A server of handler(user) on o->listen:o->port, with chain (NULL: none)
 * whose user-defined element udf runs ops (unless o->no_register), UDP too
 * with o->udp; then catches SIGTERM/SIGINT and prints "<prog>: listening on
 * ADDR:PORT[ tcp+udp] (<what>)". NULL on an error (one line on stderr). */
struct adn_server *ex_server_start(const struct ex_server_opts *o, const char *prog,
				   adn_handler_fn handler, void *user,
				   const struct adn_app_chain *chain, const char *udf,
				   const struct adn_udf_ops *ops, const char *what);

/* What a server's stats writer gets (ex_serve): its state and the
 * library's counters and last refusal (adn_server_error()) at exit. */
struct ex_served {
	const void *state;
	struct adn_server_stats ss;
	const char *last_error;
};
typedef void (*ex_served_fn)(FILE *f, const struct ex_served *o);

/* Runs s until SIGTERM/SIGINT (ex_catch_stop() ran before), then writes
 * write(f, {state, stats, last error}) to stats_file (ex_save_json) and
 * closes s. 0, or -1 when the loop or the write failed (one line on
 * stderr, "<prog>: ..."). */
int ex_serve(struct adn_server *s, const char *prog, const char *stats_file, ex_served_fn write,
	     const void *state);

/* Requests per user name (CHAR(16)), in the order first seen. */
#define EX_MAX_USERS 256
struct ex_users {
	struct {
		char name[16];
		uint64_t n;
	} u[EX_MAX_USERS];
	unsigned n;
};
/* Counts one request of user; -1 when the table is full (not counted). */
int ex_users_count(struct ex_users *t, const char user[16]);
/* {"alice": 3, ...} */
void ex_users_json(FILE *f, const struct ex_users *t);

/* ---- clients ---------------------------------------------------------- */

/* The options every example client takes (getopt_long entries
 * EX_CLIENT_OPTIONS), and its request body size option, whose entry the
 * client names itself with the letter 'S' (--value-size, --payload-size). */
struct ex_client_opts {
	const char *host, *user, *method; /* user NULL: --user is required */
	long port, count, outstanding, timeout;
	long size;             /* bytes of each request body's payload */
	const char *size_name; /* "--value-size" */
	bool udp, json, no_register;
};
#define EX_CLIENT_OPTIONS                                         \
	{ "host", required_argument, NULL, 'H' },                 \
	{ "port", required_argument, NULL, 'p' },                 \
	{ "udp", no_argument, NULL, 'U' },                        \
	{ "user", required_argument, NULL, 'u' },                 \
	{ "count", required_argument, NULL, 'n' },                \
	{ "method", required_argument, NULL, 'm' },               \
	{ "outstanding", required_argument, NULL, 'O' },          \
	{ "timeout", required_argument, NULL, 't' },              \
	{ "json", no_argument, NULL, 'j' },                       \
	{ "no-register", no_argument, NULL, 'N' }

/* Takes getopt_long's c when it is one of EX_CLIENT_OPTIONS or 'S': 1,
 * else 0 (the client's own option). */
int ex_client_opt(struct ex_client_opts *o, int c, const char *arg);
/* The first of o's values out of range, as "<option> must be ...", or NULL. */
const char *ex_client_check(const struct ex_client_opts *o);
/* A client of o->host:o->port (UDP with --udp), layout as adn_client_open. */
struct adn_client *ex_client_open(const struct ex_client_opts *o, uint16_t layout, char *err,
				  size_t errlen);
/* Whether call i (0, 1, ...) of --method get|put|mixed is a put (mixed:
 * the odd ones). */
bool ex_call_is_put(const char *method, long i);

struct ex_tally {
	uint64_t ok, net_replies, bad_replies;
	uint64_t local;           /* completed by the library (ADN_RPC_F_LOCAL) */
	uint64_t local_data_loss; /* ... with DATA_LOSS or UNAUTHENTICATED: a reply it refused */
	uint64_t by_status[ADN_STATUS_MAX + 1];
};
/* Counts one completion (status, flags of the reply callback); whether it
 * is OK (its body is then the client's to check). */
bool ex_tally_count(struct ex_tally *t, int status, uint16_t flags);
/* Prints {"sent": sent, "ok": ..., "status": {...} to stdout: the start of
 * a client's --json line, which the client continues. */
void ex_tally_json_start(const struct ex_tally *t, long sent);
/* {"permission_denied": 3, ...}: the non-OK statuses, names in lower case. */
void ex_status_json(FILE *f, const uint64_t by_status[ADN_STATUS_MAX + 1]);

/* Issues call i (0, 1, ...): adn_client_call's result. */
typedef long (*ex_call_fn)(struct adn_client *cl, long i, void *arg);

/* Keeps up to outstanding calls in flight until count calls were issued
 * and all of them completed. A call that cannot be issued stops issuing
 * (one line on stderr, "<prog>: call i: ..."); a poll error stops the
 * loop. Returns the calls issued; *failed is set on either error, *secs
 * is the time taken. */
long ex_run_calls(struct adn_client *cl, long count, long outstanding, ex_call_fn fn, void *arg,
		  const char *prog, bool *failed, double *secs);

#endif /* EX_UTIL_H */
