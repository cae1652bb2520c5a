/*
 * srv_backup.c - disaster backup: online consistent copies and checked restores.
 *
 * A backup is SQLite's online backup API run over a read transaction of its
 * own: in WAL mode the writer goes on committing while the copy is made, and
 * the copy is the database as of one commit (every acknowledged change up to
 * it, none half-written). The copy is checked (PRAGMA integrity_check) before
 * it is given its final name. `liandong backup PATH` does it from the command
 * line while the server runs; with backup.dir set the server makes one every
 * backup.interval_s in the thread pool (never on the loop) and keeps the
 * newest backup.keep. `liandong restore FILE` checks the file first (integrity,
 * schema version) and only then puts it in place of a stopped server's data.
 */
#include "srv.h"
#include "db_store.h"
#include "srv_error.h"
#include "srv_log.h"
#include "srv_util.h"

#include <dirent.h>
#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Copy src (a live database) to dst through a temporary file; 0 or -1 with *cause. */
int
srv_backup_copy(const char *src, const char *dst, char **cause)
{
	char *tmp = xasprintf("%s.partial", dst);
	sqlite3 *from = NULL, *to = NULL;
	int rc = -1;
	unlink(tmp);
	if (sqlite3_open_v2(src, &from, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
		srv_fail(cause, SRV_E_STORE, "%s: %s", src, sqlite3_errmsg(from));
		goto out;
	}
	sqlite3_busy_timeout(from, 5000);
	if (sqlite3_open(tmp, &to) != SQLITE_OK) {
		srv_fail(cause, SRV_E_STORE, "%s: %s", tmp, sqlite3_errmsg(to));
		goto out;
	}
	/* One step over everything: one read transaction, so one consistent state. */
	sqlite3_backup *b = sqlite3_backup_init(to, "main", from, "main");
	if (b == NULL) {
		srv_fail(cause, SRV_E_STORE, "backup: %s", sqlite3_errmsg(to));
		goto out;
	}
	int step = sqlite3_backup_step(b, -1);
	sqlite3_backup_finish(b);
	if (step != SQLITE_DONE) {
		srv_fail(cause, SRV_E_STORE, "backup: %s", sqlite3_errstr(step));
		goto out;
	}
	/* A copy kept on its own: a rollback journal and a full fsync, not WAL. */
	sqlite3_exec(to, "PRAGMA journal_mode=DELETE; PRAGMA synchronous=FULL;", NULL, NULL, NULL);
	if (srv_backup_check(to, tmp, cause) != 0)
		goto out;
	sqlite3_close(to);
	to = NULL;
	if (rename(tmp, dst) != 0) {
		srv_fail(cause, SRV_E_STORE, "%s: %s", dst, strerror(errno));
		goto out;
	}
	rc = 0;
out:
	sqlite3_close(from);
	sqlite3_close(to);
	if (rc)
		unlink(tmp);
	free(tmp);
	return rc;
}

/* integrity_check and a schema this build knows. 0 or -1 with *cause. */
int
srv_backup_check(sqlite3 *db, const char *name, char **cause)
{
	sqlite3_stmt *s = NULL;
	int rc = -1;
	if (sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &s, NULL) != SQLITE_OK ||
	    sqlite3_step(s) != SQLITE_ROW) {
		srv_fail(cause, SRV_E_STORE, "%s: not a readable SQLite database (%s)", name,
		    sqlite3_errmsg(db));
		goto out;
	}
	const char *r = (const char *)sqlite3_column_text(s, 0);
	if (r == NULL || strcmp(r, "ok") != 0) {
		srv_fail(cause, SRV_E_STORE, "%s: integrity check failed: %s", name, r ? r : "?");
		goto out;
	}
	sqlite3_finalize(s);
	s = NULL;
	if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &s, NULL) != SQLITE_OK ||
	    sqlite3_step(s) != SQLITE_ROW) {
		srv_fail(cause, SRV_E_STORE, "%s: %s", name, sqlite3_errmsg(db));
		goto out;
	}
	int v = sqlite3_column_int(s, 0);
	if (v < 1 || v > db_schema_version()) {
		srv_fail(cause, SRV_E_STORE, "%s: schema version %d is not one this build knows (1-%d)",
		    name, v, db_schema_version());
		goto out;
	}
	rc = 0;
out:
	sqlite3_finalize(s);
	return rc;
}

/* --- the CLI ---------------------------------------------------------------------- */

static char *
db_file(const struct srv_config *cfg)
{
	return xasprintf("%s/liandong.db", cfg->data_dir);
}

/* A row in the audit log, written by this process (like the other admin commands). */
static void
audit_local(const char *path, const char *action, const char *target, const char *detail)
{
	sqlite3 *db = NULL;
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) == SQLITE_OK) {
		sqlite3_busy_timeout(db, 5000);
		srv_audit_cli(db, action, target, detail);
	}
	sqlite3_close(db);
}

int
srv_backup_cli(const struct srv_config *cfg, const char *dst)
{
	char *src = db_file(cfg), *cause = NULL;
	int rc = 1;
	if (access(src, R_OK) != 0) {
		fprintf(stderr, "liandong backup: no database at %s\n", src);
	} else if (srv_backup_copy(src, dst, &cause) != 0) {
		fprintf(stderr, "liandong backup: %s\n", cause);
	} else {
		struct stat st;
		stat(dst, &st);
		printf("{\"backup\":\"%s\",\"bytes\":%lld,\"integrity\":\"ok\"}\n", dst, (long long)st.st_size);
		audit_local(src, "backup", dst, NULL);
		rc = 0;
	}
	free(cause);
	free(src);
	return rc;
}

/*
 * Put a checked backup in place of the data folder's database. The server
 * must be stopped: a database that another process holds open (the server's
 * WAL) is refused. The replaced database is kept beside it.
 */
int
srv_restore_cli(const struct srv_config *cfg, const char *file)
{
	char *dst = db_file(cfg), *cause = NULL;
	char *wal = xasprintf("%s-wal", dst), *shm = xasprintf("%s-shm", dst);
	char *kept = NULL, *tmp = NULL;
	sqlite3 *db = NULL;
	int rc = 1;
	if (sqlite3_open_v2(file, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK ||
	    srv_backup_check(db, file, &cause) != 0) {
		fprintf(stderr, "liandong restore: refused, nothing changed: %s\n",
		    cause ? cause : sqlite3_errmsg(db));
		goto out;
	}
	sqlite3_close(db);
	db = NULL;
	if (access(shm, F_OK) == 0) {
		/* A -shm file: the server is running, or did not stop cleanly. */
		sqlite3 *live = NULL;
		int busy = sqlite3_open_v2(dst, &live, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK ||
		    sqlite3_exec(live, "PRAGMA locking_mode=EXCLUSIVE; BEGIN EXCLUSIVE; COMMIT;", NULL,
			NULL, NULL) != SQLITE_OK;
		sqlite3_close(live);
		if (busy) {
			fprintf(stderr, "liandong restore: %s is in use: stop the server first; nothing "
					"changed\n", dst);
			goto out;
		}
	}
	if (mkdir(cfg->data_dir, 0750) != 0 && errno != EEXIST) {
		fprintf(stderr, "liandong restore: %s: %s\n", cfg->data_dir, strerror(errno));
		goto out;
	}
	tmp = xasprintf("%s.restoring", dst);
	if (srv_backup_copy(file, tmp, &cause) != 0) {
		fprintf(stderr, "liandong restore: refused, nothing changed: %s\n", cause);
		goto out;
	}
	if (access(dst, F_OK) == 0) {
		char ts[40];
		srv_fmt_time(srv_now_us(), 0, ts, sizeof ts);
		kept = xasprintf("%s.before-restore-%s", dst, ts);
		if (rename(dst, kept) != 0) {
			fprintf(stderr, "liandong restore: %s: %s\n", dst, strerror(errno));
			unlink(tmp);
			goto out;
		}
	}
	unlink(wal);
	unlink(shm);
	if (rename(tmp, dst) != 0) {
		fprintf(stderr, "liandong restore: %s: %s\n", dst, strerror(errno));
		goto out;
	}
	printf("{\"restored\":\"%s\",\"from\":\"%s\",\"previous\":%s%s%s}\n", dst, file,
	    kept ? "\"" : "", kept ? kept : "null", kept ? "\"" : "");
	audit_local(dst, "restore", file, kept);
	rc = 0;
out:
	sqlite3_close(db);
	free(cause);
	free(dst);
	free(wal);
	free(shm);
	free(kept);
	free(tmp);
	return rc;
}

/* --- scheduled backups in the server ------------------------------------------------- */

struct backup_sched {
	struct srv *srv;
	uv_timer_t timer;
	int running;
	int closing;
	int refs;
};

struct backup_job {
	uv_work_t w;
	struct backup_sched *b;
	char *src, *dir, *dst;
	int keep, rc;
	char *cause;
};

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Keep the newest `keep` liandong-*.db in dir (their names sort by time). */
static void
prune(const char *dir, int keep)
{
	DIR *d = opendir(dir);
	if (d == NULL)
		return;
	char **names = NULL;
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		size_t len = strlen(e->d_name);
		if (strncmp(e->d_name, "liandong-", 9) == 0 && len > 3 &&
		    strcmp(e->d_name + len - 3, ".db") == 0) {
			names = xrealloc(names, sizeof *names * (size_t)(n + 1));
			names[n++] = xstrdup(e->d_name);
		}
	}
	closedir(d);
	qsort(names, (size_t)n, sizeof *names, cmp_str);
	for (int i = 0; i < n; i++) {
		if (i < n - keep) {
			char *p = xasprintf("%s/%s", dir, names[i]);
			unlink(p);
			free(p);
		}
		free(names[i]);
	}
	free(names);
}

static void
backup_work(uv_work_t *w)
{
	struct backup_job *j = w->data;
	mkdir(j->dir, 0750);
	j->rc = srv_backup_copy(j->src, j->dst, &j->cause);
	if (j->rc == 0)
		prune(j->dir, j->keep);
}

static void
backup_done(uv_work_t *w, int status)
{
	struct backup_job *j = w->data;
	struct backup_sched *b = j->b;
	b->running = 0;
	if (status == 0 && j->rc == 0)
		log_info("backup", "backup made|file=%s", j->dst);
	else
		log_error("backup", "backup failed|file=%s cause=\"%s\"", j->dst,
		    j->cause ? j->cause : "cancelled");
	free(j->src);
	free(j->dir);
	free(j->dst);
	free(j->cause);
	free(j);
	if (--b->refs == 0)
		free(b);
}

static void
backup_tick(uv_timer_t *t)
{
	struct backup_sched *b = t->data;
	if (b->running || b->closing)
		return;
	const struct srv_config *cfg = b->srv->cfg;
	struct backup_job *j = xcalloc(1, sizeof *j);
	char ts[40];
	srv_fmt_time(srv_now_us(), 0, ts, sizeof ts);
	for (char *p = ts; *p; p++) /* 2026-11-24T22:45:01.123Z -> 20261124T224501123Z */
		if (*p == '-' || *p == ':' || *p == '.')
			memmove(p, p + 1, strlen(p));
	j->w.data = j;
	j->b = b;
	j->src = db_file(cfg);
	j->dir = xstrdup(cfg->backup_dir);
	j->dst = xasprintf("%s/liandong-%s.db", cfg->backup_dir, ts);
	j->keep = cfg->backup_keep;
	b->running = 1;
	b->refs++;
	uv_queue_work(b->srv->loop, &j->w, backup_work, backup_done);
}

static void
sched_closed(uv_handle_t *h)
{
	struct backup_sched *b = h->data;
	if (--b->refs == 0)
		free(b);
}

void *
srv_backup_start(struct srv *srv)
{
	if (srv->cfg->backup_dir == NULL || srv->cfg->backup_dir[0] == '\0')
		return NULL;
	struct backup_sched *b = xcalloc(1, sizeof *b);
	b->srv = srv;
	b->refs = 1;
	uv_timer_init(srv->loop, &b->timer);
	b->timer.data = b;
	uint64_t ms = (uint64_t)srv->cfg->backup_interval_s * 1000;
	uv_timer_start(&b->timer, backup_tick, ms, ms);
	log_info("backup", "scheduled backups|dir=%s interval_s=%d keep=%d", srv->cfg->backup_dir,
	    srv->cfg->backup_interval_s, srv->cfg->backup_keep);
	return b;
}

void
srv_backup_stop(void *p)
{
	struct backup_sched *b = p;
	if (b == NULL)
		return;
	b->closing = 1;
	uv_close((uv_handle_t *)&b->timer, sched_closed);
}
