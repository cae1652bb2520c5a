/*
 * fsync_probe.c - the physical limit bench/ingest is measured against.
 *
 * Appends BLOCK-byte blocks (4 KiB by default) to a fresh file in DIR, each
 * followed by fdatasync(), for SECONDS seconds, and prints how many
 * write()+fdatasync() pairs completed per second. This is what one durable
 * commit per request would cost on that disk: an append grows the file, so
 * every fdatasync also has to make the new size durable, just as a WAL
 * append does.
 *
 * Usage: fsync_probe DIR [SECONDS [BLOCK]]
 * Output (one line, key=value, for scripts):
 *   fdatasync_per_sec=5912.4 calls=59124 seconds=10.000 block=4096 file=DIR/fsync-probe.XXXXXX
 * The file is removed before exit. Exit 0 on success, 1 on any error.
 */
#ifndef _GNU_SOURCE
#define _XOPEN_SOURCE 700 /* mkstemp, fdatasync under plain -std=c11 */
#endif
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double
now_sec(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int
parse_long(const char *s, long min, long max, long *out)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

int
main(int argc, char **argv)
{
	long seconds = 10, block = 4096;
	if (argc < 2 || argc > 4 || (argc > 2 && parse_long(argv[2], 1, 3600, &seconds) != 0) ||
	    (argc > 3 && parse_long(argv[3], 1, 1L << 24, &block) != 0)) {
		fprintf(stderr, "usage: %s DIR [SECONDS (1-3600, default 10) [BLOCK bytes (default 4096)]]\n",
		    argv[0]);
		return 1;
	}

	char path[PATH_MAX];
	int n = snprintf(path, sizeof path, "%s/fsync-probe.XXXXXX", argv[1]);
	if (n < 0 || (size_t)n >= sizeof path) {
		fprintf(stderr, "fsync_probe: directory name too long\n");
		return 1;
	}
	int fd = mkstemp(path);
	if (fd < 0) {
		fprintf(stderr, "fsync_probe: cannot create a file in %s: %s\n", argv[1], strerror(errno));
		return 1;
	}

	char *buf = malloc((size_t)block);
	if (!buf) {
		fprintf(stderr, "fsync_probe: out of memory\n");
		close(fd);
		unlink(path);
		return 1;
	}
	memset(buf, 'x', (size_t)block);

	/* Make the empty file itself durable first, so the loop measures appends only. */
	int rc = 0;
	if (fsync(fd) != 0) {
		fprintf(stderr, "fsync_probe: fsync: %s\n", strerror(errno));
		rc = 1;
	}

	unsigned long long calls = 0;
	double t0 = now_sec(), t = t0, end = t0 + (double)seconds;
	while (rc == 0 && t < end) {
		ssize_t w = write(fd, buf, (size_t)block);
		if (w != (ssize_t)block) {
			fprintf(stderr, "fsync_probe: write: %s\n", w < 0 ? strerror(errno) : "short write");
			rc = 1;
			break;
		}
		if (fdatasync(fd) != 0) {
			fprintf(stderr, "fsync_probe: fdatasync: %s\n", strerror(errno));
			rc = 1;
			break;
		}
		calls++;
		t = now_sec();
	}
	double elapsed = t - t0;

	free(buf);
	close(fd);
	unlink(path);
	if (rc != 0)
		return rc;
	if (calls == 0 || elapsed <= 0) {
		fprintf(stderr, "fsync_probe: no fdatasync completed\n");
		return 1;
	}
	printf("fdatasync_per_sec=%.1f calls=%llu seconds=%.3f block=%ld file=%s\n",
	    (double)calls / elapsed, calls, elapsed, block, path);
	return 0;
}
