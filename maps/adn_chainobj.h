/* SPDX-License-Identifier: MIT */
/* A chain's object file kept in its pinned map adn_obj (maps/chain_obj.c). */
#ifndef ADN_CHAINOBJ_H
#define ADN_CHAINOBJ_H

#include <stddef.h>

struct adn_err;
struct adn_meta;

/* A new (unpinned) map holding elf[0..len). */
int adn_chain_obj_create(const void *elf, size_t len, int *fd, struct adn_err *err);
/* The object of an attached chain; free *elf. */
int adn_chain_obj_get(const char *chain, void **elf, size_t *len, struct adn_err *err);
int adn_meta_read_mem(struct adn_meta *meta, const void *buf, size_t len, struct adn_err *err);
/* .adn.meta of an attached chain, from adn_obj. */
int adn_chain_meta(const char *chain, struct adn_meta *meta, struct adn_err *err);

#endif
