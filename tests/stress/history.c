/* From the shared arena to the checker: the change log, the decisions (by key
 * partition, to bound memory) and the totals the run is judged on. */
#include <stdlib.h>

#include "history.h"

/* Answer code of a record as the checker sees it. */
static unsigned h_ans(enum ans_code code)
{
	switch (code) {
	case CODE_PROCESSED: return H_PROCESSED;
	case CODE_THROTTLED: return H_THROTTLED;
	case CODE_PENDING: return H_PENDING;
	default: return H_OTHER;
	}
}

static int load_changes(struct shared *sh, struct checker *c)
{
	uint32_t n = atomic_load(&sh->nevents);
	n = n < sh->nevents_max ? n : sh->nevents_max;
	struct wchange *w = malloc((n + 1) * sizeof *w);
	struct hclear *cl = malloc((n + 1) * sizeof *cl);
	size_t nw = 0, ncl = 0;
	for (uint32_t i = 0; w != NULL && cl != NULL && i < n; i++) {
		const struct event *ev = &sh->events[i];
		uint32_t kind = atomic_load(&ev->kind);
		uint64_t s = atomic_load(&ev->s), e = atomic_load(&ev->e);
		if (kind == EV_WINDOW)
			w[nw++] = (struct wchange){ s, e, ev->value };
		else if (kind == EV_CLEAR_KEY || kind == EV_CLEAR_ALL)
			cl[ncl++] = (struct hclear){ s, e, ev->key, kind == EV_CLEAR_ALL };
	}
	int rc = w != NULL && cl != NULL ? checker_init(c, w, nw, cl, ncl) : -1;
	free(w);
	free(cl);
	return rc;
}

static bool in_downtime(const struct downtimes *d, uint64_t s)
{
	for (size_t i = 0; i < d->n; i++)
		if (s >= d->at[i][0] && s <= d->at[i][1])
			return true;
	return false;
}

static void total_one(struct totals *t, const struct rec *r, uint32_t src,
                      const struct source *so, const struct downtimes *down)
{
	uint32_t ka = atomic_load(&r->key_ans);
	enum ans_code code = ka_code(ka);
	t->recorded++;
	/* Event 0 is recorded first: if it is unfinished, the call may be too.  A
	 * batch whose later events are unfinished was killed after the call. */
	bool cut = code == CODE_PENDING && ka_pos(ka) == 0;
	t->pending_calls += cut;
	t->batched += so->batch;
	t->batch_calls += so->batch && ka_pos(ka) == 0;
	t->batch_pending += so->batch && code == CODE_PENDING;
	t->batch_pending_calls += so->batch && cut;
	t->processed += code == CODE_PROCESSED;
	t->throttled += code == CODE_THROTTLED;
	t->nospace += code == CODE_NOSPACE;
	t->stale += code == CODE_STALE;
	t->errors += code == CODE_ERROR;
	t->pending += code == CODE_PENDING;
	if (code == CODE_PENDING)
		return;
	if (r->dur > t->max_dur) {
		t->max_dur = r->dur;
		t->max_dur_src = src;
	}
	t->in_downtime += in_downtime(down, r->s);
}

static uint64_t chunks_used(const struct shared *sh)
{
	uint64_t n = atomic_load(&sh->next_chunk);
	return n < sh->nchunks ? n : sh->nchunks;
}

void history_totals(struct shared *sh, const struct downtimes *down, struct totals *t)
{
	*t = (struct totals){ 0 };
	for (uint64_t i = 0; i < chunks_used(sh); i++) {
		const struct chunk *c = &sh->chunks[i];
		uint32_t src = atomic_load(&c->src), n = atomic_load(&c->n);
		const struct source *so = source_get(sh, src);
		if (so == NULL)
			continue;
		for (uint32_t k = 0; k < n && k < CHUNK_RECS; k++) {
			total_one(t, &c->r[k], src, so, down);
			/* An unfinished call only where the process was killed. */
			if (ka_code(atomic_load(&c->r[k].key_ans)) == CODE_PENDING &&
			    atomic_load(&so->death_ns) == 0)
				t->pending_unkilled++;
		}
	}
	for (uint32_t i = 1; i < atomic_load(&sh->nsources); i++) {
		bool client = sh->sources[i].slot != UINT32_MAX;
		t->threads += client;
		t->batch_threads += client && sh->sources[i].batch;
	}
}

static struct hrec to_hrec(const struct shared *sh, const struct opts *o, const struct rec *r,
                           uint32_t src, const struct source *so)
{
	uint32_t ka = atomic_load(&r->key_ans);
	unsigned ans = h_ans(ka_code(ka)), pos = ka_pos(ka);
	uint64_t e = r->dur == UINT32_MAX ? UINT64_MAX : r->s + r->dur;
	if (ans == H_PENDING) {
		uint64_t d = atomic_load(&so->death_ns);
		e = d != 0 ? d : UINT64_MAX;
	}
	/* As client.c computed it: a batch's events step from the call's start. */
	uint64_t ts = r->s + (uint64_t)source_skew(so, o, sh->t0, r->s) + pos * o->batch_step_ns;
	return (struct hrec){ .ts = ts, .s = r->s, .e = e, .key = ka_key(ka), .ans = ans,
		              .pos = pos, .src = src };
}

/* The decisions of keys with key % parts == part. */
static size_t gather(struct shared *sh, const struct opts *o, unsigned part, unsigned parts,
                     struct hrec *out)
{
	size_t m = 0;
	for (uint64_t i = 0; i < chunks_used(sh); i++) {
		const struct chunk *c = &sh->chunks[i];
		uint32_t src = atomic_load(&c->src), n = atomic_load(&c->n);
		const struct source *so = source_get(sh, src);
		for (uint32_t k = 0; so != NULL && k < n && k < CHUNK_RECS; k++) {
			uint32_t key = ka_key(atomic_load(&c->r[k].key_ans));
			if (key % parts == part)
				out[m++] = to_hrec(sh, o, &c->r[k], src, so);
		}
	}
	return m;
}

static size_t count_part(struct shared *sh, unsigned part, unsigned parts)
{
	size_t m = 0;
	for (uint64_t i = 0; i < chunks_used(sh); i++) {
		const struct chunk *c = &sh->chunks[i];
		uint32_t n = atomic_load(&c->n);
		if (source_get(sh, atomic_load(&c->src)) == NULL)
			continue;
		for (uint32_t k = 0; k < n && k < CHUNK_RECS; k++)
			m += ka_key(atomic_load(&c->r[k].key_ans)) % parts == part;
	}
	return m;
}

#define PART_RECS 1000000u

int history_check(struct shared *sh, const struct opts *o, uint64_t recorded,
                  struct checker *c)
{
	if (load_changes(sh, c) < 0)
		return -1;
	c->limit = o->limit;
	unsigned parts = (unsigned)(recorded / PART_RECS + 1);
	for (unsigned part = 0; part < parts; part++) {
		size_t n = count_part(sh, part, parts);
		struct hrec *h = malloc((n + 1) * sizeof *h);
		if (h == NULL)
			return -1;
		n = gather(sh, o, part, parts, h);
		checker_run(c, h, n);
		free(h);
	}
	return 0;
}
