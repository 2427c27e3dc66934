#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "dns/dns.h"
#include "lib/buf.h"
#include "lib/log.h"
#include "net/worker.h"
#include "smtp/client.h"
#include "smtp/delivery.h"
#include "smtp/queue.h"
#include "store/maildir.h"

/* Due recipients read per runner pass. */
#define QUEUE_SCAN_MAX 1000

/* One delivery attempt: recipients of one message in one domain. */
struct queue_group {
	char id[DB_QUEUE_ID_MAX];
	char domain[ADDR_DOMAIN_MAX + 1];
	char sender[ADDR_MAX + 1];
	long long created;
	long long size;
	bool need_8bit, need_utf8;
	unsigned nrcpts;
	char rcpts[SMTP_CLIENT_MAX_RCPTS][ADDR_MAX + 1];
	int attempts[SMTP_CLIENT_MAX_RCPTS];
	struct queue_group *next;	/* in flight list */
};

static struct {
	const struct config *cfg;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool started, stopping, wake;
	struct worker_pool *pool;
	struct queue_group *inflight;
	unsigned ninflight;
} queue = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.cond = PTHREAD_COND_INITIALIZER,
};

static __thread struct dns_ctx *queue_dns;

int
queue_spool_path(const char *data_dir, const char *id, char *out,
    size_t outsize)
{
	return str_printf(out, outsize, "%s/queue/%s", data_dir, id) < 0 ?
	    -1 : 0;
}

static int
queue_write_all(int fd, const char *p, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int
queue_enqueue(struct db *db, const char *data_dir, const char *sender,
    const char *const *rcpts, unsigned nrcpts, const char *header,
    size_t header_len, int body_fd, uint64_t body_size, bool need_8bit,
    bool need_utf8, char *id_r, const char **error_r)
{
	char dir[4096], tmp[4096], path[4096], buf[65536];
	unsigned char rnd[8];
	uint64_t done = 0;
	int fd;

	delivery_random(rnd, sizeof(rnd));
	str_printf(id_r, DB_QUEUE_ID_MAX, "%llx%02x%02x%02x%02x%02x%02x%02x%02x",
	    (unsigned long long)time(NULL), rnd[0], rnd[1], rnd[2], rnd[3],
	    rnd[4], rnd[5], rnd[6], rnd[7]);
	if (str_printf(dir, sizeof(dir), "%s/queue", data_dir) < 0 ||
	    str_printf(tmp, sizeof(tmp), "%s/.%s.tmp", dir, id_r) < 0 ||
	    queue_spool_path(data_dir, id_r, path, sizeof(path)) < 0) {
		*error_r = "queue path too long";
		return -1;
	}
	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		*error_r = "cannot create the queue directory";
		return -1;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		*error_r = "cannot create the spool file";
		return -1;
	}
	if (queue_write_all(fd, header, header_len) < 0)
		goto fail;
	while (done < body_size) {
		size_t want = body_size - done < sizeof(buf) ?
		    (size_t)(body_size - done) : sizeof(buf);
		ssize_t n = pread(body_fd, buf, want, (off_t)done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0 || queue_write_all(fd, buf, (size_t)n) < 0)
			goto fail;
		done += (uint64_t)n;
	}
	/* Durable before the rows that point at it, and before the 250. */
	if (fsync(fd) < 0 || close(fd) < 0) {
		fd = -1;
		goto fail;
	}
	fd = -1;
	if (rename(tmp, path) < 0 || maildir_fsync_dir(dir) < 0)
		goto fail;
	if (db_queue_add(db, id_r, sender, (long long)(header_len + body_size),
	    need_8bit, need_utf8, rcpts, nrcpts, error_r) != DB_OK) {
		unlink(path);
		return -1;
	}
	log_info("event=queued id=%s from=<%s> rcpts=%u size=%llu", id_r,
	    sender, nrcpts, (unsigned long long)(header_len + body_size));
	queue_wake();
	return 0;
fail:
	*error_r = "cannot write the spool file";
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	unlink(path);
	return -1;
}

void
queue_wake(void)
{
	pthread_mutex_lock(&queue.lock);
	queue.wake = true;
	pthread_cond_signal(&queue.cond);
	pthread_mutex_unlock(&queue.lock);
}

/* ---- Bounces (RFC 3464) ---- */

struct queue_failed {
	struct buf report;	/* per-recipient DSN fields */
	struct buf text;	/* human-readable lines */
	unsigned count;
	char (*rcpts)[ADDR_MAX + 1];	/* the ones reported */
};

static int
queue_collect_failed(const struct db_queue_entry *e, void *ctx)
{
	struct queue_failed *f = ctx;
	const char *status = "5.0.0";
	char code[8];

	if (strcmp(e->status, "failed") != 0)
		return 0;
	/* An enhanced code at the start of the reply text, if any. */
	if (sscanf(e->last_error, "%*d %7[0-9.]", code) == 1 &&
	    (code[0] == '4' || code[0] == '5') && code[1] == '.')
		status = code;
	f->rcpts = xrealloc(f->rcpts, (f->count + 1) * sizeof(*f->rcpts));
	str_lcpy(f->rcpts[f->count], e->rcpt, sizeof(f->rcpts[0]));
	f->count++;
	buf_printf(&f->text, "<%s>: %s\n", e->rcpt, e->last_error);
	buf_printf(&f->report, "\nFinal-Recipient: rfc822; %s\n"
	    "Action: failed\nStatus: %s\nDiagnostic-Code: smtp; %s\n",
	    e->rcpt, status, e->last_error);
	return 0;
}

/* Copies the original header (up to the empty line) into b, bounded. */
static void
queue_copy_header(int fd, struct buf *b)
{
	char chunk[8192];
	ssize_t n = pread(fd, chunk, sizeof(chunk), 0);
	const char *end;

	if (n <= 0)
		return;
	end = memmem(chunk, (size_t)n, "\n\n", 2);
	buf_append(b, chunk, end != NULL ? (size_t)(end - chunk) + 1 :
	    (size_t)n);
}

/* One bounce at a time, so two groups of a message finishing together
 * do not both report the same failed recipients. */
static pthread_mutex_t queue_bounce_lock = PTHREAD_MUTEX_INITIALIZER;

static void queue_bounce_locked(struct db *db, const struct queue_group *g,
    int spool_fd, const struct queue_failed *f);

/* Reports the recipients that failed for good and were not reported yet,
 * right after the attempt (not when the whole message is done). */
static void
queue_bounce(struct db *db, const struct queue_group *g, int spool_fd)
{
	struct queue_failed f = { 0 };
	const char *error;

	buf_init(&f.report);
	buf_init(&f.text);
	pthread_mutex_lock(&queue_bounce_lock);
	if (db_queue_scan(db, g->id, 0, 0, queue_collect_failed, &f,
	    &error) != DB_OK)
		log_error("event=queue_scan_failed id=%s error=\"%s\"", g->id,
		    error);
	if (f.count > 0)
		queue_bounce_locked(db, g, spool_fd, &f);
	/* Only those reported: others may have failed meanwhile. */
	for (unsigned i = 0; i < f.count; i++) {
		if (db_queue_mark_bounced(db, g->id, f.rcpts[i],
		    &error) != DB_OK)
			log_error("event=queue_update_failed id=%s "
			    "error=\"%s\"", g->id, error);
	}
	pthread_mutex_unlock(&queue_bounce_lock);
	buf_deinit(&f.report);
	buf_deinit(&f.text);
	free(f.rcpts);
}

/* Delivers a bounce to the sender: locally when the sender is ours, else
 * through the queue with an empty reverse-path. */
static void
queue_bounce_locked(struct db *db, const struct queue_group *g,
    int spool_fd, const struct queue_failed *f)
{
	const struct config *cfg = queue.cfg;
	struct buf msg;
	char date[64], boundary[40], id[DB_QUEUE_ID_MAX];
	unsigned char rnd[8];
	const char *error, *rcpt = g->sender;
	struct db_rcpt *r;
	time_t now = time(NULL);
	struct tm tm;
	int fd;

	if (g->sender[0] == '\0') {
		/* RFC 5321 6.1: never answer a bounce with a bounce. */
		log_info("event=bounce_dropped id=%s reason=null_sender",
		    g->id);
		return;
	}
	delivery_random(rnd, sizeof(rnd));
	str_printf(boundary, sizeof(boundary), "%02x%02x%02x%02x%02x%02x%02x"
	    "%02x/%s", rnd[0], rnd[1], rnd[2], rnd[3], rnd[4], rnd[5], rnd[6],
	    rnd[7], "report");
	localtime_r(&now, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S %z", &tm);
	buf_init(&msg);
	buf_printf(&msg, "From: Mail Delivery System <MAILER-DAEMON@%s>\n"
	    "To: <%s>\nSubject: Undelivered Mail Returned to Sender\n"
	    "Date: %s\nMessage-ID: <%s.%02x%02x@%s>\n"
	    "Auto-Submitted: auto-replied\nMIME-Version: 1.0\n"
	    "Content-Type: multipart/report; report-type=delivery-status;\n"
	    "\tboundary=\"%s\"\n\nThis is a MIME-encapsulated message.\n\n"
	    "--%s\nContent-Type: text/plain; charset=us-ascii\n\n"
	    "This is the mail system at %s.\n\nYour message could not be "
	    "delivered to the following recipients:\n\n%s\n"
	    "--%s\nContent-Type: message/delivery-status\n\n"
	    "Reporting-MTA: dns; %s\n%s\n"
	    "--%s\nContent-Type: text/rfc822-headers\n\n",
	    cfg->hostname, g->sender, date, g->id, rnd[0], rnd[1],
	    cfg->hostname, boundary, boundary, cfg->hostname, f->text.data,
	    boundary, cfg->hostname, f->report.data, boundary);
	queue_copy_header(spool_fd, &msg);
	buf_printf(&msg, "\n--%s--\n", boundary);
	fd = maildir_spool_open(cfg->data_dir);
	if (fd < 0 || write(fd, msg.data, msg.len) != (ssize_t)msg.len) {
		log_error("event=bounce_failed id=%s error=\"cannot spool\"",
		    g->id);
		if (fd >= 0)
			close(fd);
		buf_deinit(&msg);
		return;
	}
	r = xmalloc(sizeof(*r));
	if (db_rcpt_resolve(db, g->sender, r, &error) == DB_OK &&
	    r->status == DB_RCPT_LOCAL && r->ntargets > 0) {
		struct delivery d = {
			.data_dir = cfg->data_dir, .body_fd = fd,
			.body_size = msg.len, .return_path = (char *)"",
			.received = (char *)"", .ntargets = r->ntargets,
			.targets = r->targets,
		};

		for (size_t i = 0; i < msg.len; i++)
			d.body_lines += msg.data[i] == '\n';
		delivery_run(&d);
		log_info("event=bounce id=%s to=<%s> delivered=%s", g->id,
		    g->sender, d.failed ? "no" : "local");
	} else if (queue_enqueue(db, cfg->data_dir, "", &rcpt, 1, "", 0, fd,
	    msg.len, false, false, id, &error) == 0) {
		log_info("event=bounce id=%s to=<%s> queued=%s", g->id,
		    g->sender, id);
	} else {
		log_error("event=bounce_failed id=%s error=\"%s\"", g->id,
		    error);
	}
	free(r);
	close(fd);
	buf_deinit(&msg);
}

/* ---- Delivery attempts ---- */

static unsigned
queue_backoff(int attempts)
{
	unsigned delay = queue.cfg->queue_retry_initial;

	for (int i = 1; i < attempts && delay < queue.cfg->queue_retry_max;
	    i++)
		delay *= 2;
	return delay < queue.cfg->queue_retry_max ? delay :
	    queue.cfg->queue_retry_max;
}

/* Records one recipient's outcome. */
static void
queue_record(struct db *db, const struct queue_group *g, unsigned i,
    int code, const char *text, time_t now)
{
	const char *status = "pending", *error;
	int attempts = g->attempts[i] + 1;
	long long next = now + queue_backoff(attempts);
	char reason[600];

	if (code >= 200 && code < 300) {
		status = "sent";
	} else if (code >= 500) {
		status = "failed";
	} else if (now - g->created >= queue.cfg->queue_lifetime) {
		status = "failed";
		str_printf(reason, sizeof(reason), "4.4.7 delivery time "
		    "expired; last error: %s", text);
		text = reason;
	}
	if (db_queue_set(db, g->id, g->rcpts[i], status, attempts, next, text,
	    &error) != DB_OK)
		log_error("event=queue_update_failed id=%s error=\"%s\"",
		    g->id, error);
	log_info("event=delivery id=%s to=<%s> status=%s attempt=%d "
	    "reply=\"%.200s\"", g->id, g->rcpts[i], status, attempts, text);
}

/* The relay host's addresses (getaddrinfo: it is usually one name in
 * /etc/hosts or the system's DNS). DNS_OK or DNS_TEMPFAIL. */
static enum dns_result
queue_relay_targets(const char *host, struct dns_target *targets,
    unsigned *count_r, const char **error_r)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res, *ai;
	unsigned n = 0;
	int rc = getaddrinfo(host, NULL, &hints, &res);

	if (rc != 0) {
		*error_r = gai_strerror(rc);
		return DNS_TEMPFAIL;
	}
	for (ai = res; ai != NULL && n < DNS_MAX_TARGETS; ai = ai->ai_next) {
		struct dns_target *t = &targets[n];
		const void *a;

		if (ai->ai_family == AF_INET)
			a = &((struct sockaddr_in *)ai->ai_addr)->sin_addr;
		else if (ai->ai_family == AF_INET6)
			a = &((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr;
		else
			continue;
		str_lcpy(t->host, host, sizeof(t->host));
		t->family = ai->ai_family;
		if (inet_ntop(ai->ai_family, a, t->addr_text,
		    sizeof(t->addr_text)) != NULL)
			n++;
	}
	freeaddrinfo(res);
	*count_r = n;
	if (n == 0) {
		*error_r = "relay host has no address";
		return DNS_TEMPFAIL;
	}
	return DNS_OK;
}

static void
queue_attempt(struct queue_group *g, struct db *db, int spool_fd)
{
	const struct config *cfg = queue.cfg;
	struct dns_target *targets = xcalloc(DNS_MAX_TARGETS,
	    sizeof(*targets));
	struct smtp_client_result *res = xcalloc(1, sizeof(*res));
	const char *rcpts[SMTP_CLIENT_MAX_RCPTS], *error = NULL;
	char text[600];
	unsigned ntargets = 0;
	time_t now = time(NULL);
	enum dns_result dr;
	int code = 0;
	bool relay = cfg->relay_host[0] != '\0';

	if (relay) {
		dr = queue_relay_targets(cfg->relay_host, targets, &ntargets,
		    &error);
	} else {
		if (queue_dns == NULL)
			queue_dns = dns_ctx_new(cfg->resolver, &error);
		dr = queue_dns == NULL ? DNS_TEMPFAIL :
		    dns_mail_targets(queue_dns, g->domain, targets, &ntargets,
		    &error);
	}
	if (dr != DNS_OK) {
		code = dr == DNS_TEMPFAIL ? 451 : 550;
		str_printf(text, sizeof(text), "%d %s DNS lookup for %s: %s",
		    code, dr == DNS_TEMPFAIL ? "4.4.3" : dr == DNS_NULL_MX ?
		    "5.1.10" : "5.1.2", g->domain,
		    error != NULL ? error : "failed");
		for (unsigned i = 0; i < g->nrcpts; i++)
			queue_record(db, g, i, code, text, now);
		goto out;
	}
	for (unsigned i = 0; i < g->nrcpts; i++)
		rcpts[i] = g->rcpts[i];
	for (unsigned t = 0; t < ntargets; t++) {
		struct smtp_client_req req = {
			.helo_name = cfg->hostname,
			.addr_text = targets[t].addr_text,
			.port = relay ? cfg->relay_port : cfg->remote_smtp_port,
			.mail_from = g->sender,
			.rcpts = rcpts,
			.nrcpts = g->nrcpts,
			.body_fd = spool_fd,
			.body_size = (uint64_t)g->size,
			.need_8bitmime = g->need_8bit,
			.need_smtputf8 = g->need_utf8,
			.timeout = cfg->remote_timeout,
			/* A relay host: TLS as configured, credentials, and
			 * its certificate checked against its name. */
			.require_tls = relay &&
			    strcmp(cfg->relay_tls, "none") != 0,
			.implicit_tls = relay &&
			    strcmp(cfg->relay_tls, "tls") == 0,
			.auth_user = relay && cfg->relay_user[0] != '\0' ?
			    cfg->relay_user : NULL,
			.auth_password = relay && cfg->relay_user[0] != '\0' ?
			    cfg->relay_password : NULL,
			.tls_verify_name = relay && cfg->relay_verify ?
			    cfg->relay_host : NULL,
		};

		memset(res, 0, sizeof(*res));
		smtp_client_deliver(&req, res);
		/* Try the next address only when this one did not answer
		 * or failed temporarily as a whole. */
		if (res->connected && (res->code == 0 || res->code >= 500 ||
		    res->code < 400))
			break;
		if (!res->connected && t + 1 < ntargets)
			log_info("event=delivery_deferred id=%s host=%s "
			    "reason=\"%.200s\"", g->id, targets[t].addr_text,
			    res->text);
	}
	for (unsigned i = 0; i < g->nrcpts; i++) {
		const struct smtp_client_rcpt_result *rr = &res->rcpt[i];

		/* "CODE text": the code leads, as in a DSN's
		 * Diagnostic-Code (RFC 3464 2.3.6). */
		if (rr->code == 0)
			str_printf(text, sizeof(text), "451 4.4.1 %s",
			    rr->text[0] != '\0' ? rr->text :
			    "connection failed");
		else
			str_printf(text, sizeof(text), "%d %s", rr->code,
			    rr->text);
		queue_record(db, g, i, rr->code == 0 ? 451 : rr->code, text,
		    now);
	}
	if (res->tls_version[0] != '\0')
		log_info("event=delivery_tls id=%s version=%s cipher=%s",
		    g->id, res->tls_version, res->tls_cipher);
out:
	free(res);
	free(targets);
}

/* Removes a message whose recipients are all done. */
static void
queue_finish(struct db *db, const struct queue_group *g)
{
	char path[4096];
	long long pending = 1;
	const char *error;

	if (db_queue_pending(db, g->id, &pending, &error) != DB_OK ||
	    pending > 0)
		return;
	if (db_queue_delete(db, g->id, &error) == DB_OK &&
	    queue_spool_path(queue.cfg->data_dir, g->id, path,
	    sizeof(path)) == 0)
		unlink(path);
	log_info("event=queue_done id=%s", g->id);
}

static void
queue_job(void *arg)
{
	struct queue_group *g = arg, **pp;
	const char *error;
	struct db *db = db_thread_get(&error);
	char path[4096];
	bool others = false;
	int fd = -1;

	if (db != NULL && queue_spool_path(queue.cfg->data_dir, g->id, path,
	    sizeof(path)) == 0)
		fd = open(path, O_RDONLY | O_CLOEXEC);
	if (db == NULL || fd < 0) {
		log_error("event=queue_attempt_failed id=%s error=\"%s\"",
		    g->id, db == NULL ? error : "spool file missing");
	} else {
		queue_attempt(g, db, fd);
		queue_bounce(db, g, fd);
	}
	pthread_mutex_lock(&queue.lock);
	for (pp = &queue.inflight; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == g) {
			*pp = g->next;
			break;
		}
	}
	queue.ninflight--;
	for (struct queue_group *o = queue.inflight; o != NULL; o = o->next)
		others = others || strcmp(o->id, g->id) == 0;
	pthread_cond_signal(&queue.cond);
	pthread_mutex_unlock(&queue.lock);
	/* The last group of a message in flight cleans up after it. */
	if (db != NULL && fd >= 0 && !others)
		queue_finish(db, g);
	if (fd >= 0)
		close(fd);
	free(g);
}

/* ---- The runner ---- */

struct queue_scan {
	struct queue_group *groups;	/* built this pass */
};

static int
queue_scan_cb(const struct db_queue_entry *e, void *ctx)
{
	struct queue_scan *sc = ctx;
	struct queue_group *g;

	for (g = sc->groups; g != NULL; g = g->next) {
		if (strcmp(g->id, e->id) == 0 &&
		    strcmp(g->domain, e->domain) == 0)
			break;
	}
	if (g == NULL) {
		g = xcalloc(1, sizeof(*g));
		str_lcpy(g->id, e->id, sizeof(g->id));
		str_lcpy(g->domain, e->domain, sizeof(g->domain));
		str_lcpy(g->sender, e->sender, sizeof(g->sender));
		g->created = e->created;
		g->size = e->size;
		g->need_8bit = e->need_8bit;
		g->need_utf8 = e->need_utf8;
		g->next = sc->groups;
		sc->groups = g;
	}
	if (g->nrcpts < SMTP_CLIENT_MAX_RCPTS) {
		str_lcpy(g->rcpts[g->nrcpts], e->rcpt, sizeof(g->rcpts[0]));
		g->attempts[g->nrcpts] = e->attempts;
		g->nrcpts++;
	}
	return 0;
}

/* Under the lock: may g start now? */
static bool
queue_may_start(const struct queue_group *g)
{
	unsigned same_domain = 0;

	if (queue.ninflight >= queue.cfg->queue_threads)
		return false;
	for (const struct queue_group *o = queue.inflight; o != NULL;
	    o = o->next) {
		if (strcmp(o->id, g->id) == 0 &&
		    strcmp(o->domain, g->domain) == 0)
			return false;
		same_domain += strcmp(o->domain, g->domain) == 0;
	}
	return same_domain < queue.cfg->queue_domain_concurrency;
}

static void *
queue_runner(void *arg)
{
	const char *error;
	struct db *db = db_thread_get(&error);

	if (db == NULL)
		log_error("event=queue_runner_failed error=\"%s\"", error);
	pthread_mutex_lock(&queue.lock);
	while (!queue.stopping) {
		struct queue_scan sc = { NULL };
		struct timespec ts;

		queue.wake = false;
		pthread_mutex_unlock(&queue.lock);
		if (db != NULL && db_queue_scan(db, NULL, (long long)time(NULL),
		    QUEUE_SCAN_MAX, queue_scan_cb, &sc, &error) != DB_OK)
			log_error("event=queue_scan_failed error=\"%s\"",
			    error);
		pthread_mutex_lock(&queue.lock);
		while (sc.groups != NULL) {
			struct queue_group *g = sc.groups;

			sc.groups = g->next;
			if (queue.stopping || !queue_may_start(g)) {
				free(g);
				continue;
			}
			g->next = queue.inflight;
			queue.inflight = g;
			queue.ninflight++;
			worker_submit(queue.pool, queue_job, g);
		}
		if (queue.wake)
			continue;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += 1;
		pthread_cond_timedwait(&queue.cond, &queue.lock, &ts);
	}
	pthread_mutex_unlock(&queue.lock);
	return NULL;
}

void
queue_start(const struct config *cfg)
{
	queue.cfg = cfg;
	queue.pool = worker_pool_new(cfg->queue_threads);
	if (pthread_create(&queue.thread, NULL, queue_runner, NULL) != 0)
		fatal("cannot start the queue runner");
	queue.started = true;
}

void
queue_stop(void)
{
	if (!queue.started)
		return;
	pthread_mutex_lock(&queue.lock);
	queue.stopping = true;
	pthread_cond_broadcast(&queue.cond);
	pthread_mutex_unlock(&queue.lock);
	pthread_join(queue.thread, NULL);
	/* Attempts under way finish (bounded by remote_timeout). */
	worker_pool_free(&queue.pool);
	queue.started = false;
}
