/* The shared record arena: one MAP_SHARED mapping made before any fork, holding
 * the sources, the change log and the decision records of every process. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "stress.h"

static size_t align_up(size_t v, size_t a)
{
	return (v + a - 1) / a * a;
}

struct shared *shared_create(const struct opts *o, const char *name)
{
	uint32_t nsrc = (o->procs * o->threads) * (o->kills + 1) + 2;
	uint32_t nev = 65536 + (uint32_t)(o->seconds * 4000);
	/* Room for twice the target plus a partly filled chunk per source. */
	uint64_t nchunks = 2 * o->decisions / CHUNK_RECS + nsrc + 16;
	size_t off_src = align_up(sizeof(struct shared), 4096);
	size_t off_ev = align_up(off_src + nsrc * sizeof(struct source), 4096);
	size_t off_ch = align_up(off_ev + nev * sizeof(struct event), 4096);
	size_t size = off_ch + nchunks * sizeof(struct chunk);
	/* MAP_NORESERVE: pages cost memory only once written. */
	void *m = mmap(NULL, size, PROT_READ | PROT_WRITE,
	               MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (m == MAP_FAILED)
		return NULL;
	struct shared *sh = m;
	sh->map_size = size;
	sh->nsources_max = nsrc;
	sh->nevents_max = nev;
	sh->nchunks = nchunks;
	sh->sources = (struct source *)((char *)m + off_src);
	sh->events = (struct event *)((char *)m + off_ev);
	sh->chunks = (struct chunk *)((char *)m + off_ch);
	sh->parent = getpid();
	snprintf(sh->name, sizeof sh->name, "%s", name);
	atomic_store(&sh->nsources, 1); /* source 0 means "none" */
	return sh;
}

void shared_destroy(struct shared *sh)
{
	if (sh != NULL)
		munmap(sh, sh->map_size);
}

/* Only the parent creates sources (before it forks their process). */
uint32_t source_new(struct shared *sh, int64_t skew, uint32_t slot, uint32_t inc,
                    uint32_t thread, bool shared_handle, bool batch)
{
	uint32_t id = atomic_load(&sh->nsources);
	if (id >= sh->nsources_max)
		return 0;
	sh->sources[id] = (struct source){ .skew = skew, .skew_steady = skew, .slot = slot,
		                           .incarnation = inc, .thread = thread,
		                           .shared_handle = shared_handle, .batch = batch };
	atomic_store(&sh->nsources, id + 1);
	return id;
}

/* The skew of a decision that started at s: the timestamp it passed is s + this. */
int64_t source_skew(const struct source *so, const struct opts *o, uint64_t t0, uint64_t s)
{
	return churn_phase(o, t0, s) ? so->skew : so->skew_steady;
}

struct source *source_get(struct shared *sh, uint32_t src)
{
	return src > 0 && src < atomic_load(&sh->nsources) ? &sh->sources[src] : NULL;
}

/* Log a change before making it: its interval is open until event_end(), so a
 * change whose maker died would stay "maybe still happening". */
struct event *event_begin(struct shared *sh, enum ev_kind kind, uint32_t key, uint64_t value)
{
	uint32_t i = atomic_fetch_add(&sh->nevents, 1);
	if (i >= sh->nevents_max)
		return NULL;
	struct event *ev = &sh->events[i];
	ev->key = key;
	ev->value = value;
	atomic_store_explicit(&ev->e, UINT64_MAX, memory_order_relaxed);
	atomic_store_explicit(&ev->s, mono_ns(), memory_order_relaxed);
	atomic_store_explicit(&ev->kind, kind, memory_order_release);
	return ev;
}

void event_end(struct event *ev)
{
	if (ev != NULL)
		atomic_store_explicit(&ev->e, mono_ns(), memory_order_release);
}

static struct chunk *chunk_take(struct recorder *w)
{
	uint64_t i = atomic_fetch_add(&w->sh->next_chunk, 1);
	if (i >= w->sh->nchunks) {
		atomic_store(&w->sh->arena_full, 1);
		return NULL;
	}
	struct chunk *c = &w->sh->chunks[i];
	atomic_store_explicit(&c->n, 0, memory_order_relaxed);
	atomic_store_explicit(&c->src, w->src, memory_order_release);
	return c;
}

/*
 * Record the intent of a decision: key, index in its batch call (0 for a single
 * call) and start time, answer PENDING.  The count is published (release) before
 * the call is made, so a process killed during the call leaves its intent
 * behind; one killed before this point made no call.  A batch call records all
 * its events first, so a kill inside it leaves every one of them PENDING.
 */
struct rec *recorder_begin(struct recorder *w, uint32_t key, uint32_t pos, uint64_t s)
{
	if (w->c == NULL || atomic_load_explicit(&w->c->n, memory_order_relaxed) == CHUNK_RECS)
		w->c = chunk_take(w);
	if (w->c == NULL)
		return NULL;
	uint32_t n = atomic_load_explicit(&w->c->n, memory_order_relaxed);
	struct rec *r = &w->c->r[n];
	r->s = s;
	r->dur = 0;
	atomic_store_explicit(&r->key_ans,
	                      key | (uint32_t)CODE_PENDING << KEY_BITS | pos << POS_SHIFT,
	                      memory_order_relaxed);
	atomic_store_explicit(&w->c->n, n + 1, memory_order_release);
	return r;
}

static enum ans_code code_of(int answer)
{
	switch (answer) {
	case 1: return CODE_PROCESSED;
	case 0: return CODE_THROTTLED;
	case -ENOSPC: return CODE_NOSPACE;
	case -ESTALE: return CODE_STALE;
	default: return CODE_ERROR;
	}
}

/* The answer, after the call returned at e (read once for all the events of a
 * batch call, so they keep one interval): duration first, then the code
 * (release).  Only this thread writes r, so key and pos are read back as is. */
void recorder_end(struct rec *r, uint64_t e, int answer)
{
	uint64_t d = e - r->s;
	r->dur = d > UINT32_MAX ? UINT32_MAX : (uint32_t)d;
	uint32_t ka = atomic_load_explicit(&r->key_ans, memory_order_relaxed);
	ka &= ~(((1u << CODE_BITS) - 1) << KEY_BITS);
	atomic_store_explicit(&r->key_ans, ka | (uint32_t)code_of(answer) << KEY_BITS,
	                      memory_order_release);
}
