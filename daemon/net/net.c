/*
 * net.c: event loops, listeners, connections, TLS and job completion.
 *
 * Threads: the main thread runs the main event base (listeners, signals,
 * the shutdown timer). Each accepted socket is handed to one of the loop
 * threads, which owns the connection for its whole life. Blocking work
 * goes to the worker pool; its completion is posted back to the owning
 * loop with event_base_once (thread-safe once evthread_use_pthreads ran).
 *
 * A connection is torn down only from a fresh event callback (never inside
 * a protocol callback), and freed only when no job is pending.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <event2/thread.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>

#include "lib/log.h"
#include "net/net.h"
#include "net/tls.h"
#include "net/worker.h"

/* Input buffered per connection before reading stops (backpressure). */
#define NET_INPUT_HIGH (256 * 1024)
/* The "drained" callback fires when output falls to this size. */
#define NET_OUTPUT_LOW (64 * 1024)
/* How long a graceful stop waits for sessions and deliveries. */
#define NET_STOP_GRACE_SEC 30
#define NET_IP_BUCKETS 1024

struct net_ip_count {
	char ip[INET6_ADDRSTRLEN];
	unsigned count;
	struct net_ip_count *next;
};

struct net_loop {
	struct net *net;
	struct event_base *base;
	pthread_t thread;
	struct conn *conns;	/* live connections of this loop */
};

struct net_listener {
	struct net_listener_conf conf;
	struct net *net;
	struct evconnlistener *evl;
	struct net_listener *next;
};

struct net {
	struct net_conf conf;
	struct event_base *main_base;
	struct net_loop *loops;
	unsigned nloops;
	unsigned next_loop;
	struct worker_pool *workers;
	struct net_listener *listeners;
	struct event *ev_term, *ev_int, *ev_hup, *ev_stop_timer;
	time_t stop_deadline;

	pthread_mutex_t lock;	/* guards what follows */
	SSL_CTX *ssl_ctx;
	void (*reload_fn)(void *arg);	/* also run at SIGHUP */
	void *reload_arg;
	unsigned nconns;	/* connections holding a socket */
	unsigned nalive;	/* connection structs not yet freed */
	struct net_ip_count *ip_buckets[NET_IP_BUCKETS];
	bool stopping;
};

struct conn {
	struct net *net;
	struct net_loop *loop;
	struct net_listener *listener;
	struct bufferevent *bev;
	evutil_socket_t fd;
	struct event *ev_deferred;
	struct sockaddr_storage peer;
	char peer_str[INET6_ADDRSTRLEN];
	char id[13];
	void *ctx;
	unsigned timeout;
	unsigned jobs;
	bool started;		/* start callback ran */
	bool tls;		/* TLS established (or handshaking) */
	bool starttls;		/* a STARTTLS handshake is under way */
	bool tls_switch;	/* STARTTLS: switch once output is sent */
	bool paused;
	bool closing;		/* no more input; close once output is sent */
	bool teardown_wanted;
	bool torn_down;		/* socket and bufferevent are gone */
	bool counted;		/* holds a slot in nconns and the IP table */
	struct conn *prev, *next;
};

struct net_job {
	struct conn *c;
	void (*work)(void *arg);
	void (*done)(struct conn *c, void *arg);
	void *arg;
};

static void conn_teardown(struct conn *c);
static void conn_schedule(struct conn *c);
static void conn_tls_switch(struct conn *c);

/* ---- Per-IP counting (under net->lock) ---- */

static unsigned
net_ip_hash(const char *ip)
{
	unsigned h = 5381;

	for (; *ip != '\0'; ip++)
		h = h * 33 + (unsigned char)*ip;
	return h % NET_IP_BUCKETS;
}

static struct net_ip_count **
net_ip_find(struct net *net, const char *ip)
{
	struct net_ip_count **pp = &net->ip_buckets[net_ip_hash(ip)];

	while (*pp != NULL && strcmp((*pp)->ip, ip) != 0)
		pp = &(*pp)->next;
	return pp;
}

/* Takes a connection slot for ip; false when a limit says no. */
static bool
net_slot_take(struct net *net, const char *ip)
{
	struct net_ip_count **pp, *e;
	bool ok = false;

	pthread_mutex_lock(&net->lock);
	if (net->stopping || net->nconns >= net->conf.max_connections)
		goto out;
	pp = net_ip_find(net, ip);
	e = *pp;
	if (e != NULL && e->count >= net->conf.max_connections_per_ip)
		goto out;
	if (e == NULL) {
		e = xcalloc(1, sizeof(*e));
		str_lcpy(e->ip, ip, sizeof(e->ip));
		*pp = e;
	}
	e->count++;
	net->nconns++;
	net->nalive++;
	ok = true;
out:
	pthread_mutex_unlock(&net->lock);
	return ok;
}

static void
net_slot_release(struct net *net, const char *ip)
{
	struct net_ip_count **pp, *e;

	pthread_mutex_lock(&net->lock);
	pp = net_ip_find(net, ip);
	e = *pp;
	if (e != NULL && --e->count == 0) {
		*pp = e->next;
		free(e);
	}
	net->nconns--;
	pthread_mutex_unlock(&net->lock);
}

static SSL *
net_ssl_new(struct net *net)
{
	SSL *ssl;

	pthread_mutex_lock(&net->lock);
	ssl = SSL_new(net->ssl_ctx);
	pthread_mutex_unlock(&net->lock);
	return ssl;
}

/* ---- Connection events ---- */

static void
conn_readcb(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;
	int one = 1;

	/*
	 * Acknowledge at once (Linux turns quick ACKs off again by itself):
	 * a client whose last small write (an IMAP literal's CRLF, a DATA
	 * terminator) waits on Nagle for our ACK would else wait for the
	 * delayed-ACK timer, some 40 ms per command.
	 */
	setsockopt(c->fd, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof(one));
	if (c->paused || c->closing || !c->started)
		return;
	c->listener->conf.ops->input(c);
}

static void
conn_writecb(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;

	if (c->tls_switch) {
		if (evbuffer_get_length(bufferevent_get_output(bev)) == 0)
			conn_schedule(c);
		return;
	}
	if (c->closing) {
		if (evbuffer_get_length(bufferevent_get_output(bev)) == 0) {
			c->teardown_wanted = true;
			conn_schedule(c);
		}
		return;
	}
	if (c->started && c->listener->conf.ops->drained != NULL)
		c->listener->conf.ops->drained(c);
}

static void
conn_eventcb(struct bufferevent *bev, short what, void *arg)
{
	struct conn *c = arg;
	const struct conn_ops *ops = c->listener->conf.ops;

	if (what & BEV_EVENT_CONNECTED) {
		/* The TLS handshake finished. */
		if (!c->started) {
			c->started = true;
			ops->start(c);
		} else if (c->starttls) {
			c->starttls = false;
			ops->tls_ready(c);
		}
		return;
	}
	if ((what & BEV_EVENT_TIMEOUT) && !c->closing &&
	    (what & BEV_EVENT_READING)) {
		log_info("session=%s event=timeout", c->id);
		if (c->started && ops->timeout != NULL)
			ops->timeout(c);
		conn_close(c);
		/* The peer may not be reading either: bound the goodbye. */
		bufferevent_enable(c->bev, EV_WRITE);
		return;
	}
	if (what & BEV_EVENT_ERROR) {
		unsigned long e;
		char ebuf[256];

		while ((e = bufferevent_get_openssl_error(bev)) != 0) {
			ERR_error_string_n(e, ebuf, sizeof(ebuf));
			log_info("session=%s event=tls_error error=\"%s\"",
			    c->id, ebuf);
		}
	}
	/* EOF, error or write timeout: the peer is gone. */
	c->closing = true;
	c->teardown_wanted = true;
	conn_schedule(c);
}

static void
conn_deferredcb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;

	if (c->teardown_wanted) {
		conn_teardown(c);
		return;
	}
	if (c->tls_switch) {
		if (evbuffer_get_length(bufferevent_get_output(c->bev)) == 0)
			conn_tls_switch(c);
		return;
	}
	if (!c->paused && !c->closing && c->started && c->bev != NULL &&
	    evbuffer_get_length(bufferevent_get_input(c->bev)) > 0)
		c->listener->conf.ops->input(c);
}

static void
conn_schedule(struct conn *c)
{
	event_active(c->ev_deferred, EV_TIMEOUT, 0);
}

static void
conn_bev_setup(struct conn *c)
{
	struct timeval tv = { .tv_sec = c->timeout, .tv_usec = 0 };

	bufferevent_setcb(c->bev, conn_readcb, conn_writecb, conn_eventcb, c);
	bufferevent_setwatermark(c->bev, EV_READ, 0, NET_INPUT_HIGH);
	bufferevent_setwatermark(c->bev, EV_WRITE, NET_OUTPUT_LOW, 0);
	bufferevent_set_timeouts(c->bev, c->timeout ? &tv : NULL,
	    c->timeout ? &tv : NULL);
	bufferevent_enable(c->bev, c->paused ? EV_WRITE : EV_READ | EV_WRITE);
}

static void
conn_free(struct conn *c)
{
	struct net *net = c->net;

	if (c->listener->conf.ops->closed != NULL)
		c->listener->conf.ops->closed(c);
	event_free(c->ev_deferred);
	free(c);
	pthread_mutex_lock(&net->lock);
	net->nalive--;
	pthread_mutex_unlock(&net->lock);
}

/* A TLS connection ends with a close_notify alert (RFC 8446 6.1), sent
 * once without waiting for the peer's; without it, clients see a
 * truncation ("unexpected eof"). */
static void
conn_tls_shutdown(struct conn *c)
{
	SSL *ssl;

	if (!c->tls || c->bev == NULL)
		return;
	ssl = bufferevent_openssl_get_ssl(c->bev);
	if (ssl == NULL || !SSL_is_init_finished(ssl))
		return;
	(void)SSL_shutdown(ssl);
	ERR_clear_error();
}

static void
conn_teardown(struct conn *c)
{
	if (c->torn_down)
		return;
	c->torn_down = true;
	c->closing = true;
	if (c->bev != NULL) {
		conn_tls_shutdown(c);
		bufferevent_free(c->bev);	/* TLS ones close the socket */
		c->bev = NULL;
		if (!c->tls)
			evutil_closesocket(c->fd);
	}
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		c->loop->conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	if (c->counted) {
		net_slot_release(c->net, c->peer_str);
		c->counted = false;
	}
	log_debug("session=%s event=disconnect", c->id);
	if (c->jobs == 0)
		conn_free(c);
}

/* Runs on the loop thread that owns the new connection. */
static void
conn_setupcb(evutil_socket_t unused, short what, void *arg)
{
	struct conn *c = arg;
	struct event_base *base = c->loop->base;

	c->ev_deferred = event_new(base, -1, 0, conn_deferredcb, c);
	c->next = c->loop->conns;
	if (c->next != NULL)
		c->next->prev = c;
	c->loop->conns = c;
	if (c->listener->conf.implicit_tls) {
		SSL *ssl = net_ssl_new(c->net);

		c->tls = true;
		c->bev = ssl == NULL ? NULL :
		    bufferevent_openssl_socket_new(base, c->fd, ssl,
		    BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
		if (c->bev == NULL && ssl != NULL)
			SSL_free(ssl);
	} else {
		/* Not CLOSE_ON_FREE: STARTTLS hands the socket on. */
		c->bev = bufferevent_socket_new(base, c->fd, 0);
	}
	if (c->bev == NULL) {
		evutil_closesocket(c->fd);
		c->fd = -1;
		c->teardown_wanted = true;
		conn_schedule(c);
		return;
	}
	if (c->tls)
		bufferevent_openssl_set_allow_dirty_shutdown(c->bev, 1);
	conn_bev_setup(c);
	if (!c->tls) {
		c->started = true;
		c->listener->conf.ops->start(c);
	}
}

static void
net_acceptcb(struct evconnlistener *evl, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	struct net_listener *l = arg;
	struct net *net = l->net;
	struct conn *c;
	unsigned char rnd[6];
	char ip[INET6_ADDRSTRLEN] = "?";

	if (sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((struct sockaddr_in *)sa)->sin_addr, ip,
		    sizeof(ip));
	else if (sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)sa)->sin6_addr,
		    ip, sizeof(ip));
	if (!net_slot_take(net, ip)) {
		log_warn("service=%s client=%s event=refused "
		    "reason=connection_limit", l->conf.name, ip);
		if (!l->conf.implicit_tls && l->conf.busy_reply != NULL) {
			ssize_t n = write(fd, l->conf.busy_reply,
			    strlen(l->conf.busy_reply));
			(void)n;
		}
		evutil_closesocket(fd);
		return;
	}
	evutil_make_socket_nonblocking(fd);
	/* Replies are written whole; Nagle would hold a reply's last piece
	 * (a FETCH's tagged line) for the client's delayed ACK. */
	{
		int one = 1;

		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	}
	c = xcalloc(1, sizeof(*c));
	c->net = net;
	c->listener = l;
	c->fd = fd;
	c->counted = true;
	c->timeout = net->conf.timeout_idle;
	memcpy(&c->peer, sa, (size_t)salen < sizeof(c->peer) ?
	    (size_t)salen : sizeof(c->peer));
	str_lcpy(c->peer_str, ip, sizeof(c->peer_str));
	RAND_bytes(rnd, sizeof(rnd));
	for (size_t i = 0; i < sizeof(rnd); i++) {
		static const char hex[] = "0123456789abcdef";

		c->id[i * 2] = hex[rnd[i] >> 4];
		c->id[i * 2 + 1] = hex[rnd[i] & 0xf];
	}
	c->id[12] = '\0';
	c->loop = &net->loops[net->next_loop++ % net->nloops];
	log_info("session=%s service=%s client=%s event=connect", c->id,
	    l->conf.name, ip);
	event_base_once(c->loop->base, -1, EV_TIMEOUT, conn_setupcb, c, NULL);
}

/* ---- Connection API ---- */

const char *
conn_id(const struct conn *c)
{
	return c->id;
}

const char *
conn_peer(const struct conn *c)
{
	return c->peer_str;
}

const struct sockaddr *
conn_peer_sockaddr(const struct conn *c)
{
	return (const struct sockaddr *)&c->peer;
}

unsigned
conn_local_port(const struct conn *c)
{
	return c->listener->conf.port;
}

void
conn_ctx_set(struct conn *c, void *ctx)
{
	c->ctx = ctx;
}

void *
conn_ctx(const struct conn *c)
{
	return c->ctx;
}

void *
conn_listener_arg(const struct conn *c)
{
	return c->listener->conf.arg;
}

size_t
conn_peek(struct conn *c, const char **data_r)
{
	struct evbuffer_iovec v;

	if (c->bev == NULL || c->closing)
		return 0;
	if (evbuffer_peek(bufferevent_get_input(c->bev), -1, NULL, &v, 1) < 1)
		return 0;
	*data_r = v.iov_base;
	return v.iov_len;
}

void
conn_consume(struct conn *c, size_t n)
{
	if (c->bev != NULL)
		evbuffer_drain(bufferevent_get_input(c->bev), n);
}

size_t
conn_input_len(const struct conn *c)
{
	if (c->bev == NULL)
		return 0;
	return evbuffer_get_length(bufferevent_get_input(c->bev));
}

void
conn_write(struct conn *c, const void *data, size_t len)
{
	if (c->bev == NULL || c->torn_down)
		return;
	bufferevent_write(c->bev, data, len);
}

void
conn_printf(struct conn *c, const char *fmt, ...)
{
	va_list ap;

	if (c->bev == NULL || c->torn_down)
		return;
	va_start(ap, fmt);
	evbuffer_add_vprintf(bufferevent_get_output(c->bev), fmt, ap);
	va_end(ap);
}

size_t
conn_output_len(const struct conn *c)
{
	if (c->bev == NULL)
		return 0;
	return evbuffer_get_length(bufferevent_get_output(c->bev));
}

void
conn_pause(struct conn *c)
{
	c->paused = true;
	if (c->bev != NULL)
		bufferevent_disable(c->bev, EV_READ);
}

void
conn_resume(struct conn *c)
{
	c->paused = false;
	if (c->bev != NULL && !c->closing) {
		bufferevent_enable(c->bev, EV_READ);
		conn_schedule(c);
	}
}

void
conn_yield(struct conn *c)
{
	conn_schedule(c);
}

void
conn_set_timeout(struct conn *c, unsigned seconds)
{
	struct timeval tv = { .tv_sec = seconds, .tv_usec = 0 };

	c->timeout = seconds;
	if (c->bev != NULL)
		bufferevent_set_timeouts(c->bev, seconds ? &tv : NULL,
		    seconds ? &tv : NULL);
}

void
conn_close(struct conn *c)
{
	if (c->closing)
		return;
	c->closing = true;
	/* The session is over: its slot is free for the client's next
	 * connection even while the last reply is still being sent. */
	if (c->counted) {
		net_slot_release(c->net, c->peer_str);
		c->counted = false;
	}
	if (c->bev == NULL) {
		c->teardown_wanted = true;
		conn_schedule(c);
		return;
	}
	bufferevent_disable(c->bev, EV_READ);
	if (evbuffer_get_length(bufferevent_get_output(c->bev)) == 0) {
		c->teardown_wanted = true;
		conn_schedule(c);
	} else {
		/* writecb fires when everything is sent */
		bufferevent_setwatermark(c->bev, EV_WRITE, 0, 0);
	}
}

bool
conn_is_closing(const struct conn *c)
{
	return c->closing || c->torn_down;
}

/* The plaintext reply to STARTTLS has been sent: the socket changes
 * hands to a TLS bufferevent (the plaintext one never closes the fd). */
static void
conn_tls_switch(struct conn *c)
{
	SSL *ssl;

	c->tls_switch = false;
	bufferevent_free(c->bev);
	c->bev = NULL;
	ssl = net_ssl_new(c->net);
	if (ssl != NULL)
		c->bev = bufferevent_openssl_socket_new(c->loop->base, c->fd,
		    ssl, BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
	if (c->bev == NULL) {
		if (ssl != NULL)
			SSL_free(ssl);
		evutil_closesocket(c->fd);
		c->closing = true;
		c->teardown_wanted = true;
		conn_schedule(c);
		return;
	}
	c->tls = true;
	c->starttls = true;
	bufferevent_openssl_set_allow_dirty_shutdown(c->bev, 1);
	conn_bev_setup(c);
}

size_t
conn_starttls(struct conn *c)
{
	struct evbuffer *in;
	size_t dropped;

	if (c->bev == NULL || c->tls || c->closing)
		return 0;
	/* CVE-2011-0411: nothing the client sent after the command may be
	 * read as if it came over TLS. */
	in = bufferevent_get_input(c->bev);
	dropped = evbuffer_get_length(in);
	evbuffer_drain(in, dropped);
	bufferevent_disable(c->bev, EV_READ);
	/* Switch once the reply is out (writecb or the deferred event). */
	c->tls_switch = true;
	bufferevent_setwatermark(c->bev, EV_WRITE, 0, 0);
	conn_schedule(c);
	return dropped;
}

bool
conn_is_tls(const struct conn *c)
{
	return c->tls && !c->starttls;
}

static SSL *
conn_ssl(const struct conn *c)
{
	if (!c->tls || c->bev == NULL)
		return NULL;
	return bufferevent_openssl_get_ssl(c->bev);
}

const char *
conn_tls_version(const struct conn *c)
{
	SSL *ssl = conn_ssl(c);

	return ssl == NULL ? NULL : SSL_get_version(ssl);
}

const char *
conn_tls_cipher(const struct conn *c)
{
	SSL *ssl = conn_ssl(c);

	return ssl == NULL ? NULL : SSL_get_cipher_name(ssl);
}

/* ---- Jobs ---- */

static void
net_job_donecb(evutil_socket_t unused, short what, void *arg)
{
	struct net_job *job = arg;
	struct conn *c = job->c;

	job->done(c, job->arg);
	free(job);
	c->jobs--;
	if (c->torn_down && c->jobs == 0)
		conn_free(c);
}

static void
net_job_work(void *arg)
{
	struct net_job *job = arg;

	job->work(job->arg);
	event_base_once(job->c->loop->base, -1, EV_TIMEOUT, net_job_donecb,
	    job, NULL);
}

void
conn_job(struct conn *c, void (*work)(void *arg),
    void (*done)(struct conn *c, void *arg), void *arg)
{
	struct net_job *job = xmalloc(sizeof(*job));

	job->c = c;
	job->work = work;
	job->done = done;
	job->arg = arg;
	c->jobs++;
	worker_submit(c->net->workers, net_job_work, job);
}

void
conn_timer(struct conn *c, unsigned ms,
    void (*cb)(struct conn *c, void *arg), void *arg)
{
	struct net_job *job = xcalloc(1, sizeof(*job));
	struct timeval tv = { .tv_sec = ms / 1000,
	    .tv_usec = (ms % 1000) * 1000 };

	job->c = c;
	job->done = cb;
	job->arg = arg;
	c->jobs++;
	event_base_once(c->loop->base, -1, EV_TIMEOUT, net_job_donecb, job,
	    &tv);
}

/* ---- Server ---- */

static void *
net_loop_main(void *arg)
{
	struct net_loop *loop = arg;

	event_base_loop(loop->base, EVLOOP_NO_EXIT_ON_EMPTY);
	return NULL;
}

struct net *
net_new(const struct net_conf *conf, const char **error_r)
{
	struct net *net;

	if (evthread_use_pthreads() != 0) {
		*error_r = "libevent has no thread support";
		return NULL;
	}
	net = xcalloc(1, sizeof(*net));
	net->conf = *conf;
	if (net->conf.loop_threads == 0)
		net->conf.loop_threads = 1;
	pthread_mutex_init(&net->lock, NULL);
	net->ssl_ctx = tls_ctx_new(conf->tls_cert, conf->tls_key, error_r);
	if (net->ssl_ctx == NULL) {
		free(net);
		return NULL;
	}
	net->main_base = event_base_new();
	if (net->main_base == NULL)
		fatal("cannot create the event loop");
	net->nloops = net->conf.loop_threads;
	net->loops = xcalloc(net->nloops, sizeof(*net->loops));
	for (unsigned i = 0; i < net->nloops; i++) {
		net->loops[i].net = net;
		net->loops[i].base = event_base_new();
		if (net->loops[i].base == NULL)
			fatal("cannot create an event loop");
	}
	return net;
}

int
net_listen(struct net *net, const struct net_listener_conf *lc,
    char **error_r)
{
	struct sockaddr_storage ss;
	int sslen = sizeof(ss);
	struct net_listener *l;
	char spec[128];

	if (str_printf(spec, sizeof(spec), strchr(lc->address, ':') ?
	    "[%s]:%u" : "%s:%u", lc->address, lc->port) < 0 ||
	    evutil_parse_sockaddr_port(spec, (struct sockaddr *)&ss,
	    &sslen) != 0) {
		*error_r = xasprintf("%s: bad listen address %s",
		    lc->name, lc->address);
		return -1;
	}
	l = xcalloc(1, sizeof(*l));
	l->conf = *lc;
	l->net = net;
	l->evl = evconnlistener_new_bind(net->main_base, net_acceptcb, l,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC,
	    512, (struct sockaddr *)&ss, sslen);
	if (l->evl == NULL) {
		*error_r = xasprintf("%s: cannot listen on %s: %s", lc->name,
		    spec, strerror(errno));
		free(l);
		return -1;
	}
	l->next = net->listeners;
	net->listeners = l;
	log_info("service=%s event=listen address=%s tls=%s", lc->name, spec,
	    lc->implicit_tls ? "implicit" : "starttls");
	return 0;
}

static void
net_loop_stopcb(evutil_socket_t unused, short what, void *arg)
{
	struct net_loop *loop = arg;
	struct conn *c, *next;

	for (c = loop->conns; c != NULL; c = next) {
		next = c->next;
		if (c->closing)
			continue;
		if (c->started && c->listener->conf.ops->stop != NULL)
			c->listener->conf.ops->stop(c);
		else
			conn_close(c);
	}
}

static void
net_loop_exitcb(evutil_socket_t unused, short what, void *arg)
{
	struct net_loop *loop = arg;

	event_base_loopbreak(loop->base);
}

static void
net_stop_timercb(evutil_socket_t unused, short what, void *arg)
{
	struct net *net = arg;
	unsigned alive;

	pthread_mutex_lock(&net->lock);
	alive = net->nalive;
	pthread_mutex_unlock(&net->lock);
	if (alive > 0 && time(NULL) < net->stop_deadline)
		return;
	if (alive > 0)
		log_warn("event=stop_forced sessions=%u", alive);
	event_base_loopbreak(net->main_base);
}

static void
net_signalcb(evutil_socket_t sig, short what, void *arg)
{
	struct net *net = arg;
	struct net_listener *l;
	struct timeval tv = { .tv_sec = 0, .tv_usec = 100000 };

	if (sig == SIGHUP) {
		const char *error;
		SSL_CTX *ctx = tls_ctx_new(net->conf.tls_cert,
		    net->conf.tls_key, &error);

		if (ctx == NULL) {
			log_error("event=tls_reload result=failed error=\"%s\"",
			    error);
		} else {
			pthread_mutex_lock(&net->lock);
			SSL_CTX_free(net->ssl_ctx);
			net->ssl_ctx = ctx;
			pthread_mutex_unlock(&net->lock);
			log_info("event=tls_reload result=ok");
		}
		if (net->reload_fn != NULL)
			net->reload_fn(net->reload_arg);
		return;
	}
	pthread_mutex_lock(&net->lock);
	if (net->stopping) {
		pthread_mutex_unlock(&net->lock);
		return;
	}
	net->stopping = true;
	pthread_mutex_unlock(&net->lock);
	log_info("event=stopping signal=%d", (int)sig);
	for (l = net->listeners; l != NULL; l = l->next) {
		evconnlistener_free(l->evl);
		l->evl = NULL;
	}
	for (unsigned i = 0; i < net->nloops; i++)
		event_base_once(net->loops[i].base, -1, EV_TIMEOUT,
		    net_loop_stopcb, &net->loops[i], NULL);
	net->stop_deadline = time(NULL) + NET_STOP_GRACE_SEC;
	net->ev_stop_timer = event_new(net->main_base, -1, EV_PERSIST,
	    net_stop_timercb, net);
	event_add(net->ev_stop_timer, &tv);
}

int
net_run(struct net *net)
{
	net->workers = worker_pool_new(net->conf.worker_threads);
	for (unsigned i = 0; i < net->nloops; i++) {
		if (pthread_create(&net->loops[i].thread, NULL, net_loop_main,
		    &net->loops[i]) != 0)
			fatal("cannot start event loop thread");
	}
	net->ev_term = evsignal_new(net->main_base, SIGTERM, net_signalcb,
	    net);
	net->ev_int = evsignal_new(net->main_base, SIGINT, net_signalcb, net);
	net->ev_hup = evsignal_new(net->main_base, SIGHUP, net_signalcb, net);
	event_add(net->ev_term, NULL);
	event_add(net->ev_int, NULL);
	event_add(net->ev_hup, NULL);
	event_base_loop(net->main_base, EVLOOP_NO_EXIT_ON_EMPTY);
	/* Deliveries still running finish before the pool is freed. */
	worker_pool_free(&net->workers);
	for (unsigned i = 0; i < net->nloops; i++) {
		event_base_once(net->loops[i].base, -1, EV_TIMEOUT,
		    net_loop_exitcb, &net->loops[i], NULL);
		pthread_join(net->loops[i].thread, NULL);
	}
	log_info("event=stopped");
	return 0;
}

void
net_on_reload(struct net *net, void (*fn)(void *arg), void *arg)
{
	net->reload_fn = fn;
	net->reload_arg = arg;
}

void
net_free(struct net **netp)
{
	struct net *net = *netp;
	struct net_listener *l, *next;

	if (net == NULL)
		return;
	for (l = net->listeners; l != NULL; l = next) {
		next = l->next;
		if (l->evl != NULL)
			evconnlistener_free(l->evl);
		free(l);
	}
	if (net->ev_term != NULL) {
		event_free(net->ev_term);
		event_free(net->ev_int);
		event_free(net->ev_hup);
	}
	if (net->ev_stop_timer != NULL)
		event_free(net->ev_stop_timer);
	for (unsigned i = 0; i < net->nloops; i++)
		event_base_free(net->loops[i].base);
	free(net->loops);
	event_base_free(net->main_base);
	SSL_CTX_free(net->ssl_ctx);
	for (unsigned i = 0; i < NET_IP_BUCKETS; i++) {
		while (net->ip_buckets[i] != NULL) {
			struct net_ip_count *e = net->ip_buckets[i];

			net->ip_buckets[i] = e->next;
			free(e);
		}
	}
	pthread_mutex_destroy(&net->lock);
	free(net);
	*netp = NULL;
}
