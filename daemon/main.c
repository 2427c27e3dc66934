/*
 * main.c: the entry point. `facteur CMD ...` dispatches to serve or to the
 * account commands; the common options are handled in app_config_load.
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "app.h"
#include "lib/log.h"
#include "lib/util.h"

static const char main_usage[] =
"Usage: facteur COMMAND [OPTIONS]\n"
"\n"
"Facteur: a mail hosting appliance in one binary: SMTP (MX, submission,\n"
"outbound queue with DKIM), IMAP, POP3 and an HTTPS JSON API (the web\n"
"panel is next).\n"
"\n"
"Commands:\n"
"  serve                    run the mail server\n"
"  domain add|list|remove|enable|disable|dkim\n"
"                           manage hosted domains\n"
"  mailbox add|list|remove|passwd|enable|disable|limits|purge\n"
"                           manage mailboxes\n"
"  alias add|list|set|remove\n"
"                           manage aliases and catch-alls\n"
"  queue list|show|retry|delete\n"
"                           inspect and steer the outbound queue\n"
"  token create|list|revoke API tokens for the JSON API\n"
"  admin add|list|remove|passwd\n"
"                           administrators of the web panel\n"
"  reindex ADDRESS          rebuild a mailbox's IMAP index from its Maildir\n"
"  help [COMMAND]           this text, or a command's\n"
"  version                  print the version\n"
"\n"
"Options every command takes:\n"
"  --config FILE       configuration file (INI); built-in defaults without\n"
"  --data-dir DIR      data directory (overrides data_dir of the file)\n"
"  --port-offset N     add N to every listening port\n"
"\n"
"Run 'facteur COMMAND --help' for a command's options.\n";

static int
main_help(const char *cmd)
{
	char *argv[] = { (char *)cmd, (char *)"--help", NULL };

	if (cmd == NULL) {
		fputs(main_usage, stdout);
		return 0;
	}
	if (strcmp(cmd, "serve") == 0)
		return serve_main(2, argv);
	if (strcmp(cmd, "domain") == 0)
		return cli_domain_main(2, argv);
	if (strcmp(cmd, "mailbox") == 0)
		return cli_mailbox_main(2, argv);
	if (strcmp(cmd, "alias") == 0)
		return cli_alias_main(2, argv);
	if (strcmp(cmd, "queue") == 0)
		return cli_queue_main(2, argv);
	if (strcmp(cmd, "token") == 0)
		return cli_token_main(2, argv);
	if (strcmp(cmd, "admin") == 0)
		return cli_admin_main(2, argv);
	if (strcmp(cmd, "reindex") == 0)
		return cli_reindex_main(2, argv);
	fprintf(stderr, "facteur: unknown command '%s'\n", cmd);
	return EXIT_USAGE;
}

int
main(int argc, char **argv)
{
	const char *cmd;

	if (argc < 2) {
		fputs(main_usage, stderr);
		return EXIT_USAGE;
	}
	/* Mail, keys and the database are private to the service user. */
	umask(027);
	cmd = argv[1];
	if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0)
		return main_help(NULL);
	if (strcmp(cmd, "help") == 0)
		return main_help(argc > 2 ? argv[2] : NULL);
	if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
		printf("facteur %s\n", FACTEUR_VERSION);
		return 0;
	}
	if (strcmp(cmd, "serve") == 0)
		return serve_main(argc - 1, argv + 1);
	if (strcmp(cmd, "domain") == 0)
		return cli_domain_main(argc - 1, argv + 1);
	if (strcmp(cmd, "mailbox") == 0)
		return cli_mailbox_main(argc - 1, argv + 1);
	if (strcmp(cmd, "alias") == 0)
		return cli_alias_main(argc - 1, argv + 1);
	if (strcmp(cmd, "queue") == 0)
		return cli_queue_main(argc - 1, argv + 1);
	if (strcmp(cmd, "token") == 0)
		return cli_token_main(argc - 1, argv + 1);
	if (strcmp(cmd, "admin") == 0)
		return cli_admin_main(argc - 1, argv + 1);
	if (strcmp(cmd, "reindex") == 0)
		return cli_reindex_main(argc - 1, argv + 1);
	fprintf(stderr, "facteur: unknown command '%s' (see facteur --help)\n",
	    cmd);
	return EXIT_USAGE;
}

/* ---- shared by serve and the CLI ---- */

int
app_config_load(struct config *cfg, int *argc_r, char **argv)
{
	const char *config_path = NULL, *data_dir = NULL;
	const char *offset = NULL;
	int argc = *argc_r, out = 1;
	char *error = NULL;

	config_init(cfg);
	for (int i = 1; i < argc; i++) {
		const char **slot = NULL;

		if (strcmp(argv[i], "--config") == 0)
			slot = &config_path;
		else if (strcmp(argv[i], "--data-dir") == 0)
			slot = &data_dir;
		else if (strcmp(argv[i], "--port-offset") == 0)
			slot = &offset;
		if (slot == NULL) {
			argv[out++] = argv[i];
			continue;
		}
		if (i + 1 >= argc) {
			fprintf(stderr, "facteur: %s needs a value\n", argv[i]);
			return -1;
		}
		*slot = argv[++i];
	}
	argv[out] = NULL;
	*argc_r = out;
	if (config_path != NULL &&
	    config_load_file(cfg, config_path, &error) < 0) {
		fprintf(stderr, "facteur: %s\n", error);
		free(error);
		return -1;
	}
	if (data_dir != NULL &&
	    str_lcpy(cfg->data_dir, data_dir, sizeof(cfg->data_dir)) >=
	    sizeof(cfg->data_dir)) {
		fprintf(stderr, "facteur: --data-dir: path too long\n");
		return -1;
	}
	if (cfg->data_dir[0] != '/') {
		/* Absolute, so log lines and paths mean the same everywhere. */
		char cwd[2048], abs[sizeof(cfg->data_dir)];
		const char *rel = cfg->data_dir;

		if (rel[0] == '.' && rel[1] == '/')
			rel += 2;
		if (getcwd(cwd, sizeof(cwd)) == NULL ||
		    str_printf(abs, sizeof(abs), "%s/%s", cwd, rel) < 0) {
			fprintf(stderr, "facteur: data_dir: cannot make %s "
			    "absolute\n", cfg->data_dir);
			return -1;
		}
		str_lcpy(cfg->data_dir, abs, sizeof(cfg->data_dir));
	}
	if (offset != NULL) {
		uint64_t v;

		if (str_to_u64(offset, strlen(offset), 65535, &v) < 0) {
			fprintf(stderr, "facteur: --port-offset: expected a "
			    "number from 0 to 65535\n");
			return -1;
		}
		cfg->port_offset = (unsigned)v;
	}
	if (config_validate(cfg, &error) < 0) {
		fprintf(stderr, "facteur: %s\n", error);
		free(error);
		return -1;
	}
	log_set_level(cfg->log_level);
	return 0;
}

void
app_db_path(const struct config *cfg, char *out, size_t outsize)
{
	if (str_printf(out, outsize, "%s/facteur.db", cfg->data_dir) < 0)
		fatal("data_dir path too long");
}

static int
app_mkdir_owned(const char *path, mode_t mode, const struct passwd *pw)
{
	if (mkdir(path, mode) < 0 && errno != EEXIST) {
		fprintf(stderr, "facteur: cannot create %s: %s\n", path,
		    strerror(errno));
		return -1;
	}
	if (pw != NULL && chown(path, pw->pw_uid, pw->pw_gid) < 0) {
		fprintf(stderr, "facteur: cannot give %s to user %s: %s\n",
		    path, pw->pw_name, strerror(errno));
		return -1;
	}
	return 0;
}

static const struct passwd *
app_user(const struct config *cfg)
{
	const struct passwd *pw;

	if (geteuid() != 0)
		return NULL;
	pw = getpwnam(cfg->user);
	if (pw == NULL)
		fprintf(stderr, "facteur: started as root, but user '%s' does "
		    "not exist: create it (packaging/install-deps.sh does) or "
		    "set 'user' in the configuration\n", cfg->user);
	return pw;
}

int
app_data_dir_prepare(const struct config *cfg, bool drop_now)
{
	static const char *const subdirs[] = {
		"mail", "tmp", "tls", "queue", "dkim",
	};
	const struct passwd *pw = NULL;
	char path[4096];

	if (geteuid() == 0 && (pw = app_user(cfg)) == NULL)
		return -1;
	if (app_mkdir_owned(cfg->data_dir, 0750, pw) < 0)
		return -1;
	for (size_t i = 0; i < ARRAY_SIZE(subdirs); i++) {
		if (str_printf(path, sizeof(path), "%s/%s", cfg->data_dir,
		    subdirs[i]) < 0 || app_mkdir_owned(path, 0700, pw) < 0)
			return -1;
	}
	if (drop_now)
		return app_drop_privileges(cfg);
	return 0;
}

int
app_drop_privileges(const struct config *cfg)
{
	const struct passwd *pw;

	if (geteuid() != 0)
		return 0;
	if ((pw = app_user(cfg)) == NULL)
		return -1;
	if (initgroups(pw->pw_name, pw->pw_gid) < 0 ||
	    setgid(pw->pw_gid) < 0 || setuid(pw->pw_uid) < 0) {
		fprintf(stderr, "facteur: cannot switch to user %s: %s\n",
		    pw->pw_name, strerror(errno));
		return -1;
	}
	if (setuid(0) == 0) {
		fprintf(stderr, "facteur: privileges could not be dropped\n");
		return -1;
	}
	if (access(cfg->data_dir, R_OK | W_OK | X_OK) < 0) {
		fprintf(stderr, "facteur: user %s cannot use the data "
		    "directory %s: %s (check the permissions of its parent "
		    "directories)\n", pw->pw_name, cfg->data_dir,
		    strerror(errno));
		return -1;
	}
	return 0;
}
