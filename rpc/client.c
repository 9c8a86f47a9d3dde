/* SPDX-License-Identifier: MIT */
/*
 * The RPC client: pipelined calls over one or several connections.
 *
 * Outstanding calls live in a power-of-two slot table indexed by
 * rpc_id & mask, so issuing and completing a call allocates nothing once
 * the table and the buffers have grown to the working-set size.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "client_internal.h"

#define MAX_CONNS 1024u
#define MAX_SLOTS (1u << 20)
#define OUT_LIMIT ((size_t)64 << 20) /* queued bytes per connection */
#define READS_PER_EVENT 16

struct adn_client *adn_cl_new(unsigned nconns, uint16_t layout, char *err, size_t errlen)
{
	if (nconns < 1 || nconns > MAX_CONNS) {
		adn_errf(err, errlen, "number of connections %u not in 1..%u", nconns,
			 MAX_CONNS);
		return NULL;
	}
	struct adn_client *c = calloc(1, sizeof(*c));
	if (!c)
		goto nomem;
	c->epfd = -1;
	c->layout = layout;
	c->next_id = 1;
	c->conns = calloc(nconns, sizeof(*c->conns));
	c->slots = calloc(FIRST_SLOTS, sizeof(*c->slots));
	if (!c->conns || !c->slots)
		goto nomem;
	c->mask = FIRST_SLOTS - 1;
	for (unsigned i = 0; i < nconns; i++)
		c->conns[i].fd = -1;
	c->nconns = nconns;
	c->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (c->epfd < 0) {
		adn_errf(err, errlen, "epoll_create1: %s", strerror(errno));
		goto fail;
	}
	return c;
nomem:
	adn_errf(err, errlen, "out of memory");
fail:
	adn_client_close(c);
	return NULL;
}

int adn_cl_add_conn(struct adn_client *c, unsigned i, int fd, char *err, size_t errlen)
{
	struct client_conn *cn = &c->conns[i];
	struct epoll_event ev = { .events = EPOLLIN, .data.u32 = i };

	cn->fd = fd;
	if (epoll_ctl(c->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		adn_errf(err, errlen, "epoll_ctl: %s", strerror(errno));
		return -1;
	}
	cn->alive = true;
	c->live++;
	return 0;
}

struct adn_client *adn_client_open(const char *host, uint16_t port,
				   unsigned nconns, uint16_t layout,
				   char *err, size_t errlen)
{
	struct adn_client *c = adn_cl_new(nconns, layout, err, errlen);

	for (unsigned i = 0; c && i < nconns; i++) {
		int fd = adn_sock_connect(host, port, err, errlen);
		if (fd < 0 || adn_cl_add_conn(c, i, fd, err, errlen)) {
			adn_client_close(c);
			return NULL;
		}
	}
	return c;
}

void adn_client_close(struct adn_client *c)
{
	if (!c)
		return;
	adn_udp_close(c);
	adn_udf_free(c->udf);
	adn_app_sql_free(c->app);
	for (unsigned i = 0; c->conns && i < c->nconns; i++) {
		if (c->conns[i].fd >= 0)
			close(c->conns[i].fd);
		adn_buf_free(&c->conns[i].in);
		adn_buf_free(&c->conns[i].out);
		adn_buf_free(&c->conns[i].net);
	}
	if (c->epfd >= 0)
		close(c->epfd);
	free(c->conns);
	free(c->slots);
	free(c);
}

size_t adn_client_outstanding(const struct adn_client *c)
{
	return c->outstanding;
}

unsigned adn_client_live_conns(const struct adn_client *c)
{
	return c->live;
}

void adn_client_set_timeout(struct adn_client *c, unsigned timeout_ms)
{
	c->timeout_ns = (uint64_t)timeout_ms * 1000000u;
}

void adn_client_get_stats(const struct adn_client *c, struct adn_client_stats *st)
{
	*st = c->st;
}

const char *adn_client_error(const struct adn_client *c)
{
	return c->err;
}

/* Doubles the slot table. Ids distinct modulo the old size stay distinct
 * modulo the new one, so entries never collide when rehashed. */
static int grow_slots(struct adn_client *c)
{
	uint32_t size = c->mask + 1;

	if (size >= MAX_SLOTS)
		return -ENOBUFS;
	struct call_slot *ns = calloc((size_t)size * 2, sizeof(*ns));
	if (!ns)
		return -ENOMEM;
	for (uint32_t i = 0; i < size; i++)
		if (c->slots[i].used)
			ns[c->slots[i].rpc_id & (size * 2 - 1)] = c->slots[i];
	free(c->slots);
	c->slots = ns;
	c->mask = size * 2 - 1;
	return 0;
}

/* Picks a fresh rpc_id whose slot is free; ids whose slot is still held
 * by a slow call are skipped. */
struct call_slot *adn_cl_take_slot(struct adn_client *c, uint32_t *id)
{
	if (c->outstanding > c->mask && grow_slots(c))
		return NULL;
	for (;;) {
		uint32_t cand = c->next_id++;
		if (cand == 0)
			continue; /* 0 is never used, so it can mean "none" */
		struct call_slot *s = &c->slots[cand & c->mask];
		if (!s->used) {
			*id = cand;
			return s;
		}
	}
}

static long tcp_call(struct adn_client *c, uint16_t method, const void *body,
		     size_t len, adn_reply_fn fn, void *user);

long adn_client_call(struct adn_client *c, uint16_t method, const void *body,
		     size_t len, adn_reply_fn fn, void *user)
{
	if (!fn || (len && !body))
		return -EINVAL;
	size_t app_len = len;
	if (c->app) {
		/* the transports' own checks come later: the app's elements
		 * must not see (or answer) a call that could never be sent */
		if (len > ADN_FRAME_MAX - ADN_HDR_LEN)
			return -EMSGSIZE;
		if (!c->udp && !c->live)
			return -ENOTCONN; /* SQL elements IN APP: first, on the network fields */
		long id = adn_cl_app_sql_call(c, method, &body, len, fn, user);
		if (id)
			return id;
	}
	if (c->udf && c->udf->chain) {
		/* the id tcp_call / adn_udp_call will take (nothing runs in
		 * between): an element may bind the request to it */
		uint32_t next = c->next_id, id = 0;
		if (!adn_cl_take_slot(c, &id))
			return -ENOBUFS;
		c->next_id = next;
		const uint8_t *b = adn_udf_run(c->udf, ADN_APP_REQUEST, true, method, id, body, len, &len);
		if (!b) {
			c->st.udf_errors++;
			snprintf(c->err, sizeof(c->err), "request not sent: %s", c->udf->why);
			return -EBADMSG;
		}
		body = b;
	}
	long id = c->udp ? adn_udp_call(c, method, body, len, fn, user) :
			   tcp_call(c, method, body, len, fn, user);
	if (id > 0) {
		c->st.app_bytes += app_len;
		c->st.wire_bytes += len;
	}
	return id;
}

int adn_client_udf_register(struct adn_client *c, const char *name, const struct adn_udf_ops *ops)
{
	return adn_udf_register(&c->udf, name, ops);
}

int adn_client_use_chain(struct adn_client *c, const struct adn_app_chain *chain,
			 char *err, size_t errlen)
{
	if (chain && chain->n_sql && !c->app) {
		if (!(c->app = adn_app_sql_new(chain, c->layout, err, errlen)))
			return -1;
		adn_app_sql_set_log(c->app, c->app_log);
	}
	int rc = adn_udf_bind(&c->udf, chain, c->layout, err, errlen);
	if (rc && c->app) {
		adn_app_sql_free(c->app);
		c->app = NULL;
	}
	return rc;
}

void adn_client_app_log(struct adn_client *c, FILE *out)
{
	c->app_log = out;
	if (c->app)
		adn_app_sql_set_log(c->app, out);
}

void adn_cl_deliver(struct adn_client *c, struct done_call d, const struct adn_hdr *h,
		    const uint8_t *body, size_t len)
{
	struct adn_hdr app_h;
	if (c->app) { /* the response sides of SQL elements IN APP */
		app_h = *h;
		app_h.status = (uint8_t)adn_app_sql_response(c->app, h, body, len);
		h = &app_h;
	}
	if (h->status != ADN_OK) {
		d.fn(d.user, d.rpc_id, h->status, h->flags, NULL, 0);
		return;
	}
	if (adn_udf_applies(c->udf, ADN_APP_RESPONSE, h->method)) {
		body = adn_udf_run(c->udf, ADN_APP_RESPONSE, false, h->method, h->rpc_id, body, len, &len);
		if (!body) {
			c->st.udf_errors++;
			snprintf(c->err, sizeof(c->err), "reply to call %u: %s", d.rpc_id, c->udf->why);
			d.fn(d.user, d.rpc_id, c->udf->status, ADN_RPC_F_LOCAL, NULL, 0);
			return;
		}
	}
	d.fn(d.user, d.rpc_id, ADN_OK, h->flags, body, len);
}

static long tcp_call(struct adn_client *c, uint16_t method, const void *body,
		     size_t len, adn_reply_fn fn, void *user)
{
	if (len > ADN_FRAME_MAX - ADN_HDR_LEN)
		return -EMSGSIZE;
	if (!c->live)
		return -ENOTCONN;

	unsigned ci = c->next_conn;
	while (!c->conns[ci].alive)
		ci = (ci + 1) % c->nconns;
	c->next_conn = (ci + 1) % c->nconns;
	struct client_conn *cn = &c->conns[ci];

	int rc = adn_buf_reserve(&cn->out, ADN_HDR_LEN + len, OUT_LIMIT);
	if (rc)
		return rc;
	uint32_t id;
	struct call_slot *s = adn_cl_take_slot(c, &id);
	if (!s)
		return -ENOBUFS;

	struct adn_hdr h = {
		.len = (uint32_t)(ADN_HDR_LEN + len),
		.rpc_id = id,
		.method = method,
		.kind = ADN_KIND_REQUEST,
		.layout = c->layout,
	};
	adn_hdr_encode(&h, cn->out.data + cn->out.len);
	if (len)
		memcpy(cn->out.data + cn->out.len + ADN_HDR_LEN, body, len);
	cn->out.len += ADN_HDR_LEN + len;

	uint64_t deadline = c->timeout_ns ? adn_now_ns() + c->timeout_ns : 0;
	*s = (struct call_slot){ .rpc_id = id, .conn = ci, .used = true,
				 .fn = fn, .user = user, .deadline_ns = deadline };
	if (deadline && (!c->next_expiry_ns || deadline < c->next_expiry_ns))
		c->next_expiry_ns = deadline;
	c->outstanding++;
	c->st.calls++;
	return id;
}

struct done_call adn_cl_release(struct adn_client *c, struct call_slot *s)
{
	struct done_call d = { .fn = s->fn, .user = s->user, .rpc_id = s->rpc_id };

	if (s->frame)
		adn_udp_release(c, s);
	s->used = false;
	c->outstanding--;
	c->st.completed++;
	c->completed_now++;
	return d;
}

/* Completes, with a status made here, every call that match() accepts;
 * used for broken connections and deadlines. Works in batches copied out
 * of the table, so callbacks that issue new calls (and grow the table)
 * cannot disturb the scan; rescans until nothing matches. New calls never
 * match: they go to live connections and have later deadlines. */
void adn_cl_fail_calls(struct adn_client *c, int status,
		       bool (*match)(const struct call_slot *, uint64_t), uint64_t arg)
{
	struct done_call batch[256];
	size_t n;

	do {
		n = 0;
		for (uint32_t i = 0; i <= c->mask && n < 256; i++) {
			struct call_slot *s = &c->slots[i];
			if (s->used && match(s, arg))
				batch[n++] = adn_cl_release(c, s);
		}
		for (size_t i = 0; i < n; i++)
			batch[i].fn(batch[i].user, batch[i].rpc_id, status,
				    ADN_RPC_F_LOCAL, NULL, 0);
	} while (n == 256);
}

static bool on_conn(const struct call_slot *s, uint64_t conn)
{
	return s->conn == conn;
}

static bool expired(const struct call_slot *s, uint64_t now)
{
	return s->deadline_ns && s->deadline_ns <= now;
}

static bool orphaned(const struct call_slot *s, uint64_t now)
{
	return s->orphan_ns && s->orphan_ns <= now;
}

/* A replica client does not know which replica the kernel sent a call to
 * (docs/rpc-library.md, "Replicas"): when one replica's connection breaks,
 * every call outstanding then that gets no reply within the grace period
 * went to it, and completes UNAVAILABLE. */
static void orphan_calls(struct adn_client *c)
{
	uint64_t t = adn_now_ns() + c->grace_ns;

	for (uint32_t i = 0; i <= c->mask; i++) {
		struct call_slot *s = &c->slots[i];
		if (!s->used || s->orphan_ns)
			continue;
		s->orphan_ns = t;
		if (!c->next_expiry_ns || t < c->next_expiry_ns)
			c->next_expiry_ns = t;
	}
}

static void break_conn(struct adn_client *c, unsigned ci, const char *fmt, const char *why)
{
	struct client_conn *cn = &c->conns[ci];

	if (!cn->alive)
		return;
	/* the first break is kept: later ones are often its consequence */
	size_t used = c->st.conns_broken && !strncmp(c->err, "connection ", 11) ? strlen(c->err) : 0;
	if (used && used + 3 < sizeof(c->err)) {
		snprintf(c->err + used, sizeof(c->err) - used, "; ");
		used += 2;
	}
	if (used < sizeof(c->err))
		snprintf(c->err + used, sizeof(c->err) - used, fmt, ci, why);
	epoll_ctl(c->epfd, EPOLL_CTL_DEL, cn->fd, NULL);
	close(cn->fd);
	cn->fd = -1;
	cn->alive = false;
	c->live--;
	c->st.conns_broken++;
	adn_buf_free(&cn->in);
	adn_buf_free(&cn->out);
	adn_buf_free(&cn->net);
	if (c->replicas)
		orphan_calls(c);
	else
		adn_cl_fail_calls(c, ADN_UNAVAILABLE, on_conn, ci);
}

static void set_want_out(struct adn_client *c, unsigned ci, bool on)
{
	struct client_conn *cn = &c->conns[ci];

	if (cn->want_out == on)
		return;
	struct epoll_event ev = { .events = EPOLLIN | (on ? EPOLLOUT : 0), .data.u32 = ci };
	epoll_ctl(c->epfd, EPOLL_CTL_MOD, cn->fd, &ev);
	cn->want_out = on;
}

static void flush_conn(struct adn_client *c, unsigned ci)
{
	struct client_conn *cn = &c->conns[ci];

	if (!cn->alive || !adn_buf_used(&cn->out))
		return;
	c->st.sends++;
	int rc = adn_buf_send(cn->fd, &cn->out);
	if (rc == -EPIPE && c->replicas && adn_cl_conn_sound(cn->fd)) {
		/* The error is another replica's: the chain redirected a
		 * request to a connection that broke after the redirect was
		 * decided (tcp_bpf_sendmsg returns the target's EPIPE; the
		 * bytes from that request on were not taken). This connection
		 * is sound: send them again, once the broken one has left the
		 * SOCKHASH the chain answers them UNAVAILABLE. Bounded by the
		 * grace period; tried again at the next poll a millisecond on
		 * (the socket is writable: EPOLLOUT would spin). */
		uint64_t now = adn_now_ns();
		if (!cn->redirect_failed_ns)
			cn->redirect_failed_ns = now;
		if (now - cn->redirect_failed_ns < c->grace_ns) {
			uint64_t again = now + 1000000;
			c->st.redirect_retries++;
			if (!c->next_expiry_ns || again < c->next_expiry_ns)
				c->next_expiry_ns = again;
			return;
		}
	}
	if (rc < 0) {
		break_conn(c, ci, "connection %u: send failed: %s", strerror(-rc));
		return;
	}
	cn->redirect_failed_ns = 0;
	set_want_out(c, ci, rc == 1);
}

/* One response frame of h.len bytes at frame. false if the connection
 * had to be closed. */
static bool handle_reply(struct adn_client *c, unsigned ci, const struct adn_hdr *h,
			 const uint8_t *frame)
{
	const char *why = adn_hdr_invalid(h, ADN_KIND_RESPONSE);
	if (why) {
		c->st.malformed++;
		break_conn(c, ci, "connection %u: malformed frame from server: %s", why);
		return false;
	}
	struct call_slot *s = &c->slots[h->rpc_id & c->mask];
	/* replicas: the reply comes on the connection the kernel chose */
	if (!s->used || s->rpc_id != h->rpc_id || (s->conn != ci && !c->replicas)) {
		c->st.unknown_replies++; /* late reply after a deadline, or junk */
		return true;
	}
	struct done_call d = adn_cl_release(c, s);
	adn_cl_deliver(c, d, h, frame + ADN_HDR_LEN, h->len - ADN_HDR_LEN);
	return true;
}

/* Hand every whole frame at the front of q to handle_reply. false if the
 * connection had to be closed. *need: bytes still missing for the next. */
static bool drain_frames(struct adn_client *c, unsigned ci, struct adn_buf *q, size_t *need)
{
	struct client_conn *cn = &c->conns[ci];
	struct adn_hdr h;
	int rc;

	while (cn->alive && (rc = adn_next_frame(q, &h, need)) != 0) {
		if (rc < 0) {
			c->st.malformed++;
			break_conn(c, ci, "connection %u: malformed frame from server: %s",
				   adn_hdr_invalid(&h, ADN_KIND_RESPONSE));
			return false;
		}
		/* The callback may queue calls on this connection; that touches
		 * cn->out only, so the frame stays valid. */
		if (!handle_reply(c, ci, &h, adn_buf_head(q)))
			return false;
		adn_buf_consume(q, h.len);
	}
	return cn->alive;
}

/* Move the last n bytes read into in over to the network-reply queue. */
static int take_net_replies(struct client_conn *cn, size_t n)
{
	int err = adn_buf_reserve(&cn->net, n, ADN_FRAME_MAX + 65536);
	if (err)
		return err;
	memcpy(cn->net.data + cn->net.len, cn->in.data + cn->in.len - n, n);
	cn->net.len += n;
	cn->in.len -= n;
	if (cn->in.len == cn->in.off)
		cn->in.len = cn->in.off = 0;
	return 0;
}

static void read_conn(struct adn_client *c, unsigned ci)
{
	struct client_conn *cn = &c->conns[ci];
	size_t need = 0, net_need = 0;

	for (int i = 0; i < READS_PER_EVENT && cn->alive; i++) {
		bool from_tcp;
		long n = adn_buf_read(cn->fd, &cn->in, need > net_need ? need : net_need, &from_tcp);
		/* A read of the TCP stream that did not fill the buffer drained
		 * it; the psock's queue is read first, so it was empty too. */
		bool drained = n > 0 && from_tcp && cn->in.len < cn->in.cap;
		if (n == -EAGAIN)
			return;
		if (n == 0) {
			break_conn(c, ci, "connection %u: %s", "server closed the connection");
			return;
		}
		if (n < 0) {
			break_conn(c, ci, "connection %u: read failed: %s", strerror((int)-n));
			return;
		}
		if (!from_tcp) {
			int err = take_net_replies(cn, (size_t)n);
			if (err) {
				break_conn(c, ci, "connection %u: network replies: %s", strerror(-err));
				return;
			}
			if (!drain_frames(c, ci, &cn->net, &net_need))
				return;
			continue;
		}
		if (!drain_frames(c, ci, &cn->in, &need))
			return;
		if (drained)
			return;
	}
}

void adn_cl_expire_calls(struct adn_client *c)
{
	uint64_t now = adn_now_ns();

	if (!c->next_expiry_ns || now < c->next_expiry_ns)
		return;
	if (c->replicas) {
		uint64_t was = c->st.completed;
		adn_cl_fail_calls(c, ADN_UNAVAILABLE, orphaned, now);
		if (c->st.completed != was)
			snprintf(c->err, sizeof(c->err),
				 "a replica's connection broke: %llu calls got no reply within %llu ms",
				 (unsigned long long)(c->st.completed - was),
				 (unsigned long long)(c->grace_ns / 1000000u));
	}
	uint64_t before = c->st.completed;
	adn_cl_fail_calls(c, ADN_DEADLINE_EXCEEDED, expired, now);
	c->st.timeouts += c->st.completed - before;
	/* Recompute the earliest deadline left. */
	c->next_expiry_ns = 0;
	for (uint32_t i = 0; i <= c->mask; i++) {
		const struct call_slot *s = &c->slots[i];
		uint64_t d = s->used ? s->deadline_ns : 0;
		if (d && (!c->next_expiry_ns || d < c->next_expiry_ns))
			c->next_expiry_ns = d;
		d = s->used ? s->orphan_ns : 0;
		if (d && (!c->next_expiry_ns || d < c->next_expiry_ns))
			c->next_expiry_ns = d;
	}
}

int adn_cl_wait_ms(uint64_t t, int timeout_ms)
{
	uint64_t now = adn_now_ns();
	uint64_t until = now >= t ? 0 : (t - now + 999999) / 1000000;

	if (timeout_ms >= 0 && until > (uint64_t)timeout_ms)
		return timeout_ms;
	return until > INT32_MAX ? INT32_MAX : (int)until;
}

int adn_client_poll(struct adn_client *c, int timeout_ms)
{
	struct epoll_event evs[64];

	if (c->udp)
		return adn_udp_poll(c, timeout_ms);
	c->completed_now = 0;
	if (c->app)
		adn_cl_app_sql_complete(c);
	if (!c->outstanding)
		return c->completed_now;
	/* All frames queued since the last poll go out in one send each. */
	for (unsigned i = 0; i < c->nconns; i++)
		flush_conn(c, i);
	if (!c->outstanding)
		return c->completed_now; /* every connection broke */

	if (c->next_expiry_ns)
		timeout_ms = adn_cl_wait_ms(c->next_expiry_ns, timeout_ms);
	if (c->app && adn_app_sql_pending(c->app))
		timeout_ms = 0; /* local completions issued by callbacks: next poll */
	int n = epoll_wait(c->epfd, evs, 64, timeout_ms);
	if (n < 0)
		return errno == EINTR ? c->completed_now : -errno;
	for (int i = 0; i < n; i++) {
		unsigned ci = evs[i].data.u32;
		if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
			read_conn(c, ci);
		if ((evs[i].events & EPOLLOUT) && c->conns[ci].alive)
			flush_conn(c, ci);
	}
	adn_cl_expire_calls(c);
	return c->completed_now;
}
