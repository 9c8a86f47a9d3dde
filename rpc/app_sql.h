/* SPDX-License-Identifier: MIT */
/* SQL elements placed in the application (IN APP), run by the client's RPC
 * library with the reference interpreter (app_sql.c; docs/rpc-library.md
 * "SQL elements in the application"); not part of the public API. */
#ifndef ADN_APP_SQL_H
#define ADN_APP_SQL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "adn_rpc.h"

struct adn_client;
struct adn_app_sql;

/* Compiles chain->source in-process (the front end of adnc, placement
 * with chain->forced_app, reordering at chain->opt_level) and checks that
 * it gives the layout of the header (chain->layout_hash) and, unless 0,
 * the client's (layout). NULL with one line in err. */
struct adn_app_sql *adn_app_sql_new(const struct adn_app_chain *chain, uint16_t layout,
				    char *err, size_t errlen);
void adn_app_sql_free(struct adn_app_sql *a);
void adn_app_sql_set_log(struct adn_app_sql *a, FILE *out);

/* The request sides of the elements at app, in execution order, on the
 * network fields of a request (body: the caller's, left untouched) that
 * will carry rpc_id. 0: pass, *out is body or (rewritten) a copy in a's
 * buffer; else the drop status of the element that dropped it. Bodies
 * shorter than the network fields pass untouched (the server refuses them). */
int adn_app_sql_request(struct adn_app_sql *a, uint32_t rpc_id, uint16_t method, uint16_t layout,
			const void *body, size_t len, const void **out);
/* The response sides (reverse order) on a response: the status the caller
 * sees (h->status unless an element changed it; a network reply's status
 * is never changed, as in the kernel). */
int adn_app_sql_response(struct adn_app_sql *a, const struct adn_hdr *h, const uint8_t *body,
			 size_t len);

/* client.c: the request side of adn_client_call. 0: send body/len (maybe
 * rewritten), > 0: the call completed locally (its id), < 0: -errno. */
long adn_cl_app_sql_call(struct adn_client *c, uint16_t method, const void **body, size_t len,
			 adn_reply_fn fn, void *user);
/* Runs the callbacks of calls completed locally (from the poll loops). */
void adn_cl_app_sql_complete(struct adn_client *c);
/* Calls dropped in the app whose callbacks have not run yet. */
bool adn_app_sql_pending(const struct adn_app_sql *a);

#endif /* ADN_APP_SQL_H */
