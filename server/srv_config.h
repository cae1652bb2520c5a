/*
 * srv_config.h - server configuration: documented defaults, a file, flags.
 *
 * The file is "key = value" lines with '#' comments. Every key has a default,
 * a range and a line of documentation in one table (srv_config.c), which is
 * also what `liandong config` prints, so the documentation cannot drift from
 * the code. Later sources override earlier ones: defaults, file, --set flags.
 */
#ifndef SRV_CONFIG_H
#define SRV_CONFIG_H

#include <stdint.h>

struct srv_config {
	char *listen_address;
	int port;
	char *data_dir;
	char *console_dir;
	char *console_tile_url;
	char *log_level;
	char *intake_auth;
	int64_t http_max_body;
	int http_max_conns;
	int http_max_conns_per_address;
	int64_t ws_max_message;
	int ws_queue_max;
	int64_t ws_queue_bytes;
	int hub_ring;
	int hub_replay_max;
	int hub_snapshot_max;
	int store_batch_max;
	int store_backlog_max;
	int store_read_conns;
	int64_t store_cache;
	int demo_interval_ms;
	char *dispatch_plans;
	int dispatch_ack_s[4];
	int dispatch_dup_radius_m;
	int dispatch_dup_window_s;
	int dispatch_stale_s;
	int dispatch_unit_limit_s[3]; /* dispatched, en_route, on_scene */
	double dispatch_area[4];      /* not configurable: filled from dispatch.area */
	char *dispatch_area_text;
	char *console_auth;
	int session_ttl_s;
	int user_rate, user_burst;
	char *tls_cert, *tls_key;
	int tls_redirect;
	char *backup_dir;
	int backup_interval_s;
	int backup_keep;
	int media_enabled;
	char *media_conferences;
	int media_max_viewers;
	int media_backoff_max_ms;
	int media_stall_ms;
	int media_latency_ms;
	int media_record;
	int media_segment_s;
	int media_hls;
};

/* Fill cfg with the defaults. Strings are allocated; free with srv_config_free. */
void srv_config_defaults(struct srv_config *cfg);
/*
 * Apply a config file. On error returns SRV_E_CONFIG with *cause naming the
 * file, line and reason; cfg may be partly changed, so callers exit.
 */
int srv_config_load(struct srv_config *cfg, const char *path, char **cause);
/* Apply one "key=value" (the --set flag). */
int srv_config_set(struct srv_config *cfg, const char *assignment, char **cause);
/* Print every key with its documentation and current value, as a config file. */
/* The settings that differ from their defaults, as a JSON object's text (caller frees). */
char *srv_config_changes(const struct srv_config *cfg);
void srv_config_print(const struct srv_config *cfg, void *file /* FILE * */);
void srv_config_free(struct srv_config *cfg);

#endif
