/*
 * dsp_recent.h - recent reports by place, in the writer's memory: where the
 * likely-duplicate search of a new report looks first.
 *
 * A grid of cells cell_deg degrees square, in a hash map so that only
 * occupied cells cost memory. Each cell keeps its newest per_cell reports in
 * a ring, in the order they were added (ids rise). A query walks the cells
 * under a box, each from its newest report back to the first older than
 * `since`, and returns the matches newest first. Reports older than the
 * window are dropped by dsp_recent_expire (called every so many adds), and a
 * cell that empties is freed; memory is bounded by per_cell x the cells that
 * had a report within the window.
 *
 * The index only proposes: the caller checks each candidate against the
 * store (still open, not merged). Not thread-safe: the writer thread owns it.
 */
#ifndef DSP_RECENT_H
#define DSP_RECENT_H

#include <stddef.h>
#include <stdint.h>

struct dsp_recent;

struct dsp_recent_hit {
	int64_t id;
	double lon, lat;
	int64_t created_us, reported_us;
	int category;
};

struct dsp_recent *dsp_recent_new(double cell_deg, int per_cell);
void dsp_recent_free(struct dsp_recent *r);
/* Add a report (ids must rise across adds for newest-first order). */
void dsp_recent_add(struct dsp_recent *r, const struct dsp_recent_hit *h);
/*
 * Reports inside [lon0,lon1] x [lat0,lat1] created at or after since,
 * newest (highest id) first, at most max of them into out. Returns how many.
 */
int dsp_recent_query(const struct dsp_recent *r, double lon0, double lon1, double lat0,
    double lat1, int64_t since, struct dsp_recent_hit *out, int max);
/* Drop reports created before since; free cells left empty. */
void dsp_recent_expire(struct dsp_recent *r, int64_t since);
/* Reports held, and occupied cells. */
size_t dsp_recent_size(const struct dsp_recent *r);
size_t dsp_recent_cells(const struct dsp_recent *r);

#endif
