/*
 * fwd_spool.h - the forwarder's disk spool: one file per report.
 *
 * A spooled report is one file in the spool folder whose content is the
 * payload exactly as it will be posted, and whose name carries everything
 * else:
 *
 *     <seq, 16 digits>.<adapter>.<content type, %-encoded>
 *     0000000000000042.json.application%2Fjson
 *
 * so a file dropped into the inbox can be moved in by a single rename, and
 * `ls` shows an operator what is waiting. Sequence numbers only grow; the
 * forwarder sends in their order. Files being written are "<seq>.part"
 * until they are complete and fsynced (then renamed, then the folder is
 * fsynced); a "*.part" found at start-up was never acknowledged and is
 * deleted. Refused reports move to rejected/ beside a "<name>.error" file.
 *
 * Every function here blocks (open, write, fsync, rename, readdir): they run
 * in the libuv thread pool, or at start-up before the loop runs, never on
 * the loop thread. They touch no shared state. They return 0 or a negative
 * errno, and set *cause (allocated; the caller frees it) when they fail and
 * cause is not NULL.
 */
#ifndef FWD_SPOOL_H
#define FWD_SPOOL_H

#include <stddef.h>
#include <stdint.h>

#define FWD_ADAPTER_MAX 32   /* adapter names: 1-32 of a-z 0-9 - _ (as the centre's registry) */
#define FWD_CTYPE_MAX 100    /* longest content type kept */
#define FWD_NAME_MAX 256     /* buffer size for a spool file name */

/* Is s a valid adapter name? */
int fwd_adapter_valid(const char *s);

/*
 * Build the spool file name of a report into buf (FWD_NAME_MAX bytes).
 * Returns 0, or -EINVAL when the adapter or content type cannot be used.
 */
int fwd_spool_name(char *buf, size_t len, uint64_t seq, const char *adapter, const char *ctype);

/*
 * Split a spool file name. adapter needs FWD_ADAPTER_MAX + 1 bytes, ctype
 * FWD_CTYPE_MAX + 1. Returns 0, or -EINVAL when it is not a spool name.
 */
int fwd_spool_parse(const char *name, uint64_t *seq, char *adapter, char *ctype);

/* The sequence number a spool name (or "<seq>.part") starts with; 0 when none. */
uint64_t fwd_spool_seq(const char *name);

/* What fwd_spool_open() found. */
struct fwd_spool_info {
	int lock_fd;         /* holds the spool's lock until the process exits */
	int64_t count;       /* reports waiting */
	uint64_t next_seq;   /* above every sequence number in use, here or in rejected/ */
	int64_t partial;     /* unfinished writes deleted */
};

/*
 * Open (create) the spool folder and its rejected/ subfolder, take the
 * spool's lock (one forwarder per spool: a second one is refused), delete
 * unfinished writes, count the waiting reports and find the next sequence
 * number. Called once at start-up.
 */
int fwd_spool_open(const char *dir, struct fwd_spool_info *out, char **cause);

/*
 * Write one report durably: "<seq>.part", write, fsync, rename to name,
 * fsync the folder. When it returns 0 the report survives a crash.
 */
int fwd_spool_write(const char *dir, const char *name, const void *body, size_t len,
    char **cause);

/*
 * List the spool names with from <= seq < below, smallest first, at most
 * max of them: *names is an allocated array of allocated strings (free with
 * fwd_names_free), *n their number, *more set when further names matched.
 * Memory is bounded by max, whatever the size of the spool.
 */
int fwd_spool_list(const char *dir, uint64_t from, uint64_t below, int max, char ***names,
    int *n, int *more, char **cause);
void fwd_names_free(char **names, int n);

/*
 * Read one spooled report. The body is allocated (caller frees), at most
 * max bytes: larger gives -EFBIG. mtime_ms is its modification time.
 */
int fwd_spool_read(const char *dir, const char *name, size_t max, char **body, size_t *len,
    int64_t *mtime_ms, char **cause);

/* Delete a forwarded report: unlink, fsync the folder. */
int fwd_spool_remove(const char *dir, const char *name, char **cause);

/*
 * Move a refused report to rejected/, with why (the centre's answer, or the
 * forwarder's own reason) in rejected/<name>.error beside it.
 */
int fwd_spool_reject(const char *dir, const char *name, const char *why, size_t why_len,
    char **cause);

/* A file waiting in the inbox. */
struct fwd_inbox_file {
	char *path;                        /* relative to the inbox: "x.json" or "119/x.xml" */
	char adapter[FWD_ADAPTER_MAX + 1]; /* from its subfolder, or the default adapter */
	const char *ctype;                 /* from its extension (static string) */
	int64_t size;
	int64_t mtime_ns;
};

/*
 * List up to max complete files of the inbox, oldest first: regular files
 * directly in it (default adapter) or in a subfolder named for an adapter.
 * Names starting with '.' or ending in .tmp or .part are being written and
 * are left alone, and so are *.error files (rejected/'s explanations). *files is allocated (free with fwd_inbox_free).
 */
int fwd_inbox_list(const char *inbox, const char *def_adapter, int max,
    struct fwd_inbox_file **files, int *n, char **cause);
void fwd_inbox_free(struct fwd_inbox_file *files, int n);

/* The content type the inbox gives a file name's extension. */
const char *fwd_inbox_ctype(const char *filename);

/*
 * Move an inbox file into the spool under name (rename; a copy, fsync and
 * unlink when the inbox is on another file system). The caller fsyncs the
 * folders afterwards (fwd_fsync_dir), once for a batch.
 */
int fwd_inbox_take(const char *inbox, const char *path, const char *spool, const char *name,
    char **cause);

/* fsync a folder, so the names created or removed in it are durable. */
int fwd_fsync_dir(const char *dir);

#endif
