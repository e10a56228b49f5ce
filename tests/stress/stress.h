/*
 * evt-stress: linearizability stress and chaos against evthrottled and its clients.
 * The pieces share this header: the run's options, the shared record arena the
 * forked processes write their histories into, and the process bodies.
 */
#ifndef EVT_STRESS_H
#define EVT_STRESS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "evthrottle.h"
#include "../test_key.h"

#define CHUNK_RECS 4096u  /* records per chunk of the arena */
#define MAX_WINDOWS 4u    /* distinct window values the controller sets */
#define KEY_ANCHOR 0xffffffu /* the controller's own key ("anchor") */
#define KEY_BITS 24u
#define CODE_BITS 3u      /* enum ans_code */
#define POS_SHIFT (KEY_BITS + CODE_BITS)
#define BATCH_MAX 32u     /* events of one batch call: an index fits the bits left */
_Static_assert(BATCH_MAX <= 1u << (32 - POS_SHIFT), "batch index fits key_ans");

struct opts {
	double seconds;
	unsigned procs, threads, keys, hot, kills, restarts;
	unsigned churn;         /* keys of the churn phases (0: none) */
	uint64_t phase_ns;      /* steady and churn phases alternate */
	uint64_t decisions;     /* target total over the run */
	uint32_t capacity;
	uint64_t windows[MAX_WINDOWS];
	unsigned nwindows;      /* windows[0] is the configured one */
	uint64_t max_skew_ns;   /* client clocks run 0 .. this far ahead */
	uint64_t lag_ns;        /* the anchor's clock runs this far behind in churn phases */
	uint64_t lag_steady_ns; /* ... and this far in steady phases (>= lag_ns) */
	uint64_t period_ns;     /* the clients' burst grid */
	uint64_t downtime_ns;   /* how long the daemon stays dead at each restart */
	uint64_t max_latency_ns;
	uint64_t batch_step_ns; /* event i of a batch call has ts = s + skew + i * this */
	uint64_t delay_ns;      /* shared-handle threads: longest wait between clock and call */
	uint64_t seed;
	uint32_t limit;         /* the throttle's limit; above 1: one window, no clears */
	const char *daemon, *inspect;
	bool tap, self_test;
};

/* One decision: written before the call (s, key, PENDING), answered after it.  The
 * events of one evt_should_process_batch() call share s and dur, their call's. */
struct rec {
	uint64_t s;                /* CLOCK_MONOTONIC just before the call */
	uint32_t dur;              /* call end - s, saturated */
	_Atomic uint32_t key_ans;  /* key id | answer code << KEY_BITS | pos << POS_SHIFT */
};
_Static_assert(sizeof(struct rec) == 16, "records are packed");

enum ans_code {
	CODE_PENDING = 0,
	CODE_PROCESSED,
	CODE_THROTTLED,
	CODE_NOSPACE,
	CODE_ERROR,
	CODE_STALE /* -ESTALE: on_stale = error, the exact answer was forgotten */
};

/* The fields of key_ans.  pos: the event's index in its batch call, 0 for a
 * single call; its ts is s + skew + pos * batch_step_ns. */
static inline uint32_t ka_key(uint32_t ka)
{
	return ka & ((1u << KEY_BITS) - 1);
}

static inline enum ans_code ka_code(uint32_t ka)
{
	return (enum ans_code)(ka >> KEY_BITS & ((1u << CODE_BITS) - 1));
}

static inline uint32_t ka_pos(uint32_t ka)
{
	return ka >> POS_SHIFT;
}

/* Records of one source (thread), in arena order.  src 0: never initialized. */
struct chunk {
	_Atomic uint32_t src;
	_Atomic uint32_t n;
	uint64_t pad;
	struct rec r[CHUNK_RECS];
};

/* One thread of one client incarnation, or the controller's anchor. */
struct source {
	_Alignas(64) int64_t skew; /* ts - s; a cache line per source */
	int64_t skew_steady;       /* ts - s in steady phases (differs for the anchor) */
	uint32_t slot, incarnation, thread;
	bool shared_handle;
	bool batch;             /* decides through evt_should_process_batch() */
	pid_t pid;
	_Atomic int err;        /* first error the process met (attach, answer) */
	_Atomic uint64_t death_ns; /* reaped after SIGKILL at; 0 otherwise */
	_Atomic uint64_t calls;    /* decisions begun */
	_Atomic uint64_t die_at;   /* an aimed kill: SIGKILL soon after call die_at */
};

enum ev_kind { EV_NONE = 0, EV_WINDOW, EV_CLEAR_KEY, EV_CLEAR_ALL };

/* A change: its real-time interval [s, e] (e UINT64_MAX while in flight). */
struct event {
	_Atomic uint32_t kind;
	uint32_t key;
	uint64_t value;
	_Atomic uint64_t s, e;
};

/* Everything the processes share: mapped MAP_SHARED before the first fork, so it
 * survives any of them being killed. */
struct shared {
	_Atomic int stop;      /* clients: finish the burst and exit */
	_Atomic int stop_ctl;  /* the controller, once no client is left */
	_Atomic int arena_full;
	_Atomic uint64_t next_chunk;
	uint64_t nchunks;
	uint32_t nsources_max, nevents_max;
	_Atomic uint32_t nsources, nevents;
	uint64_t t0;            /* run start: the burst grid's origin */
	uint32_t quota;         /* decisions per thread per period */
	pid_t parent;
	char name[64];
	_Atomic uint64_t n_window, n_clear_key, n_clear_key_hit, n_clear_all;
	_Atomic uint64_t batch_miscounts; /* batch calls whose return was not its 1s */
	struct source *sources; /* [nsources_max] */
	struct event *events;   /* [nevents_max] */
	struct chunk *chunks;   /* [nchunks] */
	size_t map_size;
};

/* shared.c */
struct shared *shared_create(const struct opts *o, const char *name);
void shared_destroy(struct shared *sh);
uint32_t source_new(struct shared *sh, int64_t skew, uint32_t slot, uint32_t inc,
                    uint32_t thread, bool shared_handle, bool batch);
int64_t source_skew(const struct source *so, const struct opts *o, uint64_t t0, uint64_t s);
struct source *source_get(struct shared *sh, uint32_t src);
struct event *event_begin(struct shared *sh, enum ev_kind kind, uint32_t key, uint64_t value);
void event_end(struct event *ev);

/* A thread's writer into the arena. */
struct recorder {
	struct shared *sh;
	uint32_t src;
	struct chunk *c;
};
struct rec *recorder_begin(struct recorder *w, uint32_t key, uint32_t pos, uint64_t s);
void recorder_end(struct rec *r, uint64_t e, int answer);

/* util.c */
uint64_t mono_ns(void);
void sleep_until(uint64_t t);
uint64_t splitmix(uint64_t *s);
uint64_t rand_range(uint64_t *rng, uint64_t lo, uint64_t hi); /* [lo, hi] */
#define KEY_STR_MAX TEST_KEY_LONG /* the longest key_str(): buffers hold this many */
size_t key_str(char *buf, uint32_t id);
bool churn_phase(const struct opts *o, uint64_t t0, uint64_t now);
uint32_t pick_key(const struct opts *o, uint64_t t0, uint64_t now, uint64_t r);
void die_with_parent(pid_t parent);

/* client.c, controller.c: forked process bodies; they _exit(), never return. */
_Noreturn void client_main(struct shared *sh, const struct opts *o, uint32_t first_src);
_Noreturn void controller_main(struct shared *sh, const struct opts *o, uint32_t src, int ready_fd);

/* daemon.c */
struct daemon {
	const char *bin;
	char dir[64], conf[128], log[128];
	pid_t pid;
	uint64_t window; /* configured: each start sets it */
	uint64_t hash_seed, created_ns; /* the region's identity, to see it kept */
};
int daemon_setup(struct daemon *d, const struct opts *o, const char *name);
int daemon_start(struct daemon *d, struct shared *sh, char *err, size_t errlen);
int daemon_kill(struct daemon *d);
int daemon_stop(struct daemon *d);
void daemon_cleanup(struct daemon *d, const char *name);
void daemon_log_tail(const struct daemon *d);

/* children.c */
void children_init(void);
void child_after_fork(void);
int wait_child(pid_t pid, uint64_t deadline, int *status);

/* selftest.c */
int self_test(bool tap);

#endif /* EVT_STRESS_H */
