/*
 * imap_search.c: SEARCH and UID SEARCH (RFC 3501 6.4.4). The keys are
 * parsed once into a tree, then matched message by message.
 *
 * Matching is three-valued so that a message file is read only when it
 * decides the answer: a first pass uses what the session holds (flags,
 * keywords, UID, sequence number, RFC822.SIZE, INTERNALDATE) and keys
 * that need the file answer "maybe"; only when the whole tree is still
 * "maybe" is the file mapped, once, for a second pass. The children of
 * AND and OR are ordered cheapest first, so that the second pass parses
 * the MIME structure (BODY, TEXT) only when the header keys left the
 * question open.
 *
 * String matching is a case-insensitive substring search over UTF-8
 * after RFC 2047 decoding (headers) or transfer and charset decoding
 * (bodies), with the case folding of mime_search_text (ASCII, Latin-1,
 * Latin Extended-A, Greek, Cyrillic; no normalization). Search strings
 * are taken as UTF-8 whatever the CHARSET, US-ASCII being a subset.
 */
#include <sys/mman.h>
#include <sys/stat.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "imap/imap_internal.h"
#include "lib/util.h"
#include "store/mime.h"

/* Bounds on what one command may ask for; beyond them: BAD. */
#define IMAP_SEARCH_MAX_DEPTH	32
#define IMAP_SEARCH_MAX_KEYS	1000

enum imap_sk_kind {
	IMAP_SK_AND,		/* children; a parenthesized list */
	IMAP_SK_OR,		/* two children */
	IMAP_SK_NOT,		/* one child */
	IMAP_SK_FLAGS,		/* (flags & mask) == want; ALL too */
	IMAP_SK_KEYWORD,	/* KEYWORD, UNKEYWORD (not) */
	IMAP_SK_SEQ,		/* sequence set */
	IMAP_SK_UID,
	IMAP_SK_LARGER,
	IMAP_SK_SMALLER,
	IMAP_SK_DATE,		/* BEFORE, ON, SINCE: INTERNALDATE */
	IMAP_SK_SENT,		/* SENTBEFORE, SENTON, SENTSINCE: Date: */
	IMAP_SK_HEADER,		/* HEADER and the address/subject keys */
	IMAP_SK_BODY,
	IMAP_SK_TEXT,
};

/* What a key's argument is. */
enum imap_sk_arg {
	IMAP_SKA_NONE = 0,	/* left out of the table */
	IMAP_SKA_STRING,
	IMAP_SKA_FIELD_STRING,	/* HEADER <field-name> <string> */
	IMAP_SKA_DATE,
	IMAP_SKA_NUMBER,
	IMAP_SKA_FLAG,
	IMAP_SKA_SET,
	IMAP_SKA_KEY,
	IMAP_SKA_TWO_KEYS,
};

enum imap_sk_cmp { IMAP_SKC_BEFORE, IMAP_SKC_ON, IMAP_SKC_SINCE };

/* What evaluating a node costs, in the order children are tried. */
enum imap_sk_cost {
	IMAP_SK_COST_MEM,	/* the session's array */
	IMAP_SK_COST_HEADER,	/* the mapped file's header */
	IMAP_SK_COST_MIME,	/* the MIME tree and decoded bodies */
};

struct imap_sk_def {
	const char *name;
	enum imap_sk_kind kind;
	enum imap_sk_arg arg;
	uint8_t mask, want;	/* IMAP_SK_FLAGS */
	enum imap_sk_cmp cmp;	/* dates */
	const char *field;	/* header keys other than HEADER */
	bool not;		/* UNKEYWORD */
};

#define F_A	STORE_F_ANSWERED
#define F_D	STORE_F_DELETED
#define F_DR	STORE_F_DRAFT
#define F_F	STORE_F_FLAGGED
#define F_R	STORE_F_RECENT
#define F_S	STORE_F_SEEN

/* RFC 3501 6.4.4, every key but the sequence set. */
static const struct imap_sk_def imap_sk_defs[] = {
	{ "ALL", IMAP_SK_FLAGS, .arg = IMAP_SKA_NONE },
	{ "ANSWERED", IMAP_SK_FLAGS, .mask = F_A, .want = F_A },
	{ "BCC", IMAP_SK_HEADER, .arg = IMAP_SKA_STRING, .field = "Bcc" },
	{ "BEFORE", IMAP_SK_DATE, .arg = IMAP_SKA_DATE,
	    .cmp = IMAP_SKC_BEFORE },
	{ "BODY", IMAP_SK_BODY, .arg = IMAP_SKA_STRING },
	{ "CC", IMAP_SK_HEADER, .arg = IMAP_SKA_STRING, .field = "Cc" },
	{ "DELETED", IMAP_SK_FLAGS, .mask = F_D, .want = F_D },
	{ "DRAFT", IMAP_SK_FLAGS, .mask = F_DR, .want = F_DR },
	{ "FLAGGED", IMAP_SK_FLAGS, .mask = F_F, .want = F_F },
	{ "FROM", IMAP_SK_HEADER, .arg = IMAP_SKA_STRING, .field = "From" },
	{ "HEADER", IMAP_SK_HEADER, .arg = IMAP_SKA_FIELD_STRING },
	{ "KEYWORD", IMAP_SK_KEYWORD, .arg = IMAP_SKA_FLAG },
	{ "LARGER", IMAP_SK_LARGER, .arg = IMAP_SKA_NUMBER },
	{ "NEW", IMAP_SK_FLAGS, .mask = F_R | F_S, .want = F_R },
	{ "NOT", IMAP_SK_NOT, .arg = IMAP_SKA_KEY },
	{ "OLD", IMAP_SK_FLAGS, .mask = F_R, .want = 0 },
	{ "ON", IMAP_SK_DATE, .arg = IMAP_SKA_DATE, .cmp = IMAP_SKC_ON },
	{ "OR", IMAP_SK_OR, .arg = IMAP_SKA_TWO_KEYS },
	{ "RECENT", IMAP_SK_FLAGS, .mask = F_R, .want = F_R },
	{ "SEEN", IMAP_SK_FLAGS, .mask = F_S, .want = F_S },
	{ "SENTBEFORE", IMAP_SK_SENT, .arg = IMAP_SKA_DATE,
	    .cmp = IMAP_SKC_BEFORE },
	{ "SENTON", IMAP_SK_SENT, .arg = IMAP_SKA_DATE, .cmp = IMAP_SKC_ON },
	{ "SENTSINCE", IMAP_SK_SENT, .arg = IMAP_SKA_DATE,
	    .cmp = IMAP_SKC_SINCE },
	{ "SINCE", IMAP_SK_DATE, .arg = IMAP_SKA_DATE, .cmp = IMAP_SKC_SINCE },
	{ "SMALLER", IMAP_SK_SMALLER, .arg = IMAP_SKA_NUMBER },
	{ "SUBJECT", IMAP_SK_HEADER, .arg = IMAP_SKA_STRING,
	    .field = "Subject" },
	{ "TEXT", IMAP_SK_TEXT, .arg = IMAP_SKA_STRING },
	{ "TO", IMAP_SK_HEADER, .arg = IMAP_SKA_STRING, .field = "To" },
	{ "UID", IMAP_SK_UID, .arg = IMAP_SKA_SET },
	{ "UNANSWERED", IMAP_SK_FLAGS, .mask = F_A, .want = 0 },
	{ "UNDELETED", IMAP_SK_FLAGS, .mask = F_D, .want = 0 },
	{ "UNDRAFT", IMAP_SK_FLAGS, .mask = F_DR, .want = 0 },
	{ "UNFLAGGED", IMAP_SK_FLAGS, .mask = F_F, .want = 0 },
	{ "UNKEYWORD", IMAP_SK_KEYWORD, .arg = IMAP_SKA_FLAG, .not = true },
	{ "UNSEEN", IMAP_SK_FLAGS, .mask = F_S, .want = 0 },
};

#undef F_A
#undef F_D
#undef F_DR
#undef F_F
#undef F_R
#undef F_S

struct imap_search_node {
	enum imap_sk_kind kind;
	enum imap_sk_cost cost;
	uint8_t mask, want;
	bool not;
	enum imap_sk_cmp cmp;
	int64_t day;		/* dates: days since 1970-01-01 */
	uint64_t number;
	char *field;		/* HEADER: the field name */
	char *str;		/* strings and keywords, NUL-free */
	size_t set;		/* SEQ, UID: index into sets */
	struct imap_search_node *children;
	size_t nchildren;
};

struct imap_search_set {
	struct imap_seqset set;	/* as parsed, "*" unresolved */
	bool uid;
};

struct imap_search {
	struct imap_search_node root;	/* the top-level keys, ANDed */
	struct imap_search_set *sets;
	size_t nsets;
};

/* ---- parsing ---- */

struct imap_search_parser {
	struct imap_search *s;
	unsigned nkeys;
	const char *error;
};

/* An argument list and a position in it. */
struct imap_search_args {
	const struct imap_arg *v;
	size_t n, i;
};

static int imap_search_key(struct imap_search_parser *ps,
    struct imap_search_args *a, unsigned depth,
    struct imap_search_node *node);

static int
imap_search_fail(struct imap_search_parser *ps, const char *error)
{
	if (ps->error == NULL)
		ps->error = error;
	return -1;
}

/* Floor division: days before 1970 are negative. */
static int64_t
imap_search_day(int64_t t)
{
	int64_t d = t / 86400;

	return t % 86400 < 0 ? d - 1 : d;
}

static const struct imap_arg *
imap_search_next_arg(struct imap_search_parser *ps,
    struct imap_search_args *a)
{
	if (a->i >= a->n) {
		imap_search_fail(ps, "Missing search argument");
		return NULL;
	}
	return &a->v[a->i++];
}

/* A string argument: atom, quoted or literal. RFC 3501 9: CHAR8 is
 * %x01-ff, so a NUL is bad input (and would cut the C string). */
static int
imap_search_string(struct imap_search_parser *ps, struct imap_search_args *a,
    char **str_r)
{
	const struct imap_arg *arg;
	const char *s;
	size_t len;

	if ((arg = imap_search_next_arg(ps, a)) == NULL)
		return -1;
	if (arg->type == IMAP_ARG_LITERAL && arg->str == NULL)
		return imap_search_fail(ps, "Literal too large for SEARCH");
	if (imap_arg_astring(arg, &s, &len) < 0 ||
	    memchr(s, '\0', len) != NULL)
		return imap_search_fail(ps, "Invalid search string");
	*str_r = xstrndup(s, len);
	return 0;
}

static int
imap_search_date(struct imap_search_parser *ps, struct imap_search_args *a,
    int64_t *day_r)
{
	const struct imap_arg *arg;
	const char *s;
	size_t len;
	time_t t;

	if ((arg = imap_search_next_arg(ps, a)) == NULL)
		return -1;
	if (imap_arg_astring(arg, &s, &len) < 0 ||
	    imap_date_parse(s, len, &t) < 0)
		return imap_search_fail(ps, "Invalid search date");
	*day_r = imap_search_day((int64_t)t);
	return 0;
}

/* RFC 3501 9: number is 32-bit unsigned. */
static int
imap_search_number(struct imap_search_parser *ps, struct imap_search_args *a,
    uint64_t *n_r)
{
	const struct imap_arg *arg;

	if ((arg = imap_search_next_arg(ps, a)) == NULL)
		return -1;
	if (arg->type != IMAP_ARG_ATOM ||
	    str_to_u64(arg->str, arg->len, UINT32_MAX, n_r) < 0)
		return imap_search_fail(ps, "Invalid search number");
	return 0;
}

static int
imap_search_set(struct imap_search_parser *ps, const char *str, size_t len,
    bool uid, size_t *set_r)
{
	struct imap_search *s = ps->s;
	struct imap_seqset set;

	if (imap_seqset_parse(str, len, &set) < 0)
		return imap_search_fail(ps, "Invalid sequence set");
	s->sets = xrealloc(s->sets, (s->nsets + 1) * sizeof(*s->sets));
	s->sets[s->nsets].set = set;
	s->sets[s->nsets].uid = uid;
	*set_r = s->nsets++;
	return 0;
}

/* Cheapest first, keeping the order given among equals (insertion sort:
 * lists are short and bounded by IMAP_SEARCH_MAX_KEYS). */
static void
imap_search_order(struct imap_search_node *node)
{
	node->cost = IMAP_SK_COST_MEM;
	for (size_t i = 0; i < node->nchildren; i++) {
		struct imap_search_node t = node->children[i];
		size_t j = i;

		for (; j > 0 && node->children[j - 1].cost > t.cost; j--)
			node->children[j] = node->children[j - 1];
		node->children[j] = t;
		if (t.cost > node->cost)
			node->cost = t.cost;
	}
}

/* Keys up to the end of a, ANDed into node; at least one. */
static int
imap_search_keys(struct imap_search_parser *ps, struct imap_search_args *a,
    unsigned depth, struct imap_search_node *node)
{
	node->kind = IMAP_SK_AND;
	if (a->i >= a->n)
		return imap_search_fail(ps, "Missing search key");
	while (a->i < a->n) {
		struct imap_search_node *child;

		node->children = xrealloc(node->children,
		    (node->nchildren + 1) * sizeof(*node->children));
		child = &node->children[node->nchildren++];
		memset(child, 0, sizeof(*child));
		if (imap_search_key(ps, a, depth + 1, child) < 0)
			return -1;
	}
	imap_search_order(node);
	return 0;
}

/* NOT and OR: n keys as children. */
static int
imap_search_subkeys(struct imap_search_parser *ps, struct imap_search_args *a,
    unsigned depth, struct imap_search_node *node, size_t n)
{
	node->children = xcalloc(n, sizeof(*node->children));
	node->nchildren = n;
	for (size_t i = 0; i < n; i++) {
		if (imap_search_key(ps, a, depth + 1, &node->children[i]) < 0)
			return -1;
	}
	imap_search_order(node);
	return 0;
}

static const struct imap_sk_def *
imap_search_def(const char *name, size_t len)
{
	for (size_t i = 0; i < ARRAY_SIZE(imap_sk_defs); i++) {
		if (str_ieq_n(name, len, imap_sk_defs[i].name))
			return &imap_sk_defs[i];
	}
	return NULL;
}

static int
imap_search_args_of(struct imap_search_parser *ps, const struct imap_sk_def *d,
    struct imap_search_args *a, unsigned depth, struct imap_search_node *node)
{
	const struct imap_arg *arg;

	switch (d->arg) {
	case IMAP_SKA_NONE:
		return 0;
	case IMAP_SKA_STRING:
		return imap_search_string(ps, a, &node->str);
	case IMAP_SKA_FIELD_STRING:
		if (imap_search_string(ps, a, &node->field) < 0)
			return -1;
		return imap_search_string(ps, a, &node->str);
	case IMAP_SKA_DATE:
		return imap_search_date(ps, a, &node->day);
	case IMAP_SKA_NUMBER:
		return imap_search_number(ps, a, &node->number);
	case IMAP_SKA_FLAG:
		/* RFC 3501 9 wants an atom; any astring is taken, as a
		 * keyword never holds a space it simply never matches. */
		return imap_search_string(ps, a, &node->str);
	case IMAP_SKA_SET:
		if ((arg = imap_search_next_arg(ps, a)) == NULL)
			return -1;
		if (arg->type != IMAP_ARG_ATOM)
			return imap_search_fail(ps, "Invalid sequence set");
		return imap_search_set(ps, arg->str, arg->len, true,
		    &node->set);
	case IMAP_SKA_KEY:
		return imap_search_subkeys(ps, a, depth, node, 1);
	case IMAP_SKA_TWO_KEYS:
		return imap_search_subkeys(ps, a, depth, node, 2);
	}
	return -1;
}

static enum imap_sk_cost
imap_search_cost(enum imap_sk_kind kind)
{
	switch (kind) {
	case IMAP_SK_SENT:
	case IMAP_SK_HEADER:
		return IMAP_SK_COST_HEADER;
	case IMAP_SK_BODY:
	case IMAP_SK_TEXT:
		return IMAP_SK_COST_MIME;
	default:
		return IMAP_SK_COST_MEM;
	}
}

static int
imap_search_key(struct imap_search_parser *ps, struct imap_search_args *a,
    unsigned depth, struct imap_search_node *node)
{
	const struct imap_sk_def *d;
	const struct imap_arg *arg;
	struct imap_search_args sub;

	if (a->i >= a->n)
		return imap_search_fail(ps, "Missing search key");
	if (++ps->nkeys > IMAP_SEARCH_MAX_KEYS ||
	    depth > IMAP_SEARCH_MAX_DEPTH)
		return imap_search_fail(ps, "Too complex search");
	arg = &a->v[a->i++];
	if (arg->type == IMAP_ARG_LIST) {
		sub.v = arg->list;
		sub.n = arg->count;
		sub.i = 0;
		return imap_search_keys(ps, &sub, depth, node);
	}
	if (arg->type != IMAP_ARG_ATOM)
		return imap_search_fail(ps, "Invalid search key");
	if ((arg->str[0] >= '0' && arg->str[0] <= '9') || arg->str[0] == '*') {
		node->kind = IMAP_SK_SEQ;
		return imap_search_set(ps, arg->str, arg->len, false,
		    &node->set);
	}
	if ((d = imap_search_def(arg->str, arg->len)) == NULL)
		return imap_search_fail(ps, "Unknown search key");
	node->kind = d->kind;
	node->cost = imap_search_cost(d->kind);
	node->mask = d->mask;
	node->want = d->want;
	node->cmp = d->cmp;
	node->not = d->not;
	if (d->field != NULL)
		node->field = xstrdup(d->field);
	return imap_search_args_of(ps, d, a, depth, node);
}

static void
imap_search_node_free(struct imap_search_node *node)
{
	for (size_t i = 0; i < node->nchildren; i++)
		imap_search_node_free(&node->children[i]);
	free(node->children);
	free(node->field);
	free(node->str);
}

/* RFC 3501 6.4.4: "CHARSET" must come first. Strings are matched as
 * UTF-8, of which US-ASCII is a subset. */
static int
imap_search_charset(struct imap_search_parser *ps, struct imap_search_args *a,
    bool *bad_charset_r)
{
	const struct imap_arg *arg = &a->v[a->i];
	const char *cs;
	size_t len;

	if (arg->type != IMAP_ARG_ATOM || !str_ieq_n(arg->str, arg->len,
	    "CHARSET"))
		return 0;
	a->i++;
	if ((arg = imap_search_next_arg(ps, a)) == NULL)
		return -1;
	if (imap_arg_astring(arg, &cs, &len) < 0)
		return imap_search_fail(ps, "Invalid charset");
	if (!str_ieq_n(cs, len, "UTF-8") && !str_ieq_n(cs, len, "US-ASCII")) {
		*bad_charset_r = true;
		return imap_search_fail(ps, "Unsupported charset");
	}
	return 0;
}

int
imap_search_parse(const struct imap_arg *args, size_t nargs,
    struct imap_search **s_r, bool *bad_charset_r, const char **error_r)
{
	struct imap_search_parser ps;
	struct imap_search_args a = { args, nargs, 0 };
	struct imap_search *s;

	*s_r = NULL;
	*bad_charset_r = false;
	s = xcalloc(1, sizeof(*s));
	memset(&ps, 0, sizeof(ps));
	ps.s = s;
	if ((nargs > 0 && imap_search_charset(&ps, &a, bad_charset_r) < 0) ||
	    imap_search_keys(&ps, &a, 0, &s->root) < 0) {
		*error_r = ps.error;
		imap_search_free(&s);
		return -1;
	}
	*s_r = s;
	return 0;
}

void
imap_search_free(struct imap_search **sp)
{
	struct imap_search *s = *sp;

	if (s == NULL)
		return;
	imap_search_node_free(&s->root);
	for (size_t i = 0; i < s->nsets; i++)
		imap_seqset_free(&s->sets[i].set);
	free(s->sets);
	free(s);
	*sp = NULL;
}

bool
imap_search_needs_store(const struct imap_search *s)
{
	return s->root.cost != IMAP_SK_COST_MEM;
}

/* ---- matching ---- */

enum imap_tri { IMAP_NO, IMAP_YES, IMAP_MAYBE };

struct imap_search_run {
	struct store_mailbox *mb;
	const struct store_view *v;
	struct imap_seqset *sets;	/* resolved copies of s->sets */
};

/* The message being matched, its file mapped on demand. */
struct imap_search_msg {
	const struct store_imsg *m;
	uint32_t seq;
	bool mapped, gone;
	const char *error;	/* I/O trouble */
	char *map;
	size_t len;
	size_t hdr_len;
	struct mime_part *root;
	bool sent_known;
	int64_t sent_day;
};

/* The header with its blank line, so that header keys never scan a
 * body (mime_parse, which would find it too, is kept for BODY/TEXT). */
static size_t
imap_search_hdr_len(const char *data, size_t len)
{
	const char *p = data, *end = data + len, *nl;

	while (p < end) {
		if (*p == '\n' || (*p == '\r' && (p + 1 == end ||
		    p[1] == '\n')))
			break;
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			return len;
		p = nl + 1;
	}
	if (p < end && (nl = memchr(p, '\n', (size_t)(end - p))) != NULL)
		p = nl + 1;
	else
		p = end;
	return (size_t)(p - data);
}

/* Maps the file; false when there is nothing to look at (gone, or an
 * error noted in msg->error). */
static bool
imap_search_msg_map(struct imap_search_run *run, struct imap_search_msg *msg)
{
	const char *error;
	struct stat st;
	int fd;

	if (msg->mapped)
		return true;
	if (msg->gone || msg->error != NULL)
		return false;
	if ((fd = store_imsg_open(run->mb, run->v, msg->m, &error)) < 0) {
		if (errno == ENOENT)
			msg->gone = true;
		else
			msg->error = error;
		return false;
	}
	if (fstat(fd, &st) < 0) {
		msg->error = "cannot stat a message file";
		close(fd);
		return false;
	}
	msg->len = (size_t)st.st_size;
	/* mmap refuses a zero length; an empty file is an empty message */
	if (msg->len > 0) {
		msg->map = mmap(NULL, msg->len, PROT_READ, MAP_PRIVATE, fd, 0);
		if (msg->map == MAP_FAILED) {
			msg->map = NULL;
			msg->error = "cannot map a message file";
			close(fd);
			return false;
		}
	}
	close(fd);
	msg->mapped = true;
	msg->hdr_len = msg->map != NULL ?
	    imap_search_hdr_len(msg->map, msg->len) : 0;
	return true;
}

static void
imap_search_msg_unmap(struct imap_search_msg *msg)
{
	if (msg->root != NULL)
		mime_free(msg->root);
	if (msg->map != NULL)
		munmap(msg->map, msg->len);
	msg->root = NULL;
	msg->map = NULL;
	msg->mapped = false;
}

/*
 * A case-insensitive substring search over a decoded header value. It
 * goes through mime_search_text on a bare text/plain leaf spanning the
 * value, so that headers fold case exactly as bodies do.
 */
static bool
imap_search_in_value(const char *value, size_t len, const char *needle)
{
	char type[] = "text", subtype[] = "plain";
	struct mime_part leaf;

	memset(&leaf, 0, sizeof(leaf));
	leaf.type = type;
	leaf.subtype = subtype;
	leaf.body_len = len;
	return mime_search_text(value, len, &leaf, needle, MIME_SEARCH_BODY);
}

static bool
imap_search_header_cb(const char *value, size_t len, void *ctx)
{
	const char *needle = ctx;

	return !imap_search_in_value(value, len, needle);
}

/* Every occurrence of the field is tried; an empty string matches any
 * message that has the field (RFC 3501 6.4.4 HEADER; Dovecot does the
 * same for the other header keys). */
static bool
imap_search_header(const struct imap_search_node *node,
    const struct imap_search_msg *msg)
{
	return msg->hdr_len > 0 && mime_header_each(msg->map, msg->hdr_len,
	    node->field, true, imap_search_header_cb, node->str);
}

/* The day of the Date: field as written (in its own zone); a message
 * without a readable one falls back to INTERNALDATE in UTC, as Dovecot
 * does, so that SENT* never hides it altogether. */
static int64_t
imap_search_sent_day(struct imap_search_msg *msg)
{
	struct buf b;
	time_t t;
	int tzoff;

	if (msg->sent_known)
		return msg->sent_day;
	buf_init(&b);
	if (msg->hdr_len > 0 &&
	    mime_header_get_raw(msg->map, msg->hdr_len, "Date", &b) &&
	    mime_parse_date(b.data, b.len, &t, &tzoff))
		msg->sent_day = imap_search_day((int64_t)t + tzoff);
	else
		msg->sent_day = imap_search_day(msg->m->internal_date);
	buf_deinit(&b);
	msg->sent_known = true;
	return msg->sent_day;
}

static bool
imap_search_day_cmp(enum imap_sk_cmp cmp, int64_t day, int64_t key)
{
	switch (cmp) {
	case IMAP_SKC_BEFORE:
		return day < key;
	case IMAP_SKC_ON:
		return day == key;
	case IMAP_SKC_SINCE:
		return day >= key;
	}
	return false;
}

/* Keywords are case-insensitive, as the store keeps them. */
static bool
imap_search_has_keyword(const char *list, const char *kw)
{
	return store_keywords_has(list, kw, strlen(kw));
}

static enum imap_tri
imap_search_bool(bool b)
{
	return b ? IMAP_YES : IMAP_NO;
}

/* The keys that read the file; with file false they answer MAYBE. */
static enum imap_tri
imap_search_eval_file(struct imap_search_run *run,
    const struct imap_search_node *node, struct imap_search_msg *msg,
    bool file)
{
	if (!file)
		return IMAP_MAYBE;
	/* a gone message matches nothing; run drops it whatever NOT says */
	if (!imap_search_msg_map(run, msg))
		return IMAP_NO;
	if ((node->kind == IMAP_SK_BODY || node->kind == IMAP_SK_TEXT) &&
	    msg->root == NULL)
		msg->root = mime_parse(msg->map, msg->len);
	switch (node->kind) {
	case IMAP_SK_SENT:
		return imap_search_bool(imap_search_day_cmp(node->cmp,
		    imap_search_sent_day(msg), node->day));
	case IMAP_SK_HEADER:
		return imap_search_bool(imap_search_header(node, msg));
	case IMAP_SK_BODY:
		return imap_search_bool(mime_search_text(msg->map, msg->len,
		    msg->root, node->str, MIME_SEARCH_BODY));
	case IMAP_SK_TEXT:
		return imap_search_bool(mime_search_text(msg->map, msg->len,
		    msg->root, node->str, MIME_SEARCH_TEXT));
	default:
		return IMAP_NO;
	}
}

static enum imap_tri
imap_search_eval(struct imap_search_run *run,
    const struct imap_search_node *node, struct imap_search_msg *msg,
    bool file)
{
	const struct store_imsg *m = msg->m;
	enum imap_tri r, acc;

	switch (node->kind) {
	case IMAP_SK_AND:
		acc = IMAP_YES;
		for (size_t i = 0; i < node->nchildren; i++) {
			if ((r = imap_search_eval(run, &node->children[i], msg,
			    file)) == IMAP_NO)
				return IMAP_NO;
			if (r == IMAP_MAYBE)
				acc = IMAP_MAYBE;
		}
		return acc;
	case IMAP_SK_OR:
		acc = IMAP_NO;
		for (size_t i = 0; i < node->nchildren; i++) {
			if ((r = imap_search_eval(run, &node->children[i], msg,
			    file)) == IMAP_YES)
				return IMAP_YES;
			if (r == IMAP_MAYBE)
				acc = IMAP_MAYBE;
		}
		return acc;
	case IMAP_SK_NOT:
		r = imap_search_eval(run, &node->children[0], msg, file);
		return r == IMAP_MAYBE ? r : imap_search_bool(r == IMAP_NO);
	case IMAP_SK_FLAGS:
		return imap_search_bool((m->flags & node->mask) == node->want);
	case IMAP_SK_KEYWORD:
		return imap_search_bool(imap_search_has_keyword(m->keywords,
		    node->str) != node->not);
	case IMAP_SK_SEQ:
		return imap_search_bool(imap_seqset_contains(
		    &run->sets[node->set], msg->seq));
	case IMAP_SK_UID:
		return imap_search_bool(imap_seqset_contains(
		    &run->sets[node->set], m->uid));
	case IMAP_SK_LARGER:
		return imap_search_bool(m->vsize > node->number);
	case IMAP_SK_SMALLER:
		return imap_search_bool(m->vsize < node->number);
	case IMAP_SK_DATE:
		/* RFC 3501 6.4.4: "disregarding time and timezone": the
		 * day of INTERNALDATE in UTC */
		return imap_search_bool(imap_search_day_cmp(node->cmp,
		    imap_search_day(m->internal_date), node->day));
	case IMAP_SK_SENT:
	case IMAP_SK_HEADER:
	case IMAP_SK_BODY:
	case IMAP_SK_TEXT:
		return imap_search_eval_file(run, node, msg, file);
	}
	return IMAP_NO;
}

/* Copies of the sets with "*" made the highest sequence number or UID:
 * the parsed search may be run again after the folder changed. */
static struct imap_seqset *
imap_search_sets_resolve(const struct imap_search *s,
    const struct store_imsg *msgs, size_t count)
{
	struct imap_seqset *sets;
	uint32_t max_uid = 0, max_seq;

	if (s->nsets == 0)
		return NULL;
	for (size_t i = 0; i < count; i++) {
		if (msgs[i].uid > max_uid)
			max_uid = msgs[i].uid;
	}
	max_seq = count > UINT32_MAX ? UINT32_MAX : (uint32_t)count;
	sets = xcalloc(s->nsets, sizeof(*sets));
	for (size_t i = 0; i < s->nsets; i++) {
		const struct imap_seqset *from = &s->sets[i].set;

		sets[i].r = xcalloc(from->count, sizeof(*sets[i].r));
		memcpy(sets[i].r, from->r, from->count * sizeof(*from->r));
		sets[i].count = from->count;
		imap_seqset_resolve(&sets[i], s->sets[i].uid ? max_uid :
		    max_seq);
	}
	return sets;
}

int
imap_search_run(const struct imap_search *s, struct store_mailbox *mb,
    const struct store_view *v, const struct store_imsg *msgs, size_t count,
    bool *match, const char **error_r)
{
	struct imap_search_run run;
	int ret = 0;

	run.mb = mb;
	run.v = v;
	run.sets = imap_search_sets_resolve(s, msgs, count);
	memset(match, 0, count * sizeof(*match));
	for (size_t i = 0; i < count && ret == 0; i++) {
		struct imap_search_msg msg;
		enum imap_tri r;

		memset(&msg, 0, sizeof(msg));
		msg.m = &msgs[i];
		msg.seq = i >= UINT32_MAX ? UINT32_MAX : (uint32_t)(i + 1);
		if ((r = imap_search_eval(&run, &s->root, &msg, false)) ==
		    IMAP_MAYBE)
			r = imap_search_eval(&run, &s->root, &msg, true);
		match[i] = r == IMAP_YES && !msg.gone && msg.error == NULL;
		if (msg.error != NULL) {
			*error_r = msg.error;
			ret = -1;
		}
		imap_search_msg_unmap(&msg);
	}
	for (size_t i = 0; i < s->nsets; i++)
		imap_seqset_free(&run.sets[i]);
	free(run.sets);
	return ret;
}
