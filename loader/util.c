/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <linux/membarrier.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "adn_err.h"
#include "loader.h"

int loader_read_file(const char *path, void **buf, size_t *len, struct adn_err *err)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t pos = 0;
	char *b;

	if (fd < 0)
		return adn_err_set(err, errno, "%s: %s", path, strerror(errno));
	if (fstat(fd, &st) || !(b = malloc((size_t)st.st_size + 1))) {
		int e = errno;
		close(fd);
		return adn_err_set(err, e, "%s: %s", path, strerror(e));
	}
	while (pos < (size_t)st.st_size) {
		ssize_t n = read(fd, b + pos, (size_t)st.st_size - pos);
		if (n <= 0) {
			close(fd);
			free(b);
			return adn_err_set(err, EIO, "%s: short read", path);
		}
		pos += (size_t)n;
	}
	close(fd);
	*buf = b;
	*len = pos;
	return 0;
}

void loader_grace_period(void)
{
	/* MEMBARRIER_CMD_GLOBAL waits for an RCU grace period; sk_msg and
	 * sock_ops programs run inside RCU read-side sections. */
	if (syscall(__NR_membarrier, MEMBARRIER_CMD_GLOBAL, 0, 0)) {
		struct timespec t = { 0, 50 * 1000 * 1000 };
		nanosleep(&t, NULL);
	}
}
