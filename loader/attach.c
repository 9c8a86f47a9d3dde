/* SPDX-License-Identifier: MIT */
/* adn-load attach: load a chain, fill its maps, attach it, pin everything.
 * Any failure undoes what was done, so a chain is either fully attached or
 * not at all. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <linux/magic.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "adn_chaindir.h"
#include "adn_chainobj.h"
#include "adn_err.h"
#include "adn_meta.h"
#include "adn_pinned.h"
#include "adn_row.h"
#include "loader.h"
#include "netdev.h"
#include "attach_offload.h"

#define MAX_CGROUPS 64

struct attach_args {
	const char *cgroups[MAX_CGROUPS];
	int n_cgroups;
	long port; /* -1: from .adn.meta */
	const char *name;
	const char *obj_path;
	bool json;
	bool verbose;
};

/* Everything done so far, for the undo. */
struct attach_state {
	int cgroup_fd[MAX_CGROUPS];
	struct bpf_link *link[MAX_CGROUPS];
	int n_links;
	struct bpf_object *obj;
	struct bpf_program *sockops, *msg, *dispatch;
	struct bpf_program *skb_parser, *skb_verdict; /* elements at the receiver */
	struct bpf_program *skb_dispatch; /* the fixed stream verdict, tail-calls skb_verdict */
	struct bpf_map *socks, *rsocks;
	int obj_fd; /* adn_obj: the object file, for update/migrate/snapshot */
	bool dir_created;
	bool msg_attached;
	bool parser_attached, verdict_attached;
	const char *chain;
	struct held_ids ids; /* filled by undo() */
	__u32 max_map_id_before; /* highest map id before the load */
};

static void attach_usage(FILE *out)
{
	fprintf(out,
		"Usage: adn-load attach --cgroup PATH [--cgroup PATH ...] [OPTIONS] OBJ\n"
		"       adn-load attach --dev [tc:|xdp:]IFACE[@NETNS] [--dev ...] [--xdp-native]\n"
		"                       [--cgroup PATH ...] [OPTIONS] OBJ\n"
		"       adn-load attach --offload DEV[@NETNS] [OPTIONS] OBJ   (see --offload --help)\n"
		"\n"
		"Load the chain in OBJ (built by adnc), write its configuration, parameter\n"
		"defaults and initial rows, attach its sock_ops program to each cgroup and\n"
		"its sk_msg program to its socket map (and, when elements run at the\n"
		"receiver, its stream parser and verdict to the receivers' socket map),\n"
		"and pin all of it under\n"
		"/sys/fs/bpf/adn/<chain>/.\n"
		"\n"
		"Options:\n"
		"  -c, --cgroup PATH   cgroup v2 directory whose sockets the chain sees\n"
		"                      (repeatable; at least one)\n"
		"  -p, --port N        service port (default: port= of .adn.meta)\n"
		"  -n, --name CHAIN    chain name (default: chain= of .adn.meta)\n"
		"      --dev [tc:|xdp:]IFACE[@NETNS]\n"
		"                      attach the elements placed at TC (clsact egress\n"
		"                      for requests, ingress for responses) or at XDP\n"
		"                      to IFACE, in network namespace NETNS (a name under\n"
		"                      /run/netns) if given; tc: or xdp: says which when\n"
		"                      the chain has both (repeatable; with --dev no\n"
		"                      --cgroup is needed)\n"
		"      --xdp-native    attach XDP in driver mode (default: generic)\n"
		"      --json          print the result as JSON\n"
		"  -v, --verbose       show libbpf's messages\n"
		"  -h, --help          this help\n");
}

static int parse_args(int argc, char **argv, struct attach_args *a)
{
	static const struct option opts[] = {
		{ "cgroup", required_argument, NULL, 'c' },
		{ "port", required_argument, NULL, 'p' },
		{ "name", required_argument, NULL, 'n' },
		{ "json", no_argument, NULL, 'j' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	char *end;
	int c;

	memset(a, 0, sizeof(*a));
	a->port = -1;
	while ((c = getopt_long(argc, argv, "c:p:n:vh", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			if (a->n_cgroups == MAX_CGROUPS) {
				loader_error("attach", "at most %d --cgroup", MAX_CGROUPS);
				return EXIT_USAGE;
			}
			a->cgroups[a->n_cgroups++] = optarg;
			break;
		case 'p':
			errno = 0;
			a->port = strtol(optarg, &end, 10);
			if (errno || *end || end == optarg || a->port < 1 || a->port > 65535) {
				loader_error("attach", "--port: '%s' is not a port (1..65535)", optarg);
				return EXIT_USAGE;
			}
			break;
		case 'n':
			if (!adn_name_valid(optarg)) {
				loader_error("attach", "--name: '%s' is not a valid chain name ([A-Za-z0-9_-], 1..63)",
					     optarg);
				return EXIT_USAGE;
			}
			a->name = optarg;
			break;
		case 'j':
			a->json = true;
			break;
		case 'v':
			a->verbose = true;
			break;
		case 'h':
			attach_usage(stdout);
			exit(EXIT_OK);
		default: /* getopt said which option */
			loader_usage_hint("attach");
			return EXIT_USAGE;
		}
	}
	if (optind != argc - 1 || (a->n_cgroups == 0 && !attach_net_no_cgroup_ok)) {
		loader_error("attach", optind == argc ? "missing OBJ" :
				       optind < argc - 1 ? "more than one OBJ given" :
							   "at least one --cgroup is required");
		loader_usage_hint("attach");
		return EXIT_USAGE;
	}
	a->obj_path = argv[optind];
	return EXIT_OK;
}

static int open_cgroups(const struct attach_args *a, struct attach_state *s)
{
	struct statfs st;

	for (int i = 0; i < a->n_cgroups; i++) {
		s->cgroup_fd[i] = open(a->cgroups[i], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (s->cgroup_fd[i] < 0) {
			loader_error("attach", "cgroup %s: %s", a->cgroups[i], strerror(errno));
			return -1;
		}
		if (fstatfs(s->cgroup_fd[i], &st) || st.f_type != CGROUP2_SUPER_MAGIC) {
			const char *root = adn_cgroup2_root();
			loader_error("attach", "cgroup %s: not a cgroup v2 directory (cgroup2 is mounted at %s)",
				     a->cgroups[i], root ? root : "<nowhere>");
			return -1;
		}
	}
	return 0;
}

/* Map pin paths per docs/internals.md §3: <element>__<table> goes to
 * <element>/<table>, the rest to <name>. Internal maps (.rodata, .bss) are
 * not pinned: the programs keep them alive. */
static int set_pin_paths(struct attach_state *s, struct adn_err *err)
{
	struct bpf_map *map;
	char dir[PATH_MAX], path[PATH_MAX];

	adn_chain_path(dir, sizeof(dir), s->chain, NULL);
	bpf_object__for_each_map(map, s->obj) {
		const char *name = bpf_map__name(map);
		const char *sep = strstr(name, "__");
		int n;
		if (bpf_map__is_internal(map))
			continue;
		if (sep && sep != name && sep[2]) {
			n = snprintf(path, sizeof(path), "%s/%.*s", dir, (int)(sep - name), name);
			if (n < 0 || (size_t)n >= sizeof(path))
				return adn_err_set(err, ENAMETOOLONG, "map %s: pin path too long", name);
			int rc = adn_mkdir_p(path, 0700, err);
			if (rc)
				return rc;
			n = snprintf(path, sizeof(path), "%s/%.*s/%s", dir, (int)(sep - name), name,
				     sep + 2);
		} else {
			n = snprintf(path, sizeof(path), "%s/%s", dir, name);
		}
		if (n < 0 || (size_t)n >= sizeof(path))
			return adn_err_set(err, ENAMETOOLONG, "map %s: pin path too long", name);
		int rc = bpf_map__set_pin_path(map, path);
		if (rc)
			return adn_err_set(err, -rc, "map %s: pin path %s: %s", name, path, strerror(-rc));
	}
	return 0;
}

static int find_programs(struct attach_state *s, const char *obj_path)
{
	struct bpf_program *prog;

	bpf_object__for_each_program(prog, s->obj) {
		enum bpf_prog_type type = bpf_program__type(prog);
		if (type == BPF_PROG_TYPE_SOCK_OPS && !s->sockops)
			s->sockops = prog;
		else if (type == BPF_PROG_TYPE_SK_MSG &&
			 !strcmp(bpf_program__name(prog), "adn_msg_dispatch"))
			s->dispatch = prog;
		else if (type == BPF_PROG_TYPE_SK_MSG && !s->msg)
			s->msg = prog;
		else if (type == BPF_PROG_TYPE_SK_SKB &&
			 bpf_program__expected_attach_type(prog) == BPF_SK_SKB_STREAM_PARSER)
			s->skb_parser = prog;
		else if (type == BPF_PROG_TYPE_SK_SKB &&
			 !strcmp(bpf_program__name(prog), "adn_skb_dispatch"))
			s->skb_dispatch = prog;
		else if (type == BPF_PROG_TYPE_SK_SKB)
			s->skb_verdict = prog;
	}
	if (!s->sockops || !s->msg) {
		loader_error("attach", "%s: no SEC(\"%s\") program (not an adn chain?)", obj_path,
			     s->sockops ? "sk_msg" : "sockops");
		return -1;
	}
	s->socks = bpf_object__find_map_by_name(s->obj, "adn_socks");
	if (!s->socks || bpf_map__type(s->socks) != BPF_MAP_TYPE_SOCKHASH) {
		loader_error("attach", "%s: no SOCKHASH map adn_socks", obj_path);
		return -1;
	}
	if (!s->skb_parser != !s->skb_verdict) {
		loader_error("attach", "%s: a stream %s program without a stream %s program", obj_path,
			     s->skb_parser ? "parser" : "verdict", s->skb_parser ? "verdict" : "parser");
		return -1;
	}
	if (s->skb_dispatch && !s->skb_verdict) {
		loader_error("attach", "%s: a stream verdict dispatcher without a stream verdict", obj_path);
		return -1;
	}
	if (s->skb_parser) {
		s->rsocks = bpf_object__find_map_by_name(s->obj, "adn_rsocks");
		if (!s->rsocks || bpf_map__type(s->rsocks) != BPF_MAP_TYPE_SOCKHASH) {
			loader_error("attach", "%s: sk_skb programs but no SOCKHASH map adn_rsocks", obj_path);
			return -1;
		}
	}
	return 0;
}

/* Writes value[0] of ARRAY map `name` from `col=value` assignments. Per-CPU
 * values get the same bytes on every CPU. */
static int write_row(struct bpf_map *map, const char *label,
		     const struct adn_row_type *rt, const struct adn_assigns *as, bool dotted,
		     struct adn_err *err)
{
	size_t vsize = bpf_map__value_size(map);
	bool percpu = adn_map_is_percpu(bpf_map__type(map));
	int ncpus = percpu ? libbpf_num_possible_cpus() : 1;
	size_t stride = percpu ? adn_percpu_stride((__u32)vsize) : vsize;
	void *key = calloc(1, bpf_map__key_size(map));
	void *val = calloc((size_t)ncpus, stride);
	int rc;

	if (!key || !val) {
		rc = adn_err_set(err, ENOMEM, "out of memory");
		goto out;
	}
	if (dotted) /* adn_cfg / adn_params: one row at index 0, value columns only */
		rc = adn_cols_parse(&rt->val, as, val, label, err);
	else
		rc = adn_row_parse(rt, as, ADN_ROW_FULL, key, val, err);
	if (rc)
		goto out;
	for (int cpu = 1; cpu < ncpus; cpu++)
		memcpy((char *)val + (size_t)cpu * stride, val, vsize);
	if (bpf_map_update_elem(bpf_map__fd(map), key, val, BPF_ANY))
		rc = adn_err_set(err, errno, "map %s: update: %s", bpf_map__name(map), strerror(errno));
out:
	free(key);
	free(val);
	return rc;
}

static int row_type_of(struct bpf_object *obj, struct bpf_map *map, const char *label,
		       struct adn_row_type *rt, struct adn_err *err)
{
	const struct btf *btf = bpf_object__btf(obj);

	if (!btf)
		return adn_err_set(err, ENOENT, "object has no BTF (build it with -g)");
	return adn_row_type_init(rt, btf, label, bpf_map__btf_key_type_id(map),
				 bpf_map__btf_value_type_id(map), err);
}

static int write_config(struct attach_state *s, const struct adn_meta *meta, long port,
			struct adn_err *err)
{
	struct bpf_map *cfg = bpf_object__find_map_by_name(s->obj, "adn_cfg");
	struct adn_row_type rt;
	struct adn_assigns as;
	char line[64];
	int rc;

	if (port < 0 && !meta->has_port)
		return adn_err_set(err, EINVAL, "no port: .adn.meta has no port= line; give --port");
	if (!cfg)
		return adn_err_set(err, ENOENT, "object has no map adn_cfg");
	snprintf(line, sizeof(line), "port=%ld", port >= 0 ? port : (long)meta->port);
	rc = row_type_of(s->obj, cfg, "adn_cfg", &rt, err);
	if (!rc)
		rc = adn_assigns_from_line(&as, line, err);
	if (rc)
		return rc;
	rc = write_row(cfg, "adn_cfg", &rt, &as, true, err);
	adn_assigns_free(&as);
	return rc;
}

static int write_params(struct attach_state *s, const struct adn_meta *meta,
			struct adn_err *err)
{
	struct bpf_map *map = bpf_object__find_map_by_name(s->obj, "adn_params");
	struct adn_row_type rt;
	struct adn_assigns as = { 0 }, one;
	int rc;

	if (!meta->params.n)
		return 0;
	if (!map)
		return adn_err_set(err, ENOENT, "object has parameters but no map adn_params");
	rc = row_type_of(s->obj, map, "adn_params", &rt, err);
	if (rc)
		return rc;
	adn_cols_dot_names(&rt.val);
	/* all param= lines form one row of adn_params */
	for (int i = 0; i < meta->params.n; i++) {
		rc = adn_assigns_from_line(&one, meta->params.v[i], err);
		if (rc)
			goto out;
		struct adn_assign *grown = realloc(as.a, sizeof(*as.a) * (size_t)(as.n + one.n));
		if (!grown) {
			adn_assigns_free(&one);
			rc = adn_err_set(err, ENOMEM, "out of memory");
			goto out;
		}
		as.a = grown;
		memcpy(as.a + as.n, one.a, sizeof(*one.a) * (size_t)one.n);
		as.n += one.n;
		free(one.a);
	}
	rc = write_row(map, NULL, &rt, &as, true, err);
out:
	adn_assigns_free(&as);
	return rc;
}

/* The .adn.meta row= lines (a table's INSERT ... VALUES) into the maps of
 * OBJ, loaded: every table's at attach, the tables an update adds at
 * update (only those for which WANT, if given, says yes). */
int loader_write_initial_rows(struct bpf_object *obj, const struct adn_meta *meta,
			      bool (*want)(const struct bpf_map *map, void *ctx), void *ctx,
			      struct adn_err *err)
{
	for (int i = 0; i < meta->rows.n; i++) {
		const char *line = meta->rows.v[i];
		size_t tlen = strcspn(line, " \t");
		char table[128], map_name[128];
		struct adn_row_type rt;
		struct adn_assigns as;
		struct adn_err inner;
		int rc;

		snprintf(table, sizeof(table), "%.*s", (int)tlen, line);
		const char *dot = strchr(table, '.');
		if (!dot)
			return adn_err_set(err, EINVAL, ".adn.meta row '%s': expected ELEMENT.TABLE first", line);
		snprintf(map_name, sizeof(map_name), "%.*s__%s", (int)(dot - table), table, dot + 1);
		struct bpf_map *map = bpf_object__find_map_by_name(obj, map_name);
		if (!map)
			return adn_err_set(err, ENOENT, ".adn.meta row '%s': object has no map %s", line,
					   map_name);
		if (want && !want(map, ctx))
			continue;
		rc = row_type_of(obj, map, table, &rt, &inner);
		if (!rc)
			rc = adn_assigns_from_line(&as, line + tlen, &inner);
		if (!rc) {
			rc = write_row(map, table, &rt, &as, false, &inner);
			adn_assigns_free(&as);
		}
		if (rc)
			return adn_err_set(err, -rc, "initial row '%s': %s", line, inner.msg);
	}
	return 0;
}

/* The object file goes into the pinned map adn_obj: update, migrate and
 * snapshot (merge policies) read the chain's code and .adn.meta from it. */
static int store_object(struct attach_state *s, const char *obj_path, struct adn_err *err)
{
	char path[PATH_MAX];
	void *buf = NULL;
	size_t len = 0;
	int rc;

	rc = loader_read_file(obj_path, &buf, &len, err);
	if (!rc)
		rc = adn_chain_obj_create(buf, len, &s->obj_fd, err);
	free(buf);
	if (rc)
		return rc;
	adn_chain_path(path, sizeof(path), s->chain, "adn_obj");
	if (bpf_obj_pin(s->obj_fd, path))
		return adn_err_set(err, errno, "pin %s: %s", path, strerror(errno));
	return 0;
}

/* The dispatcher tail-calls the chain from slot 0 of adn_progs. */
static int fill_slot(struct attach_state *s, struct adn_err *err)
{
	struct bpf_map *pa = bpf_object__find_map_by_name(s->obj, "adn_progs");
	__u32 zero = 0;
	int fd;

	if (!s->dispatch)
		return 0;
	if (!pa)
		return adn_err_set(err, ENOENT, "object has a dispatcher but no map adn_progs");
	fd = bpf_program__fd(s->msg);
	if (bpf_map_update_elem(bpf_map__fd(pa), &zero, &fd, BPF_ANY))
		return adn_err_set(err, errno, "map adn_progs: set slot 0: %s", strerror(errno));
	return 0;
}

/* The stream verdict attached to adn_rsocks: the fixed dispatcher, or (an
 * object of an older runtime) the chain's verdict itself. */
static struct bpf_program *attached_verdict(const struct attach_state *s)
{
	return s->skb_dispatch ? s->skb_dispatch : s->skb_verdict;
}

/* The receiver's stream parser and verdict go on adn_rsocks before sock_ops
 * can put a socket there: a socket takes the programs the map has when it
 * joins. The attached verdict is the dispatcher adn_skb_dispatch, which
 * tail-calls the chain's verdict from slot 0 of adn_skb_progs (filled
 * first): pinned at prog_skb_verdict (the attached one, which detach
 * detaches) and prog_skb_chain (the one in the slot, which update swaps),
 * as prog_msg and prog_chain on the sk_msg side. */
static int attach_receiver(struct attach_state *s)
{
	char path[PATH_MAX];
	__u32 zero = 0;
	int fd;
	struct {
		struct bpf_program *prog;
		enum bpf_attach_type type;
		bool *done;
		const char *pin;
	} p[] = { { s->skb_parser, BPF_SK_SKB_STREAM_PARSER, &s->parser_attached, "prog_skb_parser" },
		  { attached_verdict(s), BPF_SK_SKB_STREAM_VERDICT, &s->verdict_attached,
		    "prog_skb_verdict" },
		  { s->skb_verdict, 0, NULL, "prog_skb_chain" } };

	if (!s->skb_parser)
		return 0;
	if (s->skb_dispatch) {
		struct bpf_map *pa = bpf_object__find_map_by_name(s->obj, "adn_skb_progs");
		if (!pa) {
			loader_error("attach", "object has a stream verdict dispatcher but no map adn_skb_progs");
			return -1;
		}
		fd = bpf_program__fd(s->skb_verdict);
		if (bpf_map_update_elem(bpf_map__fd(pa), &zero, &fd, BPF_ANY)) {
			loader_error("attach", "map adn_skb_progs: set slot 0: %s", strerror(errno));
			return -1;
		}
	}
	for (size_t i = 0; i < (s->skb_dispatch ? 3u : 2u); i++) {
		if (p[i].done) { /* prog_skb_chain is in the slot, not attached */
			if (bpf_prog_attach(bpf_program__fd(p[i].prog), bpf_map__fd(s->rsocks),
					    p[i].type, 0)) {
				loader_error("attach", "map adn_rsocks: attach %s: %s",
					     bpf_program__name(p[i].prog), strerror(errno));
				return -1;
			}
			*p[i].done = true;
		}
		adn_chain_path(path, sizeof(path), s->chain, p[i].pin);
		int rc = bpf_program__pin(p[i].prog, path);
		if (rc) {
			loader_error("attach", "program %s: pin at %s: %s", bpf_program__name(p[i].prog),
				     path, strerror(-rc));
			return -1;
		}
	}
	return 0;
}

static int attach_programs(struct attach_state *s, const struct attach_args *a)
{
	char path[PATH_MAX];
	int rc;

	if (attach_receiver(s))
		return -1;
	for (int i = 0; i < a->n_cgroups; i++) {
		struct bpf_link *link = bpf_program__attach_cgroup(s->sockops, s->cgroup_fd[i]);
		if (!link) {
			loader_error("attach", "cgroup %s: attach sock_ops: %s", a->cgroups[i],
				     strerror(errno));
			return -1;
		}
		s->link[s->n_links++] = link;
		adn_chain_path(path, sizeof(path), s->chain, NULL);
		snprintf(path + strlen(path), sizeof(path) - strlen(path), "/link_cgroup%d", i);
		rc = bpf_link__pin(link, path);
		if (rc) {
			loader_error("attach", "cgroup %s: pin link at %s: %s", a->cgroups[i], path,
				     strerror(-rc));
			return -1;
		}
	}
	struct bpf_program *attached = s->dispatch ? s->dispatch : s->msg;
	if (bpf_prog_attach(bpf_program__fd(attached), bpf_map__fd(s->socks), BPF_SK_MSG_VERDICT, 0)) {
		loader_error("attach", "map adn_socks: attach sk_msg program %s: %s",
			     bpf_program__name(attached), strerror(errno));
		return -1;
	}
	s->msg_attached = true;
	struct {
		struct bpf_program *prog;
		const char *pin;
	} pins[] = { { s->sockops, "prog_sockops" }, { attached, "prog_msg" },
		     { s->msg, "prog_chain" } };
	for (size_t i = 0; i < (s->dispatch ? 3u : 2u); i++) {
		adn_chain_path(path, sizeof(path), s->chain, pins[i].pin);
		rc = bpf_program__pin(pins[i].prog, path);
		if (rc) {
			loader_error("attach", "program %s: pin at %s: %s",
				     bpf_program__name(pins[i].prog), path, strerror(-rc));
			return -1;
		}
	}
	return 0;
}

static __u32 highest_map_id(void)
{
	__u32 id = 0, next;

	while (!bpf_map_get_next_id(id, &next))
		id = next;
	return id;
}

/* A failed load has already closed and unpinned the maps libbpf created,
 * but the kernel frees them later; find the ones still alive by id. */
static void collect_new_maps(struct attach_state *s)
{
	__u32 id = s->max_map_id_before, next;
	struct bpf_map *map;

	while (!bpf_map_get_next_id(id, &next)) {
		struct bpf_map_info info;
		int fd = bpf_map_get_fd_by_id(next);
		id = next;
		if (fd < 0)
			continue;
		if (!adn_map_info(fd, &info)) {
			bpf_object__for_each_map(map, s->obj) {
				/* the kernel keeps 15 characters of the name */
				if (!strncmp(bpf_map__name(map), info.name, BPF_OBJ_NAME_LEN - 1) &&
				    s->ids.n_map < MAX_HELD_IDS) {
					s->ids.map[s->ids.n_map++] = info.id;
					break;
				}
			}
		}
		close(fd);
	}
}

static void undo(struct attach_state *s)
{
	struct adn_err err;
	struct bpf_program *prog;
	struct bpf_map *map;

	bpf_object__for_each_program(prog, s->obj)
		if (bpf_program__fd(prog) >= 0)
			held_ids_add(&s->ids, bpf_program__fd(prog), true);
	bpf_object__for_each_map(map, s->obj)
		if (bpf_map__fd(map) >= 0)
			held_ids_add(&s->ids, bpf_map__fd(map), false);
	if (!s->ids.n_map)
		collect_new_maps(s);

	if (s->msg_attached)
		bpf_prog_detach2(bpf_program__fd(s->dispatch ? s->dispatch : s->msg),
				 bpf_map__fd(s->socks), BPF_SK_MSG_VERDICT);
	if (s->verdict_attached)
		bpf_prog_detach2(bpf_program__fd(attached_verdict(s)), bpf_map__fd(s->rsocks),
				 BPF_SK_SKB_STREAM_VERDICT);
	if (s->parser_attached)
		bpf_prog_detach2(bpf_program__fd(s->skb_parser), bpf_map__fd(s->rsocks),
				 BPF_SK_SKB_STREAM_PARSER);
	if (s->dispatch) { /* empty the slot before the PROG_ARRAY loses its pin */
		struct bpf_map *pa = bpf_object__find_map_by_name(s->obj, "adn_progs");
		__u32 zero = 0;
		if (pa && bpf_map__fd(pa) >= 0)
			bpf_map_delete_elem(bpf_map__fd(pa), &zero);
	}
	if (s->skb_dispatch) {
		struct bpf_map *pa = bpf_object__find_map_by_name(s->obj, "adn_skb_progs");
		__u32 zero = 0;
		if (pa && bpf_map__fd(pa) >= 0)
			bpf_map_delete_elem(bpf_map__fd(pa), &zero);
	}
	for (int i = 0; i < s->n_links; i++) {
		bpf_link__unpin(s->link[i]);
		bpf_link__destroy(s->link[i]); /* closes the last fd: detaches */
	}
	s->n_links = 0;
	if (s->dir_created)
		held_ids_collect_pins(&s->ids, s->chain); /* libbpf may have closed its fds */
	if (s->dir_created && adn_chain_remove(s->chain, &err))
		loader_error("attach", "undo: %s", err.msg);
}

static void close_state(struct attach_state *s, int n_cgroups)
{
	for (int i = 0; i < s->n_links; i++)
		bpf_link__destroy(s->link[i]); /* pinned: the link stays attached */
	bpf_object__close(s->obj);
	if (s->obj_fd > 0)
		close(s->obj_fd);
	for (int i = 0; i < n_cgroups; i++)
		if (s->cgroup_fd[i] >= 0)
			close(s->cgroup_fd[i]);
}

static void report_load_failure(const char *obj_path, int rc)
{
	if (libbpf_log_print_verifier_tail(stderr, 30)) {
		loader_error("attach", "%s: the kernel verifier rejected a program (%s). "
				       "This is a bug in adnc: please report it with the .adn source",
			     obj_path, strerror(-rc));
		return;
	}
	const char *why = libbpf_log_last_warning();
	loader_error("attach", "%s: load: %s%s%s", obj_path, strerror(-rc), *why ? ": " : "",
		     why);
}

static int do_attach(const struct attach_args *a, struct attach_state *s,
		     const struct adn_meta *meta)
{
	struct adn_err err;
	char dir[PATH_MAX];
	int rc;

	s->obj = bpf_object__open_file(a->obj_path, NULL);
	if (!s->obj) {
		loader_error("attach", "%s: open: %s", a->obj_path, strerror(errno));
		return -1;
	}
	if (find_programs(s, a->obj_path))
		return -1;
	if (adn_chain_exists(s->chain)) {
		loader_error("attach", "chain %s is already attached; detach it first", s->chain);
		return -1;
	}
	adn_chain_path(dir, sizeof(dir), s->chain, NULL);
	if (mkdir(dir, 0700)) {
		loader_error("attach", "mkdir %s: %s", dir, strerror(errno));
		return -1;
	}
	s->dir_created = true;
	if (set_pin_paths(s, &err)) {
		loader_error("attach", "%s", err.msg);
		return -1;
	}
	s->max_map_id_before = highest_map_id();
	rc = bpf_object__load(s->obj);
	if (rc) {
		report_load_failure(a->obj_path, rc);
		return -1;
	}
	if (write_config(s, meta, a->port, &err) || write_params(s, meta, &err) ||
	    loader_write_initial_rows(s->obj, meta, NULL, NULL, &err) || store_object(s, a->obj_path, &err) ||
	    fill_slot(s, &err)) {
		loader_error("attach", "%s", err.msg);
		return -1;
	}
	return attach_programs(s, a);
}

int cmd_attach(int argc, char **argv)
{
	struct attach_args a;
	struct attach_state s;
	struct adn_meta meta;
	struct adn_err err;
	sigset_t block, old;
	int rc, lock_fd;

	if (attach_offload_wanted(argc, argv)) /* --offload: the NIC, attach_offload.c */
		return cmd_attach_offload(argc, argv);
	if (attach_net_wanted(argc, argv)) /* --dev: TC/XDP, attach_net.c */
		return cmd_attach_net(argc, argv);
	rc = parse_args(argc, argv, &a);
	if (rc)
		return rc;
	memset(&s, 0, sizeof(s));
	for (int i = 0; i < MAX_CGROUPS; i++)
		s.cgroup_fd[i] = -1;
	libbpf_log_capture(a.verbose);
	if (adn_meta_read_elf(&meta, a.obj_path, &err)) {
		loader_error("attach", "%s", err.msg);
		return EXIT_RUNTIME;
	}
	s.chain = a.name ? a.name : meta.chain;
	if (!adn_name_valid(s.chain)) {
		loader_error("attach", "%s: chain name '%s' is not valid ([A-Za-z0-9_-], 1..63)",
			     a.obj_path, s.chain);
		adn_meta_free(&meta);
		return EXIT_RUNTIME;
	}
	if (open_cgroups(&a, &s))
		goto fail_early;
	if (adn_pin_root_prepare(&err) < 0 || (lock_fd = adn_pin_root_lock(&err)) < 0) {
		loader_error("attach", "%s", err.msg);
		goto fail_early;
	}
	/* An interrupted attach would leave a half-attached chain. */
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGHUP);
	sigprocmask(SIG_BLOCK, &block, &old);
	rc = do_attach(&a, &s, &meta);
	if (rc && s.obj)
		undo(&s);
	close_state(&s, a.n_cgroups);
	if (rc)
		wait_released(&s.ids, "attach", s.chain);
	close(lock_fd);
	sigprocmask(SIG_SETMASK, &old, NULL);
	if (!rc) {
		char dir[PATH_MAX];
		adn_chain_path(dir, sizeof(dir), s.chain, NULL);
		if (a.json)
			printf("{\"chain\":\"%s\",\"pin_dir\":\"%s\",\"cgroups\":%d}\n", s.chain, dir,
			       a.n_cgroups);
		else
			printf("chain %s attached to %d cgroup%s; pins in %s\n", s.chain, a.n_cgroups,
			       a.n_cgroups == 1 ? "" : "s", dir);
	}
	adn_meta_free(&meta);
	return rc ? EXIT_RUNTIME : EXIT_OK;
fail_early:
	close_state(&s, a.n_cgroups);
	adn_meta_free(&meta);
	return EXIT_RUNTIME;
}
