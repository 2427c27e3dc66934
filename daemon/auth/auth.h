/*
 * auth.h: user authentication shared by SMTP AUTH, POP3 and IMAP (and the
 * web panel's mailbox sign-in): the user name is normalized as an
 * address, the password checked against the accounts database, legacy
 * hashes are replaced with argon2id at the first successful login, and
 * failures are throttled per client IP and per account.
 *
 * Throttling: each failure counts against the client IP and the account
 * (counts decay after AUTH_WINDOW_SEC without failures). The reply to a
 * failure is delayed by AUTH_DELAY_BASE_MS doubled per earlier failure,
 * up to AUTH_DELAY_MAX_MS. A client IP past AUTH_IP_BLOCK failures (or
 * the configured auth_max_failures) is refused without a password check
 * (temporary failure) until its count decays; an account is never
 * locked, so nobody can lock a user out.
 *
 * The admin API's sign-in (webadmin/) uses the same check and the same
 * counters, for mailboxes and for admin accounts (auth_request.admin).
 */
#ifndef FACTEUR_AUTH_H
#define FACTEUR_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "auth/sasl.h"
#include "lib/addr.h"

#define AUTH_WINDOW_SEC 900
#define AUTH_DELAY_BASE_MS 500
#define AUTH_DELAY_MAX_MS 8000
#define AUTH_IP_BLOCK 50

enum auth_status {
	AUTH_OK = 0,
	AUTH_FAILED,		/* wrong user or password, or disabled */
	AUTH_TEMPFAIL,		/* database trouble: try again later */
	AUTH_BLOCKED,		/* too many failures from this client */
};

struct auth_request {
	/* in */
	char user[SASL_USER_MAX + 1];
	char password[SASL_PASSWORD_MAX + 1];
	size_t password_len;
	char ip[64];
	bool admin;		/* user names an admin account (db admins),
				   not a mailbox */
	/* out */
	enum auth_status status;
	char address[ADDR_MAX + 1];	/* the mailbox, when AUTH_OK */
	unsigned delay_ms;	/* wait this long before answering */
	unsigned retry_after;	/* AUTH_BLOCKED: seconds until unblocked */
};

/* Once at start (after password_init). */
void auth_init(void);
/* Failures from one client address before it is blocked (default
 * AUTH_IP_BLOCK); set at start from the configuration. */
void auth_set_max_failures(unsigned n);

/* Fills a request from a finished SASL exchange (copies, then the caller
 * clears the SASL state). */
void auth_request_from_sasl(struct auth_request *req, const struct sasl *s,
    const char *ip);

/* Checks the credentials: blocking (database, password hashing), so on a
 * worker thread. Wipes the password before returning. */
void auth_run(struct auth_request *req);

/* Throttle internals, exposed for unit tests (now = time(NULL)). */
unsigned auth_throttle_failures(const char *key, time_t now);
void auth_throttle_fail(const char *key, time_t now);
void auth_throttle_clear(const char *key);
unsigned auth_throttle_delay_ms(unsigned failures);
/* Seconds until key's failures decay (at least 1). */
unsigned auth_throttle_retry_after(const char *key, time_t now);

#endif
