/* gis_juris.c - see gis_juris.h. */
#include "gis_juris.h"
#include "gis_gcj02.h"
#include "gis_geojson.h"
#include "gis_poly.h"

#include <math.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

static int
fail(char **cause, int rc, const char *fmt, ...)
{
	if (cause != NULL && *cause == NULL) {
		va_list ap;
		va_start(ap, fmt);
		if (vasprintf(cause, fmt, ap) < 0)
			*cause = NULL;
		va_end(ap);
	}
	return rc;
}

/* To WGS84 in place; GCJ-02 through the mainland test, CGCS2000 through PROJ. */
static int
to_wgs84(enum gis_crs crs, double *x, double *y, char **cause)
{
	if (crs == GIS_CRS_WGS84)
		return 0;
	if (crs == GIS_CRS_GCJ02)
		return gis_gcj02_to_wgs84(*x, *y, x, y, cause);
	return gis_transform(crs, GIS_CRS_WGS84, 0, *x, *y, x, y, NULL, cause);
}

static int
mpoly_to_wgs84(struct gis_mpoly *m, enum gis_crs crs, char **cause)
{
	for (size_t i = 0; i < m->npolys; i++)
		for (size_t j = 0; j < m->polys[i].nrings; j++) {
			struct gis_ring *r = &m->polys[i].rings[j];
			for (size_t k = 0; k < r->n; k++)
				if (to_wgs84(crs, &r->xy[2 * k], &r->xy[2 * k + 1], cause) != 0)
					return -1;
		}
	gis_mpoly_bbox(m);
	return 0;
}

struct jrow {
	char *code;
	const char *name;
	double lx, ly;
};

static int
label_prop(json_t *props, double *x, double *y)
{
	static const char *const keys[] = { "cp", "label_point", "centroid", "center" };
	for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
		json_t *p = json_object_get(props, keys[i]);
		if (json_is_array(p) && json_array_size(p) >= 2 && json_is_number(json_array_get(p, 0)) &&
		    json_is_number(json_array_get(p, 1))) {
			*x = json_number_value(json_array_get(p, 0));
			*y = json_number_value(json_array_get(p, 1));
			return isfinite(*x) && isfinite(*y) ? 0 : -1;
		}
	}
	return -1;
}

int
gis_juris_import(sqlite3 *db, const char *text, size_t len, enum gis_crs crs, int *count,
    char **cause)
{
	if (crs != GIS_CRS_WGS84 && crs != GIS_CRS_CGCS2000 && crs != GIS_CRS_GCJ02)
		return fail(cause, -1, "jurisdictions can be imported from wgs84, cgcs2000 or gcj02, "
				       "not %s", gis_crs_name(crs));
	if (crs == GIS_CRS_GCJ02 && gis_gcj02_init(cause) != 0)
		return -1;
	struct gis_fc fc;
	if (gis_geojson_parse(text, len, GIS_GJ_STRICT, &fc, cause) != 0)
		return -1;
	struct jrow *rows = calloc(fc.n, sizeof *rows);
	if (rows == NULL)
		abort();
	int rc = 0;
	char label[200];
	/* 1. Validate and convert everything before touching the database. */
	for (size_t i = 0; i < fc.n && rc == 0; i++) {
		struct gis_feature *f = &fc.f[i];
		gis_feature_label(&fc, i, label, sizeof label);
		rows[i].name = json_string_value(json_object_get(f->props, "name"));
		if (rows[i].name == NULL || rows[i].name[0] == '\0') {
			rc = fail(cause, -1, "%s: no \"name\" property", label);
			break;
		}
		json_t *c = json_object_get(f->props, "code");
		if (c == NULL)
			c = json_object_get(f->props, "adcode");
		if (c == NULL)
			c = f->id;
		if (json_is_string(c) && json_string_length(c) > 0 && json_string_length(c) <= 32)
			rows[i].code = strdup(json_string_value(c));
		else if (json_is_integer(c) && json_integer_value(c) >= 0)
			rows[i].code = json_dumps(c, JSON_ENCODE_ANY);
		else {
			rc = fail(cause, -1, "%s: no administrative code (properties \"code\" or "
					     "\"adcode\", or the feature id; 1-32 characters)", label);
			break;
		}
		for (size_t k = 0; k < i; k++)
			if (strcmp(rows[k].code, rows[i].code) == 0) {
				rc = fail(cause, -1, "%s: code %s is already used by feature %zu", label,
				    rows[i].code, k);
				break;
			}
		if (rc)
			break;
		double lx, ly;
		int have_label = label_prop(f->props, &lx, &ly) == 0;
		if (have_label && to_wgs84(crs, &lx, &ly, cause) != 0) {
			rc = -1;
			break;
		}
		if (mpoly_to_wgs84(&f->geom, crs, cause) != 0) {
			rc = -1;
			break;
		}
		if (!have_label || !gis_mpoly_contains(&f->geom, lx, ly)) {
			if (gis_mpoly_interior_point(&f->geom, &lx, &ly) != 0) {
				rc = fail(cause, -1, "%s: the polygon has no interior (degenerate)", label);
				break;
			}
		}
		rows[i].lx = lx;
		rows[i].ly = ly;
	}
	/* 2. One transaction: replace everything, or nothing. */
	sqlite3_stmt *ins = NULL, *rt = NULL;
	if (rc == 0) {
		struct timeval tv;
		gettimeofday(&tv, NULL);
		long long now = (long long)tv.tv_sec * 1000000 + tv.tv_usec;
		if (sqlite3_exec(db, "BEGIN IMMEDIATE; DELETE FROM jurisdictions_rtree;"
				     "DELETE FROM jurisdictions;", NULL, NULL, NULL) != SQLITE_OK ||
		    sqlite3_prepare_v2(db, "INSERT INTO jurisdictions(id, code, name, geometry, "
					   "label_lon, label_lat, source_crs, imported_at) "
					   "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)", -1, &ins,
			NULL) != SQLITE_OK ||
		    sqlite3_prepare_v2(db, "INSERT INTO jurisdictions_rtree(id, minx, maxx, miny, maxy) "
					   "VALUES (?1, ?2, ?3, ?4, ?5)", -1, &rt, NULL) != SQLITE_OK) {
			rc = fail(cause, -2, "database: %s", sqlite3_errmsg(db));
		}
		for (size_t i = 0; i < fc.n && rc == 0; i++) {
			const struct gis_mpoly *g = &fc.f[i].geom;
			unsigned char *wkb;
			size_t wlen;
			gis_mpoly_to_wkb(g, &wkb, &wlen);
			sqlite3_bind_int64(ins, 1, (sqlite3_int64)i + 1);
			sqlite3_bind_text(ins, 2, rows[i].code, -1, SQLITE_STATIC);
			sqlite3_bind_text(ins, 3, rows[i].name, -1, SQLITE_STATIC);
			sqlite3_bind_blob(ins, 4, wkb, (int)wlen, free);
			sqlite3_bind_double(ins, 5, rows[i].lx);
			sqlite3_bind_double(ins, 6, rows[i].ly);
			sqlite3_bind_text(ins, 7, gis_crs_name(crs), -1, SQLITE_STATIC);
			sqlite3_bind_int64(ins, 8, now);
			sqlite3_bind_int64(rt, 1, (sqlite3_int64)i + 1);
			sqlite3_bind_double(rt, 2, g->minx);
			sqlite3_bind_double(rt, 3, g->maxx);
			sqlite3_bind_double(rt, 4, g->miny);
			sqlite3_bind_double(rt, 5, g->maxy);
			if (sqlite3_step(ins) != SQLITE_DONE || sqlite3_step(rt) != SQLITE_DONE)
				rc = fail(cause, -2, "database: %s", sqlite3_errmsg(db));
			sqlite3_reset(ins);
			sqlite3_reset(rt);
		}
		sqlite3_finalize(ins);
		sqlite3_finalize(rt);
		if (rc == 0 && sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
			rc = fail(cause, -2, "database: %s", sqlite3_errmsg(db));
		if (rc != 0 && !sqlite3_get_autocommit(db))
			sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	}
	if (rc == 0 && count)
		*count = (int)fc.n;
	for (size_t i = 0; i < fc.n; i++)
		free(rows[i].code);
	free(rows);
	gis_fc_free(&fc);
	return rc;
}

static void
copy_out(char *dst, size_t len, const unsigned char *src)
{
	if (dst && len)
		snprintf(dst, len, "%s", src ? (const char *)src : "");
}

const char GIS_DISTRICT_SQL[] = "SELECT j.code, j.name, j.geometry FROM jurisdictions_rtree r "
				"JOIN jurisdictions j ON j.id = r.id WHERE r.minx <= ?1 AND "
				"r.maxx >= ?1 AND r.miny <= ?2 AND r.maxy >= ?2";

int
gis_district_step(sqlite3_stmt *st, double lon, double lat, char *code, size_t codelen,
    char *name, size_t namelen)
{
	sqlite3_bind_double(st, 1, lon);
	sqlite3_bind_double(st, 2, lat);
	int rc = 1, s;
	while ((s = sqlite3_step(st)) == SQLITE_ROW) {
		const unsigned char *wkb = sqlite3_column_blob(st, 2);
		int n = sqlite3_column_bytes(st, 2);
		if (gis_wkb_contains(wkb, (size_t)n, lon, lat) == 1) {
			copy_out(code, codelen, sqlite3_column_text(st, 0));
			copy_out(name, namelen, sqlite3_column_text(st, 1));
			rc = 0;
			break;
		}
	}
	if (s != SQLITE_ROW && s != SQLITE_DONE)
		rc = -1;
	sqlite3_reset(st);
	return rc;
}

int
gis_district_of(sqlite3 *db, double lon, double lat, char *code, size_t codelen, char *name,
    size_t namelen)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(db, GIS_DISTRICT_SQL, -1, &st, NULL) != SQLITE_OK)
		return -1;
	int rc = gis_district_step(st, lon, lat, code, codelen, name, namelen);
	sqlite3_finalize(st);
	return rc;
}

static json_t *
ring_json(const struct gis_ring *r)
{
	json_t *a = json_array();
	for (size_t k = 0; k < r->n; k++)
		json_array_append_new(a, json_pack("[f, f]", round(r->xy[2 * k] * 1e6) / 1e6,
					     round(r->xy[2 * k + 1] * 1e6) / 1e6));
	return a;
}

json_t *
gis_juris_geojson(sqlite3 *db, double tol, char **cause)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(db, "SELECT code, name, geometry, label_lon, label_lat "
				   "FROM jurisdictions ORDER BY code", -1, &st, NULL) != SQLITE_OK) {
		fail(cause, -1, "database: %s", sqlite3_errmsg(db));
		return NULL;
	}
	json_t *feats = json_array();
	int s;
	while ((s = sqlite3_step(st)) == SQLITE_ROW) {
		struct gis_mpoly m, simp;
		if (gis_wkb_to_mpoly(sqlite3_column_blob(st, 2), (size_t)sqlite3_column_bytes(st, 2),
			&m) != 0)
			continue;
		gis_mpoly_simplify(&m, tol, &simp);
		json_t *coords = json_array();
		for (size_t i = 0; i < simp.npolys; i++) {
			json_t *p = json_array();
			for (size_t j = 0; j < simp.polys[i].nrings; j++)
				json_array_append_new(p, ring_json(&simp.polys[i].rings[j]));
			json_array_append_new(coords, p);
		}
		json_array_append_new(feats, json_pack("{s:s, s:{s:s, s:s, s:[f, f]}, s:{s:s, s:o}}",
						 "type", "Feature", "properties", "code",
						 (const char *)sqlite3_column_text(st, 0), "name",
						 (const char *)sqlite3_column_text(st, 1), "label",
						 sqlite3_column_double(st, 3), sqlite3_column_double(st, 4),
						 "geometry", "type", "MultiPolygon", "coordinates", coords));
		gis_mpoly_free(&m);
		gis_mpoly_free(&simp);
	}
	sqlite3_finalize(st);
	if (s != SQLITE_DONE) {
		json_decref(feats);
		fail(cause, -1, "database: %s", sqlite3_errmsg(db));
		return NULL;
	}
	return json_pack("{s:s, s:o}", "type", "FeatureCollection", "features", feats);
}
