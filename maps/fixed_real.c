/* SPDX-License-Identifier: MIT */
/* adn_real_t: an unsigned 32.32 fixed-point number in a u64. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>

#include "adn_scalar.h"

#define FRAC_ONE ((unsigned __int128)1 << 32)
#define MAX_FRAC_DIGITS 19

/* round(digits / 10^ndigits * 2^32), as an integer 0..2^32 */
static uint64_t frac_to_fixed(uint64_t digits, int ndigits)
{
	unsigned __int128 pow10 = 1;

	for (int i = 0; i < ndigits; i++)
		pow10 *= 10;
	return (uint64_t)(((unsigned __int128)digits * FRAC_ONE + pow10 / 2) / pow10);
}

int adn_real_parse(const char *text, uint64_t *out)
{
	const char *p = text;
	unsigned __int128 whole = 0;
	uint64_t digits = 0;
	int ndigits = 0, seen = 0;

	if (*p == '+')
		p++;
	for (; isdigit((unsigned char)*p); p++, seen++) {
		whole = whole * 10 + (unsigned)(*p - '0');
		if (whole > UINT32_MAX)
			return -ERANGE;
	}
	if (*p == '.') {
		for (p++; isdigit((unsigned char)*p); p++, seen++) {
			/* digits past 10^-19 cannot change a 2^-32 result */
			if (ndigits < MAX_FRAC_DIGITS) {
				digits = digits * 10 + (unsigned)(*p - '0');
				ndigits++;
			}
		}
	}
	if (!seen || *p)
		return -EINVAL;
	unsigned __int128 v = (whole << 32) + frac_to_fixed(digits, ndigits);
	if (v > UINT64_MAX)
		return -ERANGE;
	*out = (uint64_t)v;
	return 0;
}

void adn_real_format(uint64_t v, char *buf, size_t len)
{
	uint64_t whole = v >> 32, frac = v & 0xffffffffu;
	uint64_t pow10 = 1;

	/* 10 decimal digits always suffice: 10^-10 < 2^-32 / 2 */
	for (int n = 1; n <= 10; n++) {
		pow10 *= 10;
		uint64_t digits = (uint64_t)(((unsigned __int128)frac * pow10 + FRAC_ONE / 2) >> 32);
		uint64_t w = whole;
		if (digits == pow10) { /* rounded up to the next integer */
			w++;
			digits = 0;
		}
		if (((w << 32) + frac_to_fixed(digits, n)) == v || n == 10) {
			snprintf(buf, len, "%llu.%0*llu", (unsigned long long)w, n,
				 (unsigned long long)digits);
			return;
		}
	}
}
