#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

static void ATTR_NORETURN
util_oom(void)
{
	/* No allocation here: write(2) a fixed string and abort. */
	fputs("facteur: out of memory\n", stderr);
	abort();
}

void *
xmalloc(size_t size)
{
	void *p = malloc(size ? size : 1);

	if (p == NULL)
		util_oom();
	return p;
}

void *
xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);

	if (p == NULL)
		util_oom();
	return p;
}

void *
xrealloc(void *p, size_t size)
{
	void *np = realloc(p, size ? size : 1);

	if (np == NULL)
		util_oom();
	return np;
}

char *
xstrdup(const char *s)
{
	return xstrndup(s, strlen(s));
}

char *
xstrndup(const char *s, size_t len)
{
	char *p = xmalloc(len + 1);

	memcpy(p, s, len);
	p[len] = '\0';
	return p;
}

char *
xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *s;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0)
		util_oom();
	return s;
}

size_t
str_lcpy(char *dst, const char *src, size_t size)
{
	size_t len = strlen(src);

	if (size > 0) {
		size_t n = len < size - 1 ? len : size - 1;

		memcpy(dst, src, n);
		dst[n] = '\0';
	}
	return len;
}

int
str_printf(char *dst, size_t size, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(dst, size, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= size)
		return -1;
	return n;
}

bool
str_ieq_n(const char *s, size_t len, const char *word)
{
	size_t wlen = strlen(word);

	return wlen == len && strncasecmp(s, word, len) == 0;
}

void
str_lower(char *s)
{
	for (; *s != '\0'; s++) {
		if (*s >= 'A' && *s <= 'Z')
			*s = (char)(*s - 'A' + 'a');
	}
}

int
str_to_u64(const char *s, size_t len, uint64_t max, uint64_t *value_r)
{
	uint64_t v = 0;

	if (len == 0)
		return -1;
	for (size_t i = 0; i < len; i++) {
		unsigned d;

		if (s[i] < '0' || s[i] > '9')
			return -1;
		d = (unsigned)(s[i] - '0');
		if (d > max || v > (max - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*value_r = v;
	return 0;
}

int
str_to_size(const char *s, uint64_t *value_r)
{
	size_t len = strlen(s);
	uint64_t mult = 1, v;

	if (len > 0) {
		switch (s[len - 1]) {
		case 'k': case 'K': mult = 1024ULL; len--; break;
		case 'm': case 'M': mult = 1024ULL * 1024; len--; break;
		case 'g': case 'G': mult = 1024ULL * 1024 * 1024; len--; break;
		case 't': case 'T': mult = 1024ULL * 1024 * 1024 * 1024; len--;
			break;
		default: break;
		}
	}
	if (str_to_u64(s, len, UINT64_MAX / mult, &v) < 0)
		return -1;
	*value_r = v * mult;
	return 0;
}

void
mem_wipe(void *p, size_t len)
{
	volatile unsigned char *vp = p;

	while (len-- > 0)
		*vp++ = 0;
}

void
fatal(const char *fmt, ...)
{
	va_list ap;

	fputs("facteur: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

void
str_percent_encode(const char *s, const char *keep, char *out,
    size_t outsize)
{
	static const char digits[] = "0123456789ABCDEF";
	size_t o = 0;

	if (outsize == 0)
		return;
	for (const unsigned char *p = (const unsigned char *)s; *p != '\0';
	    p++) {
		bool plain = (*p >= 'a' && *p <= 'z') ||
		    (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		    strchr("-._~", *p) != NULL || strchr(keep, *p) != NULL;

		if (o + (plain ? 1 : 3) >= outsize)
			break;
		if (plain) {
			out[o++] = (char)*p;
		} else {
			out[o++] = '%';
			out[o++] = digits[*p >> 4];
			out[o++] = digits[*p & 15];
		}
	}
	out[o] = '\0';
}
