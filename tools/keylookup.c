#include "keylookup.h"

#include <errno.h>
#include <string.h>

#include "json.h"
#include "keylist.h"
#include "toolutil.h"

/* Time until a key's open window closes: last + window - now, saturated. */
static uint64_t reopens_in(uint64_t last, uint64_t now, uint64_t window)
{
	if (last < now)
		return window - (now - last); /* open: now - last < window */
	uint64_t ahead = last - now;
	return ahead > UINT64_MAX - window ? UINT64_MAX : ahead + window;
}

static void found_text(FILE *f, const struct key_list *l, uint64_t now)
{
	const struct key_row *k = &l->rows[0];
	char age[64], in[64];
	fprintf(f, "last %llu ns, age %s, window ", (unsigned long long)k->last,
	        key_age_human(k->last, now, age, sizeof age));
	if (!key_window_open(k->last, now, l->window_ns)) {
		fputs("closed\n", f);
		return;
	}
	duration_human(reopens_in(k->last, now, l->window_ns), in, sizeof in);
	if (k->processed < l->limit)
		fprintf(f, "open, %u of %u processed (room for %u more), closes in %s\n",
		        k->processed, l->limit, l->limit - k->processed, in);
	else
		fprintf(f, "open, %u of %u processed (full), reopens in %s\n", k->processed, l->limit,
		        in);
}

static void one_text(FILE *f, const char *name, const char *typed, const struct key_list *l,
                     uint64_t now)
{
	fprintf(f, "throttle '%s': key '%s': ", name, typed);
	if (l->n == 0)
		fputs("not tracked\n", f);
	else
		found_text(f, l, now);
}

static void one_json(FILE *f, const struct key_query *q, const struct key_list *l,
                     uint64_t now)
{
	struct json j;
	json_init(&j, f);
	json_object(&j, NULL);
	keys_json_key(&j, q->prefix, q->prefix_len);
	json_u64(&j, "len", q->prefix_len);
	json_bool(&j, "tracked", l->n != 0);
	json_u64(&j, "window_ns", l->window_ns);
	if (l->n != 0) {
		const struct key_row *k = &l->rows[0];
		bool open = key_window_open(k->last, now, l->window_ns);
		json_u64(&j, "last_ns", k->last);
		json_i64(&j, "age_ns", key_age(k->last, now));
		json_bool(&j, "open", open);
		json_u64(&j, "processed_in_window", k->processed);
		json_u64(&j, "limit", l->limit);
		if (open)
			json_u64(&j, "reopens_in_ns", reopens_in(k->last, now, l->window_ns));
	}
	json_end(&j, '}');
	fputc('\n', f);
}

int keys_lookup(FILE *f, const evt_throttle *t, const char *name, char *const *keys, size_t n,
                uint64_t now, bool json)
{
	for (size_t i = 0; i < n; i++) {
		struct key_query q = { .exact = true, .now = now };
		struct key_list l;
		if (key_unescape(keys[i], q.prefix, sizeof q.prefix, &q.prefix_len) < 0)
			return -EMSGSIZE; /* checked when parsing */
		int rc = keys_collect(t, &q, &l);
		if (rc == 0 && json)
			one_json(f, &q, &l, now);
		else if (rc == 0)
			one_text(f, name, keys[i], &l, now);
		keys_free(&l);
		if (rc < 0)
			return rc;
	}
	return 0;
}
