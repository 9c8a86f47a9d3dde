/* SPDX-License-Identifier: MIT */
/* User-defined elements run by the library (udf.c), shared by the client
 * and the server; not part of the public API. */
#ifndef ADN_UDF_INTERNAL_H
#define ADN_UDF_INTERNAL_H

#include <stdbool.h>

#include "rpc_internal.h"

#define ADN_UDF_MAX 16

struct adn_udf_set {
	struct {
		char *name;
		struct adn_udf_ops ops;
	} reg[ADN_UDF_MAX];
	unsigned nreg;
	const struct adn_app_chain *chain;   /* NULL until use_chain */
	const struct adn_udf_ops *run[ADN_UDF_MAX]; /* per chain element */
	void *state[ADN_UDF_MAX];            /* per chain element: ops->new_state */
	/* ADN_FRAME_MAX each: 0-1 encode, 2-3 decode, so that a reply
	 * callback reading a decoded body may issue calls (encode) */
	uint8_t *buf[4];
	char why[160];                       /* the last failure */
	int status;                          /* ... and the status to answer for it */
};

int adn_udf_register(struct adn_udf_set **u, const char *name, const struct adn_udf_ops *ops);
int adn_udf_bind(struct adn_udf_set **u, const struct adn_app_chain *chain, uint16_t layout,
		 char *err, size_t errlen);
void adn_udf_free(struct adn_udf_set *u);

/* Does any element of the chain run on this method's requests
 * (ADN_APP_REQUEST) / responses (ADN_APP_RESPONSE)? */
bool adn_udf_applies(const struct adn_udf_set *u, unsigned dir, uint16_t method);

/* Runs the chain's elements on one body: encode (in chain order) or
 * decode (in reverse) for direction dir of method. Request bodies keep
 * their first chain->req_keep bytes. Returns the result, which is body
 * itself when no element applies, else one of u's buffers (valid until
 * the next call in the same direction, encode or decode); *out_len its length. NULL when an element failed
 * (u->why says which, and how; u->status the status to answer: DATA_LOSS, or
 * what the element chose, e.g. UNAUTHENTICATED for a replayed message). */
const uint8_t *adn_udf_run(struct adn_udf_set *u, unsigned dir, bool encode, uint16_t method,
			   uint32_t rpc_id, const uint8_t *body, size_t len, size_t *out_len);

/* The clock of adn_udf_aead (udf_aead.c): milliseconds of CLOCK_REALTIME;
 * tests replace it to make stale and future messages. */
extern uint64_t (*adn_aead_now_ms)(void);

#endif /* ADN_UDF_INTERNAL_H */
