/* SPDX-License-Identifier: MIT */
/* The client's state, shared by its TCP part (client.c) and its UDP part
 * (client_udp.c); not part of the public API. */
#ifndef ADN_CLIENT_INTERNAL_H
#define ADN_CLIENT_INTERNAL_H

#include <stdbool.h>
#include <stdio.h>

#include "app_sql.h"
#include "rpc_internal.h"
#include "udf_internal.h"

#define FIRST_SLOTS 256u /* slot table size at open */

struct call_slot {
	uint32_t rpc_id;
	uint32_t conn;
	bool used;
	adn_reply_fn fn;
	void *user;
	uint64_t deadline_ns; /* 0: none */
	/* UDP: the request, kept for retries */
	uint8_t *frame;       /* a chunk of ADN_UDP_FRAME_MAX bytes, or NULL */
	uint16_t frame_len;
	uint8_t sent;         /* times sent so far */
	uint64_t resend_ns;   /* when to send again (or give up); 0: not sent yet */
	/* replica client: a replica connection broke while this call was
	 * outstanding; no reply by then means it went to that replica */
	uint64_t orphan_ns;
	/* a SQL element in the app dropped the request: the next poll
	 * completes the call with this status (app_sql.c); 0: none */
	int local_status;
};

struct client_conn {
	int fd;
	bool alive;
	bool want_out; /* EPOLLOUT armed: a send was partial */
	uint64_t redirect_failed_ns; /* replicas: first send failure of a series
					that the connection itself did not cause */
	struct adn_buf in, out;
	/* Network replies: frames the client's own sk_msg program answered,
	 * read from the socket's psock queue, apart from the TCP stream in
	 * `in` (see adn_buf_read). */
	struct adn_buf net;
};

struct udp_client; /* client_udp.c */

struct adn_client {
	int epfd;
	uint16_t layout;
	unsigned nconns, live, next_conn;
	struct client_conn *conns;
	struct call_slot *slots;
	uint32_t mask;
	uint32_t next_id;
	size_t outstanding;
	uint64_t timeout_ns;
	uint64_t next_expiry_ns; /* no deadline passes before this */
	int completed_now;       /* completions in the current poll */
	struct udp_client *udp;  /* NULL: TCP */
	bool replicas;           /* one connection per replica: the kernel picks (client_replica.c) */
	uint64_t grace_ns;       /* replicas: how long an orphaned call may still be answered */
	struct adn_udf_set *udf;  /* user-defined elements (udf.c); NULL: none */
	struct adn_app_sql *app;  /* SQL elements IN APP (app_sql.c); NULL: none */
	FILE *app_log;            /* adn_client_app_log */
	struct adn_client_stats st;
	char err[256];
};

/* A completion taken out of the slot table before its callback runs, so
 * the callback may issue calls (and grow the table) freely. */
struct done_call {
	adn_reply_fn fn;
	void *user;
	uint32_t rpc_id;
};

/* A client with nconns connection slots (fd -1) and no connection yet,
 * or NULL with the reason in err. */
struct adn_client *adn_cl_new(unsigned nconns, uint16_t layout, char *err, size_t errlen);

/* Makes connected socket fd connection i of c (epoll). 0, or -1 with err. */
int adn_cl_add_conn(struct adn_client *c, unsigned i, int fd, char *err, size_t errlen);

/* A free slot for a fresh rpc_id (in *id), or NULL if the table is full
 * or cannot grow. */
struct call_slot *adn_cl_take_slot(struct adn_client *c, uint32_t *id);

/* Frees the slot and counts the completion; the caller runs d.fn. */
struct done_call adn_cl_release(struct adn_client *c, struct call_slot *s);

/* Runs the callback of a completed call for the reply h (body/len: its
 * body), undoing the chain's user-defined elements first. */
void adn_cl_deliver(struct adn_client *c, struct done_call d, const struct adn_hdr *h,
		    const uint8_t *body, size_t len);

/* Completes with status (flags ADN_RPC_F_LOCAL) every call match() accepts. */
void adn_cl_fail_calls(struct adn_client *c, int status,
		       bool (*match)(const struct call_slot *, uint64_t), uint64_t arg);

/* Completes the calls whose deadline has passed. */
void adn_cl_expire_calls(struct adn_client *c);

/* ms until t (0 if past), no more than timeout_ms unless that is -1. */
int adn_cl_wait_ms(uint64_t t, int timeout_ms);

/* UDP side, client_udp.c. adn_udp_open: connected, or (replicas) an
 * unconnected socket that sends to host:port and takes replies from any
 * address. */
struct adn_client *adn_udp_open(const char *host, uint16_t port, uint16_t layout, bool replicas,
				char *err, size_t errlen);
long adn_udp_call(struct adn_client *c, uint16_t method, const void *body, size_t len,
		  adn_reply_fn fn, void *user);
int adn_udp_poll(struct adn_client *c, int timeout_ms);
void adn_udp_release(struct adn_client *c, struct call_slot *s);
void adn_udp_close(struct adn_client *c);

/* client_replica.c: true if the TCP connection itself is established and
 * has no pending error (a failed send was another socket's doing). */
bool adn_cl_conn_sound(int fd);

#endif /* ADN_CLIENT_INTERNAL_H */
