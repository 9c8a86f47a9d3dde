/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the RPC library (rpc/): framing, pipelining, malformed
 * peers on either side, network-made replies, deadlines, a dying server.
 * Everything runs over loopback on ephemeral ports.
 */
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "adn_rpc.h"
#include "rpc_util.h"

/* ---- helpers ------------------------------------------------------- */

/* Echoes the request body; method 2 answers NOT_FOUND, method 3 returns
 * a status that is not one, method 4 claims more bytes than allowed. */
static int echo_handler(void *user, uint16_t method, const void *req, size_t req_len,
			void *resp, size_t cap, size_t *resp_len)
{
	(void)user;
	if (method == 2)
		return ADN_NOT_FOUND;
	if (method == 3)
		return 99;
	if (method == 4) {
		*resp_len = cap + 1;
		return ADN_OK;
	}
	memcpy(resp, req, req_len);
	*resp_len = req_len;
	return ADN_OK;
}

static uint16_t start_server(struct server_thread *t, adn_handler_fn fn)
{
	char err[256];
	memset(t, 0, sizeof(*t));
	t->srv = adn_server_listen("127.0.0.1", 0, fn, NULL, err, sizeof(err));
	ck_assert_msg(t->srv, "listen: %s", err);
	return server_thread_start(t);
}

static struct adn_client *open_client(uint16_t port, unsigned nconns)
{
	char err[256];
	struct adn_client *c = adn_client_open("127.0.0.1", port, nconns, 0x1234, err,
					       sizeof(err));
	ck_assert_msg(c, "open: %s", err);
	return c;
}

/* A plain blocking listener for fake servers, on an ephemeral port. */
static int raw_listen(uint16_t *port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t al = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(listen(fd, 16), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &al), 0);
	*port = ntohs(a.sin_port);
	return fd;
}

static int raw_connect(uint16_t port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	return fd;
}

static int read_full(int fd, void *buf, size_t n)
{
	size_t got = 0;
	while (got < n) {
		ssize_t r = read(fd, (char *)buf + got, n - got);
		if (r <= 0)
			return -1;
		got += (size_t)r;
	}
	return 0;
}

/* true if the peer closed fd (EOF or reset) within secs. */
static int closed_by_peer(int fd, double secs)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	char buf[4096];
	double end = now_s() + secs;
	while (now_s() < end) {
		if (poll(&p, 1, 50) <= 0)
			continue;
		ssize_t r = read(fd, buf, sizeof(buf));
		if (r == 0 || (r < 0 && errno == ECONNRESET))
			return 1;
	}
	return 0;
}

/* Outcome of every call a test makes. */
struct outcome {
	int calls, ok, by_status[ADN_STATUS_MAX + 1], net_replies, local, bad_body;
};

static void count_reply(void *user, uint32_t rpc_id, int status, uint16_t flags,
			const void *body, size_t len)
{
	struct outcome *o = user;
	(void)rpc_id;
	o->calls++;
	if (status >= 0 && status <= ADN_STATUS_MAX)
		o->by_status[status]++;
	if (status == ADN_OK)
		o->ok++;
	if (flags & ADN_F_NET_REPLY)
		o->net_replies++;
	if (flags & ADN_RPC_F_LOCAL)
		o->local++;
	if (status != ADN_OK && (body || len))
		o->bad_body++;
}

/* Each call's body is its index; the echo must bring it back. */
struct echo_check {
	struct outcome *o;
	uint32_t index;
};

static void check_echo(void *user, uint32_t rpc_id, int status, uint16_t flags,
		       const void *body, size_t len)
{
	struct echo_check *e = user;
	uint32_t got;
	count_reply(e->o, rpc_id, status, flags, body, len);
	if (status == ADN_OK && (len != sizeof(got) || (memcpy(&got, body, 4), got != e->index)))
		e->o->bad_body++;
}

/* ---- frames -------------------------------------------------------- */

START_TEST(test_frame_round_trip)
{
	struct adn_hdr h = { .len = 0x01020304, .rpc_id = 0xa1b2c3d4, .method = 0x0506,
			     .kind = ADN_KIND_RESPONSE, .status = ADN_ABORTED,
			     .flags = ADN_F_NET_REPLY, .layout = 0xabcd };
	uint8_t buf[ADN_HDR_LEN];
	const uint8_t want[ADN_HDR_LEN] = { 0x04, 0x03, 0x02, 0x01, 0xd4, 0xc3, 0xb2, 0xa1,
					    0x06, 0x05, 1, 10, 0x01, 0x00, 0xcd, 0xab };
	struct adn_hdr back;

	adn_hdr_encode(&h, buf);
	ck_assert_mem_eq(buf, want, ADN_HDR_LEN);
	adn_hdr_decode(&back, buf);
	ck_assert_mem_eq(&back, &h, sizeof(h));
	ck_assert_uint_eq(sizeof(struct adn_hdr), ADN_HDR_LEN);
}
END_TEST

START_TEST(test_frame_validation)
{
	struct adn_hdr h = { .len = 16, .kind = ADN_KIND_REQUEST };
	ck_assert_ptr_null(adn_hdr_invalid(&h, ADN_KIND_REQUEST));
	ck_assert_ptr_nonnull(adn_hdr_invalid(&h, ADN_KIND_RESPONSE));
	h.len = ADN_FRAME_MAX;
	ck_assert_ptr_null(adn_hdr_invalid(&h, ADN_KIND_REQUEST));
	h.len = ADN_FRAME_MAX + 1;
	ck_assert_ptr_nonnull(adn_hdr_invalid(&h, ADN_KIND_REQUEST));
	h.len = 15;
	ck_assert_str_eq(adn_hdr_invalid(&h, ADN_KIND_REQUEST), "length 15 below 16");
	h.len = 0;
	ck_assert_ptr_nonnull(adn_hdr_invalid(&h, ADN_KIND_REQUEST));
}
END_TEST

START_TEST(test_status_names)
{
	ck_assert_str_eq(adn_status_name(ADN_OK), "OK");
	ck_assert_str_eq(adn_status_name(ADN_PERMISSION_DENIED), "PERMISSION_DENIED");
	ck_assert_str_eq(adn_status_name(ADN_ABORTED), "ABORTED");
	ck_assert_str_eq(adn_status_name(ADN_UNAVAILABLE), "UNAVAILABLE");
	ck_assert_str_eq(adn_status_name(ADN_UNAUTHENTICATED), "UNAUTHENTICATED");
	ck_assert_str_eq(adn_status_name(17), "UNKNOWN_STATUS");
	ck_assert_str_eq(adn_status_name(-1), "UNKNOWN_STATUS");
}
END_TEST

/* ---- client and server together ------------------------------------- */

START_TEST(test_pipelined_calls)
{
	enum { N = 1000 };
	struct server_thread t;
	uint16_t port = start_server(&t, echo_handler);
	struct adn_client *c = open_client(port, 2);
	static struct echo_check checks[N];
	struct outcome o = { 0 };

	for (uint32_t i = 0; i < N; i++) {
		checks[i] = (struct echo_check){ .o = &o, .index = i };
		ck_assert_int_gt(adn_client_call(c, 1, &i, sizeof(i), check_echo, &checks[i]), 0);
	}
	ck_assert_uint_eq(adn_client_outstanding(c), N);
	drain(c, 5);
	ck_assert_int_eq(o.calls, N);
	ck_assert_int_eq(o.ok, N);
	ck_assert_int_eq(o.bad_body, 0);

	struct adn_client_stats st;
	adn_client_get_stats(c, &st);
	ck_assert_uint_eq(st.completed, N);
	ck_assert_uint_eq(st.unknown_replies, 0);
	adn_client_close(c);
	stop_server(&t);
	ck_assert_uint_eq(t.st.requests, N);
	ck_assert_uint_eq(t.st.malformed, 0);
}
END_TEST

START_TEST(test_handler_statuses)
{
	struct server_thread t;
	uint16_t port = start_server(&t, echo_handler);
	struct adn_client *c = open_client(port, 1);
	struct outcome o = { 0 };

	ck_assert_int_gt(adn_client_call(c, 2, "x", 1, count_reply, &o), 0);
	ck_assert_int_gt(adn_client_call(c, 3, "x", 1, count_reply, &o), 0);
	ck_assert_int_gt(adn_client_call(c, 4, "x", 1, count_reply, &o), 0);
	ck_assert_int_gt(adn_client_call(c, 1, NULL, 0, count_reply, &o), 0);
	drain(c, 5);
	ck_assert_int_eq(o.by_status[ADN_NOT_FOUND], 1);
	ck_assert_int_eq(o.by_status[ADN_INTERNAL], 2);
	ck_assert_int_eq(o.ok, 1);
	ck_assert_int_eq(o.local + o.net_replies + o.bad_body, 0);
	adn_client_close(c);
	stop_server(&t);
}
END_TEST

START_TEST(test_call_errors)
{
	char err[256] = "";
	static char big[ADN_FRAME_MAX];
	struct outcome o = { 0 };
	uint16_t port;
	int lfd = raw_listen(&port);
	struct adn_client *c = open_client(port, 1);

	ck_assert_int_eq(adn_client_call(c, 1, big, sizeof(big) - ADN_HDR_LEN + 1,
					 count_reply, &o), -EMSGSIZE);
	ck_assert_int_eq(adn_client_call(c, 1, NULL, 4, count_reply, &o), -EINVAL);
	ck_assert_int_eq(adn_client_call(c, 1, "x", 1, NULL, &o), -EINVAL);
	ck_assert_uint_eq(adn_client_outstanding(c), 0);
	ck_assert_int_eq(adn_client_poll(c, 0), 0);
	adn_client_close(c);
	close(lfd);

	/* The listener is gone: connecting must fail with a reason. */
	ck_assert_ptr_null(adn_client_open("127.0.0.1", port, 1, 0, err, sizeof(err)));
	ck_assert_msg(strstr(err, "cannot connect"), "err: %s", err);
	ck_assert_ptr_null(adn_client_open("127.0.0.1", port, 0, 0, err, sizeof(err)));
	ck_assert_ptr_null(adn_client_open("no.such.host.invalid", port, 1, 0, err, sizeof(err)));
	ck_assert_msg(strstr(err, "resolve"), "err: %s", err);
	ck_assert_ptr_null(adn_server_listen("127.0.0.1", 0, NULL, NULL, err, sizeof(err)));
}
END_TEST

/* All frames queued since the last poll leave in one send per connection:
 * the chain's sk_msg program runs once per sendmsg. */
START_TEST(test_one_send_per_poll)
{
	enum { N = 100 };
	uint16_t port;
	int lfd = raw_listen(&port);
	struct adn_client *c = open_client(port, 1);
	int afd = accept(lfd, NULL, NULL);
	struct outcome o = { 0 };
	static uint8_t frames[N][ADN_HDR_LEN + 8];

	ck_assert_int_ge(afd, 0);
	for (int i = 0; i < N; i++)
		ck_assert_int_gt(adn_client_call(c, 7, "12345678", 8, count_reply, &o), 0);
	ck_assert_int_eq(adn_client_poll(c, 0), 0);

	struct adn_client_stats st;
	adn_client_get_stats(c, &st);
	ck_assert_uint_eq(st.sends, 1);
	ck_assert_int_eq(read_full(afd, frames, sizeof(frames)), 0);
	for (int i = 0; i < N; i++) {
		struct adn_hdr h;
		adn_hdr_decode(&h, frames[i]);
		ck_assert_uint_eq(h.len, ADN_HDR_LEN + 8);
		ck_assert_uint_eq(h.method, 7);
		ck_assert_uint_eq(h.kind, ADN_KIND_REQUEST);
		ck_assert_uint_eq(h.layout, 0x1234);
		ck_assert_mem_eq(frames[i] + ADN_HDR_LEN, "12345678", 8);
	}
	close(afd);
	close(lfd);
	drain(c, 2);
	ck_assert_int_eq(o.by_status[ADN_UNAVAILABLE], N);
	adn_client_close(c);
}
END_TEST

/* Clients that send junk lose their connection; a good client on the
 * same server keeps working. */
START_TEST(test_malformed_clients)
{
	struct server_thread t;
	uint16_t port = start_server(&t, echo_handler);
	struct adn_client *good = open_client(port, 1);
	struct outcome o = { 0 };
	const char *http = "GET / HTTP/1.1\r\nHost: example\r\n\r\n";
	uint8_t zero[ADN_HDR_LEN] = { 0 };
	uint8_t huge[ADN_HDR_LEN], response[ADN_HDR_LEN], big[ADN_HDR_LEN];
	struct adn_hdr h = { .len = 0xffffffffu, .kind = ADN_KIND_REQUEST };
	adn_hdr_encode(&h, huge);
	h = (struct adn_hdr){ .len = ADN_HDR_LEN, .kind = ADN_KIND_RESPONSE };
	adn_hdr_encode(&h, response);
	h = (struct adn_hdr){ .len = ADN_FRAME_MAX + 1, .kind = ADN_KIND_REQUEST };
	adn_hdr_encode(&h, big);
	struct {
		const void *bytes;
		size_t len;
		int shut; /* half-close after sending */
	} junk[] = {
		{ http, strlen(http), 0 },
		{ zero, sizeof(zero), 0 },
		{ huge, sizeof(huge), 0 },
		{ big, sizeof(big), 0 },
		{ response, sizeof(response), 0 },
		{ zero, 8, 1 }, /* a short header, then EOF */
	};
	int njunk = sizeof(junk) / sizeof(junk[0]);

	for (int j = 0; j < njunk; j++) {
		int fd = raw_connect(port);
		ck_assert_int_eq(write(fd, junk[j].bytes, junk[j].len), (ssize_t)junk[j].len);
		if (junk[j].shut)
			shutdown(fd, SHUT_WR);
		for (int i = 0; i < 50; i++)
			ck_assert_int_gt(adn_client_call(good, 1, "ping", 4, count_reply, &o), 0);
		drain(good, 3);
		ck_assert_msg(closed_by_peer(fd, 3), "junk %d: connection not closed", j);
		close(fd);
	}
	ck_assert_int_eq(o.ok, 50 * njunk);
	ck_assert_uint_eq(adn_client_live_conns(good), 1);
	adn_client_close(good);
	stop_server(&t);
	ck_assert_uint_eq(t.st.malformed, njunk);
	ck_assert_uint_eq(t.st.requests, 50 * njunk);
}
END_TEST

/* ---- fake servers: what the network or a broken peer may send -------- */

enum fake_mode { FAKE_NET_REPLY, FAKE_MALFORMED, FAKE_SILENT };

struct fake_server {
	int lfd;
	enum fake_mode mode;
	pthread_t tid;
};

/* Answers requests one by one as the mode says until the client leaves. */
static void *fake_main(void *arg)
{
	struct fake_server *f = arg;
	int fd = accept(f->lfd, NULL, NULL);
	uint8_t frame[ADN_FRAME_MAX];
	struct adn_hdr h;

	for (unsigned n = 0; fd >= 0 && read_full(fd, frame, ADN_HDR_LEN) == 0; n++) {
		adn_hdr_decode(&h, frame);
		if (h.len < ADN_HDR_LEN || h.len > ADN_FRAME_MAX ||
		    read_full(fd, frame + ADN_HDR_LEN, h.len - ADN_HDR_LEN))
			break;
		if (f->mode == FAKE_SILENT)
			continue;
		if (f->mode == FAKE_MALFORMED) {
			h = (struct adn_hdr){ .len = 3, .kind = ADN_KIND_RESPONSE };
			adn_hdr_encode(&h, frame);
			/* the client closes on the first one: a later write may fail */
			if (write(fd, frame, ADN_HDR_LEN) != ADN_HDR_LEN)
				break;
			continue;
		}
		if (n == 1) {
			/* A reply nobody asked for, before the real one. */
			struct adn_hdr u = h;
			u.rpc_id += 1000;
			u.len = ADN_HDR_LEN;
			u.kind = ADN_KIND_RESPONSE;
			uint8_t ub[ADN_HDR_LEN];
			adn_hdr_encode(&u, ub);
			ck_assert_int_eq(write(fd, ub, sizeof(ub)), (ssize_t)sizeof(ub));
		}
		/* Even requests: what the eBPF chain makes of a dropped one:
		 * the request frame itself, turned into a response. Odd: OK. */
		h.kind = ADN_KIND_RESPONSE;
		if (n % 2 == 0) {
			h.status = ADN_PERMISSION_DENIED;
			h.flags = ADN_F_NET_REPLY;
		} else {
			h.len = ADN_HDR_LEN;
		}
		adn_hdr_encode(&h, frame);
		ck_assert_int_eq(write(fd, frame, h.len), (ssize_t)h.len);
	}
	if (fd >= 0)
		close(fd);
	return NULL;
}

static uint16_t start_fake(struct fake_server *f, enum fake_mode mode)
{
	uint16_t port;
	f->lfd = raw_listen(&port);
	f->mode = mode;
	ck_assert_int_eq(pthread_create(&f->tid, NULL, fake_main, f), 0);
	return port;
}

static void stop_fake(struct fake_server *f)
{
	pthread_join(f->tid, NULL);
	close(f->lfd);
}

START_TEST(test_net_replies_and_unknown_ids)
{
	struct fake_server f;
	struct adn_client *c = open_client(start_fake(&f, FAKE_NET_REPLY), 1);
	struct outcome o = { 0 };

	for (int i = 0; i < 10; i++)
		ck_assert_int_gt(adn_client_call(c, 1, "alice", 5, count_reply, &o), 0);
	drain(c, 3);
	ck_assert_int_eq(o.calls, 10);
	ck_assert_int_eq(o.ok, 5);
	ck_assert_int_eq(o.by_status[ADN_PERMISSION_DENIED], 5);
	ck_assert_int_eq(o.net_replies, 5);
	ck_assert_int_eq(o.bad_body + o.local, 0);

	struct adn_client_stats st;
	adn_client_get_stats(c, &st);
	ck_assert_uint_eq(st.unknown_replies, 1);
	ck_assert_uint_eq(adn_client_live_conns(c), 1);
	adn_client_close(c);
	stop_fake(&f);
}
END_TEST

START_TEST(test_malformed_server)
{
	struct fake_server f;
	struct adn_client *c = open_client(start_fake(&f, FAKE_MALFORMED), 1);
	struct outcome o = { 0 };

	for (int i = 0; i < 5; i++)
		ck_assert_int_gt(adn_client_call(c, 1, "x", 1, count_reply, &o), 0);
	drain(c, 3);
	ck_assert_int_eq(o.by_status[ADN_UNAVAILABLE], 5);
	ck_assert_int_eq(o.local, 5);
	ck_assert_uint_eq(adn_client_live_conns(c), 0);
	ck_assert_msg(strstr(adn_client_error(c), "malformed"), "error: %s",
		      adn_client_error(c));
	struct adn_client_stats st;
	adn_client_get_stats(c, &st);
	ck_assert_uint_eq(st.malformed, 1);
	ck_assert_int_eq(adn_client_call(c, 1, "x", 1, count_reply, &o), -ENOTCONN);
	adn_client_close(c);
	stop_fake(&f);
}
END_TEST

START_TEST(test_deadline)
{
	struct fake_server f;
	struct adn_client *c = open_client(start_fake(&f, FAKE_SILENT), 1);
	struct outcome o = { 0 };

	adn_client_set_timeout(c, 100);
	double t0 = now_s();
	for (int i = 0; i < 20; i++)
		ck_assert_int_gt(adn_client_call(c, 1, "x", 1, count_reply, &o), 0);
	drain(c, 3);
	ck_assert_int_eq(o.by_status[ADN_DEADLINE_EXCEEDED], 20);
	ck_assert_int_eq(o.local, 20);
	ck_assert(now_s() - t0 < 1.0);
	adn_client_close(c);
	stop_fake(&f);
}
END_TEST

/* Never answers, so calls stay outstanding until the server dies. */
static int stuck_handler(void *user, uint16_t method, const void *req, size_t req_len,
			 void *resp, size_t cap, size_t *resp_len)
{
	(void)user, (void)method, (void)req, (void)req_len, (void)resp, (void)cap,
		(void)resp_len;
	for (;;)
		pause();
	return ADN_INTERNAL;
}

START_TEST(test_server_dies)
{
	char err[256];
	struct adn_server *srv = adn_server_listen("127.0.0.1", 0, stuck_handler, NULL, err,
						   sizeof(err));
	ck_assert_msg(srv, "listen: %s", err);
	uint16_t port = adn_server_port(srv);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		static volatile sig_atomic_t never;
		adn_server_run(srv, &never);
		_exit(0);
	}
	adn_server_close(srv); /* the child keeps its copies */

	struct adn_client *c = open_client(port, 3);
	struct outcome o = { 0 };
	for (int i = 0; i < 60; i++)
		ck_assert_int_gt(adn_client_call(c, 1, "x", 1, count_reply, &o), 0);
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(adn_client_poll(c, 25), 0);
	ck_assert_uint_eq(adn_client_outstanding(c), 60);

	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	drain(c, 3);
	ck_assert_int_eq(o.calls, 60);
	ck_assert_int_eq(o.by_status[ADN_UNAVAILABLE], 60);
	ck_assert_int_eq(o.local, 60);
	ck_assert_uint_eq(adn_client_live_conns(c), 0);
	ck_assert_int_eq(adn_client_call(c, 1, "x", 1, count_reply, &o), -ENOTCONN);
	adn_client_close(c);
}
END_TEST

static Suite *rpc_suite(void)
{
	Suite *s = suite_create("rpc");
	TCase *frames = tcase_create("frames");
	TCase *loop = tcase_create("loopback");

	tcase_add_test(frames, test_frame_round_trip);
	tcase_add_test(frames, test_frame_validation);
	tcase_add_test(frames, test_status_names);
	tcase_add_test(loop, test_pipelined_calls);
	tcase_add_test(loop, test_handler_statuses);
	tcase_add_test(loop, test_call_errors);
	tcase_add_test(loop, test_one_send_per_poll);
	tcase_add_test(loop, test_malformed_clients);
	tcase_add_test(loop, test_net_replies_and_unknown_ids);
	tcase_add_test(loop, test_malformed_server);
	tcase_add_test(loop, test_deadline);
	tcase_add_test(loop, test_server_dies);
	tcase_set_timeout(loop, 10);
	suite_add_tcase(s, frames);
	suite_add_tcase(s, loop);
	return s;
}

int main(void)
{
	/* The fake servers write with plain write() to a client that may have
	 * closed already (it does, on a malformed reply): EPIPE, not a signal. */
	signal(SIGPIPE, SIG_IGN);
	SRunner *sr = srunner_create(rpc_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
