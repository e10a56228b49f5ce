/*
 * Bad input to attach/create and misuse of the API (SPEC §5.6-5.8): every case gets
 * the errno the header documents, and nothing changes — the shm file's bytes, the
 * key count and the window are the same afterwards.
 *
 * Regions are damaged through a separate open() of /dev/shm/evthrottle.<name>, never
 * through the library.  Permission cases run in a forked child that drops root to
 * nobody (65534) and reports through a MAP_SHARED page; children only _exit().
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include "common.h"

#include "hidden.h"
#include "region.h"

TestSuite(attach, .fini = unlink_names);

/* capacity 64, key_max 32, client_max 256: a 173184-byte file (167936 of header and
 * clients, 4096 of slots, 128 of forget bounds, 1024 of the global block). */
static evt_options small_opts(void)
{
	evt_options o = EVT_OPTIONS_INIT;
	o.window_ns = 1000;
	o.capacity = 64;
	o.mode = 0600;
	return o;
}
#define SMALL_TOTAL 173184u

/* ---- the file, without the library ---- */

static void shm_file(char *buf, size_t size, const char *name)
{
	snprintf(buf, size, "/dev/shm/evthrottle.%s", name);
}

static bool region_exists(const char *name)
{
	char path[512];
	struct stat st;
	shm_file(path, sizeof path, name);
	return stat(path, &st) == 0;
}

static int open_file(const char *name, int flags)
{
	char path[512];
	shm_file(path, sizeof path, name);
	int fd = open(path, flags | O_CLOEXEC, 0600);
	cr_assert_geq(fd, 0, "open(%s): %s", path, strerror(errno));
	return fd;
}

struct snap {
	unsigned char *p;
	size_t n;
};

static struct snap snapshot(const char *name)
{
	int fd = open_file(name, O_RDONLY);
	struct stat st;
	cr_assert_eq(fstat(fd, &st), 0);
	struct snap s = { malloc((size_t)st.st_size + 1), (size_t)st.st_size };
	cr_assert_not_null(s.p);
	size_t got = 0;
	while (got < s.n) {
		ssize_t r = read(fd, s.p + got, s.n - got);
		cr_assert_gt(r, 0, "read: %s", strerror(errno));
		got += (size_t)r;
	}
	close(fd);
	return s;
}

static bool snap_equal(struct snap a, struct snap b)
{
	return a.n == b.n && memcmp(a.p, b.p, a.n) == 0;
}

/* Put the file back to exactly these bytes (and this size). */
static void restore(const char *name, struct snap s)
{
	int fd = open_file(name, O_RDWR);
	cr_assert_eq(ftruncate(fd, (off_t)s.n), 0);
	cr_assert_eq(pwrite(fd, s.p, s.n, 0), (ssize_t)s.n);
	close(fd);
}

static void write_at(const char *name, size_t off, const void *v, size_t width)
{
	int fd = open_file(name, O_RDWR);
	cr_assert_eq(pwrite(fd, v, width, (off_t)off), (ssize_t)width, "pwrite: %s",
	             strerror(errno));
	close(fd);
}

/* Store value in a little-endian field of 1, 2, 4 or 8 bytes. */
static void set_field(const char *name, size_t off, size_t width, uint64_t value)
{
	unsigned char b[8];
	for (size_t i = 0; i < width; i++)
		b[i] = (unsigned char)(value >> (8 * i));
	write_at(name, off, b, width);
}

static void truncate_to(const char *name, size_t size)
{
	int fd = open_file(name, O_RDWR);
	cr_assert_eq(ftruncate(fd, (off_t)size), 0);
	close(fd);
}

/* Deterministic filler bytes. */
static void fill_random(unsigned char *p, size_t n, uint64_t seed)
{
	uint64_t x = seed * 0x9e3779b97f4a7c15ull + 1;
	for (size_t i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		p[i] = (unsigned char)(x >> 24);
	}
}

static void write_foreign(const char *name, const unsigned char *p, size_t n)
{
	evt_unlink(name);
	int fd = open_file(name, O_RDWR | O_CREAT | O_EXCL);
	cr_assert_eq(ftruncate(fd, (off_t)n), 0);
	if (n > 0)
		cr_assert_eq(pwrite(fd, p, n, 0), (ssize_t)n);
	close(fd);
}

/* Attach read-write and read-only must both fail with want and leave the file's
 * bytes alone. */
static void expect_attach_fails(const char *name, int want, const char *what)
{
	struct snap before = snapshot(name);
	static const unsigned flags[] = { 0, EVT_RDONLY };
	for (int i = 0; i < 2; i++) {
		evt_throttle *t = NULL;
		int rc = evt_attach(name, flags[i], &t);
		cr_expect_eq(rc, want, "%s, %s attach: got %d (%s), want %d (%s)", what,
		             flags[i] ? "read-only" : "read-write", rc, evt_strerror(rc), want,
		             evt_strerror(want));
		cr_expect_null(t, "%s: failed attach set a handle", what);
		if (rc == 0)
			evt_close(t);
	}
	struct snap after = snapshot(name);
	cr_expect(snap_equal(before, after), "%s: a failed attach changed the file", what);
	free(before.p);
	free(after.p);
}

static void expect_attach_works(const char *name, const char *what)
{
	evt_throttle *t = NULL;
	int rc = evt_attach(name, 0, &t);
	cr_expect_eq(rc, 0, "%s: read-write attach: %s", what, evt_strerror(rc));
	evt_close(t);
	t = NULL;
	rc = evt_attach(name, EVT_RDONLY, &t);
	cr_expect_eq(rc, 0, "%s: read-only attach: %s", what, evt_strerror(rc));
	evt_close(t);
}

/* A closed region of small_opts() with two keys in it; returns its bytes. */
static struct snap make_closed_region(const char *name)
{
	evt_options o = small_opts();
	evt_throttle *t = test_create(name, &o);
	cr_assert_eq(decide(t, 10, "alpha"), 1);
	cr_assert_eq(decide(t, 20, "beta"), 1);
	evt_close(t);
	struct snap s = snapshot(name);
	cr_assert_eq(s.n, SMALL_TOTAL);
	return s;
}

static evt_stats stats(const evt_throttle *t)
{
	evt_stats s;
	int rc = evt_stats_get(t, &s);
	cr_assert_eq(rc, 0, "evt_stats_get: %s", evt_strerror(rc));
	return s;
}

/* ---- names ---- */

Test(attach, missing_region)
{
	const char *name = new_name();
	evt_unlink(name);
	evt_throttle *t = NULL;
	cr_expect_eq(evt_attach(name, 0, &t), -ENOENT);
	cr_expect_null(t);
	cr_expect_eq(evt_attach(name, EVT_RDONLY, &t), -ENOENT);
	cr_expect_null(t);
	cr_expect(!region_exists(name), "attach created %s", name);
	cr_expect_eq(evt_unlink(name), -ENOENT);

	/* A valid name of the longest length. */
	char longest[EVT_NAME_MAX + 1];
	int n = snprintf(longest, sizeof longest, "missing.%d.", (int)getpid());
	memset(longest + n, 'm', EVT_NAME_MAX - (size_t)n);
	longest[EVT_NAME_MAX] = '\0';
	cr_expect_eq(evt_attach(longest, 0, &t), -ENOENT);
	cr_expect_eq(evt_attach(longest, EVT_RDONLY, &t), -ENOENT);
	cr_expect_eq(evt_unlink(longest), -ENOENT);
}

Test(attach, invalid_names)
{
	char n201[202], n255[256], n300[301];
	memset(n201, 'a', 201);
	n201[201] = '\0';
	memset(n255, 'b', 255);
	n255[255] = '\0';
	memset(n300, 'c', 300);
	n300[300] = '\0';
	const char *bad[] = {
		"", ".hidden", ".", "..", "a/b", "/a", "a/", "../evil", "a b", "a*b", "a\tb",
		"a:b", "caf\xc3\xa9", "a\\b", n201, n255, n300,
	};
	evt_options o = small_opts();
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		const char *what = bad[i][0] != '\0' && strlen(bad[i]) < 20 ? bad[i] : "(empty/long)";
		evt_throttle *t = NULL;
		cr_expect_eq(evt_attach(bad[i], 0, &t), -EINVAL, "attach \"%s\"", what);
		cr_expect_eq(evt_attach(bad[i], EVT_RDONLY, &t), -EINVAL, "attach ro \"%s\"", what);
		cr_expect_null(t);
		int rc = evt_create(bad[i], &o, &t);
		cr_expect_eq(rc, -EINVAL, "create \"%s\": %d", what, rc);
		cr_expect_null(t, "create \"%s\" set a handle", what);
		if (rc == 0)
			evt_close(t);
		cr_expect(!region_exists(bad[i]), "create \"%s\" left an object", what);
		cr_expect_eq(evt_unlink(bad[i]), -EINVAL, "unlink \"%s\"", what);
	}
	/* NULL: attach and unlink refuse it (for create it means anonymous). */
	evt_throttle *t = NULL;
	cr_expect_eq(evt_attach(NULL, 0, &t), -EINVAL);
	cr_expect_eq(evt_attach(NULL, EVT_RDONLY, &t), -EINVAL);
	cr_expect_null(t);
	cr_expect_eq(evt_unlink(NULL), -EINVAL);
}

Test(attach, valid_name_boundaries)
{
	char buf[EVT_NAME_MAX + 1];
	/* Every allowed character class; '.' and '-' inside. */
	snprintf(buf, sizeof buf, "Az09_-.x.%d", (int)getpid());
	const char *mixed = keep_name(buf);
	/* Exactly EVT_NAME_MAX bytes. */
	int n = snprintf(buf, sizeof buf, "long.%d.", (int)getpid());
	memset(buf + n, 'L', EVT_NAME_MAX - (size_t)n);
	buf[EVT_NAME_MAX] = '\0';
	const char *longest = keep_name(buf);
	cr_assert_eq(strlen(longest), EVT_NAME_MAX);

	const char *good[] = { mixed, longest };
	evt_options o = small_opts();
	for (size_t i = 0; i < 2; i++) {
		evt_throttle *t = test_create(good[i], &o);
		cr_expect(region_exists(good[i]));
		cr_expect_eq(decide(t, 1, "k"), 1);
		evt_throttle *a = NULL;
		cr_expect_eq(evt_attach(good[i], 0, &a), 0);
		cr_expect_eq(decide(a, 2, "k"), 0, "the attached handle shares the state");
		evt_close(a);
		evt_close(t);
		cr_expect_eq(evt_unlink(good[i]), 0);
		cr_expect(!region_exists(good[i]));
	}
}

Test(attach, bad_flags_and_null_out)
{
	const char *name = new_name();
	evt_options o = small_opts();
	o.client_max = 2;
	evt_throttle *t = test_create(name, &o);
	cr_assert_eq(decide(t, 1, "k"), 1);
	struct snap before = snapshot(name);

	evt_throttle *a = NULL;
	cr_expect_eq(evt_attach(name, 0x4, &a), -EINVAL);
	cr_expect_eq(evt_attach(name, EVT_RDONLY | 0x4, &a), -EINVAL);
	cr_expect_eq(evt_attach(name, EVT_RDONLY | EVT_ADMIN, &a), -EINVAL);
	cr_expect_eq(evt_attach(name, 0x80000000u, &a), -EINVAL);
	cr_expect_eq(evt_attach(name, ~0u, &a), -EINVAL);
	cr_expect_null(a);
	cr_expect_eq(evt_attach(name, 0, NULL), -EINVAL);
	cr_expect_eq(evt_attach(name, EVT_RDONLY, NULL), -EINVAL);

	struct snap after = snapshot(name);
	cr_expect(snap_equal(before, after), "a refused attach changed the file");
	cr_expect_eq(stats(t).clients, 1, "a refused attach took a client slot");
	/* The one free slot is still there. */
	cr_expect_eq(evt_attach(name, 0, &a), 0);
	evt_close(a);

	/* evt_create with nowhere to put the handle creates nothing. */
	const char *other = new_name();
	evt_unlink(other);
	cr_expect_eq(evt_create(other, &o, NULL), -EINVAL);
	cr_expect(!region_exists(other), "evt_create(out NULL) left %s behind", other);
	cr_expect_eq(evt_create(NULL, &o, NULL), -EINVAL);
	evt_close(t);
	free(before.p);
	free(after.p);
}

Test(attach, create_existing_keeps_state)
{
	const char *name = new_name();
	evt_options o = small_opts();
	evt_throttle *t = test_create(name, &o);
	cr_assert_eq(decide(t, 100, "a"), 1);
	cr_assert_eq(decide(t, 100, "b"), 1);
	cr_assert_eq(decide(t, 150, "a"), 0);
	evt_stats s0 = stats(t);
	struct snap before = snapshot(name);

	evt_options other = EVT_OPTIONS_INIT;
	other.window_ns = 5;
	other.capacity = 128;
	other.mode = 0666;
	evt_throttle *t2 = NULL;
	cr_expect_eq(evt_create(name, &other, &t2), -EEXIST);
	cr_expect_null(t2);
	cr_expect_eq(evt_create(name, &o, &t2), -EEXIST);
	cr_expect_eq(evt_create(name, NULL, &t2), -EEXIST);
	cr_expect_null(t2);

	struct snap after = snapshot(name);
	cr_expect(snap_equal(before, after), "a refused create changed the region's bytes");
	struct stat st;
	char path[512];
	shm_file(path, sizeof path, name);
	cr_assert_eq(stat(path, &st), 0, "a refused create removed the region");
	cr_expect_eq(st.st_mode & 07777, 0600, "a refused create changed the mode");
	evt_stats s1 = stats(t);
	cr_expect_eq(s1.keys, 2);
	cr_expect_eq(s1.window_ns, 1000);
	cr_expect_eq(s1.capacity, 64);
	cr_expect_eq(s1.processed, s0.processed);
	cr_expect_eq(s1.throttled, s0.throttled);
	cr_expect_eq(evt_key_count(t), 2);
	cr_expect_eq(evt_get_window(t), 1000);
	/* Both handles, old and new, still see one state. */
	evt_throttle *a = NULL;
	cr_assert_eq(evt_attach(name, 0, &a), 0);
	cr_expect_eq(decide(a, 500, "a"), 0);
	cr_expect_eq(decide(a, 1100, "a"), 1);
	cr_expect_eq(decide(t, 1101, "a"), 0);
	evt_close(a);
	evt_close(t);
	free(before.p);
	free(after.p);
}

Test(attach, create_over_foreign_file)
{
	const char *name = new_name();
	unsigned char junk[5000];
	fill_random(junk, sizeof junk, 7);
	write_foreign(name, junk, sizeof junk);
	struct snap before = snapshot(name);
	evt_options o = small_opts();
	evt_throttle *t = NULL;
	cr_expect_eq(evt_create(name, &o, &t), -EEXIST);
	cr_expect_null(t);
	struct snap after = snapshot(name);
	cr_expect(snap_equal(before, after), "evt_create touched a foreign file");
	free(before.p);
	free(after.p);
}

/* ---- something else squatting the name (any user can make these in /dev/shm) ---- */

/* Attach both ways to a name held by a non-regular file: -EBADMSG at once, never
 * blocking (a FIFO would block an open() without O_NONBLOCK: the timeout fails it). */
static void expect_squat_refused(const char *name, const char *what)
{
	static const unsigned flags[] = { 0, EVT_RDONLY };
	for (int i = 0; i < 2; i++) {
		evt_throttle *t = NULL;
		int rc = evt_attach(name, flags[i], &t);
		cr_expect_eq(rc, -EBADMSG, "%s, %s attach: got %d (%s)", what,
		             flags[i] ? "read-only" : "read-write", rc, evt_strerror(rc));
		cr_expect_null(t);
	}
}

Test(attach, fifo_squatting_the_name, .timeout = 10)
{
	const char *name = new_name();
	char path[PATH_MAX];
	shm_file(path, sizeof path, name);
	cr_assert_eq(mkfifo(path, 0666), 0, "mkfifo %s: %s", path, strerror(errno));
	expect_squat_refused(name, "a FIFO");
	unlink(path);
}

Test(attach, directory_squatting_the_name, .timeout = 10)
{
	const char *name = new_name();
	char path[PATH_MAX];
	shm_file(path, sizeof path, name);
	cr_assert_eq(mkdir(path, 0777), 0, "mkdir %s: %s", path, strerror(errno));
	expect_squat_refused(name, "a directory");
	rmdir(path);
}

Test(attach, symlink_is_never_followed, .timeout = 10)
{
	const char *real = new_name(), *link_name = new_name();
	struct snap orig = make_closed_region(real);
	char target[PATH_MAX], path[PATH_MAX];
	shm_file(target, sizeof target, real);
	shm_file(path, sizeof path, link_name);
	cr_assert_eq(symlink(target, path), 0, "symlink %s: %s", path, strerror(errno));
	expect_squat_refused(link_name, "a symbolic link to a valid region");
	unlink(path);
	free(orig.p);
}

/* Create, close and unlink name `rounds` times (in a child of the race test). */
static void create_loop(const char *name, unsigned rounds)
{
	evt_options o = small_opts();
	for (unsigned i = 0; i < rounds; i++) {
		evt_throttle *t;
		if (evt_create(name, &o, &t) != 0)
			_exit(2);
		evt_close(t);
		if (evt_unlink(name) != 0)
			_exit(3);
	}
	_exit(0);
}

/*
 * An attach racing the creation of the region (a daemon starting) finds no region
 * or a ready one: never a partial one (-EBADMSG, "corrupt"), which it did every
 * time the race was hit while the creator made the object under its own name.
 */
Test(attach, racing_create_never_corrupt)
{
	const char *name = new_name();
	evt_unlink(name);
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0)
		create_loop(name, 3000);
	unsigned found = 0, attempts = 0;
	int st;
	for (; waitpid(pid, &st, WNOHANG) == 0; attempts++) {
		evt_throttle *t;
		int rc = evt_attach(name, attempts % 2 ? EVT_RDONLY : 0, &t);
		cr_assert(rc == 0 || rc == -ENOENT || rc == -EAGAIN,
		          "attach %u during creates: %s", attempts, evt_strerror(rc));
		if (rc == 0) {
			found++;
			evt_close(t);
		}
	}
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "creator status %#x", st);
	cr_expect_gt(found, 0, "no attach met a region (%u attempts)", attempts);
}

/* A remover (evthrottled's, lib/hidden.c) between a creator's create of its hidden
 * object and its lock: the first time holding its claim while the creator locks,
 * the second having unlinked the object and let go. */
static unsigned remover_runs;
static char claimed[EVT_NAME_MAX + 64];
static int claim_fd = -1;

static void remove_in_the_gap(const char *tmp)
{
	if (remover_runs++ == 0) {
		char path[sizeof claimed + 16];
		snprintf(path, sizeof path, "/dev/shm%s", tmp);
		snprintf(claimed, sizeof claimed, "%s", tmp + 1);
		claim_fd = open(path, O_RDONLY | O_CLOEXEC);
		struct flock fl = { .l_type = F_RDLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 1 };
		cr_assert_eq(fcntl(claim_fd, F_OFD_SETLK, &fl), 0, "%s", strerror(errno));
	} else if (remover_runs == 2) {
		cr_assert_eq(hidden_remove(tmp + 1), 1, "the remover found it held");
	}
}

static int count_hidden(const char *file, void *arg)
{
	(void)file;
	(*(unsigned *)arg)++;
	return 0;
}

/* The creator gives each claimed name up and succeeds with a third; without the
 * link count checked after its lock, the second left it building an unlinked
 * object, whose rename failed (-ENOENT). */
Test(attach, create_survives_a_remover_between_its_create_and_its_lock)
{
	const char *name = new_name();
	evt_options o = small_opts();
	evt_throttle *t = NULL;
	hidden_create_hook = remove_in_the_gap;
	int rc = evt_create(name, &o, &t);
	hidden_create_hook = NULL;
	int removed = hidden_remove(claimed); /* the first remover's unlink */
	close(claim_fd);
	cr_assert_eq(rc, 0, "evt_create: %s", evt_strerror(rc));
	cr_expect_eq(remover_runs, 3, "not one name given up per remover");
	cr_expect_eq(removed, 1, "the first remover's object was not left to it");
	unsigned left = 0;
	cr_expect_eq(hidden_each(name, count_hidden, &left), 0);
	cr_expect_eq(left, 0, "hidden objects left behind");
	cr_expect_eq(decide(t, 1, "k"), 1);
	evt_close(t);
}

/* ---- damaged regions ---- */

Test(attach, truncated_file)
{
	const char *name = new_name();
	struct snap orig = make_closed_region(name);
	static const size_t sizes[] = {
		SMALL_TOTAL - 4096, SMALL_TOTAL - 64, SMALL_TOTAL - 1, 36864, 4096, 257, 256,
		255, 64, 10, 1, 0,
	};
	for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
		restore(name, orig);
		truncate_to(name, sizes[i]);
		char what[64];
		snprintf(what, sizeof what, "truncated to %zu bytes", sizes[i]);
		expect_attach_fails(name, -EBADMSG, what);
	}
	restore(name, orig);
	expect_attach_works(name, "restored after truncation");
	free(orig.p);
}

Test(attach, wrong_magic)
{
	const char *name = new_name();
	struct snap orig = make_closed_region(name);
	const uint64_t bad[] = {
		0, REGION_MAGIC ^ 1, REGION_MAGIC ^ (1ull << 63), __builtin_bswap64(REGION_MAGIC),
		UINT64_MAX,
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		restore(name, orig);
		set_field(name, offsetof(struct region_hdr, magic), 8, bad[i]);
		char what[64];
		snprintf(what, sizeof what, "magic %#llx", (unsigned long long)bad[i]);
		expect_attach_fails(name, -EBADMSG, what);
	}
	restore(name, orig);
	write_at(name, 0, "EVTHROTL", 8);
	expect_attach_fails(name, -EBADMSG, "magic \"EVTHROTL\"");
	restore(name, orig);
	expect_attach_works(name, "magic restored");
	free(orig.p);
}

Test(attach, other_major_version)
{
	const char *name = new_name();
	struct snap orig = make_closed_region(name);
	const uint16_t bad[] = { 0, EVT_VERSION_MAJOR + 1, 0xffff };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		restore(name, orig);
		set_field(name, offsetof(struct region_hdr, version_major), 2, bad[i]);
		char what[64];
		snprintf(what, sizeof what, "major version %u", bad[i]);
		expect_attach_fails(name, -EPROTONOSUPPORT, what);
	}
	/* Another major version may have another layout: it is reported as a version
	 * mismatch, not as corruption. */
	restore(name, orig);
	set_field(name, offsetof(struct region_hdr, version_major), 2, EVT_VERSION_MAJOR + 1);
	set_field(name, offsetof(struct region_hdr, header_size), 4, 512);
	set_field(name, offsetof(struct region_hdr, capacity), 4, 12345);
	set_field(name, offsetof(struct region_hdr, total_size), 8, 1ull << 40);
	expect_attach_fails(name, -EPROTONOSUPPORT, "major version 2 with another geometry");

	/* A newer minor version of the same major is compatible. */
	restore(name, orig);
	set_field(name, offsetof(struct region_hdr, version_minor), 2, EVT_VERSION_MINOR + 7);
	expect_attach_works(name, "minor version + 7");
	free(orig.p);
}

/* Every header field a reader relies on, set to a value that points outside the
 * mapping or disagrees with the geometry. */
Test(attach, corrupt_geometry_fields)
{
	struct bad_field {
		const char *field;
		size_t off, width;
		uint64_t value;
	};
#define F(f, v) { #f, offsetof(struct region_hdr, f), sizeof(((struct region_hdr *)0)->f), v }
	static const struct bad_field cases[] = {
		F(header_size, 0), F(header_size, 128), F(header_size, 512),
		F(total_size, 0), F(total_size, SMALL_TOTAL - 4096), F(total_size, SMALL_TOTAL + 4096),
		F(total_size, 1ull << 40), F(total_size, UINT64_MAX),
		F(capacity, 0), F(capacity, 63), F(capacity, 100), F(capacity, 128),
		F(capacity, 1u << 28), F(capacity, 1u << 29), F(capacity, UINT32_MAX),
		F(key_max, 0), F(key_max, 33), F(key_max, 1025), F(key_max, UINT32_MAX),
		F(slot_size, 0), F(slot_size, 32), F(slot_size, 128), F(slot_size, 4096),
		F(slot_size, UINT32_MAX),
		F(client_max, 0), F(client_max, 1000), F(client_max, 65535), F(client_max, 65536),
		F(client_max, UINT32_MAX),
		F(client_size, 0), F(client_size, 128), F(client_size, 512),
		F(nbhd, 0), F(nbhd, 16), F(nbhd, 64),
		F(clients_offset, 0), F(clients_offset, 4096), F(clients_offset, SMALL_TOTAL),
		F(clients_offset, 1ull << 40),
		F(table_offset, 0), F(table_offset, 4096), F(table_offset, SMALL_TOTAL),
		F(table_offset, 1ull << 40), F(table_offset, UINT64_MAX),
		F(on_full, 3), F(on_full, UINT32_MAX), F(on_stale, 3), F(on_stale, UINT32_MAX),
		F(bounds_offset, 0), F(bounds_offset, SMALL_TOTAL - 64), F(bounds_offset, SMALL_TOTAL),
		F(bounds_offset, UINT64_MAX),
	};
#undef F
	const char *name = new_name();
	struct snap orig = make_closed_region(name);
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		restore(name, orig);
		set_field(name, cases[i].off, cases[i].width, cases[i].value);
		char what[96];
		snprintf(what, sizeof what, "%s = %llu", cases[i].field,
		         (unsigned long long)cases[i].value);
		expect_attach_fails(name, -EBADMSG, what);
	}
	restore(name, orig);
	expect_attach_works(name, "header restored");
	free(orig.p);
}

/* A header that agrees with itself but describes a larger region than the file. */
Test(attach, consistent_header_larger_than_file)
{
	const char *name = new_name();
	struct snap orig = make_closed_region(name);
	const size_t cap = offsetof(struct region_hdr, capacity);
	const size_t total = offsetof(struct region_hdr, total_size);
	const size_t cmax = offsetof(struct region_hdr, client_max);
	const size_t table = offsetof(struct region_hdr, table_offset);

	set_field(name, cap, 4, 128);
	set_field(name, total, 8, 36864 + 128 * 64);
	expect_attach_fails(name, -EBADMSG, "capacity 128 with its total_size");

	restore(name, orig);
	set_field(name, cap, 4, 1u << 20);
	set_field(name, total, 8, 36864 + (1ull << 20) * 64);
	expect_attach_fails(name, -EBADMSG, "capacity 2^20 with its total_size");

	restore(name, orig);
	set_field(name, cmax, 4, 1000);
	set_field(name, table, 8, 131072);
	set_field(name, total, 8, 131072 + 64 * 64);
	expect_attach_fails(name, -EBADMSG, "client_max 1000 with its offsets");

	restore(name, orig);
	set_field(name, offsetof(struct region_hdr, key_max), 4, 96);
	set_field(name, offsetof(struct region_hdr, slot_size), 4, 128);
	set_field(name, total, 8, 36864 + 64 * 128);
	expect_attach_fails(name, -EBADMSG, "key_max 96 with its slot_size");

	restore(name, orig);
	expect_attach_works(name, "header restored");
	free(orig.p);
}

Test(attach, state_not_ready)
{
	const char *name = new_name();
	struct snap orig = make_closed_region(name);
	/* 0 is a region still being created (fresh zeroes); anything else is damage. */
	const uint32_t bad[] = { 0, 1, REGION_STATE_READY ^ 1, UINT32_MAX };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		restore(name, orig);
		set_field(name, offsetof(struct region_hdr, state), 4, bad[i]);
		char what[64];
		snprintf(what, sizeof what, "state %#x", bad[i]);
		expect_attach_fails(name, bad[i] == 0 ? -EAGAIN : -EBADMSG, what);
	}
	restore(name, orig);
	expect_attach_works(name, "state READY again");
	free(orig.p);
}

Test(attach, foreign_file)
{
	const char *name = new_name();
	static const size_t sizes[] = { SMALL_TOTAL, 8425472, 4096, 257, 256, 100, 1 };
	unsigned char *buf = malloc(8425472);
	cr_assert_not_null(buf);
	for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
		fill_random(buf, sizes[i], i + 1);
		write_foreign(name, buf, sizes[i]);
		char what[64];
		snprintf(what, sizeof what, "%zu random bytes", sizes[i]);
		expect_attach_fails(name, -EBADMSG, what);
	}
	memset(buf, 0, SMALL_TOTAL);
	write_foreign(name, buf, SMALL_TOTAL);
	expect_attach_fails(name, -EBADMSG, "all-zero file");
	write_foreign(name, buf, 0);
	expect_attach_fails(name, -EBADMSG, "empty file");
	free(buf);
}

/* Random bytes behind a correct magic, version and state: the rest of the header
 * is garbage and must be refused. */
Test(attach, foreign_file_with_valid_magic)
{
	const char *name = new_name();
	unsigned char buf[SMALL_TOTAL];
	for (uint64_t seed = 100; seed < 132; seed++) {
		fill_random(buf, sizeof buf, seed);
		struct region_hdr *h = (void *)buf;
		h->magic = REGION_MAGIC;
		h->version_major = EVT_VERSION_MAJOR;
		h->version_minor = EVT_VERSION_MINOR;
		atomic_store(&h->state, REGION_STATE_READY);
		write_foreign(name, buf, sizeof buf);
		char what[64];
		snprintf(what, sizeof what, "random header, seed %llu", (unsigned long long)seed);
		expect_attach_fails(name, -EBADMSG, what);
	}
}

/* ---- permissions: as another user ---- */

enum { CHILD_SLOTS = 8, CHILD_UNSET = 0x7eadbeef };
struct child_report {
	int rc[CHILD_SLOTS];
	uint64_t v[CHILD_SLOTS];
};

typedef void child_fn(const char *name, struct child_report *r);

/* Run fn(name) in a child that dropped root to nobody; its results come back
 * through a MAP_SHARED page.  The child never returns into Criterion. */
static struct child_report *as_nobody(child_fn *fn, const char *name)
{
	if (geteuid() != 0)
		cr_skip_test("needs root to drop to another user");
	struct child_report *r = mmap(NULL, sizeof *r, PROT_READ | PROT_WRITE,
	                              MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	cr_assert_neq(r, MAP_FAILED);
	for (int i = 0; i < CHILD_SLOTS; i++) {
		r->rc[i] = CHILD_UNSET;
		r->v[i] = CHILD_UNSET;
	}
	fflush(NULL);
	pid_t pid = fork();
	cr_assert_geq(pid, 0, "fork: %s", strerror(errno));
	if (pid == 0) {
		if (setgroups(0, NULL) < 0 || setgid(65534) < 0 || setuid(65534) < 0)
			_exit(100);
		if (geteuid() == 0 || getegid() == 0)
			_exit(101);
		fn(name, r);
		_exit(0);
	}
	int status = 0;
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	          "child failed: status %#x (100: could not drop privileges)", status);
	return r;
}

/* rc[0] read-only attach, rc[1] read-write attach; with a read-only handle:
 * v[0] window, v[1] key count, rc[2] a decision, rc[3] a window change. */
static void try_attach(const char *name, struct child_report *r)
{
	evt_throttle *t = NULL;
	r->rc[0] = evt_attach(name, EVT_RDONLY, &t);
	if (r->rc[0] == 0) {
		r->v[0] = evt_get_window(t);
		r->v[1] = evt_key_count(t);
		r->rc[2] = evt_should_process(t, 1ull << 40, NULL, "x", 1);
		r->rc[3] = evt_update_window(t, 7);
		evt_close(t);
	}
	t = NULL;
	r->rc[1] = evt_attach(name, 0, &t);
	if (r->rc[1] == 0)
		evt_close(t);
}

static void try_unlink(const char *name, struct child_report *r)
{
	r->rc[0] = evt_unlink(name);
}

/* Create a region owned by root with mode, a key in it, and keep it open. */
static evt_throttle *make_owned(const char *name, uint32_t mode)
{
	evt_options o = small_opts();
	o.mode = mode;
	evt_throttle *t = test_create(name, &o);
	cr_assert_eq(decide(t, 10, "k"), 1);
	return t;
}

static void expect_untouched(const char *name, evt_throttle *t, struct snap before)
{
	struct snap after = snapshot(name);
	cr_expect(snap_equal(before, after), "the other user's attempts changed the region");
	cr_expect_eq(evt_key_count(t), 1);
	cr_expect_eq(evt_get_window(t), 1000);
	cr_expect_eq(stats(t).clients, 1, "a refused attach took a client slot");
	free(after.p);
}

Test(attach, perm_0600_other_user_denied)
{
	const char *name = new_name();
	evt_throttle *t = make_owned(name, 0600);
	struct snap before = snapshot(name);
	struct child_report *r = as_nobody(try_attach, name);
	cr_expect_eq(r->rc[0], -EACCES, "read-only attach of 0600 as nobody: %d (%s)", r->rc[0],
	             evt_strerror(r->rc[0]));
	cr_expect_eq(r->rc[1], -EACCES, "read-write attach of 0600 as nobody: %d (%s)", r->rc[1],
	             evt_strerror(r->rc[1]));
	expect_untouched(name, t, before);
	evt_close(t);
	free(before.p);
}

Test(attach, perm_0644_other_user_read_only)
{
	const char *name = new_name();
	evt_throttle *t = make_owned(name, 0644);
	struct snap before = snapshot(name);
	struct child_report *r = as_nobody(try_attach, name);
	cr_expect_eq(r->rc[0], 0, "read-only attach of 0644 as nobody: %d (%s)", r->rc[0],
	             evt_strerror(r->rc[0]));
	cr_expect_eq(r->v[0], 1000, "the read-only handle's window");
	cr_expect_eq(r->v[1], 1, "the read-only handle's key count");
	cr_expect_eq(r->rc[2], -EROFS, "decision on the read-only handle: %d", r->rc[2]);
	cr_expect_eq(r->rc[3], -EROFS, "window change on the read-only handle: %d", r->rc[3]);
	cr_expect_eq(r->rc[1], -EACCES, "read-write attach of 0644 as nobody: %d (%s)", r->rc[1],
	             evt_strerror(r->rc[1]));
	expect_untouched(name, t, before);
	evt_close(t);
	free(before.p);
}

Test(attach, perm_read_only_modes)
{
	/* 0444 owned by root: nobody may read, not write. */
	const char *name = new_name();
	evt_throttle *t = make_owned(name, 0444);
	struct snap before = snapshot(name);
	struct child_report *r = as_nobody(try_attach, name);
	cr_expect_eq(r->rc[0], 0, "read-only attach of 0444: %d (%s)", r->rc[0],
	             evt_strerror(r->rc[0]));
	cr_expect_eq(r->rc[1], -EACCES, "read-write attach of 0444: %d (%s)", r->rc[1],
	             evt_strerror(r->rc[1]));
	expect_untouched(name, t, before);
	evt_close(t);
	free(before.p);

	/* 0400 owned by nobody: the owner may read, not write. */
	name = new_name();
	t = make_owned(name, 0400);
	char path[512];
	shm_file(path, sizeof path, name);
	cr_assert_eq(chown(path, 65534, 65534), 0, "chown: %s", strerror(errno));
	before = snapshot(name);
	r = as_nobody(try_attach, name);
	cr_expect_eq(r->rc[0], 0, "read-only attach of 0400 by its owner: %d (%s)", r->rc[0],
	             evt_strerror(r->rc[0]));
	cr_expect_eq(r->rc[1], -EACCES, "read-write attach of 0400 by its owner: %d (%s)",
	             r->rc[1], evt_strerror(r->rc[1]));
	expect_untouched(name, t, before);
	evt_close(t);
	free(before.p);

	/* 0400 owned by root: nobody gets nothing. */
	name = new_name();
	t = make_owned(name, 0400);
	before = snapshot(name);
	r = as_nobody(try_attach, name);
	cr_expect_eq(r->rc[0], -EACCES, "read-only attach of root's 0400: %d", r->rc[0]);
	cr_expect_eq(r->rc[1], -EACCES, "read-write attach of root's 0400: %d", r->rc[1]);
	expect_untouched(name, t, before);
	evt_close(t);
	free(before.p);
}

/* evt_unlink documents -EACCES for a caller without permission; /dev/shm is
 * sticky, so another user may not remove root's object. */
Test(attach, unlink_other_users_region_denied)
{
	const char *name = new_name();
	evt_throttle *t = make_owned(name, 0666);
	struct child_report *r = as_nobody(try_unlink, name);
	cr_expect(region_exists(name), "another user removed root's region");
	cr_expect_eq(r->rc[0], -EACCES, "evt_unlink of root's region as nobody: %d (%s)",
	             r->rc[0], evt_strerror(r->rc[0]));
	evt_close(t);
}

/* ---- read-only handles ---- */

Test(attach, read_only_handle_refuses_changes)
{
	const char *name = new_name();
	evt_options o = small_opts();
	evt_throttle *t = test_create(name, &o);
	cr_assert_eq(decide(t, 100, "a"), 1);
	cr_assert_eq(decide(t, 100, "b"), 1);
	evt_throttle *r = NULL;
	cr_assert_eq(evt_attach(name, EVT_RDONLY, &r), 0);
	struct snap before = snapshot(name);
	evt_stats s0 = stats(t);

	unsigned info = 0xdead;
	cr_expect_eq(evt_should_process(r, 5000, NULL, "a", 1), -EROFS);
	cr_expect_eq(evt_should_process(r, 5000, "ev-1", "c", 1), -EROFS);
	cr_expect_eq(evt_should_process_ex(r, 5000, NULL, "c", 1, &info), -EROFS);
	cr_expect_eq(evt_should_process_ex(r, 5000, NULL, "c", 1, NULL), -EROFS);
	cr_expect_eq(evt_update_window(r, 5), -EROFS);
	cr_expect_eq(evt_clear(r), -EROFS);
	cr_expect_eq(evt_clear_key(r, "a", 1), -EROFS);
	cr_expect_eq(evt_clear_key(r, "zz", 2), -EROFS);
	cr_expect_eq(evt_prefetch(r, "a", 1), -EROFS);
	evt_key ek;
	cr_expect_eq(evt_prefetch_key(r, "a", 1, &ek), -EROFS);
	cr_assert_eq(evt_prefetch_key(t, "a", 1, &ek), 0);
	cr_expect_eq(evt_should_process_key(r, 5000, &ek, NULL), -EROFS);
	cr_expect_eq(evt_update_limit(r, 2), -EROFS);
	cr_expect_eq(evt_set_shadow(r, 1), -EROFS);
	/* A peek may be made on a read-only handle: it answers and writes nothing
	 * (not even the peeks counter). */
	cr_expect_eq(evt_peek(r, 100, "a", 1), 0);
	cr_expect_eq(evt_peek(r, 5000, "c", 1), 1);

	struct snap after = snapshot(name);
	cr_expect(snap_equal(before, after), "calls on a read-only handle changed the region");
	evt_stats s1 = stats(t);
	cr_expect_eq(s1.keys, 2);
	cr_expect_eq(s1.processed, s0.processed);
	cr_expect_eq(s1.throttled, s0.throttled);
	cr_expect_eq(s1.cleared, 0);
	cr_expect_eq(evt_get_window(t), 1000);
	/* "a" was neither cleared nor re-processed: still throttled at 1099. */
	cr_expect_eq(decide(t, 1099, "a"), 0);
	cr_expect_eq(decide(t, 1099, "c"), 1);
	evt_close(r);
	evt_close(t);
	free(before.p);
	free(after.p);
}

Test(attach, read_only_handle_reads)
{
	const char *name = new_name();
	evt_options o = small_opts();
	o.client_max = 3;
	evt_throttle *t = test_create(name, &o);
	cr_assert_eq(decide(t, 100, "a"), 1);
	cr_assert_eq(decide(t, 100, "b"), 1);
	cr_assert_eq(decide(t, 200, "a"), 0);
	evt_throttle *r = NULL;
	cr_assert_eq(evt_attach(name, EVT_RDONLY, &r), 0);

	cr_expect_eq(evt_get_window(r), 1000);
	cr_expect_eq(evt_key_count(r), 2);
	evt_stats s = stats(r);
	cr_expect_eq(s.window_ns, 1000);
	cr_expect_eq(s.processed, 2);
	cr_expect_eq(s.throttled, 1);
	cr_expect_eq(s.new_keys, 2);
	cr_expect_eq(s.keys, 2);
	cr_expect_eq(s.capacity, 64);
	cr_expect_eq(s.key_max, 32);
	cr_expect_eq(s.client_max, 3);
	cr_expect_eq(s.on_full, EVT_ON_FULL_THROTTLE);
	cr_expect_eq(s.clients, 1, "the read-only handle counted as a client");

	/* It follows later changes. */
	cr_assert_eq(evt_update_window(t, 2000), 0);
	cr_assert_eq(decide(t, 300, "c"), 1);
	cr_expect_eq(evt_get_window(r), 2000);
	cr_expect_eq(evt_key_count(r), 3);
	cr_expect_eq(stats(r).processed, 3);
	cr_assert_eq(evt_clear(t), 3);
	cr_expect_eq(evt_key_count(r), 0);
	cr_expect_eq(stats(r).cleared, 3);
	evt_close(r);
	evt_close(t);
}

/* ---- keys ---- */

Test(attach, bad_keys)
{
	const char *name = new_name();
	evt_options o = small_opts();
	evt_throttle *t = test_create(name, &o);
	cr_assert_eq(decide(t, 100, "a"), 1);
	struct snap before = snapshot(name);
	evt_stats s0 = stats(t);

	char big[64];
	memset(big, 'k', sizeof big);
	unsigned info = 0;
	cr_expect_eq(evt_should_process(t, 5000, NULL, NULL, 0), -EINVAL);
	cr_expect_eq(evt_should_process(t, 5000, NULL, NULL, 5), -EINVAL);
	cr_expect_eq(evt_should_process(t, 5000, NULL, "a", 0), -EINVAL);
	cr_expect_eq(evt_should_process_ex(t, 5000, NULL, NULL, 1, &info), -EINVAL);
	cr_expect_eq(evt_should_process_ex(t, 5000, NULL, "a", 0, &info), -EINVAL);
	cr_expect_eq(evt_should_process(t, 5000, NULL, big, 33), -EMSGSIZE);
	cr_expect_eq(evt_should_process(t, 5000, NULL, big, 64), -EMSGSIZE);
	cr_expect_eq(evt_should_process_ex(t, 5000, NULL, big, 33, &info), -EMSGSIZE);
	/* Lengths that would wrap if narrowed to 32 bits. */
	cr_expect_eq(evt_should_process(t, 5000, NULL, big, (size_t)1 << 32), -EMSGSIZE);
	cr_expect_eq(evt_should_process(t, 5000, NULL, big, ((size_t)1 << 32) + 1), -EMSGSIZE);
	cr_expect_eq(evt_should_process(t, 5000, NULL, big, SIZE_MAX), -EMSGSIZE);
	cr_expect_eq(evt_clear_key(t, NULL, 1), -EINVAL);
	cr_expect_eq(evt_clear_key(t, "a", 0), -EINVAL);
	cr_expect_eq(evt_clear_key(t, big, 33), -EMSGSIZE);
	cr_expect_eq(evt_clear_key(t, big, ((size_t)1 << 32) + 1), -EMSGSIZE);
	cr_expect_eq(evt_clear_key(t, big, SIZE_MAX), -EMSGSIZE);
	cr_expect_eq(evt_prefetch(t, NULL, 1), -EINVAL);
	cr_expect_eq(evt_prefetch(t, "a", 0), -EINVAL);
	cr_expect_eq(evt_prefetch(t, big, 33), -EMSGSIZE);
	cr_expect_eq(evt_prefetch(t, big, ((size_t)1 << 32) + 1), -EMSGSIZE);
	cr_expect_eq(evt_prefetch(t, big, SIZE_MAX), -EMSGSIZE);
	evt_key ek = { .key = big, .key_len = 33, .hash = 1, .seed = 2 };
	cr_expect_eq(evt_prefetch_key(t, big, 33, &ek), -EMSGSIZE);
	cr_expect_eq(evt_prefetch_key(t, NULL, 1, &ek), -EINVAL);
	cr_expect_eq(evt_prefetch_key(t, "a", 1, NULL), -EINVAL);
	cr_expect(ek.key == big && ek.key_len == 33 && ek.hash == 1 && ek.seed == 2,
	          "a refused prefetch left *out as it was");
	cr_expect_eq(evt_should_process_key(t, 5000, NULL, NULL), -EINVAL);
	cr_expect_eq(evt_should_process_key(t, 5000, &ek, NULL), -EMSGSIZE);
	ek.key_len = 0;
	cr_expect_eq(evt_should_process_key(t, 5000, &ek, NULL), -EINVAL);

	struct snap after = snapshot(name);
	cr_expect(snap_equal(before, after), "refused keys changed the region");
	evt_stats s1 = stats(t);
	cr_expect_eq(s1.keys, 1);
	cr_expect_eq(s1.processed, s0.processed);
	cr_expect_eq(s1.throttled, s0.throttled);
	cr_expect_eq(s1.cleared, 0);
	cr_expect_eq(decide(t, 1099, "a"), 0, "a refused call reset key \"a\"");
	evt_close(t);
	free(before.p);
	free(after.p);
}

Test(attach, key_max_boundary)
{
	static const uint32_t key_maxes[] = { 1, 8, 32, 33, 96, 1024 };
	unsigned char key[1025];
	for (size_t i = 0; i < sizeof key_maxes / sizeof key_maxes[0]; i++) {
		const uint32_t km = key_maxes[i];
		const char *name = new_name();
		evt_options o = small_opts();
		o.key_max = km;
		evt_throttle *t = test_create(name, &o);
		fill_random(key, sizeof key, km);
		cr_expect_eq(evt_should_process(t, 10, NULL, key, km), 1, "key_max %u", km);
		cr_expect_eq(evt_should_process(t, 11, NULL, key, km), 0, "key_max %u", km);
		cr_expect_eq(evt_should_process(t, 12, NULL, key, km + 1), -EMSGSIZE,
		             "key_max %u", km);
		cr_expect_eq(evt_clear_key(t, key, km + 1), -EMSGSIZE, "key_max %u", km);
		cr_expect_eq(evt_prefetch(t, key, km), 0, "key_max %u", km);
		cr_expect_eq(evt_prefetch(t, key, km + 1), -EMSGSIZE, "key_max %u", km);
		cr_expect_eq(evt_key_count(t), 1, "key_max %u", km);
		/* A one-byte key next to it. */
		cr_expect_eq(evt_should_process(t, 13, NULL, key, 1), km == 1 ? 0 : 1,
		             "key_max %u", km);
		cr_expect_eq(evt_clear_key(t, key, km), 1, "key_max %u", km);
		cr_expect_eq(evt_should_process(t, 14, NULL, key, km), 1, "key_max %u", km);
		evt_close(t);
		evt_unlink(name);
	}
}

Test(attach, distinct_keys)
{
	const char *name = new_name();
	evt_options o = small_opts();
	o.capacity = 1024;
	evt_throttle *t = test_create(name, &o);

	struct k {
		const void *p;
		size_t n;
	};
	unsigned char full[32], last[32], first[32], high[32];
	fill_random(full, sizeof full, 3);
	memcpy(last, full, 32);
	last[31] ^= 1;
	memcpy(first, full, 32);
	first[0] ^= 0x80;
	for (int i = 0; i < 32; i++)
		high[i] = (unsigned char)(0x80 + i);
	const struct k keys[] = {
		{ full, 32 }, { last, 32 }, { first, 32 }, { full, 31 }, { full, 24 },
		{ high, 32 }, { high, 9 },
		{ "a", 1 }, { "a\0", 2 }, { "a\0\0", 3 }, { "\0", 1 }, { "\0\0", 2 },
		{ "\0a", 2 }, { "a\0b", 3 }, { "a\0c", 3 }, { "b\0a", 3 },
		{ "12345678", 8 }, { "12345678\0", 9 }, { "1234567\0", 8 }, { "12345679", 8 },
		{ "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 16 }, { "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 15 },
	};
	const size_t nk = sizeof keys / sizeof keys[0];
	for (size_t i = 0; i < nk; i++)
		cr_expect_eq(evt_should_process(t, 100, NULL, keys[i].p, keys[i].n), 1,
		             "key %zu (%zu bytes) was taken for an earlier one", i, keys[i].n);
	/* Every single byte value is its own key. */
	for (int b = 0; b < 256; b++) {
		unsigned char c = (unsigned char)b;
		cr_expect_eq(evt_should_process(t, 100, NULL, &c, 1), b == 'a' || b == 0 ? 0 : 1,
		             "one-byte key %#x", b);
	}
	cr_expect_eq(evt_key_count(t), nk + 254);
	for (size_t i = 0; i < nk; i++)
		cr_expect_eq(evt_should_process(t, 200, NULL, keys[i].p, keys[i].n), 0,
		             "key %zu forgot its last event", i);

	/* Removing one leaves its neighbours. */
	cr_expect_eq(evt_clear_key(t, "a\0", 2), 1);
	cr_expect_eq(evt_clear_key(t, "a\0", 2), 0);
	cr_expect_eq(evt_should_process(t, 300, NULL, "a\0", 2), 1);
	cr_expect_eq(evt_should_process(t, 300, NULL, "a", 1), 0);
	cr_expect_eq(evt_should_process(t, 300, NULL, "a\0\0", 3), 0);
	cr_expect_eq(evt_clear_key(t, last, 32), 1);
	cr_expect_eq(evt_should_process(t, 300, NULL, full, 32), 0);
	cr_expect_eq(evt_should_process(t, 300, NULL, last, 32), 1);
	/* event_id takes no part in the decision. */
	cr_expect_eq(evt_should_process(t, 400, "id-1", "a", 1), 0);
	cr_expect_eq(evt_should_process(t, 400, "id-2", "fresh", 5), 1);
	cr_expect_eq(evt_should_process(t, 400, "id-3", "fresh", 5), 0);
	evt_close(t);
}

/* ---- window, NULL handles, messages ---- */

Test(attach, window_zero_refused)
{
	const char *name = new_name();
	evt_options o = small_opts();
	evt_throttle *t = test_create(name, &o);
	evt_throttle *a = NULL;
	cr_assert_eq(evt_attach(name, 0, &a), 0);
	cr_assert_eq(decide(t, 0, "k"), 1);
	struct snap before = snapshot(name);

	cr_expect_eq(evt_update_window(t, 0), -EINVAL);
	cr_expect_eq(evt_update_window(a, 0), -EINVAL);

	struct snap after = snapshot(name);
	cr_expect(snap_equal(before, after), "a refused window change changed the region");
	cr_expect_eq(evt_get_window(t), 1000);
	cr_expect_eq(evt_get_window(a), 1000);
	cr_expect_eq(stats(a).window_ns, 1000);
	cr_expect_eq(decide(a, 999, "k"), 0);
	cr_expect_eq(decide(a, 1000, "k"), 1);
	/* The smallest window is fine. */
	cr_expect_eq(evt_update_window(t, 1), 0);
	cr_expect_eq(evt_get_window(a), 1);
	cr_expect_eq(decide(a, 1001, "k"), 1);
	evt_close(a);
	evt_close(t);
	free(before.p);
	free(after.p);
}

Test(attach, null_handle)
{
	evt_stats s;
	unsigned info = 0;
	cr_expect_eq(evt_should_process(NULL, 1, NULL, "k", 1), -EINVAL);
	cr_expect_eq(evt_should_process(NULL, 1, "id", "k", 1), -EINVAL);
	cr_expect_eq(evt_should_process_ex(NULL, 1, NULL, "k", 1, &info), -EINVAL);
	cr_expect_eq(evt_should_process_ex(NULL, 1, NULL, "k", 1, NULL), -EINVAL);
	cr_expect_eq(evt_update_window(NULL, 5), -EINVAL);
	cr_expect_eq(evt_update_window(NULL, 0), -EINVAL);
	cr_expect_eq(evt_get_window(NULL), 0);
	cr_expect_eq(evt_clear(NULL), -EINVAL);
	cr_expect_eq(evt_clear_key(NULL, "k", 1), -EINVAL);
	cr_expect_eq(evt_prefetch(NULL, "k", 1), -EINVAL);
	cr_expect_eq(evt_key_count(NULL), 0);
	cr_expect_eq(evt_stats_get(NULL, &s), -EINVAL);
	cr_expect_eq(evt_stats_get(NULL, NULL), -EINVAL);

	const char *name = new_name();
	evt_options o = small_opts();
	evt_throttle *t = test_create(name, &o);
	cr_expect_eq(evt_stats_get(t, NULL), -EINVAL);
	/* evt_close(NULL) is a no-op: nothing else is affected. */
	evt_close(NULL);
	evt_close(NULL);
	cr_expect_eq(decide(t, 1, "k"), 1);
	cr_expect_eq(decide(t, 2, "k"), 0);
	cr_expect_eq(stats(t).clients, 1);
	evt_close(t);
}

Test(attach, strerror_messages)
{
	/* Every errno the header documents. */
	static const int documented[] = {
		EINVAL, EEXIST, EACCES, ENOSPC, ENOMEM, EMFILE, ENOENT, EBADMSG,
		EPROTONOSUPPORT, EAGAIN, EUSERS, EMSGSIZE, EROFS,
	};
	const size_t n = sizeof documented / sizeof documented[0];
	const char *unknown = evt_strerror(-123456);
	cr_assert_not_null(unknown);
	cr_expect_gt(strlen(unknown), 0);
	for (size_t i = 0; i < n; i++) {
		const char *neg = evt_strerror(-documented[i]);
		const char *pos = evt_strerror(documented[i]);
		cr_assert_not_null(neg, "errno %d", documented[i]);
		cr_assert_not_null(pos, "errno %d", documented[i]);
		cr_expect_gt(strlen(neg), 0, "errno %d", documented[i]);
		cr_expect_str_eq(neg, pos, "-%d and %d differ", documented[i], documented[i]);
		cr_expect_str_neq(neg, unknown, "errno %d has the unknown-error message",
		                  documented[i]);
		/* Each cause has its own message. */
		for (size_t j = 0; j < i; j++)
			cr_expect_str_neq(neg, evt_strerror(-documented[j]),
			                  "errno %d and %d share a message", documented[i],
			                  documented[j]);
	}
	static const int odd[] = { 0, 4095, 9999, -9999, 123456, INT_MAX, -INT_MAX, INT_MIN };
	for (size_t i = 0; i < sizeof odd / sizeof odd[0]; i++) {
		const char *m = evt_strerror(odd[i]);
		cr_assert_not_null(m, "evt_strerror(%d)", odd[i]);
		cr_expect_gt(strlen(m), 0, "evt_strerror(%d) is empty", odd[i]);
	}
}

/* ---- client slots ---- */

/* EVT_ADMIN: settings and clears with every slot taken; no decisions. */
Test(attach, admin_handles_take_no_slot)
{
	const char *name = new_name();
	evt_options o = small_opts();
	o.client_max = 1;
	evt_throttle *t = test_create(name, &o), *a = NULL, *b = NULL;
	cr_assert_eq(decide(t, 10, "k"), 1);
	cr_assert_eq(evt_attach(name, EVT_ADMIN, &a), 0);
	cr_assert_eq(evt_attach(name, EVT_ADMIN, &b), 0, "as many as wanted");
	cr_expect_eq(stats(t).clients, 1);
	cr_expect_eq(decide(a, 20, "x"), -EPERM);
	cr_expect_eq(evt_prefetch(a, "x", 1), -EPERM);
	evt_event ev = { .ts_ns = 20, .key = "x", .key_len = 1 };
	cr_expect_eq(evt_should_process_batch(a, &ev, 1), -EPERM);
	cr_expect_eq(evt_update_window(a, 5), 0);
	cr_expect_eq(evt_get_window(t), 5);
	cr_expect_eq(evt_clear_key(b, "k", 1), 1);
	cr_expect_eq(decide(t, 11, "k"), 1, "forgotten");
	cr_expect_eq(evt_clear(a), 1);
	evt_stats st = stats(t);
	cr_expect_eq(st.cleared, 2);
	cr_expect_eq(st.keys, 0);
	evt_close(a);
	evt_close(b);
	cr_expect_eq(stats(t).clients, 1, "closing an admin handle frees nobody's slot");
	evt_close(t);
}

Test(attach, client_slots)
{
	const char *name = new_name();
	evt_options o = small_opts();
	o.client_max = 2;
	evt_throttle *t = test_create(name, &o);
	evt_throttle *a = NULL, *b = NULL;
	cr_assert_eq(evt_attach(name, 0, &a), 0);
	cr_assert_eq(decide(a, 10, "k"), 1);
	cr_expect_eq(stats(t).clients, 2);

	struct snap before = snapshot(name);
	cr_expect_eq(evt_attach(name, 0, &b), -EUSERS);
	cr_expect_null(b);
	cr_expect_eq(evt_attach(name, 0, &b), -EUSERS);
	struct snap after = snapshot(name);
	cr_expect(snap_equal(before, after), "a refused attach changed the region");
	free(before.p);
	free(after.p);

	/* Read-only handles take no slot: more of them than client_max. */
	evt_throttle *ro[4] = { NULL };
	for (int i = 0; i < 4; i++) {
		cr_expect_eq(evt_attach(name, EVT_RDONLY, &ro[i]), 0, "read-only attach %d", i);
		cr_expect_eq(evt_key_count(ro[i]), 1);
	}
	cr_expect_eq(stats(t).clients, 2);
	cr_expect_eq(stats(t).client_max, 2);
	cr_expect_eq(evt_attach(name, 0, &b), -EUSERS, "read-only handles freed a slot");

	/* Closing a read-write handle frees its slot. */
	evt_close(a);
	cr_expect_eq(stats(t).clients, 1);
	cr_expect_eq(evt_attach(name, 0, &b), 0);
	cr_expect_eq(decide(b, 11, "k"), 0, "the new handle shares the state");
	cr_expect_eq(stats(t).clients, 2);
	evt_throttle *c = NULL;
	cr_expect_eq(evt_attach(name, 0, &c), -EUSERS);

	/* Closing read-only handles frees nothing. */
	for (int i = 0; i < 4; i++)
		evt_close(ro[i]);
	cr_expect_eq(stats(t).clients, 2);
	cr_expect_eq(evt_attach(name, 0, &c), -EUSERS);
	evt_close(b);
	evt_close(t);
	/* With every handle closed, both slots are free again. */
	cr_expect_eq(evt_attach(name, 0, &a), 0);
	cr_expect_eq(evt_attach(name, 0, &b), 0);
	cr_expect_eq(stats(a).clients, 2);
	cr_expect_eq(evt_key_count(a), 1);
	evt_close(a);
	evt_close(b);
}

Test(attach, single_client_slot)
{
	const char *name = new_name();
	evt_options o = small_opts();
	o.client_max = 1;
	evt_throttle *t = test_create(name, &o);
	evt_throttle *a = NULL;
	cr_expect_eq(evt_attach(name, 0, &a), -EUSERS);
	cr_expect_eq(evt_attach(name, EVT_RDONLY, &a), 0);
	evt_close(a);
	evt_close(t);
	a = NULL;
	cr_expect_eq(evt_attach(name, 0, &a), 0);
	evt_close(a);
}

/* "A read-write handle takes one of the region's client slots until evt_close()
 * or process death." */
Test(attach, dead_client_slot_is_freed)
{
	const char *name = new_name();
	evt_options o = small_opts();
	o.client_max = 2;
	evt_throttle *t = test_create(name, &o);
	fflush(NULL);
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		evt_throttle *c = NULL;
		if (evt_attach(name, 0, &c) != 0)
			_exit(1);
		if (evt_should_process(c, 10, NULL, "k", 1) != 1)
			_exit(2);
		_exit(0); /* dies holding its slot */
	}
	int status = 0;
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status %#x", status);
	cr_expect_eq(stats(t).clients, 2, "the dead child's slot is still marked live");
	cr_expect_eq(evt_key_count(t), 1);

	evt_throttle *a = NULL;
	cr_expect_eq(evt_attach(name, 0, &a), 0, "the dead child's slot was not freed");
	cr_expect_eq(stats(t).clients, 2);
	cr_expect_eq(decide(a, 11, "k"), 0, "the dead child's key is kept");
	evt_close(a);
	evt_close(t);
}

/* ---- unlink ---- */

Test(attach, unlink_keeps_open_handles)
{
	const char *name = new_name();
	evt_options o = small_opts();
	evt_throttle *t = test_create(name, &o);
	evt_throttle *a = NULL;
	cr_assert_eq(evt_attach(name, 0, &a), 0);
	cr_assert_eq(decide(t, 100, "a"), 1);

	cr_expect_eq(evt_unlink(name), 0);
	cr_expect(!region_exists(name));
	evt_throttle *x = NULL;
	cr_expect_eq(evt_attach(name, 0, &x), -ENOENT);
	cr_expect_eq(evt_attach(name, EVT_RDONLY, &x), -ENOENT);
	cr_expect_null(x);
	cr_expect_eq(evt_unlink(name), -ENOENT);

	/* The open handles keep working, on one shared state. */
	cr_expect_eq(decide(a, 500, "a"), 0);
	cr_expect_eq(decide(t, 100, "b"), 1);
	cr_expect_eq(evt_key_count(a), 2);
	cr_expect_eq(evt_update_window(a, 50), 0);
	cr_expect_eq(evt_get_window(t), 50);
	cr_expect_eq(decide(t, 500, "a"), 1);
	cr_expect_eq(evt_clear_key(a, "b", 1), 1);
	cr_expect_eq(evt_key_count(t), 1);

	/* A new region under the name is a different one. */
	evt_throttle *n = test_create(name, &o);
	cr_expect_eq(evt_key_count(n), 0);
	cr_expect_eq(evt_get_window(n), 1000);
	cr_expect_eq(decide(n, 500, "a"), 1);
	cr_expect_eq(decide(t, 510, "a"), 0);
	cr_expect_eq(evt_key_count(t), 1);
	evt_close(n);
	evt_close(a);
	evt_close(t);
}
