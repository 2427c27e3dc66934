/*
 * queue.h: the outbound queue. Messages for other domains (submission,
 * forwarding aliases, bounces) are spooled durably (DATA_DIR/queue/ID,
 * fsynced and renamed, plus rows in the accounts database committed)
 * before the SMTP 250, then delivered by the queue runner: a thread that
 * wakes every second (or when told), picks due recipients grouped by
 * message and destination domain, and hands each group to a delivery
 * thread (MX lookup through dns/, transfer through smtp/client.c).
 *
 * Results: 2xx sent; 5xx, permanent DNS failures and expiry
 * (queue_lifetime) failed, with a delivery status notification (RFC 3464)
 * to the sender unless the reverse-path is empty; 4xx and connection
 * failures retried after queue_retry_initial seconds, doubling up to
 * queue_retry_max. The spool file and rows go when no recipient is left.
 * After a crash, rows of recipients whose attempt was under way are still
 * pending and are tried again: a recipient may get a message twice, never
 * zero times (RFC 5321 6.1 prefers duplicates to loss).
 */
#ifndef FACTEUR_QUEUE_H
#define FACTEUR_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "db/db.h"
#include "lib/config.h"

/* Starts the runner and its delivery threads. Call after the accounts
 * database is ready (db_thread_init). */
void queue_start(const struct config *cfg);
/* Stops taking new work, waits for the deliveries under way, joins. */
void queue_stop(void);
/* Tells the runner to look now (after an enqueue or `queue retry`). */
void queue_wake(void);

/*
 * Spools a message: header (may be empty) then body_size octets of
 * body_fd from its start, LF line ends. Blocking (fsync): worker threads
 * only. Writes the queue id into id_r (DB_QUEUE_ID_MAX). 0 or -1 with
 * *error_r.
 */
int queue_enqueue(struct db *db, const char *data_dir, const char *sender,
    const char *const *rcpts, unsigned nrcpts, const char *header,
    size_t header_len, int body_fd, uint64_t body_size, bool need_8bit,
    bool need_utf8, char *id_r, const char **error_r);

/* Path of a spooled message. 0 or -1 when too long. */
int queue_spool_path(const char *data_dir, const char *id, char *out,
    size_t outsize);

#endif
