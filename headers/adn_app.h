/* SPDX-License-Identifier: MIT */
/*
 * The chain's user-defined elements (IMPLEMENTED IN APP), as the generated
 * application header (<chain>_rpc.h, <chain>_app_chain()) describes them to
 * the RPC library (rpc/adn_rpc.h: adn_client_use_chain, adn_server_use_chain).
 * docs/rpc-library.md "User-defined elements".
 */
#ifndef ADN_APP_H
#define ADN_APP_H

#include <stdint.h>

/* dirs[method] bits: the element runs on that method's requests /
 * responses (the method carries a field the chain binds it to). */
#define ADN_APP_REQUEST 1u
#define ADN_APP_RESPONSE 2u

struct adn_app_element {
	const char *name;     /* the element's name: the key of its implementation */
	const uint8_t *dirs;  /* [0 .. n_methods], indexed by method id (1..n) */
};

struct adn_app_chain {
	const char *chain;        /* the chain's name (for messages) */
	uint32_t layout_hash;     /* <SERVICE>_LAYOUT_HASH */
	uint32_t req_keep;        /* request body bytes never transformed: the network fields */
	unsigned n_methods;
	unsigned n_elems;
	const struct adn_app_element *elems; /* in chain order; NULL if none */
};

#endif /* ADN_APP_H */
