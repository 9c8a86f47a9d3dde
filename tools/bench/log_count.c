/* SPDX-License-Identifier: MIT */
/* log-count FILE [FROM]: the number of records in a binary log file
 * (`adnctl log --format binary`, docs/adnctl.md "Binary log files") that
 * start at byte FROM or later (default 0), and nothing else.
 *
 * tools/bench/run.sh counts the records each measured run added to the
 * drained log. `adnctl log-decode FILE | wc -l` does the same, but decodes
 * every record into JSON (~1-2 µs a record: ~20 s for the ~14 M records of
 * one pipelined run); this walks the record headers only.
 *
 * Format (host byte order):
 *   "ADNLOG\0\1" | u32 btf_size | BTF | u32 n_tables |
 *   n_tables x (u16 name_len | name | u32 record_type_id) |
 *   records: u16 table_index | u16 size | size bytes
 * A record cut short at the end of the file (the drainer still writing) is
 * not counted. Exit: 0, 1 usage, 2 not a log file or unreadable. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static uint32_t u32_at(const unsigned char *p)
{
	uint32_t v;
	memcpy(&v, p, sizeof(v));
	return v;
}

static uint16_t u16_at(const unsigned char *p)
{
	uint16_t v;
	memcpy(&v, p, sizeof(v));
	return v;
}

static int bad(const char *path, const char *what)
{
	fprintf(stderr, "log-count: %s: %s\n", path, what);
	return 2;
}

int main(int argc, char **argv)
{
	if (argc < 2 || argc > 3) {
		fprintf(stderr, "usage: log-count FILE [FROM-BYTE]\n");
		return 1;
	}
	const char *path = argv[1];
	char *end = NULL;
	unsigned long long from = argc == 3 ? strtoull(argv[2], &end, 10) : 0;
	if (argc == 3 && (!*argv[2] || *end)) {
		fprintf(stderr, "log-count: FROM-BYTE '%s' is not a number\n", argv[2]);
		return 1;
	}
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st))
		return bad(path, strerror(errno));
	size_t size = (size_t)st.st_size, off = 0;
	if (size < 16)
		return bad(path, "shorter than a log file header");
	const unsigned char *p = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (p == MAP_FAILED)
		return bad(path, strerror(errno));
	madvise((void *)p, size, MADV_SEQUENTIAL);
	if (memcmp(p, "ADNLOG\0\1", 8))
		return bad(path, "not a binary adn log (bad magic)");
	off = 8;
	uint32_t btf = u32_at(p + off);
	off += 4;
	if (btf > size - off || size - off - btf < 4)
		return bad(path, "header cut short (BTF)");
	off += btf;
	uint32_t n = u32_at(p + off);
	off += 4;
	for (uint32_t i = 0; i < n; i++) {
		if (size - off < 2)
			return bad(path, "header cut short (tables)");
		uint16_t len = u16_at(p + off);
		if (size - off - 2 < (size_t)len + 4)
			return bad(path, "header cut short (tables)");
		off += 2 + (size_t)len + 4;
	}
	unsigned long long count = 0;
	while (size - off >= 4) {
		uint16_t idx = u16_at(p + off), rsz = u16_at(p + off + 2);
		if (idx >= n) {
			fprintf(stderr, "log-count: %s: record at byte %zu names table %u of %u\n", path,
				off, idx, n);
			return 2;
		}
		if (size - off - 4 < rsz)
			break; /* the last record, still being written */
		if (off >= from)
			count++;
		off += 4 + (size_t)rsz;
	}
	printf("%llu\n", count);
	return 0;
}
