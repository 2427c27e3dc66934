/*
 * delivery.h: local delivery of one received message to the mailboxes
 * its recipients resolved to. Runs on a worker thread (conn_job): for each
 * mailbox, Return-Path, Delivered-To and the Received header are put in
 * front of the spooled body and the result is written durably to the
 * mailbox's Maildir (store/maildir.h).
 */
#ifndef FACTEUR_DELIVERY_H
#define FACTEUR_DELIVERY_H

#include <stdbool.h>
#include <stdint.h>

#include "db/db.h"
#include "lib/addr.h"

struct delivery {
	/* in */
	const char *data_dir;
	int body_fd;		/* spooled body, LF line ends; closed by
				   delivery_free */
	uint64_t body_size;
	uint64_t body_lines;
	char *return_path;	/* without <>; "" for the null path */
	char *received;		/* complete Received header, LF-terminated */
	unsigned ntargets;
	struct db_rcpt_target *targets;
	/* recipients in other domains, for the outbound queue */
	unsigned nremote;
	char (*remote)[ADDR_MAX + 1];
	bool need_8bit, need_utf8;
	/* DKIM: sign the queued copy for this domain with this selector
	 * (submission only; "" not at all). */
	char dkim_domain[ADDR_DOMAIN_MAX + 1];
	const char *dkim_selector;
	/* out */
	unsigned delivered;
	bool failed;
	const char *error;	/* static text when failed */
};

/* Delivers to every target and spools the message for the remote
 * recipients (smtp/queue.h); sets delivered/failed/error. Worker thread. */
void delivery_run(struct delivery *d);
void delivery_free(struct delivery **d);

/* Path of a domain's DKIM key: DATA_DIR/dkim/DOMAIN.pem. 0 or -1. */
int delivery_dkim_key_path(const char *data_dir, const char *domain,
    char *out, size_t outsize);


/* Fills buf with random bytes (for Message-ID and queue ids). */
void delivery_random(void *buf, size_t len);

#endif
