/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the RPC library over UDP (rpc/client_udp.c, server_udp.c):
 * one frame per datagram, batching, the size limit, retries with the same
 * rpc_id, giving up (UNAVAILABLE) and deadlines, the server's reply cache
 * (a retry is not executed twice), malformed datagrams either way, and TCP
 * and UDP served on one port. Loopback, ephemeral ports.
 */
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "adn_rpc.h"
#include "rpc_util.h"

/* ---- a library server in a thread ------------------------------------ */

static int handled; /* handler runs, read after stop_server() */

/* Echoes the body; method 2 answers NOT_FOUND; method 4 claims more bytes
 * than allowed. */
static int echo_handler(void *user, uint16_t method, const void *req, size_t req_len,
			void *resp, size_t cap, size_t *resp_len)
{
	(void)user;
	__atomic_add_fetch(&handled, 1, __ATOMIC_RELAXED);
	if (method == 2)
		return ADN_NOT_FOUND;
	if (method == 4) {
		*resp_len = cap + 1;
		return ADN_OK;
	}
	memcpy(resp, req, req_len);
	*resp_len = req_len;
	return ADN_OK;
}

/* TCP and UDP on one ephemeral port. */
static uint16_t start_server(struct server_thread *t)
{
	char err[256];

	memset(t, 0, sizeof(*t));
	handled = 0;
	/* the UDP port of the TCP port's number may be taken: try again */
	for (int i = 0; i < 20 && !t->srv; i++) {
		t->srv = adn_server_listen("127.0.0.1", 0, echo_handler, NULL, err, sizeof(err));
		ck_assert_msg(t->srv, "listen: %s", err);
		if (adn_server_add_udp(t->srv, err, sizeof(err))) {
			adn_server_close(t->srv);
			t->srv = NULL;
		}
	}
	ck_assert_msg(t->srv, "add_udp: %s", err);
	return server_thread_start(t);
}

static struct adn_client *open_udp(uint16_t port)
{
	char err[256];
	struct adn_client *c = adn_client_open_udp("127.0.0.1", port, 0x1234, err, sizeof(err));
	ck_assert_msg(c, "open_udp: %s", err);
	return c;
}

/* ---- replies --------------------------------------------------------- */

struct result {
	int done, status;
	uint16_t flags;
	uint8_t body[ADN_UDP_FRAME_MAX];
	size_t len;
};

static void on_reply(void *user, uint32_t rpc_id, int status, uint16_t flags,
		     const void *body, size_t len)
{
	struct result *r = user;
	(void)rpc_id;
	r->done++;
	r->status = status;
	r->flags = flags;
	r->len = len;
	if (len)
		memcpy(r->body, body, len);
}

/* ---- raw sockets for fake peers --------------------------------------- */

static int raw_udp(uint16_t *port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t al = sizeof(a);
	struct timeval tv = { .tv_sec = 2 };
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &al), 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	*port = ntohs(a.sin_port);
	return fd;
}

static void raw_send(int fd, uint16_t port, const void *p, size_t len)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	ck_assert_int_eq(sendto(fd, p, len, 0, (struct sockaddr *)&a, sizeof(a)), (ssize_t)len);
}

/* A request frame with a body of n bytes of x. */
static size_t request(uint8_t *f, uint32_t id, uint16_t method, size_t n, uint8_t x)
{
	struct adn_hdr h = { .len = (uint32_t)(ADN_HDR_LEN + n), .rpc_id = id, .method = method };
	adn_hdr_encode(&h, f);
	memset(f + ADN_HDR_LEN, x, n);
	return ADN_HDR_LEN + n;
}

/* A fake server: drops the first `drop` datagrams it receives, answers
 * the next one (with `status` and `flags`, after `junk` malformed
 * datagrams), records what it saw. */
struct fake {
	int fd;
	uint16_t port;
	int drop, answer, junk;
	int status;
	uint16_t flags;
	pthread_t tid;
	int seen;
	uint32_t ids[16];
	uint8_t first[ADN_UDP_FRAME_MAX], last[ADN_UDP_FRAME_MAX];
	ssize_t first_len, last_len;
};

static void *fake_main(void *arg)
{
	struct fake *f = arg;
	struct sockaddr_storage peer;

	for (;;) {
		socklen_t pl = sizeof(peer);
		uint8_t buf[2048];
		ssize_t n = recvfrom(f->fd, buf, sizeof(buf), 0, (struct sockaddr *)&peer, &pl);
		if (n <= 0)
			return NULL; /* 2 s of silence, or shut down: done */
		struct adn_hdr h;
		adn_hdr_decode(&h, buf);
		if (f->seen < 16)
			f->ids[f->seen] = h.rpc_id;
		if (!f->seen) {
			memcpy(f->first, buf, (size_t)n);
			f->first_len = n;
		}
		memcpy(f->last, buf, (size_t)n);
		f->last_len = n;
		if (++f->seen <= f->drop || !f->answer)
			continue;
		for (int j = 0; j < f->junk; j++) {
			struct adn_hdr bad = h;
			bad.kind = ADN_KIND_RESPONSE;
			bad.len = 99; /* not the datagram's length */
			uint8_t b[ADN_HDR_LEN];
			adn_hdr_encode(&bad, b);
			sendto(f->fd, b, sizeof(b), 0, (struct sockaddr *)&peer, pl);
		}
		h.kind = ADN_KIND_RESPONSE;
		h.status = (uint8_t)f->status;
		h.flags = f->flags;
		adn_hdr_encode(&h, buf);
		sendto(f->fd, buf, (size_t)n, 0, (struct sockaddr *)&peer, pl);
		f->answer--;
	}
}

static void start_fake(struct fake *f)
{
	f->fd = raw_udp(&f->port);
	ck_assert_int_eq(pthread_create(&f->tid, NULL, fake_main, f), 0);
}

static void stop_fake(struct fake *f)
{
	shutdown(f->fd, SHUT_RDWR); /* wakes recvfrom */
	pthread_join(f->tid, NULL);
	close(f->fd);
}

/* ---- tests ----------------------------------------------------------- */

START_TEST(test_echo_pipelined_one_sendmmsg)
{
	struct server_thread t;
	uint16_t port = start_server(&t);
	struct adn_client *c = open_udp(port);
	static struct result r[200];
	uint8_t body[64];

	memset(r, 0, sizeof(r));
	for (int i = 0; i < 200; i++) {
		memset(body, i, sizeof(body));
		ck_assert_int_ge(adn_client_call(c, 1, body, sizeof(body), on_reply, &r[i]), 1);
	}
	ck_assert_int_ge(adn_client_poll(c, 0), 0);
	struct adn_client_stats st;
	adn_client_get_stats(c, &st);
	ck_assert_uint_eq(st.sends, 1); /* 200 datagrams, one sendmmsg */
	drain(c, 5);
	for (int i = 0; i < 200; i++) {
		ck_assert_int_eq(r[i].done, 1);
		ck_assert_int_eq(r[i].status, ADN_OK);
		ck_assert_uint_eq(r[i].len, sizeof(body));
		ck_assert_uint_eq(r[i].body[0], (uint8_t)i);
	}
	adn_client_get_stats(c, &st);
	ck_assert_uint_eq(st.retransmits, 0);
	ck_assert_uint_eq(st.completed, 200);
	adn_client_close(c);
	stop_server(&t);
	ck_assert_uint_eq(t.st.datagrams, 200);
	ck_assert_uint_eq(t.st.requests, 200);
	ck_assert_uint_lt(t.st.sends, 200); /* replies batched too */
}
END_TEST

START_TEST(test_tcp_and_udp_on_one_port)
{
	struct server_thread t;
	uint16_t port = start_server(&t);
	char err[256];
	struct adn_client *tcp = adn_client_open("127.0.0.1", port, 1, 0x1234, err, sizeof(err));
	struct adn_client *udp = open_udp(port);
	struct result a = { 0 }, b = { 0 };

	ck_assert_msg(tcp, "%s", err);
	ck_assert_int_ge(adn_client_call(tcp, 1, "tcp", 3, on_reply, &a), 1);
	ck_assert_int_ge(adn_client_call(udp, 2, "udp", 3, on_reply, &b), 1);
	drain(tcp, 5);
	drain(udp, 5);
	ck_assert_int_eq(a.status, ADN_OK);
	ck_assert_mem_eq(a.body, "tcp", 3);
	ck_assert_int_eq(b.status, ADN_NOT_FOUND);
	ck_assert_int_eq(b.flags, 0);
	adn_client_close(tcp);
	adn_client_close(udp);
	stop_server(&t);
}
END_TEST

START_TEST(test_oversize_refused)
{
	struct server_thread t;
	uint16_t port = start_server(&t);
	struct adn_client *c = open_udp(port);
	static uint8_t body[ADN_UDP_BODY_MAX + 1];
	struct result r = { 0 }, big = { 0 };

	ck_assert_int_eq(ADN_UDP_FRAME_MAX, 1500 - 20 - 8);
	ck_assert_int_eq(adn_client_call(c, 1, body, sizeof(body), on_reply, &r), -EMSGSIZE);
	ck_assert_uint_eq(adn_client_outstanding(c), 0);
	/* the largest that fits goes through, and its echo comes back */
	memset(body, 7, sizeof(body));
	ck_assert_int_ge(adn_client_call(c, 1, body, ADN_UDP_BODY_MAX, on_reply, &big), 1);
	/* a handler claiming more than the UDP capacity gives INTERNAL */
	ck_assert_int_ge(adn_client_call(c, 4, body, 1, on_reply, &r), 1);
	drain(c, 5);
	ck_assert_int_eq(big.status, ADN_OK);
	ck_assert_uint_eq(big.len, ADN_UDP_BODY_MAX);
	ck_assert_int_eq(r.status, ADN_INTERNAL);
	adn_client_close(c);
	stop_server(&t);
}
END_TEST

START_TEST(test_retry_same_rpc_id_after_drop)
{
	struct fake f = { .drop = 1, .answer = 1 };
	start_fake(&f);
	struct adn_client *c = open_udp(f.port);
	struct result r = { 0 };
	struct adn_client_stats st;

	adn_client_set_retries(c, 4, 50);
	long id = adn_client_call(c, 1, "x", 1, on_reply, &r);
	ck_assert_int_ge(id, 1);
	double t0 = now_s();
	drain(c, 5);
	double took = now_s() - t0;
	ck_assert_int_eq(r.done, 1);
	ck_assert_int_eq(r.status, ADN_OK);
	ck_assert(took >= 0.045 && took < 1.0);
	adn_client_get_stats(c, &st);
	ck_assert_uint_eq(st.retransmits, 1);
	stop_fake(&f);
	ck_assert_int_eq(f.seen, 2);
	ck_assert_uint_eq(f.ids[0], (uint32_t)id);
	ck_assert_uint_eq(f.ids[1], (uint32_t)id);
	ck_assert_int_eq(f.first_len, f.last_len); /* the same datagram again */
	ck_assert_mem_eq(f.first, f.last, (size_t)f.first_len);
	adn_client_close(c);
}
END_TEST

START_TEST(test_unavailable_after_last_try)
{
	struct fake f = { .answer = 0 };
	start_fake(&f);
	struct adn_client *c = open_udp(f.port);
	struct result r = { 0 };

	adn_client_set_retries(c, 3, 20); /* sent at 0, 20, 60 ms; given up at 140 */
	ck_assert_int_ge(adn_client_call(c, 1, "x", 1, on_reply, &r), 1);
	double t0 = now_s();
	drain(c, 5);
	double took = now_s() - t0;
	ck_assert_int_eq(r.done, 1);
	ck_assert_int_eq(r.status, ADN_UNAVAILABLE);
	ck_assert_int_eq(r.flags, ADN_RPC_F_LOCAL);
	ck_assert_uint_eq(r.len, 0);
	ck_assert_msg(took >= 0.13 && took < 1.0, "gave up after %.3f s", took);
	ck_assert_ptr_nonnull(strstr(adn_client_error(c), "no reply after 3 tries"));
	stop_fake(&f);
	ck_assert_int_eq(f.seen, 3);
	adn_client_close(c);
}
END_TEST

START_TEST(test_deadline_before_last_try)
{
	struct fake f = { .answer = 0 };
	start_fake(&f);
	struct adn_client *c = open_udp(f.port);
	struct result r = { 0 };
	struct adn_client_stats st;

	adn_client_set_retries(c, 10, 20);
	adn_client_set_timeout(c, 100);
	ck_assert_int_ge(adn_client_call(c, 1, "x", 1, on_reply, &r), 1);
	drain(c, 5);
	ck_assert_int_eq(r.status, ADN_DEADLINE_EXCEEDED);
	ck_assert_int_eq(r.flags, ADN_RPC_F_LOCAL);
	adn_client_get_stats(c, &st);
	ck_assert_uint_eq(st.timeouts, 1);
	ck_assert_uint_ge(st.retransmits, 2); /* at 20 and 60 ms */
	stop_fake(&f);
	adn_client_close(c);
}
END_TEST

START_TEST(test_server_port_unreachable)
{
	uint16_t port;
	int fd = raw_udp(&port);
	close(fd); /* nothing listens there now: ICMP port unreachable */
	struct adn_client *c = open_udp(port);
	struct result r = { 0 };

	adn_client_set_retries(c, 3, 10);
	ck_assert_int_ge(adn_client_call(c, 1, "x", 1, on_reply, &r), 1);
	drain(c, 5);
	ck_assert_int_eq(r.status, ADN_UNAVAILABLE);
	adn_client_close(c);
}
END_TEST

/* A retried request the server has answered is answered again from its
 * reply cache, not executed twice; another request under the same id is. */
START_TEST(test_retry_not_executed_twice)
{
	struct server_thread t;
	uint16_t port = start_server(&t), me;
	int fd = raw_udp(&me);
	uint8_t req[64], a[2048], b[2048];

	size_t n = request(req, 42, 1, 8, 'a');
	raw_send(fd, port, req, n);
	ssize_t la = recv(fd, a, sizeof(a), 0);
	raw_send(fd, port, req, n); /* the "retry" */
	ssize_t lb = recv(fd, b, sizeof(b), 0);
	ck_assert_int_eq(la, (ssize_t)n);
	ck_assert_int_eq(lb, la);
	ck_assert_mem_eq(a, b, (size_t)la);
	n = request(req, 42, 1, 8, 'b'); /* same id, other bytes */
	raw_send(fd, port, req, n);
	ck_assert_int_eq(recv(fd, b, sizeof(b), 0), (ssize_t)n);
	ck_assert_uint_eq(b[ADN_HDR_LEN], 'b');
	close(fd);
	stop_server(&t);
	ck_assert_int_eq(handled, 2);
	ck_assert_uint_eq(t.st.replayed, 1);
	ck_assert_uint_eq(t.st.datagrams, 3);
}
END_TEST

START_TEST(test_server_ignores_malformed_datagrams)
{
	struct server_thread t;
	uint16_t port = start_server(&t), me;
	int fd = raw_udp(&me);
	uint8_t f[2048], reply[2048];
	struct adn_hdr h;

	raw_send(fd, port, "short", 5);
	size_t n = request(f, 1, 1, 10, 'x');
	adn_hdr_decode(&h, f);
	h.len = 99; /* not the datagram's length */
	adn_hdr_encode(&h, f);
	raw_send(fd, port, f, n);
	n = request(f, 2, 1, 10, 'x');
	adn_hdr_decode(&h, f);
	h.kind = ADN_KIND_RESPONSE;
	adn_hdr_encode(&h, f);
	raw_send(fd, port, f, n);
	n = request(f, 3, 1, 1600, 'x'); /* more than a frame may be */
	raw_send(fd, port, f, n);
	/* then a good one: the only reply */
	n = request(f, 4, 1, 10, 'y');
	raw_send(fd, port, f, n);
	ck_assert_int_eq(recv(fd, reply, sizeof(reply), 0), (ssize_t)n);
	adn_hdr_decode(&h, reply);
	ck_assert_uint_eq(h.rpc_id, 4);
	close(fd);
	stop_server(&t);
	ck_assert_uint_eq(t.st.malformed, 4);
	ck_assert_uint_eq(t.st.requests, 1);
}
END_TEST

START_TEST(test_client_ignores_malformed_and_sees_net_reply)
{
	struct fake f = { .answer = 1, .junk = 2, .status = ADN_PERMISSION_DENIED,
			  .flags = ADN_F_NET_REPLY };
	start_fake(&f);
	struct adn_client *c = open_udp(f.port);
	struct result r = { 0 };
	struct adn_client_stats st;

	ck_assert_int_ge(adn_client_call(c, 1, "x", 1, on_reply, &r), 1);
	drain(c, 5);
	ck_assert_int_eq(r.done, 1);
	ck_assert_int_eq(r.status, ADN_PERMISSION_DENIED);
	ck_assert_int_eq(r.flags, ADN_F_NET_REPLY);
	ck_assert_uint_eq(r.len, 0);
	adn_client_get_stats(c, &st);
	ck_assert_uint_eq(st.malformed, 2);
	stop_fake(&f);
	adn_client_close(c);
}
END_TEST

START_TEST(test_bad_arguments)
{
	char err[256];
	struct adn_server *s = adn_server_listen("127.0.0.1", 0, echo_handler, NULL, err,
						 sizeof(err));
	ck_assert_ptr_nonnull(s);
	ck_assert_int_eq(adn_server_set_udp_cache(s, 1000), -EINVAL);
	ck_assert_int_eq(adn_server_set_udp_cache(s, 0), -EINVAL);
	ck_assert_int_eq(adn_server_set_udp_cache(s, 64), 0);
	adn_server_close(s);
	ck_assert_ptr_null(adn_client_open_udp("no.such.host.invalid", 1, 0, err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "cannot resolve"));
}
END_TEST

static Suite *rpc_udp_suite(void)
{
	Suite *s = suite_create("rpc_udp");
	TCase *tc = tcase_create("udp");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_echo_pipelined_one_sendmmsg);
	tcase_add_test(tc, test_tcp_and_udp_on_one_port);
	tcase_add_test(tc, test_oversize_refused);
	tcase_add_test(tc, test_retry_same_rpc_id_after_drop);
	tcase_add_test(tc, test_unavailable_after_last_try);
	tcase_add_test(tc, test_deadline_before_last_try);
	tcase_add_test(tc, test_server_port_unreachable);
	tcase_add_test(tc, test_retry_not_executed_twice);
	tcase_add_test(tc, test_server_ignores_malformed_datagrams);
	tcase_add_test(tc, test_client_ignores_malformed_and_sees_net_reply);
	tcase_add_test(tc, test_bad_arguments);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	SRunner *sr = srunner_create(rpc_udp_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
