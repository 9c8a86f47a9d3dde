/* SPDX-License-Identifier: MIT */
/*
 * The RPC server: an epoll loop that reads pipelined requests, answers
 * each through the handler, and sends every response a connection earned
 * in one round with one send().
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "server_internal.h"

#define OUT_LIMIT ((size_t)64 << 20)
/* Above this many unsent bytes a connection is not read until it drains,
 * so a client that never reads cannot make the server grow without end. */
#define OUT_HIGH ((size_t)8 << 20)
#define READS_PER_EVENT 16

struct adn_server *adn_server_listen(const char *addr, uint16_t port,
				     adn_handler_fn fn, void *user,
				     char *err, size_t errlen)
{
	if (!fn) {
		adn_errf(err, errlen, "no request handler given");
		return NULL;
	}
	struct adn_server *s = calloc(1, sizeof(*s));
	if (!s || !(s->scratch = malloc(ADN_FRAME_MAX - ADN_HDR_LEN))) {
		adn_errf(err, errlen, "out of memory");
		free(s);
		return NULL;
	}
	s->fn = fn;
	s->user = user;
	s->epfd = -1;
	s->udp_cache_entries = 1024;
	if (addr && *addr && !(s->addr = strdup(addr))) {
		adn_errf(err, errlen, "out of memory");
		free(s->scratch);
		free(s);
		return NULL;
	}
	s->lfd = adn_sock_listen(addr, port, &s->port, err, errlen);
	if (s->lfd < 0)
		goto fail;
	s->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (s->epfd < 0) {
		adn_errf(err, errlen, "epoll_create1: %s", strerror(errno));
		goto fail;
	}
	/* data.ptr NULL marks the listening socket. */
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };
	if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->lfd, &ev) < 0) {
		adn_errf(err, errlen, "epoll_ctl: %s", strerror(errno));
		goto fail;
	}
	return s;
fail:
	adn_server_close(s);
	return NULL;
}

uint16_t adn_server_port(const struct adn_server *s)
{
	return s->port;
}

void adn_server_get_stats(const struct adn_server *s, struct adn_server_stats *st)
{
	*st = s->st;
}

const char *adn_server_error(const struct adn_server *s)
{
	return s->err;
}

static void drop_conn(struct adn_server *s, struct srv_conn *cn)
{
	epoll_ctl(s->epfd, EPOLL_CTL_DEL, cn->fd, NULL);
	close(cn->fd);
	adn_buf_free(&cn->in);
	adn_buf_free(&cn->out);
	if (cn->prev)
		cn->prev->next = cn->next;
	else
		s->conns = cn->next;
	if (cn->next)
		cn->next->prev = cn->prev;
	free(cn);
	s->st.closed++;
	s->st.active--;
}

void adn_server_close(struct adn_server *s)
{
	if (!s)
		return;
	while (s->conns)
		drop_conn(s, s->conns);
	adn_udp_server_close(s);
	adn_udf_free(s->udf);
	free(s->addr);
	if (s->lfd >= 0)
		close(s->lfd);
	if (s->epfd >= 0)
		close(s->epfd);
	free(s->scratch);
	free(s->big);
	free(s);
}

static void set_events(struct adn_server *s, struct srv_conn *cn, uint32_t events)
{
	if (cn->events == events)
		return;
	struct epoll_event ev = { .events = events, .data.ptr = cn };
	epoll_ctl(s->epfd, EPOLL_CTL_MOD, cn->fd, &ev);
	cn->events = events;
}

static void accept_conns(struct adn_server *s)
{
	for (;;) {
		int fd = accept4(s->lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				snprintf(s->err, sizeof(s->err), "accept: %s", strerror(errno));
			return;
		}
		struct srv_conn *cn = calloc(1, sizeof(*cn));
		int rc = cn ? adn_sock_tune(fd) : -ENOMEM;
		struct epoll_event ev = { .events = EPOLLIN, .data.ptr = cn };
		if (!rc && epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
			rc = -errno;
		if (rc) {
			snprintf(s->err, sizeof(s->err), "new connection: %s", strerror(-rc));
			free(cn);
			close(fd);
			continue;
		}
		cn->fd = fd;
		cn->events = EPOLLIN;
		cn->next = s->conns;
		if (s->conns)
			s->conns->prev = cn;
		s->conns = cn;
		s->st.accepted++;
		s->st.active++;
	}
}

/* Closes a connection that sent something unacceptable; the responses it
 * already earned get one best-effort send. */
static void reject_conn(struct adn_server *s, struct srv_conn *cn, const char *why)
{
	s->st.malformed++;
	snprintf(s->err, sizeof(s->err), "closed a connection: malformed frame: %s", why);
	adn_buf_send(cn->fd, &cn->out);
	drop_conn(s, cn);
}

int adn_server_udf_register(struct adn_server *s, const char *name, const struct adn_udf_ops *ops)
{
	return adn_udf_register(&s->udf, name, ops);
}

int adn_server_use_chain(struct adn_server *s, const struct adn_app_chain *chain,
			 char *err, size_t errlen)
{
	/* the server echoes whatever layout a request carries: not checked here */
	if (adn_udf_bind(&s->udf, chain, 0, err, errlen))
		return -1;
	if (chain->n_elems && !s->big && !(s->big = malloc(ADN_FRAME_MAX - ADN_HDR_LEN))) {
		adn_errf(err, errlen, "out of memory");
		return -1;
	}
	return 0;
}

static int check_status(int status, size_t len, size_t cap)
{
	if (status < 0 || status > ADN_STATUS_MAX || (status == ADN_OK && len > cap))
		return ADN_INTERNAL;
	return status;
}

int adn_srv_handle(struct adn_server *s, uint16_t method, uint32_t rpc_id, const uint8_t *body,
		   size_t len, uint8_t *resp, size_t cap, size_t *resp_len)
{
	size_t rlen = 0;
	int status;

	s->st.wire_bytes += len;
	if (adn_udf_applies(s->udf, ADN_APP_REQUEST, method)) {
		body = adn_udf_run(s->udf, ADN_APP_REQUEST, false, method, rpc_id, body, len, &len);
		if (!body) {
			s->st.udf_errors++;
			snprintf(s->err, sizeof(s->err), "request answered %s: %s",
				 adn_status_name(s->udf->status), s->udf->why);
			*resp_len = 0;
			return s->udf->status;
		}
	}
	s->st.app_bytes += len;
	if (!adn_udf_applies(s->udf, ADN_APP_RESPONSE, method)) {
		status = s->fn(s->user, method, body, len, resp, cap, &rlen);
		status = check_status(status, rlen, cap);
		*resp_len = status == ADN_OK ? rlen : 0;
		return status;
	}
	/* The handler may write a full-size body: the element shrinks it
	 * (or not) to what the transport carries. */
	size_t big_cap = ADN_FRAME_MAX - ADN_HDR_LEN;
	status = s->fn(s->user, method, body, len, s->big, big_cap, &rlen);
	status = check_status(status, rlen, big_cap);
	*resp_len = 0;
	if (status != ADN_OK)
		return status;
	const uint8_t *out = adn_udf_run(s->udf, ADN_APP_RESPONSE, true, method, rpc_id, s->big, rlen,
					 &rlen);
	if (!out || rlen > cap) {
		s->st.udf_errors++;
		if (out)
			snprintf(s->err, sizeof(s->err),
				 "response answered INTERNAL: %zu bytes after the chain's elements, at most %zu",
				 rlen, cap);
		else
			snprintf(s->err, sizeof(s->err), "response answered INTERNAL: %s", s->udf->why);
		return ADN_INTERNAL;
	}
	memcpy(resp, out, rlen);
	*resp_len = rlen;
	return ADN_OK;
}

/* Answers one request frame by appending a response to cn->out. */
static int answer(struct adn_server *s, struct srv_conn *cn, const struct adn_hdr *req,
		  const uint8_t *frame)
{
	size_t len = 0;
	int status = adn_srv_handle(s, req->method, req->rpc_id, frame + ADN_HDR_LEN, req->len - ADN_HDR_LEN,
				    s->scratch, ADN_FRAME_MAX - ADN_HDR_LEN, &len);
	int rc = adn_buf_reserve(&cn->out, ADN_HDR_LEN + len, OUT_LIMIT);
	if (rc)
		return rc;
	struct adn_hdr h = {
		.len = (uint32_t)(ADN_HDR_LEN + len),
		.rpc_id = req->rpc_id,
		.method = req->method,
		.kind = ADN_KIND_RESPONSE,
		.status = (uint8_t)status,
		.layout = req->layout,
	};
	adn_hdr_encode(&h, cn->out.data + cn->out.len);
	memcpy(cn->out.data + cn->out.len + ADN_HDR_LEN, s->scratch, len);
	cn->out.len += ADN_HDR_LEN + len;
	s->st.requests++;
	s->answered++;
	return 0;
}

/* A request that an element at the receiver's socket dropped reaches the
 * server already turned into its reply (bpf/adn_sk_skb.h): it goes back
 * as it is, in order with the other responses, and the handler never sees
 * it. */
static bool receiver_reply(const struct adn_hdr *h)
{
	return h->kind == ADN_KIND_RESPONSE &&
	       (h->flags & (ADN_F_NET_REPLY | ADN_F_RECV_REPLY)) == (ADN_F_NET_REPLY | ADN_F_RECV_REPLY);
}

static int reflect(struct adn_server *s, struct srv_conn *cn, const struct adn_hdr *h,
		   const uint8_t *frame)
{
	int rc = adn_buf_reserve(&cn->out, h->len, OUT_LIMIT);
	if (rc)
		return rc;
	memcpy(cn->out.data + cn->out.len, frame, h->len);
	cn->out.len += h->len;
	s->reflected++;
	return 0;
}

/* Answers every whole request in cn->in while the output is not too
 * full. false if the connection was closed. */
static bool answer_pending(struct adn_server *s, struct srv_conn *cn, size_t *need)
{
	struct adn_hdr h;
	int rc;

	while (adn_buf_used(&cn->out) < OUT_HIGH &&
	       (rc = adn_next_frame(&cn->in, &h, need)) != 0) {
		const char *why = rc > 0 && receiver_reply(&h) ? NULL : adn_hdr_invalid(&h, ADN_KIND_REQUEST);
		if (rc < 0 || why) {
			reject_conn(s, cn, why);
			return false;
		}
		if (receiver_reply(&h))
			rc = reflect(s, cn, &h, adn_buf_head(&cn->in));
		else
			rc = answer(s, cn, &h, adn_buf_head(&cn->in));
		if (rc) {
			snprintf(s->err, sizeof(s->err), "closed a connection: %s",
				 strerror(-rc));
			drop_conn(s, cn);
			return false;
		}
		adn_buf_consume(&cn->in, h.len);
	}
	return true;
}

/* false if the connection was closed. */
static bool read_conn(struct adn_server *s, struct srv_conn *cn)
{
	size_t need = 0;

	for (int i = 0; i < READS_PER_EVENT; i++) {
		if (adn_buf_used(&cn->out) >= OUT_HIGH)
			return true; /* flush_conn stops reading until it drains */
		long n = adn_buf_read(cn->fd, &cn->in, need, NULL);
		bool drained = n > 0 && cn->in.len < cn->in.cap;
		if (n == -EAGAIN)
			return true;
		if (n == 0) {
			if (adn_buf_used(&cn->in))
				reject_conn(s, cn, "connection closed inside a frame");
			else
				drop_conn(s, cn);
			return false;
		}
		if (n < 0) {
			drop_conn(s, cn); /* reset by the peer, most likely */
			return false;
		}
		if (!answer_pending(s, cn, &need))
			return false;
		if (drained)
			return true;
	}
	return true;
}

/* One send() of what the connection earned; rearms epoll to match. */
static void flush_conn(struct adn_server *s, struct srv_conn *cn)
{
	if (adn_buf_used(&cn->out)) {
		s->st.sends++;
		int rc = adn_buf_send(cn->fd, &cn->out);
		if (rc < 0) {
			drop_conn(s, cn);
			return;
		}
	}
	/* Requests left unanswered while the output was full. */
	size_t need;
	if (adn_buf_used(&cn->out) < OUT_HIGH && adn_buf_used(&cn->in) >= ADN_HDR_LEN) {
		if (!answer_pending(s, cn, &need))
			return;
	}
	uint32_t ev = adn_buf_used(&cn->out) < OUT_HIGH ? EPOLLIN : 0;
	if (adn_buf_used(&cn->out))
		ev |= EPOLLOUT;
	set_events(s, cn, ev);
}

int adn_server_poll(struct adn_server *s, int timeout_ms)
{
	struct epoll_event evs[64];

	s->answered = 0;
	int n = epoll_wait(s->epfd, evs, 64, timeout_ms);
	if (n < 0)
		return -errno;
	for (int i = 0; i < n; i++) {
		struct srv_conn *cn = evs[i].data.ptr;
		if (!cn) {
			accept_conns(s);
			continue;
		}
		if (evs[i].data.ptr == ADN_UDP_MARK) {
			adn_udp_serve(s);
			continue;
		}
		/* Each connection appears once per epoll_wait, so freeing it
		 * here cannot leave a dangling pointer later in evs. */
		if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
			read_conn(s, cn);
	}
	/* Every response earned this round: one send per connection. */
	for (struct srv_conn *cn = s->conns, *next; cn; cn = next) {
		next = cn->next;
		if (adn_buf_used(&cn->out) || (cn->events & EPOLLOUT) || !(cn->events & EPOLLIN))
			flush_conn(s, cn);
	}
	return s->answered;
}

int adn_server_run(struct adn_server *s, volatile sig_atomic_t *stop)
{
	while (!*stop) {
		int rc = adn_server_poll(s, 100);
		if (rc < 0 && rc != -EINTR)
			return rc;
	}
	return 0;
}
