/* SPDX-License-Identifier: MIT */
/* adn-load update (hot update) and adn-load migrate.
 *
 * Both load a chain object and swap it into slot 0 of a running chain's
 * adn_progs, the PROG_ARRAY its fixed dispatcher tail-calls on every
 * sendmsg (bpf/adn_sk_msg.h): one map update, so every socket, open or
 * new, runs the new code from its next sendmsg, and no run mixes old and
 * new elements. A chain with elements at the receiver's sk_skb also has
 * its chain verdict in slot 0 of adn_skb_progs, which its fixed stream
 * verdict dispatcher tail-calls (bpf/adn_sk_skb.h): update swaps it right
 * after adn_progs' (do_swap says why in that order); its stream parser,
 * which only frames, stays. migrate refuses such chains. The maps the new
 * code uses are chosen before load with
 * bpf_map__reuse_fd:
 *  - update: the chain's own maps whose layout is unchanged; a table whose
 *    layout changed gets a new map, filled by copy (converted by column
 *    name) before the swap and by a delta after it (docs/loader.md);
 *  - migrate: the source chain's runtime maps (sockets, config, stats) and
 *    the target chain's tables and parameters (a "relay"): after the swap
 *    the source's connections update the target's state.
 * The PROG_ARRAY is only ever opened through its pin (docs/kernel-notes.md). */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "adn_chaindir.h"
#include "adn_chainobj.h"
#include "adn_err.h"
#include "adn_meta.h"
#include "adn_pinned.h"
#include "adn_row.h"
#include "adn_snapshot.h"
#include "loader.h"
#include "netdev.h"

#define MAX_MAPS 128

enum map_fate { FATE_REUSE, FATE_NEW, FATE_CONVERT };

struct mapent {
	struct bpf_map *map;
	char rel[160], label[160];
	enum map_fate fate;
	int old_fd;                 /* the pinned map it replaces or reuses */
	struct adn_snap_table live; /* schema of the new map */
	struct adn_snap_table before; /* FATE_CONVERT: rows copied before the swap */
};

struct swap {
	const char *cmd;
	const char *chain;       /* whose slot is swapped */
	const char *tables_from; /* chain whose tables the new code uses */
	bool relay;              /* migrate: tables must all be reused */
	bool receiver;           /* the chain has elements at the receiver's sk_skb */
	struct bpf_object *obj;
	struct bpf_program *sockops, *msg, *dispatch;
	struct bpf_program *skb_verdict; /* receiver: the chain's stream verdict (slot 0 of
					  * adn_skb_progs); its parser and dispatcher stay */
	bool devices;                    /* the chain runs elements at TC / XDP (--dev) */
	struct bpf_program *tc, *xdp;    /* devices: the new per-datagram programs */
	struct mapent m[MAX_MAPS];
	int n;
	struct adn_snap old_schema; /* tables_from's schema */
	const char *element;        /* migrate --element: only its tables come from tables_from */
	struct adn_snap own_schema; /* with element: the chain's own schema, for the others */
	const struct adn_meta *new_meta; /* NEW_OBJ's .adn.meta (NULL: none): column defaults */
	int converted, reused, created;
};

static double now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static bool is_runtime(const char *rel)
{
	return !strcmp(rel, "adn_socks") || !strcmp(rel, "adn_cfg") || !strcmp(rel, "adn_stats") ||
	       !strcmp(rel, "adn_progs") || !strcmp(rel, "adn_sk_state") ||
	       /* the receiver's: its sockets, the stream state the attached
		* parser shares with the verdict, the slot, its counters */
	       !strcmp(rel, "adn_rsocks") || !strcmp(rel, "adn_strp") ||
	       !strcmp(rel, "adn_skb_progs") || !strcmp(rel, "adn_skb_stats");
}

static void map_rel(const char *name, char *rel, size_t len, char *label, size_t llen)
{
	const char *sep = strstr(name, "__");

	if (sep && sep != name && sep[2]) {
		snprintf(rel, len, "%.*s/%s", (int)(sep - name), name, sep + 2);
		snprintf(label, llen, "%.*s.%s", (int)(sep - name), name, sep + 2);
	} else {
		snprintf(rel, len, "%s", name);
		snprintf(label, llen, "%s", name);
	}
}

/* Whether table label "elem.table" (or pin path "elem/table") belongs to
 * element el. */
static bool of_element(const char *name, const char *el)
{
	size_t n = strlen(el);
	return !strncmp(name, el, n) && (name[n] == '.' || name[n] == '/');
}

/* Where a map of the new code comes from: the chain itself (its runtime
 * maps; with migrate --element, the other elements' tables too) or
 * tables_from. */
static bool from_own(const struct swap *w, const char *rel)
{
	return is_runtime(rel) || (w->element && !of_element(rel, w->element));
}

static const struct adn_snap_table *old_table(const struct swap *w, const char *name)
{
	const struct adn_snap *sc = w->element && !of_element(name, w->element) ? &w->own_schema
										 : &w->old_schema;
	for (int i = 0; i < sc->n; i++)
		if (!strcmp(sc->t[i].name, name))
			return &sc->t[i];
	return NULL;
}

/* Decide, for each map of the new object, reuse / new / convert. */
static int plan_maps(struct swap *w, struct adn_err *err)
{
	const struct btf *btf = bpf_object__btf(w->obj);
	struct bpf_map *map;
	char sa[16384], sb[16384];

	if (!btf)
		return adn_err_set(err, ENOENT, "object has no BTF (build it with -g)");
	bpf_object__for_each_map(map, w->obj) {
		if (bpf_map__is_internal(map))
			continue;
		if (w->n == MAX_MAPS)
			return adn_err_set(err, E2BIG, "more than %d maps", MAX_MAPS);
		struct mapent *e = &w->m[w->n++];
		char path[PATH_MAX];
		e->map = map;
		e->old_fd = -1;
		map_rel(bpf_map__name(map), e->rel, sizeof(e->rel), e->label, sizeof(e->label));
		bool runtime = is_runtime(e->rel);
		const char *from = from_own(w, e->rel) ? w->chain : w->tables_from;
		adn_chain_path(path, sizeof(path), from, e->rel);
		e->old_fd = bpf_obj_get(path);
		if (e->old_fd < 0) {
			if (runtime || w->relay)
				return adn_err_set(err, ENOENT, "chain %s has no map %s (%s): %s", from,
						   e->rel, path, strerror(errno));
			e->fate = FATE_NEW;
			w->created++;
			continue;
		}
		struct bpf_map_info info;
		if (adn_map_info(e->old_fd, &info))
			return adn_err_set(err, errno, "%s: %s", path, strerror(errno));
		bool same = info.type == bpf_map__type(map) && info.key_size == bpf_map__key_size(map) &&
			    info.value_size == bpf_map__value_size(map) &&
			    info.max_entries == bpf_map__max_entries(map) &&
			    info.map_flags == bpf_map__map_flags(map);
		const struct adn_snap_table *ot = old_table(w, e->label);
		if (same && ot && info.type != BPF_MAP_TYPE_RINGBUF) {
			struct adn_row_type rt;
			if (adn_row_type_init(&rt, btf, e->label, bpf_map__btf_key_type_id(map),
					      bpf_map__btf_value_type_id(map), err))
				return -EINVAL;
			adn_snap_table_init(&e->live, &rt, e->label, e->rel, info.type, info.max_entries,
					    info.key_size, info.value_size, info.map_flags);
			e->live.merge = ot->merge; /* a policy change needs no conversion */
			snprintf(e->live.merge_col, sizeof(e->live.merge_col), "%s", ot->merge_col);
			adn_snap_table_schema(&e->live, sa, sizeof(sa));
			adn_snap_table_schema(ot, sb, sizeof(sb));
			same = !strcmp(sa, sb);
		}
		if (same) {
			e->fate = FATE_REUSE;
			w->reused++;
			int rc = bpf_map__reuse_fd(map, e->old_fd);
			if (rc)
				return adn_err_set(err, -rc, "map %s: reuse: %s", e->rel, strerror(-rc));
			continue;
		}
		if (runtime || w->relay)
			return adn_err_set(err, EINVAL, "map %s of chain %s has another layout than the "
					   "new code's (%s); %s", e->rel, from,
					   runtime ? "runtime map" : "table",
					   w->relay ? "migrate needs the same schema: update the "
						      "target first" : "detach and attach");
		if (!ot)
			return adn_err_set(err, EINVAL, "map %s: cannot convert a %s map", e->rel,
					   libbpf_bpf_map_type_str(info.type));
		e->fate = FATE_CONVERT;
		w->converted++;
		struct adn_row_type rt;
		if (adn_row_type_init(&rt, btf, e->label, bpf_map__btf_key_type_id(map),
				      bpf_map__btf_value_type_id(map), err))
			return -EINVAL;
		adn_snap_table_init(&e->live, &rt, e->label, e->rel, bpf_map__type(map),
				    bpf_map__max_entries(map), bpf_map__key_size(map),
				    bpf_map__value_size(map), bpf_map__map_flags(map));
		e->live.merge = ot->merge;
		snprintf(e->live.merge_col, sizeof(e->live.merge_col), "%s", ot->merge_col);
		/* columns the old rows lack get NEW_OBJ's DEFAULTs */
		if (w->new_meta && adn_snap_table_apply_defaults(&e->live, w->new_meta, err))
			return -EINVAL;
		/* check now that the old rows convert (no changed type) */
		struct adn_snap a = { .n = 1, .t = (struct adn_snap_table *)ot };
		struct adn_snap b = { .n = 1, .t = &e->live };
		if (adn_snap_check_compat(&a, &b, err))
			return -EINVAL;
	}
	return 0;
}

/* A chain with receiver elements can be swapped only if it was attached
 * with the stream verdict dispatcher (prog_skb_chain in slot 0 of
 * adn_skb_progs): its sockets copied the stream parser and verdict when
 * they joined adn_rsocks (docs/loader.md, "update"). */
static int receiver_swappable(const char *chain, const char *what, struct adn_err *err)
{
	char path[PATH_MAX];

	adn_chain_path(path, sizeof(path), chain, "prog_skb_chain");
	if (!access(path, F_OK))
		return 0;
	return adn_err_set(err, EOPNOTSUPP, "chain %s runs elements at the receiver's sk_skb without a "
			   "stream verdict dispatcher (attached by an older adn-load), which %s "
			   "cannot swap; detach it and attach it again", chain, what);
}

/* A chain offloaded to a NIC (adn-load attach --offload) runs a program
 * loaded for that device; update and migrate load programs for the host
 * only. Refused (docs/offload.md). */
static int offload_refused(const char *chain, const char *what, struct adn_err *err)
{
	char path[PATH_MAX];

	adn_chain_path(path, sizeof(path), chain, "offload");
	if (!access(path, F_OK))
		return adn_err_set(err, EOPNOTSUPP, "chain %s is offloaded to a NIC, which %s cannot "
				   "swap; detach it and attach the new object", chain, what);
	return 0;
}

static int find_programs(struct swap *w, const char *what, struct adn_err *err)
{
	struct bpf_program *prog, *skb_parser = NULL, *skb_dispatch = NULL;

	bpf_object__for_each_program(prog, w->obj) {
		enum bpf_prog_type type = bpf_program__type(prog);
		if (type == BPF_PROG_TYPE_SK_SKB && !w->receiver)
			return adn_err_set(err, EOPNOTSUPP, "%s runs elements at the receiver's sk_skb and "
					   "chain %s does not: update cannot add a receiver (docs/loader.md); "
					   "detach the chain and attach the new object", what, w->chain);
		if (type == BPF_PROG_TYPE_SK_SKB &&
		    bpf_program__expected_attach_type(prog) == BPF_SK_SKB_STREAM_PARSER)
			skb_parser = prog;
		else if (type == BPF_PROG_TYPE_SK_SKB &&
			 !strcmp(bpf_program__name(prog), "adn_skb_dispatch"))
			skb_dispatch = prog;
		else if (type == BPF_PROG_TYPE_SK_SKB && !w->skb_verdict)
			w->skb_verdict = prog;
		else if (type == BPF_PROG_TYPE_SOCK_OPS && !w->sockops)
			w->sockops = prog;
		else if (type == BPF_PROG_TYPE_SK_MSG &&
			 !strcmp(bpf_program__name(prog), "adn_msg_dispatch"))
			w->dispatch = prog;
		else if (type == BPF_PROG_TYPE_SK_MSG && !w->msg)
			w->msg = prog;
		else if (type == BPF_PROG_TYPE_SCHED_CLS || type == BPF_PROG_TYPE_XDP) {
			/* loaded only for a chain attached to devices */
			struct bpf_program **p = type == BPF_PROG_TYPE_XDP ? &w->xdp : &w->tc;
			if (w->devices && !*p)
				*p = prog;
			else
				bpf_program__set_autoload(prog, false);
		}
	}
	if (!w->sockops || !w->msg || !w->dispatch)
		return adn_err_set(err, EINVAL, "%s: no %s program (built with a runtime older than "
				   "hot update?)", what, !w->sockops ? "sockops" : !w->msg ? "sk_msg" :
				   "adn_msg_dispatch");
	if (w->receiver && (!skb_parser || !skb_dispatch || !w->skb_verdict))
		return adn_err_set(err, EOPNOTSUPP, "chain %s runs elements at the receiver's sk_skb and "
				   "%s %s (docs/loader.md); detach the chain and attach the new object",
				   w->chain, what, !skb_parser ? "does not" :
				   "has no stream verdict dispatcher adn_skb_dispatch (built with a runtime "
				   "older than receiver hot update?)");
	for (int i = 0; w->devices && i < 2; i++) {
		char path[PATH_MAX];
		adn_chain_path(path, sizeof(path), w->chain, i ? "prog_xdp" : "prog_tc");
		if (!access(path, F_OK) && !(i ? w->xdp : w->tc))
			return adn_err_set(err, EOPNOTSUPP, "chain %s runs elements at %s and %s has no %s "
					   "program; detach the chain and attach the new object",
					   w->chain, i ? "XDP" : "TC", what, i ? "XDP" : "TC");
	}
	/* the running chain's dispatchers stay; these are never loaded */
	bpf_program__set_autoload(w->dispatch, false);
	if (w->receiver) {
		/* the attached stream parser stays too: it only frames, and
		 * shares adn_strp (reused) with the new verdict */
		bpf_program__set_autoload(skb_parser, false);
		bpf_program__set_autoload(skb_dispatch, false);
	}
	return 0;
}

/* Pins fd at <chain>/<rel>, replacing what is there in one rename. */
/* Pins are staged before the swap and committed after it: a new program,
 * table or object is pinned at <path>__swap (bpffs names may not contain
 * dots), so that a failure (a full bpffs, a name too long) ends the
 * command before the kernel runs anything new; after the swap each is
 * renamed over the old pin, which frees the old object with its last
 * reference. A table of an element that NEW_OBJ adds has no directory yet. */
static int stage_pin(const char *chain, const char *rel, int fd, struct adn_err *err)
{
	char path[PATH_MAX], tmp[PATH_MAX + 8], *slash;

	adn_chain_path(path, sizeof(path), chain, rel);
	snprintf(tmp, sizeof(tmp), "%s__swap", path);
	slash = strrchr(path, '/');
	*slash = '\0';
	if (adn_mkdir_p(path, 0700, err))
		return -1;
	unlink(tmp);
	if (bpf_obj_pin(fd, tmp))
		return adn_err_set(err, errno, "pin %s: %s", tmp, strerror(errno));
	return 0;
}

static int commit_pin(const char *chain, const char *rel, struct adn_err *err)
{
	char path[PATH_MAX], tmp[PATH_MAX + 8];

	adn_chain_path(path, sizeof(path), chain, rel);
	snprintf(tmp, sizeof(tmp), "%s__swap", path);
	if (rename(tmp, path)) {
		int e = errno;
		unlink(tmp);
		return adn_err_set(err, e, "rename %s: %s", path, strerror(e));
	}
	return 0;
}

/* Undo stage_pin: the staged pin, and the element's directory if the
 * command made it (rmdir fails on a directory that holds other pins). */
static void drop_pin(const char *chain, const char *rel)
{
	char path[PATH_MAX], tmp[PATH_MAX + 8], *slash;

	adn_chain_path(path, sizeof(path), chain, rel);
	snprintf(tmp, sizeof(tmp), "%s__swap", path);
	unlink(tmp);
	slash = strrchr(path, '/');
	*slash = '\0';
	if (strchr(rel, '/'))
		rmdir(path);
}

/* What update and migrate pin anew: the programs that run from now on,
 * the tables that are not reused, and (update) the object. */
struct pinset {
	int n;
	struct {
		char rel[160];
		int fd;
	} p[MAX_MAPS + 4];
};

static void pinset_add(struct pinset *ps, const char *rel, int fd)
{
	snprintf(ps->p[ps->n].rel, sizeof(ps->p[ps->n].rel), "%s", rel);
	ps->p[ps->n++].fd = fd;
}

static int pinset_stage(const struct pinset *ps, const char *chain, struct adn_err *err)
{
	for (int i = 0; i < ps->n; i++)
		if (stage_pin(chain, ps->p[i].rel, ps->p[i].fd, err)) {
			for (int k = 0; k <= i; k++)
				drop_pin(chain, ps->p[k].rel);
			return -1;
		}
	return 0;
}

static void pinset_drop(const struct pinset *ps, const char *chain)
{
	for (int i = 0; i < ps->n; i++)
		drop_pin(chain, ps->p[i].rel);
}

/* After the swap: a rename cannot fail for a reason the stage did not
 * already meet, but if one does, the rest are still committed and the
 * first error is reported. */
static int pinset_commit(const struct pinset *ps, const char *chain, struct adn_err *err)
{
	int rc = 0;
	struct adn_err e2;

	for (int i = 0; i < ps->n; i++)
		if (commit_pin(chain, ps->p[i].rel, rc ? &e2 : err))
			rc = -1;
	return rc;
}

/* Tables of the running chain that NEW_OBJ no longer has: their pins go
 * after the swap (nothing runs them any more), and with them the directory
 * of an element that NEW_OBJ removed. */
static void unpin_removed(const struct swap *w)
{
	char path[PATH_MAX], *slash;

	for (int i = 0; i < w->old_schema.n; i++) {
		const char *rel = w->old_schema.t[i].rel;
		bool kept = false;
		for (int k = 0; k < w->n && !kept; k++)
			kept = !strcmp(w->m[k].rel, rel);
		if (kept || adn_chain_path(path, sizeof(path), w->chain, rel))
			continue;
		unlink(path);
		slash = strrchr(path, '/');
		*slash = '\0';
		if (strchr(rel, '/'))
			rmdir(path);
	}
}

static int link_update_one(const char *rel, const char *path, void *ctx)
{
	int *prog_fd = ctx;
	if (strncmp(rel, "link_", 5))
		return 0;
	int fd = bpf_obj_get(path);
	if (fd < 0)
		return -errno;
	int rc = bpf_link_update(fd, *prog_fd, NULL) ? -errno : 0;
	close(fd);
	return rc;
}

/* The swap itself, after load. */
static int do_swap(struct swap *w, bool update_sockops, struct adn_err *err)
{
	char path[PATH_MAX];
	__u32 zero = 0;
	int rc, slot_fd, msg_fd = bpf_program__fd(w->msg);

	/* 1. converted tables: copy the rows before the swap */
	for (int i = 0; i < w->n; i++) {
		struct mapent *e = &w->m[i];
		if (e->fate != FATE_CONVERT)
			continue;
		const struct adn_snap_table *ot = old_table(w, e->label);
		e->before = *ot;
		e->before.nrows = e->before.cap = 0;
		e->before.keys = e->before.vals = NULL;
		rc = adn_snap_read_rows_fd(e->old_fd, &e->before, err);
		if (!rc)
			rc = adn_snap_copy_fd(&e->before, &e->live, bpf_map__fd(e->map), err);
		if (rc)
			return rc;
	}
	/* 2. the swap: one update of slot 0 of adn_progs, then (receiver
	 * elements) one of slot 0 of adn_skb_progs. sk_msg first: every
	 * element's response half runs in the server's sk_msg (adn_progs), so
	 * a request that ran the new receiver code has its response run by new
	 * code too; the reverse order would let a request run a new element
	 * and its response the old one (docs/loader.md, "update"). */
	struct {
		const char *map;
		int fd;
	} slots[] = { { "adn_progs", msg_fd },
		      { "adn_skb_progs", w->skb_verdict ? bpf_program__fd(w->skb_verdict) : -1 } };
	for (size_t i = 0; i < (w->skb_verdict ? 2u : 1u); i++) {
		adn_chain_path(path, sizeof(path), w->chain, slots[i].map);
		slot_fd = bpf_obj_get(path);
		if (slot_fd < 0)
			return adn_err_set(err, errno, "chain %s: %s: %s (attached without a dispatcher? "
					   "detach and attach it again)", w->chain, path, strerror(errno));
		rc = bpf_map_update_elem(slot_fd, &zero, &slots[i].fd, BPF_ANY) ? -errno : 0;
		close(slot_fd);
		if (rc)
			return adn_err_set(err, -rc, "chain %s: %s: swap slot 0: %s%s", w->chain,
					   slots[i].map, strerror(-rc),
					   i ? " (the sk_msg side already runs the new code)" : "");
	}
	/* 2b. devices: each TC filter / XDP program replaced in one netlink
	 * request (a datagram runs the old program or the new one, never
	 * both); device by device, in record order */
	if (w->devices) {
		char why[256];
		rc = net_replace_chain(w->chain, w->tc ? bpf_program__fd(w->tc) : -1,
				       w->xdp ? bpf_program__fd(w->xdp) : -1, why, sizeof(why));
		if (rc < 0)
			return adn_err_set(err, -rc, "chain %s: %s (the socket side already runs the "
					   "new code)", w->chain, why);
	}
	/* 3. sock_ops: bpf_link_update on every cgroup link (atomic per cgroup) */
	if (update_sockops) {
		int sfd = bpf_program__fd(w->sockops);
		rc = adn_chain_walk(w->chain, link_update_one, &sfd, err);
		if (rc)
			return adn_err_set(err, -rc, "chain %s: update sock_ops link: %s", w->chain,
					   strerror(-rc));
	}
	/* 4. every run of the old code has ended after a grace period */
	loader_grace_period();
	/* 5. converted tables: the changes the old code made since the copy */
	for (int i = 0; i < w->n; i++) {
		struct mapent *e = &w->m[i];
		if (e->fate != FATE_CONVERT)
			continue;
		struct adn_snap_table after = e->before;
		after.nrows = after.cap = 0;
		after.keys = after.vals = NULL;
		rc = adn_snap_read_rows_fd(e->old_fd, &after, err);
		if (!rc) {
			after.merge = e->before.merge = e->live.merge;
			if (after.merge == ADN_MERGE_FIRST)
				after.merge = e->before.merge = ADN_MERGE_UNION;
			rc = adn_snap_delta_fd(&e->before, &after, &e->live, bpf_map__fd(e->map), err);
		}
		free(after.keys);
		free(after.vals);
		if (rc)
			return rc;
	}
	return 0;
}

static void swap_free(struct swap *w)
{
	for (int i = 0; i < w->n; i++) {
		if (w->m[i].old_fd >= 0)
			close(w->m[i].old_fd);
		free(w->m[i].before.keys);
		free(w->m[i].before.vals);
	}
	adn_snap_free(&w->old_schema);
	adn_snap_free(&w->own_schema);
	bpf_object__close(w->obj);
}

static int open_obj(struct swap *w, const void *elf, size_t len, const char *what,
		    struct adn_err *err)
{
	LIBBPF_OPTS(bpf_object_open_opts, oo, .object_name = "adn");

	if (len < 4 || memcmp(elf, "\177ELF", 4))
		return adn_err_set(err, EINVAL, "%s: not an eBPF object (adnc writes CHAIN.bpf.o)", what);
	w->obj = bpf_object__open_mem(elf, len, &oo);
	if (!w->obj) {
		char why[128];
		int e = errno;
		libbpf_strerror(e, why, sizeof(why)); /* libbpf's own codes (4001...) too */
		return adn_err_set(err, e, "%s: open: %s", what, why);
	}
	return find_programs(w, what, err);
}

static int load_obj(struct swap *w, const char *what, struct adn_err *err)
{
	int rc = bpf_object__load(w->obj);
	if (rc) {
		if (libbpf_log_print_verifier_tail(stderr, 30))
			return adn_err_set(err, -rc, "%s: the kernel verifier rejected a program (%s)",
					   what, strerror(-rc));
		const char *why = libbpf_log_last_warning();
		return adn_err_set(err, -rc, "%s: load: %s%s%s", what, strerror(-rc), *why ? ": " : "",
				   why);
	}
	return 0;
}

static bool is_new_table(const struct bpf_map *map, void *ctx)
{
	const struct swap *w = ctx;

	for (int i = 0; i < w->n; i++)
		if (w->m[i].map == map)
			return w->m[i].fate == FATE_NEW;
	return false;
}

static int new_tables_rows(struct swap *w, struct adn_err *err)
{
	if (!w->created)
		return 0;
	if (!w->new_meta)
		return adn_err_set(err, ENOENT, "NEW_OBJ has no .adn.meta: the initial rows of its "
				   "new tables are unknown");
	return loader_write_initial_rows(w->obj, w->new_meta, is_new_table, w, err);
}

/* ---- update ---------------------------------------------------------------- */

static void update_usage(FILE *out)
{
	fprintf(out,
		"Usage: adn-load update [OPTIONS] CHAIN NEW_OBJ\n"
		"\n"
		"Replace the code of the running CHAIN by NEW_OBJ (built by adnc), keeping\n"
		"its state. Maps whose layout (type, sizes, capacity, flags, columns by\n"
		"BTF) is unchanged are reused as they are (bpf_map__reuse_fd): counters and\n"
		"rate limiters carry on. A table whose layout changed gets a new map: its\n"
		"rows are copied, converted by column name (added columns get their\n"
		"DSL DEFAULT, else zero; removed ones dropped; a changed type is refused\n"
		"before anything changes), then, after the swap, the updates the old code\n"
		"made meanwhile are added by the table's merge policy. The swap is one\n"
		"write of slot 0 of the chain's\n"
		"adn_progs (the dispatcher's tail call): every connection, open or new,\n"
		"runs the new code from its next sendmsg; no frame sees old and new\n"
		"elements mixed. With elements at the receiver's sk_skb, slot 0 of\n"
		"adn_skb_progs (the stream verdict dispatcher's) is swapped right after;\n"
		"a chain attached at TC/XDP (--dev) gets each filter / XDP program\n"
		"replaced in place (one netlink request per device).\n"
		"sock_ops links are switched with bpf_link_update.\n"
		"\n"
		"Options:\n"
		"  -j, --json     print a JSON summary\n"
		"  -v, --verbose  show libbpf's messages\n"
		"  -h, --help     this help\n"
		"\n"
		"Exit status: 0 ok, 1 usage, 2 runtime failure (before the swap: the chain\n"
		"keeps its old code; a failure after it says what already runs the new\n"
		"code), 4 incompatible schema.\n");
}

int cmd_update(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct swap w = { .cmd = "update" };
	struct adn_err err;
	bool json = false, verbose = false;
	void *elf = NULL;
	size_t len;
	int c, rc, lock_fd, code = EXIT_RUNTIME;
	sigset_t block, old;

	optind = 1;
	while ((c = getopt_long(argc, argv, "jvh", opts, NULL)) != -1) {
		switch (c) {
		case 'j': json = true; break;
		case 'v': verbose = true; break;
		case 'h': update_usage(stdout); return EXIT_OK;
		default: loader_usage_hint("update"); return EXIT_USAGE;
		}
	}
	if (optind != argc - 2) {
		loader_error("update", "expected CHAIN NEW_OBJ");
		loader_usage_hint("update");
		return EXIT_USAGE;
	}
	const char *chain = argv[optind], *obj = argv[optind + 1];
	if (!adn_name_valid(chain)) {
		loader_error("update", "'%s' is not a valid chain name", chain);
		return EXIT_USAGE;
	}
	libbpf_log_capture(verbose);
	if (!adn_chain_exists(chain)) {
		loader_error("update", "chain %s is not attached (no %s/%s)", chain, ADN_PIN_ROOT, chain);
		return EXIT_RUNTIME;
	}
	if (offload_refused(chain, "hot update", &err)) {
		loader_error("update", "%s", err.msg);
		return EXIT_RUNTIME;
	}
	w.devices = net_chain_has_devices(chain);
	w.receiver = chain_has_receiver(chain);
	if (w.receiver) {
		/* Its sockets copied the stream parser and verdict when they
		 * joined adn_rsocks: only a chain attached with the verdict
		 * dispatcher (prog_skb_chain in slot 0 of adn_skb_progs) can
		 * be swapped (docs/loader.md, "update"). */
		if (receiver_swappable(chain, "hot update", &err)) {
			loader_error("update", "%s", err.msg);
			return EXIT_RUNTIME;
		}
	}
	if (loader_read_file(obj, &elf, &len, &err)) {
		loader_error("update", "%s", err.msg);
		return EXIT_RUNTIME;
	}
	lock_fd = adn_pin_root_lock(&err);
	if (lock_fd < 0) {
		loader_error("update", "%s", err.msg);
		free(elf);
		return EXIT_RUNTIME;
	}
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGHUP);
	sigprocmask(SIG_BLOCK, &block, &old);
	double t0 = now_ms(), t1 = 0;
	w.chain = w.tables_from = chain;
	rc = adn_snap_schema(&w.old_schema, chain, &err);
	if (!rc)
		rc = open_obj(&w, elf, len, obj, &err);
	struct adn_meta new_meta;
	struct adn_err merr;
	if (!rc && adn_meta_read_elf(&new_meta, obj, &merr) == 0)
		w.new_meta = &new_meta;
	if (!rc) {
		rc = plan_maps(&w, &err);
		if (rc == -EINVAL)
			code = EXIT_SCHEMA;
	}
	if (!rc)
		rc = load_obj(&w, obj, &err);
	/* tables new in NEW_OBJ start with their DSL rows (INSERT ... VALUES) */
	if (!rc)
		rc = new_tables_rows(&w, &err);
	/* pins: new programs, new/converted tables, the object (staged) */
	struct pinset ps = { 0 };
	int ofd = -1;
	if (!rc)
		rc = adn_chain_obj_create(elf, len, &ofd, &err);
	if (!rc) {
		pinset_add(&ps, "prog_chain", bpf_program__fd(w.msg));
		if (w.skb_verdict)
			pinset_add(&ps, "prog_skb_chain", bpf_program__fd(w.skb_verdict));
		pinset_add(&ps, "prog_sockops", bpf_program__fd(w.sockops));
		if (w.tc)
			pinset_add(&ps, "prog_tc", bpf_program__fd(w.tc));
		if (w.xdp)
			pinset_add(&ps, "prog_xdp", bpf_program__fd(w.xdp));
		for (int i = 0; i < w.n; i++)
			if (w.m[i].fate != FATE_REUSE)
				pinset_add(&ps, w.m[i].rel, bpf_map__fd(w.m[i].map));
		pinset_add(&ps, "adn_obj", ofd);
		rc = pinset_stage(&ps, chain, &err);
		if (!rc) {
			t1 = now_ms();
			rc = do_swap(&w, true, &err);
			if (rc)
				pinset_drop(&ps, chain);
		}
	}
	if (!rc)
		rc = pinset_commit(&ps, chain, &err);
	if (!rc)
		unpin_removed(&w);
	if (ofd >= 0)
		close(ofd);
	double t2 = now_ms();
	if (rc) {
		loader_error("update", "chain %s: %s", chain, err.msg);
	} else {
		code = EXIT_OK;
		if (json)
			printf("{\"chain\":\"%s\",\"reused\":%d,\"converted\":%d,\"created\":%d,"
			       "\"load_ms\":%.1f,\"swap_ms\":%.1f}\n",
			       chain, w.reused, w.converted, w.created, t1 - t0, t2 - t1);
		else
			printf("chain %s updated from %s: %d maps kept, %d converted, %d new "
			       "(load %.1f ms, swap %.1f ms)\n",
			       chain, obj, w.reused, w.converted, w.created, t1 - t0, t2 - t1);
	}
	swap_free(&w);
	if (w.new_meta)
		adn_meta_free(&new_meta);
	close(lock_fd);
	sigprocmask(SIG_SETMASK, &old, NULL);
	free(elf);
	return code;
}

/* ---- migrate ---------------------------------------------------------------- */

/* Keeps only element el's tables of s; the number kept. */
static int snap_keep_element(struct adn_snap *s, const char *el)
{
	int k = 0;

	for (int i = 0; i < s->n; i++) {
		if (of_element(s->t[i].name, el)) {
			s->t[k++] = s->t[i];
			continue;
		}
		free(s->t[i].keys);
		free(s->t[i].vals);
	}
	s->n = k;
	return k;
}

static void migrate_usage(FILE *out)
{
	fprintf(out,
		"Usage: adn-load migrate [OPTIONS] CHAIN --to CHAIN2\n"
		"\n"
		"Move the state of CHAIN into CHAIN2 (another attachment: another cgroup,\n"
		"another network namespace on this kernel, or the same elements placed at\n"
		"another hook), losing no update made while it moves. CHAIN2 must be\n"
		"attached with the same table schemas; CHAIN not offloaded to a NIC.\n"
		"Protocol (docs/loader.md):\n"
		"  1. copy: snapshot CHAIN, merge it into CHAIN2 by each table's policy\n"
		"     (SUM columns added in the kernel with atomic adds);\n"
		"  2. switch: CHAIN's slot 0 gets CHAIN's code bound to CHAIN2's tables,\n"
		"     so from their next sendmsg CHAIN's connections update CHAIN2's state;\n"
		"  3. grace period: every run of the old code has ended; CHAIN's tables\n"
		"     are now frozen;\n"
		"  4. delta: what CHAIN's tables gained between 1 and 3 is added to CHAIN2.\n"
		"No RPC waits: nothing is paused, writers are redirected.\n"
		"\n"
		"Options:\n"
		"  -t, --to CHAIN2      the target chain (required)\n"
		"  -e, --element NAME   move only element NAME's tables (CHAIN2 must have\n"
		"                       them); the other elements keep CHAIN's own state\n"
		"  -d, --detach-source  detach CHAIN afterwards (its connections then run\n"
		"                       no chain)\n"
		"  -j, --json           print a JSON summary\n"
		"  -h, --help           this help\n");
}

int cmd_migrate(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "to", required_argument, NULL, 't' },
		{ "element", required_argument, NULL, 'e' },
		{ "detach-source", no_argument, NULL, 'd' },
		{ "json", no_argument, NULL, 'j' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct swap w = { .cmd = "migrate", .relay = true };
	struct adn_snap s0 = { 0 }, s1 = { 0 };
	struct adn_err err;
	const char *to = NULL;
	bool json = false, verbose = false, detach_source = false;
	void *elf = NULL;
	size_t len;
	int c, rc, lock_fd, code = EXIT_RUNTIME;

	optind = 1;
	while ((c = getopt_long(argc, argv, "t:e:djvh", opts, NULL)) != -1) {
		switch (c) {
		case 't': to = optarg; break;
		case 'e': w.element = optarg; break;
		case 'd': detach_source = true; break;
		case 'j': json = true; break;
		case 'v': verbose = true; break;
		case 'h': migrate_usage(stdout); return EXIT_OK;
		default: loader_usage_hint("migrate"); return EXIT_USAGE;
		}
	}
	if (optind != argc - 1 || !to) {
		loader_error("migrate", !to ? "missing --to CHAIN2" : "expected one source CHAIN");
		loader_usage_hint("migrate");
		return EXIT_USAGE;
	}
	const char *chain = argv[optind];
	if (!adn_name_valid(chain) || !adn_name_valid(to) || !strcmp(chain, to)) {
		loader_error("migrate", "'%s' -> '%s': two different valid chain names needed", chain, to);
		return EXIT_USAGE;
	}
	libbpf_log_capture(verbose);
	for (int i = 0; i < 2; i++)
		if (!adn_chain_exists(i ? to : chain)) {
			loader_error("migrate", "chain %s is not attached (no %s/%s)", i ? to : chain,
				     ADN_PIN_ROOT, i ? to : chain);
			return EXIT_RUNTIME;
		}
	if (adn_chain_obj_get(chain, &elf, &len, &err)) {
		loader_error("migrate", "%s", err.msg);
		return EXIT_RUNTIME;
	}
	lock_fd = adn_pin_root_lock(&err);
	if (lock_fd < 0) {
		loader_error("migrate", "%s", err.msg);
		free(elf);
		return EXIT_RUNTIME;
	}
	double t0 = now_ms();
	w.chain = chain;
	w.tables_from = to;
	/* a receiver chain relays through both slots, as update swaps them */
	w.receiver = chain_has_receiver(chain);
	rc = offload_refused(chain, "migrate", &err);
	w.devices = net_chain_has_devices(chain);
	if (!rc && w.receiver)
		rc = receiver_swappable(chain, "migrate", &err);
	if (!rc)
		rc = adn_snap_schema(&w.old_schema, to, &err);
	if (!rc && w.element) {
		rc = adn_snap_schema(&w.own_schema, chain, &err);
		for (int i = 0; !rc && i < 2; i++) {
			const struct adn_snap *sc = i ? &w.old_schema : &w.own_schema;
			bool found = false;
			for (int k = 0; k < sc->n && !found; k++)
				found = of_element(sc->t[k].name, w.element);
			if (!found) {
				rc = adn_err_set(&err, ENOENT, "chain %s has no table of element %s",
						 i ? to : chain, w.element);
				code = EXIT_SCHEMA;
			}
		}
	}
	if (!rc)
		rc = open_obj(&w, elf, len, chain, &err);
	if (!rc) {
		rc = plan_maps(&w, &err);
		if (rc == -EINVAL)
			code = EXIT_SCHEMA;
	}
	if (!rc)
		rc = load_obj(&w, chain, &err);
	/* 1. copy */
	if (!rc)
		rc = adn_snap_take(&s0, chain, &err);
	if (!rc && w.element)
		snap_keep_element(&s0, w.element);
	if (!rc)
		rc = adn_snap_apply_delta(NULL, &s0, to, &err);
	double t1 = now_ms();
	/* 2.-3. switch + grace period; the relay's programs pinned (staged) */
	struct pinset ps = { 0 };
	pinset_add(&ps, "prog_chain", rc ? -1 : bpf_program__fd(w.msg));
	if (w.skb_verdict)
		pinset_add(&ps, "prog_skb_chain", bpf_program__fd(w.skb_verdict));
	if (w.tc)
		pinset_add(&ps, "prog_tc", bpf_program__fd(w.tc));
	if (w.xdp)
		pinset_add(&ps, "prog_xdp", bpf_program__fd(w.xdp));
	if (!rc)
		rc = pinset_stage(&ps, chain, &err);
	if (!rc) {
		rc = do_swap(&w, false, &err);
		if (rc)
			pinset_drop(&ps, chain);
		else
			rc = pinset_commit(&ps, chain, &err);
	}
	double t2 = now_ms();
	/* 4. delta */
	if (!rc)
		rc = adn_snap_take(&s1, chain, &err);
	if (!rc && w.element)
		snap_keep_element(&s1, w.element);
	if (!rc)
		rc = adn_snap_apply_delta(&s0, &s1, to, &err);
	double t3 = now_ms();
	if (rc) {
		loader_error("migrate", "%s -> %s: %s", chain, to, err.msg);
	} else {
		code = EXIT_OK;
		uint64_t rows = 0, drows = 0;
		for (int i = 0; i < s0.n; i++)
			rows += s0.t[i].nrows;
		for (int i = 0; i < s1.n; i++)
			drows += s1.t[i].nrows;
		if (json)
			printf("{\"from\":\"%s\",\"to\":\"%s\",\"rows\":%" PRIu64 ",\"copy_ms\":%.1f,"
			       "\"switch_ms\":%.1f,\"delta_ms\":%.1f}\n",
			       chain, to, rows, t1 - t0, t2 - t1, t3 - t2);
		else
			printf("migrated %s -> %s: %" PRIu64 " rows copied (%.1f ms), writers switched "
			       "(%.1f ms), delta of %" PRIu64 " rows checked (%.1f ms)\n",
			       chain, to, rows, t1 - t0, t2 - t1, drows, t3 - t2);
	}
	swap_free(&w);
	adn_snap_free(&s0);
	adn_snap_free(&s1);
	free(elf);
	if (!rc && detach_source) {
		rc = chain_teardown(chain, true, &err);
		if (rc) {
			loader_error("migrate", "detach %s: %s", chain, err.msg);
			code = EXIT_RUNTIME;
		} else {
			printf("chain %s detached\n", chain);
		}
	}
	close(lock_fd);
	return code;
}
