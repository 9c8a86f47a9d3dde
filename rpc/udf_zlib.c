/* SPDX-License-Identifier: MIT */
/* A ready user-defined element: zlib deflate / inflate (adn_udf_zlib). In
 * its own object file, so programs that do not use it need no -lz. */
#include <zlib.h>

#include "adn_rpc.h"

static long zlib_encode(void *ctx, const void *in, size_t n, void *out, size_t cap)
{
	int level = ctx ? *(const int *)ctx : Z_BEST_SPEED;
	uLongf dlen = (uLongf)cap;

	if (level < 0 || level > 9)
		level = Z_BEST_SPEED;
	if (compress2(out, &dlen, in, (uLong)n, level) != Z_OK)
		return -1;
	return (long)dlen;
}

static long zlib_decode(void *ctx, const void *in, size_t n, void *out, size_t cap)
{
	uLongf dlen = (uLongf)cap;

	(void)ctx;
	if (uncompress(out, &dlen, in, (uLong)n) != Z_OK)
		return -1;
	return (long)dlen;
}

const struct adn_udf_ops adn_udf_zlib = { .encode = zlib_encode, .decode = zlib_decode };
