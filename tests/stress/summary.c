/* The summary of a run: what was done, what was found, the verdict. */
#include "summary.h"

typedef unsigned long long ull;

static void print_setup(FILE *f, const char *p, const struct opts *o)
{
	fprintf(f, "%s%.0f s run, %u procs x %u threads, %u hot keys, phases of %llu ms: %u steady "
	        "keys / %u churn keys, capacity %u\n", p, o->seconds, o->procs, o->threads, o->hot,
	        (ull)o->phase_ns / 1000000, o->keys, o->churn, o->capacity);
	fprintf(f, "%swindows %llu/%llu/%llu us, client skew 0..%llu us, anchor lag %llu ms "
	        "(%llu ms in steady phases), shared-handle delays 0..%llu us, seed %llu\n", p,
	        (ull)o->windows[1] / 1000, (ull)o->windows[0] / 1000, (ull)o->windows[2] / 1000,
	        (ull)o->max_skew_ns / 1000, (ull)o->lag_ns / 1000000, (ull)o->lag_steady_ns / 1000000,
	        (ull)o->delay_ns / 1000, (ull)o->seed);
}

static void print_work(FILE *f, const char *p, const struct chaos *ch, const struct totals *t)
{
	const struct shared *sh = ch->sh;
	fprintf(f, "%sdecisions: %llu recorded: %llu processed, %llu throttled, %llu full, %llu "
	        "stale, %llu unfinished (killed mid-call, %llu calls); %llu while the daemon was "
	        "down\n", p, (ull)t->recorded, (ull)t->processed, (ull)t->throttled, (ull)t->nospace,
	        (ull)t->stale, (ull)t->pending, (ull)t->pending_calls, (ull)t->in_downtime);
	fprintf(f, "%sbatches: %llu decisions through evt_should_process_batch() in %llu calls by "
	        "%u of %u client threads (incarnations); %llu unfinished, in %llu calls\n", p,
	        (ull)t->batched, (ull)t->batch_calls, t->batch_threads, t->threads,
	        (ull)t->batch_pending, (ull)t->batch_pending_calls);
	fprintf(f, "%schaos: %u client kills (%u timed mid-burst), %u daemon restarts (state kept); "
	        "controller: %llu window changes, %llu clear_key (%llu hit), %llu clear\n", p,
	        ch->kills_done, ch->aimed_done, ch->restarts_done, (ull)atomic_load(&sh->n_window),
	        (ull)atomic_load(&sh->n_clear_key), (ull)atomic_load(&sh->n_clear_key_hit),
	        (ull)atomic_load(&sh->n_clear_all));
}

static void print_stats(FILE *f, const char *p, const evt_stats *s)
{
	fprintf(f, "%sregion: processed %llu, throttled %llu, full %llu, stale %llu, new keys %llu, "
	        "reclaimed %llu, cleared %llu, keys now %llu\n", p, (ull)s->processed,
	        (ull)s->throttled, (ull)s->full, (ull)s->stale, (ull)s->new_keys, (ull)s->reclaimed,
	        (ull)s->cleared, (ull)s->keys);
}

static void print_region(FILE *f, const char *p, const struct region_verdict *v)
{
	const char *tool = v->inspect_rc == -2 ? "not given (skipped)"
	                   : v->inspect_rc == 0 ? "ok"
	                   : v->inspect_rc == 1 && v->inspect_other == 0 && v->inspect_count
	                           ? "only the key count"
	                           : "FAILED";
	fprintf(f, "%sregion check: evthrottle-inspect check %s; table_check %u violation(s)%s; key "
	        "count drift %lld (each call cut short by SIGKILL may leave one)\n", p, tool,
	        v->table_other + v->table_count, v->table_count ? " (the key count)" : "",
	        (long long)v->drift);
}

static void print_checker(FILE *f, const char *p, const struct checker *chk)
{
	const struct check_stats *c = &chk->st;
	fprintf(f, "%schecker: %llu decisions on %llu keys, %llu processed pairs examined (%llu legal "
	        "only through a clear), %llu throttles justified only by unfinished calls: %llu "
	        "violations\n", p, (ull)c->decisions, (ull)c->keys, (ull)c->pairs,
	        (ull)c->via_clear, (ull)c->by_pending, (ull)c->violations);
	if (chk->limit > 1)
		fprintf(f, "%schecker: limit %u: %llu windows rebuilt from the processed calls\n", p,
		        chk->limit, (ull)c->windows);
	for (unsigned i = 0; i < chk->nreport; i++)
		fprintf(f, "%sviolation: %s\n", p, chk->report[i]);
}

void print_summary(FILE *f, const char *p, const struct opts *o, const struct chaos *ch,
                   const struct outcome *out)
{
	const struct totals *t = &out->tot;
	print_setup(f, p, o);
	print_work(f, p, ch, t);
	print_stats(f, p, &out->stats);
	fprintf(f, "%slatency: max call %.3f ms (source %u); clients stopped in %.1f ms; wall %.1f s\n",
	        p, (double)t->max_dur / 1e6, t->max_dur_src, (double)ch->stop_ns / 1e6, out->wall_s);
	print_region(f, p, &out->region);
	print_checker(f, p, &out->chk);
	fprintf(f, "%sverdict: %s%s\n", p, out->failed ? "FAIL: " : "PASS", out->failed ? out->why : "");
}
