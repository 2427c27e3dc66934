#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#include "db/db.h"
#include "lib/log.h"
#include "lib/util.h"

extern const char *const db_migrations[];
extern const size_t db_migrations_count;

#define DB_BUSY_TIMEOUT_MS 5000
#define DB_ALIAS_DEPTH 8

enum db_stmt_id {
	ST_BEGIN, ST_COMMIT, ST_ROLLBACK, ST_AUDIT,
	ST_DOMAIN_ADD, ST_DOMAIN_GET, ST_DOMAIN_LIST, ST_DOMAIN_DEL,
	ST_DOMAIN_SET_ENABLED, ST_DOMAIN_DEL_MAILBOXES,
	ST_DOMAIN_DEL_ALIASES,
	ST_MAILBOX_ADD, ST_MAILBOX_GET, ST_MAILBOX_DEL, ST_MAILBOX_SET_PW,
	ST_MAILBOX_SET_QUOTA, ST_MAILBOX_SET_ENABLED, ST_MAILBOX_LIST,
	ST_MAILBOX_LIST_ALL, ST_MAILBOX_AUTH, ST_MAILBOX_LOGIN,
	ST_MAILBOX_LOGIN_REHASH, ST_MAILBOX_LIMITS, ST_MAILBOX_SET_LIMITS,
	ST_QUEUE_ADD, ST_QUEUE_RCPT_ADD, ST_QUEUE_DUE, ST_QUEUE_MSG,
	ST_QUEUE_SET, ST_QUEUE_PENDING, ST_QUEUE_RETRY, ST_QUEUE_DEL,
	ST_QUEUE_BOUNCED,
	ST_ALIAS_ADD, ST_ALIAS_DEST_ADD, ST_ALIAS_GET, ST_ALIAS_DEL,
	ST_ALIAS_LIST, ST_ALIAS_LIST_ALL, ST_ALIAS_DESTS,
	ST_TOKEN_ADD, ST_TOKEN_ACTIVE, ST_TOKEN_LOOKUP, ST_TOKEN_USED,
	ST_TOKEN_LIST, ST_TOKEN_REVOKE, ST_TOKEN_DOMAIN_ADD, ST_TOKEN_DOMAINS,
	ST_ADMIN_ADD, ST_ADMIN_GET, ST_ADMIN_LIST, ST_ADMIN_DEL,
	ST_ADMIN_SET_PW, ST_ADMIN_LOGIN, ST_ADMIN_LOGIN_REHASH, ST_ADMIN_COUNT,
	ST_DOMAIN_UPDATE, ST_DOMAIN_PAGE, ST_MAILBOX_PAGE, ST_ALIAS_PAGE,
	ST_ALIAS_ID_ANY, ST_ALIAS_DESTS_DEL, ST_AUDIT_PAGE, ST_COUNTS,
	ST_SESSION_ADD, ST_SESSION_GET, ST_SESSION_TOUCH, ST_SESSION_DEL,
	ST_SESSION_DEL_USER, ST_SESSION_EXPIRE,
	ST_COUNT
};

static const char *const db_sql[ST_COUNT] = {
	[ST_BEGIN] = "BEGIN IMMEDIATE",
	[ST_COMMIT] = "COMMIT",
	[ST_ROLLBACK] = "ROLLBACK",
	[ST_AUDIT] = "INSERT INTO audit_log (ts, actor, remote, action, "
	    "target, details) VALUES (?, ?, ?, ?, ?, ?)",
	[ST_DOMAIN_ADD] = "INSERT INTO domains (name, created) VALUES (?, ?)",
	[ST_DOMAIN_GET] = "SELECT id, name, enabled, created, "
	    "(SELECT count(*) FROM mailboxes WHERE domain_id = d.id), "
	    "(SELECT count(*) FROM aliases WHERE domain_id = d.id), "
	    "default_quota, max_mailboxes "
	    "FROM domains d WHERE name = ?",
	[ST_DOMAIN_LIST] = "SELECT id, name, enabled, created, "
	    "(SELECT count(*) FROM mailboxes WHERE domain_id = d.id), "
	    "(SELECT count(*) FROM aliases WHERE domain_id = d.id), "
	    "default_quota, max_mailboxes "
	    "FROM domains d ORDER BY name",
	[ST_DOMAIN_PAGE] = "SELECT id, name, enabled, created, "
	    "(SELECT count(*) FROM mailboxes WHERE domain_id = d.id), "
	    "(SELECT count(*) FROM aliases WHERE domain_id = d.id), "
	    "default_quota, max_mailboxes "
	    "FROM domains d WHERE name > ?1 AND "
	    "(?2 = '' OR instr(name, ?2) > 0) ORDER BY name",
	[ST_DOMAIN_UPDATE] = "UPDATE domains SET enabled = "
	    "coalesce(?1, enabled), default_quota = coalesce(?2, "
	    "default_quota), max_mailboxes = coalesce(?3, max_mailboxes) "
	    "WHERE name = ?4",
	[ST_DOMAIN_DEL] = "DELETE FROM domains WHERE id = ?",
	[ST_DOMAIN_SET_ENABLED] = "UPDATE domains SET enabled = ? "
	    "WHERE name = ?",
	[ST_DOMAIN_DEL_MAILBOXES] = "DELETE FROM mailboxes WHERE domain_id = ?",
	[ST_DOMAIN_DEL_ALIASES] = "DELETE FROM aliases WHERE domain_id = ?",
	[ST_MAILBOX_ADD] = "INSERT INTO mailboxes (domain_id, address, "
	    "password_hash, quota, created) VALUES (?, ?, ?, ?, ?)",
	[ST_MAILBOX_GET] = "SELECT m.id, m.address, d.name, m.quota, "
	    "m.enabled, d.enabled, m.created, coalesce(m.last_login, 0) "
	    "FROM mailboxes m JOIN domains d ON d.id = m.domain_id "
	    "WHERE m.address = ?",
	[ST_MAILBOX_DEL] = "DELETE FROM mailboxes WHERE address = ?",
	[ST_MAILBOX_SET_PW] = "UPDATE mailboxes SET password_hash = ? "
	    "WHERE address = ?",
	[ST_MAILBOX_SET_QUOTA] = "UPDATE mailboxes SET quota = ? "
	    "WHERE address = ?",
	[ST_MAILBOX_SET_ENABLED] = "UPDATE mailboxes SET enabled = ? "
	    "WHERE address = ?",
	[ST_MAILBOX_LIST] = "SELECT m.id, m.address, d.name, m.quota, "
	    "m.enabled, d.enabled, m.created, coalesce(m.last_login, 0) "
	    "FROM mailboxes m JOIN domains d ON d.id = m.domain_id "
	    "WHERE d.name = ? ORDER BY m.address",
	[ST_MAILBOX_PAGE] = "SELECT m.id, m.address, d.name, m.quota, "
	    "m.enabled, d.enabled, m.created, coalesce(m.last_login, 0) "
	    "FROM mailboxes m JOIN domains d ON d.id = m.domain_id "
	    "WHERE d.name = ?1 AND m.address > ?2 AND "
	    "(?3 = '' OR instr(m.address, ?3) > 0) ORDER BY m.address",
	[ST_MAILBOX_LIST_ALL] = "SELECT m.id, m.address, d.name, m.quota, "
	    "m.enabled, d.enabled, m.created, coalesce(m.last_login, 0) "
	    "FROM mailboxes m JOIN domains d ON d.id = m.domain_id "
	    "ORDER BY d.name, m.address",
	[ST_MAILBOX_AUTH] = "SELECT m.password_hash, m.enabled AND d.enabled "
	    "FROM mailboxes m JOIN domains d ON d.id = m.domain_id "
	    "WHERE m.address = ?",
	[ST_MAILBOX_LOGIN] = "UPDATE mailboxes SET last_login = ? "
	    "WHERE address = ?",
	[ST_MAILBOX_LOGIN_REHASH] = "UPDATE mailboxes SET last_login = ?, "
	    "password_hash = ? WHERE address = ?",
	[ST_MAILBOX_LIMITS] = "SELECT coalesce(send_limit_hour, -1), "
	    "coalesce(rcpt_limit_day, -1) FROM mailboxes WHERE address = ?",
	[ST_MAILBOX_SET_LIMITS] = "UPDATE mailboxes SET send_limit_hour = "
	    "nullif(?, -1), rcpt_limit_day = nullif(?, -1) WHERE address = ?",
	[ST_QUEUE_ADD] = "INSERT INTO queue (id, sender, size, need_8bit, "
	    "need_utf8, created) VALUES (?, ?, ?, ?, ?, ?)",
	[ST_QUEUE_RCPT_ADD] = "INSERT OR IGNORE INTO queue_rcpts (queue_id, "
	    "rcpt, domain, next_attempt) VALUES (?, ?, ?, ?)",
	[ST_QUEUE_DUE] = "SELECT q.id, q.sender, r.rcpt, r.domain, r.status, "
	    "r.attempts, r.next_attempt, q.created, q.size, q.need_8bit, "
	    "q.need_utf8, r.last_error FROM queue_rcpts r JOIN queue q ON "
	    "q.id = r.queue_id WHERE r.status = 'pending' AND "
	    "r.next_attempt <= ? ORDER BY q.created, q.id, r.domain LIMIT ?",
	[ST_QUEUE_MSG] = "SELECT q.id, q.sender, r.rcpt, r.domain, r.status, "
	    "r.attempts, r.next_attempt, q.created, q.size, q.need_8bit, "
	    "q.need_utf8, r.last_error FROM queue_rcpts r JOIN queue q ON "
	    "q.id = r.queue_id WHERE q.id = ? ORDER BY r.domain, r.rcpt",
	[ST_QUEUE_SET] = "UPDATE queue_rcpts SET status = ?, attempts = ?, "
	    "next_attempt = ?, last_error = ? WHERE queue_id = ? AND rcpt = ?",
	[ST_QUEUE_PENDING] = "SELECT count(*) FROM queue_rcpts WHERE "
	    "queue_id = ? AND status = 'pending'",
	[ST_QUEUE_RETRY] = "UPDATE queue_rcpts SET next_attempt = 0 WHERE "
	    "queue_id = ? AND status = 'pending'",
	[ST_QUEUE_DEL] = "DELETE FROM queue WHERE id = ?",
	[ST_QUEUE_BOUNCED] = "UPDATE queue_rcpts SET status = 'bounced' "
	    "WHERE queue_id = ? AND rcpt = ? AND status = 'failed'",
	[ST_ALIAS_ADD] = "INSERT INTO aliases (domain_id, source, created) "
	    "VALUES (?, ?, ?)",
	[ST_ALIAS_DEST_ADD] = "INSERT OR IGNORE INTO alias_destinations "
	    "(alias_id, destination) VALUES (?, ?)",
	[ST_ALIAS_GET] = "SELECT id FROM aliases WHERE source = ? "
	    "AND enabled = 1",
	[ST_ALIAS_DEL] = "DELETE FROM aliases WHERE source = ?",
	[ST_ALIAS_LIST] = "SELECT a.id, a.source FROM aliases a "
	    "JOIN domains d ON d.id = a.domain_id WHERE d.name = ? "
	    "ORDER BY a.source",
	[ST_ALIAS_PAGE] = "SELECT a.id, a.source FROM aliases a "
	    "JOIN domains d ON d.id = a.domain_id WHERE d.name = ?1 AND "
	    "a.source > ?2 AND (?3 = '' OR instr(a.source, ?3) > 0) "
	    "ORDER BY a.source LIMIT ?4",
	[ST_ALIAS_ID_ANY] = "SELECT id FROM aliases WHERE source = ?",
	[ST_ALIAS_DESTS_DEL] = "DELETE FROM alias_destinations "
	    "WHERE alias_id = ?",
	[ST_ALIAS_LIST_ALL] = "SELECT a.id, a.source FROM aliases a "
	    "JOIN domains d ON d.id = a.domain_id ORDER BY d.name, a.source",
	[ST_ALIAS_DESTS] = "SELECT destination FROM alias_destinations "
	    "WHERE alias_id = ? ORDER BY destination",
	[ST_TOKEN_ADD] = "INSERT INTO api_tokens (name, token_hash, scope, "
	    "created, expires, restricted) VALUES (?, ?, ?, ?, nullif(?, 0), "
	    "?)",
	[ST_TOKEN_DOMAIN_ADD] = "INSERT OR IGNORE INTO api_token_domains "
	    "(token_id, domain_id) SELECT ?, id FROM domains WHERE name = ?",
	[ST_TOKEN_DOMAINS] = "SELECT d.name FROM api_token_domains t "
	    "JOIN domains d ON d.id = t.domain_id WHERE t.token_id = ? "
	    "ORDER BY d.name",
	[ST_TOKEN_ACTIVE] = "SELECT count(*) FROM api_tokens WHERE name = ? "
	    "AND revoked = 0",
	[ST_TOKEN_LOOKUP] = "SELECT id, name, scope, created, "
	    "coalesce(expires, 0), coalesce(last_used, 0), revoked, "
	    "restricted FROM api_tokens WHERE token_hash = ? AND "
	    "revoked = 0 AND (expires IS NULL OR expires > ?)",
	[ST_TOKEN_USED] = "UPDATE api_tokens SET last_used = ? WHERE id = ?",
	[ST_TOKEN_LIST] = "SELECT id, name, scope, created, "
	    "coalesce(expires, 0), coalesce(last_used, 0), revoked, "
	    "restricted FROM api_tokens ORDER BY name, id",
	[ST_TOKEN_REVOKE] = "UPDATE api_tokens SET revoked = 1 "
	    "WHERE name = ? AND revoked = 0",
	[ST_ADMIN_ADD] = "INSERT INTO admins (username, password_hash, "
	    "created) VALUES (?, ?, ?)",
	[ST_ADMIN_GET] = "SELECT id, username, created, "
	    "coalesce(last_login, 0), password_hash FROM admins "
	    "WHERE username = ?",
	[ST_ADMIN_LIST] = "SELECT id, username, created, "
	    "coalesce(last_login, 0), '' FROM admins ORDER BY username",
	[ST_ADMIN_DEL] = "DELETE FROM admins WHERE username = ?",
	[ST_ADMIN_SET_PW] = "UPDATE admins SET password_hash = ? "
	    "WHERE username = ?",
	[ST_ADMIN_LOGIN] = "UPDATE admins SET last_login = ? "
	    "WHERE username = ?",
	[ST_ADMIN_LOGIN_REHASH] = "UPDATE admins SET last_login = ?, "
	    "password_hash = ? WHERE username = ?",
	[ST_ADMIN_COUNT] = "SELECT count(*) FROM admins",
	[ST_AUDIT_PAGE] = "SELECT id, ts, actor, remote, action, target, "
	    "details FROM audit_log WHERE (?1 = 0 OR id < ?1) AND "
	    "(?2 = '' OR actor = ?2) AND (?3 = '' OR target = ?3 OR "
	    "substr(target, -length(?3) - 1) = '@' || ?3) ORDER BY id DESC",
	[ST_COUNTS] = "SELECT (SELECT count(*) FROM domains), "
	    "(SELECT count(*) FROM mailboxes), (SELECT count(*) FROM aliases), "
	    "(SELECT count(*) FROM admins), (SELECT count(*) FROM api_tokens "
	    "WHERE revoked = 0 AND (expires IS NULL OR expires > ?1)), "
	    "(SELECT count(*) FROM sessions WHERE expires > ?1), "
	    "(SELECT count(DISTINCT queue_id) FROM queue_rcpts "
	    "WHERE status = 'pending'), (SELECT count(*) FROM queue_rcpts "
	    "WHERE status = 'pending')",
	[ST_SESSION_ADD] = "INSERT INTO sessions (id_hash, role, username, "
	    "csrf_token, remote, created, last_seen, expires) "
	    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
	[ST_SESSION_GET] = "SELECT id, role, username, csrf_token, created, "
	    "last_seen, expires FROM sessions WHERE id_hash = ?",
	[ST_SESSION_TOUCH] = "UPDATE sessions SET last_seen = ?1 "
	    "WHERE id = ?2 AND last_seen < ?1",
	[ST_SESSION_DEL] = "DELETE FROM sessions WHERE id = ?",
	[ST_SESSION_DEL_USER] = "DELETE FROM sessions WHERE role = ? AND "
	    "username = ? AND id != ?",
	[ST_SESSION_EXPIRE] = "DELETE FROM sessions WHERE expires <= ? OR "
	    "last_seen < ?",
};

struct db {
	sqlite3 *conn;
	sqlite3_stmt *st[ST_COUNT];
	char actor[128];
	char remote[64];
};

static __thread char db_errbuf[256];

/* SQLite's error becomes text once, here. */
static int
db_fail(struct db *db, int rc, const char **error_r)
{
	int status = (rc == SQLITE_BUSY || rc == SQLITE_LOCKED) ?
	    DB_BUSY : DB_ERROR;

	if (str_printf(db_errbuf, sizeof(db_errbuf), "database: %s",
	    db != NULL && db->conn != NULL ? sqlite3_errmsg(db->conn) :
	    sqlite3_errstr(rc)) < 0)
		str_lcpy(db_errbuf, "database error", sizeof(db_errbuf));
	if (error_r != NULL)
		*error_r = db_errbuf;
	log_error("event=db_error error=\"%s\"", db_errbuf);
	return status;
}

static int
db_exec(struct db *db, const char *sql, const char **error_r)
{
	char *msg = NULL;
	int rc = sqlite3_exec(db->conn, sql, NULL, NULL, &msg);

	if (rc != SQLITE_OK) {
		str_printf(db_errbuf, sizeof(db_errbuf), "database: %s",
		    msg != NULL ? msg : sqlite3_errstr(rc));
		sqlite3_free(msg);
		if (error_r != NULL)
			*error_r = db_errbuf;
		return rc == SQLITE_BUSY ? DB_BUSY : DB_ERROR;
	}
	return DB_OK;
}

int
db_schema_version(void)
{
	return (int)db_migrations_count;
}

static int
db_user_version(struct db *db, int *version_r, const char **error_r)
{
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(db->conn, "PRAGMA user_version", -1, &st,
	    NULL);

	if (rc != SQLITE_OK)
		return db_fail(db, rc, error_r);
	rc = sqlite3_step(st);
	*version_r = rc == SQLITE_ROW ? sqlite3_column_int(st, 0) : 0;
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? DB_OK : db_fail(db, rc, error_r);
}

static int
db_migrate(struct db *db, const char **error_r)
{
	int version, ret;
	char sql[64];

	if ((ret = db_exec(db, "BEGIN IMMEDIATE", error_r)) != DB_OK)
		return ret;
	if ((ret = db_user_version(db, &version, error_r)) != DB_OK)
		goto fail;
	if (version > (int)db_migrations_count) {
		str_printf(db_errbuf, sizeof(db_errbuf), "database schema "
		    "version %d is newer than this binary's (%zu): upgrade "
		    "facteur", version, db_migrations_count);
		*error_r = db_errbuf;
		ret = DB_TOO_NEW;
		goto fail;
	}
	for (int v = version; v < (int)db_migrations_count; v++) {
		if ((ret = db_exec(db, db_migrations[v], error_r)) != DB_OK)
			goto fail;
		str_printf(sql, sizeof(sql), "PRAGMA user_version = %d", v + 1);
		if ((ret = db_exec(db, sql, error_r)) != DB_OK)
			goto fail;
		log_info("event=db_migrate version=%d", v + 1);
	}
	return db_exec(db, "COMMIT", error_r);
fail:
	db_exec(db, "ROLLBACK", NULL);
	return ret;
}

int
db_open(const char *path, bool create, struct db **db_r,
    const char **error_r)
{
	struct db *db = xcalloc(1, sizeof(*db));
	int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX |
	    (create ? SQLITE_OPEN_CREATE : 0);
	int rc, ret;

	str_lcpy(db->actor, "system", sizeof(db->actor));
	rc = sqlite3_open_v2(path, &db->conn, flags, NULL);
	if (rc != SQLITE_OK) {
		ret = db_fail(db, rc, error_r);
		db_close(&db);
		return ret;
	}
	sqlite3_busy_timeout(db->conn, DB_BUSY_TIMEOUT_MS);
	if ((ret = db_exec(db, "PRAGMA journal_mode = WAL", error_r)) ||
	    (ret = db_exec(db, "PRAGMA synchronous = NORMAL", error_r)) ||
	    (ret = db_exec(db, "PRAGMA foreign_keys = ON", error_r)) ||
	    (ret = db_migrate(db, error_r))) {
		db_close(&db);
		return ret;
	}
	for (int i = 0; i < ST_COUNT; i++) {
		rc = sqlite3_prepare_v3(db->conn, db_sql[i], -1,
		    SQLITE_PREPARE_PERSISTENT, &db->st[i], NULL);
		if (rc != SQLITE_OK) {
			ret = db_fail(db, rc, error_r);
			db_close(&db);
			return ret;
		}
	}
	*db_r = db;
	return DB_OK;
}

void
db_close(struct db **dbp)
{
	struct db *db = *dbp;

	if (db == NULL)
		return;
	for (int i = 0; i < ST_COUNT; i++)
		sqlite3_finalize(db->st[i]);
	sqlite3_close(db->conn);
	free(db);
	*dbp = NULL;
}

void
db_set_actor(struct db *db, const char *actor, const char *remote)
{
	str_lcpy(db->actor, actor, sizeof(db->actor));
	str_lcpy(db->remote, remote, sizeof(db->remote));
}

/* ---- statement helpers ---- */

static sqlite3_stmt *
db_stmt(struct db *db, enum db_stmt_id id)
{
	sqlite3_reset(db->st[id]);
	sqlite3_clear_bindings(db->st[id]);
	return db->st[id];
}

static void
db_bind_text(sqlite3_stmt *st, int i, const char *s)
{
	sqlite3_bind_text(st, i, s, -1, SQLITE_TRANSIENT);
}

/* Steps a statement that returns no row; resets it. */
static int
db_step_done(struct db *db, sqlite3_stmt *st, const char **error_r)
{
	int rc = sqlite3_step(st);

	sqlite3_reset(st);
	if (rc == SQLITE_DONE)
		return DB_OK;
	if (rc == SQLITE_CONSTRAINT)
		return DB_EXISTS;
	return db_fail(db, rc, error_r);
}

static void
db_col_text(sqlite3_stmt *st, int col, char *out, size_t outsize)
{
	const unsigned char *s = sqlite3_column_text(st, col);

	str_lcpy(out, s != NULL ? (const char *)s : "", outsize);
}

static int
db_begin(struct db *db, const char **error_r)
{
	return db_step_done(db, db_stmt(db, ST_BEGIN), error_r);
}

static int
db_end(struct db *db, int ret, const char **error_r)
{
	if (ret == DB_OK) {
		ret = db_step_done(db, db_stmt(db, ST_COMMIT), error_r);
		if (ret == DB_OK)
			return DB_OK;
	}
	db_step_done(db, db_stmt(db, ST_ROLLBACK), NULL);
	return ret;
}

static int
db_audit(struct db *db, const char *action, const char *target,
    const char *details, const char **error_r)
{
	sqlite3_stmt *st = db_stmt(db, ST_AUDIT);

	sqlite3_bind_int64(st, 1, (sqlite3_int64)time(NULL));
	db_bind_text(st, 2, db->actor);
	db_bind_text(st, 3, db->remote);
	db_bind_text(st, 4, action);
	db_bind_text(st, 5, target);
	db_bind_text(st, 6, details != NULL ? details : "");
	return db_step_done(db, st, error_r);
}

/* Runs a bound one-row UPDATE/DELETE in a transaction with its audit
 * row; DB_NOT_FOUND with *error_r = missing when no row changed. */
static int
db_change_one_details(struct db *db, sqlite3_stmt *st, const char *target,
    const char *action, const char *details, const char *missing,
    const char **error_r)
{
	int ret;

	if ((ret = db_begin(db, error_r)) != DB_OK) {
		sqlite3_reset(st);
		return ret;
	}
	ret = db_step_done(db, st, error_r);
	if (ret == DB_OK && sqlite3_changes(db->conn) == 0) {
		if (error_r != NULL)
			*error_r = missing;
		ret = DB_NOT_FOUND;
	}
	if (ret == DB_OK)
		ret = db_audit(db, action, target, details, error_r);
	return db_end(db, ret, error_r);
}

static int
db_change_one(struct db *db, sqlite3_stmt *st, const char *target,
    const char *action, const char *missing, const char **error_r)
{
	return db_change_one_details(db, st, target, action, NULL, missing,
	    error_r);
}

int
db_audit_add(struct db *db, const char *action, const char *target,
    const char *details, const char **error_r)
{
	return db_audit(db, action, target, details, error_r);
}

int
db_audit_page(struct db *db, int64_t before, const char *actor,
    const char *domain, int (*cb)(const struct db_audit_entry *e,
    void *ctx), void *ctx, const char **error_r)
{
	sqlite3_stmt *st = db_stmt(db, ST_AUDIT_PAGE);
	struct db_audit_entry *e = xcalloc(1, sizeof(*e));
	int rc;

	sqlite3_bind_int64(st, 1, (sqlite3_int64)before);
	db_bind_text(st, 2, actor);
	db_bind_text(st, 3, domain);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		e->id = sqlite3_column_int64(st, 0);
		e->ts = sqlite3_column_int64(st, 1);
		db_col_text(st, 2, e->actor, sizeof(e->actor));
		db_col_text(st, 3, e->remote, sizeof(e->remote));
		db_col_text(st, 4, e->action, sizeof(e->action));
		db_col_text(st, 5, e->target, sizeof(e->target));
		db_col_text(st, 6, e->details, sizeof(e->details));
		if (cb(e, ctx) != 0)
			break;
	}
	sqlite3_reset(st);
	free(e);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return db_fail(db, rc, error_r);
	return DB_OK;
}

int
db_counts(struct db *db, struct db_counts *c, const char **error_r)
{
	sqlite3_stmt *st = db_stmt(db, ST_COUNTS);
	int rc;

	memset(c, 0, sizeof(*c));
	sqlite3_bind_int64(st, 1, (sqlite3_int64)time(NULL));
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		c->domains = sqlite3_column_int64(st, 0);
		c->mailboxes = sqlite3_column_int64(st, 1);
		c->aliases = sqlite3_column_int64(st, 2);
		c->admins = sqlite3_column_int64(st, 3);
		c->tokens = sqlite3_column_int64(st, 4);
		c->sessions = sqlite3_column_int64(st, 5);
		c->queue_messages = sqlite3_column_int64(st, 6);
		c->queue_recipients = sqlite3_column_int64(st, 7);
	}
	sqlite3_reset(st);
	return rc == SQLITE_ROW ? DB_OK : db_fail(db, rc, error_r);
}

static const char *
db_domain_of(const char *address)
{
	const char *at = strrchr(address, '@');

	return at != NULL ? at + 1 : address;
}

/* ---- Domains ---- */

static void
db_domain_row(sqlite3_stmt *st, struct db_domain *d)
{
	d->id = sqlite3_column_int64(st, 0);
	db_col_text(st, 1, d->name, sizeof(d->name));
	d->enabled = sqlite3_column_int(st, 2) != 0;
	d->created = sqlite3_column_int64(st, 3);
	d->mailboxes = sqlite3_column_int64(st, 4);
	d->aliases = sqlite3_column_int64(st, 5);
	d->default_quota = (uint64_t)sqlite3_column_int64(st, 6);
	d->max_mailboxes = sqlite3_column_int64(st, 7);
}

int
db_domain_get(struct db *db, const char *name, struct db_domain *d_r,
    const char **error_r)
{
	sqlite3_stmt *st = db_stmt(db, ST_DOMAIN_GET);
	int rc;

	db_bind_text(st, 1, name);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		db_domain_row(st, d_r);
		sqlite3_reset(st);
		return DB_OK;
	}
	sqlite3_reset(st);
	if (rc == SQLITE_DONE) {
		if (error_r != NULL)
			*error_r = "no such domain";
		return DB_NOT_FOUND;
	}
	return db_fail(db, rc, error_r);
}

int
db_domain_add(struct db *db, const char *name, const char **error_r)
{
	sqlite3_stmt *st;
	int ret;

	if ((ret = db_begin(db, error_r)) != DB_OK)
		return ret;
	st = db_stmt(db, ST_DOMAIN_ADD);
	db_bind_text(st, 1, name);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)time(NULL));
	ret = db_step_done(db, st, error_r);
	if (ret == DB_EXISTS && error_r != NULL)
		*error_r = "domain already exists";
	if (ret == DB_OK)
		ret = db_audit(db, "domain.add", name, NULL, error_r);
	return db_end(db, ret, error_r);
}

int
db_domain_remove(struct db *db, const char *name, bool force,
    const char **error_r)
{
	struct db_domain d;
	sqlite3_stmt *st;
	int ret;

	if ((ret = db_begin(db, error_r)) != DB_OK)
		return ret;
	if ((ret = db_domain_get(db, name, &d, error_r)) != DB_OK)
		return db_end(db, ret, error_r);
	if (!force && (d.mailboxes > 0 || d.aliases > 0)) {
		if (error_r != NULL)
			*error_r = "domain still has mailboxes or aliases "
			    "(remove them first, or force)";
		return db_end(db, DB_NOT_EMPTY, error_r);
	}
	st = db_stmt(db, ST_DOMAIN_DEL_ALIASES);
	sqlite3_bind_int64(st, 1, d.id);
	ret = db_step_done(db, st, error_r);
	if (ret == DB_OK) {
		st = db_stmt(db, ST_DOMAIN_DEL_MAILBOXES);
		sqlite3_bind_int64(st, 1, d.id);
		ret = db_step_done(db, st, error_r);
	}
	if (ret == DB_OK) {
		st = db_stmt(db, ST_DOMAIN_DEL);
		sqlite3_bind_int64(st, 1, d.id);
		ret = db_step_done(db, st, error_r);
	}
	if (ret == DB_OK)
		ret = db_audit(db, "domain.remove", name,
		    force ? "force" : NULL, error_r);
	return db_end(db, ret, error_r);
}

int
db_domain_set_enabled(struct db *db, const char *name, bool enabled,
    const char **error_r)
{
	sqlite3_stmt *st = db_stmt(db, ST_DOMAIN_SET_ENABLED);

	sqlite3_bind_int(st, 1, enabled);
	db_bind_text(st, 2, name);
	return db_change_one(db, st, name, enabled ? "domain.enable" :
	    "domain.disable", "no such domain", error_r);
}

int
db_domain_list(struct db *db,
    int (*cb)(const struct db_domain *d, void *ctx), void *ctx,
    const char **error_r)
{
	sqlite3_stmt *st = db_stmt(db, ST_DOMAIN_LIST);
	struct db_domain d;
	int rc;

	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		db_domain_row(st, &d);
		if (cb(&d, ctx) != 0)
			break;
	}
	sqlite3_reset(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return db_fail(db, rc, error_r);
	return DB_OK;
}

int
db_domain_update(struct db *db, const char *name, const bool *enabled,
    const uint64_t *default_quota, const int64_t *max_mailboxes,
    const char **error_r)
{
	sqlite3_stmt *st = db_stmt(db, ST_DOMAIN_UPDATE);
	char details[128];

	if (enabled != NULL)
		sqlite3_bind_int(st, 1, *enabled);
	if (default_quota != NULL)
		sqlite3_bind_int64(st, 2, (sqlite3_int64)*default_quota);
	if (max_mailboxes != NULL)
		sqlite3_bind_int64(st, 3, (sqlite3_int64)*max_mailboxes);
	db_bind_text(st, 4, name);
	str_printf(details, sizeof(details), "%s%s%s",
	    enabled != NULL ? (*enabled ? "enabled " : "disabled ") : "",
	    default_quota != NULL ? "default_quota " : "",
	    max_mailboxes != NULL ? "max_mailboxes" : "");
	return db_change_one_details(db, st, name, "domain.update", details,
	    "no such domain", error_r);
}

int
db_domain_page(struct db *db, const char *after, const char *q,
    int (*cb)(const struct db_domain *d, void *ctx), void *ctx,
    const char **error_r)
{
	sqlite3_stmt *st = db_stmt(db, ST_DOMAIN_PAGE);
	struct db_domain d;
	int rc;

	db_bind_text(st, 1, after);
	db_bind_text(st, 2, q);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		db_domain_row(st, &d);
		if (cb(&d, ctx) != 0)
			break;
	}
	sqlite3_reset(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return db_fail(db, rc, error_r);
	return DB_OK;
}

/* ---- Mailboxes ---- */

static void
db_mailbox_row(sqlite3_stmt *st, struct db_mailbox *m)
{
	m->id = sqlite3_column_int64(st, 0);
	db_col_text(st, 1, m->address, sizeof(m->address));
	db_col_text(st, 2, m->domain, sizeof(m->domain));
	m->quota = (uint64_t)sqlite3_column_int64(st, 3);
	m->enabled = sqlite3_column_int(st, 4) != 0;
	m->domain_enabled = sqlite3_column_int(st, 5) != 0;
	m->created = sqlite3_column_int64(st, 6);
	m->last_login = sqlite3_column_int64(st, 7);
}

int
db_mailbox_get(struct db *db, const char *address, struct db_mailbox *m_r,
    const char **error_r)
{
	sqlite3_stmt *st = db_stmt(db, ST_MAILBOX_GET);
	int rc;

	db_bind_text(st, 1, address);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		db_mailbox_row(st, m_r);
	sqlite3_reset(st);
	if (rc == SQLITE_ROW)
		return DB_OK;
	if (rc == SQLITE_DONE) {
		if (error_r != NULL)
			*error_r = "no such mailbox";
		return DB_NOT_FOUND;
	}
	return db_fail(db, rc, error_r);
}

/* Looks up an enabled alias; returns its id, 0 when none, -1 on error. */
static int64_t
db_alias_id(struct db *db, const char *source, const char **error_r)
{
	sqlite3_stmt *st = db_stmt(db, ST_ALIAS_GET);
	int64_t id = 0;
	int rc;

	db_bind_text(st, 1, source);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		id = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		db_fail(db, rc, error_r);
		return -1;
	}
	return id;
}

int
db_mailbox_add(struct db *db, const char *address, const char *hash,
    uint64_t quota, const char **error_r)
{
	struct db_domain d;
	sqlite3_stmt *st;
	int ret;

	if ((ret = db_begin(db, error_r)) != DB_OK)
		return ret;
	ret = db_domain_get(db, db_domain_of(address), &d, error_r);
	if (ret == DB_NOT_FOUND && error_r != NULL)
		*error_r = "unknown domain (add it with 'facteur domain add')";
	if (ret != DB_OK)
		return db_end(db, ret, error_r);
	if (d.max_mailboxes > 0 && d.mailboxes >= d.max_mailboxes) {
		if (error_r != NULL)
			*error_r = "the domain has its max_mailboxes already";
		return db_end(db, DB_LIMIT, error_r);
	}
	if (quota == DB_QUOTA_DEFAULT)
		quota = d.default_quota;
	st = db_stmt(db, ST_MAILBOX_ADD);
	sqlite3_bind_int64(st, 1, d.id);
	db_bind_text(st, 2, address);
	db_bind_text(st, 3, hash);
	sqlite3_bind_int64(st, 4, (sqlite3_int64)quota);
	sqlite3_bind_int64(st, 5, (sqlite3_int64)time(NULL));
	ret = db_step_done(db, st, error_r);
	if (ret == DB_EXISTS && error_r != NULL)
		*error_r = "mailbox already exists";
	if (ret == DB_OK)
		ret = db_audit(db, "mailbox.add", address, NULL, error_r);
	return db_end(db, ret, error_r);
}

static int
db_mailbox_change(struct db *db, sqlite3_stmt *st, const char *address,
    const char *action, const char **error_r)
{
	return db_change_one(db, st, address, action, "no such mailbox",
	    error_r);
}

int
db_mailbox_remove(struct db *db, const char *address, const char **error_r)
{
	sqlite3_stmt *st = db_stmt(db, ST_MAILBOX_DEL);

	db_bind_text(st, 1, address);
	return db_mailbox_change(db, st, address, "mailbox.remove", error_r);
}

int
db_mailbox_set_password(struct db *db, const char *address, const char *hash,
    const char **error_r)
{
	sqlite3_stmt *st = db_stmt(db, ST_MAILBOX_SET_PW);

	db_bind_text(st, 1, hash);
	db_bind_text(st, 2, address);
	return db_mailbox_change(db, st, address, "mailbox.passwd", error_r);
}

int
db_mailbox_set_quota(struct db *db, const char *address, uint64_t quota,
    const char **error_r)
{
	sqlite3_stmt *st = db_stmt(db, ST_MAILBOX_SET_QUOTA);

	sqlite3_bind_int64(st, 1, (sqlite3_int64)quota);
	db_bind_text(st, 2, address);
	return db_mailbox_change(db, st, address, "mailbox.quota", error_r);
}

int
db_mailbox_set_enabled(struct db *db, const char *address, bool enabled,
    const char **error_r)
{
	sqlite3_stmt *st = db_stmt(db, ST_MAILBOX_SET_ENABLED);

	sqlite3_bind_int(st, 1, enabled);
	db_bind_text(st, 2, address);
	return db_mailbox_change(db, st, address,
	    enabled ? "mailbox.enable" : "mailbox.disable", error_r);
}

int
db_mailbox_auth_get(struct db *db, const char *address, char *hash_r,
    size_t hashsize, bool *enabled_r, const char **error_r)
{
	sqlite3_stmt *st = db_stmt(db, ST_MAILBOX_AUTH);
	int rc;

	db_bind_text(st, 1, address);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		db_col_text(st, 0, hash_r, hashsize);
		*enabled_r = sqlite3_column_int(st, 1) != 0;
	}
	sqlite3_reset(st);
	if (rc == SQLITE_ROW)
		return DB_OK;
	if (rc == SQLITE_DONE)
		return DB_NOT_FOUND;
	return db_fail(db, rc, error_r);
}

/* The last-login time of an account (with its rehashed password when
 * new_hash is set): st_plain for the time alone, st_rehash with the
 * hash. */
static int
db_login_record(struct db *db, enum db_stmt_id st_plain,
    enum db_stmt_id st_rehash, const char *who, const char *new_hash,
    const char **error_r)
{
	sqlite3_stmt *st = db_stmt(db, new_hash != NULL ? st_rehash :
	    st_plain);
	int i = 1;

	sqlite3_bind_int64(st, i++, (sqlite3_int64)time(NULL));
	if (new_hash != NULL)
		db_bind_text(st, i++, new_hash);
	db_bind_text(st, i, who);
	return db_step_done(db, st, error_r);
}

int
db_mailbox_login(struct db *db, const char *address, const char *new_hash,
    const char **error_r)
{
	return db_login_record(db, ST_MAILBOX_LOGIN, ST_MAILBOX_LOGIN_REHASH,
	    address, new_hash, error_r);
}

int
db_mailbox_limits(struct db *db, const char *address,
    long long *messages_hour_r, long long *recipients_day_r,
    const char **error_r)
{
	sqlite3_stmt *st = db_stmt(db, ST_MAILBOX_LIMITS);
	int rc;

	db_bind_text(st, 1, address);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*messages_hour_r = sqlite3_column_int64(st, 0);
		*recipients_day_r = sqlite3_column_int64(st, 1);
	}
	sqlite3_reset(st);
	if (rc == SQLITE_ROW)
		return DB_OK;
	if (rc == SQLITE_DONE) {
		if (error_r != NULL)
			*error_r = "no such mailbox";
		return DB_NOT_FOUND;
	}
	return db_fail(db, rc, error_r);
}

int
db_mailbox_set_limits(struct db *db, const char *address,
    long long messages_hour, long long recipients_day, const char **error_r)
{
	sqlite3_stmt *st = db_stmt(db, ST_MAILBOX_SET_LIMITS);

	sqlite3_bind_int64(st, 1, messages_hour);
	sqlite3_bind_int64(st, 2, recipients_day);
	db_bind_text(st, 3, address);
	return db_mailbox_change(db, st, address, "mailbox.limits", error_r);
}

int
db_mailbox_list(struct db *db, const char *domain,
    int (*cb)(const struct db_mailbox *m, void *ctx), void *ctx,
    const char **error_r)
{
	sqlite3_stmt *st;
	struct db_mailbox m;
	int rc;

	if (domain != NULL) {
		st = db_stmt(db, ST_MAILBOX_LIST);
		db_bind_text(st, 1, domain);
	} else {
		st = db_stmt(db, ST_MAILBOX_LIST_ALL);
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		db_mailbox_row(st, &m);
		if (cb(&m, ctx) != 0)
			break;
	}
	sqlite3_reset(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return db_fail(db, rc, error_r);
	return DB_OK;
}

int
db_mailbox_page(struct db *db, const char *domain, const char *after,
    const char *q, int (*cb)(const struct db_mailbox *m, void *ctx),
    void *ctx, const char **error_r)
{
	sqlite3_stmt *st = db_stmt(db, ST_MAILBOX_PAGE);
	struct db_mailbox m;
	int rc;

	db_bind_text(st, 1, domain);
	db_bind_text(st, 2, after);
	db_bind_text(st, 3, q);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		db_mailbox_row(st, &m);
		if (cb(&m, ctx) != 0)
			break;
	}
	sqlite3_reset(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return db_fail(db, rc, error_r);
	return DB_OK;
}

/* ---- Aliases ---- */

int
db_alias_add(struct db *db, const char *source, const char *const *dest,
    unsigned ndest, const char **error_r)
{
	struct db_domain d;
	sqlite3_stmt *st;
	int64_t id;
	int ret;

	if (ndest == 0 || ndest > DB_ALIAS_MAX_DEST) {
		if (error_r != NULL)
			*error_r = "an alias needs 1 to 64 destinations";
		return DB_INVALID;
	}
	if ((ret = db_begin(db, error_r)) != DB_OK)
		return ret;
	ret = db_domain_get(db, db_domain_of(source), &d, error_r);
	if (ret == DB_NOT_FOUND && error_r != NULL)
		*error_r = "unknown domain (add it with 'facteur domain add')";
	if (ret != DB_OK)
		return db_end(db, ret, error_r);
	st = db_stmt(db, ST_ALIAS_ADD);
	sqlite3_bind_int64(st, 1, d.id);
	db_bind_text(st, 2, source);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)time(NULL));
	ret = db_step_done(db, st, error_r);
	if (ret == DB_EXISTS && error_r != NULL)
		*error_r = "alias already exists";
	id = sqlite3_last_insert_rowid(db->conn);
	for (unsigned i = 0; ret == DB_OK && i < ndest; i++) {
		st = db_stmt(db, ST_ALIAS_DEST_ADD);
		sqlite3_bind_int64(st, 1, id);
		db_bind_text(st, 2, dest[i]);
		ret = db_step_done(db, st, error_r);
	}
	if (ret == DB_OK)
		ret = db_audit(db, "alias.add", source, NULL, error_r);
	return db_end(db, ret, error_r);
}

int
db_alias_remove(struct db *db, const char *source, const char **error_r)
{
	sqlite3_stmt *st = db_stmt(db, ST_ALIAS_DEL);

	db_bind_text(st, 1, source);
	return db_change_one(db, st, source, "alias.remove", "no such alias",
	    error_r);
}

/* Reads an alias's destinations into a; 0 or an error. */
static int
db_alias_dests(struct db *db, int64_t id, struct db_alias *a,
    const char **error_r)
{
	sqlite3_stmt *st = db_stmt(db, ST_ALIAS_DESTS);
	int rc;

	a->ndest = 0;
	sqlite3_bind_int64(st, 1, id);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW &&
	    a->ndest < DB_ALIAS_MAX_DEST)
		db_col_text(st, 0, a->dest[a->ndest++], sizeof(a->dest[0]));
	sqlite3_reset(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return db_fail(db, rc, error_r);
	return DB_OK;
}

int
db_alias_list(struct db *db, const char *domain,
    int (*cb)(const struct db_alias *a, void *ctx), void *ctx,
    const char **error_r)
{
	struct db_alias *list = NULL;
	size_t n = 0, cap = 0;
	sqlite3_stmt *st;
	int rc, ret = DB_OK;

	/* Collect first: the destination query reuses the connection. */
	if (domain != NULL) {
		st = db_stmt(db, ST_ALIAS_LIST);
		db_bind_text(st, 1, domain);
	} else {
		st = db_stmt(db, ST_ALIAS_LIST_ALL);
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			list = xrealloc(list, cap * sizeof(*list));
		}
		list[n].id = sqlite3_column_int64(st, 0);
		db_col_text(st, 1, list[n].source, sizeof(list[n].source));
		n++;
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		ret = db_fail(db, rc, error_r);
	for (size_t i = 0; ret == DB_OK && i < n; i++) {
		ret = db_alias_dests(db, list[i].id, &list[i], error_r);
		if (ret == DB_OK && cb(&list[i], ctx) != 0)
			break;
	}
	free(list);
	return ret;
}

int
db_alias_page(struct db *db, const char *domain, const char *after,
    const char *q, unsigned max,
    int (*cb)(const struct db_alias *a, void *ctx), void *ctx,
    const char **error_r)
{
	struct db_alias *list = NULL;
	size_t n = 0, cap = 0;
	sqlite3_stmt *st = db_stmt(db, ST_ALIAS_PAGE);
	int rc, ret = DB_OK;

	db_bind_text(st, 1, domain);
	db_bind_text(st, 2, after);
	db_bind_text(st, 3, q);
	sqlite3_bind_int64(st, 4, (sqlite3_int64)max);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			list = xrealloc(list, cap * sizeof(*list));
		}
		list[n].id = sqlite3_column_int64(st, 0);
		db_col_text(st, 1, list[n].source, sizeof(list[n].source));
		n++;
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		ret = db_fail(db, rc, error_r);
	for (size_t i = 0; ret == DB_OK && i < n; i++) {
		ret = db_alias_dests(db, list[i].id, &list[i], error_r);
		if (ret == DB_OK && cb(&list[i], ctx) != 0)
			break;
	}
	free(list);
	return ret;
}

/* The id of the alias of that source, enabled or not; 0 when none. */
static int
db_alias_any_id(struct db *db, const char *source, int64_t *id_r,
    const char **error_r)
{
	sqlite3_stmt *st = db_stmt(db, ST_ALIAS_ID_ANY);
	int rc;

	*id_r = 0;
	db_bind_text(st, 1, source);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*id_r = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return db_fail(db, rc, error_r);
	if (*id_r == 0) {
		if (error_r != NULL)
			*error_r = "no such alias";
		return DB_NOT_FOUND;
	}
	return DB_OK;
}

int
db_alias_get(struct db *db, const char *source, struct db_alias *a_r,
    const char **error_r)
{
	int ret;

	if ((ret = db_alias_any_id(db, source, &a_r->id, error_r)) != DB_OK)
		return ret;
	str_lcpy(a_r->source, source, sizeof(a_r->source));
	return db_alias_dests(db, a_r->id, a_r, error_r);
}

int
db_alias_set(struct db *db, const char *source, const char *const *dest,
    unsigned ndest, const char **error_r)
{
	sqlite3_stmt *st;
	int64_t id;
	int ret;

	if (ndest == 0 || ndest > DB_ALIAS_MAX_DEST) {
		if (error_r != NULL)
			*error_r = "an alias needs 1 to 64 destinations";
		return DB_INVALID;
	}
	if ((ret = db_begin(db, error_r)) != DB_OK)
		return ret;
	if ((ret = db_alias_any_id(db, source, &id, error_r)) != DB_OK)
		return db_end(db, ret, error_r);
	st = db_stmt(db, ST_ALIAS_DESTS_DEL);
	sqlite3_bind_int64(st, 1, id);
	ret = db_step_done(db, st, error_r);
	for (unsigned i = 0; ret == DB_OK && i < ndest; i++) {
		st = db_stmt(db, ST_ALIAS_DEST_ADD);
		sqlite3_bind_int64(st, 1, id);
		db_bind_text(st, 2, dest[i]);
		ret = db_step_done(db, st, error_r);
	}
	if (ret == DB_OK)
		ret = db_audit(db, "alias.update", source, NULL, error_r);
	return db_end(db, ret, error_r);
}

/* Does the alias named source list mailbox as a destination? */
static int
db_alias_lists(struct db *db, const char *source, const char *mailbox,
    bool *found_r, const char **error_r)
{
	struct db_alias *a;
	int64_t id = db_alias_id(db, source, error_r);
	int ret;

	*found_r = false;
	if (id <= 0)
		return id < 0 ? DB_ERROR : DB_OK;
	a = xmalloc(sizeof(*a));
	ret = db_alias_dests(db, id, a, error_r);
	for (unsigned i = 0; ret == DB_OK && i < a->ndest; i++)
		*found_r = *found_r || strcmp(a->dest[i], mailbox) == 0;
	free(a);
	return ret;
}

int
db_sender_owned(struct db *db, const char *mailbox, const char *sender,
    bool *owned_r, const char **error_r)
{
	char base[ADDR_MAX + 1];
	bool tagged = addr_strip_tag(sender, base, sizeof(base));
	int ret;

	*owned_r = strcmp(sender, mailbox) == 0 ||
	    (tagged && strcmp(base, mailbox) == 0);
	if (*owned_r)
		return DB_OK;
	ret = db_alias_lists(db, sender, mailbox, owned_r, error_r);
	if (ret == DB_OK && !*owned_r && tagged)
		ret = db_alias_lists(db, base, mailbox, owned_r, error_r);
	return ret;
}

/* ---- Outbound queue ---- */

int
db_queue_add(struct db *db, const char *id, const char *sender,
    long long size, bool need_8bit, bool need_utf8,
    const char *const *rcpts, unsigned nrcpts, const char **error_r)
{
	long long now = (long long)time(NULL);
	sqlite3_stmt *st;
	int ret;

	if ((ret = db_begin(db, error_r)) != DB_OK)
		return ret;
	st = db_stmt(db, ST_QUEUE_ADD);
	db_bind_text(st, 1, id);
	db_bind_text(st, 2, sender);
	sqlite3_bind_int64(st, 3, size);
	sqlite3_bind_int(st, 4, need_8bit);
	sqlite3_bind_int(st, 5, need_utf8);
	sqlite3_bind_int64(st, 6, now);
	ret = db_step_done(db, st, error_r);
	for (unsigned i = 0; ret == DB_OK && i < nrcpts; i++) {
		st = db_stmt(db, ST_QUEUE_RCPT_ADD);
		db_bind_text(st, 1, id);
		db_bind_text(st, 2, rcpts[i]);
		db_bind_text(st, 3, db_domain_of(rcpts[i]));
		sqlite3_bind_int64(st, 4, now);
		ret = db_step_done(db, st, error_r);
	}
	return db_end(db, ret, error_r);
}

int
db_queue_scan(struct db *db, const char *id, long long now, unsigned max,
    int (*cb)(const struct db_queue_entry *e, void *ctx), void *ctx,
    const char **error_r)
{
	struct db_queue_entry *e = xmalloc(sizeof(*e));
	sqlite3_stmt *st;
	int rc;

	if (id != NULL) {
		st = db_stmt(db, ST_QUEUE_MSG);
		db_bind_text(st, 1, id);
	} else {
		st = db_stmt(db, ST_QUEUE_DUE);
		sqlite3_bind_int64(st, 1, now);
		sqlite3_bind_int64(st, 2, max);
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		db_col_text(st, 0, e->id, sizeof(e->id));
		db_col_text(st, 1, e->sender, sizeof(e->sender));
		db_col_text(st, 2, e->rcpt, sizeof(e->rcpt));
		db_col_text(st, 3, e->domain, sizeof(e->domain));
		db_col_text(st, 4, e->status, sizeof(e->status));
		e->attempts = sqlite3_column_int(st, 5);
		e->next_attempt = sqlite3_column_int64(st, 6);
		e->created = sqlite3_column_int64(st, 7);
		e->size = sqlite3_column_int64(st, 8);
		e->need_8bit = sqlite3_column_int(st, 9) != 0;
		e->need_utf8 = sqlite3_column_int(st, 10) != 0;
		db_col_text(st, 11, e->last_error, sizeof(e->last_error));
		if (cb(e, ctx) != 0)
			break;
	}
	sqlite3_reset(st);
	free(e);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return db_fail(db, rc, error_r);
	return DB_OK;
}

int
db_queue_set(struct db *db, const char *id, const char *rcpt,
    const char *status, int attempts, long long next_attempt,
    const char *last_error, const char **error_r)
{
	sqlite3_stmt *st = db_stmt(db, ST_QUEUE_SET);

	db_bind_text(st, 1, status);
	sqlite3_bind_int(st, 2, attempts);
	sqlite3_bind_int64(st, 3, next_attempt);
	db_bind_text(st, 4, last_error);
	db_bind_text(st, 5, id);
	db_bind_text(st, 6, rcpt);
	return db_step_done(db, st, error_r);
}

int
db_queue_pending(struct db *db, const char *id, long long *count_r,
    const char **error_r)
{
	sqlite3_stmt *st = db_stmt(db, ST_QUEUE_PENDING);
	int rc;

	db_bind_text(st, 1, id);
	rc = sqlite3_step(st);
	*count_r = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
	sqlite3_reset(st);
	return rc == SQLITE_ROW ? DB_OK : db_fail(db, rc, error_r);
}

int
db_queue_mark_bounced(struct db *db, const char *id, const char *rcpt,
    const char **error_r)
{
	sqlite3_stmt *st = db_stmt(db, ST_QUEUE_BOUNCED);

	db_bind_text(st, 1, id);
	db_bind_text(st, 2, rcpt);
	return db_step_done(db, st, error_r);
}

int
db_queue_retry(struct db *db, const char *id, const char **error_r)
{
	sqlite3_stmt *st = db_stmt(db, ST_QUEUE_RETRY);
	int ret;

	db_bind_text(st, 1, id);
	ret = db_step_done(db, st, error_r);
	if (ret == DB_OK && sqlite3_changes(db->conn) == 0) {
		if (error_r != NULL)
			*error_r = "no such message with pending recipients";
		return DB_NOT_FOUND;
	}
	return ret;
}

int
db_queue_delete(struct db *db, const char *id, const char **error_r)
{
	sqlite3_stmt *st = db_stmt(db, ST_QUEUE_DEL);
	int ret;

	db_bind_text(st, 1, id);
	ret = db_step_done(db, st, error_r);
	if (ret == DB_OK && sqlite3_changes(db->conn) == 0) {
		if (error_r != NULL)
			*error_r = "no such message in the queue";
		return DB_NOT_FOUND;
	}
	return ret;
}

/* ---- Recipient resolution ---- */

struct db_resolve {
	struct db *db;
	struct db_rcpt *r;
	char chain[DB_ALIAS_DEPTH + 1][ADDR_MAX + 1];	/* being expanded */
	unsigned depth;
	bool loop, disabled;
	const char **error_r;
};

static void
db_rcpt_add(struct db_rcpt *r, const struct db_mailbox *m)
{
	for (unsigned i = 0; i < r->ntargets; i++) {
		if (strcmp(r->targets[i].address, m->address) == 0)
			return;
	}
	if (r->ntargets == DB_RCPT_MAX_TARGETS)
		return;
	str_lcpy(r->targets[r->ntargets].address, m->address,
	    sizeof(r->targets[0].address));
	str_lcpy(r->targets[r->ntargets].domain, m->domain,
	    sizeof(r->targets[0].domain));
	r->targets[r->ntargets].quota = m->quota;
	r->ntargets++;
}

/* Delivers to a mailbox; 1 found, 0 none, <0 error. */
static int
db_resolve_mailbox(struct db_resolve *rs, const char *address)
{
	struct db_mailbox m;
	int ret = db_mailbox_get(rs->db, address, &m, rs->error_r);

	if (ret == DB_NOT_FOUND)
		return 0;
	if (ret != DB_OK)
		return ret;
	if (!m.enabled || !m.domain_enabled)
		rs->disabled = true;
	else
		db_rcpt_add(rs->r, &m);
	return 1;
}

static int db_resolve_addr(struct db_resolve *rs, const char *address);

/* Expands an alias; 1 found, 0 none, <0 error. */
static int
db_resolve_alias(struct db_resolve *rs, const char *source)
{
	struct db_alias a;
	int64_t id = db_alias_id(rs->db, source, rs->error_r);
	int ret;

	if (id <= 0)
		return id < 0 ? DB_ERROR : 0;
	if (rs->depth >= DB_ALIAS_DEPTH) {
		rs->loop = true;
		return 1;
	}
	if ((ret = db_alias_dests(rs->db, id, &a, rs->error_r)) != DB_OK)
		return ret;
	str_lcpy(rs->chain[rs->depth], source, sizeof(rs->chain[0]));
	rs->depth++;
	for (unsigned i = 0; i < a.ndest; i++) {
		bool seen = false;

		for (unsigned j = 0; j < rs->depth; j++)
			seen = seen || strcmp(rs->chain[j], a.dest[i]) == 0;
		if (seen) {
			/* "a -> a, b": keep a copy in a's own mailbox. */
			ret = db_resolve_mailbox(rs, a.dest[i]);
			if (ret == 0)
				rs->loop = true;
		} else {
			ret = db_resolve_addr(rs, a.dest[i]);
		}
		if (ret < 0) {
			rs->depth--;
			return ret;
		}
	}
	rs->depth--;
	return 1;
}

/* Resolves one address; 1 resolved (or external), 0 unknown, <0 error. */
static int
db_resolve_addr(struct db_resolve *rs, const char *address)
{
	struct db_domain d;
	char base[ADDR_MAX + 1];
	const char *domain = db_domain_of(address);
	int ret;

	ret = db_domain_get(rs->db, domain, &d, rs->error_r);
	if (ret == DB_NOT_FOUND) {
		/* Only an alias destination gets here: forwarding. */
		struct db_rcpt *r = rs->r;
		bool seen = false;

		for (unsigned i = 0; i < r->nexternal; i++)
			seen = seen || strcmp(r->external[i], address) == 0;
		if (!seen && r->nexternal < DB_RCPT_MAX_TARGETS)
			str_lcpy(r->external[r->nexternal++], address,
			    sizeof(r->external[0]));
		return 1;
	}
	if (ret != DB_OK)
		return ret;
	if (!d.enabled) {
		rs->disabled = true;
		return 1;
	}
	if ((ret = db_resolve_alias(rs, address)) != 0 ||
	    (ret = db_resolve_mailbox(rs, address)) != 0)
		return ret;
	/* RFC 5233 sub-addressing: local+tag@domain */
	if (addr_strip_tag(address, base, sizeof(base))) {
		if ((ret = db_resolve_alias(rs, base)) != 0 ||
		    (ret = db_resolve_mailbox(rs, base)) != 0)
			return ret;
	}
	if (str_printf(base, sizeof(base), "@%s", domain) < 0)
		return 0;
	return db_resolve_alias(rs, base);
}

int
db_rcpt_resolve(struct db *db, const char *address, struct db_rcpt *r,
    const char **error_r)
{
	struct db_resolve *rs = xcalloc(1, sizeof(*rs));
	struct db_domain d;
	int ret;

	memset(r, 0, sizeof(*r));
	rs->db = db;
	rs->r = r;
	rs->error_r = error_r;
	ret = db_domain_get(db, db_domain_of(address), &d, error_r);
	if (ret == DB_NOT_FOUND) {
		r->status = DB_RCPT_NOT_HOSTED;
		ret = DB_OK;
		goto out;
	}
	if (ret != DB_OK)
		goto out;
	ret = db_resolve_addr(rs, address);
	if (ret < 0)
		goto out;
	if (ret == 0)
		r->status = DB_RCPT_UNKNOWN;
	else if (rs->loop && r->ntargets == 0 && r->nexternal == 0)
		r->status = DB_RCPT_LOOP;
	else if (r->ntargets > 0 || r->nexternal > 0)
		r->status = DB_RCPT_LOCAL;
	else if (rs->disabled)
		r->status = DB_RCPT_DISABLED;
	else
		r->status = DB_RCPT_LOOP;
	ret = DB_OK;
out:
	free(rs);
	return ret;
}

/* ---- API tokens ---- */

static void
db_token_row(sqlite3_stmt *st, struct db_token *t)
{
	t->id = sqlite3_column_int64(st, 0);
	db_col_text(st, 1, t->name, sizeof(t->name));
	db_col_text(st, 2, t->scope, sizeof(t->scope));
	t->created = sqlite3_column_int64(st, 3);
	t->expires = sqlite3_column_int64(st, 4);
	t->last_used = sqlite3_column_int64(st, 5);
	t->revoked = sqlite3_column_int(st, 6) != 0;
	t->restricted = sqlite3_column_int(st, 7) != 0;
	t->ndomains = 0;
}

/* Fills in t's domains (a restricted token's, in name order). */
static int
db_token_domains(struct db *db, struct db_token *t, const char **error_r)
{
	sqlite3_stmt *st;
	int rc;

	t->ndomains = 0;
	if (!t->restricted)
		return DB_OK;
	st = db_stmt(db, ST_TOKEN_DOMAINS);
	sqlite3_bind_int64(st, 1, (sqlite3_int64)t->id);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW &&
	    t->ndomains < DB_TOKEN_DOMAINS_MAX)
		db_col_text(st, 0, t->domains[t->ndomains++],
		    sizeof(t->domains[0]));
	sqlite3_reset(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return db_fail(db, rc, error_r);
	return DB_OK;
}

/* After an insert that changed nothing: was it for want of the domain
 * (rather than a duplicate in the list)? */
static bool
db_token_domain_missing(struct db *db, const char *name)
{
	sqlite3_stmt *st = db_stmt(db, ST_DOMAIN_GET);
	int rc;

	db_bind_text(st, 1, name);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	return rc != SQLITE_ROW;
}

int
db_token_add(struct db *db, const char *name, const char *hash,
    const char *scope, int64_t expires, const char *const *domains,
    unsigned ndomains, const char **error_r)
{
	sqlite3_stmt *st;
	int64_t id;
	int ret, rc;

	if (strcmp(scope, "read") != 0 && strcmp(scope, "write") != 0) {
		if (error_r != NULL)
			*error_r = "scope must be read or write";
		return DB_INVALID;
	}
	if (ndomains > DB_TOKEN_DOMAINS_MAX) {
		if (error_r != NULL)
			*error_r = "too many domains for one token";
		return DB_INVALID;
	}
	if ((ret = db_begin(db, error_r)) != DB_OK)
		return ret;
	st = db_stmt(db, ST_TOKEN_ACTIVE);
	db_bind_text(st, 1, name);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW && sqlite3_column_int64(st, 0) > 0) {
		sqlite3_reset(st);
		if (error_r != NULL)
			*error_r = "a token with this name exists (revoke it "
			    "first)";
		return db_end(db, DB_EXISTS, error_r);
	}
	sqlite3_reset(st);
	if (rc != SQLITE_ROW)
		return db_end(db, db_fail(db, rc, error_r), error_r);
	st = db_stmt(db, ST_TOKEN_ADD);
	db_bind_text(st, 1, name);
	db_bind_text(st, 2, hash);
	db_bind_text(st, 3, scope);
	sqlite3_bind_int64(st, 4, (sqlite3_int64)time(NULL));
	sqlite3_bind_int64(st, 5, (sqlite3_int64)expires);
	sqlite3_bind_int(st, 6, ndomains > 0);
	ret = db_step_done(db, st, error_r);
	if (ret == DB_EXISTS && error_r != NULL)
		*error_r = "token hash collision";
	id = (int64_t)sqlite3_last_insert_rowid(db->conn);
	for (unsigned i = 0; ret == DB_OK && i < ndomains; i++) {
		st = db_stmt(db, ST_TOKEN_DOMAIN_ADD);
		sqlite3_bind_int64(st, 1, (sqlite3_int64)id);
		db_bind_text(st, 2, domains[i]);
		ret = db_step_done(db, st, error_r);
		if (ret == DB_OK && sqlite3_changes(db->conn) == 0 &&
		    db_token_domain_missing(db, domains[i])) {
			if (str_printf(db_errbuf, sizeof(db_errbuf),
			    "no such domain: %s", domains[i]) < 0)
				str_lcpy(db_errbuf, "no such domain",
				    sizeof(db_errbuf));
			if (error_r != NULL)
				*error_r = db_errbuf;
			ret = DB_NOT_FOUND;
		}
	}
	if (ret == DB_OK)
		ret = db_audit(db, "token.add", name, scope, error_r);
	return db_end(db, ret, error_r);
}

int
db_token_lookup(struct db *db, const char *hash, struct db_token *t_r,
    const char **error_r)
{
	sqlite3_stmt *st = db_stmt(db, ST_TOKEN_LOOKUP);
	int64_t now = (int64_t)time(NULL);
	int rc, ret;

	db_bind_text(st, 1, hash);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)now);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		db_token_row(st, t_r);
	sqlite3_reset(st);
	if (rc == SQLITE_DONE) {
		if (error_r != NULL)
			*error_r = "no such token";
		return DB_NOT_FOUND;
	}
	if (rc != SQLITE_ROW)
		return db_fail(db, rc, error_r);
	if ((ret = db_token_domains(db, t_r, error_r)) != DB_OK)
		return ret;
	/* Best effort, outside a transaction: a busy database must not
	 * refuse a read request. */
	if (now - t_r->last_used >= 60) {
		st = db_stmt(db, ST_TOKEN_USED);
		sqlite3_bind_int64(st, 1, (sqlite3_int64)now);
		sqlite3_bind_int64(st, 2, (sqlite3_int64)t_r->id);
		sqlite3_step(st);
		sqlite3_reset(st);
	}
	return DB_OK;
}

int
db_token_list(struct db *db,
    int (*cb)(const struct db_token *t, void *ctx), void *ctx,
    const char **error_r)
{
	sqlite3_stmt *st = db_stmt(db, ST_TOKEN_LIST);
	struct db_token *t = xcalloc(1, sizeof(*t));
	int rc, ret = DB_OK;

	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		db_token_row(st, t);
		if ((ret = db_token_domains(db, t, error_r)) != DB_OK)
			break;
		if (cb(t, ctx) != 0)
			break;
	}
	sqlite3_reset(st);
	free(t);
	if (ret != DB_OK)
		return ret;
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return db_fail(db, rc, error_r);
	return DB_OK;
}

int
db_token_revoke(struct db *db, const char *name, const char **error_r)
{
	sqlite3_stmt *st = db_stmt(db, ST_TOKEN_REVOKE);

	db_bind_text(st, 1, name);
	return db_change_one(db, st, name, "token.revoke", "no such token",
	    error_r);
}

/* ---- Admins ---- */

static void
db_admin_row(sqlite3_stmt *st, struct db_admin *a)
{
	a->id = sqlite3_column_int64(st, 0);
	db_col_text(st, 1, a->name, sizeof(a->name));
	a->created = sqlite3_column_int64(st, 2);
	a->last_login = sqlite3_column_int64(st, 3);
}

int
db_admin_add(struct db *db, const char *name, const char *hash,
    const char **error_r)
{
	sqlite3_stmt *st;
	int ret;

	if ((ret = db_begin(db, error_r)) != DB_OK)
		return ret;
	st = db_stmt(db, ST_ADMIN_ADD);
	db_bind_text(st, 1, name);
	db_bind_text(st, 2, hash);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)time(NULL));
	ret = db_step_done(db, st, error_r);
	if (ret == DB_EXISTS && error_r != NULL)
		*error_r = "admin already exists";
	if (ret == DB_OK)
		ret = db_audit(db, "admin.add", name, NULL, error_r);
	return db_end(db, ret, error_r);
}

int
db_admin_get(struct db *db, const char *name, struct db_admin *a_r,
    char *hash_r, size_t hashsize, const char **error_r)
{
	sqlite3_stmt *st = db_stmt(db, ST_ADMIN_GET);
	int rc;

	db_bind_text(st, 1, name);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		db_admin_row(st, a_r);
		if (hash_r != NULL)
			db_col_text(st, 4, hash_r, hashsize);
	}
	sqlite3_reset(st);
	if (rc == SQLITE_ROW)
		return DB_OK;
	if (rc == SQLITE_DONE) {
		if (error_r != NULL)
			*error_r = "no such admin";
		return DB_NOT_FOUND;
	}
	return db_fail(db, rc, error_r);
}

int
db_admin_list(struct db *db,
    int (*cb)(const struct db_admin *a, void *ctx), void *ctx,
    const char **error_r)
{
	sqlite3_stmt *st = db_stmt(db, ST_ADMIN_LIST);
	struct db_admin a;
	int rc;

	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		db_admin_row(st, &a);
		if (cb(&a, ctx) != 0)
			break;
	}
	sqlite3_reset(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return db_fail(db, rc, error_r);
	return DB_OK;
}

static int
db_admin_change(struct db *db, sqlite3_stmt *st, const char *name,
    const char *action, const char **error_r)
{
	return db_change_one(db, st, name, action, "no such admin", error_r);
}

int
db_admin_remove(struct db *db, const char *name, const char **error_r)
{
	struct db_admin a;
	sqlite3_stmt *st;
	int64_t n = 0;
	int ret, rc;

	if ((ret = db_begin(db, error_r)) != DB_OK)
		return ret;
	if ((ret = db_admin_get(db, name, &a, NULL, 0, error_r)) != DB_OK)
		return db_end(db, ret, error_r);
	st = db_stmt(db, ST_ADMIN_COUNT);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		n = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	if (rc != SQLITE_ROW)
		return db_end(db, db_fail(db, rc, error_r), error_r);
	if (n <= 1) {
		if (error_r != NULL)
			*error_r = "the last admin cannot be removed (add "
			    "another first)";
		return db_end(db, DB_LAST_ADMIN, error_r);
	}
	st = db_stmt(db, ST_ADMIN_DEL);
	db_bind_text(st, 1, name);
	ret = db_step_done(db, st, error_r);
	if (ret == DB_OK) {
		st = db_stmt(db, ST_SESSION_DEL_USER);
		db_bind_text(st, 1, "admin");
		db_bind_text(st, 2, name);
		sqlite3_bind_int64(st, 3, 0);
		ret = db_step_done(db, st, error_r);
	}
	if (ret == DB_OK)
		ret = db_audit(db, "admin.remove", name, NULL, error_r);
	return db_end(db, ret, error_r);
}

int
db_admin_login(struct db *db, const char *name, const char *new_hash,
    const char **error_r)
{
	return db_login_record(db, ST_ADMIN_LOGIN, ST_ADMIN_LOGIN_REHASH, name,
	    new_hash, error_r);
}

/* ---- Sessions ---- */

int
db_session_add(struct db *db, const char *hash, const char *role,
    const char *user, const char *csrf, const char *remote, int64_t now,
    int64_t expires, int64_t *id_r, const char **error_r)
{
	sqlite3_stmt *st = db_stmt(db, ST_SESSION_ADD);
	int ret;

	db_bind_text(st, 1, hash);
	db_bind_text(st, 2, role);
	db_bind_text(st, 3, user);
	db_bind_text(st, 4, csrf);
	db_bind_text(st, 5, remote);
	sqlite3_bind_int64(st, 6, (sqlite3_int64)now);
	sqlite3_bind_int64(st, 7, (sqlite3_int64)now);
	sqlite3_bind_int64(st, 8, (sqlite3_int64)expires);
	ret = db_step_done(db, st, error_r);
	if (ret == DB_EXISTS && error_r != NULL)
		*error_r = "session id collision";
	*id_r = (int64_t)sqlite3_last_insert_rowid(db->conn);
	return ret;
}

int
db_session_get(struct db *db, const char *hash, struct db_session *s_r,
    const char **error_r)
{
	sqlite3_stmt *st = db_stmt(db, ST_SESSION_GET);
	int rc;

	db_bind_text(st, 1, hash);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		s_r->id = sqlite3_column_int64(st, 0);
		db_col_text(st, 1, s_r->role, sizeof(s_r->role));
		db_col_text(st, 2, s_r->user, sizeof(s_r->user));
		db_col_text(st, 3, s_r->csrf, sizeof(s_r->csrf));
		s_r->created = sqlite3_column_int64(st, 4);
		s_r->last_seen = sqlite3_column_int64(st, 5);
		s_r->expires = sqlite3_column_int64(st, 6);
	}
	sqlite3_reset(st);
	if (rc == SQLITE_ROW)
		return DB_OK;
	if (rc == SQLITE_DONE) {
		if (error_r != NULL)
			*error_r = "no such session";
		return DB_NOT_FOUND;
	}
	return db_fail(db, rc, error_r);
}

void
db_session_touch(struct db *db, int64_t id, int64_t now)
{
	sqlite3_stmt *st = db_stmt(db, ST_SESSION_TOUCH);

	sqlite3_bind_int64(st, 1, (sqlite3_int64)now);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)id);
	sqlite3_step(st);
	sqlite3_reset(st);
}

int
db_session_remove(struct db *db, int64_t id, const char **error_r)
{
	sqlite3_stmt *st = db_stmt(db, ST_SESSION_DEL);

	sqlite3_bind_int64(st, 1, (sqlite3_int64)id);
	return db_step_done(db, st, error_r);
}

int
db_session_remove_user(struct db *db, const char *role, const char *user,
    int64_t keep, const char **error_r)
{
	sqlite3_stmt *st = db_stmt(db, ST_SESSION_DEL_USER);

	db_bind_text(st, 1, role);
	db_bind_text(st, 2, user);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)keep);
	return db_step_done(db, st, error_r);
}

int
db_session_expire(struct db *db, int64_t now, int64_t idle_before,
    const char **error_r)
{
	sqlite3_stmt *st = db_stmt(db, ST_SESSION_EXPIRE);

	sqlite3_bind_int64(st, 1, (sqlite3_int64)now);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)idle_before);
	return db_step_done(db, st, error_r);
}

int
db_admin_set_password(struct db *db, const char *name, const char *hash,
    const char **error_r)
{
	sqlite3_stmt *st = db_stmt(db, ST_ADMIN_SET_PW);

	db_bind_text(st, 1, hash);
	db_bind_text(st, 2, name);
	return db_admin_change(db, st, name, "admin.passwd", error_r);
}

/* ---- Per-thread connections ---- */

static char db_thread_path[4096];
static pthread_key_t db_thread_key;
static pthread_once_t db_thread_once = PTHREAD_ONCE_INIT;

static void
db_thread_destroy(void *p)
{
	struct db *db = p;

	db_close(&db);
}

static void
db_thread_key_init(void)
{
	pthread_key_create(&db_thread_key, db_thread_destroy);
}

void
db_thread_init(const char *path)
{
	str_lcpy(db_thread_path, path, sizeof(db_thread_path));
	pthread_once(&db_thread_once, db_thread_key_init);
}

struct db *
db_thread_get(const char **error_r)
{
	struct db *db = pthread_getspecific(db_thread_key);

	if (db != NULL)
		return db;
	if (db_open(db_thread_path, false, &db, error_r) != DB_OK)
		return NULL;
	pthread_setspecific(db_thread_key, db);
	return db;
}
