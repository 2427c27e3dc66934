/* Unit tests: the JSON API's handlers and its OpenAPI document, called
 * without HTTP on a temporary database and data directory (the
 * dispatcher's checks are covered end to end in tests/e2e/test_api.py). */
#include "t.h"

#include <stdlib.h>
#include <unistd.h>

#include "admin/service.h"
#include "auth/auth.h"
#include "auth/password.h"
#include "db/db.h"
#include "lib/log.h"
#include "lib/util.h"
#include "webadmin/routes.h"

/* service.c asks smtp/delivery.c where a DKIM key lives; this test does
 * not link the delivery code. */
int delivery_dkim_key_path(const char *data_dir, const char *domain,
    char *out, size_t outsize);

int
delivery_dkim_key_path(const char *data_dir, const char *domain, char *out,
    size_t outsize)
{
	return str_printf(out, outsize, "%s/%s.pem", data_dir, domain) < 0 ?
	    -1 : 0;
}

/* Nor the queue: where a spooled message lives. */
int queue_spool_path(const char *data_dir, const char *id, char *out,
    size_t outsize);

int
queue_spool_path(const char *data_dir, const char *id, char *out,
    size_t outsize)
{
	return str_printf(out, outsize, "%s/queue/%s", data_dir, id) < 0 ?
	    -1 : 0;
}

static struct config cfg;
static struct api_ctx ctx = { &cfg, 0 };
static struct db *db;
static const struct db_token *call_token;	/* as authenticated */
static const struct db_session *call_session;
/* The query string of the next call: "name=value&..." or NULL. */
static const char *call_query;

static const char *
query_get(void *qctx, const char *name)
{
	/* Values stay valid for the call, as libmicrohttpd's do. */
	static char values[8][256];
	static unsigned next;
	char *value = values[next++ % 8];
	const char *p = qctx;
	size_t len = strlen(name);

	while (p != NULL && *p != '\0') {
		const char *end = strchr(p, '&');
		size_t n = end != NULL ? (size_t)(end - p) : strlen(p);

		if (n > len && strncmp(p, name, len) == 0 && p[len] == '=') {
			str_printf(value, sizeof(values[0]), "%.*s",
			    (int)(n - len - 1), p + len + 1);
			return value;
		}
		p = end != NULL ? end + 1 : NULL;
	}
	return NULL;
}

static const struct api_route *
route(const char *method, const char *pattern)
{
	for (size_t i = 0; i < api_routes_count; i++) {
		if (strcmp(api_routes[i].method, method) == 0 &&
		    strcmp(api_routes[i].pattern, pattern) == 0)
			return &api_routes[i];
	}
	return NULL;
}

/* Runs a handler as the dispatcher would after its checks; returns the
 * status. body is JSON text or NULL. */
static unsigned
call(struct api_req *req, const char *method, const char *pattern,
    const char *p0, const char *body)
{
	const struct api_route *r = route(method, pattern);

	memset(req, 0, sizeof(*req));
	if (r == NULL)
		return 0;
	req->ctx = &ctx;
	req->db = db;
	req->params[0] = p0;
	req->token = call_token;
	req->session = call_session;
	req->query_get = query_get;
	req->qctx = (void *)call_query;
	req->remote = "192.0.2.1";
	req->body = body != NULL ? json_loads(body, 0, NULL) : NULL;
	req->status = r->success;
	r->fn(req);
	return req->status;
}

static void
done(struct api_req *req)
{
	api_req_clear(req);
	call_query = NULL;
}

static void
test_domains(void)
{
	struct api_req req;

	CHECK(call(&req, "POST", "/api/v1/domains", NULL,
	    "{\"name\": \"Example.COM\"}") == 201);
	CHECK_STREQ(json_string_value(json_object_get(req.out, "name")),
	    "example.com");
	done(&req);
	CHECK(call(&req, "POST", "/api/v1/domains", NULL,
	    "{\"name\": \"example.com\"}") == 409);
	CHECK_STREQ(req.code, "exists");
	done(&req);
	CHECK(call(&req, "POST", "/api/v1/domains", NULL,
	    "{\"name\": \"bad name\"}") == 400);
	CHECK_STREQ(req.code, "invalid_field");
	CHECK_STREQ(req.field, "name");
	done(&req);
	CHECK(call(&req, "GET", "/api/v1/domains/{name}", "absent.example",
	    NULL) == 404);
	CHECK_STREQ(req.code, "not_found");
	done(&req);
	CHECK(call(&req, "GET", "/api/v1/domains", NULL, NULL) == 200);
	CHECK(json_array_size(json_object_get(req.out, "domains")) == 1);
	done(&req);
}

static void
test_mailboxes(void)
{
	struct api_req req;
	const char *mb = "/api/v1/domains/{name}/mailboxes";

	CHECK(call(&req, "POST", mb, "example.com",
	    "{\"local_part\": \"a\", \"password\": \"short\"}") == 400);
	CHECK_STREQ(req.field, "password");
	done(&req);
	CHECK(call(&req, "POST", mb, "example.com",
	    "{\"address\": \"a@other.example\", \"password\": "
	    "\"long-enough\"}") == 400);
	CHECK_STREQ(req.field, "address");
	done(&req);
	CHECK(call(&req, "POST", mb, "example.com",
	    "{\"local_part\": \"a\", \"password_hash\": \"nope\"}") == 400);
	CHECK_STREQ(req.field, "password_hash");
	done(&req);
	CHECK(call(&req, "POST", mb, "example.com",
	    "{\"local_part\": \"A\", \"password\": \"long-enough\", "
	    "\"quota\": 5}") == 201);
	CHECK_STREQ(json_string_value(json_object_get(req.out, "address")),
	    "a@example.com");
	CHECK(json_integer_value(json_object_get(req.out, "quota")) == 5);
	done(&req);
	CHECK(call(&req, "PATCH", "/api/v1/mailboxes/{address}",
	    "a@example.com", "{\"enabled\": false, \"quota\": 0}") == 200);
	CHECK(json_is_false(json_object_get(req.out, "enabled")));
	done(&req);
	CHECK(call(&req, "GET", "/api/v1/mailboxes/{address}/client-setup",
	    "a@example.com", NULL) == 200);
	/* IMAP 993 and 143, POP3 995 and 110 */
	CHECK(json_array_size(json_object_get(req.out, "incoming")) == 4);
	done(&req);
	CHECK(call(&req, "DELETE", "/api/v1/domains/{name}", "example.com",
	    NULL) == 409);
	CHECK_STREQ(req.code, "not_empty");
	done(&req);
	CHECK(call(&req, "POST", "/api/v1/domains/{name}/aliases",
	    "example.com", "{\"source\": \"@\", \"destinations\": "
	    "[\"a@example.com\"]}") == 201);
	CHECK_STREQ(json_string_value(json_object_get(req.out, "source")),
	    "@example.com");
	done(&req);
	CHECK(call(&req, "DELETE", "/api/v1/aliases/{source}", "@example.com",
	    NULL) == 204);
	done(&req);
	CHECK(call(&req, "DELETE", "/api/v1/mailboxes/{address}",
	    "a@example.com", NULL) == 204);
	done(&req);
	CHECK(call(&req, "DELETE", "/api/v1/domains/{name}", "example.com",
	    NULL) == 204);
	done(&req);
}

static void
test_put(void)
{
	struct api_req req;
	const char *put = "/api/v1/mailboxes/{address}";

	CHECK(call(&req, "POST", "/api/v1/domains", NULL,
	    "{\"name\": \"put.example\"}") == 201);
	done(&req);
	/* Creating needs a password; validation as for POST. */
	CHECK(call(&req, "PUT", put, "p@put.example", "{\"quota\": 1}") ==
	    400);
	CHECK_STREQ(req.field, "password");
	done(&req);
	CHECK(call(&req, "PUT", put, "p@put.example",
	    "{\"password\": \"short\"}") == 400);
	CHECK_STREQ(req.field, "password");
	done(&req);
	CHECK(call(&req, "PUT", put, "p@put.example",
	    "{\"password_hash\": \"nope\"}") == 400);
	CHECK_STREQ(req.field, "password_hash");
	done(&req);
	CHECK(call(&req, "PUT", put, "p@absent.example",
	    "{\"password\": \"long-enough\"}") == 404);
	done(&req);
	CHECK(call(&req, "PUT", put, "P@put.example",
	    "{\"password\": \"long-enough\", \"quota\": 7, "
	    "\"enabled\": false}") == 201);
	CHECK_STREQ(json_string_value(json_object_get(req.out, "address")),
	    "p@put.example");
	CHECK(json_integer_value(json_object_get(req.out, "quota")) == 7);
	CHECK(json_is_false(json_object_get(req.out, "enabled")));
	done(&req);
	/* Again: an update; what the body leaves out stays. */
	CHECK(call(&req, "PUT", put, "p@put.example",
	    "{\"password\": \"another-one\", \"enabled\": true}") == 200);
	CHECK(json_integer_value(json_object_get(req.out, "quota")) == 7);
	CHECK(json_is_true(json_object_get(req.out, "enabled")));
	done(&req);
	CHECK(call(&req, "PUT", put, "p@put.example",
	    "{\"quota\": -1}") == 400);
	CHECK_STREQ(req.field, "quota");
	done(&req);
	CHECK(call(&req, "DELETE", "/api/v1/domains/{name}", "put.example",
	    NULL) == 409);
	done(&req);
}

static void
test_restricted(void)
{
	struct service_error err = { 0 };
	const char *doms[] = { "Mine.example" }, *bad[] = { "none.example" };
	const char *error;
	char secret[SERVICE_TOKEN_SECRET_LEN + 1], hex[65];
	struct db_token *t = xcalloc(1, sizeof(*t));
	struct api_req req;

	CHECK(call(&req, "POST", "/api/v1/domains", NULL,
	    "{\"name\": \"mine.example\"}") == 201);
	done(&req);
	CHECK(call(&req, "POST", "/api/v1/domains", NULL,
	    "{\"name\": \"theirs.example\"}") == 201);
	done(&req);
	CHECK(call(&req, "POST", "/api/v1/domains/{name}/mailboxes",
	    "theirs.example", "{\"local_part\": \"x\", \"password\": "
	    "\"long-enough\"}") == 201);
	done(&req);
	CHECK(call(&req, "POST", "/api/v1/domains/{name}/aliases",
	    "theirs.example", "{\"source\": \"y\", \"destinations\": "
	    "[\"x@theirs.example\"]}") == 201);
	done(&req);

	/* Stored and looked up with its (normalized) domains. */
	CHECK(service_token_create(db, "bad", "write", 0, bad, 1, secret,
	    sizeof(secret), &err) == DB_NOT_FOUND);
	CHECK(service_token_create(db, "scoped", "write", 0, doms, 1, secret,
	    sizeof(secret), &err) == DB_OK);
	CHECK(service_token_hash(secret, strlen(secret), hex) == 0);
	CHECK(db_token_lookup(db, hex, t, &error) == DB_OK);
	CHECK(t->restricted);
	CHECK(t->ndomains == 1);
	CHECK_STREQ(t->domains[0], "mine.example");
	call_token = t;

	CHECK(call(&req, "GET", "/api/v1/domains", NULL, NULL) == 200);
	CHECK(json_array_size(json_object_get(req.out, "domains")) == 1);
	done(&req);
	CHECK(call(&req, "GET", "/api/v1/domains/{name}", "mine.example",
	    NULL) == 200);
	done(&req);
	CHECK(call(&req, "POST", "/api/v1/domains/{name}/mailboxes",
	    "mine.example", "{\"local_part\": \"m\", \"password\": "
	    "\"long-enough\"}") == 201);
	done(&req);
	CHECK(call(&req, "GET", "/api/v1/mailboxes/{address}",
	    "m@mine.example", NULL) == 200);
	done(&req);
	/* Another domain does not exist as far as this token knows. */
	CHECK(call(&req, "GET", "/api/v1/domains/{name}", "theirs.example",
	    NULL) == 404);
	CHECK_STREQ(req.code, "not_found");
	done(&req);
	CHECK(call(&req, "GET", "/api/v1/domains/{name}/mailboxes",
	    "theirs.example", NULL) == 404);
	done(&req);
	CHECK(call(&req, "GET", "/api/v1/domains/{name}/aliases",
	    "theirs.example", NULL) == 404);
	done(&req);
	CHECK(call(&req, "GET", "/api/v1/mailboxes/{address}",
	    "x@theirs.example", NULL) == 404);
	done(&req);
	CHECK(call(&req, "PATCH", "/api/v1/mailboxes/{address}",
	    "x@theirs.example", "{\"quota\": 1}") == 404);
	done(&req);
	CHECK(call(&req, "PUT", "/api/v1/mailboxes/{address}",
	    "new@theirs.example", "{\"password\": \"long-enough\"}") ==
	    404);
	done(&req);
	CHECK(call(&req, "GET", "/api/v1/mailboxes/{address}/client-setup",
	    "x@theirs.example", NULL) == 404);
	done(&req);
	CHECK(call(&req, "DELETE", "/api/v1/mailboxes/{address}",
	    "x@theirs.example", NULL) == 404);
	done(&req);
	CHECK(call(&req, "DELETE", "/api/v1/aliases/{source}",
	    "y@theirs.example", NULL) == 404);
	done(&req);
	CHECK(call(&req, "DELETE", "/api/v1/domains/{name}",
	    "theirs.example", NULL) == 404);
	done(&req);
	CHECK(call(&req, "POST", "/api/v1/domains/{name}/aliases",
	    "theirs.example", "{\"source\": \"z\", \"destinations\": "
	    "[\"m@mine.example\"]}") == 404);
	done(&req);
	call_token = NULL;
	/* All of it still there. */
	CHECK(call(&req, "GET", "/api/v1/mailboxes/{address}",
	    "x@theirs.example", NULL) == 200);
	done(&req);

	/* Its last domain gone, the token sees nothing (not everything). */
	CHECK(call(&req, "DELETE", "/api/v1/domains/{name}", "mine.example",
	    NULL) == 409);
	done(&req);
	CHECK(service_domain_remove(db, "mine.example", true, &err) ==
	    DB_OK);
	CHECK(db_token_lookup(db, hex, t, &error) == DB_OK);
	CHECK(t->restricted);
	CHECK(t->ndomains == 0);
	call_token = t;
	CHECK(call(&req, "GET", "/api/v1/domains", NULL, NULL) == 200);
	CHECK(json_array_size(json_object_get(req.out, "domains")) == 0);
	done(&req);
	call_token = NULL;
	free(t);
}

/* Pages of 2 over 5 mailboxes, with the q filter and bad arguments. */
static void
test_pagination(void)
{
	const char *mb = "/api/v1/domains/{name}/mailboxes";
	char cursor[256], body[128];
	struct api_req req;
	unsigned seen = 0, pages = 0;

	CHECK(call(&req, "POST", "/api/v1/domains", NULL,
	    "{\"name\": \"page.example\"}") == 201);
	done(&req);
	for (int i = 0; i < 5; i++) {
		str_printf(body, sizeof(body), "{\"local_part\": \"u%d\", "
		    "\"password_hash\": \"{PLAIN}x\"}", i);
		if (call(&req, "POST", mb, "page.example", body) != 201) {
			/* PLAIN may not be accepted: hash one for real. */
			done(&req);
			str_printf(body, sizeof(body), "{\"local_part\": "
			    "\"u%d\", \"password\": \"long-enough\"}", i);
			CHECK(call(&req, "POST", mb, "page.example", body) ==
			    201);
		}
		done(&req);
	}
	cursor[0] = '\0';
	do {
		char q[300];
		json_t *list, *next;

		str_printf(q, sizeof(q), "limit=2%s%s", cursor[0] != '\0' ?
		    "&cursor=" : "", cursor);
		call_query = q;
		CHECK_MSG(call(&req, "GET", mb, "page.example", NULL) == 200,
		    "%s: %s", q, req.detail);
		list = json_object_get(req.out, "mailboxes");
		next = json_object_get(req.out, "next_cursor");
		CHECK(json_array_size(list) <= 2);
		if (json_array_size(list) > 0) {
			char want[64];

			str_printf(want, sizeof(want), "u%u@page.example",
			    seen);
			CHECK_STREQ(json_string_value(json_object_get(
			    json_array_get(list, 0), "address")), want);
		}
		seen += (unsigned)json_array_size(list);
		pages++;
		cursor[0] = '\0';
		if (json_is_string(next))
			str_lcpy(cursor, json_string_value(next),
			    sizeof(cursor));
		done(&req);
	} while (cursor[0] != '\0' && pages < 10);
	CHECK(seen == 5 && pages == 3);
	call_query = "q=U3";
	CHECK(call(&req, "GET", mb, "page.example", NULL) == 200);
	CHECK(json_array_size(json_object_get(req.out, "mailboxes")) == 1);
	done(&req);
	call_query = "limit=1001";
	CHECK(call(&req, "GET", mb, "page.example", NULL) == 400);
	CHECK_STREQ(req.field, "limit");
	done(&req);
	call_query = "cursor=0g";
	CHECK(call(&req, "GET", mb, "page.example", NULL) == 400);
	CHECK_STREQ(req.field, "cursor");
	done(&req);
}

static void
test_domain_update(void)
{
	struct api_req req;
	const char *d = "/api/v1/domains/{name}";

	CHECK(call(&req, "POST", "/api/v1/domains", NULL,
	    "{\"name\": \"lim.example\"}") == 201);
	done(&req);
	CHECK(call(&req, "PATCH", d, "lim.example", "{\"max_mailboxes\": 1, "
	    "\"default_quota\": 1000, \"enabled\": false}") == 200);
	CHECK(json_integer_value(json_object_get(req.out, "max_mailboxes")) ==
	    1);
	CHECK(json_is_false(json_object_get(req.out, "enabled")));
	done(&req);
	CHECK(call(&req, "PATCH", d, "absent.example", "{}") == 404);
	done(&req);
	CHECK(call(&req, "POST", "/api/v1/domains/{name}/mailboxes",
	    "lim.example", "{\"local_part\": \"a\", \"password\": "
	    "\"long-enough\"}") == 201);
	CHECK(json_integer_value(json_object_get(req.out, "quota")) == 1000);
	done(&req);
	CHECK(call(&req, "POST", "/api/v1/domains/{name}/mailboxes",
	    "lim.example", "{\"local_part\": \"b\", \"password\": "
	    "\"long-enough\"}") == 409);
	CHECK_STREQ(req.code, "limit_reached");
	done(&req);
	CHECK(call(&req, "GET", d, "lim.example", NULL) == 200);
	CHECK(json_integer_value(json_object_get(req.out, "storage_used")) ==
	    0);
	done(&req);
	/* Aliases: replaced destinations. */
	CHECK(call(&req, "POST", "/api/v1/domains/{name}/aliases",
	    "lim.example", "{\"source\": \"x\", \"destinations\": "
	    "[\"a@lim.example\"]}") == 201);
	done(&req);
	CHECK(call(&req, "PUT", "/api/v1/aliases/{source}", "x@lim.example",
	    "{\"destinations\": [\"B@lim.example\", \"c@lim.example\"]}") ==
	    200);
	CHECK(json_array_size(json_object_get(req.out, "destinations")) == 2);
	CHECK_STREQ(json_string_value(json_array_get(json_object_get(req.out,
	    "destinations"), 0)), "b@lim.example");
	done(&req);
	CHECK(call(&req, "PATCH", "/api/v1/aliases/{source}", "y@lim.example",
	    "{\"destinations\": [\"b@lim.example\"]}") == 404);
	done(&req);
}

/* The DNS records: SRV per endpoint, the DKIM record in strings. */
static void
test_dns(void)
{
	struct api_req req;
	json_t *recs, *r;
	size_t i;
	unsigned srv = 0, dkim = 0;

	CHECK(call(&req, "GET", "/api/v1/domains/{name}/dns", "lim.example",
	    NULL) == 200);
	recs = json_object_get(req.out, "records");
	json_array_foreach(recs, i, r) {
		const char *purpose = json_string_value(json_object_get(r,
		    "purpose"));

		if (strcmp(purpose, "srv") == 0)
			srv++;
		if (strcmp(purpose, "dkim") == 0) {
			dkim++;
			CHECK(strncmp(json_string_value(json_object_get(r,
			    "value")), "v=DKIM1; k=ed25519; p=", 22) == 0);
		}
	}
	CHECK(srv == 6 && dkim == 1);
	done(&req);
	call_query = "format=zone";
	CHECK(call(&req, "GET", "/api/v1/domains/{name}/dns", "lim.example",
	    NULL) == 200);
	CHECK(req.text != NULL && strstr(req.text, "\tIN\tMX\t10 ") != NULL);
	CHECK(req.text != NULL && strstr(req.text,
	    "_submissions._tcp.lim.example.\t3600\tIN\tSRV\t0 1 465 ") !=
	    NULL);
	done(&req);
}

static void
test_sessions(void)
{
	struct service_error err = { 0 };
	struct db_session s, got;
	char secret[SERVICE_SESSION_SECRET_LEN + 1];
	char csrf[DB_SESSION_CSRF_LEN + 1];
	struct api_req req;

	CHECK(service_admin_add(db, "root", "long-enough", &err) == DB_OK);
	CHECK(service_session_create(db, &cfg, "admin", "root", "192.0.2.1",
	    secret, csrf, &s, &err) == DB_OK);
	CHECK(strlen(secret) == 64 && strlen(csrf) == 64);
	CHECK(service_session_lookup(db, &cfg, secret, &got, &err) == DB_OK);
	CHECK_STREQ(got.user, "root");
	CHECK_STREQ(got.csrf, csrf);
	CHECK(service_session_lookup(db, &cfg, "00", &got, &err) ==
	    DB_NOT_FOUND);
	/* The last admin stays. */
	CHECK(call(&req, "DELETE", "/api/v1/admins/{name}", "root", NULL) ==
	    409);
	CHECK_STREQ(req.code, "last_admin");
	done(&req);

	/* A mailbox session sees its own mailbox only. */
	CHECK(call(&req, "POST", "/api/v1/domains/{name}/mailboxes",
	    "page.example", "{\"local_part\": \"self\", \"password\": "
	    "\"long-enough\"}") == 201);
	done(&req);
	CHECK(service_session_create(db, &cfg, "mailbox", "self@page.example",
	    "", secret, csrf, &s, &err) == DB_OK);
	call_session = &s;
	CHECK(call(&req, "GET", "/api/v1/mailboxes/{address}",
	    "SELF@page.example", NULL) == 200);
	done(&req);
	CHECK(call(&req, "GET", "/api/v1/mailboxes/{address}",
	    "u1@page.example", NULL) == 404);
	done(&req);
	CHECK(call(&req, "GET", "/api/v1/session", NULL, NULL) == 200);
	CHECK_STREQ(json_string_value(json_object_get(req.out, "role")),
	    "mailbox");
	done(&req);
	call_session = NULL;
	/* Gone with its mailbox. */
	CHECK(call(&req, "DELETE", "/api/v1/mailboxes/{address}",
	    "self@page.example", NULL) == 204);
	done(&req);
	CHECK(service_session_lookup(db, &cfg, secret, &got, &err) ==
	    DB_NOT_FOUND);
	/* Expired by the idle timeout. */
	CHECK(service_session_create(db, &cfg, "admin", "root", "", secret,
	    csrf, &s, &err) == DB_OK);
	s.last_seen -= cfg.session_idle_timeout;
	CHECK(service_session_end(&cfg, &s) <= (int64_t)time(NULL));
	/* Queue ids are checked before the database. */
	CHECK(call(&req, "GET", "/api/v1/queue/{id}", "../x", NULL) == 404);
	done(&req);
}

/* The Apple profile: preferred endpoints, escaped values, stable
 * identifiers (unsigned here: signing is tested end to end). */
static void
test_profile(void)
{
	const char *mc = "/api/v1/mailboxes/{address}/mobileconfig";
	char *first;
	struct api_req req;

	CHECK(call(&req, "POST", "/api/v1/domains", NULL,
	    "{\"name\": \"profile.example\"}") == 201);
	done(&req);
	CHECK(call(&req, "POST", "/api/v1/domains/{name}/mailboxes",
	    "profile.example", "{\"local_part\": \"a&b'c\", \"password\": "
	    "\"long-enough\"}") == 201);
	done(&req);
	call_query = "signed=false&name=B <x> \"q\"";
	CHECK(call(&req, "GET", mc, "a&b'c@profile.example", NULL) == 200);
	CHECK_STREQ(req.text_type, "application/x-apple-aspen-config");
	CHECK_STREQ(req.header_name, "Content-Disposition");
	CHECK_STREQ(req.header_value,
	    "attachment; filename=\"a_b_c@profile.example.mobileconfig\"");
	CHECK(req.text != NULL && req.text_len == strlen(req.text));
	CHECK(strstr(req.text, "<string>a&amp;b&apos;c@profile.example"
	    "</string>") != NULL);
	CHECK(strstr(req.text, "<string>B &lt;x&gt; &quot;q&quot;</string>") !=
	    NULL);
	CHECK(strstr(req.text, "<key>IncomingMailServerPortNumber</key>\n"
	    "\t\t\t<integer>993</integer>") != NULL);
	CHECK(strstr(req.text, "<key>IncomingMailServerUseSSL</key>\n"
	    "\t\t\t<true/>") != NULL);
	CHECK(strstr(req.text, "<key>OutgoingMailServerPortNumber</key>\n"
	    "\t\t\t<integer>465</integer>") != NULL);
	CHECK(strstr(req.text, "<key>IncomingPassword</key>") == NULL);
	first = req.text != NULL ? xstrdup(req.text) : xstrdup("");
	done(&req);
	/* The same document again, whatever the name: stable ids. */
	call_query = "signed=0";
	CHECK(call(&req, "GET", mc, "A&B'C@profile.example", NULL) == 200);
	CHECK(req.text != NULL && strstr(first, strstr(req.text,
	    "<key>EmailAccountType</key>")) != NULL);
	free(first);
	done(&req);
	call_query = "signed=maybe";
	CHECK(call(&req, "GET", mc, "a&b'c@profile.example", NULL) == 400);
	CHECK_STREQ(req.field, "signed");
	CHECK(req.header_name == NULL);
	done(&req);
	call_query = "signed=0&name=0123456789012345678901234567890123456789"
	    "0123456789012345678901234567890123456789012345678901234567890123"
	    "45678901234567890123456789";
	CHECK(call(&req, "GET", mc, "a&b'c@profile.example", NULL) == 400);
	CHECK_STREQ(req.field, "name");
	done(&req);
	call_query = "signed=0";
	CHECK(call(&req, "GET", mc, "nobody@profile.example", NULL) == 404);
	done(&req);
}

static void
test_openapi(void)
{
	json_t *doc = api_openapi(), *paths = json_object_get(doc, "paths");
	char method[16];

	CHECK_STREQ(json_string_value(json_object_get(doc, "openapi")),
	    "3.1.0");
	for (size_t i = 0; i < api_routes_count; i++) {
		str_lcpy(method, api_routes[i].method, sizeof(method));
		str_lower(method);
		CHECK_MSG(json_object_get(json_object_get(paths,
		    api_routes[i].pattern), method) != NULL, "%s %s",
		    api_routes[i].method, api_routes[i].pattern);
	}
	json_decref(doc);
}

int
main(void)
{
	char dir[] = "/tmp/facteur-test-routes-XXXXXX", path[256], cmd[300];
	const char *err;

	log_set_level("warn");
	CHECK(password_init() == 0);
	CHECK(mkdtemp(dir) != NULL);
	config_init(&cfg);
	str_lcpy(cfg.data_dir, dir, sizeof(cfg.data_dir));
	str_lcpy(cfg.dkim_key_type, "ed25519", sizeof(cfg.dkim_key_type));
	str_printf(path, sizeof(path), "%s/facteur.db", dir);
	CHECK(db_open(path, true, &db, &err) == DB_OK);
	db_thread_init(path);
	auth_init();
	test_domains();
	test_mailboxes();
	test_put();
	test_restricted();
	test_pagination();
	test_domain_update();
	test_dns();
	test_sessions();
	test_profile();
	test_openapi();
	db_close(&db);
	str_printf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	CHECK(system(cmd) == 0);
	return t_done("routes");
}
