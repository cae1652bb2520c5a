/*
 * media.c - the media thread: sources, viewers, the command and event queues
 * (see media.h for the design).
 *
 * Who touches what:
 * - The loop thread: media_* commands (push onto m->cmds under m->lock) and
 *   the event drain (on_async). Nothing else.
 * - The media thread (m->ctx): every struct source and struct viewer field
 *   not marked otherwise, pipeline construction, state changes, teardown.
 * - GStreamer streaming threads: the appsink callbacks (they read the
 *   source's viewer list under s->lock and push into the viewers' appsrcs),
 *   rtspsrc's pad-added (under s->lock), webrtcbin's signals and promises
 *   (they only post events, by peer id, and never free anything).
 * A viewer or source is freed only on the media thread, after its pipeline
 * reached NULL (which joins its streaming threads) and it left every list.
 */
#include "media.h"

#include <gst/app/gstappsink.h>
#include <gst/app/gstappsrc.h>
#include <gst/gst.h>
#include <gst/sdp/sdp.h>
#include <gst/video/video.h>
#define GST_USE_UNSTABLE_API
#include <gst/webrtc/webrtc.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum src_state { S_CONNECTING, S_LIVE, S_RECONNECTING, S_DOWN };
static const char *const state_names[] = { "connecting", "live", "reconnecting", "down" };

enum cmd_type { C_SRC_ADD, C_SRC_RM, C_PEER_NEW, C_PEER_ANSWER, C_PEER_ICE, C_PEER_CLOSE, C_STOP,
	C_MIX, C_PUBLISH, C_CONF_CLOSE };

struct cmd {
	enum cmd_type t;
	int64_t conf;
	int source;
	uint64_t peer;
	int mline;
	char *text;
};

struct source;
static void request_keyframe(struct source *s);

struct viewer {
	struct media *m;
	uint64_t id;
	struct source *src;     /* NULL once its source is gone */
	GstElement *pipe, *webrtc;
	GstAppSrc *vsrc, *asrc; /* asrc NULL when the source has no audio */
	GstCaps *vcaps;         /* what vsrc was told (s->lock) */
	GSource *bus_watch;
	int need_key;           /* s->lock: skip video until a keyframe */
	int answered;
	int connected;
	gint64 created_us;
	/* A publisher (camera and microphone from a browser into the mix) instead of a viewer. */
	struct mixer *mix;      /* NULL for viewers */
	int slot;               /* its tile in the mix */
	GstElement *mv, *ma;    /* mix->lock: its appsrcs in the mixer pipeline (NULL once gone) */
	GstElement *mvsrc, *masrc; /* the same appsrcs, kept to take them out of the mix */
	GstElement *mvq, *maq;  /* their queues */
	GstPad *mvpad, *mapad;  /* the compositor's and audiomixer's pads */
};

#define MIX_W 640
#define MIX_H 360
#define MIX_SLOTS 4

/* A conference's return feed: every publisher tiled and mixed, encoded, sent to the return URI. */
struct mixer {
	struct media *m;
	int64_t conf;
	char *uri;              /* where the feed goes */
	GstElement *pipe, *vmix, *amix; /* NULL while waiting to retry */
	GSource *bus_watch, *retry;
	int attempts;           /* failures in a row */
	int running;            /* reported "running" since the last (re)build */
	GMutex lock;
	struct viewer *slots[MIX_SLOTS];
};

/* A source's recording: appsrcs -> h264parse / opusparse -> splitmuxsink (MP4 segments). */
struct recorder {
	struct source *s;
	int hls;                /* the HLS packager (hlssink2) rather than the MP4 recording */
	GstElement *pipe;
	GstAppSrc *v, *a;
	GSource *bus_watch;
	int need_key;           /* s->lock */
	GstClockTime base;      /* s->lock: the source's PTS of the first recorded keyframe */
	char opened[512];       /* the segment being written */
	guint64 opened_rt;
};

struct source {
	struct media *m;
	int64_t conf;
	int index;
	char *uri;
	GstElement *pipe;
	GSource *bus_watch, *retry;
	enum src_state state;
	char code[32];
	int attempts;           /* failed attempts in a row */
	int ever_live;          /* in this attempt */

	GMutex lock;            /* the fields below, against the streaming threads */
	GPtrArray *viewers;     /* struct viewer * */
	GstCaps *vcaps, *acaps; /* the newest samples' caps */
	char plid[7];           /* profile-level-id from the SPS, "" before the first one */
	int got_video;          /* a video sample arrived in this attempt */
	int want_audio;         /* an Opus stream is attached in this attempt */
	gint64 video_since_us;  /* when the first video sample of this attempt arrived */
	gint64 last_sample_us;
	char unsupported[64];   /* a video encoding we cannot pass through, "" if none */
	struct recorder *rec;   /* s->lock for the pointer; NULL when not recording */
	struct recorder *hls;   /* s->lock: the HLS packager, or NULL */
	GstElement *vsink;      /* s->lock: the video appsink of this attempt (a ref), or NULL */
	guint rtp_ssrc, rtp_pt; /* s->lock: the video RTP stream's, when the source says (RTSP) */
	gint64 key_asked_us;    /* s->lock: the last keyframe request */
};

struct media {
	uv_loop_t *loop;
	uv_async_t async;
	struct media_opts o;
	media_event_fn on_event;
	void *ctx;
	char rec_dir[512];
	char hls_dir[512];

	GThread *thread;
	GMainContext *gctx;
	GMainLoop *gloop;
	GSource *tick;

	GMutex lock;            /* cmds, events, stopping */
	GQueue cmds;
	GQueue events;
	int stopping;

	/* media thread */
	GPtrArray *sources;     /* struct source * */
	GPtrArray *viewers;     /* struct viewer * (publishers too) */
	GPtrArray *mixers;      /* struct mixer * */
	GPtrArray *graves;      /* struct grave *: closed viewers' pipelines waiting to be freed */

	/* counters (atomic) */
	gint n_sources, n_viewers;
	guint64 events_dropped, samples, skipped, reconnects, segments, key_requests;
	GMutex stats_lock;
};

/* --- events to the loop ------------------------------------------------------------ */

/* Queue an event for the loop (any thread); takes ev. */
static void
enqueue(struct media *m, struct media_event *ev)
{
	g_mutex_lock(&m->lock);
	/* MEDIA_EV_STOPPED is never dropped: the loop waits for it. */
	if ((int)m->events.length >= m->o.events_max && ev->type != MEDIA_EV_STOPPED) {
		g_mutex_unlock(&m->lock);
		g_free(ev->text);
		g_free(ev);
		g_mutex_lock(&m->stats_lock);
		m->events_dropped++;
		g_mutex_unlock(&m->stats_lock);
		return;
	}
	g_queue_push_tail(&m->events, ev);
	g_mutex_unlock(&m->lock);
	uv_async_send(&m->async);
}

static struct media_event *
event_new(enum media_ev type, int64_t conf, int source, uint64_t peer, const char *state,
    const char *code, const char *text)
{
	struct media_event *ev = g_new0(struct media_event, 1);
	ev->type = type;
	ev->conf = conf;
	ev->source = source;
	ev->peer = peer;
	if (state)
		g_strlcpy(ev->state, state, sizeof ev->state);
	if (code)
		g_strlcpy(ev->code, code, sizeof ev->code);
	ev->text = text ? g_strdup(text) : NULL;
	return ev;
}

static void
post(struct media *m, enum media_ev type, int64_t conf, int source, uint64_t peer,
    const char *state, const char *code, const char *text)
{
	enqueue(m, event_new(type, conf, source, peer, state, code, text));
}

/* The loop thread: hand every queued event to on_event, in order. */
static void
on_async(uv_async_t *a)
{
	struct media *m = a->data;
	for (;;) {
		g_mutex_lock(&m->lock);
		struct media_event *ev = g_queue_pop_head(&m->events);
		g_mutex_unlock(&m->lock);
		if (ev == NULL)
			break;
		m->on_event(m->ctx, ev);
		g_free(ev->text);
		g_free(ev);
	}
}

/* --- lookups (media thread) ---------------------------------------------------------- */

static struct source *
find_source(struct media *m, int64_t conf, int index)
{
	for (guint i = 0; i < m->sources->len; i++) {
		struct source *s = g_ptr_array_index(m->sources, i);
		if (s->conf == conf && s->index == index)
			return s;
	}
	return NULL;
}

static struct viewer *
find_viewer(struct media *m, uint64_t id)
{
	for (guint i = 0; i < m->viewers->len; i++) {
		struct viewer *v = g_ptr_array_index(m->viewers, i);
		if (v->id == id)
			return v;
	}
	return NULL;
}

/* --- viewers --------------------------------------------------------------------------- */

static void mix_detach(struct viewer *v);
static void mix_release(struct viewer *v);

/*
 * A closed viewer's pipeline (already in NULL), kept a while before it is
 * freed: GStreamer 1.22's libnice ICE thread may still deliver "candidate
 * gathering done" for it, and it crashed the server when webrtcbin's
 * transports were already gone (a viewer closed within moments of its
 * offer: a browser leaving at once). Freed at once when gathering had
 * finished, else GRAVE_US later, or at stop.
 */
#define GRAVE_US (5 * G_USEC_PER_SEC)

struct grave {
	GstElement *pipe;
	gint64 until_us;
};

static void
bury(struct media *m, GstElement *pipe, GstElement *webrtc)
{
	GstWebRTCICEGatheringState st = GST_WEBRTC_ICE_GATHERING_STATE_NEW;
	g_object_get(webrtc, "ice-gathering-state", &st, NULL);
	if (st == GST_WEBRTC_ICE_GATHERING_STATE_COMPLETE) {
		gst_object_unref(pipe);
		return;
	}
	struct grave *g = g_new0(struct grave, 1);
	g->pipe = pipe;
	g->until_us = g_get_monotonic_time() + GRAVE_US;
	g_ptr_array_add(m->graves, g);
}

/* Free the pipelines whose time is up (all of them with all set). */
static void
bury_due(struct media *m, int all)
{
	gint64 now = g_get_monotonic_time();
	for (guint i = 0; i < m->graves->len;) {
		struct grave *g = g_ptr_array_index(m->graves, i);
		if (all || now >= g->until_us) {
			gst_object_unref(g->pipe);
			g_free(g);
			g_ptr_array_remove_index_fast(m->graves, i);
		} else {
			i++;
		}
	}
}

/* At stop: the youngest closed pipeline gets a second to finish gathering, then all are freed. */
static void
bury_at_stop(struct media *m)
{
	gint64 youngest = 0;
	for (guint i = 0; i < m->graves->len; i++) {
		struct grave *g = g_ptr_array_index(m->graves, i);
		if (g->until_us - GRAVE_US > youngest)
			youngest = g->until_us - GRAVE_US;
	}
	gint64 wait = youngest + G_USEC_PER_SEC - g_get_monotonic_time();
	if (m->graves->len && wait > 0)
		g_usleep((gulong)wait); /* the media thread, at stop only */
	bury_due(m, 1);
}

static void
viewer_close(struct viewer *v, const char *state, const char *code, const char *why)
{
	struct media *m = v->m;
	if (v->mix)
		mix_detach(v);
	if (v->src) {
		g_mutex_lock(&v->src->lock);
		g_ptr_array_remove(v->src->viewers, v);
		g_mutex_unlock(&v->src->lock);
	}
	g_ptr_array_remove(m->viewers, v);
	if (v->bus_watch) {
		g_source_destroy(v->bus_watch);
		g_source_unref(v->bus_watch);
	}
	if (v->pipe) {
		g_signal_handlers_disconnect_by_data(v->webrtc, v);
		gst_element_set_state(v->pipe, GST_STATE_NULL);
		bury(m, v->pipe, v->webrtc);
	}
	if (v->vcaps)
		gst_caps_unref(v->vcaps);
	if (v->mix)
		mix_release(v);
	post(m, MEDIA_EV_PEER, v->src ? v->src->conf : 0, v->src ? v->src->index : 0, v->id, state,
	    code, why);
	g_atomic_int_add(&m->n_viewers, -1);
	g_free(v);
}

/* Close a viewer by id from another thread's callback, on the media thread. */
struct close_req {
	struct media *m;
	uint64_t peer;
	char code[32];
	char why[160];
};

static gboolean
close_later_cb(gpointer p)
{
	struct close_req *r = p;
	struct viewer *v = find_viewer(r->m, r->peer);
	if (v)
		viewer_close(v, "failed", r->code, r->why);
	return G_SOURCE_REMOVE;
}

static void
close_later(struct media *m, uint64_t peer, const char *code, const char *why)
{
	struct close_req *r = g_new0(struct close_req, 1);
	r->m = m;
	r->peer = peer;
	g_strlcpy(r->code, code, sizeof r->code);
	g_strlcpy(r->why, why, sizeof r->why);
	g_main_context_invoke_full(m->gctx, G_PRIORITY_DEFAULT, close_later_cb, r, g_free);
}

/* webrtcbin's thread: a local candidate for the browser. */
static void
on_ice_candidate(GstElement *webrtc, guint mline, gchar *candidate, gpointer p)
{
	struct viewer *v = p;
	struct media_event *ev = event_new(MEDIA_EV_ICE, 0, 0, v->id, NULL, NULL, candidate);
	ev->mline = (int)mline;
	enqueue(v->m, ev);
}

static void
on_ice_state(GstElement *webrtc, GParamSpec *ps, gpointer p)
{
	struct viewer *v = p;
	GstWebRTCICEConnectionState st;
	g_object_get(webrtc, "ice-connection-state", &st, NULL);
	if (st == GST_WEBRTC_ICE_CONNECTION_STATE_CONNECTED ||
	    st == GST_WEBRTC_ICE_CONNECTION_STATE_COMPLETED) {
		if (!g_atomic_int_get(&v->connected)) {
			g_atomic_int_set(&v->connected, 1);
			post(v->m, MEDIA_EV_PEER, 0, 0, v->id, "connected", NULL, NULL);
		}
	} else if (st == GST_WEBRTC_ICE_CONNECTION_STATE_FAILED) {
		close_later(v->m, v->id, "ice_failed", "no network path to the browser (ICE failed)");
	}
}

struct offer_ctx {
	struct media *m;
	uint64_t peer;
	GstElement *webrtc; /* a reference */
};

static void
offer_ctx_free(gpointer p)
{
	struct offer_ctx *o = p;
	gst_object_unref(o->webrtc);
	g_free(o);
}

/*
 * webrtcbin's thread: an offer or answer (kind) is ready; keep it as the
 * local description and send it to the browser as event ev.
 */
static void
sdp_ready(GstPromise *promise, struct offer_ctx *o, const char *kind, enum media_ev ev,
    const char *fail_code, const char *fail_why)
{
	const GstStructure *reply = NULL;
	GstWebRTCSessionDescription *desc = NULL;
	if (gst_promise_wait(promise) == GST_PROMISE_RESULT_REPLIED)
		reply = gst_promise_get_reply(promise);
	if (reply)
		gst_structure_get(reply, kind, GST_TYPE_WEBRTC_SESSION_DESCRIPTION, &desc, NULL);
	gst_promise_unref(promise);
	if (desc == NULL) {
		close_later(o->m, o->peer, fail_code, fail_why);
		return;
	}
	g_signal_emit_by_name(o->webrtc, "set-local-description", desc, NULL);
	gchar *text = gst_sdp_message_as_text(desc->sdp);
	post(o->m, ev, 0, 0, o->peer, NULL, NULL, text);
	g_free(text);
	gst_webrtc_session_description_free(desc);
}

static void
on_offer(GstPromise *promise, gpointer p)
{
	sdp_ready(promise, p, "offer", MEDIA_EV_OFFER, "offer_failed",
	    "webrtcbin could not make an offer");
}

static gboolean
on_viewer_bus(GstBus *bus, GstMessage *msg, gpointer p)
{
	struct viewer *v = p;
	if (GST_MESSAGE_TYPE(msg) == GST_MESSAGE_ERROR) {
		GError *err = NULL;
		gst_message_parse_error(msg, &err, NULL);
		char why[200];
		snprintf(why, sizeof why, "viewer pipeline: %s", err ? err->message : "error");
		g_clear_error(&err);
		v->bus_watch = NULL; /* removed by returning FALSE */
		g_source_unref(g_main_current_source());
		viewer_close(v, "failed", "pipeline_error", why);
		return G_SOURCE_REMOVE;
	}
	return G_SOURCE_CONTINUE;
}

static GstElement *
make(const char *factory)
{
	GstElement *e = gst_element_factory_make(factory, NULL);
	if (e == NULL)
		g_error("GStreamer element %s is missing (install the gstreamer1.0-plugins-* packages)",
		    factory);
	return e;
}

/* appsrc -> payloader -> a webrtcbin sink pad whose transceiver sends these caps only. */
/*
 * An upstream event at a viewer's video appsrc: webrtcbin's force-key-unit
 * when the browser sends PLI or FIR. The viewer's source is asked (at most
 * once a second, whoever asks); the event itself ends here.
 */
static GstPadProbeReturn
on_viewer_key_request(GstPad *pad, GstPadProbeInfo *info, gpointer p)
{
	struct viewer *v = p;
	GstEvent *ev = GST_PAD_PROBE_INFO_EVENT(info);
	if (!gst_video_event_is_force_key_unit(ev))
		return GST_PAD_PROBE_OK;
	struct source *s = v->src; /* a viewer never outlives its source's pipeline */
	if (s)
		request_keyframe(s);
	return GST_PAD_PROBE_DROP;
}

static int
add_branch(struct viewer *v, GstCaps *caps, const char *pay_name, const char *rtp_caps,
    GstAppSrc **out)
{
	GstElement *src = make("appsrc"), *pay = make(pay_name);
	g_object_set(src, "is-live", TRUE, "format", GST_FORMAT_TIME, "do-timestamp", TRUE,
	    "caps", caps, "max-bytes", (guint64)(v->m->o.viewer_bytes * 2), NULL);
	gst_util_set_object_arg(G_OBJECT(src), "leaky-type", "downstream");
	if (strcmp(pay_name, "rtph264pay") == 0) {
		g_object_set(pay, "config-interval", -1, "pt", 96, NULL);
		gst_util_set_object_arg(G_OBJECT(pay), "aggregate-mode", "zero-latency");
		/* The browser lost its picture (RTCP PLI/FIR, via webrtcbin): ask the source too. */
		GstPad *sp = gst_element_get_static_pad(src, "src");
		gst_pad_add_probe(sp, GST_PAD_PROBE_TYPE_EVENT_UPSTREAM, on_viewer_key_request, v, NULL);
		gst_object_unref(sp);
	} else {
		g_object_set(pay, "pt", 97, NULL);
	}
	gst_bin_add_many(GST_BIN(v->pipe), src, pay, NULL);
	if (!gst_element_link(src, pay))
		return -1;
	GstCaps *rc = gst_caps_from_string(rtp_caps);
	GstPadTemplate *t = gst_element_get_pad_template(v->webrtc, "sink_%u");
	GstPad *sink = gst_element_request_pad(v->webrtc, t, NULL, rc);
	if (sink == NULL) {
		gst_caps_unref(rc);
		return -1;
	}
	GstPad *srcpad = gst_element_get_static_pad(pay, "src");
	int ok = gst_pad_link(srcpad, sink) == GST_PAD_LINK_OK;
	gst_object_unref(srcpad);
	GstWebRTCRTPTransceiver *trans = NULL;
	g_object_get(sink, "transceiver", &trans, NULL);
	if (trans) {
		g_object_set(trans, "direction", GST_WEBRTC_RTP_TRANSCEIVER_DIRECTION_SENDONLY,
		    "codec-preferences", rc, NULL);
		gst_object_unref(trans);
	}
	gst_caps_unref(rc);
	gst_object_unref(sink);
	*out = GST_APP_SRC(src);
	return ok ? 0 : -1;
}

static void
viewer_new(struct media *m, uint64_t id, int64_t conf, int index)
{
	struct source *s = find_source(m, conf, index);
	if (find_viewer(m, id)) {
		post(m, MEDIA_EV_PEER, conf, index, id, "failed", "duplicate_peer", "that peer id is taken");
		return;
	}
	if (s == NULL) {
		post(m, MEDIA_EV_PEER, conf, index, id, "failed", "no_source",
		    "the conference has no such source");
		return;
	}
	g_mutex_lock(&s->lock);
	GstCaps *vcaps = s->vcaps ? gst_caps_ref(s->vcaps) : NULL;
	GstCaps *acaps = s->acaps ? gst_caps_ref(s->acaps) : NULL;
	char plid[7];
	g_strlcpy(plid, s->plid, sizeof plid);
	g_mutex_unlock(&s->lock);
	if (s->state != S_LIVE || vcaps == NULL || plid[0] == '\0') {
		if (vcaps)
			gst_caps_unref(vcaps);
		if (acaps)
			gst_caps_unref(acaps);
		post(m, MEDIA_EV_PEER, conf, index, id, "failed", "source_not_live",
		    "the source is not live yet; join again when it is");
		return;
	}
	struct viewer *v = g_new0(struct viewer, 1);
	v->m = m;
	v->id = id;
	v->src = s;
	v->need_key = 1;
	v->created_us = g_get_monotonic_time();
	v->pipe = gst_pipeline_new(NULL);
	v->webrtc = make("webrtcbin");
	gst_util_set_object_arg(G_OBJECT(v->webrtc), "bundle-policy", "max-bundle");
	gst_bin_add(GST_BIN(v->pipe), v->webrtc);
	char video_caps[256];
	snprintf(video_caps, sizeof video_caps,
	    "application/x-rtp,media=video,encoding-name=H264,payload=96,clock-rate=90000,"
	    "packetization-mode=(string)1,profile-level-id=(string)%s", plid);
	int bad = add_branch(v, vcaps, "rtph264pay", video_caps, &v->vsrc);
	v->vcaps = vcaps;
	if (!bad && acaps)
		bad = add_branch(v, acaps, "rtpopuspay",
		    "application/x-rtp,media=audio,encoding-name=OPUS,payload=97,clock-rate=48000,"
		    "encoding-params=(string)2", &v->asrc);
	if (acaps)
		gst_caps_unref(acaps);
	g_atomic_int_add(&m->n_viewers, 1);
	g_ptr_array_add(m->viewers, v);
	if (bad) {
		v->src = NULL;
		viewer_close(v, "failed", "pipeline_error", "could not build the viewer pipeline");
		return;
	}
	g_signal_connect(v->webrtc, "on-ice-candidate", G_CALLBACK(on_ice_candidate), v);
	g_signal_connect(v->webrtc, "notify::ice-connection-state", G_CALLBACK(on_ice_state), v);
	GstBus *bus = gst_pipeline_get_bus(GST_PIPELINE(v->pipe));
	v->bus_watch = gst_bus_create_watch(bus);
	g_source_set_callback(v->bus_watch, (GSourceFunc)(void (*)(void))on_viewer_bus, v, NULL);
	g_source_attach(v->bus_watch, m->gctx);
	gst_object_unref(bus);
	if (gst_element_set_state(v->pipe, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE) {
		v->src = NULL;
		viewer_close(v, "failed", "pipeline_error", "the viewer pipeline would not start");
		return;
	}
	/* Fed from now on, at the next keyframe, which the source is asked for. */
	g_mutex_lock(&s->lock);
	g_ptr_array_add(s->viewers, v);
	g_mutex_unlock(&s->lock);
	request_keyframe(s);
	struct offer_ctx *o = g_new0(struct offer_ctx, 1);
	o->m = m;
	o->peer = id;
	o->webrtc = gst_object_ref(v->webrtc);
	GstPromise *pr = gst_promise_new_with_change_func(on_offer, o, offer_ctx_free);
	g_signal_emit_by_name(v->webrtc, "create-offer", NULL, pr);
}

static void
viewer_answer(struct media *m, uint64_t id, const char *sdp)
{
	struct viewer *v = find_viewer(m, id);
	if (v == NULL)
		return;
	if (v->answered) {
		post(m, MEDIA_EV_PEER, 0, 0, id, "error", "already_answered",
		    "this peer has its answer already");
		return;
	}
	int h = media_sdp_has_h264(sdp, strlen(sdp));
	if (h != 1) {
		viewer_close(v, "failed", h < 0 ? "invalid_sdp" : "no_h264",
		    h < 0 ? "the answer is not SDP"
			  : "the browser's answer accepts no H.264 video; this bridge passes H.264 through");
		return;
	}
	GstSDPMessage *msg = NULL;
	gst_sdp_message_new_from_text(sdp, &msg);
	GstWebRTCSessionDescription *d = gst_webrtc_session_description_new(GST_WEBRTC_SDP_TYPE_ANSWER,
	    msg);
	g_signal_emit_by_name(v->webrtc, "set-remote-description", d, NULL);
	gst_webrtc_session_description_free(d);
	v->answered = 1;
}

static void
viewer_ice(struct media *m, uint64_t id, int mline, const char *cand)
{
	struct viewer *v = find_viewer(m, id);
	if (v == NULL || cand == NULL || cand[0] == '\0')
		return;
	g_signal_emit_by_name(v->webrtc, "add-ice-candidate", (guint)mline, cand);
}

/*
 * b into appsrc as, without its timestamps: the receiving pipeline stamps it
 * on arrival (do-timestamp), so a source that restarts its clock disturbs
 * nobody. The copy shares b's memory; only the metadata is new.
 */
/*
 * Ask the source for a keyframe, at most once a second: an upstream
 * force-key-unit event from the video appsink, which rtspsrc's RTP session
 * turns into RTCP PLI or FIR when the source's SDP offers them (rtcp-fb).
 * The session needs the stream's SSRC and payload type in the event. SRT and
 * RTP-pushed sources have no way back: there the event goes nowhere and a
 * viewer waits for the next keyframe. Any thread.
 */
static void
request_keyframe(struct source *s)
{
	gint64 now = g_get_monotonic_time();
	g_mutex_lock(&s->lock);
	GstElement *sink = s->vsink && now - s->key_asked_us >= G_USEC_PER_SEC
	    ? gst_object_ref(s->vsink) : NULL;
	guint ssrc = s->rtp_ssrc, pt = s->rtp_pt;
	if (sink)
		s->key_asked_us = now;
	g_mutex_unlock(&s->lock);
	if (sink == NULL)
		return;
	GstEvent *ev = gst_video_event_new_upstream_force_key_unit(GST_CLOCK_TIME_NONE, TRUE, 0);
	if (pt)
		gst_structure_set(gst_event_writable_structure(ev), "ssrc", G_TYPE_UINT, ssrc,
		    "payload", G_TYPE_UINT, pt, NULL);
	gst_element_send_event(sink, ev);
	gst_object_unref(sink);
	g_mutex_lock(&s->m->stats_lock);
	s->m->key_requests++;
	g_mutex_unlock(&s->m->stats_lock);
}

static void
push_untimed(GstAppSrc *as, GstBuffer *b)
{
	GstBuffer *c = gst_buffer_copy(b);
	GST_BUFFER_PTS(c) = GST_BUFFER_DTS(c) = GST_BUFFER_DURATION(c) = GST_CLOCK_TIME_NONE;
	gst_app_src_push_buffer(as, c);
}

/* A streaming thread, s->lock held: one sample to one viewer's appsrc. */
static void
feed(struct media *m, struct viewer *v, GstAppSrc *as, GstBuffer *b, GstCaps *caps, int video,
    int key)
{
	if (as == NULL)
		return;
	if (video) {
		if (v->need_key && !key)
			return;
		if (gst_app_src_get_current_level_bytes(as) > m->o.viewer_bytes) {
			/* Falling behind: drop until the next keyframe rather than grow. */
			v->need_key = 1;
			g_mutex_lock(&m->stats_lock);
			m->skipped++;
			g_mutex_unlock(&m->stats_lock);
			return;
		}
		v->need_key = 0;
		if (caps && v->vcaps && !gst_caps_is_equal(caps, v->vcaps)) {
			gst_caps_unref(v->vcaps);
			v->vcaps = gst_caps_ref(caps);
			gst_app_src_set_caps(as, caps);
		}
	} else if (gst_app_src_get_current_level_bytes(as) > m->o.viewer_bytes) {
		return;
	}
	push_untimed(as, b);
}

/* --- sources ----------------------------------------------------------------------------- */

static void rec_feed(struct media *m, struct recorder *r, GstBuffer *b, int video, int key);

static void source_connect(struct source *s);

static void
set_state(struct source *s, enum src_state st, const char *code, const char *why)
{
	if (s->state == st && strcmp(s->code, code ? code : "") == 0)
		return;
	s->state = st;
	g_strlcpy(s->code, code ? code : "", sizeof s->code);
	post(s->m, MEDIA_EV_SOURCE, s->conf, s->index, 0, state_names[st], s->code, why);
}

/*
 * The profile-level-id of the stream: from the avcC record in the caps
 * (codec_data: version, profile, compatibility, level, ...), else from the
 * first SPS among the access unit's length-prefixed NAL units.
 */
static void
read_plid(GstBuffer *b, GstCaps *caps, char out[7])
{
	const GstStructure *st = caps ? gst_caps_get_structure(caps, 0) : NULL;
	const GValue *cd = st ? gst_structure_get_value(st, "codec_data") : NULL;
	GstMapInfo map;
	if (cd && G_VALUE_HOLDS(cd, GST_TYPE_BUFFER)) {
		GstBuffer *avcc = gst_value_get_buffer(cd);
		if (gst_buffer_map(avcc, &map, GST_MAP_READ)) {
			if (map.size >= 4 && map.data[0] == 1)
				snprintf(out, 7, "%02x%02x%02x", map.data[1], map.data[2], map.data[3]);
			gst_buffer_unmap(avcc, &map);
			if (out[0])
				return;
		}
	}
	if (!gst_buffer_map(b, &map, GST_MAP_READ))
		return;
	const guint8 *d = map.data;
	for (gsize i = 0; i + 4 < map.size;) {
		gsize n = (gsize)d[i] << 24 | (gsize)d[i + 1] << 16 | (gsize)d[i + 2] << 8 | d[i + 3];
		if (n == 0 || n > map.size - i - 4)
			break;
		if ((d[i + 4] & 0x1f) == 7 && n >= 4) {
			snprintf(out, 7, "%02x%02x%02x", d[i + 5], d[i + 6], d[i + 7]);
			break;
		}
		i += 4 + n;
	}
	gst_buffer_unmap(b, &map);
}

static GstFlowReturn
on_sample(GstAppSink *sink, gpointer p, int video)
{
	struct source *s = p;
	struct media *m = s->m;
	GstSample *smp = gst_app_sink_pull_sample(sink);
	if (smp == NULL)
		return GST_FLOW_EOS;
	GstBuffer *b = gst_sample_get_buffer(smp);
	GstCaps *caps = gst_sample_get_caps(smp);
	int key = !GST_BUFFER_FLAG_IS_SET(b, GST_BUFFER_FLAG_DELTA_UNIT);
	g_mutex_lock(&s->lock);
	if (video) {
		if (key && s->plid[0] == '\0')
			read_plid(b, caps, s->plid);
		if (caps && (s->vcaps == NULL || !gst_caps_is_equal(caps, s->vcaps)))
			gst_caps_replace(&s->vcaps, caps);
		if (!s->got_video)
			s->video_since_us = g_get_monotonic_time();
		s->got_video = 1;
		s->last_sample_us = g_get_monotonic_time();
	} else if (caps && (s->acaps == NULL || !gst_caps_is_equal(caps, s->acaps))) {
		gst_caps_replace(&s->acaps, caps);
	}
	for (guint i = 0; i < s->viewers->len; i++) {
		struct viewer *v = g_ptr_array_index(s->viewers, i);
		feed(m, v, video ? v->vsrc : v->asrc, b, caps, video, key);
	}
	if (s->rec)
		rec_feed(m, s->rec, b, video, key);
	if (s->hls)
		rec_feed(m, s->hls, b, video, key);
	g_mutex_unlock(&s->lock);
	gst_sample_unref(smp);
	g_mutex_lock(&m->stats_lock);
	m->samples++;
	g_mutex_unlock(&m->stats_lock);
	return GST_FLOW_OK;
}

static GstFlowReturn
on_video_sample(GstAppSink *sink, gpointer p)
{
	return on_sample(sink, p, 1);
}

static GstFlowReturn
on_audio_sample(GstAppSink *sink, gpointer p)
{
	return on_sample(sink, p, 0);
}

static GstElement *
new_appsink(struct source *s, int video)
{
	GstElement *e = make("appsink");
	/*
	 * async FALSE: the pipeline reaches PLAYING without a preroll buffer. An
	 * rtp:// source's jitter buffers push only on the running clock, so a sink
	 * waiting for its first buffer to commit PAUSED would wait for ever.
	 */
	g_object_set(e, "sync", FALSE, "async", FALSE, "max-buffers", 200, "drop", TRUE,
	    "emit-signals", FALSE, NULL);
	GstAppSinkCallbacks cb = { 0 };
	cb.new_sample = video ? on_video_sample : on_audio_sample;
	gst_app_sink_set_callbacks(GST_APP_SINK(e), &cb, s, NULL);
	if (video) {
		g_mutex_lock(&s->lock);
		gst_object_replace((GstObject **)&s->vsink, GST_OBJECT(e));
		g_mutex_unlock(&s->lock);
	}
	return e;
}

/* Link a chain of new elements after pad and start them with the pipeline. */
static void
attach_chain(struct source *s, GstPad *pad, GstElement **chain, int n)
{
	for (int i = 0; i < n; i++)
		gst_bin_add(GST_BIN(s->pipe), chain[i]);
	for (int i = 0; i + 1 < n; i++)
		gst_element_link(chain[i], chain[i + 1]);
	for (int i = n - 1; i >= 0; i--)
		gst_element_sync_state_with_parent(chain[i]);
	GstPad *sink = gst_element_get_static_pad(chain[0], "sink");
	gst_pad_link(pad, sink);
	gst_object_unref(sink);
}

/*
 * H.264 from pad (RTP when depay is given, else elementary) into the source's
 * video appsink: one shared parse, parameter sets repeated at every keyframe.
 */
static void
attach_h264(struct source *s, GstPad *pad, GstElement *depay)
{
	GstElement *parse = make("h264parse"), *filter = make("capsfilter");
	g_object_set(parse, "config-interval", -1, NULL);
	/*
	 * AVC (length-prefixed) access units: GStreamer 1.22's rtph264pay
	 * mangles this source's Annex B byte-stream (Chromium and avdec_h264
	 * then decode every frame with empty chroma planes: a green picture
	 * with the moving parts on it), while the same access units as AVC
	 * pass through intact. The recorder's and HLS's own h264parse
	 * convert back to byte-stream where their muxers want it.
	 */
	GstCaps *want = gst_caps_from_string("video/x-h264,stream-format=avc,alignment=au");
	g_object_set(filter, "caps", want, NULL);
	gst_caps_unref(want);
	GstElement *chain[] = { depay, parse, filter, new_appsink(s, 1) };
	attach_chain(s, pad, depay ? chain : chain + 1, depay ? 4 : 3);
}

/* Opus from pad (RTP when depay is given) into the source's audio appsink. */
static void
attach_opus(struct source *s, GstPad *pad, GstElement *depay)
{
	g_mutex_lock(&s->lock);
	s->want_audio = 1;
	g_mutex_unlock(&s->lock);
	GstElement *chain[] = { depay ? depay : make("opusparse"), new_appsink(s, 0) };
	attach_chain(s, pad, chain, 2);
}

/* A stream the bridge does not pass through: drained; a video codec is reported. */
static void
attach_other(struct source *s, GstPad *pad, int video, const char *enc)
{
	if (video) {
		g_mutex_lock(&s->lock);
		snprintf(s->unsupported, sizeof s->unsupported, "%s", enc ? enc : "?");
		g_mutex_unlock(&s->lock);
	}
	GstElement *sink = make("fakesink");
	g_object_set(sink, "sync", FALSE, NULL);
	attach_chain(s, pad, &sink, 1);
}

static GstCaps *
pad_caps(GstPad *pad)
{
	GstCaps *caps = gst_pad_get_current_caps(pad);
	return caps ? caps : gst_pad_query_caps(pad, NULL);
}

/* rtspsrc's streaming thread: one RTP stream of the source appeared. */
static void
on_pad_added(GstElement *rtspsrc, GstPad *pad, gpointer p)
{
	struct source *s = p;
	GstCaps *caps = pad_caps(pad);
	const GstStructure *st = gst_caps_get_structure(caps, 0);
	const char *media = gst_structure_get_string(st, "media");
	const char *enc = gst_structure_get_string(st, "encoding-name");
	if (media && enc && strcmp(media, "video") == 0 && g_ascii_strcasecmp(enc, "H264") == 0) {
		int pt = 0;
		guint ssrc = 0;
		gst_structure_get_int(st, "payload", &pt);
		gst_structure_get_uint(st, "ssrc", &ssrc);
		g_mutex_lock(&s->lock);
		s->rtp_pt = (guint)pt;
		s->rtp_ssrc = ssrc;
		g_mutex_unlock(&s->lock);
		attach_h264(s, pad, make("rtph264depay"));
	}
	else if (media && enc && strcmp(media, "audio") == 0 && g_ascii_strcasecmp(enc, "OPUS") == 0)
		attach_opus(s, pad, make("rtpopusdepay"));
	else
		attach_other(s, pad, media && strcmp(media, "video") == 0, enc);
	gst_caps_unref(caps);
}

/* tsdemux's streaming thread (SRT sources): one elementary stream of the MPEG-TS appeared. */
static void
on_ts_pad_added(GstElement *demux, GstPad *pad, gpointer p)
{
	struct source *s = p;
	GstCaps *caps = pad_caps(pad);
	const char *name = gst_structure_get_name(gst_caps_get_structure(caps, 0));
	if (strcmp(name, "video/x-h264") == 0)
		attach_h264(s, pad, NULL);
	else if (strcmp(name, "audio/x-opus") == 0)
		attach_opus(s, pad, NULL);
	else
		attach_other(s, pad, g_str_has_prefix(name, "video/"), name);
	gst_caps_unref(caps);
}

/* --- recording ----------------------------------------------------------------------------- */

/* A streaming thread, s->lock held: one sample into the recording (from a keyframe on). */
static void
rec_feed(struct media *m, struct recorder *r, GstBuffer *b, int video, int key)
{
	GstAppSrc *as = video ? r->v : r->a;
	GstClockTime pts = GST_BUFFER_PTS(b), dts = GST_BUFFER_DTS(b);
	if (as == NULL || (r->need_key && !(video && key)) || !GST_CLOCK_TIME_IS_VALID(pts))
		return;
	if (gst_app_src_get_current_level_bytes(as) > m->o.viewer_bytes) {
		r->need_key = 1; /* the disk is not keeping up: skip to the next keyframe */
		return;
	}
	/*
	 * The source's own timestamps (the ingest's running time, smoothed by the
	 * jitter buffer), from the first keyframe: segment lengths are the
	 * stream's real time, whatever the load on this machine.
	 */
	if (!GST_CLOCK_TIME_IS_VALID(r->base))
		r->base = pts;
	if (pts < r->base)
		return;
	r->need_key = 0;
	GstBuffer *c = gst_buffer_copy(b);
	GST_BUFFER_PTS(c) = pts - r->base;
	GST_BUFFER_DTS(c) = GST_CLOCK_TIME_IS_VALID(dts) && dts >= r->base ? dts - r->base : pts - r->base;
	gst_app_src_push_buffer(as, c);
}

/* splitmuxsink's element messages: a segment opened or closed (closed: posted to the loop). */
static void
rec_message(struct recorder *r, GstMessage *msg)
{
	const GstStructure *st = gst_message_get_structure(msg);
	if (st == NULL || r->hls)
		return;
	const char *loc = gst_structure_get_string(st, "location");
	guint64 rt = 0;
	gst_structure_get_uint64(st, "running-time", &rt);
	if (gst_structure_has_name(st, "splitmuxsink-fragment-opened") && loc) {
		g_strlcpy(r->opened, loc, sizeof r->opened);
		r->opened_rt = rt;
	} else if (gst_structure_has_name(st, "splitmuxsink-fragment-closed") && loc) {
		struct media *m = r->s->m;
		struct media_event *ev = event_new(MEDIA_EV_SEGMENT, r->s->conf, r->s->index, 0, NULL,
		    NULL, loc);
		ev->duration_ms = strcmp(loc, r->opened) == 0 && rt >= r->opened_rt
		    ? (int64_t)((rt - r->opened_rt) / GST_MSECOND) : -1;
		enqueue(m, ev);
		g_mutex_lock(&m->stats_lock);
		m->segments++;
		g_mutex_unlock(&m->stats_lock);
	}
}

static gboolean
on_rec_bus(GstBus *bus, GstMessage *msg, gpointer p)
{
	struct recorder *r = p;
	if (GST_MESSAGE_TYPE(msg) == GST_MESSAGE_ELEMENT)
		rec_message(r, msg);
	else if (GST_MESSAGE_TYPE(msg) == GST_MESSAGE_ERROR) {
		GError *err = NULL;
		gst_message_parse_error(msg, &err, NULL);
		struct media_event *ev = event_new(MEDIA_EV_SEGMENT, r->s->conf, r->s->index, 0, NULL,
		    r->hls ? "hls_failed" : "recording_failed", err ? err->message : "the recording failed");
		ev->duration_ms = -1;
		enqueue(r->s->m, ev);
		g_clear_error(&err);
	}
	return G_SOURCE_CONTINUE;
}

/*
 * A new recorder of s (HLS or MP4 segments): its pipeline, no elements yet,
 * and the source's caps as they are now. NULL until the source has video.
 */
static struct recorder *
rec_new(struct source *s, int hls, GstCaps **vcaps, GstCaps **acaps)
{
	g_mutex_lock(&s->lock);
	*vcaps = s->vcaps ? gst_caps_ref(s->vcaps) : NULL;
	*acaps = s->acaps ? gst_caps_ref(s->acaps) : NULL;
	g_mutex_unlock(&s->lock);
	if (*vcaps == NULL) {
		if (*acaps)
			gst_caps_unref(*acaps);
		return NULL;
	}
	struct recorder *r = g_new0(struct recorder, 1);
	r->s = s;
	r->hls = hls;
	r->need_key = 1;
	r->base = GST_CLOCK_TIME_NONE;
	r->pipe = gst_pipeline_new(NULL);
	return r;
}

/* appsrc (caps, taken) -> chain[0..n) -> a new request pad of sink. */
static GstAppSrc *
rec_branch(struct recorder *r, GstCaps *caps, GstElement **chain, int n, GstElement *sink,
    const char *pad)
{
	GstElement *src = make("appsrc");
	g_object_set(src, "is-live", TRUE, "format", GST_FORMAT_TIME, "caps", caps, NULL);
	gst_caps_unref(caps);
	gst_bin_add(GST_BIN(r->pipe), src);
	GstElement *prev = src;
	for (int i = 0; i < n; i++) {
		gst_bin_add(GST_BIN(r->pipe), chain[i]);
		gst_element_link(prev, chain[i]);
		prev = chain[i];
	}
	GstPad *in = gst_element_request_pad_simple(sink, pad);
	GstPad *out = gst_element_get_static_pad(prev, "src");
	gst_pad_link(out, in);
	gst_object_unref(out);
	gst_object_unref(in);
	return GST_APP_SRC(src);
}

/* Watch the recorder's bus on the media thread, start it, and hand it to the feeders in *slot. */
static void
rec_run(struct source *s, struct recorder *r, struct recorder **slot)
{
	GstBus *bus = gst_pipeline_get_bus(GST_PIPELINE(r->pipe));
	r->bus_watch = gst_bus_create_watch(bus);
	g_source_set_callback(r->bus_watch, (GSourceFunc)(void (*)(void))on_rec_bus, r, NULL);
	g_source_attach(r->bus_watch, s->m->gctx);
	gst_object_unref(bus);
	gst_element_set_state(r->pipe, GST_STATE_PLAYING);
	g_mutex_lock(&s->lock);
	*slot = r;
	g_mutex_unlock(&s->lock);
}

static void
rec_start(struct source *s)
{
	struct media *m = s->m;
	if (m->rec_dir[0] == '\0' || s->rec)
		return;
	GstCaps *vcaps, *acaps;
	struct recorder *r = rec_new(s, 0, &vcaps, &acaps);
	if (r == NULL)
		return;
	GstElement *mux = make("splitmuxsink"), *mp4 = make("mp4mux");
	char *loc = g_strdup_printf("%s/conf%lld-s%d-%lld-%%05d.mp4", m->rec_dir, (long long)s->conf,
	    s->index, (long long)(g_get_real_time() / 1000000));
	/*
	 * The muxer waits up to 3 s for a stream that lags (a loaded machine
	 * delivers video and audio unevenly): with no latency it timed a late
	 * stream out, and a segment came out with its video missing or cut.
	 */
	g_object_set(mp4, "latency", (guint64)3 * GST_SECOND, NULL);
	g_object_set(mux, "location", loc, "max-size-time",
	    (guint64)m->o.segment_s * GST_SECOND, "muxer", mp4, NULL);
	g_free(loc);
	gst_bin_add(GST_BIN(r->pipe), mux);
	GstElement *vchain[] = { make("h264parse") };
	r->v = rec_branch(r, vcaps, vchain, 1, mux, "video");
	if (acaps) {
		GstElement *achain[] = { make("opusparse") };
		r->a = rec_branch(r, acaps, achain, 1, mux, "audio_%u");
	}
	rec_run(s, r, &s->rec);
}

/*
 * Finish the recording: end of stream, so the open segment is finalised and
 * playable, waiting (on the media thread, at most 10 s) for the muxer.
 */
static void
rec_stop_one(struct source *s, struct recorder **slot)
{
	g_mutex_lock(&s->lock);
	struct recorder *r = *slot;
	*slot = NULL;
	g_mutex_unlock(&s->lock);
	if (r == NULL)
		return;
	g_source_destroy(r->bus_watch);
	g_source_unref(r->bus_watch);
	gst_app_src_end_of_stream(r->v);
	if (r->a)
		gst_app_src_end_of_stream(r->a);
	GstBus *bus = gst_pipeline_get_bus(GST_PIPELINE(r->pipe));
	for (;;) {
		GstMessage *msg = gst_bus_timed_pop(bus, 10 * GST_SECOND);
		if (msg == NULL)
			break;
		GstMessageType t = GST_MESSAGE_TYPE(msg);
		if (t == GST_MESSAGE_ELEMENT)
			rec_message(r, msg);
		gst_message_unref(msg);
		if (t == GST_MESSAGE_EOS || t == GST_MESSAGE_ERROR)
			break;
	}
	gst_object_unref(bus);
	gst_element_set_state(r->pipe, GST_STATE_NULL);
	gst_object_unref(r->pipe);
	g_free(r);
}

static void
rec_stop(struct source *s)
{
	rec_stop_one(s, &s->rec);
	rec_stop_one(s, &s->hls);
}

/*
 * HLS for passive viewers: H.264 as it comes, Opus decoded and encoded as AAC
 * (what HLS players take), in MPEG-TS segments with a rolling playlist under
 * <hls_dir>/conf<ID>-s<INDEX>/ (served by the server).
 */
static void
hls_start(struct source *s)
{
	struct media *m = s->m;
	if (m->hls_dir[0] == '\0' || s->hls)
		return;
	GstCaps *vcaps, *acaps;
	struct recorder *r = rec_new(s, 1, &vcaps, &acaps);
	if (r == NULL)
		return;
	char *dir = g_strdup_printf("%s/conf%lld-s%d", m->hls_dir, (long long)s->conf, s->index);
	g_mkdir_with_parents(dir, 0750); /* the media thread: never the loop */
	GstElement *sink = make("hlssink2");
	char *loc = g_strdup_printf("%s/segment%%05d.ts", dir);
	char *pl = g_strdup_printf("%s/playlist.m3u8", dir);
	g_object_set(sink, "location", loc, "playlist-location", pl, "target-duration", 2u,
	    "playlist-length", 5u, "max-files", 8u, NULL);
	g_free(loc);
	g_free(pl);
	g_free(dir);
	gst_bin_add(GST_BIN(r->pipe), sink);
	GstElement *vchain[] = { make("h264parse") };
	r->v = rec_branch(r, vcaps, vchain, 1, sink, "video");
	if (acaps) {
		GstElement *achain[] = { make("opusdec"), make("audioconvert"), make("audioresample"),
			make("voaacenc"), make("aacparse") };
		r->a = rec_branch(r, acaps, achain, 5, sink, "audio");
	}
	rec_run(s, r, &s->hls);
}

static void
source_teardown(struct source *s)
{
	rec_stop(s);
	if (s->bus_watch) {
		g_source_destroy(s->bus_watch);
		g_source_unref(s->bus_watch);
		s->bus_watch = NULL;
	}
	if (s->pipe) {
		gst_element_set_state(s->pipe, GST_STATE_NULL);
		gst_object_unref(s->pipe);
		s->pipe = NULL;
	}
	g_mutex_lock(&s->lock);
	gst_object_replace((GstObject **)&s->vsink, NULL);
	s->rtp_ssrc = s->rtp_pt = 0;
	s->got_video = 0;
	s->want_audio = 0;
	s->unsupported[0] = '\0';
	for (guint i = 0; i < s->viewers->len; i++)
		((struct viewer *)g_ptr_array_index(s->viewers, i))->need_key = 1;
	g_mutex_unlock(&s->lock);
}

/* first_ms doubled `doublings` times, at most media.backoff_max_ms. */
static int
backoff_ms(struct media *m, int first_ms, int doublings)
{
	int delay = first_ms;
	for (int i = 0; i < doublings && delay < m->o.backoff_max_ms; i++)
		delay *= 2;
	return delay > m->o.backoff_max_ms ? m->o.backoff_max_ms : delay;
}

/* Run cb(p) on the media thread after delay_ms; *slot holds the timer until it fires. */
static void
retry_later(struct media *m, GSource **slot, int delay_ms, GSourceFunc cb, gpointer p)
{
	*slot = g_timeout_source_new((guint)delay_ms);
	g_source_set_callback(*slot, cb, p, NULL);
	g_source_attach(*slot, m->gctx);
}

static gboolean
retry_cb(gpointer p)
{
	struct source *s = p;
	g_source_unref(s->retry);
	s->retry = NULL;
	source_connect(s);
	return G_SOURCE_REMOVE;
}

/* The attempt failed or the source dropped: tear down, report, try again later. */
static void
source_failed(struct source *s, const char *code, const char *why, int slow)
{
	struct media *m = s->m;
	source_teardown(s);
	s->attempts++;
	g_mutex_lock(&m->stats_lock);
	m->reconnects++;
	g_mutex_unlock(&m->stats_lock);
	enum src_state st = s->attempts >= m->o.down_after || slow ? S_DOWN : S_RECONNECTING;
	set_state(s, st, code, why);
	retry_later(m, &s->retry, slow ? m->o.backoff_max_ms
	    : backoff_ms(m, m->o.backoff_min_ms, s->attempts - 1), retry_cb, s);
}

static gboolean
on_source_bus(GstBus *bus, GstMessage *msg, gpointer p)
{
	struct source *s = p;
	char why[300];
	const char *code = NULL;
	if (GST_MESSAGE_TYPE(msg) == GST_MESSAGE_ERROR) {
		GError *err = NULL;
		gst_message_parse_error(msg, &err, NULL);
		snprintf(why, sizeof why, "%s", err ? err->message : "error");
		g_clear_error(&err);
		code = s->ever_live ? "source_lost" : "unreachable";
	} else if (GST_MESSAGE_TYPE(msg) == GST_MESSAGE_EOS) {
		snprintf(why, sizeof why, "the source ended the stream");
		code = "source_ended";
	}
	if (code == NULL)
		return G_SOURCE_CONTINUE;
	s->bus_watch = NULL; /* this watch goes away with G_SOURCE_REMOVE */
	g_source_unref(g_main_current_source());
	source_failed(s, code, why, 0);
	return G_SOURCE_REMOVE;
}

static const char *const rtp_caps[] = {
	"application/x-rtp,media=video,clock-rate=90000,encoding-name=H264",
	"application/x-rtp,media=audio,clock-rate=48000,encoding-name=OPUS",
};

/*
 * The jitter buffer meets a payload type its caps do not name (any dynamic
 * one the sender chose): the port says what it carries.
 */
static GstCaps *
on_pt_map(GstElement *jb, guint pt, gpointer audio)
{
	GstCaps *c = gst_caps_from_string(rtp_caps[audio != NULL]);
	gst_caps_set_simple(c, "payload", G_TYPE_INT, (int)pt, NULL);
	return c;
}

/* rtp://host:port: udpsrc on port (H.264) and port+2 (Opus), each through a jitter buffer. */
static void
rtp_inputs(struct source *s)
{
	GUri *u = g_uri_parse(s->uri, G_URI_FLAGS_NON_DNS, NULL);
	const char *host = u ? g_uri_get_host(u) : NULL;
	int port = u ? g_uri_get_port(u) : -1;
	for (int i = 0; i < 2 && host && port > 0; i++) {
		GstElement *udp = make("udpsrc"), *jb = make("rtpjitterbuffer");
		GstCaps *c = gst_caps_from_string(rtp_caps[i]);
		g_object_set(udp, "address", host, "port", port + 2 * i, "caps", c, NULL);
		gst_caps_unref(c);
		g_object_set(jb, "latency", (guint)s->m->o.latency_ms, NULL);
		g_signal_connect(jb, "request-pt-map", G_CALLBACK(on_pt_map), i ? jb : NULL);
		gst_bin_add_many(GST_BIN(s->pipe), udp, jb, NULL);
		gst_element_link(udp, jb);
		GstPad *out = gst_element_get_static_pad(jb, "src");
		if (i == 0)
			attach_h264(s, out, make("rtph264depay"));
		else
			attach_opus(s, out, make("rtpopusdepay"));
		gst_object_unref(out);
	}
	if (u)
		g_uri_unref(u);
}

static void
source_connect(struct source *s)
{
	struct media *m = s->m;
	s->ever_live = 0;
	s->pipe = gst_pipeline_new(NULL);
	switch (media_uri_kind(s->uri)) {
	case MEDIA_URI_RTSP: {
		GstElement *src = make("rtspsrc");
		g_object_set(src, "location", s->uri, "latency", (guint)m->o.latency_ms, "tcp-timeout",
		    (guint64)5000000, NULL);
		gst_util_set_object_arg(G_OBJECT(src), "protocols", "tcp");
		g_signal_connect(src, "pad-added", G_CALLBACK(on_pad_added), s);
		gst_bin_add(GST_BIN(s->pipe), src);
		break;
	}
	case MEDIA_URI_SRT: { /* MPEG-TS over SRT; the URI's query (mode, latency, ...) goes to libsrt */
		GstElement *src = make("srtsrc"), *demux = make("tsdemux");
		g_object_set(src, "uri", s->uri, NULL);
		g_signal_connect(demux, "pad-added", G_CALLBACK(on_ts_pad_added), s);
		gst_bin_add_many(GST_BIN(s->pipe), src, demux, NULL);
		gst_element_link(src, demux);
		break;
	}
	case MEDIA_URI_RTP:
		rtp_inputs(s);
		break;
	}
	GstBus *bus = gst_pipeline_get_bus(GST_PIPELINE(s->pipe));
	s->bus_watch = gst_bus_create_watch(bus);
	g_source_set_callback(s->bus_watch, (GSourceFunc)(void (*)(void))on_source_bus, s, NULL);
	g_source_attach(s->bus_watch, m->gctx);
	gst_object_unref(bus);
	g_mutex_lock(&s->lock);
	s->last_sample_us = g_get_monotonic_time();
	g_mutex_unlock(&s->lock);
	if (gst_element_set_state(s->pipe, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE)
		source_failed(s, "unreachable", "the source pipeline would not start", 0);
}

static void
source_add(struct media *m, int64_t conf, int index, const char *uri)
{
	if (find_source(m, conf, index))
		return;
	struct source *s = g_new0(struct source, 1);
	s->m = m;
	s->conf = conf;
	s->index = index;
	s->uri = g_strdup(uri);
	s->state = S_DOWN; /* so that connecting is reported */
	g_mutex_init(&s->lock);
	s->viewers = g_ptr_array_new();
	g_ptr_array_add(m->sources, s);
	g_atomic_int_add(&m->n_sources, 1);
	set_state(s, S_CONNECTING, NULL, NULL);
	source_connect(s);
}

/* Stop pulling a source: its recordings are finished first; its viewers close with code. */
static void
source_remove(struct source *s, const char *code, const char *why)
{
	struct media *m = s->m;
	if (s->retry) {
		g_source_destroy(s->retry);
		g_source_unref(s->retry);
		s->retry = NULL;
	}
	source_teardown(s);
	while (s->viewers->len) {
		struct viewer *v = g_ptr_array_index(s->viewers, 0);
		viewer_close(v, "closed", code, why);
	}
	g_ptr_array_remove(m->sources, s);
	g_atomic_int_add(&m->n_sources, -1);
	g_ptr_array_free(s->viewers, TRUE);
	if (s->vcaps)
		gst_caps_unref(s->vcaps);
	if (s->acaps)
		gst_caps_unref(s->acaps);
	g_mutex_clear(&s->lock);
	g_free(s->uri);
	g_free(s);
}

/* Every 250 ms on the media thread: sources that went live, stalled or cannot pass through; late answers. */
static gboolean
on_tick(gpointer p)
{
	struct media *m = p;
	gint64 now = g_get_monotonic_time();
	bury_due(m, 0);
	for (guint i = 0; i < m->sources->len; i++) {
		struct source *s = g_ptr_array_index(m->sources, i);
		if (s->pipe == NULL)
			continue;
		g_mutex_lock(&s->lock);
		/*
		 * Live once video arrives and, when an Opus stream is attached, its
		 * first sample too (at most 1 s later): the recording and HLS take
		 * the tracks they see at their start. An rtp:// source's audio
		 * comes on a port of its own, a moment after the video or never.
		 */
		int got = s->got_video && (!s->want_audio || s->acaps ||
		    now - s->video_since_us > G_USEC_PER_SEC);
		gint64 last = s->last_sample_us;
		char bad[64];
		g_strlcpy(bad, s->unsupported, sizeof bad);
		g_mutex_unlock(&s->lock);
		if (bad[0]) {
			char why[160];
			snprintf(why, sizeof why,
			    "the source sends %s video; the bridge passes only H.264 through", bad);
			source_failed(s, "unsupported_codec", why, 1);
		} else if (got && s->state != S_LIVE) {
			s->ever_live = 1;
			s->attempts = 0;
			set_state(s, S_LIVE, NULL, NULL);
			rec_start(s);
			hls_start(s);
		} else if (now - last > (gint64)m->o.stall_ms * 1000) {
			source_failed(s, s->ever_live ? "source_lost" : "unreachable",
			    s->ever_live ? "no media from the source" : "no media arrived from the source", 0);
		}
	}
	for (guint i = 0; i < m->viewers->len; i++) {
		struct viewer *v = g_ptr_array_index(m->viewers, i);
		if (!v->answered && now - v->created_us > (gint64)m->o.answer_timeout_ms * 1000) {
			viewer_close(v, "failed", "timeout", "no answer from the browser in time");
			break; /* the array changed; the rest wait for the next tick */
		}
	}
	return G_SOURCE_CONTINUE;
}


/* --- the return feed: publishers mixed (compositor, audiomixer) and sent out ------------------- */

static struct mixer *
find_mixer(struct media *m, int64_t conf)
{
	for (guint i = 0; i < m->mixers->len; i++) {
		struct mixer *x = g_ptr_array_index(m->mixers, i);
		if (x->conf == conf)
			return x;
	}
	return NULL;
}

static void
mix_state(struct mixer *x, const char *state, const char *code, const char *why)
{
	post(x->m, MEDIA_EV_RETURN, x->conf, -1, 0, state, code, why);
}

static int mixer_build(struct mixer *x);

static void
mixer_teardown(struct mixer *x, const char *code)
{
	for (int i = 0; i < MIX_SLOTS; i++)
		if (x->slots[i])
			viewer_close(x->slots[i], "closed", code, NULL);
	if (x->bus_watch) {
		g_source_destroy(x->bus_watch);
		g_source_unref(x->bus_watch);
		x->bus_watch = NULL;
	}
	if (x->pipe) {
		gst_element_set_state(x->pipe, GST_STATE_NULL);
		gst_object_unref(x->vmix);
		gst_object_unref(x->amix);
		gst_object_unref(x->pipe);
		x->pipe = x->vmix = x->amix = NULL;
	}
}

static gboolean
mix_retry_cb(gpointer p)
{
	struct mixer *x = p;
	g_source_unref(x->retry);
	x->retry = NULL;
	mixer_build(x);
	return G_SOURCE_REMOVE;
}

/*
 * The feed failed (an SRT caller finds no listener, the network is gone):
 * report it, drop the pipeline and its publishers (told "return_failed";
 * they may publish again) and rebuild it after a backoff, 1 s doubling up to
 * backoff_max_ms.
 */
static void
mix_failed(struct mixer *x, const char *why)
{
	mix_state(x, "failed", "return_failed", why);
	mixer_teardown(x, "return_failed");
	retry_later(x->m, &x->retry, backoff_ms(x->m, 1000, x->attempts++), mix_retry_cb, x);
}

static gboolean
on_mix_bus(GstBus *bus, GstMessage *msg, gpointer p)
{
	struct mixer *x = p;
	if (GST_MESSAGE_TYPE(msg) == GST_MESSAGE_STATE_CHANGED && GST_MESSAGE_SRC(msg) ==
	    GST_OBJECT(x->pipe) && !x->running) {
		GstState now;
		gst_message_parse_state_changed(msg, NULL, &now, NULL);
		if (now == GST_STATE_PLAYING) {
			x->running = 1;
			mix_state(x, "running", NULL, NULL);
		}
	} else if (GST_MESSAGE_TYPE(msg) == GST_MESSAGE_ERROR) {
		GError *err = NULL;
		gst_message_parse_error(msg, &err, NULL);
		char why[300];
		snprintf(why, sizeof why, "%s", err ? err->message : "the return feed failed");
		g_clear_error(&err);
		x->bus_watch = NULL; /* this watch goes away with G_SOURCE_REMOVE */
		g_source_unref(g_main_current_source());
		mix_failed(x, why);
		return G_SOURCE_REMOVE;
	}
	return G_SOURCE_CONTINUE;
}

/*
 * The mixer's pipeline: a black 640x360 canvas and silence, so the return
 * feed runs even before anyone publishes; publishers are tiled 2x2 on it.
 * Out: H.264 (constrained baseline, SPS/PPS at each keyframe) and Opus, as RTP
 * to host:port and host:port+2, or in MPEG-TS over SRT. 0, or -1 after
 * mix_failed (a retry is scheduled).
 */
static int
mixer_build(struct mixer *x)
{
	GUri *u = g_uri_parse(x->uri, G_URI_FLAGS_NON_DNS | G_URI_FLAGS_ENCODED_QUERY, NULL);
	if (u == NULL) { /* checked before it was stored: cannot happen */
		mix_failed(x, "the return URI cannot be parsed");
		return -1;
	}
	char *vout, *aout, *host = g_strdup(g_uri_get_host(u));
	if (media_uri_kind(x->uri) == MEDIA_URI_RTSP) { /* RTSP record to the province's server */
		gchar *q = g_strescape(x->uri, NULL);
		vout = g_strdup_printf("rtspclientsink name=rcs location=\"%s\" protocols=tcp latency=0", q);
		g_free(q);
		aout = g_strdup("rcs.");
	} else if (media_uri_kind(x->uri) == MEDIA_URI_SRT) {
		gchar *q = g_strescape(x->uri, NULL);
		vout = g_strdup_printf("mpegtsmux name=tsmux alignment=7 ! srtsink uri=\"%s\" sync=false "
		    "async=false wait-for-connection=false", q);
		g_free(q);
		aout = g_strdup("tsmux.");
	} else {
		vout = g_strdup_printf("rtph264pay pt=96 config-interval=-1 ! udpsink host=%s port=%d "
		    "sync=false async=false", host, g_uri_get_port(u));
		aout = g_strdup_printf("rtpopuspay pt=97 ! udpsink host=%s port=%d sync=false async=false",
		    host, g_uri_get_port(u) + 2);
	}
	g_free(host);
	g_uri_unref(u);
	char *desc = g_strdup_printf(
	    "compositor name=vmix background=black ! video/x-raw,width=%d,height=%d,framerate=15/1 ! "
	    "videoconvert ! video/x-raw,format=I420 ! x264enc tune=zerolatency speed-preset=ultrafast "
	    "key-int-max=15 bitrate=1000 ! video/x-h264,profile=constrained-baseline ! "
	    "h264parse config-interval=-1 ! %s "
	    "audiomixer name=amix ! audioconvert ! audioresample ! audio/x-raw,rate=48000,channels=2 ! "
	    "opusenc ! %s "
	    "videotestsrc is-live=true pattern=black ! video/x-raw,width=%d,height=%d,framerate=15/1 ! vmix. "
	    "audiotestsrc is-live=true wave=silence ! audio/x-raw,rate=48000,channels=2 ! amix.",
	    MIX_W, MIX_H, vout, aout, MIX_W, MIX_H);
	g_free(vout);
	g_free(aout);
	GError *err = NULL;
	GstElement *pipe = gst_parse_launch(desc, &err);
	g_free(desc);
	if (pipe == NULL || err) {
		char why[300];
		snprintf(why, sizeof why, "%s", err ? err->message : "the pipeline could not be built");
		g_clear_error(&err);
		if (pipe)
			gst_object_unref(pipe);
		mix_failed(x, why);
		return -1;
	}
	x->pipe = pipe;
	x->running = 0;
	x->vmix = gst_bin_get_by_name(GST_BIN(x->pipe), "vmix");
	x->amix = gst_bin_get_by_name(GST_BIN(x->pipe), "amix");
	GstBus *bus = gst_pipeline_get_bus(GST_PIPELINE(x->pipe));
	x->bus_watch = gst_bus_create_watch(bus);
	g_source_set_callback(x->bus_watch, (GSourceFunc)(void (*)(void))on_mix_bus, x, NULL);
	g_source_attach(x->bus_watch, x->m->gctx);
	gst_object_unref(bus);
	if (gst_element_set_state(x->pipe, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE) {
		mix_failed(x, "the return feed would not start");
		return -1;
	}
	return 0;
}

/* The mixer of a conference, built now (and rebuilt after a failure until the conference closes). */
static void
mixer_start(struct media *m, int64_t conf, const char *uri)
{
	if (find_mixer(m, conf))
		return;
	struct mixer *x = g_new0(struct mixer, 1);
	x->m = m;
	x->conf = conf;
	x->uri = g_strdup(uri);
	g_mutex_init(&x->lock);
	g_ptr_array_add(m->mixers, x);
	mixer_build(x);
}

static void
mixer_free(struct mixer *x, const char *code)
{
	mixer_teardown(x, code);
	if (x->retry) {
		g_source_destroy(x->retry);
		g_source_unref(x->retry);
	}
	g_ptr_array_remove(x->m->mixers, x);
	g_mutex_clear(&x->lock);
	g_free(x->uri);
	g_free(x);
}

/* appsrc (raw, do-timestamp) -> queue -> a new pad of the compositor or the audiomixer. */
static GstElement *
mix_input(struct mixer *x, GstElement *mixer, const char *caps, int xpos, int ypos,
    GstElement **queue, GstPad **pad)
{
	GstElement *src = make("appsrc"), *q = make("queue");
	GstCaps *c = gst_caps_from_string(caps);
	g_object_set(src, "is-live", TRUE, "format", GST_FORMAT_TIME, "do-timestamp", TRUE, "caps", c,
	    "max-bytes", (guint64)(4 << 20), NULL);
	gst_util_set_object_arg(G_OBJECT(src), "leaky-type", "downstream");
	gst_caps_unref(c);
	gst_bin_add_many(GST_BIN(x->pipe), src, q, NULL);
	gst_element_link(src, q);
	*pad = gst_element_request_pad_simple(mixer, "sink_%u");
	if (xpos >= 0)
		g_object_set(*pad, "xpos", xpos, "ypos", ypos, NULL);
	GstPad *qsrc = gst_element_get_static_pad(q, "src");
	gst_pad_link(qsrc, *pad);
	gst_object_unref(qsrc);
	gst_element_sync_state_with_parent(q);
	gst_element_sync_state_with_parent(src);
	*queue = q;
	return src;
}

static GstFlowReturn
on_pub_sample(GstAppSink *sink, gpointer p, int video)
{
	struct viewer *v = p;
	GstSample *smp = gst_app_sink_pull_sample(sink);
	if (smp == NULL)
		return GST_FLOW_EOS;
	g_mutex_lock(&v->mix->lock);
	GstElement *to = video ? v->mv : v->ma;
	if (to)
		push_untimed(GST_APP_SRC(to), gst_sample_get_buffer(smp));
	g_mutex_unlock(&v->mix->lock);
	gst_sample_unref(smp);
	return GST_FLOW_OK;
}

static GstFlowReturn
on_pub_video(GstAppSink *sink, gpointer p)
{
	return on_pub_sample(sink, p, 1);
}

static GstFlowReturn
on_pub_audio(GstAppSink *sink, gpointer p)
{
	return on_pub_sample(sink, p, 0);
}

#define PUB_VIDEO_CAPS "video/x-raw,format=I420,width=320,height=180,framerate=15/1,pixel-aspect-ratio=1/1"
#define PUB_AUDIO_CAPS "audio/x-raw,format=S16LE,layout=interleaved,rate=48000,channels=2"

/* decodebin's streaming thread: a decoded stream of the publisher; scale it to its tile. */
static void
on_pub_decoded(GstElement *decodebin, GstPad *pad, gpointer p)
{
	struct viewer *v = p;
	GstCaps *caps = gst_pad_get_current_caps(pad);
	if (caps == NULL)
		caps = gst_pad_query_caps(pad, NULL);
	const char *name = gst_structure_get_name(gst_caps_get_structure(caps, 0));
	int video = g_str_has_prefix(name, "video/x-raw");
	int audio = g_str_has_prefix(name, "audio/x-raw");
	gst_caps_unref(caps);
	if (!video && !audio)
		return;
	GstElement *conv = make(video ? "videoconvert" : "audioconvert");
	GstElement *scale = make(video ? "videoscale" : "audioresample");
	GstElement *rate = make(video ? "videorate" : "identity");
	GstElement *filter = make("capsfilter"), *sink = make("appsink");
	GstCaps *want = gst_caps_from_string(video ? PUB_VIDEO_CAPS : PUB_AUDIO_CAPS);
	g_object_set(filter, "caps", want, NULL);
	gst_caps_unref(want);
	g_object_set(sink, "sync", FALSE, "max-buffers", 8, "drop", TRUE, NULL);
	GstAppSinkCallbacks cb = { 0 };
	cb.new_sample = video ? on_pub_video : on_pub_audio;
	gst_app_sink_set_callbacks(GST_APP_SINK(sink), &cb, v, NULL);
	gst_bin_add_many(GST_BIN(v->pipe), conv, scale, rate, filter, sink, NULL);
	gst_element_link_many(conv, scale, rate, filter, sink, NULL);
	GstElement *chain[] = { sink, filter, rate, scale, conv };
	for (int i = 0; i < 5; i++)
		gst_element_sync_state_with_parent(chain[i]);
	GstPad *in = gst_element_get_static_pad(conv, "sink");
	gst_pad_link(pad, in);
	gst_object_unref(in);
}

/* webrtcbin's thread: a received RTP stream of the publisher; decode whatever codec it is. */
static void
on_pub_pad(GstElement *webrtc, GstPad *pad, gpointer p)
{
	struct viewer *v = p;
	if (GST_PAD_DIRECTION(pad) != GST_PAD_SRC)
		return;
	GstElement *dec = make("decodebin");
	g_signal_connect(dec, "pad-added", G_CALLBACK(on_pub_decoded), v);
	gst_bin_add(GST_BIN(v->pipe), dec);
	gst_element_sync_state_with_parent(dec);
	GstPad *in = gst_element_get_static_pad(dec, "sink");
	gst_pad_link(pad, in);
	gst_object_unref(in);
}

static void
on_answer_created(GstPromise *promise, gpointer p)
{
	sdp_ready(promise, p, "answer", MEDIA_EV_ANSWER, "answer_failed",
	    "webrtcbin could not answer the offer");
}

static void
on_offer_set(GstPromise *promise, gpointer p)
{
	struct offer_ctx *o = p;
	gst_promise_unref(promise);
	struct offer_ctx *a = g_new0(struct offer_ctx, 1);
	a->m = o->m;
	a->peer = o->peer;
	a->webrtc = gst_object_ref(o->webrtc);
	GstPromise *pr = gst_promise_new_with_change_func(on_answer_created, a, offer_ctx_free);
	g_signal_emit_by_name(o->webrtc, "create-answer", NULL, pr);
}

/* A browser publishes into the conference's mix: take its offer, answer it. */
static void
publisher_new(struct media *m, uint64_t id, int64_t conf, const char *sdp)
{
	struct mixer *x = find_mixer(m, conf);
	if (x == NULL) {
		post(m, MEDIA_EV_PEER, conf, 0, id, "failed", "no_return_feed",
		    "the conference has no return feed to publish into");
		return;
	}
	if (x->pipe == NULL) {
		post(m, MEDIA_EV_PEER, conf, 0, id, "failed", "return_failed",
		    "the return feed is down and being retried; publish again in a moment");
		return;
	}
	int slot = -1;
	for (int i = 0; i < MIX_SLOTS && slot < 0; i++)
		if (x->slots[i] == NULL)
			slot = i;
	if (slot < 0) {
		post(m, MEDIA_EV_PEER, conf, 0, id, "failed", "busy", "the mix has its 4 publishers");
		return;
	}
	GstSDPMessage *msg = NULL;
	gst_sdp_message_new(&msg);
	if (gst_sdp_message_parse_buffer((const guint8 *)sdp, (guint)strlen(sdp), msg) != GST_SDP_OK ||
	    gst_sdp_message_medias_len(msg) == 0) {
		gst_sdp_message_free(msg);
		post(m, MEDIA_EV_PEER, conf, 0, id, "failed", "invalid_sdp", "the offer is not SDP");
		return;
	}
	struct viewer *v = g_new0(struct viewer, 1);
	v->m = m;
	v->id = id;
	v->mix = x;
	v->slot = slot;
	v->answered = 1;
	v->created_us = g_get_monotonic_time();
	x->slots[slot] = v;
	g_mutex_lock(&x->lock);
	v->mv = mix_input(x, x->vmix, PUB_VIDEO_CAPS, (slot % 2) * (MIX_W / 2), (slot / 2) * (MIX_H / 2),
	    &v->mvq, &v->mvpad);
	v->ma = mix_input(x, x->amix, PUB_AUDIO_CAPS, -1, -1, &v->maq, &v->mapad);
	v->mvsrc = v->mv;
	v->masrc = v->ma;
	g_mutex_unlock(&x->lock);
	v->pipe = gst_pipeline_new(NULL);
	v->webrtc = make("webrtcbin");
	gst_util_set_object_arg(G_OBJECT(v->webrtc), "bundle-policy", "max-bundle");
	gst_bin_add(GST_BIN(v->pipe), v->webrtc);
	g_signal_connect(v->webrtc, "pad-added", G_CALLBACK(on_pub_pad), v);
	g_signal_connect(v->webrtc, "on-ice-candidate", G_CALLBACK(on_ice_candidate), v);
	g_signal_connect(v->webrtc, "notify::ice-connection-state", G_CALLBACK(on_ice_state), v);
	GstBus *bus = gst_pipeline_get_bus(GST_PIPELINE(v->pipe));
	v->bus_watch = gst_bus_create_watch(bus);
	g_source_set_callback(v->bus_watch, (GSourceFunc)(void (*)(void))on_viewer_bus, v, NULL);
	g_source_attach(v->bus_watch, m->gctx);
	gst_object_unref(bus);
	g_atomic_int_add(&m->n_viewers, 1);
	g_ptr_array_add(m->viewers, v);
	gst_element_set_state(v->pipe, GST_STATE_PLAYING);
	GstWebRTCSessionDescription *d = gst_webrtc_session_description_new(GST_WEBRTC_SDP_TYPE_OFFER,
	    msg);
	struct offer_ctx *o = g_new0(struct offer_ctx, 1);
	o->m = m;
	o->peer = id;
	o->webrtc = gst_object_ref(v->webrtc);
	GstPromise *pr = gst_promise_new_with_change_func(on_offer_set, o, offer_ctx_free);
	g_signal_emit_by_name(v->webrtc, "set-remote-description", d, pr);
	gst_webrtc_session_description_free(d);
}

/* Before the publisher's pipeline stops: nothing more is pushed into the mix. */
static void
mix_detach(struct viewer *v)
{
	g_mutex_lock(&v->mix->lock);
	v->mv = v->ma = NULL;
	g_mutex_unlock(&v->mix->lock);
}

/* After it: its inputs leave the mixer pipeline and its tile is free. */
static void
mix_release(struct viewer *v)
{
	struct mixer *x = v->mix;
	GstElement *queues[2] = { v->mvq, v->maq };
	GstElement *srcs[2] = { v->mvsrc, v->masrc };
	GstElement *mixers[2] = { x->vmix, x->amix };
	GstPad *pads[2] = { v->mvpad, v->mapad };
	for (int i = 0; i < 2; i++) {
		GstElement *src = srcs[i];
		gst_element_set_locked_state(src, TRUE);
		gst_element_set_locked_state(queues[i], TRUE);
		gst_element_set_state(src, GST_STATE_NULL);
		gst_element_set_state(queues[i], GST_STATE_NULL);
		gst_element_release_request_pad(mixers[i], pads[i]);
		gst_object_unref(pads[i]);
		gst_bin_remove_many(GST_BIN(x->pipe), src, queues[i], NULL);
	}
	x->slots[v->slot] = NULL;
}

/* --- commands ------------------------------------------------------------------------------ */

static void
run_cmd(struct media *m, struct cmd *c)
{
	switch (c->t) {
	case C_SRC_ADD:
		source_add(m, c->conf, c->source, c->text);
		break;
	case C_SRC_RM: {
		struct source *s = find_source(m, c->conf, c->source);
		if (s)
			source_remove(s, "source_removed", "the source was removed");
		break;
	}
	case C_CONF_CLOSE: {
		for (guint i = 0; i < m->sources->len;) {
			struct source *s = g_ptr_array_index(m->sources, i);
			if (s->conf == c->conf)
				source_remove(s, "conference_closed", "the conference was closed");
			else
				i++;
		}
		struct mixer *x = find_mixer(m, c->conf);
		if (x)
			mixer_free(x, "conference_closed");
		break;
	}
	case C_PEER_NEW:
		viewer_new(m, c->peer, c->conf, c->source);
		break;
	case C_PEER_ANSWER:
		viewer_answer(m, c->peer, c->text);
		break;
	case C_PEER_ICE:
		viewer_ice(m, c->peer, c->mline, c->text);
		break;
	case C_PEER_CLOSE: {
		struct viewer *v = find_viewer(m, c->peer);
		if (v)
			viewer_close(v, "closed", NULL, NULL);
		break;
	}
	case C_MIX:
		mixer_start(m, c->conf, c->text);
		break;
	case C_PUBLISH:
		publisher_new(m, c->peer, c->conf, c->text);
		break;
	case C_STOP:
		while (m->viewers->len)
			viewer_close(g_ptr_array_index(m->viewers, 0), "closed", "shutting_down", NULL);
		while (m->sources->len)
			source_remove(g_ptr_array_index(m->sources, 0), "source_removed",
			    "the bridge is stopping");
		while (m->mixers->len)
			mixer_free(g_ptr_array_index(m->mixers, 0), "shutting_down");
		bury_at_stop(m);
		if (m->tick) {
			g_source_destroy(m->tick);
			g_source_unref(m->tick);
			m->tick = NULL;
		}
		g_main_loop_quit(m->gloop);
		break;
	}
}

static gboolean
drain_cmds(gpointer p)
{
	struct media *m = p;
	for (;;) {
		g_mutex_lock(&m->lock);
		struct cmd *c = g_queue_pop_head(&m->cmds);
		g_mutex_unlock(&m->lock);
		if (c == NULL)
			break;
		run_cmd(m, c);
		g_free(c->text);
		g_free(c);
	}
	return G_SOURCE_REMOVE;
}

static int
push_cmd(struct media *m, enum cmd_type t, int64_t conf, int source, uint64_t peer, int mline,
    const char *text)
{
	g_mutex_lock(&m->lock);
	if (m->stopping) {
		g_mutex_unlock(&m->lock);
		return MEDIA_E_STOPPED;
	}
	if ((int)m->cmds.length >= m->o.queue_max && t != C_STOP) {
		g_mutex_unlock(&m->lock);
		return MEDIA_E_BUSY;
	}
	struct cmd *c = g_new0(struct cmd, 1);
	c->t = t;
	c->conf = conf;
	c->source = source;
	c->peer = peer;
	c->mline = mline;
	c->text = text ? g_strdup(text) : NULL;
	int was_empty = m->cmds.length == 0;
	g_queue_push_tail(&m->cmds, c);
	if (t == C_STOP)
		m->stopping = 1;
	g_mutex_unlock(&m->lock);
	if (was_empty) {
		GSource *idle = g_idle_source_new();
		g_source_set_callback(idle, drain_cmds, m, NULL);
		g_source_attach(idle, m->gctx);
		g_source_unref(idle);
	}
	return 0;
}

/* --- the media thread ---------------------------------------------------------------------- */

static gpointer
media_main(gpointer p)
{
	struct media *m = p;
	g_main_context_push_thread_default(m->gctx);
	gst_init(NULL, NULL); /* the registry scan happens here, off the loop */
	m->tick = g_timeout_source_new(250);
	g_source_set_callback(m->tick, on_tick, m, NULL);
	g_source_attach(m->tick, m->gctx);
	g_main_loop_run(m->gloop);
	drain_cmds(m); /* commands queued after C_STOP are dropped, their memory freed */
	g_main_context_pop_thread_default(m->gctx);
	post(m, MEDIA_EV_STOPPED, 0, 0, 0, NULL, NULL, NULL);
	return NULL;
}

int
media_start(struct media **out, uv_loop_t *loop, const struct media_opts *o, media_event_fn on_event,
    void *ctx, char **cause)
{
	struct media *m = g_new0(struct media, 1);
	m->loop = loop;
	m->o = *o;
	m->on_event = on_event;
	m->ctx = ctx;
	if (o->rec_dir)
		g_strlcpy(m->rec_dir, o->rec_dir, sizeof m->rec_dir);
	m->o.rec_dir = m->rec_dir;
	if (o->hls_dir)
		g_strlcpy(m->hls_dir, o->hls_dir, sizeof m->hls_dir);
	m->o.hls_dir = m->hls_dir;
	g_mutex_init(&m->lock);
	g_mutex_init(&m->stats_lock);
	g_queue_init(&m->cmds);
	g_queue_init(&m->events);
	m->sources = g_ptr_array_new();
	m->viewers = g_ptr_array_new();
	m->mixers = g_ptr_array_new();
	m->graves = g_ptr_array_new();
	m->gctx = g_main_context_new();
	m->gloop = g_main_loop_new(m->gctx, FALSE);
	if (uv_async_init(loop, &m->async, on_async) != 0) {
		*cause = g_strdup("uv_async_init failed");
		g_main_loop_unref(m->gloop);
		g_main_context_unref(m->gctx);
		g_free(m);
		return -1;
	}
	m->async.data = m;
	m->thread = g_thread_new("media", media_main, m);
	*out = m;
	return 0;
}

void
media_stop(struct media *m)
{
	push_cmd(m, C_STOP, 0, 0, 0, 0, NULL);
}

static void
on_async_closed(uv_handle_t *h)
{
	struct media *m = h->data;
	g_ptr_array_free(m->sources, TRUE);
	g_ptr_array_free(m->viewers, TRUE);
	g_ptr_array_free(m->mixers, TRUE);
	g_ptr_array_free(m->graves, TRUE);
	g_main_loop_unref(m->gloop);
	g_main_context_unref(m->gctx);
	g_mutex_clear(&m->lock);
	g_mutex_clear(&m->stats_lock);
	g_free(m);
}

void
media_free(struct media *m)
{
	if (m == NULL)
		return;
	g_thread_join(m->thread); /* it posted MEDIA_EV_STOPPED as its last act */
	on_async(&m->async);      /* anything still queued is delivered and freed */
	uv_close((uv_handle_t *)&m->async, on_async_closed);
}

int
media_source_add(struct media *m, int64_t conf, int source, const char *uri)
{
	const char *why;
	if (media_uri_check(uri, &why) != 0)
		return MEDIA_E_INVALID;
	return push_cmd(m, C_SRC_ADD, conf, source, 0, 0, uri);
}

int
media_source_remove(struct media *m, int64_t conf, int source)
{
	return push_cmd(m, C_SRC_RM, conf, source, 0, 0, NULL);
}

int
media_peer_new(struct media *m, uint64_t peer, int64_t conf, int source)
{
	return push_cmd(m, C_PEER_NEW, conf, source, peer, 0, NULL);
}

int
media_peer_answer(struct media *m, uint64_t peer, const char *sdp)
{
	if (sdp == NULL)
		return MEDIA_E_INVALID;
	return push_cmd(m, C_PEER_ANSWER, 0, 0, peer, 0, sdp);
}

int
media_peer_ice(struct media *m, uint64_t peer, int mline, const char *candidate)
{
	if (candidate == NULL || mline < 0 || mline > 16)
		return MEDIA_E_INVALID;
	return push_cmd(m, C_PEER_ICE, 0, 0, peer, mline, candidate);
}

int
media_mix_start(struct media *m, int64_t conf, const char *return_uri)
{
	const char *why;
	if (media_return_check(return_uri, &why) != 0)
		return MEDIA_E_INVALID;
	return push_cmd(m, C_MIX, conf, 0, 0, 0, return_uri);
}

int
media_publish(struct media *m, uint64_t peer, int64_t conf, const char *offer)
{
	if (offer == NULL)
		return MEDIA_E_INVALID;
	return push_cmd(m, C_PUBLISH, conf, 0, peer, 0, offer);
}

int
media_conf_close(struct media *m, int64_t conf)
{
	return push_cmd(m, C_CONF_CLOSE, conf, 0, 0, 0, NULL);
}

int
media_peer_close(struct media *m, uint64_t peer)
{
	return push_cmd(m, C_PEER_CLOSE, 0, 0, peer, 0, NULL);
}

void
media_get_stats(struct media *m, struct media_stats *out)
{
	memset(out, 0, sizeof *out);
	out->sources = (uint64_t)g_atomic_int_get(&m->n_sources);
	out->viewers = (uint64_t)g_atomic_int_get(&m->n_viewers);
	g_mutex_lock(&m->stats_lock);
	out->events_dropped = m->events_dropped;
	out->samples = m->samples;
	out->skipped_to_key = m->skipped;
	out->reconnects = m->reconnects;
	out->segments = m->segments;
	out->key_requests = m->key_requests;
	g_mutex_unlock(&m->stats_lock);
}
