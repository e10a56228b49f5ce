/* After the run: the region's invariants (evthrottle-inspect check, and the
 * library's table_check() in process) and its counters against the records. */
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "handle.h"
#include "verify.h"

#define COUNT_MSG "published keys, but the counters say"

/* evthrottle-inspect -n NAME check, output into the file out: its exit status,
 * or -1 if it could not run. */
static int run_inspect(const char *bin, const char *name, const char *out)
{
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		child_after_fork();
		int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execl(bin, bin, "-n", name, "check", (char *)NULL);
		_exit(127);
	}
	int st;
	if (wait_child(pid, mono_ns() + 60000000000ull, &st) < 0)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Its violations: the key-count one apart from all others, each echoed. */
static void read_inspect(const char *out, struct region_verdict *v)
{
	FILE *f = fopen(out, "r");
	char line[512];
	while (f != NULL && fgets(line, sizeof line, f) != NULL) {
		if (v->inspect_rc != 0)
			fprintf(stderr, "evt-stress: inspect: %s", line);
		if (strstr(line, "violation: ") == NULL)
			continue;
		if (strstr(line, COUNT_MSG) != NULL)
			v->inspect_count = true;
		else
			v->inspect_other++;
	}
	if (f != NULL)
		fclose(f);
}

void verify_inspect(const char *bin, const char *name, const char *out, struct region_verdict *v)
{
	v->inspect_rc = run_inspect(bin, name, out);
	read_inspect(out, v);
	unlink(out);
}

static void table_report(void *ctx, const struct check_violation *cv)
{
	struct region_verdict *v = ctx;
	fprintf(stderr, "evt-stress: table_check: %s\n", cv->text);
	if (cv->kind == CHECK_KEY_COUNT)
		v->table_count = true;
	else
		v->table_other++;
}

/* Published keys against new - reclaimed - cleared, read with nobody writing. */
static int64_t count_drift(const evt_throttle *t, const evt_stats *s)
{
	int64_t published = 0;
	struct table_entry e;
	for (uint32_t i = 0; i <= t->r.mask; i++)
		published += table_read_slot(&t->r, i, &e) == 1;
	return published - (int64_t)(s->new_keys - s->reclaimed - s->cleared);
}

void verify_table(const evt_throttle *t, const evt_stats *s, struct region_verdict *v)
{
	table_check(&t->r, table_report, v);
	v->drift = count_drift(t, s);
}

/*
 * The key count (published keys == new_keys - reclaimed - cleared) is off by one
 * for each process killed between a table change and its counter increment
 * (check.h says so): after an insert's publish (+1), or after a removal's DYING
 * CAS (-1, a reclaim by a client or the daemon's sweep).  Each call cut short
 * does at most one of these at the moment it dies, so a drift of at most
 * `explained` (calls cut short plus daemon kills) is explained; any other
 * violation, or a larger drift, is not.
 */
bool verify_region_ok(const struct region_verdict *v, uint64_t explained, char *why, size_t n)
{
	uint64_t drift = (uint64_t)(v->drift < 0 ? -v->drift : v->drift);
	bool count_ok = drift <= explained;
	if (v->table_other > 0 || (v->table_count && !count_ok)) {
		snprintf(why, n, "table_check() found violations");
		return false;
	}
	if (v->inspect_rc == -2)
		return true;
	if (v->inspect_rc != 0 && (v->inspect_rc != 1 || v->inspect_other > 0 ||
	                           !v->inspect_count || !count_ok)) {
		snprintf(why, n, "evthrottle-inspect check failed (exit %d)", v->inspect_rc);
		return false;
	}
	return true;
}

/*
 * The counters are per client entry and cumulative, so they include the killed
 * clients' decisions.  Every finished call was counted; an unfinished one may
 * or may not have been (killed before or after its counter increment).
 */
int verify_counts(const evt_stats *s, const struct totals *t, char *why, size_t n)
{
	uint64_t answered = s->processed + s->throttled, fin = t->processed + t->throttled;
	if (answered < fin || s->full < t->nospace || s->stale < t->stale) {
		snprintf(why, n, "the region counted %llu answers, %llu full and %llu stale, fewer "
		         "than the %llu, %llu and %llu recorded as finished",
		         (unsigned long long)answered, (unsigned long long)s->full,
		         (unsigned long long)s->stale, (unsigned long long)fin,
		         (unsigned long long)t->nospace, (unsigned long long)t->stale);
		return -1;
	}
	/* Stale answers are left out: -ESTALE is neither, and a rare stale 1 (a
	 * window raised during the insert) is counted as processed too. */
	if (answered + s->full > fin + t->nospace + t->pending) {
		snprintf(why, n, "the region counted %llu decisions, more than the %llu recorded "
		         "(finished or not)", (unsigned long long)(answered + s->full),
		         (unsigned long long)(fin + t->nospace + t->pending));
		return -1;
	}
	return 0;
}
