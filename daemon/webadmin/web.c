/*
 * web.c: the requests outside /api, handed to the autoconfiguration and
 * then to the panel's assets (see web.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/util.h"
#include "webadmin/web.h"

void
web_header(struct web_response *resp, const char *name, const char *value)
{
	if (resp->nheaders == WEB_MAX_HEADERS)
		fatal("web: too many response headers");
	resp->headers[resp->nheaders].name = name;
	resp->headers[resp->nheaders].value = xstrdup(value);
	resp->nheaders++;
}

void
web_response_clear(struct web_response *resp)
{
	for (size_t i = 0; i < resp->nheaders; i++)
		free(resp->headers[i].value);
	free(resp->body);
	memset(resp, 0, sizeof(*resp));
}

bool
web_handle(const struct web_request *rq, struct web_response *resp)
{
	memset(resp, 0, sizeof(*resp));
	resp->status = 200;
	return autoconfig_handle(rq, resp) || assets_handle(rq, resp);
}
