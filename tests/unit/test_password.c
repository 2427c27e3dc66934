/*
 * test_password.c: argon2id hashing, verification of imported crypt(3)
 * and argon2 hashes with and without Dovecot "{SCHEME}" prefixes.
 *
 * The imported hashes below were generated once on Debian 12 and pasted
 * here, all for the password "secret":
 *   $6$  openssl passwd -6 secret
 *   $6$rounds=1000$  python3 crypt.mksalt(crypt.METHOD_SHA512, rounds=1000)
 *   $5$  openssl passwd -5 secret
 *   $1$  openssl passwd -1 secret
 *   $2b$ python3 crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=32)
 *   $2y$, $y$  libxcrypt crypt_gensalt_ra("$2y$", 5, ...) and ("$y$", 0, ...)
 *   $argon2i$, weak and strong $argon2id$  libsodium crypto_pwhash_str_alg
 */
/* t.h first: it includes <stdio.h>, which banned.h would poison. */
#include "t.h"

#include <stdlib.h>
#include <string.h>

#include "auth/password.h"
#include "lib/util.h"

#define H_SHA512 "$6$sY1U.5scZs5I.KXT$MBocc81InBaK27rUoJscpsLz4UWDemh7cSH" \
	"t.nnMhgQJ5NdSG8S6XBHiWSRo2KiRU3EkUERWF66hUuBUFTddy1"
#define H_SHA512_ROUNDS "$6$rounds=1000$wUqXzDvaVCp3Ylet$onYnmXcrRuc58o8X" \
	"l1uZRRuCRrOhskrUSwSgRuuFRpRaCeC27O2OrjxgJZ1F9I5lcEHosrJ.lBHG8SEuQ8WRy."
#define H_SHA256 "$5$p.2YD3qWAB561cQx$NuNtHNFhGnXSzFgMsega2MLn572zF2wXVA3u" \
	"RAL32p6"
#define H_MD5 "$1$HBkbXWvc$6s3TRIdL73aLYpHD0m8VI0"
#define H_BCRYPT_2B "$2b$05$1ADHaxDrNVJ6b1R3kiUj/Od5D85rf3EnXyZQ1bUVCEs3arO" \
	"WhEm1S"
#define H_BCRYPT_2Y "$2y$05$QA6Z5o4gYIfnNlDmNmMy/eKAOyuVR4GvcpkoRphIq3hFf2/" \
	"w5tAOu"
#define H_YESCRYPT "$y$j9T$YACN2Bn1VyMmrTWja6IMy0$jODui6/f5qqIMBBX47x5L7Iar" \
	"tFjkflsOGs7yjMOdN6"
#define H_ARGON2I "$argon2i$v=19$m=16,t=3,p=1$FpA8Wtb+dYtCyNi/xkxuPw$i7wIYW" \
	"UCXc1Iy29zXSw+cdjcvT3bd6dsn89aRC7l4RQ"
/* argon2id below our limits (8 KiB, 1 pass): correct, but rehash. */
#define H_ARGON2ID_WEAK "$argon2id$v=19$m=8,t=1,p=1$/n4kze0hyOcBooF9ttn6IQ$" \
	"5Un+i7LQ57PtqIRfrb43w5yv0WzMkzJXRyb08rBGSR4"
/* argon2id above our limits (64 MiB, 3 passes): never downgraded. */
#define H_ARGON2ID_STRONG "$argon2id$v=19$m=65536,t=3,p=1$5tQ4pCEPbNqssbkI" \
	"Zx6NBQ$pj98dVKIkQDjnA+SUwjfgYygf4TMRvn7RqduC4I2/Bo"

static const struct {
	const char *stored;
	const char *password;
	enum password_result want;
} verify_cases[] = {
	/* SHA512-CRYPT */
	{ H_SHA512, "secret", PASSWORD_OK_REHASH },
	{ H_SHA512, "Secret", PASSWORD_MISMATCH },
	{ H_SHA512, "", PASSWORD_MISMATCH },
	{ "{SHA512-CRYPT}" H_SHA512, "secret", PASSWORD_OK_REHASH },
	{ "{sha512-crypt}" H_SHA512, "secret", PASSWORD_OK_REHASH },
	{ "{CRYPT}" H_SHA512, "secret", PASSWORD_OK_REHASH },
	{ "{SHA512-CRYPT}" H_SHA512, "wrong", PASSWORD_MISMATCH },
	{ H_SHA512_ROUNDS, "secret", PASSWORD_OK_REHASH },
	{ H_SHA512_ROUNDS, "secreT", PASSWORD_MISMATCH },
	/* SHA256-CRYPT */
	{ H_SHA256, "secret", PASSWORD_OK_REHASH },
	{ "{SHA256-CRYPT}" H_SHA256, "secret", PASSWORD_OK_REHASH },
	{ "{SHA256-CRYPT}" H_SHA256, "secrets", PASSWORD_MISMATCH },
	/* MD5-CRYPT */
	{ H_MD5, "secret", PASSWORD_OK_REHASH },
	{ "{MD5-CRYPT}" H_MD5, "secret", PASSWORD_OK_REHASH },
	{ "{Md5-Crypt}" H_MD5, "nope", PASSWORD_MISMATCH },
	/* BLF-CRYPT */
	{ "{BLF-CRYPT}" H_BCRYPT_2Y, "secret", PASSWORD_OK_REHASH },
	{ "{BLF-CRYPT}" H_BCRYPT_2Y, "secret2", PASSWORD_MISMATCH },
	{ H_BCRYPT_2Y, "secret", PASSWORD_OK_REHASH },
	{ H_BCRYPT_2B, "secret", PASSWORD_OK_REHASH },
	{ "{blf-crypt}" H_BCRYPT_2B, "secret", PASSWORD_OK_REHASH },
	/* yescrypt (no Dovecot scheme of its own: bare or {CRYPT}) */
	{ H_YESCRYPT, "secret", PASSWORD_OK_REHASH },
	{ "{CRYPT}" H_YESCRYPT, "secret", PASSWORD_OK_REHASH },
	{ H_YESCRYPT, "password", PASSWORD_MISMATCH },
	/* argon2 */
	{ H_ARGON2I, "secret", PASSWORD_OK_REHASH },
	{ "{ARGON2I}" H_ARGON2I, "secret", PASSWORD_OK_REHASH },
	{ H_ARGON2I, "secreT", PASSWORD_MISMATCH },
	{ H_ARGON2ID_WEAK, "secret", PASSWORD_OK_REHASH },
	{ "{ARGON2ID}" H_ARGON2ID_WEAK, "secret", PASSWORD_OK_REHASH },
	{ H_ARGON2ID_WEAK, "wrong", PASSWORD_MISMATCH },
	{ H_ARGON2ID_STRONG, "secret", PASSWORD_OK },
	/* A prefix naming another scheme than the hash's own form: the
	 * record is corrupt, so it is a bad hash, not a mismatch. */
	{ "{MD5-CRYPT}" H_SHA512, "secret", PASSWORD_BAD_HASH },
	{ "{SHA512-CRYPT}" H_SHA256, "secret", PASSWORD_BAD_HASH },
	{ "{BLF-CRYPT}" H_YESCRYPT, "secret", PASSWORD_BAD_HASH },
	{ "{CRYPT}" H_ARGON2I, "secret", PASSWORD_BAD_HASH },
	{ "{ARGON2I}" H_ARGON2ID_WEAK, "secret", PASSWORD_BAD_HASH },
	{ "{ARGON2ID}" H_SHA512, "secret", PASSWORD_BAD_HASH },
	/* Unknown prefixes and garbage. */
	{ "{PLAIN}secret", "secret", PASSWORD_BAD_HASH },
	{ "{SSHA512}aGVsbG8=", "secret", PASSWORD_BAD_HASH },
	{ "{}" H_SHA512, "secret", PASSWORD_BAD_HASH },
	{ "{SHA512-CRYPT" H_SHA512, "secret", PASSWORD_BAD_HASH },
	{ "", "secret", PASSWORD_BAD_HASH },
	{ "secret", "secret", PASSWORD_BAD_HASH },
	{ "garbage", "secret", PASSWORD_BAD_HASH },
	{ "$6$", "secret", PASSWORD_BAD_HASH },
	{ "$6$salt$short", "secret", PASSWORD_BAD_HASH },
	{ "$6$sY1U.5scZs5I.KXT", "secret", PASSWORD_BAD_HASH },
	{ "$9$abc$def", "secret", PASSWORD_BAD_HASH },
	/* Traditional DES crypt is not supported. */
	{ "abJnggxhB/yWI", "secret", PASSWORD_BAD_HASH },
	/* Truncated, bad character, extra field, bad bcrypt cost. */
	{ "$1$HBkbXWvc$6s3TRIdL73aLYpHD0m8VI", "secret", PASSWORD_BAD_HASH },
	{ "$1$HBkbXWvc$6s3TRIdL73aLYpHD0m8VI!", "secret", PASSWORD_BAD_HASH },
	{ "$1$x$HBkbXWvc$6s3TRIdL73aLYpHD0m8VI0", "secret", PASSWORD_BAD_HASH },
	{ "$2y$03$QA6Z5o4gYIfnNlDmNmMy/eKAOyuVR4GvcpkoRphIq3hFf2/w5tAOu",
	    "secret", PASSWORD_BAD_HASH },
	{ "$2y$5$QA6Z5o4gYIfnNlDmNmMy/eKAOyuVR4GvcpkoRphIq3hFf2/w5tAOu",
	    "secret", PASSWORD_BAD_HASH },
	{ "$argon2id$v=19$m=65536,t=2,p=1$", "secret", PASSWORD_BAD_HASH },
	{ "$argon2id$v=16$m=8,t=1,p=1$/n4kze0hyOcBooF9ttn6IQ$5Un+i7LQ57Ptq"
	    "IRfrb43w5yv0WzMkzJXRyb08rBGSR4", "secret", PASSWORD_BAD_HASH },
	/* More than the 1 GiB an imported hash may ask for. */
	{ "$argon2id$v=19$m=4194304,t=1,p=1$/n4kze0hyOcBooF9ttn6IQ$5Un+i7LQ"
	    "57PtqIRfrb43w5yv0WzMkzJXRyb08rBGSR4", "secret",
	    PASSWORD_BAD_HASH },
	/* Well-formed, but the hash is another one: a mismatch. */
	{ "$1$HBkbXWvc$6s3TRIdL73aLYpHD0m8VI1", "secret", PASSWORD_MISMATCH },
};

static void
test_imported(void)
{
	for (size_t i = 0; i < ARRAY_SIZE(verify_cases); i++) {
		const char *stored = verify_cases[i].stored;
		const char *pw = verify_cases[i].password;
		enum password_result want = verify_cases[i].want, got;

		got = password_verify(pw, strlen(pw), stored);
		CHECK_MSG(got == want, "verify '%s' against '%s': %d, not %d",
		    pw, stored, (int)got, (int)want);
		CHECK_MSG(password_hash_supported(stored) ==
		    (want != PASSWORD_BAD_HASH), "supported '%s'", stored);
	}
	CHECK(!password_hash_supported(NULL));
	CHECK(password_verify("secret", 6, NULL) == PASSWORD_BAD_HASH);
}

static void
test_crypt_edges(void)
{
	char *big;

	/* The length counts, not a C string: NUL ends nothing. */
	CHECK(password_verify("secret\0x", 8, H_SHA512) == PASSWORD_MISMATCH);
	CHECK(password_verify("secretx", 6, H_SHA512) == PASSWORD_OK_REHASH);
	/* Longer than crypt(3) accepts: a mismatch, not a bad hash. */
	big = xmalloc(4096);
	memset(big, 's', 4096);
	CHECK(password_verify(big, 4096, H_SHA512) == PASSWORD_MISMATCH);
	CHECK(password_verify(big, 4096, H_ARGON2ID_WEAK) ==
	    PASSWORD_MISMATCH);
	free(big);
}

static void
test_hash(void)
{
	static const char pw[] = "correct horse battery staple";
	char *h1, *h2, *p;

	h1 = password_hash(pw, strlen(pw));
	CHECK(h1 != NULL);
	if (h1 == NULL)
		return;
	CHECK(strncmp(h1, "$argon2id$v=19$m=65536,t=2,p=1$", 31) == 0);
	CHECK(password_hash_supported(h1));
	CHECK(password_verify(pw, strlen(pw), h1) == PASSWORD_OK);
	CHECK(password_verify(pw, strlen(pw) - 1, h1) == PASSWORD_MISMATCH);
	CHECK(password_verify("Correct horse battery staple", strlen(pw),
	    h1) == PASSWORD_MISMATCH);
	CHECK(password_verify("", 0, h1) == PASSWORD_MISMATCH);

	p = xasprintf("{argon2id}%s", h1);
	CHECK(password_verify(pw, strlen(pw), p) == PASSWORD_OK);
	free(p);
	p = xasprintf("{SHA512-CRYPT}%s", h1);
	CHECK(password_verify(pw, strlen(pw), p) == PASSWORD_BAD_HASH);
	CHECK(!password_hash_supported(p));
	free(p);

	/* Salted: the same password never hashes the same twice. A NUL
	 * inside the password is part of it. */
	h2 = password_hash("a\0b", 3);
	CHECK(h2 != NULL && strcmp(h1, h2) != 0);
	if (h2 != NULL) {
		CHECK(password_verify("a\0b", 3, h2) == PASSWORD_OK);
		CHECK(password_verify("a", 1, h2) == PASSWORD_MISMATCH);
		CHECK(password_verify("a\0c", 3, h2) == PASSWORD_MISMATCH);
	}
	free(h1);
	free(h2);
}

static void
test_generate(void)
{
	static const char lookalikes[] = "0Oo1lI";
	char a[33], b[33], c[1];
	bool ok = true;

	password_generate(a, 32);
	password_generate(b, 32);
	CHECK(strlen(a) == 32 && strlen(b) == 32);
	CHECK(strcmp(a, b) != 0);
	for (size_t i = 0; i < 32; i++) {
		bool alnum = (a[i] >= 'a' && a[i] <= 'z') ||
		    (a[i] >= 'A' && a[i] <= 'Z') ||
		    (a[i] >= '0' && a[i] <= '9');

		if (!alnum || strchr(lookalikes, a[i]) != NULL)
			ok = false;
	}
	CHECK_MSG(ok, "generated '%s'", a);
	password_generate(c, 0);
	CHECK(c[0] == '\0');
}

int
main(void)
{
	CHECK(password_init() == 0);
	CHECK(password_init() == 0);
	test_imported();
	test_crypt_edges();
	test_hash();
	test_generate();
	return t_done("password");
}
