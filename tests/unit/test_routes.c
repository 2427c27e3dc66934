/* Unit tests: the JSON API's handlers and its OpenAPI document, called
 * without HTTP on a temporary database and data directory (the
 * dispatcher's checks are covered end to end in tests/e2e/test_api.py). */
#include "t.h"

#include <stdlib.h>
#include <unistd.h>

#include "admin/service.h"
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
	req->body = body != NULL ? json_loads(body, 0, NULL) : NULL;
	req->status = r->success;
	r->fn(req);
	return req->status;
}

static void
done(struct api_req *req)
{
	json_decref(req->body);
	json_decref(req->out);
	req->body = req->out = NULL;
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
	CHECK(json_array_size(json_object_get(req.out, "incoming")) == 2);
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
	test_domains();
	test_mailboxes();
	test_put();
	test_restricted();
	test_openapi();
	db_close(&db);
	str_printf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	CHECK(system(cmd) == 0);
	return t_done("routes");
}
