/*
 * imap_internal.h: the pieces of the IMAP server shared between
 * imap_server.c (sessions, commands, untagged updates), imap_fetch.c
 * (FETCH: parsing the request and rendering responses) and
 * imap_search.c (SEARCH: parsing keys and matching messages).
 *
 * Threads: a session's selected folder is an array of struct store_imsg
 * (sequence number = index + 1) owned by the session on its loop thread.
 * While a FETCH or SEARCH job runs on a worker, the session is busy and
 * does not touch the array, so the worker may read it (and FETCH may
 * update the flags of the messages it marks \Seen). Everything that
 * reads files or the index (store_*) runs on the worker.
 */
#ifndef FACTEUR_IMAP_INTERNAL_H
#define FACTEUR_IMAP_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "imap/imap_parser.h"
#include "lib/buf.h"
#include "store/mailbox.h"

/* Appends "(\Seen \Flagged kw1 kw2)" for the flags of m (\Recent
 * included when set). Implemented in imap_server.c. */
void imap_flags_format(uint8_t flags, const char *keywords, struct buf *out);

/* ---- FETCH (imap_fetch.c) ---- */

struct imap_fetch;

/*
 * Parses the fetch attributes of FETCH/UID FETCH: args[0..nargs) are what
 * follows the sequence set: one atom (ALL, FAST, FULL, FLAGS, UID,
 * ENVELOPE, BODY, BODYSTRUCTURE, INTERNALDATE, RFC822, RFC822.HEADER,
 * RFC822.SIZE, RFC822.TEXT, BODY[...]<...>, BODY.PEEK[...]<...>) or a
 * parenthesized list of them (macros only alone). uid: a UID FETCH, whose
 * responses always include UID (RFC 3501 6.4.8). 0, or -1 with a static
 * *error_r for the BAD reply.
 */
int imap_fetch_parse(const struct imap_arg *args, size_t nargs, bool uid,
    struct imap_fetch **f_r, const char **error_r);
void imap_fetch_free(struct imap_fetch **f);

/* Whether rendering needs the worker (files, index cache): false when
 * only FLAGS, UID, INTERNALDATE, RFC822.SIZE are asked, which the loop
 * renders at once. */
bool imap_fetch_needs_store(const struct imap_fetch *f);
/* Whether the request sets \Seen (BODY[...] without PEEK, RFC822,
 * RFC822.TEXT) on a read-write folder. */
bool imap_fetch_sets_seen(const struct imap_fetch *f);

/*
 * Renders "* <seq> FETCH (...)\r\n" responses for the messages at the
 * 0-based indexes idx[0..n) of msgs, appending to out. Stops once out
 * holds at least `budget` octets; a big body literal is streamed in
 * pieces across calls (the state lives in f). Returns true when all n
 * are done. Call again with the same arguments to continue. On the worker
 * (or the loop when !imap_fetch_needs_store). A message whose file is
 * gone gets no response (the caller answers NO at the end when
 * imap_fetch_missing(f) > 0, RFC 2180 4.1.2 style).
 *
 * \Seen: when imap_fetch_sets_seen and !v->readonly, the caller has
 * already stored \Seen for those messages and updated msgs[i].flags; the
 * renderer then includes FLAGS in the response of each message whose
 * \Seen it was told changed (seen_changed[i] true; may be NULL).
 */
bool imap_fetch_render(struct imap_fetch *f, struct store_mailbox *mb,
    const struct store_view *v, struct store_imsg *msgs, const size_t *idx,
    size_t n, const bool *seen_changed, struct buf *out, size_t budget);
unsigned imap_fetch_missing(const struct imap_fetch *f);

/* ---- SEARCH (imap_search.c) ---- */

struct imap_search;

/*
 * Parses SEARCH/UID SEARCH arguments (after the command name): an
 * optional "CHARSET <name>" (UTF-8 and US-ASCII accepted, others
 * STORE_INVALID-like failure with *bad_charset_r set: reply
 * NO [BADCHARSET (UTF-8 US-ASCII)]) and the search keys of RFC 3501
 * 6.4.4, ANDed. 0, or -1 with a static *error_r (BAD).
 */
int imap_search_parse(const struct imap_arg *args, size_t nargs,
    struct imap_search **s_r, bool *bad_charset_r, const char **error_r);
void imap_search_free(struct imap_search **s);

/* Whether matching needs the worker (header/body/text/date-sent keys
 * read files). */
bool imap_search_needs_store(const struct imap_search *s);

/*
 * Matches every message of msgs[0..count) (sequence number = index + 1;
 * "*" in sets is count for sequence numbers and the highest UID for UID
 * sets); sets match[i]. Reads files through store_imsg_open when needed.
 * 0, or -1 with *error_r (I/O trouble: the caller answers NO).
 */
int imap_search_run(const struct imap_search *s, struct store_mailbox *mb,
    const struct store_view *v, const struct store_imsg *msgs, size_t count,
    bool *match, const char **error_r);

#endif
