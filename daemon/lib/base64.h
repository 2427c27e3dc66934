/*
 * base64.h: RFC 4648 section 4 base64, strict (SASL, RFC 4422 section 3.2
 * needs exact decoding). Depends on lib/ only.
 */
#ifndef FACTEUR_BASE64_H
#define FACTEUR_BASE64_H

#include <stddef.h>

/* Output size needed to encode len bytes, with the NUL. */
#define BASE64_ENCODED_SIZE(len) (((len) + 2) / 3 * 4 + 1)

/* Encodes; out must hold BASE64_ENCODED_SIZE(len). Returns the length. */
size_t base64_encode(const void *in, size_t len, char *out);

/* The value of one character of the alphabet whose 64th character is
 * c63 ('/' for RFC 4648, ',' for IMAP's modified UTF-7), or -1. */
int base64_value(unsigned char c, char c63);

/* Decodes in[0..len) into out (at least len / 4 * 3 bytes). Padding is
 * required, whitespace and other characters are refused. Returns the
 * decoded length, or -1 on bad input. */
long base64_decode(const char *in, size_t len, void *out);

#endif
