/* SPDX-License-Identifier: MIT */
/* Drains the LOG tables (ring buffers) of an attached chain to JSON lines:
 * {"table":"logging.log","time":"...",...}, one object per record. */
#ifndef ADN_LOGDRAIN_H
#define ADN_LOGDRAIN_H

#include <stddef.h>
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
/* Switch to the binary file format (writes its header now): records are
 * written as the programs made them, ~20x cheaper than JSON, and decoded
 * later with adn_log_file_decode. */
int adn_log_drain_binary(struct adn_log_drain *d, struct adn_err *err);

#define ADN_LOG_FILE_MAGIC "ADNLOG\0\1"

struct adn_cols;
/* One record as a JSON line: {"table": ..., columns by BTF}. */
void adn_log_print_json(FILE *out, const char *table, const struct adn_cols *rec,
			const void *data, size_t size);
/* Decode a binary log file to JSON lines. Returns records written, or -1
 * (err set: not a log file, truncated, BTF unreadable). */
long adn_log_file_decode(FILE *in, FILE *out, struct adn_err *err);
void adn_log_drain_close(struct adn_log_drain *d);

#endif
