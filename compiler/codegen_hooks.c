/* The chain functions per hook and the runtime headers that run them
 * (docs/internals.md §3). With every kernel element at one hook (the usual
 * case) the pair is adn_chain_request / adn_chain_response and the runtime
 * headers call them by those names. When a UDP chain is split between TC
 * and XDP, each hook gets its own pair (adn_chain_request_tc, ..._xdp) and
 * the macros ADN_<HOOK>_CHAIN_REQUEST/_RESPONSE tell each runtime header
 * which pair to call. Element indices (at, from) stay those of the whole
 * chain.
 *
 * A TCP chain with elements at the receiver's sk_skb always gets the split
 * form: adn_chain_request_sk_skb runs in the server's stream verdict
 * (adn_sk_skb.h), adn_chain_request_sk_msg in the client's sk_msg, and the
 * response side of both kinds of element runs in the server's sk_msg, as
 * the response leaves the server (adn_chain_response_sk_msg). */
#include "codegen_bpf_int.h"

static const enum ir_place kernel_hooks[] = { PLACE_SK_MSG, PLACE_SK_SKB, PLACE_TC, PLACE_XDP };
#define N_KERNEL_HOOKS (sizeof(kernel_hooks) / sizeof(kernel_hooks[0]))

static int n_kernel_hooks(const struct ir_chain *ir)
{
	int n = 0;
	for (size_t i = 0; i < N_KERNEL_HOOKS; i++)
		n += (ir->hooks & IR_PLACE_BIT(kernel_hooks[i])) != 0;
	return n;
}

static bool has_skb(const struct ir_chain *ir)
{
	return (ir->hooks & IR_PLACE_BIT(PLACE_SK_SKB)) != 0;
}

static bool split(const struct ir_chain *ir)
{
	return n_kernel_hooks(ir) > 1 || has_skb(ir);
}

/* Whether the chain functions of hook are emitted: the hooks elements are
 * placed at, and sk_msg whenever sk_skb is (it runs their response side). */
static bool hook_emitted(const struct ir_chain *ir, enum ir_place hook)
{
	return (ir->hooks & IR_PLACE_BIT(hook)) || (hook == PLACE_SK_MSG && has_skb(ir));
}

/* Whether the request (dir 0) or response (dir 1) side of e runs at hook. */
static bool runs_at(const struct ir_element *e, enum ir_place hook, int dir)
{
	if (e->place == hook)
		return dir == 0 || hook != PLACE_SK_SKB;
	/* the response side of a receiver's element: the server's sk_msg */
	return dir == 1 && hook == PLACE_SK_MSG && e->place == PLACE_SK_SKB;
}

/* "" for the single pair, "_tc" etc. when split. */
static const char *suffix(const struct ir_chain *ir, enum ir_place p, char *buf, size_t n)
{
	if (!split(ir))
		return "";
	snprintf(buf, n, "_%s", ir_place_name(p));
	return buf;
}

static void emit_request(struct cg *g, enum ir_place hook)
{
	const struct ir_chain *ir = g->ir;
	char sfx[16];
	bool any = false, rewrites = false;

	for (size_t i = 0; i < ir->n_elems; i++) {
		const struct ir_element *e = &ir->elems[i];
		if (!runs_at(e, hook, 0))
			continue;
		any |= e->has[DIR_REQUEST];
		rewrites |= e->n_writes > 0;
	}
	sb_printf(g->out, "static __always_inline int adn_chain_request%s(struct adn_frame *f, __u32 *at)\n{\n",
		  suffix(ir, hook, sfx, sizeof(sfx)));
	if (any)
		sb_puts(g->out, "\tint status;\n");
	if (rewrites)
		sb_puts(g->out, "\tint rw = 0; /* set when an element rewrote a network field */\n");
	if (any)
		sb_puts(g->out, "\n");
	else
		sb_puts(g->out, "\t(void)f;\n\t(void)at;\n");
	for (size_t i = 0; i < ir->n_elems; i++) {
		const struct ir_element *e = &ir->elems[i];
		if (!runs_at(e, hook, 0)) {
			sb_printf(g->out, "\t/* %zu: %s runs at %s */\n", i, e->decl->name, ir_place_name(e->place));
			continue;
		}
		if (!e->has[DIR_REQUEST]) {
			sb_printf(g->out, "\t/* %zu: %s has no ON REQUEST: passes */\n", i, e->decl->name);
			continue;
		}
		sb_printf(g->out, "\tstatus = %s_request(f%s%s);\n\tif (status) {\n\t\t*at = %zu;\n\t\treturn status;\n\t}\n",
			  e->decl->name, e->n_writes ? ", &rw" : "", e->routes ? ", at" : "", i);
	}
	sb_puts(g->out, rewrites ? "\treturn rw ? ADN_PASS_REWRITE : 0;\n}\n\n" : "\treturn 0;\n}\n\n");
}

static void emit_response(struct cg *g, enum ir_place hook)
{
	const struct ir_chain *ir = g->ir;
	char sfx[16];
	bool any = false;

	for (size_t i = 0; i < ir->n_elems; i++)
		any |= runs_at(&ir->elems[i], hook, 1) && ir->elems[i].has[DIR_RESPONSE];
	sb_printf(g->out, "static __always_inline int adn_chain_response%s(struct adn_frame *f, __u32 from)\n{\n",
		  suffix(ir, hook, sfx, sizeof(sfx)));
	if (any)
		sb_puts(g->out, "\tint status;\n\n");
	for (size_t i = ir->n_elems; i-- > 0;) {
		const struct ir_element *e = &ir->elems[i];
		if (!runs_at(e, hook, 1) || !e->has[DIR_RESPONSE])
			continue;
		sb_printf(g->out, "\tif (from > %zu) {\n\t\tstatus = %s_response(f);\n\t\tif (status)\n\t\t\treturn status;\n\t}\n",
			  i, e->decl->name);
	}
	if (!any)
		sb_puts(g->out, "\t(void)f;\n\t(void)from;\n");
	sb_puts(g->out, "\treturn 0;\n}\n\n");
}

/* The hook whose pair is emitted when nothing is split: the one kernel hook
 * used, else the transport's natural one. */
static enum ir_place main_hook(const struct ir_chain *ir)
{
	for (size_t i = 0; i < N_KERNEL_HOOKS; i++)
		if (ir->hooks & IR_PLACE_BIT(kernel_hooks[i]))
			return kernel_hooks[i];
	return ir->udp ? PLACE_TC : PLACE_SK_MSG;
}

void cg_emit_chain(struct cg *g)
{
	const struct ir_chain *ir = g->ir;

	sb_printf(g->out, "#define ADN_N_ELEMENTS %zu\n", ir->n_elems);
	sb_printf(g->out, "/* Low 16 bits of the layout hash: the runtime answers a request of another\n"
			  " * layout with FAILED_PRECONDITION (0 in a frame: not checked). */\n"
			  "#define ADN_LAYOUT 0x%04xu\n\n", ir->layout_hash & 0xffffu);
	sb_puts(g->out, "/* Runs the request side of the elements placed at this hook, in chain\n"
			" * order. Returns 0 if the request passes, else the status of the first\n"
			" * element that dropped it, with *at = that element's index. */\n");
	if (!split(ir)) {
		emit_request(g, main_hook(ir));
		sb_puts(g->out, "/* Runs the response side of elements from-1 .. 0 (reverse chain order).\n"
				" * Returns 0, or the status to write into the response. */\n");
		emit_response(g, main_hook(ir));
		return;
	}
	for (size_t h = 0; h < N_KERNEL_HOOKS; h++) {
		if (!hook_emitted(ir, kernel_hooks[h]))
			continue;
		sb_printf(g->out, "/* ---- elements at %s ---- */\n", ir_place_name(kernel_hooks[h]));
		emit_request(g, kernel_hooks[h]);
		if (kernel_hooks[h] == PLACE_SK_SKB)
			sb_puts(g->out, "/* The response side of the elements at sk_skb runs in the server's\n"
					" * sk_msg: adn_chain_response_sk_msg. */\n\n");
		else
			emit_response(g, kernel_hooks[h]);
	}
}

static bool any_rewrite(const struct ir_chain *ir)
{
	for (size_t i = 0; i < ir->n_elems; i++)
		if (ir->elems[i].place != PLACE_APP && ir->elems[i].n_writes)
			return true;
	return false;
}

void cg_emit_runtime(struct cg *g)
{
	const struct ir_chain *ir = g->ir;
	char sfx[16];

	if (!any_rewrite(ir))
		sb_puts(g->out, "/* No element rewrites network fields. */\n#define ADN_NO_REWRITE\n\n");
	if (split(ir) || ir->udp) {
		/* Every runtime header in the object finds its pair; hooks that
		 * run no element get one that passes everything. A TCP chain
		 * has the socket headers only, and both find theirs. */
		if (ir->udp)
			sb_puts(g->out, "static __always_inline int adn_chain_request_none(struct adn_frame *f, __u32 *at)\n"
				"{\n\t(void)f;\n\t(void)at;\n\treturn 0;\n}\n\n"
				"static __always_inline int adn_chain_response_none(struct adn_frame *f, __u32 from)\n"
				"{\n\t(void)f;\n\t(void)from;\n\treturn 0;\n}\n\n");
		static const char *const macro[] = { "MSG", "SKB", "TC", "XDP" };
		for (size_t h = 0; h < N_KERNEL_HOOKS; h++) {
			if (ir->udp ? kernel_hooks[h] == PLACE_SK_SKB :
				      kernel_hooks[h] != PLACE_SK_MSG && kernel_hooks[h] != PLACE_SK_SKB)
				continue;
			bool used = hook_emitted(ir, kernel_hooks[h]) ||
				    (!split(ir) && kernel_hooks[h] == main_hook(ir));
			const char *s = used ? suffix(ir, kernel_hooks[h], sfx, sizeof(sfx)) : "_none";
			sb_printf(g->out, "#undef ADN_%s_CHAIN_REQUEST\n#define ADN_%s_CHAIN_REQUEST adn_chain_request%s\n",
				  macro[h], macro[h], s);
			if (kernel_hooks[h] == PLACE_SK_SKB)
				continue; /* requests only */
			sb_printf(g->out, "#undef ADN_%s_CHAIN_RESPONSE\n#define ADN_%s_CHAIN_RESPONSE adn_chain_response%s\n",
				  macro[h], macro[h], s);
		}
		sb_puts(g->out, "\n");
	}
	if (ir->udp) {
		sb_puts(g->out, "/* TRANSPORT UDP: the socket programs run no element; they stay in the\n"
				" * object so that every chain loads the same way. */\n");
		sb_puts(g->out, "#include \"adn_sk_msg.h\"\n");
		if ((ir->hooks & IR_PLACE_BIT(PLACE_TC)) || !(ir->hooks & IR_PLACE_BIT(PLACE_XDP)))
			sb_puts(g->out, "#include \"adn_tc.h\"\n");
		if (ir->hooks & IR_PLACE_BIT(PLACE_XDP))
			sb_puts(g->out, "#include \"adn_xdp.h\"\n");
		sb_puts(g->out, "\n");
	} else if (has_skb(ir)) {
		sb_puts(g->out, "/* Elements at the receiver: the server's sockets also get the stream\n"
				" * parser and verdict (their own SOCKHASH, adn_rsocks). */\n"
				"#include \"adn_sk_skb.h\"\n#include \"adn_sk_msg.h\"\n\n");
	} else {
		sb_puts(g->out, "#include \"adn_sk_msg.h\"\n\n");
	}
}

void cg_meta_placement(struct strbuf *meta, const struct ir_chain *ir)
{
	sb_printf(meta, "transport=%s\n", ir->udp ? "udp" : "tcp");
	for (size_t h = 0; h < N_KERNEL_HOOKS; h++)
		if (ir->hooks & IR_PLACE_BIT(kernel_hooks[h]))
			sb_printf(meta, "hook=%s\n", ir_place_name(kernel_hooks[h]));
	for (size_t i = 0; i < ir->n_elems; i++)
		sb_printf(meta, "place=%s=%s\n", ir->elems[i].decl->name, ir_place_name(ir->elems[i].place));
	/* the response side at TC runs at the client's ingress */
	for (size_t i = 0; i < ir->n_elems; i++)
		if (ir->elems[i].place == PLACE_TC && ir->elems[i].has[DIR_RESPONSE]) {
			sb_puts(meta, "tc_ingress=1\n");
			break;
		}
}
