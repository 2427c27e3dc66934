#include <stdint.h>

#include "base64.h"
#include "mutf7.h"

/* RFC 3501 5.1.3: RFC 2045 base64 with ',' in place of '/'. */
static const char mutf7_b64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";


static bool
mutf7_is_direct(uint32_t c)
{
	/* Printable US-ASCII represents itself ('&' only as "&-"). */
	return c >= 0x20 && c <= 0x7e;
}

static void
utf8_put(struct buf *out, uint32_t cp)
{
	unsigned char b[4];
	size_t n;

	if (cp < 0x80) {
		b[0] = (unsigned char)cp;
		n = 1;
	} else if (cp < 0x800) {
		b[0] = (unsigned char)(0xc0 | (cp >> 6));
		b[1] = (unsigned char)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		b[0] = (unsigned char)(0xe0 | (cp >> 12));
		b[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
		b[2] = (unsigned char)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		b[0] = (unsigned char)(0xf0 | (cp >> 18));
		b[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3f));
		b[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
		b[3] = (unsigned char)(0x80 | (cp & 0x3f));
		n = 4;
	}
	buf_append(out, b, n);
}

/*
 * Decodes one code point at s[*i]; RFC 3629 4 table, so overlongs,
 * surrogates and values past U+10FFFF are refused by the byte ranges.
 */
static int
utf8_get(const char *s, size_t len, size_t *i, uint32_t *cp_r)
{
	const unsigned char *u = (const unsigned char *)s + *i;
	size_t left = len - *i, n;
	unsigned char lo = 0x80, hi = 0xbf;
	uint32_t cp;

	if (u[0] < 0x80) {
		*cp_r = u[0];
		(*i)++;
		return 0;
	}
	if (u[0] >= 0xc2 && u[0] <= 0xdf) {
		n = 2;
		cp = u[0] & 0x1f;
	} else if (u[0] >= 0xe0 && u[0] <= 0xef) {
		n = 3;
		cp = u[0] & 0x0f;
		if (u[0] == 0xe0)
			lo = 0xa0;
		else if (u[0] == 0xed)
			hi = 0x9f;
	} else if (u[0] >= 0xf0 && u[0] <= 0xf4) {
		n = 4;
		cp = u[0] & 0x07;
		if (u[0] == 0xf0)
			lo = 0x90;
		else if (u[0] == 0xf4)
			hi = 0x8f;
	} else {
		return -1;
	}
	if (left < n || u[1] < lo || u[1] > hi)
		return -1;
	for (size_t k = 1; k < n; k++) {
		if ((u[k] & 0xc0) != 0x80)
			return -1;
		cp = cp << 6 | (u[k] & 0x3f);
	}
	*cp_r = cp;
	*i += n;
	return 0;
}

struct mutf7_dec {
	uint32_t bits;
	unsigned nbits;
	uint32_t high;		/* pending high surrogate, or 0 */
};

static int
mutf7_unit(struct mutf7_dec *d, uint32_t u, struct buf *out)
{
	uint32_t cp;

	if (d->high != 0) {
		if (u < 0xdc00 || u > 0xdfff)
			return -1;
		cp = 0x10000 + ((d->high - 0xd800) << 10) + (u - 0xdc00);
		d->high = 0;
	} else if (u >= 0xd800 && u <= 0xdbff) {
		d->high = u;
		return 0;
	} else if (u >= 0xdc00 && u <= 0xdfff) {
		return -1;
	} else {
		cp = u;
	}
	/* Base64 for what could be written directly is not canonical; one
	 * name must have one spelling. */
	if (cp == 0 || mutf7_is_direct(cp))
		return -1;
	utf8_put(out, cp);
	return 0;
}

/* Decodes the base64 run at s[*i] up to its '-'. */
static int
mutf7_shift(const char *s, size_t len, size_t *i, struct buf *out)
{
	struct mutf7_dec d = { 0, 0, 0 };

	for (; *i < len && s[*i] != '-'; (*i)++) {
		int v = base64_value((unsigned char)s[*i], ',');

		if (v < 0)
			return -1;
		d.bits = d.bits << 6 | (uint32_t)v;
		d.nbits += 6;
		if (d.nbits >= 16) {
			d.nbits -= 16;
			if (mutf7_unit(&d, (d.bits >> d.nbits) & 0xffff,
			    out) < 0)
				return -1;
			d.bits &= (1u << d.nbits) - 1;
		}
	}
	if (*i == len)
		return -1;	/* unterminated */
	(*i)++;
	/* A whole spare base64 character, or non-zero padding bits, would
	 * be a second spelling of the same name. */
	if (d.nbits >= 6 || d.bits != 0 || d.high != 0)
		return -1;
	return 0;
}

int
mutf7_to_utf8(const char *s, size_t len, struct buf *out)
{
	size_t i = 0;
	bool after_shift = false;

	while (i < len) {
		unsigned char c = (unsigned char)s[i];

		if (c != '&') {
			if (!mutf7_is_direct(c))
				return -1;
			buf_append(out, &s[i], 1);
			i++;
			after_shift = false;
			continue;
		}
		i++;
		if (i < len && s[i] == '-') {
			buf_append(out, "&", 1);
			i++;
			after_shift = false;
			continue;
		}
		/* "&AOk-&AOk-" should have been one run: "&AOkA6Q-". */
		if (after_shift || mutf7_shift(s, len, &i, out) < 0)
			return -1;
		after_shift = true;
	}
	return 0;
}

struct mutf7_enc {
	bool open;
	uint32_t bits;
	unsigned nbits;
};

static void
mutf7_put_bits(struct mutf7_enc *e, uint32_t unit, struct buf *out)
{
	e->bits = e->bits << 16 | unit;
	e->nbits += 16;
	while (e->nbits >= 6) {
		e->nbits -= 6;
		buf_append(out, &mutf7_b64[(e->bits >> e->nbits) & 0x3f], 1);
	}
	e->bits &= (1u << e->nbits) - 1;
}

static void
mutf7_close(struct mutf7_enc *e, struct buf *out)
{
	if (!e->open)
		return;
	if (e->nbits > 0)
		buf_append(out, &mutf7_b64[(e->bits << (6 - e->nbits)) & 0x3f],
		    1);
	buf_append(out, "-", 1);
	e->open = false;
	e->bits = 0;
	e->nbits = 0;
}

int
utf8_to_mutf7(const char *s, size_t len, struct buf *out)
{
	struct mutf7_enc e = { false, 0, 0 };
	size_t i = 0;
	uint32_t cp;

	while (i < len) {
		if (utf8_get(s, len, &i, &cp) < 0 || cp == 0)
			return -1;
		if (mutf7_is_direct(cp)) {
			char c = (char)cp;

			mutf7_close(&e, out);
			if (c == '&')
				buf_append(out, "&-", 2);
			else
				buf_append(out, &c, 1);
			continue;
		}
		if (!e.open) {
			buf_append(out, "&", 1);
			e.open = true;
		}
		if (cp >= 0x10000) {
			cp -= 0x10000;
			mutf7_put_bits(&e, 0xd800 | (cp >> 10), out);
			mutf7_put_bits(&e, 0xdc00 | (cp & 0x3ff), out);
		} else {
			mutf7_put_bits(&e, cp, out);
		}
	}
	mutf7_close(&e, out);
	return 0;
}
