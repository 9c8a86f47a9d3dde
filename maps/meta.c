/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "adn_err.h"
#include "adn_meta.h"

static int list_push(struct adn_str_list *l, char *s)
{
	char **grown = realloc(l->v, sizeof(*l->v) * (size_t)(l->n + 1));

	if (!grown)
		return -ENOMEM;
	l->v = grown;
	l->v[l->n++] = s;
	return 0;
}

static int parse_u32(const char *s, uint32_t *out)
{
	char *end;

	errno = 0;
	unsigned long v = strtoul(s, &end, 0);
	if (end == s || *end || errno || v > UINT32_MAX)
		return -EINVAL;
	*out = (uint32_t)v;
	return 0;
}

static int parse_line(struct adn_meta *meta, char *line, int lineno, struct adn_err *err)
{
	char *eq = strchr(line, '=');
	char *key = line, *value;
	int rc = 0;

	if (!eq)
		return adn_err_set(err, EINVAL, ".adn.meta line %d: expected key=value, got '%s'",
				   lineno, line);
	*eq = '\0';
	value = eq + 1;
	if (!strcmp(key, "version")) {
		uint32_t v;
		if (parse_u32(value, &v))
			return adn_err_set(err, EINVAL, ".adn.meta line %d: bad version '%s'", lineno, value);
		meta->version = (int)v;
	} else if (!strcmp(key, "chain")) {
		meta->chain = value;
	} else if (!strcmp(key, "service")) {
		meta->service = value;
	} else if (!strcmp(key, "port")) {
		if (parse_u32(value, &meta->port) || meta->port > 65535)
			return adn_err_set(err, EINVAL, ".adn.meta line %d: bad port '%s'", lineno, value);
		meta->has_port = true;
	} else if (!strcmp(key, "layout")) {
		if (parse_u32(value, &meta->layout))
			return adn_err_set(err, EINVAL, ".adn.meta line %d: bad layout '%s'", lineno, value);
		meta->has_layout = true;
	} else if (!strcmp(key, "element")) {
		rc = list_push(&meta->elements, value);
	} else if (!strcmp(key, "row")) {
		rc = list_push(&meta->rows, value);
	} else if (!strcmp(key, "param")) {
		rc = list_push(&meta->params, value);
	} else if (!strcmp(key, "log")) {
		rc = list_push(&meta->logs, value);
	} else if (!strcmp(key, "merge")) {
		rc = list_push(&meta->merges, value);
	} else if (!strcmp(key, "default")) {
		rc = list_push(&meta->defaults, value);
	}
	return rc ? adn_err_set(err, ENOMEM, "out of memory") : 0;
}

int adn_meta_parse(struct adn_meta *meta, const char *text, size_t len, struct adn_err *err)
{
	char *line, *next;
	int lineno = 0, rc;

	memset(meta, 0, sizeof(*meta));
	meta->version = -1;
	meta->text = strndup(text, len);
	if (!meta->text)
		return adn_err_set(err, ENOMEM, "out of memory");
	for (line = meta->text; line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		lineno++;
		if (!*line || *line == '#')
			continue;
		rc = parse_line(meta, line, lineno, err);
		if (rc)
			goto fail;
	}
	if (meta->version != 0) {
		rc = adn_err_set(err, EINVAL, ".adn.meta: version %d is not supported (this loader reads version 0)",
				 meta->version);
		goto fail;
	}
	if (!meta->chain || !*meta->chain) {
		rc = adn_err_set(err, EINVAL, ".adn.meta: no chain= line");
		goto fail;
	}
	return 0;
fail:
	adn_meta_free(meta);
	return rc;
}

static int find_section(Elf *elf, Elf_Data **data)
{
	size_t shstrndx;
	Elf_Scn *scn = NULL;
	GElf_Shdr shdr;

	if (elf_getshdrstrndx(elf, &shstrndx))
		return -EINVAL;
	while ((scn = elf_nextscn(elf, scn))) {
		if (!gelf_getshdr(scn, &shdr))
			return -EINVAL;
		const char *name = elf_strptr(elf, shstrndx, shdr.sh_name);
		if (name && !strcmp(name, ".adn.meta")) {
			*data = elf_getdata(scn, NULL);
			return *data ? 0 : -EINVAL;
		}
	}
	return -ENOENT;
}

int adn_meta_read_elf(struct adn_meta *meta, const char *path, struct adn_err *err)
{
	Elf_Data *data = NULL;
	Elf *elf;
	int fd, rc;

	memset(meta, 0, sizeof(*meta));
	if (elf_version(EV_CURRENT) == EV_NONE)
		return adn_err_set(err, EINVAL, "libelf: %s", elf_errmsg(-1));
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return adn_err_set(err, errno, "%s: %s", path, strerror(errno));
	elf = elf_begin(fd, ELF_C_READ, NULL);
	if (!elf || elf_kind(elf) != ELF_K_ELF) {
		rc = adn_err_set(err, EINVAL, "%s: not an ELF object", path);
		goto out;
	}
	rc = find_section(elf, &data);
	if (rc == -ENOENT) {
		rc = adn_err_set(err, ENOENT, "%s: no .adn.meta section (not built by adnc?)", path);
		goto out;
	}
	if (rc) {
		rc = adn_err_set(err, EINVAL, "%s: cannot read sections: %s", path, elf_errmsg(-1));
		goto out;
	}
	rc = adn_meta_parse(meta, data->d_buf, data->d_size, err);
	if (rc) {
		char inner[ADN_ERR_MAX];
		snprintf(inner, sizeof(inner), "%s", err ? err->msg : "");
		rc = adn_err_set(err, -rc, "%s: %.400s", path, inner);
	}
out:
	if (elf)
		elf_end(elf);
	close(fd);
	return rc;
}

void adn_meta_free(struct adn_meta *meta)
{
	free(meta->text);
	free(meta->elements.v);
	free(meta->rows.v);
	free(meta->params.v);
	free(meta->logs.v);
	free(meta->merges.v);
	free(meta->defaults.v);
	memset(meta, 0, sizeof(*meta));
}
