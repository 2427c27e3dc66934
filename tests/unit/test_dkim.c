/* Unit tests: DKIM canonicalization, keys and signature shape. */
#include "t.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/buf.h"
#include "lib/util.h"
#include "smtp/dkim.h"

static void
test_out(void *ctx, const void *data, size_t len)
{
	buf_append(ctx, data, len);
}

/* Whether tag (such as "s=sel;") starts after a space or a tab in sig. */
static int
test_has_tag(const char *sig, const char *tag)
{
	const char *p = sig;

	while ((p = strstr(p, tag)) != NULL) {
		if (p > sig && (p[-1] == ' ' || p[-1] == '\t'))
			return 1;
		p++;
	}
	return 0;
}

/* An empty struct buf may have no data yet. */
static const char *
test_buf_str(const struct buf *b)
{
	return b->data != NULL ? b->data : "";
}

/* The canonical body of in, fed in two chunks split at split. */
static void
test_body(const char *in, size_t split, struct buf *out)
{
	struct dkim_body_canon c;
	size_t len = strlen(in);

	buf_reset(out);
	dkim_body_canon_init(&c);
	dkim_body_canon_feed(&c, in, split, test_out, out);
	dkim_body_canon_feed(&c, in + split, len - split, test_out, out);
	dkim_body_canon_end(&c, test_out, out);
}

static void
test_body_all_splits(const char *in, const char *want)
{
	struct buf out;

	buf_init(&out);
	for (size_t i = 0; i <= strlen(in); i++) {
		test_body(in, i, &out);
		CHECK_MSG(strcmp(test_buf_str(&out), want) == 0,
		    "split %zu of '%s': '%s'", i, in, test_buf_str(&out));
	}
	/* byte by byte */
	{
		struct dkim_body_canon c;

		buf_reset(&out);
		dkim_body_canon_init(&c);
		for (size_t i = 0; in[i] != '\0'; i++)
			dkim_body_canon_feed(&c, in + i, 1, test_out, &out);
		dkim_body_canon_end(&c, test_out, &out);
		CHECK_STREQ(test_buf_str(&out), want);
	}
	buf_deinit(&out);
}

static void
test_header(const char *in, const char *want)
{
	size_t len = strlen(in);
	char *out = xmalloc(len + 3);
	size_t n = dkim_canon_header(in, len, out);

	CHECK(n == strlen(want));
	CHECK_STREQ(out, want);
	free(out);
}

static void
test_canon(void)
{
	/* RFC 6376 3.4.5, relaxed example */
	test_header("A: X\r\n", "a:X\r\n");
	test_header("B : Y\t\r\n\tZ  \r\n", "b:Y Z\r\n");
	test_header("B : Y\t\n\tZ  \n", "b:Y Z\r\n");
	/* RFC 6376 3.4.2: WSP around the colon, runs, folding */
	test_header("Subject:   hello   world  \n", "subject:hello world\r\n");
	test_header("Subject:: x\n", "subject:: x\r\n");
	test_header("To: a@b,\n  c@d\n", "to:a@b, c@d\r\n");
	test_header("X-Empty:\n", "x-empty:\r\n");
	test_header("X-Empty: \n \n", "x-empty:\r\n");
	test_header("From: a@b", "from:a@b\r\n");

	/* RFC 6376 3.4.5, relaxed example (CRLF and LF forms) */
	test_body_all_splits(" C \r\nD \t E\r\n\r\n\r\n", " C\r\nD E\r\n");
	test_body_all_splits(" C \nD \t E\n\n\n", " C\r\nD E\r\n");
	/* RFC 6376 3.4.4: an empty body is "", no final CRLF is added */
	test_body_all_splits("", "");
	test_body_all_splits("\n\n\n", "");
	test_body_all_splits(" \t\n  \n", "");
	/* a missing final line end is added */
	test_body_all_splits("abc", "abc\r\n");
	test_body_all_splits("abc  ", "abc\r\n");
	/* empty lines inside the body stay; WSP-only lines are empty */
	test_body_all_splits("a\n\n \t\nb\n\n", "a\r\n\r\n\r\nb\r\n");
	/* a bare CR is data; a final CR is a line end */
	test_body_all_splits("a\rb\n", "a\rb\r\n");
	test_body_all_splits("a\r", "a\r\n");
	test_body_all_splits("a \r\r\n", "a \r\r\n");
}

static char *
test_keygen(const char *dir, const char *name, enum dkim_alg alg)
{
	char *path = xasprintf("%s/%s", dir, name);
	const char *error = NULL;
	struct stat st;

	CHECK(dkim_key_generate(path, alg, &error) == 0);
	CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);
	/* an existing file is never overwritten */
	error = NULL;
	CHECK(dkim_key_generate(path, alg, &error) == -1);
	CHECK(error != NULL);
	return path;
}

static void
test_keys_and_sign(void)
{
	char dir[] = "/tmp/test_dkim.XXXXXX";
	char *rsa, *ed, *txt, *sig, *body_path, *missing;
	const char *error = NULL;
	static const char header[] =
	    "Received: from x\n"
	    "From: Alice <alice@example.com>\n"
	    "To: bob@example.org,\n"
	    "\tcarol@example.org\n"
	    "Subject: hi\n"
	    "X-Other: y\n"
	    "\n";
	static const char body[] = "Hello\n\n";
	int fd;

	CHECK(mkdtemp(dir) != NULL);
	rsa = test_keygen(dir, "rsa.pem", DKIM_RSA);
	ed = test_keygen(dir, "ed.pem", DKIM_ED25519);

	txt = dkim_txt_record(rsa, &error);
	CHECK(txt != NULL && strncmp(txt, "v=DKIM1; k=rsa; p=MII", 21) == 0);
	/* 294 DER bytes of a 2048-bit SubjectPublicKeyInfo: 392 base64 */
	CHECK(txt != NULL && strlen(txt) == 18 + 392);
	free(txt);
	txt = dkim_txt_record(ed, &error);
	CHECK(txt != NULL && strncmp(txt, "v=DKIM1; k=ed25519; p=", 22) == 0);
	/* 32 raw bytes: 44 base64 */
	CHECK(txt != NULL && strlen(txt) == 22 + 44);
	free(txt);
	missing = xasprintf("%s/none.pem", dir);
	error = NULL;
	CHECK(dkim_txt_record(missing, &error) == NULL && error != NULL);

	body_path = xasprintf("%s/body", dir);
	fd = open(body_path, O_RDWR | O_CREAT | O_EXCL, 0600);
	CHECK(fd != -1);
	CHECK(write(fd, "XX", 2) == 2);
	CHECK(write(fd, body, sizeof(body) - 1) == sizeof(body) - 1);

	for (int k = 0; k < 2; k++) {
		const char *key = k == 0 ? rsa : ed;

		error = NULL;
		sig = dkim_sign(key, "example.com", "sel", header,
		    sizeof(header) - 1, fd, 2, sizeof(body) - 1, &error);
		CHECK_MSG(sig != NULL, "%s", t_str(error));
		if (sig == NULL)
			continue;
		CHECK(strncmp(sig, "DKIM-Signature: v=1; a=", 23) == 0);
		CHECK(strstr(sig, k == 0 ? "a=rsa-sha256;" :
		    "a=ed25519-sha256;") != NULL);
		CHECK(strstr(sig, "c=relaxed/relaxed;") != NULL);
		CHECK(test_has_tag(sig, "d=example.com;"));
		CHECK(test_has_tag(sig, "s=sel;"));
		CHECK(test_has_tag(sig, "h=from:to:subject;"));
		CHECK(test_has_tag(sig, "bh="));
		CHECK(test_has_tag(sig, "b="));
		CHECK(sig[strlen(sig) - 1] == '\n');
		/* folded: no line over 78 columns, continuations start
		 * with a tab */
		for (const char *p = sig; *p != '\0';) {
			const char *nl = strchr(p, '\n');

			CHECK(nl != NULL && nl - p <= 78);
			if (nl == NULL)
				break;
			p = nl + 1;
			CHECK(*p == '\0' || *p == '\t');
		}
		free(sig);
	}

	/* From is required */
	error = NULL;
	CHECK(dkim_sign(rsa, "example.com", "sel", "To: x@y\n\n", 9, fd, 2,
	    sizeof(body) - 1, &error) == NULL);
	CHECK(error != NULL && strstr(error, "From") != NULL);
	/* a From in the body is not a header field */
	error = NULL;
	CHECK(dkim_sign(rsa, "example.com", "sel", "To: x@y\n\nFrom: z\n",
	    17, fd, 2, sizeof(body) - 1, &error) == NULL);
	/* a body shorter than announced */
	error = NULL;
	CHECK(dkim_sign(rsa, "example.com", "sel", header, sizeof(header) - 1,
	    fd, 2, 1000, &error) == NULL && error != NULL);
	/* a missing key */
	error = NULL;
	CHECK(dkim_sign(missing, "example.com", "sel", header,
	    sizeof(header) - 1, fd, 2, sizeof(body) - 1, &error) == NULL &&
	    error != NULL);

	close(fd);
	unlink(body_path);
	unlink(rsa);
	unlink(ed);
	rmdir(dir);
	free(body_path);
	free(missing);
	free(rsa);
	free(ed);
}

int
main(void)
{
	test_canon();
	test_keys_and_sign();
	return t_done("dkim");
}
