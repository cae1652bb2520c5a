/*
 * srv_gis.c - GIS REST routes and import commands; see srv_gis.h.
 *
 * Each request is validated on the loop (cheap argument checks), then one
 * uv_work_t runs the PROJ / SQLite work in the thread pool and builds the
 * response text; the after-work callback on the loop only hands it over.
 */
#include "srv_gis.h"
#include "srv.h"
#include "db_store.h"
#include "srv_error.h"
#include "srv_util.h"

#include "gis_coord.h"
#include "gis_crs.h"
#include "gis_gazetteer.h"
#include "gis_gcj02.h"
#include "gis_geojson.h"
#include "gis_juris.h"

#include <errno.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

enum job_kind { JOB_TRANSFORM, JOB_JURIS, JOB_DISTRICT, JOB_PLACES };

struct gis_job {
	uv_work_t work;
	struct srv_req *req;
	enum job_kind kind;
	char *dbpath;
	int from, to, zone;
	double x, y, tol;
	char *q;
	int limit;
	/* result */
	int err;
	char *cause;
	char *body;
};

static int
arg_num(struct srv_req *req, const char *name, int required, double *out, char **cause)
{
	const char *v = srv_req_arg(req, name);
	if (v == NULL || *v == '\0') {
		if (required)
			return srv_fail(cause, SRV_E_BAD_QUERY, "%s is required", name);
		return 1;
	}
	char *end;
	errno = 0;
	*out = strtod(v, &end);
	if (errno || *end != '\0' || !isfinite(*out))
		return srv_fail(cause, SRV_E_BAD_QUERY, "%s must be a number, not '%s'", name, v);
	return 0;
}

static int
arg_crs(struct srv_req *req, const char *name, const char *dflt, int *out, char **cause)
{
	const char *v = srv_req_arg(req, name);
	if (v == NULL || *v == '\0') {
		if (dflt == NULL)
			return srv_fail(cause, SRV_E_BAD_QUERY, "%s is required (wgs84, cgcs2000, gcj02, "
								 "webmercator or gk)", name);
		v = dflt;
	}
	*out = gis_crs_parse(v);
	if (*out < 0)
		return srv_fail(cause, SRV_E_BAD_QUERY, "%s: unknown CRS '%s' (use wgs84, cgcs2000, "
							 "gcj02, webmercator or gk)", name, v);
	return 0;
}

static sqlite3 *
open_ro(struct gis_job *j)
{
	sqlite3 *db = NULL;
	if (sqlite3_open_v2(j->dbpath, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL) !=
	    SQLITE_OK) {
		j->err = srv_fail(&j->cause, SRV_E_STORE, "cannot open the database: %s",
		    sqlite3_errmsg(db));
		sqlite3_close(db);
		return NULL;
	}
	sqlite3_busy_timeout(db, 5000);
	return db;
}

static void
set_body(struct gis_job *j, json_t *o)
{
	j->body = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(15));
	json_decref(o);
}

static void
job_work(uv_work_t *w)
{
	struct gis_job *j = w->data;
	sqlite3 *db = NULL;
	switch (j->kind) {
	case JOB_TRANSFORM: {
		double ox, oy;
		int zone = 0;
		char *cause = NULL;
		if (gis_transform(j->from, j->to, j->zone, j->x, j->y, &ox, &oy, &zone, &cause) != 0) {
			j->err = strstr(cause ? cause : "", "boundary") ? SRV_E_INTERNAL : SRV_E_BAD_QUERY;
			j->cause = cause;
			break;
		}
		json_t *o = json_pack("{s:s, s:s, s:f, s:f, s:{s:f, s:f}}", "from",
		    gis_crs_name(j->from), "to", gis_crs_name(j->to), "x", ox, "y", oy, "input", "x",
		    j->x, "y", j->y);
		if (zone)
			json_object_set_new(o, "zone", json_integer(zone));
		set_body(j, o);
		break;
	}
	case JOB_DISTRICT: {
		double lon = j->x, lat = j->y;
		char *cause = NULL;
		if (j->from == GIS_CRS_GCJ02 || j->from == GIS_CRS_CGCS2000) {
			if (gis_transform(j->from, GIS_CRS_WGS84, 0, lon, lat, &lon, &lat, NULL, &cause)) {
				j->err = SRV_E_BAD_QUERY;
				j->cause = cause;
				break;
			}
		}
		if ((db = open_ro(j)) == NULL)
			break;
		char code[64], name[256];
		int rc = gis_district_of(db, lon, lat, code, sizeof code, name, sizeof name);
		if (rc < 0) {
			j->err = srv_fail(&j->cause, SRV_E_STORE, "%s", sqlite3_errmsg(db));
			break;
		}
		json_t *d = rc == 0 ? json_pack("{s:s, s:s}", "code", code, "name", name) : json_null();
		set_body(j, json_pack("{s:f, s:f, s:o}", "lon", lon, "lat", lat, "district", d));
		break;
	}
	case JOB_JURIS: {
		if ((db = open_ro(j)) == NULL)
			break;
		json_t *fc = gis_juris_geojson(db, j->tol, &j->cause);
		if (fc == NULL) {
			j->err = SRV_E_STORE;
			break;
		}
		j->body = json_dumps(fc, JSON_COMPACT | JSON_REAL_PRECISION(10));
		json_decref(fc);
		break;
	}
	case JOB_PLACES: {
		if ((db = open_ro(j)) == NULL)
			break;
		json_t *o = gis_gazetteer_search(db, j->q, j->limit, &j->cause);
		if (o == NULL) {
			j->err = SRV_E_STORE;
			break;
		}
		set_body(j, o);
		break;
	}
	}
	sqlite3_close(db);
}

static void
job_done(uv_work_t *w, int status)
{
	struct gis_job *j = w->data;
	if (status != 0)
		srv_reply_error(j->req, SRV_E_SHUTTING_DOWN, NULL);
	else if (j->err)
		srv_reply_error(j->req, j->err, j->cause);
	else
		srv_reply_text(j->req, 200, "application/json", j->body, strlen(j->body));
	free(j->dbpath);
	free(j->q);
	free(j->cause);
	free(j->body);
	free(j);
}

static void
submit(struct srv_req *req, struct gis_job *j)
{
	j->req = req;
	j->dbpath = xasprintf("%s/liandong.db", req->srv->cfg->data_dir);
	j->work.data = j;
	req->pending = 1;
	if (uv_queue_work(req->srv->loop, &j->work, job_work, job_done) != 0) {
		req->pending = 0;
		free(j->dbpath);
		free(j->q);
		free(j);
		srv_reply_error(req, SRV_E_INTERNAL, "cannot queue the work");
	}
}

static void
fail(struct srv_req *req, int err, char *cause)
{
	srv_reply_error(req, err, cause);
	free(cause);
}

int
srv_gis_dispatch(struct srv_req *req)
{
	const char *p = req->path;
	if (strncmp(p, "/api/v1/gis/", 12) != 0)
		return 0;
	p += 12;
	int known = strcmp(p, "transform") == 0 || strcmp(p, "jurisdictions") == 0 ||
	    strcmp(p, "district") == 0 || strcmp(p, "places") == 0;
	if (!known)
		return 0;
	if (req->method != SRV_GET) {
		fail(req, SRV_E_METHOD, xstrdup("use GET"));
		return 1;
	}
	char *cause = NULL;
	int err = 0;
	struct gis_job *j = xcalloc(1, sizeof *j);
	if (strcmp(p, "transform") == 0) {
		j->kind = JOB_TRANSFORM;
		double zone = 0;
		if ((err = arg_crs(req, "from", NULL, &j->from, &cause)) ||
		    (err = arg_crs(req, "to", NULL, &j->to, &cause)) ||
		    (err = arg_num(req, "x", 1, &j->x, &cause)) ||
		    (err = arg_num(req, "y", 1, &j->y, &cause)))
			goto bad;
		if ((err = arg_num(req, "zone", 0, &zone, &cause)) < 0)
			goto bad;
		err = 0;
		if (zone != 0 && (zone != floor(zone) || zone < GIS_GK_ZONE_MIN || zone > GIS_GK_ZONE_MAX)) {
			err = srv_fail(&cause, SRV_E_BAD_QUERY, "zone must be a Gauss-Kruger zone 25-45");
			goto bad;
		}
		j->zone = (int)zone;
		char *why = NULL;
		if ((j->from == GIS_CRS_WGS84 || j->from == GIS_CRS_CGCS2000 || j->from == GIS_CRS_GCJ02) &&
		    gis_lonlat_check(j->x, j->y, &why) != 0) {
			err = srv_fail(&cause, SRV_E_BAD_QUERY, "x, y: %s", why ? why : "bad position");
			free(why);
			goto bad;
		}
	} else if (strcmp(p, "district") == 0) {
		j->kind = JOB_DISTRICT;
		if ((err = arg_num(req, "lon", 1, &j->x, &cause)) ||
		    (err = arg_num(req, "lat", 1, &j->y, &cause)) ||
		    (err = arg_crs(req, "crs", "wgs84", &j->from, &cause)))
			goto bad;
		if (j->from != GIS_CRS_WGS84 && j->from != GIS_CRS_CGCS2000 && j->from != GIS_CRS_GCJ02) {
			err = srv_fail(&cause, SRV_E_BAD_QUERY, "crs must be wgs84, cgcs2000 or gcj02");
			goto bad;
		}
		char *why = NULL;
		if (gis_lonlat_check(j->x, j->y, &why) != 0) {
			err = srv_fail(&cause, SRV_E_BAD_QUERY, "lon, lat: %s", why ? why : "bad position");
			free(why);
			goto bad;
		}
	} else if (strcmp(p, "jurisdictions") == 0) {
		j->kind = JOB_JURIS;
		j->tol = 0.0005; /* ~50 m: plenty for a city map */
		if ((err = arg_num(req, "tolerance", 0, &j->tol, &cause)) < 0)
			goto bad;
		err = 0;
		if (j->tol < 0 || j->tol > 0.1) {
			err = srv_fail(&cause, SRV_E_BAD_QUERY, "tolerance must be 0-0.1 degrees");
			goto bad;
		}
	} else {
		j->kind = JOB_PLACES;
		const char *q = srv_req_arg(req, "q");
		double limit = 10;
		if (q == NULL || *q == '\0' || strlen(q) > 200) {
			err = srv_fail(&cause, SRV_E_BAD_QUERY, "q is required (1-200 bytes)");
			goto bad;
		}
		if (gis_utf8_check(q, strlen(q)) >= 0) {
			err = srv_fail(&cause, SRV_E_BAD_UTF8, "q is not valid UTF-8");
			goto bad;
		}
		if ((err = arg_num(req, "limit", 0, &limit, &cause)) < 0)
			goto bad;
		err = 0;
		if (limit != floor(limit) || limit < 1 || limit > 100) {
			err = srv_fail(&cause, SRV_E_BAD_QUERY, "limit must be 1-100");
			goto bad;
		}
		j->q = xstrdup(q);
		j->limit = (int)limit;
	}
	submit(req, j);
	return 1;
bad:
	free(j->q);
	free(j);
	fail(req, err, cause);
	return 1;
}

/* --- CLI ------------------------------------------------------------------------------ */

static void
import_usage(FILE *f)
{
	fprintf(f, "usage: liandong import jurisdictions FILE.geojson [--crs gcj02|wgs84|cgcs2000]\n"
		   "       liandong import places FILE.csv|FILE.geojson [--crs gcj02|wgs84|cgcs2000]\n"
		   "options: --data DIR, --config FILE, --set KEY=VALUE (as for serve)\n"
		   "An import replaces what was there, in one transaction: all or nothing.\n");
}

int
srv_gis_import_cmd(int argc, char **argv, struct srv_config *cfg)
{
	if (argc < 1 || strcmp(argv[0], "--help") == 0 || strcmp(argv[0], "-h") == 0) {
		import_usage(argc < 1 ? stderr : stdout);
		return argc < 1 ? 2 : 0;
	}
	const char *what = argv[0], *file = NULL, *crs_name = "wgs84";
	if (strcmp(what, "jurisdictions") != 0 && strcmp(what, "places") != 0) {
		fprintf(stderr, "liandong import: unknown kind '%s'\n", what);
		import_usage(stderr);
		return 2;
	}
	char *cause = NULL;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		int rc = 0;
		if (a[0] != '-' && file == NULL) {
			file = a;
			continue;
		}
		if (v == NULL) {
			fprintf(stderr, "liandong import: %s needs a value\n", a);
			return 2;
		}
		if (strcmp(a, "--crs") == 0) {
			crs_name = v;
		} else if (strcmp(a, "--data") == 0) {
			char *s = xasprintf("data.dir=%s", v);
			rc = srv_config_set(cfg, s, &cause);
			free(s);
		} else if (strcmp(a, "--config") == 0) {
			rc = srv_config_load(cfg, v, &cause);
		} else if (strcmp(a, "--set") == 0) {
			rc = srv_config_set(cfg, v, &cause);
		} else {
			fprintf(stderr, "liandong import: unknown option '%s'\n", a);
			import_usage(stderr);
			return 2;
		}
		if (rc) {
			fprintf(stderr, "liandong import: configuration: %s\n", cause);
			free(cause);
			return 2;
		}
		i++;
	}
	if (file == NULL) {
		import_usage(stderr);
		return 2;
	}
	int crs = gis_crs_parse(crs_name);
	if (crs != GIS_CRS_WGS84 && crs != GIS_CRS_CGCS2000 && crs != GIS_CRS_GCJ02) {
		fprintf(stderr, "liandong import: unknown CRS '%s' (use gcj02, wgs84 or cgcs2000)\n",
		    crs_name);
		return 2;
	}
	char *text = NULL;
	size_t len = 0;
	if (gis_read_file(file, &text, &len, &cause) != 0) {
		fprintf(stderr, "liandong import: %s\n", cause);
		free(cause);
		return 1;
	}
	mkdir(cfg->data_dir, 0750);
	char *path = xasprintf("%s/liandong.db", cfg->data_dir);
	sqlite3 *db = NULL;
	int rc = 1, n = 0;
	if (sqlite3_open(path, &db) != SQLITE_OK || db_schema_migrate(db, &cause) != 0) {
		fprintf(stderr, "liandong import: %s: %s\n", path, cause ? cause : sqlite3_errmsg(db));
	} else {
		int r;
		if (strcmp(what, "jurisdictions") == 0) {
			r = gis_juris_import(db, text, len, crs, &n, &cause);
		} else {
			size_t fl = strlen(file);
			int csv = fl >= 4 && strcasecmp(file + fl - 4, ".csv") == 0;
			r = gis_gazetteer_import(db, text, len, csv, crs, &n, &cause);
		}
		if (r == 0) {
			printf("imported %d %s from %s (%s) into %s\n", n, what, file, gis_crs_name(crs),
			    path);
			rc = 0;
		} else {
			fprintf(stderr, "liandong import: %s: %s; nothing was imported\n", file,
			    cause ? cause : "refused");
		}
	}
	sqlite3_close(db);
	free(cause);
	free(text);
	free(path);
	gis_crs_thread_cleanup();
	return rc;
}
