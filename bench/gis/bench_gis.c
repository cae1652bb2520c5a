/*
 * bench_gis.c - point-to-district lookups and k-nearest-unit queries per
 * second, each beside a plain SQLite R*Tree query and a full scan, measured
 * in the same run on the same inputs (see README.md).
 *
 * Districts: the GeoJSON file is imported with the project's own
 * gis_juris_import() into a fresh SQLite file (db_schema_migrate'd, in a
 * temporary folder removed at exit). Then, over the same N random points in
 * the districts' bounding box, single thread:
 *   (a) gis_district_of()          R*Tree prefilter + exact test of the WKB
 *   (b) R*Tree bbox query alone    prepared once, no exact test (lower bound)
 *   (b') the same, prepared per call (what gis_district_of() pays for SQL)
 *   (c) full scan                  gis_wkb_contains() on every district in turn
 * Every (a) answer is checked against (c): the same district, or one that
 * also holds the point, and "none" exactly when (c) finds none.
 *
 * Nearest units: U units at random positions in the same box, K kinds, some
 * unavailable. Q queries (k nearest available of a random kind, or of any),
 * each preceded by one position/availability update from a fixed stream:
 *   (d) gis_near                   grid index, gis_near_set + gis_near_knn
 *   (e) SQLite R*Tree              in-memory rtree(+kind, +avail): UPDATE, then
 *                                  a growing box until k hits, then the box
 *                                  around the k-th distance (exact answer)
 *   (f) brute force                array write, scan of every unit
 * All three apply the same updates in the same order, so query i sees the
 * same state in each; every answer of (d) and (e) is compared with (f)
 * (same distances, ids equal unless tied). Any mismatch exits 1.
 *
 * usage: bench_gis FILE.geojson [--crs gcj02|wgs84|cgcs2000] [--points N]
 *          [--units U] [--queries Q] [--k K] [--kinds KINDS] [--seed S] [--tmp DIR]
 */
#include "db_store.h"
#include "gis_crs.h"
#include "gis_geod.h"
#include "gis_geojson.h"
#include "gis_juris.h"
#include "gis_near.h"

#include <math.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define KMAX 64

static struct {
	const char *file, *tmp;
	int crs, points, units, queries, k, kinds;
	uint64_t seed;
} opt = { NULL, NULL, GIS_CRS_GCJ02, 20000, 10000, 20000, 5, 5, 42 };

static int mismatches;
static double g_box[4]; /* the districts' box: minx, maxx, miny, maxy */

static void
die(const char *fmt, const char *a, const char *b)
{
	fprintf(stderr, "bench_gis: ");
	fprintf(stderr, fmt, a, b ? b : "");
	fprintf(stderr, "\n");
	exit(2);
}

static void
mismatch(const char *what, long i, const char *detail)
{
	if (mismatches++ < 10)
		fprintf(stderr, "bench_gis: MISMATCH %s at query %ld: %s\n", what, i, detail);
}

/* --- random numbers and time -------------------------------------------------------- */

static uint64_t rng_state;

static uint64_t
rng(void)
{
	/* splitmix64: fixed by the seed, so every method sees the same inputs. */
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static double
urand(double lo, double hi)
{
	return lo + (hi - lo) * (double)(rng() >> 11) * 0x1.0p-53;
}

static double
now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* --- the report table ---------------------------------------------------------------- */

struct row {
	const char *name, *what;
	double secs;
	long n;
};

static void
print_row(const struct row *r, const struct row *base)
{
	double qps = (double)r->n / r->secs, us = r->secs * 1e6 / (double)r->n;
	char ratio[32] = "";
	if (base != NULL && base != r)
		snprintf(ratio, sizeof ratio, "%.2fx", us / (base->secs * 1e6 / (double)base->n));
	else if (base == r)
		snprintf(ratio, sizeof ratio, "1 (ref)");
	printf("  %-34s %12.0f %10.2f   %-9s %s\n", r->name, qps, us, ratio, r->what);
}

static void
print_head(const char *title)
{
	printf("\n%s\n  %-34s %12s %10s   %-9s %s\n", title, "method", "queries/s", "us/query",
	    "time/ref", "notes");
}

/* --- districts ------------------------------------------------------------------------ */

struct district {
	int64_t id;
	char code[64];
	unsigned char *wkb;
	size_t len;
};

static int
exec(sqlite3 *db, const char *sql)
{
	char *err = NULL;
	if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK) {
		fprintf(stderr, "bench_gis: %s: %s\n", sql, err ? err : sqlite3_errmsg(db));
		sqlite3_free(err);
		return -1;
	}
	return 0;
}

static sqlite3_stmt *
prep(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		die("prepare: %s (%s)", sqlite3_errmsg(db), sql);
	return st;
}

static const char *RT_SQL = "SELECT id FROM jurisdictions_rtree WHERE minx <= ?1 AND maxx >= ?1 "
			    "AND miny <= ?2 AND maxy >= ?2";

static void
bench_districts(sqlite3 *db)
{
	/* The districts as stored (WKB, WGS84), for the full scan and the checks. */
	sqlite3_stmt *st = prep(db, "SELECT id, code, geometry FROM jurisdictions ORDER BY id");
	struct district *d = NULL;
	size_t nd = 0;
	while (sqlite3_step(st) == SQLITE_ROW) {
		d = realloc(d, (nd + 1) * sizeof *d);
		if (d == NULL)
			abort();
		d[nd].id = sqlite3_column_int64(st, 0);
		snprintf(d[nd].code, sizeof d[nd].code, "%s", (const char *)sqlite3_column_text(st, 1));
		d[nd].len = (size_t)sqlite3_column_bytes(st, 2);
		d[nd].wkb = malloc(d[nd].len);
		if (d[nd].wkb == NULL)
			abort();
		memcpy(d[nd].wkb, sqlite3_column_blob(st, 2), d[nd].len);
		nd++;
	}
	sqlite3_finalize(st);
	st = prep(db, "SELECT min(minx), max(maxx), min(miny), max(maxy), "
		      "(SELECT sum(length(geometry)) FROM jurisdictions) FROM jurisdictions_rtree");
	if (sqlite3_step(st) != SQLITE_ROW || nd == 0)
		die("no districts were imported%s%s", "", NULL);
	double x0 = sqlite3_column_double(st, 0), x1 = sqlite3_column_double(st, 1);
	double y0 = sqlite3_column_double(st, 2), y1 = sqlite3_column_double(st, 3);
	long wkb_bytes = (long)sqlite3_column_int64(st, 4);
	sqlite3_finalize(st);

	long n = opt.points;
	double *pt = malloc((size_t)n * 2 * sizeof *pt);
	int *ans_a = malloc((size_t)n * sizeof *ans_a), *ans_c = malloc((size_t)n * sizeof *ans_c);
	int *cand = malloc((size_t)n * sizeof *cand);
	if (pt == NULL || ans_a == NULL || ans_c == NULL || cand == NULL)
		abort();
	for (long i = 0; i < n; i++) {
		pt[2 * i] = urand(x0, x1);
		pt[2 * i + 1] = urand(y0, y1);
	}
	struct row r[4] = {
		{ "(a) gis_district_of", "R*Tree prefilter + exact WKB test (prepares per call)", 0, n },
		{ "(b) R*Tree bbox query alone", "prepared once, reset per query; no exact test", 0, n },
		{ "(b') R*Tree bbox query, prepared", "prepare + step + finalize per query", 0, n },
		{ "(c) full scan, exact", "gis_wkb_contains on every district, no index", 0, n },
	};
	char code[64];
	double t;

	/* (a) */
	for (long i = 0; i < 200 && i < n; i++) /* warm the page cache */
		gis_district_of(db, pt[2 * i], pt[2 * i + 1], code, sizeof code, NULL, 0);
	t = now_s();
	for (long i = 0; i < n; i++) {
		int rc = gis_district_of(db, pt[2 * i], pt[2 * i + 1], code, sizeof code, NULL, 0);
		if (rc < 0)
			die("gis_district_of: %s%s", sqlite3_errmsg(db), NULL);
		ans_a[i] = -1;
		if (rc == 0)
			for (size_t k = 0; k < nd; k++)
				if (strcmp(d[k].code, code) == 0)
					ans_a[i] = (int)k;
	}
	r[0].secs = now_s() - t;

	/* (b) */
	st = prep(db, RT_SQL);
	t = now_s();
	for (long i = 0; i < n; i++) {
		sqlite3_bind_double(st, 1, pt[2 * i]);
		sqlite3_bind_double(st, 2, pt[2 * i + 1]);
		int c = 0;
		while (sqlite3_step(st) == SQLITE_ROW)
			c++;
		sqlite3_reset(st);
		cand[i] = c;
	}
	r[1].secs = now_s() - t;
	sqlite3_finalize(st);

	/* (b') */
	t = now_s();
	for (long i = 0; i < n; i++) {
		st = prep(db, RT_SQL);
		sqlite3_bind_double(st, 1, pt[2 * i]);
		sqlite3_bind_double(st, 2, pt[2 * i + 1]);
		int c = 0;
		while (sqlite3_step(st) == SQLITE_ROW)
			c++;
		sqlite3_finalize(st);
		if (c != cand[i])
			mismatch("(b') vs (b) candidates", i, "different counts");
	}
	r[2].secs = now_s() - t;

	/* (c) */
	t = now_s();
	for (long i = 0; i < n; i++) {
		ans_c[i] = -1;
		for (size_t k = 0; k < nd; k++)
			if (gis_wkb_contains(d[k].wkb, d[k].len, pt[2 * i], pt[2 * i + 1]) == 1) {
				ans_c[i] = (int)k;
				break;
			}
	}
	r[3].secs = now_s() - t;

	/* Checks: (a) agrees with (c); a district found means (b) had a candidate. */
	long inside = 0, overlap = 0, cands = 0;
	for (long i = 0; i < n; i++) {
		char why[320];
		cands += cand[i];
		inside += ans_c[i] >= 0;
		if (ans_a[i] == ans_c[i])
			;
		else if (ans_a[i] < 0 || ans_c[i] < 0) {
			snprintf(why, sizeof why, "(%.8f, %.8f): gis_district_of says %s, full scan %s",
			    pt[2 * i], pt[2 * i + 1], ans_a[i] < 0 ? "none" : d[ans_a[i]].code,
			    ans_c[i] < 0 ? "none" : d[ans_c[i]].code);
			mismatch("(a) vs (c)", i, why);
		} else if (gis_wkb_contains(d[ans_a[i]].wkb, d[ans_a[i]].len, pt[2 * i],
			       pt[2 * i + 1]) == 1) {
			overlap++; /* in two districts (the outlines overlap): both answers hold */
		} else {
			snprintf(why, sizeof why, "(%.8f, %.8f): %s does not hold it", pt[2 * i],
			    pt[2 * i + 1], d[ans_a[i]].code);
			mismatch("(a) vs (c)", i, why);
		}
		if (ans_c[i] >= 0 && cand[i] == 0)
			mismatch("(b) vs (c)", i, "no R*Tree candidate for a point inside a district");
	}
	print_head("point -> district");
	printf("  %zu districts (%ld KiB of WKB), box %.4f..%.4f E, %.4f..%.4f N; "
	       "%ld random points, %.1f%% inside a district, %.2f R*Tree candidates/point, "
	       "%ld in two districts\n", nd, wkb_bytes / 1024, x0, x1, y0, y1, n,
	    100.0 * (double)inside / (double)n, (double)cands / (double)n, overlap);
	for (int i = 0; i < 4; i++)
		print_row(&r[i], &r[0]);
	printf("  check: every (a) answer equals the full scan's (%s)\n",
	    mismatches ? "FAILED" : "ok");
	for (size_t k = 0; k < nd; k++)
		free(d[k].wkb);
	free(d);
	free(pt);
	free(ans_a);
	free(ans_c);
	free(cand);
	g_box[0] = x0, g_box[1] = x1, g_box[2] = y0, g_box[3] = y1;
}

/* --- nearest units ------------------------------------------------------------------- */

struct unit {
	double lon, lat;
	int kind, avail;
};

/* One step of the workload: update unit id, then query. */
struct step {
	int64_t id;
	double ulon, ulat;
	int uavail;
	double qlon, qlat;
	int qkind;
};

/* A method's answers: k per query (id, metres) and how many it found. */
struct answers {
	int64_t *id;
	double *dist;
	int *n;
};

static void
answers_alloc(struct answers *a, long q, int k)
{
	a->id = calloc((size_t)q * (size_t)k, sizeof *a->id);
	a->dist = calloc((size_t)q * (size_t)k, sizeof *a->dist);
	a->n = calloc((size_t)q, sizeof *a->n);
	if (a->id == NULL || a->dist == NULL || a->n == NULL)
		abort();
}

static void
answers_free(struct answers *a)
{
	free(a->id);
	free(a->dist);
	free(a->n);
}

/* Keep the k nearest in h[0..*n), nearest first. */
static void
offer(int64_t *hid, double *hd, int *n, int k, int64_t id, double d)
{
	if (*n == k && d >= hd[k - 1])
		return;
	int i = *n < k ? (*n)++ : k - 1;
	while (i > 0 && hd[i - 1] > d) {
		hd[i] = hd[i - 1];
		hid[i] = hid[i - 1];
		i--;
	}
	hd[i] = d;
	hid[i] = id;
}

static double
bench_near(const struct unit *u0, const struct step *sq, long q, struct answers *out)
{
	int k = opt.k;
	struct gis_near *nr = gis_near_new(0);
	for (int i = 0; i < opt.units; i++)
		gis_near_set(nr, i + 1, u0[i].kind, u0[i].lon, u0[i].lat, u0[i].avail);
	struct gis_near_hit h[KMAX];
	double t = now_s();
	for (long i = 0; i < q; i++) {
		const struct step *s = &sq[i];
		const struct unit *w = &u0[s->id - 1];
		if (gis_near_set(nr, s->id, w->kind, s->ulon, s->ulat, s->uavail) != 0)
			die("gis_near_set refused an update%s%s", "", NULL);
		int n = gis_near_knn(nr, s->qlon, s->qlat, s->qkind, k, h);
		out->n[i] = n;
		for (int j = 0; j < n; j++) {
			out->id[i * k + j] = h[j].id;
			out->dist[i * k + j] = h[j].dist_m;
		}
	}
	t = now_s() - t;
	gis_near_free(nr);
	return t;
}

/* Updates alone, for the sub-table. */
static double
bench_near_updates(const struct unit *u0, const struct step *sq, long q)
{
	struct gis_near *nr = gis_near_new(0);
	for (int i = 0; i < opt.units; i++)
		gis_near_set(nr, i + 1, u0[i].kind, u0[i].lon, u0[i].lat, u0[i].avail);
	double t = now_s();
	for (long i = 0; i < q; i++)
		gis_near_set(nr, sq[i].id, u0[sq[i].id - 1].kind, sq[i].ulon, sq[i].ulat, sq[i].uavail);
	t = now_s() - t;
	gis_near_free(nr);
	return t;
}

/*
 * The plain SQLite way: an in-memory R*Tree of degenerate boxes with the
 * kind, availability and exact position as auxiliary columns. A query grows
 * a square around the point until it holds k matching units, then asks once
 * more for the square around the circle through the k-th of them, which
 * makes the answer exact.
 */
struct rt {
	sqlite3 *db;
	sqlite3_stmt *upd, *sel;
};

static void
rt_open(struct rt *r, const struct unit *u0)
{
	if (sqlite3_open(":memory:", &r->db) != SQLITE_OK)
		die("cannot open an in-memory database%s%s", "", NULL);
	if (exec(r->db, "CREATE VIRTUAL TABLE units USING rtree(id, minx, maxx, miny, maxy, "
			"+kind, +avail, +lon, +lat); BEGIN"))
		exit(2);
	sqlite3_stmt *ins = prep(r->db, "INSERT INTO units VALUES (?1, ?2, ?2, ?3, ?3, ?4, ?5, ?2, ?3)");
	for (int i = 0; i < opt.units; i++) {
		sqlite3_bind_int64(ins, 1, i + 1);
		sqlite3_bind_double(ins, 2, u0[i].lon);
		sqlite3_bind_double(ins, 3, u0[i].lat);
		sqlite3_bind_int(ins, 4, u0[i].kind);
		sqlite3_bind_int(ins, 5, u0[i].avail);
		if (sqlite3_step(ins) != SQLITE_DONE)
			die("rtree insert: %s%s", sqlite3_errmsg(r->db), NULL);
		sqlite3_reset(ins);
	}
	sqlite3_finalize(ins);
	if (exec(r->db, "COMMIT"))
		exit(2);
	r->upd = prep(r->db, "UPDATE units SET minx = ?2, maxx = ?2, miny = ?3, maxy = ?3, "
			     "avail = ?4, lon = ?2, lat = ?3 WHERE id = ?1");
	r->sel = prep(r->db, "SELECT id, lon, lat FROM units WHERE minx <= ?2 AND maxx >= ?1 AND "
			     "miny <= ?4 AND maxy >= ?3 AND avail = 1 AND (?5 < 0 OR kind = ?5)");
}

static void
rt_close(struct rt *r)
{
	sqlite3_finalize(r->upd);
	sqlite3_finalize(r->sel);
	sqlite3_close(r->db);
}

static void
rt_update(struct rt *r, const struct step *s)
{
	sqlite3_bind_int64(r->upd, 1, s->id);
	sqlite3_bind_double(r->upd, 2, s->ulon);
	sqlite3_bind_double(r->upd, 3, s->ulat);
	sqlite3_bind_int(r->upd, 4, s->uavail);
	if (sqlite3_step(r->upd) != SQLITE_DONE)
		die("rtree update: %s%s", sqlite3_errmsg(r->db), NULL);
	sqlite3_reset(r->upd);
}

/* Matching units in the box; the k nearest go to hid/hd. Returns how many matched. */
static int
rt_box(struct rt *r, double lon, double lat, int kind, double bx0, double bx1, double by0,
    double by1, int64_t *hid, double *hd, int *n)
{
	int k = opt.k, c = 0;
	*n = 0;
	sqlite3_bind_double(r->sel, 1, bx0);
	sqlite3_bind_double(r->sel, 2, bx1);
	sqlite3_bind_double(r->sel, 3, by0);
	sqlite3_bind_double(r->sel, 4, by1);
	sqlite3_bind_int(r->sel, 5, kind);
	while (sqlite3_step(r->sel) == SQLITE_ROW) {
		c++;
		offer(hid, hd, n, k, sqlite3_column_int64(r->sel, 0),
		    gis_haversine(lon, lat, sqlite3_column_double(r->sel, 1),
			sqlite3_column_double(r->sel, 2)));
	}
	sqlite3_reset(r->sel);
	return c;
}

static void
rt_knn(struct rt *r, double lon, double lat, int kind, int64_t *hid, double *hd, int *n)
{
	const double d2r = M_PI / 180;
	int k = opt.k;
	double h = 0.02; /* half side, degrees: about one gis_near cell */
	for (;;) {
		int c = rt_box(r, lon, lat, kind, lon - h, lon + h, lat - h, lat + h, hid, hd, n);
		int all = lon - h <= g_box[0] && lon + h >= g_box[1] && lat - h <= g_box[2] &&
		    lat + h >= g_box[3];
		if (c >= k || all)
			break;
		h *= 2;
	}
	if (*n < k)
		return; /* the box already covers every unit */
	/* Every unit within hd[k-1] metres lies in this box; query it unless it is inside the last. */
	double dlat = hd[k - 1] / GIS_EARTH_R / d2r * 1.000001;
	double band = fmin(89.0, fabs(lat) + dlat);
	double dlon = dlat / cos(band * d2r);
	if (dlat <= h && dlon <= h)
		return;
	rt_box(r, lon, lat, kind, lon - dlon, lon + dlon, lat - dlat, lat + dlat, hid, hd, n);
}

static double
bench_rtree(const struct unit *u0, const struct step *sq, long q, struct answers *out,
    double *upd_secs)
{
	int k = opt.k;
	struct rt r;
	rt_open(&r, u0);
	double t = now_s();
	for (long i = 0; i < q; i++) {
		rt_update(&r, &sq[i]);
		rt_knn(&r, sq[i].qlon, sq[i].qlat, sq[i].qkind, out->id + i * k, out->dist + i * k,
		    &out->n[i]);
	}
	t = now_s() - t;
	rt_close(&r);
	/* Updates alone, on a fresh copy. */
	rt_open(&r, u0);
	*upd_secs = now_s();
	for (long i = 0; i < q; i++)
		rt_update(&r, &sq[i]);
	*upd_secs = now_s() - *upd_secs;
	rt_close(&r);
	return t;
}

static double
bench_brute(const struct unit *u0, const struct step *sq, long q, struct answers *out)
{
	int k = opt.k, nu = opt.units;
	struct unit *u = malloc((size_t)nu * sizeof *u);
	if (u == NULL)
		abort();
	memcpy(u, u0, (size_t)nu * sizeof *u);
	double t = now_s();
	for (long i = 0; i < q; i++) {
		const struct step *s = &sq[i];
		u[s->id - 1].lon = s->ulon;
		u[s->id - 1].lat = s->ulat;
		u[s->id - 1].avail = s->uavail;
		int64_t *hid = out->id + i * k;
		double *hd = out->dist + i * k;
		int n = 0;
		for (int j = 0; j < nu; j++) {
			if (!u[j].avail || (s->qkind >= 0 && u[j].kind != s->qkind))
				continue;
			offer(hid, hd, &n, k, j + 1, gis_haversine(s->qlon, s->qlat, u[j].lon, u[j].lat));
		}
		out->n[i] = n;
	}
	t = now_s() - t;
	free(u);
	return t;
}

/* Same count, same distances (to a micrometre), same ids unless two distances tie. */
static long
compare(const char *what, const struct answers *a, const struct answers *ref, long q)
{
	int k = opt.k;
	long bad = 0;
	for (long i = 0; i < q; i++) {
		char why[200];
		if (a->n[i] != ref->n[i]) {
			snprintf(why, sizeof why, "%d hits, brute force %d", a->n[i], ref->n[i]);
			mismatch(what, i, why);
			bad++;
			continue;
		}
		for (int j = 0; j < a->n[i]; j++) {
			double da = a->dist[i * k + j], dr = ref->dist[i * k + j];
			if (fabs(da - dr) > 1e-6) {
				snprintf(why, sizeof why, "hit %d: %.6f m (unit %lld), brute force %.6f m "
							  "(unit %lld)", j, da, (long long)a->id[i * k + j], dr,
				    (long long)ref->id[i * k + j]);
				mismatch(what, i, why);
				bad++;
				break;
			}
		}
	}
	return bad;
}

static void
bench_knn(void)
{
	long q = opt.queries;
	int nu = opt.units;
	struct unit *u0 = malloc((size_t)nu * sizeof *u0), *cur = malloc((size_t)nu * sizeof *cur);
	struct step *sq = malloc((size_t)q * sizeof *sq);
	if (u0 == NULL || cur == NULL || sq == NULL)
		abort();
	int unavail = 0;
	for (int i = 0; i < nu; i++) {
		u0[i].lon = urand(g_box[0], g_box[1]);
		u0[i].lat = urand(g_box[2], g_box[3]);
		u0[i].kind = (int)(rng() % (uint64_t)opt.kinds);
		u0[i].avail = rng() % 5 != 0; /* one in five busy */
		unavail += !u0[i].avail;
	}
	memcpy(cur, u0, (size_t)nu * sizeof *cur);
	/* The update stream moves a random unit up to ~1 km; one update in ten flips availability. */
	for (long i = 0; i < q; i++) {
		struct step *s = &sq[i];
		int64_t id = (int64_t)(rng() % (uint64_t)nu) + 1;
		struct unit *w = &cur[id - 1];
		w->lon = fmin(g_box[1], fmax(g_box[0], w->lon + urand(-0.01, 0.01)));
		w->lat = fmin(g_box[3], fmax(g_box[2], w->lat + urand(-0.01, 0.01)));
		if (rng() % 10 == 0)
			w->avail = !w->avail;
		s->id = id;
		s->ulon = w->lon;
		s->ulat = w->lat;
		s->uavail = w->avail;
		s->qlon = urand(g_box[0], g_box[1]);
		s->qlat = urand(g_box[2], g_box[3]);
		int kk = (int)(rng() % (uint64_t)(opt.kinds + 1));
		s->qkind = kk == opt.kinds ? GIS_NEAR_KIND_ANY : kk;
	}
	struct answers ad, ae, af;
	answers_alloc(&ad, q, opt.k);
	answers_alloc(&ae, q, opt.k);
	answers_alloc(&af, q, opt.k);
	double rt_upd = 0;
	struct row r[3] = {
		{ "(d) gis_near", "gis_near_set + gis_near_knn (grid, in memory)", 0, q },
		{ "(e) SQLite R*Tree, nearest box", "in-memory rtree: UPDATE + growing box query(s)", 0, q },
		{ "(f) brute force", "array write + haversine over every matching unit", 0, q },
	};
	r[0].secs = bench_near(u0, sq, q, &ad);
	r[1].secs = bench_rtree(u0, sq, q, &ae, &rt_upd);
	r[2].secs = bench_brute(u0, sq, q, &af);
	struct row ru[2] = {
		{ "(d) gis_near_set alone", "position/availability update", bench_near_updates(u0, sq, q), q },
		{ "(e) R*Tree UPDATE alone", "same updates, prepared statement", rt_upd, q },
	};
	long bad_d = compare("(d) gis_near vs brute force", &ad, &af, q);
	long bad_e = compare("(e) R*Tree vs brute force", &ae, &af, q);
	long found = 0;
	for (long i = 0; i < q; i++)
		found += af.n[i];
	print_head("k nearest available units (each query preceded by one position update)");
	printf("  %d units (%d kinds, %d unavailable at start) in the same box; %ld queries, "
	       "k=%d, kind random or any (1 in %d); %.2f hits/query\n", nu, opt.kinds, unavail, q,
	    opt.k, opt.kinds + 1, (double)found / (double)q);
	for (int i = 0; i < 3; i++)
		print_row(&r[i], &r[0]);
	printf("  updates alone:\n");
	for (int i = 0; i < 2; i++)
		print_row(&ru[i], &ru[0]);
	printf("  check: every answer of (d) and (e) equals brute force (%ld queries): %s\n", q,
	    bad_d || bad_e ? "FAILED" : "ok");
	answers_free(&ad);
	answers_free(&ae);
	answers_free(&af);
	free(u0);
	free(cur);
	free(sq);
}

/* --- main -------------------------------------------------------------------------- */

static long
num_arg(const char *name, const char *v, long lo, long hi)
{
	char *end;
	long x = v ? strtol(v, &end, 10) : 0;
	if (v == NULL || *end != '\0' || x < lo || x > hi)
		die("%s needs a whole number in range, not '%s'", name, v ? v : "");
	return x;
}

int
main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (a[0] != '-' && opt.file == NULL) {
			opt.file = a;
			continue;
		}
		i++;
		if (strcmp(a, "--crs") == 0) {
			opt.crs = v ? gis_crs_parse(v) : -1;
			if (opt.crs != GIS_CRS_WGS84 && opt.crs != GIS_CRS_GCJ02 &&
			    opt.crs != GIS_CRS_CGCS2000)
				die("--crs: use gcj02, wgs84 or cgcs2000, not '%s'%s", v ? v : "", NULL);
		} else if (strcmp(a, "--points") == 0) {
			opt.points = (int)num_arg(a, v, 1, 100000000);
		} else if (strcmp(a, "--units") == 0) {
			opt.units = (int)num_arg(a, v, 1, 10000000);
		} else if (strcmp(a, "--queries") == 0) {
			opt.queries = (int)num_arg(a, v, 1, 100000000);
		} else if (strcmp(a, "--k") == 0) {
			opt.k = (int)num_arg(a, v, 1, KMAX);
		} else if (strcmp(a, "--kinds") == 0) {
			opt.kinds = (int)num_arg(a, v, 1, GIS_NEAR_KINDS);
		} else if (strcmp(a, "--seed") == 0) {
			opt.seed = (uint64_t)num_arg(a, v, 0, 0x7fffffffL);
		} else if (strcmp(a, "--tmp") == 0 && v != NULL) {
			opt.tmp = v;
		} else {
			die("unknown option '%s'%s (usage: bench_gis FILE.geojson [--crs C] [--points N] "
			    "[--units U] [--queries Q] [--k K] [--kinds N] [--seed S] [--tmp DIR])", a, NULL);
		}
	}
	if (opt.file == NULL)
		die("usage: bench_gis FILE.geojson [--crs gcj02|wgs84|cgcs2000] [--points N] "
		    "[--units U] [--queries Q] [--k K] [--kinds N] [--seed S] [--tmp DIR]%s%s", "", NULL);
	rng_state = opt.seed;

	/* A fresh database, migrated as the server would, and the project's own import. */
	char dir[4096];
	const char *tmp = opt.tmp ? opt.tmp : getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	snprintf(dir, sizeof dir, "%s/bench-gis.XXXXXX", tmp);
	if (mkdtemp(dir) == NULL)
		die("cannot make a folder in %s%s", tmp, NULL);
	char path[4200];
	snprintf(path, sizeof path, "%s/liandong.db", dir);
	char *text = NULL, *cause = NULL;
	size_t len = 0;
	sqlite3 *db = NULL;
	int count = 0, rc = 2;
	double t_imp = 0;
	if (gis_read_file(opt.file, &text, &len, &cause) != 0) {
		fprintf(stderr, "bench_gis: %s\n", cause);
		goto out;
	}
	if (sqlite3_open(path, &db) != SQLITE_OK || db_schema_migrate(db, &cause) != 0) {
		fprintf(stderr, "bench_gis: %s: %s\n", path, cause ? cause : sqlite3_errmsg(db));
		goto out;
	}
	t_imp = now_s();
	if (gis_juris_import(db, text, len, opt.crs, &count, &cause) != 0) {
		fprintf(stderr, "bench_gis: import of %s refused: %s\n", opt.file, cause);
		goto out;
	}
	t_imp = now_s() - t_imp;
	printf("bench/gis  (single thread; seed %llu; SQLite %s)\n", (unsigned long long)opt.seed,
	    sqlite3_libversion());
	printf("  imported %d districts from %s (%s) with gis_juris_import in %.1f ms\n", count,
	    opt.file, gis_crs_name(opt.crs), t_imp * 1e3);
	bench_districts(db);
	bench_knn();
	rc = mismatches ? 1 : 0;
	if (mismatches)
		printf("\nFAILED: %d mismatches (first ones on stderr)\n", mismatches);
out:
	sqlite3_close(db);
	free(text);
	free(cause);
	gis_crs_thread_cleanup();
	unlink(path);
	char side[4300];
	snprintf(side, sizeof side, "%s-journal", path);
	unlink(side);
	snprintf(side, sizeof side, "%s-wal", path);
	unlink(side);
	snprintf(side, sizeof side, "%s-shm", path);
	unlink(side);
	rmdir(dir);
	return rc;
}
