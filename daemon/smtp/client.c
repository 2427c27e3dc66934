/*
 * client.c: the blocking outbound SMTP client. Every network step runs
 * under its own deadline (req->timeout seconds) with a non-blocking
 * socket and poll(), so a server that trickles bytes cannot hold a
 * delivery thread longer than one timeout per step.
 */
#include <sys/socket.h>
#include <sys/types.h>

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "lib/base64.h"
#include "lib/util.h"
#include "smtp/client.h"

#define SMTP_CLIENT_DEFAULT_TIMEOUT 300
#define SMTP_CLIENT_CHUNK 65536
/* Longest address we send; RFC 5321 4.5.3.1.3 allows 256 octets. */
#define SMTP_CLIENT_ADDR_MAX 512

_Static_assert(BASE64_ENCODED_SIZE(2 * SMTP_CLIENT_AUTH_FIELD_MAX + 2) <=
    SMTP_CLIENT_AUTH_PLAIN_MAX, "SMTP_CLIENT_AUTH_PLAIN_MAX too small");

struct smtp_client_session {
	const struct smtp_client_req *req;
	struct smtp_client_result *res;
	int fd;
	SSL *ssl;
	unsigned timeout;
	const char *step;		/* "after EHLO": for error text */
	bool broken;			/* I/O or protocol error: no QUIT */
	bool done[SMTP_CLIENT_MAX_RCPTS];	/* rcpt[i] has its result */
	bool accepted[SMTP_CLIENT_MAX_RCPTS];	/* 2xx at RCPT */
	char in[2 * SMTP_CLIENT_LINE_MAX + 16];
	size_t inlen;
	char err[256];			/* the last I/O error */
};

/*
 * Pure parts.
 */

void
smtp_client_reply_init(struct smtp_client_reply *r)
{
	memset(r, 0, sizeof(*r));
}

static void
smtp_client_reply_add_text(struct smtp_client_reply *r, const char *s,
    size_t len)
{
	size_t room;

	if (r->text_len > 0 && r->text_len + 1 < sizeof(r->text))
		r->text[r->text_len++] = ' ';
	room = sizeof(r->text) - 1 - r->text_len;
	if (len > room)
		len = room;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		r->text[r->text_len++] = c < 0x20 || c >= 0x7f ? '?' : (char)c;
	}
	r->text[r->text_len] = '\0';
}

/* One line without its line end. Returns 1 last line, 0 more, -1 bad. */
static int
smtp_client_reply_line(struct smtp_client_reply *r, const char *line,
    size_t len)
{
	int code;
	bool last;

	if (len < 3 || line[0] < '2' || line[0] > '5' ||
	    line[1] < '0' || line[1] > '9' || line[2] < '0' || line[2] > '9')
		return -1;
	code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
	/* RFC 5321 4.2.1: "250-" continues, "250 " or "250" ends */
	if (len == 3 || line[3] == ' ')
		last = true;
	else if (line[3] == '-')
		last = false;
	else
		return -1;
	if (r->nlines > 0 && code != r->code)
		return -1;
	if (r->nlines >= SMTP_CLIENT_REPLY_LINES_MAX)
		return -1;
	r->code = code;
	r->nlines++;
	if (len > 4) {
		smtp_client_reply_add_text(r, line + 4, len - 4);
		/* the first EHLO line is the server's name */
		if (r->nlines > 1)
			smtp_client_ext_parse(&r->ext, line + 4, len - 4);
	}
	return last ? 1 : 0;
}

int
smtp_client_reply_parse(struct smtp_client_reply *r, const char *buf,
    size_t len, size_t *used_r)
{
	size_t pos = 0;

	*used_r = 0;
	while (pos < len) {
		const char *line = buf + pos;
		const char *lf = memchr(line, '\n', len - pos);
		size_t n;
		int rc;

		if (lf == NULL) {
			/* room for the line and a CR still waiting for LF */
			if (len - pos > SMTP_CLIENT_LINE_MAX + 1)
				return -1;
			return 0;
		}
		n = (size_t)(lf - line);
		pos += n + 1;
		if (n > 0 && line[n - 1] == '\r')
			n--;
		if (n > SMTP_CLIENT_LINE_MAX)
			return -1;
		rc = smtp_client_reply_line(r, line, n);
		if (rc < 0)
			return -1;
		*used_r = pos;
		if (rc == 1)
			return 1;
	}
	return 0;
}

/* RFC 4954 3: the SASL mechanisms after "AUTH", separated by spaces. */
static void
smtp_client_ext_auth(struct smtp_client_ext *ext, const char *s, size_t len)
{
	size_t p = 0, wlen;

	for (;;) {
		while (p < len && s[p] == ' ')
			p++;
		if (p == len)
			break;
		wlen = 0;
		while (p + wlen < len && s[p + wlen] != ' ')
			wlen++;
		if (str_ieq_n(s + p, wlen, "PLAIN"))
			ext->auth_plain = true;
		else if (str_ieq_n(s + p, wlen, "LOGIN"))
			ext->auth_login = true;
		p += wlen;
	}
}

void
smtp_client_ext_parse(struct smtp_client_ext *ext, const char *s, size_t len)
{
	size_t klen = 0, p, plen;
	uint64_t limit;

	while (klen < len && s[klen] != ' ')
		klen++;
	if (str_ieq_n(s, klen, "AUTH"))
		smtp_client_ext_auth(ext, s + klen, len - klen);
	else if (klen > 5 && str_ieq_n(s, 5, "AUTH="))
		/* the pre-RFC 4954 form some servers still send */
		smtp_client_ext_auth(ext, s + 5, len - 5);
	else if (str_ieq_n(s, klen, "STARTTLS"))
		ext->starttls = true;
	else if (str_ieq_n(s, klen, "PIPELINING"))
		ext->pipelining = true;
	else if (str_ieq_n(s, klen, "8BITMIME"))
		ext->eightbitmime = true;
	else if (str_ieq_n(s, klen, "SMTPUTF8"))
		ext->smtputf8 = true;
	else if (str_ieq_n(s, klen, "SIZE")) {
		/* RFC 1870 4: "SIZE" [SP number]; 0 or none: no limit */
		ext->size = true;
		ext->size_limit = 0;
		p = klen;
		while (p < len && s[p] == ' ')
			p++;
		plen = 0;
		while (p + plen < len && s[p + plen] != ' ')
			plen++;
		if (plen > 0 && str_to_u64(s + p, plen, UINT64_MAX,
		    &limit) == 0)
			ext->size_limit = limit;
	}
}

void
smtp_client_body_init(struct smtp_client_body *b)
{
	b->bol = true;
	b->cr = false;
}

size_t
smtp_client_body_encode(struct smtp_client_body *b, const char *in,
    size_t len, char *out)
{
	size_t o = 0;

	for (size_t i = 0; i < len; i++) {
		char c = in[i];

		if (b->cr) {
			b->cr = false;
			if (c == '\n') {
				out[o++] = '\r';
				out[o++] = '\n';
				b->bol = true;
				continue;
			}
			/* a bare CR is data, not a line end */
			out[o++] = '\r';
			b->bol = false;
		}
		if (c == '\r') {
			b->cr = true;
		} else if (c == '\n') {
			out[o++] = '\r';
			out[o++] = '\n';
			b->bol = true;
		} else {
			/* RFC 5321 4.5.2: transparency */
			if (b->bol && c == '.')
				out[o++] = '.';
			out[o++] = c;
			b->bol = false;
		}
	}
	return o;
}

size_t
smtp_client_body_end(struct smtp_client_body *b, char *out)
{
	size_t o = 0;

	/* a final CR counts as the line end */
	if (b->cr || !b->bol) {
		out[o++] = '\r';
		out[o++] = '\n';
	}
	b->cr = false;
	b->bol = true;
	memcpy(out + o, ".\r\n", 3);
	return o + 3;
}

int
smtp_client_auth_plain(const char *user, const char *password, char *out)
{
	unsigned char raw[2 * SMTP_CLIENT_AUTH_FIELD_MAX + 2];
	size_t ulen = strlen(user), plen = strlen(password);

	out[0] = '\0';
	if (ulen == 0 || ulen > SMTP_CLIENT_AUTH_FIELD_MAX || plen == 0 ||
	    plen > SMTP_CLIENT_AUTH_FIELD_MAX)
		return -1;
	/* RFC 4616 2: [authzid] NUL authcid NUL passwd */
	raw[0] = '\0';
	memcpy(raw + 1, user, ulen);
	raw[1 + ulen] = '\0';
	memcpy(raw + 2 + ulen, password, plen);
	base64_encode(raw, ulen + plen + 2, out);
	mem_wipe(raw, sizeof(raw));
	return 0;
}

/*
 * Results.
 */

static void
smtp_client_set_rcpt(struct smtp_client_session *s, unsigned i, int code,
    const char *text)
{
	s->res->rcpt[i].code = code;
	str_lcpy(s->res->rcpt[i].text, text, sizeof(s->res->rcpt[i].text));
	s->done[i] = true;
}

/* Session failure: code and text go to every recipient without its own
 * result. Returns -1. */
static int
smtp_client_fail(struct smtp_client_session *s, int code, const char *fmt,
    ...) ATTR_PRINTF(3, 4);

static int
smtp_client_fail(struct smtp_client_session *s, int code, const char *fmt,
    ...)
{
	va_list ap;

	va_start(ap, fmt);
	/* truncation is fine: the text is for people */
	if (vsnprintf(s->res->text, sizeof(s->res->text), fmt, ap) < 0)
		str_lcpy(s->res->text, "error", sizeof(s->res->text));
	va_end(ap);
	s->res->code = code;
	for (unsigned i = 0; i < s->req->nrcpts; i++)
		if (!s->done[i])
			smtp_client_set_rcpt(s, i, code, s->res->text);
	return -1;
}

static int
smtp_client_fail_reply(struct smtp_client_session *s, const char *what,
    const struct smtp_client_reply *r)
{
	return smtp_client_fail(s, r->code, "%s: %d %s", what, r->code,
	    r->text);
}

/*
 * Network.
 */

static SSL_CTX *smtp_client_ssl_ctx;
static pthread_once_t smtp_client_ssl_once = PTHREAD_ONCE_INIT;

static void
smtp_client_ssl_init(void)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

	if (ctx == NULL)
		return;
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	/* verified only when the request names the host (see client.h) */
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	/* a failure here shows as a failed verification later */
	(void)SSL_CTX_set_default_verify_paths(ctx);
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
	    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	smtp_client_ssl_ctx = ctx;
}

static int64_t
smtp_client_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t
smtp_client_deadline(const struct smtp_client_session *s)
{
	return smtp_client_now_ms() + (int64_t)s->timeout * 1000;
}

/* Waits for events on the socket until the deadline. Returns 0 or -1
 * with s->err set. */
static int
smtp_client_wait(struct smtp_client_session *s, short events,
    int64_t deadline)
{
	struct pollfd pfd;
	int64_t left;
	int n;

	for (;;) {
		left = deadline - smtp_client_now_ms();
		if (left <= 0) {
			str_printf(s->err, sizeof(s->err),
			    "connection timed out %s", s->step);
			return -1;
		}
		pfd.fd = s->fd;
		pfd.events = events;
		pfd.revents = 0;
		n = poll(&pfd, 1, left > 60000 ? 60000 : (int)left);
		if (n > 0)
			return 0;
		if (n < 0 && errno != EINTR) {
			str_printf(s->err, sizeof(s->err), "poll failed %s: %s",
			    s->step, strerror(errno));
			return -1;
		}
	}
}

/* Turns a failed SSL call into "wait for this" (1) or an error (-1). */
static int
smtp_client_ssl_retry(struct smtp_client_session *s, int ret, short *events_r)
{
	unsigned long e;
	char buf[200];

	switch (SSL_get_error(s->ssl, ret)) {
	case SSL_ERROR_WANT_READ:
		*events_r = POLLIN;
		return 1;
	case SSL_ERROR_WANT_WRITE:
		*events_r = POLLOUT;
		return 1;
	case SSL_ERROR_ZERO_RETURN:
		str_printf(s->err, sizeof(s->err),
		    "connection closed by the server %s", s->step);
		return -1;
	case SSL_ERROR_SYSCALL:
		if (ret == 0 || errno == 0)
			str_printf(s->err, sizeof(s->err),
			    "connection closed by the server %s", s->step);
		else
			str_printf(s->err, sizeof(s->err), "I/O error %s: %s",
			    s->step, strerror(errno));
		return -1;
	default:
		e = ERR_get_error();
		if (e != 0)
			ERR_error_string_n(e, buf, sizeof(buf));
		else
			str_lcpy(buf, "unknown error", sizeof(buf));
		str_printf(s->err, sizeof(s->err), "%s", buf);
		return -1;
	}
}

static int
smtp_client_write_all(struct smtp_client_session *s, const char *buf,
    size_t len)
{
	int64_t deadline = smtp_client_deadline(s);
	short events = POLLOUT;
	ssize_t n;
	int ret;

	while (len > 0) {
		if (s->ssl != NULL) {
			ERR_clear_error();
			errno = 0;
			ret = SSL_write(s->ssl, buf,
			    len > INT32_MAX ? INT32_MAX : (int)len);
			if (ret > 0) {
				buf += ret;
				len -= (size_t)ret;
				continue;
			}
			if (smtp_client_ssl_retry(s, ret, &events) < 0)
				return -1;
		} else {
			n = send(s->fd, buf, len, MSG_NOSIGNAL);
			if (n > 0) {
				buf += n;
				len -= (size_t)n;
				continue;
			}
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
				str_printf(s->err, sizeof(s->err),
				    "write error %s: %s", s->step,
				    strerror(errno));
				return -1;
			}
			events = POLLOUT;
		}
		if (smtp_client_wait(s, events, deadline) < 0)
			return -1;
	}
	return 0;
}

/* Reads what is available into s->in, waiting until the deadline. */
static int
smtp_client_fill(struct smtp_client_session *s, int64_t deadline)
{
	size_t room = sizeof(s->in) - s->inlen;
	short events = POLLIN;
	ssize_t n;
	int ret;

	for (;;) {
		if (s->ssl != NULL) {
			ERR_clear_error();
			errno = 0;
			ret = SSL_read(s->ssl, s->in + s->inlen, (int)room);
			if (ret > 0) {
				s->inlen += (size_t)ret;
				return 0;
			}
			if (smtp_client_ssl_retry(s, ret, &events) < 0)
				return -1;
		} else {
			n = recv(s->fd, s->in + s->inlen, room, 0);
			if (n > 0) {
				s->inlen += (size_t)n;
				return 0;
			}
			if (n == 0) {
				str_printf(s->err, sizeof(s->err),
				    "connection closed by the server %s",
				    s->step);
				return -1;
			}
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK) {
				str_printf(s->err, sizeof(s->err),
				    "read error %s: %s", s->step,
				    strerror(errno));
				return -1;
			}
			events = POLLIN;
		}
		if (smtp_client_wait(s, events, deadline) < 0)
			return -1;
	}
}

/* Reads one reply. Returns 0, or -1 with s->err set. */
static int
smtp_client_read_reply_once(struct smtp_client_session *s,
    struct smtp_client_reply *r)
{
	int64_t deadline = smtp_client_deadline(s);
	size_t used;
	int rc;

	smtp_client_reply_init(r);
	for (;;) {
		if (s->inlen > 0) {
			rc = smtp_client_reply_parse(r, s->in, s->inlen, &used);
			memmove(s->in, s->in + used, s->inlen - used);
			s->inlen -= used;
			if (rc == 1)
				return 0;
			if (rc < 0) {
				str_printf(s->err, sizeof(s->err),
				    "protocol error %s: malformed reply",
				    s->step);
				return -1;
			}
		}
		if (smtp_client_fill(s, deadline) < 0)
			return -1;
	}
}

/* After an I/O or protocol error the connection is only closed. */
static int
smtp_client_write(struct smtp_client_session *s, const char *buf,
    size_t len)
{
	if (smtp_client_write_all(s, buf, len) < 0) {
		s->broken = true;
		return -1;
	}
	return 0;
}

static int
smtp_client_read_reply(struct smtp_client_session *s,
    struct smtp_client_reply *r)
{
	if (smtp_client_read_reply_once(s, r) < 0) {
		s->broken = true;
		return -1;
	}
	return 0;
}

/* Sends one command line and reads its reply. */
static int
smtp_client_command(struct smtp_client_session *s, const char *step,
    const char *line, struct smtp_client_reply *r)
{
	s->step = step;
	if (smtp_client_write(s, line, strlen(line)) < 0)
		return -1;
	return smtp_client_read_reply(s, r);
}

/* Best effort: the transaction is over whatever the server says. */
static void
smtp_client_quit(struct smtp_client_session *s)
{
	struct smtp_client_reply r;
	unsigned timeout = s->timeout;

	if (s->fd < 0 || s->broken)
		return;
	if (s->timeout > 10)
		s->timeout = 10;
	(void)smtp_client_command(s, "after QUIT", "QUIT\r\n", &r);
	s->timeout = timeout;
}

static int
smtp_client_connect(struct smtp_client_session *s)
{
	const struct smtp_client_req *req = s->req;
	struct addrinfo hints, *ai;
	char port[16];
	int64_t deadline;
	socklen_t len;
	int rc, err;

	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
	str_printf(port, sizeof(port), "%u", req->port);
	rc = getaddrinfo(req->addr_text, port, &hints, &ai);
	if (rc != 0)
		return smtp_client_fail(s, 0, "bad server address %s: %s",
		    req->addr_text, gai_strerror(rc));
	s->fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, ai->ai_protocol);
	if (s->fd < 0) {
		err = errno;
		freeaddrinfo(ai);
		return smtp_client_fail(s, 0, "socket: %s", strerror(err));
	}
	rc = connect(s->fd, ai->ai_addr, ai->ai_addrlen);
	err = errno;
	freeaddrinfo(ai);
	if (rc < 0 && err != EINPROGRESS)
		return smtp_client_fail(s, 0, "connect to %s port %u: %s",
		    req->addr_text, req->port, strerror(err));
	if (rc < 0) {
		s->step = "during connect";
		deadline = smtp_client_deadline(s);
		if (smtp_client_wait(s, POLLOUT, deadline) < 0)
			return smtp_client_fail(s, 0, "%s to %s port %u",
			    s->err, req->addr_text, req->port);
		len = sizeof(err);
		if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
			err = errno;
		if (err != 0)
			return smtp_client_fail(s, 0,
			    "connect to %s port %u: %s", req->addr_text,
			    req->port, strerror(err));
	}
	s->res->connected = true;
	return 0;
}

/* Asks for the certificate chain and host name check (RFC 6125 via
 * OpenSSL; an address literal is checked against IP SANs) and sends the
 * name as SNI. */
static int
smtp_client_tls_verify_setup(struct smtp_client_session *s)
{
	const char *name = s->req->tls_verify_name;
	unsigned char ip[16];

	/* RFC 6066 3: no address literal in SNI */
	if (inet_pton(AF_INET, name, ip) != 1 &&
	    inet_pton(AF_INET6, name, ip) != 1 &&
	    SSL_set_tlsext_host_name(s->ssl, name) != 1)
		return -1;
	if (SSL_set1_host(s->ssl, name) != 1)
		return -1;
	SSL_set_hostflags(s->ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
	SSL_set_verify(s->ssl, SSL_VERIFY_PEER, NULL);
	return 0;
}

/* The TLS handshake, after STARTTLS or from the first byte. */
static int
smtp_client_tls_start(struct smtp_client_session *s)
{
	const char *name = s->req->tls_verify_name;
	int64_t deadline;
	short events = POLLIN;
	long verr;
	int ret;

	pthread_once(&smtp_client_ssl_once, smtp_client_ssl_init);
	if (smtp_client_ssl_ctx == NULL)
		return smtp_client_fail(s, 0,
		    "TLS handshake failed: no TLS context");
	/* RFC 3207 4.2 (and CVE-2011-0411): nothing may follow the 220
	 * in plain text; with implicit TLS nothing was read yet */
	if (s->inlen > 0)
		return smtp_client_fail(s, 0, "TLS handshake failed: "
		    "server sent data after its STARTTLS reply");
	s->ssl = SSL_new(smtp_client_ssl_ctx);
	if (s->ssl == NULL || SSL_set_fd(s->ssl, s->fd) != 1)
		return smtp_client_fail(s, 0,
		    "TLS handshake failed: SSL_new failed");
	if (name != NULL && smtp_client_tls_verify_setup(s) < 0)
		return smtp_client_fail(s, 0, "TLS handshake failed: "
		    "cannot set up verification of %s", name);
	SSL_set_connect_state(s->ssl);
	s->step = "during the TLS handshake";
	deadline = smtp_client_deadline(s);
	for (;;) {
		ERR_clear_error();
		errno = 0;
		ret = SSL_connect(s->ssl);
		if (ret == 1)
			break;
		if (smtp_client_ssl_retry(s, ret, &events) < 0 ||
		    smtp_client_wait(s, events, deadline) < 0) {
			verr = SSL_get_verify_result(s->ssl);
			SSL_free(s->ssl);
			s->ssl = NULL;
			s->broken = true;
			if (name != NULL && verr != X509_V_OK)
				return smtp_client_fail(s, 0, "TLS "
				    "certificate verification failed for "
				    "%s: %s", name,
				    X509_verify_cert_error_string(verr));
			return smtp_client_fail(s, 0,
			    "TLS handshake failed: %s", s->err);
		}
	}
	/* belt and braces: SSL_VERIFY_PEER already ended the handshake */
	if (name != NULL) {
		verr = SSL_get_verify_result(s->ssl);
		if (SSL_get0_peer_certificate(s->ssl) == NULL ||
		    verr != X509_V_OK) {
			s->broken = true;
			return smtp_client_fail(s, 0, "TLS certificate "
			    "verification failed for %s: %s", name,
			    verr != X509_V_OK ?
			    X509_verify_cert_error_string(verr) :
			    "no certificate");
		}
	}
	str_lcpy(s->res->tls_version, SSL_get_version(s->ssl),
	    sizeof(s->res->tls_version));
	str_lcpy(s->res->tls_cipher, SSL_get_cipher_name(s->ssl),
	    sizeof(s->res->tls_cipher));
	return 0;
}

static int
smtp_client_ehlo(struct smtp_client_session *s, struct smtp_client_ext *ext)
{
	struct smtp_client_reply r;
	char *line;
	int rc;

	line = xasprintf("EHLO %s\r\n", s->req->helo_name);
	rc = smtp_client_command(s, "after EHLO", line, &r);
	free(line);
	if (rc < 0)
		return smtp_client_fail(s, 0, "%s", s->err);
	if (r.code / 100 == 2) {
		*ext = r.ext;
		return 0;
	}
	if (r.code / 100 != 5)
		return smtp_client_fail_reply(s, "EHLO refused", &r);
	/* RFC 5321 4.1.4: an old server; no extensions then */
	memset(ext, 0, sizeof(*ext));
	line = xasprintf("HELO %s\r\n", s->req->helo_name);
	rc = smtp_client_command(s, "after HELO", line, &r);
	free(line);
	if (rc < 0)
		return smtp_client_fail(s, 0, "%s", s->err);
	if (r.code / 100 != 2)
		return smtp_client_fail_reply(s, "HELO refused", &r);
	return 0;
}

/* Sends a line that holds credentials, wipes it, reads the reply. */
static int
smtp_client_auth_send(struct smtp_client_session *s, const char *step,
    char *line, size_t len, struct smtp_client_reply *r)
{
	int rc;

	s->step = step;
	rc = smtp_client_write(s, line, len);
	mem_wipe(line, len);
	if (rc < 0)
		return -1;
	return smtp_client_read_reply(s, r);
}

/* Writes base64 of a credential and CRLF into line; returns the length. */
static size_t
smtp_client_auth_field(const char *field, char *line)
{
	size_t len = base64_encode(field, strlen(field), line);

	memcpy(line + len, "\r\n", 2);
	return len + 2;
}

/*
 * RFC 4954 4: AUTH PLAIN with an initial response, or LOGIN when only
 * that is offered. Returns 0 once authenticated, -1 with the results set.
 * Neither the credentials nor their encoding reach any text.
 */
static int
smtp_client_auth(struct smtp_client_session *s,
    const struct smtp_client_ext *ext)
{
	static const char plain[] = "AUTH PLAIN ";
	const struct smtp_client_req *req = s->req;
	struct smtp_client_reply r, cancel_r;
	char line[sizeof(plain) + SMTP_CLIENT_AUTH_PLAIN_MAX + 2];
	size_t len;
	int rc;

	/* RFC 4954 4 and RFC 8314: never in the clear */
	if (s->ssl == NULL)
		return smtp_client_fail(s, 0,
		    "refusing to send credentials without TLS");
	if (ext->auth_plain) {
		memcpy(line, plain, sizeof(plain) - 1);
		if (smtp_client_auth_plain(req->auth_user,
		    req->auth_password, line + sizeof(plain) - 1) < 0) {
			mem_wipe(line, sizeof(line));
			return smtp_client_fail(s, 0,
			    "bad relay credentials");
		}
		len = strlen(line);
		memcpy(line + len, "\r\n", 2);
		rc = smtp_client_auth_send(s, "after AUTH", line, len + 2,
		    &r);
	} else if (ext->auth_login) {
		rc = smtp_client_command(s, "after AUTH", "AUTH LOGIN\r\n",
		    &r);
		if (rc == 0 && r.code == 334) {
			len = smtp_client_auth_field(req->auth_user, line);
			rc = smtp_client_auth_send(s,
			    "after the AUTH user name", line, len, &r);
		}
		if (rc == 0 && r.code == 334) {
			len = smtp_client_auth_field(req->auth_password, line);
			rc = smtp_client_auth_send(s,
			    "after the AUTH password", line, len, &r);
		}
	} else {
		return smtp_client_fail(s, 0,
		    "relay offers neither AUTH PLAIN nor AUTH LOGIN");
	}
	mem_wipe(line, sizeof(line));
	if (rc < 0)
		return smtp_client_fail(s, 0, "%s", s->err);
	if (r.code == 235)
		return 0;
	if (r.code == 334) {
		/* RFC 4954 4: a challenge we have no answer for */
		if (smtp_client_command(s, "after cancelling AUTH", "*\r\n",
		    &cancel_r) < 0)
			return smtp_client_fail(s, 0, "%s", s->err);
		return smtp_client_fail(s, 0, "relay authentication failed: "
		    "unexpected challenge");
	}
	/* a wrong password is fixed by the operator: keep the mail */
	if (r.code / 100 == 5)
		return smtp_client_fail(s, 454, "4.7.0 relay authentication "
		    "failed: %d %s", r.code, r.text);
	if (r.code / 100 == 4)
		return smtp_client_fail_reply(s, "relay authentication failed",
		    &r);
	return smtp_client_fail(s, 0, "relay authentication failed: "
	    "unexpected reply %d %s", r.code, r.text);
}

/* RFC 4616 2: 1 to 255 octets. */
static bool
smtp_client_auth_field_ok(const char *field)
{
	size_t len;

	if (field == NULL)
		return false;
	len = strlen(field);
	return len > 0 && len <= SMTP_CLIENT_AUTH_FIELD_MAX;
}

/* Octets on the wire (RFC 1870 3: SIZE counts CRLF line ends): the file
 * plus one CR per LF plus a final CRLF. Dot stuffing is not counted. */
static int
smtp_client_body_wire_size(struct smtp_client_session *s, uint64_t *size_r)
{
	char *buf = xmalloc(SMTP_CLIENT_CHUNK);
	uint64_t off = 0, nlf = 0;
	ssize_t n;

	while (off < s->req->body_size) {
		n = pread(s->req->body_fd, buf, SMTP_CLIENT_CHUNK, (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			str_printf(s->err, sizeof(s->err),
			    "cannot read the spool file: %s", strerror(errno));
			free(buf);
			return -1;
		}
		if (n == 0)
			break;
		for (ssize_t i = 0; i < n; i++)
			if (buf[i] == '\n')
				nlf++;
		off += (uint64_t)n;
	}
	free(buf);
	*size_r = s->req->body_size + nlf + 2;
	return 0;
}

/* Streams the spool file after the 354. */
static int
smtp_client_send_body(struct smtp_client_session *s)
{
	struct smtp_client_body b;
	char *in = xmalloc(SMTP_CLIENT_CHUNK);
	char *out = xmalloc(2 * SMTP_CLIENT_CHUNK + SMTP_CLIENT_BODY_END_MAX);
	uint64_t off = 0;
	size_t olen;
	ssize_t n;
	int rc = 0;

	smtp_client_body_init(&b);
	s->step = "sending the message";
	while (off < s->req->body_size) {
		size_t want = SMTP_CLIENT_CHUNK;

		if (s->req->body_size - off < want)
			want = (size_t)(s->req->body_size - off);
		n = pread(s->req->body_fd, in, want, (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			str_printf(s->err, sizeof(s->err),
			    "cannot read the spool file: %s", strerror(errno));
			rc = -1;
			break;
		}
		if (n == 0)
			break;
		off += (uint64_t)n;
		olen = smtp_client_body_encode(&b, in, (size_t)n, out);
		if (smtp_client_write(s, out, olen) < 0) {
			rc = -1;
			break;
		}
	}
	if (rc == 0) {
		olen = smtp_client_body_end(&b, out);
		rc = smtp_client_write(s, out, olen);
	}
	free(in);
	free(out);
	return rc;
}

static bool
smtp_client_addr_ok(const char *addr)
{
	size_t len = strlen(addr);

	if (len > SMTP_CLIENT_ADDR_MAX)
		return false;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)addr[i] < 0x21 || addr[i] == 0x7f ||
		    addr[i] == '<' || addr[i] == '>')
			return false;
	return true;
}

/* Sends buf unless pipelining already did, then reads one reply. */
static int
smtp_client_step(struct smtp_client_session *s, bool pipe, const char *step,
    const char *line, struct smtp_client_reply *r)
{
	s->step = step;
	if (!pipe && smtp_client_write(s, line, strlen(line)) < 0)
		return -1;
	return smtp_client_read_reply(s, r);
}

/* MAIL, RCPT and DATA, pipelined when offered (RFC 2920 3.1). Returns 1
 * when DATA got its 354, 0 when the transaction ended before (results are
 * set), -1 on a session failure. */
static int
smtp_client_envelope(struct smtp_client_session *s,
    const struct smtp_client_ext *ext, uint64_t wire_size)
{
	const struct smtp_client_req *req = s->req;
	struct smtp_client_reply r, mail_r, data_r;
	char params[64] = "", *line[SMTP_CLIENT_MAX_RCPTS + 2], *batch;
	size_t blen = 0, len;
	unsigned i, n = 0, nlines, naccepted = 0;
	bool pipe = ext->pipelining, mail_ok;
	int ret = -1;

	if (ext->size)
		str_printf(params, sizeof(params), " SIZE=%" PRIu64,
		    wire_size);
	if (req->need_8bitmime)
		str_lcpy(params + strlen(params), " BODY=8BITMIME",
		    sizeof(params) - strlen(params));
	if (req->need_smtputf8)
		str_lcpy(params + strlen(params), " SMTPUTF8",
		    sizeof(params) - strlen(params));
	line[n++] = xasprintf("MAIL FROM:<%s>%s\r\n", req->mail_from, params);
	for (i = 0; i < req->nrcpts; i++)
		if (!s->done[i])
			line[n++] = xasprintf("RCPT TO:<%s>\r\n",
			    req->rcpts[i]);
	line[n++] = xstrdup("DATA\r\n");
	nlines = n;
	if (n == 2) {
		/* every recipient was refused before we connected */
		ret = 0;
		goto out;
	}

	if (pipe) {
		for (i = 0; i < n; i++)
			blen += strlen(line[i]);
		batch = xmalloc(blen + 1);
		blen = 0;
		for (i = 0; i < n; i++) {
			len = strlen(line[i]);
			memcpy(batch + blen, line[i], len);
			blen += len;
		}
		s->step = "after MAIL FROM";
		ret = smtp_client_write(s, batch, blen);
		free(batch);
		if (ret < 0)
			goto io_error;
	}
	if (smtp_client_step(s, pipe, "after MAIL FROM", line[0], &mail_r) < 0)
		goto io_error;
	mail_ok = mail_r.code / 100 == 2;
	n = 1;
	for (i = 0; i < req->nrcpts; i++) {
		if (s->done[i])
			continue;
		if (!mail_ok && !pipe)
			break;
		if (smtp_client_step(s, pipe, "after RCPT TO", line[n++],
		    &r) < 0)
			goto io_error;
		if (!mail_ok)
			continue;
		if (r.code / 100 == 2) {
			s->accepted[i] = true;
			naccepted++;
		} else {
			smtp_client_set_rcpt(s, i, r.code, r.text);
		}
	}
	data_r.code = 0;
	if (pipe || (mail_ok && naccepted > 0)) {
		if (smtp_client_step(s, pipe, "after DATA", line[n], &data_r) <
		    0)
			goto io_error;
	}
	if (data_r.code == 354 && (!mail_ok || naccepted == 0)) {
		/* RFC 2920 3.1: an empty message the server will refuse */
		if (smtp_client_command(s, "after the end of data", ".\r\n",
		    &r) < 0)
			goto io_error;
	}
	if (!mail_ok) {
		ret = smtp_client_fail_reply(s, "MAIL FROM refused", &mail_r);
	} else if (naccepted == 0) {
		ret = 0;
	} else if (data_r.code != 354) {
		ret = smtp_client_fail_reply(s, "DATA refused", &data_r);
	} else {
		ret = 1;
	}
	goto out;
io_error:
	ret = smtp_client_fail(s, 0, "%s", s->err);
out:
	for (i = 0; i < nlines; i++)
		free(line[i]);
	return ret;
}

int
smtp_client_deliver(const struct smtp_client_req *req,
    struct smtp_client_result *result)
{
	struct smtp_client_session *s;
	struct smtp_client_reply r;
	struct smtp_client_ext ext;
	uint64_t wire_size = 0;
	/* a certificate to verify means TLS is not optional */
	bool need_tls = req->require_tls || req->tls_verify_name != NULL;
	int ret = -1;

	memset(result, 0, sizeof(*result));
	s = xcalloc(1, sizeof(*s));
	s->req = req;
	s->res = result;
	s->fd = -1;
	s->timeout = req->timeout > 0 ? req->timeout :
	    SMTP_CLIENT_DEFAULT_TIMEOUT;
	s->step = "";

	if (req->nrcpts == 0 || req->nrcpts > SMTP_CLIENT_MAX_RCPTS) {
		/* a caller bug: nothing to set per recipient beyond the max */
		result->code = 0;
		str_lcpy(result->text, "bad number of recipients",
		    sizeof(result->text));
		for (unsigned i = 0; i < SMTP_CLIENT_MAX_RCPTS &&
		    i < req->nrcpts; i++)
			smtp_client_set_rcpt(s, i, 0, result->text);
		goto out;
	}
	if (!smtp_client_addr_ok(req->helo_name) ||
	    (req->mail_from[0] != '\0' &&
	    !smtp_client_addr_ok(req->mail_from))) {
		smtp_client_fail(s, 553, "5.1.7 bad sender address or name");
		goto out;
	}
	for (unsigned i = 0; i < req->nrcpts; i++)
		if (!smtp_client_addr_ok(req->rcpts[i]) ||
		    req->rcpts[i][0] == '\0')
			smtp_client_set_rcpt(s, i, 553,
			    "5.1.3 bad recipient address");

	if (req->auth_user != NULL &&
	    (!smtp_client_auth_field_ok(req->auth_user) ||
	    !smtp_client_auth_field_ok(req->auth_password))) {
		smtp_client_fail(s, 0, "bad relay credentials: user name and "
		    "password need 1 to %d octets",
		    SMTP_CLIENT_AUTH_FIELD_MAX);
		goto out;
	}

	if (smtp_client_connect(s) < 0)
		goto out;
	/* RFC 8314 3.3: TLS from the first byte */
	if (req->implicit_tls && smtp_client_tls_start(s) < 0)
		goto out;

	/* RFC 5321 3.1: the greeting */
	s->step = "waiting for the greeting";
	if (smtp_client_read_reply(s, &r) < 0) {
		smtp_client_fail(s, 0, "%s", s->err);
		goto out;
	}
	if (r.code != 220) {
		smtp_client_fail_reply(s, "greeting", &r);
		smtp_client_quit(s);
		goto out;
	}
	if (smtp_client_ehlo(s, &ext) < 0)
		goto quit;

	/* RFC 3207: opportunistic STARTTLS */
	if (req->implicit_tls) {
		/* already TLS */
	} else if (ext.starttls) {
		if (smtp_client_command(s, "after STARTTLS", "STARTTLS\r\n",
		    &r) < 0) {
			smtp_client_fail(s, 0, "%s", s->err);
			goto out;
		}
		if (r.code == 220) {
			if (smtp_client_tls_start(s) < 0)
				goto out;
			/* RFC 3207 4.2: forget what was said before TLS */
			if (smtp_client_ehlo(s, &ext) < 0)
				goto quit;
		} else if (need_tls) {
			smtp_client_fail(s, 0, "TLS required but STARTTLS "
			    "was refused: %d %s", r.code, r.text);
			goto quit;
		}
	} else if (need_tls) {
		smtp_client_fail(s, 0,
		    "TLS required but the server does not offer STARTTLS");
		goto quit;
	}

	/* RFC 4954: on the TLS session, after its EHLO */
	if (req->auth_user != NULL && smtp_client_auth(s, &ext) < 0)
		goto quit;

	/* RFC 6531 3.4 and RFC 6152: no downgrade of the message */
	if (req->need_smtputf8 && !ext.smtputf8) {
		smtp_client_fail(s, 554,
		    "5.6.7 remote server does not support SMTPUTF8");
		goto quit;
	}
	if (req->need_8bitmime && !ext.eightbitmime) {
		smtp_client_fail(s, 554,
		    "5.6.3 remote server does not support 8BITMIME");
		goto quit;
	}
	if (ext.size) {
		if (smtp_client_body_wire_size(s, &wire_size) < 0) {
			smtp_client_fail(s, 0, "%s", s->err);
			goto quit;
		}
		/* RFC 1870 6.1 */
		if (ext.size_limit > 0 && wire_size > ext.size_limit) {
			smtp_client_fail(s, 552, "5.3.4 message too big for "
			    "remote server (limit %" PRIu64 ")",
			    ext.size_limit);
			goto quit;
		}
	}

	switch (smtp_client_envelope(s, &ext, wire_size)) {
	case 1:
		break;
	case 0:
		ret = 0;
		goto quit;
	default:
		goto quit;
	}

	if (smtp_client_send_body(s) < 0) {
		smtp_client_fail(s, 0, "%s", s->err);
		goto out;
	}
	s->step = "after the end of data";
	if (smtp_client_read_reply(s, &r) < 0) {
		smtp_client_fail(s, 0, "%s", s->err);
		goto out;
	}
	/* RFC 5321 4.1.1.4: one reply for every accepted recipient */
	for (unsigned i = 0; i < req->nrcpts; i++)
		if (s->accepted[i])
			smtp_client_set_rcpt(s, i, r.code, r.text);
	ret = 0;
quit:
	smtp_client_quit(s);
out:
	if (s->ssl != NULL) {
		(void)SSL_shutdown(s->ssl);
		SSL_free(s->ssl);
	}
	if (s->fd >= 0)
		close(s->fd);
	free(s);
	return ret;
}
