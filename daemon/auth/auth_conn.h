/*
 * auth_conn.h: authentication for a protocol session: auth_run on a
 * worker thread, the failure delay waited out on the connection's loop
 * (no thread sleeps), then the protocol's callback. Shared by SMTP AUTH,
 * POP3 and IMAP.
 */
#ifndef FACTEUR_AUTH_CONN_H
#define FACTEUR_AUTH_CONN_H

#include "auth/auth.h"
#include "lib/config.h"
#include "net/net.h"

/* Takes ownership of req (malloc'ed); done(c, req) runs on the loop
 * thread, with conn_is_closing(c) true if the client left, and frees req
 * with free(). */
void auth_conn_start(struct conn *c, struct auth_request *req,
    void (*done)(struct conn *c, struct auth_request *req));

/* May credentials be sent on this connection now? Over TLS, or from a
 * network in plaintext_auth_networks (RFC 2595 2.2, RFC 4954 4). */
bool auth_conn_secure(const struct config *cfg, const struct conn *c);

#endif
