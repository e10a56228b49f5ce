/* Throttle.should_process_many(events): a burst decided with the answers of
 * should_process() on each event in turn.  After a loop that starts fetching
 * every event's key object, two passes:
 *   1. every event is converted, and its key hashed and its slot prefetched
 *      (evt_prefetch_key()), so that the slots' cache misses overlap the
 *      conversion of the events after them; bad input raises here, before
 *      anything is decided;
 *   2. each event is decided on the hash it was given (evt_should_process_key()),
 *      a long burst, or any burst of a global throttle (round trips to Redis),
 *      without the GIL, so that other threads run meanwhile.
 * Keys are not copied: a str or bytes key is read in place, in the object that
 * the burst's tuple (held here) holds, which nothing can change; an int key's
 * bytes and a copy of any other bytes-like key are kept here. */
#include "ext.h"

/* Bursts up to this long keep their events on the stack. */
#define STACK_EVENTS 64

typedef struct {
	evt_key key;    /* from evt_prefetch_key() */
	uint64_t ts_ns;
	int64_t word;   /* an int key's bytes: key.key points here */
	int result;     /* pass 1: evt_prefetch_key()'s error; pass 2: the answer */
} event;

typedef struct {
	evt_throttle *t;
	event *ev;
	PyObject *keep;      /* list of what the keys point into, made here (or NULL) */
	PyObject *last_ts;   /* the previous event's timestamp object, and its ns: */
	uint64_t last_ns;    /* a burst often shares one */
	Py_ssize_t bad;      /* the first event whose key the library refused, or -1 */
} burst;

/* Keeps o alive until the burst is done: takes the caller's reference (the list
 * holds o then, or o is freed on failure). */
static int keep(burst *b, PyObject *o)
{
	if (o == NULL || (b->keep == NULL && (b->keep = PyList_New(0)) == NULL)) {
		Py_XDECREF(o);
		return -1;
	}
	int rc = PyList_Append(b->keep, o);
	Py_DECREF(o);
	return rc;
}

/* The key's bytes, stable until the burst is done: in place (str, bytes), or a
 * copy (an int's word, another bytes-like object: a bytearray may change). */
static int key_of(burst *b, event *e, PyObject *o, const void **p, size_t *len)
{
	ext_key k;
	if (key_fast(o, &k) < 0)
		return -1;
	if (k.p == (const char *)&k.word) {
		e->word = k.word;
		k.p = (const char *)&e->word;
	} else if (k.has_view) {
		PyObject *copy = PyBytes_FromStringAndSize(k.p, k.len);
		key_done(&k);
		if (copy == NULL)
			return -1;
		k.p = PyBytes_AS_STRING(copy);
		if (keep(b, copy) < 0)
			return -1;
	}
	*p = k.p;
	*len = (size_t)k.len;
	return 0;
}

static int timestamp_of(PyObject *self, burst *b, PyObject *v, uint64_t *ns)
{
	if (v == b->last_ts) {
		*ns = b->last_ns;
		return 0;
	}
	if (timestamp_fast(self, v, ns) < 0)
		return -1;
	if (PyFloat_CheckExact(v) || PyLong_CheckExact(v)) { /* immutable, and held by */
		b->last_ts = v;                               /* its event's tuple: never */
		b->last_ns = *ns;                             /* a reused address */
	}
	return 0;
}

/* The event as a tuple of 3: an exact tuple as it is (borrowed), anything else
 * copied into one, kept (the caller's code that converting may run cannot
 * change it under us). */
static PyObject *event_tuple(burst *b, PyObject *item, Py_ssize_t i)
{
	PyObject *tuple = item;
	if (!PyTuple_CheckExact(item) &&
	    ((tuple = PySequence_Tuple(item)) == NULL || keep(b, tuple) < 0))
		return NULL;
	if (PyTuple_GET_SIZE(tuple) != 3) {
		PyErr_Format(PyExc_ValueError,
			     "event %zd: expected (timestamp, event_id, key), got %zd values", i,
			     PyTuple_GET_SIZE(tuple));
		return NULL;
	}
	return tuple;
}

/* Pass 1 for one event: converted, its slot prefetched.  A key the library
 * refuses is noted (the first of them is raised once every event is converted). */
static int event_get(PyObject *self, burst *b, PyObject *item, Py_ssize_t i)
{
	event *e = &b->ev[i];
	const void *p;
	size_t len;
	PyObject *tuple = event_tuple(b, item, i);
	if (tuple == NULL || timestamp_of(self, b, PyTuple_GET_ITEM(tuple, 0), &e->ts_ns) < 0 ||
	    key_of(b, e, PyTuple_GET_ITEM(tuple, 2), &p, &len) < 0)
		return -1;
	e->result = evt_prefetch_key(b->t, p, len, &e->key);
	if (e->result < 0) {
		e->key.key_len = len; /* for the error's message */
		if (b->bad < 0)
			b->bad = i;
	}
	return 0;
}

/* The EvtError of the event at index, with the burst's answers (or None). */
static PyObject *raise_event_error(throttle_obj *s, int rc, size_t key_len, Py_ssize_t index,
				   PyObject *answers)
{
	PyObject *e = key_error(s, rc, (Py_ssize_t)key_len, NULL);
	PyObject *at = PyLong_FromSsize_t(index);
	if (e != NULL && at != NULL && PyObject_SetAttrString(e, "index", at) == 0 &&
	    PyObject_SetAttrString(e, "answers", answers != NULL ? answers : Py_None) == 0)
		PyErr_SetObject((PyObject *)Py_TYPE(e), e);
	Py_XDECREF(at);
	Py_XDECREF(e);
	return NULL;
}

/* One bool per event; a failed one (ENOSPC under on_full "error", ESTALE under
 * on_stale "error") is None in the answers of the exception raised for the first
 * of them. */
static PyObject *answers(throttle_obj *s, const event *ev, Py_ssize_t n)
{
	PyObject *list = PyList_New(n);
	Py_ssize_t bad = -1;
	for (Py_ssize_t i = 0; list != NULL && i < n; i++) {
		if (ev[i].result < 0 && bad < 0)
			bad = i;
		PyList_SET_ITEM(list, i, ev[i].result < 0 ? Py_NewRef(Py_None)
							  : bool_of(ev[i].result));
	}
	if (list == NULL || bad < 0)
		return list;
	raise_event_error(s, ev[bad].result, ev[bad].key.key_len, bad, list);
	Py_DECREF(list);
	return NULL;
}

static void decide_all(evt_throttle *t, event *ev, Py_ssize_t n)
{
	for (Py_ssize_t i = 0; i < n; i++)
		ev[i].result = evt_should_process_key(t, ev[i].ts_ns, &ev[i].key, NULL);
}

/* Pass 2, once every event is converted. */
static PyObject *decide(throttle_obj *s, burst *b, Py_ssize_t n)
{
	/* Checked again: converting the events ran the caller's code, which may have
	 * closed the throttler (b->t stays valid: see throttle_enter()). */
	if (throttle_handle(s) == NULL)
		return NULL;
	/* The library's whole-call errors (EROFS, EPERM) come first, as in
	 * should_process(), then the first refused key. */
	int rc = evt_should_process_batch(b->t, NULL, 0);
	if (rc < 0)
		return raise_evt(state_of_type(Py_TYPE(s)), rc, NULL);
	if (b->bad >= 0)
		return raise_event_error(s, b->ev[b->bad].result, b->ev[b->bad].key.key_len,
					 b->bad, NULL);
	/* A global throttle's events may each go to Redis: never hold the GIL then. */
	if (n < EXT_GIL_FREE_BATCH && !s->global) {
		decide_all(b->t, b->ev, n);
	} else {
		Py_BEGIN_ALLOW_THREADS
		decide_all(b->t, b->ev, n);
		Py_END_ALLOW_THREADS
	}
	return answers(s, b->ev, n);
}

/* Pass 0: start fetching every event's key object (its header and the first bytes
 * of its data), so that converting the events does not wait for each in turn. */
static void prefetch_keys(PyObject *seq, Py_ssize_t n)
{
	for (Py_ssize_t i = 0; i < n; i++) {
		PyObject *item = PyTuple_GET_ITEM(seq, i);
		if (PyTuple_CheckExact(item) && PyTuple_GET_SIZE(item) == 3) {
			const char *key = (const char *)PyTuple_GET_ITEM(item, 2);
			__builtin_prefetch(key);
			__builtin_prefetch(key + 63);
		}
	}
}

static PyObject *convert_and_decide(PyObject *self, burst *b, PyObject *seq)
{
	Py_ssize_t n = PyTuple_GET_SIZE(seq);
	prefetch_keys(seq, n);
	for (Py_ssize_t i = 0; i < n; i++)
		if (event_get(self, b, PyTuple_GET_ITEM(seq, i), i) < 0)
			return NULL;
	return decide((throttle_obj *)self, b, n);
}

PyObject *throttle_should_process_many(PyObject *self, PyObject *events)
{
	throttle_obj *s = (throttle_obj *)self;
	event stack[STACK_EVENTS];
	burst b = {NULL, stack, NULL, NULL, 0, -1};
	if (throttle_handle(s) == NULL)
		return NULL;
	/* A tuple (a copy of anything else), held until the end: the events, and so
	 * the keys read in place, cannot change or go meanwhile. */
	PyObject *seq = PySequence_Tuple(events);
	if (seq == NULL)
		return NULL;
	/* Only now: reading the events ran the caller's code, which may have closed
	 * the throttler. */
	if ((b.t = throttle_handle(s)) == NULL) {
		Py_DECREF(seq);
		return NULL;
	}
	Py_ssize_t n = PyTuple_GET_SIZE(seq);
	if (n > STACK_EVENTS && (b.ev = PyMem_New(event, (size_t)n)) == NULL) {
		Py_DECREF(seq);
		return PyErr_NoMemory();
	}
	throttle_enter(s); /* b.t stays valid even if the caller's code closes it */
	PyObject *result = convert_and_decide(self, &b, seq);
	throttle_leave(s);
	if (b.ev != stack)
		PyMem_Free(b.ev);
	Py_XDECREF(b.keep);
	Py_DECREF(seq);
	return result;
}
