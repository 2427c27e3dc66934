#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "db/mailindex.h"
#include "lib/addr.h"
#include "lib/buf.h"
#include "lib/log.h"
#include "lib/mutf7.h"
#include "lib/util.h"
#include "store/mailbox.h"
#include "store/maildir.h"

#define MAILBOX_INDEX_NAME "facteur-index.sqlite"
/* Maildir info separator: "<base>:2,<flags>" */
#define MAILBOX_INFO ":2,"

enum mailbox_dir { MAILBOX_NEW, MAILBOX_CUR };

/* new/ is read before cur/: a file moving new/ -> cur/ during a scan is
 * then seen at least once. */
static const char *const mailbox_dirs[] = { "new", "cur" };

struct store_mailbox {
	char *maildir;
	char *index_path;
	struct mailindex *ix;	/* NULL after a failed recovery */
	bool cache_txn;		/* cached FETCH items wait for a commit */
};

/* A file seen in new/ or cur/. */
struct mailbox_file {
	char *name;
	size_t base_len;	/* name up to ":2," */
	unsigned char dir;	/* enum mailbox_dir */
	bool matched;		/* has an index row */
	bool meta;		/* size, vsize and mtime were read */
	bool gone;		/* vanished (or unreadable) when read */
	uint64_t size;
	uint64_t vsize;
	struct timespec mtime;
};

/* The files of new/ and cur/ by base name (open addressing). The file
 * array does not move once the scan is complete. */
struct mailbox_scan {
	struct mailbox_file *files;
	size_t count, cap;
	uint32_t *slots;	/* file index + 1; 0 = empty */
	size_t nslots;		/* power of two */
};


static __thread char mailbox_errbuf[512];

static const char *
mailbox_error_errno(const char *what, const char *path)
{
	char ebuf[128];

	if (str_printf(mailbox_errbuf, sizeof(mailbox_errbuf), "%s %s: %s",
	    what, path, strerror_r(errno, ebuf, sizeof(ebuf))) < 0)
		str_lcpy(mailbox_errbuf, what, sizeof(mailbox_errbuf));
	return mailbox_errbuf;
}

/* ---- file names ---- */

static size_t
mailbox_base_len(const char *name)
{
	const char *info = strstr(name, MAILBOX_INFO);

	return info != NULL ? (size_t)(info - name) : strlen(name);
}

/* Reads ",<key>=<digits>" from a base name (",S=1234,W=1260"). */
static bool
mailbox_name_field(const char *base, size_t len, char key, uint64_t *v_r)
{
	for (size_t i = 0; i + 3 < len; i++) {
		size_t j = i + 3;

		if (base[i] != ',' || base[i + 1] != key || base[i + 2] != '=')
			continue;
		while (j < len && base[j] >= '0' && base[j] <= '9')
			j++;
		if ((j == len || base[j] == ',') &&
		    str_to_u64(base + i + 3, j - i - 3, UINT64_MAX, v_r) == 0)
			return true;
	}
	return false;
}

/* ---- the set of files, by base name ---- */

static uint32_t
mailbox_hash(const char *s, size_t len)
{
	uint32_t h = 2166136261u;	/* FNV-1a */

	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)s[i];
		h *= 16777619u;
	}
	return h;
}

/* Index of the file with this base name, or SIZE_MAX. */
static size_t
mailbox_scan_find(const struct mailbox_scan *scan, const char *base,
    size_t len)
{
	size_t mask = scan->nslots - 1, h;

	if (scan->nslots == 0)
		return SIZE_MAX;
	for (h = mailbox_hash(base, len) & mask; scan->slots[h] != 0;
	    h = (h + 1) & mask) {
		const struct mailbox_file *f = &scan->files[scan->slots[h] - 1];

		if (f->base_len == len && memcmp(f->name, base, len) == 0)
			return scan->slots[h] - 1;
	}
	return SIZE_MAX;
}

static void
mailbox_scan_slot(struct mailbox_scan *scan, size_t i)
{
	const struct mailbox_file *f = &scan->files[i];
	size_t mask = scan->nslots - 1;
	size_t h = mailbox_hash(f->name, f->base_len) & mask;

	while (scan->slots[h] != 0)
		h = (h + 1) & mask;
	scan->slots[h] = (uint32_t)(i + 1);
}

static void
mailbox_scan_add(struct mailbox_scan *scan, const char *name,
    enum mailbox_dir dir)
{
	size_t base_len = mailbox_base_len(name);
	size_t i = mailbox_scan_find(scan, name, base_len);
	struct mailbox_file *f;

	if (i != SIZE_MAX) {
		/* Seen in new/ and again in cur/ (moved during the scan,
		 * or left twice by another tool): the later one wins. */
		f = &scan->files[i];
		free(f->name);
		f->name = xstrdup(name);
		f->base_len = base_len;
		f->dir = (unsigned char)dir;
		return;
	}
	if (scan->count == scan->cap) {
		scan->cap = scan->cap != 0 ? scan->cap * 2 : 64;
		scan->files = xrealloc(scan->files,
		    scan->cap * sizeof(*scan->files));
	}
	f = &scan->files[scan->count];
	memset(f, 0, sizeof(*f));
	f->name = xstrdup(name);
	f->base_len = base_len;
	f->dir = (unsigned char)dir;
	scan->count++;
	/* Keep the table at most half full. */
	if (scan->count * 2 > scan->nslots) {
		free(scan->slots);
		scan->nslots = scan->nslots != 0 ? scan->nslots * 2 : 256;
		while (scan->count * 2 > scan->nslots)
			scan->nslots *= 2;
		scan->slots = xcalloc(scan->nslots, sizeof(*scan->slots));
		for (size_t j = 0; j < scan->count; j++)
			mailbox_scan_slot(scan, j);
	} else {
		mailbox_scan_slot(scan, scan->count - 1);
	}
}

static void
mailbox_scan_free(struct mailbox_scan *scan)
{
	for (size_t i = 0; i < scan->count; i++)
		free(scan->files[i].name);
	free(scan->files);
	free(scan->slots);
	memset(scan, 0, sizeof(*scan));
}

/* A directory entry that may be a message: a regular file whose name
 * does not start with a dot. */
static bool
mailbox_dirent_is_msg(DIR *d, const struct dirent *e)
{
	struct stat st;

	if (e->d_name[0] == '.')
		return false;
	if (e->d_type == DT_REG)
		return true;
	if (e->d_type != DT_UNKNOWN)
		return false;
	return fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    S_ISREG(st.st_mode);
}

static int
mailbox_scan_dir(const char *fdir, struct mailbox_scan *scan,
    enum mailbox_dir dir, const char **error_r)
{
	char path[4096];
	struct dirent *e;
	DIR *d;

	if (str_printf(path, sizeof(path), "%s/%s", fdir,
	    mailbox_dirs[dir]) < 0) {
		*error_r = "maildir path too long";
		return -1;
	}
	if ((d = opendir(path)) == NULL) {
		if (errno == ENOENT)
			return 0;
		*error_r = mailbox_error_errno("cannot open", path);
		return -1;
	}
	for (;;) {
		errno = 0;
		if ((e = readdir(d)) == NULL)
			break;
		if (mailbox_dirent_is_msg(d, e))
			mailbox_scan_add(scan, e->d_name, dir);
	}
	if (errno != 0) {
		*error_r = mailbox_error_errno("cannot read", path);
		closedir(d);
		return -1;
	}
	closedir(d);
	return 0;
}

/* ---- message sizes ---- */

/* Size with CRLF line ends of a file read whole: every LF not preceded
 * by a CR will be sent as CRLF, and a last line without LF gets a CRLF
 * (as POP3's RETR ends it, RFC 1939 3). 0, or -1 with errno. */
static int
mailbox_count_vsize(const char *path, uint64_t *vsize_r)
{
	size_t bufsize = 65536;
	char *buf;
	uint64_t total = 0;
	char prev = '\0';
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -1;
	buf = xmalloc(bufsize);
	for (;;) {
		ssize_t n = read(fd, buf, bufsize);
		const char *p, *end;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int saved = errno;

			free(buf);
			close(fd);
			errno = saved;
			return -1;
		}
		if (n == 0)
			break;
		total += (uint64_t)n;
		end = buf + n;
		for (p = buf; (p = memchr(p, '\n', (size_t)(end - p))) != NULL;
		    p++) {
			char before = p > buf ? p[-1] : prev;

			if (before != '\r')
				total++;
		}
		prev = buf[n - 1];
	}
	free(buf);
	close(fd);
	if (total > 0 && prev != '\n')
		total += 2;
	*vsize_r = total;
	return 0;
}

/* Reads what a file's first sync records: mtime, and the sizes from its
 * name or, for files written by other tools, from the file itself. */
static void
mailbox_file_meta(const char *fdir, struct mailbox_file *f)
{
	char path[4096];
	struct stat st;

	f->meta = true;
	f->gone = true;
	if (str_printf(path, sizeof(path), "%s/%s/%s", fdir,
	    mailbox_dirs[f->dir], f->name) < 0)
		return;
	if (lstat(path, &st) < 0) {
		/* Vanished since the readdir (expunged, or renamed: the
		 * next sync sees it under its new name). */
		if (errno != ENOENT)
			log_warn("event=maildir_stat_failed path=%s errno=%d",
			    path, errno);
		return;
	}
	if (!S_ISREG(st.st_mode))
		return;
	f->mtime = st.st_mtim;
	if (!mailbox_name_field(f->name, f->base_len, 'S', &f->size))
		f->size = (uint64_t)st.st_size;
	if (!mailbox_name_field(f->name, f->base_len, 'W', &f->vsize) &&
	    mailbox_count_vsize(path, &f->vsize) < 0) {
		if (errno != ENOENT)
			log_warn("event=maildir_read_failed path=%s errno=%d",
			    path, errno);
		return;
	}
	f->gone = false;
}

/* Delivery order: modification time, then name (maildir_deliver's names
 * start with the time to the microsecond). */
static int
mailbox_file_cmp(const void *a, const void *b)
{
	const struct mailbox_file *fa = *(const struct mailbox_file *const *)a;
	const struct mailbox_file *fb = *(const struct mailbox_file *const *)b;

	if (fa->mtime.tv_sec != fb->mtime.tv_sec)
		return fa->mtime.tv_sec < fb->mtime.tv_sec ? -1 : 1;
	if (fa->mtime.tv_nsec != fb->mtime.tv_nsec)
		return fa->mtime.tv_nsec < fb->mtime.tv_nsec ? -1 : 1;
	return strcmp(fa->name, fb->name);
}

/* ---- the index ---- */

static int
mailbox_index(struct store_mailbox *mb, const char **error_r)
{
	if (mb->ix != NULL)
		return 0;
	return mailindex_open(mb->index_path, &mb->ix, error_r) ==
	    MAILINDEX_OK ? 0 : -1;
}

/* Ends a write transaction: commit when ret is MAILINDEX_OK, else roll
 * back. STORE_OK or STORE_ERROR. */
static int
mailbox_txn_end(struct store_mailbox *mb, int ret, const char **error_r)
{
	if (ret != MAILINDEX_OK) {
		mailindex_rollback(mb->ix);
		return STORE_ERROR;
	}
	return mailindex_commit(mb->ix, error_r) == MAILINDEX_OK ?
	    STORE_OK : STORE_ERROR;
}

struct store_mailbox *
store_mailbox_open(const char *maildir, const char **error_r)
{
	struct store_mailbox *mb;

	if (maildir_create(maildir) < 0) {
		*error_r = mailbox_error_errno("cannot create maildir",
		    maildir);
		return NULL;
	}
	mb = xcalloc(1, sizeof(*mb));
	mb->maildir = xstrdup(maildir);
	mb->index_path = xasprintf("%s/%s", maildir, MAILBOX_INDEX_NAME);
	if (mailbox_index(mb, error_r) < 0) {
		store_mailbox_close(&mb);
		return NULL;
	}
	return mb;
}

void
store_mailbox_close(struct store_mailbox **mbp)
{
	struct store_mailbox *mb = *mbp;

	if (mb == NULL)
		return;
	store_cache_flush(mb);
	mailindex_close(&mb->ix);
	free(mb->maildir);
	free(mb->index_path);
	free(mb);
	*mbp = NULL;
}

/* ---- flags ---- */

static const struct {
	char letter;
	uint8_t flag;
} mailbox_letters[] = {
	{ 'D', STORE_F_DRAFT },
	{ 'F', STORE_F_FLAGGED },
	{ 'R', STORE_F_ANSWERED },
	{ 'S', STORE_F_SEEN },
	{ 'T', STORE_F_DELETED },
};

static uint8_t
mailbox_flags_of(const char *letters)
{
	uint8_t flags = 0;

	for (const char *p = letters; *p != '\0'; p++) {
		for (size_t i = 0; i < ARRAY_SIZE(mailbox_letters); i++) {
			if (*p == mailbox_letters[i].letter)
				flags |= mailbox_letters[i].flag;
		}
	}
	return flags;
}

static bool
mailbox_letter_known(char c)
{
	for (size_t i = 0; i < ARRAY_SIZE(mailbox_letters); i++) {
		if (c == mailbox_letters[i].letter)
			return true;
	}
	return false;
}

static int
mailbox_char_cmp(const void *a, const void *b)
{
	return *(const char *)a - *(const char *)b;
}

/* The info letters for flags, keeping letters this store does not own
 * (P passed, lowercase keyword letters of other tools), sorted as the
 * Maildir specification asks. */
static void
mailbox_letters_set(const char *old, uint8_t flags, char out[8])
{
	size_t o = 0;

	for (const char *p = old; *p != '\0' && o < 7; p++) {
		if (!mailbox_letter_known(*p) && memchr(out, *p, o) == NULL &&
		    ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z')))
			out[o++] = *p;
	}
	for (size_t i = 0; i < ARRAY_SIZE(mailbox_letters) && o < 7; i++) {
		if (flags & mailbox_letters[i].flag)
			out[o++] = mailbox_letters[i].letter;
	}
	out[o] = '\0';
	qsort(out, o, 1, mailbox_char_cmp);
}

/* The letters of a file name's info part (after ":2,"), sorted. */
static void
mailbox_name_letters(const char *name, char out[8])
{
	const char *info = strstr(name, MAILBOX_INFO);
	size_t o = 0;

	out[0] = '\0';
	if (info == NULL)
		return;
	for (const char *p = info + strlen(MAILBOX_INFO); *p != '\0' && o < 7;
	    p++) {
		if (((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z')) &&
		    memchr(out, *p, o) == NULL)
			out[o++] = *p;
	}
	out[o] = '\0';
	qsort(out, o, 1, mailbox_char_cmp);
}

/* ---- folder names and directories ---- */

void
store_folder_canonical(char *name)
{
	if (strncasecmp(name, MAILINDEX_INBOX, 5) == 0 &&
	    (name[5] == '\0' || name[5] == STORE_SEP))
		memcpy(name, MAILINDEX_INBOX, 5);
}

int
store_folder_valid(const char *name, const char **error_r)
{
	size_t len = strlen(name);
	const char *p;

	if (len == 0 || len > STORE_NAME_MAX) {
		*error_r = "mailbox name empty or too long";
		return STORE_INVALID;
	}
	if (!utf8_valid(name, len)) {
		*error_r = "mailbox name is not valid UTF-8";
		return STORE_INVALID;
	}
	if (name[0] == STORE_SEP || name[len - 1] == STORE_SEP ||
	    strstr(name, "//") != NULL) {
		*error_r = "mailbox name has an empty level";
		return STORE_INVALID;
	}
	for (p = name; *p != '\0'; p++) {
		unsigned char c = (unsigned char)*p;

		if (c < 0x20 || c == 0x7f) {
			*error_r = "mailbox name has control characters";
			return STORE_INVALID;
		}
		if (c == '.') {
			*error_r = "mailbox names cannot contain '.'";
			return STORE_INVALID;
		}
		if (c == '%' || c == '*') {
			*error_r = "mailbox names cannot contain '%' or '*'";
			return STORE_INVALID;
		}
	}
	return STORE_OK;
}

/* The Maildir++ directory of a folder. */
static int
mailbox_folder_dir(const struct store_mailbox *mb, const char *name,
    char *out, size_t size)
{
	struct buf b;
	int ret = 0;

	if (strcmp(name, MAILINDEX_INBOX) == 0)
		return str_printf(out, size, "%s", mb->maildir) < 0 ? -1 : 0;
	buf_init(&b);
	if (utf8_to_mutf7(name, strlen(name), &b) < 0)
		ret = -1;
	for (size_t i = 0; i < b.len; i++) {
		if (b.data[i] == STORE_SEP)
			b.data[i] = '.';
	}
	if (ret == 0 && str_printf(out, size, "%s/.%s", mb->maildir,
	    b.data) < 0)
		ret = -1;
	buf_deinit(&b);
	return ret;
}

/* The folder name of a Maildir++ directory entry (without its leading
 * dot); -1 for entries that are not folders of this store. */
static int
mailbox_dir_name(const char *entry, struct buf *out)
{
	struct buf b;
	int ret;

	if (entry[0] == '\0' || entry[0] == '.' || strstr(entry, "..") ||
	    entry[strlen(entry) - 1] == '.')
		return -1;
	buf_init(&b);
	buf_append_str(&b, entry);
	for (size_t i = 0; i < b.len; i++) {
		if (b.data[i] == '.')
			b.data[i] = STORE_SEP;
		else if (b.data[i] == STORE_SEP)
			b.data[i] = '.';	/* rejected below */
	}
	ret = mutf7_to_utf8(b.data, b.len, out);
	buf_deinit(&b);
	if (ret < 0)
		return -1;
	/* "INBOX" at the top is the root, not a folder named so. */
	if (strcasecmp(out->data, MAILINDEX_INBOX) == 0)
		return -1;
	store_folder_canonical(out->data);
	return strchr(out->data, '.') != NULL ? -1 : 0;
}

static bool
mailbox_is_dir(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static bool
mailbox_folder_exists(const char *dir)
{
	char cur[4096];

	return str_printf(cur, sizeof(cur), "%s/cur", dir) >= 0 &&
	    mailbox_is_dir(cur);
}

/* How long a directory mtime may still change within the same clock
 * tick without showing it. */
#define MAILBOX_SETTLE_NS (2 * (int64_t)1000000000)

static int64_t
mailbox_cur_stat(const char *dir)
{
	char cur[4096];
	struct stat st;

	if (str_printf(cur, sizeof(cur), "%s/cur", dir) < 0 ||
	    stat(cur, &st) < 0)
		return 0;
	return (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
}

static int64_t
mailbox_now_ns(void)
{
	struct timespec now;

	clock_gettime(CLOCK_REALTIME, &now);
	return (int64_t)now.tv_sec * 1000000000 + now.tv_nsec;
}

/*
 * The cur/ stamp the index records after a sync or a change: its mtime
 * in nanoseconds, negated while it is younger than MAILBOX_SETTLE_NS
 * ("dirty"), 0 when cur/ is missing. Directory times come from a coarse
 * clock: another tool's rename in the same tick as ours would leave the
 * same mtime. So a dirty stamp is trusted only until it settles; the
 * first sync after that compares cur/ in full once (and records the
 * settled stamp), catching anything such a rename hid.
 */
static int64_t
mailbox_cur_mtime(const char *dir)
{
	int64_t m = mailbox_cur_stat(dir);

	if (m != 0 && mailbox_now_ns() - m < MAILBOX_SETTLE_NS)
		return -m;
	return m;
}

/* Whether cur/ is as the index last matched it (see above). */
static bool
mailbox_cur_same(const char *dir, int64_t recorded)
{
	int64_t m = mailbox_cur_stat(dir);

	if (m == 0 || recorded == 0)
		return false;
	if (recorded == m)
		return true;
	return recorded == -m && mailbox_now_ns() - m < MAILBOX_SETTLE_NS;
}

/* A folder looked up: its row and directory. */
struct mailbox_folder {
	struct mailindex_folder f;
	char dir[4096];
};

/*
 * Finds a folder by name: its directory must exist (INBOX always does);
 * a folder made by another tool gets its index row here. STORE_OK,
 * STORE_NOTFOUND or STORE_ERROR.
 */
static int
mailbox_folder_find(struct store_mailbox *mb, const char *name,
    struct mailbox_folder *mf, const char **error_r)
{
	int ret;

	if (mailbox_index(mb, error_r) < 0)
		return STORE_ERROR;
	if (mailbox_folder_dir(mb, name, mf->dir, sizeof(mf->dir)) < 0) {
		*error_r = "mailbox name too long";
		return STORE_NOTFOUND;
	}
	if (!mailbox_folder_exists(mf->dir) &&
	    strcmp(name, MAILINDEX_INBOX) != 0)
		return STORE_NOTFOUND;
	ret = mailindex_folder_get(mb->ix, name, &mf->f, error_r);
	if (ret == 1)
		return STORE_OK;
	if (ret < 0)
		return STORE_ERROR;
	if (mailindex_begin(mb->ix, error_r) != MAILINDEX_OK)
		return STORE_ERROR;
	ret = mailindex_folder_get(mb->ix, name, &mf->f, error_r);
	if (ret == 0)
		ret = mailindex_folder_add(mb->ix, name, NULL, &mf->f,
		    error_r) == MAILINDEX_OK ? 1 : -1;
	if (ret < 0) {
		mailindex_rollback(mb->ix);
		return STORE_ERROR;
	}
	return mailindex_commit(mb->ix, error_r) == MAILINDEX_OK ?
	    STORE_OK : STORE_ERROR;
}

/* Re-reads the row under the write lock (another session may have
 * changed it, or renamed the folder). */
static int
mailbox_folder_reload(struct store_mailbox *mb, const char *name,
    struct mailbox_folder *mf, const char **error_r)
{
	int64_t id = mf->f.id;
	int ret = mailindex_folder_get(mb->ix, name, &mf->f, error_r);

	if (ret < 0)
		return STORE_ERROR;
	if (ret == 0 || mf->f.id != id) {
		*error_r = "the mailbox was deleted or renamed meanwhile";
		return STORE_NOTFOUND;
	}
	return STORE_OK;
}

/* ---- sync ---- */

/* Renames a file of the folder (by its current name in sub) to
 * cur/<base>:2,<letters>. */
static int
mailbox_rename_to_cur(const char *dir, const char *sub, const char *name,
    size_t base_len, const char *letters)
{
	char from[4096], to[4096];

	if (str_printf(from, sizeof(from), "%s/%s/%s", dir, sub, name) < 0 ||
	    str_printf(to, sizeof(to), "%s/cur/%.*s%s%s", dir, (int)base_len,
	    name, MAILBOX_INFO, letters) < 0) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if (strcmp(from, to) == 0)
		return 0;
	return rename(from, to);
}

/* Finds the file of a base name in cur/ then new/ (slow: a readdir);
 * *sub_r is "cur" or "new", name_r the file name. 1, 0 or -1. */
static int
mailbox_find_file(const char *dir, const char *base, const char **sub_r,
    char *name_r, size_t namesize)
{
	size_t len = strlen(base);

	for (int d = MAILBOX_CUR; d >= MAILBOX_NEW; d--) {
		char path[4096];
		struct dirent *e;
		DIR *dh;

		if (str_printf(path, sizeof(path), "%s/%s", dir,
		    mailbox_dirs[d]) < 0 || (dh = opendir(path)) == NULL)
			continue;
		while ((e = readdir(dh)) != NULL) {
			if (strncmp(e->d_name, base, len) != 0 ||
			    (e->d_name[len] != '\0' &&
			    strncmp(e->d_name + len, MAILBOX_INFO,
			    strlen(MAILBOX_INFO)) != 0))
				continue;
			str_lcpy(name_r, e->d_name, namesize);
			*sub_r = mailbox_dirs[d];
			closedir(dh);
			return 1;
		}
		closedir(dh);
	}
	return 0;
}

/* The path of a message's file: cur/<base>:2,<letters> when it is
 * there, else wherever a search finds it. 1 found, 0 gone. */
static int
mailbox_msg_path(const char *dir, const char *base, const char *letters,
    char *path, size_t size)
{
	char name[1024];
	const char *sub;
	struct stat st;

	if (str_printf(path, size, "%s/cur/%s%s%s", dir, base, MAILBOX_INFO,
	    letters) >= 0 && lstat(path, &st) == 0)
		return 1;
	if (mailbox_find_file(dir, base, &sub, name, sizeof(name)) != 1)
		return 0;
	return str_printf(path, size, "%s/%s/%s", dir, sub, name) >= 0 ?
	    1 : 0;
}

/* The changes of one sync transaction. */
struct mailbox_sync {
	struct store_mailbox *mb;
	struct mailbox_folder *mf;
	uint64_t modseq;	/* of this transaction's changes */
	bool changed;
};

/* Indexes files that have no row (sorted by delivery order), moving
 * those in new/ to cur/. */
static int
mailbox_sync_add(struct mailbox_sync *s, struct mailbox_file **added,
    size_t nadded, const char **error_r)
{
	struct mailindex_folder *f = &s->mf->f;

	qsort(added, nadded, sizeof(*added), mailbox_file_cmp);
	for (size_t i = 0; i < nadded; i++) {
		struct mailbox_file *fl = added[i];
		struct mailindex_msg m;
		char letters[8];

		if (f->uidnext == 0 || f->uidnext == UINT32_MAX) {
			*error_r = "mailbox UID space exhausted";
			return MAILINDEX_ERROR;
		}
		memset(&m, 0, sizeof(m));
		mailbox_name_letters(fl->name, letters);
		m.uid = f->uidnext++;
		m.base = xstrndup(fl->name, fl->base_len);
		m.size = fl->size;
		m.vsize = fl->vsize;
		m.internal_date = (int64_t)fl->mtime.tv_sec;
		m.modseq = s->modseq;
		str_lcpy(m.flags, letters, sizeof(m.flags));
		if (mailindex_msg_add(s->mb->ix, f->id, &m, error_r) !=
		    MAILINDEX_OK) {
			free(m.base);
			return MAILINDEX_ERROR;
		}
		free(m.base);
		s->changed = true;
		if (fl->dir == MAILBOX_NEW &&
		    mailbox_rename_to_cur(s->mf->dir, "new", fl->name,
		    fl->base_len, letters) < 0 && errno != ENOENT)
			log_warn("event=maildir_rename_failed dir=%s errno=%d",
			    s->mf->dir, errno);
	}
	return MAILINDEX_OK;
}

/* The files of new/: known ones go to cur/ with their index flags, the
 * others are returned for indexing. */
static int
mailbox_sync_new(struct mailbox_sync *s, struct mailbox_scan *scan,
    struct mailbox_file ***added_r, size_t *nadded_r, const char **error_r)
{
	struct mailbox_file **added;
	size_t n = 0;

	if (mailbox_scan_dir(s->mf->dir, scan, MAILBOX_NEW, error_r) < 0)
		return MAILINDEX_ERROR;
	added = xcalloc(scan->count + 1, sizeof(*added));
	for (size_t i = 0; i < scan->count; i++) {
		struct mailbox_file *fl = &scan->files[i];
		struct mailindex_msg m;
		char *base = xstrndup(fl->name, fl->base_len);
		int r = mailindex_msg_by_base(s->mb->ix, s->mf->f.id, base, &m,
		    error_r);

		free(base);
		if (r < 0) {
			free(added);
			return r;
		}
		if (r == 1) {
			/* Indexed, not moved (a crash between the two). */
			mailbox_rename_to_cur(s->mf->dir, "new", fl->name,
			    fl->base_len, m.flags);
			mailindex_msg_clear(&m);
			continue;
		}
		mailbox_file_meta(s->mf->dir, fl);
		if (!fl->gone)
			added[n++] = fl;
	}
	*added_r = added;
	*nadded_r = n;
	return MAILINDEX_OK;
}

/*
 * The full comparison of cur/ with the rows, when cur/ changed behind
 * the index's back: flags changed by other tools are taken over, files
 * without a row are returned for indexing, and rows whose file is gone
 * from both cur/ and new/ (checked with a second scan, as a file may
 * be renamed while readdir passes) are expunged.
 */
static int
mailbox_sync_cur(struct mailbox_sync *s, struct mailbox_scan *scan,
    const struct mailbox_scan *newscan, struct mailbox_file ***added_r,
    size_t *nadded_r, const char **error_r)
{
	struct mailindex_msg *rows = NULL;
	struct mailbox_scan again;
	struct mailbox_file **added = NULL;
	size_t nrows = 0, n = 0, missing = 0;
	int ret;

	memset(&again, 0, sizeof(again));
	if ((ret = mailindex_msgs_load(s->mb->ix, s->mf->f.id, &rows, &nrows,
	    error_r)) != MAILINDEX_OK)
		return ret;
	if (mailbox_scan_dir(s->mf->dir, scan, MAILBOX_CUR, error_r) < 0) {
		ret = MAILINDEX_ERROR;
		goto out;
	}
	for (size_t i = 0; i < nrows; i++) {
		const char *base = rows[i].base;
		size_t len = strlen(base);
		size_t j = mailbox_scan_find(scan, base, len);
		char letters[8];

		if (j == SIZE_MAX) {
			if (mailbox_scan_find(newscan, base, len) == SIZE_MAX)
				missing++;
			continue;
		}
		scan->files[j].matched = true;
		mailbox_name_letters(scan->files[j].name, letters);
		if (strcmp(letters, rows[i].flags) == 0)
			continue;
		ret = mailindex_msg_set_flags(s->mb->ix, s->mf->f.id,
		    rows[i].uid, letters, rows[i].keywords, s->modseq,
		    error_r);
		if (ret != MAILINDEX_OK)
			goto out;
		s->changed = true;
	}
	if (missing > 0) {
		if (mailbox_scan_dir(s->mf->dir, &again, MAILBOX_CUR,
		    error_r) < 0 || mailbox_scan_dir(s->mf->dir, &again,
		    MAILBOX_NEW, error_r) < 0) {
			ret = MAILINDEX_ERROR;
			goto out;
		}
		for (size_t i = 0; i < nrows; i++) {
			const char *base = rows[i].base;
			size_t len = strlen(base);

			if (mailbox_scan_find(scan, base, len) != SIZE_MAX ||
			    mailbox_scan_find(newscan, base, len) != SIZE_MAX ||
			    mailbox_scan_find(&again, base, len) != SIZE_MAX)
				continue;
			ret = mailindex_msg_remove(s->mb->ix, s->mf->f.id,
			    rows[i].uid, s->modseq, error_r);
			if (ret != MAILINDEX_OK)
				goto out;
			s->changed = true;
		}
	}
	added = xcalloc(scan->count + 1, sizeof(*added));
	for (size_t j = 0; j < scan->count; j++) {
		struct mailbox_file *fl = &scan->files[j];

		if (fl->matched)
			continue;
		mailbox_file_meta(s->mf->dir, fl);
		if (!fl->gone)
			added[n++] = fl;
	}
out:
	mailindex_msgs_free(rows, nrows);
	mailbox_scan_free(&again);
	if (ret != MAILINDEX_OK) {
		free(added);
		return ret;
	}
	*added_r = added;
	*nadded_r = n;
	return MAILINDEX_OK;
}

/* Whether new/ holds a message file (without reading all of it). */
static bool
mailbox_new_nonempty(const char *dir)
{
	char path[4096];
	struct dirent *e;
	bool found = false;
	DIR *d;

	if (str_printf(path, sizeof(path), "%s/new", dir) < 0 ||
	    (d = opendir(path)) == NULL)
		return false;
	while (!found && (e = readdir(d)) != NULL)
		found = mailbox_dirent_is_msg(d, e);
	closedir(d);
	return found;
}

/* Whether cur/ disagrees with the rows (names or flags), read without
 * the lock: a sync that finds nothing to change takes none. */
static bool
mailbox_cur_differs(struct store_mailbox *mb, struct mailbox_folder *mf)
{
	struct mailindex_msg *rows = NULL;
	struct mailbox_scan scan;
	size_t nrows = 0;
	const char *error;
	bool differs = false;

	memset(&scan, 0, sizeof(scan));
	if (mailindex_msgs_load(mb->ix, mf->f.id, &rows, &nrows, &error) !=
	    MAILINDEX_OK || mailbox_scan_dir(mf->dir, &scan, MAILBOX_CUR,
	    &error) < 0) {
		differs = true;
		goto out;
	}
	if (scan.count != nrows)
		differs = true;
	for (size_t i = 0; i < nrows && !differs; i++) {
		size_t j = mailbox_scan_find(&scan, rows[i].base,
		    strlen(rows[i].base));
		char letters[8];

		if (j == SIZE_MAX) {
			differs = true;
			break;
		}
		mailbox_name_letters(scan.files[j].name, letters);
		differs = strcmp(letters, rows[i].flags) != 0;
	}
out:
	mailindex_msgs_free(rows, nrows);
	mailbox_scan_free(&scan);
	return differs;
}

/*
 * Brings a folder's rows up to date with its directory: files in new/
 * are indexed and moved to cur/; cur/ is compared in full when full is
 * set or its mtime is not the one the index last matched. Without
 * anything to do it takes no lock. mf->f is current afterwards.
 */
static int
mailbox_sync(struct store_mailbox *mb, const char *name,
    struct mailbox_folder *mf, bool full, const char **error_r)
{
	struct mailbox_scan newscan, curscan;
	struct mailbox_file **added_new = NULL, **added_cur = NULL, **all;
	size_t nnew = 0, ncur = 0;
	struct mailbox_sync s;
	bool external;
	int ret;

	if (!full && !mailbox_new_nonempty(mf->dir)) {
		int64_t stamp;

		if (mailbox_cur_same(mf->dir, mf->f.cur_mtime))
			return STORE_OK;
		if (mailbox_cur_differs(mb, mf))
			goto locked;
		/* Nothing changed; only a new stamp is worth a write. */
		stamp = mailbox_cur_mtime(mf->dir);
		if (stamp == 0 || stamp == mf->f.cur_mtime)
			return STORE_OK;
	}
locked:
	if (mailindex_begin(mb->ix, error_r) != MAILINDEX_OK)
		return STORE_ERROR;
	if ((ret = mailbox_folder_reload(mb, name, mf, error_r)) !=
	    STORE_OK) {
		mailindex_rollback(mb->ix);
		return ret;
	}
	memset(&newscan, 0, sizeof(newscan));
	memset(&curscan, 0, sizeof(curscan));
	memset(&s, 0, sizeof(s));
	s.mb = mb;
	s.mf = mf;
	s.modseq = mf->f.highestmodseq + 1;
	external = full || !mailbox_cur_same(mf->dir, mf->f.cur_mtime);
	ret = mailbox_sync_new(&s, &newscan, &added_new, &nnew, error_r);
	if (ret == MAILINDEX_OK && external)
		ret = mailbox_sync_cur(&s, &curscan, &newscan, &added_cur,
		    &ncur, error_r);
	if (ret == MAILINDEX_OK) {
		all = xcalloc(nnew + ncur + 1, sizeof(*all));
		if (nnew > 0)
			memcpy(all, added_new, nnew * sizeof(*all));
		if (ncur > 0)
			memcpy(all + nnew, added_cur, ncur * sizeof(*all));
		ret = mailbox_sync_add(&s, all, nnew + ncur, error_r);
		free(all);
	}
	if (ret == MAILINDEX_OK) {
		if (s.changed)
			mf->f.highestmodseq = s.modseq;
		mf->f.cur_mtime = mailbox_cur_mtime(mf->dir);
		ret = mailindex_folder_update(mb->ix, &mf->f, error_r);
	}
	free(added_new);
	free(added_cur);
	mailbox_scan_free(&newscan);
	mailbox_scan_free(&curscan);
	return mailbox_txn_end(mb, ret, error_r);
}

/* Finds and syncs a folder, rebuilding a damaged index once. */
static int
mailbox_open_folder(struct store_mailbox *mb, const char *name, bool full,
    struct mailbox_folder *mf, const char **error_r)
{
	int ret;

	for (int attempt = 0;; attempt++) {
		ret = mailbox_folder_find(mb, name, mf, error_r);
		if (ret == STORE_OK)
			ret = mailbox_sync(mb, name, mf, full, error_r);
		if (ret != STORE_ERROR || attempt > 0 || mb->ix == NULL ||
		    !mailindex_is_corrupt(mb->ix))
			return ret;
		if (mailindex_recover(&mb->ix, error_r) != MAILINDEX_OK)
			return STORE_ERROR;
	}
}

/* ---- POP3: the INBOX ---- */

int
store_inbox_list(struct store_mailbox *mb, struct store_msg **msgs_r,
    unsigned *count_r, uint32_t *uidvalidity_r, const char **error_r)
{
	struct mailbox_folder mf;
	struct mailindex_msg *rows = NULL;
	struct store_msg *msgs;
	size_t nrows = 0;

	if (mailbox_open_folder(mb, MAILINDEX_INBOX, false, &mf, error_r) !=
	    STORE_OK ||
	    mailindex_msgs_load(mb->ix, mf.f.id, &rows, &nrows, error_r) !=
	    MAILINDEX_OK)
		return -1;
	msgs = xcalloc(nrows + 1, sizeof(*msgs));
	for (size_t i = 0; i < nrows; i++) {
		struct store_msg *m = &msgs[i];

		m->uid = rows[i].uid;
		m->size = rows[i].size;
		m->vsize = rows[i].vsize;
		m->internal_date = (time_t)rows[i].internal_date;
		m->path = xasprintf("%s/cur/%s%s%s", mf.dir, rows[i].base,
		    MAILBOX_INFO, rows[i].flags);
		m->base = rows[i].base;
		rows[i].base = NULL;
	}
	mailindex_msgs_free(rows, nrows);
	*msgs_r = msgs;
	*count_r = (unsigned)nrows;
	*uidvalidity_r = mf.f.uidvalidity;
	return 0;
}

void
store_msgs_free(struct store_msg *msgs, unsigned count)
{
	for (unsigned i = 0; msgs != NULL && i < count; i++) {
		free(msgs[i].base);
		free(msgs[i].path);
	}
	free(msgs);
}

/* Expunges by UID in a folder under the write lock: files first (and
 * their removal made durable), then the rows, recorded as expunged: the
 * other order could bring a message back under a new UID after a
 * crash. */
static int
mailbox_expunge(struct store_mailbox *mb, const char *name, int64_t id,
    uint32_t uidvalidity, const uint32_t *uids, size_t count,
    const char **error_r)
{
	struct mailbox_folder mf;
	uint32_t *found;
	size_t nfound = 0;
	bool unlinked = false;
	int ret;

	if (count == 0)
		return STORE_OK;
	if ((ret = mailbox_folder_find(mb, name, &mf, error_r)) != STORE_OK)
		return ret;
	if (mf.f.id != id || mf.f.uidvalidity != uidvalidity) {
		*error_r = "mailbox index was rebuilt: UIDs changed";
		return STORE_ERROR;
	}
	if (mailindex_begin(mb->ix, error_r) != MAILINDEX_OK)
		return STORE_ERROR;
	if ((ret = mailbox_folder_reload(mb, name, &mf, error_r)) !=
	    STORE_OK) {
		mailindex_rollback(mb->ix);
		return ret;
	}
	found = xcalloc(count, sizeof(*found));
	ret = MAILINDEX_OK;
	for (size_t i = 0; ret == MAILINDEX_OK && i < count; i++) {
		struct mailindex_msg m;
		char path[4096];
		int r = mailindex_msg_get(mb->ix, id, uids[i], &m, error_r);

		if (r < 0) {
			ret = r;
			break;
		}
		if (r == 0)
			continue;
		found[nfound++] = uids[i];
		if (mailbox_msg_path(mf.dir, m.base, m.flags, path,
		    sizeof(path)) == 1) {
			if (unlink(path) < 0 && errno != ENOENT) {
				*error_r = mailbox_error_errno("cannot unlink",
				    path);
				ret = MAILINDEX_ERROR;
			}
			unlinked = true;
		}
		mailindex_msg_clear(&m);
	}
	if (ret == MAILINDEX_OK && unlinked) {
		char cur[4096];

		/* Else a crash could bring an expunged message back. */
		if (str_printf(cur, sizeof(cur), "%s/cur", mf.dir) < 0 ||
		    maildir_fsync_dir(cur) < 0) {
			*error_r = "cannot fsync cur/";
			ret = MAILINDEX_ERROR;
		}
	}
	for (size_t i = 0; ret == MAILINDEX_OK && i < nfound; i++)
		ret = mailindex_msg_remove(mb->ix, id, found[i],
		    mf.f.highestmodseq + 1, error_r);
	if (ret == MAILINDEX_OK && nfound > 0) {
		mf.f.highestmodseq++;
		mf.f.cur_mtime = mailbox_cur_mtime(mf.dir);
		ret = mailindex_folder_update(mb->ix, &mf.f, error_r);
	}
	free(found);
	return mailbox_txn_end(mb, ret, error_r);
}

int
store_inbox_expunge(struct store_mailbox *mb, uint32_t uidvalidity,
    const uint32_t *uids, unsigned count, const char **error_r)
{
	struct mailbox_folder mf;

	if (count == 0)
		return 0;
	if (mailbox_folder_find(mb, MAILINDEX_INBOX, &mf, error_r) !=
	    STORE_OK)
		return -1;
	return mailbox_expunge(mb, MAILINDEX_INBOX, mf.f.id, uidvalidity,
	    uids, count, error_r) == STORE_OK ? 0 : -1;
}

int
store_msg_open(struct store_mailbox *mb, struct store_msg *msg,
    const char **error_r)
{
	char dir[4096], path[4096];
	int fd = open(msg->path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

	if (fd >= 0)
		return fd;
	if (errno != ENOENT) {
		*error_r = mailbox_error_errno("cannot open", msg->path);
		return -1;
	}
	/* Renamed by another session (flags). */
	if (mailbox_folder_dir(mb, MAILINDEX_INBOX, dir, sizeof(dir)) == 0 &&
	    mailbox_msg_path(dir, msg->base, "", path, sizeof(path)) == 1 &&
	    (fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) >= 0) {
		free(msg->path);
		msg->path = xstrdup(path);
		return fd;
	}
	*error_r = "message is gone";
	errno = ENOENT;
	return -1;
}

/* ---- IMAP: selected folders ---- */

static void
mailbox_imsg_from_row(struct store_imsg *m, struct mailindex_msg *row)
{
	m->uid = row->uid;
	m->flags = mailbox_flags_of(row->flags);
	m->vsize = row->vsize;
	m->internal_date = row->internal_date;
	m->base = row->base;
	m->keywords = row->keywords;
	row->base = NULL;
	row->keywords = NULL;
}

void
store_imsgs_free(struct store_imsg *msgs, size_t count)
{
	for (size_t i = 0; msgs != NULL && i < count; i++) {
		free(msgs[i].base);
		free(msgs[i].keywords);
	}
	free(msgs);
}

void
store_changes_free(struct store_changes *ch)
{
	store_imsgs_free(ch->added, ch->nadded);
	store_imsgs_free(ch->updated, ch->nupdated);
	free(ch->expunged);
	memset(ch, 0, sizeof(*ch));
}

/* Claims the folder's unseen-by-anyone messages as this session's
 * \Recent (under the write lock): returns the first claimed UID. */
static int
mailbox_claim_recent(struct store_mailbox *mb, struct mailbox_folder *mf,
    uint32_t *from_r, const char **error_r)
{
	*from_r = mf->f.recent_uid;
	if (mf->f.recent_uid >= mf->f.uidnext)
		return MAILINDEX_OK;
	mf->f.recent_uid = mf->f.uidnext;
	return mailindex_folder_update(mb->ix, &mf->f, error_r);
}

int
store_folder_select(struct store_mailbox *mb, const char *name,
    bool readonly, struct store_view *v, struct store_imsg **msgs_r,
    size_t *count_r, const char **error_r)
{
	struct mailbox_folder mf;
	struct mailindex_msg *rows = NULL;
	struct store_imsg *msgs;
	size_t nrows = 0;
	uint32_t recent_from = UINT32_MAX;
	int ret;

	if ((ret = mailbox_open_folder(mb, name, false, &mf, error_r)) !=
	    STORE_OK)
		return ret;
	if (mailindex_begin(mb->ix, error_r) != MAILINDEX_OK)
		return STORE_ERROR;
	ret = mailbox_folder_reload(mb, name, &mf, error_r);
	if (ret == STORE_OK && !readonly &&
	    mailbox_claim_recent(mb, &mf, &recent_from, error_r) !=
	    MAILINDEX_OK)
		ret = STORE_ERROR;
	if (ret == STORE_OK && mailindex_msgs_load(mb->ix, mf.f.id, &rows,
	    &nrows, error_r) != MAILINDEX_OK)
		ret = STORE_ERROR;
	if (ret != STORE_OK || mailindex_commit(mb->ix, error_r) !=
	    MAILINDEX_OK) {
		mailindex_rollback(mb->ix);
		mailindex_msgs_free(rows, nrows);
		return ret != STORE_OK ? ret : STORE_ERROR;
	}
	msgs = xcalloc(nrows + 1, sizeof(*msgs));
	for (size_t i = 0; i < nrows; i++) {
		mailbox_imsg_from_row(&msgs[i], &rows[i]);
		if (msgs[i].uid >= recent_from && msgs[i].uid < mf.f.uidnext)
			msgs[i].flags |= STORE_F_RECENT;
	}
	mailindex_msgs_free(rows, nrows);
	memset(v, 0, sizeof(*v));
	str_lcpy(v->name, name, sizeof(v->name));
	v->folder_id = mf.f.id;
	v->uidvalidity = mf.f.uidvalidity;
	v->uidnext = mf.f.uidnext;
	v->modseq = mf.f.highestmodseq;
	v->readonly = readonly;
	*msgs_r = msgs;
	*count_r = nrows;
	return STORE_OK;
}

int
store_view_poll(struct store_mailbox *mb, struct store_view *v,
    struct store_changes *ch, const char **error_r)
{
	struct mailbox_folder mf;
	struct mailindex_msg *rows = NULL;
	size_t nrows = 0;
	uint32_t recent_from = UINT32_MAX;
	int ret;

	memset(ch, 0, sizeof(*ch));
	if ((ret = mailbox_open_folder(mb, v->name, false, &mf, error_r)) !=
	    STORE_OK)
		return ret;
	if (mf.f.id != v->folder_id) {
		*error_r = "the mailbox was deleted or renamed meanwhile";
		return STORE_NOTFOUND;
	}
	if (mf.f.highestmodseq == v->modseq &&
	    (v->readonly || mf.f.recent_uid >= mf.f.uidnext))
		return STORE_OK;
	if (mailindex_begin(mb->ix, error_r) != MAILINDEX_OK)
		return STORE_ERROR;
	ret = mailbox_folder_reload(mb, v->name, &mf, error_r);
	if (ret == STORE_OK && !v->readonly &&
	    mailbox_claim_recent(mb, &mf, &recent_from, error_r) !=
	    MAILINDEX_OK)
		ret = STORE_ERROR;
	if (ret == STORE_OK && (mailindex_msgs_changed(mb->ix, mf.f.id,
	    v->modseq, &rows, &nrows, error_r) != MAILINDEX_OK ||
	    mailindex_expunged_since(mb->ix, mf.f.id, v->modseq,
	    &ch->expunged, &ch->nexpunged, error_r) != MAILINDEX_OK))
		ret = STORE_ERROR;
	if (ret != STORE_OK || mailindex_commit(mb->ix, error_r) !=
	    MAILINDEX_OK) {
		mailindex_rollback(mb->ix);
		mailindex_msgs_free(rows, nrows);
		store_changes_free(ch);
		return ret != STORE_OK ? ret : STORE_ERROR;
	}
	ch->added = xcalloc(nrows + 1, sizeof(*ch->added));
	ch->updated = xcalloc(nrows + 1, sizeof(*ch->updated));
	for (size_t i = 0; i < nrows; i++) {
		struct store_imsg *m;

		if (rows[i].uid >= v->uidnext) {
			m = &ch->added[ch->nadded++];
			mailbox_imsg_from_row(m, &rows[i]);
			if (m->uid >= recent_from && m->uid < mf.f.uidnext)
				m->flags |= STORE_F_RECENT;
		} else {
			m = &ch->updated[ch->nupdated++];
			mailbox_imsg_from_row(m, &rows[i]);
		}
	}
	mailindex_msgs_free(rows, nrows);
	v->uidnext = mf.f.uidnext;
	v->modseq = mf.f.highestmodseq;
	return STORE_OK;
}

/* Starts a change of a selected folder: the write lock, the row
 * re-read, the folder still the one the view selected. */
static int
mailbox_view_begin(struct store_mailbox *mb, const struct store_view *v,
    struct mailbox_folder *mf, const char **error_r)
{
	int ret;

	if ((ret = mailbox_folder_find(mb, v->name, mf, error_r)) != STORE_OK)
		return ret;
	if (mailindex_begin(mb->ix, error_r) != MAILINDEX_OK)
		return STORE_ERROR;
	ret = mailbox_folder_reload(mb, v->name, mf, error_r);
	if (ret == STORE_OK && mf->f.id != v->folder_id) {
		*error_r = "the mailbox was deleted or renamed meanwhile";
		ret = STORE_NOTFOUND;
	}
	if (ret != STORE_OK)
		mailindex_rollback(mb->ix);
	return ret;
}

/* Ends a change: the folder's modseq and cur/ mtime stored, commit. */
static int
mailbox_change_end(struct store_mailbox *mb, struct mailbox_folder *mf,
    int ret, bool changed, const char **error_r)
{
	if (ret == MAILINDEX_OK && changed) {
		mf->f.highestmodseq++;
		mf->f.cur_mtime = mailbox_cur_mtime(mf->dir);
		ret = mailindex_folder_update(mb->ix, &mf->f, error_r);
	}
	return mailbox_txn_end(mb, ret, error_r);
}

/* Keyword set operations on space-separated lists (case-insensitive
 * names, RFC 3501 flag-keyword atoms). */
bool
store_keywords_has(const char *list, const char *kw, size_t len)
{
	const char *p = list;

	while (p != NULL && *p != '\0') {
		const char *end = strchr(p, ' ');
		size_t n = end != NULL ? (size_t)(end - p) : strlen(p);

		if (n == len && strncasecmp(p, kw, len) == 0)
			return true;
		p = end != NULL ? end + 1 : NULL;
	}
	return false;
}

static char *
mailbox_kw_apply(const char *old, enum store_flag_op op, const char *kws)
{
	struct buf b;
	const char *p;
	char *out;

	buf_init(&b);
	/* Keep the old ones unless replaced or removed. */
	for (p = old; op != STORE_FLAGS_SET && p != NULL && *p != '\0';) {
		const char *end = strchr(p, ' ');
		size_t n = end != NULL ? (size_t)(end - p) : strlen(p);

		if (op == STORE_FLAGS_ADD || !store_keywords_has(kws, p, n)) {
			if (b.len > 0)
				buf_append(&b, " ", 1);
			buf_append(&b, p, n);
		}
		p = end != NULL ? end + 1 : NULL;
	}
	for (p = kws; op != STORE_FLAGS_REMOVE && p != NULL && *p != '\0';) {
		const char *end = strchr(p, ' ');
		size_t n = end != NULL ? (size_t)(end - p) : strlen(p);

		if (n > 0 && !store_keywords_has(b.data, p, n)) {
			if (b.len > 0)
				buf_append(&b, " ", 1);
			buf_append(&b, p, n);
		}
		p = end != NULL ? end + 1 : NULL;
	}
	out = b.len > 0 ? xstrdup(b.data) : NULL;
	buf_deinit(&b);
	return out;
}

int
store_flags_change(struct store_mailbox *mb, const struct store_view *v,
    const uint32_t *uids, size_t count, enum store_flag_op op, uint8_t flags,
    const char *keywords, struct store_flag_result **results_r,
    const char **error_r)
{
	struct store_flag_result *res;
	struct mailbox_folder mf;
	bool changed = false;
	int ret;

	flags &= STORE_F_STORED;
	res = xcalloc(count + 1, sizeof(*res));
	*results_r = res;
	if ((ret = mailbox_view_begin(mb, v, &mf, error_r)) != STORE_OK)
		return ret;
	ret = MAILINDEX_OK;
	for (size_t i = 0; ret == MAILINDEX_OK && i < count; i++) {
		struct mailindex_msg m;
		uint8_t oldf, newf;
		char letters[8], path[4096];
		char *kw;
		int r = mailindex_msg_get(mb->ix, mf.f.id, uids[i], &m,
		    error_r);

		res[i].uid = uids[i];
		if (r <= 0) {
			res[i].gone = true;
			ret = r;
			continue;
		}
		oldf = mailbox_flags_of(m.flags);
		newf = op == STORE_FLAGS_SET ? flags : op == STORE_FLAGS_ADD ?
		    (uint8_t)(oldf | flags) : (uint8_t)(oldf & ~flags);
		kw = mailbox_kw_apply(m.keywords, op, keywords);
		if (kw != NULL && strlen(kw) > STORE_KEYWORDS_MAX) {
			/* +FLAGS again and again must not grow a row
			 * without bound. */
			free(kw);
			mailindex_msg_clear(&m);
			*error_r = "too many keywords on a message";
			mailindex_rollback(mb->ix);
			return STORE_INVALID;
		}
		res[i].flags = newf;
		res[i].keywords = kw != NULL ? xstrdup(kw) : NULL;
		if (newf == oldf && ((kw == NULL && m.keywords == NULL) ||
		    (kw != NULL && m.keywords != NULL &&
		    strcmp(kw, m.keywords) == 0))) {
			free(kw);
			mailindex_msg_clear(&m);
			continue;
		}
		mailbox_letters_set(m.flags, newf, letters);
		ret = mailindex_msg_set_flags(mb->ix, mf.f.id, m.uid, letters,
		    kw, mf.f.highestmodseq + 1, error_r);
		if (ret == MAILINDEX_OK && strcmp(letters, m.flags) != 0 &&
		    mailbox_msg_path(mf.dir, m.base, m.flags, path,
		    sizeof(path)) == 1) {
			char to[4096];

			/* Flags live in the index; the name follows. */
			if (str_printf(to, sizeof(to), "%s/cur/%s%s%s", mf.dir,
			    m.base, MAILBOX_INFO, letters) >= 0 &&
			    rename(path, to) < 0)
				log_warn("event=maildir_rename_failed "
				    "path=%s errno=%d", path, errno);
		}
		changed = true;
		free(kw);
		mailindex_msg_clear(&m);
	}
	return mailbox_change_end(mb, &mf, ret, changed, error_r);
}

void
store_flag_results_free(struct store_flag_result *r, size_t count)
{
	for (size_t i = 0; r != NULL && i < count; i++)
		free(r[i].keywords);
	free(r);
}

int
store_expunge(struct store_mailbox *mb, const struct store_view *v,
    const uint32_t *uids, size_t count, const char **error_r)
{
	return mailbox_expunge(mb, v->name, v->folder_id, v->uidvalidity,
	    uids, count, error_r);
}

/* Hard link (or copy across file systems) of a message file. */
static int
mailbox_link_or_copy(const char *from, const char *to)
{
	int in, out, ret = 0;
	char buf[65536];
	ssize_t n;

	if (link(from, to) == 0)
		return 0;
	if (errno != EXDEV && errno != EPERM && errno != EMLINK)
		return -1;
	if ((in = open(from, O_RDONLY | O_CLOEXEC)) < 0)
		return -1;
	out = open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (out < 0) {
		close(in);
		return -1;
	}
	while ((n = read(in, buf, sizeof(buf))) > 0) {
		if (write(out, buf, (size_t)n) != n) {
			ret = -1;
			break;
		}
	}
	if (n < 0 || fsync(out) < 0)
		ret = -1;
	close(in);
	if (close(out) < 0)
		ret = -1;
	if (ret < 0)
		unlink(to);
	return ret;
}

int
store_copy(struct store_mailbox *mb, const struct store_view *v,
    const uint32_t *uids, size_t count, const char *dest,
    uint32_t *uidvalidity_r, uint32_t *new_uids, const char **error_r)
{
	struct mailbox_folder src, dst;
	char **made;
	size_t nmade = 0;
	bool changed = false;
	int ret;

	if ((ret = mailbox_open_folder(mb, dest, false, &dst, error_r)) !=
	    STORE_OK)
		return ret;
	if ((ret = mailbox_view_begin(mb, v, &src, error_r)) != STORE_OK)
		return ret;
	if ((ret = mailbox_folder_reload(mb, dest, &dst, error_r)) !=
	    STORE_OK) {
		mailindex_rollback(mb->ix);
		return ret;
	}
	made = xcalloc(count + 1, sizeof(*made));
	ret = MAILINDEX_OK;
	for (size_t i = 0; ret == MAILINDEX_OK && i < count; i++) {
		struct mailindex_msg m;
		char path[4096], to[4096], base[256];
		int r = mailindex_msg_get(mb->ix, src.f.id, uids[i], &m,
		    error_r);

		new_uids[i] = 0;
		if (r <= 0) {
			ret = r;
			continue;
		}
		maildir_unique_base(m.size, m.vsize, base, sizeof(base));
		if (mailbox_msg_path(src.dir, m.base, m.flags, path,
		    sizeof(path)) != 1) {
			mailindex_msg_clear(&m);
			continue;
		}
		if (str_printf(to, sizeof(to), "%s/cur/%s%s%s", dst.dir, base,
		    MAILBOX_INFO, m.flags) < 0 ||
		    mailbox_link_or_copy(path, to) < 0) {
			*error_r = mailbox_error_errno("cannot copy", path);
			mailindex_msg_clear(&m);
			ret = MAILINDEX_ERROR;
			break;
		}
		made[nmade++] = xstrdup(to);
		if (dst.f.uidnext == 0 || dst.f.uidnext == UINT32_MAX) {
			*error_r = "mailbox UID space exhausted";
			ret = MAILINDEX_ERROR;
		} else {
			free(m.base);
			m.base = xstrdup(base);
			m.uid = dst.f.uidnext++;
			m.modseq = dst.f.highestmodseq + 1;
			ret = mailindex_msg_add(mb->ix, dst.f.id, &m, error_r);
			new_uids[i] = m.uid;
			changed = true;
		}
		mailindex_msg_clear(&m);
	}
	if (ret == MAILINDEX_OK && nmade > 0) {
		char cur[4096];

		if (str_printf(cur, sizeof(cur), "%s/cur", dst.dir) < 0 ||
		    maildir_fsync_dir(cur) < 0) {
			*error_r = "cannot fsync cur/";
			ret = MAILINDEX_ERROR;
		}
	}
	if (ret != MAILINDEX_OK) {
		for (size_t i = 0; i < nmade; i++)
			unlink(made[i]);
	}
	for (size_t i = 0; i < nmade; i++)
		free(made[i]);
	free(made);
	*uidvalidity_r = dst.f.uidvalidity;
	ret = mailbox_change_end(mb, &dst, ret, changed, error_r);
	return ret;
}

/* Copies the APPEND literal into an unlinked file with LF line ends;
 * counts its lines for the W= size. */
static int
mailbox_append_spool(const char *dir, int fd, uint64_t len, int *out_r,
    uint64_t *size_r, uint64_t *lines_r)
{
	char tmpdir[4096], in[65536], outb[65536];
	uint64_t done = 0, size = 0, lines = 0;
	bool cr = false;
	int out;

	if (str_printf(tmpdir, sizeof(tmpdir), "%s/tmp", dir) < 0)
		return -1;
	out = open(tmpdir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (out < 0)
		return -1;
	while (done < len) {
		size_t want = len - done < sizeof(in) ? (size_t)(len - done) :
		    sizeof(in), o = 0;
		ssize_t n = pread(fd, in, want, (off_t)done);

		if (n <= 0) {
			close(out);
			errno = n == 0 ? EIO : errno;
			return -1;
		}
		for (ssize_t i = 0; i < n; i++) {
			char c = in[i];

			if (cr && c != '\n')
				outb[o++] = '\r';
			cr = c == '\r';
			if (cr)
				continue;
			if (c == '\n')
				lines++;
			outb[o++] = c;
			if (o >= sizeof(outb) - 2) {
				if (write(out, outb, o) != (ssize_t)o) {
					close(out);
					return -1;
				}
				size += o;
				o = 0;
			}
		}
		if (o > 0 && write(out, outb, o) != (ssize_t)o) {
			close(out);
			return -1;
		}
		size += o;
		done += (uint64_t)n;
	}
	if (cr) {
		if (write(out, "\r", 1) != 1) {
			close(out);
			return -1;
		}
		size++;
	}
	*out_r = out;
	*size_r = size;
	*lines_r = lines;
	return 0;
}

int
store_append(struct store_mailbox *mb, const char *dest, int fd,
    uint64_t len, uint8_t flags, const char *keywords, time_t internal_date,
    uint32_t *uidvalidity_r, uint32_t *uid_r, const char **error_r)
{
	struct mailbox_folder mf;
	struct maildir_source src;
	struct mailindex_msg m;
	char base[256], letters[8], tmp_path[4096];
	struct timespec times[2];
	uint64_t size, lines;
	int spool, ret;

	if ((ret = mailbox_open_folder(mb, dest, false, &mf, error_r)) !=
	    STORE_OK)
		return ret;
	if (mailbox_append_spool(mf.dir, fd, len, &spool, &size,
	    &lines) < 0) {
		*error_r = mailbox_error_errno("cannot spool the message in",
		    mf.dir);
		return STORE_ERROR;
	}
	memset(&src, 0, sizeof(src));
	src.header = "";
	src.body_fd = spool;
	src.body_size = size;
	src.body_lines = lines;
	ret = maildir_write_tmp(mf.dir, &src, base, sizeof(base), error_r);
	close(spool);
	if (ret < 0)
		return STORE_ERROR;
	/* INTERNALDATE is the file's mtime, as a reindex reads it. */
	times[0].tv_sec = times[1].tv_sec = internal_date;
	times[0].tv_nsec = times[1].tv_nsec = 0;
	if (str_printf(tmp_path, sizeof(tmp_path), "%s/tmp/%s", mf.dir,
	    base) >= 0)
		utimensat(AT_FDCWD, tmp_path, times, 0);
	mailbox_letters_set("", flags & STORE_F_STORED, letters);
	if (mailindex_begin(mb->ix, error_r) != MAILINDEX_OK) {
		unlink(tmp_path);
		return STORE_ERROR;
	}
	if ((ret = mailbox_folder_reload(mb, dest, &mf, error_r)) !=
	    STORE_OK) {
		mailindex_rollback(mb->ix);
		unlink(tmp_path);
		return ret;
	}
	if (mf.f.uidnext == 0 || mf.f.uidnext == UINT32_MAX) {
		mailindex_rollback(mb->ix);
		unlink(tmp_path);
		*error_r = "mailbox UID space exhausted";
		return STORE_ERROR;
	}
	/* Renamed into cur/ under the lock: a sync never sees the file
	 * without its row. */
	{
		char info[16];

		str_printf(info, sizeof(info), "%s%s", MAILBOX_INFO, letters);
		if (maildir_commit_tmp(mf.dir, base, "cur", info,
		    error_r) < 0) {
			mailindex_rollback(mb->ix);
			return STORE_ERROR;
		}
	}
	memset(&m, 0, sizeof(m));
	m.uid = mf.f.uidnext++;
	m.base = base;
	m.size = size;
	if (!mailbox_name_field(base, strlen(base), 'W', &m.vsize))
		m.vsize = size + lines;
	m.internal_date = internal_date;
	m.modseq = mf.f.highestmodseq + 1;
	str_lcpy(m.flags, letters, sizeof(m.flags));
	m.keywords = (char *)keywords;
	ret = mailindex_msg_add(mb->ix, mf.f.id, &m, error_r);
	*uid_r = m.uid;
	*uidvalidity_r = mf.f.uidvalidity;
	ret = mailbox_change_end(mb, &mf, ret, true, error_r);
	if (ret != STORE_OK) {
		char path[4096];

		if (mailbox_msg_path(mf.dir, base, letters, path,
		    sizeof(path)) == 1)
			unlink(path);
	}
	return ret;
}

/* ---- IMAP: folders ---- */

int
store_folder_status(struct store_mailbox *mb, const char *name,
    struct store_status *st, const char **error_r)
{
	struct mailbox_folder mf;
	int ret;

	if ((ret = mailbox_open_folder(mb, name, false, &mf, error_r)) !=
	    STORE_OK)
		return ret;
	memset(st, 0, sizeof(*st));
	st->uidnext = mf.f.uidnext;
	st->uidvalidity = mf.f.uidvalidity;
	return mailindex_folder_counts(mb->ix, &mf.f, &st->messages,
	    &st->unseen, &st->recent, error_r) == MAILINDEX_OK ?
	    STORE_OK : STORE_ERROR;
}

static int
mailbox_folder_cmp(const void *a, const void *b)
{
	const struct store_folder *fa = a, *fb = b;
	bool ia = strcmp(fa->name, MAILINDEX_INBOX) == 0;
	bool ib = strcmp(fb->name, MAILINDEX_INBOX) == 0;

	if (ia != ib)
		return ia ? -1 : 1;
	return strcmp(fa->name, fb->name);
}

static struct store_folder *
mailbox_list_add(struct store_folder **list, size_t *n, size_t *cap,
    const char *name, size_t len)
{
	struct store_folder *f;

	for (size_t i = 0; i < *n; i++) {
		if (strlen((*list)[i].name) == len &&
		    strncmp((*list)[i].name, name, len) == 0)
			return &(*list)[i];
	}
	if (*n == *cap) {
		*cap = *cap != 0 ? *cap * 2 : 16;
		*list = xrealloc(*list, *cap * sizeof(**list));
	}
	f = &(*list)[(*n)++];
	memset(f, 0, sizeof(*f));
	f->name = xstrndup(name, len);
	f->noselect = true;
	return f;
}

int
store_folder_list(struct store_mailbox *mb, struct store_folder **list_r,
    size_t *count_r, const char **error_r)
{
	struct store_folder *list = NULL;
	struct mailindex_folder *rows = NULL;
	size_t n = 0, cap = 0, nrows = 0, nreal;
	struct dirent *e;
	struct buf name;
	DIR *d;

	if (mailbox_index(mb, error_r) < 0)
		return STORE_ERROR;
	if ((d = opendir(mb->maildir)) == NULL) {
		*error_r = mailbox_error_errno("cannot open", mb->maildir);
		return STORE_ERROR;
	}
	mailbox_list_add(&list, &n, &cap, MAILINDEX_INBOX, 5)->noselect =
	    false;
	buf_init(&name);
	while ((e = readdir(d)) != NULL) {
		char dir[4096];

		buf_reset(&name);
		if (e->d_name[0] != '.' || mailbox_dir_name(e->d_name + 1,
		    &name) < 0 || str_printf(dir, sizeof(dir), "%s/%s",
		    mb->maildir, e->d_name) < 0 || !mailbox_folder_exists(dir))
			continue;
		mailbox_list_add(&list, &n, &cap, name.data,
		    name.len)->noselect = false;
	}
	closedir(d);
	buf_deinit(&name);
	/* Parents implied by children ("a/b" without "a") are \Noselect. */
	nreal = n;
	for (size_t i = 0; i < nreal; i++) {
		for (const char *p = strchr(list[i].name, STORE_SEP);
		    p != NULL; p = strchr(p + 1, STORE_SEP)) {
			char *parent = xstrndup(list[i].name,
			    (size_t)(p - list[i].name));

			mailbox_list_add(&list, &n, &cap, parent,
			    strlen(parent));
			free(parent);
		}
	}
	for (size_t i = 0; i < n; i++) {
		size_t len = strlen(list[i].name);

		for (size_t j = 0; j < n && !list[i].haschildren; j++) {
			list[i].haschildren = strncmp(list[j].name,
			    list[i].name, len) == 0 &&
			    list[j].name[len] == STORE_SEP;
		}
	}
	if (mailindex_folders_list(mb->ix, &rows, &nrows, error_r) ==
	    MAILINDEX_OK) {
		for (size_t i = 0; i < nrows; i++) {
			for (size_t j = 0; j < n; j++) {
				if (strcmp(list[j].name, rows[i].name) == 0)
					str_lcpy(list[j].special_use,
					    rows[i].special_use,
					    sizeof(list[j].special_use));
			}
		}
		free(rows);
	}
	qsort(list, n, sizeof(*list), mailbox_folder_cmp);
	*list_r = list;
	*count_r = n;
	return STORE_OK;
}

void
store_folders_free(struct store_folder *list, size_t count)
{
	for (size_t i = 0; list != NULL && i < count; i++)
		free(list[i].name);
	free(list);
}

int
store_subscriptions(struct store_mailbox *mb, char ***names_r,
    size_t *count_r, const char **error_r)
{
	if (mailbox_index(mb, error_r) < 0)
		return STORE_ERROR;
	return mailindex_subscriptions(mb->ix, names_r, count_r, error_r) ==
	    MAILINDEX_OK ? STORE_OK : STORE_ERROR;
}

void
store_names_free(char **names, size_t count)
{
	for (size_t i = 0; names != NULL && i < count; i++)
		free(names[i]);
	free(names);
}

int
store_subscribe(struct store_mailbox *mb, const char *name, bool on,
    const char **error_r)
{
	if (mailbox_index(mb, error_r) < 0)
		return STORE_ERROR;
	return mailindex_subscribe(mb->ix, name, on, error_r) ==
	    MAILINDEX_OK ? STORE_OK : STORE_ERROR;
}

/* Creates a folder's directory and row (special_use may be NULL). */
static int
mailbox_create(struct store_mailbox *mb, const char *name,
    const char *special_use, const char **error_r)
{
	struct mailindex_folder f;
	char dir[4096], marker[4096];
	int fd, ret;

	if (mailbox_index(mb, error_r) < 0)
		return STORE_ERROR;
	if (strcmp(name, MAILINDEX_INBOX) == 0)
		return STORE_EXISTS;
	if (mailbox_folder_dir(mb, name, dir, sizeof(dir)) < 0) {
		*error_r = "mailbox name too long";
		return STORE_INVALID;
	}
	if (mailbox_folder_exists(dir))
		return STORE_EXISTS;
	if (mailindex_begin(mb->ix, error_r) != MAILINDEX_OK)
		return STORE_ERROR;
	/* A row left by a folder another tool removed is stale. */
	ret = mailindex_folder_get(mb->ix, name, &f, error_r);
	if (ret == 1)
		ret = mailindex_folder_remove(mb->ix, f.id, error_r);
	if (ret >= 0)
		ret = mailindex_folder_add(mb->ix, name, special_use, &f,
		    error_r);
	if (ret == MAILINDEX_OK && maildir_create(dir) < 0) {
		*error_r = mailbox_error_errno("cannot create", dir);
		ret = MAILINDEX_ERROR;
	}
	if (ret == MAILINDEX_OK) {
		/* Maildir++ marks folders for the delivery agents. */
		if (str_printf(marker, sizeof(marker), "%s/maildirfolder",
		    dir) >= 0 && (fd = open(marker, O_WRONLY | O_CREAT |
		    O_CLOEXEC, 0600)) >= 0)
			close(fd);
		f.cur_mtime = mailbox_cur_mtime(dir);
		ret = mailindex_folder_update(mb->ix, &f, error_r);
	}
	return mailbox_txn_end(mb, ret, error_r);
}

int
store_folder_create(struct store_mailbox *mb, const char *name,
    const char **error_r)
{
	struct store_folder *list = NULL;
	size_t n = 0;
	int ret = store_folder_valid(name, error_r);

	if (ret != STORE_OK)
		return ret;
	if ((ret = store_folder_list(mb, &list, &n, error_r)) != STORE_OK)
		return ret;
	store_folders_free(list, n);
	if (n >= STORE_FOLDERS_MAX) {
		*error_r = "too many mailboxes";
		return STORE_INVALID;
	}
	return mailbox_create(mb, name, NULL, error_r);
}

int
store_create_defaults(struct store_mailbox *mb, const char **error_r)
{
	static const char *const defaults[][2] = {
		{ "Drafts", "\\Drafts" }, { "Sent", "\\Sent" },
		{ "Trash", "\\Trash" }, { "Junk", "\\Junk" },
		{ "Archive", "\\Archive" },
	};

	for (size_t i = 0; i < ARRAY_SIZE(defaults); i++) {
		int ret = mailbox_create(mb, defaults[i][0], defaults[i][1],
		    error_r);

		if (ret == STORE_EXISTS)
			continue;
		if (ret != STORE_OK ||
		    store_subscribe(mb, defaults[i][0], true, error_r) !=
		    STORE_OK)
			return STORE_ERROR;
	}
	return STORE_OK;
}

/* Removes a directory tree (a folder set aside for deletion). */
static int
mailbox_rm_cb(const char *path, const struct stat *st, int flag,
    struct FTW *ftw)
{
	if (remove(path) < 0 && errno != ENOENT)
		log_warn("event=folder_remove_failed path=%s errno=%d", path,
		    errno);
	return 0;
}

int
store_folder_delete(struct store_mailbox *mb, const char *name,
    const char **error_r)
{
	struct mailindex_folder f;
	struct store_folder *list = NULL;
	char dir[4096], aside[4096];
	size_t n = 0;
	bool children = false;
	int ret;

	if ((ret = store_folder_valid(name, error_r)) != STORE_OK)
		return ret;
	if (strcmp(name, MAILINDEX_INBOX) == 0) {
		*error_r = "INBOX cannot be deleted";
		return STORE_INVALID;
	}
	if (mailbox_folder_dir(mb, name, dir, sizeof(dir)) < 0 ||
	    mailbox_index(mb, error_r) < 0)
		return STORE_ERROR;
	if (!mailbox_folder_exists(dir)) {
		if (store_folder_list(mb, &list, &n, error_r) != STORE_OK)
			return STORE_ERROR;
		for (size_t i = 0; i < n; i++)
			children |= strcmp(list[i].name, name) == 0;
		store_folders_free(list, n);
		return children ? STORE_NOSELECT : STORE_NOTFOUND;
	}
	if (mailindex_begin(mb->ix, error_r) != MAILINDEX_OK)
		return STORE_ERROR;
	ret = mailindex_folder_get(mb->ix, name, &f, error_r);
	if (ret == 1)
		ret = mailindex_folder_remove(mb->ix, f.id, error_r);
	/* Set aside under a name that is not a folder, then removed: a
	 * crash leaves no half-deleted folder in LIST. */
	if (ret >= 0 && (str_printf(aside, sizeof(aside),
	    "%s/facteur-deleted.%lld.%d", mb->maildir, (long long)time(NULL),
	    (int)getpid()) < 0 || rename(dir, aside) < 0)) {
		*error_r = mailbox_error_errno("cannot remove", dir);
		ret = MAILINDEX_ERROR;
	}
	if (ret < 0) {
		mailindex_rollback(mb->ix);
		return STORE_ERROR;
	}
	if (mailindex_commit(mb->ix, error_r) != MAILINDEX_OK)
		return STORE_ERROR;
	nftw(aside, mailbox_rm_cb, 16, FTW_DEPTH | FTW_PHYS);
	return STORE_OK;
}

/* RENAME INBOX (RFC 3501 6.3.5): its messages move to a new folder,
 * INBOX stays, empty. */
static int
mailbox_rename_inbox(struct store_mailbox *mb, const char *to,
    const char **error_r)
{
	struct mailbox_folder src, dst;
	struct mailindex_msg *rows = NULL;
	size_t nrows = 0;
	int ret;

	if ((ret = mailbox_create(mb, to, NULL, error_r)) != STORE_OK)
		return ret;
	if ((ret = mailbox_open_folder(mb, MAILINDEX_INBOX, false, &src,
	    error_r)) != STORE_OK ||
	    (ret = mailbox_folder_find(mb, to, &dst, error_r)) != STORE_OK)
		return ret;
	if (mailindex_begin(mb->ix, error_r) != MAILINDEX_OK)
		return STORE_ERROR;
	ret = mailbox_folder_reload(mb, MAILINDEX_INBOX, &src, error_r) ==
	    STORE_OK && mailbox_folder_reload(mb, to, &dst, error_r) ==
	    STORE_OK ? MAILINDEX_OK : MAILINDEX_ERROR;
	if (ret == MAILINDEX_OK)
		ret = mailindex_msgs_load(mb->ix, src.f.id, &rows, &nrows,
		    error_r);
	for (size_t i = 0; ret == MAILINDEX_OK && i < nrows; i++) {
		char path[4096], topath[4096];
		struct mailindex_msg m = rows[i];

		if (mailbox_msg_path(src.dir, m.base, m.flags, path,
		    sizeof(path)) != 1)
			continue;
		if (str_printf(topath, sizeof(topath), "%s/cur/%s%s%s",
		    dst.dir, m.base, MAILBOX_INFO, m.flags) < 0 ||
		    rename(path, topath) < 0) {
			*error_r = mailbox_error_errno("cannot move", path);
			ret = MAILINDEX_ERROR;
			break;
		}
		m.uid = dst.f.uidnext++;
		m.modseq = dst.f.highestmodseq + 1;
		ret = mailindex_msg_add(mb->ix, dst.f.id, &m, error_r);
		if (ret == MAILINDEX_OK)
			ret = mailindex_msg_remove(mb->ix, src.f.id,
			    rows[i].uid, src.f.highestmodseq + 1, error_r);
	}
	mailindex_msgs_free(rows, nrows);
	if (ret == MAILINDEX_OK) {
		src.f.highestmodseq++;
		dst.f.highestmodseq++;
		src.f.cur_mtime = mailbox_cur_mtime(src.dir);
		dst.f.cur_mtime = mailbox_cur_mtime(dst.dir);
		if (mailindex_folder_update(mb->ix, &src.f, error_r) !=
		    MAILINDEX_OK || mailindex_folder_update(mb->ix, &dst.f,
		    error_r) != MAILINDEX_OK)
			ret = MAILINDEX_ERROR;
	}
	/* Files already moved are found by the syncs of both. */
	return mailbox_txn_end(mb, ret, error_r);
}

/* Whether name is under (or is) from. */
static bool
mailbox_name_under(const char *name, const char *from, size_t flen)
{
	return strncmp(name, from, flen) == 0 &&
	    (name[flen] == '\0' || name[flen] == STORE_SEP);
}

static bool
mailbox_list_has_real(const struct store_folder *list, size_t n,
    const char *name)
{
	for (size_t i = 0; i < n; i++) {
		if (!list[i].noselect && strcmp(list[i].name, name) == 0)
			return true;
	}
	return false;
}

/*
 * The moves of a rename: for each real folder under from, its new name.
 * STORE_EXISTS when one of them is taken (checked before anything moves,
 * so that a half-done rename never happens for that reason).
 */
static int
mailbox_rename_plan(const struct store_folder *list, size_t n,
    const char *from, const char *to, char ***new_r, const char **error_r)
{
	size_t flen = strlen(from);
	char **names = xcalloc(n + 1, sizeof(*names));
	bool found = false;

	for (size_t i = 0; i < n; i++) {
		if (!mailbox_name_under(list[i].name, from, flen))
			continue;
		/* A \Noselect name is renamed through its children. */
		found = true;
		if (list[i].noselect)
			continue;
		names[i] = xasprintf("%s%s", to, list[i].name + flen);
		if (mailbox_list_has_real(list, n, names[i])) {
			store_names_free(names, n);
			return STORE_EXISTS;
		}
	}
	if (!found) {
		store_names_free(names, n);
		return STORE_NOTFOUND;
	}
	*new_r = names;
	return STORE_OK;
}

int
store_folder_rename(struct store_mailbox *mb, const char *from,
    const char *to, const char **error_r)
{
	struct store_folder *list = NULL;
	struct mailindex_folder f;
	char **names = NULL;
	size_t n = 0, flen = strlen(from);
	int ret;

	if ((ret = store_folder_valid(from, error_r)) != STORE_OK ||
	    (ret = store_folder_valid(to, error_r)) != STORE_OK)
		return ret;
	if (strcmp(to, MAILINDEX_INBOX) == 0)
		return STORE_EXISTS;
	if (strcmp(from, MAILINDEX_INBOX) == 0)
		return mailbox_rename_inbox(mb, to, error_r);
	if (strncmp(to, from, flen) == 0 && to[flen] == STORE_SEP) {
		*error_r = "cannot rename a mailbox into itself";
		return STORE_INVALID;
	}
	if ((ret = store_folder_list(mb, &list, &n, error_r)) != STORE_OK)
		return ret;
	if ((ret = mailbox_rename_plan(list, n, from, to, &names,
	    error_r)) != STORE_OK) {
		store_folders_free(list, n);
		return ret;
	}
	if (mailindex_begin(mb->ix, error_r) != MAILINDEX_OK) {
		store_names_free(names, n);
		store_folders_free(list, n);
		return STORE_ERROR;
	}
	/* Stale rows (folders another tool removed) under the new names
	 * would collide. */
	ret = MAILINDEX_OK;
	for (size_t i = 0; ret == MAILINDEX_OK && i < n; i++) {
		int r;

		if (names[i] == NULL)
			continue;
		r = mailindex_folder_get(mb->ix, names[i], &f, error_r);
		if (r == 1)
			r = mailindex_folder_remove(mb->ix, f.id, error_r);
		ret = r < 0 ? r : MAILINDEX_OK;
	}
	if (ret == MAILINDEX_OK)
		ret = mailindex_folder_rename(mb->ix, from, to, error_r);
	for (size_t i = 0; ret == MAILINDEX_OK && i < n; i++) {
		char odir[4096], ndir[4096];

		if (names[i] == NULL)
			continue;
		if (mailbox_folder_dir(mb, list[i].name, odir,
		    sizeof(odir)) < 0 || mailbox_folder_dir(mb, names[i], ndir,
		    sizeof(ndir)) < 0 || rename(odir, ndir) < 0) {
			*error_r = mailbox_error_errno("cannot rename", odir);
			ret = MAILINDEX_ERROR;
		}
	}
	store_names_free(names, n);
	store_folders_free(list, n);
	return mailbox_txn_end(mb, ret, error_r);
}

/* ---- IMAP: reading ---- */

int
store_imsg_open(struct store_mailbox *mb, const struct store_view *v,
    const struct store_imsg *m, const char **error_r)
{
	char dir[4096], path[4096], letters[8];
	struct mailindex_msg row;
	int fd;

	if (mailbox_folder_dir(mb, v->name, dir, sizeof(dir)) < 0) {
		*error_r = "mailbox name too long";
		return -1;
	}
	/* The session's idea of the flags names the file most of the
	 * time; else the index's, else a search. */
	mailbox_letters_set("", m->flags & STORE_F_STORED, letters);
	if (str_printf(path, sizeof(path), "%s/cur/%s%s%s", dir, m->base,
	    MAILBOX_INFO, letters) >= 0 &&
	    (fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) >= 0)
		return fd;
	if (mailbox_index(mb, error_r) == 0 && mailindex_msg_get(mb->ix,
	    v->folder_id, m->uid, &row, error_r) == 1) {
		str_lcpy(letters, row.flags, sizeof(letters));
		mailindex_msg_clear(&row);
	}
	if (mailbox_msg_path(dir, m->base, letters, path, sizeof(path)) == 1 &&
	    (fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) >= 0)
		return fd;
	*error_r = "message is gone";
	errno = ENOENT;
	return -1;
}

int
store_cache_get(struct store_mailbox *mb, const struct store_view *v,
    uint32_t uid, char **envelope_r, char **bodystructure_r, char **body_r,
    const char **error_r)
{
	*envelope_r = *bodystructure_r = *body_r = NULL;
	if (mailbox_index(mb, error_r) < 0)
		return STORE_ERROR;
	return mailindex_cache_get(mb->ix, v->folder_id, uid, envelope_r,
	    bodystructure_r, body_r, error_r) < 0 ? STORE_ERROR : STORE_OK;
}

int
store_cache_set(struct store_mailbox *mb, const struct store_view *v,
    uint32_t uid, const char *envelope, const char *bodystructure,
    const char *body, const char **error_r)
{
	if (mailbox_index(mb, error_r) < 0)
		return STORE_ERROR;
	/* One transaction for a batch (store_cache_flush), not one commit
	 * (and WAL sync) per message of a big FETCH. */
	if (!mb->cache_txn) {
		if (mailindex_begin(mb->ix, error_r) != MAILINDEX_OK)
			return STORE_ERROR;
		mb->cache_txn = true;
	}
	return mailindex_cache_set(mb->ix, v->folder_id, uid, envelope,
	    bodystructure, body, error_r) < 0 ? STORE_ERROR : STORE_OK;
}

void
store_cache_flush(struct store_mailbox *mb)
{
	const char *error;

	if (!mb->cache_txn)
		return;
	mb->cache_txn = false;
	/* A failed commit loses only cached renderings. */
	if (mailindex_commit(mb->ix, &error) != MAILINDEX_OK)
		log_warn("event=cache_commit_failed error=\"%s\"", error);
}

int
store_reindex(struct store_mailbox *mb, const char **error_r)
{
	struct store_folder *list = NULL;
	struct mailbox_folder mf;
	size_t n = 0;
	int ret;

	if ((ret = store_folder_list(mb, &list, &n, error_r)) != STORE_OK)
		return ret;
	for (size_t i = 0; i < n && ret == STORE_OK; i++) {
		if (!list[i].noselect)
			ret = mailbox_open_folder(mb, list[i].name, true, &mf,
			    error_r);
	}
	store_folders_free(list, n);
	return ret;
}
