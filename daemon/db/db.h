/*
 * db.h: the accounts database (SQLite, WAL): domains, mailboxes, aliases,
 * admins, API tokens, audit log. Only this module includes sqlite3.h.
 *
 * One struct db per thread (a connection is not shared between threads).
 * Every statement is prepared when the connection opens, so a typo fails
 * at start. Writes run in BEGIN IMMEDIATE; reads reset their statement
 * before returning. Names and addresses given to these functions are
 * already normalized (lib/addr.h).
 *
 * Results: 0 ok, or a negative enum db_status; *error_r (when given) gets
 * a static or thread-local message.
 */
#ifndef FACTEUR_DB_H
#define FACTEUR_DB_H

#include <stdbool.h>
#include <stdint.h>

#include "lib/addr.h"

struct db;

enum db_status {
	DB_OK = 0,
	DB_ERROR = -1,		/* I/O or SQL failure: temporary */
	DB_EXISTS = -2,
	DB_NOT_FOUND = -3,
	DB_NOT_EMPTY = -4,
	DB_BUSY = -5,		/* locked beyond the busy timeout */
	DB_INVALID = -6,	/* refused by a rule (message in error_r) */
	DB_TOO_NEW = -7,	/* schema newer than this binary */
	DB_LAST_ADMIN = -8,	/* would remove the last admin */
	DB_LIMIT = -9,		/* a domain limit (max_mailboxes) reached */
};

/* Opens (creating when create is true) the database at path, applies
 * pending migrations and prepares every statement. */
int db_open(const char *path, bool create, struct db **db_r,
    const char **error_r);
void db_close(struct db **db);

/* Per-thread connections for the daemon's worker threads: set the path
 * once at start (the database must exist and be migrated), then
 * db_thread_get opens this thread's connection on first use and closes
 * it when the thread exits. NULL and *error_r on failure. */
void db_thread_init(const char *path);
struct db *db_thread_get(const char **error_r);

/* The schema version this binary brings (number of migrations). */
int db_schema_version(void);

/* Records a change in the audit log (same transaction as the change when
 * called from the functions below; actor is set with db_set_actor). */
void db_set_actor(struct db *db, const char *actor, const char *remote);
/* Writes one audit row by itself (sign-in, sign-out, queue actions). */
int db_audit_add(struct db *db, const char *action, const char *target,
    const char *details, const char **error_r);

/* ---- Audit log, newest first ---- */
struct db_audit_entry {
	int64_t id;
	int64_t ts;
	char actor[128];
	char remote[64];
	char action[64];
	char target[ADDR_MAX + 1];
	char details[256];
};
/* Rows with id < before (0: from the newest), newest first; actor "" or
 * exact; domain "" or rows whose target is the domain or an address in
 * it. cb returns non-zero to stop. */
int db_audit_page(struct db *db, int64_t before, const char *actor,
    const char *domain, int (*cb)(const struct db_audit_entry *e,
    void *ctx), void *ctx, const char **error_r);

/* ---- Counts for the status page ---- */
struct db_counts {
	int64_t domains, mailboxes, aliases, admins, tokens, sessions;
	int64_t queue_messages, queue_recipients;	/* pending */
};
int db_counts(struct db *db, struct db_counts *c_r, const char **error_r);

/* ---- Domains ---- */
struct db_domain {
	int64_t id;
	char name[ADDR_DOMAIN_MAX + 1];
	bool enabled;
	int64_t mailboxes;
	int64_t aliases;
	int64_t created;
	uint64_t default_quota;	/* bytes for new mailboxes, 0: unlimited */
	int64_t max_mailboxes;	/* 0: unlimited */
};
int db_domain_add(struct db *db, const char *name, const char **error_r);
/* Refuses (DB_NOT_EMPTY) while mailboxes or aliases exist, unless force. */
int db_domain_remove(struct db *db, const char *name, bool force,
    const char **error_r);
int db_domain_get(struct db *db, const char *name, struct db_domain *d_r,
    const char **error_r);
int db_domain_set_enabled(struct db *db, const char *name, bool enabled,
    const char **error_r);
/* Changes the given settings (NULL: unchanged) with one audit row. */
int db_domain_update(struct db *db, const char *name, const bool *enabled,
    const uint64_t *default_quota, const int64_t *max_mailboxes,
    const char **error_r);
/* Pages: rows whose key (name, address, source) sorts after `after`
 * ("" from the start) and contains q ("" any), in key order; cb returns
 * non-zero to stop. */
int db_domain_page(struct db *db, const char *after, const char *q,
    int (*cb)(const struct db_domain *d, void *ctx), void *ctx,
    const char **error_r);
/* Calls cb for each domain by name; stops early when cb returns non-zero. */
int db_domain_list(struct db *db,
    int (*cb)(const struct db_domain *d, void *ctx), void *ctx,
    const char **error_r);

/* ---- Mailboxes ---- */
struct db_mailbox {
	int64_t id;
	char address[ADDR_MAX + 1];
	char domain[ADDR_DOMAIN_MAX + 1];
	uint64_t quota;		/* bytes, 0 = unlimited */
	bool enabled;
	bool domain_enabled;
	int64_t created;
	int64_t last_login;	/* 0 = never */
};
/* quota DB_QUOTA_DEFAULT: the domain's default_quota. DB_LIMIT when the
 * domain has max_mailboxes already. */
#define DB_QUOTA_DEFAULT UINT64_MAX
int db_mailbox_add(struct db *db, const char *address, const char *hash,
    uint64_t quota, const char **error_r);
int db_mailbox_remove(struct db *db, const char *address,
    const char **error_r);
int db_mailbox_get(struct db *db, const char *address,
    struct db_mailbox *m_r, const char **error_r);
int db_mailbox_set_password(struct db *db, const char *address,
    const char *hash, const char **error_r);
int db_mailbox_set_quota(struct db *db, const char *address,
    uint64_t quota, const char **error_r);
int db_mailbox_set_enabled(struct db *db, const char *address, bool enabled,
    const char **error_r);
/* For authentication: the stored hash (into hash_r, size hashsize) and
 * whether the mailbox and its domain are enabled. DB_OK or DB_NOT_FOUND. */
int db_mailbox_auth_get(struct db *db, const char *address, char *hash_r,
    size_t hashsize, bool *enabled_r, const char **error_r);
/* Records a successful login; new_hash (or NULL) replaces a legacy hash. */
int db_mailbox_login(struct db *db, const char *address,
    const char *new_hash, const char **error_r);
/* Per-mailbox sending limits; -1 means "the configured default". */
int db_mailbox_limits(struct db *db, const char *address,
    long long *messages_hour_r, long long *recipients_day_r,
    const char **error_r);
int db_mailbox_set_limits(struct db *db, const char *address,
    long long messages_hour, long long recipients_day, const char **error_r);
/* domain NULL: all domains. */
int db_mailbox_list(struct db *db, const char *domain,
    int (*cb)(const struct db_mailbox *m, void *ctx), void *ctx,
    const char **error_r);
int db_mailbox_page(struct db *db, const char *domain, const char *after,
    const char *q, int (*cb)(const struct db_mailbox *m, void *ctx),
    void *ctx, const char **error_r);

/* ---- Aliases ---- */
#define DB_ALIAS_MAX_DEST 64
struct db_alias {
	int64_t id;
	char source[ADDR_MAX + 1];	/* "@domain" for a catch-all */
	unsigned ndest;
	char dest[DB_ALIAS_MAX_DEST][ADDR_MAX + 1];
};
int db_alias_add(struct db *db, const char *source, const char *const *dest,
    unsigned ndest, const char **error_r);
int db_alias_remove(struct db *db, const char *source, const char **error_r);
int db_alias_list(struct db *db, const char *domain,
    int (*cb)(const struct db_alias *a, void *ctx), void *ctx,
    const char **error_r);
/* At most max aliases of a page (see db_domain_page). */
int db_alias_page(struct db *db, const char *domain, const char *after,
    const char *q, unsigned max,
    int (*cb)(const struct db_alias *a, void *ctx), void *ctx,
    const char **error_r);
/* The alias of that source (enabled or not) with its destinations. */
int db_alias_get(struct db *db, const char *source, struct db_alias *a_r,
    const char **error_r);
/* Replaces an alias's destinations. DB_NOT_FOUND if no such alias. */
int db_alias_set(struct db *db, const char *source, const char *const *dest,
    unsigned ndest, const char **error_r);

/* ---- API tokens ---- */
#define DB_TOKEN_NAME_MAX 64
#define DB_TOKEN_DOMAINS_MAX 16
struct db_token {
	int64_t id;
	char name[DB_TOKEN_NAME_MAX + 1];
	char scope[8];		/* "read" or "write" */
	int64_t created;
	int64_t expires;	/* 0 = never */
	int64_t last_used;	/* 0 = never */
	bool revoked;
	/* Restricted to domains[] (which may have become empty when its
	 * domains were removed); not restricted: every domain. */
	bool restricted;
	unsigned ndomains;
	char domains[DB_TOKEN_DOMAINS_MAX][ADDR_DOMAIN_MAX + 1];
};
/* hash: SHA-256 of the secret, lower-case hex; expires 0 = never;
 * ndomains > 0 restricts the token to those domains (each must exist:
 * DB_NOT_FOUND; at most DB_TOKEN_DOMAINS_MAX). DB_EXISTS while an
 * unrevoked token has that name. */
int db_token_add(struct db *db, const char *name, const char *hash,
    const char *scope, int64_t expires, const char *const *domains,
    unsigned ndomains, const char **error_r);
/* Finds an unrevoked, unexpired token by hash (and notes its use) with
 * its domains. DB_OK or DB_NOT_FOUND. */
int db_token_lookup(struct db *db, const char *hash, struct db_token *t_r,
    const char **error_r);
int db_token_list(struct db *db,
    int (*cb)(const struct db_token *t, void *ctx), void *ctx,
    const char **error_r);
/* Revokes the unrevoked token of that name. DB_NOT_FOUND if none. */
int db_token_revoke(struct db *db, const char *name, const char **error_r);

/* ---- Admins (the web panel's accounts) ---- */
#define DB_ADMIN_NAME_MAX 64
struct db_admin {
	int64_t id;
	char name[DB_ADMIN_NAME_MAX + 1];
	int64_t created;
	int64_t last_login;	/* 0 = never */
};
/* hash: as stored for mailboxes (auth/password.h). DB_EXISTS if taken. */
int db_admin_add(struct db *db, const char *name, const char *hash,
    const char **error_r);
/* hash_r (size hashsize) gets the stored hash unless NULL. */
int db_admin_get(struct db *db, const char *name, struct db_admin *a_r,
    char *hash_r, size_t hashsize, const char **error_r);
int db_admin_list(struct db *db,
    int (*cb)(const struct db_admin *a, void *ctx), void *ctx,
    const char **error_r);
/* DB_LAST_ADMIN rather than remove the only admin. */
int db_admin_remove(struct db *db, const char *name, const char **error_r);
/* Records a successful sign-in; new_hash (or NULL) replaces the hash. */
int db_admin_login(struct db *db, const char *name, const char *new_hash,
    const char **error_r);
int db_admin_set_password(struct db *db, const char *name, const char *hash,
    const char **error_r);

/* ---- Browser sessions of the admin API ---- */
#define DB_SESSION_HASH_LEN 64		/* SHA-256, hex */
#define DB_SESSION_CSRF_LEN 64
struct db_session {
	int64_t id;
	char role[8];			/* "admin" or "mailbox" */
	char user[ADDR_MAX + 1];	/* admin name or mailbox address */
	char csrf[DB_SESSION_CSRF_LEN + 1];
	int64_t created;
	int64_t last_seen;
	int64_t expires;		/* absolute end */
};
/* id_r gets the new session's id. */
int db_session_add(struct db *db, const char *hash, const char *role,
    const char *user, const char *csrf, const char *remote, int64_t now,
    int64_t expires, int64_t *id_r, const char **error_r);
/* By the hash of the cookie value. DB_OK or DB_NOT_FOUND. */
int db_session_get(struct db *db, const char *hash, struct db_session *s_r,
    const char **error_r);
/* Best effort: notes activity (the idle timeout restarts). */
void db_session_touch(struct db *db, int64_t id, int64_t now);
int db_session_remove(struct db *db, int64_t id, const char **error_r);
/* Removes the user's other sessions (keep: an id to spare, or 0). */
int db_session_remove_user(struct db *db, const char *role,
    const char *user, int64_t keep, const char **error_r);
/* Removes sessions past their end or idle since before idle_before. */
int db_session_expire(struct db *db, int64_t now, int64_t idle_before,
    const char **error_r);

/*
 * Submission (RFC 6409 6.1): may the authenticated mailbox use sender as
 * its MAIL FROM? It may when sender is the mailbox itself, one of its
 * +tag addresses, or an alias (or +tag of one) that lists the mailbox
 * among its destinations. Catch-alls do not count. Sets *owned_r.
 */
int db_sender_owned(struct db *db, const char *mailbox, const char *sender,
    bool *owned_r, const char **error_r);

/* ---- Outbound queue ---- */

#define DB_QUEUE_ID_MAX 40

struct db_queue_entry {
	char id[DB_QUEUE_ID_MAX];
	char sender[ADDR_MAX + 1];
	char rcpt[ADDR_MAX + 1];
	char domain[ADDR_DOMAIN_MAX + 1];
	char status[8];		/* "pending", "sent", "failed", "bounced" */
	int attempts;
	long long next_attempt;
	long long created;
	long long size;
	bool need_8bit, need_utf8;
	char last_error[512];
};

/* Adds a spooled message and its recipients (domains taken from the
 * addresses), all due now, in one transaction. */
int db_queue_add(struct db *db, const char *id, const char *sender,
    long long size, bool need_8bit, bool need_utf8,
    const char *const *rcpts, unsigned nrcpts, const char **error_r);
/* Pending recipients due at now (at most max), oldest first; with id,
 * all recipients of that message (any status). cb returns non-zero to
 * stop. */
int db_queue_scan(struct db *db, const char *id, long long now,
    unsigned max, int (*cb)(const struct db_queue_entry *e, void *ctx),
    void *ctx, const char **error_r);
/* Records the outcome of an attempt for one recipient. */
int db_queue_set(struct db *db, const char *id, const char *rcpt,
    const char *status, int attempts, long long next_attempt,
    const char *last_error, const char **error_r);
/* Marks a failed recipient as bounced (its DSN is sent). */
int db_queue_mark_bounced(struct db *db, const char *id, const char *rcpt,
    const char **error_r);
/* Pending recipients left for a message. */
int db_queue_pending(struct db *db, const char *id, long long *count_r,
    const char **error_r);
/* Makes a message's pending recipients due now. DB_NOT_FOUND if none. */
int db_queue_retry(struct db *db, const char *id, const char **error_r);
/* Removes a message and its recipients (the caller removes the file). */
int db_queue_delete(struct db *db, const char *id, const char **error_r);

/* ---- Recipient resolution (RCPT TO) ---- */

enum db_rcpt_status {
	DB_RCPT_LOCAL = 0,	/* targets[] holds the mailboxes and
				   external[] the addresses aliases forward
				   to (at least one is not empty) */
	DB_RCPT_NOT_HOSTED,	/* the domain is not ours: relaying */
	DB_RCPT_UNKNOWN,	/* no such mailbox, alias or catch-all */
	DB_RCPT_DISABLED,	/* mailbox or domain disabled */
	DB_RCPT_LOOP,		/* alias expansion loops or is too deep */
};

#define DB_RCPT_MAX_TARGETS 64

struct db_rcpt_target {
	char address[ADDR_MAX + 1];	/* mailbox address */
	char domain[ADDR_DOMAIN_MAX + 1];
	uint64_t quota;
};

struct db_rcpt {
	enum db_rcpt_status status;
	unsigned ntargets;
	struct db_rcpt_target targets[DB_RCPT_MAX_TARGETS];
	unsigned nexternal;
	char external[DB_RCPT_MAX_TARGETS][ADDR_MAX + 1];
};

/*
 * Resolves a normalized address: aliases first (as Postfix's virtual
 * alias maps), then the mailbox, then the address without its +tag
 * (alias, mailbox), then the domain's catch-all. Aliases expand
 * recursively (depth 8); a destination that names an address already
 * being expanded delivers to its mailbox if there is one, else it is a
 * loop. Targets are de-duplicated.
 */
int db_rcpt_resolve(struct db *db, const char *address, struct db_rcpt *r,
    const char **error_r);

#endif
