/* fuzz_imap_parser.c: the IMAP command parser on arbitrary bytes at
 * varying split sizes, and its helpers (sequence sets, sections, dates,
 * LIST patterns, modified UTF-7) with round-trip properties checked. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "imap/imap_parser.h"
#include "lib/buf.h"
#include "lib/mutf7.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
fuzz_spool_open(void *ctx)
{
	if (*(const bool *)ctx)
		return -1;
	return memfd_create("fuzz_imap_parser", MFD_CLOEXEC);
}

static void
fuzz_seqset(const char *s, size_t len)
{
	struct imap_seqset set, again;
	struct buf out;

	if (imap_seqset_parse(s, len, &set) < 0)
		return;
	buf_init(&out);
	imap_seqset_format(&set, &out);
	/* what we print, we read back the same */
	if (imap_seqset_parse(out.data, out.len, &again) < 0 ||
	    again.count != set.count ||
	    memcmp(again.r, set.r, set.count * sizeof(*set.r)) != 0)
		abort();
	imap_seqset_free(&again);
	imap_seqset_resolve(&set, len > 0 ? (uint32_t)s[0] : 0);
	for (size_t i = 0; i < set.count; i++) {
		if (set.r[i].lo > set.r[i].hi || (i > 0 &&
		    set.r[i].lo <= set.r[i - 1].hi))
			abort();
		if (!imap_seqset_contains(&set, set.r[i].lo) ||
		    !imap_seqset_contains(&set, set.r[i].hi))
			abort();
	}
	buf_reset(&out);
	imap_seqset_format(&set, &out);
	imap_seqset_free(&set);
	buf_deinit(&out);
}

static void
fuzz_section(const char *s, size_t len)
{
	struct imap_section sec, again;

	if (imap_section_parse(s, len, &sec) < 0)
		return;
	if (sec.nparts > 32 || sec.canonical == NULL)
		abort();
	/* without a partial, the echo parses back to itself */
	if (!sec.partial) {
		if (imap_section_parse(sec.canonical, strlen(sec.canonical),
		    &again) < 0 || strcmp(again.canonical, sec.canonical) != 0)
			abort();
		imap_section_free(&again);
	}
	imap_section_free(&sec);
}

static void
fuzz_dates(const char *s, size_t len)
{
	time_t t, t2;
	int tz, tz2;
	char out[32];

	if (imap_datetime_parse(s, len, &t, &tz) == 0) {
		imap_datetime_format(t, tz, out, sizeof(out));
		if (imap_datetime_parse(out, strlen(out), &t2, &tz2) < 0 ||
		    t2 != t || tz2 != tz)
			abort();
	}
	(void)imap_date_parse(s, len, &t);
}

static void
fuzz_mutf7(const char *s, size_t len)
{
	struct buf a, b;

	buf_init(&a);
	buf_init(&b);
	/* a name that decodes is canonical: encoding gives it back (and
	 * the encoder takes only valid UTF-8) */
	if (mutf7_to_utf8(s, len, &a) == 0) {
		if (utf8_to_mutf7(a.data != NULL ? a.data : "", a.len,
		    &b) < 0 || b.len != len ||
		    (len > 0 && memcmp(b.data, s, len) != 0))
			abort();
	}
	buf_reset(&a);
	buf_reset(&b);
	if (utf8_to_mutf7(s, len, &a) == 0) {
		if (mutf7_to_utf8(a.data != NULL ? a.data : "", a.len,
		    &b) < 0 || b.len != len ||
		    (len > 0 && memcmp(b.data, s, len) != 0))
			abort();
	}
	buf_deinit(&a);
	buf_deinit(&b);
}

static void
fuzz_strings(const char *s, size_t len)
{
	struct buf out;

	buf_init(&out);
	imap_append_astring(&out, s, len);
	imap_append_nstring(&out, s, len);
	imap_append_quoted_or_literal(&out, s, len);
	buf_deinit(&out);
	fuzz_seqset(s, len);
	fuzz_section(s, len);
	fuzz_dates(s, len);
	fuzz_mutf7(s, len);
}

static void
fuzz_args(const struct imap_arg *v, size_t n, unsigned depth)
{
	if (depth > 8)
		abort();
	for (size_t i = 0; i < n; i++) {
		const struct imap_arg *a = &v[i];
		const char *s;
		size_t len;

		if (a->type == IMAP_ARG_LIST) {
			fuzz_args(a->list, a->count, depth + 1);
			continue;
		}
		if (a->type == IMAP_ARG_LITERAL && a->fd >= 0) {
			struct stat st;

			if (a->str != NULL || fstat(a->fd, &st) < 0 ||
			    (uint64_t)st.st_size != a->len)
				abort();
			continue;
		}
		if (imap_arg_astring(a, &s, &len) < 0 || s[len] != '\0')
			abort();
		fuzz_strings(s, len);
	}
}

static void
fuzz_list_match(const char *p, size_t size)
{
	const char *mid = memchr(p, '\n', size);
	char *pattern, *name;

	if (mid == NULL || size > 512)
		return;
	pattern = strndup(p, (size_t)(mid - p));
	name = strndup(mid + 1, size - (size_t)(mid - p) - 1);
	if (pattern != NULL && name != NULL) {
		bool m = imap_list_match(pattern, name, '/');

		/* "*" matches everything, a name matches itself (when free
		 * of wildcards) */
		if (!imap_list_match("*", name, '/'))
			abort();
		if (strpbrk(name, "*%") == NULL &&
		    !imap_list_match(name, name, '/'))
			abort();
		(void)m;
	}
	free(pattern);
	free(name);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct imap_parser_limits lim = { 0 };
	struct imap_parser *p;
	const char *in = (const char *)data + 1;
	size_t left, step;
	bool spool_fail;

	if (size == 0)
		return 0;
	step = data[0] & 0x3f ? (size_t)(data[0] & 0x3f) : size;
	spool_fail = (data[0] & 0x40) != 0;
	lim.max_line = 8192;
	lim.max_literal = 4096;
	lim.max_mem_literal = data[0] & 0x80 ? 16 : 1024;
	lim.max_depth = 8;
	lim.max_args = 30;
	lim.max_command = 6000;
	p = imap_parser_new(&lim, fuzz_spool_open, &spool_fail);
	left = size - 1;
	while (left > 0) {
		size_t n = left < step ? left : step, used = 0;
		enum imap_parse_status st = imap_parser_feed(p, in, n, &used);
		const struct imap_command *cmd;
		const char *tag;

		if (used > n || (st == IMAP_PARSE_MORE && used != n))
			abort();
		in += used;
		left -= used;
		if (st == IMAP_PARSE_FATAL) {
			if (imap_parser_error(p, &tag) == NULL)
				abort();
			break;
		}
		switch (st) {
		case IMAP_PARSE_COMMAND:
			cmd = imap_parser_command(p);
			if (cmd == NULL || cmd->tag == NULL ||
			    cmd->name == NULL)
				abort();
			fuzz_args(cmd->args, cmd->nargs, 0);
			imap_parser_reset(p);
			break;
		case IMAP_PARSE_ERROR:
		case IMAP_PARSE_TOO_BIG:
			if (imap_parser_error(p, &tag) == NULL)
				abort();
			imap_parser_reset(p);
			break;
		case IMAP_PARSE_CONTINUE:
		case IMAP_PARSE_MORE:
		case IMAP_PARSE_FATAL:
			break;
		}
		/* every event but FATAL consumes something */
		if (used == 0)
			abort();
	}
	imap_parser_free(&p);
	/* the helpers on the raw bytes */
	if (size <= 4096)
		fuzz_strings((const char *)data + 1, size - 1);
	fuzz_list_match((const char *)data + 1, size - 1);
	return 0;
}
