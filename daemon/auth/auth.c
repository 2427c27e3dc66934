#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/auth.h"
#include "auth/password.h"
#include "db/db.h"
#include "lib/log.h"
#include "lib/util.h"

#define AUTH_BUCKETS 4096
/* Bound on remembered keys; when full, expired ones are swept and, if
 * none is, new keys count as already past the block threshold. */
#define AUTH_MAX_ENTRIES 65536

struct auth_entry {
	char key[ADDR_MAX + 8];
	unsigned failures;
	time_t last;
	struct auth_entry *next;
};

static pthread_mutex_t auth_lock = PTHREAD_MUTEX_INITIALIZER;
static struct auth_entry *auth_buckets[AUTH_BUCKETS];
static unsigned auth_entries;
static unsigned auth_ip_block = AUTH_IP_BLOCK;
/* A hash to verify against when the user does not exist, so that the
 * answer takes as long as for a real user (no user enumeration). */
static char *auth_dummy_hash;

static unsigned
auth_hash(const char *key)
{
	unsigned h = 2166136261u;

	for (; *key != '\0'; key++)
		h = (h ^ (unsigned char)*key) * 16777619u;
	return h % AUTH_BUCKETS;
}

static void
auth_sweep(time_t now)
{
	for (unsigned i = 0; i < AUTH_BUCKETS; i++) {
		struct auth_entry **pp = &auth_buckets[i];

		while (*pp != NULL) {
			if (now - (*pp)->last >= AUTH_WINDOW_SEC) {
				struct auth_entry *e = *pp;

				*pp = e->next;
				free(e);
				auth_entries--;
			} else {
				pp = &(*pp)->next;
			}
		}
	}
}

/* Under auth_lock. create: add the key when missing (may fail: NULL). */
static struct auth_entry *
auth_find(const char *key, time_t now, bool create)
{
	struct auth_entry **pp = &auth_buckets[auth_hash(key)], *e;

	for (e = *pp; e != NULL; e = e->next) {
		if (strcmp(e->key, key) == 0) {
			if (now - e->last >= AUTH_WINDOW_SEC)
				e->failures = 0;
			return e;
		}
	}
	if (!create)
		return NULL;
	if (auth_entries >= AUTH_MAX_ENTRIES) {
		auth_sweep(now);
		if (auth_entries >= AUTH_MAX_ENTRIES)
			return NULL;
	}
	e = xcalloc(1, sizeof(*e));
	str_lcpy(e->key, key, sizeof(e->key));
	e->last = now;
	e->next = *pp;
	*pp = e;
	auth_entries++;
	return e;
}

unsigned
auth_throttle_failures(const char *key, time_t now)
{
	struct auth_entry *e;
	unsigned n;

	pthread_mutex_lock(&auth_lock);
	e = auth_find(key, now, false);
	n = e != NULL ? e->failures : 0;
	if (e == NULL && auth_entries >= AUTH_MAX_ENTRIES)
		n = auth_ip_block;	/* table full: assume the worst */
	pthread_mutex_unlock(&auth_lock);
	return n;
}

void
auth_throttle_fail(const char *key, time_t now)
{
	struct auth_entry *e;

	pthread_mutex_lock(&auth_lock);
	e = auth_find(key, now, true);
	if (e != NULL) {
		if (e->failures < 1000000)
			e->failures++;
		e->last = now;
	}
	pthread_mutex_unlock(&auth_lock);
}

void
auth_throttle_clear(const char *key)
{
	struct auth_entry *e;

	pthread_mutex_lock(&auth_lock);
	e = auth_find(key, 0, false);
	if (e != NULL)
		e->failures = 0;
	pthread_mutex_unlock(&auth_lock);
}

unsigned
auth_throttle_retry_after(const char *key, time_t now)
{
	struct auth_entry *e;
	time_t left = AUTH_WINDOW_SEC;

	pthread_mutex_lock(&auth_lock);
	e = auth_find(key, now, false);
	if (e != NULL && now - e->last < AUTH_WINDOW_SEC)
		left = AUTH_WINDOW_SEC - (now - e->last);
	pthread_mutex_unlock(&auth_lock);
	return left > 0 ? (unsigned)left : 1;
}

void
auth_set_max_failures(unsigned n)
{
	auth_ip_block = n > 0 ? n : AUTH_IP_BLOCK;
}

unsigned
auth_throttle_delay_ms(unsigned failures)
{
	unsigned delay = AUTH_DELAY_BASE_MS;

	if (failures == 0)
		return 0;
	for (unsigned i = 1; i < failures && delay < AUTH_DELAY_MAX_MS; i++)
		delay *= 2;
	return delay < AUTH_DELAY_MAX_MS ? delay : AUTH_DELAY_MAX_MS;
}

void
auth_init(void)
{
	if (auth_dummy_hash == NULL)
		auth_dummy_hash = password_hash("facteur-dummy", 13);
}

void
auth_request_from_sasl(struct auth_request *req, const struct sasl *s,
    const char *ip)
{
	memset(req, 0, sizeof(*req));
	str_lcpy(req->user, s->user, sizeof(req->user));
	memcpy(req->password, s->password, s->password_len);
	req->password_len = s->password_len;
	str_lcpy(req->ip, ip, sizeof(req->ip));
}

void
auth_run(struct auth_request *req)
{
	char ipkey[80], acctkey[ADDR_MAX + 8], hash[512], clean[LOG_CLEAN_SIZE];
	const char *error;
	struct db *db;
	bool enabled = false, found;
	enum password_result pr;
	time_t now = time(NULL);
	unsigned fails;
	int ret;

	str_printf(ipkey, sizeof(ipkey), "ip:%s", req->ip);
	req->status = AUTH_FAILED;
	if (auth_throttle_failures(ipkey, now) >= auth_ip_block) {
		req->status = AUTH_BLOCKED;
		req->retry_after = auth_throttle_retry_after(ipkey, now);
		goto out;
	}
	db = db_thread_get(&error);
	if (db == NULL) {
		req->status = AUTH_TEMPFAIL;
		goto out;
	}
	/* The user name is the mailbox address, or an admin's name. */
	if (req->admin) {
		found = strlen(req->user) <= DB_ADMIN_NAME_MAX;
		str_lcpy(req->address, req->user, sizeof(req->address));
	} else {
		found = addr_normalize(req->user, strlen(req->user), false,
		    req->address, sizeof(req->address), &error) == 0;
	}
	if (found && req->admin) {
		struct db_admin a;

		ret = db_admin_get(db, req->address, &a, hash, sizeof(hash),
		    &error);
		if (ret != DB_OK && ret != DB_NOT_FOUND) {
			req->status = AUTH_TEMPFAIL;
			goto out;
		}
		found = ret == DB_OK;
		enabled = true;
	} else if (found) {
		ret = db_mailbox_auth_get(db, req->address, hash, sizeof(hash),
		    &enabled, &error);
		if (ret != DB_OK && ret != DB_NOT_FOUND) {
			req->status = AUTH_TEMPFAIL;
			goto out;
		}
		found = ret == DB_OK;
	}
	pr = password_verify(req->password, req->password_len,
	    found ? hash : auth_dummy_hash);
	if (found && enabled &&
	    (pr == PASSWORD_OK || pr == PASSWORD_OK_REHASH)) {
		char *newhash = NULL;

		if (pr == PASSWORD_OK_REHASH)
			newhash = password_hash(req->password,
			    req->password_len);
		if ((req->admin ? db_admin_login(db, req->address, newhash,
		    &error) : db_mailbox_login(db, req->address, newhash,
		    &error)) != DB_OK)
			log_warn("event=login_record_failed user=%s",
			    req->address);
		else if (newhash != NULL)
			log_info("event=password_rehashed user=%s scheme=argon2id",
			    req->address);
		free(newhash);
		req->status = AUTH_OK;
		str_printf(acctkey, sizeof(acctkey), "%s:%s", req->admin ?
		    "admin" : "acct", req->address);
		auth_throttle_clear(acctkey);
		goto out;
	}
	if (pr == PASSWORD_BAD_HASH && found)
		log_error("event=bad_stored_hash user=%s", req->address);
	/* Count the failure against the client and the account. */
	str_printf(acctkey, sizeof(acctkey), "%s:%s", req->admin ? "admin" :
	    "acct", found ? req->address : log_clean(req->user,
	    strlen(req->user), clean));
	auth_throttle_fail(ipkey, now);
	auth_throttle_fail(acctkey, now);
	fails = auth_throttle_failures(ipkey, now);
	if (auth_throttle_failures(acctkey, now) > fails)
		fails = auth_throttle_failures(acctkey, now);
	req->delay_ms = auth_throttle_delay_ms(fails);
	req->address[0] = '\0';
out:
	mem_wipe(req->password, sizeof(req->password));
	req->password_len = 0;
	mem_wipe(hash, sizeof(hash));
}
