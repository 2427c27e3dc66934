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

#include <stdbool.h>
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
	char name[512];		/* UTF-8, '/' separated */
	char special_use[16];	/* "\\Sent"..., or "" */
	uint32_t uidvalidity;
	uint32_t uidnext;
	uint64_t highestmodseq;
	uint32_t recent_uid;	/* messages from here on are \\Recent */
	int64_t cur_mtime;	/* cur/ mtime (ns) the index last matched */
};

/* A message row. */
struct mailindex_msg {
	uint32_t uid;
	uint64_t size;
	uint64_t vsize;
	int64_t internal_date;
	uint64_t modseq;
	char flags[8];		/* Maildir info letters, sorted: "DFRST" */
	char *base;		/* owned by the array (mailindex_msgs_free) */
	char *keywords;		/* space separated, or NULL */
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

/* Whether a call on this handle failed with MAILINDEX_CORRUPT (callers
 * that only see -1 decide on mailindex_recover with it). */
bool mailindex_is_corrupt(const struct mailindex *ix);

/* BEGIN IMMEDIATE / COMMIT / ROLLBACK. */
int mailindex_begin(struct mailindex *ix, const char **error_r);
int mailindex_commit(struct mailindex *ix, const char **error_r);
void mailindex_rollback(struct mailindex *ix);

/* Folder by name: 1 found, 0 not found, <0 error. */
int mailindex_folder_get(struct mailindex *ix, const char *name,
    struct mailindex_folder *f_r, const char **error_r);
/* Stores uidnext, highestmodseq, recent_uid and cur_mtime (in a
 * transaction). */
int mailindex_folder_update(struct mailindex *ix,
    const struct mailindex_folder *f, const char **error_r);
/* Creates a folder row with a fresh UIDVALIDITY, greater than any this
 * index gave before (in a transaction); special_use may be NULL. */
int mailindex_folder_add(struct mailindex *ix, const char *name,
    const char *special_use, struct mailindex_folder *f_r,
    const char **error_r);
/* Deletes a folder row and its messages (in a transaction). */
int mailindex_folder_remove(struct mailindex *ix, int64_t id,
    const char **error_r);
/* Renames a folder and its children, and their subscriptions (in a
 * transaction). */
int mailindex_folder_rename(struct mailindex *ix, const char *from,
    const char *to, const char **error_r);
/* Every folder row, by name; caller frees the array. */
int mailindex_folders_list(struct mailindex *ix,
    struct mailindex_folder **list_r, size_t *count_r, const char **error_r);
/* STATUS counts: messages, unseen (no S flag), recent. */
int mailindex_folder_counts(struct mailindex *ix,
    const struct mailindex_folder *f, uint32_t *messages_r,
    uint32_t *unseen_r, uint32_t *recent_r, const char **error_r);

/* All messages of a folder in UID order; the caller frees them with
 * mailindex_msgs_free. */
int mailindex_msgs_load(struct mailindex *ix, int64_t folder_id,
    struct mailindex_msg **msgs_r, size_t *count_r, const char **error_r);
/* Messages added or changed after modseq, in UID order. */
int mailindex_msgs_changed(struct mailindex *ix, int64_t folder_id,
    uint64_t modseq, struct mailindex_msg **msgs_r, size_t *count_r,
    const char **error_r);
void mailindex_msgs_free(struct mailindex_msg *msgs, size_t count);
/* UIDs expunged after modseq, ascending; caller frees. */
int mailindex_expunged_since(struct mailindex *ix, int64_t folder_id,
    uint64_t modseq, uint32_t **uids_r, size_t *count_r,
    const char **error_r);

/* One message by UID or by base name: 1 found (fill *m_r, free it with
 * mailindex_msg_clear), 0 not found, <0 error. */
int mailindex_msg_get(struct mailindex *ix, int64_t folder_id,
    uint32_t uid, struct mailindex_msg *m_r, const char **error_r);
int mailindex_msg_by_base(struct mailindex *ix, int64_t folder_id,
    const char *base, struct mailindex_msg *m_r, const char **error_r);
void mailindex_msg_clear(struct mailindex_msg *m);

/* Inserts a message with its modseq, flags and keywords (in a
 * transaction). A base or UID already present is MAILINDEX_ERROR. */
int mailindex_msg_add(struct mailindex *ix, int64_t folder_id,
    const struct mailindex_msg *m, const char **error_r);
/* Deletes a message by UID and records the expunge at modseq (in a
 * transaction); a missing one is fine. */
int mailindex_msg_remove(struct mailindex *ix, int64_t folder_id,
    uint32_t uid, uint64_t modseq, const char **error_r);
/* Sets flags, keywords (NULL: none) and modseq (in a transaction). */
int mailindex_msg_set_flags(struct mailindex *ix, int64_t folder_id,
    uint32_t uid, const char *flags, const char *keywords, uint64_t modseq,
    const char **error_r);

/* Cached IMAP FETCH items: 1 and malloc'ed strings (NULL when not
 * cached), 0 when the message is gone, <0 error. */
int mailindex_cache_get(struct mailindex *ix, int64_t folder_id,
    uint32_t uid, char **envelope_r, char **bodystructure_r, char **body_r,
    const char **error_r);
int mailindex_cache_set(struct mailindex *ix, int64_t folder_id,
    uint32_t uid, const char *envelope, const char *bodystructure,
    const char *body, const char **error_r);

/* Subscriptions (names need not exist). */
int mailindex_subscribe(struct mailindex *ix, const char *name, int on,
    const char **error_r);
int mailindex_subscriptions(struct mailindex *ix, char ***names_r,
    size_t *count_r, const char **error_r);

#endif
