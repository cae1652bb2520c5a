/*
 * gis_geojson.h - read a GeoJSON FeatureCollection of (Multi)Polygons.
 *
 * Used by the jurisdiction import, the GCJ-02 mainland boundary and the
 * gazetteer (points). The whole text is checked before anything is returned:
 * UTF-8 (GeoJSON is UTF-8 by RFC 7946; a GBK file gets a clear error), JSON,
 * a FeatureCollection, every feature a Polygon or MultiPolygon with closed
 * rings of at least 4 positions, positions as [lon, lat] in range (swaps are
 * named). With GIS_GJ_STRICT, rings must not intersect themselves either.
 * Errors name the feature: "feature 3 (天河区): polygon 1 ring 0 is not closed".
 */
#ifndef GIS_GEOJSON_H
#define GIS_GEOJSON_H

#include <stddef.h>
#include <jansson.h>

#include "gis_poly.h"

#define GIS_GJ_STRICT 1  /* validate rings for self-intersection */
#define GIS_GJ_NOCHECK_RANGE 2 /* coordinates need not be lon/lat degrees */

struct gis_feature {
	json_t *props;          /* the feature's properties (a reference; NULL when absent) */
	json_t *id;             /* the feature's "id" member (a reference) or NULL */
	struct gis_mpoly geom;  /* bbox set */
};

struct gis_fc {
	struct gis_feature *f;
	size_t n;
};

/*
 * Parse text (len bytes). Returns 0 with *out filled (free with gis_fc_free),
 * or -1 with *cause (allocated, caller frees).
 */
int gis_geojson_parse(const char *text, size_t len, int flags, struct gis_fc *out, char **cause);
void gis_fc_free(struct gis_fc *fc);

/* Read a whole file into memory (NUL-terminated). 0, or -1 with *cause. */
int gis_read_file(const char *path, char **text, size_t *len, char **cause);

/* The feature's label: "name" property, else "feature N" (buffer owned by caller). */
const char *gis_feature_label(const struct gis_fc *fc, size_t i, char *buf, size_t len);

/* Is text valid UTF-8? Returns -1 when it is, else the offset of the first bad byte. */
long gis_utf8_check(const char *text, size_t len);

#endif
