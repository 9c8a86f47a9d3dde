/* SPDX-License-Identifier: MIT */
/*
 * adn RPC library: length-prefixed frames (headers/adn_wire.h) over TCP,
 * or one frame per UDP datagram.
 *
 * One thread, non-blocking sockets, epoll. A client keeps many calls
 * outstanding on one or several connections; every frame queued since the
 * last flush leaves in ONE send() per connection per poll, because the
 * sk_msg program of the chain runs once per sendmsg. A server answers
 * each request through a handler and batches its responses the same way.
 *
 * Neither object is thread-safe: use each from one thread.
 * See docs/rpc-library.md for a guide.
 */
#ifndef ADN_RPC_H
#define ADN_RPC_H

#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdint.h>

#include "adn_app.h"
#include "adn_wire.h"

/* ---- frames ---------------------------------------------------------- */

/* Write / read the 16-byte little-endian header at buf. */
void adn_hdr_encode(const struct adn_hdr *h, void *buf);
void adn_hdr_decode(struct adn_hdr *h, const void *buf);

/* NULL if the header is acceptable (len in ADN_FRAME_MIN..ADN_FRAME_MAX and
 * kind == want_kind), else a short reason, e.g. "length 3 below 16". */
const char *adn_hdr_invalid(const struct adn_hdr *h, unsigned want_kind);

/* "OK", "PERMISSION_DENIED", ... (gRPC names); "UNKNOWN_STATUS" otherwise. */
const char *adn_status_name(int status);

/* Set by the library (never on the wire) in the flags given to a reply
 * callback when no reply arrived: the connection broke (ADN_UNAVAILABLE)
 * or the call's deadline passed (ADN_DEADLINE_EXCEEDED). */
#define ADN_RPC_F_LOCAL 0x8000u

/* ---- UDP ------------------------------------------------------------- */

/* Over UDP each RPC is one datagram holding exactly one frame, so that TC
 * and XDP programs see RPC boundaries. A frame is at most 1472 bytes,
 * header included: 1500 (Ethernet MTU) - 20 (IPv4) - 8 (UDP), so a
 * datagram never fragments on IPv4 (IPv6 has 20 bytes less room but a
 * 1280-byte minimum MTU and no fragmentation by routers: keep IPv6 paths
 * at 1500). Calls with a larger body are refused with -EMSGSIZE. */
#define ADN_UDP_FRAME_MAX 1472u
#define ADN_UDP_BODY_MAX (ADN_UDP_FRAME_MAX - ADN_HDR_LEN)

/* ---- client ---------------------------------------------------------- */

struct adn_client;

/* Called once per call, from adn_client_poll(). body/len are the response
 * body (valid only during the call) when status == ADN_OK, else NULL/0:
 * the body of a non-OK reply is not meaningful (for a network-made reply,
 * ADN_F_NET_REPLY in flags, it is still the request's body). The callback
 * may issue new calls; it must not close the client. */
typedef void (*adn_reply_fn)(void *user, uint32_t rpc_id, int status,
			     uint16_t flags, const void *body, size_t len);

/* Connects nconns (1..1024) TCP connections to host:port (name or address,
 * IPv4 or IPv6). layout goes into every request header (low 16 bits of the
 * service's layout hash). On failure returns NULL with a one-line reason
 * in err. */
struct adn_client *adn_client_open(const char *host, uint16_t port,
				   unsigned nconns, uint16_t layout,
				   char *err, size_t errlen);

/* A client over UDP: one connected datagram socket to host:port. The same
 * calls work on it as on a TCP client (adn_client_call, _poll, ...), with
 * these differences:
 *  - a body over ADN_UDP_BODY_MAX is refused with -EMSGSIZE;
 *  - a request with no reply is sent again with the same rpc_id, after
 *    200 ms, then 400, 800 ms... (adn_client_set_retries); when every try
 *    has gone unanswered the call completes with ADN_UNAVAILABLE
 *    (ADN_RPC_F_LOCAL), or with ADN_DEADLINE_EXCEEDED if its deadline
 *    (adn_client_set_timeout) passes first;
 *  - every request queued since the last poll leaves in one sendmmsg(),
 *    replies are read with recvmmsg();
 *  - a malformed datagram from the server (its len field not the datagram
 *    length, not a response) is counted in malformed and ignored: nothing
 *    else depends on it. A reply to a call already completed (a duplicate
 *    after a retry) is counted in unknown_replies.
 * rpc_ids start at a random value, so that a restarted client reusing a
 * port is not answered from the server's reply cache. */
struct adn_client *adn_client_open_udp(const char *host, uint16_t port, uint16_t layout,
				       char *err, size_t errlen);

/* ---- replicas: per-RPC load balancing (ROUTE TO REPLICA) ------------- */

/* A client of a service whose chain routes each request to one of n
 * replicas (hosts[i], ports[i]; 1..1024). The kernel picks the replica;
 * see docs/rpc-library.md "Replicas". TCP: one connection per replica,
 * all from the same local address and port, every one connected here
 * (a replica that cannot be reached fails the open, one line in err).
 * Calls leave on any live connection and the chain's sk_msg program
 * redirects each to its replica's connection; replies are taken from all.
 * A replica connection that breaks fails no call at once (the library
 * cannot tell which calls the kernel sent there): calls still outstanding
 * then that get no reply within the grace period (1 s,
 * adn_client_set_replica_grace) complete with ADN_UNAVAILABLE
 * (ADN_RPC_F_LOCAL). A request routed to a replica this client has no
 * live connection to is answered by the network with ADN_UNAVAILABLE. */
struct adn_client *adn_client_open_replicas(const char *const hosts[], const uint16_t ports[],
					    unsigned n, uint16_t layout, char *err, size_t errlen);

/* The same over UDP: one socket, not connected, that sends to hosts[0]
 * (TC at the client's egress rewrites the destination to the chosen
 * replica) and takes replies from any address. Retries as for
 * adn_client_open_udp; a retry is routed again. */
struct adn_client *adn_client_open_replicas_udp(const char *const hosts[], const uint16_t ports[],
						unsigned n, uint16_t layout, char *err, size_t errlen);

/* Replica client (TCP): how long calls outstanding when a replica's
 * connection broke may still be answered (ms, default 1000). */
void adn_client_set_replica_grace(struct adn_client *c, unsigned grace_ms);

/* UDP: a call is sent at most tries times (1..16; default 4), the first
 * retry interval_ms (>= 1; default 200) after the first send, each later
 * one after twice the previous interval. No effect on a TCP client. */
void adn_client_set_retries(struct adn_client *c, unsigned tries, unsigned interval_ms);

/* Queues one request (body of len bytes, copied) on the next live
 * connection, round-robin. Returns its rpc_id (>= 1), or -EMSGSIZE (body
 * over ADN_FRAME_MAX - 16; over ADN_UDP_BODY_MAX on UDP), -ENOTCONN (every
 * connection is broken),
 * -ENOBUFS (too much queued), -EINVAL, -ENOMEM. The request is sent by
 * the next adn_client_poll(). */
long adn_client_call(struct adn_client *c, uint16_t method, const void *body,
		     size_t len, adn_reply_fn fn, void *user);

/* Sends what is queued, waits up to timeout_ms (-1: until something
 * happens, 0: not at all) for replies, runs their callbacks and expires
 * deadlines. Returns the number of calls completed (0 at once if none is
 * outstanding, 0 on EINTR), or -errno if epoll itself failed. A broken
 * connection is not an error here: its calls complete with
 * ADN_UNAVAILABLE and adn_client_error() says why. */
int adn_client_poll(struct adn_client *c, int timeout_ms);

/* Calls issued and not yet completed. */
size_t adn_client_outstanding(const struct adn_client *c);

/* Deadline for calls issued from now on; 0 (the default) means none. */
void adn_client_set_timeout(struct adn_client *c, unsigned timeout_ms);

/* Connections still usable. */
unsigned adn_client_live_conns(const struct adn_client *c);

struct adn_client_stats {
	uint64_t calls;           /* accepted by adn_client_call */
	uint64_t completed;       /* callbacks run */
	uint64_t sends;           /* send() / sendmmsg() system calls made */
	uint64_t unknown_replies; /* responses with no matching outstanding call */
	uint64_t malformed;       /* connections closed (TCP) or datagrams ignored (UDP) */
	uint64_t conns_broken;    /* connections lost, whatever the cause */
	uint64_t timeouts;        /* calls completed with DEADLINE_EXCEEDED */
	uint64_t retransmits;     /* UDP: requests sent again for want of a reply */
	uint64_t redirect_retries; /* replicas: sends retried because the chain had
				      redirected them to another replica's broken
				      connection (docs/rpc-library.md, "Replicas") */
	/* with a chain (adn_client_use_chain): request body bytes as the
	 * application gave them and as they went on the wire (after the
	 * chain's user-defined elements); replies an element could not undo */
	uint64_t app_bytes, wire_bytes;
	uint64_t udf_errors;
};
void adn_client_get_stats(const struct adn_client *c,
			  struct adn_client_stats *st);

/* Last connection problem, "" if none. */
const char *adn_client_error(const struct adn_client *c);

/* Closes the connections. Calls still outstanding are dropped without
 * their callbacks. */
void adn_client_close(struct adn_client *c);

/* ---- server ---------------------------------------------------------- */

struct adn_server;

/* Answers one request. Write at most resp_cap bytes of response body to
 * resp_body, set *resp_len, return a status (ADN_OK, ...). The library
 * writes the header (same rpc_id, method and layout as the request,
 * kind = ADN_KIND_RESPONSE, the status). A non-OK response carries no
 * body; a status outside 0..ADN_STATUS_MAX or *resp_len > resp_cap turns
 * into ADN_INTERNAL. req_body is valid only during the call. */
typedef int (*adn_handler_fn)(void *user, uint16_t method,
			      const void *req_body, size_t req_len,
			      void *resp_body, size_t resp_cap,
			      size_t *resp_len);

/* Listens on addr (NULL or "" for every IPv4 address; a name, IPv4 or IPv6
 * address) and port (0: an ephemeral port, see adn_server_port()). NULL
 * with a one-line reason in err on failure. */
struct adn_server *adn_server_listen(const char *addr, uint16_t port,
				     adn_handler_fn fn, void *user,
				     char *err, size_t errlen);

/* Also serves UDP on the same address and port (one request per
 * datagram, see ADN_UDP_FRAME_MAX): received with recvmmsg(), answered
 * through the same handler with resp_cap = ADN_UDP_BODY_MAX, the replies
 * of one round sent with one sendmmsg(). Malformed datagrams are counted
 * and ignored. A retried request whose reply is still in the server's
 * reply cache (keyed by peer address, rpc_id and the request's bytes;
 * 1024 entries by default) is answered from it without running the
 * handler again; one whose reply has been evicted runs again, so UDP
 * calls are at-most-once only within the cache's reach: see
 * docs/rpc-library.md. 0, or -1 with a one-line reason in err. */
int adn_server_add_udp(struct adn_server *s, char *err, size_t errlen);

/* Entries of the UDP reply cache (a power of two, 1..65536), before
 * adn_server_add_udp(). 0 or -EINVAL. */
int adn_server_set_udp_cache(struct adn_server *s, unsigned entries);

/* The port actually bound. */
uint16_t adn_server_port(const struct adn_server *s);

/* One round: accept, read requests, run the handler, send responses (one
 * send() per connection). Waits up to timeout_ms. Returns the number of
 * requests answered, -EINTR if a signal came, or another -errno. */
int adn_server_poll(struct adn_server *s, int timeout_ms);

/* Polls until *stop becomes non-zero (checked at least every 100 ms and
 * after each signal). Returns 0, or -errno if epoll failed. */
int adn_server_run(struct adn_server *s, volatile sig_atomic_t *stop);

struct adn_server_stats {
	uint64_t accepted;  /* connections accepted */
	uint64_t closed;    /* connections closed, whatever the cause */
	uint64_t requests;  /* requests answered */
	uint64_t malformed; /* connections closed (TCP) or datagrams ignored (UDP) for a malformed frame */
	uint64_t sends;     /* send() / sendmmsg() system calls made */
	uint64_t active;    /* connections open now */
	uint64_t datagrams; /* UDP requests received (well-formed) */
	uint64_t replayed;  /* UDP retries answered from the reply cache */
	/* request body bytes as they came off the wire and as the handler got
	 * them (after undoing the chain's user-defined elements, if any);
	 * requests an element could not undo (answered DATA_LOSS) */
	uint64_t wire_bytes, app_bytes;
	uint64_t udf_errors;
};
void adn_server_get_stats(const struct adn_server *s,
			  struct adn_server_stats *st);

/* Last problem seen (accept failure, malformed frame...), "" if none. */
const char *adn_server_error(const struct adn_server *s);

void adn_server_close(struct adn_server *s);

/* ---- user-defined elements (IMPLEMENTED IN APP) ---------------------- */

/* The implementation of one user-defined element (compression,
 * encryption...): encode runs on the sender's side, decode undoes it on
 * the receiver's. Each transforms n bytes at in into at most cap bytes at
 * out and returns the bytes written, or -1 (out too small, or in is not
 * something decode can undo). Requests: only the bytes after the network
 * fields are given (the kernel reads those at fixed offsets); responses:
 * the whole body. ctx is passed back as is. */
struct adn_udf_msg;
struct adn_udf_ops {
	long (*encode)(void *ctx, const void *in, size_t n, void *out, size_t cap);
	long (*decode)(void *ctx, const void *in, size_t n, void *out, size_t cap);
	void *ctx;
	/* Optional, for elements that must see the message around the bytes
	 * (authentication): when encode_msg and decode_msg are set they are
	 * called instead of encode and decode, with m describing the message
	 * (struct adn_udf_msg). new_state, if set, runs at use_chain and
	 * gives the element's state in that client or server (NULL: out of
	 * memory), passed back as m->state and released with free_state at
	 * close. */
	long (*encode_msg)(void *ctx, struct adn_udf_msg *m, const void *in, size_t n, void *out,
			   size_t cap);
	long (*decode_msg)(void *ctx, struct adn_udf_msg *m, const void *in, size_t n, void *out,
			   size_t cap);
	void *(*new_state)(void *ctx);
	void (*free_state)(void *state);
	unsigned flags; /* ADN_UDF_F_* */
};

/* The element runs on both sides of every method it applies to, even the
 * side that carries none of its fields (an authenticating element: a get
 * request is then authenticated too, and its response can be bound to it). */
#define ADN_UDF_F_BOTH_SIDES 0x1u

/* What encode_msg / decode_msg see of the message. */
struct adn_udf_msg {
	unsigned dir;          /* ADN_APP_REQUEST or ADN_APP_RESPONSE */
	uint16_t method;
	uint32_t rpc_id;       /* the call's: a request's and its response's */
	const char *chain;     /* the chain's name and layout hash */
	uint32_t layout;
	const uint8_t *clear;  /* requests: the network fields (req_keep bytes), which */
	size_t clear_len;      /* stay in clear; responses: NULL, 0 */
	void *state;           /* what new_state returned for this client / server */
	int status;            /* on failure: the status to answer (default DATA_LOSS) */
	char why[96];          /* on failure: why, one phrase (left "": "could not decode") */
};

/* A ready implementation: zlib deflate (level 1; ctx may point at an int
 * level 0..9). Links against -lz. */
extern const struct adn_udf_ops adn_udf_zlib;

/* A ready implementation: authenticated encryption with replay protection
 * (rpc/udf_aead.c, links against -lcrypto, OpenSSL 1.1.1 or 3;
 * docs/rpc-library.md "The encrypt element: what it protects"). It runs on
 * both sides of the methods it applies to (ADN_UDF_F_BOTH_SIDES).
 *   request:  sender (8) || seq (8) || time_ms (8) || nonce (12) || ciphertext || tag (16)
 *   response: seq (8, the request's) || nonce (12) || ciphertext || tag (16)
 * The tag covers, as associated data, the chain, the method, the direction,
 * the call's rpc_id (a response moved to another call of the same client
 * is refused), the request's network fields (but for the ranges adn_aead_key_mutable
 * names) and sender, seq and time; a response's, the client's sender id
 * and the seq of the request it answers. The server refuses a request
 * replayed, reordered beyond ADN_AEAD_WINDOW, older than
 * ADN_AEAD_MAX_AGE_MS (or from that far in the future), or stamped before
 * the server opened the chain; the client refuses a response to no request
 * of its own, or a second response to the same request. Refusals are
 * UNAUTHENTICATED (a tag that does not verify: DATA_LOSS; the server and
 * client answer every refusal DATA_LOSS until rpc/server.c and
 * rpc/client.c pass the element's status on). ctx points at a
 * struct adn_aead_key, which must outlive the object it is registered with. */
#define ADN_AEAD_KEY_LEN 32
#define ADN_AEAD_NONCE_LEN 12
#define ADN_AEAD_TAG_LEN 16
#define ADN_AEAD_OVERHEAD (ADN_AEAD_NONCE_LEN + ADN_AEAD_TAG_LEN)
#define ADN_AEAD_REQ_OVERHEAD (24 + ADN_AEAD_OVERHEAD)  /* 52 */
#define ADN_AEAD_RESP_OVERHEAD (8 + ADN_AEAD_OVERHEAD)  /* 36 */
#define ADN_AEAD_WINDOW 65536u      /* sequence numbers a request may come late by */
#define ADN_AEAD_MAX_AGE_MS 30000u  /* clock difference + delay a request may have */
#define ADN_AEAD_MAX_SENDERS 4096u  /* clients a server tracks within MAX_AGE */
#define ADN_AEAD_MUTABLE_MAX 8
enum adn_aead_cipher { ADN_AEAD_AES_256_GCM = 0, ADN_AEAD_CHACHA20_POLY1305 = 1 };
struct adn_aead_key {
	uint8_t key[ADN_AEAD_KEY_LEN];
	enum adn_aead_cipher cipher;
	/* network-field bytes a kernel element of the chain may rewrite
	 * (adn_aead_key_mutable): left out of the associated data */
	struct {
		uint32_t off, len;
	} mutable_ranges[ADN_AEAD_MUTABLE_MAX];
	unsigned n_mutable;
};
/* Fills k from a key file: 32 raw bytes, or 64 hex digits (a trailing
 * newline allowed). The file must not be readable by group or others.
 * Clears k's mutable ranges. 0, or -1 with one line in err. */
int adn_aead_key_load(struct adn_aead_key *k, enum adn_aead_cipher cipher, const char *path,
		      char *err, size_t errlen);
/* Leaves bytes off .. off+len-1 of the request body (inside the network
 * fields) out of the associated data: a chain whose kernel element rewrites
 * a network field between the ends (mutation) names that field here, at
 * both ends. 0, or -EINVAL / -ENOSPC (more than ADN_AEAD_MUTABLE_MAX). */
int adn_aead_key_mutable(struct adn_aead_key *k, uint32_t off, uint32_t len);
/* The ops of AEAD with key k (ctx = k), to register under the element's
 * name: adn_client_udf_register(c, "encrypt", &ops). */
struct adn_udf_ops adn_udf_aead(const struct adn_aead_key *k);

/* Registers the implementation of the element called name (ops is copied;
 * at most 16 per object). 0, -EINVAL (no name, no callback), -EEXIST
 * (already registered), -ENOSPC, -ENOMEM. Register before use_chain. */
int adn_client_udf_register(struct adn_client *c, const char *name,
			    const struct adn_udf_ops *ops);
int adn_server_udf_register(struct adn_server *s, const char *name,
			    const struct adn_udf_ops *ops);

/* Opens the chain's in-app side (the generated <chain>_app_chain()): from
 * now on the library runs its user-defined elements, in chain order, on
 * every request this client sends and undoes them, in reverse order, on
 * every response (the server: undoes them on requests before the handler,
 * applies them to its responses), for the methods whose fields the chain
 * binds them to. Call once, right after opening and before any call.
 * Refused (-1, one line in err) when an element has no registered
 * implementation, or when the chain's layout is not the one the client
 * was opened with. Over UDP the limit applies to the transformed body,
 * so a compressible body larger than ADN_UDP_BODY_MAX may fit. */
int adn_client_use_chain(struct adn_client *c, const struct adn_app_chain *chain,
			 char *err, size_t errlen);
/* SQL elements placed in the application (IN APP; chain->n_sql > 0): the
 * client's adn_client_use_chain also compiles the chain's source embedded
 * in the header (adnc's front end, in-process) and runs their request
 * sides on every call, before the user-defined elements and before the
 * frame is written (a drop completes the call at the next poll with the
 * element's status and ADN_RPC_F_LOCAL; nothing is sent), and their
 * response sides on every response (they may change the status the
 * callback gets). Refused (-1, one line in err) when the source does not
 * give the layout of the header or of the client. Their tables live in
 * this process (adnctl does not see them). docs/rpc-library.md "SQL
 * elements in the application".
 *
 * Where their LOG tables' records go: JSON lines, one per record, in the
 * format of `adnctl log` ({"table":"logging.log","time":...}), written
 * and flushed to out. NULL (the default): records are dropped. Any time. */
void adn_client_app_log(struct adn_client *c, FILE *out);
int adn_server_use_chain(struct adn_server *s, const struct adn_app_chain *chain,
			 char *err, size_t errlen);

#endif /* ADN_RPC_H */
