/* The plan: <chain>.json for tools and tests, and the same facts as text
 * for `adnc --explain`. */
#include <inttypes.h>
#include <string.h>

#include "codegen.h"

static const char *map_kind_name(enum ir_map_kind k)
{
	switch (k) {
	case MAP_HASH: return "HASH";
	case MAP_LRU_HASH: return "LRU_HASH";
	case MAP_ARRAY: return "ARRAY";
	case MAP_RINGBUF: return "RINGBUF";
	case MAP_PERCPU_HASH: return "PERCPU_HASH";
	case MAP_PERCPU_ARRAY: return "PERCPU_ARRAY";
	}
	return "?";
}

static void json_names(struct strbuf *o, const char *const *names, size_t n)
{
	sb_putc(o, '[');
	for (size_t i = 0; i < n; i++) {
		if (i)
			sb_puts(o, ", ");
		sb_json_str(o, names[i]);
	}
	sb_putc(o, ']');
}

static void json_type(struct strbuf *o, struct type t)
{
	char tb[32];
	sb_json_str(o, type_name(t, tb, sizeof(tb)));
}

static void json_body(struct strbuf *o, const struct ir_body_layout *l)
{
	sb_printf(o, "{\"fixed_size\": %d, \"fields\": [", l->fixed_size);
	for (size_t i = 0; i < l->n; i++) {
		const struct ir_wire_field *w = &l->fields[i];
		sb_puts(o, i ? ",\n          " : "\n          ");
		sb_puts(o, "{\"name\": ");
		sb_json_str(o, w->name);
		sb_puts(o, ", \"type\": ");
		json_type(o, w->type);
		if (w->offset >= 0)
			sb_printf(o, ", \"offset\": %d", w->offset);
		else
			sb_puts(o, ", \"offset\": null");
		sb_printf(o, ", \"network\": %s}", w->net ? "true" : "false");
	}
	sb_puts(o, "]}");
}

void codegen_plan(struct strbuf *o, const struct ir_chain *ir)
{
	sb_puts(o, "{\n  \"version\": 0,\n  \"chain\": ");
	sb_json_str(o, ir->chain->name);
	sb_puts(o, ",\n  \"service\": ");
	sb_json_str(o, ir->svc->name);
	sb_printf(o, ",\n  \"port\": %d,\n  \"layout_hash\": \"0x%08x\",\n", ir->svc->port, ir->layout_hash);
	sb_printf(o, "  \"transport\": \"%s\",\n  \"hooks\": [", ir->udp ? "udp" : "tcp");
	bool first_hook = true;
	for (int p = PLACE_SK_MSG; p < PLACE_COUNT; p++)
		if (ir->hooks & IR_PLACE_BIT(p)) {
			sb_printf(o, "%s\"%s\"", first_hook ? "" : ", ", ir_place_name((enum ir_place)p));
			first_hook = false;
		}
	sb_puts(o, "],\n  \"elements\": [");
	for (size_t i = 0; i < ir->n_elems; i++) {
		const struct ir_element *e = &ir->elems[i];
		sb_puts(o, i ? ",\n    {" : "\n    {");
		sb_printf(o, "\"index\": %zu, \"name\": ", i);
		sb_json_str(o, e->decl->name);
		sb_printf(o, ", \"placement\": \"%s\", \"placement_reason\": ", ir_place_name(e->place));
		sb_json_str(o, e->place_reason ? e->place_reason : "");
		sb_puts(o, ",\n     \"drop_status\": ");
		sb_json_str(o, status_name(e->decl->drop_code));
		sb_printf(o, ",\n     \"on_request\": %s, \"on_response\": %s,"
			     " \"can_drop_request\": %s, \"can_drop_response\": %s, \"answers\": %s,\n",
			  e->has[0] ? "true" : "false", e->has[1] ? "true" : "false",
			  e->can_drop[0] ? "true" : "false", e->can_drop[1] ? "true" : "false",
			  e->answers ? "true" : "false");
		sb_puts(o, "     \"fields_read\": ");
		json_names(o, e->reads, e->n_reads);
		sb_puts(o, ", \"fields_written\": ");
		json_names(o, e->writes, e->n_writes);
		sb_puts(o, ",\n     \"tables_read\": ");
		json_names(o, e->tables_read, e->n_tables_read);
		sb_puts(o, ", \"tables_written\": ");
		json_names(o, e->tables_written, e->n_tables_written);
		sb_puts(o, ",\n     \"bindings\": {");
		bool first = true;
		for (size_t f = 0; f < e->decl->n_fields; f++) {
			const char *src = ir_field_source(e, &e->decl->fields[f]);
			if (!src)
				continue;
			sb_puts(o, first ? "" : ", ");
			first = false;
			sb_json_str(o, e->decl->fields[f].name);
			sb_puts(o, ": ");
			sb_json_str(o, src);
		}
		sb_puts(o, "}, \"params\": {");
		for (size_t p = 0; p < e->decl->n_params; p++) {
			struct strbuf v = { 0 };
			cg_literal_text(&v, e->use->param_value[p]);
			sb_puts(o, p ? ", " : "");
			sb_json_str(o, e->decl->params[p].name);
			sb_puts(o, ": ");
			sb_json_str(o, sb_str(&v));
			sb_free(&v);
		}
		sb_puts(o, "}}");
	}
	sb_puts(o, "\n  ],\n  \"network_fields\": [");
	for (size_t i = 0; i < ir->n_net; i++) {
		sb_puts(o, i ? ",\n    " : "\n    ");
		sb_puts(o, "{\"name\": ");
		sb_json_str(o, ir->net[i].name);
		sb_puts(o, ", \"type\": ");
		json_type(o, ir->net[i].type);
		sb_printf(o, ", \"offset\": %d, \"size\": %d, \"header\": %s}", ir->net[i].offset,
			  type_size(ir->net[i].type), ir->net[i].header ? "true" : "false");
	}
	sb_printf(o, "\n  ],\n  \"network_size\": %d,\n  \"header_size\": %d,\n  \"methods\": [", ir->net_size,
		  ir->header_size);
	for (size_t i = 0; i < ir->n_methods; i++) {
		const struct ir_method *m = &ir->methods[i];
		sb_puts(o, i ? ",\n    " : "\n    ");
		sb_printf(o, "{\"id\": %d, \"name\": ", m->decl->id);
		sb_json_str(o, m->decl->name);
		sb_puts(o, ",\n      \"request\": ");
		json_body(o, &m->req);
		sb_puts(o, ",\n      \"response\": ");
		json_body(o, &m->resp);
		sb_puts(o, "}");
	}
	sb_puts(o, "\n  ],\n  \"maps\": [");
	for (size_t i = 0; i < ir->n_maps; i++) {
		const struct ir_map *m = &ir->maps[i];
		sb_puts(o, i ? ",\n    " : "\n    ");
		sb_puts(o, "{\"name\": ");
		sb_json_str(o, m->name);
		sb_printf(o, ", \"kind\": \"%s\", \"pin\": ", map_kind_name(m->kind));
		sb_json_str(o, m->pin);
		if (m->kind == MAP_RINGBUF)
			sb_printf(o, ", \"record\": \"adn_rec__%s__%s\", \"record_size\": %d, \"capacity\": %" PRIu64
				     ", \"max_entries\": %" PRIu64 "}",
				  m->el->name, m->tab->name, m->record_size, m->capacity, m->max_entries);
		else
			sb_printf(o, ", \"key_size\": %d, \"value_size\": %d, \"max_entries\": %" PRIu64 "}",
				  m->key_size, m->value_size, m->max_entries);
	}
	sb_puts(o, "\n  ],\n  \"layout\": ");
	sb_json_str(o, ir->layout_string);
	sb_puts(o, "\n}\n");
}

static void explain_body(struct strbuf *o, const char *side, const struct ir_body_layout *l)
{
	char tb[32];
	sb_printf(o, "    %s (%d fixed bytes%s):\n", side, l->fixed_size, l->n_bytes ? " + BYTES" : "");
	for (size_t i = 0; i < l->n; i++) {
		const struct ir_wire_field *w = &l->fields[i];
		if (w->offset >= 0 && w->net)
			sb_printf(o, "      %4d  %-20s %-12s %s\n", w->offset, w->name,
				  type_name(w->type, tb, sizeof(tb)), w->header ? "network" : "network, sender-only");
		else if (w->offset >= 0)
			sb_printf(o, "      %4d  %-20s %s\n", w->offset, w->name, type_name(w->type, tb, sizeof(tb)));
		else
			sb_printf(o, "         +  %-20s %-12s u32 length + data\n", w->name,
				  type_name(w->type, tb, sizeof(tb)));
	}
	if (!l->n)
		sb_puts(o, "      (empty)\n");
}

static bool elem_uses(const struct ir_element *e, const char *field)
{
	for (size_t i = 0; i < e->n_reads; i++)
		if (strcmp(e->reads[i], field) == 0)
			return true;
	for (size_t i = 0; i < e->n_writes; i++)
		if (strcmp(e->writes[i], field) == 0)
			return true;
	return false;
}

/* Why a sender-only field is not in the header, e.g. "read only by 'lb',
 * which runs at the sender (ROUTE TO REPLICA)"; readers in written order. */
static void explain_sender_only(struct strbuf *o, const struct ir_chain *ir, const char *field)
{
	size_t n = 0, total = 0;

	for (size_t ei = 0; ei < ir->n_elems; ei++)
		total += elem_uses(&ir->elems[ei], field);
	sb_puts(o, "read only by ");
	for (size_t w = 0; w < ir->chain->n_uses; w++)
		for (size_t ei = 0; ei < ir->n_elems; ei++) {
			const struct ir_element *e = &ir->elems[ei];
			if ((size_t)(e->use - ir->chain->uses) != w || !elem_uses(e, field))
				continue;
			if (total == 1) {
				sb_printf(o, "'%s', which runs at the sender (%s)", e->decl->name,
					  e->sender_why ? e->sender_why : "?");
				return;
			}
			sb_printf(o, "%s'%s' (%s)", !n ? "" : n + 1 == total ? " and " : ", ", e->decl->name,
				  e->sender_why ? e->sender_why : "?");
			n++;
		}
	sb_puts(o, ", which run at the sender");
}

void codegen_explain(struct strbuf *o, const struct ir_chain *ir)
{
	char tb[32];

	sb_printf(o, "chain %s on service %s (port %d), layout hash 0x%08x\n\n", ir->chain->name,
		  ir->svc->name, ir->svc->port, ir->layout_hash);
	sb_printf(o, "transport: %s\n", ir->udp ? "UDP (one RPC per datagram)" : "TCP (length-prefixed stream)");
	sb_puts(o, "placement (cost model: each element at the earliest hook that can run it and\n"
		   "its constraints allow, keeping chain order along the path; elements at one hook\n"
		   "are fused into one program with one parse; docs/compiler.md):\n");
	for (size_t i = 0; i < ir->chain->n_uses; i++) {
		const struct chain_use *u = &ir->chain->uses[i];
		for (size_t k = 0; k < ir->n_elems; k++) {
			const struct ir_element *e = &ir->elems[k];
			if (e->use != u)
				continue;
			sb_printf(o, "  %-16s at %-7s %s\n", e->decl->name, ir_place_name(e->place),
				  e->place_reason ? e->place_reason : "");
		}
	}
	sb_puts(o, "\n");
	sb_puts(o, "written order:");
	for (size_t i = 0; i < ir->chain->n_uses; i++)
		sb_printf(o, " %s", ir->chain->uses[i].element.name);
	if (ir->opt_level <= 0) {
		sb_puts(o, "\nreordering: off (-O0): the written order is kept\n");
	} else {
		sb_puts(o, "\nreordering (-O1): a request dropper moves before an element only if that\n"
			   "element cannot drop and has no effect on requests or replies, and the\n"
			   "dropper rewrites nothing it reads (docs/compiler.md):\n");
		for (size_t i = 0; i < ir->n_moves; i++)
			sb_printf(o, "  %s before %s: %s: %s\n", ir->moves[i].mover, ir->moves[i].past,
				  ir->moves[i].allowed ? "moved" : "refused", ir->moves[i].reason);
		if (!ir->n_moves)
			sb_puts(o, "  (no element after the first can drop a request: nothing to consider)\n");
	}
	if (ir->fold_params)
		sb_puts(o, "parameters: folded into the code as constants (--fold-params)\n");
	sb_puts(o, "\norder (as run; responses run it backwards):\n");
	for (size_t i = 0; i < ir->n_elems; i++) {
		const struct ir_element *e = &ir->elems[i];
		sb_printf(o, "  %zu. %-16s [%s] request: %-12s response: %-12s drops with %s\n", i, e->decl->name,
			  ir_place_name(e->place),
			  !e->has[0] ? "-" : e->answers ? "may answer" : e->can_drop[0] ? "may drop" : "passes",
			  !e->has[1] ? "-" : e->can_drop[1] ? "may drop" : "passes",
			  status_name(e->decl->drop_code));
		sb_puts(o, "       reads:");
		for (size_t k = 0; k < e->n_reads; k++)
			sb_printf(o, " %s", e->reads[k]);
		if (!e->n_reads)
			sb_puts(o, " (header only)");
		sb_puts(o, "\n");
		if (e->n_writes) {
			sb_puts(o, "       rewrites:");
			for (size_t k = 0; k < e->n_writes; k++)
				sb_printf(o, " %s", e->writes[k]);
			sb_puts(o, "\n");
		}
		if (e->n_tables_read || e->n_tables_written) {
			sb_puts(o, "       tables:");
			for (size_t k = 0; k < e->n_tables_read; k++)
				sb_printf(o, " %s (read)", e->tables_read[k]);
			for (size_t k = 0; k < e->n_tables_written; k++)
				sb_printf(o, " %s (written)", e->tables_written[k]);
			sb_puts(o, "\n");
		}
		for (size_t p = 0; p < e->decl->n_params; p++) {
			struct strbuf v = { 0 };
			cg_literal_text(&v, e->use->param_value[p]);
			sb_printf(o, "       param %s = %s\n", e->decl->params[p].name, sb_str(&v));
			sb_free(&v);
		}
	}
	sb_printf(o, "\nnetwork header (%d bytes after the 16-byte frame header):\n", ir->header_size);
	for (size_t i = 0; i < ir->n_header; i++)
		sb_printf(o, "  %4d  %-20s %s\n", ir->net[i].offset, ir->net[i].name,
			  type_name(ir->net[i].type, tb, sizeof(tb)));
	if (!ir->n_header)
		sb_puts(o, ir->n_net ? "  (none: no element that may run beyond the sender reads a field)\n" :
				       "  (none: elements read only the frame header)\n");
	if (ir->n_net > ir->n_header)
		sb_printf(o, "sender-only fields (%d bytes after the header, not part of it: only the sender's programs read them):\n",
			  ir->net_size - ir->header_size);
	for (size_t i = ir->n_header; i < ir->n_net; i++) {
		sb_printf(o, "  %4d  %-20s %-12s ", ir->net[i].offset, ir->net[i].name,
			  type_name(ir->net[i].type, tb, sizeof(tb)));
		explain_sender_only(o, ir, ir->net[i].name);
		sb_puts(o, "\n");
	}
	sb_puts(o, "\nmethods:\n");
	for (size_t i = 0; i < ir->n_methods; i++) {
		sb_printf(o, "  %d %s\n", ir->methods[i].decl->id, ir->methods[i].decl->name);
		explain_body(o, "request", &ir->methods[i].req);
		explain_body(o, "response", &ir->methods[i].resp);
	}
	sb_puts(o, "\nmaps (pinned under /sys/fs/bpf/adn/");
	sb_printf(o, "%s/):\n", ir->chain->name);
	uint64_t total = 0;
	for (size_t i = 0; i < ir->n_maps; i++) {
		const struct ir_map *m = &ir->maps[i];
		if (m->kind == MAP_RINGBUF) {
			sb_printf(o, "  %-24s %-9s %" PRIu64 " records x %d bytes -> ring of %" PRIu64 " bytes\n",
				  m->name, map_kind_name(m->kind), m->capacity, m->record_size, m->max_entries);
			total += m->max_entries;
		} else {
			sb_printf(o, "  %-24s %-9s key %d bytes, value %d bytes, %" PRIu64 " entries\n", m->name,
				  map_kind_name(m->kind), m->key_size, m->value_size, m->max_entries);
			total += m->max_entries * (uint64_t)(m->key_size + m->value_size);
		}
	}
	sb_printf(o, "  (about %" PRIu64 " KiB of map data, not counting kernel overhead)\n", (total + 1023) / 1024);
	sb_puts(o, "\nlayout description (hashed with FNV-1a 32):\n");
	sb_puts(o, ir->layout_string);
}
