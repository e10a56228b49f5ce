/* Python values to what the library takes: seconds to uint64 ns, keys to bytes,
 * throttle names to C strings; and ns back to seconds. */
#include "ext.h"

#include <math.h>
#include <string.h>

#define NS_PER_S 1000000000ull
#define MAX_INT_SECONDS (UINT64_MAX / NS_PER_S)

static int out_of_range(const char *what, PyObject *v)
{
	PyErr_Format(PyExc_ValueError, "%s out of range (at most %llu ns), got %R", what,
		     (unsigned long long)UINT64_MAX, v);
	return -1;
}

static int negative(const char *what, PyObject *v)
{
	PyErr_Format(PyExc_ValueError, "%s must be a non-negative number of seconds, got %R",
		     what, v);
	return -1;
}

static int int_to_ns(PyObject *v, const char *what, uint64_t *ns)
{
	int overflow;
	long long s = PyLong_AsLongLongAndOverflow(v, &overflow);
	if (s == -1 && PyErr_Occurred())
		return -1;
	if (overflow < 0 || s < 0)
		return negative(what, v);
	if (overflow > 0 || (unsigned long long)s > MAX_INT_SECONDS)
		return out_of_range(what, v);
	*ns = (uint64_t)s * NS_PER_S;
	return 0;
}

/* Rounded to the nearest ns, ties to even: Python's round(v * 1e9). */
static int float_to_ns(PyObject *v, const char *what, uint64_t *ns)
{
	double d = PyFloat_AS_DOUBLE(v);
	if (!(d >= 0)) /* also NaN */
		return negative(what, v);
	double x = d * 1e9;
	if (x >= 0x1p64)
		return out_of_range(what, v);
	*ns = (uint64_t)nearbyint(x);
	return 0;
}

/* Fraction, Decimal or another Real: exactly, as round(Fraction(v) * 10**9). */
static int exact_to_ns(ext_state *st, PyObject *v, const char *what, uint64_t *ns)
{
	PyObject *f = PyObject_CallOneArg(st->fraction, v);
	if (f == NULL) {
		if (PyErr_ExceptionMatches(PyExc_ValueError) ||
		    PyErr_ExceptionMatches(PyExc_OverflowError)) { /* NaN, infinity */
			PyErr_Clear();
			PyErr_Format(PyExc_ValueError,
				     "%s must be a finite number of seconds, got %R", what, v);
		}
		return -1;
	}
	PyObject *zero = PyLong_FromLong(0), *scale = PyLong_FromUnsignedLongLong(NS_PER_S);
	int below = zero != NULL ? PyObject_RichCompareBool(f, zero, Py_LT) : -1;
	PyObject *scaled = below == 0 && scale != NULL ? PyNumber_Multiply(f, scale) : NULL;
	PyObject *rounded = scaled != NULL ? PyObject_CallMethod(scaled, "__round__", NULL)
					   : NULL;
	Py_XDECREF(scaled);
	Py_XDECREF(scale);
	Py_XDECREF(zero);
	Py_DECREF(f);
	if (below == 1)
		return negative(what, v);
	if (rounded == NULL)
		return -1;
	*ns = PyLong_AsUnsignedLongLong(rounded);
	Py_DECREF(rounded);
	if (*ns == (uint64_t)-1 && PyErr_Occurred()) {
		PyErr_Clear();
		return out_of_range(what, v);
	}
	return 0;
}

static PyObject *import_attr(const char *module, const char *attr)
{
	PyObject *m = PyImport_ImportModule(module);
	if (m == NULL)
		return NULL;
	PyObject *a = PyObject_GetAttrString(m, attr);
	Py_DECREF(m);
	return a;
}

/* Imported on the first timestamp that is neither int nor float: importing decimal
 * (which fractions does) costs milliseconds, and in a subinterpreter of 3.11 prints
 * a warning of libmpdec. */
static int is_exact_number(ext_state *st, PyObject *v)
{
	if (st->fraction == NULL) {
		st->real = import_attr("numbers", "Real");
		st->decimal = st->real ? import_attr("decimal", "Decimal") : NULL;
		st->fraction = st->decimal ? import_attr("fractions", "Fraction") : NULL;
		if (st->fraction == NULL) {
			Py_CLEAR(st->real);
			Py_CLEAR(st->decimal);
			return -1;
		}
	}
	int r = PyObject_IsInstance(v, st->real);
	return r != 0 ? r : PyObject_IsInstance(v, st->decimal);
}

/* Seconds as int, float, Fraction or Decimal (never bool): ValueError when negative,
 * NaN, infinite or over 2^64-1 ns; TypeError for anything else. */
int seconds_to_ns(ext_state *st, PyObject *v, const char *what, uint64_t *ns)
{
	if (PyFloat_Check(v))
		return float_to_ns(v, what, ns);
	if (PyLong_Check(v) && !PyBool_Check(v))
		return int_to_ns(v, what, ns);
	int exact = PyBool_Check(v) ? 0 : is_exact_number(st, v);
	if (exact == 1)
		return exact_to_ns(st, v, what, ns);
	if (exact == 0)
		PyErr_Format(PyExc_TypeError,
			     "%s must be a number of seconds (int, float, Fraction or "
			     "Decimal), not %.100s", what, Py_TYPE(v)->tp_name);
	return -1;
}

int positive_seconds_to_ns(ext_state *st, PyObject *v, const char *what, uint64_t *ns)
{
	if (seconds_to_ns(st, v, what, ns) < 0)
		return -1;
	if (*ns == 0) {
		PyErr_Format(PyExc_ValueError,
			     "%s must be > 0 seconds (at least 1 ns), got %R", what, v);
		return -1;
	}
	return 0;
}

int window_to_ns(ext_state *st, PyObject *v, uint64_t *ns)
{
	return positive_seconds_to_ns(st, v, "window", ns);
}

/* An int when whole, else a float. */
PyObject *ns_to_seconds(uint64_t ns)
{
	if (ns % NS_PER_S == 0)
		return PyLong_FromUnsignedLongLong(ns / NS_PER_S);
	return PyFloat_FromDouble((double)(ns / NS_PER_S) + (double)(ns % NS_PER_S) / 1e9);
}

/* An int key is its signed 64-bit value in the host's byte order: the 8 bytes that
 * a C client passes as `int64_t id; evt_should_process(t, ts, NULL, &id, 8)`. */
static int int_key(PyObject *o, ext_key *k)
{
	int overflow;
	long long v = PyLong_AsLongLongAndOverflow(o, &overflow);
	if (v == -1 && PyErr_Occurred())
		return -1;
	if (overflow) {
		PyErr_Format(PyExc_OverflowError,
			     "int key out of range: keys are signed 64-bit, got %R", o);
		return -1;
	}
	k->word = v;
	k->p = (const char *)&k->word;
	k->len = sizeof k->word;
	return 0;
}

int key_get(PyObject *o, ext_key *k)
{
	k->has_view = 0;
	if (PyUnicode_Check(o)) {
		k->p = PyUnicode_AsUTF8AndSize(o, &k->len);
		return k->p != NULL ? 0 : -1;
	}
	if (PyBytes_Check(o)) {
		k->p = PyBytes_AS_STRING(o);
		k->len = PyBytes_GET_SIZE(o);
		return 0;
	}
	if (PyLong_Check(o) && !PyBool_Check(o))
		return int_key(o, k);
	if (PyObject_CheckBuffer(o) && !PyBool_Check(o)) {
		if (PyObject_GetBuffer(o, &k->view, PyBUF_SIMPLE) < 0)
			return -1;
		k->has_view = 1;
		k->p = k->view.buf;
		k->len = k->view.len;
		return 0;
	}
	PyErr_Format(PyExc_TypeError,
		     "key must be str, bytes (or another bytes-like object) or int, "
		     "not %.100s", Py_TYPE(o)->tp_name);
	return -1;
}

/* A throttle name: str without NUL (the library would stop at it), as UTF-8. */
int name_get(PyObject *o, const char **out)
{
	if (!PyUnicode_Check(o)) {
		PyErr_Format(PyExc_TypeError, "throttle name must be str, not %.100s",
			     Py_TYPE(o)->tp_name);
		return -1;
	}
	Py_ssize_t len;
	const char *s = PyUnicode_AsUTF8AndSize(o, &len);
	if (s == NULL)
		return -1;
	if ((size_t)len != strlen(s)) {
		PyErr_Format(PyExc_ValueError, "throttle name must not contain NUL: %R", o);
		return -1;
	}
	*out = s;
	return 0;
}
