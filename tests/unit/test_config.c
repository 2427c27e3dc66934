/*
 * test_config.c: defaults, the INI file (overrides, every error with its
 * line and key), size suffixes, CIDR parsing and matching, print/load
 * round trip and cross-key validation.
 */
#include <sys/socket.h>

#include <arpa/inet.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#include "lib/config.h"
#include "lib/util.h"
#include "t.h"

static char test_path_buf[64];
static const char *test_path = test_path_buf;

/* Writes len bytes to a new temporary file named in test_path. */
static void
test_write(const char *data, size_t len)
{
	int fd;

	str_lcpy(test_path_buf, "/tmp/facteur-test-config-XXXXXX",
	    sizeof(test_path_buf));
	fd = mkstemp(test_path_buf);
	if (fd < 0)
		fatal("mkstemp failed");
	if (write(fd, data, len) != (ssize_t)len)
		fatal("write failed");
	close(fd);
}

/* Loads text over cfg from a temporary file; returns config_load_file's
 * result. The file is removed again; test_path keeps its name. */
static int
test_load_n(struct config *cfg, const char *data, size_t len, char **error_r)
{
	int rc;

	test_write(data, len);
	rc = config_load_file(cfg, test_path, error_r);
	unlink(test_path);
	return rc;
}

static int
test_load(struct config *cfg, const char *text, char **error_r)
{
	return test_load_n(cfg, text, strlen(text), error_r);
}

static bool
test_net_equal(const struct config_net *a, const struct config_net *b)
{
	return a->family == b->family && a->prefix == b->prefix &&
	    memcmp(a->addr, b->addr, sizeof(a->addr)) == 0;
}

/* Every field config_print writes (path and port_offset are not keys). */
static bool
test_config_equal(const struct config *a, const struct config *b)
{
	if (strcmp(a->hostname, b->hostname) != 0 ||
	    strcmp(a->data_dir, b->data_dir) != 0 ||
	    strcmp(a->user, b->user) != 0 ||
	    strcmp(a->tls_cert, b->tls_cert) != 0 ||
	    strcmp(a->tls_key, b->tls_key) != 0 ||
	    a->max_message_size != b->max_message_size ||
	    a->max_recipients != b->max_recipients ||
	    a->send_limit_messages_per_hour !=
	    b->send_limit_messages_per_hour ||
	    a->send_limit_recipients_per_day !=
	    b->send_limit_recipients_per_day ||
	    a->max_connections != b->max_connections ||
	    a->max_connections_per_ip != b->max_connections_per_ip ||
	    a->timeout_idle != b->timeout_idle ||
	    a->timeout_data != b->timeout_data ||
	    a->loop_threads != b->loop_threads ||
	    a->worker_threads != b->worker_threads ||
	    strcmp(a->log_level, b->log_level) != 0 ||
	    a->plaintext_auth_networks_count !=
	    b->plaintext_auth_networks_count)
		return false;
	for (unsigned i = 0; i < a->plaintext_auth_networks_count; i++) {
		if (!test_net_equal(&a->plaintext_auth_networks[i],
		    &b->plaintext_auth_networks[i]))
			return false;
	}
	for (int s = 0; s < SVC_COUNT; s++) {
		const struct config_listener *x = &a->listeners[s];
		const struct config_listener *y = &b->listeners[s];

		if (strcmp(x->name, y->name) != 0 ||
		    strcmp(x->address, y->address) != 0 ||
		    x->port != y->port || x->public_port != y->public_port ||
		    x->implicit_tls != y->implicit_tls ||
		    x->enabled != y->enabled)
			return false;
	}
	return true;
}

static char *
test_print(const struct config *cfg)
{
	char *buf = NULL;
	size_t size = 0;
	FILE *fp = open_memstream(&buf, &size);

	if (fp == NULL)
		fatal("open_memstream failed");
	config_print(cfg, fp);
	fclose(fp);
	return buf;
}

static void
test_defaults(void)
{
	static const struct {
		const char *name;
		unsigned port;
		bool tls;
	} svc[SVC_COUNT] = {
		{ "smtp", 25, false }, { "submission", 587, false },
		{ "submissions", 465, true }, { "imap", 143, false },
		{ "imaps", 993, true }, { "pop3", 110, false },
		{ "pop3s", 995, true }, { "https", 443, true },
		{ "http", 80, false },
	};
	struct config cfg;
	char *error = NULL;

	config_init(&cfg);
	CHECK(cfg.hostname[0] != '\0');
	CHECK_STREQ(cfg.data_dir, "/var/lib/facteur");
	CHECK_STREQ(cfg.user, "facteur");
	CHECK_STREQ(cfg.tls_cert, "");
	CHECK_STREQ(cfg.tls_key, "");
	CHECK(cfg.max_message_size == 50ULL * 1024 * 1024);
	CHECK(cfg.max_recipients == 100);
	CHECK(cfg.send_limit_messages_per_hour == 200);
	CHECK(cfg.send_limit_recipients_per_day == 1000);
	CHECK(cfg.max_connections == 1000);
	CHECK(cfg.max_connections_per_ip == 20);
	CHECK(cfg.timeout_idle == 300);
	CHECK(cfg.timeout_data == 600);
	CHECK(cfg.loop_threads == 2);
	CHECK(cfg.worker_threads == 4);
	CHECK_STREQ(cfg.log_level, "info");
	CHECK(cfg.plaintext_auth_networks_count == 0);
	CHECK(cfg.port_offset == 0);
	CHECK_STREQ(cfg.path, "");
	for (int s = 0; s < SVC_COUNT; s++) {
		const struct config_listener *l = &cfg.listeners[s];

		CHECK_STREQ(l->name, svc[s].name);
		CHECK_STREQ(l->address, "0.0.0.0");
		CHECK(l->port == svc[s].port);
		CHECK(l->public_port == 0);
		CHECK(l->implicit_tls == svc[s].tls);
		CHECK(l->enabled);
		CHECK(config_listen_port(&cfg, (enum config_service)s) ==
		    svc[s].port);
		CHECK(config_public_port(&cfg, (enum config_service)s) ==
		    svc[s].port);
	}
	CHECK(config_validate(&cfg, &error) == 0);
	CHECK(error == NULL);

	/* The default host name must survive the file's own check. */
	{
		char *text = xasprintf("hostname = %s\n", cfg.hostname);
		struct config other;

		config_init(&other);
		CHECK(test_load(&other, text, &error) == 0);
		CHECK(error == NULL);
		xfree(error);
		free(text);
	}

	cfg.port_offset = 10000;
	cfg.listeners[SVC_IMAPS].public_port = 993;
	CHECK(config_listen_port(&cfg, SVC_SMTP) == 10025);
	CHECK(config_public_port(&cfg, SVC_SMTP) == 10025);
	CHECK(config_listen_port(&cfg, SVC_IMAPS) == 10993);
	CHECK(config_public_port(&cfg, SVC_IMAPS) == 993);
}

static void
test_overrides(void)
{
	static const char text[] =
	    "\xEF\xBB\xBF# Facteur test configuration\r\n"
	    "; another comment\n"
	    "\n"
	    "hostname = Mail.Example.COM   ; inline comment\n"
	    "data_dir = /srv/facteur\n"
	    "  user = mailer\n"
	    "tls_cert = /etc/ssl/cert.pem\r\n"
	    "tls_key: /etc/ssl/key.pem\n"
	    "max_message_size = 10K\n"
	    "max_recipients = 50\n"
	    "max_connections = 2000\n"
	    "max_connections_per_ip = 7\n"
	    "timeout_idle = 60\n"
	    "timeout_data = 120\n"
	    "loop_threads = 1\n"
	    "worker_threads = 8\n"
	    "log_level = DEBUG\n"
	    "plaintext_auth_networks = 127.0.0.0/8, ::1/128\n"
	    "plaintext_auth_networks = 10.1.2.3/8\t192.168.0.0/16,,\n"
	    "\n"
	    "[smtp]\n"
	    "address = *\n"
	    "port = 2525\n"
	    "public_port = 25\n"
	    "\t[imap]\n"
	    "\tenabled = no\n"
	    "[submission]\n"
	    "address = ::\n"
	    "enabled = Off\n"
	    "[pop3s]\n"
	    "address = 0:0::1\n"
	    "enabled = 1\n"
	    "[http]\n"
	    "enabled = false\n"
	    "[https]\n"
	    "address = 192.0.2.1\n"
	    "enabled = TRUE\n"
	    "[smtp]\n"
	    "enabled = on\n"
	    "[imaps] ; the section may stay empty\n";
	struct config cfg;
	struct config_net net;
	char *error = NULL;

	config_init(&cfg);
	CHECK(test_load(&cfg, text, &error) == 0);
	CHECK_MSG(error == NULL, "%s", error);
	xfree(error);
	CHECK_STREQ(cfg.path, test_path);
	CHECK_STREQ(cfg.hostname, "mail.example.com");
	CHECK_STREQ(cfg.data_dir, "/srv/facteur");
	CHECK_STREQ(cfg.user, "mailer");
	CHECK_STREQ(cfg.tls_cert, "/etc/ssl/cert.pem");
	CHECK_STREQ(cfg.tls_key, "/etc/ssl/key.pem");
	CHECK(cfg.max_message_size == 10240);
	CHECK(cfg.max_recipients == 50);
	CHECK(cfg.max_connections == 2000);
	CHECK(cfg.max_connections_per_ip == 7);
	CHECK(cfg.timeout_idle == 60);
	CHECK(cfg.timeout_data == 120);
	CHECK(cfg.loop_threads == 1);
	CHECK(cfg.worker_threads == 8);
	CHECK_STREQ(cfg.log_level, "debug");
	/* A key repeated in one file adds to its list. */
	CHECK(cfg.plaintext_auth_networks_count == 4);
	CHECK(config_net_parse("127.0.0.0/8", &net) == 0 &&
	    test_net_equal(&cfg.plaintext_auth_networks[0], &net));
	CHECK(config_net_parse("::1", &net) == 0 &&
	    test_net_equal(&cfg.plaintext_auth_networks[1], &net));
	CHECK(config_net_parse("10.0.0.0/8", &net) == 0 &&
	    test_net_equal(&cfg.plaintext_auth_networks[2], &net));
	CHECK(config_net_parse("192.168.0.0/16", &net) == 0 &&
	    test_net_equal(&cfg.plaintext_auth_networks[3], &net));

	CHECK_STREQ(cfg.listeners[SVC_SMTP].address, "0.0.0.0");
	CHECK(cfg.listeners[SVC_SMTP].port == 2525);
	CHECK(cfg.listeners[SVC_SMTP].public_port == 25);
	CHECK(cfg.listeners[SVC_SMTP].enabled);
	CHECK(config_public_port(&cfg, SVC_SMTP) == 25);
	CHECK(config_listen_port(&cfg, SVC_SMTP) == 2525);
	CHECK(!cfg.listeners[SVC_IMAP].enabled);
	CHECK(cfg.listeners[SVC_IMAP].port == 143);
	CHECK_STREQ(cfg.listeners[SVC_SUBMISSION].address, "::");
	CHECK(!cfg.listeners[SVC_SUBMISSION].enabled);
	CHECK_STREQ(cfg.listeners[SVC_POP3S].address, "::1");
	CHECK(cfg.listeners[SVC_POP3S].enabled);
	CHECK(!cfg.listeners[SVC_HTTP].enabled);
	CHECK_STREQ(cfg.listeners[SVC_HTTPS].address, "192.0.2.1");
	CHECK(cfg.listeners[SVC_HTTPS].enabled);
	CHECK(cfg.listeners[SVC_HTTPS].implicit_tls);
	CHECK(cfg.listeners[SVC_IMAPS].port == 993);
	CHECK(config_validate(&cfg, &error) == 0);
	xfree(error);

	/* A second file overlays the first; its first networks line
	 * replaces the list. */
	CHECK(test_load(&cfg, "max_recipients = 60\n"
	    "plaintext_auth_networks = 2001:db8::/32\n", &error) == 0);
	xfree(error);
	CHECK(cfg.max_recipients == 60);
	CHECK(cfg.worker_threads == 8);
	CHECK(cfg.plaintext_auth_networks_count == 1);
	CHECK(test_load(&cfg, "plaintext_auth_networks =\n", &error) == 0);
	xfree(error);
	CHECK(cfg.plaintext_auth_networks_count == 0);

	/* An empty file changes nothing but the path. */
	CHECK(test_load(&cfg, "", &error) == 0);
	xfree(error);
	CHECK(cfg.max_recipients == 60);
	CHECK_STREQ(cfg.path, test_path);
}

static void
test_sizes(void)
{
	static const struct {
		const char *value;
		uint64_t bytes;		/* 0: refused */
	} cases[] = {
		{ "1", 1 },
		{ "12345", 12345 },
		{ "10K", 10ULL * 1024 },
		{ "10k", 10ULL * 1024 },
		{ "2M", 2ULL * 1024 * 1024 },
		{ "50m", 50ULL * 1024 * 1024 },
		{ "1G", 1024ULL * 1024 * 1024 },
		{ "3g", 3ULL * 1024 * 1024 * 1024 },
		{ "0", 0 },
		{ "0M", 0 },
		{ "M", 0 },
		{ "10X", 0 },
		{ "1.5M", 0 },
		{ "-1", 0 },
		{ "10 M", 0 },
		{ "", 0 },
		{ "99999999999999999999", 0 },
		{ "17179869184G", 0 },		/* 2^64 bytes */
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct config cfg;
		char *text, *error = NULL, *want;
		int rc;

		config_init(&cfg);
		text = xasprintf("max_message_size = %s\n", cases[i].value);
		rc = test_load(&cfg, text, &error);
		if (cases[i].bytes != 0) {
			CHECK_MSG(rc == 0 && cfg.max_message_size ==
			    cases[i].bytes, "'%s'", cases[i].value);
		} else {
			want = xasprintf("%s:1: key 'max_message_size': "
			    "expected a positive size in bytes (K, M, G "
			    "suffixes allowed)", test_path);
			CHECK_MSG(rc == -1, "'%s'", cases[i].value);
			CHECK_STREQ(error, want);
			CHECK(cfg.max_message_size == 50ULL * 1024 * 1024);
			free(want);
		}
		free(error);
		free(text);
	}
}

static void
test_errors(void)
{
	/* Each row: file text, then the error after "PATH:". */
	static const struct {
		const char *text;
		const char *error;
	} cases[] = {
		{ "max_recipients = 0\n",
		    "1: key 'max_recipients': expected a positive integer" },
		{ "# comment\n\nmax_recipients = abc\n",
		    "3: key 'max_recipients': expected a positive integer" },
		{ "max_recipients = -1\n",
		    "1: key 'max_recipients': expected a positive integer" },
		{ "max_recipients =\n",
		    "1: key 'max_recipients': expected a positive integer" },
		{ "max_recipients = 100001\n",
		    "1: key 'max_recipients': expected an integer from 1 "
		    "to 100000" },
		{ "max_recipients = 99999999999999999999999\n",
		    "1: key 'max_recipients': expected a positive integer" },
		{ "max_connections = 1e3\n",
		    "1: key 'max_connections': expected a positive integer" },
		{ "max_connections_per_ip = 0\n",
		    "1: key 'max_connections_per_ip': expected a positive "
		    "integer" },
		{ "timeout_idle = 86401\n",
		    "1: key 'timeout_idle': expected an integer from 1 to "
		    "86400" },
		{ "timeout_data = 5s\n",
		    "1: key 'timeout_data': expected a positive integer" },
		{ "timeout_data = 0\n",
		    "1: key 'timeout_data': expected a positive integer" },
		{ "loop_threads = 0\n",
		    "1: key 'loop_threads': expected a positive integer" },
		{ "worker_threads = 5000\n",
		    "1: key 'worker_threads': expected an integer from 1 to "
		    "1024" },
		{ "hostname = -mail.example.com\n",
		    "1: key 'hostname': host name label starts with a "
		    "hyphen" },
		{ "hostname = mail-.example.com\n",
		    "1: key 'hostname': host name label ends with a hyphen" },
		{ "hostname = mail_1.example.com\n",
		    "1: key 'hostname': invalid character in host name "
		    "(letters, digits, '-' and '.' only)" },
		{ "hostname = mail..example.com\n",
		    "1: key 'hostname': empty label in host name" },
		{ "hostname = mail.example.com.\n",
		    "1: key 'hostname': empty label in host name" },
		{ "hostname = 192.0.2.1\n",
		    "1: key 'hostname': host name ends with an all-numeric "
		    "label" },
		{ "hostname =\n",
		    "1: key 'hostname': expected a host name" },
		{ "hostname = aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		    "aaaaaaaaaaaaaaaa.example\n",
		    "1: key 'hostname': host name label longer than 63 "
		    "characters" },
		{ "data_dir =\n",
		    "1: key 'data_dir': must not be empty" },
		{ "user =\n",
		    "1: key 'user': must not be empty" },
		{ "user = aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		    "aaaaaaaaaaaa\n",
		    "1: key 'user': value longer than 63 characters" },
		{ "log_level = verbose\n",
		    "1: key 'log_level': expected debug, info, warn or error" },
		{ "log_level = warning\n",
		    "1: key 'log_level': expected debug, info, warn or error" },
		{ "log_level = debug-and-then-some\n",
		    "1: key 'log_level': expected debug, info, warn or error" },
		{ "plaintext_auth_networks = 10.0.0.0/8, 10.0.0.0/33\n",
		    "1: key 'plaintext_auth_networks': '10.0.0.0/33' is not a "
		    "network (expected CIDR, like 10.0.0.0/8)" },
		{ "plaintext_auth_networks = localhost\n",
		    "1: key 'plaintext_auth_networks': 'localhost' is not a "
		    "network (expected CIDR, like 10.0.0.0/8)" },
		{ "[smtp]\nport = 0\n",
		    "2: key 'port' in [smtp]: expected a port number from 1 "
		    "to 65535" },
		{ "[imap]\nport = 65536\n",
		    "2: key 'port' in [imap]: expected a port number from 1 "
		    "to 65535" },
		{ "[imaps]\nport = imaps\n",
		    "2: key 'port' in [imaps]: expected a port number from 1 "
		    "to 65535" },
		{ "[pop3]\npublic_port = x\n",
		    "2: key 'public_port' in [pop3]: expected a port number "
		    "from 0 to 65535 (0: the listen port)" },
		{ "[pop3s]\n\npublic_port = 70000\n",
		    "3: key 'public_port' in [pop3s]: expected a port number "
		    "from 0 to 65535 (0: the listen port)" },
		{ "[http]\naddress = localhost\n",
		    "2: key 'address' in [http]: expected an IPv4 or IPv6 "
		    "address, or '*'" },
		{ "[https]\naddress = 192.0.2.256\n",
		    "2: key 'address' in [https]: expected an IPv4 or IPv6 "
		    "address, or '*'" },
		{ "[submission]\naddress = [::1]\n",
		    "2: key 'address' in [submission]: expected an IPv4 or "
		    "IPv6 address, or '*'" },
		{ "[submissions]\nenabled = maybe\n",
		    "2: key 'enabled' in [submissions]: expected yes or no" },
		{ "[smtp]\nenabled =\n",
		    "2: key 'enabled' in [smtp]: expected yes or no" },
		{ "foo = 1\n",
		    "1: unknown key 'foo'" },
		{ "Hostname = mail.example.com\n",
		    "1: unknown key 'Hostname'" },
		{ "port = 25\n",
		    "1: unknown key 'port'" },
		{ "= 25\n",
		    "1: unknown key ''" },
		{ "[smtp]\nhostname = mail.example.com\n",
		    "2: unknown key 'hostname' in [smtp]" },
		{ "[smtp]\nimplicit_tls = yes\n",
		    "2: unknown key 'implicit_tls' in [smtp]" },
		{ "\n[smtpx]\n",
		    "2: unknown section 'smtpx'" },
		{ "[smtp]\nport = 25\n[bogus]\nport = 1\n",
		    "3: unknown section 'bogus'" },
		{ "[SMTP]\n",
		    "1: unknown section 'SMTP'" },
		{ "[ smtp ]\n",
		    "1: unknown section ' smtp '" },
		{ "[]\n",
		    "1: unknown section ''" },
		{ "[smtp] port = 25\n",
		    "1: unexpected text after section header" },
		{ "hostname\n",
		    "1: syntax error (expected 'key = value' or '[section]')" },
		{ "[smtp\nport = 25\n",
		    "1: syntax error (expected 'key = value' or '[section]')" },
		/* An indented line is no continuation of the one before. */
		{ "user = mailer\n  facteur\n",
		    "2: syntax error (expected 'key = value' or '[section]')" },
		/* The first error in the file is the one reported. */
		{ "max_recipients = 5\nfoo bar\nmax_recipients = 0\n",
		    "2: syntax error (expected 'key = value' or '[section]')" },
		{ "max_recipients = 5\nmax_recipients = 0\nfoo bar\n",
		    "2: key 'max_recipients': expected a positive integer" },
		{ "tls_cert = /aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n",
		    "1: line longer than 197 characters" },
		{ "plaintext_auth_networks = 10.0.0.1, 10.0.0.2, 10.0.0.3, "
		    "10.0.0.4, 10.0.0.5, 10.0.0.6, 10.0.0.7, 10.0.0.8\n"
		    "plaintext_auth_networks = 10.0.1.1, 10.0.1.2, 10.0.1.3, "
		    "10.0.1.4, 10.0.1.5, 10.0.1.6, 10.0.1.7, 10.0.1.8\n"
		    "plaintext_auth_networks = 10.0.2.1, 10.0.2.2, 10.0.2.3, "
		    "10.0.2.4, 10.0.2.5, 10.0.2.6, 10.0.2.7, 10.0.2.8\n"
		    "plaintext_auth_networks = 10.0.3.1, 10.0.3.2, 10.0.3.3, "
		    "10.0.3.4, 10.0.3.5, 10.0.3.6, 10.0.3.7, 10.0.3.8\n"
		    "plaintext_auth_networks = 10.0.4.1\n",
		    "5: key 'plaintext_auth_networks': more than 32 networks" },
	};
	struct config cfg;
	char *error, *want;

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		config_init(&cfg);
		error = NULL;
		CHECK_MSG(test_load(&cfg, cases[i].text, &error) == -1,
		    "case %zu accepted", i);
		want = xasprintf("%s:%s", test_path, cases[i].error);
		CHECK_STREQ(error, want);
		/* A failed load leaves the configuration alone. */
		CHECK(cfg.max_recipients == 100);
		CHECK(cfg.listeners[SVC_SMTP].port == 25);
		CHECK_STREQ(cfg.path, "");
		free(want);
		free(error);
	}

	/* A line of exactly 197 characters, CRLF ended, still fits. */
	{
		char line[256];
		size_t n;

		n = (size_t)str_printf(line, sizeof(line), "tls_cert = /%s",
		    "a");
		memset(line + n, 'b', 197 - n);
		str_lcpy(line + 197, "\r\n", sizeof(line) - 197);
		config_init(&cfg);
		error = NULL;
		CHECK(test_load(&cfg, line, &error) == 0);
		CHECK(error == NULL);
		CHECK(strlen(cfg.tls_cert) == 197 - strlen("tls_cert = "));
		free(error);
	}

	/* A NUL byte inside a line. */
	config_init(&cfg);
	error = NULL;
	CHECK(test_load_n(&cfg, "user = a\0b\n", 11, &error) == -1);
	want = xasprintf("%s:1: NUL byte in line", test_path);
	CHECK_STREQ(error, want);
	CHECK_STREQ(cfg.user, "facteur");
	free(want);
	free(error);

	/* A file that cannot be opened or read. */
	error = NULL;
	CHECK(config_load_file(&cfg, "/nonexistent/facteur.ini", &error) ==
	    -1);
	CHECK_STREQ(error, "/nonexistent/facteur.ini: No such file or "
	    "directory");
	free(error);
	error = NULL;
	CHECK(config_load_file(&cfg, "/", &error) == -1);
	CHECK_STREQ(error, "/: Is a directory");
	free(error);
}

static void
test_net(void)
{
	static const char *const bad[] = {
		"", "/8", "10.0.0.0/", "10.0.0.0/x", "10.0.0.0/33",
		"10.0.0.0/-1", "10.0.0.0/+8", "10.0.0.0/8/9", "10.0.0/8",
		"10.0.0.0 /8", "::1/129", "::1/1280", "2001:db8::g/32",
		"localhost", "*", "1.2.3.4.5",
	};
	struct config_net net, nets[6];
	struct sockaddr_in sin;
	struct sockaddr_in6 sin6;
	struct sockaddr_un sun;
	unsigned char want[16];

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		CHECK_MSG(config_net_parse(bad[i], &net) == -1, "'%s'",
		    bad[i]);

	CHECK(config_net_parse("10.1.2.3/8", &net) == 0);
	CHECK(net.family == AF_INET && net.prefix == 8);
	memset(want, 0, sizeof(want));
	want[0] = 10;
	CHECK(memcmp(net.addr, want, sizeof(want)) == 0);
	CHECK(config_net_parse("192.0.2.77", &net) == 0);
	CHECK(net.family == AF_INET && net.prefix == 32);
	CHECK(net.addr[3] == 77);
	CHECK(config_net_parse("0.0.0.0/0", &net) == 0);
	CHECK(net.family == AF_INET && net.prefix == 0);
	CHECK(config_net_parse("::1", &net) == 0);
	CHECK(net.family == AF_INET6 && net.prefix == 128);
	CHECK(net.addr[15] == 1);
	CHECK(config_net_parse("2001:db8:ffff::1/33", &net) == 0);
	CHECK(net.family == AF_INET6 && net.prefix == 33);
	CHECK(inet_pton(AF_INET6, "2001:db8:8000::", want) == 1);
	CHECK(memcmp(net.addr, want, sizeof(want)) == 0);

	CHECK(config_net_parse("10.0.0.0/9", &nets[0]) == 0);
	CHECK(config_net_parse("2001:db8::/32", &nets[1]) == 0);
	CHECK(config_net_parse("::1/128", &nets[2]) == 0);
	CHECK(config_net_parse("::ffff:192.0.2.0/120", &nets[3]) == 0);
	CHECK(config_net_parse("127.0.0.0/8", &nets[4]) == 0);

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	CHECK(inet_pton(AF_INET, "10.127.255.255", &sin.sin_addr) == 1);
	CHECK(config_net_match(nets, 5, &sin));
	CHECK(!config_net_match(nets, 0, &sin));
	CHECK(inet_pton(AF_INET, "10.128.0.1", &sin.sin_addr) == 1);
	CHECK(!config_net_match(nets, 5, &sin));
	CHECK(inet_pton(AF_INET, "11.0.0.1", &sin.sin_addr) == 1);
	CHECK(!config_net_match(nets, 5, &sin));
	CHECK(inet_pton(AF_INET, "127.0.0.1", &sin.sin_addr) == 1);
	CHECK(config_net_match(nets, 5, &sin));
	CHECK(!config_net_match(nets, 4, &sin));
	/* An IPv4 client inside an IPv4-mapped IPv6 network. */
	CHECK(inet_pton(AF_INET, "192.0.2.200", &sin.sin_addr) == 1);
	CHECK(config_net_match(nets, 5, &sin));

	memset(&sin6, 0, sizeof(sin6));
	sin6.sin6_family = AF_INET6;
	CHECK(inet_pton(AF_INET6, "::1", &sin6.sin6_addr) == 1);
	CHECK(config_net_match(nets, 5, &sin6));
	CHECK(inet_pton(AF_INET6, "::2", &sin6.sin6_addr) == 1);
	CHECK(!config_net_match(nets, 5, &sin6));
	CHECK(inet_pton(AF_INET6, "2001:db8:1234::5", &sin6.sin6_addr) == 1);
	CHECK(config_net_match(nets, 5, &sin6));
	CHECK(inet_pton(AF_INET6, "2001:db9::5", &sin6.sin6_addr) == 1);
	CHECK(!config_net_match(nets, 5, &sin6));
	/* IPv4 clients on a dual-stack socket. */
	CHECK(inet_pton(AF_INET6, "::ffff:127.0.0.1", &sin6.sin6_addr) == 1);
	CHECK(config_net_match(nets, 5, &sin6));
	CHECK(inet_pton(AF_INET6, "::ffff:10.1.1.1", &sin6.sin6_addr) == 1);
	CHECK(config_net_match(nets, 5, &sin6));
	CHECK(inet_pton(AF_INET6, "::ffff:192.0.2.9", &sin6.sin6_addr) == 1);
	CHECK(config_net_match(nets, 5, &sin6));
	CHECK(inet_pton(AF_INET6, "::ffff:11.0.0.1", &sin6.sin6_addr) == 1);
	CHECK(!config_net_match(nets, 5, &sin6));
	/* ::127.0.0.1 (IPv4-compatible) is not IPv4-mapped. */
	CHECK(inet_pton(AF_INET6, "::127.0.0.1", &sin6.sin6_addr) == 1);
	CHECK(!config_net_match(nets, 5, &sin6));

	/* 0.0.0.0/0 takes every IPv4 client, mapped too, but no IPv6. */
	CHECK(config_net_parse("0.0.0.0/0", &nets[5]) == 0);
	CHECK(inet_pton(AF_INET6, "::ffff:8.8.8.8", &sin6.sin6_addr) == 1);
	CHECK(config_net_match(&nets[5], 1, &sin6));
	CHECK(inet_pton(AF_INET6, "2001:db8::1", &sin6.sin6_addr) == 1);
	CHECK(!config_net_match(&nets[5], 1, &sin6));
	CHECK(config_net_parse("::/0", &nets[5]) == 0);
	CHECK(config_net_match(&nets[5], 1, &sin6));

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	CHECK(!config_net_match(nets, 5, &sun));
	CHECK(!config_net_match(nets, 5, NULL));
}

static void
test_roundtrip(void)
{
	struct config a, b;
	char *error = NULL, *text_a, *text_b, *text;

	/* Defaults. */
	config_init(&a);
	text = test_print(&a);
	config_init(&b);
	str_lcpy(b.hostname, "other.example", sizeof(b.hostname));
	b.max_recipients = 1;
	b.listeners[SVC_POP3].enabled = false;
	CHECK(test_load(&b, text, &error) == 0);
	CHECK_MSG(error == NULL, "%s", error);
	xfree(error);
	CHECK(test_config_equal(&a, &b));
	free(text);

	/* Every key away from its default, 32 IPv6 networks (more than
	 * one line holds) and a size without a suffix. */
	config_init(&a);
	str_lcpy(a.hostname, "mx1.example.org", sizeof(a.hostname));
	str_lcpy(a.data_dir, "/srv/facteur data", sizeof(a.data_dir));
	str_lcpy(a.user, "_facteur", sizeof(a.user));
	str_lcpy(a.tls_cert, "/etc/facteur/cert.pem", sizeof(a.tls_cert));
	str_lcpy(a.tls_key, "key.pem", sizeof(a.tls_key));
	a.max_message_size = 12345;
	a.max_recipients = 7;
	a.max_connections = 99;
	a.max_connections_per_ip = 3;
	a.timeout_idle = 1;
	a.timeout_data = 86400;
	a.loop_threads = 16;
	a.worker_threads = 1024;
	str_lcpy(a.log_level, "error", sizeof(a.log_level));
	for (unsigned i = 0; i < CONFIG_MAX_NETS; i++) {
		char cidr[64];

		str_printf(cidr, sizeof(cidr),
		    "2001:db8:%x:ffff:ffff:ffff:ffff:%x/%u", i + 1, i + 1,
		    96 + i);
		CHECK(config_net_parse(cidr, &a.plaintext_auth_networks[i])
		    == 0);
	}
	a.plaintext_auth_networks_count = CONFIG_MAX_NETS;
	str_lcpy(a.listeners[SVC_SMTP].address, "192.0.2.25",
	    sizeof(a.listeners[SVC_SMTP].address));
	a.listeners[SVC_SMTP].port = 2525;
	a.listeners[SVC_SMTP].public_port = 25;
	str_lcpy(a.listeners[SVC_IMAPS].address, "2001:db8::993",
	    sizeof(a.listeners[SVC_IMAPS].address));
	a.listeners[SVC_IMAPS].public_port = 65535;
	a.listeners[SVC_HTTP].enabled = false;
	a.listeners[SVC_POP3].enabled = false;
	a.listeners[SVC_POP3].port = 65535;
	a.port_offset = 100;
	CHECK(config_validate(&a, &error) == 0);
	xfree(error);

	text_a = test_print(&a);
	CHECK(strstr(text_a, "max_message_size = 12345\n") != NULL);
	CHECK(strstr(text_a, "tls_key = key.pem\n") != NULL);
	CHECK(strstr(text_a, "\n[imaps]\naddress = 2001:db8::993\nport = "
	    "993\npublic_port = 65535\nenabled = yes\n") != NULL);
	config_init(&b);
	CHECK(test_load(&b, text_a, &error) == 0);
	CHECK_MSG(error == NULL, "%s", error);
	xfree(error);
	CHECK(test_config_equal(&a, &b));
	b.port_offset = a.port_offset;
	text_b = test_print(&b);
	CHECK_STREQ(text_a, text_b);
	free(text_a);
	free(text_b);

	/* Sizes come back with the largest exact suffix. */
	{
		static const struct {
			uint64_t bytes;
			const char *line;
		} sizes[] = {
			{ 50ULL * 1024 * 1024, "max_message_size = 50M\n" },
			{ 1024, "max_message_size = 1K\n" },
			{ 1536ULL * 1024 * 1024, "max_message_size = 1536M\n" },
			{ 4ULL << 30, "max_message_size = 4G\n" },
			{ 1023, "max_message_size = 1023\n" },
		};

		for (size_t i = 0; i < ARRAY_SIZE(sizes); i++) {
			config_init(&a);
			a.max_message_size = sizes[i].bytes;
			text = test_print(&a);
			CHECK_MSG(strstr(text, sizes[i].line) != NULL, "%s",
			    sizes[i].line);
			config_init(&b);
			CHECK(test_load(&b, text, &error) == 0);
			xfree(error);
			CHECK(b.max_message_size == sizes[i].bytes);
			free(text);
		}
	}
}

static void
test_validate(void)
{
	struct config cfg;
	char *error = NULL;

	config_init(&cfg);
	cfg.port_offset = 10000;
	CHECK(config_validate(&cfg, &error) == 0);
	CHECK(error == NULL);

	/* 25 + 65000 fits, 587 + 65000 does not. */
	cfg.port_offset = 65000;
	CHECK(config_validate(&cfg, &error) == -1);
	CHECK_STREQ(error, "[submission]: port 587 + port offset 65000 is "
	    "beyond 65535");
	xfree(error);
	/* Only enabled listeners count. */
	for (int s = 0; s < SVC_COUNT; s++)
		cfg.listeners[s].enabled = s == SVC_SMTP;
	CHECK(config_validate(&cfg, &error) == 0);
	xfree(error);
	cfg.port_offset = 65510;
	CHECK(config_validate(&cfg, &error) == 0);
	xfree(error);
	cfg.port_offset = 65511;
	CHECK(config_validate(&cfg, &error) == -1);
	CHECK_STREQ(error, "[smtp]: port 25 + port offset 65511 is beyond "
	    "65535");
	xfree(error);
	cfg.port_offset = UINT_MAX;
	CHECK(config_validate(&cfg, &error) == -1);
	xfree(error);

	/* Two enabled listeners on one port. */
	config_init(&cfg);
	cfg.listeners[SVC_SUBMISSION].port = 25;
	CHECK(config_validate(&cfg, &error) == -1);
	CHECK_STREQ(error, "[smtp] and [submission] both listen on port 25");
	xfree(error);
	cfg.listeners[SVC_SUBMISSION].enabled = false;
	CHECK(config_validate(&cfg, &error) == 0);
	xfree(error);
	/* Distinct addresses may share a port; a wildcard may not. */
	cfg.listeners[SVC_SUBMISSION].enabled = true;
	str_lcpy(cfg.listeners[SVC_SMTP].address, "192.0.2.1",
	    sizeof(cfg.listeners[SVC_SMTP].address));
	str_lcpy(cfg.listeners[SVC_SUBMISSION].address, "192.0.2.2",
	    sizeof(cfg.listeners[SVC_SUBMISSION].address));
	CHECK(config_validate(&cfg, &error) == 0);
	xfree(error);
	str_lcpy(cfg.listeners[SVC_SUBMISSION].address, "::",
	    sizeof(cfg.listeners[SVC_SUBMISSION].address));
	CHECK(config_validate(&cfg, &error) == -1);
	CHECK_STREQ(error, "[smtp] and [submission] both listen on port 25");
	xfree(error);
	/* The offset applies to both before comparing. */
	config_init(&cfg);
	cfg.listeners[SVC_HTTP].port = 443;
	cfg.port_offset = 1000;
	CHECK(config_validate(&cfg, &error) == -1);
	CHECK_STREQ(error, "[https] and [http] both listen on port 1443");
	xfree(error);

	/* Values a command line may have set. */
	config_init(&cfg);
	cfg.max_message_size = 0;
	CHECK(config_validate(&cfg, &error) == -1);
	CHECK_STREQ(error, "key 'max_message_size': expected a positive size "
	    "in bytes (K, M, G suffixes allowed)");
	xfree(error);

	config_init(&cfg);
	cfg.data_dir[0] = '\0';
	CHECK(config_validate(&cfg, &error) == -1);
	CHECK_STREQ(error, "key 'data_dir': must not be empty");
	xfree(error);

	config_init(&cfg);
	cfg.worker_threads = 0;
	CHECK(config_validate(&cfg, &error) == -1);
	CHECK_STREQ(error, "key 'worker_threads': expected a positive "
	    "integer");
	xfree(error);

	config_init(&cfg);
	str_lcpy(cfg.hostname, "bad host", sizeof(cfg.hostname));
	CHECK(config_validate(&cfg, &error) == -1);
	CHECK_STREQ(error, "key 'hostname': invalid character in host name "
	    "(letters, digits, '-' and '.' only)");
	xfree(error);

	config_init(&cfg);
	cfg.listeners[SVC_IMAP].port = 0;
	CHECK(config_validate(&cfg, &error) == -1);
	CHECK_STREQ(error, "key 'port' in [imap]: expected a port number from "
	    "1 to 65535");
	xfree(error);

	config_init(&cfg);
	str_lcpy(cfg.listeners[SVC_HTTP].address, "*",
	    sizeof(cfg.listeners[SVC_HTTP].address));
	CHECK(config_validate(&cfg, &error) == -1);
	CHECK_STREQ(error, "key 'address' in [http]: expected an IPv4 or IPv6 "
	    "address");
	xfree(error);
}

int
main(void)
{
	test_defaults();
	test_overrides();
	test_sizes();
	test_errors();
	test_net();
	test_roundtrip();
	test_validate();
	return t_done("config");
}
