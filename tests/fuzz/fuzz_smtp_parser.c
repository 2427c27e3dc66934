/*
 * fuzz_smtp_parser.c: the SMTP parsers on arbitrary bytes. The first byte
 * picks the split size, so chunk boundaries are fuzzed too. Checks the
 * parsers' output bounds, not just the absence of crashes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smtp/smtp_parser.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
fuzz_lines(const char *p, size_t len, size_t step)
{
	struct smtp_line line;
	struct smtp_cmd *cmd = malloc(sizeof(*cmd));

	smtp_line_init(&line);
	while (len > 0) {
		size_t n = len < step ? len : step, used;
		enum smtp_line_result r = smtp_line_feed(&line, p, n, &used);

		if (used > n)
			abort();
		if (r == SMTP_LINE_OK) {
			const char *error;

			if (line.len > SMTP_LINE_MAX)
				abort();
			if (smtp_cmd_parse(line.buf, line.len, cmd,
			    &error) < 0 && error == NULL)
				abort();
		}
		if (used == 0 && r == SMTP_LINE_MORE)
			abort();	/* no progress */
		p += used;
		len -= used;
	}
	free(cmd);
}

static void
fuzz_data(const char *p, size_t len, size_t step)
{
	struct smtp_data d;
	char *out = malloc(step + 1);

	smtp_data_init(&d);
	while (len > 0) {
		size_t n = len < step ? len : step, used, outlen;
		int end = smtp_data_feed(&d, p, n, out, &outlen, &used);

		if (used > n || outlen > n)
			abort();
		p += used;
		len -= used;
		if (end)
			break;
		if (used == 0)
			abort();
	}
	free(out);
}

static void
fuzz_bdat(const char *p, size_t len, size_t step)
{
	struct smtp_bdat b;
	char *out = malloc(step + 1);

	smtp_bdat_init(&b);
	while (len > 0) {
		size_t n = len < step ? len : step;

		if (smtp_bdat_feed(&b, p, n, out) > n)
			abort();
		p += n;
		len -= n;
	}
	if (smtp_bdat_finish(&b, out) > 1)
		abort();
	free(out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t step;

	if (size < 1)
		return 0;
	step = (size_t)data[0] % 64 + 1;
	fuzz_lines((const char *)data + 1, size - 1, step);
	fuzz_data((const char *)data + 1, size - 1, step);
	fuzz_bdat((const char *)data + 1, size - 1, step);
	return 0;
}
