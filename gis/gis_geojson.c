/* gis_geojson.c - see gis_geojson.h. */
#include "gis_geojson.h"
#include "gis_coord.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int
fail(char **cause, const char *fmt, ...)
{
	if (cause != NULL && *cause == NULL) {
		va_list ap;
		va_start(ap, fmt);
		if (vasprintf(cause, fmt, ap) < 0)
			*cause = NULL;
		va_end(ap);
	}
	return -1;
}

long
gis_utf8_check(const char *text, size_t len)
{
	const unsigned char *s = (const unsigned char *)text;
	size_t i = 0;
	while (i < len) {
		unsigned c = s[i];
		size_t n;
		unsigned min;
		if (c < 0x80) {
			i++;
			continue;
		} else if ((c & 0xe0) == 0xc0) {
			n = 1, min = 0x80, c &= 0x1f;
		} else if ((c & 0xf0) == 0xe0) {
			n = 2, min = 0x800, c &= 0x0f;
		} else if ((c & 0xf8) == 0xf0) {
			n = 3, min = 0x10000, c &= 0x07;
		} else {
			return (long)i;
		}
		if (i + n >= len)
			return (long)i;
		for (size_t k = 1; k <= n; k++) {
			if (i + k >= len || (s[i + k] & 0xc0) != 0x80)
				return (long)i;
			c = (c << 6) | (s[i + k] & 0x3f);
		}
		if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
			return (long)i;
		i += n + 1;
	}
	return -1;
}

int
gis_read_file(const char *path, char **text, size_t *len, char **cause)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL)
		return fail(cause, "cannot open %s: %s", path, strerror(errno));
	size_t cap = 1 << 16, n = 0;
	char *buf = malloc(cap);
	for (;;) {
		if (buf == NULL)
			abort();
		size_t got = fread(buf + n, 1, cap - n - 1, f);
		n += got;
		if (got == 0)
			break;
		if (cap - n - 1 == 0) {
			cap *= 2;
			buf = realloc(buf, cap);
		}
	}
	int err = ferror(f);
	fclose(f);
	if (err) {
		free(buf);
		return fail(cause, "cannot read %s", path);
	}
	buf[n] = '\0';
	*text = buf;
	*len = n;
	return 0;
}

const char *
gis_feature_label(const struct gis_fc *fc, size_t i, char *buf, size_t len)
{
	const char *name = json_string_value(json_object_get(fc->f[i].props, "name"));
	if (name)
		snprintf(buf, len, "feature %zu (%s)", i, name);
	else
		snprintf(buf, len, "feature %zu", i);
	return buf;
}

/* One ring: an array of [x, y] positions. */
static int
parse_ring(json_t *a, int flags, struct gis_ring *out, const char *where, char **cause)
{
	if (!json_is_array(a))
		return fail(cause, "%s: a ring must be an array of positions", where);
	size_t n = json_array_size(a);
	out->xy = malloc((n ? n : 1) * 2 * sizeof(double));
	if (out->xy == NULL)
		abort();
	out->n = n;
	for (size_t k = 0; k < n; k++) {
		json_t *p = json_array_get(a, k);
		json_t *x = json_array_get(p, 0), *y = json_array_get(p, 1);
		if (!json_is_array(p) || json_array_size(p) < 2 || !json_is_number(x) ||
		    !json_is_number(y))
			return fail(cause, "%s: position %zu is not [lon, lat] numbers", where, k);
		double lon = json_number_value(x), lat = json_number_value(y);
		if (!(flags & GIS_GJ_NOCHECK_RANGE)) {
			char *why = NULL;
			if (gis_lonlat_check(lon, lat, &why) != 0) {
				fail(cause, "%s: position %zu (%.7g, %.7g): %s", where, k, lon, lat,
				    why ? why : "out of range");
				free(why);
				return -1;
			}
		} else if (!isfinite(lon) || !isfinite(lat)) {
			return fail(cause, "%s: position %zu is not finite", where, k);
		}
		out->xy[2 * k] = lon;
		out->xy[2 * k + 1] = lat;
	}
	char why[200];
	if (flags & GIS_GJ_STRICT) {
		if (gis_ring_validate(out, why, sizeof why) != 0)
			return fail(cause, "%s: %s", where, why);
	} else {
		/* Always: closed, at least 4 positions (RFC 7946 3.1.6). */
		if (n < 4)
			return fail(cause, "%s: ring has %zu positions; a ring needs at least 4", where, n);
		if (out->xy[0] != out->xy[2 * (n - 1)] || out->xy[1] != out->xy[2 * (n - 1) + 1])
			return fail(cause, "%s: ring is not closed (first and last positions differ)",
			    where);
	}
	gis_ring_dedup(out);
	/* Repeats do not count: [a, a, b, a] is no ring (the strict check says so too). */
	if (out->n < 4)
		return fail(cause, "%s: ring has %zu distinct positions; a ring needs at least 4",
		    where, out->n);
	return 0;
}

static int
parse_polygon(json_t *rings, int flags, struct gis_polygon *out, const char *where, char **cause)
{
	if (!json_is_array(rings) || json_array_size(rings) == 0)
		return fail(cause, "%s: a polygon must be a non-empty array of rings", where);
	size_t n = json_array_size(rings);
	out->rings = calloc(n, sizeof *out->rings);
	if (out->rings == NULL)
		abort();
	out->nrings = n;
	for (size_t j = 0; j < n; j++) {
		char w[300];
		snprintf(w, sizeof w, "%s ring %zu", where, j);
		if (parse_ring(json_array_get(rings, j), flags, &out->rings[j], w, cause))
			return -1;
	}
	return 0;
}

static int
parse_geometry(json_t *g, int flags, struct gis_mpoly *out, const char *label, char **cause)
{
	const char *type = json_string_value(json_object_get(g, "type"));
	json_t *coords = json_object_get(g, "coordinates");
	if (!json_is_object(g) || type == NULL)
		return fail(cause, "%s: no geometry (a Polygon or MultiPolygon is needed)", label);
	if (strcmp(type, "Polygon") == 0) {
		out->polys = calloc(1, sizeof *out->polys);
		if (out->polys == NULL)
			abort();
		out->npolys = 1;
		char w[300];
		snprintf(w, sizeof w, "%s: polygon", label);
		return parse_polygon(coords, flags, &out->polys[0], w, cause);
	}
	if (strcmp(type, "MultiPolygon") == 0) {
		if (!json_is_array(coords) || json_array_size(coords) == 0)
			return fail(cause, "%s: MultiPolygon coordinates must be a non-empty array",
			    label);
		size_t n = json_array_size(coords);
		out->polys = calloc(n, sizeof *out->polys);
		if (out->polys == NULL)
			abort();
		out->npolys = n;
		for (size_t i = 0; i < n; i++) {
			char w[300];
			snprintf(w, sizeof w, "%s: polygon %zu", label, i);
			if (parse_polygon(json_array_get(coords, i), flags, &out->polys[i], w, cause))
				return -1;
		}
		return 0;
	}
	return fail(cause, "%s: geometry is a %s, not a Polygon or MultiPolygon", label, type);
}

void
gis_fc_free(struct gis_fc *fc)
{
	if (fc == NULL)
		return;
	for (size_t i = 0; i < fc->n; i++) {
		json_decref(fc->f[i].props);
		json_decref(fc->f[i].id);
		gis_mpoly_free(&fc->f[i].geom);
	}
	free(fc->f);
	fc->f = NULL;
	fc->n = 0;
}

int
gis_geojson_parse(const char *text, size_t len, int flags, struct gis_fc *out, char **cause)
{
	memset(out, 0, sizeof *out);
	if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0) {
		text += 3; /* a UTF-8 byte order mark: tolerated */
		len -= 3;
	}
	long bad = gis_utf8_check(text, len);
	if (bad >= 0)
		return fail(cause, "the file is not UTF-8 (bad byte 0x%02x at offset %ld); GeoJSON "
				   "must be UTF-8 - convert it first, e.g. iconv -f GBK -t UTF-8",
		    (unsigned char)text[bad], bad);
	json_error_t jerr;
	json_t *root = json_loadb(text, len, 0, &jerr);
	if (root == NULL)
		return fail(cause, "not JSON: line %d column %d: %s", jerr.line, jerr.column,
		    jerr.text);
	const char *type = json_string_value(json_object_get(root, "type"));
	json_t *feats = json_object_get(root, "features");
	if (type == NULL || strcmp(type, "FeatureCollection") != 0 || !json_is_array(feats)) {
		json_decref(root);
		return fail(cause, "not a GeoJSON FeatureCollection (\"type\": \"FeatureCollection\" "
				   "with a \"features\" array)");
	}
	size_t n = json_array_size(feats);
	if (n == 0) {
		json_decref(root);
		return fail(cause, "the FeatureCollection has no features");
	}
	out->f = calloc(n, sizeof *out->f);
	if (out->f == NULL)
		abort();
	int rc = 0;
	for (size_t i = 0; i < n && rc == 0; i++) {
		json_t *f = json_array_get(feats, i);
		struct gis_feature *gf = &out->f[i];
		out->n = i + 1;
		if (!json_is_object(f) || !json_is_string(json_object_get(f, "type")) ||
		    strcmp(json_string_value(json_object_get(f, "type")), "Feature") != 0) {
			rc = fail(cause, "feature %zu is not a GeoJSON Feature object", i);
			break;
		}
		json_t *props = json_object_get(f, "properties");
		gf->props = json_is_object(props) ? json_incref(props) : NULL;
		gf->id = json_object_get(f, "id") ? json_incref(json_object_get(f, "id")) : NULL;
		char label[200];
		gis_feature_label(out, i, label, sizeof label);
		rc = parse_geometry(json_object_get(f, "geometry"), flags, &gf->geom, label, cause);
		if (rc == 0)
			gis_mpoly_bbox(&gf->geom);
	}
	json_decref(root);
	if (rc)
		gis_fc_free(out);
	return rc;
}
