/*
 * cli.c: `facteur domain|mailbox|alias|queue|token|admin ...`, the same
 * operations as the JSON API, on the same database. Safe while `serve`
 * runs: SQLite WAL and BEGIN IMMEDIATE serialize writers, and the server
 * reads the database at every lookup, so changes take effect at once.
 */
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "admin/service.h"
#include "app.h"
#include "auth/password.h"
#include "db/db.h"
#include "lib/addr.h"
#include "lib/log.h"
#include "smtp/dkim.h"
#include "smtp/queue.h"
#include "store/mailbox.h"
#include "store/maildir.h"

#define CLI_PASSWORD_MIN SERVICE_PASSWORD_MIN
#define CLI_PASSWORD_MAX SERVICE_PASSWORD_MAX
#define CLI_GENERATED_LEN 20

static const char domain_usage[] =
"Usage: facteur domain add NAME\n"
"       facteur domain list\n"
"       facteur domain enable|disable NAME\n"
"       facteur domain dkim NAME\n"
"       facteur domain remove NAME [--force]\n"
"\n"
"Hosted domains. Internationalized names are stored as A-labels\n"
"(xn--...). Mail for a disabled domain is refused (550). 'remove'\n"
"refuses a domain that still has mailboxes or aliases unless --force is\n"
"given (their mail stays on disk).\n"
"'add' also creates the domain's DKIM key (dkim_key_type); 'dkim' prints\n"
"the DNS TXT record to publish (creating the key if it is missing).\n"
"Common options: --config FILE, --data-dir DIR.\n";

static const char mailbox_usage[] =
"Usage: facteur mailbox add ADDRESS [--quota SIZE] [--password-stdin]\n"
"       facteur mailbox list [DOMAIN]\n"
"       facteur mailbox remove ADDRESS\n"
"       facteur mailbox passwd ADDRESS --password-stdin\n"
"       facteur mailbox enable|disable ADDRESS\n"
"       facteur mailbox limits ADDRESS [--messages-per-hour N|default]\n"
"                              [--recipients-per-day N|default]\n"
"       facteur mailbox purge [--older-than DAYS]\n"
"\n"
"Mailboxes. Without --password-stdin, 'add' generates a strong password\n"
"and prints it once. --password-stdin reads one line from standard input\n"
"(at least 8 characters). SIZE takes K, M, G suffixes; 0 is unlimited;\n"
"without --quota, the domain's default quota applies.\n"
"'remove' moves the mail to DATA_DIR/deleted/DOMAIN/LOCAL-TIMESTAMP\n"
"(nothing is erased); 'purge' erases what was moved there at least DAYS\n"
"days ago (default 30; 0: all).\n"
"Mail for a disabled mailbox is refused (550) and it cannot log in.\n"
"'limits' sets what the mailbox may send by submission (0: no limit,\n"
"'default': the configuration's send_limit_* values) and prints them.\n"
"Common options: --config FILE, --data-dir DIR.\n";

static const char alias_usage[] =
"Usage: facteur alias add SOURCE DEST[,DEST...]\n"
"       facteur alias list [DOMAIN]\n"
"       facteur alias remove SOURCE\n"
"       facteur alias set SOURCE DEST[,DEST...]\n"
"\n"
"Aliases deliver mail for SOURCE to one or more destinations, local\n"
"mailboxes or external addresses. SOURCE '@example.com' is the domain's\n"
"catch-all: it receives mail for every address of the domain that has no\n"
"mailbox or alias of its own. 'set' replaces an alias's destinations.\n"
"Common options: --config FILE, --data-dir DIR.\n";

static const char queue_usage[] =
"Usage: facteur queue list\n"
"       facteur queue show ID\n"
"       facteur queue retry ID\n"
"       facteur queue delete ID\n"
"\n"
"The outbound queue: messages waiting for delivery to other domains.\n"
"'list' shows the recipients still pending, 'show' every recipient of a\n"
"message with its status and last error, 'retry' makes its pending\n"
"recipients due now (a running server tries within a second), 'delete'\n"
"removes the message without a bounce.\n"
"Common options: --config FILE, --data-dir DIR.\n";

struct cli {
	struct config cfg;
	struct db *db;
	int argc;
	char **argv;
};

static bool
cli_wants_help(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
			return true;
	}
	return false;
}

/* Loads the configuration and opens the database as the data owner. */
static int
cli_open(struct cli *cli, int argc, char **argv)
{
	const char *error;
	char path[4096], actor[128];
	struct passwd *pw;

	cli->argc = argc;
	cli->argv = argv;
	if (app_config_load(&cli->cfg, &cli->argc, argv) < 0)
		return EXIT_USAGE;
	/* The CLI prints its own results; only problems go to the log. */
	if (strcmp(cli->cfg.log_level, "debug") != 0)
		log_set_level("warn");
	if (app_data_dir_prepare(&cli->cfg, true) < 0)
		return EXIT_FAIL;
	app_db_path(&cli->cfg, path, sizeof(path));
	if (db_open(path, true, &cli->db, &error) != DB_OK) {
		fprintf(stderr, "facteur: %s: %s\n", path, error);
		return EXIT_FAIL;
	}
	pw = getpwuid(getuid());
	if (str_printf(actor, sizeof(actor), "cli:%s",
	    pw != NULL ? pw->pw_name : "?") < 0)
		str_lcpy(actor, "cli", sizeof(actor));
	db_set_actor(cli->db, actor, "");
	return 0;
}

static int
cli_close(struct cli *cli, int status)
{
	db_close(&cli->db);
	return status;
}

/* Maps a db status to an exit status after printing the message. */
static int
cli_fail(const char *what, const char *arg, int status, const char *error)
{
	fprintf(stderr, "facteur: %s %s: %s\n", what, arg,
	    error != NULL ? error : "failed");
	(void)status;	/* every database failure is exit status 1 */
	return EXIT_FAIL;
}

static int
cli_domain_arg(const char *what, const char *arg, char *out, size_t outsize)
{
	const char *error;

	if (addr_domain_normalize(arg, strlen(arg), out, outsize,
	    &error) < 0) {
		fprintf(stderr, "facteur: %s: invalid domain name '%s': %s\n",
		    what, arg, error);
		return -1;
	}
	return 0;
}

static int
cli_address_arg(const char *what, const char *arg, bool catchall, char *out,
    size_t outsize)
{
	const char *error;

	if (addr_normalize(arg, strlen(arg), catchall, out, outsize,
	    &error) < 0) {
		fprintf(stderr, "facteur: %s: invalid address '%s': %s\n",
		    what, arg, error);
		return -1;
	}
	return 0;
}

/* ---- domain ---- */

static int
cli_domain_print(const struct db_domain *d, void *ctx)
{
	printf("%s\t%s\tmailboxes=%lld\taliases=%lld\n", d->name,
	    d->enabled ? "enabled" : "disabled", (long long)d->mailboxes,
	    (long long)d->aliases);
	return 0;
}

/*
 * Makes the domain's DKIM key if missing; with print, prints the TXT
 * record to publish, its value split into strings of at most 255
 * characters (RFC 1035 3.3.14). Returns an exit status.
 */
static int
cli_domain_dkim(struct cli *cli, const char *name, bool print)
{
	char path[4096];
	const char *error;
	struct db_domain d;
	char *txt;
	size_t len;

	struct service_error err = { 0 };

	if (db_domain_get(cli->db, name, &d, &error) != DB_OK)
		return cli_fail("dkim", name, DB_NOT_FOUND, error);
	if (service_domain_dkim(&cli->cfg, name, path, sizeof(path),
	    &err) != DB_OK)
		return cli_fail("dkim", name, DB_ERROR, err.detail);
	if (!print)
		return 0;
	txt = dkim_txt_record(path, &error);
	if (txt == NULL)
		return cli_fail("dkim", name, DB_ERROR, error);
	printf("%s._domainkey.%s. IN TXT (", cli->cfg.dkim_selector, name);
	len = strlen(txt);
	for (size_t o = 0; o < len; o += 255)
		printf(" \"%.*s\"", (int)(len - o < 255 ? len - o : 255),
		    txt + o);
	printf(" )\n");
	free(txt);
	return 0;
}

int
cli_domain_main(int argc, char **argv)
{
	struct cli cli;
	char name[ADDR_DOMAIN_MAX + 1];
	const char *error = NULL, *sub;
	bool force = false;
	int ret;

	if (cli_wants_help(argc, argv)) {
		fputs(domain_usage, stdout);
		return 0;
	}
	if ((ret = cli_open(&cli, argc, argv)) != 0)
		return ret;
	argc = cli.argc;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--force") == 0) {
			force = true;
			memmove(&argv[i], &argv[i + 1],
			    (size_t)(argc - i) * sizeof(*argv));
			argc--;
			i--;
		}
	}
	sub = argc > 1 ? argv[1] : "";
	if (strcmp(sub, "list") == 0 && argc == 2) {
		ret = db_domain_list(cli.db, cli_domain_print, NULL, &error);
		if (ret != DB_OK)
			return cli_close(&cli, cli_fail("domain", "list", ret,
			    error));
		return cli_close(&cli, 0);
	}
	if ((strcmp(sub, "add") != 0 && strcmp(sub, "remove") != 0 &&
	    strcmp(sub, "enable") != 0 && strcmp(sub, "disable") != 0 &&
	    strcmp(sub, "dkim") != 0) || argc != 3) {
		fputs(domain_usage, stderr);
		return cli_close(&cli, EXIT_USAGE);
	}
	if (cli_domain_arg(sub, argv[2], name, sizeof(name)) < 0)
		return cli_close(&cli, EXIT_USAGE);
	if (strcmp(sub, "dkim") == 0)
		return cli_close(&cli, cli_domain_dkim(&cli, name, true));
	if (strcmp(sub, "add") == 0) {
		struct service_error err = { 0 };

		ret = service_domain_add(cli.db, &cli.cfg, name, name, &err);
		error = err.detail;
	} else if (strcmp(sub, "remove") == 0) {
		struct service_error err = { 0 };

		ret = service_domain_remove(cli.db, name, force, &err);
		error = err.detail;
	} else
		ret = db_domain_set_enabled(cli.db, name,
		    strcmp(sub, "enable") == 0, &error);
	if (ret != DB_OK)
		return cli_close(&cli, cli_fail(sub, name, ret, error));
	printf("%sd %s\n", strcmp(sub, "add") == 0 ? "adde" :
	    strcmp(sub, "remove") == 0 ? "remove" : sub, name);
	return cli_close(&cli, 0);
}

/* ---- mailbox ---- */

static int
cli_mailbox_print(const struct db_mailbox *m, void *ctx)
{
	char quota[32];

	if (m->quota == 0)
		str_lcpy(quota, "unlimited", sizeof(quota));
	else
		str_printf(quota, sizeof(quota), "%llu",
		    (unsigned long long)m->quota);
	printf("%s\t%s\tquota=%s\n", m->address,
	    m->enabled ? "enabled" : "disabled", quota);
	return 0;
}

static void
cli_purge_print(const char *path, void *ctx)
{
	printf("erased %s\n", path);
}

/* Reads one line from stdin into out; the trailing newline is dropped. */
static int
cli_password_read(char *out, size_t outsize)
{
	size_t len;

	if (fgets(out, (int)outsize, stdin) == NULL) {
		fprintf(stderr, "facteur: no password on standard input\n");
		return -1;
	}
	len = strlen(out);
	if (len > 0 && out[len - 1] == '\n')
		out[--len] = '\0';
	else if (len == outsize - 1) {
		fprintf(stderr, "facteur: password too long (at most %d "
		    "characters)\n", CLI_PASSWORD_MAX);
		return -1;
	}
	if (len > 0 && out[len - 1] == '\r')
		out[--len] = '\0';
	if (len < CLI_PASSWORD_MIN) {
		fprintf(stderr, "facteur: password too short (at least %d "
		    "characters)\n", CLI_PASSWORD_MIN);
		return -1;
	}
	return 0;
}

/*
 * The password for add/passwd: read from standard input, or generated
 * (add only). Returns 0, or the exit status after printing why.
 */
static int
cli_password_obtain(const char *sub, bool from_stdin, char *password,
    size_t size, bool *generated_r)
{
	*generated_r = false;
	if (strcmp(sub, "passwd") == 0 && !from_stdin) {
		fprintf(stderr, "facteur: passwd needs --password-stdin\n");
		return EXIT_USAGE;
	}
	if (from_stdin) {
		if (cli_password_read(password, size) < 0)
			return EXIT_USAGE;
	} else {
		password_generate(password, CLI_GENERATED_LEN);
		*generated_r = true;
	}
	if (password_init() < 0) {
		mem_wipe(password, size);
		fprintf(stderr, "facteur: cannot hash the password\n");
		return EXIT_FAIL;
	}
	return 0;
}

int
cli_mailbox_main(int argc, char **argv)
{
	struct cli cli;
	char addr[ADDR_MAX + 1], password[CLI_PASSWORD_MAX + 2];
	char moved[4096];
	struct service_error err = { 0 };
	const char *error = NULL, *sub, *target = NULL;
	bool from_stdin = false, generated = false;
	uint64_t quota = DB_QUOTA_DEFAULT, days = 30;
	long long lim_hour = -2, lim_day = -2;	/* -2: not given */
	int ret;

	if (cli_wants_help(argc, argv)) {
		fputs(mailbox_usage, stdout);
		return 0;
	}
	if ((ret = cli_open(&cli, argc, argv)) != 0)
		return ret;
	argc = cli.argc;
	sub = argc > 1 ? argv[1] : "";
	for (int i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--password-stdin") == 0) {
			from_stdin = true;
		} else if (strcmp(argv[i], "--quota") == 0 && i + 1 < argc) {
			if (str_to_size(argv[++i], &quota) < 0) {
				fprintf(stderr, "facteur: --quota: expected a "
				    "size such as 500M or 2G\n");
				return cli_close(&cli, EXIT_USAGE);
			}
		} else if (strcmp(argv[i], "--older-than") == 0 &&
		    i + 1 < argc) {
			i++;
			if (str_to_u64(argv[i], strlen(argv[i]), 36500,
			    &days) < 0) {
				fprintf(stderr, "facteur: --older-than: "
				    "expected a number of days\n");
				return cli_close(&cli, EXIT_USAGE);
			}
		} else if ((strcmp(argv[i], "--messages-per-hour") == 0 ||
		    strcmp(argv[i], "--recipients-per-day") == 0) &&
		    i + 1 < argc) {
			long long *slot = argv[i][2] == 'm' ? &lim_hour :
			    &lim_day;
			uint64_t v;

			i++;
			if (strcmp(argv[i], "default") == 0) {
				*slot = -1;
			} else if (str_to_u64(argv[i], strlen(argv[i]),
			    100000000, &v) == 0) {
				*slot = (long long)v;
			} else {
				fprintf(stderr, "facteur: %s: expected a number "
				    "or 'default'\n", argv[i - 1]);
				return cli_close(&cli, EXIT_USAGE);
			}
		} else if (target == NULL && argv[i][0] != '-') {
			target = argv[i];
		} else {
			fprintf(stderr, "facteur: unexpected argument '%s'\n",
			    argv[i]);
			return cli_close(&cli, EXIT_USAGE);
		}
	}
	if (strcmp(sub, "list") == 0) {
		char domain[ADDR_DOMAIN_MAX + 1];

		if (target != NULL && cli_domain_arg("list", target, domain,
		    sizeof(domain)) < 0)
			return cli_close(&cli, EXIT_USAGE);
		if (target != NULL && db_domain_get(cli.db, domain, &(struct
		    db_domain){ 0 }, &error) != DB_OK)
			return cli_close(&cli, cli_fail("list", domain,
			    DB_NOT_FOUND, error));
		ret = db_mailbox_list(cli.db, target != NULL ? domain : NULL,
		    cli_mailbox_print, NULL, &error);
		return cli_close(&cli, ret == DB_OK ? 0 :
		    cli_fail("mailbox", "list", ret, error));
	}
	if (strcmp(sub, "purge") == 0 && target == NULL) {
		unsigned n;

		ret = service_deleted_purge(&cli.cfg, (int64_t)days * 86400,
		    cli_purge_print, NULL, &n, &err);
		if (ret != DB_OK)
			return cli_close(&cli, cli_fail("mailbox", "purge", ret,
			    err.detail));
		printf("purged %u\n", n);
		return cli_close(&cli, 0);
	}
	if (target == NULL || (strcmp(sub, "add") != 0 &&
	    strcmp(sub, "remove") != 0 && strcmp(sub, "passwd") != 0 &&
	    strcmp(sub, "enable") != 0 && strcmp(sub, "disable") != 0 &&
	    strcmp(sub, "limits") != 0)) {
		fputs(mailbox_usage, stderr);
		return cli_close(&cli, EXIT_USAGE);
	}
	if (cli_address_arg(sub, target, false, addr, sizeof(addr)) < 0)
		return cli_close(&cli, EXIT_USAGE);
	if (strcmp(sub, "remove") == 0) {
		ret = service_mailbox_remove(cli.db, &cli.cfg, addr, moved,
		    sizeof(moved), &err);
		if (ret != DB_OK)
			return cli_close(&cli, cli_fail(sub, addr, ret,
			    err.detail));
		printf("removed %s\n", addr);
		if (moved[0] != '\0')
			printf("mail of %s moved to %s\n", addr, moved);
		return cli_close(&cli, 0);
	}
	if (strcmp(sub, "limits") == 0) {
		long long cur_hour, cur_day;

		ret = db_mailbox_limits(cli.db, addr, &cur_hour, &cur_day,
		    &error);
		if (ret == DB_OK && (lim_hour != -2 || lim_day != -2)) {
			if (lim_hour != -2)
				cur_hour = lim_hour;
			if (lim_day != -2)
				cur_day = lim_day;
			ret = db_mailbox_set_limits(cli.db, addr, cur_hour,
			    cur_day, &error);
		}
		if (ret != DB_OK)
			return cli_close(&cli, cli_fail(sub, addr, ret, error));
		printf("%s\tmessages_per_hour=", addr);
		if (cur_hour < 0)
			printf("default(%u)", cli.cfg.send_limit_messages_per_hour);
		else
			printf("%lld", cur_hour);
		printf("\trecipients_per_day=");
		if (cur_day < 0)
			printf("default(%u)\n",
			    cli.cfg.send_limit_recipients_per_day);
		else
			printf("%lld\n", cur_day);
		return cli_close(&cli, 0);
	}
	if (strcmp(sub, "enable") == 0 || strcmp(sub, "disable") == 0) {
		ret = db_mailbox_set_enabled(cli.db, addr,
		    strcmp(sub, "enable") == 0, &error);
		if (ret != DB_OK)
			return cli_close(&cli, cli_fail(sub, addr, ret, error));
		printf("%sd %s\n", sub, addr);
		return cli_close(&cli, 0);
	}
	if ((ret = cli_password_obtain(sub, from_stdin, password,
	    sizeof(password), &generated)) != 0)
		return cli_close(&cli, ret);
	if (strcmp(sub, "add") == 0)
		ret = service_mailbox_add(cli.db, &cli.cfg, addr, password,
		    NULL, quota, addr, &err);
	else
		ret = service_mailbox_set_password(cli.db, addr, password,
		    NULL, &err);
	if (ret != DB_OK) {
		mem_wipe(password, sizeof(password));
		return cli_close(&cli, cli_fail(sub, addr, ret, err.detail));
	}
	if (strcmp(sub, "add") == 0) {
		printf("added %s\n", addr);
		if (generated)
			printf("password: %s\n", password);
	} else {
		printf("password changed for %s\n", addr);
	}
	mem_wipe(password, sizeof(password));
	return cli_close(&cli, 0);
}

/* ---- alias ---- */

static int
cli_alias_print(const struct db_alias *a, void *ctx)
{
	printf("%s\t", a->source);
	for (unsigned i = 0; i < a->ndest; i++)
		printf("%s%s", i ? "," : "", a->dest[i]);
	printf("\n");
	return 0;
}

int
cli_alias_main(int argc, char **argv)
{
	struct cli cli;
	char source[ADDR_MAX + 1];
	char (*dest)[ADDR_MAX + 1] = NULL;
	const char *dptr[DB_ALIAS_MAX_DEST];
	const char *error = NULL, *sub;
	unsigned ndest = 0;
	int ret;

	if (cli_wants_help(argc, argv)) {
		fputs(alias_usage, stdout);
		return 0;
	}
	if ((ret = cli_open(&cli, argc, argv)) != 0)
		return ret;
	argc = cli.argc;
	sub = argc > 1 ? argv[1] : "";
	if (strcmp(sub, "list") == 0 && argc <= 3) {
		char domain[ADDR_DOMAIN_MAX + 1];

		if (argc == 3 && cli_domain_arg("list", argv[2], domain,
		    sizeof(domain)) < 0)
			return cli_close(&cli, EXIT_USAGE);
		ret = db_alias_list(cli.db, argc == 3 ? domain : NULL,
		    cli_alias_print, NULL, &error);
		return cli_close(&cli, ret == DB_OK ? 0 :
		    cli_fail("alias", "list", ret, error));
	}
	if (!(((strcmp(sub, "add") == 0 || strcmp(sub, "set") == 0) &&
	    argc == 4) || (strcmp(sub, "remove") == 0 && argc == 3))) {
		fputs(alias_usage, stderr);
		return cli_close(&cli, EXIT_USAGE);
	}
	if (cli_address_arg(sub, argv[2], true, source, sizeof(source)) < 0)
		return cli_close(&cli, EXIT_USAGE);
	if (strcmp(sub, "remove") == 0) {
		struct service_error err = { 0 };

		ret = service_alias_remove(cli.db, source, &err);
		if (ret != DB_OK)
			return cli_close(&cli, cli_fail(sub, source, ret,
			    err.detail));
		printf("removed %s\n", source);
		return cli_close(&cli, 0);
	}
	dest = xcalloc(DB_ALIAS_MAX_DEST, sizeof(*dest));
	for (char *p = argv[3], *comma; p != NULL; p = comma) {
		comma = strchr(p, ',');
		if (comma != NULL)
			*comma++ = '\0';
		if (*p == '\0')
			continue;
		if (ndest == DB_ALIAS_MAX_DEST) {
			fprintf(stderr, "facteur: at most %d destinations\n",
			    DB_ALIAS_MAX_DEST);
			free(dest);
			return cli_close(&cli, EXIT_USAGE);
		}
		if (cli_address_arg(sub, p, false, dest[ndest],
		    sizeof(dest[0])) < 0) {
			free(dest);
			return cli_close(&cli, EXIT_USAGE);
		}
		dptr[ndest] = dest[ndest];
		ndest++;
	}
	{
		struct service_error err = { 0 };

		if (strcmp(sub, "set") == 0)
			ret = service_alias_update(cli.db, source, dptr, ndest,
			    &err);
		else
			ret = service_alias_add(cli.db, source, dptr, ndest,
			    &err);
		error = err.detail;
	}
	free(dest);
	if (ret != DB_OK)
		return cli_close(&cli, cli_fail(sub, source, ret, error));
	printf("%s %s\n", strcmp(sub, "set") == 0 ? "updated" : "added",
	    source);
	return cli_close(&cli, 0);
}

/* ---- queue ---- */

static int
cli_queue_print(const struct db_queue_entry *e, void *ctx)
{
	char when[32];
	time_t t = (time_t)e->next_attempt;
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	printf("%s\t<%s>\t<%s>\t%s\tattempts=%d\tnext=%s", e->id,
	    e->sender, e->rcpt, e->status, e->attempts,
	    strcmp(e->status, "pending") == 0 ? when : "-");
	if (e->last_error[0] != '\0')
		printf("\terror=%s", e->last_error);
	printf("\n");
	(*(unsigned *)ctx)++;
	return 0;
}

int
cli_queue_main(int argc, char **argv)
{
	struct cli cli;
	struct service_error err = { 0 };
	const char *sub, *id;
	unsigned n = 0;
	int ret;

	if (cli_wants_help(argc, argv)) {
		fputs(queue_usage, stdout);
		return 0;
	}
	if ((ret = cli_open(&cli, argc, argv)) != 0)
		return ret;
	argc = cli.argc;
	sub = argc > 1 ? argv[1] : "";
	if (strcmp(sub, "list") == 0 && argc == 2) {
		ret = service_queue_list(cli.db, NULL, cli_queue_print, &n,
		    &err);
		if (ret != DB_OK)
			return cli_close(&cli, cli_fail("queue", "list", ret,
			    err.detail));
		if (n == 0)
			printf("the queue is empty\n");
		return cli_close(&cli, 0);
	}
	if (argc != 3 || (strcmp(sub, "show") != 0 &&
	    strcmp(sub, "retry") != 0 && strcmp(sub, "delete") != 0)) {
		fputs(queue_usage, stderr);
		return cli_close(&cli, EXIT_USAGE);
	}
	id = argv[2];
	if (!service_queue_id_valid(id)) {
		fprintf(stderr, "facteur: %s: invalid queue id '%s'\n", sub, id);
		return cli_close(&cli, EXIT_USAGE);
	}
	if (strcmp(sub, "show") == 0) {
		ret = service_queue_list(cli.db, id, cli_queue_print, &n, &err);
	} else if (strcmp(sub, "retry") == 0) {
		ret = service_queue_retry(cli.db, id, &err);
		if (ret == DB_OK)
			printf("%s will be tried again now\n", id);
	} else {
		ret = service_queue_delete(cli.db, &cli.cfg, id, &err);
		if (ret == DB_OK)
			printf("deleted %s\n", id);
	}
	if (ret != DB_OK)
		return cli_close(&cli, cli_fail(sub, id, ret, err.detail));
	return cli_close(&cli, 0);
}

/* ---- token ---- */

static const char token_usage[] =
"Usage: facteur token create NAME [--scope read|write] [--expires DAYS]\n"
"                            [--domain DOMAIN]...\n"
"       facteur token list\n"
"       facteur token revoke NAME\n"
"\n"
"Bearer tokens for the JSON API (https listener, /api/v1). 'create'\n"
"prints the secret once; only its SHA-256 is stored. A read token may\n"
"only GET; a write token (the default) may change everything.\n"
"--domain (repeatable, up to 16) restricts the token to those domains:\n"
"others answer 404 and it cannot add domains.\n"
"Common options: --config FILE, --data-dir DIR.\n";

static int
cli_token_print(const struct db_token *t, void *ctx)
{
	char when[32] = "never";
	time_t e = (time_t)t->expires;
	struct tm tm;

	if (t->expires != 0) {
		gmtime_r(&e, &tm);
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	}
	printf("%s\t%s\t%s\texpires=%s\tdomains=", t->name, t->scope,
	    t->revoked ? "revoked" : "active", when);
	if (!t->restricted)
		fputs("all", stdout);
	else if (t->ndomains == 0)
		fputs("none", stdout);
	for (unsigned i = 0; i < t->ndomains; i++)
		printf("%s%s", i > 0 ? "," : "", t->domains[i]);
	putchar('\n');
	return 0;
}

int
cli_token_main(int argc, char **argv)
{
	struct cli cli;
	struct service_error err = { 0 };
	char secret[SERVICE_TOKEN_SECRET_LEN + 1];
	const char *error = NULL, *sub, *name = NULL, *scope = "write";
	const char *domains[DB_TOKEN_DOMAINS_MAX];
	unsigned ndomains = 0;
	uint64_t days = 0;
	int ret;

	if (cli_wants_help(argc, argv)) {
		fputs(token_usage, stdout);
		return 0;
	}
	if ((ret = cli_open(&cli, argc, argv)) != 0)
		return ret;
	argc = cli.argc;
	sub = argc > 1 ? argv[1] : "";
	for (int i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--scope") == 0 && i + 1 < argc) {
			scope = argv[++i];
		} else if (strcmp(argv[i], "--domain") == 0 && i + 1 < argc) {
			if (ndomains == DB_TOKEN_DOMAINS_MAX) {
				fprintf(stderr, "facteur: --domain: at most "
				    "%d domains\n", DB_TOKEN_DOMAINS_MAX);
				return cli_close(&cli, EXIT_USAGE);
			}
			domains[ndomains++] = argv[++i];
		} else if (strcmp(argv[i], "--expires") == 0 && i + 1 < argc) {
			i++;
			if (str_to_u64(argv[i], strlen(argv[i]), 36500,
			    &days) < 0 || days == 0) {
				fprintf(stderr, "facteur: --expires: expected "
				    "a number of days\n");
				return cli_close(&cli, EXIT_USAGE);
			}
		} else if (name == NULL && argv[i][0] != '-') {
			name = argv[i];
		} else {
			fprintf(stderr, "facteur: unexpected argument '%s'\n",
			    argv[i]);
			return cli_close(&cli, EXIT_USAGE);
		}
	}
	if (ndomains > 0 && strcmp(sub, "create") != 0) {
		fputs(token_usage, stderr);
		return cli_close(&cli, EXIT_USAGE);
	}
	if (strcmp(sub, "list") == 0 && name == NULL) {
		ret = db_token_list(cli.db, cli_token_print, NULL, &error);
		return cli_close(&cli, ret == DB_OK ? 0 :
		    cli_fail("token", "list", ret, error));
	}
	if (name == NULL || (strcmp(sub, "create") != 0 &&
	    strcmp(sub, "revoke") != 0)) {
		fputs(token_usage, stderr);
		return cli_close(&cli, EXIT_USAGE);
	}
	if (strcmp(sub, "revoke") == 0) {
		ret = db_token_revoke(cli.db, name, &error);
		if (ret != DB_OK)
			return cli_close(&cli, cli_fail(sub, name, ret, error));
		printf("revoked %s\n", name);
		return cli_close(&cli, 0);
	}
	ret = service_token_create(cli.db, name, scope,
	    days != 0 ? (int64_t)time(NULL) + (int64_t)days * 86400 : 0,
	    domains, ndomains, secret, sizeof(secret), &err);
	if (ret == DB_INVALID) {
		fprintf(stderr, "facteur: token %s: %s\n", name, err.detail);
		return cli_close(&cli, EXIT_USAGE);
	}
	if (ret != DB_OK)
		return cli_close(&cli, cli_fail(sub, name, ret, err.detail));
	printf("created token %s (scope %s%s)\n", name, scope,
	    ndomains > 0 ? ", restricted to its domains" : "");
	printf("secret: %s\n", secret);
	mem_wipe(secret, sizeof(secret));
	return cli_close(&cli, 0);
}

/* ---- admin ---- */

static const char admin_usage[] =
"Usage: facteur admin add NAME [--password-stdin]\n"
"       facteur admin list\n"
"       facteur admin remove NAME\n"
"       facteur admin passwd NAME --password-stdin\n"
"\n"
"Administrators of the web panel (names: letters, digits, '-', '_',\n"
"'.'). Without --password-stdin, 'add' generates a strong password and\n"
"prints it once. --password-stdin reads one line from standard input\n"
"(at least 8 characters). 'remove' refuses to remove the last admin.\n"
"On its first start, 'facteur serve' creates\n"
"the admin 'admin' when there is none and writes its password to\n"
"DATA_DIR/initial-admin-password (mode 0600).\n"
"Common options: --config FILE, --data-dir DIR.\n";

static int
cli_admin_print(const struct db_admin *a, void *ctx)
{
	char created[32], login[32] = "never";
	time_t t = (time_t)a->created;
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(created, sizeof(created), "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (a->last_login != 0) {
		t = (time_t)a->last_login;
		gmtime_r(&t, &tm);
		strftime(login, sizeof(login), "%Y-%m-%dT%H:%M:%SZ", &tm);
	}
	printf("%s\tcreated=%s\tlast_login=%s\n", a->name, created, login);
	return 0;
}

int
cli_admin_main(int argc, char **argv)
{
	struct cli cli;
	struct service_error err = { 0 };
	char password[CLI_PASSWORD_MAX + 2];
	const char *error = NULL, *sub, *name = NULL;
	bool from_stdin = false, generated = false;
	int ret;

	if (cli_wants_help(argc, argv)) {
		fputs(admin_usage, stdout);
		return 0;
	}
	if ((ret = cli_open(&cli, argc, argv)) != 0)
		return ret;
	argc = cli.argc;
	sub = argc > 1 ? argv[1] : "";
	for (int i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--password-stdin") == 0) {
			from_stdin = true;
		} else if (name == NULL && argv[i][0] != '-') {
			name = argv[i];
		} else {
			fprintf(stderr, "facteur: unexpected argument '%s'\n",
			    argv[i]);
			return cli_close(&cli, EXIT_USAGE);
		}
	}
	if (strcmp(sub, "list") == 0 && name == NULL && !from_stdin) {
		ret = db_admin_list(cli.db, cli_admin_print, NULL, &error);
		return cli_close(&cli, ret == DB_OK ? 0 :
		    cli_fail("admin", "list", ret, error));
	}
	if (name == NULL || (strcmp(sub, "add") != 0 &&
	    strcmp(sub, "remove") != 0 && strcmp(sub, "passwd") != 0) ||
	    (strcmp(sub, "remove") == 0 && from_stdin)) {
		fputs(admin_usage, stderr);
		return cli_close(&cli, EXIT_USAGE);
	}
	if (strcmp(sub, "remove") == 0) {
		ret = service_admin_remove(cli.db, name, &err);
		if (ret == DB_INVALID) {
			fprintf(stderr, "facteur: admin %s: %s\n", name,
			    err.detail);
			return cli_close(&cli, EXIT_USAGE);
		}
		if (ret != DB_OK)
			return cli_close(&cli, cli_fail(sub, name, ret,
			    err.detail));
		printf("removed %s\n", name);
		return cli_close(&cli, 0);
	}
	if ((ret = cli_password_obtain(sub, from_stdin, password,
	    sizeof(password), &generated)) != 0)
		return cli_close(&cli, ret);
	if (strcmp(sub, "add") == 0)
		ret = service_admin_add(cli.db, name, password, &err);
	else
		ret = service_admin_set_password(cli.db, name, password, &err);
	if (ret != DB_OK) {
		mem_wipe(password, sizeof(password));
		if (ret == DB_INVALID) {
			fprintf(stderr, "facteur: admin %s: %s\n", name,
			    err.detail);
			return cli_close(&cli, EXIT_USAGE);
		}
		return cli_close(&cli, cli_fail(sub, name, ret, err.detail));
	}
	if (strcmp(sub, "add") == 0) {
		printf("added %s\n", name);
		if (generated)
			printf("password: %s\n", password);
	} else {
		printf("password changed for %s\n", name);
	}
	mem_wipe(password, sizeof(password));
	return cli_close(&cli, 0);
}

/* ---- reindex ---- */

static const char reindex_usage[] =
"Usage: facteur reindex ADDRESS\n"
"\n"
"Rebuilds the IMAP index of a mailbox (DATA_DIR/mail/DOMAIN/USER/\n"
"facteur-index.sqlite) from its Maildir: every folder is compared in\n"
"full with its files; messages the index knows keep their UIDs, files it\n"
"does not know get new ones, flags are taken from the file names. Safe\n"
"while 'facteur serve' runs. Delete the index file first to start over\n"
"(clients then see a new UIDVALIDITY and download the mailbox again).\n";

int
cli_reindex_main(int argc, char **argv)
{
	struct store_folder *folders = NULL;
	struct store_mailbox *mb;
	struct db_mailbox m;
	struct cli cli;
	char maildir[4096];
	const char *error = NULL;
	size_t n = 0;
	int ret;

	if (cli_wants_help(argc, argv)) {
		fputs(reindex_usage, stdout);
		return 0;
	}
	if ((ret = cli_open(&cli, argc, argv)) != 0)
		return ret;
	if (cli.argc != 2 || argv[1][0] == '-') {
		fputs(reindex_usage, stderr);
		return cli_close(&cli, EXIT_USAGE);
	}
	ret = db_mailbox_get(cli.db, argv[1], &m, &error);
	if (ret != DB_OK)
		return cli_close(&cli, cli_fail("reindex", argv[1], ret,
		    error));
	if (maildir_path(cli.cfg.data_dir, m.address, maildir,
	    sizeof(maildir)) < 0) {
		fprintf(stderr, "facteur: reindex %s: path too long\n",
		    m.address);
		return cli_close(&cli, EXIT_FAIL);
	}
	if ((mb = store_mailbox_open(maildir, &error)) == NULL ||
	    store_reindex(mb, &error) != STORE_OK ||
	    store_folder_list(mb, &folders, &n, &error) != STORE_OK) {
		fprintf(stderr, "facteur: reindex %s: %s\n", m.address,
		    error != NULL ? error : "failed");
		store_mailbox_close(&mb);
		return cli_close(&cli, EXIT_FAIL);
	}
	for (size_t i = 0; i < n; i++) {
		struct store_status st;

		if (folders[i].noselect || store_folder_status(mb,
		    folders[i].name, &st, &error) != STORE_OK)
			continue;
		printf("%s\tmessages=%u\tuidvalidity=%u\tuidnext=%u\n",
		    folders[i].name, st.messages, st.uidvalidity, st.uidnext);
	}
	store_folders_free(folders, n);
	store_mailbox_close(&mb);
	return cli_close(&cli, 0);
}
