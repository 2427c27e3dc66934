/*
 * smtp_parser.c: the SMTP command line reader, command parser, DATA reader
 * and BDAT converter. Everything here reads hostile bytes: input is handled
 * as {pointer, length} (NUL may appear), every loop is bounded by a length
 * and nothing is allocated.
 */
#include <arpa/inet.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "lib/util.h"
#include "smtp/smtp_parser.h"

/* ---- Command line reader ---- */

/* RFC 5321 4.5.3.1.4 counts the CRLF in the line length; so does
 * SMTP_LINE_MAX, which leaves this much text. */
#define SMTP_LINE_TEXT_MAX (SMTP_LINE_MAX - 2)

void
smtp_line_init(struct smtp_line *l)
{
	l->len = 0;
	l->overflow = false;
	l->got_cr = false;
	l->done = false;
	l->buf[0] = '\0';
}

static void
smtp_line_append(struct smtp_line *l, char c)
{
	if (l->overflow)
		return;
	if (l->len >= SMTP_LINE_TEXT_MAX) {
		l->overflow = true;
		return;
	}
	l->buf[l->len++] = c;
}

enum smtp_line_result
smtp_line_feed(struct smtp_line *l, const char *data, size_t len,
    size_t *consumed_r)
{
	size_t i;

	if (l->done)
		smtp_line_init(l);
	for (i = 0; i < len; i++) {
		char c = data[i];

		if (c == '\n') {
			bool bare = !l->got_cr;

			l->got_cr = false;
			l->done = true;
			l->buf[l->len] = '\0';
			*consumed_r = i + 1;
			if (l->overflow)
				return SMTP_LINE_TOO_LONG;
			return bare ? SMTP_LINE_BARE_LF : SMTP_LINE_OK;
		}
		/* A CR not followed by LF is part of the line; the command
		 * parser refuses it as a control character. */
		if (l->got_cr)
			smtp_line_append(l, '\r');
		l->got_cr = c == '\r';
		if (!l->got_cr)
			smtp_line_append(l, c);
	}
	*consumed_r = len;
	return SMTP_LINE_MORE;
}

/* ---- Command parser ---- */

#define SMTP_ERR_TOO_LONG	"500 5.5.2 Line too long"
#define SMTP_ERR_CTRL		"500 5.5.2 Syntax error: control character " \
				"in command"
#define SMTP_ERR_MAIL		"501 5.5.4 Syntax: MAIL FROM:<address>"
#define SMTP_ERR_RCPT		"501 5.5.4 Syntax: RCPT TO:<address>"
#define SMTP_ERR_SENDER		"501 5.1.7 Bad sender address syntax"
#define SMTP_ERR_RECIPIENT	"501 5.1.3 Bad recipient address syntax"
#define SMTP_ERR_PARAM		"501 5.5.4 Syntax error in parameters"
#define SMTP_ERR_PARAM_DUP	"501 5.5.4 Duplicate parameter"
#define SMTP_ERR_PARAM_MANY	"501 5.5.4 Too many parameters"
#define SMTP_ERR_BDAT		"501 5.5.4 Syntax: BDAT size [LAST]"
#define SMTP_ERR_BDAT_SIZE	"501 5.5.4 BDAT size out of range"

/* RFC 5321 4.5.3.1.1 and 4.5.3.1.2 */
#define SMTP_LOCAL_MAX 64
#define SMTP_DOMAIN_MAX 255
#define SMTP_LABEL_MAX 63

struct smtp_verb_name {
	const char *name;
	enum smtp_verb verb;
};

static const struct smtp_verb_name smtp_verb_names[] = {
	{ "HELO", SMTP_VERB_HELO },
	{ "EHLO", SMTP_VERB_EHLO },
	{ "MAIL", SMTP_VERB_MAIL },
	{ "RCPT", SMTP_VERB_RCPT },
	{ "DATA", SMTP_VERB_DATA },
	{ "BDAT", SMTP_VERB_BDAT },
	{ "RSET", SMTP_VERB_RSET },
	{ "NOOP", SMTP_VERB_NOOP },
	{ "QUIT", SMTP_VERB_QUIT },
	{ "VRFY", SMTP_VERB_VRFY },
	{ "EXPN", SMTP_VERB_EXPN },
	{ "HELP", SMTP_VERB_HELP },
	{ "STARTTLS", SMTP_VERB_STARTTLS },
	{ "AUTH", SMTP_VERB_AUTH },
};

/* Appends into the second half of cmd->storage, always NUL-terminated. */
struct smtp_cmd_out {
	char *p;
	size_t len, size;
};

static bool
smtp_is_ctrl(unsigned char c)
{
	return c < 0x20 || c == 0x7f;
}

static bool
smtp_is_alpha(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool
smtp_is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

static bool
smtp_is_alnum(unsigned char c)
{
	return smtp_is_alpha(c) || smtp_is_digit(c);
}

/* RFC 5322 3.2.3 atext, as used by RFC 5321 4.1.2 */
static bool
smtp_is_atext(unsigned char c)
{
	return smtp_is_alnum(c) || (c != '\0' &&
	    strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL);
}

/*
 * True when s[0..len) is well-formed UTF-8 (RFC 3629): no overlong forms,
 * no surrogates, nothing above U+10FFFF.
 */
static bool
smtp_utf8_valid(const unsigned char *s, size_t len)
{
	size_t i = 0;

	while (i < len) {
		unsigned char c = s[i];
		size_t n, k;
		unsigned char lo = 0x80, hi = 0xbf;

		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf)
			n = 1;
		else if (c >= 0xe0 && c <= 0xef)
			n = 2;
		else if (c >= 0xf0 && c <= 0xf4)
			n = 3;
		else
			return false;
		if (c == 0xe0)
			lo = 0xa0;	/* overlong */
		else if (c == 0xed)
			hi = 0x9f;	/* surrogates */
		else if (c == 0xf0)
			lo = 0x90;	/* overlong */
		else if (c == 0xf4)
			hi = 0x8f;	/* above U+10FFFF */
		if (len - i - 1 < n)
			return false;
		for (k = 1; k <= n; k++) {
			unsigned char cc = s[i + k];

			if (k == 1 ? (cc < lo || cc > hi) :
			    (cc < 0x80 || cc > 0xbf))
				return false;
		}
		i += n + 1;
	}
	return true;
}

static bool
smtp_has_8bit(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if ((unsigned char)s[i] >= 0x80)
			return true;
	}
	return false;
}

/*
 * RFC 5321 4.1.2 Domain, with U-labels (RFC 6531 3.3): labels of letters,
 * digits and hyphens, not starting or ending with a hyphen. Non-ASCII
 * bytes are checked as UTF-8 by the caller; addr_domain_normalize does the
 * IDNA conversion later.
 */
static bool
smtp_domain_valid(const char *d, size_t len)
{
	size_t i = 0;

	if (len == 0 || len > SMTP_DOMAIN_MAX)
		return false;
	while (i < len) {
		size_t start = i;
		bool ascii = true;

		while (i < len && d[i] != '.') {
			unsigned char c = (unsigned char)d[i];

			if (c >= 0x80)
				ascii = false;
			else if (!smtp_is_alnum(c) && c != '-')
				return false;
			i++;
		}
		if (i == start || d[start] == '-' || d[i - 1] == '-')
			return false;
		if (ascii && i - start > SMTP_LABEL_MAX)
			return false;
		if (i < len) {
			i++;	/* the dot */
			if (i == len)
				return false;	/* trailing dot */
		}
	}
	return true;
}

/* RFC 5321 4.1.3 Snum: 1*3DIGIT representing 0-255 */
static bool
smtp_ipv4_valid(const char *s, size_t len)
{
	size_t i = 0;

	for (int part = 0; part < 4; part++) {
		unsigned v = 0;
		size_t start = i;

		if (part > 0) {
			if (i >= len || s[i] != '.')
				return false;
			start = ++i;
		}
		while (i < len && smtp_is_digit((unsigned char)s[i]) &&
		    i - start < 3) {
			v = v * 10 + (unsigned)(s[i] - '0');
			i++;
		}
		if (i == start || v > 255)
			return false;
	}
	return i == len;
}

/* RFC 5321 4.1.3 address-literal, brackets included in s[0..len). */
static bool
smtp_literal_valid(const char *s, size_t len)
{
	char buf[64];
	struct in6_addr a6;
	size_t i;

	if (len < 3 || s[0] != '[' || s[len - 1] != ']')
		return false;
	s++;
	len -= 2;
	if (len > 5 && strncasecmp(s, "IPv6:", 5) == 0) {
		if (len - 5 >= sizeof(buf))
			return false;
		memcpy(buf, s + 5, len - 5);
		buf[len - 5] = '\0';
		return inet_pton(AF_INET6, buf, &a6) == 1;
	}
	if (smtp_is_digit((unsigned char)s[0]))
		return smtp_ipv4_valid(s, len);
	/* General-address-literal: Standardized-tag ":" 1*dcontent */
	for (i = 0; i < len && s[i] != ':'; i++) {
		if (!smtp_is_alnum((unsigned char)s[i]) && s[i] != '-')
			return false;
	}
	if (i == 0 || s[i - 1] == '-' || i + 1 >= len)
		return false;
	for (i++; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 33 || c > 126 || c == '[' || c == '\\' || c == ']')
			return false;
	}
	return true;
}

/*
 * RFC 5321 4.1.2 Mailbox = Local-part "@" ( Domain / address-literal ),
 * with UTF-8 in the local part and domain (RFC 6531 3.3).
 */
static bool
smtp_mailbox_valid(const char *m, size_t len)
{
	size_t i = 0;

	if (len > 0 && m[0] == '"') {
		/* Quoted-string: qtextSMTP / quoted-pairSMTP */
		for (i = 1;; i++) {
			unsigned char c;

			if (i >= len)
				return false;	/* unbalanced quote */
			c = (unsigned char)m[i];
			if (c == '"')
				break;
			if (c == '\\') {
				if (i + 1 >= len ||
				    (unsigned char)m[i + 1] < 32 ||
				    (unsigned char)m[i + 1] > 126)
					return false;
				i++;
			} else if (c < 32 || c == 127)
				return false;
		}
		i++;
	} else {
		/* Dot-string: atoms separated by single dots */
		bool after_dot = true;

		for (; i < len && m[i] != '@'; i++) {
			unsigned char c = (unsigned char)m[i];

			if (c == '.') {
				if (after_dot)
					return false;
				after_dot = true;
			} else if (smtp_is_atext(c) || c >= 0x80)
				after_dot = false;
			else
				return false;
		}
		if (after_dot)
			return false;
	}
	if (i > SMTP_LOCAL_MAX || i >= len || m[i] != '@')
		return false;
	i++;
	if (i < len && m[i] == '[')
		return smtp_literal_valid(m + i, len - i);
	return smtp_domain_valid(m + i, len - i);
}

/*
 * RFC 5321 4.1.2 A-d-l: "@" Domain *( "," "@" Domain ) ":". Returns the
 * length of the source route including the colon, or 0 when invalid.
 */
static size_t
smtp_route_skip(const char *p, size_t len)
{
	size_t i = 0;

	for (;;) {
		size_t start;

		if (i >= len || p[i] != '@')
			return 0;
		start = ++i;
		while (i < len && p[i] != ',' && p[i] != ':')
			i++;
		if (i >= len || !smtp_domain_valid(p + start, i - start))
			return 0;
		if (p[i++] == ':')
			return i;
	}
}

/* Copies s[0..len) and a NUL; returns the copy or NULL when full. */
static char *
smtp_cmd_out_add(struct smtp_cmd_out *o, const char *s, size_t len)
{
	char *r;

	if (o->size - o->len < len + 1)
		return NULL;
	r = o->p + o->len;
	memcpy(r, s, len);
	r[len] = '\0';
	o->len += len + 1;
	return r;
}

/*
 * RFC 5321 4.1.2 esmtp-param = esmtp-keyword ["=" esmtp-value], with
 * UTF-8 allowed in the value (RFC 6531 3.3). The keys are upper-cased.
 */
static int
smtp_cmd_parse_params(struct smtp_cmd *cmd, struct smtp_cmd_out *o,
    const char *s, size_t len, const char **error_r)
{
	size_t i = 0;

	for (;;) {
		size_t start, klen, tlen;
		struct smtp_param *prm;
		char *key;

		/* Runs of spaces are tolerated between parameters. */
		while (i < len && s[i] == ' ')
			i++;
		if (i == len)
			return 0;
		start = i;
		while (i < len && s[i] != ' ')
			i++;
		tlen = i - start;
		for (klen = 0; klen < tlen && s[start + klen] != '='; klen++) {
			unsigned char c = (unsigned char)s[start + klen];

			if (!smtp_is_alnum(c) && (klen == 0 || c != '-')) {
				*error_r = SMTP_ERR_PARAM;
				return -1;
			}
		}
		if (klen == 0 || klen + 1 == tlen) {
			*error_r = SMTP_ERR_PARAM;	/* no key, or "KEY=" */
			return -1;
		}
		if (klen < tlen) {
			const char *v = s + start + klen + 1;
			size_t vlen = tlen - klen - 1;

			/* esmtp-value excludes "=" (and SP and controls) */
			if (memchr(v, '=', vlen) != NULL ||
			    !smtp_utf8_valid((const unsigned char *)v, vlen)) {
				*error_r = SMTP_ERR_PARAM;
				return -1;
			}
		}
		if (cmd->nparams >= SMTP_MAX_PARAMS) {
			*error_r = SMTP_ERR_PARAM_MANY;
			return -1;
		}
		key = smtp_cmd_out_add(o, s + start, tlen);
		if (key == NULL) {
			*error_r = SMTP_ERR_TOO_LONG;
			return -1;
		}
		for (size_t k = 0; k < klen; k++) {
			if (key[k] >= 'a' && key[k] <= 'z')
				key[k] = (char)(key[k] - 'a' + 'A');
		}
		if (klen < tlen)
			key[klen] = '\0';
		if (smtp_cmd_param(cmd, key) != NULL) {
			*error_r = SMTP_ERR_PARAM_DUP;
			return -1;
		}
		prm = &cmd->params[cmd->nparams++];
		prm->key = key;
		prm->value = klen < tlen ? key + klen + 1 : NULL;
	}
}

/*
 * MAIL FROM:<path> [params] and RCPT TO:<path> [params] (RFC 5321 4.1.1.2,
 * 4.1.1.3). a[0..alen) is the argument; the path and params are copied
 * into o.
 */
static int
smtp_cmd_parse_path(struct smtp_cmd *cmd, struct smtp_cmd_out *o,
    const char *a, size_t alen, const char **error_r)
{
	bool mail = cmd->verb == SMTP_VERB_MAIL;
	const char *prefix = mail ? "FROM:" : "TO:";
	const char *bad_syntax = mail ? SMTP_ERR_MAIL : SMTP_ERR_RCPT;
	const char *bad_addr = mail ? SMTP_ERR_SENDER : SMTP_ERR_RECIPIENT;
	size_t plen = strlen(prefix), i, open, route;
	const char *p;
	bool quoted = false;

	/* No space before the colon; RFC 5321 4.1.1.2 has none after it
	 * either, but many clients send one, so it is tolerated. */
	if (alen < plen || strncasecmp(a, prefix, plen) != 0) {
		*error_r = bad_syntax;
		return -1;
	}
	for (i = plen; i < alen && a[i] == ' '; i++)
		;
	if (i >= alen || a[i] != '<') {
		*error_r = bad_syntax;
		return -1;
	}
	open = i;
	/* The closing '>' is the first one outside a quoted string. */
	for (i = open + 1; i < alen; i++) {
		if (quoted) {
			if (a[i] == '\\')
				i++;
			else if (a[i] == '"')
				quoted = false;
		} else if (a[i] == '"')
			quoted = true;
		else if (a[i] == '>')
			break;
	}
	if (i >= alen) {
		*error_r = quoted ? bad_addr : bad_syntax;
		return -1;
	}
	if (i + 1 < alen && a[i + 1] != ' ') {
		*error_r = bad_syntax;
		return -1;
	}
	p = a + open + 1;
	plen = i - open - 1;
	if (!smtp_utf8_valid((const unsigned char *)p, plen)) {
		*error_r = bad_addr;
		return -1;
	}
	if (plen == 0) {
		/* RFC 5321 4.1.1.2: the null reverse-path; there is no null
		 * forward-path. */
		if (!mail) {
			*error_r = bad_addr;
			return -1;
		}
	} else if (!mail && str_ieq_n(p, plen, "postmaster")) {
		/* RFC 5321 4.5.1: <Postmaster> without a domain */
	} else {
		/* RFC 5321 4.1.2 / C: a source route is accepted and
		 * dropped. */
		route = 0;
		if (p[0] == '@') {
			route = smtp_route_skip(p, plen);
			if (route == 0) {
				*error_r = bad_addr;
				return -1;
			}
		}
		p += route;
		plen -= route;
		if (!smtp_mailbox_valid(p, plen)) {
			*error_r = bad_addr;
			return -1;
		}
	}
	cmd->path = smtp_cmd_out_add(o, p, plen);
	if (cmd->path == NULL) {
		*error_r = SMTP_ERR_TOO_LONG;
		return -1;
	}
	cmd->path_utf8 = smtp_has_8bit(p, plen);
	i++;	/* past '>' */
	return smtp_cmd_parse_params(cmd, o, a + i, alen - i, error_r);
}

/* RFC 3030 2: bdat-cmd = "BDAT" SP chunk-size [ SP end-marker ] */
static int
smtp_cmd_parse_bdat(struct smtp_cmd *cmd, const char *a, size_t alen,
    const char **error_r)
{
	size_t i = 0, n;

	while (i < alen && a[i] != ' ')
		i++;
	n = i;
	if (n == 0) {
		*error_r = SMTP_ERR_BDAT;
		return -1;
	}
	for (size_t k = 0; k < n; k++) {
		if (!smtp_is_digit((unsigned char)a[k])) {
			*error_r = SMTP_ERR_BDAT;
			return -1;
		}
	}
	if (str_to_u64(a, n, UINT64_MAX, &cmd->bdat_size) < 0) {
		*error_r = SMTP_ERR_BDAT_SIZE;
		return -1;
	}
	while (i < alen && a[i] == ' ')
		i++;
	if (i == alen)
		return 0;
	if (!str_ieq_n(a + i, alen - i, "LAST")) {
		*error_r = SMTP_ERR_BDAT;
		return -1;
	}
	cmd->bdat_last = true;
	return 0;
}

int
smtp_cmd_parse(const char *line, size_t len, struct smtp_cmd *cmd,
    const char **error_r)
{
	struct smtp_cmd_out o;
	size_t vlen, start, end, i;

	cmd->verb = SMTP_VERB_UNKNOWN;
	cmd->verb_text[0] = '\0';
	cmd->arg = "";
	cmd->path = NULL;
	cmd->path_utf8 = false;
	cmd->nparams = 0;
	cmd->bdat_size = 0;
	cmd->bdat_last = false;
	cmd->storage[0] = '\0';

	for (vlen = 0; vlen < len && line[vlen] != ' '; vlen++)
		;
	/* verb_text is for logs: truncated, control bytes replaced. */
	for (i = 0; i < vlen && i < sizeof(cmd->verb_text) - 1; i++) {
		unsigned char c = (unsigned char)line[i];

		cmd->verb_text[i] = smtp_is_ctrl(c) ? '?' : (char)c;
	}
	cmd->verb_text[i] = '\0';
	for (i = 0; i < ARRAY_SIZE(smtp_verb_names); i++) {
		if (str_ieq_n(line, vlen, smtp_verb_names[i].name)) {
			cmd->verb = smtp_verb_names[i].verb;
			break;
		}
	}

	if (len > SMTP_LINE_MAX) {
		*error_r = SMTP_ERR_TOO_LONG;
		return -1;
	}
	/* RFC 5321 4.1.1: commands are printable text; a NUL, a bare CR or
	 * any other control byte is refused. */
	for (i = 0; i < len; i++) {
		if (smtp_is_ctrl((unsigned char)line[i])) {
			*error_r = SMTP_ERR_CTRL;
			return -1;
		}
	}

	/* The argument follows the verb and one space; trailing spaces,
	 * which some clients send, are dropped. */
	start = vlen < len ? vlen + 1 : len;
	for (end = len; end > start && line[end - 1] == ' '; end--)
		;
	if (end > start)
		memcpy(cmd->storage, line + start, end - start);
	cmd->storage[end - start] = '\0';
	cmd->arg = cmd->storage;

	o.p = cmd->storage + (end - start) + 1;
	o.len = 0;
	o.size = sizeof(cmd->storage) - (end - start) - 1;

	switch (cmd->verb) {
	case SMTP_VERB_MAIL:
	case SMTP_VERB_RCPT:
		return smtp_cmd_parse_path(cmd, &o, cmd->arg, end - start,
		    error_r);
	case SMTP_VERB_BDAT:
		return smtp_cmd_parse_bdat(cmd, cmd->arg, end - start,
		    error_r);
	default:
		return 0;
	}
}

const struct smtp_param *
smtp_cmd_param(const struct smtp_cmd *cmd, const char *key)
{
	for (unsigned i = 0; i < cmd->nparams && i < SMTP_MAX_PARAMS; i++) {
		if (strcasecmp(cmd->params[i].key, key) == 0)
			return &cmd->params[i];
	}
	return NULL;
}

/* ---- Output with one byte of slack (DATA and BDAT) ---- */

/*
 * A CR is held until the next byte shows whether it ends a line, so a
 * bare CR is written together with the byte after it: two output bytes
 * for one input byte. Over a call the output never exceeds the input plus
 * the one byte owed from before, so at most the last byte does not fit;
 * it is kept in held and written first by the next call.
 */
struct smtp_out {
	char *p;
	size_t len, size;
	int held;	/* -1, or a byte that did not fit */
};

static void
smtp_out_put(struct smtp_out *o, char c)
{
	if (o->len < o->size)
		o->p[o->len++] = c;
	else if (o->held < 0)
		o->held = (unsigned char)c;
	else
		fatal("smtp_out_put: output overflow");
}

/* ---- DATA reader ---- */

enum smtp_data_state {
	SMTP_DATA_ST_BOL,	/* at the start of a line (after CRLF) */
	SMTP_DATA_ST_TEXT,	/* inside a line */
	SMTP_DATA_ST_CR,	/* inside a line, after CR */
	SMTP_DATA_ST_DOT,	/* CRLF "." */
	SMTP_DATA_ST_DOT_CR,	/* CRLF "." CR */
	SMTP_DATA_ST_END,	/* CRLF "." CRLF consumed */
};

/* d->state packs the state and a held output byte. */
#define SMTP_DATA_ST_MASK	0xff
#define SMTP_DATA_HELD		0x10000
#define SMTP_DATA_HELD_SHIFT	8

void
smtp_data_init(struct smtp_data *d)
{
	d->state = SMTP_DATA_ST_BOL;
	d->line_len = 0;
	d->error = SMTP_DATA_OK;
}

static void
smtp_data_error_set(enum smtp_data_error *error, enum smtp_data_error e)
{
	if (*error == SMTP_DATA_OK)
		*error = e;
}

/* One octet of line content (not the line end). */
static void
smtp_data_content(struct smtp_data *d, struct smtp_out *o, char c)
{
	smtp_out_put(o, c);
	if (d->line_len < SMTP_DATA_LINE_MAX)
		d->line_len++;
	/* RFC 5321 4.5.3.1.6 counts the CRLF, not the stuffed dot. */
	if (d->line_len > SMTP_DATA_LINE_MAX - 2)
		smtp_data_error_set(&d->error, SMTP_DATA_LINE_TOO_LONG);
}

/* A byte inside a line; returns the next state. */
static enum smtp_data_state
smtp_data_text(struct smtp_data *d, struct smtp_out *o, char c)
{
	if (c == '\r')
		return SMTP_DATA_ST_CR;
	if (c == '\n') {
		/* A bare LF is kept but does not start a line: "\n.\n" and
		 * "\n.\r\n" are text, not the end (SMTP smuggling). */
		smtp_data_error_set(&d->error, SMTP_DATA_BARE_LF);
		smtp_out_put(o, '\n');
		d->line_len = 0;
		return SMTP_DATA_ST_TEXT;
	}
	smtp_data_content(d, o, c);
	return SMTP_DATA_ST_TEXT;
}

/* The CR held back turned out not to be followed by LF. */
static void
smtp_data_bare_cr(struct smtp_data *d, struct smtp_out *o)
{
	smtp_data_error_set(&d->error, SMTP_DATA_BARE_CR);
	smtp_data_content(d, o, '\r');
}

int
smtp_data_feed(struct smtp_data *d, const char *data, size_t len,
    char *out, size_t *out_len_r, size_t *consumed_r)
{
	struct smtp_out o = { out, 0, len, -1 };
	enum smtp_data_state st = d->state & SMTP_DATA_ST_MASK;
	size_t i;

	*out_len_r = 0;
	*consumed_r = 0;
	if (len == 0)
		return st == SMTP_DATA_ST_END;
	if ((d->state & SMTP_DATA_HELD) != 0)
		smtp_out_put(&o, (char)((d->state >> SMTP_DATA_HELD_SHIFT) &
		    0xff));
	for (i = 0; i < len && st != SMTP_DATA_ST_END; i++) {
		char c = data[i];

		switch (st) {
		case SMTP_DATA_ST_BOL:
			if (c == '.')
				st = SMTP_DATA_ST_DOT;
			else
				st = smtp_data_text(d, &o, c);
			break;
		case SMTP_DATA_ST_TEXT:
			st = smtp_data_text(d, &o, c);
			break;
		case SMTP_DATA_ST_CR:
			if (c == '\n') {
				smtp_out_put(&o, '\n');
				d->line_len = 0;
				st = SMTP_DATA_ST_BOL;
				break;
			}
			smtp_data_bare_cr(d, &o);
			st = smtp_data_text(d, &o, c);
			break;
		case SMTP_DATA_ST_DOT:
			if (c == '\r') {
				st = SMTP_DATA_ST_DOT_CR;
				break;
			}
			/* RFC 5321 4.5.2: a leading period is deleted when
			 * other characters follow; "." then a bare LF is no
			 * line at all and is kept as is. */
			if (c == '\n')
				smtp_data_content(d, &o, '.');
			st = smtp_data_text(d, &o, c);
			break;
		case SMTP_DATA_ST_DOT_CR:
			if (c == '\n') {
				st = SMTP_DATA_ST_END;
				break;
			}
			smtp_data_bare_cr(d, &o);
			st = smtp_data_text(d, &o, c);
			break;
		case SMTP_DATA_ST_END:
			break;
		}
	}
	d->state = (int)st;
	if (o.held >= 0)
		d->state |= SMTP_DATA_HELD | (o.held << SMTP_DATA_HELD_SHIFT);
	*out_len_r = o.len;
	*consumed_r = i;
	return st == SMTP_DATA_ST_END;
}

/* ---- BDAT content ---- */

/* b->held is 0 or SMTP_BDAT_HELD | byte, so a zeroed struct is valid. */
#define SMTP_BDAT_HELD 0x100

void
smtp_bdat_init(struct smtp_bdat *b)
{
	b->pending_cr = false;
	b->held = 0;
	b->error = SMTP_DATA_OK;
}

size_t
smtp_bdat_feed(struct smtp_bdat *b, const char *data, size_t len,
    char *out)
{
	struct smtp_out o = { out, 0, len, -1 };

	if (len == 0)
		return 0;
	if ((b->held & SMTP_BDAT_HELD) != 0) {
		smtp_out_put(&o, (char)(b->held & 0xff));
		b->held = 0;
	}
	for (size_t i = 0; i < len; i++) {
		char c = data[i];

		if (b->pending_cr) {
			b->pending_cr = false;
			if (c == '\n') {
				smtp_out_put(&o, '\n');
				continue;
			}
			smtp_data_error_set(&b->error, SMTP_DATA_BARE_CR);
			smtp_out_put(&o, '\r');
		}
		if (c == '\r') {
			b->pending_cr = true;
			continue;
		}
		if (c == '\n')
			smtp_data_error_set(&b->error, SMTP_DATA_BARE_LF);
		smtp_out_put(&o, c);
	}
	b->held = o.held >= 0 ? SMTP_BDAT_HELD | o.held : 0;
	return o.len;
}

size_t
smtp_bdat_finish(struct smtp_bdat *b, char *out)
{
	if ((b->held & SMTP_BDAT_HELD) != 0) {
		/* Only the last byte of a piece is held, never a CR. */
		out[0] = (char)(b->held & 0xff);
		b->held = 0;
		return 1;
	}
	if (b->pending_cr) {
		smtp_data_error_set(&b->error, SMTP_DATA_BARE_CR);
		b->pending_cr = false;
		out[0] = '\r';
		return 1;
	}
	return 0;
}

void
smtp_hdrscan_init(struct smtp_hdrscan *h)
{
	memset(h, 0, sizeof(*h));
	h->bol = true;
}

static void
smtp_hdrscan_name_end(struct smtp_hdrscan *h)
{
	h->in_name = false;
	if (h->nlen == 4 && memcmp(h->name, "date", 4) == 0)
		h->has_date = true;
	else if (h->nlen == 10 && memcmp(h->name, "message-id", 10) == 0)
		h->has_message_id = true;
}

void
smtp_hdrscan_feed(struct smtp_hdrscan *h, const char *data, size_t len)
{
	for (size_t i = 0; i < len && !h->in_body; i++) {
		char c = data[i];

		if (c == '\n') {
			/* RFC 5322 2.1: an empty line ends the header */
			if (h->bol)
				h->in_body = true;
			h->bol = true;
			h->in_name = false;
			continue;
		}
		if (h->bol) {
			h->bol = false;
			h->nlen = 0;
			/* a continuation line starts with WSP */
			h->in_name = c != ' ' && c != '\t';
		}
		if (!h->in_name)
			continue;
		if (c == ':') {
			smtp_hdrscan_name_end(h);
			continue;
		}
		if (h->nlen < sizeof(h->name))
			h->name[h->nlen] = (char)(c >= 'A' && c <= 'Z' ?
			    c - 'A' + 'a' : c);
		h->nlen++;
	}
}
