/* fuzz_pop3_parser.c: the POP3 line reader, command parser and encoder on
 * arbitrary bytes, with the output bounds checked. */
#include <stdint.h>
#include <stdlib.h>

#include "pop3/pop3_parser.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data;
	struct pop3_line *l = malloc(sizeof(*l));
	struct pop3_cmd *cmd = malloc(sizeof(*cmd));
	struct pop3_encoder e;
	char *out = malloc(size * 2 + 8);
	size_t left = size, used, step;

	if (size == 0)
		goto out;
	step = data[0] % 32 + 1;
	pop3_line_init(l, data[0] & 1 ? POP3_AUTH_LINE_MAX : POP3_LINE_MAX);
	while (left > 0) {
		size_t n = left < step ? left : step;
		enum pop3_line_result r = pop3_line_feed(l, p, n, &used);
		const char *err;

		if (used > n || (used == 0 && n > 0))
			abort();
		if (r == POP3_LINE_OK) {
			uint32_t num;

			if (pop3_cmd_parse(l->buf, l->len, cmd, &err) == 0 &&
			    cmd->nargs > 0)
				(void)pop3_msgnum(cmd->args[0], 100, &num);
		}
		p += used;
		left -= used;
	}
	pop3_encoder_init(&e, data[0] & 2 ? (long long)(data[0] >> 2) : -1);
	{
		size_t o = pop3_encode(&e, (const char *)data, size, out, &used);

		if (o > size * 2 || used > size)
			abort();
		if (pop3_encode_end(&e, out) > 5)
			abort();
	}
out:
	free(out);
	free(cmd);
	free(l);
	return 0;
}
