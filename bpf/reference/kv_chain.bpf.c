// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * The paper's chain (logging, ACL, fault injection) for examples/kv/kv.adn,
 * written by hand. Two jobs:
 *  - the "hand-optimized" baseline that benchmarks compare adnc's output to;
 *  - the model of the code adnc generates: same runtime headers, same maps,
 *    same names, so the loader and adnctl treat both alike.
 */
#include "adn_bpf.h"

#include "kv_chain_elements.h"

ADN_META("version=0\n"
	 "chain=kv\n"
	 "service=kv\n"
	 "port=7070\n"
	 "layout=0xcd631b53\n"
	 "element=logging\n"
	 "element=acl\n"
	 "element=fault\n"
	 "row=acl.ac_tab username=alice permission=W\n"
	 "row=acl.ac_tab username=bob permission=R\n"
	 "param=fault.probability=0.05\n"
	 "log=logging.log\n");

#include "adn_sk_msg.h"

char LICENSE[] SEC("license") = "GPL";
