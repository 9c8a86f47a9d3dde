/* SPDX-License-Identifier: MIT */
/* The chain's object file, kept in the pinned one-row map adn_obj so that
 * snapshot (merge policies), update and migrate can read the chain's
 * .adn.meta and reload its code without the original file. Value: u64
 * length, then the ELF bytes. */
#include <errno.h>
#include <gelf.h>
#include <libelf.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "adn_chaindir.h"
#include "adn_chainobj.h"
#include "adn_err.h"
#include "adn_meta.h"
#include "adn_pinned.h"

int adn_chain_obj_create(const void *elf, size_t len, int *fd_out, struct adn_err *err)
{
	size_t vsize = 8 + ((len + 7) & ~(size_t)7);
	uint8_t *val = calloc(1, vsize);
	__u32 zero = 0;
	uint64_t l = len;
	int fd;

	if (!val)
		return adn_err_set(err, ENOMEM, "out of memory");
	memcpy(val, &l, 8);
	memcpy(val + 8, elf, len);
	fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "adn_obj", 4, (__u32)vsize, 1, NULL);
	if (fd < 0) {
		int e = errno;
		free(val);
		return adn_err_set(err, e, "map adn_obj (%zu bytes): create: %s", vsize, strerror(e));
	}
	if (bpf_map_update_elem(fd, &zero, val, BPF_ANY)) {
		int e = errno;
		free(val);
		close(fd);
		return adn_err_set(err, e, "map adn_obj: write: %s", strerror(e));
	}
	free(val);
	*fd_out = fd;
	return 0;
}

int adn_chain_obj_get(const char *chain, void **elf, size_t *len, struct adn_err *err)
{
	char path[PATH_MAX];
	struct bpf_map_info info;
	__u32 zero = 0;
	uint64_t l;
	int fd;

	adn_chain_path(path, sizeof(path), chain, "adn_obj");
	fd = bpf_obj_get(path);
	if (fd < 0)
		return adn_err_set(err, errno, "chain %s: %s: %s (attached by an older adn-load? "
				   "detach and attach it again)", chain, path, strerror(errno));
	uint8_t *val = NULL;
	int rc = adn_map_info(fd, &info);
	if (!rc && info.value_size >= 8)
		val = malloc(info.value_size);
	if (!val || bpf_map_lookup_elem(fd, &zero, val)) {
		rc = adn_err_set(err, errno ? errno : EINVAL, "%s: read: %s", path, strerror(errno));
		free(val);
		close(fd);
		return rc;
	}
	close(fd);
	memcpy(&l, val, 8);
	if (l > info.value_size - 8) {
		free(val);
		return adn_err_set(err, EINVAL, "%s: bad length", path);
	}
	memmove(val, val + 8, l);
	*elf = val;
	*len = l;
	return 0;
}

int adn_meta_read_mem(struct adn_meta *meta, const void *buf, size_t len, struct adn_err *err)
{
	Elf *elf;
	size_t shstrndx;
	Elf_Scn *scn = NULL;
	GElf_Shdr shdr;
	int rc = adn_err_set(err, ENOENT, "object has no .adn.meta section");

	memset(meta, 0, sizeof(*meta));
	if (elf_version(EV_CURRENT) == EV_NONE)
		return adn_err_set(err, EINVAL, "libelf: %s", elf_errmsg(-1));
	elf = elf_memory((char *)buf, len);
	if (!elf || elf_kind(elf) != ELF_K_ELF || elf_getshdrstrndx(elf, &shstrndx)) {
		if (elf)
			elf_end(elf);
		return adn_err_set(err, EINVAL, "not an ELF object");
	}
	while ((scn = elf_nextscn(elf, scn))) {
		if (!gelf_getshdr(scn, &shdr))
			break;
		const char *name = elf_strptr(elf, shstrndx, shdr.sh_name);
		if (name && !strcmp(name, ".adn.meta")) {
			Elf_Data *d = elf_getdata(scn, NULL);
			rc = d ? adn_meta_parse(meta, d->d_buf, d->d_size, err)
			       : adn_err_set(err, EINVAL, "cannot read .adn.meta");
			break;
		}
	}
	elf_end(elf);
	return rc;
}

int adn_chain_meta(const char *chain, struct adn_meta *meta, struct adn_err *err)
{
	void *elf;
	size_t len;
	int rc = adn_chain_obj_get(chain, &elf, &len, err);

	if (rc)
		return rc;
	rc = adn_meta_read_mem(meta, elf, len, err);
	free(elf);
	return rc;
}
