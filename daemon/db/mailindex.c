#include <sys/file.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "db/mailindex.h"
#include "lib/log.h"
#include "lib/util.h"

#define MAILINDEX_BUSY_TIMEOUT_MS 5000

/*
 * Schema migrations: entry v brings user_version from v to v + 1.
 * messages is WITHOUT ROWID keyed by (folder_id, uid): a folder's
 * messages are contiguous in UID order, which is how POP3 lists them and
 * how IMAP resolves UID sets. The (folder_id, base) index finds a Maildir
 * file's row during a sync. flags holds the Maildir info letters
 * ("DFRST"), keywords the IMAP keywords (space separated); envelope and
 * bodystructure are IMAP's cached FETCH items, filled on first use.
 */
static const char *const mailindex_migrations[] = {
	"CREATE TABLE folders ("
	"  id INTEGER PRIMARY KEY,"
	"  name TEXT UNIQUE NOT NULL,"
	"  uidvalidity INTEGER NOT NULL,"
	"  uidnext INTEGER NOT NULL,"
	"  highestmodseq INTEGER NOT NULL DEFAULT 1,"
	"  subscribed INTEGER NOT NULL DEFAULT 1,"
	"  special_use TEXT"
	");"
	"CREATE TABLE messages ("
	"  folder_id INTEGER NOT NULL REFERENCES folders (id) "
	"    ON DELETE CASCADE,"
	"  uid INTEGER NOT NULL,"
	"  base TEXT NOT NULL,"
	"  size INTEGER NOT NULL,"
	"  vsize INTEGER NOT NULL,"
	"  internal_date INTEGER NOT NULL,"
	"  flags TEXT NOT NULL DEFAULT '',"
	"  keywords TEXT NOT NULL DEFAULT '',"
	"  modseq INTEGER NOT NULL DEFAULT 1,"
	"  envelope TEXT,"
	"  bodystructure TEXT,"
	"  PRIMARY KEY (folder_id, uid)"
	") WITHOUT ROWID;"
	"CREATE UNIQUE INDEX messages_base ON messages (folder_id, base);",
	/* IMAP: \\Recent claims (messages from recent_uid on were never
	 * seen by a read-write SELECT), the cur/ mtime the index last
	 * matched, expunged UIDs by MODSEQ (other sessions learn of
	 * expunges from them), BODY (non-extensible) cache, and the
	 * subscriptions (RFC 3501 6.3.6: names that need not exist). */
	"ALTER TABLE folders ADD COLUMN recent_uid INTEGER NOT NULL DEFAULT 1;"
	"ALTER TABLE folders ADD COLUMN cur_mtime INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE messages ADD COLUMN body TEXT;"
	"CREATE INDEX messages_modseq ON messages (folder_id, modseq);"
	"CREATE TABLE expunged ("
	"  folder_id INTEGER NOT NULL REFERENCES folders (id) "
	"    ON DELETE CASCADE,"
	"  uid INTEGER NOT NULL,"
	"  modseq INTEGER NOT NULL,"
	"  PRIMARY KEY (folder_id, uid)"
	") WITHOUT ROWID;"
	"CREATE INDEX expunged_modseq ON expunged (folder_id, modseq);"
	"CREATE TABLE subscriptions (name TEXT PRIMARY KEY) WITHOUT ROWID;"
	"INSERT INTO subscriptions (name) VALUES ('INBOX');"
	"CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL) "
	"  WITHOUT ROWID;"
	"INSERT INTO meta (key, value) SELECT 'last_uidvalidity', "
	"  max(uidvalidity) FROM folders;",
};

enum mailindex_stmt_id {
	MI_BEGIN, MI_COMMIT, MI_ROLLBACK,
	MI_FOLDER_GET, MI_FOLDER_UPDATE, MI_FOLDER_ADD, MI_FOLDER_DEL,
	MI_FOLDER_RENAME, MI_FOLDERS_LIST, MI_FOLDER_COUNTS,
	MI_MSGS_LOAD, MI_MSGS_CHANGED, MI_EXPUNGED_SINCE, MI_MSG_GET,
	MI_MSG_BY_BASE, MI_MSG_ADD, MI_MSG_DEL, MI_EXPUNGED_ADD,
	MI_MSG_FLAGS, MI_CACHE_GET, MI_CACHE_SET,
	MI_SUB_ADD, MI_SUB_DEL, MI_SUBS_LIST, MI_SUB_RENAME,
	MI_LAST_UIDVALIDITY, MI_SET_UIDVALIDITY,
	MI_COUNT
};

#define MI_MSG_COLS "uid, base, size, vsize, internal_date, flags, " \
	"keywords, modseq"
#define MI_FOLDER_COLS "id, name, uidvalidity, uidnext, highestmodseq, " \
	"recent_uid, cur_mtime, special_use"

static const char *const mailindex_sql[MI_COUNT] = {
	[MI_BEGIN] = "BEGIN IMMEDIATE",
	[MI_COMMIT] = "COMMIT",
	[MI_ROLLBACK] = "ROLLBACK",
	[MI_FOLDER_GET] = "SELECT " MI_FOLDER_COLS " FROM folders "
	    "WHERE name = ?",
	[MI_FOLDER_UPDATE] = "UPDATE folders SET uidnext = ?, "
	    "highestmodseq = ?, recent_uid = ?, cur_mtime = ? WHERE id = ?",
	[MI_FOLDER_ADD] = "INSERT INTO folders (name, uidvalidity, uidnext, "
	    "special_use) VALUES (?, ?, 1, ?)",
	[MI_FOLDER_DEL] = "DELETE FROM folders WHERE id = ?",
	/* The folder and its children ("Old/x" -> "New/x"). */
	[MI_FOLDER_RENAME] = "UPDATE folders SET name = ?2 || "
	    "substr(name, length(?1) + 1) WHERE name = ?1 OR "
	    "substr(name, 1, length(?1) + 1) = ?1 || '/'",
	[MI_FOLDERS_LIST] = "SELECT " MI_FOLDER_COLS " FROM folders "
	    "ORDER BY name",
	[MI_FOLDER_COUNTS] = "SELECT count(*), "
	    "coalesce(sum(instr(flags, 'S') = 0), 0), "
	    "coalesce(sum(uid >= ?2), 0) FROM messages WHERE folder_id = ?1",
	[MI_MSGS_LOAD] = "SELECT " MI_MSG_COLS " FROM messages "
	    "WHERE folder_id = ? ORDER BY uid",
	[MI_MSGS_CHANGED] = "SELECT " MI_MSG_COLS " FROM messages "
	    "WHERE folder_id = ? AND modseq > ? ORDER BY uid",
	[MI_EXPUNGED_SINCE] = "SELECT uid FROM expunged "
	    "WHERE folder_id = ? AND modseq > ? ORDER BY uid",
	[MI_MSG_GET] = "SELECT " MI_MSG_COLS " FROM messages "
	    "WHERE folder_id = ? AND uid = ?",
	[MI_MSG_BY_BASE] = "SELECT " MI_MSG_COLS " FROM messages "
	    "WHERE folder_id = ? AND base = ?",
	[MI_MSG_ADD] = "INSERT INTO messages (folder_id, uid, base, size, "
	    "vsize, internal_date, modseq, flags, keywords) "
	    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
	[MI_MSG_DEL] = "DELETE FROM messages WHERE folder_id = ? AND uid = ?",
	[MI_EXPUNGED_ADD] = "INSERT OR REPLACE INTO expunged (folder_id, uid, "
	    "modseq) VALUES (?, ?, ?)",
	[MI_MSG_FLAGS] = "UPDATE messages SET flags = ?, keywords = ?, "
	    "modseq = ? WHERE folder_id = ? AND uid = ?",
	[MI_CACHE_GET] = "SELECT envelope, bodystructure, body FROM messages "
	    "WHERE folder_id = ? AND uid = ?",
	[MI_CACHE_SET] = "UPDATE messages SET envelope = ?, bodystructure = ?, "
	    "body = ? WHERE folder_id = ? AND uid = ?",
	[MI_SUB_ADD] = "INSERT OR IGNORE INTO subscriptions (name) VALUES (?)",
	[MI_SUB_DEL] = "DELETE FROM subscriptions WHERE name = ?",
	[MI_SUBS_LIST] = "SELECT name FROM subscriptions ORDER BY name",
	[MI_SUB_RENAME] = "UPDATE OR REPLACE subscriptions SET name = ?2 || "
	    "substr(name, length(?1) + 1) WHERE name = ?1 OR "
	    "substr(name, 1, length(?1) + 1) = ?1 || '/'",
	[MI_LAST_UIDVALIDITY] = "SELECT value FROM meta "
	    "WHERE key = 'last_uidvalidity'",
	[MI_SET_UIDVALIDITY] = "INSERT OR REPLACE INTO meta (key, value) "
	    "VALUES ('last_uidvalidity', ?)",
};

struct mailindex {
	bool corrupt;		/* a call failed with MAILINDEX_CORRUPT */
	sqlite3 *conn;
	sqlite3_stmt *st[MI_COUNT];
	char *path;
};

static __thread char mailindex_errbuf[256];

static int
mailindex_status_of(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return MAILINDEX_BUSY;
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB:
		return MAILINDEX_CORRUPT;
	default:
		return MAILINDEX_ERROR;
	}
}

/* SQLite's error becomes text once, here. */
static int
mailindex_fail_msg(int rc, const char *msg, const char **error_r)
{
	int status = mailindex_status_of(rc);

	if (str_printf(mailindex_errbuf, sizeof(mailindex_errbuf),
	    "mail index: %s", msg != NULL ? msg : sqlite3_errstr(rc)) < 0)
		str_lcpy(mailindex_errbuf, "mail index error",
		    sizeof(mailindex_errbuf));
	if (error_r != NULL)
		*error_r = mailindex_errbuf;
	/* Corruption is reported once, by the recovery that follows. */
	if (status != MAILINDEX_CORRUPT)
		log_error("event=mailindex_error error=\"%s\"",
		    mailindex_errbuf);
	return status;
}

static int
mailindex_fail(struct mailindex *ix, int rc, const char **error_r)
{
	int ret = mailindex_fail_msg(rc, ix != NULL && ix->conn != NULL ?
	    sqlite3_errmsg(ix->conn) : NULL, error_r);

	if (ret == MAILINDEX_CORRUPT && ix != NULL)
		ix->corrupt = true;
	return ret;
}

static int
mailindex_exec(struct mailindex *ix, const char *sql, const char **error_r)
{
	char *msg = NULL;
	int rc = sqlite3_exec(ix->conn, sql, NULL, NULL, &msg);
	int ret = MAILINDEX_OK;

	if (rc != SQLITE_OK)
		ret = mailindex_fail_msg(rc, msg, error_r);
	sqlite3_free(msg);
	return ret;
}

/* Runs a one-value query (a PRAGMA) outside the prepared set; the value
 * goes to *value_r or, as text, to text (when not NULL). */
static int
mailindex_query(struct mailindex *ix, const char *sql, int64_t *value_r,
    char *text, size_t textsize, const char **error_r)
{
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(ix->conn, sql, -1, &st, NULL);

	if (rc != SQLITE_OK)
		return mailindex_fail(ix, rc, error_r);
	rc = sqlite3_step(st);
	if (value_r != NULL)
		*value_r = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
	if (text != NULL) {
		const unsigned char *t = rc == SQLITE_ROW ?
		    sqlite3_column_text(st, 0) : NULL;

		str_lcpy(text, t != NULL ? (const char *)t : "", textsize);
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return mailindex_fail(ix, rc, error_r);
	return MAILINDEX_OK;
}

/* ---- statement helpers ---- */

static sqlite3_stmt *
mailindex_stmt(struct mailindex *ix, enum mailindex_stmt_id id)
{
	sqlite3_reset(ix->st[id]);
	sqlite3_clear_bindings(ix->st[id]);
	return ix->st[id];
}

/* Steps a statement that returns no row; resets it. */
static int
mailindex_step_done(struct mailindex *ix, sqlite3_stmt *st,
    const char **error_r)
{
	int rc = sqlite3_step(st);
	int ret = MAILINDEX_OK;

	if (rc != SQLITE_DONE)
		ret = mailindex_fail(ix, rc, error_r);
	sqlite3_reset(st);
	return ret;
}

/* ---- open, schema, recovery ---- */

/* RFC 3501 2.3.1.1: UIDVALIDITY is a non-zero 32-bit value that must
 * grow when UIDs are assigned afresh: the creation time, which is never
 * later than the index file's last write (min only matters when the
 * clock went back). */
static uint32_t
mailindex_uidvalidity_new(uint32_t min)
{
	uint32_t v = (uint32_t)time(NULL);

	if (v < min)
		v = min;
	return v != 0 ? v : 1;
}

static int
mailindex_migrate(struct mailindex *ix, uint32_t uidvalidity_min,
    const char **error_r)
{
	size_t count = ARRAY_SIZE(mailindex_migrations);
	int64_t version;
	char sql[160];
	int ret;

	if ((ret = mailindex_exec(ix, "BEGIN IMMEDIATE", error_r)) !=
	    MAILINDEX_OK)
		return ret;
	if ((ret = mailindex_query(ix, "PRAGMA user_version", &version, NULL,
	    0, error_r)) != MAILINDEX_OK)
		goto fail;
	if (version > (int64_t)count) {
		str_printf(mailindex_errbuf, sizeof(mailindex_errbuf),
		    "mail index schema version %lld is newer than this "
		    "binary's (%zu): upgrade facteur", (long long)version,
		    count);
		if (error_r != NULL)
			*error_r = mailindex_errbuf;
		ret = MAILINDEX_TOO_NEW;
		goto fail;
	}
	for (int64_t v = version; v < (int64_t)count; v++) {
		if ((ret = mailindex_exec(ix, mailindex_migrations[v],
		    error_r)) != MAILINDEX_OK)
			goto fail;
		if (v == 0) {
			/* Version 1 creates the folders: INBOX always
			 * exists (RFC 3501 5.1). */
			str_printf(sql, sizeof(sql), "INSERT INTO folders "
			    "(name, uidvalidity, uidnext) VALUES ('%s', %u, 1)",
			    MAILINDEX_INBOX,
			    mailindex_uidvalidity_new(uidvalidity_min));
			if ((ret = mailindex_exec(ix, sql, error_r)) !=
			    MAILINDEX_OK)
				goto fail;
		}
		str_printf(sql, sizeof(sql), "PRAGMA user_version = %lld",
		    (long long)v + 1);
		if ((ret = mailindex_exec(ix, sql, error_r)) != MAILINDEX_OK)
			goto fail;
	}
	return mailindex_exec(ix, "COMMIT", error_r);
fail:
	mailindex_exec(ix, "ROLLBACK", NULL);
	return ret;
}

/* Locks the index's directory (against concurrent creation and
 * recovery of the index, between threads and processes); fd or -1. */
static int
mailindex_lock_dir(const char *path, const char **error_r)
{
	char dir[4096];
	char *slash;
	int fd;

	str_lcpy(dir, path, sizeof(dir));
	slash = strrchr(dir, '/');
	if (slash == dir)
		slash[1] = '\0';
	else if (slash != NULL)
		*slash = '\0';
	else
		str_lcpy(dir, ".", sizeof(dir));
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		*error_r = "mail index: cannot open its directory";
		return -1;
	}
	while (flock(fd, LOCK_EX) < 0) {
		if (errno != EINTR) {
			close(fd);
			*error_r = "mail index: cannot lock its directory";
			return -1;
		}
	}
	return fd;
}

/* Whether the file is already a WAL database at this binary's schema,
 * the case of every open but the first. */
static int
mailindex_ready(struct mailindex *ix, bool *ready_r, const char **error_r)
{
	char mode[16];
	int64_t version;
	int ret;

	*ready_r = false;
	if ((ret = mailindex_query(ix, "PRAGMA journal_mode", NULL, mode,
	    sizeof(mode), error_r)) != MAILINDEX_OK ||
	    (ret = mailindex_query(ix, "PRAGMA user_version", &version, NULL,
	    0, error_r)) != MAILINDEX_OK)
		return ret;
	*ready_r = strcmp(mode, "wal") == 0 &&
	    version == (int64_t)ARRAY_SIZE(mailindex_migrations);
	return MAILINDEX_OK;
}

/*
 * Switches a new file to WAL and creates or migrates the schema. Under
 * the directory lock: two connections changing the journal mode of the
 * same new file at once would deadlock, and SQLite then fails one at
 * once with SQLITE_BUSY rather than waiting.
 */
static int
mailindex_setup(struct mailindex *ix, uint32_t uidvalidity_min,
    bool dir_locked, const char **error_r)
{
	bool ready;
	int lock = -1, ret;

	if ((ret = mailindex_ready(ix, &ready, error_r)) != MAILINDEX_OK ||
	    ready)
		return ret;
	if (!dir_locked &&
	    (lock = mailindex_lock_dir(ix->path, error_r)) < 0)
		return MAILINDEX_ERROR;
	if ((ret = mailindex_exec(ix, "PRAGMA journal_mode = WAL",
	    error_r)) == MAILINDEX_OK)
		ret = mailindex_migrate(ix, uidvalidity_min, error_r);
	if (lock >= 0)
		close(lock);
	return ret;
}

static int
mailindex_open_conn(const char *path, uint32_t uidvalidity_min,
    bool dir_locked, struct mailindex **ix_r, const char **error_r)
{
	struct mailindex *ix = xcalloc(1, sizeof(*ix));
	int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
	    SQLITE_OPEN_NOMUTEX;
	int rc, ret;

	*ix_r = NULL;
	ix->path = xstrdup(path);
	rc = sqlite3_open_v2(path, &ix->conn, flags, NULL);
	if (rc != SQLITE_OK) {
		ret = mailindex_fail(ix, rc, error_r);
		mailindex_close(&ix);
		return ret;
	}
	sqlite3_busy_timeout(ix->conn, MAILINDEX_BUSY_TIMEOUT_MS);
	/* The first statements read the header: a file that is not a
	 * database fails here with SQLITE_NOTADB. */
	if ((ret = mailindex_setup(ix, uidvalidity_min, dir_locked,
	    error_r)) != MAILINDEX_OK ||
	    (ret = mailindex_exec(ix, "PRAGMA synchronous = NORMAL",
	    error_r)) != MAILINDEX_OK ||
	    (ret = mailindex_exec(ix, "PRAGMA foreign_keys = ON",
	    error_r)) != MAILINDEX_OK) {
		mailindex_close(&ix);
		return ret;
	}
	for (int i = 0; i < MI_COUNT; i++) {
		rc = sqlite3_prepare_v3(ix->conn, mailindex_sql[i], -1,
		    SQLITE_PREPARE_PERSISTENT, &ix->st[i], NULL);
		if (rc != SQLITE_OK) {
			ret = mailindex_fail(ix, rc, error_r);
			mailindex_close(&ix);
			return ret;
		}
	}
	*ix_r = ix;
	return MAILINDEX_OK;
}

void
mailindex_close(struct mailindex **ixp)
{
	struct mailindex *ix = *ixp;

	if (ix == NULL)
		return;
	for (int i = 0; i < MI_COUNT; i++)
		sqlite3_finalize(ix->st[i]);
	sqlite3_close(ix->conn);
	free(ix->path);
	free(ix);
	*ixp = NULL;
}

/* Full check of an open index, for recovery only (reads every page):
 * MAILINDEX_OK, MAILINDEX_CORRUPT or another error. */
static int
mailindex_check(struct mailindex *ix, const char **error_r)
{
	sqlite3_stmt *st;
	const unsigned char *s;
	int rc, ret = MAILINDEX_OK;

	rc = sqlite3_prepare_v2(ix->conn, "PRAGMA quick_check(1)", -1, &st,
	    NULL);
	if (rc != SQLITE_OK)
		return mailindex_fail(ix, rc, error_r);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		s = sqlite3_column_text(st, 0);
		if (s == NULL || strcmp((const char *)s, "ok") != 0) {
			if (error_r != NULL)
				*error_r = "mail index: damaged";
			ret = MAILINDEX_CORRUPT;
		}
	} else {
		ret = mailindex_fail(ix, rc, error_r);
	}
	sqlite3_finalize(st);
	return ret;
}

/* Latest modification second of the index file and its WAL. */
static time_t
mailindex_mtime(const char *path, const char *wal)
{
	struct stat st;
	time_t t = 0;

	if (stat(path, &st) == 0)
		t = st.st_mtime;
	if (stat(wal, &st) == 0 && st.st_mtime > t)
		t = st.st_mtime;
	return t;
}

/*
 * Renames the damaged index (and its WAL) aside; returns the smallest
 * UIDVALIDITY its replacement may use, or 0 with *error_r. The lost
 * UIDVALIDITY was the lost file's creation time, so at most its last
 * modification time: the new one must be later. Waiting out the current
 * second (at most one, on a worker thread, in a rare path) keeps every
 * UIDVALIDITY at or below its file's times, which is what makes this
 * bound hold for the next rebuild too.
 */
static uint32_t
mailindex_set_aside(const char *path, const char **error_r)
{
	char wal[4096], shm[4096], aside[4096], aside_wal[4096];
	time_t now = time(NULL), last;
	struct stat st;

	if (str_printf(wal, sizeof(wal), "%s-wal", path) < 0 ||
	    str_printf(shm, sizeof(shm), "%s-shm", path) < 0) {
		*error_r = "mail index: path too long";
		return 0;
	}
	last = mailindex_mtime(path, wal);
	for (unsigned n = 0;; n++) {
		if ((n == 0 ? str_printf(aside, sizeof(aside),
		    "%s.corrupt.%lld", path, (long long)now) :
		    str_printf(aside, sizeof(aside), "%s.corrupt.%lld.%u",
		    path, (long long)now, n)) < 0 ||
		    str_printf(aside_wal, sizeof(aside_wal), "%s-wal",
		    aside) < 0) {
			*error_r = "mail index: path too long";
			return 0;
		}
		if (lstat(aside, &st) < 0 && errno == ENOENT)
			break;
	}
	if (rename(path, aside) < 0 && errno != ENOENT) {
		*error_r = "mail index: cannot rename the damaged index";
		return 0;
	}
	/* A stale WAL would be replayed into the new file. */
	if (rename(wal, aside_wal) < 0 && errno != ENOENT) {
		*error_r = "mail index: cannot rename the damaged WAL";
		return 0;
	}
	unlink(shm);
	log_warn("event=mailindex_corrupt path=%s moved_to=%s action=rebuild",
	    path, aside);
	/* A modification time in the future (clock skew) is not waited
	 * for: min then takes over. */
	while (time(NULL) <= last && last <= now + 1) {
		struct timespec ts = { 0, 50 * 1000 * 1000 };

		nanosleep(&ts, NULL);
	}
	return (uint32_t)last + 1;
}

/*
 * Opens path for a recovery: when the file there is still damaged (and
 * not already replaced by another connection's recovery), sets it aside
 * and creates a new one. full_check: the damage was seen by a query, so
 * a successful open does not prove the file sound.
 */
static int
mailindex_rebuild(const char *path, bool full_check, struct mailindex **ix_r,
    const char **error_r)
{
	struct mailindex *ix = NULL;
	uint32_t min;
	int lock, ret;

	*ix_r = NULL;
	if ((lock = mailindex_lock_dir(path, error_r)) < 0)
		return MAILINDEX_ERROR;
	ret = mailindex_open_conn(path, 0, true, &ix, error_r);
	if (ret == MAILINDEX_OK && full_check)
		ret = mailindex_check(ix, error_r);
	if (ret == MAILINDEX_CORRUPT) {
		mailindex_close(&ix);
		min = mailindex_set_aside(path, error_r);
		ret = min != 0 ?
		    mailindex_open_conn(path, min, true, &ix, error_r) :
		    MAILINDEX_ERROR;
	}
	close(lock);
	if (ret != MAILINDEX_OK) {
		mailindex_close(&ix);
		return ret;
	}
	*ix_r = ix;
	return MAILINDEX_OK;
}

int
mailindex_open(const char *path, struct mailindex **ix_r,
    const char **error_r)
{
	int ret = mailindex_open_conn(path, 0, false, ix_r, error_r);

	if (ret != MAILINDEX_CORRUPT)
		return ret;
	return mailindex_rebuild(path, false, ix_r, error_r);
}

int
mailindex_recover(struct mailindex **ixp, const char **error_r)
{
	char *path = xstrdup((*ixp)->path);
	int ret;

	mailindex_close(ixp);
	ret = mailindex_rebuild(path, true, ixp, error_r);
	free(path);
	return ret;
}

/* ---- transactions ---- */

int
mailindex_begin(struct mailindex *ix, const char **error_r)
{
	return mailindex_step_done(ix, mailindex_stmt(ix, MI_BEGIN), error_r);
}

int
mailindex_commit(struct mailindex *ix, const char **error_r)
{
	int ret = mailindex_step_done(ix, mailindex_stmt(ix, MI_COMMIT),
	    error_r);

	if (ret != MAILINDEX_OK)
		mailindex_rollback(ix);
	return ret;
}

void
mailindex_rollback(struct mailindex *ix)
{
	/* Fails harmlessly when SQLite already rolled back on an error. */
	if (!sqlite3_get_autocommit(ix->conn))
		mailindex_step_done(ix, mailindex_stmt(ix, MI_ROLLBACK), NULL);
}


/* ---- folders ---- */

static void
mailindex_col_str(sqlite3_stmt *st, int col, char *out, size_t size)
{
	const unsigned char *s = sqlite3_column_text(st, col);

	str_lcpy(out, s != NULL ? (const char *)s : "", size);
}

static void
mailindex_folder_row(sqlite3_stmt *st, struct mailindex_folder *f)
{
	f->id = sqlite3_column_int64(st, 0);
	mailindex_col_str(st, 1, f->name, sizeof(f->name));
	f->uidvalidity = (uint32_t)sqlite3_column_int64(st, 2);
	f->uidnext = (uint32_t)sqlite3_column_int64(st, 3);
	f->highestmodseq = (uint64_t)sqlite3_column_int64(st, 4);
	f->recent_uid = (uint32_t)sqlite3_column_int64(st, 5);
	f->cur_mtime = sqlite3_column_int64(st, 6);
	mailindex_col_str(st, 7, f->special_use, sizeof(f->special_use));
}

int
mailindex_folder_get(struct mailindex *ix, const char *name,
    struct mailindex_folder *f_r, const char **error_r)
{
	sqlite3_stmt *st = mailindex_stmt(ix, MI_FOLDER_GET);
	int rc;

	sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		mailindex_folder_row(st, f_r);
	sqlite3_reset(st);
	if (rc == SQLITE_ROW)
		return 1;
	if (rc == SQLITE_DONE)
		return 0;
	return mailindex_fail(ix, rc, error_r);
}

int
mailindex_folder_update(struct mailindex *ix,
    const struct mailindex_folder *f, const char **error_r)
{
	sqlite3_stmt *st = mailindex_stmt(ix, MI_FOLDER_UPDATE);

	sqlite3_bind_int64(st, 1, (sqlite3_int64)f->uidnext);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)f->highestmodseq);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)f->recent_uid);
	sqlite3_bind_int64(st, 4, f->cur_mtime);
	sqlite3_bind_int64(st, 5, f->id);
	return mailindex_step_done(ix, st, error_r);
}

/* One integer from a single-row statement; *v_r untouched when no row. */
static int
mailindex_step_int(struct mailindex *ix, sqlite3_stmt *st, int64_t *v_r,
    const char **error_r)
{
	int rc = sqlite3_step(st);

	if (rc == SQLITE_ROW)
		*v_r = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	if (rc == SQLITE_ROW || rc == SQLITE_DONE)
		return MAILINDEX_OK;
	return mailindex_fail(ix, rc, error_r);
}

int
mailindex_folder_add(struct mailindex *ix, const char *name,
    const char *special_use, struct mailindex_folder *f_r,
    const char **error_r)
{
	sqlite3_stmt *st;
	int64_t last = 0;
	uint32_t v;
	int ret;

	/* A folder deleted and created again must get a greater
	 * UIDVALIDITY (RFC 3501 2.3.1.1), even within one second. */
	if ((ret = mailindex_step_int(ix, mailindex_stmt(ix,
	    MI_LAST_UIDVALIDITY), &last, error_r)) != MAILINDEX_OK)
		return ret;
	v = mailindex_uidvalidity_new(last >= UINT32_MAX ? UINT32_MAX :
	    (uint32_t)last + 1);
	st = mailindex_stmt(ix, MI_SET_UIDVALIDITY);
	sqlite3_bind_int64(st, 1, (sqlite3_int64)v);
	if ((ret = mailindex_step_done(ix, st, error_r)) != MAILINDEX_OK)
		return ret;
	st = mailindex_stmt(ix, MI_FOLDER_ADD);
	sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)v);
	if (special_use != NULL)
		sqlite3_bind_text(st, 3, special_use, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(st, 3);
	if ((ret = mailindex_step_done(ix, st, error_r)) != MAILINDEX_OK)
		return ret;
	ret = mailindex_folder_get(ix, name, f_r, error_r);
	if (ret == 0) {
		*error_r = "mail index: folder vanished after insert";
		return MAILINDEX_ERROR;
	}
	return ret < 0 ? ret : MAILINDEX_OK;
}

int
mailindex_folder_remove(struct mailindex *ix, int64_t id,
    const char **error_r)
{
	sqlite3_stmt *st = mailindex_stmt(ix, MI_FOLDER_DEL);

	sqlite3_bind_int64(st, 1, id);
	return mailindex_step_done(ix, st, error_r);
}

int
mailindex_folder_rename(struct mailindex *ix, const char *from,
    const char *to, const char **error_r)
{
	static const enum mailindex_stmt_id ids[] = {
		MI_FOLDER_RENAME, MI_SUB_RENAME
	};
	int ret = MAILINDEX_OK;

	for (size_t i = 0; i < ARRAY_SIZE(ids) && ret == MAILINDEX_OK; i++) {
		sqlite3_stmt *st = mailindex_stmt(ix, ids[i]);

		sqlite3_bind_text(st, 1, from, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(st, 2, to, -1, SQLITE_TRANSIENT);
		ret = mailindex_step_done(ix, st, error_r);
	}
	return ret;
}

int
mailindex_folders_list(struct mailindex *ix,
    struct mailindex_folder **list_r, size_t *count_r, const char **error_r)
{
	sqlite3_stmt *st = mailindex_stmt(ix, MI_FOLDERS_LIST);
	struct mailindex_folder *list = NULL;
	size_t n = 0, cap = 0;
	int rc;

	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (n == cap) {
			cap = cap != 0 ? cap * 2 : 16;
			list = xrealloc(list, cap * sizeof(*list));
		}
		mailindex_folder_row(st, &list[n++]);
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		free(list);
		return mailindex_fail(ix, rc, error_r);
	}
	*list_r = list;
	*count_r = n;
	return MAILINDEX_OK;
}

int
mailindex_folder_counts(struct mailindex *ix,
    const struct mailindex_folder *f, uint32_t *messages_r,
    uint32_t *unseen_r, uint32_t *recent_r, const char **error_r)
{
	sqlite3_stmt *st = mailindex_stmt(ix, MI_FOLDER_COUNTS);
	int rc;

	sqlite3_bind_int64(st, 1, f->id);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)f->recent_uid);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*messages_r = (uint32_t)sqlite3_column_int64(st, 0);
		*unseen_r = (uint32_t)sqlite3_column_int64(st, 1);
		*recent_r = (uint32_t)sqlite3_column_int64(st, 2);
	}
	sqlite3_reset(st);
	if (rc != SQLITE_ROW)
		return mailindex_fail(ix, rc, error_r);
	return MAILINDEX_OK;
}

/* ---- messages ---- */

static void
mailindex_msg_row(sqlite3_stmt *st, struct mailindex_msg *m)
{
	const unsigned char *base = sqlite3_column_text(st, 1);
	const unsigned char *kw = sqlite3_column_text(st, 6);

	m->uid = (uint32_t)sqlite3_column_int64(st, 0);
	m->base = xstrdup(base != NULL ? (const char *)base : "");
	m->size = (uint64_t)sqlite3_column_int64(st, 2);
	m->vsize = (uint64_t)sqlite3_column_int64(st, 3);
	m->internal_date = sqlite3_column_int64(st, 4);
	mailindex_col_str(st, 5, m->flags, sizeof(m->flags));
	m->keywords = kw != NULL && kw[0] != '\0' ?
	    xstrdup((const char *)kw) : NULL;
	m->modseq = (uint64_t)sqlite3_column_int64(st, 7);
}

static int
mailindex_msgs_query(struct mailindex *ix, sqlite3_stmt *st,
    struct mailindex_msg **msgs_r, size_t *count_r, const char **error_r)
{
	struct mailindex_msg *msgs = NULL;
	size_t n = 0, cap = 0;
	int rc;

	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (n == cap) {
			cap = cap != 0 ? cap * 2 : 64;
			msgs = xrealloc(msgs, cap * sizeof(*msgs));
		}
		mailindex_msg_row(st, &msgs[n++]);
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		mailindex_msgs_free(msgs, n);
		return mailindex_fail(ix, rc, error_r);
	}
	*msgs_r = msgs;
	*count_r = n;
	return MAILINDEX_OK;
}

int
mailindex_msgs_load(struct mailindex *ix, int64_t folder_id,
    struct mailindex_msg **msgs_r, size_t *count_r, const char **error_r)
{
	sqlite3_stmt *st = mailindex_stmt(ix, MI_MSGS_LOAD);

	sqlite3_bind_int64(st, 1, folder_id);
	return mailindex_msgs_query(ix, st, msgs_r, count_r, error_r);
}

int
mailindex_msgs_changed(struct mailindex *ix, int64_t folder_id,
    uint64_t modseq, struct mailindex_msg **msgs_r, size_t *count_r,
    const char **error_r)
{
	sqlite3_stmt *st = mailindex_stmt(ix, MI_MSGS_CHANGED);

	sqlite3_bind_int64(st, 1, folder_id);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)modseq);
	return mailindex_msgs_query(ix, st, msgs_r, count_r, error_r);
}

void
mailindex_msg_clear(struct mailindex_msg *m)
{
	free(m->base);
	free(m->keywords);
	m->base = NULL;
	m->keywords = NULL;
}

void
mailindex_msgs_free(struct mailindex_msg *msgs, size_t count)
{
	for (size_t i = 0; msgs != NULL && i < count; i++)
		mailindex_msg_clear(&msgs[i]);
	free(msgs);
}

int
mailindex_expunged_since(struct mailindex *ix, int64_t folder_id,
    uint64_t modseq, uint32_t **uids_r, size_t *count_r,
    const char **error_r)
{
	sqlite3_stmt *st = mailindex_stmt(ix, MI_EXPUNGED_SINCE);
	uint32_t *uids = NULL;
	size_t n = 0, cap = 0;
	int rc;

	sqlite3_bind_int64(st, 1, folder_id);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)modseq);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (n == cap) {
			cap = cap != 0 ? cap * 2 : 64;
			uids = xrealloc(uids, cap * sizeof(*uids));
		}
		uids[n++] = (uint32_t)sqlite3_column_int64(st, 0);
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		free(uids);
		return mailindex_fail(ix, rc, error_r);
	}
	*uids_r = uids;
	*count_r = n;
	return MAILINDEX_OK;
}

static int
mailindex_msg_one(struct mailindex *ix, sqlite3_stmt *st,
    struct mailindex_msg *m_r, const char **error_r)
{
	int rc = sqlite3_step(st);

	if (rc == SQLITE_ROW)
		mailindex_msg_row(st, m_r);
	sqlite3_reset(st);
	if (rc == SQLITE_ROW)
		return 1;
	if (rc == SQLITE_DONE)
		return 0;
	return mailindex_fail(ix, rc, error_r);
}

int
mailindex_msg_get(struct mailindex *ix, int64_t folder_id, uint32_t uid,
    struct mailindex_msg *m_r, const char **error_r)
{
	sqlite3_stmt *st = mailindex_stmt(ix, MI_MSG_GET);

	sqlite3_bind_int64(st, 1, folder_id);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)uid);
	return mailindex_msg_one(ix, st, m_r, error_r);
}

int
mailindex_msg_by_base(struct mailindex *ix, int64_t folder_id,
    const char *base, struct mailindex_msg *m_r, const char **error_r)
{
	sqlite3_stmt *st = mailindex_stmt(ix, MI_MSG_BY_BASE);

	sqlite3_bind_int64(st, 1, folder_id);
	sqlite3_bind_text(st, 2, base, -1, SQLITE_TRANSIENT);
	return mailindex_msg_one(ix, st, m_r, error_r);
}

int
mailindex_msg_add(struct mailindex *ix, int64_t folder_id,
    const struct mailindex_msg *m, const char **error_r)
{
	sqlite3_stmt *st = mailindex_stmt(ix, MI_MSG_ADD);

	sqlite3_bind_int64(st, 1, folder_id);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)m->uid);
	sqlite3_bind_text(st, 3, m->base, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 4, (sqlite3_int64)m->size);
	sqlite3_bind_int64(st, 5, (sqlite3_int64)m->vsize);
	sqlite3_bind_int64(st, 6, m->internal_date);
	sqlite3_bind_int64(st, 7, (sqlite3_int64)m->modseq);
	sqlite3_bind_text(st, 8, m->flags, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 9, m->keywords != NULL ? m->keywords : "", -1,
	    SQLITE_TRANSIENT);
	return mailindex_step_done(ix, st, error_r);
}

int
mailindex_msg_remove(struct mailindex *ix, int64_t folder_id, uint32_t uid,
    uint64_t modseq, const char **error_r)
{
	sqlite3_stmt *st = mailindex_stmt(ix, MI_MSG_DEL);
	int ret;

	sqlite3_bind_int64(st, 1, folder_id);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)uid);
	if ((ret = mailindex_step_done(ix, st, error_r)) != MAILINDEX_OK ||
	    sqlite3_changes(ix->conn) == 0)
		return ret;
	st = mailindex_stmt(ix, MI_EXPUNGED_ADD);
	sqlite3_bind_int64(st, 1, folder_id);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)uid);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)modseq);
	return mailindex_step_done(ix, st, error_r);
}

int
mailindex_msg_set_flags(struct mailindex *ix, int64_t folder_id,
    uint32_t uid, const char *flags, const char *keywords, uint64_t modseq,
    const char **error_r)
{
	sqlite3_stmt *st = mailindex_stmt(ix, MI_MSG_FLAGS);

	sqlite3_bind_text(st, 1, flags, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 2, keywords != NULL ? keywords : "", -1,
	    SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)modseq);
	sqlite3_bind_int64(st, 4, folder_id);
	sqlite3_bind_int64(st, 5, (sqlite3_int64)uid);
	return mailindex_step_done(ix, st, error_r);
}

/* ---- cached FETCH items ---- */

static char *
mailindex_col_dup(sqlite3_stmt *st, int col)
{
	const unsigned char *s = sqlite3_column_text(st, col);

	return s != NULL ? xstrdup((const char *)s) : NULL;
}

int
mailindex_cache_get(struct mailindex *ix, int64_t folder_id, uint32_t uid,
    char **envelope_r, char **bodystructure_r, char **body_r,
    const char **error_r)
{
	sqlite3_stmt *st = mailindex_stmt(ix, MI_CACHE_GET);
	int rc;

	*envelope_r = *bodystructure_r = *body_r = NULL;
	sqlite3_bind_int64(st, 1, folder_id);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)uid);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*envelope_r = mailindex_col_dup(st, 0);
		*bodystructure_r = mailindex_col_dup(st, 1);
		*body_r = mailindex_col_dup(st, 2);
	}
	sqlite3_reset(st);
	if (rc == SQLITE_ROW)
		return 1;
	if (rc == SQLITE_DONE)
		return 0;
	return mailindex_fail(ix, rc, error_r);
}

int
mailindex_cache_set(struct mailindex *ix, int64_t folder_id, uint32_t uid,
    const char *envelope, const char *bodystructure, const char *body,
    const char **error_r)
{
	sqlite3_stmt *st = mailindex_stmt(ix, MI_CACHE_SET);

	sqlite3_bind_text(st, 1, envelope, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 2, bodystructure, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 3, body, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 4, folder_id);
	sqlite3_bind_int64(st, 5, (sqlite3_int64)uid);
	return mailindex_step_done(ix, st, error_r);
}

/* ---- subscriptions ---- */

int
mailindex_subscribe(struct mailindex *ix, const char *name, int on,
    const char **error_r)
{
	sqlite3_stmt *st = mailindex_stmt(ix, on ? MI_SUB_ADD : MI_SUB_DEL);

	sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
	return mailindex_step_done(ix, st, error_r);
}

int
mailindex_subscriptions(struct mailindex *ix, char ***names_r,
    size_t *count_r, const char **error_r)
{
	sqlite3_stmt *st = mailindex_stmt(ix, MI_SUBS_LIST);
	char **names = NULL;
	size_t n = 0, cap = 0;
	int rc;

	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (n == cap) {
			cap = cap != 0 ? cap * 2 : 16;
			names = xrealloc(names, cap * sizeof(*names));
		}
		names[n++] = mailindex_col_dup(st, 0);
		if (names[n - 1] == NULL)
			names[n - 1] = xstrdup("");
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		for (size_t i = 0; i < n; i++)
			free(names[i]);
		free(names);
		return mailindex_fail(ix, rc, error_r);
	}
	*names_r = names;
	*count_r = n;
	return MAILINDEX_OK;
}

bool
mailindex_is_corrupt(const struct mailindex *ix)
{
	return ix->corrupt;
}
