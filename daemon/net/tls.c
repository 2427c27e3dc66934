#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "lib/util.h"
#include "net/tls.h"

/* OpenSSL's error queue becomes text here, once. */
static const char *
tls_error_text(const char *what)
{
	static __thread char buf[512];
	unsigned long e = ERR_get_error();
	char ebuf[256];

	if (e == 0)
		return what;
	ERR_error_string_n(e, ebuf, sizeof(ebuf));
	ERR_clear_error();
	if (str_printf(buf, sizeof(buf), "%s: %s", what, ebuf) < 0)
		return what;
	return buf;
}

SSL_CTX *
tls_ctx_new(const char *cert_path, const char *key_path, const char **error_r)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

	if (ctx == NULL) {
		*error_r = tls_error_text("SSL_CTX_new");
		return NULL;
	}
	/* RFC 8996 retired TLS 1.0 and 1.1. */
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION |
	    SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	if (SSL_CTX_use_certificate_chain_file(ctx, cert_path) != 1) {
		*error_r = tls_error_text("cannot load certificate");
		SSL_CTX_free(ctx);
		return NULL;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, key_path, SSL_FILETYPE_PEM) != 1) {
		*error_r = tls_error_text("cannot load private key");
		SSL_CTX_free(ctx);
		return NULL;
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
		*error_r = tls_error_text("key does not match certificate");
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

static int
tls_write_pem(const char *path, mode_t mode, EVP_PKEY *key, X509 *cert)
{
	char tmp[4096];
	FILE *f;
	int fd, ok;

	if (str_printf(tmp, sizeof(tmp), "%s.tmp", path) < 0)
		return -1;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0)
		return -1;
	f = fdopen(fd, "w");
	if (f == NULL) {
		close(fd);
		return -1;
	}
	if (key != NULL)
		ok = PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL);
	else
		ok = PEM_write_X509(f, cert);
	if (fflush(f) != 0 || fsync(fileno(f)) != 0)
		ok = 0;
	if (fclose(f) != 0)
		ok = 0;
	if (!ok || rename(tmp, path) != 0) {
		unlink(tmp);
		return -1;
	}
	return 0;
}

int
tls_selfsigned_write(const char *cert_path, const char *key_path,
    const char *hostname, const char **error_r)
{
	EVP_PKEY *key = NULL;
	X509 *cert = NULL;
	X509_NAME *name;
	X509_EXTENSION *ext;
	X509V3_CTX v3;
	char san[300];
	unsigned char serial[16];
	BIGNUM *bn = NULL;
	int ret = -1;

	*error_r = "cannot generate certificate";
	key = EVP_EC_gen("P-256");
	cert = X509_new();
	if (key == NULL || cert == NULL)
		goto out;
	if (RAND_bytes(serial, sizeof(serial)) != 1)
		goto out;
	serial[0] &= 0x7f;
	bn = BN_bin2bn(serial, sizeof(serial), NULL);
	if (bn == NULL || BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert)) ==
	    NULL)
		goto out;
	X509_set_version(cert, 2);
	X509_gmtime_adj(X509_getm_notBefore(cert), -3600);
	X509_gmtime_adj(X509_getm_notAfter(cert), 10L * 365 * 24 * 3600);
	X509_set_pubkey(cert, key);
	name = X509_get_subject_name(cert);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
	    (const unsigned char *)hostname, -1, -1, 0);
	X509_set_issuer_name(cert, name);
	X509V3_set_ctx(&v3, cert, cert, NULL, NULL, 0);
	if (str_printf(san, sizeof(san), "DNS:%s", hostname) < 0)
		goto out;
	ext = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_alt_name, san);
	if (ext == NULL)
		goto out;
	X509_add_ext(cert, ext, -1);
	X509_EXTENSION_free(ext);
	ext = X509V3_EXT_conf_nid(NULL, &v3, NID_basic_constraints,
	    "critical,CA:FALSE");
	if (ext != NULL) {
		X509_add_ext(cert, ext, -1);
		X509_EXTENSION_free(ext);
	}
	ext = X509V3_EXT_conf_nid(NULL, &v3, NID_ext_key_usage, "serverAuth");
	if (ext != NULL) {
		X509_add_ext(cert, ext, -1);
		X509_EXTENSION_free(ext);
	}
	if (X509_sign(cert, key, EVP_sha256()) == 0)
		goto out;
	if (tls_write_pem(key_path, 0600, key, NULL) < 0) {
		*error_r = "cannot write private key";
		goto out;
	}
	if (tls_write_pem(cert_path, 0644, NULL, cert) < 0) {
		*error_r = "cannot write certificate";
		goto out;
	}
	ret = 0;
out:
	if (ret < 0 && ERR_peek_error() != 0)
		*error_r = tls_error_text(*error_r);
	BN_free(bn);
	X509_free(cert);
	EVP_PKEY_free(key);
	return ret;
}

int
tls_cert_fingerprint(const char *cert_path, char *out, size_t outsize)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	X509 *cert;
	FILE *f;
	size_t o = 0;

	f = fopen(cert_path, "r");
	if (f == NULL)
		return -1;
	cert = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	if (cert == NULL)
		return -1;
	if (X509_digest(cert, EVP_sha256(), md, &mdlen) != 1) {
		X509_free(cert);
		return -1;
	}
	X509_free(cert);
	if (outsize < mdlen * 3)
		return -1;
	for (unsigned int i = 0; i < mdlen; i++) {
		static const char hex[] = "0123456789ABCDEF";

		out[o++] = hex[md[i] >> 4];
		out[o++] = hex[md[i] & 0xf];
		out[o++] = i + 1 < mdlen ? ':' : '\0';
	}
	return 0;
}
