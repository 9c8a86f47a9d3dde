/* SPDX-License-Identifier: MIT */
/*
 * The chain's elements that run in the application, as the generated
 * application header (<chain>_rpc.h, <chain>_app_chain()) describes them to
 * the RPC library (rpc/adn_rpc.h: adn_client_use_chain, adn_server_use_chain):
 * user-defined elements (IMPLEMENTED IN APP, docs/rpc-library.md
 * "User-defined elements") and SQL elements placed IN APP ("SQL elements in
 * the application").
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
	/* SQL elements placed in the application (IN APP, adnc --place E=app):
	 * the client's RPC library compiles the chain's source in-process and
	 * runs them with the reference interpreter (docs/rpc-library.md "SQL
	 * elements in the application"). n_sql 0 (headers of chains without
	 * them, and headers generated before this field): the rest is unused. */
	unsigned n_sql;
	const char *source;        /* the .adn file's text */
	const char *source_file;   /* its name, for messages */
	const char *const *forced_app; /* elements adnc --place/--hook put at app */
	unsigned n_forced_app;
	int opt_level;             /* adnc -O (the execution order) */
};

#endif /* ADN_APP_H */
