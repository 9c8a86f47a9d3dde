#include <ctype.h>
#include <inttypes.h>
#include <string.h>

#include "codegen.h"
#include "tokenize.h"

const char *cg_upper(char *buf, size_t n, const char *s)
{
	size_t i;
	for (i = 0; s[i] && i + 1 < n; i++)
		buf[i] = (char)toupper((unsigned char)s[i]);
	buf[i] = '\0';
	return buf;
}

void cg_bpf_type(struct strbuf *out, const struct ir_chain *ir, struct type t, const char *name)
{
	switch (t.kind) {
	case TY_INT8: sb_printf(out, "__s8 %s", name); break;
	case TY_INT16: sb_printf(out, "__s16 %s", name); break;
	case TY_INT32: sb_printf(out, "__s32 %s", name); break;
	case TY_INT64: sb_printf(out, "__s64 %s", name); break;
	case TY_UINT8: case TY_BOOL: sb_printf(out, "__u8 %s", name); break;
	case TY_UINT16: sb_printf(out, "__u16 %s", name); break;
	case TY_UINT32: sb_printf(out, "__u32 %s", name); break;
	case TY_UINT64: sb_printf(out, "__u64 %s", name); break;
	case TY_TIMESTAMP: sb_printf(out, "adn_time_t %s", name); break;
	case TY_REAL: sb_printf(out, "adn_real_t %s", name); break;
	case TY_CHAR: sb_printf(out, "char %s[%d]", name, t.len); break;
	case TY_METHOD: sb_printf(out, "enum %s_method %s", ir->svc->name, name); break;
	case TY_KIND: sb_printf(out, "enum adn_kind %s", name); break;
	case TY_STATUS: sb_printf(out, "enum adn_status %s", name); break;
	default: sb_printf(out, "__u8 %s /* ? */", name); break;
	}
}

void cg_literal_text(struct strbuf *out, const struct expr *e)
{
	switch (e->kind) {
	case EX_INT: case EX_REAL:
		sb_puts(out, e->text);
		break;
	case EX_BOOL:
		sb_puts(out, e->ival ? "true" : "false");
		break;
	case EX_STRING:
		sb_putn(out, e->str, (size_t)e->str_len);
		break;
	case EX_UNARY:
		sb_putc(out, '-');
		cg_literal_text(out, e->lhs);
		break;
	default:
		sb_puts(out, "?");
	}
}

void cg_meta_value(struct strbuf *out, const struct expr *e)
{
	if (e->kind != EX_STRING) {
		cg_literal_text(out, e);
		return;
	}
	bool quote = e->str_len == 0;
	for (int i = 0; i < e->str_len; i++) {
		unsigned char c = (unsigned char)e->str[i];
		if (c == ' ' || c == '=' || c == '\'' || c == '\n' || c == '\t' || !isprint(c))
			quote = true;
	}
	if (!quote) {
		sb_putn(out, e->str, (size_t)e->str_len);
		return;
	}
	sb_putc(out, '\'');
	for (int i = 0; i < e->str_len; i++) {
		if (e->str[i] == '\'')
			sb_putc(out, '\'');
		sb_putc(out, e->str[i]);
	}
	sb_putc(out, '\'');
}
