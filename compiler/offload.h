/* adnc --target offload: the elements the server's NIC runs (XDP offloaded
 * to a Netronome-style SmartNIC), checked against the NIC's rules on the IR,
 * placed, and compiled into a second object, <chain>.offload.bpf.o
 * (docs/offload.md). */
#ifndef ADNC_OFFLOAD_H
#define ADNC_OFFLOAD_H

#include <stdio.h>

#include "arena.h"
#include "diag.h"
#include "ir.h"

struct adnc_unit;

/* Why element e cannot run on the NIC (the first rule it breaks, in
 * statement order), with *where the DSL location of the offending table,
 * statement or expression; NULL if it fits. The text starts with
 * "offload: ". Checks the request side and the element's tables (the NIC
 * runs requests only; an ON RESPONSE side is a placement matter). */
const char *offload_why_not(struct arena *a, const struct ir_chain *ir, const struct ir_element *e,
			    struct loc *where);

/* --target offload placement, after ir_place and before ir_reorder: the
 * longest tail of the chain's kernel elements that fits the NIC (and that
 * no constraint keeps at the sender) moves to XDP, which runs on the NIC;
 * an element that must run at XDP (AT RECEIVER, --place/--hook xdp, or
 * chain order) but breaks a rule is an error at the construct that breaks
 * it. Reasons go into place_reason (--explain). Returns false on errors. */
bool offload_place(struct arena *a, struct diag *d, struct ir_chain *ir,
		   const struct ir_forced_place *forced, size_t n_forced);

/* offload_place on a compiled unit; on errors u->ir becomes NULL. */
bool offload_apply(struct adnc_unit *u, const struct ir_forced_place *forced, size_t n_forced);

/* True if some element is placed at XDP (the offload object has work). */
bool offload_has_elements(const struct ir_chain *ir);

/* The C of <chain>.offload.bpf.c: the elements at XDP only, over
 * adn_offload.h / adn_offload_xdp.h. Caller frees; NULL if nothing is
 * placed at XDP. */
char *offload_gen_bpf(const struct ir_chain *ir);

/* Checks a built object against the NIC's rules that show in its code:
 * program types (XDP only), map kinds (HASH, ARRAY; no global data),
 * helpers, no 64-bit or by-register multiply/divide, no tail calls.
 * 0 if it fits; else -1 and one line per finding on err. */
int offload_check_object(const char *obj_path, FILE *err);

/* adnc -o DIR --target offload: writes DIR/<chain>.offload.bpf.c, builds
 * the .o, checks it (offload_check_object) and, with --verify, loads it
 * into the host verifier. Nothing when no element is at XDP. Returns an
 * adnc exit code. */
struct adnc_options;
int offload_write_outputs(const struct adnc_unit *u, const struct adnc_options *o, FILE *err);

#endif
