/* Unit tests for dsp_recent: the writer's index of recent reports by place. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>

#include "dsp_recent.h"

static struct dsp_recent_hit
hit(int64_t id, double lon, double lat, int64_t t)
{
	struct dsp_recent_hit h = { id, lon, lat, t, t, 1 };
	return h;
}

static void
box_and_window_newest_first(void **state)
{
	(void)state;
	struct dsp_recent *r = dsp_recent_new(0.006, 256);
	struct dsp_recent_hit h;
	/* Four reports around one spot (across cell borders), one far away, one too old. */
	h = hit(1, 113.3000, 23.1000, 1000); dsp_recent_add(r, &h);
	h = hit(2, 113.2999, 23.0999, 2000); dsp_recent_add(r, &h);  /* another cell */
	h = hit(3, 113.5000, 23.3000, 3000); dsp_recent_add(r, &h);  /* far */
	h = hit(4, 113.3001, 23.1001, 4000); dsp_recent_add(r, &h);
	h = hit(5, 113.3020, 23.1000, 5000); dsp_recent_add(r, &h);  /* outside the box, same cell */
	struct dsp_recent_hit out[8];
	int n = dsp_recent_query(r, 113.299, 113.301, 23.099, 23.101, 1500, out, 8);
	assert_int_equal(n, 2);
	assert_int_equal(out[0].id, 4); /* newest first */
	assert_int_equal(out[1].id, 2); /* id 1 is older than the window */
	n = dsp_recent_query(r, 113.299, 113.301, 23.099, 23.101, 0, out, 8);
	assert_int_equal(n, 3);
	assert_int_equal(out[2].id, 1);
	/* max keeps the newest. */
	n = dsp_recent_query(r, 113.29, 113.31, 23.09, 23.11, 0, out, 2);
	assert_int_equal(n, 2);
	assert_int_equal(out[0].id, 5);
	assert_int_equal(out[1].id, 4);
	assert_int_equal(dsp_recent_size(r), 5);
	/* An empty or inverted box finds nothing. */
	assert_int_equal(dsp_recent_query(r, 1, 0, 0, 1, 0, out, 8), 0);
	assert_int_equal(dsp_recent_query(r, 100, 100.01, 20, 20.01, 0, out, 8), 0);
	/* A box far wider than the cells is not what the index is for: refused. */
	assert_int_equal(dsp_recent_query(r, 100, 110, 20, 30, 0, out, 8), -1);
	dsp_recent_free(r);
}

static void
cell_keeps_its_newest(void **state)
{
	(void)state;
	struct dsp_recent *r = dsp_recent_new(0.01, 16);
	for (int i = 1; i <= 100; i++) {
		struct dsp_recent_hit h = hit(i, 113.3005, 23.1005, i);
		dsp_recent_add(r, &h);
	}
	assert_int_equal(dsp_recent_size(r), 16); /* bounded per cell */
	struct dsp_recent_hit out[32];
	int n = dsp_recent_query(r, 113.3, 113.301, 23.1, 23.101, 0, out, 32);
	assert_int_equal(n, 16);
	for (int i = 0; i < n; i++)
		assert_int_equal(out[i].id, 100 - i);
	dsp_recent_free(r);
}

static void
expiry_frees_cells(void **state)
{
	(void)state;
	struct dsp_recent *r = dsp_recent_new(0.01, 256);
	/* 1,000 cells with one old report each, one cell with old and new reports. */
	for (int i = 0; i < 1000; i++) {
		struct dsp_recent_hit h = hit(i + 1, 110.005 + i * 0.01, 20.005, 10);
		dsp_recent_add(r, &h);
	}
	struct dsp_recent_hit old = hit(2000, 113.3, 23.1, 10), young = hit(2001, 113.3, 23.1, 500);
	dsp_recent_add(r, &old);
	dsp_recent_add(r, &young);
	assert_int_equal(dsp_recent_cells(r), 1001);
	dsp_recent_expire(r, 100);
	assert_int_equal(dsp_recent_cells(r), 1);
	assert_int_equal(dsp_recent_size(r), 1);
	struct dsp_recent_hit out[4];
	assert_int_equal(dsp_recent_query(r, 113.29, 113.31, 23.09, 23.11, 0, out, 4), 1);
	assert_int_equal(out[0].id, 2001);
	/* Cells come back after expiry; not-a-number positions are not indexed. */
	struct dsp_recent_hit again = hit(3000, 110.0, 20.0, 600), bad = hit(3001, NAN, 20.0, 600);
	dsp_recent_add(r, &again);
	dsp_recent_add(r, &bad);
	assert_int_equal(dsp_recent_size(r), 2);
	dsp_recent_free(r);
}

static void
spread_over_a_city_matches_brute_force(void **state)
{
	(void)state;
	enum { N = 50000 };
	struct dsp_recent *r = dsp_recent_new(0.006, 256);
	static struct dsp_recent_hit all[N];
	/* 50,000 reports over a 30 x 22 km box. */
	uint32_t x = 12345;
	for (int i = 0; i < N; i++) {
		x = x * 1103515245u + 12345u;
		double lon = 113.18 + ((x >> 8) % 30000) / 100000.0;
		x = x * 1103515245u + 12345u;
		all[i] = hit(i + 1, lon, 23.02 + ((x >> 8) % 22000) / 100000.0, i + 1);
		dsp_recent_add(r, &all[i]);
	}
	const double lon0 = 113.30, lon1 = 113.3064, lat0 = 23.10, lat1 = 23.106;
	for (int64_t since = 0; since <= 40000; since += 20000) {
		struct dsp_recent_hit out[64];
		int n = dsp_recent_query(r, lon0, lon1, lat0, lat1, since, out, 64);
		/* The newest 64 in the box and window, by brute force. */
		int want = 0;
		for (int i = N - 1; i >= 0 && want < 64; i--) {
			const struct dsp_recent_hit *h = &all[i];
			if (h->created_us < since || h->lon < lon0 || h->lon > lon1 || h->lat < lat0 ||
			    h->lat > lat1)
				continue;
			assert_true(want < n);
			assert_int_equal(out[want].id, h->id);
			want++;
		}
		assert_int_equal(n, want);
		assert_true(n > 0);
	}
	dsp_recent_free(r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(box_and_window_newest_first),
		cmocka_unit_test(cell_keeps_its_newest),
		cmocka_unit_test(expiry_frees_cells),
		cmocka_unit_test(spread_over_a_city_matches_brute_force),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
