/*
 * test_mailbox.c: the INBOX index over a Maildir: UIDs in delivery order
 * and stable across syncs, moves and flag changes, never reused; files
 * vanishing; expunge; foreign files without S=/W=; a corrupt index
 * rebuilt with a new UIDVALIDITY; a no-change sync that takes no write
 * lock; two handles and two threads that never assign a UID twice; and
 * the time of a 10 000-message sync (printed, not asserted).
 */
#include <sys/mman.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "t.h"

#include "db/mailindex.h"
#include "lib/util.h"
#include "store/mailbox.h"
#include "store/maildir.h"

static char test_root[64];

/* ---- helpers ---- */

static void test_path(char *out, size_t size, const char *fmt, ...)
    ATTR_PRINTF(3, 4);

static void
test_path(char *out, size_t size, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(out, size, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= size)
		fatal("path too long");
}

static int
test_rm_cb(const char *path, const struct stat *st, int flag,
    struct FTW *ftw)
{
	remove(path);
	return 0;
}

static void
test_rm_rf(const char *path)
{
	nftw(path, test_rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

/* A new empty directory name under the test root (not created). */
static void
test_maildir(char *out, size_t size, const char *name)
{
	test_path(out, size, "%s/%s", test_root, name);
}

/* Delivers a message whose header block is header, with a fixed body,
 * through maildir_deliver; its file name goes to name (256 bytes). */
static void
test_deliver(const char *maildir, const char *header, char *name)
{
	static const char body[] = "first body line\nsecond\n\nlast\n";
	struct maildir_source src;
	const char *error;
	int fd = memfd_create("body", MFD_CLOEXEC);

	if (fd < 0 || write(fd, body, sizeof(body) - 1) !=
	    (ssize_t)(sizeof(body) - 1))
		fatal("memfd");
	memset(&src, 0, sizeof(src));
	src.header = header;
	src.header_len = strlen(header);
	src.body_fd = fd;
	src.body_size = sizeof(body) - 1;
	src.body_lines = 4;
	if (maildir_deliver(maildir, &src, name, 256, &error) < 0)
		fatal("maildir_deliver: %s", error);
	close(fd);
}

static void
test_write_file(const char *path, const char *data, size_t len,
    time_t mtime)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	if (fd < 0 || write(fd, data, len) != (ssize_t)len)
		fatal("cannot write %s", path);
	if (mtime != 0) {
		struct timespec ts[2] = { { mtime, 0 }, { mtime, 0 } };

		if (futimens(fd, ts) < 0)
			fatal("futimens");
	}
	close(fd);
}

static void
test_garbage(const char *path, off_t from)
{
	char junk[4096];
	struct stat st;
	int fd = open(path, O_WRONLY | O_CLOEXEC);

	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = (char)(i * 7 + 13);
	if (fd < 0 || fstat(fd, &st) < 0)
		fatal("cannot open %s", path);
	for (off_t o = from; o < st.st_size || o < from + 8192;
	    o += (off_t)sizeof(junk)) {
		if (pwrite(fd, junk, sizeof(junk), o) != (ssize_t)sizeof(junk))
			fatal("pwrite");
	}
	close(fd);
}

static const struct store_msg *
test_find_uid(const struct store_msg *msgs, unsigned n, uint32_t uid)
{
	for (unsigned i = 0; i < n; i++) {
		if (msgs[i].uid == uid)
			return &msgs[i];
	}
	return NULL;
}

static const struct store_msg *
test_find_base(const struct store_msg *msgs, unsigned n, const char *base)
{
	for (unsigned i = 0; i < n; i++) {
		if (strcmp(msgs[i].base, base) == 0)
			return &msgs[i];
	}
	return NULL;
}

/* Files in new/ and cur/ whose name starts with base. */
static int
test_count_files(const char *maildir, const char *base)
{
	static const char *const dirs[] = { "new", "cur" };
	char path[4096];
	int n = 0;

	for (size_t i = 0; i < ARRAY_SIZE(dirs); i++) {
		struct dirent *e;
		DIR *d;

		test_path(path, sizeof(path), "%s/%s", maildir, dirs[i]);
		if ((d = opendir(path)) == NULL)
			continue;
		while ((e = readdir(d)) != NULL)
			n += strncmp(e->d_name, base, strlen(base)) == 0;
		closedir(d);
	}
	return n;
}

static uint64_t
test_lf_count(const char *path)
{
	char buf[4096];
	uint64_t n = 0;
	ssize_t r;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return UINT64_MAX;
	while ((r = read(fd, buf, sizeof(buf))) > 0) {
		for (ssize_t i = 0; i < r; i++)
			n += buf[i] == '\n';
	}
	close(fd);
	return n;
}

static bool
test_uids_ascending(const struct store_msg *msgs, unsigned n)
{
	for (unsigned i = 1; i < n; i++) {
		if (msgs[i].uid <= msgs[i - 1].uid)
			return false;
	}
	return true;
}

static bool
test_str_ends(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);

	return a >= b && strcmp(s + a - b, suffix) == 0;
}

static double
test_ms_since(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) * 1e3 +
	    (double)(t1.tv_nsec - t0->tv_nsec) / 1e6;
}

/* ---- tests ---- */

static void
test_empty(void)
{
	char dir[256], path[4096];
	struct store_mailbox *mb;
	struct store_msg *msgs = NULL;
	unsigned n = 99;
	uint32_t uv = 0, uid = 1;
	const char *error = NULL;
	struct stat st;

	test_maildir(dir, sizeof(dir), "empty/Maildir");
	mb = store_mailbox_open(dir, &error);
	CHECK_MSG(mb != NULL, "%s", error);
	if (mb == NULL)
		return;
	CHECK(store_inbox_list(mb, &msgs, &n, &uv, &error) == 0);
	CHECK(n == 0);
	CHECK(uv != 0);
	CHECK((uint32_t)time(NULL) - uv < 5);
	store_msgs_free(msgs, n);
	test_path(path, sizeof(path), "%s/%s", dir, "facteur-index.sqlite");
	CHECK(stat(path, &st) == 0 && S_ISREG(st.st_mode));
	test_path(path, sizeof(path), "%s/%s", dir, "tmp");
	CHECK(stat(path, &st) == 0 && S_ISDIR(st.st_mode));
	test_path(path, sizeof(path), "%s/%s", dir, "cur");
	CHECK(stat(path, &st) == 0 && S_ISDIR(st.st_mode));
	/* Nothing to expunge is not an error. */
	CHECK(store_inbox_expunge(mb, uv, &uid, 1, &error) == 0);
	CHECK(store_inbox_expunge(mb, uv, NULL, 0, &error) == 0);
	store_mailbox_close(&mb);
	CHECK(mb == NULL);
	store_mailbox_close(&mb);
}

static void
test_lifecycle(void)
{
	char dir[256], names[8][256], path[4096], path2[4096];
	char header[64];
	struct store_mailbox *mb;
	struct store_msg *msgs, *msgs2;
	const struct store_msg *m;
	unsigned n, n2;
	uint32_t uv, uv2, uids[4];
	const char *error = NULL;
	time_t t0 = time(NULL);
	struct stat st;
	int fd;

	test_maildir(dir, sizeof(dir), "life/Maildir");
	mb = store_mailbox_open(dir, &error);
	CHECK_MSG(mb != NULL, "%s", error);
	if (mb == NULL)
		return;
	for (int i = 0; i < 5; i++) {
		str_printf(header, sizeof(header), "Subject: message %d\n"
		    "X-Pad: %.*s\n\n", i, i * 7, "abcdefghijklmnopqrstuvwxyz"
		    "0123456789");
		test_deliver(dir, header, names[i]);
	}

	/* UIDs 1..n in delivery order, sizes from S= and W= */
	CHECK(store_inbox_list(mb, &msgs, &n, &uv, &error) == 0);
	CHECK(n == 5);
	for (unsigned i = 0; i < n && i < 5; i++) {
		uint64_t s, w;
		const char *p;

		CHECK(msgs[i].uid == i + 1);
		CHECK_STREQ(msgs[i].base, names[i]);
		test_path(path, sizeof(path), "%s/cur/%s:2,", dir, names[i]);
		CHECK_STREQ(msgs[i].path, path);
		p = strstr(names[i], ",S=");
		CHECK(p != NULL && sscanf(p, ",S=%" SCNu64 ",W=%" SCNu64,
		    &s, &w) == 2);
		CHECK(msgs[i].size == s);
		CHECK(msgs[i].vsize == w);
		CHECK(stat(path, &st) == 0 &&
		    (uint64_t)st.st_size == msgs[i].size);
		CHECK(msgs[i].vsize == msgs[i].size + test_lf_count(path));
		CHECK(msgs[i].internal_date >= t0 - 1 &&
		    msgs[i].internal_date <= time(NULL) + 1);
	}

	/* A second list: same UIDs, same UIDVALIDITY */
	CHECK(store_inbox_list(mb, &msgs2, &n2, &uv2, &error) == 0);
	CHECK(n2 == n && uv2 == uv);
	for (unsigned i = 0; i < n && i < n2; i++) {
		CHECK(msgs2[i].uid == msgs[i].uid);
		CHECK_STREQ(msgs2[i].base, msgs[i].base);
		CHECK_STREQ(msgs2[i].path, msgs[i].path);
	}
	store_msgs_free(msgs2, n2);

	/* new/ -> cur/ with flags keeps the UID; so do flag changes */
	test_path(path, sizeof(path), "%s/cur/%s:2,", dir, names[1]);
	test_path(path2, sizeof(path2), "%s/cur/%s:2,S", dir, names[1]);
	CHECK(rename(path, path2) == 0);
	test_path(path, sizeof(path), "%s/cur/%s:2,", dir, names[2]);
	test_path(path2, sizeof(path2), "%s/cur/%s:2,", dir, names[2]);
	CHECK(rename(path, path2) == 0);
	CHECK(store_inbox_list(mb, &msgs2, &n2, &uv2, &error) == 0);
	CHECK(n2 == 5 && uv2 == uv);
	m = test_find_uid(msgs2, n2, 2);
	CHECK(m != NULL && strcmp(m->base, names[1]) == 0 &&
	    test_str_ends(m->path, ":2,S") && strstr(m->path, "/cur/"));
	m = test_find_uid(msgs2, n2, 3);
	CHECK(m != NULL && strcmp(m->base, names[2]) == 0);
	store_msgs_free(msgs2, n2);
	test_path(path, sizeof(path), "%s/cur/%s:2,", dir, names[2]);
	test_path(path2, sizeof(path2), "%s/cur/%s:2,RS", dir, names[2]);
	CHECK(rename(path, path2) == 0);
	CHECK(store_inbox_list(mb, &msgs2, &n2, &uv2, &error) == 0);
	m = test_find_uid(msgs2, n2, 3);
	CHECK(m != NULL && strcmp(m->base, names[2]) == 0 &&
	    strcmp(m->path, path2) == 0);
	store_msgs_free(msgs2, n2);

	/* A deleted file drops its message */
	test_path(path, sizeof(path), "%s/cur/%s:2,", dir, names[3]);
	CHECK(unlink(path) == 0);
	CHECK(store_inbox_list(mb, &msgs2, &n2, &uv2, &error) == 0);
	CHECK(n2 == 4 && test_find_uid(msgs2, n2, 4) == NULL);
	CHECK(test_uids_ascending(msgs2, n2));
	store_msgs_free(msgs2, n2);

	/* New files get higher UIDs */
	test_deliver(dir, "Subject: six\n\n", names[5]);
	CHECK(store_inbox_list(mb, &msgs2, &n2, &uv2, &error) == 0);
	CHECK(n2 == 5 && msgs2[n2 - 1].uid == 6);
	CHECK_STREQ(msgs2[n2 - 1].base, names[5]);
	store_msgs_free(msgs2, n2);

	/* Expunge: the highest UID, one in cur/ with flags, one already
	 * gone and one that never existed */
	uids[0] = 6;
	uids[1] = 2;
	uids[2] = 4;
	uids[3] = 99;
	CHECK_MSG(store_inbox_expunge(mb, uv2, uids, 4, &error) == 0, "%s", error);
	CHECK(test_count_files(dir, names[5]) == 0);
	CHECK(test_count_files(dir, names[1]) == 0);
	CHECK(test_count_files(dir, names[0]) == 1);
	CHECK(store_inbox_list(mb, &msgs2, &n2, &uv2, &error) == 0);
	CHECK(n2 == 3 && test_find_uid(msgs2, n2, 6) == NULL &&
	    test_find_uid(msgs2, n2, 2) == NULL);
	store_msgs_free(msgs2, n2);
	/* UIDs are never reused: 6 was the highest and is gone */
	test_deliver(dir, "Subject: seven\n\n", names[6]);
	CHECK(store_inbox_list(mb, &msgs2, &n2, &uv2, &error) == 0);
	CHECK(n2 == 4 && msgs2[n2 - 1].uid == 7 && uv2 == uv);
	CHECK(test_uids_ascending(msgs2, n2));

	/* store_msg_open follows a rename made after the list */
	m = test_find_uid(msgs2, n2, 1);
	CHECK(m != NULL);
	test_path(path, sizeof(path), "%s/cur/%s:2,", dir, names[0]);
	test_path(path2, sizeof(path2), "%s/cur/%s:2,S", dir, names[0]);
	CHECK(rename(path, path2) == 0);
	fd = store_msg_open(mb, &msgs2[0], &error);
	CHECK(fd >= 0);
	CHECK_STREQ(msgs2[0].path, path2);
	if (fd >= 0) {
		CHECK(fstat(fd, &st) == 0 &&
		    (uint64_t)st.st_size == msgs2[0].size);
		close(fd);
	}
	CHECK(unlink(path2) == 0);
	errno = 0;
	CHECK(store_msg_open(mb, &msgs2[0], &error) == -1 &&
	    errno == ENOENT);
	store_msgs_free(msgs2, n2);
	store_msgs_free(msgs, n);

	/* A reopened handle sees the same index */
	store_mailbox_close(&mb);
	mb = store_mailbox_open(dir, &error);
	CHECK(mb != NULL);
	if (mb == NULL)
		return;
	CHECK(store_inbox_list(mb, &msgs2, &n2, &uv2, &error) == 0);
	CHECK(uv2 == uv && n2 == 3 && msgs2[0].uid == 3 &&
	    msgs2[2].uid == 7);
	store_msgs_free(msgs2, n2);
	store_mailbox_close(&mb);
}

/* Files written by other tools: no S= or W=, CRLF or LF or both. */
static void
test_foreign(void)
{
	static const char crlf[] = "Subject: a\r\n\r\nbody\r\n";
	static const char lf[] = "Subject: b\n\nbody\n";
	static const char mixed[] = "a\r\nb\nc";
	static const char lf2[] = "x\ny\n";
	char dir[256], path[4096], path2[4096], name[128];
	struct store_mailbox *mb;
	struct store_msg *msgs;
	const struct store_msg *m;
	unsigned n;
	uint32_t uv;
	const char *error = NULL;

	test_maildir(dir, sizeof(dir), "foreign/Maildir");
	mb = store_mailbox_open(dir, &error);
	CHECK_MSG(mb != NULL, "%s", error);
	if (mb == NULL)
		return;
	test_path(path, sizeof(path), "%s/%s", dir,
	    "cur/1000000001.crlf.example:2,S");
	test_write_file(path, crlf, sizeof(crlf) - 1, 1000000300);
	test_path(path, sizeof(path), "%s/%s", dir,
	    "new/1000000002.lf.example");
	test_write_file(path, lf, sizeof(lf) - 1, 1000000100);
	test_path(path, sizeof(path), "%s/%s", dir,
	    "new/1000000003.mixed.example");
	test_write_file(path, mixed, sizeof(mixed) - 1, 1000000200);
	/* Same mtime: name order */
	test_path(path, sizeof(path), "%s/%s", dir, "new/1000000004.same-b");
	test_write_file(path, lf, sizeof(lf) - 1, 1000000400);
	test_path(path, sizeof(path), "%s/%s", dir, "new/1000000004.same-a");
	test_write_file(path, lf, sizeof(lf) - 1, 1000000400);
	/* S= without W= (Courier): size from the name, vsize counted */
	str_printf(name, sizeof(name), "cur/1000000005.s-only,S=%zu:2,",
	    sizeof(lf2) - 1);
	test_path(path, sizeof(path), "%s/%s", dir, name);
	test_write_file(path, lf2, sizeof(lf2) - 1, 1000000500);
	/* Not messages: a dot file, a directory, a symlink, tmp/ */
	test_path(path, sizeof(path), "%s/%s", dir, "new/.hidden");
	test_write_file(path, lf, sizeof(lf) - 1, 0);
	test_path(path, sizeof(path), "%s/%s", dir, "cur/subdir");
	CHECK(mkdir(path, 0700) == 0);
	test_path(path, sizeof(path), "%s/%s", dir, "cur/link");
	test_path(path2, sizeof(path2), "%s/%s", dir,
	    "new/1000000002.lf.example");
	CHECK(symlink(path2, path) == 0);
	test_path(path, sizeof(path), "%s/%s", dir, "tmp/1000000009.tmp");
	test_write_file(path, lf, sizeof(lf) - 1, 0);

	CHECK_MSG(store_inbox_list(mb, &msgs, &n, &uv, &error) == 0, "%s",
	    error);
	CHECK(n == 6);
	m = test_find_uid(msgs, n, 1);
	CHECK(m != NULL && strcmp(m->base, "1000000002.lf.example") == 0 &&
	    m->size == sizeof(lf) - 1 && m->vsize == sizeof(lf) - 1 + 3 &&
	    m->internal_date == 1000000100);
	m = test_find_uid(msgs, n, 2);
	CHECK(m != NULL && strcmp(m->base, "1000000003.mixed.example") == 0 &&
	    /* "c" has no LF: POP3 ends it with CRLF, counted too */
	    m->size == 6 && m->vsize == 9 && m->internal_date == 1000000200);
	m = test_find_uid(msgs, n, 3);
	CHECK(m != NULL && strcmp(m->base, "1000000001.crlf.example") == 0 &&
	    m->size == sizeof(crlf) - 1 && m->vsize == sizeof(crlf) - 1 &&
	    m->internal_date == 1000000300 &&
	    test_str_ends(m->path, "/cur/1000000001.crlf.example:2,S"));
	m = test_find_uid(msgs, n, 4);
	CHECK(m != NULL && strcmp(m->base, "1000000004.same-a") == 0);
	m = test_find_uid(msgs, n, 5);
	CHECK(m != NULL && strcmp(m->base, "1000000004.same-b") == 0);
	m = test_find_uid(msgs, n, 6);
	CHECK(m != NULL && strncmp(m->base, "1000000005.s-only,S=", 20) == 0 &&
	    m->size == sizeof(lf2) - 1 && m->vsize == sizeof(lf2) - 1 + 2);
	store_msgs_free(msgs, n);
	store_mailbox_close(&mb);
}

/* A sync that finds nothing to change must not need the write lock:
 * another connection holds it throughout. */
static void
test_no_write(void)
{
	char dir[256], name[256], path[4096];
	struct store_mailbox *mb;
	struct mailindex *ix = NULL;
	struct store_msg *msgs;
	unsigned n;
	uint32_t uv;
	const char *error = NULL;

	test_maildir(dir, sizeof(dir), "nowrite/Maildir");
	mb = store_mailbox_open(dir, &error);
	CHECK_MSG(mb != NULL, "%s", error);
	if (mb == NULL)
		return;
	for (int i = 0; i < 3; i++)
		test_deliver(dir, "Subject: x\n\n", name);
	CHECK(store_inbox_list(mb, &msgs, &n, &uv, &error) == 0 && n == 3);
	store_msgs_free(msgs, n);
	test_path(path, sizeof(path), "%s/%s", dir, "facteur-index.sqlite");
	CHECK(mailindex_open(path, &ix, &error) == MAILINDEX_OK);
	if (ix == NULL) {
		store_mailbox_close(&mb);
		return;
	}
	CHECK(mailindex_begin(ix, &error) == MAILINDEX_OK);
	CHECK_MSG(store_inbox_list(mb, &msgs, &n, &uv, &error) == 0, "%s",
	    error);
	CHECK(n == 3 && msgs[2].uid == 3 && test_str_ends(msgs[2].path,
	    ":2,"));
	store_msgs_free(msgs, n);
	mailindex_rollback(ix);
	mailindex_close(&ix);
	store_mailbox_close(&mb);
}

static bool
test_corrupt_exists(const char *dir)
{
	struct dirent *e;
	bool found = false;
	DIR *d = opendir(dir);

	if (d == NULL)
		return false;
	while ((e = readdir(d)) != NULL) {
		found = found || strncmp(e->d_name,
		    "facteur-index.sqlite.corrupt.", 29) == 0;
	}
	closedir(d);
	return found;
}

static void
test_corrupt(void)
{
	char dir[256], name[256], path[4096];
	struct store_mailbox *mb;
	struct store_msg *msgs;
	unsigned n;
	uint32_t uv1, uv2, uv3, uid = 1;
	const char *error = NULL;

	test_maildir(dir, sizeof(dir), "corrupt/Maildir");
	test_path(path, sizeof(path), "%s/%s", dir, "facteur-index.sqlite");
	mb = store_mailbox_open(dir, &error);
	CHECK_MSG(mb != NULL, "%s", error);
	if (mb == NULL)
		return;
	for (int i = 0; i < 3; i++)
		test_deliver(dir, "Subject: c\n\n", name);
	CHECK(store_inbox_list(mb, &msgs, &n, &uv1, &error) == 0 && n == 3);
	store_msgs_free(msgs, n);
	CHECK(store_inbox_expunge(mb, uv1, &uid, 1, &error) == 0);
	/* UIDs listed under another UIDVALIDITY remove nothing */
	CHECK(store_inbox_expunge(mb, uv1 + 1, &uid, 1, &error) < 0);
	store_mailbox_close(&mb);

	/* Garbage over the whole file: not a database at all */
	test_garbage(path, 0);
	mb = store_mailbox_open(dir, &error);
	CHECK_MSG(mb != NULL, "%s", error);
	if (mb == NULL)
		return;
	CHECK(test_corrupt_exists(dir));
	CHECK(store_inbox_list(mb, &msgs, &n, &uv2, &error) == 0);
	CHECK(uv2 > uv1);
	CHECK(n == 2 && msgs[0].uid == 1 && msgs[1].uid == 2 &&
	    strcmp(msgs[1].base, name) == 0);
	store_msgs_free(msgs, n);
	store_mailbox_close(&mb);

	/* Header and schema page intact, the tables' pages damaged: seen
	 * by the first query, not at open */
	test_garbage(path, 4096);
	mb = store_mailbox_open(dir, &error);
	CHECK_MSG(mb != NULL, "%s", error);
	if (mb == NULL)
		return;
	CHECK_MSG(store_inbox_list(mb, &msgs, &n, &uv3, &error) == 0, "%s",
	    error);
	CHECK(uv3 > uv2);
	CHECK(n == 2 && msgs[0].uid == 1 && msgs[1].uid == 2);
	store_msgs_free(msgs, n);
	store_mailbox_close(&mb);
}

/* Two handles on one Maildir, interleaved in one thread. */
static void
test_two_handles(void)
{
	char dir[256], names[6][256];
	struct store_mailbox *a, *b;
	struct store_msg *ma, *mb;
	unsigned na, nb;
	uint32_t uva, uvb, uid;
	const char *error = NULL;
	bool same;

	test_maildir(dir, sizeof(dir), "two/Maildir");
	a = store_mailbox_open(dir, &error);
	b = store_mailbox_open(dir, &error);
	CHECK(a != NULL && b != NULL);
	if (a == NULL || b == NULL)
		return;
	test_deliver(dir, "Subject: 1\n\n", names[0]);
	CHECK(store_inbox_list(a, &ma, &na, &uva, &error) == 0);
	CHECK(na == 1 && ma[0].uid == 1);
	store_msgs_free(ma, na);
	test_deliver(dir, "Subject: 2\n\n", names[1]);
	CHECK(store_inbox_list(b, &mb, &nb, &uvb, &error) == 0);
	CHECK(nb == 2 && mb[0].uid == 1 && mb[1].uid == 2 && uva == uvb);
	store_msgs_free(mb, nb);
	test_deliver(dir, "Subject: 3\n\n", names[2]);
	test_deliver(dir, "Subject: 4\n\n", names[3]);
	CHECK(store_inbox_list(a, &ma, &na, &uva, &error) == 0);
	CHECK(store_inbox_list(b, &mb, &nb, &uvb, &error) == 0);
	CHECK(na == 4 && nb == 4);
	same = na == nb;
	for (unsigned i = 0; same && i < na; i++) {
		same = ma[i].uid == i + 1 && mb[i].uid == i + 1 &&
		    strcmp(ma[i].base, names[i]) == 0 &&
		    strcmp(mb[i].base, names[i]) == 0;
	}
	CHECK(same);
	store_msgs_free(ma, na);
	store_msgs_free(mb, nb);
	/* Expunge through one, deliver, list through the other first */
	uid = 2;
	CHECK(store_inbox_expunge(a, uva, &uid, 1, &error) == 0);
	test_deliver(dir, "Subject: 5\n\n", names[4]);
	CHECK(store_inbox_list(b, &mb, &nb, &uvb, &error) == 0);
	CHECK(nb == 4 && test_find_uid(mb, nb, 2) == NULL &&
	    mb[nb - 1].uid == 5);
	store_msgs_free(mb, nb);
	test_deliver(dir, "Subject: 6\n\n", names[5]);
	CHECK(store_inbox_list(a, &ma, &na, &uva, &error) == 0);
	CHECK(store_inbox_list(b, &mb, &nb, &uvb, &error) == 0);
	CHECK(na == 5 && nb == 5 && ma[4].uid == 6 && mb[4].uid == 6 &&
	    strcmp(ma[4].base, names[5]) == 0);
	CHECK(test_find_base(ma, na, names[4]) != NULL &&
	    test_find_base(ma, na, names[4])->uid == 5);
	store_msgs_free(ma, na);
	store_msgs_free(mb, nb);
	store_mailbox_close(&a);
	store_mailbox_close(&b);
}

/* Two threads syncing while messages arrive. */
#define TEST_THREAD_MSGS 200

struct test_shared {
	const char *maildir;
	pthread_mutex_t lock;
	char *uid_base[TEST_THREAD_MSGS + 2];	/* first base seen per UID */
	atomic_bool stop;
};

struct test_worker {
	struct test_shared *sh;
	pthread_t thread;
	unsigned lists, errors, max_seen;
};

static void
test_record(struct test_shared *sh, const struct store_msg *msgs, unsigned n,
    unsigned *errors)
{
	if (!test_uids_ascending(msgs, n))
		(*errors)++;
	pthread_mutex_lock(&sh->lock);
	for (unsigned i = 0; i < n; i++) {
		uint32_t uid = msgs[i].uid;

		if (uid == 0 || uid > TEST_THREAD_MSGS + 1) {
			(*errors)++;
		} else if (sh->uid_base[uid] == NULL) {
			sh->uid_base[uid] = xstrdup(msgs[i].base);
		} else if (strcmp(sh->uid_base[uid], msgs[i].base) != 0) {
			(*errors)++;
		}
	}
	pthread_mutex_unlock(&sh->lock);
}

static void *
test_worker_run(void *arg)
{
	struct test_worker *w = arg;
	struct store_mailbox *mb;
	const char *error;
	bool last = false;

	mb = store_mailbox_open(w->sh->maildir, &error);
	if (mb == NULL) {
		w->errors++;
		return NULL;
	}
	while (!last) {
		struct store_msg *msgs;
		unsigned n;
		uint32_t uv;

		last = atomic_load(&w->sh->stop);
		if (store_inbox_list(mb, &msgs, &n, &uv, &error) < 0) {
			fprintf(stderr, "list: %s\n", error);
			w->errors++;
			continue;
		}
		w->lists++;
		if (n > w->max_seen)
			w->max_seen = n;
		test_record(w->sh, msgs, n, &w->errors);
		store_msgs_free(msgs, n);
	}
	store_mailbox_close(&mb);
	return NULL;
}

static void
test_threads(void)
{
	static struct test_shared sh;
	struct test_worker w[2];
	char dir[256], name[256];
	struct store_mailbox *mb;
	struct store_msg *msgs;
	unsigned n, errors = 0;
	uint32_t uv;
	const char *error = NULL;
	bool unique = true, dense = true;

	test_maildir(dir, sizeof(dir), "threads/Maildir");
	CHECK(maildir_create(dir) == 0);
	memset(w, 0, sizeof(w));
	sh.maildir = dir;
	pthread_mutex_init(&sh.lock, NULL);
	atomic_store(&sh.stop, false);
	for (int i = 0; i < 2; i++) {
		w[i].sh = &sh;
		if (pthread_create(&w[i].thread, NULL, test_worker_run,
		    &w[i]) != 0)
			fatal("pthread_create");
	}
	for (int i = 0; i < TEST_THREAD_MSGS; i++)
		test_deliver(dir, "Subject: t\n\n", name);
	atomic_store(&sh.stop, true);
	for (int i = 0; i < 2; i++)
		pthread_join(w[i].thread, NULL);
	printf("mailbox: threads: %u and %u syncs during %d deliveries\n",
	    w[0].lists, w[1].lists, TEST_THREAD_MSGS);
	CHECK(w[0].errors == 0 && w[1].errors == 0);
	CHECK(w[0].lists > 1 && w[1].lists > 1);
	CHECK(w[0].max_seen == TEST_THREAD_MSGS &&
	    w[1].max_seen == TEST_THREAD_MSGS);

	mb = store_mailbox_open(dir, &error);
	CHECK(mb != NULL);
	if (mb == NULL)
		return;
	CHECK(store_inbox_list(mb, &msgs, &n, &uv, &error) == 0);
	CHECK(n == TEST_THREAD_MSGS);
	test_record(&sh, msgs, n, &errors);
	CHECK(errors == 0);
	/* Every file got exactly one UID: 1..n without a gap */
	for (unsigned i = 0; i < n; i++)
		dense = dense && msgs[i].uid == i + 1;
	CHECK(dense);
	for (unsigned i = 1; i <= TEST_THREAD_MSGS; i++) {
		for (unsigned j = i + 1; j <= TEST_THREAD_MSGS; j++) {
			if (sh.uid_base[i] != NULL && sh.uid_base[j] != NULL &&
			    strcmp(sh.uid_base[i], sh.uid_base[j]) == 0)
				unique = false;
		}
	}
	CHECK(unique);
	store_msgs_free(msgs, n);
	store_mailbox_close(&mb);
	for (size_t i = 0; i < ARRAY_SIZE(sh.uid_base); i++)
		free(sh.uid_base[i]);
	pthread_mutex_destroy(&sh.lock);
}

/* Files vanishing between readdir and stat, foreign files (read for
 * their size) coming and going, and a message renamed over and over
 * (flag changes) while another thread syncs. */
struct test_churn {
	const char *maildir;
	char flip_base[256];
	atomic_bool stop;
	atomic_uint rounds;
};

static void *
test_churn_run(void *arg)
{
	static const char text[] = "Subject: churn\n\nbody\n";
	struct test_churn *c = arg;
	char a[4096], b[4096], tmp[4096];

	test_path(a, sizeof(a), "%s/cur/%s:2,S", c->maildir, c->flip_base);
	test_path(b, sizeof(b), "%s/cur/%s:2,RS", c->maildir, c->flip_base);
	for (unsigned r = 0; !atomic_load(&c->stop); r++) {
		test_path(tmp, sizeof(tmp), "%s/new/churn-%u", c->maildir,
		    r % 8);
		test_write_file(tmp, text, sizeof(text) - 1, 0);
		if (rename(r % 2 ? b : a, r % 2 ? a : b) < 0)
			fatal("rename");
		test_path(tmp, sizeof(tmp), "%s/new/churn-%u", c->maildir,
		    (r + 4) % 8);
		unlink(tmp);
		atomic_store(&c->rounds, r + 1);
	}
	return NULL;
}

static void
test_churn(void)
{
	static struct test_churn c;
	char dir[256], name[256], from[4096], to[4096];
	struct store_mailbox *mb;
	struct store_msg *msgs;
	const struct store_msg *m;
	unsigned n, lost = 0, failed = 0, syncs = 0;
	uint32_t uv;
	const char *error = NULL;
	pthread_t t;

	test_maildir(dir, sizeof(dir), "churn/Maildir");
	mb = store_mailbox_open(dir, &error);
	CHECK_MSG(mb != NULL, "%s", error);
	if (mb == NULL)
		return;
	test_deliver(dir, "Subject: stable\n\n", name);
	test_deliver(dir, "Subject: flipping\n\n", c.flip_base);
	test_path(from, sizeof(from), "%s/new/%s", dir, c.flip_base);
	test_path(to, sizeof(to), "%s/cur/%s:2,S", dir, c.flip_base);
	CHECK(rename(from, to) == 0);
	CHECK(store_inbox_list(mb, &msgs, &n, &uv, &error) == 0 && n == 2);
	store_msgs_free(msgs, n);
	c.maildir = dir;
	atomic_store(&c.stop, false);
	atomic_store(&c.rounds, 0);
	if (pthread_create(&t, NULL, test_churn_run, &c) != 0)
		fatal("pthread_create");
	/* At least 2000 syncs and 2000 renames (bounded). */
	for (; syncs < 2000 || (atomic_load(&c.rounds) < 2000 &&
	    syncs < 200000); syncs++) {
		if (store_inbox_list(mb, &msgs, &n, &uv, &error) < 0) {
			failed++;
			continue;
		}
		m = test_find_base(msgs, n, name);
		lost += m == NULL || m->uid != 1;
		m = test_find_base(msgs, n, c.flip_base);
		lost += m == NULL || m->uid != 2;
		store_msgs_free(msgs, n);
	}
	atomic_store(&c.stop, true);
	pthread_join(t, NULL);
	printf("mailbox: churn: %u syncs, %u renames, %u lost\n", syncs,
	    atomic_load(&c.rounds), lost);
	CHECK(failed == 0);
	CHECK(lost == 0);
	store_mailbox_close(&mb);
}

/* 10 000 messages: the first sync assigns them, the next ones find no
 * change. Times are printed, not asserted. */
#define TEST_BIG 10000

static void
test_big(void)
{
	static const char body[] = "Subject: small\n\nhello\n";
	char dir[256], path[4096];
	struct store_mailbox *mb;
	struct store_msg *msgs;
	struct timespec t0;
	unsigned n;
	uint32_t uv;
	const char *error = NULL;
	double first, best = 1e9, total = 0;
	bool ok = true;

	test_maildir(dir, sizeof(dir), "big/Maildir");
	mb = store_mailbox_open(dir, &error);
	CHECK_MSG(mb != NULL, "%s", error);
	if (mb == NULL)
		return;
	for (int i = 0; i < TEST_BIG; i++) {
		/* Half read (cur/, with flags), half unread (new/). */
		if (str_printf(path, sizeof(path), "%s/%s/%d.M%06dP1Q%d.test,"
		    "S=%zu,W=%zu%s", dir, i % 2 ? "cur" : "new",
		    1700000000 + i / 100, i % 100, i, sizeof(body) - 1,
		    sizeof(body) - 1 + 3, i % 2 ? ":2,S" : "") < 0)
			fatal("path");
		test_write_file(path, body, sizeof(body) - 1,
		    1700000000 + i / 100);
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	CHECK(store_inbox_list(mb, &msgs, &n, &uv, &error) == 0);
	first = test_ms_since(&t0);
	CHECK(n == TEST_BIG);
	for (unsigned i = 0; i < n; i++)
		ok = ok && msgs[i].uid == i + 1 && msgs[i].vsize == 25;
	CHECK(ok);
	store_msgs_free(msgs, n);
	for (int round = 0; round < 5; round++) {
		double ms;

		clock_gettime(CLOCK_MONOTONIC, &t0);
		CHECK(store_inbox_list(mb, &msgs, &n, &uv, &error) == 0);
		ms = test_ms_since(&t0);
		total += ms;
		if (ms < best)
			best = ms;
		CHECK(n == TEST_BIG);
		store_msgs_free(msgs, n);
	}
	printf("mailbox: %d messages: first sync %.1f ms, no-change sync "
	    "%.1f ms (best of 5, mean %.1f ms)\n", TEST_BIG, first, best,
	    total / 5);
	store_mailbox_close(&mb);
}

/* A rename by another tool in the same clock tick as Facteur's own
 * change leaves cur/'s mtime as it was: the sync trusts that mtime only
 * until it settles, then compares cur/ once in full and sees the
 * rename. */
static void
test_settle(void)
{
	char dir[256], name[256], from[4096], to[4096];
	struct store_mailbox *mb;
	struct store_msg *msgs;
	struct timespec pause = { 2, 200 * 1000 * 1000 };
	unsigned n;
	uint32_t uv;
	const char *error = NULL;

	test_maildir(dir, sizeof(dir), "settle/Maildir");
	mb = store_mailbox_open(dir, &error);
	CHECK_MSG(mb != NULL, "%s", error);
	if (mb == NULL)
		return;
	test_deliver(dir, "Subject: settle\n\n", name);
	CHECK(store_inbox_list(mb, &msgs, &n, &uv, &error) == 0 && n == 1);
	store_msgs_free(msgs, n);
	test_path(from, sizeof(from), "%s/cur/%s:2,", dir, name);
	test_path(to, sizeof(to), "%s/cur/%s:2,S", dir, name);
	CHECK(rename(from, to) == 0);
	nanosleep(&pause, NULL);
	CHECK(store_inbox_list(mb, &msgs, &n, &uv, &error) == 0 && n == 1 &&
	    test_str_ends(msgs[0].path, ":2,S"));
	store_msgs_free(msgs, n);
	store_mailbox_close(&mb);
}

int
main(void)
{
	str_lcpy(test_root, "/tmp/facteur-test-mailbox-XXXXXX",
	    sizeof(test_root));
	if (mkdtemp(test_root) == NULL)
		fatal("mkdtemp");
	test_empty();
	test_lifecycle();
	test_foreign();
	test_no_write();
	test_corrupt();
	test_two_handles();
	test_threads();
	test_churn();
	test_settle();
	test_big();
	test_rm_rf(test_root);
	return t_done("mailbox");
}
