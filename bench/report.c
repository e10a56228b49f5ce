/* Printing the results: an aligned table for people, CSV lines for plotting. */
#include "bench.h"

#include <stdio.h>
#include <string.h>

/* impl's throughput over ref's: > 1 means impl is faster.  0 when unknown. */
static double ratio(const struct run_result *impl, const struct run_result *ref)
{
	if (ref == NULL || ref->failed || impl->failed || ref->mops <= 0)
		return 0;
	return impl->mops / ref->mops;
}

static const struct run_result *find(const struct run_result *res, unsigned n, const char *name)
{
	for (unsigned i = 0; i < n; i++)
		if (strcmp(res[i].impl->name, name) == 0)
			return &res[i];
	return NULL;
}

static void fmt_ratio(char *buf, size_t size, double r)
{
	if (r > 0)
		snprintf(buf, size, "%.2fx", r);
	else
		snprintf(buf, size, "-");
}

static void fmt_processed(char *buf, size_t size, const struct run_result *x)
{
	if (x->impl->decides && x->total_ops > 0)
		snprintf(buf, size, "%.1f%%", 100.0 * (double)x->processed / (double)x->total_ops);
	else
		snprintf(buf, size, "-");
}

static void fmt_per_key(char *buf, size_t size, const struct run_result *x)
{
	if (x->fp.live_keys > 0)
		snprintf(buf, size, "%.1f", (double)x->fp.region_bytes / (double)x->fp.live_keys);
	else
		snprintf(buf, size, "-");
}

static void fmt_live(char *buf, size_t size, const struct run_result *x)
{
	if (x->fp.live_keys >= 0)
		snprintf(buf, size, "%lld", (long long)x->fp.live_keys);
	else
		snprintf(buf, size, "-");
}

void report_header(const struct config *c, const struct report_env *env)
{
	if (c->csv)
		return;
	printf("evthrottle-bench: %u keys (%s", c->keys, dist_name(c->dist));
	if (c->dist == DIST_ZIPF)
		printf(" s=%.2f", c->zipf_s);
	if (c->dist == DIST_HOT)
		printf(" hot-frac=%.2f", c->hot_frac);
	if (c->dist == DIST_CHURN)
		printf(" new key every %u ops", c->churn_every);
	printf("), capacity %u, window %.3f ms\n", c->capacity, (double)c->window_ns / 1e6);
	printf("  %u process(es) x %u thread(s) on %ld CPU(s), handle per %s, "
	       "%llu ops/worker, trace %zu ops, clock read every %u ops",
	       c->procs, c->threads, env->ncpu, c->handle_per_thread ? "thread" : "process",
	       (unsigned long long)c->ops, c->trace_len, BENCH_BATCH);
	if (c->repeat > 1)
		printf(", median of %u runs", c->repeat);
	printf("\n");
}

static void print_table(const struct run_result *res, unsigned n)
{
	const struct run_result *mutex = find(res, n, "mutex"), *floor = find(res, n, "floor");
	printf("\n%-11s %10s %9s %9s %9s %7s %10s %10s %10s %8s %8s\n", "impl", "ns/op/wkr",
	       "Mops/s", "vs mutex", "vs floor", "on-CPU", "processed", "live keys",
	       "region MiB", "B/slot", "B/key");
	for (unsigned i = 0; i < n; i++) {
		const struct run_result *x = &res[i];
		if (x->failed) {
			printf("%-11s  FAILED\n", x->impl->name);
			continue;
		}
		char vm[16], vf[16], pr[16], lk[24], bk[24];
		fmt_ratio(vm, sizeof vm, ratio(x, mutex));
		fmt_ratio(vf, sizeof vf, ratio(x, floor));
		fmt_processed(pr, sizeof pr, x);
		fmt_live(lk, sizeof lk, x);
		fmt_per_key(bk, sizeof bk, x);
		printf("%-11s %10.1f %9.2f %9s %9s %6.0f%% %10s %10s %10.2f %8.1f %8s\n",
		       x->impl->name, x->ns_per_op_worker, x->mops, vm, vf, 100.0 * x->on_cpu, pr, lk,
		       (double)x->fp.region_bytes / (1024.0 * 1024.0),
		       x->fp.capacity ? (double)x->fp.region_bytes / x->fp.capacity : 0.0, bk);
	}
	printf("  ns/op/wkr: each worker's elapsed time / its ops, averaged; Mops/s: all ops /"
	       " wall time;\n  vs X: Mops/s over X's (>1 = faster); processed: share of calls"
	       " answered 1 (timestamps\n  are real time, so a faster implementation sees each"
	       " key more often per window\n  and processes a smaller share); on-CPU: workers'"
	       " CPU time / elapsed time\n  (below ~95%%: descheduled, by lock waits or by other"
	       " load on the machine);\n  B/slot, B/key: region bytes / capacity, / live keys\n");
}

static void print_latency(const struct run_result *res, unsigned n, const struct report_env *env)
{
	printf("\nlatency per call in ns (timer %s; its own cost, an empty timed region: "
	       "p50 %.1f ns, p99 %.1f ns, included below, not subtracted)\n",
	       TIMER_NAME, env->timer_p50, env->timer_p99);
	printf("%-11s %10s %9s %9s %9s %12s\n", "impl", "samples", "p50", "p99", "p99.9", "max");
	for (unsigned i = 0; i < n; i++) {
		const struct run_result *x = &res[i];
		if (x->failed || !x->have_latency)
			continue;
		printf("%-11s %10llu %9.1f %9.1f %9.1f %12.1f\n", x->impl->name,
		       (unsigned long long)x->lat_samples, x->lat_p50, x->lat_p99, x->lat_p999,
		       x->lat_max);
	}
}

static void print_notes(const struct run_result *res, unsigned n)
{
	printf("\n");
	for (unsigned i = 0; i < n; i++) {
		const struct run_result *x = &res[i];
		if (x->errors > 0)
			printf("%-11s %llu calls returned an error\n", x->impl->name,
			       (unsigned long long)x->errors);
		if (x->runs > 1)
			printf("%-11s Mops/s over %u runs: min %.2f, median %.2f, max %.2f\n",
			       x->impl->name, x->runs, x->mops_min, x->mops, x->mops_max);
		if (x->fp.note[0] != '\0')
			printf("%-11s %s\n", x->impl->name, x->fp.note);
		if (x->lat_local_samples + x->lat_remote_samples > 0)
			printf("%-11s p50/p99 ns: local %.0f/%.0f (%llu calls), remote %.0f/%.0f "
			       "(%llu calls)\n", x->impl->name, x->lat_local_p50, x->lat_local_p99,
			       (unsigned long long)x->lat_local_samples, x->lat_remote_p50,
			       x->lat_remote_p99, (unsigned long long)x->lat_remote_samples);
	}
}

/* The parameter of the key distribution, 0 for uniform. */
static double dist_param(const struct config *c)
{
	switch (c->dist) {
	case DIST_ZIPF:
		return c->zipf_s;
	case DIST_HOT:
		return c->hot_frac;
	case DIST_CHURN:
		return c->churn_every;
	default:
		return 0;
	}
}

/* The round trips of an implementation that leaves the host: how many, their
 * share of the run's decisions (both phases), and how many per key per window
 * per site (simulated host), the windows being the most a key can open in the
 * span of the run's timestamps (its processed events are a window apart): at
 * most 1 where the design's bound holds.  Empty for the others. */
static void print_remote(const struct config *c, const struct run_result *x)
{
	const struct footprint *f = &x->fp;
	if (f->sites == 0 || f->decided == 0) {
		printf(",,\n");
		return;
	}
	double windows = (double)(x->ts_span_ns / c->window_ns + 1);
	printf("%llu,%.5f,%.4f\n", (unsigned long long)f->remote_calls,
	       (double)f->remote_calls / (double)f->decided,
	       (double)f->remote_calls / ((double)c->keys * f->sites * windows));
}

static void print_csv(const struct config *c, const struct run_result *res, unsigned n,
                      const struct report_env *env)
{
	const struct run_result *mutex = find(res, n, "mutex"), *floor = find(res, n, "floor");
	printf("impl,dist,dist_param,keys,capacity,procs,threads,handle,ops_per_worker,window_ns,"
	       "wall_ns,ns_per_op_worker,mops,vs_mutex,vs_floor,on_cpu,cpu_ns_per_op,processed_frac,live_keys,"
	       "region_bytes,bytes_per_slot,bytes_per_key,errors,timer,timer_p50_ns,"
	       "lat_samples,lat_p50_ns,lat_p99_ns,lat_p999_ns,lat_max_ns,runs,mops_min,mops_max,"
	       "failed,floor_work,lat_local_p50_ns,lat_local_p99_ns,lat_remote_p50_ns,"
	       "lat_remote_p99_ns,lat_remote_share,remote_calls,remote_share_run,"
	       "rt_per_key_window_site\n");
	for (unsigned i = 0; i < n; i++) {
		const struct run_result *x = &res[i];
		printf("%s,%s,%g,%u,%u,%u,%u,%s,%llu,%llu,", x->impl->name, dist_name(c->dist),
		       dist_param(c), c->keys, x->fp.capacity, c->procs, c->threads,
		       c->handle_per_thread ? "thread" : "process", (unsigned long long)c->ops,
		       (unsigned long long)c->window_ns);
		printf("%llu,%.3f,%.4f,%.4f,%.4f,%.4f,%.3f,", (unsigned long long)x->wall_ns,
		       x->ns_per_op_worker, x->mops, ratio(x, mutex), ratio(x, floor), x->on_cpu,
		       x->cpu_ns_per_op);
		if (x->impl->decides && x->total_ops > 0)
			printf("%.5f,", (double)x->processed / (double)x->total_ops);
		else
			printf(",");
		if (x->fp.live_keys >= 0)
			printf("%lld,", (long long)x->fp.live_keys);
		else
			printf(",");
		printf("%llu,%.2f,", (unsigned long long)x->fp.region_bytes,
		       x->fp.capacity ? (double)x->fp.region_bytes / x->fp.capacity : 0.0);
		if (x->fp.live_keys > 0)
			printf("%.2f,", (double)x->fp.region_bytes / (double)x->fp.live_keys);
		else
			printf(",");
		printf("%llu,%s,", (unsigned long long)x->errors, TIMER_NAME);
		if (x->have_latency)
			printf("%.2f,%llu,%.1f,%.1f,%.1f,%.1f,", env->timer_p50,
			       (unsigned long long)x->lat_samples, x->lat_p50, x->lat_p99,
			       x->lat_p999, x->lat_max);
		else
			printf(",,,,,,");
		printf("%u,%.4f,%.4f,%d,", x->runs, x->mops_min, x->mops_max, x->failed ? 1 : 0);
		if (x->impl == &impl_floor_work)
			printf("%u", c->floor_work);
		if (x->lat_local_samples + x->lat_remote_samples > 0)
			printf(",%.1f,%.1f,%.1f,%.1f,%.5f,", x->lat_local_p50, x->lat_local_p99,
			       x->lat_remote_p50, x->lat_remote_p99,
			       (double)x->lat_remote_samples /
			               (double)(x->lat_local_samples + x->lat_remote_samples));
		else
			printf(",,,,,,");
		print_remote(c, x);
	}
}

void report_results(const struct config *c, const struct run_result *res, unsigned n,
                    const struct report_env *env)
{
	if (c->csv) {
		print_csv(c, res, n, env);
		return;
	}
	print_table(res, n);
	if (c->latency)
		print_latency(res, n, env);
	print_notes(res, n);
}
