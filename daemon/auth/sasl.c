#include <string.h>

#include "auth/sasl.h"
#include "lib/base64.h"
#include "lib/util.h"

/* base64("Username:") and base64("Password:"), the LOGIN challenges. */
#define SASL_LOGIN_USER "VXNlcm5hbWU6"
#define SASL_LOGIN_PASS "UGFzc3dvcmQ6"
/* Room for a decoded PLAIN response: authzid, user, password, 2 NULs. */
#define SASL_PLAIN_MAX (SASL_USER_MAX * 2 + SASL_PASSWORD_MAX + 2)

int
sasl_mech_parse(const char *name, enum sasl_mech *mech_r)
{
	if (strcasecmp(name, "PLAIN") == 0)
		*mech_r = SASL_PLAIN;
	else if (strcasecmp(name, "LOGIN") == 0)
		*mech_r = SASL_LOGIN;
	else
		return -1;
	return 0;
}

/* Decodes a response into buf (size bufsize); -1 when bad or too big. */
static long
sasl_decode(const char *line, size_t len, unsigned char *buf, size_t bufsize)
{
	if (len == 1 && line[0] == '=')
		return 0;	/* RFC 4959: "=" is an empty response */
	if (len / 4 * 3 > bufsize)
		return -1;
	return base64_decode(line, len, buf);
}

/* RFC 4616 2: [authzid] NUL authcid NUL passwd */
static int
sasl_plain(struct sasl *s, const unsigned char *p, size_t n,
    const char **error_r)
{
	const unsigned char *nul1, *nul2, *user, *pass;
	size_t ulen, plen;

	nul1 = memchr(p, '\0', n);
	if (nul1 == NULL)
		goto bad;
	nul2 = memchr(nul1 + 1, '\0', n - (size_t)(nul1 + 1 - p));
	if (nul2 == NULL)
		goto bad;
	user = nul1 + 1;
	ulen = (size_t)(nul2 - user);
	pass = nul2 + 1;
	plen = n - (size_t)(pass - p);
	/* Acting as another user (authzid) is not supported. */
	if (nul1 != p && ((size_t)(nul1 - p) != ulen ||
	    memcmp(p, user, ulen) != 0)) {
		*error_r = "authorization identity not supported";
		return SASL_ERROR;
	}
	if (ulen == 0 || ulen > SASL_USER_MAX || plen > SASL_PASSWORD_MAX ||
	    memchr(pass, '\0', plen) != NULL)
		goto bad;
	memcpy(s->user, user, ulen);
	s->user[ulen] = '\0';
	memcpy(s->password, pass, plen);
	s->password[plen] = '\0';
	s->password_len = plen;
	return SASL_DONE;
bad:
	*error_r = "malformed PLAIN response";
	return SASL_ERROR;
}

int
sasl_step(struct sasl *s, const char *line, size_t len,
    const char **challenge_r, const char **error_r)
{
	unsigned char buf[SASL_PLAIN_MAX + 3];
	long n;
	int ret;

	if (len == 1 && line[0] == '*')
		return SASL_CANCEL;
	n = sasl_decode(line, len, buf, sizeof(buf));
	if (n < 0) {
		*error_r = "invalid base64";
		return SASL_ERROR;
	}
	if (s->mech == SASL_PLAIN) {
		ret = sasl_plain(s, buf, (size_t)n, error_r);
		mem_wipe(buf, sizeof(buf));
		return ret;
	}
	/* LOGIN: user name, then password. */
	if (s->step == 0) {
		if (n == 0 || n > SASL_USER_MAX ||
		    memchr(buf, '\0', (size_t)n) != NULL) {
			*error_r = "malformed user name";
			return SASL_ERROR;
		}
		memcpy(s->user, buf, (size_t)n);
		s->user[n] = '\0';
		s->step = 1;
		*challenge_r = SASL_LOGIN_PASS;
		return SASL_CONTINUE;
	}
	if (n > SASL_PASSWORD_MAX || memchr(buf, '\0', (size_t)n) != NULL) {
		mem_wipe(buf, sizeof(buf));
		*error_r = "malformed password";
		return SASL_ERROR;
	}
	memcpy(s->password, buf, (size_t)n);
	s->password[n] = '\0';
	s->password_len = (size_t)n;
	mem_wipe(buf, sizeof(buf));
	return SASL_DONE;
}

int
sasl_start(struct sasl *s, enum sasl_mech mech, const char *initial,
    const char **challenge_r, const char **error_r)
{
	memset(s, 0, sizeof(*s));
	s->mech = mech;
	if (initial != NULL)
		return sasl_step(s, initial, strlen(initial), challenge_r,
		    error_r);
	/* RFC 4616: an empty challenge; LOGIN asks for the user name. */
	*challenge_r = mech == SASL_PLAIN ? "" : SASL_LOGIN_USER;
	return SASL_CONTINUE;
}

void
sasl_clear(struct sasl *s)
{
	mem_wipe(s, sizeof(*s));
}
