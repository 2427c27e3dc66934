/*
 * test_imap_search.c: SEARCH (RFC 3501 6.4.4) over a real Maildir: eight
 * messages appended through the store (RFC 2047 subjects and names in
 * UTF-8 and ISO-8859-1, quoted-printable and base64 bodies, a multipart
 * with an attachment, dates in several zones, a missing and a broken
 * Date:, flags, keywords, \Recent), searched with keys read by the real
 * command parser. Every key, OR/NOT/lists, sequence and UID sets with
 * "*", CHARSET, parse errors and limits, and a message whose file
 * vanished (only keys that need the file stop matching it).
 */
#include <sys/stat.h>

#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "t.h"

#include "imap/imap_internal.h"
#include "imap/imap_parser.h"
#include "lib/buf.h"
#include "lib/util.h"
#include "store/mailbox.h"

static char test_root[64];

static struct {
	char maildir[128];
	struct store_mailbox *mb;
	struct store_view v;
	struct store_imsg *msgs;
	size_t count;
} T;

/* ---- helpers ---- */

static int
test_rm_cb(const char *path, const struct stat *st, int flag,
    struct FTW *ftw)
{
	remove(path);
	return 0;
}

static int
test_no_spool(void *ctx)
{
	return -1;
}

static time_t
test_utc(int y, int mon, int d, int h, int mi, int s)
{
	struct tm tm;

	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mon - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = s;
	return timegm(&tm);
}

/* Appends msg (LF line ends in the source, sent with CRLF as a client
 * would) to INBOX. */
static void
test_append(const char *msg, uint8_t flags, const char *keywords,
    time_t idate)
{
	char path[128];
	struct buf b;
	const char *error = NULL;
	uint32_t uidvalidity, uid;
	int fd;

	buf_init(&b);
	for (const char *p = msg; *p != '\0'; p++) {
		if (*p == '\n')
			buf_append(&b, "\r", 1);
		buf_append(&b, p, 1);
	}
	if (str_printf(path, sizeof(path), "%s/append.tmp", test_root) < 0)
		fatal("path");
	if ((fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600)) < 0 ||
	    write(fd, b.data, b.len) != (ssize_t)b.len)
		fatal("cannot write %s", path);
	CHECK_MSG(store_append(T.mb, "INBOX", fd, b.len, flags, keywords,
	    idate, &uidvalidity, &uid, &error) == STORE_OK, "append: %s",
	    t_str(error));
	close(fd);
	unlink(path);
	buf_deinit(&b);
}

/*
 * Runs "a SEARCH <keys>" through the command parser and imap_search_parse.
 * The parser is freed before the search runs: the search keeps copies.
 */
static int
test_parse_n(const char *keys, size_t keys_len, struct imap_search **s_r,
    bool *bad_cs_r, const char **error_r)
{
	struct imap_parser *p;
	struct imap_command *cmd;
	struct buf line;
	enum imap_parse_status st = IMAP_PARSE_MORE;
	size_t off = 0, used;
	int ret;

	buf_init(&line);
	buf_append_str(&line, "a SEARCH ");
	buf_append(&line, keys, keys_len);
	buf_append_str(&line, "\r\n");
	p = imap_parser_new(NULL, test_no_spool, NULL);
	while (off < line.len) {
		st = imap_parser_feed(p, line.data + off, line.len - off,
		    &used);
		off += used;
		if (st != IMAP_PARSE_MORE && st != IMAP_PARSE_CONTINUE)
			break;
	}
	if (st != IMAP_PARSE_COMMAND) {
		const char *tag;

		*error_r = imap_parser_error(p, &tag);
		*bad_cs_r = false;
		ret = -2;
	} else {
		cmd = imap_parser_command(p);
		ret = imap_search_parse(cmd->args, cmd->nargs, s_r, bad_cs_r,
		    error_r);
	}
	imap_parser_free(&p);
	buf_deinit(&line);
	return ret;
}

static int
test_parse(const char *keys, struct imap_search **s_r, bool *bad_cs_r,
    const char **error_r)
{
	return test_parse_n(keys, strlen(keys), s_r, bad_cs_r, error_r);
}

/* The sequence numbers matched, "1 3 5". */
static void
test_format(const bool *match, size_t count, char *out, size_t size)
{
	struct buf b;

	buf_init(&b);
	for (size_t i = 0; i < count; i++) {
		if (match[i])
			buf_printf(&b, "%s%zu", b.len > 0 ? " " : "", i + 1);
	}
	str_lcpy(out, b.data != NULL ? b.data : "", size);
	buf_deinit(&b);
}

static void
test_search_in(int line, const struct store_imsg *msgs, size_t count,
    const char *keys, const char *expect)
{
	struct imap_search *s = NULL;
	const char *error = NULL;
	bool bad_cs, match[16];
	char got[128];

	if (test_parse(keys, &s, &bad_cs, &error) != 0) {
		CHECK_MSG(false, "line %d: %s: parse: %s", line, keys,
		    t_str(error));
		return;
	}
	if (imap_search_run(s, T.mb, &T.v, msgs, count, match, &error) < 0) {
		CHECK_MSG(false, "line %d: %s: run: %s", line, keys,
		    t_str(error));
	} else {
		test_format(match, count, got, sizeof(got));
		CHECK_MSG(strcmp(got, expect) == 0,
		    "line %d: %s: got '%s', want '%s'", line, keys, got,
		    expect);
	}
	imap_search_free(&s);
	CHECK(s == NULL);
}

#define TS(keys, expect) \
	test_search_in(__LINE__, T.msgs, T.count, (keys), (expect))

/* keys must give BAD (or NO [BADCHARSET] when charset). */
static void
test_bad_at(int line, const char *keys, bool charset)
{
	struct imap_search *s = NULL;
	const char *error = NULL;
	bool bad_cs = !charset;
	int ret;

	ret = test_parse(keys, &s, &bad_cs, &error);
	CHECK_MSG(ret == -1 && s == NULL && error != NULL &&
	    bad_cs == charset, "line %d: %s: ret %d error '%s' charset %d",
	    line, keys, ret, t_str(error), bad_cs);
	imap_search_free(&s);
}

#define TBAD(keys) test_bad_at(__LINE__, (keys), false)

static bool
test_needs_store(const char *keys)
{
	struct imap_search *s = NULL;
	const char *error;
	bool bad_cs, needs;

	if (test_parse(keys, &s, &bad_cs, &error) != 0)
		return false;
	needs = imap_search_needs_store(s);
	imap_search_free(&s);
	return needs;
}

/* ---- the mailbox ---- */

static const char msg1[] =
    "Date: Mon, 1 Jan 2024 10:00:00 +0000\n"
    "From: Alice Example <alice@example.org>\n"
    "To: Bob <bob@example.com>\n"
    "Cc: carol@example.net\n"
    "Subject: Lunch plans\n"
    "Message-ID: <m1@example.org>\n"
    "\n"
    "Let's meet at noon near the fountain.\n";

/* RFC 2047 B-encoded UTF-8 subject; a quoted-printable body with a soft
 * line break; sent late on the 2nd in -0500, the 3rd in UTC. */
static const char msg2[] =
    "Date: Tue, 2 Jan 2024 23:30:00 -0500\n"
    "From: \"Bob\" <bob@example.com>\n"
    "To: alice@example.org\n"
    "Subject: =?UTF-8?B?Q2Fmw6kgdGltZQ==?=\n"
    "MIME-Version: 1.0\n"
    "Content-Type: text/plain; charset=utf-8\n"
    "Content-Transfer-Encoding: quoted-printable\n"
    "\n"
    "Caf=C3=A9 au lait is =\n"
    "ready in the kitchen.\n";

/* ISO-8859-1 Q-encoded name and subject, a base64 body, an obsolete
 * date without seconds or weekday. */
static const char msg3[] =
    "Date: 5 Jan 2024 08:00 +0100\n"
    "From: =?ISO-8859-1?Q?Andr=E9?= <andre@example.fr>\n"
    "To: alice@example.org\n"
    "Bcc: secret-list@example.org\n"
    "Subject: =?ISO-8859-1?Q?R=E9sum=E9_attached?=\n"
    "MIME-Version: 1.0\n"
    "Content-Type: text/plain; charset=us-ascii\n"
    "Content-Transfer-Encoding: base64\n"
    "\n"
    "VGhlIHF1aWNrIGJyb3duIGZveCBqdW1wcyBvdmVyIHRoZSBsYXp5IGRvZy4NCg==\n";

/* No Date: at all. */
static const char msg4[] =
    "From: dave@example.com\n"
    "To: bob@example.com\n"
    "Subject: no date here\n"
    "X-Priority: 1\n"
    "\n"
    "Plain text without a date header.\n";

/* The big one is built at run time (msg5_head + filler + msg5_tail). */
static const char msg5_head[] =
    "Date: Wed, 31 Jan 2024 23:59:59 +0000\n"
    "From: Eve <eve@example.com>\n"
    "To: \"Team List\" <list@example.org>, frank@example.com\n"
    "Cc: =?UTF-8?Q?Gr=C3=A9gory?= <greg@example.net>\n"
    "Subject: Quarterly report\n"
    "MIME-Version: 1.0\n"
    "Content-Type: multipart/mixed; boundary=\"XYZ\"\n"
    "\n"
    "--XYZ\n"
    "Content-Type: text/plain; charset=iso-8859-1\n"
    "Content-Transfer-Encoding: quoted-printable\n"
    "\n"
    "The numbers look good, na=EFve optimism aside.\n";
static const char msg5_tail[] =
    "--XYZ\n"
    "Content-Type: application/octet-stream\n"
    "Content-Transfer-Encoding: base64\n"
    "\n"
    "aGlkZGVud29yZCBpbnNpZGUgYW4gYXR0YWNobWVudA==\n"
    "--XYZ--\n";

static const char msg6[] =
    "Date: sometime yesterday\n"
    "From: alice@example.org\n"
    "To: bob@example.com\n"
    "Subject: Re: Lunch plans\n"
    "In-Reply-To: <m1@example.org>\n"
    "\n"
    "Sounds good.\n";

/* Two Received: fields, a folded Subject, an empty field; sent on the
 * 15th at +0200, the 14th in UTC. */
static const char msg7[] =
    "Received: from mx1.example.net by mail.example.org\n"
    "Received: from mx2.example.net by mx1.example.net\n"
    "Date: Thu, 15 Feb 2024 01:00:00 +0200\n"
    "From: Weekly Digest <digest@example.net>\n"
    "To: alice@example.org\n"
    "Subject: Weekly\n"
    " digest of news\n"
    "X-Empty:\n"
    "\n"
    "Headlines only.\n";

static const char msg8[] =
    "Subject: tiny\n"
    "\n"
    "x\n";

/*
 * Flags after the second select: 1 S ($Work), 2 A F, 3 DR ($Work
 * Urgent), 4 D, 5 S F, 6 none, 7 S R (urgent), 8 R.
 */
static void
test_setup(void)
{
	struct store_imsg *first;
	size_t nfirst;
	const char *error = NULL;
	struct buf big;

	str_lcpy(test_root, "/tmp/facteur-search-XXXXXX", sizeof(test_root));
	if (mkdtemp(test_root) == NULL)
		fatal("mkdtemp");
	if (str_printf(T.maildir, sizeof(T.maildir), "%s/Maildir",
	    test_root) < 0)
		fatal("path");
	if ((T.mb = store_mailbox_open(T.maildir, &error)) == NULL)
		fatal("store_mailbox_open: %s", error);

	buf_init(&big);
	buf_append_str(&big, msg5_head);
	for (int i = 0; i < 40; i++)
		buf_append_str(&big, "Lorem ipsum dolor sit amet, "
		    "consectetur adipiscing elit.\n");
	buf_append_str(&big, msg5_tail);

	test_append(msg1, STORE_F_SEEN, "$Work",
	    test_utc(2024, 1, 1, 12, 0, 0));
	test_append(msg2, STORE_F_ANSWERED | STORE_F_FLAGGED, NULL,
	    test_utc(2024, 1, 3, 4, 30, 0));
	test_append(msg3, STORE_F_DRAFT, "$Work Urgent",
	    test_utc(2024, 1, 5, 7, 0, 0));
	test_append(msg4, STORE_F_DELETED, NULL,
	    test_utc(2024, 2, 10, 0, 0, 0));
	test_append(big.data, STORE_F_SEEN | STORE_F_FLAGGED, NULL,
	    test_utc(2024, 2, 1, 0, 30, 0));
	test_append(msg6, 0, NULL, test_utc(2023, 12, 31, 23, 59, 59));
	buf_deinit(&big);

	/* A first select claims 1-6 as \Recent; the next sees 7 and 8 as
	 * the only recent ones. */
	if (store_folder_select(T.mb, "INBOX", false, &T.v, &first, &nfirst,
	    &error) != STORE_OK)
		fatal("select: %s", error);
	CHECK(nfirst == 6);
	store_imsgs_free(first, nfirst);

	test_append(msg7, STORE_F_SEEN, "urgent",
	    test_utc(2024, 2, 14, 23, 0, 0));
	test_append(msg8, 0, NULL, test_utc(2024, 3, 1, 10, 0, 0));
	if (store_folder_select(T.mb, "INBOX", false, &T.v, &T.msgs, &T.count,
	    &error) != STORE_OK)
		fatal("select: %s", error);
	CHECK(T.count == 8);
	if (T.count != 8)
		fatal("expected 8 messages");
	for (size_t i = 0; i < T.count; i++)
		CHECK(T.msgs[i].uid == i + 1);
	CHECK((T.msgs[6].flags & STORE_F_RECENT) != 0);
	CHECK((T.msgs[0].flags & STORE_F_RECENT) == 0);
}

/* ---- the cases ---- */

static void
test_flags(void)
{
	TS("ALL", "1 2 3 4 5 6 7 8");
	TS("all", "1 2 3 4 5 6 7 8");
	TS("ANSWERED", "2");
	TS("UNANSWERED", "1 3 4 5 6 7 8");
	TS("DELETED", "4");
	TS("UNDELETED", "1 2 3 5 6 7 8");
	TS("DRAFT", "3");
	TS("UNDRAFT", "1 2 4 5 6 7 8");
	TS("FLAGGED", "2 5");
	TS("UNFLAGGED", "1 3 4 6 7 8");
	TS("SEEN", "1 5 7");
	TS("UNSEEN", "2 3 4 6 8");
	/* RFC 3501 6.4.4: NEW is RECENT UNSEEN, OLD is NOT RECENT */
	TS("RECENT", "7 8");
	TS("OLD", "1 2 3 4 5 6");
	TS("NEW", "8");
	TS("KEYWORD $Work", "1 3");
	TS("keyword $WORK", "1 3");
	TS("KEYWORD urgent", "3 7");
	TS("KEYWORD nothing", "");
	TS("UNKEYWORD urgent", "1 2 4 5 6 8");
	TS("UNKEYWORD nothing", "1 2 3 4 5 6 7 8");
}

static void
test_sizes(void)
{
	char keys[64];
	uint64_t small = T.msgs[7].vsize;

	CHECK(small < 100);
	CHECK(T.msgs[4].vsize > 2000);
	for (size_t i = 0; i < T.count; i++) {
		if (i != 4 && i != 7)
			CHECK(T.msgs[i].vsize > 100 && T.msgs[i].vsize < 2000);
	}
	TS("LARGER 2000", "5");
	TS("SMALLER 100", "8");
	/* strictly larger / smaller than the number */
	str_printf(keys, sizeof(keys), "SMALLER %llu",
	    (unsigned long long)small);
	TS(keys, "");
	str_printf(keys, sizeof(keys), "SMALLER %llu",
	    (unsigned long long)small + 1);
	TS(keys, "8");
	str_printf(keys, sizeof(keys), "LARGER %llu",
	    (unsigned long long)small);
	TS(keys, "1 2 3 4 5 6 7");
	TS("LARGER 0", "1 2 3 4 5 6 7 8");
	TS("SMALLER 0", "");
	TS("LARGER 4294967295", "");
}

static void
test_headers(void)
{
	TS("FROM alice", "1 6");
	TS("FROM ALICE@EXAMPLE.ORG", "1 6");
	TS("FROM example.com", "2 4 5");
	/* RFC 2047 Q-encoded ISO-8859-1, matched case-insensitively */
	TS("FROM Andr\xc3\xa9", "3");
	TS("FROM \"ANDR\xc3\x89 <andre\"", "3");
	TS("TO alice", "2 3 7");
	TS("TO \"team list\"", "5");
	TS("TO frank", "5");
	TS("CC carol", "1");
	TS("CC GR\xc3\x89GORY", "5");
	TS("BCC secret", "3");
	TS("SUBJECT lunch", "1 6");
	/* RFC 2047 B-encoded UTF-8 */
	TS("SUBJECT caf\xc3\xa9", "2");
	TS("SUBJECT \"CAF\xc3\x89 TIME\"", "2");
	TS("SUBJECT caf", "2");
	TS("SUBJECT r\xc3\xa9sum\xc3\xa9", "3");
	TS("SUBJECT \"r\xc3\xa9sum\xc3\xa9 attached\"", "3");
	/* folded: the line end goes, the white space stays */
	TS("SUBJECT \"weekly digest\"", "7");
	TS("SUBJECT {5}\r\ncaf\xc3\xa9", "2");
	/* an empty string: the messages that have the field */
	TS("SUBJECT \"\"", "1 2 3 4 5 6 7 8");
	TS("CC \"\"", "1 5");
	TS("HEADER X-Priority \"\"", "4");
	TS("HEADER x-empty \"\"", "7");
	TS("HEADER X-Empty x", "");
	TS("HEADER X-PRIORITY 1", "4");
	TS("HEADER Message-ID \"\"", "1");
	TS("HEADER In-Reply-To m1@example", "6");
	/* every occurrence counts */
	TS("HEADER Received mx2", "7");
	TS("HEADER Received mx1", "7");
	TS("HEADER Nope \"\"", "");
}

static void
test_bodies(void)
{
	TS("BODY fountain", "1");
	/* quoted-printable soft line break */
	TS("BODY \"caf\xc3\xa9 au lait is ready\"", "2");
	TS("BODY \"CAF\xc3\x89 AU\"", "2");
	/* base64 */
	TS("BODY \"lazy dog\"", "3");
	/* ISO-8859-1 quoted-printable, Latin-1 case folding */
	TS("BODY NA\xc3\x8fVE", "5");
	TS("BODY ipsum", "5");
	/* attachments are not text */
	TS("BODY hiddenword", "");
	/* BODY leaves the header out, TEXT takes it in */
	TS("BODY lunch", "");
	TS("TEXT lunch", "1 6");
	TS("TEXT fountain", "1");
	TS("TEXT Andr\xc3\xa9", "3");
	TS("TEXT secret-list", "3");
	TS("TEXT hiddenword", "");
	TS("BODY \"\"", "1 2 3 4 5 6 7 8");
}

static void
test_dates(void)
{
	/* INTERNALDATE's day in UTC */
	TS("ON 1-Jan-2024", "1");
	TS("ON 01-Jan-2024", "1");
	TS("ON \"1-Jan-2024\"", "1");
	TS("ON 3-jan-2024", "2");
	TS("ON 2-Jan-2024", "");
	TS("ON 10-Feb-2024", "4");
	TS("ON 14-Feb-2024", "7");
	TS("ON 31-Jan-2024", "");
	TS("BEFORE 1-Jan-2024", "6");
	TS("BEFORE 10-Feb-2024", "1 2 3 5 6");
	TS("SINCE 10-Feb-2024", "4 7 8");
	TS("SINCE 1-Jan-2000", "1 2 3 4 5 6 7 8");
	TS("SINCE 1-Jan-2030", "");
	/* the Date: field's day as written, in its own zone */
	TS("SENTON 2-Jan-2024", "2");
	TS("SENTON 3-Jan-2024", "");
	TS("SENTON 5-Jan-2024", "3");
	TS("SENTON 31-Jan-2024", "5");
	TS("SENTON 15-Feb-2024", "7");
	TS("SENTON 14-Feb-2024", "");
	/* no Date: (4, 8) or an unreadable one (6): INTERNALDATE */
	TS("SENTON 10-Feb-2024", "4");
	TS("SENTON 31-Dec-2023", "6");
	TS("SENTON 1-Mar-2024", "8");
	TS("SENTBEFORE 1-Jan-2024", "6");
	TS("SENTBEFORE 1-Feb-2024", "1 2 3 5 6");
	TS("SENTSINCE 1-Feb-2024", "4 7 8");
	TS("SENTSINCE 2-Jan-2024 SENTBEFORE 3-Jan-2024", "2");
}

static void
test_sets(void)
{
	TS("1", "1");
	TS("2:4", "2 3 4");
	TS("4:2", "2 3 4");
	TS("*", "8");
	TS("7:*", "7 8");
	TS("*:7", "7 8");
	TS("1,3,5:6", "1 3 5 6");
	/* beyond the last message: matches nothing there */
	TS("9", "");
	TS("6:100", "6 7 8");
	TS("UID 2:3", "2 3");
	TS("UID *", "8");
	TS("uid 1,*", "1 8");
	/* RFC 3501 6.4.8: 100:* includes the highest UID */
	TS("UID 100:*", "8");
	TS("UID 9:10", "");
	TS("2:6 UID 4:*", "4 5 6");
	TS("NOT 2:7", "1 8");

	/* A folder of UIDs 5..8 at sequence numbers 1..4. */
	test_search_in(__LINE__, T.msgs + 4, 4, "UID 6:*", "2 3 4");
	test_search_in(__LINE__, T.msgs + 4, 4, "UID 1:2", "");
	test_search_in(__LINE__, T.msgs + 4, 4, "UID 1:5", "1");
	test_search_in(__LINE__, T.msgs + 4, 4, "*", "4");
	test_search_in(__LINE__, T.msgs + 4, 4, "2:* SEEN", "3");
	/* an empty folder: "*" is 0 and matches nothing */
	test_search_in(__LINE__, T.msgs, 0, "UID *", "");
	test_search_in(__LINE__, T.msgs, 0, "*", "");
}

static void
test_logic(void)
{
	TS("SEEN FLAGGED", "5");
	TS("FROM alice BEFORE 1-Jan-2024", "6");
	TS("OR FROM alice SUBJECT caf\xc3\xa9", "1 2 6");
	TS("or from ALICE subject CAF\xc3\x89", "1 2 6");
	TS("NOT SEEN", "2 3 4 6 8");
	TS("NOT NOT SEEN", "1 5 7");
	TS("(SEEN FROM alice)", "1");
	TS("OR (FLAGGED SEEN) DRAFT", "3 5");
	TS("OR SEEN OR DRAFT DELETED", "1 3 4 5 7");
	TS("NOT (OR FROM alice FROM bob)", "3 4 5 7 8");
	TS("((((SEEN))))", "1 5 7");
	TS("NOT (SEEN NOT FLAGGED)", "2 3 4 5 6 8");
	TS("OR BODY fountain TEXT hiddenword", "1");
	TS("NOT BODY fountain", "2 3 4 5 6 7 8");
	TS("OR NOT SEEN SUBJECT lunch", "1 2 3 4 6 8");
	TS("UNDELETED OR SENTON 10-Feb-2024 SUBJECT tiny", "8");
	/* CHARSET: UTF-8 and US-ASCII only */
	TS("CHARSET UTF-8 SUBJECT caf\xc3\xa9", "2");
	TS("charset \"utf-8\" SEEN", "1 5 7");
	TS("CHARSET US-ASCII FROM dave", "4");
	test_bad_at(__LINE__, "CHARSET ISO-8859-1 SUBJECT x", true);
	test_bad_at(__LINE__, "CHARSET KOI8-R ALL", true);
}

static void
test_errors(void)
{
	struct imap_search *s = NULL;
	struct imap_arg args[2];
	const char *error = NULL;
	bool bad_cs;
	struct buf b;

	TBAD("");
	TBAD("FOO");
	TBAD("SEEN BOGUS");
	TBAD("FROM");
	TBAD("SUBJECT (x)");
	TBAD("HEADER X-Priority");
	TBAD("HEADER");
	TBAD("KEYWORD");
	TBAD("SINCE");
	TBAD("SINCE 32-Jan-2024");
	TBAD("SINCE yesterday");
	TBAD("SENTON 2024-01-01");
	TBAD("ON 1-Foo-2024");
	TBAD("LARGER");
	TBAD("LARGER abc");
	TBAD("LARGER -1");
	TBAD("LARGER 4294967296");
	TBAD("SMALLER \"10\"");
	TBAD("OR SEEN");
	TBAD("OR");
	TBAD("NOT");
	TBAD("()");
	TBAD("(SEEN) ()");
	TBAD("0");
	TBAD("1:0");
	TBAD("1,");
	TBAD("2abc");
	TBAD("UID");
	TBAD("UID abc");
	TBAD("UID (1)");
	TBAD("\"SEEN\"");
	TBAD("CHARSET");
	TBAD("CHARSET UTF-8");
	TBAD("CHARSET (UTF-8) ALL");
	/* RFC 3501 9: CHAR8 excludes NUL */
	CHECK(test_parse_n("SUBJECT {3}\r\na\0b", 16, &s, &bad_cs,
	    &error) == -1);
	CHECK(s == NULL && !bad_cs);

	/* nesting and key count limits */
	buf_init(&b);
	/* the 32nd NOT puts SEEN at depth 33 */
	for (int i = 0; i < 32; i++)
		buf_append_str(&b, "NOT ");
	buf_append_str(&b, "SEEN");
	TBAD(b.data);
	buf_reset(&b);
	for (int i = 0; i < 31; i++)
		buf_append_str(&b, "NOT ");
	buf_append_str(&b, "SEEN");
	TS(b.data, "2 3 4 6 8");
	buf_reset(&b);
	for (int i = 0; i < 1001; i++)
		buf_append_str(&b, "SEEN ");
	buf_append_str(&b, "ALL");
	TBAD(b.data);
	buf_reset(&b);
	for (int i = 0; i < 999; i++)
		buf_append_str(&b, "UNDRAFT ");
	buf_append_str(&b, "FLAGGED");
	TS(b.data, "2 5");
	buf_deinit(&b);

	/* a literal the parser spooled to a file */
	memset(args, 0, sizeof(args));
	args[0].type = IMAP_ARG_ATOM;
	args[0].str = (char *)"BODY";
	args[0].len = 4;
	args[0].fd = -1;
	args[1].type = IMAP_ARG_LITERAL;
	args[1].str = NULL;
	args[1].len = 1 << 20;
	args[1].fd = 99;
	CHECK(imap_search_parse(args, 2, &s, &bad_cs, &error) == -1);
	CHECK(s == NULL && !bad_cs);
	CHECK_STREQ(error, "Literal too large for SEARCH");
	/* nothing at all */
	CHECK(imap_search_parse(args, 0, &s, &bad_cs, &error) == -1);
	CHECK(s == NULL && error != NULL);
}

static void
test_needs(void)
{
	CHECK(!test_needs_store("SEEN FLAGGED 1:* UID 2 LARGER 5 SMALLER 9"));
	CHECK(!test_needs_store("ON 1-Jan-2024 BEFORE 1-Jan-2024 "
	    "SINCE 1-Jan-2024 KEYWORD x UNKEYWORD y NEW OLD RECENT ALL"));
	CHECK(!test_needs_store("OR (NOT DELETED) NOT (DRAFT ANSWERED)"));
	CHECK(test_needs_store("FROM x"));
	CHECK(test_needs_store("TO x"));
	CHECK(test_needs_store("CC x"));
	CHECK(test_needs_store("BCC x"));
	CHECK(test_needs_store("SUBJECT x"));
	CHECK(test_needs_store("HEADER a b"));
	CHECK(test_needs_store("BODY x"));
	CHECK(test_needs_store("TEXT x"));
	CHECK(test_needs_store("SENTON 1-Jan-2024"));
	CHECK(test_needs_store("SENTBEFORE 1-Jan-2024"));
	CHECK(test_needs_store("SENTSINCE 1-Jan-2024"));
	CHECK(test_needs_store("NOT OR SEEN (DRAFT BODY x)"));
}

/* The parsed search is kept and run twice: sets are resolved per run. */
static void
test_rerun(void)
{
	struct imap_search *s = NULL;
	const char *error = NULL;
	bool bad_cs, match[8];
	char got[64];

	CHECK(test_parse("7:* UID 2:*", &s, &bad_cs, &error) == 0);
	if (s == NULL)
		return;
	CHECK(imap_search_run(s, T.mb, &T.v, T.msgs, T.count, match,
	    &error) == 0);
	test_format(match, T.count, got, sizeof(got));
	CHECK_STREQ(got, "7 8");
	CHECK(imap_search_run(s, T.mb, &T.v, T.msgs, 5, match, &error) == 0);
	test_format(match, 5, got, sizeof(got));
	CHECK_STREQ(got, "5");
	imap_search_free(&s);
	imap_search_free(&s);
}

/* Removes the file of message 1 behind the store's back. */
static void
test_gone(void)
{
	char dir[256], path[512];
	struct dirent *de;
	size_t blen = strlen(T.msgs[0].base);
	DIR *d;
	int removed = 0;

	if (str_printf(dir, sizeof(dir), "%s/cur", T.maildir) < 0 ||
	    (d = opendir(dir)) == NULL)
		fatal("opendir %s", dir);
	while ((de = readdir(d)) != NULL) {
		if (strncmp(de->d_name, T.msgs[0].base, blen) == 0 &&
		    str_printf(path, sizeof(path), "%s/%s", dir,
		    de->d_name) >= 0 && unlink(path) == 0)
			removed++;
	}
	closedir(d);
	CHECK(removed == 1);

	/* keys that need the file drop it, even under NOT */
	TS("FROM alice", "6");
	TS("NOT FROM alice", "2 3 4 5 7 8");
	TS("SEEN FROM alice", "");
	TS("BODY fountain", "");
	TS("SENTSINCE 1-Jan-2000", "2 3 4 5 6 7 8");
	/* keys decided from the session's array never open it */
	TS("SEEN", "1 5 7");
	TS("OR SEEN FROM alice", "1 5 6 7");
	TS("OR KEYWORD $Work BODY fountain", "1 3");
	TS("UNSEEN FROM alice", "6");
}

int
main(void)
{
	test_setup();
	test_flags();
	test_sizes();
	test_headers();
	test_bodies();
	test_dates();
	test_sets();
	test_logic();
	test_errors();
	test_needs();
	test_rerun();
	test_gone();

	store_imsgs_free(T.msgs, T.count);
	store_mailbox_close(&T.mb);
	nftw(test_root, test_rm_cb, 16, FTW_DEPTH | FTW_PHYS);
	return t_done("imap_search");
}
