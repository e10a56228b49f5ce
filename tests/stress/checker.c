/*
 * The history checker: is a recorded history of decisions, window changes and
 * clears one the library may legally produce?  Strict wherever the records prove
 * what happened, lenient only where concurrency leaves it open, each leniency
 * named below.
 *
 * What the library does (lib/table.c).  A decision finds its key with last = L,
 * reads the window W while the key still holds L or more, and throttles iff
 * ts < L or ts - L < W, else sets last = ts (if last is still L; else it looks
 * again); or finds it absent and inserts it with last = ts (processed).  Each
 * answer takes effect at one instant inside the call.  A key's state changes
 * otherwise only when it is removed: by evt_clear_key()/evt_clear() (per key, at
 * one instant inside that call) or by reclaim (an insert needing room, or the
 * daemon's sweep).  Reclaim never justifies an answer: before it forgets a key it
 * raises the forget bound past its last, and an insert within a window of the
 * bound is stale (docs/design.md §3).  The stress daemon's throttle answers
 * stale decisions with -ESTALE (on_stale = error), which this checker leaves out;
 * every 0 and 1 must be legal without any reclaim.  Client timestamps are
 * s + skew, skew >= 0 for clients, negative for the lagging anchor.
 *
 * (a) Two processed calls a, b of one key.  Say a took effect before b.  That
 * order is possible unless b ended before a started.  Then one of:
 *   normal:  no removal between them.  Processing needs ts >= last + W > last,
 *            so processed timestamps only grow along a key's life: b saw
 *            last >= ts_a, hence ts_b >= ts_a + W_b, W_b a window possibly in
 *            force during b's call.  (So a processed call that started after
 *            another processed call ended must carry the larger timestamp: an
 *            event older than last is throttled.)
 *   clear:   a clear of the key took effect between, so its interval meets
 *            [a.s, b.e].
 * The pair passes if either order passes.  (A reclaim between them would let b
 * insert the key again only with ts_b at least a window past ts_a: the normal
 * route's own condition.)
 * Only pairs less than D apart in ts are looked at: beyond the largest window
 * the normal route holds in the order real time allows, and if b ended before a
 * started, ts_b - ts_a < skew_b - skew_a.
 *
 * (b) A throttled call t found last = L with ts_t < L + W_t.  L is the ts of a
 * call p that processed it: answered 1, or was cut short by SIGKILL (an
 * unfinished record: it may or may not have taken effect).  p took effect before
 * t read: p.s < t.e (this also rules out t's own later calls), and p is ahead
 * of t if both are events of one batch call.  W_t is at most
 * the largest window possibly in force during t's call.  And p's state was not
 * certainly removed in between: no clear of the key lies strictly inside
 * (p.e, t.s), since a clear removes every key present when it starts (a key
 * present later was written by a later processed call, itself a candidate; that
 * is evt_clear()'s contract, and a clear that misses a key shows up here).
 * Leniency: a reclaim could also have removed it, but reclaims are not recorded;
 * not demanding their absence can only accept more, never reject a legal history.
 *
 * Unfinished calls are never asserted: neither checked in (a) nor required to be
 * justified.  Answers other than 0 and 1 (-ENOSPC with on_full = error) change
 * nothing and are left out.
 *
 * Batch calls.  Each event of an evt_should_process_batch() call is a decision
 * of its own, recorded with the whole call's interval [s, e] (it took effect
 * somewhere inside it) and its array index pos; a kill inside the call leaves
 * every event unfinished, as it leaves a single call.  So (a) and (b) hold for
 * them as they stand.  One thing is added: the call decides its events in array
 * order, so of two events of one call the lower index took effect first, where
 * real time alone leaves both orders open (orders()).  That removes only orders
 * the batch contract forbids, never a legal history; it is what catches a batch
 * decided out of order (its events step in ts, so order changes the answers).
 */
#include "checker.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_VALUES 16u

struct ivl {
	uint64_t lo, hi;
};

/* The real-time stretches in which one window value may be in force. */
struct wvalue {
	uint64_t value;
	struct ivl *iv;
	size_t n;
};

struct crun {
	struct hclear *c;
	uint64_t *pmax, *smin; /* within each key's run: prefix max of e, suffix min */
	size_t n;
};

static uint64_t sat_add(uint64_t a, uint64_t b)
{
	return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

static int cmp_wchange(const void *x, const void *y)
{
	const struct wchange *a = x, *b = y;
	return a->s < b->s ? -1 : a->s > b->s;
}

static int cmp_ivl(const void *x, const void *y)
{
	const struct ivl *a = x, *b = y;
	return a->lo < b->lo ? -1 : a->lo > b->lo;
}

/* First index in sorted w[0..n) with s > t. */
static size_t first_after(const struct wchange *w, size_t n, uint64_t t)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (w[mid].s > t)
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo;
}

static struct wvalue *value_slot(struct checker *c, uint64_t v)
{
	for (unsigned i = 0; i < c->nvals; i++)
		if (c->vals[i].value == v)
			return &c->vals[i];
	if (c->nvals == MAX_VALUES)
		return NULL;
	c->vals[c->nvals] = (struct wvalue){ .value = v };
	return &c->vals[c->nvals++];
}

static void merge_ivls(struct wvalue *v)
{
	qsort(v->iv, v->n, sizeof *v->iv, cmp_ivl);
	size_t m = 0;
	for (size_t i = 0; i < v->n; i++) {
		if (m > 0 && v->iv[i].lo <= v->iv[m - 1].hi) {
			if (v->iv[i].hi > v->iv[m - 1].hi)
				v->iv[m - 1].hi = v->iv[i].hi;
		} else {
			v->iv[m++] = v->iv[i];
		}
	}
	v->n = m;
}

/*
 * Change k may be in force at instant x iff it may have taken effect by then
 * (k.s <= x) and no change certainly followed it and took effect by then: one
 * that started after k ended and ended before x.  So k may be in force during
 * [k.s, sup(k)], sup(k) the earliest end of a change starting after k.e.
 */
static int build_windows(struct checker *c, const struct wchange *w0, size_t nw)
{
	struct wchange *w = malloc(nw * sizeof *w);
	uint64_t *smin = malloc((nw + 1) * sizeof *smin);
	c->vals = calloc(MAX_VALUES, sizeof *c->vals);
	int rc = w != NULL && smin != NULL && c->vals != NULL ? 0 : -1;
	for (size_t i = 0; rc == 0 && i < nw; i++) {
		struct wvalue *v = value_slot(c, w0[i].value);
		rc = v != NULL ? 0 : -1;
		if (rc == 0 && v->iv == NULL)
			v->iv = malloc(nw * sizeof *v->iv);
		rc = rc == 0 && v->iv != NULL ? 0 : -1;
	}
	if (rc == 0) {
		memcpy(w, w0, nw * sizeof *w);
		qsort(w, nw, sizeof *w, cmp_wchange);
		smin[nw] = UINT64_MAX;
		for (size_t i = nw; i-- > 0;)
			smin[i] = w[i].e < smin[i + 1] ? w[i].e : smin[i + 1];
		for (size_t i = 0; i < nw; i++) {
			struct wvalue *v = value_slot(c, w[i].value);
			v->iv[v->n++] = (struct ivl){ w[i].s, smin[first_after(w, nw, w[i].e)] };
		}
		for (unsigned i = 0; i < c->nvals; i++)
			merge_ivls(&c->vals[i]);
	}
	free(w);
	free(smin);
	return rc;
}

static bool may_be_in_force(const struct wvalue *v, uint64_t a, uint64_t b)
{
	size_t lo = 0, hi = v->n;
	while (lo < hi) { /* first stretch ending at or after a */
		size_t mid = lo + (hi - lo) / 2;
		if (v->iv[mid].hi >= a)
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo < v->n && v->iv[lo].lo <= b;
}

/* Smallest and largest window possibly in force at some instant of [a, b]. */
static void windows_during(const struct checker *c, uint64_t a, uint64_t b, uint64_t *wlo,
                           uint64_t *whi)
{
	*wlo = UINT64_MAX;
	*whi = 0;
	for (unsigned i = 0; i < c->nvals; i++) {
		if (!may_be_in_force(&c->vals[i], a, b))
			continue;
		uint64_t v = c->vals[i].value;
		*wlo = v < *wlo ? v : *wlo;
		*whi = v > *whi ? v : *whi;
	}
	if (*whi == 0) { /* before the first change: anything */
		*wlo = c->wmin_all;
		*whi = c->wmax_all;
	}
}

static int cmp_clear(const void *x, const void *y)
{
	const struct hclear *a = x, *b = y;
	if (a->key != b->key)
		return a->key < b->key ? -1 : 1;
	return a->s < b->s ? -1 : a->s > b->s;
}

static struct crun *build_clears(const struct hclear *cl, size_t ncl, bool all)
{
	struct crun *r = calloc(1, sizeof *r);
	if (r == NULL)
		return NULL;
	r->c = malloc((ncl + 1) * sizeof *r->c);
	r->pmax = malloc((ncl + 1) * sizeof *r->pmax);
	r->smin = malloc((ncl + 1) * sizeof *r->smin);
	if (r->c == NULL || r->pmax == NULL || r->smin == NULL)
		return r; /* checked by the caller through r->c etc. */
	for (size_t i = 0; i < ncl; i++)
		if (cl[i].all == all)
			r->c[r->n++] = (struct hclear){ cl[i].s, cl[i].e, all ? 0 : cl[i].key, all };
	qsort(r->c, r->n, sizeof *r->c, cmp_clear);
	for (size_t i = 0; i < r->n; i++) {
		bool first = i == 0 || r->c[i - 1].key != r->c[i].key;
		r->pmax[i] = first || r->c[i].e > r->pmax[i - 1] ? r->c[i].e : r->pmax[i - 1];
	}
	for (size_t i = r->n; i-- > 0;) {
		bool last = i + 1 == r->n || r->c[i + 1].key != r->c[i].key;
		r->smin[i] = last || r->c[i].e < r->smin[i + 1] ? r->c[i].e : r->smin[i + 1];
	}
	return r;
}

static void free_clears(struct crun *r)
{
	if (r == NULL)
		return;
	free(r->c);
	free(r->pmax);
	free(r->smin);
	free(r);
}

int checker_init(struct checker *c, const struct wchange *w, size_t nw, const struct hclear *cl,
                 size_t ncl)
{
	*c = (struct checker){ .wmin_all = UINT64_MAX, .limit = 1 };
	if (nw == 0)
		return -1;
	for (size_t i = 0; i < nw; i++) {
		c->wmin_all = w[i].value < c->wmin_all ? w[i].value : c->wmin_all;
		c->wmax_all = w[i].value > c->wmax_all ? w[i].value : c->wmax_all;
	}
	c->all = build_clears(cl, ncl, true);
	c->keyed = build_clears(cl, ncl, false);
	bool ok = c->all != NULL && c->all->smin != NULL && c->keyed != NULL &&
	          c->keyed->smin != NULL;
	if (!ok || build_windows(c, w, nw) < 0) {
		checker_free(c);
		return -1;
	}
	return 0;
}

void checker_free(struct checker *c)
{
	for (unsigned i = 0; c->vals != NULL && i < c->nvals; i++)
		free(c->vals[i].iv);
	free(c->vals);
	free_clears(c->all);
	free_clears(c->keyed);
	c->vals = NULL;
	c->all = c->keyed = NULL;
}

/* The clears that concern one key: its keyed run and every evt_clear(). */
struct key_clears {
	const struct crun *keyed, *all;
	size_t lo, hi; /* the key's run in keyed */
};

static size_t clear_bound(const struct crun *r, size_t lo, size_t hi, uint32_t key,
                          uint64_t s, bool upper)
{
	while (lo < hi) { /* first entry > (key, s) if upper, else >= (key, 0) */
		size_t mid = lo + (hi - lo) / 2;
		const struct hclear *m = &r->c[mid];
		bool before = m->key < key || (upper && m->key == key && m->s <= s);
		if (before)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static struct key_clears key_clears(const struct checker *c, uint32_t key)
{
	size_t lo = clear_bound(c->keyed, 0, c->keyed->n, key, 0, false);
	size_t hi = clear_bound(c->keyed, lo, c->keyed->n, key + 1, 0, false);
	return (struct key_clears){ c->keyed, c->all, lo, hi };
}

/* Some clear in r[lo, hi) has s <= b and e >= a: it may lie inside [a, b]. */
static bool run_meets(const struct crun *r, size_t lo, size_t hi, uint32_t key, uint64_t a,
                      uint64_t b)
{
	size_t i = clear_bound(r, lo, hi, key, b, true);
	return i > lo && r->pmax[i - 1] >= a;
}

/* Some clear in r[lo, hi) has s > a and e < b: it certainly lies inside (a, b). */
static bool run_within(const struct crun *r, size_t lo, size_t hi, uint32_t key, uint64_t a,
                       uint64_t b)
{
	size_t i = clear_bound(r, lo, hi, key, a, true);
	return i < hi && r->smin[i] < b;
}

static bool clear_meets(const struct key_clears *k, uint32_t key, uint64_t a, uint64_t b)
{
	return run_meets(k->keyed, k->lo, k->hi, key, a, b) ||
	       run_meets(k->all, 0, k->all->n, 0, a, b);
}

static bool clear_within(const struct key_clears *k, uint32_t key, uint64_t a, uint64_t b)
{
	return run_within(k->keyed, k->lo, k->hi, key, a, b) ||
	       run_within(k->all, 0, k->all->n, 0, a, b);
}

static void violation(struct checker *c, const char *what, const struct hrec *x,
                      const struct hrec *y)
{
	c->st.violations++;
	if (c->nreport == CHECK_REPORTS)
		return;
	char *buf = c->report[c->nreport++];
	int n = snprintf(buf, sizeof c->report[0],
	                 "key %u: %s: ts %" PRIu64 " answer %u src %u call [%" PRIu64 ", %" PRIu64 "]",
	                 x->key, what, x->ts, x->ans, x->src, x->s, x->e);
	if (y != NULL && n > 0 && (size_t)n < sizeof c->report[0])
		snprintf(buf + n, sizeof c->report[0] - (size_t)n,
		         "; other: ts %" PRIu64 " answer %u src %u call [%" PRIu64 ", %" PRIu64 "]",
		         y->ts, y->ans, y->src, y->s, y->e);
}

/* Two events of one batch call (a source's calls never share s; a single call
 * has pos 0 only). */
static bool same_call(const struct hrec *x, const struct hrec *y)
{
	return x->src == y->src && x->s == y->s && x->pos != y->pos;
}

/* Possible orders of x and y: 1 x first, 2 y first, 3 either.  Real time decides,
 * and within one batch call the array order. */
static unsigned orders(const struct hrec *x, const struct hrec *y)
{
	if (same_call(x, y))
		return x->pos < y->pos ? 1u : 2u;
	return (y->e < x->s ? 0u : 1u) | (x->e < y->s ? 0u : 2u);
}

/* The normal route for "x, then y", both processed: y saw last >= ts_x. */
static bool order_normal(const struct checker *c, const struct hrec *x, const struct hrec *y)
{
	if (!(orders(x, y) & 1))
		return false; /* y was over before x began, or came first in their batch */
	uint64_t wlo, whi;
	windows_during(c, y->s, y->e, &wlo, &whi);
	return y->ts >= x->ts && y->ts - x->ts >= wlo;
}

/* Property (a) for one pair of processed calls of a key. */
static void check_pair(struct checker *c, const struct key_clears *k, const struct hrec *x,
                       const struct hrec *y)
{
	c->st.pairs++;
	if (order_normal(c, x, y) || order_normal(c, y, x))
		return;
	unsigned o = orders(x, y);
	if (((o & 1) && clear_meets(k, x->key, x->s, y->e)) ||
	    ((o & 2) && clear_meets(k, x->key, y->s, x->e))) {
		c->st.via_clear++;
		return;
	}
	violation(c, "two processed calls with no legal order (within a window, or the "
	             "later call older than the earlier one's timestamp)", x, y);
}

/* ts - s, as signed: the source's skew. */
static int64_t skew_of(const struct hrec *r)
{
	return (int64_t)(r->ts - r->s);
}

/* (a) over the processed calls p[0..n) of one key, sorted by ts. */
static void check_processed(struct checker *c, const struct key_clears *k, const struct hrec *h,
                            const uint32_t *p, size_t n)
{
	int64_t lo = INT64_MAX, hi = INT64_MIN;
	for (size_t i = 0; i < n; i++) {
		int64_t sk = skew_of(&h[p[i]]);
		lo = sk < lo ? sk : lo;
		hi = sk > hi ? sk : hi;
	}
	uint64_t span = n > 0 ? (uint64_t)(hi - lo) : 0;
	uint64_t d = (span > c->wmax_all ? span : c->wmax_all) + 1;
	for (size_t i = 0; i < n; i++)
		for (size_t j = i + 1; j < n && h[p[j]].ts - h[p[i]].ts < d; j++)
			check_pair(c, k, &h[p[i]], &h[p[j]]);
}

/* (b) for one throttled call t against the candidates j[0..n) sorted by ts. */
static void check_throttle(struct checker *c, const struct key_clears *k, const struct hrec *h,
                           const struct hrec *t, const uint32_t *j, size_t n, int64_t maxskew)
{
	if (n == 0) {
		violation(c, "throttled, and its key was never processed", t, NULL);
		return;
	}
	uint64_t wlo, whi;
	windows_during(c, t->s, t->e, &wlo, &whi);
	uint64_t floor = t->ts >= whi ? t->ts - whi + 1 : 0; /* p.ts > ts - W */
	/* p.s < t.e and p.ts = p.s + skew bound the scan from above. */
	uint64_t ceil = maxskew >= 0 ? sat_add(t->e, (uint64_t)maxskew) : t->e - (uint64_t)-maxskew;
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (h[j[mid]].ts >= floor)
			hi = mid;
		else
			lo = mid + 1;
	}
	bool pending = false;
	for (size_t i = lo; i < n && h[j[i]].ts < ceil; i++) {
		const struct hrec *p = &h[j[i]];
		/* p must have taken effect before t read: begun before t ended, and
		 * ahead of t in their batch call if they share one. */
		if (p->s >= t->e || !(orders(p, t) & 1) || clear_within(k, t->key, p->e, t->s))
			continue;
		if (p->ans == H_PROCESSED)
			return;
		pending = true;
	}
	if (pending) {
		c->st.by_pending++;
		return;
	}
	violation(c, "throttled with no processed call of its key that it could have seen "
	             "within the window", t, NULL);
}

/* One window of a key under a limit: the processed calls p[first, end) (sorted by
 * ts) have ts in [start, start + W). */
struct lwin {
	uint64_t start;
	size_t first, end;
	uint64_t min_s; /* the earliest start of the call that opened it or a later one */
};

/* The windows of the processed calls p[0..np) of one key (sorted by ts), as the
 * rule opens them: the first at the earliest, each next at the earliest processed
 * ts a window W past the previous start.  Exact (rule (c)): windows never
 * overlap, since an event before the current start is throttled (last never moves
 * back) and one a window past it opens the next; so the call that opened the next
 * window is the earliest processed one at or past start + W.  Returns how many. */
static size_t limit_windows(const struct hrec *h, const uint32_t *p, size_t np, uint64_t w,
                            struct lwin *win)
{
	size_t nw = 0;
	for (size_t i = 0; i < np; i++) {
		const struct hrec *x = &h[p[i]];
		if (nw == 0 || x->ts - win[nw - 1].start >= w)
			win[nw++] = (struct lwin){ x->ts, i, i, x->s };
		win[nw - 1].end = i + 1;
	}
	for (size_t k = nw; k-- > 1;)
		if (win[k].min_s < win[k - 1].min_s)
			win[k - 1].min_s = win[k].min_s;
	return nw;
}

/* Did the call that opened one of the windows win[k..nw) take effect before x:
 * possibly (mask 1: orders() allows it) or certainly (mask 3: orders() allows
 * nothing else)?  Such an opener began before x ended (one of x's batch shares
 * its start): min_s bounds the scan. */
static bool opened_before(const struct hrec *h, const uint32_t *p, const struct lwin *win,
                          size_t nw, size_t k, const struct hrec *x, unsigned mask)
{
	for (; k < nw && win[k].min_s <= x->e; k++)
		if ((orders(&h[p[win[k].first]], x) & mask) == 1)
			return true;
	return false;
}

/* How many of the windows win[0..nw) the unfinished calls q[0..nq) (sorted by
 * ts) leave as they are: up to the first window before which one of them falls
 * in a gap (not inside an earlier window), where, taken as processed, it would
 * have opened a window of its own and moved every later one.  One inside a
 * window only adds to its count. */
static size_t windows_fixed(const struct hrec *h, const uint32_t *q, size_t nq,
                            const struct lwin *win, size_t nw, uint64_t w)
{
	size_t i = 0;
	for (size_t k = 0; k < nw; k++)
		for (; i < nq && h[q[i]].ts < win[k].start; i++)
			if (k == 0 || h[q[i]].ts - win[k - 1].start >= w)
				return k;
	return nw;
}

/* The first window starting after ts (nw if none). */
static size_t window_after(const struct lwin *win, size_t nw, uint64_t ts)
{
	size_t lo = 0, hi = nw;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (win[mid].start > ts)
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo;
}

/* Unfinished calls in q[0..nq) (sorted by ts) that may count for t: that may have
 * taken effect before it (orders()), with ts in [lo, hi). */
static size_t pending_in(const struct hrec *h, const uint32_t *q, size_t nq, const struct hrec *t,
                         uint64_t lo, uint64_t hi)
{
	size_t m = 0;
	for (size_t i = 0; i < nq; i++)
		m += h[q[i]].ts >= lo && h[q[i]].ts < hi && (orders(&h[q[i]], t) & 1);
	return m;
}

/* The first of the processed calls p[0..np) (sorted by ts) with ts >= lo. */
static size_t first_at(const struct hrec *h, const uint32_t *p, size_t np, uint64_t lo)
{
	size_t a = 0, b = np;
	while (a < b) {
		size_t mid = a + (b - a) / 2;
		if (h[p[mid]].ts >= lo)
			b = mid;
		else
			a = mid + 1;
	}
	return a;
}

/* Calls that may count for t, with ts in [lo, hi): the unfinished ones
 * (pending_in()) and the processed ones of p[0..np) that may have taken effect
 * before it. */
static size_t seen_in(const struct hrec *h, const uint32_t *p, size_t np, const uint32_t *q,
                      size_t nq, const struct hrec *t, uint64_t lo, uint64_t hi)
{
	size_t seen = pending_in(h, q, nq, t, lo, hi);
	for (size_t i = first_at(h, p, np, lo); i < np && h[p[i]].ts < hi; i++)
		seen += (orders(&h[p[i]], t) & 1) != 0;
	return seen;
}

/* Rule (c) for a throttled call t: its window was full when it read, or a later
 * window had opened (t out of order).  Its window is the rebuilt one it falls in
 * when that is one of the first `fixed` (windows_fixed()); else (in no rebuilt
 * window, or after a gap an unfinished call fell in) a window of unknown start
 * in (ts - W, ts], whose calls have ts in (ts - W, ts + W): all of those count. */
static void check_limit_throttle(struct checker *c, const struct hrec *h, const uint32_t *p,
                                 size_t np, const uint32_t *q, size_t nq, const struct lwin *win,
                                 size_t nw, size_t fixed, const struct hrec *t)
{
	uint64_t w = c->wmax_all;
	size_t after = window_after(win, nw, t->ts);
	/* Out of order: a later window's opener took effect before t read. */
	if (opened_before(h, p, win, nw, after, t, 1) ||
	    pending_in(h, q, nq, t, t->ts + 1, UINT64_MAX))
		return;
	size_t seen;
	if (after > 0 && after - 1 < fixed && t->ts - win[after - 1].start < w) {
		uint64_t start = win[after - 1].start;
		seen = seen_in(h, p, np, q, nq, t, start, sat_add(start, w));
	} else {
		seen = seen_in(h, p, np, q, nq, t, t->ts >= w ? t->ts - w + 1 : 0, sat_add(t->ts, w));
	}
	if (seen >= c->limit)
		return;
	violation(c, "throttled with room left in its window (fewer than limit processed calls "
	             "it could have seen) and no later window opened before it", t, NULL);
}

/*
 * (c) Under a limit above 1 (a run with one window W and no clears): the windows of
 * a key are those limit_windows() rebuilds from its processed calls.  Each holds at
 * most limit processed calls, each of which may have taken effect after the call
 * that opened the window (else the rebuild is not what happened); a call processed with ts before a window that opened
 * (its opener's call ended) before the call began is a violation (last had moved
 * past its ts: it is out of order); and a throttled call must have found its window
 * full (limit calls of it begun before the throttle ended) or a later window open.
 * Unfinished calls may have taken effect: they count towards a full window or a
 * later one, and the counts are checked only in the windows before the first gap
 * one falls in (there it may have opened a window the rebuild cannot see, which
 * moves every later one: windows_fixed()).  Reclaim changes nothing
 * here: a key goes only once its window closed, and coming back it opens a new one.
 */
static void check_key_limit(struct checker *c, const struct hrec *h, size_t n, uint32_t *p,
                            uint32_t *q)
{
	size_t np = 0, nq = 0;
	for (size_t i = 0; i < n; i++) {
		if (h[i].ans == H_PROCESSED)
			p[np++] = (uint32_t)i;
		else if (h[i].ans == H_PENDING)
			q[nq++] = (uint32_t)i;
	}
	struct lwin *win = malloc((np + 1) * sizeof *win);
	if (win == NULL) {
		violation(c, "checker: out of memory", &h[0], NULL);
		return;
	}
	size_t nw = limit_windows(h, p, np, c->wmax_all, win);
	size_t fixed = windows_fixed(h, q, nq, win, nw, c->wmax_all);
	c->st.windows += nw;
	for (size_t k = 0; k < fixed; k++) {
		const struct hrec *opener = &h[p[win[k].first]];
		if (win[k].end - win[k].first > c->limit)
			violation(c, "more processed calls than the limit in one window",
			          &h[p[win[k].end - 1]], opener);
		for (size_t i = win[k].first + 1; i < win[k].end; i++)
			if (!(orders(opener, &h[p[i]]) & 1))
				violation(c, "processed inside a window that opened only after it",
				          &h[p[i]], opener);
	}
	for (size_t i = 0; i < np; i++) {
		const struct hrec *x = &h[p[i]];
		if (opened_before(h, p, win, nw, window_after(win, nw, x->ts), x, 3))
			violation(c, "processed, although a window starting after its ts had opened "
			             "before it (its opener ended before it began, or came first in "
			             "their batch)", x, NULL);
	}
	for (size_t i = 0; i < n; i++)
		if (h[i].ans == H_THROTTLED)
			check_limit_throttle(c, h, p, np, q, nq, win, nw, fixed, &h[i]);
	free(win);
}

/* All decisions of one key, sorted by ts.  p, j: scratch of n entries each. */
static void check_key(struct checker *c, const struct hrec *h, size_t n, uint32_t *p, uint32_t *j)
{
	struct key_clears k = key_clears(c, h[0].key);
	size_t np = 0, nj = 0;
	int64_t maxskew = INT64_MIN;
	for (size_t i = 0; i < n; i++) {
		c->st.processed += h[i].ans == H_PROCESSED;
		c->st.throttled += h[i].ans == H_THROTTLED;
		c->st.pending += h[i].ans == H_PENDING;
		c->st.other += h[i].ans == H_OTHER;
		if (h[i].ans == H_PROCESSED)
			p[np++] = (uint32_t)i;
		if (h[i].ans == H_PROCESSED || h[i].ans == H_PENDING) {
			j[nj++] = (uint32_t)i;
			maxskew = skew_of(&h[i]) > maxskew ? skew_of(&h[i]) : maxskew;
		}
	}
	if (c->limit > 1) {
		check_key_limit(c, h, n, p, j);
		return;
	}
	check_processed(c, &k, h, p, np);
	for (size_t i = 0; i < n; i++)
		if (h[i].ans == H_THROTTLED)
			check_throttle(c, &k, h, &h[i], j, nj, maxskew);
}

static int cmp_hrec(const void *x, const void *y)
{
	const struct hrec *a = x, *b = y;
	if (a->key != b->key)
		return a->key < b->key ? -1 : 1;
	if (a->ts != b->ts)
		return a->ts < b->ts ? -1 : 1;
	return a->s < b->s ? -1 : a->s > b->s;
}

void checker_run(struct checker *c, struct hrec *h, size_t n)
{
	qsort(h, n, sizeof *h, cmp_hrec);
	uint32_t *p = malloc((n + 1) * sizeof *p), *j = malloc((n + 1) * sizeof *j);
	if (p == NULL || j == NULL) {
		c->st.violations++;
		snprintf(c->report[0], sizeof c->report[0], "checker: out of memory");
		c->nreport = c->nreport > 0 ? c->nreport : 1;
		free(p);
		free(j);
		return;
	}
	c->st.decisions += n;
	for (size_t i = 0, e; i < n; i = e) {
		for (e = i; e < n && h[e].key == h[i].key; e++)
			;
		c->st.keys++;
		check_key(c, h + i, e - i, p, j);
	}
	free(p);
	free(j);
}
