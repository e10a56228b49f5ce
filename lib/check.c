/*
 * Invariants of a region (see check.h).  The table is read the way find() reads it:
 * a home's hop word, the slots its bits name, then both re-read after an acquire
 * fence; a view is judged only if nothing moved meanwhile, so a client writing
 * concurrently can delay a verdict but never cause a false one.  Nothing here
 * writes to the region.
 */
#include "check.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "admin.h"
#include "clients.h"
#include "keycount.h"
#include "table.h"

#define relaxed memory_order_relaxed
#define acquire memory_order_acquire

#define TRIES 8       /* re-reads of a home that keeps changing */
#define COUNT_TRIES 3 /* passes before a key-count mismatch is reported */

struct checker {
	const struct region *r;
	check_report_fn *report;
	void *ctx;
	int violations;
	uint32_t busy; /* homes skipped because they kept changing */
	uint32_t hwm;  /* client_hwm as last read */
	bool hwm_reread;
	bool quiet;    /* counting again: violations were reported already */
};

/* One slot as read under its home. */
struct slot_view {
	uint64_t ctrl;
	uint32_t slot, dist, home, len;
	unsigned char key[REGION_KEY_MAX];
};

struct home_view {
	uint64_t hop;
	uint32_t n;
	struct slot_view s[32]; /* one per hop bit */
};

_Static_assert(REGION_NBHD <= 32, "hop bits are the low 32 bits of the hop word");

static void violation(struct checker *c, enum check_kind kind, uint32_t at, int64_t a, int64_t b,
                      const char *fmt, ...) __attribute__((format(printf, 6, 7)));

static void violation(struct checker *c, enum check_kind kind, uint32_t at, int64_t a, int64_t b,
                      const char *fmt, ...)
{
	if (c->quiet)
		return;
	struct check_violation v = { kind, at, a, b, "" };
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(v.text, sizeof v.text, fmt, ap);
	va_end(ap);
	c->violations++;
	if (c->report != NULL)
		c->report(c->ctx, &v);
}

static void pause_ms(long ms)
{
	struct timespec ts = { 0, ms * 1000000L };
	nanosleep(&ts, NULL);
}

static void check_header(struct checker *c)
{
	const struct region *r = c->r;
	struct region v;
	int rc = region_validate(r->hdr, r->map_size, r->readonly, &v);
	if (rc < 0) {
		violation(c, CHECK_HEADER, UINT32_MAX, rc, 0, "header: no longer valid (%s)", evt_strerror(rc));
		return;
	}
	if (v.mask != r->mask || v.slot_size != r->slot_size || v.key_max != r->key_max ||
	    v.client_max != r->client_max || v.seed != r->seed || v.on_full != r->on_full)
		violation(c, CHECK_HEADER, UINT32_MAX, 0, 0, "header: geometry, seed or policy changed since it was mapped");
	if (atomic_load_explicit(&r->hdr->window_ns, relaxed) == 0)
		violation(c, CHECK_HEADER, UINT32_MAX, 0, 0, "header: window is 0");
}

static void read_slot(const struct region *r, uint32_t i, struct slot_view *v)
{
	const struct region_slot *s = region_slot(r, i);
	v->slot = i & r->mask;
	v->ctrl = atomic_load_explicit(&s->ctrl, relaxed);
	v->home = atomic_load_explicit(&s->home, relaxed);
	v->len = atomic_load_explicit(&s->key_len, relaxed);
	uint32_t len = v->len <= r->key_max ? v->len : 0;
	for (uint32_t w = 0; w < (len + 7) / 8; w++) {
		uint64_t word = atomic_load_explicit(&s->key[w], relaxed);
		memcpy(v->key + w * 8, &word, len - w * 8 < 8 ? len - w * 8 : 8);
	}
}

/* The slots published under home h, as one consistent view; false if h kept
 * changing. */
static bool read_home(const struct region *r, uint32_t h, struct home_view *v)
{
	const struct region_slot *hs = region_slot(r, h);
	for (int t = 0; t < TRIES; t++) {
		/* Pairs with the release CAS on hop in insert() and finish_remove(): a
		 * bit seen set means its slot's home, key and ctrl are visible. */
		v->hop = atomic_load_explicit(&hs->hop, acquire);
		v->n = 0;
		for (uint32_t bits = HOP_BITS(v->hop); bits != 0; bits &= bits - 1) {
			uint32_t d = (uint32_t)__builtin_ctz(bits);
			struct slot_view *s = &v->s[v->n++];
			read_slot(r, h + d, s);
			s->dist = d;
		}
		/* Seqlock-style, as in find(): the reads above happen before these.  An
		 * unchanged hop word and ctrl words mean each copy is one life of its
		 * slot, published under h for the whole read. */
		atomic_thread_fence(acquire);
		bool same = atomic_load_explicit(&hs->hop, relaxed) == v->hop;
		for (uint32_t k = 0; k < v->n && same; k++)
			same = atomic_load_explicit(&region_slot(r, v->s[k].slot)->ctrl, relaxed) ==
			       v->s[k].ctrl;
		if (same)
			return true;
	}
	return false;
}

static const char *state_name(unsigned st)
{
	static const char *const names[] = { "EMPTY", "CLAIMED", "DYING", "MOVING" };
	return names[st & 3u];
}

/* A published key: well-formed, reachable by a lookup, and there once. */
static void check_key(struct checker *c, uint32_t h, const struct home_view *v, uint32_t k)
{
	const struct region *r = c->r;
	const struct slot_view *s = &v->s[k];
	if (s->dist >= REGION_NBHD)
		violation(c, CHECK_HOP, h, s->dist, REGION_NBHD, "home %u: hop bit %u is beyond the neighbourhood (%u)", h, s->dist,
		          REGION_NBHD);
	if (s->home != h)
		violation(c, CHECK_KEY, s->slot, h, s->home, "slot %u: published under home %u but records home %u", s->slot, h,
		          s->home);
	if (s->len == 0 || s->len > r->key_max) {
		violation(c, CHECK_KEY, s->slot, s->len, r->key_max, "slot %u: key length %u outside 1..%u", s->slot, s->len, r->key_max);
		return;
	}
	uint64_t hash = table_hash(r, s->key, s->len);
	if (table_home(r, hash) != h)
		violation(c, CHECK_KEY, s->slot, table_home(r, hash), h, "slot %u: key hashes to home %u, published under home %u "
		             "(unreachable)", s->slot, table_home(r, hash), h);
	else if (CTRL_TAG(s->ctrl) != table_tag(hash))
		violation(c, CHECK_KEY, s->slot, CTRL_TAG(s->ctrl), table_tag(hash), "slot %u: tag %#x does not match the key's hash (unreachable)",
		          s->slot, CTRL_TAG(s->ctrl));
	for (uint32_t j = 0; j < k; j++) {
		const struct slot_view *o = &v->s[j];
		if (CTRL_STATE(o->ctrl) != SLOT_DYING && o->len == s->len &&
		    memcmp(o->key, s->key, s->len) == 0)
			violation(c, CHECK_KEY, s->slot, o->slot, h, "slots %u and %u: one key published twice under home %u",
			          o->slot, s->slot, h);
	}
}

/* Judge one home's view; returns its published keys. */
static uint32_t check_home(struct checker *c, uint32_t h, const struct home_view *v)
{
	uint32_t keys = 0;
	for (uint32_t k = 0; k < v->n; k++) {
		unsigned st = CTRL_STATE(v->s[k].ctrl);
		/* DYING with its bit still set: a removal in progress, or one a killed
		 * client left; the next insert nearby finishes it. */
		if (st == SLOT_DYING) {
			if (v->s[k].home != h)
				violation(c, CHECK_HOP, v->s[k].slot, h, v->s[k].home, "slot %u: DYING, listed by home %u but records home %u "
				             "(its bit would never be cleared)", v->s[k].slot, h,
				          v->s[k].home);
			continue;
		}
		/* MOVING: a key on its way nearer its home, still here until the
		 * switch (which anyone who meets it completes). */
		if (st != SLOT_CLAIMED && st != SLOT_MOVING) {
			violation(c, CHECK_HOP, h, v->s[k].dist, v->s[k].slot, "home %u: hop bit %u names slot %u, which is %s", h,
			          v->s[k].dist, v->s[k].slot, state_name(st));
			continue;
		}
		check_key(c, h, v, k);
		keys++;
	}
	return keys;
}

/* Every home; returns the published keys. */
static uint64_t table_pass(struct checker *c, struct home_view *v)
{
	uint64_t keys = 0;
	c->busy = 0;
	for (uint32_t h = 0; h <= c->r->mask; h++) {
		if (read_home(c->r, h, v))
			keys += check_home(c, h, v);
		else
			c->busy++;
	}
	return keys;
}

static bool totals_equal(const uint64_t a[CTR_COUNT], const uint64_t b[CTR_COUNT])
{
	return memcmp(a, b, sizeof(uint64_t) * CTR_COUNT) == 0;
}

/* The structural pass over every home (reporting), then the key count:
 * published keys == new_keys - reclaimed - cleared.  The count only holds while
 * nobody writes, so it is retried, counting only, before it is reported. */
static void check_table(struct checker *c, struct home_view *v)
{
	uint64_t t0[CTR_COUNT], t1[CTR_COUNT], keys = 0;
	uint32_t live;
	int64_t want = 0;
	for (int t = 0; t < COUNT_TRIES; t++) {
		if (t > 0)
			pause_ms(1);
		clients_totals(c->r, t0, &live);
		admin_add_totals(c->r, t0);
		c->quiet = t > 0;
		keys = table_pass(c, v);
		c->quiet = false;
		clients_totals(c->r, t1, &live);
		admin_add_totals(c->r, t1);
		want = keycount_of(c->r, t1);
		if (totals_equal(t0, t1) && c->busy == 0 && (int64_t)keys == want)
			return;
	}
	violation(c, CHECK_KEY_COUNT, UINT32_MAX, (int64_t)keys, want,
	          "table: %llu published keys, but the counters say %lld (new - reclaimed - "
	          "cleared %+lld, %llu reap(s) not recounted yet); this holds only while no "
	          "client writes",
	          (unsigned long long)keys, (long long)want,
	          (long long)atomic_load_explicit(&c->r->hdr->keys_adjust, relaxed),
	          (unsigned long long)atomic_load_explicit(&c->r->hdr->keys_owed, relaxed));
}

static bool hop_has(const _Atomic uint64_t *hop, uint32_t bit, memory_order mo)
{
	return bit < REGION_NBHD && (HOP_BITS(atomic_load_explicit(hop, mo)) >> bit & 1u);
}

/* A claimed slot published nowhere whose owner entry is free was never given back:
 * nothing will ever free it.  Judged only if the slot did not move meanwhile. */
static void check_claims(struct checker *c)
{
	const struct region *r = c->r;
	for (uint32_t i = 0; i <= r->mask; i++) {
		const struct region_slot *s = region_slot(r, i);
		uint64_t ctrl = atomic_load_explicit(&s->ctrl, acquire);
		if (CTRL_STATE(ctrl) == SLOT_MOVING && CTRL_OWNER(ctrl) >= REGION_NBHD) {
			violation(c, CHECK_CLAIM, i, CTRL_OWNER(ctrl), REGION_NBHD, "slot %u: moving to bit %u, beyond the neighbourhood", i,
			          CTRL_OWNER(ctrl));
			continue;
		}
		if (CTRL_STATE(ctrl) != SLOT_CLAIMED)
			continue;
		uint32_t owner = CTRL_OWNER(ctrl);
		if (owner >= r->client_max) {
			violation(c, CHECK_CLAIM, i, owner, r->client_max, "slot %u: claimed by client %u, beyond client_max %u", i,
			          owner, r->client_max);
			continue;
		}
		uint32_t home = atomic_load_explicit(&s->home, relaxed) & r->mask;
		uint32_t bit = (i - home) & r->mask;
		const _Atomic uint64_t *hop = &region_slot(r, home)->hop;
		/* Acquire pairs with the release in retire(): an owner seen FREE has
		 * finished (or been reaped), and its reaper's frees are visible below. */
		uint64_t o = atomic_load_explicit(&region_client(r, owner)->owner, acquire);
		if (hop_has(hop, bit, acquire) || CLIENT_STATE(o) != CLIENT_FREE)
			continue;
		atomic_thread_fence(acquire);
		if (atomic_load_explicit(&s->ctrl, relaxed) == ctrl && !hop_has(hop, bit, relaxed))
			violation(c, CHECK_CLAIM, i, owner, 0, "slot %u: claimed by client %u, which is gone, and never "
			             "published or freed (leaked)", i, owner);
	}
}

static uint64_t load_base(const struct region_client *e, int k)
{
	return atomic_load_explicit(&e->base[k], memory_order_relaxed);
}

/* An in-use entry beyond client_hwm is invisible to the horizon and the reaper.
 * client_register() raises hwm just after taking an entry, so read it again (once,
 * a moment later) before saying so. */
static bool below_hwm(struct checker *c, uint32_t i)
{
	if (i < c->hwm)
		return true;
	if (!c->hwm_reread) {
		pause_ms(1);
		c->hwm = atomic_load_explicit(&c->r->hdr->client_hwm, acquire);
		c->hwm_reread = true;
	}
	return i < c->hwm;
}

static void check_client(struct checker *c, uint32_t i)
{
	const struct region *r = c->r;
	const struct region_client *e = region_client(r, i);
	uint64_t o = atomic_load_explicit(&e->owner, acquire);
	unsigned st = CLIENT_STATE(o);
	if (st > CLIENT_REAPING) {
		violation(c, CHECK_CLIENT, i, st, 0, "client %u: invalid state %u (owner %#llx)", i, st,
		          (unsigned long long)o);
		return;
	}
	if (st == CLIENT_FREE) {
		/* Never-used entries are zero: counters there would join the totals
		 * of whoever takes the entry next. */
		for (int k = 0; k < CTR_COUNT && i >= c->hwm; k++)
			if (client_ctr(e, k) != 0) {
				violation(c, CHECK_CLIENT, i, k, 0, "client %u: beyond client_hwm with counter %d set", i, k);
				break;
			}
		return;
	}
	if (CLIENT_PID(o) <= 0)
		violation(c, CHECK_CLIENT, i, CLIENT_PID(o), 0, "client %u: in use with pid %d", i, (int)CLIENT_PID(o));
	if (!below_hwm(c, i))
		violation(c, CHECK_CLIENT, i, c->hwm, 0, "client %u: in use beyond client_hwm (its watermark is ignored)", i);
	for (int k = 0; k < CTR_COUNT; k++)
		if (client_ctr(e, k) < load_base(e, k))
			violation(c, CHECK_CLIENT, i, k, 0, "client %u: counter %d is below its value at attach", i, k);
}

static void check_clients(struct checker *c)
{
	const struct region *r = c->r;
	/* Pairs with the release CAS on client_hwm in client_register(). */
	c->hwm = atomic_load_explicit(&r->hdr->client_hwm, acquire);
	if (c->hwm > r->client_max)
		violation(c, CHECK_HEADER, UINT32_MAX, c->hwm, r->client_max, "header: client_hwm %u exceeds client_max %u", c->hwm, r->client_max);
	for (uint32_t i = 0; i < r->client_max; i++)
		check_client(c, i);
}

int table_check(const struct region *r, check_report_fn *report, void *ctx)
{
	struct checker c = { .r = r, .report = report, .ctx = ctx };
	struct home_view v;
	check_header(&c);
	check_clients(&c);
	check_table(&c, &v);
	check_claims(&c);
	return c.violations;
}
