/* Facts about the language's types and status names, shared by all stages. */
#include "ast.h"

#include <stdio.h>
#include <strings.h>

const char *type_name(struct type t, char *buf, size_t n)
{
	static const char *const names[] = {
		[TY_NONE] = "?", [TY_INT8] = "INT8", [TY_INT16] = "INT16",
		[TY_INT32] = "INT32", [TY_INT64] = "INT64", [TY_UINT8] = "UINT8",
		[TY_UINT16] = "UINT16", [TY_UINT32] = "UINT32", [TY_UINT64] = "UINT64",
		[TY_BOOL] = "BOOL", [TY_CHAR] = "CHAR", [TY_BYTES] = "BYTES",
		[TY_TIMESTAMP] = "TIMESTAMP", [TY_REAL] = "REAL", [TY_METHOD] = "METHOD",
		[TY_KIND] = "KIND", [TY_STATUS] = "STATUS",
		[TY_INT_LITERAL] = "integer literal", [TY_STRING_LITERAL] = "string literal",
	};
	if (t.kind == TY_CHAR)
		snprintf(buf, n, "CHAR(%d)", t.len);
	else
		snprintf(buf, n, "%s", names[t.kind]);
	return buf;
}

int type_size(struct type t)
{
	switch (t.kind) {
	case TY_INT8: case TY_UINT8: case TY_BOOL: return 1;
	case TY_INT16: case TY_UINT16: return 2;
	case TY_INT32: case TY_UINT32: return 4;
	case TY_METHOD: case TY_KIND: case TY_STATUS: return 4; /* C enums */
	case TY_INT64: case TY_UINT64: case TY_TIMESTAMP: case TY_REAL: return 8;
	case TY_CHAR: return t.len;
	default: return 0;
	}
}

int type_align(struct type t)
{
	return t.kind == TY_CHAR ? 1 : (type_size(t) ? type_size(t) : 1);
}

bool type_is_integer(struct type t)
{
	return (t.kind >= TY_INT8 && t.kind <= TY_UINT64) || t.kind == TY_TIMESTAMP ||
	       t.kind == TY_INT_LITERAL;
}

bool type_is_signed(struct type t)
{
	return t.kind >= TY_INT8 && t.kind <= TY_INT64;
}

bool type_is_numeric(struct type t)
{
	return type_is_integer(t) || t.kind == TY_REAL;
}

bool type_equal(struct type a, struct type b)
{
	return a.kind == b.kind && (a.kind != TY_CHAR || a.len == b.len);
}

static const char *const status_names[] = {
	"OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED",
	"NOT_FOUND", "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED",
	"FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED",
	"INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED",
};

const char *status_name(int code)
{
	if (code < 0 || code >= (int)(sizeof(status_names) / sizeof(status_names[0])))
		return "?";
	return status_names[code];
}

int status_code(const char *name)
{
	for (size_t i = 0; i < sizeof(status_names) / sizeof(status_names[0]); i++)
		if (strcasecmp(name, status_names[i]) == 0)
			return (int)i;
	return -1;
}
