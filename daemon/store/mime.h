/*
 * mime.h: a tolerant MIME parser (RFC 5322, RFC 2045/2046, RFC 2047,
 * RFC 2231) and the IMAP renderings built on it (RFC 3501: ENVELOPE,
 * BODYSTRUCTURE, BODY[section], SEARCH text matching, dates).
 *
 * Pure: works on a whole message held in memory (the caller maps the
 * file), never fails on malformed input, never reads past len. Line ends
 * may be LF, CRLF or mixed. IMAP counts octets as sent, every line end
 * being CRLF, so every *_size here is the "CRLF size": the raw bytes plus
 * one for each LF not preceded by CR (within the range).
 *
 * Depends on lib/ and glibc's iconv (charset conversion to UTF-8).
 * Thread-safe: no global state.
 */
#ifndef FACTEUR_MIME_H
#define FACTEUR_MIME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "lib/buf.h"

/* Containers deeper than this are not descended into. */
#define MIME_MAX_DEPTH 20
/* Parts in one message, all levels together. */
#define MIME_MAX_PARTS 10000

/* Both values are NUL-terminated; name is lower-cased. */
struct mime_param {
	char *name;
	char *value;	/* RFC 2231 decoded and converted to UTF-8 */
};

/* What the children of a part are. */
#define MIME_PART_MULTIPART	0x01	/* children: the body parts */
#define MIME_PART_MESSAGE	0x02	/* one child: the embedded message */

struct mime_part {
	/* Raw offsets into the input. */
	size_t hdr_off, hdr_len;	/* header with its blank line, if any */
	size_t body_off, body_len;	/* multipart child: up to the line end
					 * before the next boundary line */
	uint64_t hdr_size, body_size;	/* CRLF sizes of the same ranges */
	uint64_t body_lines;		/* LFs, +1 for an unended last line */
	/* As found in the header (compare case-insensitively); default
	 * "text" "plain", or "message" "rfc822" inside multipart/digest. */
	char *type, *subtype;
	struct mime_param *params;	/* Content-Type parameters */
	size_t nparams;
	/* Trimmed, unfolded header values; NULL when absent. encoding is
	 * the Content-Transfer-Encoding token (NULL means 7bit). */
	char *id, *description, *encoding;
	char *disposition;		/* the disposition token, or NULL */
	struct mime_param *disp_params;
	size_t ndisp_params;
	char *language;			/* raw Content-Language value */
	char *location, *md5;
	struct mime_part *children;
	size_t nchildren;
	unsigned flags;			/* MIME_PART_* */
	unsigned depth;			/* 0 for the message itself */
};

/*
 * Parses data[0..len) (data may be NULL when len is 0). Never fails: a
 * multipart whose boundary is missing or never seen gets one implicit
 * text/plain child spanning its whole body, with an empty header. A
 * multipart or message/rfc822 part that is not descended into (deeper
 * than MIME_MAX_DEPTH, over MIME_MAX_PARTS, or a message/rfc822 with a
 * Content-Transfer-Encoding other than 7bit, 8bit or binary) becomes a
 * text/plain leaf, its parameters kept. The tree is the caller's; it
 * holds offsets into data, not pointers.
 */
struct mime_part *mime_parse(const char *data, size_t len);
/* The length of the message's header block with its blank line (all of
 * data when there is none), as mime_parse delimits it: for top-level
 * HEADER and TEXT sections, which need no parse. */
size_t mime_header_len(const char *data, size_t len);
void mime_free(struct mime_part *root);

/* RFC 3501 7.4.2 ENVELOPE of the message whose header is msg's (the
 * root, or the child of a message/rfc822 part), appended to out.
 * Display names are raw (RFC 2047 words not decoded, quoted strings
 * unquoted, white space collapsed); an address without a name takes the
 * last comment, as in "user@host (Name)"; a missing local part or domain
 * is written "MISSING_MAILBOX" / "MISSING_DOMAIN" (host NIL would mean a
 * group); Sender and Reply-To default to From when absent or empty. */
void mime_envelope(const char *data, const struct mime_part *msg,
    struct buf *out);
/* BODYSTRUCTURE (extended) or BODY, appended to out. Text parts always
 * show a charset ("us-ascii" added when absent), as Dovecot does. */
void mime_bodystructure(const char *data, const struct mime_part *msg,
    bool extended, struct buf *out);

/* RFC 3501 6.4.5 section specifiers. */
enum mime_section_kind {
	MIME_SECT_ALL,			/* BODY[] or BODY[1.2] */
	MIME_SECT_HEADER,
	MIME_SECT_HEADER_FIELDS,
	MIME_SECT_HEADER_FIELDS_NOT,
	MIME_SECT_TEXT,
	MIME_SECT_MIME,
};

/*
 * Finds the raw range of BODY[nums.kind] (nums[0..n) 1-based; n == 0 is
 * the message). false when it does not exist (IMAP then sends ""). For
 * HEADER_FIELDS(_NOT) the range is the header: filter it with
 * mime_header_fields. Part 1 of a non-multipart message is its body;
 * HEADER, HEADER.FIELDS and TEXT need n == 0 or a message/rfc822 part
 * (they then mean the embedded message's); MIME needs n > 0 and is the
 * part's own header (for part 1 of a non-multipart message: the message
 * header); a number after a message/rfc822 part counts the embedded
 * message's parts.
 */
bool mime_section(const struct mime_part *root, const uint32_t *nums,
    size_t n, enum mime_section_kind kind, size_t *off_r, size_t *len_r);

/* Appends the fields of hdr[0..hdr_len) whose names are (not false) or
 * are not (not true) among names[0..count) (ASCII case-insensitive),
 * with CRLF line ends and folding kept, then the blank line "\r\n".
 * Lines without a colon are not fields and never copied. */
void mime_header_fields(const char *hdr, size_t hdr_len,
    const char *const *names, size_t count, bool not, struct buf *out);

/* Appends the value of the first field called name, unfolded (line ends
 * removed), leading white space removed, RFC 2047 words decoded to UTF-8
 * (words of an unknown charset, or malformed, are kept as they are).
 * false (and nothing appended) when absent. */
bool mime_header_get(const char *hdr, size_t hdr_len, const char *name,
    struct buf *out);
/* The same without the RFC 2047 decoding (what ENVELOPE shows). */
bool mime_header_get_raw(const char *hdr, size_t hdr_len, const char *name,
    struct buf *out);

/* Calls cb for every field called name (every field when name is NULL),
 * in order, with its value unfolded and, if decode, RFC 2047-decoded; the
 * value is NUL-terminated but may hold NULs. cb returns false to stop;
 * the result is true when a cb stopped the walk. For SEARCH HEADER. */
bool mime_header_each(const char *hdr, size_t hdr_len, const char *name,
    bool decode, bool (*cb)(const char *value, size_t len, void *ctx),
    void *ctx);

/* RFC 2047: appends s[0..len) with its encoded words decoded to UTF-8. */
void mime_decode_words(const char *s, size_t len, struct buf *out);

/*
 * SEARCH BODY / TEXT: true if the UTF-8 needle occurs in the message's
 * decoded text, case-insensitively. BODY: the bodies of text/ parts (in
 * embedded messages too) after base64 / quoted-printable decoding and
 * conversion of their charset to UTF-8. TEXT: the same plus the values of
 * every header field of every part (RFC 2047-decoded). Case folding is
 * Unicode simple folding restricted to ASCII, Latin-1, Latin Extended-A,
 * Greek and Cyrillic; no normalization. Memory is O(largest part).
 * An empty needle matches.
 */
enum mime_search_where { MIME_SEARCH_BODY, MIME_SEARCH_TEXT };
bool mime_search_text(const char *data, size_t len,
    const struct mime_part *root, const char *needle,
    enum mime_search_where where);

/* The same matching on one UTF-8 string (a decoded header value, say):
 * true if needle occurs in text[0..len) with that case folding. */
bool mime_text_contains(const char *text, size_t len, const char *needle);

/* RFC 5322 3.3 date-time with the obsolete forms of 4.3 (no weekday,
 * 2- and 3-digit years, named and military zones, no seconds, comments;
 * a missing zone is taken as +0000) to UTC; *tzoff_r (may be NULL) gets
 * the zone's offset east of UTC in seconds. false if unparseable. */
bool mime_parse_date(const char *s, size_t len, time_t *t_r, int *tzoff_r);

/* CRLF size of data[0..len). */
uint64_t mime_crlf_size(const char *data, size_t len);

/*
 * Appends data[0..len) to out with every LF not preceded by CR turned
 * into CRLF, skipping the first skip octets of that converted stream and
 * appending at most max of them (BODY[]<partial>). Returns the number
 * appended. Each call scans from the start to find skip: for streaming
 * a large range in chunks, use the cursor below.
 */
size_t mime_crlf_copy(const char *data, size_t len, uint64_t skip,
    size_t max, struct buf *out);

/* A position in the converted stream of a range. */
struct mime_crlf_cursor {
	size_t off;		/* raw offset of the next byte */
	bool lf_pending;	/* the CR of a bare LF at off was sent */
	uint64_t pos;		/* converted octets before this position */
};

/* Sets *cur to converted offset skip (or the end of the range). */
void mime_crlf_seek(const char *data, size_t len, uint64_t skip,
    struct mime_crlf_cursor *cur);
/* Appends at most max converted octets from *cur on and advances it.
 * Returns the number appended (0 at the end). */
size_t mime_crlf_next(const char *data, size_t len,
    struct mime_crlf_cursor *cur, size_t max, struct buf *out);

#endif
