/*
 * test_smtp_parser.c: RFC cases for the SMTP line reader, command parser,
 * DATA reader and BDAT converter. Every stream is fed whole, byte by byte
 * and at every two-chunk split, and must give the same result each time.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/util.h"
#include "smtp/smtp_parser.h"
#include "t.h"

/* A string literal that may hold NUL: pointer and length. */
#define L(s) (s), (sizeof(s) - 1)
/* 64 octets: the longest local part and label (RFC 5321 4.5.3.1.1). */
#define A64 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" \
	"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"

/* ---- Transcripts ---- */

struct tbuf {
	char s[32768];
	size_t len;
};

static void
tb_reset(struct tbuf *t)
{
	t->len = 0;
	t->s[0] = '\0';
}

static void
tb_add(struct tbuf *t, const char *s, size_t n)
{
	if (n > sizeof(t->s) - 1 - t->len)
		n = sizeof(t->s) - 1 - t->len;
	memcpy(t->s + t->len, s, n);
	t->len += n;
	t->s[t->len] = '\0';
}

static void
tb_str(struct tbuf *t, const char *s)
{
	tb_add(t, s, strlen(s));
}

static void
tb_num(struct tbuf *t, uint64_t v)
{
	char n[32];

	if (str_printf(n, sizeof(n), "%llu", (unsigned long long)v) > 0)
		tb_str(t, n);
}

/* Control bytes and backslash escaped, so a transcript is one C string. */
static void
tb_esc(struct tbuf *t, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		char e[8];

		if (c == '\r')
			tb_str(t, "\\r");
		else if (c == '\n')
			tb_str(t, "\\n");
		else if (c == '\\')
			tb_str(t, "\\\\");
		else if (c < 0x20 || c == 0x7f) {
			if (str_printf(e, sizeof(e), "\\x%02x", c) > 0)
				tb_str(t, e);
		} else
			tb_add(t, (const char *)&c, 1);
	}
}

/* ---- Chunk plans ---- */

enum plan_kind { PLAN_WHOLE, PLAN_BYTES, PLAN_SPLIT };

/* Writes the chunk boundaries of a plan into b (room for n + 3); returns
 * how many there are (first 0, last n). */
static size_t
plan_bounds(enum plan_kind kind, size_t k, size_t n, size_t *b)
{
	size_t m = 0;

	b[m++] = 0;
	switch (kind) {
	case PLAN_WHOLE:
		break;
	case PLAN_BYTES:
		for (size_t i = 1; i < n; i++)
			b[m++] = i;
		break;
	case PLAN_SPLIT:
		b[m++] = k;	/* k == 0 feeds an empty first chunk */
		break;
	}
	if (n > 0 || kind == PLAN_SPLIT)
		b[m++] = n;
	return m;
}

/* ---- Line reader ---- */

/*
 * Feeds in[0..n) to a fresh line reader following a plan and writes a
 * transcript: "OK[text]", "LF[text]" or "LONG" per line, comma-separated
 * (lines over 40 octets as "OK#len"). Also checks the per-call contract.
 */
static void
line_run(const char *in, size_t n, enum plan_kind kind, size_t k,
    struct tbuf *t, bool *contract_ok)
{
	static struct smtp_line l;
	size_t *b = xcalloc(n + 3, sizeof(*b));
	size_t m = plan_bounds(kind, k, n, b);

	tb_reset(t);
	smtp_line_init(&l);
	for (size_t c = 0; c + 1 < m; c++) {
		size_t pos = b[c], end = b[c + 1];

		do {
			size_t used = 999999;
			enum smtp_line_result r;

			r = smtp_line_feed(&l, in + pos, end - pos, &used);
			if (used > end - pos || (used == 0 && end > pos) ||
			    (r == SMTP_LINE_MORE && used != end - pos)) {
				*contract_ok = false;
				break;
			}
			pos += used;
			if (r == SMTP_LINE_MORE)
				continue;
			if (t->len > 0)
				tb_str(t, ",");
			if (r == SMTP_LINE_TOO_LONG) {
				tb_str(t, "LONG");
				continue;
			}
			if (l.len > SMTP_LINE_MAX || l.buf[l.len] != '\0') {
				*contract_ok = false;
				break;
			}
			tb_str(t, r == SMTP_LINE_OK ? "OK" : "LF");
			if (l.len > 40) {
				tb_str(t, "#");
				tb_num(t, l.len);
			} else {
				tb_str(t, "[");
				tb_esc(t, l.buf, l.len);
				tb_str(t, "]");
			}
		} while (pos < end);
	}
	free(b);
}

/* Runs every plan and compares each transcript with expect. */
static bool
line_check_all(const char *in, size_t n, const char *expect,
    const char *rfc)
{
	static struct tbuf t;
	bool contract_ok = true, same = true;

	line_run(in, n, PLAN_WHOLE, 0, &t, &contract_ok);
	CHECK_MSG(strcmp(t.s, expect) == 0, "%s: whole: got '%s' want '%s'",
	    rfc, t.s, expect);
	line_run(in, n, PLAN_BYTES, 0, &t, &contract_ok);
	CHECK_MSG(strcmp(t.s, expect) == 0,
	    "%s: byte by byte: got '%s' want '%s'", rfc, t.s, expect);
	for (size_t k = 0; k <= n && same; k++) {
		line_run(in, n, PLAN_SPLIT, k, &t, &contract_ok);
		if (strcmp(t.s, expect) != 0) {
			CHECK_MSG(false, "%s: split at %zu: got '%s' want '%s'",
			    rfc, k, t.s, expect);
			same = false;
		}
	}
	if (same)
		CHECK(same);
	CHECK_MSG(contract_ok, "%s: feed contract", rfc);
	return same;
}

struct line_case {
	const char *rfc;
	const char *in;
	size_t len;
	const char *expect;
};

static const struct line_case line_cases[] = {
	{ "RFC 5321 2.3.8 CRLF ends a line",
	  L("EHLO a.example\r\n"), "OK[EHLO a.example]" },
	{ "RFC 5321 2.3.8 empty line",
	  L("\r\n"), "OK[]" },
	{ "RFC 5321 2.3.8 bare LF",
	  L("EHLO a\n"), "LF[EHLO a]" },
	{ "RFC 5321 2.3.8 bare LF alone",
	  L("\n"), "LF[]" },
	{ "RFC 5321 2.3.8 bare LF, then a good line",
	  L("a\nNOOP\r\n"), "LF[a],OK[NOOP]" },
	{ "RFC 5321 2.3.8 CR inside a line is kept",
	  L("NO\rOP\r\n"), "OK[NO\\rOP]" },
	{ "RFC 5321 2.3.8 CR CR LF keeps one CR",
	  L("NOOP\r\r\n"), "OK[NOOP\\r]" },
	{ "RFC 5321 2.3.8 CR before a bare LF elsewhere",
	  L("a\rb\n"), "LF[a\\rb]" },
	{ "RFC 5321 4.1.1 NUL kept for the parser to refuse",
	  L("NO\0OP\r\n"), "OK[NO\\x00OP]" },
	{ "RFC 2920 3.1 pipelined commands",
	  L("MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n"),
	  "OK[MAIL FROM:<a@b>],OK[RCPT TO:<c@d>],OK[DATA]" },
	{ "RFC 5321 2.3.8 unterminated line waits",
	  L("NOOP"), "" },
	{ "RFC 5321 2.3.8 trailing CR waits",
	  L("NOOP\r"), "" },
	{ "RFC 5321 2.3.8 no input",
	  L(""), "" },
};

static void
test_line_table(void)
{
	for (size_t i = 0; i < ARRAY_SIZE(line_cases); i++) {
		const struct line_case *c = &line_cases[i];

		line_check_all(c->in, c->len, c->expect, c->rfc);
	}
}

/* Builds fill * 'a' + tail into a fresh buffer. */
static char *
make_long(size_t fill, const char *tail, size_t tlen, size_t *len_r)
{
	char *s = xmalloc(fill + tlen + 1);

	memset(s, 'a', fill);
	memcpy(s + fill, tail, tlen);
	s[fill + tlen] = '\0';
	*len_r = fill + tlen;
	return s;
}

static void
test_line_long(void)
{
	/* RFC 5321 4.5.3.1.4: the limit counts the CRLF. */
	const size_t max = SMTP_LINE_MAX - 2;
	struct {
		const char *rfc;
		size_t fill;
		const char *tail;
		size_t tlen;
		const char *expect;
	} rows[] = {
		{ "RFC 5321 4.5.3.1.4 longest line", max, L("\r\n"),
		  "OK#2046" },
		{ "RFC 5321 4.5.3.1.4 one octet over", max + 1,
		  L("\r\nNOOP\r\n"), "LONG,OK[NOOP]" },
		{ "RFC 5321 4.5.3.1.4 far over, bare LF end", 3 * max,
		  L("\nNOOP\r\n"), "LONG,OK[NOOP]" },
		{ "RFC 5321 4.5.3.1.4 CR kept in the line makes it long",
		  max, L("\rx\r\nQUIT\r\n"), "LONG,OK[QUIT]" },
		{ "RFC 5321 4.5.3.1.4 CR CR LF at the limit", max,
		  L("\r\r\nQUIT\r\n"), "LONG,OK[QUIT]" },
		{ "RFC 5321 4.5.3.1.4 CR inside, at the limit", max - 2,
		  L("\rx\r\n"), "OK#2046" },
		{ "RFC 5321 4.5.3.1.4 longest line, bare LF", max,
		  L("\n"), "LF#2046" },
	};

	for (size_t i = 0; i < ARRAY_SIZE(rows); i++) {
		size_t n;
		char *s = make_long(rows[i].fill, rows[i].tail, rows[i].tlen,
		    &n);

		line_check_all(s, n, rows[i].expect, rows[i].rfc);
		free(s);
	}
}

static void
test_line_api(void)
{
	static struct smtp_line l;
	const char in[] = "NOOP\r\nQUIT\r\n";
	size_t used = 0;
	enum smtp_line_result r;
	char *s;
	size_t n;

	/* RFC 2920 3.1: one line per call; the rest waits in the input. */
	smtp_line_init(&l);
	r = smtp_line_feed(&l, in, sizeof(in) - 1, &used);
	CHECK(r == SMTP_LINE_OK);
	CHECK(used == 6);
	CHECK(l.len == 4);
	CHECK_STREQ(l.buf, "NOOP");
	r = smtp_line_feed(&l, in + used, sizeof(in) - 1 - used, &used);
	CHECK(r == SMTP_LINE_OK);
	CHECK(used == 6);
	CHECK_STREQ(l.buf, "QUIT");
	/* A call with no bytes starts the next line and waits. */
	r = smtp_line_feed(&l, in, 0, &used);
	CHECK(r == SMTP_LINE_MORE);
	CHECK(used == 0);
	CHECK(l.len == 0);

	/* RFC 5321 4.5.3.1.4: TOO_LONG consumes through the LF only. */
	s = make_long(SMTP_LINE_MAX * 2, L("\r\nNOOP\r\n"), &n);
	smtp_line_init(&l);
	r = smtp_line_feed(&l, s, n, &used);
	CHECK(r == SMTP_LINE_TOO_LONG);
	CHECK(used == SMTP_LINE_MAX * 2 + 2);
	CHECK(l.len <= SMTP_LINE_MAX);
	r = smtp_line_feed(&l, s + used, n - used, &used);
	CHECK(r == SMTP_LINE_OK);
	CHECK_STREQ(l.buf, "NOOP");
	free(s);
}

/* Every string over a small alphabet gives one transcript for all plans. */
static void
test_line_exhaustive(void)
{
	static const char alpha[] = { '\r', '\n', 'a', '\0' };
	static struct tbuf want, got;
	bool same = true, contract_ok = true;
	char in[8];

	for (size_t n = 0; n <= 7; n++) {
		size_t total = 1;

		for (size_t i = 0; i < n; i++)
			total *= ARRAY_SIZE(alpha);
		for (size_t x = 0; x < total && same; x++) {
			size_t v = x;

			for (size_t i = 0; i < n; i++) {
				in[i] = alpha[v % ARRAY_SIZE(alpha)];
				v /= ARRAY_SIZE(alpha);
			}
			line_run(in, n, PLAN_WHOLE, 0, &want, &contract_ok);
			line_run(in, n, PLAN_BYTES, 0, &got, &contract_ok);
			same = strcmp(want.s, got.s) == 0;
			for (size_t k = 0; k <= n && same; k++) {
				line_run(in, n, PLAN_SPLIT, k, &got,
				    &contract_ok);
				same = strcmp(want.s, got.s) == 0;
			}
		}
	}
	CHECK_MSG(same, "line reader: chunking changed '%s' to '%s'", want.s,
	    got.s);
	CHECK(contract_ok);
}

/* ---- Command parser ---- */

struct cmd_case {
	const char *rfc;
	const char *line;
	size_t len;
	int rc;
	enum smtp_verb verb;
	const char *verb_text;	/* NULL: not checked */
	const char *arg;	/* NULL: not checked */
	const char *path;	/* on success: NULL means cmd.path == NULL */
	bool utf8;
	const char *params;	/* on success: "KEY=VALUE KEY ..." */
	uint64_t bdat_size;
	bool bdat_last;
	const char *error;	/* on failure: the expected reply prefix */
};

static const struct cmd_case cmd_cases[] = {
	/* Verbs, HELO and EHLO */
	{ "RFC 5321 4.1.1.1 EHLO", L("EHLO mx.example.org"),
	  .verb = SMTP_VERB_EHLO, .verb_text = "EHLO",
	  .arg = "mx.example.org" },
	{ "RFC 5321 4.1.1.1 HELO", L("HELO mx"),
	  .verb = SMTP_VERB_HELO, .arg = "mx" },
	{ "RFC 5321 2.4 verbs are case-insensitive", L("eHlO mx"),
	  .verb = SMTP_VERB_EHLO, .verb_text = "eHlO", .arg = "mx" },
	{ "RFC 5321 4.1.1.1 EHLO without argument (server refuses)",
	  L("EHLO"), .verb = SMTP_VERB_EHLO, .arg = "" },
	{ "RFC 5321 4.1.1.1 address literal argument",
	  L("EHLO [192.0.2.1]"), .verb = SMTP_VERB_EHLO,
	  .arg = "[192.0.2.1]" },
	{ "RFC 5321 4.1.1.4 DATA", L("DATA"), .verb = SMTP_VERB_DATA,
	  .arg = "" },
	{ "RFC 5321 4.1.1.5 RSET", L("RSET"), .verb = SMTP_VERB_RSET },
	{ "RFC 5321 4.1.1.9 NOOP with argument", L("NOOP hello there"),
	  .verb = SMTP_VERB_NOOP, .arg = "hello there" },
	{ "RFC 5321 4.1.1.9 trailing spaces dropped", L("NOOP   "),
	  .verb = SMTP_VERB_NOOP, .arg = "" },
	{ "RFC 5321 4.1.1.10 QUIT", L("quit"), .verb = SMTP_VERB_QUIT },
	{ "RFC 5321 4.1.1.6 VRFY", L("VRFY user"), .verb = SMTP_VERB_VRFY,
	  .arg = "user" },
	{ "RFC 5321 4.1.1.7 EXPN", L("EXPN list"), .verb = SMTP_VERB_EXPN },
	{ "RFC 5321 4.1.1.8 HELP", L("HELP"), .verb = SMTP_VERB_HELP },
	{ "RFC 3207 4 STARTTLS", L("STARTTLS"),
	  .verb = SMTP_VERB_STARTTLS, .verb_text = "STARTTLS" },
	{ "RFC 4954 4 AUTH", L("AUTH PLAIN AGFAYg=="),
	  .verb = SMTP_VERB_AUTH, .arg = "PLAIN AGFAYg==" },
	{ "RFC 5321 4.2.4 unknown verb", L("XYZZY plugh"),
	  .verb = SMTP_VERB_UNKNOWN, .verb_text = "XYZZY", .arg = "plugh" },
	{ "RFC 5321 4.2.4 HTTP request", L("GET / HTTP/1.1"),
	  .verb = SMTP_VERB_UNKNOWN, .verb_text = "GET",
	  .arg = "/ HTTP/1.1" },
	{ "RFC 5321 4.2.4 empty line", L(""), .verb = SMTP_VERB_UNKNOWN,
	  .verb_text = "", .arg = "" },
	{ "RFC 5321 4.2.4 verb prefix is unknown", L("MAILX FROM:<a@b>"),
	  .verb = SMTP_VERB_UNKNOWN, .verb_text = "MAILX" },
	{ "RFC 5321 4.2.4 verb_text truncated",
	  L("ABCDEFGHIJKLMNOPQRSTUVWXYZ x"), .verb = SMTP_VERB_UNKNOWN,
	  .verb_text = "ABCDEFGHIJKLMNO", .arg = "x" },

	/* MAIL FROM */
	{ "RFC 5321 4.1.1.2 MAIL FROM", L("MAIL FROM:<a@b>"),
	  .verb = SMTP_VERB_MAIL, .arg = "FROM:<a@b>", .path = "a@b",
	  .params = "" },
	{ "RFC 1870 / 6152 / 6531 MAIL FROM with parameters",
	  L("MAIL FROM:<a@b> SIZE=123 BODY=8BITMIME SMTPUTF8"),
	  .verb = SMTP_VERB_MAIL, .path = "a@b",
	  .params = "SIZE=123 BODY=8BITMIME SMTPUTF8",
	  .arg = "FROM:<a@b> SIZE=123 BODY=8BITMIME SMTPUTF8" },
	{ "RFC 5321 4.1.1.2 null reverse-path", L("MAIL FROM:<>"),
	  .verb = SMTP_VERB_MAIL, .path = "" },
	{ "RFC 5321 4.1.1.2 null reverse-path with SIZE",
	  L("MAIL FROM:<> SIZE=0"), .verb = SMTP_VERB_MAIL, .path = "",
	  .params = "SIZE=0" },
	{ "RFC 5321 2.4 lower-case mail from:", L("mail from:<a@b>"),
	  .verb = SMTP_VERB_MAIL, .path = "a@b" },
	{ "RFC 5321 4.1.1.2 space after colon tolerated",
	  L("MAIL FROM: <a@b>"), .verb = SMTP_VERB_MAIL, .path = "a@b" },
	{ "RFC 5321 4.1.2 parameter keys upper-cased",
	  L("MAIL FROM:<a@b> size=10 body=7BIT"), .verb = SMTP_VERB_MAIL,
	  .path = "a@b", .params = "SIZE=10 BODY=7BIT" },
	{ "RFC 5321 4.1.2 parameters separated by runs of spaces",
	  L("MAIL FROM:<a@b>  SIZE=1   SMTPUTF8 "), .verb = SMTP_VERB_MAIL,
	  .path = "a@b", .params = "SIZE=1 SMTPUTF8" },
	{ "RFC 4954 5 AUTH=<> parameter",
	  L("MAIL FROM:<a@b> AUTH=<>"), .verb = SMTP_VERB_MAIL,
	  .path = "a@b", .params = "AUTH=<>" },
	{ "RFC 3461 4.4 ENVID xtext", L("MAIL FROM:<a@b> ENVID=x+3Dy RET=HDRS"),
	  .verb = SMTP_VERB_MAIL, .path = "a@b",
	  .params = "ENVID=x+3Dy RET=HDRS" },
	{ "RFC 5321 4.1.1.2 space before colon refused",
	  L("MAIL FROM :<a@b>"), .rc = -1, .verb = SMTP_VERB_MAIL,
	  .error = "501 5.5.4" },
	{ "RFC 5321 4.1.1.2 missing brackets refused", L("MAIL FROM:a@b"),
	  .rc = -1, .verb = SMTP_VERB_MAIL, .error = "501 5.5.4" },
	{ "RFC 5321 4.1.1.2 missing closing bracket", L("MAIL FROM:<a@b"),
	  .rc = -1, .verb = SMTP_VERB_MAIL, .error = "501 5.5.4" },
	{ "RFC 5321 4.1.1.2 no argument", L("MAIL"), .rc = -1,
	  .verb = SMTP_VERB_MAIL, .error = "501 5.5.4" },
	{ "RFC 5321 4.1.1.2 no path", L("MAIL FROM:"), .rc = -1,
	  .verb = SMTP_VERB_MAIL, .error = "501 5.5.4" },
	{ "RFC 5321 4.1.1.2 MAIL TO: refused", L("MAIL TO:<a@b>"),
	  .rc = -1, .verb = SMTP_VERB_MAIL, .error = "501 5.5.4" },
	{ "RFC 5321 4.1.1.2 two spaces after the verb",
	  L("MAIL  FROM:<a@b>"), .rc = -1, .verb = SMTP_VERB_MAIL,
	  .error = "501 5.5.4" },
	{ "RFC 5321 4.1.2 no space before a parameter",
	  L("MAIL FROM:<a@b>SIZE=1"), .rc = -1, .verb = SMTP_VERB_MAIL,
	  .error = "501 5.5.4" },
	{ "RFC 5321 4.5.1 MAIL FROM:<postmaster> needs a domain",
	  L("MAIL FROM:<postmaster>"), .rc = -1, .verb = SMTP_VERB_MAIL,
	  .error = "501 5.1.7" },

	/* RCPT TO */
	{ "RFC 5321 4.1.1.3 RCPT TO", L("RCPT TO:<user@example.com>"),
	  .verb = SMTP_VERB_RCPT, .path = "user@example.com" },
	{ "RFC 5321 4.5.1 RCPT TO:<postmaster>", L("RCPT TO:<postmaster>"),
	  .verb = SMTP_VERB_RCPT, .path = "postmaster" },
	{ "RFC 5321 4.5.1 <Postmaster> is case-insensitive",
	  L("rcpt to:<PostMaster>"), .verb = SMTP_VERB_RCPT,
	  .path = "PostMaster" },
	{ "RFC 5321 4.1.2 source route dropped",
	  L("RCPT TO:<@a,@b:u@c>"), .verb = SMTP_VERB_RCPT, .path = "u@c" },
	{ "RFC 5321 4.1.2 one-hop source route",
	  L("RCPT TO:<@relay.example:u@c.example>"), .verb = SMTP_VERB_RCPT,
	  .path = "u@c.example" },
	{ "RFC 3461 4.2 NOTIFY and ORCPT",
	  L("RCPT TO:<u@c> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;u@c"),
	  .verb = SMTP_VERB_RCPT, .path = "u@c",
	  .params = "NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;u@c" },
	{ "RFC 5321 4.1.1.3 no null forward-path", L("RCPT TO:<>"),
	  .rc = -1, .verb = SMTP_VERB_RCPT, .error = "501 5.1.3" },
	{ "RFC 5321 4.1.1.3 RCPT FROM: refused", L("RCPT FROM:<a@b>"),
	  .rc = -1, .verb = SMTP_VERB_RCPT, .error = "501 5.5.4" },
	{ "RFC 5321 4.1.1.3 space before colon refused",
	  L("RCPT TO :<a@b>"), .rc = -1, .verb = SMTP_VERB_RCPT,
	  .error = "501 5.5.4" },
	{ "RFC 5321 4.1.2 source route without mailbox",
	  L("RCPT TO:<@a,@b>"), .rc = -1, .verb = SMTP_VERB_RCPT,
	  .error = "501 5.1.3" },
	{ "RFC 5321 4.1.2 source route hop without @",
	  L("RCPT TO:<@a,b:u@c>"), .rc = -1, .verb = SMTP_VERB_RCPT,
	  .error = "501 5.1.3" },
	{ "RFC 5321 4.1.2 source route, empty mailbox",
	  L("RCPT TO:<@a:>"), .rc = -1, .verb = SMTP_VERB_RCPT,
	  .error = "501 5.1.3" },
	{ "RFC 5321 4.5.1 postmaster after a source route",
	  L("RCPT TO:<@a:postmaster>"), .rc = -1, .verb = SMTP_VERB_RCPT,
	  .error = "501 5.1.3" },

	/* Mailbox syntax */
	{ "RFC 5321 4.1.2 Quoted-string local part",
	  L("MAIL FROM:<\"a b\"@example.com>"), .verb = SMTP_VERB_MAIL,
	  .path = "\"a b\"@example.com" },
	{ "RFC 5321 4.1.2 quoted-pair in a local part",
	  L("RCPT TO:<\"a\\\"b\"@example.com>"), .verb = SMTP_VERB_RCPT,
	  .path = "\"a\\\"b\"@example.com" },
	{ "RFC 5321 4.1.2 '>' inside quotes",
	  L("RCPT TO:<\"a>b\"@example.com> NOTIFY=NEVER"),
	  .verb = SMTP_VERB_RCPT, .path = "\"a>b\"@example.com",
	  .params = "NOTIFY=NEVER" },
	{ "RFC 5321 4.1.2 atext specials",
	  L("RCPT TO:<a.b+c=d/e!#$%&'*-?^_`{|}~@x.y>"),
	  .verb = SMTP_VERB_RCPT, .path = "a.b+c=d/e!#$%&'*-?^_`{|}~@x.y" },
	{ "RFC 5321 4.1.3 IPv4 address literal",
	  L("RCPT TO:<a@[192.0.2.1]>"), .verb = SMTP_VERB_RCPT,
	  .path = "a@[192.0.2.1]" },
	{ "RFC 5321 4.1.3 IPv6 address literal",
	  L("RCPT TO:<a@[IPv6:2001:db8::1]>"), .verb = SMTP_VERB_RCPT,
	  .path = "a@[IPv6:2001:db8::1]" },
	{ "RFC 5321 4.5.3.1.1 64-octet local part",
	  L("RCPT TO:<" A64 "@b>"), .verb = SMTP_VERB_RCPT,
	  .path = A64 "@b" },
	{ "RFC 5321 4.5.3.1.1 65-octet local part",
	  L("RCPT TO:<" A64 "a@b>"),
	  .rc = -1, .verb = SMTP_VERB_RCPT, .error = "501 5.1.3" },
	{ "RFC 1035 2.3.4 64-octet label",
	  L("RCPT TO:<a@" A64 ".c>"),
	  .rc = -1, .verb = SMTP_VERB_RCPT, .error = "501 5.1.3" },
	{ "RFC 5321 4.1.2 a@ refused", L("RCPT TO:<a@>"), .rc = -1,
	  .verb = SMTP_VERB_RCPT, .error = "501 5.1.3" },
	{ "RFC 5321 4.1.2 @b refused", L("RCPT TO:<@b>"), .rc = -1,
	  .verb = SMTP_VERB_RCPT, .error = "501 5.1.3" },
	{ "RFC 5321 4.1.2 a@@b refused", L("RCPT TO:<a@@b>"), .rc = -1,
	  .verb = SMTP_VERB_RCPT, .error = "501 5.1.3" },
	{ "RFC 5321 4.1.2 a..b@c refused", L("MAIL FROM:<a..b@c>"),
	  .rc = -1, .verb = SMTP_VERB_MAIL, .error = "501 5.1.7" },
	{ "RFC 5321 4.1.2 leading dot refused", L("RCPT TO:<.a@b>"),
	  .rc = -1, .verb = SMTP_VERB_RCPT, .error = "501 5.1.3" },
	{ "RFC 5321 4.1.2 trailing dot refused", L("RCPT TO:<a.@b>"),
	  .rc = -1, .verb = SMTP_VERB_RCPT, .error = "501 5.1.3" },
	{ "RFC 5321 4.1.2 no @ refused", L("RCPT TO:<ab>"), .rc = -1,
	  .verb = SMTP_VERB_RCPT, .error = "501 5.1.3" },
	{ "RFC 5321 4.1.2 domain with trailing dot", L("RCPT TO:<a@b.>"),
	  .rc = -1, .verb = SMTP_VERB_RCPT, .error = "501 5.1.3" },
	{ "RFC 5321 4.1.2 empty label", L("RCPT TO:<a@b..c>"), .rc = -1,
	  .verb = SMTP_VERB_RCPT, .error = "501 5.1.3" },
	{ "RFC 5321 4.1.2 label starting with '-'", L("RCPT TO:<a@-b.c>"),
	  .rc = -1, .verb = SMTP_VERB_RCPT, .error = "501 5.1.3" },
	{ "RFC 5321 4.1.2 label ending with '-'", L("RCPT TO:<a@b-.c>"),
	  .rc = -1, .verb = SMTP_VERB_RCPT, .error = "501 5.1.3" },
	{ "RFC 5321 4.1.2 '_' in a domain", L("RCPT TO:<a@b_c.d>"),
	  .rc = -1, .verb = SMTP_VERB_RCPT, .error = "501 5.1.3" },
	{ "RFC 5321 4.1.2 space in a local part", L("RCPT TO:<a b@c>"),
	  .rc = -1, .verb = SMTP_VERB_RCPT, .error = "501 5.1.3" },
	{ "RFC 5321 4.1.2 unbalanced quote", L("RCPT TO:<\"ab@example.com>"),
	  .rc = -1, .verb = SMTP_VERB_RCPT, .error = "501 5.1.3" },
	{ "RFC 5321 4.1.2 quote inside a dot-string",
	  L("RCPT TO:<a\"b@example.com>"), .rc = -1, .verb = SMTP_VERB_RCPT,
	  .error = "501" },
	{ "RFC 5321 4.1.2 text after the closing quote",
	  L("RCPT TO:<\"a\"b@example.com>"), .rc = -1,
	  .verb = SMTP_VERB_RCPT, .error = "501 5.1.3" },
	{ "RFC 5321 4.1.2 quoted-pair at the end of a quote",
	  L("RCPT TO:<\"a\\\"@example.com>"), .rc = -1,
	  .verb = SMTP_VERB_RCPT, .error = "501 5.1.3" },
	{ "RFC 5321 4.1.3 bad IPv4 literal", L("RCPT TO:<a@[300.1.1.1]>"),
	  .rc = -1, .verb = SMTP_VERB_RCPT, .error = "501 5.1.3" },
	{ "RFC 5321 4.1.3 short IPv4 literal", L("RCPT TO:<a@[1.2.3]>"),
	  .rc = -1, .verb = SMTP_VERB_RCPT, .error = "501 5.1.3" },
	{ "RFC 5321 4.1.3 bad IPv6 literal", L("RCPT TO:<a@[IPv6:zz::1]>"),
	  .rc = -1, .verb = SMTP_VERB_RCPT, .error = "501 5.1.3" },
	{ "RFC 5321 4.1.3 unclosed literal", L("RCPT TO:<a@[1.2.3.4>"),
	  .rc = -1, .verb = SMTP_VERB_RCPT, .error = "501 5.1.3" },

	/* UTF-8 (RFC 6531) */
	{ "RFC 6531 3.3 UTF-8 local part and domain",
	  L("MAIL FROM:<\xe7\x94\xa8\xe6\x88\xb7@\xe4\xbe\x8b\xe5\xad\x90."
	    "\xe5\xb9\xbf\xe5\x91\x8a> SMTPUTF8"),
	  .verb = SMTP_VERB_MAIL,
	  .path = "\xe7\x94\xa8\xe6\x88\xb7@\xe4\xbe\x8b\xe5\xad\x90."
	    "\xe5\xb9\xbf\xe5\x91\x8a",
	  .utf8 = true, .params = "SMTPUTF8" },
	{ "RFC 6531 3.3 UTF-8 local part",
	  L("RCPT TO:<jos\xc3\xa9@example.com>"),
	  .verb = SMTP_VERB_RCPT, .path = "jos\xc3\xa9@example.com",
	  .utf8 = true },
	{ "RFC 6531 3.3 UTF-8 in a quoted local part",
	  L("RCPT TO:<\"\xc3\xa9 x\"@example.com>"), .verb = SMTP_VERB_RCPT,
	  .path = "\"\xc3\xa9 x\"@example.com", .utf8 = true },
	{ "RFC 6531 3.3 ASCII path is not UTF-8", L("RCPT TO:<a@b>"),
	  .verb = SMTP_VERB_RCPT, .path = "a@b", .utf8 = false },
	{ "RFC 3629 3 invalid byte 0xff", L("RCPT TO:<a\xff@b>"),
	  .rc = -1, .verb = SMTP_VERB_RCPT, .error = "501 5.1.3" },
	{ "RFC 3629 3 overlong '/'", L("RCPT TO:<a\xc0\xaf@b>"),
	  .rc = -1, .verb = SMTP_VERB_RCPT, .error = "501 5.1.3" },
	{ "RFC 3629 3 surrogate", L("RCPT TO:<a\xed\xa0\x80@b>"),
	  .rc = -1, .verb = SMTP_VERB_RCPT, .error = "501 5.1.3" },
	{ "RFC 3629 3 truncated sequence", L("RCPT TO:<a@b\xc3>"),
	  .rc = -1, .verb = SMTP_VERB_RCPT, .error = "501 5.1.3" },
	{ "RFC 3629 3 above U+10FFFF", L("RCPT TO:<a\xf4\x90\x80\x80@b>"),
	  .rc = -1, .verb = SMTP_VERB_RCPT, .error = "501 5.1.3" },

	/* Parameters */
	{ "RFC 5321 4.1.2 esmtp-keyword must start alphanumeric",
	  L("MAIL FROM:<a@b> -X=1"), .rc = -1, .verb = SMTP_VERB_MAIL,
	  .error = "501 5.5.4" },
	{ "RFC 5321 4.1.2 empty keyword", L("MAIL FROM:<a@b> =1"),
	  .rc = -1, .verb = SMTP_VERB_MAIL, .error = "501 5.5.4" },
	{ "RFC 5321 4.1.2 empty esmtp-value", L("MAIL FROM:<a@b> SIZE="),
	  .rc = -1, .verb = SMTP_VERB_MAIL, .error = "501 5.5.4" },
	{ "RFC 5321 4.1.2 '=' in esmtp-value", L("MAIL FROM:<a@b> A=b=c"),
	  .rc = -1, .verb = SMTP_VERB_MAIL, .error = "501 5.5.4" },
	{ "RFC 5321 4.1.2 bad keyword character",
	  L("MAIL FROM:<a@b> SI.ZE=1"), .rc = -1, .verb = SMTP_VERB_MAIL,
	  .error = "501 5.5.4" },
	{ "RFC 5321 4.1.2 duplicate parameter",
	  L("MAIL FROM:<a@b> SIZE=1 size=2"), .rc = -1,
	  .verb = SMTP_VERB_MAIL, .error = "501 5.5.4" },
	{ "RFC 5321 4.1.2 16 parameters",
	  L("MAIL FROM:<a@b> A B C D E F G H I J K L M N O P"),
	  .verb = SMTP_VERB_MAIL, .path = "a@b",
	  .params = "A B C D E F G H I J K L M N O P" },
	{ "RFC 5321 4.1.2 too many parameters",
	  L("MAIL FROM:<a@b> A B C D E F G H I J K L M N O P Q"), .rc = -1,
	  .verb = SMTP_VERB_MAIL, .error = "501 5.5.4" },

	/* Control characters */
	{ "RFC 5321 4.1.1 NUL byte refused", L("MAIL FROM:<a@b>\0"),
	  .rc = -1, .verb = SMTP_VERB_MAIL, .error = "500 5.5.2" },
	{ "RFC 5321 4.1.1 NUL in the verb", L("NO\0OP"), .rc = -1,
	  .verb = SMTP_VERB_UNKNOWN, .verb_text = "NO?OP",
	  .error = "500 5.5.2" },
	{ "RFC 5321 4.1.1 NUL inside a path", L("RCPT TO:<a\0@b>"),
	  .rc = -1, .verb = SMTP_VERB_RCPT, .error = "500 5.5.2" },
	{ "RFC 5321 2.3.8 CR inside a line", L("NO\rOP"), .rc = -1,
	  .error = "500 5.5.2" },
	{ "RFC 5321 4.1.1 TAB refused", L("MAIL\tFROM:<a@b>"), .rc = -1,
	  .error = "500 5.5.2" },
	{ "RFC 5321 4.1.1 DEL refused", L("EHLO a\x7f"), .rc = -1,
	  .verb = SMTP_VERB_EHLO, .error = "500 5.5.2" },

	/* BDAT */
	{ "RFC 3030 2 BDAT 100 LAST", L("BDAT 100 LAST"),
	  .verb = SMTP_VERB_BDAT, .bdat_size = 100, .bdat_last = true },
	{ "RFC 3030 2 BDAT 0 LAST", L("BDAT 0 LAST"),
	  .verb = SMTP_VERB_BDAT, .bdat_size = 0, .bdat_last = true },
	{ "RFC 3030 2 BDAT without LAST", L("BDAT 4096"),
	  .verb = SMTP_VERB_BDAT, .bdat_size = 4096, .bdat_last = false },
	{ "RFC 3030 2 case-insensitive last", L("bdat 7 last"),
	  .verb = SMTP_VERB_BDAT, .bdat_size = 7, .bdat_last = true },
	{ "RFC 3030 2 largest size", L("BDAT 18446744073709551615"),
	  .verb = SMTP_VERB_BDAT, .bdat_size = UINT64_MAX },
	{ "RFC 3030 2 BDAT x refused", L("BDAT x"), .rc = -1,
	  .verb = SMTP_VERB_BDAT, .error = "501 5.5.4" },
	{ "RFC 3030 2 BDAT without size", L("BDAT"), .rc = -1,
	  .verb = SMTP_VERB_BDAT, .error = "501 5.5.4" },
	{ "RFC 3030 2 BDAT LAST without size", L("BDAT LAST"), .rc = -1,
	  .verb = SMTP_VERB_BDAT, .error = "501 5.5.4" },
	{ "RFC 3030 2 negative size", L("BDAT -1"), .rc = -1,
	  .verb = SMTP_VERB_BDAT, .error = "501 5.5.4" },
	{ "RFC 3030 2 signed size", L("BDAT +1"), .rc = -1,
	  .verb = SMTP_VERB_BDAT, .error = "501 5.5.4" },
	{ "RFC 3030 2 size overflow", L("BDAT 18446744073709551616"),
	  .rc = -1, .verb = SMTP_VERB_BDAT, .error = "501 5.5.4" },
	{ "RFC 3030 2 size far too large",
	  L("BDAT 99999999999999999999999999999 LAST"), .rc = -1,
	  .verb = SMTP_VERB_BDAT, .error = "501 5.5.4" },
	{ "RFC 3030 2 junk after LAST", L("BDAT 1 LAST x"), .rc = -1,
	  .verb = SMTP_VERB_BDAT, .error = "501 5.5.4" },
	{ "RFC 3030 2 other end marker", L("BDAT 1 FIRST"), .rc = -1,
	  .verb = SMTP_VERB_BDAT, .error = "501 5.5.4" },
};

/* "NNN X.Y.Z text" with matching classes (RFC 5321 4.2, RFC 3463 2). */
static bool
reply_format_ok(const char *e)
{
	size_t i = 5, n;

	if (e == NULL || strlen(e) < 11)
		return false;
	for (int k = 0; k < 3; k++) {
		if (e[k] < '0' || e[k] > '9')
			return false;
	}
	if ((e[0] != '4' && e[0] != '5') || e[3] != ' ' || e[4] != e[0] ||
	    e[5] != '.')
		return false;
	for (int part = 1; part < 3; part++) {
		i++;
		for (n = 0; e[i] >= '0' && e[i] <= '9'; i++)
			n++;
		if (n < 1 || n > 3 || e[i] != (part == 1 ? '.' : ' '))
			return false;
	}
	return e[i + 1] != '\0';
}

static void
params_join(const struct smtp_cmd *cmd, struct tbuf *t)
{
	tb_reset(t);
	for (unsigned i = 0; i < cmd->nparams; i++) {
		if (i > 0)
			tb_str(t, " ");
		tb_str(t, cmd->params[i].key);
		if (cmd->params[i].value != NULL) {
			tb_str(t, "=");
			tb_str(t, cmd->params[i].value);
		}
	}
}

static void
test_cmd_table(void)
{
	static struct smtp_cmd cmd;
	static struct tbuf t;

	for (size_t i = 0; i < ARRAY_SIZE(cmd_cases); i++) {
		const struct cmd_case *c = &cmd_cases[i];
		const char *error = NULL;
		int rc;

		memset(&cmd, 0x5a, sizeof(cmd));
		rc = smtp_cmd_parse(c->line, c->len, &cmd, &error);
		CHECK_MSG(rc == c->rc, "%s: rc %d, error '%s'", c->rfc, rc,
		    error ? error : "");
		CHECK_MSG(cmd.verb == c->verb, "%s: verb %d", c->rfc,
		    (int)cmd.verb);
		if (c->verb_text != NULL)
			CHECK_MSG(strcmp(cmd.verb_text, c->verb_text) == 0,
			    "%s: verb_text '%s'", c->rfc, cmd.verb_text);
		if (rc != 0) {
			CHECK_MSG(reply_format_ok(error) &&
			    strncmp(error, c->error, strlen(c->error)) == 0,
			    "%s: error '%s' want '%s'", c->rfc,
			    error ? error : "(null)", c->error);
			continue;
		}
		CHECK_MSG(cmd.arg != NULL && (c->arg == NULL ||
		    strcmp(cmd.arg, c->arg) == 0), "%s: arg '%s'", c->rfc,
		    cmd.arg ? cmd.arg : "(null)");
		if (c->path == NULL)
			CHECK_MSG(cmd.path == NULL, "%s: path set", c->rfc);
		else
			CHECK_MSG(cmd.path != NULL &&
			    strcmp(cmd.path, c->path) == 0, "%s: path '%s'",
			    c->rfc, cmd.path ? cmd.path : "(null)");
		CHECK_MSG(cmd.path_utf8 == c->utf8, "%s: path_utf8", c->rfc);
		params_join(&cmd, &t);
		CHECK_MSG(strcmp(t.s, c->params ? c->params : "") == 0,
		    "%s: params '%s'", c->rfc, t.s);
		CHECK_MSG(cmd.bdat_size == c->bdat_size &&
		    cmd.bdat_last == c->bdat_last, "%s: bdat %llu %d", c->rfc,
		    (unsigned long long)cmd.bdat_size, (int)cmd.bdat_last);
	}
}

static void
test_cmd_api(void)
{
	static struct smtp_cmd cmd;
	const struct smtp_param *p;
	const char *error = NULL;
	const char line[] = "MAIL FROM:<a@b> SIZE=123 BODY=8BITMIME SMTPUTF8";

	/* RFC 1870 3 / RFC 6152 2 / RFC 6531 3.4: parameters by name. */
	CHECK(smtp_cmd_parse(line, sizeof(line) - 1, &cmd, &error) == 0);
	p = smtp_cmd_param(&cmd, "SIZE");
	CHECK(p != NULL && p->value != NULL && strcmp(p->value, "123") == 0);
	p = smtp_cmd_param(&cmd, "BODY");
	CHECK(p != NULL && p->value != NULL &&
	    strcmp(p->value, "8BITMIME") == 0);
	p = smtp_cmd_param(&cmd, "SMTPUTF8");
	CHECK(p != NULL && p->value == NULL);
	CHECK(smtp_cmd_param(&cmd, "ENVID") == NULL);
	/* The argument is kept as received next to the parsed copy. */
	CHECK_STREQ(cmd.arg, "FROM:<a@b> SIZE=123 BODY=8BITMIME SMTPUTF8");

	/* A reused struct forgets the previous command. */
	CHECK(smtp_cmd_parse("NOOP", 4, &cmd, &error) == 0);
	CHECK(cmd.nparams == 0 && cmd.path == NULL);
	CHECK(smtp_cmd_param(&cmd, "SIZE") == NULL);

	/* The length is honoured: bytes past len are not read. */
	CHECK(smtp_cmd_parse("QUIT\0garbage", 4, &cmd, &error) == 0);
	CHECK(cmd.verb == SMTP_VERB_QUIT);
	CHECK(smtp_cmd_parse("RCPT TO:<a@b>xyz", 13, &cmd, &error) == 0);
	CHECK_STREQ(cmd.path, "a@b");
}

static void
test_cmd_long(void)
{
	static struct smtp_cmd cmd;
	static struct tbuf want, got;
	const char *error = NULL;
	char *line = xmalloc(SMTP_LINE_MAX + 2);
	size_t n;

	/* RFC 5321 4.5.3.1.4: a line as long as the reader passes. */
	memcpy(line, "NOOP ", 5);
	memset(line + 5, 'x', SMTP_LINE_MAX - 5);
	CHECK(smtp_cmd_parse(line, SMTP_LINE_MAX, &cmd, &error) == 0);
	CHECK(strlen(cmd.arg) == SMTP_LINE_MAX - 5);
	line[SMTP_LINE_MAX] = 'x';
	CHECK(smtp_cmd_parse(line, SMTP_LINE_MAX + 1, &cmd, &error) == -1);
	CHECK(reply_format_ok(error) && strncmp(error, "500 5.5.2", 9) == 0);

	/* RFC 1870 / RFC 3461: a MAIL line filled with long parameters;
	 * the argument and the parsed copy both fit. */
	tb_reset(&want);
	tb_str(&want, "MAIL FROM:<sender@example.org>");
	for (int i = 0; i < SMTP_MAX_PARAMS; i++) {
		char k[16];

		if (str_printf(k, sizeof(k), " X-P%d=", i) < 0)
			break;
		tb_str(&want, k);
		while (want.len < (size_t)(i + 1) * (SMTP_LINE_MAX - 40) /
		    SMTP_MAX_PARAMS)
			tb_str(&want, "v");
	}
	n = want.len;
	CHECK(n <= SMTP_LINE_MAX && n > SMTP_LINE_MAX - 100);
	CHECK(smtp_cmd_parse(want.s, n, &cmd, &error) == 0);
	CHECK(cmd.nparams == SMTP_MAX_PARAMS);
	CHECK(strlen(cmd.arg) == n - 5 && memcmp(cmd.arg, want.s + 5,
	    n - 5) == 0);
	params_join(&cmd, &got);
	CHECK_STREQ(got.s, want.s + strlen("MAIL FROM:<sender@example.org> "));
	CHECK_STREQ(cmd.path, "sender@example.org");

	/* RFC 5321 4.5.3.1.1: a huge local part is refused, not copied. */
	memcpy(line, "RCPT TO:<", 9);
	memset(line + 9, 'a', SMTP_LINE_MAX - 9);
	memcpy(line + SMTP_LINE_MAX - 5, "@b.c>", 5);
	line[SMTP_LINE_MAX] = ' ';
	CHECK(smtp_cmd_parse(line, SMTP_LINE_MAX + 1, &cmd, &error) == -1);
	CHECK(error != NULL && strncmp(error, "500 5.5.2", 9) == 0);
	CHECK(smtp_cmd_parse(line, SMTP_LINE_MAX, &cmd, &error) == -1);
	CHECK(error != NULL && strncmp(error, "501 5.1.3", 9) == 0);
	free(line);
}

/* A deterministic generator, so failures reproduce. */
static uint32_t
rand_next(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

/* Random lines built from the characters that matter to the parser:
 * no crash (run under ASan), and the results obey the contract. */
static void
test_cmd_random(void)
{
	static const char *const prefixes[] = {
		"MAIL FROM:<", "RCPT TO:<", "MAIL FROM:", "RCPT TO:<@",
		"BDAT ", "EHLO ", "", "mail from: <\"",
	};
	static const char pieces[] = "<>\"\\@.,: =-aZ9\xc3\xa9\x80\xff\r\t";
	static struct smtp_cmd cmd;
	uint32_t seed = 2463534242u;
	bool ok = true;
	char line[96];

	for (int iter = 0; iter < 200000 && ok; iter++) {
		const char *pre = prefixes[rand_next(&seed) %
		    ARRAY_SIZE(prefixes)];
		size_t n = strlen(pre), extra = rand_next(&seed) % 40;
		const char *error = NULL;
		int rc;

		memcpy(line, pre, n);
		for (size_t i = 0; i < extra; i++)
			line[n++] = pieces[rand_next(&seed) %
			    (sizeof(pieces) - 1)];
		rc = smtp_cmd_parse(line, n, &cmd, &error);
		if (rc == 0) {
			bool pathcmd = cmd.verb == SMTP_VERB_MAIL ||
			    cmd.verb == SMTP_VERB_RCPT;

			ok = cmd.arg != NULL && (cmd.path != NULL) == pathcmd &&
			    cmd.nparams <= SMTP_MAX_PARAMS;
			for (unsigned i = 0; ok && i < cmd.nparams; i++)
				ok = cmd.params[i].key[0] != '\0' &&
				    (cmd.params[i].value == NULL ||
				    cmd.params[i].value[0] != '\0');
		} else
			ok = rc == -1 && reply_format_ok(error);
		if (!ok)
			CHECK_MSG(ok, "random line %d: rc %d", iter, rc);
	}
	if (ok)
		CHECK(ok);
}

/* ---- DATA reader ---- */

struct data_result {
	struct tbuf out;	/* escaped output */
	int rc;
	size_t consumed;
	enum smtp_data_error error;
	bool contract_ok;
};

static void
data_run(const char *in, size_t n, enum plan_kind kind, size_t k,
    struct data_result *r)
{
	struct smtp_data d;
	size_t *b = xcalloc(n + 3, sizeof(*b));
	size_t m = plan_bounds(kind, k, n, b);
	char *out = xmalloc(n + 1);

	tb_reset(&r->out);
	r->rc = 0;
	r->consumed = 0;
	r->contract_ok = true;
	smtp_data_init(&d);
	for (size_t c = 0; c + 1 < m && r->rc == 0; c++) {
		size_t len = b[c + 1] - b[c], out_len = 999999, used = 999999;

		r->rc = smtp_data_feed(&d, in + b[c], len, out, &out_len,
		    &used);
		if (out_len > len || used > len ||
		    (r->rc == 0 && used != len) || (r->rc != 0 && r->rc != 1))
			r->contract_ok = false;
		else {
			tb_esc(&r->out, out, out_len);
			r->consumed += used;
		}
	}
	if (r->rc == 1) {
		size_t out_len = 999999, used = 999999;

		/* After the end nothing more is taken. */
		if (smtp_data_feed(&d, "x\r\n", 3, out, &out_len, &used) != 1 ||
		    used != 0 || out_len != 0)
			r->contract_ok = false;
	}
	r->error = d.error;
	free(out);
	free(b);
}

static bool
data_result_eq(const struct data_result *a, const struct data_result *b)
{
	return strcmp(a->out.s, b->out.s) == 0 && a->rc == b->rc &&
	    a->consumed == b->consumed && a->error == b->error;
}

struct data_case {
	const char *rfc;
	const char *in;
	size_t len;
	const char *out;	/* escaped as by tb_esc */
	int rc;
	size_t consumed;	/* 0: all of the input */
	enum smtp_data_error error;
};

static const struct data_case data_cases[] = {
	{ "RFC 5321 4.1.1.4 message and end",
	  L("Subject: x\r\n\r\nbody\r\n.\r\n"),
	  "Subject: x\\n\\nbody\\n", 1, 0, SMTP_DATA_OK },
	{ "RFC 5321 4.1.1.4 empty message: '.' as the first line",
	  L(".\r\n"), "", 1, 0, SMTP_DATA_OK },
	{ "RFC 5321 4.1.1.4 one empty line", L("\r\n.\r\n"), "\\n", 1, 0,
	  SMTP_DATA_OK },
	{ "RFC 5321 4.5.2 dot-unstuffing", L("..x\r\n.\r\n"), ".x\\n", 1, 0,
	  SMTP_DATA_OK },
	{ "RFC 5321 4.5.2 a lone stuffed dot", L("a\r\n..\r\n.\r\n"),
	  "a\\n.\\n", 1, 0, SMTP_DATA_OK },
	{ "RFC 5321 4.5.2 first period deleted", L(".x\r\n.\r\n"), "x\\n",
	  1, 0, SMTP_DATA_OK },
	{ "RFC 5321 4.5.2 dot inside a line kept", L("a.b\r\n.\r\n"),
	  "a.b\\n", 1, 0, SMTP_DATA_OK },
	{ "RFC 5321 4.1.1.4 bytes after the end are not consumed",
	  L("a\r\n.\r\nQUIT\r\n"), "a\\n", 1, 6, SMTP_DATA_OK },
	{ "RFC 5321 4.1.1.4 no end yet", L("a\r\nb\r\n"), "a\\nb\\n", 0, 0,
	  SMTP_DATA_OK },
	{ "RFC 5321 4.1.1.4 '.' without its CRLF yet", L("a\r\n."), "a\\n",
	  0, 0, SMTP_DATA_OK },
	{ "RFC 5321 4.1.1.4 '.' CR without LF yet", L("a\r\n.\r"), "a\\n",
	  0, 0, SMTP_DATA_OK },
	{ "RFC 5321 2.3.8 \\n.\\n does not end (smuggling)",
	  L("a\n.\nb\r\n.\r\n"), "a\\n.\\nb\\n", 1, 0, SMTP_DATA_BARE_LF },
	{ "RFC 5321 2.3.8 \\r.\\r does not end (smuggling)",
	  L("a\r.\rb\r\n.\r\n"), "a\\r.\\rb\\n", 1, 0, SMTP_DATA_BARE_CR },
	{ "RFC 5321 2.3.8 \\n.\\r\\n does not end (smuggling)",
	  L("a\n.\r\nb\r\n.\r\n"), "a\\n.\\nb\\n", 1, 0, SMTP_DATA_BARE_LF },
	{ "RFC 5321 2.3.8 \\r\\n.\\n does not end (smuggling)",
	  L("a\r\n.\nb\r\n.\r\n"), "a\\n.\\nb\\n", 1, 0, SMTP_DATA_BARE_LF },
	{ "RFC 5321 2.3.8 \\r\\n.\\r then text does not end",
	  L("a\r\n.\rb\r\n.\r\n"), "a\\n\\rb\\n", 1, 0, SMTP_DATA_BARE_CR },
	{ "RFC 5321 2.3.8 \\r\\n.\\r\\r\\n does not end",
	  L("a\r\n.\r\r\n.\r\n"), "a\\n\\r\\n", 1, 0, SMTP_DATA_BARE_CR },
	{ "RFC 5321 2.3.8 bare LF first, then the real end",
	  L("\n.\r\n.\r\n"), "\\n.\\n", 1, 0, SMTP_DATA_BARE_LF },
	{ "RFC 5321 2.3.8 bare CR kept", L("a\rb\r\n.\r\n"), "a\\rb\\n", 1,
	  0, SMTP_DATA_BARE_CR },
	{ "RFC 5321 2.3.8 bare LF kept", L("a\nb\r\n.\r\n"), "a\\nb\\n", 1,
	  0, SMTP_DATA_BARE_LF },
	{ "RFC 5321 2.3.8 CR CR LF", L("\r\r\n.\r\n"), "\\r\\n", 1, 0,
	  SMTP_DATA_BARE_CR },
	{ "RFC 5321 2.3.8 first error is sticky", L("a\nb\rc\r\n.\r\n"),
	  "a\\nb\\rc\\n", 1, 0, SMTP_DATA_BARE_LF },
	{ "RFC 5321 4.1.1.4 NUL kept", L("a\0b\r\n.\r\n"), "a\\x00b\\n", 1,
	  0, SMTP_DATA_OK },
	{ "RFC 6152 8-bit bytes kept", L("caf\xc3\xa9\r\n.\r\n"),
	  "caf\xc3\xa9\\n", 1, 0, SMTP_DATA_OK },
};

static void
data_check_all(const char *in, size_t n, const struct data_result *want,
    const char *rfc)
{
	static struct data_result got;
	bool same = true;

	data_run(in, n, PLAN_WHOLE, 0, &got);
	CHECK_MSG(data_result_eq(&got, want) && got.contract_ok,
	    "%s: whole: out '%s' want '%s', rc %d, consumed %zu, error %d",
	    rfc, got.out.s, want->out.s, got.rc, got.consumed,
	    (int)got.error);
	data_run(in, n, PLAN_BYTES, 0, &got);
	CHECK_MSG(data_result_eq(&got, want) && got.contract_ok,
	    "%s: byte by byte: out '%s' rc %d consumed %zu", rfc, got.out.s,
	    got.rc, got.consumed);
	for (size_t k = 0; k <= n && same; k++) {
		data_run(in, n, PLAN_SPLIT, k, &got);
		same = data_result_eq(&got, want) && got.contract_ok;
		if (!same)
			CHECK_MSG(false, "%s: split at %zu: out '%s' rc %d",
			    rfc, k, got.out.s, got.rc);
	}
	if (same)
		CHECK(same);
}

static void
test_data_table(void)
{
	static struct data_result want;

	for (size_t i = 0; i < ARRAY_SIZE(data_cases); i++) {
		const struct data_case *c = &data_cases[i];

		tb_reset(&want.out);
		tb_str(&want.out, c->out);
		want.rc = c->rc;
		want.consumed = c->consumed ? c->consumed : c->len;
		want.error = c->error;
		data_check_all(c->in, c->len, &want, c->rfc);
	}
}

static void
test_data_long(void)
{
	/* RFC 5321 4.5.3.1.6: the limit counts the CRLF but not the dot
	 * added for transparency. */
	const size_t max = SMTP_DATA_LINE_MAX - 2;
	struct {
		const char *rfc;
		const char *head;
		size_t fill;
		enum smtp_data_error error;
	} rows[] = {
		{ "RFC 5321 4.5.3.1.6 longest line", "", max, SMTP_DATA_OK },
		{ "RFC 5321 4.5.3.1.6 one octet over", "", max + 1,
		  SMTP_DATA_LINE_TOO_LONG },
		{ "RFC 5321 4.5.3.1.6 stuffed dot not counted", ".", max,
		  SMTP_DATA_OK },
		{ "RFC 5321 4.5.3.1.6 unstuffed dot counted", "..", max - 1,
		  SMTP_DATA_OK },
		{ "RFC 5321 4.5.3.1.6 unstuffed dot counted, over", "..", max,
		  SMTP_DATA_LINE_TOO_LONG },
		{ "RFC 5321 4.5.3.1.6 far over", "", 3 * max,
		  SMTP_DATA_LINE_TOO_LONG },
	};

	for (size_t i = 0; i < ARRAY_SIZE(rows); i++) {
		static struct data_result want, got;
		size_t hl = strlen(rows[i].head), n = 0;
		char *in = xmalloc(hl + rows[i].fill + 16);

		memcpy(in, rows[i].head, hl);
		n = hl;
		memset(in + n, 'a', rows[i].fill);
		n += rows[i].fill;
		memcpy(in + n, "\r\nb\r\n.\r\n", 8);
		n += 8;

		data_run(in, n, PLAN_WHOLE, 0, &want);
		CHECK_MSG(want.rc == 1 && want.consumed == n &&
		    want.error == rows[i].error && want.contract_ok,
		    "%s: rc %d error %d", rows[i].rfc, want.rc,
		    (int)want.error);
		/* The line is kept whole either way ("\\n" is two). */
		CHECK_MSG(want.out.len == hl - (hl > 0) + rows[i].fill + 5,
		    "%s: output length %zu", rows[i].rfc, want.out.len);
		/* A few splits around the limit and byte by byte. */
		data_run(in, n, PLAN_BYTES, 0, &got);
		CHECK_MSG(data_result_eq(&got, &want) && got.contract_ok,
		    "%s: byte by byte", rows[i].rfc);
		for (size_t k = max - 2; k < max + 4 && k <= n; k++) {
			data_run(in, n, PLAN_SPLIT, k, &got);
			CHECK_MSG(data_result_eq(&got, &want) &&
			    got.contract_ok, "%s: split at %zu", rows[i].rfc,
			    k);
		}
		free(in);
	}
}

/*
 * A reference model of RFC 5321 4.1.1.4 / 4.5.2 written differently, with
 * the whole input at hand: returns 1 at CRLF.CRLF, and the output of a
 * one-shot feed (a trailing CR or CRLF "." is still pending).
 */
static int
data_model(const char *in, size_t n, struct tbuf *out, size_t *consumed_r,
    enum smtp_data_error *error_r)
{
	size_t i = 0, line = 0;
	bool bol = true;

	tb_reset(out);
	*error_r = SMTP_DATA_OK;
#define MODEL_ERR(e) do { \
	if (*error_r == SMTP_DATA_OK) \
		*error_r = (e); \
} while (0)
#define MODEL_PUT(ch) do { \
	char ch_ = (ch); \
	tb_esc(out, &ch_, 1); \
	if (++line > SMTP_DATA_LINE_MAX - 2) \
		MODEL_ERR(SMTP_DATA_LINE_TOO_LONG); \
} while (0)
	while (i < n) {
		if (bol && in[i] == '.') {
			if (i + 1 == n || (in[i + 1] == '\r' && i + 2 == n))
				break;	/* pending */
			if (in[i + 1] == '\r' && in[i + 2] == '\n') {
				*consumed_r = i + 3;
				return 1;
			}
			if (in[i + 1] == '\n')
				MODEL_PUT('.');
			i++;
		}
		bol = false;
		if (in[i] == '\r') {
			if (i + 1 == n)
				break;	/* pending */
			if (in[i + 1] == '\n') {
				tb_str(out, "\\n");
				line = 0;
				bol = true;
				i += 2;
				continue;
			}
			MODEL_ERR(SMTP_DATA_BARE_CR);
			MODEL_PUT('\r');
			i++;
			continue;
		}
		if (in[i] == '\n') {
			MODEL_ERR(SMTP_DATA_BARE_LF);
			tb_str(out, "\\n");
			line = 0;
			i++;
			continue;
		}
		MODEL_PUT(in[i]);
		i++;
	}
#undef MODEL_PUT
#undef MODEL_ERR
	*consumed_r = n;
	return 0;
}

/*
 * Every string over {CR, LF, '.', 'a'} up to 8 octets: a one-shot feed
 * matches the model, and with the end marker appended every plan gives
 * the same result.
 */
static void
test_data_exhaustive(void)
{
	static const char alpha[] = { '\r', '\n', '.', 'a' };
	static struct data_result want, got;
	static struct tbuf mout;
	bool model_ok = true, same = true, contract_ok = true;
	char in[16];

	for (size_t n = 0; n <= 8 && model_ok && same; n++) {
		size_t total = 1;

		for (size_t i = 0; i < n; i++)
			total *= ARRAY_SIZE(alpha);
		for (size_t x = 0; x < total && model_ok && same; x++) {
			size_t v = x, mcons = 0, n2 = n + 5;
			enum smtp_data_error merr;
			int mrc;

			for (size_t i = 0; i < n; i++) {
				in[i] = alpha[v % ARRAY_SIZE(alpha)];
				v /= ARRAY_SIZE(alpha);
			}
			mrc = data_model(in, n, &mout, &mcons, &merr);
			data_run(in, n, PLAN_WHOLE, 0, &want);
			model_ok = want.rc == mrc && want.consumed == mcons &&
			    want.error == merr && strcmp(want.out.s,
			    mout.s) == 0;
			if (!model_ok) {
				tb_reset(&got.out);
				tb_esc(&got.out, in, n);
				CHECK_MSG(false, "model: input '%s': got '%s' "
				    "want '%s'", got.out.s, want.out.s, mout.s);
			}

			memcpy(in + n, "\r\n.\r\n", 5);
			data_run(in, n2, PLAN_WHOLE, 0, &want);
			contract_ok &= want.contract_ok && want.rc == 1;
			data_run(in, n2, PLAN_BYTES, 0, &got);
			same = data_result_eq(&got, &want) && got.contract_ok;
			for (size_t k = 0; k <= n2 && same; k++) {
				data_run(in, n2, PLAN_SPLIT, k, &got);
				same = data_result_eq(&got, &want) &&
				    got.contract_ok;
			}
			if (!same) {
				tb_reset(&mout);
				tb_esc(&mout, in, n2);
				CHECK_MSG(false, "chunking changed the result "
				    "of '%s'", mout.s);
			}
		}
	}
	if (model_ok)
		CHECK(model_ok);
	if (same)
		CHECK(same);
	CHECK(contract_ok);
}

/* The one-byte slack: a late bare CR plus its byte with one byte of room. */
static void
test_data_slack(void)
{
	struct smtp_data d;
	char out[8];
	size_t out_len, used;

	smtp_data_init(&d);
	CHECK(smtp_data_feed(&d, "a\r", 2, out, &out_len, &used) == 0);
	CHECK(used == 2 && out_len == 1 && out[0] == 'a');
	/* RFC 5321 2.3.8: "\rb" is two bytes out for one in. */
	CHECK(smtp_data_feed(&d, "b", 1, out, &out_len, &used) == 0);
	CHECK(used == 1 && out_len == 1 && out[0] == '\r');
	CHECK(d.error == SMTP_DATA_BARE_CR);
	/* An empty feed keeps the held byte. */
	CHECK(smtp_data_feed(&d, "", 0, out, &out_len, &used) == 0);
	CHECK(used == 0 && out_len == 0);
	CHECK(smtp_data_feed(&d, "\r\n.\r\n", 5, out, &out_len, &used) == 1);
	CHECK(used == 5 && out_len == 2 && memcmp(out, "b\n", 2) == 0);
}

/* Zeroed readers (a calloc'd session) behave as freshly initialized. */
static void
test_zeroed(void)
{
	static struct smtp_line l;
	struct smtp_data d;
	struct smtp_bdat b;
	char out[8];
	size_t out_len, used, n;

	memset(&l, 0, sizeof(l));
	CHECK(smtp_line_feed(&l, "NOOP\r\n", 6, &used) == SMTP_LINE_OK);
	CHECK_STREQ(l.buf, "NOOP");
	memset(&d, 0, sizeof(d));
	CHECK(smtp_data_feed(&d, ".\r\n", 3, out, &out_len, &used) == 1);
	CHECK(out_len == 0 && used == 3 && d.error == SMTP_DATA_OK);
	memset(&b, 0, sizeof(b));
	n = smtp_bdat_feed(&b, "a\r\n", 3, out);
	CHECK(n == 2 && memcmp(out, "a\n", 2) == 0);
	CHECK(smtp_bdat_finish(&b, out) == 0 && b.error == SMTP_DATA_OK);
}

/* ---- BDAT converter ---- */

struct bdat_case {
	const char *rfc;
	const char *chunks[4];	/* NULL-terminated; "" is an empty chunk */
	const char *out;	/* escaped */
	enum smtp_data_error error;
};

static const struct bdat_case bdat_cases[] = {
	{ "RFC 3030 2 CRLF to LF", { "a\r\nb\r\n" }, "a\\nb\\n",
	  SMTP_DATA_OK },
	{ "RFC 3030 2 CRLF split across chunks", { "abc\r", "\ndef\r\n" },
	  "abc\\ndef\\n", SMTP_DATA_OK },
	{ "RFC 3030 2 CRLF split, empty chunk between",
	  { "abc\r", "", "\n" }, "abc\\n", SMTP_DATA_OK },
	{ "RFC 3030 2 bare CR at the end", { "abc\r" }, "abc\\r",
	  SMTP_DATA_BARE_CR },
	{ "RFC 3030 2 bare CR ending a chunk", { "a\r", "b\r\n" },
	  "a\\rb\\n", SMTP_DATA_BARE_CR },
	{ "RFC 3030 2 bare CR then CR LF", { "a\r", "\r\n" }, "a\\r\\n",
	  SMTP_DATA_BARE_CR },
	{ "RFC 3030 2 bare CR then a one-byte chunk", { "a\r", "b" },
	  "a\\rb", SMTP_DATA_BARE_CR },
	{ "RFC 3030 2 bare LF", { "a\nb" }, "a\\nb", SMTP_DATA_BARE_LF },
	{ "RFC 3030 2 bare LF starting a chunk", { "a", "\nb\r\n" },
	  "a\\nb\\n", SMTP_DATA_BARE_LF },
	{ "RFC 3030 2 dots are not special", { ".\r\n..\r\n" },
	  ".\\n..\\n", SMTP_DATA_OK },
	{ "RFC 3030 2 BDAT 0 LAST", { "" }, "", SMTP_DATA_OK },
};

static void
bdat_run(const char *const *chunks, const size_t *lens, size_t nchunks,
    struct tbuf *t, enum smtp_data_error *error_r, bool *contract_ok)
{
	struct smtp_bdat b;
	char out[64];
	size_t n;

	tb_reset(t);
	smtp_bdat_init(&b);
	for (size_t i = 0; i < nchunks; i++) {
		if (lens[i] > sizeof(out)) {
			*contract_ok = false;
			continue;
		}
		n = smtp_bdat_feed(&b, chunks[i], lens[i], out);
		if (n > lens[i])
			*contract_ok = false;
		else
			tb_esc(t, out, n);
	}
	n = smtp_bdat_finish(&b, out);
	if (n > 1)
		*contract_ok = false;
	else
		tb_esc(t, out, n);
	if (smtp_bdat_finish(&b, out) != 0)
		*contract_ok = false;
	*error_r = b.error;
}

static void
test_bdat_table(void)
{
	static struct tbuf t;

	for (size_t i = 0; i < ARRAY_SIZE(bdat_cases); i++) {
		const struct bdat_case *c = &bdat_cases[i];
		size_t lens[4], n = 0;
		enum smtp_data_error error;
		bool contract_ok = true;

		for (; n < ARRAY_SIZE(c->chunks) && c->chunks[n] != NULL; n++)
			lens[n] = strlen(c->chunks[n]);
		bdat_run(c->chunks, lens, n, &t, &error, &contract_ok);
		CHECK_MSG(strcmp(t.s, c->out) == 0 && error == c->error &&
		    contract_ok, "%s: out '%s' want '%s', error %d", c->rfc,
		    t.s, c->out, (int)error);
	}
}

/*
 * Every string over {CR, LF, 'a'} up to 8 octets, in every split into
 * two and three chunks and byte by byte: the same bytes as the DATA
 * reader would store, and the same error.
 */
static void
test_bdat_exhaustive(void)
{
	static const char alpha[] = { '\r', '\n', 'a' };
	static struct tbuf want, got;
	static struct data_result dr;
	bool same = true, contract_ok = true;
	char in[16];

	for (size_t n = 0; n <= 8 && same; n++) {
		size_t total = 1;

		for (size_t i = 0; i < n; i++)
			total *= ARRAY_SIZE(alpha);
		for (size_t x = 0; x < total && same; x++) {
			const char *ch[16];
			size_t lens[16], v = x;
			enum smtp_data_error e1, e2;

			for (size_t i = 0; i < n; i++) {
				in[i] = alpha[v % ARRAY_SIZE(alpha)];
				v /= ARRAY_SIZE(alpha);
			}
			ch[0] = in;
			lens[0] = n;
			bdat_run(ch, lens, 1, &want, &e1, &contract_ok);

			/* The DATA reader on the same text followed by
			 * CRLF.CRLF stores the same plus one LF. */
			memcpy(in + n, "\r\n.\r\n", 5);
			data_run(in, n + 5, PLAN_WHOLE, 0, &dr);
			tb_reset(&got);
			tb_str(&got, want.s);
			tb_str(&got, "\\n");
			same = strcmp(dr.out.s, got.s) == 0 && dr.error == e1;

			for (size_t i = 0; i < n; i++) {
				ch[i] = in + i;
				lens[i] = 1;
			}
			bdat_run(ch, lens, n, &got, &e2, &contract_ok);
			same = same && strcmp(want.s, got.s) == 0 && e1 == e2;
			for (size_t k = 0; k <= n && same; k++) {
				for (size_t j = k; j <= n && same; j++) {
					ch[0] = in;
					lens[0] = k;
					ch[1] = in + k;
					lens[1] = j - k;
					ch[2] = in + j;
					lens[2] = n - j;
					bdat_run(ch, lens, 3, &got, &e2,
					    &contract_ok);
					same = strcmp(want.s, got.s) == 0 &&
					    e1 == e2;
				}
			}
			if (!same) {
				tb_reset(&got);
				tb_esc(&got, in, n);
				CHECK_MSG(false, "bdat: chunking changed '%s'",
				    got.s);
			}
		}
	}
	if (same)
		CHECK(same);
	CHECK(contract_ok);
}

/* RFC 6409 8.2, 8.3: which of Date and Message-ID the header has, at
 * every split of the stored text. */
static void
test_hdrscan(void)
{
	static const struct {
		const char *text;
		bool date, msgid;
	} rows[] = {
		{ "Subject: x\n\nbody\n", false, false },
		{ "DATE: Mon, 1 Jan 2024 00:00:00 +0000\nSubject: x\n\n",
		    true, false },
		{ "Subject: x\nMessage-Id: <a@b>\n\n", false, true },
		/* in the body, or a continuation line: not a field */
		{ "Subject: x\n\nDate: no\nMessage-ID: <no>\n", false, false },
		{ "Subject: x\n Date: folded\n\n", false, false },
		/* a longer name that starts alike */
		{ "Dates: x\nMessage-IDs: y\n\n", false, false },
		{ "Date : spaced\n\n", false, false },
		{ "", false, false },
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		size_t len = strlen(rows[i].text);

		for (size_t step = 1; step <= (len ? len : 1); step++) {
			struct smtp_hdrscan h;

			smtp_hdrscan_init(&h);
			for (size_t o = 0; o < len; o += step)
				smtp_hdrscan_feed(&h, rows[i].text + o,
				    len - o < step ? len - o : step);
			CHECK_MSG(h.has_date == rows[i].date &&
			    h.has_message_id == rows[i].msgid,
			    "row %zu step %zu", i, step);
		}
	}
}

int
main(void)
{
	test_line_table();
	test_line_long();
	test_line_api();
	test_line_exhaustive();
	test_cmd_table();
	test_cmd_api();
	test_cmd_long();
	test_cmd_random();
	test_data_table();
	test_data_long();
	test_data_exhaustive();
	test_data_slack();
	test_zeroed();
	test_bdat_table();
	test_bdat_exhaustive();
	test_hdrscan();
	return t_done("smtp_parser");
}
