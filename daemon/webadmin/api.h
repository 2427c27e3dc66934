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

/*
 * SIGHUP: reads the certificate and key again and, when they are good,
 * starts a new libmicrohttpd server with them on the same listening
 * socket (a dup); the old one is quiesced (accepts nothing more, its
 * connections finish) and stopped at the next reload or at api_stop.
 * libmicrohttpd cannot change the certificate of a running server.
 * srv (void *) may be NULL. On the main loop's thread.
 */
void api_reload(void *srv);

/*
 * The `http` listener: every request gets 301 to the same path on
 * https://HOSTNAME[:PORT] (the public https port; omitted when 443; the
 * query string is dropped). Same two steps as above; NULL *r_r when the
 * http or the https listener is disabled.
 */
struct api_redirect;
int api_redirect_bind(const struct config *cfg, struct api_redirect **r_r,
    char **error_r);
int api_redirect_start(struct api_redirect *r, const struct config *cfg,
    char **error_r);
void api_redirect_stop(struct api_redirect **r);

#endif
