/* SPDX-License-Identifier: MIT */
/* adn-load: attach a compiled adn chain to cgroups, detach it, show it. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "loader.h"

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: adn-load COMMAND [OPTIONS]\n"
		"\n"
		"Commands:\n"
		"  attach --cgroup PATH [--cgroup PATH ...] [--port N] [--name CHAIN] OBJ\n"
		"                       load a chain built by adnc and attach it\n"
		"  detach CHAIN         detach a chain and remove its pins\n"
		"  status [CHAIN] [--json]\n"
		"                       show programs, cgroups, maps and counters\n"
		"  snapshot CHAIN -o FILE\n"
		"                       save the chain's tables and parameters to FILE\n"
		"  restore CHAIN FILE   make the chain's tables hold FILE's rows\n"
		"  merge -o OUT SNAP1 SNAP2 ...\n"
		"                       combine snapshots by each table's merge policy\n"
		"  migrate CHAIN --to CHAIN2\n"
		"                       move CHAIN's state into CHAIN2 without losing updates\n"
		"  update CHAIN NEW_OBJ replace the chain's code in place, keeping its state\n"
		"\n"
		"Pins live under /sys/fs/bpf/adn/<chain>/. Run `adn-load COMMAND --help`\n"
		"for the options of a command.\n"
		"\n"
		"Exit status: 0 ok, 1 usage error, 2 runtime failure, 3 bad snapshot file\n"
		"(corrupt, truncated, wrong magic/version/layout hash; nothing was written),\n"
		"4 incompatible schema (a column changed type; nothing was written).\n");
}

void loader_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "adn-load: %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

void loader_usage_hint(const char *cmd)
{
	fprintf(stderr, "Try 'adn-load %s%s--help'.\n", cmd ? cmd : "", cmd ? " " : "");
}

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*fn)(int, char **);
	} cmds[] = {
		{ "attach", cmd_attach },
		{ "detach", cmd_detach },
		{ "status", cmd_status },
		{ "show", cmd_status },
		{ "snapshot", cmd_snapshot },
		{ "restore", cmd_restore },
		{ "merge", cmd_merge },
		{ "update", cmd_update },
		{ "migrate", cmd_migrate },
	};

	if (argc < 2) {
		fputs("adn-load: missing COMMAND\n", stderr);
		loader_usage_hint(NULL);
		return EXIT_USAGE;
	}
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return EXIT_OK;
	}
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		if (!strcmp(argv[1], cmds[i].name)) {
			/* getopt names argv[0] in its messages: "adn-load attach: ..." */
			static char name[64];
			snprintf(name, sizeof(name), "adn-load %s", argv[1]);
			argv[1] = name;
			return cmds[i].fn(argc - 1, argv + 1);
		}
	}
	fprintf(stderr, "adn-load: unknown command '%s'\n", argv[1]);
	loader_usage_hint(NULL);
	return EXIT_USAGE;
}
