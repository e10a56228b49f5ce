/*
 * evthrottle: a per-key event throttle shared by the processes of one host.
 *
 * For each key only the first event within a window is processed:
 *
 *     process(ts, key)  iff  key has no processed event yet,  or  ts - last[key] >= window
 *     on process:       last[key] = ts
 *     an event with ts < last[key] is throttled, and a throttled event changes nothing.
 *
 * That is limit 1, the default.  Under a limit N (evt_update_limit()), a key's
 * window opens at a processed event at last = ts and the next N - 1 events inside it
 * are processed too; the rest, and events before last, are throttled until
 * last + window.  evt_peek() gives an answer without deciding, shadow mode
 * (evt_set_shadow()) decides and counts but answers 1, and evt_should_process_ex()
 * gives the reason of every throttle.
 *
 * The state lives in a POSIX shared-memory object (/dev/shm/evthrottle.<name>) that
 * every process maps; evt_should_process() decides with a few atomic operations on
 * that mapping: no syscall, no lock, no allocation.  Timestamps and windows are
 * unsigned 64-bit nanoseconds on a clock every sharing process agrees on
 * (evt_now_ns(), or the caller's own, e.g. exchange timestamps).
 *
 * Errors: every fallible call returns 0 (or a result >= 0) on success and a negative
 * errno on failure; evt_strerror() names the cause.  The library never exits,
 * aborts, prints or raises signals.  One signal is outside its control: whoever
 * may write a region's object may also shrink it (ftruncate), and the kernel then
 * sends SIGBUS to every process that touches the pages cut off.  Write permission
 * on a region is therefore trust: see evt_attach().
 *
 * Thread safety: a handle may be used by any number of threads at once, except that
 * evt_close() must not race with any other call on the same handle.  Handles from
 * different processes (or several in one process) on the same name share state.
 *
 * Reclaim: a full table forgets keys whose window closed for every active client.
 * That never makes an answer silently wrong: an event the table can no longer judge
 * exactly (older than what was forgotten) gets the on_stale policy's answer,
 * reported as EVT_INFO_STALE and counted in evt_stats.stale.  This holds for idle,
 * stopped or slow clients, threads sharing a handle and raised windows; no client
 * can stop reclaim for the others for longer than client_idle.
 */
#ifndef EVTHROTTLE_H
#define EVTHROTTLE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define EVT_VERSION_MAJOR 5
#define EVT_VERSION_MINOR 1

/* Longest throttle name accepted by evt_create()/evt_attach(). */
#define EVT_NAME_MAX 200

/* The largest limit (processed events per key per window) a throttle takes. */
#define EVT_LIMIT_MAX 4096u

/* What evt_should_process() does for a new key when its neighbourhood of the table
 * has no free slot and nothing that may be reclaimed. */
enum evt_on_full {
	EVT_ON_FULL_THROTTLE = 0, /* answer 0: drop the event (fail closed) */
	EVT_ON_FULL_PROCESS = 1,  /* answer 1 without tracking the key (fail open) */
	EVT_ON_FULL_ERROR = 2,    /* answer -ENOSPC */
};

/* What evt_should_process() answers for a new key when the table can no longer know
 * the exact answer: a key of its part of the table was reclaimed (forgotten to make
 * room) less than a window before the event's timestamp, so the key may be one of
 * them and still inside its window.  This happens only for events older than what
 * reclaim has forgotten: a client that was idle or stopped and comes back with old
 * timestamps, a thread that read its clock long before deciding, or a window raised
 * above what the forgotten keys were kept for.  Such answers are reported
 * (EVT_INFO_STALE) and counted (evt_stats.stale). */
enum evt_on_stale {
	EVT_ON_STALE_THROTTLE = 0, /* answer 0 and track nothing (the safe default) */
	EVT_ON_STALE_PROCESS = 1,  /* answer 1 and track the key from this event on */
	EVT_ON_STALE_ERROR = 2,    /* answer -ESTALE and track nothing */
};

/* What a global throttle answers while Redis cannot (unreachable, slow past the
 * timeout, an error, or the circuit breaker open after one of those). */
enum evt_on_unreachable {
	EVT_ON_UNREACHABLE_LOCAL = 0,    /* the host-local answer: this host's table alone */
	EVT_ON_UNREACHABLE_THROTTLE = 1, /* answer 0 (fail closed) */
	EVT_ON_UNREACHABLE_PROCESS = 2,  /* answer 1 (fail open) */
};

/* Limits of the strings of a global throttle (evt_global). */
#define EVT_GLOBAL_ENDPOINT_MAX 255 /* "unix:PATH" or "HOST:PORT" */
#define EVT_GLOBAL_PATH_MAX 255     /* auth_file */

/*
 * A throttle shared across hosts through Redis 7 (evt_options.global): every host
 * whose region names the same Redis and the same global name decides each key by
 * one rule, with timestamps from a clock the hosts share (evt_realtime_ns() synced
 * by PTP/NTP, or exchange timestamps).  The strings are copied into the region.
 */
typedef struct evt_global {
	const char *redis;     /* "unix:/path/to/redis.sock" or "host:port" (a
	                          numeric host, or a name: resolved by evt_create(),
	                          within 1 s, then by evthrottled each second; a
	                          decision never looks it up, docs/design.md §10) */
	const char *name;      /* shared by every host; NULL or "": the throttle's name */
	uint64_t timeout_ns;   /* longest a decision waits for Redis, > 0 */
	uint32_t on_unreachable; /* enum evt_on_unreachable */
	const char *auth_file; /* NULL, or a file holding "password" or "user password" */
} evt_global;

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
	uint32_t on_stale;   /* enum evt_on_stale */
	uint64_t client_idle_ns; /* > 0: a client whose latest timestamp is this far
	                            behind the one deciding no longer holds reclaim
	                            back (an idle, stopped or lagging client) */
	uint32_t limit;      /* processed events per key per window, 1 .. EVT_LIMIT_MAX
	                        (see evt_update_limit()); 1 is the rule above */
	uint32_t shadow;     /* 1: shadow mode (see evt_set_shadow()), 0: enforce */
	uint32_t huge_pages; /* 1: back the region with transparent huge pages, or
	                        fail with -EOPNOTSUPP where the system offers none
	                        for it (evt_create()); 0: ordinary pages */
	uint32_t reserved;   /* 0 */
	const evt_global *global; /* NULL: this host only; else shared through Redis */
} evt_options;

/* Defaults: 10 s window, 131072 slots, 32-byte keys, mode 0660, throttle when full,
 * 256 clients, throttle when stale, clients idle after 1 s, limit 1, enforcing,
 * ordinary pages.  In field order, so that
 * it is also valid C++ from C++11 on (designated initialisers are C++20):
 *     evt_options o = EVT_OPTIONS_INIT;   (C and C++) */
#define EVT_OPTIONS_INIT                                                              \
	{                                                                             \
		10000000000ull /* window_ns */, 131072 /* capacity */, 32 /* key_max */, \
		0660 /* mode */, EVT_ON_FULL_THROTTLE /* on_full */, 256 /* client_max */, \
		EVT_ON_STALE_THROTTLE /* on_stale */, 1000000000ull /* client_idle_ns */, \
		1 /* limit */, 0 /* shadow */, 0 /* huge_pages */, 0 /* reserved */,       \
		NULL /* global */                                                     \
	}

/* evt_attach() flags */
#define EVT_RDONLY 0x1u /* map read-only: decisions and changes fail with -EROFS */
/* For operators: change the window and clear keys, always, whatever the client
 * table holds: the handle takes no client slot, and decisions on it fail with
 * -EPERM.  Needs write permission, as a read-write handle. */
#define EVT_ADMIN 0x2u

/* Bits evt_should_process_ex() reports in *info. */
#define EVT_INFO_NEW_KEY 0x1u   /* the key was not tracked and is now */
#define EVT_INFO_RECLAIMED 0x2u /* an expired key's slot was reused for it */
#define EVT_INFO_FULL 0x4u      /* no room: the answer is the on_full policy's */
#define EVT_INFO_STALE 0x8u     /* the exact answer was forgotten by reclaim: the
                                   answer is the on_stale policy's (or, rarely, 1
                                   when a window change raced the insert) */
/* Why the rule throttled (set with the answer 0, or with 1 in shadow mode): */
#define EVT_INFO_INSIDE_WINDOW 0x10u /* the key's window is open and full (limit
                                        events processed in it already) */
#define EVT_INFO_OUT_OF_ORDER 0x20u  /* the event is older than its key's window
                                        start (timestamps never move it back) */
/* (a full table and a stale key say EVT_INFO_FULL, EVT_INFO_STALE) */
#define EVT_INFO_SHADOW 0x40u        /* shadow mode: the rule denied the event (0,
                                        -ENOSPC or -ESTALE, with its reason bit) and
                                        the answer is 1 instead */

/* Totals over every client that ever attached (and per client in the tools). */
typedef struct evt_stats {
	uint64_t window_ns;
	uint64_t processed;  /* decisions that processed (answers 1, but for shadow's) */
	uint64_t throttled;  /* decisions that throttled (answers 0, but in shadow
	                        mode, where they are answered 1: would_throttle);
	                        their reasons: inside_window, out_of_order, and full
	                        and stale when their policy throttles */
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
	uint32_t on_stale;
	uint64_t stale;      /* decisions made by the on_stale policy (EVT_INFO_STALE) */
	uint64_t client_idle_ns;
	uint32_t limit;      /* processed events per key per window */
	uint32_t shadow;     /* 1 in shadow mode */
	uint64_t peeks;      /* evt_peek() calls on read-write handles */
	uint64_t would_throttle; /* denied events answered 1 by shadow mode */
	uint64_t out_of_order;   /* throttled: older than their key's window start */
	uint64_t inside_window;  /* throttled: inside their key's window (full under
	                            its limit) */
	/* A global throttle's (0 otherwise): */
	uint64_t global_round_trips; /* calls to Redis, each one round trip */
	uint64_t global_fallbacks;   /* answers given by on_unreachable */
	uint64_t global_errors;      /* failed round trips and connects */
} evt_stats;

/*
 * Create a throttle.  name: [A-Za-z0-9_.-], 1..EVT_NAME_MAX bytes, not starting with
 * '.'; the region is /dev/shm/evthrottle.<name>, created with o->mode and its space
 * reserved up front, so a full /dev/shm fails here rather than later.  The object
 * is made under a hidden name and renamed into place once ready, so an attacher
 * never sees it half made.  name NULL makes a private anonymous throttle shared
 * with children forked afterwards.
 * o NULL means EVT_OPTIONS_INIT.  On success *out is a read-write handle, which
 * keeps the object open (one close-on-exec file descriptor) until evt_close().
 * With o->huge_pages 1 the region is backed by transparent huge pages (2 MiB: one
 * TLB entry covers 32768 slots of 64 bytes instead of 64), checked after it is
 * populated; attachers map it the same way.  The system must offer them for
 * shared memory: /dev/shm mounted with huge=always, within_size or advise, or
 * for an anonymous throttle /sys/kernel/mm/transparent_hugepage/shmem_enabled
 * always, within_size or advise; a region under 2 MiB gets none.
 * A global throttle whose o->global->redis names a host (not a numeric address)
 * has it resolved here, waiting 1 s at most (on a thread of its own), and its
 * address recorded in the region: decisions never look it up.  A name that does
 * not resolve in time still creates the throttle: its decisions that need Redis
 * are answered by on_unreachable until evthrottled, which re-resolves it each
 * second, publishes an address.
 * Errors: -EINVAL (bad name or option), -EEXIST (a region of that name exists),
 *         -EACCES, -ENOSPC (no room in /dev/shm), -ENOMEM, -EMFILE, -EOPNOTSUPP
 *         (huge pages asked for and not offered; nothing is left behind).
 * Thread-safe.
 */
int evt_create(const char *name, const evt_options *o, evt_throttle **out);

/*
 * Attach to an existing throttle.  flags: 0 for read-write, EVT_RDONLY for
 * read-only (needs only read permission on the object), EVT_ADMIN for an
 * operator's handle (evt_update_window(), evt_clear(), evt_clear_key() and the
 * reading calls; no client slot, so it never fails with -EUSERS; its clears are
 * counted in the region's totals).  Every header field is checked against the
 * object's size before use.  A read-write handle maps the whole region at once
 * (MAP_POPULATE: no page faults later in decisions; attaching takes longer for a
 * large table), takes one of the region's client slots and keeps a descriptor of the object open (close-on-exec) holding a lock
 * on that slot: the slot is freed by evt_close(), or by the next attach or the
 * daemon once no process holds the handle any more (the kernel dropped the lock:
 * every holder closed, exec'd or died).  No pid is compared, so clients may live
 * in different pid namespaces.
 * Trust boundary: the region is shared memory, so every process with write
 * permission on its object (its owner, and its group or others as its mode says)
 * can change any decision, and can shrink the object, after which this process
 * gets SIGBUS when a decision touches the missing pages.  Give write permission
 * only to processes you trust as much as your own (evthrottled's mode and group);
 * a read-only handle trusts the same writers.
 * Errors: -EINVAL (bad name or flags, or EVT_RDONLY | EVT_ADMIN), -ENOENT (no such
 *         throttle), -EACCES,
 *         -EBADMSG (not an evthrottle region: not a regular file (a FIFO,
 *         directory, socket, device or symbolic link squatting the name; never
 *         followed, never waited on), or a truncated or corrupt header),
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
 * at once if it never forked since it opened the handle; otherwise, and for every
 * other holder, the reaper (the next evt_attach(), or the daemon) frees it once the
 * last holder closed it, exec'd or died.  Not thread-safe with other calls on the
 * same handle. */
void evt_close(evt_throttle *t);

/*
 * Whether t's name still refers to the region t maps: 1 if so, 0 if the region
 * was removed (evthrottled --remove) or replaced (--recreate) since t attached;
 * t then decides alone on the old region, and should be closed and attached
 * again.  Opens the name (one open, one read, no lock); not for the decision path.
 * Errors: -EINVAL (t NULL or an anonymous throttle), -EACCES, -EMFILE.
 * Thread-safe.
 */
int evt_is_current(const evt_throttle *t);

/*
 * Remove the named region (other processes keep their mappings until they close).
 * Errors: -EINVAL, -ENOENT, -EACCES.  Thread-safe.
 */
int evt_unlink(const char *name);

/*
 * Decide one event: 1 process, 0 throttle, or a negative errno.  event_id may be
 * NULL and takes no part in the decision.  No syscall, no lock, no allocation.
 * Errors: -EINVAL (t or key NULL, key_len 0), -EMSGSIZE (key_len > key_max),
 *         -EROFS (read-only handle), -EPERM (EVT_ADMIN handle),
 *         -ENOSPC (table full and on_full = error),
 *         -ESTALE (the exact answer was forgotten and on_stale = error).
 * Thread-safe; linearizable per key across all threads and processes: every
 * answer is the rule above applied at one instant inside the call, or, where
 * reclaim has forgotten what the rule needs (see enum evt_on_stale), the on_stale
 * policy's, reported as EVT_INFO_STALE and counted.  Never two processed events of
 * a key less than a window apart, whatever the callers' clocks, threads or pauses
 * (unless on_stale = process, which answers 1 by choice, flagged).
 *
 * A global throttle (evt_options.global) answers by the same rule across every
 * host sharing its Redis and name, with the callers' timestamps (a clock the hosts
 * share).  An event the local table throttles is decided here as above; one it
 * would process asks Redis (one round trip, at most the timeout), and the local
 * table then keeps Redis's answer for the rest of the key's window.  So a syscall
 * and a lock (the handle's connection) are taken about once per key per window.
 * While Redis cannot answer, on_unreachable does, counted in
 * evt_stats.global_fallbacks; after a failure the host's clients stop asking for
 * 100 ms (a circuit breaker).  Linearizable per key across hosts while Redis
 * answers.
 */
int evt_should_process(evt_throttle *t, uint64_t ts_ns, const char *event_id,
                       const void *key, size_t key_len);

/* evt_should_process() that also reports EVT_INFO_* bits in *info (may be NULL):
 * set on every return, 0 when there is nothing to report.  Every throttle (and
 * every answer of shadow mode) has its reason: EVT_INFO_INSIDE_WINDOW,
 * EVT_INFO_OUT_OF_ORDER, EVT_INFO_FULL or EVT_INFO_STALE. */
int evt_should_process_ex(evt_throttle *t, uint64_t ts_ns, const char *event_id,
                          const void *key, size_t key_len, unsigned *info);

/*
 * evt_should_process() restricted to what this host can decide by itself: on a
 * global throttle, the answer if the local table throttles the event (a key
 * processed on any host less than a window ago: 0, counted as
 * evt_should_process() counts it), or -EWOULDBLOCK, deciding and changing
 * nothing, if the event needs a round trip to Redis (then call
 * evt_should_process(), e.g. after releasing a lock other threads need, as the
 * Python binding does with the GIL).  On a host-local throttle it is
 * evt_should_process() (never -EWOULDBLOCK).  No syscall, no lock.
 * Errors: those of evt_should_process(), and -EWOULDBLOCK.  Thread-safe.
 */
int evt_should_process_local(evt_throttle *t, uint64_t ts_ns, const void *key, size_t key_len);

/* 1 if t's throttle is global (evt_options.global: decisions may ask Redis),
 * 0 if host-local, -EINVAL if t is NULL.  Thread-safe. */
int evt_is_global(const evt_throttle *t);

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
 * overlap.  For a feed handler draining a burst of events.  On a global throttle,
 * the events of up to 64 in a row that need Redis go in one pipeline (one write,
 * one wait), making the round trips the n calls would: at most one per key per
 * window per host.
 * Each event's own errors go in its result (-EINVAL key NULL or key_len 0,
 * -EMSGSIZE, -ENOSPC) and do not stop the batch.
 * Returns how many events were processed (result 1), or, deciding nothing:
 * -EINVAL (t NULL, events NULL with n > 0, n > INT_MAX), -EROFS (read-only handle),
 * -EPERM (EVT_ADMIN handle).
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
 *         -EMSGSIZE, -EROFS, -EPERM); nothing is fetched then.
 * Thread-safe.
 */
int evt_prefetch(const evt_throttle *t, const void *key, size_t key_len);

/* A key hashed for one throttle by evt_prefetch_key(), kept by the caller until it
 * decides the key with evt_should_process_key(): the decision then skips hashing.
 * Plain data (copy it freely); its fields are the library's. */
typedef struct evt_key {
	const void *key;   /* the caller's bytes: they must stay valid and unchanged */
	uint32_t key_len;
	uint32_t reserved; /* 0 */
	uint64_t hash;     /* the key's hash under seed */
	uint64_t seed;     /* the throttle's hash seed when it was made */
	uint64_t tail;     /* the key's last 8-byte word, zero-padded, as the table
	                      compares it */
} evt_key;

/*
 * evt_prefetch() that also hands its hash over: fills *out for the later
 * evt_should_process_key().  For a pipeline that knows a key a few events before it
 * decides it: the key is hashed and read once, here, and its slot is in cache by
 * the decision, which then does neither.
 * Changes nothing in the throttle; no syscall, lock or write.
 * Errors: those of evt_prefetch(), and -EINVAL if out is NULL; *out is untouched
 * then.  Thread-safe.
 */
int evt_prefetch_key(const evt_throttle *t, const void *key, size_t key_len, evt_key *out);

/*
 * evt_should_process_ex() on a key made by evt_prefetch_key(): the same answer and
 * info bits (info may be NULL), without hashing the key again.  A key made for
 * another throttle (another hash seed) is hashed again here, so the answer is
 * always right.  Errors: those of evt_should_process(), and -EINVAL if k is NULL.
 * Thread-safe; linearizable per key, as evt_should_process().
 */
int evt_should_process_key(evt_throttle *t, uint64_t ts_ns, const evt_key *k, unsigned *info);

/*
 * Set the window for every later decision of every process.  Like evt_clear()
 * and evt_clear_key(), it records the change with this process's uid and pid in
 * the region, for evthrottled's log (getuid() and getpid(): not for a hot path).
 * Errors: -EINVAL (window_ns 0 or t NULL), -EROFS.  Thread-safe.
 * A global throttle's change is also stored in Redis and published there, and
 * every host's evthrottled applies it (docs/design.md §10: within 100 ms while it
 * is subscribed); if Redis cannot take it within the timeout, the change is
 * made on this host only and the call returns Redis's error (-ECONNREFUSED,
 * -ETIMEDOUT, -ECONNRESET, -EACCES, -EPROTO, -ENOTSUP without hiredis).
 */
int evt_update_window(evt_throttle *t, uint64_t window_ns);

/* The current window in ns (0 if t is NULL).  Thread-safe. */
uint64_t evt_get_window(const evt_throttle *t);

/*
 * Set the limit, the processed events a key may have in each of its windows, for
 * every later decision of every process.  A key's window opens at a processed
 * event at ts (its first, or the first at or past the previous window's end);
 * the next limit - 1 events inside it are processed too; the rest, and every event
 * before ts (out of order), are throttled until ts + window.  Limit 1 is the rule
 * at the top of this file.  A key already inside its window keeps the events it
 * had: raising the limit lets it have more there, lowering it throttles the rest
 * of the window.  Recorded for evthrottled's log as evt_update_window() is.
 * Errors: -EINVAL (t NULL, limit 0 or above EVT_LIMIT_MAX, or above 1 on a global
 * throttle: Redis's function applies limit 1 only), -EROFS.  Thread-safe.
 */
int evt_update_limit(evt_throttle *t, uint32_t limit);

/* The current limit (0 if t is NULL).  Thread-safe. */
uint32_t evt_get_limit(const evt_throttle *t);

/*
 * Shadow (dry-run) mode, on (1) or off (0), for every later decision of every
 * process: each decision is made, changes the state and is counted exactly as when
 * enforcing, but an event the rule denies (0, or on_full / on_stale = error's
 * -ENOSPC / -ESTALE) is answered 1, with EVT_INFO_SHADOW and its reason in the info
 * bits, and counted in evt_stats.would_throttle.  For rolling a throttle out: see
 * what it would throttle, throttle nothing.  Bad input (a NULL key, ...) is still an
 * error.  Recorded for evthrottled's log as evt_update_window() is.  On a global
 * throttle it is this host's setting (not stored in Redis) and covers every
 * answer: the local cache's, Redis's and on_unreachable's throttles.
 * Errors: -EINVAL (t NULL, on not 0 or 1), -EROFS.  Thread-safe.
 */
int evt_set_shadow(evt_throttle *t, int on);

/* 1 in shadow mode, 0 enforcing; -EINVAL if t is NULL.  Thread-safe. */
int evt_get_shadow(const evt_throttle *t);

/*
 * The answer evt_should_process() would give now for an event at ts_ns, without
 * deciding: 1 or 0 (1 in shadow mode, as the decision), or the negative errno the
 * policy would give (-ESTALE).  It changes nothing in the throttle; it is counted
 * apart (evt_stats.peeks) on a read-write handle, and not at all on a read-only
 * one, which may peek too.  A moment's answer: another thread or process may
 * decide in between, so a peek of 1 does not reserve the event's place.  A key not
 * tracked gets a new key's answer (1, or on_stale's if reclaim forgot its window
 * too recently); whether the table would have room for it is not looked at (a full
 * table answers by on_full).  No syscall, no lock, no allocation.  On a global
 * throttle it reads this host's cache only (no round trip): 0 is certain, but 1
 * only says that this host knows of no event in the key's window; another host
 * may have processed one, which the decision would learn from Redis.
 * Errors: -EINVAL (t or key NULL, key_len 0), -EMSGSIZE (key_len > key_max),
 *         -ESTALE (as the decision would, on_stale = error).
 * Thread-safe.
 */
int evt_peek(const evt_throttle *t, uint64_t ts_ns, const void *key, size_t key_len);

/*
 * Forget every key; returns how many were removed.  Each key is removed
 * atomically; a decision racing with the clear sees its key either before or after
 * its removal.
 * Errors: -EINVAL, -EROFS.  Thread-safe.
 * A global throttle's clear also moves the epoch in its Redis key names on, so
 * that every host forgets every key; Redis's errors as for evt_update_window()
 * (the keys of this host are cleared all the same).
 */
int evt_clear(evt_throttle *t);

/*
 * Forget one key: returns 1 if it was tracked, 0 if not.
 * Errors: -EINVAL, -EMSGSIZE, -EROFS.  Thread-safe.
 * A global throttle's key is first deleted in Redis (errors as evt_update_window();
 * the key is cleared on this host all the same), then here.  Other hosts are
 * not told: one that cached the key's last keeps throttling it locally until
 * that cached window ends (evt_clear() reaches every host).
 */
int evt_clear_key(evt_throttle *t, const void *key, size_t key_len);

/* Keys tracked now (a moment's snapshot; 0 if t is NULL).  Thread-safe. */
size_t evt_key_count(const evt_throttle *t);

/* Fill *out with the region's totals.  Errors: -EINVAL.  Thread-safe. */
int evt_stats_get(const evt_throttle *t, evt_stats *out);

/* CLOCK_MONOTONIC in ns: one clock for every process of the host, read through the
 * vDSO (no syscall).  Thread-safe. */
uint64_t evt_now_ns(void);

/* CLOCK_REALTIME in ns (since 1970), through the vDSO (no syscall): the clock a
 * global throttle's hosts share when PTP or NTP keeps them in step.  Thread-safe. */
uint64_t evt_realtime_ns(void);

/* A static, human message for a negative (or positive) errno returned by this
 * library.  Never NULL.  Thread-safe. */
const char *evt_strerror(int err);

#ifdef __cplusplus
}
#endif

#endif /* EVTHROTTLE_H */
