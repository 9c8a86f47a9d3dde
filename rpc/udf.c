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
	if (!name || !*name || !ops || !ops->encode || !ops->decode)
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
	u->chain = chain;
	return 0;
}

void adn_udf_free(struct adn_udf_set *u)
{
	if (!u)
		return;
	for (unsigned i = 0; i < u->nreg; i++)
		free(u->reg[i].name);
	for (int k = 0; k < 4; k++)
		free(u->buf[k]);
	free(u);
}

static bool elem_applies(const struct adn_app_chain *c, unsigned i, unsigned dir, uint16_t method)
{
	return method >= 1 && method <= c->n_methods && (c->elems[i].dirs[method] & dir);
}

bool adn_udf_applies(const struct adn_udf_set *u, unsigned dir, uint16_t method)
{
	if (!u || !u->chain)
		return false;
	for (unsigned i = 0; i < u->chain->n_elems; i++)
		if (elem_applies(u->chain, i, dir, method))
			return true;
	return false;
}

const uint8_t *adn_udf_run(struct adn_udf_set *u, unsigned dir, bool encode, uint16_t method,
			   const uint8_t *body, size_t len, size_t *out_len)
{
	const struct adn_app_chain *c = u ? u->chain : NULL;
	const uint8_t *cur = body;
	size_t cur_len = len, keep;
	int which = 0;

	*out_len = len;
	if (!c)
		return body;
	keep = dir == ADN_APP_REQUEST ? c->req_keep : 0;
	if (len < keep || len > UDF_BUF)
		return body; /* shorter than the network fields: nothing to do */
	for (unsigned k = 0; k < c->n_elems; k++) {
		unsigned i = encode ? k : c->n_elems - 1 - k;
		if (!elem_applies(c, i, dir, method))
			continue;
		const struct adn_udf_ops *ops = u->run[i];
		uint8_t *dst = u->buf[(encode ? 0 : 2) + which];
		long n = (encode ? ops->encode : ops->decode)(ops->ctx, cur + keep, cur_len - keep,
							      dst + keep, UDF_BUF - keep);
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
