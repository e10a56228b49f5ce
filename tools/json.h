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

#endif /* EVT_JSON_H */
