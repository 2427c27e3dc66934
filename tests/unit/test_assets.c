/*
 * test_assets.c: which paths the panel answers (and which it leaves to
 * the autoconfiguration and the 404), its headers, and If-None-Match
 * (RFC 9110 13.1.2), over the real embedded files.
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "t.h"
#include "webadmin/assets.h"
#include "webadmin/web.h"

/* web.c tries the autoconfiguration first; it is not linked here. */
bool
autoconfig_handle(const struct web_request *rq, struct web_response *resp)
{
	return false;
}

static const char *t_inm;

static const char *
t_header(void *ctx, const char *name)
{
	return strcmp(name, "If-None-Match") == 0 ? t_inm : NULL;
}

/* Runs assets_handle; returns whether it answered, the response in
 * resp (to be cleared by the caller). */
static bool
t_get(const char *method, const char *path, bool https, const char *inm,
    struct web_response *resp)
{
	struct web_request rq;

	memset(&rq, 0, sizeof(rq));
	memset(resp, 0, sizeof(*resp));
	resp->status = 200;
	rq.method = method;
	rq.path = path;
	rq.https = https;
	rq.header = t_header;
	t_inm = inm;
	return assets_handle(&rq, resp);
}

static const char *
t_resp_header(const struct web_response *resp, const char *name)
{
	for (size_t i = 0; i < resp->nheaders; i++)
		if (strcmp(resp->headers[i].name, name) == 0)
			return resp->headers[i].value;
	return NULL;
}

static void
test_paths(void)
{
	static const char *const index[] = { "/", "/index.html", "/panel",
	    "/panel/", "/panel/domains", "/panel/mailboxes/a@b.example/setup" };
	static const char *const not_ours[] = { "/panelx", "/static/",
	    "/static/nope.js", "/static/../index.html", "/static//panel.css",
	    "/mail/config-v1.1.xml", "/.well-known/autoconfig/mail/"
	    "config-v1.1.xml", "/autodiscover/autodiscover.xml",
	    "/favicon.ico", "/index.htm", "" };
	struct web_response resp;

	for (size_t i = 0; i < sizeof(index) / sizeof(index[0]); i++) {
		CHECK_MSG(t_get("GET", index[i], true, NULL, &resp), "%s",
		    index[i]);
		CHECK(resp.status == 200);
		CHECK_STREQ(resp.content_type, "text/html; charset=utf-8");
		CHECK(resp.static_body != NULL && resp.body_len > 0);
		web_response_clear(&resp);
	}
	for (size_t i = 0; i < sizeof(not_ours) / sizeof(not_ours[0]); i++) {
		CHECK_MSG(!t_get("GET", not_ours[i], true, NULL, &resp), "%s",
		    not_ours[i]);
		web_response_clear(&resp);
	}
	/* Plain HTTP: left to the caller, which redirects. */
	CHECK(!t_get("GET", "/", false, NULL, &resp));
	web_response_clear(&resp);
	CHECK(t_get("GET", "/static/js/app.js", true, NULL, &resp));
	CHECK_STREQ(resp.content_type, "text/javascript; charset=utf-8");
	web_response_clear(&resp);
	CHECK(t_get("HEAD", "/static/panel.css", true, NULL, &resp));
	CHECK_STREQ(resp.content_type, "text/css; charset=utf-8");
	web_response_clear(&resp);
}

static void
test_headers(void)
{
	struct web_response resp;

	CHECK(t_get("GET", "/", true, NULL, &resp));
	CHECK_STREQ(t_resp_header(&resp, "Content-Security-Policy"),
	    "default-src 'none'; script-src 'self'; style-src 'self'; "
	    "img-src 'self' data:; connect-src 'self'; form-action 'self'; "
	    "frame-ancestors 'none'; base-uri 'none'");
	CHECK_STREQ(t_resp_header(&resp, "X-Content-Type-Options"),
	    "nosniff");
	CHECK_STREQ(t_resp_header(&resp, "Referrer-Policy"), "no-referrer");
	CHECK_STREQ(t_resp_header(&resp, "Cache-Control"), "no-cache");
	CHECK(t_resp_header(&resp, "ETag") != NULL);
	web_response_clear(&resp);
	/* Other methods: 405 with Allow, still with the headers. */
	CHECK(t_get("POST", "/panel/domains", true, NULL, &resp));
	CHECK(resp.status == 405);
	CHECK_STREQ(t_resp_header(&resp, "Allow"), "GET, HEAD");
	CHECK(t_resp_header(&resp, "Content-Security-Policy") != NULL);
	web_response_clear(&resp);
}

static void
test_etags(void)
{
	struct web_response resp;
	char etag[128], weak[140], list[300];
	const char *match[3], *miss[] = { "\"nope\"", "", ",,,",
	    "\"unterminated", "W/", "W/\"\"", "nope" };

	CHECK(t_get("GET", "/static/js/app.js", true, NULL, &resp));
	CHECK(snprintf(etag, sizeof(etag), "%s",
	    t_resp_header(&resp, "ETag")) < (int)sizeof(etag));
	web_response_clear(&resp);
	CHECK(etag[0] == '"' && etag[strlen(etag) - 1] == '"');

	CHECK(t_get("GET", "/static/js/app.js", true, etag, &resp));
	CHECK(resp.status == 304 && resp.body_len == 0);
	CHECK_STREQ(t_resp_header(&resp, "ETag"), etag);
	web_response_clear(&resp);
	/* Weak comparison, lists, "*". */
	snprintf(weak, sizeof(weak), "W/%s", etag);
	snprintf(list, sizeof(list), "\"other\", W/\"x\",%s , \"y\"", etag);
	match[0] = weak;
	match[1] = list;
	match[2] = "*";
	for (size_t i = 0; i < 3; i++) {
		CHECK(t_get("GET", "/static/js/app.js", true, match[i], &resp));
		CHECK_MSG(resp.status == 304, "%s", match[i]);
		web_response_clear(&resp);
	}
	/* No match, or not well-formed: the file. */
	for (size_t i = 0; i < sizeof(miss) / sizeof(miss[0]); i++) {
		CHECK(t_get("GET", "/static/js/app.js", true, miss[i], &resp));
		CHECK_MSG(resp.status == 200 && resp.body_len > 0, "%s",
		    miss[i]);
		web_response_clear(&resp);
	}
	/* Another file's tag does not match. */
	CHECK(t_get("GET", "/", true, etag, &resp));
	CHECK(resp.status == 200);
	web_response_clear(&resp);
}

static void
test_table(void)
{
	/* Sorted by name, as assets.c's binary search wants. */
	for (size_t i = 1; i < web_assets_count; i++)
		CHECK_MSG(strcmp(web_assets[i - 1].name, web_assets[i].name) <
		    0, "%s, %s", web_assets[i - 1].name, web_assets[i].name);
	for (size_t i = 0; i < web_assets_count; i++)
		CHECK(web_assets[i].data[web_assets[i].len] == '\0');
}

int
main(void)
{
	test_paths();
	test_headers();
	test_etags();
	test_table();
	return t_done("assets");
}
