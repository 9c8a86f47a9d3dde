/* SPDX-License-Identifier: MIT */
/* Drains the LOG tables (ring buffers) of an attached chain to JSON lines:
 * {"table":"logging.log","time":"...",...}, one object per record. */
#ifndef ADN_LOGDRAIN_H
#define ADN_LOGDRAIN_H

#include <stdio.h>

struct adn_err;
struct adn_log_drain;

/* Opens every RINGBUF pinned under the chain's directory. Records are
 * decoded by struct adn_rec__<element>__<table> of the chain's BTF. */
struct adn_log_drain *adn_log_drain_open(const char *chain, FILE *out, struct adn_err *err);
/* Consumes what is in the rings now (no waiting: the programs write with
 * BPF_RB_NO_WAKEUP). Returns the number of records written, or -errno. */
long adn_log_drain_once(struct adn_log_drain *d);
int adn_log_drain_rings(const struct adn_log_drain *d);
void adn_log_drain_close(struct adn_log_drain *d);

#endif
