/*
 * imap_fetch.c: FETCH and UID FETCH (RFC 3501 6.4.5, 6.4.8, 7.4.2):
 * parsing the fetch attributes and rendering the untagged responses,
 * streaming body literals from the mapped message file in pieces so a
 * 50 MB message never sits whole in an output buffer.
 *
 * Choices, where RFC 3501 leaves room:
 * - A section that does not exist, an empty one and a partial fetch
 *   whose origin is at or past the end are all sent as "" (RFC 3501
 *   6.4.5 allows an empty string for a missing part).
 * - UID FETCH puts UID first (as Dovecot does); other items come in the
 *   order asked, each once; the FLAGS implied by an implicit \Seen come
 *   last.
 * - RFC822.SIZE is computed from the file when the file is open for this
 *   response, so it always equals the size of a BODY[] literal sent
 *   beside it; without the file it is the store's vsize (which differs
 *   only for a file whose last line has no LF: the store counts the CRLF
 *   POP3 adds, IMAP sends the file as it is).
 * - seen_changed[k] goes with idx[k] (not with msgs[idx[k]]).
 * - A file that cannot be opened or mapped counts as missing (the
 *   caller's NO covers both); cached ENVELOPE / BODYSTRUCTURE / BODY and
 *   the flags are answered without the file.
 * - After a render returns true, f is ready for another batch; the
 *   missing count keeps adding up.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "imap/imap_internal.h"
#include "store/mime.h"

enum imap_fetch_att {
	IMAP_FA_UID,
	IMAP_FA_FLAGS,
	IMAP_FA_INTERNALDATE,
	IMAP_FA_RFC822_SIZE,
	IMAP_FA_ENVELOPE,
	IMAP_FA_BODYSTRUCTURE,
	IMAP_FA_BODY,		/* non-extended BODYSTRUCTURE */
	IMAP_FA_SECTION,	/* BODY[...], BODY.PEEK[...], RFC822* */
};

/* The three cached renderings, in store_cache_get's order. */
enum imap_fetch_cached {
	IMAP_FC_ENVELOPE,
	IMAP_FC_BODYSTRUCTURE,
	IMAP_FC_BODY,
	IMAP_FC_COUNT,
};

struct imap_fetch_item {
	enum imap_fetch_att att;
	struct imap_section sec;	/* IMAP_FA_SECTION */
	const char *name;		/* response name of a section */
};

struct imap_fetch {
	struct imap_fetch_item *items;
	size_t nitems;
	bool needs_store;
	bool sets_seen;
	bool has_flags;			/* FLAGS asked */
	bool want_cache[IMAP_FC_COUNT];
	bool has_sections;
	bool needs_parse;		/* a section other than BODY[] */
	unsigned missing;

	/* Where rendering stands between calls. */
	size_t next;			/* index into idx[] */
	bool started;			/* "* n FETCH (" was written */
	size_t item;			/* next item of that response */

	/* The current message. */
	char *map;			/* the file, mapped; NULL when empty */
	size_t size;
	bool have_file;
	bool have_crlf_size;
	uint64_t crlf_size;
	struct mime_part *root;
	char *cache[IMAP_FC_COUNT];

	/* The literal being sent. */
	bool in_literal;
	const char *lit_data;		/* raw range, or tmp */
	size_t lit_len;
	bool lit_crlf;			/* LFs still to be turned into CRLF */
	struct mime_crlf_cursor cur;
	uint64_t lit_left;
	struct buf tmp;			/* HEADER.FIELDS output */
};

/* HEADER.FIELDS output bigger than this is not kept for the next
 * message. */
#define IMAP_FETCH_TMP_KEEP (64 * 1024)

static const struct {
	const char *word;
	enum imap_fetch_att att;
	/* for the RFC822 forms, the section they stand for */
	enum imap_sect_kind kind;
	bool peek;
} imap_fetch_words[] = {
	{ "UID", IMAP_FA_UID, IMAP_SECT_ALL, false },
	{ "FLAGS", IMAP_FA_FLAGS, IMAP_SECT_ALL, false },
	{ "INTERNALDATE", IMAP_FA_INTERNALDATE, IMAP_SECT_ALL, false },
	{ "RFC822.SIZE", IMAP_FA_RFC822_SIZE, IMAP_SECT_ALL, false },
	{ "ENVELOPE", IMAP_FA_ENVELOPE, IMAP_SECT_ALL, false },
	{ "BODYSTRUCTURE", IMAP_FA_BODYSTRUCTURE, IMAP_SECT_ALL, false },
	{ "BODY", IMAP_FA_BODY, IMAP_SECT_ALL, false },
	/* RFC 3501 6.4.5: RFC822 is BODY[], RFC822.HEADER is
	 * BODY.PEEK[HEADER], RFC822.TEXT is BODY[TEXT]; each answers under
	 * its own name. */
	{ "RFC822", IMAP_FA_SECTION, IMAP_SECT_ALL, false },
	{ "RFC822.HEADER", IMAP_FA_SECTION, IMAP_SECT_HEADER, true },
	{ "RFC822.TEXT", IMAP_FA_SECTION, IMAP_SECT_TEXT, false },
};

/* RFC 3501 6.4.5 macros, which may not appear in a list. */
static const struct {
	const char *word;
	enum imap_fetch_att atts[5];
	size_t count;
} imap_fetch_macros[] = {
	{ "ALL", { IMAP_FA_FLAGS, IMAP_FA_INTERNALDATE, IMAP_FA_RFC822_SIZE,
	    IMAP_FA_ENVELOPE }, 4 },
	{ "FAST", { IMAP_FA_FLAGS, IMAP_FA_INTERNALDATE,
	    IMAP_FA_RFC822_SIZE }, 3 },
	{ "FULL", { IMAP_FA_FLAGS, IMAP_FA_INTERNALDATE, IMAP_FA_RFC822_SIZE,
	    IMAP_FA_ENVELOPE, IMAP_FA_BODY }, 5 },
};

/* ---- parsing ---- */

static bool
imap_fetch_has(const struct imap_fetch *f, enum imap_fetch_att att,
    const char *name)
{
	for (size_t i = 0; i < f->nitems; i++) {
		if (f->items[i].att != att)
			continue;
		if (att != IMAP_FA_SECTION || strcmp(f->items[i].name,
		    name) == 0)
			return true;
	}
	return false;
}

/* Adds an item, taking sec; a duplicate is answered once (the first
 * place it was asked). */
static void
imap_fetch_add(struct imap_fetch *f, enum imap_fetch_att att,
    struct imap_section *sec, const char *name)
{
	struct imap_fetch_item *it;

	if (att == IMAP_FA_SECTION && !sec->peek)
		f->sets_seen = true;
	if (imap_fetch_has(f, att, name)) {
		if (sec != NULL)
			imap_section_free(sec);
		return;
	}
	f->items = xrealloc(f->items, (f->nitems + 1) * sizeof(*f->items));
	it = &f->items[f->nitems++];
	memset(it, 0, sizeof(*it));
	it->att = att;
	switch (att) {
	case IMAP_FA_UID:
	case IMAP_FA_INTERNALDATE:
	case IMAP_FA_RFC822_SIZE:
		break;
	case IMAP_FA_FLAGS:
		f->has_flags = true;
		break;
	case IMAP_FA_ENVELOPE:
		f->want_cache[IMAP_FC_ENVELOPE] = true;
		f->needs_store = true;
		break;
	case IMAP_FA_BODYSTRUCTURE:
		f->want_cache[IMAP_FC_BODYSTRUCTURE] = true;
		f->needs_store = true;
		break;
	case IMAP_FA_BODY:
		f->want_cache[IMAP_FC_BODY] = true;
		f->needs_store = true;
		break;
	case IMAP_FA_SECTION:
		it->sec = *sec;
		it->name = name;
		f->needs_store = true;
		f->has_sections = true;
		/* The message's own header and text (BODY[], RFC822,
		 * HEADER.FIELDS...) need no MIME parse: only parts do. */
		if (sec->nparts > 0)
			f->needs_parse = true;
		break;
	}
}

/* One attribute atom that is not a macro. */
static int
imap_fetch_add_atom(struct imap_fetch *f, const char *s, size_t len,
    const char **error_r)
{
	struct imap_section sec;

	for (size_t i = 0; i < ARRAY_SIZE(imap_fetch_words); i++) {
		if (!str_ieq_n(s, len, imap_fetch_words[i].word))
			continue;
		memset(&sec, 0, sizeof(sec));
		sec.kind = imap_fetch_words[i].kind;
		sec.peek = imap_fetch_words[i].peek;
		imap_fetch_add(f, imap_fetch_words[i].att, &sec,
		    imap_fetch_words[i].word);
		return 0;
	}
	if ((len >= 5 && strncasecmp(s, "BODY[", 5) == 0) ||
	    (len >= 10 && strncasecmp(s, "BODY.PEEK[", 10) == 0)) {
		if (imap_section_parse(s, len, &sec) < 0) {
			*error_r = "Invalid BODY[] section in FETCH";
			return -1;
		}
		imap_fetch_add(f, IMAP_FA_SECTION, &sec, sec.canonical);
		return 0;
	}
	*error_r = "Unknown FETCH item";
	return -1;
}

static int
imap_fetch_add_macro(struct imap_fetch *f, const char *s, size_t len)
{
	for (size_t i = 0; i < ARRAY_SIZE(imap_fetch_macros); i++) {
		if (!str_ieq_n(s, len, imap_fetch_macros[i].word))
			continue;
		for (size_t k = 0; k < imap_fetch_macros[i].count; k++)
			imap_fetch_add(f, imap_fetch_macros[i].atts[k], NULL,
			    NULL);
		return 1;
	}
	return 0;
}

static int
imap_fetch_parse_list(struct imap_fetch *f, const struct imap_arg *list,
    size_t count, const char **error_r)
{
	if (count == 0) {
		*error_r = "Empty FETCH item list";
		return -1;
	}
	for (size_t i = 0; i < count; i++) {
		const struct imap_arg *a = &list[i];

		if (a->type == IMAP_ARG_LIST) {
			*error_r = "Nested lists in FETCH items";
			return -1;
		}
		if (a->type != IMAP_ARG_ATOM) {
			*error_r = "Unknown FETCH item";
			return -1;
		}
		for (size_t k = 0; k < ARRAY_SIZE(imap_fetch_macros); k++) {
			if (str_ieq_n(a->str, a->len,
			    imap_fetch_macros[k].word)) {
				*error_r = "ALL, FAST and FULL must be alone";
				return -1;
			}
		}
		if (imap_fetch_add_atom(f, a->str, a->len, error_r) < 0)
			return -1;
	}
	return 0;
}

int
imap_fetch_parse(const struct imap_arg *args, size_t nargs, bool uid,
    struct imap_fetch **f_r, const char **error_r)
{
	struct imap_fetch *f;
	int ret;

	*f_r = NULL;
	if (nargs != 1) {
		*error_r = nargs == 0 ? "Missing FETCH items" :
		    "Expected one FETCH item or a list";
		return -1;
	}
	f = xcalloc(1, sizeof(*f));
	buf_init(&f->tmp);
	/* RFC 3501 6.4.8: UID FETCH responses always hold the UID */
	if (uid)
		imap_fetch_add(f, IMAP_FA_UID, NULL, NULL);
	if (args[0].type == IMAP_ARG_LIST) {
		ret = imap_fetch_parse_list(f, args[0].list, args[0].count,
		    error_r);
	} else if (args[0].type == IMAP_ARG_ATOM) {
		ret = 0;
		if (imap_fetch_add_macro(f, args[0].str, args[0].len) == 0)
			ret = imap_fetch_add_atom(f, args[0].str, args[0].len,
			    error_r);
	} else {
		*error_r = "Unknown FETCH item";
		ret = -1;
	}
	if (ret < 0) {
		imap_fetch_free(&f);
		return -1;
	}
	*f_r = f;
	return 0;
}

/* ---- the current message ---- */

static void
imap_fetch_msg_release(struct imap_fetch *f)
{
	if (f->map != NULL)
		munmap(f->map, f->size);
	f->map = NULL;
	f->size = 0;
	f->have_file = false;
	f->have_crlf_size = false;
	if (f->root != NULL)
		mime_free(f->root);
	f->root = NULL;
	for (size_t i = 0; i < IMAP_FC_COUNT; i++)
		xfree(f->cache[i]);
	f->in_literal = false;
	f->lit_data = NULL;
	f->lit_left = 0;
	if (f->tmp.cap > IMAP_FETCH_TMP_KEEP)
		buf_deinit(&f->tmp);
	buf_reset(&f->tmp);
	f->started = false;
	f->item = 0;
}

void
imap_fetch_free(struct imap_fetch **fp)
{
	struct imap_fetch *f = *fp;

	if (f == NULL)
		return;
	imap_fetch_msg_release(f);
	buf_deinit(&f->tmp);
	for (size_t i = 0; i < f->nitems; i++)
		imap_section_free(&f->items[i].sec);
	free(f->items);
	free(f);
	*fp = NULL;
}

bool
imap_fetch_needs_store(const struct imap_fetch *f)
{
	return f->needs_store;
}

bool
imap_fetch_sets_seen(const struct imap_fetch *f)
{
	return f->sets_seen;
}

unsigned
imap_fetch_missing(const struct imap_fetch *f)
{
	return f->missing;
}

/* Maps the message file. Maildir files are never rewritten in place
 * (only renamed or unlinked), so the mapping stays valid; the descriptor
 * is not needed once mapped. false when the file is gone or unreadable. */
static bool
imap_fetch_map(struct imap_fetch *f, struct store_mailbox *mb,
    const struct store_view *v, const struct store_imsg *m)
{
	const char *error;
	struct stat st;
	void *p;
	int fd;

	if ((fd = store_imsg_open(mb, v, m, &error)) < 0)
		return false;
	if (fstat(fd, &st) < 0 || st.st_size < 0 ||
	    (uint64_t)st.st_size > SIZE_MAX) {
		close(fd);
		return false;
	}
	f->size = (size_t)st.st_size;
	if (f->size > 0) {
		p = mmap(NULL, f->size, PROT_READ, MAP_PRIVATE, fd, 0);
		if (p == MAP_FAILED) {
			close(fd);
			f->size = 0;
			return false;
		}
		f->map = p;
	}
	close(fd);
	f->have_file = true;
	return true;
}

/* Renders the three cached items from the parse and stores them, so the
 * next FETCH of this message needs no parse. */
static void
imap_fetch_fill_cache(struct imap_fetch *f, struct store_mailbox *mb,
    const struct store_view *v, const struct store_imsg *m)
{
	struct buf b[IMAP_FC_COUNT];
	const char *error;
	bool storable = true;

	for (size_t i = 0; i < IMAP_FC_COUNT; i++)
		buf_init(&b[i]);
	mime_envelope(f->map, f->root, &b[IMAP_FC_ENVELOPE]);
	mime_bodystructure(f->map, f->root, true, &b[IMAP_FC_BODYSTRUCTURE]);
	mime_bodystructure(f->map, f->root, false, &b[IMAP_FC_BODY]);
	for (size_t i = 0; i < IMAP_FC_COUNT; i++) {
		if (b[i].data == NULL)
			buf_append(&b[i], "", 0);
		/* the index keeps text: a rendering holding a NUL (mime.c
		 * drops them, but be sure) is used, not stored */
		if (strlen(b[i].data) != b[i].len)
			storable = false;
		free(f->cache[i]);
		f->cache[i] = b[i].data;
	}
	/* The cache only saves work: failing to store it costs a parse
	 * next time, not the response. */
	if (storable)
		(void)store_cache_set(mb, v, m->uid, f->cache[IMAP_FC_ENVELOPE],
		    f->cache[IMAP_FC_BODYSTRUCTURE], f->cache[IMAP_FC_BODY],
		    &error);
}

/* Gets what the message's response needs: cached renderings, the file,
 * the MIME tree. false when the file is gone (no response). */
static bool
imap_fetch_msg_load(struct imap_fetch *f, struct store_mailbox *mb,
    const struct store_view *v, const struct store_imsg *m)
{
	const char *error;
	bool cache_miss = false, any = false;

	if (!f->needs_store)
		return true;
	for (size_t i = 0; i < IMAP_FC_COUNT; i++)
		any = any || f->want_cache[i];
	if (any) {
		/* an index error just means computing them */
		(void)store_cache_get(mb, v, m->uid,
		    &f->cache[IMAP_FC_ENVELOPE],
		    &f->cache[IMAP_FC_BODYSTRUCTURE], &f->cache[IMAP_FC_BODY],
		    &error);
		for (size_t i = 0; i < IMAP_FC_COUNT; i++) {
			if (f->want_cache[i] && f->cache[i] == NULL)
				cache_miss = true;
		}
	}
	if (!cache_miss && !f->has_sections)
		return true;
	if (!imap_fetch_map(f, mb, v, m))
		return false;
	if (cache_miss || f->needs_parse)
		f->root = mime_parse(f->map, f->size);
	if (cache_miss)
		imap_fetch_fill_cache(f, mb, v, m);
	return true;
}

static uint64_t
imap_fetch_rfc822_size(struct imap_fetch *f, const struct store_imsg *m)
{
	if (!f->have_file)
		return m->vsize;
	if (!f->have_crlf_size) {
		f->crlf_size = mime_crlf_size(f->map, f->size);
		f->have_crlf_size = true;
	}
	return f->crlf_size;
}

/* ---- sections ---- */

static enum mime_section_kind
imap_fetch_mime_kind(enum imap_sect_kind kind)
{
	switch (kind) {
	case IMAP_SECT_HEADER:
		return MIME_SECT_HEADER;
	case IMAP_SECT_HEADER_FIELDS:
		return MIME_SECT_HEADER_FIELDS;
	case IMAP_SECT_HEADER_FIELDS_NOT:
		return MIME_SECT_HEADER_FIELDS_NOT;
	case IMAP_SECT_TEXT:
		return MIME_SECT_TEXT;
	case IMAP_SECT_MIME:
		return MIME_SECT_MIME;
	case IMAP_SECT_ALL:
		break;
	}
	return MIME_SECT_ALL;
}

/* Starts "NAME {n}\r\n" (the data follows through imap_fetch_literal)
 * or writes "NAME \"\"" for an empty or missing section. */
static void
imap_fetch_section_begin(struct imap_fetch *f, const struct imap_fetch_item *it,
    struct buf *out)
{
	const struct imap_section *sec = &it->sec;
	const char *data = NULL;
	size_t off, len = 0;
	uint64_t total, skip = 0, count;
	bool exists = true, crlf = true;

	if (sec->nparts == 0 && sec->kind == IMAP_SECT_ALL) {
		data = f->map;
		len = f->size;
	} else if (sec->nparts == 0 && sec->kind != IMAP_SECT_MIME) {
		size_t hlen = mime_header_len(f->map, f->size);
		bool text = sec->kind == IMAP_SECT_TEXT;

		data = f->map != NULL ? f->map + (text ? hlen : 0) : NULL;
		len = text ? f->size - hlen : hlen;
	} else if (mime_section(f->root, sec->part, sec->nparts,
	    imap_fetch_mime_kind(sec->kind), &off, &len)) {
		data = f->map != NULL ? f->map + off : NULL;
	} else {
		exists = false;
	}
	if (exists && (sec->kind == IMAP_SECT_HEADER_FIELDS ||
	    sec->kind == IMAP_SECT_HEADER_FIELDS_NOT)) {
		buf_reset(&f->tmp);
		mime_header_fields(data, len, (const char *const *)sec->fields,
		    sec->nfields, sec->kind == IMAP_SECT_HEADER_FIELDS_NOT,
		    &f->tmp);
		data = f->tmp.data;
		len = f->tmp.len;
		crlf = false;
	}
	total = !exists ? 0 : crlf ? mime_crlf_size(data, len) : len;
	count = total;
	if (sec->partial) {
		/* RFC 3501 6.4.5: octets origin.. of the section, clipped */
		skip = sec->offset;
		count = skip >= total ? 0 : total - skip;
		if (count > sec->length)
			count = sec->length;
	}
	buf_append_str(out, it->name);
	if (count == 0) {
		buf_append(out, " \"\"", 3);
		return;
	}
	buf_printf(out, " {%llu}\r\n", (unsigned long long)count);
	f->lit_data = data;
	f->lit_len = len;
	f->lit_crlf = crlf;
	f->lit_left = count;
	if (crlf) {
		mime_crlf_seek(data, len, skip, &f->cur);
	} else {
		memset(&f->cur, 0, sizeof(f->cur));
		f->cur.off = (size_t)skip;
	}
	f->in_literal = true;
}

/* Sends literal data until it is all out (true) or out is full (out
 * held start octets when the call began: every call makes progress). */
static bool
imap_fetch_literal(struct imap_fetch *f, struct buf *out, size_t budget,
    size_t start)
{
	while (f->lit_left > 0) {
		size_t room, n;

		if (out->len >= budget && out->len > start)
			return false;
		room = out->len < budget ? budget - out->len : 64 * 1024;
		if (room > f->lit_left)
			room = (size_t)f->lit_left;
		if (f->lit_crlf) {
			n = mime_crlf_next(f->lit_data, f->lit_len, &f->cur,
			    room, out);
		} else {
			n = room;
			buf_append(out, f->lit_data + f->cur.off, n);
			f->cur.off += n;
		}
		/* the announced size was computed from the same range */
		if (n == 0)
			fatal("imap_fetch: literal shorter than announced");
		f->lit_left -= n;
	}
	f->in_literal = false;
	return true;
}

/* ---- responses ---- */

static void
imap_fetch_item_render(struct imap_fetch *f, const struct imap_fetch_item *it,
    const struct store_imsg *m, struct buf *out)
{
	char date[40];

	switch (it->att) {
	case IMAP_FA_UID:
		buf_printf(out, "UID %u", (unsigned)m->uid);
		break;
	case IMAP_FA_FLAGS:
		buf_append_str(out, "FLAGS ");
		imap_flags_format(m->flags, m->keywords, out);
		break;
	case IMAP_FA_INTERNALDATE:
		/* zone +0000: the store keeps no sender zone */
		imap_datetime_format((time_t)m->internal_date, 0, date,
		    sizeof(date));
		buf_printf(out, "INTERNALDATE \"%s\"", date);
		break;
	case IMAP_FA_RFC822_SIZE:
		buf_printf(out, "RFC822.SIZE %llu",
		    (unsigned long long)imap_fetch_rfc822_size(f, m));
		break;
	case IMAP_FA_ENVELOPE:
		buf_append_str(out, "ENVELOPE ");
		buf_append_str(out, f->cache[IMAP_FC_ENVELOPE]);
		break;
	case IMAP_FA_BODYSTRUCTURE:
		buf_append_str(out, "BODYSTRUCTURE ");
		buf_append_str(out, f->cache[IMAP_FC_BODYSTRUCTURE]);
		break;
	case IMAP_FA_BODY:
		buf_append_str(out, "BODY ");
		buf_append_str(out, f->cache[IMAP_FC_BODY]);
		break;
	case IMAP_FA_SECTION:
		imap_fetch_section_begin(f, it, out);
		break;
	}
}

/* The items of the started response from f->item on; false when out
 * filled up first. */
static bool
imap_fetch_items(struct imap_fetch *f, const struct store_imsg *m,
    bool add_flags, struct buf *out, size_t budget, size_t start)
{
	static const struct imap_fetch_item flags_item = {
		.att = IMAP_FA_FLAGS,
	};
	size_t total = f->nitems + (add_flags ? 1 : 0);

	while (f->item < total) {
		if (f->in_literal) {
			if (!imap_fetch_literal(f, out, budget, start))
				return false;
			f->item++;
			continue;
		}
		if (out->len >= budget && out->len > start)
			return false;
		if (f->item > 0)
			buf_append(out, " ", 1);
		imap_fetch_item_render(f, f->item < f->nitems ?
		    &f->items[f->item] : &flags_item, m, out);
		if (!f->in_literal)
			f->item++;
	}
	return true;
}

bool
imap_fetch_render(struct imap_fetch *f, struct store_mailbox *mb,
    const struct store_view *v, struct store_imsg *msgs, const size_t *idx,
    size_t n, const bool *seen_changed, struct buf *out, size_t budget)
{
	/* progress on every call, even with out already over budget */
	size_t start = out->len;

	while (f->next < n) {
		struct store_imsg *m = &msgs[idx[f->next]];
		bool add_flags;

		if (!f->started) {
			if (out->len >= budget && out->len > start)
				return false;
			if (!imap_fetch_msg_load(f, mb, v, m)) {
				/* RFC 2180 4.1.2: no response; NO at the end */
				imap_fetch_msg_release(f);
				f->missing++;
				f->next++;
				continue;
			}
			buf_printf(out, "* %zu FETCH (", idx[f->next] + 1);
			f->started = true;
			f->item = 0;
		}
		/* RFC 3501 6.4.5: an implicit \Seen shows in FLAGS */
		add_flags = seen_changed != NULL && seen_changed[f->next] &&
		    !f->has_flags;
		if (!imap_fetch_items(f, m, add_flags, out, budget, start))
			return false;
		buf_append(out, ")\r\n", 3);
		imap_fetch_msg_release(f);
		f->next++;
	}
	/* ready for another batch; missing keeps counting */
	f->next = 0;
	return true;
}
