/*
 * libFuzzer target: the input is the bytes of a region, as a client or the
 * inspection tool would find them in /dev/shm (possibly corrupt, truncated,
 * foreign).  SPEC §5.6/§5.7: a bad region gets a clear error, and a region that
 * region_validate() accepts can never make a client read or write outside its
 * mapping, crash or hang, whatever its table and client registry hold.
 *
 * The input is copied into a MAP_SHARED anonymous mapping of exactly its size
 * (regions are whole pages), between two large PROT_NONE guard areas, so an
 * access past either end faults even where AddressSanitizer does not track the
 * memory.  If region_validate() accepts it:
 *
 *  1. read-only, as evthrottle-inspect does: the mapping is made PROT_READ (a
 *     write faults), then table_check(), table_read_slot() over every slot,
 *     clients_totals(), clients_horizon(), evt_stats_get()/evt_key_count();
 *  2. read-write, as an attaching client does: clients_reap_dead(),
 *     client_register() (else entry 0 is borrowed), evt_prefetch() and
 *     evt_should_process_ex() (table_decide()) on many keys at many timestamps,
 *     evt_clear_key(),
 *     table_sweep(), table_free_orphans(), evt_clear(), client_release();
 *  3. step 1 again on what the client left.
 *
 * Besides memory safety it checks what must hold on any table in one thread: a
 * decision answers 1, 0 or -ENOSPC (and -ENOSPC only under on_full = error); a
 * key just processed (and tracked) at ts is throttled at ts again when the
 * window is not 0.  With FUZZ_REGION_STRICT=1 in the environment, also: a region
 * table_check() found consistent is still consistent after step 2.  That one is
 * off by default: a corruption table_check() does not see may surface only
 * after the client's operations, which makes it as much a test of table_check()
 * as of the table.
 *
 * The 32 reserved bytes of the header's line 1 (reserved1, never read by the
 * library) are this target's knobs: an extra timestamp, an extra key, the owner
 * whose orphans are freed.  Every loop in the library should end in a single
 * thread (find() retries only while a hop word changes under it, or after
 * finishing a move it met); run.sh's -timeout=10 reports one that does not.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "clients.h"
#include "evthrottle.h"
#include "fuzz_keys.h"
#include "handle.h"
#include "region.h"
#include "table.h"
#ifdef HAVE_TABLE_CHECK
#include "check.h"
#endif

#define GUARD (64u << 20)       /* PROT_NONE on each side of the region */
#define INPUT_MAX (16u << 20)   /* larger inputs are not regions worth the time */

struct report {
	int n;
	char first[256];
};
static struct report last_report; /* of the latest table_check() */

#ifdef HAVE_TABLE_CHECK
/*
 * table_check() pauses a millisecond before re-reading what a concurrent writer
 * may be changing.  Nothing runs concurrently here, and the pauses would cost
 * most of the fuzzer's speed, so this target's nanosleep() returns at once.  It
 * interposes only calls made through the PLT (check.c's); libc's own sleeps and
 * libFuzzer's do not go through it.
 */
int nanosleep(const struct timespec *req, struct timespec *rem)
{
	(void)req;
	if (rem != NULL)
		*rem = (struct timespec){ 0, 0 };
	return 0;
}

static void report(void *ctx, const struct check_violation *v)
{
	struct report *rp = ctx;
	if (rp->n++ == 0)
		snprintf(rp->first, sizeof rp->first, "%s", v->text);
}
#endif

static void fail(const char *what)
{
	fprintf(stderr, "fuzz_region: %s\n", what);
	abort();
}

/* The mapping: a reservation of GUARD + size + GUARD, the middle shared. */
static unsigned char *map_region(const uint8_t *data, size_t size, size_t *reserved)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	size_t len = size == 0 ? page : (size + page - 1) / page * page;
	*reserved = GUARD + len + GUARD;
	unsigned char *res = mmap(NULL, *reserved, PROT_NONE,
	                          MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (res == MAP_FAILED)
		fail("cannot reserve the guard areas");
	unsigned char *base = mmap(res + GUARD, len, PROT_READ | PROT_WRITE,
	                           MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	if (base == MAP_FAILED)
		fail("cannot map the region");
	memcpy(base, data, size);
	return base;
}

/* The keys: the seeds' names, a key_max-long one, and one from the knobs. */
struct keyset {
	unsigned n;
	uint32_t len[FUZZ_KEYS + 2];
	char key[FUZZ_KEYS + 2][REGION_KEY_MAX];
};

static void keys_make(struct keyset *ks, const struct region *r, const uint8_t knobs[32])
{
	ks->n = 0;
	for (unsigned i = 0; i < FUZZ_KEYS; i++) {
		char buf[16];
		unsigned len = fuzz_key(i, buf);
		len = len < r->key_max ? len : r->key_max;
		memcpy(ks->key[ks->n], buf, len);
		ks->len[ks->n++] = len;
	}
	memset(ks->key[ks->n], 'x', r->key_max);
	ks->len[ks->n++] = r->key_max;
	uint32_t len = knobs[8] % 23u + 1u; /* bytes knobs[9 .. 31] */
	len = len < r->key_max ? len : r->key_max;
	memcpy(ks->key[ks->n], knobs + 9, len);
	ks->len[ks->n++] = len;
}

static uint64_t load_u64(const uint8_t *p)
{
	uint64_t v;
	memcpy(&v, p, sizeof v);
	return v;
}

/* What evthrottle-inspect reads; the mapping is read-only meanwhile. */
static int inspect(const struct region *r)
{
	int violations = -1;
#ifdef HAVE_TABLE_CHECK
	last_report = (struct report){ 0 };
	violations = table_check(r, report, &last_report);
	if (violations != last_report.n)
		fail("table_check's count disagrees with its reports");
#endif
	static struct table_entry e;
	for (uint32_t i = 0; i <= r->mask; i++)
		if (table_read_slot(r, i, &e) == 1 &&
		    (e.len == 0 || e.len > r->key_max || e.slot != i || e.home > r->mask))
			fail("table_read_slot returned an entry out of bounds");
	uint64_t ctr[CTR_COUNT];
	uint32_t live;
	clients_totals(r, ctr, &live);
	if (live > r->client_max)
		fail("clients_totals counted more live clients than client_max");
	(void)clients_horizon(r, clients_newest(r));
	evt_throttle t = handle_make(r);
	evt_stats st;
	if (evt_stats_get(&t, &st) != 0)
		fail("evt_stats_get failed on a valid handle");
	(void)evt_key_count(&t);
	(void)evt_get_window(&t);
	return violations;
}

/* One decision through the public call, as a client makes it, after a
 * prefetch of its key (a hint that must accept any valid key). */
static int decide(evt_throttle *t, uint64_t ts, const void *key, uint32_t len)
{
	const struct region *r = &t->r;
	unsigned info = 0xdeadu;
	if (evt_prefetch(t, key, len) != 0)
		fail("evt_prefetch refused a valid key");
	int rc = evt_should_process_ex(t, ts, NULL, key, len, &info);
	if (rc != 1 && rc != 0 && rc != -ENOSPC)
		fail("evt_should_process returned something other than 1, 0, -ENOSPC");
	if (rc == -ENOSPC && r->on_full != EVT_ON_FULL_ERROR)
		fail("evt_should_process returned -ENOSPC without on_full = error");
	if ((info & ~(unsigned)(EVT_INFO_NEW_KEY | EVT_INFO_RECLAIMED | EVT_INFO_FULL)) != 0)
		fail("evt_should_process set unknown info bits");
	uint64_t window = atomic_load_explicit(&r->hdr->window_ns, memory_order_relaxed);
	if (rc == 1 && !(info & EVT_INFO_FULL) && window != 0 &&
	    evt_should_process(t, ts, NULL, key, len) != 0)
		fail("a key just processed (and tracked) at ts was processed again at ts");
	return rc;
}

static int inspect_readonly(const struct region *r, unsigned char *base, size_t size)
{
	if (mprotect(base, size, PROT_READ) < 0)
		fail("mprotect read-only");
	int violations = inspect(r);
	if (mprotect(base, size, PROT_READ | PROT_WRITE) < 0)
		fail("mprotect read-write");
	return violations;
}

/* What a client does between attach and close. */
static void client_ops(const struct region *r, const uint8_t knobs[32])
{
	static struct keyset ks;
	keys_make(&ks, r, knobs);
	/* The handle evt_attach() would make.  (A region in memory has no file: the
	 * reaper finds nobody to reap, as in a private region.) */
	evt_throttle t = handle_make(r);
	clients_reap_dead(r, &t.me);
	bool registered = client_register(r, &t.me) == 0;
	if (!registered) /* every entry taken: borrow entry 0, as a reaper would */
		t.me = (struct table_client){ .entry = region_client(r, 0), .index = 0 };

	uint64_t window = atomic_load_explicit(&r->hdr->window_ns, memory_order_relaxed);
	uint64_t newest = atomic_load_explicit(&r->hdr->newest_ts, memory_order_relaxed);
	uint64_t knob_ts = load_u64(knobs);
	const uint64_t ts[] = {
		0, newest, newest + window, knob_ts, knob_ts + window - 1, knob_ts + window,
		UINT64_MAX - 1, UINT64_MAX, 1,
	};
	for (size_t i = 0; i < sizeof ts / sizeof ts[0]; i++) {
		for (unsigned k = 0; k < ks.n; k++)
			decide(&t, ts[i], ks.key[k], ks.len[k]);
		if (i == 3) {
			for (unsigned k = 0; k < ks.n; k += 3)
				if (evt_clear_key(&t, ks.key[k], ks.len[k]) < 0)
					fail("evt_clear_key failed on a valid key");
			table_sweep(r, &t.me);
		}
	}
	(void)clients_horizon(r, clients_newest(r));
	uint32_t dead = knobs[2] | (uint32_t)knobs[3] << 8;
	uint64_t map[65536 / 64] = { 0 };
	map[dead / 64] = 1ull << (dead % 64);
	table_free_orphans(r, map, 65536);
	table_sweep(r, &t.me);
	for (unsigned k = 0; k < ks.n; k++)
		decide(&t, knob_ts + window / 2, ks.key[k], ks.len[k]);
	if (evt_clear(&t) < 0) /* the count of keys removed, or -errno */
		fail("evt_clear failed on a read-write handle");
	for (unsigned k = 0; k < ks.n; k += 2)
		decide(&t, knob_ts, ks.key[k], ks.len[k]);
	if (registered)
		client_release(r, &t.me);
}

static bool strict; /* FUZZ_REGION_STRICT=1: see the top of the file */

/*
 * Corruptions table_check() does not report (yet) but the client's operations
 * turn into reported ones; strict mode skips regions holding them, so it can look
 * past them.  Read before the operations.
 *  - A DYING slot named by a home other than its recorded one: finish_remove()
 *    clears the recorded home's bit only, and the other stays, naming a free slot.
 *  - A client entry at or above client_hwm that is not all zeroes: it was never
 *    used, but client_register() may take it and bring its counters into the
 *    totals.
 */
static bool known_gap(const struct region *r)
{
	for (uint32_t h = 0; h <= r->mask; h++) {
		uint32_t bits = HOP_BITS(atomic_load(&region_slot(r, h)->hop));
		for (; bits != 0; bits &= bits - 1) {
			struct region_slot *s = region_slot(r, h + (uint32_t)__builtin_ctz(bits));
			if (CTRL_STATE(atomic_load(&s->ctrl)) == SLOT_DYING &&
			    (atomic_load(&s->home) & r->mask) != h)
				return true;
		}
	}
	uint32_t hwm = atomic_load(&r->hdr->client_hwm);
	static const struct region_client zero;
	for (uint32_t i = hwm; i < r->client_max; i++)
		if (memcmp(region_client(r, i), &zero, sizeof zero) != 0)
			return true;
	return false;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	const char *v = getenv("FUZZ_REGION_STRICT");
	strict = v != NULL && strcmp(v, "1") == 0;
#ifndef HAVE_TABLE_CHECK
	if (strict)
		fprintf(stderr, "fuzz_region: FUZZ_REGION_STRICT needs table_check(), not built\n");
#endif
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > INPUT_MAX)
		return -1; /* not added to the corpus */
	size_t reserved;
	unsigned char *base = map_region(data, size, &reserved);
	struct region r;
	if (region_validate(base, size, true, &r) == 0) {
		uint8_t knobs[32];
		memcpy(knobs, r.hdr->reserved1, sizeof knobs);
		/* 1: the inspection tool's view, read-only. */
		int before = inspect_readonly(&r, base, size);
		if (strict && before == 0 && known_gap(&r))
			before = -1;
		/* 2: a client's. */
		if (region_validate(base, size, false, &r) != 0)
			fail("region_validate: read-write refused what read-only accepted");
		client_ops(&r, knobs);
		/* 3: the inspection tool again, on what the client left. */
		int after = inspect_readonly(&r, base, size);
		if (strict && before == 0 && after != 0) {
			fprintf(stderr, "fuzz_region: consistent region left inconsistent: %s\n",
			        last_report.first);
			abort();
		}
	}
	munmap(base - GUARD, reserved);
	return 0;
}
