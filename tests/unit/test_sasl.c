/* Unit tests: base64 (RFC 4648 10 test vectors) and SASL PLAIN/LOGIN. */
#include "t.h"

#include "auth/sasl.h"
#include "lib/base64.h"
#include "lib/util.h"

static void
test_base64(void)
{
	/* RFC 4648 10 */
	static const char *const vec[][2] = {
		{ "", "" }, { "f", "Zg==" }, { "fo", "Zm8=" },
		{ "foo", "Zm9v" }, { "foob", "Zm9vYg==" },
		{ "fooba", "Zm9vYmE=" }, { "foobar", "Zm9vYmFy" },
	};
	static const char *const bad[] = {
		"Zg=", "Z===", "Zm9v!", "Zm 9", "Zh==", "Zm9=", "=Zm9",
		"Zg==Zg==", "Zm9vYg=a",
	};
	char enc[64], dec[64];

	for (size_t i = 0; i < ARRAY_SIZE(vec); i++) {
		long n;

		base64_encode(vec[i][0], strlen(vec[i][0]), enc);
		CHECK_STREQ(enc, vec[i][1]);
		n = base64_decode(vec[i][1], strlen(vec[i][1]), dec);
		CHECK(n == (long)strlen(vec[i][0]));
		CHECK(n >= 0 && memcmp(dec, vec[i][0], (size_t)n) == 0);
	}
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		CHECK_MSG(base64_decode(bad[i], strlen(bad[i]), dec) < 0,
		    "'%s' accepted", bad[i]);
}

static void
test_plain(void)
{
	struct sasl s;
	const char *ch = NULL, *err = NULL;
	char b64[128];
	enum sasl_mech m;

	CHECK(sasl_mech_parse("plain", &m) == 0 && m == SASL_PLAIN);
	CHECK(sasl_mech_parse("LOGIN", &m) == 0 && m == SASL_LOGIN);
	CHECK(sasl_mech_parse("CRAM-MD5", &m) < 0);

	/* RFC 4616 4: "\0tim\0tanstaaftanstaaf" */
	base64_encode("\0tim\0tanstaaftanstaaf", 21, b64);
	CHECK(sasl_start(&s, SASL_PLAIN, b64, &ch, &err) == SASL_DONE);
	CHECK_STREQ(s.user, "tim");
	CHECK_STREQ(s.password, "tanstaaftanstaaf");
	CHECK(s.password_len == 16);
	sasl_clear(&s);
	CHECK(s.user[0] == '\0' && s.password[0] == '\0');

	/* authzid equal to authcid is fine, another is refused */
	base64_encode("tim\0tim\0pw", 10, b64);
	CHECK(sasl_start(&s, SASL_PLAIN, b64, &ch, &err) == SASL_DONE);
	base64_encode("root\0tim\0pw", 11, b64);
	CHECK(sasl_start(&s, SASL_PLAIN, b64, &ch, &err) == SASL_ERROR);

	/* no initial response: empty challenge, then the response */
	CHECK(sasl_start(&s, SASL_PLAIN, NULL, &ch, &err) == SASL_CONTINUE);
	CHECK_STREQ(ch, "");
	base64_encode("\0a@b.example\0secret", 19, b64);
	CHECK(sasl_step(&s, b64, strlen(b64), &ch, &err) == SASL_DONE);
	CHECK_STREQ(s.user, "a@b.example");

	/* malformed: one NUL, empty user, NUL in password, bad base64 */
	base64_encode("\0tim", 4, b64);
	CHECK(sasl_start(&s, SASL_PLAIN, b64, &ch, &err) == SASL_ERROR);
	base64_encode("\0\0pw", 4, b64);
	CHECK(sasl_start(&s, SASL_PLAIN, b64, &ch, &err) == SASL_ERROR);
	base64_encode("\0u\0p\0w", 6, b64);
	CHECK(sasl_start(&s, SASL_PLAIN, b64, &ch, &err) == SASL_ERROR);
	CHECK(sasl_start(&s, SASL_PLAIN, "!!!!", &ch, &err) == SASL_ERROR);
	/* RFC 4422 3.5: "*" cancels */
	CHECK(sasl_start(&s, SASL_PLAIN, NULL, &ch, &err) == SASL_CONTINUE);
	CHECK(sasl_step(&s, "*", 1, &ch, &err) == SASL_CANCEL);
	/* "=" is an empty initial response (RFC 4959): malformed PLAIN */
	CHECK(sasl_start(&s, SASL_PLAIN, "=", &ch, &err) == SASL_ERROR);
}

static void
test_login(void)
{
	struct sasl s;
	const char *ch = NULL, *err = NULL;
	char b64[64];

	CHECK(sasl_start(&s, SASL_LOGIN, NULL, &ch, &err) == SASL_CONTINUE);
	CHECK_STREQ(ch, "VXNlcm5hbWU6");	/* "Username:" */
	base64_encode("me@example.com", 14, b64);
	CHECK(sasl_step(&s, b64, strlen(b64), &ch, &err) == SASL_CONTINUE);
	CHECK_STREQ(ch, "UGFzc3dvcmQ6");	/* "Password:" */
	base64_encode("hunter22", 8, b64);
	CHECK(sasl_step(&s, b64, strlen(b64), &ch, &err) == SASL_DONE);
	CHECK_STREQ(s.user, "me@example.com");
	CHECK_STREQ(s.password, "hunter22");

	/* initial response carries the user name */
	base64_encode("me@example.com", 14, b64);
	CHECK(sasl_start(&s, SASL_LOGIN, b64, &ch, &err) == SASL_CONTINUE);
	CHECK_STREQ(ch, "UGFzc3dvcmQ6");
	/* empty user name refused */
	CHECK(sasl_start(&s, SASL_LOGIN, "=", &ch, &err) == SASL_ERROR);
}

int
main(void)
{
	test_base64();
	test_plain();
	test_login();
	return t_done("sasl");
}
