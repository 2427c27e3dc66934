/*
 * password.c: argon2id hashing through libsodium, verification of
 * argon2 and imported crypt(3) hashes through libsodium and libxcrypt.
 *
 * Cost of new hashes: argon2id with libsodium's INTERACTIVE limits
 * (2 passes over 64 MiB, about 50-100 ms on current hardware). Every
 * IMAP, POP3 and SMTP AUTH login pays this in a worker thread, and a
 * burst of logins multiplies the memory; the MODERATE limits (256 MiB,
 * ~0.7 s) would let a handful of concurrent logins exhaust a small
 * server. Hashes made with lower limits are reported for rehashing.
 */
#include <crypt.h>
#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "password.h"
#include "lib/util.h"

#define PASSWORD_OPSLIMIT crypto_pwhash_argon2id_OPSLIMIT_INTERACTIVE
#define PASSWORD_MEMLIMIT crypto_pwhash_argon2id_MEMLIMIT_INTERACTIVE
/* Upper bounds for stored argon2 parameters, so that one imported or
 * corrupted hash cannot make a login allocate more than 1 GiB. */
#define PASSWORD_ARGON2_MAX_KIB (1024 * 1024)
#define PASSWORD_ARGON2_MAX_T 32
#define PASSWORD_ARGON2_VERSION 19

/* One bit per hash form password_verify understands. */
#define PASSWORD_KIND_MD5	(1U << 0)
#define PASSWORD_KIND_SHA256	(1U << 1)
#define PASSWORD_KIND_SHA512	(1U << 2)
#define PASSWORD_KIND_BCRYPT	(1U << 3)
#define PASSWORD_KIND_YESCRYPT	(1U << 4)
#define PASSWORD_KIND_ARGON2I	(1U << 5)
#define PASSWORD_KIND_ARGON2ID	(1U << 6)
#define PASSWORD_KINDS_CRYPT	(PASSWORD_KIND_MD5 | \
	PASSWORD_KIND_SHA256 | PASSWORD_KIND_SHA512 | PASSWORD_KIND_BCRYPT | \
	PASSWORD_KIND_YESCRYPT)
#define PASSWORD_KINDS_ARGON2	(PASSWORD_KIND_ARGON2I | \
	PASSWORD_KIND_ARGON2ID)
#define PASSWORD_KINDS_ALL	(PASSWORD_KINDS_CRYPT | PASSWORD_KINDS_ARGON2)

/* Dovecot password scheme prefixes ("{SHA512-CRYPT}$6$...") and the
 * hash forms each may name. */
static const struct password_prefix {
	const char *name;
	unsigned kinds;
} password_prefixes[] = {
	{ "SHA512-CRYPT", PASSWORD_KIND_SHA512 },
	{ "SHA256-CRYPT", PASSWORD_KIND_SHA256 },
	{ "BLF-CRYPT", PASSWORD_KIND_BCRYPT },
	{ "MD5-CRYPT", PASSWORD_KIND_MD5 },
	{ "CRYPT", PASSWORD_KINDS_CRYPT },
	{ "ARGON2ID", PASSWORD_KIND_ARGON2ID },
	{ "ARGON2I", PASSWORD_KIND_ARGON2I },
};

/*
 * The crypt(3) forms: "$id$" prefix, how many '$' the whole string holds
 * ($5$ and $6$ may carry a "rounds=N$" field) and the length of the last
 * field (for bcrypt: 22 octets of salt and 31 of hash).
 */
static const struct password_crypt {
	const char *prefix;
	unsigned kind;
	unsigned dollars_min, dollars_max;
	size_t last_len;
} password_crypts[] = {
	{ "$1$", PASSWORD_KIND_MD5, 3, 3, 22 },
	{ "$5$", PASSWORD_KIND_SHA256, 3, 4, 43 },
	{ "$6$", PASSWORD_KIND_SHA512, 3, 4, 86 },
	{ "$2a$", PASSWORD_KIND_BCRYPT, 3, 3, 53 },
	{ "$2b$", PASSWORD_KIND_BCRYPT, 3, 3, 53 },
	{ "$2y$", PASSWORD_KIND_BCRYPT, 3, 3, 53 },
	{ "$y$", PASSWORD_KIND_YESCRYPT, 4, 4, 43 },
};

/* Letters and digits without look-alikes (0 O o 1 l I). */
static const char password_alphabet[] =
    "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";

int
password_init(void)
{
	/* 1 means already initialized, which is fine. */
	return sodium_init() < 0 ? -1 : 0;
}

char *
password_hash(const char *password, size_t len)
{
	char out[crypto_pwhash_STRBYTES];
	char *hash;

	if (crypto_pwhash_str_alg(out, password, len, PASSWORD_OPSLIMIT,
	    PASSWORD_MEMLIMIT, crypto_pwhash_ALG_ARGON2ID13) != 0)
		return NULL;
	hash = xstrdup(out);
	sodium_memzero(out, sizeof(out));
	return hash;
}

/* The crypt(3) base64 alphabet. */
static bool
password_is_crypt64(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '.' || c == '/';
}

/* Standard base64 without padding, as argon2 strings use it. */
static bool
password_is_b64(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '+' || c == '/';
}

/* Returns the PASSWORD_KIND_* of a crypt(3) hash, or 0. */
static unsigned
password_crypt_kind(const char *hash)
{
	const struct password_crypt *c = NULL;
	const char *last;
	unsigned dollars = 0;
	size_t i, len = strlen(hash);

	if (len >= CRYPT_OUTPUT_SIZE)
		return 0;
	for (i = 0; i < ARRAY_SIZE(password_crypts); i++) {
		if (strncmp(hash, password_crypts[i].prefix,
		    strlen(password_crypts[i].prefix)) == 0) {
			c = &password_crypts[i];
			break;
		}
	}
	if (c == NULL)
		return 0;
	for (i = 0; i < len; i++) {
		if (hash[i] == '$')
			dollars++;
		else if (!password_is_crypt64(hash[i]) && hash[i] != '=')
			return 0;
	}
	if (dollars < c->dollars_min || dollars > c->dollars_max)
		return 0;
	last = strrchr(hash, '$') + 1;
	if (strlen(last) != c->last_len)
		return 0;
	for (i = 0; i < c->last_len; i++) {
		if (!password_is_crypt64(last[i]))
			return 0;
	}
	if (c->kind == PASSWORD_KIND_BCRYPT) {
		/* "$2y$NN$": a two-digit cost, 04..31. */
		uint64_t cost;

		if (hash[6] != '$' ||
		    str_to_u64(hash + 4, 2, 31, &cost) < 0 || cost < 4)
			return 0;
	} else if (dollars == 4 && c->dollars_max != c->dollars_min &&
	    strncmp(hash + 3, "rounds=", 7) != 0)
		return 0;
	return c->kind;
}

/*
 * Parses "v=19$m=M,t=T,p=P$salt$hash" (what follows "$argon2id$") and
 * sets the memory cost in KiB and the pass count. Returns 0 or -1.
 */
static int
password_argon2_parse(const char *s, uint64_t *m_r, uint64_t *t_r)
{
	static const char *const keys[] = { "v=", "m=", "t=", "p=" };
	static const char seps[] = { '$', ',', ',', '$' };
	uint64_t v[ARRAY_SIZE(keys)];
	const char *end;
	size_t n;

	for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
		if (strncmp(s, keys[i], 2) != 0)
			return -1;
		s += 2;
		if ((end = strchr(s, seps[i])) == NULL ||
		    str_to_u64(s, (size_t)(end - s), UINT32_MAX, &v[i]) < 0)
			return -1;
		s = end + 1;
	}
	if (v[0] != PASSWORD_ARGON2_VERSION || v[1] == 0 ||
	    v[1] > PASSWORD_ARGON2_MAX_KIB || v[2] == 0 ||
	    v[2] > PASSWORD_ARGON2_MAX_T || v[3] == 0)
		return -1;
	/* Salt, '$', hash: both non-empty base64. */
	for (n = 0; password_is_b64(s[n]); n++)
		;
	if (n == 0 || s[n] != '$')
		return -1;
	s += n + 1;
	for (n = 0; password_is_b64(s[n]); n++)
		;
	if (n == 0 || s[n] != '\0')
		return -1;
	*m_r = v[1];
	*t_r = v[2];
	return 0;
}

/* Returns the PASSWORD_KIND_* of hash, or 0 when it is none we know. */
static unsigned
password_kind(const char *hash)
{
	uint64_t m, t;

	if (strncmp(hash, crypto_pwhash_argon2id_STRPREFIX,
	    strlen(crypto_pwhash_argon2id_STRPREFIX)) == 0) {
		if (password_argon2_parse(hash +
		    strlen(crypto_pwhash_argon2id_STRPREFIX), &m, &t) < 0)
			return 0;
		return PASSWORD_KIND_ARGON2ID;
	}
	if (strncmp(hash, crypto_pwhash_argon2i_STRPREFIX,
	    strlen(crypto_pwhash_argon2i_STRPREFIX)) == 0) {
		if (password_argon2_parse(hash +
		    strlen(crypto_pwhash_argon2i_STRPREFIX), &m, &t) < 0)
			return 0;
		return PASSWORD_KIND_ARGON2I;
	}
	return password_crypt_kind(hash);
}

/*
 * Splits an optional Dovecot "{SCHEME}" prefix (case-insensitive) off
 * stored and identifies the hash. A prefix naming another scheme than
 * the hash's own form makes the whole string unsupported (-1): such a
 * record is corrupt, and guessing which half is right is unsafe.
 */
static int
password_parse(const char *stored, unsigned *kind_r, const char **hash_r)
{
	unsigned allowed = PASSWORD_KINDS_ALL, kind;
	const char *hash = stored;

	if (stored[0] == '{') {
		const char *end = strchr(stored, '}');
		size_t i;

		if (end == NULL)
			return -1;
		for (i = 0; i < ARRAY_SIZE(password_prefixes); i++) {
			if (str_ieq_n(stored + 1, (size_t)(end - stored - 1),
			    password_prefixes[i].name))
				break;
		}
		if (i == ARRAY_SIZE(password_prefixes))
			return -1;
		allowed = password_prefixes[i].kinds;
		hash = end + 1;
	}
	kind = password_kind(hash);
	if ((kind & allowed) == 0)
		return -1;
	*kind_r = kind;
	*hash_r = hash;
	return 0;
}

bool
password_hash_supported(const char *stored)
{
	const char *hash;
	unsigned kind;

	return stored != NULL && password_parse(stored, &kind, &hash) == 0;
}

static enum password_result
password_verify_argon2(const char *password, size_t len, const char *hash,
    unsigned kind)
{
	uint64_t m, t;
	int r;

	if (crypto_pwhash_str_verify(hash, password, len) != 0)
		return PASSWORD_MISMATCH;
	if (kind == PASSWORD_KIND_ARGON2I)
		return PASSWORD_OK_REHASH;
	r = crypto_pwhash_str_needs_rehash(hash, PASSWORD_OPSLIMIT,
	    PASSWORD_MEMLIMIT);
	if (r == 0)
		return PASSWORD_OK;
	/* Different parameters: rehash only when they are weaker than
	 * ours, never downgrade a stronger hash. */
	if (r > 0 && password_argon2_parse(hash +
	    strlen(crypto_pwhash_argon2id_STRPREFIX), &m, &t) == 0 &&
	    m >= PASSWORD_MEMLIMIT / 1024 && t >= PASSWORD_OPSLIMIT)
		return PASSWORD_OK;
	return PASSWORD_OK_REHASH;
}

static enum password_result
password_verify_crypt(const char *password, size_t len, const char *hash)
{
	enum password_result result;
	struct crypt_data *data;
	const char *out;
	char *phrase;
	size_t hlen = strlen(hash);
	bool has_nul;

	/* crypt(3) refuses longer passphrases (ERANGE); the length is not
	 * the content, so answering early leaks nothing. */
	if (len >= CRYPT_MAX_PASSPHRASE_SIZE)
		return PASSWORD_MISMATCH;
	/* A C string cannot hold NUL: hash the prefix anyway so the work
	 * done does not depend on it, then refuse. */
	has_nul = memchr(password, '\0', len) != NULL;
	phrase = xmalloc(len + 1);
	memcpy(phrase, password, len);
	phrase[len] = '\0';
	/* struct crypt_data is ~32 KiB: too big for a worker's stack. */
	data = xcalloc(1, sizeof(*data));
	out = crypt_rn(phrase, hash, data, (int)sizeof(*data));
	if (out == NULL)
		result = PASSWORD_BAD_HASH;
	else if (strlen(out) == hlen && sodium_memcmp(out, hash, hlen) == 0 &&
	    !has_nul)
		result = PASSWORD_OK_REHASH;	/* every crypt form is legacy */
	else
		result = PASSWORD_MISMATCH;
	sodium_memzero(data, sizeof(*data));
	free(data);
	sodium_memzero(phrase, len + 1);
	free(phrase);
	return result;
}

enum password_result
password_verify(const char *password, size_t len, const char *stored)
{
	const char *hash;
	unsigned kind;

	if (stored == NULL || password_parse(stored, &kind, &hash) < 0)
		return PASSWORD_BAD_HASH;
	if ((kind & PASSWORD_KINDS_ARGON2) != 0)
		return password_verify_argon2(password, len, hash, kind);
	return password_verify_crypt(password, len, hash);
}

void
password_generate(char *out, size_t len)
{
	for (size_t i = 0; i < len; i++)
		out[i] = password_alphabet[randombytes_uniform(
		    (uint32_t)(sizeof(password_alphabet) - 1))];
	out[len] = '\0';
}
