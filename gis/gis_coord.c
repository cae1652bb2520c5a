/* gis_coord.c - see gis_coord.h. */
#include "gis_coord.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void
set_cause(char **cause, const char *msg)
{
	if (cause != NULL && *cause == NULL)
		*cause = strdup(msg);
}

int
gis_lonlat_check(double lon, double lat, char **cause)
{
	if (!isfinite(lon) || !isfinite(lat)) {
		set_cause(cause, "lon and lat must be finite numbers");
		return -1;
	}
	if (lat < -90.0 || lat > 90.0) {
		if (lon >= -90.0 && lon <= 90.0 && lat >= -180.0 && lat <= 180.0)
			set_cause(cause, "lat is outside -90..90; lon and lat look swapped "
					 "(give longitude first, then latitude)");
		else
			set_cause(cause, "lat is outside -90..90");
		return -1;
	}
	if (lon < -180.0 || lon > 180.0) {
		set_cause(cause, "lon is outside -180..180");
		return -1;
	}
	return 0;
}
