#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "lib/base64.h"
#include "lib/buf.h"
#include "lib/util.h"
#include "smtp/dkim.h"

/* Bounds on the header scan: fields of any length, but not any number. */
#define DKIM_MAX_FIELDS 1000
#define DKIM_READ_CHUNK (64 * 1024)
/* Fold the DKIM-Signature header before this column (RFC 5322 2.1.1:
 * lines SHOULD be at most 78 characters). */
#define DKIM_FOLD_COL 76
/* A folded line starts with a tab; count it as 8 columns. */
#define DKIM_TAB_COL 8

/* The fields signed when present, in h= order; From is required. */
static const char *const dkim_sign_fields[] = {
	"from", "to", "cc", "subject", "date", "message-id", "reply-to",
	"in-reply-to", "references", "mime-version", "content-type",
	"content-transfer-encoding",
};

static __thread char dkim_errbuf[512];

/* OpenSSL's error queue becomes text here, once. */
static const char *
dkim_error_ssl(const char *what)
{
	unsigned long e = ERR_get_error();
	char ebuf[256];

	if (e == 0)
		return what;
	ERR_error_string_n(e, ebuf, sizeof(ebuf));
	ERR_clear_error();
	if (str_printf(dkim_errbuf, sizeof(dkim_errbuf), "%s: %s", what,
	    ebuf) < 0)
		return what;
	return dkim_errbuf;
}

static const char *
dkim_error_errno(const char *what, const char *path)
{
	char ebuf[128];

	if (str_printf(dkim_errbuf, sizeof(dkim_errbuf), "%s %s: %s", what,
	    path, strerror_r(errno, ebuf, sizeof(ebuf))) < 0)
		return what;
	return dkim_errbuf;
}

/* ---- keys ---- */

int
dkim_key_generate(const char *path, enum dkim_alg alg, const char **error_r)
{
	EVP_PKEY *pkey;
	FILE *fp;
	int fd, ok;

	if (alg == DKIM_RSA)
		pkey = EVP_RSA_gen(2048);
	else
		pkey = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	if (pkey == NULL) {
		*error_r = dkim_error_ssl("DKIM key generation failed");
		return -1;
	}
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd == -1) {
		*error_r = dkim_error_errno("cannot create DKIM key", path);
		EVP_PKEY_free(pkey);
		return -1;
	}
	fp = fdopen(fd, "w");
	if (fp == NULL) {
		*error_r = dkim_error_errno("cannot create DKIM key", path);
		close(fd);
		unlink(path);
		EVP_PKEY_free(pkey);
		return -1;
	}
	/* PKCS#8 "PRIVATE KEY", unencrypted: the file mode protects it */
	ok = PEM_write_PrivateKey(fp, pkey, NULL, NULL, 0, NULL, NULL);
	EVP_PKEY_free(pkey);
	if (!ok) {
		*error_r = dkim_error_ssl("cannot write DKIM key");
		fclose(fp);
		unlink(path);
		return -1;
	}
	if (fflush(fp) != 0 || fsync(fileno(fp)) != 0) {
		*error_r = dkim_error_errno("cannot write DKIM key", path);
		fclose(fp);
		unlink(path);
		return -1;
	}
	if (fclose(fp) != 0) {
		*error_r = dkim_error_errno("cannot write DKIM key", path);
		unlink(path);
		return -1;
	}
	return 0;
}

static EVP_PKEY *
dkim_key_load(const char *path, enum dkim_alg *alg_r, const char **error_r)
{
	EVP_PKEY *pkey;
	FILE *fp;

	fp = fopen(path, "re");
	if (fp == NULL) {
		*error_r = dkim_error_errno("cannot open DKIM key", path);
		return NULL;
	}
	pkey = PEM_read_PrivateKey(fp, NULL, NULL, NULL);
	fclose(fp);
	if (pkey == NULL) {
		*error_r = dkim_error_ssl("cannot read DKIM key");
		return NULL;
	}
	if (EVP_PKEY_is_a(pkey, "RSA")) {
		*alg_r = DKIM_RSA;
	} else if (EVP_PKEY_is_a(pkey, "ED25519")) {
		*alg_r = DKIM_ED25519;
	} else {
		*error_r = "DKIM key is neither RSA nor Ed25519";
		EVP_PKEY_free(pkey);
		return NULL;
	}
	return pkey;
}

char *
dkim_txt_record(const char *path, const char **error_r)
{
	enum dkim_alg alg;
	EVP_PKEY *pkey;
	unsigned char *der = NULL;
	unsigned char raw[32];
	size_t rawlen = sizeof(raw);
	char *b64, *txt;
	int len;

	pkey = dkim_key_load(path, &alg, error_r);
	if (pkey == NULL)
		return NULL;
	if (alg == DKIM_RSA) {
		/* RFC 6376 3.6.1: p= is the DER SubjectPublicKeyInfo */
		len = i2d_PUBKEY(pkey, &der);
		EVP_PKEY_free(pkey);
		if (len <= 0) {
			*error_r = dkim_error_ssl("cannot encode DKIM key");
			return NULL;
		}
		b64 = xmalloc(BASE64_ENCODED_SIZE((size_t)len));
		base64_encode(der, (size_t)len, b64);
		OPENSSL_free(der);
		txt = xasprintf("v=DKIM1; k=rsa; p=%s", b64);
	} else {
		/* RFC 8463 3: p= is the raw 32-byte public key */
		if (EVP_PKEY_get_raw_public_key(pkey, raw, &rawlen) != 1) {
			*error_r = dkim_error_ssl("cannot encode DKIM key");
			EVP_PKEY_free(pkey);
			return NULL;
		}
		EVP_PKEY_free(pkey);
		b64 = xmalloc(BASE64_ENCODED_SIZE(rawlen));
		base64_encode(raw, rawlen, b64);
		txt = xasprintf("v=DKIM1; k=ed25519; p=%s", b64);
	}
	free(b64);
	return txt;
}

/* ---- canonicalization (RFC 6376 3.4.2, 3.4.4) ---- */

static bool
dkim_is_wsp(char c)
{
	return c == ' ' || c == '\t';
}

size_t
dkim_canon_header(const char *field, size_t len, char *out)
{
	const char *colon = memchr(field, ':', len);
	size_t name_len, o = 0, i;
	bool wsp = false, started = false;

	/* the name lower-cased, without WSP before the colon */
	name_len = colon != NULL ? (size_t)(colon - field) : len;
	while (name_len > 0 && dkim_is_wsp(field[name_len - 1]))
		name_len--;
	for (i = 0; i < name_len; i++) {
		char c = field[i];

		out[o++] = c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
	}
	if (colon == NULL)
		goto done;
	out[o++] = ':';
	/* the value unfolded, WSP runs as one SP, none at either end */
	for (i = (size_t)(colon - field) + 1; i < len; i++) {
		char c = field[i];

		if (c == '\r' || c == '\n')
			continue;
		if (dkim_is_wsp(c)) {
			wsp = true;
			continue;
		}
		if (wsp && started)
			out[o++] = ' ';
		wsp = false;
		started = true;
		out[o++] = c;
	}
done:
	out[o++] = '\r';
	out[o++] = '\n';
	out[o] = '\0';
	return o;
}

void
dkim_body_canon_init(struct dkim_body_canon *c)
{
	memset(c, 0, sizeof(*c));
	c->line_empty = true;
}

static void
dkim_body_canon_eol(struct dkim_body_canon *c,
    void (*out)(void *ctx, const void *data, size_t len), void *ctx)
{
	/* trailing WSP is dropped; empty lines wait to see if they are
	 * at the end of the body */
	if (c->line_empty)
		c->pending_blank++;
	else
		out(ctx, "\r\n", 2);
	c->wsp = false;
	c->line_empty = true;
}

static void
dkim_body_canon_char(struct dkim_body_canon *c, char ch,
    void (*out)(void *ctx, const void *data, size_t len), void *ctx)
{
	if (dkim_is_wsp(ch)) {
		c->wsp = true;
		return;
	}
	if (c->line_empty) {
		/* the empty lines held back were not at the end */
		for (; c->pending_blank > 0; c->pending_blank--)
			out(ctx, "\r\n", 2);
		c->line_empty = false;
		c->any = true;
	}
	if (c->wsp) {
		out(ctx, " ", 1);
		c->wsp = false;
	}
	out(ctx, &ch, 1);
}

void
dkim_body_canon_feed(struct dkim_body_canon *c, const char *in, size_t len,
    void (*out)(void *ctx, const void *data, size_t len), void *ctx)
{
	for (size_t i = 0; i < len; i++) {
		char ch = in[i];

		if (c->cr) {
			c->cr = false;
			if (ch == '\n') {
				dkim_body_canon_eol(c, out, ctx);
				continue;
			}
			dkim_body_canon_char(c, '\r', out, ctx);
		}
		if (ch == '\r')
			c->cr = true;
		else if (ch == '\n')
			dkim_body_canon_eol(c, out, ctx);
		else
			dkim_body_canon_char(c, ch, out, ctx);
	}
}

void
dkim_body_canon_end(struct dkim_body_canon *c,
    void (*out)(void *ctx, const void *data, size_t len), void *ctx)
{
	/* a final CR is a line end, as smtp/client.c sends it */
	if (c->cr || !c->line_empty)
		dkim_body_canon_eol(c, out, ctx);
	c->cr = false;
	/* RFC 6376 3.4.4: empty lines at the end are ignored, and an
	 * empty body stays empty */
	c->pending_blank = 0;
}

/* ---- signing ---- */

struct dkim_field {
	const char *start;
	size_t len;
};

static int
dkim_fields_find(const char *header, size_t header_len,
    struct dkim_field *found, const char **error_r)
{
	size_t pos = 0, nfields = 0, cur = ARRAY_SIZE(dkim_sign_fields);
	size_t i, line_len, name_len;
	const char *line, *nl, *colon;

	memset(found, 0, sizeof(*found) * ARRAY_SIZE(dkim_sign_fields));
	while (pos < header_len) {
		line = header + pos;
		nl = memchr(line, '\n', header_len - pos);
		line_len = nl != NULL ? (size_t)(nl - line) + 1 :
		    header_len - pos;

		pos += line_len;
		if (line[0] == '\n' || (line[0] == '\r' && line_len > 1 &&
		    line[1] == '\n'))
			break;
		if (dkim_is_wsp(line[0])) {
			/* a continuation line of the current field */
			if (cur < ARRAY_SIZE(dkim_sign_fields))
				found[cur].len += line_len;
			continue;
		}
		if (++nfields > DKIM_MAX_FIELDS) {
			*error_r = "too many header fields to sign";
			return -1;
		}
		cur = ARRAY_SIZE(dkim_sign_fields);
		colon = memchr(line, ':', line_len);
		if (colon == NULL)
			continue;
		name_len = (size_t)(colon - line);
		while (name_len > 0 && dkim_is_wsp(line[name_len - 1]))
			name_len--;
		for (i = 0; i < ARRAY_SIZE(dkim_sign_fields); i++) {
			if (str_ieq_n(line, name_len, dkim_sign_fields[i]))
				break;
		}
		if (i == ARRAY_SIZE(dkim_sign_fields))
			continue;
		/* RFC 6376 5.4.2: a name listed once signs the last
		 * instance */
		cur = i;
		found[i].start = line;
		found[i].len = line_len;
	}
	if (found[0].start == NULL) {
		*error_r = "no From header field to sign";
		return -1;
	}
	return 0;
}

static void
dkim_digest_out(void *ctx, const void *data, size_t len)
{
	/* sha256 updates cannot fail short of a broken library */
	(void)EVP_DigestUpdate(ctx, data, len);
}

static int
dkim_body_hash(int fd, uint64_t offset, uint64_t size, char *bh,
    const char **error_r)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	struct dkim_body_canon canon;
	unsigned char digest[EVP_MAX_MD_SIZE];
	unsigned int dlen;
	char *chunk;
	int ret = -1;

	if (md == NULL || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
		*error_r = dkim_error_ssl("sha256");
		EVP_MD_CTX_free(md);
		return -1;
	}
	chunk = xmalloc(DKIM_READ_CHUNK);
	dkim_body_canon_init(&canon);
	while (size > 0) {
		size_t want = size < DKIM_READ_CHUNK ? (size_t)size :
		    DKIM_READ_CHUNK;
		ssize_t n = pread(fd, chunk, want, (off_t)offset);

		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			*error_r = dkim_error_errno("cannot read", "body");
			goto out;
		}
		if (n == 0) {
			*error_r = "message body shorter than expected";
			goto out;
		}
		dkim_body_canon_feed(&canon, chunk, (size_t)n,
		    dkim_digest_out, md);
		offset += (uint64_t)n;
		size -= (uint64_t)n;
	}
	dkim_body_canon_end(&canon, dkim_digest_out, md);
	if (EVP_DigestFinal_ex(md, digest, &dlen) != 1) {
		*error_r = dkim_error_ssl("sha256");
		goto out;
	}
	base64_encode(digest, dlen, bh);
	ret = 0;
out:
	free(chunk);
	EVP_MD_CTX_free(md);
	return ret;
}

/*
 * Appends s[0..len) to the folded header. A tag starts on the current
 * line after a space when it fits, else on a new line; a piece that
 * continues a tag goes on with no space. With split, the piece may be
 * broken anywhere (base64: FWS inside b= and bh= is ignored, RFC 6376
 * 3.5).
 */
static void
dkim_fold_put(struct buf *b, size_t *col, const char *s, size_t len,
    bool tag_start, bool split)
{
	if (*col + (tag_start ? 1 : 0) + (split ? 4 : len) > DKIM_FOLD_COL) {
		buf_append(b, "\n\t", 2);
		*col = DKIM_TAB_COL;
	} else if (tag_start) {
		buf_append(b, " ", 1);
		(*col)++;
	}
	while (len > 0) {
		size_t room = DKIM_FOLD_COL > *col ? DKIM_FOLD_COL - *col : 0;
		size_t n = split && room < len ? room : len;

		if (n == 0) {
			buf_append(b, "\n\t", 2);
			*col = DKIM_TAB_COL;
			continue;
		}
		buf_append(b, s, n);
		*col += n;
		s += n;
		len -= n;
	}
}

static int
dkim_sign_data(EVP_PKEY *pkey, enum dkim_alg alg, const char *data,
    size_t len, char **sig_r, const char **error_r)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned char digest[32], *sig = NULL;
	size_t siglen = 0;
	int ok;

	if (md == NULL) {
		*error_r = dkim_error_ssl("EVP_MD_CTX_new");
		return -1;
	}
	if (alg == DKIM_RSA) {
		/* RFC 6376 3.3.1: RSASSA-PKCS1-v1_5 with SHA-256 */
		ok = EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL,
		    pkey) == 1;
	} else {
		/* RFC 8463 3: pure Ed25519 over the SHA-256 of the data */
		ok = EVP_Digest(data, len, digest, NULL, EVP_sha256(),
		    NULL) == 1 &&
		    EVP_DigestSignInit(md, NULL, NULL, NULL, pkey) == 1;
		data = (const char *)digest;
		len = sizeof(digest);
	}
	ok = ok && EVP_DigestSign(md, NULL, &siglen,
	    (const unsigned char *)data, len) == 1;
	if (ok) {
		sig = xmalloc(siglen);
		ok = EVP_DigestSign(md, sig, &siglen,
		    (const unsigned char *)data, len) == 1;
	}
	EVP_MD_CTX_free(md);
	if (!ok) {
		*error_r = dkim_error_ssl("DKIM signing failed");
		free(sig);
		return -1;
	}
	*sig_r = xmalloc(BASE64_ENCODED_SIZE(siglen));
	base64_encode(sig, siglen, *sig_r);
	free(sig);
	return 0;
}

char *
dkim_sign(const char *key_path, const char *domain, const char *selector,
    const char *header, size_t header_len, int body_fd, uint64_t body_offset,
    uint64_t body_size, const char **error_r)
{
	struct dkim_field found[ARRAY_SIZE(dkim_sign_fields)];
	char bh[BASE64_ENCODED_SIZE(32)];
	struct buf hdr, data, tag;
	enum dkim_alg alg;
	EVP_PKEY *pkey;
	char *sig = NULL, *canon, *ret = NULL;
	size_t col, i, n;
	bool first = true;

	if (dkim_fields_find(header, header_len, found, error_r) < 0)
		return NULL;
	if (dkim_body_hash(body_fd, body_offset, body_size, bh, error_r) < 0)
		return NULL;
	pkey = dkim_key_load(key_path, &alg, error_r);
	if (pkey == NULL)
		return NULL;

	buf_init(&hdr);
	buf_init(&data);
	buf_init(&tag);

	/* RFC 6376 3.5; the tags up to an empty b=, folded */
	buf_append_str(&hdr, "DKIM-Signature:");
	col = hdr.len;
	buf_printf(&tag, "v=1; a=%s; c=relaxed/relaxed; d=%s; s=%s; t=%lld;",
	    alg == DKIM_RSA ? "rsa-sha256" : "ed25519-sha256", domain,
	    selector, (long long)time(NULL));
	/* each "tag=value;" of the fixed part is one unit */
	for (const char *p = tag.data; *p != '\0';) {
		const char *semi = strchr(p, ';');

		n = (size_t)(semi - p) + 1;
		dkim_fold_put(&hdr, &col, p, n, true, false);
		p = semi + 1;
		while (*p == ' ')
			p++;
	}
	/* h=: FWS may surround the colons (RFC 6376 3.5 sig-h-tag) */
	for (i = 0; i < ARRAY_SIZE(found); i++) {
		if (found[i].start == NULL)
			continue;
		buf_reset(&tag);
		buf_printf(&tag, "%s%s", first ? "h=" : ":",
		    dkim_sign_fields[i]);
		dkim_fold_put(&hdr, &col, tag.data, tag.len, first, false);
		first = false;
	}
	buf_append(&hdr, ";", 1);
	col++;
	dkim_fold_put(&hdr, &col, "bh=", 3, true, false);
	dkim_fold_put(&hdr, &col, bh, strlen(bh), false, true);
	buf_append(&hdr, ";", 1);
	col++;
	dkim_fold_put(&hdr, &col, "b=", 2, true, false);

	/* RFC 6376 3.7: the signed fields in h= order, then this header
	 * canonicalized without its final CRLF */
	for (i = 0; i < ARRAY_SIZE(found); i++) {
		if (found[i].start == NULL)
			continue;
		canon = xmalloc(found[i].len + 3);
		n = dkim_canon_header(found[i].start, found[i].len, canon);
		buf_append(&data, canon, n);
		free(canon);
	}
	canon = xmalloc(hdr.len + 3);
	n = dkim_canon_header(hdr.data, hdr.len, canon);
	buf_append(&data, canon, n - 2);
	free(canon);

	if (dkim_sign_data(pkey, alg, data.data, data.len, &sig,
	    error_r) < 0)
		goto out;
	dkim_fold_put(&hdr, &col, sig, strlen(sig), false, true);
	buf_append(&hdr, "\n", 1);
	ret = xstrndup(hdr.data, hdr.len);
out:
	free(sig);
	buf_deinit(&tag);
	buf_deinit(&data);
	buf_deinit(&hdr);
	EVP_PKEY_free(pkey);
	return ret;
}
