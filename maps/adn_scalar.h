/* SPDX-License-Identifier: MIT */
/* Text forms of the scalar types that carry meaning in BTF:
 * adn_real_t (32.32 fixed point), adn_time_t (CLOCK_MONOTONIC ns),
 * enumerator short names, JSON strings and SQL-quoted strings. */
#ifndef ADN_SCALAR_H
#define ADN_SCALAR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct btf;
struct adn_err;

/* adn_real_t: value = text * 2^32, rounded to nearest. Non-negative only. */
int adn_real_parse(const char *text, uint64_t *out);
/* Shortest decimal that parses back to the same value, at least one
 * fraction digit ("0.05", "1.0"). buf needs 32 bytes. */
void adn_real_format(uint64_t v, char *buf, size_t len);

/* adn_time_t: RFC 3339 UTC with nanoseconds ("2024-05-01T12:00:00.000000001Z"),
 * converted through the current CLOCK_REALTIME - CLOCK_MONOTONIC offset.
 * buf needs 40 bytes. */
void adn_time_format(uint64_t mono_ns, char *buf, size_t len);
/* Accepts the RFC 3339 form above (fraction optional, Z or +hh:mm) or a
 * plain integer of monotonic nanoseconds. */
int adn_time_parse(const char *text, uint64_t *mono_ns);
/* Pins the REALTIME - MONOTONIC offset (tests); 0 = measure again. */
void adn_time_set_offset_for_tests(int64_t offset_ns);

/* Enumerator "short name": the enumerator minus the prefix that all
 * enumerators of the enum share, cut at an underscore, lower case:
 * ADN_PERMISSION_DENIED -> "permission_denied", KV_GET -> "get". */
int adn_enum_name_by_value(const struct btf *btf, uint32_t enum_id, int64_t value,
			   char *buf, size_t len);
/* Finds the value by short name or full enumerator name (any case). */
int adn_enum_value_by_name(const struct btf *btf, uint32_t enum_id,
			   const char *name, int64_t *value);
/* Comma-separated list of the short names, for error messages. */
void adn_enum_names(const struct btf *btf, uint32_t enum_id, char *buf, size_t len);

/* Writes s[0..len) as a JSON string literal, escaping as RFC 8259 says. */
void adn_json_string(FILE *out, const char *s, size_t len);
/* Writes a string value for `col=value` text: bare when it is a plain word,
 * else single-quoted SQL style with '' for a quote. */
void adn_sql_string(FILE *out, const char *s, size_t len);

#endif
