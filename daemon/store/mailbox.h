/*
 * mailbox.h: a mailbox's message store as the read protocols (POP3 now,
 * IMAP later) see it: Maildir++ folders plus the per-mailbox index that
 * gives every message a UID.
 *
 * The index is one SQLite file per mailbox, DATA_DIR/mail/DOMAIN/USER/
 * facteur-index.sqlite (its SQL lives in db/mailindex.c; only db/ includes
 * sqlite3.h). Per folder it keeps UIDVALIDITY and UIDNEXT; per message the
 * UID, the Maildir base name (the file name without the ":2,FLAGS" info),
 * the sizes, INTERNALDATE and flags. UIDs are strictly ascending within a
 * folder and never reused within a UIDVALIDITY. A file that appears in the
 * Maildir without an index entry (delivered by SMTP, or copied in by
 * another tool) gets the next UID at the next sync, in delivery order
 * (file modification time, then name). If the index is lost, a new
 * UIDVALIDITY is chosen and UIDs are assigned afresh.
 *
 * All calls block (directory scans, SQLite, unlink): worker threads only.
 * One struct store_mailbox per session; several sessions (and delivery)
 * may work on the same mailbox at once: the index serializes writers with
 * BEGIN IMMEDIATE and a sync tolerates files vanishing under it.
 */
#ifndef FACTEUR_STORE_MAILBOX_H
#define FACTEUR_STORE_MAILBOX_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

struct store_mailbox;

struct store_msg {
	uint32_t uid;
	uint64_t size;		/* octets in the file (LF line ends) */
	uint64_t vsize;		/* octets with CRLF line ends (POP3, IMAP):
				 * size plus one per LF not after a CR */
	time_t internal_date;	/* delivery time (file mtime at first sync) */
	char *base;		/* Maildir base name, unique */
	char *path;		/* full path of the file at the sync; another
				 * session may rename it (flags, new/ ->
				 * cur/): open with store_msg_open */
};

/* Opens the store of a mailbox (its Maildir root directory), creating the
 * Maildir and the index when missing. NULL and *error_r on failure. */
struct store_mailbox *store_mailbox_open(const char *maildir,
    const char **error_r);
void store_mailbox_close(struct store_mailbox **mb);

/*
 * Brings the INBOX's index up to date with new/ and cur/ and returns its
 * messages in UID order (caller frees with store_msgs_free).
 * 0 or -1 with *error_r.
 */
int store_inbox_list(struct store_mailbox *mb, struct store_msg **msgs_r,
    unsigned *count_r, uint32_t *uidvalidity_r, const char **error_r);
void store_msgs_free(struct store_msg *msgs, unsigned count);

/* Removes messages (files and index entries) by UID from the INBOX.
 * A message already gone is not an error. uidvalidity is the one the UIDs
 * were listed under: when the index has been rebuilt since (another
 * UIDVALIDITY), nothing is removed, as the UIDs would name other
 * messages. 0 or -1 with *error_r. */
int store_inbox_expunge(struct store_mailbox *mb, uint32_t uidvalidity,
    const uint32_t *uids, unsigned count, const char **error_r);

/* Opens a listed message for reading (O_RDONLY, close-on-exec). When the
 * file was renamed since the list, finds it again in new/ or cur/ by its
 * base name and updates msg->path. Returns the descriptor, or -1 with
 * *error_r and errno (ENOENT: the message is gone). */
int store_msg_open(struct store_mailbox *mb, struct store_msg *msg,
    const char **error_r);

/*
 * ---- Folders and IMAP ----
 *
 * Folder names are UTF-8 with "/" as the hierarchy separator; "INBOX"
 * (canonical upper case) is the Maildir's root, any other folder the
 * Maildir++ directory "." + the name in modified UTF-7 with "/" turned
 * into ".": so a name may not contain "." (store_folder_valid).
 *
 * The index is authoritative for UIDs and flags; flags are mirrored in
 * the file names (":2,<letters>", S seen, R answered, F flagged,
 * T deleted, D draft; other letters are kept as found). Every change
 * (sync, flags, expunge, copy, append) happens under the index's write
 * lock and gets a new MODSEQ, so a session learns what others did by
 * asking for rows and expunges after the MODSEQ it knows. Files put in
 * new/ (SMTP delivery, other tools) are indexed and moved to cur/ by the
 * next sync; cur/ is rescanned when its mtime differs from the one the
 * index last matched (another tool renamed or removed files).
 */

#define STORE_SEP '/'
#define STORE_NAME_MAX 400	/* octets of a UTF-8 folder name */
#define STORE_FOLDERS_MAX 1000	/* folders of a mailbox (CREATE refuses) */
#define STORE_KEYWORDS_MAX 4096	/* octets of a message's keyword list */

enum store_result {
	STORE_OK = 0,
	STORE_ERROR = -1,	/* I/O or index failure (*error_r) */
	STORE_NOTFOUND = -2,	/* no such folder */
	STORE_EXISTS = -3,	/* the name is taken */
	STORE_INVALID = -4,	/* bad name, or INBOX where not allowed */
	STORE_NOSELECT = -5,	/* delete of a \Noselect name with children */
};

#define STORE_F_SEEN		0x01
#define STORE_F_ANSWERED	0x02
#define STORE_F_FLAGGED		0x04
#define STORE_F_DELETED		0x08
#define STORE_F_DRAFT		0x10
#define STORE_F_RECENT		0x20	/* this session's, never stored */
#define STORE_F_STORED		0x1f

/* A message of a selected folder. */
struct store_imsg {
	uint32_t uid;
	uint8_t flags;		/* STORE_F_* */
	uint64_t vsize;		/* RFC822.SIZE */
	int64_t internal_date;
	char *base;
	char *keywords;		/* space separated, or NULL */
};

/* A session's selected folder. */
struct store_view {
	char name[STORE_NAME_MAX + 1];
	int64_t folder_id;
	uint32_t uidvalidity;
	uint32_t uidnext;
	uint64_t modseq;	/* changes up to here are known */
	bool readonly;		/* EXAMINE: claims no \Recent */
};

/* What changed since a view's modseq. */
struct store_changes {
	struct store_imsg *added;	/* new messages, ascending UIDs */
	size_t nadded;
	struct store_imsg *updated;	/* uid, flags, keywords (no base) */
	size_t nupdated;
	uint32_t *expunged;		/* ascending */
	size_t nexpunged;
};

void store_imsgs_free(struct store_imsg *msgs, size_t count);
/* Whether a space-separated keyword list holds kw[0..len) (keywords
 * compare case-insensitively). */
bool store_keywords_has(const char *list, const char *kw, size_t len);
void store_changes_free(struct store_changes *ch);

/* Folder name checks (syntax only): STORE_OK or STORE_INVALID with a
 * reason. "inbox" in any case is INBOX: store_folder_canonical rewrites
 * it (and "inbox/x" to "INBOX/x") in place. */
int store_folder_valid(const char *name, const char **error_r);
void store_folder_canonical(char *name);

/* Creates Drafts, Sent, Trash, Junk and Archive with their special use
 * (RFC 6154) where missing, subscribed. */
int store_create_defaults(struct store_mailbox *mb, const char **error_r);

/* Syncs the folder and loads its messages; a read-write select claims
 * the messages no session has seen as \Recent (RFC 3501 2.3.2). */
int store_folder_select(struct store_mailbox *mb, const char *name,
    bool readonly, struct store_view *v, struct store_imsg **msgs_r,
    size_t *count_r, const char **error_r);
/* Syncs the folder and reports changes after v->modseq; advances v. */
int store_view_poll(struct store_mailbox *mb, struct store_view *v,
    struct store_changes *ch, const char **error_r);

enum store_flag_op { STORE_FLAGS_SET, STORE_FLAGS_ADD, STORE_FLAGS_REMOVE };
struct store_flag_result {
	uint32_t uid;
	bool gone;		/* expunged meanwhile */
	uint8_t flags;		/* stored flags after the change */
	char *keywords;
};
/* STORE: results[i] for uids[i] (caller frees with
 * store_flag_results_free). keywords: space separated or NULL.
 * STORE_INVALID when a message's keywords would pass STORE_KEYWORDS_MAX:
 * the index is left as it was (a file name already renamed for an earlier
 * message of the set is taken back by the next full sync). */
int store_flags_change(struct store_mailbox *mb, const struct store_view *v,
    const uint32_t *uids, size_t count, enum store_flag_op op, uint8_t flags,
    const char *keywords, struct store_flag_result **results_r,
    const char **error_r);
void store_flag_results_free(struct store_flag_result *r, size_t count);

/* Removes messages (files, then rows, recorded as expunged). */
int store_expunge(struct store_mailbox *mb, const struct store_view *v,
    const uint32_t *uids, size_t count, const char **error_r);

/* COPY into dest (STORE_NOTFOUND: [TRYCREATE]); new_uids[i] gets the
 * copy's UID, 0 for a message gone meanwhile. */
int store_copy(struct store_mailbox *mb, const struct store_view *v,
    const uint32_t *uids, size_t count, const char *dest,
    uint32_t *uidvalidity_r, uint32_t *new_uids, const char **error_r);

/* APPEND: the message is read from fd (len octets from offset 0, CRLF
 * or LF line ends; stored with LF) and durable before this returns. */
int store_append(struct store_mailbox *mb, const char *dest, int fd,
    uint64_t len, uint8_t flags, const char *keywords, time_t internal_date,
    uint32_t *uidvalidity_r, uint32_t *uid_r, const char **error_r);

struct store_status {
	uint32_t messages, recent, uidnext, uidvalidity, unseen;
};
int store_folder_status(struct store_mailbox *mb, const char *name,
    struct store_status *st, const char **error_r);

struct store_folder {
	char *name;
	bool noselect;		/* only implied by a child */
	bool haschildren;
	char special_use[16];
};
/* The folders in name order, with INBOX and implied parents. */
int store_folder_list(struct store_mailbox *mb, struct store_folder **list_r,
    size_t *count_r, const char **error_r);
void store_folders_free(struct store_folder *list, size_t count);
int store_subscriptions(struct store_mailbox *mb, char ***names_r,
    size_t *count_r, const char **error_r);
void store_names_free(char **names, size_t count);
int store_subscribe(struct store_mailbox *mb, const char *name, bool on,
    const char **error_r);

int store_folder_create(struct store_mailbox *mb, const char *name,
    const char **error_r);
/* A folder with children keeps them (its name becomes \Noselect). */
int store_folder_delete(struct store_mailbox *mb, const char *name,
    const char **error_r);
/* Renames with children; INBOX moves its messages to the new folder. */
int store_folder_rename(struct store_mailbox *mb, const char *from,
    const char *to, const char **error_r);

/* Opens a message of the view (read-only), following renames. */
int store_imsg_open(struct store_mailbox *mb, const struct store_view *v,
    const struct store_imsg *m, const char **error_r);

/* Cached FETCH items (see mailindex_cache_get). */
int store_cache_get(struct store_mailbox *mb, const struct store_view *v,
    uint32_t uid, char **envelope_r, char **bodystructure_r, char **body_r,
    const char **error_r);
int store_cache_set(struct store_mailbox *mb, const struct store_view *v,
    uint32_t uid, const char *envelope, const char *bodystructure,
    const char *body, const char **error_r);
/* store_cache_set writes in one transaction (holding the write lock)
 * until this commits it: call it at the end of each batch, before any
 * other store call. */
void store_cache_flush(struct store_mailbox *mb);

/* Rebuilds the index from the Maildir (every folder, full scans),
 * keeping the UIDs of files the index still knows. */
int store_reindex(struct store_mailbox *mb, const char **error_r);

#endif
