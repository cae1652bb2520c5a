/*
 * test_gis_poly.c - ring validation errors, point in polygon with holes,
 * WKB round trip, and the nearest-unit index against brute force under a
 * constant stream of position and availability updates.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gis_geod.h"
#include "gis_near.h"
#include "gis_poly.h"

static int
check(const double *xy, size_t n, char *why)
{
	double *c = malloc(n * 2 * sizeof *c);
	memcpy(c, xy, n * 2 * sizeof *c);
	struct gis_ring r = { c, n };
	int rc = gis_ring_validate(&r, why, 200);
	free(c);
	return rc;
}

static void
test_ring_validation(void **state)
{
	(void)state;
	char why[200];
	static const double ok[] = { 0, 0, 1, 0, 1, 1, 0, 1, 0, 0 };
	assert_int_equal(check(ok, 5, why), 0);
	static const double open[] = { 0, 0, 1, 0, 1, 1, 0, 1 };
	assert_int_equal(check(open, 4, why), -1);
	assert_non_null(strstr(why, "not closed"));
	static const double few[] = { 0, 0, 1, 0, 0, 0 };
	assert_int_equal(check(few, 3, why), -1);
	assert_non_null(strstr(why, "at least 4"));
	static const double bow[] = { 0, 0, 1, 1, 1, 0, 0, 1, 0, 0 };
	assert_int_equal(check(bow, 5, why), -1);
	assert_non_null(strstr(why, "intersects itself"));
	static const double spike[] = { 0, 0, 2, 0, 3, 0, 2, 0, 2, 2, 0, 2, 0, 0 };
	assert_int_equal(check(spike, 7, why), -1);
	assert_non_null(strstr(why, "folds back"));
	/* Repeated vertices are not an error. */
	static const double rep[] = { 0, 0, 1, 0, 1, 0, 1, 1, 0, 1, 0, 0 };
	assert_int_equal(check(rep, 6, why), 0);
}

static void
test_contains_holes_wkb(void **state)
{
	(void)state;
	double outer[] = { 0, 0, 10, 0, 10, 10, 0, 10, 0, 0 };
	double hole[] = { 4, 4, 6, 4, 6, 6, 4, 6, 4, 4 };
	struct gis_ring rings[2] = { { outer, 5 }, { hole, 5 } };
	struct gis_polygon pg = { rings, 2 };
	struct gis_mpoly m = { &pg, 1, 0, 0, 0, 0 };
	assert_int_equal(gis_mpoly_contains(&m, 2, 2), 1);
	assert_int_equal(gis_mpoly_contains(&m, 5, 5), 0);
	assert_int_equal(gis_mpoly_contains(&m, 11, 5), 0);
	unsigned char *wkb;
	size_t len;
	gis_mpoly_to_wkb(&m, &wkb, &len);
	assert_int_equal(gis_wkb_contains(wkb, len, 2, 2), 1);
	assert_int_equal(gis_wkb_contains(wkb, len, 5, 5), 0);
	assert_int_equal(gis_wkb_contains(wkb, len - 3, 2, 2), -1);
	struct gis_mpoly back;
	assert_int_equal(gis_wkb_to_mpoly(wkb, len, &back), 0);
	assert_int_equal(back.polys[0].nrings, 2);
	assert_true(back.maxx == 10 && back.miny == 0);
	double x, y;
	assert_int_equal(gis_mpoly_interior_point(&back, &x, &y), 0);
	assert_int_equal(gis_mpoly_contains(&back, x, y), 1);
	gis_mpoly_free(&back);
	free(wkb);
}

struct unit {
	int64_t id;
	int kind, avail, present;
	double lon, lat;
};

static int
cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static void
test_near_vs_brute_force(void **state)
{
	(void)state;
	enum { N = 3000, K = 8, ROUNDS = 3000 };
	struct unit *u = calloc(N, sizeof *u);
	struct gis_near *nr = gis_near_new(0.02);
	srand(42);
#define RND(a, b) ((a) + ((b) - (a)) * ((double)rand() / RAND_MAX))
	for (int i = 0; i < N; i++) {
		u[i] = (struct unit){ 1000 + i, rand() % 4, rand() % 3 != 0, 1, RND(112.9, 114.1),
			RND(22.5, 23.9) };
		assert_int_equal(gis_near_set(nr, u[i].id, u[i].kind, u[i].lon, u[i].lat, u[i].avail), 0);
	}
	struct gis_near_hit hits[K];
	double *bf = malloc(N * sizeof *bf);
	for (int round = 0; round < ROUNDS; round++) {
		/* Ten updates per query: moves, availability flips, removals and returns. */
		for (int t = 0; t < 10; t++) {
			struct unit *x = &u[rand() % N];
			int what = rand() % 10;
			if (what < 6 && x->present) {
				x->lon += RND(-0.01, 0.01);
				x->lat += RND(-0.01, 0.01);
				assert_int_equal(gis_near_set(nr, x->id, x->kind, x->lon, x->lat, x->avail), 0);
			} else if (what < 8 && x->present) {
				x->avail = !x->avail;
				assert_int_equal(gis_near_set_available(nr, x->id, x->avail), 0);
			} else if (what < 9 && x->present) {
				x->present = 0;
				assert_int_equal(gis_near_remove(nr, x->id), 0);
			} else if (!x->present) {
				x->present = 1;
				assert_int_equal(gis_near_set(nr, x->id, x->kind, x->lon, x->lat, x->avail), 0);
			}
		}
		double qlon = RND(112.5, 114.5), qlat = RND(22.2, 24.2);
		int kind = rand() % 5 - 1; /* -1 = any */
		int got = gis_near_knn(nr, qlon, qlat, kind, K, hits);
		int nb = 0;
		for (int i = 0; i < N; i++)
			if (u[i].present && u[i].avail && (kind < 0 || u[i].kind == kind))
				bf[nb++] = gis_haversine(qlon, qlat, u[i].lon, u[i].lat);
		qsort(bf, (size_t)nb, sizeof *bf, cmp_d);
		assert_int_equal(got, nb < K ? nb : K);
		for (int i = 0; i < got; i++)
			assert_true(fabs(hits[i].dist_m - bf[i]) < 1e-6);
	}
	/* A query far from every unit still finds the nearest (Beijing -> Guangzhou). */
	assert_int_equal(gis_near_knn(nr, 116.4, 39.9, GIS_NEAR_KIND_ANY, 1, hits), 1);
	assert_true(hits[0].dist_m > 1.5e6);
	gis_near_free(nr);
	free(bf);
	free(u);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ring_validation),
		cmocka_unit_test(test_contains_holes_wkb),
		cmocka_unit_test(test_near_vs_brute_force),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
