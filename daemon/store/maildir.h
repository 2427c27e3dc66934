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

/* Sum of the S= sizes of the messages in the Maildir and its folders
 * (files without S= are stat'ed). 0 or -1. */
int maildir_usage(const char *maildir, uint64_t *bytes_r);

/* fsync of a directory, for callers that rename files themselves. */
int maildir_fsync_dir(const char *path);

#endif
