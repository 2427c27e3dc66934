/*
 * imap.h: the IMAP4rev1 server (RFC 3501) on 143 (STARTTLS) and 993
 * (implicit TLS), with LITERAL+ (RFC 7888), SASL-IR (RFC 4959), UIDPLUS
 * (RFC 4315), MOVE (RFC 6851), UNSELECT (RFC 3691), NAMESPACE (RFC
 * 2342), ID (RFC 2971), CHILDREN (RFC 3348), SPECIAL-USE (RFC 6154) and
 * IDLE (RFC 2177), over the store of store/mailbox.h.
 */
#ifndef FACTEUR_IMAP_H
#define FACTEUR_IMAP_H

#include "lib/config.h"
#include "net/net.h"

/* RFC 3501 5.4: an autologout timer is at least 30 minutes. */
#define IMAP_IDLE_TIMEOUT 1800

struct imap_server {
	const struct config *cfg;
};

extern const struct conn_ops imap_conn_ops;

#endif
