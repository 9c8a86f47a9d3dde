/* Helpers shared by test_interp.c and test_differential.c: compile a chain
 * from a file of the tree, build request and response frames by field name
 * for the reference interpreter (compiler/interp.h). */
#ifndef ADN_TEST_INTERP_UTIL_H
#define ADN_TEST_INTERP_UTIL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adnc.h"
#include "interp.h"

static inline const char *iu_root(void)
{
	const char *r = getenv("ADN_ROOT");
	return r && *r ? r : ".";
}

static inline char *iu_read(const char *rel, size_t *len)
{
	char path[4096];
	if (rel[0] == '/')
		snprintf(path, sizeof(path), "%s", rel);
	else
		snprintf(path, sizeof(path), "%s/%s", iu_root(), rel);
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	char *s = malloc((size_t)n + 64);
	size_t got = fread(s, 1, (size_t)n, f);
	fclose(f);
	s[got] = '\0';
	*len = got;
	return s;
}

/* The source with its service made TRANSPORT UDP (the wire layout does not
 * depend on it): the chain can then run at TC, under BPF_PROG_TEST_RUN. */
static inline char *iu_make_udp(const char *src, size_t *len)
{
	const char *p = strstr(src, "PORT ");
	char *out = malloc(strlen(src) + 32);
	if (!p || strstr(src, "TRANSPORT UDP")) {
		strcpy(out, src);
		*len = strlen(out);
		return out;
	}
	p += 5;
	while (*p >= '0' && *p <= '9')
		p++;
	size_t head = (size_t)(p - src);
	memcpy(out, src, head);
	strcpy(out + head, " TRANSPORT UDP");
	strcat(out, p);
	*len = strlen(out);
	return out;
}

/* Compiles a file of the tree (relative to ADN_ROOT, or an absolute path) at -O<level>; udp: as
 * TRANSPORT UDP with every element forced to TC. NULL on errors. */
static inline struct adnc_unit *iu_compile(const char *rel, int level, int udp)
{
	size_t len;
	char *src = iu_read(rel, &len);
	if (!src)
		return NULL;
	if (udp) {
		char *u = iu_make_udp(src, &len);
		free(src);
		src = u;
	}
	struct ir_forced_place tc = { NULL, PLACE_TC };
	struct adnc_unit *u = adnc_compile_source_placed(rel, src, len, stderr, udp ? &tc : NULL, udp ? 1 : 0);
	free(src);
	if (!u->ir) {
		adnc_unit_free(u);
		return NULL;
	}
	ir_reorder(&u->arena, u->ir, level);
	return u;
}

/* A request frame: header, then the network fields (zero), then `extra`
 * bytes of payload. Returns its length. */
static inline size_t iu_request(const struct ir_chain *ir, uint8_t *f, uint32_t rpc_id, uint16_t method,
			 size_t extra)
{
	size_t len = 16 + (size_t)ir->net_size + extra;
	memset(f, 0, len);
	f[0] = (uint8_t)len;
	f[1] = (uint8_t)(len >> 8);
	f[2] = (uint8_t)(len >> 16);
	memcpy(f + 4, &rpc_id, 4);
	f[8] = (uint8_t)method;
	f[9] = (uint8_t)(method >> 8);
	return len;
}

/* A response frame of `len` bytes (>= 16). */
static inline size_t iu_response(uint8_t *f, size_t len, uint32_t rpc_id, uint16_t method, uint8_t status)
{
	memset(f, 0, len);
	f[0] = (uint8_t)len;
	f[1] = (uint8_t)(len >> 8);
	memcpy(f + 4, &rpc_id, 4);
	f[8] = (uint8_t)method;
	f[10] = 1;
	f[11] = status;
	return len;
}

/* The address of a network field in a frame, NULL if the chain reads no
 * such service field. */
static inline uint8_t *iu_field(const struct ir_chain *ir, uint8_t *f, const char *name, int *size)
{
	const struct ir_net_field *nf = ir_net_field(ir, name);
	if (!nf)
		return NULL;
	if (size)
		*size = type_size(nf->type);
	return f + 16 + nf->offset;
}

static inline void iu_set_str(const struct ir_chain *ir, uint8_t *f, const char *name, const char *s)
{
	int n;
	uint8_t *p = iu_field(ir, f, name, &n);
	if (!p)
		return;
	memset(p, 0, (size_t)n);
	memcpy(p, s, strlen(s) < (size_t)n ? strlen(s) : (size_t)n);
}

static inline void iu_set_int(const struct ir_chain *ir, uint8_t *f, const char *name, uint64_t v)
{
	int n;
	uint8_t *p = iu_field(ir, f, name, &n);
	for (int i = 0; p && i < n; i++, v >>= 8)
		p[i] = (uint8_t)v;
}

#endif
