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

/* Route flags */
#define API_AUTH 0x1		/* needs a bearer token */
#define API_WRITE 0x2		/* needs a token with write scope */
#define API_ALL_DOMAINS 0x4	/* needs a token not restricted to domains */

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
	const char *force;		/* ?force= value, or NULL */
	/* The bearer token, or NULL (no authentication). A token
	 * restricted to domains sees only those: the handlers answer 404
	 * for any other domain or address (api_domain_allowed). */
	const struct db_token *token;
	json_t *body;			/* the request object, or NULL */
	/* Response */
	unsigned status;		/* 200 unless set */
	json_t *out;			/* document (owned), or NULL */
	const char *code;		/* set by api_problem */
	const char *field;
	char detail[512];
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

/* May req's token see this (normalized) domain? */
bool api_domain_allowed(const struct api_req *req, const char *domain);

#endif
