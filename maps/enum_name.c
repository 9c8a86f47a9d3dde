/* SPDX-License-Identifier: MIT */
/* Enumerators as users read them: the common prefix removed, lower case. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <bpf/btf.h>

#include "adn_scalar.h"

struct enum_view {
	const struct btf *btf;
	const struct btf_type *t;
	int n;
	size_t prefix_len;
};

static const char *enumerator_name(const struct enum_view *ev, int i)
{
	__u32 off = btf_is_enum64(ev->t) ? btf_enum64(ev->t)[i].name_off
					 : btf_enum(ev->t)[i].name_off;
	return btf__name_by_offset(ev->btf, off);
}

static int64_t enumerator_value(const struct enum_view *ev, int i)
{
	if (btf_is_enum64(ev->t))
		return (int64_t)btf_enum64_value(&btf_enum64(ev->t)[i]);
	if (btf_kflag(ev->t))
		return btf_enum(ev->t)[i].val;
	return (int64_t)(uint32_t)btf_enum(ev->t)[i].val;
}

/* The longest prefix, ending in '_', that every enumerator shares and that
 * leaves every enumerator at least one character. */
static size_t common_prefix(const struct enum_view *ev)
{
	const char *first;
	size_t len;

	if (ev->n == 0)
		return 0;
	first = enumerator_name(ev, 0);
	len = strlen(first);
	for (int i = 1; i < ev->n; i++) {
		const char *name = enumerator_name(ev, i);
		size_t k = 0;
		while (k < len && name[k] == first[k])
			k++;
		len = k;
	}
	for (int i = 0; i < ev->n; i++) {
		size_t l = strlen(enumerator_name(ev, i));
		if (len >= l)
			len = l ? l - 1 : 0;
	}
	while (len > 0 && first[len - 1] != '_')
		len--;
	return len;
}

static int enum_view_init(struct enum_view *ev, const struct btf *btf, uint32_t enum_id)
{
	ev->btf = btf;
	ev->t = btf__type_by_id(btf, enum_id);
	if (!ev->t || !btf_is_any_enum(ev->t))
		return -EINVAL;
	ev->n = btf_vlen(ev->t);
	ev->prefix_len = common_prefix(ev);
	return 0;
}

static void lower_copy(char *buf, size_t len, const char *s)
{
	size_t i = 0;

	for (; s[i] && i + 1 < len; i++)
		buf[i] = (char)tolower((unsigned char)s[i]);
	if (len)
		buf[i] = '\0';
}

int adn_enum_name_by_value(const struct btf *btf, uint32_t enum_id, int64_t value,
			   char *buf, size_t len)
{
	struct enum_view ev;

	if (enum_view_init(&ev, btf, enum_id))
		return -EINVAL;
	for (int i = 0; i < ev.n; i++) {
		if (enumerator_value(&ev, i) == value) {
			lower_copy(buf, len, enumerator_name(&ev, i) + ev.prefix_len);
			return 0;
		}
	}
	return -ENOENT;
}

int adn_enum_value_by_name(const struct btf *btf, uint32_t enum_id, const char *name,
			   int64_t *value)
{
	struct enum_view ev;

	if (enum_view_init(&ev, btf, enum_id))
		return -EINVAL;
	for (int i = 0; i < ev.n; i++) {
		const char *full = enumerator_name(&ev, i);
		if (!strcasecmp(full + ev.prefix_len, name) || !strcasecmp(full, name)) {
			*value = enumerator_value(&ev, i);
			return 0;
		}
	}
	return -ENOENT;
}

void adn_enum_names(const struct btf *btf, uint32_t enum_id, char *buf, size_t len)
{
	struct enum_view ev;
	size_t used = 0;
	char name[128];

	if (len)
		buf[0] = '\0';
	if (enum_view_init(&ev, btf, enum_id))
		return;
	for (int i = 0; i < ev.n && used < len; i++) {
		lower_copy(name, sizeof(name), enumerator_name(&ev, i) + ev.prefix_len);
		used += (size_t)snprintf(buf + used, len - used, "%s%s", i ? ", " : "", name);
	}
}
