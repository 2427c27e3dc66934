/*
 * t.h: the unit-test harness. Include once per test binary; each CHECK
 * counts one assertion and prints the failing expression with its line.
 * t_done() prints "N passed, N failed" and returns the exit status.
 */
#ifndef FACTEUR_T_H
#define FACTEUR_T_H

#include <stdio.h>
#include <string.h>

static int t_passed, t_failed;

#define CHECK(expr) do { \
	if (expr) { \
		t_passed++; \
	} else { \
		t_failed++; \
		fprintf(stderr, "FAIL %s:%d: %s\n", __FILE__, __LINE__, #expr); \
	} \
} while (0)

#define CHECK_MSG(expr, ...) do { \
	if (expr) { \
		t_passed++; \
	} else { \
		t_failed++; \
		fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #expr); \
		fprintf(stderr, __VA_ARGS__); \
		fputc('\n', stderr); \
	} \
} while (0)

/* A function, so arrays and pointers can be compared alike. */
static inline int
t_streq(const char *a, const char *b)
{
	return a != NULL && b != NULL && strcmp(a, b) == 0;
}

static inline const char *
t_str(const char *s)
{
	return s != NULL ? s : "(null)";
}

#define CHECK_STREQ(a, b) CHECK_MSG(t_streq((a), (b)), "'%s' != '%s'", \
	t_str(a), t_str(b))

static inline int
t_done(const char *suite)
{
	printf("%s: %d passed, %d failed\n", suite, t_passed, t_failed);
	return t_failed == 0 ? 0 : 1;
}

#endif
