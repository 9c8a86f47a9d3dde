/* adnc --target offload (docs/offload.md).
 *
 * The NIC (Netronome NFP rules) runs XDP and TC programs with HASH and
 * ARRAY maps only; helpers map lookup/update/delete, get_prandom_u32,
 * xdp_adjust_head/tail and perf_event_output; no plain stores into map
 * values (atomic adds only); no tail calls, no bpf_loop, no
 * bpf_ktime_get_ns; multiply and divide on 32-bit values by constants only.
 *
 * 1. Rules on the IR, per element and statement (offload_why_not): each
 *    language construct is mapped to what its generated code needs, and
 *    the first one the NIC lacks is reported at its DSL location.
 * 2. Placement (offload_place): the NIC is the XDP hook at the server's
 *    ingress. The longest tail of the chain whose elements fit moves there
 *    (a drop on the NIC costs no host CPU at all); what does not fit stays
 *    on the client's TC with the reason in --explain. An element that must
 *    run at XDP (AT RECEIVER, --place/--hook xdp, chain order) and does not
 *    fit is an error.
 * 3. Code (offload_gen_bpf): the ordinary generator on a copy of the IR
 *    that holds only the elements at XDP and their maps, over the offload
 *    runtime (bpf/adn_offload.h, bpf/adn_offload_xdp.h).
 * 4. The object (offload_check_object): a second line of defence, on the
 *    instructions clang produced: program and map kinds, helper calls,
 *    multiply/divide instructions. A finding there is a bug in adnc. */
#include "offload.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/libbpf.h>
#include <linux/bpf.h>

#include "adnc.h"
#include "build.h"
#include "codegen.h"
#include "verify.h"
#include "strbuf.h"
#include "tokenize.h"

/* ---- 1. the rules on the IR ---- */

struct ocheck {
	struct arena *a;
	const char *why;
	struct loc where;
};

static void fail(struct ocheck *c, struct loc at, const char *why)
{
	if (c->why)
		return; /* the first finding, in statement order */
	c->why = why;
	c->where = at;
}

static bool pow2_literal(const struct expr *e)
{
	return e && e->kind == EX_INT && e->ival && !(e->ival & (e->ival - 1));
}

static const char *op_text(int op)
{
	return op == TOK_STAR ? "*" : op == TOK_SLASH ? "/" : "%";
}

static void check_expr(struct ocheck *c, const struct expr *e)
{
	if (!e || c->why)
		return;
	switch (e->kind) {
	case EX_CALL:
		if (e->func == FN_NOW)
			fail(c, e->loc, "offload: now() needs bpf_ktime_get_ns, which the NIC does not offer");
		else if (e->func == FN_HASH)
			fail(c, e->loc, "offload: hash() multiplies 64-bit values, and the NIC multiplies only 32-bit values by constants");
		for (size_t i = 0; i < e->n_args; i++)
			check_expr(c, e->args[i]);
		break;
	case EX_CASE:
		for (size_t i = 0; i < e->n_args; i++)
			check_expr(c, e->args[i]);
		check_expr(c, e->rhs);
		break;
	case EX_UNARY:
		check_expr(c, e->lhs);
		break;
	case EX_BINARY:
		if (e->op == TOK_STAR || e->op == TOK_SLASH || e->op == TOK_PERCENT) {
			bool real = e->type.kind == TY_REAL || e->lhs->type.kind == TY_REAL ||
				    e->rhs->type.kind == TY_REAL;
			bool ok = !real && (pow2_literal(e->rhs) || (e->op == TOK_STAR && pow2_literal(e->lhs)));
			if (!ok)
				fail(c, e->loc,
				     real ? arena_printf(c->a, "offload: REAL '%s' needs 64-bit multiplies (32.32 fixed point), and the NIC multiplies and divides only 32-bit values by constants",
							 op_text(e->op)) :
					    arena_printf(c->a, "offload: '%s' compiles to a 64-bit %s (adn computes integers in 64 bits), and the NIC %s only 32-bit values by constants; use a power-of-two constant (a shift)",
							 op_text(e->op), e->op == TOK_STAR ? "multiply" : "divide",
							 e->op == TOK_STAR ? "multiplies" : "divides"));
		}
		check_expr(c, e->lhs);
		check_expr(c, e->rhs);
		break;
	default:
		break;
	}
}

static const char *table_kind_text(enum table_kind k)
{
	switch (k) {
	case TABLE_LRU: return "USING LRU (BPF_MAP_TYPE_LRU_HASH)";
	case TABLE_LOG: return "a LOG table (a ring buffer, bpf_ringbuf_output)";
	case TABLE_PERCPU_HASH: return "per-CPU (BPF_MAP_TYPE_PERCPU_HASH)";
	case TABLE_PERCPU_ARRAY: return "per-CPU (BPF_MAP_TYPE_PERCPU_ARRAY)";
	default: return NULL;
	}
}

static void check_join(struct ocheck *c, const struct join_clause *j)
{
	check_expr(c, j->on);
	for (size_t k = 0; k < j->n_keys && j->key_vals; k++)
		check_expr(c, j->key_vals[k]);
}

static void check_stmt(struct ocheck *c, const struct select_insert *s)
{
	if (s->kind == ST_ROUTE)
		fail(c, s->loc, "offload: ROUTE TO REPLICA redirects to a socket (SOCKHASH, bpf_msg_redirect_hash), which the NIC does not have");
	if (s->kind == ST_REPLY)
		fail(c, s->loc, "offload: INSERT INTO reply builds a reply of another length (bpf_skb_change_tail, a new UDP checksum with bpf_csum_diff), which the NIC does not offer");
	if (s->kind == ST_UPDATE && s->to_input)
		fail(c, s->loc, "offload: UPDATE input rewrites the request, and fixing the UDP checksum over the new fields needs bpf_csum_diff, which the NIC does not offer");
	if (s->kind == ST_UPDATE && s->table) {
		for (size_t i = 0; i < s->n_sets; i++)
			if (!s->sets[i].atomic)
				fail(c, s->sets[i].col.loc,
				     arena_printf(c->a, "offload: 'SET %s = ...' stores into a map value, and the NIC allows only atomic adds into map values (%s = %s + n)",
						  s->sets[i].col.name, s->sets[i].col.name, s->sets[i].col.name));
	}
	for (size_t i = 0; i < s->n_exprs; i++)
		check_expr(c, s->exprs[i]);
	for (size_t i = 0; i < s->n_joins; i++)
		check_join(c, &s->joins[i]);
	check_join(c, &s->target_join);
	check_expr(c, s->where);
	for (size_t i = 0; i < s->n_sets; i++) {
		check_expr(c, s->sets[i].value);
		check_expr(c, s->sets[i].delta);
	}
	for (size_t i = 0; i < s->n_filters; i++)
		check_expr(c, s->filters[i]);
}

const char *offload_why_not(struct arena *a, const struct ir_chain *ir, const struct ir_element *e,
			    struct loc *where)
{
	struct ocheck c = { .a = a };
	const struct element_decl *el = e->decl;

	(void)ir;
	/* every table of the element becomes a map of the object */
	for (size_t i = 0; i < el->n_tables; i++) {
		const char *k = table_kind_text(el->tables[i].kind);
		if (k)
			fail(&c, el->tables[i].kind_loc.line ? el->tables[i].kind_loc : el->tables[i].loc,
			     arena_printf(a, "offload: table '%s' is %s, and the NIC offers only HASH and ARRAY maps",
					  el->tables[i].name, k));
	}
	const struct on_block *ob = &el->on[DIR_REQUEST];
	for (size_t i = 0; ob->present && i < ob->n_stmts && !c.why; i++)
		check_stmt(&c, &ob->stmts[i]);
	if (c.why && where)
		*where = c.where;
	return c.why;
}

/* ---- 2. placement ---- */

static const struct ir_forced_place *forced_for(const struct ir_element *e,
						const struct ir_forced_place *f, size_t n)
{
	const struct ir_forced_place *hit = NULL;
	for (size_t i = 0; i < n; i++) {
		if (f[i].element && strcmp(f[i].element, e->decl->name) == 0)
			return &f[i];
		if (!f[i].element && !e->decl->in_app)
			hit = &f[i];
	}
	return hit;
}

static bool has_rule(const struct ir_element *e, enum place_rule r)
{
	for (size_t i = 0; i < e->use->n_rules; i++)
		if (e->use->rules[i].rule == r)
			return true;
	return false;
}

#define NIC_REASON "--target offload: fits the NIC's rules (HASH/ARRAY maps, allowed helpers, atomic adds only): XDP offloaded to the server's NIC runs it without host CPU, and a request it drops never reaches the server's host"

bool offload_place(struct arena *a, struct diag *d, struct ir_chain *ir,
		   const struct ir_forced_place *forced, size_t n_forced)
{
	const int errors = d->errors;
	const size_t n = ir->n_elems;
	const char **why = arena_alloc(a, sizeof(*why) * (n + 1));
	struct loc *where = arena_alloc(a, sizeof(*where) * (n + 1));
	bool *keep_sender = arena_alloc(a, sizeof(*keep_sender) * (n + 1));
	const struct ir_element *first_rx = NULL;

	if (!ir->udp) {
		diag_error(d, ir->chain->loc,
			   "--target offload: service '%s' is TRANSPORT TCP; the NIC runs XDP, which sees one RPC per datagram only with TRANSPORT UDP",
			   ir->svc->name);
		return false;
	}
	for (size_t i = 0; i < n; i++) {
		struct ir_element *e = &ir->elems[i];
		const struct ir_forced_place *fp = forced_for(e, forced, n_forced);
		if (e->place == PLACE_APP)
			continue;
		if (e->has[DIR_RESPONSE]) {
			why[i] = arena_printf(a, "offload: '%s' has an ON RESPONSE side, and the NIC (XDP at the server's ingress) sees requests only",
					      e->decl->name);
			where[i] = e->decl->on[DIR_RESPONSE].loc;
		} else if (e->routes) {
			why[i] = arena_printf(a, "offload: '%s' routes requests (ROUTE TO REPLICA), which must happen at the client",
					      e->decl->name);
			where[i] = e->decl->route_loc;
		} else {
			why[i] = offload_why_not(a, ir, e, &where[i]);
		}
		keep_sender[i] = has_rule(e, RULE_AT_SENDER) || (fp && fp->place != PLACE_XDP);
	}
	/* Elements that must run at XDP: they run on the NIC or not at all. */
	for (size_t i = 0; i < n; i++) {
		const struct ir_element *e = &ir->elems[i];
		const struct ir_forced_place *fp = forced_for(e, forced, n_forced);
		if (e->place != PLACE_XDP)
			continue;
		if (why[i]) {
			const char *cause =
				fp && fp->place == PLACE_XDP ?
					arena_printf(a, "forced by %s", fp->element ? "--place" : "--hook") :
				has_rule(e, RULE_AT_RECEIVER) ? "AT RECEIVER" :
				first_rx ? arena_printf(a, "chain order: it comes after '%s', which runs there",
							first_rx->decl->name) :
					   "placed there";
			diag_error(d, where[i], "%s (element '%s' runs at XDP, which --target offload puts on the NIC: %s)",
				   why[i], e->decl->name, cause);
		}
		if (!first_rx)
			first_rx = e;
	}
	if (d->errors != errors)
		return false;

	/* The tail that fits moves to the NIC. */
	size_t start = n;
	for (size_t i = n; i-- > 0;) {
		if (ir->elems[i].place == PLACE_APP)
			continue;
		if (why[i] || keep_sender[i])
			break;
		start = i;
	}
	ir->hooks = 0;
	for (size_t i = 0; i < n; i++) {
		struct ir_element *e = &ir->elems[i];
		if (e->place == PLACE_APP) {
			ir->hooks |= IR_PLACE_BIT(e->place);
			continue;
		}
		if (i >= start) {
			if (e->place != PLACE_XDP)
				e->place_reason = NIC_REASON;
			else
				e->place_reason = arena_printf(a, "%s; --target offload: on the server's NIC (fits its rules)",
							       e->place_reason ? e->place_reason : "");
			e->place = PLACE_XDP;
		} else {
			const char *cause = why[i];
			if (!cause && keep_sender[i])
				cause = "a constraint (AT SENDER, --place, --hook) keeps it at the sender";
			if (!cause) {
				size_t j = i + 1;
				while (j < n && (ir->elems[j].place == PLACE_APP || (!why[j] && !keep_sender[j])))
					j++;
				cause = j < n ? arena_printf(a, "'%s' later in the chain cannot run on the NIC (%s), and chain order keeps sender hooks first",
							     ir->elems[j].decl->name,
							     why[j] ? why[j] + strlen("offload: ") : "it is kept at the sender") :
						"chain order";
			}
			e->place_reason = arena_printf(a, "%s; --target offload: stays on the host: %s",
						       e->place_reason ? e->place_reason : "", cause);
		}
		ir->hooks |= IR_PLACE_BIT(e->place);
	}
	if (!offload_has_elements(ir))
		diag_warning(d, ir->chain->loc,
			     "--target offload: no element of chain '%s' can run on the NIC; no offload object (--explain says why)",
			     ir->chain->name);
	return true;
}

bool offload_apply(struct adnc_unit *u, const struct ir_forced_place *forced, size_t n_forced)
{
	if (!u->ir)
		return false;
	if (!offload_place(&u->arena, &u->diag, u->ir, forced, n_forced)) {
		u->ir = NULL;
		return false;
	}
	return true;
}

bool offload_has_elements(const struct ir_chain *ir)
{
	for (size_t i = 0; i < ir->n_elems; i++)
		if (ir->elems[i].place == PLACE_XDP)
			return true;
	return false;
}

/* ---- 3. the offload object's C ---- */

/* Replaces the first occurrence of from in sb's text by to. */
static bool replace(struct strbuf *out, const char *text, const char *from, const char *to)
{
	const char *p = strstr(text, from);
	if (!p)
		return false;
	sb_putn(out, text, (size_t)(p - text));
	sb_puts(out, to);
	sb_puts(out, p + strlen(from));
	return true;
}

char *offload_gen_bpf(const struct ir_chain *ir)
{
	struct ir_chain nic = *ir;
	struct ir_element *elems;
	struct ir_map *maps;
	struct strbuf a = { 0 }, b = { 0 };
	size_t ne = 0, nm = 0;
	bool ok = true;

	if (!offload_has_elements(ir))
		return NULL;
	elems = calloc(ir->n_elems, sizeof(*elems));
	maps = calloc(ir->n_maps ? ir->n_maps : 1, sizeof(*maps));
	if (!elems || !maps) {
		free(elems);
		free(maps);
		return NULL;
	}
	for (size_t i = 0; i < ir->n_elems; i++)
		if (ir->elems[i].place == PLACE_XDP)
			elems[ne++] = ir->elems[i];
	for (size_t m = 0; m < ir->n_maps; m++) {
		bool keep = !ir->maps[m].el;
		for (size_t i = 0; i < ne && !keep; i++)
			keep = ir->maps[m].el == elems[i].decl;
		if (keep)
			maps[nm++] = ir->maps[m];
	}
	nic.elems = elems;
	nic.n_elems = ne;
	nic.maps = maps;
	nic.n_maps = nm;
	nic.hooks = IR_PLACE_BIT(PLACE_XDP);
	nic.n_params = 0;
	for (size_t i = 0; i < ne; i++)
		nic.n_params += elems[i].decl->n_params;
	codegen_bpf(&a, &nic);
	free(elems);
	free(maps);

	/* The runtime: adn_offload.h for adn_bpf.h, no socket programs, the
	 * NIC's XDP program for adn_xdp.h; offload=1 in .adn.meta. */
	const char *steps[][2] = {
		{ "#include \"adn_bpf.h\"", "#include \"adn_offload.h\" /* the NIC's runtime (adnc --target offload) */" },
		{ "\t\"version=0\\n\"\n", "\t\"version=0\\n\"\n\t\"offload=1\\n\"\n" },
		{ "#include \"adn_sk_msg.h\"\n", "/* offload: no socket programs, the object holds the NIC's XDP program only */\n" },
		{ "#include \"adn_xdp.h\"\n", "#include \"adn_offload_xdp.h\"\n" },
	};
	for (size_t s = 0; s < sizeof(steps) / sizeof(steps[0]) && ok; s++) {
		sb_free(&b);
		ok = replace(&b, sb_str(&a), steps[s][0], steps[s][1]);
		struct strbuf t = a;
		a = b;
		b = t;
	}
	sb_free(&b);
	if (!ok) {
		sb_free(&a);
		return NULL;
	}
	if (!a.buf)
		sb_puts(&a, "");
	/* ADN_NO_REWRITE: adnc refuses UPDATE input on the NIC */
	return a.buf;
}

/* ---- 4. the object ---- */

static const char *helper_name(int id)
{
	switch (id) {
	case BPF_FUNC_map_lookup_elem: return "map_lookup_elem";
	case BPF_FUNC_map_update_elem: return "map_update_elem";
	case BPF_FUNC_map_delete_elem: return "map_delete_elem";
	case BPF_FUNC_get_prandom_u32: return "get_prandom_u32";
	case BPF_FUNC_perf_event_output: return "perf_event_output";
	case BPF_FUNC_xdp_adjust_head: return "xdp_adjust_head";
	case BPF_FUNC_xdp_adjust_tail: return "xdp_adjust_tail";
	default: return NULL;
	}
}

int offload_check_object(const char *obj_path, FILE *err)
{
	libbpf_print_fn_t old_print = libbpf_set_print(NULL); /* quiet: we say what matters */
	struct bpf_object *obj = bpf_object__open_file(obj_path, NULL);
	struct bpf_program *prog;
	struct bpf_map *map;
	int findings = 0, n_xdp = 0;

	libbpf_set_print(old_print);

	if (!obj) {
		fprintf(err, "adnc: error: %s: cannot open: %s\n", obj_path, strerror(errno));
		return -1;
	}
	bpf_object__for_each_map(map, obj) {
		enum bpf_map_type t = bpf_map__type(map);
		if (bpf_map__is_internal(map)) {
			fprintf(err, "adnc: offload check: %s: global data section %s (an ARRAY with flags the NIC refuses)\n",
				obj_path, bpf_map__name(map));
			findings++;
		} else if (t != BPF_MAP_TYPE_HASH && t != BPF_MAP_TYPE_ARRAY) {
			fprintf(err, "adnc: offload check: %s: map %s has type %d; the NIC offers HASH and ARRAY only\n",
				obj_path, bpf_map__name(map), (int)t);
			findings++;
		}
	}
	bpf_object__for_each_program(prog, obj) {
		const struct bpf_insn *insn = bpf_program__insns(prog);
		size_t cnt = bpf_program__insn_cnt(prog);
		const char *pn = bpf_program__name(prog);

		if (bpf_program__type(prog) != BPF_PROG_TYPE_XDP) {
			fprintf(err, "adnc: offload check: %s: program %s is not XDP\n", obj_path, pn);
			findings++;
			continue;
		}
		n_xdp++;
		for (size_t i = 0; i < cnt; i++) {
			__u8 cls = BPF_CLASS(insn[i].code), op = BPF_OP(insn[i].code);
			if (insn[i].code == (BPF_JMP | BPF_CALL)) {
				if (insn[i].src_reg == BPF_PSEUDO_CALL)
					continue; /* a bpf-to-bpf call */
				if (insn[i].src_reg != 0 || !helper_name(insn[i].imm)) {
					fprintf(err, "adnc: offload check: %s: %s insn %zu calls %s %d%s, which the NIC does not offer\n",
						obj_path, pn, i, insn[i].src_reg ? "kfunc" : "helper", insn[i].imm,
						insn[i].imm == BPF_FUNC_tail_call ? " (a tail call)" :
						insn[i].imm == BPF_FUNC_ktime_get_ns ? " (ktime_get_ns)" :
						insn[i].imm == BPF_FUNC_loop ? " (bpf_loop)" : "");
					findings++;
				}
			} else if ((cls == BPF_ALU64 || cls == BPF_ALU) &&
				   (op == BPF_MUL || op == BPF_DIV || op == BPF_MOD) &&
				   (cls == BPF_ALU64 || BPF_SRC(insn[i].code) == BPF_X)) {
				fprintf(err, "adnc: offload check: %s: %s insn %zu: %s %s; the NIC multiplies and divides only 32-bit values by constants\n",
					obj_path, pn, i, cls == BPF_ALU64 ? "64-bit" : "32-bit by register",
					op == BPF_MUL ? "multiply" : op == BPF_DIV ? "divide" : "modulo");
				findings++;
			}
		}
	}
	if (!n_xdp) {
		fprintf(err, "adnc: offload check: %s: no XDP program\n", obj_path);
		findings++;
	}
	bpf_object__close(obj);
	return findings ? -1 : 0;
}

/* ---- the outputs ---- */

int offload_write_outputs(const struct adnc_unit *u, const struct adnc_options *o, FILE *err)
{
	char c_path[4096], o_path[4096];
	size_t n = strlen(o->outdir);
	char *text;
	FILE *f;
	int rc = ADNC_EXIT_OK;

	if (!u->ir || !offload_has_elements(u->ir))
		return ADNC_EXIT_OK; /* warned by offload_place */
	while (n > 1 && o->outdir[n - 1] == '/')
		n--;
	snprintf(c_path, sizeof(c_path), "%.*s/%s.offload.bpf.c", (int)n, o->outdir, u->ir->chain->name);
	snprintf(o_path, sizeof(o_path), "%.*s/%s.offload.bpf.o", (int)n, o->outdir, u->ir->chain->name);
	text = offload_gen_bpf(u->ir);
	if (!text) {
		fprintf(err, "adnc: internal error: the offload generator found no runtime includes to replace\n");
		return ADNC_EXIT_CLANG;
	}
	f = fopen(c_path, "w");
	if (!f || fputs(text, f) < 0 || fclose(f) != 0) {
		fprintf(err, "adnc: error: cannot write '%s': %s\n", c_path, strerror(errno));
		free(text);
		return ADNC_EXIT_USAGE;
	}
	free(text);
	if (o->emit_c_only)
		return ADNC_EXIT_OK;
	struct build_dirs dirs;
	if (build_find_dirs(&dirs, err) < 0)
		return ADNC_EXIT_USAGE;
	struct build_failure bf;
	int built = build_bpf_object_ex(&dirs, c_path, o_path, err, &bf);
	if (built == -2) {
		build_report_stack_limit((struct diag *)&u->diag, u->ir->chain->loc, u->ir->chain->name,
					 u->ir->net_size, c_path, &bf);
		fprintf(err, "1 error generated.\n");
		return ADNC_EXIT_PROGRAM;
	}
	if (built < 0) {
		fprintf(err, "adnc: internal error: clang failed on the generated %s.\n"
			     "This is a bug in adnc, not in %s: please report it with the .adn file.\n",
			c_path, u->diag.file);
		return ADNC_EXIT_CLANG;
	}
	if (offload_check_object(o_path, err)) {
		fprintf(err, "adnc: internal error: %s breaks the NIC's rules although the elements passed them.\n"
			     "This is a bug in adnc, not in %s: please report it with the .adn file.\n",
			o_path, u->diag.file);
		return ADNC_EXIT_CLANG;
	}
	if (o->verify) { /* the host verifier, as if loaded without the NIC */
		int v = adnc_verify(o_path, c_path, err);
		rc = v == 2 ? ADNC_EXIT_VERIFIER : v ? ADNC_EXIT_USAGE : ADNC_EXIT_OK;
	}
	return rc;
}
