/* SPDX-License-Identifier: MIT */
/* adn-load attach --offload DEV[@NETNS] [--name C] [--port N] [-v] OBJ
 * (docs/offload.md).
 *
 * OBJ is the NIC's object of a chain (adnc --target offload writes
 * <chain>.offload.bpf.o: one SEC("xdp") program, HASH/ARRAY maps, offload=1
 * in .adn.meta). The program and every map are bound to DEV before load
 * (bpf_program__set_ifindex, bpf_map__set_ifindex): the kernel hands them
 * to the device's driver, whose own verifier decides (the host's verifier
 * runs too). Offloaded maps carry no BTF (the kernel refuses it there;
 * libbpf retries without), so rows are parsed by the object's BTF before
 * load and written after. The program is attached with XDP_FLAGS_HW_MODE,
 * never replacing another one. Pins as for any chain under
 * /sys/fs/bpf/adn/<chain>/ (prog_xdp, adn_cfg, adn_stats, adn_params,
 * <element>/<table>), the attachment recorded as the empty directory
 * offload/<DEV>:<NETNS>; `adn-load detach <chain>` takes it off the device
 * (offload_detach_chain) and removes the pins.
 *
 * First, a probe: a one-entry ARRAY map bound to DEV. A device without an
 * offload driver refuses it (EINVAL/EOPNOTSUPP), and the user reads "DEV
 * does not support XDP offload" before anything was created. */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <linux/if_link.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "adn_chaindir.h"
#include "adn_err.h"
#include "adn_meta.h"
#include "adn_row.h"
#include "attach_offload.h"
#include "loader.h"
#include "netdev.h"

#define MAX_VALUES 64
#define ENOTSUPP_COMPAT 524 /* the kernel's ENOTSUPP, which can reach userspace */

bool attach_offload_wanted(int argc, char **argv)
{
	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--offload") || !strncmp(argv[i], "--offload=", 10))
			return true;
	return false;
}

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: adn-load attach --offload DEV[@NETNS] [--name CHAIN] [--port N] [-v] OBJ\n"
		"\n"
		"Load OBJ (adnc --target offload: <chain>.offload.bpf.o) into network device\n"
		"DEV (a SmartNIC, or netdevsim) and attach its XDP program in hardware mode.\n"
		"Pins under /sys/fs/bpf/adn/CHAIN/; `adn-load detach CHAIN` takes it off.\n");
}

/* A value to write after load: bytes parsed before load by the BTF. */
struct pending {
	struct bpf_map *map;
	void *key, *val;
};

struct offload_state {
	struct bpf_object *obj;
	const struct btf *btf;
	struct pending v[MAX_VALUES];
	int n;
};

static int add_value(struct offload_state *s, struct bpf_map *map, const char *label,
		     const struct adn_assigns *as, bool dotted, struct adn_err *err)
{
	struct adn_row_type rt;
	int rc;

	if (s->n == MAX_VALUES)
		return adn_err_set(err, E2BIG, "too many initial rows");
	rc = adn_row_type_init(&rt, s->btf, label ? label : "adn_params",
			       bpf_map__btf_key_type_id(map), bpf_map__btf_value_type_id(map), err);
	if (rc)
		return rc;
	struct pending *p = &s->v[s->n];
	p->map = map;
	p->key = calloc(1, bpf_map__key_size(map));
	p->val = calloc(1, bpf_map__value_size(map));
	if (!p->key || !p->val)
		return adn_err_set(err, ENOMEM, "out of memory");
	s->n++;
	if (dotted) {
		if (!label)
			adn_cols_dot_names(&rt.val);
		return adn_cols_parse(&rt.val, as, p->val, label ? label : "adn_params", err);
	}
	return adn_row_parse(&rt, as, ADN_ROW_FULL, p->key, p->val, err);
}

/* adn_cfg.port, the parameters, the rows of .adn.meta: parsed now, while
 * libbpf still has the maps' BTF types. */
static int prepare_values(struct offload_state *s, const struct adn_meta *meta, long port,
			  struct adn_err *err)
{
	struct bpf_map *map;
	struct adn_assigns as;
	char line[64];
	int rc;

	if (port < 0 && !meta->has_port)
		return adn_err_set(err, EINVAL, "no port: .adn.meta has no port= line; give --port");
	map = bpf_object__find_map_by_name(s->obj, "adn_cfg");
	if (!map)
		return adn_err_set(err, ENOENT, "object has no map adn_cfg");
	snprintf(line, sizeof(line), "port=%ld", port >= 0 ? port : (long)meta->port);
	rc = adn_assigns_from_line(&as, line, err);
	if (rc)
		return rc;
	rc = add_value(s, map, "adn_cfg", &as, true, err);
	adn_assigns_free(&as);
	if (rc)
		return rc;
	if (meta->params.n) {
		struct adn_assigns all = { 0 }, one;
		map = bpf_object__find_map_by_name(s->obj, "adn_params");
		if (!map)
			return adn_err_set(err, ENOENT, "object has parameters but no map adn_params");
		for (int i = 0; i < meta->params.n; i++) {
			rc = adn_assigns_from_line(&one, meta->params.v[i], err);
			if (rc) {
				adn_assigns_free(&all);
				return rc;
			}
			struct adn_assign *grown = realloc(all.a, sizeof(*all.a) * (size_t)(all.n + one.n));
			if (!grown) {
				adn_assigns_free(&one);
				adn_assigns_free(&all);
				return adn_err_set(err, ENOMEM, "out of memory");
			}
			all.a = grown;
			memcpy(all.a + all.n, one.a, sizeof(*one.a) * (size_t)one.n);
			all.n += one.n;
			free(one.a);
		}
		rc = add_value(s, map, NULL, &all, true, err);
		adn_assigns_free(&all);
		if (rc)
			return rc;
	}
	for (int i = 0; i < meta->rows.n; i++) {
		const char *row = meta->rows.v[i];
		size_t tlen = strcspn(row, " \t");
		char table[128], map_name[128];
		snprintf(table, sizeof(table), "%.*s", (int)tlen, row);
		const char *dot = strchr(table, '.');
		if (!dot)
			return adn_err_set(err, EINVAL, ".adn.meta row '%s': expected ELEMENT.TABLE first", row);
		snprintf(map_name, sizeof(map_name), "%.*s__%s", (int)(dot - table), table, dot + 1);
		map = bpf_object__find_map_by_name(s->obj, map_name);
		if (!map)
			return adn_err_set(err, ENOENT, ".adn.meta row '%s': object has no map %s", row, map_name);
		rc = adn_assigns_from_line(&as, row + tlen, err);
		if (rc)
			return rc;
		rc = add_value(s, map, table, &as, false, err);
		adn_assigns_free(&as);
		if (rc)
			return rc;
	}
	return 0;
}

/* 0 if DEV takes offloaded maps; else a message. */
static int probe(unsigned ifindex, const char *dev, struct adn_err *err)
{
	LIBBPF_OPTS(bpf_map_create_opts, o, .map_ifindex = ifindex);
	int fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "adn_probe", 4, 4, 1, &o);

	if (fd >= 0) {
		close(fd);
		return 0;
	}
	if (errno == EINVAL || errno == EOPNOTSUPP || errno == ENOTSUPP_COMPAT || errno == ENODEV)
		return adn_err_set(err, EOPNOTSUPP, "%s does not support XDP offload (no BPF offload driver: a "
						    "map bound to it was refused: %s)", dev, strerror(errno));
	return adn_err_set(err, errno, "%s: probe for XDP offload: %s", dev, strerror(errno));
}

static int set_pins(struct bpf_object *obj, const char *chain, unsigned ifindex, struct adn_err *err)
{
	char dir[PATH_MAX], path[PATH_MAX];
	struct bpf_map *map;

	adn_chain_path(dir, sizeof(dir), chain, NULL);
	bpf_object__for_each_map(map, obj) {
		const char *name = bpf_map__name(map), *sep = strstr(name, "__");
		int n;
		if (bpf_map__is_internal(map))
			return adn_err_set(err, EINVAL, "map %s: global data cannot be offloaded (not an adnc "
							"--target offload object?)", name);
		bpf_map__set_ifindex(map, ifindex);
		if (sep && sep != name && sep[2]) {
			n = snprintf(path, sizeof(path), "%s/%.*s", dir, (int)(sep - name), name);
			if (n < 0 || (size_t)n >= sizeof(path))
				return adn_err_set(err, ENAMETOOLONG, "map %s: pin path too long", name);
			int rc = adn_mkdir_p(path, 0700, err);
			if (rc)
				return rc;
			n = snprintf(path, sizeof(path), "%s/%.*s/%s", dir, (int)(sep - name), name, sep + 2);
		} else {
			n = snprintf(path, sizeof(path), "%s/%s", dir, name);
		}
		if (n < 0 || (size_t)n >= sizeof(path))
			return adn_err_set(err, ENAMETOOLONG, "map %s: pin path too long", name);
		int rc = bpf_map__set_pin_path(map, path);
		if (rc)
			return adn_err_set(err, -rc, "map %s: pin path: %s", name, strerror(-rc));
	}
	return 0;
}

static void free_values(struct offload_state *s)
{
	for (int i = 0; i < s->n; i++) {
		free(s->v[i].key);
		free(s->v[i].val);
	}
	s->n = 0;
}

int cmd_attach_offload(int argc, char **argv)
{
	const char *dev = NULL, *name = NULL, *obj_path = NULL;
	char ifname[IF_NAMESIZE + 1] = "", netns[64] = "-", path[PATH_MAX], dir[PATH_MAX];
	struct offload_state s = { 0 };
	struct bpf_program *prog, *xdp = NULL;
	struct adn_meta meta;
	struct adn_err err;
	long port = -1;
	bool verbose = false, dir_made = false, attached = false;
	unsigned ifindex = 0;
	int rc = -1, lock_fd = -1, saved = -1, prog_fd;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--offload") || !strcmp(a, "--name") || !strcmp(a, "-n") || !strcmp(a, "--port")) {
			if (i + 1 == argc) {
				loader_error("attach", "%s needs a value", a);
				loader_usage_hint("attach");
				return EXIT_USAGE;
			}
			const char *v = argv[++i];
			if (a[2] == 'o' && (!strcmp(v, "-h") || !strcmp(v, "--help"))) {
				usage(stdout); /* attach --offload --help */
				return EXIT_OK;
			}
			if (a[2] == 'o')
				dev = v;
			else if (a[2] == 'p')
				port = strtol(v, NULL, 10);
			else
				name = v;
		} else if (!strncmp(a, "--offload=", 10)) {
			dev = a + 10;
		} else if (!strcmp(a, "-v") || !strcmp(a, "--verbose")) {
			verbose = true;
		} else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			usage(stdout);
			return EXIT_OK;
		} else if (a[0] == '-') {
			loader_error("attach", "--offload: option %s does not apply (only --name, --port, -v)", a);
			loader_usage_hint("attach");
			return EXIT_USAGE;
		} else if (obj_path) {
			loader_error("attach", "more than one OBJ ('%s' and '%s')", obj_path, a);
			loader_usage_hint("attach");
			return EXIT_USAGE;
		} else {
			obj_path = a;
		}
	}
	if (!dev || !*dev || !obj_path) {
		loader_error("attach", !obj_path ? "missing OBJ" : "--offload needs DEV");
		loader_usage_hint("attach");
		return EXIT_USAGE;
	}
	const char *at = strchr(dev, '@');
	snprintf(ifname, sizeof(ifname), "%.*s", at ? (int)(at - dev) : (int)strlen(dev), dev);
	if (at)
		snprintf(netns, sizeof(netns), "%s", at + 1);

	libbpf_log_capture(verbose);
	if (adn_meta_read_elf(&meta, obj_path, &err)) {
		loader_error("attach", "%s", err.msg);
		return EXIT_RUNTIME;
	}
	const char *chain = name ? name : meta.chain;
	if (!adn_name_valid(chain)) {
		loader_error("attach", "%s: chain name '%s' is not valid", obj_path, chain);
		adn_meta_free(&meta);
		return EXIT_RUNTIME;
	}
	if (net_enter(netns, &saved)) {
		loader_error("attach", "netns %s: %s", netns, strerror(errno));
		adn_meta_free(&meta);
		return EXIT_RUNTIME;
	}
	ifindex = if_nametoindex(ifname);
	if (!ifindex) {
		loader_error("attach", "device %s: %s", ifname, strerror(errno));
		goto out;
	}
	if (probe(ifindex, ifname, &err)) {
		loader_error("attach", "%s", err.msg);
		goto out;
	}
	s.obj = bpf_object__open_file(obj_path, NULL);
	if (!s.obj) {
		loader_error("attach", "%s: open: %s", obj_path, strerror(errno));
		goto out;
	}
	s.btf = bpf_object__btf(s.obj);
	bpf_object__for_each_program(prog, s.obj) {
		if (bpf_program__type(prog) == BPF_PROG_TYPE_XDP && !xdp) {
			xdp = prog;
			bpf_program__set_ifindex(prog, ifindex);
		} else {
			bpf_program__set_autoload(prog, false);
		}
	}
	if (!xdp || bpf_object__find_map_by_name(s.obj, "adn_socks")) {
		loader_error("attach", "%s is not a NIC object (build it with adnc --target offload: "
				       "<chain>.offload.bpf.o)", obj_path);
		goto out;
	}
	if (!s.btf) {
		loader_error("attach", "%s: object has no BTF (build it with -g)", obj_path);
		goto out;
	}
	if (adn_pin_root_prepare(&err) < 0 || (lock_fd = adn_pin_root_lock(&err)) < 0) {
		loader_error("attach", "%s", err.msg);
		goto out;
	}
	if (adn_chain_exists(chain)) {
		loader_error("attach", "chain %s is already attached; detach it first", chain);
		goto out;
	}
	adn_chain_path(dir, sizeof(dir), chain, NULL);
	if (mkdir(dir, 0700)) {
		loader_error("attach", "mkdir %s: %s", dir, strerror(errno));
		goto out;
	}
	dir_made = true;
	if (set_pins(s.obj, chain, ifindex, &err) || prepare_values(&s, &meta, port, &err)) {
		loader_error("attach", "%s", err.msg);
		goto out;
	}
	rc = bpf_object__load(s.obj);
	if (rc) {
		if (libbpf_log_print_verifier_tail(stderr, 30))
			loader_error("attach", "%s: %s refused the program (verifier log above)", obj_path, ifname);
		else
			loader_error("attach", "%s: load into %s: %s%s%s", obj_path, ifname, strerror(-rc),
				     *libbpf_log_last_warning() ? ": " : "", libbpf_log_last_warning());
		rc = -1;
		goto out;
	}
	rc = -1;
	for (int i = 0; i < s.n; i++)
		if (bpf_map_update_elem(bpf_map__fd(s.v[i].map), s.v[i].key, s.v[i].val, BPF_ANY)) {
			loader_error("attach", "map %s (on %s): write initial value: %s%s", bpf_map__name(s.v[i].map),
				     ifname, strerror(errno),
				     errno == ENOMEM || errno == E2BIG ? " (the device's map is full: netdevsim holds 2 entries)" : "");
			goto out;
		}
	adn_chain_path(path, sizeof(path), chain, "prog_xdp");
	if (bpf_program__pin(xdp, path)) {
		loader_error("attach", "pin %s: %s", path, strerror(errno));
		goto out;
	}
	prog_fd = bpf_program__fd(xdp);
	rc = bpf_xdp_attach((int)ifindex, prog_fd, XDP_FLAGS_HW_MODE | XDP_FLAGS_UPDATE_IF_NOEXIST, NULL);
	if (rc) {
		loader_error("attach", "%s: attach XDP (hardware offload): %s%s", ifname, strerror(-rc),
			     rc == -EBUSY || rc == -EEXIST ? " (the device already has an offloaded XDP program)" : "");
		rc = -1;
		goto out;
	}
	attached = true;
	if (adn_chain_path(path, sizeof(path), chain, "offload") || (mkdir(path, 0700) && errno != EEXIST)) {
		loader_error("attach", "mkdir %s: %s", path, strerror(errno));
		rc = -1;
		goto out;
	}
	char rec[128];
	snprintf(rec, sizeof(rec), "offload/%s:%s", ifname, netns);
	if (adn_chain_path(path, sizeof(path), chain, rec) || mkdir(path, 0700)) {
		loader_error("attach", "record %s: %s", path, strerror(errno));
		rc = -1;
		goto out;
	}
	rc = 0;
out:
	if (rc && attached)
		bpf_xdp_detach((int)ifindex, XDP_FLAGS_HW_MODE, NULL);
	net_leave(saved);
	free_values(&s);
	if (s.obj)
		bpf_object__close(s.obj);
	if (rc && dir_made && chain_teardown(chain, true, &err))
		loader_error("attach", "undo: %s", err.msg);
	if (lock_fd >= 0)
		close(lock_fd);
	if (!rc)
		printf("chain %s offloaded to %s (XDP, hardware mode); pins in %s\n", chain, ifname, dir);
	adn_meta_free(&meta);
	return rc ? EXIT_RUNTIME : EXIT_OK;
}

void offload_detach_chain(const char *chain)
{
	char dir[PATH_MAX];
	struct dirent *e;
	DIR *d;

	if (adn_chain_path(dir, sizeof(dir), chain, "offload"))
		return;
	d = opendir(dir);
	if (!d)
		return;
	while ((e = readdir(d))) {
		char ifname[IF_NAMESIZE + 1], *colon;
		int saved;
		unsigned ifindex;
		if (e->d_name[0] == '.' || !(colon = strrchr(e->d_name, ':')))
			continue;
		snprintf(ifname, sizeof(ifname), "%.*s", (int)(colon - e->d_name), e->d_name);
		if (net_enter(colon + 1, &saved))
			continue;
		ifindex = if_nametoindex(ifname);
		if (ifindex) {
			char prog_path[PATH_MAX];
			int fd = adn_chain_path(prog_path, sizeof(prog_path), chain, "prog_xdp") ? -1 :
				 bpf_obj_get(prog_path);
			LIBBPF_OPTS(bpf_xdp_attach_opts, opts, .old_prog_fd = fd);
			/* only our program: XDP_FLAGS_REPLACE against prog_xdp */
			bpf_xdp_detach((int)ifindex, XDP_FLAGS_HW_MODE | (fd >= 0 ? XDP_FLAGS_REPLACE : 0),
				       fd >= 0 ? &opts : NULL);
			if (fd >= 0)
				close(fd);
		}
		net_leave(saved);
	}
	closedir(d);
}
