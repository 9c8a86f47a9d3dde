/* SPDX-License-Identifier: MIT */
/*
 * Binary log files (adnctl log --format binary): the records exactly as the
 * eBPF programs wrote them, behind a header carrying the chain's BTF, so that
 * a file decodes anywhere, after the chain is gone. Decoding prints the same
 * JSON lines as the live drainer (adn_log_print_json).
 *
 *   "ADNLOG\0\1" | u32 btf_size | btf | u32 n_tables |
 *   n_tables x (u16 name_len | name | u32 record_type_id) |
 *   records: u16 table_index | u16 size | size bytes       (host byte order)
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/btf.h>

#include "adn_err.h"
#include "adn_logdrain.h"
#include "adn_row.h"

#define MAX_TABLES 64

struct table {
	char name[128];
	struct adn_cols rec;
};

static int read_exact(FILE *in, void *buf, size_t n)
{
	return fread(buf, 1, n, in) == n ? 0 : -1;
}

long adn_log_file_decode(FILE *in, FILE *out, struct adn_err *err)
{
	char magic[8];
	uint32_t btf_size, n;
	struct btf *btf = NULL;
	void *raw = NULL;
	struct table *t = NULL;
	long written = -1, records = 0;
	uint8_t buf[65536];

	if (read_exact(in, magic, sizeof(magic)) || memcmp(magic, ADN_LOG_FILE_MAGIC, 8)) {
		adn_err_set(err, EINVAL, "not an adn binary log file (bad magic)");
		return -1;
	}
	if (read_exact(in, &btf_size, sizeof(btf_size)) || btf_size == 0 || btf_size > (64u << 20) ||
	    !(raw = malloc(btf_size)) || read_exact(in, raw, btf_size)) {
		adn_err_set(err, EINVAL, "truncated header (BTF of %u bytes)", btf_size);
		goto out;
	}
	btf = btf__new(raw, btf_size);
	if (!btf) {
		adn_err_set(err, EINVAL, "the file's BTF does not parse: %s", strerror(errno));
		goto out;
	}
	if (read_exact(in, &n, sizeof(n)) || n == 0 || n > MAX_TABLES ||
	    !(t = calloc(n, sizeof(*t)))) {
		adn_err_set(err, EINVAL, "truncated header (table count)");
		goto out;
	}
	for (uint32_t i = 0; i < n; i++) {
		uint16_t len;
		uint32_t type_id;
		if (read_exact(in, &len, sizeof(len)) || len >= sizeof(t[i].name) ||
		    read_exact(in, t[i].name, len) || read_exact(in, &type_id, sizeof(type_id))) {
			adn_err_set(err, EINVAL, "truncated header (table %u)", i);
			goto out;
		}
		if (adn_cols_from_type(&t[i].rec, btf, type_id, "record", err))
			goto out;
	}
	for (;;) {
		uint16_t hdr[2];
		size_t got = fread(hdr, 1, sizeof(hdr), in);
		if (got == 0 && feof(in))
			break;
		if (got != sizeof(hdr) || hdr[0] >= n || read_exact(in, buf, hdr[1])) {
			adn_err_set(err, EINVAL, "truncated or corrupt record %ld", records + 1);
			goto out;
		}
		adn_log_print_json(out, t[hdr[0]].name, &t[hdr[0]].rec, buf, hdr[1]);
		records++;
	}
	written = records;
out:
	free(t);
	btf__free(btf);
	free(raw);
	return written;
}
