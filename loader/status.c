/* SPDX-License-Identifier: MIT */
/* adn-load status: what is attached, from the pins (maps/chain_status.c). */
#include <getopt.h>
#include <stdlib.h>

#include "adn_chaindir.h"
#include "adn_err.h"
#include "adn_status.h"
#include "loader.h"
#include "netdev.h"

static void status_usage(FILE *out)
{
	fprintf(out,
		"Usage: adn-load status [OPTIONS] [CHAIN]\n"
		"\n"
		"Show each attached chain (or CHAIN): its programs (ids, translated and\n"
		"JIT sizes), the cgroups its links attach to, its maps (type, entries,\n"
		"capacity) and its adn_stats counters summed over CPUs.\n"
		"\n"
		"Options:\n"
		"  -j, --json   one JSON object for CHAIN, or an array of them\n"
		"  -h, --help   this help\n");
}

int cmd_status(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct adn_err err;
	bool json = false;
	int c;

	while ((c = getopt_long(argc, argv, "jh", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			json = true;
			break;
		case 'h':
			status_usage(stdout);
			return EXIT_OK;
		default: /* getopt said which option */
			loader_usage_hint("status");
			return EXIT_USAGE;
		}
	}
	if (argc - optind > 1) {
		loader_error("status", "more than one CHAIN given");
		loader_usage_hint("status");
		return EXIT_USAGE;
	}
	const char *chain = optind < argc ? argv[optind] : NULL;
	if (chain && !adn_name_valid(chain)) {
		loader_error("status", "'%s' is not a valid chain name", chain);
		return EXIT_USAGE;
	}
	if (adn_status_print(stdout, chain, ADN_STATUS_ALL, json, &err)) {
		loader_error("status", "%s", err.msg);
		return EXIT_RUNTIME;
	}
	if (!json)
		net_status_print(stdout, chain); /* TC/XDP devices, attach_net.c */
	return EXIT_OK;
}
