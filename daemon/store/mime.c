/*
 * mime.c: the MIME parser and the IMAP renderings of mime.h.
 *
 * The tree is built top down: a multipart's body is scanned once for its
 * own boundary lines, which cut it into child ranges, and each child is
 * then parsed inside its range. A child that lacks its closing boundary
 * therefore ends where its parent's next boundary is, which is the
 * tolerance RFC 2046 5.1.2 asks for. Scanning is linear per level and
 * levels are capped, so a message costs O(size * depth).
 *
 * Deliberate choices where the RFCs leave room (see mime.h too):
 *  - A boundary line is "--" boundary, then "--" (the close delimiter,
 *    anything may follow) or only white space: RFC 2046 5.1.1 allows
 *    transport padding, nothing else.
 *  - The first occurrence of a MIME header field wins.
 *  - Header lines without a colon are skipped, with their continuations.
 */
#include <errno.h>
#include <iconv.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "lib/base64.h"
#include "lib/buf.h"
#include "lib/util.h"
#include "store/mime.h"

/* RFC 3501 4.3: a quoted string cannot hold CR, LF or 8-bit octets;
 * long values go out as literals too. */
#define MIME_QUOTED_MAX 1024
/* Longest charset name passed to iconv_open (RFC 2978 names are shorter). */
#define MIME_CHARSET_MAX 64
/* RFC 2231 3: continuation numbers we accept. */
#define MIME_2231_MAX_SECTION 999
/* Parameters kept per field: merging RFC 2231 sections is quadratic. */
#define MIME_MAX_PARAMS 256
/* Language tags shown in BODYSTRUCTURE. */
#define MIME_MAX_LANGUAGES 32

static const char mime_utf8_replacement[] = "\xef\xbf\xbd";

struct mime_range {
	size_t start, end;
};

/* ---- bytes ---- */

static bool
mime_is_wsp(char c)
{
	return c == ' ' || c == '\t';
}

static bool
mime_is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static int
mime_hex(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static bool
mime_ieq(const char *a, const char *b)
{
	return a != NULL && strcasecmp(a, b) == 0;
}

/* RFC 2045 5.1 token characters (ASCII only). */
static bool
mime_is_token(char c)
{
	unsigned char u = (unsigned char)c;

	if (u <= 0x20 || u >= 0x7f)
		return false;
	return strchr("()<>@,;:\\\"/[]?=", c) == NULL;
}

/* ---- sizes ---- */

static void
mime_range_stats(const char *data, size_t len, uint64_t *size_r,
    uint64_t *lines_r)
{
	const char *p = data, *end = data + len, *nl;
	uint64_t lfs = 0, bare = 0;

	while (p < end && (nl = memchr(p, '\n', (size_t)(end - p))) != NULL) {
		lfs++;
		if (nl == data || nl[-1] != '\r')
			bare++;
		p = nl + 1;
	}
	*size_r = len + bare;
	if (lines_r != NULL)
		*lines_r = lfs + (len > 0 && data[len - 1] != '\n' ? 1 : 0);
}

uint64_t
mime_crlf_size(const char *data, size_t len)
{
	uint64_t size;

	if (len == 0)
		return 0;
	mime_range_stats(data, len, &size, NULL);
	return size;
}

/* Appends data[0..len) with bare LFs turned into CRLF. */
static void
mime_append_crlf(const char *data, size_t len, struct buf *out)
{
	const char *p = data, *end = data + len, *nl;

	while (p < end && (nl = memchr(p, '\n', (size_t)(end - p))) != NULL) {
		buf_append(out, p, (size_t)(nl - p));
		if (nl == data || nl[-1] != '\r')
			buf_append(out, "\r\n", 2);
		else
			buf_append(out, "\n", 1);
		p = nl + 1;
	}
	buf_append(out, p, (size_t)(end - p));
}

/* ---- header fields (RFC 5322 2.2) ---- */

struct mime_field {
	const char *name;
	size_t name_len;
	const char *value;	/* after the colon, folds included */
	size_t value_len;	/* without the final line end */
	const char *raw;	/* the whole field with its line ends */
	size_t raw_len;
};

/* The end of the line starting at p: just past its LF, or end. */
static const char *
mime_line_next(const char *p, const char *end)
{
	const char *nl = memchr(p, '\n', (size_t)(end - p));

	return nl != NULL ? nl + 1 : end;
}

/* The blank line that ends a header: LF or CRLF alone. */
static bool
mime_line_blank(const char *p, const char *end)
{
	return *p == '\n' || (*p == '\r' && (p + 1 == end || p[1] == '\n'));
}

/*
 * Reads the field at *pp, stopping at the header's blank line or end.
 * Continuation lines (starting with SP or HT) belong to the field before
 * them; a line without a colon is skipped with its continuations.
 */
static bool
mime_field_next(const char **pp, const char *end, struct mime_field *f)
{
	const char *p = *pp;

	while (p < end && !mime_line_blank(p, end)) {
		const char *first = mime_line_next(p, end), *q = first;
		const char *colon, *name_end;

		while (q < end && mime_is_wsp(*q))
			q = mime_line_next(q, end);
		colon = memchr(p, ':', (size_t)(first - p));
		name_end = colon;
		while (name_end != NULL && name_end > p &&
		    mime_is_wsp(name_end[-1]))
			name_end--;
		if (colon == NULL || name_end == p || mime_is_wsp(*p)) {
			p = q;
			continue;
		}
		f->name = p;
		f->name_len = (size_t)(name_end - p);
		f->raw = p;
		f->raw_len = (size_t)(q - p);
		f->value = colon + 1;
		f->value_len = (size_t)(q - f->value);
		if (f->value_len > 0 && f->value[f->value_len - 1] == '\n')
			f->value_len--;
		if (f->value_len > 0 && f->value[f->value_len - 1] == '\r')
			f->value_len--;
		*pp = q;
		return true;
	}
	*pp = p;
	return false;
}

/* Appends a field value with its line ends removed (RFC 5322 2.2.3) and
 * leading white space skipped. */
static void
mime_unfold(const char *v, size_t len, struct buf *out)
{
	const char *p = v, *end = v + len, *nl;

	while (p < end && mime_is_space(*p))
		p++;
	while (p < end && (nl = memchr(p, '\n', (size_t)(end - p))) != NULL) {
		const char *e = nl;

		if (e > p && e[-1] == '\r')
			e--;
		buf_append(out, p, (size_t)(e - p));
		p = nl + 1;
	}
	buf_append(out, p, (size_t)(end - p));
	if (out->data == NULL)
		buf_append(out, "", 0);
}

/* A trimmed, unfolded copy of a value, NUL-terminated. */
static char *
mime_value_dup(const struct mime_field *f)
{
	struct buf b;
	char *s;
	size_t len;

	buf_init(&b);
	mime_unfold(f->value, f->value_len, &b);
	len = b.len;
	while (len > 0 && mime_is_space(b.data[len - 1]))
		len--;
	s = xstrndup(b.data, len);
	buf_deinit(&b);
	return s;
}

/* Finds the first field called name. */
static bool
mime_field_find(const char *hdr, size_t hdr_len, const char *name,
    struct mime_field *f)
{
	const char *p = hdr, *end;

	if (hdr_len == 0)
		return false;
	end = hdr + hdr_len;
	while (mime_field_next(&p, end, f)) {
		if (str_ieq_n(f->name, f->name_len, name))
			return true;
	}
	return false;
}

/* ---- structured field lexing (RFC 5322 3.2.2) ---- */

/* Skips white space and comments; the last comment's text (quoted pairs
 * undone) goes to comment when it is not NULL. */
static const char *
mime_skip_cfws(const char *p, const char *end, struct buf *comment)
{
	while (p < end) {
		unsigned depth = 0;

		if (mime_is_space(*p)) {
			p++;
			continue;
		}
		if (*p != '(')
			break;
		if (comment != NULL)
			buf_reset(comment);
		for (; p < end; p++) {
			char c = *p;

			if (c == '\\' && p + 1 < end) {
				p++;
				c = *p;
			} else if (c == '(') {
				if (depth++ == 0)
					continue;
			} else if (c == ')') {
				if (--depth == 0) {
					p++;
					break;
				}
			}
			if (comment != NULL && c != '\r' && c != '\n')
				buf_append(comment, &c, 1);
		}
	}
	return p;
}

/* Reads a quoted string at p (on its '"') into out (if not NULL)
 * without the quotes; an unterminated one runs to end. */
static const char *
mime_read_quoted(const char *p, const char *end, struct buf *out)
{
	for (p++; p < end && *p != '"'; p++) {
		if (*p == '\\' && p + 1 < end)
			p++;
		if (out != NULL && *p != '\r' && *p != '\n')
			buf_append(out, p, 1);
	}
	return p < end ? p + 1 : p;
}

static const char *
mime_read_token(const char *p, const char *end, const char **tok_r,
    size_t *len_r)
{
	*tok_r = p;
	while (p < end && mime_is_token(*p))
		p++;
	*len_r = (size_t)(p - *tok_r);
	return p;
}

/* ---- charsets ---- */

static bool
mime_charset_is_raw(const char *cs, size_t len)
{
	return len == 0 || str_ieq_n(cs, len, "us-ascii") ||
	    str_ieq_n(cs, len, "ascii") || str_ieq_n(cs, len, "utf-8") ||
	    str_ieq_n(cs, len, "utf8");
}

/* Copies a charset name for iconv_open, refusing what no charset name
 * holds (iconv would read "//" suffixes as options). */
static bool
mime_charset_name(const char *cs, size_t len, char *name, size_t size)
{
	if (len == 0 || len >= size)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = cs[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '_' ||
		    c == '.' || c == ':' || c == '+'))
			return false;
		name[i] = c;
	}
	name[len] = '\0';
	return true;
}

static iconv_t
mime_iconv_open(const char *cs, size_t len)
{
	char name[MIME_CHARSET_MAX];

	if (!mime_charset_name(cs, len, name, sizeof(name)))
		return (iconv_t)-1;
	return iconv_open("UTF-8", name);
}

/* Whether mime_to_utf8 would convert from this charset. */
static bool
mime_charset_known(const char *cs, size_t len)
{
	iconv_t cd;

	if (mime_charset_is_raw(cs, len))
		return true;
	if ((cd = mime_iconv_open(cs, len)) == (iconv_t)-1)
		return false;
	iconv_close(cd);
	return true;
}

/*
 * Appends in[0..len) converted from charset cs to UTF-8; an octet that
 * does not convert becomes U+FFFD. US-ASCII and UTF-8 are copied as they
 * are (8-bit octets in "us-ascii" text are common and usually UTF-8).
 * false, with nothing appended, for a charset iconv does not know.
 */
static bool
mime_to_utf8(const char *cs, size_t cslen, const char *in, size_t len,
    struct buf *out)
{
	char tmp[4096], *ip = (char *)(uintptr_t)in, *op;
	size_t il = len, ol;
	iconv_t cd;

	if (mime_charset_is_raw(cs, cslen)) {
		buf_append(out, in, len);
		return true;
	}
	if ((cd = mime_iconv_open(cs, cslen)) == (iconv_t)-1)
		return false;
	while (il > 0) {
		size_t r;

		op = tmp;
		ol = sizeof(tmp);
		r = iconv(cd, &ip, &il, &op, &ol);
		buf_append(out, tmp, (size_t)(op - tmp));
		if (r != (size_t)-1 || errno == E2BIG)
			continue;
		if (errno != EILSEQ && errno != EINVAL)
			break;
		buf_append(out, mime_utf8_replacement, 3);
		ip++;
		il--;
		iconv(cd, NULL, NULL, NULL, NULL);
	}
	/* Stateful charsets (ISO-2022-JP) may owe a shift sequence. */
	op = tmp;
	ol = sizeof(tmp);
	iconv(cd, NULL, NULL, &op, &ol);
	buf_append(out, tmp, (size_t)(op - tmp));
	iconv_close(cd);
	return true;
}

/* Appends in converted to UTF-8, or as it is for an unknown charset. */
static void
mime_to_utf8_or_raw(const char *cs, size_t cslen, const char *in,
    size_t len, struct buf *out)
{
	if (!mime_to_utf8(cs, cslen, in, len, out))
		buf_append(out, in, len);
}

/* ---- parameters (RFC 2045 5.1, RFC 2231) ---- */

/* One name=value as written, before RFC 2231 merging. */
struct mime_rawparam {
	char *name;		/* lower-cased */
	struct buf value;
	size_t order;		/* position in the field */
	/* RFC 2231: base name length, section (-1 if none), encoded */
	size_t base_len;
	long section;
	bool encoded;
	bool used;
};

struct mime_rawparams {
	struct mime_rawparam *v;
	size_t n, cap;
};

static void
mime_rawparams_free(struct mime_rawparams *rp)
{
	for (size_t i = 0; i < rp->n; i++) {
		free(rp->v[i].name);
		buf_deinit(&rp->v[i].value);
	}
	free(rp->v);
}

/* Splits "name*2*" into base, section 2 and encoded. A name that is not
 * of RFC 2231 3's shapes keeps section -1, not encoded, whole base. */
static void
mime_rawparam_split(struct mime_rawparam *rp)
{
	const char *name = rp->name, *star = strchr(name, '*'), *p;
	long sec = 0;

	rp->base_len = strlen(name);
	rp->section = -1;
	rp->encoded = false;
	if (star == NULL || star == name)
		return;
	p = star + 1;
	if (*p == '\0') {		/* name* */
		rp->base_len = (size_t)(star - name);
		rp->encoded = true;
		return;
	}
	if (*p < '0' || *p > '9' || (*p == '0' && p[1] >= '0' && p[1] <= '9'))
		return;
	for (; *p >= '0' && *p <= '9'; p++) {
		sec = sec * 10 + (*p - '0');
		if (sec > MIME_2231_MAX_SECTION)
			return;
	}
	if (*p == '*') {
		rp->encoded = true;
		p++;
	}
	if (*p != '\0') {
		rp->encoded = false;
		return;
	}
	rp->base_len = (size_t)(star - name);
	rp->section = sec;
}

/* Reads ";" name "=" value pairs from p to end, tolerating junk between
 * them, unquoted values holding 8-bit octets and missing values. */
static void
mime_params_lex(const char *p, const char *end, struct mime_rawparams *rp)
{
	while (p < end && rp->n < MIME_MAX_PARAMS) {
		const char *name, *v;
		size_t name_len;
		struct mime_rawparam *r;

		p = mime_skip_cfws(p, end, NULL);
		if (p < end && *p != ';') {
			/* junk: skip to the next ';' outside quotes */
			while (p < end && *p != ';') {
				if (*p == '"')
					p = mime_read_quoted(p, end, NULL);
				else
					p++;
			}
		}
		if (p >= end)
			break;
		p = mime_skip_cfws(p + 1, end, NULL);
		name = p;
		while (p < end && mime_is_token(*p))	/* '*' included */
			p++;
		name_len = (size_t)(p - name);
		p = mime_skip_cfws(p, end, NULL);
		if (name_len == 0 || p >= end || *p != '=')
			continue;
		p = mime_skip_cfws(p + 1, end, NULL);
		if (rp->n == rp->cap) {
			rp->cap = rp->cap == 0 ? 4 : rp->cap * 2;
			rp->v = xrealloc(rp->v, rp->cap * sizeof(*rp->v));
		}
		r = &rp->v[rp->n];
		memset(r, 0, sizeof(*r));
		buf_init(&r->value);
		r->name = xstrndup(name, name_len);
		str_lower(r->name);
		r->order = rp->n++;
		if (p < end && *p == '"') {
			p = mime_read_quoted(p, end, &r->value);
		} else {
			v = p;
			while (p < end && *p != ';' && !mime_is_space(*p) &&
			    *p != '"' && *p != '(' && (unsigned char)*p >= 0x20)
				p++;
			buf_append(&r->value, v, (size_t)(p - v));
		}
		if (r->value.data == NULL)
			buf_append(&r->value, "", 0);
		mime_rawparam_split(r);
	}
}

/* RFC 2231 4: %XX escapes of an encoded section. */
static void
mime_percent_decode(const char *s, size_t len, struct buf *out)
{
	for (size_t i = 0; i < len; i++) {
		int hi, lo;

		if (s[i] == '%' && i + 2 < len &&
		    (hi = mime_hex(s[i + 1])) >= 0 &&
		    (lo = mime_hex(s[i + 2])) >= 0) {
			char c = (char)(hi << 4 | lo);

			buf_append(out, &c, 1);
			i += 2;
		} else
			buf_append(out, &s[i], 1);
	}
}

static int
mime_rawparam_cmp(const void *a, const void *b)
{
	const struct mime_rawparam *x = *(const struct mime_rawparam *const *)a;
	const struct mime_rawparam *y = *(const struct mime_rawparam *const *)b;

	if (x->section != y->section)
		return x->section < y->section ? -1 : 1;
	return x->order < y->order ? -1 : x->order > y->order;
}

static bool
mime_rawparam_same_base(const struct mime_rawparam *a,
    const struct mime_rawparam *b)
{
	return a->base_len == b->base_len &&
	    memcmp(a->name, b->name, a->base_len) == 0;
}

/*
 * Merges the RFC 2231 sections sharing rp->v[first]'s base name into one
 * UTF-8 value: sections in number order, %XX undone in encoded ones, the
 * charset'language' prefix of the first one (section 0 or name*) used to
 * convert the whole.
 */
static char *
mime_2231_merge(struct mime_rawparams *rp, size_t first)
{
	struct mime_rawparam **sec = xcalloc(rp->n, sizeof(*sec));
	struct buf bytes, out;
	const char *cs = NULL;
	size_t n = 0, cslen = 0;
	char *value;

	for (size_t i = first; i < rp->n; i++) {
		struct mime_rawparam *r = &rp->v[i];

		if (r->used || !mime_rawparam_same_base(r, &rp->v[first]) ||
		    (r->section < 0 && !r->encoded))
			continue;
		r->used = true;
		/* a repeated section number: the first one wins */
		for (size_t j = 0; j < n; j++) {
			if (sec[j]->section == r->section) {
				r = NULL;
				break;
			}
		}
		if (r != NULL)
			sec[n++] = r;
	}
	qsort(sec, n, sizeof(*sec), mime_rawparam_cmp);
	buf_init(&bytes);
	buf_init(&out);
	for (size_t i = 0; i < n; i++) {
		const char *v = sec[i]->value.data;
		size_t vlen = sec[i]->value.len;

		if (i == 0 && sec[i]->encoded && sec[i]->section <= 0) {
			const char *q1 = memchr(v, '\'', vlen), *q2 = NULL;

			if (q1 != NULL)
				q2 = memchr(q1 + 1, '\'',
				    vlen - (size_t)(q1 + 1 - v));
			if (q2 != NULL) {
				cs = v;
				cslen = (size_t)(q1 - v);
				vlen -= (size_t)(q2 + 1 - v);
				v = q2 + 1;
			}
		}
		if (sec[i]->encoded)
			mime_percent_decode(v, vlen, &bytes);
		else
			buf_append(&bytes, v, vlen);
	}
	buf_append(&bytes, "", 0);
	mime_to_utf8_or_raw(cs, cslen, bytes.data, bytes.len, &out);
	buf_append(&out, "", 0);
	value = xstrndup(out.data, out.len);
	buf_deinit(&bytes);
	buf_deinit(&out);
	free(sec);
	return value;
}

/* Lexes and merges the parameters from p to end. A plain name=value
 * gives way to an RFC 2231 form of the same name. */
static void
mime_params_parse(const char *p, const char *end,
    struct mime_param **params_r, size_t *n_r)
{
	struct mime_rawparams rp = { NULL, 0, 0 };
	struct mime_param *params;
	size_t n = 0;

	mime_params_lex(p, end, &rp);
	params = rp.n > 0 ? xcalloc(rp.n, sizeof(*params)) : NULL;
	for (size_t i = 0; i < rp.n; i++) {
		struct mime_rawparam *r = &rp.v[i];
		bool extended = false, dup = false;

		if (r->used)
			continue;
		/* every parameter before i is used: look from i on */
		for (size_t j = i; j < rp.n && !extended; j++) {
			if (mime_rawparam_same_base(&rp.v[j], r) &&
			    (rp.v[j].section >= 0 || rp.v[j].encoded))
				extended = true;
		}
		for (size_t j = 0; j < n; j++) {
			if (strlen(params[j].name) == r->base_len &&
			    memcmp(params[j].name, r->name, r->base_len) == 0)
				dup = true;
		}
		if (dup) {
			r->used = true;
			continue;
		}
		if (extended) {
			size_t first = i;

			/* the value comes from the sections, wherever the
			 * first of them is; the plain form is dropped */
			while (!mime_rawparam_same_base(&rp.v[first], r) ||
			    (rp.v[first].section < 0 && !rp.v[first].encoded))
				first++;
			params[n].name = xstrndup(r->name, r->base_len);
			params[n].value = mime_2231_merge(&rp, first);
			for (size_t j = i; j < rp.n; j++) {
				if (mime_rawparam_same_base(&rp.v[j], r))
					rp.v[j].used = true;
			}
		} else {
			r->used = true;
			params[n].name = xstrdup(r->name);
			params[n].value = xstrndup(r->value.data,
			    r->value.len);
		}
		n++;
	}
	mime_rawparams_free(&rp);
	*params_r = params;
	*n_r = n;
}

static void
mime_params_free(struct mime_param *params, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(params[i].name);
		free(params[i].value);
	}
	free(params);
}

static const char *
mime_param_get(const struct mime_param *params, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++) {
		if (strcmp(params[i].name, name) == 0)
			return params[i].value;
	}
	return NULL;
}

/* ---- the part tree ---- */

struct mime_parser {
	const char *data;
	size_t nparts;		/* created so far, against MIME_MAX_PARTS */
};

static void mime_part_parse(struct mime_parser *, struct mime_part *,
    size_t, size_t, unsigned, bool);

/* RFC 2045 5.1: type "/" subtype *(";" parameter); a field that does not
 * parse leaves the defaults in place (RFC 2045 5.2). */
static void
mime_content_type(struct mime_part *part, const char *v, size_t len)
{
	struct buf b;
	const char *p, *end, *type, *sub;
	size_t type_len, sub_len;

	buf_init(&b);
	mime_unfold(v, len, &b);
	p = b.data;
	end = b.data + b.len;
	p = mime_skip_cfws(p, end, NULL);
	p = mime_read_token(p, end, &type, &type_len);
	p = mime_skip_cfws(p, end, NULL);
	if (type_len > 0 && p < end && *p == '/') {
		p = mime_skip_cfws(p + 1, end, NULL);
		p = mime_read_token(p, end, &sub, &sub_len);
		if (sub_len > 0) {
			free(part->type);
			free(part->subtype);
			part->type = xstrndup(type, type_len);
			part->subtype = xstrndup(sub, sub_len);
			mime_params_parse(p, end, &part->params,
			    &part->nparams);
		}
	}
	buf_deinit(&b);
}

/* RFC 2183: disposition-type *(";" parameter). */
static void
mime_content_disposition(struct mime_part *part, const char *v, size_t len)
{
	struct buf b;
	const char *p, *end, *tok;
	size_t tok_len;

	buf_init(&b);
	mime_unfold(v, len, &b);
	p = b.data;
	end = b.data + b.len;
	p = mime_skip_cfws(p, end, NULL);
	p = mime_read_token(p, end, &tok, &tok_len);
	if (tok_len > 0) {
		part->disposition = xstrndup(tok, tok_len);
		mime_params_parse(p, end, &part->disp_params,
		    &part->ndisp_params);
	}
	buf_deinit(&b);
}

static void
mime_content_encoding(struct mime_part *part, const char *v, size_t len)
{
	struct buf b;
	const char *p, *tok;
	size_t tok_len;

	buf_init(&b);
	mime_unfold(v, len, &b);
	p = mime_skip_cfws(b.data, b.data + b.len, NULL);
	mime_read_token(p, b.data + b.len, &tok, &tok_len);
	if (tok_len > 0)
		part->encoding = xstrndup(tok, tok_len);
	buf_deinit(&b);
}

/* Reads the MIME fields of part's header; the first of each wins. */
static void
mime_part_fields(const char *data, struct mime_part *part)
{
	const char *p = data + part->hdr_off, *end = p + part->hdr_len;
	struct mime_field f;
	bool seen_type = false;

	while (mime_field_next(&p, end, &f)) {
		if (f.name_len < 8 || strncasecmp(f.name, "content-", 8) != 0)
			continue;
		if (str_ieq_n(f.name, f.name_len, "content-type")) {
			if (!seen_type)
				mime_content_type(part, f.value, f.value_len);
			seen_type = true;
		} else if (str_ieq_n(f.name, f.name_len,
		    "content-transfer-encoding")) {
			if (part->encoding == NULL)
				mime_content_encoding(part, f.value,
				    f.value_len);
		} else if (str_ieq_n(f.name, f.name_len,
		    "content-disposition")) {
			if (part->disposition == NULL)
				mime_content_disposition(part, f.value,
				    f.value_len);
		} else if (str_ieq_n(f.name, f.name_len, "content-id")) {
			if (part->id == NULL)
				part->id = mime_value_dup(&f);
		} else if (str_ieq_n(f.name, f.name_len,
		    "content-description")) {
			if (part->description == NULL)
				part->description = mime_value_dup(&f);
		} else if (str_ieq_n(f.name, f.name_len, "content-language")) {
			if (part->language == NULL)
				part->language = mime_value_dup(&f);
		} else if (str_ieq_n(f.name, f.name_len, "content-location")) {
			if (part->location == NULL)
				part->location = mime_value_dup(&f);
		} else if (str_ieq_n(f.name, f.name_len, "content-md5")) {
			if (part->md5 == NULL)
				part->md5 = mime_value_dup(&f);
		}
	}
}

static void
mime_part_set_type(struct mime_part *part, const char *type,
    const char *subtype)
{
	free(part->type);
	free(part->subtype);
	part->type = xstrdup(type);
	part->subtype = xstrdup(subtype);
}

size_t
mime_header_len(const char *data, size_t len)
{
	const char *p = data, *e = data + len;

	if (len == 0)
		return 0;
	while (p < e && !mime_line_blank(p, e))
		p = mime_line_next(p, e);
	if (p < e)
		p = mime_line_next(p, e);
	return (size_t)(p - data);
}

/* Sets the header and body ranges of a part spanning [start, end): the
 * header runs to its blank line, or to end when there is none. */
static void
mime_part_ranges(const char *data, struct mime_part *part, size_t start,
    size_t end)
{
	part->hdr_off = start;
	part->hdr_len = mime_header_len(data + start, end - start);
	part->body_off = start + part->hdr_len;
	part->body_len = end - part->body_off;
	mime_range_stats(data + part->hdr_off, part->hdr_len, &part->hdr_size,
	    NULL);
	mime_range_stats(data + part->body_off, part->body_len,
	    &part->body_size, &part->body_lines);
}

/*
 * Is the line at p (of length len, without its LF) a delimiter of
 * boundary b? *close_r tells "--b--". RFC 2046 5.1.1: "--" b, then
 * optional transport padding.
 */
static bool
mime_boundary_line(const char *p, size_t len, const char *b, size_t blen,
    bool *close_r)
{
	size_t i = 2 + blen;

	if (len < i || p[0] != '-' || p[1] != '-' ||
	    memcmp(p + 2, b, blen) != 0)
		return false;
	*close_r = len >= i + 2 && p[i] == '-' && p[i + 1] == '-';
	if (*close_r)
		return true;
	while (i < len && (mime_is_wsp(p[i]) || p[i] == '\r'))
		i++;
	return i == len;
}

static void
mime_ranges_push(struct mime_range **v, size_t *n, size_t *cap,
    size_t start, size_t end)
{
	if (*n == *cap) {
		*cap = *cap == 0 ? 8 : *cap * 2;
		*v = xrealloc(*v, *cap * sizeof(**v));
	}
	(*v)[*n].start = start;
	(*v)[*n].end = end;
	(*n)++;
}

/* Cuts a multipart body [start, end) at its boundary lines. A part ends
 * before the line end that precedes the next delimiter (RFC 2046 5.1.1:
 * that CRLF belongs to the delimiter). Returns the number of parts. */
static size_t
mime_multipart_split(const char *data, size_t start, size_t end,
    const char *b, size_t blen, struct mime_range **v_r)
{
	const char *p = data + start, *e = data + end;
	size_t n = 0, cap = 0, open = SIZE_MAX;

	*v_r = NULL;
	while (p < e) {
		const char *nl = memchr(p, '\n', (size_t)(e - p));
		const char *next = nl != NULL ? nl + 1 : e;
		size_t line_len = (size_t)((nl != NULL ? nl : e) - p);
		size_t at = (size_t)(p - data), part_end = at;
		bool close;

		if (*p != '-' ||
		    !mime_boundary_line(p, line_len, b, blen, &close)) {
			p = next;
			continue;
		}
		if (open != SIZE_MAX) {
			if (part_end > open && data[part_end - 1] == '\n')
				part_end--;
			if (part_end > open && data[part_end - 1] == '\r')
				part_end--;
			mime_ranges_push(v_r, &n, &cap, open, part_end);
		}
		if (close) {
			open = SIZE_MAX;
			break;
		}
		open = (size_t)(next - data);
		p = next;
	}
	/* RFC 2046 5.1.2: a missing close delimiter ends the last part at
	 * the end of the body */
	if (open != SIZE_MAX)
		mime_ranges_push(v_r, &n, &cap, open, end);
	return n;
}

/* A container we do not descend into is shown as the text it is. */
static void
mime_part_flatten(struct mime_part *part)
{
	mime_part_set_type(part, "text", "plain");
	part->flags = 0;
}

/* No usable boundary: one implicit text/plain part with an empty header
 * keeps the body visible (Dovecot shows an empty part instead). */
static void
mime_multipart_implicit(struct mime_part *part)
{
	struct mime_part *c;

	part->children = c = xcalloc(1, sizeof(*part->children));
	part->nchildren = 1;
	part->flags = MIME_PART_MULTIPART;
	c->depth = part->depth + 1;
	c->hdr_off = part->body_off;
	c->body_off = part->body_off;
	c->body_len = part->body_len;
	c->body_size = part->body_size;
	c->body_lines = part->body_lines;
	mime_part_set_type(c, "text", "plain");
}

static void
mime_multipart_parse(struct mime_parser *ps, struct mime_part *part)
{
	const char *b = mime_param_get(part->params, part->nparams,
	    "boundary");
	struct mime_range *v = NULL;
	size_t n = 0;
	bool digest = mime_ieq(part->subtype, "digest");

	if (b != NULL && *b != '\0')
		n = mime_multipart_split(ps->data, part->body_off,
		    part->body_off + part->body_len, b, strlen(b), &v);
	if (n > MIME_MAX_PARTS - ps->nparts ||
	    (n == 0 && ps->nparts == MIME_MAX_PARTS)) {
		free(v);
		mime_part_flatten(part);
		return;
	}
	if (n == 0) {
		ps->nparts++;
		mime_multipart_implicit(part);
		return;
	}
	ps->nparts += n;
	part->children = xcalloc(n, sizeof(*part->children));
	part->nchildren = n;
	part->flags = MIME_PART_MULTIPART;
	for (size_t i = 0; i < n; i++)
		mime_part_parse(ps, &part->children[i], v[i].start, v[i].end,
		    part->depth + 1, digest);
	free(v);
}

/* RFC 2046 5.2.1: only 7bit, 8bit and binary may encode a message/rfc822
 * part; an encoded one cannot be parsed without decoding it first. */
static bool
mime_message_parsable(const struct mime_part *part)
{
	return part->encoding == NULL || mime_ieq(part->encoding, "7bit") ||
	    mime_ieq(part->encoding, "8bit") ||
	    mime_ieq(part->encoding, "binary");
}

static void
mime_part_parse(struct mime_parser *ps, struct mime_part *part, size_t start,
    size_t end, unsigned depth, bool in_digest)
{
	part->depth = depth;
	mime_part_ranges(ps->data, part, start, end);
	/* RFC 2046 5.1.5: the default in a digest is message/rfc822 */
	if (in_digest)
		mime_part_set_type(part, "message", "rfc822");
	else
		mime_part_set_type(part, "text", "plain");
	mime_part_fields(ps->data, part);
	if (mime_ieq(part->type, "multipart")) {
		if (depth >= MIME_MAX_DEPTH)
			mime_part_flatten(part);
		else
			mime_multipart_parse(ps, part);
	} else if (mime_ieq(part->type, "message") &&
	    mime_ieq(part->subtype, "rfc822")) {
		if (depth >= MIME_MAX_DEPTH || ps->nparts >= MIME_MAX_PARTS ||
		    !mime_message_parsable(part)) {
			mime_part_flatten(part);
			return;
		}
		ps->nparts++;
		part->children = xcalloc(1, sizeof(*part->children));
		part->nchildren = 1;
		part->flags = MIME_PART_MESSAGE;
		mime_part_parse(ps, &part->children[0], part->body_off,
		    part->body_off + part->body_len, depth + 1, false);
	}
}

struct mime_part *
mime_parse(const char *data, size_t len)
{
	struct mime_parser ps;
	struct mime_part *root = xcalloc(1, sizeof(*root));

	ps.data = data != NULL ? data : "";
	ps.nparts = 1;
	mime_part_parse(&ps, root, 0, data != NULL ? len : 0, 0, false);
	return root;
}

static void
mime_part_deinit(struct mime_part *part)
{
	for (size_t i = 0; i < part->nchildren; i++)
		mime_part_deinit(&part->children[i]);
	free(part->children);
	free(part->type);
	free(part->subtype);
	mime_params_free(part->params, part->nparams);
	free(part->id);
	free(part->description);
	free(part->encoding);
	free(part->disposition);
	mime_params_free(part->disp_params, part->ndisp_params);
	free(part->language);
	free(part->location);
	free(part->md5);
}

void
mime_free(struct mime_part *root)
{
	if (root == NULL)
		return;
	mime_part_deinit(root);
	free(root);
}

/* ---- IMAP strings (RFC 3501 4.3) ---- */

/* A quoted string when every octet is printable ASCII or HT and the
 * value is short; otherwise a literal. NUL, which no IMAP string may
 * hold, is dropped. */
static void
mime_imap_string(struct buf *out, const char *s, size_t len)
{
	bool quoted = len < MIME_QUOTED_MAX;
	size_t nul = 0;

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '\0')
			nul++;
		if ((c < 0x20 && c != '\t') || c >= 0x7f)
			quoted = false;
	}
	if (quoted) {
		const char *p = s, *end = s + len;

		buf_append(out, "\"", 1);
		while (p < end) {
			const char *q = p;

			while (q < end && *q != '"' && *q != '\\')
				q++;
			buf_append(out, p, (size_t)(q - p));
			if (q < end) {
				buf_append(out, "\\", 1);
				buf_append(out, q, 1);
				q++;
			}
			p = q;
		}
		buf_append(out, "\"", 1);
		return;
	}
	buf_printf(out, "{%zu}\r\n", len - nul);
	for (const char *p = s, *end = s + len; p < end;) {
		const char *z = memchr(p, '\0', (size_t)(end - p));
		const char *e = z != NULL ? z : end;

		buf_append(out, p, (size_t)(e - p));
		p = z != NULL ? z + 1 : end;
	}
}

static void
mime_imap_nstring(struct buf *out, const char *s)
{
	if (s == NULL)
		buf_append_str(out, "NIL");
	else
		mime_imap_string(out, s, strlen(s));
}

/* ---- addresses (RFC 5322 3.4, RFC 3501 7.4.2) ---- */

struct mime_addr_lexer {
	const char *p, *end;
	struct buf phrase;	/* words joined by one space: a name */
	struct buf word;	/* words joined by nothing: a local part */
	struct buf domain, route, comment, tmp;
	struct buf *out;
	size_t count;
	bool in_group;
};

/* atext (RFC 5322 3.2.3) plus "." (obs-phrase) and 8-bit octets. */
static bool
mime_addr_is_atom(char c)
{
	unsigned char u = (unsigned char)c;

	if (u >= 0x80)
		return true;
	if (u <= 0x20 || u == 0x7f)
		return false;
	return strchr("()<>[]:;@\\,\"", c) == NULL;
}

static void
mime_addr_write(struct mime_addr_lexer *lx, const struct buf *name,
    const struct buf *route, const char *mailbox, size_t mlen,
    const char *host, size_t hlen)
{
	buf_append_str(lx->out, lx->count++ == 0 ? "((" : "(");
	if (name != NULL && name->len > 0)
		mime_imap_string(lx->out, name->data, name->len);
	else
		buf_append_str(lx->out, "NIL");
	buf_append(lx->out, " ", 1);
	if (route != NULL && route->len > 0)
		mime_imap_string(lx->out, route->data, route->len);
	else
		buf_append_str(lx->out, "NIL");
	buf_append(lx->out, " ", 1);
	if (mailbox != NULL)
		mime_imap_string(lx->out, mailbox, mlen);
	else
		buf_append_str(lx->out, "NIL");
	buf_append(lx->out, " ", 1);
	if (host != NULL)
		mime_imap_string(lx->out, host, hlen);
	else
		buf_append_str(lx->out, "NIL");
	buf_append(lx->out, ")", 1);
}

/* An address; missing parts are filled in as Dovecot does. */
static void
mime_addr_emit(struct mime_addr_lexer *lx, const struct buf *name,
    const struct buf *local)
{
	static const char mbox[] = "MISSING_MAILBOX", dom[] = "MISSING_DOMAIN";

	mime_addr_write(lx, name, &lx->route,
	    local->len > 0 ? local->data : mbox,
	    local->len > 0 ? local->len : sizeof(mbox) - 1,
	    lx->domain.len > 0 ? lx->domain.data : dom,
	    lx->domain.len > 0 ? lx->domain.len : sizeof(dom) - 1);
}

/* Words (atoms and quoted strings) up to a special; into phrase (joined
 * by a space) and word (joined by nothing). */
static void
mime_addr_phrase(struct mime_addr_lexer *lx)
{
	for (;;) {
		lx->p = mime_skip_cfws(lx->p, lx->end, &lx->comment);
		if (lx->p >= lx->end)
			break;
		if (*lx->p == '"') {
			buf_reset(&lx->tmp);
			lx->p = mime_read_quoted(lx->p, lx->end, &lx->tmp);
		} else if (mime_addr_is_atom(*lx->p)) {
			const char *s = lx->p;

			while (lx->p < lx->end && mime_addr_is_atom(*lx->p))
				lx->p++;
			buf_reset(&lx->tmp);
			buf_append(&lx->tmp, s, (size_t)(lx->p - s));
		} else
			break;
		if (lx->tmp.len == 0)
			continue;	/* "" */
		if (lx->phrase.len > 0)
			buf_append(&lx->phrase, " ", 1);
		buf_append(&lx->phrase, lx->tmp.data, lx->tmp.len);
		buf_append(&lx->word, lx->tmp.data, lx->tmp.len);
	}
}

/* domain = dot-atom / domain-literal, with CFWS around dots (obs). Stops
 * before a second atom that no dot joins ("a@b c@d" is two addresses). */
static void
mime_addr_domain(struct mime_addr_lexer *lx)
{
	lx->p = mime_skip_cfws(lx->p, lx->end, &lx->comment);
	while (lx->p < lx->end) {
		const char *s = lx->p, *save;
		bool dot;

		if (*lx->p == '[') {
			while (lx->p < lx->end && *lx->p != ']')
				lx->p++;
			if (lx->p < lx->end)
				lx->p++;
		} else if (mime_addr_is_atom(*lx->p)) {
			while (lx->p < lx->end && mime_addr_is_atom(*lx->p))
				lx->p++;
		} else
			break;
		buf_append(&lx->domain, s, (size_t)(lx->p - s));
		dot = lx->p[-1] == '.';
		save = lx->p;
		lx->p = mime_skip_cfws(lx->p, lx->end, &lx->comment);
		if (lx->p < lx->end && (*lx->p == '.' || dot))
			continue;
		lx->p = save;
		break;
	}
}

/* Inside "<...>": [obs-route] addr-spec. */
static void
mime_addr_angle(struct mime_addr_lexer *lx)
{
	lx->p = mime_skip_cfws(lx->p + 1, lx->end, NULL);
	if (lx->p < lx->end && *lx->p == '@') {
		/* obs-route "@a,@b:" when a ':' comes before '>' */
		const char *q = lx->p;

		while (q < lx->end && *q != ':' && *q != '>' && *q != '<' &&
		    *q != '"' && *q != ';')
			q++;
		if (q < lx->end && *q == ':') {
			for (const char *r = lx->p; r < q; r++) {
				if (!mime_is_space(*r))
					buf_append(&lx->route, r, 1);
			}
			lx->p = q + 1;
		}
	}
	buf_reset(&lx->phrase);
	mime_addr_phrase(lx);
	if (lx->p < lx->end && *lx->p == '@') {
		lx->p++;
		mime_addr_domain(lx);
	}
	while (lx->p < lx->end && *lx->p != '>' && *lx->p != ',' &&
	    *lx->p != ';')
		lx->p++;
	if (lx->p < lx->end && *lx->p == '>')
		lx->p++;
}

/* One mailbox, group start, or nothing (then lx->p has not moved). */
static void
mime_addr_one(struct mime_addr_lexer *lx)
{
	struct buf name;

	buf_reset(&lx->phrase);
	buf_reset(&lx->word);
	buf_reset(&lx->domain);
	buf_reset(&lx->route);
	buf_reset(&lx->comment);
	mime_addr_phrase(lx);
	if (lx->p < lx->end && *lx->p == '<') {
		/* name-addr: the phrase is the name */
		name = lx->phrase;
		buf_init(&lx->phrase);
		buf_reset(&lx->word);
		mime_addr_angle(lx);
		mime_addr_emit(lx, &name, &lx->word);
		buf_deinit(&name);
		return;
	}
	if (lx->p < lx->end && *lx->p == ':' && !lx->in_group &&
	    lx->phrase.len > 0) {
		/* group: (NIL NIL "name" NIL) ... (NIL NIL NIL NIL) */
		lx->p++;
		mime_addr_write(lx, NULL, NULL, lx->phrase.data,
		    lx->phrase.len, NULL, 0);
		lx->in_group = true;
		return;
	}
	if (lx->p < lx->end && *lx->p == '@') {
		lx->p++;
		mime_addr_domain(lx);
		lx->p = mime_skip_cfws(lx->p, lx->end, &lx->comment);
		mime_addr_emit(lx, &lx->comment, &lx->word);
		return;
	}
	if (lx->phrase.len > 0) {
		/* no '@' at all: the words are the mailbox */
		lx->p = mime_skip_cfws(lx->p, lx->end, &lx->comment);
		mime_addr_emit(lx, NULL, &lx->phrase);
	}
}

static void
mime_addr_group_end(struct mime_addr_lexer *lx)
{
	mime_addr_write(lx, NULL, NULL, NULL, 0, NULL, 0);
	lx->in_group = false;
}

/* Appends an address list ("((...)(...))", or NIL when empty). */
static void
mime_addr_list(const char *s, size_t len, struct buf *out)
{
	struct mime_addr_lexer lx;

	memset(&lx, 0, sizeof(lx));
	lx.p = s;
	lx.end = s + len;
	lx.out = out;
	buf_init(&lx.phrase);
	buf_init(&lx.word);
	buf_init(&lx.domain);
	buf_init(&lx.route);
	buf_init(&lx.comment);
	buf_init(&lx.tmp);
	for (;;) {
		const char *start;

		lx.p = mime_skip_cfws(lx.p, lx.end, NULL);
		if (lx.p >= lx.end)
			break;
		if (*lx.p == ',') {
			lx.p++;
			continue;
		}
		if (*lx.p == ';') {
			lx.p++;
			if (lx.in_group)
				mime_addr_group_end(&lx);
			continue;
		}
		start = lx.p;
		mime_addr_one(&lx);
		if (lx.p == start)
			lx.p++;		/* a stray special */
	}
	if (lx.in_group)
		mime_addr_group_end(&lx);
	buf_append_str(out, lx.count > 0 ? ")" : "NIL");
	buf_deinit(&lx.phrase);
	buf_deinit(&lx.word);
	buf_deinit(&lx.domain);
	buf_deinit(&lx.route);
	buf_deinit(&lx.comment);
	buf_deinit(&lx.tmp);
}

/* ---- ENVELOPE (RFC 3501 7.4.2) ---- */

enum mime_env_field {
	MIME_ENV_DATE, MIME_ENV_SUBJECT, MIME_ENV_FROM, MIME_ENV_SENDER,
	MIME_ENV_REPLY_TO, MIME_ENV_TO, MIME_ENV_CC, MIME_ENV_BCC,
	MIME_ENV_IN_REPLY_TO, MIME_ENV_MESSAGE_ID, MIME_ENV_COUNT
};

static const char *const mime_env_names[MIME_ENV_COUNT] = {
	"date", "subject", "from", "sender", "reply-to", "to", "cc", "bcc",
	"in-reply-to", "message-id",
};

/* A raw value: unfolded, leading white space removed; NIL if absent. */
static void
mime_env_nstring(const struct mime_field *f, struct buf *tmp,
    struct buf *out)
{
	if (f == NULL) {
		buf_append_str(out, "NIL");
		return;
	}
	buf_reset(tmp);
	mime_unfold(f->value, f->value_len, tmp);
	mime_imap_string(out, tmp->data, tmp->len);
}

static void
mime_env_addresses(const struct mime_field *f, struct buf *tmp,
    struct buf *out)
{
	if (f == NULL) {
		buf_append_str(out, "NIL");
		return;
	}
	buf_reset(tmp);
	mime_unfold(f->value, f->value_len, tmp);
	mime_addr_list(tmp->data, tmp->len, out);
}

void
mime_envelope(const char *data, const struct mime_part *msg, struct buf *out)
{
	struct mime_field fields[MIME_ENV_COUNT], f;
	const struct mime_field *have[MIME_ENV_COUNT] = { NULL };
	const char *p = NULL, *end = NULL;
	struct buf tmp, from, other;

	if (msg->hdr_len > 0) {
		p = data + msg->hdr_off;
		end = p + msg->hdr_len;
	}
	while (p != NULL && mime_field_next(&p, end, &f)) {
		for (int i = 0; i < MIME_ENV_COUNT; i++) {
			if (have[i] == NULL &&
			    str_ieq_n(f.name, f.name_len, mime_env_names[i])) {
				fields[i] = f;
				have[i] = &fields[i];
			}
		}
	}
	buf_init(&tmp);
	buf_init(&from);
	buf_init(&other);
	buf_append(out, "(", 1);
	mime_env_nstring(have[MIME_ENV_DATE], &tmp, out);
	buf_append(out, " ", 1);
	mime_env_nstring(have[MIME_ENV_SUBJECT], &tmp, out);
	buf_append(out, " ", 1);
	mime_env_addresses(have[MIME_ENV_FROM], &tmp, &from);
	buf_append(out, from.data, from.len);
	/* RFC 3501 7.4.2: Sender and Reply-To absent or empty are From */
	for (int i = MIME_ENV_SENDER; i <= MIME_ENV_REPLY_TO; i++) {
		buf_reset(&other);
		mime_env_addresses(have[i], &tmp, &other);
		buf_append(out, " ", 1);
		if (strcmp(other.data, "NIL") == 0)
			buf_append(out, from.data, from.len);
		else
			buf_append(out, other.data, other.len);
	}
	for (int i = MIME_ENV_TO; i <= MIME_ENV_BCC; i++) {
		buf_append(out, " ", 1);
		mime_env_addresses(have[i], &tmp, out);
	}
	buf_append(out, " ", 1);
	mime_env_nstring(have[MIME_ENV_IN_REPLY_TO], &tmp, out);
	buf_append(out, " ", 1);
	mime_env_nstring(have[MIME_ENV_MESSAGE_ID], &tmp, out);
	buf_append(out, ")", 1);
	buf_deinit(&tmp);
	buf_deinit(&from);
	buf_deinit(&other);
}

/* ---- BODYSTRUCTURE (RFC 3501 7.4.2) ---- */

/* ("name" "value" ...) or NIL; text parts get ("charset" "us-ascii")
 * when they name none (RFC 2045 5.2 default, as Dovecot shows it). */
static void
mime_bs_params(const struct mime_param *params, size_t n,
    bool default_charset, struct buf *out)
{
	bool charset = false;

	if (n == 0 && !default_charset) {
		buf_append_str(out, "NIL");
		return;
	}
	buf_append(out, "(", 1);
	for (size_t i = 0; i < n; i++) {
		if (i > 0)
			buf_append(out, " ", 1);
		if (strcmp(params[i].name, "charset") == 0)
			charset = true;
		mime_imap_nstring(out, params[i].name);
		buf_append(out, " ", 1);
		mime_imap_nstring(out, params[i].value);
	}
	if (default_charset && !charset)
		buf_append_str(out, n > 0 ? " \"charset\" \"us-ascii\"" :
		    "\"charset\" \"us-ascii\"");
	buf_append(out, ")", 1);
}

/* body-fld-lang: one tag as a string, several as a list. */
static void
mime_bs_language(const char *lang, struct buf *out)
{
	const char *p, *end, *tags[MIME_MAX_LANGUAGES];
	size_t lens[MIME_MAX_LANGUAGES], n = 0;

	if (lang == NULL) {
		buf_append_str(out, "NIL");
		return;
	}
	p = lang;
	end = lang + strlen(lang);
	while (p < end && n < MIME_MAX_LANGUAGES) {
		const char *s;

		p = mime_skip_cfws(p, end, NULL);
		s = p;
		while (p < end && *p != ',' && *p != '(' && !mime_is_space(*p))
			p++;
		if (p > s) {
			tags[n] = s;
			lens[n++] = (size_t)(p - s);
		} else if (p < end && *p == ',')
			p++;
	}
	if (n == 0)
		buf_append_str(out, "NIL");
	else if (n == 1)
		mime_imap_string(out, tags[0], lens[0]);
	else {
		buf_append(out, "(", 1);
		for (size_t i = 0; i < n; i++) {
			if (i > 0)
				buf_append(out, " ", 1);
			mime_imap_string(out, tags[i], lens[i]);
		}
		buf_append(out, ")", 1);
	}
}

/* body-fld-dsp SP body-fld-lang SP body-fld-loc */
static void
mime_bs_ext_common(const struct mime_part *part, struct buf *out)
{
	buf_append(out, " ", 1);
	if (part->disposition == NULL)
		buf_append_str(out, "NIL");
	else {
		buf_append(out, "(", 1);
		mime_imap_nstring(out, part->disposition);
		buf_append(out, " ", 1);
		mime_bs_params(part->disp_params, part->ndisp_params, false,
		    out);
		buf_append(out, ")", 1);
	}
	buf_append(out, " ", 1);
	mime_bs_language(part->language, out);
	buf_append(out, " ", 1);
	mime_imap_nstring(out, part->location);
}

static void
mime_bs_part(const char *data, const struct mime_part *part, bool ext,
    struct buf *out)
{
	bool text = mime_ieq(part->type, "text");

	buf_append(out, "(", 1);
	if (part->flags & MIME_PART_MULTIPART) {
		for (size_t i = 0; i < part->nchildren; i++)
			mime_bs_part(data, &part->children[i], ext, out);
		buf_append(out, " ", 1);
		mime_imap_nstring(out, part->subtype);
		if (ext) {
			buf_append(out, " ", 1);
			mime_bs_params(part->params, part->nparams, false, out);
			mime_bs_ext_common(part, out);
		}
		buf_append(out, ")", 1);
		return;
	}
	mime_imap_nstring(out, part->type);
	buf_append(out, " ", 1);
	mime_imap_nstring(out, part->subtype);
	buf_append(out, " ", 1);
	mime_bs_params(part->params, part->nparams, text, out);
	buf_append(out, " ", 1);
	mime_imap_nstring(out, part->id);
	buf_append(out, " ", 1);
	mime_imap_nstring(out, part->description);
	buf_append(out, " ", 1);
	mime_imap_nstring(out, part->encoding != NULL ? part->encoding :
	    "7bit");
	buf_printf(out, " %llu", (unsigned long long)part->body_size);
	if (part->flags & MIME_PART_MESSAGE) {
		buf_append(out, " ", 1);
		mime_envelope(data, &part->children[0], out);
		buf_append(out, " ", 1);
		mime_bs_part(data, &part->children[0], ext, out);
		buf_printf(out, " %llu", (unsigned long long)part->body_lines);
	} else if (text)
		buf_printf(out, " %llu", (unsigned long long)part->body_lines);
	if (ext) {
		buf_append(out, " ", 1);
		mime_imap_nstring(out, part->md5);
		mime_bs_ext_common(part, out);
	}
	buf_append(out, ")", 1);
}

void
mime_bodystructure(const char *data, const struct mime_part *msg,
    bool extended, struct buf *out)
{
	mime_bs_part(data, msg, extended, out);
}

/* ---- BODY[section] (RFC 3501 6.4.5) ---- */

static bool
mime_section_range(size_t off, size_t len, size_t *off_r, size_t *len_r)
{
	*off_r = off;
	*len_r = len;
	return true;
}

bool
mime_section(const struct mime_part *root, const uint32_t *nums, size_t n,
    enum mime_section_kind kind, size_t *off_r, size_t *len_r)
{
	const struct mime_part *cur = root;
	bool is_msg = true;	/* cur is a message, not a part of one */

	*off_r = 0;
	*len_r = 0;
	for (size_t i = 0; i < n; i++) {
		/* numbers after a message/rfc822 part count its message's */
		if (!is_msg && (cur->flags & MIME_PART_MESSAGE)) {
			cur = &cur->children[0];
			is_msg = true;
		}
		if (cur->flags & MIME_PART_MULTIPART) {
			if (nums[i] < 1 || nums[i] > cur->nchildren)
				return false;
			cur = &cur->children[nums[i] - 1];
		} else if (!is_msg || nums[i] != 1) {
			/* only a non-multipart message has a part 1: its
			 * body, with the message header as MIME header */
			return false;
		}
		is_msg = false;
	}
	switch (kind) {
	case MIME_SECT_ALL:
		if (n == 0)
			return mime_section_range(cur->hdr_off,
			    cur->hdr_len + cur->body_len, off_r, len_r);
		return mime_section_range(cur->body_off, cur->body_len, off_r,
		    len_r);
	case MIME_SECT_MIME:
		if (n == 0)
			return false;
		return mime_section_range(cur->hdr_off, cur->hdr_len, off_r,
		    len_r);
	case MIME_SECT_HEADER:
	case MIME_SECT_HEADER_FIELDS:
	case MIME_SECT_HEADER_FIELDS_NOT:
	case MIME_SECT_TEXT:
		break;
	}
	if (!is_msg) {
		if (!(cur->flags & MIME_PART_MESSAGE))
			return false;
		cur = &cur->children[0];
	}
	if (kind == MIME_SECT_TEXT)
		return mime_section_range(cur->body_off, cur->body_len, off_r,
		    len_r);
	return mime_section_range(cur->hdr_off, cur->hdr_len, off_r, len_r);
}

/* ---- header fields ---- */

static bool
mime_name_in(const char *name, size_t len, const char *const *names,
    size_t count)
{
	for (size_t i = 0; i < count; i++) {
		if (str_ieq_n(name, len, names[i]))
			return true;
	}
	return false;
}

void
mime_header_fields(const char *hdr, size_t hdr_len,
    const char *const *names, size_t count, bool not, struct buf *out)
{
	const char *p = hdr, *end;
	struct mime_field f;

	if (hdr_len == 0) {
		buf_append(out, "\r\n", 2);
		return;
	}
	end = hdr + hdr_len;
	while (mime_field_next(&p, end, &f)) {
		if (mime_name_in(f.name, f.name_len, names, count) == not)
			continue;
		mime_append_crlf(f.raw, f.raw_len, out);
		if (f.raw[f.raw_len - 1] != '\n')
			buf_append(out, "\r\n", 2);
	}
	buf_append(out, "\r\n", 2);
}

bool
mime_header_get_raw(const char *hdr, size_t hdr_len, const char *name,
    struct buf *out)
{
	struct mime_field f;

	if (!mime_field_find(hdr, hdr_len, name, &f))
		return false;
	mime_unfold(f.value, f.value_len, out);
	return true;
}

bool
mime_header_get(const char *hdr, size_t hdr_len, const char *name,
    struct buf *out)
{
	struct mime_field f;
	struct buf tmp;

	if (!mime_field_find(hdr, hdr_len, name, &f))
		return false;
	buf_init(&tmp);
	mime_unfold(f.value, f.value_len, &tmp);
	mime_decode_words(tmp.data, tmp.len, out);
	if (out->data == NULL)
		buf_append(out, "", 0);
	buf_deinit(&tmp);
	return true;
}

bool
mime_header_each(const char *hdr, size_t hdr_len, const char *name,
    bool decode, bool (*cb)(const char *value, size_t len, void *ctx),
    void *ctx)
{
	const char *p = hdr, *end;
	struct mime_field f;
	struct buf raw, dec;
	bool stopped = false;

	if (hdr_len == 0)
		return false;
	end = hdr + hdr_len;
	buf_init(&raw);
	buf_init(&dec);
	while (!stopped && mime_field_next(&p, end, &f)) {
		struct buf *v = &raw;

		if (name != NULL && !str_ieq_n(f.name, f.name_len, name))
			continue;
		buf_reset(&raw);
		mime_unfold(f.value, f.value_len, &raw);
		if (decode) {
			buf_reset(&dec);
			mime_decode_words(raw.data, raw.len, &dec);
			buf_append(&dec, "", 0);
			v = &dec;
		}
		stopped = !cb(v->data, v->len, ctx);
	}
	buf_deinit(&raw);
	buf_deinit(&dec);
	return stopped;
}

/* ---- transfer encodings ---- */


/* RFC 2045 6.8, tolerant: octets outside the alphabet are skipped, and
 * '=' ends a group so that concatenated encodings decode too. */
static void
mime_base64_decode(const char *s, size_t len, struct buf *out)
{
	unsigned char tmp[3 * 1024];
	size_t t = 0;
	uint32_t acc = 0;
	unsigned n = 0;

	for (size_t i = 0; i < len; i++) {
		int v = base64_value((unsigned char)s[i], '/');

		if (v >= 0) {
			acc = acc << 6 | (uint32_t)v;
			if (++n == 4) {
				tmp[t++] = (unsigned char)(acc >> 16);
				tmp[t++] = (unsigned char)(acc >> 8);
				tmp[t++] = (unsigned char)acc;
				n = 0;
				acc = 0;
			}
		} else if (s[i] == '=' && n >= 2) {
			tmp[t++] = (unsigned char)(acc >> (n == 2 ? 4 : 10));
			if (n == 3)
				tmp[t++] = (unsigned char)(acc >> 2);
			n = 0;
			acc = 0;
		}
		if (t > sizeof(tmp) - 3) {
			buf_append(out, tmp, t);
			t = 0;
		}
	}
	if (n >= 2) {
		tmp[t++] = (unsigned char)(acc >> (n == 2 ? 4 : 10));
		if (n == 3)
			tmp[t++] = (unsigned char)(acc >> 2);
	}
	buf_append(out, tmp, t);
}

/* RFC 2045 6.7; with q (RFC 2047 4.2) '_' is a space. A '=' that starts
 * no escape and no soft line break is kept. */
static void
mime_qp_decode(const char *s, size_t len, bool q, struct buf *out)
{
	size_t i = 0;

	while (i < len) {
		size_t j = i;
		int hi, lo;

		while (j < len && s[j] != '=' && !(q && s[j] == '_'))
			j++;
		buf_append(out, s + i, j - i);
		if ((i = j) >= len)
			break;
		if (s[i] == '_') {
			buf_append(out, " ", 1);
			i++;
		} else if (i + 2 < len && (hi = mime_hex(s[i + 1])) >= 0 &&
		    (lo = mime_hex(s[i + 2])) >= 0) {
			char c = (char)(hi << 4 | lo);

			buf_append(out, &c, 1);
			i += 3;
		} else {
			/* "=" [padding] line end: a soft line break */
			j = i + 1;
			while (j < len && mime_is_wsp(s[j]))
				j++;
			if (j < len && s[j] == '\r')
				j++;
			if (j >= len || s[j] == '\n')
				i = j < len ? j + 1 : len;
			else {
				buf_append(out, "=", 1);
				i++;
			}
		}
	}
}

/* ---- RFC 2047 encoded words ---- */

struct mime_word {
	const char *charset;	/* without an RFC 2231 "*language" */
	size_t charset_len;
	const char *text;
	size_t text_len;
	bool b;			/* B, else Q */
	size_t len;		/* of the whole word */
};

/* "=?" charset "?" encoding "?" encoded-text "?=" at s. Scans stop at
 * the first '?' or space, so trying every "=?" stays linear. */
static bool
mime_word_parse(const char *s, size_t len, struct mime_word *w)
{
	size_t i = 2;

	if (len < 8 || s[0] != '=' || s[1] != '?')
		return false;
	while (i < len && i - 2 < MIME_CHARSET_MAX && s[i] != '?' &&
	    (mime_is_token(s[i]) || s[i] == '*'))
		i++;
	if (i == 2 || i + 2 >= len || s[i] != '?' || s[i + 2] != '?')
		return false;
	w->charset = s + 2;
	w->charset_len = i - 2;
	for (size_t k = 0; k < w->charset_len; k++) {
		if (w->charset[k] == '*') {
			w->charset_len = k;
			break;
		}
	}
	if (s[i + 1] == 'B' || s[i + 1] == 'b')
		w->b = true;
	else if (s[i + 1] == 'Q' || s[i + 1] == 'q')
		w->b = false;
	else
		return false;
	i += 3;
	w->text = s + i;
	while (i < len && s[i] != '?' && !mime_is_space(s[i]))
		i++;
	if (i + 1 >= len || s[i] != '?' || s[i + 1] != '=')
		return false;
	w->text_len = (size_t)(s + i - w->text);
	w->len = i + 2;
	return true;
}

/* Converts the decoded bytes of adjacent words in one charset together:
 * a character may be split across words. */
static void
mime_words_flush(struct buf *pending, const char *cs, size_t cslen,
    struct buf *out)
{
	if (pending->len > 0)
		mime_to_utf8_or_raw(cs, cslen, pending->data, pending->len,
		    out);
	buf_reset(pending);
}

/* A word whose charset we can convert; known caches the last charset
 * that iconv accepted, so a header of many words opens iconv once. */
static bool
mime_word_usable(const char *s, size_t len, struct mime_word *w,
    struct mime_word *known)
{
	if (!mime_word_parse(s, len, w))
		return false;
	if (known->charset != NULL && known->charset_len == w->charset_len &&
	    strncasecmp(known->charset, w->charset, w->charset_len) == 0)
		return true;
	if (!mime_charset_known(w->charset, w->charset_len))
		return false;
	*known = *w;
	return true;
}

void
mime_decode_words(const char *s, size_t len, struct buf *out)
{
	struct buf pending;
	const char *cs = NULL;
	size_t cslen = 0, i = 0;
	struct mime_word w, next, known;

	memset(&known, 0, sizeof(known));
	buf_init(&pending);
	while (i < len) {
		const char *q = memchr(s + i, '=', len - i);
		size_t j = q != NULL ? (size_t)(q - s) : len;

		if (j > i) {
			mime_words_flush(&pending, cs, cslen, out);
			buf_append(out, s + i, j - i);
			i = j;
			continue;
		}
		if (!mime_word_usable(s + i, len - i, &w, &known)) {
			/* not a word, or one we cannot convert: as it is */
			mime_words_flush(&pending, cs, cslen, out);
			buf_append(out, s + i, 1);
			i++;
			continue;
		}
		if (pending.len > 0 && (cslen != w.charset_len ||
		    strncasecmp(cs, w.charset, cslen) != 0))
			mime_words_flush(&pending, cs, cslen, out);
		cs = w.charset;
		cslen = w.charset_len;
		if (w.b)
			mime_base64_decode(w.text, w.text_len, &pending);
		else
			mime_qp_decode(w.text, w.text_len, true, &pending);
		i += w.len;
		/* RFC 2047 6.2: white space between words is not text */
		j = i;
		while (j < len && mime_is_space(s[j]))
			j++;
		if (j > i && j < len &&
		    mime_word_usable(s + j, len - j, &next, &known))
			i = j;
	}
	mime_words_flush(&pending, cs, cslen, out);
	buf_deinit(&pending);
}

/* ---- SEARCH (RFC 3501 6.4.4) ---- */

/* Unicode simple case folding (CaseFolding.txt, status C and S) for the
 * scripts of most European mail; other code points are left alone. */
static uint32_t
mime_fold_cp(uint32_t c)
{
	if (c < 0x80)
		return c >= 'A' && c <= 'Z' ? c + 32 : c;
	if (c >= 0xc0 && c <= 0xde && c != 0xd7)
		return c + 32;
	if (c == 0xb5)
		return 0x3bc;
	if (c >= 0x100 && c <= 0x17f) {
		if (c == 0x130 || c == 0x131 || c == 0x138 || c == 0x149)
			return c;
		if (c == 0x178)
			return 0xff;
		if (c == 0x17f)
			return 's';
		if ((c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17e))
			return (c & 1) ? c + 1 : c;
		return (c & 1) ? c : c + 1;
	}
	if (c == 0x386)
		return 0x3ac;
	if (c >= 0x388 && c <= 0x38a)
		return c + 37;
	if (c == 0x38c)
		return 0x3cc;
	if (c == 0x38e || c == 0x38f)
		return c + 63;
	if (c >= 0x391 && c <= 0x3ab && c != 0x3a2)
		return c + 32;
	if (c == 0x3c2)
		return 0x3c3;
	if (c >= 0x400 && c <= 0x40f)
		return c + 80;
	if (c >= 0x410 && c <= 0x42f)
		return c + 32;
	return c;
}

/* Appends s folded; octets that are not UTF-8 are copied unchanged. */
static void
mime_fold(const char *s, size_t len, struct buf *out)
{
	const unsigned char *p = (const unsigned char *)s;
	char tmp[4096];
	size_t t = 0, i = 0;

	while (i < len) {
		uint32_t c = p[i];
		size_t n = 1;

		if (c >= 0xc2 && c < 0xe0 && i + 1 < len &&
		    (p[i + 1] & 0xc0) == 0x80) {
			/* only two-octet sequences fold here */
			c = (c & 0x1f) << 6 | (p[i + 1] & 0x3f);
			n = 2;
		}
		if (n == 1) {
			tmp[t++] = (char)(c < 0x80 ? mime_fold_cp(c) : c);
		} else if ((c = mime_fold_cp(c)) < 0x80) {
			tmp[t++] = (char)c;
		} else {
			tmp[t++] = (char)(0xc0 | c >> 6);
			tmp[t++] = (char)(0x80 | (c & 0x3f));
		}
		i += n;
		if (t > sizeof(tmp) - 4) {
			buf_append(out, tmp, t);
			t = 0;
		}
	}
	buf_append(out, tmp, t);
}

struct mime_search {
	const char *data;
	struct buf needle;	/* folded */
	enum mime_search_where where;
	struct buf a, b;	/* scratch, reused part after part */
};

static bool
mime_search_in(struct mime_search *s, const char *text, size_t len)
{
	buf_reset(&s->b);
	mime_fold(text, len, &s->b);
	return s->b.len >= s->needle.len &&
	    memmem(s->b.data, s->b.len, s->needle.data, s->needle.len) != NULL;
}

static bool
mime_search_header_cb(const char *value, size_t len, void *ctx)
{
	return !mime_search_in(ctx, value, len);
}

static bool
mime_search_body(struct mime_search *s, const struct mime_part *part)
{
	const char *body = s->data + part->body_off;
	const char *cs = mime_param_get(part->params, part->nparams,
	    "charset");

	buf_reset(&s->a);
	if (mime_ieq(part->encoding, "base64"))
		mime_base64_decode(body, part->body_len, &s->a);
	else if (mime_ieq(part->encoding, "quoted-printable"))
		mime_qp_decode(body, part->body_len, false, &s->a);
	else
		buf_append(&s->a, body, part->body_len);
	if (cs != NULL && !mime_charset_is_raw(cs, strlen(cs)) &&
	    s->a.len > 0) {
		struct buf t;

		buf_reset(&s->b);
		mime_to_utf8_or_raw(cs, strlen(cs), s->a.data, s->a.len,
		    &s->b);
		t = s->a;
		s->a = s->b;
		s->b = t;
	}
	buf_reset(&s->b);
	mime_fold(s->a.data, s->a.len, &s->b);
	return s->b.len >= s->needle.len &&
	    memmem(s->b.data, s->b.len, s->needle.data, s->needle.len) != NULL;
}

static bool
mime_search_part(struct mime_search *s, const struct mime_part *part)
{
	if (s->where == MIME_SEARCH_TEXT && part->hdr_len > 0 &&
	    mime_header_each(s->data + part->hdr_off, part->hdr_len, NULL,
	    true, mime_search_header_cb, s))
		return true;
	if (part->flags & (MIME_PART_MULTIPART | MIME_PART_MESSAGE)) {
		for (size_t i = 0; i < part->nchildren; i++) {
			if (mime_search_part(s, &part->children[i]))
				return true;
		}
		return false;
	}
	if (!mime_ieq(part->type, "text"))
		return false;
	return mime_search_body(s, part);
}

bool
mime_search_text(const char *data, size_t len, const struct mime_part *root,
    const char *needle, enum mime_search_where where)
{
	struct mime_search s;
	bool found;

	if (needle == NULL || *needle == '\0')
		return true;
	s.data = data != NULL ? data : "";
	s.where = where;
	buf_init(&s.needle);
	buf_init(&s.a);
	buf_init(&s.b);
	mime_fold(needle, strlen(needle), &s.needle);
	found = mime_search_part(&s, root);
	buf_deinit(&s.needle);
	buf_deinit(&s.a);
	buf_deinit(&s.b);
	return found;
}

bool
mime_text_contains(const char *text, size_t len, const char *needle)
{
	struct mime_search s;
	bool found;

	if (needle == NULL || *needle == '\0')
		return true;
	buf_init(&s.needle);
	buf_init(&s.b);
	mime_fold(needle, strlen(needle), &s.needle);
	found = len > 0 && mime_search_in(&s, text, len);
	buf_deinit(&s.needle);
	buf_deinit(&s.b);
	return found;
}

/* ---- dates (RFC 5322 3.3 and 4.3) ---- */

struct mime_date_lexer {
	const char *p, *end;
};

static void
mime_date_skip(struct mime_date_lexer *lx)
{
	lx->p = mime_skip_cfws(lx->p, lx->end, NULL);
}

/* Reads 1..max digits; -1 when there are none or more than max. */
static int
mime_date_number(struct mime_date_lexer *lx, int max, int *digits_r)
{
	int v = 0, n = 0;

	while (lx->p < lx->end && *lx->p >= '0' && *lx->p <= '9') {
		if (++n > max)
			return -1;
		v = v * 10 + (*lx->p++ - '0');
	}
	if (digits_r != NULL)
		*digits_r = n;
	return n > 0 ? v : -1;
}

static size_t
mime_date_word(struct mime_date_lexer *lx, const char **w_r)
{
	*w_r = lx->p;
	while (lx->p < lx->end && ((*lx->p >= 'a' && *lx->p <= 'z') ||
	    (*lx->p >= 'A' && *lx->p <= 'Z')))
		lx->p++;
	return (size_t)(lx->p - *w_r);
}

/* Month 1..12 from its name (three letters or more, "Sept" too), or 0. */
static int
mime_date_month(const char *w, size_t len)
{
	static const char names[] = "janfebmaraprmayjunjulaugsepoctnovdec";

	if (len < 3)
		return 0;
	for (int m = 0; m < 12; m++) {
		if (strncasecmp(w, names + 3 * m, 3) == 0)
			return m + 1;
	}
	return 0;
}

/* obs-zone (RFC 5322 4.3) offsets in hours; military and unknown zones
 * "SHOULD be considered equivalent to -0000". */
static int
mime_date_zone_name(const char *w, size_t len)
{
	static const struct {
		const char *name;
		int hours;
	} zones[] = {
		{ "UT", 0 }, { "UTC", 0 }, { "GMT", 0 }, { "Z", 0 },
		{ "EST", -5 }, { "EDT", -4 }, { "CST", -6 }, { "CDT", -5 },
		{ "MST", -7 }, { "MDT", -6 }, { "PST", -8 }, { "PDT", -7 },
	};

	for (size_t i = 0; i < ARRAY_SIZE(zones); i++) {
		if (str_ieq_n(w, len, zones[i].name))
			return zones[i].hours * 3600;
	}
	return 0;
}

static bool
mime_date_leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant). */
static int64_t
mime_date_days(int y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

bool
mime_parse_date(const char *s, size_t len, time_t *t_r, int *tzoff_r)
{
	static const int mdays[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31,
	    30, 31 };
	struct mime_date_lexer lx;
	const char *w;
	size_t wlen;
	int day, month, year, ydigits, hour, min, sec = 0, zone = 0, dim;

	if (s == NULL || len == 0)
		return false;
	lx.p = s;
	lx.end = s + len;
	mime_date_skip(&lx);
	/* [ day-of-week "," ] */
	if ((wlen = mime_date_word(&lx, &w)) > 0) {
		mime_date_skip(&lx);
		if (lx.p < lx.end && *lx.p == ',')
			lx.p++;
		mime_date_skip(&lx);
	}
	/* day month year; "-" between them as in RFC 850 dates */
	if ((day = mime_date_number(&lx, 2, NULL)) < 1)
		return false;
	mime_date_skip(&lx);
	if (lx.p < lx.end && *lx.p == '-')
		lx.p++;
	mime_date_skip(&lx);
	wlen = mime_date_word(&lx, &w);
	if ((month = mime_date_month(w, wlen)) == 0)
		return false;
	mime_date_skip(&lx);
	if (lx.p < lx.end && *lx.p == '-')
		lx.p++;
	mime_date_skip(&lx);
	if ((year = mime_date_number(&lx, 4, &ydigits)) < 0)
		return false;
	/* RFC 5322 4.3: 2-digit years below 50 are 20xx, other 2- and
	 * 3-digit years add 1900 */
	if (ydigits == 2)
		year += year < 50 ? 2000 : 1900;
	else if (ydigits == 3)
		year += 1900;
	else if (ydigits != 4 || year < 1000)
		return false;
	mime_date_skip(&lx);
	/* hour ":" minute [ ":" second ] */
	if ((hour = mime_date_number(&lx, 2, NULL)) < 0 || hour > 23)
		return false;
	mime_date_skip(&lx);
	if (lx.p >= lx.end || *lx.p++ != ':')
		return false;
	mime_date_skip(&lx);
	if ((min = mime_date_number(&lx, 2, NULL)) < 0 || min > 59)
		return false;
	mime_date_skip(&lx);
	if (lx.p < lx.end && *lx.p == ':') {
		lx.p++;
		mime_date_skip(&lx);
		/* 60: a leap second, counted into the next minute */
		if ((sec = mime_date_number(&lx, 2, NULL)) < 0 || sec > 60)
			return false;
		mime_date_skip(&lx);
	}
	/* zone: ("+" / "-") 4DIGIT, or a name; missing is -0000 */
	if (lx.p < lx.end && (*lx.p == '+' || *lx.p == '-')) {
		int sign = *lx.p++ == '-' ? -1 : 1, digits, hhmm;

		hhmm = mime_date_number(&lx, 4, &digits);
		if (hhmm < 0 || digits != 4 || hhmm % 100 > 59)
			return false;
		zone = sign * ((hhmm / 100) * 3600 + (hhmm % 100) * 60);
	} else if ((wlen = mime_date_word(&lx, &w)) > 0)
		zone = mime_date_zone_name(w, wlen);
	dim = mdays[month - 1] + (month == 2 && mime_date_leap(year));
	if (day > dim)
		return false;
	*t_r = (time_t)(mime_date_days(year, month, day) * 86400 +
	    hour * 3600 + min * 60 + sec - zone);
	if (tzoff_r != NULL)
		*tzoff_r = zone;
	return true;
}

/* ---- CRLF copies (BODY[]<partial>) ---- */

void
mime_crlf_seek(const char *data, size_t len, uint64_t skip,
    struct mime_crlf_cursor *cur)
{
	const char *p = data, *end, *nl;
	uint64_t pos = 0;

	cur->lf_pending = false;
	cur->off = 0;
	cur->pos = 0;
	if (len == 0)
		return;
	end = data + len;
	while (p < end) {
		uint64_t seg, line;
		bool bare;

		nl = memchr(p, '\n', (size_t)(end - p));
		seg = (uint64_t)((nl != NULL ? nl : end) - p);
		bare = nl != NULL && (nl == data || nl[-1] != '\r');
		line = seg + (nl != NULL) + bare;
		if (pos + line <= skip) {
			pos += line;
			p = nl != NULL ? nl + 1 : end;
			continue;
		}
		if (skip - pos <= seg) {
			p += skip - pos;
		} else {
			/* between the CR we add and the LF */
			p = nl;
			cur->lf_pending = true;
		}
		pos = skip;
		break;
	}
	cur->off = (size_t)(p - data);
	cur->pos = pos;
}

size_t
mime_crlf_next(const char *data, size_t len, struct mime_crlf_cursor *cur,
    size_t max, struct buf *out)
{
	size_t n = 0, off = cur->off;

	while (n < max && off < len) {
		const char *nl;
		size_t seg_end, chunk;

		if (cur->lf_pending) {
			buf_append(out, "\n", 1);
			cur->lf_pending = false;
			off++;
			n++;
			continue;
		}
		nl = memchr(data + off, '\n', len - off);
		seg_end = nl != NULL ? (size_t)(nl - data) : len;
		chunk = seg_end - off;
		if (chunk > max - n)
			chunk = max - n;
		buf_append(out, data + off, chunk);
		off += chunk;
		n += chunk;
		if (n == max || nl == NULL || off != seg_end)
			continue;
		if (off > 0 && data[off - 1] == '\r') {
			buf_append(out, "\n", 1);
			n++;
		} else if (max - n >= 2) {
			buf_append(out, "\r\n", 2);
			n += 2;
		} else {
			/* the chunk ends between the CR we add and the LF */
			buf_append(out, "\r", 1);
			n++;
			cur->lf_pending = true;
			continue;
		}
		off++;
	}
	cur->off = off;
	cur->pos += n;
	return n;
}

size_t
mime_crlf_copy(const char *data, size_t len, uint64_t skip, size_t max,
    struct buf *out)
{
	struct mime_crlf_cursor cur;

	if (len == 0 || max == 0)
		return 0;
	mime_crlf_seek(data, len, skip, &cur);
	return mime_crlf_next(data, len, &cur, max, out);
}
