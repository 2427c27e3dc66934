#include <string.h>

#include "lib/util.h"
#include "pop3/pop3_parser.h"

void
pop3_line_init(struct pop3_line *l, size_t max)
{
	l->len = 0;
	l->overflow = false;
	l->done = false;
	l->max = max > POP3_AUTH_LINE_MAX ? POP3_AUTH_LINE_MAX : max;
	l->buf[0] = '\0';
}

enum pop3_line_result
pop3_line_feed(struct pop3_line *l, const char *data, size_t len,
    size_t *consumed_r)
{
	size_t i;

	if (l->done) {
		l->len = 0;
		l->overflow = false;
		l->done = false;
	}
	for (i = 0; i < len; i++) {
		char ch = data[i];

		if (ch == '\n') {
			*consumed_r = i + 1;
			l->done = true;
			if (l->overflow)
				return POP3_LINE_TOO_LONG;
			if (l->len > 0 && l->buf[l->len - 1] == '\r')
				l->len--;
			l->buf[l->len] = '\0';
			return POP3_LINE_OK;
		}
		if (l->overflow)
			continue;
		/* the limit counts the CR (kept until the LF) and the LF */
		if (l->len + 1 >= l->max) {
			l->overflow = true;
			continue;
		}
		l->buf[l->len++] = ch;
	}
	*consumed_r = len;
	return POP3_LINE_MORE;
}

int
pop3_cmd_parse(const char *line, size_t len, struct pop3_cmd *cmd,
    const char **error_r)
{
	size_t v = 0;
	char *p;

	memset(cmd->verb, 0, sizeof(cmd->verb));
	cmd->rest = "";
	cmd->args[0] = cmd->args[1] = NULL;
	cmd->nargs = 0;
	if (len >= sizeof(cmd->storage)) {
		*error_r = "-ERR Line too long";
		return -1;
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)line[i];

		if (ch < 0x20 || ch == 0x7f) {
			*error_r = "-ERR Invalid character in command";
			return -1;
		}
	}
	memcpy(cmd->storage, line, len);
	cmd->storage[len] = '\0';
	/* RFC 1939 3: a keyword of three or four characters. */
	while (v < len && cmd->storage[v] != ' ') {
		char ch = cmd->storage[v];

		if (v >= 4 || !((ch >= 'A' && ch <= 'Z') ||
		    (ch >= 'a' && ch <= 'z'))) {
			*error_r = "-ERR Unknown command";
			return -1;
		}
		cmd->verb[v] = (char)(ch & ~0x20);
		v++;
	}
	if (v < 3) {
		*error_r = "-ERR Unknown command";
		return -1;
	}
	if (v == len)
		return 0;
	p = cmd->storage + v + 1;
	cmd->rest = p;
	while (*p != '\0') {
		char *end;

		while (*p == ' ')
			p++;
		if (*p == '\0')
			break;
		end = strchr(p, ' ');
		if (cmd->nargs < 2)
			cmd->args[cmd->nargs] = p;
		cmd->nargs++;
		if (end == NULL)
			break;
		/* Arguments are NUL-split in place only after rest was
		 * taken: PASS uses rest, which may hold spaces. */
		p = end + 1;
	}
	return 0;
}

int
pop3_msgnum(const char *s, uint32_t max, uint32_t *n_r)
{
	uint64_t v;
	size_t len = 0;

	while (s[len] != '\0' && s[len] != ' ')
		len++;
	if (len == 0 || len > 10 || str_to_u64(s, len, max, &v) < 0 ||
	    v == 0)
		return -1;
	*n_r = (uint32_t)v;
	return 0;
}

void
pop3_encoder_init(struct pop3_encoder *e, long long limit_lines)
{
	memset(e, 0, sizeof(*e));
	e->bol = true;
	e->blank = true;
	if (limit_lines >= 0) {
		e->top = true;
		e->top_lines = (uint64_t)limit_lines;
	}
}

size_t
pop3_encode(struct pop3_encoder *e, const char *in, size_t len, char *out,
    size_t *used_r)
{
	size_t o = 0, i;

	if (e->top && e->in_body && e->top_lines == 0)
		e->done = true;
	for (i = 0; i < len && !e->done; i++) {
		char ch = in[i];

		if (ch == '\n') {
			/* A stored CR LF stays CR LF, not CR CR LF. */
			if (!e->cr)
				out[o++] = '\r';
			out[o++] = '\n';
			e->cr = false;
			if (e->blank && !e->in_body) {
				e->in_body = true;	/* empty line */
			} else if (e->in_body && e->top) {
				e->top_lines--;
			}
			e->bol = true;
			e->blank = true;
			if (e->top && e->in_body && e->top_lines == 0)
				e->done = true;
			continue;
		}
		if (e->bol && ch == '.')
			out[o++] = '.';
		e->bol = false;
		e->cr = ch == '\r';
		if (!e->cr)
			e->blank = false;	/* a CR alone is still blank */
		out[o++] = ch;
	}
	*used_r = i;
	return o;
}

size_t
pop3_encode_end(struct pop3_encoder *e, char *out)
{
	size_t o = 0;

	if (!e->bol) {
		out[o++] = '\r';
		out[o++] = '\n';
	}
	memcpy(out + o, ".\r\n", 3);
	return o + 3;
}
