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

#endif
