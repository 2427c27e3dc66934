/*
 * net.h: the connection layer. Event loops (libevent) on a few threads,
 * listeners, connections with implicit TLS or STARTTLS (OpenSSL), limits
 * on connections in total and per client IP, idle timeouts, and a worker
 * pool for blocking work whose completion comes back to the connection's
 * own loop thread.
 *
 * Protocol modules see a connection through this API only: they get
 * events (start, input, TLS ready, timeout, stop, closed) and read, write,
 * pause and close through conn_* calls. They never see libevent or
 * OpenSSL. Every conn_* call must be made on the connection's loop thread
 * (inside one of its callbacks).
 */
#ifndef FACTEUR_NET_H
#define FACTEUR_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "lib/util.h"

struct net;
struct conn;

struct conn_ops {
	/* The connection is ready (after the TLS handshake on implicit-TLS
	 * listeners): send the greeting. */
	void (*start)(struct conn *c);
	/* Bytes are waiting: consume them with conn_peek/conn_consume or
	 * conn_read. Not called while the connection is paused. */
	void (*input)(struct conn *c);
	/* A STARTTLS handshake finished; the session starts over. */
	void (*tls_ready)(struct conn *c);
	/* No input for the timeout: write a goodbye; the layer then closes. */
	void (*timeout)(struct conn *c);
	/* The server is stopping: say goodbye and conn_close() now unless a
	 * delivery is in flight (then close when it is done). */
	void (*stop)(struct conn *c);
	/* Output fell below the low-water mark (optional; for streaming). */
	void (*drained)(struct conn *c);
	/* Last call: free the protocol session. No job is pending. */
	void (*closed)(struct conn *c);
};

struct net_listener_conf {
	const char *name;	/* service name for logs: "smtp", ... */
	const char *address;	/* "0.0.0.0", "127.0.0.1", "::" */
	unsigned port;
	bool implicit_tls;
	const struct conn_ops *ops;
	void *arg;		/* protocol-wide context: conn_listener_arg */
	/* Written in clear text and the socket closed when a limit refuses
	 * a connection (plaintext listeners only), e.g. "421 4.7.0 ...\r\n". */
	const char *busy_reply;
};

struct net_conf {
	unsigned loop_threads;
	unsigned worker_threads;
	unsigned max_connections;
	unsigned max_connections_per_ip;
	unsigned timeout_idle;	/* seconds without input before timeout */
	const char *tls_cert;
	const char *tls_key;
};

/* Creates the event loops and worker pool (threads start in net_run).
 * Loads the TLS certificate; on failure returns NULL with *error_r. */
struct net *net_new(const struct net_conf *conf, const char **error_r);

/* Binds and listens (call before dropping privileges). 0 or -1 with a
 * malloc'ed *error_r. */
int net_listen(struct net *net, const struct net_listener_conf *lc,
    char **error_r);

/* Runs until SIGTERM or SIGINT has stopped the server gracefully: stop
 * accepting, tell sessions to stop, wait for deliveries in flight (at most
 * 30 s), then return 0. SIGHUP reloads the certificate. */
int net_run(struct net *net);

void net_free(struct net **net);

/* fn(arg) runs on the main loop's thread at each SIGHUP, after the mail
 * listeners' certificate reload (the HTTPS listener reloads its own). */
void net_on_reload(struct net *net, void (*fn)(void *arg), void *arg);

/* ---- Connections ---- */

/* A unique session id (12 hex digits) for log lines. */
const char *conn_id(const struct conn *c);
/* The client's address as text ("192.0.2.1", "2001:db8::1"). */
const char *conn_peer(const struct conn *c);
const struct sockaddr *conn_peer_sockaddr(const struct conn *c);
/* The local port the client connected to (after the offset). */
unsigned conn_local_port(const struct conn *c);

void conn_ctx_set(struct conn *c, void *ctx);
void *conn_ctx(const struct conn *c);
void *conn_listener_arg(const struct conn *c);

/* Input: the first contiguous run of received bytes. Returns its length
 * (0 when none) and sets *data_r. conn_consume removes n bytes. */
size_t conn_peek(struct conn *c, const char **data_r);
void conn_consume(struct conn *c, size_t n);
size_t conn_input_len(const struct conn *c);

/* Output is queued and sent as the socket allows. */
void conn_write(struct conn *c, const void *data, size_t len);
void conn_printf(struct conn *c, const char *fmt, ...) ATTR_PRINTF(2, 3);
size_t conn_output_len(const struct conn *c);

/* Stops delivering input events (bytes keep arriving, up to a bound)
 * until conn_resume, which also runs the input callback soon when bytes
 * are waiting. */
void conn_pause(struct conn *c);
void conn_resume(struct conn *c);
/* Runs the input callback again soon (fairness: a protocol handles a
 * bounded number of commands per wake-up and then yields). */
void conn_yield(struct conn *c);

void conn_set_timeout(struct conn *c, unsigned seconds);

/* Closes after the queued output is sent. The closed callback follows
 * (once no job is pending). */
void conn_close(struct conn *c);
/* True once the connection is closing or the peer went away: writes are
 * dropped. Job completions check this before replying. */
bool conn_is_closing(const struct conn *c);

/* STARTTLS (RFC 3207 / 2595 / 3501): discards any input received after
 * the command (CVE-2011-0411) and returns how many bytes it dropped, then
 * starts the server handshake; tls_ready follows, or the connection
 * closes on failure. Write the "ready" reply before calling. */
size_t conn_starttls(struct conn *c);
bool conn_is_tls(const struct conn *c);
/* "TLSv1.3" and the cipher name, or NULL when not TLS. */
const char *conn_tls_version(const struct conn *c);
const char *conn_tls_cipher(const struct conn *c);

/*
 * Runs work(arg) on a worker thread, then done(c, arg) on this
 * connection's loop thread. The connection is kept alive meanwhile: if
 * the peer leaves, done still runs (conn_is_closing is then true) and the
 * closed callback comes after it. work must not touch the connection or
 * the session; give it what it needs in arg.
 */
void conn_job(struct conn *c, void (*work)(void *arg),
    void (*done)(struct conn *c, void *arg), void *arg);

/* Runs cb(c, arg) on this connection's loop thread after ms
 * milliseconds (e.g. the delayed answer to a failed login). Keeps the
 * connection alive like a job; check conn_is_closing in cb. */
void conn_timer(struct conn *c, unsigned ms,
    void (*cb)(struct conn *c, void *arg), void *arg);

#endif
