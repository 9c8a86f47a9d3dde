/* SPDX-License-Identifier: MIT */
/* map_fill PIN N [MUL]: writes N rows into the pinned table big.rows of
 * selftests/progs/state_chain.bpf.c (key {u64 id}, value {u64 v; char
 * name[8]}): id = i, v = i * MUL (default 3), name = "r<i % 1000000>".
 * Raw bpf(2) with BPF_MAP_UPDATE_BATCH, so it needs no libbpf. */
#include <errno.h>
#include <linux/bpf.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

struct val {
	uint64_t v;
	char name[8];
};

static long sys_bpf(int cmd, union bpf_attr *a)
{
	return syscall(__NR_bpf, cmd, a, sizeof(*a));
}

int main(int argc, char **argv)
{
	union bpf_attr a;
	uint64_t n, mul = 3;
	int fd;

	if (argc < 3) {
		fprintf(stderr, "usage: map_fill PIN N [MUL]\n");
		return 1;
	}
	n = strtoull(argv[2], NULL, 0);
	if (argc > 3)
		mul = strtoull(argv[3], NULL, 0);
	memset(&a, 0, sizeof(a));
	a.pathname = (uint64_t)(uintptr_t)argv[1];
	fd = (int)sys_bpf(BPF_OBJ_GET, &a);
	if (fd < 0) {
		fprintf(stderr, "map_fill: %s: %s\n", argv[1], strerror(errno));
		return 2;
	}
	const uint64_t chunk = 65536;
	uint64_t *keys = malloc(chunk * 8);
	struct val *vals = malloc(chunk * sizeof(*vals));
	for (uint64_t done = 0; done < n;) {
		uint64_t c = n - done < chunk ? n - done : chunk;
		for (uint64_t i = 0; i < c; i++) {
			keys[i] = done + i;
			vals[i].v = (done + i) * mul;
			snprintf(vals[i].name, sizeof(vals[i].name), "r%06u",
				 (unsigned)((done + i) % 1000000));
		}
		memset(&a, 0, sizeof(a));
		a.batch.map_fd = (uint32_t)fd;
		a.batch.keys = (uint64_t)(uintptr_t)keys;
		a.batch.values = (uint64_t)(uintptr_t)vals;
		a.batch.count = (uint32_t)c;
		if (sys_bpf(BPF_MAP_UPDATE_BATCH, &a)) {
			fprintf(stderr, "map_fill: update batch at %llu: %s\n",
				(unsigned long long)done, strerror(errno));
			return 2;
		}
		done += c;
	}
	return 0;
}
