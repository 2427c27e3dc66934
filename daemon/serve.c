/*
 * serve.c: `facteur serve`. Start-up order: configuration, data directory,
 * certificate, database migrations (as root, then handed to the service
 * user), listeners bound, privileges dropped, then the event loops run.
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "admin/service.h"
#include "app.h"
#include "auth/auth.h"
#include "auth/password.h"
#include "db/db.h"
#include "lib/log.h"
#include "net/net.h"
#include "net/tls.h"
#include "imap/imap.h"
#include "pop3/pop3.h"
#include "smtp/queue.h"
#include "smtp/smtp.h"
#include "webadmin/api.h"

static const char serve_usage[] =
"Usage: facteur serve [--config FILE] [--data-dir DIR] [--port-offset N]\n"
"                     [--check-config]\n"
"\n"
"Runs the mail server in the foreground: SMTP (MX, port 25 with STARTTLS),\n"
"submission (587 with STARTTLS, 465 with implicit TLS), IMAP (143 with\n"
"STARTTLS, 993 with implicit TLS), POP3 (110 with STLS, 995 with implicit\n"
"TLS) and the admin JSON API over HTTPS (443; tokens from 'facteur token\n"
"create'), with HTTP (80) redirecting to it.\n"
"Without a configuration file it runs on built-in defaults: data in\n"
"/var/lib/facteur (SQLite database, Maildir store, a self-signed\n"
"certificate made on first start).\n"
"\n"
"  --config FILE     read this INI file (see docs/configuration.md)\n"
"  --data-dir DIR    data directory\n"
"  --port-offset N   add N to every listening port (e.g. 10000: 10025...)\n"
"  --check-config    validate, print the effective configuration, exit\n"
"\n"
"Signals: SIGTERM/SIGINT stop gracefully (deliveries in flight finish),\n"
"SIGHUP reloads the TLS certificate and key (mail and HTTPS listeners).\n";

/* Resolves the certificate paths; makes a self-signed pair if needed. */
static int
serve_tls_prepare(struct config *cfg)
{
	char fp[128];
	const char *error;
	struct stat st;

	if (cfg->tls_cert[0] == '\0' && cfg->tls_key[0] == '\0') {
		if (str_printf(cfg->tls_cert, sizeof(cfg->tls_cert),
		    "%s/tls/cert.pem", cfg->data_dir) < 0 ||
		    str_printf(cfg->tls_key, sizeof(cfg->tls_key),
		    "%s/tls/key.pem", cfg->data_dir) < 0) {
			fprintf(stderr, "facteur: data_dir path too long\n");
			return -1;
		}
		if (stat(cfg->tls_cert, &st) < 0) {
			if (tls_selfsigned_write(cfg->tls_cert, cfg->tls_key,
			    cfg->hostname, &error) < 0) {
				fprintf(stderr, "facteur: %s\n", error);
				return -1;
			}
			if (tls_cert_fingerprint(cfg->tls_cert, fp,
			    sizeof(fp)) == 0)
				log_info("event=tls_selfsigned hostname=%s "
				    "sha256=%s", cfg->hostname, fp);
		}
		if (geteuid() == 0) {
			const struct passwd *pw = getpwnam(cfg->user);

			if (pw != NULL && (chown(cfg->tls_cert, pw->pw_uid,
			    pw->pw_gid) < 0 || chown(cfg->tls_key, pw->pw_uid,
			    pw->pw_gid) < 0)) {
				fprintf(stderr, "facteur: cannot give the "
				    "certificate to %s: %s\n", cfg->user,
				    strerror(errno));
				return -1;
			}
		}
	} else if (cfg->tls_cert[0] == '\0' || cfg->tls_key[0] == '\0') {
		fprintf(stderr, "facteur: set both tls_cert and tls_key, or "
		    "neither\n");
		return -1;
	}
	if (tls_cert_fingerprint(cfg->tls_cert, fp, sizeof(fp)) == 0)
		log_info("event=tls_certificate file=%s sha256=%s",
		    cfg->tls_cert, fp);
	return 0;
}

static void
serve_banner(const struct config *cfg)
{
	static const struct {
		enum config_service svc;
		const char *what;
	} shown[] = {
		{ SVC_SMTP, "SMTP (MX, STARTTLS)" },
		{ SVC_SUBMISSION, "Submission (STARTTLS)" },
		{ SVC_SUBMISSIONS, "Submission (TLS)" },
		{ SVC_IMAP, "IMAP (STARTTLS)" },
		{ SVC_IMAPS, "IMAP (implicit TLS)" },
		{ SVC_POP3, "POP3 (STLS)" },
		{ SVC_POP3S, "POP3 (implicit TLS)" },
		{ SVC_HTTPS, "HTTPS (panel, API)" },
		{ SVC_HTTP, "HTTP (to HTTPS)" },
	};

	printf("Facteur is running.\n");
	for (size_t i = 0; i < ARRAY_SIZE(shown); i++) {
		if (!cfg->listeners[shown[i].svc].enabled ||
		    (shown[i].svc == SVC_HTTP &&
		    !cfg->listeners[SVC_HTTPS].enabled))
			continue;
		printf("  %-20s %s port %u\n", shown[i].what,
		    cfg->listeners[shown[i].svc].address,
		    config_listen_port(cfg, shown[i].svc));
	}
	printf("  Data directory       %s\n", cfg->data_dir);
	printf("  Host name            %s\n", cfg->hostname);
	if (cfg->listeners[SVC_HTTPS].enabled) {
		const char *a = cfg->listeners[SVC_HTTPS].address;
		unsigned port = config_listen_port(cfg, SVC_HTTPS);
		char path[4096];

		/* A wildcard address is reached on the loopback. */
		if (strcmp(a, "0.0.0.0") == 0)
			a = "127.0.0.1";
		else if (strcmp(a, "::") == 0)
			a = "[::1]";
		if (port == 443)
			printf("  Admin panel          https://%s/\n", a);
		else
			printf("  Admin panel          https://%s:%u/\n", a,
			    port);
		if (str_printf(path, sizeof(path), "%s/%s", cfg->data_dir,
		    SERVICE_INITIAL_ADMIN_FILE) >= 0 &&
		    access(path, F_OK) == 0)
			printf("  First sign-in        admin, password in %s\n",
			    path);
	}
	printf("Add a domain and a mailbox (in another terminal):\n");
	printf("  build/facteur domain add example.com --data-dir %s\n",
	    cfg->data_dir);
	printf("  build/facteur mailbox add me@example.com --data-dir %s\n",
	    cfg->data_dir);
	printf("Then send a message:\n");
	printf("  swaks --server 127.0.0.1:%u --to me@example.com\n",
	    config_listen_port(cfg, SVC_SMTP));
	printf("Stop with Ctrl-C.\n");
	fflush(stdout);
}

/* First start: the admin "admin" when there is none (its password in a
 * file, never in the log). Runs as the service user. */
static int
serve_admin_initial(struct db *db, const struct config *cfg)
{
	struct service_error err = { 0 };
	char path[4096];
	bool created;

	if (service_admin_initial(db, cfg, &created, path, sizeof(path),
	    &err) != DB_OK) {
		fprintf(stderr, "facteur: initial admin: %s\n", err.detail);
		return -1;
	}
	if (created)
		log_info("event=initial_admin_created admin=%s "
		    "password_file=%s", SERVICE_INITIAL_ADMIN, path);
	return 0;
}

/* Opens the listener of one service when it is enabled. */
static int
serve_listen(struct net *net, const struct config *cfg,
    enum config_service svc, const struct conn_ops *ops, void *arg,
    const char *busy_reply)
{
	const struct config_listener *l = &cfg->listeners[svc];
	struct net_listener_conf lc = {
		.name = l->name,
		.address = l->address,
		.port = config_listen_port(cfg, svc),
		.implicit_tls = l->implicit_tls,
		.ops = ops,
		.arg = arg,
		.busy_reply = busy_reply,
	};
	char *error;

	if (!l->enabled)
		return 0;
	if (net_listen(net, &lc, &error) < 0) {
		fprintf(stderr, "facteur: %s\n", error);
		free(error);
		return -1;
	}
	return 0;
}

int
serve_main(int argc, char **argv)
{
	static struct config cfg;
	static struct smtp_server smtp, submission;
	static struct pop3_server pop3;
	static struct imap_server imap;
	struct api_server *api = NULL;
	struct api_redirect *redirect = NULL;
	char *aerror;
	struct net_conf nc;
	struct net *net;
	struct db *db;
	const char *error;
	char dbpath[4096];
	bool check = false;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 ||
		    strcmp(argv[i], "-h") == 0) {
			fputs(serve_usage, stdout);
			return 0;
		}
	}
	if (app_config_load(&cfg, &argc, argv) < 0)
		return EXIT_USAGE;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--check-config") == 0) {
			check = true;
		} else {
			fprintf(stderr, "facteur serve: unknown argument '%s'"
			    "\n%s", argv[i], serve_usage);
			return EXIT_USAGE;
		}
	}
	if (check) {
		config_print(&cfg, stdout);
		return 0;
	}
	signal(SIGPIPE, SIG_IGN);
	if (password_init() < 0)
		fatal("cannot initialize libsodium");
	auth_init();
	auth_set_max_failures(cfg.auth_max_failures);
	if (app_data_dir_prepare(&cfg, false) < 0 ||
	    serve_tls_prepare(&cfg) < 0)
		return EXIT_FAIL;

	nc.loop_threads = cfg.loop_threads;
	nc.worker_threads = cfg.worker_threads;
	nc.max_connections = cfg.max_connections;
	nc.max_connections_per_ip = cfg.max_connections_per_ip;
	nc.timeout_idle = cfg.timeout_idle;
	nc.tls_cert = cfg.tls_cert;
	nc.tls_key = cfg.tls_key;
	net = net_new(&nc, &error);
	if (net == NULL) {
		fprintf(stderr, "facteur: TLS: %s\n", error);
		return EXIT_FAIL;
	}
	smtp.cfg = &cfg;
	smtp.service = "smtp";
	submission.cfg = &cfg;
	submission.service = "submission";
	submission.submission = true;
	pop3.cfg = &cfg;
	imap.cfg = &cfg;
	if (serve_listen(net, &cfg, SVC_SMTP, &smtp_conn_ops, &smtp,
	    "421 4.7.0 Too many connections, try again later\r\n") < 0 ||
	    serve_listen(net, &cfg, SVC_SUBMISSION, &smtp_conn_ops,
	    &submission, "421 4.7.0 Too many connections, try again "
	    "later\r\n") < 0 ||
	    serve_listen(net, &cfg, SVC_SUBMISSIONS, &smtp_conn_ops,
	    &submission, NULL) < 0 ||
	    serve_listen(net, &cfg, SVC_POP3, &pop3_conn_ops, &pop3,
	    "-ERR [SYS/TEMP] Too many connections, try again later\r\n") < 0 ||
	    serve_listen(net, &cfg, SVC_POP3S, &pop3_conn_ops, &pop3,
	    NULL) < 0 ||
	    serve_listen(net, &cfg, SVC_IMAP, &imap_conn_ops, &imap,
	    "* BYE Too many connections, try again later\r\n") < 0 ||
	    serve_listen(net, &cfg, SVC_IMAPS, &imap_conn_ops, &imap,
	    NULL) < 0)
		return EXIT_FAIL;
	/* The admin API's socket too (443 needs root); its threads start
	 * once the database is ready. */
	if (api_bind(&cfg, &api, &aerror) < 0 ||
	    api_redirect_bind(&cfg, &redirect, &aerror) < 0) {
		fprintf(stderr, "facteur: %s\n", aerror);
		free(aerror);
		return EXIT_FAIL;
	}
	/* Bound the ports; from here on, no root. */
	if (app_drop_privileges(&cfg) < 0)
		return EXIT_FAIL;
	app_db_path(&cfg, dbpath, sizeof(dbpath));
	if (db_open(dbpath, true, &db, &error) != DB_OK) {
		fprintf(stderr, "facteur: %s: %s\n", dbpath, error);
		return EXIT_FAIL;
	}
	if (serve_admin_initial(db, &cfg) < 0) {
		db_close(&db);
		return EXIT_FAIL;
	}
	db_close(&db);
	db_thread_init(dbpath);
	if (api_start(api, &aerror) < 0 ||
	    api_redirect_start(redirect, &cfg, &aerror) < 0) {
		fprintf(stderr, "facteur: %s\n", aerror);
		free(aerror);
		api_redirect_stop(&redirect);
		api_stop(&api);
		return EXIT_FAIL;
	}
	net_on_reload(net, api_reload, api);
	queue_start(&cfg);
	log_info("event=started version=%s hostname=%s data_dir=%s",
	    FACTEUR_VERSION, cfg.hostname, cfg.data_dir);
	serve_banner(&cfg);
	net_run(net);
	api_redirect_stop(&redirect);
	api_stop(&api);
	queue_stop();
	net_free(&net);
	return 0;
}
