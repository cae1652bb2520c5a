/*
 * test_gis_gcj02.c - GCJ-02: round trips over a grid covering China within
 * 0.01 m, the real mainland boundary (Hong Kong, Macau, Taipei and Seoul stay
 * unshifted), and known offsets. Needs gis/data/china-regions.geojson, which
 * scripts/setup.sh fetches; without it the test fails and says so.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "gis_crs.h"
#include "gis_gcj02.h"
#include "gis_geod.h"

static int
setup(void **state)
{
	(void)state;
	char *cause = NULL;
	if (gis_gcj02_init(&cause) != 0) {
		fprintf(stderr, "test_gis_gcj02: %s\n", cause);
		free(cause);
		return -1;
	}
	return 0;
}

static void
test_round_trip_grid(void **state)
{
	(void)state;
	int inside = 0, outside = 0, crossing = 0;
	double worst = 0;
	for (double lon = 73.0; lon <= 135.5; lon += 0.5) {
		for (double lat = 18.0; lat <= 54.0; lat += 0.5) {
			double g1, g2, w1, w2;
			char *cause = NULL;
			assert_int_equal(gis_wgs84_to_gcj02(lon, lat, &g1, &g2, &cause), 0);
			assert_int_equal(gis_gcj02_to_wgs84(g1, g2, &w1, &w2, &cause), 0);
			int in = gis_in_mainland(lon, lat);
			if (in) {
				inside++;
				/* Shifted by the offset: tens to hundreds of metres. */
				double shift = gis_geod_inverse(lon, lat, g1, g2, NULL, NULL);
				assert_true(shift > 1.0 && shift < 1500.0);
			} else {
				outside++;
				assert_true(g1 == lon && g2 == lat);
			}
			if (in && gis_in_mainland(g1, g2) == 0) {
				/* Shifted out across the border or coast: the documented ambiguous band. */
				crossing++;
				continue;
			}
			double err = gis_geod_inverse(lon, lat, w1, w2, NULL, NULL);
			if (err > worst)
				worst = err;
			/* The raw inverse everywhere, independent of the boundary. */
			double r1, r2, b1, b2;
			gis_gcj02_fwd_raw(lon, lat, &r1, &r2);
			gis_gcj02_inv_raw(r1, r2, &b1, &b2);
			assert_true(gis_geod_inverse(lon, lat, b1, b2, NULL, NULL) < 0.01);
		}
	}
	/* Every point round-trips except those the shift carries across the border or coast. */
	print_message("GCJ-02 grid: %d mainland points, %d outside, %d shifted across the border, "
		      "worst round trip %.3g m\n", inside, outside, crossing, worst);
	assert_true(crossing <= 5);
	assert_true(worst < 0.01);
	assert_true(inside > 3000);
	assert_true(outside > 1000);
}

static void
test_outside_unchanged(void **state)
{
	(void)state;
	static const double outside[][2] = {
		{ 114.17, 22.30 },  /* Hong Kong, Tsim Sha Tsui */
		{ 113.54, 22.19 },  /* Macau */
		{ 121.56, 25.04 },  /* Taipei */
		{ 126.98, 37.57 },  /* Seoul */
		{ 139.69, 35.69 },  /* Tokyo */
		{ 2.35, 48.86 },    /* Paris */
	};
	for (size_t i = 0; i < sizeof outside / sizeof outside[0]; i++) {
		double g1, g2;
		char *cause = NULL;
		assert_int_equal(gis_in_mainland(outside[i][0], outside[i][1]), 0);
		assert_int_equal(gis_wgs84_to_gcj02(outside[i][0], outside[i][1], &g1, &g2, &cause), 0);
		assert_true(g1 == outside[i][0] && g2 == outside[i][1]);
		assert_int_equal(gis_gcj02_to_wgs84(outside[i][0], outside[i][1], &g1, &g2, &cause), 0);
		assert_true(g1 == outside[i][0] && g2 == outside[i][1]);
	}
	static const double inside[][2] = {
		{ 113.26, 23.13 },  /* Guangzhou */
		{ 114.06, 22.54 },  /* Shenzhen, across the river from Hong Kong */
		{ 113.57, 22.27 },  /* Zhuhai, beside Macau */
		{ 116.40, 39.90 },  /* Beijing */
		{ 87.62, 43.83 },   /* Urumqi */
		{ 110.33, 20.03 },  /* Haikou */
		{ 126.63, 45.75 },  /* Harbin */
	};
	for (size_t i = 0; i < sizeof inside / sizeof inside[0]; i++)
		assert_int_equal(gis_in_mainland(inside[i][0], inside[i][1]), 1);
}

static void
test_known_offset(void **state)
{
	(void)state;
	/* Tiananmen: GCJ-02 lies about 0.006 deg east and 0.0013 deg north of WGS84 here. */
	double g1, g2;
	char *cause = NULL;
	assert_int_equal(gis_wgs84_to_gcj02(116.391, 39.907, &g1, &g2, &cause), 0);
	assert_true(g1 - 116.391 > 0.005 && g1 - 116.391 < 0.008);
	assert_true(g2 - 39.907 > 0.0005 && g2 - 39.907 < 0.002);
	/* Through gis_transform, GCJ-02 to Web Mercator goes via WGS84. */
	double x, y, x2, y2;
	assert_int_equal(gis_transform(GIS_CRS_GCJ02, GIS_CRS_WEBMERC, 0, g1, g2, &x, &y, NULL,
			     &cause), 0);
	assert_int_equal(gis_transform(GIS_CRS_WGS84, GIS_CRS_WEBMERC, 0, 116.391, 39.907, &x2, &y2,
			     NULL, &cause), 0);
	assert_true(fabs(x - x2) < 0.02 && fabs(y - y2) < 0.02);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip_grid),
		cmocka_unit_test(test_outside_unchanged),
		cmocka_unit_test(test_known_offset),
	};
	int rc = cmocka_run_group_tests(tests, setup, NULL);
	gis_crs_thread_cleanup();
	return rc;
}
