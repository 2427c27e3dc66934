/*
 * routes.c: the JSON API's route table and handlers (see routes.h).
 * Every change goes through admin/service.c, the same code the CLI runs.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin/service.h"
#include "app.h"
#include "lib/addr.h"
#include "webadmin/routes.h"

void
api_problem(struct api_req *req, unsigned status, const char *code,
    const char *field, const char *fmt, ...)
{
	va_list ap;

	req->status = status;
	req->code = code;
	req->field = field;
	va_start(ap, fmt);
	if (vsnprintf(req->detail, sizeof(req->detail), fmt, ap) < 0)
		req->detail[0] = '\0';
	va_end(ap);
	if (req->out != NULL)
		json_decref(req->out);
	req->out = NULL;
}

void
api_problem_db(struct api_req *req, int status, const char *field,
    const char *detail)
{
	if (detail == NULL)
		detail = "failed";
	switch (status) {
	case DB_INVALID:
		api_problem(req, 400, "invalid_field", field, "%s%s%s",
		    field != NULL ? field : "", field != NULL ? ": " : "",
		    detail);
		break;
	case DB_NOT_FOUND:
		api_problem(req, 404, "not_found", NULL, "%s", detail);
		break;
	case DB_EXISTS:
		api_problem(req, 409, "exists", NULL, "%s", detail);
		break;
	case DB_NOT_EMPTY:
		api_problem(req, 409, "not_empty", NULL, "%s", detail);
		break;
	case DB_BUSY:
		api_problem(req, 503, "unavailable", NULL,
		    "the database is busy, try again");
		break;
	default:
		api_problem(req, 500, "internal", NULL, "%s", detail);
		break;
	}
}

const char *
api_type_name(enum api_type t)
{
	switch (t) {
	case API_T_STRING:
		return "string";
	case API_T_INTEGER:
		return "integer";
	case API_T_BOOLEAN:
		return "boolean";
	case API_T_STRINGS:
		return "array";
	}
	return "string";
}

bool
api_domain_allowed(const struct api_req *req, const char *domain)
{
	if (req->token == NULL || !req->token->restricted)
		return true;
	for (unsigned i = 0; i < req->token->ndomains; i++) {
		if (strcmp(req->token->domains[i], domain) == 0)
			return true;
	}
	return false;
}

/* ---- JSON views ---- */

static json_t *
api_domain_json(const struct db_domain *d)
{
	return json_pack("{s:s, s:b, s:I, s:I, s:I}", "name", d->name,
	    "enabled", d->enabled, "mailboxes", (json_int_t)d->mailboxes,
	    "aliases", (json_int_t)d->aliases, "created",
	    (json_int_t)d->created);
}

static json_t *
api_mailbox_json(const struct db_mailbox *m)
{
	return json_pack("{s:s, s:s, s:I, s:b, s:I, s:o}", "address",
	    m->address, "domain", m->domain, "quota", (json_int_t)m->quota,
	    "enabled", m->enabled, "created", (json_int_t)m->created,
	    "last_login", m->last_login != 0 ?
	    json_integer((json_int_t)m->last_login) : json_null());
}

static json_t *
api_alias_json(const struct db_alias *a)
{
	json_t *dest = json_array();

	for (unsigned i = 0; i < a->ndest; i++)
		json_array_append_new(dest, json_string(a->dest[i]));
	return json_pack("{s:s, s:o}", "source", a->source, "destinations",
	    dest);
}

/* The path's domain, normalized; 0, or -1 with the problem set. */
static int
api_domain_param(struct api_req *req, char *out, size_t outsize)
{
	struct service_error err = { 0 };
	struct db_domain d;
	const char *error = NULL;
	int ret;

	if (service_domain_normalize(req->params[0], out, outsize, "name",
	    &err) != DB_OK || !api_domain_allowed(req, out)) {
		api_problem(req, 404, "not_found", NULL, "no such domain");
		return -1;
	}
	if ((ret = db_domain_get(req->db, out, &d, &error)) != DB_OK) {
		api_problem_db(req, ret, NULL, error);
		return -1;
	}
	return 0;
}

/* ---- handlers ---- */

static int
api_count_domain(const struct db_domain *d, void *ctx)
{
	int64_t *n = ctx;

	n[0]++;
	n[1] += d->mailboxes;
	n[2] += d->aliases;
	return 0;
}

static void
api_status(struct api_req *req)
{
	int64_t n[3] = { 0, 0, 0 };
	const char *error = NULL;
	int ret;

	if ((ret = db_domain_list(req->db, api_count_domain, n,
	    &error)) != DB_OK) {
		api_problem_db(req, ret, NULL, error);
		return;
	}
	req->out = json_pack("{s:s, s:s, s:I, s:{s:I, s:I, s:I}}",
	    "version", FACTEUR_VERSION, "hostname", req->ctx->cfg->hostname,
	    "uptime", (json_int_t)(time(NULL) - req->ctx->started),
	    "counts", "domains", (json_int_t)n[0], "mailboxes",
	    (json_int_t)n[1], "aliases", (json_int_t)n[2]);
}

struct api_domain_listing {
	struct api_req *req;
	json_t *list;
};

static int
api_domain_append(const struct db_domain *d, void *ctx)
{
	struct api_domain_listing *l = ctx;

	if (api_domain_allowed(l->req, d->name))
		json_array_append_new(l->list, api_domain_json(d));
	return 0;
}

static void
api_domain_list(struct api_req *req)
{
	json_t *list = json_array();
	struct api_domain_listing l = { req, list };
	const char *error = NULL;
	int ret;

	if ((ret = db_domain_list(req->db, api_domain_append, &l,
	    &error)) != DB_OK) {
		json_decref(list);
		api_problem_db(req, ret, NULL, error);
		return;
	}
	req->out = json_pack("{s:o}", "domains", list);
}

static void
api_domain_get(struct api_req *req)
{
	char name[ADDR_DOMAIN_MAX + 1];
	struct db_domain d;
	const char *error = NULL;
	int ret;

	if (api_domain_param(req, name, sizeof(name)) < 0)
		return;
	if ((ret = db_domain_get(req->db, name, &d, &error)) != DB_OK) {
		api_problem_db(req, ret, NULL, error);
		return;
	}
	req->out = api_domain_json(&d);
}

static void
api_domain_add(struct api_req *req)
{
	struct service_error err = { 0 };
	char name[ADDR_DOMAIN_MAX + 1];
	struct db_domain d;
	const char *error = NULL;
	json_t *v = json_object_get(req->body, "name");
	int ret;

	if (v == NULL) {
		api_problem(req, 400, "invalid_field", "name",
		    "name: required");
		return;
	}
	ret = service_domain_add(req->db, req->ctx->cfg, json_string_value(v),
	    name, &err);
	if (ret == DB_OK)
		ret = db_domain_get(req->db, name, &d, &error);
	else
		error = err.detail;
	if (ret != DB_OK) {
		api_problem_db(req, ret, err.field, error);
		return;
	}
	req->out = api_domain_json(&d);
}

static void
api_domain_remove(struct api_req *req)
{
	struct service_error err = { 0 };
	char name[ADDR_DOMAIN_MAX + 1];
	bool force = false;
	int ret;

	if (req->force != NULL) {
		if (strcmp(req->force, "true") == 0 ||
		    strcmp(req->force, "1") == 0)
			force = true;
		else if (strcmp(req->force, "false") != 0 &&
		    strcmp(req->force, "0") != 0) {
			api_problem(req, 400, "invalid_field", "force",
			    "force: expected true or false");
			return;
		}
	}
	if (api_domain_param(req, name, sizeof(name)) < 0)
		return;
	ret = service_domain_remove(req->db, name, force, &err);
	if (ret != DB_OK)
		api_problem_db(req, ret, err.field, err.detail);
}

static int
api_mailbox_append(const struct db_mailbox *m, void *ctx)
{
	json_array_append_new(ctx, api_mailbox_json(m));
	return 0;
}

static void
api_mailbox_list(struct api_req *req)
{
	char name[ADDR_DOMAIN_MAX + 1];
	json_t *list;
	const char *error = NULL;
	int ret;

	if (api_domain_param(req, name, sizeof(name)) < 0)
		return;
	list = json_array();
	if ((ret = db_mailbox_list(req->db, name, api_mailbox_append, list,
	    &error)) != DB_OK) {
		json_decref(list);
		api_problem_db(req, ret, NULL, error);
		return;
	}
	req->out = json_pack("{s:o}", "mailboxes", list);
}

/* Reads an optional non-negative integer field; 1 present, 0 absent,
 * -1 with the problem set. */
static int
api_uint_field(struct api_req *req, const char *name, uint64_t *value_r)
{
	json_t *v = json_object_get(req->body, name);

	if (v == NULL)
		return 0;
	if (json_integer_value(v) < 0) {
		api_problem(req, 400, "invalid_field", name,
		    "%s: must be 0 or more", name);
		return -1;
	}
	*value_r = (uint64_t)json_integer_value(v);
	return 1;
}

static void
api_mailbox_add(struct api_req *req)
{
	struct service_error err = { 0 };
	char domain[ADDR_DOMAIN_MAX + 1], addr[ADDR_MAX + 1], raw[ADDR_MAX + 2];
	const char *local, *address, *password, *hash, *at;
	struct db_mailbox m;
	uint64_t quota = 0;
	int ret;

	if (api_domain_param(req, domain, sizeof(domain)) < 0)
		return;
	local = json_string_value(json_object_get(req->body, "local_part"));
	address = json_string_value(json_object_get(req->body, "address"));
	password = json_string_value(json_object_get(req->body, "password"));
	hash = json_string_value(json_object_get(req->body, "password_hash"));
	if ((local == NULL) == (address == NULL)) {
		api_problem(req, 400, "invalid_field", "address",
		    "address: give either local_part or address");
		return;
	}
	if ((password == NULL) == (hash == NULL)) {
		api_problem(req, 400, "invalid_field", "password",
		    "password: give either password or password_hash");
		return;
	}
	if (api_uint_field(req, "quota", &quota) < 0)
		return;
	if (local != NULL) {
		if (strchr(local, '@') != NULL || str_printf(raw, sizeof(raw),
		    "%s@%s", local, domain) < 0) {
			api_problem(req, 400, "invalid_field", "local_part",
			    "local_part: invalid");
			return;
		}
		address = raw;
	}
	/* Checked before anything is written: the path names the domain. */
	ret = service_address_normalize(address, false, addr, sizeof(addr),
	    local != NULL ? "local_part" : "address", &err);
	if (ret == DB_OK && ((at = strrchr(addr, '@')) == NULL ||
	    strcmp(at + 1, domain) != 0)) {
		api_problem(req, 400, "invalid_field", "address",
		    "address: not in domain %s", domain);
		return;
	}
	if (ret == DB_OK)
		ret = service_mailbox_add(req->db, req->ctx->cfg, addr,
		    password, hash, quota, addr, &err);
	if (ret == DB_OK)
		ret = db_mailbox_get(req->db, addr, &m, &err.detail);
	if (ret != DB_OK) {
		api_problem_db(req, ret, err.field, err.detail);
		return;
	}
	req->out = api_mailbox_json(&m);
}

/* The path's address, normalized; 0, or -1 with the problem set. */
static int
api_address_param(struct api_req *req, bool catchall, char *out,
    size_t outsize)
{
	struct service_error err = { 0 };

	const char *at;

	if (service_address_normalize(req->params[0], catchall, out, outsize,
	    "address", &err) != DB_OK) {
		api_problem(req, 404, "not_found", NULL, "%s", err.detail);
		return -1;
	}
	/* Same answer as for an address that does not exist. */
	if ((at = strrchr(out, '@')) == NULL ||
	    !api_domain_allowed(req, at + 1)) {
		api_problem(req, 404, "not_found", NULL, "no such %s",
		    catchall ? "alias" : "mailbox");
		return -1;
	}
	return 0;
}

static void
api_mailbox_get(struct api_req *req)
{
	char addr[ADDR_MAX + 1];
	struct db_mailbox m;
	const char *error = NULL;
	int ret;

	if (api_address_param(req, false, addr, sizeof(addr)) < 0)
		return;
	if ((ret = db_mailbox_get(req->db, addr, &m, &error)) != DB_OK) {
		api_problem_db(req, ret, NULL, error);
		return;
	}
	req->out = api_mailbox_json(&m);
}

static void
api_mailbox_remove(struct api_req *req)
{
	struct service_error err = { 0 };
	char addr[ADDR_MAX + 1], moved[4096];
	int ret;

	if (api_address_param(req, false, addr, sizeof(addr)) < 0)
		return;
	ret = service_mailbox_remove(req->db, req->ctx->cfg, addr, moved,
	    sizeof(moved), &err);
	if (ret != DB_OK)
		api_problem_db(req, ret, err.field, err.detail);
}

static void
api_mailbox_update(struct api_req *req)
{
	struct service_error err = { 0 };
	char addr[ADDR_MAX + 1];
	struct db_mailbox m;
	const char *password;
	json_t *enabled;
	uint64_t quota;
	int ret, has_quota;

	if (api_address_param(req, false, addr, sizeof(addr)) < 0)
		return;
	if ((ret = db_mailbox_get(req->db, addr, &m, &err.detail)) != DB_OK) {
		api_problem_db(req, ret, NULL, err.detail);
		return;
	}
	password = json_string_value(json_object_get(req->body, "password"));
	enabled = json_object_get(req->body, "enabled");
	if ((has_quota = api_uint_field(req, "quota", &quota)) < 0)
		return;
	/* Validate everything before the first change. */
	if (password != NULL && service_password_check(password,
	    strlen(password), &err) != DB_OK) {
		api_problem_db(req, DB_INVALID, err.field, err.detail);
		return;
	}
	ret = DB_OK;
	if (password != NULL)
		ret = service_mailbox_set_password(req->db, addr, password,
		    NULL, &err);
	if (ret == DB_OK && has_quota)
		ret = db_mailbox_set_quota(req->db, addr, quota, &err.detail);
	if (ret == DB_OK && enabled != NULL)
		ret = db_mailbox_set_enabled(req->db, addr,
		    json_is_true(enabled), &err.detail);
	if (ret == DB_OK)
		ret = db_mailbox_get(req->db, addr, &m, &err.detail);
	if (ret != DB_OK) {
		api_problem_db(req, ret, err.field, err.detail);
		return;
	}
	req->out = api_mailbox_json(&m);
}

/*
 * PUT: create-or-update for provisioning scripts. Creating needs password
 * or password_hash; updating changes only what the body names. 201 when
 * created, 200 when updated; everything is validated before the first
 * write.
 */
static void
api_mailbox_put(struct api_req *req)
{
	struct service_error err = { 0 };
	char addr[ADDR_MAX + 1];
	struct db_mailbox m;
	const char *password, *hash;
	json_t *enabled;
	uint64_t quota = 0;
	bool created = false;
	int ret, has_quota;

	if (api_address_param(req, false, addr, sizeof(addr)) < 0)
		return;
	password = json_string_value(json_object_get(req->body, "password"));
	hash = json_string_value(json_object_get(req->body, "password_hash"));
	enabled = json_object_get(req->body, "enabled");
	if (password != NULL && hash != NULL) {
		api_problem(req, 400, "invalid_field", "password",
		    "password: give either password or password_hash");
		return;
	}
	if ((has_quota = api_uint_field(req, "quota", &quota)) < 0)
		return;
	if (password != NULL && service_password_check(password,
	    strlen(password), &err) != DB_OK) {
		api_problem_db(req, DB_INVALID, err.field, err.detail);
		return;
	}
	ret = db_mailbox_get(req->db, addr, &m, &err.detail);
	if (ret == DB_NOT_FOUND) {
		if (password == NULL && hash == NULL) {
			api_problem(req, 400, "invalid_field", "password",
			    "password: give password or password_hash to "
			    "create the mailbox");
			return;
		}
		ret = service_mailbox_add(req->db, req->ctx->cfg, addr,
		    password, hash, quota, addr, &err);
		if (ret == DB_OK) {
			created = true;
			/* Set; the rest of the body is applied below. */
			password = hash = NULL;
			has_quota = 0;
		} else if (ret == DB_EXISTS) {
			ret = DB_OK;	/* made meanwhile: update it */
		}
	}
	if (ret == DB_OK && (password != NULL || hash != NULL))
		ret = service_mailbox_set_password(req->db, addr, password,
		    hash, &err);
	if (ret == DB_OK && has_quota)
		ret = db_mailbox_set_quota(req->db, addr, quota, &err.detail);
	if (ret == DB_OK && enabled != NULL)
		ret = db_mailbox_set_enabled(req->db, addr,
		    json_is_true(enabled), &err.detail);
	if (ret == DB_OK)
		ret = db_mailbox_get(req->db, addr, &m, &err.detail);
	if (ret != DB_OK) {
		api_problem_db(req, ret, err.field, err.detail);
		return;
	}
	req->status = created ? 201 : 200;
	req->out = api_mailbox_json(&m);
}

static json_t *
api_setup_entry(const struct config *cfg, const char *protocol,
    enum config_service svc, const char *security)
{
	return json_pack("{s:s, s:s, s:i, s:s}", "protocol", protocol,
	    "host", cfg->hostname, "port", (int)config_public_port(cfg, svc),
	    "security", security);
}

static void
api_client_setup(struct api_req *req)
{
	const struct config *cfg = req->ctx->cfg;
	char addr[ADDR_MAX + 1];
	struct db_mailbox m;
	const char *error = NULL;
	json_t *in, *out;
	int ret;

	if (api_address_param(req, false, addr, sizeof(addr)) < 0)
		return;
	if ((ret = db_mailbox_get(req->db, addr, &m, &error)) != DB_OK) {
		api_problem_db(req, ret, NULL, error);
		return;
	}
	/* Implicit TLS first (RFC 8314 3.3); IMAP once it exists. */
	in = json_array();
	if (cfg->listeners[SVC_POP3S].enabled)
		json_array_append_new(in, api_setup_entry(cfg, "pop3",
		    SVC_POP3S, "ssl/tls"));
	if (cfg->listeners[SVC_POP3].enabled)
		json_array_append_new(in, api_setup_entry(cfg, "pop3",
		    SVC_POP3, "starttls"));
	out = json_array();
	if (cfg->listeners[SVC_SUBMISSIONS].enabled)
		json_array_append_new(out, api_setup_entry(cfg, "smtp",
		    SVC_SUBMISSIONS, "ssl/tls"));
	if (cfg->listeners[SVC_SUBMISSION].enabled)
		json_array_append_new(out, api_setup_entry(cfg, "smtp",
		    SVC_SUBMISSION, "starttls"));
	req->out = json_pack("{s:s, s:s, s:o, s:o}", "user", m.address,
	    "authentication", "password-cleartext", "incoming", in,
	    "outgoing", out);
}

static int
api_alias_append(const struct db_alias *a, void *ctx)
{
	json_array_append_new(ctx, api_alias_json(a));
	return 0;
}

static void
api_alias_list(struct api_req *req)
{
	char name[ADDR_DOMAIN_MAX + 1];
	json_t *list;
	const char *error = NULL;
	int ret;

	if (api_domain_param(req, name, sizeof(name)) < 0)
		return;
	list = json_array();
	if ((ret = db_alias_list(req->db, name, api_alias_append, list,
	    &error)) != DB_OK) {
		json_decref(list);
		api_problem_db(req, ret, NULL, error);
		return;
	}
	req->out = json_pack("{s:o}", "aliases", list);
}

static void
api_alias_add(struct api_req *req)
{
	struct service_error err = { 0 };
	char domain[ADDR_DOMAIN_MAX + 1], src[ADDR_MAX + 1];
	char raw[ADDR_MAX + 2];
	const char *source, *dest[DB_ALIAS_MAX_DEST], *at;
	json_t *list, *v;
	size_t i, n;
	struct db_alias a;
	int ret;

	if (api_domain_param(req, domain, sizeof(domain)) < 0)
		return;
	source = json_string_value(json_object_get(req->body, "source"));
	list = json_object_get(req->body, "destinations");
	if (source == NULL || list == NULL) {
		api_problem(req, 400, "invalid_field", source == NULL ?
		    "source" : "destinations", "%s: required",
		    source == NULL ? "source" : "destinations");
		return;
	}
	/* "info" means info@DOMAIN; "@" alone the domain's catch-all. */
	if (strchr(source, '@') == NULL || strcmp(source, "@") == 0) {
		if (str_printf(raw, sizeof(raw), "%s@%s", strcmp(source,
		    "@") == 0 ? "" : source, domain) < 0) {
			api_problem(req, 400, "invalid_field", "source",
			    "source: too long");
			return;
		}
		source = raw;
	}
	n = json_array_size(list);
	if (n == 0 || n > DB_ALIAS_MAX_DEST) {
		api_problem(req, 400, "invalid_field", "destinations",
		    "destinations: 1 to %d addresses", DB_ALIAS_MAX_DEST);
		return;
	}
	json_array_foreach(list, i, v)
		dest[i] = json_string_value(v);
	if ((ret = service_address_normalize(source, true, src, sizeof(src),
	    "source", &err)) == DB_OK && ((at = strrchr(src, '@')) == NULL ||
	    strcmp(at + 1, domain) != 0)) {
		api_problem(req, 400, "invalid_field", "source",
		    "source: not in domain %s", domain);
		return;
	}
	if (ret == DB_OK)
		ret = service_alias_add(req->db, src, dest, (unsigned)n, &err);
	if (ret != DB_OK) {
		api_problem_db(req, ret, err.field, err.detail);
		return;
	}
	memset(&a, 0, sizeof(a));
	str_lcpy(a.source, src, sizeof(a.source));
	/* Echo the stored form: normalized destinations. */
	for (i = 0; i < n; i++) {
		if (service_address_normalize(dest[i], false, a.dest[a.ndest],
		    sizeof(a.dest[0]), "destinations", &err) == DB_OK)
			a.ndest++;
	}
	req->out = api_alias_json(&a);
}

static void
api_alias_remove(struct api_req *req)
{
	struct service_error err = { 0 };
	char src[ADDR_MAX + 1];
	int ret;

	if (api_address_param(req, true, src, sizeof(src)) < 0)
		return;
	ret = service_alias_remove(req->db, src, &err);
	if (ret == DB_INVALID)
		ret = DB_NOT_FOUND;
	if (ret != DB_OK)
		api_problem_db(req, ret, NULL, err.detail);
}

static void
api_openapi_get(struct api_req *req)
{
	req->out = api_openapi();
}

/* ---- the table ---- */

static const struct api_field api_f_domain[] = {
	{ "name", API_T_STRING }, { NULL, 0 },
};
static const struct api_field api_f_mailbox_add[] = {
	{ "local_part", API_T_STRING }, { "address", API_T_STRING },
	{ "password", API_T_STRING }, { "password_hash", API_T_STRING },
	{ "quota", API_T_INTEGER }, { NULL, 0 },
};
static const struct api_field api_f_mailbox_update[] = {
	{ "password", API_T_STRING }, { "quota", API_T_INTEGER },
	{ "enabled", API_T_BOOLEAN }, { NULL, 0 },
};
static const struct api_field api_f_mailbox_put[] = {
	{ "password", API_T_STRING }, { "password_hash", API_T_STRING },
	{ "quota", API_T_INTEGER }, { "enabled", API_T_BOOLEAN },
	{ NULL, 0 },
};
static const struct api_field api_f_alias[] = {
	{ "source", API_T_STRING }, { "destinations", API_T_STRINGS },
	{ NULL, 0 },
};

#define R API_AUTH
#define W (API_AUTH | API_WRITE)

const struct api_route api_routes[] = {
	{ "GET", "/api/openapi.json", 0, NULL, api_openapi_get, 200,
	    "This OpenAPI document" },
	{ "GET", "/api/v1/status", R, NULL, api_status, 200,
	    "Version, uptime and counts" },
	{ "GET", "/api/v1/domains", R, NULL, api_domain_list, 200,
	    "List domains" },
	{ "POST", "/api/v1/domains", W | API_ALL_DOMAINS, api_f_domain,
	    api_domain_add, 201, "Add a domain (and its DKIM key); 403 for "
	    "a token restricted to domains" },
	{ "GET", "/api/v1/domains/{name}", R, NULL, api_domain_get, 200,
	    "Get a domain with its mailbox and alias counts" },
	{ "DELETE", "/api/v1/domains/{name}", W, NULL, api_domain_remove,
	    204, "Remove a domain (409 unless empty or ?force=true)" },
	{ "GET", "/api/v1/domains/{name}/mailboxes", R, NULL,
	    api_mailbox_list, 200, "List a domain's mailboxes" },
	{ "POST", "/api/v1/domains/{name}/mailboxes", W, api_f_mailbox_add,
	    api_mailbox_add, 201, "Add a mailbox (password or "
	    "password_hash)" },
	{ "GET", "/api/v1/domains/{name}/aliases", R, NULL, api_alias_list,
	    200, "List a domain's aliases and catch-all" },
	{ "POST", "/api/v1/domains/{name}/aliases", W, api_f_alias,
	    api_alias_add, 201, "Add an alias" },
	{ "GET", "/api/v1/mailboxes/{address}", R, NULL, api_mailbox_get,
	    200, "Get a mailbox" },
	{ "PATCH", "/api/v1/mailboxes/{address}", W, api_f_mailbox_update,
	    api_mailbox_update, 200, "Change password, quota or enabled" },
	{ "PUT", "/api/v1/mailboxes/{address}", W, api_f_mailbox_put,
	    api_mailbox_put, 200, "Create (201) or update (200) a mailbox: "
	    "idempotent, for provisioning scripts" },
	{ "DELETE", "/api/v1/mailboxes/{address}", W, NULL,
	    api_mailbox_remove, 204, "Remove a mailbox (its mail is moved "
	    "to deleted/)" },
	{ "GET", "/api/v1/mailboxes/{address}/client-setup", R, NULL,
	    api_client_setup, 200, "Servers, ports and TLS modes for a "
	    "mail client" },
	{ "DELETE", "/api/v1/aliases/{source}", W, NULL, api_alias_remove,
	    204, "Remove an alias" },
};
const size_t api_routes_count = ARRAY_SIZE(api_routes);

#undef R
#undef W

/* ---- OpenAPI ---- */

static json_t *
api_openapi_operation(const struct api_route *r)
{
	json_t *op, *params, *responses, *props;
	const char *p;
	char code[8];

	op = json_pack("{s:s}", "summary", r->summary);
	params = json_array();
	for (p = strchr(r->pattern, '{'); p != NULL; p = strchr(p, '{')) {
		const char *end = strchr(p, '}');

		json_array_append_new(params, json_pack("{s:s%, s:s, s:b, "
		    "s:{s:s}}", "name", p + 1, (size_t)(end - p - 1), "in",
		    "path", "required", 1, "schema", "type", "string"));
		p = end;
	}
	if (strcmp(r->method, "DELETE") == 0 &&
	    strstr(r->pattern, "domains/{name}") != NULL)
		json_array_append_new(params, json_pack("{s:s, s:s, s:b, "
		    "s:{s:s}}", "name", "force", "in", "query", "required", 0,
		    "schema", "type", "boolean"));
	if (json_array_size(params) > 0)
		json_object_set_new(op, "parameters", params);
	else
		json_decref(params);
	if (r->fields != NULL) {
		props = json_object();
		for (const struct api_field *f = r->fields; f->name != NULL;
		    f++) {
			json_t *s = json_pack("{s:s}", "type",
			    api_type_name(f->type));

			if (f->type == API_T_STRINGS)
				json_object_set_new(s, "items",
				    json_pack("{s:s}", "type", "string"));
			json_object_set_new(props, f->name, s);
		}
		json_object_set_new(op, "requestBody", json_pack("{s:b, "
		    "s:{s:{s:{s:s, s:b, s:o}}}}", "required", 1, "content",
		    "application/json", "schema", "type", "object",
		    "additionalProperties", 0, "properties", props));
	}
	responses = json_object();
	str_printf(code, sizeof(code), "%u", r->success);
	if (strcmp(r->method, "PUT") == 0)
		json_object_set_new(responses, "201", json_pack("{s:s, "
		    "s:{s:{}}}", "description", "Created", "content",
		    "application/json"));
	json_object_set_new(responses, code, r->success == 204 ?
	    json_pack("{s:s}", "description", "Done") :
	    json_pack("{s:s, s:{s:{}}}", "description", "OK", "content",
	    "application/json"));
	json_object_set_new(responses, "default", json_pack("{s:s, "
	    "s:{s:{s:{s:s}}}}", "description", "Error (RFC 9457)", "content",
	    "application/problem+json", "schema", "$ref",
	    "#/components/schemas/Problem"));
	json_object_set_new(op, "responses", responses);
	json_object_set_new(op, "security", (r->flags & API_AUTH) ?
	    json_pack("[{s:[]}]", "bearer") : json_array());
	if (r->flags & API_WRITE)
		json_object_set_new(op, "x-scope", json_string("write"));
	return op;
}

json_t *
api_openapi(void)
{
	json_t *doc, *paths;
	char method[16];

	paths = json_object();
	for (size_t i = 0; i < api_routes_count; i++) {
		const struct api_route *r = &api_routes[i];
		json_t *item = json_object_get(paths, r->pattern);

		if (item == NULL) {
			item = json_object();
			json_object_set_new(paths, r->pattern, item);
		}
		str_lcpy(method, r->method, sizeof(method));
		for (char *c = method; *c != '\0'; c++)
			*c = (char)(*c - 'A' + 'a');
		json_object_set_new(item, method, api_openapi_operation(r));
	}
	doc = json_pack("{s:s, s:{s:s, s:s}, s:o}", "openapi", "3.1.0",
	    "info", "title", "Facteur admin API", "version", FACTEUR_VERSION,
	    "paths", paths);
	json_object_set_new(doc, "components", json_pack("{s:{s:{s:s, "
	    "s:s}}, s:{s:{s:s, s:[s,s,s,s], s:{s:{s:s}, s:{s:s}, s:{s:s}, "
	    "s:{s:s}, s:{s:s}, s:{s:s}}}}}",
	    "securitySchemes", "bearer", "type", "http", "scheme", "bearer",
	    "schemas", "Problem", "type", "object", "required", "type",
	    "title", "status", "code", "properties",
	    "type", "type", "string", "title", "type", "string",
	    "status", "type", "integer", "detail", "type", "string",
	    "code", "type", "string", "field", "type", "string"));
	return doc;
}
