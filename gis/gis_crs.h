/*
 * gis_crs.h - coordinate reference systems through PROJ.
 *
 * WGS84 (EPSG:4326), CGCS2000 (EPSG:4490), CGCS2000 3-degree Gauss-Kruger
 * zones 25-45 (EPSG:4513-4533, easting carries the zone number: zone 38 at
 * 114E gives eastings around 38 500 000), Web Mercator (EPSG:3857) and
 * GCJ-02 (not in PROJ: gis_gcj02.h, reached through WGS84).
 *
 * Axis order is longitude/easting first everywhere in this API: every PROJ
 * operation is normalised for visualisation. Each thread gets its own PROJ
 * context and its own cache of operations, created on first use and freed
 * when the thread exits; any thread may call these functions.
 */
#ifndef GIS_CRS_H
#define GIS_CRS_H

enum gis_crs {
	GIS_CRS_WGS84,
	GIS_CRS_CGCS2000,
	GIS_CRS_GCJ02,
	GIS_CRS_WEBMERC,
	GIS_CRS_GK,      /* CGCS2000 3-degree Gauss-Kruger, zone given separately */
};

#define GIS_GK_ZONE_MIN 25
#define GIS_GK_ZONE_MAX 45

/* "wgs84" "cgcs2000" "gcj02" "webmercator" "gk" (also EPSG codes); -1 if unknown. */
int gis_crs_parse(const char *name);
const char *gis_crs_name(enum gis_crs crs);
/* The 3-degree zone holding longitude lon (central meridian 3*zone), or -1. */
int gis_gk_zone(double lon);
/* EPSG code of a zone's CRS (4513 + zone - 25). */
int gis_gk_epsg(int zone);

/*
 * Transform (x, y) from one CRS to another. zone is the Gauss-Kruger zone on
 * whichever side is GIS_CRS_GK; 0 chooses it: from the easting's zone prefix
 * for a GK source, from the longitude for a GK target. Geographic input is
 * checked (range, swapped lat/lon). Returns 0, or -1 with *cause (caller
 * frees). *zone_out (may be NULL) gets the zone used, or 0.
 */
int gis_transform(enum gis_crs from, enum gis_crs to, int zone, double x, double y,
    double *ox, double *oy, int *zone_out, char **cause);

/* Drop this thread's PROJ context now (it is also dropped at thread exit). */
void gis_crs_thread_cleanup(void);

#endif
