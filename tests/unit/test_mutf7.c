/* Unit tests: modified UTF-7 mailbox names (RFC 3501 5.1.3) to and from
 * UTF-8 (RFC 3629). */
#include "t.h"

#include "lib/buf.h"
#include "lib/mutf7.h"
#include "lib/util.h"

static const char *
to_utf8(const char *s, struct buf *out)
{
	buf_reset(out);
	if (mutf7_to_utf8(s, strlen(s), out) < 0)
		return "invalid";
	return out->len > 0 ? out->data : "";
}

static const char *
to_mutf7(const char *s, size_t len, struct buf *out)
{
	buf_reset(out);
	if (utf8_to_mutf7(s, len, out) < 0)
		return "invalid";
	return out->len > 0 ? out->data : "";
}

static void
test_round_trips(void)
{
	static const struct {
		const char *utf8, *mutf7;
	} rows[] = {
		{ "", "" },
		{ "INBOX", "INBOX" },
		{ "Sent Items/2024 ~x", "Sent Items/2024 ~x" },
		/* RFC 3501 5.1.3: "&" is "&-" */
		{ "&", "&-" },
		{ "a&b&&", "a&-b&-&-" },
		{ "Entw\xc3\xbcrfe", "Entw&APw-rfe" },
		/* RFC 3501 5.1.3 example */
		{ "~peter/mail/\xe5\x8f\xb0\xe5\x8c\x97/\xe6\x97\xa5"
		    "\xe6\x9c\xac\xe8\xaa\x9e",
		    "~peter/mail/&U,BTFw-/&ZeVnLIqe-" },
		{ "\xe5\x8f\xb0\xe5\x8c\x97", "&U,BTFw-" },
		/* a surrogate pair: U+1F600 */
		{ "\xf0\x9f\x98\x80", "&2D3eAA-" },
		{ "x\xf0\x9f\x98\x80y\xf0\x9f\x93\xa7", "x&2D3eAA-y&2D3c5w-" },
		/* control characters are encoded too */
		{ "a\tb", "a&AAk-b" },
		{ "\x7f", "&AH8-" },
		{ "\xc3\xa9\xc3\xa9\xc3\xa9", "&AOkA6QDp-" },
		{ "\xc3\xa9&\xc3\xa9", "&AOk-&-&AOk-" },
		{ "\xef\xbf\xbd", "&,,0-" },
		{ "\xf4\x8f\xbf\xbf", "&2,,f,w-" },
		{ "\xc2\x80", "&AIA-" },
	};
	struct buf out;

	buf_init(&out);
	for (size_t i = 0; i < ARRAY_SIZE(rows); i++) {
		CHECK_STREQ(to_mutf7(rows[i].utf8, strlen(rows[i].utf8), &out),
		    rows[i].mutf7);
		CHECK_STREQ(to_utf8(rows[i].mutf7, &out), rows[i].utf8);
	}
	/* appends */
	buf_reset(&out);
	buf_append_str(&out, "x/");
	CHECK(mutf7_to_utf8("&APw-", 5, &out) == 0);
	CHECK_STREQ(out.data, "x/\xc3\xbc");
	/* every BMP code point but surrogates and NUL, and some beyond */
	for (unsigned cp = 1; cp < 0x110000; cp += cp < 0x10000 ? 1 : 97) {
		char u[4];
		size_t n;
		struct buf back;

		if (cp >= 0xd800 && cp <= 0xdfff)
			continue;
		if (cp < 0x80) {
			u[0] = (char)cp;
			n = 1;
		} else if (cp < 0x800) {
			u[0] = (char)(0xc0 | cp >> 6);
			u[1] = (char)(0x80 | (cp & 0x3f));
			n = 2;
		} else if (cp < 0x10000) {
			u[0] = (char)(0xe0 | cp >> 12);
			u[1] = (char)(0x80 | (cp >> 6 & 0x3f));
			u[2] = (char)(0x80 | (cp & 0x3f));
			n = 3;
		} else {
			u[0] = (char)(0xf0 | cp >> 18);
			u[1] = (char)(0x80 | (cp >> 12 & 0x3f));
			u[2] = (char)(0x80 | (cp >> 6 & 0x3f));
			u[3] = (char)(0x80 | (cp & 0x3f));
			n = 4;
		}
		buf_reset(&out);
		buf_init(&back);
		if (utf8_to_mutf7(u, n, &out) < 0 ||
		    mutf7_to_utf8(out.data, out.len, &back) < 0 ||
		    back.len != n || memcmp(back.data, u, n) != 0) {
			CHECK_MSG(0, "U+%04X", cp);
			buf_deinit(&back);
			break;
		}
		buf_deinit(&back);
	}
	CHECK(1);
	buf_deinit(&out);
}

static void
test_invalid(void)
{
	static const char *bad_mutf7[] = {
		"&",			/* unterminated */
		"&AOk",
		"a&U,BTFw",
		"&Jjo!",		/* not base64, not '-' */
		"&/wA-",		/* '/' is ',' in modified base64 */
		"&AGE-",		/* 'a' must be itself */
		"&ACY-",		/* '&' must be "&-" */
		"&ACA-",		/* space too */
		"&AOk-&AOk-",		/* two shifts in a row */
		"&AOk-&-&AOk-&AOk-",
		"&A-",			/* 6 bits: no character */
		"&AO-",			/* 12 bits */
		"&AOl-",		/* non-zero leftover bits */
		"&AOkA-",		/* a whole spare base64 character */
		"&2D0-",		/* high surrogate alone */
		"&2D3YPQ-",		/* high surrogate then high */
		"&3gA-",		/* low surrogate alone */
		"&2D0-&3gA-",		/* a pair split over two shifts */
		"&AAA-",		/* U+0000 */
		"a\tb",			/* raw control */
		"\x7f",
		"caf\xc3\xa9",		/* raw 8-bit */
		"&AOk=-",
	};
	static const struct {
		const char *s;
		size_t len;
	} bad_utf8[] = {
		{ "\xc0\xaf", 2 },		/* overlong '/' */
		{ "\xc1\xbf", 2 },
		{ "\xe0\x80\xaf", 3 },		/* overlong */
		{ "\xe0\x9f\xbf", 3 },
		{ "\xf0\x80\x80\xaf", 4 },
		{ "\xf0\x8f\xbf\xbf", 4 },
		{ "\xed\xa0\x80", 3 },		/* U+D800 */
		{ "\xed\xbf\xbf", 3 },		/* U+DFFF */
		{ "\xf4\x90\x80\x80", 4 },	/* U+110000 */
		{ "\xf5\x80\x80\x80", 4 },
		{ "\xff", 1 },
		{ "\x80", 1 },			/* lone continuation */
		{ "\xc3", 1 },			/* truncated */
		{ "\xe5\x8f", 2 },
		{ "\xf0\x9f\x98", 3 },
		{ "\xc3\x28", 2 },		/* bad continuation */
		{ "\xe5\x28\x97", 3 },
		{ "\xf0\x9f\x28\x80", 4 },
	};
	struct buf out;

	buf_init(&out);
	for (size_t i = 0; i < ARRAY_SIZE(bad_mutf7); i++)
		CHECK_MSG(t_streq(to_utf8(bad_mutf7[i], &out), "invalid"),
		    "%s", bad_mutf7[i]);
	for (size_t i = 0; i < ARRAY_SIZE(bad_utf8); i++)
		CHECK_MSG(t_streq(to_mutf7(bad_utf8[i].s, bad_utf8[i].len,
		    &out), "invalid"), "row %zu", i);
	/* NUL: valid UTF-8, but no mailbox name */
	CHECK_STREQ(to_mutf7("a\0b", 3, &out), "invalid");
	CHECK_STREQ(to_mutf7("\xf4\x8f\xbf\xbf\xee\x80\x80", 7, &out),
	    "&2,,f,+AA-");
	buf_deinit(&out);
}

int
main(void)
{
	test_round_trips();
	test_invalid();
	return t_done("mutf7");
}
