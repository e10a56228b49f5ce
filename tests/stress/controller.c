/*
 * The controller process: the operator.  It changes the window among the
 * configured values, clears random keys and, now and then, the whole table, each
 * change logged with its real-time interval.  Never killed, and stopped only
 * after every client has exited.
 *
 * It is also the anchor: every millisecond it decides on its own key with the
 * timestamp now - lag (lag_steady in steady phases, which keeps the steady keys
 * from ever being reclaimed).  Its watermark is then at most (real time - lag),
 * and the reclaim horizon, the lowest watermark of the live clients, is too.
 * That is what lets the checker bound reclaim (see checker.c): a key reclaimed
 * at real time r had last + window <= horizon < r - lag.  Client clocks run
 * 0 .. max_skew ahead of real time, so no client, however new, is ever behind
 * the horizon when its call starts.  (Going from lag to lag_steady, the anchor's
 * timestamps step back; its watermark keeps its highest value, so the horizon
 * just stands still for a while.)
 */
#include <unistd.h>

#include "stress.h"

#define ANCHOR_EVERY 1000000ull /* ns */

struct ctl {
	struct shared *sh;
	const struct opts *o;
	evt_throttle *t;
	struct recorder rec;
	uint64_t rng;
	uint64_t next_anchor, next_window, next_clear_key, next_clear;
};

static void anchor(struct ctl *c)
{
	uint64_t s = mono_ns();
	struct rec *r = recorder_begin(&c->rec, KEY_ANCHOR, 0, s);
	if (r == NULL)
		return;
	char buf[KEY_STR_MAX];
	size_t len = key_str(buf, KEY_ANCHOR);
	uint64_t lag = churn_phase(c->o, c->sh->t0, s) ? c->o->lag_ns : c->o->lag_steady_ns;
	int rc = evt_should_process(c->t, s - lag, NULL, buf, len);
	recorder_end(r, mono_ns(), rc);
}

static void change_window(struct ctl *c)
{
	uint64_t w = c->o->windows[rand_range(&c->rng, 0, c->o->nwindows - 1)];
	struct event *ev = event_begin(c->sh, EV_WINDOW, 0, w);
	if (ev == NULL)
		return;
	evt_update_window(c->t, w);
	event_end(ev);
	atomic_fetch_add(&c->sh->n_window, 1);
}

static void clear_key(struct ctl *c)
{
	/* A quarter on the hot keys, where decisions race the removal most; the
	 * rest on the keys of the current phase. */
	uint64_t r = splitmix(&c->rng);
	uint32_t key = r % 4 == 0 ? (uint32_t)(r >> 32) % c->o->hot
	                          : pick_key(c->o, c->sh->t0, mono_ns(), r | 1);
	struct event *ev = event_begin(c->sh, EV_CLEAR_KEY, key, 0);
	if (ev == NULL)
		return;
	char buf[KEY_STR_MAX];
	int rc = evt_clear_key(c->t, buf, key_str(buf, key));
	event_end(ev);
	atomic_fetch_add(&c->sh->n_clear_key, 1);
	if (rc == 1)
		atomic_fetch_add(&c->sh->n_clear_key_hit, 1);
}

static void clear_all(struct ctl *c)
{
	struct event *ev = event_begin(c->sh, EV_CLEAR_ALL, 0, 0);
	if (ev == NULL)
		return;
	evt_clear(c->t);
	event_end(ev);
	atomic_fetch_add(&c->sh->n_clear_all, 1);
}

static uint64_t min4(uint64_t a, uint64_t b, uint64_t c, uint64_t d)
{
	uint64_t x = a < b ? a : b, y = c < d ? c : d;
	return x < y ? x : y;
}

/* Do whatever is due, then sleep until the next thing is. */
static void step(struct ctl *c)
{
	uint64_t now = mono_ns();
	if (now >= c->next_anchor) {
		anchor(c);
		c->next_anchor = now + ANCHOR_EVERY;
	}
	if (now >= c->next_window) {
		change_window(c);
		c->next_window = now + rand_range(&c->rng, 10000000, 100000000);
	}
	if (now >= c->next_clear_key) {
		clear_key(c);
		c->next_clear_key = now + rand_range(&c->rng, 200000, 3000000);
	}
	if (now >= c->next_clear) {
		clear_all(c);
		c->next_clear = now + rand_range(&c->rng, 1000000000, 4000000000);
	}
	sleep_until(min4(c->next_anchor, c->next_window, c->next_clear_key, c->next_clear));
}

_Noreturn void controller_main(struct shared *sh, const struct opts *o, uint32_t src, int ready_fd)
{
	die_with_parent(sh->parent);
	struct ctl c = { .sh = sh, .o = o, .rec = { .sh = sh, .src = src },
		         .rng = o->seed ^ 0xc0ffeeull };
	int rc = evt_attach(sh->name, 0, &c.t);
	if (rc < 0) {
		atomic_store(&source_get(sh, src)->err, rc);
		_exit(2);
	}
	/* The anchor's first decision gives it a watermark before any client
	 * starts; only then does the parent start them. */
	anchor(&c);
	char ok = 1;
	if (write(ready_fd, &ok, 1) != 1)
		_exit(2);
	close(ready_fd);
	uint64_t now = mono_ns();
	c.next_anchor = now + ANCHOR_EVERY;
	c.next_window = now + rand_range(&c.rng, 10000000, 100000000);
	c.next_clear_key = now + rand_range(&c.rng, 200000, 3000000);
	c.next_clear = now + rand_range(&c.rng, 500000000, 2000000000);
	if (o->limit > 1) /* the checker's rules for a limit: one window, no clears */
		c.next_window = c.next_clear_key = c.next_clear = UINT64_MAX;
	while (!atomic_load_explicit(&sh->stop_ctl, memory_order_acquire))
		step(&c);
	evt_close(c.t);
	_exit(0);
}
