/*
 * routes.c: the JSON API's route table and handlers (see routes.h).
 * Every change goes through admin/service.c, the same code the CLI runs.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin/dnsrecords.h"
#include "admin/service.h"
#include "app.h"
#include "auth/auth.h"
#include "lib/addr.h"
#include "lib/buf.h"
#include "lib/log.h"
#include "webadmin/routes.h"

#define API_LIMIT_DEFAULT 100
#define API_LIMIT_MAX 1000
#define API_Q_MAX 256

const char *
api_query(const struct api_req *req, const char *name)
{
	return req->query_get != NULL ? req->query_get(req->qctx, name) :
	    NULL;
}

void
api_req_clear(struct api_req *req)
{
	if (req->body != NULL)
		json_decref(req->body);
	if (req->out != NULL)
		json_decref(req->out);
	free(req->text);
	req->body = req->out = NULL;
	req->text = NULL;
}

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
	free(req->text);
	req->text = NULL;
	req->text_len = 0;
	req->header_name = NULL;
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
	case DB_LAST_ADMIN:
		api_problem(req, 409, "last_admin", NULL, "%s", detail);
		break;
	case DB_LIMIT:
		api_problem(req, 409, "limit_reached", NULL, "%s", detail);
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
	return json_pack("{s:s, s:b, s:I, s:I, s:I, s:I, s:I}", "name",
	    d->name, "enabled", d->enabled, "mailboxes",
	    (json_int_t)d->mailboxes, "aliases", (json_int_t)d->aliases,
	    "created", (json_int_t)d->created, "default_quota",
	    (json_int_t)d->default_quota, "max_mailboxes",
	    (json_int_t)d->max_mailboxes);
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

/* ---- pagination: ?limit= (1..1000, default 100), ?cursor= (opaque:
 * the hex of the last key of the previous page), ?q= (substring) ---- */

struct api_page {
	unsigned limit;
	char after[API_PARAM_MAX];
	char q[API_Q_MAX + 1];
	/* filled while listing */
	unsigned n;
	bool more;
	char last[API_PARAM_MAX];
	json_t *list;
	struct api_req *req;
};

static int
api_hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Reads limit, cursor and q; 0, or -1 with the problem set. */
static int
api_page_args(struct api_req *req, struct api_page *pg)
{
	const char *limit = api_query(req, "limit");
	const char *cursor = api_query(req, "cursor");
	const char *q = api_query(req, "q");
	uint64_t v;

	memset(pg, 0, sizeof(*pg));
	pg->req = req;
	pg->limit = API_LIMIT_DEFAULT;
	if (limit != NULL) {
		if (str_to_u64(limit, strlen(limit), API_LIMIT_MAX, &v) < 0 ||
		    v == 0) {
			api_problem(req, 400, "invalid_field", "limit",
			    "limit: expected 1 to %d", API_LIMIT_MAX);
			return -1;
		}
		pg->limit = (unsigned)v;
	}
	if (cursor != NULL) {
		size_t len = strlen(cursor), i;

		if (len % 2 != 0 || len / 2 >= sizeof(pg->after))
			goto bad;
		for (i = 0; i < len; i += 2) {
			int hi = api_hexval(cursor[i]);
			int lo = api_hexval(cursor[i + 1]);

			if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
				goto bad;
			pg->after[i / 2] = (char)(hi << 4 | lo);
		}
		pg->after[len / 2] = '\0';
	}
	if (q != NULL) {
		if (strlen(q) > API_Q_MAX) {
			api_problem(req, 400, "invalid_field", "q",
			    "q: at most %d characters", API_Q_MAX);
			return -1;
		}
		/* Keys are stored lower-case. */
		str_lcpy(pg->q, q, sizeof(pg->q));
		str_lower(pg->q);
	}
	pg->list = json_array();
	return 0;
bad:
	api_problem(req, 400, "invalid_field", "cursor",
	    "cursor: not one this API gave");
	return -1;
}

/* Takes one row; non-zero once the page is full (one more row seen). */
static int
api_page_add(struct api_page *pg, const char *key, json_t *item)
{
	if (pg->n == pg->limit) {
		pg->more = true;
		json_decref(item);
		return 1;
	}
	json_array_append_new(pg->list, item);
	str_lcpy(pg->last, key, sizeof(pg->last));
	pg->n++;
	return 0;
}

/* The response: {name: [...], "next_cursor": "..." or null}. */
static void
api_page_done(struct api_page *pg, const char *name)
{
	static const char digits[] = "0123456789abcdef";
	char cursor[2 * API_PARAM_MAX + 1];
	size_t len = strlen(pg->last);

	for (size_t i = 0; i < len; i++) {
		cursor[2 * i] = digits[(unsigned char)pg->last[i] >> 4];
		cursor[2 * i + 1] = digits[(unsigned char)pg->last[i] & 15];
	}
	cursor[2 * len] = '\0';
	pg->req->out = json_pack("{s:o, s:o}", name, pg->list, "next_cursor",
	    pg->more ? json_string(cursor) : json_null());
	pg->list = NULL;
}

static void
api_page_fail(struct api_page *pg, int ret, const char *error)
{
	json_decref(pg->list);
	pg->list = NULL;
	api_problem_db(pg->req, ret, NULL, error);
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


/* The listeners, as the configuration has them (the panel's
 * dashboard). */
static json_t *
api_status_listeners(const struct config *cfg)
{
	json_t *list = json_array();

	for (unsigned s = 0; s < SVC_COUNT; s++) {
		const struct config_listener *l = &cfg->listeners[s];

		json_array_append_new(list, json_pack("{s:s, s:s, s:i, s:i, "
		    "s:b, s:b}", "name", l->name, "address", l->address,
		    "port", (int)config_listen_port(cfg, s), "public_port",
		    (int)config_public_port(cfg, s), "implicit_tls",
		    l->implicit_tls, "enabled", l->enabled));
	}
	return list;
}

static void
api_status(struct api_req *req)
{
	const struct config *cfg = req->ctx->cfg;
	struct service_error err = { 0 };
	struct service_cert cert;
	struct db_counts n;
	const char *error = NULL;
	uint64_t used = 0;
	json_t *tls;
	int ret;

	if ((ret = db_counts(req->db, &n, &error)) != DB_OK) {
		api_problem_db(req, ret, NULL, error);
		return;
	}
	if (service_cert_info(cfg->tls_cert, &cert, &err) == DB_OK)
		tls = json_pack("{s:s, s:s, s:I, s:I, s:I}", "subject",
		    cert.subject, "issuer", cert.issuer, "not_before",
		    (json_int_t)cert.not_before, "not_after",
		    (json_int_t)cert.not_after, "days_left",
		    (json_int_t)((cert.not_after - (int64_t)time(NULL)) /
		    86400));
	else
		tls = json_pack("{s:s}", "error", err.detail);
	req->out = json_pack("{s:s, s:s, s:I, s:{s:I, s:I, s:I, s:I, s:I, "
	    "s:I, s:I, s:I}, s:o}",
	    "version", FACTEUR_VERSION, "hostname", cfg->hostname,
	    "uptime", (json_int_t)(time(NULL) - req->ctx->started),
	    "counts", "domains", (json_int_t)n.domains, "mailboxes",
	    (json_int_t)n.mailboxes, "aliases", (json_int_t)n.aliases,
	    "admins", (json_int_t)n.admins, "tokens", (json_int_t)n.tokens,
	    "sessions", (json_int_t)n.sessions, "queue_messages",
	    (json_int_t)n.queue_messages, "queue_recipients",
	    (json_int_t)n.queue_recipients, "certificate", tls);
	json_object_set_new(req->out, "listeners", api_status_listeners(cfg));
	/* Every mailbox's Maildir (NULL: all domains). */
	if (service_domain_usage(req->db, cfg, NULL, &used, &err) == DB_OK)
		json_object_set_new(req->out, "storage_used",
		    json_integer((json_int_t)used));
}

static int
api_domain_append(const struct db_domain *d, void *ctx)
{
	struct api_page *pg = ctx;

	if (!api_domain_allowed(pg->req, d->name))
		return 0;
	return api_page_add(pg, d->name, api_domain_json(d));
}

static void
api_domain_list(struct api_req *req)
{
	struct api_page pg;
	const char *error = NULL;
	int ret;

	if (api_page_args(req, &pg) < 0)
		return;
	if ((ret = db_domain_page(req->db, pg.after, pg.q, api_domain_append,
	    &pg, &error)) != DB_OK) {
		api_page_fail(&pg, ret, error);
		return;
	}
	api_page_done(&pg, "domains");
}

static void
api_domain_get(struct api_req *req)
{
	struct service_error err = { 0 };
	char name[ADDR_DOMAIN_MAX + 1];
	struct db_domain d;
	const char *error = NULL;
	uint64_t used = 0;
	int ret;

	if (api_domain_param(req, name, sizeof(name)) < 0)
		return;
	if ((ret = db_domain_get(req->db, name, &d, &error)) != DB_OK ||
	    (ret = service_domain_usage(req->db, req->ctx->cfg, name, &used,
	    &err)) != DB_OK) {
		api_problem_db(req, ret, NULL, error != NULL ? error :
		    err.detail);
		return;
	}
	req->out = api_domain_json(&d);
	json_object_set_new(req->out, "storage_used", json_integer(
	    (json_int_t)used));
}

/* Reads an optional boolean query parameter; 0, or -1 with the
 * problem set. */
static int
api_bool_query(struct api_req *req, const char *name, bool *value_r)
{
	const char *v = api_query(req, name);

	*value_r = false;
	if (v == NULL || strcmp(v, "false") == 0 || strcmp(v, "0") == 0)
		return 0;
	if (strcmp(v, "true") == 0 || strcmp(v, "1") == 0) {
		*value_r = true;
		return 0;
	}
	api_problem(req, 400, "invalid_field", name,
	    "%s: expected true or false", name);
	return -1;
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
api_domain_update(struct api_req *req)
{
	char name[ADDR_DOMAIN_MAX + 1];
	struct db_domain d;
	json_t *en = json_object_get(req->body, "enabled");
	uint64_t quota, maxm;
	int64_t maxm_s;
	bool enabled;
	const char *error = NULL;
	int has_quota, has_max, ret;

	if (api_domain_param(req, name, sizeof(name)) < 0)
		return;
	if ((has_quota = api_uint_field(req, "default_quota", &quota)) < 0 ||
	    (has_max = api_uint_field(req, "max_mailboxes", &maxm)) < 0)
		return;
	enabled = json_is_true(en);
	maxm_s = (int64_t)maxm;
	ret = db_domain_update(req->db, name, en != NULL ? &enabled : NULL,
	    has_quota ? &quota : NULL, has_max ? &maxm_s : NULL, &error);
	if (ret == DB_OK)
		ret = db_domain_get(req->db, name, &d, &error);
	if (ret != DB_OK) {
		api_problem_db(req, ret, NULL, error);
		return;
	}
	req->out = api_domain_json(&d);
}

static void
api_domain_dns(struct api_req *req)
{
	char name[ADDR_DOMAIN_MAX + 1];
	struct dns_record *recs;
	const char *format = api_query(req, "format"), *warning;
	json_t *list;
	size_t n;

	if (format != NULL && strcmp(format, "json") != 0 &&
	    strcmp(format, "zone") != 0) {
		api_problem(req, 400, "invalid_field", "format",
		    "format: expected json or zone");
		return;
	}
	if (api_domain_param(req, name, sizeof(name)) < 0)
		return;
	dns_records_build(req->ctx->cfg, name, &recs, &n, &warning);
	if (format != NULL && strcmp(format, "zone") == 0) {
		req->text = dns_records_zone(recs, n);
		req->text_type = "text/plain; charset=utf-8";
		dns_records_free(recs, n);
		return;
	}
	list = json_array();
	for (size_t i = 0; i < n; i++) {
		const struct dns_record *r = &recs[i];
		json_t *o = json_pack("{s:s, s:s, s:s, s:i}", "purpose",
		    r->purpose, "name", r->name, "type", r->type, "ttl",
		    (int)r->ttl);

		if (strcmp(r->type, "MX") == 0 || strcmp(r->type, "SRV") == 0)
			json_object_set_new(o, "priority",
			    json_integer(r->priority));
		if (strcmp(r->type, "SRV") == 0) {
			json_object_set_new(o, "weight",
			    json_integer(r->weight));
			json_object_set_new(o, "port", json_integer(r->port));
		}
		if (r->target[0] != '\0')
			json_object_set_new(o, "target",
			    json_string(r->target));
		if (r->text != NULL) {
			json_t *parts = json_array();
			size_t len = strlen(r->text);

			/* As published: strings of at most 255 octets. */
			for (size_t k = 0; k < len; k += DNS_TXT_CHUNK)
				json_array_append_new(parts, json_stringn(
				    r->text + k, len - k < DNS_TXT_CHUNK ?
				    len - k : DNS_TXT_CHUNK));
			json_object_set_new(o, "value", json_string(r->text));
			json_object_set_new(o, "strings", parts);
		}
		json_array_append_new(list, o);
	}
	dns_records_free(recs, n);
	req->out = json_pack("{s:s, s:o}", "domain", name, "records", list);
	if (warning != NULL)
		json_object_set_new(req->out, "warning", json_string(warning));
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
	bool force;
	int ret;

	if (api_bool_query(req, "force", &force) < 0)
		return;
	if (api_domain_param(req, name, sizeof(name)) < 0)
		return;
	ret = service_domain_remove(req->db, name, force, &err);
	if (ret != DB_OK)
		api_problem_db(req, ret, err.field, err.detail);
}

static int
api_mailbox_append(const struct db_mailbox *m, void *ctx)
{
	return api_page_add(ctx, m->address, api_mailbox_json(m));
}

static void
api_mailbox_list(struct api_req *req)
{
	char name[ADDR_DOMAIN_MAX + 1];
	struct api_page pg;
	const char *error = NULL;
	int ret;

	if (api_domain_param(req, name, sizeof(name)) < 0 ||
	    api_page_args(req, &pg) < 0)
		return;
	if ((ret = db_mailbox_page(req->db, name, pg.after, pg.q,
	    api_mailbox_append, &pg, &error)) != DB_OK) {
		api_page_fail(&pg, ret, error);
		return;
	}
	api_page_done(&pg, "mailboxes");
}

static void
api_mailbox_add(struct api_req *req)
{
	struct service_error err = { 0 };
	char domain[ADDR_DOMAIN_MAX + 1], addr[ADDR_MAX + 1], raw[ADDR_MAX + 2];
	const char *local, *address, *password, *hash, *at;
	struct db_mailbox m;
	uint64_t quota = DB_QUOTA_DEFAULT;
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
	/* Same answer as for an address that does not exist; a mailbox
	 * session sees its own mailbox only. */
	if ((at = strrchr(out, '@')) == NULL ||
	    !api_domain_allowed(req, at + 1) || (req->session != NULL &&
	    strcmp(req->session->role, "mailbox") == 0 &&
	    strcmp(req->session->user, out) != 0)) {
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
	json_object_set_new(req->out, "storage_used", json_integer(
	    (json_int_t)service_mailbox_usage(req->ctx->cfg, addr)));
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
	uint64_t quota = DB_QUOTA_DEFAULT;
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
api_setup_entry(const struct config *cfg, const struct mail_endpoint *e,
    bool preferred)
{
	return json_pack("{s:s, s:s, s:i, s:s, s:b}", "protocol", e->protocol,
	    "host", cfg->hostname, "port", (int)e->port, "security",
	    e->security, "preferred", preferred);
}

static void
api_client_setup(struct api_req *req)
{
	const struct config *cfg = req->ctx->cfg;
	char addr[ADDR_MAX + 1], enc[3 * ADDR_MAX + 1], base[300];
	char url[sizeof(enc) + 2 * sizeof(base)], port[16] = "";
	struct db_mailbox m;
	struct mail_endpoint ep[MAIL_ENDPOINTS];
	const char *error = NULL;
	bool first_in = true, first_out = true;
	json_t *in, *out;
	int ret;

	if (api_address_param(req, false, addr, sizeof(addr)) < 0)
		return;
	if ((ret = db_mailbox_get(req->db, addr, &m, &error)) != DB_OK) {
		api_problem_db(req, ret, NULL, error);
		return;
	}
	/* The endpoints the DNS SRV records and the autoconfiguration
	 * announce too, implicit TLS first (RFC 8314 3.3); only those
	 * offered here. The first of each list is the preferred one. */
	mail_endpoints(cfg, ep);
	in = json_array();
	out = json_array();
	for (unsigned i = 0; i < MAIL_ENDPOINTS; i++) {
		bool *first = ep[i].incoming ? &first_in : &first_out;

		if (!ep[i].offered)
			continue;
		json_array_append_new(ep[i].incoming ? in : out,
		    api_setup_entry(cfg, &ep[i], *first));
		*first = false;
	}
	req->out = json_pack("{s:s, s:s, s:o, s:o}", "user", m.address,
	    "authentication", "password-cleartext", "incoming", in,
	    "outgoing", out);
	/* Where clients configure themselves (autoconfig.c), and the Apple
	 * profile (needs the same sign-in as this answer). */
	if (config_public_port(cfg, SVC_HTTPS) != 443)
		str_printf(port, sizeof(port), ":%u",
		    config_public_port(cfg, SVC_HTTPS));
	str_percent_encode(m.address, "", enc, sizeof(enc));
	str_printf(url, sizeof(url), "https://autoconfig.%s%s/mail/"
	    "config-v1.1.xml?emailaddress=%s", m.domain, port, enc);
	json_object_set_new(req->out, "autoconfig_url", json_string(url));
	mail_https_base(cfg, base, sizeof(base));
	str_percent_encode(m.address, "@", enc, sizeof(enc));
	str_printf(url, sizeof(url), "%s/api/v1/mailboxes/%s/mobileconfig",
	    base, enc);
	json_object_set_new(req->out, "mobileconfig_url", json_string(url));
}

/* ---- Apple configuration profile ---- */

#define API_PROFILE_NAME_MAX 128

static void
api_plist_key(struct buf *b, unsigned indent, const char *key)
{
	for (unsigned i = 0; i < indent; i++)
		buf_append(b, "\t", 1);
	buf_append_str(b, "<key>");
	buf_append_xml(b, key, strlen(key));
	buf_append_str(b, "</key>\n");
	for (unsigned i = 0; i < indent; i++)
		buf_append(b, "\t", 1);
}

static void
api_plist_string(struct buf *b, unsigned indent, const char *key,
    const char *value)
{
	api_plist_key(b, indent, key);
	buf_append_str(b, "<string>");
	buf_append_xml(b, value, strlen(value));
	buf_append_str(b, "</string>\n");
}

static void
api_plist_int(struct buf *b, unsigned indent, const char *key, unsigned v)
{
	api_plist_key(b, indent, key);
	buf_printf(b, "<integer>%u</integer>\n", v);
}

static void
api_plist_bool(struct buf *b, unsigned indent, const char *key, bool v)
{
	api_plist_key(b, indent, key);
	buf_append_str(b, v ? "<true/>\n" : "<false/>\n");
}

/*
 * The profile (Apple's com.apple.mail.managed payload in a
 * Configuration): the preferred incoming endpoint (IMAP, else POP3) and
 * the preferred SMTP one, so implicit TLS whenever it is enabled, which
 * is what *UseSSL means (a profile cannot ask for STARTTLS). No password:
 * the device asks for it. Identifiers and UUIDs derive from the host
 * name and the address, so that installing it again replaces it.
 */
static void
api_profile_build(const struct config *cfg, const char *addr,
    const char *name, const struct mail_endpoint *in,
    const struct mail_endpoint *out, struct buf *b)
{
	char ident[400], account[420], seed[ADDR_MAX + 400], hex[65];
	char uuid[37], account_uuid[37], text[ADDR_MAX + 64];
	const char *label;
	size_t n = 0;

	/* Reverse-DNS: the host name reversed, then a digest of the
	 * address (which may hold anything a local part allows). */
	for (const char *end = cfg->hostname + strlen(cfg->hostname);
	    end > cfg->hostname;) {
		const char *dot = end;

		while (dot > cfg->hostname && dot[-1] != '.')
			dot--;
		if (n > 0 && n + 1 < sizeof(ident))
			ident[n++] = '.';
		for (label = dot; label < end && n + 1 < sizeof(ident);
		    label++)
			ident[n++] = *label;
		end = dot > cfg->hostname ? dot - 1 : dot;
	}
	ident[n] = '\0';
	str_printf(seed, sizeof(seed), "mobileconfig\n%s\n%s", cfg->hostname,
	    addr);
	if (service_token_hash(seed, strlen(seed), hex) < 0)
		memset(hex, '0', 64);
	str_printf(ident + n, sizeof(ident) - n, ".email.%.16s", hex);
	str_printf(account, sizeof(account), "%s.account", ident);
	str_printf(seed, sizeof(seed), "mobileconfig-profile\n%s\n%s",
	    cfg->hostname, addr);
	mail_uuid(seed, uuid);
	str_printf(seed, sizeof(seed), "mobileconfig-account\n%s\n%s",
	    cfg->hostname, addr);
	mail_uuid(seed, account_uuid);

	buf_append_str(b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	    "<!DOCTYPE plist PUBLIC \"-//Apple//DTD PLIST 1.0//EN\" "
	    "\"http://www.apple.com/DTDs/PropertyList-1.0.dtd\">\n"
	    "<plist version=\"1.0\">\n<dict>\n");
	api_plist_key(b, 1, "PayloadContent");
	buf_append_str(b, "<array>\n\t\t<dict>\n");
	api_plist_string(b, 3, "EmailAccountDescription", addr);
	if (name != NULL && name[0] != '\0')
		api_plist_string(b, 3, "EmailAccountName", name);
	api_plist_string(b, 3, "EmailAccountType", strcmp(in->protocol,
	    "imap") == 0 ? "EmailTypeIMAP" : "EmailTypePOP");
	api_plist_string(b, 3, "EmailAddress", addr);
	api_plist_string(b, 3, "IncomingMailServerAuthentication",
	    "EmailAuthPassword");
	api_plist_string(b, 3, "IncomingMailServerHostName", cfg->hostname);
	api_plist_int(b, 3, "IncomingMailServerPortNumber", in->port);
	api_plist_bool(b, 3, "IncomingMailServerUseSSL", in->implicit_tls);
	api_plist_string(b, 3, "IncomingMailServerUsername", addr);
	api_plist_string(b, 3, "OutgoingMailServerAuthentication",
	    "EmailAuthPassword");
	api_plist_string(b, 3, "OutgoingMailServerHostName", cfg->hostname);
	api_plist_int(b, 3, "OutgoingMailServerPortNumber", out->port);
	api_plist_bool(b, 3, "OutgoingMailServerUseSSL", out->implicit_tls);
	api_plist_string(b, 3, "OutgoingMailServerUsername", addr);
	api_plist_bool(b, 3, "OutgoingPasswordSameAsIncomingPassword", true);
	str_printf(text, sizeof(text), "Configures the mail account %s",
	    addr);
	api_plist_string(b, 3, "PayloadDescription", text);
	api_plist_string(b, 3, "PayloadDisplayName", addr);
	api_plist_string(b, 3, "PayloadIdentifier", account);
	api_plist_string(b, 3, "PayloadType", "com.apple.mail.managed");
	api_plist_string(b, 3, "PayloadUUID", account_uuid);
	api_plist_int(b, 3, "PayloadVersion", 1);
	api_plist_bool(b, 3, "PreventAppSheet", false);
	api_plist_bool(b, 3, "PreventMove", false);
	api_plist_bool(b, 3, "SMIMEEnabled", false);
	buf_append_str(b, "\t\t</dict>\n\t</array>\n");
	str_printf(text, sizeof(text), "Mail settings for %s", addr);
	api_plist_string(b, 1, "PayloadDescription", text);
	str_printf(text, sizeof(text), "%s mail account", addr);
	api_plist_string(b, 1, "PayloadDisplayName", text);
	api_plist_string(b, 1, "PayloadIdentifier", ident);
	api_plist_string(b, 1, "PayloadOrganization", cfg->hostname);
	api_plist_bool(b, 1, "PayloadRemovalDisallowed", false);
	api_plist_string(b, 1, "PayloadType", "Configuration");
	api_plist_string(b, 1, "PayloadUUID", uuid);
	api_plist_int(b, 1, "PayloadVersion", 1);
	buf_append_str(b, "</dict>\n</plist>\n");
}

static void
api_mobileconfig(struct api_req *req)
{
	const struct config *cfg = req->ctx->cfg;
	struct service_error err = { 0 };
	struct mail_endpoint ep[MAIL_ENDPOINTS];
	const struct mail_endpoint *in, *out;
	const char *name = api_query(req, "name"), *error = NULL;
	char addr[ADDR_MAX + 1], fname[ADDR_MAX + 1];
	struct db_mailbox m;
	unsigned char *der;
	size_t derlen;
	struct buf b;
	bool sign = true;
	int ret;

	if (api_address_param(req, false, addr, sizeof(addr)) < 0)
		return;
	if ((ret = db_mailbox_get(req->db, addr, &m, &error)) != DB_OK) {
		api_problem_db(req, ret, NULL, error);
		return;
	}
	if (name != NULL && (strlen(name) > API_PROFILE_NAME_MAX ||
	    !utf8_valid(name, strlen(name)))) {
		api_problem(req, 400, "invalid_field", "name", "name: at most "
		    "%d characters of UTF-8", API_PROFILE_NAME_MAX);
		return;
	}
	if (api_query(req, "signed") != NULL &&
	    api_bool_query(req, "signed", &sign) < 0)
		return;
	mail_endpoints(cfg, ep);
	if ((in = mail_endpoint_preferred(ep, "imap")) == NULL)
		in = mail_endpoint_preferred(ep, "pop3");
	if (in == NULL || (out = mail_endpoint_preferred(ep, "smtp")) ==
	    NULL) {
		api_problem(req, 404, "not_found", NULL, "no %s mail service "
		    "is enabled", in == NULL ? "incoming" : "outgoing");
		return;
	}
	buf_init(&b);
	api_profile_build(cfg, m.address, name, in, out, &b);
	if (sign) {
		ret = service_cms_sign(cfg, b.data, b.len, &der, &derlen, &err);
		buf_deinit(&b);
		if (ret != DB_OK) {
			api_problem(req, 500, "internal", NULL, "cannot sign "
			    "the profile: %s", err.detail);
			return;
		}
		req->text = (char *)der;
		req->text_len = derlen;
	} else {
		req->text = b.data;
		req->text_len = b.len;
	}
	req->text_type = "application/x-apple-aspen-config";
	/* The file name: the address, with what a quoted local part may
	 * hold beyond letters, digits and ".@+_-" as '_'. */
	str_lcpy(fname, m.address, sizeof(fname));
	for (char *p = fname; *p != '\0'; p++) {
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || strchr(".@+_-", *p) != NULL))
			*p = '_';
	}
	req->header_name = "Content-Disposition";
	str_printf(req->header_value, sizeof(req->header_value),
	    "attachment; filename=\"%s.mobileconfig\"", fname);
}

static int
api_alias_append(const struct db_alias *a, void *ctx)
{
	return api_page_add(ctx, a->source, api_alias_json(a));
}

static void
api_alias_list(struct api_req *req)
{
	char name[ADDR_DOMAIN_MAX + 1];
	struct api_page pg;
	const char *error = NULL;
	int ret;

	if (api_domain_param(req, name, sizeof(name)) < 0 ||
	    api_page_args(req, &pg) < 0)
		return;
	if ((ret = db_alias_page(req->db, name, pg.after, pg.q, pg.limit + 1,
	    api_alias_append, &pg, &error)) != DB_OK) {
		api_page_fail(&pg, ret, error);
		return;
	}
	api_page_done(&pg, "aliases");
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
api_alias_get(struct api_req *req)
{
	char src[ADDR_MAX + 1];
	struct db_alias *a;
	const char *error = NULL;
	int ret;

	if (api_address_param(req, true, src, sizeof(src)) < 0)
		return;
	a = xcalloc(1, sizeof(*a));
	if ((ret = db_alias_get(req->db, src, a, &error)) != DB_OK)
		api_problem_db(req, ret, NULL, error);
	else
		req->out = api_alias_json(a);
	free(a);
}

/* PUT and PATCH: the destinations given replace the alias's. */
static void
api_alias_update(struct api_req *req)
{
	struct service_error err = { 0 };
	char src[ADDR_MAX + 1];
	const char *dest[DB_ALIAS_MAX_DEST];
	json_t *list, *v;
	size_t i, n;
	int ret;

	if (api_address_param(req, true, src, sizeof(src)) < 0)
		return;
	if ((list = json_object_get(req->body, "destinations")) == NULL) {
		api_problem(req, 400, "invalid_field", "destinations",
		    "destinations: required");
		return;
	}
	n = json_array_size(list);
	if (n == 0 || n > DB_ALIAS_MAX_DEST) {
		api_problem(req, 400, "invalid_field", "destinations",
		    "destinations: 1 to %d addresses", DB_ALIAS_MAX_DEST);
		return;
	}
	json_array_foreach(list, i, v)
		dest[i] = json_string_value(v);
	ret = service_alias_update(req->db, src, dest, (unsigned)n, &err);
	if (ret != DB_OK) {
		api_problem_db(req, ret, err.field, err.detail);
		return;
	}
	api_alias_get(req);
}

/* ---- sessions ---- */

static json_t *
api_session_json(const struct api_req *req, const struct db_session *s)
{
	return json_pack("{s:s, s:s, s:s, s:I, s:I, s:i}", "user", s->user,
	    "role", s->role, "csrf_token", s->csrf, "created",
	    (json_int_t)s->created, "expires",
	    (json_int_t)service_session_end(req->ctx->cfg, s), "idle_timeout",
	    (int)req->ctx->cfg->session_idle_timeout);
}

/* Runs the shared credential check (auth/auth.c: the throttle of the
 * mail protocols); the failure delay is left in req->delay_ms. Returns
 * the status; problems set for all but AUTH_OK. */
static enum auth_status
api_credentials(struct api_req *req, const char *user, bool admin,
    const char *password, char *address_r, size_t addresssize)
{
	struct auth_request *ar = xcalloc(1, sizeof(*ar));
	enum auth_status st;
	size_t plen = strlen(password);

	if (strlen(user) > SASL_USER_MAX || plen > SASL_PASSWORD_MAX) {
		free(ar);
		api_problem(req, 401, "bad_credentials", NULL,
		    "wrong user name or password");
		req->delay_ms = AUTH_DELAY_BASE_MS;
		return AUTH_FAILED;
	}
	str_lcpy(ar->user, user, sizeof(ar->user));
	memcpy(ar->password, password, plen);
	ar->password_len = plen;
	str_lcpy(ar->ip, req->remote != NULL ? req->remote : "?",
	    sizeof(ar->ip));
	ar->admin = admin;
	auth_run(ar);
	st = ar->status;
	str_lcpy(address_r, ar->address, addresssize);
	switch (st) {
	case AUTH_OK:
		break;
	case AUTH_FAILED:
		api_problem(req, 401, "bad_credentials", NULL,
		    "wrong user name or password");
		req->delay_ms = ar->delay_ms;
		break;
	case AUTH_BLOCKED:
		api_problem(req, 429, "throttled", NULL, "too many failed "
		    "sign-ins from this address: try again later");
		req->retry_after = ar->retry_after;
		break;
	case AUTH_TEMPFAIL:
		api_problem(req, 503, "unavailable", NULL,
		    "the database is unavailable");
		break;
	}
	free(ar);
	return st;
}

/* Sign in: an admin with its name, a mailbox with its address. */
static void
api_session_login(struct api_req *req)
{
	struct service_error err = { 0 };
	char secret[SERVICE_SESSION_SECRET_LEN + 1];
	char csrf[DB_SESSION_CSRF_LEN + 1], user[ADDR_MAX + 1];
	char actor[ADDR_MAX + 16], clean[LOG_CLEAN_SIZE];
	const char *name, *password, *role;
	struct db_session s;
	int ret;

	name = json_string_value(json_object_get(req->body, "username"));
	password = json_string_value(json_object_get(req->body, "password"));
	if (name == NULL || name[0] == '\0' || password == NULL) {
		api_problem(req, 400, "invalid_field", name == NULL ||
		    name[0] == '\0' ? "username" : "password", "%s: required",
		    name == NULL || name[0] == '\0' ? "username" :
		    "password");
		return;
	}
	role = strchr(name, '@') != NULL ? "mailbox" : "admin";
	if (api_credentials(req, name, strcmp(role, "admin") == 0, password,
	    user, sizeof(user)) != AUTH_OK) {
		log_info("event=api_login_failed remote=%s user=%s code=%s",
		    req->remote, log_clean(name, strlen(name), clean),
		    req->code);
		return;
	}
	ret = service_session_create(req->db, req->ctx->cfg, role, user,
	    req->remote != NULL ? req->remote : "", secret, csrf, &s, &err);
	if (ret != DB_OK) {
		api_problem_db(req, ret, NULL, err.detail);
		return;
	}
	str_printf(actor, sizeof(actor), "%s:%s", role, user);
	db_set_actor(req->db, actor, req->remote != NULL ? req->remote : "");
	db_audit_add(req->db, "session.login", user, role, NULL);
	/* RFC 6265: no Expires, so it ends with the browser too; the
	 * server ends it after idle or absolute timeout anyway. */
	str_printf(req->set_cookie, sizeof(req->set_cookie), "%s=%s; Path=/; "
	    "HttpOnly; Secure; SameSite=Strict", API_SESSION_COOKIE, secret);
	mem_wipe(secret, sizeof(secret));
	req->out = api_session_json(req, &s);
}

static void
api_session_get(struct api_req *req)
{
	req->out = api_session_json(req, req->session);
}

static void
api_session_logout(struct api_req *req)
{
	const char *error = NULL;
	int ret;

	if ((ret = db_session_remove(req->db, req->session->id,
	    &error)) != DB_OK) {
		api_problem_db(req, ret, NULL, error);
		return;
	}
	db_audit_add(req->db, "session.logout", req->session->user,
	    req->session->role, NULL);
	str_printf(req->set_cookie, sizeof(req->set_cookie),
	    "%s=; Path=/; HttpOnly; Secure; SameSite=Strict; Max-Age=0",
	    API_SESSION_COOKIE);
}

/* A signed-in user changes its own password, proving the current one;
 * its other sessions end. */
static void
api_self_password(struct api_req *req)
{
	struct service_error err = { 0 };
	const struct db_session *s = req->session;
	const char *cur, *new;
	char user[ADDR_MAX + 1];
	bool admin = strcmp(s->role, "admin") == 0;
	int ret;

	cur = json_string_value(json_object_get(req->body,
	    "current_password"));
	new = json_string_value(json_object_get(req->body, "new_password"));
	if (cur == NULL || new == NULL) {
		api_problem(req, 400, "invalid_field", cur == NULL ?
		    "current_password" : "new_password", "%s: required",
		    cur == NULL ? "current_password" : "new_password");
		return;
	}
	if (service_password_check(new, strlen(new), &err) != DB_OK) {
		api_problem(req, 400, "invalid_field", "new_password",
		    "new_password: %s", err.detail);
		return;
	}
	switch (api_credentials(req, s->user, admin, cur, user,
	    sizeof(user))) {
	case AUTH_OK:
		break;
	case AUTH_FAILED:
		/* Not 401: the session itself is fine. */
		api_problem(req, 403, "bad_credentials", "current_password",
		    "current_password: wrong password");
		return;
	default:
		return;
	}
	if (admin)
		ret = service_admin_set_password(req->db, s->user, new, &err);
	else
		ret = service_mailbox_set_password(req->db, s->user, new, NULL,
		    &err);
	if (ret != DB_OK) {
		api_problem_db(req, ret, err.field, err.detail);
		return;
	}
	db_session_remove_user(req->db, s->role, s->user, s->id, NULL);
}

/* ---- queue ---- */

struct api_queue_listing {
	json_t *list;
	json_t *msg;		/* the message being filled */
	char id[DB_QUEUE_ID_MAX];
};

static int
api_queue_append(const struct db_queue_entry *e, void *ctx)
{
	struct api_queue_listing *l = ctx;

	if (l->msg == NULL || strcmp(l->id, e->id) != 0) {
		if (json_array_size(l->list) >= API_LIMIT_MAX)
			return 1;
		l->msg = json_pack("{s:s, s:s, s:I, s:I, s:[]}", "id", e->id,
		    "sender", e->sender, "size", (json_int_t)e->size,
		    "created", (json_int_t)e->created, "recipients");
		json_array_append_new(l->list, l->msg);
		str_lcpy(l->id, e->id, sizeof(l->id));
	}
	json_array_append_new(json_object_get(l->msg, "recipients"),
	    json_pack("{s:s, s:s, s:s, s:i, s:I, s:s}", "recipient", e->rcpt,
	    "domain", e->domain, "status", e->status, "attempts", e->attempts,
	    "next_attempt", (json_int_t)e->next_attempt, "last_error",
	    e->last_error));
	return 0;
}

static void
api_queue_list(struct api_req *req)
{
	struct service_error err = { 0 };
	struct api_queue_listing l = { json_array(), NULL, "" };
	int ret;

	if ((ret = service_queue_list(req->db, NULL, api_queue_append, &l,
	    &err)) != DB_OK) {
		json_decref(l.list);
		api_problem_db(req, ret, NULL, err.detail);
		return;
	}
	req->out = json_pack("{s:o}", "messages", l.list);
}

static void
api_queue_get(struct api_req *req)
{
	struct service_error err = { 0 };
	struct api_queue_listing l = { json_array(), NULL, "" };
	int ret;

	if ((ret = service_queue_list(req->db, req->params[0],
	    api_queue_append, &l, &err)) != DB_OK) {
		json_decref(l.list);
		api_problem_db(req, ret, NULL, err.detail);
		return;
	}
	req->out = json_incref(json_array_get(l.list, 0));
	json_decref(l.list);
}

static void
api_queue_retry(struct api_req *req)
{
	struct service_error err = { 0 };
	int ret;

	if ((ret = service_queue_retry(req->db, req->params[0], &err)) !=
	    DB_OK)
		api_problem_db(req, ret, NULL, err.detail);
}

static void
api_queue_delete(struct api_req *req)
{
	struct service_error err = { 0 };
	int ret;

	if ((ret = service_queue_delete(req->db, req->ctx->cfg,
	    req->params[0], &err)) != DB_OK)
		api_problem_db(req, ret, NULL, err.detail);
}

/* ---- admins and tokens ---- */

static json_t *
api_admin_json(const struct db_admin *a)
{
	return json_pack("{s:s, s:I, s:o}", "name", a->name, "created",
	    (json_int_t)a->created, "last_login", a->last_login != 0 ?
	    json_integer((json_int_t)a->last_login) : json_null());
}

static int
api_admin_append(const struct db_admin *a, void *ctx)
{
	json_array_append_new(ctx, api_admin_json(a));
	return 0;
}

static void
api_admin_list(struct api_req *req)
{
	json_t *list = json_array();
	const char *error = NULL;
	int ret;

	if ((ret = db_admin_list(req->db, api_admin_append, list,
	    &error)) != DB_OK) {
		json_decref(list);
		api_problem_db(req, ret, NULL, error);
		return;
	}
	req->out = json_pack("{s:o}", "admins", list);
}

static void
api_admin_add(struct api_req *req)
{
	struct service_error err = { 0 };
	const char *name, *password;
	struct db_admin a;
	int ret;

	name = json_string_value(json_object_get(req->body, "name"));
	password = json_string_value(json_object_get(req->body, "password"));
	if (name == NULL || password == NULL) {
		api_problem(req, 400, "invalid_field", name == NULL ? "name" :
		    "password", "%s: required", name == NULL ? "name" :
		    "password");
		return;
	}
	ret = service_admin_add(req->db, name, password, &err);
	if (ret == DB_OK)
		ret = db_admin_get(req->db, name, &a, NULL, 0, &err.detail);
	if (ret != DB_OK) {
		api_problem_db(req, ret, err.field, err.detail);
		return;
	}
	req->out = api_admin_json(&a);
}

static void
api_admin_remove(struct api_req *req)
{
	struct service_error err = { 0 };
	int ret;

	ret = service_admin_remove(req->db, req->params[0], &err);
	if (ret == DB_INVALID)
		ret = DB_NOT_FOUND;
	if (ret != DB_OK)
		api_problem_db(req, ret, NULL, err.detail);
}

static void
api_admin_password(struct api_req *req)
{
	struct service_error err = { 0 };
	const char *password;
	int ret;

	password = json_string_value(json_object_get(req->body, "password"));
	if (password == NULL) {
		api_problem(req, 400, "invalid_field", "password",
		    "password: required");
		return;
	}
	ret = service_admin_set_password(req->db, req->params[0], password,
	    &err);
	if (ret == DB_INVALID && err.field != NULL &&
	    strcmp(err.field, "name") == 0)
		ret = DB_NOT_FOUND;
	if (ret != DB_OK) {
		api_problem_db(req, ret, err.field, err.detail);
		return;
	}
	/* Sessions signed in with the old password end. */
	db_session_remove_user(req->db, "admin", req->params[0],
	    req->session != NULL ? req->session->id : 0, NULL);
}

static json_t *
api_token_json(const struct db_token *t)
{
	json_t *doms = json_array();

	for (unsigned i = 0; i < t->ndomains; i++)
		json_array_append_new(doms, json_string(t->domains[i]));
	return json_pack("{s:s, s:s, s:b, s:I, s:o, s:o, s:o}", "name",
	    t->name, "scope", t->scope, "revoked", t->revoked, "created",
	    (json_int_t)t->created, "expires", t->expires != 0 ?
	    json_integer((json_int_t)t->expires) : json_null(), "last_used",
	    t->last_used != 0 ? json_integer((json_int_t)t->last_used) :
	    json_null(), "domains", t->restricted ? doms :
	    (json_decref(doms), json_null()));
}

static int
api_token_append(const struct db_token *t, void *ctx)
{
	json_array_append_new(ctx, api_token_json(t));
	return 0;
}

static void
api_token_list(struct api_req *req)
{
	json_t *list = json_array();
	const char *error = NULL;
	int ret;

	if ((ret = db_token_list(req->db, api_token_append, list,
	    &error)) != DB_OK) {
		json_decref(list);
		api_problem_db(req, ret, NULL, error);
		return;
	}
	req->out = json_pack("{s:o}", "tokens", list);
}

struct api_token_find {
	const char *name;
	json_t *found;
};

static int
api_token_match(const struct db_token *t, void *ctx)
{
	struct api_token_find *f = ctx;

	if (!t->revoked && strcmp(t->name, f->name) == 0) {
		f->found = api_token_json(t);
		return 1;
	}
	return 0;
}

static void
api_token_create(struct api_req *req)
{
	struct service_error err = { 0 };
	char secret[SERVICE_TOKEN_SECRET_LEN + 1];
	const char *name, *scope, *domains[DB_TOKEN_DOMAINS_MAX];
	struct api_token_find f;
	json_t *list, *v;
	uint64_t days = 0;
	size_t i, n = 0;
	int ret;

	name = json_string_value(json_object_get(req->body, "name"));
	scope = json_string_value(json_object_get(req->body, "scope"));
	if (name == NULL) {
		api_problem(req, 400, "invalid_field", "name",
		    "name: required");
		return;
	}
	if (api_uint_field(req, "expires_days", &days) < 0)
		return;
	if (days > 36500) {
		api_problem(req, 400, "invalid_field", "expires_days",
		    "expires_days: at most 36500");
		return;
	}
	if ((list = json_object_get(req->body, "domains")) != NULL) {
		n = json_array_size(list);
		if (n > DB_TOKEN_DOMAINS_MAX) {
			api_problem(req, 400, "invalid_field", "domains",
			    "domains: at most %d", DB_TOKEN_DOMAINS_MAX);
			return;
		}
		json_array_foreach(list, i, v)
			domains[i] = json_string_value(v);
	}
	ret = service_token_create(req->db, name, scope != NULL ? scope :
	    "write", days != 0 ? (int64_t)time(NULL) + (int64_t)days * 86400 :
	    0, domains, (unsigned)n, secret, sizeof(secret), &err);
	if (ret == DB_NOT_FOUND) {
		/* A domain that does not exist is bad input here. */
		api_problem(req, 400, "invalid_field", "domains", "domains: %s",
		    err.detail);
		return;
	}
	if (ret != DB_OK) {
		api_problem_db(req, ret, err.field, err.detail);
		return;
	}
	f.name = name;
	f.found = NULL;
	db_token_list(req->db, api_token_match, &f, NULL);
	req->out = f.found != NULL ? f.found : json_pack("{s:s}", "name",
	    name);
	/* Shown once; only its SHA-256 is kept. */
	json_object_set_new(req->out, "secret", json_string(secret));
	mem_wipe(secret, sizeof(secret));
}

static void
api_token_revoke(struct api_req *req)
{
	const char *error = NULL;
	int ret;

	if ((ret = db_token_revoke(req->db, req->params[0], &error)) !=
	    DB_OK)
		api_problem_db(req, ret, NULL, error);
}

/* ---- audit ---- */

struct api_audit_listing {
	json_t *list;
	unsigned limit, n;
	bool more;
	int64_t last;
};

static int
api_audit_append(const struct db_audit_entry *e, void *ctx)
{
	struct api_audit_listing *l = ctx;

	if (l->n == l->limit) {
		l->more = true;
		return 1;
	}
	json_array_append_new(l->list, json_pack("{s:I, s:I, s:s, s:s, s:s, "
	    "s:s, s:s}", "id", (json_int_t)e->id, "time", (json_int_t)e->ts,
	    "actor", e->actor, "from", e->remote[0] != '\0' ? e->remote :
	    "cli", "action", e->action, "target", e->target, "details",
	    e->details));
	l->last = e->id;
	l->n++;
	return 0;
}

static void
api_audit_list(struct api_req *req)
{
	struct api_page pg;
	struct api_audit_listing l;
	const char *actor = api_query(req, "actor");
	const char *domain = api_query(req, "domain");
	char dom[ADDR_DOMAIN_MAX + 1] = "", cursor[32];
	struct service_error err = { 0 };
	const char *error = NULL;
	uint64_t before = 0;
	int ret;

	if (api_page_args(req, &pg) < 0)
		return;
	json_decref(pg.list);
	if (pg.after[0] != '\0' && str_to_u64(pg.after, strlen(pg.after),
	    INT64_MAX, &before) < 0) {
		api_problem(req, 400, "invalid_field", "cursor",
		    "cursor: not one this API gave");
		return;
	}
	if (domain != NULL && service_domain_normalize(domain, dom,
	    sizeof(dom), "domain", &err) != DB_OK) {
		api_problem_db(req, DB_INVALID, err.field, err.detail);
		return;
	}
	memset(&l, 0, sizeof(l));
	l.list = json_array();
	l.limit = pg.limit;
	if ((ret = db_audit_page(req->db, (int64_t)before, actor != NULL ?
	    actor : "", dom, api_audit_append, &l, &error)) != DB_OK) {
		json_decref(l.list);
		api_problem_db(req, ret, NULL, error);
		return;
	}
	/* The cursor encodes the last id as the other lists encode keys. */
	if (l.more) {
		char num[24];
		size_t len;

		str_printf(num, sizeof(num), "%lld", (long long)l.last);
		len = strlen(num);
		for (size_t i = 0; i < len; i++)
			str_printf(cursor + 2 * i, 3, "%02x",
			    (unsigned char)num[i]);
	}
	req->out = json_pack("{s:o, s:o}", "entries", l.list, "next_cursor",
	    l.more ? json_string(cursor) : json_null());
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
static const struct api_field api_f_domain_update[] = {
	{ "enabled", API_T_BOOLEAN }, { "default_quota", API_T_INTEGER },
	{ "max_mailboxes", API_T_INTEGER }, { NULL, 0 },
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
static const struct api_field api_f_alias_update[] = {
	{ "destinations", API_T_STRINGS }, { NULL, 0 },
};
static const struct api_field api_f_login[] = {
	{ "username", API_T_STRING }, { "password", API_T_STRING },
	{ NULL, 0 },
};
static const struct api_field api_f_self_password[] = {
	{ "current_password", API_T_STRING }, { "new_password", API_T_STRING },
	{ NULL, 0 },
};
static const struct api_field api_f_admin[] = {
	{ "name", API_T_STRING }, { "password", API_T_STRING }, { NULL, 0 },
};
static const struct api_field api_f_password[] = {
	{ "password", API_T_STRING }, { NULL, 0 },
};
static const struct api_field api_f_token[] = {
	{ "name", API_T_STRING }, { "scope", API_T_STRING },
	{ "expires_days", API_T_INTEGER }, { "domains", API_T_STRINGS },
	{ NULL, 0 },
};

/* R: read (tokens of any scope, admin sessions); W: write; A: admins
 * only (admin sessions, write tokens not restricted to domains);
 * M: mailbox sessions too (their own mailbox); S: sessions only. */
#define R (API_AUTH | API_SESSION)
#define W (R | API_WRITE)
#define A (W | API_ALL_DOMAINS)
#define M API_MAILBOX
#define S (API_AUTH | API_SESSION | API_MAILBOX | API_NO_TOKEN)
#define PAGE "limit,cursor,q"

const struct api_route api_routes[] = {
	{ "GET", "/api/openapi.json", 0, NULL, api_openapi_get, 200,
	    "This OpenAPI document", NULL },
	{ "POST", "/api/v1/session", 0, api_f_login, api_session_login, 200,
	    "Sign in (admin name, or mailbox address) with a password: sets "
	    "the session cookie, returns the CSRF token; 401 "
	    "bad_credentials (answered after a growing delay), 429 "
	    "throttled", NULL },
	{ "GET", "/api/v1/session", S, NULL, api_session_get, 200,
	    "The current session (user, role, csrf_token, expires)", NULL },
	{ "DELETE", "/api/v1/session", S, NULL, api_session_logout, 204,
	    "Sign out", NULL },
	{ "PUT", "/api/v1/self/password", S, api_f_self_password,
	    api_self_password, 204, "Change one's own password (the current "
	    "one is checked; other sessions end)", NULL },
	{ "GET", "/api/v1/status", R, NULL, api_status, 200,
	    "Version, uptime, counts, the certificate, the listeners "
	    "and the storage used by all mailboxes", NULL },
	{ "GET", "/api/v1/domains", R, NULL, api_domain_list, 200,
	    "List domains (paginated)", PAGE },
	{ "POST", "/api/v1/domains", A, api_f_domain,
	    api_domain_add, 201, "Add a domain (and its DKIM key); 403 for "
	    "a token restricted to domains", NULL },
	{ "GET", "/api/v1/domains/{name}", R, NULL, api_domain_get, 200,
	    "Get a domain with its counts, limits and storage used", NULL },
	{ "PATCH", "/api/v1/domains/{name}", W, api_f_domain_update,
	    api_domain_update, 200, "Change enabled, default_quota (bytes "
	    "for new mailboxes) or max_mailboxes (0: unlimited)", NULL },
	{ "DELETE", "/api/v1/domains/{name}", W, NULL, api_domain_remove,
	    204, "Remove a domain (409 unless empty or ?force=true)",
	    "force" },
	{ "GET", "/api/v1/domains/{name}/dns", R, NULL, api_domain_dns, 200,
	    "DNS records to publish (MX, SPF, DKIM, DMARC, autoconfig, SRV); "
	    "?format=zone: zone-file lines", "format" },
	{ "GET", "/api/v1/domains/{name}/mailboxes", R, NULL,
	    api_mailbox_list, 200, "List a domain's mailboxes (paginated)",
	    PAGE },
	{ "POST", "/api/v1/domains/{name}/mailboxes", W, api_f_mailbox_add,
	    api_mailbox_add, 201, "Add a mailbox (password or "
	    "password_hash); 409 limit_reached past max_mailboxes", NULL },
	{ "GET", "/api/v1/domains/{name}/aliases", R, NULL, api_alias_list,
	    200, "List a domain's aliases and catch-all (paginated)", PAGE },
	{ "POST", "/api/v1/domains/{name}/aliases", W, api_f_alias,
	    api_alias_add, 201, "Add an alias", NULL },
	{ "GET", "/api/v1/mailboxes/{address}", R | M, NULL, api_mailbox_get,
	    200, "Get a mailbox with its storage used", NULL },
	{ "PATCH", "/api/v1/mailboxes/{address}", W, api_f_mailbox_update,
	    api_mailbox_update, 200, "Change password, quota or enabled",
	    NULL },
	{ "PUT", "/api/v1/mailboxes/{address}", W, api_f_mailbox_put,
	    api_mailbox_put, 200, "Create (201) or update (200) a mailbox: "
	    "idempotent, for provisioning scripts", NULL },
	{ "DELETE", "/api/v1/mailboxes/{address}", W, NULL,
	    api_mailbox_remove, 204, "Remove a mailbox (its mail is moved "
	    "to deleted/)", NULL },
	{ "GET", "/api/v1/mailboxes/{address}/client-setup", R | M, NULL,
	    api_client_setup, 200, "Servers, ports and TLS modes for a "
	    "mail client (the preferred ones flagged), and the "
	    "autoconfiguration and Apple profile URLs", NULL },
	{ "GET", "/api/v1/mailboxes/{address}/mobileconfig", R | M, NULL,
	    api_mobileconfig, 200, "Apple configuration profile "
	    "(.mobileconfig): the preferred IMAP and SMTP endpoints, no "
	    "password; signed (CMS) with the HTTPS certificate unless "
	    "?signed=false; ?name= is the sender's name", "name,signed" },
	{ "GET", "/api/v1/aliases/{source}", R, NULL, api_alias_get, 200,
	    "Get an alias", NULL },
	{ "PUT", "/api/v1/aliases/{source}", W, api_f_alias_update,
	    api_alias_update, 200, "Replace an alias's destinations", NULL },
	{ "PATCH", "/api/v1/aliases/{source}", W, api_f_alias_update,
	    api_alias_update, 200, "Replace an alias's destinations (as "
	    "PUT)", NULL },
	{ "DELETE", "/api/v1/aliases/{source}", W, NULL, api_alias_remove,
	    204, "Remove an alias", NULL },
	{ "GET", "/api/v1/queue", A, NULL, api_queue_list, 200,
	    "Messages with recipients waiting for delivery (at most 1000)",
	    NULL },
	{ "GET", "/api/v1/queue/{id}", A, NULL, api_queue_get, 200,
	    "A queued message with every recipient's status", NULL },
	{ "POST", "/api/v1/queue/{id}/retry", A, NULL, api_queue_retry, 204,
	    "Try a message's pending recipients now", NULL },
	{ "DELETE", "/api/v1/queue/{id}", A, NULL, api_queue_delete, 204,
	    "Remove a message from the queue, without a bounce", NULL },
	{ "GET", "/api/v1/admins", A, NULL, api_admin_list, 200,
	    "List admins", NULL },
	{ "POST", "/api/v1/admins", A, api_f_admin, api_admin_add, 201,
	    "Add an admin", NULL },
	{ "DELETE", "/api/v1/admins/{name}", A, NULL, api_admin_remove, 204,
	    "Remove an admin (409 last_admin for the only one)", NULL },
	{ "PUT", "/api/v1/admins/{name}/password", A, api_f_password,
	    api_admin_password, 204, "Set an admin's password (its sessions "
	    "end)", NULL },
	{ "GET", "/api/v1/tokens", A, NULL, api_token_list, 200,
	    "List API tokens (never their secrets)", NULL },
	{ "POST", "/api/v1/tokens", A, api_f_token, api_token_create, 201,
	    "Create a token {name, scope, expires_days, domains}: the secret "
	    "is in this answer only", NULL },
	{ "DELETE", "/api/v1/tokens/{name}", A, NULL, api_token_revoke, 204,
	    "Revoke a token", NULL },
	{ "GET", "/api/v1/audit", A, NULL, api_audit_list, 200,
	    "The audit log, newest first (paginated; ?actor=, ?domain=)",
	    "limit,cursor,actor,domain" },
};
const size_t api_routes_count = ARRAY_SIZE(api_routes);

#undef R
#undef W
#undef A
#undef M
#undef S
#undef PAGE

/* ---- OpenAPI ---- */

/* The media type of a route's successful answer. */
static const char *
api_route_media(const struct api_route *r)
{
	static const struct {
		const char *pattern, *media;
	} other[] = {
		{ "/api/v1/mailboxes/{address}/mobileconfig",
		    "application/x-apple-aspen-config" },
	};

	for (size_t i = 0; i < ARRAY_SIZE(other); i++) {
		if (strcmp(r->pattern, other[i].pattern) == 0)
			return other[i].media;
	}
	return "application/json";
}

static json_t *
api_openapi_operation(const struct api_route *r)
{
	json_t *op, *params, *responses, *props, *security;
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
	for (p = r->query; p != NULL && *p != '\0';) {
		size_t len = strcspn(p, ",");
		const char *type = strncmp(p, "limit", len) == 0 ? "integer" :
		    strncmp(p, "force", len) == 0 ||
		    strncmp(p, "signed", len) == 0 ? "boolean" : "string";

		json_array_append_new(params, json_pack("{s:s%, s:s, s:b, "
		    "s:{s:s}}", "name", p, len, "in", "query", "required", 0,
		    "schema", "type", type));
		p += len;
		if (*p == ',')
			p++;
	}
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
	    api_route_media(r)));
	json_object_set_new(responses, "default", json_pack("{s:s, "
	    "s:{s:{s:{s:s}}}}", "description", "Error (RFC 9457)", "content",
	    "application/problem+json", "schema", "$ref",
	    "#/components/schemas/Problem"));
	json_object_set_new(op, "responses", responses);
	security = json_array();
	if ((r->flags & API_AUTH) && !(r->flags & API_NO_TOKEN))
		json_array_append_new(security, json_pack("{s:[]}", "bearer"));
	if ((r->flags & API_AUTH) && (r->flags & (API_SESSION | API_MAILBOX)))
		json_array_append_new(security, json_pack("{s:[]}",
		    "session"));
	json_object_set_new(op, "security", security);
	if (r->flags & API_WRITE)
		json_object_set_new(op, "x-scope", json_string("write"));
	if (r->flags & API_ALL_DOMAINS)
		json_object_set_new(op, "x-admin-only", json_true());
	if (r->flags & API_MAILBOX)
		json_object_set_new(op, "x-mailbox-session", json_true());
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
	    "s:s}, s:{s:s, s:s, s:s, s:s}}, s:{s:{s:s, s:[s,s,s,s], s:{s:{s:s}, "
	    "s:{s:s}, s:{s:s}, s:{s:s}, s:{s:s}, s:{s:s}}}}}",
	    "securitySchemes", "bearer", "type", "http", "scheme", "bearer",
	    "session", "type", "apiKey", "in", "cookie", "name",
	    API_SESSION_COOKIE, "description", "Set by POST /api/v1/session; "
	    "requests other than GET also need the X-CSRF-Token header",
	    "schemas", "Problem", "type", "object", "required", "type",
	    "title", "status", "code", "properties",
	    "type", "type", "string", "title", "type", "string",
	    "status", "type", "integer", "detail", "type", "string",
	    "code", "type", "string", "field", "type", "string"));
	return doc;
}
