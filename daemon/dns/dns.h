/*
 * dns.h: the resolver for outbound delivery (MX, A/AAAA) through
 * libunbound. Blocking calls, for the queue's delivery threads; each
 * thread uses its own context (dns_ctx_new).
 *
 * The resolver to ask is configurable (e.g. a test DNS server on
 * 127.0.0.1:5353); by default the system's (/etc/resolv.conf). Only this
 * module includes unbound.h.
 */
#ifndef FACTEUR_DNS_H
#define FACTEUR_DNS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

struct dns_ctx;

/* resolver: "" for the system's resolv.conf, else "IP" or "IP@PORT"
 * (unbound's forward syntax). NULL and *error_r on failure. */
struct dns_ctx *dns_ctx_new(const char *resolver, const char **error_r);
void dns_ctx_free(struct dns_ctx **ctx);

#define DNS_MAX_TARGETS 32
#define DNS_NAME_MAX 255

struct dns_target {
	char host[DNS_NAME_MAX + 1];	/* the exchange's name */
	unsigned preference;
	int family;			/* AF_INET or AF_INET6 */
	unsigned char addr[16];		/* network order */
	char addr_text[64];		/* "192.0.2.1", "2001:db8::1" */
};

enum dns_result {
	DNS_OK = 0,		/* targets[] filled, in delivery order */
	DNS_TEMPFAIL = -1,	/* SERVFAIL, timeout: try again later */
	DNS_NXDOMAIN = -2,	/* the domain does not exist: permanent */
	DNS_NULL_MX = -3,	/* RFC 7505: the domain accepts no mail */
	DNS_NO_ADDRESS = -4,	/* no MX and no A/AAAA: permanent */
};

/*
 * The addresses to deliver mail for domain to, RFC 5321 5.1: the MX
 * records in preference order (random among equal preferences), each
 * exchange's AAAA and A addresses; without MX records, the domain's own
 * AAAA and A (implicit MX). An MX set of exactly one "." record is a null
 * MX. At most DNS_MAX_TARGETS targets. *error_r explains failures.
 */
enum dns_result dns_mail_targets(struct dns_ctx *ctx, const char *domain,
    struct dns_target *targets, unsigned *count_r, const char **error_r);

/* For unit tests: the pure parts of dns_mail_targets. */

struct dns_mx {
	unsigned preference;
	char host[DNS_NAME_MAX + 1];	/* lower case, no final dot; "." is
					 * the root (a null MX's exchange) */
};

/*
 * Parses MX rdata as libunbound returns it (RFC 1035 3.3.9: a 16-bit
 * preference, then the exchange as an uncompressed wire-format name).
 * Returns 0, or -1 and *error_r when the rdata is malformed or the name
 * is not a host name (letters, digits, '-' and '_' only).
 */
int dns_mx_parse(const unsigned char *rdata, size_t len, struct dns_mx *mx_r,
    const char **error_r);

/* Sorts by preference, in random order among equal preferences
 * (RFC 5321 5.1). */
void dns_mx_sort(struct dns_mx *mx, size_t count);

/* True for an RFC 7505 null MX: exactly one record, preference 0,
 * exchange ".". */
bool dns_mx_is_null(const struct dns_mx *mx, size_t count);

#endif
