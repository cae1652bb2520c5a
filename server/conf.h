/*
 * conf.h - video conferences: the store's side (conf_store.c, commands run in
 * the writer) and the loop's side (conf_live.c: REST routes, the in-memory
 * list, rtc.* signalling over the console WebSocket, the media bridge).
 *
 * A conference has a name, one or more provincial sources (RTSP URIs), the
 * incidents it is linked to, participants, and a state (open, or closed: its
 * sources are no longer pulled, its recordings stay). Every change
 * is committed by the writer and journaled with its actor; a link is
 * journaled against the incident too, so it shows on that incident's history.
 * docs/media.md has the whole story.
 */
#ifndef CONF_H
#define CONF_H

#include <jansson.h>
#include <stdint.h>

struct db_store;
struct db_req;
struct srv;
struct srv_req;

#define CONF_MAX_SOURCES 8
#define CONF_MAX_INCIDENTS 64
#define CONF_MAX 256

/* Arguments of the writer commands (owned by the request; conf_args_free). */
struct conf_args {
	int64_t id;              /* conference (link, source, participant) */
	char *name;              /* create / config */
	char *return_uri;        /* create: the return feed (rtp://host:port), or NULL */
	char *uris[CONF_MAX_SOURCES];
	int nuris;
	int64_t incidents[CONF_MAX_INCIDENTS];
	int nincidents;
	int if_absent;           /* config: skip names that exist, add missing sources */
	char *who;               /* participant: the user or console */
	char *what;              /* participant: "joined" or "left" */
	int source;              /* recording: the source index */
	char *file;              /* recording: the segment's path */
	int64_t duration_ms;     /* recording */
	int64_t recording;       /* recordings: one recording id (0: list) */
};
void conf_args_free(void *args);

/*
 * Writer commands (DB_OP_RUN). Each validates against the stored state,
 * journals what it changed, and leaves the conference's JSON in r->result
 * (conf_run_load: {"conferences":[...]}).
 */
int conf_run_create(struct db_store *st, struct db_req *r, int64_t now);
int conf_run_link(struct db_store *st, struct db_req *r, int64_t now);
int conf_run_add_source(struct db_store *st, struct db_req *r, int64_t now);
int conf_run_participant(struct db_store *st, struct db_req *r, int64_t now);
/* Close: state "closed" (journaled conference.closed); changed 0 when it was closed already. */
int conf_run_close(struct db_store *st, struct db_req *r, int64_t now);
int conf_run_load(struct db_store *st, struct db_req *r, int64_t now);
/* A finished segment: stored, journaled on the conference and on each linked incident. */
int conf_run_recorded(struct db_store *st, struct db_req *r, int64_t now);
/* The newest 500 recordings of a conference ({"recordings":[...]}), or one (with "file"). */
int conf_run_recordings(struct db_store *st, struct db_req *r, int64_t now);

/* --- conf_live.c (loop thread) ----------------------------------------------------------- */
/* Start the media bridge and load the conferences (config ones are added). 0 or -1, *cause. */
int conf_live_open(struct srv *srv, char **cause);
/*
 * Stop the bridge (at shutdown); the loop keeps running until the media thread
 * has stopped. srv->media_draining stays 1 until then: the open recording
 * segments are being finished and stored, so the store closes after it.
 */
void conf_live_close(struct srv *srv);
/* The bridge's counters: 0, or -1 when it is off. */
struct media_stats;
int conf_live_stats(struct srv *srv, struct media_stats *out);
/* Routes under /api/v1/conferences. Returns 1 when it handled the request. */
int conf_api_route(struct srv_req *req);

/* --- conf_config.c ------------------------------------------------------------------------- */
/*
 * Parse media.conferences: "name=uri[,uri...][;name=uri...]". Calls each(name,
 * uris, n, ctx) per conference. 0, or -1 with *cause (allocated) and nothing
 * called after the error.
 */
int conf_config_parse(const char *text, int (*each)(const char *name, char **uris, int n,
    void *ctx), void *ctx, char **cause);

#endif
