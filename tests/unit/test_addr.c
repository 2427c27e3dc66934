/*
 * test_addr.c: punycode (RFC 3492), UTF-8 validation and address
 * normalization (RFC 5321 4.1.2, RFC 6531, RFC 5891).
 */
#include <stdint.h>
#include <string.h>

/* t.h first: it includes <stdio.h>, which banned.h would poison. */
#include "t.h"

#include "lib/addr.h"
#include "lib/punycode.h"
#include "lib/util.h"

/* CHECK_STREQ on an array trips -Waddress; pass a pointer. */
static const char *
test_str(const char *s)
{
	return s;
}

/* RFC 3492 7.1 sample strings. */
static const uint32_t puny_a[] = {	/* (A) Arabic (Egyptian) */
	0x0644, 0x064a, 0x0647, 0x0645, 0x0627, 0x0628, 0x062a, 0x0643,
	0x0644, 0x0645, 0x0648, 0x0634, 0x0639, 0x0631, 0x0628, 0x064a,
	0x061f,
};
static const uint32_t puny_b[] = {	/* (B) Chinese (simplified) */
	0x4ed6, 0x4eec, 0x4e3a, 0x4ec0, 0x4e48, 0x4e0d, 0x8bf4, 0x4e2d,
	0x6587,
};
static const uint32_t puny_c[] = {	/* (C) Chinese (traditional) */
	0x4ed6, 0x5011, 0x7232, 0x4ec0, 0x9ebd, 0x4e0d, 0x8aaa, 0x4e2d,
	0x6587,
};
/* (L) 3<nen>B<gumi><kinpachi><sensei> */
static const uint32_t puny_l[] = {
	0x0033, 0x5e74, 0x0042, 0x7d44, 0x91d1, 0x516b, 0x5148, 0x751f,
};
/* (M) <amuro><namie>-with-SUPER-MONKEYS */
static const uint32_t puny_m[] = {
	0x5b89, 0x5ba4, 0x5948, 0x7f8e, 0x6075, 0x002d, 0x0077, 0x0069,
	0x0074, 0x0068, 0x002d, 0x0053, 0x0055, 0x0050, 0x0045, 0x0052,
	0x002d, 0x004d, 0x004f, 0x004e, 0x004b, 0x0045, 0x0059, 0x0053,
};
static const uint32_t puny_s[] = {	/* (S) -> $1.00 <- */
	0x002d, 0x003e, 0x0020, 0x0024, 0x0031, 0x002e, 0x0030, 0x0030,
	0x0020, 0x003c, 0x002d,
};

static const struct {
	const char *name;
	const uint32_t *cp;
	size_t n;
	const char *puny;
} puny_samples[] = {
	{ "RFC 3492 7.1 (A)", puny_a, ARRAY_SIZE(puny_a),
	    "egbpdaj6bu4bxfgehfvwxn" },
	{ "RFC 3492 7.1 (B)", puny_b, ARRAY_SIZE(puny_b),
	    "ihqwcrb4cv8a8dqg056pqjye" },
	{ "RFC 3492 7.1 (C)", puny_c, ARRAY_SIZE(puny_c),
	    "ihqwctvzc91f659drss3x8bo0yb" },
	{ "RFC 3492 7.1 (L)", puny_l, ARRAY_SIZE(puny_l),
	    "3B-ww4c5e180e575a65lsy2b" },
	{ "RFC 3492 7.1 (M)", puny_m, ARRAY_SIZE(puny_m),
	    "-with-SUPER-MONKEYS-pc58ag80a8qai00g7n9n" },
	{ "RFC 3492 7.1 (S)", puny_s, ARRAY_SIZE(puny_s), "-> $1.00 <--" },
};

/* Encode then decode pseudo-random strings (fixed seed). */
static void
test_punycode_roundtrip(void)
{
	static const uint32_t ranges[][2] = {
		{ 0x21, 0x7e }, { 0xa1, 0x2ff }, { 0x4e00, 0x9fff },
		{ 0x10000, 0x10ffff },
	};
	uint32_t cp[40], back[40], seed = 12345;
	char out[400];
	int bad = 0;

	for (int round = 0; round < 2000; round++) {
		size_t n;

		seed = seed * 1103515245 + 12345;
		n = (seed >> 16) % ARRAY_SIZE(cp);
		for (size_t i = 0; i < n; i++) {
			const uint32_t *r;

			seed = seed * 1103515245 + 12345;
			r = ranges[(seed >> 16) % ARRAY_SIZE(ranges)];
			seed = seed * 1103515245 + 12345;
			cp[i] = r[0] + (seed >> 8) % (r[1] - r[0] + 1);
			if (cp[i] >= 0xd800 && cp[i] <= 0xdfff)
				cp[i] = 0xe000;
		}
		if (punycode_encode(cp, n, out, sizeof(out)) < 0 ||
		    punycode_decode(out, strlen(out), back,
		    ARRAY_SIZE(back)) != (int)n ||
		    memcmp(cp, back, n * sizeof(*cp)) != 0)
			bad++;
	}
	CHECK_MSG(bad == 0, "%d round trips failed", bad);
}

static void
test_punycode(void)
{
	uint32_t cp[64];
	char out[64];
	int n;

	for (size_t i = 0; i < ARRAY_SIZE(puny_samples); i++) {
		const char *want = puny_samples[i].puny;

		n = punycode_encode(puny_samples[i].cp, puny_samples[i].n,
		    out, sizeof(out));
		CHECK_MSG(n == (int)strlen(want) && strcmp(out, want) == 0,
		    "%s: encode gave '%s'", puny_samples[i].name, out);
		n = punycode_decode(want, strlen(want), cp, ARRAY_SIZE(cp));
		CHECK_MSG(n == (int)puny_samples[i].n && memcmp(cp,
		    puny_samples[i].cp, (size_t)n * sizeof(*cp)) == 0,
		    "%s: decode", puny_samples[i].name);
	}
	/* Digits decode in either case (RFC 3492 5). */
	n = punycode_decode("EGBPDAJ6BU4BXFGEHFVWXN", 22, cp, ARRAY_SIZE(cp));
	CHECK(n == (int)ARRAY_SIZE(puny_a) &&
	    memcmp(cp, puny_a, sizeof(puny_a)) == 0);
	/* Empty in, empty out. */
	CHECK(punycode_encode(NULL, 0, out, sizeof(out)) == 0 && out[0] == 0);
	CHECK(punycode_decode("", 0, cp, ARRAY_SIZE(cp)) == 0);

	/* Output too small: the exact fit works, one less fails. */
	CHECK(punycode_encode(puny_l, ARRAY_SIZE(puny_l), out, 25) == 24);
	CHECK(punycode_encode(puny_l, ARRAY_SIZE(puny_l), out, 24) == -1);
	CHECK(punycode_encode(puny_l, ARRAY_SIZE(puny_l), out, 0) == -1);
	/* Not a code point. */
	{
		static const uint32_t big[] = { 0x110000 };

		CHECK(punycode_encode(big, 1, out, sizeof(out)) == -1);
	}
	/* Decoder: more code points than max, bad digits, truncation,
	 * overflow, non-basic code point before the delimiter. */
	CHECK(punycode_decode("egbpdaj6bu4bxfgehfvwxn", 22, cp, 16) == -1);
	CHECK(punycode_decode("egbpdaj6bu4bxfgehfvwxn", 22, cp, 17) == 17);
	CHECK(punycode_decode("3B-ww4c5e180e575a65lsy2b", 24, cp, 2) == -1);
	CHECK(punycode_decode("abc!", 4, cp, ARRAY_SIZE(cp)) == -1);
	CHECK(punycode_decode("-abc", 4, cp, ARRAY_SIZE(cp)) == -1);
	CHECK(punycode_decode("b", 1, cp, ARRAY_SIZE(cp)) == -1);
	CHECK(punycode_decode("99999999999", 11, cp, ARRAY_SIZE(cp)) == -1);
	CHECK(punycode_decode("\xc3\xa9-kva", 6, cp, ARRAY_SIZE(cp)) == -1);
	/* Basic code points only: "a-" is "a". */
	CHECK(punycode_decode("a-", 2, cp, ARRAY_SIZE(cp)) == 1 &&
	    cp[0] == 'a');
	/* bcher-kva is b<u-umlaut>cher. */
	n = punycode_decode("bcher-kva", 9, cp, ARRAY_SIZE(cp));
	CHECK(n == 6 && cp[0] == 'b' && cp[1] == 0xfc && cp[5] == 'r');
}

static void
test_utf8(void)
{
	static const struct {
		const char *s;
		bool valid;
	} cases[] = {
		{ "", true },
		{ "plain ascii", true },
		{ "b\xc3\xbc" "cher", true },	/* U+00FC */
		{ "\xe2\x82\xac", true },		/* U+20AC */
		{ "\xf0\x9f\x93\xa7", true },	/* U+1F4E7 */
		{ "\xf4\x8f\xbf\xbf", true },	/* U+10FFFF */
		{ "\xed\x9f\xbf", true },		/* U+D7FF */
		{ "\xee\x80\x80", true },		/* U+E000 */
		{ "\x80", false },		/* lone continuation */
		{ "\xc3", false },		/* truncated */
		{ "\xe2\x82", false },		/* truncated */
		{ "\xc3\x28", false },		/* bad continuation */
		{ "\xc0\xaf", false },		/* overlong '/' */
		{ "\xc1\xbf", false },		/* overlong */
		{ "\xe0\x80\xaf", false },	/* overlong 3-byte */
		{ "\xe0\x9f\xbf", false },	/* overlong U+07FF */
		{ "\xf0\x80\x80\xaf", false },	/* overlong 4-byte */
		{ "\xf0\x8f\xbf\xbf", false },	/* overlong U+FFFF */
		{ "\xed\xa0\x80", false },	/* surrogate U+D800 */
		{ "\xed\xbf\xbf", false },	/* surrogate U+DFFF */
		{ "\xf4\x90\x80\x80", false },	/* U+110000 */
		{ "\xf5\x80\x80\x80", false },
		{ "\xff", false },
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++)
		CHECK_MSG(utf8_valid(cases[i].s, strlen(cases[i].s)) ==
		    cases[i].valid, "utf8_valid case %zu", i);
	/* NUL is a valid (if unwelcome) code point in a slice. */
	CHECK(utf8_valid("a\0b", 3));
	CHECK(!addr_is_utf8("abc", 3));
	CHECK(addr_is_utf8("b\xc3\xbc", 3));
	CHECK(!addr_is_utf8("", 0));
}

struct domain_case {
	const char *section;
	const char *in;
	const char *want;	/* NULL: must be refused */
};

static const struct domain_case domain_cases[] = {
	{ "RFC 1035 2.3.1", "example.com", "example.com" },
	{ "RFC 1035 2.3.3", "Example.COM", "example.com" },
	{ "RFC 1035 2.3.1", "a-b.c-d.example", "a-b.c-d.example" },
	{ "RFC 1123 2.1", "3com.example", "3com.example" },
	{ "RFC 5891 4.4", "b\xc3\xbc" "cher.example",
	    "xn--bcher-kva.example" },
	{ "RFC 5891 4.4", "B\xc3\xbc" "CHER.Example",
	    "xn--bcher-kva.example" },
	{ "RFC 5891 4.4", "m\xc3\xbcnchen.de", "xn--mnchen-3ya.de" },
	{ "RFC 5891 4.4", "\xe4\xbe\x8b\xe3\x81\x88.jp", "xn--r8jz45g.jp" },
	{ "RFC 5891 4.4", "mail.b\xc3\xbc" "cher.example",
	    "mail.xn--bcher-kva.example" },
	{ "RFC 5891 5.4", "xn--bcher-kva.example", "xn--bcher-kva.example" },
	{ "RFC 5891 5.4", "XN--BCHER-KVA.EXAMPLE", "xn--bcher-kva.example" },
	{ "RFC 5891 5.4", "xn--bcher-kv.example", NULL },	/* truncated */
	{ "RFC 5891 5.4", "xn--6a7p.example", NULL },	/* U+00A0 inside */
	{ "RFC 5891 5.4", "xn--abc-.example", NULL },	/* all ASCII */
	{ "RFC 5891 5.4", "xn--.example", NULL },
	{ "RFC 5891 5.4", "xn--zz!.example", NULL },
	{ "RFC 5891 4.2.3.1", "ab--cd.example", NULL },
	{ "RFC 5891 4.2.3.1", "-abc.example", NULL },
	{ "RFC 5891 4.2.3.1", "abc-.example", NULL },
	{ "RFC 5891 4.2.3.1", "-b\xc3\xbc" "cher.example", NULL },
	{ "RFC 5891 4.2.3.1", "b\xc3\xbc--cher.example", NULL },
	{ "RFC 1035 2.3.1", "exa_mple.com", NULL },
	{ "RFC 1035 2.3.1", "exa mple.com", NULL },
	{ "RFC 1035 2.3.1", "example..com", NULL },
	{ "RFC 1035 2.3.1", ".example.com", NULL },
	{ "RFC 5321 2.3.5", "example.com.", NULL },
	{ "RFC 5321 2.3.5", "localhost", NULL },
	{ "RFC 5321 2.3.5", "", NULL },
	{ "RFC 3696 2", "example.123", NULL },
	{ "RFC 3696 2", "192.0.2.1", NULL },
	{ "RFC 5321 4.1.3", "[192.0.2.1]", NULL },
	{ "RFC 5321 4.1.3", "[IPv6:2001:db8::1]", NULL },
	{ "RFC 3629 3", "b\xc3" "cher.example", NULL },
	{ "RFC 3629 3", "\xed\xa0\x80.example", NULL },
	{ "RFC 3490 3.1", "b\xc3\xbc" "cher\xe3\x80\x82" "example", NULL },
	{ "RFC 5892", "a\xc2\xa0" "b.example", NULL },	/* NBSP */
	{ "RFC 5892", "a\xc2\x85" "b.example", NULL },	/* NEL */
};

/* Writes labels of the given lengths ('a'... with a 'z' TLD) joined by
 * dots into buf; returns the length. */
static size_t
test_domain_build(char *buf, const size_t *lens, size_t nlabels)
{
	size_t n = 0;

	for (size_t i = 0; i < nlabels; i++) {
		if (i > 0)
			buf[n++] = '.';
		memset(buf + n, i + 1 == nlabels ? 'z' : 'a', lens[i]);
		n += lens[i];
	}
	buf[n] = '\0';
	return n;
}

static void
test_domain(void)
{
	char out[ADDR_DOMAIN_MAX + 1], in[600];
	const char *error;
	size_t n;
	int r;

	for (size_t i = 0; i < ARRAY_SIZE(domain_cases); i++) {
		const struct domain_case *c = &domain_cases[i];

		error = NULL;
		r = addr_domain_normalize(c->in, strlen(c->in), out,
		    sizeof(out), &error);
		if (c->want != NULL)
			CHECK_MSG(r == 0 && strcmp(out, c->want) == 0,
			    "%s: '%s' -> '%s' (%s)", c->section, c->in,
			    r == 0 ? out : "", r == 0 ? "ok" : error);
		else
			CHECK_MSG(r == -1 && error != NULL,
			    "%s: '%s' accepted as '%s'", c->section, c->in,
			    out);
	}

	/* RFC 1035 2.3.4: labels of 63 octets pass, 64 fail. */
	memset(in, 'a', 63);
	memcpy(in + 63, ".example", 9);
	CHECK(addr_domain_normalize(in, strlen(in), out, sizeof(out),
	    &error) == 0 && strcmp(out, in) == 0);
	memset(in, 'a', 64);
	memcpy(in + 64, ".example", 9);
	error = NULL;
	CHECK(addr_domain_normalize(in, strlen(in), out, sizeof(out),
	    &error) == -1 && error != NULL &&
	    strcmp(error, "label too long") == 0);

	/* A U-label whose A-label exceeds 63 octets: 20 x U+00FC. */
	for (n = 0; n < 40; n += 2) {
		in[n] = '\xc3';
		in[n + 1] = '\xbc';
	}
	memcpy(in + n, ".example", 9);
	CHECK(addr_domain_normalize(in, strlen(in), out, sizeof(out),
	    &error) == 0 && strncmp(out, "xn--", 4) == 0);
	for (n = 0; n < 200; n += 2) {
		in[n] = '\xc3';
		in[n + 1] = '\xbc';
	}
	memcpy(in + n, ".example", 9);
	CHECK(addr_domain_normalize(in, strlen(in), out, sizeof(out),
	    &error) == -1);

	/* RFC 5321 4.5.3.1.2: 255 octets pass, 256 fail (labels of at
	 * most 63 octets, so the total is what is too long). */
	{
		static const size_t ok[] = { 63, 63, 63, 61, 1 };
		static const size_t big[] = { 63, 63, 63, 62, 1 };

		n = test_domain_build(in, ok, ARRAY_SIZE(ok));
		CHECK(n == 255);
		CHECK(addr_domain_normalize(in, n, out, sizeof(out),
		    &error) == 0 && strlen(out) == 255);
		n = test_domain_build(in, big, ARRAY_SIZE(big));
		CHECK(n == 256);
		error = NULL;
		CHECK(addr_domain_normalize(in, n, out, sizeof(out),
		    &error) == -1 && error != NULL &&
		    strcmp(error, "domain too long") == 0);
	}

	/* A slice: only len bytes count, NUL inside is refused. */
	CHECK(addr_domain_normalize("example.comXYZ", 11, out, sizeof(out),
	    &error) == 0 && strcmp(out, "example.com") == 0);
	CHECK(addr_domain_normalize("exam\0ple.com", 12, out, sizeof(out),
	    &error) == -1);
	/* Output buffer too small. */
	CHECK(addr_domain_normalize("example.com", 11, out, 11, &error) == -1);
	CHECK(addr_domain_normalize("example.com", 11, out, 12, &error) == 0);
}

struct addr_case {
	const char *section;
	const char *in;
	const char *want;	/* NULL: must be refused */
};

static const struct addr_case addr_cases[] = {
	{ "RFC 5321 4.1.2", "user@example.com", "user@example.com" },
	{ "RFC 5321 4.1.2", "User.Name@Example.COM", "user.name@example.com" },
	{ "RFC 5321 4.1.2", "first.last+tag@example.com",
	    "first.last+tag@example.com" },
	{ "RFC 5321 4.1.2", "!#$%&'*+-/=?^_`{|}~@example.com",
	    "!#$%&'*+-/=?^_`{|}~@example.com" },
	{ "RFC 5321 4.1.2", "\"john\"@example.com", "john@example.com" },
	{ "RFC 5321 4.1.2", "\"John.Doe\"@example.com",
	    "john.doe@example.com" },
	{ "RFC 5321 4.1.2", "\"j\\ohn\"@example.com", "john@example.com" },
	{ "RFC 5321 4.1.2", "\"john doe\"@example.com",
	    "\"john doe\"@example.com" },
	{ "RFC 5321 4.1.2", "\"a@b\"@example.com", "\"a@b\"@example.com" },
	{ "RFC 5321 4.1.2", "\"a\\\"b\"@example.com",
	    "\"a\\\"b\"@example.com" },
	{ "RFC 5321 4.1.2", "\"a\\\\b\"@example.com",
	    "\"a\\\\b\"@example.com" },
	{ "RFC 5321 4.1.2", "\"a..b\"@example.com", "\"a..b\"@example.com" },
	{ "RFC 5321 4.1.2", "\"\"@example.com", "\"\"@example.com" },
	{ "RFC 6531 3.3", "J\xc3\xb8rn@b\xc3\xbc" "cher.example",
	    "j\xc3\xb8rn@xn--bcher-kva.example" },
	{ "RFC 6531 3.3", "\"J\xc3\xb8rn H\"@example.com",
	    "\"j\xc3\xb8rn h\"@example.com" },
	{ "RFC 5321 4.1.2", "a..b@example.com", NULL },
	{ "RFC 5321 4.1.2", ".ab@example.com", NULL },
	{ "RFC 5321 4.1.2", "ab.@example.com", NULL },
	{ "RFC 5321 4.1.2", "a b@example.com", NULL },
	{ "RFC 5321 4.1.2", "a(b)@example.com", NULL },
	{ "RFC 5321 4.1.2", "a,b@example.com", NULL },
	{ "RFC 5321 4.1.2", "a\"b\"@example.com", NULL },
	{ "RFC 5321 4.1.2", "a\\b@example.com", NULL },
	{ "RFC 5321 4.1.2", "\"abc@example.com", NULL },
	{ "RFC 5321 4.1.2", "\"ab\"c@example.com", NULL },
	{ "RFC 5321 4.1.2", "\"a\"b\"@example.com", NULL },
	{ "RFC 5321 4.1.2", "\"ab\\\"@example.com", NULL },
	{ "RFC 5321 4.1.2", "\"a\tb\"@example.com", NULL },
	{ "RFC 5321 4.1.2", "@example.com", NULL },	/* no catch-all */
	{ "RFC 5321 4.1.2", "userexample.com", NULL },
	{ "RFC 5321 4.1.2", "user@", NULL },
	{ "RFC 5321 4.1.2", "user@@example.com", NULL },
	{ "RFC 5321 4.1.2", "user@localhost", NULL },
	{ "RFC 5321 4.1.3", "user@[192.0.2.1]", NULL },
	{ "RFC 5321 4.1.3", "user@[IPv6:2001:db8::1]", NULL },
	{ "RFC 3629 3", "\xc3(@example.com", NULL },
	{ "RFC 3629 3", "a\xc0\xaf@example.com", NULL },
	{ "RFC 3629 3", "\"a\xed\xa0\x80\"@example.com", NULL },
};

static void
test_address(void)
{
	char out[ADDR_MAX + 1], in[400];
	const char *error;
	int r;

	for (size_t i = 0; i < ARRAY_SIZE(addr_cases); i++) {
		const struct addr_case *c = &addr_cases[i];

		error = NULL;
		r = addr_normalize(c->in, strlen(c->in), false, out,
		    sizeof(out), &error);
		if (c->want != NULL)
			CHECK_MSG(r == 0 && strcmp(out, c->want) == 0,
			    "%s: '%s' -> '%s' (%s)", c->section, c->in,
			    r == 0 ? out : "", r == 0 ? "ok" : error);
		else
			CHECK_MSG(r == -1 && error != NULL,
			    "%s: '%s' accepted as '%s'", c->section, c->in,
			    out);
	}

	/* Catch-all "@domain" only when asked for. */
	CHECK(addr_normalize("@Example.COM", 12, true, out, sizeof(out),
	    &error) == 0);
	CHECK_STREQ(test_str(out), "@example.com");
	CHECK(addr_normalize("@b\xc3\xbc" "cher.example", 16, true, out,
	    sizeof(out), &error) == 0);
	CHECK_STREQ(test_str(out), "@xn--bcher-kva.example");
	CHECK(addr_normalize("@", 1, true, out, sizeof(out), &error) == -1);
	CHECK(addr_normalize("x@example.com", 13, true, out, sizeof(out),
	    &error) == 0);
	CHECK_STREQ(test_str(out), "x@example.com");

	/* RFC 5321 4.5.3.1.1: 64 octets of local part pass, 65 fail. */
	memset(in, 'a', 64);
	memcpy(in + 64, "@example.com", 13);
	CHECK(addr_normalize(in, strlen(in), false, out, sizeof(out),
	    &error) == 0 && strcmp(out, in) == 0);
	memset(in, 'a', 65);
	memcpy(in + 65, "@example.com", 13);
	error = NULL;
	CHECK(addr_normalize(in, strlen(in), false, out, sizeof(out),
	    &error) == -1 && error != NULL &&
	    strcmp(error, "local part too long") == 0);
	/* The limit counts the quotes, as sent. */
	in[0] = '"';
	memset(in + 1, 'a', 63);
	memcpy(in + 64, "\"@example.com", 14);
	CHECK(addr_normalize(in, strlen(in), false, out, sizeof(out),
	    &error) == -1);

	/* The longest address: 64 + '@' + 255 = ADDR_MAX. */
	memset(in, 'u', 64);
	in[64] = '@';
	for (size_t n = 0; n < 4; n++) {
		memset(in + 65 + n * 64, 'd', 63);
		in[65 + n * 64 + 63] = '.';
	}
	in[65 + 255] = '\0';
	in[65 + 254] = 'x';	/* TLD "ddd...x", not numeric anyway */
	CHECK(strlen(in) == ADDR_MAX);
	CHECK(addr_normalize(in, ADDR_MAX, false, out, sizeof(out),
	    &error) == 0 && strlen(out) == ADDR_MAX);
	CHECK(addr_normalize(in, ADDR_MAX, false, out, ADDR_MAX, &error) ==
	    -1);

	/* A NUL inside the slice is refused, in local part or quotes. */
	CHECK(addr_normalize("a\0b@example.com", 15, false, out, sizeof(out),
	    &error) == -1);
	CHECK(addr_normalize("\"a\0b\"@example.com", 17, false, out,
	    sizeof(out), &error) == -1);
}

static void
test_at(void)
{
	const char *s;

	s = "user@example.com";
	CHECK(addr_at(s, strlen(s)) == s + 4);
	s = "\"a@b\"@example.com";
	CHECK(addr_at(s, strlen(s)) == s + 5);
	s = "\"a\\\"@b\"@example.com";
	CHECK(addr_at(s, strlen(s)) == s + 7);
	s = "a@b@example.com";
	CHECK(addr_at(s, strlen(s)) == s + 3);
	s = "\"a@b";
	CHECK(addr_at(s, strlen(s)) == NULL);
	s = "nothing";
	CHECK(addr_at(s, strlen(s)) == NULL);
	s = "user@example.com";
	CHECK(addr_at(s, 4) == NULL);
}

static void
test_strip_tag(void)
{
	char out[ADDR_MAX + 1];

	CHECK(addr_strip_tag("user+tag@example.com", out, sizeof(out)));
	CHECK_STREQ(test_str(out), "user@example.com");
	CHECK(addr_strip_tag("user+a+b@example.com", out, sizeof(out)));
	CHECK_STREQ(test_str(out), "user@example.com");
	CHECK(addr_strip_tag("user+@example.com", out, sizeof(out)));
	CHECK_STREQ(test_str(out), "user@example.com");
	CHECK(!addr_strip_tag("user@example.com", out, sizeof(out)));
	/* '+' in the domain is not a tag (nor valid, but be safe). */
	CHECK(!addr_strip_tag("user@ex+ample.com", out, sizeof(out)));
	/* Never the catch-all, never an invalid dot-string. */
	CHECK(!addr_strip_tag("+tag@example.com", out, sizeof(out)));
	CHECK(!addr_strip_tag("a.+tag@example.com", out, sizeof(out)));
	CHECK(!addr_strip_tag("\"a+b c\"@example.com", out, sizeof(out)));
	CHECK(!addr_strip_tag("no-at-sign+tag", out, sizeof(out)));
	/* Exact fit and one short. */
	CHECK(addr_strip_tag("u+t@e.co", out, 7));
	CHECK_STREQ(test_str(out), "u@e.co");
	CHECK(!addr_strip_tag("u+t@e.co", out, 6));
	/* In place. */
	{
		char buf[] = "user+tag@example.com";

		CHECK(addr_strip_tag(buf, buf, sizeof(buf)));
		CHECK_STREQ(test_str(buf), "user@example.com");
	}
}

int
main(void)
{
	test_punycode();
	test_punycode_roundtrip();
	test_utf8();
	test_domain();
	test_address();
	test_at();
	test_strip_tag();
	return t_done("addr");
}
