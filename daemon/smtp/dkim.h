/*
 * dkim.h: DKIM signing (RFC 6376) with rsa-sha256 and ed25519-sha256
 * (RFC 8463), relaxed/relaxed canonicalization. One key per hosted
 * domain, a PEM file DATA_DIR/dkim/DOMAIN.pem (mode 0600), made when the
 * domain is added. Blocking (file reads, signing): worker threads only.
 */
#ifndef FACTEUR_DKIM_H
#define FACTEUR_DKIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum dkim_alg { DKIM_RSA, DKIM_ED25519 };

/* Creates a key pair and writes it to path (PEM, PKCS#8, mode 0600;
 * RSA 2048 bits). Fails if the file exists. 0 or -1 with *error_r. */
int dkim_key_generate(const char *path, enum dkim_alg alg,
    const char **error_r);

/*
 * The DNS TXT record to publish at SELECTOR._domainkey.DOMAIN for the key
 * in path: "v=DKIM1; k=rsa; p=BASE64" (k=ed25519 for Ed25519), as a
 * malloc'ed string. NULL and *error_r on failure.
 */
char *dkim_txt_record(const char *path, const char **error_r);

/*
 * Signs a message: the header is header[0..header_len) (LF line ends,
 * ending with the empty line or not), the body is body_size octets of
 * body_fd from body_offset (LF line ends). Returns a malloc'ed
 * "DKIM-Signature: ...\n" header (folded, LF line ends) to put in front
 * of the message, or NULL and *error_r. Signs From (required), and of
 * To, Cc, Subject, Date, Message-ID, Reply-To, In-Reply-To, References,
 * MIME-Version, Content-Type, Content-Transfer-Encoding, the ones
 * present.
 */
char *dkim_sign(const char *key_path, const char *domain,
    const char *selector, const char *header, size_t header_len,
    int body_fd, uint64_t body_offset, uint64_t body_size,
    const char **error_r);

/* For unit tests: relaxed canonicalization (RFC 6376 3.4.2, 3.4.4). */
/* One header field "Name: value\n" (continuation lines included, LF
 * ends) to "name:value\r\n" into out (size >= len + 3). Returns length. */
size_t dkim_canon_header(const char *field, size_t len, char *out);

struct dkim_body_canon {
	/* private state across chunks */
	size_t pending_blank;	/* empty lines held back (trailing ones
				   are dropped) */
	bool wsp;		/* whitespace run pending in the line */
	bool line_empty;	/* nothing but whitespace so far */
	bool any;		/* some non-empty line was output */
	bool cr;		/* a CR ended the last chunk: CRLF is one
				   line end, a bare CR is data (as
				   smtp/client.c sends them) */
};

void dkim_body_canon_init(struct dkim_body_canon *c);
/* Feeds body bytes (LF line ends; CRLF is taken as one line end and a
 * bare CR as data); calls out(ctx, data, len) with the canonical form
 * (CRLF line ends). */
void dkim_body_canon_feed(struct dkim_body_canon *c, const char *in,
    size_t len, void (*out)(void *ctx, const void *data, size_t len),
    void *ctx);
/* Ends the body: a non-empty body ends with CRLF; an empty one is "". */
void dkim_body_canon_end(struct dkim_body_canon *c,
    void (*out)(void *ctx, const void *data, size_t len), void *ctx);

#endif
