/*
 * addr.h: mail address syntax (RFC 5321 4.1.2, RFC 6531 for UTF-8) and
 * normalization for storage: domains lower-cased and internationalized
 * labels converted to A-labels (punycode, RFC 3492 / RFC 5891), local
 * parts lower-cased (ASCII letters; Facteur treats local parts as
 * case-insensitive, as every hosted mail service does).
 * Depends on lib/ only.
 */
#ifndef FACTEUR_ADDR_H
#define FACTEUR_ADDR_H

#include <stdbool.h>
#include <stddef.h>

#define ADDR_LOCAL_MAX 64	/* RFC 5321 4.5.3.1.1 */
#define ADDR_DOMAIN_MAX 255	/* RFC 5321 4.5.3.1.2 */
#define ADDR_MAX 320		/* local + "@" + domain, + NUL fits 322 */

/*
 * Validates a domain name (a hosted domain, or the domain of an address).
 * Accepts ASCII LDH labels (1..63 octets, no leading/trailing hyphen,
 * at least two labels, TLD not all-numeric) and UTF-8 labels, which are
 * converted to A-labels ("xn--..."). Writes the normalized (lower-case,
 * A-label) form into out (size >= ADDR_DOMAIN_MAX + 1).
 * A trailing dot is refused. Returns 0, or -1 with *error_r set to a
 * static English message ("label too long", "invalid character", ...).
 */
int addr_domain_normalize(const char *domain, size_t len, char *out,
    size_t outsize, const char **error_r);

/*
 * Validates a full address "local@domain" and writes its normalized form
 * into out (size >= ADDR_MAX + 1): local part lower-cased (ASCII), domain
 * as addr_domain_normalize. Local part: RFC 5321 Dot-string (atext, dots
 * not leading/trailing/doubled) or Quoted-string; UTF-8 allowed in
 * either (RFC 6531). Returns 0 or -1 with *error_r.
 * With allow_catchall, "@domain" (empty local part) is accepted too.
 */
int addr_normalize(const char *addr, size_t len, bool allow_catchall,
    char *out, size_t outsize, const char **error_r);

/* Returns a pointer to the '@' that separates local part and domain
 * (the last '@' outside quotes), or NULL. */
const char *addr_at(const char *addr, size_t len);

/* True when the bytes hold anything beyond 7-bit ASCII. */
bool addr_is_utf8(const char *s, size_t len);
/* True when s[0..len) is well-formed UTF-8 (no overlongs, no surrogates). */
bool utf8_valid(const char *s, size_t len);

/*
 * Sub-addressing: when the local part of a normalized address contains
 * '+', writes "base@domain" (the part before the first '+') into out and
 * returns true; otherwise returns false.
 */
bool addr_strip_tag(const char *addr, char *out, size_t outsize);

#endif
