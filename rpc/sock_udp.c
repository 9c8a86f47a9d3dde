/* SPDX-License-Identifier: MIT */
/* UDP sockets: a connected client socket, a bound server socket. */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "rpc_internal.h"
#include "sock.h"

/* Room for bursts of pipelined datagrams: the default (~200 KiB) holds
 * only a few hundred small frames. Best effort: capped by net.core.*mem_max. */
#define UDP_SOCKBUF (4 << 20)

static void enlarge_buffers(int fd)
{
	int sz = UDP_SOCKBUF;

	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
}

int adn_sock_udp_connect(const char *host, uint16_t port, char *err, size_t errlen)
{
	/* A connected socket: send() needs no address, and the kernel
	 * delivers only datagrams from the server's address and port. */
	int fd = adn_sock_dial(host, port, SOCK_DGRAM, SOCK_NONBLOCK | SOCK_CLOEXEC, " UDP", err,
			       errlen);
	if (fd < 0)
		return -1;
	enlarge_buffers(fd);
	return fd;
}

int adn_sock_udp_open(const char *host, uint16_t port, struct sockaddr_storage *dst,
		      unsigned *dstlen, char *err, size_t errlen)
{
	struct addrinfo *res;
	int fd;

	if (adn_sock_resolve(host, port, 0, SOCK_DGRAM, &res, err, errlen))
		return -1;
	fd = socket(res->ai_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		adn_errf(err, errlen, "socket: %s", strerror(errno));
		freeaddrinfo(res);
		return -1;
	}
	memcpy(dst, res->ai_addr, res->ai_addrlen);
	*dstlen = (unsigned)res->ai_addrlen;
	freeaddrinfo(res);
	enlarge_buffers(fd);
	return fd;
}

int adn_sock_udp_bind(const char *addr, uint16_t port, uint16_t *bound,
		      char *err, size_t errlen)
{
	struct addrinfo *res;
	const char *shown = (addr && *addr) ? addr : "0.0.0.0";

	if (adn_sock_resolve(addr, port, 1, SOCK_DGRAM, &res, err, errlen))
		return -1;
	int fd = socket(res->ai_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		adn_errf(err, errlen, "socket: %s", strerror(errno));
		freeaddrinfo(res);
		return -1;
	}
	if (bind(fd, res->ai_addr, res->ai_addrlen) < 0) {
		adn_errf(err, errlen, "cannot bind UDP %s port %u: %s", shown, port,
			 strerror(errno));
		goto fail;
	}
	if (adn_sock_bound_port(fd, bound, err, errlen))
		goto fail;
	enlarge_buffers(fd);
	freeaddrinfo(res);
	return fd;
fail:
	close(fd);
	freeaddrinfo(res);
	return -1;
}
