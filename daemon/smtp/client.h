/*
 * client.h: the outbound SMTP client (RFC 5321) that the queue uses to
 * hand a message to another server. Blocking (sockets with timeouts,
 * OpenSSL): it runs on the queue's delivery threads, never on an event
 * loop.
 *
 * One call is one transaction to one server address for recipients of one
 * domain: EHLO with our host name (HELO if EHLO is refused), opportunistic
 * STARTTLS when offered (certificates are not verified yet: the TLS
 * version and cipher used are reported), SIZE respected, 8BITMIME and
 * SMTPUTF8 required when the message needs them (a receiver without them
 * is a permanent failure for every recipient, with a clear reason),
 * PIPELINING of MAIL/RCPT/DATA when offered, per-recipient results, and
 * the message sent from the spool file with LF turned into CRLF and dots
 * stuffed.
 *
 * For a relay host (smarthost) the request may also ask for TLS from the
 * first byte (RFC 8314, port 465), certificate verification against the
 * system trust store and a host name, and AUTH PLAIN (or LOGIN when only
 * that is offered; RFC 4954) once the session is TLS-protected.
 */
#ifndef FACTEUR_SMTP_CLIENT_H
#define FACTEUR_SMTP_CLIENT_H

#include <stdbool.h>
#include <stdint.h>

#define SMTP_CLIENT_MAX_RCPTS 100

struct smtp_client_req {
	const char *helo_name;		/* our host name */
	const char *addr_text;		/* server address, "192.0.2.1" */
	unsigned port;			/* 25, or the configured remote port */
	const char *mail_from;		/* without <>; "" for the null path */
	const char *const *rcpts;	/* without <> */
	unsigned nrcpts;
	int body_fd;			/* spooled message, LF line ends */
	uint64_t body_size;		/* octets in the file */
	bool need_8bitmime;		/* body has 8-bit bytes */
	bool need_smtputf8;		/* an address or header is UTF-8 */
	unsigned timeout;		/* seconds per network step */
	bool require_tls;		/* refuse to send without STARTTLS */
	/* Relay host (smarthost); zero/NULL for a plain MX delivery. */
	bool implicit_tls;		/* TLS from byte one (RFC 8314) */
	/*
	 * Verify the certificate chain against the system trust store and
	 * this host name (also sent as SNI); NULL: no verification. A
	 * failed verification, or no TLS at all, is a session failure with
	 * code 0.
	 */
	const char *tls_verify_name;
	/*
	 * AUTH after TLS and EHLO (NULL: none). Credentials are never sent
	 * without TLS (code 0), nor put in any result text. A refusal
	 * (535, 5xx) sets every recipient to 454 "4.7.0 relay
	 * authentication failed: ..." so that mail waits while the operator
	 * fixes the password; 4xx is temporary as usual.
	 */
	const char *auth_user;
	const char *auth_password;
};

/* The outcome for one recipient, or for all when the session failed
 * before the recipients. */
struct smtp_client_rcpt_result {
	int code;		/* SMTP reply code; 0 when none (I/O) */
	char text[512];		/* the server's reply or our reason */
};

struct smtp_client_result {
	/* Session-level failure (connect, greeting, EHLO, MAIL, DATA...):
	 * code applies to every recipient not listed below. */
	int code;		/* 0 when the session went through */
	char text[512];
	struct smtp_client_rcpt_result rcpt[SMTP_CLIENT_MAX_RCPTS];
	char tls_version[32];	/* "" when no TLS was used */
	char tls_cipher[64];
	bool connected;
};

/*
 * Delivers. On return, for every recipient i: rcpt[i].code 2xx means
 * delivered, 4xx try again later, 5xx permanent failure; code 0 means a
 * connection or protocol failure (try again later, possibly with another
 * address). Returns 0 when the session reached the end (some recipients
 * may still have failed), -1 when it failed before (result->code/text
 * say why and every rcpt[i] is set from them).
 */
int smtp_client_deliver(const struct smtp_client_req *req,
    struct smtp_client_result *result);

/*
 * For unit tests: the pure parts the client is made of.
 */

/* RFC 5321 4.5.3.1.5 says 512 octets; real servers send longer text. */
#define SMTP_CLIENT_LINE_MAX 2048	/* reply line, without CRLF */
#define SMTP_CLIENT_REPLY_LINES_MAX 100

/* EHLO keywords we use (RFC 1870, 3207, 2920, 6152, 6531). */
struct smtp_client_ext {
	bool size;
	uint64_t size_limit;		/* 0: SIZE without a limit */
	bool starttls;
	bool pipelining;
	bool eightbitmime;
	bool smtputf8;
	bool auth_plain;		/* RFC 4954: AUTH with PLAIN */
	bool auth_login;		/* AUTH with LOGIN */
};

struct smtp_client_reply {
	int code;			/* 200..599 once complete */
	unsigned nlines;
	/* lines after the code, joined by a space, control bytes as '?',
	 * truncated */
	char text[512];
	size_t text_len;
	struct smtp_client_ext ext;	/* keywords on lines after the first
					 * (meaningful for an EHLO reply) */
};

void smtp_client_reply_init(struct smtp_client_reply *r);

/*
 * Parses the complete lines (LF or CRLF ended) of buf[0..len) into r.
 * Returns 1 when the reply's last line was seen, 0 when more bytes are
 * needed, -1 on a bad reply (no 3-digit code 2xx-5xx, a code that changes
 * between lines, a line longer than SMTP_CLIENT_LINE_MAX, too many
 * lines). *used_r is the number of bytes consumed (complete lines only):
 * on 0 the caller keeps the rest and calls again with more appended; on 1
 * the rest belongs to the next reply (pipelining).
 */
int smtp_client_reply_parse(struct smtp_client_reply *r, const char *buf,
    size_t len, size_t *used_r);

/* Records the keyword of one EHLO line (the text after "250-" or
 * "250 ") in ext; unknown keywords are ignored. "AUTH mech..." and the
 * old "AUTH=mech..." both list SASL mechanisms. */
void smtp_client_ext_parse(struct smtp_client_ext *ext, const char *s,
    size_t len);

/* RFC 4616 2: authcid and passwd are 1 to 255 octets. */
#define SMTP_CLIENT_AUTH_FIELD_MAX 255
/* base64 of "\0" user "\0" password, with the NUL */
#define SMTP_CLIENT_AUTH_PLAIN_MAX 688

/*
 * The AUTH PLAIN initial response (RFC 4616, RFC 4954 4): base64 of
 * "\0user\0password" (no authorization identity) into out, which holds
 * SMTP_CLIENT_AUTH_PLAIN_MAX bytes, NUL-terminated. Returns 0, or -1 when
 * user or password is empty or longer than SMTP_CLIENT_AUTH_FIELD_MAX.
 * The caller wipes out after use.
 */
int smtp_client_auth_plain(const char *user, const char *password,
    char *out);

/*
 * The DATA encoder (RFC 5321 4.5.2): LF becomes CRLF (a stored CRLF stays
 * one CRLF), a line starting with '.' gets another, and the end adds a
 * CRLF when the data does not end with one, then ".\r\n". Bare CR bytes
 * pass through unchanged. Resumable at any byte.
 */
struct smtp_client_body {
	bool bol;			/* at the start of a line */
	bool cr;			/* a CR is held back */
};

#define SMTP_CLIENT_BODY_END_MAX 5

void smtp_client_body_init(struct smtp_client_body *b);
/* Encodes in[0..len) into out, which has room for 2 * len bytes; returns
 * the bytes written. */
size_t smtp_client_body_encode(struct smtp_client_body *b, const char *in,
    size_t len, char *out);
/* Writes the end of the data (at most SMTP_CLIENT_BODY_END_MAX bytes)
 * into out; returns the bytes written. */
size_t smtp_client_body_end(struct smtp_client_body *b, char *out);

#endif
