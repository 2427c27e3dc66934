/* assets.c: being written (see web.h); answers nothing yet. */
#include "webadmin/web.h"

bool
assets_handle(const struct web_request *rq, struct web_response *resp)
{
	return false;
}
