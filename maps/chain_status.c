/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "adn_chaindir.h"
#include "adn_err.h"
#include "adn_pinned.h"
#include "adn_scalar.h"
#include "adn_status.h"

struct status_ctx {
	FILE *out;
	bool json;
	bool first; /* JSON: no comma before the first array element */
	unsigned kind; /* the part being printed */
};

static int obj_info(const char *path, void *info, __u32 len)
{
	int fd = bpf_obj_get(path), rc = 0;

	if (fd < 0)
		return -errno;
	memset(info, 0, len);
	if (bpf_obj_get_info_by_fd(fd, info, &len))
		rc = -errno;
	close(fd);
	return rc;
}

static void json_sep(struct status_ctx *c)
{
	if (!c->first)
		fputc(',', c->out);
	c->first = false;
}

static int print_prog(const char *rel, const char *path, void *ctx)
{
	struct status_ctx *c = ctx;
	struct bpf_prog_info info;

	if (strncmp(rel, "prog_", 5))
		return 0;
	if (obj_info(path, &info, sizeof(info)))
		return 0;
	const char *type = libbpf_bpf_prog_type_str(info.type);
	if (c->json) {
		json_sep(c);
		fprintf(c->out, "{\"pin\":\"%s\",\"prog_id\":%u,\"type\":\"%s\",\"name\":\"%s\","
			"\"xlated_bytes\":%u,\"jited_bytes\":%u}",
			rel, info.id, type ? type : "?", info.name, info.xlated_prog_len,
			info.jited_prog_len);
	} else {
		fprintf(c->out, "    %-14s id %-6u %-8s %-16s xlated %uB  jited %uB\n", rel, info.id,
			type ? type : "?", info.name, info.xlated_prog_len, info.jited_prog_len);
	}
	return 0;
}

static int print_link(const char *rel, const char *path, void *ctx)
{
	struct status_ctx *c = ctx;
	struct bpf_link_info info;
	char cg[4096] = "?";

	if (strncmp(rel, "link_", 5))
		return 0;
	if (obj_info(path, &info, sizeof(info)))
		return 0;
	bool is_cgroup = info.type == BPF_LINK_TYPE_CGROUP;
	if (is_cgroup && adn_cgroup_path_by_id(info.cgroup.cgroup_id, cg, sizeof(cg)))
		snprintf(cg, sizeof(cg), "?");
	if (c->json) {
		json_sep(c);
		fprintf(c->out, "{\"pin\":\"%s\",\"link_id\":%u,\"prog_id\":%u,\"cgroup_id\":%" PRIu64 ",\"path\":",
			rel, info.id, info.prog_id,
			is_cgroup ? (uint64_t)info.cgroup.cgroup_id : 0);
		adn_json_string(c->out, cg, strlen(cg));
		fputc('}', c->out);
	} else {
		fprintf(c->out, "    %-14s link %-6u prog %-6u cgroup %" PRIu64 " %s\n", rel, info.id,
			info.prog_id, is_cgroup ? (uint64_t)info.cgroup.cgroup_id : 0, cg);
	}
	return 0;
}

/* Rows in a hash map: walk the keys (the kernel keeps no count). */
static long count_entries(int fd, const struct bpf_map_info *info)
{
	void *key, *next;
	long n = 0;

	if (info->type == BPF_MAP_TYPE_ARRAY || info->type == BPF_MAP_TYPE_PERCPU_ARRAY)
		return info->max_entries;
	if (info->type == BPF_MAP_TYPE_RINGBUF || info->type == BPF_MAP_TYPE_SK_STORAGE ||
	    info->type == BPF_MAP_TYPE_INODE_STORAGE || info->type == BPF_MAP_TYPE_TASK_STORAGE)
		return -1; /* no count to show: not iterable from userspace */
	key = calloc(1, info->key_size ? info->key_size : 1);
	next = calloc(1, info->key_size ? info->key_size : 1);
	if (key && next && !bpf_map_get_next_key(fd, NULL, next)) {
		do {
			n++;
			memcpy(key, next, info->key_size);
		} while (!bpf_map_get_next_key(fd, key, next));
	}
	free(key);
	free(next);
	return n;
}

static int print_map(const char *rel, const char *path, void *ctx)
{
	struct status_ctx *c = ctx;
	struct bpf_map_info info;
	int fd;

	if (!strncmp(rel, "prog_", 5) || !strncmp(rel, "link_", 5))
		return 0;
	fd = bpf_obj_get(path);
	if (fd < 0)
		return 0;
	if (adn_map_info(fd, &info)) {
		close(fd);
		return 0;
	}
	long entries = count_entries(fd, &info);
	close(fd);
	const char *type = libbpf_bpf_map_type_str(info.type);
	if (c->json) {
		json_sep(c);
		fprintf(c->out, "{\"pin\":\"%s\",\"map_id\":%u,\"type\":\"%s\",\"name\":\"%s\","
			"\"key_size\":%u,\"value_size\":%u,\"max_entries\":%u",
			rel, info.id, type ? type : "?", info.name, info.key_size,
			info.value_size, info.max_entries);
		if (entries >= 0)
			fprintf(c->out, ",\"entries\":%ld", entries);
		fputc('}', c->out);
	} else if (entries >= 0) {
		fprintf(c->out, "    %-14s id %-6u %-14s entries %ld/%u\n", rel, info.id,
			type ? type : "?", entries, info.max_entries);
	} else if (info.type == BPF_MAP_TYPE_RINGBUF) {
		fprintf(c->out, "    %-14s id %-6u %-14s size %u bytes\n", rel, info.id,
			type ? type : "?", info.max_entries);
	} else {
		fprintf(c->out, "    %-14s id %-6u %s\n", rel, info.id, type ? type : "?");
	}
	return 0;
}

/* adn_stats summed over CPUs, into a buffer described by t->rt.val. */
static void *read_stats(struct adn_table *t, const char *chain, struct adn_err *err)
{
	int ncpus = libbpf_num_possible_cpus();
	size_t stride;
	__u32 zero = 0;
	void *percpu, *sum;

	if (adn_table_open_pin(t, chain, "adn_stats", "adn_stats", err))
		return NULL;
	stride = adn_percpu_stride(t->info.value_size);
	if (ncpus < 1 || t->info.type != BPF_MAP_TYPE_PERCPU_ARRAY) {
		adn_err_set(err, EINVAL, "%s: not a per-CPU array", t->path);
		return NULL;
	}
	percpu = calloc((size_t)ncpus, stride);
	sum = calloc(1, t->info.value_size);
	if (!percpu || !sum || bpf_map_lookup_elem(t->fd, &zero, percpu)) {
		adn_err_set(err, errno, "%s: lookup: %s", t->path, strerror(errno));
		free(percpu);
		free(sum);
		return NULL;
	}
	adn_cols_sum_percpu(&t->rt.val, percpu, ncpus, stride, sum);
	free(percpu);
	return sum;
}

int adn_stats_counter(const char *chain, const char *name, uint64_t *value,
		      struct adn_err *err)
{
	struct adn_table t;
	void *sum = read_stats(&t, chain, err);
	int rc = 0;

	if (!sum) {
		adn_table_close(&t);
		return -ENOENT;
	}
	int i = adn_cols_find(&t.rt.val, name);
	if (i < 0 || t.rt.val.col[i].kind != ADN_COL_INT) {
		rc = adn_err_set(err, ENOENT, "struct adn_stats has no counter %s", name);
	} else {
		uint64_t v = 0;
		memcpy(&v, (char *)sum + t.rt.val.col[i].offset, t.rt.val.col[i].size); /* little-endian */
		*value = v;
	}
	free(sum);
	adn_table_close(&t);
	return rc;
}

static void print_stats(struct status_ctx *c, const char *chain)
{
	struct adn_table t;
	struct adn_err err;
	bool first = true;
	void *sum = read_stats(&t, chain, &err);

	if (!sum) {
		if (c->json)
			fputs("null", c->out);
		else
			fprintf(c->out, "    (%s)\n", err.msg);
		adn_table_close(&t);
		return;
	}
	if (c->json) {
		fputc('{', c->out);
		adn_cols_print(c->out, &t.rt.val, sum, ADN_STYLE_JSON, &first);
		fputc('}', c->out);
	} else {
		for (int i = 0; i < t.rt.val.n; i++) {
			fprintf(c->out, "    %-20s ", t.rt.val.col[i].name);
			adn_col_print(c->out, &t.rt.val, &t.rt.val.col[i], sum, ADN_STYLE_TEXT);
			fputc('\n', c->out);
		}
	}
	free(sum);
	adn_table_close(&t);
}

static const struct {
	unsigned part;
	const char *title;
	adn_pin_fn fn;
} walked_parts[] = {
	{ ADN_STATUS_PROGS, "programs", print_prog },
	{ ADN_STATUS_CGROUPS, "cgroups", print_link },
	{ ADN_STATUS_MAPS, "maps", print_map },
};

static int print_chain(FILE *out, const char *chain, unsigned parts, bool json,
		       struct adn_err *err)
{
	struct status_ctx c = { .out = out, .json = json };
	bool any = false;

	if (!adn_chain_exists(chain))
		return adn_err_set(err, ENOENT, "chain %s is not attached (no %s/%s)", chain,
				   ADN_PIN_ROOT, chain);
	if (json)
		fprintf(out, "{\"chain\":\"%s\"", chain);
	else
		fprintf(out, "chain %s\n", chain);
	for (size_t i = 0; i < sizeof(walked_parts) / sizeof(walked_parts[0]); i++) {
		if (!(parts & walked_parts[i].part))
			continue;
		if (json)
			fprintf(out, ",\"%s\":[", walked_parts[i].title);
		else
			fprintf(out, "  %s:\n", walked_parts[i].title);
		c.first = true;
		adn_chain_walk(chain, walked_parts[i].fn, &c, NULL);
		if (json)
			fputc(']', out);
		any = true;
	}
	if (parts & ADN_STATUS_STATS) {
		if (json)
			fputs(",\"stats\":", out);
		else if (any)
			fputs("  stats (summed over CPUs):\n", out);
		print_stats(&c, chain);
	}
	if (json)
		fputc('}', out);
	return 0;
}

int adn_status_print(FILE *out, const char *chain, unsigned parts, bool json,
		     struct adn_err *err)
{
	char **names;
	int n, rc;

	if (chain) {
		rc = print_chain(out, chain, parts, json, err);
		if (!rc && json)
			fputc('\n', out);
		return rc;
	}
	rc = adn_chain_list(&names, &n, err);
	if (rc)
		return rc;
	if (json)
		fputc('[', out);
	else if (n == 0)
		fprintf(out, "no chains attached\n");
	for (int i = 0; i < n; i++) {
		if (json && i)
			fputc(',', out);
		print_chain(out, names[i], parts, json, NULL);
	}
	if (json)
		fputs("]\n", out);
	adn_names_free(names, n);
	return 0;
}
