// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * The paper's chain (logging, ACL, fault injection) for examples/kv/kv.adn,
 * written by hand, as a per-datagram XDP program: the server's ingress, UDP.
 * Same elements, maps and names as kv_chain.bpf.c (the sk_msg version);
 * the runtime after the chain is bpf/adn_xdp.h. The baseline that adnc's
 * output for the same placement is compared to.
 */
#include "adn_bpf.h"

#include "kv_chain_elements.h"

ADN_META("version=0\n"
	 "chain=kv\n"
	 "service=kv\n"
	 "hook=xdp\n"
	 "transport=udp\n"
	 "port=7070\n"
	 "layout=0xcd631b53\n"
	 "element=logging\n"
	 "element=acl\n"
	 "element=fault\n"
	 "row=acl.ac_tab username=alice permission=W\n"
	 "row=acl.ac_tab username=bob permission=R\n"
	 "param=fault.probability=0.05\n"
	 "log=logging.log\n");

#include "adn_xdp.h"

char LICENSE[] SEC("license") = "GPL";
