/*
 * fixtures.h - the shared fixtures (../shared/fixtures, real published CAP
 * and EIDO messages) for the adapter unit tests, and the host table they
 * hand the adapters. Include after cmocka.h.
 *
 * The folder: argv[1], else $LIANDONG_FIXTURES (CTest sets it), else
 * ../../../shared/fixtures from build/tests. A missing folder fails the run.
 */
#ifndef TEST_FIXTURES_H
#define TEST_FIXTURES_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "gw_adapter.h"
#include "srv_util.h"

static const char *fixtures;

/* The real clock: validation compares report times with it. */
static int64_t
fixtures_now(void)
{
	return srv_now_us();
}

static const struct gw_host host = { .api_version = GW_API_VERSION, .now_us = fixtures_now };

/* Find the fixtures folder (it must hold `subdir`). Returns 0, or 1 after saying why. */
static int
fixtures_init(int argc, char **argv, const char *subdir, const char *test)
{
	struct stat st;
	char probe[4096];
	fixtures = argc > 1 ? argv[1] : getenv("LIANDONG_FIXTURES");
	if (fixtures == NULL || *fixtures == '\0')
		fixtures = "../../../shared/fixtures";
	snprintf(probe, sizeof probe, "%s/%s", fixtures, subdir);
	if (stat(probe, &st) != 0 || !S_ISDIR(st.st_mode)) {
		fprintf(stderr, "%s: fixtures not found at '%s' (give the folder as argv[1] or "
				"LIANDONG_FIXTURES)\n", test, fixtures);
		return 1;
	}
	return 0;
}

/* A fixture's bytes (NUL-terminated for convenience); the test fails when it is missing. */
static char *
load(const char *rel, size_t *len)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/%s", fixtures, rel);
	FILE *f = fopen(path, "rb");
	if (f == NULL)
		fail_msg("fixture %s: %s", path, strerror(errno));
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	char *buf = xmalloc((size_t)n + 1);
	size_t got = fread(buf, 1, (size_t)n, f);
	fclose(f);
	buf[got] = '\0';
	if (len)
		*len = got;
	return buf;
}

#endif
