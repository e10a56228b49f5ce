/*
 * A key's hash and words: XXH3 with the region's seed (its home and tag,
 * table.h), and the key's last 8-byte word as a slot holds it.  Inlined into the
 * decisions (table.c, decide.h) and the prefetches.
 */
#ifndef EVT_KEYHASH_H
#define EVT_KEYHASH_H

#include <string.h>
#define XXH_INLINE_ALL /* the hash is inlined into the hot path */
#include <xxhash.h>

#include "region.h"

#define hot_inline inline __attribute__((always_inline))

/* Keys up to this long take XXH3's short-input path, inlined with no call in it;
 * longer ones take the decisions' general paths (table_decide()). */
#define INLINE_KEY_MAX 16u

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "key words are little-endian");

static hot_inline uint64_t key_hash(const struct region *r, const void *key, uint32_t len)
{
	return XXH3_64bits_withSeed(key, len, r->seed);
}

/* The two words XXH3's 9-16-byte path derives from its secret and the seed
 * (bitflip1, bitflip2), made once per mapping into region.flip[]. */
static inline void keyhash_flips(uint64_t seed, uint64_t flip[2])
{
	flip[0] = (XXH_readLE64(XXH3_kSecret + 24) ^ XXH_readLE64(XXH3_kSecret + 32)) + seed;
	flip[1] = (XXH_readLE64(XXH3_kSecret + 40) ^ XXH_readLE64(XXH3_kSecret + 48)) - seed;
}

/* The low and high halves of a * b, xor-ed: XXH3_mul128_fold64(), as one mul
 * whose operands gcc allocates without the register pairs of a 128-bit type. */
static hot_inline uint64_t mul_fold64(uint64_t a, uint64_t b)
{
#if defined(__x86_64__)
	uint64_t hi;
	__asm__("mulq %3" : "=a"(a), "=d"(hi) : "0"(a), "rm"(b) : "cc");
	return a ^ hi;
#else
	return XXH3_mul128_fold64(a, b);
#endif
}

/* key_hash() of a key of 9 to 16 bytes: XXH3_len_9to16_64b() with the region's
 * flips (tests/test_layout.c checks that the two agree). */
static hot_inline uint64_t key_hash_9to16(const struct region *r, const void *key, size_t len)
{
	uint64_t lo, hi;
	memcpy(&lo, key, 8);
	memcpy(&hi, (const unsigned char *)key + len - 8, 8);
	lo ^= r->flip[0];
	hi ^= r->flip[1];
	return XXH3_avalanche(len + XXH_swap64(lo) + hi + mul_fold64(lo, hi));
}

/* key_hash() of a key of 1 to 8 bytes, by XXH3's one path for them. */
static hot_inline uint64_t key_hash_1to8(const struct region *r, const void *key, size_t len)
{
	return XXH3_len_0to16_64b(key, len, XXH3_kSecret, r->seed);
}

/* The key's last word, zero-padded, without reading past its end: overlapping
 * loads (the bytes they share are equal, so or-ing them is exact). */
static hot_inline uint64_t tail_word(const unsigned char *key, uint32_t len)
{
	if (len >= 8) {
		uint64_t v;
		memcpy(&v, key + len - 8, 8);
		return v >> (8 * ((8 - len % 8) % 8));
	}
	if (len >= 4) {
		uint32_t lo, hi;
		memcpy(&lo, key, 4);
		memcpy(&hi, key + len - 4, 4);
		return lo | (uint64_t)hi << (8 * (len - 4));
	}
	return (uint64_t)key[0] | (uint64_t)key[len / 2] << (8 * (len / 2)) |
	       (uint64_t)key[len - 1] << (8 * (len - 1));
}

/* The last word of a key of 9 to 16 bytes as a slot holds it: tail_word() in
 * fewer steps. */
static hot_inline uint64_t tail_9to16(const void *key, size_t len)
{
	uint64_t v;
	memcpy(&v, (const unsigned char *)key + len - 8, 8);
	/* (16 - len) * 8, as -8 * len modulo 64: what a shift instruction takes of
	 * its count anyway, so the "& 63" costs nothing. */
	return v >> ((0u - 8u * (unsigned)len) & 63u);
}

#endif /* EVT_KEYHASH_H */
