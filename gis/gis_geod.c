/* gis_geod.c - see gis_geod.h. */
#include "gis_geod.h"

#include <geodesic.h>
#include <math.h>
#include <pthread.h>

static struct geod_geodesic wgs84;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void
init(void)
{
	geod_init(&wgs84, 6378137.0, 1 / 298.257223563);
}

double
gis_geod_inverse(double lon1, double lat1, double lon2, double lat2, double *azi1, double *azi2)
{
	pthread_once(&once, init);
	double s12, a1, a2;
	geod_inverse(&wgs84, lat1, lon1, lat2, lon2, &s12, &a1, &a2);
	if (azi1)
		*azi1 = a1 < 0 ? a1 + 360 : a1;
	if (azi2)
		*azi2 = a2 < 0 ? a2 + 360 : a2;
	return s12;
}

void
gis_geod_direct(double lon, double lat, double azi, double s, double *lon2, double *lat2)
{
	pthread_once(&once, init);
	geod_direct(&wgs84, lat, lon, azi, s, lat2, lon2, NULL);
}

double
gis_haversine(double lon1, double lat1, double lon2, double lat2)
{
	const double d = M_PI / 180;
	double dp = (lat2 - lat1) * d, dl = (lon2 - lon1) * d;
	double h = sin(dp / 2) * sin(dp / 2) + cos(lat1 * d) * cos(lat2 * d) * sin(dl / 2) * sin(dl / 2);
	return 2 * GIS_EARTH_R * asin(fmin(1.0, sqrt(h)));
}
