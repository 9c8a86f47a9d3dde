/* SPDX-License-Identifier: MIT */
/*
 * What the example programs share (kv-server, s2-client, s2-server,
 * enc-client, enc-server): stopping at SIGTERM/SIGINT, the JSON counters a
 * server writes at exit (written whole or not at all), per-user counts, a
 * client's tally of replies and the loop that keeps N calls in flight.
 * Not part of the RPC library: small helpers of the examples and tests.
 */
#ifndef EX_UTIL_H
#define EX_UTIL_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "adn_rpc.h"

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

struct ex_tally {
	uint64_t ok, net_replies, bad_replies;
	uint64_t local;           /* completed by the library (ADN_RPC_F_LOCAL) */
	uint64_t local_data_loss; /* ... with DATA_LOSS or UNAUTHENTICATED: a reply it refused */
	uint64_t by_status[ADN_STATUS_MAX + 1];
};
/* Counts one completion (status, flags of the reply callback). */
void ex_tally_count(struct ex_tally *t, int status, uint16_t flags);
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
