/*
 * test_imap_fetch.c: FETCH parsing and rendering (RFC 3501 6.4.5, 7.4.2)
 * over a real Maildir store: simple items, macros, UID FETCH, ENVELOPE
 * and BODYSTRUCTURE of a multipart message, body sections and partials,
 * missing parts, the cache that spares a second MIME parse, a message
 * file gone, the implicit \Seen FLAGS, and streaming of a 3 MB message
 * in pieces giving exactly the bytes of one call.
 */
#include <sys/stat.h>

#include <dirent.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "t.h"

#include "imap/imap_internal.h"
#include "imap/imap_parser.h"
#include "lib/buf.h"
#include "lib/util.h"
#include "store/mailbox.h"

static char test_root[64];
static struct store_mailbox *test_mb;
static struct store_view test_view;
static struct store_imsg *test_msgs;
static size_t test_count;

/* The messages appended, in UID order (sequence number = index + 1). */
#define MSG1_HDR \
	"From: Alice <alice@example.com>\r\n" \
	"To: bob@example.org\r\n" \
	"Subject: Hello\r\n" \
	"Date: Mon, 7 Feb 1994 21:52:25 -0800\r\n" \
	"Message-ID: <1@x>\r\n" \
	"\r\n"
#define MSG1_BODY "Hello world\r\nLine two\r\n"
#define MSG1 MSG1_HDR MSG1_BODY

#define MSG2_HDR \
	"From: Carol <carol@example.com>\r\n" \
	"To: dave@example.org\r\n" \
	"Subject: Parts\r\n" \
	"MIME-Version: 1.0\r\n" \
	"Content-Type: multipart/mixed; boundary=\"XX\"\r\n" \
	"\r\n"
#define MSG2_P2_MIME \
	"Content-Type: text/html\r\n" \
	"Content-Transfer-Encoding: quoted-printable\r\n" \
	"\r\n"
#define MSG2 MSG2_HDR \
	"preamble\r\n" \
	"--XX\r\n" \
	"Content-Type: text/plain; charset=utf-8\r\n" \
	"\r\n" \
	"Part one text\r\n" \
	"--XX\r\n" \
	MSG2_P2_MIME \
	"<p>two</p>\r\n" \
	"--XX--\r\n"

/* The last line has no line end. */
#define MSG4 "Subject: short\r\n\r\nno newline"
#define MSG5 "Subject: doomed\r\n\r\nbody\r\n"

#define TEST_DATE 1700000000	/* 14-Nov-2023 22:13:20 +0000 */

static struct buf test_big;
static struct buf test_out;	/* test_fetch's result */

/* The session's FLAGS rendering lives in imap_server.c; this one is
 * enough for the tests. */
void
imap_flags_format(uint8_t flags, const char *keywords, struct buf *out)
{
	static const struct {
		uint8_t bit;
		const char *name;
	} names[] = {
		{ STORE_F_SEEN, "\\Seen" },
		{ STORE_F_ANSWERED, "\\Answered" },
		{ STORE_F_FLAGGED, "\\Flagged" },
		{ STORE_F_DELETED, "\\Deleted" },
		{ STORE_F_DRAFT, "\\Draft" },
		{ STORE_F_RECENT, "\\Recent" },
	};
	bool first = true;

	buf_append(out, "(", 1);
	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		if (!(flags & names[i].bit))
			continue;
		if (!first)
			buf_append(out, " ", 1);
		buf_append_str(out, names[i].name);
		first = false;
	}
	if (keywords != NULL && keywords[0] != '\0') {
		if (!first)
			buf_append(out, " ", 1);
		buf_append_str(out, keywords);
	}
	buf_append(out, ")", 1);
}

/* ---- helpers ---- */

static int
test_rm_cb(const char *path, const struct stat *st, int flag,
    struct FTW *ftw)
{
	remove(path);
	return 0;
}

static void
test_append(const char *data, size_t len, uint8_t flags)
{
	const char *error;
	uint32_t uidvalidity, uid;
	char path[128];
	int fd;

	if (str_printf(path, sizeof(path), "%s/msg-XXXXXX", test_root) < 0 ||
	    (fd = mkstemp(path)) < 0)
		fatal("mkstemp");
	unlink(path);
	if (write(fd, data, len) != (ssize_t)len)
		fatal("write");
	if (store_append(test_mb, "INBOX", fd, len, flags, NULL, TEST_DATE,
	    &uidvalidity, &uid, &error) != STORE_OK)
		fatal("store_append: %s", error);
	close(fd);
}

/* Parses "a FETCH <set> <items>" (or "a UID FETCH ...") through the real
 * command parser. 0 or -1 with *error_r. */
static int
test_parse(const char *items, bool uid, struct imap_fetch **f_r,
    const char **error_r)
{
	struct imap_parser *p = imap_parser_new(NULL, NULL, NULL);
	struct imap_command *cmd;
	char *line;
	size_t used, skip;
	int ret;

	line = xasprintf("a %s 1 %s\r\n", uid ? "UID FETCH" : "FETCH", items);
	if (imap_parser_feed(p, line, strlen(line), &used) !=
	    IMAP_PARSE_COMMAND) {
		*error_r = "command parser refused it";
		*f_r = NULL;
		free(line);
		imap_parser_free(&p);
		return -1;
	}
	cmd = imap_parser_command(p);
	skip = uid ? 2 : 1;
	ret = imap_fetch_parse(cmd->args + skip, cmd->nargs - skip, uid, f_r,
	    error_r);
	free(line);
	imap_parser_free(&p);
	return ret;
}

/* Renders with the given budget, collecting every call's output into
 * all; checks each interrupted call filled out to the budget. Returns
 * the number of calls. */
static size_t
test_render(struct imap_fetch *f, const size_t *idx, size_t n,
    const bool *seen, size_t budget, struct buf *all)
{
	struct buf out;
	size_t calls = 0;
	bool done;

	buf_init(&out);
	buf_reset(all);
	do {
		buf_reset(&out);
		done = imap_fetch_render(f, test_mb, &test_view, test_msgs,
		    idx, n, seen, &out, budget);
		calls++;
		if (!done)
			CHECK(out.len >= budget);
		if (out.len > 0)
			buf_append(all, out.data, out.len);
	} while (!done && calls < 100000);
	CHECK(done);
	buf_deinit(&out);
	return calls;
}

/* One FETCH of items for sequence number seq with a big budget: the
 * response text (static, overwritten by the next call). */
static const char *
test_fetch(const char *items, bool uid, size_t seq)
{
	struct imap_fetch *f;
	const char *error;
	size_t idx = seq - 1;

	if (test_parse(items, uid, &f, &error) < 0) {
		fprintf(stderr, "parse %s: %s\n", items, error);
		return "(parse error)";
	}
	test_render(f, &idx, 1, NULL, SIZE_MAX, &test_out);
	imap_fetch_free(&f);
	return test_out.data != NULL ? test_out.data : "";
}

static void
test_setup(void)
{
	const char *error;
	char dir[128];

	str_lcpy(test_root, "/tmp/facteur-test-imap-fetch-XXXXXX",
	    sizeof(test_root));
	if (mkdtemp(test_root) == NULL)
		fatal("mkdtemp");
	if (str_printf(dir, sizeof(dir), "%s/Maildir", test_root) < 0)
		fatal("path");
	if ((test_mb = store_mailbox_open(dir, &error)) == NULL)
		fatal("store_mailbox_open: %s", error);
	test_append(MSG1, sizeof(MSG1) - 1, STORE_F_SEEN);
	test_append(MSG2, sizeof(MSG2) - 1, 0);
	/* about 3 MB of lines, CRLF as APPEND gives them */
	buf_init(&test_big);
	buf_append_str(&test_big, "Subject: big\r\n\r\n");
	for (unsigned i = 0; test_big.len < 3 * 1024 * 1024; i++)
		buf_printf(&test_big, "line %u: the quick brown fox jumps "
		    "over the lazy dog\r\n", i);
	test_append(test_big.data, test_big.len, STORE_F_FLAGGED);
	test_append(MSG4, sizeof(MSG4) - 1, 0);
	test_append(MSG5, sizeof(MSG5) - 1, 0);
	if (store_folder_select(test_mb, "INBOX", true, &test_view,
	    &test_msgs, &test_count, &error) != STORE_OK)
		fatal("store_folder_select: %s", error);
	if (test_count != 5)
		fatal("expected 5 messages, got %zu", test_count);
}

/* ---- tests ---- */

static void
test_parse_errors(void)
{
	static const struct {
		const char *items;
		const char *error;
	} bad[] = {
		{ "FOO", "Unknown FETCH item" },
		{ "(FLAGS FOO)", "Unknown FETCH item" },
		{ "()", "Empty FETCH item list" },
		{ "(FLAGS (UID))", "Nested lists in FETCH items" },
		{ "(ALL)", "ALL, FAST and FULL must be alone" },
		{ "(FLAGS fast)", "ALL, FAST and FULL must be alone" },
		{ "FLAGS UID", "Expected one FETCH item or a list" },
		{ "\"FLAGS\"", "Unknown FETCH item" },
		{ "BODY.PEEK", "Unknown FETCH item" },
		{ "BODY[MIME]", "Invalid BODY[] section in FETCH" },
		{ "BODY[0]", "Invalid BODY[] section in FETCH" },
		{ "BODY[TEXT]<0.0>", "Invalid BODY[] section in FETCH" },
		{ "BODY[HEADER.FIELDS ()]", "Invalid BODY[] section in FETCH" },
		{ "BODY[FOO]", "Invalid BODY[] section in FETCH" },
		{ "RFC822.FOO", "Unknown FETCH item" },
	};
	struct imap_fetch *f;
	const char *error;

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		error = NULL;
		CHECK_MSG(test_parse(bad[i].items, false, &f, &error) < 0,
		    "%s", bad[i].items);
		CHECK(f == NULL);
		CHECK_STREQ(error, bad[i].error);
	}
	/* no items at all */
	CHECK(imap_fetch_parse(NULL, 0, false, &f, &error) < 0);
	CHECK_STREQ(error, "Missing FETCH items");
}

static void
test_parse_flags(void)
{
	static const struct {
		const char *items;
		bool store, seen;
	} cases[] = {
		{ "FLAGS", false, false },
		{ "(FLAGS UID INTERNALDATE RFC822.SIZE)", false, false },
		{ "FAST", false, false },
		{ "ALL", true, false },
		{ "FULL", true, false },
		{ "ENVELOPE", true, false },
		{ "BODYSTRUCTURE", true, false },
		{ "BODY", true, false },
		{ "BODY.PEEK[]", true, false },
		{ "RFC822.HEADER", true, false },
		{ "BODY[]", true, true },
		{ "body[text]<0.10>", true, true },
		{ "RFC822", true, true },
		{ "RFC822.TEXT", true, true },
		{ "(BODY.PEEK[1] BODY[1])", true, true },
	};
	struct imap_fetch *f;
	const char *error;

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		CHECK_MSG(test_parse(cases[i].items, false, &f, &error) == 0,
		    "%s", cases[i].items);
		if (f == NULL)
			continue;
		CHECK_MSG(imap_fetch_needs_store(f) == cases[i].store, "%s",
		    cases[i].items);
		CHECK_MSG(imap_fetch_sets_seen(f) == cases[i].seen, "%s",
		    cases[i].items);
		imap_fetch_free(&f);
		CHECK(f == NULL);
	}
}

/* RFC 3501 6.4.5 simple items; without the store at all. */
static void
test_simple(void)
{
	struct imap_fetch *f;
	const char *error;
	struct buf out;
	size_t idx[] = { 0, 1 };
	char want[256];

	buf_init(&out);
	CHECK(test_parse("(FLAGS UID INTERNALDATE RFC822.SIZE)", false, &f,
	    &error) == 0);
	CHECK(!imap_fetch_needs_store(f));
	CHECK(imap_fetch_render(f, NULL, NULL, test_msgs, idx, 2, NULL, &out,
	    SIZE_MAX));
	str_printf(want, sizeof(want),
	    "* 1 FETCH (FLAGS (\\Seen) UID 1 INTERNALDATE "
	    "\"14-Nov-2023 22:13:20 +0000\" RFC822.SIZE %zu)\r\n"
	    "* 2 FETCH (FLAGS () UID 2 INTERNALDATE "
	    "\"14-Nov-2023 22:13:20 +0000\" RFC822.SIZE %zu)\r\n",
	    sizeof(MSG1) - 1, sizeof(MSG2) - 1);
	CHECK_STREQ(out.data, want);
	imap_fetch_free(&f);
	buf_deinit(&out);

	/* RFC 3501 6.4.8: UID first, even when asked later or not at all;
	 * duplicates answered once; names case-insensitive */
	CHECK_STREQ(test_fetch("flags", true, 1),
	    "* 1 FETCH (UID 1 FLAGS (\\Seen))\r\n");
	CHECK_STREQ(test_fetch("(Flags UID flags)", true, 3),
	    "* 3 FETCH (UID 3 FLAGS (\\Flagged))\r\n");
	CHECK_STREQ(test_fetch("(uid UID)", false, 2),
	    "* 2 FETCH (UID 2)\r\n");
	str_printf(want, sizeof(want), "* 1 FETCH (FLAGS (\\Seen) "
	    "INTERNALDATE \"14-Nov-2023 22:13:20 +0000\" RFC822.SIZE %zu)\r\n",
	    sizeof(MSG1) - 1);
	CHECK_STREQ(test_fetch("FAST", false, 1), want);
}

#define MSG1_ENVELOPE \
	"(\"Mon, 7 Feb 1994 21:52:25 -0800\" \"Hello\" " \
	"((\"Alice\" NIL \"alice\" \"example.com\")) " \
	"((\"Alice\" NIL \"alice\" \"example.com\")) " \
	"((\"Alice\" NIL \"alice\" \"example.com\")) " \
	"((NIL NIL \"bob\" \"example.org\")) NIL NIL NIL \"<1@x>\")"
#define MSG2_ENVELOPE \
	"(NIL \"Parts\" " \
	"((\"Carol\" NIL \"carol\" \"example.com\")) " \
	"((\"Carol\" NIL \"carol\" \"example.com\")) " \
	"((\"Carol\" NIL \"carol\" \"example.com\")) " \
	"((NIL NIL \"dave\" \"example.org\")) NIL NIL NIL NIL)"
/* RFC 3501 7.4.2: sizes in CRLF octets; a part's body stops before the
 * CRLF that precedes the next boundary line (RFC 2046 5.1.1). */
#define MSG2_BODYSTRUCTURE \
	"((\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL \"7bit\" 13 1 " \
	"NIL NIL NIL NIL)" \
	"(\"text\" \"html\" (\"charset\" \"us-ascii\") NIL NIL " \
	"\"quoted-printable\" 10 1 NIL NIL NIL NIL) " \
	"\"mixed\" (\"boundary\" \"XX\") NIL NIL NIL)"
#define MSG2_BODY \
	"((\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL \"7bit\" 13 1)" \
	"(\"text\" \"html\" (\"charset\" \"us-ascii\") NIL NIL " \
	"\"quoted-printable\" 10 1) \"mixed\")"

static void
test_structure(void)
{
	char want[2048];
	char *env, *bs, *body;
	const char *error;

	CHECK_STREQ(test_fetch("ENVELOPE", false, 1),
	    "* 1 FETCH (ENVELOPE " MSG1_ENVELOPE ")\r\n");
	CHECK_STREQ(test_fetch("BODYSTRUCTURE", false, 2),
	    "* 2 FETCH (BODYSTRUCTURE " MSG2_BODYSTRUCTURE ")\r\n");
	CHECK_STREQ(test_fetch("BODY", false, 2),
	    "* 2 FETCH (BODY " MSG2_BODY ")\r\n");
	/* the parse filled the cache with all three */
	CHECK(store_cache_get(test_mb, &test_view, 2, &env, &bs, &body,
	    &error) == STORE_OK);
	CHECK_STREQ(env, MSG2_ENVELOPE);
	CHECK_STREQ(bs, MSG2_BODYSTRUCTURE);
	CHECK_STREQ(body, MSG2_BODY);
	free(env);
	free(bs);
	free(body);
	/* RFC 3501 6.4.5 macros */
	str_printf(want, sizeof(want), "* 2 FETCH (FLAGS () INTERNALDATE "
	    "\"14-Nov-2023 22:13:20 +0000\" RFC822.SIZE %zu ENVELOPE "
	    MSG2_ENVELOPE ")\r\n", sizeof(MSG2) - 1);
	CHECK_STREQ(test_fetch("ALL", false, 2), want);
	str_printf(want, sizeof(want), "* 2 FETCH (FLAGS () INTERNALDATE "
	    "\"14-Nov-2023 22:13:20 +0000\" RFC822.SIZE %zu ENVELOPE "
	    MSG2_ENVELOPE " BODY " MSG2_BODY ")\r\n", sizeof(MSG2) - 1);
	CHECK_STREQ(test_fetch("FULL", false, 2), want);
	/* a single-part message */
	CHECK_STREQ(test_fetch("BODYSTRUCTURE", false, 1),
	    "* 1 FETCH (BODYSTRUCTURE (\"text\" \"plain\" (\"charset\" "
	    "\"us-ascii\") NIL NIL \"7bit\" 23 2 NIL NIL NIL NIL))\r\n");
}

static void
test_sections(void)
{
	char want[1024];

	CHECK_STREQ(test_fetch("BODY[1]", false, 2),
	    "* 2 FETCH (BODY[1] {13}\r\nPart one text)\r\n");
	CHECK_STREQ(test_fetch("BODY.PEEK[2.MIME]", false, 2),
	    "* 2 FETCH (BODY[2.MIME] {72}\r\n" MSG2_P2_MIME ")\r\n");
	CHECK_STREQ(test_fetch("BODY.PEEK[2]", false, 2),
	    "* 2 FETCH (BODY[2] {10}\r\n<p>two</p>)\r\n");
	CHECK_STREQ(test_fetch("BODY.PEEK[HEADER.FIELDS (FROM)]", false, 1),
	    "* 1 FETCH (BODY[HEADER.FIELDS (FROM)] {35}\r\n"
	    "From: Alice <alice@example.com>\r\n\r\n)\r\n");
	CHECK_STREQ(test_fetch("BODY.PEEK[header.fields.not (From To Date "
	    "Message-ID)]", false, 1),
	    "* 1 FETCH (BODY[HEADER.FIELDS.NOT (From To Date Message-ID)] "
	    "{18}\r\nSubject: Hello\r\n\r\n)\r\n");
	/* no field matches: the blank line alone */
	CHECK_STREQ(test_fetch("BODY.PEEK[HEADER.FIELDS (X-NONE)]", false, 1),
	    "* 1 FETCH (BODY[HEADER.FIELDS (X-NONE)] {2}\r\n\r\n)\r\n");
	/* RFC 3501 7.4.2: the origin only in the response */
	CHECK_STREQ(test_fetch("BODY[TEXT]<2.5>", false, 1),
	    "* 1 FETCH (BODY[TEXT]<2> {5}\r\nllo w)\r\n");
	/* a partial range running past the end is clipped; one starting
	 * there is empty */
	CHECK_STREQ(test_fetch("BODY[TEXT]<20.100>", false, 1),
	    "* 1 FETCH (BODY[TEXT]<20> {3}\r\no\r\n)\r\n");
	CHECK_STREQ(test_fetch("BODY[TEXT]<23.100>", false, 1),
	    "* 1 FETCH (BODY[TEXT]<23> \"\")\r\n");
	CHECK_STREQ(test_fetch("BODY[TEXT]<1000.5>", false, 1),
	    "* 1 FETCH (BODY[TEXT]<1000> \"\")\r\n");
	/* a CRLF split by the origin */
	CHECK_STREQ(test_fetch("BODY.PEEK[]<14.3>", false, 5),
	    "* 5 FETCH (BODY[]<14> {3}\r\nd\r\n)\r\n");
	CHECK_STREQ(test_fetch("BODY.PEEK[]<16.3>", false, 5),
	    "* 5 FETCH (BODY[]<16> {3}\r\n\n\r\n)\r\n");
	CHECK_STREQ(test_fetch("BODY.PEEK[]<18.3>", false, 5),
	    "* 5 FETCH (BODY[]<18> {3}\r\n\nbo)\r\n");
	/* parts that do not exist */
	CHECK_STREQ(test_fetch("BODY[3]", false, 2),
	    "* 2 FETCH (BODY[3] \"\")\r\n");
	CHECK_STREQ(test_fetch("BODY[1.2]", false, 2),
	    "* 2 FETCH (BODY[1.2] \"\")\r\n");
	CHECK_STREQ(test_fetch("BODY[1.HEADER]", false, 2),
	    "* 2 FETCH (BODY[1.HEADER] \"\")\r\n");
	CHECK_STREQ(test_fetch("BODY[2]", false, 1),
	    "* 1 FETCH (BODY[2] \"\")\r\n");
	/* part 1 of a single-part message is its body */
	CHECK_STREQ(test_fetch("BODY[1]", false, 1),
	    "* 1 FETCH (BODY[1] {23}\r\n" MSG1_BODY ")\r\n");
	/* the RFC822 forms answer under their own names */
	str_printf(want, sizeof(want), "* 1 FETCH (RFC822.HEADER {%zu}\r\n"
	    MSG1_HDR ")\r\n", sizeof(MSG1_HDR) - 1);
	CHECK_STREQ(test_fetch("RFC822.HEADER", false, 1), want);
	CHECK_STREQ(test_fetch("RFC822.TEXT", false, 1),
	    "* 1 FETCH (RFC822.TEXT {23}\r\n" MSG1_BODY ")\r\n");
	str_printf(want, sizeof(want), "* 1 FETCH (RFC822 {%zu}\r\n" MSG1
	    " BODY[] {%zu}\r\n" MSG1 ")\r\n", sizeof(MSG1) - 1,
	    sizeof(MSG1) - 1);
	CHECK_STREQ(test_fetch("(RFC822 BODY[] BODY.PEEK[])", false, 1),
	    want);
	/* order as asked, UID first for UID FETCH */
	str_printf(want, sizeof(want), "* 2 FETCH (UID 2 BODY[1] {13}\r\n"
	    "Part one text FLAGS () RFC822.SIZE %zu)\r\n", sizeof(MSG2) - 1);
	CHECK_STREQ(test_fetch("(BODY[1] FLAGS RFC822.SIZE)", true, 2),
	    want);
}

/* A last line without LF: the store's vsize counts a final CRLF (POP3
 * adds one); IMAP sends the file as it is and, with the file open,
 * reports the size of what it sends. */
static void
test_no_final_newline(void)
{
	char want[256];

	str_printf(want, sizeof(want), "* 4 FETCH (RFC822.SIZE %zu)\r\n",
	    sizeof(MSG4) - 1 + 2);
	CHECK_STREQ(test_fetch("RFC822.SIZE", false, 4), want);
	str_printf(want, sizeof(want), "* 4 FETCH (RFC822.SIZE %zu BODY[] "
	    "{%zu}\r\n" MSG4 ")\r\n", sizeof(MSG4) - 1, sizeof(MSG4) - 1);
	CHECK_STREQ(test_fetch("(RFC822.SIZE BODY.PEEK[])", false, 4), want);
	CHECK_STREQ(test_fetch("BODY.PEEK[TEXT]", false, 4),
	    "* 4 FETCH (BODY[TEXT] {10}\r\nno newline)\r\n");
}

/* \Seen set by the caller: FLAGS joins the response unless asked. */
static void
test_seen(void)
{
	struct imap_fetch *f;
	const char *error;
	struct buf all;
	size_t idx[] = { 0, 1 };
	bool seen[] = { false, true };

	buf_init(&all);
	CHECK(test_parse("BODY[1]", false, &f, &error) == 0);
	CHECK(imap_fetch_sets_seen(f));
	test_msgs[1].flags |= STORE_F_SEEN;
	test_render(f, idx, 2, seen, SIZE_MAX, &all);
	CHECK_STREQ(all.data,
	    "* 1 FETCH (BODY[1] {23}\r\n" MSG1_BODY ")\r\n"
	    "* 2 FETCH (BODY[1] {13}\r\nPart one text FLAGS (\\Seen))\r\n");
	imap_fetch_free(&f);
	CHECK(test_parse("(FLAGS BODY[1])", false, &f, &error) == 0);
	test_render(f, idx, 2, seen, SIZE_MAX, &all);
	CHECK_STREQ(all.data,
	    "* 1 FETCH (FLAGS (\\Seen) BODY[1] {23}\r\n" MSG1_BODY ")\r\n"
	    "* 2 FETCH (FLAGS (\\Seen) BODY[1] {13}\r\nPart one text)\r\n");
	imap_fetch_free(&f);
	test_msgs[1].flags &= (uint8_t)~STORE_F_SEEN;
	buf_deinit(&all);
}

#define ENV5 "* 5 FETCH (ENVELOPE (NIL \"doomed\" NIL NIL NIL NIL NIL NIL " \
	"NIL NIL))\r\n"

/* The file of a message is gone: no response, counted (RFC 2180 4.1.2);
 * what the cache holds is still answered without the file. */
static void
test_missing(void)
{
	struct imap_fetch *f;
	const char *error;
	struct buf all;
	size_t idx[] = { 0, 4, 1 };
	char dir[128], path[512];
	struct dirent *de;
	DIR *d;
	bool gone = false;

	buf_init(&all);
	/* fills message 5's cache */
	CHECK(strncmp(test_fetch("ENVELOPE", false, 5), ENV5,
	    strlen(ENV5)) == 0);
	str_printf(dir, sizeof(dir), "%s/Maildir/cur", test_root);
	if ((d = opendir(dir)) == NULL)
		fatal("opendir");
	while ((de = readdir(d)) != NULL) {
		if (strncmp(de->d_name, test_msgs[4].base,
		    strlen(test_msgs[4].base)) == 0) {
			str_printf(path, sizeof(path), "%s/%s", dir,
			    de->d_name);
			gone = unlink(path) == 0;
		}
	}
	closedir(d);
	CHECK(gone);

	CHECK(test_parse("(UID BODY.PEEK[TEXT])", false, &f, &error) == 0);
	test_render(f, idx, 3, NULL, SIZE_MAX, &all);
	CHECK_STREQ(all.data,
	    "* 1 FETCH (UID 1 BODY[TEXT] {23}\r\n" MSG1_BODY ")\r\n"
	    "* 2 FETCH (UID 2 BODY[TEXT] {172}\r\n"
	    "preamble\r\n--XX\r\nContent-Type: text/plain; charset=utf-8\r\n"
	    "\r\nPart one text\r\n--XX\r\n" MSG2_P2_MIME "<p>two</p>\r\n"
	    "--XX--\r\n)\r\n");
	CHECK(imap_fetch_missing(f) == 1);
	imap_fetch_free(&f);

	CHECK(test_parse("ENVELOPE", false, &f, &error) == 0);
	test_render(f, &idx[1], 1, NULL, SIZE_MAX, &all);
	CHECK(strncmp(all.data, ENV5, strlen(ENV5)) == 0);
	CHECK(imap_fetch_missing(f) == 0);
	imap_fetch_free(&f);
	/* flags need no file either */
	CHECK_STREQ(test_fetch("FLAGS", false, 5), "* 5 FETCH (FLAGS ())\r\n");
	buf_deinit(&all);
}

/* A 3 MB message in 64 KiB pieces gives the bytes of one call. */
static void
test_streaming(void)
{
	static const char *const requests[] = {
		"(UID BODY.PEEK[] RFC822.SIZE BODY.PEEK[TEXT]<100.2000000> "
		    "ENVELOPE)",
		"(BODY.PEEK[HEADER.FIELDS (SUBJECT)] BODY.PEEK[1]<1.3000000> "
		    "FLAGS)",
		"RFC822",
	};
	struct imap_fetch *f;
	const char *error;
	struct buf one, many;
	size_t idx[] = { 0, 2, 1, 2 };
	size_t calls;
	char head[128];

	buf_init(&one);
	buf_init(&many);
	for (size_t r = 0; r < ARRAY_SIZE(requests); r++) {
		CHECK(test_parse(requests[r], false, &f, &error) == 0);
		calls = test_render(f, idx, ARRAY_SIZE(idx), NULL, SIZE_MAX,
		    &one);
		CHECK(calls == 1);
		imap_fetch_free(&f);

		CHECK(test_parse(requests[r], false, &f, &error) == 0);
		calls = test_render(f, idx, ARRAY_SIZE(idx), NULL, 64 * 1024,
		    &many);
		CHECK_MSG(calls >= 90, "%zu calls", calls);
		CHECK(one.len == many.len);
		CHECK(one.len > 6000000);
		CHECK(memcmp(one.data, many.data, one.len) == 0);
		imap_fetch_free(&f);
	}
	/* a budget of one octet: the same bytes again */
	CHECK(test_parse(requests[1], false, &f, &error) == 0);
	test_render(f, idx, 1, NULL, SIZE_MAX, &one);
	imap_fetch_free(&f);
	CHECK(test_parse(requests[1], false, &f, &error) == 0);
	calls = test_render(f, idx, 1, NULL, 1, &many);
	imap_fetch_free(&f);
	CHECK(calls > 30);
	CHECK(one.len == many.len);
	CHECK(memcmp(one.data, many.data, one.len) == 0);
	CHECK(test_parse(requests[2], false, &f, &error) == 0);
	test_render(f, idx, ARRAY_SIZE(idx), NULL, SIZE_MAX, &one);
	imap_fetch_free(&f);
	/* the big body is exactly the message as appended */
	str_printf(head, sizeof(head), "* 3 FETCH (RFC822 {%zu}\r\n",
	    test_big.len);
	CHECK(strstr(one.data, head) != NULL);
	CHECK(memcmp(strstr(one.data, head) + strlen(head), test_big.data,
	    test_big.len) == 0);

	/* freeing in the middle of a literal */
	CHECK(test_parse("BODY.PEEK[]", false, &f, &error) == 0);
	buf_reset(&many);
	CHECK(!imap_fetch_render(f, test_mb, &test_view, test_msgs, &idx[1],
	    1, NULL, &many, 1000));
	imap_fetch_free(&f);
	buf_deinit(&one);
	buf_deinit(&many);
}

int
main(void)
{
	test_setup();
	test_parse_errors();
	test_parse_flags();
	test_simple();
	test_structure();
	test_sections();
	test_no_final_newline();
	test_seen();
	test_missing();
	test_streaming();
	store_imsgs_free(test_msgs, test_count);
	store_mailbox_close(&test_mb);
	buf_deinit(&test_big);
	buf_deinit(&test_out);
	nftw(test_root, test_rm_cb, 16, FTW_DEPTH | FTW_PHYS);
	return t_done("imap_fetch");
}
