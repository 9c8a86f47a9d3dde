/* Lowering a resolved chain to the IR: per-element read/write/drop facts,
 * the network field set, the wire layout of every method and the maps. */
#include "ir.h"

#include <string.h>

#include "strbuf.h"

uint32_t ir_fnv1a32(const char *s)
{
	uint32_t h = 2166136261u;
	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 16777619u;
	}
	return h;
}

int ir_struct_size(const struct type *types, size_t n)
{
	int off = 0, max_align = 1;
	for (size_t i = 0; i < n; i++) {
		int al = type_align(types[i]);
		off = (off + al - 1) / al * al + type_size(types[i]);
		if (al > max_align)
			max_align = al;
	}
	return (off + max_align - 1) / max_align * max_align;
}

const char *ir_field_source(const struct ir_element *e, const struct field_decl *f)
{
	const struct element_decl *el = e->decl;
	size_t i = (size_t)(f - el->fields);
	if (i >= el->n_fields || !e->use->field_src[i])
		return NULL;
	return e->use->field_src[i]->name;
}

const struct ir_net_field *ir_net_field(const struct ir_chain *ir, const char *name)
{
	for (size_t i = 0; i < ir->n_net; i++)
		if (strcmp(ir->net[i].name, name) == 0)
			return &ir->net[i];
	return NULL;
}

static void add_name(struct arena *a, const char ***list, size_t *n, size_t *cap, const char *name)
{
	for (size_t i = 0; i < *n; i++)
		if (strcmp((*list)[i], name) == 0)
			return;
	*list = arena_grow(a, *list, sizeof(**list), *n, cap);
	(*list)[(*n)++] = name;
}

/* Where the chain binds element field f: for error messages. */
static struct loc binding_loc(const struct chain_use *u, const struct field_decl *f)
{
	for (size_t i = 0; i < u->n_binds; i++)
		if (strcmp(u->binds[i].target.name, f->name) == 0)
			return u->binds[i].source.name ? u->binds[i].source.loc : u->binds[i].loc;
	return u->element.loc;
}

static void lower_element(struct arena *a, struct ir_chain *ir, struct ir_element *e)
{
	struct element_decl *el = e->decl;
	size_t cap_reads = 0;

	size_t cap_writes = 0;
	for (size_t i = 0; i < el->n_reads; i++) {
		const char *src = ir_field_source(e, el->reads[i]);
		if (src)
			add_name(a, &e->reads, &e->n_reads, &cap_reads, src);
	}
	for (size_t i = 0; i < el->n_writes; i++) {
		const char *src = ir_field_source(e, el->writes[i]);
		if (src)
			add_name(a, &e->writes, &e->n_writes, &cap_writes, src);
	}
	e->routes = el->routes;
	e->answers = el->answers;
	for (int d = DIR_REQUEST; d <= DIR_RESPONSE; d++) {
		const struct on_block *on = &el->on[d];
		bool passes = false;
		e->has[d] = on->present;
		for (size_t i = 0; i < on->n_stmts; i++) {
			const struct select_insert *s = &on->stmts[i];
			for (size_t j = 0; j < s->n_joins; j++)
				add_name(a, &e->tables_read, &e->n_tables_read, &e->cap_tr, s->joins[j].table.name);
			if (s->log)
				add_name(a, &e->tables_written, &e->n_tables_written, &e->cap_tw, s->log->name);
			if (s->table)
				add_name(a, &e->tables_written, &e->n_tables_written, &e->cap_tw, s->table->name);
			if (s->table && (s->kind == ST_UPDATE || s->n_filters))
				add_name(a, &e->tables_read, &e->n_tables_read, &e->cap_tr, s->table->name);
			if (s->to_output && !s->n_joins && !s->where)
				passes = true;
		}
		/* an answer stops the request like a drop (the caller sees who
		 * answered first): reordering treats it as one */
		e->can_drop[d] = on->present && (!passes || (d == DIR_REQUEST && el->answers));
	}
	(void)ir;
}

/* Is service field `name` read or rewritten by an element that may run
 * beyond the sender (ir_allow: a receiver hook allowed over either
 * transport)? */
static bool read_beyond_sender(const struct ir_chain *ir, const char *name)
{
	for (size_t ei = 0; ei < ir->n_elems; ei++) {
		const struct ir_element *e = &ir->elems[ei];
		bool uses = false;
		for (size_t i = 0; i < e->n_reads && !uses; i++)
			uses = strcmp(e->reads[i], name) == 0;
		for (size_t i = 0; i < e->n_writes && !uses; i++)
			uses = strcmp(e->writes[i], name) == 0;
		if (uses && e->beyond_sender)
			return true;
	}
	return false;
}

/* Network fields: every service field read by some element, in order of
 * first use along the chain. The header fields (read by an element that
 * may run beyond the sender: ir_allow) come first from offset 0, then the
 * sender-only fields, each group in first-use order. */
static void collect_net_fields(struct arena *a, struct diag *d, struct ir_chain *ir)
{
	for (size_t ei = 0; ei < ir->n_elems; ei++) {
		struct ir_element *e = &ir->elems[ei];
		for (size_t i = 0; i < e->decl->n_reads + e->decl->n_writes; i++) {
			const struct field_decl *f = i < e->decl->n_reads ? e->decl->reads[i] :
						     e->decl->writes[i - e->decl->n_reads];
			const char *src = ir_field_source(e, f);
			if (!src || ir_net_field(ir, src))
				continue;
			struct ir_net_field nf = { src, f->type, 0, (int)ei, read_beyond_sender(ir, src) };
			ARENA_PUSH(a, ir->net, ir->n_net, ir->cap_net, nf);
		}
	}
	/* every method's REQUEST must carry every network field, same type
	 * (reported in first-use order) */
	for (size_t ni = 0; ni < ir->n_net; ni++) {
		const struct ir_net_field *nf = &ir->net[ni];
		const struct ir_element *reader = &ir->elems[nf->first_reader];
		const struct field_decl *ef = NULL;
		for (size_t i = 0; i < reader->decl->n_reads; i++) {
			const char *src = ir_field_source(reader, reader->decl->reads[i]);
			if (src && strcmp(src, nf->name) == 0)
				ef = reader->decl->reads[i];
		}
		struct loc at = ef ? binding_loc(reader->use, ef) : ir->chain->loc;
		for (size_t m = 0; m < ir->svc->n_methods; m++) {
			const struct method_decl *md = &ir->svc->methods[m];
			const struct field_decl *mf = NULL;
			for (size_t k = 0; k < md->n_req; k++)
				if (strcmp(md->req[k].name, nf->name) == 0)
					mf = &md->req[k];
			if (!mf) {
				diag_error(d, at, "network field '%s' (read by element '%s') is missing from the REQUEST of method '%s'",
					   nf->name, reader->decl->name, md->name);
			} else if (!type_equal(mf->type, nf->type)) {
				char x[32], y[32];
				diag_error(d, at, "network field '%s' (read by element '%s') is %s in method '%s' but %s here",
					   nf->name, reader->decl->name, type_name(mf->type, x, sizeof(x)), md->name,
					   type_name(nf->type, y, sizeof(y)));
			}
		}
	}
	/* header fields first (stable), then the offsets */
	if (ir->n_net) {
		struct ir_net_field *sorted = arena_alloc(a, sizeof(*sorted) * ir->n_net);
		size_t k = 0;
		for (int pass = 0; pass < 2; pass++)
			for (size_t ni = 0; ni < ir->n_net; ni++)
				if (ir->net[ni].header == (pass == 0))
					sorted[k++] = ir->net[ni];
		memcpy(ir->net, sorted, sizeof(*sorted) * ir->n_net);
	}
	bool too_big = false;
	for (size_t ni = 0; ni < ir->n_net; ni++) {
		ir->net[ni].offset = ir->net_size;
		ir->net_size += type_size(ir->net[ni].type);
		if (ir->net[ni].header) {
			ir->n_header++;
			ir->header_size = ir->net_size;
		}
		if (!too_big && ir->net_size > ADNC_NET_MAX) {
			/* reported once, at the first field that crosses the limit */
			too_big = true;
			int total = 0;
			for (size_t k = 0; k < ir->n_net; k++)
				total += type_size(ir->net[k].type);
			const struct ir_net_field *nf = &ir->net[ni];
			const struct ir_element *reader = &ir->elems[nf->first_reader];
			const struct element_decl *el = reader->decl;
			struct loc at = ir->chain->loc;
			for (size_t i = 0; i < el->n_reads + el->n_writes; i++) {
				const struct field_decl *f = i < el->n_reads ? el->reads[i] : el->writes[i - el->n_reads];
				const char *src = ir_field_source(reader, f);
				if (src && strcmp(src, nf->name) == 0) {
					at = f->loc;
					break;
				}
			}
			char tb[32];
			diag_error(d, at, "network header would be %d bytes: the fields elements read in the kernel may take at most %d bytes (%d-byte frame prefix copied to the BPF stack, minus the %u-byte frame header); element '%s' reads '%s' %s at offset %d",
				   total, ADNC_NET_MAX, ADNC_FRAME_PREFIX_MAX, ADN_HDR_LEN, el->name, nf->name,
				   type_name(nf->type, tb, sizeof(tb)), nf->offset);
		}
	}
	if (!too_big && ir->header_size > 64)
		diag_warning(d, ir->chain->loc, "the header fields take %d bytes; SmartNICs and switches see only the first 64 bytes of a frame",
			     ir->header_size);
}

static struct ir_body_layout body_layout(struct arena *a, const struct ir_chain *ir,
					 const struct field_decl *fs, size_t n, bool with_net)
{
	struct ir_body_layout l = { 0 };
	size_t cap = 0, i;
	int off = 0;

	if (with_net) {
		for (size_t ni = 0; ni < ir->n_net; ni++) {
			struct ir_wire_field w = { ir->net[ni].name, ir->net[ni].type, ir->net[ni].offset, true,
						   ir->net[ni].header };
			ARENA_PUSH(a, l.fields, l.n, cap, w);
		}
		off = ir->net_size;
	}
	for (i = 0; i < n; i++) {
		if (fs[i].type.kind == TY_BYTES || (with_net && ir_net_field(ir, fs[i].name)))
			continue;
		struct ir_wire_field w = { fs[i].name, fs[i].type, off, false, false };
		ARENA_PUSH(a, l.fields, l.n, cap, w);
		off += type_size(fs[i].type);
	}
	l.fixed_size = off;
	for (i = 0; i < n; i++) {
		if (fs[i].type.kind != TY_BYTES)
			continue;
		struct ir_wire_field w = { fs[i].name, fs[i].type, -1, false, false };
		ARENA_PUSH(a, l.fields, l.n, cap, w);
		l.n_bytes++;
	}
	return l;
}

static void layout_string_body(struct strbuf *sb, const char *side, const struct ir_body_layout *l)
{
	char tb[32];
	for (size_t i = 0; i < l->n; i++) {
		const struct ir_wire_field *w = &l->fields[i];
		sb_printf(sb, "%s %s %s", side, w->name, type_name(w->type, tb, sizeof(tb)));
		if (w->offset >= 0)
			sb_printf(sb, " %d", w->offset);
		sb_puts(sb, !w->net ? "\n" : w->header ? " net\n" : " sender\n");
	}
}

/* The canonical description of the wire layout; its FNV-1a 32 hash is the
 * LAYOUT_HASH both sides compare (docs/compiler.md). */
static void build_layout(struct arena *a, struct ir_chain *ir)
{
	struct strbuf sb = { 0 };
	char tb[32];

	ir->n_methods = ir->svc->n_methods;
	ir->methods = arena_alloc(a, sizeof(*ir->methods) * (ir->n_methods + 1));
	sb_printf(&sb, "adn-layout v0\nservice %s\n", ir->svc->name);
	for (size_t i = 0; i < ir->n_net; i++)
		sb_printf(&sb, "%s %s %s %d\n", ir->net[i].header ? "net" : "sender", ir->net[i].name,
			  type_name(ir->net[i].type, tb, sizeof(tb)), ir->net[i].offset);
	for (size_t m = 0; m < ir->n_methods; m++) {
		const struct method_decl *md = &ir->svc->methods[m];
		struct ir_method *im = &ir->methods[m];
		im->decl = md;
		im->req = body_layout(a, ir, md->req, md->n_req, true);
		im->resp = body_layout(a, ir, md->resp, md->n_resp, false);
		sb_printf(&sb, "method %d %s\n", md->id, md->name);
		layout_string_body(&sb, "request", &im->req);
		layout_string_body(&sb, "response", &im->resp);
	}
	ir->layout_string = arena_strdup(a, sb_str(&sb));
	ir->layout_hash = ir_fnv1a32(ir->layout_string);
	sb_free(&sb);
}

static uint64_t ring_size(uint64_t bytes)
{
	uint64_t size = 4096;
	while (size < bytes)
		size <<= 1;
	return size;
}

static void build_maps(struct arena *a, struct diag *d, struct ir_chain *ir)
{
	struct ir_map params = { "adn_params", "adn_params", MAP_ARRAY, 4, 0, 1, 0, 1, NULL, NULL };
	struct type *types = NULL;
	size_t cap_types = 0;

	for (size_t ei = 0; ei < ir->n_elems; ei++) {
		const struct element_decl *el = ir->elems[ei].decl;
		for (size_t i = 0; i < el->n_params; i++) {
			types = arena_grow(a, types, sizeof(*types), ir->n_params, &cap_types);
			types[ir->n_params++] = el->params[i].type;
		}
	}
	params.value_size = ir->n_params ? ir_struct_size(types, ir->n_params) : 1;
	ARENA_PUSH(a, ir->maps, ir->n_maps, ir->cap_maps, params);

	for (size_t ei = 0; ei < ir->n_elems; ei++) {
		const struct element_decl *el = ir->elems[ei].decl;
		for (size_t ti = 0; ti < el->n_tables; ti++) {
			const struct table_decl *t = &el->tables[ti];
			struct ir_map m = { 0 };
			struct type keys[256], vals[256];
			size_t nk = 0, nv = 0;
			m.name = arena_printf(a, "%s__%s", el->name, t->name);
			m.pin = arena_printf(a, "%s/%s", el->name, t->name);
			m.el = el;
			m.tab = t;
			m.capacity = t->capacity;
			for (size_t c = 0; c < t->n_cols && c < 256; c++) {
				if (t->cols[c].primary_key)
					keys[nk++] = t->cols[c].type;
				else
					vals[nv++] = t->cols[c].type;
			}
			if (t->kind == TABLE_LOG) {
				m.kind = MAP_RINGBUF;
				m.record_size = ir_struct_size(vals, nv);
				uint64_t bytes = t->capacity * (uint64_t)m.record_size;
				if (bytes > (1ull << 30)) {
					diag_error(d, t->capacity_loc.line ? t->capacity_loc : t->loc,
						   "log table '%s' needs %llu bytes of ring buffer (CAPACITY x %d-byte records); the limit is 1 GiB",
						   t->name, (unsigned long long)bytes, m.record_size);
					bytes = 1ull << 30;
				}
				m.max_entries = ring_size(bytes);
			} else {
				m.kind = t->kind == TABLE_LRU ? MAP_LRU_HASH :
					 t->kind == TABLE_ARRAY ? MAP_ARRAY :
					 t->kind == TABLE_PERCPU_HASH ? MAP_PERCPU_HASH :
					 t->kind == TABLE_PERCPU_ARRAY ? MAP_PERCPU_ARRAY : MAP_HASH;
				m.key_size = ir_struct_size(keys, nk);
				m.value_size = ir_struct_size(vals, nv);
				m.max_entries = t->capacity;
			}
			ARENA_PUSH(a, ir->maps, ir->n_maps, ir->cap_maps, m);
		}
	}
}

/* The replica set of the routing element (bpf/adn_route_abi.h): ARRAY of 3
 * sets of 16 replicas (8 + 16 x 32 bytes). A chain has at most one. */
static void build_route_map(struct arena *a, struct diag *d, struct ir_chain *ir)
{
	const struct ir_element *router = NULL;

	for (size_t ei = 0; ei < ir->n_elems; ei++) {
		const struct ir_element *e = &ir->elems[ei];
		if (!e->routes)
			continue;
		if (router) {
			diag_error(d, e->use->element.loc, "'%s' and '%s' both ROUTE TO REPLICA; a chain sends a request to one replica, so only one element may route",
				   router->decl->name, e->decl->name);
			continue;
		}
		router = e;
		struct ir_map m = { 0 };
		m.name = arena_printf(a, "%s__replicas", e->decl->name);
		m.pin = arena_printf(a, "%s/replicas", e->decl->name);
		m.el = e->decl;
		m.kind = MAP_ARRAY;
		m.key_size = 4;
		m.value_size = 8 + 16 * 32;
		m.max_entries = 3;
		m.capacity = 3;
		ARENA_PUSH(a, ir->maps, ir->n_maps, ir->cap_maps, m);
	}
}

struct ir_chain *ir_build(struct arena *a, struct diag *d, struct chain_decl *c)
{
	struct ir_chain *ir = arena_alloc(a, sizeof(*ir));
	int errors = d->errors;

	ir->chain = c;
	ir->svc = c->svc;
	ir->n_elems = c->n_uses;
	ir->elems = arena_alloc(a, sizeof(*ir->elems) * (c->n_uses + 1));
	for (size_t i = 0; i < c->n_uses; i++) {
		struct ir_element *e = &ir->elems[i];
		e->index = (int)i;
		e->decl = c->uses[i].elem;
		e->use = &c->uses[i];
		lower_element(a, ir, e);
	}
	ir_allow(a, ir); /* the layout depends on where elements may run */
	collect_net_fields(a, d, ir);
	build_layout(a, ir);
	build_maps(a, d, ir);
	build_route_map(a, d, ir);
	return d->errors > errors ? NULL : ir;
}
