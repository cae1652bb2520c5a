/*
 * gis_geod.h - geodesic distance and azimuth on the WGS84 ellipsoid, with
 * PROJ's geodesic routines (Karney's algorithm, geodesic.h).
 * Thread-safe: the ellipsoid is initialised once and only read.
 */
#ifndef GIS_GEOD_H
#define GIS_GEOD_H

/*
 * Distance in metres from (lon1, lat1) to (lon2, lat2), with the forward
 * azimuth at each end in degrees clockwise from north (either may be NULL).
 */
double gis_geod_inverse(double lon1, double lat1, double lon2, double lat2, double *azi1,
    double *azi2);
/* The point at distance s metres along azimuth azi from (lon, lat). */
void gis_geod_direct(double lon, double lat, double azi, double s, double *lon2, double *lat2);
/* Great-circle distance on the mean-radius sphere: fast, within 0.5% (for indexes). */
double gis_haversine(double lon1, double lat1, double lon2, double lat2);

#define GIS_EARTH_R 6371008.8

#endif
