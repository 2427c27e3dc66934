/*
 * web.h: what the HTTPS (and HTTP) listeners serve outside /api: the
 * mail client autoconfiguration (autoconfig.c: Mozilla autoconfig,
 * Microsoft Autodiscover) and the browser panel's assets compiled into
 * the binary (assets.c). api.c calls web_handle for every request whose
 * path is not under /api, on libmicrohttpd's threads; a handler that
 * needs the database takes this thread's connection (db_thread_get).
 */
#ifndef FACTEUR_WEBADMIN_WEB_H
#define FACTEUR_WEBADMIN_WEB_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/config.h"

struct web_request {
	const struct config *cfg;
	const char *method;	/* "GET", "POST", ... */
	const char *path;	/* decoded path, without the query */
	const char *host;	/* Host header (may hold ":port"), or NULL */
	const char *remote;	/* client address, numeric */
	bool https;		/* false on the `http` listener */
	const char *body;	/* request body (body_len octets), or NULL */
	size_t body_len;
	/* Query string values and request headers by name, or NULL. */
	const char *(*query)(void *ctx, const char *name);
	const char *(*header)(void *ctx, const char *name);
	void *ctx;
};

#define WEB_MAX_HEADERS 16

struct web_response {
	unsigned status;
	const char *content_type;
	/* The body: malloc'ed (body, freed by the caller) or static
	 * (static_body, e.g. an embedded asset). */
	char *body;
	const void *static_body;
	size_t body_len;
	struct {
		const char *name;
		char *value;	/* malloc'ed */
	} headers[WEB_MAX_HEADERS];
	size_t nheaders;
};

/* Fills resp and returns true when the request is one of ours; false
 * leaves the answer to the caller (404 on HTTPS, the redirect to HTTPS
 * on HTTP). */
bool web_handle(const struct web_request *rq, struct web_response *resp);

/* Adds a response header (value copied). */
void web_header(struct web_response *resp, const char *name,
    const char *value);
void web_response_clear(struct web_response *resp);

/* The handlers web_handle tries in turn. */
bool autoconfig_handle(const struct web_request *rq,
    struct web_response *resp);
bool assets_handle(const struct web_request *rq, struct web_response *resp);

#endif
