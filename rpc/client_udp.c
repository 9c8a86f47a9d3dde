/* SPDX-License-Identifier: MIT */
/*
 * The client over UDP: one frame per datagram on one connected socket.
 * Calls share the slot table, deadlines and callbacks with the TCP client
 * (client.c); what is UDP's own is here: every request is kept (in a
 * chunk of ADN_UDP_FRAME_MAX bytes, reused) until its reply comes, sent
 * again with the same rpc_id when none comes in time, and given up with
 * ADN_UNAVAILABLE after the last try. Requests leave in batches with
 * sendmmsg(), replies are read in batches with recvmmsg().
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include "client_internal.h"

#define SEND_BATCH 256 /* datagrams per sendmmsg */
#define RECV_BATCH 64  /* datagrams per recvmmsg */
#define RECV_ROUNDS 16 /* recvmmsg calls per readiness event */
#define DEFAULT_TRIES 4
#define MAX_TRIES 16
#define DEFAULT_INTERVAL_MS 200
#define MAX_BACKOFF_SHIFT 6 /* the interval doubles at most this often */

struct udp_client {
	int fd;
	unsigned tries;
	uint64_t interval_ns;
	uint64_t next_resend_ns; /* no resend is due before this; 0: none */
	bool want_out;           /* EPOLLOUT armed: the socket buffer was full */
	/* replicas: the socket is not connected (replies come from whichever
	 * replica TC sent the request to); requests go to dst */
	struct sockaddr_storage dst;
	socklen_t dstlen;        /* 0: connected */
	/* rpc_ids waiting to be sent (first time or again), in order; ids of
	 * calls completed meanwhile are skipped when their turn comes */
	uint32_t *pending;
	size_t head, npending, pending_cap;
	uint8_t **free_chunks; /* request buffers not in use */
	size_t nfree, free_cap;
	struct mmsghdr smsg[SEND_BATCH];
	struct iovec siov[SEND_BATCH];
	size_t spos[SEND_BATCH]; /* index in pending of each message */
	struct mmsghdr rmsg[RECV_BATCH];
	struct iovec riov[RECV_BATCH];
	uint8_t *rbuf; /* RECV_BATCH * ADN_UDP_FRAME_MAX */
};

struct adn_client *adn_client_open_udp(const char *host, uint16_t port, uint16_t layout,
				       char *err, size_t errlen)
{
	return adn_udp_open(host, port, layout, false, err, errlen);
}

struct adn_client *adn_udp_open(const char *host, uint16_t port, uint16_t layout, bool replicas,
				char *err, size_t errlen)
{
	struct adn_client *c = calloc(1, sizeof(*c));
	struct udp_client *u = calloc(1, sizeof(*u));

	if (!c || !u) {
		free(c);
		free(u);
		adn_errf(err, errlen, "out of memory");
		return NULL;
	}
	c->epfd = -1;
	c->layout = layout;
	c->udp = u;
	u->fd = -1;
	u->tries = DEFAULT_TRIES;
	u->interval_ns = (uint64_t)DEFAULT_INTERVAL_MS * 1000000u;
	c->slots = calloc(FIRST_SLOTS, sizeof(*c->slots));
	u->rbuf = malloc((size_t)RECV_BATCH * ADN_UDP_FRAME_MAX);
	if (!c->slots || !u->rbuf)
		goto nomem;
	c->mask = FIRST_SLOTS - 1;
	/* A restarted client may get the same port again: starting its ids
	 * anywhere keeps the server's reply cache from answering its first
	 * calls with an earlier run's replies. */
	if (getrandom(&c->next_id, sizeof(c->next_id), GRND_NONBLOCK) != sizeof(c->next_id))
		c->next_id = (uint32_t)adn_now_ns();
	c->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (c->epfd < 0) {
		adn_errf(err, errlen, "epoll_create1: %s", strerror(errno));
		goto fail;
	}
	u->fd = replicas ? adn_sock_udp_open(host, port, &u->dst, &u->dstlen, err, errlen) :
			   adn_sock_udp_connect(host, port, err, errlen);
	if (u->fd < 0)
		goto fail;
	struct epoll_event ev = { .events = EPOLLIN, .data.u32 = 0 };
	if (epoll_ctl(c->epfd, EPOLL_CTL_ADD, u->fd, &ev) < 0) {
		adn_errf(err, errlen, "epoll_ctl: %s", strerror(errno));
		goto fail;
	}
	c->live = 1;
	return c;
nomem:
	adn_errf(err, errlen, "out of memory");
fail:
	adn_client_close(c);
	return NULL;
}

void adn_udp_close(struct adn_client *c)
{
	struct udp_client *u = c->udp;

	if (!u)
		return;
	for (uint32_t i = 0; c->slots && i <= c->mask; i++) {
		free(c->slots[i].frame);
		c->slots[i].frame = NULL;
	}
	for (size_t i = 0; i < u->nfree; i++)
		free(u->free_chunks[i]);
	if (u->fd >= 0)
		close(u->fd);
	free(u->free_chunks);
	free(u->pending);
	free(u->rbuf);
	free(u);
	c->udp = NULL;
}

void adn_client_set_retries(struct adn_client *c, unsigned tries, unsigned interval_ms)
{
	if (!c->udp)
		return;
	c->udp->tries = tries < 1 ? 1 : tries > MAX_TRIES ? MAX_TRIES : tries;
	c->udp->interval_ns = (uint64_t)(interval_ms ? interval_ms : 1) * 1000000u;
}

/* Keeps a request buffer for reuse, so steady-state calls allocate
 * nothing; frees it if even the free list cannot grow. */
static void put_chunk(struct udp_client *u, uint8_t *chunk)
{
	if (u->nfree == u->free_cap) {
		size_t cap = u->free_cap ? u->free_cap * 2 : 64;
		uint8_t **p = realloc(u->free_chunks, cap * sizeof(*p));
		if (p) {
			u->free_chunks = p;
			u->free_cap = cap;
		}
	}
	if (u->nfree < u->free_cap)
		u->free_chunks[u->nfree++] = chunk;
	else
		free(chunk);
}

/* The call of slot s completed: its request buffer is free again. */
void adn_udp_release(struct adn_client *c, struct call_slot *s)
{
	if (c->udp)
		put_chunk(c->udp, s->frame);
	else
		free(s->frame);
	s->frame = NULL;
}

static int push_pending(struct udp_client *u, uint32_t id)
{
	if (u->head && u->head == u->npending)
		u->head = u->npending = 0;
	if (u->npending == u->pending_cap) {
		if (u->head) { /* slide the unsent ids to the front */
			memmove(u->pending, u->pending + u->head,
				(u->npending - u->head) * sizeof(*u->pending));
			u->npending -= u->head;
			u->head = 0;
		} else {
			size_t cap = u->pending_cap ? u->pending_cap * 2 : 256;
			uint32_t *p = realloc(u->pending, cap * sizeof(*p));
			if (!p)
				return -ENOMEM;
			u->pending = p;
			u->pending_cap = cap;
		}
	}
	u->pending[u->npending++] = id;
	return 0;
}

long adn_udp_call(struct adn_client *c, uint16_t method, const void *body, size_t len,
		  adn_reply_fn fn, void *user)
{
	struct udp_client *u = c->udp;

	if (len > ADN_UDP_BODY_MAX)
		return -EMSGSIZE;
	uint8_t *chunk = u->nfree ? u->free_chunks[--u->nfree] : malloc(ADN_UDP_FRAME_MAX);
	if (!chunk)
		return -ENOMEM;
	uint32_t id;
	struct call_slot *s = adn_cl_take_slot(c, &id);
	if (!s || push_pending(u, id)) {
		put_chunk(u, chunk);
		return s ? -ENOMEM : -ENOBUFS;
	}
	struct adn_hdr h = {
		.len = (uint32_t)(ADN_HDR_LEN + len),
		.rpc_id = id,
		.method = method,
		.kind = ADN_KIND_REQUEST,
		.layout = c->layout,
	};
	adn_hdr_encode(&h, chunk);
	if (len)
		memcpy(chunk + ADN_HDR_LEN, body, len);

	uint64_t deadline = c->timeout_ns ? adn_now_ns() + c->timeout_ns : 0;
	*s = (struct call_slot){ .rpc_id = id, .used = true, .fn = fn, .user = user,
				 .deadline_ns = deadline, .frame = chunk,
				 .frame_len = (uint16_t)h.len };
	if (deadline && (!c->next_expiry_ns || deadline < c->next_expiry_ns))
		c->next_expiry_ns = deadline;
	c->outstanding++;
	c->st.calls++;
	return id;
}

/* The slot of a pending id, or NULL if that call has completed. */
static struct call_slot *live_slot(struct adn_client *c, uint32_t id)
{
	struct call_slot *s = &c->slots[id & c->mask];

	return s->used && s->rpc_id == id && s->frame ? s : NULL;
}

static void mark_sent(struct adn_client *c, struct call_slot *s, uint64_t now)
{
	struct udp_client *u = c->udp;
	unsigned shift = s->sent < MAX_BACKOFF_SHIFT ? s->sent : MAX_BACKOFF_SHIFT;

	s->sent++;
	s->resend_ns = now + (u->interval_ns << shift);
	if (!u->next_resend_ns || s->resend_ns < u->next_resend_ns)
		u->next_resend_ns = s->resend_ns;
}

static void set_want_out(struct adn_client *c, bool on)
{
	struct udp_client *u = c->udp;

	if (u->want_out == on)
		return;
	struct epoll_event ev = { .events = EPOLLIN | (on ? EPOLLOUT : 0), .data.u32 = 0 };
	epoll_ctl(c->epfd, EPOLL_CTL_MOD, u->fd, &ev);
	u->want_out = on;
}

/* Sends every pending request, SEND_BATCH per sendmmsg(). Stops when the
 * socket buffer is full (EPOLLOUT brings it back). */
static void flush(struct adn_client *c)
{
	struct udp_client *u = c->udp;

	while (u->head < u->npending) {
		unsigned k = 0;
		size_t i;

		for (i = u->head; i < u->npending && k < SEND_BATCH; i++) {
			struct call_slot *s = live_slot(c, u->pending[i]);
			if (!s || s->resend_ns)
				continue; /* completed, or already sent */
			u->siov[k] = (struct iovec){ .iov_base = s->frame, .iov_len = s->frame_len };
			u->smsg[k] = (struct mmsghdr){ .msg_hdr = { .msg_iov = &u->siov[k],
								    .msg_iovlen = 1,
								    .msg_name = u->dstlen ? &u->dst : NULL,
								    .msg_namelen = u->dstlen } };
			u->spos[k++] = i;
		}
		if (!k) {
			u->head = u->npending = 0;
			break;
		}
		c->st.sends++;
		int n = sendmmsg(u->fd, u->smsg, k, 0);
		uint64_t now = adn_now_ns();
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS) {
				u->head = u->spos[0];
				set_want_out(c, true);
				return;
			}
			/* e.g. ECONNREFUSED: an ICMP error from an earlier datagram,
			 * reported here. The first message was not sent; its retry
			 * timer sends it again. */
			snprintf(c->err, sizeof(c->err), "send: %s", strerror(errno));
			n = 1;
		}
		for (int j = 0; j < n; j++)
			mark_sent(c, &c->slots[u->pending[u->spos[j]] & c->mask], now);
		u->head = (size_t)n < k ? u->spos[n] : i;
	}
	u->head = u->npending = 0;
	set_want_out(c, false);
}

static bool no_reply_after_tries(const struct call_slot *s, uint64_t now_and_tries)
{
	uint64_t now = now_and_tries >> 5, tries = now_and_tries & 31;

	return s->frame && s->resend_ns && s->resend_ns <= now && s->sent >= tries;
}

/* Gives up the calls that have had their last try, queues the others
 * whose timer has passed for sending again. */
static void resend_due(struct adn_client *c)
{
	struct udp_client *u = c->udp;
	uint64_t now = adn_now_ns(), before = c->st.completed;

	if (!u->next_resend_ns || now < u->next_resend_ns)
		return;
	/* now fits in 59 bits for 18 years of uptime */
	adn_cl_fail_calls(c, ADN_UNAVAILABLE, no_reply_after_tries, now << 5 | u->tries);
	if (c->st.completed != before)
		snprintf(c->err, sizeof(c->err), "%llu call(s) got no reply after %u tries",
			 (unsigned long long)(c->st.completed - before), u->tries);
	u->next_resend_ns = 0;
	for (uint32_t i = 0; i <= c->mask; i++) {
		struct call_slot *s = &c->slots[i];
		if (!s->used || !s->frame || !s->resend_ns)
			continue;
		if (s->resend_ns <= now) {
			if (push_pending(u, s->rpc_id))
				continue; /* out of memory: try at the next pass */
			s->resend_ns = 0;
			c->st.retransmits++;
		} else if (!u->next_resend_ns || s->resend_ns < u->next_resend_ns) {
			u->next_resend_ns = s->resend_ns;
		}
	}
	/* ids that could not be queued keep a timer in the past */
	for (uint32_t i = 0; i <= c->mask; i++) {
		struct call_slot *s = &c->slots[i];
		if (s->used && s->frame && s->resend_ns && s->resend_ns <= now)
			u->next_resend_ns = now;
	}
}

static void handle_datagram(struct adn_client *c, const uint8_t *p, size_t len, int flags)
{
	struct adn_hdr h;

	if ((flags & MSG_TRUNC) || len < ADN_HDR_LEN) {
		c->st.malformed++;
		snprintf(c->err, sizeof(c->err), "ignored a malformed datagram from the server: "
			 "%zu bytes%s", len, (flags & MSG_TRUNC) ? " or more" : "");
		return;
	}
	adn_hdr_decode(&h, p);
	if (h.len != len || h.kind != ADN_KIND_RESPONSE) {
		c->st.malformed++;
		snprintf(c->err, sizeof(c->err), "ignored a malformed datagram from the server: "
			 "len field %u in a %zu-byte datagram, kind %u", h.len, len, h.kind);
		return;
	}
	struct call_slot *s = live_slot(c, h.rpc_id);
	if (!s) {
		c->st.unknown_replies++; /* a duplicate after a retry, or late */
		return;
	}
	struct done_call d = adn_cl_release(c, s);
	adn_cl_deliver(c, d, &h, p + ADN_HDR_LEN, len - ADN_HDR_LEN);
}

static void receive(struct adn_client *c)
{
	struct udp_client *u = c->udp;

	for (int round = 0; round < RECV_ROUNDS; round++) {
		for (int i = 0; i < RECV_BATCH; i++) {
			u->riov[i] = (struct iovec){ .iov_base = u->rbuf + (size_t)i * ADN_UDP_FRAME_MAX,
						     .iov_len = ADN_UDP_FRAME_MAX };
			u->rmsg[i] = (struct mmsghdr){ .msg_hdr = { .msg_iov = &u->riov[i],
								    .msg_iovlen = 1 } };
		}
		int n = recvmmsg(u->fd, u->rmsg, RECV_BATCH, MSG_DONTWAIT, NULL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == ECONNREFUSED) {
				/* ICMP port unreachable for an earlier datagram:
				 * retries go on until the last try. */
				snprintf(c->err, sizeof(c->err),
					 "server port unreachable (ICMP), retrying");
				continue;
			}
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				snprintf(c->err, sizeof(c->err), "recv: %s", strerror(errno));
			return;
		}
		/* Callbacks may issue calls: that touches the send side only. */
		for (int i = 0; i < n; i++)
			handle_datagram(c, u->riov[i].iov_base, u->rmsg[i].msg_len,
					u->rmsg[i].msg_hdr.msg_flags);
		if (n < RECV_BATCH)
			return;
	}
}

int adn_udp_poll(struct adn_client *c, int timeout_ms)
{
	struct udp_client *u = c->udp;
	struct epoll_event evs[4];

	c->completed_now = 0;
	if (c->app)
		adn_cl_app_sql_complete(c);
	if (!c->outstanding)
		return c->completed_now;
	/* Everything queued since the last poll: one sendmmsg per SEND_BATCH. */
	flush(c);

	uint64_t wake = c->next_expiry_ns;
	if (u->next_resend_ns && (!wake || u->next_resend_ns < wake))
		wake = u->next_resend_ns;
	if (wake)
		timeout_ms = adn_cl_wait_ms(wake, timeout_ms);
	if (c->app && adn_app_sql_pending(c->app))
		timeout_ms = 0; /* local completions issued by callbacks: next poll */
	int n = epoll_wait(c->epfd, evs, 4, timeout_ms);
	if (n < 0 && errno != EINTR)
		return -errno;
	for (int i = 0; i < n; i++) {
		if (evs[i].events & (EPOLLIN | EPOLLERR))
			receive(c);
		if (evs[i].events & EPOLLOUT)
			flush(c);
	}
	resend_due(c);
	adn_cl_expire_calls(c);
	flush(c); /* retries leave now, not at the next poll */
	return c->completed_now;
}
