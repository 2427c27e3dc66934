#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "lib/buf.h"
#include "lib/log.h"
#include "smtp/delivery.h"
#include "smtp/dkim.h"
#include "smtp/queue.h"
#include "store/maildir.h"

/* A header section larger than this is not signed (nor read whole). */
#define DELIVERY_DKIM_HEADER_MAX (1024 * 1024)

int
delivery_dkim_key_path(const char *data_dir, const char *domain, char *out,
    size_t outsize)
{
	return str_printf(out, outsize, "%s/dkim/%s.pem", data_dir, domain) <
	    0 ? -1 : 0;
}

/* The header section of the spooled message ends at its first empty
 * line; returns the body's offset (the size when there is no body). */
static uint64_t
delivery_body_offset(int fd, uint64_t size)
{
	char buf[65536];
	uint64_t off = 0;
	bool bol = true;

	/* RFC 5322 2.1: header, empty line, body. */
	while (off < size) {
		ssize_t n = pread(fd, buf, sizeof(buf), (off_t)off);

		if (n <= 0)
			return size;
		for (ssize_t i = 0; i < n; i++) {
			if (buf[i] == '\n') {
				if (bol)
					return off + (uint64_t)i + 1;
				bol = true;
			} else {
				bol = false;
			}
		}
		off += (uint64_t)n;
	}
	return size;
}

/* A DKIM-Signature for the queued copy, or NULL (not signing, no key,
 * or an error, which is logged: the message still goes, unsigned). */
static char *
delivery_dkim_sign(const struct delivery *d)
{
	char path[4096], *header, *sig;
	struct buf h;
	uint64_t off;
	const char *error;
	ssize_t n;

	if (d->dkim_domain[0] == '\0' ||
	    delivery_dkim_key_path(d->data_dir, d->dkim_domain, path,
	    sizeof(path)) < 0 || access(path, R_OK) < 0)
		return NULL;
	off = delivery_body_offset(d->body_fd, d->body_size);
	if (off > DELIVERY_DKIM_HEADER_MAX) {
		log_warn("event=dkim_sign_skipped domain=%s reason=header_size",
		    d->dkim_domain);
		return NULL;
	}
	/* Our header block, then the message's own header section. */
	buf_init(&h);
	buf_append_str(&h, d->received);
	header = xmalloc(off + 1);
	n = pread(d->body_fd, header, off, 0);
	if (n >= 0)
		buf_append(&h, header, (size_t)n);
	free(header);
	sig = dkim_sign(path, d->dkim_domain, d->dkim_selector, h.data, h.len,
	    d->body_fd, off, d->body_size - off, &error);
	if (sig == NULL)
		log_warn("event=dkim_sign_failed domain=%s error=\"%s\"",
		    d->dkim_domain, error);
	buf_deinit(&h);
	return sig;
}

void
delivery_run(struct delivery *d)
{
	struct buf header;

	buf_init(&header);
	for (unsigned i = 0; i < d->ntargets; i++) {
		const struct db_rcpt_target *t = &d->targets[i];
		struct maildir_source src;
		char dir[4096], name[256];
		const char *error;

		if (maildir_path(d->data_dir, t->address, dir,
		    sizeof(dir)) < 0) {
			d->failed = true;
			d->error = "mailbox path too long";
			break;
		}
		/* RFC 5321 4.4: Return-Path is added at final delivery. */
		buf_reset(&header);
		buf_printf(&header, "Return-Path: <%s>\nDelivered-To: %s\n%s",
		    d->return_path, t->address, d->received);
		src.header = header.data;
		src.header_len = header.len;
		src.body_fd = d->body_fd;
		src.body_size = d->body_size;
		src.body_lines = d->body_lines;
		if (maildir_deliver(dir, &src, name, sizeof(name),
		    &error) < 0) {
			log_error("event=delivery_failed mailbox=%s error=\"%s\""
			    " errno=\"%s\"", t->address, error,
			    strerror(errno));
			d->failed = true;
			d->error = error;
			break;
		}
		log_debug("event=stored mailbox=%s file=%s", t->address, name);
		d->delivered++;
	}
	buf_deinit(&header);
	if (!d->failed && d->nremote > 0) {
		const char **rcpts = xcalloc(d->nremote, sizeof(*rcpts));
		char id[DB_QUEUE_ID_MAX];
		const char *error;
		struct db *db = db_thread_get(&error);
		char *sig = delivery_dkim_sign(d);
		struct buf queued;

		buf_init(&queued);
		if (sig != NULL)
			buf_append_str(&queued, sig);
		buf_append_str(&queued, d->received);
		for (unsigned i = 0; i < d->nremote; i++)
			rcpts[i] = d->remote[i];
		if (db == NULL || queue_enqueue(db, d->data_dir, d->return_path,
		    rcpts, d->nremote, queued.data, queued.len, d->body_fd,
		    d->body_size, d->need_8bit, d->need_utf8, id,
		    &error) < 0) {
			log_error("event=enqueue_failed error=\"%s\"", error);
			d->failed = true;
			d->error = error;
		}
		buf_deinit(&queued);
		free(sig);
		free(rcpts);
	}
}

void
delivery_free(struct delivery **dp)
{
	struct delivery *d = *dp;

	if (d == NULL)
		return;
	if (d->body_fd >= 0)
		close(d->body_fd);
	free(d->return_path);
	free(d->received);
	free(d->targets);
	free(d->remote);
	free(d);
	*dp = NULL;
}

void
delivery_random(void *buf, size_t len)
{
	unsigned char *p = buf;

	while (len > 0) {
		ssize_t n = getrandom(p, len, 0);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			fatal("getrandom: %s", strerror(errno));
		}
		p += n;
		len -= (size_t)n;
	}
}
