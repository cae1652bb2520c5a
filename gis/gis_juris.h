/*
 * gis_juris.h - jurisdictions: district polygons in SQLite, an R*Tree on
 * their bounding boxes, point -> district lookup, and the map's GeoJSON.
 *
 * Tables (server/db_schema.c, migration "jurisdictions, gazetteer"):
 * jurisdictions(id, code UNIQUE, name, geometry WKB MultiPolygon in WGS84
 * lon/lat, label_lon, label_lat, source_crs, imported_at) and the R*Tree
 * jurisdictions_rtree(id, minx, maxx, miny, maxy) on the same ids.
 *
 * Connections are the caller's; nothing here keeps state between calls, so
 * any thread with its own connection may call these (the store writer does
 * at intake, read-pool workers do for the REST API).
 */
#ifndef GIS_JURIS_H
#define GIS_JURIS_H

#include <stddef.h>
#include <jansson.h>

#include "gis_crs.h"

struct sqlite3;

/*
 * Replace all jurisdictions with the FeatureCollection in text (len bytes),
 * given in crs (GIS_CRS_WGS84, GIS_CRS_CGCS2000 or GIS_CRS_GCJ02; stored as
 * WGS84). Each feature needs properties name and code (or adcode, or the
 * feature id) and a valid (Multi)Polygon; its label point is properties.cp
 * (or label_point, centroid) when that lies inside it, else a computed
 * interior point. Everything is validated first, then written in one
 * transaction: all or nothing. Returns 0 with *count, or a negative value
 * with *cause (caller frees) naming the feature and the reason.
 */
int gis_juris_import(struct sqlite3 *db, const char *text, size_t len, enum gis_crs crs,
    int *count, char **cause);

/*
 * The district holding (lon, lat) (WGS84): 0 with code and name filled
 * (truncated to their buffers; either may be NULL), 1 when no district holds
 * it (or none are loaded), <0 on a database error.
 */
int gis_district_of(struct sqlite3 *db, double lon, double lat, char *code, size_t codelen,
    char *name, size_t namelen);
/*
 * The same with a statement the caller prepared from GIS_DISTRICT_SQL and
 * keeps (a busy writer looks up every report): bound, stepped, then reset.
 */
struct sqlite3_stmt;
extern const char GIS_DISTRICT_SQL[];
int gis_district_step(struct sqlite3_stmt *st, double lon, double lat, char *code,
    size_t codelen, char *name, size_t namelen);

/*
 * All jurisdictions as a GeoJSON FeatureCollection for the map, rings
 * simplified with tolerance tol degrees (0 for none); properties code, name,
 * label [lon, lat]. NULL with *cause on a database error.
 */
json_t *gis_juris_geojson(struct sqlite3 *db, double tol, char **cause);

#endif
