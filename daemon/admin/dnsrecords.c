/*
 * dnsrecords.c: the DNS records of a hosted domain and the mail
 * endpoints model (see dnsrecords.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin/dnsrecords.h"
#include "admin/service.h"
#include "lib/buf.h"
#include "lib/util.h"
#include "smtp/dkim.h"

#define DNS_TTL 3600

static const struct {
	const char *protocol;
	enum config_service svc;
	const char *security;
	const char *srv;
	bool incoming;
	unsigned srv_priority;
} mail_endpoint_defs[MAIL_ENDPOINTS] = {
	/* RFC 8314 5.1: implicit TLS gets the lower (preferred) value. */
	{ "smtp", SVC_SUBMISSIONS, "ssl/tls", "_submissions._tcp", false, 0 },
	{ "smtp", SVC_SUBMISSION, "starttls", "_submission._tcp", false, 10 },
	{ "imap", SVC_IMAPS, "ssl/tls", "_imaps._tcp", true, 0 },
	{ "imap", SVC_IMAP, "starttls", "_imap._tcp", true, 10 },
	{ "pop3", SVC_POP3S, "ssl/tls", "_pop3s._tcp", true, 20 },
	{ "pop3", SVC_POP3, "starttls", "_pop3._tcp", true, 30 },
};

unsigned
mail_endpoints(const struct config *cfg,
    struct mail_endpoint out[MAIL_ENDPOINTS])
{
	for (unsigned i = 0; i < MAIL_ENDPOINTS; i++) {
		struct mail_endpoint *e = &out[i];

		e->protocol = mail_endpoint_defs[i].protocol;
		e->svc = mail_endpoint_defs[i].svc;
		e->security = mail_endpoint_defs[i].security;
		e->implicit_tls = cfg->listeners[e->svc].implicit_tls;
		e->srv = mail_endpoint_defs[i].srv;
		e->incoming = mail_endpoint_defs[i].incoming;
		e->srv_priority = mail_endpoint_defs[i].srv_priority;
		e->port = config_public_port(cfg, e->svc);
		e->offered = cfg->listeners[e->svc].enabled;
	}
	return MAIL_ENDPOINTS;
}

const struct mail_endpoint *
mail_endpoint_preferred(const struct mail_endpoint ep[MAIL_ENDPOINTS],
    const char *protocol)
{
	for (unsigned i = 0; i < MAIL_ENDPOINTS; i++) {
		if (ep[i].offered && strcmp(ep[i].protocol, protocol) == 0)
			return &ep[i];
	}
	return NULL;
}

void
mail_https_base(const struct config *cfg, char *out, size_t outsize)
{
	unsigned port = config_public_port(cfg, SVC_HTTPS);

	if (port == 443)
		str_printf(out, outsize, "https://%s", cfg->hostname);
	else
		str_printf(out, outsize, "https://%s:%u", cfg->hostname, port);
}

void
mail_uuid(const char *seed, char out[37])
{
	static const char digits[] = "0123456789ABCDEF";
	char hex[65];
	size_t o = 0;

	if (service_token_hash(seed, strlen(seed), hex) < 0)
		memset(hex, '0', 64);
	for (unsigned i = 0; i < 32; i++) {
		unsigned v = (unsigned)(hex[i] <= '9' ? hex[i] - '0' :
		    hex[i] - 'a' + 10);

		if (i == 12)
			v = 8;			/* version */
		else if (i == 16)
			v = 8 | (v & 3);	/* variant 10xx */
		if (i == 8 || i == 12 || i == 16 || i == 20)
			out[o++] = '-';
		out[o++] = digits[v];
	}
	out[o] = '\0';
}

static struct dns_record *
dns_add(struct dns_record **recs, size_t *n, const char *purpose,
    const char *type, const char *prefix, const char *domain)
{
	struct dns_record *r;

	*recs = xrealloc(*recs, (*n + 1) * sizeof(**recs));
	r = &(*recs)[(*n)++];
	memset(r, 0, sizeof(*r));
	r->purpose = purpose;
	r->type = type;
	r->ttl = DNS_TTL;
	str_printf(r->name, sizeof(r->name), "%s%s%s.", prefix,
	    prefix[0] != '\0' ? "." : "", domain);
	return r;
}

void
dns_records_build(const struct config *cfg, const char *domain,
    struct dns_record **recs_r, size_t *n_r, const char **warning_r)
{
	struct mail_endpoint ep[MAIL_ENDPOINTS];
	struct service_error err = { 0 };
	struct dns_record *recs = NULL, *r;
	char host[300], path[4096], prefix[128];
	const char *error;
	size_t n = 0;
	char *dkim;

	*warning_r = NULL;
	str_printf(host, sizeof(host), "%s.", cfg->hostname);
	r = dns_add(&recs, &n, "mx", "MX", "", domain);
	r->priority = 10;
	str_lcpy(r->target, host, sizeof(r->target));
	/* Mail leaves from the MX host: "mx" covers it (RFC 7208 5.4). */
	r = dns_add(&recs, &n, "spf", "TXT", "", domain);
	r->text = xstrdup("v=spf1 mx -all");
	dkim = NULL;
	if (service_domain_dkim(cfg, domain, path, sizeof(path), &err) !=
	    DB_OK)
		*warning_r = "no DKIM key for this domain";
	else if ((dkim = dkim_txt_record(path, &error)) == NULL)
		*warning_r = error;
	if (dkim != NULL) {
		str_printf(prefix, sizeof(prefix), "%s._domainkey",
		    cfg->dkim_selector);
		r = dns_add(&recs, &n, "dkim", "TXT", prefix, domain);
		r->text = dkim;
	}
	r = dns_add(&recs, &n, "dmarc", "TXT", "_dmarc", domain);
	r->text = xasprintf("v=DMARC1; p=quarantine; rua=mailto:postmaster@%s",
	    domain);
	/* Client autoconfiguration (Thunderbird) and autodiscover
	 * (Outlook) are served on the https listener of the host. */
	r = dns_add(&recs, &n, "autoconfig", "CNAME", "autoconfig", domain);
	str_lcpy(r->target, host, sizeof(r->target));
	r = dns_add(&recs, &n, "autodiscover", "CNAME", "autodiscover",
	    domain);
	str_lcpy(r->target, host, sizeof(r->target));
	/* Outlook's next try when autodiscover.DOMAIN does not answer
	 * (MS-OXDISCO 3.1.5.1): the https listener, on the host's name. */
	r = dns_add(&recs, &n, "autodiscover", "SRV", "_autodiscover._tcp",
	    domain);
	if (cfg->listeners[SVC_HTTPS].enabled) {
		r->weight = 1;
		r->port = config_public_port(cfg, SVC_HTTPS);
		str_lcpy(r->target, host, sizeof(r->target));
	} else {
		str_lcpy(r->target, ".", sizeof(r->target));
	}
	mail_endpoints(cfg, ep);
	for (unsigned i = 0; i < MAIL_ENDPOINTS; i++) {
		r = dns_add(&recs, &n, "srv", "SRV", ep[i].srv, domain);
		if (ep[i].offered) {
			r->priority = ep[i].srv_priority;
			r->weight = 1;
			r->port = ep[i].port;
			str_lcpy(r->target, host, sizeof(r->target));
		} else {
			/* RFC 6186 3.4: "." says "not offered here". */
			str_lcpy(r->target, ".", sizeof(r->target));
		}
	}
	*recs_r = recs;
	*n_r = n;
}

void
dns_records_free(struct dns_record *recs, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(recs[i].text);
	free(recs);
}

char *
dns_records_zone(const struct dns_record *recs, size_t n)
{
	struct buf b;
	char line[1024];

	buf_init(&b);
	for (size_t i = 0; i < n; i++) {
		const struct dns_record *r = &recs[i];

		str_printf(line, sizeof(line), "%s\t%u\tIN\t%s\t", r->name,
		    r->ttl, r->type);
		buf_append(&b, line, strlen(line));
		if (strcmp(r->type, "MX") == 0)
			str_printf(line, sizeof(line), "%u %s", r->priority,
			    r->target);
		else if (strcmp(r->type, "SRV") == 0)
			str_printf(line, sizeof(line), "%u %u %u %s",
			    r->priority, r->weight, r->port, r->target);
		else if (strcmp(r->type, "CNAME") == 0)
			str_lcpy(line, r->target, sizeof(line));
		else
			line[0] = '\0';
		buf_append(&b, line, strlen(line));
		if (r->text != NULL) {
			size_t len = strlen(r->text);

			if (len > DNS_TXT_CHUNK)
				buf_append(&b, "( ", 2);
			for (size_t o = 0; o < len; o += DNS_TXT_CHUNK) {
				size_t k = len - o < DNS_TXT_CHUNK ? len - o :
				    DNS_TXT_CHUNK;

				if (o > 0)
					buf_append(&b, " ", 1);
				buf_append(&b, "\"", 1);
				buf_append(&b, r->text + o, k);
				buf_append(&b, "\"", 1);
			}
			if (len > DNS_TXT_CHUNK)
				buf_append(&b, " )", 2);
		}
		buf_append(&b, "\n", 1);
	}
	{
		char *out = xstrdup(b.data != NULL ? b.data : "");

		buf_deinit(&b);
		return out;
	}
}
