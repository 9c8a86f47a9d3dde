/* SPDX-License-Identifier: MIT */
/* adn-load attach --dev [tc:|xdp:]IFACE[@NETNS]: the per-datagram hooks of
 * a chain (docs/internals.md §4).
 *
 * The socket part and the maps are attach.c's job: this runs cmd_attach
 * without the --dev options first (no --cgroup needed then), so the maps
 * are created, filled (config, parameters, rows) and pinned exactly as for
 * any chain. Then it opens the object again with only its TC and XDP
 * programs, which libbpf loads against the pinned maps (one set of maps for
 * every hook), pins them as prog_tc / prog_xdp and attaches them to each
 * device as .adn.meta's hook= lines place them. Each attachment leaves a
 * record (an empty directory under <chain>/dev/) that detach and status
 * read. Any failure detaches the whole chain again. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gelf.h>
#include <libelf.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "adn_chaindir.h"
#include "adn_err.h"
#include "adn_meta.h"
#include "loader.h"
#include "netdev.h"

#define MAX_DEVS 32

bool attach_net_no_cgroup_ok;

struct net_plan {
	bool tc, xdp, tc_ingress; /* from .adn.meta */
	const char *devs[MAX_DEVS];
	int n_devs;
	bool xdp_native;
	const char *name; /* --name */
};

bool attach_net_wanted(int argc, char **argv)
{
	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--dev") || !strncmp(argv[i], "--dev=", 6))
			return true;
	return false;
}

/* hook=, tc_ingress= lines of the object's .adn.meta. */
static int read_hooks(const char *path, struct net_plan *p)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), rc = -ENOENT;
	Elf *elf;
	Elf_Scn *scn = NULL;
	size_t shstrndx;
	GElf_Shdr sh;

	if (fd < 0)
		return -errno;
	elf_version(EV_CURRENT);
	elf = elf_begin(fd, ELF_C_READ, NULL);
	if (elf && !elf_getshdrstrndx(elf, &shstrndx)) {
		while ((scn = elf_nextscn(elf, scn))) {
			const char *name;
			Elf_Data *d;
			if (!gelf_getshdr(scn, &sh) || !(name = elf_strptr(elf, shstrndx, sh.sh_name)) ||
			    strcmp(name, ".adn.meta") || !(d = elf_getdata(scn, NULL)))
				continue;
			const char *t = d->d_buf, *end = t + d->d_size;
			while (t < end && *t) {
				const char *nl = memchr(t, '\n', (size_t)(end - t));
				size_t n = nl ? (size_t)(nl - t) : (size_t)(end - t);
				if (n == 7 && !strncmp(t, "hook=tc", 7))
					p->tc = true;
				if (n == 8 && !strncmp(t, "hook=xdp", 8))
					p->xdp = true;
				if (n == 12 && !strncmp(t, "tc_ingress=1", 12))
					p->tc_ingress = true;
				t += n + 1;
			}
			rc = 0;
		}
	}
	if (elf)
		elf_end(elf);
	close(fd);
	return rc;
}

/* Same pin paths as attach.c: <element>__<table> -> <element>/<table>. */
static int set_pins(struct bpf_object *obj, const char *chain)
{
	char path[PATH_MAX], dir[PATH_MAX];
	struct bpf_map *map;

	adn_chain_path(dir, sizeof(dir), chain, NULL);
	bpf_object__for_each_map(map, obj) {
		const char *name = bpf_map__name(map), *sep = strstr(name, "__");
		if (bpf_map__is_internal(map))
			continue;
		int n = sep && sep != name && sep[2] ?
			snprintf(path, sizeof(path), "%s/%.*s/%s", dir, (int)(sep - name), name, sep + 2) :
			snprintf(path, sizeof(path), "%s/%s", dir, name);
		if (n < 0 || (size_t)n >= sizeof(path) || access(path, F_OK) ||
		    bpf_map__set_pin_path(map, path))
			bpf_map__set_autocreate(map, false); /* unused by TC/XDP: not created */
	}
	return 0;
}

/* Loads the TC and XDP programs against the pinned maps and pins them. */
static int load_net_progs(const char *obj_path, const char *chain, const struct net_plan *p,
			  int *tc_fd, int *xdp_fd)
{
	struct bpf_object *obj = bpf_object__open_file(obj_path, NULL);
	struct bpf_program *prog, *tc = NULL, *xdp = NULL;
	char path[PATH_MAX];
	int rc;

	if (!obj) {
		loader_error("attach", "%s: open: %s", obj_path, strerror(errno));
		return -1;
	}
	bpf_object__for_each_program(prog, obj) {
		enum bpf_prog_type t = bpf_program__type(prog);
		if (t == BPF_PROG_TYPE_SCHED_CLS && p->tc && !tc)
			tc = prog;
		else if (t == BPF_PROG_TYPE_XDP && p->xdp && !xdp)
			xdp = prog;
		else
			bpf_program__set_autoload(prog, false);
	}
	if ((p->tc && !tc) || (p->xdp && !xdp)) {
		loader_error("attach", "%s: no SEC(\"%s\") program although .adn.meta places elements there",
			     obj_path, p->tc && !tc ? "tc" : "xdp");
		bpf_object__close(obj);
		return -1;
	}
	set_pins(obj, chain);
	rc = bpf_object__load(obj);
	if (rc) {
		if (!libbpf_log_print_verifier_tail(stderr, 30))
			loader_error("attach", "%s: load TC/XDP programs: %s", obj_path, strerror(-rc));
		else
			loader_error("attach", "%s: the verifier rejected a TC/XDP program: a bug in adnc",
				     obj_path);
		bpf_object__close(obj);
		return -1;
	}
	struct { struct bpf_program *prog; const char *pin; int *fd; } pins[] = {
		{ tc, "prog_tc", tc_fd }, { xdp, "prog_xdp", xdp_fd },
	};
	for (size_t i = 0; i < 2; i++) {
		if (!pins[i].prog)
			continue;
		adn_chain_path(path, sizeof(path), chain, pins[i].pin);
		rc = bpf_program__pin(pins[i].prog, path);
		if (rc) {
			loader_error("attach", "pin %s: %s", path, strerror(-rc));
			bpf_object__close(obj);
			return -1;
		}
		*pins[i].fd = bpf_obj_get(path);
	}
	bpf_object__close(obj);
	return 0;
}

/* "[tc:|xdp:]IFACE[@NETNS]" */
static int parse_dev(const char *spec, const struct net_plan *p, struct net_att *att)
{
	const char *at, *name = spec;

	memset(att, 0, sizeof(*att));
	if (!strncmp(spec, "tc:", 3) || !strncmp(spec, "xdp:", 4)) {
		att->hook = spec[0] == 't' ? NET_TC : NET_XDP;
		name = strchr(spec, ':') + 1;
	} else if (p->tc && p->xdp) {
		loader_error("attach", "--dev %s: the chain has elements at TC and at XDP; say which "
				       "(tc:%s or xdp:%s)", spec, spec, spec);
		return -1;
	} else {
		att->hook = p->xdp ? NET_XDP : NET_TC;
	}
	if ((att->hook == NET_TC && !p->tc) || (att->hook == NET_XDP && !p->xdp)) {
		loader_error("attach", "--dev %s: no element of the chain is placed at %s (see adnc --explain)",
			     spec, att->hook == NET_TC ? "TC" : "XDP");
		return -1;
	}
	at = strchr(name, '@');
	snprintf(att->ifname, sizeof(att->ifname), "%.*s", (int)(at ? at - name : (long)strlen(name)), name);
	snprintf(att->netns, sizeof(att->netns), "%s", at ? at + 1 : "-");
	if (!*att->ifname || strchr(att->ifname, ':') || !*att->netns || strchr(att->netns, '/') ||
	    strchr(att->netns, ':')) {
		loader_error("attach", "--dev %s: expected [tc:|xdp:]IFACE[@NETNS] (NETNS a name under /run/netns)",
			     spec);
		return -1;
	}
	return 0;
}

static int record(const char *chain, const struct net_att *att)
{
	char path[PATH_MAX], name[160];

	adn_chain_path(path, sizeof(path), chain, "dev");
	if (mkdir(path, 0700) && errno != EEXIST)
		return -errno;
	net_record_name(att, name, sizeof(name));
	snprintf(path + strlen(path), sizeof(path) - strlen(path), "/%s", name);
	return mkdir(path, 0700) ? -errno : 0;
}

static int attach_devs(const char *chain, const struct net_plan *p, int tc_fd, int xdp_fd)
{
	char err[256];

	for (int i = 0; i < p->n_devs; i++) {
		struct net_att att;
		if (parse_dev(p->devs[i], p, &att))
			return -1;
		for (int dir = 0; dir < (att.hook == NET_TC ? 2 : 1); dir++) {
			int rc;
			if (att.hook == NET_TC) {
				if (dir == 1 && !p->tc_ingress)
					break; /* no response side at TC */
				att.ingress = dir == 1;
				rc = tc_attach_dev(tc_fd, &att, err, sizeof(err));
			} else {
				rc = xdp_attach_dev(xdp_fd, &att, p->xdp_native, err, sizeof(err));
			}
			if (rc) {
				loader_error("attach", "%s", err);
				return -1;
			}
			rc = record(chain, &att);
			if (rc) {
				loader_error("attach", "record %s: %s", p->devs[i], strerror(-rc));
				return -1;
			}
			att.made_qdisc = false; /* the ingress filter joins the same qdisc */
		}
	}
	return 0;
}

int cmd_attach_net(int argc, char **argv)
{
	struct net_plan p = { 0 };
	char *rest[256];
	int n_rest = 0, rc, tc_fd = -1, xdp_fd = -1, lock_fd;
	const char *obj_path = NULL;
	struct adn_meta meta;
	struct adn_err err;

	for (int i = 0; i < argc && n_rest < 255; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--dev") || !strncmp(a, "--dev=", 6)) {
			const char *v = a[5] == '=' ? a + 6 : (i + 1 < argc ? argv[++i] : NULL);
			if (!v || p.n_devs == MAX_DEVS) {
				loader_error("attach", !v ? "--dev needs [tc:|xdp:]IFACE[@NETNS]" : "too many --dev");
				loader_usage_hint("attach");
				return EXIT_USAGE;
			}
			p.devs[p.n_devs++] = v;
			continue;
		}
		if (!strcmp(a, "--xdp-native")) {
			p.xdp_native = true;
			continue;
		}
		if ((!strcmp(a, "--name") || !strcmp(a, "-n")) && i + 1 < argc)
			p.name = argv[i + 1];
		size_t len = strlen(a);
		if (i > 0 && a[0] != '-' && len > 2 && !strcmp(a + len - 2, ".o"))
			obj_path = a; /* OBJ: attach.c checks the rest of the line */
		rest[n_rest++] = argv[i];
	}
	rest[n_rest] = NULL;
	if (!obj_path) {
		loader_error("attach", "missing OBJ");
		loader_usage_hint("attach");
		return EXIT_USAGE;
	}
	if (adn_meta_read_elf(&meta, obj_path, &err)) {
		loader_error("attach", "%s", err.msg);
		return EXIT_RUNTIME;
	}
	char chain[64];
	snprintf(chain, sizeof(chain), "%s", p.name ? p.name : meta.chain);
	adn_meta_free(&meta);
	if (read_hooks(obj_path, &p) || (!p.tc && !p.xdp)) {
		loader_error("attach", "%s: no element of the chain is placed at TC or XDP (hook= lines of "
				       ".adn.meta; see adnc --explain): --dev has nothing to attach", obj_path);
		return EXIT_USAGE;
	}
	attach_net_no_cgroup_ok = true;
	rc = cmd_attach(n_rest, rest);
	attach_net_no_cgroup_ok = false;
	if (rc)
		return rc;
	lock_fd = adn_pin_root_lock(&err);
	if (lock_fd < 0) {
		loader_error("attach", "%s", err.msg);
		rc = -1;
	} else {
		rc = load_net_progs(obj_path, chain, &p, &tc_fd, &xdp_fd);
		if (!rc)
			rc = attach_devs(chain, &p, tc_fd, xdp_fd);
		if (rc) { /* all or nothing: take the chain off again */
			net_detach_chain(chain);
			if (chain_teardown(chain, true, &err))
				loader_error("attach", "undo: %s", err.msg);
		}
		close(lock_fd);
	}
	if (tc_fd >= 0)
		close(tc_fd);
	if (xdp_fd >= 0)
		close(xdp_fd);
	if (rc)
		return EXIT_RUNTIME;
	printf("chain %s attached to %d device%s\n", chain, p.n_devs, p.n_devs == 1 ? "" : "s");
	return EXIT_OK;
}
