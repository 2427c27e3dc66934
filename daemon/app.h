/*
 * app.h: what main.c, serve.c and cli.c share: the common command-line
 * options, loading the configuration, preparing the data directory and
 * dropping privileges.
 */
#ifndef FACTEUR_APP_H
#define FACTEUR_APP_H

#include <stdbool.h>

#include "lib/config.h"

#define FACTEUR_VERSION "0.1.0"

/* Exit statuses of the CLI. */
#define EXIT_USAGE 2		/* bad command line or configuration */
#define EXIT_FAIL 1		/* the operation failed */

/*
 * Takes the options every subcommand accepts (--config FILE,
 * --data-dir DIR, --port-offset N) out of argv, loads the configuration
 * (defaults, then the file, then these options) and validates it.
 * Remaining arguments are compacted in argv; *argc_r is updated.
 * On error prints a message and returns -1 (exit with EXIT_USAGE).
 */
int app_config_load(struct config *cfg, int *argc_r, char **argv);

/*
 * Creates the data directory and its subdirectories. When running as root
 * they are given to cfg->user; with drop_now, the process then switches
 * to that user (the CLI). serve binds its ports first and calls
 * app_drop_privileges itself. Returns 0 or -1 after printing why.
 */
int app_data_dir_prepare(const struct config *cfg, bool drop_now);
int app_drop_privileges(const struct config *cfg);

/* Path of the accounts database: data_dir/facteur.db */
void app_db_path(const struct config *cfg, char *out, size_t outsize);

int serve_main(int argc, char **argv);
int cli_domain_main(int argc, char **argv);
int cli_mailbox_main(int argc, char **argv);
int cli_alias_main(int argc, char **argv);
int cli_queue_main(int argc, char **argv);
int cli_token_main(int argc, char **argv);
int cli_admin_main(int argc, char **argv);
int cli_reindex_main(int argc, char **argv);

#endif
