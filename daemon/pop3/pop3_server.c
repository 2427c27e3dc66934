/*
 * pop3_server.c: POP3 sessions. States AUTHORIZATION and TRANSACTION;
 * the UPDATE state is the expunge job run by QUIT. Deletions happen only
 * there: a dropped connection deletes nothing.
 *
 * One session per mailbox at a time ([IN-USE], RFC 2449 8.1.1): the lock
 * is an in-process set of mailbox addresses, taken after a successful
 * login and released when the session ends. Delivery and IMAP carry on
 * beside it; what arrives meanwhile is seen by the next session.
 *
 * UIDL (RFC 1939 7) is the message's IMAP UID and the INBOX UIDVALIDITY
 * as 8 + 8 upper-case hex digits ("%08X%08X", UID first), as Dovecot's
 * default pop3_uidl_format, so it never changes while the index lives.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth/auth_conn.h"
#include "auth/sasl.h"
#include "lib/log.h"
#include "pop3/pop3.h"
#include "pop3/pop3_parser.h"
#include "store/maildir.h"
#include "store/mailbox.h"

#define ST_AUTH		0x01	/* AUTHORIZATION */
#define ST_TRANS	0x02	/* TRANSACTION */
#define ST_ANY		0x03

#define POP3_CMDS_PER_WAKEUP 32
#define POP3_MAX_ERRORS 10
/* RETR streams: refill the output while it holds less than this. */
#define POP3_OUTPUT_HIGH (256 * 1024)
#define POP3_CHUNK 32768

struct pop3_session;

/* PASS takes the rest of the line, which may hold spaces. */
#define POP3_ARGS_ANY 255

struct pop3_command {
	const char *verb;
	unsigned states;
	unsigned max_args;
	void (*handler)(struct pop3_session *s, struct pop3_cmd *cmd);
};

struct pop3_msg {
	uint32_t uid;
	uint64_t vsize;
	char *path;
	bool deleted;
};

struct pop3_session {
	struct conn *c;
	const struct config *cfg;
	unsigned state;
	struct pop3_line line;
	struct pop3_cmd cmd;
	bool busy;		/* a job, a timer or STLS is under way */
	bool quitting;
	bool stop_requested;
	unsigned errors;
	char user[SASL_USER_MAX + 1];	/* from USER */
	struct sasl *sasl;	/* AUTH exchange under way */
	char address[ADDR_MAX + 1];	/* logged-in mailbox */
	bool locked;
	char maildir[4096];
	struct pop3_msg *msgs;
	uint32_t nmsgs;
	uint32_t uidvalidity;
	/* RETR/TOP streaming */
	int retr_fd;
	struct pop3_encoder enc;
	char *io;
	char *out;
};

/* ---- The one-session-per-mailbox lock ---- */

struct pop3_lock {
	char address[ADDR_MAX + 1];
	struct pop3_lock *next;
};

static pthread_mutex_t pop3_lock_mutex = PTHREAD_MUTEX_INITIALIZER;
static struct pop3_lock *pop3_locks;

static bool
pop3_lock_take(const char *address)
{
	struct pop3_lock *l;
	bool ok = true;

	pthread_mutex_lock(&pop3_lock_mutex);
	for (l = pop3_locks; l != NULL; l = l->next) {
		if (strcmp(l->address, address) == 0) {
			ok = false;
			break;
		}
	}
	if (ok) {
		l = xcalloc(1, sizeof(*l));
		str_lcpy(l->address, address, sizeof(l->address));
		l->next = pop3_locks;
		pop3_locks = l;
	}
	pthread_mutex_unlock(&pop3_lock_mutex);
	return ok;
}

static void
pop3_lock_release(const char *address)
{
	struct pop3_lock **pp, *l;

	pthread_mutex_lock(&pop3_lock_mutex);
	for (pp = &pop3_locks; *pp != NULL; pp = &(*pp)->next) {
		if (strcmp((*pp)->address, address) == 0) {
			l = *pp;
			*pp = l->next;
			free(l);
			break;
		}
	}
	pthread_mutex_unlock(&pop3_lock_mutex);
}

/* ---- Replies ---- */

static void ATTR_PRINTF(2, 3)
pop3_reply(struct pop3_session *s, const char *fmt, ...)
{
	va_list ap;
	char line[512];
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
}

static void
pop3_msgs_free(struct pop3_session *s)
{
	for (uint32_t i = 0; i < s->nmsgs; i++)
		free(s->msgs[i].path);
	xfree(s->msgs);
	s->nmsgs = 0;
}

/* True when credentials may be sent on this connection now. */
static bool
pop3_auth_allowed(const struct pop3_session *s)
{
	return auth_conn_secure(s->cfg, s->c);
}

static bool
pop3_stls_offered(const struct pop3_session *s)
{
	return !conn_is_tls(s->c) && s->state == ST_AUTH;
}

/* ---- AUTHORIZATION ---- */

static void
pop3_cmd_capa(struct pop3_session *s, struct pop3_cmd *cmd)
{
	pop3_reply(s, "+OK Capability list follows");
	pop3_reply(s, "TOP");
	pop3_reply(s, "UIDL");
	pop3_reply(s, "RESP-CODES");
	pop3_reply(s, "AUTH-RESP-CODE");
	pop3_reply(s, "PIPELINING");
	pop3_reply(s, "EXPIRE NEVER");
	if (s->state == ST_AUTH && pop3_auth_allowed(s)) {
		pop3_reply(s, "USER");
		pop3_reply(s, "SASL PLAIN LOGIN");
	}
	if (pop3_stls_offered(s))
		pop3_reply(s, "STLS");
	pop3_reply(s, "IMPLEMENTATION Facteur");
	pop3_reply(s, ".");
}

static void
pop3_cmd_stls(struct pop3_session *s, struct pop3_cmd *cmd)
{
	size_t dropped;

	if (conn_is_tls(s->c)) {
		pop3_reply(s, "-ERR Already using TLS");
		return;
	}
	pop3_reply(s, "+OK Begin TLS negotiation");
	dropped = conn_starttls(s->c);
	if (dropped > 0)
		log_warn("session=%s event=starttls_injection bytes=%zu "
		    "action=discarded", conn_id(s->c), dropped);
	s->user[0] = '\0';
	pop3_line_init(&s->line, POP3_LINE_MAX);
	s->busy = true;		/* until the handshake is done */
}

static bool
pop3_require_secure(struct pop3_session *s)
{
	if (pop3_auth_allowed(s))
		return true;
	/* RFC 2595 2.2 */
	pop3_reply(s, "-ERR [AUTH] Plaintext authentication disallowed on "
	    "non-secure connections; use STLS first");
	return false;
}

static void
pop3_cmd_user(struct pop3_session *s, struct pop3_cmd *cmd)
{
	if (!pop3_require_secure(s))
		return;
	if (cmd->nargs != 1 || strlen(cmd->rest) > SASL_USER_MAX) {
		pop3_reply(s, "-ERR Syntax: USER name");
		return;
	}
	str_lcpy(s->user, cmd->rest, sizeof(s->user));
	pop3_reply(s, "+OK");
}

static void pop3_login_done(struct conn *c, struct auth_request *req);

static void
pop3_login_start(struct pop3_session *s, struct auth_request *req)
{
	s->busy = true;
	conn_pause(s->c);
	auth_conn_start(s->c, req, pop3_login_done);
}

static void
pop3_cmd_pass(struct pop3_session *s, struct pop3_cmd *cmd)
{
	struct auth_request *req;
	size_t len = strlen(cmd->rest);

	if (!pop3_require_secure(s))
		return;
	if (s->user[0] == '\0') {
		pop3_reply(s, "-ERR USER first");
		return;
	}
	if (len == 0 || len > SASL_PASSWORD_MAX) {
		pop3_reply(s, "-ERR Syntax: PASS password");
		return;
	}
	req = xcalloc(1, sizeof(*req));
	str_lcpy(req->user, s->user, sizeof(req->user));
	memcpy(req->password, cmd->rest, len);
	req->password_len = len;
	str_lcpy(req->ip, conn_peer(s->c), sizeof(req->ip));
	/* The command buffer held the password. */
	mem_wipe(cmd->storage, sizeof(cmd->storage));
	mem_wipe(s->line.buf, sizeof(s->line.buf));
	s->user[0] = '\0';
	pop3_login_start(s, req);
}

/* Continues or finishes an AUTH exchange after a step. */
static void
pop3_sasl_result(struct pop3_session *s, int r, const char *challenge,
    const char *error)
{
	struct auth_request *req;

	switch (r) {
	case SASL_CONTINUE:
		pop3_reply(s, "+ %s", challenge);
		pop3_line_init(&s->line, POP3_AUTH_LINE_MAX);
		return;
	case SASL_DONE:
		req = xmalloc(sizeof(*req));
		auth_request_from_sasl(req, s->sasl, conn_peer(s->c));
		break;
	case SASL_CANCEL:
		pop3_reply(s, "-ERR Authentication cancelled");
		req = NULL;
		break;
	default:
		pop3_reply(s, "-ERR [AUTH] %s", error);
		req = NULL;
		break;
	}
	sasl_clear(s->sasl);
	xfree(s->sasl);
	pop3_line_init(&s->line, POP3_LINE_MAX);
	if (req != NULL)
		pop3_login_start(s, req);
}

static void
pop3_cmd_auth(struct pop3_session *s, struct pop3_cmd *cmd)
{
	const char *challenge = NULL, *error = NULL, *initial = NULL;
	enum sasl_mech mech;
	char name[32];
	int r;

	if (cmd->nargs == 0) {
		/* The mechanism list, as many clients ask for it. */
		pop3_reply(s, "+OK");
		if (pop3_auth_allowed(s)) {
			pop3_reply(s, "PLAIN");
			pop3_reply(s, "LOGIN");
		}
		pop3_reply(s, ".");
		return;
	}
	if (!pop3_require_secure(s))
		return;
	{
		size_t n = strcspn(cmd->args[0], " ");

		if (n >= sizeof(name)) {
			pop3_reply(s, "-ERR Unsupported mechanism");
			return;
		}
		memcpy(name, cmd->args[0], n);
		name[n] = '\0';
	}
	if (sasl_mech_parse(name, &mech) < 0) {
		pop3_reply(s, "-ERR Unsupported mechanism");
		return;
	}
	if (cmd->nargs > 2) {
		pop3_reply(s, "-ERR Syntax: AUTH mechanism [initial-response]");
		return;
	}
	if (cmd->nargs == 2)
		initial = cmd->args[1];
	s->sasl = xcalloc(1, sizeof(*s->sasl));
	r = sasl_start(s->sasl, mech, initial, &challenge, &error);
	mem_wipe(cmd->storage, sizeof(cmd->storage));
	pop3_sasl_result(s, r, challenge, error);
}

/* ---- Maildrop ---- */

struct pop3_open_job {
	char maildir[4096];
	struct store_msg *msgs;
	unsigned count;
	uint32_t uidvalidity;
	int ret;
	const char *error;
};

static void
pop3_open_work(void *arg)
{
	struct pop3_open_job *job = arg;
	struct store_mailbox *mb = store_mailbox_open(job->maildir,
	    &job->error);

	job->ret = -1;
	if (mb == NULL)
		return;
	job->ret = store_inbox_list(mb, &job->msgs, &job->count,
	    &job->uidvalidity, &job->error);
	store_mailbox_close(&mb);
}

static void
pop3_goodbye(struct pop3_session *s)
{
	pop3_reply(s, "-ERR [SYS/TEMP] Server shutting down");
	conn_close(s->c);
}

/* A job or the RETR stream is over: go on, or say goodbye when the
 * server is stopping. */
static void
pop3_continue(struct pop3_session *s)
{
	if (s->stop_requested)
		pop3_goodbye(s);
	else
		conn_resume(s->c);
}

static void
pop3_open_done(struct conn *c, void *arg)
{
	struct pop3_open_job *job = arg;
	struct pop3_session *s = conn_ctx(c);

	if (conn_is_closing(c))
		goto out;
	s->busy = false;
	if (job->ret < 0) {
		log_error("session=%s event=maildrop_failed user=%s "
		    "error=\"%s\"", conn_id(c), s->address, job->error);
		pop3_reply(s, "-ERR [SYS/TEMP] Cannot open the maildrop, try "
		    "again later");
		pop3_lock_release(s->address);
		s->locked = false;
		s->address[0] = '\0';
	} else {
		s->msgs = xcalloc(job->count ? job->count : 1,
		    sizeof(*s->msgs));
		for (unsigned i = 0; i < job->count; i++) {
			s->msgs[i].uid = job->msgs[i].uid;
			s->msgs[i].vsize = job->msgs[i].vsize;
			s->msgs[i].path = xstrdup(job->msgs[i].path);
		}
		s->nmsgs = job->count;
		s->uidvalidity = job->uidvalidity;
		s->state = ST_TRANS;
		log_info("session=%s event=login user=%s messages=%u",
		    conn_id(c), s->address, s->nmsgs);
		pop3_reply(s, "+OK Logged in, %u messages", s->nmsgs);
	}
	pop3_continue(s);
out:
	store_msgs_free(job->msgs, job->count);
	free(job);
}

static void
pop3_login_done(struct conn *c, struct auth_request *req)
{
	struct pop3_session *s = conn_ctx(c);
	struct pop3_open_job *job;
	char clean[LOG_CLEAN_SIZE];

	if (conn_is_closing(c)) {
		free(req);
		return;
	}
	switch (req->status) {
	case AUTH_OK:
		break;
	case AUTH_FAILED:
		log_info("session=%s event=auth_failed user=%s", conn_id(c),
		    log_clean(req->user, strlen(req->user), clean));
		pop3_reply(s, "-ERR [AUTH] Authentication failed");
		goto fail;
	case AUTH_BLOCKED:
		pop3_reply(s, "-ERR [SYS/TEMP] Too many failed logins, try "
		    "again later");
		goto fail;
	case AUTH_TEMPFAIL:
		pop3_reply(s, "-ERR [SYS/TEMP] Temporary failure, try again "
		    "later");
		goto fail;
	}
	if (!pop3_lock_take(req->address)) {
		pop3_reply(s, "-ERR [IN-USE] Mailbox is in use by another "
		    "POP3 session");
		goto fail;
	}
	s->locked = true;
	str_lcpy(s->address, req->address, sizeof(s->address));
	free(req);
	job = xcalloc(1, sizeof(*job));
	if (maildir_path(s->cfg->data_dir, s->address, job->maildir,
	    sizeof(job->maildir)) < 0) {
		free(job);
		pop3_reply(s, "-ERR [SYS/PERM] Mailbox path too long");
		pop3_lock_release(s->address);
		s->locked = false;
		s->busy = false;
		conn_resume(c);
		return;
	}
	str_lcpy(s->maildir, job->maildir, sizeof(s->maildir));
	conn_job(c, pop3_open_work, pop3_open_done, job);
	return;
fail:
	free(req);
	s->busy = false;
	pop3_continue(s);
}

/* ---- TRANSACTION ---- */

/* Looks up message n (1-based) that is not deleted; replies on error. */
static struct pop3_msg *
pop3_msg_arg(struct pop3_session *s, const char *arg)
{
	uint32_t n;

	if (arg == NULL || pop3_msgnum(arg, UINT32_MAX, &n) < 0) {
		pop3_reply(s, "-ERR Invalid message number");
		return NULL;
	}
	if (n > s->nmsgs) {
		pop3_reply(s, "-ERR No such message");
		return NULL;
	}
	if (s->msgs[n - 1].deleted) {
		pop3_reply(s, "-ERR Message %u already deleted", n);
		return NULL;
	}
	return &s->msgs[n - 1];
}

/* Messages not marked deleted, and their total size. */
static uint32_t
pop3_maildrop_count(const struct pop3_session *s, uint64_t *size_r)
{
	uint64_t size = 0;
	uint32_t count = 0;

	for (uint32_t i = 0; i < s->nmsgs; i++) {
		if (!s->msgs[i].deleted) {
			count++;
			size += s->msgs[i].vsize;
		}
	}
	*size_r = size;
	return count;
}

static void
pop3_cmd_stat(struct pop3_session *s, struct pop3_cmd *cmd)
{
	uint64_t size;
	uint32_t count = pop3_maildrop_count(s, &size);

	pop3_reply(s, "+OK %u %llu", count, (unsigned long long)size);
}

static void
pop3_cmd_list(struct pop3_session *s, struct pop3_cmd *cmd)
{
	struct pop3_msg *m;

	if (cmd->nargs > 0) {
		if ((m = pop3_msg_arg(s, cmd->args[0])) != NULL)
			pop3_reply(s, "+OK %u %llu",
			    (unsigned)(m - s->msgs) + 1,
			    (unsigned long long)m->vsize);
		return;
	}
	{
		uint64_t size;
		uint32_t count = pop3_maildrop_count(s, &size);

		pop3_reply(s, "+OK %u messages (%llu octets)", count,
		    (unsigned long long)size);
	}
	for (uint32_t i = 0; i < s->nmsgs; i++) {
		if (!s->msgs[i].deleted)
			pop3_reply(s, "%u %llu", i + 1,
			    (unsigned long long)s->msgs[i].vsize);
	}
	pop3_reply(s, ".");
}

static void
pop3_cmd_uidl(struct pop3_session *s, struct pop3_cmd *cmd)
{
	struct pop3_msg *m;

	if (cmd->nargs > 0) {
		if ((m = pop3_msg_arg(s, cmd->args[0])) != NULL)
			pop3_reply(s, "+OK %u %08X%08X",
			    (unsigned)(m - s->msgs) + 1, m->uid,
			    s->uidvalidity);
		return;
	}
	pop3_reply(s, "+OK");
	for (uint32_t i = 0; i < s->nmsgs; i++) {
		if (!s->msgs[i].deleted)
			pop3_reply(s, "%u %08X%08X", i + 1, s->msgs[i].uid,
			    s->uidvalidity);
	}
	pop3_reply(s, ".");
}

static void
pop3_cmd_dele(struct pop3_session *s, struct pop3_cmd *cmd)
{
	struct pop3_msg *m = pop3_msg_arg(s, cmd->args[0]);

	if (m == NULL)
		return;
	m->deleted = true;
	pop3_reply(s, "+OK Marked to be deleted");
}

static void
pop3_cmd_rset(struct pop3_session *s, struct pop3_cmd *cmd)
{
	for (uint32_t i = 0; i < s->nmsgs; i++)
		s->msgs[i].deleted = false;
	pop3_reply(s, "+OK");
}

static void
pop3_cmd_noop(struct pop3_session *s, struct pop3_cmd *cmd)
{
	pop3_reply(s, "+OK");
}

static void pop3_retr_pump(struct pop3_session *s);

static void
pop3_retr_begin(struct pop3_session *s, struct pop3_msg *m, long long top)
{
	int fd = open(m->path, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		/* Expunged by IMAP meanwhile, or moved to cur/ with flags. */
		log_warn("session=%s event=retr_open_failed file=%s error=\"%s\"",
		    conn_id(s->c), m->path, strerror(errno));
		pop3_reply(s, "-ERR Message is no longer available");
		return;
	}
	s->retr_fd = fd;
	pop3_encoder_init(&s->enc, top);
	if (top < 0)
		pop3_reply(s, "+OK %llu octets", (unsigned long long)m->vsize);
	else
		pop3_reply(s, "+OK");
	s->busy = true;
	pop3_retr_pump(s);
}

/* Writes the next pieces of the message while the output has room; the
 * drained callback calls again (the message never sits whole in memory). */
static void
pop3_retr_pump(struct pop3_session *s)
{
	while (s->retr_fd >= 0 && conn_output_len(s->c) < POP3_OUTPUT_HIGH &&
	    !conn_is_closing(s->c)) {
		ssize_t n = read(s->retr_fd, s->io, POP3_CHUNK);
		size_t used, outlen;

		if (n < 0 && errno == EINTR)
			continue;
		if (n > 0 && !s->enc.done) {
			outlen = pop3_encode(&s->enc, s->io, (size_t)n, s->out,
			    &used);
			conn_write(s->c, s->out, outlen);
			if (!s->enc.done)
				continue;
		}
		if (n < 0)
			/* The reply has started: all we can do is cut the
			 * session, so the client does not take it whole. */
			log_error("session=%s event=retr_read_failed "
			    "error=\"%s\"", conn_id(s->c), strerror(errno));
		close(s->retr_fd);
		s->retr_fd = -1;
		if (n < 0) {
			conn_close(s->c);
			return;
		}
		outlen = pop3_encode_end(&s->enc, s->out);
		conn_write(s->c, s->out, outlen);
		s->busy = false;
		pop3_continue(s);
	}
}

static void
pop3_cmd_retr(struct pop3_session *s, struct pop3_cmd *cmd)
{
	struct pop3_msg *m = pop3_msg_arg(s, cmd->args[0]);

	if (m != NULL)
		pop3_retr_begin(s, m, -1);
}

static void
pop3_cmd_top(struct pop3_session *s, struct pop3_cmd *cmd)
{
	struct pop3_msg *m;
	uint64_t lines;
	const char *p;

	if (cmd->nargs != 2) {
		pop3_reply(s, "-ERR Syntax: TOP msg lines");
		return;
	}
	p = cmd->args[1];
	if (str_to_u64(p, strcspn(p, " "), 1000000000, &lines) < 0) {
		pop3_reply(s, "-ERR Invalid line count");
		return;
	}
	if ((m = pop3_msg_arg(s, cmd->args[0])) != NULL)
		pop3_retr_begin(s, m, (long long)lines);
}

/* ---- UPDATE ---- */

struct pop3_expunge_job {
	char maildir[4096];
	uint32_t uidvalidity;
	uint32_t *uids;
	unsigned count;
	int ret;
	const char *error;
};

static void
pop3_expunge_work(void *arg)
{
	struct pop3_expunge_job *job = arg;
	struct store_mailbox *mb = store_mailbox_open(job->maildir,
	    &job->error);

	job->ret = -1;
	if (mb == NULL)
		return;
	job->ret = store_inbox_expunge(mb, job->uidvalidity, job->uids,
	    job->count, &job->error);
	store_mailbox_close(&mb);
}

static void
pop3_expunge_done(struct conn *c, void *arg)
{
	struct pop3_expunge_job *job = arg;
	struct pop3_session *s = conn_ctx(c);

	if (job->ret < 0) {
		log_error("session=%s event=expunge_failed user=%s "
		    "error=\"%s\"", conn_id(c), s->address, job->error);
		pop3_reply(s, "-ERR [SYS/TEMP] Some deleted messages were not "
		    "removed");
	} else {
		log_info("session=%s event=logout user=%s deleted=%u",
		    conn_id(c), s->address, job->count);
		pop3_reply(s, "+OK Logging out, %u messages deleted",
		    job->count);
	}
	conn_close(c);
	free(job->uids);
	free(job);
}

static void
pop3_cmd_quit(struct pop3_session *s, struct pop3_cmd *cmd)
{
	struct pop3_expunge_job *job;

	s->quitting = true;
	if (s->state != ST_TRANS) {
		pop3_reply(s, "+OK Logging out");
		conn_close(s->c);
		return;
	}
	/* RFC 1939 6: the UPDATE state. */
	job = xcalloc(1, sizeof(*job));
	str_lcpy(job->maildir, s->maildir, sizeof(job->maildir));
	job->uidvalidity = s->uidvalidity;
	job->uids = xcalloc(s->nmsgs ? s->nmsgs : 1, sizeof(*job->uids));
	for (uint32_t i = 0; i < s->nmsgs; i++) {
		if (s->msgs[i].deleted)
			job->uids[job->count++] = s->msgs[i].uid;
	}
	if (job->count == 0) {
		free(job->uids);
		free(job);
		log_info("session=%s event=logout user=%s deleted=0",
		    conn_id(s->c), s->address);
		pop3_reply(s, "+OK Logging out");
		conn_close(s->c);
		return;
	}
	s->busy = true;
	conn_pause(s->c);
	conn_job(s->c, pop3_expunge_work, pop3_expunge_done, job);
}

/* ---- Dispatcher ---- */

static const struct pop3_command pop3_commands[] = {
	{ "CAPA", ST_ANY, 0, pop3_cmd_capa },
	{ "QUIT", ST_ANY, 0, pop3_cmd_quit },
	{ "STLS", ST_AUTH, 0, pop3_cmd_stls },
	{ "USER", ST_AUTH, POP3_ARGS_ANY, pop3_cmd_user },
	{ "PASS", ST_AUTH, POP3_ARGS_ANY, pop3_cmd_pass },
	{ "AUTH", ST_AUTH, 2, pop3_cmd_auth },
	{ "STAT", ST_TRANS, 0, pop3_cmd_stat },
	{ "LIST", ST_TRANS, 1, pop3_cmd_list },
	{ "UIDL", ST_TRANS, 1, pop3_cmd_uidl },
	{ "RETR", ST_TRANS, 1, pop3_cmd_retr },
	{ "TOP", ST_TRANS, 2, pop3_cmd_top },
	{ "DELE", ST_TRANS, 1, pop3_cmd_dele },
	{ "RSET", ST_TRANS, 0, pop3_cmd_rset },
	{ "NOOP", ST_TRANS, 0, pop3_cmd_noop },
};

static void
pop3_error_count(struct pop3_session *s)
{
	if (++s->errors < POP3_MAX_ERRORS)
		return;
	pop3_reply(s, "-ERR Too many errors, closing connection");
	conn_close(s->c);
}

static void
pop3_dispatch(struct pop3_session *s, const char *line, size_t len)
{
	const struct pop3_command *pc = NULL;
	const char *error;

	if (s->sasl != NULL) {
		const char *challenge = NULL;
		int r;

		error = NULL;
		r = sasl_step(s->sasl, line, len, &challenge, &error);
		mem_wipe(s->line.buf, sizeof(s->line.buf));
		pop3_sasl_result(s, r, challenge, error);
		return;
	}
	if (pop3_cmd_parse(line, len, &s->cmd, &error) < 0) {
		pop3_reply(s, "%s", error);
		pop3_error_count(s);
		return;
	}
	for (size_t i = 0; i < ARRAY_SIZE(pop3_commands); i++) {
		if (strcmp(pop3_commands[i].verb, s->cmd.verb) == 0) {
			pc = &pop3_commands[i];
			break;
		}
	}
	if (pc == NULL) {
		pop3_reply(s, "-ERR Unknown command");
		pop3_error_count(s);
		return;
	}
	if (!(pc->states & s->state)) {
		pop3_reply(s, "-ERR Command not valid in this state");
		pop3_error_count(s);
		return;
	}
	if (s->cmd.nargs > pc->max_args) {
		pop3_reply(s, "-ERR Too many arguments");
		pop3_error_count(s);
		return;
	}
	s->errors = 0;
	pc->handler(s, &s->cmd);
}

static void
pop3_process(struct pop3_session *s)
{
	unsigned handled = 0;

	while (!s->busy && !conn_is_closing(s->c)) {
		const char *p;
		size_t len = conn_peek(s->c, &p), used;
		enum pop3_line_result r;

		if (len == 0)
			return;
		if (conn_output_len(s->c) > POP3_OUTPUT_HIGH)
			return;		/* pop3_on_drained resumes */
		r = pop3_line_feed(&s->line, p, len, &used);
		conn_consume(s->c, used);
		if (r == POP3_LINE_MORE)
			continue;
		if (r == POP3_LINE_TOO_LONG) {
			pop3_reply(s, "-ERR Line too long");
			if (s->sasl != NULL) {
				sasl_clear(s->sasl);
				xfree(s->sasl);
				pop3_line_init(&s->line, POP3_LINE_MAX);
			}
			pop3_error_count(s);
		} else {
			pop3_dispatch(s, s->line.buf, s->line.len);
		}
		if (++handled >= POP3_CMDS_PER_WAKEUP) {
			conn_yield(s->c);
			return;
		}
	}
}

/* ---- Connection events ---- */

static void
pop3_on_start(struct conn *c)
{
	struct pop3_session *s = xcalloc(1, sizeof(*s));
	struct pop3_server *srv = conn_listener_arg(c);

	s->c = c;
	s->cfg = srv->cfg;
	s->state = ST_AUTH;
	s->retr_fd = -1;
	s->io = xmalloc(POP3_CHUNK);
	s->out = xmalloc(POP3_CHUNK * 2);
	pop3_line_init(&s->line, POP3_LINE_MAX);
	conn_ctx_set(c, s);
	conn_set_timeout(c, POP3_IDLE_TIMEOUT);
	pop3_reply(s, "+OK Facteur POP3 server ready");
}

static void
pop3_on_input(struct conn *c)
{
	pop3_process(conn_ctx(c));
}

static void
pop3_on_drained(struct conn *c)
{
	struct pop3_session *s = conn_ctx(c);

	if (s->retr_fd >= 0)
		pop3_retr_pump(s);
	else
		pop3_process(s);
}

static void
pop3_on_tls_ready(struct conn *c)
{
	struct pop3_session *s = conn_ctx(c);

	log_info("session=%s event=starttls version=%s cipher=%s", conn_id(c),
	    conn_tls_version(c), conn_tls_cipher(c));
	s->busy = false;
	if (s->stop_requested) {
		pop3_goodbye(s);
		return;
	}
	pop3_process(s);
}

static void
pop3_on_timeout(struct conn *c)
{
	struct pop3_session *s = conn_ctx(c);

	/* RFC 1939 3: autologout ends the session without UPDATE. */
	pop3_reply(s, "-ERR Autologout: idle for too long");
}

static void
pop3_on_stop(struct conn *c)
{
	struct pop3_session *s = conn_ctx(c);

	if (s->busy) {
		s->stop_requested = true;
		return;
	}
	pop3_goodbye(s);
}

static void
pop3_on_closed(struct conn *c)
{
	struct pop3_session *s = conn_ctx(c);

	if (s == NULL)
		return;
	if (s->locked)
		pop3_lock_release(s->address);
	if (s->retr_fd >= 0)
		close(s->retr_fd);
	if (s->sasl != NULL) {
		sasl_clear(s->sasl);
		free(s->sasl);
	}
	pop3_msgs_free(s);
	mem_wipe(s->line.buf, sizeof(s->line.buf));
	mem_wipe(s->cmd.storage, sizeof(s->cmd.storage));
	free(s->io);
	free(s->out);
	free(s);
	conn_ctx_set(c, NULL);
}

const struct conn_ops pop3_conn_ops = {
	.start = pop3_on_start,
	.input = pop3_on_input,
	.tls_ready = pop3_on_tls_ready,
	.timeout = pop3_on_timeout,
	.stop = pop3_on_stop,
	.drained = pop3_on_drained,
	.closed = pop3_on_closed,
};
