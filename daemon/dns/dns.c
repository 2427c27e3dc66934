/*
 * dns.c: MX and address lookups for outbound delivery through libunbound
 * (RFC 5321 5.1, RFC 7505). Blocking; one context per delivery thread.
 *
 * DNSSEC is not validated yet: no trust anchor is loaded, so libunbound's
 * validator passes every answer through as insecure.
 */
#include <sys/random.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <unbound.h>

#include "dns.h"
#include "lib/util.h"

/* RFC 1035 3.2.2 and 3.2.4. */
#define DNS_TYPE_A	1
#define DNS_TYPE_MX	15
#define DNS_TYPE_AAAA	28
#define DNS_CLASS_IN	1

/* RFC 1035 4.1.1. */
#define DNS_RCODE_NOERROR	0
#define DNS_RCODE_SERVFAIL	2

/* RFC 1035 2.3.4. */
#define DNS_LABEL_MAX	63
#define DNS_WIRE_MAX	255
/* The longest name in text form without the final dot. */
#define DNS_TEXT_MAX	253

struct dns_ctx {
	struct ub_ctx *ub;
};

struct dns_ctx *
dns_ctx_new(const char *resolver, const char **error_r)
{
	struct dns_ctx *ctx;
	struct ub_ctx *ub;
	int err;

	ub = ub_ctx_create();
	if (ub == NULL) {
		*error_r = "ub_ctx_create failed";
		return NULL;
	}
	/* A forwarder on 127.0.0.1 (a test server, a local unbound or
	 * systemd-resolved from resolv.conf) is refused by default. */
	err = ub_ctx_set_option(ub, "do-not-query-localhost:", "no");
	if (err == 0 && (resolver == NULL || resolver[0] == '\0')) {
		err = ub_ctx_resolvconf(ub, NULL);
	} else if (err == 0) {
		/* unbound answers NXDOMAIN for test. itself (RFC 6761 6.2
		 * default local zone); a configured resolver is the
		 * operator's choice, typically a test server serving it.
		 * An empty transparent zone passes queries on ("nodefault"
		 * through ub_ctx_set_option has no effect in 1.17). */
		err = ub_ctx_set_option(ub, "local-zone:",
		    "test. transparent");
		if (err == 0)
			err = ub_ctx_set_fwd(ub, resolver);
	}
	if (err != 0) {
		/* resolvconf returns errno values, the rest ub_ctx_err. */
		*error_r = err < 0 ? ub_strerror(err) :
		    "cannot read /etc/resolv.conf";
		ub_ctx_delete(ub);
		return NULL;
	}
	ctx = xcalloc(1, sizeof(*ctx));
	ctx->ub = ub;
	return ctx;
}

void
dns_ctx_free(struct dns_ctx **ctx)
{
	if (*ctx == NULL)
		return;
	ub_ctx_delete((*ctx)->ub);
	xfree(*ctx);
}

/* RFC 1035 3.1: a name is labels of 1..63 octets, each after its length
 * byte, ending with the empty root label; 255 octets in all. Exchanges
 * must be host names (RFC 5321 2.3.5), so only letters, digits and '-'
 * are accepted, and '_' seen in the wild; this also keeps '.' and
 * control bytes out of the text form. */
static int
dns_name_from_wire(const unsigned char *p, size_t len, size_t *used_r,
    char *out, size_t out_size, const char **error_r)
{
	size_t pos = 0, olen = 0;
	unsigned char lab, c;
	size_t i;

	for (;;) {
		if (pos >= len) {
			*error_r = "truncated name";
			return -1;
		}
		lab = p[pos++];
		if (lab == 0)
			break;
		if (lab > DNS_LABEL_MAX) {
			/* Also compression pointers (top bits 11), which
			 * unbound never leaves in rdata. */
			*error_r = "bad label length";
			return -1;
		}
		if (lab > len - pos) {
			*error_r = "truncated label";
			return -1;
		}
		if (pos + lab + 1 > DNS_WIRE_MAX) {
			*error_r = "name longer than 255 octets";
			return -1;
		}
		if (olen + 1 + lab >= out_size) {
			*error_r = "name too long";
			return -1;
		}
		if (olen > 0)
			out[olen++] = '.';
		for (i = 0; i < lab; i++) {
			c = p[pos + i];
			if (c >= 'A' && c <= 'Z')
				c = (unsigned char)(c - 'A' + 'a');
			else if (!((c >= 'a' && c <= 'z') ||
			    (c >= '0' && c <= '9') || c == '-' || c == '_')) {
				*error_r = "name is not a host name";
				return -1;
			}
			out[olen++] = (char)c;
		}
		pos += lab;
	}
	if (out_size < 2) {
		*error_r = "name too long";
		return -1;
	}
	if (olen == 0)
		out[olen++] = '.';
	out[olen] = '\0';
	*used_r = pos;
	return 0;
}

int
dns_mx_parse(const unsigned char *rdata, size_t len, struct dns_mx *mx_r,
    const char **error_r)
{
	char name[DNS_TEXT_MAX + 2];
	size_t used;

	/* RFC 1035 3.3.9: PREFERENCE (16 bits), EXCHANGE. */
	if (len < 3) {
		*error_r = "MX rdata too short";
		return -1;
	}
	if (dns_name_from_wire(rdata + 2, len - 2, &used, name, sizeof(name),
	    error_r) < 0)
		return -1;
	if (used != len - 2) {
		*error_r = "trailing bytes in MX rdata";
		return -1;
	}
	mx_r->preference = ((unsigned)rdata[0] << 8) | rdata[1];
	str_lcpy(mx_r->host, name, sizeof(mx_r->host));
	return 0;
}

static uint32_t
dns_random_u32(void)
{
	uint32_t r = 0;

	/* Order among equal preferences is load spreading, not security:
	 * without entropy the records keep the server's order. */
	if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != (ssize_t)sizeof(r))
		r = 0;
	return r;
}

static int
dns_mx_cmp(const void *a, const void *b)
{
	const struct dns_mx *x = a, *y = b;

	if (x->preference != y->preference)
		return x->preference < y->preference ? -1 : 1;
	return 0;
}

static void
dns_mx_swap(struct dns_mx *a, struct dns_mx *b)
{
	struct dns_mx t;

	t = *a;
	*a = *b;
	*b = t;
}

void
dns_mx_sort(struct dns_mx *mx, size_t count)
{
	size_t start, end, i, j;

	if (count < 2)
		return;
	qsort(mx, count, sizeof(*mx), dns_mx_cmp);
	/* RFC 5321 5.1: equal preferences in random order; Fisher-Yates
	 * within each group. */
	for (start = 0; start < count; start = end) {
		end = start + 1;
		while (end < count &&
		    mx[end].preference == mx[start].preference)
			end++;
		for (i = end - start - 1; i > 0; i--) {
			j = dns_random_u32() % (i + 1);
			if (j != i)
				dns_mx_swap(&mx[start + i], &mx[start + j]);
		}
	}
}

bool
dns_mx_is_null(const struct dns_mx *mx, size_t count)
{
	return count == 1 && mx[0].preference == 0 &&
	    strcmp(mx[0].host, ".") == 0;
}

/* A domain we can ask about: 1..253 octets, labels of 1..63, an optional
 * final dot. Anything else would be a UB_SYNTAX error, which is
 * permanent, not a resolver failure. */
static bool
dns_domain_valid(const char *domain)
{
	size_t len, lab = 0, i;

	len = strlen(domain);
	if (len > 0 && domain[len - 1] == '.')
		len--;
	if (len == 0 || len > DNS_TEXT_MAX)
		return false;
	for (i = 0; i < len; i++) {
		if (domain[i] == '.') {
			if (lab == 0)
				return false;
			lab = 0;
		} else if (++lab > DNS_LABEL_MAX)
			return false;
	}
	return lab > 0;
}

/* One query. DNS_OK with *result_r (which may hold no data) to free with
 * ub_resolve_free; DNS_NXDOMAIN; DNS_TEMPFAIL for SERVFAIL, other rcodes,
 * timeouts and local errors. */
static enum dns_result
dns_query(struct dns_ctx *ctx, const char *name, int type,
    struct ub_result **result_r, const char **error_r)
{
	struct ub_result *result = NULL;
	int err;

	err = ub_resolve(ctx->ub, name, type, DNS_CLASS_IN, &result);
	if (err != 0) {
		*error_r = ub_strerror(err);
		return DNS_TEMPFAIL;
	}
	if (result->nxdomain) {
		ub_resolve_free(result);
		*error_r = "domain does not exist (NXDOMAIN)";
		return DNS_NXDOMAIN;
	}
	if (result->rcode != DNS_RCODE_NOERROR || result->bogus) {
		*error_r = result->rcode == DNS_RCODE_SERVFAIL ?
		    "DNS server failure (SERVFAIL)" : "DNS error";
		ub_resolve_free(result);
		return DNS_TEMPFAIL;
	}
	*result_r = result;
	return DNS_OK;
}

/* Appends host's addresses of one family. DNS_OK (possibly adding none),
 * DNS_TEMPFAIL. A name that vanished (NXDOMAIN) simply has none. */
static enum dns_result
dns_targets_add_family(struct dns_ctx *ctx, const char *host,
    unsigned preference, int family, struct dns_target *targets,
    unsigned *count, const char **error_r)
{
	struct ub_result *result;
	struct dns_target *t;
	enum dns_result r;
	size_t alen;
	int i;

	r = dns_query(ctx, host, family == AF_INET6 ? DNS_TYPE_AAAA :
	    DNS_TYPE_A, &result, error_r);
	if (r == DNS_NXDOMAIN)
		return DNS_OK;
	if (r != DNS_OK)
		return r;
	alen = family == AF_INET6 ? 16 : 4;
	for (i = 0; result->havedata && result->data[i] != NULL &&
	    *count < DNS_MAX_TARGETS; i++) {
		if (result->len[i] < 0 || (size_t)result->len[i] != alen)
			continue;
		t = &targets[*count];
		memset(t, 0, sizeof(*t));
		str_lcpy(t->host, host, sizeof(t->host));
		t->preference = preference;
		t->family = family;
		memcpy(t->addr, result->data[i], alen);
		if (inet_ntop(family, t->addr, t->addr_text,
		    sizeof(t->addr_text)) == NULL)
			continue;
		(*count)++;
	}
	ub_resolve_free(result);
	return DNS_OK;
}

/*
 * Appends host's addresses: A before AAAA. Large receivers hold IPv6
 * senders to stricter rules (PTR, SPF/DKIM alignment) and answer 5xx,
 * which ends the delivery instead of moving on to the next address, and
 * many hosts have IPv6 routes that only time out; IPv4 first is the safer
 * default until there is a configuration knob.
 * DNS_OK when at least one was added, DNS_TEMPFAIL when none was and a
 * query failed temporarily, else DNS_NO_ADDRESS.
 */
static enum dns_result
dns_targets_add_host(struct dns_ctx *ctx, const char *host,
    unsigned preference, struct dns_target *targets, unsigned *count,
    const char **error_r)
{
	static const int families[] = { AF_INET, AF_INET6 };
	unsigned before = *count;
	bool tempfail = false;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(families) && *count < DNS_MAX_TARGETS;
	    i++) {
		if (dns_targets_add_family(ctx, host, preference, families[i],
		    targets, count, error_r) == DNS_TEMPFAIL)
			tempfail = true;
	}
	if (*count > before)
		return DNS_OK;
	if (tempfail)
		return DNS_TEMPFAIL;
	*error_r = "no address for the mail exchange";
	return DNS_NO_ADDRESS;
}

/* RFC 5321 5.1: without MX records the domain is its own exchange. */
static enum dns_result
dns_targets_implicit(struct dns_ctx *ctx, const char *domain,
    struct dns_target *targets, unsigned *count_r, const char **error_r)
{
	char host[DNS_NAME_MAX + 1];
	enum dns_result r;
	size_t len;

	len = str_lcpy(host, domain, sizeof(host));
	if (len > 0 && host[len - 1] == '.')
		host[len - 1] = '\0';
	str_lower(host);
	r = dns_targets_add_host(ctx, host, 0, targets, count_r, error_r);
	if (r == DNS_NO_ADDRESS)
		*error_r = "no MX and no address record";
	return r;
}

enum dns_result
dns_mail_targets(struct dns_ctx *ctx, const char *domain,
    struct dns_target *targets, unsigned *count_r, const char **error_r)
{
	struct ub_result *result;
	struct dns_mx *mx;
	enum dns_result r;
	size_t n = 0, nvalid = 0, i;
	bool tempfail = false, skipped = false;
	const char *mx_error = NULL;

	*count_r = 0;
	if (!dns_domain_valid(domain)) {
		*error_r = "invalid domain name";
		return DNS_NO_ADDRESS;
	}
	r = dns_query(ctx, domain, DNS_TYPE_MX, &result, error_r);
	if (r != DNS_OK)
		return r;
	if (!result->havedata) {
		ub_resolve_free(result);
		return dns_targets_implicit(ctx, domain, targets, count_r,
		    error_r);
	}

	while (result->data[n] != NULL)
		n++;
	mx = xcalloc(n, sizeof(*mx));
	for (i = 0; i < n; i++) {
		/* A malformed record is skipped, not fatal to the set. */
		if (result->len[i] < 0 ||
		    dns_mx_parse((const unsigned char *)result->data[i],
		    (size_t)result->len[i], &mx[nvalid], &mx_error) < 0)
			skipped = true;
		else
			nvalid++;
	}
	ub_resolve_free(result);

	if (!skipped && dns_mx_is_null(mx, nvalid)) {
		free(mx);
		*error_r = "domain accepts no mail (null MX)";
		return DNS_NULL_MX;
	}
	dns_mx_sort(mx, nvalid);
	for (i = 0; i < nvalid && *count_r < DNS_MAX_TARGETS; i++) {
		/* RFC 7505 3: "." has no address, even among other MX. */
		if (strcmp(mx[i].host, ".") == 0)
			continue;
		if (dns_targets_add_host(ctx, mx[i].host, mx[i].preference,
		    targets, count_r, error_r) == DNS_TEMPFAIL)
			tempfail = true;
	}
	free(mx);
	if (*count_r > 0)
		return DNS_OK;
	/* An exchange that failed temporarily may yet have an address. */
	if (tempfail) {
		*error_r = "no mail exchange could be resolved";
		return DNS_TEMPFAIL;
	}
	*error_r = mx_error != NULL && nvalid == 0 ?
	    "no usable MX record" : "no mail exchange has an address";
	return DNS_NO_ADDRESS;
}
