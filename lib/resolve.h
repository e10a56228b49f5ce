/*
 * A host name's lookup with a bounded wait: getaddrinfo() runs on a thread of its
 * own (detached, every signal blocked), and the caller waits for it only as long
 * as it chooses; a lookup that outlives the wait finishes on its thread and frees
 * itself.  For the region's creator and for evthrottled's rounds, never for a
 * decision (lib/endpoint.h).
 */
#ifndef EVT_RESOLVE_H
#define EVT_RESOLVE_H

#include <stdint.h>

#include "endpoint.h"

struct resolve_job;

/* Start looking host up (its address for port): 0 with *out, or -ENOMEM, -EAGAIN
 * (no thread), -ENAMETOOLONG.  Thread-safe. */
int resolve_start(const char *host, uint16_t port, struct resolve_job **out);

/* The addresses of an answer kept (IPv4 ones first). */
#define RESOLVE_KEPT 8

/* Wait for j's answer until deadline (evt_now_ns()'s clock; one already past:
 * no wait): 0 with *code 0 and *out: keep (NULL: none) if the answer holds it,
 * else its first address (IPv4 preferred, as hiredis did); or 0 with *code the
 * failure (EAI_* or RESOLVE_NO_ADDRESS); -EINPROGRESS: no answer yet.  One
 * thread at a time per job. */
int resolve_wait(struct resolve_job *j, uint64_t deadline, const struct endpoint_addr *keep,
                 struct endpoint_addr *out, int *code);

/* Let go of j, answered or not (its thread frees it if still looking). */
void resolve_drop(struct resolve_job *j);

/* start, wait for timeout_ns, drop: 0 with *out, or -EHOSTUNREACH with *code what
 * failed (EAI_* or RESOLVE_*; RESOLVE_TIMED_OUT when no answer came in time). */
int resolve_within(const char *host, uint16_t port, uint64_t timeout_ns,
                   struct endpoint_addr *out, int *code);

#endif /* EVT_RESOLVE_H */
