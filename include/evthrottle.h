/*
 * evthrottle: a per-key event throttle shared by the processes of one host.
 *
 * For each key only the first event within a window is processed:
 *
 *     process(ts, key)  iff  key has no processed event yet,  or  ts - last[key] >= window
 *     on process:       last[key] = ts
 *     an event with ts < last[key] is throttled, and a throttled event changes nothing.
 *
 * The state lives in a POSIX shared-memory object (/dev/shm/evthrottle.<name>) that
 * every process maps; evt_should_process() decides with a few atomic operations on
 * that mapping: no syscall, no lock, no allocation.  Timestamps and windows are
 * unsigned 64-bit nanoseconds on a clock every sharing process agrees on
 * (evt_now_ns(), or the caller's own, e.g. exchange timestamps).
 *
 * Errors: every fallible call returns 0 (or a result >= 0) on success and a negative
 * errno on failure; evt_strerror() names the cause.  The library never exits,
 * aborts, prints or raises signals.
 *
 * Thread safety: a handle may be used by any number of threads at once, except that
 * evt_close() must not race with any other call on the same handle.  Handles from
 * different processes (or several in one process) on the same name share state.
 */
#ifndef EVTHROTTLE_H
#define EVTHROTTLE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define EVT_VERSION_MAJOR 1
#define EVT_VERSION_MINOR 0

/* Longest throttle name accepted by evt_create()/evt_attach(). */
#define EVT_NAME_MAX 200

/* What evt_should_process() does for a new key when its neighbourhood of the table
 * has no free slot and nothing that may be reclaimed. */
enum evt_on_full {
	EVT_ON_FULL_THROTTLE = 0, /* answer 0: drop the event (fail closed) */
	EVT_ON_FULL_PROCESS = 1,  /* answer 1 without tracking the key (fail open) */
	EVT_ON_FULL_ERROR = 2,    /* answer -ENOSPC */
};

typedef struct evt_throttle evt_throttle; /* process-local handle */

typedef struct evt_options {
	uint64_t window_ns;  /* throttling window, > 0 */
	uint32_t capacity;   /* table slots, rounded up to a power of two, 64 .. 2^28;
	                        plan for at most ~75% of it live at once */
	uint32_t key_max;    /* longest key in bytes, 1 .. 1024; 32 or less keeps a
	                        slot in one 64-byte cache line */
	uint32_t mode;       /* permission bits of the shm object (named throttles) */
	uint32_t on_full;    /* enum evt_on_full */
	uint32_t client_max; /* read-write handles attached at once, 1 .. 65535 */
	uint32_t reserved;   /* must be 0 */
} evt_options;

/* Defaults: 10 s window, 131072 slots, 32-byte keys, mode 0660, throttle when full,
 * 256 clients. */
#define EVT_OPTIONS_INIT                                                              \
	{                                                                             \
		.window_ns = 10000000000ull, .capacity = 131072, .key_max = 32,       \
		.mode = 0660, .on_full = EVT_ON_FULL_THROTTLE, .client_max = 256,     \
		.reserved = 0                                                         \
	}

/* evt_attach() flags */
#define EVT_RDONLY 0x1u /* map read-only: decisions and changes fail with -EROFS */

/* Bits evt_should_process_ex() reports in *info. */
#define EVT_INFO_NEW_KEY 0x1u   /* the key was not tracked and is now */
#define EVT_INFO_RECLAIMED 0x2u /* an expired key's slot was reused for it */
#define EVT_INFO_FULL 0x4u      /* no room: the answer is the on_full policy's */

/* Totals over every client that ever attached (and per client in the tools). */
typedef struct evt_stats {
	uint64_t window_ns;
	uint64_t processed;  /* answers 1 */
	uint64_t throttled;  /* answers 0 */
	uint64_t new_keys;   /* keys inserted */
	uint64_t reclaimed;  /* expired keys whose slot was reused */
	uint64_t cleared;    /* keys removed by evt_clear()/evt_clear_key() */
	uint64_t full;       /* decisions made by the on_full policy */
	uint64_t keys;       /* keys tracked now */
	uint64_t horizon_ns; /* reclaim horizon: keys whose last + window <= it may go */
	uint32_t capacity;
	uint32_t key_max;
	uint32_t clients;    /* read-write handles attached now */
	uint32_t client_max;
	uint32_t on_full;
	uint32_t reserved;
} evt_stats;

/*
 * Create a throttle.  name: [A-Za-z0-9_.-], 1..EVT_NAME_MAX bytes, not starting with
 * '.'; the region is /dev/shm/evthrottle.<name>, created with o->mode and its space
 * reserved up front, so a full /dev/shm fails here rather than later.  The object
 * is made under a hidden name and renamed into place once ready, so an attacher
 * never sees it half made.  name NULL makes a private anonymous throttle shared
 * with children forked afterwards.
 * o NULL means EVT_OPTIONS_INIT.  On success *out is a read-write handle.
 * Errors: -EINVAL (bad name or option), -EEXIST (a region of that name exists),
 *         -EACCES, -ENOSPC (no room in /dev/shm), -ENOMEM, -EMFILE.
 * Thread-safe.
 */
int evt_create(const char *name, const evt_options *o, evt_throttle **out);

/*
 * Attach to an existing throttle.  flags: 0 for read-write, EVT_RDONLY for
 * read-only (needs only read permission on the object).  Every header field is
 * checked against the object's size before use.  A read-write handle takes one of
 * the region's client slots and keeps a descriptor of the object open (close-on-
 * exec) holding a lock on that slot: the slot is freed by evt_close(), or by the
 * next attach or the daemon once no process holds the handle any more (the kernel
 * dropped the lock: every holder closed, exec'd or died).  No pid is compared,
 * so clients may live in different pid namespaces.
 * Errors: -EINVAL (bad name or flags), -ENOENT (no such throttle), -EACCES,
 *         -EBADMSG (not an evthrottle region, truncated or corrupt header),
 *         -EPROTONOSUPPORT (made by an incompatible major version),
 *         -EAGAIN (still being created: only a region made in place by an older
 *         library; this one publishes a region ready), -EUSERS (all client slots
 *         taken), -ENOLCK (no lock for the client slot),
 *         -ENOMEM, -EMFILE.
 * Thread-safe.
 */
int evt_attach(const char *name, unsigned flags, evt_throttle **out);

/* Detach and free the handle; the region and its state stay.  NULL is a no-op.
 * A child forked after the handle was opened may use it, even after the opening
 * process exited, and close its copy: the client slot stays in use while any
 * process holds the handle.  The opening process's evt_close() gives the slot back
 * at once, after which no copy may be used; otherwise the reaper frees it once the
 * last holder closed it or died.  Not thread-safe with other calls on the same
 * handle. */
void evt_close(evt_throttle *t);

/*
 * Remove the named region (other processes keep their mappings until they close).
 * Errors: -EINVAL, -ENOENT, -EACCES.  Thread-safe.
 */
int evt_unlink(const char *name);

/*
 * Decide one event: 1 process, 0 throttle, or a negative errno.  event_id may be
 * NULL and takes no part in the decision.  No syscall, no lock, no allocation.
 * Errors: -EINVAL (t or key NULL, key_len 0), -EMSGSIZE (key_len > key_max),
 *         -EROFS (read-only handle), -ENOSPC (table full and on_full = error).
 * Thread-safe; linearizable per key across all threads and processes.
 */
int evt_should_process(evt_throttle *t, uint64_t ts_ns, const char *event_id,
                       const void *key, size_t key_len);

/* evt_should_process() that also reports EVT_INFO_* bits in *info (may be NULL):
 * set on every return, 0 when there is nothing to report. */
int evt_should_process_ex(evt_throttle *t, uint64_t ts_ns, const char *event_id,
                          const void *key, size_t key_len, unsigned *info);

/* One event of evt_should_process_batch(): the caller fills the inputs. */
typedef struct evt_event {
	uint64_t ts_ns;  /* in: the event's timestamp */
	const void *key; /* in: the key, key_len bytes */
	size_t key_len;  /* in */
	int result;      /* out: what evt_should_process() would have returned */
	unsigned info;   /* out: EVT_INFO_* bits, as evt_should_process_ex() */
} evt_event;

/*
 * Decide n events in array order, with exactly the answers of n calls of
 * evt_should_process() in that order (a key repeated in the batch sees its own
 * earlier decision).  Faster than those calls when the keys' slots are not in
 * cache: the slots of up to 16 events are fetched together, so their misses
 * overlap.  For a feed handler draining a burst of events.
 * Each event's own errors go in its result (-EINVAL key NULL or key_len 0,
 * -EMSGSIZE, -ENOSPC) and do not stop the batch.
 * Returns how many events were processed (result 1), or, deciding nothing:
 * -EINVAL (t NULL, events NULL with n > 0, n > INT_MAX), -EROFS (read-only handle).
 * Thread-safe, as evt_should_process(); each event is one linearizable decision.
 */
int evt_should_process_batch(evt_throttle *t, evt_event *events, size_t n);

/*
 * Start fetching the memory a decision on key reads first (the first cache line
 * of its home slot, where most keys live) into this CPU's cache, and return at
 * once: a hint that changes nothing.  A decision on a key whose slot is not in
 * cache waits about one memory access (100-200 ns); a caller that knows a key
 * before it decides it (when a message is parsed, or a few events ahead in a
 * pipeline) calls this first, so that the later evt_should_process() finds the
 * slot in cache.  It hashes the key (the decision
 * hashes it again) and issues one prefetch instruction: no syscall, no lock, no
 * write.  Prefetching too early is wasted if the line is evicted before the
 * decision; prefetching a key that is never decided costs only the call.
 * Errors: exactly those of evt_should_process() for t and the key (-EINVAL,
 *         -EMSGSIZE, -EROFS); nothing is fetched then.
 * Thread-safe.
 */
int evt_prefetch(const evt_throttle *t, const void *key, size_t key_len);

/*
 * Set the window for every later decision of every process.
 * Errors: -EINVAL (window_ns 0 or t NULL), -EROFS.  Thread-safe.
 */
int evt_update_window(evt_throttle *t, uint64_t window_ns);

/* The current window in ns (0 if t is NULL).  Thread-safe. */
uint64_t evt_get_window(const evt_throttle *t);

/*
 * Forget every key; returns how many were removed.  Each key is removed
 * atomically; a decision racing with the clear sees its key either before or after
 * its removal.
 * Errors: -EINVAL, -EROFS.  Thread-safe.
 */
int evt_clear(evt_throttle *t);

/*
 * Forget one key: returns 1 if it was tracked, 0 if not.
 * Errors: -EINVAL, -EMSGSIZE, -EROFS.  Thread-safe.
 */
int evt_clear_key(evt_throttle *t, const void *key, size_t key_len);

/* Keys tracked now (a moment's snapshot; 0 if t is NULL).  Thread-safe. */
size_t evt_key_count(const evt_throttle *t);

/* Fill *out with the region's totals.  Errors: -EINVAL.  Thread-safe. */
int evt_stats_get(const evt_throttle *t, evt_stats *out);

/* CLOCK_MONOTONIC in ns: one clock for every process of the host, read through the
 * vDSO (no syscall).  Thread-safe. */
uint64_t evt_now_ns(void);

/* A static, human message for a negative (or positive) errno returned by this
 * library.  Never NULL.  Thread-safe. */
const char *evt_strerror(int err);

#ifdef __cplusplus
}
#endif

#endif /* EVTHROTTLE_H */
