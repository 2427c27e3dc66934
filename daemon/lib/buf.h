/*
 * buf.h: a growable byte buffer; callers bound what they append. Depends on lib/ only.
 */
#ifndef FACTEUR_BUF_H
#define FACTEUR_BUF_H

#include <stddef.h>

#include "util.h"

struct buf {
	char *data;	/* always NUL-terminated after data[len] */
	size_t len;
	size_t cap;
};

void buf_init(struct buf *b);
void buf_deinit(struct buf *b);
void buf_reset(struct buf *b);
void buf_append(struct buf *b, const void *data, size_t len);
void buf_append_str(struct buf *b, const char *s);
void buf_printf(struct buf *b, const char *fmt, ...) ATTR_PRINTF(2, 3);
/*
 * Appends s[0..len) escaped for XML 1.0 text and attribute values
 * (& < > " ' as entities, CR as &#13;). What XML cannot carry (C0
 * controls other than tab and LF, U+FFFE, U+FFFF) and bytes that are not
 * well-formed UTF-8 become '?', so that the document stays well-formed
 * whatever the input.
 */
void buf_append_xml(struct buf *b, const char *s, size_t len);

#endif
