/*
 * service.c: account operations shared by the CLI and the JSON API.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <dirent.h>
#include <ftw.h>
#include <limits.h>

#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#include "admin/service.h"
#include "auth/password.h"
#include "lib/addr.h"
#include "lib/log.h"
#include "lib/util.h"
#include "smtp/delivery.h"
#include "smtp/dkim.h"
#include "smtp/queue.h"
#include "store/mailbox.h"
#include "store/maildir.h"

static int service_alias_dests(const char *const *raw_dest, unsigned ndest,
    char (*dest)[ADDR_MAX + 1], const char **dptr,
    struct service_error *err);

static int
service_fail(struct service_error *err, int status, const char *field,
    const char *detail)
{
	err->field = field;
	err->detail = detail;
	return status;
}

int
service_domain_normalize(const char *raw, char *out, size_t outsize,
    const char *field, struct service_error *err)
{
	const char *error;

	if (addr_domain_normalize(raw, strlen(raw), out, outsize,
	    &error) < 0) {
		if (str_printf(err->buf, sizeof(err->buf), "invalid domain "
		    "name: %s", error) < 0)
			str_lcpy(err->buf, "invalid domain name",
			    sizeof(err->buf));
		return service_fail(err, DB_INVALID, field, err->buf);
	}
	return DB_OK;
}

int
service_address_normalize(const char *raw, bool catchall, char *out,
    size_t outsize, const char *field, struct service_error *err)
{
	const char *error;

	if (addr_normalize(raw, strlen(raw), catchall, out, outsize,
	    &error) < 0) {
		if (str_printf(err->buf, sizeof(err->buf), "invalid address: "
		    "%s", error) < 0)
			str_lcpy(err->buf, "invalid address", sizeof(err->buf));
		return service_fail(err, DB_INVALID, field, err->buf);
	}
	return DB_OK;
}

int
service_domain_dkim(const struct config *cfg, const char *name,
    char *path_r, size_t pathsize, struct service_error *err)
{
	const char *error;

	if (delivery_dkim_key_path(cfg->data_dir, name, path_r,
	    pathsize) < 0)
		return service_fail(err, DB_ERROR, NULL, "path too long");
	if (access(path_r, F_OK) < 0 && dkim_key_generate(path_r,
	    strcmp(cfg->dkim_key_type, "ed25519") == 0 ? DKIM_ED25519 :
	    DKIM_RSA, &error) < 0) {
		str_lcpy(err->buf, error, sizeof(err->buf));
		return service_fail(err, DB_ERROR, NULL, err->buf);
	}
	return DB_OK;
}

int
service_domain_add(struct db *db, const struct config *cfg, const char *raw,
    char *name_r, struct service_error *err)
{
	struct service_error dkerr;
	char path[4096];
	int ret;

	if ((ret = service_domain_normalize(raw, name_r, ADDR_DOMAIN_MAX + 1,
	    "name", err)) != DB_OK)
		return ret;
	if ((ret = db_domain_add(db, name_r, &err->detail)) != DB_OK)
		return ret;
	if (service_domain_dkim(cfg, name_r, path, sizeof(path),
	    &dkerr) != DB_OK)
		log_warn("event=dkim_key_missing domain=%s error=\"%s\"",
		    name_r, dkerr.detail);
	return DB_OK;
}

int
service_domain_remove(struct db *db, const char *raw, bool force,
    struct service_error *err)
{
	char name[ADDR_DOMAIN_MAX + 1];
	int ret;

	if ((ret = service_domain_normalize(raw, name, sizeof(name), "name",
	    err)) != DB_OK)
		return ret;
	return db_domain_remove(db, name, force, &err->detail);
}

int
service_password_check(const char *password, size_t len,
    struct service_error *err)
{
	if (len < SERVICE_PASSWORD_MIN)
		return service_fail(err, DB_INVALID, "password",
		    "password too short (at least 8 characters)");
	if (len > SERVICE_PASSWORD_MAX)
		return service_fail(err, DB_INVALID, "password",
		    "password too long (at most 1024 characters)");
	if (memchr(password, '\0', len) != NULL)
		return service_fail(err, DB_INVALID, "password",
		    "password contains a NUL byte");
	return DB_OK;
}

/* The hash to store: a new argon2id hash of password, or hash checked.
 * Returns a malloc'ed string or NULL with err set. */
static char *
service_hash_make(const char *password, const char *hash,
    struct service_error *err)
{
	char *h;

	if (hash != NULL) {
		if (!password_hash_supported(hash)) {
			service_fail(err, DB_INVALID, "password_hash",
			    "unsupported password hash scheme");
			return NULL;
		}
		return xstrdup(hash);
	}
	if (password == NULL) {
		service_fail(err, DB_INVALID, "password",
		    "a password or a password_hash is required");
		return NULL;
	}
	if (service_password_check(password, strlen(password), err) != DB_OK)
		return NULL;
	h = password_hash(password, strlen(password));
	if (h == NULL)
		service_fail(err, DB_ERROR, NULL, "cannot hash the password");
	return h;
}

/* The default IMAP folders (Drafts, Sent, Trash, Junk, Archive) and the
 * index of a new mailbox; a failure is logged, the mailbox stays (the
 * first IMAP login makes them then). */
static void
service_mailbox_folders(const char *dir, const char *address)
{
	const char *error = NULL;
	struct store_mailbox *mb = store_mailbox_open(dir, &error);

	if (mb == NULL || store_create_defaults(mb, &error) != STORE_OK)
		log_warn("event=folders_create_failed address=%s "
		    "error=\"%s\"", address, error != NULL ? error : "?");
	store_mailbox_close(&mb);
}

int
service_mailbox_add(struct db *db, const struct config *cfg,
    const char *raw, const char *password, const char *hash,
    uint64_t quota, char *address_r, struct service_error *err)
{
	char dir[4096], *h;
	int ret;

	if ((ret = service_address_normalize(raw, false, address_r,
	    ADDR_MAX + 1, "address", err)) != DB_OK)
		return ret;
	if ((h = service_hash_make(password, hash, err)) == NULL)
		return err->field != NULL ? DB_INVALID : DB_ERROR;
	ret = db_mailbox_add(db, address_r, h, quota, &err->detail);
	free(h);
	if (ret != DB_OK)
		return ret;
	if (maildir_path(cfg->data_dir, address_r, dir, sizeof(dir)) < 0 ||
	    maildir_create(dir) < 0) {
		log_warn("event=maildir_create_failed address=%s error=\"%s\"",
		    address_r, strerror(errno));
		return DB_OK;
	}
	service_mailbox_folders(dir, address_r);
	return DB_OK;
}

int
service_mailbox_set_password(struct db *db, const char *address,
    const char *password, const char *hash, struct service_error *err)
{
	char *h;
	int ret;

	if ((h = service_hash_make(password, hash, err)) == NULL)
		return err->field != NULL ? DB_INVALID : DB_ERROR;
	ret = db_mailbox_set_password(db, address, h, &err->detail);
	free(h);
	return ret;
}

/* Moves a removed mailbox's Maildir to data_dir/deleted/DOMAIN/ with a
 * UTC time stamp, so it can be recovered (and purged later). */
static void
service_mailbox_archive(const struct config *cfg, const char *address,
    char *to, size_t tosize)
{
	char from[4096], dir[4096], stamp[32];
	const char *at = strrchr(address, '@');
	time_t now = time(NULL);
	struct tm tm;
	int n;

	to[0] = '\0';
	if (maildir_path(cfg->data_dir, address, from, sizeof(from)) < 0 ||
	    access(from, F_OK) < 0)
		return;
	gmtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
	if (str_printf(dir, sizeof(dir), "%s/deleted", cfg->data_dir) < 0 ||
	    (mkdir(dir, 0700) < 0 && errno != EEXIST) ||
	    str_printf(dir, sizeof(dir), "%s/deleted/%s", cfg->data_dir,
	    at + 1) < 0 || (mkdir(dir, 0700) < 0 && errno != EEXIST))
		goto fail;
	for (n = 1; n < 100; n++) {
		if ((n == 1 ? str_printf(to, tosize, "%s/%s-%s", dir,
		    strrchr(from, '/') + 1, stamp) : str_printf(to, tosize,
		    "%s/%s-%s.%d", dir, strrchr(from, '/') + 1, stamp, n)) < 0)
			goto fail;
		/* rename() would replace an empty directory: check first. */
		if (access(to, F_OK) < 0 && errno == ENOENT)
			break;
	}
	if (n == 100 || rename(from, to) < 0)
		goto fail;
	return;
fail:
	log_warn("event=archive_failed address=%s dir=%s error=\"%s\"",
	    address, from, strerror(errno));
	to[0] = '\0';
}

/* When a name under deleted/ was removed: "LOCAL-YYYYMMDDTHHMMSSZ[.N]",
 * or the older "LOCAL.UNIXTIME". -1 when it has no stamp. */
static int64_t
service_deleted_time(const char *name)
{
	const char *dash = NULL, *dot = strrchr(name, '.');
	struct tm tm;
	uint64_t v;

	for (const char *p = name; *p != '\0'; p++) {
		if (*p == '-' && strlen(p) >= 17 && p[9] == 'T' && p[16] == 'Z')
			dash = p;
	}
	if (dash != NULL) {
		memset(&tm, 0, sizeof(tm));
		if (strptime(dash + 1, "%Y%m%dT%H%M%SZ", &tm) != NULL)
			return (int64_t)timegm(&tm);
	}
	if (dot != NULL && str_to_u64(dot + 1, strlen(dot + 1), INT64_MAX,
	    &v) == 0)
		return (int64_t)v;
	return -1;
}

static int
service_rm_entry(const char *path, const struct stat *st, int flag,
    struct FTW *ftw)
{
	if (flag == FTW_DP)
		return rmdir(path) < 0 ? -1 : 0;
	return unlink(path) < 0 ? -1 : 0;
}

int
service_deleted_purge(const struct config *cfg, int64_t older_than,
    void (*cb)(const char *path, void *ctx), void *ctx, unsigned *count_r,
    struct service_error *err)
{
	char root[4096], dpath[4096], path[4096];
	int64_t now = (int64_t)time(NULL), when;
	struct dirent *de, *be;
	DIR *d, *b;

	*count_r = 0;
	if (str_printf(root, sizeof(root), "%s/deleted", cfg->data_dir) < 0)
		return service_fail(err, DB_ERROR, NULL, "path too long");
	if ((d = opendir(root)) == NULL)
		return errno == ENOENT ? DB_OK : service_fail(err, DB_ERROR,
		    NULL, strerror(errno));
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' || str_printf(dpath, sizeof(dpath),
		    "%s/%s", root, de->d_name) < 0 ||
		    (b = opendir(dpath)) == NULL)
			continue;
		while ((be = readdir(b)) != NULL) {
			if (be->d_name[0] == '.' ||
			    (when = service_deleted_time(be->d_name)) < 0 ||
			    now - when < older_than ||
			    str_printf(path, sizeof(path), "%s/%s", dpath,
			    be->d_name) < 0)
				continue;
			if (nftw(path, service_rm_entry, 16,
			    FTW_DEPTH | FTW_PHYS) < 0) {
				log_warn("event=purge_failed path=%s "
				    "error=\"%s\"", path, strerror(errno));
				continue;
			}
			log_info("event=purged path=%s", path);
			(*count_r)++;
			if (cb != NULL)
				cb(path, ctx);
		}
		closedir(b);
		rmdir(dpath);	/* when empty */
	}
	closedir(d);
	return DB_OK;
}

uint64_t
service_mailbox_usage(const struct config *cfg, const char *address)
{
	char dir[4096];
	uint64_t bytes = 0;

	if (maildir_path(cfg->data_dir, address, dir, sizeof(dir)) < 0 ||
	    access(dir, F_OK) < 0 || maildir_usage(dir, &bytes) < 0)
		return 0;
	return bytes;
}

struct service_usage {
	const struct config *cfg;
	uint64_t bytes;
};

static int
service_usage_add(const struct db_mailbox *m, void *ctx)
{
	struct service_usage *u = ctx;

	u->bytes += service_mailbox_usage(u->cfg, m->address);
	return 0;
}

int
service_domain_usage(struct db *db, const struct config *cfg,
    const char *domain, uint64_t *bytes_r, struct service_error *err)
{
	struct service_usage u = { cfg, 0 };
	int ret;

	ret = db_mailbox_list(db, domain, service_usage_add, &u, &err->detail);
	*bytes_r = u.bytes;
	return ret;
}

int
service_mailbox_remove(struct db *db, const struct config *cfg,
    const char *raw, char *moved_r, size_t movedsize,
    struct service_error *err)
{
	char addr[ADDR_MAX + 1];
	int ret;

	moved_r[0] = '\0';
	if ((ret = service_address_normalize(raw, false, addr, sizeof(addr),
	    "address", err)) != DB_OK)
		return ret;
	if ((ret = db_mailbox_remove(db, addr, &err->detail)) != DB_OK)
		return ret;
	service_mailbox_archive(cfg, addr, moved_r, movedsize);
	return DB_OK;
}

/* Normalizes destinations into dest (ndest entries); DB_OK or
 * DB_INVALID with err set. */
static int
service_alias_dests(const char *const *raw_dest, unsigned ndest,
    char (*dest)[ADDR_MAX + 1], const char **dptr, struct service_error *err)
{
	int ret;

	if (ndest == 0 || ndest > DB_ALIAS_MAX_DEST)
		return service_fail(err, DB_INVALID, "destinations",
		    "an alias needs 1 to 64 destinations");
	for (unsigned i = 0; i < ndest; i++) {
		if ((ret = service_address_normalize(raw_dest[i], false,
		    dest[i], sizeof(dest[i]), "destinations", err)) != DB_OK)
			return ret;
		dptr[i] = dest[i];
	}
	return DB_OK;
}

/* Adds an alias, or replaces its destinations (replace). */
static int
service_alias_write(struct db *db, const char *raw_source,
    const char *const *raw_dest, unsigned ndest, bool replace,
    struct service_error *err)
{
	char source[ADDR_MAX + 1];
	char (*dest)[ADDR_MAX + 1];
	const char *dptr[DB_ALIAS_MAX_DEST];
	int ret;

	if ((ret = service_address_normalize(raw_source, true, source,
	    sizeof(source), "source", err)) != DB_OK)
		return ret;
	dest = xcalloc(DB_ALIAS_MAX_DEST, sizeof(*dest));
	if ((ret = service_alias_dests(raw_dest, ndest, dest, dptr,
	    err)) == DB_OK)
		ret = replace ?
		    db_alias_set(db, source, dptr, ndest, &err->detail) :
		    db_alias_add(db, source, dptr, ndest, &err->detail);
	free(dest);
	return ret;
}

int
service_alias_add(struct db *db, const char *raw_source,
    const char *const *raw_dest, unsigned ndest, struct service_error *err)
{
	return service_alias_write(db, raw_source, raw_dest, ndest, false,
	    err);
}

int
service_alias_update(struct db *db, const char *raw_source,
    const char *const *raw_dest, unsigned ndest, struct service_error *err)
{
	return service_alias_write(db, raw_source, raw_dest, ndest, true,
	    err);
}

int
service_alias_remove(struct db *db, const char *raw_source,
    struct service_error *err)
{
	char source[ADDR_MAX + 1];
	int ret;

	if ((ret = service_address_normalize(raw_source, true, source,
	    sizeof(source), "source", err)) != DB_OK)
		return ret;
	return db_alias_remove(db, source, &err->detail);
}

/* 1 to max letters, digits, '-', '_', '.' (token and admin names). */
static bool
service_name_valid(const char *name, size_t max)
{
	size_t len = strlen(name);

	if (len == 0 || len > max)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (!((name[i] >= 'a' && name[i] <= 'z') ||
		    (name[i] >= 'A' && name[i] <= 'Z') ||
		    (name[i] >= '0' && name[i] <= '9') ||
		    strchr("-_.", name[i]) != NULL))
			return false;
	}
	return true;
}

int
service_token_hash(const char *secret, size_t len, char hex_r[65])
{
	static const char digits[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;

	if (EVP_Digest(secret, len, md, &mdlen, EVP_sha256(), NULL) != 1 ||
	    mdlen != 32)
		return -1;
	for (unsigned i = 0; i < mdlen; i++) {
		hex_r[2 * i] = digits[md[i] >> 4];
		hex_r[2 * i + 1] = digits[md[i] & 15];
	}
	hex_r[64] = '\0';
	return 0;
}

int
service_token_create(struct db *db, const char *name, const char *scope,
    int64_t expires, const char *const *raw_domains, unsigned ndomains,
    char *secret_r, size_t secretsize, struct service_error *err)
{
	static const char digits[] = "0123456789abcdef";
	char names[DB_TOKEN_DOMAINS_MAX][ADDR_DOMAIN_MAX + 1];
	const char *domains[DB_TOKEN_DOMAINS_MAX];
	unsigned char raw[32];
	char hex[65];
	int ret;

	if (!service_name_valid(name, DB_TOKEN_NAME_MAX))
		return service_fail(err, DB_INVALID, "name", "a token name has "
		    "1 to 64 letters, digits, '-', '_', '.'");
	if (strcmp(scope, "read") != 0 && strcmp(scope, "write") != 0)
		return service_fail(err, DB_INVALID, "scope",
		    "scope must be read or write");
	if (ndomains > DB_TOKEN_DOMAINS_MAX)
		return service_fail(err, DB_INVALID, "domains",
		    "a token names at most 16 domains");
	for (unsigned i = 0; i < ndomains; i++) {
		if ((ret = service_domain_normalize(raw_domains[i], names[i],
		    sizeof(names[i]), "domains", err)) != DB_OK)
			return ret;
		domains[i] = names[i];
	}
	if (secretsize <= SERVICE_TOKEN_SECRET_LEN ||
	    RAND_bytes(raw, sizeof(raw)) != 1)
		return service_fail(err, DB_ERROR, NULL,
		    "no random bytes for the token");
	str_lcpy(secret_r, "fct_", secretsize);
	for (size_t i = 0; i < sizeof(raw); i++) {
		secret_r[4 + 2 * i] = digits[raw[i] >> 4];
		secret_r[4 + 2 * i + 1] = digits[raw[i] & 15];
	}
	secret_r[SERVICE_TOKEN_SECRET_LEN] = '\0';
	mem_wipe(raw, sizeof(raw));
	if (service_token_hash(secret_r, SERVICE_TOKEN_SECRET_LEN, hex) < 0) {
		mem_wipe(secret_r, secretsize);
		return service_fail(err, DB_ERROR, NULL, "cannot hash");
	}
	ret = db_token_add(db, name, hex, scope, expires, domains, ndomains,
	    &err->detail);
	if (ret != DB_OK)
		mem_wipe(secret_r, secretsize);
	return ret;
}

/* ---- Admins ---- */

static int
service_admin_name_check(const char *name, struct service_error *err)
{
	if (!service_name_valid(name, DB_ADMIN_NAME_MAX))
		return service_fail(err, DB_INVALID, "name", "an admin name "
		    "has 1 to 64 letters, digits, '-', '_', '.'");
	return DB_OK;
}

int
service_admin_add(struct db *db, const char *name, const char *password,
    struct service_error *err)
{
	char *h;
	int ret;

	if ((ret = service_admin_name_check(name, err)) != DB_OK)
		return ret;
	if ((h = service_hash_make(password, NULL, err)) == NULL)
		return err->field != NULL ? DB_INVALID : DB_ERROR;
	ret = db_admin_add(db, name, h, &err->detail);
	free(h);
	return ret;
}

int
service_admin_set_password(struct db *db, const char *name,
    const char *password, struct service_error *err)
{
	char *h;
	int ret;

	if ((ret = service_admin_name_check(name, err)) != DB_OK)
		return ret;
	if ((h = service_hash_make(password, NULL, err)) == NULL)
		return err->field != NULL ? DB_INVALID : DB_ERROR;
	ret = db_admin_set_password(db, name, h, &err->detail);
	free(h);
	return ret;
}

int
service_admin_remove(struct db *db, const char *name,
    struct service_error *err)
{
	int ret;

	if ((ret = service_admin_name_check(name, err)) != DB_OK)
		return ret;
	return db_admin_remove(db, name, &err->detail);
}

static int
service_admin_count(const struct db_admin *a, void *ctx)
{
	(*(unsigned *)ctx)++;
	return 1;	/* one is enough */
}

/* Writes password and a newline to a new file at path, mode 0600. */
static int
service_secret_write(const char *path, const char *password)
{
	size_t len = strlen(password);
	int fd, ok;

	if (unlink(path) < 0 && errno != ENOENT)
		return -1;
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	    0600);
	if (fd < 0)
		return -1;
	ok = fchmod(fd, 0600) == 0 &&
	    write(fd, password, len) == (ssize_t)len &&
	    write(fd, "\n", 1) == 1 && fsync(fd) == 0;
	if (close(fd) < 0)
		ok = 0;
	if (!ok) {
		unlink(path);
		return -1;
	}
	return 0;
}

int
service_admin_initial(struct db *db, const struct config *cfg,
    bool *created_r, char *path_r, size_t pathsize,
    struct service_error *err)
{
	char password[24];
	unsigned n = 0;
	int ret;

	*created_r = false;
	if (str_printf(path_r, pathsize, "%s/%s", cfg->data_dir,
	    SERVICE_INITIAL_ADMIN_FILE) < 0)
		return service_fail(err, DB_ERROR, NULL, "path too long");
	if ((ret = db_admin_list(db, service_admin_count, &n,
	    &err->detail)) != DB_OK || n > 0)
		return ret;
	password_generate(password, 20);
	if (service_secret_write(path_r, password) < 0) {
		mem_wipe(password, sizeof(password));
		if (str_printf(err->buf, sizeof(err->buf), "%s: %s", path_r,
		    strerror(errno)) < 0)
			str_lcpy(err->buf, "cannot write the password file",
			    sizeof(err->buf));
		return service_fail(err, DB_ERROR, NULL, err->buf);
	}
	ret = service_admin_add(db, SERVICE_INITIAL_ADMIN, password, err);
	mem_wipe(password, sizeof(password));
	if (ret != DB_OK) {
		unlink(path_r);
		return ret;
	}
	*created_r = true;
	return DB_OK;
}

/* ---- Outbound queue ---- */

bool
service_queue_id_valid(const char *id)
{
	size_t len = strlen(id);

	if (len == 0 || len >= DB_QUEUE_ID_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (!((id[i] >= '0' && id[i] <= '9') ||
		    (id[i] >= 'a' && id[i] <= 'f')))
			return false;
	}
	return true;
}

struct service_queue_count {
	int (*cb)(const struct db_queue_entry *e, void *ctx);
	void *ctx;
	unsigned n;
};

static int
service_queue_each(const struct db_queue_entry *e, void *ctx)
{
	struct service_queue_count *c = ctx;

	c->n++;
	return c->cb(e, c->ctx);
}

int
service_queue_list(struct db *db, const char *id,
    int (*cb)(const struct db_queue_entry *e, void *ctx), void *ctx,
    struct service_error *err)
{
	struct service_queue_count c = { cb, ctx, 0 };
	int ret;

	if (id != NULL && !service_queue_id_valid(id))
		return service_fail(err, DB_NOT_FOUND, NULL,
		    "no such message in the queue");
	ret = db_queue_scan(db, id, LLONG_MAX, UINT_MAX, service_queue_each,
	    &c, &err->detail);
	if (ret == DB_OK && id != NULL && c.n == 0)
		return service_fail(err, DB_NOT_FOUND, NULL,
		    "no such message in the queue");
	return ret;
}

int
service_queue_retry(struct db *db, const char *id, struct service_error *err)
{
	int ret;

	if (!service_queue_id_valid(id))
		return service_fail(err, DB_NOT_FOUND, NULL,
		    "no such message in the queue");
	ret = db_queue_retry(db, id, &err->detail);
	if (ret == DB_OK)
		db_audit_add(db, "queue.retry", id, NULL, NULL);
	return ret;
}

int
service_queue_delete(struct db *db, const struct config *cfg,
    const char *id, struct service_error *err)
{
	char path[4096];
	int ret;

	if (!service_queue_id_valid(id))
		return service_fail(err, DB_NOT_FOUND, NULL,
		    "no such message in the queue");
	ret = db_queue_delete(db, id, &err->detail);
	if (ret != DB_OK)
		return ret;
	if (queue_spool_path(cfg->data_dir, id, path, sizeof(path)) == 0)
		unlink(path);
	db_audit_add(db, "queue.delete", id, NULL, NULL);
	return DB_OK;
}

/* ---- Browser sessions ---- */

static int
service_random_hex(char *out, size_t outsize, size_t nbytes)
{
	static const char digits[] = "0123456789abcdef";
	unsigned char raw[64];

	if (nbytes > sizeof(raw) || outsize <= 2 * nbytes ||
	    RAND_bytes(raw, (int)nbytes) != 1)
		return -1;
	for (size_t i = 0; i < nbytes; i++) {
		out[2 * i] = digits[raw[i] >> 4];
		out[2 * i + 1] = digits[raw[i] & 15];
	}
	out[2 * nbytes] = '\0';
	mem_wipe(raw, sizeof(raw));
	return 0;
}

int64_t
service_session_end(const struct config *cfg, const struct db_session *s)
{
	int64_t idle = s->last_seen + (int64_t)cfg->session_idle_timeout;

	return idle < s->expires ? idle : s->expires;
}

int
service_session_create(struct db *db, const struct config *cfg,
    const char *role, const char *user, const char *remote,
    char *secret_r, char *csrf_r, struct db_session *s_r,
    struct service_error *err)
{
	int64_t now = (int64_t)time(NULL);
	char hex[65];
	int ret;

	/* Housekeeping: sessions that ended are removed at each sign-in. */
	db_session_expire(db, now, now - (int64_t)cfg->session_idle_timeout,
	    NULL);
	if (service_random_hex(secret_r, SERVICE_SESSION_SECRET_LEN + 1,
	    32) < 0 || service_random_hex(csrf_r, DB_SESSION_CSRF_LEN + 1,
	    32) < 0 || service_token_hash(secret_r,
	    SERVICE_SESSION_SECRET_LEN, hex) < 0)
		return service_fail(err, DB_ERROR, NULL,
		    "no random bytes for the session");
	memset(s_r, 0, sizeof(*s_r));
	str_lcpy(s_r->role, role, sizeof(s_r->role));
	str_lcpy(s_r->user, user, sizeof(s_r->user));
	str_lcpy(s_r->csrf, csrf_r, sizeof(s_r->csrf));
	s_r->created = s_r->last_seen = now;
	s_r->expires = now + (int64_t)cfg->session_lifetime;
	ret = db_session_add(db, hex, role, user, csrf_r, remote, now,
	    s_r->expires, &s_r->id, &err->detail);
	if (ret != DB_OK)
		mem_wipe(secret_r, SERVICE_SESSION_SECRET_LEN + 1);
	return ret;
}

int
service_session_lookup(struct db *db, const struct config *cfg,
    const char *secret, struct db_session *s_r, struct service_error *err)
{
	int64_t now = (int64_t)time(NULL);
	char hex[65], hash[512];
	struct db_admin a;
	bool enabled = false;
	int ret;

	if (strlen(secret) != SERVICE_SESSION_SECRET_LEN ||
	    service_token_hash(secret, SERVICE_SESSION_SECRET_LEN, hex) < 0)
		return service_fail(err, DB_NOT_FOUND, NULL, "no such session");
	if ((ret = db_session_get(db, hex, s_r, &err->detail)) != DB_OK)
		return ret;
	if (now >= service_session_end(cfg, s_r)) {
		db_session_remove(db, s_r->id, NULL);
		return service_fail(err, DB_NOT_FOUND, NULL,
		    "the session has expired");
	}
	/* The user may have been removed or disabled meanwhile. */
	if (strcmp(s_r->role, "admin") == 0)
		ret = db_admin_get(db, s_r->user, &a, NULL, 0, &err->detail);
	else if ((ret = db_mailbox_auth_get(db, s_r->user, hash,
	    sizeof(hash), &enabled, &err->detail)) == DB_OK && !enabled)
		ret = DB_NOT_FOUND;
	mem_wipe(hash, sizeof(hash));
	if (ret == DB_NOT_FOUND) {
		db_session_remove(db, s_r->id, NULL);
		return service_fail(err, DB_NOT_FOUND, NULL,
		    "the session's account is gone or disabled");
	}
	if (ret != DB_OK)
		return ret;
	if (now > s_r->last_seen) {
		db_session_touch(db, s_r->id, now);
		s_r->last_seen = now;
	}
	return DB_OK;
}

/* ---- Certificate ---- */

static int64_t
service_asn1_time(const ASN1_TIME *t)
{
	struct tm tm;

	memset(&tm, 0, sizeof(tm));
	if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1)
		return 0;
	return (int64_t)timegm(&tm);
}

int
service_cert_info(const char *path, struct service_cert *c,
    struct service_error *err)
{
	FILE *f = fopen(path, "r");
	X509 *x;

	memset(c, 0, sizeof(*c));
	if (f == NULL)
		return service_fail(err, DB_ERROR, NULL, strerror(errno));
	x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	if (x == NULL)
		return service_fail(err, DB_ERROR, NULL,
		    "cannot read the certificate");
	X509_NAME_oneline(X509_get_subject_name(x), c->subject,
	    (int)sizeof(c->subject));
	X509_NAME_oneline(X509_get_issuer_name(x), c->issuer,
	    (int)sizeof(c->issuer));
	c->not_after = service_asn1_time(X509_get0_notAfter(x));
	c->not_before = service_asn1_time(X509_get0_notBefore(x));
	X509_free(x);
	return DB_OK;
}

int
service_cms_sign(const struct config *cfg, const void *data, size_t len,
    unsigned char **out_r, size_t *len_r, struct service_error *err)
{
	STACK_OF(X509) *chain = NULL;
	X509 *cert = NULL, *extra;
	EVP_PKEY *key = NULL;
	CMS_ContentInfo *cms = NULL;
	BIO *in = NULL, *out = NULL;
	FILE *f;
	char *mem;
	long n;
	int ret = DB_ERROR;

	*out_r = NULL;
	*len_r = 0;
	/* The certificate file may hold the chain after the certificate. */
	if ((f = fopen(cfg->tls_cert, "r")) == NULL)
		return service_fail(err, DB_ERROR, NULL, strerror(errno));
	cert = PEM_read_X509(f, NULL, NULL, NULL);
	chain = sk_X509_new_null();
	while (cert != NULL && chain != NULL &&
	    (extra = PEM_read_X509(f, NULL, NULL, NULL)) != NULL)
		sk_X509_push(chain, extra);
	fclose(f);
	if ((f = fopen(cfg->tls_key, "r")) != NULL) {
		key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
		fclose(f);
	}
	ERR_clear_error();
	if (cert == NULL || key == NULL || chain == NULL) {
		service_fail(err, DB_ERROR, NULL, cert == NULL ?
		    "cannot read the certificate" : "cannot read the key");
		goto out;
	}
	/* The content embedded (not detached), as Apple devices expect. */
	if (len > INT_MAX ||
	    (in = BIO_new_mem_buf(data, (int)len)) == NULL ||
	    (cms = CMS_sign(cert, key, chain, in, CMS_BINARY)) == NULL ||
	    (out = BIO_new(BIO_s_mem())) == NULL ||
	    i2d_CMS_bio(out, cms) != 1 ||
	    (n = BIO_get_mem_data(out, &mem)) <= 0) {
		ERR_clear_error();
		service_fail(err, DB_ERROR, NULL, "cannot sign");
		goto out;
	}
	*out_r = xmalloc((size_t)n);
	memcpy(*out_r, mem, (size_t)n);
	*len_r = (size_t)n;
	ret = DB_OK;
out:
	BIO_free(in);
	BIO_free(out);
	CMS_ContentInfo_free(cms);
	EVP_PKEY_free(key);
	X509_free(cert);
	sk_X509_pop_free(chain, X509_free);
	return ret;
}
