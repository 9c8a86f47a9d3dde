/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "adn_chaindir.h"
#include "adn_err.h"
#include "adn_logdrain.h"
#include "adn_pinned.h"
#include "adn_row.h"
#include "adn_scalar.h"

#define MAX_RINGS 64

struct ring {
	int fd;
	char table[128]; /* "logging.log" */
	struct adn_cols rec;
	uint32_t type_id; /* of the record struct in the chain's BTF */
	uint16_t index;   /* in the binary file */
	bool binary;
	FILE *out;
	long *written;
};

struct adn_log_drain {
	struct btf *btf;
	struct ring_buffer *rb;
	struct ring ring[MAX_RINGS];
	int n;
	long written;
	FILE *out;
	struct adn_err *err; /* during open */
};

void adn_log_print_json(FILE *out, const char *table, const struct adn_cols *rec,
			const void *data, size_t size)
{
	bool first = false;

	fputs("{\"table\":", out);
	adn_json_string(out, table, strlen(table));
	if (size < rec->size)
		fprintf(out, ",\"error\":\"record of %zu bytes, struct has %u\"", size, rec->size);
	else
		adn_cols_print(out, rec, data, ADN_STYLE_JSON, &first);
	fputs("}\n", out);
}

static int on_record(void *ctx, void *data, size_t size)
{
	struct ring *r = ctx;

	if (r->binary) {
		/* the record as the program wrote it: decoded later, off the
		 * hot path (adn_log_file_decode) */
		uint16_t hdr[2] = { r->index, (uint16_t)size };
		fwrite(hdr, sizeof(hdr), 1, r->out);
		fwrite(data, 1, size, r->out);
	} else {
		adn_log_print_json(r->out, r->table, &r->rec, data, size);
	}
	(*r->written)++;
	return 0;
}

int adn_log_drain_binary(struct adn_log_drain *d, struct adn_err *err)
{
	uint32_t btf_size = 0;
	const void *raw = btf__raw_data(d->btf, &btf_size);

	if (!raw)
		return adn_err_set(err, EINVAL, "the chain's BTF cannot be serialised");
	/* header: magic, the chain's BTF, then per LOG table its name and
	 * record type; see docs/adnctl.md "Binary log files" */
	uint32_t n = (uint32_t)d->n;
	fwrite(ADN_LOG_FILE_MAGIC, 1, 8, d->out);
	fwrite(&btf_size, sizeof(btf_size), 1, d->out);
	fwrite(raw, 1, btf_size, d->out);
	fwrite(&n, sizeof(n), 1, d->out);
	for (int i = 0; i < d->n; i++) {
		uint16_t len = (uint16_t)strlen(d->ring[i].table);
		fwrite(&len, sizeof(len), 1, d->out);
		fwrite(d->ring[i].table, 1, len, d->out);
		fwrite(&d->ring[i].type_id, sizeof(uint32_t), 1, d->out);
		d->ring[i].binary = true;
	}
	if (fflush(d->out))
		return adn_err_set(err, errno, "write: %s", strerror(errno));
	return 0;
}

static int add_ring(const char *rel, const char *path, void *ctx)
{
	struct adn_log_drain *d = ctx;
	struct bpf_map_info info;
	char rec_name[192];
	int fd, id, rc;

	if (!strncmp(rel, "prog_", 5) || !strncmp(rel, "link_", 5))
		return 0;
	fd = bpf_obj_get(path);
	if (fd < 0)
		return 0;
	if (adn_map_info(fd, &info) || info.type != BPF_MAP_TYPE_RINGBUF) {
		close(fd);
		return 0;
	}
	if (d->n == MAX_RINGS) {
		close(fd);
		return adn_err_set(d->err, E2BIG, "more than %d LOG tables", MAX_RINGS);
	}
	struct ring *r = &d->ring[d->n];
	r->fd = fd;
	r->out = d->out;
	r->written = &d->written;
	d->n++; /* closed by adn_log_drain_close from here on */
	/* pin "logging/log" -> table "logging.log", struct adn_rec__logging__log */
	snprintf(r->table, sizeof(r->table), "%s", rel);
	char *slash = strchr(r->table, '/');
	if (slash)
		*slash = '.';
	const char *rel_slash = strchr(rel, '/');
	if (rel_slash)
		snprintf(rec_name, sizeof(rec_name), "adn_rec__%.*s__%s", (int)(rel_slash - rel), rel,
			 rel_slash + 1);
	else
		snprintf(rec_name, sizeof(rec_name), "adn_rec__%s", rel);
	id = btf__find_by_name_kind(d->btf, rec_name, BTF_KIND_STRUCT);
	if (id <= 0)
		return adn_err_set(d->err, ENOENT, "LOG table %s: the chain's BTF has no struct %s",
				   r->table, rec_name);
	r->type_id = (uint32_t)id;
	r->index = (uint16_t)(d->n - 1);
	rc = adn_cols_from_type(&r->rec, d->btf, (uint32_t)id, "record", d->err);
	if (rc)
		return rc;
	if (!d->rb) {
		d->rb = ring_buffer__new(fd, on_record, r, NULL);
		if (!d->rb)
			return adn_err_set(d->err, errno, "LOG table %s: %s", r->table, strerror(errno));
	} else if ((rc = ring_buffer__add(d->rb, fd, on_record, r))) {
		return adn_err_set(d->err, -rc, "LOG table %s: %s", r->table, strerror(-rc));
	}
	return 0;
}

struct adn_log_drain *adn_log_drain_open(const char *chain, FILE *out, struct adn_err *err)
{
	struct adn_log_drain *d = calloc(1, sizeof(*d));

	if (!d) {
		adn_err_set(err, ENOMEM, "out of memory");
		return NULL;
	}
	d->out = out;
	d->err = err;
	if (!adn_chain_exists(chain)) {
		adn_err_set(err, ENOENT, "chain %s is not attached (no %s/%s)", chain, ADN_PIN_ROOT,
			    chain);
		goto fail;
	}
	d->btf = adn_chain_btf(chain, err);
	if (!d->btf || adn_chain_walk(chain, add_ring, d, err))
		goto fail;
	if (!d->n) {
		adn_err_set(err, ENOENT, "chain %s has no LOG tables", chain);
		goto fail;
	}
	d->err = NULL;
	return d;
fail:
	adn_log_drain_close(d);
	return NULL;
}

long adn_log_drain_once(struct adn_log_drain *d)
{
	long before = d->written;
	int rc = ring_buffer__consume(d->rb);

	if (rc < 0)
		return rc;
	return d->written - before;
}

int adn_log_drain_rings(const struct adn_log_drain *d)
{
	return d->n;
}

void adn_log_drain_close(struct adn_log_drain *d)
{
	if (!d)
		return;
	ring_buffer__free(d->rb);
	for (int i = 0; i < d->n; i++)
		close(d->ring[i].fd);
	btf__free(d->btf);
	free(d);
}
