/* A small streaming JSON writer: one compact line, commas placed for the caller. */
#ifndef EVT_JSON_H
#define EVT_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define JSON_DEPTH 8

struct json {
	FILE *f;
	unsigned depth;
	bool comma[JSON_DEPTH]; /* a value was written at this level */
};

void json_init(struct json *j, FILE *f);

/* key is the member name inside an object, NULL inside an array or at the top. */
void json_object(struct json *j, const char *key);
void json_array(struct json *j, const char *key);
void json_end(struct json *j, char closing); /* '}' or ']' */

void json_u64(struct json *j, const char *key, uint64_t v);
void json_i64(struct json *j, const char *key, int64_t v);
void json_double(struct json *j, const char *key, double v);
void json_bool(struct json *j, const char *key, bool v);
void json_null(struct json *j, const char *key);
void json_str(struct json *j, const char *key, const char *s);
/* len bytes of s, which should be valid UTF-8 (control bytes, NUL included, are
 * escaped as \u00XX). */
void json_strn(struct json *j, const char *key, const char *s, size_t len);

/* Whether s is valid UTF-8 (no overlong forms, surrogates or code points above
 * U+10FFFF): such bytes can go into a JSON string as they are. */
bool json_utf8_valid(const unsigned char *s, size_t len);

#endif /* EVT_JSON_H */
