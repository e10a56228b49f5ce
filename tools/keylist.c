#include "keylist.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "duration.h"
#include "handle.h"
#include "json.h"
#include "toolutil.h"

/* p with room for need elements (NULL if out of memory; p stays valid). */
static void *grow(void *p, size_t *cap, size_t need, size_t elem)
{
	if (need <= *cap)
		return p;
	size_t n = *cap != 0 ? *cap : 64;
	while (n < need)
		n *= 2;
	void *q = realloc(p, n * elem);
	if (q != NULL)
		*cap = n;
	return q;
}

static int add(struct key_list *l, const struct table_entry *e)
{
	struct key_row *rows = grow(l->rows, &l->cap, l->n + 1, sizeof *rows);
	if (rows == NULL)
		return -ENOMEM;
	l->rows = rows;
	unsigned char *bytes = grow(l->bytes, &l->size, l->used + e->len, 1);
	if (bytes == NULL)
		return -ENOMEM;
	l->bytes = bytes;
	l->rows[l->n++] = (struct key_row){ e->last, e->slot, e->home, e->len, e->processed, l->used };
	memcpy(l->bytes + l->used, e->key, e->len);
	l->used += e->len;
	return 0;
}

struct order {
	const unsigned char *bytes;
	bool oldest;
};

/* Newest (largest last) first, or oldest first; ties by key bytes, so the order
 * is stable. */
static int by_age(const void *a, const void *b, void *ctx)
{
	const struct key_row *x = a, *y = b;
	const struct order *o = ctx;
	if (x->last != y->last)
		return (x->last > y->last) != o->oldest ? -1 : 1;
	size_t n = x->len < y->len ? x->len : y->len;
	int c = memcmp(o->bytes + x->off, o->bytes + y->off, n);
	return c != 0 ? c : (int)x->len - (int)y->len;
}

int keys_collect(const evt_throttle *t, const struct key_query *q, struct key_list *l)
{
	const struct region *r = &t->r;
	struct table_entry e;
	memset(l, 0, sizeof *l);
	l->window_ns = evt_get_window(t);
	l->limit = evt_get_limit(t);
	for (uint32_t i = 0; i <= r->mask; i++) {
		if (!table_read_slot(r, i, &e))
			continue;
		l->scanned++;
		if (e.len < q->prefix_len || (q->exact && e.len != q->prefix_len) ||
		    memcmp(e.key, q->prefix, q->prefix_len) != 0)
			continue;
		if (add(l, &e) < 0)
			return -ENOMEM;
	}
	struct order o = { l->bytes, q->oldest };
	if (l->n > 1)
		qsort_r(l->rows, l->n, sizeof *l->rows, by_age, &o);
	return 0;
}

void keys_free(struct key_list *l)
{
	free(l->rows);
	free(l->bytes);
	memset(l, 0, sizeof *l);
}

static size_t shown(const struct key_list *l, const struct key_query *q)
{
	return q->limit != 0 && q->limit < l->n ? (size_t)q->limit : l->n;
}

int64_t key_age(uint64_t last, uint64_t now)
{
	if (now >= last)
		return now - last > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)(now - last);
	return last - now > (uint64_t)INT64_MAX ? INT64_MIN : -(int64_t)(last - now);
}

bool key_window_open(uint64_t last, uint64_t now, uint64_t window)
{
	return !(now >= last && now - last >= window);
}

char *key_age_human(uint64_t last, uint64_t now, char *buf, size_t size)
{
	/* A key ahead of the reference time gets a negative age. */
	bool ahead = last > now;
	buf[0] = '-';
	duration_human(ahead ? last - now : now - last, buf + 1, size - 1);
	return ahead ? buf : buf + 1;
}

void keys_text(FILE *f, const char *name, const struct key_list *l, const struct key_query *q)
{
	char w[64], age[64], key[KEY_ESCAPED_MAX];
	size_t n = shown(l, q);
	fprintf(f, "throttle '%s': %zu of %zu keys (%llu tracked), window %s, ages at %llu ns\n",
	        name, n, l->n, (unsigned long long)l->scanned,
	        duration_format(l->window_ns, w, sizeof w), (unsigned long long)q->now);
	fprintf(f, "%-20s  %-14s  %-6s  %s\n", "LAST_NS", "AGE", "WINDOW", "KEY");
	for (size_t i = 0; i < n; i++) {
		const struct key_row *k = &l->rows[i];
		bool open = key_window_open(k->last, q->now, l->window_ns);
		fprintf(f, "%-20llu  %-14s  %-6s  %s\n", (unsigned long long)k->last,
		        key_age_human(k->last, q->now, age, sizeof age), open ? "open" : "closed",
		        key_escape(l->bytes + k->off, k->len, key, sizeof key));
	}
}

void keys_json_key(struct json *j, const unsigned char *key, size_t len)
{
	char hex[2 * REGION_KEY_MAX + 1];
	if (json_utf8_valid(key, len)) {
		json_strn(j, "key", (const char *)key, len);
		return;
	}
	for (size_t i = 0; i < len; i++)
		snprintf(hex + 2 * i, 3, "%02x", key[i]);
	hex[2 * len] = '\0';
	json_null(j, "key");
	json_str(j, "key_hex", hex);
}

void keys_json(FILE *f, const struct key_list *l, const struct key_query *q)
{
	struct json j;
	json_init(&j, f);
	json_array(&j, NULL);
	for (size_t i = 0; i < shown(l, q); i++) {
		const struct key_row *k = &l->rows[i];
		json_object(&j, NULL);
		keys_json_key(&j, l->bytes + k->off, k->len);
		json_u64(&j, "len", k->len);
		json_u64(&j, "last_ns", k->last);
		json_i64(&j, "age_ns", key_age(k->last, q->now));
		json_bool(&j, "open", key_window_open(k->last, q->now, l->window_ns));
		json_u64(&j, "processed_in_window", k->processed);
		json_u64(&j, "slot", k->slot);
		json_u64(&j, "home", k->home);
		json_end(&j, '}');
	}
	json_end(&j, ']');
	fputc('\n', f);
}
