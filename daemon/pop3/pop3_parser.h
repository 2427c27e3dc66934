/*
 * pop3_parser.h: pure parsers and encoders of the POP3 server (RFC 1939,
 * RFC 2449): the command line reader, the command parser, message number
 * parsing, and the encoder that turns a stored message (LF line ends)
 * into what RETR and TOP send (CRLF line ends, byte-stuffed, RFC 1939 3).
 * Depends on lib/ only.
 */
#ifndef FACTEUR_POP3_PARSER_H
#define FACTEUR_POP3_PARSER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* RFC 2449 4: a command line is at most 255 octets with the CRLF. SASL
 * responses (RFC 5034 4) may be longer. */
#define POP3_LINE_MAX 255
#define POP3_AUTH_LINE_MAX 2048

struct pop3_line {
	char buf[POP3_AUTH_LINE_MAX + 1];
	size_t len;
	size_t max;		/* current limit, with the CRLF */
	bool overflow;
	bool done;		/* a line was returned: reset on next feed */
};

enum pop3_line_result {
	POP3_LINE_MORE = 0,
	POP3_LINE_OK = 1,	/* buf[0..len) holds the line, NUL-ended */
	POP3_LINE_TOO_LONG = -1,	/* consumed through its LF */
};

/* max: POP3_LINE_MAX or POP3_AUTH_LINE_MAX (may change between lines). */
void pop3_line_init(struct pop3_line *l, size_t max);
/* Consumes bytes until a line ends (LF; a CR before it is dropped).
 * *consumed_r tells how many bytes were used. */
enum pop3_line_result pop3_line_feed(struct pop3_line *l, const char *data,
    size_t len, size_t *consumed_r);

struct pop3_cmd {
	char verb[5];		/* upper-cased keyword (3 or 4 letters) */
	const char *rest;	/* everything after "VERB ", "" if none */
	const char *args[2];	/* first two space-separated arguments */
	unsigned nargs;		/* how many arguments (may exceed 2) */
	char storage[POP3_AUTH_LINE_MAX + 1];
};

/* Parses one line. -1 with *error_r for an empty line, a bad keyword or
 * a control character; 0 otherwise (unknown keywords included). */
int pop3_cmd_parse(const char *line, size_t len, struct pop3_cmd *cmd,
    const char **error_r);

/* A message number: decimal, 1..max, no sign or leading junk. 0 or -1. */
int pop3_msgnum(const char *s, uint32_t max, uint32_t *n_r);

/* ---- RETR / TOP encoder ---- */

struct pop3_encoder {
	bool bol;		/* at the beginning of a line */
	bool cr;		/* the last byte written was a CR */
	bool blank;		/* the line so far holds nothing but CR */
	bool in_body;		/* the header's empty line was seen */
	bool top;		/* TOP: stop after top_lines body lines */
	uint64_t top_lines;
	bool done;		/* TOP reached its line count */
};

/* limit_lines < 0: whole message (RETR); else TOP with that many body
 * lines. */
void pop3_encoder_init(struct pop3_encoder *e, long long limit_lines);
/*
 * Encodes in[0..len) into out (at least 2 * len bytes): LF becomes CRLF,
 * a CR before LF is kept once, a line starting with '.' gets another '.'.
 * Returns the output length; *used_r is the input consumed (less than len
 * only when TOP is done).
 */
size_t pop3_encode(struct pop3_encoder *e, const char *in, size_t len,
    char *out, size_t *used_r);
/* The end: CRLF if the last line had none, then ".\r\n". out holds 5.
 * Returns the length. */
size_t pop3_encode_end(struct pop3_encoder *e, char *out);

#endif
