/* SPDX-License-Identifier: MIT */
/* `col=value` assignments: from one line (.adn.meta row= lines) or from
 * command-line arguments. Values are single-quoted SQL style when they hold
 * spaces, '=' or quotes: 'a b', 'it''s'. */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "adn_err.h"
#include "adn_row.h"

static int push(struct adn_assigns *as, const char *col, size_t col_len, char *value,
		struct adn_err *err)
{
	struct adn_assign *grown = realloc(as->a, sizeof(*as->a) * (size_t)(as->n + 1));

	if (!grown) {
		free(value);
		return adn_err_set(err, ENOMEM, "out of memory");
	}
	as->a = grown;
	as->a[as->n].col = strndup(col, col_len);
	as->a[as->n].value = value;
	if (!as->a[as->n].col) {
		free(value);
		return adn_err_set(err, ENOMEM, "out of memory");
	}
	as->n++;
	return 0;
}

/* Reads a quoted value starting at *p (on the opening quote); on success
 * *p is just past the closing quote. */
static char *read_quoted(const char **p)
{
	const char *s = *p + 1;
	char *out = malloc(strlen(s) + 1), *o = out;

	if (!out)
		return NULL;
	for (;;) {
		if (!*s) {
			free(out);
			return NULL;
		}
		if (*s == '\'') {
			if (s[1] != '\'')
				break;
			s++; /* '' is one quote */
		}
		*o++ = *s++;
	}
	*o = '\0';
	*p = s + 1;
	return out;
}

static bool valid_col_char(char c)
{
	return isalnum((unsigned char)c) || c == '_' || c == '.';
}

int adn_assigns_from_line(struct adn_assigns *as, const char *line, struct adn_err *err)
{
	const char *p = line;
	int rc;

	memset(as, 0, sizeof(*as));
	for (;;) {
		while (isspace((unsigned char)*p))
			p++;
		if (!*p)
			return 0;
		const char *col = p;
		while (valid_col_char(*p))
			p++;
		if (p == col || *p != '=') {
			rc = adn_err_set(err, EINVAL, "expected column=value at '%s'", col);
			goto fail;
		}
		size_t col_len = (size_t)(p - col);
		char *value;
		p++;
		if (*p == '\'') {
			const char *start = p;
			value = read_quoted(&p);
			if (!value) {
				rc = adn_err_set(err, EINVAL, "unterminated quoted value at '%s'", start);
				goto fail;
			}
			if (*p && !isspace((unsigned char)*p)) {
				free(value);
				rc = adn_err_set(err, EINVAL, "expected a space after the quoted value at '%s'",
						 start);
				goto fail;
			}
		} else {
			const char *start = p;
			while (*p && !isspace((unsigned char)*p))
				p++;
			value = strndup(start, (size_t)(p - start));
		}
		if (!value) {
			rc = adn_err_set(err, ENOMEM, "out of memory");
			goto fail;
		}
		rc = push(as, col, col_len, value, err);
		if (rc)
			goto fail;
	}
fail:
	adn_assigns_free(as);
	return rc;
}

int adn_assigns_from_argv(struct adn_assigns *as, int argc, char *const argv[],
			  struct adn_err *err)
{
	int rc;

	memset(as, 0, sizeof(*as));
	for (int i = 0; i < argc; i++) {
		const char *eq = strchr(argv[i], '=');
		const char *v;
		char *value;

		if (!eq || eq == argv[i]) {
			rc = adn_err_set(err, EINVAL, "expected column=value, got '%s'", argv[i]);
			goto fail;
		}
		v = eq + 1;
		if (*v == '\'') {
			const char *p = v;
			value = read_quoted(&p);
			if (value && *p) {
				free(value);
				value = NULL;
			}
			if (!value) {
				rc = adn_err_set(err, EINVAL, "bad quoted value in '%s'", argv[i]);
				goto fail;
			}
		} else {
			value = strdup(v);
			if (!value) {
				rc = adn_err_set(err, ENOMEM, "out of memory");
				goto fail;
			}
		}
		rc = push(as, argv[i], (size_t)(eq - argv[i]), value, err);
		if (rc)
			goto fail;
	}
	return 0;
fail:
	adn_assigns_free(as);
	return rc;
}

void adn_assigns_free(struct adn_assigns *as)
{
	for (int i = 0; i < as->n; i++) {
		free(as->a[i].col);
		free(as->a[i].value);
	}
	free(as->a);
	memset(as, 0, sizeof(*as));
}
