/*
 * avl_raw - the storage limit for AVL batches, measured without the server:
 * a bare SQLite file with the server's settings (WAL, synchronous=FULL) and
 * its units table (db_schema_migrate), UNITS units, then BATCHES batches of
 * BATCH position updates, one transaction (one durable commit) per batch,
 * from one thread: what one writer doing nothing but these updates reaches.
 *
 * usage: avl_raw DIR UNITS BATCH SECONDS
 * prints: "raw_batches_per_s N" and "raw_positions_per_s N"
 */
#include "db_store.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double
now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int
check(sqlite3 *db, int rc, const char *what)
{
	if (rc != SQLITE_OK && rc != SQLITE_DONE && rc != SQLITE_ROW) {
		fprintf(stderr, "avl_raw: %s: %s\n", what, sqlite3_errmsg(db));
		exit(1);
	}
	return rc;
}

int
main(int argc, char **argv)
{
	if (argc != 5) {
		fprintf(stderr, "usage: avl_raw DIR UNITS BATCH SECONDS\n");
		return 2;
	}
	int units = atoi(argv[2]), batch = atoi(argv[3]);
	double seconds = atof(argv[4]);
	if (units < 1 || batch < 1 || seconds <= 0) {
		fprintf(stderr, "avl_raw: UNITS, BATCH and SECONDS must be positive\n");
		return 2;
	}
	char path[4096];
	snprintf(path, sizeof path, "%s/avl_raw.db", argv[1]);
	remove(path);
	sqlite3 *db;
	char *cause = NULL;
	check(db, sqlite3_open(path, &db), "open");
	if (db_schema_migrate(db, &cause) != 0) {
		fprintf(stderr, "avl_raw: %s\n", cause);
		return 1;
	}
	sqlite3_stmt *ins, *upd;
	check(db, sqlite3_prepare_v2(db, "INSERT INTO units (id, agency, kind, status, status_at,"
	    " created_at, updated_at, version) VALUES (?1, '119', 'fire_engine', 'available', 0, 0, 0, 1)",
	    -1, &ins, NULL), "prepare");
	check(db, sqlite3_exec(db, "BEGIN", NULL, NULL, NULL), "begin");
	for (int i = 0; i < units; i++) {
		char id[32];
		snprintf(id, sizeof id, "U%05d", i);
		sqlite3_bind_text(ins, 1, id, -1, SQLITE_TRANSIENT);
		check(db, sqlite3_step(ins), "insert");
		sqlite3_reset(ins);
	}
	check(db, sqlite3_exec(db, "COMMIT", NULL, NULL, NULL), "commit");
	/* The same statement the server's writer runs for each position. */
	check(db, sqlite3_prepare_v2(db, "UPDATE units SET lon=?2, lat=?3, pos_at=?4 WHERE id=?1 AND"
	    " (pos_at IS NULL OR pos_at<?4)", -1, &upd, NULL), "prepare");
	unsigned seed = 7;
	long batches = 0, t = 1;
	double t0 = now_s(), t1;
	do {
		check(db, sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL), "begin");
		for (int i = 0; i < batch; i++) {
			char id[32];
			snprintf(id, sizeof id, "U%05d", (int)(rand_r(&seed) % (unsigned)units));
			sqlite3_bind_text(upd, 1, id, -1, SQLITE_TRANSIENT);
			sqlite3_bind_double(upd, 2, 113.2 + (rand_r(&seed) % 10000) / 50000.0);
			sqlite3_bind_double(upd, 3, 23.0 + (rand_r(&seed) % 10000) / 50000.0);
			sqlite3_bind_int64(upd, 4, t++);
			check(db, sqlite3_step(upd), "update");
			sqlite3_reset(upd);
		}
		check(db, sqlite3_exec(db, "COMMIT", NULL, NULL, NULL), "commit");
		batches++;
		t1 = now_s();
	} while (t1 - t0 < seconds);
	printf("raw_batches_per_s %.0f\n", batches / (t1 - t0));
	printf("raw_positions_per_s %.0f\n", batches * batch / (t1 - t0));
	sqlite3_finalize(ins);
	sqlite3_finalize(upd);
	sqlite3_close(db);
	remove(path);
	char side[4200];
	snprintf(side, sizeof side, "%s-wal", path);
	remove(side);
	snprintf(side, sizeof side, "%s-shm", path);
	remove(side);
	return 0;
}
