/* Unit tests: the MIME parser and its IMAP renderings (RFC 3501 7.4.2
 * ENVELOPE and BODYSTRUCTURE, 6.4.5 sections, 6.4.4 SEARCH text), RFC
 * 2047 words, RFC 2231 parameters, RFC 5322 dates and CRLF copies, on a
 * corpus of real-world-shaped messages, then random mutations of it. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "t.h"

#include "lib/buf.h"
#include "lib/util.h"
#include "store/mime.h"

/* ---- the corpus ---- */

/* A plain text message. */
static const char m_simple[] =
    "Return-Path: <alice@example.org>\n"
    "From: Alice Example <alice@example.org>\n"
    "To: bob@example.com\n"
    "Subject: Lunch\n"
    "Date: Tue, 1 Aug 2023 10:00:00 +0200\n"
    "Message-ID: <a1@example.org>\n"
    "\n"
    "Hi Bob,\n"
    "see you at noon.\n";

/* multipart/alternative (QP Latin-1 text, base64 UTF-8 HTML) and a PDF
 * with an RFC 2231 file name inside multipart/mixed, then a forwarded
 * message; RFC 2047 name and folded subject. */
static const char m_mixed[] =
    "From: =?utf-8?q?J=C3=B6rg?= <joerg@example.de>\n"
    "To: \"Smith, Ann\" <ann@example.com>, bob@example.com (Bob B.)\n"
    "Cc: team: carol@example.com, dave@example.com;\n"
    "Subject: =?utf-8?b?UmU6IFLDqXN1bcOp?=\n"
    " report\n"
    "Date: Wed, 2 Aug 2023 09:15 GMT\n"
    "Message-ID: <m2@example.de>\n"
    "In-Reply-To: <m1@example.com>\n"
    "MIME-Version: 1.0\n"
    "Content-Type: multipart/mixed; boundary=\"==outer==\"\n"
    "\n"
    "This is a multi-part message in MIME format.\n"
    "--==outer==\n"
    "Content-Type: multipart/alternative; boundary=alt\n"
    "\n"
    "--alt\n"
    "Content-Type: text/plain; charset=iso-8859-1\n"
    "Content-Transfer-Encoding: quoted-printable\n"
    "\n"
    "Le r=E9sum=E9 est pr=EAt, =\n"
    "vraiment.\n"
    "--alt\n"
    "Content-Type: text/html; charset=utf-8\n"
    "Content-Transfer-Encoding: base64\n"
    "\n"
    "PHA+R3LDvMOfZSBhdXMgS8O2bG48L3A+\n"
    "--alt--\n"
    "\n"
    "--==outer==\n"
    "Content-Type: application/pdf; name=\"report.pdf\"\n"
    "Content-Disposition: attachment;\n"
    " filename*=utf-8''%E2%82%AC%20report.pdf\n"
    "Content-Transfer-Encoding: base64\n"
    "Content-Language: en, fr\n"
    "\n"
    "JVBERi0xLjQK\n"
    "--==outer==\n"
    "Content-Type: message/rfc822\n"
    "Content-Description: forwarded\n"
    "\n"
    "From: Carol <carol@example.com>\n"
    "Subject: Inner\n"
    "Date: 1 Aug 23 08:00 EST\n"
    "Content-Type: text/plain; charset=us-ascii\n"
    "\n"
    "The inner body.\n"
    "--==outer==--\n";

/* 8-bit header values, and the last part lacks its close delimiter. */
static const char m_unclosed[] =
    "From: J\xc3\xb6rg <j@example.de>\n"
    "Subject: Gr\xc3\xbc\xc3\x9f" "e\n"
    "Content-Type: multipart/mixed; boundary=b\n"
    "\n"
    "--b\n"
    "Content-Type: text/plain\n"
    "\n"
    "first\n"
    "--b\n"
    "Content-Type: text/plain; charset=utf-8\n"
    "Content-Transfer-Encoding: 8bit\n"
    "\n"
    "zw\xc3\xb6lf Boxk\xc3\xa4mpfer\n";

/* RFC 2046 5.1.5: parts of a digest default to message/rfc822. */
static const char m_digest[] =
    "Content-Type: multipart/digest; boundary=d\n"
    "\n"
    "--d\n"
    "\n"
    "From: a@b.c\n"
    "Subject: one\n"
    "\n"
    "first\n"
    "--d\n"
    "Content-Type: text/plain\n"
    "\n"
    "not a message\n"
    "--d--\n";

/* Addresses: RFC 5322 appendix A shapes and broken ones. */
static const char m_addresses[] =
    "From: \"Joe Q. Public\" <john.q.public@example.com>\n"
    "Sender: \n"
    "Reply-To: Mary Smith <mary@x.test>, jdoe@example.org\n"
    "To: A Group:Ed Jones <c@a.test>,joe@where.test,John <jdoe@one.test>;\n"
    "Cc: Undisclosed recipients:;\n"
    "Bcc: \"Giant; \\\"Big\\\" Box\" <sysservices@example.net>,\n"
    "  <@r1,@r2:x@y.test>, nodomain, @nolocal.test,\n"
    "\tPete(A nice \\) chap) <pete(his account)@silly.test(his host)>\n"
    "In-Reply-To: <a@b>\n"
    "Message-ID: <c@d>\n"
    "Subject: hi\n"
    "\n";

/* Quoted-printable, base64 with junk, and a body charset to convert. */
static const char m_encodings[] =
    "Subject: =?iso-8859-1?q?=C0_bient=F4t?=\n"
    "Content-Type: multipart/mixed; boundary=\"x y\"\n"
    "\n"
    "--x y  \n"
    "Content-Type: text/plain; charset=windows-1252\n"
    "Content-Transfer-Encoding: Quoted-Printable\n"
    "\n"
    "Price: 5=80 =\n"
    "only\n"
    "--x y\n"
    "Content-Type: text/plain; charset=koi8-r\n"
    "Content-Transfer-Encoding: base64\n"
    "\n"
    "!!8NLJ**18XU\n"
    "INfTxc0=\n"
    "--x y\n"
    "Content-Type: text/plain; charset=utf-8\n"
    "Content-Transfer-Encoding: base64\n"
    "\n"
    "aGVs\n"
    "bG8=IHdvcmxk\n"
    "--x y--\n";

static const char *const corpus[] = {
	m_simple, m_mixed, m_unclosed, m_digest, m_addresses, m_encodings,
};

/* ---- helpers ---- */

static bool
ieq(const char *a, const char *b)
{
	return a != NULL && strcasecmp(a, b) == 0;
}

static char *
crlfify(const char *s, size_t len, size_t *len_r)
{
	struct buf b;

	buf_init(&b);
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '\n' && (i == 0 || s[i - 1] != '\r'))
			buf_append(&b, "\r", 1);
		buf_append(&b, &s[i], 1);
	}
	buf_append(&b, "", 0);
	*len_r = b.len;
	return b.data;
}

static char *
bodystructure(const char *msg, size_t len, bool ext)
{
	struct mime_part *root = mime_parse(msg, len);
	struct buf b;

	buf_init(&b);
	mime_bodystructure(msg, root, ext, &b);
	mime_free(root);
	return b.data;
}

static char *
envelope(const char *msg, size_t len)
{
	struct mime_part *root = mime_parse(msg, len);
	struct buf b;

	buf_init(&b);
	mime_envelope(msg, root, &b);
	mime_free(root);
	return b.data;
}

/* Parses "2.1" into nums; "" is the message. */
static size_t
parse_nums(const char *spec, uint32_t *nums)
{
	size_t n = 0;

	while (*spec != '\0') {
		nums[n++] = (uint32_t)strtoul(spec, (char **)&spec, 10);
		if (*spec == '.')
			spec++;
	}
	return n;
}

/* The raw text of a section, or NULL when it does not exist. */
static char *
section(const char *msg, const char *spec, enum mime_section_kind kind)
{
	struct mime_part *root = mime_parse(msg, strlen(msg));
	uint32_t nums[16];
	size_t n = parse_nums(spec, nums), off, len;
	char *s = NULL;

	if (mime_section(root, nums, n, kind, &off, &len))
		s = xstrndup(msg + off, len);
	mime_free(root);
	return s;
}

static bool
search(const char *msg, const char *needle, enum mime_search_where where)
{
	struct mime_part *root = mime_parse(msg, strlen(msg));
	bool r = mime_search_text(msg, strlen(msg), root, needle, where);

	mime_free(root);
	return r;
}

#define CHECK_SECTION(msg, spec, kind, want) do { \
	char *got_ = section((msg), (spec), (kind)); \
	CHECK_STREQ(got_, (want)); \
	free(got_); \
} while (0)

#define CHECK_NO_SECTION(msg, spec, kind) do { \
	char *got_ = section((msg), (spec), (kind)); \
	CHECK_MSG(got_ == NULL, "section %s exists: '%s'", (spec), got_); \
	free(got_); \
} while (0)

#define CHECK_OWNED(expr, want) do { \
	char *got_ = (expr); \
	CHECK_STREQ(got_, (want)); \
	free(got_); \
} while (0)

/* ---- tests ---- */

static void
test_simple(void)
{
	const char *m = m_simple;
	struct mime_part *root = mime_parse(m, strlen(m));

	/* 6 header lines + blank: 175 octets, 7 LFs */
	CHECK(root->hdr_len == 175 && root->hdr_size == 182);
	/* "Hi Bob,\nsee you at noon.\n": 25 octets, 2 LFs */
	CHECK(root->body_len == 25 && root->body_size == 27);
	CHECK(root->body_lines == 2);
	CHECK(root->nchildren == 0 && root->flags == 0);
	mime_free(root);
	CHECK_OWNED(bodystructure(m, strlen(m), true),
	    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" "
	    "27 2 NIL NIL NIL NIL)");
	CHECK_OWNED(bodystructure(m, strlen(m), false),
	    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" "
	    "27 2)");
	CHECK_OWNED(envelope(m, strlen(m)),
	    "(\"Tue, 1 Aug 2023 10:00:00 +0200\" \"Lunch\" "
	    "((\"Alice Example\" NIL \"alice\" \"example.org\")) "
	    "((\"Alice Example\" NIL \"alice\" \"example.org\")) "
	    "((\"Alice Example\" NIL \"alice\" \"example.org\")) "
	    "((NIL NIL \"bob\" \"example.com\")) NIL NIL NIL "
	    "\"<a1@example.org>\")");
	/* RFC 3501 6.4.5: part 1 of a non-multipart message is its body */
	CHECK_SECTION(m, "", MIME_SECT_ALL, m);
	CHECK_SECTION(m, "", MIME_SECT_TEXT, "Hi Bob,\nsee you at noon.\n");
	CHECK_SECTION(m, "1", MIME_SECT_ALL, "Hi Bob,\nsee you at noon.\n");
	CHECK_NO_SECTION(m, "2", MIME_SECT_ALL);
	CHECK_NO_SECTION(m, "0", MIME_SECT_ALL);
	CHECK_NO_SECTION(m, "1.1", MIME_SECT_ALL);
	CHECK_NO_SECTION(m, "", MIME_SECT_MIME);
	CHECK_NO_SECTION(m, "1", MIME_SECT_HEADER);
	CHECK_NO_SECTION(m, "1", MIME_SECT_TEXT);
}

static void
test_simple_header(void)
{
	const char *m = m_simple;
	char *hdr = section(m, "", MIME_SECT_HEADER);
	char *mime = section(m, "1", MIME_SECT_MIME);

	CHECK(hdr != NULL && strlen(hdr) == 175);
	CHECK(hdr != NULL && strncmp(hdr, "Return-Path:", 12) == 0);
	CHECK(hdr != NULL && strcmp(hdr + 173, "\n\n") == 0);
	/* 1.MIME of a non-multipart message: the message header */
	CHECK_STREQ(mime, hdr);
	free(hdr);
	free(mime);
}

static void
test_mixed_structure(void)
{
	const char *m = m_mixed;
	size_t len = strlen(m);
	struct mime_part *root = mime_parse(m, len);

	CHECK(root->nchildren == 3 && root->flags == MIME_PART_MULTIPART);
	/* hand counts: root header 362 octets in 11 lines; body 791 + 36 */
	CHECK(root->hdr_len == 362 && root->hdr_size == 373);
	CHECK(root->body_size == 827 && root->body_lines == 36);
	CHECK(root->hdr_off + root->hdr_len + root->body_len == len);
	CHECK(root->nchildren == 3 && root->children[0].nchildren == 2);
	CHECK(root->nchildren == 3 && root->children[2].nchildren == 1 &&
	    root->children[2].flags == MIME_PART_MESSAGE &&
	    root->children[2].children[0].depth == 2);
	mime_free(root);

	CHECK_OWNED(bodystructure(m, len, true),
	    "("
	    "("
	    "(\"text\" \"plain\" (\"charset\" \"iso-8859-1\") NIL NIL "
	    "\"quoted-printable\" 38 2 NIL NIL NIL NIL)"
	    "(\"text\" \"html\" (\"charset\" \"utf-8\") NIL NIL \"base64\" "
	    "32 1 NIL NIL NIL NIL)"
	    " \"alternative\" (\"boundary\" \"alt\") NIL NIL NIL)"
	    "(\"application\" \"pdf\" (\"name\" \"report.pdf\") NIL NIL "
	    "\"base64\" 12 NIL "
	    "(\"attachment\" (\"filename\" {14}\r\n\xe2\x82\xac report.pdf)) "
	    "(\"en\" \"fr\") NIL)"
	    "(\"message\" \"rfc822\" NIL NIL \"forwarded\" \"7bit\" 136 "
	    "(\"1 Aug 23 08:00 EST\" \"Inner\" "
	    "((\"Carol\" NIL \"carol\" \"example.com\")) "
	    "((\"Carol\" NIL \"carol\" \"example.com\")) "
	    "((\"Carol\" NIL \"carol\" \"example.com\")) NIL NIL NIL NIL NIL) "
	    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" "
	    "15 1 NIL NIL NIL NIL) 6 NIL NIL NIL NIL)"
	    " \"mixed\" (\"boundary\" \"==outer==\") NIL NIL NIL)");
	CHECK_OWNED(bodystructure(m, len, false),
	    "("
	    "("
	    "(\"text\" \"plain\" (\"charset\" \"iso-8859-1\") NIL NIL "
	    "\"quoted-printable\" 38 2)"
	    "(\"text\" \"html\" (\"charset\" \"utf-8\") NIL NIL \"base64\" "
	    "32 1)"
	    " \"alternative\")"
	    "(\"application\" \"pdf\" (\"name\" \"report.pdf\") NIL NIL "
	    "\"base64\" 12)"
	    "(\"message\" \"rfc822\" NIL NIL \"forwarded\" \"7bit\" 136 "
	    "(\"1 Aug 23 08:00 EST\" \"Inner\" "
	    "((\"Carol\" NIL \"carol\" \"example.com\")) "
	    "((\"Carol\" NIL \"carol\" \"example.com\")) "
	    "((\"Carol\" NIL \"carol\" \"example.com\")) NIL NIL NIL NIL NIL) "
	    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" "
	    "15 1) 6)"
	    " \"mixed\")");
	/* names stay encoded in ENVELOPE; the folded subject is unfolded */
	CHECK_OWNED(envelope(m, len),
	    "(\"Wed, 2 Aug 2023 09:15 GMT\" "
	    "\"=?utf-8?b?UmU6IFLDqXN1bcOp?= report\" "
	    "((\"=?utf-8?q?J=C3=B6rg?=\" NIL \"joerg\" \"example.de\")) "
	    "((\"=?utf-8?q?J=C3=B6rg?=\" NIL \"joerg\" \"example.de\")) "
	    "((\"=?utf-8?q?J=C3=B6rg?=\" NIL \"joerg\" \"example.de\")) "
	    "((\"Smith, Ann\" NIL \"ann\" \"example.com\")"
	    "(\"Bob B.\" NIL \"bob\" \"example.com\")) "
	    "((NIL NIL \"team\" NIL)(NIL NIL \"carol\" \"example.com\")"
	    "(NIL NIL \"dave\" \"example.com\")(NIL NIL NIL NIL)) "
	    "NIL \"<m1@example.com>\" \"<m2@example.de>\")");
}

static void
test_mixed_sections(void)
{
	const char *m = m_mixed;
	static const char alt_body[] =
	    "--alt\n"
	    "Content-Type: text/plain; charset=iso-8859-1\n"
	    "Content-Transfer-Encoding: quoted-printable\n"
	    "\n"
	    "Le r=E9sum=E9 est pr=EAt, =\n"
	    "vraiment.\n"
	    "--alt\n"
	    "Content-Type: text/html; charset=utf-8\n"
	    "Content-Transfer-Encoding: base64\n"
	    "\n"
	    "PHA+R3LDvMOfZSBhdXMgS8O2bG48L3A+\n"
	    "--alt--\n";
	static const char inner[] =
	    "From: Carol <carol@example.com>\n"
	    "Subject: Inner\n"
	    "Date: 1 Aug 23 08:00 EST\n"
	    "Content-Type: text/plain; charset=us-ascii\n"
	    "\n"
	    "The inner body.";
	static const char inner_hdr[] =
	    "From: Carol <carol@example.com>\n"
	    "Subject: Inner\n"
	    "Date: 1 Aug 23 08:00 EST\n"
	    "Content-Type: text/plain; charset=us-ascii\n"
	    "\n";

	/* a multipart part's BODY[n] is its body, without its header */
	CHECK_SECTION(m, "1", MIME_SECT_ALL, alt_body);
	CHECK_SECTION(m, "1.1", MIME_SECT_ALL,
	    "Le r=E9sum=E9 est pr=EAt, =\nvraiment.");
	CHECK_SECTION(m, "1.2", MIME_SECT_ALL,
	    "PHA+R3LDvMOfZSBhdXMgS8O2bG48L3A+");
	CHECK_SECTION(m, "1.2", MIME_SECT_MIME,
	    "Content-Type: text/html; charset=utf-8\n"
	    "Content-Transfer-Encoding: base64\n\n");
	CHECK_SECTION(m, "1", MIME_SECT_MIME,
	    "Content-Type: multipart/alternative; boundary=alt\n\n");
	CHECK_SECTION(m, "2", MIME_SECT_ALL, "JVBERi0xLjQK");
	CHECK_SECTION(m, "2", MIME_SECT_MIME,
	    "Content-Type: application/pdf; name=\"report.pdf\"\n"
	    "Content-Disposition: attachment;\n"
	    " filename*=utf-8''%E2%82%AC%20report.pdf\n"
	    "Content-Transfer-Encoding: base64\n"
	    "Content-Language: en, fr\n\n");
	/* message/rfc822: HEADER and TEXT are the embedded message's */
	CHECK_SECTION(m, "3", MIME_SECT_ALL, inner);
	CHECK_SECTION(m, "3", MIME_SECT_HEADER, inner_hdr);
	CHECK_SECTION(m, "3", MIME_SECT_HEADER_FIELDS, inner_hdr);
	CHECK_SECTION(m, "3", MIME_SECT_TEXT, "The inner body.");
	CHECK_SECTION(m, "3", MIME_SECT_MIME,
	    "Content-Type: message/rfc822\n"
	    "Content-Description: forwarded\n\n");
	/* nested numbers count the embedded message's parts */
	CHECK_SECTION(m, "3.1", MIME_SECT_ALL, "The inner body.");
	CHECK_SECTION(m, "3.1", MIME_SECT_MIME, inner_hdr);
	CHECK_NO_SECTION(m, "3.2", MIME_SECT_ALL);
	CHECK_NO_SECTION(m, "4", MIME_SECT_ALL);
	CHECK_NO_SECTION(m, "1.3", MIME_SECT_ALL);
	CHECK_NO_SECTION(m, "2.1", MIME_SECT_ALL);
	CHECK_NO_SECTION(m, "1.1.1", MIME_SECT_ALL);
	CHECK_NO_SECTION(m, "0", MIME_SECT_ALL);
	CHECK_NO_SECTION(m, "2", MIME_SECT_HEADER);
	CHECK_NO_SECTION(m, "1", MIME_SECT_TEXT);
	CHECK_NO_SECTION(m, "", MIME_SECT_MIME);
}

static void
test_header_fields(void)
{
	const char *m = m_mixed;
	static const char *const names[] = { "subject", "FROM", "x-none" };
	static const char *const few[] = { "content-type", "mime-version",
	    "to", "cc", "message-id", "in-reply-to" };
	struct mime_part *root = mime_parse(m, strlen(m));
	struct buf b;

	buf_init(&b);
	mime_header_fields(m + root->hdr_off, root->hdr_len, names, 3, false,
	    &b);
	/* header order, folding kept, CRLF, then the blank line */
	CHECK_STREQ(b.data,
	    "From: =?utf-8?q?J=C3=B6rg?= <joerg@example.de>\r\n"
	    "Subject: =?utf-8?b?UmU6IFLDqXN1bcOp?=\r\n"
	    " report\r\n"
	    "\r\n");
	buf_reset(&b);
	mime_header_fields(m + root->hdr_off, root->hdr_len, few,
	    ARRAY_SIZE(few), true, &b);
	CHECK_STREQ(b.data,
	    "From: =?utf-8?q?J=C3=B6rg?= <joerg@example.de>\r\n"
	    "Subject: =?utf-8?b?UmU6IFLDqXN1bcOp?=\r\n"
	    " report\r\n"
	    "Date: Wed, 2 Aug 2023 09:15 GMT\r\n"
	    "\r\n");
	buf_reset(&b);
	mime_header_fields(m + root->hdr_off, root->hdr_len, names, 0, false,
	    &b);
	CHECK_STREQ(b.data, "\r\n");
	buf_reset(&b);
	/* a header without its blank line, last line unended */
	mime_header_fields("A: 1\nB: 2", 9, names, 0, true, &b);
	CHECK_STREQ(b.data, "A: 1\r\nB: 2\r\n\r\n");
	buf_deinit(&b);
	mime_free(root);
}

static void
test_header_get(void)
{
	const char *m = m_mixed;
	static const char hdr[] =
	    "Received: from a\n"
	    "Subject:  =?iso-8859-1?q?caf=E9?=\n"
	    "\t=?iso-8859-1?q?_cr=E8me?=\n"
	    "Received: from b\n"
	    "  by c\n"
	    "X-Empty:\n"
	    "\n"
	    "Received: from the body\n";
	struct mime_part *root = mime_parse(m, strlen(m));
	struct buf b;

	buf_init(&b);
	CHECK(mime_header_get(m, root->hdr_len, "SUBJECT", &b));
	CHECK_STREQ(b.data, "Re: R\xc3\xa9sum\xc3\xa9 report");
	buf_reset(&b);
	CHECK(mime_header_get(m, root->hdr_len, "from", &b));
	CHECK_STREQ(b.data, "J\xc3\xb6rg <joerg@example.de>");
	buf_reset(&b);
	CHECK(!mime_header_get(m, root->hdr_len, "x-missing", &b));
	CHECK(b.len == 0);
	/* the embedded message's Subject is not the message's */
	CHECK(!mime_header_get(m, root->hdr_len, "content-description", &b));
	mime_free(root);

	CHECK(mime_header_get(hdr, sizeof(hdr) - 1, "subject", &b));
	CHECK_STREQ(b.data, "caf\xc3\xa9 cr\xc3\xa8me");
	buf_reset(&b);
	CHECK(mime_header_get_raw(hdr, sizeof(hdr) - 1, "received", &b));
	CHECK_STREQ(b.data, "from a");
	buf_reset(&b);
	CHECK(mime_header_get(hdr, sizeof(hdr) - 1, "x-empty", &b));
	CHECK_STREQ(b.data, "");
	buf_deinit(&b);
}

static bool
collect_cb(const char *value, size_t len, void *ctx)
{
	struct buf *b = ctx;

	buf_append(b, value, len);
	buf_append(b, "|", 1);
	return strcmp(value, "stop") != 0;
}

static void
test_header_each(void)
{
	static const char hdr[] =
	    "Received: from a\n"
	    "Subject: =?utf-8?q?x?=\n"
	    "Received: from b\n"
	    "  by c\n"
	    "junk line without colon\n"
	    " continued junk\n"
	    "received: stop\n"
	    "Received: never\n"
	    "\n";
	struct buf b;

	buf_init(&b);
	CHECK(mime_header_each(hdr, sizeof(hdr) - 1, "Received", true,
	    collect_cb, &b));
	CHECK_STREQ(b.data, "from a|from b  by c|stop|");
	buf_reset(&b);
	CHECK(!mime_header_each(hdr, 40, NULL, false, collect_cb, &b));
	CHECK_STREQ(b.data, "from a|=?utf-8?q?x?=|");
	buf_reset(&b);
	CHECK(!mime_header_each(hdr, 40, "subject", true, collect_cb, &b));
	CHECK_STREQ(b.data, "x|");
	buf_deinit(&b);
}

static void
test_search(void)
{
	const char *m = m_mixed;

	/* QP Latin-1 text, case-folded: "Le résumé est prêt, vraiment." */
	CHECK(search(m, "PR\xc3\x8aT, VRAIMENT", MIME_SEARCH_BODY));
	CHECK(search(m, "r\xc3\xa9sum\xc3\xa9", MIME_SEARCH_BODY));
	/* base64 UTF-8 HTML: "<p>Grüße aus Köln</p>" */
	CHECK(search(m, "K\xc3\x96LN", MIME_SEARCH_BODY));
	CHECK(search(m, "gr\xc3\xbc\xc3\x9f" "e", MIME_SEARCH_TEXT));
	/* the embedded message's body, and its header for TEXT only */
	CHECK(search(m, "inner BODY", MIME_SEARCH_BODY));
	CHECK(!search(m, "carol@example.com>", MIME_SEARCH_BODY));
	CHECK(search(m, "Carol <carol", MIME_SEARCH_TEXT));
	/* RFC 2047 subject and name: decoded, TEXT only */
	CHECK(!search(m, "re: r\xc3\xa9sum\xc3\xa9", MIME_SEARCH_BODY));
	CHECK(search(m, "RE: R\xc3\x89SUM\xc3\x89 REPORT", MIME_SEARCH_TEXT));
	CHECK(search(m, "j\xc3\xb6rg", MIME_SEARCH_TEXT));
	/* not text: the PDF and the raw encodings are not searched */
	CHECK(!search(m, "%PDF", MIME_SEARCH_TEXT));
	CHECK(!search(m, "JVBERi0", MIME_SEARCH_TEXT));
	CHECK(!search(m, "r=E9sum", MIME_SEARCH_BODY));
	CHECK(!search(m, "PHA+", MIME_SEARCH_BODY));
	/* the soft line break is gone */
	CHECK(!search(m, "t, =", MIME_SEARCH_BODY));
	CHECK(!search(m, "absent", MIME_SEARCH_TEXT));
	CHECK(search(m, "", MIME_SEARCH_BODY));

	m = m_encodings;
	/* windows-1252 0x80 is the euro sign */
	CHECK(search(m, "5\xe2\x82\xac only", MIME_SEARCH_BODY));
	/* KOI8-R base64 with junk: "привет всем" */
	CHECK(search(m, "\xd0\x9f\xd0\xa0\xd0\x98\xd0\x92\xd0\x95\xd0\xa2 "
	    "\xd0\x92\xd0\xa1\xd0\x95\xd0\x9c", MIME_SEARCH_BODY));
	/* two base64 runs joined by '=' padding */
	CHECK(search(m, "hello world", MIME_SEARCH_BODY));
	CHECK(search(m, "\xc3\xa0 BIENT\xc3\x94T", MIME_SEARCH_TEXT));
	CHECK(!search(m, "\xc3\xa0 bient\xc3\xb4t", MIME_SEARCH_BODY));

	CHECK(mime_text_contains("Re: Caf\xc3\xa9 CR\xc3\x88ME", 16,
	    "caf\xc3\x89 cr\xc3\xa8me"));
	CHECK(!mime_text_contains("abc", 3, "abcd"));
	CHECK(!mime_text_contains(NULL, 0, "a"));
	CHECK(mime_text_contains(NULL, 0, ""));
	/* Cyrillic: "Привет" found as "пРИВЕТ" */
	CHECK(mime_text_contains("\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2"
	    "\xd0\xb5\xd1\x82", 12, "\xd0\xbf\xd0\xa0\xd0\x98\xd0\x92"
	    "\xd0\x95\xd0\xa2"));
	/* Greek, Cyrillic and Latin Extended-A folding */
	CHECK(search("\n\xce\x91\xce\x98\xce\x97\xce\x9d\xce\x91 "
	    "\xc5\x81\xc3\xb3" "d\xc5\xba", "\xce\xb1\xce\xb8\xce\xb7\xce\xbd"
	    "\xce\xb1 \xc5\x82\xc3\x93\x44\xc5\xb9", MIME_SEARCH_BODY));
}

static void
test_unclosed(void)
{
	const char *m = m_unclosed;
	size_t len = strlen(m);
	struct mime_part *root = mime_parse(m, len);

	/* RFC 2046 5.1.2: the last part runs to the end */
	CHECK(root->nchildren == 2);
	CHECK(root->nchildren == 2 &&
	    root->children[1].body_off + root->children[1].body_len == len);
	mime_free(root);
	CHECK_OWNED(bodystructure(m, len, true),
	    "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" "
	    "5 1 NIL NIL NIL NIL)"
	    "(\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL \"8bit\" "
	    "20 1 NIL NIL NIL NIL)"
	    " \"mixed\" (\"boundary\" \"b\") NIL NIL NIL)");
	/* RFC 3501 4.3: 8-bit values go out as literals */
	CHECK_OWNED(envelope(m, len),
	    "(NIL {7}\r\nGr\xc3\xbc\xc3\x9f" "e "
	    "(({5}\r\nJ\xc3\xb6rg NIL \"j\" \"example.de\")) "
	    "(({5}\r\nJ\xc3\xb6rg NIL \"j\" \"example.de\")) "
	    "(({5}\r\nJ\xc3\xb6rg NIL \"j\" \"example.de\")) "
	    "NIL NIL NIL NIL NIL)");
	CHECK_SECTION(m, "2", MIME_SECT_ALL,
	    "zw\xc3\xb6lf Boxk\xc3\xa4mpfer\n");
	CHECK(search(m, "ZW\xc3\x96LF", MIME_SEARCH_BODY));
	CHECK(search(m, "gr\xc3\x9c\xc3\x9f" "e", MIME_SEARCH_TEXT));
}

static void
test_digest(void)
{
	const char *m = m_digest;

	CHECK_OWNED(bodystructure(m, strlen(m), true),
	    "((\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 34 "
	    "(NIL \"one\" ((NIL NIL \"a\" \"b.c\")) ((NIL NIL \"a\" \"b.c\")) "
	    "((NIL NIL \"a\" \"b.c\")) NIL NIL NIL NIL NIL) "
	    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" "
	    "5 1 NIL NIL NIL NIL) 4 NIL NIL NIL NIL)"
	    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" "
	    "13 1 NIL NIL NIL NIL)"
	    " \"digest\" (\"boundary\" \"d\") NIL NIL NIL)");
	CHECK_SECTION(m, "1", MIME_SECT_MIME, "\n");
	CHECK_SECTION(m, "1", MIME_SECT_TEXT, "first");
	CHECK_SECTION(m, "1.1", MIME_SECT_ALL, "first");
	CHECK_SECTION(m, "1", MIME_SECT_HEADER,
	    "From: a@b.c\nSubject: one\n\n");
	CHECK_SECTION(m, "2", MIME_SECT_ALL, "not a message");
}

static void
test_addresses(void)
{
	const char *m = m_addresses;

	CHECK_OWNED(envelope(m, strlen(m)),
	    "(NIL \"hi\" "
	    "((\"Joe Q. Public\" NIL \"john.q.public\" \"example.com\")) "
	    /* an empty Sender is From (RFC 3501 7.4.2) */
	    "((\"Joe Q. Public\" NIL \"john.q.public\" \"example.com\")) "
	    "((\"Mary Smith\" NIL \"mary\" \"x.test\")"
	    "(NIL NIL \"jdoe\" \"example.org\")) "
	    "((NIL NIL \"A Group\" NIL)(\"Ed Jones\" NIL \"c\" \"a.test\")"
	    "(NIL NIL \"joe\" \"where.test\")"
	    "(\"John\" NIL \"jdoe\" \"one.test\")"
	    "(NIL NIL NIL NIL)) "
	    "((NIL NIL \"Undisclosed recipients\" NIL)(NIL NIL NIL NIL)) "
	    "((\"Giant; \\\"Big\\\" Box\" NIL \"sysservices\" \"example.net\")"
	    "(NIL \"@r1,@r2\" \"x\" \"y.test\")"
	    "(NIL NIL \"nodomain\" \"MISSING_DOMAIN\")"
	    "(NIL NIL \"MISSING_MAILBOX\" \"nolocal.test\")"
	    "(\"Pete\" NIL \"pete\" \"silly.test\")) "
	    "\"<a@b>\" \"<c@d>\")");
	/* nothing usable: NIL lists, never a crash */
	CHECK_OWNED(envelope("To: ,, ,\nCc: <<<>>> \"\nBcc: (((\n\n", 32),
	    "(NIL NIL NIL NIL NIL NIL "
	    "((NIL NIL \"MISSING_MAILBOX\" \"MISSING_DOMAIN\")) "
	    "NIL NIL NIL)");
	CHECK_OWNED(envelope("From: a@b, c@d e@f\n\n", 20),
	    "(NIL NIL ((NIL NIL \"a\" \"b\")(NIL NIL \"c\" \"d\")"
	    "(NIL NIL \"e\" \"f\")) ((NIL NIL \"a\" \"b\")(NIL NIL \"c\" \"d\")"
	    "(NIL NIL \"e\" \"f\")) ((NIL NIL \"a\" \"b\")(NIL NIL \"c\" \"d\")"
	    "(NIL NIL \"e\" \"f\")) NIL NIL NIL NIL NIL)");
	/* an unterminated group is closed */
	CHECK_OWNED(envelope("To: g: a@b\n\n", 12),
	    "(NIL NIL NIL NIL NIL ((NIL NIL \"g\" NIL)(NIL NIL \"a\" \"b\")"
	    "(NIL NIL NIL NIL)) NIL NIL NIL NIL)");
}

static void
test_params(void)
{
	static const struct {
		const char *ct;
		const char *want;	/* "name=value;..." */
	} rows[] = {
		/* RFC 2231 3-4: sections in any order, encoded and not */
		{ "application/x; name*0*=iso-8859-1''%E9t; name*1*=%E9; "
		  "name*2=\".txt\"", "name=\xc3\xa9t\xc3\xa9.txt;" },
		{ "application/x; title*1=\"and two\"; title*0=\"part one \"",
		  "title=part one and two;" },
		/* the RFC 2231 form wins over the plain one, in its place */
		{ "application/x; filename=\"fallback.pdf\"; a=b; "
		  "filename*=utf-8''%E2%82%AC.pdf",
		  "filename=\xe2\x82\xac.pdf;a=b;" },
		{ "application/x; name*=us-ascii'en'This%20is%20%2A%2A%2Afun"
		  "%2A%2A%2A", "name=This is ***fun***;" },
		/* names are lower-cased; comments and junk are skipped */
		{ "Text/Plain; CHARSET=\"UTF-8\" (comment); format=flowed",
		  "charset=UTF-8;format=flowed;" },
		{ "text/plain; ; =x; charset; junk \"a;b\"; c=d", "c=d;" },
		/* tolerated: 8-bit and '=' in unquoted values */
		{ "application/x; name=r\xc3\xa9sum\xc3\xa9.pdf",
		  "name=r\xc3\xa9sum\xc3\xa9.pdf;" },
		{ "application/x; name==?utf-8?b?w6k=?=",
		  "name==?utf-8?b?w6k=?=;" },
		{ "application/x; a=\"q\\\"uo\\\\te\"", "a=q\"uo\\te;" },
		/* a bad percent escape is kept; unknown charset: raw */
		{ "application/x; n*=x-unknown''a%2%41%zz", "n=a%2A%zz;" },
		/* no section 0, repeated section: best effort */
		{ "application/x; n*1=b; n*2=c; n*1=x", "n=bc;" },
		/* RFC 2045 5.2: an invalid field means text/plain, no params */
		{ "text; charset=utf-8", "" },
		{ "/plain; charset=utf-8", "" },
	};

	for (size_t i = 0; i < ARRAY_SIZE(rows); i++) {
		char *m = xasprintf("Content-Type: %s\n\nx", rows[i].ct);
		struct mime_part *root = mime_parse(m, strlen(m));
		struct buf b;

		buf_init(&b);
		buf_append(&b, "", 0);
		for (size_t j = 0; j < root->nparams; j++)
			buf_printf(&b, "%s=%s;", root->params[j].name,
			    root->params[j].value);
		CHECK_MSG(t_streq(b.data, rows[i].want), "row %zu: '%s'", i,
		    b.data);
		buf_deinit(&b);
		mime_free(root);
		free(m);
	}
	{
		const char *m = "Content-Type: Text/HTML; Charset=ISO-8859-1\n"
		    "Content-Transfer-Encoding: QUOTED-printable (x)\n"
		    "Content-ID:  <id@x>  \n"
		    "Content-Disposition: INLINE\n"
		    "Content-Language: en\n"
		    "Content-Location: http://a.test/x.html\n"
		    "Content-MD5: Q2hlY2sgSW50ZWdyaXR5IQ==\n"
		    "\n"
		    "x";

		/* as found in the header; us-ascii not added after a charset */
		CHECK_OWNED(bodystructure(m, strlen(m), true),
		    "(\"Text\" \"HTML\" (\"charset\" \"ISO-8859-1\") "
		    "\"<id@x>\" "
		    "NIL \"QUOTED-printable\" 1 1 \"Q2hlY2sgSW50ZWdyaXR5IQ==\" "
		    "(\"INLINE\" NIL) \"en\" \"http://a.test/x.html\")");
	}
}

static void
test_words(void)
{
	static const struct {
		const char *in, *want;
	} rows[] = {
		/* RFC 2047 8 examples */
		{ "(=?ISO-8859-1?Q?a?=)", "(a)" },
		{ "(=?ISO-8859-1?Q?a?= b)", "(a b)" },
		{ "(=?ISO-8859-1?Q?a?= =?ISO-8859-1?Q?b?=)", "(ab)" },
		{ "(=?ISO-8859-1?Q?a?=  \t =?ISO-8859-1?Q?b?=)", "(ab)" },
		{ "(=?ISO-8859-1?Q?a_b?=)", "(a b)" },
		{ "(=?ISO-8859-1?Q?a?= =?ISO-8859-2?Q?_b?=)", "(a b)" },
		{ "=?iso-8859-1?q?caf=E9?=", "caf\xc3\xa9" },
		{ "=?UTF-8?B?4oKs?=", "\xe2\x82\xac" },
		{ "=?windows-1252?Q?=80?=", "\xe2\x82\xac" },
		/* RFC 2231 5: a language suffix */
		{ "=?utf-8*en?q?hi?=", "hi" },
		/* a character split across words of one charset */
		{ "=?utf-16be?q?=00?= =?utf-16be?q?=E9?=", "\xc3\xa9" },
		/* bad words are kept as they are */
		{ "=?x-klingon?q?abc?=", "=?x-klingon?q?abc?=" },
		{ "=?utf-8?x?abc?=", "=?utf-8?x?abc?=" },
		{ "=?utf-8?q?abc", "=?utf-8?q?abc" },
		{ "=?utf-8?q?a b?=", "=?utf-8?q?a b?=" },
		{ "a=?b", "a=?b" },
		{ "=?utf-8?q?a?==?utf-8?q?b?=", "ab" },
		{ "x =?utf-8?q?a?= y", "x a y" },
		/* no space between: still decoded */
		{ "re:=?utf-8?q?a?=", "re:a" },
		/* an octet that does not convert */
		{ "=?utf-16be?b?2AA=?=", "\xef\xbf\xbd\xef\xbf\xbd" },
		{ "plain 8-bit \xc3\xa9", "plain 8-bit \xc3\xa9" },
	};

	for (size_t i = 0; i < ARRAY_SIZE(rows); i++) {
		struct buf b;

		buf_init(&b);
		mime_decode_words(rows[i].in, strlen(rows[i].in), &b);
		buf_append(&b, "", 0);
		CHECK_MSG(t_streq(b.data, rows[i].want), "row %zu: '%s'", i,
		    b.data);
		buf_deinit(&b);
	}
}

static void
test_tolerance(void)
{
	char *m;
	struct mime_part *root;
	static const char no_sep[] = "Subject: only a header\nFrom: a@b.c";
	static const char bodyless[] = "Subject: x\n\n";

	/* no blank line: everything is header, the body is empty */
	CHECK_OWNED(bodystructure(no_sep, sizeof(no_sep) - 1, true),
	    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" "
	    "0 0 NIL NIL NIL NIL)");
	CHECK_SECTION(no_sep, "", MIME_SECT_TEXT, "");
	CHECK_SECTION(no_sep, "", MIME_SECT_HEADER, no_sep);
	CHECK_OWNED(envelope(no_sep, sizeof(no_sep) - 1),
	    "(NIL \"only a header\" ((NIL NIL \"a\" \"b.c\")) "
	    "((NIL NIL \"a\" \"b.c\")) ((NIL NIL \"a\" \"b.c\")) "
	    "NIL NIL NIL NIL NIL)");
	CHECK_OWNED(bodystructure(bodyless, sizeof(bodyless) - 1, false),
	    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" "
	    "0 0)");
	/* empty input */
	root = mime_parse(NULL, 0);
	CHECK(root->hdr_len == 0 && root->body_len == 0);
	mime_free(root);
	CHECK_OWNED(bodystructure("", 0, true),
	    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" "
	    "0 0 NIL NIL NIL NIL)");
	CHECK_OWNED(envelope("", 0),
	    "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)");

	/* a line without colon is skipped; NULs are dropped from strings */
	m = "garbage line\nSubject: a\0b\n\nx\0yz\n";
	CHECK_OWNED(envelope(m, 32),
	    "(NIL {2}\r\nab NIL NIL NIL NIL NIL NIL NIL NIL)");
	root = mime_parse(m, 32);
	CHECK(root->body_len == 5 && root->body_size == 6);
	CHECK(mime_search_text(m, 32, root, "YZ", MIME_SEARCH_BODY));
	mime_free(root);

	/* no boundary parameter, or a boundary never seen: one implicit
	 * text/plain part keeps the body readable */
	m = "Content-Type: multipart/mixed\n\nhello\n";
	CHECK_OWNED(bodystructure(m, strlen(m), true),
	    "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" "
	    "7 1 NIL NIL NIL NIL) \"mixed\" NIL NIL NIL NIL)");
	m = "Content-Type: multipart/mixed; boundary=zz\n\nhello\n--zz--\n";
	CHECK_OWNED(bodystructure(m, strlen(m), false),
	    "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" "
	    "15 2) \"mixed\")");
	CHECK_SECTION(m, "1", MIME_SECT_ALL, "hello\n--zz--\n");
	CHECK_SECTION(m, "1", MIME_SECT_MIME, "");
	CHECK(search(m, "hello", MIME_SEARCH_BODY));

	/* RFC 2046 5.1.1: padding after a delimiter; junk makes it text;
	 * a prefix of a longer boundary is not it */
	m = "Content-Type: multipart/mixed; boundary=b\n\n"
	    "--b \t\r\n\r\none\n--bb\ntwo\n--b junk\nthree\n"
	    "--b--garbage\nepilogue\n--b\nignored\n";
	root = mime_parse(m, strlen(m));
	CHECK(root->nchildren == 1);
	mime_free(root);
	CHECK_SECTION(m, "1", MIME_SECT_ALL,
	    "one\n--bb\ntwo\n--b junk\nthree");

	/* an empty part, and delimiters back to back */
	m = "Content-Type: multipart/mixed; boundary=b\n\n--b\n--b\n\n--b--\n";
	CHECK_OWNED(bodystructure(m, strlen(m), false),
	    "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" "
	    "0 0)(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL "
	    "\"7bit\" 0 0) \"mixed\")");

	/* an inner multipart missing its close ends at the outer one */
	m = "Content-Type: multipart/mixed; boundary=o\n\n"
	    "--o\nContent-Type: multipart/mixed; boundary=i\n\n"
	    "--i\n\nin\n--o\n\nout\n--o--\n";
	CHECK_OWNED(bodystructure(m, strlen(m), false),
	    "(((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" "
	    "2 1) \"mixed\")(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL "
	    "NIL \"7bit\" 3 1) \"mixed\")");

	/* RFC 2046 5.2.1: an encoded message/rfc822 is not parsed */
	m = "Content-Type: message/rfc822\n"
	    "Content-Transfer-Encoding: base64\n\nU3ViamVjdDogeAoKeQo=\n";
	CHECK_OWNED(bodystructure(m, strlen(m), false),
	    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"base64\" "
	    "22 1)");

	/* a very long line, and a boundary after it */
	{
		struct buf b;

		buf_init(&b);
		buf_append_str(&b, "Content-Type: multipart/mixed; "
		    "boundary=b\n\n--b\n\n");
		for (int i = 0; i < 100000; i++)
			buf_append_str(&b, "0123456789");
		buf_append_str(&b, "needle\n--b--\n");
		root = mime_parse(b.data, b.len);
		CHECK(root->nchildren == 1 &&
		    root->children[0].body_size == 1000006 &&
		    root->children[0].body_lines == 1);
		CHECK(mime_search_text(b.data, b.len, root, "9NEEDLE",
		    MIME_SEARCH_BODY));
		mime_free(root);
		buf_deinit(&b);
	}
}

/* A message whose own type is message/rfc822: part 1 is its body, the
 * embedded message; deeper numbers count that message's parts. */
static void
test_rfc822_root(void)
{
	static const char m[] =
	    "Subject: outer\n"
	    "Content-Type: message/rfc822\n"
	    "\n"
	    "Subject: inner\n"
	    "Content-Type: multipart/mixed; boundary=z\n"
	    "\n"
	    "--z\n"
	    "\n"
	    "one\n"
	    "--z\n"
	    "\n"
	    "two\n"
	    "--z--\n";
	static const char inner_hdr[] =
	    "Subject: inner\nContent-Type: multipart/mixed; boundary=z\n\n";

	CHECK_SECTION(m, "", MIME_SECT_HEADER,
	    "Subject: outer\nContent-Type: message/rfc822\n\n");
	CHECK_SECTION(m, "1", MIME_SECT_ALL, m + 45);
	CHECK_SECTION(m, "1", MIME_SECT_HEADER, inner_hdr);
	CHECK_SECTION(m, "1", MIME_SECT_TEXT,
	    "--z\n\none\n--z\n\ntwo\n--z--\n");
	CHECK_SECTION(m, "1.1", MIME_SECT_ALL, "one");
	CHECK_SECTION(m, "1.2", MIME_SECT_ALL, "two");
	CHECK_SECTION(m, "1.2", MIME_SECT_MIME, "\n");
	CHECK_NO_SECTION(m, "1.3", MIME_SECT_ALL);
	CHECK_NO_SECTION(m, "2", MIME_SECT_ALL);
	CHECK_NO_SECTION(m, "1.1", MIME_SECT_HEADER);
	CHECK_OWNED(bodystructure(m, strlen(m), false),
	    "(\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 92 "
	    "(NIL \"inner\" NIL NIL NIL NIL NIL NIL NIL NIL) "
	    "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL "
	    "\"7bit\" 3 1)(\"text\" \"plain\" (\"charset\" \"us-ascii\") "
	    "NIL NIL \"7bit\" 3 1) \"mixed\") 10)");
	{
		struct mime_crlf_cursor cur;
		struct buf b;

		buf_init(&b);
		mime_crlf_seek(m, strlen(m), 1000, &cur);
		CHECK(cur.off == strlen(m) && cur.pos == 140);
		CHECK(mime_crlf_next(m, strlen(m), &cur, 10, &b) == 0);
		mime_crlf_seek(m, strlen(m), 139, &cur);
		CHECK(mime_crlf_next(m, strlen(m), &cur, 10, &b) == 1);
		CHECK(b.len == 1 && b.data[0] == '\n');
		buf_deinit(&b);
	}
}

/* Builds n nested levels of multipart, or of message/rfc822. */
static char *
nested(int n, bool messages)
{
	struct buf b;

	buf_init(&b);
	for (int i = 0; i < n; i++) {
		if (messages)
			buf_printf(&b, "Subject: level %d\n"
			    "Content-Type: message/rfc822\n\n", i);
		else
			buf_printf(&b, "Content-Type: multipart/mixed; "
			    "boundary=b%d\n\n--b%d\n", i, i);
	}
	buf_append_str(&b, "\nleaf\n");
	return b.data;
}

static void
test_depth(void)
{
	for (int messages = 0; messages <= 1; messages++) {
		char *m = nested(30, messages);
		struct mime_part *root = mime_parse(m, strlen(m)), *p = root;
		unsigned levels = 0;
		char *bs;

		while (p->nchildren > 0) {
			CHECK(p->nchildren == 1);
			p = &p->children[0];
			levels++;
		}
		CHECK(levels == MIME_MAX_DEPTH && p->depth == MIME_MAX_DEPTH);
		/* the container at the cap is shown as text/plain */
		CHECK(ieq(p->type, "text") &&
		    ieq(p->subtype, "plain"));
		CHECK(search(m, "leaf", MIME_SEARCH_BODY));
		bs = bodystructure(m, strlen(m), true);
		CHECK(bs != NULL && strlen(bs) > 0);
		if (!messages) {
			static const char want[] = "((((((((((((((((((((("
			    "\"text\" \"plain\" (\"boundary\" \"b20\" "
			    "\"charset\" \"us-ascii\")";

			CHECK(strncmp(bs, want, sizeof(want) - 1) == 0);
		}
		free(bs);
		mime_free(root);
		free(m);
	}
}

/* Every message gives the same results with CRLF line ends. */
static void
test_crlf_vs_lf(void)
{
	static const char *const names[] = { "subject", "content-type" };
	static const char *const needles[] = { "r\xc3\xa9sum\xc3\xa9", "inner",
	    "hello world", "k\xc3\xb6ln", "report", "5\xe2\x82\xac only" };

	for (size_t i = 0; i < ARRAY_SIZE(corpus); i++) {
		const char *lf = corpus[i];
		size_t lf_len = strlen(lf), crlf_len;
		char *crlf = crlfify(lf, lf_len, &crlf_len);
		struct mime_part *a = mime_parse(lf, lf_len);
		struct mime_part *b = mime_parse(crlf, crlf_len);
		struct buf x, y;
		static const uint32_t specs[][3] = { { 1, 0, 0 }, { 2, 0, 0 },
		    { 1, 1, 0 }, { 1, 2, 0 }, { 3, 1, 0 }, { 3, 0, 0 } };

		buf_init(&x);
		buf_init(&y);
		mime_bodystructure(lf, a, true, &x);
		mime_envelope(lf, a, &x);
		mime_bodystructure(crlf, b, true, &y);
		mime_envelope(crlf, b, &y);
		CHECK_MSG(t_streq(x.data, y.data), "message %zu", i);
		CHECK(a->hdr_size + a->body_size == crlf_len);
		CHECK(mime_crlf_size(lf, lf_len) == crlf_len);
		buf_reset(&x);
		buf_reset(&y);
		mime_header_fields(lf + a->hdr_off, a->hdr_len, names, 2, false,
		    &x);
		mime_header_fields(crlf + b->hdr_off, b->hdr_len, names, 2,
		    false, &y);
		CHECK_MSG(t_streq(x.data, y.data), "message %zu", i);
		for (size_t s = 0; s < ARRAY_SIZE(specs); s++) {
			for (int k = MIME_SECT_ALL; k <= MIME_SECT_MIME; k++) {
				size_t n = specs[s][1] == 0 ? 1 : 2;
				size_t o1, l1, o2, l2;
				bool r1 = mime_section(a, specs[s], n, k, &o1,
				    &l1);
				bool r2 = mime_section(b, specs[s], n, k, &o2,
				    &l2);

				CHECK(r1 == r2);
				if (!r1 || !r2)
					continue;
				buf_reset(&x);
				buf_reset(&y);
				mime_crlf_copy(lf + o1, l1, 0, SIZE_MAX, &x);
				mime_crlf_copy(crlf + o2, l2, 0, SIZE_MAX, &y);
				buf_append(&x, "", 0);
				buf_append(&y, "", 0);
				CHECK_MSG(x.len == y.len &&
				    memcmp(x.data, y.data, x.len) == 0,
				    "message %zu section %zu kind %d", i, s, k);
			}
		}
		for (size_t s = 0; s < ARRAY_SIZE(needles); s++) {
			for (int w = 0; w <= 1; w++)
				CHECK(mime_search_text(lf, lf_len, a,
				    needles[s], w) == mime_search_text(crlf,
				    crlf_len, b, needles[s], w));
		}
		buf_deinit(&x);
		buf_deinit(&y);
		mime_free(a);
		mime_free(b);
		free(crlf);
	}
}

static void
test_dates(void)
{
	static const struct {
		const char *in;
		long long t;
		int tz;
	} good[] = {
		{ "Mon, 7 Feb 1994 21:52:25 -0800", 760686745, -28800 },
		{ "Wed, 2 Aug 2023 09:15 GMT", 1690967700, 0 },
		{ "1 Aug 23 08:00 EST", 1690894800, -18000 },
		/* RFC 5322 A.6.2: 2-digit year, odd zone, comments */
		{ "Thu,\n 13\n Feb\n 69\n 23:32\n :54\n -0330 (Newfoundland)",
		  -27723426, -12600 },
		{ "21 Nov 97 09:55:06 GMT", 880106106, 0 },
		{ "Fri, 21 Nov 1997 09:55:06 -0600 (MDT)", 880127706, -21600 },
		{ "29 Feb 2024 12:00:00 +0000", 1709208000, 0 },
		{ "Sat, 31 Dec 2016 23:59:60 +0000", 1483228800, 0 },
		{ "01-Jan-2000 00:00:00 +0100", 946681200, 3600 },
		{ "Tue, 1 Aug 2023 10:00:00 +0200", 1690876800, 7200 },
		{ "1 January 2050 0:00:00 UT", 2524608000LL, 0 },
		{ "  Sun, 1 Jan 2023 00:00:00", 1672531200, 0 },
		{ "1 Jan 2023 00:00:00 Z", 1672531200, 0 },
		{ "1 Jan 2023 00:00:00 PDT", 1672556400, -25200 },
		/* RFC 5322 4.3: military zones count as -0000 */
		{ "1 Jan 2023 00:00:00 A", 1672531200, 0 },
		{ "1 Jan 103 00:00:00 +0000", 1041379200, 0 },
	};
	static const char *const bad[] = {
		"", "garbage", "Mon,", "32 Jan 2020 10:00:00 +0000",
		"29 Feb 2023 10:00:00 +0000", "1 Foo 2020 10:00",
		"1 Jan 2020 25:00", "1 Jan 2020 10:60", "1 Jan 2020 10:00:61",
		"1 Jan 2020 10:00 +01", "1 Jan 2020 10:00 +0160",
		"1 Jan 2020", "1 Jan 20201 10:00", "0 Jan 2020 10:00",
		"1 Jan 0999 10:00", "123 Jan 2020 10:00",
	};

	for (size_t i = 0; i < ARRAY_SIZE(good); i++) {
		time_t t = 0;
		int tz = 1;
		bool ok = mime_parse_date(good[i].in, strlen(good[i].in), &t,
		    &tz);

		CHECK_MSG(ok && (long long)t == good[i].t && tz == good[i].tz,
		    "'%s': %d %lld %d", good[i].in, ok, (long long)t, tz);
	}
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		time_t t;

		CHECK_MSG(!mime_parse_date(bad[i], strlen(bad[i]), &t, NULL),
		    "'%s' parsed", bad[i]);
	}
}

/* mime_crlf_copy at every skip and max, and the cursor at every chunk
 * size, against a plain conversion. */
static void
test_crlf_copy(void)
{
	static const char *const inputs[] = {
		"a\nbc\r\nd\n\ne", "\n", "\r\n", "\r", "abc", "\n\n\r\n\r\r\n",
		"x\ny\n", "",
	};

	for (size_t i = 0; i < ARRAY_SIZE(inputs); i++) {
		const char *in = inputs[i];
		size_t len = strlen(in), want_len;
		char *want = crlfify(in, len, &want_len);

		CHECK(mime_crlf_size(in, len) == want_len);
		for (size_t skip = 0; skip <= want_len + 1; skip++) {
			for (size_t max = 0; max <= want_len + 1; max++) {
				struct buf b;
				size_t n, exp = skip >= want_len ? 0 :
				    want_len - skip;

				if (exp > max)
					exp = max;
				buf_init(&b);
				buf_append(&b, "", 0);
				n = mime_crlf_copy(in, len, skip, max, &b);
				CHECK_MSG(n == exp && b.len == exp &&
				    memcmp(b.data, want + (skip < want_len ?
				    skip : want_len), exp) == 0,
				    "input %zu skip %zu max %zu", i, skip, max);
				buf_deinit(&b);
			}
		}
		for (size_t chunk = 1; chunk <= want_len + 1; chunk++) {
			struct mime_crlf_cursor cur;
			struct buf b;
			size_t n;

			buf_init(&b);
			buf_append(&b, "", 0);
			mime_crlf_seek(in, len, 0, &cur);
			while ((n = mime_crlf_next(in, len, &cur, chunk,
			    &b)) > 0)
				CHECK(n <= chunk);
			CHECK(b.len == want_len &&
			    memcmp(b.data, want, want_len) == 0);
			CHECK(cur.pos == want_len);
			buf_deinit(&b);
		}
		free(want);
	}
}

/* ---- random mutations ---- */

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t
rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static size_t parts_seen;

/* The invariants of a part spanning [start, end). */
static bool
check_part(const char *data, const struct mime_part *p, size_t start,
    size_t end, unsigned depth)
{
	bool ok = true;

	parts_seen++;
	ok &= p->hdr_off == start && p->hdr_off + p->hdr_len == p->body_off;
	ok &= p->body_off + p->body_len == end && end >= start;
	ok &= p->depth == depth && depth <= MIME_MAX_DEPTH;
	ok &= p->type != NULL && p->subtype != NULL;
	if (!ok)
		return false;
	ok &= p->hdr_size == mime_crlf_size(data + p->hdr_off, p->hdr_len);
	ok &= p->body_size == mime_crlf_size(data + p->body_off, p->body_len);
	ok &= p->hdr_size <= 2 * (uint64_t)p->hdr_len &&
	    p->body_size <= 2 * (uint64_t)p->body_len;
	ok &= p->body_lines <= p->body_len;
	if (p->flags & MIME_PART_MESSAGE) {
		ok &= p->nchildren == 1;
		if (ok)
			ok &= check_part(data, &p->children[0], p->body_off,
			    end, depth + 1);
	} else if (p->flags & MIME_PART_MULTIPART) {
		size_t at = p->body_off;

		ok &= p->nchildren >= 1;
		for (size_t i = 0; ok && i < p->nchildren; i++) {
			const struct mime_part *c = &p->children[i];

			ok &= c->hdr_off >= at && c->hdr_off <= end;
			if (!ok)
				break;
			ok &= check_part(data, c, c->hdr_off,
			    c->body_off + c->body_len, depth + 1);
			at = c->body_off + c->body_len;
			ok &= at <= end;
		}
	} else
		ok &= p->nchildren == 0;
	return ok;
}

static void
mutate(struct buf *b)
{
	static const char *const snippets[] = {
		"\n", "\r\n", "\r", "--", "--==outer==\n", "--alt--\n",
		"--b\n", "\n--d\n", "\n\n", "Content-Type: multipart/mixed; "
		"boundary=x\n\n--x\n", "Content-Type: message/rfc822\n\n",
		"=?utf-8?b?", "?=", "=?iso-8859-1?q?=E9", "(", ")", "\"", "<",
		">", ":", ";", ",", "@", "\\", "Content-Transfer-Encoding: "
		"base64\n", "=\n", "=4", "name*0*=utf-8''%E2", "*1=", "\0",
		"\xff", " ", "\t",
	};
	size_t n = 1 + rng() % 8;

	for (size_t i = 0; i < n; i++) {
		size_t at = b->len > 0 ? rng() % (b->len + 1) : 0;
		size_t span = b->len > at ? rng() % (b->len - at + 1) : 0;

		switch (rng() % 6) {
		case 0:
			if (at < b->len)
				b->data[at] = (char)rng();
			break;
		case 1: {
			const char *s = snippets[rng() % ARRAY_SIZE(snippets)];
			size_t sl = *s == '\0' ? 1 : strlen(s);
			struct buf t;

			buf_init(&t);
			buf_append(&t, b->data, at);
			buf_append(&t, s, sl);
			buf_append(&t, b->data + at, b->len - at);
			buf_deinit(b);
			*b = t;
			break;
		}
		case 2:
			span = span > 64 ? span % 64 : span;
			memmove(b->data + at, b->data + at + span,
			    b->len - at - span);
			b->len -= span;
			break;
		case 3: {
			struct buf t;

			span = span > 256 ? span % 256 : span;
			buf_init(&t);
			buf_append(&t, b->data, at + span);
			buf_append(&t, b->data + at, b->len - at);
			buf_deinit(b);
			*b = t;
			break;
		}
		case 4:
			if (rng() % 8 == 0)
				b->len = at;
			break;
		default:
			if (at < b->len)
				b->data[at] = "\n-\r=?:;\"("[rng() % 9];
			break;
		}
	}
}

static void
test_mutations(void)
{
	const int iterations = 3000;
	int bad = 0;

	for (int it = 0; it < iterations; it++) {
		const char *src = corpus[rng() % ARRAY_SIZE(corpus)];
		struct mime_part *root;
		struct buf b, out;
		uint32_t nums[3];
		size_t off, len;
		char needle[4];

		buf_init(&b);
		buf_init(&out);
		buf_append(&b, src, strlen(src));
		mutate(&b);
		/* exact size: ASan sees a read past the end */
		{
			char *exact = xmalloc(b.len > 0 ? b.len : 1);

			memcpy(exact, b.data, b.len);
			len = b.len;
			buf_deinit(&b);
			b.data = exact;
			b.len = b.cap = len;
		}
		parts_seen = 0;
		root = mime_parse(b.data, b.len);
		if (!check_part(b.data, root, 0, b.len, 0) ||
		    parts_seen > MIME_MAX_PARTS)
			bad++;
		mime_envelope(b.data, root, &out);
		mime_bodystructure(b.data, root, true, &out);
		mime_bodystructure(b.data, root, false, &out);
		for (int k = 0; k < 8; k++) {
			size_t n = rng() % 4;

			for (size_t j = 0; j < n; j++)
				nums[j] = (uint32_t)(rng() % 4);
			if (mime_section(root, nums, n, (int)(rng() % 6), &off,
			    &len) && (off > b.len || len > b.len - off))
				bad++;
		}
		buf_reset(&out);
		mime_header_fields(b.data, root->hdr_len,
		    (const char *const[]){ "subject", "to" }, 2,
		    rng() & 1, &out);
		if (b.len >= 3) {
			size_t at = rng() % (b.len - 2);

			memcpy(needle, b.data + at, 3);
			needle[3] = '\0';
			(void)mime_search_text(b.data, b.len, root, needle,
			    rng() & 1);
			/* a needle taken from a plain text body is found */
		}
		{
			uint64_t total = mime_crlf_size(b.data, b.len);
			uint64_t skip = rng() % (total + 2);
			size_t max = (size_t)(rng() % 300), n;

			buf_reset(&out);
			n = mime_crlf_copy(b.data, b.len, skip, max, &out);
			if (n > max || (skip < total && n != (total - skip <
			    max ? total - skip : max)) || out.len != n)
				bad++;
		}
		mime_free(root);
		buf_deinit(&out);
		free(b.data);
	}
	CHECK_MSG(bad == 0, "%d mutated messages broke an invariant", bad);
}

/* Many parts: capped, and the count stays linear. */
static void
test_many_parts(void)
{
	struct buf b;
	struct mime_part *root;

	buf_init(&b);
	buf_append_str(&b, "Content-Type: multipart/mixed; boundary=b\n\n");
	for (int i = 0; i < MIME_MAX_PARTS + 10; i++)
		buf_append_str(&b, "--b\n\nx\n");
	root = mime_parse(b.data, b.len);
	/* over the cap: the multipart is shown as text */
	CHECK(root->nchildren == 0 && ieq(root->type, "text"));
	mime_free(root);
	buf_reset(&b);
	buf_append_str(&b, "Content-Type: multipart/mixed; boundary=b\n\n");
	for (int i = 0; i < 5000; i++)
		buf_append_str(&b, "--b\n\nx\n");
	root = mime_parse(b.data, b.len);
	CHECK(root->nchildren == 5000);
	mime_free(root);
	buf_deinit(&b);
}

int
main(void)
{
	test_simple();
	test_simple_header();
	test_mixed_structure();
	test_mixed_sections();
	test_header_fields();
	test_header_get();
	test_header_each();
	test_search();
	test_unclosed();
	test_digest();
	test_rfc822_root();
	test_addresses();
	test_params();
	test_words();
	test_tolerance();
	test_depth();
	test_crlf_vs_lf();
	test_dates();
	test_crlf_copy();
	test_many_parts();
	test_mutations();
	return t_done("mime");
}
