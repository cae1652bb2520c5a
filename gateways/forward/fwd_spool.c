/* fwd_spool.c - see fwd_spool.h. Everything here blocks; nothing runs on the loop. */
#include "fwd_spool.h"
#include "srv_util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define SEQ_DIGITS 16

static int
fail(char **cause, int err, const char *fmt, ...)
{
	if (cause && *cause == NULL) {
		va_list ap;
		va_start(ap, fmt);
		char *what = xvasprintf(fmt, ap);
		va_end(ap);
		*cause = xasprintf("%s: %s", what, strerror(-err));
		free(what);
	}
	return err;
}

int
fwd_adapter_valid(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > FWD_ADAPTER_MAX)
		return 0;
	for (const char *p = s; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-' || *p == '_'))
			return 0;
	return 1;
}

static int
ctype_plain(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	    c == '+' || c == '-' || c == '_';
}

int
fwd_spool_name(char *buf, size_t len, uint64_t seq, const char *adapter, const char *ctype)
{
	if (!fwd_adapter_valid(adapter) || strlen(ctype) == 0 || strlen(ctype) > FWD_CTYPE_MAX)
		return -EINVAL;
	int n = snprintf(buf, len, "%0*llu.%s.", SEQ_DIGITS, (unsigned long long)seq, adapter);
	if (n < 0 || (size_t)n >= len)
		return -EINVAL;
	size_t o = (size_t)n;
	for (const unsigned char *p = (const unsigned char *)ctype; *p; p++) {
		if (*p < 0x20 || *p >= 0x7f)
			return -EINVAL; /* not a header value we would send */
		if (o + 4 > len)
			return -EINVAL;
		if (ctype_plain(*p))
			buf[o++] = (char)*p;
		else
			o += (size_t)snprintf(buf + o, 4, "%%%02X", *p);
	}
	buf[o] = '\0';
	return 0;
}

uint64_t
fwd_spool_seq(const char *name)
{
	uint64_t seq = 0;
	for (int i = 0; i < SEQ_DIGITS; i++) {
		if (name[i] < '0' || name[i] > '9')
			return 0;
		seq = seq * 10 + (uint64_t)(name[i] - '0');
	}
	return name[SEQ_DIGITS] == '.' ? seq : 0;
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

int
fwd_spool_parse(const char *name, uint64_t *seq, char *adapter, char *ctype)
{
	*seq = fwd_spool_seq(name);
	if (*seq == 0)
		return -EINVAL;
	const char *a = name + SEQ_DIGITS + 1, *dot = strchr(a, '.');
	if (dot == NULL || dot == a || (size_t)(dot - a) > FWD_ADAPTER_MAX)
		return -EINVAL;
	memcpy(adapter, a, (size_t)(dot - a));
	adapter[dot - a] = '\0';
	if (!fwd_adapter_valid(adapter))
		return -EINVAL;
	size_t o = 0;
	for (const char *p = dot + 1; *p; p++) {
		if (o >= FWD_CTYPE_MAX)
			return -EINVAL;
		if (*p == '%') {
			int h = hexval(p[1]), l = h < 0 ? -1 : hexval(p[2]);
			if (l < 0)
				return -EINVAL;
			ctype[o++] = (char)(h * 16 + l);
			p += 2;
		} else if (ctype_plain((unsigned char)*p)) {
			ctype[o++] = *p;
		} else {
			return -EINVAL; /* e.g. "x.json.application%2Fjson.error" or a stray file */
		}
	}
	ctype[o] = '\0';
	return o ? 0 : -EINVAL;
}

int
fwd_fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int rc = fsync(fd) == 0 ? 0 : -errno;
	close(fd);
	return rc;
}

static int
ensure_dir(const char *dir)
{
	if (mkdir(dir, 0750) == 0 || errno == EEXIST) {
		struct stat st;
		if (stat(dir, &st) != 0)
			return -errno;
		return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
	}
	return -errno;
}

/* Scan one folder for the highest sequence number in use; count spool names. */
static int
scan_dir(const char *dir, uint64_t *max_seq, int64_t *count, int64_t *partial, int remove_parts)
{
	DIR *d = opendir(dir);
	if (d == NULL)
		return -errno;
	struct dirent *e;
	uint64_t seq;
	char adapter[FWD_ADAPTER_MAX + 1], ctype[FWD_CTYPE_MAX + 1];
	while ((e = readdir(d)) != NULL) {
		const char *n = e->d_name;
		size_t len = strlen(n);
		if (len > 5 && strcmp(n + len - 5, ".part") == 0) {
			if (remove_parts) {
				if (unlinkat(dirfd(d), n, 0) == 0 && partial)
					(*partial)++;
			}
			continue;
		}
		seq = fwd_spool_seq(n);
		if (seq > *max_seq)
			*max_seq = seq;
		if (count && fwd_spool_parse(n, &seq, adapter, ctype) == 0)
			(*count)++;
	}
	closedir(d);
	return 0;
}

int
fwd_spool_open(const char *dir, struct fwd_spool_info *out, char **cause)
{
	memset(out, 0, sizeof *out);
	out->lock_fd = -1;
	int rc = ensure_dir(dir);
	if (rc)
		return fail(cause, rc, "cannot create the spool folder %s", dir);
	char *rej = xasprintf("%s/rejected", dir), *lock = xasprintf("%s/.lock", dir);
	rc = ensure_dir(rej);
	if (rc) {
		fail(cause, rc, "cannot create %s", rej);
		goto out;
	}
	int fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
	if (fd < 0) {
		rc = fail(cause, -errno, "cannot open %s", lock);
		goto out;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		rc = -errno;
		close(fd);
		if (rc == -EWOULDBLOCK)
			fail(cause, rc, "another liandong-forward is using the spool %s", dir);
		else
			fail(cause, rc, "cannot lock %s", lock);
		goto out;
	}
	out->lock_fd = fd;
	uint64_t max_seq = 0;
	rc = scan_dir(dir, &max_seq, &out->count, &out->partial, 1);
	if (rc == 0)
		rc = scan_dir(rej, &max_seq, NULL, NULL, 1);
	if (rc) {
		fail(cause, rc, "cannot read the spool folder %s", dir);
		goto out;
	}
	if (out->partial)
		fwd_fsync_dir(dir);
	/*
	 * Above everything in use, and at least the clock in microseconds: ids
	 * stay unique across restarts (deleted files' numbers are not reused)
	 * and tell roughly when a report arrived. 16 digits last until 2286.
	 */
	out->next_seq = max_seq + 1;
	uint64_t now_us = (uint64_t)srv_now_us();
	if (now_us > out->next_seq)
		out->next_seq = now_us;
out:
	if (rc && out->lock_fd >= 0) {
		close(out->lock_fd);
		out->lock_fd = -1;
	}
	free(rej);
	free(lock);
	return rc;
}

static int
write_all(int fd, const char *p, size_t len)
{
	while (len) {
		ssize_t w = write(fd, p, len);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

/* Write path durably through a temporary "<tmp>": write, fsync, rename. No folder fsync. */
static int
write_file(const char *tmp, const char *path, const void *body, size_t len, char **cause)
{
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
	if (fd < 0)
		return fail(cause, -errno, "cannot create %s", tmp);
	int rc = write_all(fd, body, len);
	if (rc == 0 && fsync(fd) != 0)
		rc = -errno;
	if (close(fd) != 0 && rc == 0)
		rc = -errno;
	if (rc == 0 && rename(tmp, path) != 0)
		rc = -errno;
	if (rc) {
		unlink(tmp);
		return fail(cause, rc, "cannot write %s", path);
	}
	return 0;
}

int
fwd_spool_write(const char *dir, const char *name, const void *body, size_t len, char **cause)
{
	char *tmp = xasprintf("%s/%0*llu.part", dir, SEQ_DIGITS,
	    (unsigned long long)fwd_spool_seq(name));
	char *path = xasprintf("%s/%s", dir, name);
	int rc = write_file(tmp, path, body, len, cause);
	if (rc == 0) {
		rc = fwd_fsync_dir(dir);
		if (rc) {
			/* The rename may not be durable: the report was not accepted. */
			unlink(path);
			fail(cause, rc, "cannot fsync %s", dir);
		}
	}
	free(tmp);
	free(path);
	return rc;
}

void
fwd_names_free(char **names, int n)
{
	for (int i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

int
fwd_spool_list(const char *dir, uint64_t from, uint64_t below, int max, char ***names, int *n,
    int *more, char **cause)
{
	*names = NULL;
	*n = 0;
	*more = 0;
	DIR *d = opendir(dir);
	if (d == NULL)
		return fail(cause, -errno, "cannot read the spool folder %s", dir);
	/* Keep the max smallest sequence numbers in a sorted array (insertion). */
	char **out = xcalloc((size_t)max, sizeof *out);
	uint64_t *seqs = xcalloc((size_t)max, sizeof *seqs);
	int cnt = 0;
	struct dirent *e;
	char adapter[FWD_ADAPTER_MAX + 1], ctype[FWD_CTYPE_MAX + 1];
	while ((e = readdir(d)) != NULL) {
		uint64_t seq = fwd_spool_seq(e->d_name);
		if (seq == 0 || seq < from || seq >= below)
			continue;
		if (cnt == max && seq > seqs[max - 1]) {
			*more = 1;
			continue;
		}
		if (fwd_spool_parse(e->d_name, &seq, adapter, ctype) != 0)
			continue;
		int i = cnt < max ? cnt : max - 1;
		if (cnt == max) {
			*more = 1;
			free(out[max - 1]);
		} else {
			cnt++;
		}
		while (i > 0 && seqs[i - 1] > seq) {
			seqs[i] = seqs[i - 1];
			out[i] = out[i - 1];
			i--;
		}
		seqs[i] = seq;
		out[i] = xstrdup(e->d_name);
	}
	closedir(d);
	free(seqs);
	*names = out;
	*n = cnt;
	return 0;
}

int
fwd_spool_read(const char *dir, const char *name, size_t max, char **body, size_t *len,
    int64_t *mtime_ms, char **cause)
{
	*body = NULL;
	*len = 0;
	char *path = xasprintf("%s/%s", dir, name);
	int rc = 0, fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (fd < 0) {
		rc = fail(cause, -errno, "cannot open %s", path);
		goto out;
	}
	if (fstat(fd, &st) != 0) {
		rc = fail(cause, -errno, "cannot stat %s", path);
		goto out;
	}
	if ((uint64_t)st.st_size > max) {
		rc = fail(cause, -EFBIG, "%s has %lld bytes, more than the limit of %zu", path,
		    (long long)st.st_size, max);
		goto out;
	}
	*mtime_ms = (int64_t)st.st_mtim.tv_sec * 1000 + st.st_mtim.tv_nsec / 1000000;
	char *buf = xmalloc((size_t)st.st_size + 1);
	size_t got = 0;
	while (got < (size_t)st.st_size) {
		ssize_t r = read(fd, buf + got, (size_t)st.st_size - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	if (got != (size_t)st.st_size) {
		free(buf);
		rc = fail(cause, -EIO, "short read of %s", path);
		goto out;
	}
	buf[got] = '\0';
	*body = buf;
	*len = got;
out:
	if (fd >= 0)
		close(fd);
	free(path);
	return rc;
}

int
fwd_spool_remove(const char *dir, const char *name, char **cause)
{
	char *path = xasprintf("%s/%s", dir, name);
	int rc = unlink(path) == 0 || errno == ENOENT ? 0 : -errno;
	if (rc)
		fail(cause, rc, "cannot delete %s", path);
	else if ((rc = fwd_fsync_dir(dir)) != 0)
		fail(cause, rc, "cannot fsync %s", dir);
	free(path);
	return rc;
}

int
fwd_spool_reject(const char *dir, const char *name, const char *why, size_t why_len, char **cause)
{
	char *rej = xasprintf("%s/rejected", dir);
	char *err = xasprintf("%s/%s.error", rej, name), *tmp = xasprintf("%s.part", err);
	char *from = xasprintf("%s/%s", dir, name), *to = xasprintf("%s/%s", rej, name);
	int rc = write_file(tmp, err, why, why_len, cause);
	if (rc == 0 && rename(from, to) != 0)
		rc = fail(cause, -errno, "cannot move %s to %s", from, to);
	if (rc == 0 && (rc = fwd_fsync_dir(rej)) != 0)
		fail(cause, rc, "cannot fsync %s", rej);
	if (rc == 0 && (rc = fwd_fsync_dir(dir)) != 0)
		fail(cause, rc, "cannot fsync %s", dir);
	free(rej);
	free(err);
	free(tmp);
	free(from);
	free(to);
	return rc;
}

const char *
fwd_inbox_ctype(const char *filename)
{
	static const struct {
		const char *ext, *type;
	} map[] = {
		{ ".json", "application/json" },
		{ ".xml", "application/xml" },
		{ ".cap", "application/cap+xml" },
		{ ".txt", "text/plain" },
	};
	const char *dot = strrchr(filename, '.');
	if (dot)
		for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
			if (strcasecmp(dot, map[i].ext) == 0)
				return map[i].type;
	return "application/octet-stream";
}

/* Files being written (dot files, *.tmp, *.part) and rejected/'s *.error files stay. */
static int
skipped(const char *n)
{
	size_t len = strlen(n);
	return n[0] == '.' || (len > 4 && strcmp(n + len - 4, ".tmp") == 0) ||
	    (len > 5 && strcmp(n + len - 5, ".part") == 0) ||
	    (len > 6 && strcmp(n + len - 6, ".error") == 0);
}

void
fwd_inbox_free(struct fwd_inbox_file *files, int n)
{
	for (int i = 0; i < n; i++)
		free(files[i].path);
	free(files);
}

static int
older(const struct fwd_inbox_file *a, const struct fwd_inbox_file *b)
{
	if (a->mtime_ns != b->mtime_ns)
		return a->mtime_ns < b->mtime_ns;
	return strcmp(a->path, b->path) < 0;
}

/* Add a candidate to the sorted array of the max oldest files. */
static void
keep_oldest(struct fwd_inbox_file *out, int *cnt, int max, struct fwd_inbox_file *f)
{
	if (*cnt == max && !older(f, &out[max - 1])) {
		free(f->path);
		return;
	}
	int i;
	if (*cnt == max) {
		free(out[max - 1].path);
		i = max - 1;
	} else {
		i = (*cnt)++;
	}
	while (i > 0 && older(f, &out[i - 1])) {
		out[i] = out[i - 1];
		i--;
	}
	out[i] = *f;
}

static void
list_folder(const char *inbox, const char *sub, const char *adapter, int max,
    struct fwd_inbox_file *out, int *cnt)
{
	char *dir = sub ? xasprintf("%s/%s", inbox, sub) : xstrdup(inbox);
	DIR *d = opendir(dir);
	if (d == NULL) {
		free(dir);
		return;
	}
	struct dirent *e;
	struct stat st;
	while ((e = readdir(d)) != NULL) {
		if (skipped(e->d_name))
			continue;
		if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0)
			continue;
		if (S_ISDIR(st.st_mode)) {
			if (sub == NULL && fwd_adapter_valid(e->d_name))
				list_folder(inbox, e->d_name, e->d_name, max, out, cnt);
			continue;
		}
		if (!S_ISREG(st.st_mode))
			continue;
		struct fwd_inbox_file f = { 0 };
		f.path = sub ? xasprintf("%s/%s", sub, e->d_name) : xstrdup(e->d_name);
		snprintf(f.adapter, sizeof f.adapter, "%s", adapter);
		f.ctype = fwd_inbox_ctype(e->d_name);
		f.size = st.st_size;
		f.mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
		keep_oldest(out, cnt, max, &f);
	}
	closedir(d);
	free(dir);
}

int
fwd_inbox_list(const char *inbox, const char *def_adapter, int max,
    struct fwd_inbox_file **files, int *n, char **cause)
{
	*files = NULL;
	*n = 0;
	struct stat st;
	if (stat(inbox, &st) != 0)
		return fail(cause, -errno, "cannot read the inbox %s", inbox);
	struct fwd_inbox_file *out = xcalloc((size_t)max, sizeof *out);
	int cnt = 0;
	list_folder(inbox, NULL, def_adapter, max, out, &cnt);
	*files = out;
	*n = cnt;
	return 0;
}

/* Copy src into dst durably (for an inbox on another file system). */
static int
copy_file(const char *src, const char *dst, char **cause)
{
	int in = open(src, O_RDONLY | O_CLOEXEC);
	if (in < 0)
		return fail(cause, -errno, "cannot open %s", src);
	char *tmp = xasprintf("%s.part", dst);
	int rc = 0, out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
	if (out < 0) {
		rc = fail(cause, -errno, "cannot create %s", tmp);
		goto done;
	}
	char buf[65536];
	for (;;) {
		ssize_t r = read(in, buf, sizeof buf);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = -errno;
			break;
		}
		if (r == 0)
			break;
		if ((rc = write_all(out, buf, (size_t)r)) != 0)
			break;
	}
	if (rc == 0 && fsync(out) != 0)
		rc = -errno;
	if (close(out) != 0 && rc == 0)
		rc = -errno;
	if (rc == 0 && rename(tmp, dst) != 0)
		rc = -errno;
	if (rc) {
		unlink(tmp);
		fail(cause, rc, "cannot copy %s to %s", src, dst);
	}
done:
	close(in);
	free(tmp);
	return rc;
}

int
fwd_inbox_take(const char *inbox, const char *path, const char *spool, const char *name,
    char **cause)
{
	char *src = xasprintf("%s/%s", inbox, path), *dst = xasprintf("%s/%s", spool, name);
	int rc = 0;
	if (rename(src, dst) != 0) {
		rc = -errno;
		if (rc == -EXDEV) {
			/*
			 * Another file system: copy durably, then delete the original.
			 * A crash in between leaves both; the second copy is sent too
			 * and the centre answers it as a duplicate.
			 */
			rc = copy_file(src, dst, cause);
			if (rc == 0) {
				int d = fwd_fsync_dir(spool);
				if (d == 0 && unlink(src) != 0)
					d = -errno;
				if (d) {
					/* Undo, or the file would be taken again at every poll. */
					unlink(dst);
					rc = fail(cause, d, "cannot finish moving %s", src);
				}
			}
		} else {
			fail(cause, rc, "cannot move %s to %s", src, dst);
		}
	}
	free(src);
	free(dst);
	return rc;
}
