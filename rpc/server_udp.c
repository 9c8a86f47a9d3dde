/* SPDX-License-Identifier: MIT */
/*
 * The server over UDP, on the same address and port as its TCP listener:
 * each datagram is one request frame. A round reads up to SRV_BATCH
 * datagrams with recvmmsg(), answers them through the handler (or from the
 * reply cache, for a retried request already answered) and sends the
 * replies with one sendmmsg(). Malformed datagrams are counted and
 * ignored: unlike a TCP stream, nothing after them depends on them.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "reply_cache.h"
#include "server_internal.h"

#define SRV_BATCH 64  /* datagrams per recvmmsg / sendmmsg */
#define SRV_ROUNDS 16 /* recvmmsg calls per readiness event */
#define MAX_CACHE (1u << 16)

const char adn_udp_mark = 0;

struct udp_server {
	int fd;
	struct adn_reply_cache *rc;
	struct mmsghdr rmsg[SRV_BATCH], smsg[SRV_BATCH];
	struct iovec riov[SRV_BATCH], siov[SRV_BATCH];
	struct sockaddr_storage peer[SRV_BATCH];
	uint8_t *rbuf; /* SRV_BATCH requests of up to ADN_UDP_FRAME_MAX bytes */
	uint8_t *sbuf; /* SRV_BATCH replies */
};

int adn_server_set_udp_cache(struct adn_server *s, unsigned entries)
{
	if (s->udp || !entries || entries > MAX_CACHE || (entries & (entries - 1)))
		return -EINVAL;
	s->udp_cache_entries = entries;
	return 0;
}

void adn_udp_server_close(struct adn_server *s)
{
	struct udp_server *u = s->udp;

	if (!u)
		return;
	if (u->fd >= 0)
		close(u->fd);
	adn_rc_free(u->rc);
	free(u->rbuf);
	free(u->sbuf);
	free(u);
	s->udp = NULL;
}

int adn_server_add_udp(struct adn_server *s, char *err, size_t errlen)
{
	uint16_t bound;

	if (s->udp) {
		adn_errf(err, errlen, "the server already serves UDP");
		return -1;
	}
	struct udp_server *u = calloc(1, sizeof(*u));
	if (!u) {
		adn_errf(err, errlen, "out of memory");
		return -1;
	}
	s->udp = u;
	u->fd = -1;
	u->rc = adn_rc_new(s->udp_cache_entries);
	u->rbuf = malloc((size_t)SRV_BATCH * ADN_UDP_FRAME_MAX);
	u->sbuf = malloc((size_t)SRV_BATCH * ADN_UDP_FRAME_MAX);
	if (!u->rc || !u->rbuf || !u->sbuf) {
		adn_errf(err, errlen, "out of memory");
		goto fail;
	}
	u->fd = adn_sock_udp_bind(s->addr, s->port, &bound, err, errlen);
	if (u->fd < 0)
		goto fail;
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = ADN_UDP_MARK };
	if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, u->fd, &ev) < 0) {
		adn_errf(err, errlen, "epoll_ctl: %s", strerror(errno));
		goto fail;
	}
	return 0;
fail:
	adn_udp_server_close(s);
	return -1;
}

/* Why the datagram of len bytes at p is not a request frame, or NULL. */
static const char *invalid(const uint8_t *p, size_t len, int flags, struct adn_hdr *h)
{
	static _Thread_local char why[96];

	if (flags & MSG_TRUNC)
		return "datagram longer than 1472 bytes";
	if (len < ADN_HDR_LEN) {
		snprintf(why, sizeof(why), "datagram of %zu bytes, shorter than a header", len);
		return why;
	}
	adn_hdr_decode(h, p);
	const char *bad = adn_hdr_invalid(h, ADN_KIND_REQUEST);
	if (bad)
		return bad;
	if (h->len != len) {
		snprintf(why, sizeof(why), "len field %u in a %zu-byte datagram", h->len, len);
		return why;
	}
	return NULL;
}

/* Runs the handler; the reply frame goes to out. Its length. */
static size_t run_handler(struct adn_server *s, const struct adn_hdr *req, const uint8_t *p,
			  uint8_t *out)
{
	size_t len = 0;
	int status = adn_srv_handle(s, req->method, req->rpc_id, p + ADN_HDR_LEN, req->len - ADN_HDR_LEN,
				    out + ADN_HDR_LEN, ADN_UDP_BODY_MAX, &len);
	struct adn_hdr h = {
		.len = (uint32_t)(ADN_HDR_LEN + len),
		.rpc_id = req->rpc_id,
		.method = req->method,
		.kind = ADN_KIND_RESPONSE,
		.status = (uint8_t)status,
		.layout = req->layout,
	};
	adn_hdr_encode(&h, out);
	s->st.requests++;
	s->answered++;
	return ADN_HDR_LEN + len;
}

/* Answers the n datagrams just received; the replies leave together. */
static void answer_batch(struct adn_server *s, int n)
{
	struct udp_server *u = s->udp;
	int k = 0;

	for (int i = 0; i < n; i++) {
		const uint8_t *p = u->riov[i].iov_base;
		size_t len = u->rmsg[i].msg_len, olen;
		struct adn_hdr h;
		const char *why = invalid(p, len, u->rmsg[i].msg_hdr.msg_flags, &h);
		if (why) {
			s->st.malformed++;
			snprintf(s->err, sizeof(s->err), "ignored a malformed datagram: %s", why);
			continue;
		}
		s->st.datagrams++;

		struct adn_rc_key key;
		uint8_t *out = u->sbuf + (size_t)k * ADN_UDP_FRAME_MAX;
		const uint8_t *cached;
		adn_rc_key(&key, &u->peer[i], p, len);
		if ((cached = adn_rc_find(u->rc, &key, &olen))) {
			/* a retry of a request already answered: not run again */
			memcpy(out, cached, olen);
			s->st.replayed++;
		} else {
			olen = run_handler(s, &h, p, out);
			adn_rc_put(u->rc, &key, out, olen);
		}
		u->siov[k] = (struct iovec){ .iov_base = out, .iov_len = olen };
		u->smsg[k] = (struct mmsghdr){ .msg_hdr = {
			.msg_name = &u->peer[i], .msg_namelen = u->rmsg[i].msg_hdr.msg_namelen,
			.msg_iov = &u->siov[k], .msg_iovlen = 1 } };
		k++;
	}
	for (int off = 0; off < k;) {
		s->st.sends++;
		int r = sendmmsg(u->fd, u->smsg + off, (unsigned)(k - off), 0);
		if (r > 0) {
			off += r;
			continue;
		}
		if (r == 0)
			break;
		if (errno == EINTR)
			continue;
		/* Buffer full or the peer unreachable: that reply is lost; a
		 * retry of the request is answered from the cache. */
		snprintf(s->err, sizeof(s->err), "sendmmsg: %s", strerror(errno));
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			break;
		off++;
	}
}

void adn_udp_serve(struct adn_server *s)
{
	struct udp_server *u = s->udp;

	for (int round = 0; round < SRV_ROUNDS; round++) {
		for (int i = 0; i < SRV_BATCH; i++) {
			u->riov[i] = (struct iovec){ .iov_base = u->rbuf + (size_t)i * ADN_UDP_FRAME_MAX,
						     .iov_len = ADN_UDP_FRAME_MAX };
			u->rmsg[i] = (struct mmsghdr){ .msg_hdr = {
				.msg_name = &u->peer[i], .msg_namelen = sizeof(u->peer[i]),
				.msg_iov = &u->riov[i], .msg_iovlen = 1 } };
		}
		int n = recvmmsg(u->fd, u->rmsg, SRV_BATCH, MSG_DONTWAIT, NULL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				snprintf(s->err, sizeof(s->err), "recvmmsg: %s", strerror(errno));
			return;
		}
		answer_batch(s, n);
		if (n < SRV_BATCH)
			return;
	}
}
