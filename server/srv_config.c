/* srv_config.c - see srv_config.h. */
#include "srv_config.h"
#include "srv_error.h"
#include "srv_log.h"
#include "srv_util.h"

#include <ctype.h>
#include <jansson.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum ctype { C_STR, C_INT, C_SIZE };

struct centry {
	const char *key;
	enum ctype type;
	size_t off;
	const char *def;
	int64_t min, max;
	const char *doc;
};

#define OFF(f) offsetof(struct srv_config, f)
static const struct centry entries[] = {
	{ "listen.address", C_STR, OFF(listen_address), "127.0.0.1", 0, 0,
	    "Address the HTTP/WebSocket listener binds to." },
	{ "listen.port", C_INT, OFF(port), "8080", 0, 65535,
	    "TCP port of the listener (0 picks a free port, logged at start)." },
	{ "data.dir", C_STR, OFF(data_dir), "./data", 0, 0,
	    "Folder for the SQLite store (liandong.db and its WAL)." },
	{ "console.dir", C_STR, OFF(console_dir), "./web-console/dist", 0, 0,
	    "Folder of the web console's built files (web-console/ after npm run build), served at /." },
	{ "console.tile_url", C_STR, OFF(console_tile_url), "", 0, 0,
	    "Map tiles under the district layer, e.g. /tiles/{z}/{x}/{y}.png: a path on this centre (the "
	    "page's CSP allows no other origin; proxy a tile service such as Tianditu there); empty: none." },
	{ "log.level", C_STR, OFF(log_level), "info", 0, 0, "error, warn, info or debug." },
	{ "console.auth", C_STR, OFF(console_auth), "users", 0, 0,
	    "users: consoles and the REST API need a signed-in user (liandong user add); open: none (tests, labs)." },
	{ "console.session_ttl_s", C_INT, OFF(session_ttl_s), "43200", 2, 604800,
	    "How long a sign-in lasts (seconds; 43200 = a 12-hour shift)." },
	{ "console.rate", C_INT, OFF(user_rate), "20", 1, 100000,
	    "Requests per second one signed-in user may make, and messages per second one console may send (token buckets; 429 or a rate_limited frame beyond)." },
	{ "console.burst", C_INT, OFF(user_burst), "100", 1, 1000000,
	    "How many requests a user (messages a console) may make at once above console.rate; a console refused more than this many times in a row is closed (1008)." },
	{ "intake.auth", C_STR, OFF(intake_auth), "keys", 0, 0,
	    "keys: every intake needs a gateway key (liandong gateway add); open: none (tests, labs)." },
	{ "http.max_body", C_SIZE, OFF(http_max_body), "1M", 1024, 64 << 20,
	    "Largest accepted request body; larger gets 413." },
	{ "http.max_conns", C_INT, OFF(http_max_conns), "4096", 16, 1000000,
	    "Most simultaneous connections (HTTP and WebSocket)." },
	{ "http.max_conns_per_address", C_INT, OFF(http_max_conns_per_address), "256", 1, 1000000,
	    "Most simultaneous connections from one client address; beyond it, 429 (twice it: dropped)." },
	{ "ws.max_message", C_SIZE, OFF(ws_max_message), "64K", 256, 16 << 20,
	    "Largest WebSocket message a console may send; larger is closed with 1009." },
	{ "ws.queue_max", C_INT, OFF(ws_queue_max), "512", 4, 1000000,
	    "Most events queued for one console before it is cut over to catch-up." },
	{ "ws.queue_bytes", C_SIZE, OFF(ws_queue_bytes), "2M", 4096, 1 << 30,
	    "Most bytes queued for one console before it is cut over to catch-up." },
	{ "hub.ring", C_INT, OFF(hub_ring), "8192", 16, 10000000,
	    "Recent events kept in memory for consoles that resume or catch up." },
	{ "hub.replay_max", C_INT, OFF(hub_replay_max), "20000", 0, 100000000,
	    "A console further behind than this many events gets a fresh snapshot." },
	{ "hub.snapshot_max", C_INT, OFF(hub_snapshot_max), "5000", 1, 1000000,
	    "Most open incidents in one snapshot (newest first; marked truncated)." },
	{ "store.batch_max", C_INT, OFF(store_batch_max), "1024", 1, 100000,
	    "Most requests committed in one transaction (group commit)." },
	{ "store.backlog_max", C_INT, OFF(store_backlog_max), "20000", 1, 10000000,
	    "Most requests waiting for the writer; beyond it intake gets 503." },
	{ "store.cache", C_SIZE, OFF(store_cache), "64M", 1 << 20, (int64_t)16 << 30,
	    "Page cache of the writer's SQLite connection (every intake touches every index)." },
	{ "store.read_conns", C_INT, OFF(store_read_conns), "4", 1, 64,
	    "Read-only SQLite connections for lists, history and resume." },
	{ "demo.interval_ms", C_INT, OFF(demo_interval_ms), "4000", 100, 3600000,
	    "In `liandong demo`, mean time between simulated reports." },
	{ "tls.cert", C_STR, OFF(tls_cert), "", 0, 0,
	    "PEM certificate (chain) for HTTPS/WSS; empty: plain HTTP (behind a TLS proxy, or a lab)." },
	{ "tls.key", C_STR, OFF(tls_key), "", 0, 0, "PEM private key of tls.cert." },
	{ "tls.redirect", C_INT, OFF(tls_redirect), "1", 0, 1,
	    "1: a plain HTTP request to the TLS port is redirected to https." },
	{ "backup.dir", C_STR, OFF(backup_dir), "", 0, 0,
	    "Folder for scheduled online backups (liandong-<time>.db); empty: none (see liandong backup)." },
	{ "backup.interval_s", C_INT, OFF(backup_interval_s), "3600", 10, 604800,
	    "Seconds between scheduled backups." },
	{ "backup.keep", C_INT, OFF(backup_keep), "24", 1, 10000,
	    "Scheduled backups kept (the oldest are removed)." },
	{ "media.enabled", C_INT, OFF(media_enabled), "1", 0, 1,
	    "1: run the video-conference bridge (GStreamer, docs/media.md); 0: conferences are off." },
	{ "media.conferences", C_STR, OFF(media_conferences), "", 0, 0,
	    "Conferences from the configuration: name=rtsp://...[,rtsp://...][;name=...] (created at start when missing)." },
	{ "media.max_viewers", C_INT, OFF(media_max_viewers), "64", 1, 10000,
	    "Most WebRTC viewers over all conferences (each is one webrtcbin)." },
	{ "media.backoff_max_ms", C_INT, OFF(media_backoff_max_ms), "5000", 250, 600000,
	    "Longest wait between reconnection attempts to a source that dropped (from 250 ms, doubling)." },
	{ "media.stall_ms", C_INT, OFF(media_stall_ms), "4000", 500, 600000,
	    "A source that sends no video this long is reconnected." },
	{ "media.latency_ms", C_INT, OFF(media_latency_ms), "100", 0, 5000,
	    "Jitter buffer on the ingest of each source (rtspsrc latency)." },
	{ "media.record", C_INT, OFF(media_record), "1", 0, 1,
	    "1: record every live source as MP4 segments in <data.dir>/recordings (listed on the linked incidents)." },
	{ "media.segment_s", C_INT, OFF(media_segment_s), "60", 1, 3600,
	    "Longest recording segment in seconds (cut at a keyframe within it); each segment plays on its own." },
	{ "media.hls", C_INT, OFF(media_hls), "1", 0, 1,
	    "1: HLS (H.264 + AAC, 2 s segments) of every live source for viewers without WebRTC, served under /api/v1/conferences." },
	{ "dispatch.plans", C_STR, OFF(dispatch_plans), "", 0, 0,
	    "Linkage plan file (docs/plans.md); empty for none. Reloaded by POST /api/v1/plans/reload." },
	{ "dispatch.ack_p1", C_INT, OFF(dispatch_ack_s[0]), "30", 5, 86400,
	    "Seconds a priority-1 incident may stay new before it escalates to supervisors." },
	{ "dispatch.ack_p2", C_INT, OFF(dispatch_ack_s[1]), "60", 5, 86400,
	    "The same for priority 2." },
	{ "dispatch.ack_p3", C_INT, OFF(dispatch_ack_s[2]), "120", 5, 86400,
	    "The same for priority 3." },
	{ "dispatch.ack_p4", C_INT, OFF(dispatch_ack_s[3]), "300", 5, 86400,
	    "The same for priority 4." },
	{ "dispatch.dup_radius_m", C_INT, OFF(dispatch_dup_radius_m), "300", 0, 10000,
	    "A report this close (metres) to an open incident of a compatible category ... (0: off)" },
	{ "dispatch.dup_window_s", C_INT, OFF(dispatch_dup_window_s), "600", 0, 86400,
	    "... and this close in time (seconds) is marked as its likely duplicate." },
	{ "dispatch.stale_s", C_INT, OFF(dispatch_stale_s), "120", 5, 86400,
	    "A unit position older than this is stale: shown as such, never recommended." },
	{ "dispatch.unit_dispatched_s", C_INT, OFF(dispatch_unit_limit_s[0]), "180", 0, 86400,
	    "Flag a unit dispatched this long without going en route (0: never)." },
	{ "dispatch.unit_en_route_s", C_INT, OFF(dispatch_unit_limit_s[1]), "1800", 0, 86400,
	    "Flag a unit en route this long without arriving (0: never)." },
	{ "dispatch.unit_on_scene_s", C_INT, OFF(dispatch_unit_limit_s[2]), "14400", 0, 604800,
	    "Flag a unit on scene this long (0: never)." },
	{ "dispatch.area", C_STR, OFF(dispatch_area_text), "73,3,136,54", 0, 0,
	    "Service area west,south,east,north (degrees): positions outside it are refused." },
};
#define NENTRIES (sizeof entries / sizeof entries[0])

static int
parse_size(const char *v, int64_t *out)
{
	char *end;
	errno = 0;
	long long n = strtoll(v, &end, 10);
	if (errno || end == v || n < 0)
		return -1;
	int64_t mult = 1;
	if (*end == 'K' || *end == 'k')
		mult = 1024, end++;
	else if (*end == 'M' || *end == 'm')
		mult = 1024 * 1024, end++;
	else if (*end == 'G' || *end == 'g')
		mult = 1024 * 1024 * 1024, end++;
	if (*end != '\0')
		return -1;
	*out = (int64_t)n * mult;
	return 0;
}

static int
apply(struct srv_config *cfg, const char *key, const char *val, char **cause)
{
	for (size_t i = 0; i < NENTRIES; i++) {
		const struct centry *e = &entries[i];
		if (strcmp(e->key, key) != 0)
			continue;
		char *field = (char *)cfg + e->off;
		if (e->type == C_STR) {
			free(*(char **)field);
			*(char **)field = xstrdup(val);
			if (strcmp(key, "log.level") == 0 && srv_log_parse_level(val) < 0)
				return srv_fail(cause, SRV_E_CONFIG,
				    "log.level must be error, warn, info or debug, not '%s'", val);
			if (strcmp(key, "dispatch.area") == 0) {
				double *a = cfg->dispatch_area;
				char extra;
				if (sscanf(val, "%lf,%lf,%lf,%lf%c", &a[0], &a[1], &a[2], &a[3], &extra) != 4 ||
				    !(a[0] >= -180 && a[0] < a[2] && a[2] <= 180 && a[1] >= -90 && a[1] < a[3] &&
					a[3] <= 90))
					return srv_fail(cause, SRV_E_CONFIG,
					    "dispatch.area must be west,south,east,north in degrees, not '%s'", val);
			}
			if (strcmp(key, "console.auth") == 0 && strcmp(val, "users") != 0 &&
			    strcmp(val, "open") != 0)
				return srv_fail(cause, SRV_E_CONFIG, "console.auth must be users or open, not '%s'",
				    val);
			if (strcmp(key, "console.tile_url") == 0 && val[0] &&
			    (val[0] != '/' || val[1] == '/' || !strstr(val, "{z}") || !strstr(val, "{x}") ||
				!strstr(val, "{y}") || strpbrk(val, "\"<> \t\\")))
				return srv_fail(cause, SRV_E_CONFIG,
				    "console.tile_url must be a path on this centre with {z}, {x} and {y} "
				    "(e.g. /tiles/{z}/{x}/{y}.png), not '%s'", val);
			if (strcmp(key, "intake.auth") == 0 && strcmp(val, "keys") != 0 &&
			    strcmp(val, "open") != 0)
				return srv_fail(cause, SRV_E_CONFIG, "intake.auth must be keys or open, not '%s'",
				    val);
			return 0;
		}
		int64_t n;
		if (parse_size(val, &n) != 0 || (e->type == C_INT && strpbrk(val, "KkMmGg")))
			return srv_fail(cause, SRV_E_CONFIG, "%s: '%s' is not a %s", key, val,
			    e->type == C_INT ? "whole number" : "size (e.g. 64K, 1M)");
		if (n < e->min || n > e->max)
			return srv_fail(cause, SRV_E_CONFIG, "%s: %lld is outside %lld..%lld", key,
			    (long long)n, (long long)e->min, (long long)e->max);
		if (e->type == C_INT)
			*(int *)field = (int)n;
		else
			*(int64_t *)field = n;
		return 0;
	}
	return srv_fail(cause, SRV_E_CONFIG, "unknown key '%s'", key);
}

void
srv_config_defaults(struct srv_config *cfg)
{
	memset(cfg, 0, sizeof *cfg);
	for (size_t i = 0; i < NENTRIES; i++) {
		char *cause = NULL;
		if (apply(cfg, entries[i].key, entries[i].def, &cause) != 0) {
			fprintf(stderr, "bad default: %s\n", cause);
			abort();
		}
	}
}

static char *
trim(char *s)
{
	while (isspace((unsigned char)*s))
		s++;
	char *e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

int
srv_config_set(struct srv_config *cfg, const char *assignment, char **cause)
{
	char *copy = xstrdup(assignment);
	char *eq = strchr(copy, '=');
	int rc;
	if (eq == NULL) {
		rc = srv_fail(cause, SRV_E_CONFIG, "'%s' is not key=value", assignment);
	} else {
		*eq = '\0';
		rc = apply(cfg, trim(copy), trim(eq + 1), cause);
	}
	free(copy);
	return rc;
}

int
srv_config_load(struct srv_config *cfg, const char *path, char **cause)
{
	FILE *f = fopen(path, "r");
	if (f == NULL)
		return srv_fail(cause, SRV_E_CONFIG, "%s: %s", path, strerror(errno));
	char line[4096];
	int lineno = 0, rc = 0;
	while (rc == 0 && fgets(line, sizeof line, f)) {
		lineno++;
		char *hash = strchr(line, '#');
		if (hash)
			*hash = '\0';
		char *s = trim(line);
		if (*s == '\0')
			continue;
		char *inner = NULL;
		rc = srv_config_set(cfg, s, &inner);
		if (rc != 0)
			srv_fail(cause, rc, "%s:%d: %s", path, lineno, inner);
		free(inner);
	}
	fclose(f);
	return rc;
}

void
srv_config_print(const struct srv_config *cfg, void *file)
{
	FILE *f = file;
	fprintf(f, "# liandong configuration: key = value; '#' starts a comment.\n"
		   "# Sizes take K, M or G. Flags: --config FILE, --set key=value.\n");
	for (size_t i = 0; i < NENTRIES; i++) {
		const struct centry *e = &entries[i];
		const char *field = (const char *)cfg + e->off;
		fprintf(f, "\n# %s (default %s)\n", e->doc, e->def);
		if (e->type == C_STR)
			fprintf(f, "%s = %s\n", e->key, *(char *const *)field);
		else if (e->type == C_INT)
			fprintf(f, "%s = %d\n", e->key, *(const int *)field);
		else
			fprintf(f, "%s = %lld\n", e->key, (long long)*(const int64_t *)field);
	}
}

/* The value of entry e in cfg, as text (buf for numbers). */
static const char *
value_text(const struct srv_config *cfg, const struct centry *e, char *buf, size_t len)
{
	const char *field = (const char *)cfg + e->off;
	if (e->type == C_STR)
		return *(char *const *)field ? *(char *const *)field : "";
	if (e->type == C_INT)
		snprintf(buf, len, "%d", *(const int *)field);
	else
		snprintf(buf, len, "%lld", (long long)*(const int64_t *)field);
	return buf;
}

char *
srv_config_changes(const struct srv_config *cfg)
{
	struct srv_config def;
	srv_config_defaults(&def);
	json_t *o = json_object();
	for (size_t i = 0; i < NENTRIES; i++) {
		char a[32], b[32];
		const char *v = value_text(cfg, &entries[i], a, sizeof a);
		if (strcmp(v, value_text(&def, &entries[i], b, sizeof b)) != 0)
			json_object_set_new(o, entries[i].key, json_string(v));
	}
	srv_config_free(&def);
	char *text = json_dumps(o, JSON_SORT_KEYS | JSON_COMPACT);
	json_decref(o);
	return text;
}

void
srv_config_free(struct srv_config *cfg)
{
	for (size_t i = 0; i < NENTRIES; i++)
		if (entries[i].type == C_STR) {
			char **p = (char **)((char *)cfg + entries[i].off);
			free(*p);
			*p = NULL;
		}
}
