/*
 * assets.c: the browser panel (static/, compiled in by
 * tools/embed-assets.sh). The panel is a single page: "/", "/index.html"
 * and every path under "/panel/" answer index.html, whose script routes
 * by path; "/static/NAME" answers the file NAME. Only on HTTPS (on HTTP
 * the caller redirects); any other path is left to the caller, so the
 * autoconfiguration's paths and unknown files are never answered here.
 *
 * Every answer carries a Content-Security-Policy that allows only the
 * panel's own files (no inline script or style), so that data shown by
 * the panel cannot run; and an ETag, so that a reload costs a 304.
 */
#include <string.h>

#include "webadmin/assets.h"
#include "webadmin/web.h"

#define ASSETS_INDEX "index.html"
#define ASSETS_STATIC "/static/"
#define ASSETS_APP "/panel"

static const char assets_csp[] = "default-src 'none'; script-src 'self'; "
    "style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

static const char assets_not_allowed[] = "Method not allowed\n";

static const struct web_asset *
assets_find(const char *name)
{
	size_t lo = 0, hi = web_assets_count;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(name, web_assets[mid].name);

		if (c == 0)
			return &web_assets[mid];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

/* The file a path names, or NULL when the path is not the panel's. */
static const char *
assets_path_name(const char *path)
{
	size_t n = strlen(ASSETS_APP);

	if (strcmp(path, "/") == 0 || strcmp(path, "/" ASSETS_INDEX) == 0)
		return ASSETS_INDEX;
	if (strncmp(path, ASSETS_APP, n) == 0 && (path[n] == '\0' ||
	    path[n] == '/'))
		return ASSETS_INDEX;
	if (strncmp(path, ASSETS_STATIC, strlen(ASSETS_STATIC)) == 0)
		return path + strlen(ASSETS_STATIC);
	return NULL;
}

/*
 * RFC 9110 13.1.2: If-None-Match holds "*" or a list of entity tags,
 * compared weakly (a "W/" prefix is ignored).
 */
static bool
assets_etag_matches(const char *inm, const char *etag)
{
	size_t elen = strlen(etag);
	const char *p = inm;

	while (*p != '\0') {
		const char *end;
		size_t len;

		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		if (*p == '\0')
			break;
		if (*p == '*')
			return true;
		if (strncmp(p, "W/", 2) == 0)
			p += 2;
		end = p;
		if (*end == '"') {
			end = strchr(end + 1, '"');
			if (end == NULL)
				return false;
			end++;
		} else {
			while (*end != '\0' && *end != ',')
				end++;
		}
		len = (size_t)(end - p);
		if (len == elen && memcmp(p, etag, len) == 0)
			return true;
		p = end;
	}
	return false;
}

static void
assets_headers(struct web_response *resp)
{
	web_header(resp, "Content-Security-Policy", assets_csp);
	web_header(resp, "X-Content-Type-Options", "nosniff");
	web_header(resp, "Referrer-Policy", "no-referrer");
	web_header(resp, "X-Frame-Options", "DENY");
	web_header(resp, "Cross-Origin-Opener-Policy", "same-origin");
	/* Names do not change with the content: revalidate each time. */
	web_header(resp, "Cache-Control", "no-cache");
}

bool
assets_handle(const struct web_request *rq, struct web_response *resp)
{
	const struct web_asset *a;
	const char *name, *inm;

	if (!rq->https || (name = assets_path_name(rq->path)) == NULL ||
	    (a = assets_find(name)) == NULL)
		return false;
	assets_headers(resp);
	if (strcmp(rq->method, "GET") != 0 &&
	    strcmp(rq->method, "HEAD") != 0) {
		resp->status = 405;
		resp->content_type = "text/plain; charset=utf-8";
		resp->static_body = assets_not_allowed;
		resp->body_len = sizeof(assets_not_allowed) - 1;
		web_header(resp, "Allow", "GET, HEAD");
		return true;
	}
	web_header(resp, "ETag", a->etag);
	inm = rq->header != NULL ? rq->header(rq->ctx, "If-None-Match") :
	    NULL;
	if (inm != NULL && assets_etag_matches(inm, a->etag)) {
		resp->status = 304;
		return true;
	}
	resp->status = 200;
	resp->content_type = a->type;
	resp->static_body = a->data;
	resp->body_len = a->len;
	return true;
}
