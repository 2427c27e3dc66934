/*
 * util.h: allocation that never returns NULL, bounded string helpers and
 * fatal(). Depends on libc only; every module may include it.
 */
#ifndef FACTEUR_UTIL_H
#define FACTEUR_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#define ATTR_PRINTF(f, a) __attribute__((format(printf, f, a)))
#define ATTR_NORETURN __attribute__((noreturn))

/* Allocation: abort the process on failure (out of memory is not an error
 * a caller can handle sensibly in a mail daemon). */
void *xmalloc(size_t size);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t size);
char *xstrdup(const char *s);
/* Copies len bytes of s and NUL-terminates; s may contain NUL bytes. */
char *xstrndup(const char *s, size_t len);
char *xasprintf(const char *fmt, ...) ATTR_PRINTF(1, 2);

/* Frees *p and sets it to NULL. */
#define xfree(p) do { free(p); (p) = NULL; } while (0)

/* Copies src into dst (size bytes), always NUL-terminating when size > 0.
 * Returns strlen(src); truncation happened when the result >= size. */
size_t str_lcpy(char *dst, const char *src, size_t size);

/* snprintf that returns -1 on truncation or error instead of a length. */
int str_printf(char *dst, size_t size, const char *fmt, ...)
    ATTR_PRINTF(3, 4);

/* s percent-encoded for a URL (RFC 3986): unreserved characters and
 * those in keep stay; truncated (never mid-escape) to fit outsize. */
void str_percent_encode(const char *s, const char *keep, char *out,
    size_t outsize);

/* ASCII case-insensitive comparison of a {pointer, length} slice with a
 * NUL-terminated word. Returns true when equal. */
bool str_ieq_n(const char *s, size_t len, const char *word);

/* Lower-cases ASCII letters in place; other bytes are left alone. */
void str_lower(char *s);

/* Parses a decimal unsigned integer occupying all of s[0..len).
 * Returns 0 and sets *value_r, or -1 on syntax error or overflow past max. */
int str_to_u64(const char *s, size_t len, uint64_t max, uint64_t *value_r);

/* Parses a size with an optional K, M, G suffix (powers of 1024).
 * Returns 0 or -1. */
int str_to_size(const char *s, uint64_t *value_r);

/* Overwrites len bytes with zeroes in a way the compiler keeps. */
void mem_wipe(void *p, size_t len);

/* Prints "facteur: " and the message to stderr and exits with status 1.
 * Only for start-up errors and broken invariants, never for client input. */
void fatal(const char *fmt, ...) ATTR_PRINTF(1, 2) ATTR_NORETURN;

#include "banned.h"

#endif
