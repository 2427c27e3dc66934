#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "db/mailindex.h"
#include "lib/log.h"
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

/* A sync in progress: the index rows in UID order and their files. */
struct mailbox_sync {
	struct mailindex_msg *rows;
	size_t nrows;
	struct mailbox_file **files;	/* per row; NULL: row deleted */
	struct mailbox_scan scan1;	/* before the write lock */
	struct mailbox_scan scan2;	/* under it */
	uint32_t uidvalidity;
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
mailbox_scan_dir(const struct store_mailbox *mb, struct mailbox_scan *scan,
    enum mailbox_dir dir, const char **error_r)
{
	char path[4096];
	struct dirent *e;
	DIR *d;

	if (str_printf(path, sizeof(path), "%s/%s", mb->maildir,
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

static int
mailbox_scan_run(const struct store_mailbox *mb, struct mailbox_scan *scan,
    const char **error_r)
{
	if (mailbox_scan_dir(mb, scan, MAILBOX_NEW, error_r) < 0 ||
	    mailbox_scan_dir(mb, scan, MAILBOX_CUR, error_r) < 0)
		return -1;
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
mailbox_file_meta(const struct store_mailbox *mb, struct mailbox_file *f)
{
	char path[4096];
	struct stat st;

	f->meta = true;
	f->gone = true;
	if (str_printf(path, sizeof(path), "%s/%s/%s", mb->maildir,
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

static int
mailbox_inbox(struct store_mailbox *mb, struct mailindex_folder *f_r,
    const char **error_r)
{
	int ret = mailindex_folder_get(mb->ix, MAILINDEX_INBOX, f_r, error_r);

	if (ret == 1)
		return MAILINDEX_OK;
	if (ret == 0) {
		/* Created with the schema and never deleted. */
		*error_r = "mail index: INBOX missing";
		return MAILINDEX_CORRUPT;
	}
	return ret;
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
	mailindex_close(&mb->ix);
	free(mb->maildir);
	free(mb->index_path);
	free(mb);
	*mbp = NULL;
}

/* ---- sync ---- */

static void
mailbox_sync_free(struct mailbox_sync *s)
{
	mailindex_msgs_free(s->rows, s->nrows);
	free(s->files);
	mailbox_scan_free(&s->scan1);
	mailbox_scan_free(&s->scan2);
	memset(s, 0, sizeof(*s));
}

/* Loads the rows and matches them with the directories; *changed_r
 * when they disagree. Reads only: no lock. */
static int
mailbox_sync_read(struct store_mailbox *mb, struct mailbox_sync *s,
    bool *changed_r, const char **error_r)
{
	struct mailindex_folder f;
	size_t matched = 0;
	int ret;

	*changed_r = false;
	if ((ret = mailbox_inbox(mb, &f, error_r)) != MAILINDEX_OK ||
	    (ret = mailindex_msgs_load(mb->ix, f.id, &s->rows, &s->nrows,
	    error_r)) != MAILINDEX_OK)
		return ret;
	s->uidvalidity = f.uidvalidity;
	if (mailbox_scan_run(mb, &s->scan1, error_r) < 0)
		return MAILINDEX_ERROR;
	s->files = xcalloc(s->nrows + 1, sizeof(*s->files));
	for (size_t i = 0; i < s->nrows; i++) {
		const char *base = s->rows[i].base;
		size_t j = mailbox_scan_find(&s->scan1, base, strlen(base));

		if (j == SIZE_MAX) {
			*changed_r = true;
			continue;
		}
		s->scan1.files[j].matched = true;
		s->files[i] = &s->scan1.files[j];
		matched++;
	}
	if (matched != s->scan1.count)
		*changed_r = true;
	return MAILINDEX_OK;
}

/*
 * Applies the changes under the write lock. The rows and the directories
 * are read again inside the transaction: another session may have
 * synced meanwhile (its rows are then found here, not assigned twice),
 * and a file delivered after the first scan must not look expunged.
 * A row is deleted only when both scans missed its file, which covers a
 * file renamed (flags) while a readdir was passing.
 */
static int
mailbox_sync_write(struct store_mailbox *mb, struct mailbox_sync *s,
    const char **error_r)
{
	struct mailindex_folder f;
	struct mailbox_file **added = NULL;
	size_t nadded = 0;
	uint32_t maxuid = 0;
	uint64_t modseq;
	bool changed = false;
	int ret;

	/* Sizes of new files are read before taking the lock: a first
	 * sync of a large foreign Maildir reads every file. */
	for (size_t i = 0; i < s->scan1.count; i++) {
		if (!s->scan1.files[i].matched)
			mailbox_file_meta(mb, &s->scan1.files[i]);
	}
	if ((ret = mailindex_begin(mb->ix, error_r)) != MAILINDEX_OK)
		return ret;
	mailindex_msgs_free(s->rows, s->nrows);
	s->rows = NULL;
	s->nrows = 0;
	free(s->files);
	s->files = NULL;
	if ((ret = mailbox_inbox(mb, &f, error_r)) != MAILINDEX_OK ||
	    (ret = mailindex_msgs_load(mb->ix, f.id, &s->rows, &s->nrows,
	    error_r)) != MAILINDEX_OK)
		goto out;
	s->uidvalidity = f.uidvalidity;
	modseq = f.highestmodseq + 1;
	if (mailbox_scan_run(mb, &s->scan2, error_r) < 0) {
		ret = MAILINDEX_ERROR;
		goto out;
	}
	s->files = xcalloc(s->nrows + s->scan2.count + 1, sizeof(*s->files));
	for (size_t i = 0; i < s->nrows; i++) {
		const char *base = s->rows[i].base;
		size_t len = strlen(base);
		size_t j = mailbox_scan_find(&s->scan2, base, len);

		if (s->rows[i].uid > maxuid)
			maxuid = s->rows[i].uid;
		if (j != SIZE_MAX) {
			s->scan2.files[j].matched = true;
			s->files[i] = &s->scan2.files[j];
		} else if ((j = mailbox_scan_find(&s->scan1, base, len)) !=
		    SIZE_MAX) {
			s->files[i] = &s->scan1.files[j];
		} else {
			ret = mailindex_msg_remove(mb->ix, f.id,
			    s->rows[i].uid, error_r);
			if (ret != MAILINDEX_OK)
				goto out;
			changed = true;
		}
	}
	added = xcalloc(s->scan2.count + 1, sizeof(*added));
	for (size_t j = 0; j < s->scan2.count; j++) {
		struct mailbox_file *fl = &s->scan2.files[j], *old;
		size_t k;

		if (fl->matched)
			continue;
		k = mailbox_scan_find(&s->scan1, fl->name, fl->base_len);
		old = k != SIZE_MAX ? &s->scan1.files[k] : NULL;
		if (old != NULL && old->meta && !old->gone) {
			fl->meta = true;
			fl->size = old->size;
			fl->vsize = old->vsize;
			fl->mtime = old->mtime;
		} else {
			mailbox_file_meta(mb, fl);
		}
		if (!fl->gone)
			added[nadded++] = fl;
	}
	qsort(added, nadded, sizeof(*added), mailbox_file_cmp);
	/* Defensive: UIDs must stay above every one in use. */
	if (f.uidnext <= maxuid)
		f.uidnext = maxuid + 1;
	if (nadded > 0) {
		s->rows = xrealloc(s->rows,
		    (s->nrows + nadded) * sizeof(*s->rows));
	}
	for (size_t j = 0; j < nadded; j++) {
		struct mailindex_msg *m = &s->rows[s->nrows];

		if (f.uidnext == 0 || f.uidnext == UINT32_MAX) {
			*error_r = "mailbox UID space exhausted";
			ret = MAILINDEX_ERROR;
			goto out;
		}
		m->uid = f.uidnext++;
		m->base = xstrndup(added[j]->name, added[j]->base_len);
		m->size = added[j]->size;
		m->vsize = added[j]->vsize;
		m->internal_date = (int64_t)added[j]->mtime.tv_sec;
		s->files[s->nrows++] = added[j];
		ret = mailindex_msg_add(mb->ix, f.id, m, modseq, error_r);
		if (ret != MAILINDEX_OK)
			goto out;
		changed = true;
	}
	if (changed) {
		f.highestmodseq = modseq;
		ret = mailindex_folder_update(mb->ix, &f, error_r);
	}
out:
	free(added);
	if (ret == MAILINDEX_OK)
		return mailindex_commit(mb->ix, error_r);
	mailindex_rollback(mb->ix);
	return ret;
}

static int
mailbox_sync_run(struct store_mailbox *mb, struct mailbox_sync *s,
    const char **error_r)
{
	bool changed;
	int ret;

	if ((ret = mailbox_sync_read(mb, s, &changed, error_r)) !=
	    MAILINDEX_OK || !changed)
		return ret;
	return mailbox_sync_write(mb, s, error_r);
}

static void
mailbox_sync_result(const struct store_mailbox *mb, struct mailbox_sync *s,
    struct store_msg **msgs_r, unsigned *count_r)
{
	struct store_msg *msgs;
	unsigned n = 0;

	msgs = xcalloc(s->nrows + 1, sizeof(*msgs));
	for (size_t i = 0; i < s->nrows; i++) {
		const struct mailbox_file *fl = s->files[i];
		struct store_msg *m;

		if (fl == NULL)
			continue;
		m = &msgs[n++];
		m->uid = s->rows[i].uid;
		m->size = s->rows[i].size;
		m->vsize = s->rows[i].vsize;
		m->internal_date = (time_t)s->rows[i].internal_date;
		m->base = s->rows[i].base;
		s->rows[i].base = NULL;
		m->path = xasprintf("%s/%s/%s", mb->maildir,
		    mailbox_dirs[fl->dir], fl->name);
	}
	*msgs_r = msgs;
	*count_r = n;
}

int
store_inbox_list(struct store_mailbox *mb, struct store_msg **msgs_r,
    unsigned *count_r, uint32_t *uidvalidity_r, const char **error_r)
{
	struct mailbox_sync s;
	int ret;

	for (int attempt = 0;; attempt++) {
		memset(&s, 0, sizeof(s));
		if (mailbox_index(mb, error_r) < 0)
			return -1;
		ret = mailbox_sync_run(mb, &s, error_r);
		if (ret != MAILINDEX_CORRUPT || attempt > 0)
			break;
		/* Rebuilt with a new UIDVALIDITY: a fresh sync of the
		 * files assigns UIDs again. */
		mailbox_sync_free(&s);
		if (mailindex_recover(&mb->ix, error_r) != MAILINDEX_OK)
			return -1;
	}
	if (ret == MAILINDEX_OK) {
		mailbox_sync_result(mb, &s, msgs_r, count_r);
		*uidvalidity_r = s.uidvalidity;
	}
	mailbox_sync_free(&s);
	return ret == MAILINDEX_OK ? 0 : -1;
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

/* ---- expunge ---- */

/* Unlinks every file in new/ and cur/ whose base name is in set, with
 * any info suffix; makes the removals durable. */
static int
mailbox_unlink_bases(const struct store_mailbox *mb,
    const struct mailbox_scan *set, const char **error_r)
{
	char path[4096];

	for (size_t dir = 0; dir < ARRAY_SIZE(mailbox_dirs); dir++) {
		struct dirent *e;
		bool removed = false;
		DIR *d;

		if (str_printf(path, sizeof(path), "%s/%s", mb->maildir,
		    mailbox_dirs[dir]) < 0) {
			*error_r = "maildir path too long";
			return -1;
		}
		if ((d = opendir(path)) == NULL) {
			if (errno == ENOENT)
				continue;
			*error_r = mailbox_error_errno("cannot open", path);
			return -1;
		}
		for (;;) {
			errno = 0;
			if ((e = readdir(d)) == NULL)
				break;
			if (!mailbox_dirent_is_msg(d, e) ||
			    mailbox_scan_find(set, e->d_name,
			    mailbox_base_len(e->d_name)) == SIZE_MAX)
				continue;
			if (unlinkat(dirfd(d), e->d_name, 0) < 0) {
				if (errno == ENOENT)
					continue;
				*error_r = mailbox_error_errno("cannot unlink "
				    "a message in", path);
				closedir(d);
				return -1;
			}
			removed = true;
		}
		if (errno != 0) {
			*error_r = mailbox_error_errno("cannot read", path);
			closedir(d);
			return -1;
		}
		closedir(d);
		/* Else a crash could bring an expunged message back, with
		 * a new UID. */
		if (removed && maildir_fsync_dir(path) < 0) {
			*error_r = mailbox_error_errno("cannot fsync", path);
			return -1;
		}
	}
	return 0;
}

int
store_inbox_expunge(struct store_mailbox *mb, uint32_t uidvalidity,
    const uint32_t *uids, unsigned count, const char **error_r)
{
	struct mailindex_folder f;
	struct mailbox_scan set;
	uint32_t *found;
	size_t nfound = 0;
	int ret;

	if (count == 0)
		return 0;
	if (mailbox_index(mb, error_r) < 0)
		return -1;
	/* No retry after a recovery here: the UIDs would name other
	 * messages in the rebuilt index. */
	if ((ret = mailindex_begin(mb->ix, error_r)) != MAILINDEX_OK)
		return -1;
	memset(&set, 0, sizeof(set));
	found = xcalloc(count, sizeof(*found));
	ret = mailbox_inbox(mb, &f, error_r);
	if (ret == MAILINDEX_OK && f.uidvalidity != uidvalidity) {
		*error_r = "mailbox index was rebuilt: UIDs changed";
		ret = MAILINDEX_ERROR;
	}
	for (unsigned i = 0; ret == MAILINDEX_OK && i < count; i++) {
		char *base;
		int r = mailindex_msg_base(mb->ix, f.id, uids[i], &base,
		    error_r);

		if (r < 0) {
			ret = r;
		} else if (r == 1) {
			found[nfound++] = uids[i];
			mailbox_scan_add(&set, base, MAILBOX_CUR);
			free(base);
		}
	}
	/* Files first: if the commit then fails, the next sync drops the
	 * rows of the missing files; the other order could resurrect an
	 * expunged message under a new UID. */
	if (ret == MAILINDEX_OK && nfound > 0 &&
	    mailbox_unlink_bases(mb, &set, error_r) < 0)
		ret = MAILINDEX_ERROR;
	for (size_t i = 0; ret == MAILINDEX_OK && i < nfound; i++)
		ret = mailindex_msg_remove(mb->ix, f.id, found[i], error_r);
	if (ret == MAILINDEX_OK && nfound > 0) {
		f.highestmodseq++;
		ret = mailindex_folder_update(mb->ix, &f, error_r);
	}
	free(found);
	mailbox_scan_free(&set);
	if (ret != MAILINDEX_OK) {
		mailindex_rollback(mb->ix);
		return -1;
	}
	return mailindex_commit(mb->ix, error_r) == MAILINDEX_OK ? 0 : -1;
}

/* ---- reading ---- */

int
store_msg_open(struct store_mailbox *mb, struct store_msg *msg,
    const char **error_r)
{
	char path[4096];
	size_t len = strlen(msg->base);
	int fd = open(msg->path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

	if (fd >= 0)
		return fd;
	if (errno != ENOENT) {
		*error_r = mailbox_error_errno("cannot open", msg->path);
		return -1;
	}
	/* Renamed by another session: cur/ is where files move to. */
	for (int dir = MAILBOX_CUR; dir >= MAILBOX_NEW; dir--) {
		struct dirent *e;
		DIR *d;

		if (str_printf(path, sizeof(path), "%s/%s", mb->maildir,
		    mailbox_dirs[dir]) < 0 || (d = opendir(path)) == NULL)
			continue;
		while ((e = readdir(d)) != NULL) {
			if (strncmp(e->d_name, msg->base, len) != 0 ||
			    (e->d_name[len] != '\0' && strncmp(e->d_name + len,
			    MAILBOX_INFO, strlen(MAILBOX_INFO)) != 0) ||
			    !mailbox_dirent_is_msg(d, e))
				continue;
			fd = openat(dirfd(d), e->d_name,
			    O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
			if (fd < 0)
				continue;
			free(msg->path);
			msg->path = xasprintf("%s/%s/%s", mb->maildir,
			    mailbox_dirs[dir], e->d_name);
			closedir(d);
			return fd;
		}
		closedir(d);
	}
	*error_r = "message is gone";
	errno = ENOENT;
	return -1;
}
