#include <stdlib.h>

#include "auth/auth_conn.h"

struct auth_conn {
	struct auth_request *req;
	void (*done)(struct conn *c, struct auth_request *req);
};

static void
auth_conn_work(void *arg)
{
	struct auth_conn *ac = arg;

	auth_run(ac->req);
}

static void
auth_conn_finish(struct conn *c, void *arg)
{
	struct auth_conn *ac = arg;

	ac->done(c, ac->req);
	free(ac);
}

static void
auth_conn_checked(struct conn *c, void *arg)
{
	struct auth_conn *ac = arg;

	if (ac->req->status != AUTH_OK && ac->req->delay_ms > 0 &&
	    !conn_is_closing(c)) {
		conn_timer(c, ac->req->delay_ms, auth_conn_finish, ac);
		return;
	}
	auth_conn_finish(c, ac);
}

bool
auth_conn_secure(const struct config *cfg, const struct conn *c)
{
	return conn_is_tls(c) ||
	    config_net_match(cfg->plaintext_auth_networks,
	    cfg->plaintext_auth_networks_count, conn_peer_sockaddr(c));
}

void
auth_conn_start(struct conn *c, struct auth_request *req,
    void (*done)(struct conn *c, struct auth_request *req))
{
	struct auth_conn *ac = xmalloc(sizeof(*ac));

	ac->req = req;
	ac->done = done;
	conn_job(c, auth_conn_work, auth_conn_checked, ac);
}
