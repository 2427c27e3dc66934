/*
 * service.h: the account operations the CLI and the JSON API share: one
 * implementation of each, with its normalization, validation and (through
 * db/) its audit record. Callers set the actor with db_set_actor first.
 *
 * Results are db/ statuses (DB_OK, DB_INVALID for bad input, DB_EXISTS,
 * DB_NOT_FOUND, DB_NOT_EMPTY, DB_BUSY, DB_ERROR). On failure err->detail
 * says why and, for DB_INVALID, err->field names the input at fault
 * ("name", "address", "password", ...). Thread-safe: any thread with its
 * own struct db.
 */
#ifndef FACTEUR_SERVICE_H
#define FACTEUR_SERVICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "db/db.h"
#include "lib/config.h"

#define SERVICE_PASSWORD_MIN 8
#define SERVICE_PASSWORD_MAX 1024
/* "fct_" and 64 hex digits (32 random bytes). */
#define SERVICE_TOKEN_SECRET_LEN 68

struct service_error {
	const char *field;	/* input at fault, or NULL */
	const char *detail;
	char buf[256];		/* storage for detail when built */
};

/* Normalizes a domain name (A-labels, lower case) into out. */
int service_domain_normalize(const char *raw, char *out, size_t outsize,
    const char *field, struct service_error *err);
/* Normalizes an address (catchall: "@domain" allowed) into out. */
int service_address_normalize(const char *raw, bool catchall, char *out,
    size_t outsize, const char *field, struct service_error *err);

/* Adds a domain and makes its DKIM key (a missing key is only a warning
 * in the log: `facteur domain dkim` makes it later). name_r (size
 * ADDR_DOMAIN_MAX + 1) gets the normalized name. */
int service_domain_add(struct db *db, const struct config *cfg,
    const char *raw, char *name_r, struct service_error *err);
/* Makes the domain's DKIM key when missing; the key's path into path_r. */
int service_domain_dkim(const struct config *cfg, const char *name,
    char *path_r, size_t pathsize, struct service_error *err);
int service_domain_remove(struct db *db, const char *raw, bool force,
    struct service_error *err);

/* Checks a clear-text password's length. */
int service_password_check(const char *password, size_t len,
    struct service_error *err);
/*
 * Adds a mailbox with either a clear-text password (hashed with argon2id)
 * or a pre-hashed one (any scheme password_hash_supported accepts), and
 * creates its Maildir. address_r (size ADDR_MAX + 1) gets the
 * normalized address.
 */
int service_mailbox_add(struct db *db, const struct config *cfg,
    const char *raw, const char *password, const char *hash,
    uint64_t quota, char *address_r, struct service_error *err);
int service_mailbox_set_password(struct db *db, const char *address,
    const char *password, const char *hash, struct service_error *err);
/* Removes a mailbox and moves its Maildir to
 * data_dir/deleted/DOMAIN/LOCAL-YYYYMMDDTHHMMSSZ (UTC; ".N" appended if
 * taken); moved_r gets the new place, or "" when nothing moved. */
int service_mailbox_remove(struct db *db, const struct config *cfg,
    const char *raw, char *moved_r, size_t movedsize,
    struct service_error *err);
/*
 * Erases the Maildirs kept under data_dir/deleted/ that were removed at
 * least older_than seconds ago (by the time stamp in their name). cb (or
 * NULL) is called with each path erased. count_r gets how many.
 */
int service_deleted_purge(const struct config *cfg, int64_t older_than,
    void (*cb)(const char *path, void *ctx), void *ctx, unsigned *count_r,
    struct service_error *err);
/* Storage used by a mailbox's Maildir (0 when it has none). */
uint64_t service_mailbox_usage(const struct config *cfg,
    const char *address);
/* Sum of service_mailbox_usage over a domain's mailboxes (domain NULL:
 * every mailbox). */
int service_domain_usage(struct db *db, const struct config *cfg,
    const char *domain, uint64_t *bytes_r, struct service_error *err);

/* Adds an alias; each destination is normalized (field "destinations"). */
int service_alias_add(struct db *db, const char *raw_source,
    const char *const *raw_dest, unsigned ndest, struct service_error *err);
int service_alias_remove(struct db *db, const char *raw_source,
    struct service_error *err);
/* Replaces an existing alias's destinations (normalized as for add). */
int service_alias_update(struct db *db, const char *raw_source,
    const char *const *raw_dest, unsigned ndest, struct service_error *err);

/* ---- Outbound queue (CLI `facteur queue` and the API) ---- */
/* Queue ids: 1 to 39 lower-case hex digits. */
bool service_queue_id_valid(const char *id);
/* Every pending recipient (id NULL), or every recipient of one message;
 * DB_NOT_FOUND when that message is not queued. */
int service_queue_list(struct db *db, const char *id,
    int (*cb)(const struct db_queue_entry *e, void *ctx), void *ctx,
    struct service_error *err);
/* Makes a message's pending recipients due now (audit "queue.retry"). */
int service_queue_retry(struct db *db, const char *id,
    struct service_error *err);
/* Removes a message without a bounce, and its spool file. */
int service_queue_delete(struct db *db, const struct config *cfg,
    const char *id, struct service_error *err);

/* ---- Browser sessions of the admin API ---- */
/* Cookie value: 64 hex digits (32 random bytes). */
#define SERVICE_SESSION_SECRET_LEN 64
/*
 * Opens a session for a user whose password was checked (auth_run):
 * role "admin" or "mailbox". The cookie value (shown once; only its
 * SHA-256 is stored) into secret_r, the CSRF token into csrf_r (both
 * size > 64). Sessions end after cfg->session_idle_timeout seconds
 * without a request, and cfg->session_lifetime after sign-in.
 */
int service_session_create(struct db *db, const struct config *cfg,
    const char *role, const char *user, const char *remote,
    char *secret_r, char *csrf_r, struct db_session *s_r,
    struct service_error *err);
/* The live session of a cookie value, noting activity; DB_NOT_FOUND
 * when unknown, expired (removed then), or its user is gone or
 * disabled. */
int service_session_lookup(struct db *db, const struct config *cfg,
    const char *secret, struct db_session *s_r, struct service_error *err);
/* The end of a session as it stands (idle or absolute, the earlier). */
int64_t service_session_end(const struct config *cfg,
    const struct db_session *s);

/* ---- The HTTPS certificate, for the status page ---- */
struct service_cert {
	char subject[256];
	char issuer[256];
	int64_t not_after;	/* unix time */
	int64_t not_before;
};
int service_cert_info(const char *path, struct service_cert *c_r,
    struct service_error *err);
/*
 * Signs data with the HTTPS certificate and key (cfg->tls_cert, whose
 * further certificates are the chain, and cfg->tls_key): a CMS
 * SignedData with the content embedded, DER (RFC 5652), as a signed
 * Apple configuration profile is. *out_r is malloc'ed.
 */
int service_cms_sign(const struct config *cfg, const void *data,
    size_t len, unsigned char **out_r, size_t *len_r,
    struct service_error *err);

/* Creates an API token; the secret (shown once) into secret_r (size >
 * SERVICE_TOKEN_SECRET_LEN). ndomains > 0 restricts it to those domains
 * (normalized here, field "domains"; each must exist). */
int service_token_create(struct db *db, const char *name, const char *scope,
    int64_t expires, const char *const *domains, unsigned ndomains,
    char *secret_r, size_t secretsize, struct service_error *err);
/* SHA-256 of secret, lower-case hex, into hex_r (65 bytes). 0 or -1. */
int service_token_hash(const char *secret, size_t len, char hex_r[65]);

/* Admin names: 1 to 64 letters, digits, '-', '_', '.' (field "name").
 * Passwords are hashed with argon2id (password_init done). */
int service_admin_add(struct db *db, const char *name, const char *password,
    struct service_error *err);
int service_admin_set_password(struct db *db, const char *name,
    const char *password, struct service_error *err);
int service_admin_remove(struct db *db, const char *name,
    struct service_error *err);

#define SERVICE_INITIAL_ADMIN "admin"
#define SERVICE_INITIAL_ADMIN_FILE "initial-admin-password"
/*
 * First start: when no admin exists, creates SERVICE_INITIAL_ADMIN with a
 * generated password written (with a newline) to
 * data_dir/SERVICE_INITIAL_ADMIN_FILE, mode 0600, owned by the calling
 * user. *created_r says whether it did; path_r gets the file's path.
 */
int service_admin_initial(struct db *db, const struct config *cfg,
    bool *created_r, char *path_r, size_t pathsize,
    struct service_error *err);

#endif
