/* SPDX-License-Identifier: MIT */
/* adn-load attach --offload DEV: a chain's NIC object (adnc --target
 * offload, <chain>.offload.bpf.o) loaded into the device, XDP in hardware
 * mode (loader/attach_offload.c, docs/offload.md). */
#ifndef ADN_ATTACH_OFFLOAD_H
#define ADN_ATTACH_OFFLOAD_H

#include <stdbool.h>

/* True if argv (of `attach`) has --offload. */
bool attach_offload_wanted(int argc, char **argv);
int cmd_attach_offload(int argc, char **argv);
/* Detaches the chain's hardware XDP programs (records under
 * <chain>/offload/); quiet when there is none. Called by chain_teardown. */
void offload_detach_chain(const char *chain);

#endif
