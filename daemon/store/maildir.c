#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "lib/util.h"
#include "store/maildir.h"

static atomic_uint maildir_counter;

int
maildir_path(const char *data_dir, const char *address, char *out,
    size_t outsize)
{
	static const char hex[] = "0123456789abcdef";
	const char *at = strrchr(address, '@');
	size_t o;
	int n;

	if (at == NULL || at == address)
		return -1;
	n = str_printf(out, outsize, "%s/mail/%s/", data_dir, at + 1);
	if (n < 0)
		return -1;
	o = (size_t)n;
	for (const char *p = address; p < at; p++) {
		unsigned char c = (unsigned char)*p;
		bool safe = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '_' || c == '+' || c == '-' ||
		    (c == '.' && p != address);

		if (o + 4 >= outsize)
			return -1;
		if (safe) {
			out[o++] = (char)c;
		} else {
			out[o++] = '%';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 0xf];
		}
	}
	out[o] = '\0';
	return 0;
}

static int
maildir_mkdir_p(const char *path)
{
	char tmp[4096];
	size_t len = str_lcpy(tmp, path, sizeof(tmp));

	if (len >= sizeof(tmp)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	for (char *p = tmp + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, 0700) < 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	if (mkdir(tmp, 0700) < 0 && errno != EEXIST)
		return -1;
	return 0;
}

int
maildir_fsync_dir(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int ret;

	if (fd < 0)
		return -1;
	ret = fsync(fd);
	close(fd);
	return ret;
}

int
maildir_create(const char *path)
{
	static const char *const subs[] = { "tmp", "new", "cur" };
	char sub[4096];
	struct stat st;

	if (stat(path, &st) == 0) {
		/* Fast path: already there (checked on every delivery). */
		if (str_printf(sub, sizeof(sub), "%s/new", path) >= 0 &&
		    stat(sub, &st) == 0)
			return 0;
	}
	if (maildir_mkdir_p(path) < 0)
		return -1;
	for (size_t i = 0; i < ARRAY_SIZE(subs); i++) {
		if (str_printf(sub, sizeof(sub), "%s/%s", path, subs[i]) < 0) {
			errno = ENAMETOOLONG;
			return -1;
		}
		if (mkdir(sub, 0700) < 0 && errno != EEXIST)
			return -1;
	}
	/* Make the new directories themselves durable. */
	return maildir_fsync_dir(path);
}

static int
maildir_write_all(int fd, const char *p, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int
maildir_copy_body(int out, int in, uint64_t size)
{
	char buf[65536];
	uint64_t done = 0;

	while (done < size) {
		size_t want = size - done < sizeof(buf) ?
		    (size_t)(size - done) : sizeof(buf);
		ssize_t n = pread(in, buf, want, (off_t)done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0)
				errno = EIO;
			return -1;
		}
		if (maildir_write_all(out, buf, (size_t)n) < 0)
			return -1;
		done += (uint64_t)n;
	}
	return 0;
}

/* The host part of a unique name: '/' and ':' are not allowed there. */
static void
maildir_host(char *out, size_t outsize)
{
	char host[256];
	size_t o = 0;

	if (gethostname(host, sizeof(host)) < 0)
		str_lcpy(host, "localhost", sizeof(host));
	host[sizeof(host) - 1] = '\0';
	for (const char *p = host; *p != '\0' && o + 5 < outsize; p++) {
		if (*p == '/' || *p == ':') {
			o += (size_t)snprintf(out + o, outsize - o, "\\%03o",
			    (unsigned char)*p);
		} else {
			out[o++] = *p;
		}
	}
	out[o] = '\0';
}

void
maildir_unique_base(uint64_t size, uint64_t vsize, char *out, size_t outsize)
{
	char host[128];
	struct timeval tv;

	maildir_host(host, sizeof(host));
	gettimeofday(&tv, NULL);
	if (str_printf(out, outsize, "%lld.M%06ldP%dQ%u.%s,S=%llu,W=%llu",
	    (long long)tv.tv_sec, (long)tv.tv_usec, (int)getpid(),
	    atomic_fetch_add(&maildir_counter, 1) + 1, host,
	    (unsigned long long)size, (unsigned long long)vsize) < 0)
		out[0] = '\0';
}

int
maildir_write_tmp(const char *maildir, const struct maildir_source *src,
    char *base_r, size_t basesize, const char **error_r)
{
	char tmp_path[4096];
	uint64_t size, vsize, lines = src->body_lines;
	int fd;

	for (size_t i = 0; i < src->header_len; i++)
		lines += src->header[i] == '\n';
	size = src->header_len + src->body_size;
	vsize = size + lines;	/* every LF becomes CRLF */
	/* A last line without LF is ended with CRLF by POP3 (BDAT content
	 * need not end with one). */
	if (size > 0) {
		char last = '\n';

		if (src->body_size > 0) {
			if (pread(src->body_fd, &last, 1,
			    (off_t)src->body_size - 1) != 1)
				last = '\n';
		} else {
			last = src->header[src->header_len - 1];
		}
		if (last != '\n')
			vsize += 2;
	}
	maildir_unique_base(size, vsize, base_r, basesize);
	if (base_r[0] == '\0' ||
	    str_printf(tmp_path, sizeof(tmp_path), "%s/tmp/%s", maildir,
	    base_r) < 0) {
		*error_r = "path too long";
		errno = ENAMETOOLONG;
		return -1;
	}
	if (maildir_create(maildir) < 0) {
		*error_r = "cannot create maildir";
		return -1;
	}
	fd = open(tmp_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		*error_r = "cannot create file in tmp/";
		return -1;
	}
	if (maildir_write_all(fd, src->header, src->header_len) < 0 ||
	    maildir_copy_body(fd, src->body_fd, src->body_size) < 0) {
		*error_r = "cannot write message";
		goto fail;
	}
	if (fsync(fd) < 0) {
		*error_r = "fsync failed";
		goto fail;
	}
	if (close(fd) < 0) {
		fd = -1;
		*error_r = "close failed";
		goto fail;
	}
	return 0;
fail:
	{
		int saved = errno;

		if (fd >= 0)
			close(fd);
		unlink(tmp_path);
		errno = saved;
	}
	return -1;
}

int
maildir_commit_tmp(const char *maildir, const char *base, const char *sub,
    const char *info, const char **error_r)
{
	char tmp_path[4096], dst_path[4096], dst_dir[4096];

	if (str_printf(tmp_path, sizeof(tmp_path), "%s/tmp/%s", maildir,
	    base) < 0 ||
	    str_printf(dst_path, sizeof(dst_path), "%s/%s/%s%s", maildir, sub,
	    base, info != NULL ? info : "") < 0 ||
	    str_printf(dst_dir, sizeof(dst_dir), "%s/%s", maildir, sub) < 0) {
		*error_r = "path too long";
		errno = ENAMETOOLONG;
		return -1;
	}
	if (rename(tmp_path, dst_path) < 0) {
		int saved = errno;

		unlink(tmp_path);
		errno = saved;
		*error_r = "rename out of tmp/ failed";
		return -1;
	}
	if (maildir_fsync_dir(dst_dir) < 0) {
		/* The file is there but maybe not durably: report failure
		 * and remove it so the sender retries rather than counting
		 * on it. */
		int saved = errno;

		unlink(dst_path);
		errno = saved;
		*error_r = "fsync of the maildir failed";
		return -1;
	}
	return 0;
}

int
maildir_deliver(const char *maildir, const struct maildir_source *src,
    char *name_r, size_t namesize, const char **error_r)
{
	char base[256];

	if (maildir_write_tmp(maildir, src, base, sizeof(base), error_r) < 0 ||
	    maildir_commit_tmp(maildir, base, "new", NULL, error_r) < 0)
		return -1;
	str_lcpy(name_r, base, namesize);
	return 0;
}

/* Adds the sizes of the messages in dir (new/ or cur/). */
static int
maildir_usage_dir(const char *dir, uint64_t *bytes)
{
	DIR *d = opendir(dir);
	struct dirent *e;

	if (d == NULL)
		return errno == ENOENT ? 0 : -1;
	while ((e = readdir(d)) != NULL) {
		const char *s;
		uint64_t v;
		size_t n = 0;

		if (e->d_name[0] == '.')
			continue;
		s = strstr(e->d_name, ",S=");
		if (s != NULL) {
			s += 3;
			while (s[n] >= '0' && s[n] <= '9')
				n++;
			if (str_to_u64(s, n, UINT64_MAX, &v) == 0) {
				*bytes += v;
				continue;
			}
		}
		{
			struct stat st;

			if (fstatat(dirfd(d), e->d_name, &st, 0) == 0)
				*bytes += (uint64_t)st.st_size;
		}
	}
	closedir(d);
	return 0;
}

int
maildir_usage(const char *maildir, uint64_t *bytes_r)
{
	char path[4096];
	DIR *d;
	struct dirent *e;
	uint64_t total = 0;
	int ret = 0;

	if (str_printf(path, sizeof(path), "%s/new", maildir) < 0 ||
	    maildir_usage_dir(path, &total) < 0)
		return -1;
	if (str_printf(path, sizeof(path), "%s/cur", maildir) < 0 ||
	    maildir_usage_dir(path, &total) < 0)
		return -1;
	/* Maildir++ folders */
	d = opendir(maildir);
	if (d == NULL) {
		*bytes_r = total;
		return errno == ENOENT ? 0 : -1;
	}
	while (ret == 0 && (e = readdir(d)) != NULL) {
		if (e->d_name[0] != '.' || strcmp(e->d_name, ".") == 0 ||
		    strcmp(e->d_name, "..") == 0)
			continue;
		if (str_printf(path, sizeof(path), "%s/%s/new", maildir,
		    e->d_name) < 0 || maildir_usage_dir(path, &total) < 0)
			ret = -1;
		else if (str_printf(path, sizeof(path), "%s/%s/cur", maildir,
		    e->d_name) < 0 || maildir_usage_dir(path, &total) < 0)
			ret = -1;
	}
	closedir(d);
	*bytes_r = total;
	return ret;
}

int
maildir_spool_open(const char *data_dir)
{
	char path[4096];
	int fd;

	if (str_printf(path, sizeof(path), "%s/tmp", data_dir) < 0)
		return -1;
	fd = open(path, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd >= 0 || errno != EOPNOTSUPP)
		return fd;
	/* File systems without O_TMPFILE: a named file, unlinked at once. */
	if (str_printf(path, sizeof(path), "%s/tmp/spool.XXXXXX",
	    data_dir) < 0)
		return -1;
	fd = mkostemp(path, O_CLOEXEC);
	if (fd >= 0)
		unlink(path);
	return fd;
}
