/* Helpers shared by test_rpc.c and test_rpc_udp.c: the monotonic clock,
 * polling a client until its calls complete, and a library server run in
 * a thread. */
#ifndef ADN_TEST_RPC_UTIL_H
#define ADN_TEST_RPC_UTIL_H

#include <check.h>
#include <pthread.h>
#include <signal.h>
#include <time.h>

#include "adn_rpc.h"

/* CLOCK_MONOTONIC in seconds. */
static inline double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Polls c until nothing is outstanding or secs pass. */
static inline void drain(struct adn_client *c, double secs)
{
	double end = now_s() + secs;
	while (adn_client_outstanding(c) && now_s() < end)
		ck_assert_int_ge(adn_client_poll(c, 50), 0);
}

/* A library server run by its own thread until stop_server(). */
struct server_thread {
	struct adn_server *srv;
	pthread_t tid;
	volatile sig_atomic_t stop;
	struct adn_server_stats st; /* read after stop_server() */
};

static inline void *server_main(void *arg)
{
	struct server_thread *t = arg;
	adn_server_run(t->srv, &t->stop);
	return NULL;
}

/* Starts the thread of t->srv (listening); its port. */
static inline uint16_t server_thread_start(struct server_thread *t)
{
	ck_assert_int_eq(pthread_create(&t->tid, NULL, server_main, t), 0);
	return adn_server_port(t->srv);
}

/* Stops and joins the thread, keeps the server's stats in t->st, closes it. */
static inline void stop_server(struct server_thread *t)
{
	t->stop = 1;
	pthread_join(t->tid, NULL);
	adn_server_get_stats(t->srv, &t->st);
	adn_server_close(t->srv);
}

#endif /* ADN_TEST_RPC_UTIL_H */
