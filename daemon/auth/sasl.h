/*
 * sasl.h: the server side of the SASL mechanisms Facteur offers, PLAIN
 * (RFC 4616) and LOGIN (draft-murchison-sasl-login), shared by SMTP AUTH
 * (RFC 4954), POP3 AUTH (RFC 5034) and IMAP AUTHENTICATE (RFC 3501,
 * SASL-IR RFC 4959). Pure: it turns base64 client responses into a user
 * name and a password, and the protocol module writes the challenges
 * (base64 text given here) in its own syntax. Depends on lib/ only.
 */
#ifndef FACTEUR_SASL_H
#define FACTEUR_SASL_H

#include <stdbool.h>
#include <stddef.h>

#define SASL_USER_MAX 320
#define SASL_PASSWORD_MAX 1024

enum sasl_mech { SASL_PLAIN, SASL_LOGIN };

enum sasl_result {
	SASL_CONTINUE = 0,	/* send *challenge_r and feed the answer */
	SASL_DONE = 1,		/* user and password are set */
	SASL_ERROR = -1,	/* malformed exchange (*error_r) */
	SASL_CANCEL = -2,	/* the client sent "*" (RFC 4422 3.5) */
};

struct sasl {
	enum sasl_mech mech;
	int step;
	char user[SASL_USER_MAX + 1];
	char password[SASL_PASSWORD_MAX + 1];
	size_t password_len;
};

/* Finds a mechanism by name (case-insensitive). 0 or -1. */
int sasl_mech_parse(const char *name, enum sasl_mech *mech_r);

/*
 * Starts an exchange; initial is the initial response (base64, "=" for an
 * empty one) or NULL when none was given. Returns SASL_CONTINUE with the
 * first challenge, SASL_DONE, or an error.
 */
int sasl_start(struct sasl *s, enum sasl_mech mech, const char *initial,
    const char **challenge_r, const char **error_r);

/* Feeds one client response line (base64, without CRLF). */
int sasl_step(struct sasl *s, const char *line, size_t len,
    const char **challenge_r, const char **error_r);

/* Wipes the credentials. */
void sasl_clear(struct sasl *s);

#endif
