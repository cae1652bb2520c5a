/*
 * gis_coord.h - coordinate checks shared by every module that takes a position.
 *
 * Positions are WGS84 (or CGCS2000, equal to it within centimetres) decimal
 * degrees, longitude first. The coordinate reference system work (PROJ,
 * Gauss-Kruger zones, GCJ-02) arrives with the GIS issue; this is the part the
 * core needs at intake: reject what cannot be a place on Earth.
 */
#ifndef GIS_COORD_H
#define GIS_COORD_H

/*
 * Check a longitude/latitude pair. Returns 0, or -1 with *cause (allocated,
 * caller frees; may be NULL) saying why: not finite, out of range, or
 * apparently swapped (a latitude-looking longitude with an out-of-range
 * latitude).
 */
int gis_lonlat_check(double lon, double lat, char **cause);

#endif
