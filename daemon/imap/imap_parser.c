#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "imap/imap_parser.h"
#include "lib/util.h"

/* ---- command parser ---- */

enum imap_pstate {
	PS_TAG,			/* line start: tag, or an empty line */
	PS_NAME_START,		/* after the tag's SP */
	PS_NAME,
	PS_ARG_START,		/* a token, '(' or ')' may start */
	PS_AFTER,		/* after a token: SP, ')' or end of line */
	PS_ATOM,
	PS_QUOTED,
	PS_QUOTED_ESC,
	PS_LIT_LEN,		/* after '{' */
	PS_LIT_CLOSE,		/* after '+': '}' */
	PS_LIT_CR,		/* after '}' */
	PS_LIT_LF,		/* after "}\r" */
	PS_LIT_DATA,
	PS_EOL_LF,		/* after the CR ending a line */
	PS_DONE,		/* COMMAND was returned */
	PS_ERROR,		/* ERROR or TOO_BIG was returned */
	PS_SKIP,		/* the rest of a bad line */
	PS_SKIP_DATA,		/* a LITERAL+ literal inside a bad line */
	PS_FATAL,
};

/* An argument list being read: the command's (level 0) or a '('. */
struct imap_frame {
	struct imap_arg *v;
	size_t n, cap;
};

/* Tracks "{n+}" at the end of a skipped line: its data must be skipped
 * too, or it would be read as commands. */
enum imap_skip_lit {
	SKIP_LIT_NONE,
	SKIP_LIT_OPEN,		/* '{' */
	SKIP_LIT_DIGITS,
	SKIP_LIT_PLUS,
	SKIP_LIT_CLOSE,		/* "{n+}" */
	SKIP_LIT_CR,		/* "{n+}\r" */
};

struct imap_parser {
	struct imap_parser_limits lim;
	int (*spool_open)(void *ctx);
	void *ctx;

	enum imap_pstate state;
	struct imap_command cmd;
	struct imap_frame *frames;	/* lim.max_depth + 1 */
	unsigned depth;
	struct buf tok;
	size_t bracket;		/* '[' nesting inside an atom */
	int bquote;		/* in brackets: 1 in "...", 2 after '\\' */

	size_t line_octets;	/* of this command, outside literals */
	uint64_t lit_octets;	/* of this command's literals */
	uint64_t mem_octets;	/* of its in-memory literals */
	size_t nargs;		/* all levels */
	unsigned nspooled;

	/* literal being announced or read */
	uint64_t lit_size;
	unsigned lit_digits;
	bool lit_plus;
	uint64_t lit_left;
	struct imap_arg *lit_arg;

	/* error */
	const char *err_msg;
	bool err_line_ended;
	uint64_t err_skip_data;	/* LITERAL+ data to skip after reset */
	enum imap_skip_lit skip_lit;
	uint64_t skip_size;
};

static bool
imap_is_tag_char(unsigned char c)
{
	/* RFC 3501 9: ASTRING-CHAR except "+" */
	if (c <= 0x20 || c >= 0x7f)
		return false;
	return strchr("(){%*\"\\+", c) == NULL;
}

static bool
imap_is_name_char(unsigned char c)
{
	return imap_is_tag_char(c) && c != '+' && c != ']' && c != '[';
}

/* Atoms of arguments: RFC 3501 ATOM-CHAR plus "%", "*", "]", "\" (LIST
 * wildcards, flags, sequence sets) and, leniently, 8-bit bytes. */
static bool
imap_is_arg_atom_char(unsigned char c)
{
	if (c >= 0x80)
		return true;
	if (c <= 0x20 || c == 0x7f)
		return false;
	return c != '(' && c != ')' && c != '"';
}

static void
imap_args_free(struct imap_arg *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].str);
		if (v[i].fd >= 0)
			close(v[i].fd);
		if (v[i].list != NULL)
			imap_args_free(v[i].list, v[i].count);
	}
	free(v);
}

static void
imap_parser_clear(struct imap_parser *p)
{
	xfree(p->cmd.tag);
	xfree(p->cmd.name);
	if (p->cmd.args != NULL)
		imap_args_free(p->cmd.args, p->cmd.nargs);
	p->cmd.args = NULL;
	p->cmd.nargs = 0;
	for (unsigned d = 0; d <= p->lim.max_depth; d++) {
		if (p->frames[d].v != NULL)
			imap_args_free(p->frames[d].v, p->frames[d].n);
		p->frames[d].v = NULL;
		p->frames[d].n = p->frames[d].cap = 0;
	}
	p->depth = 0;
	buf_reset(&p->tok);
	p->bracket = 0;
	p->bquote = 0;
	p->lit_octets = p->mem_octets = 0;
	p->nargs = 0;
	p->nspooled = 0;
	p->lit_arg = NULL;
}

struct imap_parser *
imap_parser_new(const struct imap_parser_limits *lim,
    int (*spool_open)(void *ctx), void *ctx)
{
	struct imap_parser *p = xcalloc(1, sizeof(*p));

	if (lim != NULL)
		p->lim = *lim;
	if (p->lim.max_line == 0)
		p->lim.max_line = 65536;
	/* Long UID sets and SEARCH programs need room. */
	if (p->lim.max_line < 8192)
		p->lim.max_line = 8192;
	if (p->lim.max_literal == 0)
		p->lim.max_literal = 64 * 1024 * 1024;
	if (p->lim.max_mem_literal == 0)
		p->lim.max_mem_literal = 64 * 1024;
	if (p->lim.max_depth == 0)
		p->lim.max_depth = 16;
	if (p->lim.max_args == 0)
		p->lim.max_args = 10000;
	if (p->lim.max_command == 0)
		p->lim.max_command = p->lim.max_literal + 1024 * 1024;
	p->spool_open = spool_open;
	p->ctx = ctx;
	p->frames = xcalloc((size_t)p->lim.max_depth + 1, sizeof(*p->frames));
	buf_init(&p->tok);
	p->state = PS_TAG;
	return p;
}

void
imap_parser_free(struct imap_parser **pp)
{
	struct imap_parser *p = *pp;

	if (p == NULL)
		return;
	imap_parser_clear(p);
	free(p->frames);
	buf_deinit(&p->tok);
	free(p);
	*pp = NULL;
}

struct imap_command *
imap_parser_command(const struct imap_parser *p)
{
	return p->state == PS_DONE ? (struct imap_command *)&p->cmd : NULL;
}

const char *
imap_parser_error(const struct imap_parser *p, const char **tag_r)
{
	if (tag_r != NULL)
		*tag_r = p->cmd.tag;
	return p->err_msg != NULL ? p->err_msg : "Unknown error";
}

bool
imap_parser_in_literal(const struct imap_parser *p)
{
	return p->state == PS_LIT_DATA || p->state == PS_SKIP_DATA;
}

void
imap_parser_reset(struct imap_parser *p)
{
	imap_parser_clear(p);
	switch (p->state) {
	case PS_FATAL:
	case PS_SKIP:
	case PS_SKIP_DATA:
		return;
	case PS_ERROR:
		if (p->err_skip_data > 0) {
			p->lit_left = p->err_skip_data;
			p->err_skip_data = 0;
			p->state = PS_SKIP_DATA;
		} else if (!p->err_line_ended) {
			p->state = PS_SKIP;
		} else {
			break;
		}
		p->err_msg = NULL;
		return;
	default:
		break;
	}
	p->err_msg = NULL;
	p->skip_lit = SKIP_LIT_NONE;
	p->line_octets = 0;
	p->lit_left = 0;
	p->state = PS_TAG;
}

/* Follows the bytes of a skipped line for a trailing "{n+}". */
static void
imap_skip_track(struct imap_parser *p, unsigned char c)
{
	switch (c) {
	case '{':
		p->skip_lit = SKIP_LIT_OPEN;
		p->skip_size = 0;
		return;
	case '+':
		p->skip_lit = p->skip_lit == SKIP_LIT_DIGITS ?
		    SKIP_LIT_PLUS : SKIP_LIT_NONE;
		return;
	case '}':
		p->skip_lit = p->skip_lit == SKIP_LIT_PLUS ?
		    SKIP_LIT_CLOSE : SKIP_LIT_NONE;
		return;
	case '\r':
		p->skip_lit = p->skip_lit == SKIP_LIT_CLOSE ?
		    SKIP_LIT_CR : SKIP_LIT_NONE;
		return;
	default:
		break;
	}
	if (c >= '0' && c <= '9' && (p->skip_lit == SKIP_LIT_OPEN ||
	    p->skip_lit == SKIP_LIT_DIGITS)) {
		p->skip_lit = SKIP_LIT_DIGITS;
		if (p->skip_size > (UINT64_MAX - 9) / 10)
			p->skip_size = UINT64_MAX;
		else
			p->skip_size = p->skip_size * 10 + (uint64_t)(c - '0');
		return;
	}
	p->skip_lit = SKIP_LIT_NONE;
}

static enum imap_parse_status
imap_fail(struct imap_parser *p, enum imap_parse_status st, const char *msg,
    unsigned char c)
{
	p->err_msg = msg;
	if (st == IMAP_PARSE_FATAL) {
		p->state = PS_FATAL;
		return st;
	}
	p->state = PS_ERROR;
	p->err_line_ended = c == '\n';
	p->skip_lit = SKIP_LIT_NONE;
	if (!p->err_line_ended)
		imap_skip_track(p, c);
	return st;
}

static enum imap_parse_status
imap_error(struct imap_parser *p, const char *msg, unsigned char c)
{
	return imap_fail(p, IMAP_PARSE_ERROR, msg, c);
}

/* Adds an argument to the innermost list; NULL past max_args. */
static struct imap_arg *
imap_arg_add(struct imap_parser *p, enum imap_arg_type type)
{
	struct imap_frame *f = &p->frames[p->depth];
	struct imap_arg *a;

	if (p->nargs >= p->lim.max_args)
		return NULL;
	p->nargs++;
	if (f->n == f->cap) {
		f->cap = f->cap == 0 ? 8 : f->cap * 2;
		f->v = xrealloc(f->v, f->cap * sizeof(*f->v));
	}
	a = &f->v[f->n++];
	memset(a, 0, sizeof(*a));
	a->type = type;
	a->fd = -1;
	return a;
}

static char *
imap_tok_dup(const struct buf *b)
{
	return b->len == 0 ? xstrdup("") : xstrndup(b->data, b->len);
}

static enum imap_parse_status
imap_string_end(struct imap_parser *p, enum imap_arg_type type,
    unsigned char c)
{
	struct imap_arg *a;

	if (type == IMAP_ARG_ATOM && str_ieq_n(p->tok.data, p->tok.len, "NIL"))
		type = IMAP_ARG_NIL;
	if ((a = imap_arg_add(p, type)) == NULL)
		return imap_error(p, "Too many arguments", c);
	a->str = imap_tok_dup(&p->tok);
	a->len = p->tok.len;
	buf_reset(&p->tok);
	return IMAP_PARSE_MORE;
}

static enum imap_parse_status
imap_list_open(struct imap_parser *p)
{
	struct imap_arg *a;

	if (p->depth >= p->lim.max_depth)
		return imap_error(p, "Too deeply nested lists", '(');
	if ((a = imap_arg_add(p, IMAP_ARG_LIST)) == NULL)
		return imap_error(p, "Too many arguments", '(');
	p->depth++;
	p->state = PS_ARG_START;
	return IMAP_PARSE_MORE;
}

static enum imap_parse_status
imap_list_close(struct imap_parser *p)
{
	struct imap_frame *f, *parent;
	struct imap_arg *a;

	if (p->depth == 0)
		return imap_error(p, "Unexpected ')'", ')');
	f = &p->frames[p->depth];
	parent = &p->frames[p->depth - 1];
	a = &parent->v[parent->n - 1];
	a->list = f->v;
	a->count = f->n;
	f->v = NULL;
	f->n = f->cap = 0;
	p->depth--;
	p->state = PS_AFTER;
	return IMAP_PARSE_MORE;
}

/* The LF ending a command line (the command's last line). */
static enum imap_parse_status
imap_line_end(struct imap_parser *p)
{
	if (p->cmd.tag == NULL && p->tok.len == 0) {
		/* An empty line: nothing to answer. */
		p->line_octets = 0;
		p->state = PS_TAG;
		return IMAP_PARSE_MORE;
	}
	if (p->cmd.tag == NULL)
		p->cmd.tag = imap_tok_dup(&p->tok);
	if (p->cmd.name == NULL)
		return imap_error(p, "Missing command name", '\n');
	if (p->depth > 0)
		return imap_error(p, "Missing ')'", '\n');
	p->cmd.args = p->frames[0].v;
	p->cmd.nargs = p->frames[0].n;
	p->frames[0].v = NULL;
	p->frames[0].n = p->frames[0].cap = 0;
	p->state = PS_DONE;
	return IMAP_PARSE_COMMAND;
}

static int
imap_write_all(int fd, const char *data, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, data, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		data += n;
		len -= (size_t)n;
	}
	return 0;
}

/* The LF after "{n}" or "{n+}": accept the literal or refuse it. */
static enum imap_parse_status
imap_literal_begin(struct imap_parser *p)
{
	const struct imap_parser_limits *lim = &p->lim;
	uint64_t n = p->lit_size;
	bool spool, plus = p->lit_plus;
	struct imap_arg *a;
	enum imap_parse_status st;
	const char *msg = NULL;

	if (p->lit_digits > 19 || n > lim->max_literal) {
		/* RFC 7888 4: a LITERAL+ literal we will not take cannot be
		 * told apart from commands any more. */
		return imap_fail(p, plus ? IMAP_PARSE_FATAL :
		    IMAP_PARSE_TOO_BIG, "Literal too big", '\n');
	}
	spool = n > lim->max_mem_literal ||
	    p->mem_octets + n > IMAP_PARSER_MEM_BUDGET(lim);
	st = IMAP_PARSE_TOO_BIG;
	if (p->line_octets + p->lit_octets + n > lim->max_command)
		msg = "Command too big";
	else if (spool && p->nspooled >= IMAP_PARSER_MAX_SPOOLED)
		msg = "Too many literals";
	else if (p->nargs >= lim->max_args) {
		st = IMAP_PARSE_ERROR;
		msg = "Too many arguments";
	}
	if (msg == NULL && spool) {
		int fd = p->spool_open != NULL ? p->spool_open(p->ctx) : -1;

		if (fd < 0) {
			st = IMAP_PARSE_ERROR;
			msg = "[SERVERBUG] Cannot store the literal";
		} else {
			a = imap_arg_add(p, IMAP_ARG_LITERAL);
			a->fd = fd;
			p->nspooled++;
		}
	} else if (msg == NULL) {
		a = imap_arg_add(p, IMAP_ARG_LITERAL);
		a->str = xmalloc((size_t)n + 1);
		a->str[n] = '\0';
		p->mem_octets += n;
	}
	if (msg != NULL) {
		imap_fail(p, st, msg, '\n');
		if (plus) {
			/* Its data is on its way, then the rest of the
			 * line: skip both. */
			p->err_line_ended = false;
			p->err_skip_data = n;
		}
		return st;
	}
	a->len = (size_t)n;
	p->lit_octets += n;
	p->lit_arg = a;
	p->lit_left = n;
	p->state = n > 0 ? PS_LIT_DATA : PS_AFTER;
	return plus ? IMAP_PARSE_MORE : IMAP_PARSE_CONTINUE;
}

static enum imap_parse_status
imap_literal_data(struct imap_parser *p, const char *data, size_t len)
{
	struct imap_arg *a = p->lit_arg;

	if (a->fd >= 0) {
		if (imap_write_all(a->fd, data, len) < 0) {
			/* The client goes on sending; skip what is left. */
			imap_fail(p, IMAP_PARSE_ERROR,
			    "[SERVERBUG] Cannot store the literal", 0);
			p->err_skip_data = p->lit_left - len;
			return IMAP_PARSE_ERROR;
		}
	} else {
		memcpy(a->str + (a->len - p->lit_left), data, len);
	}
	p->lit_left -= len;
	if (p->lit_left == 0) {
		p->lit_arg = NULL;
		p->state = PS_AFTER;
	}
	return IMAP_PARSE_MORE;
}

static enum imap_parse_status
imap_skip_byte(struct imap_parser *p, unsigned char c)
{
	if (c != '\n') {
		imap_skip_track(p, c);
		return IMAP_PARSE_MORE;
	}
	if (p->skip_lit == SKIP_LIT_CLOSE || p->skip_lit == SKIP_LIT_CR) {
		p->skip_lit = SKIP_LIT_NONE;
		if (p->skip_size > p->lim.max_literal)
			return imap_fail(p, IMAP_PARSE_FATAL,
			    "Literal too big", c);
		if (p->skip_size > 0) {
			p->lit_left = p->skip_size;
			p->state = PS_SKIP_DATA;
		}
		return IMAP_PARSE_MORE;
	}
	p->skip_lit = SKIP_LIT_NONE;
	p->line_octets = 0;
	p->state = PS_TAG;
	return IMAP_PARSE_MORE;
}

static enum imap_parse_status
imap_tag_byte(struct imap_parser *p, unsigned char c)
{
	if (c == '\r') {
		p->state = PS_EOL_LF;
		return IMAP_PARSE_MORE;
	}
	if (c == '\n')
		return imap_line_end(p);
	if (c == ' ') {
		if (p->tok.len == 0)
			return imap_error(p, "Missing tag", c);
		p->cmd.tag = imap_tok_dup(&p->tok);
		buf_reset(&p->tok);
		p->state = PS_NAME_START;
		return IMAP_PARSE_MORE;
	}
	if (!imap_is_tag_char(c)) {
		buf_reset(&p->tok);
		return imap_error(p, "Invalid tag", c);
	}
	buf_append(&p->tok, &c, 1);
	return IMAP_PARSE_MORE;
}

static enum imap_parse_status
imap_name_byte(struct imap_parser *p, unsigned char c)
{
	if (c == ' ' && p->state == PS_NAME_START)
		return IMAP_PARSE_MORE;	/* lenient: extra spaces */
	if (imap_is_name_char(c)) {
		if (c >= 'a' && c <= 'z')
			c = (unsigned char)(c - 'a' + 'A');
		buf_append(&p->tok, &c, 1);
		p->state = PS_NAME;
		return IMAP_PARSE_MORE;
	}
	if (c != ' ' && c != '\r' && c != '\n')
		return imap_error(p, "Invalid command name", c);
	if (p->state == PS_NAME) {
		p->cmd.name = imap_tok_dup(&p->tok);
		buf_reset(&p->tok);
	}
	if (c == '\n')
		return imap_line_end(p);
	p->state = c == '\r' ? PS_EOL_LF : PS_ARG_START;
	return IMAP_PARSE_MORE;
}

static enum imap_parse_status
imap_arg_start_byte(struct imap_parser *p, unsigned char c)
{
	switch (c) {
	case ' ':
		return IMAP_PARSE_MORE;	/* lenient: extra spaces */
	case '(':
		return imap_list_open(p);
	case ')':
		return imap_list_close(p);
	case '"':
		p->state = PS_QUOTED;
		return IMAP_PARSE_MORE;
	case '{':
		p->lit_size = 0;
		p->lit_digits = 0;
		p->lit_plus = false;
		p->state = PS_LIT_LEN;
		return IMAP_PARSE_MORE;
	case '\r':
		p->state = PS_EOL_LF;
		return IMAP_PARSE_MORE;
	case '\n':
		return imap_line_end(p);
	default:
		break;
	}
	if (!imap_is_arg_atom_char(c))
		return imap_error(p, "Invalid character", c);
	buf_append(&p->tok, &c, 1);
	p->bracket = c == '[';
	p->bquote = 0;
	p->state = PS_ATOM;
	return IMAP_PARSE_MORE;
}

static enum imap_parse_status
imap_after_byte(struct imap_parser *p, unsigned char c)
{
	switch (c) {
	case ' ':
		p->state = PS_ARG_START;
		return IMAP_PARSE_MORE;
	case ')':
		return imap_list_close(p);
	case '\r':
		p->state = PS_EOL_LF;
		return IMAP_PARSE_MORE;
	case '\n':
		return imap_line_end(p);
	default:
		return imap_error(p, "Missing space between arguments", c);
	}
}

static enum imap_parse_status
imap_atom_byte(struct imap_parser *p, unsigned char c)
{
	enum imap_parse_status st;

	if (p->bracket > 0) {
		/* BODY[HEADER.FIELDS (FROM "TO")]: up to the matching ']'
		 * everything is part of the atom (a ']' in quotes too). */
		if (c == '\r' || c == '\n')
			return imap_error(p, "Missing ']'", c);
		if (c < 0x20 || c == 0x7f)
			return imap_error(p, "Invalid character", c);
		if (p->bquote == 2)
			p->bquote = 1;
		else if (p->bquote == 1 && c == '\\')
			p->bquote = 2;
		else if (c == '"')
			p->bquote = !p->bquote;
		else if (p->bquote == 0 && c == '[')
			p->bracket++;
		else if (p->bquote == 0 && c == ']')
			p->bracket--;
		buf_append(&p->tok, &c, 1);
		return IMAP_PARSE_MORE;
	}
	if (imap_is_arg_atom_char(c)) {
		if (c == '[')
			p->bracket = 1;
		buf_append(&p->tok, &c, 1);
		return IMAP_PARSE_MORE;
	}
	if (c != ' ' && c != ')' && c != '\r' && c != '\n')
		return imap_error(p, "Invalid character in atom", c);
	if ((st = imap_string_end(p, IMAP_ARG_ATOM, c)) != IMAP_PARSE_MORE)
		return st;
	return imap_after_byte(p, c);
}

static enum imap_parse_status
imap_quoted_byte(struct imap_parser *p, unsigned char c)
{
	if (p->state == PS_QUOTED_ESC) {
		/* RFC 3501 9: quoted-specials only */
		if (c != '"' && c != '\\')
			return imap_error(p, "Invalid escape in quoted string",
			    c);
		buf_append(&p->tok, &c, 1);
		p->state = PS_QUOTED;
		return IMAP_PARSE_MORE;
	}
	switch (c) {
	case '"':
		p->state = PS_AFTER;
		return imap_string_end(p, IMAP_ARG_QUOTED, c);
	case '\\':
		p->state = PS_QUOTED_ESC;
		return IMAP_PARSE_MORE;
	case '\r':
	case '\n':
		return imap_error(p, "Unterminated quoted string", c);
	case '\0':
		return imap_error(p, "NUL in quoted string", c);
	default:
		/* 8-bit bytes: clients send UTF-8 here (RFC 6855 spirit). */
		buf_append(&p->tok, &c, 1);
		return IMAP_PARSE_MORE;
	}
}

static enum imap_parse_status
imap_literal_byte(struct imap_parser *p, unsigned char c)
{
	switch (p->state) {
	case PS_LIT_LEN:
		if (c >= '0' && c <= '9') {
			/* more than 19 digits: too big whatever the limit */
			if (p->lit_digits < 20)
				p->lit_digits++;
			if (p->lit_digits <= 19)
				p->lit_size = p->lit_size * 10 +
				    (uint64_t)(c - '0');
			return IMAP_PARSE_MORE;
		}
		if (p->lit_digits > 0 && c == '+') {
			p->lit_plus = true;
			p->state = PS_LIT_CLOSE;
			return IMAP_PARSE_MORE;
		}
		if (p->lit_digits > 0 && c == '}') {
			p->state = PS_LIT_CR;
			return IMAP_PARSE_MORE;
		}
		return imap_error(p, "Invalid literal size", c);
	case PS_LIT_CLOSE:
		if (c != '}')
			return imap_error(p, "Invalid literal size", c);
		p->state = PS_LIT_CR;
		return IMAP_PARSE_MORE;
	case PS_LIT_CR:
		if (c == '\r') {
			p->state = PS_LIT_LF;
			return IMAP_PARSE_MORE;
		}
		break;
	default:
		break;
	}
	if (c == '\n')
		return imap_literal_begin(p);
	return imap_error(p, "Missing CRLF after literal size", c);
}

static enum imap_parse_status
imap_parser_byte(struct imap_parser *p, unsigned char c)
{
	switch (p->state) {
	case PS_TAG:
		return imap_tag_byte(p, c);
	case PS_NAME_START:
	case PS_NAME:
		return imap_name_byte(p, c);
	case PS_ARG_START:
		return imap_arg_start_byte(p, c);
	case PS_AFTER:
		return imap_after_byte(p, c);
	case PS_ATOM:
		return imap_atom_byte(p, c);
	case PS_QUOTED:
	case PS_QUOTED_ESC:
		return imap_quoted_byte(p, c);
	case PS_LIT_LEN:
	case PS_LIT_CLOSE:
	case PS_LIT_CR:
	case PS_LIT_LF:
		return imap_literal_byte(p, c);
	case PS_EOL_LF:
		if (c == '\n')
			return imap_line_end(p);
		return imap_error(p, "CR without LF", c);
	case PS_SKIP:
		return imap_skip_byte(p, c);
	case PS_LIT_DATA:
	case PS_SKIP_DATA:
	case PS_DONE:
	case PS_ERROR:
	case PS_FATAL:
		break;
	}
	return imap_fail(p, IMAP_PARSE_FATAL, "Parser state error", c);
}

enum imap_parse_status
imap_parser_feed(struct imap_parser *p, const char *data, size_t len,
    size_t *consumed_r)
{
	enum imap_parse_status st = IMAP_PARSE_MORE;
	size_t i = 0;

	if (p->state == PS_FATAL) {
		*consumed_r = 0;
		return IMAP_PARSE_FATAL;
	}
	if (p->state == PS_DONE || p->state == PS_ERROR)
		imap_parser_reset(p);
	while (i < len && st == IMAP_PARSE_MORE) {
		if (p->state == PS_LIT_DATA || p->state == PS_SKIP_DATA) {
			size_t n = len - i;

			if (n > p->lit_left)
				n = (size_t)p->lit_left;
			if (p->state == PS_LIT_DATA) {
				st = imap_literal_data(p, data + i, n);
			} else {
				p->lit_left -= n;
				if (p->lit_left == 0)
					p->state = PS_SKIP;
			}
			i += n;
			continue;
		}
		/* RFC 3501 doesn't bound a line; we must (RFC 7162 3.2.1
		 * suggests at least 8192 octets). */
		if (++p->line_octets > p->lim.max_line) {
			st = imap_fail(p, IMAP_PARSE_FATAL,
			    "Command line too long", 0);
			break;
		}
		st = imap_parser_byte(p, (unsigned char)data[i++]);
	}
	*consumed_r = i;
	return st;
}

int
imap_arg_astring(const struct imap_arg *a, const char **s_r, size_t *len_r)
{
	switch (a->type) {
	case IMAP_ARG_ATOM:
	case IMAP_ARG_QUOTED:
	case IMAP_ARG_NIL:
	case IMAP_ARG_LITERAL:
		if (a->str == NULL)
			return -1;
		*s_r = a->str;
		*len_r = a->len;
		return 0;
	case IMAP_ARG_LIST:
		break;
	}
	return -1;
}

/* ---- sequence sets ---- */

/* Capacity follows the count: 4, then doubled at each power of two. */
static void
imap_seqset_push(struct imap_seqset *set, uint32_t lo, uint32_t hi)
{
	size_t c = set->count;

	if (c == 0 || (c >= 4 && (c & (c - 1)) == 0))
		set->r = xrealloc(set->r, (c < 4 ? 4 : c * 2) *
		    sizeof(*set->r));
	set->r[c].lo = lo;
	set->r[c].hi = hi;
	set->count++;
}

static int
imap_seq_number(const char *s, size_t len, size_t *i, uint32_t *n_r)
{
	size_t start = *i;
	uint64_t v;

	if (start < len && s[start] == '*') {
		*n_r = IMAP_SEQ_STAR;
		(*i)++;
		return 0;
	}
	/* RFC 3501 9: nz-number = digit-nz *DIGIT */
	if (start >= len || s[start] < '1' || s[start] > '9')
		return -1;
	while (*i < len && s[*i] >= '0' && s[*i] <= '9')
		(*i)++;
	if (str_to_u64(s + start, *i - start, UINT32_MAX, &v) < 0)
		return -1;
	*n_r = (uint32_t)v;
	return 0;
}

int
imap_seqset_parse(const char *s, size_t len, struct imap_seqset *set_r)
{
	size_t i = 0;

	set_r->r = NULL;
	set_r->count = 0;
	for (;;) {
		uint32_t a, b;

		if (imap_seq_number(s, len, &i, &a) < 0)
			goto fail;
		b = a;
		if (i < len && s[i] == ':') {
			i++;
			if (imap_seq_number(s, len, &i, &b) < 0)
				goto fail;
		}
		if (set_r->count >= IMAP_SEQSET_MAX_RANGES)
			goto fail;
		imap_seqset_push(set_r, a < b ? a : b, a < b ? b : a);
		if (i == len)
			return 0;
		if (s[i] != ',')
			goto fail;
		i++;
	}
fail:
	imap_seqset_free(set_r);
	return -1;
}

static int
imap_seqrange_cmp(const void *a, const void *b)
{
	const struct imap_seqrange *x = a, *y = b;

	if (x->lo != y->lo)
		return x->lo < y->lo ? -1 : 1;
	if (x->hi != y->hi)
		return x->hi < y->hi ? -1 : 1;
	return 0;
}

void
imap_seqset_resolve(struct imap_seqset *set, uint32_t star_value)
{
	size_t out = 0;

	for (size_t i = 0; i < set->count; i++) {
		struct imap_seqrange *r = &set->r[i];

		if (r->lo == IMAP_SEQ_STAR)
			r->lo = star_value;
		if (r->hi == IMAP_SEQ_STAR)
			r->hi = star_value;
		if (r->lo > r->hi) {
			uint32_t t = r->lo;

			r->lo = r->hi;
			r->hi = t;
		}
	}
	if (set->count == 0)
		return;
	qsort(set->r, set->count, sizeof(*set->r), imap_seqrange_cmp);
	for (size_t i = 1; i < set->count; i++) {
		struct imap_seqrange *last = &set->r[out];

		if (last->hi == UINT32_MAX || set->r[i].lo <= last->hi + 1) {
			if (set->r[i].hi > last->hi)
				last->hi = set->r[i].hi;
		} else {
			set->r[++out] = set->r[i];
		}
	}
	set->count = out + 1;
}

bool
imap_seqset_contains(const struct imap_seqset *set, uint32_t n)
{
	size_t lo = 0, hi = set->count;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (n < set->r[mid].lo)
			hi = mid;
		else if (n > set->r[mid].hi)
			lo = mid + 1;
		else
			return true;
	}
	return false;
}

void
imap_seqset_append(struct imap_seqset *set, uint32_t lo, uint32_t hi)
{
	struct imap_seqrange *last;

	if (lo > hi) {
		uint32_t t = lo;

		lo = hi;
		hi = t;
	}
	if (set->count > 0) {
		last = &set->r[set->count - 1];
		if (last->hi != UINT32_MAX && last->hi + 1 == lo) {
			last->hi = hi;
			return;
		}
	}
	imap_seqset_push(set, lo, hi);
}

void
imap_seqset_free(struct imap_seqset *set)
{
	xfree(set->r);
	set->count = 0;
}

static void
imap_seq_format(struct buf *out, uint32_t n)
{
	if (n == IMAP_SEQ_STAR)
		buf_append(out, "*", 1);
	else
		buf_printf(out, "%u", (unsigned)n);
}

void
imap_seqset_format(const struct imap_seqset *set, struct buf *out)
{
	for (size_t i = 0; i < set->count; i++) {
		if (i > 0)
			buf_append(out, ",", 1);
		imap_seq_format(out, set->r[i].lo);
		if (set->r[i].hi != set->r[i].lo) {
			buf_append(out, ":", 1);
			imap_seq_format(out, set->r[i].hi);
		}
	}
}

/* ---- FETCH sections ---- */

static bool
imap_is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* A decimal run at s[*i]; nz: no leading zero, not 0 (nz-number). */
static int
imap_u32(const char *s, size_t len, size_t *i, bool nz, uint32_t *v_r)
{
	size_t start = *i;
	uint64_t v;

	while (*i < len && imap_is_digit(s[*i]))
		(*i)++;
	if (*i == start || str_to_u64(s + start, *i - start, UINT32_MAX,
	    &v) < 0)
		return -1;
	if (nz && (s[start] == '0'))
		return -1;
	*v_r = (uint32_t)v;
	return 0;
}

static void
imap_section_add_field(struct imap_section *sec, const char *s, size_t len)
{
	sec->fields = xrealloc(sec->fields, (sec->nfields + 1) *
	    sizeof(*sec->fields));
	sec->fields[sec->nfields++] = xstrndup(s, len);
}

/* Header field names, RFC 5322 3.6.8 ftext: printable 7-bit; an atom
 * stops at what would end the list or the section. */
static int
imap_section_fields(const char *s, size_t len, size_t *i,
    struct imap_section *sec)
{
	struct buf name;
	int ret = -1;

	buf_init(&name);
	if (*i >= len || s[*i] != ' ')
		return -1;
	while (*i < len && s[*i] == ' ')
		(*i)++;
	if (*i >= len || s[*i] != '(')
		return -1;
	(*i)++;
	for (;;) {
		while (*i < len && s[*i] == ' ')
			(*i)++;
		if (*i >= len)
			goto out;
		if (s[*i] == ')')
			break;
		if (sec->nfields > 0 && s[*i - 1] != ' ')
			goto out;
		buf_reset(&name);
		if (s[*i] == '"') {
			for ((*i)++; *i < len && s[*i] != '"'; (*i)++) {
				if (s[*i] == '\\' && ++(*i) == len)
					goto out;
				if (s[*i] < 0x20 || s[*i] > 0x7e)
					goto out;
				buf_append(&name, &s[*i], 1);
			}
			if (*i == len)
				goto out;
			(*i)++;
		} else {
			while (*i < len && s[*i] > 0x20 && s[*i] < 0x7f &&
			    strchr("()[]{}\"%*\\", s[*i]) == NULL) {
				buf_append(&name, &s[*i], 1);
				(*i)++;
			}
		}
		if (name.len == 0 || name.len != strlen(name.data))
			goto out;
		imap_section_add_field(sec, name.data, name.len);
	}
	(*i)++;
	ret = sec->nfields > 0 ? 0 : -1;
out:
	buf_deinit(&name);
	return ret;
}

static const struct {
	const char *word;
	enum imap_sect_kind kind;
} imap_sect_words[] = {
	{ "HEADER", IMAP_SECT_HEADER },
	{ "HEADER.FIELDS", IMAP_SECT_HEADER_FIELDS },
	{ "HEADER.FIELDS.NOT", IMAP_SECT_HEADER_FIELDS_NOT },
	{ "TEXT", IMAP_SECT_TEXT },
	{ "MIME", IMAP_SECT_MIME },
};

/* RFC 3501 9: section-spec after "BODY[" and up to "]". */
static int
imap_section_spec(const char *s, size_t len, size_t *i,
    struct imap_section *sec, struct buf *canon)
{
	size_t start;
	bool found = false;

	while (*i < len && imap_is_digit(s[*i])) {
		uint32_t n;

		if (sec->nparts == ARRAY_SIZE(sec->part) ||
		    imap_u32(s, len, i, true, &n) < 0)
			return -1;
		sec->part[sec->nparts++] = n;
		buf_printf(canon, "%s%u", sec->nparts > 1 ? "." : "",
		    (unsigned)n);
		if (*i < len && s[*i] == ']')
			return 0;
		if (*i >= len || s[*i] != '.')
			return -1;
		(*i)++;
	}
	if (*i < len && s[*i] == ']' && sec->nparts == 0)
		return 0;
	start = *i;
	while (*i < len && ((s[*i] >= 'A' && s[*i] <= 'Z') ||
	    (s[*i] >= 'a' && s[*i] <= 'z') || s[*i] == '.'))
		(*i)++;
	for (size_t k = 0; k < ARRAY_SIZE(imap_sect_words); k++) {
		if (str_ieq_n(s + start, *i - start, imap_sect_words[k].word)) {
			sec->kind = imap_sect_words[k].kind;
			if (sec->nparts > 0)
				buf_append(canon, ".", 1);
			buf_append_str(canon, imap_sect_words[k].word);
			found = true;
			break;
		}
	}
	/* RFC 3501 6.4.5: MIME only for a body part */
	if (!found || (sec->kind == IMAP_SECT_MIME && sec->nparts == 0))
		return -1;
	if (sec->kind == IMAP_SECT_HEADER_FIELDS ||
	    sec->kind == IMAP_SECT_HEADER_FIELDS_NOT) {
		if (imap_section_fields(s, len, i, sec) < 0)
			return -1;
		buf_append(canon, " (", 2);
		for (size_t k = 0; k < sec->nfields; k++) {
			if (k > 0)
				buf_append(canon, " ", 1);
			const char *f = sec->fields[k];

			/* an atom "X]" would end the section early */
			if (strchr(f, ']') != NULL)
				imap_append_quoted_or_literal(canon, f,
				    strlen(f));
			else
				imap_append_astring(canon, f, strlen(f));
		}
		buf_append(canon, ")", 1);
	}
	return 0;
}

int
imap_section_parse(const char *s, size_t len, struct imap_section *sec_r)
{
	struct buf canon;
	size_t i;

	memset(sec_r, 0, sizeof(*sec_r));
	if (len >= 5 && strncasecmp(s, "BODY[", 5) == 0) {
		i = 5;
	} else if (len >= 10 && strncasecmp(s, "BODY.PEEK[", 10) == 0) {
		i = 10;
		sec_r->peek = true;
	} else {
		return -1;
	}
	buf_init(&canon);
	buf_append_str(&canon, "BODY[");
	if (imap_section_spec(s, len, &i, sec_r, &canon) < 0 || i >= len ||
	    s[i] != ']')
		goto fail;
	i++;
	buf_append(&canon, "]", 1);
	if (i < len) {
		/* RFC 3501 9: "<" number "." nz-number ">" */
		if (s[i] != '<')
			goto fail;
		i++;
		if (imap_u32(s, len, &i, false, &sec_r->offset) < 0 ||
		    i >= len || s[i] != '.')
			goto fail;
		i++;
		if (imap_u32(s, len, &i, true, &sec_r->length) < 0 ||
		    i + 1 != len || s[i] != '>')
			goto fail;
		sec_r->partial = true;
		/* RFC 3501 7.4.2: the response gives the origin only */
		buf_printf(&canon, "<%u>", (unsigned)sec_r->offset);
	}
	sec_r->canonical = canon.data;
	return 0;
fail:
	buf_deinit(&canon);
	imap_section_free(sec_r);
	return -1;
}

void
imap_section_free(struct imap_section *sec)
{
	for (size_t i = 0; i < sec->nfields; i++)
		free(sec->fields[i]);
	xfree(sec->fields);
	sec->nfields = 0;
	xfree(sec->canonical);
}

/* ---- dates ---- */

static const char imap_months[12][4] = {
	"Jan", "Feb", "Mar", "Apr", "May", "Jun",
	"Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
};

/* Days since 1970-01-01 in the proleptic Gregorian calendar (H. Hinnant's
 * days_from_civil), so no libc time zone state is involved. */
static int64_t
imap_days_from_civil(int64_t y, unsigned m, unsigned d)
{
	int64_t era;
	unsigned yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned)(y - era * 400);
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

static void
imap_civil_from_days(int64_t z, int64_t *y_r, unsigned *m_r, unsigned *d_r)
{
	int64_t era;
	unsigned doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = (unsigned)(z - era * 146097);
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d_r = doy - (153 * mp + 2) / 5 + 1;
	*m_r = mp < 10 ? mp + 3 : mp - 9;
	*y_r = (int64_t)yoe + era * 400 + (*m_r <= 2);
}

static unsigned
imap_month_days(int64_t y, unsigned m)
{
	static const unsigned char days[12] = {
		31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31
	};

	if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		return 29;
	return days[m - 1];
}

/* Exactly n digits at s (which holds them). */
static int
imap_num(const char *s, size_t n, unsigned *v_r)
{
	unsigned v = 0;

	for (size_t k = 0; k < n; k++) {
		if (!imap_is_digit(s[k]))
			return -1;
		v = v * 10 + (unsigned)(s[k] - '0');
	}
	*v_r = v;
	return 0;
}

static int
imap_digits(const char *s, size_t len, size_t *i, size_t n, unsigned *v_r)
{
	if (len - *i < n || imap_num(s + *i, n, v_r) < 0)
		return -1;
	*i += n;
	return 0;
}

static void
imap_unquote(const char **s, size_t *len)
{
	if (*len >= 2 && (*s)[0] == '"' && (*s)[*len - 1] == '"') {
		(*s)++;
		*len -= 2;
	}
}

/* "d-Mon-yyyy" at s[*i] (the day one or two digits, or " d" when
 * space_day), checked against the calendar; returns days since 1970. */
static int
imap_date_text(const char *s, size_t len, size_t *i, bool space_day,
    int64_t *days_r)
{
	unsigned d, y, m;
	bool padded = false;

	if (space_day && *i < len && s[*i] == ' ') {
		padded = true;
		(*i)++;
	}
	if (imap_digits(s, len, i, 1, &d) < 0)
		return -1;
	if (!padded && *i < len && imap_is_digit(s[*i])) {
		d = d * 10 + (unsigned)(s[*i] - '0');
		(*i)++;
	}
	if (len - *i < 5 || s[*i] != '-' || s[*i + 4] != '-')
		return -1;
	for (m = 0; m < 12; m++) {
		if (strncasecmp(s + *i + 1, imap_months[m], 3) == 0)
			break;
	}
	if (m == 12)
		return -1;
	*i += 5;
	if (imap_digits(s, len, i, 4, &y) < 0)
		return -1;
	if (d == 0 || d > imap_month_days(y, m + 1))
		return -1;
	*days_r = imap_days_from_civil(y, m + 1, d);
	return 0;
}

int
imap_datetime_parse(const char *s, size_t len, time_t *t_r, int *tzoff_r)
{
	size_t i = 0;
	int64_t days;
	unsigned hh, mm, ss, zh, zm;
	const char *t;
	int sign;

	imap_unquote(&s, &len);
	/* RFC 3501 9: date-day-fixed "-" date-month "-" date-year SP time
	 * SP zone, the rest being " hh:mm:ss +zzzz" */
	if (imap_date_text(s, len, &i, true, &days) < 0 || len - i != 15)
		return -1;
	t = s + i;
	if (t[0] != ' ' || t[3] != ':' || t[6] != ':' || t[9] != ' ' ||
	    (t[10] != '+' && t[10] != '-'))
		return -1;
	sign = t[10] == '-' ? -1 : 1;
	if (imap_num(t + 1, 2, &hh) < 0 || imap_num(t + 4, 2, &mm) < 0 ||
	    imap_num(t + 7, 2, &ss) < 0 || imap_num(t + 11, 2, &zh) < 0 ||
	    imap_num(t + 13, 2, &zm) < 0)
		return -1;
	if (hh > 23 || mm > 59 || ss > 60 || zh > 23 || zm > 59)
		return -1;
	*tzoff_r = sign * (int)(zh * 3600 + zm * 60);
	*t_r = (time_t)(days * 86400 + hh * 3600 + mm * 60 + ss) - *tzoff_r;
	return 0;
}

int
imap_date_parse(const char *s, size_t len, time_t *day_r)
{
	size_t i = 0;
	int64_t days;

	imap_unquote(&s, &len);
	if (imap_date_text(s, len, &i, false, &days) < 0 || i != len)
		return -1;
	*day_r = (time_t)(days * 86400);
	return 0;
}

void
imap_datetime_format(time_t t, int tzoff, char *out, size_t outsize)
{
	int64_t local, days, secs, y;
	unsigned m, d, off;

	/* Far beyond year 9999 either way: refuse before any overflow. */
	if ((int64_t)t > INT64_C(1) << 40 ||
	    (int64_t)t < -(INT64_C(1) << 40) ||
	    tzoff > 86400 || tzoff < -86400) {
		if (outsize > 0)
			out[0] = '\0';
		return;
	}
	local = (int64_t)t + tzoff;
	days = local / 86400;
	secs = local % 86400;
	if (secs < 0) {
		secs += 86400;
		days--;
	}
	imap_civil_from_days(days, &y, &m, &d);
	off = (unsigned)(tzoff < 0 ? -tzoff : tzoff) / 60;
	if (str_printf(out, outsize, "%02u-%s-%04lld %02u:%02u:%02u %c%02u%02u",
	    d, imap_months[m - 1], (long long)y, (unsigned)(secs / 3600),
	    (unsigned)(secs / 60 % 60), (unsigned)(secs % 60),
	    tzoff < 0 ? '-' : '+', off / 60, off % 60) < 0 && outsize > 0)
		out[0] = '\0';
}

/* ---- output ---- */

static bool
imap_is_astring_char(unsigned char c)
{
	/* RFC 3501 9: ATOM-CHAR / resp-specials */
	if (c <= 0x20 || c >= 0x7f)
		return false;
	return strchr("(){%*\"\\", c) == NULL;
}

void
imap_append_quoted_or_literal(struct buf *out, const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		if (s[i] < 0x20 || s[i] > 0x7e)
			break;
	}
	if (i < len) {
		buf_printf(out, "{%zu}\r\n", len);
		buf_append(out, s, len);
		return;
	}
	buf_append(out, "\"", 1);
	for (i = 0; i < len; i++) {
		if (s[i] == '"' || s[i] == '\\')
			buf_append(out, "\\", 1);
		buf_append(out, &s[i], 1);
	}
	buf_append(out, "\"", 1);
}

void
imap_append_astring(struct buf *out, const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		if (!imap_is_astring_char((unsigned char)s[i]))
			break;
	}
	if (len > 0 && i == len && !str_ieq_n(s, len, "NIL"))
		buf_append(out, s, len);
	else
		imap_append_quoted_or_literal(out, s, len);
}

void
imap_append_nstring(struct buf *out, const char *s, size_t len)
{
	if (s == NULL)
		buf_append(out, "NIL", 3);
	else
		imap_append_quoted_or_literal(out, s, len);
}

/* ---- LIST patterns ---- */

bool
imap_list_match(const char *pattern, const char *name, char sep)
{
	size_t n = strlen(name), literals = 0;
	bool inbox, *cur, *nxt, match;

	for (const char *q = pattern; *q != '\0'; q++)
		literals += *q != '*' && *q != '%';
	if (literals > n)
		return false;
	/* RFC 3501 5.1: INBOX is case-insensitive, its children's first
	 * level too. */
	inbox = strncasecmp(name, "INBOX", 5) == 0 &&
	    (name[5] == '\0' || name[5] == sep);
	/* cur[j]: the pattern so far matches name[0..j). Quadratic at
	 * worst, and the pattern is bounded by the name through the literal
	 * count above with runs of wildcards folded. */
	cur = xcalloc(n + 1, sizeof(*cur));
	nxt = xcalloc(n + 1, sizeof(*nxt));
	cur[0] = true;
	for (const char *q = pattern; *q != '\0'; q++) {
		bool *t;

		if (*q == '*' || *q == '%') {
			bool star = false, run = false;

			for (; *q == '*' || *q == '%'; q++)
				star |= *q == '*';
			q--;
			for (size_t j = 0; j <= n; j++) {
				if (!star && j > 0 && name[j - 1] == sep)
					run = false;
				run |= cur[j];
				nxt[j] = run;
			}
		} else {
			nxt[0] = false;
			for (size_t j = 0; j < n; j++) {
				char a = *q, b = name[j];

				if (inbox && j < 5) {
					a = (char)(a >= 'a' && a <= 'z' ?
					    a - 32 : a);
					b = (char)(b >= 'a' && b <= 'z' ?
					    b - 32 : b);
				}
				nxt[j + 1] = cur[j] && a == b;
			}
		}
		t = cur;
		cur = nxt;
		nxt = t;
	}
	match = cur[n];
	free(cur);
	free(nxt);
	return match;
}
