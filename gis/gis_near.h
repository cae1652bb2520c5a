/*
 * gis_near.h - k nearest available units of a kind, in memory.
 *
 * A uniform grid over lon/lat (cells of cell_deg degrees, kept in a hash map
 * so only occupied cells cost memory) with a doubly linked list of units per
 * cell, and a hash from unit id to its slot. A position or availability
 * change is O(1): unlink from the old cell, link into the new. A query walks
 * square rings of cells outwards from the query's cell and stops once it
 * holds k candidates and no unvisited cell can hold anything closer (a lower
 * bound on the great-circle distance to the outside of the visited square),
 * or once it has seen every matching unit. Distances are haversine metres on
 * the mean-radius sphere (within 0.5% of the geodesic; use gis_geod for the
 * exact figure). Longitudes do not wrap at +-180 (China is far from it).
 *
 * Not thread-safe: one owner (the loop thread, beside the live unit state).
 */
#ifndef GIS_NEAR_H
#define GIS_NEAR_H

#include <stddef.h>
#include <stdint.h>

#define GIS_NEAR_KIND_ANY (-1)
#define GIS_NEAR_KINDS 64 /* kinds are 0..63 */

struct gis_near;

struct gis_near_hit {
	int64_t id;
	int kind;
	double lon, lat;
	double dist_m;
};

/* cell_deg: grid cell size in degrees (0.01-1; 0 for the default 0.02, ~2 km). */
struct gis_near *gis_near_new(double cell_deg);
void gis_near_free(struct gis_near *n);

/* Insert or update unit id. Returns 0, or -1 for a bad kind or position. */
int gis_near_set(struct gis_near *n, int64_t id, int kind, double lon, double lat, int available);
/* Change only availability. 0, or -1 when id is unknown. */
int gis_near_set_available(struct gis_near *n, int64_t id, int available);
/* Remove unit id. 0, or -1 when unknown. */
int gis_near_remove(struct gis_near *n, int64_t id);
size_t gis_near_size(const struct gis_near *n);

/*
 * Up to k nearest available units of kind (or GIS_NEAR_KIND_ANY) to (lon,
 * lat), nearest first, into out[0..k). Returns how many were found.
 */
int gis_near_knn(struct gis_near *n, double lon, double lat, int kind, int k,
    struct gis_near_hit *out);

#endif
