/*
 * test_gis_crs.c - PROJ transforms against PROJ's own cs2cs (to 1 mm), zone
 * choice from the longitude, bad input, and geodesics.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gis_crs.h"
#include "gis_geod.h"

/* Points in many zones, from Kashgar (zone 25) to Fuyuan (zone 45). */
static const double pts[][2] = {
	{ 75.99, 39.47 },   /* Kashgar, 25 */
	{ 87.62, 43.83 },   /* Urumqi, 29 */
	{ 91.13, 29.65 },   /* Lhasa, 30 */
	{ 104.07, 30.67 },  /* Chengdu, 35 */
	{ 113.26, 23.13 },  /* Guangzhou, 38 */
	{ 116.40, 39.90 },  /* Beijing, 39 */
	{ 121.47, 31.23 },  /* Shanghai, 40 */
	{ 126.63, 45.75 },  /* Harbin, 42 */
	{ 134.29, 48.36 },  /* Fuyuan, 45 */
	{ 114.99, 22.01 },  /* near a zone edge (38/39 at 115.5) */
};
#define NPTS (sizeof pts / sizeof pts[0])

/* Run cs2cs on one "a b" line; returns the first two output numbers. */
static int
cs2cs(const char *from, const char *to, double a, double b, double *o1, double *o2)
{
	char cmd[256];
	snprintf(cmd, sizeof cmd, "echo '%.12f %.12f' | cs2cs -d 6 %s %s 2>&1", a, b, from, to);
	FILE *p = popen(cmd, "r");
	if (p == NULL)
		return -1;
	char line[256] = "";
	char *got = fgets(line, sizeof line, p);
	int st = pclose(p);
	if (got == NULL || st != 0 || sscanf(line, "%lf %lf", o1, o2) != 2) {
		fprintf(stderr, "cs2cs failed (%s): %s\n", cmd, line);
		return -1;
	}
	return 0;
}

static void
test_zone_choice(void **state)
{
	(void)state;
	assert_int_equal(gis_gk_zone(113.26), 38);
	assert_int_equal(gis_gk_zone(115.49), 38);
	assert_int_equal(gis_gk_zone(115.51), 39);
	assert_int_equal(gis_gk_zone(75.0), 25);
	assert_int_equal(gis_gk_zone(135.0), 45);
	assert_int_equal(gis_gk_zone(10.0), -1);
	assert_int_equal(gis_gk_epsg(25), 4513);
	assert_int_equal(gis_gk_epsg(45), 4533);
}

/* CGCS2000 geographic -> zone, and back, against cs2cs (which uses EPSG axis order). */
static void
test_gk_vs_cs2cs(void **state)
{
	(void)state;
	for (size_t i = 0; i < NPTS; i++) {
		double lon = pts[i][0], lat = pts[i][1], e, n, n2, e2;
		int zone = 0;
		char *cause = NULL;
		assert_int_equal(gis_transform(GIS_CRS_CGCS2000, GIS_CRS_GK, 0, lon, lat, &e, &n, &zone,
				     &cause), 0);
		assert_int_equal(zone, gis_gk_zone(lon));
		char to[16];
		snprintf(to, sizeof to, "EPSG:%d", gis_gk_epsg(zone));
		assert_int_equal(cs2cs("EPSG:4490", to, lat, lon, &n2, &e2), 0);
		if (fabs(e - e2) > 0.001 || fabs(n - n2) > 0.001)
			fail_msg("%.2f,%.2f zone %d: ours %.6f %.6f, cs2cs %.6f %.6f", lon, lat, zone, e, n,
			    e2, n2);
		assert_true(floor(e / 1e6) == zone);
		/* And back: the inverse against cs2cs too, then against the start (1 mm ~ 1e-8 deg). */
		double blon, blat, clat, clon;
		assert_int_equal(gis_transform(GIS_CRS_GK, GIS_CRS_CGCS2000, 0, e, n, &blon, &blat, NULL,
				     &cause), 0);
		assert_int_equal(cs2cs(to, "EPSG:4490", n, e, &clat, &clon), 0);
		assert_true(fabs(blon - clon) < 1e-8 && fabs(blat - clat) < 1e-8);
		assert_true(fabs(blon - lon) < 1e-8 && fabs(blat - lat) < 1e-8);
	}
	/* An explicit neighbouring zone works too (surveyors use overlaps near edges). */
	double e, n, e2, n2;
	char *cause = NULL;
	assert_int_equal(gis_transform(GIS_CRS_CGCS2000, GIS_CRS_GK, 39, 114.99, 22.01, &e, &n, NULL,
			     &cause), 0);
	assert_int_equal(cs2cs("EPSG:4490", "EPSG:4527", 22.01, 114.99, &n2, &e2), 0);
	assert_true(fabs(e - e2) < 0.001 && fabs(n - n2) < 0.001);
}

static void
test_webmerc_vs_cs2cs(void **state)
{
	(void)state;
	for (size_t i = 0; i < NPTS; i++) {
		double x, y, x2, y2;
		char *cause = NULL;
		assert_int_equal(gis_transform(GIS_CRS_WGS84, GIS_CRS_WEBMERC, 0, pts[i][0], pts[i][1],
				     &x, &y, NULL, &cause), 0);
		assert_int_equal(cs2cs("EPSG:4326", "EPSG:3857", pts[i][1], pts[i][0], &x2, &y2), 0);
		assert_true(fabs(x - x2) < 0.001 && fabs(y - y2) < 0.001);
		/* WGS84 -> CGCS2000 agrees with cs2cs as well. */
		double lon, lat, lat2, lon2;
		assert_int_equal(gis_transform(GIS_CRS_WGS84, GIS_CRS_CGCS2000, 0, pts[i][0], pts[i][1],
				     &lon, &lat, NULL, &cause), 0);
		assert_int_equal(cs2cs("EPSG:4326", "EPSG:4490", pts[i][1], pts[i][0], &lat2, &lon2), 0);
		assert_true(fabs(lon - lon2) < 1e-8 && fabs(lat - lat2) < 1e-8);
		/* Web Mercator -> GK picks the zone from the longitude it stands for. */
		double e, n, ee, nn;
		int zone = 0;
		assert_int_equal(gis_transform(GIS_CRS_WEBMERC, GIS_CRS_GK, 0, x, y, &e, &n, &zone,
				     &cause), 0);
		assert_int_equal(zone, gis_gk_zone(pts[i][0]));
		assert_int_equal(gis_transform(GIS_CRS_CGCS2000, GIS_CRS_GK, 0, pts[i][0], pts[i][1],
				     &ee, &nn, NULL, &cause), 0);
		assert_true(fabs(e - ee) < 0.001 && fabs(n - nn) < 0.001);
	}
}

static void
test_bad_input(void **state)
{
	(void)state;
	double x, y;
	char *cause = NULL;
	assert_int_equal(gis_transform(GIS_CRS_WGS84, GIS_CRS_WEBMERC, 0, 23.13, 113.26, &x, &y, NULL,
			     &cause), -1);
	assert_non_null(strstr(cause, "swapped"));
	free(cause);
	cause = NULL;
	assert_int_equal(gis_transform(GIS_CRS_GK, GIS_CRS_WGS84, 0, 500000.0, 2500000.0, &x, &y,
			     NULL, &cause), -1);
	assert_non_null(strstr(cause, "zone"));
	free(cause);
	cause = NULL;
	assert_int_equal(gis_transform(GIS_CRS_WGS84, GIS_CRS_GK, 0, 10.0, 50.0, &x, &y, NULL,
			     &cause), -1);
	assert_non_null(strstr(cause, "outside"));
	free(cause);
	cause = NULL;
	assert_int_equal(gis_transform(GIS_CRS_WGS84, GIS_CRS_GK, 99, 113.0, 23.0, &x, &y, NULL,
			     &cause), -1);
	free(cause);
	assert_int_equal(gis_crs_parse("wgs84"), GIS_CRS_WGS84);
	assert_int_equal(gis_crs_parse("EPSG:4490"), GIS_CRS_CGCS2000);
	assert_int_equal(gis_crs_parse("beijing54"), -1);
}

static void
test_geodesic(void **state)
{
	(void)state;
	double a1, a2;
	/* geodesic.h's own example, JFK to Singapore Changi: `geod +ellps=WGS84 -I` says 15347512.941 m. */
	double s = gis_geod_inverse(-73.78, 40.64, 103.99, 1.36, &a1, &a2);
	assert_true(fabs(s - 15347512.941) < 0.001);
	/* Due north along a meridian: azimuth 0. */
	s = gis_geod_inverse(113.0, 23.0, 113.0, 24.0, &a1, NULL);
	assert_true(fabs(a1) < 1e-9 || fabs(a1 - 360) < 1e-9);
	assert_true(fabs(s - 110.7e3) < 0.5e3);
	double lon, lat;
	gis_geod_direct(113.0, 23.0, 90.0, 1000.0, &lon, &lat);
	assert_true(fabs(gis_geod_inverse(113.0, 23.0, lon, lat, NULL, NULL) - 1000.0) < 1e-6);
	/* Haversine within 0.5% of the geodesic. */
	double h = gis_haversine(113.26, 23.13, 116.40, 39.90);
	double g = gis_geod_inverse(113.26, 23.13, 116.40, 39.90, NULL, NULL);
	assert_true(fabs(h - g) / g < 0.005);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_zone_choice),
		cmocka_unit_test(test_gk_vs_cs2cs),
		cmocka_unit_test(test_webmerc_vs_cs2cs),
		cmocka_unit_test(test_bad_input),
		cmocka_unit_test(test_geodesic),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	gis_crs_thread_cleanup();
	return rc;
}
