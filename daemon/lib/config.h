/*
 * config.h: the effective configuration. Every key has a built-in default
 * (config_init), so `facteur serve` runs without a file. A file in INI form
 * (libinih) overrides them; the command line overrides the file.
 *
 * Depends on lib/ only (unit-testable without network or database).
 */
#ifndef FACTEUR_CONFIG_H
#define FACTEUR_CONFIG_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

/* Services in the order their ports are listed everywhere. */
enum config_service {
	SVC_SMTP,		/* 25, MX, STARTTLS */
	SVC_SUBMISSION,		/* 587, STARTTLS */
	SVC_SUBMISSIONS,	/* 465, implicit TLS */
	SVC_IMAP,		/* 143, STARTTLS */
	SVC_IMAPS,		/* 993, implicit TLS */
	SVC_POP3,		/* 110, STLS */
	SVC_POP3S,		/* 995, implicit TLS */
	SVC_HTTPS,		/* 443, admin panel, API, autoconfig */
	SVC_HTTP,		/* 80, autoconfig and redirect */
	SVC_COUNT
};

struct config_listener {
	const char *name;	/* "smtp", "submission", ... (section name) */
	char address[64];	/* listen address; default "0.0.0.0" */
	unsigned port;		/* listen port before --port-offset */
	unsigned public_port;	/* what clients are told; 0 = port */
	bool implicit_tls;	/* fixed per service */
	bool enabled;		/* default true */
};

/* One network in CIDR form, IPv4 or IPv6. */
struct config_net {
	int family;		/* AF_INET or AF_INET6 */
	unsigned char addr[16];
	unsigned prefix;
};

#define CONFIG_MAX_NETS 32

struct config {
	char hostname[256];	/* public host name; default: machine FQDN */
	char data_dir[4096];	/* default "/var/lib/facteur" */
	char user[64];		/* drop to this user when started as root */
	char tls_cert[4096];	/* PEM; empty = data_dir/tls/cert.pem */
	char tls_key[4096];	/* PEM; empty = data_dir/tls/key.pem */
	uint64_t max_message_size;	/* bytes, default 50 MiB */
	unsigned max_recipients;	/* default 100 */
	/* Submission, per mailbox (overridable per mailbox); 0: none */
	unsigned send_limit_messages_per_hour;	/* default 200 */
	unsigned send_limit_recipients_per_day;	/* default 1000 */
	unsigned max_connections;	/* total, default 1000 */
	unsigned max_connections_per_ip;	/* default 20 */
	unsigned timeout_idle;		/* seconds, default 300 (RFC 5321 4.5.3.2.7) */
	unsigned timeout_data;		/* seconds between DATA chunks, default 600 */
	unsigned loop_threads;		/* event loop threads, default 2 */
	unsigned worker_threads;	/* blocking-work threads, default 4 */
	/* Outbound queue */
	unsigned queue_threads;		/* concurrent deliveries, default 4 */
	unsigned queue_domain_concurrency;	/* per domain, default 2 */
	unsigned queue_retry_initial;	/* seconds, default 300 */
	unsigned queue_retry_max;	/* seconds, default 14400 */
	unsigned queue_lifetime;	/* seconds, default 432000 (5 days) */
	unsigned remote_smtp_port;	/* default 25 */
	unsigned remote_timeout;	/* seconds per network step, 300 */
	char resolver[64];		/* "" system, or "IP" / "IP@PORT" */
	/* DKIM (RFC 6376) */
	char dkim_selector[64];		/* default "facteur" */
	char dkim_key_type[16];		/* "rsa" (default) or "ed25519" */
	/* Relay host (smarthost): all outbound mail goes there when set */
	char relay_host[256];		/* "" none */
	unsigned relay_port;		/* default 587 */
	char relay_tls[16];		/* "starttls" (default), "tls", "none" */
	bool relay_verify;		/* verify its certificate, default yes */
	char relay_user[256];
	char relay_password[256];	/* never printed */
	char log_level[16];		/* "debug", "info", "warn", "error" */
	struct config_net plaintext_auth_networks[CONFIG_MAX_NETS];
	unsigned plaintext_auth_networks_count;	/* default 0: none */
	/* Who may use /api on the https listener; count 0: everyone. */
	struct config_net admin_networks[CONFIG_MAX_NETS];
	unsigned admin_networks_count;
	unsigned session_idle_timeout;	/* API sessions, seconds, 1800 */
	unsigned session_lifetime;	/* API sessions, seconds, 43200 */
	/* Failed logins from one client address before it is refused
	 * (auth.h: AUTH_IP_BLOCK is the default, 50). */
	unsigned auth_max_failures;
	unsigned port_offset;		/* from --port-offset, added to every port */
	struct config_listener listeners[SVC_COUNT];
	char path[4096];		/* the file read, or "" for built-ins */
};

/* Fills every field with its built-in default. */
void config_init(struct config *cfg);

/*
 * Reads an INI file over the current values. Unknown sections or keys and
 * invalid values are errors: returns -1 and sets *error_r to a message
 * naming the file, line and key ("FILE:LINE: key 'x': reason"), allocated
 * with malloc (caller frees). Returns 0 on success.
 */
int config_load_file(struct config *cfg, const char *path, char **error_r);

/* Checks cross-key consistency after loading and command-line overrides
 * (ports in range after the offset, sizes non-zero). 0 or -1 and a
 * malloc'ed *error_r. */
int config_validate(const struct config *cfg, char **error_r);

/* Writes the effective configuration as an INI file that config_load_file
 * accepts back (used by `serve --check-config`). */
void config_print(const struct config *cfg, FILE *out);

/* The port to listen on: listeners[svc].port + port_offset. */
unsigned config_listen_port(const struct config *cfg, enum config_service svc);
/* The port clients are told: public_port, or the listen port. */
unsigned config_public_port(const struct config *cfg, enum config_service svc);

/* Parses "10.0.0.0/8" or "::1/128" or a bare address. 0 or -1. */
int config_net_parse(const char *s, struct config_net *net_r);
/* True when the socket address (struct sockaddr *) lies in one of the
 * plaintext_auth_networks. */
bool config_net_match(const struct config_net *nets, unsigned count,
    const void *sockaddr);

#endif
