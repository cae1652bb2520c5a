/*
 * libFuzzer harness: the GeoJSON FeatureCollection reader behind the
 * jurisdiction import (gis_geojson_parse), in memory, no database.
 *
 * Each input is parsed twice: as the import does (GIS_GJ_STRICT) and without
 * the self-intersection test. A refusal must say why and leave nothing
 * behind. An accepted file must hold only what the header promises: at least
 * one feature, each a (Multi)Polygon of non-empty polygons whose rings are
 * closed, have at least 4 positions, no consecutive repeats, finite lon/lat
 * in range and (strict) pass gis_ring_validate again; the bbox holds the
 * outer rings. Strict acceptance implies lax acceptance. What the import does
 * next with the polygons must hold too: the WKB round trip is exact,
 * gis_wkb_contains agrees with gis_mpoly_contains, simplified rings stay
 * closed with 4 or more points, and a computed interior point of a polygon
 * without holes lies inside it. Traps otherwise.
 */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gis_geojson.h"
#include "gis_poly.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_ring(const struct gis_ring *r, int strict)
{
	if (r->xy == NULL || r->n < 4)
		__builtin_trap();
	if (r->xy[0] != r->xy[2 * (r->n - 1)] || r->xy[1] != r->xy[2 * (r->n - 1) + 1])
		__builtin_trap();
	for (size_t k = 0; k < r->n; k++) {
		double x = r->xy[2 * k], y = r->xy[2 * k + 1];
		if (!isfinite(x) || !isfinite(y) || x < -180 || x > 180 || y < -90 || y > 90)
			__builtin_trap();
		if (k > 0 && x == r->xy[2 * (k - 1)] && y == r->xy[2 * (k - 1) + 1])
			__builtin_trap();
	}
	char why[200];
	if (strict && gis_ring_validate(r, why, sizeof why) != 0)
		__builtin_trap();
}

/* Points worth testing: the bbox centre and the middle of each outer edge, nudged inwards. */
static void
check_contains(const struct gis_mpoly *m, const unsigned char *wkb, size_t wlen)
{
	double pts[2 * 9];
	size_t np = 0;
	pts[np++] = (m->minx + m->maxx) / 2;
	pts[np++] = (m->miny + m->maxy) / 2;
	const struct gis_ring *r = &m->polys[0].rings[0];
	for (size_t k = 0; k + 1 < r->n && np < 18; k++) {
		const double *a = r->xy + 2 * k, *b = a + 2;
		pts[np++] = (a[0] + b[0]) / 2 + (b[1] - a[1]) * 1e-3;
		pts[np++] = (a[1] + b[1]) / 2 - (b[0] - a[0]) * 1e-3;
	}
	for (size_t i = 0; i < np; i += 2)
		if (gis_wkb_contains(wkb, wlen, pts[i], pts[i + 1]) !=
		    gis_mpoly_contains(m, pts[i], pts[i + 1]))
			__builtin_trap();
}

static int
same_mpoly(const struct gis_mpoly *a, const struct gis_mpoly *b)
{
	if (a->npolys != b->npolys)
		return 0;
	for (size_t i = 0; i < a->npolys; i++) {
		if (a->polys[i].nrings != b->polys[i].nrings)
			return 0;
		for (size_t j = 0; j < a->polys[i].nrings; j++) {
			const struct gis_ring *x = &a->polys[i].rings[j], *y = &b->polys[i].rings[j];
			if (x->n != y->n || memcmp(x->xy, y->xy, x->n * 2 * sizeof(double)) != 0)
				return 0;
		}
	}
	return 1;
}

static void
check_feature(const struct gis_mpoly *m, int strict)
{
	if (m->polys == NULL || m->npolys == 0)
		__builtin_trap();
	int holes = 0;
	for (size_t i = 0; i < m->npolys; i++) {
		const struct gis_polygon *p = &m->polys[i];
		if (p->rings == NULL || p->nrings == 0)
			__builtin_trap();
		holes |= p->nrings > 1;
		for (size_t j = 0; j < p->nrings; j++)
			check_ring(&p->rings[j], strict);
		const struct gis_ring *o = &p->rings[0];
		for (size_t k = 0; k < o->n; k++)
			if (o->xy[2 * k] < m->minx || o->xy[2 * k] > m->maxx ||
			    o->xy[2 * k + 1] < m->miny || o->xy[2 * k + 1] > m->maxy)
				__builtin_trap();
	}
	/* As the import stores it, and as the lookup reads it. */
	unsigned char *wkb = NULL;
	size_t wlen = 0;
	struct gis_mpoly back;
	gis_mpoly_to_wkb(m, &wkb, &wlen);
	if (gis_wkb_to_mpoly(wkb, wlen, &back) != 0 || !same_mpoly(m, &back))
		__builtin_trap();
	gis_mpoly_free(&back);
	check_contains(m, wkb, wlen);
	free(wkb);
	/* As the map gets it. */
	struct gis_mpoly s;
	gis_mpoly_simplify(m, 0.0005, &s);
	for (size_t i = 0; i < s.npolys; i++)
		for (size_t j = 0; j < s.polys[i].nrings; j++) {
			const struct gis_ring *r = &s.polys[i].rings[j];
			if (r->n < 4 || r->xy[0] != r->xy[2 * (r->n - 1)] ||
			    r->xy[1] != r->xy[2 * (r->n - 1) + 1])
				__builtin_trap();
		}
	gis_mpoly_free(&s);
	/* The label point the import computes when the source has none. */
	double x, y;
	if (strict && !holes && gis_mpoly_interior_point(m, &x, &y) == 0 &&
	    !gis_mpoly_contains(m, x, y))
		__builtin_trap();
}

/* Parse with flags; 1 when accepted (checked), 0 when refused (checked). */
static int
run(const char *text, size_t len, int flags)
{
	struct gis_fc fc;
	char *cause = NULL;
	memset(&fc, 0xa5, sizeof fc);
	if (gis_geojson_parse(text, len, flags, &fc, &cause) != 0) {
		if (cause == NULL || cause[0] == '\0' || fc.f != NULL || fc.n != 0)
			__builtin_trap();
		free(cause);
		return 0;
	}
	if (cause != NULL || fc.f == NULL || fc.n == 0)
		__builtin_trap();
	for (size_t i = 0; i < fc.n; i++) {
		char label[200];
		if (gis_feature_label(&fc, i, label, sizeof label) != label || label[0] == '\0')
			__builtin_trap();
		if (fc.f[i].props != NULL && !json_is_object(fc.f[i].props))
			__builtin_trap();
		check_feature(&fc.f[i].geom, flags & GIS_GJ_STRICT);
	}
	gis_fc_free(&fc);
	return 1;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* A copy of exactly size bytes, so reads past the end are caught. */
	char *text = malloc(size ? size : 1);
	if (text == NULL)
		abort();
	memcpy(text, data, size);
	int strict = run(text, size, GIS_GJ_STRICT);
	int lax = run(text, size, 0);
	if (strict && !lax)
		__builtin_trap();
	free(text);
	return 0;
}
