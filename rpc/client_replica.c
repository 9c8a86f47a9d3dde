/* SPDX-License-Identifier: MIT */
/*
 * A client over a replica set, for chains that ROUTE TO REPLICA
 * (docs/rpc-library.md, "Replicas"). The kernel, not the library, picks
 * the replica of each call:
 *
 *  - TCP: one connection per replica, all bound to the SAME local address
 *    and port (SO_REUSEADDR; the 4-tuples differ by the remote address).
 *    The sk_msg program of the chain finds "this client's connection to
 *    replica r" in its SOCKHASH from its own local address and port plus
 *    r's address and port, and redirects each request there; the reply
 *    comes back on that connection. The library writes calls on any live
 *    connection and takes replies on all of them.
 *  - UDP: one socket, not connected: requests go to the first replica's
 *    address, TC at the client's egress rewrites the destination to the
 *    chosen replica, and the reply is taken from whichever address.
 */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "client_internal.h"

#define DEFAULT_GRACE_MS 1000

/* A blocking connect to host:port from local (when llen is not 0), with
 * SO_REUSEADDR so that every replica connection can share the local port;
 * the local address it got in *got. The socket, tuned, or -1 with err. */
static int connect_from(const char *host, uint16_t port, const struct sockaddr_storage *local,
			socklen_t llen, struct sockaddr_storage *got, socklen_t *glen,
			char *err, size_t errlen)
{
	struct addrinfo *res, *ai;
	int fd = -1, saved = EAFNOSUPPORT, one = 1;

	if (adn_sock_resolve(host, port, 0, SOCK_STREAM, &res, err, errlen))
		return -1;
	for (ai = res; ai; ai = ai->ai_next) {
		if (llen && ai->ai_family != local->ss_family)
			continue; /* one local address for all: one family */
		fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0) {
			saved = errno;
			continue;
		}
		if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == 0 &&
		    (!llen || bind(fd, (const struct sockaddr *)local, llen) == 0) &&
		    connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		saved = errno;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0) {
		adn_errf(err, errlen, "cannot connect to %s port %u: %s", host, port, strerror(saved));
		return -1;
	}
	*glen = sizeof(*got);
	int rc = getsockname(fd, (struct sockaddr *)got, glen) < 0 ? -errno : adn_sock_tune(fd);
	if (rc) {
		adn_errf(err, errlen, "socket setup: %s", strerror(-rc));
		close(fd);
		return -1;
	}
	return fd;
}

static bool check_args(const char *const hosts[], const uint16_t ports[], unsigned n,
		       char *err, size_t errlen)
{
	if (!hosts || !ports || n < 1 || n > 1024) {
		adn_errf(err, errlen, "number of replicas %u not in 1..1024", n);
		return false;
	}
	for (unsigned i = 0; i < n; i++)
		if (!hosts[i] || !*hosts[i] || !ports[i]) {
			adn_errf(err, errlen, "replica %u: no address or port", i);
			return false;
		}
	return true;
}

struct adn_client *adn_client_open_replicas(const char *const hosts[], const uint16_t ports[],
					    unsigned n, uint16_t layout, char *err, size_t errlen)
{
	struct sockaddr_storage local;
	socklen_t llen = 0;
	char why[200];

	if (!check_args(hosts, ports, n, err, errlen))
		return NULL;
	struct adn_client *c = adn_cl_new(n, layout, err, errlen);
	if (!c)
		return NULL;
	c->replicas = true;
	c->grace_ns = (uint64_t)DEFAULT_GRACE_MS * 1000000u;
	for (unsigned i = 0; i < n; i++) {
		struct sockaddr_storage got;
		socklen_t glen;
		int fd = connect_from(hosts[i], ports[i], &local, llen, &got, &glen, why, sizeof(why));
		if (fd < 0 || adn_cl_add_conn(c, i, fd, why, sizeof(why))) {
			adn_errf(err, errlen, "replica %u: %s", i, why);
			adn_client_close(c);
			return NULL;
		}
		if (!llen) {
			local = got; /* the others share this address and port */
			llen = glen;
		}
	}
	return c;
}

struct adn_client *adn_client_open_replicas_udp(const char *const hosts[], const uint16_t ports[],
						unsigned n, uint16_t layout, char *err, size_t errlen)
{
	if (!check_args(hosts, ports, n, err, errlen))
		return NULL;
	return adn_udp_open(hosts[0], ports[0], layout, true, err, errlen);
}

void adn_client_set_replica_grace(struct adn_client *c, unsigned grace_ms)
{
	c->grace_ns = (uint64_t)(grace_ms ? grace_ms : 1) * 1000000u;
}

bool adn_cl_conn_sound(int fd)
{
	struct tcp_info ti;
	socklen_t len = sizeof(ti);
	int soerr = 0;
	socklen_t elen = sizeof(soerr);

	/* SO_ERROR first: reading it clears it, and a socket with an error
	 * is not sound whatever its state */
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &elen) < 0 || soerr)
		return false;
	if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) < 0)
		return false;
	return ti.tcpi_state == TCP_ESTABLISHED;
}
