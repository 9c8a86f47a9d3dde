/* SPDX-License-Identifier: MIT */
/*
 * User-defined elements (IMPLEMENTED IN APP) in the RPC library: a small
 * registry of implementations per client or server, bound to the chain's
 * description from the generated header (headers/adn_app.h), and the code
 * that runs them over a body. docs/rpc-library.md "User-defined elements".
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "udf_internal.h"

#define UDF_BUF ADN_FRAME_MAX

static struct adn_udf_set *get_set(struct adn_udf_set **u)
{
	if (!*u)
		*u = calloc(1, sizeof(**u));
	return *u;
}

int adn_udf_register(struct adn_udf_set **up, const char *name, const struct adn_udf_ops *ops)
{
	if (!name || !*name || !ops)
		return -EINVAL;
	bool plain = ops->encode && ops->decode, msg = ops->encode_msg && ops->decode_msg;
	if (!plain && !msg)
		return -EINVAL;
	struct adn_udf_set *u = get_set(up);
	if (!u)
		return -ENOMEM;
	for (unsigned i = 0; i < u->nreg; i++)
		if (!strcmp(u->reg[i].name, name))
			return -EEXIST;
	if (u->nreg == ADN_UDF_MAX)
		return -ENOSPC;
	char *n = strdup(name);
	if (!n)
		return -ENOMEM;
	u->reg[u->nreg].name = n;
	u->reg[u->nreg].ops = *ops;
	u->nreg++;
	return 0;
}

/* Releases the states of the chain's first n elements. */
static void free_states(struct adn_udf_set *u, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		if (u->state[i] && u->run[i]->free_state)
			u->run[i]->free_state(u->state[i]);
		u->state[i] = NULL;
	}
}

int adn_udf_bind(struct adn_udf_set **up, const struct adn_app_chain *chain, uint16_t layout,
		 char *err, size_t errlen)
{
	if (!chain || (chain->n_elems && !chain->elems)) {
		adn_errf(err, errlen, "no chain description given");
		return -1;
	}
	const char *cn = chain->chain ? chain->chain : "?";
	if (chain->n_elems > ADN_UDF_MAX) {
		adn_errf(err, errlen, "chain '%s': %u user-defined elements, at most %u", cn,
			 chain->n_elems, ADN_UDF_MAX);
		return -1;
	}
	/* layout 0: "not checked" (docs/internals.md §1) */
	if (layout && layout != (uint16_t)chain->layout_hash) {
		adn_errf(err, errlen, "chain '%s' has layout 0x%04x, but this end was opened with layout 0x%04x",
			 cn, (unsigned)(uint16_t)chain->layout_hash, (unsigned)layout);
		return -1;
	}
	struct adn_udf_set *u = get_set(up);
	if (!u) {
		adn_errf(err, errlen, "out of memory");
		return -1;
	}
	if (u->chain) {
		adn_errf(err, errlen, "chain '%s': a chain is already in use", cn);
		return -1;
	}
	for (unsigned i = 0; i < chain->n_elems; i++) {
		const char *en = chain->elems[i].name;
		u->run[i] = NULL;
		for (unsigned j = 0; en && j < u->nreg; j++)
			if (!strcmp(u->reg[j].name, en))
				u->run[i] = &u->reg[j].ops;
		if (!u->run[i]) {
			adn_errf(err, errlen,
				 "chain '%s': element '%s' is IMPLEMENTED IN APP but has no registered implementation (adn_*_udf_register)",
				 cn, en ? en : "?");
			return -1;
		}
	}
	if (chain->n_elems) {
		for (int k = 0; k < 4; k++)
			if (!u->buf[k] && !(u->buf[k] = malloc(UDF_BUF))) {
				adn_errf(err, errlen, "out of memory");
				return -1;
			}
	}
	/* each element's state in this client / server, last: nothing fails after */
	for (unsigned i = 0; i < chain->n_elems; i++) {
		if (!u->run[i]->new_state)
			continue;
		if (!(u->state[i] = u->run[i]->new_state(u->run[i]->ctx))) {
			free_states(u, i);
			adn_errf(err, errlen, "chain '%s': element '%s': out of memory", cn,
				 chain->elems[i].name);
			return -1;
		}
	}
	u->chain = chain;
	return 0;
}

void adn_udf_free(struct adn_udf_set *u)
{
	if (!u)
		return;
	if (u->chain)
		free_states(u, u->chain->n_elems);
	for (unsigned i = 0; i < u->nreg; i++)
		free(u->reg[i].name);
	for (int k = 0; k < 4; k++)
		free(u->buf[k]);
	free(u);
}

/* An element with ADN_UDF_F_BOTH_SIDES runs on both sides of a method
 * that carries its field on either. */
static bool elem_applies(const struct adn_udf_set *u, unsigned i, unsigned dir, uint16_t method)
{
	const struct adn_app_chain *c = u->chain;
	if (method < 1 || method > c->n_methods)
		return false;
	unsigned d = c->elems[i].dirs[method];
	if (d && (u->run[i]->flags & ADN_UDF_F_BOTH_SIDES))
		d = ADN_APP_REQUEST | ADN_APP_RESPONSE;
	return d & dir;
}

bool adn_udf_applies(const struct adn_udf_set *u, unsigned dir, uint16_t method)
{
	if (!u || !u->chain)
		return false;
	for (unsigned i = 0; i < u->chain->n_elems; i++)
		if (elem_applies(u, i, dir, method))
			return true;
	return false;
}

/* One element over the bytes after keep. */
static long run_one(struct adn_udf_set *u, unsigned i, unsigned dir, bool encode, uint16_t method,
		    uint32_t rpc_id, const uint8_t *cur, size_t cur_len, size_t keep, uint8_t *dst)
{
	const struct adn_udf_ops *ops = u->run[i];
	if (!ops->encode_msg)
		return (encode ? ops->encode : ops->decode)(ops->ctx, cur + keep, cur_len - keep,
							    dst + keep, UDF_BUF - keep);
	struct adn_udf_msg m = {
		.dir = dir, .method = method, .rpc_id = rpc_id, .chain = u->chain->chain,
		.layout = u->chain->layout_hash,
		.clear = keep ? cur : NULL, .clear_len = keep, .state = u->state[i],
		.status = ADN_DATA_LOSS,
	};
	long n = (encode ? ops->encode_msg : ops->decode_msg)(ops->ctx, &m, cur + keep, cur_len - keep,
							       dst + keep, UDF_BUF - keep);
	if (n < 0) {
		u->status = m.status > ADN_OK && m.status <= ADN_STATUS_MAX ? m.status : ADN_DATA_LOSS;
		if (m.why[0]) {
			m.why[sizeof(m.why) - 1] = 0;
			snprintf(u->why, sizeof(u->why), "element '%s' refused the %s body of %zu bytes: %s",
				 u->chain->elems[i].name, dir == ADN_APP_REQUEST ? "request" : "response",
				 cur_len, m.why);
			return -2; /* why is set */
		}
	}
	return n;
}

const uint8_t *adn_udf_run(struct adn_udf_set *u, unsigned dir, bool encode, uint16_t method,
			   uint32_t rpc_id, const uint8_t *body, size_t len, size_t *out_len)
{
	const struct adn_app_chain *c = u ? u->chain : NULL;
	const uint8_t *cur = body;
	size_t cur_len = len, keep;
	int which = 0;

	*out_len = len;
	if (!c)
		return body;
	u->status = ADN_DATA_LOSS;
	keep = dir == ADN_APP_REQUEST ? c->req_keep : 0;
	if (len < keep || len > UDF_BUF) {
		/* shorter than the network fields: nothing to do, unless an
		 * element authenticates (a body cut short must not slip by) */
		for (unsigned i = 0; i < c->n_elems; i++)
			if (elem_applies(u, i, dir, method) && u->run[i]->encode_msg) {
				snprintf(u->why, sizeof(u->why),
					 "element '%s' could not %s the %s body of %zu bytes: shorter than the network fields (%zu)",
					 c->elems[i].name, encode ? "encode" : "decode",
					 dir == ADN_APP_REQUEST ? "request" : "response", len, keep);
				return NULL;
			}
		return body;
	}
	for (unsigned k = 0; k < c->n_elems; k++) {
		unsigned i = encode ? k : c->n_elems - 1 - k;
		if (!elem_applies(u, i, dir, method))
			continue;
		uint8_t *dst = u->buf[(encode ? 0 : 2) + which];
		long n = run_one(u, i, dir, encode, method, rpc_id, cur, cur_len, keep, dst);
		if (n == -2)
			return NULL;
		if (n < 0 || (size_t)n > UDF_BUF - keep) {
			snprintf(u->why, sizeof(u->why), "element '%s' could not %s the %s body of %zu bytes",
				 c->elems[i].name, encode ? "encode" : "decode",
				 dir == ADN_APP_REQUEST ? "request" : "response", cur_len);
			return NULL;
		}
		memcpy(dst, cur, keep);
		cur = dst;
		cur_len = keep + (size_t)n;
		which ^= 1;
	}
	*out_len = cur_len;
	return cur;
}
