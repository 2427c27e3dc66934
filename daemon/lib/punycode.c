/*
 * punycode.c: RFC 3492 Punycode (Bootstring with the Punycode
 * parameters), the encoding behind IDNA A-labels. All arithmetic is on
 * uint32_t with explicit overflow checks (RFC 3492 6.4).
 */
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "punycode.h"
#include "util.h"

/* RFC 3492 5: parameter values for Punycode. */
#define PUNY_BASE		36
#define PUNY_TMIN		1
#define PUNY_TMAX		26
#define PUNY_SKEW		38
#define PUNY_DAMP		700
#define PUNY_INITIAL_BIAS	72
#define PUNY_INITIAL_N		0x80
#define PUNY_DELIMITER		'-'
#define PUNY_MAXINT		UINT32_MAX
#define PUNY_CP_MAX		0x10ffff

/* RFC 3492 6.1: bias adaptation. */
static uint32_t
punycode_adapt(uint32_t delta, uint32_t numpoints, bool firsttime)
{
	uint32_t k = 0;

	delta = firsttime ? delta / PUNY_DAMP : delta / 2;
	delta += delta / numpoints;
	while (delta > ((PUNY_BASE - PUNY_TMIN) * PUNY_TMAX) / 2) {
		delta /= PUNY_BASE - PUNY_TMIN;
		k += PUNY_BASE;
	}
	return k + (PUNY_BASE - PUNY_TMIN + 1) * delta / (delta + PUNY_SKEW);
}

/* RFC 3492 6.2: the threshold t for position k, clamped to tmin..tmax. */
static uint32_t
punycode_threshold(uint32_t k, uint32_t bias)
{
	if (k <= bias)
		return PUNY_TMIN;
	if (k >= bias + PUNY_TMAX)
		return PUNY_TMAX;
	return k - bias;
}

/* RFC 3492 5: digit values 0..25 are a..z, 26..35 are 0..9. The encoder
 * emits lower case, as IDNA A-labels are stored in lower case. */
static char
punycode_digit_encode(uint32_t d)
{
	return d < 26 ? (char)('a' + d) : (char)('0' + (d - 26));
}

/* Returns the digit value of c (either case), or -1. */
static int
punycode_digit_decode(unsigned char c)
{
	if (c >= 'a' && c <= 'z')
		return c - 'a';
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= '0' && c <= '9')
		return c - '0' + 26;
	return -1;
}

int
punycode_encode(const uint32_t *cp, size_t n, char *out, size_t outsize)
{
	uint32_t code = PUNY_INITIAL_N, delta = 0, bias = PUNY_INITIAL_BIAS;
	uint32_t h, b;
	size_t o = 0, j;

	if (outsize == 0 || n >= PUNY_MAXINT)
		return -1;
	/* RFC 3492 6.3: copy the basic code points first, in order. */
	for (j = 0; j < n; j++) {
		if (cp[j] > PUNY_CP_MAX)
			return -1;
		if (cp[j] < PUNY_INITIAL_N) {
			if (o + 1 >= outsize)
				return -1;
			out[o++] = (char)cp[j];
		}
	}
	h = b = (uint32_t)o;
	if (b > 0) {
		if (o + 1 >= outsize)
			return -1;
		out[o++] = PUNY_DELIMITER;
	}
	while (h < n) {
		uint32_t m = PUNY_MAXINT;

		/* The smallest code point not yet handled. */
		for (j = 0; j < n; j++) {
			if (cp[j] >= code && cp[j] < m)
				m = cp[j];
		}
		if (m - code > (PUNY_MAXINT - delta) / (h + 1))
			return -1;
		delta += (m - code) * (h + 1);
		code = m;
		for (j = 0; j < n; j++) {
			if (cp[j] < code) {
				if (delta == PUNY_MAXINT)
					return -1;
				delta++;
			}
			if (cp[j] == code) {
				uint32_t q = delta, k, t;

				for (k = PUNY_BASE;; k += PUNY_BASE) {
					t = punycode_threshold(k, bias);
					if (q < t)
						break;
					if (o + 1 >= outsize)
						return -1;
					out[o++] = punycode_digit_encode(t +
					    (q - t) % (PUNY_BASE - t));
					q = (q - t) / (PUNY_BASE - t);
				}
				if (o + 1 >= outsize)
					return -1;
				out[o++] = punycode_digit_encode(q);
				bias = punycode_adapt(delta, h + 1, h == b);
				delta = 0;
				h++;
			}
		}
		if (delta == PUNY_MAXINT)
			return -1;
		delta++;
		code++;
	}
	if (o > INT_MAX)
		return -1;
	out[o] = '\0';
	return (int)o;
}

int
punycode_decode(const char *in, size_t len, uint32_t *cp, size_t max)
{
	uint32_t code = PUNY_INITIAL_N, i = 0, bias = PUNY_INITIAL_BIAS;
	size_t b = 0, o, pos, j;

	if (max > INT_MAX - 1)
		max = INT_MAX - 1;
	/*
	 * RFC 3492 6.2: the basic code points are those before the last
	 * delimiter. As in the RFC's sample implementation, a delimiter at
	 * position 0 is not taken as one (no encoder output starts with it),
	 * so such input fails below.
	 */
	for (j = 0; j < len; j++) {
		if (in[j] == PUNY_DELIMITER)
			b = j;
	}
	if (b > max)
		return -1;
	for (j = 0; j < b; j++) {
		if ((unsigned char)in[j] >= PUNY_INITIAL_N)
			return -1;
		cp[j] = (unsigned char)in[j];
	}
	o = b;
	for (pos = b > 0 ? b + 1 : 0; pos < len;) {
		uint32_t oldi = i, w = 1, k, t, digit;
		int d;

		for (k = PUNY_BASE;; k += PUNY_BASE) {
			if (pos >= len)
				return -1;
			d = punycode_digit_decode((unsigned char)in[pos++]);
			if (d < 0)
				return -1;
			digit = (uint32_t)d;
			if (digit > (PUNY_MAXINT - i) / w)
				return -1;
			i += digit * w;
			t = punycode_threshold(k, bias);
			if (digit < t)
				break;
			if (w > PUNY_MAXINT / (PUNY_BASE - t))
				return -1;
			w *= PUNY_BASE - t;
		}
		bias = punycode_adapt(i - oldi, (uint32_t)o + 1, oldi == 0);
		if (i / ((uint32_t)o + 1) > PUNY_MAXINT - code)
			return -1;
		code += i / ((uint32_t)o + 1);
		i %= (uint32_t)o + 1;
		/* RFC 3492 6.2's optional check that n is not basic, plus
		 * what no Unicode string can hold (surrogates, > U+10FFFF). */
		if (code < PUNY_INITIAL_N || code > PUNY_CP_MAX ||
		    (code >= 0xd800 && code <= 0xdfff))
			return -1;
		if (o >= max)
			return -1;
		memmove(cp + i + 1, cp + i, (o - i) * sizeof(*cp));
		cp[i++] = code;
		o++;
	}
	return (int)o;
}
