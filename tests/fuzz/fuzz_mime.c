/* fuzz_mime.c: the MIME parser and its IMAP renderings on arbitrary
 * messages, with the part ranges and output sizes checked. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "store/mime.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Every range inside its parent's, sizes as mime.h defines them. */
static void
fuzz_check(const char *d, const struct mime_part *p, size_t start,
    size_t end, unsigned depth)
{
	if (p->hdr_off != start || p->hdr_off + p->hdr_len != p->body_off ||
	    p->body_off + p->body_len != end || p->depth != depth ||
	    depth > MIME_MAX_DEPTH || p->type == NULL || p->subtype == NULL)
		abort();
	if (p->hdr_size != mime_crlf_size(d + p->hdr_off, p->hdr_len) ||
	    p->body_size != mime_crlf_size(d + p->body_off, p->body_len) ||
	    p->body_lines > p->body_len)
		abort();
	if (p->flags & MIME_PART_MESSAGE) {
		if (p->nchildren != 1)
			abort();
		fuzz_check(d, &p->children[0], p->body_off, end, depth + 1);
		return;
	}
	for (size_t i = 0, at = p->body_off; i < p->nchildren; i++) {
		const struct mime_part *c = &p->children[i];

		if (!(p->flags & MIME_PART_MULTIPART) || c->hdr_off < at)
			abort();
		fuzz_check(d, c, c->hdr_off, c->body_off + c->body_len,
		    depth + 1);
		at = c->body_off + c->body_len;
		if (at > end)
			abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const names[] = { "subject", "from", "to" };
	static const uint32_t specs[][2] = { { 1, 0 }, { 2, 0 }, { 1, 1 },
	    { 1, 2 }, { 2, 1 }, { 3, 1 } };
	const char *d = (const char *)data;
	struct mime_part *root = mime_parse(d, size);
	struct buf out;
	uint64_t total = mime_crlf_size(d, size);
	time_t t;
	size_t off, len, n;
	char needle[5] = "a";

	buf_init(&out);
	fuzz_check(d, root, 0, size, 0);
	if (root->hdr_size + root->body_size != total)
		abort();
	mime_envelope(d, root, &out);
	mime_bodystructure(d, root, true, &out);
	mime_bodystructure(d, root, false, &out);
	for (size_t i = 0; i < sizeof(specs) / sizeof(specs[0]); i++) {
		for (int k = MIME_SECT_ALL; k <= MIME_SECT_MIME; k++) {
			if (mime_section(root, specs[i], specs[i][1] ? 2 : 1,
			    (enum mime_section_kind)k, &off, &len) &&
			    (off > size || len > size - off))
				abort();
		}
	}
	if (mime_section(root, NULL, 0, MIME_SECT_HEADER, &off, &len)) {
		buf_reset(&out);
		mime_header_fields(d + off, len, names, 3, size & 1, &out);
		if (out.len < 2 || out.len > 2 * len + 2)
			abort();
	}
	buf_reset(&out);
	if (mime_header_get(d + root->hdr_off, root->hdr_len, "date", &out))
		(void)mime_parse_date(out.data, out.len, &t, NULL);
	buf_reset(&out);
	n = mime_crlf_copy(d, size, size / 3, size / 2 + 1, &out);
	if (n > size / 2 + 1 || out.len != n || (size / 3 < total &&
	    n != (total - size / 3 < size / 2 + 1 ? total - size / 3 :
	    size / 2 + 1)))
		abort();
	if (size >= 4) {
		memcpy(needle, d + size / 2 - 2, 4);
		needle[4] = '\0';
	}
	(void)mime_search_text(d, size, root, needle, MIME_SEARCH_TEXT);
	(void)mime_search_text(d, size, root, "\xc3\xa9t\xc3\xa9",
	    MIME_SEARCH_BODY);
	buf_deinit(&out);
	mime_free(root);
	return 0;
}
