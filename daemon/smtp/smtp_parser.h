/*
 * smtp_parser.h: pure, resumable parsers for the SMTP server.
 * They take bytes and never read a socket or touch the database, so they
 * are unit-tested byte by byte and fuzzed. Depends on lib/ only.
 *
 * Three parsers:
 *  - the command line reader (struct smtp_line): assembles one command line
 *    ending in CRLF, bounded;
 *  - the command parser (smtp_cmd_parse): verb, argument, MAIL/RCPT paths
 *    and ESMTP parameters;
 *  - the DATA reader (struct smtp_data): dot-unstuffing, end detection on
 *    CRLF.CRLF only, bare CR / bare LF detection, line length limit.
 */
#ifndef FACTEUR_SMTP_PARSER_H
#define FACTEUR_SMTP_PARSER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* RFC 5321 4.5.3.1.4 allows 512 octets including CRLF; RFC 1870 and the
 * other extensions add room for parameters, so accept up to 2048. */
#define SMTP_LINE_MAX 2048

/* ---- Command line reader ---- */

struct smtp_line {
	char buf[SMTP_LINE_MAX + 1];
	size_t len;		/* bytes in buf (the CRLF is not stored) */
	bool overflow;		/* line exceeded SMTP_LINE_MAX; skipping to LF */
	bool got_cr;		/* last byte consumed was CR */
	bool done;		/* private: a line was returned; the next
				 * call starts a new one */
};

enum smtp_line_result {
	SMTP_LINE_MORE = 0,	/* need more bytes */
	SMTP_LINE_OK = 1,	/* a complete line is in buf[0..len), NUL-ended */
	SMTP_LINE_TOO_LONG = -1,	/* the whole overlong line was consumed */
	SMTP_LINE_BARE_LF = -2,	/* line ended with LF alone (buf holds it) */
};

void smtp_line_init(struct smtp_line *l);
/*
 * Consumes bytes from data[0..len) until one line ends (or all are used).
 * *consumed_r is how many bytes were used. On SMTP_LINE_OK, TOO_LONG or
 * BARE_LF the reader is reset for the next line by the next call.
 * A line ending in bare LF is reported as SMTP_LINE_BARE_LF (the server
 * refuses such commands: RFC 5321 2.3.8). A NUL byte in a line is kept in
 * buf; smtp_cmd_parse refuses it.
 */
enum smtp_line_result smtp_line_feed(struct smtp_line *l, const char *data,
    size_t len, size_t *consumed_r);

/* ---- Command parser ---- */

enum smtp_verb {
	SMTP_VERB_UNKNOWN = 0,
	SMTP_VERB_HELO, SMTP_VERB_EHLO, SMTP_VERB_MAIL, SMTP_VERB_RCPT,
	SMTP_VERB_DATA, SMTP_VERB_BDAT, SMTP_VERB_RSET, SMTP_VERB_NOOP,
	SMTP_VERB_QUIT, SMTP_VERB_VRFY, SMTP_VERB_EXPN, SMTP_VERB_HELP,
	SMTP_VERB_STARTTLS, SMTP_VERB_AUTH,
};

#define SMTP_MAX_PARAMS 16

struct smtp_param {
	const char *key;	/* upper-cased, NUL-terminated (points into cmd) */
	const char *value;	/* NULL when the parameter has no "=value" */
};

struct smtp_cmd {
	enum smtp_verb verb;
	char verb_text[16];	/* as received, for logs (truncated) */
	const char *arg;	/* text after the verb and one space; "" if none */
	/* MAIL FROM / RCPT TO only: */
	const char *path;	/* address inside <>, "" for the null path <>;
				 * NULL for other verbs */
	bool path_utf8;		/* path holds non-ASCII bytes */
	struct smtp_param params[SMTP_MAX_PARAMS];
	unsigned nparams;
	/* BDAT only: */
	uint64_t bdat_size;
	bool bdat_last;
	/* Private storage that arg/path/params point into: the argument,
	 * then a second copy holding the NUL-terminated path and params. */
	char storage[2 * (SMTP_LINE_MAX + 1)];
};

/*
 * Parses one command line (without CRLF) of length len into cmd.
 * Returns 0 on success, or -1 with *error_r set to an SMTP reply text
 * ("501 5.5.4 Syntax: MAIL FROM:<address>" style, code included) for
 * syntax errors. An unknown verb is not an error: verb is SMTP_VERB_UNKNOWN.
 * Rules:
 *  - verbs are case-insensitive (RFC 5321 2.4);
 *  - "MAIL FROM:" and "RCPT TO:" are case-insensitive, with no space allowed
 *    before the colon but tolerated after it; the path must be in <>;
 *    source routes (RFC 5321 4.1.2 "@a,@b:user@c") are accepted and dropped;
 *  - the path is checked for syntax (Mailbox of RFC 5321 4.1.2, with
 *    UTF-8 allowed per RFC 6531; quoted local parts kept as received);
 *    RCPT TO:<postmaster> without domain is allowed (RFC 5321 4.5.1);
 *  - ESMTP parameters are "KEY[=VALUE]" separated by spaces, keys
 *    upper-cased; more than SMTP_MAX_PARAMS is an error;
 *  - BDAT takes "size [LAST]" (RFC 3030);
 *  - NUL bytes or other control characters in a line are an error
 *    (500 5.5.2).
 */
int smtp_cmd_parse(const char *line, size_t len, struct smtp_cmd *cmd,
    const char **error_r);

/* Returns the parameter named key (upper case), or NULL when absent; its
 * value is NULL when it was given without "=value". */
const struct smtp_param *smtp_cmd_param(const struct smtp_cmd *cmd,
    const char *key);

/* ---- DATA reader (RFC 5321 4.1.1.4, 4.5.2) ---- */

/* RFC 5321 4.5.3.1.6 says 1000 octets including CRLF is the minimum a
 * server must accept; real mail has longer lines, so allow 8 KiB. */
#define SMTP_DATA_LINE_MAX 8192

enum smtp_data_error {
	SMTP_DATA_OK = 0,
	SMTP_DATA_BARE_LF,	/* LF not preceded by CR */
	SMTP_DATA_BARE_CR,	/* CR not followed by LF */
	SMTP_DATA_LINE_TOO_LONG,
};

struct smtp_data {
	int state;		/* private */
	size_t line_len;	/* private: octets in the current line */
	enum smtp_data_error error;	/* first error seen (sticky) */
};

void smtp_data_init(struct smtp_data *d);

/*
 * Feeds bytes of the DATA stream. Message content, dot-unstuffed and with
 * CRLF line ends converted to LF (Maildir stores LF), is written to out,
 * which must hold at least len bytes; *out_len_r gets its length and
 * *consumed_r how many input bytes were used. Returns 1 when the
 * terminating CRLF.CRLF was consumed (bytes after it are not consumed),
 * else 0. Only CRLF "." CRLF ends the data: "\n.\n", "\r.\r" and
 * "\n.\r\n" do not (no SMTP smuggling); bare CR and bare LF are recorded in
 * d->error and the bytes kept, so the caller reads to the real end and then
 * refuses the message once. A return of 0 means all len bytes were
 * consumed; *out_len_r <= len always: a byte that did not fit (a late bare
 * CR makes two) is kept in d and written by the next call.
 */
int smtp_data_feed(struct smtp_data *d, const char *data, size_t len,
    char *out, size_t *out_len_r, size_t *consumed_r);

/* ---- BDAT content (RFC 3030) ---- */

/*
 * BDAT chunks carry the message as is (no dot-stuffing, no end marker).
 * This converter turns CRLF into LF across chunk boundaries and records
 * bare CR / bare LF in the same way as the DATA reader, so that both
 * paths store the same bytes. out must hold len bytes.
 */
struct smtp_bdat {
	bool pending_cr;	/* private: a CR ended the previous chunk */
	int held;		/* private: 0, or 0x100 | a byte owed to out */
	enum smtp_data_error error;
};

void smtp_bdat_init(struct smtp_bdat *b);
/* Converts one piece; returns the output length (at most len). A bare CR
 * that ended the previous piece is written late, so the output can lag
 * the input by one byte, which smtp_bdat_finish writes. */
size_t smtp_bdat_feed(struct smtp_bdat *b, const char *data, size_t len,
    char *out);
/* Call after the LAST chunk: a trailing lone CR is a bare CR. Returns the
 * number of bytes to append to the output (0 or 1): the byte still owed,
 * a trailing bare CR or the byte held back above, is written into out[0]. */
size_t smtp_bdat_finish(struct smtp_bdat *b, char *out);

/* ---- Header scan (RFC 6409 8.2, 8.3) ---- */

/*
 * Watches the stored message text (LF line ends) as it streams and
 * records which of the header fields a submission server may have to add
 * are present. Stops looking at the first empty line (end of header).
 */
struct smtp_hdrscan {
	bool in_body;
	bool bol;		/* at the start of a line */
	bool in_name;		/* reading a field name */
	size_t nlen;
	char name[16];		/* field name so far, lower case, capped */
	bool has_date;
	bool has_message_id;
};

void smtp_hdrscan_init(struct smtp_hdrscan *h);
void smtp_hdrscan_feed(struct smtp_hdrscan *h, const char *data, size_t len);

#endif
