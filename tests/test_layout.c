/*
 * Golden layout of the shared-memory format (lib/region.h) and of the public ABI
 * structs, and the header a fresh region carries.
 *
 * Every offset and size is checked at run time against a literal number, so a
 * change to the format fails a test that names the field (the _Static_asserts in
 * region.h only cover part of it, and would be edited along with the struct).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdalign.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "common.h"

#include "clients.h"
#include "keyhash.h"
#include "region.h"

TestSuite(layout, .fini = unlink_names);

static void shm_file(char *buf, size_t size, const char *name)
{
	snprintf(buf, size, "/dev/shm/evthrottle.%s", name);
}

static struct stat stat_region(const char *name)
{
	char path[512];
	struct stat st;
	shm_file(path, sizeof path, name);
	cr_assert_eq(stat(path, &st), 0, "stat(%s): %s", path, strerror(errno));
	return st;
}

static bool region_exists(const char *name)
{
	char path[512];
	struct stat st;
	shm_file(path, sizeof path, name);
	return stat(path, &st) == 0;
}

/* A read-only mapping of the whole shm file, made without the library. */
struct fmap {
	unsigned char *p;
	size_t size;
};

static struct fmap map_region(const char *name)
{
	char path[512];
	shm_file(path, sizeof path, name);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	cr_assert_geq(fd, 0, "open(%s): %s", path, strerror(errno));
	struct stat st;
	cr_assert_eq(fstat(fd, &st), 0);
	cr_assert_gt(st.st_size, 0);
	void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	cr_assert_neq(p, MAP_FAILED, "mmap(%s): %s", path, strerror(errno));
	return (struct fmap){ p, (size_t)st.st_size };
}

static bool all_zero(const unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != 0)
			return false;
	return true;
}

/* ---- the format, field by field ---- */

#define FIELD_SIZE(T, f) sizeof(((T *)0)->f)
#define EXPECT_FIELD(T, f, off, size)                                                  \
	do {                                                                           \
		cr_expect_eq(offsetof(T, f), (size_t)(off), #T "." #f " is at %zu, want %zu", \
		             offsetof(T, f), (size_t)(off));                            \
		cr_expect_eq(FIELD_SIZE(T, f), (size_t)(size),                          \
		             #T "." #f " is %zu bytes, want %zu", FIELD_SIZE(T, f),     \
		             (size_t)(size));                                           \
	} while (0)

Test(layout, region_hdr_fields)
{
	typedef struct region_hdr H;
	cr_expect_eq(sizeof(H), 256, "struct region_hdr is %zu bytes, want 256", sizeof(H));
	cr_expect_eq(alignof(H), 8, "struct region_hdr alignment %zu, want 8", alignof(H));
	/* line 0: geometry */
	EXPECT_FIELD(H, magic, 0, 8);
	EXPECT_FIELD(H, version_major, 8, 2);
	EXPECT_FIELD(H, version_minor, 10, 2);
	EXPECT_FIELD(H, header_size, 12, 4);
	EXPECT_FIELD(H, total_size, 16, 8);
	EXPECT_FIELD(H, capacity, 24, 4);
	EXPECT_FIELD(H, key_max, 28, 4);
	EXPECT_FIELD(H, slot_size, 32, 4);
	EXPECT_FIELD(H, client_max, 36, 4);
	EXPECT_FIELD(H, client_size, 40, 4);
	EXPECT_FIELD(H, nbhd, 44, 4);
	EXPECT_FIELD(H, clients_offset, 48, 8);
	EXPECT_FIELD(H, table_offset, 56, 8);
	/* line 1: identity and policy */
	EXPECT_FIELD(H, hash_seed, 64, 8);
	EXPECT_FIELD(H, on_full, 72, 4);
	EXPECT_FIELD(H, state, 76, 4);
	EXPECT_FIELD(H, created_unix_ns, 80, 8);
	EXPECT_FIELD(H, mode, 88, 4);
	EXPECT_FIELD(H, on_stale, 92, 4);
	EXPECT_FIELD(H, bounds_offset, 96, 8);
	EXPECT_FIELD(H, config_limit, 104, 8);
	EXPECT_FIELD(H, config_shadow, 112, 8);
	EXPECT_FIELD(H, flags, 120, 4);
	EXPECT_FIELD(H, reserved1, 124, 4);
	/* line 2: hot, written rarely */
	EXPECT_FIELD(H, window_ns, 128, 8);
	EXPECT_FIELD(H, client_idle_ns, 136, 8);
	EXPECT_FIELD(H, newest_ts, 144, 8);
	EXPECT_FIELD(H, client_hwm, 152, 4);
	EXPECT_FIELD(H, policy, 156, 4);
	EXPECT_FIELD(H, keys_adjust, 160, 8);
	EXPECT_FIELD(H, keys_owed, 168, 8);
	EXPECT_FIELD(H, reserved2, 176, 16);
	/* line 3: the daemon's */
	EXPECT_FIELD(H, daemon_pid, 192, 8);
	EXPECT_FIELD(H, daemon_heartbeat_ns, 200, 8);
	EXPECT_FIELD(H, config_window_ns, 208, 8);
	EXPECT_FIELD(H, change_seq, 216, 8);
	EXPECT_FIELD(H, change_who, 224, 8);
	EXPECT_FIELD(H, change_value, 232, 8);
	EXPECT_FIELD(H, admin_cleared, 240, 8);
	EXPECT_FIELD(H, global_offset, 248, 8);
}

Test(layout, region_client_fields)
{
	typedef struct region_client C;
	cr_expect_eq(sizeof(C), 640, "struct region_client is %zu bytes, want 640", sizeof(C));
	cr_expect_eq(alignof(C), 8, "struct region_client alignment %zu, want 8", alignof(C));
	EXPECT_FIELD(C, owner, 0, 8);
	EXPECT_FIELD(C, attach_unix_ns, 8, 8);
	EXPECT_FIELD(C, wm, 16, 8);
	EXPECT_FIELD(C, ctr, 24, 192);
	EXPECT_FIELD(C, pad, 216, 40);
	EXPECT_FIELD(C, ctr_shared, 256, 192);
	EXPECT_FIELD(C, base, 448, 192);
}

Test(layout, region_slot_fields)
{
	typedef struct region_slot S;
	cr_expect_eq(sizeof(S), 32, "struct region_slot header is %zu bytes, want 32", sizeof(S));
	cr_expect_eq(alignof(S), 8, "struct region_slot alignment %zu, want 8", alignof(S));
	EXPECT_FIELD(S, ctrl, 0, 8);
	EXPECT_FIELD(S, last, 8, 8);
	EXPECT_FIELD(S, hop, 16, 8);
	EXPECT_FIELD(S, home, 24, 4);
	EXPECT_FIELD(S, key_len, 28, 4);
	cr_expect_eq(offsetof(S, key), 32, "struct region_slot.key is at %zu, want 32",
	             offsetof(S, key));
	cr_expect_eq(sizeof(((S *)0)->key[0]), 8, "key words are 8 bytes");
}

Test(layout, region_global_fields)
{
	typedef struct region_global G;
	cr_expect_eq(sizeof(G), 1024, "struct region_global is %zu bytes, want 1024", sizeof(G));
	cr_expect_eq(alignof(G), 8, "struct region_global alignment %zu, want 8", alignof(G));
	EXPECT_FIELD(G, enabled, 0, 4);
	EXPECT_FIELD(G, on_unreachable, 4, 4);
	EXPECT_FIELD(G, timeout_ns, 8, 8);
	EXPECT_FIELD(G, redis, 16, 256);
	EXPECT_FIELD(G, name, 272, 208);
	EXPECT_FIELD(G, auth_file, 480, 256);
	EXPECT_FIELD(G, epoch, 736, 8);
	EXPECT_FIELD(G, ok_since_ns, 744, 8);
	EXPECT_FIELD(G, last_error_ns, 752, 8);
	EXPECT_FIELD(G, last_error, 760, 128);
	EXPECT_FIELD(G, retry_at_ns, 888, 8);
	EXPECT_FIELD(G, redis_window_ns, 896, 8);
	EXPECT_FIELD(G, synced_ns, 904, 8);
	EXPECT_FIELD(G, key_clears, 912, 8);
	/* 5.1: the endpoint's resolved address, in space 5.0 kept zero */
	EXPECT_FIELD(G, addr_seq, 920, 8);
	EXPECT_FIELD(G, addr, 928, 24);
	EXPECT_FIELD(G, resolved_ns, 952, 8);
	EXPECT_FIELD(G, resolve_failed_ns, 960, 8);
	EXPECT_FIELD(G, resolve_error, 968, 8);
	EXPECT_FIELD(G, reserved, 976, 48);
}

Test(layout, format_constants)
{
	/* The magic reads "evthrotl" in the file. */
	uint64_t magic = REGION_MAGIC;
	cr_expect_eq(memcmp(&magic, "evthrotl", 8), 0, "REGION_MAGIC bytes are not \"evthrotl\"");
	cr_expect_eq(REGION_MAGIC, 0x6c746f7268747665ull);
	uint32_t ready = REGION_STATE_READY;
	cr_expect_eq(memcmp(&ready, "YDER", 4), 0, "REGION_STATE_READY bytes");
	cr_expect_eq(REGION_STATE_READY, 0x52454459u);
	cr_expect_eq(EVT_VERSION_MAJOR, 5);
	cr_expect_eq(EVT_VERSION_MINOR, 1, "5.1: the global block publishes a resolved address");
	cr_expect_eq(EVT_LIMIT_MAX, 4096);
	cr_expect_eq(EVT_LIMIT_MAX - 1, CTRL_COUNT_MAX, "every count of a window fits the ctrl word");
	cr_expect_eq(REGION_BOUND_SHIFT, 2);
	cr_expect_eq(REGION_NBHD, 32);
	cr_expect_eq(REGION_CAP_MIN, 64);
	cr_expect_eq(REGION_CAP_MAX, 1u << 28);
	cr_expect_eq(REGION_KEY_MAX, 1024);
	cr_expect_eq(REGION_CLIENT_MAX, 65535);
	cr_expect_eq(REGION_WM_NONE, UINT64_MAX);

	/* Client entry states and counter indices are stored in the region. */
	cr_expect_eq(CLIENT_FREE, 0);
	cr_expect_eq(CLIENT_LIVE, 1);
	cr_expect_eq(CLIENT_REAPING, 2);
	cr_expect_eq(CTR_PROCESSED, 0);
	cr_expect_eq(CTR_THROTTLED, 1);
	cr_expect_eq(CTR_NEW_KEYS, 2);
	cr_expect_eq(CTR_RECLAIMED, 3);
	cr_expect_eq(CTR_CLEARED, 4);
	cr_expect_eq(CTR_FULL, 5);
	cr_expect_eq(CTR_STALE, 6);
	cr_expect_eq(CTR_PEEKS, 7);
	cr_expect_eq(CTR_WOULD_THROTTLE, 8);
	cr_expect_eq(CTR_OUT_OF_ORDER, 9);
	cr_expect_eq(CTR_INSIDE_WINDOW, 10);
	cr_expect_eq(CTR_GLOBAL_ROUND_TRIPS, 11);
	cr_expect_eq(CTR_GLOBAL_FALLBACKS, 12);
	cr_expect_eq(CTR_GLOBAL_ERRORS, 13);
	cr_expect_eq(CTR_COUNT, 14);
	cr_expect_eq(CTR_MAX, 24);
	cr_expect_eq(SLOT_EMPTY, 0);
	cr_expect_eq(SLOT_CLAIMED, 1);
	cr_expect_eq(SLOT_DYING, 2);
	cr_expect_eq(SLOT_MOVING, 3);
}

Test(layout, ctrl_word_bits)
{
	/* state:2 | tag:2 | count:12 | owner:16 | gen:32 */
	cr_expect_eq(CTRL_MAKE(3, 0, 0, 0), 0x3ull, "state is bits 0-1");
	cr_expect_eq(CTRL_MAKE(0, 0x3fff, 0, 0), 0xfffcull, "tag and count are bits 2-15");
	cr_expect_eq(CTRL_MAKE(0, 3, 0, 0), 0xcull, "tag is bits 2-3");
	cr_expect_eq(CTRL_WITH_COUNT(0ull, CTRL_COUNT_MAX), 0xfff0ull, "count is bits 4-15");
	cr_expect_eq(CTRL_MAKE(0, 0, 0xffff, 0), 0xffff0000ull, "owner is bits 16-31");
	cr_expect_eq(CTRL_MAKE(0, 0, 0, 0xffffffffu), 0xffffffff00000000ull, "gen is bits 32-63");
	uint64_t c = CTRL_MAKE(SLOT_CLAIMED, 0x1234, 0xbeef, 0xdeadbeefu);
	cr_expect_eq(c, 0xdeadbeefbeef48d1ull);
	cr_expect_eq(CTRL_STATE(c), SLOT_CLAIMED);
	cr_expect_eq(CTRL_KEYF(c), 0x1234);
	cr_expect_eq(CTRL_TAG(c), 0x0);
	cr_expect_eq(CTRL_COUNT(c), 0x48d);
	cr_expect_eq(CTRL_OWNER(c), 0xbeef);
	cr_expect_eq(CTRL_GEN(c), 0xdeadbeefu);
	uint64_t n = CTRL_NEXT(c, SLOT_DYING);
	cr_expect_eq(CTRL_STATE(n), SLOT_DYING);
	cr_expect_eq(CTRL_KEYF(n), 0x1234, "tag and count are kept");
	cr_expect_eq(CTRL_OWNER(n), 0xbeef);
	cr_expect_eq(CTRL_GEN(n), 0xdeadbef0u);
	/* The generation wraps without touching the other fields. */
	uint64_t w = CTRL_NEXT(CTRL_MAKE(SLOT_CLAIMED, 7, 9, 0xffffffffu), SLOT_EMPTY);
	cr_expect_eq(w, CTRL_MAKE(SLOT_EMPTY, 7, 9, 0));
	/* Setting the count touches nothing else. */
	uint64_t k = CTRL_WITH_COUNT(c, 5);
	cr_expect_eq(CTRL_COUNT(k), 5);
	cr_expect_eq(k & ~0xfff0ull, c & ~0xfff0ull);

	/* hop word: bits in the low half, a version in the high half */
	cr_expect_eq(HOP_BITS(0x0000000500000003ull), 3u);
	cr_expect_eq(HOP_NEXT(0x0000000500000003ull, 0x80000000u), 0x0000000680000000ull);

	/* client owner word: state << 32 | pid */
	cr_expect_eq(CLIENT_OWNER(CLIENT_LIVE, 1234), 0x00000001000004d2ull);
	cr_expect_eq(CLIENT_STATE(CLIENT_OWNER(CLIENT_REAPING, 77)), CLIENT_REAPING);
	cr_expect_eq(CLIENT_PID(CLIENT_OWNER(CLIENT_REAPING, 77)), 77);
}

Test(layout, public_abi_structs)
{
	typedef evt_options O;
	cr_expect_eq(sizeof(O), 64, "evt_options is %zu bytes, want 64", sizeof(O));
	EXPECT_FIELD(O, window_ns, 0, 8);
	EXPECT_FIELD(O, capacity, 8, 4);
	EXPECT_FIELD(O, key_max, 12, 4);
	EXPECT_FIELD(O, mode, 16, 4);
	EXPECT_FIELD(O, on_full, 20, 4);
	EXPECT_FIELD(O, client_max, 24, 4);
	EXPECT_FIELD(O, on_stale, 28, 4);
	EXPECT_FIELD(O, client_idle_ns, 32, 8);
	EXPECT_FIELD(O, limit, 40, 4);
	EXPECT_FIELD(O, shadow, 44, 4);
	EXPECT_FIELD(O, huge_pages, 48, 4);
	EXPECT_FIELD(O, reserved, 52, 4);
	EXPECT_FIELD(O, global, 56, 8);

	typedef evt_stats S;
	cr_expect_eq(sizeof(S), 176, "evt_stats is %zu bytes, want 176", sizeof(S));
	EXPECT_FIELD(S, window_ns, 0, 8);
	EXPECT_FIELD(S, processed, 8, 8);
	EXPECT_FIELD(S, throttled, 16, 8);
	EXPECT_FIELD(S, new_keys, 24, 8);
	EXPECT_FIELD(S, reclaimed, 32, 8);
	EXPECT_FIELD(S, cleared, 40, 8);
	EXPECT_FIELD(S, full, 48, 8);
	EXPECT_FIELD(S, keys, 56, 8);
	EXPECT_FIELD(S, horizon_ns, 64, 8);
	EXPECT_FIELD(S, capacity, 72, 4);
	EXPECT_FIELD(S, key_max, 76, 4);
	EXPECT_FIELD(S, clients, 80, 4);
	EXPECT_FIELD(S, client_max, 84, 4);
	EXPECT_FIELD(S, on_full, 88, 4);
	EXPECT_FIELD(S, on_stale, 92, 4);
	EXPECT_FIELD(S, stale, 96, 8);
	EXPECT_FIELD(S, client_idle_ns, 104, 8);
	EXPECT_FIELD(S, limit, 112, 4);
	EXPECT_FIELD(S, shadow, 116, 4);
	EXPECT_FIELD(S, peeks, 120, 8);
	EXPECT_FIELD(S, would_throttle, 128, 8);
	EXPECT_FIELD(S, out_of_order, 136, 8);
	EXPECT_FIELD(S, inside_window, 144, 8);
	EXPECT_FIELD(S, global_round_trips, 152, 8);
	EXPECT_FIELD(S, global_fallbacks, 160, 8);
	EXPECT_FIELD(S, global_errors, 168, 8);

	cr_expect_eq(EVT_ON_FULL_THROTTLE, 0);
	cr_expect_eq(EVT_ON_FULL_PROCESS, 1);
	cr_expect_eq(EVT_ON_FULL_ERROR, 2);
	cr_expect_eq(EVT_RDONLY, 1u);
	cr_expect_eq(EVT_INFO_NEW_KEY, 1u);
	cr_expect_eq(EVT_INFO_RECLAIMED, 2u);
	cr_expect_eq(EVT_INFO_FULL, 4u);
	cr_expect_eq(EVT_INFO_STALE, 8u);
	cr_expect_eq(EVT_INFO_INSIDE_WINDOW, 0x10u);
	cr_expect_eq(EVT_INFO_OUT_OF_ORDER, 0x20u);
	cr_expect_eq(EVT_INFO_SHADOW, 0x40u);
	cr_expect_eq(EVT_ON_STALE_THROTTLE, 0);
	cr_expect_eq(EVT_ON_STALE_PROCESS, 1);
	cr_expect_eq(EVT_ON_STALE_ERROR, 2);
	cr_expect_eq(EVT_NAME_MAX, 200);

	/* The documented defaults. */
	evt_options d = EVT_OPTIONS_INIT;
	cr_expect_eq(d.window_ns, 10000000000ull);
	cr_expect_eq(d.capacity, 131072);
	cr_expect_eq(d.key_max, 32);
	cr_expect_eq(d.mode, 0660);
	cr_expect_eq(d.on_full, EVT_ON_FULL_THROTTLE);
	cr_expect_eq(d.client_max, 256);
	cr_expect_eq(d.on_stale, EVT_ON_STALE_THROTTLE);
	cr_expect_eq(d.client_idle_ns, 1000000000ull);
	cr_expect_eq(d.limit, 1);
	cr_expect_eq(d.shadow, 0);
}

/* ---- a region as created ---- */

Test(layout, default_region_header)
{
	const char *name = new_name();
	evt_unlink(name);
	evt_throttle *t = NULL;
	int rc = evt_create(name, NULL, &t); /* NULL options: EVT_OPTIONS_INIT */
	cr_assert_eq(rc, 0, "evt_create: %s", evt_strerror(rc));

	struct stat st = stat_region(name);
	struct fmap m = map_region(name);
	const struct region_hdr *h = (const void *)m.p;

	/* 256 * 640 client bytes after the header, rounded up to a page; one forget
	 * bound per 4 slots after the table. */
	const uint64_t table_offset = 167936;
	const uint64_t bounds_offset = table_offset + 131072ull * 64;
	const uint64_t global_offset = bounds_offset + 131072ull / 4 * 8;
	const uint64_t total = global_offset + 1024;

	cr_expect_eq(h->magic, REGION_MAGIC);
	cr_expect_eq(memcmp(m.p, "evthrotl", 8), 0, "file starts with the magic bytes");
	cr_expect_eq(h->version_major, EVT_VERSION_MAJOR);
	cr_expect_eq(h->version_minor, EVT_VERSION_MINOR);
	cr_expect_eq(h->header_size, 256);
	cr_expect_eq(h->capacity, 131072);
	cr_expect_eq(h->key_max, 32);
	cr_expect_eq(h->slot_size, 64);
	cr_expect_eq(h->client_max, 256);
	cr_expect_eq(h->client_size, 640);
	cr_expect_eq(h->nbhd, REGION_NBHD);
	cr_expect_eq(h->clients_offset, 256);
	cr_expect_eq(h->table_offset, table_offset);
	cr_expect_eq(h->table_offset % 4096, 0, "table_offset %llu not page-aligned",
	             (unsigned long long)h->table_offset);
	cr_expect_eq(h->bounds_offset, bounds_offset);
	cr_expect_geq(h->table_offset, h->clients_offset + 256ull * 640,
	              "table overlaps the client entries");
	cr_expect_eq(h->global_offset, global_offset);
	const struct region_global *gb = (const void *)(m.p + global_offset);
	cr_expect_eq(gb->enabled, 0, "a throttle made without evt_options.global is local");
	cr_expect_eq(h->total_size, total);
	cr_expect_eq((uint64_t)st.st_size, h->total_size, "file size %lld != total_size %llu",
	             (long long)st.st_size, (unsigned long long)h->total_size);
	cr_expect_eq(m.size, total);
	cr_expect_eq(h->on_full, EVT_ON_FULL_THROTTLE);
	cr_expect_eq(atomic_load(&h->state), REGION_STATE_READY);
	cr_expect_eq(h->mode, 0660);
	cr_expect_eq(st.st_mode & 07777, 0660, "object mode %o, want 0660",
	             (unsigned)(st.st_mode & 07777));
	cr_expect_eq(st.st_uid, geteuid());
	cr_expect_neq(h->created_unix_ns, 0);
	cr_expect_eq(atomic_load(&h->window_ns), 10000000000ull);
	cr_expect_eq(atomic_load(&h->client_idle_ns), 1000000000ull);
	cr_expect_eq(h->on_stale, EVT_ON_STALE_THROTTLE);
	cr_expect_eq(atomic_load(&h->newest_ts), 0);
	cr_expect_eq(atomic_load(&h->client_hwm), 1, "the creator's handle takes entry 0");
	cr_expect_eq(atomic_load(&h->daemon_pid), 0);
	cr_expect_eq(atomic_load(&h->daemon_heartbeat_ns), 0);
	cr_expect_eq(atomic_load(&h->config_window_ns), 0);
	cr_expect_eq(atomic_load(&h->change_seq), 0);
	cr_expect(all_zero(h->reserved2, sizeof h->reserved2), "reserved2 not zero");
	cr_expect_eq(atomic_load(&h->keys_adjust), 0, "a new region's count needs no correction");
	cr_expect_eq(atomic_load(&h->keys_owed), 0);
	cr_expect_eq(atomic_load(&h->policy), 1, "the default limit, enforcing");

	/* Entry 0 is the creator's live handle; the others are free and zero. */
	const struct region_client *c = (const void *)(m.p + h->clients_offset);
	cr_expect_eq(atomic_load(&c[0].owner), CLIENT_OWNER(CLIENT_LIVE, getpid()));
	cr_expect_eq(atomic_load(&c[0].wm), REGION_WM_NONE);
	cr_expect(all_zero((const unsigned char *)&c[1], 255 * sizeof *c),
	          "unused client entries not zero");
	/* The gap up to the table and every slot start as zeroes (EMPTY). */
	cr_expect(all_zero(m.p + 256 + 256 * 640, table_offset - (256 + 256 * 640)),
	          "padding before the table not zero");
	cr_expect(all_zero(m.p + table_offset, total - table_offset), "fresh table not zero");

	/* A decision lands in a slot inside the table. */
	cr_assert_eq(decide(t, 5, "k"), 1);
	cr_expect(!all_zero(m.p + table_offset, total - table_offset), "the key is in the table");

	munmap(m.p, m.size);
	evt_close(t);
}

struct geom_case {
	uint32_t capacity, key_max, client_max;
	uint32_t want_capacity, want_slot_size;
	uint64_t want_table_offset;
};

static void expect_geometry(const struct geom_case *c, const struct region_geom *g)
{
	cr_expect_eq(g->capacity, c->want_capacity, "capacity %u -> %u, want %u", c->capacity,
	             g->capacity, c->want_capacity);
	cr_expect_eq(g->slot_size, c->want_slot_size, "key_max %u -> slot_size %u, want %u",
	             c->key_max, g->slot_size, c->want_slot_size);
	cr_expect_eq(g->key_max, c->key_max);
	cr_expect_eq(g->client_max, c->client_max);
	cr_expect_eq(g->clients_offset, 256);
	cr_expect_eq(g->table_offset, c->want_table_offset,
	             "client_max %u -> table_offset %llu, want %llu", c->client_max,
	             (unsigned long long)g->table_offset,
	             (unsigned long long)c->want_table_offset);
	cr_expect_eq(g->table_offset % 4096, 0, "table_offset not page-aligned");
	cr_expect_eq(g->bounds_offset, g->table_offset + (uint64_t)g->capacity * g->slot_size);
	cr_expect_eq(g->global_offset, g->bounds_offset + (uint64_t)g->capacity / 4 * 8);
	cr_expect_eq(g->total_size, g->global_offset + sizeof(struct region_global));
}

/* Regions small enough to create: the header and the file agree with the
 * geometry.  key_max 33..96 takes two cache lines per slot. */
Test(layout, created_geometry)
{
	static const struct geom_case cases[] = {
		{ 1, 32, 1, 64, 64, 4096 },
		{ 63, 1, 2, 64, 64, 4096 },
		{ 64, 8, 31, 64, 64, 20480 },
		{ 65, 32, 32, 128, 64, 24576 },
		{ 100, 33, 256, 128, 128, 167936 },
		{ 1000, 40, 4, 1024, 128, 4096 },
		{ 1024, 64, 8, 1024, 128, 8192 },
		{ 4097, 96, 256, 8192, 128, 167936 },
		{ 131072, 32, 256, 131072, 64, 167936 },
		{ 64, 97, 1, 64, 192, 4096 },
		{ 64, 1024, 65535, 64, 1088, 41943040 },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const struct geom_case *c = &cases[i];
		evt_options o = EVT_OPTIONS_INIT;
		o.capacity = c->capacity;
		o.key_max = c->key_max;
		o.client_max = c->client_max;
		o.mode = 0600;

		struct region_geom g;
		cr_assert_eq(region_geometry(&o, &g), 0, "case %zu", i);
		expect_geometry(c, &g);

		const char *name = new_name();
		evt_throttle *t = test_create(name, &o);
		struct stat st = stat_region(name);
		struct fmap m = map_region(name);
		const struct region_hdr *h = (const void *)m.p;
		cr_expect_eq(h->capacity, c->want_capacity, "case %zu: header capacity %u", i,
		             h->capacity);
		cr_expect_eq(h->key_max, c->key_max, "case %zu", i);
		cr_expect_eq(h->slot_size, c->want_slot_size, "case %zu: header slot_size %u", i,
		             h->slot_size);
		cr_expect_eq(h->client_max, c->client_max, "case %zu", i);
		cr_expect_eq(h->table_offset, c->want_table_offset, "case %zu", i);
		cr_expect_eq(h->total_size, g.total_size, "case %zu", i);
		cr_expect_eq((uint64_t)st.st_size, h->total_size,
		             "case %zu: file size %lld != total_size %llu", i, (long long)st.st_size,
		             (unsigned long long)h->total_size);
		evt_stats s;
		cr_assert_eq(evt_stats_get(t, &s), 0);
		cr_expect_eq(s.capacity, c->want_capacity, "case %zu", i);
		cr_expect_eq(s.key_max, c->key_max, "case %zu", i);
		cr_expect_eq(s.client_max, c->client_max, "case %zu", i);
		munmap(m.p, m.size);
		evt_close(t);
		evt_unlink(name);
	}
}

/* Geometry of regions too large to create here. */
Test(layout, large_geometry)
{
	static const struct geom_case cases[] = {
		{ 131073, 32, 256, 262144, 64, 167936 },
		{ (1u << 28) - 1, 32, 256, 1u << 28, 64, 167936 },
		{ 1u << 28, 1024, 65535, 1u << 28, 1088, 41943040 },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const struct geom_case *c = &cases[i];
		evt_options o = EVT_OPTIONS_INIT;
		o.capacity = c->capacity;
		o.key_max = c->key_max;
		o.client_max = c->client_max;
		struct region_geom g;
		cr_assert_eq(region_geometry(&o, &g), 0, "case %zu", i);
		expect_geometry(c, &g);
	}
	/* The largest region's size does not overflow. */
	evt_options o = EVT_OPTIONS_INIT;
	o.capacity = 1u << 28;
	o.key_max = 1024;
	o.client_max = 65535;
	struct region_geom g;
	cr_assert_eq(region_geometry(&o, &g), 0);
	cr_expect_eq(g.total_size, 41943040ull + (1ull << 28) * 1088 + (1ull << 26) * 8 + 1024);
}

Test(layout, geometry_rejects_bad_options)
{
	struct bad {
		const char *what;
		evt_options o;
	};
	const evt_options d = EVT_OPTIONS_INIT;
	struct bad cases[20];
	size_t n = 0;
#define BAD(label, field, value)                                                       \
	do {                                                                           \
		cases[n].what = label;                                                 \
		cases[n].o = d;                                                        \
		cases[n].o.field = value;                                              \
		n++;                                                                   \
	} while (0)
	BAD("window 0", window_ns, 0);
	BAD("capacity 0", capacity, 0);
	BAD("capacity 2^28+1", capacity, (1u << 28) + 1);
	BAD("capacity UINT32_MAX", capacity, UINT32_MAX);
	BAD("key_max 0", key_max, 0);
	BAD("key_max 1025", key_max, 1025);
	BAD("key_max UINT32_MAX", key_max, UINT32_MAX);
	BAD("client_max 0", client_max, 0);
	BAD("client_max 65536", client_max, 65536);
	BAD("on_full 3", on_full, 3);
	BAD("on_full UINT32_MAX", on_full, UINT32_MAX);
	BAD("mode 010000", mode, 010000);
	BAD("mode 0x80000644", mode, 0x80000644u);
	BAD("on_stale 3", on_stale, 3);
	BAD("on_stale UINT32_MAX", on_stale, UINT32_MAX);
	BAD("client_idle 0", client_idle_ns, 0);
	BAD("limit 0", limit, 0);
	BAD("limit 4097", limit, EVT_LIMIT_MAX + 1);
	BAD("limit UINT32_MAX", limit, UINT32_MAX);
	BAD("shadow 2", shadow, 2);
#undef BAD
	for (size_t i = 0; i < n; i++) {
		struct region_geom g;
		cr_expect_eq(region_geometry(&cases[i].o, &g), -EINVAL,
		             "region_geometry accepted %s", cases[i].what);
		/* evt_create refuses it the same way and leaves no object behind. */
		const char *name = new_name();
		evt_unlink(name);
		evt_throttle *t = NULL;
		int rc = evt_create(name, &cases[i].o, &t);
		cr_expect_eq(rc, -EINVAL, "evt_create with %s: %d (%s)", cases[i].what, rc,
		             evt_strerror(rc));
		cr_expect_null(t, "evt_create with %s set a handle", cases[i].what);
		cr_expect(!region_exists(name), "evt_create with %s left %s in /dev/shm",
		          cases[i].what, name);
		if (rc == 0)
			evt_close(t);
		/* ...and so does an anonymous throttle. */
		t = NULL;
		rc = evt_create(NULL, &cases[i].o, &t);
		cr_expect_eq(rc, -EINVAL, "anonymous evt_create with %s: %d", cases[i].what, rc);
		if (rc == 0)
			evt_close(t);
	}

	/* The boundaries themselves are accepted. */
	evt_options o = d;
	struct region_geom g;
	o.window_ns = 1;
	o.capacity = 1u << 28;
	o.key_max = 1024;
	o.client_max = 65535;
	o.on_full = EVT_ON_FULL_ERROR;
	o.mode = 07777;
	cr_expect_eq(region_geometry(&o, &g), 0, "maximal options rejected");
	o = d;
	o.window_ns = UINT64_MAX;
	o.capacity = 1;
	o.key_max = 1;
	o.client_max = 1;
	o.mode = 0;
	cr_expect_eq(region_geometry(&o, &g), 0, "minimal options rejected");
}

/* The object gets exactly the requested mode: the umask does not narrow it. */
Test(layout, mode_ignores_umask)
{
	static const uint32_t modes[] = { 0640, 0600, 0644, 0660, 0666, 0400 };
	mode_t old = umask(077);
	for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
		evt_options o = EVT_OPTIONS_INIT;
		o.capacity = 64;
		o.mode = modes[i];
		const char *name = new_name();
		evt_throttle *t = test_create(name, &o);
		struct stat st = stat_region(name);
		cr_expect_eq(st.st_mode & 07777, modes[i], "asked for %04o, object has %04o",
		             modes[i], (unsigned)(st.st_mode & 07777));
		cr_expect(S_ISREG(st.st_mode));
		struct fmap m = map_region(name);
		cr_expect_eq(((const struct region_hdr *)(const void *)m.p)->mode, modes[i],
		             "header mode for %04o", modes[i]);
		munmap(m.p, m.size);
		/* The creator's handle is read-write whatever the mode. */
		cr_expect_eq(decide(t, 1, "k"), 1, "mode %04o", modes[i]);
		evt_close(t);
		evt_unlink(name);
	}
	umask(old);
}

/* A key's home and tag come from XXH3_64bits_withSeed(): every process must agree
 * on them.  The decision's own paths for short keys (keyhash.h: the 9-16-byte one
 * with the region's precomputed flips and its own multiply) must give the same
 * hash for every length and seed, and the key's last word as a slot holds it
 * (tail_word(), and tail_9to16() with its shift count taken modulo 64). */
Test(layout, short_key_hashes_are_xxh3)
{
	static const uint64_t seeds[] = { 0, 1, 0x9e3779b97f4a7c15ull, UINT64_MAX, 12345 };
	unsigned char key[16];
	for (size_t i = 0; i < sizeof key; i++)
		key[i] = (unsigned char)(0xa5 ^ (i * 37));
	for (size_t k = 0; k < sizeof seeds / sizeof seeds[0]; k++) {
		struct region r = { .seed = seeds[k] };
		keyhash_flips(r.seed, r.flip);
		for (uint32_t len = 1; len <= 16; len++) {
			uint64_t want = XXH3_64bits_withSeed(key, len, r.seed);
			cr_assert_eq(key_hash(&r, key, len), want);
			uint64_t got = len > 8 ? key_hash_9to16(&r, key, len) : key_hash_1to8(&r, key, len);
			cr_assert_eq(got, want, "len %u seed %#llx: %#llx, XXH3 %#llx", len,
			             (unsigned long long)r.seed, (unsigned long long)got,
			             (unsigned long long)want);
			uint64_t tail = 0;
			uint32_t from = (len - 1) / 8 * 8;
			memcpy(&tail, key + from, len - from);
			cr_assert_eq(tail_word(key, len), tail, "len %u", len);
			if (len > 8)
				cr_assert_eq(tail_9to16(key, len), tail, "len %u", len);
		}
	}
	/* And XXH3 itself, pinned: a change of the hash is a change of format. */
	cr_assert_eq(XXH3_64bits_withSeed("user:12345678", 13, 42), 0x41379ed845ee4a92ull);
}
