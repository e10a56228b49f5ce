/*
 * evt-stress --self-test: the checker against synthetic histories.  A checker
 * that accepts everything is worthless, so each rule gets a history that breaks
 * it (must be rejected) next to the nearest legal one (must be accepted), and a
 * sequential model's histories are accepted whole and rejected after any single
 * answer is flipped.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checker.h"
#include "stress.h"
#include "verify.h"

#define MAXR 4096

struct synth {
	struct hrec r[MAXR];
	struct wchange w[256];
	struct hclear c[256];
	size_t nr, nw, nc;
};

static unsigned tap_n;
static int failures;
static bool tap_out;

static void result(bool ok, const char *what)
{
	tap_n++;
	failures += !ok;
	if (tap_out)
		printf("%s %u - %s\n", ok ? "ok" : "not ok", tap_n, what);
	else if (!ok)
		fprintf(stderr, "self-test FAILED: %s\n", what);
}

static void start(struct synth *h, uint64_t window)
{
	h->nr = h->nw = h->nc = 0;
	h->w[h->nw++] = (struct wchange){ 0, 0, window };
}

static void dec(struct synth *h, uint32_t key, uint64_t ts, uint64_t s, uint64_t e, unsigned ans,
                uint32_t src)
{
	h->r[h->nr++] = (struct hrec){ .ts = ts, .s = s, .e = e, .key = key, .ans = ans, .src = src };
}

/* Event pos of a batch call [s, e]: its events share the call's interval. */
static void bat(struct synth *h, uint32_t key, uint64_t ts, uint64_t s, uint64_t e, unsigned ans,
                uint32_t src, unsigned pos)
{
	dec(h, key, ts, s, e, ans, src);
	h->r[h->nr - 1].pos = pos;
}

static void win(struct synth *h, uint64_t s, uint64_t e, uint64_t v)
{
	h->w[h->nw++] = (struct wchange){ s, e, v };
}

static void clr(struct synth *h, uint64_t s, uint64_t e, uint32_t key, bool all)
{
	h->c[h->nc++] = (struct hclear){ s, e, key, all };
}

/* Does the checker accept h under limit? */
static bool accepts_limit(struct synth *h, uint32_t limit)
{
	struct checker c;
	if (checker_init(&c, h->w, h->nw, h->c, h->nc) < 0)
		return false;
	c.limit = limit;
	checker_run(&c, h->r, h->nr);
	bool ok = c.st.violations == 0;
	checker_free(&c);
	return ok;
}

static bool accepts(struct synth *h)
{
	return accepts_limit(h, 1);
}

static void expect(struct synth *h, bool accept, const char *what)
{
	result(accepts(h) == accept, what);
}

enum { P = H_PROCESSED, T = H_THROTTLED, U = H_PENDING };

/* Rule (c): a limit of 3 in a window of 100. */
static void limits(void)
{
	struct synth *h = calloc(1, sizeof *h);
	start(h, 100);
	dec(h, 1, 0, 0, 1, P, 1);
	dec(h, 1, 10, 2, 3, P, 2);
	dec(h, 1, 20, 4, 5, P, 1);
	dec(h, 1, 30, 6, 7, T, 2);   /* the window is full */
	dec(h, 1, 100, 8, 9, P, 1);  /* a new window */
	dec(h, 1, 50, 10, 11, T, 2); /* older than the window that opened */
	dec(h, 1, 150, 12, 13, P, 1);
	result(accepts_limit(h, 3), "limit: accepts a legal history of two windows");
	result(!accepts_limit(h, 2), "limit: rejects three processed in a window of limit 2");
	result(!accepts(h), "limit: the same history breaks the rule of limit 1");
	start(h, 100);
	dec(h, 1, 0, 0, 1, P, 1);
	dec(h, 1, 10, 2, 3, P, 2);
	dec(h, 1, 20, 4, 5, P, 1);
	dec(h, 1, 30, 6, 7, P, 2);
	result(!accepts_limit(h, 3), "limit: rejects four processed calls in one window");
	start(h, 100);
	dec(h, 1, 0, 0, 1, P, 1);
	dec(h, 1, 10, 2, 3, T, 2);
	result(!accepts_limit(h, 3), "limit: rejects a throttle with room left in its window");
	start(h, 100);
	dec(h, 1, 10, 0, 1, T, 2);
	dec(h, 1, 0, 2, 3, P, 1);
	result(!accepts_limit(h, 3), "limit: rejects a throttle before any processed call");
	start(h, 100);
	dec(h, 1, 0, 0, 1, P, 1);
	dec(h, 1, 5, 2, 3, P, 2);
	dec(h, 1, 8, 2, 6, P, 3);
	dec(h, 1, 9, 4, 5, T, 1); /* the call at 8 may have taken effect first */
	result(accepts_limit(h, 3), "limit: accepts a throttle that may have seen a full window");
	dec(h, 1, 9, 7, 8, U, 3);
	result(accepts_limit(h, 3), "limit: unfinished calls keep a key's counts unasserted");
	start(h, 100);
	dec(h, 1, 100, 0, 1, P, 1);
	dec(h, 1, 50, 2, 3, P, 2);
	result(!accepts_limit(h, 3), "limit: rejects a call processed after a later window opened");
	start(h, 100);
	dec(h, 1, 200, 0, 1, P, 1); /* a window later: the rebuild opens one at each */
	dec(h, 1, 50, 2, 3, P, 2);
	result(!accepts_limit(h, 3), "limit: rejects a call processed after a window past it opened");
	start(h, 100);
	dec(h, 1, 50, 0, 1, P, 1);
	dec(h, 1, 100, 2, 3, P, 2);
	result(accepts_limit(h, 3), "limit: accepts the same calls in the legal order");
	start(h, 100);
	dec(h, 1, 60, 0, 1, P, 1);  /* opens a window at 60 */
	dec(h, 1, 100, 2, 3, P, 2);
	dec(h, 1, 40, 4, 5, P, 1);  /* older than 60, which had opened: must be throttled */
	result(!accepts_limit(h, 3), "limit: rejects a call counted in a window that opened after it");
	free(h);
}

static void processed_pairs(void)
{
	struct synth *h = calloc(1, sizeof *h);
	start(h, 300);
	dec(h, 1, 100, 0, 10, P, 1);
	dec(h, 1, 105, 5, 15, T, 2);
	dec(h, 1, 400, 20, 30, P, 1);
	dec(h, 1, 90, 25, 35, T, 2); /* older than last */
	expect(h, true, "accepts a legal concurrent history");
	start(h, 300);
	dec(h, 1, 100, 0, 10, P, 1);
	dec(h, 1, 350, 5, 15, P, 2);
	expect(h, false, "rejects two processed calls less than a window apart");
	start(h, 300);
	dec(h, 1, 100, 0, 10, P, 1);
	dec(h, 1, 100, 5, 15, P, 2);
	expect(h, false, "rejects two processed calls with the same timestamp");
	start(h, 300);
	dec(h, 1, 1000, 0, 10, P, 1);
	dec(h, 1, 500, 20, 30, P, 2);
	expect(h, false, "rejects a processed call older than an earlier processed one");
	h->r[1].key = 2;
	expect(h, true, "keys are independent");
	free(h);
}

static void clears(void)
{
	struct synth *h = calloc(1, sizeof *h);
	start(h, 300);
	dec(h, 1, 100, 0, 10, P, 1);
	dec(h, 1, 350, 20, 30, P, 2);
	clr(h, 12, 14, 1, false);
	expect(h, true, "accepts a pair split by a clear_key of the key");
	h->c[0].key = 2;
	expect(h, false, "rejects a pair split only by a clear_key of another key");
	h->c[0].all = true;
	expect(h, true, "accepts a pair split by a clear");
	h->c[0] = (struct hclear){ 40, 50, 1, false };
	expect(h, false, "rejects a pair whose clear came after both");
	h->c[0] = (struct hclear){ 25, 50, 1, false };
	expect(h, true, "accepts a pair whose clear overlaps the second call");
	free(h);
}

static void windows(void)
{
	struct synth *h = calloc(1, sizeof *h);
	start(h, 300);
	dec(h, 1, 100, 0, 10, P, 1);
	dec(h, 1, 350, 20, 30, P, 2);
	win(h, 40, 41, 200);
	expect(h, false, "rejects a pair 250 apart with 300 in force (200 set only after)");
	h->w[1] = (struct wchange){ 15, 16, 200 };
	expect(h, true, "accepts a pair 250 apart once 200 is in force");
	h->w[1] = (struct wchange){ 25, 45, 200 };
	expect(h, true, "accepts a pair when a change to 200 overlaps the second call");
	h->w[1] = (struct wchange){ 2, 3, 200 };
	win(h, 4, 5, 300);
	expect(h, false, "a change certainly superseded is no longer in force");
	start(h, 300);
	dec(h, 1, 100, 0, 10, P, 1);
	dec(h, 1, 450, 20, 30, T, 2);
	expect(h, false, "rejects a throttle beyond the window");
	win(h, 15, 25, 500);
	expect(h, true, "accepts that throttle with a wider window possibly in force");
	free(h);
}

static void throttles(void)
{
	struct synth *h = calloc(1, sizeof *h);
	start(h, 300);
	dec(h, 1, 100, 0, 10, T, 1);
	expect(h, false, "rejects a throttle of a key never processed");
	start(h, 300);
	dec(h, 1, 100, 0, 10, T, 1);
	dec(h, 1, 150, 20, 30, P, 2);
	expect(h, false, "rejects a throttle justified only by a call that started after it");
	h->r[1].s = 5;
	expect(h, true, "accepts a throttle justified by an overlapping call");
	start(h, 300);
	dec(h, 1, 100, 0, 10, P, 1);
	dec(h, 1, 150, 20, 30, T, 2);
	clr(h, 12, 14, 1, false);
	expect(h, false, "rejects a throttle whose justification was certainly cleared");
	h->c[0] = (struct hclear){ 8, 22, 1, false };
	expect(h, true, "accepts it when the clear may have come first");
	h->c[0] = (struct hclear){ 12, 14, 1, true };
	expect(h, false, "rejects it after a clear of every key");
	start(h, 300);
	dec(h, 1, 100, 0, UINT64_MAX, U, 1);
	dec(h, 1, 150, 20, 30, T, 2);
	expect(h, true, "accepts a throttle justified by a killed client's unfinished call");
	h->r[0].s = 31;
	expect(h, false, "but not by one that started after the throttle ended");
	start(h, 300);
	dec(h, 1, 100, 0, 10, U, 1);
	dec(h, 1, 150, 5, 15, P, 2);
	expect(h, true, "never asserts an unfinished call");
	free(h);
}

static void batches(void)
{
	struct synth *h = calloc(1, sizeof *h);
	start(h, 300);
	bat(h, 1, 100, 0, 10, P, 1, 0);
	bat(h, 1, 200, 0, 10, T, 1, 1);
	bat(h, 1, 400, 0, 10, P, 1, 2);
	expect(h, true, "batch: accepts a repeated key decided in array order");
	start(h, 300);
	bat(h, 1, 100, 0, 10, T, 1, 0);
	bat(h, 1, 400, 0, 10, P, 1, 1);
	expect(h, false, "batch: rejects a throttle justified only by a later event of its call");
	h->r[1].s = 1;
	expect(h, true, "batch: accepts the same answers from two overlapping calls");
	start(h, 300);
	bat(h, 1, 100, 0, 10, T, 1, 0);
	bat(h, 1, 400, 0, UINT64_MAX, U, 1, 1);
	expect(h, false, "batch: nor by an unfinished later event of its call");
	start(h, 300);
	bat(h, 1, 1000, 0, 10, P, 1, 0);
	bat(h, 1, 500, 0, 10, P, 1, 1);
	expect(h, false, "batch: rejects two processed events legal only against array order");
	h->r[1].src = 2;
	expect(h, true, "batch: accepts them from two concurrent calls");
	free(h);
}

static void reclaim(void)
{
	struct synth *h = calloc(1, sizeof *h);
	start(h, 300);
	dec(h, 1, 100, 0, 10, P, 1);
	dec(h, 1, 150, 20, 30, P, 2);
	expect(h, false, "rejects a processed pair a short call apart");
	h->r[1].e = 100 + 300 + 1000000;
	expect(h, false, "and when the second call was long: reclaim justifies nothing");
	free(h);
}

/* The seed semantics, one call at a time: [t, t+5] each, disjoint. */
struct model {
	bool has[4];
	uint64_t last[4], window, t;
};

static bool model_decide(struct model *m, uint32_t key, uint64_t ts)
{
	bool p = !m->has[key] || (ts >= m->last[key] && ts - m->last[key] >= m->window);
	if (p) {
		m->has[key] = true;
		m->last[key] = ts;
	}
	return p;
}

/* A batch call of 2..6 events in [t, t+5], decided in array order. */
static void model_batch(struct model *m, struct synth *h, uint64_t *rng, uint64_t t)
{
	unsigned n = 2 + (unsigned)(splitmix(rng) % 5);
	for (unsigned pos = 0; pos < n; pos++) {
		uint64_t r = splitmix(rng);
		uint32_t key = (uint32_t)(r % 4);
		uint64_t ts = t / 3 + (r >> 16) % 60;
		bat(h, key, ts, t, t + 5, model_decide(m, key, ts) ? P : T, 4, pos);
	}
}

static void model_step(struct model *m, struct synth *h, uint64_t *rng)
{
	uint64_t r = splitmix(rng), t = m->t;
	m->t += 10;
	uint32_t key = (uint32_t)(r % 4);
	if (r % 50 == 0) {
		m->window = 20 + 10 * (r >> 8) % 4;
		win(h, t, t + 5, m->window);
	} else if (r % 50 == 1) {
		m->has[key] = false;
		clr(h, t, t + 5, key, false);
	} else if (r % 200 == 2) {
		memset(m->has, 0, sizeof m->has);
		clr(h, t, t + 5, 0, true);
	} else if (r % 10 == 3) {
		model_batch(m, h, rng, t);
	} else {
		uint64_t ts = t / 3 + (r >> 16) % 60; /* out of order within a span */
		bool p = model_decide(m, key, ts);
		dec(h, key, ts, t, t + 5, p ? P : T, 1 + (uint32_t)(r >> 40) % 3);
	}
}

static void model(void)
{
	struct synth *h = calloc(1, sizeof *h), *copy = calloc(1, sizeof *copy);
	uint64_t rng = 42;
	struct model m = { .window = 30, .t = 1000 };
	start(h, 30);
	while (h->nr < 2000 && h->nw < 250 && h->nc < 250)
		model_step(&m, h, &rng);
	memcpy(copy, h, sizeof *h);
	size_t np = 0, nt = 0;
	for (size_t i = 0; i < h->nr; i++) {
		np += h->r[i].ans == P;
		nt += h->r[i].ans == T;
	}
	result(np > 200 && nt > 200 && h->nc > 10 && h->nw > 10 && accepts(h),
	       "accepts a sequential model's history (windows, clears, out of order, batches)");
	unsigned missed = 0, flips = 0;
	for (size_t i = 0; i < copy->nr; i += 7, flips++) {
		memcpy(h, copy, sizeof *h);
		h->r[i].ans = h->r[i].ans == P ? T : P;
		missed += accepts(h);
	}
	char what[128];
	snprintf(what, sizeof what, "rejects every one of %u single flipped answers", flips);
	result(missed == 0, what);
	free(h);
	free(copy);
}

/* The region verdict: a key-count drift only as large as the calls cut short. */
static void region_rules(void)
{
	char why[200];
	struct region_verdict v = { .inspect_rc = 1, .inspect_count = true, .table_count = true,
		                    .drift = -2 };
	result(verify_region_ok(&v, 2, why, sizeof why),
	       "region: a key-count drift of 2 after 2 calls cut short is explained");
	result(!verify_region_ok(&v, 1, why, sizeof why),
	       "region: a drift of 2 after 1 call cut short is not");
	v.inspect_other = 1;
	result(!verify_region_ok(&v, 2, why, sizeof why),
	       "region: any other evthrottle-inspect violation fails");
	v = (struct region_verdict){ .inspect_rc = -2, .table_other = 1 };
	result(!verify_region_ok(&v, 100, why, sizeof why),
	       "region: any other table_check violation fails");
}

/* Review of issue 21 (branch r21): histories that break rule (c) and that the
 * checker should reject.  Each is a real violation: no linearization of the calls
 * gives these answers under a limit of 3 in a window of 100. */
static void limit_holes(void)
{
	struct synth *h = calloc(1, sizeof *h);
	/* The throttle at 10 saw one processed call; the window at 200 was opened by
	 * a call begun after the throttle ended.  A long call of that later window
	 * began before, but it took effect after its opener, so after the throttle. */
	start(h, 100);
	dec(h, 1, 0, 0, 1, P, 1);
	dec(h, 1, 10, 2, 3, T, 2);
	dec(h, 1, 200, 10, 11, P, 3);
	dec(h, 1, 210, 1, 20, P, 4);
	result(!accepts_limit(h, 3),
	       "limit (review): rejects a throttle excused by a later window opened after it");
	/* One batch decided in array order: 0 processed, 10 has room (throttled:
	 * wrong), 200 opens a window only after it. */
	start(h, 100);
	bat(h, 1, 0, 0, 10, P, 1, 0);
	bat(h, 1, 10, 0, 10, T, 1, 1);
	bat(h, 1, 200, 0, 10, P, 1, 2);
	result(!accepts_limit(h, 3),
	       "limit (review): rejects a throttle excused by a later event of its own batch");
	/* One batch: 200 opens a window, then 50 (older) is processed: out of order. */
	start(h, 100);
	bat(h, 1, 200, 0, 10, P, 1, 0);
	bat(h, 1, 50, 0, 10, P, 1, 1);
	result(!accepts_limit(h, 3),
	       "limit (review): rejects an event processed after a later window opened in its batch");
	/* Four processed in the window [0, 100); an unfinished call 50 windows later
	 * cannot have changed that window, yet it turns the key's count check off (in
	 * a 5 s --limit 3 run every hot key has one, so no contended key is checked). */
	start(h, 100);
	dec(h, 1, 0, 0, 1, P, 1);
	dec(h, 1, 10, 2, 3, P, 2);
	dec(h, 1, 20, 4, 5, P, 1);
	dec(h, 1, 30, 6, 7, P, 2);
	dec(h, 1, 5000, 8, 9, U, 3);
	result(!accepts_limit(h, 3),
	       "limit (review): rejects four in a window whatever an unfinished call far away did");
	/* Legal: the unfinished call at 150 opened a window (its own, in the gap after
	 * [0, 100)), 160 and 170 filled it, 180 was throttled.  The windows rebuilt
	 * from the processed calls alone start at 160 and hold two. */
	start(h, 100);
	dec(h, 1, 0, 0, 1, P, 1);
	dec(h, 1, 150, 2, UINT64_MAX, U, 2);
	dec(h, 1, 160, 3, 4, P, 1);
	dec(h, 1, 170, 5, 6, P, 1);
	dec(h, 1, 180, 7, 8, T, 1);
	result(accepts_limit(h, 3),
	       "limit: accepts a throttle in a window an unfinished call in a gap opened");
	/* The same with two unfinished calls and no processed one after the gap: the
	 * throttle is in no window the rebuild sees. */
	start(h, 100);
	dec(h, 1, 0, 0, 1, P, 1);
	dec(h, 1, 150, 2, UINT64_MAX, U, 2);
	dec(h, 1, 155, 3, UINT64_MAX, U, 3);
	dec(h, 1, 158, 5, 6, T, 1);
	result(accepts_limit(h, 2),
	       "limit: accepts a throttle in a window of unfinished calls alone");
	/* But not one that none of them can have filled: they began after it. */
	start(h, 100);
	dec(h, 1, 0, 0, 1, P, 1);
	dec(h, 1, 150, 9, UINT64_MAX, U, 2);
	dec(h, 1, 155, 9, UINT64_MAX, U, 3);
	dec(h, 1, 158, 5, 6, T, 1);
	result(!accepts_limit(h, 2),
	       "limit: rejects a throttle no unfinished call can have filled the window of");
	free(h);
}

int self_test(bool tap)
{
	tap_out = tap;
	processed_pairs();
	clears();
	windows();
	throttles();
	reclaim();
	batches();
	model();
	region_rules();
	limits();
	limit_holes();
	if (tap)
		printf("1..%u\n", tap_n);
	else
		printf("self-test: %u checks, %d failed\n", tap_n, failures);
	return failures == 0 ? 0 : 1;
}
