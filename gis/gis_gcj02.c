/* gis_gcj02.c - see gis_gcj02.h. */
#include "gis_gcj02.h"
#include "gis_geojson.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#ifndef GIS_DATA_DIR
#define GIS_DATA_DIR "gis/data"
#endif

static const double PI = 3.14159265358979324;
static const double KRASOVSKY_A = 6378245.0;
static const double KRASOVSKY_EE = 0.00669342162296594323;

static double
off_lat(double x, double y)
{
	double r = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * sqrt(fabs(x));
	r += (20.0 * sin(6.0 * x * PI) + 20.0 * sin(2.0 * x * PI)) * 2.0 / 3.0;
	r += (20.0 * sin(y * PI) + 40.0 * sin(y / 3.0 * PI)) * 2.0 / 3.0;
	r += (160.0 * sin(y / 12.0 * PI) + 320.0 * sin(y * PI / 30.0)) * 2.0 / 3.0;
	return r;
}

static double
off_lon(double x, double y)
{
	double r = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * sqrt(fabs(x));
	r += (20.0 * sin(6.0 * x * PI) + 20.0 * sin(2.0 * x * PI)) * 2.0 / 3.0;
	r += (20.0 * sin(x * PI) + 40.0 * sin(x / 3.0 * PI)) * 2.0 / 3.0;
	r += (150.0 * sin(x / 12.0 * PI) + 300.0 * sin(x / 30.0 * PI)) * 2.0 / 3.0;
	return r;
}

void
gis_gcj02_fwd_raw(double lon, double lat, double *glon, double *glat)
{
	double dlat = off_lat(lon - 105.0, lat - 35.0);
	double dlon = off_lon(lon - 105.0, lat - 35.0);
	double rad = lat / 180.0 * PI;
	double magic = sin(rad);
	magic = 1 - KRASOVSKY_EE * magic * magic;
	double sq = sqrt(magic);
	dlat = (dlat * 180.0) / ((KRASOVSKY_A * (1 - KRASOVSKY_EE)) / (magic * sq) * PI);
	dlon = (dlon * 180.0) / (KRASOVSKY_A / sq * cos(rad) * PI);
	*glon = lon + dlon;
	*glat = lat + dlat;
}

void
gis_gcj02_inv_raw(double glon, double glat, double *lon, double *lat)
{
	/* The offset varies slowly (its derivative is ~1e-5), so x <- x + (g - f(x)) converges fast. */
	double x = glon, y = glat;
	for (int i = 0; i < 30; i++) {
		double fx, fy;
		gis_gcj02_fwd_raw(x, y, &fx, &fy);
		double ex = glon - fx, ey = glat - fy;
		x += ex;
		y += ey;
		if (fabs(ex) < 1e-11 && fabs(ey) < 1e-11)
			break;
	}
	*lon = x;
	*lat = y;
}

/* --- the mainland boundary --------------------------------------------------------- */

struct region {
	struct gis_mpoly geom;
	int mainland;
};

static struct {
	pthread_mutex_t lock;
	int loaded;          /* 1 loaded, -1 failed */
	char *cause;
	struct region *r;
	size_t n;
	double minx, miny, maxx, maxy; /* of all mainland regions: the first filter */
} B = { PTHREAD_MUTEX_INITIALIZER, 0, NULL, NULL, 0, 0, 0, 0, 0 };

static int
load(const char *path)
{
	char *text = NULL, *cause = NULL;
	size_t len;
	struct gis_fc fc;
	if (gis_read_file(path, &text, &len, &cause) != 0 ||
	    gis_geojson_parse(text, len, 0, &fc, &cause) != 0) {
		free(text);
		B.cause = cause;
		__atomic_store_n(&B.loaded, -1, __ATOMIC_RELEASE);
		return -1;
	}
	free(text);
	B.r = calloc(fc.n, sizeof *B.r);
	if (B.r == NULL)
		abort();
	B.n = fc.n;
	B.minx = B.miny = INFINITY;
	B.maxx = B.maxy = -INFINITY;
	for (size_t i = 0; i < fc.n; i++) {
		json_t *m = json_object_get(fc.f[i].props, "mainland");
		B.r[i].mainland = m == NULL || json_is_true(m);
		B.r[i].geom = fc.f[i].geom;
		memset(&fc.f[i].geom, 0, sizeof fc.f[i].geom);
		if (B.r[i].mainland) {
			B.minx = fmin(B.minx, B.r[i].geom.minx);
			B.miny = fmin(B.miny, B.r[i].geom.miny);
			B.maxx = fmax(B.maxx, B.r[i].geom.maxx);
			B.maxy = fmax(B.maxy, B.r[i].geom.maxy);
		}
	}
	gis_fc_free(&fc);
	__atomic_store_n(&B.loaded, 1, __ATOMIC_RELEASE);
	return 0;
}

int
gis_gcj02_init_path(const char *path, char **cause)
{
	pthread_mutex_lock(&B.lock);
	if (B.loaded == 0)
		load(path);
	int rc = B.loaded == 1 ? 0 : -1;
	if (rc && cause && *cause == NULL && B.cause)
		*cause = strdup(B.cause);
	pthread_mutex_unlock(&B.lock);
	return rc;
}

int
gis_gcj02_init(char **cause)
{
	const char *env = getenv("LIANDONG_CHINA_REGIONS");
	if (env && *env)
		return gis_gcj02_init_path(env, cause);
	int rc = gis_gcj02_init_path(GIS_DATA_DIR "/china-regions.geojson", cause);
	if (rc && cause && *cause) {
		char *c = NULL;
		if (asprintf(&c, "the mainland China boundary for GCJ-02 is missing (%s); "
				 "run scripts/setup.sh or set LIANDONG_CHINA_REGIONS", *cause) > 0) {
			free(*cause);
			*cause = c;
		}
	}
	return rc;
}

int
gis_in_mainland(double lon, double lat)
{
	if (__atomic_load_n(&B.loaded, __ATOMIC_ACQUIRE) != 1 && gis_gcj02_init(NULL) != 0)
		return -1;
	if (lon < B.minx || lon > B.maxx || lat < B.miny || lat > B.maxy)
		return 0;
	int in_mainland = 0;
	for (size_t i = 0; i < B.n; i++) {
		const struct gis_mpoly *g = &B.r[i].geom;
		if (lon < g->minx || lon > g->maxx || lat < g->miny || lat > g->maxy)
			continue;
		if (!gis_mpoly_contains(g, lon, lat))
			continue;
		if (!B.r[i].mainland)
			return 0; /* 香港, 澳门, 台湾 win over a coarse mainland outline */
		in_mainland = 1;
	}
	return in_mainland;
}

int
gis_wgs84_to_gcj02(double lon, double lat, double *glon, double *glat, char **cause)
{
	int in = gis_in_mainland(lon, lat);
	if (in < 0)
		return gis_gcj02_init(cause);
	if (in)
		gis_gcj02_fwd_raw(lon, lat, glon, glat);
	else
		*glon = lon, *glat = lat;
	return 0;
}

int
gis_gcj02_to_wgs84(double glon, double glat, double *lon, double *lat, char **cause)
{
	/*
	 * Near the border a GCJ-02 point has two readings: a mainland point
	 * shifted out, or an outside point left alone. The point itself decides:
	 * inside the mainland it is un-shifted, outside it is returned as it is
	 * (so Hong Kong and Macau addresses never move). Round trips fail only for
	 * mainland points within the offset (under 1 km) of the border or coast
	 * whose shift carries them out; gis/README.md says so.
	 */
	int in = gis_in_mainland(glon, glat);
	if (in < 0)
		return gis_gcj02_init(cause);
	if (in)
		gis_gcj02_inv_raw(glon, glat, lon, lat);
	else
		*lon = glon, *lat = glat;
	return 0;
}
