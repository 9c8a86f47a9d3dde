/* SPDX-License-Identifier: MIT */
/* Name resolution, connect, listen, socket options, time, error text. */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "rpc_internal.h"
#include "sock.h"

void adn_errf(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

uint64_t adn_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}


/* The port a bound socket got (port 0 asks the kernel to choose). */
int adn_sock_bound_port(int fd, uint16_t *port, char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &sl) < 0) {
		adn_errf(err, errlen, "getsockname: %s", strerror(errno));
		return -1;
	}
	*port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
					       : ((struct sockaddr_in *)&ss)->sin_port);
	return 0;
}

int adn_sock_tune(int fd)
{
	int one = 1;
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -errno;
	/* Frames are small and latency matters: never wait for Nagle. */
	if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0)
		return -errno;
	/* Marks the bytes a read took from the TCP stream (see adn_buf_read). */
	if (setsockopt(fd, IPPROTO_TCP, TCP_INQ, &one, sizeof(one)) < 0)
		return -errno;
	return 0;
}

int adn_sock_resolve(const char *host, uint16_t port, int passive, int socktype,
		     struct addrinfo **res, char *err, size_t errlen)
{
	struct addrinfo hints = {
		.ai_family = AF_UNSPEC,
		.ai_socktype = socktype,
		.ai_flags = passive ? AI_PASSIVE : 0,
	};
	char service[8];

	if (passive && (!host || !*host)) {
		host = "0.0.0.0";
		hints.ai_family = AF_INET;
	}
	snprintf(service, sizeof(service), "%u", port);
	int rc = getaddrinfo(host, service, &hints, res);
	if (rc) {
		adn_errf(err, errlen, "cannot resolve '%s': %s", host, gai_strerror(rc));
		return -1;
	}
	return 0;
}

int adn_sock_dial(const char *host, uint16_t port, int socktype, int flags, const char *what,
		  char *err, size_t errlen)
{
	struct addrinfo *res, *ai;
	int fd = -1, saved = 0;

	if (!host || !*host)
		host = "127.0.0.1";
	if (adn_sock_resolve(host, port, 0, socktype, &res, err, errlen))
		return -1;
	for (ai = res; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | flags, ai->ai_protocol);
		if (fd < 0) {
			saved = errno;
			continue;
		}
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		saved = errno;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0)
		adn_errf(err, errlen, "cannot connect%s to %s port %u: %s", what, host, port,
			 strerror(saved));
	return fd;
}

int adn_sock_connect(const char *host, uint16_t port, char *err, size_t errlen)
{
	/* Connect blocking, so that an unreachable server is reported by
	 * adn_client_open() rather than by the first call. */
	int fd = adn_sock_dial(host, port, SOCK_STREAM, SOCK_CLOEXEC, "", err, errlen);
	if (fd < 0)
		return -1;
	int rc = adn_sock_tune(fd);
	if (rc) {
		adn_errf(err, errlen, "cannot set socket options: %s", strerror(-rc));
		close(fd);
		return -1;
	}
	return fd;
}

int adn_sock_listen(const char *addr, uint16_t port, uint16_t *bound,
		    char *err, size_t errlen)
{
	struct addrinfo *res;
	const char *shown = (addr && *addr) ? addr : "0.0.0.0";
	int one = 1;

	if (adn_sock_resolve(addr, port, 1, SOCK_STREAM, &res, err, errlen))
		return -1;
	int fd = socket(res->ai_family, res->ai_socktype | SOCK_CLOEXEC, res->ai_protocol);
	if (fd < 0) {
		adn_errf(err, errlen, "socket: %s", strerror(errno));
		freeaddrinfo(res);
		return -1;
	}
	/* Restarting a server must not wait for TIME_WAIT to expire. */
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, res->ai_addr, res->ai_addrlen) < 0) {
		adn_errf(err, errlen, "cannot bind %s port %u: %s", shown, port,
			 strerror(errno));
		goto fail;
	}
	if (listen(fd, 1024) < 0) {
		adn_errf(err, errlen, "cannot listen on %s port %u: %s", shown, port,
			 strerror(errno));
		goto fail;
	}
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) {
		adn_errf(err, errlen, "fcntl: %s", strerror(errno));
		goto fail;
	}
	if (adn_sock_bound_port(fd, bound, err, errlen))
		goto fail;
	freeaddrinfo(res);
	return fd;
fail:
	close(fd);
	freeaddrinfo(res);
	return -1;
}
