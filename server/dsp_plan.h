/*
 * dsp_plan.h - linkage plans (联动预案): which agencies send what, per
 * alarm level, for which kind of incident.
 *
 * The plan file is line-based text (docs/plans.md) so that every error can
 * name its line. The module is pure: it reads text, holds the parsed plans
 * and answers "which plan fits this incident" and "what does level N need".
 * It touches no database and no loop, so a reload can parse a new file on
 * any thread and swap the result in only when the whole file was accepted.
 *
 * Ownership: a struct dsp_plans and everything under it belongs to whoever
 * received it from dsp_plans_parse() or dsp_plans_load() and is released
 * with dsp_plans_free(). The pointers returned by dsp_plans_match() and
 * dsp_plan_level() point into it and live exactly as long as it does.
 */
#ifndef DSP_PLAN_H
#define DSP_PLAN_H

#include <jansson.h>
#include <stddef.h>

struct incident;

/* Limits of the file format (docs/plans.md). */
#define DSP_PLANS_MAX 200      /* plans in one file */
#define DSP_LINE_MAX 1000      /* bytes in one line, without its newline */
#define DSP_ID_MAX 48          /* bytes in a plan id */
#define DSP_NAME_MAX 100       /* bytes in a display name */
#define DSP_LEVELS_MAX 5       /* alarm levels in one plan */
#define DSP_AGENCY_MAX 16      /* bytes in an agency code */
#define DSP_KIND_MAX 32        /* bytes in a resource kind */
#define DSP_COUNT_MAX 50       /* units of one kind in one need */
#define DSP_DISTRICT_MAX 12    /* bytes in a district code */
#define DSP_ACK_MIN 10         /* seconds */
#define DSP_ACK_MAX 3600
#define DSP_ACK_DEFAULT 120

struct dsp_need { char agency[17]; char kind[33]; int count; };
struct dsp_level { int level; struct dsp_need *needs; int nneeds; };
struct dsp_plan {
	char *id, *name;          /* name may equal id when none was given */
	int line_mask, category_mask; /* bit (1 << enum value); 0 = any */
	char **types; int ntypes; /* "fire.building" exact or "fire.*" prefix (kept with the star) */
	int priority_min, priority_max; /* 1..4 */
	char **districts; int ndistricts;
	struct dsp_level *levels; int nlevels; /* levels[i].level == i + 1 */
	int ack_seconds;
	int lineno;               /* where the plan starts */
};
struct dsp_plans { struct dsp_plan *plans; int n; };

/*
 * Parse a whole file's text (len bytes, need not be NUL-terminated). 0, or -1 with *err = "line N: ..." (malloc'd).
 *
 * All or nothing: on -1 *out is left alone, so the caller keeps the plans it
 * had. On 0 *out is a new set the caller frees with dsp_plans_free(); a text
 * with no plans at all is accepted and gives n == 0 (nothing matches).
 */
int dsp_plans_parse(const char *text, size_t len, struct dsp_plans **out, char **err);
/*
 * Read and parse a file; a file that cannot be read: -1 with *err naming the path and errno text.
 *
 * A parse error is the one dsp_plans_parse() gives with the path in front:
 * "/etc/liandong/plans.conf: line 7: unknown category \"fire\"".
 */
int dsp_plans_load(const char *path, struct dsp_plans **out, char **err);
void dsp_plans_free(struct dsp_plans *p);   /* NULL ok */
/* The first plan, in file order, whose conditions hold for inc (operators list specific plans before general ones). NULL when none. */
const struct dsp_plan *dsp_plans_match(const struct dsp_plans *p, const struct incident *inc);
/*
 * The needs at alarm level (1..nlevels); a level above the plan's highest gives the highest.
 * A level below 1 is a caller's bug and gives NULL.
 */
const struct dsp_level *dsp_plan_level(const struct dsp_plan *plan, int level);
/* The plan as JSON: {"id","name","when":{...},"levels":[{"level":1,"needs":[{"agency","kind","count"}]}],"ack_seconds"} (new reference). */
json_t *dsp_plan_to_json(const struct dsp_plan *plan);

#endif
