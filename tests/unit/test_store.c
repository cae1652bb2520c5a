/*
 * Unit tests for the store, on a real SQLite file: group commit, idempotent
 * intake, the journal's order and append-only rule, versions, reopen.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "db_store.h"
#include "srv_error.h"
#include "srv_util.h"

struct fx {
	uv_loop_t loop;
	struct db_store *st;
	char dir[64], path[96];
	int done;
	int64_t published[4096];
	int npublished;
	struct db_req *results[4096];
	int nresults;
};

static void
on_publish(void *ctx, int64_t seq, const char *frame, size_t len, const char *scope)
{
	(void)scope;
	struct fx *f = ctx;
	f->published[f->npublished++] = seq;
	assert_non_null(strstr(frame, "\"type\":\"event\""));
	assert_int_equal(strlen(frame), len);
}

static void
on_done(struct db_req *r)
{
	struct fx *f = r->udata;
	f->results[f->nresults++] = r;
	f->done++;
}

static void
open_store(struct fx *f)
{
	char *cause = NULL;
	struct db_store_opts o = { .batch_max = 1024, .backlog_max = 4096 };
	assert_int_equal(db_store_open(&f->st, &f->loop, f->path, &o, on_publish, f, &cause), 0);
}

static int
setup(void **state)
{
	struct fx *f = xcalloc(1, sizeof *f);
	snprintf(f->dir, sizeof f->dir, "%s/ldstore-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof f->path, "%s/t.db", f->dir);
	uv_loop_init(&f->loop);
	open_store(f);
	*state = f;
	return 0;
}

static void
closed(void *arg)
{
	*(int *)arg = 1;
}

static void
close_store(struct fx *f)
{
	int c = 0;
	db_store_close(f->st, closed, &c);
	while (!c)
		uv_run(&f->loop, UV_RUN_ONCE);
}

static void
free_results(struct fx *f)
{
	for (int i = 0; i < f->nresults; i++)
		db_req_free(f->results[i]);
	f->nresults = 0;
	f->done = 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;
	close_store(f);
	free_results(f);
	uv_loop_close(&f->loop);
	char *cmd = xasprintf("rm -rf %s", f->dir);
	assert_int_equal(system(cmd), 0);
	free(cmd);
	free(f);
	return 0;
}

static struct db_req *
create_req(struct fx *f, const char *source, const char *ref, const char *title)
{
	struct db_req *r = db_req_new(DB_OP_CREATE, "test:unit");
	r->inc.source = xstrdup(source);
	r->inc.ext_ref = ref ? xstrdup(ref) : NULL;
	r->inc.title = xstrdup(title);
	r->inc.line = INC_LINE_119;
	r->inc.category = INC_CAT_ACCIDENT;
	r->inc.priority = 1;
	r->inc.status = INC_ST_NEW;
	r->done = on_done;
	r->udata = f;
	return r;
}

static void
wait_done(struct fx *f, int n)
{
	while (f->done < n)
		uv_run(&f->loop, UV_RUN_ONCE);
}

static void
burst_is_group_committed_in_seq_order(void **state)
{
	struct fx *f = *state;
	enum { N = 500 };
	for (int i = 0; i < N; i++) {
		char ref[32];
		snprintf(ref, sizeof ref, "R-%d", i);
		assert_int_equal(db_store_submit(f->st, create_req(f, "json", ref, "火灾")), 0);
	}
	wait_done(f, N);
	struct db_store_stats s;
	db_store_get_stats(f->st, &s);
	assert_int_equal(s.requests, N);
	/* Group commit: a burst shares transactions, so fewer commits than requests. */
	assert_true(s.commits < N);
	assert_true(s.batch_max_seen > 1);
	assert_true(s.syncs > 0);
	assert_int_equal(f->npublished, N);
	for (int i = 0; i < N; i++) {
		assert_int_equal(f->published[i], i + 1); /* published in seq order, no gaps */
		assert_int_equal(f->results[i]->err, 0);
		assert_int_equal(f->results[i]->seq, i + 1);
		assert_true(f->results[i]->committed_at > 0);
	}
	assert_int_equal(db_store_last_seq(f->st), N);
}

static void
same_reference_is_one_incident(void **state)
{
	struct fx *f = *state;
	/* Twice in one batch, then again later: one incident, one journal event. */
	db_store_submit(f->st, create_req(f, "json", "DUP-1", "first"));
	db_store_submit(f->st, create_req(f, "json", "DUP-1", "retry"));
	wait_done(f, 2);
	db_store_submit(f->st, create_req(f, "json", "DUP-1", "later retry"));
	/* The same reference from another adapter is another report. */
	db_store_submit(f->st, create_req(f, "cap", "DUP-1", "other source"));
	wait_done(f, 4);
	int64_t id = f->results[0]->inc.id;
	assert_int_equal(f->results[0]->existed, 0);
	assert_int_equal(f->results[1]->existed, 1);
	assert_int_equal(f->results[1]->inc.id, id);
	assert_string_equal(f->results[1]->inc.title, "first");
	assert_int_equal(f->results[1]->seq, 0);
	assert_int_equal(f->results[2]->inc.id, id);
	assert_int_equal(f->results[2]->existed, 1);
	assert_int_not_equal(f->results[3]->inc.id, id);
	assert_int_equal(f->npublished, 2);
}

static struct db_req *
patch_req(struct fx *f, int64_t id, int64_t version, enum inc_status status)
{
	struct db_req *r = db_req_new(DB_OP_PATCH, "user:tester");
	r->id = id;
	r->if_version = version;
	r->patch.mask = INC_F_STATUS;
	r->patch.v.status = status;
	r->done = on_done;
	r->udata = f;
	return r;
}

static void
patch_checks_version_and_journals_changes(void **state)
{
	struct fx *f = *state;
	db_store_submit(f->st, create_req(f, "manual", NULL, "x"));
	wait_done(f, 1);
	int64_t id = f->results[0]->inc.id;
	db_store_submit(f->st, patch_req(f, id, 1, INC_ST_ACKNOWLEDGED));
	db_store_submit(f->st, patch_req(f, id, 1, INC_ST_DISPATCHED)); /* stale */
	db_store_submit(f->st, patch_req(f, id, 2, INC_ST_ACKNOWLEDGED)); /* no change */
	db_store_submit(f->st, patch_req(f, 9999, 1, INC_ST_CLOSED));
	wait_done(f, 5);
	assert_int_equal(f->results[1]->err, 0);
	assert_int_equal(f->results[1]->inc.version, 2);
	assert_int_equal(f->results[1]->seq, 2);
	assert_non_null(strstr(f->results[1]->frame, "\"changed\":[\"status\"]"));
	assert_non_null(strstr(f->results[1]->frame, "\"actor\":\"user:tester\""));
	assert_int_equal(f->results[2]->err, SRV_E_STALE);
	assert_int_equal(f->results[2]->inc.version, 2); /* the current incident comes back */
	assert_int_equal(f->results[2]->inc.status, INC_ST_ACKNOWLEDGED);
	assert_int_equal(f->results[3]->err, 0);
	assert_int_equal(f->results[3]->changed, 0);
	assert_int_equal(f->results[3]->seq, 0);
	assert_int_equal(f->results[3]->inc.version, 2);
	assert_int_equal(f->results[4]->err, SRV_E_NOT_FOUND);
	assert_int_equal(f->npublished, 2);
}

static void
journal_is_append_only_and_survives_reopen(void **state)
{
	struct fx *f = *state;
	db_store_submit(f->st, create_req(f, "json", "K-1", "a"));
	db_store_submit(f->st, create_req(f, "json", "K-2", "b"));
	wait_done(f, 2);
	close_store(f);
	free_results(f);

	sqlite3 *db;
	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	char *err = NULL;
	assert_int_not_equal(sqlite3_exec(db, "UPDATE journal SET actor='forged'", NULL, NULL, &err),
	    SQLITE_OK);
	assert_non_null(strstr(err, "append-only"));
	sqlite3_free(err);
	err = NULL;
	assert_int_not_equal(sqlite3_exec(db, "DELETE FROM journal", NULL, NULL, &err), SQLITE_OK);
	sqlite3_free(err);
	sqlite3_close(db);

	open_store(f);
	assert_int_equal(db_store_last_seq(f->st), 2);
	db_store_submit(f->st, create_req(f, "json", "K-1", "again"));
	db_store_submit(f->st, create_req(f, "json", "K-3", "c"));
	wait_done(f, 2);
	assert_int_equal(f->results[0]->existed, 1);
	assert_int_equal(f->results[1]->seq, 3); /* numbering continues after reopen */
}

static void
newer_schema_is_refused(void **state)
{
	struct fx *f = *state;
	close_store(f);
	free_results(f);
	sqlite3 *db;
	sqlite3_open(f->path, &db);
	sqlite3_exec(db, "PRAGMA user_version=99", NULL, NULL, NULL);
	sqlite3_close(db);
	char *cause = NULL;
	struct db_store_opts o = { .batch_max = 8, .backlog_max = 8 };
	struct db_store *st = NULL;
	assert_int_equal(db_store_open(&st, &f->loop, f->path, &o, on_publish, f, &cause), SRV_E_STORE);
	assert_non_null(strstr(cause, "newer than this build"));
	free(cause);
	uv_run(&f->loop, UV_RUN_NOWAIT);
	sqlite3_open(f->path, &db);
	char *reset = xasprintf("PRAGMA user_version=%d", db_schema_version());
	sqlite3_exec(db, reset, NULL, NULL, NULL);
	free(reset);
	sqlite3_close(db);
	open_store(f);
}

static void
backlog_is_bounded(void **state)
{
	struct fx *f = *state;
	close_store(f);
	free_results(f);
	char *cause = NULL;
	struct db_store_opts o = { .batch_max = 4, .backlog_max = 3 };
	assert_int_equal(db_store_open(&f->st, &f->loop, f->path, &o, on_publish, f, &cause), 0);
	int refused = 0, accepted = 0;
	for (int i = 0; i < 10; i++) {
		char ref[16];
		snprintf(ref, sizeof ref, "B-%d", i);
		struct db_req *r = create_req(f, "json", ref, "x");
		if (db_store_submit(f->st, r) == SRV_E_OVERLOADED) {
			refused++;
			db_req_free(r);
		} else {
			accepted++;
		}
	}
	assert_int_equal(accepted, 3);
	assert_int_equal(refused, 7);
	wait_done(f, 3);
}

static struct db_req *
report_req(struct fx *f, const char *ref, int action, int64_t version, const char *title,
    const char *target)
{
	struct db_req *r = create_req(f, "cap", ref, title);
	r->action = action;
	r->report_version = version;
	if (target) {
		r->targets = xcalloc(1, sizeof *r->targets);
		r->targets[0] = xstrdup(target);
		r->ntargets = 1;
	}
	return r;
}

static void
later_version_updates_and_older_is_a_retry(void **state)
{
	struct fx *f = *state;
	db_store_submit(f->st, report_req(f, "V-1", 0, 1, "first", NULL));
	wait_done(f, 1);
	db_store_submit(f->st, report_req(f, "V-1", 0, 2, "second", NULL));
	wait_done(f, 2);
	db_store_submit(f->st, report_req(f, "V-1", 0, 1, "first again", NULL));
	db_store_submit(f->st, report_req(f, "V-1", 0, 2, "second again", NULL));
	wait_done(f, 4);
	int64_t id = f->results[0]->inc.id;
	assert_int_equal(f->results[1]->err, 0);
	assert_int_equal(f->results[1]->inc.id, id);
	assert_int_equal(f->results[1]->updated_report, 1);
	assert_string_equal(f->results[1]->inc.title, "second");
	assert_int_equal(f->results[1]->inc.version, 2);
	assert_non_null(strstr(f->results[1]->frame, "\"changed\":[\"title\"]"));
	for (int i = 2; i < 4; i++) {
		assert_int_equal(f->results[i]->existed, 1); /* older or same version: a retry */
		assert_string_equal(f->results[i]->inc.title, "second");
		assert_int_equal(f->results[i]->seq, 0);
	}
	assert_int_equal(f->npublished, 2);
}

static void
update_and_cancel_act_on_the_referenced_report(void **state)
{
	struct fx *f = *state;
	db_store_submit(f->st, report_req(f, "ALERT-1", 0, 0, "雷电黄色预警", NULL));
	wait_done(f, 1);
	int64_t id = f->results[0]->inc.id;
	db_store_submit(f->st, report_req(f, "ALERT-2", 1 /* update */, 0, "雷电橙色预警", "ALERT-1"));
	wait_done(f, 2);
	assert_int_equal(f->results[1]->inc.id, id);
	assert_string_equal(f->results[1]->inc.title, "雷电橙色预警");
	assert_string_equal(f->results[1]->inc.ext_ref, "ALERT-1"); /* keeps its first report */
	/* A retry of the update is recognised by its own reference. */
	db_store_submit(f->st, report_req(f, "ALERT-2", 1, 0, "雷电橙色预警", "ALERT-1"));
	wait_done(f, 3);
	assert_int_equal(f->results[2]->existed, 1);
	assert_int_equal(f->results[2]->inc.id, id);
	/* Cancel, naming the update: same incident, cancelled. */
	db_store_submit(f->st, report_req(f, "ALERT-3", 2 /* cancel */, 0, "解除", "ALERT-2"));
	wait_done(f, 4);
	assert_int_equal(f->results[3]->inc.id, id);
	assert_int_equal(f->results[3]->inc.status, INC_ST_CANCELLED);
	assert_non_null(strstr(f->results[3]->frame, "\"changed\":[\"status\"]"));
	/* A cancel for an alert this centre never had is kept, as a cancelled incident. */
	db_store_submit(f->st, report_req(f, "ALERT-9", 2, 0, "解除", "NEVER-SEEN"));
	wait_done(f, 5);
	assert_int_not_equal(f->results[4]->inc.id, id);
	assert_int_equal(f->results[4]->inc.status, INC_ST_CANCELLED);
	assert_int_equal(f->npublished, 4);
}

static int
count(struct fx *f, const char *sql)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	sqlite3_open(f->path, &db);
	sqlite3_prepare_v2(db, sql, -1, &st, NULL);
	int n = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) : -1;
	sqlite3_finalize(st);
	sqlite3_close(db);
	return n;
}

static void
outbox_rows_commit_with_the_change(void **state)
{
	struct fx *f = *state;
	sqlite3 *db;
	sqlite3_open(f->path, &db);
	assert_int_equal(sqlite3_exec(db,
	    "INSERT INTO gateways (name, adapter, token_hash, rate, burst, webhook, lines, created_at,"
	    " created_by) VALUES ('fire', 'line119', x'00', 10, 10, 'http://127.0.0.1:9/', '119,122', 0, 't'),"
	    " ('police', 'line110', x'00', 10, 10, NULL, NULL, 0, 't')", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	struct db_req *a = create_req(f, "json", "OB-1", "fire"); /* line 119, from elsewhere */
	struct db_req *b = create_req(f, "line119", "OB-2", "own report");
	free(b->actor);
	b->actor = xstrdup("gateway:fire"); /* not echoed back to its sender */
	struct db_req *c = create_req(f, "json", "OB-3", "police matter");
	c->inc.line = INC_LINE_110;
	db_store_submit(f->st, a);
	db_store_submit(f->st, b);
	db_store_submit(f->st, c);
	wait_done(f, 3);
	assert_int_equal(f->results[0]->outboxed, 1);
	assert_int_equal(f->results[1]->outboxed, 0);
	assert_int_equal(f->results[2]->outboxed, 0);
	assert_int_equal(count(f, "SELECT count(*) FROM outbox WHERE gateway='fire'"), 1);
	int64_t obid = count(f, "SELECT max(id) FROM outbox");
	struct db_req *ack = db_req_new(DB_OP_OUTBOX_ACK, "webhook");
	ack->gateway = xstrdup("fire");
	ack->outbox_id = obid;
	ack->done = on_done;
	ack->udata = f;
	db_store_submit(f->st, ack);
	wait_done(f, 4);
	assert_int_equal(f->results[3]->err, 0);
	assert_int_equal(count(f, "SELECT count(*) FROM outbox"), 0);
	assert_int_equal(count(f, "SELECT delivered_id FROM outbox_cursor WHERE gateway='fire'"), obid);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(burst_is_group_committed_in_seq_order, setup, teardown),
		cmocka_unit_test_setup_teardown(same_reference_is_one_incident, setup, teardown),
		cmocka_unit_test_setup_teardown(patch_checks_version_and_journals_changes, setup, teardown),
		cmocka_unit_test_setup_teardown(journal_is_append_only_and_survives_reopen, setup, teardown),
		cmocka_unit_test_setup_teardown(newer_schema_is_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(backlog_is_bounded, setup, teardown),
		cmocka_unit_test_setup_teardown(later_version_updates_and_older_is_a_retry, setup, teardown),
		cmocka_unit_test_setup_teardown(update_and_cancel_act_on_the_referenced_report, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(outbox_rows_commit_with_the_change, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
