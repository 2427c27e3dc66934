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

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "admin/service.h"
#include "auth/password.h"
#include "lib/addr.h"
#include "lib/log.h"
#include "lib/util.h"
#include "smtp/delivery.h"
#include "smtp/dkim.h"
#include "store/maildir.h"

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
	    maildir_create(dir) < 0)
		log_warn("event=maildir_create_failed address=%s error=\"%s\"",
		    address_r, strerror(errno));
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
 * time stamp, so it can be recovered. */
static void
service_mailbox_archive(const struct config *cfg, const char *address,
    char *to, size_t tosize)
{
	char from[4096], dir[4096];
	const char *at = strrchr(address, '@');

	to[0] = '\0';
	if (maildir_path(cfg->data_dir, address, from, sizeof(from)) < 0 ||
	    access(from, F_OK) < 0)
		return;
	if (str_printf(dir, sizeof(dir), "%s/deleted/%s", cfg->data_dir,
	    at + 1) < 0 ||
	    str_printf(to, tosize, "%s/%s.%lld", dir,
	    strrchr(from, '/') + 1, (long long)time(NULL)) < 0 ||
	    maildir_create(dir) < 0 || rename(from, to) < 0) {
		log_warn("event=archive_failed address=%s dir=%s "
		    "error=\"%s\"", address, from, strerror(errno));
		to[0] = '\0';
	}
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

int
service_alias_add(struct db *db, const char *raw_source,
    const char *const *raw_dest, unsigned ndest, struct service_error *err)
{
	char source[ADDR_MAX + 1];
	char (*dest)[ADDR_MAX + 1];
	const char *dptr[DB_ALIAS_MAX_DEST];
	int ret;

	if ((ret = service_address_normalize(raw_source, true, source,
	    sizeof(source), "source", err)) != DB_OK)
		return ret;
	if (ndest == 0 || ndest > DB_ALIAS_MAX_DEST)
		return service_fail(err, DB_INVALID, "destinations",
		    "an alias needs 1 to 64 destinations");
	dest = xcalloc(ndest, sizeof(*dest));
	for (unsigned i = 0; i < ndest; i++) {
		if ((ret = service_address_normalize(raw_dest[i], false,
		    dest[i], sizeof(dest[i]), "destinations", err)) != DB_OK) {
			free(dest);
			return ret;
		}
		dptr[i] = dest[i];
	}
	ret = db_alias_add(db, source, dptr, ndest, &err->detail);
	free(dest);
	return ret;
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
