/*
 * pop3.h: the POP3 server (RFC 1939, CAPA and RESP-CODES RFC 2449, STLS
 * RFC 2595, AUTH RFC 5034, AUTH-RESP-CODE RFC 3206) on 110 (STLS) and
 * 995 (implicit TLS). The maildrop is the mailbox's INBOX through
 * store/mailbox.h; UIDL values come from the index's UIDs.
 */
#ifndef FACTEUR_POP3_H
#define FACTEUR_POP3_H

#include "lib/config.h"
#include "net/net.h"

/* RFC 1939 3: the autologout timer is at least 10 minutes. */
#define POP3_IDLE_TIMEOUT 600

struct pop3_server {
	const struct config *cfg;
};

extern const struct conn_ops pop3_conn_ops;

#endif
