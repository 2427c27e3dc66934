/* Unit tests: the outbound SMTP client's reply parser, EHLO keywords,
 * AUTH PLAIN initial response and DATA encoder. */
#include "t.h"

#include <stdlib.h>

#include "lib/base64.h"
#include "lib/util.h"
#include "smtp/client.h"

/* Parses a whole reply fed in two chunks split at every offset. Returns
 * the parser's last result; *used_r is the total consumed. */
static int
test_reply_split(const char *in, size_t len, size_t split,
    struct smtp_client_reply *r, size_t *used_r)
{
	char buf[8192];
	size_t have = 0, used, total = 0;
	int rc;

	smtp_client_reply_init(r);
	memcpy(buf, in, split);
	have = split;
	rc = smtp_client_reply_parse(r, buf, have, &used);
	total += used;
	memmove(buf, buf + used, have - used);
	have -= used;
	if (rc != 0) {
		*used_r = total;
		return rc;
	}
	memcpy(buf + have, in + split, len - split);
	have += len - split;
	rc = smtp_client_reply_parse(r, buf, have, &used);
	*used_r = total + used;
	return rc;
}

/* Every split gives the same outcome. */
static void
test_reply_ok(const char *in, int code, const char *text, size_t used_want)
{
	struct smtp_client_reply r;
	size_t len = strlen(in), used;

	for (size_t split = 0; split <= len; split++) {
		int rc = test_reply_split(in, len, split, &r, &used);

		CHECK_MSG(rc == 1, "'%s' split %zu rc %d", in, split, rc);
		CHECK(r.code == code);
		CHECK_STREQ(r.text, text);
		CHECK_MSG(used == used_want, "'%s' split %zu used %zu", in,
		    split, used);
	}
}

static void
test_reply_bad(const char *in)
{
	struct smtp_client_reply r;
	size_t len = strlen(in), used;

	for (size_t split = 0; split <= len; split++)
		CHECK_MSG(test_reply_split(in, len, split, &r, &used) == -1,
		    "'%s' split %zu", in, split);
}

static void
test_replies(void)
{
	struct smtp_client_reply r;
	size_t used;
	char *big;

	/* RFC 5321 4.2: single line, with and without text */
	test_reply_ok("220 mx.example ESMTP\r\n", 220, "mx.example ESMTP", 22);
	test_reply_ok("250\r\n", 250, "", 5);
	test_reply_ok("250 ok\n", 250, "ok", 7);	/* bare LF tolerated */
	/* RFC 5321 4.2.1: multi-line */
	test_reply_ok("250-a\r\n250-b\r\n250 c\r\n", 250, "a b c", 21);
	/* pipelined: the next reply stays in the buffer */
	test_reply_ok("250 ok\r\n550 no\r\n", 250, "ok", 8);
	/* control bytes are not passed on */
	test_reply_ok("550 a\tb\x01\r\n", 550, "a?b?", 10);

	/* need more */
	smtp_client_reply_init(&r);
	CHECK(smtp_client_reply_parse(&r, "250-a\r\n250", 10, &used) == 0);
	CHECK(used == 7);
	CHECK(smtp_client_reply_parse(&r, "", 0, &used) == 0);

	/* RFC 5321 4.2: a 3-digit code 2xx-5xx */
	test_reply_bad("hello\r\n");
	test_reply_bad("25 ok\r\n");
	test_reply_bad("2x0 ok\r\n");
	test_reply_bad("150 ok\r\n");
	test_reply_bad("650 ok\r\n");
	test_reply_bad("250ok\r\n");
	test_reply_bad("\r\n");
	/* RFC 5321 4.2.1: the code stays the same */
	test_reply_bad("250-a\r\n251 b\r\n");

	/* overlong: a complete line and a partial one */
	big = xmalloc(SMTP_CLIENT_LINE_MAX + 16);
	memset(big, 'x', SMTP_CLIENT_LINE_MAX + 16);
	memcpy(big, "250 ", 4);
	memcpy(big + SMTP_CLIENT_LINE_MAX, "\r\n", 2);
	smtp_client_reply_init(&r);
	CHECK(smtp_client_reply_parse(&r, big, SMTP_CLIENT_LINE_MAX + 2,
	    &used) == 1);
	CHECK(strlen(r.text) == sizeof(r.text) - 1);
	memcpy(big + SMTP_CLIENT_LINE_MAX, "x\r\n", 3);
	smtp_client_reply_init(&r);
	CHECK(smtp_client_reply_parse(&r, big, SMTP_CLIENT_LINE_MAX + 3,
	    &used) == -1);
	smtp_client_reply_init(&r);
	CHECK(smtp_client_reply_parse(&r, big, SMTP_CLIENT_LINE_MAX + 1,
	    &used) == 0);
	smtp_client_reply_init(&r);
	CHECK(smtp_client_reply_parse(&r, big, SMTP_CLIENT_LINE_MAX + 2,
	    &used) == -1);
	free(big);

	/* too many lines */
	{
		char buf[SMTP_CLIENT_REPLY_LINES_MAX * 8 + 16];
		size_t n = 0;

		for (unsigned i = 0; i <= SMTP_CLIENT_REPLY_LINES_MAX; i++) {
			memcpy(buf + n, "250-x\r\n", 7);
			n += 7;
		}
		memcpy(buf + n, "250 x\r\n", 7);
		n += 7;
		smtp_client_reply_init(&r);
		CHECK(smtp_client_reply_parse(&r, buf, n, &used) == -1);
	}
}

static void
test_ehlo(void)
{
	const char *in = "250-mx.example hello\r\n250-SIZE 1000000\r\n"
	    "250-starttls\r\n250-PIPELINING\r\n250-8BITMIME\r\n"
	    "250-AUTH PLAIN\r\n250 SMTPUTF8\r\n";
	struct smtp_client_reply r;
	struct smtp_client_ext e;
	size_t used;

	smtp_client_reply_init(&r);
	CHECK(smtp_client_reply_parse(&r, in, strlen(in), &used) == 1);
	CHECK(r.ext.size && r.ext.size_limit == 1000000);
	CHECK(r.ext.starttls && r.ext.pipelining && r.ext.eightbitmime &&
	    r.ext.smtputf8);
	CHECK(r.ext.auth_plain && !r.ext.auth_login);

	/* the first line is the server's name, not a keyword */
	in = "250-STARTTLS\r\n250 SIZE\r\n";
	smtp_client_reply_init(&r);
	CHECK(smtp_client_reply_parse(&r, in, strlen(in), &used) == 1);
	CHECK(!r.ext.starttls);
	/* RFC 1870: SIZE alone, SIZE 0: no limit */
	CHECK(r.ext.size && r.ext.size_limit == 0);

	memset(&e, 0, sizeof(e));
	smtp_client_ext_parse(&e, "SIZE 0", 6);
	CHECK(e.size && e.size_limit == 0);
	smtp_client_ext_parse(&e, "SIZE  52428800", 14);
	CHECK(e.size_limit == 52428800);
	smtp_client_ext_parse(&e, "SIZE junk", 9);
	CHECK(e.size && e.size_limit == 0);
	smtp_client_ext_parse(&e, "SIZE 99999999999999999999999", 28);
	CHECK(e.size_limit == 0);
	smtp_client_ext_parse(&e, "STARTTLSX", 9);
	smtp_client_ext_parse(&e, "8BITMIMEX", 9);
	smtp_client_ext_parse(&e, "", 0);
	CHECK(!e.starttls && !e.eightbitmime);
	smtp_client_ext_parse(&e, "8bitmime", 8);
	CHECK(e.eightbitmime);

	/* RFC 4954 3: AUTH and its mechanisms */
	in = "250-mx.example\r\n250-AUTH LOGIN PLAIN CRAM-MD5\r\n250 OK\r\n";
	smtp_client_reply_init(&r);
	CHECK(smtp_client_reply_parse(&r, in, strlen(in), &used) == 1);
	CHECK(r.ext.auth_plain && r.ext.auth_login);
	memset(&e, 0, sizeof(e));
	smtp_client_ext_parse(&e, "AUTH login", 10);
	CHECK(e.auth_login && !e.auth_plain);
	memset(&e, 0, sizeof(e));
	smtp_client_ext_parse(&e, "AUTH  CRAM-MD5  plain ", 22);
	CHECK(e.auth_plain && !e.auth_login);
	/* the old form */
	memset(&e, 0, sizeof(e));
	smtp_client_ext_parse(&e, "AUTH=PLAIN LOGIN", 16);
	CHECK(e.auth_plain && e.auth_login);
	/* no mechanisms, look-alikes */
	memset(&e, 0, sizeof(e));
	smtp_client_ext_parse(&e, "AUTH", 4);
	smtp_client_ext_parse(&e, "AUTH=", 5);
	smtp_client_ext_parse(&e, "AUTHX PLAIN", 11);
	smtp_client_ext_parse(&e, "AUTH PLAINX LOGINX XPLAIN", 25);
	smtp_client_ext_parse(&e, "XAUTH PLAIN LOGIN", 17);
	CHECK(!e.auth_plain && !e.auth_login);
	/* only the slice counts */
	smtp_client_ext_parse(&e, "AUTH PLAIN", 9);
	CHECK(!e.auth_plain);
}

static void
test_auth_plain(void)
{
	char out[SMTP_CLIENT_AUTH_PLAIN_MAX];
	char field[SMTP_CLIENT_AUTH_FIELD_MAX + 2];
	unsigned char raw[SMTP_CLIENT_AUTH_PLAIN_MAX];
	long n;

	/* RFC 4616 2: base64 of NUL user NUL password */
	CHECK(smtp_client_auth_plain("user", "pass", out) == 0);
	CHECK_STREQ(out, "AHVzZXIAcGFzcw==");
	/* RFC 4616 4 example: authcid tim, passwd tanstaaftanstaaf */
	CHECK(smtp_client_auth_plain("tim", "tanstaaftanstaaf", out) == 0);
	CHECK_STREQ(out, "AHRpbQB0YW5zdGFhZnRhbnN0YWFm");
	/* UTF-8 and punctuation pass through */
	CHECK(smtp_client_auth_plain("r\xc3\xa9lai@example.org",
	    "p\xc3\xa4ss w:rd", out) == 0);
	n = base64_decode(out, strlen(out), raw);
	CHECK(n == 30 && memcmp(raw,
	    "\0r\xc3\xa9lai@example.org\0p\xc3\xa4ss w:rd", 30) == 0);

	/* RFC 4616 2: 1 to 255 octets each */
	CHECK(smtp_client_auth_plain("", "pass", out) == -1);
	CHECK(out[0] == '\0');
	CHECK(smtp_client_auth_plain("user", "", out) == -1);
	memset(field, 'a', sizeof(field));
	field[SMTP_CLIENT_AUTH_FIELD_MAX] = '\0';
	CHECK(smtp_client_auth_plain(field, field, out) == 0);
	CHECK(strlen(out) + 1 <= sizeof(out));
	n = base64_decode(out, strlen(out), raw);
	CHECK(n == 2 * SMTP_CLIENT_AUTH_FIELD_MAX + 2);
	CHECK(raw[0] == '\0' && raw[SMTP_CLIENT_AUTH_FIELD_MAX + 1] == '\0');
	field[SMTP_CLIENT_AUTH_FIELD_MAX] = 'a';
	field[SMTP_CLIENT_AUTH_FIELD_MAX + 1] = '\0';
	CHECK(smtp_client_auth_plain(field, "pass", out) == -1);
	CHECK(smtp_client_auth_plain("user", field, out) == -1);
}

/* Encodes in at every two-chunk split and compares with want. */
static void
test_body(const char *in, const char *want)
{
	size_t len = strlen(in), wlen = strlen(want);
	char *out = xmalloc(2 * len + SMTP_CLIENT_BODY_END_MAX + 1);
	struct smtp_client_body b;

	for (size_t split = 0; split <= len; split++) {
		size_t o;

		smtp_client_body_init(&b);
		o = smtp_client_body_encode(&b, in, split, out);
		o += smtp_client_body_encode(&b, in + split, len - split,
		    out + o);
		o += smtp_client_body_end(&b, out + o);
		out[o] = '\0';
		CHECK_MSG(o == wlen && memcmp(out, want, wlen) == 0,
		    "split %zu: '%s'", split, out);
	}
	/* and one byte at a time */
	{
		size_t o = 0;

		smtp_client_body_init(&b);
		for (size_t i = 0; i < len; i++)
			o += smtp_client_body_encode(&b, in + i, 1, out + o);
		o += smtp_client_body_end(&b, out + o);
		CHECK(o == wlen && memcmp(out, want, wlen) == 0);
	}
	free(out);
}

static void
test_bodies(void)
{
	/* RFC 5321 2.3.8: CRLF line ends */
	test_body("a\nb\n", "a\r\nb\r\n.\r\n");
	/* a stored CRLF stays one CRLF */
	test_body("a\r\nb\r\n", "a\r\nb\r\n.\r\n");
	/* the end: a CRLF is added when missing */
	test_body("a\nb", "a\r\nb\r\n.\r\n");
	test_body("", ".\r\n");
	test_body("\n", "\r\n.\r\n");
	/* RFC 5321 4.5.2: dot stuffing at every line start */
	test_body(".\n", "..\r\n.\r\n");
	test_body(".a\n..b\nc.\n.", "..a\r\n...b\r\nc.\r\n..\r\n.\r\n");
	test_body("x\r\n.\r\ny\n", "x\r\n..\r\ny\r\n.\r\n");
	/* SMTP smuggling: a bare LF dot line cannot end the data */
	test_body("a\n.\nb", "a\r\n..\r\nb\r\n.\r\n");
	/* bare CR is data; a final CR ends the line */
	test_body("a\rb\n", "a\rb\r\n.\r\n");
	test_body("a\r.\n", "a\r.\r\n.\r\n");
	test_body("a\r", "a\r\n.\r\n");
	test_body("\r\r\n", "\r\r\n.\r\n");
}

int
main(void)
{
	test_replies();
	test_ehlo();
	test_auth_plain();
	test_bodies();
	return t_done("smtp_client");
}
