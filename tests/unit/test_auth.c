/* Unit tests: authentication against an accounts database (normalized
 * user names, disabled mailboxes, legacy hashes upgraded at login) and
 * the failure throttle. */
#include "t.h"

#include <stdlib.h>
#include <unistd.h>

#include "auth/auth.h"
#include "auth/password.h"
#include "db/db.h"
#include "lib/util.h"

/* openssl passwd -6 -salt saltsalt secret123 */
#define SHA512_SECRET123 "$6$saltsalt$4wxWeHqpAHNNJcQMSu6jvr3dQTQoGoqMQhPAP0o5Ygzna6vr4y0u6.EZzboAAqg6dXU4q/OfcYqdrvZixR76r0"

static void
run(struct auth_request *req, const char *user, const char *pw,
    const char *ip)
{
	memset(req, 0, sizeof(*req));
	str_lcpy(req->user, user, sizeof(req->user));
	str_lcpy(req->password, pw, sizeof(req->password));
	req->password_len = strlen(pw);
	str_lcpy(req->ip, ip, sizeof(req->ip));
	auth_run(req);
	/* the password is wiped */
	CHECK(req->password[0] == '\0' && req->password_len == 0);
}

static void
test_throttle(void)
{
	time_t t = 1000000;

	CHECK(auth_throttle_delay_ms(0) == 0);
	CHECK(auth_throttle_delay_ms(1) == AUTH_DELAY_BASE_MS);
	CHECK(auth_throttle_delay_ms(2) == AUTH_DELAY_BASE_MS * 2);
	CHECK(auth_throttle_delay_ms(100) == AUTH_DELAY_MAX_MS);
	CHECK(auth_throttle_failures("ip:192.0.2.1", t) == 0);
	auth_throttle_fail("ip:192.0.2.1", t);
	auth_throttle_fail("ip:192.0.2.1", t + 1);
	CHECK(auth_throttle_failures("ip:192.0.2.1", t + 2) == 2);
	/* counts decay after the window without failures */
	CHECK(auth_throttle_failures("ip:192.0.2.1",
	    t + 1 + AUTH_WINDOW_SEC) == 0);
	auth_throttle_fail("acct:a@b.example", t);
	auth_throttle_clear("acct:a@b.example");
	CHECK(auth_throttle_failures("acct:a@b.example", t) == 0);
}

static void
test_login(const char *dir)
{
	struct auth_request req;
	char path[512], *hash;
	const char *err;
	struct db *db;
	struct db_mailbox m;
	char stored[512];
	bool enabled;

	snprintf(path, sizeof(path), "%s/facteur.db", dir);
	CHECK(db_open(path, true, &db, &err) == DB_OK);
	CHECK(db_domain_add(db, "example.com", &err) == DB_OK);
	hash = password_hash("correct horse", 13);
	CHECK(hash != NULL);
	CHECK(db_mailbox_add(db, "me@example.com", hash, 0, &err) == DB_OK);
	free(hash);
	CHECK(db_mailbox_add(db, "old@example.com", "{SHA512-CRYPT}"
	    SHA512_SECRET123, 0, &err) == DB_OK);
	CHECK(db_mailbox_add(db, "off@example.com", SHA512_SECRET123, 0,
	    &err) == DB_OK);
	CHECK(db_mailbox_set_enabled(db, "off@example.com", false, &err) ==
	    DB_OK);
	db_thread_init(path);

	run(&req, "Me@Example.COM", "correct horse", "192.0.2.10");
	CHECK(req.status == AUTH_OK);
	CHECK_STREQ(req.address, "me@example.com");
	CHECK(db_mailbox_get(db, "me@example.com", &m, &err) == DB_OK &&
	    m.last_login > 0);

	run(&req, "me@example.com", "wrong", "192.0.2.10");
	CHECK(req.status == AUTH_FAILED);
	CHECK(req.address[0] == '\0');
	CHECK(req.delay_ms == AUTH_DELAY_BASE_MS);
	run(&req, "me@example.com", "wrong again", "192.0.2.10");
	CHECK(req.delay_ms == AUTH_DELAY_BASE_MS * 2);
	/* an unknown user fails the same way */
	run(&req, "nobody@example.com", "x", "192.0.2.11");
	CHECK(req.status == AUTH_FAILED && req.delay_ms == AUTH_DELAY_BASE_MS);
	run(&req, "not an address", "x", "192.0.2.12");
	CHECK(req.status == AUTH_FAILED);
	/* disabled mailbox with the right password */
	run(&req, "off@example.com", "secret123", "192.0.2.13");
	CHECK(req.status == AUTH_FAILED);

	/* an imported SHA512-CRYPT hash works and becomes argon2id */
	run(&req, "old@example.com", "secret123", "192.0.2.14");
	CHECK(req.status == AUTH_OK);
	CHECK(db_mailbox_auth_get(db, "old@example.com", stored,
	    sizeof(stored), &enabled, &err) == DB_OK);
	CHECK(strncmp(stored, "$argon2id$", 10) == 0);
	run(&req, "old@example.com", "secret123", "192.0.2.14");
	CHECK(req.status == AUTH_OK);

	/* an IP past the block threshold is refused without a check */
	for (int i = 0; i < AUTH_IP_BLOCK; i++)
		auth_throttle_fail("ip:198.51.100.7", time(NULL));
	run(&req, "me@example.com", "correct horse", "198.51.100.7");
	CHECK(req.status == AUTH_BLOCKED);
	db_close(&db);
}

int
main(void)
{
	char dir[] = "/tmp/facteur-test-auth-XXXXXX";
	char cmd[128];

	if (password_init() < 0 || mkdtemp(dir) == NULL)
		return 1;
	auth_init();
	test_throttle();
	test_login(dir);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", dir);
	return t_done("auth");
}
