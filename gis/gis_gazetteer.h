/*
 * gis_gazetteer.h - address search: places with names and coordinates,
 * Chinese substring search through SQLite FTS5 with the trigram tokenizer.
 *
 * Tables: places(id, name, kind, address, lon, lat, district_code,
 * district_name) and places_fts, an external-content FTS5 index on (name,
 * address) with tokenize='trigram'. Trigrams match any substring of three or
 * more characters; one- and two-character queries (常见: "医院", "天河") fall
 * back to LIKE '%q%' over the table, a scan that is fine at city size
 * (tens of thousands of places). Ranking: exact name, then name prefix, then
 * FTS5's bm25 rank, then shorter names.
 */
#ifndef GIS_GAZETTEER_H
#define GIS_GAZETTEER_H

#include <stddef.h>
#include <jansson.h>

#include "gis_crs.h"

struct sqlite3;

/*
 * Replace all places with those in text: CSV (a header naming name, lon, lat
 * and optionally kind, address; UTF-8) when csv is set, else a GeoJSON
 * FeatureCollection of Points with properties name (kind, address). Each
 * place gets its district from the jurisdictions. All or nothing; errors
 * name the line or feature. 0 with *count, or <0 with *cause.
 */
int gis_gazetteer_import(struct sqlite3 *db, const char *text, size_t len, int csv,
    enum gis_crs crs, int *count, char **cause);

/*
 * Search: {"query": q, "places": [{id, name, kind, address, lon, lat,
 * district: {code, name} | null}]} best first, at most limit. NULL with *cause.
 */
json_t *gis_gazetteer_search(struct sqlite3 *db, const char *q, int limit, char **cause);

#endif
