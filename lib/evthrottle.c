/* The public API: argument checks and handles around region, table and clients. */
#include "evthrottle.h"

#include <errno.h>
#include <stddef.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <time.h>

#include "admin.h"
#include "audit.h"
#include "clients.h"
#include "decide.h"
#include "handle.h"
#include "keycount.h"

/* An admin handle decides nothing and counts its clears in the header. */
static void make_admin(evt_throttle *t)
{
	t->admin = true;
	handle_decides(t, 0);
	t->scratch = (struct region_client){ .wm = REGION_WM_NONE };
	t->me = (struct table_client){ .entry = &t->scratch, .index = t->r.client_max };
}

static int open_handle(const char *name, struct region *r, bool admin, evt_throttle **out)
{
	evt_throttle *t = malloc(sizeof *t);
	int rc = t == NULL ? -ENOMEM : 0;
	if (rc == 0) {
		*t = handle_make(r);
		snprintf(t->name, sizeof t->name, "%s", name != NULL ? name : "");
		if (admin)
			make_admin(t);
		else if (!r->readonly) {
			clients_reap_dead(r, &t->me);
			rc = client_register(r, &t->me);
		}
		/* Every handle that may change the throttle may have to tell Redis. */
		if (rc == 0 && !r->readonly && global_enabled(r) && (rc = global_open(&t->global)) < 0 &&
		    !admin)
			client_release(r, &t->me);
		if (t->global != NULL) {
			handle_decides(t, 0); /* decide_check(): DECIDE_CACHED, DECIDE_GLOBAL */
			if (!admin)
				handle_caches(t);
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
	rc = open_handle(name, &r, false, out);
	if (rc < 0 && name != NULL)
		evt_unlink(name);
	return rc;
}

int evt_attach(const char *name, unsigned flags, evt_throttle **out)
{
	if (out == NULL || (flags & ~(EVT_RDONLY | EVT_ADMIN)) != 0 ||
	    flags == (EVT_RDONLY | EVT_ADMIN))
		return -EINVAL;
	struct region r;
	int rc = region_open(name, flags & EVT_RDONLY, &r);
	return rc < 0 ? rc : open_handle(name, &r, flags & EVT_ADMIN, out);
}

void evt_close(evt_throttle *t)
{
	if (t == NULL)
		return;
	if (t->me.entry != NULL && !t->admin)
		client_release(&t->r, &t->me);
	global_free(t->global);
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

int evt_is_current(const evt_throttle *t)
{
	char path[EVT_NAME_MAX + 32];
	if (t == NULL || t->name[0] == '\0' || region_name_path(t->name, path, sizeof path) < 0)
		return -EINVAL;
	int fd = shm_open(path, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC, 0);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	/* The seed and the creation time, written once before the region was
	 * published, tell one region from its replacement. */
	struct stat st;
	struct region_hdr h;
	ssize_t n = 0;
	int rc = fstat(fd, &st) < 0 ? -errno : 0;
	if (rc == 0 && S_ISREG(st.st_mode) && (n = pread(fd, &h, sizeof h, 0)) < 0)
		rc = -errno;
	close(fd);
	if (rc < 0)
		return rc;
	return n == (ssize_t)sizeof h && h.hash_seed == t->r.hdr->hash_seed &&
	       h.created_unix_ns == t->r.hdr->created_unix_ns;
}

/* The checks every call that changes state makes. */
static int writable(const evt_throttle *t)
{
	if (t == NULL)
		return -EINVAL;
	return t->r.readonly ? -EROFS : 0;
}

/* The checks of a call that decides. */
static int decider(const evt_throttle *t)
{
	int rc = writable(t);
	return rc == 0 && t->admin ? -EPERM : rc;
}

/* decide_check()'s answers for a valid decision on a global throttle: any key,
 * and those its local tier's common case takes (up to cached_len_max bytes), of
 * 1 to 8 bytes and of 9 to 16. */
#define DECIDE_GLOBAL 1
#define DECIDE_CACHED_1TO8 2
#define DECIDE_CACHED_9TO16 3

/* The checks of a decision, in one predictable branch on the hot path: 0 (decide
 * in the table), DECIDE_GLOBAL or above (a global throttle: its decide_len_max
 * is 0, so that the common case does not test for one), or a negative errno. */
static inline int decide_check(const evt_throttle *t, const void *key, size_t key_len)
{
	if (__builtin_expect(t != NULL && key != NULL && key_len - 1 < t->decide_len_max, 1))
		return 0;
	/* A global read-write handle (cached_9to16 and cached_len_max are 0 on any
	 * other). */
	if (t != NULL && key != NULL && key_len - 9 < t->cached_9to16)
		return DECIDE_CACHED_9TO16;
	if (t != NULL && key != NULL && key_len - 1 < t->cached_len_max)
		return DECIDE_CACHED_1TO8;
	/* A global handle is read-write (global_open()); an admin one decides nothing. */
	if (t != NULL && t->global != NULL && !t->admin && key != NULL && key_len - 1 < t->r.key_max)
		return DECIDE_GLOBAL;
	int rc = decider(t);
	if (rc == 0)
		rc = table_key_check(&t->r, key, key_len);
	return rc == 0 && t->global != NULL ? DECIDE_GLOBAL : rc;
}

/* table_cached()'s next tier for evt_should_process() on a global throttle:
 * Redis, on the connection of the handle whose client me is. */
static int ask_redis(const struct region *r, const struct table_client *me, uint64_t ts,
                     const void *key, uint32_t len, unsigned *info)
{
	const evt_throttle *t = (const evt_throttle *)((const char *)me - offsetof(evt_throttle, me));
	unsigned scratch = 0;
	return global_decide(r, me, t->global, ts, key, len, info != NULL ? info : &scratch);
}

/* A global throttle's decision with its reasons (lib/global.h): the local tier,
 * then Redis for an event it did not throttle. */
static __attribute__((noinline)) int decide_global(evt_throttle *t, uint64_t ts_ns,
                                                   unsigned *info, const void *key,
                                                   size_t key_len)
{
	if (table_cached_ex(&t->r, &t->me, ts_ns, key, (uint32_t)key_len, info) == 0)
		return table_denied(&t->r, &t->me, info, 0);
	return global_decide(&t->r, &t->me, t->global, ts_ns, key, (uint32_t)key_len, info);
}

__attribute__((noinline)) int decide_cached_rest(evt_throttle *t, uint64_t ts, unsigned *info,
                                                 const void *key, size_t len)
{
	if (info == NULL)
		return table_cached(&t->r, &t->me, ts, key, (uint32_t)len, ask_redis);
	return decide_global(t, ts, info, key, len);
}

int evt_should_process_ex(evt_throttle *t, uint64_t ts_ns, const char *event_id,
                          const void *key, size_t key_len, unsigned *info)
{
	(void)event_id;
	if (info == NULL)
		return evt_should_process(t, ts_ns, event_id, key, key_len);
	*info = 0;
	int rc = decide_check(t, key, key_len);
	if (rc > 0)
		return decide_global(t, ts_ns, info, key, key_len);
	return rc < 0 ? rc : table_decide_ex(&t->r, &t->me, ts_ns, key, (uint32_t)key_len, info);
}

__attribute__((flatten)) int evt_should_process(evt_throttle *t, uint64_t ts_ns,
                                                const char *event_id, const void *key,
                                                size_t key_len)
{
	/* The common case, inlined: a key of 9 to 16 bytes that t may decide. */
	if (__builtin_expect(t != NULL && key != NULL && key_len - 9 < t->decide_9to16, 1)) {
		if (key_len - 9 >= 8)
			__builtin_unreachable(); /* decide_9to16 is at most 8 */
		return decide_short(t, ts_ns, key, key_len, key_hash_9to16(&t->r, key, key_len), true,
		                    false);
	}
	int rc = decide_check(t, key, key_len);
	/* A global throttle's local tier: the home slot's case of a key of up to 16
	 * bytes, a length class a function, with the arguments in their registers;
	 * any other key goes to table_cached(), which goes on to ask_redis() by a
	 * tail call. */
	if (__builtin_expect(rc == DECIDE_CACHED_9TO16, 0))
		return decide_cached_9to16(t, ts_ns, event_id, key, key_len);
	if (__builtin_expect(rc == DECIDE_CACHED_1TO8, 0))
		return decide_cached_1to8(t, ts_ns, event_id, key, key_len);
	if (__builtin_expect(rc == DECIDE_GLOBAL, 0))
		return table_cached(&t->r, &t->me, ts_ns, key, (uint32_t)key_len, ask_redis);
	if (rc < 0)
		return rc;
	/* Checked: over 8 bytes is over 16 here. */
	return key_len > 8 ? table_decide(&t->r, &t->me, ts_ns, key, (uint32_t)key_len)
	                   : decide_1to8(t, ts_ns, event_id, key, key_len);
}

/* table_cached()'s next tier for evt_should_process_local(): none. */
static int would_block(const struct region *r, const struct table_client *me, uint64_t ts,
                       const void *key, uint32_t len, unsigned *info)
{
	(void)r, (void)me, (void)ts, (void)key, (void)len, (void)info;
	return -EWOULDBLOCK;
}

int evt_should_process_local(evt_throttle *t, uint64_t ts_ns, const void *key, size_t key_len)
{
	int rc = decide_check(t, key, key_len);
	if (__builtin_expect(rc > 0, 0))
		return table_cached(&t->r, &t->me, ts_ns, key, (uint32_t)key_len, would_block);
	return rc < 0 ? rc : table_decide(&t->r, &t->me, ts_ns, key, (uint32_t)key_len);
}

int evt_is_global(const evt_throttle *t)
{
	return t == NULL ? -EINVAL : global_enabled(&t->r);
}

int evt_peek(const evt_throttle *t, uint64_t ts_ns, const void *key, size_t key_len)
{
	if (t == NULL)
		return -EINVAL;
	int rc = table_key_check(&t->r, key, key_len);
	/* A read-only handle has no entry to count in (and may not write). */
	return rc < 0 ? rc
	              : table_peek(&t->r, t->me.entry != NULL ? &t->me : NULL, ts_ns, key,
	                           (uint32_t)key_len);
}

int evt_prefetch(const evt_throttle *t, const void *key, size_t key_len)
{
	int rc = decide_check(t, key, key_len);
	if (rc < 0)
		return rc;
	(void)table_prefetch(&t->r, key, (uint32_t)key_len);
	return 0;
}

int evt_prefetch_key(const evt_throttle *t, const void *key, size_t key_len, evt_key *out)
{
	int rc = out != NULL ? decide_check(t, key, key_len) : -EINVAL;
	return rc < 0 ? rc : table_prefetch_key(&t->r, key, (uint32_t)key_len, out);
}

/* evt_should_process_key() past its common case: the checks, a global throttle, a
 * key over 16 bytes or made for another region. */
static __attribute__((noinline)) int decide_key_checked(evt_throttle *t, uint64_t ts_ns,
                                                        const evt_key *k, unsigned *info)
{
	unsigned scratch;
	if (info == NULL)
		info = &scratch;
	*info = 0;
	int rc = decide_check(t, k->key, k->key_len);
	/* A global throttle's local tier: the home slot's case, as on a host-local
	 * handle, for a key made for its region. */
	if (rc >= DECIDE_CACHED_1TO8 && k->seed == t->r.seed)
		return decide_short_key(t, ts_ns, k, info, true);
	if (rc > 0)
		return decide_global(t, ts_ns, info, k->key, k->key_len);
	return rc < 0 ? rc : table_decide_key(&t->r, &t->me, ts_ns, k, info);
}

__attribute__((flatten)) int evt_should_process_key(evt_throttle *t, uint64_t ts_ns,
                                                    const evt_key *k, unsigned *info)
{
	if (info != NULL)
		*info = 0;
	if (k == NULL)
		return -EINVAL;
	/* The common case, inlined: a key of 1 to 16 bytes that t may decide, made
	 * for its region. */
	if (__builtin_expect(t != NULL && k->key != NULL && k->key_len - 1 < t->decide_len_max &&
	                             k->key_len <= INLINE_KEY_MAX && k->seed == t->r.seed,
	                     1))
		return decide_short_key(t, ts_ns, k, info, false);
	return decide_key_checked(t, ts_ns, k, info);
}

int evt_should_process_batch(evt_throttle *t, evt_event *events, size_t n)
{
	int rc = decider(t);
	if (rc < 0)
		return rc;
	if ((events == NULL && n > 0) || n > INT_MAX)
		return -EINVAL;
	if (t->global != NULL)
		return global_decide_batch(&t->r, &t->me, t->global, events, n);
	return (int)decide_batch(t, events, n);
}

int evt_update_window(evt_throttle *t, uint64_t window_ns)
{
	int rc = writable(t);
	if (rc < 0)
		return rc;
	if (window_ns == 0)
		return -EINVAL;
	/* Redis first: the daemon's poll would otherwise revert a local window that
	 * Redis does not hold yet. */
	int pushed = t->global != NULL ? global_push_window(&t->r, &t->me, t->global, window_ns) : 0;
	/* Pairs with the acquire load in table_decide(). */
	atomic_store_explicit(&t->r.hdr->window_ns, window_ns, memory_order_release);
	audit_note(&t->r, AUDIT_WINDOW, window_ns);
	return pushed;
}

uint64_t evt_get_window(const evt_throttle *t)
{
	return t == NULL ? 0 : atomic_load_explicit(&t->r.hdr->window_ns, memory_order_acquire);
}

int evt_update_limit(evt_throttle *t, uint32_t limit)
{
	int rc = writable(t);
	if (rc < 0)
		return rc;
	/* A global throttle has limit 1: Redis's function applies that rule only. */
	if (limit == 0 || limit > EVT_LIMIT_MAX || (limit > 1 && global_enabled(&t->r)))
		return -EINVAL;
	region_set_policy(&t->r.hdr->policy, ~POLICY_SHADOW, limit);
	audit_note(&t->r, AUDIT_LIMIT, limit);
	return 0;
}

uint32_t evt_get_limit(const evt_throttle *t)
{
	/* Pairs with the release CAS in region_set_policy(). */
	return t == NULL ? 0
	                 : POLICY_LIMIT(atomic_load_explicit(&t->r.hdr->policy, memory_order_acquire));
}

int evt_set_shadow(evt_throttle *t, int on)
{
	int rc = writable(t);
	if (rc < 0)
		return rc;
	if (on != 0 && on != 1)
		return -EINVAL;
	region_set_policy(&t->r.hdr->policy, POLICY_SHADOW, on ? POLICY_SHADOW : 0);
	audit_note(&t->r, AUDIT_SHADOW, (uint64_t)on);
	return 0;
}

int evt_get_shadow(const evt_throttle *t)
{
	if (t == NULL)
		return -EINVAL;
	/* Pairs with the release CAS in region_set_policy(). */
	return (atomic_load_explicit(&t->r.hdr->policy, memory_order_acquire) & POLICY_SHADOW) != 0;
}

int evt_clear(evt_throttle *t)
{
	int rc = writable(t);
	if (rc < 0)
		return rc;
	uint64_t n = table_clear(&t->r, &t->me);
	/* A global throttle: here (the count is this one's: once the clear is
	 * published, this host's daemon may clear the table first), in Redis (a new
	 * epoch in the key names), then here again, since decisions in between may
	 * have cached keys from Redis under the old epoch. */
	int pushed = t->global != NULL ? global_push_clear(&t->r, &t->me, t->global) : 0;
	if (t->global != NULL)
		(void)table_clear(&t->r, &t->me);
	if (t->admin)
		admin_count_cleared(&t->r, n);
	audit_note(&t->r, AUDIT_CLEAR, n);
	if (pushed < 0)
		return pushed;
	return n > INT_MAX ? INT_MAX : (int)n;
}

int evt_clear_key(evt_throttle *t, const void *key, size_t key_len)
{
	int rc = writable(t);
	if (rc == 0)
		rc = table_key_check(&t->r, key, key_len);
	if (rc == 0)
		rc = table_clear_key(&t->r, &t->me, key, (uint32_t)key_len);
	/* A global throttle: here (the count is this one's: once the clear is
	 * published, this host's daemon may take the key out first), in Redis, then
	 * here again, since a decision in between may have cached it from Redis. */
	int pushed = rc >= 0 && t->global != NULL
		             ? global_push_clear_key(&t->r, &t->me, t->global, key, (uint32_t)key_len)
		             : 0;
	if (rc >= 0 && t->global != NULL)
		(void)global_drop_key(&t->r, &t->me, key, (uint32_t)key_len);
	if (rc > 0 && t->admin)
		admin_count_cleared(&t->r, (uint64_t)rc);
	if (rc >= 0)
		audit_note(&t->r, AUDIT_CLEAR_KEY, (uint64_t)rc);
	return pushed < 0 && rc >= 0 ? pushed : rc;
}

int evt_stats_get(const evt_throttle *t, evt_stats *out)
{
	if (t == NULL || out == NULL)
		return -EINVAL;
	uint64_t c[CTR_COUNT];
	uint32_t live;
	clients_totals(&t->r, c, &live);
	admin_add_totals(&t->r, c);
	int64_t keys = keycount_of(&t->r, c);
	const struct region_hdr *h = t->r.hdr;
	*out = (evt_stats){
		.window_ns = atomic_load_explicit(&h->window_ns, memory_order_acquire),
		.processed = c[CTR_PROCESSED],
		.throttled = c[CTR_THROTTLED] + c[CTR_INSIDE_WINDOW],
		.new_keys = c[CTR_NEW_KEYS],
		.reclaimed = c[CTR_RECLAIMED],
		.cleared = c[CTR_CLEARED],
		.full = c[CTR_FULL],
		/* Counters are read one by one while clients write them. */
		.keys = keys > 0 ? (uint64_t)keys : 0,
		.horizon_ns = clients_horizon(&t->r, clients_newest(&t->r)),
		.capacity = t->r.mask + 1,
		.key_max = t->r.key_max,
		.clients = live,
		.client_max = t->r.client_max,
		.on_full = t->r.on_full,
		.on_stale = t->r.on_stale,
		.stale = c[CTR_STALE],
		.client_idle_ns = atomic_load_explicit(&h->client_idle_ns, memory_order_relaxed),
		.limit = evt_get_limit(t),
		.shadow = (uint32_t)evt_get_shadow(t),
		.peeks = c[CTR_PEEKS],
		.would_throttle = c[CTR_WOULD_THROTTLE],
		.out_of_order = c[CTR_OUT_OF_ORDER],
		.inside_window = c[CTR_INSIDE_WINDOW],
		.global_round_trips = c[CTR_GLOBAL_ROUND_TRIPS],
		.global_fallbacks = c[CTR_GLOBAL_FALLBACKS],
		.global_errors = c[CTR_GLOBAL_ERRORS],
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

uint64_t evt_realtime_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
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
		return "invalid argument (name, key, window, limit or option)";
	case ENOENT:
		return "no such throttle (is evthrottled running with it configured?)";
	case EEXIST:
		return "a throttle of that name already exists";
	case EACCES:
	case EPERM:
		return "permission denied on the throttle's shared-memory object";
	case EBADMSG:
		return "not an evthrottle region (not a regular file, or a truncated or corrupt header)";
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
	case ESTALE:
		return "the exact answer was forgotten by reclaim (on_stale = error)";
	case ENOMEM:
		return "out of memory";
	case EOPNOTSUPP:
		return "huge pages asked for, but the system backs no shared memory with them "
		       "(mount /dev/shm with huge=within_size or advise; anonymous throttles: "
		       "/sys/kernel/mm/transparent_hugepage/shmem_enabled; regions under 2 MiB "
		       "get none)";
	default: {
		const char *s = e <= INT_MAX ? strerrordesc_np((int)e) : NULL;
		return s != NULL ? s : "unknown error";
	}
	}
}
