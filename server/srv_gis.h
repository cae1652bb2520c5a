/*
 * srv_gis.h - the GIS REST routes and the import commands (gis/README.md).
 *
 * Routes (GET, JSON), all answered from the libuv thread pool on a read-only
 * connection opened per request, so nothing blocks the loop (PROJ's database,
 * the GCJ-02 boundary file and SQLite are all read off the loop):
 *   /api/v1/gis/transform?from=&to=&x=&y=[&zone=]   one point, lon/lat order
 *   /api/v1/gis/jurisdictions[?tolerance=deg]        districts, simplified
 *   /api/v1/gis/district?lon=&lat=[&crs=]            point -> district
 *   /api/v1/gis/places?q=&limit=                     gazetteer search
 */
#ifndef SRV_GIS_H
#define SRV_GIS_H

struct srv_req;
struct srv_config;

/* Route req when it is a /api/v1/gis/ path: returns 1 when handled, else 0. Loop thread. */
int srv_gis_dispatch(struct srv_req *req);

/*
 * `liandong import jurisdictions FILE [--crs C]` and `liandong import places
 * FILE [--crs C]` (argv starts at the kind; --data/--config/--set accepted).
 * Returns the exit status: 0, 1 refused (nothing imported), 2 usage.
 */
int srv_gis_import_cmd(int argc, char **argv, struct srv_config *cfg);

#endif
