/*
 * dnsrecords.h: what a hosted domain publishes in the DNS, and the one
 * model of the mail services clients use (host, public ports, TLS
 * modes), shared by the API's client setup and Apple profiles, its
 * DNS records, the autoconfiguration (webadmin/autoconfig.c) and the
 * coming panel. Depends on lib/ and, for the DKIM key,
 * smtp/dkim.c.
 */
#ifndef FACTEUR_DNSRECORDS_H
#define FACTEUR_DNSRECORDS_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/config.h"

/* One way for a mail client to reach the server. */
struct mail_endpoint {
	const char *protocol;	/* "imap", "pop3", "smtp" */
	enum config_service svc;
	const char *security;	/* "ssl/tls" or "starttls" */
	bool implicit_tls;	/* "ssl/tls": TLS from the first byte */
	const char *srv;	/* RFC 6186 / RFC 8314 service label */
	bool incoming;
	bool offered;		/* implemented and enabled here */
	unsigned port;		/* the public port */
	unsigned srv_priority;	/* implicit TLS preferred (RFC 8314 5.1) */
};

#define MAIL_ENDPOINTS 6

/* Every endpoint, implicit TLS first within each protocol: submissions,
 * submission, imaps, imap, pop3s, pop3. Returns the count. */
unsigned mail_endpoints(const struct config *cfg,
    struct mail_endpoint out[MAIL_ENDPOINTS]);

/*
 * The preferred endpoint of a protocol ("imap", "pop3", "smtp"): the
 * first offered one in the order above, so implicit TLS when its
 * listener is enabled, else STARTTLS; NULL when none is offered. The
 * formats that carry one endpoint per protocol (Autodiscover, Apple
 * profiles) carry this one.
 */
const struct mail_endpoint *mail_endpoint_preferred(
    const struct mail_endpoint ep[MAIL_ENDPOINTS], const char *protocol);

/* "https://HOSTNAME" with ":PORT" when the public https port is not 443:
 * where clients reach the web side (autoconfig, API). */
void mail_https_base(const struct config *cfg, char *out, size_t outsize);

/* A UUID (8-4-4-4-12 upper-case hex digits) derived from the SHA-256 of
 * seed, with the RFC 9562 version 8 and variant bits: stable identifiers
 * for the configuration documents, so that a profile installed again
 * replaces the old one. out has 37 bytes. */
void mail_uuid(const char *seed, char out[37]);

/* A TXT value is published as strings of at most this many octets
 * (RFC 1035 3.3.14). */
#define DNS_TXT_CHUNK 255

struct dns_record {
	char name[300];		/* owner, absolute, with the final dot */
	const char *type;	/* "MX", "TXT", "CNAME", "SRV" */
	unsigned ttl;
	const char *purpose;	/* "mx", "spf", "dkim", "dmarc", ... */
	/* MX: priority and target; SRV: priority, weight, port, target
	 * ("." when the service is not offered, RFC 6186 3.4); CNAME:
	 * target; TXT: text (malloc'ed). */
	unsigned priority, weight, port;
	char target[300];
	char *text;
};

/*
 * The records for domain (A-label): MX to the public host name, SPF,
 * DKIM (when the domain's key exists or can be made; else *warning_r
 * says why it is missing), DMARC, autoconfig and autodiscover CNAMEs,
 * the _autodiscover._tcp SRV record (Outlook), and an SRV record per
 * mail endpoint. *recs_r is malloc'ed; free with
 * dns_records_free.
 */
void dns_records_build(const struct config *cfg, const char *domain,
    struct dns_record **recs_r, size_t *n_r, const char **warning_r);
void dns_records_free(struct dns_record *recs, size_t n);

/* The records as zone-file lines (TXT split in strings), malloc'ed. */
char *dns_records_zone(const struct dns_record *recs, size_t n);

#endif
