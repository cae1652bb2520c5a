/*
 * media.h - the conference bridge: provincial streams to browsers (WebRTC)
 * through GStreamer, on a media thread of its own.
 *
 * The loop thread owns a struct media and calls the media_* commands below;
 * each only queues a command (bounded: MEDIA_E_BUSY when full) and returns.
 * The media thread runs a GMainContext: it builds and tears pipelines down,
 * does every GStreamer state change, and answers with struct media_event
 * values that reach on_event on the loop thread through a uv_async-fed,
 * bounded queue, in the order they were produced. No GStreamer call that can
 * wait is ever made on the loop thread.
 *
 * Sources: one ingest pipeline per source (rtspsrc; srtsrc and tsdemux;
 * or udpsrc and rtpjitterbuffer per RTP port; one shared depay/h264parse
 * config-interval=-1 for video, Opus as it comes), ending in appsinks. Each sample is handed to every viewer of that source. A source
 * that fails or goes quiet is rebuilt with backoff; its state (live,
 * reconnecting, down) is reported as it changes.
 *
 * Viewers (peers): one small pipeline each, appsrc -> rtph264pay ->
 * webrtcbin and appsrc -> rtpopuspay -> webrtcbin, fed by the source's
 * samples (H.264 and Opus passed through, never re-encoded). A viewer starts
 * at the next keyframe; its appsrc queue is bounded and a viewer that falls
 * behind skips to the next keyframe. The bridge makes the offer (it knows the
 * stream's profile); the browser answers.
 */
#ifndef MEDIA_H
#define MEDIA_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

struct media;

/* Error codes (negative): media_strerror() names them. */
#define MEDIA_E_BUSY (-1)      /* the command queue is full */
#define MEDIA_E_INVALID (-2)   /* a bad argument (URI, SDP) */
#define MEDIA_E_STOPPED (-3)   /* the media thread is stopping */

enum media_ev {
	MEDIA_EV_SOURCE,   /* a source's state changed: state, code, text (message) */
	MEDIA_EV_OFFER,    /* peer's SDP offer: text */
	MEDIA_EV_ICE,      /* peer's local ICE candidate: mline, text */
	MEDIA_EV_PEER,     /* peer's state: state ("connected", "failed", "closed"), code, text */
	MEDIA_EV_SEGMENT,  /* a finished recording segment: text (its path), duration_ms;
			    * or code "recording_failed" with text the reason */
	MEDIA_EV_STOPPED,  /* the media thread has stopped (after media_stop) */
	MEDIA_EV_ANSWER,   /* a publisher's SDP answer: text */
	MEDIA_EV_RETURN,   /* the return feed's state: "running", or "failed" (code return_failed,
			    * text the reason; rebuilt after a backoff, its publishers closed) */
};

/* Sent to the loop thread; on_event owns it until it returns (then it is freed). */
struct media_event {
	enum media_ev type;
	int64_t conf;          /* conference id */
	int source;            /* source index within the conference */
	uint64_t peer;         /* MEDIA_EV_OFFER/ICE/PEER */
	char state[16];        /* "live", "reconnecting", "down" / "connected", "failed", "closed" */
	char code[32];         /* a stable error code, or "" */
	int mline;
	int64_t duration_ms;
	char *text;            /* SDP, candidate, message or path; may be NULL */
};

struct media_opts {
	int queue_max;          /* commands waiting for the media thread */
	int events_max;         /* events waiting for the loop (beyond: dropped and counted) */
	int backoff_min_ms, backoff_max_ms; /* reconnect delays */
	int down_after;         /* failed attempts in a row before a source is "down" */
	int stall_ms;           /* a live source silent this long is reconnected */
	int latency_ms;         /* rtspsrc jitter buffer */
	size_t viewer_bytes;    /* per viewer queued media before it skips to a keyframe */
	int answer_timeout_ms;  /* a peer with no answer by then is closed */
	const char *rec_dir;    /* recordings (NULL or "": off) */
	int segment_s;          /* recording segment length */
	const char *hls_dir;    /* HLS playlists and segments (NULL or "": off) */
};

struct media_stats {
	uint64_t sources, viewers, events_dropped, samples, skipped_to_key, reconnects, segments;
	uint64_t key_requests;  /* keyframes asked of sources (a viewer joined, or a browser lost a picture) */
};

typedef void (*media_event_fn)(void *ctx, const struct media_event *ev);

/* Start the media thread. 0 or -1 with *cause (allocated). */
int media_start(struct media **out, uv_loop_t *loop, const struct media_opts *o,
    media_event_fn on_event, void *ctx, char **cause);
/*
 * Stop: every pipeline is torn down on the media thread, then
 * MEDIA_EV_STOPPED is delivered; after it, call media_free() (which joins the
 * already finished thread).
 */
void media_stop(struct media *m);
void media_free(struct media *m);

/* Start pulling a source (uri copied). conf/source name it in events. */
int media_source_add(struct media *m, int64_t conf, int source, const char *uri);
int media_source_remove(struct media *m, int64_t conf, int source);
/* A new viewer of a source: MEDIA_EV_OFFER follows (or MEDIA_EV_PEER "failed"). */
int media_peer_new(struct media *m, uint64_t peer, int64_t conf, int source);
/* The browser's answer (sdp copied). A wrong answer ends in MEDIA_EV_PEER "failed". */
int media_peer_answer(struct media *m, uint64_t peer, const char *sdp);
int media_peer_ice(struct media *m, uint64_t peer, int mline, const char *candidate);
/*
 * The conference's return feed: every publisher tiled on a 640x360 canvas and
 * mixed (compositor, audiomixer); to return_uri: "rtp://host:port" (H.264 as
 * RTP to host:port, Opus to host:port+2), "srt://host:port[?...]" (both in
 * MPEG-TS) or "rtsp://host/path" (RTSP record). Once per conference.
 */
int media_mix_start(struct media *m, int64_t conf, const char *return_uri);
/*
 * A browser publishes camera and microphone into the mix: its SDP offer
 * (copied). MEDIA_EV_ANSWER follows, or MEDIA_EV_PEER "failed" (no_return_feed,
 * busy: 4 publishers, invalid_sdp). Closed like a viewer.
 */
int media_publish(struct media *m, uint64_t peer, int64_t conf, const char *offer);
/*
 * A conference is closed: its sources stop (each open recording segment is
 * finished and reported, MEDIA_EV_SEGMENT, before anything else of it), its
 * viewers and publishers close with code "conference_closed", its return feed stops.
 */
int media_conf_close(struct media *m, int64_t conf);
/* Close a viewer or publisher (MEDIA_EV_PEER "closed" follows). Unknown peers are ignored. */
int media_peer_close(struct media *m, uint64_t peer);

/* Counters (any thread). */
void media_get_stats(struct media *m, struct media_stats *out);
const char *media_strerror(int err);

/* --- media_uri.c ------------------------------------------------------------------ */
/*
 * Check a source URI before it is stored, at most 1024 bytes, no spaces or
 * control characters:
 * - rtsp://, rtspt:// or rtsps:// with a host, optional port (1-65535) and path;
 * - srt://host:port[?mode=caller|listener|rendezvous&...] (MPEG-TS over SRT;
 *   the host may be left out by a listener; the query goes to libsrt:
 *   latency, passphrase, streamid ...);
 * - rtp://host:port: RTP received on that address (a local one, or a
 *   multicast group), H.264 on the even port, Opus on port+2.
 * Returns 0, or -1 with a message in why (a static string).
 */
int media_uri_check(const char *uri, const char **why);

/*
 * A return feed URI: rtp://host:port (even port), srt://host:port[?...] or
 * rtsp://host[:port]/path (RTSP record; rtsps and rtspt too). 0 or -1 with why.
 */
int media_return_check(const char *uri, const char **why);

enum media_uri_kind { MEDIA_URI_RTSP, MEDIA_URI_SRT, MEDIA_URI_RTP };
/* The kind of a URI that passed one of the checks above. */
enum media_uri_kind media_uri_kind(const char *uri);

/* --- media_sdp.c ------------------------------------------------------------------ */
/*
 * Does an SDP (answer or offer) accept H.264 video? 1 yes, 0 no (a video
 * section without H264 or with port 0), -1 when it is not SDP at all.
 */
int media_sdp_has_h264(const char *sdp, size_t len);

#endif
