#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "log.h"

static enum log_level log_min_level = LOG_INFO;
static const char *const log_level_names[] = {
	"debug", "info", "warn", "error"
};

int
log_set_level(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(log_level_names); i++) {
		if (strcmp(name, log_level_names[i]) == 0) {
			log_min_level = (enum log_level)i;
			return 0;
		}
	}
	return -1;
}

void
log_msg(enum log_level level, const char *fmt, ...)
{
	char line[2048], ts[32];
	struct timespec now;
	struct tm tm;
	va_list ap;
	int n;

	if (level < log_min_level)
		return;
	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	/* One write per line so lines from threads do not interleave. */
	fprintf(stderr, "%s.%03ldZ level=%s %s\n", ts,
	    now.tv_nsec / 1000000, log_level_names[level], line);
}

char *
log_clean(const char *s, size_t len, char *out)
{
	static const char hex[] = "0123456789abcdef";
	size_t i, o = 0;

	for (i = 0; i < len && i < LOG_CLEAN_MAX; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c > 0x20 && c < 0x7f && c != '"' && c != '\\' &&
		    c != '=') {
			out[o++] = (char)c;
		} else {
			out[o++] = '\\';
			out[o++] = 'x';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 0xf];
		}
	}
	if (i < len) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o] = '\0';
	return out;
}
