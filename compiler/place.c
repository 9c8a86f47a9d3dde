/* Placement: which hook runs each element (docs/compiler.md "Placement").
 *
 * 1. Capabilities. A user-defined element (IMPLEMENTED IN APP) has no eBPF
 *    implementation: only the RPC library runs it. A SQL element runs in
 *    the kernel: over TCP the sockets see whole frames, the sender's
 *    sk_msg and the receiver's sk_skb (stream parser + verdict, request
 *    side; the response side of an element placed there runs in the
 *    server's sk_msg, when the response leaves the server); over UDP one
 *    datagram is one RPC, so TC (the client's egress for requests, its
 *    ingress for responses) and XDP (the server's ingress, requests only)
 *    can run it. A SQL element can also run in the client's RPC library
 *    (app: its request side before the request is sent, its response
 *    side when the response arrives, by the reference interpreter), unless
 *    it does what only the kernel can (ROUTE TO REPLICA, INSERT INTO
 *    reply); the library is the sender, so AT RECEIVER excludes it there.
 * 2. The chain's constraints (AT SENDER, AT RECEIVER, NOT IN APP, IN APP)
 *    and the command line (--place, --hook) narrow that set; an empty set
 *    is an error at the constraint (or the element) that emptied it.
 *    Steps 1 and 2 without the command line are ir_allow, which ir_build
 *    calls before the layout (a field read by an element that may run at
 *    the receiver is a header field); ir_place reports their errors.
 * 3. Cost model: kernel elements keep chain order along the path (sender
 *    hooks before receiver hooks); among what is left, the earliest hook
 *    wins (a drop costs least before the request leaves the client, and
 *    every element on one hook shares one program and one parse). The
 *    receiver's sk_skb is chosen only when a constraint (AT RECEIVER, an
 *    earlier element at the receiver, --place) asks for it: strparser
 *    costs about 1.5 us per frame (docs/kernel-notes.md).
 *    User-defined elements touch only payload the kernel never reads, so
 *    they do not take part in the ordering. The cost model never puts a
 *    SQL element in the app: only IN APP or --place E=app do, and then
 *    every kernel element must come after it in the chain (the library
 *    runs it before the request reaches the kernel). */
#include <string.h>

#include "ir.h"

static const char *const place_names[PLACE_COUNT] = {
	[PLACE_NONE] = "none", [PLACE_SK_MSG] = "sk_msg", [PLACE_SK_SKB] = "sk_skb",
	[PLACE_TC] = "tc",     [PLACE_XDP] = "xdp",       [PLACE_APP] = "app",
};

const char *ir_place_name(enum ir_place p)
{
	return p < PLACE_COUNT ? place_names[p] : "?";
}

enum ir_place ir_place_parse(const char *name)
{
	for (int p = PLACE_SK_MSG; p < PLACE_COUNT; p++)
		if (strcmp(name, place_names[p]) == 0)
			return (enum ir_place)p;
	return PLACE_NONE;
}

/* 0: the sender's side of the wire, 1: the receiver's. */
static int stage(enum ir_place p)
{
	return p == PLACE_XDP || p == PLACE_SK_SKB ? 1 : 0;
}

static const char *rule_text(enum place_rule r)
{
	switch (r) {
	case RULE_AT_SENDER: return "AT SENDER";
	case RULE_AT_RECEIVER: return "AT RECEIVER";
	case RULE_NOT_IN_APP: return "NOT IN APP";
	case RULE_IN_APP: return "IN APP";
	}
	return "?";
}

/* sql: a SQL element, which the library runs only in the client (the
 * sender); a user-defined element runs in both the client and the server. */
static unsigned rule_allows(enum place_rule r, bool sql)
{
	switch (r) {
	case RULE_AT_SENDER:
		return IR_PLACE_BIT(PLACE_SK_MSG) | IR_PLACE_BIT(PLACE_TC) | IR_PLACE_BIT(PLACE_APP);
	case RULE_AT_RECEIVER:
		return IR_PLACE_BIT(PLACE_SK_SKB) | IR_PLACE_BIT(PLACE_XDP) |
		       (sql ? 0 : IR_PLACE_BIT(PLACE_APP));
	case RULE_NOT_IN_APP:
		return ~IR_PLACE_BIT(PLACE_APP);
	case RULE_IN_APP:
		return IR_PLACE_BIT(PLACE_APP);
	}
	return 0;
}

/* NULL if the element can run at p at all, else why not. */
static const char *why_not(struct arena *a, const struct ir_chain *ir, const struct ir_element *e,
			   enum ir_place p)
{
	const char *n = e->decl->name;

	if (e->decl->in_app)
		return p == PLACE_APP ? NULL :
		       arena_printf(a, "element '%s' is IMPLEMENTED IN APP: it has no eBPF implementation, so it cannot run in the kernel",
				    n);
	switch (p) {
	case PLACE_APP:
		/* the client's RPC library runs it with the reference
		 * interpreter, before the request is sent; what only the
		 * kernel can do stays there */
		if (e->routes)
			return arena_printf(a, "'%s' routes requests (ROUTE TO REPLICA): the kernel picks the replica's connection (sk_msg redirect, TC), which the RPC library cannot do, so it must run in the kernel",
					    n);
		if (e->answers)
			return arena_printf(a, "'%s' answers requests (INSERT INTO reply): the network's reply is built by TC at the client's egress, so it must run in the kernel",
					    n);
		return NULL;
	case PLACE_SK_SKB:
		if (ir->udp)
			return arena_printf(a, "sk_skb sees TCP streams only, and service '%s' is TRANSPORT UDP (XDP runs elements at the receiver over UDP)",
					    ir->svc->name);
		if (e->routes)
			return arena_printf(a, "'%s' routes requests (ROUTE TO REPLICA), which must happen before they leave the client: the sender's sk_msg, not the receiver's sk_skb",
					    n);
		if (e->answers) /* resolve refuses answers over TCP; for ir_allow */
			return arena_printf(a, "'%s' answers requests (INSERT INTO reply), which TC at the client's egress does",
					    n);
		if (ir->n_elems > 255)
			return arena_printf(a, "a chain with elements at the receiver's sk_skb has at most 255 elements (the index of the element that dropped a request travels in its reply's header), and chain '%s' has %zu",
					    ir->chain->name, ir->n_elems);
		return NULL;
	case PLACE_SK_MSG:
		return ir->udp ? arena_printf(a, "sk_msg sees TCP streams only, and service '%s' is TRANSPORT UDP",
					      ir->svc->name) : NULL;
	case PLACE_TC:
	case PLACE_XDP:
		if (!ir->udp)
			return arena_printf(a, "%s sees packets, not RPC boundaries, on a TCP stream: service '%s' needs TRANSPORT UDP",
					    p == PLACE_TC ? "TC" : "XDP", ir->svc->name);
		if (p == PLACE_XDP && e->has[DIR_RESPONSE])
			return arena_printf(a, "XDP at the server's ingress runs request elements only, and '%s' has an ON RESPONSE side",
					    n);
		if (p == PLACE_XDP && e->answers)
			return arena_printf(a, "'%s' answers requests (INSERT INTO reply), and XDP at the server's ingress does not build replies: TC at the client's egress does",
					    n);
		if (p == PLACE_XDP && e->routes)
			return arena_printf(a, "'%s' routes requests (ROUTE TO REPLICA), which must happen before they leave the client: TC at its egress, not XDP at a server",
					    n);
		return NULL;
	default:
		return "unknown location";
	}
}

/* The locations where the element can run at all. */
static unsigned capable(struct arena *a, const struct ir_chain *ir, const struct ir_element *e)
{
	unsigned set = 0;
	for (int p = PLACE_SK_MSG; p < PLACE_COUNT; p++)
		if (!why_not(a, ir, e, (enum ir_place)p))
			set |= IR_PLACE_BIT(p);
	return set;
}

/* Why rule r leaves nothing of set (the capabilities and earlier rules). */
static const char *rule_conflict(struct arena *a, const struct ir_chain *ir, const struct ir_element *e,
				 enum place_rule r)
{
	unsigned want = rule_allows(r, !e->decl->in_app);
	/* the location the rule asks for that the element could not take */
	for (int p = PLACE_SK_MSG; p < PLACE_COUNT; p++) {
		const char *why;
		/* of a rule that allows more than one hook, the hooks of the
		 * other transport say nothing useful */
		if (!(want & IR_PLACE_BIT(p)) || (want != IR_PLACE_BIT(p) &&
						  ((p == PLACE_SK_SKB && ir->udp) ||
						   ((p == PLACE_XDP || p == PLACE_TC) && !ir->udp))))
			continue;
		if (p == PLACE_APP && r != RULE_IN_APP && !e->decl->in_app)
			continue; /* a kernel element is not expected in the app */
		if ((why = why_not(a, ir, e, (enum ir_place)p)))
			return why;
	}
	return arena_printf(a, "it conflicts with the element's other constraints");
}

static const struct ir_forced_place *forced_for(const struct ir_element *e,
						const struct ir_forced_place *f, size_t n)
{
	const struct ir_forced_place *hit = NULL;
	for (size_t i = 0; i < n; i++) {
		if (f[i].element && strcmp(f[i].element, e->decl->name) == 0)
			return &f[i];
		if (!f[i].element && !e->decl->in_app)
			hit = &f[i]; /* --hook: every kernel element */
	}
	return hit;
}

static const char *default_reason(struct arena *a, const struct ir_chain *ir, const struct ir_element *e,
				  enum ir_place p, bool after_receiver, bool at_receiver)
{
	switch (p) {
	case PLACE_APP:
		if (!e->decl->in_app)
			return "IN APP: the RPC library runs it in the client's process with the reference interpreter (compiler/interp.c)";
		return "IMPLEMENTED IN APP: no eBPF implementation; the RPC library runs it in the application's process";
	case PLACE_SK_MSG:
		return "TCP: the sender's sk_msg is the earliest hook that sees whole frames (a dropped request never leaves the client); every element here shares one program and one parse";
	case PLACE_TC:
		return "UDP: TC at the client's egress is the earliest hook that sees every datagram (a dropped request never reaches the wire), responses at its ingress; every element here shares one program and one parse";
	case PLACE_SK_SKB:
		if (at_receiver)
			return "AT RECEIVER over TCP: the server's sk_skb stream verdict, the only hook on the receiving host that sees whole frames (a stream parser run per frame, ~1.5 us); its response side runs in the server's sk_msg";
		if (after_receiver)
			return "an earlier element of the chain runs at the receiver, so this one must too (chain order): the server's sk_skb stream verdict";
		return "TCP: the server's sk_skb stream verdict";
	case PLACE_XDP:
		if (at_receiver)
			return "AT RECEIVER over UDP: XDP at the server's ingress, the earliest hook on the receiving host";
		if (after_receiver)
			return "an earlier element of the chain runs at the receiver, so this one must too (chain order): XDP at the server's ingress";
		return "UDP: XDP at the server's ingress";
	default:
		(void)ir;
		(void)a;
		return "";
	}
}

/* Capabilities, then the chain's constraints in order: the allowed set, 0
 * if a constraint leaves nothing (reported when d is not NULL). */
static unsigned constrain(struct arena *a, struct diag *d, const struct ir_chain *ir,
			  const struct ir_element *e)
{
	const struct chain_use *u = e->use;
	const unsigned can = capable(a, ir, e);
	unsigned set = can;

	const bool sql = !e->decl->in_app;

	for (size_t r = 0; r < u->n_rules; r++) {
		unsigned next = set & rule_allows(u->rules[r].rule, sql);
		if (!next) {
			const char *why = NULL;
			for (size_t k = 0; k < r && !why; k++)
				if (can & rule_allows(u->rules[r].rule, sql) &&
				    !(can & rule_allows(u->rules[r].rule, sql) & rule_allows(u->rules[k].rule, sql)))
					why = arena_printf(a, "it conflicts with %s (column %d)",
							   rule_text(u->rules[k].rule), u->rules[k].loc.col);
			if (d)
				diag_error(d, u->rules[r].loc, "element '%s' cannot be placed %s: %s", e->decl->name,
					   rule_text(u->rules[r].rule),
					   why ? why : rule_conflict(a, ir, e, u->rules[r].rule));
			return 0;
		}
		set = next;
	}
	return set;
}

/* Why a kernel element may not run beyond the sender over either
 * transport, in a few words (--explain: sender-only fields). */
static const char *sender_why(const struct ir_element *e)
{
	if (e->decl->in_app || e->beyond_sender)
		return NULL;
	if (e->routes)
		return "ROUTE TO REPLICA";
	if (e->answers)
		return "INSERT INTO reply";
	for (size_t r = 0; r < e->use->n_rules; r++)
		if (e->use->rules[r].rule == RULE_AT_SENDER)
			return "AT SENDER";
	for (size_t r = 0; r < e->use->n_rules; r++)
		if (e->use->rules[r].rule == RULE_IN_APP)
			return "IN APP";
	return "its constraints";
}

void ir_allow(struct arena *a, struct ir_chain *ir)
{
	/* the other transport first: the layout does not depend on the
	 * service's transport (one application binary speaks both) */
	ir->udp = !ir->svc->udp;
	for (size_t i = 0; i < ir->n_elems; i++)
		ir->elems[i].allowed = constrain(a, NULL, ir, &ir->elems[i]);
	ir->udp = ir->svc->udp;
	for (size_t i = 0; i < ir->n_elems; i++) {
		struct ir_element *e = &ir->elems[i];
		unsigned other = e->allowed;
		e->allowed = constrain(a, NULL, ir, e);
		e->beyond_sender = !e->decl->in_app && ((e->allowed | other) & IR_PLACE_RECEIVER);
		e->sender_why = sender_why(e);
	}
}

bool ir_place(struct arena *a, struct diag *d, struct ir_chain *ir,
	      const struct ir_forced_place *forced, size_t n_forced)
{
	int errors = d->errors;
	int cur_stage = 0;
	const struct ir_element *receiver_el = NULL; /* first kernel element at the receiver */
	const struct ir_element *kernel_el = NULL;   /* first element in the kernel */

	ir->udp = ir->svc->udp;
	ir->hooks = 0;
	for (size_t k = 0; k < n_forced; k++) {
		bool found = !forced[k].element;
		for (size_t i = 0; i < ir->n_elems && !found; i++)
			found = strcmp(ir->elems[i].decl->name, forced[k].element) == 0;
		if (!found)
			diag_error(d, ir->chain->loc, "--place %s=%s: chain '%s' has no element '%s'",
				   forced[k].element, ir_place_name(forced[k].place), ir->chain->name,
				   forced[k].element);
	}
	for (size_t i = 0; i < ir->n_elems; i++) {
		struct ir_element *e = &ir->elems[i];
		const struct chain_use *u = e->use;
		const unsigned set = e->allowed; /* ir_allow */
		bool at_receiver = false, in_app = false;

		e->place = PLACE_NONE;
		e->place_forced = false;
		for (size_t r = 0; r < u->n_rules; r++) {
			at_receiver |= u->rules[r].rule == RULE_AT_RECEIVER;
			in_app |= u->rules[r].rule == RULE_IN_APP;
		}
		/* a constraint left nothing: report it (with the rule) */
		if (!set) {
			int before = d->errors;
			constrain(a, d, ir, e);
			if (d->errors > before)
				continue;
		}
		const struct ir_forced_place *fp = forced_for(e, forced, n_forced);
		enum ir_place p = PLACE_NONE;
		if (fp) {
			const char *why = why_not(a, ir, e, fp->place);
			const char *opt = fp->element ? "--place" : "--hook";
			if (!why && !(set & IR_PLACE_BIT(fp->place)))
				why = "it conflicts with the element's constraints in the chain";
			if (!why && !e->decl->in_app && fp->place != PLACE_APP && stage(fp->place) < cur_stage)
				why = arena_printf(a, "'%s' runs earlier in the chain and is placed at the receiver; chain order would break",
						   receiver_el->decl->name);
			if (why) {
				diag_error(d, u->element.loc, "%s %s=%s: %s", opt, e->decl->name,
					   ir_place_name(fp->place), why);
				continue;
			}
			p = fp->place;
			e->place_forced = true;
			e->place_reason = arena_printf(a, "forced by %s %s", opt, ir_place_name(p));
		} else {
			/* cost model: the earliest stage chain order allows, then
			 * the hook order sk_msg, tc, xdp, app; a SQL element goes
			 * to the app only when the chain says IN APP */
			static const enum ir_place pref[] = { PLACE_SK_MSG, PLACE_TC, PLACE_XDP, PLACE_SK_SKB,
							      PLACE_APP };
			for (size_t k = 0; k < sizeof(pref) / sizeof(pref[0]) && p == PLACE_NONE; k++)
				if ((set & IR_PLACE_BIT(pref[k])) &&
				    (pref[k] != PLACE_APP || e->decl->in_app || in_app) &&
				    (pref[k] == PLACE_APP || stage(pref[k]) >= cur_stage) &&
				    (!at_receiver || stage(pref[k]) == 1 || pref[k] == PLACE_APP))
					p = pref[k];
			if (p == PLACE_NONE) {
				const char *why = receiver_el ? why_not(a, ir, e, ir->udp ? PLACE_XDP : PLACE_SK_SKB) :
								NULL;
				if (receiver_el)
					diag_error(d, u->element.loc, "element '%s' comes after '%s' in the chain, which runs at the receiver, but cannot run there: %s",
						   e->decl->name, receiver_el->decl->name,
						   why ? why : "its constraints keep it at the sender");
				else
					diag_error(d, u->element.loc, "element '%s' has no location where it can run",
						   e->decl->name);
				continue;
			}
			e->place_reason = default_reason(a, ir, e, p, receiver_el != NULL, at_receiver);
		}
		/* a SQL element in the app runs before the request reaches the
		 * kernel (and its response side after): chain order needs every
		 * kernel element after it */
		if (p == PLACE_APP && !e->decl->in_app && kernel_el) {
			diag_error(d, u->element.loc, "element '%s' cannot run in the application: the RPC library runs it before the request reaches the kernel, but '%s' comes earlier in the chain and runs at %s; chain order would break (put '%s' earlier in the chain)",
				   e->decl->name, kernel_el->decl->name, ir_place_name(kernel_el->place),
				   e->decl->name);
			continue;
		}
		e->place = p;
		ir->hooks |= IR_PLACE_BIT(p);
		if (p != PLACE_APP && !kernel_el)
			kernel_el = e;
		if (p != PLACE_APP && stage(p) > cur_stage) {
			cur_stage = stage(p);
			receiver_el = e;
		}
	}
	return d->errors == errors;
}
