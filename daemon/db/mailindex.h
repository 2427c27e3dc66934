/*
 * mailindex.h: the per-mailbox message index (one SQLite file per
 * Maildir, WAL): folders with UIDVALIDITY, UIDNEXT and HIGHESTMODSEQ, and
 * per message its UID, Maildir base name, sizes, INTERNALDATE, flags,
 * keywords and MODSEQ. Only db/ includes sqlite3.h; store/mailbox.c is the
 * caller and owns the Maildir side (directory scans, files).
 *
 * One struct mailindex per thread; several (in several threads or
 * processes) may have the same file open. Every statement is prepared at
 * open. Reads outside a transaction see a consistent snapshot per call;
 * writes go between mailindex_begin (BEGIN IMMEDIATE: one writer at a
 * time, waiting up to the busy timeout) and mailindex_commit or
 * mailindex_rollback. Every call resets its statements before returning.
 *
 * Results: 0 (lookups: 1 found, 0 not found) or a negative enum
 * mailindex_status; *error_r (when given) gets a static or thread-local
 * message. All calls block: worker threads only.
 */
#ifndef FACTEUR_DB_MAILINDEX_H
#define FACTEUR_DB_MAILINDEX_H

#include <stddef.h>
#include <stdint.h>

struct mailindex;

enum mailindex_status {
	MAILINDEX_OK = 0,
	MAILINDEX_ERROR = -1,	/* I/O or SQL failure: temporary */
	MAILINDEX_BUSY = -2,	/* locked beyond the busy timeout */
	MAILINDEX_CORRUPT = -3,	/* damaged file: see mailindex_recover */
	MAILINDEX_TOO_NEW = -4,	/* schema newer than this binary */
};

#define MAILINDEX_INBOX "INBOX"

struct mailindex_folder {
	int64_t id;
	uint32_t uidvalidity;
	uint32_t uidnext;
	uint64_t highestmodseq;
};

/* A message row as the Maildir sync needs it. */
struct mailindex_msg {
	uint32_t uid;
	uint64_t size;
	uint64_t vsize;
	int64_t internal_date;
	char *base;		/* owned by the array (mailindex_msgs_free) */
};

/*
 * Opens the index at path, creating the file, the schema and the INBOX
 * folder when missing. A file that is not a database or is damaged in a
 * way seen at open is renamed aside (path.corrupt.<time>) and rebuilt,
 * with a log_warn line; its INBOX then gets a UIDVALIDITY greater than
 * the one the lost file could have held.
 */
int mailindex_open(const char *path, struct mailindex **ix_r,
    const char **error_r);
void mailindex_close(struct mailindex **ix);

/*
 * For MAILINDEX_CORRUPT from a later call: closes *ix, sets the damaged
 * file aside unless another connection already did, and reopens (*ix is
 * NULL on failure). Serialized between processes by a lock on the
 * index's directory. Folder ids change: look folders up again.
 */
int mailindex_recover(struct mailindex **ix, const char **error_r);

/* BEGIN IMMEDIATE / COMMIT / ROLLBACK. */
int mailindex_begin(struct mailindex *ix, const char **error_r);
int mailindex_commit(struct mailindex *ix, const char **error_r);
void mailindex_rollback(struct mailindex *ix);

/* Folder by name: 1 found, 0 not found, <0 error. */
int mailindex_folder_get(struct mailindex *ix, const char *name,
    struct mailindex_folder *f_r, const char **error_r);
/* Stores uidnext and highestmodseq (in a transaction). */
int mailindex_folder_update(struct mailindex *ix,
    const struct mailindex_folder *f, const char **error_r);

/* All messages of a folder in UID order; the caller frees them with
 * mailindex_msgs_free. */
int mailindex_msgs_load(struct mailindex *ix, int64_t folder_id,
    struct mailindex_msg **msgs_r, size_t *count_r, const char **error_r);
void mailindex_msgs_free(struct mailindex_msg *msgs, size_t count);

/* Base name of one message, copied into a new string (caller frees):
 * 1 found, 0 not found, <0 error. */
int mailindex_msg_base(struct mailindex *ix, int64_t folder_id,
    uint32_t uid, char **base_r, const char **error_r);

/* Inserts a message with the given modseq (in a transaction). A base or
 * UID already present is MAILINDEX_ERROR. */
int mailindex_msg_add(struct mailindex *ix, int64_t folder_id,
    const struct mailindex_msg *m, uint64_t modseq, const char **error_r);

/* Deletes a message by UID (in a transaction); a missing one is fine. */
int mailindex_msg_remove(struct mailindex *ix, int64_t folder_id,
    uint32_t uid, const char **error_r);

#endif
