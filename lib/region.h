/*
 * The shared-memory format of a throttle region, and the process-local view of a
 * mapping.  This header is the one owner of the format: the library, the daemon,
 * the tools and the tests all use it.  docs/design.md draws the byte map.
 *
 * Everything in the region is a fixed-width integer at a fixed offset; there are no
 * pointers.  Each process maps it at its own address.
 */
#ifndef EVT_REGION_H
#define EVT_REGION_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "evthrottle.h"

#if ATOMIC_LLONG_LOCK_FREE != 2 || ATOMIC_INT_LOCK_FREE != 2
#error "64-bit and 32-bit atomics must always be lock-free to be shared across processes"
#endif
#ifndef __GCC_HAVE_SYNC_COMPARE_AND_SWAP_16
#error "a lock-free 16-byte compare-and-swap is required (build with -mcx16 on x86-64)"
#endif

#define REGION_MAGIC 0x6c746f7268747665ull /* "evthrotl" little-endian */
#define REGION_STATE_READY 0x52454459u   /* "REDY": written last by the creator */
#define REGION_NBHD 32u                  /* slots a key may live in, from its home on */
#define REGION_DISPLACE 512u             /* how far an insert looks for a slot to free */
#define REGION_CAP_MIN 64u
#define REGION_CAP_MAX (1u << 28)
#define REGION_KEY_MAX 1024u
#define REGION_CLIENT_MAX 65535u
/* A client that has not decided yet: constrains nothing.  Also the timestamp
 * 2^64-1, harmlessly (docs/design.md §3, "The watermark's sentinel"). */
#define REGION_WM_NONE UINT64_MAX
#define REGION_BOUND_SHIFT 2u     /* one forget bound per 4 homes */
#define REGION_FLAG_HUGE 1u       /* made with evt_options.huge_pages: mapped with MADV_HUGEPAGE */

/* Line 0: geometry, written once by the creator before state = READY. */
struct region_hdr {
	uint64_t magic;
	uint16_t version_major;
	uint16_t version_minor;
	uint32_t header_size;
	uint64_t total_size;
	uint32_t capacity; /* slots, a power of two */
	uint32_t key_max;
	uint32_t slot_size;
	uint32_t client_max;
	uint32_t client_size;
	uint32_t nbhd;
	uint64_t clients_offset;
	uint64_t table_offset;
	/* line 1: identity and policy, also written once */
	uint64_t hash_seed;
	uint32_t on_full;
	_Atomic uint32_t state; /* REGION_STATE_READY, stored with release last */
	uint64_t created_unix_ns;
	uint32_t mode;
	uint32_t on_stale;      /* enum evt_on_stale */
	uint64_t bounds_offset; /* the forget bounds: capacity >> REGION_BOUND_SHIFT u64s */
	/* The configured limit and shadow + 1 the daemon last applied (0: none
	 * yet), as config_window_ns below: only the daemon holding the region's
	 * lock writes them. */
	_Atomic uint64_t config_limit;
	_Atomic uint64_t config_shadow;
	uint32_t flags;         /* REGION_FLAG_*, written once */
	uint8_t reserved1[4];
	/* line 2: read by every decision, written rarely */
	_Atomic uint64_t window_ns;
	_Atomic uint64_t client_idle_ns; /* a client this far behind no longer holds reclaim */
	_Atomic uint64_t newest_ts; /* max watermark of clients that left */
	_Atomic uint32_t client_hwm; /* one past the highest client index ever used */
	/* The decision's policy: limit | shadow << 31 (POLICY_*).  One word, so
	 * that a throttle answer tells both from one compare with 1. */
	_Atomic uint32_t policy;
	_Atomic int64_t keys_adjust; /* added to new_keys - reclaimed - cleared (keycount.c) */
	_Atomic uint64_t keys_owed;  /* reaps since the count was last recounted; 0: none */
	uint8_t reserved2[16];
	/* line 3: the manager daemon's */
	_Atomic uint64_t daemon_pid;
	_Atomic uint64_t daemon_heartbeat_ns; /* evt_now_ns() (CLOCK_MONOTONIC) */
	/* The configured window the daemon last applied (0: none yet): a window
	 * set at run time stays until the configured one changes.  Only the
	 * daemon holding the region's lock writes it. */
	_Atomic uint64_t config_window_ns;
	/* The last runtime change (lib/audit.h), for the daemon's log. */
	_Atomic uint64_t change_seq;   /* +1 per change, stored last (release) */
	_Atomic uint64_t change_who;   /* uid << 32 | kind << 24 | pid */
	_Atomic uint64_t change_value; /* the window set, or keys cleared */
	_Atomic uint64_t admin_cleared; /* keys cleared by admin handles (no client entry) */
	uint64_t global_offset; /* struct region_global, at the end (format 4.1), written once */
};

/* One per read-write handle; only that handle's processes write it (except the
 * reaper, after the process is gone).  Ten cache lines of its own.  Each counter
 * is two words: ctr[k], written by the handle's owner thread alone with a plain
 * load and store, and ctr_shared[k], which every other thread adds to with a locked
 * add; the count is their sum (client_ctr(), docs/design.md §1). */
enum { CLIENT_FREE = 0, CLIENT_LIVE = 1, CLIENT_REAPING = 2 };
enum {
	CTR_PROCESSED,
	CTR_THROTTLED,      /* events throttled for any reason but inside_window's */
	CTR_NEW_KEYS,
	CTR_RECLAIMED,
	CTR_CLEARED,
	CTR_FULL,
	CTR_STALE,
	CTR_PEEKS,          /* evt_peek() calls */
	CTR_WOULD_THROTTLE, /* denied events answered 1 in shadow mode */
	CTR_OUT_OF_ORDER,   /* events throttled for being before their key's window */
	CTR_INSIDE_WINDOW,  /* events throttled inside their key's window: counted
	                       instead of CTR_THROTTLED (one add on the common case's
	                       throttle), which evt_stats.throttled adds to */
	CTR_GLOBAL_ROUND_TRIPS,
	CTR_GLOBAL_FALLBACKS,
	CTR_GLOBAL_ERRORS,
	CTR_COUNT,
	CTR_MAX = 24 /* room in the entry: counters can be added without moving it */
};
_Static_assert(CTR_COUNT <= CTR_MAX, "client entry counters");
struct region_client {
	_Atomic uint64_t owner; /* state << 32 | pid */
	_Atomic uint64_t attach_unix_ns;
	_Atomic uint64_t wm; /* latest timestamp decided, or REGION_WM_NONE */
	_Atomic uint64_t ctr[CTR_MAX]; /* the owner thread's adds, cumulative over every
	                                  holder of the entry (line 0 with wm) */
	uint64_t pad[5];
	_Atomic uint64_t ctr_shared[CTR_MAX]; /* other threads' adds (lock add), lines 4-6 */
	_Atomic uint64_t base[CTR_MAX]; /* client_ctr() when the current holder attached */
};

/*
 * A global throttle's settings (lib/global.h), 1 KiB at global_offset.  Line 0 and
 * the strings are written once by the creator before state = READY; `enabled` 0:
 * a host-local throttle.  The status line is written by clients and read by the
 * tools: each word on its own, relaxed (informational).
 */
#define REGION_GLOBAL_ENDPOINT 256u
#define REGION_GLOBAL_NAME 208u
#define REGION_GLOBAL_PATH 256u
#define REGION_GLOBAL_ERROR 128u
struct region_global {
	uint32_t enabled;
	uint32_t on_unreachable; /* enum evt_on_unreachable */
	uint64_t timeout_ns;
	char redis[REGION_GLOBAL_ENDPOINT]; /* NUL-terminated */
	char name[REGION_GLOBAL_NAME];
	char auth_file[REGION_GLOBAL_PATH];
	/* status, shared by the host's clients (the last writer wins) */
	_Atomic uint64_t epoch;          /* the clear epoch in the key names */
	_Atomic uint64_t ok_since_ns;    /* evt_realtime_ns() of the first answer after the
	                                    last failure (0: none yet) */
	_Atomic uint64_t last_error_ns;  /* evt_realtime_ns() of the last failure (0: none):
	                                    Redis is down while it is >= ok_since_ns */
	_Atomic uint64_t last_error[REGION_GLOBAL_ERROR / 8]; /* its text, word by word */
	_Atomic uint64_t retry_at_ns;    /* the circuit breaker: open (no client asks Redis)
	                                    until evt_now_ns() reaches it; 0: closed */
	_Atomic uint64_t redis_window_ns; /* the window stored in Redis (0: none), as the
	                                     daemon last read it ... */
	_Atomic uint64_t synced_ns;       /* ... at this evt_realtime_ns() (0: never) */
	_Atomic uint64_t key_clears;      /* one-key clears applied to the table (as the
	                                     epoch, for cache_answer(); 0 in older regions) */
	/* The endpoint's host name resolved (format 5.1; zero in a 5.0 region), by
	 * the creator and then by evthrottled, its one writer (lib/endpoint.h): a
	 * sequence lock, since a decision's connect must read one address whole. */
	_Atomic uint64_t addr_seq;        /* even: stable; odd: being written; 0: none yet */
	_Atomic uint64_t addr[3];         /* family | port << 16, then the address's 16
	                                     bytes (network order; AF_INET: the first 4) */
	_Atomic uint64_t resolved_ns;     /* evt_realtime_ns() of the last resolution that
	                                     answered an address (0: none) */
	_Atomic uint64_t resolve_failed_ns; /* ... of the last that failed (0: none) */
	_Atomic int64_t resolve_error;    /* what it failed with (endpoint_strerror()) */
	uint8_t reserved[1024 - 16 - REGION_GLOBAL_ENDPOINT - REGION_GLOBAL_NAME -
	                 REGION_GLOBAL_PATH - 56 - REGION_GLOBAL_ERROR - 56];
};

/*
 * One per table slot; slot_size bytes, a multiple of 64.  ctrl and last form the
 * 16-byte pair that decisions compare-and-swap together, so a slot reused for
 * another key (new generation in ctrl) can never take an update meant for the old
 * one.  hop belongs to the slot as a *home*: bit i says slot home+i holds a key
 * whose home this is; the high half is a version bumped by every change.
 */
struct region_slot {
	_Atomic uint64_t ctrl;
	_Atomic uint64_t last;
	_Atomic uint64_t hop;
	_Atomic uint32_t home;    /* home index of the key held; stable while published */
	_Atomic uint32_t key_len;
	_Atomic uint64_t key[];   /* key bytes, zero-padded to whole words */
};

/* ctrl word: state:2 | tag:2 | count:12 | owner:16 | gen:32.  count is the events
 * processed in the key's window after the one that opened it (at last), so 0
 * under limit 1; tag and count together (CTRL_KEYF) are what a move carries.  A
 * MOVING slot's key is being moved to a free slot nearer its home; its owner field
 * holds that slot's bit in the home's hop word.  docs/design.md §2 says why the
 * count lives here (under the pair CAS, next to the tag, the generation whole). */
enum { SLOT_EMPTY = 0, SLOT_CLAIMED = 1, SLOT_DYING = 2, SLOT_MOVING = 3 };
#define CTRL_STATE(c) ((unsigned)((c) & 3u))
#define CTRL_TAG(c) ((unsigned)(((c) >> 2) & 0x3u))
#define CTRL_COUNT_MAX 0xfffu
#define CTRL_COUNT(c) ((unsigned)(((c) >> 4) & CTRL_COUNT_MAX))
#define CTRL_KEYF(c) ((unsigned)(((c) >> 2) & 0x3fffu))
/* c with its count set to n (n <= CTRL_COUNT_MAX). */
#define CTRL_WITH_COUNT(c, n) (((c) & ~((uint64_t)CTRL_COUNT_MAX << 4)) | (uint64_t)(n) << 4)
#define CTRL_OWNER(c) ((unsigned)(((c) >> 16) & 0xffffu))
#define CTRL_GEN(c) ((uint32_t)((c) >> 32))
/* keyf: the tag, or tag | count << 2 (CTRL_KEYF). */
#define CTRL_MAKE(state, keyf, owner, gen)                                          \
	((uint64_t)(state) | ((uint64_t)(keyf) << 2) | ((uint64_t)(owner) << 16) |     \
	 ((uint64_t)(gen) << 32))
/* The same slot one generation on, in another state. */
#define CTRL_NEXT(c, state) CTRL_MAKE(state, CTRL_KEYF(c), CTRL_OWNER(c), CTRL_GEN(c) + 1u)

/* policy word: limit (processed events per key per window, 1 .. EVT_LIMIT_MAX) in
 * the low bits, shadow mode in bit 31.  Above 1 means a decision inside a window
 * has work to do (count, or answer 1 in shadow). */
#define POLICY_SHADOW 0x80000000u
#define POLICY_LIMIT(p) ((p) & ~POLICY_SHADOW)
#define POLICY_MAKE(limit, shadow) ((uint32_t)(limit) | ((shadow) ? POLICY_SHADOW : 0u))
_Static_assert(EVT_LIMIT_MAX < POLICY_SHADOW, "the limit and the shadow bit share a word");

/* Set the policy word's limit, or its shadow bit, keeping the other. */
static inline void region_set_policy(_Atomic uint32_t *p, uint32_t mask, uint32_t value)
{
	uint32_t cur = atomic_load_explicit(p, memory_order_relaxed);
	/* Release pairs with the acquire loads of the policy in table.c. */
	while (!atomic_compare_exchange_weak_explicit(p, &cur, (cur & ~mask) | value,
	                                              memory_order_release, memory_order_relaxed))
		;
}

#define HOP_BITS(w) ((uint32_t)(w))
#define HOP_NEXT(w, bits) ((((w) >> 32) + 1u) << 32 | (uint32_t)(bits))

_Static_assert(sizeof(struct region_hdr) == 256, "header is four cache lines");
_Static_assert(offsetof(struct region_hdr, magic) == 0, "layout");
_Static_assert(offsetof(struct region_hdr, version_major) == 8, "layout");
_Static_assert(offsetof(struct region_hdr, version_minor) == 10, "layout");
_Static_assert(offsetof(struct region_hdr, header_size) == 12, "layout");
_Static_assert(offsetof(struct region_hdr, total_size) == 16, "layout");
_Static_assert(offsetof(struct region_hdr, capacity) == 24, "layout");
_Static_assert(offsetof(struct region_hdr, key_max) == 28, "layout");
_Static_assert(offsetof(struct region_hdr, slot_size) == 32, "layout");
_Static_assert(offsetof(struct region_hdr, client_max) == 36, "layout");
_Static_assert(offsetof(struct region_hdr, client_size) == 40, "layout");
_Static_assert(offsetof(struct region_hdr, nbhd) == 44, "layout");
_Static_assert(offsetof(struct region_hdr, clients_offset) == 48, "layout");
_Static_assert(offsetof(struct region_hdr, table_offset) == 56, "layout");
_Static_assert(offsetof(struct region_hdr, hash_seed) == 64, "layout");
_Static_assert(offsetof(struct region_hdr, on_full) == 72, "layout");
_Static_assert(offsetof(struct region_hdr, state) == 76, "layout");
_Static_assert(offsetof(struct region_hdr, created_unix_ns) == 80, "layout");
_Static_assert(offsetof(struct region_hdr, mode) == 88, "layout");
_Static_assert(offsetof(struct region_hdr, on_stale) == 92, "layout");
_Static_assert(offsetof(struct region_hdr, bounds_offset) == 96, "layout");
_Static_assert(offsetof(struct region_hdr, config_limit) == 104, "layout");
_Static_assert(offsetof(struct region_hdr, config_shadow) == 112, "layout");
_Static_assert(offsetof(struct region_hdr, flags) == 120, "layout");
_Static_assert(offsetof(struct region_hdr, global_offset) == 248, "layout");
_Static_assert(offsetof(struct region_hdr, window_ns) == 128, "layout");
_Static_assert(offsetof(struct region_hdr, client_idle_ns) == 136, "layout");
_Static_assert(offsetof(struct region_hdr, newest_ts) == 144, "layout");
_Static_assert(offsetof(struct region_hdr, client_hwm) == 152, "layout");
_Static_assert(offsetof(struct region_hdr, policy) == 156, "layout");
_Static_assert(offsetof(struct region_hdr, daemon_pid) == 192, "layout");
_Static_assert(offsetof(struct region_hdr, daemon_heartbeat_ns) == 200, "layout");
_Static_assert(offsetof(struct region_hdr, config_window_ns) == 208, "layout");
_Static_assert(offsetof(struct region_hdr, change_seq) == 216, "layout");
_Static_assert(offsetof(struct region_hdr, change_who) == 224, "layout");
_Static_assert(offsetof(struct region_hdr, change_value) == 232, "layout");
_Static_assert(offsetof(struct region_hdr, admin_cleared) == 240, "layout");
_Static_assert(offsetof(struct region_hdr, keys_adjust) == 160, "layout");
_Static_assert(offsetof(struct region_hdr, keys_owed) == 168, "layout");
_Static_assert(sizeof(struct region_client) == 640, "client is ten cache lines");
_Static_assert(offsetof(struct region_client, owner) == 0, "layout");
_Static_assert(offsetof(struct region_client, wm) == 16, "layout");
_Static_assert(offsetof(struct region_client, ctr) == 24, "layout");
_Static_assert(offsetof(struct region_client, ctr_shared) == 256, "layout: lines of their own");
_Static_assert(offsetof(struct region_client, base) == 448, "layout");
_Static_assert(sizeof(struct region_global) == 1024, "global block");
_Static_assert(offsetof(struct region_global, timeout_ns) == 8, "layout");
_Static_assert(offsetof(struct region_global, redis) == 16, "layout");
_Static_assert(offsetof(struct region_global, name) == 272, "layout");
_Static_assert(offsetof(struct region_global, auth_file) == 480, "layout");
_Static_assert(offsetof(struct region_global, epoch) == 736, "layout");
_Static_assert(offsetof(struct region_global, ok_since_ns) == 744, "layout");
_Static_assert(offsetof(struct region_global, last_error_ns) == 752, "layout");
_Static_assert(offsetof(struct region_global, last_error) == 760, "layout");
_Static_assert(offsetof(struct region_global, retry_at_ns) == 888, "layout");
_Static_assert(offsetof(struct region_global, redis_window_ns) == 896, "layout");
_Static_assert(offsetof(struct region_global, synced_ns) == 904, "layout");
_Static_assert(offsetof(struct region_global, key_clears) == 912, "layout");
_Static_assert(offsetof(struct region_global, addr_seq) == 920, "layout");
_Static_assert(offsetof(struct region_global, addr) == 928, "layout");
_Static_assert(offsetof(struct region_global, resolved_ns) == 952, "layout");
_Static_assert(offsetof(struct region_global, resolve_failed_ns) == 960, "layout");
_Static_assert(offsetof(struct region_global, resolve_error) == 968, "layout");
_Static_assert(offsetof(struct region_global, reserved) == 976, "layout");
_Static_assert(sizeof(struct region_slot) == 32, "slot header");
_Static_assert(offsetof(struct region_slot, ctrl) == 0, "ctrl/last are one 16-byte pair");
_Static_assert(offsetof(struct region_slot, last) == 8, "ctrl/last are one 16-byte pair");
_Static_assert(offsetof(struct region_slot, hop) == 16, "layout");
_Static_assert(offsetof(struct region_slot, home) == 24, "layout");
_Static_assert(offsetof(struct region_slot, key_len) == 28, "layout");
_Static_assert(offsetof(struct region_slot, key) == 32, "layout");

/* Sizes and offsets derived from the options; the one place the geometry is
 * computed, for creating and for validating. */
struct region_geom {
	uint32_t capacity, key_max, slot_size, client_max;
	uint64_t clients_offset, table_offset, bounds_offset, global_offset, total_size;
};

/* A process-local view of one mapping (never stored in shared memory). */
struct region {
	struct region_hdr *hdr;
	unsigned char *table;
	struct region_client *clients;
	_Atomic uint64_t *bounds;
	struct region_global *global;
	size_t map_size;
	uint64_t seed;
	uint64_t flip[2]; /* XXH3's seed-derived words for keys of 9-16 bytes (keyhash.h) */
	uint32_t mask, slot_size, key_max, client_max, on_full, on_stale;
	bool readonly, huge;
	int fd; /* the region's file, open (O_CLOEXEC) while mapped: its byte locks are
	           the clients' liveness (clients.c), its size is checked by
	           region_check_size(); -1 for a private region */
};

int region_geometry(const evt_options *o, struct region_geom *g);
int region_name_path(const char *name, char *path, size_t size);
int region_create(const char *name, const evt_options *o, struct region *out);
int region_open(const char *name, bool readonly, struct region *out);
/* Check a mapped header against the mapping's size; fill *out on success (fd -1). */
int region_validate(void *base, size_t size, bool readonly, struct region *out);
/* Unmap the region and close its file. */
void region_unmap(struct region *r);
/* 0 while the object still covers the whole mapping (anonymous: always);
 * -EBADMSG once someone shrank it (ftruncate by anyone with write permission):
 * reading the pages past its new end raises SIGBUS.  *size: its size now.
 * One fstat(): for the daemon and the tools, before each round, never on the
 * decision path. */
int region_check_size(const struct region *r, uint64_t *size);
/* Wall-clock time for the header's and clients' informational stamps. */
uint64_t region_unix_now_ns(void);

static inline struct region_slot *region_slot(const struct region *r, uint32_t i)
{
	return (struct region_slot *)(r->table + (size_t)(i & r->mask) * r->slot_size);
}

#ifndef __has_feature
#define __has_feature(x) 0
#endif
#if defined(__x86_64__)
/* A 16-byte compare-and-swap of the two words at p (16-byte aligned), lo first:
 * lock cmpxchg16b, a full barrier.  The instruction itself, on x86-64: the
 * builtin's 128-bit operands tie up two more register pairs (gcc 12 pushes two
 * more registers around a decision for them), and ThreadSanitizer runs 16-byte
 * atomics under a lock of its own process, which is not atomic against other
 * processes sharing the region. */
static inline bool region_cas16(void *p, uint64_t lo, uint64_t hi, uint64_t new_lo,
                                uint64_t new_hi)
{
	bool ok;
	__asm__ __volatile__("lock cmpxchg16b %1"
	                     : "=@ccz"(ok), "+m"(*(volatile unsigned __int128 *)p), "+a"(lo),
	                       "+d"(hi)
	                     : "b"(new_lo), "c"(new_hi)
	                     : "memory");
	return ok;
}
#else
/* A 16-byte compare-and-swap of the two words at p (16-byte aligned), lo first:
 * lock cmpxchg16b, a full barrier. */
static inline bool region_cas16(void *p, uint64_t lo, uint64_t hi, uint64_t new_lo,
                                uint64_t new_hi)
{
	typedef unsigned __int128 u128;
	u128 old = (u128)hi << 64 | lo, new = (u128)new_hi << 64 | new_lo;
	return __sync_bool_compare_and_swap((u128 *)p, old, new);
}
#endif

/* *p != v, *p read as a relaxed atomic load: on x86-64 one compare with a memory
 * operand (an aligned 8-byte load is atomic), which gcc does not make of an
 * atomic load and a compare (it loads into a register first).  The asm reads
 * *p where the atomic load would: after the fences and atomics before it (each
 * a compiler barrier, as the asm is volatile), so the orders are the load's.
 * ThreadSanitizer does not see the read (as it does not see region_cas16()'s). */
static inline bool region_differs(const _Atomic uint64_t *p, uint64_t v)
{
#if defined(__x86_64__)
	bool ne;
	__asm__ __volatile__("cmpq %[m], %[v]"
	                     : "=@ccne"(ne)
	                     : [m] "m"(*(const volatile uint64_t *)p), [v] "r"(v));
	return ne;
#else
	return atomic_load_explicit(p, memory_order_relaxed) != v;
#endif
}

/* Raise *v to want if it is lower (relaxed: callers order it by a later barrier). */
static inline void region_raise(_Atomic uint64_t *v, uint64_t want)
{
	uint64_t cur = atomic_load_explicit(v, memory_order_relaxed);
	while (cur < want && !atomic_compare_exchange_weak_explicit(v, &cur, want, memory_order_relaxed,
	                                                            memory_order_relaxed))
		;
}

/* The forget bound that covers keys whose home is `home`: 0 if none of them was
 * ever reclaimed, else one past the newest `last` reclaim forgot among them. */
static inline _Atomic uint64_t *region_bound(const struct region *r, uint32_t home)
{
	return &r->bounds[(home & r->mask) >> REGION_BOUND_SHIFT];
}

static inline struct region_client *region_client(const struct region *r, uint32_t i)
{
	return &r->clients[i];
}

/* Counter k of entry e: the owner thread's adds plus the other threads'.  Both
 * words only grow, so a sum read while they change lies between the counter's
 * values before and after the read. */
static inline uint64_t client_ctr(const struct region_client *e, int k)
{
	return atomic_load_explicit(&e->ctr[k], memory_order_relaxed) +
	       atomic_load_explicit(&e->ctr_shared[k], memory_order_relaxed);
}

#endif /* EVT_REGION_H */
