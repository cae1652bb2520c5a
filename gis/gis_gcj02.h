/*
 * gis_gcj02.h - GCJ-02 ("Mars coordinates", used by Chinese web maps) to and
 * from WGS84. PROJ does not have it.
 *
 * Forward: the public offset formula (Krasovsky ellipsoid constants). Inverse:
 * fixed-point iteration on the forward offset until it moves less than 1e-10
 * degree (about 0.01 mm), well inside the 0.01 m promised.
 *
 * The offset applies only inside mainland China, decided by a real boundary:
 * the provinces of China (fetched at setup into gis/data/china-regions.geojson,
 * see gis/README.md), mainland being every region except 台湾, 香港 and 澳门. A
 * point is shifted when it lies in a mainland region and in none of the
 * others (so Hong Kong and Macau stay unshifted even where coarse mainland
 * outlines overlap them). The boundary is loaded once per process, on first
 * use, from $LIANDONG_CHINA_REGIONS or the compiled-in default path; every
 * function here is thread-safe after that.
 */
#ifndef GIS_GCJ02_H
#define GIS_GCJ02_H

/* Load the boundary now (idempotent). 0, or -1 with *cause (caller frees). */
int gis_gcj02_init(char **cause);
/* Load the boundary from path instead (only before any other use; tests). */
int gis_gcj02_init_path(const char *path, char **cause);

/* 1 inside mainland China, 0 outside, -1 when the boundary cannot be loaded. */
int gis_in_mainland(double lon, double lat);

/* The raw offset math, everywhere, with no boundary test. */
void gis_gcj02_fwd_raw(double lon, double lat, double *glon, double *glat);
void gis_gcj02_inv_raw(double glon, double glat, double *lon, double *lat);

/*
 * WGS84 <-> GCJ-02 with the boundary test: points outside mainland China
 * come back unchanged. 0, or -1 with *cause when the boundary is missing.
 */
int gis_wgs84_to_gcj02(double lon, double lat, double *glon, double *glat, char **cause);
int gis_gcj02_to_wgs84(double glon, double glat, double *lon, double *lat, char **cause);

#endif
