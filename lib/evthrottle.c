/* The public API: argument checks and handles around region, table and clients. */
#include "evthrottle.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "clients.h"
#include "handle.h"
#include "keycount.h"

static int open_handle(struct region *r, evt_throttle **out)
{
	evt_throttle *t = malloc(sizeof *t);
	int rc = t == NULL ? -ENOMEM : 0;
	if (rc == 0) {
		*t = handle_make(r);
		if (!r->readonly) {
			clients_reap_dead(r, &t->me);
			rc = client_register(r, &t->me);
		}
	}
	if (rc < 0) {
		free(t);
		region_unmap(r);
		return rc;
	}
	*out = t;
	return 0;
}

int evt_create(const char *name, const evt_options *o, evt_throttle **out)
{
	static const evt_options defaults = EVT_OPTIONS_INIT;
	if (out == NULL)
		return -EINVAL;
	struct region r;
	int rc = region_create(name, o != NULL ? o : &defaults, &r);
	if (rc < 0)
		return rc;
	rc = open_handle(&r, out);
	if (rc < 0 && name != NULL)
		evt_unlink(name);
	return rc;
}

int evt_attach(const char *name, unsigned flags, evt_throttle **out)
{
	if (out == NULL || (flags & ~EVT_RDONLY) != 0)
		return -EINVAL;
	struct region r;
	int rc = region_open(name, flags & EVT_RDONLY, &r);
	return rc < 0 ? rc : open_handle(&r, out);
}

void evt_close(evt_throttle *t)
{
	if (t == NULL)
		return;
	if (t->me.entry != NULL)
		client_release(&t->r, &t->me);
	region_unmap(&t->r);
	free(t);
}

int evt_unlink(const char *name)
{
	char path[EVT_NAME_MAX + 32];
	int rc = region_name_path(name, path, sizeof path);
	if (rc < 0)
		return rc;
	return shm_unlink(path) < 0 ? -errno : 0;
}

/* The checks every call that changes state makes. */
static int writable(const evt_throttle *t)
{
	if (t == NULL)
		return -EINVAL;
	return t->r.readonly ? -EROFS : 0;
}

/* The checks of a decision, in one predictable branch on the hot path. */
static inline int decide_check(const evt_throttle *t, const void *key, size_t key_len)
{
	if (__builtin_expect(t != NULL && key != NULL && key_len - 1 < t->decide_len_max, 1))
		return 0;
	int rc = writable(t);
	return rc < 0 ? rc : table_key_check(&t->r, key, key_len);
}

static inline int decide(evt_throttle *t, uint64_t ts_ns, const void *key, size_t key_len,
                         unsigned *info)
{
	int rc = decide_check(t, key, key_len);
	if (rc < 0)
		return rc;
	return table_decide(&t->r, &t->me, ts_ns, key, (uint32_t)key_len, info);
}

int evt_should_process_ex(evt_throttle *t, uint64_t ts_ns, const char *event_id,
                          const void *key, size_t key_len, unsigned *info)
{
	(void)event_id;
	if (info != NULL)
		*info = 0;
	return decide(t, ts_ns, key, key_len, info);
}

int evt_should_process(evt_throttle *t, uint64_t ts_ns, const char *event_id,
                       const void *key, size_t key_len)
{
	(void)event_id;
	return decide(t, ts_ns, key, key_len, NULL);
}

int evt_prefetch(const evt_throttle *t, const void *key, size_t key_len)
{
	int rc = decide_check(t, key, key_len);
	if (rc == 0)
		table_prefetch(&t->r, key, (uint32_t)key_len);
	return rc;
}

int evt_should_process_batch(evt_throttle *t, evt_event *events, size_t n)
{
	int rc = writable(t);
	if (rc < 0)
		return rc;
	if ((events == NULL && n > 0) || n > INT_MAX)
		return -EINVAL;
	return (int)table_decide_batch(&t->r, &t->me, events, n);
}

int evt_update_window(evt_throttle *t, uint64_t window_ns)
{
	int rc = writable(t);
	if (rc < 0)
		return rc;
	if (window_ns == 0)
		return -EINVAL;
	/* Pairs with the acquire load in table_decide(). */
	atomic_store_explicit(&t->r.hdr->window_ns, window_ns, memory_order_release);
	return 0;
}

uint64_t evt_get_window(const evt_throttle *t)
{
	return t == NULL ? 0 : atomic_load_explicit(&t->r.hdr->window_ns, memory_order_acquire);
}

int evt_clear(evt_throttle *t)
{
	int rc = writable(t);
	if (rc < 0)
		return rc;
	uint64_t n = table_clear(&t->r, &t->me);
	return n > INT_MAX ? INT_MAX : (int)n;
}

int evt_clear_key(evt_throttle *t, const void *key, size_t key_len)
{
	int rc = writable(t);
	if (rc == 0)
		rc = table_key_check(&t->r, key, key_len);
	return rc < 0 ? rc : table_clear_key(&t->r, &t->me, key, (uint32_t)key_len);
}

int evt_stats_get(const evt_throttle *t, evt_stats *out)
{
	if (t == NULL || out == NULL)
		return -EINVAL;
	uint64_t c[CTR_COUNT];
	uint32_t live;
	clients_totals(&t->r, c, &live);
	int64_t keys = keycount_of(&t->r, c);
	const struct region_hdr *h = t->r.hdr;
	*out = (evt_stats){
		.window_ns = atomic_load_explicit(&h->window_ns, memory_order_acquire),
		.processed = c[CTR_PROCESSED],
		.throttled = c[CTR_THROTTLED],
		.new_keys = c[CTR_NEW_KEYS],
		.reclaimed = c[CTR_RECLAIMED],
		.cleared = c[CTR_CLEARED],
		.full = c[CTR_FULL],
		/* Counters are read one by one while clients write them. */
		.keys = keys > 0 ? (uint64_t)keys : 0,
		.horizon_ns = table_horizon(&t->r),
		.capacity = t->r.mask + 1,
		.key_max = t->r.key_max,
		.clients = live,
		.client_max = t->r.client_max,
		.on_full = t->r.on_full,
	};
	return 0;
}

size_t evt_key_count(const evt_throttle *t)
{
	evt_stats s;
	return evt_stats_get(t, &s) == 0 ? (size_t)s.keys : 0;
}

uint64_t evt_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

const char *evt_strerror(int err)
{
	/* Negate as unsigned: -INT_MIN does not fit an int. */
	unsigned e = err < 0 ? 0u - (unsigned)err : (unsigned)err;
	switch (e) {
	case 0:
		return "success";
	case EINVAL:
		return "invalid argument (name, key, window or option)";
	case ENOENT:
		return "no such throttle (is evthrottled running with it configured?)";
	case EEXIST:
		return "a throttle of that name already exists";
	case EACCES:
	case EPERM:
		return "permission denied on the throttle's shared-memory object";
	case EBADMSG:
		return "not an evthrottle region, or its header is truncated or corrupt";
	case EPROTONOSUPPORT:
		return "the region was made by an incompatible evthrottle version";
	case EAGAIN:
		return "the region is still being created; try again";
	case EUSERS:
		return "every client slot of the throttle is taken";
	case EMSGSIZE:
		return "key longer than the throttle's key_max";
	case EROFS:
		return "the handle is read-only";
	case ENOSPC:
		return "no room: the throttle's table (or /dev/shm) is full";
	case ENOMEM:
		return "out of memory";
	default: {
		const char *s = e <= INT_MAX ? strerrordesc_np((int)e) : NULL;
		return s != NULL ? s : "unknown error";
	}
	}
}
