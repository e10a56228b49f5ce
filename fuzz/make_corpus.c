/*
 * Writes the seed regions of fuzz_region into DIR: small valid regions (capacity
 * 64, key_max 8..40, client_max 1..4) holding some of the keys fuzz_keys.h names,
 * made with region_create(NULL, ...) and table_decide() as a client would, some
 * with what a killed client leaves behind.  The fields that would vary from run
 * to run (hash seed, creation and attach times, pids) are fixed, so the same
 * build always writes the same bytes.
 *
 *   make_corpus DIR
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "clients.h"
#include "evthrottle.h"
#include "fuzz_keys.h"
#include "region.h"
#include "table.h"

#define SEC 1000000000ull
#define PID_ALIVE 1u            /* init: always there, never reaped */
#define PID_GONE 0x3ffffff0u    /* above any pid_max: reaped as dead */

struct seed {
	const char *file;
	uint32_t capacity, key_max, client_max, on_full;
	uint64_t window_ns;
	unsigned keys;      /* keys k0 .. k<keys-1> decided at 1 s apart */
	unsigned cleared;   /* then every third of the first ones cleared */
	bool keep_client;   /* the client stays attached (else released) */
	uint32_t pid;       /* the attached client's pid */
	bool dying;         /* leave one removal half done, as a killed client would */
	bool orphan;        /* leave one unpublished claim of a dead client */
	bool moving;        /* leave one key frozen mid-move (hopscotch), ditto */
};

static const struct seed seeds[] = {
	{ .file = "empty-k8-c1", .capacity = 64, .key_max = 8, .client_max = 1,
	  .window_ns = 10 * SEC },
	{ .file = "keys10-k8-c1-released", .capacity = 64, .key_max = 8, .client_max = 1,
	  .window_ns = 10 * SEC, .keys = 10 },
	{ .file = "keys24-k16-c2-live", .capacity = 64, .key_max = 16, .client_max = 2,
	  .on_full = EVT_ON_FULL_PROCESS, .window_ns = 5 * SEC, .keys = 24, .cleared = 3,
	  .keep_client = true, .pid = PID_ALIVE },
	{ .file = "keys30-k40-c4-dead", .capacity = 64, .key_max = 40, .client_max = 4,
	  .on_full = EVT_ON_FULL_ERROR, .window_ns = 3 * SEC, .keys = 30, .cleared = 4,
	  .keep_client = true, .pid = PID_GONE, .dying = true, .orphan = true },
	{ .file = "full-k32-c3", .capacity = 64, .key_max = 32, .client_max = 3,
	  .on_full = EVT_ON_FULL_ERROR, .window_ns = 100 * SEC, .keys = 80, .keep_client = true,
	  .pid = PID_ALIVE },
	{ .file = "keys16-k24-c1-window1ns", .capacity = 64, .key_max = 24, .client_max = 1,
	  .window_ns = 1, .keys = 16, .cleared = 2, .dying = true },
	{ .file = "keys40-k8-c2-moving", .capacity = 64, .key_max = 8, .client_max = 2,
	  .window_ns = 60 * SEC, .keys = 40, .keep_client = true, .pid = PID_GONE,
	  .moving = true },
	{ .file = "full-k8-c2-process", .capacity = 64, .key_max = 8, .client_max = 2,
	  .on_full = EVT_ON_FULL_PROCESS, .window_ns = 1000 * SEC, .keys = 70, .keep_client = true,
	  .pid = PID_ALIVE },
	{ .file = "full-k16-c1-throttle", .capacity = 64, .key_max = 16, .client_max = 1,
	  .on_full = EVT_ON_FULL_THROTTLE, .window_ns = 1000 * SEC, .keys = 70, .cleared = 1,
	  .keep_client = false },
	{ .file = "keys58-k8-c1-nearfull", .capacity = 64, .key_max = 8, .client_max = 1,
	  .window_ns = 1000 * SEC, .keys = 58, .keep_client = true, .pid = PID_ALIVE },
};

static int write_file(const char *dir, const char *name, const void *p, size_t n)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	FILE *f = fopen(path, "wb");
	if (f == NULL || fwrite(p, 1, n, f) != n || fclose(f) != 0) {
		fprintf(stderr, "make_corpus: %s: %s\n", path, strerror(errno));
		return -1;
	}
	printf("%s (%zu bytes)\n", path, n);
	return 0;
}

/* The published slot holding key i, or UINT32_MAX. */
static uint32_t slot_of(const struct region *r, unsigned i)
{
	static struct table_entry e;
	char buf[16];
	unsigned len = fuzz_key(i, buf);
	for (uint32_t s = 0; s <= r->mask; s++)
		if (table_read_slot(r, s, &e) == 1 && e.len == len && memcmp(e.key, buf, len) == 0)
			return s;
	return UINT32_MAX;
}

static int make(const char *dir, const struct seed *sd)
{
	evt_options o = EVT_OPTIONS_INIT;
	o.capacity = sd->capacity;
	o.key_max = sd->key_max;
	o.client_max = sd->client_max;
	o.on_full = sd->on_full;
	o.window_ns = sd->window_ns;
	o.mode = 0600;
	struct region r;
	int rc = region_create(NULL, &o, &r);
	if (rc < 0) {
		fprintf(stderr, "make_corpus: region_create: %s\n", evt_strerror(rc));
		return -1;
	}
	/* Fixed identity, so the bytes do not change from one run to the next. */
	r.hdr->hash_seed = r.seed = 0x5eed5eed5eed5eedull + sd->key_max;
	r.hdr->created_unix_ns = 1700000000ull * SEC;

	struct table_client me;
	if (client_register(&r, &me) < 0)
		return -1;
	me.entry->attach_unix_ns = 1700000001ull * SEC;
	for (unsigned i = 0; i < sd->keys; i++) {
		char buf[16];
		unsigned info;
		unsigned len = fuzz_key(i, buf);
		table_decide(&r, &me, (uint64_t)(i + 1) * SEC, buf, len, &info);
	}
	for (unsigned i = 0; i < sd->cleared; i++) {
		char buf[16];
		unsigned len = fuzz_key(3 * i, buf);
		table_clear_key(&r, &me, buf, len);
	}
	if (sd->dying) {
		/* A removal that stopped after its DYING CAS: the hop bit is still set.
		 * The remover's cleared counter went up (the key no longer exists). */
		uint32_t s = slot_of(&r, 1);
		if (s != UINT32_MAX) {
			struct region_slot *p = region_slot(&r, s);
			uint64_t c = atomic_load(&p->ctrl);
			atomic_store(&p->ctrl, CTRL_NEXT(c, SLOT_DYING));
			atomic_fetch_add(&me.entry->ctr[CTR_CLEARED], 1);
		}
	}
	if (sd->orphan && sd->client_max > 1) {
		/* Client 1 died between claiming an empty slot and publishing it. */
		for (uint32_t s = 0; s <= r.mask; s++) {
			struct region_slot *p = region_slot(&r, s);
			uint64_t c = atomic_load(&p->ctrl);
			if (CTRL_STATE(c) != SLOT_EMPTY)
				continue;
			atomic_store(&p->ctrl, CTRL_MAKE(SLOT_CLAIMED, 0x123, 1, CTRL_GEN(c) + 1));
			atomic_store(&p->home, s);
			break;
		}
		struct region_client *e = region_client(&r, 1);
		atomic_store(&e->owner, CLIENT_OWNER(CLIENT_LIVE, PID_GONE));
		atomic_store(&e->wm, 2 * SEC);
		e->attach_unix_ns = 1700000002ull * SEC;
		uint32_t hwm = atomic_load(&r.hdr->client_hwm);
		if (hwm < 2)
			atomic_store(&r.hdr->client_hwm, 2);
	}
#ifdef REGION_DISPLACE
	if (sd->moving) {
		/* Stop a move of key k2 where move_key() commits it: the copy made in
		 * an empty slot of its neighbourhood, the source frozen MOVING (owner
		 * field: the destination's hop bit), the hop word not switched yet. */
		uint32_t a = slot_of(&r, 2);
		struct region_slot *sa = a != UINT32_MAX ? region_slot(&r, a) : NULL;
		uint32_t home = sa != NULL ? atomic_load(&sa->home) : 0;
		for (uint32_t d = 0; sa != NULL && d < REGION_NBHD; d++) {
			struct region_slot *se = region_slot(&r, home + d);
			uint64_t c = atomic_load(&se->ctrl), ca = atomic_load(&sa->ctrl);
			if (CTRL_STATE(c) != SLOT_EMPTY)
				continue;
			atomic_store(&se->key_len, atomic_load(&sa->key_len));
			atomic_store(&se->key[0], atomic_load(&sa->key[0]));
			atomic_store(&se->home, home);
			atomic_store(&se->last, atomic_load(&sa->last));
			atomic_store(&se->ctrl, CTRL_MAKE(SLOT_CLAIMED, CTRL_TAG(ca), me.index,
			                                  CTRL_GEN(c) + 1));
			atomic_store(&sa->ctrl, CTRL_MAKE(SLOT_MOVING, CTRL_TAG(ca), d,
			                                  CTRL_GEN(ca) + 1));
			break;
		}
	}
#endif
	if (sd->keep_client)
		atomic_store(&me.entry->owner, CLIENT_OWNER(CLIENT_LIVE, sd->pid));
	else
		client_release(&r, &me);

	char name[256];
	snprintf(name, sizeof name, "%s.region", sd->file);
	rc = write_file(dir, name, r.hdr, r.map_size);
	region_unmap(&r);
	return rc;
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: make_corpus DIR\n");
		return 2;
	}
	for (size_t i = 0; i < sizeof seeds / sizeof seeds[0]; i++)
		if (make(argv[1], &seeds[i]) < 0)
			return 1;
	return 0;
}
