/* Creating, opening and validating a region (the shm object and its header). */
#include "region.h"
#include "global.h"
#include "hidden.h"
#include "keyhash.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define ALIGN_UP(x, a) (((x) + (a) - 1) / (a) * (a))

/* -errno of the call that just failed (never 0, so a failure is never success). */
static int neg_errno(void)
{
	return errno != 0 ? -errno : -EIO;
}

static uint32_t round_pow2(uint32_t v)
{
	uint32_t p = REGION_CAP_MIN;
	while (p < v)
		p <<= 1;
	return p;
}

int region_geometry(const evt_options *o, struct region_geom *g)
{
	if (o->window_ns == 0 || o->capacity == 0 || o->capacity > REGION_CAP_MAX ||
	    o->key_max == 0 || o->key_max > REGION_KEY_MAX || o->client_max == 0 ||
	    o->client_max > REGION_CLIENT_MAX || o->on_full > EVT_ON_FULL_ERROR ||
	    o->on_stale > EVT_ON_STALE_ERROR || o->client_idle_ns == 0 || o->limit == 0 ||
	    o->limit > EVT_LIMIT_MAX || o->shadow > 1 || o->huge_pages > 1 ||
	    (o->mode & ~07777u) != 0)
		return -EINVAL;
	g->capacity = round_pow2(o->capacity);
	g->key_max = o->key_max;
	g->slot_size = ALIGN_UP(sizeof(struct region_slot) + ALIGN_UP(o->key_max, 8), 64);
	g->client_max = o->client_max;
	g->clients_offset = sizeof(struct region_hdr);
	g->table_offset = ALIGN_UP(g->clients_offset +
	                               (uint64_t)g->client_max * sizeof(struct region_client),
	                           4096);
	g->bounds_offset = g->table_offset + (uint64_t)g->capacity * g->slot_size;
	g->global_offset = g->bounds_offset + (uint64_t)(g->capacity >> REGION_BOUND_SHIFT) * 8;
	g->total_size = g->global_offset + sizeof(struct region_global);
	return 0;
}

static bool name_ok(const char *name)
{
	size_t n = strlen(name);
	if (n == 0 || n > EVT_NAME_MAX || name[0] == '.')
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.'))
			return false;
	}
	return true;
}

int region_name_path(const char *name, char *path, size_t size)
{
	if (name == NULL || !name_ok(name))
		return -EINVAL;
	int n = snprintf(path, size, "/evthrottle.%s", name);
	return n > 0 && (size_t)n < size ? 0 : -EINVAL;
}

uint64_t region_unix_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void init_header(void *base, const char *name, const evt_options *o,
                        const struct region_geom *g)
{
	struct region_hdr *h = base;
	uint64_t seed = 0;
	if (getrandom(&seed, sizeof seed, GRND_NONBLOCK) != sizeof seed)
		seed = region_unix_now_ns() ^ ((uint64_t)getpid() << 32);

	/* The mapping is fresh zeroes: slots start EMPTY with an empty hop word,
	 * clients FREE.  Only the header needs writing. */
	h->magic = REGION_MAGIC;
	h->version_major = EVT_VERSION_MAJOR;
	h->version_minor = EVT_VERSION_MINOR;
	h->header_size = sizeof(struct region_hdr);
	h->total_size = g->total_size;
	h->capacity = g->capacity;
	h->key_max = g->key_max;
	h->slot_size = g->slot_size;
	h->client_max = g->client_max;
	h->client_size = sizeof(struct region_client);
	h->nbhd = REGION_NBHD;
	h->clients_offset = g->clients_offset;
	h->table_offset = g->table_offset;
	h->hash_seed = seed;
	h->on_full = o->on_full;
	h->on_stale = o->on_stale;
	h->bounds_offset = g->bounds_offset;
	h->global_offset = g->global_offset;
	if (o->global != NULL) {
		struct region_global *b = (void *)((unsigned char *)base + g->global_offset);
		global_init(b, o->global, name);
		global_resolve_now(b); /* a host name: its address, before anyone decides */
	}
	h->created_unix_ns = region_unix_now_ns();
	h->mode = o->mode;
	h->flags = o->huge_pages ? REGION_FLAG_HUGE : 0;
	atomic_store_explicit(&h->window_ns, o->window_ns, memory_order_relaxed);
	atomic_store_explicit(&h->client_idle_ns, o->client_idle_ns, memory_order_relaxed);
	atomic_store_explicit(&h->policy, POLICY_MAKE(o->limit, o->shadow), memory_order_relaxed);
	/* Pairs with the acquire load of state in region_validate(): whoever sees
	 * READY sees every field above. */
	atomic_store_explicit(&h->state, REGION_STATE_READY, memory_order_release);
}

/* A region made with huge pages (evt_options.huge_pages, REGION_FLAG_HUGE): advised
 * before any page is touched, so that the faults that populate it take huge pages
 * where the mount (or, anonymous, shmem_enabled) says "advise"; then populated like
 * MAP_POPULATE, which would have touched them before the advice.  The populate
 * also reserves the space (as posix_fallocate() does for ordinary regions, which
 * would allocate small pages under "advise"): no room fails here. */
static int advise_huge(void *p, size_t size, bool readonly)
{
	if (madvise(p, size, MADV_HUGEPAGE) < 0)
		return errno == EINVAL ? -EOPNOTSUPP : neg_errno();
	if (!readonly && madvise(p, size, MADV_POPULATE_WRITE) < 0)
		return errno == EFAULT ? -ENOSPC : neg_errno();
	return 0;
}

/* A read-write mapping is populated at once (MAP_POPULATE): its page-table entries
 * are made here, at attach, not by first-touch faults in decisions on the hot path
 * (hundreds of ns to µs each).  A read-only tool's mapping is left lazy.  fd -1:
 * anonymous shared memory (a private throttle). */
static int map_fd(int fd, size_t size, bool readonly, bool huge, void **base)
{
	int prot = readonly ? PROT_READ : PROT_READ | PROT_WRITE;
	int flags = MAP_SHARED | (fd < 0 ? MAP_ANONYMOUS : 0) | (readonly || huge ? 0 : MAP_POPULATE);
	void *p = mmap(NULL, size, prot, flags, fd, 0);
	if (p == MAP_FAILED)
		return neg_errno();
	int rc = huge ? advise_huge(p, size, readonly) : 0;
	if (rc < 0) {
		munmap(p, size);
		return rc;
	}
	*base = p;
	return 0;
}

/* Whether any of the mapping that starts at p is mapped with huge pages, as
 * /proc/self/smaps says (ShmemPmdMapped: shared memory, /dev/shm included). */
static bool huge_mapped(const void *p)
{
	FILE *f = fopen("/proc/self/smaps", "re");
	if (f == NULL)
		return false;
	char line[512];
	bool in = false, huge = false;
	while (!huge && fgets(line, sizeof line, f) != NULL) {
		unsigned long lo, hi, kb;
		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2)
			in = lo == (unsigned long)p;
		else if (in && sscanf(line, "ShmemPmdMapped: %lu", &kb) == 1)
			huge = kb > 0;
	}
	fclose(f);
	return huge;
}

/* Map a new region's memory (fd -1: anonymous) and write its header; with huge
 * pages asked for, -EOPNOTSUPP unless some of it is mapped with them. */
static int map_new(int fd, const char *name, const evt_options *o, const struct region_geom *g,
                   void **base)
{
	int rc = map_fd(fd, g->total_size, false, o->huge_pages, base);
	if (rc == 0 && o->huge_pages && !huge_mapped(*base)) {
		munmap(*base, g->total_size);
		rc = -EOPNOTSUPP;
	}
	if (rc == 0)
		init_header(*base, name, o, g);
	return rc;
}

/* Size, reserve and map a new object, and write its header. */
static int fill(int fd, const char *name, const evt_options *o, const struct region_geom *g,
                void **base)
{
	/* fchmod: the umask must not narrow the mode the operator asked for. */
	if (fchmod(fd, o->mode) < 0 || ftruncate(fd, (off_t)g->total_size) < 0)
		return neg_errno();
	/* Reserve the pages now so a full /dev/shm fails here, not with SIGBUS later
	 * (huge pages: advise_huge() does). */
	int e = o->huge_pages ? 0 : posix_fallocate(fd, 0, (off_t)g->total_size);
	if (e != 0)
		return -e;
	return map_new(fd, name, o, g, base);
}

/* Give the object made as tmp its name path, if that is free: one atomic step. */
static int publish(const char *tmp, const char *path)
{
	char from[sizeof SHM_DIR + EVT_NAME_MAX + 64], to[sizeof SHM_DIR + EVT_NAME_MAX + 32];
	snprintf(from, sizeof from, SHM_DIR "%s", tmp);
	snprintf(to, sizeof to, SHM_DIR "%s", path);
	return renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE) < 0 ? neg_errno() : 0;
}

/*
 * The object is made, sized, reserved and its header written (READY) under a
 * hidden name, then renamed to its own with RENAME_NOREPLACE: an attacher finds
 * either no object or a ready one, never a partial one, and of two creators one
 * gets -EEXIST.  A creator that dies before the rename leaves only a hidden object,
 * which evthrottled removes (hidden.h: the creator's lock tells it from one being
 * built).
 */
static int create_named(const char *name, const char *path, const evt_options *o,
                        const struct region_geom *g, void **base, int *fd_out)
{
	char to[sizeof SHM_DIR + EVT_NAME_MAX + 32];
	snprintf(to, sizeof to, SHM_DIR "%s", path);
	/* Fail early, before reserving the space; the rename decides. */
	if (access(to, F_OK) == 0)
		return -EEXIST;
	char tmp[EVT_NAME_MAX + 64];
	int fd = hidden_create(path, tmp, sizeof tmp);
	if (fd < 0)
		return fd;
	int rc = fill(fd, name, o, g, base);
	if (rc == 0) {
		rc = publish(tmp, path);
		if (rc < 0)
			munmap(*base, g->total_size);
	}
	if (rc < 0) {
		shm_unlink(tmp);
		close(fd);
		return rc;
	}
	hidden_done(fd);
	*fd_out = fd;
	return 0;
}

int region_create(const char *name, const evt_options *o, struct region *out)
{
	struct region_geom g;
	int rc = region_geometry(o, &g);
	if (rc == 0 && o->global != NULL) /* Redis's function applies limit 1 */
		rc = o->limit > 1 ? -EINVAL : global_check(o->global, name);
	if (rc < 0)
		return rc;
	void *base = NULL;
	int fd = -1;
	if (name == NULL) {
		rc = map_new(-1, NULL, o, &g, &base);
		if (rc < 0)
			return rc;
	} else {
		char path[EVT_NAME_MAX + 32];
		rc = region_name_path(name, path, sizeof path);
		if (rc == 0)
			rc = create_named(name, path, o, &g, &base, &fd);
		if (rc < 0)
			return rc;
	}
	rc = region_validate(base, g.total_size, false, out);
	out->fd = fd;
	return rc;
}

/* Open the object behind path without ever blocking or following a link: a FIFO
 * or a device squatting the name would block (or act) on open, a symbolic link
 * could point anywhere.  A link, a directory or a socket is "not a region"
 * (-EBADMSG), as is any other file that is not regular (checked on the fd). */
static int open_object(const char *path, bool readonly)
{
	int flags = (readonly ? O_RDONLY : O_RDWR) | O_NONBLOCK | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC;
	int fd = shm_open(path, flags, 0);
	if (fd >= 0)
		return fd;
	/* glibc reports a directory opened for writing as EINVAL (the name is valid). */
	bool squatted = errno == ELOOP || errno == EISDIR || errno == EINVAL || errno == ENXIO;
	return squatted ? -EBADMSG : neg_errno();
}

/* Whether the region in fd was made with huge pages: its header's flag, read before
 * mapping it (a short or foreign file says no; region_validate() refuses it). */
static bool made_huge(int fd)
{
	struct region_hdr h;
	return pread(fd, &h, sizeof h, 0) == (ssize_t)sizeof h && (h.flags & REGION_FLAG_HUGE);
}

int region_open(const char *name, bool readonly, struct region *out)
{
	char path[EVT_NAME_MAX + 32];
	int rc = region_name_path(name, path, sizeof path);
	if (rc < 0)
		return rc;
	int fd = open_object(path, readonly);
	if (fd < 0)
		return fd;
	struct stat st;
	void *base = NULL;
	if (fstat(fd, &st) < 0)
		rc = neg_errno();
	else if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size < sizeof(struct region_hdr))
		rc = -EBADMSG;
	else
		rc = map_fd(fd, (size_t)st.st_size, readonly, made_huge(fd), &base);
	if (rc == 0)
		rc = region_validate(base, (size_t)st.st_size, readonly, out);
	if (rc < 0) {
		if (base != NULL)
			munmap(base, (size_t)st.st_size);
		close(fd);
		return rc;
	}
	out->fd = fd;
	return 0;
}

/* Every field a reader relies on is checked against the mapping's size and
 * recomputed from the geometry, so no later index can leave the mapping. */
int region_validate(void *base, size_t size, bool readonly, struct region *out)
{
	const struct region_hdr *h = base;
	if (size < sizeof *h || h->magic != REGION_MAGIC)
		return -EBADMSG;
	if (h->version_major != EVT_VERSION_MAJOR)
		return -EPROTONOSUPPORT;
	/* Pairs with the release store in init_header().  Zero: still being made. */
	uint32_t state = atomic_load_explicit(&h->state, memory_order_acquire);
	if (state != REGION_STATE_READY)
		return state == 0 ? -EAGAIN : -EBADMSG;
	evt_options o = {
		.window_ns = 1, .capacity = h->capacity, .key_max = h->key_max,
		.mode = 0, .on_full = h->on_full, .client_max = h->client_max,
		.on_stale = h->on_stale, .client_idle_ns = 1, .limit = 1,
	};
	struct region_geom g;
	if (region_geometry(&o, &g) < 0 || g.capacity != h->capacity ||
	    h->header_size != sizeof *h || h->client_size != sizeof(struct region_client) ||
	    h->nbhd != REGION_NBHD || h->slot_size != g.slot_size ||
	    h->clients_offset != g.clients_offset || h->table_offset != g.table_offset ||
	    h->bounds_offset != g.bounds_offset || h->global_offset != g.global_offset ||
	    h->total_size != g.total_size ||
	    h->total_size != size)
		return -EBADMSG;
	*out = (struct region){
		.hdr = base,
		.table = (unsigned char *)base + g.table_offset,
		.clients = (struct region_client *)((unsigned char *)base + g.clients_offset),
		.bounds = (_Atomic uint64_t *)(void *)((unsigned char *)base + g.bounds_offset),
		.global = (struct region_global *)((unsigned char *)base + g.global_offset),
		.map_size = size,
		.seed = h->hash_seed,
		.mask = g.capacity - 1,
		.slot_size = g.slot_size,
		.key_max = g.key_max,
		.client_max = g.client_max,
		.on_full = h->on_full,
		.on_stale = h->on_stale,
		.readonly = readonly,
		.huge = h->flags & REGION_FLAG_HUGE,
		.fd = -1,
	};
	keyhash_flips(out->seed, out->flip);
	return 0;
}

void region_unmap(struct region *r)
{
	if (r->hdr != NULL)
		munmap(r->hdr, r->map_size);
	if (r->fd >= 0)
		close(r->fd);
	r->hdr = NULL;
	r->fd = -1;
}

int region_check_size(const struct region *r, uint64_t *size)
{
	struct stat st;
	*size = r->map_size;
	if (r->fd < 0)
		return 0;
	if (fstat(r->fd, &st) < 0)
		return neg_errno();
	*size = (uint64_t)st.st_size;
	return *size < r->map_size ? -EBADMSG : 0;
}
