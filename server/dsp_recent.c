/*
 * dsp_recent.c - recent reports by grid cell (see dsp_recent.h).
 */
#include "dsp_recent.h"
#include "srv_util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct cell {
	struct cell *next; /* hash chain */
	int64_t key;
	int head, n, cap;  /* ring: oldest at head, n held, room for cap (grows to per_cell) */
	struct dsp_recent_hit *ring;
};

struct dsp_recent {
	double cell_deg;
	int per_cell;
	struct cell **bucket;
	size_t nbuckets; /* a power of two */
	size_t ncells, size;
};

static int64_t
cell_key(int32_t ix, int32_t iy)
{
	return (int64_t)((uint64_t)(uint32_t)ix << 32 | (uint32_t)iy);
}

static size_t
slot_of(const struct dsp_recent *r, int64_t key)
{
	uint64_t h = (uint64_t)key * 0x9E3779B97F4A7C15u;
	return (size_t)(h >> 32) & (r->nbuckets - 1);
}

static int32_t
index_of(double v, double cell_deg)
{
	return (int32_t)floor(v / cell_deg);
}

struct dsp_recent *
dsp_recent_new(double cell_deg, int per_cell)
{
	struct dsp_recent *r = xcalloc(1, sizeof *r);
	r->cell_deg = cell_deg > 0 ? cell_deg : 0.01;
	r->per_cell = per_cell > 0 ? per_cell : 256;
	r->nbuckets = 256;
	r->bucket = xcalloc(r->nbuckets, sizeof *r->bucket);
	return r;
}

void
dsp_recent_free(struct dsp_recent *r)
{
	if (r == NULL)
		return;
	for (size_t i = 0; i < r->nbuckets; i++)
		for (struct cell *c = r->bucket[i], *next; c; c = next) {
			next = c->next;
			free(c->ring);
			free(c);
		}
	free(r->bucket);
	free(r);
}

static struct cell *
find(const struct dsp_recent *r, int64_t key)
{
	for (struct cell *c = r->bucket[slot_of(r, key)]; c; c = c->next)
		if (c->key == key)
			return c;
	return NULL;
}

static void
grow_table(struct dsp_recent *r)
{
	size_t old = r->nbuckets;
	struct cell **ob = r->bucket;
	r->nbuckets = old * 2;
	r->bucket = xcalloc(r->nbuckets, sizeof *r->bucket);
	for (size_t i = 0; i < old; i++)
		for (struct cell *c = ob[i], *next; c; c = next) {
			next = c->next;
			size_t s = slot_of(r, c->key);
			c->next = r->bucket[s];
			r->bucket[s] = c;
		}
	free(ob);
}

void
dsp_recent_add(struct dsp_recent *r, const struct dsp_recent_hit *h)
{
	if (!isfinite(h->lon) || !isfinite(h->lat))
		return;
	int64_t key = cell_key(index_of(h->lon, r->cell_deg), index_of(h->lat, r->cell_deg));
	struct cell *c = find(r, key);
	if (c == NULL) {
		c = xcalloc(1, sizeof *c);
		c->key = key;
		if (++r->ncells > r->nbuckets)
			grow_table(r);
		size_t s = slot_of(r, key);
		c->next = r->bucket[s];
		r->bucket[s] = c;
	}
	if (c->n == c->cap && c->cap < r->per_cell) {
		/* Unroll the ring into a larger one, oldest first. */
		int cap = c->cap ? c->cap * 2 : 8;
		if (cap > r->per_cell)
			cap = r->per_cell;
		struct dsp_recent_hit *ring = xmalloc(sizeof *ring * (size_t)cap);
		for (int i = 0; i < c->n; i++)
			ring[i] = c->ring[(c->head + i) % c->cap];
		free(c->ring);
		c->ring = ring;
		c->cap = cap;
		c->head = 0;
	}
	if (c->n == c->cap) { /* full at per_cell: the oldest gives way */
		c->ring[c->head] = *h;
		c->head = (c->head + 1) % c->cap;
		return;
	}
	c->ring[(c->head + c->n) % c->cap] = *h;
	c->n++;
	r->size++;
}

static int
cmp_newest(const void *x, const void *y)
{
	const struct dsp_recent_hit *a = x, *b = y;
	return (a->id < b->id) - (a->id > b->id);
}

int
dsp_recent_query(const struct dsp_recent *r, double lon0, double lon1, double lat0,
    double lat1, int64_t since, struct dsp_recent_hit *out, int max)
{
	if (max <= 0 || !(lon0 <= lon1) || !(lat0 <= lat1))
		return 0;
	int32_t x0 = index_of(lon0, r->cell_deg), x1 = index_of(lon1, r->cell_deg);
	int32_t y0 = index_of(lat0, r->cell_deg), y1 = index_of(lat1, r->cell_deg);
	if ((int64_t)(x1 - x0 + 1) * (y1 - y0 + 1) > 4096)
		return -1; /* a box this size is not what the index is for */
	/*
	 * Each cell gives its newest max matches (no more can make the overall
	 * newest max); they are merged by id. Cells under a box are few (the
	 * cell is at least as wide as the box the duplicate search asks for).
	 */
	int n = 0, cap = max * 4;
	struct dsp_recent_hit *all = xmalloc(sizeof *all * (size_t)cap);
	for (int32_t x = x0; x <= x1; x++)
		for (int32_t y = y0; y <= y1; y++) {
			const struct cell *c = find(r, cell_key(x, y));
			if (c == NULL)
				continue;
			int got = 0;
			for (int i = c->n - 1; i >= 0 && got < max; i--) {
				const struct dsp_recent_hit *h = &c->ring[(c->head + i) % c->cap];
				if (h->created_us < since)
					break;
				if (h->lon < lon0 || h->lon > lon1 || h->lat < lat0 || h->lat > lat1)
					continue;
				if (n == cap) {
					cap *= 2;
					all = xrealloc(all, sizeof *all * (size_t)cap);
				}
				all[n++] = *h;
				got++;
			}
		}
	qsort(all, (size_t)n, sizeof *all, cmp_newest);
	if (n > max)
		n = max;
	memcpy(out, all, sizeof *all * (size_t)n);
	free(all);
	return n;
}

void
dsp_recent_expire(struct dsp_recent *r, int64_t since)
{
	for (size_t i = 0; i < r->nbuckets; i++) {
		struct cell **pp = &r->bucket[i];
		while (*pp) {
			struct cell *c = *pp;
			while (c->n > 0 && c->ring[c->head].created_us < since) {
				c->head = (c->head + 1) % c->cap;
				c->n--;
				r->size--;
			}
			if (c->n == 0) {
				*pp = c->next;
				free(c->ring);
				free(c);
				r->ncells--;
			} else {
				pp = &c->next;
			}
		}
	}
}

size_t
dsp_recent_size(const struct dsp_recent *r)
{
	return r->size;
}

size_t
dsp_recent_cells(const struct dsp_recent *r)
{
	return r->ncells;
}
