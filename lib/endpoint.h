/*
 * Where a global throttle's Redis is, as an address a decision can connect to
 * without looking anything up (docs/design.md §10, "Endpoints").  A numeric host
 * is its own address.  A host name is resolved outside every decision, by the
 * region's creator and then by evthrottled each housekeeping round (lib/resolve.h),
 * and published in the region's global block, which a decision's connect reads:
 * no decision ever calls the resolver.
 */
#ifndef EVT_ENDPOINT_H
#define EVT_ENDPOINT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "region.h"

/* A numeric TCP address. */
struct endpoint_addr {
	uint16_t family;   /* AF_INET or AF_INET6 */
	uint16_t port;     /* host order */
	uint8_t bytes[16]; /* network order; AF_INET: the first 4 */
};

/* The longest "ADDR:PORT" or "[ADDR6]:PORT", with its NUL. */
#define ENDPOINT_ADDR_TEXT 56

/* Codes of a failed resolution besides getaddrinfo()'s EAI_* (which are negative
 * in glibc), for endpoint_strerror(). */
enum {
	RESOLVE_TIMED_OUT = 1,  /* no answer by the resolution's bound */
	RESOLVE_NO_ADDRESS = 2, /* an answer, without an IPv4 or IPv6 address */
	RESOLVE_NO_THREAD = 3,  /* the resolver's thread could not be started */
};

/* host as a numeric address: dotted IPv4, or IPv6 (bare or in brackets).  0 with
 * *out, or -EINVAL (not numeric).  Never a lookup. */
int endpoint_numeric(const char *host, uint16_t port, struct endpoint_addr *out);

/* Could host be looked up: numeric, or a host name (letters, digits, '-', '_',
 * dots between labels of up to 63)? */
bool endpoint_host_valid(const char *host);

/* Publish a as b's resolved address.  One writer at a time (the creator before
 * the region is ready, then the daemon that holds the region's lock); readers
 * never wait for it.  Lock-free, no syscall. */
void endpoint_publish(struct region_global *b, const struct endpoint_addr *a);

/* b's published address: 0 with *out; -ENOENT: none published yet; -EAGAIN: a
 * writer was midway through every try (one that died there: the next writer
 * repairs it); -EBADMSG: its family is neither AF_INET nor AF_INET6 (a corrupt
 * region: the next writer repairs it too).  Any thread, any process; no lock, at most a few sched_yield(). */
int endpoint_published(const struct region_global *b, struct endpoint_addr *out);

/* Note the outcome of a resolution of b's host in its status: code 0 (the address
 * published), or what it failed with (RESOLVE_* or EAI_*). */
void endpoint_note(struct region_global *b, int code);

/* The address a connection to host:port (b's endpoint) goes to: the numeric host
 * itself, or the address published for the name.  0 with *out, or -EHOSTUNREACH
 * (none published: why says "HOST: not resolved yet" or the resolver's error;
 * or a corrupt one, of another family or of a port not the endpoint's: never
 * connected to) or -EAGAIN (as endpoint_published()), with why filled. */
int endpoint_address(const struct region_global *b, const char *host, uint16_t port,
                     struct endpoint_addr *out, char *why, size_t size);

/* a as a socket address in *ss: its length. */
socklen_t endpoint_sockaddr(const struct endpoint_addr *a, struct sockaddr_storage *ss);

/* "ADDR:PORT" or "[ADDR6]:PORT" into buf (ENDPOINT_ADDR_TEXT bytes); buf. */
char *endpoint_format(const struct endpoint_addr *a, char *buf, size_t size);

bool endpoint_same(const struct endpoint_addr *a, const struct endpoint_addr *b);

/* What a resolution's code (RESOLVE_* or EAI_*) means, for people. */
const char *endpoint_strerror(int code);

#endif /* EVT_ENDPOINT_H */
