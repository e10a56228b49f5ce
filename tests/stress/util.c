/* Small helpers: the clock, sleeping, random numbers, key names. */
#include <errno.h>
#include <stdbool.h>
#include <signal.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include "stress.h"

/* The library's clock (CLOCK_MONOTONIC): call intervals and timestamps agree. */
uint64_t mono_ns(void)
{
	return evt_now_ns();
}

void sleep_until(uint64_t t)
{
	struct timespec ts = { (time_t)(t / 1000000000ull), (long)(t % 1000000000ull) };
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

uint64_t splitmix(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

uint64_t rand_range(uint64_t *rng, uint64_t lo, uint64_t hi)
{
	return hi <= lo ? lo : lo + splitmix(rng) % (hi - lo + 1);
}

/* "k<id>" as test_key() makes it (every third id padded to KEY_STR_MAX bytes, so
 * that keys take both of the library's compiled decisions), or "anchor" for the
 * controller's key: no allocation, no locale. */
size_t key_str(char *buf, uint32_t id)
{
	static const char anchor[] = "anchor";
	if (id == KEY_ANCHOR) {
		for (size_t i = 0; i < sizeof anchor - 1; i++)
			buf[i] = anchor[i];
		return sizeof anchor - 1;
	}
	return test_key(buf, 'k', id);
}

/*
 * The run alternates steady and churn phases (only steady ones without churn
 * keys).  In steady phases the traffic is uniform over `keys` keys, each touched
 * far more often than the anchor lags then (lag_steady), so they all stay live
 * and fill ~80% of the table: full neighbourhoods, hopscotch moves.  In churn
 * phases it is uniform over `churn` keys, each touched rarely, and the anchor
 * lags only lag: slots expire and are reclaimed all along.  A tenth of the
 * traffic always goes to the few hot keys.
 */
bool churn_phase(const struct opts *o, uint64_t t0, uint64_t now)
{
	return o->churn > 0 && now > t0 && (now - t0) / o->phase_ns % 2 == 1;
}

uint32_t pick_key(const struct opts *o, uint64_t t0, uint64_t now, uint64_t r)
{
	uint32_t x = (uint32_t)(r >> 32);
	if (r % 10 == 0)
		return x % o->hot;
	if (churn_phase(o, t0, now))
		return o->hot + o->keys + x % o->churn;
	return o->hot + x % o->keys;
}

/* A child dies with the run: if the parent is killed (a test timeout), nothing
 * is left hammering the region. */
void die_with_parent(pid_t parent)
{
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(3);
	prctl(PR_SET_TIMERSLACK, 1000ul); /* wake on the burst grid, not 50 us late */
}
