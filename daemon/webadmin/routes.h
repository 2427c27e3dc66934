/*
 * routes.h: the JSON API's route table and its handlers, apart from HTTP.
 * The dispatcher (api.c) matches a route, authenticates, checks the
 * scope, the content type and the body (JSON object, known fields of
 * the declared types) and only then calls the handler with a struct
 * api_req; handlers hold their resource's logic and fill in the
 * response, so they can be called without a server.
 */
#ifndef FACTEUR_WEBADMIN_ROUTES_H
#define FACTEUR_WEBADMIN_ROUTES_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include <jansson.h>

#include "db/db.h"
#include "lib/config.h"
#include "lib/util.h"

#define API_MAX_PARAMS 2
#define API_PARAM_MAX 512

/*
 * Route flags. A request authenticates with a bearer token or, without
 * an Authorization header, with the session cookie of a browser signed
 * in through POST /api/v1/session. An admin session may do what an
 * unrestricted write token may, on the routes flagged API_SESSION; a
 * mailbox session only reaches API_MAILBOX routes, for its own mailbox.
 * Session requests that change something (not GET) carry X-CSRF-Token.
 */
#define API_AUTH 0x1		/* needs a token or a session */
#define API_WRITE 0x2		/* token: write scope */
#define API_ALL_DOMAINS 0x4	/* token: not restricted to domains */
#define API_SESSION 0x8		/* admin sessions may use it */
#define API_MAILBOX 0x10	/* mailbox sessions may use it (own data) */
#define API_NO_TOKEN 0x20	/* sessions only */

#define API_SESSION_COOKIE "facteur_session"

enum api_type { API_T_STRING, API_T_INTEGER, API_T_BOOLEAN, API_T_STRINGS };

struct api_field {
	const char *name;
	enum api_type type;
};

struct api_ctx {
	const struct config *cfg;
	time_t started;
};

struct api_req {
	const struct api_ctx *ctx;
	struct db *db;			/* this thread's connection */
	const char *params[API_MAX_PARAMS];	/* {param}s, in order */
	/* ?name= values of the query string (api_query). */
	const char *(*query_get)(void *qctx, const char *name);
	void *qctx;
	const char *remote;		/* client address, numeric */
	/* The bearer token, or NULL. A token restricted to domains sees
	 * only those: the handlers answer 404 for any other domain or
	 * address (api_domain_allowed). */
	const struct db_token *token;
	/* The browser session, or NULL; a "mailbox" one sees only its
	 * own mailbox (404 for any other). */
	const struct db_session *session;
	json_t *body;			/* the request object, or NULL */
	/* Response */
	unsigned status;		/* 200 unless set */
	json_t *out;			/* document (owned), or NULL */
	char *text;			/* or a text body (malloc'ed) */
	size_t text_len;		/* its length; 0: strlen(text) */
	const char *text_type;		/* its Content-Type */
	/* One more header of a successful response (Content-Disposition),
	 * or NULL; a problem drops it. */
	const char *header_name;
	char header_value[512];
	const char *code;		/* set by api_problem */
	const char *field;
	char detail[512];
	char set_cookie[256];		/* a Set-Cookie header, or "" */
	unsigned retry_after;		/* Retry-After seconds, or 0 */
	unsigned delay_ms;		/* answer after this long */
};

typedef void (*api_handler)(struct api_req *req);

struct api_route {
	const char *method;
	const char *pattern;		/* "/api/v1/domains/{name}" */
	unsigned flags;
	const struct api_field *fields;	/* accepted body fields (NULL:
					   no body), ends with a NULL name */
	api_handler fn;
	unsigned success;		/* status on success */
	const char *summary;
	const char *query;		/* query parameters, "a,b" or NULL */
};

extern const struct api_route api_routes[];
extern const size_t api_routes_count;

/* Sets an RFC 9457 problem as the response: status, stable code, the
 * field at fault (or NULL) and a human detail. */
void api_problem(struct api_req *req, unsigned status, const char *code,
    const char *field, const char *fmt, ...) ATTR_PRINTF(5, 6);

/* Maps a db/ or service status to a problem (404, 409, 400, 503, 500). */
void api_problem_db(struct api_req *req, int status, const char *field,
    const char *detail);

/* The OpenAPI 3.1 document of the route table (new reference). */
json_t *api_openapi(void);

const char *api_type_name(enum api_type t);

/* May req's token or session see this (normalized) domain? */
bool api_domain_allowed(const struct api_req *req, const char *domain);

/* A query parameter's value, or NULL. */
const char *api_query(const struct api_req *req, const char *name);

/* Frees what a handler left in req (document, text, body). */
void api_req_clear(struct api_req *req);

#endif
