/*
 * autoconfig.c: mail client autoconfiguration (see web.h), generated
 * from the one endpoint model (admin/dnsrecords.h: mail_endpoints), so
 * that every format names the hosts, ports and TLS modes the DNS SRV
 * records and the API's client setup name:
 *
 * - Mozilla autoconfig (Thunderbird, K-9, Evolution, KMail...):
 *   GET /mail/config-v1.1.xml on autoconfig.DOMAIN, and
 *   /.well-known/autoconfig/mail/config-v1.1.xml (and the short-lived
 *   /.well-known/mail-v1.xml) on any host, over HTTPS and HTTP. The
 *   domain is the one of ?emailaddress= when it is an address, else the
 *   Host without its "autoconfig." label; it must be hosted (404). A
 *   mailbox is never looked up: every address of a hosted domain gets
 *   the same document (no enumeration). On the appliance's own host name
 *   (Thunderbird's MX fallback) without an address, a generic document
 *   with %EMAILDOMAIN%.
 * - Microsoft Autodiscover (POX, MS-OXDSCLI): POST
 *   /autodiscover/autodiscover.xml (any case) on HTTPS; a GET on HTTP is
 *   redirected (302) to it on the host name (MS-OXDISCO "HTTP GET
 *   redirect"). One Protocol block per protocol, the preferred endpoint
 *   (implicit TLS when enabled): Outlook reads <Encryption> SSL as
 *   implicit TLS and TLS as STARTTLS, Thunderbird guesses from the port.
 * - Autodiscover v2: GET /autodiscover/autodiscover.json?Email=&Protocol=
 *   (or .../autodiscover.json/v1.0/ADDRESS) points AutodiscoverV1 at the
 *   POX endpoint.
 *
 * Nothing here reads the Authorization header (Thunderbird sends the
 * user's password to Autodiscover) or logs a request body.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <jansson.h>

#include "admin/dnsrecords.h"
#include "admin/service.h"
#include "db/db.h"
#include "lib/addr.h"
#include "lib/buf.h"
#include "lib/log.h"
#include "lib/util.h"
#include "webadmin/web.h"

#define AC_XML_TYPE "text/xml; charset=utf-8"
#define AC_MOZ_METHODS "GET, HEAD, OPTIONS"

/* Autodiscover request bodies beyond this get ErrorCode 600. */
#define AC_POX_MAX 8192
#define AC_XML_DEPTH 16
#define AC_XML_NAME 64

/* Thunderbird's limits (draft-ietf-mailmaint-autoconfig): displayName
 * at most 60 characters, displayShortName at most 20. */
#define AC_DISPLAY_MAX 60
#define AC_SHORT_MAX 20

#define AC_SCHEMA_RESPONSE \
	"http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006"
#define AC_SCHEMA_OUTLOOK "schemas.microsoft.com/exchange/autodiscover/" \
	"outlook/responseschema/2006a"

/* ---- helpers ---- */

static void
ac_text(struct buf *b, const char *s)
{
	buf_append_xml(b, s, strlen(s));
}

/* <tag>value</tag> on its own line, indented. */
static void
ac_elem(struct buf *b, unsigned indent, const char *tag, const char *value)
{
	for (unsigned i = 0; i < indent; i++)
		buf_append(b, "  ", 2);
	buf_printf(b, "<%s>", tag);
	ac_text(b, value);
	buf_printf(b, "</%s>\n", tag);
}

static void
ac_elem_uint(struct buf *b, unsigned indent, const char *tag, unsigned v)
{
	char num[16];

	str_printf(num, sizeof(num), "%u", v);
	ac_elem(b, indent, tag, num);
}

/* Hands the buffer over as the response body. */
static void
ac_body(struct web_response *resp, unsigned status, const char *type,
    struct buf *b)
{
	resp->status = status;
	resp->content_type = type;
	resp->body = b->data != NULL ? b->data : xstrdup("");
	resp->body_len = b->len;
	buf_init(b);
}

static void
ac_plain(struct web_response *resp, unsigned status, const char *text)
{
	resp->status = status;
	resp->content_type = "text/plain; charset=utf-8";
	resp->body = xstrdup(text);
	resp->body_len = strlen(text);
}

static void
ac_not_allowed(struct web_response *resp, const char *allow)
{
	ac_plain(resp, 405, "Method not allowed\n");
	web_header(resp, "Allow", allow);
}

/* The Host header's name, lower-case, without the port; "" for none or
 * an IP literal in brackets. */
static void
ac_host(const char *host, char *out, size_t outsize)
{
	size_t len;

	out[0] = '\0';
	if (host == NULL || host[0] == '[')
		return;
	len = strcspn(host, ":");
	if (len == 0 || len >= outsize)
		return;
	memcpy(out, host, len);
	out[len] = '\0';
	str_lower(out);
}

/*
 * The normalized address of ?emailaddress=, or false. A '+' that a client
 * sent unencoded reads as a space once the query is decoded
 * (mustang-im/mustang #474): a space is tried as '+' then.
 */
static bool
ac_address(const char *raw, char *out, size_t outsize)
{
	struct service_error err = { 0 };
	char alt[ADDR_MAX + 1];

	if (raw == NULL || raw[0] == '\0' || strlen(raw) > ADDR_MAX)
		return false;
	if (service_address_normalize(raw, false, out, outsize, NULL,
	    &err) == DB_OK)
		return true;
	if (strchr(raw, ' ') == NULL)
		return false;
	str_lcpy(alt, raw, sizeof(alt));
	for (char *p = alt; *p != '\0'; p++) {
		if (*p == ' ')
			*p = '+';
	}
	return service_address_normalize(alt, false, out, outsize, NULL,
	    &err) == DB_OK;
}

/* Whether domain is hosted here and enabled: 1, 0, or -1 when the
 * database cannot say. */
static int
ac_domain_hosted(const char *domain)
{
	struct db_domain d;
	struct db *db;
	const char *error = NULL;
	int ret;

	if ((db = db_thread_get(&error)) == NULL) {
		log_error("event=autoconfig_db error=\"%s\"", error);
		return -1;
	}
	ret = db_domain_get(db, domain, &d, &error);
	if (ret == DB_NOT_FOUND)
		return 0;
	if (ret != DB_OK) {
		log_warn("event=autoconfig_db domain=%s error=\"%s\"", domain,
		    error != NULL ? error : "failed");
		return -1;
	}
	return d.enabled ? 1 : 0;
}

/* ---- Mozilla autoconfig ---- */

static void
ac_moz_server(struct buf *b, const struct config *cfg,
    const struct mail_endpoint *e)
{
	const char *el = e->incoming ? "incomingServer" : "outgoingServer";

	buf_printf(b, "    <%s type=\"%s\">\n", el, e->protocol);
	ac_elem(b, 3, "hostname", cfg->hostname);
	ac_elem_uint(b, 3, "port", e->port);
	/* Thunderbird compares these case-sensitively. */
	ac_elem(b, 3, "socketType", e->implicit_tls ? "SSL" : "STARTTLS");
	/* SASL PLAIN and LOGIN over TLS. */
	ac_elem(b, 3, "authentication", "password-cleartext");
	ac_elem(b, 3, "username", "%EMAILADDRESS%");
	if (!e->incoming)
		ac_elem(b, 3, "useGlobalPreferredServer", "false");
	buf_printf(b, "    </%s>\n", el);
}

/*
 * The clientConfig 1.1 document for domain (A-label), or with domain
 * NULL the generic one (%EMAILDOMAIN%). Incoming servers first, each
 * protocol's implicit TLS endpoint before its STARTTLS one (RFC 8314);
 * only enabled listeners.
 */
static void
ac_moz_doc(const struct config *cfg, const char *domain, struct buf *b)
{
	struct mail_endpoint ep[MAIL_ENDPOINTS];
	const char *name = domain != NULL ? domain : cfg->hostname;
	char display[AC_DISPLAY_MAX + 1], shortname[AC_SHORT_MAX + 1];
	char base[300];

	str_lcpy(display, name, sizeof(display));
	str_lcpy(shortname, name, sizeof(shortname));
	shortname[strcspn(shortname, ".")] = '\0';
	mail_endpoints(cfg, ep);
	buf_append_str(b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	    "<clientConfig version=\"1.1\">\n");
	buf_append_str(b, "  <emailProvider id=\"");
	ac_text(b, name);
	buf_append_str(b, "\">\n");
	ac_elem(b, 2, "domain", domain != NULL ? domain : "%EMAILDOMAIN%");
	ac_elem(b, 2, "displayName", display);
	ac_elem(b, 2, "displayShortName", shortname);
	for (int incoming = 1; incoming >= 0; incoming--) {
		for (unsigned i = 0; i < MAIL_ENDPOINTS; i++) {
			if (ep[i].offered && ep[i].incoming == incoming)
				ac_moz_server(b, cfg, &ep[i]);
		}
	}
	buf_append_str(b, "  </emailProvider>\n");
	if (domain != NULL) {
		unsigned port = config_public_port(cfg, SVC_HTTPS);

		if (port == 443)
			str_printf(base, sizeof(base), "https://autoconfig.%s",
			    domain);
		else
			str_printf(base, sizeof(base),
			    "https://autoconfig.%s:%u", domain, port);
		buf_append_str(b, "  <clientConfigUpdate url=\"");
		ac_text(b, base);
		buf_append_str(b, "/mail/config-v1.1.xml\"/>\n");
	}
	buf_append_str(b, "</clientConfig>\n");
}

/* The appliance's host name or its parent domain (Thunderbird's MX
 * fallback asks autoconfig.PARENT). */
static bool
ac_own_host(const struct config *cfg, const char *name)
{
	const char *parent = strchr(cfg->hostname, '.');

	return strcasecmp(name, cfg->hostname) == 0 || (parent != NULL &&
	    strchr(parent + 1, '.') != NULL &&
	    strcasecmp(name, parent + 1) == 0);
}

static void
ac_mozilla(const struct web_request *rq, struct web_response *resp)
{
	struct service_error err = { 0 };
	const char *email = rq->query(rq->ctx, "emailaddress");
	char addr[ADDR_MAX + 1], host[ADDR_DOMAIN_MAX + 1];
	char domain[ADDR_DOMAIN_MAX + 1];
	const char *name;
	struct buf b;
	bool generic = false;
	int hosted;

	if (strcmp(rq->method, "OPTIONS") == 0) {
		/* CORS preflight: the document is public. */
		resp->status = 204;
		web_header(resp, "Access-Control-Allow-Origin", "*");
		web_header(resp, "Access-Control-Allow-Methods",
		    AC_MOZ_METHODS);
		web_header(resp, "Allow", AC_MOZ_METHODS);
		return;
	}
	if (strcmp(rq->method, "GET") != 0 &&
	    strcmp(rq->method, "HEAD") != 0) {
		ac_not_allowed(resp, AC_MOZ_METHODS);
		return;
	}
	if (ac_address(email, addr, sizeof(addr))) {
		/* Normalized: the domain is the part after the last '@'. */
		str_lcpy(domain, strrchr(addr, '@') + 1, sizeof(domain));
		hosted = ac_domain_hosted(domain);
	} else {
		ac_host(rq->host, host, sizeof(host));
		name = host;
		if (strncmp(name, "autoconfig.", 11) == 0)
			name += 11;
		if (service_domain_normalize(name, domain, sizeof(domain),
		    NULL, &err) != DB_OK) {
			domain[0] = '\0';
			hosted = 0;
		} else {
			hosted = ac_domain_hosted(domain);
		}
		generic = hosted == 0 && domain[0] != '\0' &&
		    ac_own_host(rq->cfg, domain);
	}
	if (hosted < 0) {
		ac_plain(resp, 503, "Temporarily unavailable, try again\n");
		web_header(resp, "Retry-After", "5");
		return;
	}
	if (hosted == 0 && !generic) {
		/* The same answer for any address of the domain, existing
		 * or not: only domains are told apart. */
		ac_plain(resp, 404, "No mail client configuration for this "
		    "domain\n");
		return;
	}
	buf_init(&b);
	ac_moz_doc(rq->cfg, generic ? NULL : domain, &b);
	ac_body(resp, 200, AC_XML_TYPE, &b);
	web_header(resp, "Access-Control-Allow-Origin", "*");
	web_header(resp, "X-Content-Type-Options", "nosniff");
	web_header(resp, "Cache-Control", email != NULL ? "no-cache" :
	    "public, max-age=3600");
}

/* ---- Autodiscover (POX) request ---- */

struct ac_pox {
	char email[ADDR_MAX + 1];
	char schema[256];
	bool has_email, has_schema;
};

/* Where the character data of the element being read goes: buf NULL
 * when it is not kept. */
struct ac_cap {
	char *buf;
	size_t size, len;
};

/* A start or end tag. */
struct ac_tag {
	char name[AC_XML_NAME];		/* qualified name, as written */
	bool closing, empty;		/* </name>, <name/> */
};

static bool
ac_xml_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static int
ac_cap_put(struct ac_cap *c, const char *p, size_t n)
{
	if (c->buf == NULL)
		return 0;
	if (memchr(p, '\0', n) != NULL || c->len + n >= c->size)
		return -1;
	memcpy(c->buf + c->len, p, n);
	c->len += n;
	c->buf[c->len] = '\0';
	return 0;
}

/* A character reference's code point, as UTF-8; -1 when XML 1.0 does
 * not allow it (2.2 Char) or the value is full. */
static int
ac_cap_code_point(struct ac_cap *c, unsigned long cp)
{
	char u[4];
	size_t n;

	if ((cp < 0x20 && cp != '\t' && cp != '\n' && cp != '\r') ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp == 0xfffe || cp == 0xffff ||
	    cp > 0x10ffff)
		return -1;
	if (cp < 0x80) {
		u[0] = (char)cp;
		n = 1;
	} else if (cp < 0x800) {
		u[0] = (char)(0xc0 | cp >> 6);
		u[1] = (char)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		u[0] = (char)(0xe0 | cp >> 12);
		u[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		u[2] = (char)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		u[0] = (char)(0xf0 | cp >> 18);
		u[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
		u[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
		u[3] = (char)(0x80 | (cp & 0x3f));
		n = 4;
	}
	return ac_cap_put(c, u, n);
}

/* "&#NN;" or "&#xHH;" between s and semi: the code point, or -1. */
static long
ac_char_ref(const char *s, const char *semi)
{
	unsigned base = 10;
	long cp = 0;

	if (s < semi && *s == 'x') {
		base = 16;
		s++;
	}
	if (s == semi)
		return -1;
	for (; s < semi; s++) {
		int v = *s >= '0' && *s <= '9' ? *s - '0' :
		    base == 16 && *s >= 'a' && *s <= 'f' ? *s - 'a' + 10 :
		    base == 16 && *s >= 'A' && *s <= 'F' ? *s - 'A' + 10 : -1;

		if (v < 0 || cp > 0x10ffff)
			return -1;
		cp = cp * (long)base + v;
	}
	return cp;
}

/*
 * Character data s[0..len) into c: the five predefined entities and
 * character references are decoded; any other entity reference is an
 * error, since no entity is ever declared, let alone expanded (no XXE).
 */
static int
ac_xml_text(const char *s, size_t len, struct ac_cap *c)
{
	static const struct {
		const char *name;
		const char *text;
	} ents[] = {
		{ "amp", "&" }, { "lt", "<" }, { "gt", ">" },
		{ "quot", "\"" }, { "apos", "'" },
	};
	size_t i = 0, n;

	while (i < len) {
		const char *semi;
		long cp;
		size_t k;

		for (n = i; n < len && s[n] != '&'; n++)
			;
		if (ac_cap_put(c, s + i, n - i) < 0 ||
		    memchr(s + i, '\0', n - i) != NULL)
			return -1;
		if ((i = n) == len)
			break;
		semi = memchr(s + i, ';', len - i);
		if (semi == NULL || semi == s + i + 1 || semi - s - i > 12)
			return -1;
		if (s[i + 1] == '#') {
			if ((cp = ac_char_ref(s + i + 2, semi)) < 0 ||
			    ac_cap_code_point(c, (unsigned long)cp) < 0)
				return -1;
		} else {
			n = (size_t)(semi - s - i - 1);
			for (k = 0; k < ARRAY_SIZE(ents); k++) {
				if (strlen(ents[k].name) == n &&
				    memcmp(s + i + 1, ents[k].name, n) == 0)
					break;
			}
			if (k == ARRAY_SIZE(ents) ||
			    ac_cap_put(c, ents[k].text, 1) < 0)
				return -1;
		}
		i = (size_t)(semi - s) + 1;
	}
	return 0;
}

/*
 * The tag at s[0..len) (s[0] is '<'): its name, and whether it ends an
 * element or is empty; attributes are skipped (their quotes matched).
 * Returns its length up to and with '>', or 0 for bad input.
 */
static size_t
ac_xml_tag(const char *s, size_t len, struct ac_tag *t)
{
	size_t i = 1, n = 0;
	char quote = 0, last = 0;

	t->closing = len > 1 && s[1] == '/';
	t->empty = false;
	if (t->closing)
		i++;
	while (i < len && !ac_xml_space(s[i]) && s[i] != '\0' &&
	    strchr("/><=\"'", s[i]) == NULL) {
		if (n + 1 == AC_XML_NAME)
			return 0;
		t->name[n++] = s[i++];
	}
	t->name[n] = '\0';
	if (n == 0)
		return 0;
	for (; i < len; i++) {
		char c = s[i];

		if (c == '\0' || c == '<')
			return 0;
		if (quote != 0) {
			if (c == quote)
				quote = 0;
			continue;
		}
		if (c == '>') {
			t->empty = !t->closing && last == '/';
			return i + 1;
		}
		if (ac_xml_space(c))
			continue;
		if (t->closing)
			return 0;	/* </name> takes nothing more */
		if (c == '"' || c == '\'')
			quote = c;
		last = c;
	}
	return 0;
}

static const char *
ac_local_name(const char *qname)
{
	const char *colon = strrchr(qname, ':');

	return colon != NULL ? colon + 1 : qname;
}

/* The value an element of Request holds, by its local name. */
static struct ac_cap
ac_pox_field(struct ac_pox *pox, const char *qname)
{
	struct ac_cap c = { NULL, 0, 0 };
	const char *local = ac_local_name(qname);

	if (strcasecmp(local, "EMailAddress") == 0) {
		c.buf = pox->email;
		c.size = sizeof(pox->email);
		pox->has_email = true;
	} else if (strcasecmp(local, "AcceptableResponseSchema") == 0) {
		c.buf = pox->schema;
		c.size = sizeof(pox->schema);
		pox->has_schema = true;
	}
	if (c.buf != NULL)
		c.buf[0] = '\0';
	return c;
}

/* Finds needle in s[0..len), ASCII case-insensitively. */
static bool
ac_contains_ci(const char *s, size_t len, const char *needle)
{
	size_t n = strlen(needle);

	for (size_t i = 0; i + n <= len; i++) {
		if (strncasecmp(s + i, needle, n) == 0)
			return true;
	}
	return false;
}

static void
ac_trim(char *s)
{
	size_t len = strlen(s), k = 0;

	while (len > 0 && ac_xml_space(s[len - 1]))
		s[--len] = '\0';
	while (ac_xml_space(s[k]))
		k++;
	memmove(s, s + k, len - k + 1);
}

#define AC_NO_MATCH SIZE_MAX

/* When s[i..len) starts with prefix: the index after the first
 * terminator that follows, or 0 when there is none; else AC_NO_MATCH. */
static size_t
ac_xml_skip(const char *s, size_t len, size_t i, const char *prefix,
    const char *terminator)
{
	size_t p = strlen(prefix), t = strlen(terminator);
	const char *end;

	if (len - i < p || memcmp(s + i, prefix, p) != 0)
		return AC_NO_MATCH;
	if ((end = memmem(s + i + p, len - i - p, terminator, t)) == NULL)
		return 0;
	return (size_t)(end - s) + t;
}

/*
 * Parses an Autodiscover request (MS-OXDSCLI 2.2.3): the text of
 * Autodiscover/Request/EMailAddress and AcceptableResponseSchema, by
 * local names compared case-insensitively (any namespace or prefix);
 * other elements are skipped. Well-formedness is checked as far as this
 * needs (one root, balanced tags, quoted attributes, entity references);
 * any declaration is refused, a DTD or an entity declaration even inside
 * a comment. Pure: 0, or -1 for what gets ErrorCode 600.
 */
static int
ac_pox_parse(const char *s, size_t len, struct ac_pox *pox)
{
	char open[AC_XML_DEPTH][AC_XML_NAME];
	struct ac_cap cap = { NULL, 0, 0 };
	struct ac_tag t;
	size_t depth = 0, i = 0, n;
	bool root_done = false;

	memset(pox, 0, sizeof(*pox));
	if (ac_contains_ci(s, len, "<!DOCTYPE") ||
	    ac_contains_ci(s, len, "<!ENTITY"))
		return -1;
	if (len >= 3 && memcmp(s, "\xef\xbb\xbf", 3) == 0)
		i = 3;		/* a UTF-8 byte order mark */
	while (i < len) {
		if (s[i] != '<') {
			for (n = i; n < len && s[n] != '<'; n++) {
				if (depth == 0 && !ac_xml_space(s[n]))
					return -1;
			}
			if (ac_xml_text(s + i, n - i, &cap) < 0)
				return -1;
			i = n;
			continue;
		}
		/* Processing instructions and comments are skipped; CDATA
		 * is text. */
		if ((n = ac_xml_skip(s, len, i, "<?", "?>")) != AC_NO_MATCH ||
		    (n = ac_xml_skip(s, len, i, "<!--", "-->")) !=
		    AC_NO_MATCH) {
			if (n == 0)
				return -1;
			i = n;
			continue;
		}
		if ((n = ac_xml_skip(s, len, i, "<![CDATA[", "]]>")) !=
		    AC_NO_MATCH) {
			if (n == 0 || depth == 0 || ac_cap_put(&cap, s + i + 9,
			    n - i - 12) < 0)
				return -1;
			i = n;
			continue;
		}
		if (len - i >= 2 && s[i + 1] == '!')
			return -1;
		if ((n = ac_xml_tag(s + i, len - i, &t)) == 0)
			return -1;
		i += n;
		cap.buf = NULL;
		if (t.closing) {
			if (depth == 0 || strcmp(open[depth - 1], t.name) != 0)
				return -1;
			root_done = --depth == 0;
			continue;
		}
		if (root_done || depth == AC_XML_DEPTH ||
		    (depth == 0 && strcasecmp(ac_local_name(t.name),
		    "Autodiscover") != 0))
			return -1;
		if (depth == 2 && strcasecmp(ac_local_name(open[1]),
		    "Request") == 0)
			cap = ac_pox_field(pox, t.name);
		if (t.empty) {
			cap.buf = NULL;
			root_done = depth == 0;
		} else {
			str_lcpy(open[depth++], t.name, AC_XML_NAME);
		}
	}
	if (!root_done || depth != 0)
		return -1;
	ac_trim(pox->email);
	ac_trim(pox->schema);
	return 0;
}

/* ---- Autodiscover (POX) response ---- */

static void
ac_pox_head(struct buf *b)
{
	buf_append_str(b, "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"
	    "<Autodiscover xmlns=\"" AC_SCHEMA_RESPONSE "\">\n");
}

/* An Autodiscover-level error (MS-OXDSCLI 2.2.4.1.2): HTTP 200. */
static void
ac_pox_error(const struct web_request *rq, struct web_response *resp,
    unsigned code, const char *message)
{
	char when[32], id[37], seed[300];
	struct tm tm;
	time_t now = time(NULL);
	struct buf b;

	gmtime_r(&now, &tm);
	str_printf(when, sizeof(when), "%02d:%02d:%02d.0000000", tm.tm_hour,
	    tm.tm_min, tm.tm_sec);
	/* The Id names the server: a number from its host name. */
	str_printf(seed, sizeof(seed), "autodiscover-server\n%s",
	    rq->cfg->hostname);
	mail_uuid(seed, id);
	id[8] = '\0';
	buf_init(&b);
	ac_pox_head(&b);
	buf_printf(&b, "  <Response>\n"
	    "    <Error Time=\"%s\" Id=\"%lu\">\n", when,
	    strtoul(id, NULL, 16));
	ac_elem_uint(&b, 3, "ErrorCode", code);
	ac_elem(&b, 3, "Message", message);
	buf_append_str(&b, "      <DebugData/>\n    </Error>\n"
	    "  </Response>\n</Autodiscover>\n");
	ac_body(resp, 200, AC_XML_TYPE, &b);
}

static void
ac_pox_protocol(struct buf *b, const struct config *cfg,
    const struct mail_endpoint *e, const char *addr)
{
	const char *type = strcmp(e->protocol, "imap") == 0 ? "IMAP" :
	    strcmp(e->protocol, "pop3") == 0 ? "POP3" : "SMTP";

	buf_append_str(b, "      <Protocol>\n");
	ac_elem(b, 4, "Type", type);
	ac_elem(b, 4, "Server", cfg->hostname);
	ac_elem_uint(b, 4, "Port", e->port);
	ac_elem(b, 4, "DomainRequired", "off");
	ac_elem(b, 4, "LoginName", addr);
	/* SPA (NTLM) defaults to on. */
	ac_elem(b, 4, "SPA", "off");
	/* SSL: Outlook 2007's only switch; Encryption overrides it in
	 * later versions: SSL is implicit TLS, TLS is STARTTLS. */
	ac_elem(b, 4, "SSL", "on");
	ac_elem(b, 4, "Encryption", e->implicit_tls ? "SSL" : "TLS");
	ac_elem(b, 4, "AuthRequired", "on");
	if (!e->incoming) {
		ac_elem(b, 4, "UsePOPAuth", "on");
		ac_elem(b, 4, "SMTPLast", "off");
	}
	buf_append_str(b, "      </Protocol>\n");
}

static void
ac_pox_settings(const struct web_request *rq, struct web_response *resp,
    const char *addr, const char *domain)
{
	static const char *const protocols[] = { "imap", "smtp", "pop3" };
	struct mail_endpoint ep[MAIL_ENDPOINTS];
	char uuid[37], seed[600];
	struct buf b;

	mail_endpoints(rq->cfg, ep);
	str_printf(seed, sizeof(seed), "autodiscover-deployment\n%s\n%s",
	    rq->cfg->hostname, domain);
	mail_uuid(seed, uuid);
	buf_init(&b);
	ac_pox_head(&b);
	buf_append_str(&b, "  <Response xmlns=\"http://" AC_SCHEMA_OUTLOOK
	    "\">\n    <User>\n");
	ac_elem(&b, 3, "DisplayName", addr);
	ac_elem(&b, 3, "AutoDiscoverSMTPAddress", addr);
	ac_elem(&b, 3, "DeploymentId", uuid);
	buf_append_str(&b, "    </User>\n    <Account>\n");
	ac_elem(&b, 3, "AccountType", "email");
	ac_elem(&b, 3, "Action", "settings");
	/* One endpoint per protocol: the preferred one (implicit TLS
	 * unless its listener is disabled). */
	for (size_t i = 0; i < ARRAY_SIZE(protocols); i++) {
		const struct mail_endpoint *e = mail_endpoint_preferred(ep,
		    protocols[i]);

		if (e != NULL)
			ac_pox_protocol(&b, rq->cfg, e, addr);
	}
	buf_append_str(&b, "    </Account>\n  </Response>\n</Autodiscover>\n");
	ac_body(resp, 200, AC_XML_TYPE, &b);
}

static void
ac_autodiscover(const struct web_request *rq, struct web_response *resp)
{
	struct ac_pox pox;
	char addr[ADDR_MAX + 1], base[300], location[400];
	struct service_error err = { 0 };
	int hosted;

	if (!rq->https) {
		/* MS-OXDISCO 3.1.5.2: the HTTP GET redirect probe. */
		mail_https_base(rq->cfg, base, sizeof(base));
		str_printf(location, sizeof(location),
		    "%s/autodiscover/autodiscover.xml", base);
		ac_plain(resp, 302, "Moved\n");
		web_header(resp, "Location", location);
		return;
	}
	if (strcmp(rq->method, "POST") != 0) {
		ac_not_allowed(resp, "POST");
		return;
	}
	if (rq->body == NULL || rq->body_len == 0 ||
	    rq->body_len > AC_POX_MAX ||
	    ac_pox_parse(rq->body, rq->body_len, &pox) < 0 ||
	    !pox.has_email || pox.email[0] == '\0') {
		ac_pox_error(rq, resp, 600, "Invalid Request");
		return;
	}
	/* Outlook's schema (http or https); mobilesync (ActiveSync) and
	 * others are not offered. */
	if (pox.has_schema &&
	    strcasecmp(pox.schema, "http://" AC_SCHEMA_OUTLOOK) != 0 &&
	    strcasecmp(pox.schema, "https://" AC_SCHEMA_OUTLOOK) != 0) {
		ac_pox_error(rq, resp, 601, "Provider is not available");
		return;
	}
	if (service_address_normalize(pox.email, false, addr, sizeof(addr),
	    NULL, &err) != DB_OK) {
		ac_pox_error(rq, resp, 600, "Invalid Request");
		return;
	}
	hosted = ac_domain_hosted(strrchr(addr, '@') + 1);
	if (hosted < 0) {
		ac_pox_error(rq, resp, 603, "Internal error, try again");
		return;
	}
	if (hosted == 0) {
		/* Only domains are told apart, never mailboxes. */
		ac_pox_error(rq, resp, 500, "The e-mail address cannot be "
		    "found");
		return;
	}
	ac_pox_settings(rq, resp, addr, strrchr(addr, '@') + 1);
}

/* ---- Autodiscover v2 (JSON) ---- */

static void
ac_json(struct web_response *resp, unsigned status, json_t *doc)
{
	char *text = json_dumps(doc, JSON_COMPACT);

	json_decref(doc);
	resp->status = status;
	resp->content_type = "application/json";
	resp->body = text != NULL ? text : xstrdup("{}");
	resp->body_len = strlen(resp->body);
}

static void
ac_autodiscover_json(const struct web_request *rq, struct web_response *resp)
{
	const char *proto = rq->query(rq->ctx, "Protocol");
	char base[300], url[400], clean[65], msg[200];
	size_t n = 0;

	if (strcmp(rq->method, "GET") != 0 &&
	    strcmp(rq->method, "HEAD") != 0) {
		ac_not_allowed(resp, "GET, HEAD");
		return;
	}
	if (proto == NULL)
		proto = rq->query(rq->ctx, "protocol");
	if (proto != NULL && strcasecmp(proto, "AutodiscoverV1") == 0) {
		mail_https_base(rq->cfg, base, sizeof(base));
		str_printf(url, sizeof(url), "%s/autodiscover/autodiscover.xml",
		    base);
		ac_json(resp, 200, json_pack("{s:s, s:s}", "Protocol",
		    "AutodiscoverV1", "Url", url));
		return;
	}
	/* The value is echoed with letters and digits only. */
	for (const char *p = proto != NULL ? proto : ""; *p != '\0' &&
	    n < sizeof(clean) - 1; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9'))
			clean[n++] = *p;
	}
	clean[n] = '\0';
	str_printf(msg, sizeof(msg), "The given protocol value '%s' is "
	    "invalid. Supported values are 'AutodiscoverV1'", clean);
	ac_json(resp, 400, json_pack("{s:s, s:s}", "ErrorCode",
	    "InvalidProtocol", "ErrorMessage", msg));
}

/* ---- dispatch ---- */

bool
autoconfig_handle(const struct web_request *rq, struct web_response *resp)
{
	const char *path = rq->path;
	static const char json_path[] = "/autodiscover/autodiscover.json";

	if (strcasecmp(path, "/mail/config-v1.1.xml") == 0 ||
	    strcasecmp(path, "/.well-known/autoconfig/mail/config-v1.1.xml") ==
	    0 || strcasecmp(path, "/.well-known/mail-v1.xml") == 0) {
		ac_mozilla(rq, resp);
		return true;
	}
	/* Outlook asks /Autodiscover/Autodiscover.xml: "not case
	 * sensitive" (MS-OXDISCO 2.2.1). */
	if (strcasecmp(path, "/autodiscover/autodiscover.xml") == 0) {
		ac_autodiscover(rq, resp);
		return true;
	}
	if (rq->https && strncasecmp(path, json_path, sizeof(json_path) - 1) ==
	    0 && (path[sizeof(json_path) - 1] == '\0' ||
	    strncasecmp(path + sizeof(json_path) - 1, "/v1.0/", 6) == 0)) {
		ac_autodiscover_json(rq, resp);
		return true;
	}
	return false;
}
