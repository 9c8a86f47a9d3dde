/* The IR of one chain: what each element reads, writes, can drop and which
 * tables it touches; the network fields and the wire layout of every method;
 * the BPF maps. Code generators and --explain work from this. */
#ifndef ADNC_IR_H
#define ADNC_IR_H

#include <stdint.h>

#include "arena.h"
#include "ast.h"
#include "diag.h"
#include "../headers/adn_wire.h" /* ADN_HDR_LEN */

/* A network field: a service field some element reads or rewrites, at a
 * fixed offset of every request body. A header field (header = true) is
 * read by an element that may run beyond the sender (its allowed set holds
 * a receiver hook); the others are sender-only: read only by elements
 * confined to the sender, they follow the header fields and are not part
 * of the header that receivers, NICs and switches parse. */
/* The runtime copies the frame header and the network fields (struct
 * adn_frame: struct adn_hdr + struct adn_net, header and sender-only fields
 * alike) onto the BPF stack and asserts sizeof(struct adn_frame) <= 256 in
 * bpf/adn_frame.h; keep this equal to that 256. ADN_HDR_LEN is
 * headers/adn_wire.h's. */
#define ADNC_FRAME_PREFIX_MAX 256
#define ADNC_NET_MAX (ADNC_FRAME_PREFIX_MAX - (int)ADN_HDR_LEN)

struct ir_net_field {
	const char *name; /* the service's field name */
	struct type type;
	int offset; /* in the body */
	int first_reader; /* index of the first element that reads it */
	bool header;
};

struct ir_wire_field {
	const char *name;
	struct type type;
	int offset; /* -1: BYTES, variable position */
	bool net;
	bool header; /* a network field in the header (net and not sender-only) */
};

struct ir_body_layout {
	struct ir_wire_field *fields; /* in wire order */
	size_t n;
	int fixed_size; /* bytes before the first BYTES field */
	size_t n_bytes;  /* BYTES fields */
};

struct ir_method {
	const struct method_decl *decl;
	struct ir_body_layout req, resp;
};

enum ir_map_kind { MAP_HASH, MAP_LRU_HASH, MAP_ARRAY, MAP_RINGBUF, MAP_PERCPU_HASH, MAP_PERCPU_ARRAY };

struct ir_map {
	const char *name; /* object name: <element>__<table> or adn_params */
	const char *pin;  /* under /sys/fs/bpf/adn/<chain>/ */
	enum ir_map_kind kind;
	int key_size, value_size; /* 0 for RINGBUF */
	uint64_t max_entries;     /* RINGBUF: bytes */
	int record_size;          /* RINGBUF: one record */
	uint64_t capacity;        /* as declared (records for a log) */
	const struct element_decl *el; /* NULL for adn_params */
	const struct table_decl *tab;
};

/* Where an element runs (compiler/place.c, docs/compiler.md "Placement"). */
enum ir_place {
	PLACE_NONE,
	PLACE_SK_MSG, /* the sender's socket (TCP): requests at the client, responses at the server */
	PLACE_SK_SKB, /* the receiver's socket: not available in this version */
	PLACE_TC,     /* cls_bpf: requests at the client's egress, responses at its ingress (UDP) */
	PLACE_XDP,    /* the server's ingress, request side only (UDP) */
	PLACE_APP,    /* the RPC library, in the application's process: user-defined elements,
		       and SQL elements IN APP (the client's, with the reference interpreter) */
	PLACE_COUNT,
};
#define IR_PLACE_BIT(p) (1u << (p))
/* The receiver's hooks: sk_skb (TCP), XDP (UDP). */
#define IR_PLACE_RECEIVER (IR_PLACE_BIT(PLACE_SK_SKB) | IR_PLACE_BIT(PLACE_XDP))

const char *ir_place_name(enum ir_place p); /* "sk_msg", "tc", ... */
enum ir_place ir_place_parse(const char *name); /* PLACE_NONE if unknown */

/* A location forced from the command line (adnc --place ELEMENT=HOOK,
 * --hook HOOK: element NULL). */
struct ir_forced_place {
	const char *element;
	enum ir_place place;
};

struct ir_element {
	int index;
	enum ir_place place;
	const char *place_reason; /* for --explain and the plan */
	bool place_forced;        /* by --place or --hook (the header records app ones) */
	/* IR_PLACE_BIT of every location the element may take: capabilities
	 * and the chain's constraints, before --place/--hook and the cost
	 * model (ir_allow); 0 if a constraint leaves nothing */
	unsigned allowed;
	/* a kernel element that may run beyond the sender: a receiver hook
	 * is allowed over the service's transport or the other one (the
	 * layout depends on neither transport nor placement) */
	bool beyond_sender;
	/* why not ("ROUTE TO REPLICA", "INSERT INTO reply", "AT SENDER",
	 * "its constraints"); NULL if beyond_sender or IMPLEMENTED IN APP */
	const char *sender_why;
	struct element_decl *decl;
	struct chain_use *use;
	const char **reads; /* service field names, first use order */
	size_t n_reads;
	const char **writes; /* service fields rewritten (UPDATE input) */
	size_t n_writes;
	bool has[2];      /* ON REQUEST / ON RESPONSE present */
	bool routes;      /* ROUTE TO REPLICA: the map <element>__replicas */
	bool answers;     /* INSERT INTO reply: the network answers some requests
			     itself (only at TC, and so only over UDP) */
	bool can_drop[2];
	const char **tables_read, **tables_written;
	size_t n_tables_read, n_tables_written, cap_tr, cap_tw;
};

/* One decision of the reordering: may `mover` (a dropper) go before `past`? */
struct ir_move {
	const char *mover, *past;
	bool allowed;
	const char *reason;
};

struct ir_chain {
	const struct program *prog;
	const char *src;  /* the program's text (the header embeds it when a SQL */
	size_t src_len;   /* element runs in the application) */
	const struct chain_decl *chain;
	const struct service_decl *svc;
	struct ir_element *elems;
	size_t n_elems;
	struct ir_net_field *net; /* header fields first, then sender-only */
	size_t n_net, cap_net, n_header;
	int net_size;    /* all network fields: the frame prefix the programs load */
	int header_size; /* the header fields: net[0..n_header) */
	struct ir_method *methods;
	size_t n_methods;
	struct ir_map *maps; /* adn_params first, then tables in chain order */
	size_t n_maps, cap_maps;
	size_t n_params; /* members of struct adn_params */
	const char *layout_string;
	uint32_t layout_hash;
	/* execution order: elems[] after ir_reorder; the written order is
	 * elems[i].use - chain->uses (the layout follows the written order) */
	int opt_level;
	bool udp;          /* the service's TRANSPORT */
	unsigned hooks;    /* IR_PLACE_BIT of every location some element uses */
	bool fold_params;     /* parameters compiled in as constants */
	struct ir_move *moves;
	size_t n_moves, cap_moves;
};

/* Builds the IR of a resolved chain; reports layout errors (a network field
 * missing from a method, ...). Computes every element's allowed locations
 * (ir_allow) first: the layout puts a field in the header when an element
 * that reads it may run beyond the sender. Returns NULL if there were
 * errors. */
struct ir_chain *ir_build(struct arena *a, struct diag *d, struct chain_decl *c);

/* Moves elements that can drop earlier where no observable effect changes
 * (reorder.c; level 0 keeps the written order). Call after ir_build. */
void ir_reorder(struct arena *a, struct ir_chain *ir, int level);

/* Sets every element's allowed set (capabilities of each hook over the
 * service's transport and the chain's constraints), beyond_sender and
 * sender_why, without diagnostics (ir_place reports a constraint that
 * leaves nothing). Sets ir->udp. Called by ir_build. */
void ir_allow(struct arena *a, struct ir_chain *ir);

/* Gives every element a location within its allowed set (ir_allow):
 * reports the constraints that leave nothing, then applies the forced
 * locations, then the cost model. Reports what cannot be met (with the
 * constraint's location). Call after ir_build, before ir_reorder. Returns
 * false on errors. */
bool ir_place(struct arena *a, struct diag *d, struct ir_chain *ir,
	      const struct ir_forced_place *forced, size_t n_forced);

/* The service field bound to an element field, NULL if unbound. */
const char *ir_field_source(const struct ir_element *e, const struct field_decl *f);
/* The network field carrying a service field, NULL if none. */
const struct ir_net_field *ir_net_field(const struct ir_chain *ir, const char *name);
/* C layout (natural alignment) of a struct of the given types. */
int ir_struct_size(const struct type *types, size_t n);
uint32_t ir_fnv1a32(const char *s);

#endif
