/*
 * password.h: password hashing and verification.
 * New hashes are argon2id (libsodium crypto_pwhash_str, moderate limits).
 * Verification also accepts imported crypt(3) hashes (libxcrypt):
 * SHA512-CRYPT ($6$), SHA256-CRYPT ($5$), BLF-CRYPT ($2a$/$2b$/$2y$),
 * MD5-CRYPT ($1$), yescrypt ($y$), with or without a Dovecot "{SCHEME}"
 * prefix ({SHA512-CRYPT}, {SHA256-CRYPT}, {BLF-CRYPT}, {MD5-CRYPT},
 * {CRYPT}, {ARGON2ID}, {ARGON2I}); the scheme named by the prefix must
 * match the hash's own form.
 * These calls are slow by design: call them off the event loop.
 * Thread-safe (crypt_rn with a per-call buffer).
 */
#ifndef FACTEUR_PASSWORD_H
#define FACTEUR_PASSWORD_H

#include <stdbool.h>
#include <stddef.h>

/* Must be called once before any other function (sodium_init). 0 / -1. */
int password_init(void);

/* Hashes a password with argon2id. Returns a malloc'ed hash string
 * ("$argon2id$v=19$m=...") or NULL on failure. */
char *password_hash(const char *password, size_t len);

enum password_result {
	PASSWORD_MISMATCH = 0,
	PASSWORD_OK = 1,
	PASSWORD_OK_REHASH = 2,	/* correct, but stored in a legacy scheme or
				   with weaker argon2 parameters: rehash */
	PASSWORD_BAD_HASH = -1,	/* stored hash unparseable or unsupported */
};

/* Verifies password against a stored hash in constant time with respect
 * to the password's content. */
enum password_result password_verify(const char *password, size_t len,
    const char *stored);

/* True when the string is a hash password_verify understands (used to
 * accept pre-hashed passwords from the CLI and API). */
bool password_hash_supported(const char *stored);

/* Writes a random password of len characters (letters and digits, no
 * look-alikes) into out (size > len). */
void password_generate(char *out, size_t len);

#endif
