/*
 * log.h: key=value log lines on stderr (journald adds the timestamp under
 * systemd; we add one anyway for foreground runs). Thread-safe: one
 * fprintf per line. Client-supplied strings must go through log_clean.
 * Passwords, AUTH payloads and cookies are never logged.
 */
#ifndef FACTEUR_LOG_H
#define FACTEUR_LOG_H

#include <stddef.h>

#include "util.h"

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };

/* Sets the lowest level written; accepts "debug", "info", "warn",
 * "error". Returns 0 or -1 for an unknown name. */
int log_set_level(const char *name);

void log_msg(enum log_level level, const char *fmt, ...) ATTR_PRINTF(2, 3);

#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)

/* Longest client string kept in a log line, before escaping. */
#define LOG_CLEAN_MAX 128
/* Size of a buffer that always holds log_clean's output. */
#define LOG_CLEAN_SIZE (LOG_CLEAN_MAX * 4 + 8)

/*
 * Makes an untrusted slice safe for a key=value line: at most
 * LOG_CLEAN_MAX input bytes (then "..."), bytes outside printable ASCII,
 * '"', '\\' and spaces written as \xNN, so a value never needs quoting.
 * Returns out.
 */
char *log_clean(const char *s, size_t len, char *out);

#endif
