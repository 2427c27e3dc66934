/*
 * smtp.h: the SMTP server (RFC 5321) for MX on port 25. Sessions live on
 * net/ connections; recipient lookups and deliveries run as jobs on the
 * worker pool.
 */
#ifndef FACTEUR_SMTP_H
#define FACTEUR_SMTP_H

#include "lib/config.h"
#include "net/net.h"

/* Shared by every session of one listener (conn_listener_arg). */
struct smtp_server {
	const struct config *cfg;
	const char *service;	/* "smtp", "submission", "submissions" */
	bool submission;	/* RFC 6409: AUTH required, sender checked */
};

extern const struct conn_ops smtp_conn_ops;

#endif
