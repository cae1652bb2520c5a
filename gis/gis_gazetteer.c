/* gis_gazetteer.c - see gis_gazetteer.h. */
#include "gis_gazetteer.h"
#include "gis_coord.h"
#include "gis_gcj02.h"
#include "gis_geojson.h"
#include "gis_juris.h"

#include <math.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

struct place {
	char *name, *kind, *address;
	double lon, lat;
};

struct places {
	struct place *p;
	size_t n, cap;
};

static void
places_free(struct places *ps)
{
	for (size_t i = 0; i < ps->n; i++) {
		free(ps->p[i].name);
		free(ps->p[i].kind);
		free(ps->p[i].address);
	}
	free(ps->p);
}

static struct place *
places_add(struct places *ps)
{
	if (ps->n == ps->cap) {
		ps->cap = ps->cap ? ps->cap * 2 : 64;
		ps->p = realloc(ps->p, ps->cap * sizeof *ps->p);
		if (ps->p == NULL)
			abort();
	}
	memset(&ps->p[ps->n], 0, sizeof ps->p[0]);
	return &ps->p[ps->n++];
}

/* One CSV record (RFC 4180 quoting) from *s; fields are allocated. Returns the field count. */
static int
csv_record(const char **s, const char *end, char **fields, int max)
{
	int nf = 0;
	const char *p = *s;
	for (;;) {
		size_t cap = 64, n = 0;
		char *f = malloc(cap);
		if (f == NULL)
			abort();
		int quoted = p < end && *p == '"';
		if (quoted)
			p++;
		while (p < end) {
			if (quoted && *p == '"') {
				if (p + 1 < end && p[1] == '"') {
					p++;
				} else {
					quoted = 0;
					p++;
					continue;
				}
			} else if (!quoted && (*p == ',' || *p == '\n' || *p == '\r')) {
				break;
			}
			if (n + 2 > cap) {
				cap *= 2;
				f = realloc(f, cap);
				if (f == NULL)
					abort();
			}
			f[n++] = *p++;
		}
		f[n] = '\0';
		if (nf < max)
			fields[nf++] = f;
		else
			free(f);
		if (p < end && *p == ',') {
			p++;
			continue;
		}
		break;
	}
	if (p < end && *p == '\r')
		p++;
	if (p < end && *p == '\n')
		p++;
	*s = p;
	return nf;
}

static int
num(const char *s, double *out)
{
	char *e;
	*out = strtod(s, &e);
	while (*e == ' ')
		e++;
	return *s != '\0' && *e == '\0' && isfinite(*out) ? 0 : -1;
}

static int
parse_csv(const char *text, size_t len, struct places *ps, char **cause)
{
	const char *s = text, *end = text + len;
	enum { MAXF = 32 };
	char *f[MAXF];
	int nf = csv_record(&s, end, f, MAXF);
	int ci[5] = { -1, -1, -1, -1, -1 }; /* name lon lat kind address */
	static const char *const cols[] = { "name", "lon", "lat", "kind", "address" };
	for (int i = 0; i < nf; i++) {
		for (int c = 0; c < 5; c++)
			if (strcmp(f[i], cols[c]) == 0)
				ci[c] = i;
		free(f[i]);
	}
	if (ci[0] < 0 || ci[1] < 0 || ci[2] < 0)
		return fail(cause, -1, "line 1: the CSV header must name the columns name, lon and "
				       "lat (and may name kind, address)");
	int rc = 0;
	for (int line = 2; s < end && rc == 0; line++) {
		if (*s == '\n' || *s == '\r') {
			csv_record(&s, end, f, 0);
			continue;
		}
		nf = csv_record(&s, end, f, MAXF);
		struct place pl = { 0 };
		double lon, lat;
		if (ci[0] >= nf || ci[1] >= nf || ci[2] >= nf || f[ci[0]][0] == '\0') {
			rc = fail(cause, -1, "line %d: missing name, lon or lat", line);
		} else if (num(f[ci[1]], &lon) || num(f[ci[2]], &lat)) {
			rc = fail(cause, -1, "line %d (%s): lon and lat must be numbers", line, f[ci[0]]);
		} else {
			char *why = NULL;
			if (gis_lonlat_check(lon, lat, &why) != 0) {
				rc = fail(cause, -1, "line %d (%s): %s", line, f[ci[0]], why);
				free(why);
			} else {
				struct place *p = places_add(ps);
				p->name = strdup(f[ci[0]]);
				p->kind = ci[3] >= 0 && ci[3] < nf && f[ci[3]][0] ? strdup(f[ci[3]]) : NULL;
				p->address = ci[4] >= 0 && ci[4] < nf && f[ci[4]][0] ? strdup(f[ci[4]]) : NULL;
				p->lon = lon;
				p->lat = lat;
			}
		}
		(void)pl;
		for (int i = 0; i < nf; i++)
			free(f[i]);
	}
	if (rc == 0 && ps->n == 0)
		rc = fail(cause, -1, "the CSV has no places");
	return rc;
}

static int
parse_geojson(const char *text, size_t len, struct places *ps, char **cause)
{
	json_error_t jerr;
	json_t *root = json_loadb(text, len, 0, &jerr);
	if (root == NULL)
		return fail(cause, -1, "not JSON: line %d column %d: %s", jerr.line, jerr.column,
		    jerr.text);
	json_t *feats = json_object_get(root, "features");
	int rc = 0;
	if (!json_is_array(feats) || json_array_size(feats) == 0)
		rc = fail(cause, -1, "not a GeoJSON FeatureCollection with features");
	for (size_t i = 0; rc == 0 && i < json_array_size(feats); i++) {
		json_t *f = json_array_get(feats, i), *props = json_object_get(f, "properties");
		json_t *g = json_object_get(f, "geometry");
		const char *name = json_string_value(json_object_get(props, "name"));
		const char *type = json_string_value(json_object_get(g, "type"));
		json_t *c = json_object_get(g, "coordinates");
		char *why = NULL;
		if (name == NULL || name[0] == '\0') {
			rc = fail(cause, -1, "feature %zu: no \"name\" property", i);
		} else if (type == NULL || strcmp(type, "Point") != 0 || !json_is_number(json_array_get(c, 0)) ||
			   !json_is_number(json_array_get(c, 1))) {
			rc = fail(cause, -1, "feature %zu (%s): geometry must be a Point [lon, lat]", i, name);
		} else if (gis_lonlat_check(json_number_value(json_array_get(c, 0)),
			       json_number_value(json_array_get(c, 1)), &why) != 0) {
			rc = fail(cause, -1, "feature %zu (%s): %s", i, name, why);
		} else {
			struct place *p = places_add(ps);
			const char *k = json_string_value(json_object_get(props, "kind"));
			const char *a = json_string_value(json_object_get(props, "address"));
			p->name = strdup(name);
			p->kind = k ? strdup(k) : NULL;
			p->address = a ? strdup(a) : NULL;
			p->lon = json_number_value(json_array_get(c, 0));
			p->lat = json_number_value(json_array_get(c, 1));
		}
		free(why);
	}
	json_decref(root);
	return rc;
}

int
gis_gazetteer_import(sqlite3 *db, const char *text, size_t len, int csv, enum gis_crs crs,
    int *count, char **cause)
{
	if (crs != GIS_CRS_WGS84 && crs != GIS_CRS_CGCS2000 && crs != GIS_CRS_GCJ02)
		return fail(cause, -1, "places can be imported from wgs84, cgcs2000 or gcj02, not %s",
		    gis_crs_name(crs));
	if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0)
		text += 3, len -= 3;
	long bad = gis_utf8_check(text, len);
	if (bad >= 0)
		return fail(cause, -1, "the file is not UTF-8 (bad byte 0x%02x at offset %ld); "
				       "convert it first, e.g. iconv -f GBK -t UTF-8",
		    (unsigned char)text[bad], bad);
	struct places ps = { 0 };
	int rc = csv ? parse_csv(text, len, &ps, cause) : parse_geojson(text, len, &ps, cause);
	for (size_t i = 0; rc == 0 && i < ps.n; i++) {
		if (crs == GIS_CRS_GCJ02)
			rc = gis_gcj02_to_wgs84(ps.p[i].lon, ps.p[i].lat, &ps.p[i].lon, &ps.p[i].lat, cause);
		else if (crs == GIS_CRS_CGCS2000)
			rc = gis_transform(crs, GIS_CRS_WGS84, 0, ps.p[i].lon, ps.p[i].lat, &ps.p[i].lon,
			    &ps.p[i].lat, NULL, cause);
	}
	sqlite3_stmt *ins = NULL;
	if (rc == 0) {
		if (sqlite3_exec(db, "BEGIN IMMEDIATE; DELETE FROM places;", NULL, NULL, NULL) != SQLITE_OK ||
		    sqlite3_prepare_v2(db, "INSERT INTO places(id, name, kind, address, lon, lat, "
					   "district_code, district_name) VALUES (?1,?2,?3,?4,?5,?6,?7,?8)",
			-1, &ins, NULL) != SQLITE_OK)
			rc = fail(cause, -2, "database: %s", sqlite3_errmsg(db));
		for (size_t i = 0; rc == 0 && i < ps.n; i++) {
			char code[40], name[200];
			int d = gis_district_of(db, ps.p[i].lon, ps.p[i].lat, code, sizeof code, name,
			    sizeof name);
			if (d < 0) {
				rc = fail(cause, -2, "database: %s", sqlite3_errmsg(db));
				break;
			}
			sqlite3_bind_int64(ins, 1, (sqlite3_int64)i + 1);
			sqlite3_bind_text(ins, 2, ps.p[i].name, -1, SQLITE_STATIC);
			sqlite3_bind_text(ins, 3, ps.p[i].kind, -1, SQLITE_STATIC);
			sqlite3_bind_text(ins, 4, ps.p[i].address, -1, SQLITE_STATIC);
			sqlite3_bind_double(ins, 5, ps.p[i].lon);
			sqlite3_bind_double(ins, 6, ps.p[i].lat);
			if (d == 0) {
				sqlite3_bind_text(ins, 7, code, -1, SQLITE_TRANSIENT);
				sqlite3_bind_text(ins, 8, name, -1, SQLITE_TRANSIENT);
			} else {
				sqlite3_bind_null(ins, 7);
				sqlite3_bind_null(ins, 8);
			}
			if (sqlite3_step(ins) != SQLITE_DONE)
				rc = fail(cause, -2, "database: %s", sqlite3_errmsg(db));
			sqlite3_reset(ins);
		}
		sqlite3_finalize(ins);
		if (rc == 0 && (sqlite3_exec(db, "INSERT INTO places_fts(places_fts) VALUES('rebuild');"
						 "COMMIT", NULL, NULL, NULL) != SQLITE_OK))
			rc = fail(cause, -2, "database: %s", sqlite3_errmsg(db));
		if (rc != 0 && !sqlite3_get_autocommit(db))
			sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	}
	if (rc == 0 && count)
		*count = (int)ps.n;
	places_free(&ps);
	return rc;
}

static size_t
utf8_chars(const char *s)
{
	size_t n = 0;
	for (; *s; s++)
		n += ((unsigned char)*s & 0xc0) != 0x80;
	return n;
}

json_t *
gis_gazetteer_search(sqlite3 *db, const char *q, int limit, char **cause)
{
	const char *cols = "p.id, p.name, p.kind, p.address, p.lon, p.lat, p.district_code, "
			   "p.district_name";
	const char *order = "ORDER BY (p.name = ?2) DESC, (instr(p.name, ?2) = 1) DESC";
	char *sql = NULL, *arg = NULL;
	size_t qn = strlen(q);
	if (utf8_chars(q) >= 3) {
		/* A phrase: the query is one quoted string, inner quotes doubled. */
		arg = malloc(2 * qn + 3);
		char *w = arg;
		*w++ = '"';
		for (const char *s = q; *s; s++) {
			if (*s == '"')
				*w++ = '"';
			*w++ = *s;
		}
		*w++ = '"';
		*w = '\0';
		if (asprintf(&sql, "SELECT %s FROM places_fts f JOIN places p ON p.id = f.rowid "
				   "WHERE places_fts MATCH ?1 %s, f.rank, length(p.name) LIMIT ?3",
			cols, order) < 0)
			abort();
	} else {
		arg = malloc(2 * qn + 3);
		char *w = arg;
		*w++ = '%';
		for (const char *s = q; *s; s++) {
			if (*s == '%' || *s == '_' || *s == '\\')
				*w++ = '\\';
			*w++ = *s;
		}
		*w++ = '%';
		*w = '\0';
		if (asprintf(&sql, "SELECT %s FROM places p WHERE p.name LIKE ?1 ESCAPE '\\' OR "
				   "p.address LIKE ?1 ESCAPE '\\' %s, (instr(p.name, ?2) > 0) DESC, "
				   "length(p.name) LIMIT ?3", cols, order) < 0)
			abort();
	}
	sqlite3_stmt *st;
	json_t *out = NULL;
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
		fail(cause, -1, "database: %s", sqlite3_errmsg(db));
		goto done;
	}
	sqlite3_bind_text(st, 1, arg, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, q, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 3, limit);
	json_t *arr = json_array();
	int s;
	while ((s = sqlite3_step(st)) == SQLITE_ROW) {
#define T(i) (sqlite3_column_type(st, i) == SQLITE_NULL ? NULL : (const char *)sqlite3_column_text(st, i))
		json_t *d = T(6) ? json_pack("{s:s, s:s}", "code", T(6), "name", T(7)) : json_null();
		json_array_append_new(arr, json_pack("{s:I, s:s, s:s?, s:s?, s:f, s:f, s:o}", "id",
					       (json_int_t)sqlite3_column_int64(st, 0), "name", T(1),
					       "kind", T(2), "address", T(3), "lon",
					       sqlite3_column_double(st, 4), "lat",
					       sqlite3_column_double(st, 5), "district", d));
#undef T
	}
	if (s != SQLITE_DONE) {
		fail(cause, -1, "database: %s", sqlite3_errmsg(db));
		json_decref(arr);
	} else {
		out = json_pack("{s:s, s:o}", "query", q, "places", arr);
	}
	sqlite3_finalize(st);
done:
	free(sql);
	free(arg);
	return out;
}
