/*
 * Huge pages per throttle (evt_options.huge_pages, issue 19 item 5).  Whether the
 * system offers them for shared memory is the mount's business, so each test runs
 * in a child with a private mount namespace and a fresh tmpfs on /dev/shm mounted
 * the way the test needs (huge=advise, huge=always, huge=never): the outcome then
 * depends on the kernel alone.  Where no mount namespace can be made (no root, no
 * user namespaces) or the kernel has no transparent huge pages, the test is
 * skipped and says why; a skip is never counted as a pass (scripts/tap_totals.py).
 */
#include <dirent.h>
#include <errno.h>
#include <sched.h>
#include <stdbool.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "common.h"
#include "handle.h"

TestSuite(hugepages);

/* What the child saw, for the test's process to assert on. */
struct outcome {
	int setup;  /* 0, or the errno of unshare()/mount() */
	char what[128];
	int create;   /* evt_create() */
	int attach;   /* evt_attach() of a second handle */
	bool huge_creator, huge_attacher; /* ShmemPmdMapped > 0 in the mappings */
	int answers[3];
	unsigned objects; /* entries left in the fresh /dev/shm */
};

#define THP "/sys/kernel/mm/transparent_hugepage"

/* kB of the mapping that starts at p mapped with huge pages (ShmemPmdMapped). */
static unsigned long pmd_mapped_kb(const void *p)
{
	FILE *f = fopen("/proc/self/smaps", "re");
	cr_assert_not_null(f);
	char line[512];
	unsigned long lo, hi, kb, found = 0;
	bool in = false;
	while (fgets(line, sizeof line, f) != NULL) {
		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2)
			in = lo == (unsigned long)p;
		else if (in && sscanf(line, "ShmemPmdMapped: %lu", &kb) == 1)
			found = kb;
	}
	fclose(f);
	return found;
}

static unsigned entries(const char *dir)
{
	DIR *d = opendir(dir);
	unsigned n = 0;
	for (struct dirent *e; d != NULL && (e = readdir(d)) != NULL;)
		n += e->d_name[0] != '.' || strncmp(e->d_name, ".evthrottle", 11) == 0;
	if (d != NULL)
		closedir(d);
	return n;
}

/* In the child: a private /dev/shm mounted with huge=<huge>, then a 16 MiB
 * throttle made with huge pages, a second handle, three decisions. */
static void child(const char *huge, struct outcome *out)
{
	char opts[64];
	snprintf(opts, sizeof opts, "huge=%s,size=64m", huge);
	if (unshare(CLONE_NEWNS) < 0 ||
	    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) {
		out->setup = errno;
		snprintf(out->what, sizeof out->what, "a private mount namespace");
		_exit(0);
	}
	if (mount("tmpfs", "/dev/shm", "tmpfs", 0, opts) < 0) {
		out->setup = errno;
		snprintf(out->what, sizeof out->what, "mount -t tmpfs -o %s", opts);
		_exit(0);
	}
	evt_options o = EVT_OPTIONS_INIT;
	o.capacity = 262144; /* 16 MiB of slots */
	o.huge_pages = 1;
	o.mode = 0600;
	evt_throttle *t = NULL, *a = NULL;
	out->create = evt_create("huge", &o, &t);
	if (out->create == 0) {
		out->huge_creator = pmd_mapped_kb(t->r.hdr) > 0;
		out->attach = evt_attach("huge", 0, &a);
		if (out->attach == 0) {
			out->huge_attacher = pmd_mapped_kb(a->r.hdr) > 0;
			out->answers[0] = evt_should_process(t, 10, NULL, "k", 1);
			out->answers[1] = evt_should_process(a, 11, NULL, "k", 1);
			out->answers[2] = evt_should_process(a, 11 + o.window_ns, NULL, "k", 1);
			evt_close(a);
		}
		evt_close(t);
		evt_unlink("huge");
	}
	out->objects = entries("/dev/shm");
	_exit(0);
}

/* Run child() with /dev/shm mounted huge=<huge>; skip the test if the namespace
 * or the mount cannot be made here, saying why. */
static struct outcome run(const char *huge)
{
	struct stat st;
	if (stat(THP, &st) < 0)
		cr_skip_test("skipped: this kernel has no transparent huge pages (%s: %s)", THP,
		             strerror(errno));
	struct outcome *out = mmap(NULL, sizeof *out, PROT_READ | PROT_WRITE,
	                           MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	cr_assert_neq(out, MAP_FAILED);
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0)
		child(huge, out);
	int status;
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the child did not finish");
	struct outcome r = *out;
	munmap(out, sizeof *out);
	if (r.setup != 0)
		cr_skip_test("skipped: could not make %s (%s); needs root or user namespaces",
		             r.what, strerror(r.setup));
	return r;
}

static bool shmem_denied(void)
{
	FILE *f = fopen(THP "/shmem_enabled", "re");
	char line[128] = "";
	if (f != NULL) {
		if (fgets(line, sizeof line, f) == NULL)
			line[0] = '\0';
		fclose(f);
	}
	return strstr(line, "[deny]") != NULL;
}

static void expect_huge(const char *huge)
{
	if (shmem_denied())
		cr_skip_test("skipped: " THP "/shmem_enabled is \"deny\": no mount may use huge pages");
	struct outcome r = run(huge);
	cr_assert_eq(r.create, 0, "huge=%s: evt_create: %s", huge, evt_strerror(r.create));
	cr_expect(r.huge_creator, "huge=%s: the creator's mapping has no huge page", huge);
	cr_assert_eq(r.attach, 0, "evt_attach: %s", evt_strerror(r.attach));
	cr_expect(r.huge_attacher, "huge=%s: the attacher's mapping has no huge page", huge);
	cr_expect_eq(r.answers[0], 1);
	cr_expect_eq(r.answers[1], 0, "the second handle sees the first's decision");
	cr_expect_eq(r.answers[2], 1);
	cr_expect_eq(r.objects, 0, "nothing left in /dev/shm after the unlink");
}

/* /dev/shm with huge=advise: the region is advised before it is populated. */
Test(hugepages, backed_where_the_mount_advises)
{
	expect_huge("advise");
}

Test(hugepages, backed_where_the_mount_always_uses_them)
{
	expect_huge("always");
}

/* /dev/shm with huge=never: a clear error, and no object, hidden or named, left. */
Test(hugepages, refused_where_not_offered)
{
	struct outcome r = run("never");
	cr_expect_eq(r.create, -EOPNOTSUPP, "evt_create: %s", evt_strerror(r.create));
	cr_expect_eq(r.objects, 0, "a refused region left %u objects in /dev/shm", r.objects);
	cr_expect(strstr(evt_strerror(-EOPNOTSUPP), "huge=") != NULL,
	          "the message says what to change");
}

/* The option is 0 or 1. */
Test(hugepages, option_range)
{
	evt_options o = EVT_OPTIONS_INIT;
	o.huge_pages = 2;
	evt_throttle *t = NULL;
	cr_expect_eq(evt_create(NULL, &o, &t), -EINVAL);
	cr_expect_null(t);
}
