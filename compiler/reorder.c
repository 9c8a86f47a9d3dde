/* Reordering: move elements that can drop a request earlier in the chain,
 * so that a request that will be dropped costs less, but only when nothing
 * anyone can observe changes. docs/compiler.md "Reordering" states the rule;
 * this file is its only implementation, and --explain prints every decision.
 *
 * A dropper D moves before the element E just before it only if:
 *  1. E cannot drop a request (two droppers: the first one's status is what
 *     the caller sees, so their order is observable);
 *  2. E has no effect on a request: no log record, no table write, no
 *     rewrite (after the move, requests D drops would no longer cause it);
 *  3. E has no ON RESPONSE, or one without effects that cannot drop (the
 *     network's reply to a request D drops runs the response side of the
 *     elements before D only);
 *  4. D does not rewrite a field that E reads;
 *  5. both run at the same hook (placement fixed the order across hooks). */
#include <string.h>

#include "ir.h"

static const char *first_effect(struct arena *a, const struct ir_element *e, enum direction d)
{
	const struct on_block *on = &e->decl->on[d];
	for (size_t i = 0; i < on->n_stmts; i++) {
		const struct select_insert *s = &on->stmts[i];
		if (s->log)
			return arena_printf(a, "appends to log table '%s'", s->log->name);
		if (s->to_input)
			return arena_printf(a, "rewrites request fields (line %d)", s->line);
		if (s->table)
			return arena_printf(a, "writes table '%s' (line %d)", s->table->name, s->line);
	}
	return NULL;
}

static const char *rewritten_read(const struct ir_element *d, const struct ir_element *e)
{
	for (size_t i = 0; i < d->n_writes; i++)
		for (size_t k = 0; k < e->n_reads; k++)
			if (strcmp(d->writes[i], e->reads[k]) == 0)
				return d->writes[i];
	return NULL;
}

/* NULL if D may move before E, else why not. *why gets the reason it may. */
static const char *refusal(struct arena *a, const struct ir_element *e, const struct ir_element *d,
			   const char **why)
{
	const char *eff;
	if (e->place != d->place)
		return arena_printf(a, "'%s' runs at %s and '%s' at %s: elements do not move between hooks",
				    e->decl->name, ir_place_name(e->place), d->decl->name, ir_place_name(d->place));
	if (e->answers)
		return arena_printf(a, "'%s' answers some requests itself (INSERT INTO reply); which of the two stops a request first is what the caller sees",
				    e->decl->name);
	if (e->can_drop[DIR_REQUEST])
		return arena_printf(a, "'%s' can drop requests too (status %s); which drop comes first is what the caller sees",
				    e->decl->name, status_name(e->decl->drop_code));
	if ((eff = first_effect(a, e, DIR_REQUEST)))
		return arena_printf(a, "'%s' %s on every request; requests '%s' drops would no longer do so",
				    e->decl->name, eff, d->decl->name);
	if (e->has[DIR_RESPONSE] && (eff = first_effect(a, e, DIR_RESPONSE)))
		return arena_printf(a, "the ON RESPONSE of '%s' %s, also for the network's replies to requests '%s' drops",
				    e->decl->name, eff, d->decl->name);
	if (e->has[DIR_RESPONSE] && e->can_drop[DIR_RESPONSE])
		return arena_printf(a, "the ON RESPONSE of '%s' can change a reply's status, also of replies to requests '%s' drops",
				    e->decl->name, d->decl->name);
	if ((eff = rewritten_read(d, e)))
		return arena_printf(a, "'%s' rewrites field '%s', which '%s' reads", d->decl->name, eff, e->decl->name);
	*why = arena_printf(a, "'%s' cannot drop and has no effect (no log, table write or rewrite) on requests or replies",
			    e->decl->name);
	return NULL;
}

void ir_reorder(struct arena *a, struct ir_chain *ir, int level)
{
	ir->opt_level = level;
	if (level <= 0 || ir->n_elems < 2)
		return;
	for (size_t i = 1; i < ir->n_elems; i++) {
		if (!ir->elems[i].can_drop[DIR_REQUEST] || !ir->elems[i].has[DIR_REQUEST])
			continue;
		for (size_t j = i; j > 0; j--) {
			struct ir_element *e = &ir->elems[j - 1], *d = &ir->elems[j];
			const char *why = NULL, *no = refusal(a, e, d, &why);
			struct ir_move mv = { d->decl->name, e->decl->name, no == NULL, no ? no : why };
			ARENA_PUSH(a, ir->moves, ir->n_moves, ir->cap_moves, mv);
			if (no)
				break;
			struct ir_element tmp = *e;
			*e = *d;
			*d = tmp;
			e->index = (int)j - 1;
			d->index = (int)j;
		}
	}
}
