/*
 * punycode.h: RFC 3492 encoder for IDNA A-labels. Depends on lib/ only.
 */
#ifndef FACTEUR_PUNYCODE_H
#define FACTEUR_PUNYCODE_H

#include <stddef.h>
#include <stdint.h>

/*
 * Encodes code points cp[0..n) as punycode (without the "xn--" prefix)
 * into out (size outsize, NUL-terminated). Returns the length, or -1 when
 * the output would not fit or on overflow.
 */
int punycode_encode(const uint32_t *cp, size_t n, char *out, size_t outsize);

/* Decodes punycode (without "xn--") into code points. Returns the number
 * of code points, or -1 on bad input or when more than max are needed. */
int punycode_decode(const char *in, size_t len, uint32_t *cp, size_t max);

#endif
