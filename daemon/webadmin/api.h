/*
 * api.h: the admin JSON API over HTTPS (libmicrohttpd with GnuTLS), on
 * the `https` listener. Routes and handlers are in routes.c.
 *
 * Start-up is in two steps because the port may be privileged: api_bind
 * (as root, before privileges are dropped) opens the listening socket
 * and reads the certificate and key; api_start (after the database is
 * ready) starts libmicrohttpd's threads, which each use their own
 * database connection (db_thread_get). api_stop stops them and closes
 * the socket.
 */
#ifndef FACTEUR_WEBADMIN_API_H
#define FACTEUR_WEBADMIN_API_H

#include "lib/config.h"

struct api_server;

/* Request bodies larger than this get 413. */
#define API_BODY_MAX (1024 * 1024)

/* NULL srv_r when the listener is disabled. 0, or -1 and a malloc'ed
 * *error_r. */
int api_bind(const struct config *cfg, struct api_server **srv_r,
    char **error_r);
int api_start(struct api_server *srv, char **error_r);
void api_stop(struct api_server **srv);

#endif
