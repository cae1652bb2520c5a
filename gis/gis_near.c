/* gis_near.c - see gis_near.h. */
#include "gis_near.h"
#include "gis_geod.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define NIL UINT32_MAX

struct ent {
	int64_t id;
	double lon, lat;
	uint32_t prev, next; /* in the cell's list, or the free list (next) */
	uint32_t cell;       /* index into cells */
	int16_t kind;
	uint8_t avail, used;
};

struct cell {
	uint64_t key;
	uint32_t head;
	uint8_t used;
};

struct gis_near {
	double cs;
	struct ent *e;
	uint32_t ne, cap, free_head;
	size_t size;
	/* id -> slot, open addressing (slot+1, 0 = empty), backward-shift deletion */
	uint32_t *ids;
	size_t ids_cap;
	struct cell *cells;
	size_t cells_cap, cells_n;
	int32_t minx, maxx, miny, maxy; /* cells ever occupied */
	size_t avail_by_kind[GIS_NEAR_KINDS], avail_all;
};

static void *
xcalloc_(size_t a, size_t b)
{
	void *p = calloc(a, b);
	if (p == NULL)
		abort();
	return p;
}

static uint64_t
mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

static uint64_t
cell_key(int32_t cx, int32_t cy)
{
	return (uint64_t)(uint32_t)cx << 32 | (uint32_t)cy;
}

struct gis_near *
gis_near_new(double cell_deg)
{
	struct gis_near *n = xcalloc_(1, sizeof *n);
	n->cs = cell_deg > 0 ? cell_deg : 0.02;
	n->free_head = NIL;
	n->ids_cap = 1024;
	n->ids = xcalloc_(n->ids_cap, sizeof *n->ids);
	n->cells_cap = 1024;
	n->cells = xcalloc_(n->cells_cap, sizeof *n->cells);
	n->minx = n->miny = INT32_MAX;
	n->maxx = n->maxy = INT32_MIN;
	return n;
}

void
gis_near_free(struct gis_near *n)
{
	if (n == NULL)
		return;
	free(n->e);
	free(n->ids);
	free(n->cells);
	free(n);
}

size_t
gis_near_size(const struct gis_near *n)
{
	return n->size;
}

/* --- id hash ------------------------------------------------------------------- */

static size_t
id_find(const struct gis_near *n, int64_t id)
{
	size_t m = n->ids_cap - 1, i = mix((uint64_t)id) & m;
	while (n->ids[i] && n->e[n->ids[i] - 1].id != id)
		i = (i + 1) & m;
	return i;
}

static void
id_grow(struct gis_near *n)
{
	uint32_t *old = n->ids;
	size_t oc = n->ids_cap;
	n->ids_cap *= 2;
	n->ids = xcalloc_(n->ids_cap, sizeof *n->ids);
	for (size_t i = 0; i < oc; i++)
		if (old[i])
			n->ids[id_find(n, n->e[old[i] - 1].id)] = old[i];
	free(old);
}

static void
id_delete(struct gis_near *n, size_t i)
{
	size_t m = n->ids_cap - 1;
	n->ids[i] = 0;
	for (size_t j = (i + 1) & m; n->ids[j]; j = (j + 1) & m) {
		size_t home = mix((uint64_t)n->e[n->ids[j] - 1].id) & m;
		/* Move j back to i when its home is not in (i, j]. */
		if (((j - home) & m) >= ((j - i) & m)) {
			n->ids[i] = n->ids[j];
			n->ids[j] = 0;
			i = j;
		}
	}
}

/* --- cells ------------------------------------------------------------------------ */

static size_t
cell_slot(const struct gis_near *n, uint64_t key)
{
	size_t m = n->cells_cap - 1, i = mix(key) & m;
	while (n->cells[i].used && n->cells[i].key != key)
		i = (i + 1) & m;
	return i;
}

static uint32_t
cell_get(struct gis_near *n, int32_t cx, int32_t cy, int create)
{
	uint64_t key = cell_key(cx, cy);
	size_t i = cell_slot(n, key);
	if (n->cells[i].used)
		return (uint32_t)i;
	if (!create)
		return NIL;
	if ((n->cells_n + 1) * 2 > n->cells_cap) {
		/* Rehash; entries keep cell indices, so renumber them. */
		struct cell *old = n->cells;
		size_t oc = n->cells_cap;
		n->cells_cap *= 2;
		n->cells = xcalloc_(n->cells_cap, sizeof *n->cells);
		for (size_t k = 0; k < oc; k++) {
			if (!old[k].used)
				continue;
			size_t s = cell_slot(n, old[k].key);
			n->cells[s] = old[k];
			for (uint32_t e = old[k].head; e != NIL; e = n->e[e].next)
				n->e[e].cell = (uint32_t)s;
		}
		free(old);
		i = cell_slot(n, key);
	}
	n->cells[i] = (struct cell){ key, NIL, 1 };
	n->cells_n++;
	if (cx < n->minx) n->minx = cx;
	if (cx > n->maxx) n->maxx = cx;
	if (cy < n->miny) n->miny = cy;
	if (cy > n->maxy) n->maxy = cy;
	return (uint32_t)i;
}

static void
unlink_ent(struct gis_near *n, uint32_t s)
{
	struct ent *e = &n->e[s];
	if (e->prev != NIL)
		n->e[e->prev].next = e->next;
	else
		n->cells[e->cell].head = e->next;
	if (e->next != NIL)
		n->e[e->next].prev = e->prev;
}

static void
link_ent(struct gis_near *n, uint32_t s, uint32_t c)
{
	struct ent *e = &n->e[s];
	e->cell = c;
	e->prev = NIL;
	e->next = n->cells[c].head;
	if (e->next != NIL)
		n->e[e->next].prev = s;
	n->cells[c].head = s;
}

static void
count_avail(struct gis_near *n, const struct ent *e, int d)
{
	if (!e->avail)
		return;
	n->avail_by_kind[e->kind] += (size_t)d;
	n->avail_all += (size_t)d;
}

int
gis_near_set(struct gis_near *n, int64_t id, int kind, double lon, double lat, int available)
{
	if (kind < 0 || kind >= GIS_NEAR_KINDS || !(lon >= -180 && lon <= 180) ||
	    !(lat >= -90 && lat <= 90))
		return -1;
	int32_t cx = (int32_t)floor(lon / n->cs), cy = (int32_t)floor(lat / n->cs);
	size_t hi = id_find(n, id);
	uint32_t s;
	if (n->ids[hi]) {
		s = n->ids[hi] - 1;
		count_avail(n, &n->e[s], -1);
		unlink_ent(n, s);
	} else {
		if (n->free_head != NIL) {
			s = n->free_head;
			n->free_head = n->e[s].next;
		} else {
			if (n->ne == n->cap) {
				n->cap = n->cap ? n->cap * 2 : 256;
				n->e = realloc(n->e, n->cap * sizeof *n->e);
				if (n->e == NULL)
					abort();
			}
			s = n->ne++;
		}
		n->e[s].id = id;
		n->e[s].used = 1;
		n->ids[hi] = s + 1;
		n->size++;
		if (n->size * 2 > n->ids_cap)
			id_grow(n);
	}
	struct ent *e = &n->e[s];
	e->kind = (int16_t)kind;
	e->lon = lon;
	e->lat = lat;
	e->avail = available != 0;
	count_avail(n, e, +1);
	link_ent(n, s, cell_get(n, cx, cy, 1));
	return 0;
}

int
gis_near_set_available(struct gis_near *n, int64_t id, int available)
{
	size_t hi = id_find(n, id);
	if (!n->ids[hi])
		return -1;
	struct ent *e = &n->e[n->ids[hi] - 1];
	count_avail(n, e, -1);
	e->avail = available != 0;
	count_avail(n, e, +1);
	return 0;
}

int
gis_near_remove(struct gis_near *n, int64_t id)
{
	size_t hi = id_find(n, id);
	if (!n->ids[hi])
		return -1;
	uint32_t s = n->ids[hi] - 1;
	count_avail(n, &n->e[s], -1);
	unlink_ent(n, s);
	id_delete(n, hi);
	n->e[s].used = 0;
	n->e[s].next = n->free_head;
	n->free_head = s;
	n->size--;
	return 0;
}

/* --- queries ---------------------------------------------------------------------- */

struct best {
	struct gis_near_hit *h;
	int k, n;
};

static void
offer(struct best *b, const struct ent *e, double d)
{
	if (b->n == b->k && d >= b->h[b->n - 1].dist_m)
		return;
	int i = b->n < b->k ? b->n++ : b->n - 1;
	while (i > 0 && b->h[i - 1].dist_m > d) {
		b->h[i] = b->h[i - 1];
		i--;
	}
	b->h[i] = (struct gis_near_hit){ e->id, e->kind, e->lon, e->lat, d };
}

static size_t
scan_cell(struct gis_near *n, int32_t cx, int32_t cy, double lon, double lat, int kind,
    struct best *b)
{
	uint32_t c = cell_get(n, cx, cy, 0);
	if (c == NIL)
		return 0;
	size_t seen = 0;
	for (uint32_t s = n->cells[c].head; s != NIL; s = n->e[s].next) {
		const struct ent *e = &n->e[s];
		if (!e->avail || (kind != GIS_NEAR_KIND_ANY && e->kind != kind))
			continue;
		seen++;
		offer(b, e, gis_haversine(lon, lat, e->lon, e->lat));
	}
	return seen;
}

/* A lower bound, in metres, on the distance from (lon, lat) to any point outside the square. */
static double
outside_bound(const struct gis_near *n, double lon, double lat, int32_t cx, int32_t cy, int32_t r)
{
	const double d2r = M_PI / 180;
	double y0 = (double)(cy - r) * n->cs, y1 = (double)(cy + r + 1) * n->cs;
	double x0 = (double)(cx - r) * n->cs, x1 = (double)(cx + r + 1) * n->cs;
	double dlat = fmin(lat - y0, y1 - lat), dlon = fmin(lon - x0, x1 - lon);
	/* Across a parallel: at least the meridian arc. */
	double b_lat = GIS_EARTH_R * dlat * d2r;
	/* Across a meridian (inside the band y0..y1): the smallest cos(latitude) of the band. */
	double band = fmin(90, fmax(fabs(y0), fabs(y1)));
	double h = cos(lat * d2r) * cos(band * d2r) * pow(sin(dlon * d2r / 2), 2);
	double b_lon = 2 * GIS_EARTH_R * asin(fmin(1.0, sqrt(fmax(0, h))));
	return fmin(b_lat, b_lon);
}

int
gis_near_knn(struct gis_near *n, double lon, double lat, int kind, int k, struct gis_near_hit *out)
{
	if (k <= 0 || (kind != GIS_NEAR_KIND_ANY && (kind < 0 || kind >= GIS_NEAR_KINDS)))
		return 0;
	size_t total = kind == GIS_NEAR_KIND_ANY ? n->avail_all : n->avail_by_kind[kind];
	if (total == 0)
		return 0;
	struct best b = { out, k, 0 };
	int32_t cx = (int32_t)floor(lon / n->cs), cy = (int32_t)floor(lat / n->cs);
	size_t seen = 0;
	/* Rings nearer than the occupied area are empty: start at its edge. */
	int32_t r0 = 0;
	if (n->minx - cx > r0) r0 = n->minx - cx;
	if (cx - n->maxx > r0) r0 = cx - n->maxx;
	if (n->miny - cy > r0) r0 = n->miny - cy;
	if (cy - n->maxy > r0) r0 = cy - n->maxy;
	for (int32_t r = r0;; r++) {
		if (r == 0) {
			seen += scan_cell(n, cx, cy, lon, lat, kind, &b);
		} else {
			for (int32_t dx = -r; dx <= r; dx++) {
				seen += scan_cell(n, cx + dx, cy - r, lon, lat, kind, &b);
				seen += scan_cell(n, cx + dx, cy + r, lon, lat, kind, &b);
			}
			for (int32_t dy = -r + 1; dy <= r - 1; dy++) {
				seen += scan_cell(n, cx - r, cy + dy, lon, lat, kind, &b);
				seen += scan_cell(n, cx + r, cy + dy, lon, lat, kind, &b);
			}
		}
		if (seen >= total)
			break;
		if (b.n == k && b.h[k - 1].dist_m <= outside_bound(n, lon, lat, cx, cy, r))
			break;
		/* The square already covers every cell ever occupied. */
		if (cx - r <= n->minx && cx + r >= n->maxx && cy - r <= n->miny && cy + r >= n->maxy)
			break;
	}
	return b.n;
}
