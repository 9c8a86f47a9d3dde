/* The application header <chain>_rpc.h (docs/internals.md §2): the wire
 * layout of every method as C structs with size/encode/decode functions.
 * Plain C11, no dependencies beyond adn_wire.h and libc headers. */
#include <string.h>

#include "codegen.h"

static const char *c_type(struct type t)
{
	switch (t.kind) {
	case TY_INT8: return "int8_t";
	case TY_INT16: return "int16_t";
	case TY_INT32: return "int32_t";
	case TY_INT64: return "int64_t";
	case TY_UINT8: case TY_BOOL: return "uint8_t";
	case TY_UINT16: return "uint16_t";
	case TY_UINT32: return "uint32_t";
	case TY_UINT64: case TY_TIMESTAMP: case TY_REAL: return "uint64_t";
	case TY_BYTES: return "struct adn_bytes";
	case TY_CHAR: return "char";
	default: return "uint8_t";
	}
}

static void emit_struct(struct strbuf *o, const char *name, const struct field_decl *fs, size_t n)
{
	sb_printf(o, "struct %s {\n", name);
	for (size_t i = 0; i < n; i++) {
		if (fs[i].type.kind == TY_CHAR)
			sb_printf(o, "\tchar %s[%d];\n", fs[i].name, fs[i].type.len);
		else
			sb_printf(o, "\t%s %s;\n", c_type(fs[i].type), fs[i].name);
	}
	if (!n)
		sb_puts(o, "\tuint8_t adn_empty; /* no fields: not on the wire */\n");
	sb_puts(o, "};\n\n");
}

static void emit_size(struct strbuf *o, const char *name, const struct ir_body_layout *l)
{
	sb_printf(o, "static inline size_t %s_size(const struct %s *m)\n{\n", name, name);
	sb_printf(o, "\tsize_t n = %d;\n\n", l->fixed_size);
	for (size_t i = 0; i < l->n; i++)
		if (l->fields[i].offset < 0)
			sb_printf(o, "\tn += 4 + (size_t)m->%s.len;\n", l->fields[i].name);
	sb_puts(o, "\t(void)m;\n\treturn n;\n}\n\n");
}

static const char *net_comment(const struct ir_wire_field *w)
{
	return !w->net ? "" : w->header ? " /* network field */" :
	       " /* network field, sender-only: not in the header */";
}

static void emit_encode(struct strbuf *o, const char *name, const struct ir_body_layout *l)
{
	sb_printf(o, "static inline long %s_encode(const struct %s *m, void *buf, size_t cap)\n{\n", name, name);
	sb_puts(o, "\tuint8_t *p = (uint8_t *)buf;\n");
	sb_printf(o, "\tsize_t need = %s_size(m);\n", name);
	if (l->n_bytes)
		sb_puts(o, "\tsize_t off;\n");
	sb_puts(o, "\n\tif (need > cap || need > ADN_FRAME_MAX - ADN_HDR_LEN)\n\t\treturn -1;\n");
	for (size_t i = 0; i < l->n; i++) {
		const struct ir_wire_field *w = &l->fields[i];
		if (w->offset < 0)
			continue;
		if (w->type.kind == TY_CHAR)
			sb_printf(o, "\tmemcpy(p + %d, m->%s, %d);%s\n", w->offset, w->name, w->type.len, net_comment(w));
		else if (w->type.kind == TY_BOOL)
			sb_printf(o, "\tp[%d] = m->%s ? 1 : 0;\n", w->offset, w->name);
		else
			sb_printf(o, "\tadn_rpc_put_le(p + %d, (uint64_t)m->%s, %d);%s\n", w->offset, w->name,
				  type_size(w->type), net_comment(w));
	}
	if (l->n_bytes) {
		sb_printf(o, "\toff = %d;\n", l->fixed_size);
		for (size_t i = 0; i < l->n; i++) {
			const struct ir_wire_field *w = &l->fields[i];
			if (w->offset >= 0)
				continue;
			sb_printf(o, "\tadn_rpc_put_le(p + off, m->%s.len, 4);\n", w->name);
			sb_printf(o, "\tif (m->%s.len)\n\t\tmemcpy(p + off + 4, m->%s.ptr, m->%s.len);\n", w->name,
				  w->name, w->name);
			sb_printf(o, "\toff += 4 + (size_t)m->%s.len;\n", w->name);
		}
	}
	sb_puts(o, "\t(void)p;\n\treturn (long)need;\n}\n\n");
}

static void emit_decode(struct strbuf *o, const char *name, const struct ir_body_layout *l)
{
	sb_printf(o, "static inline int %s_decode(struct %s *m, const void *body, size_t len)\n{\n", name, name);
	sb_puts(o, "\tconst uint8_t *p = (const uint8_t *)body;\n");
	if (l->n_bytes)
		sb_puts(o, "\tsize_t off;\n");
	sb_puts(o, "\n\tmemset(m, 0, sizeof(*m));\n");
	if (l->fixed_size)
		sb_printf(o, "\tif (len < %d)\n\t\treturn -1;\n", l->fixed_size);
	for (size_t i = 0; i < l->n; i++) {
		const struct ir_wire_field *w = &l->fields[i];
		if (w->offset < 0)
			continue;
		if (w->type.kind == TY_CHAR)
			sb_printf(o, "\tmemcpy(m->%s, p + %d, %d);\n", w->name, w->offset, w->type.len);
		else if (w->type.kind == TY_BOOL)
			sb_printf(o, "\tm->%s = p[%d] != 0;\n", w->name, w->offset);
		else
			sb_printf(o, "\tm->%s = (%s)adn_rpc_get_le(p + %d, %d);\n", w->name, c_type(w->type),
				  w->offset, type_size(w->type));
	}
	if (l->n_bytes) {
		sb_printf(o, "\toff = %d;\n", l->fixed_size);
		for (size_t i = 0; i < l->n; i++) {
			const struct ir_wire_field *w = &l->fields[i];
			if (w->offset >= 0)
				continue;
			sb_puts(o, "\tif (len - off < 4)\n\t\treturn -1;\n");
			sb_printf(o, "\tm->%s.len = (uint32_t)adn_rpc_get_le(p + off, 4);\n", w->name);
			sb_printf(o, "\tif (len - off - 4 < m->%s.len)\n\t\treturn -1;\n", w->name);
			sb_printf(o, "\tm->%s.ptr = p + off + 4;\n", w->name);
			sb_printf(o, "\toff += 4 + (size_t)m->%s.len;\n", w->name);
		}
		sb_puts(o, "\tif (off != len)\n\t\treturn -1; /* trailing bytes */\n");
	} else {
		sb_printf(o, "\tif (len != %d)\n\t\treturn -1; /* trailing bytes */\n", l->fixed_size);
	}
	sb_puts(o, "\t(void)p;\n\treturn 0;\n}\n\n");
}

static bool has_field(const struct field_decl *fs, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(fs[i].name, name) == 0)
			return true;
	return false;
}

/* ADN_APP_REQUEST / ADN_APP_RESPONSE: does method m carry, on that side, a
 * field the chain binds element e to? An element with no fields works on
 * the whole payload of every method. */
static unsigned app_dirs(const struct ir_element *e, const struct method_decl *m)
{
	const struct element_decl *el = e->decl;
	unsigned dirs = 0;

	if (!el->n_fields)
		return 3;
	for (size_t i = 0; i < el->n_fields; i++) {
		const char *src = ir_field_source(e, &el->fields[i]);
		if (!src)
			continue;
		if (has_field(m->req, m->n_req, src))
			dirs |= 1;
		if (has_field(m->resp, m->n_resp, src))
			dirs |= 2;
	}
	return dirs;
}

/* The text as a C string literal, one source line per literal piece:
 * quotes, backslashes, '?' (trigraphs) and bytes outside printable ASCII
 * escaped (octal, always three digits). */
static void emit_c_string(struct strbuf *o, const char *s, size_t len)
{
	sb_puts(o, "\"");
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (ch == '\n') {
			sb_puts(o, i + 1 < len ? "\\n\"\n\t\t\"" : "\\n");
		} else if (ch == '"' || ch == '\\' || ch == '?') {
			sb_printf(o, "\\%c", ch);
		} else if (ch < 0x20 || ch >= 0x7f) {
			sb_printf(o, "\\%03o", ch);
		} else {
			char c1[2] = { (char)ch, 0 };
			sb_puts(o, c1);
		}
	}
	sb_puts(o, "\"");
}

/* The SQL elements placed in the application: what the client's RPC
 * library needs to run them (headers/adn_app.h n_sql .. opt_level). */
static void emit_app_sql(struct strbuf *o, const struct ir_chain *ir, size_t n_sql, size_t n)
{
	size_t n_forced = 0;
	for (size_t i = 0; i < ir->n_elems; i++)
		if (ir->elems[i].place == PLACE_APP && !ir->elems[i].decl->in_app && ir->elems[i].place_forced)
			n_forced++;
	if (n_forced) {
		sb_puts(o, "\tstatic const char *const forced_app[] = {");
		for (size_t i = 0; i < ir->n_elems; i++)
			if (ir->elems[i].place == PLACE_APP && !ir->elems[i].decl->in_app &&
			    ir->elems[i].place_forced)
				sb_printf(o, " \"%s\",", ir->elems[i].decl->name);
		sb_puts(o, " };\n");
	}
	sb_puts(o, "\t/* the chain's source (source_file below), compiled again in the\n"
		   "\t * client to run its SQL elements at app */\n"
		   "\tstatic const char source[] =\n");
	sb_puts(o, "\t\t");
	emit_c_string(o, ir->src ? ir->src : "", ir->src ? ir->src_len : 0);
	sb_puts(o, ";\n");
	sb_printf(o, "\tstatic const struct adn_app_chain chain = {\n"
		     "\t\t.chain = \"%s\", .layout_hash = 0x%08xu, .req_keep = %d,\n"
		     "\t\t.n_methods = %zu, .n_elems = %zu, .elems = %s,\n", ir->chain->name, ir->layout_hash,
		  ir->net_size, ir->svc->n_methods, n, n ? "elems" : "NULL");
	sb_printf(o, "\t\t.n_sql = %zu, .source = source, .source_file = ", n_sql);
	emit_c_string(o, ir->prog->basename, strlen(ir->prog->basename));
	sb_printf(o, ",\n\t\t.forced_app = %s, .n_forced_app = %zu, .opt_level = %d,\n\t};\n\n\treturn &chain;\n}\n\n",
		  n_forced ? "forced_app" : "NULL", n_forced, ir->opt_level);
}

/* <chain>_app_chain(): the chain's user-defined elements for the RPC
 * library (headers/adn_app.h, docs/rpc-library.md), in written order. */
static void emit_app_chain(struct strbuf *o, const struct ir_chain *ir)
{
	const char *chain = ir->chain->name;
	size_t n = 0;
	static const char *dir_names[4] = { "0", "ADN_APP_REQUEST", "ADN_APP_RESPONSE",
					     "ADN_APP_REQUEST | ADN_APP_RESPONSE" };

	sb_puts(o, "/* The chain's user-defined elements (IMPLEMENTED IN APP), in chain order,\n"
		   " * for the RPC library: adn_client_use_chain(c, ");
	sb_printf(o, "%s_app_chain(), ...) and\n * adn_server_use_chain(s, %s_app_chain(), ...). "
		     "They transform request bodies\n * after the first %d bytes (the network fields) "
		     "and whole response bodies.\n", chain, chain, ir->net_size);
	for (size_t w = 0; w < ir->chain->n_uses; w++)
		for (size_t i = 0; i < ir->n_elems; i++) {
			const struct ir_element *e = &ir->elems[i];
			if (e->place != PLACE_APP || !e->decl->in_app || (size_t)(e->use - ir->chain->uses) != w)
				continue;
			sb_printf(o, " *   %s:", e->decl->name);
			for (size_t mi = 0; mi < ir->svc->n_methods; mi++) {
				const struct method_decl *m = &ir->svc->methods[mi];
				unsigned d = app_dirs(e, m);
				if (d & 1)
					sb_printf(o, " %s request", m->name);
				if (d & 2)
					sb_printf(o, " %s response", m->name);
			}
			sb_puts(o, "\n");
			n++;
		}
	if (!n)
		sb_puts(o, " *   (none)\n");
	for (size_t i = 0; i < ir->n_elems; i++)
		if (ir->elems[i].place == PLACE_APP && !ir->elems[i].decl->in_app)
			sb_printf(o, " * SQL element %s: IN APP, run by the client's RPC library (reference interpreter)\n",
				  ir->elems[i].decl->name);
	sb_puts(o, " */\n");
	sb_printf(o, "static inline const struct adn_app_chain *%s_app_chain(void)\n{\n", chain);
	for (size_t w = 0, k = 0; w < ir->chain->n_uses; w++)
		for (size_t i = 0; i < ir->n_elems; i++) {
			const struct ir_element *e = &ir->elems[i];
			if (e->place != PLACE_APP || !e->decl->in_app || (size_t)(e->use - ir->chain->uses) != w)
				continue;
			sb_printf(o, "\tstatic const uint8_t dirs%zu[%zu] = { 0", k++, ir->svc->n_methods + 1);
			for (size_t mi = 0; mi < ir->svc->n_methods; mi++)
				sb_printf(o, ", %s", dir_names[app_dirs(e, &ir->svc->methods[mi])]);
			sb_printf(o, " }; /* %s, by method id */\n", e->decl->name);
		}
	if (n) {
		sb_puts(o, "\tstatic const struct adn_app_element elems[] = {\n");
		for (size_t w = 0, k = 0; w < ir->chain->n_uses; w++)
			for (size_t i = 0; i < ir->n_elems; i++) {
				const struct ir_element *e = &ir->elems[i];
				if (e->place != PLACE_APP || !e->decl->in_app || (size_t)(e->use - ir->chain->uses) != w)
					continue;
				sb_printf(o, "\t\t{ \"%s\", dirs%zu },\n", e->decl->name, k++);
			}
		sb_puts(o, "\t};\n");
	}
	size_t n_sql = 0;
	for (size_t i = 0; i < ir->n_elems; i++)
		n_sql += ir->elems[i].place == PLACE_APP && !ir->elems[i].decl->in_app;
	if (n_sql) {
		emit_app_sql(o, ir, n_sql, n);
		return;
	}
	sb_printf(o, "\tstatic const struct adn_app_chain chain = {\n"
		     "\t\t.chain = \"%s\", .layout_hash = 0x%08xu, .req_keep = %d,\n"
		     "\t\t.n_methods = %zu, .n_elems = %zu, .elems = %s,\n\t};\n\n\treturn &chain;\n}\n\n",
		  chain, ir->layout_hash, ir->net_size, ir->svc->n_methods, n, n ? "elems" : "NULL");
}

void codegen_header(struct strbuf *o, const struct ir_chain *ir)
{
	char up[80], chain_up[80], mup[80];
	const char *svc = ir->svc->name;

	cg_upper(up, sizeof(up), svc);
	cg_upper(chain_up, sizeof(chain_up), ir->chain->name);
	sb_printf(o, "/* Generated by adnc %s from %s: the wire layout of service '%s'\n"
		     " * for chain '%s'. Do not edit. Bodies only: the RPC library writes the\n"
		     " * 16-byte header (headers/adn_wire.h). */\n",
		  ADNC_VERSION, ir->prog->basename, svc, ir->chain->name);
	sb_printf(o, "#ifndef ADN_%s_RPC_H\n#define ADN_%s_RPC_H\n\n", chain_up, chain_up);
	sb_puts(o, "#include <stddef.h>\n#include <stdint.h>\n#include <string.h>\n\n#include \"adn_app.h\"\n#include \"adn_wire.h\"\n\n");
	sb_printf(o, "/* FNV-1a 32 of the layout description (adnc --explain prints it). */\n");
	sb_printf(o, "#define %s_LAYOUT_HASH 0x%08xu\n", up, ir->layout_hash);
	sb_printf(o, "#define %s_PORT %d\n\n", up, ir->svc->port);

	sb_printf(o, "enum %s_method {\n", svc);
	for (size_t i = 0; i < ir->svc->n_methods; i++)
		sb_printf(o, "\t%s_%s = %d,\n", up, cg_upper(mup, sizeof(mup), ir->svc->methods[i].name),
			  ir->svc->methods[i].id);
	sb_puts(o, "};\n\n");

	sb_puts(o, "#ifndef ADN_RPC_LE_HELPERS\n#define ADN_RPC_LE_HELPERS\n"
		   "/* little-endian integers of n bytes, whatever the host order */\n"
		   "static inline void adn_rpc_put_le(uint8_t *p, uint64_t v, int n)\n{\n"
		   "\tfor (int i = 0; i < n; i++)\n\t\tp[i] = (uint8_t)(v >> (8 * i));\n}\n\n"
		   "static inline uint64_t adn_rpc_get_le(const uint8_t *p, int n)\n{\n"
		   "\tuint64_t v = 0;\n\n\tfor (int i = n - 1; i >= 0; i--)\n\t\tv = v << 8 | p[i];\n\treturn v;\n}\n"
		   "#endif\n\n");

	sb_printf(o, "/* Network fields: at these offsets at the start of every request body.\n");
	for (size_t i = 0; i < ir->n_net; i++) {
		char tb[32];
		if (i == ir->n_header)
			sb_puts(o, " * Sender-only (after the header: only elements at the sender read them):\n");
		sb_printf(o, " *   %-3d %-20s %s\n", ir->net[i].offset, ir->net[i].name,
			  type_name(ir->net[i].type, tb, sizeof(tb)));
	}
	if (!ir->n_net)
		sb_puts(o, " *   (none)\n");
	sb_puts(o, " */\n\n");

	for (size_t mi = 0; mi < ir->n_methods; mi++) {
		const struct ir_method *m = &ir->methods[mi];
		char req[200], resp[200];
		snprintf(req, sizeof(req), "%s_%s_request", svc, m->decl->name);
		snprintf(resp, sizeof(resp), "%s_%s_response", svc, m->decl->name);
		sb_printf(o, "/* ---- method %d: %s ---- */\n\n", m->decl->id, m->decl->name);
		emit_struct(o, req, m->decl->req, m->decl->n_req);
		emit_struct(o, resp, m->decl->resp, m->decl->n_resp);
		emit_size(o, req, &m->req);
		emit_encode(o, req, &m->req);
		emit_decode(o, req, &m->req);
		emit_size(o, resp, &m->resp);
		emit_encode(o, resp, &m->resp);
		emit_decode(o, resp, &m->resp);
	}

	sb_printf(o, "static inline const char *%s_method_name(unsigned method)\n{\n\tswitch (method) {\n", svc);
	for (size_t i = 0; i < ir->svc->n_methods; i++)
		sb_printf(o, "\tcase %d: return \"%s\";\n", ir->svc->methods[i].id, ir->svc->methods[i].name);
	sb_puts(o, "\tdefault: return NULL;\n\t}\n}\n\n");
	emit_app_chain(o, ir);
	sb_printf(o, "#endif /* ADN_%s_RPC_H */\n", chain_up);
}
