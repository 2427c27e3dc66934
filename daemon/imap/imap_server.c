/*
 * imap_server.c: IMAP sessions: states (not authenticated,
 * authenticated, selected, logout), command dispatch, authentication,
 * folder commands, and the selected folder with its untagged updates.
 * FETCH rendering is in imap_fetch.c, SEARCH matching in imap_search.c.
 *
 * Every command runs to completion before the next is read (clients may
 * pipeline; the parser keeps what follows in the connection's input).
 * Anything touching the store runs as a job on a worker; the session is
 * then busy and its input paused. In the selected state each command
 * ends with a poll of the folder (store_view_poll): messages delivered
 * or changed by other sessions are announced with EXISTS, RECENT and
 * FETCH FLAGS, and expunges with EXPUNGE except during FETCH, STORE and
 * SEARCH (RFC 3501 7.4.1), which hold them until a later command.
 */
#include <sys/mman.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "auth/auth_conn.h"
#include "auth/sasl.h"
#include "db/db.h"
#include "imap/imap.h"
#include "imap/imap_internal.h"
#include "imap/imap_parser.h"
#include "lib/log.h"
#include "lib/mutf7.h"
#include "store/maildir.h"
#include "store/mailbox.h"

#define IMAP_CMDS_PER_WAKEUP 32
#define IMAP_MAX_ERRORS 20
/* Commands per second before input is paused for the rest of it. */
#define IMAP_CMDS_PER_SEC 500
/* Responses are produced in pieces of about this size, and the next
 * piece waits until the output fell below the high mark. */
#define IMAP_CHUNK (256 * 1024)
#define IMAP_OUTPUT_HIGH (512 * 1024)
#define IMAP_TAG_MAX 64
#define IMAP_KEYWORDS_MAX 1024	/* octets of one message's keyword list */
#define IMAP_AUTH_LINE_MAX 8192

#define IMAP_CAPS_COMMON "IMAP4rev1 LITERAL+ SASL-IR ID ENABLE IDLE " \
	"NAMESPACE UNSELECT UIDPLUS MOVE CHILDREN SPECIAL-USE"

enum imap_state {
	IMAP_NOTAUTH = 0x01,
	IMAP_AUTH = 0x02,
	IMAP_SELECTED = 0x04,
};
#define IMAP_ANY (IMAP_NOTAUTH | IMAP_AUTH | IMAP_SELECTED)
#define IMAP_AUTHED (IMAP_AUTH | IMAP_SELECTED)

struct imap_session;

struct imap_command_def {
	const char *name;
	unsigned states;
	void (*handler)(struct imap_session *s, struct imap_command *cmd,
	    const struct imap_arg *args, size_t nargs, bool uid);
	/* Untagged EXPUNGE may be sent at its end (not FETCH, STORE,
	 * SEARCH: RFC 3501 7.4.1; their UID forms may). */
	bool expunge_ok;
};

struct imap_session {
	struct conn *c;
	const struct config *cfg;
	unsigned state;
	struct imap_parser *parser;
	bool busy;		/* a job, a timer or STARTTLS under way */
	bool stop_requested;
	bool logout;
	unsigned errors;
	time_t rate_second;
	unsigned rate_count;
	char tag[IMAP_TAG_MAX + 1];	/* of the command under way */
	/* AUTHENTICATE exchange under way */
	struct sasl *sasl;
	/* IDLE under way */
	bool idling;
	bool idle_inflight;	/* a poll job runs */
	bool idle_done;		/* DONE read while it ran */
	/* logged in */
	char address[ADDR_MAX + 1];
	char maildir[4096];
	struct store_mailbox *mb;	/* used by jobs only */
	/* selected folder */
	struct store_view view;
	struct store_imsg *msgs;
	size_t count, cap;
	uint32_t *pending;	/* expunged UIDs not yet announced */
	size_t npending;
	unsigned recent;	/* \Recent messages announced */
	/* the end of the command under way: tagged line after the poll */
	char *done_line;
	bool done_expunge_ok;
	bool uid_cmd;		/* the command is a UID one */
	/* FETCH streaming */
	struct imap_fetch *fetch;
	size_t *fetch_idx;
	size_t fetch_n;
	bool *fetch_seen;
	struct buf fetch_out;
	bool fetch_failed;
	bool fetch_running;	/* a render job is under way */
};

static void imap_process(struct imap_session *s);
static void imap_finish(struct imap_session *s, bool expunge_ok,
    const char *fmt, ...) ATTR_PRINTF(3, 4);

/* ---- output ---- */

static void ATTR_PRINTF(2, 3)
imap_printf(struct imap_session *s, const char *fmt, ...)
{
	va_list ap;
	char *line;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&line, fmt, ap);
	va_end(ap);
	if (n < 0)
		fatal("out of memory");
	conn_write(s->c, line, (size_t)n);
	conn_write(s->c, "\r\n", 2);
	free(line);
}

static void
imap_bad(struct imap_session *s, const char *msg)
{
	imap_printf(s, "%s BAD %s", s->tag, msg);
	if (++s->errors >= IMAP_MAX_ERRORS) {
		imap_printf(s, "* BYE Too many errors");
		conn_close(s->c);
	}
}

static void
imap_no(struct imap_session *s, const char *msg)
{
	imap_printf(s, "%s NO %s", s->tag, msg);
}

void
imap_flags_format(uint8_t flags, const char *keywords, struct buf *out)
{
	static const struct {
		uint8_t flag;
		const char *name;
	} names[] = {
		{ STORE_F_ANSWERED, "\\Answered" },
		{ STORE_F_FLAGGED, "\\Flagged" },
		{ STORE_F_DELETED, "\\Deleted" },
		{ STORE_F_SEEN, "\\Seen" },
		{ STORE_F_DRAFT, "\\Draft" },
		{ STORE_F_RECENT, "\\Recent" },
	};
	bool first = true;

	buf_append(out, "(", 1);
	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		if ((flags & names[i].flag) == 0)
			continue;
		if (!first)
			buf_append(out, " ", 1);
		buf_append_str(out, names[i].name);
		first = false;
	}
	if (keywords != NULL && keywords[0] != '\0') {
		if (!first)
			buf_append(out, " ", 1);
		buf_append_str(out, keywords);
	}
	buf_append(out, ")", 1);
}

static const char *
imap_capabilities(const struct imap_session *s, struct buf *b)
{
	buf_reset(b);
	buf_append_str(b, IMAP_CAPS_COMMON);
	if (s->state == IMAP_NOTAUTH) {
		if (!conn_is_tls(s->c))
			buf_append_str(b, " STARTTLS");
		if (auth_conn_secure(s->cfg, s->c))
			buf_append_str(b, " AUTH=PLAIN AUTH=LOGIN");
		else
			buf_append_str(b, " LOGINDISABLED");
	}
	return b->data;
}

/* Mailbox name on the wire (modified UTF-7) to the store's (UTF-8,
 * INBOX canonical, valid by store_folder_valid). create: a trailing
 * separator is dropped (RFC 3501 6.3.3). NULL with a reply sent when
 * invalid. */
static char *
imap_mailbox_name(struct imap_session *s, const struct imap_arg *a,
    bool create)
{
	const char *raw, *error = NULL;
	size_t len;
	struct buf b;
	char *name;

	if (imap_arg_astring(a, &raw, &len) < 0) {
		imap_bad(s, "Mailbox name expected");
		return NULL;
	}
	buf_init(&b);
	if (memchr(raw, '\0', len) != NULL ||
	    mutf7_to_utf8(raw, len, &b) < 0) {
		buf_deinit(&b);
		imap_no(s, "[CANNOT] Invalid mailbox name (modified UTF-7 "
		    "expected)");
		return NULL;
	}
	name = xstrdup(b.data);
	buf_deinit(&b);
	len = strlen(name);
	if (create && len > 1 && name[len - 1] == STORE_SEP)
		name[len - 1] = '\0';
	store_folder_canonical(name);
	if (store_folder_valid(name, &error) != STORE_OK) {
		imap_printf(s, "%s NO [CANNOT] %s", s->tag, error);
		free(name);
		return NULL;
	}
	return name;
}

static char *
imap_mailbox_arg(struct imap_session *s, const struct imap_arg *a)
{
	return imap_mailbox_name(s, a, false);
}

/* The store's name to the wire: an astring of its modified UTF-7. */
static void
imap_append_mailbox(struct buf *out, const char *name)
{
	struct buf b;

	buf_init(&b);
	if (utf8_to_mutf7(name, strlen(name), &b) < 0) {
		buf_reset(&b);
		buf_append_str(&b, name);
	}
	imap_append_quoted_or_literal(out, b.data, b.len);
	buf_deinit(&b);
}

/* ---- jobs ---- */

/* A job's common part: the session (alive until done runs: conn_job
 * keeps the connection, and the session is freed only when it closes). */
struct imap_job {
	struct imap_session *s;
	int ret;
	const char *error;
};

static bool
imap_job_begin(struct imap_session *s)
{
	s->busy = true;
	conn_pause(s->c);
	return true;
}

/* After a job: go on with input, or say goodbye when stopping. */
static void
imap_continue(struct imap_session *s)
{
	s->busy = false;
	if (conn_is_closing(s->c))
		return;
	if (s->stop_requested) {
		imap_printf(s, "* BYE Server shutting down");
		conn_close(s->c);
		return;
	}
	conn_resume(s->c);
}

static void
imap_run(struct imap_session *s, void (*work)(void *),
    void (*done)(struct conn *, void *), struct imap_job *job)
{
	job->s = s;
	imap_job_begin(s);
	conn_job(s->c, work, done, job);
}

/* The store handle: opened at the first job that needs it. */
static struct store_mailbox *
imap_store(struct imap_session *s, const char **error_r)
{
	if (s->mb == NULL)
		s->mb = store_mailbox_open(s->maildir, error_r);
	return s->mb;
}

/* ---- the selected folder ---- */

static void
imap_unselect(struct imap_session *s)
{
	store_imsgs_free(s->msgs, s->count);
	s->msgs = NULL;
	s->count = s->cap = 0;
	free(s->pending);
	s->pending = NULL;
	s->npending = 0;
	s->recent = 0;
	memset(&s->view, 0, sizeof(s->view));
	if (s->state == IMAP_SELECTED)
		s->state = IMAP_AUTH;
}

/* Index of the message with this UID, or SIZE_MAX. */
static size_t
imap_uid_index(const struct imap_session *s, uint32_t uid)
{
	size_t lo = 0, hi = s->count;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (s->msgs[mid].uid < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < s->count && s->msgs[lo].uid == uid ? lo : SIZE_MAX;
}

static bool
imap_kw_equal(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

static void
imap_send_fetch_flags(struct imap_session *s, size_t i)
{
	struct buf b;

	buf_init(&b);
	buf_printf(&b, "* %zu FETCH (", i + 1);
	if (s->uid_cmd)
		buf_printf(&b, "UID %u ", s->msgs[i].uid);
	buf_append_str(&b, "FLAGS ");
	imap_flags_format(s->msgs[i].flags, s->msgs[i].keywords, &b);
	buf_append_str(&b, ")\r\n");
	conn_write(s->c, b.data, b.len);
	buf_deinit(&b);
}

/*
 * Sends EXPUNGE for the pending UIDs still in the array, lowest first,
 * each with the sequence number it has once the ones before it are gone
 * ("* 3 EXPUNGE" twice for messages 3 and 4, as most servers say it),
 * then compacts the array once.
 */
static void
imap_flush_expunges(struct imap_session *s)
{
	size_t removed = 0, w = 0, k = 0;

	if (s->npending == 0)
		return;
	for (size_t i = 0; i < s->count; i++) {
		struct store_imsg *m = &s->msgs[i];

		while (k < s->npending && s->pending[k] < m->uid)
			k++;
		if (k < s->npending && s->pending[k] == m->uid) {
			imap_printf(s, "* %zu EXPUNGE", i + 1 - removed);
			if (m->flags & STORE_F_RECENT)
				s->recent--;
			free(m->base);
			free(m->keywords);
			removed++;
			continue;
		}
		s->msgs[w++] = *m;
	}
	s->count = w;
	xfree(s->pending);
	s->npending = 0;
}

static int
imap_uid_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* Applies a poll's changes and announces them. */
static void
imap_apply_changes(struct imap_session *s, struct store_changes *ch,
    bool expunge_ok)
{
	size_t before = s->count;

	for (size_t k = 0; k < ch->nupdated; k++) {
		struct store_imsg *u = &ch->updated[k];
		size_t i = imap_uid_index(s, u->uid);
		uint8_t keep;

		if (i == SIZE_MAX)
			continue;
		keep = s->msgs[i].flags & STORE_F_RECENT;
		if ((s->msgs[i].flags & STORE_F_STORED) == u->flags &&
		    imap_kw_equal(s->msgs[i].keywords, u->keywords))
			continue;
		s->msgs[i].flags = (uint8_t)(u->flags | keep);
		free(s->msgs[i].keywords);
		s->msgs[i].keywords = u->keywords;
		u->keywords = NULL;
		imap_send_fetch_flags(s, i);
	}
	if (ch->nexpunged > 0) {
		s->pending = xrealloc(s->pending, (s->npending +
		    ch->nexpunged) * sizeof(*s->pending));
		for (size_t k = 0; k < ch->nexpunged; k++) {
			if (imap_uid_index(s, ch->expunged[k]) != SIZE_MAX)
				s->pending[s->npending++] = ch->expunged[k];
		}
		qsort(s->pending, s->npending, sizeof(*s->pending),
		    imap_uid_cmp);
	}
	if (expunge_ok)
		imap_flush_expunges(s);
	if (ch->nadded > 0) {
		if (s->count + ch->nadded > s->cap) {
			s->cap = s->count + ch->nadded + 64;
			s->msgs = xrealloc(s->msgs, s->cap * sizeof(*s->msgs));
		}
		for (size_t k = 0; k < ch->nadded; k++) {
			struct store_imsg *m = &ch->added[k];

			if (s->count > 0 && m->uid <= s->msgs[s->count - 1].uid)
				continue;	/* never: UIDs ascend */
			s->msgs[s->count++] = *m;
			if (m->flags & STORE_F_RECENT)
				s->recent++;
			m->base = NULL;
			m->keywords = NULL;
		}
	}
	if (s->count != before || ch->nadded > 0) {
		imap_printf(s, "* %zu EXISTS", s->count);
		imap_printf(s, "* %u RECENT", s->recent);
	}
}

struct imap_poll_job {
	struct imap_job j;
	struct store_changes ch;
	struct store_view view;
};

static void
imap_poll_work(void *arg)
{
	struct imap_poll_job *job = arg;
	struct store_mailbox *mb = imap_store(job->j.s, &job->j.error);

	job->j.ret = mb == NULL ? STORE_ERROR :
	    store_view_poll(mb, &job->view, &job->ch, &job->j.error);
}

static void
imap_poll_done(struct conn *c, void *arg)
{
	struct imap_poll_job *job = arg;
	struct imap_session *s = job->j.s;

	if (!conn_is_closing(c)) {
		if (job->j.ret == STORE_OK && s->state == IMAP_SELECTED) {
			s->view = job->view;
			imap_apply_changes(s, &job->ch, s->done_expunge_ok);
		} else if (job->j.ret == STORE_NOTFOUND &&
		    s->state == IMAP_SELECTED) {
			/* Deleted or renamed under us (RFC 3501 leaves it
			 * open): there is nothing left to show. */
			imap_printf(s, "* BYE The selected mailbox was "
			    "deleted or renamed");
			conn_close(c);
		} else if (job->j.ret != STORE_OK) {
			log_warn("session=%s event=imap_poll_failed error=\"%s\"",
			    conn_id(c), job->j.error);
		}
		if (s->done_line != NULL && !conn_is_closing(c)) {
			conn_write(c, s->done_line, strlen(s->done_line));
			conn_write(c, "\r\n", 2);
		}
	}
	xfree(s->done_line);
	store_changes_free(&job->ch);
	free(job);
	imap_continue(s);
}

/* Polls the selected folder (announcing what changed) and then sends
 * done_line, if any. */
static void
imap_poll(struct imap_session *s)
{
	struct imap_poll_job *job = xcalloc(1, sizeof(*job));

	job->view = s->view;
	imap_run(s, imap_poll_work, imap_poll_done, &job->j);
}

/*
 * Ends the command under way with its tagged line (fmt gives what
 * follows the tag). In the selected state the folder is polled first,
 * so the client learns of other sessions' changes before the tag.
 */
static void
imap_finish(struct imap_session *s, bool expunge_ok, const char *fmt, ...)
{
	va_list ap;
	char *rest;

	va_start(ap, fmt);
	if (vasprintf(&rest, fmt, ap) < 0)
		fatal("out of memory");
	va_end(ap);
	if (s->state != IMAP_SELECTED || conn_is_closing(s->c)) {
		imap_printf(s, "%s %s", s->tag, rest);
		free(rest);
		imap_continue(s);
		return;
	}
	xfree(s->done_line);
	s->done_line = xasprintf("%s %s", s->tag, rest);
	s->done_expunge_ok = expunge_ok;
	free(rest);
	imap_poll(s);
}

/* Resolves a sequence set (or UID set) argument to message indexes
 * (ascending). NULL with a reply sent on error; *n_r may be 0. */
static size_t *
imap_set_indexes(struct imap_session *s, const struct imap_arg *a, bool uid,
    size_t *n_r)
{
	struct imap_seqset set;
	size_t *idx, n = 0;

	if (a->type != IMAP_ARG_ATOM ||
	    imap_seqset_parse(a->str, a->len, &set) < 0) {
		imap_bad(s, "Invalid sequence set");
		return NULL;
	}
	if (uid) {
		imap_seqset_resolve(&set, s->count > 0 ?
		    s->msgs[s->count - 1].uid : 0);
	} else {
		imap_seqset_resolve(&set, (uint32_t)s->count);
		/* RFC 3501 6.4.8 / 9: numbers beyond the mailbox are an
		 * error (a UID set need not match anything). */
		if (set.count > 0 && (set.r[set.count - 1].hi > s->count ||
		    set.r[0].lo == 0)) {
			imap_seqset_free(&set);
			imap_bad(s, "Invalid message sequence number");
			return NULL;
		}
	}
	idx = xcalloc(s->count + 1, sizeof(*idx));
	for (size_t i = 0; i < s->count; i++) {
		if (imap_seqset_contains(&set, uid ? s->msgs[i].uid :
		    (uint32_t)(i + 1)))
			idx[n++] = i;
	}
	imap_seqset_free(&set);
	*n_r = n;
	return idx;
}

/* ---- any state ---- */

static void
imap_cmd_capability(struct imap_session *s, struct imap_command *cmd,
    const struct imap_arg *args, size_t nargs, bool uid)
{
	struct buf b;

	if (nargs != 0) {
		imap_bad(s, "CAPABILITY takes no arguments");
		return;
	}
	buf_init(&b);
	imap_printf(s, "* CAPABILITY %s", imap_capabilities(s, &b));
	buf_deinit(&b);
	imap_finish(s, true, "OK CAPABILITY completed");
}

static void
imap_cmd_noop(struct imap_session *s, struct imap_command *cmd,
    const struct imap_arg *args, size_t nargs, bool uid)
{
	if (nargs != 0) {
		imap_bad(s, "Unexpected arguments");
		return;
	}
	imap_finish(s, true, "OK %s completed", cmd->name);
}

static void
imap_cmd_logout(struct imap_session *s, struct imap_command *cmd,
    const struct imap_arg *args, size_t nargs, bool uid)
{
	if (nargs != 0) {
		imap_bad(s, "LOGOUT takes no arguments");
		return;
	}
	imap_printf(s, "* BYE Logging out");
	imap_printf(s, "%s OK LOGOUT completed", s->tag);
	s->logout = true;
	conn_close(s->c);
}

static void
imap_cmd_id(struct imap_session *s, struct imap_command *cmd,
    const struct imap_arg *args, size_t nargs, bool uid)
{
	/* RFC 2971: the client's list (or NIL) is accepted, not kept. */
	if (nargs != 1 || (args[0].type != IMAP_ARG_LIST &&
	    args[0].type != IMAP_ARG_NIL)) {
		imap_bad(s, "Syntax: ID (field value ...) or ID NIL");
		return;
	}
	imap_printf(s, "* ID (\"name\" \"Facteur\")");
	imap_finish(s, true, "OK ID completed");
}

static void
imap_cmd_enable(struct imap_session *s, struct imap_command *cmd,
    const struct imap_arg *args, size_t nargs, bool uid)
{
	/* RFC 5161: none of the extensions ENABLE turns on is supported,
	 * so nothing is enabled. */
	if (nargs == 0) {
		imap_bad(s, "Syntax: ENABLE capability ...");
		return;
	}
	imap_printf(s, "* ENABLED");
	imap_finish(s, true, "OK ENABLE completed");
}

/* ---- not authenticated ---- */

static void
imap_cmd_starttls(struct imap_session *s, struct imap_command *cmd,
    const struct imap_arg *args, size_t nargs, bool uid)
{
	size_t dropped;

	if (conn_is_tls(s->c)) {
		imap_bad(s, "TLS is already active");
		return;
	}
	imap_printf(s, "%s OK Begin TLS negotiation now", s->tag);
	/* RFC 3501 6.2.1 / CVE-2011-0411: nothing read before the
	 * handshake counts, including what the parser holds. */
	dropped = conn_starttls(s->c);
	imap_parser_reset(s->parser);
	if (dropped > 0)
		log_warn("session=%s event=starttls_injection bytes=%zu "
		    "action=discarded", conn_id(s->c), dropped);
	s->busy = true;		/* until the handshake is done */
}

static bool
imap_require_secure(struct imap_session *s)
{
	if (auth_conn_secure(s->cfg, s->c))
		return true;
	/* RFC 3501 6.2.3 (LOGINDISABLED), RFC 5530 */
	imap_no(s, "[PRIVACYREQUIRED] Plaintext authentication disallowed on "
	    "non-secure connections; use STARTTLS first");
	return false;
}

struct imap_login_job {
	struct imap_job j;
	bool created;
};

static void
imap_login_work(void *arg)
{
	struct imap_login_job *job = arg;
	struct imap_session *s = job->j.s;
	char index[4200];
	struct stat st;
	bool fresh;

	/* A mailbox's first IMAP login (no index yet) gets the default
	 * folders; deleting one later is the user's choice. */
	fresh = str_printf(index, sizeof(index), "%s/facteur-index.sqlite",
	    s->maildir) >= 0 && stat(index, &st) < 0 && errno == ENOENT;
	if (imap_store(s, &job->j.error) == NULL) {
		job->j.ret = STORE_ERROR;
		return;
	}
	job->j.ret = fresh ? store_create_defaults(s->mb, &job->j.error) :
	    STORE_OK;
	job->created = fresh;
}

static void
imap_login_opened(struct conn *c, void *arg)
{
	struct imap_login_job *job = arg;
	struct imap_session *s = job->j.s;
	struct buf b;

	if (!conn_is_closing(c)) {
		if (job->j.ret != STORE_OK) {
			log_error("session=%s event=mailbox_open_failed user=%s "
			    "error=\"%s\"", conn_id(c), s->address,
			    job->j.error);
			imap_no(s, "[UNAVAILABLE] Cannot open the mailbox, try "
			    "again later");
			s->address[0] = '\0';
		} else {
			s->state = IMAP_AUTH;
			log_info("session=%s event=login user=%s service=imap",
			    conn_id(c), s->address);
			buf_init(&b);
			imap_printf(s, "%s OK [CAPABILITY %s] Logged in",
			    s->tag, imap_capabilities(s, &b));
			buf_deinit(&b);
		}
	}
	free(job);
	imap_continue(s);
}

static void
imap_login_done(struct conn *c, struct auth_request *req)
{
	struct imap_session *s = conn_ctx(c);
	char clean[LOG_CLEAN_SIZE];
	struct imap_login_job *job;

	if (conn_is_closing(c)) {
		free(req);
		s->busy = false;
		return;
	}
	switch (req->status) {
	case AUTH_OK:
		break;
	case AUTH_FAILED:
		log_info("session=%s event=auth_failed user=%s service=imap",
		    conn_id(c), log_clean(req->user, strlen(req->user), clean));
		imap_no(s, "[AUTHENTICATIONFAILED] Authentication failed");
		goto fail;
	case AUTH_BLOCKED:
		imap_no(s, "[UNAVAILABLE] Too many failed logins, try again "
		    "later");
		goto fail;
	case AUTH_TEMPFAIL:
		imap_no(s, "[UNAVAILABLE] Temporary failure, try again later");
		goto fail;
	}
	if (maildir_path(s->cfg->data_dir, req->address, s->maildir,
	    sizeof(s->maildir)) < 0) {
		imap_no(s, "[UNAVAILABLE] Mailbox path too long");
		goto fail;
	}
	str_lcpy(s->address, req->address, sizeof(s->address));
	free(req);
	job = xcalloc(1, sizeof(*job));
	job->j.s = s;
	conn_job(c, imap_login_work, imap_login_opened, job);
	return;
fail:
	free(req);
	imap_continue(s);
}

static void
imap_login_start(struct imap_session *s, struct auth_request *req)
{
	imap_job_begin(s);
	auth_conn_start(s->c, req, imap_login_done);
}

static void
imap_cmd_login(struct imap_session *s, struct imap_command *cmd,
    const struct imap_arg *args, size_t nargs, bool uid)
{
	struct auth_request *req;
	const char *user, *pass;
	size_t ulen, plen;

	if (nargs != 2 || imap_arg_astring(&args[0], &user, &ulen) < 0 ||
	    imap_arg_astring(&args[1], &pass, &plen) < 0) {
		imap_bad(s, "Syntax: LOGIN user password");
		return;
	}
	if (!imap_require_secure(s))
		return;
	if (ulen == 0 || ulen > SASL_USER_MAX || plen == 0 ||
	    plen > SASL_PASSWORD_MAX || memchr(user, '\0', ulen) != NULL) {
		imap_no(s, "[AUTHENTICATIONFAILED] Authentication failed");
		return;
	}
	req = xcalloc(1, sizeof(*req));
	memcpy(req->user, user, ulen);
	memcpy(req->password, pass, plen);
	req->password_len = plen;
	str_lcpy(req->ip, conn_peer(s->c), sizeof(req->ip));
	/* The parser's copy of the password goes with the command. */
	mem_wipe((char *)pass, plen);
	imap_login_start(s, req);
}

/* Continues or ends an AUTHENTICATE exchange after a step. */
static void
imap_sasl_result(struct imap_session *s, int r, const char *challenge,
    const char *error)
{
	struct auth_request *req = NULL;

	switch (r) {
	case SASL_CONTINUE:
		imap_printf(s, "+ %s", challenge);
		return;
	case SASL_DONE:
		req = xmalloc(sizeof(*req));
		auth_request_from_sasl(req, s->sasl, conn_peer(s->c));
		break;
	case SASL_CANCEL:
		/* RFC 3501 6.2.2: a cancelled exchange gets BAD. */
		imap_printf(s, "%s BAD Authentication cancelled", s->tag);
		break;
	default:
		imap_printf(s, "%s NO [AUTHENTICATIONFAILED] %s", s->tag,
		    error);
		break;
	}
	sasl_clear(s->sasl);
	xfree(s->sasl);
	if (req != NULL)
		imap_login_start(s, req);
}

static void
imap_cmd_authenticate(struct imap_session *s, struct imap_command *cmd,
    const struct imap_arg *args, size_t nargs, bool uid)
{
	const char *challenge = NULL, *error = NULL, *initial = NULL;
	enum sasl_mech mech;
	char ir[IMAP_AUTH_LINE_MAX + 1];
	int r;

	if (nargs < 1 || nargs > 2 || args[0].type != IMAP_ARG_ATOM ||
	    (nargs == 2 && args[1].type != IMAP_ARG_ATOM)) {
		imap_bad(s, "Syntax: AUTHENTICATE mechanism [initial-response]");
		return;
	}
	if (!imap_require_secure(s))
		return;
	if (sasl_mech_parse(args[0].str, &mech) < 0) {
		imap_no(s, "Unsupported authentication mechanism");
		return;
	}
	if (nargs == 2) {
		/* RFC 4959: SASL-IR, "=" for an empty response. */
		if (args[1].len > IMAP_AUTH_LINE_MAX) {
			imap_bad(s, "Initial response too long");
			return;
		}
		memcpy(ir, args[1].str, args[1].len + 1);
		mem_wipe(args[1].str, args[1].len);
		initial = ir;
	}
	s->sasl = xcalloc(1, sizeof(*s->sasl));
	r = sasl_start(s->sasl, mech, initial, &challenge, &error);
	mem_wipe(ir, sizeof(ir));
	imap_sasl_result(s, r, challenge, error);
}

/* A line of an AUTHENTICATE exchange (the parser is bypassed: these
 * lines are base64 or "*", not commands). */
static bool
imap_sasl_input(struct imap_session *s)
{
	const char *p, *nl;
	size_t len = conn_peek(s->c, &p), n;
	const char *challenge = NULL, *error = NULL;
	char line[IMAP_AUTH_LINE_MAX + 1];
	int r;

	if (len == 0)
		return false;
	nl = memchr(p, '\n', len);
	if (nl == NULL) {
		if (len > IMAP_AUTH_LINE_MAX) {
			imap_printf(s, "* BYE Authentication line too long");
			conn_close(s->c);
		}
		return false;
	}
	n = (size_t)(nl - p);
	if (n > 0 && p[n - 1] == '\r')
		n--;
	if (n > IMAP_AUTH_LINE_MAX) {
		conn_consume(s->c, (size_t)(nl - p) + 1);
		imap_printf(s, "%s BAD Authentication line too long", s->tag);
		sasl_clear(s->sasl);
		xfree(s->sasl);
		return true;
	}
	memcpy(line, p, n);
	line[n] = '\0';
	conn_consume(s->c, (size_t)(nl - p) + 1);
	r = sasl_step(s->sasl, line, n, &challenge, &error);
	mem_wipe(line, sizeof(line));
	imap_sasl_result(s, r, challenge, error);
	return true;
}

/* ---- authenticated: folders ---- */

struct imap_select_job {
	struct imap_job j;
	char *name;
	bool readonly;
	struct store_view view;
	struct store_imsg *msgs;
	size_t count;
};

static void
imap_select_work(void *arg)
{
	struct imap_select_job *job = arg;
	struct store_mailbox *mb = imap_store(job->j.s, &job->j.error);

	job->j.ret = mb == NULL ? STORE_ERROR : store_folder_select(mb,
	    job->name, job->readonly, &job->view, &job->msgs, &job->count,
	    &job->j.error);
}

/* The FLAGS of a folder: the system flags and every keyword in use. */
static void
imap_folder_flags(const struct imap_session *s, struct buf *out)
{
	struct buf kw;

	buf_init(&kw);
	for (size_t i = 0; i < s->count; i++) {
		const char *p = s->msgs[i].keywords;

		while (p != NULL && *p != '\0' && kw.len < 4096) {
			const char *end = strchr(p, ' ');
			size_t n = end != NULL ? (size_t)(end - p) : strlen(p);

			if (!store_keywords_has(kw.data, p, n)) {
				buf_append(&kw, " ", 1);
				buf_append(&kw, p, n);
			}
			p = end != NULL ? end + 1 : NULL;
		}
	}
	buf_append_str(out, "\\Answered \\Flagged \\Deleted \\Seen \\Draft");
	if (kw.len > 0)
		buf_append(out, kw.data, kw.len);
	buf_deinit(&kw);
}

static void
imap_select_done(struct conn *c, void *arg)
{
	struct imap_select_job *job = arg;
	struct imap_session *s = job->j.s;
	size_t unseen = 0;
	struct buf b;

	if (conn_is_closing(c))
		goto out;
	if (job->j.ret == STORE_NOTFOUND) {
		imap_no(s, "[NONEXISTENT] Mailbox does not exist");
		goto out;
	}
	if (job->j.ret != STORE_OK) {
		log_error("session=%s event=select_failed error=\"%s\"",
		    conn_id(c), job->j.error);
		imap_no(s, "[UNAVAILABLE] Cannot open the mailbox");
		goto out;
	}
	s->view = job->view;
	s->msgs = job->msgs;
	s->count = s->cap = job->count;
	job->msgs = NULL;
	s->state = IMAP_SELECTED;
	for (size_t i = s->count; i > 0; i--) {
		if (s->msgs[i - 1].flags & STORE_F_RECENT)
			s->recent++;
		if ((s->msgs[i - 1].flags & STORE_F_SEEN) == 0)
			unseen = i;
	}
	buf_init(&b);
	imap_folder_flags(s, &b);
	imap_printf(s, "* FLAGS (%s)", b.data);
	imap_printf(s, "* OK [PERMANENTFLAGS (%s%s)] Flags permitted",
	    s->view.readonly ? "" : b.data, s->view.readonly ? "" : " \\*");
	buf_deinit(&b);
	imap_printf(s, "* %zu EXISTS", s->count);
	imap_printf(s, "* %u RECENT", s->recent);
	if (unseen > 0)
		imap_printf(s, "* OK [UNSEEN %zu] First unseen", unseen);
	imap_printf(s, "* OK [UIDVALIDITY %u] UIDs valid", s->view.uidvalidity);
	imap_printf(s, "* OK [UIDNEXT %u] Predicted next UID", s->view.uidnext);
	imap_printf(s, "%s OK [%s] %s completed", s->tag,
	    s->view.readonly ? "READ-ONLY" : "READ-WRITE",
	    s->view.readonly ? "EXAMINE" : "SELECT");
out:
	store_imsgs_free(job->msgs, job->count);
	free(job->name);
	free(job);
	imap_continue(s);
}

static void
imap_cmd_select(struct imap_session *s, struct imap_command *cmd,
    const struct imap_arg *args, size_t nargs, bool uid)
{
	struct imap_select_job *job;
	char *name;

	if (nargs != 1) {
		imap_bad(s, "Syntax: SELECT mailbox");
		return;
	}
	/* RFC 3501 6.3.1: a failed SELECT leaves no mailbox selected. */
	imap_unselect(s);
	if ((name = imap_mailbox_arg(s, &args[0])) == NULL)
		return;
	job = xcalloc(1, sizeof(*job));
	job->name = name;
	job->readonly = strcmp(cmd->name, "EXAMINE") == 0;
	imap_run(s, imap_select_work, imap_select_done, &job->j);
}

/* CREATE, DELETE, RENAME, SUBSCRIBE, UNSUBSCRIBE: one store call. */
enum imap_folder_op {
	IMAP_OP_CREATE, IMAP_OP_DELETE, IMAP_OP_RENAME, IMAP_OP_SUBSCRIBE,
	IMAP_OP_UNSUBSCRIBE,
};

struct imap_folder_job {
	struct imap_job j;
	enum imap_folder_op op;
	char *name, *name2;
	char verb[16];		/* the command's name (it is freed) */
};

static void
imap_folder_work(void *arg)
{
	struct imap_folder_job *job = arg;
	struct store_mailbox *mb = imap_store(job->j.s, &job->j.error);

	if (mb == NULL) {
		job->j.ret = STORE_ERROR;
		return;
	}
	switch (job->op) {
	case IMAP_OP_CREATE:
		job->j.ret = store_folder_create(mb, job->name, &job->j.error);
		break;
	case IMAP_OP_DELETE:
		job->j.ret = store_folder_delete(mb, job->name, &job->j.error);
		break;
	case IMAP_OP_RENAME:
		job->j.ret = store_folder_rename(mb, job->name, job->name2,
		    &job->j.error);
		break;
	case IMAP_OP_SUBSCRIBE:
	case IMAP_OP_UNSUBSCRIBE:
		job->j.ret = store_subscribe(mb, job->name,
		    job->op == IMAP_OP_SUBSCRIBE, &job->j.error);
		break;
	}
}

static void
imap_folder_done(struct conn *c, void *arg)
{
	struct imap_folder_job *job = arg;
	struct imap_session *s = job->j.s;

	if (conn_is_closing(c)) {
		s->busy = false;
		goto out;
	}
	switch (job->j.ret) {
	case STORE_OK:
		imap_finish(s, true, "OK %s completed", job->verb);
		goto out;
	case STORE_NOTFOUND:
		imap_no(s, "[NONEXISTENT] Mailbox does not exist");
		break;
	case STORE_EXISTS:
		imap_no(s, "[ALREADYEXISTS] Mailbox already exists");
		break;
	case STORE_INVALID:
		imap_printf(s, "%s NO [CANNOT] %s", s->tag, job->j.error);
		break;
	case STORE_NOSELECT:
		imap_no(s, "[CANNOT] Mailbox has children and no messages "
		    "of its own");
		break;
	default:
		log_error("session=%s event=folder_op_failed op=%s "
		    "error=\"%s\"", conn_id(c), job->verb, job->j.error);
		imap_no(s, "[SERVERBUG] Operation failed");
		break;
	}
	imap_continue(s);
out:
	free(job->name);
	free(job->name2);
	free(job);
}

static void
imap_cmd_folder(struct imap_session *s, struct imap_command *cmd,
    const struct imap_arg *args, size_t nargs, bool uid)
{
	struct imap_folder_job *job;
	bool rename = strcmp(cmd->name, "RENAME") == 0;
	char *name, *name2 = NULL;

	if (nargs != (rename ? 2u : 1u)) {
		imap_bad(s, rename ? "Syntax: RENAME old new" :
		    "Syntax: command mailbox");
		return;
	}
	if ((name = imap_mailbox_name(s, &args[0],
	    strcmp(cmd->name, "CREATE") == 0)) == NULL)
		return;
	if (rename && (name2 = imap_mailbox_arg(s, &args[1])) == NULL) {
		free(name);
		return;
	}
	job = xcalloc(1, sizeof(*job));
	str_lcpy(job->verb, cmd->name, sizeof(job->verb));
	if (strcmp(cmd->name, "CREATE") == 0) {
		job->op = IMAP_OP_CREATE;
	} else if (strcmp(cmd->name, "DELETE") == 0) {
		job->op = IMAP_OP_DELETE;
	} else if (rename) {
		job->op = IMAP_OP_RENAME;
	} else {
		job->op = strcmp(cmd->name, "SUBSCRIBE") == 0 ?
		    IMAP_OP_SUBSCRIBE : IMAP_OP_UNSUBSCRIBE;
	}
	job->name = name;
	job->name2 = name2;
	/* Deleting or renaming the selected folder: RFC 3501 leaves what
	 * happens open; deselecting first keeps this session coherent. */
	if (s->state == IMAP_SELECTED && (job->op == IMAP_OP_DELETE ||
	    job->op == IMAP_OP_RENAME) && strcmp(s->view.name, name) == 0)
		imap_unselect(s);
	imap_run(s, imap_folder_work, imap_folder_done, &job->j);
}

static void
imap_cmd_namespace(struct imap_session *s, struct imap_command *cmd,
    const struct imap_arg *args, size_t nargs, bool uid)
{
	if (nargs != 0) {
		imap_bad(s, "NAMESPACE takes no arguments");
		return;
	}
	imap_printf(s, "* NAMESPACE ((\"\" \"%c\")) NIL NIL", STORE_SEP);
	imap_finish(s, true, "OK NAMESPACE completed");
}

/* ---- LIST, LSUB, STATUS ---- */

struct imap_list_job {
	struct imap_job j;
	bool lsub;
	char *pattern;		/* reference + pattern, modified UTF-7 */
	struct store_folder *folders;
	size_t nfolders;
	char **subs;
	size_t nsubs;
};

static void
imap_list_work(void *arg)
{
	struct imap_list_job *job = arg;
	struct store_mailbox *mb = imap_store(job->j.s, &job->j.error);

	if (mb == NULL)
		job->j.ret = STORE_ERROR;
	else if (job->lsub)
		job->j.ret = store_subscriptions(mb, &job->subs, &job->nsubs,
		    &job->j.error);
	else
		job->j.ret = store_folder_list(mb, &job->folders,
		    &job->nfolders, &job->j.error);
}

/* Whether a store name matches the job's pattern (compared in modified
 * UTF-7, the form the client wrote the pattern in). */
static bool
imap_list_matches(const char *pattern, const char *name)
{
	struct buf b;
	bool ok;

	buf_init(&b);
	if (utf8_to_mutf7(name, strlen(name), &b) < 0) {
		buf_deinit(&b);
		return false;
	}
	ok = imap_list_match(pattern, b.data, STORE_SEP);
	buf_deinit(&b);
	return ok;
}

static void
imap_list_line(struct imap_session *s, const char *verb, const char *attrs,
    const char *name)
{
	struct buf b;

	buf_init(&b);
	buf_printf(&b, "* %s (%s) \"%c\" ", verb, attrs, STORE_SEP);
	imap_append_mailbox(&b, name);
	buf_append_str(&b, "\r\n");
	conn_write(s->c, b.data, b.len);
	buf_deinit(&b);
}

static void
imap_list_folders(struct imap_session *s, struct imap_list_job *job)
{
	for (size_t i = 0; i < job->nfolders; i++) {
		const struct store_folder *f = &job->folders[i];
		char attrs[128];

		if (!imap_list_matches(job->pattern, f->name))
			continue;
		str_printf(attrs, sizeof(attrs), "%s%s%s%s",
		    f->noselect ? "\\Noselect " : "",
		    f->haschildren ? "\\HasChildren" : "\\HasNoChildren",
		    f->special_use[0] != '\0' ? " " : "", f->special_use);
		imap_list_line(s, "LIST", attrs, f->name);
	}
}

static bool
imap_name_in(char **names, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++) {
		if (strcmp(names[i], name) == 0)
			return true;
	}
	return false;
}

/* LSUB: subscribed names that match; with "%" a parent of subscribed
 * names that is not subscribed itself shows as \Noselect (RFC 3501
 * 6.3.9). */
static void
imap_list_subs(struct imap_session *s, struct imap_list_job *job)
{
	char **shown = xcalloc(job->nsubs * 2 + 1, sizeof(*shown));
	size_t nshown = 0;

	for (size_t i = 0; i < job->nsubs; i++) {
		const char *name = job->subs[i];

		if (imap_list_matches(job->pattern, name)) {
			imap_list_line(s, "LSUB", "", name);
			continue;
		}
		for (const char *p = strchr(name, STORE_SEP); p != NULL;
		    p = strchr(p + 1, STORE_SEP)) {
			char *parent = xstrndup(name, (size_t)(p - name));

			if (imap_list_matches(job->pattern, parent) &&
			    !imap_name_in(job->subs, job->nsubs, parent) &&
			    !imap_name_in(shown, nshown, parent) &&
			    nshown < job->nsubs * 2) {
				imap_list_line(s, "LSUB", "\\Noselect", parent);
				shown[nshown++] = parent;
				break;
			}
			free(parent);
		}
	}
	store_names_free(shown, nshown);
}

static void
imap_list_done(struct conn *c, void *arg)
{
	struct imap_list_job *job = arg;
	struct imap_session *s = job->j.s;

	if (conn_is_closing(c)) {
		s->busy = false;
	} else if (job->j.ret != STORE_OK) {
		log_error("session=%s event=list_failed error=\"%s\"",
		    conn_id(c), job->j.error);
		imap_no(s, "[SERVERBUG] Cannot list mailboxes");
		imap_continue(s);
	} else {
		if (job->lsub)
			imap_list_subs(s, job);
		else
			imap_list_folders(s, job);
		imap_finish(s, true, "OK %s completed",
		    job->lsub ? "LSUB" : "LIST");
	}
	store_folders_free(job->folders, job->nfolders);
	store_names_free(job->subs, job->nsubs);
	free(job->pattern);
	free(job);
}

static void
imap_cmd_list(struct imap_session *s, struct imap_command *cmd,
    const struct imap_arg *args, size_t nargs, bool uid)
{
	struct imap_list_job *job;
	const char *ref, *pat;
	size_t rlen, plen;

	if (nargs != 2 || imap_arg_astring(&args[0], &ref, &rlen) < 0 ||
	    imap_arg_astring(&args[1], &pat, &plen) < 0) {
		imap_bad(s, "Syntax: LIST reference pattern");
		return;
	}
	if (plen == 0 && strcmp(cmd->name, "LIST") == 0) {
		/* RFC 3501 6.3.8: the hierarchy delimiter and root. */
		imap_printf(s, "* LIST (\\Noselect) \"%c\" \"\"", STORE_SEP);
		imap_finish(s, true, "OK LIST completed");
		return;
	}
	job = xcalloc(1, sizeof(*job));
	job->lsub = strcmp(cmd->name, "LSUB") == 0;
	job->pattern = xasprintf("%.*s%.*s", (int)rlen, ref, (int)plen, pat);
	imap_run(s, imap_list_work, imap_list_done, &job->j);
}

enum {
	IMAP_ST_MESSAGES = 1, IMAP_ST_RECENT = 2, IMAP_ST_UIDNEXT = 4,
	IMAP_ST_UIDVALIDITY = 8, IMAP_ST_UNSEEN = 16,
};

struct imap_status_job {
	struct imap_job j;
	char *name;
	unsigned items[8];
	size_t nitems;
	struct store_status st;
};

static void
imap_status_work(void *arg)
{
	struct imap_status_job *job = arg;
	struct store_mailbox *mb = imap_store(job->j.s, &job->j.error);

	job->j.ret = mb == NULL ? STORE_ERROR : store_folder_status(mb,
	    job->name, &job->st, &job->j.error);
}

static void
imap_status_done(struct conn *c, void *arg)
{
	static const char *const names[] = {
		[0] = "MESSAGES", [1] = "RECENT", [2] = "UIDNEXT",
		[3] = "UIDVALIDITY", [4] = "UNSEEN",
	};
	struct imap_status_job *job = arg;
	struct imap_session *s = job->j.s;
	struct buf b;

	if (conn_is_closing(c)) {
		s->busy = false;
		goto out;
	}
	if (job->j.ret != STORE_OK) {
		imap_no(s, job->j.ret == STORE_NOTFOUND ?
		    "[NONEXISTENT] Mailbox does not exist" :
		    "[SERVERBUG] Cannot read the mailbox status");
		imap_continue(s);
		goto out;
	}
	buf_init(&b);
	buf_append_str(&b, "* STATUS ");
	imap_append_mailbox(&b, job->name);
	buf_append_str(&b, " (");
	for (size_t i = 0; i < job->nitems; i++) {
		unsigned item = job->items[i], bit = 0, v = 0;

		while ((1u << bit) != item)
			bit++;
		switch (item) {
		case IMAP_ST_MESSAGES: v = job->st.messages; break;
		case IMAP_ST_RECENT: v = job->st.recent; break;
		case IMAP_ST_UIDNEXT: v = job->st.uidnext; break;
		case IMAP_ST_UIDVALIDITY: v = job->st.uidvalidity; break;
		default: v = job->st.unseen; break;
		}
		buf_printf(&b, "%s%s %u", i > 0 ? " " : "", names[bit], v);
	}
	buf_append_str(&b, ")\r\n");
	conn_write(c, b.data, b.len);
	buf_deinit(&b);
	imap_finish(s, true, "OK STATUS completed");
out:
	free(job->name);
	free(job);
}

static void
imap_cmd_status(struct imap_session *s, struct imap_command *cmd,
    const struct imap_arg *args, size_t nargs, bool uid)
{
	static const struct {
		const char *name;
		unsigned bit;
	} items[] = {
		{ "MESSAGES", IMAP_ST_MESSAGES }, { "RECENT", IMAP_ST_RECENT },
		{ "UIDNEXT", IMAP_ST_UIDNEXT },
		{ "UIDVALIDITY", IMAP_ST_UIDVALIDITY },
		{ "UNSEEN", IMAP_ST_UNSEEN },
	};
	struct imap_status_job *job;
	unsigned seen = 0;
	char *name;

	if (nargs != 2 || args[1].type != IMAP_ARG_LIST ||
	    args[1].count == 0) {
		imap_bad(s, "Syntax: STATUS mailbox (items)");
		return;
	}
	job = xcalloc(1, sizeof(*job));
	for (size_t i = 0; i < args[1].count; i++) {
		const struct imap_arg *a = &args[1].list[i];
		size_t k;

		for (k = 0; k < ARRAY_SIZE(items); k++) {
			if (a->type == IMAP_ARG_ATOM &&
			    strcasecmp(a->str, items[k].name) == 0)
				break;
		}
		if (k == ARRAY_SIZE(items)) {
			free(job);
			imap_bad(s, "Unknown STATUS item");
			return;
		}
		if ((seen & items[k].bit) == 0)
			job->items[job->nitems++] = items[k].bit;
		seen |= items[k].bit;
	}
	if ((name = imap_mailbox_arg(s, &args[0])) == NULL) {
		free(job);
		return;
	}
	job->name = name;
	imap_run(s, imap_status_work, imap_status_done, &job->j);
}

/* ---- flags ---- */

/* A flag keyword (RFC 3501 flag-keyword: an atom). */
static bool
imap_keyword_valid(const char *s, size_t len)
{
	if (len == 0 || len > 64)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c <= 0x20 || c >= 0x7f || strchr("(){%*\"\\]", c) != NULL)
			return false;
	}
	return true;
}

/*
 * Parses a flag list ("(\Seen kw)", or one flag alone as STORE allows)
 * into system flags and a space-separated keyword list (malloc'ed or
 * NULL). \Recent is ignored (it cannot be set, RFC 3501 2.3.2). 0, or
 * -1 with a BAD reply sent.
 */
static int
imap_flags_parse(struct imap_session *s, const struct imap_arg *a,
    uint8_t *flags_r, char **keywords_r)
{
	static const struct {
		const char *name;
		uint8_t flag;
	} sys[] = {
		{ "\\Seen", STORE_F_SEEN }, { "\\Answered", STORE_F_ANSWERED },
		{ "\\Flagged", STORE_F_FLAGGED },
		{ "\\Deleted", STORE_F_DELETED }, { "\\Draft", STORE_F_DRAFT },
		{ "\\Recent", 0 },
	};
	const struct imap_arg *list = a;
	size_t count = 1;
	struct buf kw;

	if (a->type == IMAP_ARG_LIST) {
		list = a->list;
		count = a->count;
	}
	*flags_r = 0;
	*keywords_r = NULL;
	buf_init(&kw);
	for (size_t i = 0; i < count; i++) {
		const struct imap_arg *f = &list[i];
		size_t k;

		if (f->type != IMAP_ARG_ATOM && f->type != IMAP_ARG_NIL)
			goto bad;
		if (f->str[0] == '\\') {
			for (k = 0; k < ARRAY_SIZE(sys); k++) {
				if (strcasecmp(f->str, sys[k].name) == 0)
					break;
			}
			if (k == ARRAY_SIZE(sys))
				goto bad;
			*flags_r |= sys[k].flag;
			continue;
		}
		if (!imap_keyword_valid(f->str, f->len) ||
		    kw.len + f->len + 1 > IMAP_KEYWORDS_MAX)
			goto bad;
		if (kw.len > 0)
			buf_append(&kw, " ", 1);
		buf_append(&kw, f->str, f->len);
	}
	if (kw.len > 0)
		*keywords_r = xstrdup(kw.data);
	buf_deinit(&kw);
	return 0;
bad:
	buf_deinit(&kw);
	imap_bad(s, "Invalid flag");
	return -1;
}

/* ---- quota ---- */

/* Whether adding bytes would take the mailbox over its quota (the same
 * rule as SMTP delivery: the S= sizes of every folder). On a worker. A
 * database or disk problem does not refuse the message. */
static bool
imap_over_quota(const struct imap_session *s, uint64_t bytes)
{
	struct db_mailbox m;
	const char *error;
	struct db *db = db_thread_get(&error);
	uint64_t used = 0;

	if (db == NULL || db_mailbox_get(db, s->address, &m, &error) !=
	    DB_OK || m.quota == 0 || maildir_usage(s->maildir, &used) < 0)
		return false;
	return used + bytes > m.quota;
}

/* ---- APPEND ---- */

struct imap_append_job {
	struct imap_job j;
	char *name;
	int fd;
	uint64_t len;
	uint8_t flags;
	char *keywords;
	time_t date;
	uint32_t uidvalidity, uid;
	bool over_quota;
};

static void
imap_append_work(void *arg)
{
	struct imap_append_job *job = arg;
	struct store_mailbox *mb = imap_store(job->j.s, &job->j.error);

	if ((job->over_quota = imap_over_quota(job->j.s, job->len)))
		return;
	job->j.ret = mb == NULL ? STORE_ERROR : store_append(mb, job->name,
	    job->fd, job->len, job->flags, job->keywords, job->date,
	    &job->uidvalidity, &job->uid, &job->j.error);
}

static void
imap_append_done(struct conn *c, void *arg)
{
	struct imap_append_job *job = arg;
	struct imap_session *s = job->j.s;

	if (conn_is_closing(c)) {
		s->busy = false;
	} else if (job->over_quota) {
		/* RFC 9208 5.3 */
		imap_no(s, "[OVERQUOTA] Mailbox is full");
		imap_continue(s);
	} else if (job->j.ret == STORE_OK) {
		log_info("session=%s event=append user=%s uid=%u size=%llu",
		    conn_id(c), s->address, job->uid,
		    (unsigned long long)job->len);
		imap_finish(s, true, "OK [APPENDUID %u %u] APPEND completed",
		    job->uidvalidity, job->uid);
	} else {
		if (job->j.ret == STORE_NOTFOUND) {
			imap_no(s, "[TRYCREATE] Mailbox does not exist");
		} else {
			log_error("session=%s event=append_failed "
			    "error=\"%s\"", conn_id(c), job->j.error);
			imap_no(s, "[UNAVAILABLE] Cannot store the message");
		}
		imap_continue(s);
	}
	close(job->fd);
	free(job->keywords);
	free(job->name);
	free(job);
}

/* An in-memory literal as a file descriptor, for store_append. */
static int
imap_literal_fd(const struct imap_arg *a)
{
	int fd;

	if (a->fd >= 0)
		return -1;
	if ((fd = memfd_create("facteur-append", MFD_CLOEXEC)) < 0)
		return -1;
	if (a->len > 0 && write(fd, a->str, a->len) != (ssize_t)a->len) {
		close(fd);
		return -1;
	}
	return fd;
}

static void
imap_cmd_append(struct imap_session *s, struct imap_command *cmd,
    const struct imap_arg *args, size_t nargs, bool uid)
{
	struct imap_append_job *job;
	const struct imap_arg *lit;
	uint8_t flags = 0;
	char *keywords = NULL, *name;
	time_t date = time(NULL);
	size_t i = 1;
	int tz;

	if (nargs < 2 || nargs > 4 ||
	    args[nargs - 1].type != IMAP_ARG_LITERAL) {
		imap_bad(s, "Syntax: APPEND mailbox [(flags)] [date-time] "
		    "literal");
		return;
	}
	if (args[i].type == IMAP_ARG_LIST) {
		if (imap_flags_parse(s, &args[i], &flags, &keywords) < 0)
			return;
		i++;
	}
	if (i < nargs - 1) {
		if (args[i].type != IMAP_ARG_QUOTED ||
		    imap_datetime_parse(args[i].str, args[i].len, &date,
		    &tz) < 0) {
			free(keywords);
			imap_bad(s, "Invalid date-time");
			return;
		}
		i++;
	}
	if (i != nargs - 1) {
		free(keywords);
		imap_bad(s, "Syntax: APPEND mailbox [(flags)] [date-time] "
		    "literal");
		return;
	}
	lit = &args[i];
	if (lit->len > s->cfg->max_message_size) {
		free(keywords);
		imap_no(s, "[TOOBIG] Message too large");
		return;
	}
	if ((name = imap_mailbox_arg(s, &args[0])) == NULL) {
		free(keywords);
		return;
	}
	job = xcalloc(1, sizeof(*job));
	job->name = name;
	job->flags = flags;
	job->keywords = keywords;
	job->date = date;
	job->len = lit->len;
	if (lit->fd >= 0) {
		/* Taken from the command: the job closes it. */
		job->fd = lit->fd;
		((struct imap_arg *)lit)->fd = -1;
	} else if ((job->fd = imap_literal_fd(lit)) < 0) {
		free(job->keywords);
		free(job->name);
		free(job);
		imap_no(s, "[SERVERBUG] Cannot buffer the message");
		return;
	}
	imap_run(s, imap_append_work, imap_append_done, &job->j);
}

/* ---- selected: EXPUNGE, CLOSE, UNSELECT ---- */

struct imap_expunge_job {
	struct imap_job j;
	struct store_view view;
	uint32_t *uids;
	size_t n;
	bool close;		/* CLOSE: no responses, then deselect */
	bool move;		/* the end of a MOVE */
	char *copyuid;		/* MOVE's COPYUID response code */
};

static void
imap_expunge_work(void *arg)
{
	struct imap_expunge_job *job = arg;
	struct store_mailbox *mb = imap_store(job->j.s, &job->j.error);

	job->j.ret = mb == NULL ? STORE_ERROR : store_expunge(mb, &job->view,
	    job->uids, job->n, &job->j.error);
}

static void
imap_expunge_done(struct conn *c, void *arg)
{
	struct imap_expunge_job *job = arg;
	struct imap_session *s = job->j.s;

	if (conn_is_closing(c)) {
		s->busy = false;
		goto out;
	}
	if (job->j.ret != STORE_OK) {
		log_error("session=%s event=expunge_failed error=\"%s\"",
		    conn_id(c), job->j.error);
		imap_no(s, "[SERVERBUG] Expunge failed");
		imap_continue(s);
		goto out;
	}
	if (job->close) {
		imap_unselect(s);
		imap_finish(s, true, "OK CLOSE completed");
		goto out;
	}
	/* Ours are announced now, with whatever other sessions did. */
	s->pending = xrealloc(s->pending, (s->npending + job->n + 1) *
	    sizeof(*s->pending));
	memcpy(s->pending + s->npending, job->uids, job->n * sizeof(uint32_t));
	s->npending += job->n;
	qsort(s->pending, s->npending, sizeof(*s->pending), imap_uid_cmp);
	imap_flush_expunges(s);
	if (job->move)
		imap_finish(s, true, "OK [%s] MOVE completed", job->copyuid);
	else
		imap_finish(s, true, "OK EXPUNGE completed");
out:
	free(job->copyuid);
	free(job->uids);
	free(job);
}

/* Expunges the \Deleted messages (of idx when given). */
static void
imap_expunge_start(struct imap_session *s, const size_t *idx, size_t n,
    bool close)
{
	struct imap_expunge_job *job = xcalloc(1, sizeof(*job));
	size_t total = idx != NULL ? n : s->count;

	job->uids = xcalloc(total + 1, sizeof(*job->uids));
	for (size_t k = 0; k < total; k++) {
		size_t i = idx != NULL ? idx[k] : k;

		if (s->msgs[i].flags & STORE_F_DELETED)
			job->uids[job->n++] = s->msgs[i].uid;
	}
	job->view = s->view;
	job->close = close;
	imap_run(s, imap_expunge_work, imap_expunge_done, &job->j);
}

static void
imap_cmd_expunge(struct imap_session *s, struct imap_command *cmd,
    const struct imap_arg *args, size_t nargs, bool uid)
{
	size_t *idx = NULL, n = 0;

	if (nargs != (uid ? 1u : 0u)) {
		imap_bad(s, uid ? "Syntax: UID EXPUNGE uid-set" :
		    "EXPUNGE takes no arguments");
		return;
	}
	if (s->view.readonly) {
		imap_no(s, "[READ-ONLY] Mailbox is read-only");
		return;
	}
	/* RFC 4315 2.1: UID EXPUNGE removes only the given \Deleted
	 * messages. */
	if (uid && (idx = imap_set_indexes(s, &args[0], true, &n)) == NULL)
		return;
	imap_expunge_start(s, idx, n, false);
	free(idx);
}

static void
imap_cmd_close(struct imap_session *s, struct imap_command *cmd,
    const struct imap_arg *args, size_t nargs, bool uid)
{
	if (nargs != 0) {
		imap_bad(s, "Unexpected arguments");
		return;
	}
	/* CLOSE expunges silently (RFC 3501 6.4.2); UNSELECT does not
	 * (RFC 3691); neither on a read-only folder. */
	if (strcmp(cmd->name, "CLOSE") == 0 && !s->view.readonly) {
		imap_expunge_start(s, NULL, 0, true);
		return;
	}
	imap_unselect(s);
	imap_finish(s, true, "OK %s completed", cmd->name);
}

/* ---- STORE ---- */

struct imap_store_job {
	struct imap_job j;
	struct store_view view;
	uint32_t *uids;
	size_t n;
	enum store_flag_op op;
	uint8_t flags;
	char *keywords;
	bool silent;
	struct store_flag_result *res;
};

static void
imap_store_work(void *arg)
{
	struct imap_store_job *job = arg;
	struct store_mailbox *mb = imap_store(job->j.s, &job->j.error);

	job->j.ret = mb == NULL ? STORE_ERROR : store_flags_change(mb,
	    &job->view, job->uids, job->n, job->op, job->flags, job->keywords,
	    &job->res, &job->j.error);
}

static void
imap_store_done(struct conn *c, void *arg)
{
	struct imap_store_job *job = arg;
	struct imap_session *s = job->j.s;

	if (conn_is_closing(c)) {
		s->busy = false;
		goto out;
	}
	if (job->j.ret == STORE_INVALID) {
		imap_printf(s, "%s NO [LIMIT] %s", s->tag, job->j.error);
		imap_continue(s);
		goto out;
	}
	if (job->j.ret != STORE_OK) {
		log_error("session=%s event=store_failed error=\"%s\"",
		    conn_id(c), job->j.error);
		imap_no(s, "[SERVERBUG] Cannot store the flags");
		imap_continue(s);
		goto out;
	}
	for (size_t k = 0; k < job->n; k++) {
		struct store_flag_result *r = &job->res[k];
		size_t i = imap_uid_index(s, r->uid);

		if (i == SIZE_MAX || r->gone)
			continue;
		s->msgs[i].flags = (uint8_t)(r->flags |
		    (s->msgs[i].flags & STORE_F_RECENT));
		free(s->msgs[i].keywords);
		s->msgs[i].keywords = r->keywords;
		r->keywords = NULL;
		if (!job->silent)
			imap_send_fetch_flags(s, i);
	}
	imap_finish(s, s->uid_cmd, "OK STORE completed");
out:
	store_flag_results_free(job->res, job->n);
	free(job->keywords);
	free(job->uids);
	free(job);
}

static void
imap_cmd_store(struct imap_session *s, struct imap_command *cmd,
    const struct imap_arg *args, size_t nargs, bool uid)
{
	struct imap_store_job *job;
	const char *item;
	size_t *idx, n;
	uint8_t flags;
	char *keywords;
	enum store_flag_op op = STORE_FLAGS_SET;
	bool silent;

	if (nargs < 3 || args[1].type != IMAP_ARG_ATOM) {
		imap_bad(s, "Syntax: STORE set [+|-]FLAGS[.SILENT] (flags)");
		return;
	}
	item = args[1].str;
	if (*item == '+' || *item == '-') {
		op = *item == '+' ? STORE_FLAGS_ADD : STORE_FLAGS_REMOVE;
		item++;
	}
	if (strcasecmp(item, "FLAGS") == 0)
		silent = false;
	else if (strcasecmp(item, "FLAGS.SILENT") == 0)
		silent = true;
	else {
		imap_bad(s, "Unknown STORE item");
		return;
	}
	if (nargs == 3) {
		if (imap_flags_parse(s, &args[2], &flags, &keywords) < 0)
			return;
	} else {
		/* Flags without parentheses: "+FLAGS \Seen \Flagged". */
		struct imap_arg list;

		memset(&list, 0, sizeof(list));
		list.type = IMAP_ARG_LIST;
		list.list = (struct imap_arg *)&args[2];
		list.count = nargs - 2;
		if (imap_flags_parse(s, &list, &flags, &keywords) < 0)
			return;
	}
	if (s->view.readonly) {
		free(keywords);
		imap_no(s, "[READ-ONLY] Mailbox is read-only");
		return;
	}
	if ((idx = imap_set_indexes(s, &args[0], uid, &n)) == NULL) {
		free(keywords);
		return;
	}
	job = xcalloc(1, sizeof(*job));
	job->uids = xcalloc(n + 1, sizeof(*job->uids));
	for (size_t k = 0; k < n; k++)
		job->uids[k] = s->msgs[idx[k]].uid;
	free(idx);
	job->n = n;
	job->op = op;
	job->flags = flags;
	job->keywords = keywords;
	job->silent = silent;
	job->view = s->view;
	imap_run(s, imap_store_work, imap_store_done, &job->j);
}

/* ---- COPY, MOVE ---- */

struct imap_copy_job {
	struct imap_job j;
	struct store_view view;
	char *dest;
	uint32_t *uids, *new_uids;
	size_t n;
	uint32_t uidvalidity;
	uint64_t bytes;		/* what the copies add */
	bool move;
	bool over_quota;
};

static void
imap_copy_work(void *arg)
{
	struct imap_copy_job *job = arg;
	struct store_mailbox *mb = imap_store(job->j.s, &job->j.error);

	/* A move adds nothing (hard links; the source goes). */
	if (!job->move && (job->over_quota = imap_over_quota(job->j.s,
	    job->bytes)))
		return;
	job->j.ret = mb == NULL ? STORE_ERROR : store_copy(mb, &job->view,
	    job->uids, job->n, job->dest, &job->uidvalidity, job->new_uids,
	    &job->j.error);
}

static void
imap_copy_done(struct conn *c, void *arg)
{
	struct imap_copy_job *job = arg;
	struct imap_session *s = job->j.s;
	struct imap_seqset from, to;
	struct buf code;

	if (conn_is_closing(c)) {
		s->busy = false;
		goto out;
	}
	if (job->over_quota || job->j.ret != STORE_OK) {
		if (job->over_quota) {
			imap_no(s, "[OVERQUOTA] Mailbox is full");
		} else if (job->j.ret == STORE_NOTFOUND) {
			imap_no(s, "[TRYCREATE] Mailbox does not exist");
		} else {
			log_error("session=%s event=copy_failed error=\"%s\"",
			    conn_id(c), job->j.error);
			imap_no(s, "[SERVERBUG] Copy failed");
		}
		imap_continue(s);
		goto out;
	}
	memset(&from, 0, sizeof(from));
	memset(&to, 0, sizeof(to));
	for (size_t k = 0; k < job->n; k++) {
		if (job->new_uids[k] == 0)
			continue;
		imap_seqset_append(&from, job->uids[k], job->uids[k]);
		imap_seqset_append(&to, job->new_uids[k], job->new_uids[k]);
	}
	buf_init(&code);
	if (from.count > 0) {
		buf_printf(&code, "COPYUID %u ", job->uidvalidity);
		imap_seqset_format(&from, &code);
		buf_append(&code, " ", 1);
		imap_seqset_format(&to, &code);
	}
	imap_seqset_free(&from);
	imap_seqset_free(&to);
	if (job->move) {
		/* RFC 6851 3.3: COPYUID in an untagged OK, then the
		 * expunges, then the tagged OK. */
		struct imap_expunge_job *ej = xcalloc(1, sizeof(*ej));

		if (code.len > 0)
			imap_printf(s, "* OK [%s] Moved", code.data);
		ej->uids = xcalloc(job->n + 1, sizeof(*ej->uids));
		for (size_t k = 0; k < job->n; k++) {
			if (job->new_uids[k] != 0)
				ej->uids[ej->n++] = job->uids[k];
		}
		ej->view = s->view;
		ej->move = true;
		ej->copyuid = xstrdup(code.len > 0 ? code.data : "");
		buf_deinit(&code);
		s->busy = false;
		imap_run(s, imap_expunge_work, imap_expunge_done, &ej->j);
		goto out;
	}
	if (code.len > 0)
		imap_finish(s, true, "OK [%s] COPY completed", code.data);
	else
		imap_finish(s, true, "OK COPY completed");
	buf_deinit(&code);
out:
	free(job->dest);
	free(job->uids);
	free(job->new_uids);
	free(job);
}

static void
imap_cmd_copy(struct imap_session *s, struct imap_command *cmd,
    const struct imap_arg *args, size_t nargs, bool uid)
{
	struct imap_copy_job *job;
	size_t *idx, n;
	char *dest;
	/* For UID MOVE the command name is UID, the verb its argument. */
	bool move = uid ? strcasecmp(cmd->args[0].str, "MOVE") == 0 :
	    strcmp(cmd->name, "MOVE") == 0;
	if (nargs != 2) {
		imap_bad(s, "Syntax: COPY set mailbox");
		return;
	}
	if (move && s->view.readonly) {
		imap_no(s, "[READ-ONLY] Mailbox is read-only");
		return;
	}
	if ((idx = imap_set_indexes(s, &args[0], uid, &n)) == NULL)
		return;
	if ((dest = imap_mailbox_arg(s, &args[1])) == NULL) {
		free(idx);
		return;
	}
	job = xcalloc(1, sizeof(*job));
	job->uids = xcalloc(n + 1, sizeof(*job->uids));
	job->new_uids = xcalloc(n + 1, sizeof(*job->new_uids));
	for (size_t k = 0; k < n; k++) {
		job->uids[k] = s->msgs[idx[k]].uid;
		job->bytes += s->msgs[idx[k]].vsize;
	}
	free(idx);
	job->n = n;
	job->dest = dest;
	job->move = move;
	job->view = s->view;
	imap_run(s, imap_copy_work, imap_copy_done, &job->j);
}

/* ---- SEARCH ---- */

struct imap_search_job {
	struct imap_job j;
	struct imap_search *search;
	struct store_view view;
	bool *match;
};

static void
imap_search_reply(struct imap_session *s, const bool *match, bool uid)
{
	struct buf b;

	buf_init(&b);
	buf_append_str(&b, "* SEARCH");
	for (size_t i = 0; i < s->count; i++) {
		if (!match[i])
			continue;
		buf_printf(&b, " %u", uid ? s->msgs[i].uid : (unsigned)(i + 1));
		if (b.len >= IMAP_CHUNK) {
			conn_write(s->c, b.data, b.len);
			buf_reset(&b);
		}
	}
	buf_append_str(&b, "\r\n");
	conn_write(s->c, b.data, b.len);
	buf_deinit(&b);
}

static void
imap_search_work(void *arg)
{
	struct imap_search_job *job = arg;
	struct imap_session *s = job->j.s;
	struct store_mailbox *mb = imap_store(s, &job->j.error);

	job->j.ret = mb == NULL ? -1 : imap_search_run(job->search, mb,
	    &job->view, s->msgs, s->count, job->match, &job->j.error);
}

static void
imap_search_done(struct conn *c, void *arg)
{
	struct imap_search_job *job = arg;
	struct imap_session *s = job->j.s;

	if (conn_is_closing(c)) {
		s->busy = false;
	} else if (job->j.ret < 0) {
		log_error("session=%s event=search_failed error=\"%s\"",
		    conn_id(c), job->j.error);
		imap_no(s, "[SERVERBUG] Search failed");
		imap_continue(s);
	} else {
		imap_search_reply(s, job->match, s->uid_cmd);
		imap_finish(s, s->uid_cmd, "OK SEARCH completed");
	}
	imap_search_free(&job->search);
	free(job->match);
	free(job);
}

static void
imap_cmd_search(struct imap_session *s, struct imap_command *cmd,
    const struct imap_arg *args, size_t nargs, bool uid)
{
	struct imap_search_job *job;
	struct imap_search *search;
	const char *error = NULL;
	bool bad_charset = false;

	if (imap_search_parse(args, nargs, &search, &bad_charset,
	    &error) < 0) {
		if (bad_charset)
			imap_no(s, "[BADCHARSET (UTF-8 US-ASCII)] Unsupported "
			    "charset");
		else
			imap_bad(s, error != NULL ? error : "Invalid search");
		return;
	}
	job = xcalloc(1, sizeof(*job));
	job->search = search;
	job->view = s->view;
	job->match = xcalloc(s->count + 1, sizeof(*job->match));
	if (!imap_search_needs_store(search)) {
		job->j.s = s;
		job->j.ret = imap_search_run(search, NULL, &s->view, s->msgs,
		    s->count, job->match, &job->j.error);
		imap_job_begin(s);
		imap_search_done(s->c, job);
		return;
	}
	imap_run(s, imap_search_work, imap_search_done, &job->j);
}

/* ---- FETCH ---- */

static void imap_fetch_pump(struct imap_session *s);

static void
imap_fetch_end(struct imap_session *s)
{
	unsigned missing = imap_fetch_missing(s->fetch);
	bool failed = s->fetch_failed;

	imap_fetch_free(&s->fetch);
	xfree(s->fetch_idx);
	xfree(s->fetch_seen);
	buf_deinit(&s->fetch_out);
	if (failed)
		imap_finish(s, s->uid_cmd, "NO [SERVERBUG] FETCH failed");
	else if (missing > 0)
		imap_finish(s, s->uid_cmd, "NO Some messages were expunged "
		    "meanwhile and could not be fetched");
	else
		imap_finish(s, s->uid_cmd, "OK FETCH completed");
}

struct imap_fetch_job {
	struct imap_job j;
	bool mark_seen;		/* first run: store \Seen first */
	bool all_done;
};

/* Stores \Seen for the messages a non-peek FETCH reads (RFC 3501
 * 6.4.5), before their responses are rendered. */
static int
imap_fetch_mark_seen(struct imap_session *s, struct store_mailbox *mb,
    const char **error_r)
{
	struct store_flag_result *res = NULL;
	uint32_t *uids = xcalloc(s->fetch_n + 1, sizeof(*uids));
	size_t *where = xcalloc(s->fetch_n + 1, sizeof(*where));
	size_t n = 0;
	int ret;

	for (size_t k = 0; k < s->fetch_n; k++) {
		size_t i = s->fetch_idx[k];

		if ((s->msgs[i].flags & STORE_F_SEEN) == 0) {
			where[n] = k;
			uids[n++] = s->msgs[i].uid;
		}
	}
	ret = n == 0 ? STORE_OK : store_flags_change(mb, &s->view, uids, n,
	    STORE_FLAGS_ADD, STORE_F_SEEN, NULL, &res, error_r);
	for (size_t k = 0; ret == STORE_OK && k < n; k++) {
		struct store_imsg *m = &s->msgs[s->fetch_idx[where[k]]];

		if (res[k].gone)
			continue;
		m->flags |= STORE_F_SEEN;
		s->fetch_seen[where[k]] = true;
	}
	store_flag_results_free(res, n);
	free(uids);
	free(where);
	return ret;
}

static void
imap_fetch_work(void *arg)
{
	struct imap_fetch_job *job = arg;
	struct imap_session *s = job->j.s;
	struct store_mailbox *mb = imap_store(s, &job->j.error);

	job->j.ret = mb == NULL ? STORE_ERROR : STORE_OK;
	if (mb != NULL && job->mark_seen)
		job->j.ret = imap_fetch_mark_seen(s, mb, &job->j.error);
	if (job->j.ret != STORE_OK)
		return;
	job->all_done = imap_fetch_render(s->fetch, mb, &s->view, s->msgs,
	    s->fetch_idx, s->fetch_n, s->fetch_seen, &s->fetch_out,
	    IMAP_CHUNK);
	store_cache_flush(mb);
}

static void
imap_fetch_job_done(struct conn *c, void *arg)
{
	struct imap_fetch_job *job = arg;
	struct imap_session *s = job->j.s;
	bool all_done = job->all_done;

	s->fetch_running = false;
	if (job->j.ret != STORE_OK) {
		log_error("session=%s event=fetch_failed error=\"%s\"",
		    conn_id(c), job->j.error);
		s->fetch_failed = true;
		all_done = true;
	}
	free(job);
	if (conn_is_closing(c)) {
		imap_fetch_free(&s->fetch);
		xfree(s->fetch_idx);
		xfree(s->fetch_seen);
		buf_deinit(&s->fetch_out);
		s->busy = false;
		return;
	}
	conn_write(c, s->fetch_out.data, s->fetch_out.len);
	buf_reset(&s->fetch_out);
	if (all_done) {
		imap_fetch_end(s);
		return;
	}
	/* The next piece when the output has drained (imap_on_drained),
	 * or now. */
	if (conn_output_len(c) < IMAP_OUTPUT_HIGH)
		imap_fetch_pump(s);
}

/* Renders the next piece of a FETCH: on a worker when it reads the
 * store, else here. */
static void
imap_fetch_pump(struct imap_session *s)
{
	struct imap_fetch_job *job;

	if (!imap_fetch_needs_store(s->fetch) && s->fetch_seen == NULL) {
		while (!imap_fetch_render(s->fetch, NULL, &s->view, s->msgs,
		    s->fetch_idx, s->fetch_n, NULL, &s->fetch_out,
		    IMAP_CHUNK)) {
			conn_write(s->c, s->fetch_out.data, s->fetch_out.len);
			buf_reset(&s->fetch_out);
			if (conn_output_len(s->c) >= IMAP_OUTPUT_HIGH)
				return;		/* imap_on_drained goes on */
		}
		conn_write(s->c, s->fetch_out.data, s->fetch_out.len);
		buf_reset(&s->fetch_out);
		imap_fetch_end(s);
		return;
	}
	job = xcalloc(1, sizeof(*job));
	job->j.s = s;
	s->fetch_running = true;
	conn_job(s->c, imap_fetch_work, imap_fetch_job_done, job);
}

static void
imap_cmd_fetch(struct imap_session *s, struct imap_command *cmd,
    const struct imap_arg *args, size_t nargs, bool uid)
{
	struct imap_fetch_job *job;
	const char *error = NULL;
	size_t *idx, n;

	if (nargs < 2) {
		imap_bad(s, "Syntax: FETCH set items");
		return;
	}
	if (imap_fetch_parse(&args[1], nargs - 1, uid, &s->fetch,
	    &error) < 0) {
		imap_bad(s, error != NULL ? error : "Invalid FETCH items");
		return;
	}
	if ((idx = imap_set_indexes(s, &args[0], uid, &n)) == NULL) {
		imap_fetch_free(&s->fetch);
		return;
	}
	s->fetch_idx = idx;
	s->fetch_n = n;
	s->fetch_failed = false;
	buf_init(&s->fetch_out);
	imap_job_begin(s);
	if (imap_fetch_sets_seen(s->fetch) && !s->view.readonly) {
		s->fetch_seen = xcalloc(n + 1, sizeof(*s->fetch_seen));
		job = xcalloc(1, sizeof(*job));
		job->j.s = s;
		job->mark_seen = true;
		s->fetch_running = true;
		conn_job(s->c, imap_fetch_work, imap_fetch_job_done, job);
		return;
	}
	imap_fetch_pump(s);
}

/* ---- IDLE (RFC 2177) ---- */

#define IMAP_IDLE_POLL_MS 2000

static void imap_idle_tick(struct conn *c, void *arg);

/* DONE was read and no poll is in flight: the tagged reply. */
static void
imap_idle_end(struct imap_session *s)
{
	s->idle_done = false;
	imap_finish(s, true, "OK IDLE terminated");
}

struct imap_idle_job {
	struct imap_job j;
	struct store_changes ch;
	struct store_view view;
};

static void
imap_idle_poll_done(struct conn *c, void *arg)
{
	struct imap_idle_job *job = arg;
	struct imap_session *s = job->j.s;

	s->idle_inflight = false;
	if (!conn_is_closing(c) && s->state == IMAP_SELECTED &&
	    job->j.ret == STORE_OK) {
		s->view = job->view;
		imap_apply_changes(s, &job->ch, true);
	}
	store_changes_free(&job->ch);
	free(job);
	if (conn_is_closing(c))
		return;
	if (s->idling)
		conn_timer(c, IMAP_IDLE_POLL_MS, imap_idle_tick, NULL);
	else if (s->idle_done)
		imap_idle_end(s);
}

static void
imap_idle_poll_work(void *arg)
{
	struct imap_idle_job *job = arg;
	struct store_mailbox *mb = imap_store(job->j.s, &job->j.error);

	job->j.ret = mb == NULL ? STORE_ERROR :
	    store_view_poll(mb, &job->view, &job->ch, &job->j.error);
}

static void
imap_idle_tick(struct conn *c, void *arg)
{
	struct imap_session *s = conn_ctx(c);
	struct imap_idle_job *job;

	if (conn_is_closing(c) || !s->idling || s->state != IMAP_SELECTED)
		return;
	job = xcalloc(1, sizeof(*job));
	job->j.s = s;
	job->view = s->view;
	s->idle_inflight = true;
	conn_job(c, imap_idle_poll_work, imap_idle_poll_done, job);
}

static void
imap_cmd_idle(struct imap_session *s, struct imap_command *cmd,
    const struct imap_arg *args, size_t nargs, bool uid)
{
	if (nargs != 0) {
		imap_bad(s, "IDLE takes no arguments");
		return;
	}
	s->idling = true;
	imap_printf(s, "+ idling");
	if (s->state == IMAP_SELECTED)
		conn_timer(s->c, IMAP_IDLE_POLL_MS, imap_idle_tick, NULL);
}

/* The line that ends IDLE: "DONE" (anything else is an error that ends
 * it too). */
static bool
imap_idle_input(struct imap_session *s)
{
	const char *p, *nl;
	size_t len = conn_peek(s->c, &p), n;

	if (len == 0)
		return false;
	if ((nl = memchr(p, '\n', len)) == NULL) {
		if (len > 64) {
			imap_printf(s, "* BYE IDLE expects DONE");
			conn_close(s->c);
		}
		return false;
	}
	n = (size_t)(nl - p);
	if (n > 0 && p[n - 1] == '\r')
		n--;
	s->idling = false;
	if (n == 4 && strncasecmp(p, "DONE", 4) == 0) {
		conn_consume(s->c, (size_t)(nl - p) + 1);
		imap_job_begin(s);
		/* A poll in flight shares the store handle: wait for it. */
		if (s->idle_inflight)
			s->idle_done = true;
		else
			imap_idle_end(s);
	} else {
		conn_consume(s->c, (size_t)(nl - p) + 1);
		imap_bad(s, "IDLE expects DONE");
	}
	return true;
}

/* ---- dispatch ---- */

static void
imap_cmd_uid(struct imap_session *s, struct imap_command *cmd,
    const struct imap_arg *args, size_t nargs, bool uid);

static const struct imap_command_def imap_commands[] = {
	{ "CAPABILITY", IMAP_ANY, imap_cmd_capability, true },
	{ "NOOP", IMAP_ANY, imap_cmd_noop, true },
	{ "LOGOUT", IMAP_ANY, imap_cmd_logout, true },
	{ "ID", IMAP_ANY, imap_cmd_id, true },
	{ "STARTTLS", IMAP_NOTAUTH, imap_cmd_starttls, true },
	{ "LOGIN", IMAP_NOTAUTH, imap_cmd_login, true },
	{ "AUTHENTICATE", IMAP_NOTAUTH, imap_cmd_authenticate, true },
	{ "ENABLE", IMAP_AUTHED, imap_cmd_enable, true },
	{ "SELECT", IMAP_AUTHED, imap_cmd_select, true },
	{ "EXAMINE", IMAP_AUTHED, imap_cmd_select, true },
	{ "CREATE", IMAP_AUTHED, imap_cmd_folder, true },
	{ "DELETE", IMAP_AUTHED, imap_cmd_folder, true },
	{ "RENAME", IMAP_AUTHED, imap_cmd_folder, true },
	{ "SUBSCRIBE", IMAP_AUTHED, imap_cmd_folder, true },
	{ "UNSUBSCRIBE", IMAP_AUTHED, imap_cmd_folder, true },
	{ "LIST", IMAP_AUTHED, imap_cmd_list, true },
	{ "LSUB", IMAP_AUTHED, imap_cmd_list, true },
	{ "STATUS", IMAP_AUTHED, imap_cmd_status, true },
	{ "APPEND", IMAP_AUTHED, imap_cmd_append, true },
	{ "NAMESPACE", IMAP_AUTHED, imap_cmd_namespace, true },
	{ "IDLE", IMAP_AUTHED, imap_cmd_idle, true },
	{ "CHECK", IMAP_SELECTED, imap_cmd_noop, true },
	{ "CLOSE", IMAP_SELECTED, imap_cmd_close, true },
	{ "UNSELECT", IMAP_SELECTED, imap_cmd_close, true },
	{ "EXPUNGE", IMAP_SELECTED, imap_cmd_expunge, true },
	{ "SEARCH", IMAP_SELECTED, imap_cmd_search, false },
	{ "FETCH", IMAP_SELECTED, imap_cmd_fetch, false },
	{ "STORE", IMAP_SELECTED, imap_cmd_store, false },
	{ "COPY", IMAP_SELECTED, imap_cmd_copy, true },
	{ "MOVE", IMAP_SELECTED, imap_cmd_copy, true },
	{ "UID", IMAP_SELECTED, imap_cmd_uid, true },
};

static const struct imap_command_def *
imap_command_find(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(imap_commands); i++) {
		if (strcmp(imap_commands[i].name, name) == 0)
			return &imap_commands[i];
	}
	return NULL;
}

static void
imap_cmd_uid(struct imap_session *s, struct imap_command *cmd,
    const struct imap_arg *args, size_t nargs, bool uid)
{
	static const char *const uid_cmds[] = {
		"FETCH", "SEARCH", "STORE", "COPY", "MOVE", "EXPUNGE",
	};
	const struct imap_command_def *def = NULL;

	if (nargs > 0 && args[0].type == IMAP_ARG_ATOM) {
		for (size_t i = 0; i < ARRAY_SIZE(uid_cmds); i++) {
			if (strcasecmp(args[0].str, uid_cmds[i]) == 0)
				def = imap_command_find(uid_cmds[i]);
		}
	}
	if (def == NULL) {
		imap_bad(s, "Syntax: UID FETCH|SEARCH|STORE|COPY|MOVE|EXPUNGE "
		    "...");
		return;
	}
	s->uid_cmd = true;
	def->handler(s, cmd, args + 1, nargs - 1, true);
}

static void
imap_dispatch(struct imap_session *s, struct imap_command *cmd)
{
	const struct imap_command_def *def = imap_command_find(cmd->name);
	char clean[LOG_CLEAN_SIZE];

	str_lcpy(s->tag, cmd->tag, sizeof(s->tag));
	s->uid_cmd = false;
	if (def == NULL) {
		log_debug("session=%s event=unknown_command name=%s",
		    conn_id(s->c), log_clean(cmd->name, strlen(cmd->name),
		    clean));
		imap_bad(s, "Unknown command");
		return;
	}
	if ((def->states & s->state) == 0) {
		imap_bad(s, s->state == IMAP_NOTAUTH ? "Log in first" :
		    s->state == IMAP_AUTH && def->states == IMAP_SELECTED ?
		    "Select a mailbox first" : "Command not valid in this "
		    "state");
		return;
	}
	def->handler(s, cmd, cmd->args, cmd->nargs, false);
}

/* Paces a client that sends commands faster than IMAP_CMDS_PER_SEC. */
static void
imap_rate_resume(struct conn *c, void *arg)
{
	struct imap_session *s = conn_ctx(c);

	if (conn_is_closing(c))
		return;
	imap_continue(s);
}

/* True (and input paused for a second) when this second's commands
 * are used up. */
static bool
imap_rate_limited(struct imap_session *s)
{
	time_t now = time(NULL);

	if (now != s->rate_second) {
		s->rate_second = now;
		s->rate_count = 0;
	}
	if (s->rate_count < IMAP_CMDS_PER_SEC)
		return false;
	imap_job_begin(s);
	conn_timer(s->c, 1000, imap_rate_resume, NULL);
	return true;
}

static void
imap_process(struct imap_session *s)
{
	unsigned handled = 0;

	while (!s->busy && !conn_is_closing(s->c)) {
		const char *p, *tag;
		size_t len, used = 0;
		enum imap_parse_status r;
		const char *msg;

		if (conn_output_len(s->c) > IMAP_OUTPUT_HIGH)
			return;		/* imap_on_drained goes on */
		if (s->sasl != NULL) {
			if (!imap_sasl_input(s))
				return;
			continue;
		}
		if (s->idling) {
			if (!imap_idle_input(s))
				return;
			continue;
		}
		if ((len = conn_peek(s->c, &p)) == 0 || imap_rate_limited(s))
			return;
		r = imap_parser_feed(s->parser, p, len, &used);
		conn_consume(s->c, used);
		switch (r) {
		case IMAP_PARSE_MORE:
			continue;
		case IMAP_PARSE_CONTINUE:
			conn_write(s->c, "+ Ready for literal data\r\n", 26);
			continue;
		case IMAP_PARSE_COMMAND:
			s->rate_count++;
			imap_dispatch(s, imap_parser_command(s->parser));
			imap_parser_reset(s->parser);
			break;
		case IMAP_PARSE_ERROR:
			msg = imap_parser_error(s->parser, &tag);
			str_lcpy(s->tag, tag != NULL ? tag : "*",
			    sizeof(s->tag));
			imap_bad(s, msg);
			imap_parser_reset(s->parser);
			break;
		case IMAP_PARSE_TOO_BIG:
			msg = imap_parser_error(s->parser, &tag);
			imap_printf(s, "%s NO [TOOBIG] %s",
			    tag != NULL ? tag : "*", msg);
			imap_parser_reset(s->parser);
			break;
		case IMAP_PARSE_FATAL:
			msg = imap_parser_error(s->parser, &tag);
			imap_printf(s, "* BYE %s", msg);
			conn_close(s->c);
			return;
		}
		if (++handled >= IMAP_CMDS_PER_WAKEUP) {
			conn_yield(s->c);
			return;
		}
	}
}

/* ---- connection events ---- */

/* Big literals (APPEND) wait in an unlinked file, not in memory. */
static int
imap_spool_open(void *ctx)
{
	const struct imap_session *s = ctx;

	return maildir_spool_open(s->cfg->data_dir);
}

static void
imap_on_start(struct conn *c)
{
	struct imap_session *s = xcalloc(1, sizeof(*s));
	struct imap_server *srv = conn_listener_arg(c);
	struct imap_parser_limits lim;
	struct buf b;

	s->c = c;
	s->cfg = srv->cfg;
	s->state = IMAP_NOTAUTH;
	memset(&lim, 0, sizeof(lim));
	lim.max_line = 65536;
	lim.max_literal = s->cfg->max_message_size;
	lim.max_mem_literal = 64 * 1024;
	s->parser = imap_parser_new(&lim, imap_spool_open, s);
	conn_ctx_set(c, s);
	conn_set_timeout(c, IMAP_IDLE_TIMEOUT);
	buf_init(&b);
	imap_printf(s, "* OK [CAPABILITY %s] Facteur IMAP server ready",
	    imap_capabilities(s, &b));
	buf_deinit(&b);
}

static void
imap_on_input(struct conn *c)
{
	imap_process(conn_ctx(c));
}

static void
imap_on_drained(struct conn *c)
{
	struct imap_session *s = conn_ctx(c);

	if (s->fetch != NULL) {
		if (!s->fetch_running)
			imap_fetch_pump(s);
		return;
	}
	imap_process(s);
}

static void
imap_on_tls_ready(struct conn *c)
{
	struct imap_session *s = conn_ctx(c);

	log_info("session=%s event=starttls version=%s cipher=%s", conn_id(c),
	    conn_tls_version(c), conn_tls_cipher(c));
	imap_continue(s);
}

static void
imap_on_timeout(struct conn *c)
{
	struct imap_session *s = conn_ctx(c);

	imap_printf(s, "* BYE Autologout; idle for too long");
}

static void
imap_on_stop(struct conn *c)
{
	struct imap_session *s = conn_ctx(c);

	if (s->busy) {
		s->stop_requested = true;
		return;
	}
	imap_printf(s, "* BYE Server shutting down");
	conn_close(c);
}

static void
imap_on_closed(struct conn *c)
{
	struct imap_session *s = conn_ctx(c);

	if (s == NULL)
		return;
	if (s->sasl != NULL) {
		sasl_clear(s->sasl);
		free(s->sasl);
	}
	imap_fetch_free(&s->fetch);
	free(s->fetch_idx);
	free(s->fetch_seen);
	buf_deinit(&s->fetch_out);
	imap_unselect(s);
	free(s->done_line);
	imap_parser_free(&s->parser);
	/* Closing the index handle may write (a WAL checkpoint), but a
	 * session ends once; the loop can afford it. */
	store_mailbox_close(&s->mb);
	free(s);
	conn_ctx_set(c, NULL);
}

const struct conn_ops imap_conn_ops = {
	.start = imap_on_start,
	.input = imap_on_input,
	.tls_ready = imap_on_tls_ready,
	.timeout = imap_on_timeout,
	.stop = imap_on_stop,
	.drained = imap_on_drained,
	.closed = imap_on_closed,
};
