/*
 * api.c: the HTTPS server and the one dispatcher of the JSON API. The
 * dispatcher owns policy: the admin_networks allow-list (403), route
 * matching (404, 405), bearer or session authentication (401), scope,
 * role and domain restriction (403), the CSRF check of session requests
 * (403), body size (413), content type (415), JSON syntax and fields
 * (400) and the RFC 9457 error shape; handlers (routes.c) only see valid
 * requests, and hide the domains a restricted token may not see (404).
 *
 * A handler may ask for its answer to be delayed (failed sign-ins): the
 * connection is suspended and a timer thread resumes it, so that no
 * server thread sleeps.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <jansson.h>
#include <microhttpd.h>

#include "admin/service.h"
#include "db/db.h"
#include "lib/log.h"
#include "webadmin/api.h"
#include "webadmin/routes.h"
#include "webadmin/web.h"

#define API_THREADS 4
#define API_CONNECTIONS 64
#define API_TIMEOUT 30			/* seconds idle per connection */
#define API_CONN_MEMORY (64 * 1024)	/* headers and read buffer */
/* Bodies declared beyond this are refused without being read. */
#define API_BODY_DRAIN_MAX (8 * API_BODY_MAX)

/* A suspended connection waiting for its delayed answer. */
struct api_delayed {
	struct MHD_Connection *conn;
	struct timespec due;		/* CLOCK_MONOTONIC */
	struct api_delayed *next;
};

/* A server replaced at a reload, quiesced, stopped later. */
struct api_retired {
	struct MHD_Daemon *mhd;
	char *cert, *key;
	size_t keylen;
};

struct api_server {
	struct MHD_Daemon *mhd;
	int fd;
	char *cert, *key;
	size_t keylen;
	struct api_retired retired;	/* mhd NULL when none */
	unsigned per_ip;
	struct api_ctx ctx;
	/* The delayer: resumes suspended connections when due. */
	pthread_t delayer;
	bool delayer_running, stopping;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct api_delayed *delayed;
};

/* Per request, from the first call of the access handler to completion. */
struct api_conn {
	char *body;
	size_t len;
	bool too_large;
	/* A delayed answer, queued when the connection resumes. */
	struct MHD_Response *resp;
	unsigned resp_status;
};

static char *
api_file_read(const char *path, size_t *len_r, char **error_r)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t len = 0, n;

	if (f == NULL) {
		*error_r = xasprintf("https: %s: %s", path, strerror(errno));
		return NULL;
	}
	buf = xmalloc(65537);
	n = fread(buf, 1, 65536, f);
	len = n;
	if (ferror(f) || !feof(f)) {
		*error_r = xasprintf("https: %s: unreadable or over 64 KiB",
		    path);
		fclose(f);
		mem_wipe(buf, 65537);
		free(buf);
		return NULL;
	}
	fclose(f);
	buf[len] = '\0';
	*len_r = len;
	return buf;
}

/* Opens the non-blocking listening socket of svc; -1 and *error_r. */
static int
api_listen(const struct config *cfg, enum config_service svc,
    char **error_r)
{
	const struct config_listener *l = &cfg->listeners[svc];
	struct addrinfo hints, *ai = NULL;
	char port[16];
	int fd, on = 1, rc;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICHOST | AI_NUMERICSERV;
	str_printf(port, sizeof(port), "%u", config_listen_port(cfg, svc));
	if ((rc = getaddrinfo(l->address, port, &hints, &ai)) != 0) {
		*error_r = xasprintf("%s: cannot listen on %s port %s: %s",
		    l->name, l->address, port, gai_strerror(rc));
		return -1;
	}
	fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on,
	    sizeof(on)) < 0 || bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 ||
	    listen(fd, 128) < 0 ||
	    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0) {
		*error_r = xasprintf("%s: cannot listen on %s port %s: %s",
		    l->name, l->address, port, strerror(errno));
		if (fd >= 0)
			close(fd);
		freeaddrinfo(ai);
		return -1;
	}
	freeaddrinfo(ai);
	return fd;
}

int
api_bind(const struct config *cfg, struct api_server **srv_r,
    char **error_r)
{
	const struct config_listener *l = &cfg->listeners[SVC_HTTPS];
	struct api_server *srv;
	size_t certlen;

	*srv_r = NULL;
	if (!l->enabled)
		return 0;
	srv = xcalloc(1, sizeof(*srv));
	srv->fd = -1;
	srv->ctx.cfg = cfg;
	srv->per_ip = cfg->max_connections_per_ip;
	if ((srv->cert = api_file_read(cfg->tls_cert, &certlen,
	    error_r)) == NULL ||
	    (srv->key = api_file_read(cfg->tls_key, &srv->keylen,
	    error_r)) == NULL) {
		api_stop(&srv);
		return -1;
	}
	if ((srv->fd = api_listen(cfg, SVC_HTTPS, error_r)) < 0) {
		api_stop(&srv);
		return -1;
	}
	*srv_r = srv;
	return 0;
}

/* ---- responses ---- */

/* text (malloc'ed, or NULL) of len bytes; len 0: strlen(text). */
static struct MHD_Response *
api_response_new(const char *type, char *text, size_t len,
    const char *hname, const char *hvalue)
{
	struct MHD_Response *resp;

	if (text != NULL && len == 0)
		len = strlen(text);
	resp = MHD_create_response_from_buffer(len, text, text != NULL ?
	    MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
	if (resp == NULL) {
		free(text);
		return NULL;
	}
	if (type != NULL)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
		    type);
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL,
	    "no-store");
	if (hname != NULL)
		MHD_add_response_header(resp, hname, hvalue);
	return resp;
}

static const char *
api_status_title(unsigned status)
{
	const char *t = MHD_get_reason_phrase_for(status);

	return t != NULL && *t != '\0' ? t : "Error";
}

/* Makes req's response: its problem (RFC 9457), text or document. */
static struct MHD_Response *
api_response_make(struct api_req *req, const char *hname, const char *hvalue)
{
	struct MHD_Response *resp;
	json_t *doc;
	char type[64], *text, retry[16];

	if (req->code != NULL) {
		str_printf(type, sizeof(type), "urn:facteur:problem:%s",
		    req->code);
		doc = json_pack("{s:s, s:s, s:i, s:s, s:s}", "type", type,
		    "title", api_status_title(req->status), "status",
		    (int)req->status, "detail", req->detail, "code",
		    req->code);
		if (req->field != NULL)
			json_object_set_new(doc, "field",
			    json_string(req->field));
		if (req->status == 401) {
			hname = MHD_HTTP_HEADER_WWW_AUTHENTICATE;
			hvalue = "Bearer realm=\"facteur\"";
		} else if (req->status == 503 && req->retry_after == 0) {
			req->retry_after = 1;
		}
		text = json_dumps(doc, JSON_COMPACT);
		json_decref(doc);
		resp = api_response_new("application/problem+json", text, 0,
		    hname, hvalue);
	} else if (req->text != NULL) {
		resp = api_response_new(req->text_type, req->text,
		    req->text_len, hname, hvalue);
		req->text = NULL;
	} else if (req->out == NULL) {
		resp = api_response_new(NULL, NULL, 0, hname, hvalue);
	} else {
		text = json_dumps(req->out, JSON_COMPACT);
		json_decref(req->out);
		req->out = NULL;
		resp = api_response_new("application/json", text, 0, hname,
		    hvalue);
	}
	if (resp == NULL)
		return NULL;
	if (req->code == NULL && req->header_name != NULL)
		MHD_add_response_header(resp, req->header_name,
		    req->header_value);
	if (req->retry_after > 0) {
		str_printf(retry, sizeof(retry), "%u", req->retry_after);
		MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER,
		    retry);
	}
	if (req->set_cookie[0] != '\0')
		MHD_add_response_header(resp, MHD_HTTP_HEADER_SET_COOKIE,
		    req->set_cookie);
	return resp;
}

static enum MHD_Result
api_respond(struct MHD_Connection *conn, struct api_req *req,
    const char *hname, const char *hvalue)
{
	struct MHD_Response *resp = api_response_make(req, hname, hvalue);
	enum MHD_Result ret;

	if (resp == NULL)
		return MHD_NO;
	ret = MHD_queue_response(conn, req->status, resp);
	MHD_destroy_response(resp);
	return ret;
}

/* ---- delayed answers ---- */

static void *
api_delayer_main(void *arg)
{
	struct api_server *srv = arg;
	struct timespec now;

	pthread_mutex_lock(&srv->lock);
	for (;;) {
		struct api_delayed **pp, *d, *first = NULL;

		clock_gettime(CLOCK_MONOTONIC, &now);
		for (pp = &srv->delayed; (d = *pp) != NULL;) {
			if (srv->stopping || d->due.tv_sec < now.tv_sec ||
			    (d->due.tv_sec == now.tv_sec &&
			    d->due.tv_nsec <= now.tv_nsec)) {
				*pp = d->next;
				MHD_resume_connection(d->conn);
				free(d);
				continue;
			}
			if (first == NULL || d->due.tv_sec < first->due.tv_sec ||
			    (d->due.tv_sec == first->due.tv_sec &&
			    d->due.tv_nsec < first->due.tv_nsec))
				first = d;
			pp = &d->next;
		}
		if (srv->stopping)
			break;
		if (first == NULL)
			pthread_cond_wait(&srv->cond, &srv->lock);
		else
			pthread_cond_timedwait(&srv->cond, &srv->lock,
			    &first->due);
	}
	pthread_mutex_unlock(&srv->lock);
	return NULL;
}

/* Keeps the answer and suspends the connection for delay_ms. */
static enum MHD_Result
api_respond_later(struct api_server *srv, struct MHD_Connection *conn,
    struct api_conn *c, struct api_req *req)
{
	struct api_delayed *d;

	if ((c->resp = api_response_make(req, NULL, NULL)) == NULL)
		return MHD_NO;
	c->resp_status = req->status;
	d = xcalloc(1, sizeof(*d));
	d->conn = conn;
	clock_gettime(CLOCK_MONOTONIC, &d->due);
	d->due.tv_sec += req->delay_ms / 1000;
	d->due.tv_nsec += (long)(req->delay_ms % 1000) * 1000000L;
	if (d->due.tv_nsec >= 1000000000L) {
		d->due.tv_sec++;
		d->due.tv_nsec -= 1000000000L;
	}
	MHD_suspend_connection(conn);
	pthread_mutex_lock(&srv->lock);
	d->next = srv->delayed;
	srv->delayed = d;
	pthread_cond_signal(&srv->cond);
	pthread_mutex_unlock(&srv->lock);
	return MHD_YES;
}

/* ---- the dispatcher ---- */

/* Matches url against a pattern; {x} takes one non-empty segment. */
static bool
api_match(const char *pattern, const char *url,
    char params[API_MAX_PARAMS][API_PARAM_MAX])
{
	const char *p = pattern, *u = url;
	unsigned n = 0;

	while (*p != '\0' && *u != '\0') {
		if (*p == '{') {
			const char *seg = u;
			size_t len;

			while (*u != '\0' && *u != '/')
				u++;
			len = (size_t)(u - seg);
			if (len == 0 || len >= API_PARAM_MAX ||
			    n == API_MAX_PARAMS)
				return false;
			memcpy(params[n], seg, len);
			params[n++][len] = '\0';
			while (*p != '}')
				p++;
			p++;
			continue;
		}
		if (*p++ != *u++)
			return false;
	}
	return *p == '\0' && *u == '\0';
}

/* Constant-time comparison of two NUL-terminated strings. */
static bool
api_secret_equal(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	unsigned char diff = la != lb;

	for (size_t i = 0; i < la && i < lb; i++)
		diff |= (unsigned char)(a[i] ^ b[i]);
	return diff == 0;
}

static int
api_auth_token(struct api_req *req, const struct api_route *route,
    const char *h, const char *remote, struct db_token *t)
{
	const char *error = NULL;
	char hex[65], actor[DB_TOKEN_NAME_MAX + 8];
	int ret;

	if (strncasecmp(h, "Bearer ", 7) != 0) {
		api_problem(req, 401, "unauthorized", NULL,
		    "an Authorization: Bearer token is required");
		return -1;
	}
	h += 7;
	while (*h == ' ')
		h++;
	if (strlen(h) != SERVICE_TOKEN_SECRET_LEN ||
	    service_token_hash(h, strlen(h), hex) < 0 ||
	    (ret = db_token_lookup(req->db, hex, t, &error)) ==
	    DB_NOT_FOUND) {
		api_problem(req, 401, "unauthorized", NULL,
		    "unknown, revoked or expired token");
		return -1;
	}
	if (ret != DB_OK) {
		api_problem_db(req, ret, NULL, error);
		return -1;
	}
	if (route->flags & API_NO_TOKEN) {
		api_problem(req, 403, "forbidden", NULL,
		    "this resource is for browser sessions");
		return -1;
	}
	if ((route->flags & API_WRITE) && strcmp(t->scope, "write") != 0) {
		api_problem(req, 403, "forbidden", NULL,
		    "token '%s' has read scope only", t->name);
		return -1;
	}
	if ((route->flags & API_ALL_DOMAINS) && t->restricted) {
		api_problem(req, 403, "forbidden", NULL,
		    "token '%s' is restricted to its domains", t->name);
		return -1;
	}
	req->token = t;
	str_printf(actor, sizeof(actor), "token:%s", t->name);
	db_set_actor(req->db, actor, remote);
	return 0;
}

/* A cookie that ends the browser's session. */
static void
api_cookie_clear(struct api_req *req)
{
	str_printf(req->set_cookie, sizeof(req->set_cookie),
	    "%s=; Path=/; HttpOnly; Secure; SameSite=Strict; Max-Age=0",
	    API_SESSION_COOKIE);
}

static int
api_auth_session(struct MHD_Connection *conn, struct api_req *req,
    const struct api_route *route, const char *method, const char *cookie,
    const char *remote, struct db_session *s)
{
	struct service_error err = { 0 };
	const char *csrf;
	char actor[ADDR_MAX + 16];
	int ret;

	ret = service_session_lookup(req->db, req->ctx->cfg, cookie, s, &err);
	if (ret == DB_NOT_FOUND) {
		api_problem(req, 401, "unauthorized", NULL,
		    "no session, or it has expired: sign in again");
		api_cookie_clear(req);
		return -1;
	}
	if (ret != DB_OK) {
		api_problem_db(req, ret, NULL, err.detail);
		return -1;
	}
	if (!(route->flags & (strcmp(s->role, "admin") == 0 ? API_SESSION :
	    API_MAILBOX))) {
		api_problem(req, 403, "forbidden", NULL,
		    "a %s session may not use this resource", s->role);
		return -1;
	}
	/* Requests that change something prove they come from the page
	 * that signed in (the cookie alone may ride a forged request). */
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
		csrf = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
		    "X-CSRF-Token");
		if (csrf == NULL || !api_secret_equal(csrf, s->csrf)) {
			api_problem(req, 403, "csrf", NULL, "the X-CSRF-Token "
			    "header is missing or wrong");
			return -1;
		}
	}
	req->session = s;
	str_printf(actor, sizeof(actor), "%s:%s", s->role, s->user);
	db_set_actor(req->db, actor, remote);
	return 0;
}

static int
api_authenticate(struct MHD_Connection *conn, struct api_req *req,
    const struct api_route *route, const char *method, const char *remote,
    struct db_token *t, struct db_session *s)
{
	const char *h, *cookie;

	h = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_AUTHORIZATION);
	if (h != NULL)
		return api_auth_token(req, route, h, remote, t);
	cookie = MHD_lookup_connection_value(conn, MHD_COOKIE_KIND,
	    API_SESSION_COOKIE);
	if (cookie != NULL)
		return api_auth_session(conn, req, route, method, cookie,
		    remote, s);
	api_problem(req, 401, "unauthorized", NULL,
	    "an Authorization: Bearer token or a session is required");
	return -1;
}

/* Content type, JSON syntax, known fields of the declared types. */
static int
api_body_parse(struct MHD_Connection *conn, struct api_req *req,
    const struct api_route *route, struct api_conn *c)
{
	const char *ct, *key;
	json_error_t jerr;
	json_t *v;

	ct = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_CONTENT_TYPE);
	if (ct == NULL || strncasecmp(ct, "application/json", 16) != 0 ||
	    (ct[16] != '\0' && ct[16] != ';' && ct[16] != ' ')) {
		api_problem(req, 415, "unsupported_media_type", NULL,
		    "the body must be application/json");
		return -1;
	}
	if (c->too_large) {
		api_problem(req, 413, "payload_too_large", NULL,
		    "the body exceeds %d bytes", API_BODY_MAX);
		return -1;
	}
	req->body = json_loadb(c->body != NULL ? c->body : "", c->len,
	    JSON_REJECT_DUPLICATES, &jerr);
	if (req->body == NULL || !json_is_object(req->body)) {
		api_problem(req, 400, "invalid_json", NULL, "%s",
		    req->body == NULL ? jerr.text :
		    "the body must be a JSON object");
		return -1;
	}
	json_object_foreach(req->body, key, v) {
		const struct api_field *f;

		for (f = route->fields; f->name != NULL; f++) {
			if (strcmp(f->name, key) == 0)
				break;
		}
		if (f->name == NULL) {
			char clean[LOG_CLEAN_SIZE];

			api_problem(req, 400, "unknown_field", NULL,
			    "unknown field '%s'", log_clean(key, strlen(key),
			    clean));
			/* The key lives as long as req->body. */
			req->field = key;
			return -1;
		}
		if ((f->type == API_T_STRING && !json_is_string(v)) ||
		    (f->type == API_T_INTEGER && !json_is_integer(v)) ||
		    (f->type == API_T_BOOLEAN && !json_is_boolean(v)) ||
		    (f->type == API_T_STRINGS && !json_is_array(v))) {
			api_problem(req, 400, "invalid_field", f->name,
			    "%s: expected %s", f->name,
			    api_type_name(f->type));
			return -1;
		}
		if (f->type == API_T_STRINGS) {
			size_t i;
			json_t *e;

			json_array_foreach(v, i, e) {
				if (!json_is_string(e)) {
					api_problem(req, 400, "invalid_field",
					    f->name, "%s: expected strings",
					    f->name);
					return -1;
				}
			}
		}
	}
	return 0;
}

/* The client's address as text; whether admin_networks lets it in. */
static bool
api_remote(const struct config *cfg, struct MHD_Connection *conn, char *out,
    size_t outsize)
{
	const union MHD_ConnectionInfo *ci;

	str_lcpy(out, "?", outsize);
	ci = MHD_get_connection_info(conn,
	    MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	if (ci == NULL || ci->client_addr == NULL)
		return cfg->admin_networks_count == 0;
	getnameinfo(ci->client_addr, ci->client_addr->sa_family == AF_INET6 ?
	    sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in), out,
	    (socklen_t)outsize, NULL, 0, NI_NUMERICHOST);
	return cfg->admin_networks_count == 0 ||
	    config_net_match(cfg->admin_networks, cfg->admin_networks_count,
	    ci->client_addr);
}

static const char *
api_query_mhd(void *qctx, const char *name)
{
	return MHD_lookup_connection_value(qctx, MHD_GET_ARGUMENT_KIND, name);
}

static const char *
api_header_mhd(void *qctx, const char *name)
{
	return MHD_lookup_connection_value(qctx, MHD_HEADER_KIND, name);
}

/*
 * A request outside /api (web.h): autoconfiguration and the panel's
 * assets. MHD_NO with *handled false when nobody took it.
 */
static enum MHD_Result
api_web(const struct config *cfg, struct MHD_Connection *conn,
    const char *url, const char *method, const char *body, size_t body_len,
    bool https, const char *remote, bool *handled_r)
{
	struct web_request rq;
	struct web_response resp;
	struct MHD_Response *r;
	char clean[LOG_CLEAN_SIZE], cpath[LOG_CLEAN_SIZE];
	enum MHD_Result ret;

	memset(&rq, 0, sizeof(rq));
	rq.cfg = cfg;
	rq.method = method;
	rq.path = url;
	rq.host = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_HOST);
	rq.remote = remote;
	rq.https = https;
	rq.body = body;
	rq.body_len = body_len;
	rq.query = api_query_mhd;
	rq.header = api_header_mhd;
	rq.ctx = conn;
	*handled_r = web_handle(&rq, &resp);
	if (!*handled_r) {
		web_response_clear(&resp);
		return MHD_NO;
	}
	log_debug("event=web_request remote=%s method=%s path=%s status=%u",
	    remote, log_clean(method, strlen(method), clean),
	    log_clean(url, strlen(url), cpath), resp.status);
	if (resp.body != NULL) {
		r = MHD_create_response_from_buffer(resp.body_len, resp.body,
		    MHD_RESPMEM_MUST_FREE);
		if (r != NULL)
			resp.body = NULL;
	} else {
		r = MHD_create_response_from_buffer(resp.body_len,
		    (void *)resp.static_body, MHD_RESPMEM_PERSISTENT);
	}
	if (r == NULL) {
		web_response_clear(&resp);
		return MHD_NO;
	}
	if (resp.content_type != NULL)
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
		    resp.content_type);
	for (size_t i = 0; i < resp.nheaders; i++)
		MHD_add_response_header(r, resp.headers[i].name,
		    resp.headers[i].value);
	ret = MHD_queue_response(conn, resp.status, r);
	MHD_destroy_response(r);
	web_response_clear(&resp);
	return ret;
}

static enum MHD_Result
api_dispatch(struct api_server *srv, struct MHD_Connection *conn,
    const char *url, const char *method, struct api_conn *c)
{
	char params[API_MAX_PARAMS][API_PARAM_MAX];
	char allow[128] = "", remote[64], clean[LOG_CLEAN_SIZE];
	char cpath[LOG_CLEAN_SIZE];
	const struct api_route *route = NULL;
	struct db_token token;
	struct db_session session;
	struct api_req req;
	const char *hname = NULL, *hvalue = NULL, *error = NULL;
	enum MHD_Result mret;
	bool allowed;

	memset(&req, 0, sizeof(req));
	req.ctx = &srv->ctx;
	req.status = 200;
	req.remote = remote;
	req.query_get = api_query_mhd;
	req.qctx = conn;
	allowed = api_remote(srv->ctx.cfg, conn, remote, sizeof(remote));
	if (strncmp(url, "/api/", 5) != 0 && strcmp(url, "/api") != 0) {
		bool handled;

		mret = api_web(srv->ctx.cfg, conn, url, method, c->body,
		    c->too_large ? 0 : c->len, true, remote, &handled);
		if (handled)
			return mret;
	}
	if (!allowed && strncmp(url, "/api", 4) == 0) {
		api_problem(&req, 403, "forbidden_network", NULL,
		    "the admin API is not open to this address");
		goto out;
	}
	for (size_t i = 0; i < api_routes_count; i++) {
		if (!api_match(api_routes[i].pattern, url, params))
			continue;
		if (strcmp(api_routes[i].method, method) == 0) {
			route = &api_routes[i];
			break;
		}
		if (allow[0] != '\0')
			str_lcpy(allow + strlen(allow), ", ",
			    sizeof(allow) - strlen(allow));
		str_lcpy(allow + strlen(allow), api_routes[i].method,
		    sizeof(allow) - strlen(allow));
	}
	if (route == NULL && allow[0] != '\0') {
		api_problem(&req, 405, "method_not_allowed", NULL,
		    "%s is not allowed here (allowed: %s)", method, allow);
		hname = MHD_HTTP_HEADER_ALLOW;
		hvalue = allow;
		goto out;
	}
	if (route == NULL) {
		api_problem(&req, 404, "not_found", NULL, "no such resource");
		goto out;
	}
	for (unsigned i = 0; i < API_MAX_PARAMS; i++)
		req.params[i] = params[i];
	if ((req.db = db_thread_get(&error)) == NULL) {
		api_problem(&req, 503, "unavailable", NULL,
		    "the database is unavailable");
		goto out;
	}
	db_set_actor(req.db, "anonymous", remote);
	if ((route->flags & API_AUTH) && api_authenticate(conn, &req, route,
	    method, remote, &token, &session) < 0)
		goto out;
	if (route->fields != NULL) {
		if (api_body_parse(conn, &req, route, c) < 0)
			goto out;
	} else if (c->len > 0 || c->too_large) {
		api_problem(&req, c->too_large ? 413 : 400, c->too_large ?
		    "payload_too_large" : "invalid_json", NULL,
		    "this request takes no body");
		goto out;
	}
	req.status = route->success;
	route->fn(&req);
out:
	log_info("event=api_request remote=%s method=%s path=%s status=%u%s%s",
	    remote, log_clean(method, strlen(method), clean),
	    log_clean(url, strlen(url), cpath), req.status,
	    req.code != NULL ? " code=" : "", req.code != NULL ? req.code : "");
	if (req.delay_ms > 0)
		mret = api_respond_later(srv, conn, c, &req);
	else
		mret = api_respond(conn, &req, hname, hvalue);
	api_req_clear(&req);
	return mret;
}

static enum MHD_Result
api_access(void *cls, struct MHD_Connection *conn, const char *url,
    const char *method, const char *version, const char *upload_data,
    size_t *upload_data_size, void **con_cls)
{
	struct api_server *srv = cls;
	struct api_conn *c = *con_cls;
	const char *cl;
	uint64_t declared;

	if (c != NULL && c->resp != NULL) {
		/* Resumed after a delay: the answer is ready. */
		enum MHD_Result ret = MHD_queue_response(conn, c->resp_status,
		    c->resp);

		MHD_destroy_response(c->resp);
		c->resp = NULL;
		return ret;
	}
	if (c == NULL) {
		c = xcalloc(1, sizeof(*c));
		*con_cls = c;
		cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
		    MHD_HTTP_HEADER_CONTENT_LENGTH);
		if (cl != NULL && (str_to_u64(cl, strlen(cl), UINT64_MAX,
		    &declared) < 0 || declared > API_BODY_DRAIN_MAX)) {
			struct api_req req;

			memset(&req, 0, sizeof(req));
			api_problem(&req, 413, "payload_too_large", NULL,
			    "the body exceeds %d bytes", API_BODY_MAX);
			return api_respond(conn, &req, NULL, NULL);
		}
		return MHD_YES;
	}
	if (*upload_data_size > 0) {
		/* Beyond the limit the body is read and dropped, so the
		 * client gets its 413 instead of a reset. */
		if (!c->too_large && c->len + *upload_data_size >
		    API_BODY_MAX) {
			c->too_large = true;
			xfree(c->body);
			c->len = 0;
		}
		if (!c->too_large) {
			c->body = xrealloc(c->body, c->len +
			    *upload_data_size + 1);
			memcpy(c->body + c->len, upload_data,
			    *upload_data_size);
			c->len += *upload_data_size;
		}
		*upload_data_size = 0;
		return MHD_YES;
	}
	return api_dispatch(srv, conn, url, method, c);
}

static void
api_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
    enum MHD_RequestTerminationCode toe)
{
	struct api_conn *c = *con_cls;

	if (c == NULL)
		return;
	if (c->resp != NULL)
		MHD_destroy_response(c->resp);
	free(c->body);
	free(c);
	*con_cls = NULL;
}

static void
api_mhd_log(void *cls, const char *fmt, va_list ap)
{
	char msg[512];
	size_t len;

	if (vsnprintf(msg, sizeof(msg), fmt, ap) < 0)
		return;
	len = strlen(msg);
	while (len > 0 && (msg[len - 1] == '\n' || msg[len - 1] == '\r'))
		msg[--len] = '\0';
	for (char *p = msg; *p != '\0'; p++) {
		if (*p == '"' || *p == '\n')
			*p = '\'';
	}
	log_debug("event=https_error error=\"%s\"", msg);
}

static struct MHD_Daemon *
api_mhd_start(struct api_server *srv, int fd, const char *cert,
    const char *key)
{
	return MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD |
	    MHD_USE_TLS | MHD_USE_ERROR_LOG | MHD_ALLOW_SUSPEND_RESUME, 0,
	    NULL, NULL, api_access, srv,
	    MHD_OPTION_LISTEN_SOCKET, fd,
	    MHD_OPTION_HTTPS_MEM_KEY, key,
	    MHD_OPTION_HTTPS_MEM_CERT, cert,
	    MHD_OPTION_THREAD_POOL_SIZE, (unsigned)API_THREADS,
	    MHD_OPTION_CONNECTION_LIMIT, (unsigned)API_CONNECTIONS,
	    MHD_OPTION_PER_IP_CONNECTION_LIMIT, srv->per_ip,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)API_TIMEOUT,
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)API_CONN_MEMORY,
	    MHD_OPTION_NOTIFY_COMPLETED, api_completed, srv,
	    MHD_OPTION_EXTERNAL_LOGGER, api_mhd_log, NULL,
	    MHD_OPTION_END);
}

int
api_start(struct api_server *srv, char **error_r)
{
	if (srv == NULL)
		return 0;
	srv->ctx.started = time(NULL);
	if (!srv->delayer_running) {
		pthread_condattr_t ca;

		pthread_mutex_init(&srv->lock, NULL);
		pthread_condattr_init(&ca);
		pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		pthread_cond_init(&srv->cond, &ca);
		pthread_condattr_destroy(&ca);
		if (pthread_create(&srv->delayer, NULL, api_delayer_main,
		    srv) != 0) {
			*error_r = xasprintf("https: cannot start a thread");
			return -1;
		}
		srv->delayer_running = true;
	}
	srv->mhd = api_mhd_start(srv, srv->fd, srv->cert, srv->key);
	if (srv->mhd == NULL) {
		*error_r = xasprintf("https: cannot start the HTTPS server "
		    "(certificate or key refused?)");
		return -1;
	}
	srv->fd = -1;	/* libmicrohttpd closes it at stop */
	log_info("event=https_started port=%u",
	    config_listen_port(srv->ctx.cfg, SVC_HTTPS));
	return 0;
}

static void
api_secret_free(char *key, size_t keylen, char *cert)
{
	if (key != NULL) {
		mem_wipe(key, keylen);
		free(key);
	}
	free(cert);
}

static void
api_retired_stop(struct api_server *srv)
{
	struct api_retired *r = &srv->retired;

	if (r->mhd == NULL)
		return;
	/* No suspended connection may outlive its server: answer the
	 * delayed ones now. */
	if (srv->delayer_running) {
		struct api_delayed *d;

		pthread_mutex_lock(&srv->lock);
		while ((d = srv->delayed) != NULL) {
			srv->delayed = d->next;
			MHD_resume_connection(d->conn);
			free(d);
		}
		pthread_mutex_unlock(&srv->lock);
	}
	MHD_stop_daemon(r->mhd);
	api_secret_free(r->key, r->keylen, r->cert);
	memset(r, 0, sizeof(*r));
}

void
api_reload(void *arg)
{
	struct api_server *srv = arg;
	const struct config *cfg;
	struct MHD_Daemon *mhd;
	char *cert = NULL, *key = NULL, *error = NULL;
	size_t certlen, keylen = 0;
	MHD_socket old;
	int fd;

	if (srv == NULL || srv->mhd == NULL)
		return;
	cfg = srv->ctx.cfg;
	if ((cert = api_file_read(cfg->tls_cert, &certlen, &error)) == NULL ||
	    (key = api_file_read(cfg->tls_key, &keylen, &error)) == NULL) {
		log_error("event=https_reload result=failed error=\"%s\"",
		    error);
		free(error);
		api_secret_free(key, keylen, cert);
		return;
	}
	/* The new server shares the listening socket; the old one is
	 * quiesced only once the new one runs. */
	if ((fd = fcntl(MHD_get_daemon_info(srv->mhd,
	    MHD_DAEMON_INFO_LISTEN_FD)->listen_fd, F_DUPFD_CLOEXEC, 0)) < 0 ||
	    (mhd = api_mhd_start(srv, fd, cert, key)) == NULL) {
		log_error("event=https_reload result=failed error=\"%s\"",
		    fd < 0 ? strerror(errno) : "certificate or key refused");
		if (fd >= 0)
			close(fd);
		api_secret_free(key, keylen, cert);
		return;
	}
	api_retired_stop(srv);
	old = MHD_quiesce_daemon(srv->mhd);
	if (old != MHD_INVALID_SOCKET)
		close(old);
	srv->retired.mhd = srv->mhd;
	srv->retired.cert = srv->cert;
	srv->retired.key = srv->key;
	srv->retired.keylen = srv->keylen;
	srv->mhd = mhd;
	srv->cert = cert;
	srv->key = key;
	srv->keylen = keylen;
	log_info("event=https_reload result=ok");
}

void
api_stop(struct api_server **srvp)
{
	struct api_server *srv = *srvp;

	if (srv == NULL)
		return;
	if (srv->delayer_running) {
		/* Suspended connections are resumed before the stop. */
		pthread_mutex_lock(&srv->lock);
		srv->stopping = true;
		pthread_cond_signal(&srv->cond);
		pthread_mutex_unlock(&srv->lock);
		pthread_join(srv->delayer, NULL);
		pthread_mutex_destroy(&srv->lock);
		pthread_cond_destroy(&srv->cond);
	}
	if (srv->mhd != NULL)
		MHD_stop_daemon(srv->mhd);
	api_retired_stop(srv);
	if (srv->fd >= 0)
		close(srv->fd);
	api_secret_free(srv->key, srv->keylen, srv->cert);
	free(srv);
	*srvp = NULL;
}

/* ---- http: a redirect to https ---- */

#define API_REDIRECT_CONNECTIONS 64
#define API_REDIRECT_TIMEOUT 10

struct api_redirect {
	const struct config *cfg;
	struct MHD_Daemon *mhd;
	int fd;
	unsigned port;
	char base[300];		/* "https://HOST[:PORT]" */
};

int
api_redirect_bind(const struct config *cfg, struct api_redirect **r_r,
    char **error_r)
{
	struct api_redirect *r;
	unsigned port = config_public_port(cfg, SVC_HTTPS);

	*r_r = NULL;
	if (!cfg->listeners[SVC_HTTP].enabled ||
	    !cfg->listeners[SVC_HTTPS].enabled)
		return 0;
	r = xcalloc(1, sizeof(*r));
	r->port = config_listen_port(cfg, SVC_HTTP);
	if ((port == 443 ? str_printf(r->base, sizeof(r->base), "https://%s",
	    cfg->hostname) : str_printf(r->base, sizeof(r->base),
	    "https://%s:%u", cfg->hostname, port)) < 0) {
		*error_r = xasprintf("http: host name too long");
		free(r);
		return -1;
	}
	if ((r->fd = api_listen(cfg, SVC_HTTP, error_r)) < 0) {
		free(r);
		return -1;
	}
	*r_r = r;
	return 0;
}

/* libmicrohttpd hands over the path percent-decoded: encode again every
 * byte outside RFC 3986 pchar and '/', so that no CR, LF or space can
 * reach the header. */

static enum MHD_Result
api_redirect_access(void *cls, struct MHD_Connection *conn, const char *url,
    const char *method, const char *version, const char *upload_data,
    size_t *upload_data_size, void **con_cls)
{
	static const char body[] = "Moved to HTTPS\n";
	struct api_redirect *r = cls;
	struct MHD_Response *resp;
	char path[2048], location[sizeof(path) + sizeof(r->base)];
	char remote[64];
	enum MHD_Result ret;
	bool handled;

	if (url == NULL || url[0] != '/')
		url = "/";
	/* Clients fetch autoconfiguration over plain HTTP too; the rest
	 * moves to HTTPS. Bodies are not read here (GET and HEAD). */
	if (*upload_data_size == 0 && (strcmp(method, "GET") == 0 ||
	    strcmp(method, "HEAD") == 0)) {
		api_remote(r->cfg, conn, remote, sizeof(remote));
		ret = api_web(r->cfg, conn, url, method, NULL, 0, false,
		    remote, &handled);
		if (handled)
			return ret;
	}
	/* Path characters stay as they are (RFC 3986 pchar and "/"). */
	str_percent_encode(url, "!$&'()*+,;=:@/", path, sizeof(path));
	if (str_printf(location, sizeof(location), "%s%s", r->base,
	    path) < 0)
		str_printf(location, sizeof(location), "%s/", r->base);
	resp = MHD_create_response_from_buffer(sizeof(body) - 1,
	    (void *)body, MHD_RESPMEM_PERSISTENT);
	if (resp == NULL)
		return MHD_NO;
	if (MHD_add_response_header(resp, MHD_HTTP_HEADER_LOCATION,
	    location) != MHD_YES ||
	    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
	    "text/plain; charset=utf-8") != MHD_YES) {
		MHD_destroy_response(resp);
		return MHD_NO;
	}
	ret = MHD_queue_response(conn, MHD_HTTP_MOVED_PERMANENTLY, resp);
	MHD_destroy_response(resp);
	return ret;
}

int
api_redirect_start(struct api_redirect *r, const struct config *cfg,
    char **error_r)
{
	if (r == NULL)
		return 0;
	r->cfg = cfg;
	r->mhd = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD |
	    MHD_USE_ERROR_LOG, 0, NULL, NULL, api_redirect_access, r,
	    MHD_OPTION_LISTEN_SOCKET, r->fd,
	    MHD_OPTION_CONNECTION_LIMIT, (unsigned)API_REDIRECT_CONNECTIONS,
	    MHD_OPTION_PER_IP_CONNECTION_LIMIT,
	    cfg->max_connections_per_ip,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)API_REDIRECT_TIMEOUT,
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)API_CONN_MEMORY,
	    MHD_OPTION_EXTERNAL_LOGGER, api_mhd_log, NULL,
	    MHD_OPTION_END);
	if (r->mhd == NULL) {
		*error_r = xasprintf("http: cannot start the HTTP server");
		return -1;
	}
	r->fd = -1;	/* libmicrohttpd closes it at stop */
	log_info("event=http_started port=%u redirect=%s", r->port, r->base);
	return 0;
}

void
api_redirect_stop(struct api_redirect **rp)
{
	struct api_redirect *r = *rp;

	if (r == NULL)
		return;
	if (r->mhd != NULL)
		MHD_stop_daemon(r->mhd);
	if (r->fd >= 0)
		close(r->fd);
	free(r);
	*rp = NULL;
}
