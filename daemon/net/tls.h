/*
 * tls.h: OpenSSL server contexts and the self-signed certificate made on
 * first start. Used by net/ and serve; protocol modules never include it.
 */
#ifndef FACTEUR_TLS_H
#define FACTEUR_TLS_H

#include <openssl/ssl.h>

/* A server context: TLS 1.2 or newer, the certificate chain and key from
 * PEM files. NULL and *error_r (static or OpenSSL's text in a static
 * buffer of the calling thread) on failure. */
SSL_CTX *tls_ctx_new(const char *cert_path, const char *key_path,
    const char **error_r);

/* Writes a self-signed certificate for hostname (EC P-256, SAN DNS entry,
 * valid 10 years) and its key (mode 0600). 0 or -1 with *error_r. */
int tls_selfsigned_write(const char *cert_path, const char *key_path,
    const char *hostname, const char **error_r);

/* SHA-256 fingerprint of the PEM certificate as "AB:CD:..." into out
 * (size >= 96). 0 or -1. */
int tls_cert_fingerprint(const char *cert_path, char *out, size_t outsize);

#endif
