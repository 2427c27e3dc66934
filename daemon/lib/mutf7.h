/*
 * mutf7.h: IMAP mailbox names in modified UTF-7 (RFC 3501 5.1.3) to and
 * from UTF-8, and a strict UTF-8 check. Depends on lib/ only.
 */
#ifndef FACTEUR_MUTF7_H
#define FACTEUR_MUTF7_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

/*
 * Modified UTF-7 to UTF-8, appended to out. -1 (out may hold a partial
 * result) on input that is not the one canonical encoding of a name:
 * bad base64, base64 for a printable ASCII character ("&AGE-"), two
 * shifts in a row ("&AOk-&AOk-"), an unterminated or empty "&...", a
 * raw control or 8-bit byte, an unpaired surrogate, U+0000, leftover
 * bits that are not zero or that make a whole base64 character.
 */
int mutf7_to_utf8(const char *s, size_t len, struct buf *out);
/* UTF-8 to modified UTF-7, appended to out. -1 on invalid UTF-8
 * (overlongs, surrogates, beyond U+10FFFF) or a NUL. */
int utf8_to_mutf7(const char *s, size_t len, struct buf *out);
/* (utf8_valid, with the same rules, is in lib/addr.h.) */

#endif
