/* SPDX-License-Identifier: MIT */
/* adn_time_t: the eBPF side stamps CLOCK_MONOTONIC ns (bpf_ktime_get_ns);
 * users read wall-clock time. The conversion uses the offset between the two
 * clocks now, so it is off by any NTP step since the stamp was taken. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "adn_scalar.h"

#define NS_PER_SEC 1000000000LL

static int64_t pinned_offset;
static int offset_pinned;

static int64_t ts_ns(const struct timespec *ts)
{
	return (int64_t)ts->tv_sec * NS_PER_SEC + ts->tv_nsec;
}

/* REALTIME - MONOTONIC, sampled as REALTIME around a MONOTONIC reading. */
static int64_t realtime_offset(void)
{
	struct timespec r1, m, r2;
	static int64_t measured;
	static int have_measured;

	if (offset_pinned)
		return pinned_offset;
	/* once per process: every row of one listing uses the same offset */
	if (have_measured)
		return measured;
	clock_gettime(CLOCK_REALTIME, &r1);
	clock_gettime(CLOCK_MONOTONIC, &m);
	clock_gettime(CLOCK_REALTIME, &r2);
	measured = ts_ns(&r1) + (ts_ns(&r2) - ts_ns(&r1)) / 2 - ts_ns(&m);
	have_measured = 1;
	return measured;
}

void adn_time_set_offset_for_tests(int64_t offset_ns)
{
	pinned_offset = offset_ns;
	offset_pinned = offset_ns != 0;
}

void adn_time_format(uint64_t mono_ns, char *buf, size_t len)
{
	int64_t wall = (int64_t)mono_ns + realtime_offset();
	time_t sec = (time_t)(wall / NS_PER_SEC);
	long nsec = (long)(wall % NS_PER_SEC);
	struct tm tm;

	if (nsec < 0) {
		nsec += NS_PER_SEC;
		sec--;
	}
	gmtime_r(&sec, &tm);
	snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%09ldZ", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, nsec);
}

static int parse_digits(const char **p, int n, int *out)
{
	int v = 0;

	for (int i = 0; i < n; i++, (*p)++) {
		if (!isdigit((unsigned char)**p))
			return -EINVAL;
		v = v * 10 + (**p - '0');
	}
	*out = v;
	return 0;
}

static int expect(const char **p, char c)
{
	if (**p != c && !(c == 'T' && (**p == 't' || **p == ' ')))
		return -EINVAL;
	(*p)++;
	return 0;
}

int adn_time_parse(const char *text, uint64_t *mono_ns)
{
	const char *p = text;
	struct tm tm = { 0 };
	int year, mon, day, hour, min, sec, off_h, off_m;
	int64_t nsec = 0, offset = 0;

	if (*text && strspn(text, "0123456789") == strlen(text)) {
		errno = 0;
		unsigned long long v = strtoull(text, NULL, 10);
		if (errno)
			return -ERANGE;
		*mono_ns = v;
		return 0;
	}
	if (parse_digits(&p, 4, &year) || expect(&p, '-') || parse_digits(&p, 2, &mon) ||
	    expect(&p, '-') || parse_digits(&p, 2, &day) || expect(&p, 'T') ||
	    parse_digits(&p, 2, &hour) || expect(&p, ':') || parse_digits(&p, 2, &min) ||
	    expect(&p, ':') || parse_digits(&p, 2, &sec))
		return -EINVAL;
	if (*p == '.') {
		int n = 0;
		for (p++; isdigit((unsigned char)*p); p++, n++)
			if (n < 9)
				nsec = nsec * 10 + (*p - '0');
		if (!n)
			return -EINVAL;
		for (; n < 9; n++)
			nsec *= 10;
	}
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		int sign = *p++ == '-' ? -1 : 1;
		if (parse_digits(&p, 2, &off_h) || expect(&p, ':') || parse_digits(&p, 2, &off_m))
			return -EINVAL;
		offset = sign * ((int64_t)off_h * 3600 + off_m * 60);
	} else {
		return -EINVAL;
	}
	if (*p || mon < 1 || mon > 12 || day < 1 || day > 31 || hour > 23 || min > 59 || sec > 60)
		return -EINVAL;
	tm.tm_year = year - 1900;
	tm.tm_mon = mon - 1;
	tm.tm_mday = day;
	tm.tm_hour = hour;
	tm.tm_min = min;
	tm.tm_sec = sec;
	int64_t wall = ((int64_t)timegm(&tm) - offset) * NS_PER_SEC + nsec;
	int64_t mono = wall - realtime_offset();
	if (mono < 0)
		return -ERANGE; /* before boot: not representable */
	*mono_ns = (uint64_t)mono;
	return 0;
}
