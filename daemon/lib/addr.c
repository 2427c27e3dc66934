/*
 * addr.c: mail address syntax and normalization (RFC 5321 4.1.2,
 * RFC 6531 3.3 for UTF-8, RFC 5890/5891 for A-labels).
 *
 * Scope of the IDNA handling: a non-ASCII label is decoded from UTF-8 to
 * code points, its ASCII letters are lower-cased and the result is
 * Punycode-encoded. There is no Unicode case mapping, normalization
 * (NFC) or UTS #46 mapping, and the RFC 5892 code point tables are not
 * applied: only code points that are never valid in a label (controls,
 * spaces, dot look-alikes, noncharacters, private use) are refused.
 * So "BÜCHER.example" and "bücher.example" normalize to different
 * A-labels; administrators are expected to enter U-labels in lower case.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "addr.h"
#include "punycode.h"
#include "util.h"

#define ADDR_LABEL_MAX 63	/* RFC 1035 2.3.4 */
#define ADDR_ACE_PREFIX "xn--"	/* RFC 5890 2.3.2.5 */
#define ADDR_ACE_PREFIX_LEN 4

static int
addr_fail(const char **error_r, const char *error)
{
	if (error_r != NULL)
		*error_r = error;
	return -1;
}

static char
addr_ascii_lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/*
 * Decodes one UTF-8 sequence at s[0..len). Returns its length (1..4) and
 * sets *cp_r, or returns -1 for anything RFC 3629 3 forbids: stray
 * continuation bytes, truncated sequences, overlong forms, surrogates
 * and values above U+10FFFF.
 */
static int
addr_utf8_decode(const unsigned char *s, size_t len, uint32_t *cp_r)
{
	uint32_t cp;
	size_t n, i;

	if (len == 0)
		return -1;
	if (s[0] < 0x80) {
		*cp_r = s[0];
		return 1;
	}
	if (s[0] < 0xc2)	/* continuation byte, or overlong C0/C1 */
		return -1;
	if (s[0] < 0xe0) {
		n = 2;
		cp = s[0] & 0x1f;
	} else if (s[0] < 0xf0) {
		n = 3;
		cp = s[0] & 0x0f;
	} else if (s[0] < 0xf5) {
		n = 4;
		cp = s[0] & 0x07;
	} else
		return -1;
	if (len < n)
		return -1;
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return -1;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return -1;
	*cp_r = cp;
	return (int)n;
}

bool
utf8_valid(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	uint32_t cp;
	size_t i = 0;
	int n;

	while (i < len) {
		if ((n = addr_utf8_decode(p + i, len - i, &cp)) < 0)
			return false;
		i += (size_t)n;
	}
	return true;
}

bool
addr_is_utf8(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if ((unsigned char)s[i] >= 0x80)
			return true;
	}
	return false;
}

const char *
addr_at(const char *addr, size_t len)
{
	const char *at = NULL;
	bool quoted = false;

	for (size_t i = 0; i < len; i++) {
		if (quoted) {
			if (addr[i] == '\\' && i + 1 < len)
				i++;	/* RFC 5321 quoted-pairSMTP */
			else if (addr[i] == '"')
				quoted = false;
		} else if (addr[i] == '"')
			quoted = true;
		else if (addr[i] == '@')
			at = addr + i;
	}
	return at;
}

/* RFC 5321 4.1.2 / RFC 5322 3.2.3: atext. */
static bool
addr_is_atext(unsigned char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9'))
		return true;
	return c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL;
}

/* RFC 1035 2.3.1: letter, digit or hyphen. */
static bool
addr_is_ldh(uint32_t c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '-';
}

/*
 * A non-ASCII code point that can never be part of a label: C1
 * controls, spaces and format characters, the IDNA2003 dot separators
 * (RFC 3490 3.1), private use, noncharacters and the specials block.
 */
static bool
addr_cp_refused(uint32_t cp)
{
	return (cp >= 0x80 && cp <= 0xa0) || cp == 0xad ||
	    (cp >= 0x2000 && cp <= 0x200f) ||
	    (cp >= 0x2028 && cp <= 0x202f) || cp == 0x205f ||
	    (cp >= 0x2060 && cp <= 0x206f) || cp == 0x3000 ||
	    cp == 0x3002 || cp == 0xff0e || cp == 0xff61 ||
	    (cp >= 0xe000 && cp <= 0xf8ff) ||
	    (cp >= 0xfdd0 && cp <= 0xfdef) || (cp & 0xfffe) == 0xfffe ||
	    (cp >= 0xfff0 && cp <= 0xfffd) || cp == 0xfeff ||
	    cp >= 0xf0000;
}

/*
 * Checks the decoded code points of a U-label (RFC 5891 4.2.3.1 and
 * 5.4): ASCII only as lower-case LDH, no leading or trailing hyphen, no
 * hyphens in both the third and fourth positions, no refused code point.
 */
static int
addr_ulabel_check(const uint32_t *cp, size_t n, const char **error_r)
{
	for (size_t i = 0; i < n; i++) {
		bool bad = cp[i] < 0x80 ? !addr_is_ldh(cp[i]) ||
		    (cp[i] >= 'A' && cp[i] <= 'Z') : addr_cp_refused(cp[i]);

		if (bad)
			return addr_fail(error_r,
			    "invalid character in domain");
	}
	if (cp[0] == '-' || cp[n - 1] == '-')
		return addr_fail(error_r, "label begins or ends with a hyphen");
	if (n >= 4 && cp[2] == '-' && cp[3] == '-')
		return addr_fail(error_r,
		    "hyphens in the third and fourth position of a label");
	return 0;
}

/*
 * Validates an ASCII label that carries the ACE prefix (already
 * lower-cased in label[0..len)): RFC 5891 5.4 wants it to decode to a
 * valid U-label that encodes back to the same string.
 */
static int
addr_alabel_check(const char *label, size_t len, const char **error_r)
{
	uint32_t cp[ADDR_LABEL_MAX];
	char ace[ADDR_LABEL_MAX + 1];
	const char *puny = label + ADDR_ACE_PREFIX_LEN;
	size_t plen = len - ADDR_ACE_PREFIX_LEN;
	bool wide = false;
	int n;

	n = punycode_decode(puny, plen, cp, ARRAY_SIZE(cp));
	if (n <= 0)
		return addr_fail(error_r, "invalid A-label");
	for (int i = 0; i < n; i++) {
		if (cp[i] >= 0x80)
			wide = true;
	}
	if (!wide)
		return addr_fail(error_r, "invalid A-label");
	if (addr_ulabel_check(cp, (size_t)n, error_r) < 0)
		return -1;
	if (punycode_encode(cp, (size_t)n, ace, sizeof(ace)) != (int)plen ||
	    memcmp(ace, puny, plen) != 0)
		return addr_fail(error_r, "invalid A-label");
	return 0;
}

/*
 * Normalizes one label s[0..len) (valid UTF-8) and appends it to
 * buf[*pos..], which holds at most ADDR_DOMAIN_MAX octets.
 */
static int
addr_label_normalize(const char *s, size_t len, char *buf, size_t *pos,
    const char **error_r)
{
	char label[ADDR_LABEL_MAX + 1];
	size_t n = 0;

	if (len == 0)
		return addr_fail(error_r, "empty label in domain");
	if (!addr_is_utf8(s, len)) {
		if (len > ADDR_LABEL_MAX)
			return addr_fail(error_r, "label too long");
		for (size_t i = 0; i < len; i++) {
			if (!addr_is_ldh((unsigned char)s[i]))
				return addr_fail(error_r,
				    "invalid character in domain");
			label[i] = addr_ascii_lower(s[i]);
		}
		n = len;
		if (label[0] == '-' || label[n - 1] == '-')
			return addr_fail(error_r,
			    "label begins or ends with a hyphen");
		/* RFC 5891 4.2.3.1: "??--" is reserved except for "xn--". */
		if (n >= 4 && label[2] == '-' && label[3] == '-') {
			if (label[0] != 'x' || label[1] != 'n')
				return addr_fail(error_r, "hyphens in the "
				    "third and fourth position of a label");
			if (addr_alabel_check(label, n, error_r) < 0)
				return -1;
		}
	} else {
		/* Every code point costs at least one Punycode octet, so a
		 * U-label of more than 59 code points cannot fit. */
		uint32_t cp[ADDR_LABEL_MAX - ADDR_ACE_PREFIX_LEN];
		const unsigned char *p = (const unsigned char *)s;
		size_t ncp = 0, i = 0;
		int r;

		while (i < len) {
			if (ncp == ARRAY_SIZE(cp))
				return addr_fail(error_r, "label too long");
			r = addr_utf8_decode(p + i, len - i, &cp[ncp]);
			if (r < 0)
				return addr_fail(error_r, "invalid UTF-8");
			if (cp[ncp] >= 'A' && cp[ncp] <= 'Z')
				cp[ncp] += 'a' - 'A';
			ncp++;
			i += (size_t)r;
		}
		if (addr_ulabel_check(cp, ncp, error_r) < 0)
			return -1;
		memcpy(label, ADDR_ACE_PREFIX, ADDR_ACE_PREFIX_LEN);
		r = punycode_encode(cp, ncp, label + ADDR_ACE_PREFIX_LEN,
		    sizeof(label) - ADDR_ACE_PREFIX_LEN);
		if (r < 0)
			return addr_fail(error_r, "label too long");
		n = ADDR_ACE_PREFIX_LEN + (size_t)r;
	}
	if (*pos + n > ADDR_DOMAIN_MAX)
		return addr_fail(error_r, "domain too long");
	memcpy(buf + *pos, label, n);
	*pos += n;
	return 0;
}

int
addr_domain_normalize(const char *domain, size_t len, char *out,
    size_t outsize, const char **error_r)
{
	char buf[ADDR_DOMAIN_MAX + 1];
	size_t pos = 0, start = 0, labels = 0, tld = 0, i;
	bool numeric = true;

	if (len == 0)
		return addr_fail(error_r, "empty domain");
	/* Hosted domains are names; Facteur does not deliver to
	 * RFC 5321 4.1.3 address literals. */
	if (domain[0] == '[')
		return addr_fail(error_r, "address literals are not accepted");
	if (domain[len - 1] == '.')
		return addr_fail(error_r, "trailing dot in domain");
	if (!utf8_valid(domain, len))
		return addr_fail(error_r, "invalid UTF-8");
	for (i = 0; i <= len; i++) {
		if (i < len && domain[i] != '.')
			continue;
		if (labels > 0) {
			if (pos + 1 > ADDR_DOMAIN_MAX)
				return addr_fail(error_r, "domain too long");
			buf[pos++] = '.';
		}
		tld = pos;
		if (addr_label_normalize(domain + start, i - start, buf, &pos,
		    error_r) < 0)
			return -1;
		labels++;
		start = i + 1;
	}
	if (labels < 2)
		return addr_fail(error_r, "domain needs at least two labels");
	/* RFC 3696 2: a top-level domain is never all-numeric, which also
	 * keeps dotted IPv4 addresses out. */
	for (i = tld; i < pos; i++) {
		if (buf[i] < '0' || buf[i] > '9')
			numeric = false;
	}
	if (numeric)
		return addr_fail(error_r, "numeric top-level domain");
	if (pos + 1 > outsize)
		return addr_fail(error_r, "output buffer too small");
	memcpy(out, buf, pos);
	out[pos] = '\0';
	return 0;
}

/* RFC 5321 4.1.2 Dot-string, with RFC 6531 3.3 UTF8-non-ascii in atext
 * (the caller has checked the UTF-8). */
static bool
addr_is_dot_string(const char *s, size_t len)
{
	if (len == 0 || s[0] == '.' || s[len - 1] == '.')
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '.') {
			if (s[i - 1] == '.')
				return false;
		} else if (c < 0x80 && !addr_is_atext(c))
			return false;
	}
	return true;
}

/*
 * Normalizes the local part s[0..len) (1..ADDR_LOCAL_MAX octets, valid
 * UTF-8) into out (size > ADDR_LOCAL_MAX), returning its length or -1.
 * A Quoted-string whose content is a valid Dot-string is written
 * unquoted ("\"john\"" and "john" name one mailbox); any other quoted
 * content is re-quoted with only '"' and '\' escaped. The result is never
 * longer than the input.
 */
static int
addr_local_normalize(const char *s, size_t len, char *out,
    const char **error_r)
{
	char content[ADDR_LOCAL_MAX] = { 0 };
	size_t n = 0, o = 0, i;

	if (s[0] != '"') {
		if (!addr_is_dot_string(s, len)) {
			for (i = 0; i < len; i++) {
				unsigned char c = (unsigned char)s[i];

				if (c != '.' && c < 0x80 && !addr_is_atext(c))
					return addr_fail(error_r, "invalid "
					    "character in local part");
			}
			return addr_fail(error_r,
			    "misplaced dot in local part");
		}
		for (i = 0; i < len; i++)
			out[i] = addr_ascii_lower(s[i]);
		return (int)len;
	}
	/* RFC 5321 4.1.2: Quoted-string = DQUOTE *QcontentSMTP DQUOTE. */
	if (len < 2 || s[len - 1] != '"')
		return addr_fail(error_r, "unterminated quoted string");
	for (i = 1; i < len - 1; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '\\') {
			/* quoted-pairSMTP = %d92 %d32-126 */
			if (i + 1 >= len - 1)
				return addr_fail(error_r,
				    "unterminated quoted string");
			c = (unsigned char)s[++i];
			if (c < 32 || c > 126)
				return addr_fail(error_r,
				    "invalid quoted pair in local part");
		} else if (c == '"')
			return addr_fail(error_r,
			    "unescaped quote in local part");
		else if (c < 32 || c == 127)
			return addr_fail(error_r,
			    "invalid character in local part");
		content[n++] = addr_ascii_lower((char)c);
	}
	if (addr_is_dot_string(content, n)) {
		memcpy(out, content, n);
		return (int)n;
	}
	out[o++] = '"';
	for (i = 0; i < n; i++) {
		if (content[i] == '"' || content[i] == '\\')
			out[o++] = '\\';
		out[o++] = content[i];
	}
	out[o++] = '"';
	return (int)o;
}

int
addr_normalize(const char *addr, size_t len, bool allow_catchall,
    char *out, size_t outsize, const char **error_r)
{
	char buf[ADDR_MAX + 1];
	const char *at;
	size_t llen, o = 0;
	int r;

	if (!utf8_valid(addr, len))
		return addr_fail(error_r, "invalid UTF-8");
	if ((at = addr_at(addr, len)) == NULL)
		return addr_fail(error_r, "missing @ in address");
	llen = (size_t)(at - addr);
	if (llen > ADDR_LOCAL_MAX)
		return addr_fail(error_r, "local part too long");
	if (llen == 0) {
		if (!allow_catchall)
			return addr_fail(error_r, "empty local part");
	} else {
		if ((r = addr_local_normalize(addr, llen, buf, error_r)) < 0)
			return -1;
		o = (size_t)r;
	}
	buf[o++] = '@';
	if (addr_domain_normalize(at + 1, len - llen - 1, buf + o,
	    sizeof(buf) - o, error_r) < 0)
		return -1;
	if (str_lcpy(out, buf, outsize) >= outsize)
		return addr_fail(error_r, "output buffer too small");
	return 0;
}

bool
addr_strip_tag(const char *addr, char *out, size_t outsize)
{
	const char *at, *plus;
	size_t base, dlen;

	if ((at = addr_at(addr, strlen(addr))) == NULL || addr[0] == '"')
		return false;
	if ((plus = memchr(addr, '+', (size_t)(at - addr))) == NULL)
		return false;
	/* "+tag@d" must not become the catch-all "@d", nor "a.+tag@d" the
	 * invalid "a.@d". */
	if (plus == addr || plus[-1] == '.')
		return false;
	base = (size_t)(plus - addr);
	dlen = strlen(at);
	if (base + dlen + 1 > outsize)
		return false;
	memmove(out, addr, base);
	memmove(out + base, at, dlen + 1);
	return true;
}
