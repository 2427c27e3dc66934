/*
 * smtp_server.c: SMTP sessions (RFC 5321) with PIPELINING (RFC 2920),
 * SIZE (RFC 1870), 8BITMIME (RFC 6152), ENHANCEDSTATUSCODES (RFC 2034,
 * 3463), SMTPUTF8 (RFC 6531), CHUNKING (RFC 3030) and STARTTLS (RFC 3207).
 *
 * Commands live in a table; the dispatcher owns sequencing and argument
 * policy and handlers only carry a command's meaning. Recipient lookups
 * and deliveries are jobs on the worker pool: the session pauses its
 * input meanwhile, so pipelined commands wait in the buffer in order.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "auth/auth_conn.h"
#include "auth/sasl.h"
#include "db/db.h"
#include "lib/addr.h"
#include "lib/buf.h"
#include "lib/log.h"
#include "smtp/delivery.h"
#include "smtp/sendlimit.h"
#include "smtp/smtp.h"
#include "smtp/smtp_parser.h"
#include "store/maildir.h"

/* Session states are bits so the command table can say where a command
 * is legal. */
#define ST_GREET	0x01	/* connected, no HELO/EHLO yet */
#define ST_READY	0x02	/* HELO done, no transaction */
#define ST_MAIL		0x04	/* MAIL accepted, no recipient yet */
#define ST_RCPT		0x08	/* at least one recipient */
#define ST_BDAT		0x10	/* BDAT chunks under way */
#define ST_ANY		0x1f

#define ARG_NONE	0x01	/* no argument allowed */
#define ARG_REQ		0x02	/* argument required */
#define CMD_LAST	0x04	/* must end a pipelined group (RFC 2920 3.1) */

/* Commands handled per wake-up before yielding to other sessions. */
#define SMTP_CMDS_PER_WAKEUP 32
/* Consecutive bad commands before the session is dropped. */
#define SMTP_MAX_ERRORS 20
#define SMTP_IO_CHUNK 65536
/* Replies queued for a client that does not read them: past this, input
 * waits until the output drains (TCP then pushes back on the client). */
#define SMTP_OUTPUT_MAX (128 * 1024)

struct smtp_session;

struct smtp_command {
	enum smtp_verb verb;
	const char *name;
	unsigned states;
	unsigned flags;
	void (*handler)(struct smtp_session *s, struct smtp_cmd *cmd);
};

struct smtp_session {
	struct conn *c;
	struct smtp_server *srv;
	const struct config *cfg;
	unsigned state;
	struct smtp_line line;
	struct smtp_cmd cmd;
	char helo[256];
	bool esmtp;
	bool job_pending;
	char auth_user[ADDR_MAX + 1];	/* authenticated mailbox, or "" */
	unsigned limit_messages_hour;	/* the user's, 0: none */
	unsigned limit_recipients_day;
	struct sasl *sasl;	/* AUTH exchange under way */
	bool quitting;
	bool stop_requested;
	unsigned errors;
	unsigned transactions;

	/* transaction */
	char *mail_from;	/* NULL: no transaction; "" null path */
	bool smtputf8;
	uint64_t declared_size;
	struct smtp_hdrscan hdrscan;	/* submission: Date, Message-ID */
	unsigned nrcpt;		/* accepted RCPT commands */
	char first_rcpt[ADDR_MAX + 1];
	struct db_rcpt_target *targets;	/* distinct mailboxes */
	unsigned ntargets, targets_cap;
	char (*remote)[ADDR_MAX + 1];	/* for the outbound queue */
	unsigned nremote, remote_cap;
	bool body_8bit;

	/* message content (DATA or BDAT) */
	bool in_data;
	uint64_t bdat_remaining;	/* octets left in the current chunk */
	bool bdat_last;
	bool bdat_discard;	/* consuming a chunk outside a transaction */
	struct smtp_data data;
	struct smtp_bdat bdat;
	int spool_fd;
	uint64_t msg_size;
	uint64_t msg_lines;
	bool too_big;
	bool write_error;
	char *io;		/* SMTP_IO_CHUNK scratch for content */
};

/* ---- Replies ---- */

static void ATTR_PRINTF(2, 3)
smtp_reply(struct smtp_session *s, const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line) - 2, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n > sizeof(line) - 3)
		n = (int)sizeof(line) - 3;
	line[n++] = '\r';
	line[n++] = '\n';
	conn_write(s->c, line, (size_t)n);
	log_debug("session=%s reply=\"%.*s\"", conn_id(s->c), n - 2, line);
}

/* The server is stopping: say goodbye and close. */
static void
smtp_goodbye(struct smtp_session *s)
{
	smtp_reply(s, "421 4.3.2 %s Service shutting down",
	    s->cfg->hostname);
	conn_close(s->c);
}

/* A job or handshake is over: go on reading commands, or say goodbye
 * when the server is stopping. */
static void
smtp_continue(struct smtp_session *s)
{
	if (s->stop_requested)
		smtp_goodbye(s);
	else
		conn_resume(s->c);
}

/* ---- Transaction state ---- */

static void
smtp_tx_reset(struct smtp_session *s)
{
	xfree(s->mail_from);
	s->smtputf8 = false;
	s->declared_size = 0;
	s->nrcpt = 0;
	s->first_rcpt[0] = '\0';
	s->ntargets = 0;
	s->nremote = 0;
	s->body_8bit = false;
	s->in_data = false;
	s->bdat_remaining = 0;
	s->bdat_last = false;
	if (s->spool_fd >= 0) {
		close(s->spool_fd);
		s->spool_fd = -1;
	}
	s->msg_size = 0;
	s->msg_lines = 0;
	s->too_big = false;
	s->write_error = false;
	if (s->state & (ST_MAIL | ST_RCPT | ST_BDAT))
		s->state = ST_READY;
}

static void
smtp_targets_add(struct smtp_session *s, const struct db_rcpt_target *t)
{
	for (unsigned i = 0; i < s->ntargets; i++) {
		if (strcmp(s->targets[i].address, t->address) == 0)
			return;
	}
	if (s->ntargets == s->targets_cap) {
		s->targets_cap = s->targets_cap ? s->targets_cap * 2 : 8;
		s->targets = xrealloc(s->targets,
		    s->targets_cap * sizeof(*s->targets));
	}
	s->targets[s->ntargets++] = *t;
}

static void
smtp_remote_add(struct smtp_session *s, const char *address)
{
	for (unsigned i = 0; i < s->nremote; i++) {
		if (strcmp(s->remote[i], address) == 0)
			return;
	}
	if (s->nremote == s->remote_cap) {
		s->remote_cap = s->remote_cap ? s->remote_cap * 2 : 8;
		s->remote = xrealloc(s->remote,
		    s->remote_cap * sizeof(*s->remote));
	}
	str_lcpy(s->remote[s->nremote++], address, sizeof(s->remote[0]));
}

/* ---- Simple commands ---- */

/* RFC 4954 4: credentials only over TLS, unless the client is in
 * plaintext_auth_networks. */
static bool
smtp_auth_allowed(const struct smtp_session *s)
{
	return auth_conn_secure(s->cfg, s->c);
}

static bool
smtp_helo_valid(const char *arg)
{
	size_t len = strlen(arg);

	if (len == 0 || len >= 256)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)arg[i];

		if (ch <= 0x20 || ch >= 0x7f)
			return false;
	}
	return true;
}

static void
smtp_cmd_helo(struct smtp_session *s, struct smtp_cmd *cmd)
{
	const struct config *cfg = s->cfg;

	if (!smtp_helo_valid(cmd->arg)) {
		smtp_reply(s, "501 5.5.4 Syntax: %s hostname",
		    cmd->verb == SMTP_VERB_EHLO ? "EHLO" : "HELO");
		return;
	}
	/* RFC 5321 4.1.4: HELO/EHLO resets the transaction. */
	smtp_tx_reset(s);
	str_lcpy(s->helo, cmd->arg, sizeof(s->helo));
	s->esmtp = cmd->verb == SMTP_VERB_EHLO;
	s->state = ST_READY;
	if (!s->esmtp) {
		smtp_reply(s, "250 %s", cfg->hostname);
		return;
	}
	smtp_reply(s, "250-%s Hello %s [%s]", cfg->hostname, s->helo,
	    conn_peer(s->c));
	smtp_reply(s, "250-PIPELINING");
	smtp_reply(s, "250-SIZE %llu",
	    (unsigned long long)cfg->max_message_size);
	if (!conn_is_tls(s->c))
		smtp_reply(s, "250-STARTTLS");
	if (s->srv->submission && smtp_auth_allowed(s))
		smtp_reply(s, "250-AUTH PLAIN LOGIN");
	smtp_reply(s, "250-ENHANCEDSTATUSCODES");
	smtp_reply(s, "250-8BITMIME");
	smtp_reply(s, "250-SMTPUTF8");
	smtp_reply(s, "250 CHUNKING");
}

static void
smtp_cmd_rset(struct smtp_session *s, struct smtp_cmd *cmd)
{
	smtp_tx_reset(s);
	smtp_reply(s, "250 2.0.0 OK");
}

static void
smtp_cmd_noop(struct smtp_session *s, struct smtp_cmd *cmd)
{
	smtp_reply(s, "250 2.0.0 OK");
}

static void
smtp_cmd_quit(struct smtp_session *s, struct smtp_cmd *cmd)
{
	smtp_reply(s, "221 2.0.0 %s closing connection", s->cfg->hostname);
	s->quitting = true;
	conn_close(s->c);
}

static void
smtp_cmd_vrfy(struct smtp_session *s, struct smtp_cmd *cmd)
{
	/* RFC 5321 3.5.3: 252 without disclosing which mailboxes exist. */
	smtp_reply(s, "252 2.5.2 Cannot VRFY user, but will accept message "
	    "and attempt delivery");
}

static void
smtp_cmd_expn(struct smtp_session *s, struct smtp_cmd *cmd)
{
	smtp_reply(s, "502 5.5.1 EXPN not available");
}

static void
smtp_cmd_help(struct smtp_session *s, struct smtp_cmd *cmd)
{
	smtp_reply(s, "214-2.0.0 Commands: EHLO HELO MAIL RCPT DATA BDAT "
	    "RSET NOOP QUIT VRFY HELP STARTTLS");
	smtp_reply(s, "214 2.0.0 See RFC 5321");
}

static void smtp_auth_done(struct conn *c, struct auth_request *req);

/* Continues or finishes an AUTH exchange after a step. */
static void
smtp_sasl_result(struct smtp_session *s, int r, const char *challenge,
    const char *error)
{
	struct auth_request *req = NULL;

	switch (r) {
	case SASL_CONTINUE:
		smtp_reply(s, "334 %s", challenge);
		return;
	case SASL_DONE:
		req = xmalloc(sizeof(*req));
		auth_request_from_sasl(req, s->sasl, conn_peer(s->c));
		break;
	case SASL_CANCEL:
		smtp_reply(s, "501 5.0.0 Authentication cancelled");
		break;
	default:
		smtp_reply(s, "501 5.5.2 %s", error);
		break;
	}
	sasl_clear(s->sasl);
	xfree(s->sasl);
	if (req == NULL)
		return;
	s->job_pending = true;
	conn_pause(s->c);
	auth_conn_start(s->c, req, smtp_auth_done);
}

static void
smtp_auth_done(struct conn *c, struct auth_request *req)
{
	struct smtp_session *s = conn_ctx(c);
	char clean[LOG_CLEAN_SIZE];

	if (conn_is_closing(c))
		goto out;
	s->job_pending = false;
	switch (req->status) {
	case AUTH_OK:
		str_lcpy(s->auth_user, req->address, sizeof(s->auth_user));
		log_info("session=%s event=auth result=ok user=%s",
		    conn_id(c), s->auth_user);
		smtp_reply(s, "235 2.7.0 Authentication successful");
		break;
	case AUTH_FAILED:
		log_info("session=%s event=auth result=failed user=%s",
		    conn_id(c), log_clean(req->user, strlen(req->user),
		    clean));
		smtp_reply(s, "535 5.7.8 Authentication credentials "
		    "invalid");
		break;
	case AUTH_BLOCKED:
		smtp_reply(s, "454 4.7.0 Too many failed logins, try again "
		    "later");
		break;
	case AUTH_TEMPFAIL:
		smtp_reply(s, "454 4.7.0 Temporary authentication failure");
		break;
	}
	smtp_continue(s);
out:
	free(req);
}

static void
smtp_cmd_auth(struct smtp_session *s, struct smtp_cmd *cmd)
{
	const char *challenge = NULL, *error = NULL, *initial = NULL;
	char mech_name[32];
	enum sasl_mech mech;
	size_t n;
	int r;

	if (!s->srv->submission) {
		/* Port 25 is for MX traffic; submission has its own. */
		smtp_reply(s, "503 5.5.1 AUTH not available on this port");
		return;
	}
	if (s->auth_user[0] != '\0') {
		smtp_reply(s, "503 5.5.1 Already authenticated");
		return;
	}
	if (!s->esmtp) {
		smtp_reply(s, "503 5.5.1 Send EHLO first");
		return;
	}
	if (!smtp_auth_allowed(s)) {
		/* RFC 4954 6 */
		smtp_reply(s, "538 5.7.11 Encryption required: use STARTTLS "
		    "first");
		return;
	}
	n = strcspn(cmd->arg, " ");
	if (n >= sizeof(mech_name)) {
		smtp_reply(s, "504 5.5.4 Unrecognized authentication type");
		return;
	}
	memcpy(mech_name, cmd->arg, n);
	mech_name[n] = '\0';
	if (sasl_mech_parse(mech_name, &mech) < 0) {
		smtp_reply(s, "504 5.5.4 Unrecognized authentication type");
		return;
	}
	if (cmd->arg[n] == ' ')
		initial = cmd->arg + n + 1;
	s->sasl = xcalloc(1, sizeof(*s->sasl));
	r = sasl_start(s->sasl, mech, initial, &challenge, &error);
	/* The command line held credentials. */
	mem_wipe(cmd->storage, sizeof(cmd->storage));
	mem_wipe(s->line.buf, sizeof(s->line.buf));
	smtp_sasl_result(s, r, challenge, error);
}

static void
smtp_cmd_starttls(struct smtp_session *s, struct smtp_cmd *cmd)
{
	size_t dropped;

	if (conn_is_tls(s->c)) {
		smtp_reply(s, "503 5.5.1 Already using TLS");
		return;
	}
	smtp_reply(s, "220 2.0.0 Ready to start TLS");
	dropped = conn_starttls(s->c);
	if (dropped > 0)
		log_warn("session=%s event=starttls_injection bytes=%zu "
		    "action=discarded", conn_id(s->c), dropped);
	/* RFC 3207 4.2: forget everything learned before TLS. */
	smtp_tx_reset(s);
	s->helo[0] = '\0';
	s->esmtp = false;
	s->auth_user[0] = '\0';
	s->state = ST_GREET;
	smtp_line_init(&s->line);
	/* No input until the handshake is done. */
	s->job_pending = true;
}

/* ---- MAIL ---- */

/* Submission: is one more message (rcpts = 0) or recipient allowed?
 * Replies 451 4.7.0 and logs when not; nothing accepted is dropped. */
static bool
smtp_limit_check(struct smtp_session *s, unsigned rcpts)
{
	enum sendlimit_result r = sendlimit_check(s->auth_user,
	    s->limit_messages_hour, s->limit_recipients_day, rcpts,
	    time(NULL));

	if (r == SENDLIMIT_OK)
		return true;
	log_warn("session=%s event=send_limit user=%s limit=%s",
	    conn_id(s->c), s->auth_user, r == SENDLIMIT_MESSAGES ?
	    "messages_per_hour" : "recipients_per_day");
	smtp_reply(s, "451 4.7.0 Sending limit reached (%s), try again "
	    "later", r == SENDLIMIT_MESSAGES ? "messages per hour" :
	    "recipients per day");
	return false;
}

/* Submission: the sender must be an address the user owns. */
struct smtp_sender_job {
	char mailbox[ADDR_MAX + 1];
	char sender[ADDR_MAX + 1];
	bool owned;
	long long limit_hour, limit_day;	/* -1: the default */
	int status;
};

static void
smtp_sender_work(void *arg)
{
	struct smtp_sender_job *job = arg;
	const char *error;
	struct db *db = db_thread_get(&error);

	job->status = db == NULL ? DB_ERROR : db_sender_owned(db, job->mailbox,
	    job->sender, &job->owned, &error);
	if (job->status == DB_OK && job->owned)
		job->status = db_mailbox_limits(db, job->mailbox,
		    &job->limit_hour, &job->limit_day, &error);
}

static void
smtp_sender_done(struct conn *c, void *arg)
{
	struct smtp_sender_job *job = arg;
	struct smtp_session *s = conn_ctx(c);

	if (conn_is_closing(c))
		goto out;
	s->job_pending = false;
	if (job->status != DB_OK) {
		smtp_reply(s, "451 4.3.0 Temporary lookup failure, try again "
		    "later");
		xfree(s->mail_from);
	} else if (!job->owned) {
		log_info("session=%s event=sender_refused user=%s from=%s",
		    conn_id(c), job->mailbox, job->sender);
		smtp_reply(s, "553 5.7.1 <%s>: Sender address not owned by "
		    "user %s", job->sender, job->mailbox);
		xfree(s->mail_from);
	} else {
		s->limit_messages_hour = job->limit_hour >= 0 ?
		    (unsigned)job->limit_hour :
		    s->cfg->send_limit_messages_per_hour;
		s->limit_recipients_day = job->limit_day >= 0 ?
		    (unsigned)job->limit_day :
		    s->cfg->send_limit_recipients_per_day;
		if (smtp_limit_check(s, 0)) {
			s->state = ST_MAIL;
			smtp_reply(s, "250 2.1.0 OK");
		} else {
			xfree(s->mail_from);
		}
	}
	smtp_continue(s);
out:
	free(job);
}

static void
smtp_sender_check(struct smtp_session *s, const char *norm)
{
	struct smtp_sender_job *job;

	if (s->mail_from[0] == '\0') {
		/* RFC 6409 6.1: bounces come from the server, not users. */
		smtp_reply(s, "553 5.7.1 Empty sender not allowed on "
		    "submission");
		xfree(s->mail_from);
		return;
	}
	job = xcalloc(1, sizeof(*job));
	str_lcpy(job->mailbox, s->auth_user, sizeof(job->mailbox));
	str_lcpy(job->sender, norm, sizeof(job->sender));
	s->job_pending = true;
	conn_pause(s->c);
	conn_job(s->c, smtp_sender_work, smtp_sender_done, job);
}

static void
smtp_cmd_mail(struct smtp_session *s, struct smtp_cmd *cmd)
{
	char norm[ADDR_MAX + 1];
	const struct smtp_param *p;
	const char *error;
	bool utf8 = false;
	uint64_t size = 0;

	if (cmd->path == NULL) {
		smtp_reply(s, "501 5.5.4 Syntax: MAIL FROM:<address>");
		return;
	}
	if (s->srv->submission && s->auth_user[0] == '\0') {
		/* RFC 4954 6 */
		smtp_reply(s, "530 5.7.0 Authentication required");
		return;
	}
	norm[0] = '\0';
	for (unsigned i = 0; i < cmd->nparams; i++) {
		p = &cmd->params[i];
		if (strcmp(p->key, "SIZE") == 0 && p->value != NULL) {
			if (str_to_u64(p->value, strlen(p->value), UINT64_MAX,
			    &size) < 0) {
				smtp_reply(s, "501 5.5.4 Bad SIZE value");
				return;
			}
		} else if (strcmp(p->key, "BODY") == 0 && p->value != NULL &&
		    (strcasecmp(p->value, "7BIT") == 0 ||
		    strcasecmp(p->value, "8BITMIME") == 0)) {
			/* RFC 6152: 8-bit content is stored as received. */
		} else if (strcmp(p->key, "SMTPUTF8") == 0 &&
		    p->value == NULL) {
			utf8 = true;
		} else if (strcmp(p->key, "AUTH") == 0 && p->value != NULL &&
		    s->srv->submission) {
			/* RFC 4954 5: accepted; the identity is ours to set. */
		} else {
			char clean[LOG_CLEAN_SIZE];

			smtp_reply(s, "555 5.5.4 Unsupported parameter %s",
			    log_clean(p->key, strlen(p->key), clean));
			return;
		}
	}
	if (cmd->path_utf8 && !utf8) {
		/* RFC 6531 3.5 */
		smtp_reply(s, "553 5.6.7 Non-ASCII address requires "
		    "SMTPUTF8");
		return;
	}
	if (cmd->path[0] != '\0' && addr_normalize(cmd->path,
	    strlen(cmd->path), false, norm, sizeof(norm), &error) < 0) {
		smtp_reply(s, "553 5.1.7 Bad sender address syntax: %s", error);
		return;
	}
	if (size > s->cfg->max_message_size) {
		/* RFC 1870 6.1 */
		smtp_reply(s, "552 5.3.4 Message size exceeds fixed maximum "
		    "message size");
		return;
	}
	s->mail_from = xstrdup(cmd->path);
	s->smtputf8 = utf8;
	s->declared_size = size;
	if (s->srv->submission) {
		smtp_sender_check(s, norm);
		return;
	}
	s->state = ST_MAIL;
	smtp_reply(s, "250 2.1.0 OK");
}

/* ---- RCPT (resolved on a worker) ---- */

struct smtp_rcpt_job {
	char address[ADDR_MAX + 1];
	char data_dir[4096];
	uint64_t size;		/* declared SIZE, for the quota check */
	bool relay;		/* an authenticated user may relay */
	struct db_rcpt r;
	int status;		/* enum db_status */
	bool over_quota;
	bool quota_error;
};

static void
smtp_rcpt_work(void *arg)
{
	struct smtp_rcpt_job *job = arg;
	const char *error;
	struct db *db = db_thread_get(&error);

	if (db == NULL) {
		job->status = DB_ERROR;
		return;
	}
	job->status = db_rcpt_resolve(db, job->address, &job->r, &error);
	if (job->status != DB_OK || job->r.status != DB_RCPT_LOCAL)
		return;
	for (unsigned i = 0; i < job->r.ntargets; i++) {
		const struct db_rcpt_target *t = &job->r.targets[i];
		char dir[4096];
		uint64_t used = 0;

		if (t->quota == 0)
			continue;
		if (maildir_path(job->data_dir, t->address, dir,
		    sizeof(dir)) < 0 || maildir_usage(dir, &used) < 0) {
			job->quota_error = true;
			return;
		}
		if (used + job->size > t->quota) {
			job->over_quota = true;
			return;
		}
	}
}

static const char *
smtp_rcpt_result_name(const struct smtp_rcpt_job *job)
{
	static const char *const names[] = {
		[DB_RCPT_LOCAL] = "local", [DB_RCPT_NOT_HOSTED] = "relay_denied",
		[DB_RCPT_UNKNOWN] = "unknown", [DB_RCPT_DISABLED] = "disabled",
		[DB_RCPT_LOOP] = "loop",
	};

	if (job->status != DB_OK || job->quota_error)
		return "tempfail";
	if (job->r.status == DB_RCPT_LOCAL && job->over_quota)
		return "over_quota";
	if (job->r.status == DB_RCPT_NOT_HOSTED && job->relay)
		return "relay";
	return names[job->r.status];
}

static void
smtp_rcpt_done(struct conn *c, void *arg)
{
	struct smtp_rcpt_job *job = arg;
	struct smtp_session *s;
	const char *who = job->address;

	if (conn_is_closing(c))
		goto out;
	s = conn_ctx(c);
	s->job_pending = false;
	if (job->status != DB_OK || job->quota_error) {
		smtp_reply(s, "451 4.3.0 Temporary lookup failure, try again "
		    "later");
	} else {
		switch (job->r.status) {
		case DB_RCPT_LOCAL:
			if (job->over_quota) {
				smtp_reply(s, "552 5.2.2 <%s>: Mailbox full",
				    who);
				break;
			}
			for (unsigned i = 0; i < job->r.ntargets; i++)
				smtp_targets_add(s, &job->r.targets[i]);
			/* Aliases forwarding outside: the queue. */
			for (unsigned i = 0; i < job->r.nexternal; i++)
				smtp_remote_add(s, job->r.external[i]);
			if (s->nrcpt++ == 0)
				str_lcpy(s->first_rcpt, who,
				    sizeof(s->first_rcpt));
			s->state = ST_RCPT;
			smtp_reply(s, "250 2.1.5 OK");
			break;
		case DB_RCPT_NOT_HOSTED:
			if (!s->srv->submission || s->auth_user[0] == '\0') {
				smtp_reply(s, "554 5.7.1 <%s>: Relay access "
				    "denied", who);
				break;
			}
			/* An authenticated user: relay through the queue. */
			smtp_remote_add(s, who);
			if (s->nrcpt++ == 0)
				str_lcpy(s->first_rcpt, who,
				    sizeof(s->first_rcpt));
			s->state = ST_RCPT;
			smtp_reply(s, "250 2.1.5 OK");
			break;
		case DB_RCPT_UNKNOWN:
			smtp_reply(s, "550 5.1.1 <%s>: User unknown", who);
			break;
		case DB_RCPT_DISABLED:
			smtp_reply(s, "550 5.2.1 <%s>: Mailbox disabled", who);
			break;
		case DB_RCPT_LOOP:
			smtp_reply(s, "550 5.4.6 <%s>: Alias loop", who);
			break;
		}
	}
	log_info("session=%s event=rcpt to=%s result=%s", conn_id(c), who,
	    smtp_rcpt_result_name(job));
	smtp_continue(s);
out:
	free(job);
}

static void
smtp_cmd_rcpt(struct smtp_session *s, struct smtp_cmd *cmd)
{
	struct smtp_rcpt_job *job;
	char norm[ADDR_MAX + 1];
	const char *error, *path = cmd->path;
	char pm[ADDR_MAX + 1];

	if (path == NULL || path[0] == '\0') {
		smtp_reply(s, "501 5.5.4 Syntax: RCPT TO:<address>");
		return;
	}
	if (cmd->nparams > 0) {
		smtp_reply(s, "555 5.5.4 Unsupported RCPT parameter");
		return;
	}
	if (cmd->path_utf8 && !s->smtputf8) {
		smtp_reply(s, "553 5.6.7 Non-ASCII address requires "
		    "SMTPUTF8");
		return;
	}
	if (s->srv->submission && !smtp_limit_check(s, s->nrcpt + 1))
		return;
	if (s->nrcpt >= s->cfg->max_recipients) {
		/* RFC 5321 4.5.3.1.10 */
		smtp_reply(s, "452 4.5.3 Too many recipients");
		return;
	}
	if (strcasecmp(path, "postmaster") == 0) {
		/* RFC 5321 4.5.1: <postmaster> without a domain. */
		if (str_printf(pm, sizeof(pm), "postmaster@%s",
		    s->cfg->hostname) < 0) {
			smtp_reply(s, "550 5.1.1 User unknown");
			return;
		}
		path = pm;
	}
	if (addr_normalize(path, strlen(path), false, norm, sizeof(norm),
	    &error) < 0) {
		smtp_reply(s, "501 5.1.3 Bad recipient address syntax: %s",
		    error);
		return;
	}
	job = xcalloc(1, sizeof(*job));
	str_lcpy(job->address, norm, sizeof(job->address));
	str_lcpy(job->data_dir, s->cfg->data_dir, sizeof(job->data_dir));
	job->size = s->declared_size;
	job->relay = s->srv->submission && s->auth_user[0] != '\0';
	s->job_pending = true;
	conn_pause(s->c);
	conn_job(s->c, smtp_rcpt_work, smtp_rcpt_done, job);
}

/* ---- Message content ---- */

static bool
smtp_content_begin(struct smtp_session *s)
{
	s->spool_fd = maildir_spool_open(s->cfg->data_dir);
	if (s->spool_fd < 0) {
		log_error("session=%s event=spool_failed error=\"%s\"",
		    conn_id(s->c), strerror(errno));
		return false;
	}
	s->msg_size = 0;
	s->msg_lines = 0;
	s->too_big = false;
	s->write_error = false;
	smtp_hdrscan_init(&s->hdrscan);
	return true;
}

/* Appends converted content to the spool, counting it against the
 * size limit; past the limit the rest is read and dropped. */
static void
smtp_content_write(struct smtp_session *s, const char *p, size_t len)
{
	if (len == 0 || s->too_big || s->write_error)
		return;
	if (s->msg_size + len > s->cfg->max_message_size) {
		s->too_big = true;
		return;
	}
	for (size_t i = 0; i < len; i++) {
		s->msg_lines += p[i] == '\n';
		s->body_8bit = s->body_8bit || (unsigned char)p[i] >= 0x80;
	}
	s->msg_size += len;
	smtp_hdrscan_feed(&s->hdrscan, p, len);
	/* A write to the page cache; the fsync happens on a worker. */
	while (len > 0) {
		ssize_t n = write(s->spool_fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			log_error("session=%s event=spool_write_failed "
			    "error=\"%s\"", conn_id(s->c), strerror(errno));
			s->write_error = true;
			return;
		}
		p += n;
		len -= (size_t)n;
	}
}

static char *
smtp_received_header(struct smtp_session *s)
{
	struct buf b;
	char date[64];
	time_t now = time(NULL);
	struct tm tm;
	const char *proto;
	bool tls = conn_is_tls(s->c);

	/* RFC 3848 and RFC 6531 7.2 protocol names */
	if (s->smtputf8 && s->auth_user[0] != '\0')
		proto = tls ? "UTF8SMTPSA" : "UTF8SMTPA";
	else if (s->smtputf8)
		proto = tls ? "UTF8SMTPS" : "UTF8SMTP";
	else if (s->auth_user[0] != '\0')
		proto = tls ? "ESMTPSA" : "ESMTPA";
	else if (s->esmtp)
		proto = tls ? "ESMTPS" : "ESMTP";
	else
		proto = tls ? "SMTPS" : "SMTP";
	localtime_r(&now, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S %z", &tm);
	buf_init(&b);
	/* RFC 5321 4.4 */
	buf_printf(&b, "Received: from %s ([%s])\n\tby %s (Facteur) with %s "
	    "id %s.%u", s->helo, conn_peer(s->c), s->cfg->hostname, proto,
	    conn_id(s->c), s->transactions);
	if (tls)
		buf_printf(&b, "\n\t(using %s with cipher %s)",
		    conn_tls_version(s->c), conn_tls_cipher(s->c));
	if (s->nrcpt == 1)
		buf_printf(&b, "\n\tfor <%s>", s->first_rcpt);
	buf_printf(&b, "; %s\n", date);
	/* RFC 6409 8.2, 8.3: the submission server completes the header. */
	if (s->srv->submission && !s->hdrscan.has_date)
		buf_printf(&b, "Date: %s\n", date);
	if (s->srv->submission && !s->hdrscan.has_message_id) {
		unsigned char rnd[12];
		char hex[25];

		delivery_random(rnd, sizeof(rnd));
		for (size_t i = 0; i < sizeof(rnd); i++)
			str_printf(hex + i * 2, 3, "%02x", rnd[i]);
		buf_printf(&b, "Message-ID: <%s@%s>\n", hex, s->cfg->hostname);
	}
	return b.data;
}

static void
smtp_deliver_done(struct conn *c, void *arg)
{
	struct delivery *d = arg;
	struct smtp_session *s;

	if (conn_is_closing(c)) {
		log_warn("session=%s event=client_gone_during_delivery "
		    "delivered=%u", conn_id(c), d->delivered);
		delivery_free(&d);
		return;
	}
	s = conn_ctx(c);
	s->job_pending = false;
	if (d->failed) {
		smtp_reply(s, "451 4.3.0 Local delivery failed, try again "
		    "later");
	} else {
		smtp_reply(s, "250 2.0.0 OK: queued as %s.%u", conn_id(c),
		    s->transactions);
		if (s->srv->submission)
			sendlimit_record(s->auth_user, s->nrcpt, time(NULL));
	}
	log_info("session=%s event=message id=%s.%u from=<%s> rcpts=%u "
	    "mailboxes=%u size=%llu result=%s", conn_id(c), conn_id(c),
	    s->transactions, d->return_path, s->nrcpt, d->delivered,
	    (unsigned long long)d->body_size,
	    d->failed ? "tempfail" : "delivered");
	delivery_free(&d);
	smtp_tx_reset(s);
	smtp_continue(s);
}

static void
smtp_deliver_work(void *arg)
{
	delivery_run(arg);
}

/* The content is complete: refuse it, or deliver it on a worker. */
static void
smtp_content_end(struct smtp_session *s, enum smtp_data_error err)
{
	struct delivery *d;

	s->in_data = false;
	if (err != SMTP_DATA_OK) {
		const char *what = err == SMTP_DATA_LINE_TOO_LONG ?
		    "a line longer than 8192 octets" :
		    "a bare CR or LF (RFC 5321 2.3.8)";

		smtp_reply(s, "554 5.6.0 Message refused: it contains %s",
		    what);
		log_info("session=%s event=message result=refused reason=%s",
		    conn_id(s->c), err == SMTP_DATA_LINE_TOO_LONG ?
		    "long_line" : "bare_newline");
		smtp_tx_reset(s);
		return;
	}
	if (s->too_big) {
		smtp_reply(s, "552 5.3.4 Message size exceeds fixed maximum "
		    "message size");
		log_info("session=%s event=message result=refused "
		    "reason=size", conn_id(s->c));
		smtp_tx_reset(s);
		return;
	}
	if (s->write_error) {
		smtp_reply(s, "451 4.3.0 Local error in processing");
		smtp_tx_reset(s);
		return;
	}
	s->transactions++;
	d = xcalloc(1, sizeof(*d));
	d->data_dir = s->cfg->data_dir;
	d->body_fd = s->spool_fd;
	s->spool_fd = -1;
	d->body_size = s->msg_size;
	d->body_lines = s->msg_lines;
	/* The return path was checked by addr_normalize: no CR, LF or
	 * control characters can reach the header. */
	d->return_path = xstrdup(s->mail_from);
	d->received = smtp_received_header(s);
	d->ntargets = s->ntargets;
	d->targets = xmalloc(s->ntargets * sizeof(*d->targets));
	if (s->ntargets > 0)
		memcpy(d->targets, s->targets,
		    s->ntargets * sizeof(*d->targets));
	d->nremote = s->nremote;
	d->remote = xmalloc(s->nremote * sizeof(*d->remote));
	if (s->nremote > 0)
		memcpy(d->remote, s->remote, s->nremote * sizeof(*d->remote));
	d->need_8bit = s->body_8bit;
	d->need_utf8 = s->smtputf8;
	if (s->srv->submission && s->auth_user[0] != '\0') {
		/* RFC 6376: signed for the sender's (hosted) domain. */
		const char *at = strrchr(s->mail_from, '@');

		if (at != NULL)
			str_lcpy(d->dkim_domain, at + 1,
			    sizeof(d->dkim_domain));
		str_lower(d->dkim_domain);
		d->dkim_selector = s->cfg->dkim_selector;
	}
	s->job_pending = true;
	conn_pause(s->c);
	conn_job(s->c, smtp_deliver_work, smtp_deliver_done, d);
}

static void
smtp_cmd_data(struct smtp_session *s, struct smtp_cmd *cmd)
{
	if (!smtp_content_begin(s)) {
		smtp_reply(s, "451 4.3.0 Local error in processing");
		return;
	}
	smtp_data_init(&s->data);
	s->in_data = true;
	conn_set_timeout(s->c, s->cfg->timeout_data);
	smtp_reply(s, "354 End data with <CR><LF>.<CR><LF>");
}

static void smtp_bdat_chunk_done(struct smtp_session *s);

static void
smtp_cmd_bdat(struct smtp_session *s, struct smtp_cmd *cmd)
{
	s->bdat_remaining = cmd->bdat_size;
	s->bdat_last = cmd->bdat_last;
	s->bdat_discard = false;
	if (!(s->state & (ST_RCPT | ST_BDAT))) {
		/* RFC 3030 2: the chunk is read even when it is refused. */
		s->bdat_discard = true;
	} else if (!(s->state & ST_BDAT)) {
		if (!smtp_content_begin(s)) {
			smtp_tx_reset(s);
			s->bdat_discard = true;
			s->write_error = true;
		} else {
			smtp_bdat_init(&s->bdat);
			s->state = ST_BDAT;
		}
	}
	if (s->bdat_remaining == 0)
		smtp_bdat_chunk_done(s);
	else
		conn_set_timeout(s->c, s->cfg->timeout_data);
}

/* A BDAT chunk has been read completely. */
static void
smtp_bdat_chunk_done(struct smtp_session *s)
{
	conn_set_timeout(s->c, s->cfg->timeout_idle);
	if (s->bdat_discard) {
		s->bdat_discard = false;
		if (s->write_error) {
			s->write_error = false;
			smtp_reply(s, "451 4.3.0 Local error in processing");
		} else if (s->mail_from == NULL) {
			smtp_reply(s, "503 5.5.1 Bad sequence of commands: "
			    "MAIL first");
		} else {
			smtp_reply(s, "554 5.5.1 No valid recipients");
		}
		return;
	}
	if (s->too_big) {
		/* Refuse now; later chunks of this message get 503. */
		smtp_content_end(s, SMTP_DATA_OK);
		return;
	}
	if (!s->bdat_last) {
		smtp_reply(s, "250 2.0.0 %llu octets received",
		    (unsigned long long)s->msg_size);
		return;
	}
	{
		char out[1];
		size_t n = smtp_bdat_finish(&s->bdat, out);

		smtp_content_write(s, out, n);
	}
	smtp_content_end(s, s->bdat.error);
}

/* ---- Dispatcher ---- */

static const struct smtp_command smtp_commands[] = {
	{ SMTP_VERB_EHLO, "EHLO", ST_ANY & ~ST_BDAT, ARG_REQ, smtp_cmd_helo },
	{ SMTP_VERB_HELO, "HELO", ST_ANY & ~ST_BDAT, ARG_REQ, smtp_cmd_helo },
	{ SMTP_VERB_MAIL, "MAIL", ST_READY, ARG_REQ, smtp_cmd_mail },
	{ SMTP_VERB_RCPT, "RCPT", ST_MAIL | ST_RCPT, ARG_REQ, smtp_cmd_rcpt },
	{ SMTP_VERB_DATA, "DATA", ST_RCPT, ARG_NONE | CMD_LAST,
	    smtp_cmd_data },
	{ SMTP_VERB_BDAT, "BDAT", ST_ANY, ARG_REQ, smtp_cmd_bdat },
	{ SMTP_VERB_RSET, "RSET", ST_ANY, ARG_NONE, smtp_cmd_rset },
	{ SMTP_VERB_NOOP, "NOOP", ST_ANY, 0, smtp_cmd_noop },
	{ SMTP_VERB_QUIT, "QUIT", ST_ANY, ARG_NONE | CMD_LAST,
	    smtp_cmd_quit },
	{ SMTP_VERB_VRFY, "VRFY", ST_ANY & ~ST_BDAT, ARG_REQ, smtp_cmd_vrfy },
	{ SMTP_VERB_EXPN, "EXPN", ST_ANY & ~ST_BDAT, 0, smtp_cmd_expn },
	{ SMTP_VERB_HELP, "HELP", ST_ANY & ~ST_BDAT, 0, smtp_cmd_help },
	{ SMTP_VERB_STARTTLS, "STARTTLS", ST_GREET | ST_READY,
	    ARG_NONE | CMD_LAST, smtp_cmd_starttls },
	{ SMTP_VERB_AUTH, "AUTH", ST_READY, ARG_REQ, smtp_cmd_auth },
};

static void
smtp_error_count(struct smtp_session *s)
{
	if (++s->errors < SMTP_MAX_ERRORS)
		return;
	smtp_reply(s, "421 4.7.0 %s Too many errors, closing connection",
	    s->cfg->hostname);
	conn_close(s->c);
}

static void
smtp_dispatch(struct smtp_session *s, const char *line, size_t len)
{
	const struct smtp_command *sc = NULL;
	struct smtp_cmd *cmd = &s->cmd;
	const char *error;
	char clean[LOG_CLEAN_SIZE];

	if (s->sasl != NULL) {
		const char *challenge = NULL;
		int r;

		error = NULL;
		r = sasl_step(s->sasl, line, len, &challenge, &error);
		mem_wipe(s->line.buf, sizeof(s->line.buf));
		smtp_sasl_result(s, r, challenge, error);
		return;
	}

	if (smtp_cmd_parse(line, len, cmd, &error) < 0) {
		smtp_reply(s, "%s", error);
		smtp_error_count(s);
		return;
	}
	for (size_t i = 0; i < ARRAY_SIZE(smtp_commands); i++) {
		if (smtp_commands[i].verb == cmd->verb) {
			sc = &smtp_commands[i];
			break;
		}
	}
	log_debug("session=%s command=%s", conn_id(s->c),
	    log_clean(cmd->verb_text, strlen(cmd->verb_text), clean));
	if (sc == NULL) {
		smtp_reply(s, "500 5.5.1 Command unrecognized");
		smtp_error_count(s);
		return;
	}
	if (cmd->verb == SMTP_VERB_STARTTLS && conn_is_tls(s->c)) {
		smtp_reply(s, "503 5.5.1 Already using TLS");
		return;
	}
	if (!(sc->states & s->state)) {
		if ((s->state & ST_BDAT) && sc->verb == SMTP_VERB_DATA)
			smtp_reply(s, "503 5.5.1 DATA not allowed after BDAT");
		else if (s->state == ST_GREET)
			smtp_reply(s, "503 5.5.1 Send EHLO or HELO first");
		else if (sc->verb == SMTP_VERB_MAIL)
			smtp_reply(s, "503 5.5.1 Nested MAIL command");
		else if (sc->verb == SMTP_VERB_RCPT)
			smtp_reply(s, "503 5.5.1 Need MAIL command");
		else if (sc->verb == SMTP_VERB_DATA)
			smtp_reply(s, "554 5.5.1 No valid recipients");
		else
			smtp_reply(s, "503 5.5.1 Bad sequence of commands");
		smtp_error_count(s);
		return;
	}
	if ((sc->flags & ARG_NONE) && cmd->arg[0] != '\0') {
		smtp_reply(s, "501 5.5.4 Syntax: %s takes no argument",
		    sc->name);
		return;
	}
	if ((sc->flags & ARG_REQ) && cmd->arg[0] == '\0') {
		smtp_reply(s, "501 5.5.4 Syntax: %s needs an argument",
		    sc->name);
		return;
	}
	s->errors = 0;
	sc->handler(s, cmd);
}

/* Feeds DATA bytes; returns what it consumed. */
static size_t
smtp_data_input(struct smtp_session *s, const char *p, size_t len)
{
	size_t consumed, outlen;

	if (len > SMTP_IO_CHUNK)
		len = SMTP_IO_CHUNK;
	if (smtp_data_feed(&s->data, p, len, s->io, &outlen, &consumed)) {
		smtp_content_write(s, s->io, outlen);
		conn_set_timeout(s->c, s->cfg->timeout_idle);
		smtp_content_end(s, s->data.error);
		return consumed;
	}
	smtp_content_write(s, s->io, outlen);
	return consumed;
}

static size_t
smtp_bdat_input(struct smtp_session *s, const char *p, size_t len)
{
	if (len > s->bdat_remaining)
		len = (size_t)s->bdat_remaining;
	if (len > SMTP_IO_CHUNK)
		len = SMTP_IO_CHUNK;
	if (!s->bdat_discard && !s->too_big) {
		size_t outlen = smtp_bdat_feed(&s->bdat, p, len, s->io);

		smtp_content_write(s, s->io, outlen);
	}
	s->bdat_remaining -= len;
	if (s->bdat_remaining == 0)
		smtp_bdat_chunk_done(s);
	return len;
}

/*
 * Handles what the client sent, in order, until the input is used up, a
 * job is pending (input is paused) or the per-wake-up bound is reached.
 */
static void
smtp_process(struct smtp_session *s)
{
	unsigned handled = 0;

	while (!s->job_pending && !conn_is_closing(s->c)) {
		const char *p;
		size_t len = conn_peek(s->c, &p), consumed;
		enum smtp_line_result r;

		if (len == 0)
			return;
		if (conn_output_len(s->c) > SMTP_OUTPUT_MAX)
			return;		/* smtp_on_drained resumes */
		if (s->in_data) {
			conn_consume(s->c, smtp_data_input(s, p, len));
			continue;
		}
		if (s->bdat_remaining > 0) {
			conn_consume(s->c, smtp_bdat_input(s, p, len));
			continue;
		}
		r = smtp_line_feed(&s->line, p, len, &consumed);
		conn_consume(s->c, consumed);
		switch (r) {
		case SMTP_LINE_MORE:
			continue;
		case SMTP_LINE_TOO_LONG:
			smtp_reply(s, "500 5.5.2 Line too long");
			smtp_error_count(s);
			break;
		case SMTP_LINE_BARE_LF:
			/* RFC 5321 2.3.8: lines end with CRLF only. */
			smtp_reply(s, "500 5.5.2 Command line must end with "
			    "CRLF");
			smtp_error_count(s);
			break;
		case SMTP_LINE_OK:
			smtp_dispatch(s, s->line.buf, s->line.len);
			break;
		}
		if (++handled >= SMTP_CMDS_PER_WAKEUP) {
			/* Fairness: let other sessions on this loop run. */
			conn_yield(s->c);
			return;
		}
	}
}

/* ---- Connection events ---- */

static void
smtp_on_start(struct conn *c)
{
	struct smtp_session *s = xcalloc(1, sizeof(*s));

	s->c = c;
	s->srv = conn_listener_arg(c);
	s->cfg = s->srv->cfg;
	s->state = ST_GREET;
	s->spool_fd = -1;
	s->io = xmalloc(SMTP_IO_CHUNK);
	smtp_line_init(&s->line);
	conn_ctx_set(c, s);
	conn_set_timeout(c, s->cfg->timeout_idle);
	smtp_reply(s, "220 %s ESMTP Facteur", s->cfg->hostname);
}

static void
smtp_on_input(struct conn *c)
{
	smtp_process(conn_ctx(c));
}

static void
smtp_on_tls_ready(struct conn *c)
{
	struct smtp_session *s = conn_ctx(c);

	log_info("session=%s event=starttls version=%s cipher=%s", conn_id(c),
	    conn_tls_version(c), conn_tls_cipher(c));
	s->job_pending = false;
	if (s->stop_requested) {
		smtp_goodbye(s);
		return;
	}
	smtp_process(s);
}

static void
smtp_on_drained(struct conn *c)
{
	smtp_process(conn_ctx(c));
}

static void
smtp_on_timeout(struct conn *c)
{
	struct smtp_session *s = conn_ctx(c);

	smtp_reply(s, "421 4.4.2 %s Error: timeout exceeded",
	    s->cfg->hostname);
}

static void
smtp_on_stop(struct conn *c)
{
	struct smtp_session *s = conn_ctx(c);

	if (s->job_pending) {
		/* Finish the lookup, delivery or TLS handshake under
		 * way, then say goodbye. */
		s->stop_requested = true;
		return;
	}
	smtp_goodbye(s);
}

static void
smtp_on_closed(struct conn *c)
{
	struct smtp_session *s = conn_ctx(c);

	if (s == NULL)
		return;
	log_info("session=%s event=close messages=%u", conn_id(c),
	    s->transactions);
	smtp_tx_reset(s);
	if (s->sasl != NULL) {
		sasl_clear(s->sasl);
		free(s->sasl);
	}
	free(s->targets);
	free(s->remote);
	free(s->io);
	free(s);
	conn_ctx_set(c, NULL);
}

const struct conn_ops smtp_conn_ops = {
	.start = smtp_on_start,
	.input = smtp_on_input,
	.tls_ready = smtp_on_tls_ready,
	.timeout = smtp_on_timeout,
	.stop = smtp_on_stop,
	.drained = smtp_on_drained,
	.closed = smtp_on_closed,
};
