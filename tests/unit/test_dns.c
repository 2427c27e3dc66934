/*
 * test_dns.c: the pure parts of the resolver: MX rdata parsing (RFC 1035
 * 3.3.9), preference order with shuffling among equals (RFC 5321 5.1)
 * and null MX detection (RFC 7505). No network.
 */
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

/* t.h first: it includes <stdio.h>, which banned.h would poison. */
#include "t.h"

#include "dns/dns.h"
#include "lib/util.h"

/* CHECK_STREQ on an array trips -Waddress; pass a pointer. */
static const char *
test_str(const char *s)
{
	return s;
}

static const struct {
	const char *name;
	const char *rdata;	/* preference (2 bytes) and wire-format name */
	size_t len;
	int ret;
	unsigned preference;
	const char *host;
} mx_cases[] = {
#define R(s) s, sizeof(s) - 1
	{ "RFC 1035 3.3.9: preference and exchange",
	    R("\x00\x0a\x02mx\x07" "example\x03" "com\x00"), 0, 10,
	    "mx.example.com" },
	{ "RFC 1035 2.3.3: case-insensitive, stored lower case",
	    R("\x01\x00\x02MX\x07" "ExAmPle\x03" "COM\x00"), 0, 256,
	    "mx.example.com" },
	{ "RFC 7505 3: null MX exchange is the root",
	    R("\x00\x00\x00"), 0, 0, "." },
	{ "RFC 1035 3.3.9: preference is 16 bits",
	    R("\xff\xff\x01" "a\x00"), 0, 65535, "a" },
	{ "RFC 1035 3.1: digits, hyphen, underscore",
	    R("\x00\x01\x07" "a-1_b-2\x00"), 0, 1, "a-1_b-2" },
	{ "RFC 1035 3.3.9: rdata too short", R("\x00\x0a"), -1, 0, NULL },
	{ "RFC 1035 3.1: missing root label",
	    R("\x00\x0a\x02mx"), -1, 0, NULL },
	{ "RFC 1035 3.1: label runs past rdata",
	    R("\x00\x0a\x05mx\x00"), -1, 0, NULL },
	{ "RFC 1035 3.1: label length 64",
	    R("\x00\x0a\x40"), -1, 0, NULL },
	{ "RFC 1035 4.1.4: compression pointer",
	    R("\x00\x0a\xc0\x0c"), -1, 0, NULL },
	{ "RFC 1035 3.3.9: trailing bytes",
	    R("\x00\x0a\x01" "a\x00\x00"), -1, 0, NULL },
	{ "RFC 5321 2.3.5: dot inside a label",
	    R("\x00\x0a\x03" "a.b\x00"), -1, 0, NULL },
	{ "RFC 5321 2.3.5: NUL inside a label",
	    R("\x00\x0a\x03" "a\x00" "b\x00"), -1, 0, NULL },
	{ "RFC 5321 2.3.5: space inside a label",
	    R("\x00\x0a\x03" "a b\x00"), -1, 0, NULL },
#undef R
};

static void
test_mx_parse_table(void)
{
	struct dns_mx mx;
	const char *error;
	size_t i;
	int ret;

	for (i = 0; i < ARRAY_SIZE(mx_cases); i++) {
		error = NULL;
		memset(&mx, 0, sizeof(mx));
		ret = dns_mx_parse((const unsigned char *)mx_cases[i].rdata,
		    mx_cases[i].len, &mx, &error);
		CHECK_MSG(ret == mx_cases[i].ret, "%s: ret %d",
		    mx_cases[i].name, ret);
		if (mx_cases[i].ret == 0 && ret == 0) {
			CHECK_MSG(mx.preference == mx_cases[i].preference,
			    "%s: preference %u", mx_cases[i].name,
			    mx.preference);
			CHECK_STREQ(test_str(mx.host), mx_cases[i].host);
		} else if (ret < 0) {
			CHECK_MSG(error != NULL, "%s: no error",
			    mx_cases[i].name);
		}
	}
}

/* Builds a wire name of nlabels labels of lablen 'a's into p. */
static size_t
test_wire_name(unsigned char *p, unsigned nlabels, unsigned lablen)
{
	size_t pos = 0;
	unsigned i;

	for (i = 0; i < nlabels; i++) {
		p[pos++] = (unsigned char)lablen;
		memset(p + pos, 'a', lablen);
		pos += lablen;
	}
	p[pos++] = 0;
	return pos;
}

/* RFC 1035 2.3.4: names are at most 255 octets on the wire. */
static void
test_mx_parse_limits(void)
{
	unsigned char rdata[600];
	struct dns_mx mx;
	const char *error;
	size_t len;

	rdata[0] = 0;
	rdata[1] = 5;
	/* 63-octet label: the longest allowed. */
	len = test_wire_name(rdata + 2, 1, 63);
	CHECK(dns_mx_parse(rdata, len + 2, &mx, &error) == 0);
	CHECK(strlen(mx.host) == 63);

	/* 4 * 63 + 1 label + 1 length: 3 * 64 + 62 + 1 = 255 exactly. */
	len = test_wire_name(rdata + 2, 3, 63);
	len--;
	rdata[2 + len++] = 61;
	memset(rdata + 2 + len, 'b', 61);
	len += 61;
	rdata[2 + len++] = 0;
	CHECK(len == 255);
	CHECK(dns_mx_parse(rdata, len + 2, &mx, &error) == 0);
	CHECK(strlen(mx.host) == 253);

	/* One octet more: 256 on the wire. */
	len = test_wire_name(rdata + 2, 3, 63);
	len--;
	rdata[2 + len++] = 62;
	memset(rdata + 2 + len, 'b', 62);
	len += 62;
	rdata[2 + len++] = 0;
	CHECK(len == 256);
	error = NULL;
	CHECK(dns_mx_parse(rdata, len + 2, &mx, &error) == -1);
	CHECK(error != NULL);

	/* Many short labels past 255 octets. */
	len = test_wire_name(rdata + 2, 200, 1);
	CHECK(dns_mx_parse(rdata, len + 2, &mx, &error) == -1);
}

static void
test_mx_set(struct dns_mx *mx, unsigned preference, const char *host)
{
	mx->preference = preference;
	str_lcpy(mx->host, host, sizeof(mx->host));
}

static size_t
test_mx_index(const struct dns_mx *mx, size_t count, const char *host)
{
	size_t i;

	for (i = 0; i < count; i++)
		if (strcmp(mx[i].host, host) == 0)
			return i;
	return count;
}

/* RFC 5321 5.1: lowest preference first; equal ones randomized, never
 * crossing into another preference's group. */
static void
test_mx_sort(void)
{
	struct dns_mx mx[7];
	bool first_seen[3] = { false, false, false };
	bool order_ok = true, groups_ok = true, all_there = true;
	static const char *const group10[] = { "a10", "b10", "c10" };
	size_t i, k;
	unsigned run;

	for (run = 0; run < 200; run++) {
		test_mx_set(&mx[0], 20, "a20");
		test_mx_set(&mx[1], 10, "a10");
		test_mx_set(&mx[2], 30, "a30");
		test_mx_set(&mx[3], 10, "b10");
		test_mx_set(&mx[4], 20, "b20");
		test_mx_set(&mx[5], 10, "c10");
		test_mx_set(&mx[6], 5, "a5");
		dns_mx_sort(mx, ARRAY_SIZE(mx));
		for (i = 1; i < ARRAY_SIZE(mx); i++)
			if (mx[i - 1].preference > mx[i].preference)
				order_ok = false;
		if (strcmp(mx[0].host, "a5") != 0 ||
		    strcmp(mx[6].host, "a30") != 0)
			groups_ok = false;
		for (i = 1; i <= 3; i++)
			if (mx[i].preference != 10 || mx[i].host[1] != '1')
				groups_ok = false;
		for (i = 4; i <= 5; i++)
			if (mx[i].preference != 20 || mx[i].host[1] != '2')
				groups_ok = false;
		if (test_mx_index(mx, 7, "a10") == 7 ||
		    test_mx_index(mx, 7, "b10") == 7 ||
		    test_mx_index(mx, 7, "c10") == 7 ||
		    test_mx_index(mx, 7, "a20") == 7 ||
		    test_mx_index(mx, 7, "b20") == 7)
			all_there = false;
		for (k = 0; k < 3; k++)
			if (strcmp(mx[1].host, group10[k]) == 0)
				first_seen[k] = true;
	}
	CHECK(order_ok);
	CHECK(groups_ok);
	CHECK(all_there);
	/* Each of three equals leads at least once in 200 shuffles
	 * (chance of a false failure: about 3 * (2/3)^200). */
	CHECK(first_seen[0]);
	CHECK(first_seen[1]);
	CHECK(first_seen[2]);

	/* Distinct preferences: a plain sort. */
	test_mx_set(&mx[0], 30, "c");
	test_mx_set(&mx[1], 10, "a");
	test_mx_set(&mx[2], 20, "b");
	dns_mx_sort(mx, 3);
	CHECK_STREQ(test_str(mx[0].host), "a");
	CHECK_STREQ(test_str(mx[1].host), "b");
	CHECK_STREQ(test_str(mx[2].host), "c");

	/* Zero and one record are left alone. */
	dns_mx_sort(mx, 0);
	dns_mx_sort(mx, 1);
	CHECK_STREQ(test_str(mx[0].host), "a");
}

/* RFC 7505 3: a null MX is one record, preference 0, exchange ".". */
static void
test_mx_null(void)
{
	struct dns_mx mx[2];
	const char *error;

	test_mx_set(&mx[0], 0, ".");
	CHECK(dns_mx_is_null(mx, 1));
	CHECK(!dns_mx_is_null(mx, 0));

	test_mx_set(&mx[1], 10, "mx.example.com");
	CHECK(!dns_mx_is_null(mx, 2));

	test_mx_set(&mx[0], 10, ".");
	CHECK(!dns_mx_is_null(mx, 1));

	test_mx_set(&mx[0], 0, "mx.example.com");
	CHECK(!dns_mx_is_null(mx, 1));

	/* Parsed from the wire. */
	CHECK(dns_mx_parse((const unsigned char *)"\x00\x00\x00", 3, &mx[0],
	    &error) == 0);
	CHECK(dns_mx_is_null(mx, 1));
}

int
main(void)
{
	test_mx_parse_table();
	test_mx_parse_limits();
	test_mx_sort();
	test_mx_null();
	return t_done("dns");
}
