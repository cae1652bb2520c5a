/*
 * libFuzzer harness: console messages on /ws, as the hub receives them.
 * The input is split at NUL bytes into messages; each message arrives in two
 * fragments (split in the middle), then the loop runs until the hub's reads
 * (snapshots, journal pages) have answered. One console per input, on a real
 * hub over a real (empty, migrated) SQLite store; no socket (wsi NULL).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>
#include <uv.h>

#include "db_read.h"
#include "db_store.h"
#include "hub.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uv_loop_t loop;
static struct db_reader *reader;
static struct hub *hub;

static void
setup(void)
{
	char dir[] = "/tmp/fuzz-ws-XXXXXX";
	if (mkdtemp(dir) == NULL)
		abort();
	static char path[64];
	snprintf(path, sizeof path, "%s/liandong.db", dir);
	sqlite3 *db = NULL;
	char *cause = NULL;
	if (sqlite3_open(path, &db) != SQLITE_OK || db_schema_migrate(db, &cause) != 0)
		abort();
	sqlite3_close(db);
	uv_loop_init(&loop);
	if (db_reader_open(&reader, &loop, path, 1, &cause) != 0)
		abort();
	struct hub_opts o = { .ring = 64, .queue_max = 16, .queue_bytes = 1 << 16, .replay_max = 100,
		.snapshot_max = 10, .max_message = 4096 };
	hub = hub_new(&loop, reader, &o, 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (hub == NULL)
		setup();
	struct hub_console *c = hub_console_new(hub, NULL, "fuzz", NULL);
	size_t start = 0;
	int closed = 0;
	for (size_t i = 0; i <= size && !closed; i++) {
		if (i < size && data[i] != 0)
			continue;
		const char *m = (const char *)data + start;
		size_t n = i - start, half = n / 2;
		int rc = hub_console_receive(c, m, half, 1, half == n);
		if (rc == 0 && half < n)
			rc = hub_console_receive(c, m + half, n - half, 0, 1);
		/* A close code must be one the protocol allows for the reason. */
		if (rc != 0 && rc != 1009 && rc != 1007 && rc != 1008)
			__builtin_trap();
		closed = rc != 0;
		start = i + 1;
		uv_run(&loop, UV_RUN_DEFAULT);
	}
	hub_console_gone(c);
	uv_run(&loop, UV_RUN_DEFAULT);
	return 0;
}
