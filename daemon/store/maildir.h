/*
 * maildir.h: Maildir message files (https://cr.yp.to/proto/maildir.html,
 * with Maildir++ folders as ".Name" directories). Only store/ touches
 * message files.
 *
 * Delivery is durable: the message is written under tmp/, fsynced,
 * renamed into new/, and new/ is fsynced, before maildir_deliver returns
 * success. A crash leaves at most a stray file in tmp/, never a partial
 * message in new/. Files hold LF line ends (as Dovecot writes them);
 * names carry ",S=<size>" (file size) and ",W=<size with CRLF>" so that
 * POP3 and IMAP sizes need no stat or read.
 *
 * Blocking: call from worker threads.
 */
#ifndef FACTEUR_MAILDIR_H
#define FACTEUR_MAILDIR_H

#include <stddef.h>
#include <stdint.h>

/* The Maildir of a mailbox: data_dir/mail/<domain>/<local part>, the
 * local part escaped so that it is one safe path component ('/', NUL,
 * a leading '.' and bytes outside [a-z0-9._+-] become %XX). 0 or -1. */
int maildir_path(const char *data_dir, const char *address, char *out,
    size_t outsize);

/* Creates the Maildir (root with tmp/ new/ cur/) and missing parents.
 * Existing directories are fine. 0 or -1 with errno. */
int maildir_create(const char *path);

/* One delivery source: a header block to put first, then the body read
 * from fd (from its start). Both use LF line ends. */
struct maildir_source {
	const char *header;
	size_t header_len;
	int body_fd;
	uint64_t body_size;
	uint64_t body_lines;	/* LF count of the body, for the W= size */
};

/* Delivers into the Maildir's new/. Writes the final file name (without
 * directory) into name_r (size >= 256). 0, or -1 with *error_r (static
 * text; errno kept). */
int maildir_deliver(const char *maildir, const struct maildir_source *src,
    char *name_r, size_t namesize, const char **error_r);

/* The two steps of maildir_deliver, for callers that choose the final
 * place (IMAP APPEND: cur/ with flags, under the index lock):
 * maildir_write_tmp writes and fsyncs tmp/<base> (base_r >= 256 bytes);
 * maildir_commit_tmp renames it to <sub>/<base><info> ("new" or "cur";
 * info such as ":2,S" or NULL) and fsyncs that directory, removing the
 * file on failure. 0, or -1 with *error_r. */
int maildir_write_tmp(const char *maildir, const struct maildir_source *src,
    char *base_r, size_t basesize, const char **error_r);
int maildir_commit_tmp(const char *maildir, const char *base,
    const char *sub, const char *info, const char **error_r);

/* A new unique base name with its S= and W= sizes. */
void maildir_unique_base(uint64_t size, uint64_t vsize, char *out,
    size_t outsize);

/* Sum of the S= sizes of the messages in the Maildir and its folders
 * (files without S= are stat'ed). 0 or -1. */
int maildir_usage(const char *maildir, uint64_t *bytes_r);

/* A read/write spool file under data_dir/tmp, unlinked (O_TMPFILE where
 * the file system has it): SMTP DATA, queued messages, IMAP literals.
 * The descriptor, or -1 with errno. */
int maildir_spool_open(const char *data_dir);

/* fsync of a directory, for callers that rename files themselves. */
int maildir_fsync_dir(const char *path);

#endif
