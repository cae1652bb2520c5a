/*
 * srv_metrics.c - /metrics in the Prometheus text exposition format.
 *
 * Everything is read from counters the modules keep anyway; rendering runs
 * on the loop and touches no disk (the resident size comes from procfs).
 */
#include "srv.h"
#include "conf.h"
#include "media.h"
#include "srv_peers.h"
#include "db_store.h"
#include "hub.h"
#include "srv_util.h"
#include "srv_webhook.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct buf {
	char *p;
	size_t len, cap;
};

static void
put(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void
put(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *s = xvasprintf(fmt, ap);
	va_end(ap);
	size_t n = strlen(s);
	if (b->len + n + 1 > b->cap) {
		b->cap = (b->len + n + 1) * 2;
		b->p = xrealloc(b->p, b->cap);
	}
	memcpy(b->p + b->len, s, n + 1);
	b->len += n;
	free(s);
}

static void
metric(struct buf *b, const char *name, const char *type, const char *help, double v)
{
	put(b, "# HELP %s %s\n# TYPE %s %s\n%s %.17g\n", name, help, name, type, name, v);
}

static long
rss_bytes(void)
{
	FILE *f = fopen("/proc/self/statm", "r");
	long pages = 0, rss = 0;
	if (f) {
		if (fscanf(f, "%ld %ld", &pages, &rss) != 2)
			rss = 0;
		fclose(f);
	}
	return rss * sysconf(_SC_PAGESIZE);
}

char *
srv_metrics_render(struct srv *srv, size_t *len)
{
	struct buf b = { 0 };
	struct db_store_stats ds;
	struct hub_stats hs;
	db_store_get_stats(srv->store, &ds);
	hub_get_stats(srv->hub, &hs);

	put(&b, "# HELP liandong_build_info Build information.\n# TYPE liandong_build_info gauge\n"
		"liandong_build_info{version=\"%s\"} 1\n", LIANDONG_VERSION);
	metric(&b, "liandong_uptime_seconds", "gauge", "Seconds since the server started.",
	    (double)(srv_mono_ns() - srv->start_ns) / 1e9);
	metric(&b, "process_resident_memory_bytes", "gauge", "Resident memory of the process.",
	    (double)rss_bytes());

	put(&b, "# HELP liandong_http_responses_total HTTP responses by status class.\n"
		"# TYPE liandong_http_responses_total counter\n");
	for (int c = 1; c <= 5; c++)
		put(&b, "liandong_http_responses_total{class=\"%dxx\"} %llu\n", c,
		    (unsigned long long)srv->http_by_class[c]);
	metric(&b, "liandong_http_requests_in_flight", "gauge", "HTTP requests not yet answered.",
	    srv->requests_live);
	metric(&b, "liandong_http_client_addresses", "gauge",
	    "Client addresses with a connection open.", srv->peers ? srv_peers_addresses(srv->peers) : 0);
	metric(&b, "liandong_http_refused_per_address_total", "counter",
	    "Requests, upgrades and connections refused for http.max_conns_per_address.",
	    (double)srv->conns_refused);

	put(&b, "# HELP liandong_intake_total Reports taken by gateway adapters, by result.\n"
		"# TYPE liandong_intake_total counter\n");
	for (int i = 0; srv->adapters[i]; i++) {
		const char *n = srv->adapters[i]->name;
		const struct srv_intake_stats *s = &srv->intake[i];
		put(&b, "liandong_intake_total{adapter=\"%s\",result=\"created\"} %llu\n", n,
		    (unsigned long long)s->created);
		put(&b, "liandong_intake_total{adapter=\"%s\",result=\"duplicate\"} %llu\n", n,
		    (unsigned long long)s->duplicate);
		put(&b, "liandong_intake_total{adapter=\"%s\",result=\"updated\"} %llu\n", n,
		    (unsigned long long)s->updated);
		put(&b, "liandong_intake_total{adapter=\"%s\",result=\"rejected\"} %llu\n", n,
		    (unsigned long long)s->rejected);
	}

	metric(&b, "liandong_store_commits_total", "counter", "Transactions committed by the writer.",
	    (double)ds.commits);
	metric(&b, "liandong_store_requests_total", "counter", "Requests carried by those commits.",
	    (double)ds.requests);
	metric(&b, "liandong_store_syncs_total", "counter",
	    "fsync/fdatasync calls SQLite made on the database and its WAL.", (double)ds.syncs);
	metric(&b, "liandong_store_commit_seconds_total", "counter", "Time spent inside COMMIT.",
	    ds.commit_seconds);
	metric(&b, "liandong_store_batch_max", "gauge", "Largest batch committed at once.",
	    (double)ds.batch_max_seen);
	metric(&b, "liandong_store_failed_commits_total", "counter", "Commits that failed.",
	    (double)ds.failed_commits);
	metric(&b, "liandong_store_backlog", "gauge", "Requests queued or in flight at the writer.",
	    db_store_backlog(srv->store));
	metric(&b, "liandong_journal_seq", "gauge", "Last journal sequence number published.",
	    (double)hub_last_seq(srv->hub));

	metric(&b, "liandong_ws_consoles", "gauge", "Connected WebSocket consoles.", (double)hs.consoles);
	metric(&b, "liandong_ws_events_published_total", "counter", "Events fanned out by the hub.",
	    (double)hs.published);
	metric(&b, "liandong_ws_frames_sent_total", "counter", "Frames written to consoles.",
	    (double)hs.frames_sent);
	metric(&b, "liandong_ws_bytes_sent_total", "counter", "Bytes written to consoles.",
	    (double)hs.bytes_sent);
	metric(&b, "liandong_ws_resyncs_total", "counter",
	    "Consoles cut over to catch-up because their queue overflowed.", (double)hs.resyncs);
	metric(&b, "liandong_ws_snapshots_total", "counter", "Snapshots sent to consoles.",
	    (double)hs.snapshots);
	metric(&b, "liandong_ws_catchup_pages_total", "counter", "Journal pages read for catch-up.",
	    (double)hs.pages);
	metric(&b, "liandong_ws_queued_bytes", "gauge", "Bytes queued for consoles right now.",
	    (double)hs.queued_bytes);

	struct srv_webhook_stats wst;
	srv_webhook_get_stats(srv->webhook, &wst);
	put(&b, "# HELP liandong_webhook_deliveries_total Posts of outbox rows to agency webhooks, "
		"by result (every failed attempt counts).\n"
		"# TYPE liandong_webhook_deliveries_total counter\n"
		"liandong_webhook_deliveries_total{result=\"ok\"} %llu\n"
		"liandong_webhook_deliveries_total{result=\"failed\"} %llu\n",
	    (unsigned long long)wst.ok, (unsigned long long)wst.failed);
	metric(&b, "liandong_webhook_pending", "gauge",
	    "Outbox rows not yet delivered to agency webhooks (last known).", (double)wst.pending);

	struct media_stats ms;
	if (conf_live_stats(srv, &ms) == 0) {
		metric(&b, "liandong_media_sources", "gauge", "Conference sources the bridge pulls.",
		    (double)ms.sources);
		metric(&b, "liandong_media_peers", "gauge", "WebRTC viewers and publishers.",
		    (double)ms.viewers);
		metric(&b, "liandong_media_reconnects_total", "counter",
		    "Source attempts that failed or dropped (each is retried).", (double)ms.reconnects);
		metric(&b, "liandong_media_segments_total", "counter", "Recording segments finished.",
		    (double)ms.segments);
		metric(&b, "liandong_media_skipped_to_keyframe_total", "counter",
		    "Times a viewer fell behind and skipped to the next keyframe.",
		    (double)ms.skipped_to_key);
		metric(&b, "liandong_media_keyframe_requests_total", "counter",
		    "Keyframes asked of sources (a viewer joined, or a browser lost its picture).",
		    (double)ms.key_requests);
		metric(&b, "liandong_media_events_dropped_total", "counter",
		    "Bridge events dropped because the loop's queue was full.", (double)ms.events_dropped);
	}
	*len = b.len;
	return b.p;
}
