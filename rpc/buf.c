/* SPDX-License-Identifier: MIT */
/* Byte queues and the frame-level reads and writes built on them. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "rpc_internal.h"

int adn_buf_reserve(struct adn_buf *b, size_t n, size_t limit)
{
	if (b->cap - b->len >= n)
		return 0;
	size_t used = b->len - b->off;
	if (n > limit || used > limit - n)
		return -ENOBUFS;
	/* Slide the live bytes to the front only when that costs no more than
	 * what was consumed since (amortised O(1) per byte), or when growing
	 * in place would pass the limit; otherwise grow. */
	if (b->off && (b->off >= used || b->len + n > limit)) {
		memmove(b->data, b->data + b->off, used);
		b->len = used;
		b->off = 0;
		if (b->cap - b->len >= n)
			return 0;
	}
	size_t cap = b->cap ? b->cap : 4096;
	while (cap - b->len < n)
		cap *= 2;
	if (cap > limit)
		cap = limit;
	uint8_t *p = realloc(b->data, cap);
	if (!p)
		return -ENOMEM;
	b->data = p;
	b->cap = cap;
	return 0;
}

void adn_buf_consume(struct adn_buf *b, size_t n)
{
	b->off += n;
	if (b->off == b->len)
		b->off = b->len = 0;
}

void adn_buf_free(struct adn_buf *b)
{
	free(b->data);
	memset(b, 0, sizeof(*b));
}

int adn_next_frame(const struct adn_buf *in, struct adn_hdr *h, size_t *need)
{
	size_t have = adn_buf_used(in);

	*need = 0;
	if (have < ADN_HDR_LEN) {
		*need = ADN_HDR_LEN - have;
		return 0;
	}
	adn_hdr_decode(h, adn_buf_head(in));
	if (h->len < ADN_FRAME_MIN || h->len > ADN_FRAME_MAX)
		return -1;
	if (have < h->len) {
		*need = h->len - have;
		return 0;
	}
	return 1;
}

long adn_buf_read(int fd, struct adn_buf *in, size_t need, bool *from_tcp)
{
	/* Read in large chunks so that many pipelined frames cost one read. */
	if (need < 65536)
		need = 65536;
	/* After the caller has parsed every whole frame, at most one partial
	 * frame is left, so this limit is never hit by a valid peer. */
	int err = adn_buf_reserve(in, need, ADN_FRAME_MAX + 65536);
	if (err)
		return err;
	/* Room for the TCP_CM_INQ control message (adn_sock_tune sets TCP_INQ). */
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int))];
	} ctl;
	struct iovec iov = { .iov_base = in->data + in->len, .iov_len = in->cap - in->len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	if (from_tcp) {
		mh.msg_control = ctl.buf;
		mh.msg_controllen = sizeof(ctl.buf);
	}
	for (;;) {
		ssize_t n = recvmsg(fd, &mh, 0);
		if (n >= 0) {
			in->len += (size_t)n;
			if (from_tcp) {
				struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
				*from_tcp = cm && cm->cmsg_level == SOL_TCP &&
					    cm->cmsg_type == TCP_CM_INQ;
			}
			return n;
		}
		if (errno != EINTR)
			return (errno == EWOULDBLOCK) ? -EAGAIN : -errno;
	}
}

int adn_buf_send(int fd, struct adn_buf *out)
{
	size_t left = adn_buf_used(out);

	if (!left)
		return 0;
	ssize_t n;
	do
		n = send(fd, adn_buf_head(out), left, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return (errno == EAGAIN || errno == EWOULDBLOCK) ? 1 : -errno;
	adn_buf_consume(out, (size_t)n);
	return adn_buf_used(out) ? 1 : 0;
}
