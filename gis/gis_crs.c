/* gis_crs.c - see gis_crs.h. */
#include "gis_crs.h"
#include "gis_coord.h"
#include "gis_gcj02.h"

#include <math.h>
#include <proj.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

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

int
gis_crs_parse(const char *s)
{
	if (s == NULL)
		return -1;
	if (strcasecmp(s, "wgs84") == 0 || strcasecmp(s, "EPSG:4326") == 0 || strcmp(s, "4326") == 0)
		return GIS_CRS_WGS84;
	if (strcasecmp(s, "cgcs2000") == 0 || strcasecmp(s, "EPSG:4490") == 0 || strcmp(s, "4490") == 0)
		return GIS_CRS_CGCS2000;
	if (strcasecmp(s, "gcj02") == 0 || strcasecmp(s, "gcj-02") == 0)
		return GIS_CRS_GCJ02;
	if (strcasecmp(s, "webmercator") == 0 || strcasecmp(s, "EPSG:3857") == 0 ||
	    strcmp(s, "3857") == 0)
		return GIS_CRS_WEBMERC;
	if (strcasecmp(s, "gk") == 0)
		return GIS_CRS_GK;
	return -1;
}

const char *
gis_crs_name(enum gis_crs crs)
{
	static const char *const names[] = { "wgs84", "cgcs2000", "gcj02", "webmercator", "gk" };
	return (unsigned)crs < 5 ? names[crs] : "?";
}

int
gis_gk_zone(double lon)
{
	if (!isfinite(lon))
		return -1;
	int z = (int)floor((lon + 1.5) / 3.0);
	return z >= GIS_GK_ZONE_MIN && z <= GIS_GK_ZONE_MAX ? z : -1;
}

int
gis_gk_epsg(int zone)
{
	return 4513 + zone - GIS_GK_ZONE_MIN;
}

/* --- per-thread PROJ context and operation cache ------------------------------------ */

#define CACHE_MAX 24

struct op {
	int from, to; /* EPSG codes */
	PJ *pj;
};

struct tls {
	PJ_CONTEXT *ctx;
	struct op ops[CACHE_MAX];
	int nops, next;
};

static pthread_key_t tls_key;
static pthread_once_t tls_once = PTHREAD_ONCE_INIT;

static void
tls_free(void *p)
{
	struct tls *t = p;
	if (t == NULL)
		return;
	for (int i = 0; i < t->nops; i++)
		proj_destroy(t->ops[i].pj);
	proj_context_destroy(t->ctx);
	free(t);
}

static void
tls_init(void)
{
	pthread_key_create(&tls_key, tls_free);
}

static struct tls *
tls_get(void)
{
	pthread_once(&tls_once, tls_init);
	struct tls *t = pthread_getspecific(tls_key);
	if (t == NULL) {
		t = calloc(1, sizeof *t);
		if (t == NULL)
			abort();
		t->ctx = proj_context_create();
		/* Never reach for the network (grids are not needed for these CRSs). */
		proj_context_set_enable_network(t->ctx, 0);
		proj_log_level(t->ctx, PJ_LOG_NONE);
		pthread_setspecific(tls_key, t);
	}
	return t;
}

void
gis_crs_thread_cleanup(void)
{
	pthread_once(&tls_once, tls_init);
	struct tls *t = pthread_getspecific(tls_key);
	tls_free(t);
	pthread_setspecific(tls_key, NULL);
}

/* The normalised operation from EPSG:from to EPSG:to, cached per thread. */
static PJ *
op_get(int from, int to, char **cause)
{
	struct tls *t = tls_get();
	for (int i = 0; i < t->nops; i++)
		if (t->ops[i].from == from && t->ops[i].to == to)
			return t->ops[i].pj;
	char a[16], b[16];
	snprintf(a, sizeof a, "EPSG:%d", from);
	snprintf(b, sizeof b, "EPSG:%d", to);
	PJ *raw = proj_create_crs_to_crs(t->ctx, a, b, NULL);
	if (raw == NULL) {
		fail(cause, "PROJ cannot build %s -> %s: %s", a, b,
		    proj_context_errno_string(t->ctx, proj_context_errno(t->ctx)));
		return NULL;
	}
	PJ *pj = proj_normalize_for_visualization(t->ctx, raw);
	proj_destroy(raw);
	if (pj == NULL) {
		fail(cause, "PROJ cannot normalise %s -> %s", a, b);
		return NULL;
	}
	struct op *slot;
	if (t->nops < CACHE_MAX) {
		slot = &t->ops[t->nops++];
	} else {
		slot = &t->ops[t->next];
		t->next = (t->next + 1) % CACHE_MAX;
		proj_destroy(slot->pj);
	}
	*slot = (struct op){ from, to, pj };
	return pj;
}

static int
proj_xy(int from, int to, double x, double y, double *ox, double *oy, char **cause)
{
	if (from == to) {
		*ox = x, *oy = y;
		return 0;
	}
	PJ *pj = op_get(from, to, cause);
	if (pj == NULL)
		return -1;
	proj_errno_reset(pj);
	PJ_COORD c = proj_trans(pj, PJ_FWD, proj_coord(x, y, 0, 0));
	if (c.xy.x == HUGE_VAL || !isfinite(c.xy.x) || !isfinite(c.xy.y)) {
		int e = proj_errno(pj);
		return fail(cause, "cannot transform (%.9g, %.9g) from EPSG:%d to EPSG:%d: %s", x, y,
		    from, to, e ? proj_context_errno_string(tls_get()->ctx, e) : "no result");
	}
	*ox = c.xy.x;
	*oy = c.xy.y;
	return 0;
}

static int
epsg_of(enum gis_crs crs, int zone)
{
	switch (crs) {
	case GIS_CRS_WGS84:
	case GIS_CRS_GCJ02:
		return 4326;
	case GIS_CRS_CGCS2000:
		return 4490;
	case GIS_CRS_WEBMERC:
		return 3857;
	case GIS_CRS_GK:
		return gis_gk_epsg(zone);
	}
	return 4326;
}

static int
geographic(enum gis_crs c)
{
	return c == GIS_CRS_WGS84 || c == GIS_CRS_CGCS2000 || c == GIS_CRS_GCJ02;
}

int
gis_transform(enum gis_crs from, enum gis_crs to, int zone, double x, double y, double *ox,
    double *oy, int *zone_out, char **cause)
{
	if ((unsigned)from > GIS_CRS_GK || (unsigned)to > GIS_CRS_GK)
		return fail(cause, "unknown CRS");
	if (!isfinite(x) || !isfinite(y))
		return fail(cause, "x and y must be finite numbers");
	if (zone != 0 && (zone < GIS_GK_ZONE_MIN || zone > GIS_GK_ZONE_MAX))
		return fail(cause, "zone %d is not a CGCS2000 3-degree Gauss-Kruger zone (25-45)", zone);
	if (geographic(from)) {
		char *why = NULL;
		if (gis_lonlat_check(x, y, &why) != 0) {
			fail(cause, "%s", why ? why : "bad position");
			free(why);
			return -1;
		}
	}
	int zfrom = 0, zto = 0;
	if (from == GIS_CRS_GK) {
		zfrom = zone ? zone : (int)floor(x / 1e6);
		if (zfrom < GIS_GK_ZONE_MIN || zfrom > GIS_GK_ZONE_MAX)
			return fail(cause, "easting %.3f carries no zone number 25-45 (give &zone=)", x);
		if (floor(x / 1e6) != zfrom)
			return fail(cause, "easting %.3f is not in zone %d (zone-prefixed eastings "
					   "are %d000000-%d999999)", x, zfrom, zfrom, zfrom);
	}
	if (from == GIS_CRS_GCJ02) {
		if (gis_gcj02_to_wgs84(x, y, &x, &y, cause) != 0)
			return -1;
		from = GIS_CRS_WGS84;
	}
	enum gis_crs via = to == GIS_CRS_GCJ02 ? GIS_CRS_WGS84 : to;
	if (via == GIS_CRS_GK) {
		zto = from == GIS_CRS_GK && zone == 0 ? zfrom : zone;
		if (zto == 0 || from == GIS_CRS_GK) {
			double lon = x, lat = y;
			if (!geographic(from) &&
			    proj_xy(epsg_of(from, zfrom), 4490, x, y, &lon, &lat, cause) != 0)
				return -1;
			if (zto == 0)
				zto = gis_gk_zone(lon);
			if (zto < 0)
				return fail(cause, "longitude %.6f is outside the CGCS2000 Gauss-Kruger "
						   "zones (73.5E-136.5E)", lon);
		}
	}
	if (proj_xy(epsg_of(from, zfrom), epsg_of(via, zto), x, y, ox, oy, cause) != 0)
		return -1;
	if (to == GIS_CRS_GCJ02 && gis_wgs84_to_gcj02(*ox, *oy, ox, oy, cause) != 0)
		return -1;
	if (zone_out)
		*zone_out = to == GIS_CRS_GK ? zto : from == GIS_CRS_GK ? zfrom : 0;
	return 0;
}
