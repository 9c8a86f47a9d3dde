/* SPDX-License-Identifier: MIT */
#include <errno.h>
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

static int on_record(void *ctx, void *data, size_t size)
{
	struct ring *r = ctx;
	bool first = false;

	fputs("{\"table\":", r->out);
	adn_json_string(r->out, r->table, strlen(r->table));
	if (size < r->rec.size)
		fprintf(r->out, ",\"error\":\"record of %zu bytes, struct has %u\"", size, r->rec.size);
	else
		adn_cols_print(r->out, &r->rec, data, ADN_STYLE_JSON, &first);
	fputs("}\n", r->out);
	(*r->written)++;
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
