/* gis_poly.c - see gis_poly.h. */
#include "gis_poly.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void *
gmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (p == NULL)
		abort();
	return p;
}

static void *
gcalloc(size_t a, size_t b)
{
	void *p = calloc(a ? a : 1, b ? b : 1);
	if (p == NULL)
		abort();
	return p;
}

void
gis_mpoly_free(struct gis_mpoly *m)
{
	if (m == NULL)
		return;
	for (size_t i = 0; i < m->npolys; i++) {
		for (size_t j = 0; j < m->polys[i].nrings; j++)
			free(m->polys[i].rings[j].xy);
		free(m->polys[i].rings);
	}
	free(m->polys);
	m->polys = NULL;
	m->npolys = 0;
}

void
gis_mpoly_bbox(struct gis_mpoly *m)
{
	m->minx = m->miny = INFINITY;
	m->maxx = m->maxy = -INFINITY;
	for (size_t i = 0; i < m->npolys; i++) {
		if (m->polys[i].nrings == 0)
			continue;
		const struct gis_ring *r = &m->polys[i].rings[0];
		for (size_t k = 0; k < r->n; k++) {
			double x = r->xy[2 * k], y = r->xy[2 * k + 1];
			if (x < m->minx) m->minx = x;
			if (x > m->maxx) m->maxx = x;
			if (y < m->miny) m->miny = y;
			if (y > m->maxy) m->maxy = y;
		}
	}
}

void
gis_ring_dedup(struct gis_ring *r)
{
	if (r->n < 2)
		return;
	size_t w = 1;
	for (size_t i = 1; i < r->n; i++) {
		if (r->xy[2 * i] == r->xy[2 * (w - 1)] && r->xy[2 * i + 1] == r->xy[2 * (w - 1) + 1])
			continue;
		r->xy[2 * w] = r->xy[2 * i];
		r->xy[2 * w + 1] = r->xy[2 * i + 1];
		w++;
	}
	r->n = w;
}

/* --- validation ---------------------------------------------------------------- */

static double
orient(const double *a, const double *b, const double *c)
{
	return (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0]);
}

static int
sgn(double v)
{
	return (v > 0) - (v < 0);
}

/*
 * Do segments ab and cd cross, or overlap along a stretch? A touch at a
 * single point (a vertex lying on another edge) is not counted: quantised
 * real boundaries pinch like that, and it leaves inside and outside
 * unambiguous for the crossing-number test.
 */
static int
seg_meet(const double *a, const double *b, const double *c, const double *d)
{
	int o1 = sgn(orient(a, b, c)), o2 = sgn(orient(a, b, d));
	int o3 = sgn(orient(c, d, a)), o4 = sgn(orient(c, d, b));
	if (o1 * o2 < 0 && o3 * o4 < 0)
		return 1;
	if (o1 == 0 && o2 == 0) {
		/* Collinear: overlapping over more than a point? Project on the longer axis. */
		int ax = fabs(b[0] - a[0]) >= fabs(b[1] - a[1]) ? 0 : 1;
		double lo = fmax(fmin(a[ax], b[ax]), fmin(c[ax], d[ax]));
		double hi = fmin(fmax(a[ax], b[ax]), fmax(c[ax], d[ax]));
		return hi > lo;
	}
	return 0;
}

struct edge {
	double minx, maxx, miny, maxy;
	size_t i;
};

static int
edge_cmp(const void *pa, const void *pb)
{
	const struct edge *a = pa, *b = pb;
	return (a->minx > b->minx) - (a->minx < b->minx);
}

int
gis_ring_validate(const struct gis_ring *r0, char *why, size_t whylen)
{
	if (r0->n < 1) {
		snprintf(why, whylen, "ring is empty");
		return -1;
	}
	const double *f = r0->xy, *l = r0->xy + 2 * (r0->n - 1);
	if (f[0] != l[0] || f[1] != l[1]) {
		snprintf(why, whylen, "ring is not closed (first point %.7g,%.7g, last %.7g,%.7g)",
		    f[0], f[1], l[0], l[1]);
		return -1;
	}
	struct gis_ring r = { gmalloc(r0->n * 2 * sizeof(double)), r0->n };
	memcpy(r.xy, r0->xy, r0->n * 2 * sizeof(double));
	gis_ring_dedup(&r);
	if (r.n < 4) {
		snprintf(why, whylen, "ring has %zu distinct points; a ring needs at least 4 "
				      "(3 corners and the closing point)", r.n);
		free(r.xy);
		return -1;
	}
	size_t ne = r.n - 1;
	const double *p = r.xy;
	/* Adjacent edges share one endpoint; they must not fold back over each other. */
	for (size_t i = 0; i < ne; i++) {
		const double *a = p + 2 * i, *b = p + 2 * ((i + 1) % ne), *c = p + 2 * ((i + 2) % ne);
		if (orient(a, b, c) == 0 &&
		    (b[0] - a[0]) * (c[0] - b[0]) + (b[1] - a[1]) * (c[1] - b[1]) < 0) {
			snprintf(why, whylen, "ring folds back on itself at point %zu (%.7g,%.7g)",
			    (i + 1) % ne, b[0], b[1]);
			free(r.xy);
			return -1;
		}
	}
	struct edge *e = gmalloc(ne * sizeof *e);
	for (size_t i = 0; i < ne; i++) {
		const double *a = p + 2 * i, *b = p + 2 * (i + 1);
		e[i] = (struct edge){ fmin(a[0], b[0]), fmax(a[0], b[0]), fmin(a[1], b[1]),
			fmax(a[1], b[1]), i };
	}
	qsort(e, ne, sizeof *e, edge_cmp);
	int bad = 0;
	for (size_t s = 0; s < ne && !bad; s++) {
		for (size_t t = s + 1; t < ne && e[t].minx <= e[s].maxx; t++) {
			if (e[t].miny > e[s].maxy || e[t].maxy < e[s].miny)
				continue;
			size_t i = e[s].i, j = e[t].i;
			size_t d = i > j ? i - j : j - i;
			if (d == 1 || d == ne - 1)
				continue; /* neighbours: checked above */
			const double *a = p + 2 * i, *b = p + 2 * (i + 1);
			const double *c = p + 2 * j, *dd = p + 2 * (j + 1);
			if (seg_meet(a, b, c, dd)) {
				snprintf(why, whylen, "ring intersects itself: edges %zu and %zu cross near "
						      "%.7g,%.7g", i < j ? i : j, i < j ? j : i, a[0], a[1]);
				bad = 1;
				break;
			}
		}
	}
	free(e);
	free(r.xy);
	return bad ? -1 : 0;
}

/* --- containment ---------------------------------------------------------------- */

int
gis_ring_contains(const double *xy, size_t n, double x, double y)
{
	int in = 0;
	for (size_t i = 0, j = n - 1; i < n; j = i++) {
		double xi = xy[2 * i], yi = xy[2 * i + 1], xj = xy[2 * j], yj = xy[2 * j + 1];
		if ((yi > y) != (yj > y) && x < (xj - xi) * (y - yi) / (yj - yi) + xi)
			in = !in;
	}
	return in;
}

int
gis_mpoly_contains(const struct gis_mpoly *m, double x, double y)
{
	for (size_t i = 0; i < m->npolys; i++) {
		const struct gis_polygon *pg = &m->polys[i];
		if (pg->nrings == 0 || !gis_ring_contains(pg->rings[0].xy, pg->rings[0].n, x, y))
			continue;
		int in_hole = 0;
		for (size_t h = 1; h < pg->nrings && !in_hole; h++)
			in_hole = gis_ring_contains(pg->rings[h].xy, pg->rings[h].n, x, y);
		if (!in_hole)
			return 1;
	}
	return 0;
}

static int
dbl_cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* Widest inside span of polygon pg on the line y; 0 with its middle, or -1. */
static int
span_on_line(const struct gis_polygon *pg, double y, double *mx, double *width)
{
	size_t cap = 0;
	for (size_t h = 0; h < pg->nrings; h++)
		cap += pg->rings[h].n;
	double *xs = gmalloc(cap * sizeof *xs);
	size_t nx = 0;
	for (size_t h = 0; h < pg->nrings; h++) {
		const double *xy = pg->rings[h].xy;
		size_t n = pg->rings[h].n;
		for (size_t i = 0, j = n - 1; i < n; j = i++) {
			double xi = xy[2 * i], yi = xy[2 * i + 1], xj = xy[2 * j], yj = xy[2 * j + 1];
			if ((yi > y) != (yj > y))
				xs[nx++] = (xj - xi) * (y - yi) / (yj - yi) + xi;
		}
	}
	qsort(xs, nx, sizeof *xs, dbl_cmp);
	int rc = -1;
	*width = 0;
	for (size_t k = 0; k + 1 < nx; k += 2) {
		if (xs[k + 1] - xs[k] > *width) {
			*width = xs[k + 1] - xs[k];
			*mx = (xs[k] + xs[k + 1]) / 2;
			rc = 0;
		}
	}
	free(xs);
	return rc;
}

int
gis_mpoly_interior_point(const struct gis_mpoly *m, double *x, double *y)
{
	/* The polygon with the largest bbox area stands for the whole. */
	size_t best = 0;
	double barea = -1, bminy = 0, bmaxy = 0;
	for (size_t i = 0; i < m->npolys; i++) {
		const struct gis_ring *r = &m->polys[i].rings[0];
		double x0 = INFINITY, x1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY;
		for (size_t k = 0; k < r->n; k++) {
			x0 = fmin(x0, r->xy[2 * k]);
			x1 = fmax(x1, r->xy[2 * k]);
			y0 = fmin(y0, r->xy[2 * k + 1]);
			y1 = fmax(y1, r->xy[2 * k + 1]);
		}
		if ((x1 - x0) * (y1 - y0) > barea) {
			barea = (x1 - x0) * (y1 - y0);
			best = i;
			bminy = y0;
			bmaxy = y1;
		}
	}
	if (barea < 0)
		return -1;
	/* Try the middle line first, then lines spread over the height; keep the widest span. */
	double bw = 0, bx = 0, by = 0;
	static const double fr[] = { 0.5, 0.4, 0.6, 0.3, 0.7, 0.2, 0.8, 0.45, 0.55, 0.35, 0.65 };
	for (size_t k = 0; k < sizeof fr / sizeof fr[0]; k++) {
		double yy = bminy + (bmaxy - bminy) * fr[k], mx, w;
		if (span_on_line(&m->polys[best], yy, &mx, &w) == 0 && w > bw * 1.5) {
			bw = w;
			bx = mx;
			by = yy;
		}
	}
	if (bw <= 0)
		return -1;
	*x = bx;
	*y = by;
	return 0;
}

/* --- simplification -------------------------------------------------------------- */

static double
seg_dist2(const double *p, const double *a, const double *b)
{
	double dx = b[0] - a[0], dy = b[1] - a[1];
	double len2 = dx * dx + dy * dy, t = 0;
	if (len2 > 0) {
		t = ((p[0] - a[0]) * dx + (p[1] - a[1]) * dy) / len2;
		t = t < 0 ? 0 : t > 1 ? 1 : t;
	}
	double ex = a[0] + t * dx - p[0], ey = a[1] + t * dy - p[1];
	return ex * ex + ey * ey;
}

static void
simplify_ring(const struct gis_ring *in, double tol, struct gis_ring *out)
{
	size_t n = in->n;
	unsigned char *keep = gcalloc(n, 1);
	size_t *stack = gmalloc(2 * n * sizeof *stack);
	size_t sp = 0;
	/* A closed ring: split at the point farthest from the first, then simplify both halves. */
	size_t far = 0;
	double fd = -1;
	for (size_t i = 1; i + 1 < n; i++) {
		double dx = in->xy[2 * i] - in->xy[0], dy = in->xy[2 * i + 1] - in->xy[1];
		if (dx * dx + dy * dy > fd) {
			fd = dx * dx + dy * dy;
			far = i;
		}
	}
	keep[0] = keep[n - 1] = 1;
	if (far > 0) {
		keep[far] = 1;
		stack[sp++] = 0;
		stack[sp++] = far;
		stack[sp++] = far;
		stack[sp++] = n - 1;
	}
	double tol2 = tol * tol;
	while (sp) {
		size_t b = stack[--sp], a = stack[--sp];
		double md = -1;
		size_t mi = 0;
		for (size_t i = a + 1; i < b; i++) {
			double d = seg_dist2(in->xy + 2 * i, in->xy + 2 * a, in->xy + 2 * b);
			if (d > md) {
				md = d;
				mi = i;
			}
		}
		if (md > tol2) {
			keep[mi] = 1;
			stack[sp++] = a;
			stack[sp++] = mi;
			stack[sp++] = mi;
			stack[sp++] = b;
		}
	}
	size_t nk = 0;
	for (size_t i = 0; i < n; i++)
		nk += keep[i];
	if (nk < 4) {
		memset(keep, 1, n);
		nk = n;
	}
	out->xy = gmalloc(nk * 2 * sizeof(double));
	out->n = 0;
	for (size_t i = 0; i < n; i++)
		if (keep[i]) {
			out->xy[2 * out->n] = in->xy[2 * i];
			out->xy[2 * out->n + 1] = in->xy[2 * i + 1];
			out->n++;
		}
	free(keep);
	free(stack);
}

void
gis_mpoly_simplify(const struct gis_mpoly *m, double tol, struct gis_mpoly *out)
{
	memset(out, 0, sizeof *out);
	out->polys = gcalloc(m->npolys, sizeof *out->polys);
	out->npolys = m->npolys;
	for (size_t i = 0; i < m->npolys; i++) {
		out->polys[i].rings = gcalloc(m->polys[i].nrings, sizeof(struct gis_ring));
		out->polys[i].nrings = m->polys[i].nrings;
		for (size_t j = 0; j < m->polys[i].nrings; j++)
			simplify_ring(&m->polys[i].rings[j], tol, &out->polys[i].rings[j]);
	}
	gis_mpoly_bbox(out);
}

/* --- WKB ------------------------------------------------------------------------- */

struct wbuf {
	unsigned char *p;
	size_t len, cap;
};

static void
wput(struct wbuf *b, const void *src, size_t n)
{
	if (b->len + n > b->cap) {
		b->cap = (b->len + n) * 2;
		b->p = realloc(b->p, b->cap);
		if (b->p == NULL)
			abort();
	}
	memcpy(b->p + b->len, src, n);
	b->len += n;
}

static void
wput_u32(struct wbuf *b, uint32_t v)
{
	unsigned char le[4] = { v & 0xff, (v >> 8) & 0xff, (v >> 16) & 0xff, v >> 24 };
	wput(b, le, 4);
}

static void
wput_dbl(struct wbuf *b, double d)
{
	uint64_t v;
	memcpy(&v, &d, 8);
	unsigned char le[8];
	for (int i = 0; i < 8; i++)
		le[i] = (v >> (8 * i)) & 0xff;
	wput(b, le, 8);
}

void
gis_mpoly_to_wkb(const struct gis_mpoly *m, unsigned char **out, size_t *len)
{
	struct wbuf b = { 0 };
	unsigned char one = 1;
	wput(&b, &one, 1);
	wput_u32(&b, 6);
	wput_u32(&b, (uint32_t)m->npolys);
	for (size_t i = 0; i < m->npolys; i++) {
		wput(&b, &one, 1);
		wput_u32(&b, 3);
		wput_u32(&b, (uint32_t)m->polys[i].nrings);
		for (size_t j = 0; j < m->polys[i].nrings; j++) {
			const struct gis_ring *r = &m->polys[i].rings[j];
			wput_u32(&b, (uint32_t)r->n);
			for (size_t k = 0; k < 2 * r->n; k++)
				wput_dbl(&b, r->xy[k]);
		}
	}
	*out = b.p;
	*len = b.len;
}

struct wrd {
	const unsigned char *p;
	size_t len, off;
	int bad;
};

static uint32_t
rd_u32(struct wrd *r)
{
	if (r->len - r->off < 4) {
		r->bad = 1;
		return 0;
	}
	const unsigned char *q = r->p + r->off;
	r->off += 4;
	return (uint32_t)q[0] | (uint32_t)q[1] << 8 | (uint32_t)q[2] << 16 | (uint32_t)q[3] << 24;
}

static double
rd_dbl_at(const unsigned char *q)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v |= (uint64_t)q[i] << (8 * i);
	double d;
	memcpy(&d, &v, 8);
	return d;
}

static int
rd_header(struct wrd *r, uint32_t type)
{
	if (r->off >= r->len || r->p[r->off] != 1) {
		r->bad = 1;
		return -1;
	}
	r->off++;
	if (rd_u32(r) != type)
		r->bad = 1;
	return r->bad ? -1 : 0;
}

/*
 * Walk a WKB multipolygon. With out set, copy it; otherwise test (x,y) and
 * return 1 as soon as one polygon holds it.
 */
static int
wkb_walk(const unsigned char *wkb, size_t len, struct gis_mpoly *out, double x, double y)
{
	struct wrd r = { wkb, len, 0, 0 };
	if (rd_header(&r, 6))
		return -1;
	uint32_t np = rd_u32(&r);
	if (r.bad || np > len / 9)
		return -1;
	if (out) {
		out->polys = gcalloc(np, sizeof *out->polys);
		out->npolys = np;
	}
	for (uint32_t i = 0; i < np; i++) {
		if (rd_header(&r, 3))
			return -1;
		uint32_t nr = rd_u32(&r);
		if (r.bad || nr > (len - r.off) / 4)
			return -1;
		if (out) {
			out->polys[i].rings = gcalloc(nr, sizeof(struct gis_ring));
			out->polys[i].nrings = nr;
		}
		int in_outer = 0, in_hole = 0;
		for (uint32_t j = 0; j < nr; j++) {
			uint32_t n = rd_u32(&r);
			if (r.bad || n > (len - r.off) / 16)
				return -1;
			const unsigned char *pts = r.p + r.off;
			r.off += (size_t)n * 16;
			if (out) {
				struct gis_ring *rg = &out->polys[i].rings[j];
				rg->xy = gmalloc((size_t)n * 2 * sizeof(double));
				rg->n = n;
				for (size_t k = 0; k < 2 * (size_t)n; k++)
					rg->xy[k] = rd_dbl_at(pts + 8 * k);
				continue;
			}
			if (n == 0 || (j > 0 && !in_outer) || in_hole)
				continue;
			int in = 0;
			for (size_t a = 0, b = n - 1; a < n; b = a++) {
				double xi = rd_dbl_at(pts + 16 * a), yi = rd_dbl_at(pts + 16 * a + 8);
				double xj = rd_dbl_at(pts + 16 * b), yj = rd_dbl_at(pts + 16 * b + 8);
				if ((yi > y) != (yj > y) && x < (xj - xi) * (y - yi) / (yj - yi) + xi)
					in = !in;
			}
			if (j == 0)
				in_outer = in;
			else if (in)
				in_hole = 1;
		}
		if (!out && in_outer && !in_hole)
			return 1;
	}
	if (out)
		gis_mpoly_bbox(out);
	return 0;
}

int
gis_wkb_to_mpoly(const unsigned char *wkb, size_t len, struct gis_mpoly *out)
{
	memset(out, 0, sizeof *out);
	if (wkb_walk(wkb, len, out, 0, 0) < 0) {
		gis_mpoly_free(out);
		return -1;
	}
	return 0;
}

int
gis_wkb_contains(const unsigned char *wkb, size_t len, double x, double y)
{
	return wkb_walk(wkb, len, NULL, x, y);
}
