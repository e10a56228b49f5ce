/* evthrottle._evthrottle.Throttle: one libevthrottle handle.  Every call checks the
 * handle is open; decisions keep the GIL (a few ns of C), calls that may take long
 * (create, attach, clear, a long batch, a global throttle's decision that asks
 * Redis) release it.  close() while such a call runs
 * leaves the handle to the last of them (users), so no call uses a freed handle. */
#include "ext.h"

#include <errno.h>
#include <stddef.h>
#include <unistd.h>

evt_throttle *throttle_handle(throttle_obj *s)
{
	if (s->t == NULL)
		PyErr_SetString(PyExc_ValueError, "operation on a closed EventThrottler");
	return s->t;
}

static void release(throttle_obj *s, evt_throttle *t)
{
	/* A forked child holds a copy of its parent's handle: closing it there would
	 * free the parent's client slot, so the child only drops it. */
	if (getpid() == s->pid)
		evt_close(t);
}

void throttle_enter(throttle_obj *s)
{
	s->users++;
}

void throttle_leave(throttle_obj *s)
{
	if (--s->users == 0 && s->closing != NULL) {
		release(s, s->closing);
		s->closing = NULL;
	}
}

/* Seconds to ns; the module state (for Fraction, Decimal) only for other types. */
int timestamp_get(PyObject *self, PyObject *v, uint64_t *ns)
{
	ext_state *st = PyFloat_CheckExact(v) || PyLong_CheckExact(v)
				? NULL : state_of_type(Py_TYPE(self));
	return seconds_to_ns(st, v, "timestamp", ns);
}

static int open_throttle(throttle_obj *s, const char *name, int create, int readonly,
			 const evt_options *o)
{
	int rc;
	evt_throttle *t = NULL;
	Py_BEGIN_ALLOW_THREADS
	rc = create ? evt_create(name, o, &t) : evt_attach(name, readonly ? EVT_RDONLY : 0, &t);
	Py_END_ALLOW_THREADS
	if (rc < 0)
		return rc;
	evt_stats stats;
	rc = evt_stats_get(t, &stats);
	if (rc < 0) {
		evt_close(t);
		return rc;
	}
	s->t = t;
	s->pid = getpid();
	s->key_max = stats.key_max;
	s->readonly = readonly;
	s->global = evt_is_global(t) == 1;
	return 0;
}

/* An option given as an int from 0 (the default) to max: EvtError EINVAL saying the
 * value and the limit otherwise (TypeError for another type). */
static int option_get(ext_state *st, PyObject *o, const char *what, unsigned max,
		      unsigned *out)
{
	if (o == NULL)
		return 0;
	if (!PyLong_Check(o)) {
		PyErr_Format(PyExc_TypeError, "%s must be int, not %.100s", what,
			     Py_TYPE(o)->tp_name);
		return -1;
	}
	int overflow;
	long long v = PyLong_AsLongLongAndOverflow(o, &overflow);
	if (v == -1 && PyErr_Occurred())
		return -1;
	if (overflow < 0 || (overflow == 0 && v < 0)) {
		raise_evt_detail(st, -EINVAL, NULL, "%s must not be negative (0 for the default)",
				 what);
		return -1;
	}
	if (overflow > 0 || v > (long long)max) {
		PyObject *r = PyObject_Repr(o);
		const char *text = r != NULL ? PyUnicode_AsUTF8(r) : NULL;
		if (text != NULL)
			raise_evt_detail(st, -EINVAL, NULL, "%s %s is above %u", what, text, max);
		Py_XDECREF(r);
		return -1;
	}
	*out = (unsigned)v;
	return 0;
}

/* Throttle()'s options as given: NULL or None where left out (EVT_OPTIONS_INIT's). */
typedef struct {
	PyObject *window, *client_idle;       /* seconds, > 0 */
	PyObject *capacity, *key_max, *limit; /* ints, 0 for the default */
	unsigned on_full, on_stale;
	int shadow, huge_pages;
	/* A global throttle (evt_global) when redis is not NULL. */
	const char *redis, *global_name, *auth_file;
	PyObject *timeout; /* seconds, > 0; None: 2 ms, as in evthrottled.conf */
	unsigned on_unreachable;
} init_options;

/* The default timeout of a global throttle: evthrottled.conf's. */
#define EXT_GLOBAL_TIMEOUT_NS 2000000u

/* The global options into *g (o->global = g), if redis is given; the others
 * without it are refused (ValueError). */
static int global_get(ext_state *st, const init_options *a, evt_global *g, evt_options *o)
{
	if (a->redis == NULL) {
		if (a->global_name == NULL && a->auth_file == NULL && a->timeout == Py_None &&
		    a->on_unreachable == 0)
			return 0;
		PyErr_SetString(PyExc_ValueError, "global_name, timeout, on_unreachable and "
				"auth_file belong to a global throttle: give redis too");
		return -1;
	}
	*g = (evt_global){ .redis = a->redis, .name = a->global_name,
			   .timeout_ns = EXT_GLOBAL_TIMEOUT_NS,
			   .on_unreachable = a->on_unreachable, .auth_file = a->auth_file };
	if (a->timeout != Py_None &&
	    positive_seconds_to_ns(st, a->timeout, "timeout", &g->timeout_ns) < 0)
		return -1;
	o->global = g;
	return 0;
}

static int options_get(ext_state *st, const init_options *a, evt_options *o)
{
	unsigned capacity = 0, key_max = 0, limit = 0;
	if (option_get(st, a->capacity, "capacity", EXT_CAPACITY_MAX, &capacity) < 0 ||
	    option_get(st, a->key_max, "key_max", EXT_KEY_MAX, &key_max) < 0 ||
	    option_get(st, a->limit, "limit", EVT_LIMIT_MAX, &limit) < 0)
		return -1;
	if (a->window != Py_None && window_to_ns(st, a->window, &o->window_ns) < 0)
		return -1;
	if (a->client_idle != Py_None &&
	    positive_seconds_to_ns(st, a->client_idle, "client_idle", &o->client_idle_ns) < 0)
		return -1;
	o->capacity = capacity ? capacity : o->capacity;
	o->key_max = key_max ? key_max : o->key_max;
	o->limit = limit ? limit : o->limit;
	o->on_full = a->on_full;
	o->on_stale = a->on_stale;
	o->shadow = (uint32_t)a->shadow;
	o->huge_pages = (uint32_t)a->huge_pages;
	return 0;
}

/* The name, and whether to create: a private throttle (no name) is created. */
static int target_get(PyObject *name, int *create, int readonly, const char **cname)
{
	*cname = NULL;
	if (name != Py_None && name_get(name, cname) < 0)
		return -1;
	*create = *create || *cname == NULL;
	if (*create && readonly) {
		PyErr_SetString(PyExc_ValueError,
				"readonly=True attaches to an existing named throttle");
		return -1;
	}
	return 0;
}

/* Throttle(name=None, *, create=False, readonly=False, window=None, capacity=0,
 *          key_max=0, on_full=0, on_stale=0, client_idle=None, limit=0,
 *          shadow=False, huge_pages=False, redis=None, global_name=None,
 *          timeout=None, on_unreachable=0, auth_file=None): a private throttle (no
 * name), a named one created (create), or attached to; global (evt_global) if
 * redis is given.  Options left 0 or None are EVT_OPTIONS_INIT's. */
static int throttle_init(PyObject *self, PyObject *args, PyObject *kw)
{
	static char *names[] = {"name", "create", "readonly", "window", "capacity",
				"key_max", "on_full", "on_stale", "client_idle", "limit",
				"shadow", "huge_pages", "redis", "global_name", "timeout",
				"on_unreachable", "auth_file", NULL};
	throttle_obj *s = (throttle_obj *)self;
	ext_state *st = state_of_type(Py_TYPE(self));
	PyObject *name = Py_None;
	int create = 0, readonly = 0;
	evt_options o = EVT_OPTIONS_INIT;
	evt_global g;
	init_options a = {.window = Py_None, .client_idle = Py_None, .on_full = o.on_full,
			  .on_stale = o.on_stale, .timeout = Py_None};
	const char *cname;
	if (!PyArg_ParseTupleAndKeywords(args, kw, "|O$ppOOOIIOOppzzOIz", names, &name,
					 &create, &readonly, &a.window, &a.capacity,
					 &a.key_max, &a.on_full, &a.on_stale, &a.client_idle,
					 &a.limit, &a.shadow, &a.huge_pages, &a.redis,
					 &a.global_name, &a.timeout, &a.on_unreachable,
					 &a.auth_file) ||
	    options_get(st, &a, &o) < 0 || global_get(st, &a, &g, &o) < 0)
		return -1;
	if (s->t != NULL || s->closing != NULL) {
		PyErr_SetString(PyExc_RuntimeError, "the throttler is open already");
		return -1;
	}
	if (target_get(name, &create, readonly, &cname) < 0)
		return -1;
	int rc = open_throttle(s, cname, create, readonly, &o);
	if (rc < 0) {
		raise_evt(st, rc, name);
		return -1;
	}
	Py_INCREF(name);
	Py_XSETREF(s->name, name);
	return 0;
}

static void throttle_dealloc(PyObject *self)
{
	throttle_obj *s = (throttle_obj *)self;
	PyTypeObject *tp = Py_TYPE(self);
	if (s->t != NULL)
		release(s, s->t);
	Py_CLEAR(s->name);
	tp->tp_free(self);
	Py_DECREF(tp);
}

/* should_process's arguments by position or by name (the seed's callers may name
 * them); *out[i] is borrowed. */
static int bind_decision_args(PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames,
			      PyObject *out[3])
{
	static const char *const names[3] = {"timestamp", "event_id", "key"};
	Py_ssize_t nkw = kwnames != NULL ? PyTuple_GET_SIZE(kwnames) : 0;
	if (nargs + nkw != 3 || nargs > 3) {
		PyErr_Format(PyExc_TypeError, "should_process(timestamp, event_id, key) takes "
			     "3 arguments (%zd given)", nargs + nkw);
		return -1;
	}
	for (int i = 0; i < 3; i++)
		out[i] = i < nargs ? args[i] : NULL;
	for (Py_ssize_t k = 0; k < nkw; k++) {
		PyObject *name = PyTuple_GET_ITEM(kwnames, k);
		int i = 0;
		while (i < 3 && PyUnicode_CompareWithASCIIString(name, names[i]) != 0)
			i++;
		if (i == 3 || out[i] != NULL) {
			PyErr_Format(PyExc_TypeError, "should_process() got %s argument %R",
				     i == 3 ? "an unexpected keyword" : "multiple values for",
				     name);
			return -1;
		}
		out[i] = args[nargs + k];
	}
	return 0;
}

PyObject *key_error(throttle_obj *s, int rc, Py_ssize_t key_len, PyObject *name)
{
	ext_state *st = state_of_type(Py_TYPE(s));
	evt_stats stats;
	if (rc == -EMSGSIZE)
		return evt_error_detail(st, rc, name, "key is %zd bytes, this throttle's key_max "
					"is %u", key_len, s->key_max);
	if (rc == -ENOSPC && s->t != NULL && evt_stats_get(s->t, &stats) == 0)
		return evt_error_detail(st, rc, name, "table full: %u slots, %llu keys; raise "
					"capacity or lower the window", stats.capacity,
					(unsigned long long)stats.keys);
	return evt_error(st, rc, name);
}

static void *raise_key_error(PyObject *self, int rc, Py_ssize_t key_len, PyObject *name)
{
	PyObject *e = key_error((throttle_obj *)self, rc, key_len, name);
	if (e != NULL) {
		PyErr_SetObject((PyObject *)Py_TYPE(e), e);
		Py_DECREF(e);
	}
	return NULL;
}

/* One decision.  A global throttle's that its host cannot make alone (a round
 * trip to Redis, up to its timeout) runs without the GIL; the others keep it:
 * evt_should_process_local() is evt_should_process() where it answers. */
static int decide_one(throttle_obj *s, evt_throttle *t, uint64_t ns, const ext_key *k)
{
	if (!s->global)
		return evt_should_process(t, ns, NULL, k->p, (size_t)k->len);
	int rc = evt_should_process_local(t, ns, k->p, (size_t)k->len);
	if (rc != -EWOULDBLOCK)
		return rc;
	throttle_enter(s); /* t stays valid if another thread closes the throttler */
	Py_BEGIN_ALLOW_THREADS
	rc = evt_should_process(t, ns, NULL, k->p, (size_t)k->len);
	Py_END_ALLOW_THREADS
	throttle_leave(s);
	return rc;
}

static PyObject *t_should_process(PyObject *self, PyObject *const *args, Py_ssize_t nargs,
				  PyObject *kwnames)
{
	PyObject *a[3];
	if (kwnames != NULL || nargs != 3) {
		if (bind_decision_args(args, nargs, kwnames, a) < 0)
			return NULL;
		args = a;
	}
	evt_throttle *t = throttle_handle((throttle_obj *)self);
	uint64_t ns;
	ext_key k;
	if (t == NULL || timestamp_fast(self, args[0], &ns) < 0 || key_fast(args[2], &k) < 0)
		return NULL;
	int rc = decide_one((throttle_obj *)self, t, ns, &k);
	key_done(&k);
	if (rc < 0)
		return raise_key_error(self, rc, k.len, NULL);
	return bool_of(rc);
}

/* peek(timestamp, key): positional only, as the library's call. */
static PyObject *t_peek(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
	if (nargs != 2) {
		PyErr_Format(PyExc_TypeError, "peek(timestamp, key) takes 2 arguments (%zd "
			     "given)", nargs);
		return NULL;
	}
	evt_throttle *t = throttle_handle((throttle_obj *)self);
	uint64_t ns;
	ext_key k;
	if (t == NULL || timestamp_fast(self, args[0], &ns) < 0 || key_fast(args[1], &k) < 0)
		return NULL;
	int rc = evt_peek(t, ns, k.p, (size_t)k.len);
	key_done(&k);
	if (rc < 0)
		return raise_key_error(self, rc, k.len, NULL);
	return bool_of(rc);
}

static PyObject *t_set_shadow(PyObject *self, PyObject *on)
{
	throttle_obj *s = (throttle_obj *)self;
	evt_throttle *t = throttle_handle(s);
	if (t == NULL)
		return NULL;
	if (!PyBool_Check(on)) {
		PyErr_Format(PyExc_TypeError, "set_shadow() takes True or False, not %.100s",
			     Py_TYPE(on)->tp_name);
		return NULL;
	}
	int rc = evt_set_shadow(t, on == Py_True);
	if (rc < 0)
		return raise_evt(state_of_type(Py_TYPE(self)), rc, s->name);
	Py_RETURN_NONE;
}

static PyObject *t_get_shadow(PyObject *self, PyObject *unused)
{
	(void)unused;
	throttle_obj *s = (throttle_obj *)self;
	evt_throttle *t = throttle_handle(s);
	if (t == NULL)
		return NULL;
	int rc = evt_get_shadow(t);
	if (rc < 0)
		return raise_evt(state_of_type(Py_TYPE(self)), rc, s->name);
	return bool_of(rc);
}

static PyObject *t_prefetch(PyObject *self, PyObject *key)
{
	evt_throttle *t = throttle_handle((throttle_obj *)self);
	ext_key k;
	if (t == NULL || key_fast(key, &k) < 0)
		return NULL;
	int rc = evt_prefetch(t, k.p, (size_t)k.len);
	key_done(&k);
	if (rc < 0)
		return raise_key_error(self, rc, k.len, NULL);
	Py_RETURN_NONE;
}

static PyObject *t_clear_key(PyObject *self, PyObject *key)
{
	throttle_obj *s = (throttle_obj *)self;
	evt_throttle *t = throttle_handle(s);
	ext_key k;
	if (t == NULL || key_fast(key, &k) < 0)
		return NULL;
	int rc = evt_clear_key(t, k.p, (size_t)k.len);
	key_done(&k);
	if (rc < 0)
		return raise_key_error(self, rc, k.len, s->name);
	return PyBool_FromLong(rc);
}

static PyObject *t_update_window(PyObject *self, PyObject *window)
{
	throttle_obj *s = (throttle_obj *)self;
	ext_state *st = state_of_type(Py_TYPE(self));
	evt_throttle *t = throttle_handle(s);
	uint64_t ns;
	if (t == NULL || window_to_ns(st, window, &ns) < 0)
		return NULL;
	int rc = evt_update_window(t, ns);
	if (rc < 0)
		return raise_evt(st, rc, s->name);
	Py_RETURN_NONE;
}

static PyObject *t_update_limit(PyObject *self, PyObject *limit)
{
	throttle_obj *s = (throttle_obj *)self;
	ext_state *st = state_of_type(Py_TYPE(self));
	evt_throttle *t = throttle_handle(s);
	unsigned v = 0; /* set by option_get() when it succeeds (gcc -O3 cannot see it) */
	if (t == NULL || option_get(st, limit, "limit", EVT_LIMIT_MAX, &v) < 0)
		return NULL;
	int rc = evt_update_limit(t, v); /* 0: EINVAL, as the library says */
	if (rc < 0)
		return raise_evt(st, rc, s->name);
	Py_RETURN_NONE;
}

static PyObject *t_get_limit(PyObject *self, PyObject *unused)
{
	(void)unused;
	evt_throttle *t = throttle_handle((throttle_obj *)self);
	return t != NULL ? PyLong_FromUnsignedLong(evt_get_limit(t)) : NULL;
}

static PyObject *t_get_window(PyObject *self, PyObject *unused)
{
	(void)unused;
	evt_throttle *t = throttle_handle((throttle_obj *)self);
	return t != NULL ? ns_to_seconds(evt_get_window(t)) : NULL;
}

static PyObject *t_clear(PyObject *self, PyObject *unused)
{
	(void)unused;
	throttle_obj *s = (throttle_obj *)self;
	evt_throttle *t = throttle_handle(s);
	if (t == NULL)
		return NULL;
	int rc;
	throttle_enter(s);
	Py_BEGIN_ALLOW_THREADS
	rc = evt_clear(t);
	Py_END_ALLOW_THREADS
	throttle_leave(s);
	if (rc < 0)
		return raise_evt(state_of_type(Py_TYPE(self)), rc, s->name);
	return PyLong_FromLong(rc);
}

static PyObject *t_get_key_count(PyObject *self, PyObject *unused)
{
	(void)unused;
	evt_throttle *t = throttle_handle((throttle_obj *)self);
	return t != NULL ? PyLong_FromSize_t(evt_key_count(t)) : NULL;
}

/* The fields of struct evt_stats, in order, but for reserved. */
#define U64_FIELD(f) {#f, offsetof(evt_stats, f), 1}
#define U32_FIELD(f) {#f, offsetof(evt_stats, f), 0}
static const struct stats_field {
	const char *name;
	size_t offset;
	int wide;
} stats_fields[] = {
	U64_FIELD(window_ns), U64_FIELD(processed), U64_FIELD(throttled),
	U64_FIELD(new_keys), U64_FIELD(reclaimed), U64_FIELD(cleared), U64_FIELD(full),
	U64_FIELD(keys), U64_FIELD(horizon_ns), U32_FIELD(capacity), U32_FIELD(key_max),
	U32_FIELD(clients), U32_FIELD(client_max), U32_FIELD(on_full), U32_FIELD(on_stale),
	U64_FIELD(stale), U64_FIELD(client_idle_ns), U32_FIELD(limit), U32_FIELD(shadow),
	U64_FIELD(peeks), U64_FIELD(would_throttle), U64_FIELD(out_of_order),
	U64_FIELD(inside_window), U64_FIELD(global_round_trips), U64_FIELD(global_fallbacks),
	U64_FIELD(global_errors),
};

static PyObject *stats_dict(const evt_stats *stats)
{
	PyObject *d = PyDict_New();
	for (size_t i = 0; d != NULL && i < sizeof stats_fields / sizeof *stats_fields; i++) {
		const struct stats_field *f = &stats_fields[i];
		const char *at = (const char *)stats + f->offset;
		PyObject *v = f->wide ? PyLong_FromUnsignedLongLong(*(const uint64_t *)at)
				      : PyLong_FromUnsignedLong(*(const uint32_t *)at);
		if (v == NULL || PyDict_SetItemString(d, f->name, v) < 0)
			Py_CLEAR(d);
		Py_XDECREF(v);
	}
	return d;
}

static PyObject *t_is_current(PyObject *self, PyObject *unused)
{
	(void)unused;
	throttle_obj *s = (throttle_obj *)self;
	evt_throttle *t = throttle_handle(s);
	if (t == NULL)
		return NULL;
	int rc = evt_is_current(t);
	if (rc < 0)
		return raise_evt(state_of_type(Py_TYPE(self)), rc, s->name);
	return PyBool_FromLong(rc);
}

static PyObject *t_stats(PyObject *self, PyObject *unused)
{
	(void)unused;
	throttle_obj *s = (throttle_obj *)self;
	evt_throttle *t = throttle_handle(s);
	if (t == NULL)
		return NULL;
	evt_stats stats;
	int rc = evt_stats_get(t, &stats);
	if (rc < 0)
		return raise_evt(state_of_type(Py_TYPE(self)), rc, s->name);
	return stats_dict(&stats);
}

static PyObject *t_close(PyObject *self, PyObject *unused)
{
	(void)unused;
	throttle_obj *s = (throttle_obj *)self;
	evt_throttle *t = s->t;
	s->t = NULL;
	if (t != NULL && s->users > 0)
		s->closing = t; /* closed by the last call running without the GIL */
	else if (t != NULL)
		release(s, t);
	Py_RETURN_NONE;
}

static PyObject *t_get_name(PyObject *self, void *unused)
{
	(void)unused;
	PyObject *name = ((throttle_obj *)self)->name;
	return Py_NewRef(name != NULL ? name : Py_None);
}

static PyObject *t_get_readonly(PyObject *self, void *unused)
{
	(void)unused;
	return PyBool_FromLong(((throttle_obj *)self)->readonly);
}

static PyObject *t_get_closed(PyObject *self, void *unused)
{
	(void)unused;
	return PyBool_FromLong(((throttle_obj *)self)->t == NULL);
}

static PyMethodDef throttle_methods[] = {
	{"should_process", (PyCFunction)(void (*)(void))t_should_process,
	 METH_FASTCALL | METH_KEYWORDS,
	 PyDoc_STR("should_process(timestamp, event_id, key) -> bool\n"
		   "\n"
		   "True if the event of key at timestamp (seconds) is to be processed: the key has\n"
		   "no processed event yet, or its last one is at least a window older (with a\n"
		   "limit N: its window has had fewer than N; in shadow mode, always).  event_id\n"
		   "takes no part.  Keys: str (UTF-8), bytes-like, or int (int64, host byte order).")},
	{"should_process_many", throttle_should_process_many, METH_O,
	 PyDoc_STR("should_process_many(events) -> list[bool]\n"
		   "\n"
		   "Decide an iterable of (timestamp, event_id, key), with the answers of\n"
		   "should_process() on each in turn.  Bad input decides nothing; 65536 events\n"
		   "or more (GIL_FREE_BATCH) are decided without the GIL.")},
	{"peek", (PyCFunction)(void (*)(void))t_peek, METH_FASTCALL,
	 PyDoc_STR("peek(timestamp, key) -> bool\n"
		   "\n"
		   "What should_process() would answer now, deciding nothing (evt_peek): a\n"
		   "moment's answer, which another decision may change before yours.")},
	{"set_shadow", t_set_shadow, METH_O,
	 PyDoc_STR("set_shadow(on) -> None\n"
		   "\n"
		   "Shadow mode on (True) or off, for every later decision of every process:\n"
		   "decisions are made and counted, but what the rule denies is answered True\n"
		   "(counted in stats()['would_throttle']).")},
	{"get_shadow", t_get_shadow, METH_NOARGS,
	 PyDoc_STR("get_shadow() -> bool\n"
		   "\n"
		   "True in shadow mode.")},
	{"prefetch", t_prefetch, METH_O,
	 PyDoc_STR("prefetch(key) -> None\n"
		   "\n"
		   "Start fetching the key's slot into this CPU's cache (evt_prefetch): a hint\n"
		   "that changes nothing, for a key decided shortly after.")},
	{"is_current", t_is_current, METH_NOARGS,
	 PyDoc_STR("is_current() -> bool\n"
		   "\n"
		   "True while the throttle's name still refers to the region this object maps;\n"
		   "False once it was removed (evthrottled --remove) or replaced (--recreate):\n"
		   "close it and attach again (evt_is_current).  A private throttle raises EvtError.")},
	{"clear_key", t_clear_key, METH_O,
	 PyDoc_STR("clear_key(key) -> bool\n"
		   "\n"
		   "Forget one key: True if it was tracked.")},
	{"update_window", t_update_window, METH_O,
	 PyDoc_STR("update_window(window) -> None\n"
		   "\n"
		   "Set the window (seconds, > 0) for every later decision of every process.")},
	{"update_limit", t_update_limit, METH_O,
	 PyDoc_STR("update_limit(limit) -> None\n"
		   "\n"
		   "Set the limit, the processed events a key may have in each of its windows\n"
		   "(1 .. EVT_LIMIT_MAX), for every later decision of every process.")},
	{"get_limit", t_get_limit, METH_NOARGS,
	 PyDoc_STR("get_limit() -> int\n"
		   "\n"
		   "The limit: processed events per key per window (1: the seed's rule).")},
	{"get_window", t_get_window, METH_NOARGS,
	 PyDoc_STR("get_window() -> int | float\n"
		   "\n"
		   "The window in seconds: an int when whole.")},
	{"clear", t_clear, METH_NOARGS,
	 PyDoc_STR("clear() -> int\n"
		   "\n"
		   "Forget every key; returns how many were tracked (without the GIL).")},
	{"get_key_count", t_get_key_count, METH_NOARGS,
	 PyDoc_STR("get_key_count() -> int\n"
		   "\n"
		   "The number of keys tracked now.")},
	{"stats", t_stats, METH_NOARGS,
	 PyDoc_STR("stats() -> dict\n"
		   "\n"
		   "The throttle's totals (evt_stats_get), times in ns.")},
	{"close", t_close, METH_NOARGS,
	 PyDoc_STR("close() -> None\n"
		   "\n"
		   "Detach (evt_close); idempotent.  The throttle and its state stay.")},
	{NULL, NULL, 0, NULL},
};

static PyGetSetDef throttle_getset[] = {
	{"name", t_get_name, NULL, "The throttle's name, or None for a private one.", NULL},
	{"readonly", t_get_readonly, NULL, "Attached with EVT_RDONLY.", NULL},
	{"closed", t_get_closed, NULL, "close() was called (or the open failed).", NULL},
	{NULL, NULL, NULL, NULL, NULL},
};

static PyType_Slot throttle_slots[] = {
	{Py_tp_init, throttle_init},
	{Py_tp_new, PyType_GenericNew},
	{Py_tp_dealloc, throttle_dealloc},
	{Py_tp_methods, throttle_methods},
	{Py_tp_getset, throttle_getset},
	{Py_tp_doc, "One libevthrottle handle; see evthrottle.EventThrottler."},
	{0, NULL},
};

PyType_Spec throttle_spec = {
	.name = "evthrottle._evthrottle.Throttle",
	.basicsize = sizeof(throttle_obj),
	.flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
	.slots = throttle_slots,
};
