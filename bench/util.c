/* Small helpers: capacity rounding, the latency timer's calibration and cost,
 * sorting and percentiles of latency samples. */
#include "bench.h"

#include <stdlib.h>
#include <string.h>

uint32_t bench_round_capacity(uint32_t cap)
{
	uint32_t p = 64;
	while (p < cap && p < (1u << 31))
		p <<= 1;
	return p;
}

double timer_calibrate(void)
{
#if defined(__x86_64__)
	/* Count TSC ticks over ~50 ms of CLOCK_MONOTONIC; the CPU has a constant
	 * rate TSC where this tool is meant to run (check constant_tsc). */
	uint64_t n0 = evt_now_ns(), t0 = timer_read(), n1;
	while ((n1 = evt_now_ns()) - n0 < 50000000ull)
		;
	uint64_t t1 = timer_read();
	return (double)(t1 - t0) / (double)(n1 - n0);
#else
	return 1.0;
#endif
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return (x > y) - (x < y);
}

void sort_u32(uint32_t *v, uint64_t n)
{
	qsort(v, n, sizeof *v, cmp_u32);
}

uint32_t percentile(const uint32_t *sorted, uint64_t n, double q)
{
	if (n == 0)
		return 0;
	uint64_t i = (uint64_t)(q * (double)n);
	return sorted[i < n ? i : n - 1];
}

void timer_overhead(double ticks_per_ns, double *p50, double *p99)
{
	enum { N = 200000 };
	static uint32_t v[N];
	for (int i = 0; i < N; i++) {
		uint64_t t0 = timer_read();
		/* the empty timed region: nothing but the compiler barrier */
		__asm__ __volatile__("" ::: "memory");
		uint64_t t1 = timer_read();
		v[i] = (uint32_t)(t1 - t0);
	}
	sort_u32(v, N);
	*p50 = percentile(v, N, 0.50) / ticks_per_ns;
	*p99 = percentile(v, N, 0.99) / ticks_per_ns;
}
