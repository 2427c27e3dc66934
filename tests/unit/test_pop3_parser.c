/* Unit tests: the POP3 line reader, command parser and RETR/TOP encoder
 * (RFC 1939, RFC 2449), fed whole, byte by byte and at every split. */
#include "t.h"

#include "lib/util.h"
#include "pop3/pop3_parser.h"

/* Feeds data in chunks of step bytes; returns the lines joined by '|',
 * with "!" for a too-long line. */
static void
lines_of(const char *data, size_t len, size_t step, size_t max, char *out,
    size_t outsize)
{
	struct pop3_line l;
	size_t o = 0;

	pop3_line_init(&l, max);
	out[0] = '\0';
	while (len > 0) {
		size_t n = len < step ? len : step, used;
		enum pop3_line_result r = pop3_line_feed(&l, data, n, &used);

		if (r == POP3_LINE_OK)
			o += (size_t)snprintf(out + o, outsize - o, "%s|", l.buf);
		else if (r == POP3_LINE_TOO_LONG)
			o += (size_t)snprintf(out + o, outsize - o, "!|");
		data += used;
		len -= used;
	}
}

static void
test_lines(void)
{
	static const struct {
		const char *in, *want;
	} rows[] = {
		/* RFC 1939 3: CRLF ends a command */
		{ "USER a\r\nPASS b c\r\n", "USER a|PASS b c|" },
		/* a bare LF is accepted too (no smuggling risk in POP3) */
		{ "STAT\nLIST\r\n", "STAT|LIST|" },
		{ "\r\n", "|" },
	};
	char got[4096], big[600];

	for (size_t i = 0; i < ARRAY_SIZE(rows); i++) {
		size_t len = strlen(rows[i].in);

		for (size_t step = 1; step <= len; step++) {
			lines_of(rows[i].in, len, step, POP3_LINE_MAX, got,
			    sizeof(got));
			CHECK_MSG(strcmp(got, rows[i].want) == 0,
			    "row %zu step %zu: %s", i, step, got);
		}
	}
	/* RFC 2449 4: 255 octets with the CRLF */
	memset(big, 'a', sizeof(big));
	memcpy(big + 253, "\r\nNOOP\r\n", 8);
	lines_of(big, 261, 7, POP3_LINE_MAX, got, sizeof(got));
	CHECK_MSG(strncmp(got, "aaaa", 4) == 0 && strstr(got, "|NOOP|"),
	    "%s", got);
	memcpy(big + 254, "\r\nNOOP\r\n", 8);
	lines_of(big, 262, 300, POP3_LINE_MAX, got, sizeof(got));
	CHECK_STREQ(got, "!|NOOP|");
	/* SASL responses may be longer */
	lines_of(big, 262, 300, POP3_AUTH_LINE_MAX, got, sizeof(got));
	CHECK(got[0] == 'a');
}

static void
test_cmds(void)
{
	struct pop3_cmd cmd;
	const char *err;
	uint32_t n;

	CHECK(pop3_cmd_parse("stat", 4, &cmd, &err) == 0);
	CHECK_STREQ(cmd.verb, "STAT");
	CHECK(cmd.nargs == 0);
	CHECK(pop3_cmd_parse("TOP 1 10", 8, &cmd, &err) == 0);
	CHECK_STREQ(cmd.verb, "TOP");
	CHECK(cmd.nargs == 2);
	CHECK(pop3_msgnum(cmd.args[0], 5, &n) == 0 && n == 1);
	CHECK(strncmp(cmd.args[1], "10", 2) == 0);
	/* PASS keeps spaces: the password is the rest of the line */
	CHECK(pop3_cmd_parse("PASS my secret ", 15, &cmd, &err) == 0);
	CHECK_STREQ(cmd.rest, "my secret ");
	CHECK(pop3_cmd_parse("", 0, &cmd, &err) < 0);
	CHECK(pop3_cmd_parse("XY", 2, &cmd, &err) < 0);
	CHECK(pop3_cmd_parse("STATS", 5, &cmd, &err) < 0);
	CHECK(pop3_cmd_parse("ST4T", 4, &cmd, &err) < 0);
	CHECK(pop3_cmd_parse("LIST\0", 5, &cmd, &err) < 0);
	CHECK(pop3_cmd_parse("LIST\t1", 6, &cmd, &err) < 0);
	CHECK(pop3_cmd_parse("XTND 1", 6, &cmd, &err) == 0);
	/* message numbers */
	CHECK(pop3_msgnum("0", 5, &n) < 0);
	CHECK(pop3_msgnum("6", 5, &n) < 0);
	CHECK(pop3_msgnum("-1", 5, &n) < 0);
	CHECK(pop3_msgnum("+1", 5, &n) < 0);
	CHECK(pop3_msgnum("1x", 5, &n) < 0);
	CHECK(pop3_msgnum("99999999999", UINT32_MAX, &n) < 0);
	CHECK(pop3_msgnum("5", 5, &n) == 0 && n == 5);
}

/* Encodes in at every split; checks the result. */
static void
encode_check(const char *in, long long top, const char *want,
    const char *what)
{
	size_t len = strlen(in);

	for (size_t step = 1; step <= (len ? len : 1); step++) {
		struct pop3_encoder e;
		char out[4096];
		size_t o = 0, i = 0;

		pop3_encoder_init(&e, top);
		while (i < len && !e.done) {
			size_t n = len - i < step ? len - i : step, used;

			o += pop3_encode(&e, in + i, n, out + o, &used);
			CHECK(used <= n);
			i += used;
		}
		o += pop3_encode_end(&e, out + o);
		out[o] = '\0';
		CHECK_MSG(strcmp(out, want) == 0, "%s step %zu: [%s]", what,
		    step, out);
	}
}

static void
test_encoder(void)
{
	/* RFC 1939 3: CRLF line ends, byte-stuffing, ".\r\n" at the end */
	encode_check("Subject: x\n\nbody\n.dot\n..two\n", -1,
	    "Subject: x\r\n\r\nbody\r\n..dot\r\n...two\r\n.\r\n", "retr");
	encode_check("", -1, ".\r\n", "empty");
	encode_check("no newline", -1, "no newline\r\n.\r\n", "no eol");
	encode_check("a\r\nb\r\n", -1, "a\r\nb\r\n.\r\n", "crlf stored");
	/* RFC 1939 7: TOP msg n: header, blank line, n body lines */
	encode_check("H: 1\nH: 2\n\nl1\nl2\nl3\n", 2,
	    "H: 1\r\nH: 2\r\n\r\nl1\r\nl2\r\n.\r\n", "top 2");
	encode_check("H: 1\n\nl1\n", 0, "H: 1\r\n\r\n.\r\n", "top 0");
	encode_check("H: 1\n\n.l1\n", 5, "H: 1\r\n\r\n..l1\r\n.\r\n",
	    "top stuffed");
	encode_check("H: 1\r\n\r\nl1\r\nl2\r\n", 1, "H: 1\r\n\r\nl1\r\n.\r\n",
	    "top crlf");
	encode_check("H: only header\n", 3, "H: only header\r\n.\r\n",
	    "top no body");
}

int
main(void)
{
	test_lines();
	test_cmds();
	test_encoder();
	return t_done("pop3_parser");
}
