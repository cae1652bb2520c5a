/*
 * gis_poly.h - polygons: rings, point in polygon (with holes), ring
 * validation, simplification, interior (label) points and WKB.
 *
 * Coordinates are planar x/y pairs as the caller gives them; in Liandong they
 * are always longitude/latitude degrees. Polygons here never cross the
 * antimeridian (China does not).
 *
 * Ownership: a struct gis_mpoly owns its arrays; gis_mpoly_free() releases
 * them (the struct itself is the caller's) and accepts an all-zero struct.
 */
#ifndef GIS_POLY_H
#define GIS_POLY_H

#include <stddef.h>

/* n points at xy[2*i], xy[2*i+1]; a valid ring is closed (last == first). */
struct gis_ring {
	double *xy;
	size_t n;
};

/* rings[0] is the outer ring, the others are holes. */
struct gis_polygon {
	struct gis_ring *rings;
	size_t nrings;
};

struct gis_mpoly {
	struct gis_polygon *polys;
	size_t npolys;
	double minx, miny, maxx, maxy; /* set by gis_mpoly_bbox() */
};

void gis_mpoly_free(struct gis_mpoly *m);
/* Compute m's bounding box. */
void gis_mpoly_bbox(struct gis_mpoly *m);

/* Drop consecutive repeated points (real data repeats vertices). */
void gis_ring_dedup(struct gis_ring *r);

/*
 * Check a ring: closed, at least 4 points (after dropping consecutive
 * repeats), and not self-intersecting: no two non-adjacent edges cross or
 * overlap, and no edge folds back over its neighbour (a vertex merely
 * touching another edge is accepted). Returns 0, or -1 with the reason in
 * why (e.g. "edges 3 and 17 cross near 113.251,23.044"). Sweep over edges
 * sorted by x: O(n log n) for ordinary shapes.
 */
int gis_ring_validate(const struct gis_ring *r, char *why, size_t whylen);

/* Crossing-number test of one ring: 1 inside, 0 outside (edges undefined). */
int gis_ring_contains(const double *xy, size_t n, double x, double y);
/* 1 when (x,y) is inside some polygon of m (inside its outer ring, in no hole). */
int gis_mpoly_contains(const struct gis_mpoly *m, double x, double y);

/*
 * A point surely inside m, for labels: the middle of the widest inside span
 * on the horizontal line through the middle of its largest polygon's bbox
 * (retrying other lines when that one is degenerate). Returns 0 or -1.
 */
int gis_mpoly_interior_point(const struct gis_mpoly *m, double *x, double *y);

/*
 * Douglas-Peucker simplification of every ring with tolerance tol (same
 * units as the coordinates). Rings that would drop below 4 points are kept
 * as they are. out is a new multipolygon (free with gis_mpoly_free).
 */
void gis_mpoly_simplify(const struct gis_mpoly *m, double tol, struct gis_mpoly *out);

/*
 * Well-known binary (little-endian MultiPolygon, OGC type 6): *out is
 * malloc'd, caller frees.
 */
void gis_mpoly_to_wkb(const struct gis_mpoly *m, unsigned char **out, size_t *len);
/* Parse our own WKB back. Returns 0, or -1 when it is not such a blob. */
int gis_wkb_to_mpoly(const unsigned char *wkb, size_t len, struct gis_mpoly *out);
/* Point in WKB multipolygon without allocating: 1 in, 0 out, -1 bad blob. */
int gis_wkb_contains(const unsigned char *wkb, size_t len, double x, double y);

#endif
