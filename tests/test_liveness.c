/*
 * Client liveness without pids (lib/clients.c): an entry is alive while some
 * process holds the handle's open file, whatever its pid namespace, and a forked
 * child that outlives its parent keeps the parent's entry alive.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include "clients.h"
#include "common.h"
#include "handle.h"
#include "keycount.h"
#include "killed_check.h"

TestSuite(liveness, .fini = unlink_names);

/* What a child tells the test through shared memory. */
struct child_shm {
	_Atomic int stage;  /* how far the child got (its steps below) */
	_Atomic int go;     /* the test lets it take its next step */
	int rc;             /* its evt_attach() */
	int pid;            /* its getpid(), in its own namespace */
	int answers[4];
};

static struct child_shm *shm_make(void)
{
	struct child_shm *c = mmap(NULL, sizeof *c, PROT_READ | PROT_WRITE,
	                           MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	cr_assert_neq(c, MAP_FAILED);
	return c;
}

static void wait_stage(const struct child_shm *c, int stage)
{
	while (atomic_load_explicit(&c->stage, memory_order_acquire) < stage)
		sched_yield();
}

/* In a child: wait for the test's go, or leave after a minute (the test failed). */
static void wait_go(const struct child_shm *c, int go)
{
	for (long i = 0; atomic_load_explicit(&c->go, memory_order_acquire) < go; i++) {
		if (i == 60000)
			_exit(4);
		usleep(1000);
	}
}

static void set(_Atomic int *v, int value)
{
	atomic_store_explicit(v, value, memory_order_release);
}

static unsigned clients(const evt_throttle *t)
{
	evt_stats s;
	cr_assert_eq(evt_stats_get(t, &s), 0);
	return s.clients;
}

static uint64_t owner(const evt_throttle *t, uint32_t i)
{
	return atomic_load(&region_client(&t->r, i)->owner);
}

/* A read-write attach reaps whatever is dead; then it leaves. */
static void reap_now(const char *name)
{
	evt_throttle *h;
	cr_assert_eq(evt_attach(name, 0, &h), 0);
	evt_close(h);
}

/* The client in a new pid namespace: attach (which reaps), decide, wait, exit
 * without closing. */
static void namespaced_client(const char *name, struct child_shm *c)
{
	evt_throttle *t = NULL;
	c->rc = evt_attach(name, 0, &t);
	c->pid = (int)getpid();
	if (c->rc == 0)
		c->answers[0] = decide(t, 1000, "ns");
	set(&c->stage, 1);
	wait_go(c, 1);
	_exit(0);
}

/* Fork a process that enters a new pid namespace and forks the client there (its
 * pid 1).  Returns the outer process, which waits for the client. */
static pid_t spawn_namespaced(const char *name, struct child_shm *c)
{
	pid_t outer = fork();
	cr_assert_geq(outer, 0);
	if (outer > 0)
		return outer;
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (unshare(CLONE_NEWPID) < 0) {
		c->rc = -errno;
		set(&c->stage, 1);
		_exit(1);
	}
	pid_t inner = fork();
	if (inner == 0)
		namespaced_client(name, c);
	int st;
	_exit(inner > 0 && waitpid(inner, &st, 0) == inner && WIFEXITED(st) ? 0 : 1);
}

/*
 * A client attached from another pid namespace (as root, like the tests and CI):
 * the parent's pid means nothing there and its own (1) means another process
 * here.  It does not reap the test's live entry, is not reaped while alive, and
 * is reaped once it has exited.
 */
Test(liveness, other_pid_namespace)
{
	const char *name = new_name();
	evt_throttle *t = test_create(name, NULL);
	uint64_t mine = owner(t, 0);
	struct child_shm *c = shm_make();
	pid_t outer = spawn_namespaced(name, c);
	wait_stage(c, 1);
	cr_assert_eq(c->rc, 0, "attach from the new namespace: %s", evt_strerror(c->rc));
	cr_expect_eq(c->pid, 1, "the client is its namespace's first process");
	cr_expect_eq(c->answers[0], 1);
	cr_assert_eq(owner(t, 0), mine, "the namespaced client reaped a live entry");
	cr_assert_eq(clients(t), 2);

	reap_now(name);
	cr_assert_eq(clients(t), 2, "the live namespaced client was reaped");
	cr_expect_eq(decide(t, 1001, "ns"), 0, "its key is still tracked");

	set(&c->go, 1);
	int st;
	cr_assert_eq(waitpid(outer, &st, 0), outer);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %#x", st);
	cr_assert_eq(clients(t), 2, "nobody has reaped it yet");
	reap_now(name);
	cr_assert_eq(clients(t), 1, "the exited namespaced client was not reaped");
	cr_assert_eq(owner(t, 0), mine);
	munmap(c, sizeof *c);
	evt_close(t);
}

/* The daemonising pattern: attach, fork, the parent exits at once (after closing
 * its handle, if parent_closes); the child keeps using the handle it inherited. */
static void inherited_client(const char *name, struct child_shm *c, bool parent_closes)
{
	evt_throttle *t;
	if (evt_attach(name, 0, &t) != 0)
		_exit(2);
	c->answers[0] = decide(t, 1000, "before");
	pid_t child = fork();
	if (child != 0) {
		if (parent_closes)
			evt_close(t); /* the children's copies keep the entry */
		_exit(child > 0 ? 0 : 3);
	}
	c->pid = (int)getpid();
	set(&c->stage, 1);
	wait_go(c, 1);
	c->answers[1] = decide(t, 1001, "before");
	c->answers[2] = decide(t, 1002, "after");
	c->answers[3] = decide(t, 1003, "after");
	set(&c->stage, 2);
	wait_go(c, 2);
	evt_close(t); /* not the registering process: leaves the entry to the reaper */
	_exit(0);
}

/*
 * A child forked after the attach uses its parent's handle after the parent
 * exited (having closed it, or not): the entry stays alive (the child holds the
 * open file and its lock), its keys and decisions stay right, and it is reaped
 * once the child is gone too.
 */
static void outlive_parent(bool parent_closes)
{
	const char *name = new_name();
	evt_throttle *t = test_create(name, NULL);
	struct child_shm *c = shm_make();
	/* The orphaned child becomes ours, to wait for. */
	cr_assert_eq(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
	pid_t parent = fork();
	cr_assert_geq(parent, 0);
	if (parent == 0)
		inherited_client(name, c, parent_closes);
	int st;
	cr_assert_eq(waitpid(parent, &st, 0), parent);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %#x", st);
	wait_stage(c, 1);
	cr_assert_eq(c->answers[0], 1);
	uint64_t o = owner(t, 1);
	cr_assert_eq(CLIENT_STATE(o), CLIENT_LIVE);
	cr_assert_eq(CLIENT_PID(o), parent, "the entry names the exited parent");

	reap_now(name);
	cr_assert_eq(owner(t, 1), o, "the child's entry was reaped while it uses it");
	cr_assert_eq(clients(t), 2);
	set(&c->go, 1);
	wait_stage(c, 2);
	cr_expect_eq(c->answers[1], 0, "throttled: processed at 1000");
	cr_expect_eq(c->answers[2], 1);
	cr_expect_eq(c->answers[3], 0);
	cr_expect_eq(decide(t, 1004, "after"), 0, "the child's key is tracked");
	reap_now(name);
	cr_assert_eq(clients(t), 2, "still alive");

	set(&c->go, 2);
	cr_assert_eq(waitpid(c->pid, &st, 0), c->pid);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %#x", st);
	cr_assert_eq(clients(t), 2, "nobody has reaped it yet");
	reap_now(name);
	cr_assert_eq(clients(t), 1, "the entry outlived every holder");
	munmap(c, sizeof *c);
	evt_close(t);
}

Test(liveness, forked_child_outlives_parent)
{
	outlive_parent(false);
}

/* The parent's evt_close() after the fork must not free the entry its children
 * still decide with (it did: a new client then took it over). */
Test(liveness, forked_child_outlives_parents_close)
{
	outlive_parent(true);
}

/* Make n entries from index 1 on look like dead clients' (in use, nobody holds
 * them), each with an unpublished claim in a slot that was empty, listed in slot[]. */
static void fake_dead(evt_throttle *t, uint32_t n, uint32_t *slot)
{
	uint32_t s = 0;
	for (uint32_t i = 1; i <= n; i++, s++) {
		while (atomic_load(&region_slot(&t->r, s)->ctrl) != 0)
			s++;
		atomic_store(&region_client(&t->r, i)->owner, CLIENT_OWNER(CLIENT_LIVE, 999999));
		atomic_store(&region_slot(&t->r, s)->ctrl, CTRL_MAKE(SLOT_CLAIMED, 0, i, 7));
		slot[i - 1] = s;
	}
	atomic_store(&t->r.hdr->client_hwm, n + 1);
}

/* Reap n fake dead entries with one attach: how many orphan scans it took. */
static uint64_t reap_scans(uint32_t n)
{
	evt_options o = EVT_OPTIONS_INIT;
	o.capacity = 1u << 14;
	o.client_max = 4097;
	o.key_max = 8;
	const char *name = new_name();
	evt_throttle *t = test_create(name, &o);
	cr_assert_eq(decide(t, 1, "live"), 1);
	static uint32_t slot[4096];
	fake_dead(t, n, slot);
	cr_assert_eq(clients(t), n + 1);

	uint64_t before = atomic_load(&clients_orphan_scans);
	evt_throttle *h;
	cr_assert_eq(evt_attach(name, 0, &h), 0);
	uint64_t scans = atomic_load(&clients_orphan_scans) - before;
	cr_assert_eq(clients(t), 2, "every dead entry reaped, the new one in use");
	for (uint32_t i = 0; i < n; i++)
		cr_assert_eq(CTRL_STATE(atomic_load(&region_slot(&t->r, slot[i])->ctrl)), SLOT_EMPTY,
		             "orphan of entry %u freed", i + 1);
	cr_assert_eq(decide(t, 2, "live"), 0, "the live key stays");
	evt_close(h);
	evt_close(t);
	return scans;
}

/* Reaping scans the table once however many entries are dead (it used to scan
 * it twice per dead entry: 30 s for 4,096 entries at 2^20 slots). */
Test(liveness, reaping_is_one_scan)
{
	cr_assert_eq(reap_scans(1), 1);
	cr_assert_eq(reap_scans(4096), 1);
}

/* A client that decides on three new keys, then waits to be killed. */
static void three_keys_client(const char *name, struct child_shm *c)
{
	evt_throttle *t;
	c->rc = evt_attach(name, 0, &t);
	if (c->rc == 0) {
		c->answers[0] = decide(t, 10, "k1");
		c->answers[1] = decide(t, 10, "k2");
		c->answers[2] = decide(t, 10, "k3");
	}
	set(&c->stage, 1);
	wait_go(c, 1);
	_exit(0);
}

/* The slot holding key, or fail. */
static uint32_t slot_of(const evt_throttle *t, const char *key)
{
	struct table_entry e;
	for (uint32_t i = 0; i <= t->r.mask; i++)
		if (table_read_slot(&t->r, i, &e) == 1 && e.len == strlen(key) &&
		    memcmp(e.key, key, e.len) == 0)
			return i;
	cr_assert_fail("key %s not in the table", key);
	return 0;
}

/*
 * A client killed between a change to the table and its count: here the two states
 * such a kill leaves, made exactly (the insert of k1 published but not counted; the
 * removals of k2 and k3 CAS'd to DYING and never finished nor counted, as by two
 * threads of the client), then the client killed.
 * After the reaping attach the count is exact, and table_check (evthrottle-inspect
 * check) agrees.  It used to stay one off for each.
 */
Test(liveness, count_exact_after_kills)
{
	const char *name = new_name();
	evt_throttle *t = test_create(name, NULL);
	cr_assert_eq(decide(t, 1, "mine"), 1);
	struct child_shm *c = shm_make();
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0)
		three_keys_client(name, c);
	wait_stage(c, 1);
	cr_assert_eq(c->rc, 0);
	cr_assert_eq(c->answers[0] + c->answers[1] + c->answers[2], 3);

	struct region_client *e = region_client(&t->r, 1);
	atomic_fetch_sub(&e->ctr[CTR_NEW_KEYS], 1); /* k1's count never happened */
	const char *dying[] = { "k2", "k3" };
	for (int i = 0; i < 2; i++) {
		struct region_slot *s = region_slot(&t->r, slot_of(t, dying[i]));
		atomic_store(&s->ctrl, CTRL_NEXT(atomic_load(&s->ctrl), SLOT_DYING));
	}
	cr_assert_eq(kill(pid, SIGKILL), 0);
	int st;
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	evt_stats before;
	cr_assert_eq(evt_stats_get(t, &before), 0);
	cr_expect_eq(before.keys, 3, "by the counters: mine, k2 and k3");

	reap_now(name);
	evt_stats after;
	cr_assert_eq(evt_stats_get(t, &after), 0);
	cr_expect_eq(after.clients, 1);
	cr_expect_eq(after.keys, 2, "mine and k1; k2 and k3 removed");
	cr_expect_eq(keycount_published(&t->r), 2);
	struct killed_check k = killed_table_check(&t->r);
	cr_expect_eq(k.other, 0);
	cr_expect_eq(k.drift, 0, "table_check: the count is %lld off", k.drift);
	cr_expect_eq(decide(t, 11, "k1"), 0, "k1 is tracked");
	cr_expect_eq(decide(t, 11, "k2"), 1, "k2 was removed");
	cr_expect_eq(decide(t, 11, "k3"), 1, "k3 was removed");
	cr_expect_eq(evt_key_count(t), 4);
	munmap(c, sizeof *c);
	evt_close(t);
}

/* A client killed (here: exits without closing) so that a recount is owed. */
static void die_attached(const char *name)
{
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		evt_throttle *t;
		_exit(evt_attach(name, 0, &t) == 0 && decide(t, 5, "dead") == 1 ? 0 : 1);
	}
	int st;
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

/* The recount after a death counts admin handles' clears too: the count stays
 * exact after an operator's clear (it was low by every admin clear). */
Test(liveness, count_exact_after_admin_clears_and_a_death)
{
	const char *name = new_name();
	evt_throttle *t = test_create(name, NULL), *adm;
	char key[16];
	for (unsigned i = 0; i < 10; i++) {
		snprintf(key, sizeof key, "a%u", i);
		cr_assert_eq(decide(t, 1, key), 1);
	}
	cr_assert_eq(evt_attach(name, EVT_ADMIN, &adm), 0);
	cr_assert_eq(evt_clear_key(adm, "a0", 2), 1);
	cr_assert_eq(evt_clear_key(adm, "a1", 2), 1);
	evt_close(adm);
	die_attached(name);
	reap_now(name);
	cr_expect_eq(atomic_load(&t->r.hdr->keys_owed), 0, "the recount was made");
	cr_expect_eq(evt_key_count(t), 9, "8 of mine and the dead client's");
	cr_expect_eq(keycount_published(&t->r), 9);
	evt_close(t);
}

static atomic_bool busy_stop;
static atomic_uint busy_decisions;

static void *busy_decider(void *arg)
{
	evt_throttle *t = arg;
	while (!atomic_load(&busy_stop)) {
		decide(t, 2, "hot"); /* throttled: counts, never changes the key set */
		atomic_fetch_add(&busy_decisions, 1);
	}
	return NULL;
}

/* Decisions on keys already there do not stop a recount (they count, but do not
 * change the number of keys): a busy throttle still gets its count corrected. */
Test(liveness, recount_succeeds_while_clients_decide)
{
	const char *name = new_name();
	evt_throttle *t = test_create(name, NULL), *busy;
	cr_assert_eq(decide(t, 1, "hot"), 1);
	die_attached(name);
	cr_assert_eq(evt_attach(name, 0, &busy), 0); /* reaps; owes a recount */
	atomic_store(&t->r.hdr->keys_owed, 1);
	pthread_t th;
	atomic_store(&busy_stop, false);
	cr_assert_eq(pthread_create(&th, NULL, busy_decider, busy), 0);
	while (atomic_load(&busy_decisions) < 1000)
		sched_yield();
	bool settled = false;
	for (int i = 0; i < 200 && !settled; i++)
		settled = keycount_settle(&t->r);
	atomic_store(&busy_stop, true);
	pthread_join(th, NULL);
	cr_expect(settled, "no recount succeeded in 200 tries while a client decided");
	cr_expect_eq(evt_key_count(t), 2);
	evt_close(busy);
	evt_close(t);
}

/* What each thread of a killed client did, written only by that thread. */
#define KILLED_THREADS 4
struct thread_tally {
	_Atomic uint64_t done[2]; /* calls that returned 0 (throttled) and 1 (processed) */
	_Atomic int in_flight;     /* 1 from before a call until after its tally */
};

struct tally_arg {
	evt_throttle *t;
	struct thread_tally *tally;
	unsigned seed;
	uint64_t ts0; /* past every earlier round's timestamps */
};

/* Decide on a few hot keys until killed, tallying each answer. */
static void *tallying_decider(void *arg)
{
	struct tally_arg *a = arg;
	char key[8];
	for (uint64_t ts = a->ts0;; ts++) {
		snprintf(key, sizeof key, "h%u", (a->seed + (unsigned)ts) % 8);
		atomic_store(&a->tally->in_flight, 1);
		int rc = decide(a->t, ts, key);
		if (rc == 0 || rc == 1)
			atomic_fetch_add(&a->tally->done[rc], 1);
		atomic_store(&a->tally->in_flight, 0);
	}
	return NULL;
}

/* A client with KILLED_THREADS threads deciding on one handle, until killed. */
static void tallying_client(const char *name, struct thread_tally *tally, uint64_t ts0)
{
	evt_throttle *t;
	if (evt_attach(name, 0, &t) != 0)
		_exit(3);
	pthread_t th[KILLED_THREADS];
	struct tally_arg a[KILLED_THREADS];
	for (unsigned i = 0; i < KILLED_THREADS; i++) {
		a[i] = (struct tally_arg){ t, &tally[i], i, ts0 };
		if (pthread_create(&th[i], NULL, tallying_decider, &a[i]) != 0)
			_exit(3);
	}
	pause();
	_exit(0);
}

/* The client runs in a fresh image of this program (fork, then exec of
 * /proc/self/exe): the test's process already has threads, and a child forked from
 * it may not start more under ThreadSanitizer.  TALLY_ENV says "fd name ts0": the
 * tally's memfd, inherited, the throttle and the first timestamp. */
#define TALLY_ENV "EVT_TEST_TALLY_CLIENT"

__attribute__((constructor)) static void tally_client_main(void)
{
	const char *v = getenv(TALLY_ENV);
	char name[EVT_NAME_MAX + 1];
	int fd;
	unsigned long long ts0;
	if (v == NULL)
		return;
	if (sscanf(v, "%d %200s %llu", &fd, name, &ts0) != 3)
		_exit(3);
	struct thread_tally *tally = mmap(NULL, sizeof *tally * KILLED_THREADS,
	                                  PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (tally == MAP_FAILED)
		_exit(3);
	tallying_client(name, tally, ts0);
}

static pid_t spawn_tallying_client(const char *name, int fd, uint64_t ts0)
{
	char env[EVT_NAME_MAX + 64];
	snprintf(env, sizeof env, "%d %s %llu", fd, name, (unsigned long long)ts0);
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		setenv(TALLY_ENV, env, 1);
		execl("/proc/self/exe", "tallying-client", (char *)NULL);
		_exit(3);
	}
	return pid;
}

/*
 * Several threads on one handle (one of them the owner, writing its counters
 * without a lock, the others with a locked add), killed at a random moment, three
 * times over: every processed and throttled answer a thread got back is counted,
 * and at most the calls in flight at the kill are counted besides.  Lost updates
 * between threads (an unlocked add by two threads) make the counts low.
 */
Test(liveness, counters_exact_for_threads_killed_at_random)
{
	const char *name = new_name();
	evt_options o = EVT_OPTIONS_INIT;
	o.capacity = 64;
	o.window_ns = 3;
	evt_throttle *t = test_create(name, &o);
	int fd = memfd_create("tally", 0); /* no MFD_CLOEXEC: the client inherits it */
	cr_assert_geq(fd, 0);
	cr_assert_eq(ftruncate(fd, sizeof(struct thread_tally) * KILLED_THREADS), 0);
	struct thread_tally *tally = mmap(NULL, sizeof *tally * KILLED_THREADS,
	                                  PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	cr_assert_neq(tally, MAP_FAILED);
	srand((unsigned)getpid());
	for (int round = 0; round < 3; round++) {
		memset(tally, 0, sizeof *tally * KILLED_THREADS);
		evt_stats before, after;
		cr_assert_eq(evt_stats_get(t, &before), 0);
		pid_t pid = spawn_tallying_client(name, fd, (uint64_t)(round + 1) << 40);
		uint64_t want = 100000 + (uint64_t)(rand() % 100000), got = 0;
		while (got < want) {
			usleep(1000);
			got = 0;
			for (unsigned i = 0; i < KILLED_THREADS; i++)
				got += atomic_load(&tally[i].done[0]) + atomic_load(&tally[i].done[1]);
			int st;
			cr_assert_eq(waitpid(pid, &st, WNOHANG), 0, "the client stopped on its own");
		}
		usleep((useconds_t)(rand() % 3000));
		cr_assert_eq(kill(pid, SIGKILL), 0);
		int st;
		cr_assert_eq(waitpid(pid, &st, 0), pid);
		cr_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
		cr_assert_eq(evt_stats_get(t, &after), 0);
		uint64_t done[2] = { 0, 0 }, in_flight = 0;
		for (unsigned i = 0; i < KILLED_THREADS; i++) {
			done[0] += atomic_load(&tally[i].done[0]);
			done[1] += atomic_load(&tally[i].done[1]);
			in_flight += (uint64_t)atomic_load(&tally[i].in_flight);
		}
		uint64_t counted[2] = { after.throttled - before.throttled,
			                after.processed - before.processed };
		for (int k = 0; k < 2; k++)
			cr_expect(counted[k] >= done[k] && counted[k] <= done[k] + in_flight,
			          "round %d: %s counted %llu, answered %llu, %llu calls in flight", round,
			          k ? "processed" : "throttled", (unsigned long long)counted[k],
			          (unsigned long long)done[k], (unsigned long long)in_flight);
		cr_expect_gt(done[1], 0, "round %d: nothing processed", round);
		reap_now(name);
	}
	munmap(tally, sizeof *tally * KILLED_THREADS);
	close(fd);
	evt_close(t);
}

/* A child forked with a handle whose owner thread is the parent's forking thread
 * counts through the locked words (its thread is a copy of the owner, but not the
 * owner), while the parent goes on counting without a lock: no count is lost.
 * Without the fork handler both would add to ctr[] unlocked, and lose some. */
Test(liveness, forked_child_counts_apart_from_the_owner)
{
	const char *name = new_name();
	evt_throttle *t = test_create(name, NULL);
	cr_assert_eq(decide(t, 1, "hot"), 1); /* this thread owns the handle now */
	struct region_client *e = t->me.entry;
	enum { N = 200000 };
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		int throttled = 0;
		for (int i = 0; i < N; i++)
			throttled += decide(t, 2, "hot") == 0;
		_exit(throttled == N ? 0 : 1);
	}
	for (int i = 0; i < N; i++)
		cr_assert_eq(decide(t, 2, "hot"), 0);
	int st;
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	cr_expect_eq(atomic_load(&e->ctr[CTR_INSIDE_WINDOW]), N, "the owner's, unlocked");
	cr_expect_eq(atomic_load(&e->ctr_shared[CTR_INSIDE_WINDOW]), N, "the child's, locked");
	evt_stats s;
	cr_assert_eq(evt_stats_get(t, &s), 0);
	cr_expect_eq(s.throttled, 2 * N);
	evt_close(t);
}
