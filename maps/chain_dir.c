/* SPDX-License-Identifier: MIT */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <mntent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <linux/magic.h>

#include "adn_chaindir.h"
#include "adn_err.h"

bool adn_name_valid(const char *name)
{
	size_t len = strlen(name);

	if (len == 0 || len > 63 || !strcmp(name, ".") || !strcmp(name, ".."))
		return false;
	return strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") == len;
}

int adn_mkdir_p(const char *path, mode_t mode, struct adn_err *err)
{
	char buf[PATH_MAX];

	if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf))
		return adn_err_set(err, ENAMETOOLONG, "%s: path too long", path);
	for (char *p = buf + 1;; p++) {
		if (*p != '/' && *p)
			continue;
		char saved = *p;
		*p = '\0';
		if (mkdir(buf, mode) && errno != EEXIST)
			return adn_err_set(err, errno, "mkdir %s: %s", buf, strerror(errno));
		if (!saved)
			return 0;
		*p = saved;
	}
}

int adn_pin_root_prepare(struct adn_err *err)
{
	struct statfs st;

	/* bpffs is not always mounted (containers, minimal VMs). */
	if (statfs(ADN_BPFFS, &st) || st.f_type != BPF_FS_MAGIC) {
		int rc = adn_mkdir_p(ADN_BPFFS, 0755, err);
		if (rc)
			return rc;
		if (mount("bpf", ADN_BPFFS, "bpf", 0, "mode=0700"))
			return adn_err_set(err, errno, "mount bpffs at %s: %s", ADN_BPFFS,
					   strerror(errno));
	}
	return adn_mkdir_p(ADN_PIN_ROOT, 0755, err);
}

int adn_pin_root_lock(struct adn_err *err)
{
	/* detach removes the root once it is empty (adn_pin_root_release),
	 * under this lock: a command that opened the root just before that
	 * holds a lock on a removed directory, so after locking, check that
	 * the path still names the locked directory, and otherwise make it
	 * again and retry. */
	for (int tries = 0; tries < 8; tries++) {
		struct stat locked, now;
		int fd = open(ADN_PIN_ROOT, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

		if (fd < 0)
			return adn_err_set(err, errno, "%s: %s", ADN_PIN_ROOT, strerror(errno));
		if (flock(fd, LOCK_EX)) {
			int e = errno;
			close(fd);
			return adn_err_set(err, e, "lock %s: %s", ADN_PIN_ROOT, strerror(e));
		}
		if (!fstat(fd, &locked) && !stat(ADN_PIN_ROOT, &now) && locked.st_ino == now.st_ino &&
		    locked.st_dev == now.st_dev)
			return fd;
		close(fd);
		if (adn_mkdir_p(ADN_PIN_ROOT, 0755, err))
			return -1;
	}
	return adn_err_set(err, EAGAIN, "lock %s: removed and made again 8 times", ADN_PIN_ROOT);
}

void adn_pin_root_release(void)
{
	rmdir(ADN_PIN_ROOT); /* ENOTEMPTY while other chains are attached */
}

int adn_chain_path(char *buf, size_t len, const char *chain, const char *rel)
{
	int n = rel ? snprintf(buf, len, "%s/%s/%s", ADN_PIN_ROOT, chain, rel)
		    : snprintf(buf, len, "%s/%s", ADN_PIN_ROOT, chain);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

bool adn_chain_exists(const char *chain)
{
	char path[PATH_MAX];
	struct stat st;

	return !adn_chain_path(path, sizeof(path), chain, NULL) && !stat(path, &st) &&
	       S_ISDIR(st.st_mode);
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

static int skip_dots(const struct dirent *d)
{
	return strcmp(d->d_name, ".") && strcmp(d->d_name, "..");
}

/* Walks dir (whose path relative to the chain dir is rel_dir, "" at top). */
static int walk_dir(const char *dir, const char *rel_dir, adn_pin_fn fn, void *ctx,
		    struct adn_err *err)
{
	struct dirent **ents;
	int n = scandir(dir, &ents, skip_dots, by_name), rc = 0;

	if (n < 0)
		return adn_err_set(err, errno, "%s: %s", dir, strerror(errno));
	for (int i = 0; i < n; i++) {
		char path[PATH_MAX], rel[PATH_MAX];
		struct stat st;

		if (rc)
			goto next;
		snprintf(path, sizeof(path), "%s/%s", dir, ents[i]->d_name);
		snprintf(rel, sizeof(rel), "%s%s%s", rel_dir, *rel_dir ? "/" : "", ents[i]->d_name);
		if (lstat(path, &st))
			goto next; /* removed meanwhile */
		if (S_ISDIR(st.st_mode))
			rc = walk_dir(path, rel, fn, ctx, err);
		else
			rc = fn(rel, path, ctx);
next:
		free(ents[i]);
	}
	free(ents);
	return rc;
}

int adn_chain_walk(const char *chain, adn_pin_fn fn, void *ctx, struct adn_err *err)
{
	char dir[PATH_MAX];

	if (adn_chain_path(dir, sizeof(dir), chain, NULL))
		return adn_err_set(err, ENAMETOOLONG, "chain name too long");
	return walk_dir(dir, "", fn, ctx, err);
}

static int unlink_links(const char *rel, const char *path, void *ctx)
{
	(void)ctx;
	if (!strncmp(rel, "link_", 5))
		unlink(path);
	return 0;
}

static int unlink_pin(const char *rel, const char *path, void *ctx)
{
	struct adn_err *err = ctx;

	(void)rel;
	if (unlink(path) && errno != ENOENT)
		return adn_err_set(err, errno, "unlink %s: %s", path, strerror(errno));
	return 0;
}

/* Removes the now-empty directories below dir, then dir. */
static int rmdir_tree(const char *dir, struct adn_err *err)
{
	struct dirent **ents;
	int n = scandir(dir, &ents, skip_dots, by_name);

	if (n < 0)
		return errno == ENOENT ? 0 : adn_err_set(err, errno, "%s: %s", dir, strerror(errno));
	for (int i = 0; i < n; i++) {
		char path[PATH_MAX];
		snprintf(path, sizeof(path), "%s/%s", dir, ents[i]->d_name);
		if (ents[i]->d_type == DT_DIR)
			rmdir_tree(path, err);
		free(ents[i]);
	}
	free(ents);
	if (rmdir(dir) && errno != ENOENT)
		return adn_err_set(err, errno, "rmdir %s: %s", dir, strerror(errno));
	return 0;
}

int adn_chain_remove(const char *chain, struct adn_err *err)
{
	char dir[PATH_MAX];
	int rc;

	if (adn_chain_path(dir, sizeof(dir), chain, NULL))
		return adn_err_set(err, ENAMETOOLONG, "chain name too long");
	if (access(dir, F_OK))
		return 0;
	adn_chain_walk(chain, unlink_links, NULL, NULL);
	rc = adn_chain_walk(chain, unlink_pin, err, err);
	if (rc)
		return rc;
	return rmdir_tree(dir, err);
}

int adn_chain_list(char ***names, int *n, struct adn_err *err)
{
	struct dirent **ents;
	int count = scandir(ADN_PIN_ROOT, &ents, skip_dots, by_name), k = 0;

	*names = NULL;
	*n = 0;
	if (count < 0)
		return errno == ENOENT ? 0 : adn_err_set(err, errno, "%s: %s", ADN_PIN_ROOT,
							 strerror(errno));
	*names = calloc((size_t)count + 1, sizeof(char *));
	for (int i = 0; i < count; i++) {
		if (*names && ents[i]->d_type == DT_DIR)
			(*names)[k++] = strdup(ents[i]->d_name);
		free(ents[i]);
	}
	free(ents);
	if (!*names)
		return adn_err_set(err, ENOMEM, "out of memory");
	*n = k;
	return 0;
}

void adn_names_free(char **names, int n)
{
	for (int i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

const char *adn_cgroup2_root(void)
{
	static char root[PATH_MAX];
	struct mntent *m;
	FILE *f;

	if (root[0])
		return root;
	f = setmntent("/proc/mounts", "r");
	if (!f)
		return NULL;
	while ((m = getmntent(f))) {
		if (!strcmp(m->mnt_type, "cgroup2")) {
			snprintf(root, sizeof(root), "%s", m->mnt_dir);
			break;
		}
	}
	endmntent(f);
	return root[0] ? root : NULL;
}

static int find_ino(const char *dir, uint64_t id, char *buf, size_t len, int depth)
{
	struct dirent *d;
	DIR *dp;
	int found = -ENOENT;

	if (depth > 32)
		return -ENOENT;
	dp = opendir(dir);
	if (!dp)
		return -errno;
	while (found && (d = readdir(dp))) {
		char path[PATH_MAX];
		if (d->d_type != DT_DIR || !strcmp(d->d_name, ".") || !strcmp(d->d_name, ".."))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, d->d_name);
		if (d->d_ino == id) {
			snprintf(buf, len, "%s", path);
			found = 0;
		} else {
			found = find_ino(path, id, buf, len, depth + 1);
		}
	}
	closedir(dp);
	return found;
}

int adn_cgroup_path_by_id(uint64_t id, char *buf, size_t len)
{
	const char *root = adn_cgroup2_root();
	struct stat st;

	if (!root)
		return -ENOENT;
	/* On 64-bit kernels a cgroup's id is the inode number of its kernfs dir. */
	if (!stat(root, &st) && st.st_ino == id) {
		snprintf(buf, len, "%s", root);
		return 0;
	}
	return find_ino(root, id, buf, len, 0);
}
