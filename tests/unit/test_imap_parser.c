/* Unit tests: the IMAP command parser (RFC 3501 9, RFC 7888), fed whole,
 * byte by byte and at every two-chunk split, and its pure helpers. */
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "t.h"

#include "imap/imap_parser.h"
#include "lib/buf.h"
#include "lib/util.h"

/* ---- a driver that turns a session into a trace string ---- */

struct spool_ctx {
	bool fail;
	int opened;
};

static int
spool_open(void *ctx)
{
	struct spool_ctx *sc = ctx;
	char path[] = "/tmp/test_imap_parser.XXXXXX";
	int fd;

	if (sc->fail)
		return -1;
	if ((fd = mkstemp(path)) < 0)
		return -1;
	unlink(path);
	sc->opened++;
	return fd;
}

static void
trace_bytes(struct buf *out, const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x20 || c >= 0x7f)
			buf_printf(out, "\\x%02x", c);
		else
			buf_append(out, &s[i], 1);
	}
}

static void
trace_args(struct buf *out, const struct imap_arg *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const struct imap_arg *a = &v[i];

		buf_append(out, " ", 1);
		switch (a->type) {
		case IMAP_ARG_ATOM:
			trace_bytes(out, a->str, a->len);
			break;
		case IMAP_ARG_NIL:
			buf_printf(out, "NIL<%s>", a->str);
			break;
		case IMAP_ARG_QUOTED:
			buf_append(out, "\"", 1);
			trace_bytes(out, a->str, a->len);
			buf_append(out, "\"", 1);
			break;
		case IMAP_ARG_LITERAL:
			buf_append(out, "{", 1);
			if (a->fd >= 0) {
				char *tmp = xmalloc(a->len + 1);
				ssize_t r = pread(a->fd, tmp, a->len, 0);

				buf_append_str(out, "fd:");
				trace_bytes(out, tmp, r < 0 ? 0 : (size_t)r);
				free(tmp);
			} else {
				CHECK(a->str != NULL && a->str[a->len] == '\0');
				trace_bytes(out, a->str, a->len);
			}
			buf_append(out, "}", 1);
			break;
		case IMAP_ARG_LIST:
			buf_append(out, "(", 1);
			trace_args(out, a->list, a->count);
			buf_append(out, " )", 2);
			break;
		}
	}
}

/*
 * Feeds one chunk; appends to the trace: "+@<offset>|" for CONTINUE,
 * "<tag> <NAME> args|" for a command, "E(<tag>:<msg>)|" for ERROR,
 * "T(..)|" for TOO_BIG, "F(..)|" for FATAL (then stops).
 */
static void
drive(struct imap_parser *p, const char *data, size_t len, size_t *off,
    bool *fatal, struct buf *out)
{
	while (len > 0 && !*fatal) {
		size_t used = 0;
		enum imap_parse_status st;
		const struct imap_command *cmd;
		const char *tag, *msg;

		st = imap_parser_feed(p, data, len, &used);
		if (used > len || (st == IMAP_PARSE_MORE && used != len)) {
			buf_append_str(out, "BUG|");
			*fatal = true;
			return;
		}
		data += used;
		len -= used;
		*off += used;
		switch (st) {
		case IMAP_PARSE_MORE:
			break;
		case IMAP_PARSE_CONTINUE:
			buf_printf(out, "+@%zu|", *off);
			break;
		case IMAP_PARSE_COMMAND:
			cmd = imap_parser_command(p);
			buf_printf(out, "%s %s", cmd->tag, cmd->name);
			trace_args(out, cmd->args, cmd->nargs);
			buf_append(out, "|", 1);
			imap_parser_reset(p);
			break;
		case IMAP_PARSE_ERROR:
		case IMAP_PARSE_TOO_BIG:
		case IMAP_PARSE_FATAL:
			msg = imap_parser_error(p, &tag);
			buf_printf(out, "%c(%s:%s)|",
			    st == IMAP_PARSE_ERROR ? 'E' :
			    st == IMAP_PARSE_TOO_BIG ? 'T' : 'F',
			    tag != NULL ? tag : "-", msg);
			if (st == IMAP_PARSE_FATAL)
				*fatal = true;
			else
				imap_parser_reset(p);
			break;
		}
	}
}

/* split 0: whole; 1: byte by byte; k > 1: two chunks at k - 1. */
static void
run(const struct imap_parser_limits *lim, struct spool_ctx *sc,
    const char *in, size_t len, size_t split, struct buf *out)
{
	struct imap_parser *p = imap_parser_new(lim, spool_open, sc);
	size_t off = 0;
	bool fatal = false;

	buf_reset(out);
	if (split == 0) {
		drive(p, in, len, &off, &fatal, out);
	} else if (split == 1) {
		for (size_t i = 0; i < len; i++)
			drive(p, in + i, 1, &off, &fatal, out);
	} else {
		drive(p, in, split - 1, &off, &fatal, out);
		drive(p, in + split - 1, len - (split - 1), &off, &fatal,
		    out);
	}
	imap_parser_free(&p);
	CHECK(p == NULL);
}

/* Checks the trace of in, whole and at every split. */
static void
check_session(const struct imap_parser_limits *lim, const char *in,
    size_t len, const char *want, int line)
{
	struct spool_ctx sc = { false, 0 };
	struct buf out;

	buf_init(&out);
	run(lim, &sc, in, len, 0, &out);
	CHECK_MSG(t_streq(out.data, want), "line %d: got '%s' want '%s'",
	    line, out.data, want);
	for (size_t split = 1; split <= len; split++) {
		run(lim, &sc, in, len, split, &out);
		CHECK_MSG(t_streq(out.data, want),
		    "line %d split %zu: got '%s' want '%s'", line, split,
		    out.data, want);
	}
	buf_deinit(&out);
}

#define SESSION(lim, in, want) \
	check_session((lim), (in), sizeof(in) - 1, (want), __LINE__)

static void
test_commands(void)
{
	/* RFC 3501 9: tag SP command CRLF */
	SESSION(NULL, "a1 NOOP\r\n", "a1 NOOP|");
	SESSION(NULL, "a1 noop\n", "a1 NOOP|");
	SESSION(NULL, "b1 NOOP\r\nb2 check\r\n", "b1 NOOP|b2 CHECK|");
	/* empty lines are ignored */
	SESSION(NULL, "\r\n\na9 NOOP\n\r\n", "a9 NOOP|");
	/* tags may hold ']' (ASTRING-CHAR) */
	SESSION(NULL, "x]1.A LOGOUT\r\n", "x]1.A LOGOUT|");
	/* quoted strings: \" and \\ (RFC 3501 9 quoted-specials) */
	SESSION(NULL, "a2 login user \"pa ss\\\"w\\\\\"\r\n",
	    "a2 LOGIN user \"pa ss\"w\\\"|");
	SESSION(NULL, "a2 SELECT \"\"\r\n", "a2 SELECT \"\"|");
	/* 8-bit in quoted strings: clients send UTF-8 */
	SESSION(NULL, "a2 SEARCH SUBJECT \"caf\xc3\xa9\"\r\n",
	    "a2 SEARCH SUBJECT \"caf\\xc3\\xa9\"|");
	/* NIL keeps its spelling for astrings */
	SESSION(NULL, "a3 X NIL nil \"NIL\"\r\n",
	    "a3 X NIL<NIL> NIL<nil> \"NIL\"|");
	/* nested lists, flags with '\', wildcards */
	SESSION(NULL, "a5 STORE 1:3,5 +FLAGS.SILENT (\\Seen \\Deleted)\r\n",
	    "a5 STORE 1:3,5 +FLAGS.SILENT ( \\Seen \\Deleted )|");
	SESSION(NULL, "a6 X ((a b) (c (d)) () NIL)\r\n",
	    "a6 X ( ( a b ) ( c ( d ) ) ( ) NIL<NIL> )|");
	SESSION(NULL, "a6 LIST \"\" %/*\r\n", "a6 LIST \"\" %/*|");
	/* bracket atoms: one argument up to the matching ']' */
	SESSION(NULL, "a7 FETCH 1:* (FLAGS BODY.PEEK[HEADER.FIELDS (DATE "
	    "FROM)]<0.512>)\r\n",
	    "a7 FETCH 1:* ( FLAGS BODY.PEEK[HEADER.FIELDS (DATE FROM)]"
	    "<0.512> )|");
	SESSION(NULL, "a7 FETCH 1 BODY[HEADER.FIELDS (\"X]\" TO)]\r\n",
	    "a7 FETCH 1 BODY[HEADER.FIELDS (\"X]\" TO)]|");
	SESSION(NULL, "a7 FETCH 1 (BODY[] BODY[1.2.MIME])\r\n",
	    "a7 FETCH 1 ( BODY[] BODY[1.2.MIME] )|");
	/* UID: the name stays generic */
	SESSION(NULL, "a8 uid fetch 1 (UID)\r\n", "a8 UID fetch 1 ( UID )|");
	/* lenient: extra spaces */
	SESSION(NULL, "a9  NOOP  \r\n", "a9 NOOP|");
	SESSION(NULL, "a9 X  a   b ( c ) \r\n", "a9 X a b ( c )|");
	/* '{' inside an atom is no literal */
	SESSION(NULL, "a9 SELECT a{3}\r\n", "a9 SELECT a{3}|");
}

static void
test_literals(void)
{
	struct imap_parser_limits lim = { 0 };
	char big[200];
	size_t n;

	/* RFC 3501 7.5: one continuation per synchronizing literal, right
	 * after its "{n}\r\n" */
	SESSION(NULL, "a3 LOGIN {4}\r\nuser {3}\r\npwd\r\n",
	    "+@14|+@24|a3 LOGIN {user} {pwd}|");
	/* RFC 7888: LITERAL+ has no continuation */
	SESSION(NULL, "a4 LOGIN {4+}\r\nuser {3+}\r\npwd\r\n",
	    "a4 LOGIN {user} {pwd}|");
	/* literal bytes are opaque: NUL, CRLF, parentheses */
	SESSION(NULL, "a4 X ({5}\r\na\0\r\n) b)\r\n",
	    "+@11|a4 X ( {a\\x00\\x0d\\x0a)} b )|");
	SESSION(NULL, "a4 X {0}\r\n\r\n", "+@10|a4 X {}|");
	SESSION(NULL, "a4 X {0+}\r\n {1}\n.\r\n", "+@16|a4 X {} {.}|");
	/* bigger than max_mem_literal: spooled to a file */
	lim.max_mem_literal = 16;
	SESSION(&lim, "g1 APPEND INBOX (\\Seen) \"1-Jan-2020 00:00:00 +0000\" "
	    "{40}\r\nSubject: x\r\n\r\n0123456789abcdefghijklmnop\r\n",
	    "+@58|g1 APPEND INBOX ( \\Seen ) \"1-Jan-2020 00:00:00 +0000\" "
	    "{fd:Subject: x\\x0d\\x0a\\x0d\\x0a0123456789abcdefghijklmnop}|");
	/* MULTIAPPEND with LITERAL+ */
	SESSION(&lim, "g2 APPEND INBOX {20+}\r\n01234567890123456789 "
	    "{3+}\r\nabc\r\n",
	    "g2 APPEND INBOX {fd:01234567890123456789} {abc}|");
	/* the in-memory budget (max_line + 2 * max_mem_literal) spools the
	 * rest */
	lim.max_mem_literal = 4096;
	lim.max_line = 8192;
	{
		struct buf in;
		struct spool_ctx sc = { false, 0 };
		struct imap_parser *p = imap_parser_new(&lim, spool_open, &sc);
		size_t used, off = 0;
		const struct imap_command *cmd;
		enum imap_parse_status st = IMAP_PARSE_MORE;

		buf_init(&in);
		buf_append_str(&in, "m1 X");
		for (int i = 0; i < 6; i++) {
			buf_append_str(&in, " {4000+}\r\n");
			for (int k = 0; k < 4000; k++)
				buf_append(&in, "x", 1);
		}
		buf_append_str(&in, "\r\n");
		while (off < in.len) {
			st = imap_parser_feed(p, in.data + off, in.len - off,
			    &used);
			off += used;
			if (st != IMAP_PARSE_MORE)
				break;
		}
		CHECK(st == IMAP_PARSE_COMMAND && off == in.len);
		cmd = imap_parser_command(p);
		CHECK(cmd != NULL && cmd->nargs == 6);
		/* 8192 + 8192 octets: four in memory, then spooled */
		CHECK(cmd->args[3].fd < 0 && cmd->args[3].str != NULL);
		CHECK(cmd->args[4].fd >= 0 && cmd->args[4].str == NULL &&
		    cmd->args[4].len == 4000);
		CHECK(sc.opened == 2);
		/* the caller may take the fd */
		{
			int fd = cmd->args[5].fd;

			imap_parser_command(p)->args[5].fd = -1;
			imap_parser_reset(p);
			CHECK(fcntl(fd, F_GETFD) != -1);
			close(fd);
		}
		imap_parser_free(&p);
		buf_deinit(&in);
	}
	/* in_literal */
	{
		struct spool_ctx sc = { false, 0 };
		struct imap_parser *p = imap_parser_new(NULL, spool_open, &sc);
		const char *s = "l1 X {3}\r\nab";
		size_t used;

		CHECK(imap_parser_feed(p, s, strlen(s), &used) ==
		    IMAP_PARSE_CONTINUE && used == 10);
		CHECK(imap_parser_in_literal(p));
		CHECK(imap_parser_feed(p, s + 10, 2, &used) ==
		    IMAP_PARSE_MORE && used == 2);
		CHECK(imap_parser_in_literal(p));
		CHECK(imap_parser_feed(p, "c\r\n", 3, &used) ==
		    IMAP_PARSE_COMMAND && used == 3);
		CHECK(!imap_parser_in_literal(p));
		imap_parser_free(&p);
	}
	/* a 150-octet literal read back from the spool */
	memset(big, 'z', sizeof(big));
	n = strlen("s1 APPEND a {150}\r\n");
	memcpy(big, "s1 APPEND a {150}\r\n", n);
	big[n + 150] = '\r';
	big[n + 151] = '\n';
	{
		struct spool_ctx sc = { false, 0 };
		struct buf out;
		char want[256];

		lim.max_mem_literal = 100;
		memset(want, 'z', sizeof(want));
		memcpy(want, "+@19|s1 APPEND a {fd:", 21);
		memcpy(want + 21 + 150, "}|", 3);
		buf_init(&out);
		for (size_t split = 0; split <= n + 152; split += 7) {
			run(&lim, &sc, big, n + 152, split, &out);
			CHECK_STREQ(out.data, want);
		}
		buf_deinit(&out);
	}
}

static void
test_errors(void)
{
	struct imap_parser_limits lim = { 0 };
	char *line;

	/* RFC 3501 9: parentheses balance */
	SESSION(NULL, "c1 X (a))\r\nc2 NOOP\r\n",
	    "E(c1:Unexpected ')')|c2 NOOP|");
	SESSION(NULL, "c3 X (a\r\nc4 NOOP\r\n", "E(c3:Missing ')')|c4 NOOP|");
	/* quoted-specials only after '\' */
	SESSION(NULL, "c5 X \"a\\qb\"\r\nc6 NOOP\r\n",
	    "E(c5:Invalid escape in quoted string)|c6 NOOP|");
	SESSION(NULL, "c7 X \"abc\r\nc8 NOOP\r\n",
	    "E(c7:Unterminated quoted string)|c8 NOOP|");
	SESSION(NULL, "c7 X \"a\0\"\r\nc8 NOOP\r\n",
	    "E(c7:NUL in quoted string)|c8 NOOP|");
	/* tags: no '*', '+', '(' ... */
	SESSION(NULL, "* NOOP\r\nc9 NOOP\r\n", "E(-:Invalid tag)|c9 NOOP|");
	SESSION(NULL, "+a NOOP\r\n", "E(-:Invalid tag)|");
	SESSION(NULL, " NOOP\r\n", "E(-:Missing tag)|");
	SESSION(NULL, "c9\r\nd0 NOOP\r\n",
	    "E(c9:Missing command name)|d0 NOOP|");
	SESSION(NULL, "c9 N[OOP\r\n", "E(c9:Invalid command name)|");
	SESSION(NULL, "d1 X a\"b\r\n", "E(d1:Invalid character in atom)|");
	SESSION(NULL, "d2 X \"a\"b\r\nd3 NOOP\r\n",
	    "E(d2:Missing space between arguments)|d3 NOOP|");
	SESSION(NULL, "d2 X a\x01\r\n", "E(d2:Invalid character in atom)|");
	SESSION(NULL, "d7 NOOP\rx\r\nd8 NOOP\r\n",
	    "E(d7:CR without LF)|d8 NOOP|");
	SESSION(NULL, "d9 FETCH 1 BODY[HEADER\r\ne1 NOOP\r\n",
	    "E(d9:Missing ']')|e1 NOOP|");
	SESSION(NULL, "d6 X {5+x}\r\nd7 NOOP\r\n",
	    "E(d6:Invalid literal size)|d7 NOOP|");
	SESSION(NULL, "d6 X {}\r\n", "E(d6:Invalid literal size)|");
	SESSION(NULL, "d6 X {5} \r\n",
	    "E(d6:Missing CRLF after literal size)|");
	/* a LITERAL+ literal on a bad line is skipped, not run */
	SESSION(NULL, "d3 X ) {5+}\r\nd4 NO\r\nd5 NOOP\r\n",
	    "E(d3:Unexpected ')')|d5 NOOP|");
	SESSION(NULL, "d3 X \"a\"{5+}\r\nd4 NO {2+}\r\nxy\r\nd5 NOOP\r\n",
	    "E(d3:Missing space between arguments)|d5 NOOP|");
	/* ... but a synchronizing one is never sent */
	SESSION(NULL, "d3 X ) {5}\r\nd5 NOOP\r\n",
	    "E(d3:Unexpected ')')|d5 NOOP|");

	/* RFC 7889 spirit: a literal too big is refused without a
	 * continuation, and the session goes on */
	lim.max_literal = 100;
	SESSION(&lim, "e1 APPEND INBOX {101}\r\ne2 NOOP\r\n",
	    "T(e1:Literal too big)|e2 NOOP|");
	SESSION(&lim, "e1 APPEND INBOX {100}\r\n", "+@23|");
	SESSION(NULL, "e1 APPEND INBOX {99999999999999999999999}\r\n"
	    "e2 NOOP\r\n", "T(e1:Literal too big)|e2 NOOP|");
	SESSION(NULL, "e1 APPEND INBOX {18446744073709551616}\r\n"
	    "e2 NOOP\r\n", "T(e1:Literal too big)|e2 NOOP|");
	/* LITERAL+ beyond the limit: no way to resynchronize */
	SESSION(&lim, "e3 APPEND INBOX {101+}\r\nxxx\r\ne4 NOOP\r\n",
	    "F(e3:Literal too big)|");
	/* the whole command: max_command */
	lim.max_command = 130;
	SESSION(&lim, "e5 X {60}\r\n012345678901234567890123456789012345678901"
	    "234567890123456789 {60}\r\ne6 NOOP\r\n",
	    "+@11|T(e5:Command too big)|e6 NOOP|");
	SESSION(&lim, "e5 X {60+}\r\n01234567890123456789012345678901234567890"
	    "1234567890123456789 {60+}\r\n01234567890123456789012345678901234"
	    "5678901234567890123456789\r\ne6 NOOP\r\n",
	    "T(e5:Command too big)|e6 NOOP|");
	/* nesting and argument counts */
	memset(&lim, 0, sizeof(lim));
	lim.max_depth = 3;
	lim.max_args = 5;
	SESSION(&lim, "f0 X (((a)))\r\n", "f0 X ( ( ( a ) ) )|");
	SESSION(&lim, "f1 X ((((a))))\r\nf2 NOOP\r\n",
	    "E(f1:Too deeply nested lists)|f2 NOOP|");
	SESSION(&lim, "f3 X a b c d e\r\n", "f3 X a b c d e|");
	SESSION(&lim, "f3 X a b c d e f\r\nf4 NOOP\r\n",
	    "E(f3:Too many arguments)|f4 NOOP|");
	SESSION(&lim, "f3 X a b c d (e)\r\n", "E(f3:Too many arguments)|");
	SESSION(&lim, "f3 X a b c d e {1+}\r\nx\r\nf4 NOOP\r\n",
	    "E(f3:Too many arguments)|f4 NOOP|");
	/* the spool cannot be opened */
	memset(&lim, 0, sizeof(lim));
	lim.max_mem_literal = 2;
	{
		struct spool_ctx sc = { true, 0 };
		struct buf out;
		const char *in = "h1 X {3}\r\nh2 X {3+}\r\nabc\r\nh3 NOOP\r\n";

		buf_init(&out);
		for (size_t split = 0; split <= strlen(in); split++) {
			run(&lim, &sc, in, strlen(in), split, &out);
			CHECK_STREQ(out.data, "E(h1:[SERVERBUG] Cannot store "
			    "the literal)|E(h2:[SERVERBUG] Cannot store the "
			    "literal)|h3 NOOP|");
		}
		buf_deinit(&out);
	}
	/* a line with no end: fatal past max_line (at least 8192) */
	lim.max_line = 100;
	line = xmalloc(9000);
	memset(line, 'a', 9000);
	{
		struct spool_ctx sc = { false, 0 };
		struct imap_parser *p = imap_parser_new(&lim, spool_open, &sc);
		size_t used;
		const char *tag;

		CHECK(imap_parser_feed(p, line, 8192, &used) ==
		    IMAP_PARSE_MORE && used == 8192);
		CHECK(imap_parser_feed(p, line, 10, &used) ==
		    IMAP_PARSE_FATAL && used == 0);
		CHECK_STREQ(imap_parser_error(p, &tag),
		    "Command line too long");
		CHECK(tag == NULL);
		CHECK(imap_parser_feed(p, "\r\n", 2, &used) ==
		    IMAP_PARSE_FATAL && used == 0);
		imap_parser_free(&p);
		/* lines of a bad command count too */
		p = imap_parser_new(&lim, spool_open, &sc);
		CHECK(imap_parser_feed(p, "t1 X )", 6, &used) ==
		    IMAP_PARSE_ERROR && used == 6);
		imap_parser_reset(p);
		CHECK(imap_parser_feed(p, line, 9000, &used) ==
		    IMAP_PARSE_FATAL);
		CHECK_STREQ(imap_parser_error(p, &tag),
		    "Command line too long");
		imap_parser_free(&p);
		/* a long line within the limit is fine */
		p = imap_parser_new(&lim, spool_open, &sc);
		memcpy(line, "t2 X ", 5);
		memcpy(line + 8190, "\r\n", 2);
		CHECK(imap_parser_feed(p, line, 8192, &used) ==
		    IMAP_PARSE_COMMAND && used == 8192);
		CHECK(imap_parser_command(p)->args[0].len == 8185);
		imap_parser_free(&p);
	}
	free(line);
	/* feeding again after COMMAND resets by itself */
	{
		struct imap_parser *p = imap_parser_new(NULL, NULL, NULL);
		size_t used;

		CHECK(imap_parser_feed(p, "a NOOP\r\nb NOOP\r\n", 16, &used) ==
		    IMAP_PARSE_COMMAND && used == 8);
		CHECK(imap_parser_feed(p, "b NOOP\r\n", 8, &used) ==
		    IMAP_PARSE_COMMAND && used == 8);
		CHECK_STREQ(imap_parser_command(p)->tag, "b");
		/* no spool function: spooled literals fail cleanly */
		imap_parser_reset(p);
		CHECK(imap_parser_feed(p, "c X {70000}\r\n", 13, &used) ==
		    IMAP_PARSE_ERROR && used == 13);
		imap_parser_free(&p);
		imap_parser_free(&p);
	}
}

static void
test_arg_astring(void)
{
	struct imap_parser *p = imap_parser_new(NULL, NULL, NULL);
	const struct imap_command *cmd;
	const char *s;
	size_t used, len;

	CHECK(imap_parser_feed(p, "a X nil \"q\" (l) {2+}\r\nab\r\n", 26,
	    &used) == IMAP_PARSE_COMMAND);
	cmd = imap_parser_command(p);
	CHECK(cmd->nargs == 4);
	CHECK(cmd->args[0].type == IMAP_ARG_NIL);
	CHECK(imap_arg_astring(&cmd->args[0], &s, &len) == 0 && len == 3 &&
	    t_streq(s, "nil"));
	CHECK(imap_arg_astring(&cmd->args[1], &s, &len) == 0 &&
	    t_streq(s, "q"));
	CHECK(imap_arg_astring(&cmd->args[2], &s, &len) == -1);
	CHECK(imap_arg_astring(&cmd->args[3], &s, &len) == 0 && len == 2 &&
	    t_streq(s, "ab"));
	imap_parser_free(&p);
}

/* ---- sequence sets ---- */

static const char *
seqset_str(const char *in, uint32_t star, bool resolve, struct buf *out)
{
	struct imap_seqset set;

	buf_reset(out);
	if (imap_seqset_parse(in, strlen(in), &set) < 0) {
		CHECK(set.r == NULL && set.count == 0);
		return "invalid";
	}
	if (resolve)
		imap_seqset_resolve(&set, star);
	imap_seqset_format(&set, out);
	imap_seqset_free(&set);
	return out->data;
}

static void
test_seqset(void)
{
	static const struct {
		const char *in;
		uint32_t star;
		const char *parsed, *resolved;
	} rows[] = {
		/* RFC 3501 9: sequence-set */
		{ "1", 10, "1", "1" },
		{ "1:5", 10, "1:5", "1:5" },
		{ "5:1", 10, "1:5", "1:5" },
		{ "*", 10, "*", "10" },
		{ "*:3", 10, "3:*", "3:10" },
		{ "3:*", 10, "3:*", "3:10" },
		/* RFC 3501 6.4.8: "*" is the highest, even below the start */
		{ "12:*", 10, "12:*", "10:12" },
		{ "1,3:4,7:*", 10, "1,3:4,7:*", "1,3:4,7:10" },
		{ "7,1,2,3,5:6,4", 10, "7,1,2,3,5:6,4", "1:7" },
		{ "1:3,2:8,20", 0, "1:3,2:8,20", "1:8,20" },
		{ "1:*", 0, "1:*", "0:1" },
		{ "4294967294:4294967295", 5, "4294967294:*", "5:4294967294" },
		{ "0", 1, NULL, NULL },
		{ "1:0", 1, NULL, NULL },
		{ "01", 1, NULL, NULL },
		{ "", 1, NULL, NULL },
		{ ",1", 1, NULL, NULL },
		{ "1,", 1, NULL, NULL },
		{ "1,,2", 1, NULL, NULL },
		{ "1:", 1, NULL, NULL },
		{ ":1", 1, NULL, NULL },
		{ "1::2", 1, NULL, NULL },
		{ "1:2:3", 1, NULL, NULL },
		{ "4294967296", 1, NULL, NULL },
		{ "**", 1, NULL, NULL },
		{ "1 2", 1, NULL, NULL },
		{ "$", 1, NULL, NULL },
		{ "-1", 1, NULL, NULL },
	};
	struct buf out;
	struct imap_seqset set;
	char *many;
	size_t n = 0;

	buf_init(&out);
	for (size_t i = 0; i < ARRAY_SIZE(rows); i++) {
		const char *want = rows[i].parsed ? rows[i].parsed : "invalid";

		CHECK_MSG(t_streq(seqset_str(rows[i].in, rows[i].star, false,
		    &out), want), "row %zu: %s", i, out.data);
		want = rows[i].resolved ? rows[i].resolved : "invalid";
		CHECK_MSG(t_streq(seqset_str(rows[i].in, rows[i].star, true,
		    &out), want), "row %zu: %s", i, out.data);
	}
	/* contains, by binary search */
	CHECK(imap_seqset_parse("20:30,1,5:7,*", 13, &set) == 0);
	imap_seqset_resolve(&set, 100);
	CHECK(set.count == 4);
	CHECK(imap_seqset_contains(&set, 1));
	CHECK(!imap_seqset_contains(&set, 2));
	CHECK(!imap_seqset_contains(&set, 0));
	CHECK(imap_seqset_contains(&set, 6));
	CHECK(imap_seqset_contains(&set, 20));
	CHECK(imap_seqset_contains(&set, 30));
	CHECK(!imap_seqset_contains(&set, 31));
	CHECK(imap_seqset_contains(&set, 100));
	CHECK(!imap_seqset_contains(&set, 99));
	CHECK(!imap_seqset_contains(&set, UINT32_MAX));
	imap_seqset_free(&set);
	CHECK(set.r == NULL && set.count == 0);
	/* the whole number range merges */
	CHECK(imap_seqset_parse("1:*,4294967294:*", 16, &set) == 0);
	imap_seqset_resolve(&set, UINT32_MAX);
	CHECK(set.count == 1 && set.r[0].lo == 1 && set.r[0].hi == UINT32_MAX);
	CHECK(imap_seqset_contains(&set, UINT32_MAX));
	imap_seqset_free(&set);
	/* append, for COPYUID: order kept, runs merged */
	memset(&set, 0, sizeof(set));
	for (uint32_t u = 1; u <= 5; u++)
		imap_seqset_append(&set, u, u);
	imap_seqset_append(&set, 9, 9);
	imap_seqset_append(&set, 3, 3);
	imap_seqset_append(&set, 10, 8);
	for (uint32_t u = 100; u < 140; u += 2)
		imap_seqset_append(&set, u, u);
	buf_reset(&out);
	imap_seqset_format(&set, &out);
	CHECK_STREQ(out.data, "1:5,9,3,8:10,100,102,104,106,108,110,112,114,"
	    "116,118,120,122,124,126,128,130,132,134,136,138");
	imap_seqset_free(&set);
	/* bounded */
	many = xmalloc(IMAP_SEQSET_MAX_RANGES * 2 + 10);
	for (size_t i = 0; i < IMAP_SEQSET_MAX_RANGES; i++) {
		many[n++] = '1';
		many[n++] = ',';
	}
	CHECK(imap_seqset_parse(many, n - 1, &set) == 0 &&
	    set.count == IMAP_SEQSET_MAX_RANGES);
	imap_seqset_resolve(&set, 1);
	CHECK(set.count == 1);
	imap_seqset_free(&set);
	CHECK(imap_seqset_parse(many, n, &set) == -1);
	many[n] = '1';
	CHECK(imap_seqset_parse(many, n + 1, &set) == -1);
	free(many);
	buf_deinit(&out);
}

/* ---- sections ---- */

static void
test_sections(void)
{
	static const struct {
		const char *in, *canonical;
		enum imap_sect_kind kind;
		size_t nparts, nfields;
	} rows[] = {
		/* RFC 3501 6.4.5 */
		{ "BODY[]", "BODY[]", IMAP_SECT_ALL, 0, 0 },
		{ "body.peek[]", "BODY[]", IMAP_SECT_ALL, 0, 0 },
		{ "BODY[header]", "BODY[HEADER]", IMAP_SECT_HEADER, 0, 0 },
		{ "BODY[TEXT]", "BODY[TEXT]", IMAP_SECT_TEXT, 0, 0 },
		{ "BODY[1]", "BODY[1]", IMAP_SECT_ALL, 1, 0 },
		{ "BODY[1.2.3]", "BODY[1.2.3]", IMAP_SECT_ALL, 3, 0 },
		{ "BODY[1.2.mime]", "BODY[1.2.MIME]", IMAP_SECT_MIME, 2, 0 },
		{ "BODY[3.HEADER]", "BODY[3.HEADER]", IMAP_SECT_HEADER, 1, 0 },
		{ "BODY[3.TEXT]", "BODY[3.TEXT]", IMAP_SECT_TEXT, 1, 0 },
		{ "BODY.PEEK[HEADER.FIELDS (DATE FROM)]<0.512>",
		    "BODY[HEADER.FIELDS (DATE FROM)]<0>",
		    IMAP_SECT_HEADER_FIELDS, 0, 2 },
		{ "BODY[1.2.header.fields (From \"To\")]<10.100>",
		    "BODY[1.2.HEADER.FIELDS (From To)]<10>",
		    IMAP_SECT_HEADER_FIELDS, 2, 2 },
		{ "BODY[HEADER.FIELDS.NOT (X-A  x-b)]",
		    "BODY[HEADER.FIELDS.NOT (X-A x-b)]",
		    IMAP_SECT_HEADER_FIELDS_NOT, 0, 2 },
		{ "BODY[HEADER.FIELDS (\"X]\" \"NIL\")]",
		    "BODY[HEADER.FIELDS (\"X]\" \"NIL\")]",
		    IMAP_SECT_HEADER_FIELDS, 0, 2 },
		{ "BODY[]<00.1>", "BODY[]<0>", IMAP_SECT_ALL, 0, 0 },
		{ "BODY[]<4294967295.4294967295>", "BODY[]<4294967295>",
		    IMAP_SECT_ALL, 0, 0 },
	};
	static const char *bad[] = {
		"BODY", "BODY[", "BODY]", "BODY[]x", "BODY[MIME]", "BODY[0]",
		"BODY[1.0]", "BODY[01]", "BODY[1.]", "BODY[.1]", "BODY[1..2]",
		"BODY[HEADER.FIELDS]", "BODY[HEADER.FIELDS ()]",
		"BODY[HEADER.FIELDS (]", "BODY[HEADER.FIELDS(FROM)]",
		"BODY[HEADER.FIELDS (FROM)", "BODY[HEADER.FIELDS (\"\")]",
		"BODY[HEADER.FIELDS (\"A\"\"B\")]", "BODY[HEADER.FIELDS (\"A)]",
		"BODY[HEADER.FIELDS (A\x01)]",
		"BODY[HEADER.FIELDS (\"\xc3\xa9\")]",
		"BODY[TEXT.MIME]", "BODY[HEADERS]", "BODY[1.HEADER.TEXT]",
		"BODY[]<0.0>", "BODY[]<0>", "BODY[]<.1>", "BODY[]<1.>",
		"BODY[]<1.2", "BODY[]<1.2>x", "BODY[]<4294967296.1>",
		"BODY[]<1.01>", "BODY.PEK[]", "BINARY[1]", "BODY[ TEXT]",
		"BODY[TEXT ]",
		"BODY[1.2.3.4.5.6.7.8.9.10.11.12.13.14.15.16.17.18.19.20.21.22"
		".23.24.25.26.27.28.29.30.31.32.33]",
	};
	struct imap_section sec;

	for (size_t i = 0; i < ARRAY_SIZE(rows); i++) {
		int r = imap_section_parse(rows[i].in, strlen(rows[i].in),
		    &sec);

		CHECK_MSG(r == 0, "row %zu: %s", i, rows[i].in);
		if (r < 0)
			continue;
		CHECK_STREQ(sec.canonical, rows[i].canonical);
		CHECK_MSG(sec.kind == rows[i].kind, "row %zu", i);
		CHECK_MSG(sec.nparts == rows[i].nparts, "row %zu", i);
		CHECK_MSG(sec.nfields == rows[i].nfields, "row %zu", i);
		imap_section_free(&sec);
		CHECK(sec.canonical == NULL && sec.fields == NULL);
	}
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		CHECK_MSG(imap_section_parse(bad[i], strlen(bad[i]), &sec) ==
		    -1, "%s", bad[i]);
		CHECK(sec.canonical == NULL && sec.fields == NULL);
	}
	CHECK(imap_section_parse("BODY.PEEK[1.2.HEADER.FIELDS (a b)]<7.9>",
	    39, &sec) == 0);
	CHECK(sec.peek && sec.partial && sec.offset == 7 && sec.length == 9);
	CHECK(sec.part[0] == 1 && sec.part[1] == 2);
	CHECK_STREQ(sec.fields[0], "a");
	CHECK_STREQ(sec.fields[1], "b");
	imap_section_free(&sec);
	CHECK(imap_section_parse("BODY[]", 6, &sec) == 0);
	CHECK(!sec.peek && !sec.partial);
	imap_section_free(&sec);
	/* 32 parts fit */
	{
		const char *s = "BODY[1.2.3.4.5.6.7.8.9.10.11.12.13.14.15.16."
		    "17.18.19.20.21.22.23.24.25.26.27.28.29.30.31.32]";

		CHECK(imap_section_parse(s, strlen(s), &sec) == 0 &&
		    sec.nparts == 32 && sec.part[31] == 32);
		imap_section_free(&sec);
	}
}

/* ---- dates ---- */

static void
test_dates(void)
{
	static const struct {
		const char *in;
		long long t;
		int tzoff;
	} good[] = {
		/* RFC 3501 9: date-time */
		{ "17-Jul-1996 02:44:25 -0700", 837596665, -25200 },
		{ " 7-Jul-1996 02:44:25 +0000", 836707465, 0 },
		{ "7-jul-1996 02:44:25 +0000", 836707465, 0 },
		{ "\"01-Jan-1970 00:00:00 +0100\"", -3600, 3600 },
		{ "29-Feb-2024 23:59:59 +0530", 1709251199 - 19800, 19800 },
		{ "31-Dec-9999 23:59:59 +0000", 253402300799LL, 0 },
	};
	static const char *bad[] = {
		"", "17-Jul-1996", "17-Jul-1996 02:44:25",
		"17-Jul-1996 02:44:25 0700",
		"17-Jux-1996 02:44:25 +0000", "32-Jul-1996 02:44:25 +0000",
		"29-Feb-2023 02:44:25 +0000", "00-Jul-1996 02:44:25 +0000",
		"17-Jul-1996 24:00:00 +0000", "17-Jul-1996 02:60:00 +0000",
		"17-Jul-1996 02:44:61 +0000", "17-Jul-1996 02:44:25 +0060",
		"17-Jul-96 02:44:25 +0000", "17-Jul-1996  02:44:25 +0000",
		"17-Jul-1996 02:44:25 +0000 ", "117-Jul-1996 02:44:25 +0000",
		"  7-Jul-1996 02:44:25 +0000", " 17-Jul-1996 02:44:25 +0000",
		"17 Jul 1996 02:44:25 +0000", "17-Jul-1996 2:44:25 +0000",
		"\"17-Jul-1996 02:44:25 +0000",
	};
	time_t t;
	int tz;
	char out[64];

	for (size_t i = 0; i < ARRAY_SIZE(good); i++) {
		CHECK_MSG(imap_datetime_parse(good[i].in, strlen(good[i].in),
		    &t, &tz) == 0 && (long long)t == good[i].t &&
		    tz == good[i].tzoff, "%s", good[i].in);
	}
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		CHECK_MSG(imap_datetime_parse(bad[i], strlen(bad[i]), &t,
		    &tz) == -1, "%s", bad[i]);
	/* SEARCH dates (RFC 3501 9: date) */
	CHECK(imap_date_parse("1-Feb-1994", 10, &t) == 0 && t == 760060800);
	CHECK(imap_date_parse("01-feb-1994", 11, &t) == 0 && t == 760060800);
	CHECK(imap_date_parse("\"1-Feb-1994\"", 12, &t) == 0 &&
	    t == 760060800);
	CHECK(imap_date_parse("1-Feb-1994 ", 11, &t) == -1);
	CHECK(imap_date_parse(" 1-Feb-1994", 11, &t) == -1);
	CHECK(imap_date_parse("30-Feb-1994", 11, &t) == -1);
	CHECK(imap_date_parse("1-Feb-94", 8, &t) == -1);
	CHECK(imap_date_parse("001-Feb-1994", 12, &t) == -1);
	/* INTERNALDATE */
	imap_datetime_format(837596665, -25200, out, sizeof(out));
	CHECK_STREQ(out, "17-Jul-1996 02:44:25 -0700");
	imap_datetime_format(0, 0, out, 27);
	CHECK_STREQ(out, "01-Jan-1970 00:00:00 +0000");
	imap_datetime_format(1709251199 - 19800, 19800, out, sizeof(out));
	CHECK_STREQ(out, "29-Feb-2024 23:59:59 +0530");
	imap_datetime_format(-1, 0, out, sizeof(out));
	CHECK_STREQ(out, "31-Dec-1969 23:59:59 +0000");
	imap_datetime_format(0, 0, out, 26);
	CHECK_STREQ(out, "");
	/* round trips */
	for (long long v = -100000000LL; v < 4000000000LL; v += 86399 * 97) {
		for (int z = -43200; z <= 50400; z += 3600 + 1800) {
			imap_datetime_format((time_t)v, z, out, sizeof(out));
			CHECK_MSG(imap_datetime_parse(out, strlen(out), &t,
			    &tz) == 0 && (long long)t == v && tz == z,
			    "%lld %d %s", v, z, out);
		}
	}
}

/* ---- output ---- */

static void
test_output(void)
{
	struct buf out;

	buf_init(&out);
	imap_append_astring(&out, "INBOX", 5);
	buf_append(&out, "|", 1);
	imap_append_astring(&out, "a]b", 3);
	buf_append(&out, "|", 1);
	imap_append_astring(&out, "", 0);
	buf_append(&out, "|", 1);
	imap_append_astring(&out, "nil", 3);
	buf_append(&out, "|", 1);
	imap_append_astring(&out, "a b", 3);
	buf_append(&out, "|", 1);
	imap_append_astring(&out, "a\"b\\c", 5);
	buf_append(&out, "|", 1);
	imap_append_astring(&out, "a*", 2);
	buf_append(&out, "|", 1);
	imap_append_astring(&out, "caf\xc3\xa9", 5);
	buf_append(&out, "|", 1);
	imap_append_astring(&out, "a\r\nb", 4);
	buf_append(&out, "|", 1);
	imap_append_nstring(&out, NULL, 0);
	buf_append(&out, "|", 1);
	imap_append_nstring(&out, "abc", 3);
	buf_append(&out, "|", 1);
	imap_append_nstring(&out, "NIL", 3);
	buf_append(&out, "|", 1);
	imap_append_quoted_or_literal(&out, "a\0b", 3);
	CHECK(out.len == 85);
	CHECK(memcmp(out.data, "INBOX|a]b|\"\"|\"nil\"|\"a b\"|\"a\\\"b\\\\c\"|"
	    "\"a*\"|{5}\r\ncaf\xc3\xa9|{4}\r\na\r\nb|NIL|\"abc\"|\"NIL\"|"
	    "{3}\r\na\0b", 85) == 0);
	buf_deinit(&out);
}

/* ---- LIST patterns ---- */

static void
test_list_match(void)
{
	static const struct {
		const char *pattern, *name;
		bool match;
	} rows[] = {
		/* RFC 3501 6.3.8 */
		{ "*", "INBOX", true },
		{ "*", "a/b/c", true },
		{ "%", "a", true },
		{ "%", "a/b", false },
		{ "%/%", "a/b", true },
		{ "%/%", "a/b/c", false },
		{ "a/*", "a/b/c", true },
		{ "a/%", "a/b/c", false },
		{ "a*", "a", true },
		{ "a*c", "abc", true },
		{ "a*c", "abcd", false },
		{ "a%c", "a/c", false },
		{ "a%%%c", "abbbbc", true },
		{ "a%*%c", "a/b/c", true },
		{ "*%", "a/b", true },
		{ "", "", true },
		{ "", "a", false },
		{ "a", "", false },
		{ "abc", "abc", true },
		{ "abc", "ABC", false },
		{ "Sent", "sent", false },
		/* INBOX is case-insensitive, its children's first level
		 * too */
		{ "inbox", "INBOX", true },
		{ "InBoX/%", "INBOX/Sub", true },
		{ "inbox/sub", "INBOX/Sub", false },
		{ "inbox*", "INBOXES", false },
		{ "INBOX*", "INBOXES", true },
		{ "i*", "INBOX", true },
		{ "i*", "Inbox2", false },
		{ "%x%x%x%x%x%x%x%x%x%x%x%x%x%x%x%x%x%x%x%x%x%x%x%x%x%x%x%x",
		    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxy",
		    false },
		{ "*x*x*x*x*x*x*", "axbxcxdxexfx", true },
		{ "%/%", "a//", false },
		{ "%/%", "/b", true },
	};

	for (size_t i = 0; i < ARRAY_SIZE(rows); i++)
		CHECK_MSG(imap_list_match(rows[i].pattern, rows[i].name, '/') ==
		    rows[i].match, "%s ~ %s", rows[i].pattern, rows[i].name);
	/* another separator, and none */
	CHECK(imap_list_match("a.%", "a.b", '.'));
	CHECK(!imap_list_match("a.%", "a.b.c", '.'));
	CHECK(imap_list_match("%", "a/b", '.'));
	CHECK(imap_list_match("%", "a.b", '\0'));
}

int
main(void)
{
	test_commands();
	test_literals();
	test_errors();
	test_arg_astring();
	test_seqset();
	test_sections();
	test_dates();
	test_output();
	test_list_match();
	return t_done("imap_parser");
}
