/*
 * config.c: built-in defaults, the INI file (libinih), validation and
 * printing of the effective configuration.
 *
 * File layout. Blank lines are ignored; a line whose first non-blank
 * character is '#' or ';' is a comment, and " ;" starts a comment at the
 * end of a line. Leading blanks are ignored (no continuation lines).
 * Keys and section names are lower case. A line holds at most 197
 * characters (libinih's line buffer).
 *
 *   # top-level keys (no section)
 *   hostname = mail.example.com  ; default: the machine's FQDN
 *   data_dir = /var/lib/facteur
 *   user = facteur                ; user to run as when started as root
 *   tls_cert = /path/cert.pem     ; default (empty): DATA_DIR/tls/cert.pem
 *   tls_key = /path/key.pem       ; default (empty): DATA_DIR/tls/key.pem
 *   max_message_size = 50M        ; bytes; K, M, G suffixes (powers of 1024)
 *   max_recipients = 100          ; per message, 1..100000
 *   send_limit_messages_per_hour = 200    ; submission, per mailbox; 0: none
 *   send_limit_recipients_per_day = 1000  ; submission, per mailbox; 0: none
 *   max_connections = 1000        ; total, 1..1000000
 *   max_connections_per_ip = 20   ; 1..1000000
 *   timeout_idle = 300            ; seconds, 1..86400
 *   timeout_data = 600            ; seconds, 1..86400
 *   loop_threads = 2              ; 1..1024
 *   worker_threads = 4            ; 1..1024
 *   queue_threads = 4             ; outbound deliveries at once
 *   queue_domain_concurrency = 2  ; at once per destination domain
 *   queue_retry_initial = 300     ; seconds before the first retry
 *   queue_retry_max = 14400       ; retry interval doubles up to this
 *   queue_lifetime = 432000       ; seconds before a message bounces
 *   remote_smtp_port = 25         ; port of other domains' servers
 *   remote_timeout = 300          ; seconds per outbound network step
 *   resolver =                    ; "" system, "IP" or "IP@PORT"
 *   dkim_selector = facteur       ; DKIM selector of every domain
 *   dkim_key_type = rsa           ; new keys: rsa (2048) or ed25519
 *   relay_host =                  ; smarthost for all outbound mail
 *   relay_port = 587
 *   relay_tls = starttls          ; starttls, tls (implicit) or none
 *   relay_verify = yes            ; verify the relay's certificate
 *   relay_user =                  ; AUTH credentials for the relay
 *   relay_password =              ; (printed masked by --check-config)
 *   log_level = info              ; debug, info, warn or error
 *   plaintext_auth_networks = 127.0.0.0/8, ::1/128
 *                                 ; CIDRs separated by commas or blanks,
 *                                 ; at most 32; default: none. The key may
 *                                 ; appear on several lines of one file:
 *                                 ; the lists are joined.
 *   admin_networks = 10.0.0.0/8   ; same form: who may reach /api on the
 *                                 ; https listener; default: everyone
 *   session_idle_timeout = 1800   ; admin API browser sessions: seconds
 *   session_lifetime = 43200      ; idle, and in all (1..)
 *   auth_max_failures = 50        ; failed logins from one client address
 *                                 ; before it is refused (all protocols)
 *
 *   [smtp]          ; also [submission] [submissions] [imap] [imaps]
 *                   ;      [pop3] [pop3s] [https] [http]
 *   address = 0.0.0.0   ; IPv4 or IPv6 address; "*" is 0.0.0.0
 *   port = 25           ; 1..65535, before --port-offset
 *   public_port = 25    ; port announced to clients; 0: the listen port
 *   enabled = yes       ; yes/no, true/false, on/off, 1/0
 *
 * Default ports: smtp 25, submission 587, submissions 465, imap 143,
 * imaps 993, pop3 110, pop3s 995, https 443, http 80. Submissions, imaps,
 * pop3s and https use implicit TLS; that is fixed, not a key.
 *
 * The hostname default is the canonical name of gethostname() as
 * getaddrinfo(AI_CANONNAME) reports it, else gethostname() itself, else
 * "localhost"; a name with a dot is preferred.
 *
 * The file is read through ini_parse_stream() with a reader of our own:
 * it counts lines (Debian builds libinih without INI_HANDLER_LINENO), drops
 * leading blanks so that an indented line is never taken for a
 * continuation of the previous value, refuses over-long lines instead of
 * letting libinih split them, and checks section names, which libinih
 * does not pass to the handler of a section without keys.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ini.h>

#include "config.h"
#include "util.h"

/* libinih needs room for "\r\n" and the NUL after the text of a line. */
#define CONFIG_LINE_MAX		(INI_MAX_LINE - 3)
#define CONFIG_HOSTNAME_MAX	253	/* RFC 1035 2.3.4, without the dot */
#define CONFIG_LABEL_MAX	63	/* RFC 1035 2.3.4 */

static const struct config_service_def {
	const char *name;
	unsigned port;
	bool implicit_tls;
} config_services[SVC_COUNT] = {
	[SVC_SMTP] = { "smtp", 25, false },
	[SVC_SUBMISSION] = { "submission", 587, false },
	[SVC_SUBMISSIONS] = { "submissions", 465, true },	/* RFC 8314 */
	[SVC_IMAP] = { "imap", 143, false },
	[SVC_IMAPS] = { "imaps", 993, true },
	[SVC_POP3] = { "pop3", 110, false },
	[SVC_POP3S] = { "pop3s", 995, true },
	[SVC_HTTPS] = { "https", 443, true },
	[SVC_HTTP] = { "http", 80, false },
};

enum config_type {
	CONFIG_T_HOSTNAME,	/* char[]: DNS name, stored lower-case */
	CONFIG_T_STRING,	/* char[]: any text, not empty */
	CONFIG_T_PATH_OPT,	/* char[]: any text, may be empty */
	CONFIG_T_UINT,		/* unsigned: min..max */
	CONFIG_T_PORT,		/* unsigned: min..65535 */
	CONFIG_T_SIZE,		/* uint64_t: bytes, > 0 */
	CONFIG_T_LOG_LEVEL,	/* char[]: one of config_log_levels */
	CONFIG_T_NETS,		/* struct config_net[CONFIG_MAX_NETS]; size
				   holds the offset of its unsigned count */
	CONFIG_T_ADDRESS,	/* char[]: numeric IPv4 or IPv6 address */
	CONFIG_T_BOOL,		/* bool */
};

/* One key: where it lives (offset into struct config for top-level keys,
 * into struct config_listener for section keys) and how it is parsed. */
struct config_key {
	const char *name;
	enum config_type type;
	size_t offset;
	size_t size;		/* char[]: buffer size */
	unsigned min, max;	/* CONFIG_T_UINT, CONFIG_T_PORT */
};

#define MEMBER_SIZE(type, m)	sizeof(((type *)0)->m)
#define KEY_STR(n, t) \
	{ #n, t, offsetof(struct config, n), MEMBER_SIZE(struct config, n), \
	    0, 0 }
#define KEY_UINT(n, lo, hi) \
	{ #n, CONFIG_T_UINT, offsetof(struct config, n), 0, lo, hi }

/* Top-level keys, in the order config_print writes them. */
static const struct config_key config_keys[] = {
	KEY_STR(hostname, CONFIG_T_HOSTNAME),
	KEY_STR(data_dir, CONFIG_T_STRING),
	KEY_STR(user, CONFIG_T_STRING),
	KEY_STR(tls_cert, CONFIG_T_PATH_OPT),
	KEY_STR(tls_key, CONFIG_T_PATH_OPT),
	{ "max_message_size", CONFIG_T_SIZE,
	    offsetof(struct config, max_message_size), 0, 0, 0 },
	KEY_UINT(max_recipients, 1, 100000),
	KEY_UINT(send_limit_messages_per_hour, 0, 1000000),
	KEY_UINT(send_limit_recipients_per_day, 0, 100000000),
	KEY_UINT(max_connections, 1, 1000000),
	KEY_UINT(max_connections_per_ip, 1, 1000000),
	KEY_UINT(timeout_idle, 1, 86400),
	KEY_UINT(timeout_data, 1, 86400),
	KEY_UINT(loop_threads, 1, 1024),
	KEY_UINT(worker_threads, 1, 1024),
	KEY_UINT(queue_threads, 1, 1024),
	KEY_UINT(queue_domain_concurrency, 1, 1024),
	KEY_UINT(queue_retry_initial, 1, 86400),
	KEY_UINT(queue_retry_max, 1, 604800),
	KEY_UINT(queue_lifetime, 1, 31536000),
	KEY_UINT(remote_smtp_port, 1, 65535),
	KEY_UINT(remote_timeout, 1, 3600),
	KEY_STR(resolver, CONFIG_T_PATH_OPT),
	KEY_STR(dkim_selector, CONFIG_T_STRING),
	KEY_STR(dkim_key_type, CONFIG_T_STRING),
	KEY_STR(relay_host, CONFIG_T_PATH_OPT),
	KEY_UINT(relay_port, 1, 65535),
	KEY_STR(relay_tls, CONFIG_T_STRING),
	{ "relay_verify", CONFIG_T_BOOL, offsetof(struct config, relay_verify),
	    0, 0, 0 },
	KEY_STR(relay_user, CONFIG_T_PATH_OPT),
	KEY_STR(relay_password, CONFIG_T_PATH_OPT),
	KEY_STR(log_level, CONFIG_T_LOG_LEVEL),
	{ "plaintext_auth_networks", CONFIG_T_NETS,
	    offsetof(struct config, plaintext_auth_networks),
	    offsetof(struct config, plaintext_auth_networks_count), 0, 0 },
	{ "admin_networks", CONFIG_T_NETS,
	    offsetof(struct config, admin_networks),
	    offsetof(struct config, admin_networks_count), 0, 0 },
	KEY_UINT(session_idle_timeout, 1, 86400),
	KEY_UINT(session_lifetime, 1, 31536000),
	KEY_UINT(auth_max_failures, 1, 1000000),
};

/* Keys of every listener section, in the order config_print writes them. */
static const struct config_key config_listener_keys[] = {
	{ "address", CONFIG_T_ADDRESS,
	    offsetof(struct config_listener, address),
	    MEMBER_SIZE(struct config_listener, address), 0, 0 },
	{ "port", CONFIG_T_PORT, offsetof(struct config_listener, port),
	    0, 1, 65535 },
	{ "public_port", CONFIG_T_PORT,
	    offsetof(struct config_listener, public_port), 0, 0, 65535 },
	{ "enabled", CONFIG_T_BOOL, offsetof(struct config_listener, enabled),
	    0, 0, 0 },
};

static const char *const config_log_levels[] = {
	"debug", "info", "warn", "error",
};

static const struct {
	const char *word;
	bool value;
} config_bools[] = {
	{ "yes", true }, { "true", true }, { "on", true }, { "1", true },
	{ "no", false }, { "false", false }, { "off", false }, { "0", false },
};

/* State of one config_load_file call, shared by reader and handler. */
struct config_parse {
	struct config *cfg;	/* a copy, committed on success */
	const char *path;
	FILE *fp;
	char *line;		/* getline buffer */
	size_t linecap;
	int lineno;		/* physical line last handed to libinih */
	/* Network keys met in this file, by index in config_keys. */
	bool nets_seen[ARRAY_SIZE(config_keys)];
	char *error;		/* first error, "PATH:LINE: ..." */
	int error_line;
	int read_errno;		/* getline failed with this */
};

static const char *config_hostname_check(const char *s);
static void config_default_hostname(char *out, size_t outsize);
static const struct config_key *config_key_find(const struct config_key *keys,
    size_t n, const char *name);
static int config_service_find(const char *name, size_t len);
static void config_uint_reason(const struct config_key *key, unsigned v,
    char *reason, size_t reasonsize);
static int config_value_set(const struct config_key *key, void *base,
    const char *value, bool append, char *reason, size_t reasonsize);
static int config_value_check(const struct config_key *key,
    const void *base, char *reason, size_t reasonsize);
static void config_value_print(const struct config_key *key,
    const void *base, FILE *out);
static void config_parse_fail(struct config_parse *p, const char *fmt, ...)
    ATTR_PRINTF(2, 3);
static char *config_parse_read(char *str, int num, void *stream);
static int config_parse_handler(void *user, const char *section,
    const char *name, const char *value);
static int config_nets_parse(const struct config_key *key,
    struct config *cfg, const char *value, bool append, char *reason,
    size_t reasonsize);
static void config_nets_print(const struct config_key *key,
    const struct config *cfg, FILE *out);
static size_t config_net_format(const struct config_net *net, char *out,
    size_t outsize);
static bool config_net_canon(int family, const unsigned char *addr,
    unsigned prefix, int *family_r, const unsigned char **addr_r,
    unsigned *prefix_r);
static bool config_listeners_overlap(const struct config_listener *a,
    const struct config_listener *b);

void
config_init(struct config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	config_default_hostname(cfg->hostname, sizeof(cfg->hostname));
	str_lcpy(cfg->data_dir, "/var/lib/facteur", sizeof(cfg->data_dir));
	str_lcpy(cfg->user, "facteur", sizeof(cfg->user));
	cfg->max_message_size = 50ULL * 1024 * 1024;
	cfg->max_recipients = 100;
	cfg->send_limit_messages_per_hour = 200;
	cfg->send_limit_recipients_per_day = 1000;
	cfg->max_connections = 1000;
	cfg->max_connections_per_ip = 20;
	cfg->timeout_idle = 300;
	cfg->timeout_data = 600;
	cfg->loop_threads = 2;
	cfg->worker_threads = 4;
	cfg->queue_threads = 4;
	cfg->queue_domain_concurrency = 2;
	cfg->queue_retry_initial = 300;
	cfg->queue_retry_max = 14400;
	cfg->queue_lifetime = 432000;
	cfg->remote_smtp_port = 25;
	cfg->remote_timeout = 300;
	str_lcpy(cfg->dkim_selector, "facteur", sizeof(cfg->dkim_selector));
	str_lcpy(cfg->dkim_key_type, "rsa", sizeof(cfg->dkim_key_type));
	cfg->relay_port = 587;
	str_lcpy(cfg->relay_tls, "starttls", sizeof(cfg->relay_tls));
	cfg->relay_verify = true;
	str_lcpy(cfg->log_level, "info", sizeof(cfg->log_level));
	cfg->session_idle_timeout = 1800;
	cfg->session_lifetime = 43200;
	cfg->auth_max_failures = 50;
	for (size_t i = 0; i < SVC_COUNT; i++) {
		struct config_listener *l = &cfg->listeners[i];

		l->name = config_services[i].name;
		str_lcpy(l->address, "0.0.0.0", sizeof(l->address));
		l->port = config_services[i].port;
		l->public_port = 0;
		l->implicit_tls = config_services[i].implicit_tls;
		l->enabled = true;
	}
}

/*
 * Host names: RFC 1123 2.1 LDH labels of 1 to 63 octets, no hyphen at
 * either end, 253 octets in all; a top-level label of digits only would
 * read as an IPv4 address (RFC 3696 2). One label ("localhost") is allowed.
 * Returns NULL when valid, else the reason.
 */
static const char *
config_hostname_check(const char *s)
{
	size_t len = strlen(s), label = 0;
	bool digits = true;

	if (len == 0)
		return "expected a host name";
	if (len > CONFIG_HOSTNAME_MAX)
		return "host name longer than 253 characters";
	for (size_t i = 0; i <= len; i++) {
		char c = s[i];

		if (c == '.' || c == '\0') {
			if (label == 0)
				return "empty label in host name";
			if (s[i - 1] == '-')
				return "host name label ends with a hyphen";
			if (c == '\0' && digits)
				return "host name ends with an all-numeric "
				    "label";
			label = 0;
			digits = true;
			continue;
		}
		if (++label > CONFIG_LABEL_MAX)
			return "host name label longer than 63 characters";
		if (c == '-') {
			if (label == 1)
				return "host name label starts with a hyphen";
			digits = false;
		} else if (c >= '0' && c <= '9') {
			continue;
		} else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
			digits = false;
		} else {
			return "invalid character in host name "
			    "(letters, digits, '-' and '.' only)";
		}
	}
	return NULL;
}

static void
config_default_hostname(char *out, size_t outsize)
{
	struct addrinfo hints, *res = NULL;
	char name[256];
	const char *cand[2] = { NULL, NULL };
	const char *pick = NULL;

	str_lcpy(out, "localhost", outsize);
	if (gethostname(name, sizeof(name)) != 0)
		return;
	name[sizeof(name) - 1] = '\0';
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_CANONNAME;
	if (getaddrinfo(name, NULL, &hints, &res) == 0 && res != NULL)
		cand[0] = res->ai_canonname;
	cand[1] = name;
	/* A fully qualified name first, then any valid one. */
	for (size_t i = 0; i < ARRAY_SIZE(cand) && pick == NULL; i++) {
		if (cand[i] != NULL && strchr(cand[i], '.') != NULL &&
		    config_hostname_check(cand[i]) == NULL)
			pick = cand[i];
	}
	for (size_t i = 0; i < ARRAY_SIZE(cand) && pick == NULL; i++) {
		if (cand[i] != NULL && config_hostname_check(cand[i]) == NULL)
			pick = cand[i];
	}
	if (pick != NULL && strlen(pick) < outsize) {
		str_lcpy(out, pick, outsize);
		str_lower(out);
	}
	if (res != NULL)
		freeaddrinfo(res);
}

static const struct config_key *
config_key_find(const struct config_key *keys, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++) {
		if (strcmp(keys[i].name, name) == 0)
			return &keys[i];
	}
	return NULL;
}

/* Returns the service named by s[0..len), or -1. */
static int
config_service_find(const char *name, size_t len)
{
	for (int i = 0; i < SVC_COUNT; i++) {
		if (strlen(config_services[i].name) == len &&
		    memcmp(config_services[i].name, name, len) == 0)
			return i;
	}
	return -1;
}

/* The reason an integer value v (0 for a syntax error) is refused. */
static void
config_uint_reason(const struct config_key *key, unsigned v, char *reason,
    size_t reasonsize)
{
	if (key->type == CONFIG_T_PORT)
		str_printf(reason, reasonsize,
		    "expected a port number from %u to %u%s", key->min,
		    key->max, key->min == 0 ? " (0: the listen port)" : "");
	else if (v < key->min || v == 0)
		str_printf(reason, reasonsize, "expected a positive integer");
	else
		str_printf(reason, reasonsize,
		    "expected an integer from %u to %u", key->min, key->max);
}

/*
 * Parses value into the field key describes inside base. Returns 0, or -1
 * with the reason in reason[]. append: a later plaintext_auth_networks line
 * of the same file, whose networks are added to the earlier ones.
 */
static int
config_value_set(const struct config_key *key, void *base, const char *value,
    bool append, char *reason, size_t reasonsize)
{
	char *field = (char *)base + key->offset;
	uint64_t v;

	switch (key->type) {
	case CONFIG_T_HOSTNAME:
	case CONFIG_T_STRING:
	case CONFIG_T_PATH_OPT:
	case CONFIG_T_LOG_LEVEL:
		/* An over-long host name or log level is refused by the
		 * check below, with the reason its own syntax gives. */
		if (strlen(value) >= key->size &&
		    key->type != CONFIG_T_HOSTNAME &&
		    key->type != CONFIG_T_LOG_LEVEL) {
			str_printf(reason, reasonsize,
			    "value longer than %zu characters",
			    key->size - 1);
			return -1;
		}
		str_lcpy(field, value, key->size);
		if (key->type == CONFIG_T_HOSTNAME ||
		    key->type == CONFIG_T_LOG_LEVEL)
			str_lower(field);
		return config_value_check(key, base, reason, reasonsize);
	case CONFIG_T_UINT:
	case CONFIG_T_PORT:
		if (str_to_u64(value, strlen(value), UINT64_MAX, &v) < 0) {
			config_uint_reason(key, 0, reason, reasonsize);
			return -1;
		}
		*(unsigned *)(void *)field = v > UINT_MAX ? UINT_MAX :
		    (unsigned)v;
		return config_value_check(key, base, reason, reasonsize);
	case CONFIG_T_SIZE:
		if (str_to_size(value, &v) < 0)
			v = 0;		/* reported by the check */
		*(uint64_t *)(void *)field = v;
		return config_value_check(key, base, reason, reasonsize);
	case CONFIG_T_NETS:
		return config_nets_parse(key, base, value, append, reason,
		    reasonsize);
	case CONFIG_T_ADDRESS: {
		unsigned char bin[16];
		char text[INET6_ADDRSTRLEN];
		int family;

		if (strcmp(value, "*") == 0)
			value = "0.0.0.0";
		if (inet_pton(AF_INET, value, bin) == 1)
			family = AF_INET;
		else if (inet_pton(AF_INET6, value, bin) == 1)
			family = AF_INET6;
		else
			family = AF_UNSPEC;
		if (family == AF_UNSPEC ||
		    inet_ntop(family, bin, text, sizeof(text)) == NULL) {
			str_printf(reason, reasonsize, "expected an IPv4 or "
			    "IPv6 address, or '*'");
			return -1;
		}
		str_lcpy(field, text, key->size);
		return 0;
	}
	case CONFIG_T_BOOL:
		for (size_t i = 0; i < ARRAY_SIZE(config_bools); i++) {
			if (strcasecmp(value, config_bools[i].word) == 0) {
				*(bool *)(void *)field = config_bools[i].value;
				return 0;
			}
		}
		str_printf(reason, reasonsize, "expected yes or no");
		return -1;
	}
	str_printf(reason, reasonsize, "unknown key type");
	return -1;
}

/*
 * Checks the value already stored for key inside base: what the file
 * parser applies after storing, and what config_validate applies to the
 * values command-line options set. Returns 0, or -1 with the reason.
 */
static int
config_value_check(const struct config_key *key, const void *base,
    char *reason, size_t reasonsize)
{
	const char *field = (const char *)base + key->offset;
	const char *why = NULL;

	switch (key->type) {
	case CONFIG_T_HOSTNAME:
		why = config_hostname_check(field);
		break;
	case CONFIG_T_STRING:
		if (field[0] == '\0')
			why = "must not be empty";
		break;
	case CONFIG_T_PATH_OPT:
	case CONFIG_T_BOOL:
		break;
	case CONFIG_T_UINT:
	case CONFIG_T_PORT: {
		unsigned v = *(const unsigned *)(const void *)field;

		if (v >= key->min && v <= key->max)
			break;
		config_uint_reason(key, v, reason, reasonsize);
		return -1;
	}
	case CONFIG_T_SIZE:
		if (*(const uint64_t *)(const void *)field == 0)
			why = "expected a positive size in bytes "
			    "(K, M, G suffixes allowed)";
		break;
	case CONFIG_T_LOG_LEVEL:
		why = "expected debug, info, warn or error";
		for (size_t i = 0; i < ARRAY_SIZE(config_log_levels); i++) {
			if (strcmp(field, config_log_levels[i]) == 0)
				why = NULL;
		}
		break;
	case CONFIG_T_NETS: {
		if (*(const unsigned *)(const void *)((const char *)base +
		    key->size) > CONFIG_MAX_NETS)
			why = "too many networks";
		break;
	}
	case CONFIG_T_ADDRESS: {
		unsigned char bin[16];

		if (inet_pton(AF_INET, field, bin) != 1 &&
		    inet_pton(AF_INET6, field, bin) != 1)
			why = "expected an IPv4 or IPv6 address";
		break;
	}
	}
	if (why == NULL)
		return 0;
	str_printf(reason, reasonsize, "%s", why);
	return -1;
}

/* A network list (plaintext_auth_networks, admin_networks): CIDRs
 * separated by commas and blanks. */
static int
config_nets_parse(const struct config_key *key, struct config *cfg,
    const char *value, bool append, char *reason, size_t reasonsize)
{
	struct config_net *nets = (void *)((char *)cfg + key->offset);
	unsigned *count = (void *)((char *)cfg + key->size);
	const char *p = value;
	unsigned n = append ? *count : 0;

	for (;;) {
		char tok[64];
		size_t len;

		p += strspn(p, ", \t");
		if (*p == '\0')
			break;
		len = strcspn(p, ", \t");
		if (len >= sizeof(tok)) {
			str_printf(reason, reasonsize, "'%.40s...' is not a "
			    "network (expected CIDR, like 10.0.0.0/8)", p);
			return -1;
		}
		memcpy(tok, p, len);
		tok[len] = '\0';
		p += len;
		if (n >= CONFIG_MAX_NETS) {
			str_printf(reason, reasonsize,
			    "more than %d networks", CONFIG_MAX_NETS);
			return -1;
		}
		if (config_net_parse(tok, &nets[n]) < 0) {
			str_printf(reason, reasonsize, "'%s' is not a network "
			    "(expected CIDR, like 10.0.0.0/8)", tok);
			return -1;
		}
		n++;
	}
	*count = n;
	return 0;
}

static void
config_parse_fail(struct config_parse *p, const char *fmt, ...)
{
	va_list ap;
	char *msg;

	if (p->error != NULL)
		return;
	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		fatal("out of memory");
	va_end(ap);
	p->error = xasprintf("%s:%d: %s", p->path, p->lineno, msg);
	p->error_line = p->lineno;
	free(msg);
}

/*
 * libinih's fgets-like reader: one physical line per call, so that
 * p->lineno is the line the handler is called for. Returns NULL at the end
 * of the file or after the first error, which stops libinih.
 */
static char *
config_parse_read(char *str, int num, void *stream)
{
	struct config_parse *p = stream;
	const char *s;
	ssize_t n;
	size_t len, text;

	if (p->error != NULL)
		return NULL;
	n = getline(&p->line, &p->linecap, p->fp);
	if (n < 0) {
		if (ferror(p->fp))
			p->read_errno = errno;
		return NULL;
	}
	p->lineno++;
	if (memchr(p->line, '\0', (size_t)n) != NULL) {
		config_parse_fail(p, "NUL byte in line");
		return NULL;
	}
	s = p->line;
	if (p->lineno == 1 && strncmp(s, "\xEF\xBB\xBF", 3) == 0)
		s += 3;		/* UTF-8 byte order mark */
	s += strspn(s, " \t");
	len = strlen(s);
	text = len;
	if (text > 0 && s[text - 1] == '\n')
		text--;
	if (text > 0 && s[text - 1] == '\r')
		text--;
	if (num < 3 || text > (size_t)num - 3) {
		config_parse_fail(p, "line longer than %d characters",
		    num < 3 ? 0 : num - 3);
		return NULL;
	}

	/*
	 * libinih calls the handler for keys only: check section headers
	 * here, so that an unknown section is refused even without keys.
	 * The name ends at ']' or, as in libinih, at a " ;" comment.
	 */
	if (s[0] == '[') {
		size_t end = 1;

		while (s[end] != '\0' && s[end] != ']' &&
		    !(s[end] == ';' && (s[end - 1] == ' ' ||
		    s[end - 1] == '\t')))
			end++;
		if (s[end] == ']') {
			const char *rest = s + end + 1;

			if (config_service_find(s + 1, end - 1) < 0) {
				config_parse_fail(p, "unknown section '%.*s'",
				    (int)(end - 1), s + 1);
				return NULL;
			}
			rest += strspn(rest, " \t\r\n");
			if (*rest != '\0' && *rest != ';' && *rest != '#') {
				config_parse_fail(p, "unexpected text after "
				    "section header");
				return NULL;
			}
		}
		/* Without ']', libinih reports a syntax error. */
	}
	memcpy(str, s, len + 1);
	return str;
}

static int
config_parse_handler(void *user, const char *section, const char *name,
    const char *value)
{
	struct config_parse *p = user;
	const struct config_key *key;
	char reason[256];
	void *base;
	bool append = false;
	int svc = -1;

	if (p->error != NULL)
		return 0;
	if (section[0] == '\0') {
		key = config_key_find(config_keys, ARRAY_SIZE(config_keys),
		    name);
		base = p->cfg;
	} else {
		svc = config_service_find(section, strlen(section));
		if (svc < 0) {
			config_parse_fail(p, "unknown section '%s'", section);
			return 0;
		}
		key = config_key_find(config_listener_keys,
		    ARRAY_SIZE(config_listener_keys), name);
		base = &p->cfg->listeners[svc];
	}
	if (key == NULL) {
		if (svc < 0)
			config_parse_fail(p, "unknown key '%s'", name);
		else
			config_parse_fail(p, "unknown key '%s' in [%s]", name,
			    section);
		return 0;
	}
	if (key->type == CONFIG_T_NETS) {
		size_t i = (size_t)(key - config_keys);

		append = p->nets_seen[i];
		p->nets_seen[i] = true;
	}
	if (config_value_set(key, base, value, append, reason,
	    sizeof(reason)) < 0) {
		if (svc < 0)
			config_parse_fail(p, "key '%s': %s", name, reason);
		else
			config_parse_fail(p, "key '%s' in [%s]: %s", name,
			    section, reason);
		return 0;
	}
	return 1;
}

int
config_load_file(struct config *cfg, const char *path, char **error_r)
{
	struct config_parse p;
	int rc;

	*error_r = NULL;
	memset(&p, 0, sizeof(p));
	p.path = path;
	if (strlen(path) >= sizeof(cfg->path)) {
		*error_r = xasprintf("%s: path too long", path);
		return -1;
	}
	if ((p.fp = fopen(path, "r")) == NULL) {
		*error_r = xasprintf("%s: %s", path, strerror(errno));
		return -1;
	}
	/* Parse into a copy: on error, *cfg stays as it was. */
	p.cfg = xmalloc(sizeof(*p.cfg));
	memcpy(p.cfg, cfg, sizeof(*p.cfg));
	rc = ini_parse_stream(config_parse_read, &p, config_parse_handler, &p);
	if (rc > 0 && (p.error == NULL || rc < p.error_line)) {
		/* libinih's own finding, on an earlier line than ours. */
		xfree(p.error);
		p.error = xasprintf("%s:%d: syntax error (expected "
		    "'key = value' or '[section]')", path, rc);
	} else if (rc < 0 && p.error == NULL) {
		p.error = xasprintf("%s: out of memory", path);
	} else if (p.error == NULL && p.read_errno != 0) {
		p.error = xasprintf("%s: %s", path, strerror(p.read_errno));
	}
	fclose(p.fp);
	free(p.line);
	if (p.error == NULL) {
		str_lcpy(p.cfg->path, path, sizeof(p.cfg->path));
		memcpy(cfg, p.cfg, sizeof(*cfg));
	}
	free(p.cfg);
	*error_r = p.error;
	return p.error == NULL ? 0 : -1;
}

/* Two enabled listeners on one port collide when their addresses are the
 * same or either is a wildcard (an IPv6 wildcard takes IPv4 too). */
static bool
config_listeners_overlap(const struct config_listener *a,
    const struct config_listener *b)
{
	static const char *const any[] = { "0.0.0.0", "::" };

	if (strcmp(a->address, b->address) == 0)
		return true;
	for (size_t i = 0; i < ARRAY_SIZE(any); i++) {
		if (strcmp(a->address, any[i]) == 0 ||
		    strcmp(b->address, any[i]) == 0)
			return true;
	}
	return false;
}

int
config_validate(const struct config *cfg, char **error_r)
{
	char reason[256];

	*error_r = NULL;
	for (size_t i = 0; i < ARRAY_SIZE(config_keys); i++) {
		if (config_value_check(&config_keys[i], cfg, reason,
		    sizeof(reason)) < 0) {
			*error_r = xasprintf("key '%s': %s",
			    config_keys[i].name, reason);
			return -1;
		}
	}
	for (size_t s = 0; s < SVC_COUNT; s++) {
		const struct config_listener *l = &cfg->listeners[s];
		unsigned port;

		for (size_t i = 0; i < ARRAY_SIZE(config_listener_keys); i++) {
			const struct config_key *k = &config_listener_keys[i];

			if (config_value_check(k, l, reason,
			    sizeof(reason)) < 0) {
				*error_r = xasprintf("key '%s' in [%s]: %s",
				    k->name, config_services[s].name, reason);
				return -1;
			}
		}
		if (!l->enabled)
			continue;
		if (cfg->port_offset > 65535 ||
		    l->port + cfg->port_offset > 65535) {
			*error_r = xasprintf("[%s]: port %u + port offset %u "
			    "is beyond 65535", config_services[s].name,
			    l->port, cfg->port_offset);
			return -1;
		}
		port = config_listen_port(cfg, (enum config_service)s);
		for (size_t t = 0; t < s; t++) {
			const struct config_listener *o = &cfg->listeners[t];

			if (o->enabled && config_listen_port(cfg,
			    (enum config_service)t) == port &&
			    config_listeners_overlap(l, o)) {
				*error_r = xasprintf("[%s] and [%s] both "
				    "listen on port %u",
				    config_services[t].name,
				    config_services[s].name, port);
				return -1;
			}
		}
	}
	if (strcmp(cfg->dkim_key_type, "rsa") != 0 &&
	    strcmp(cfg->dkim_key_type, "ed25519") != 0) {
		*error_r = xasprintf("key 'dkim_key_type': expected rsa or "
		    "ed25519");
		return -1;
	}
	if (strcmp(cfg->relay_tls, "starttls") != 0 &&
	    strcmp(cfg->relay_tls, "tls") != 0 &&
	    strcmp(cfg->relay_tls, "none") != 0) {
		*error_r = xasprintf("key 'relay_tls': expected starttls, tls "
		    "or none");
		return -1;
	}
	if (cfg->relay_user[0] != '\0' && strcmp(cfg->relay_tls, "none") == 0) {
		*error_r = xasprintf("key 'relay_user': credentials need "
		    "relay_tls = starttls or tls");
		return -1;
	}
	return 0;
}

/* Formats a network as "ADDRESS/PREFIX"; returns its length, 0 on error. */
static size_t
config_net_format(const struct config_net *net, char *out, size_t outsize)
{
	char text[INET6_ADDRSTRLEN];
	int n;

	if (inet_ntop(net->family, net->addr, text, sizeof(text)) == NULL)
		return 0;
	n = str_printf(out, outsize, "%s/%u", text, net->prefix);
	return n < 0 ? 0 : (size_t)n;
}

/* Writes the networks on as many lines as libinih's line length needs;
 * config_nets_parse joins the lines of one file. */
static void
config_nets_print(const struct config_key *key, const struct config *cfg,
    FILE *out)
{
	const struct config_net *nets = (const void *)((const char *)cfg +
	    key->offset);
	unsigned count = *(const unsigned *)(const void *)((const char *)cfg +
	    key->size);
	const char *name = key->name;
	size_t used = 0;

	if (count == 0) {
		fprintf(out, "%s =\n", name);
		return;
	}
	for (unsigned i = 0; i < count && i < CONFIG_MAX_NETS; i++) {
		char text[INET6_ADDRSTRLEN + 8];
		size_t len;

		len = config_net_format(&nets[i], text, sizeof(text));
		if (len == 0)
			continue;
		if (used > 0 && used + 2 + len > CONFIG_LINE_MAX) {
			fputc('\n', out);
			used = 0;
		}
		if (used == 0)
			used = (size_t)fprintf(out, "%s = %s", name, text);
		else
			used += (size_t)fprintf(out, ", %s", text);
	}
	if (used > 0)
		fputc('\n', out);
}

static void
config_value_print(const struct config_key *key, const void *base,
    FILE *out)
{
	const char *field = (const char *)base + key->offset;

	switch (key->type) {
	case CONFIG_T_HOSTNAME:
	case CONFIG_T_STRING:
	case CONFIG_T_PATH_OPT:
	case CONFIG_T_LOG_LEVEL:
	case CONFIG_T_ADDRESS:
		if (field[0] == '\0')
			fprintf(out, "%s =\n", key->name);
		else if (strcmp(key->name, "relay_password") == 0)
			/* a secret: shown as set, never printed */
			fprintf(out, "# %s = (set, not shown)\n", key->name);
		else
			fprintf(out, "%s = %s\n", key->name, field);
		break;
	case CONFIG_T_UINT:
	case CONFIG_T_PORT:
		fprintf(out, "%s = %u\n", key->name,
		    *(const unsigned *)(const void *)field);
		break;
	case CONFIG_T_SIZE: {
		static const char suffix[] = "GMK";
		uint64_t v = *(const uint64_t *)(const void *)field;
		uint64_t unit = 1024ULL * 1024 * 1024;
		size_t i;

		/* The largest suffix that keeps the value exact. */
		for (i = 0; i < 3 && (v == 0 || v % unit != 0); i++)
			unit /= 1024;
		if (i < 3)
			fprintf(out, "%s = %" PRIu64 "%c\n", key->name,
			    v / unit, suffix[i]);
		else
			fprintf(out, "%s = %" PRIu64 "\n", key->name, v);
		break;
	}
	case CONFIG_T_NETS:
		config_nets_print(key, base, out);
		break;
	case CONFIG_T_BOOL:
		fprintf(out, "%s = %s\n", key->name,
		    *(const bool *)(const void *)field ? "yes" : "no");
		break;
	}
}

void
config_print(const struct config *cfg, FILE *out)
{
	fputs("# Facteur: effective configuration\n", out);
	if (cfg->port_offset != 0)
		fprintf(out, "# (--port-offset %u is added to every port)\n",
		    cfg->port_offset);
	for (size_t i = 0; i < ARRAY_SIZE(config_keys); i++)
		config_value_print(&config_keys[i], cfg, out);
	for (size_t s = 0; s < SVC_COUNT; s++) {
		fprintf(out, "\n[%s]\n", config_services[s].name);
		for (size_t i = 0; i < ARRAY_SIZE(config_listener_keys); i++)
			config_value_print(&config_listener_keys[i],
			    &cfg->listeners[s], out);
	}
}

unsigned
config_listen_port(const struct config *cfg, enum config_service svc)
{
	return cfg->listeners[svc].port + cfg->port_offset;
}

unsigned
config_public_port(const struct config *cfg, enum config_service svc)
{
	if (cfg->listeners[svc].public_port != 0)
		return cfg->listeners[svc].public_port;
	return config_listen_port(cfg, svc);
}

int
config_net_parse(const char *s, struct config_net *net_r)
{
	struct config_net net;
	char text[INET6_ADDRSTRLEN];
	const char *slash = strchr(s, '/');
	size_t alen = slash != NULL ? (size_t)(slash - s) : strlen(s);
	unsigned max;
	uint64_t prefix;

	if (alen == 0 || alen >= sizeof(text))
		return -1;
	memcpy(text, s, alen);
	text[alen] = '\0';
	memset(&net, 0, sizeof(net));
	if (inet_pton(AF_INET, text, net.addr) == 1) {
		net.family = AF_INET;
		max = 32;
	} else if (inet_pton(AF_INET6, text, net.addr) == 1) {
		net.family = AF_INET6;
		max = 128;
	} else {
		return -1;
	}
	if (slash == NULL)
		prefix = max;
	else if (str_to_u64(slash + 1, strlen(slash + 1), max, &prefix) < 0)
		return -1;
	net.prefix = (unsigned)prefix;
	/* Clear the host bits: "10.1.2.3/8" is 10.0.0.0/8. */
	for (unsigned bit = net.prefix; bit < max; bit++)
		net.addr[bit / 8] &= (unsigned char)~(0x80u >> (bit % 8));
	*net_r = net;
	return 0;
}

/*
 * An IPv4-mapped IPv6 address (RFC 4291 2.5.5.2), as a dual-stack socket
 * reports IPv4 clients, or a network inside ::ffff:0:0/96, is compared as
 * IPv4. Returns false for families other than AF_INET and AF_INET6.
 */
static bool
config_net_canon(int family, const unsigned char *addr, unsigned prefix,
    int *family_r, const unsigned char **addr_r, unsigned *prefix_r)
{
	static const unsigned char mapped[12] = {
		0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff
	};

	if (family == AF_INET6 && prefix >= 96 &&
	    memcmp(addr, mapped, sizeof(mapped)) == 0) {
		*family_r = AF_INET;
		*addr_r = addr + 12;
		*prefix_r = prefix - 96;
		return true;
	}
	if (family != AF_INET && family != AF_INET6)
		return false;
	*family_r = family;
	*addr_r = addr;
	*prefix_r = prefix;
	return true;
}

bool
config_net_match(const struct config_net *nets, unsigned count,
    const void *sockaddr)
{
	const struct sockaddr *sa = sockaddr;
	const unsigned char *caddr;
	unsigned cbits;
	int cfamily;

	if (sa == NULL)
		return false;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *sin = sockaddr;

		caddr = (const unsigned char *)&sin->sin_addr;
		cfamily = AF_INET;
		cbits = 32;
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = sockaddr;

		if (!config_net_canon(AF_INET6,
		    (const unsigned char *)&sin6->sin6_addr, 128, &cfamily,
		    &caddr, &cbits))
			return false;
	} else {
		return false;
	}
	for (unsigned i = 0; i < count && i < CONFIG_MAX_NETS; i++) {
		const unsigned char *naddr;
		unsigned nbits, full, rest;
		int nfamily;

		if (!config_net_canon(nets[i].family, nets[i].addr,
		    nets[i].prefix, &nfamily, &naddr, &nbits) ||
		    nfamily != cfamily || nbits > cbits)
			continue;
		full = nbits / 8;
		rest = nbits % 8;
		if (memcmp(naddr, caddr, full) != 0)
			continue;
		if (rest != 0) {
			unsigned char mask;

			mask = (unsigned char)(0xffu << (8 - rest));
			if ((naddr[full] & mask) != (caddr[full] & mask))
				continue;
		}
		return true;
	}
	return false;
}
