/* SPDX-License-Identifier: MIT */
/* What an attached chain consists of: `adn-load status`, `adnctl stats`. */
#ifndef ADN_STATUS_H
#define ADN_STATUS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

struct adn_err;

enum adn_status_parts {
	ADN_STATUS_PROGS = 1 << 0,
	ADN_STATUS_CGROUPS = 1 << 1,
	ADN_STATUS_MAPS = 1 << 2,
	ADN_STATUS_STATS = 1 << 3,
	ADN_STATUS_ALL = 0xf,
};

/* One chain (text, or one JSON object), or every chain when chain is NULL
 * (text, or a JSON array). */
int adn_status_print(FILE *out, const char *chain, unsigned parts, bool json,
		     struct adn_err *err);

/* The adn_stats member `name` summed over CPUs (e.g. "log_lost"). */
int adn_stats_counter(const char *chain, const char *name, uint64_t *value,
		      struct adn_err *err);

#endif
