#include "duration.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static const struct unit {
	const char *name;
	uint64_t ns;
} units[] = {
	/* "ms" comes before "m", so "250ms" is not read as 250 minutes + "s" */
	{ "ns", 1ull }, { "us", 1000ull }, { "ms", 1000000ull },
	{ "s", 1000000000ull }, { "m", 60000000000ull }, { "h", 3600000000000ull },
};

static const struct unit *unit_at(const char *s, size_t *len)
{
	for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
		size_t n = strlen(units[i].name);
		if (strncmp(s, units[i].name, n) == 0) {
			*len = n;
			return &units[i];
		}
	}
	return NULL;
}

int duration_parse(const char *s, uint64_t *ns)
{
	if (s == NULL || *s == '\0')
		return -EINVAL;
	uint64_t total = 0;
	while (*s != '\0') {
		if (*s < '0' || *s > '9')
			return -EINVAL;
		uint64_t v = 0;
		for (; *s >= '0' && *s <= '9'; s++) {
			if (v > (UINT64_MAX - (uint64_t)(*s - '0')) / 10)
				return -ERANGE;
			v = v * 10 + (uint64_t)(*s - '0');
		}
		size_t len;
		const struct unit *u = unit_at(s, &len);
		if (u == NULL)
			return -EINVAL;
		s += len;
		if (v > UINT64_MAX / u->ns || total > UINT64_MAX - v * u->ns)
			return -ERANGE;
		total += v * u->ns;
	}
	*ns = total;
	return 0;
}

char *duration_format(uint64_t ns, char *buf, size_t size)
{
	size_t off = 0;
	buf[0] = '\0';
	for (size_t i = sizeof units / sizeof units[0]; i-- > 0 && ns != 0;) {
		uint64_t v = ns / units[i].ns;
		/* below a second, use one unit only if it is exact ("250ms", "1500us") */
		if (v == 0 || (units[i].ns < 1000000000ull && ns % units[i].ns != 0))
			continue;
		ns -= v * units[i].ns;
		int n = snprintf(buf + off, size - off, "%llu%s", (unsigned long long)v, units[i].name);
		if (n < 0 || (size_t)n >= size - off)
			break;
		off += (size_t)n;
	}
	if (off == 0)
		snprintf(buf, size, "0ns");
	return buf;
}
