/*
 * liandong-rtsp-source - a local RTSP server playing the provincial
 * conference for the demo and the tests: a moving test pattern and a tone.
 *
 * Video is H.264 constrained-baseline in I420 with SPS/PPS repeated before
 * every keyframe (one keyframe a second), audio is Opus, so the bridge can
 * pass both through to browsers without re-encoding. One encoder is shared by
 * every client (a shared media factory).
 *
 *   liandong-rtsp-source [--port N] [--path /conf] [--size WxH] [--fps N] [--codec h264|vp8]
 *                        [--key-int S] [--flash MS] [--record FILE]
 *
 * --key-int S: a keyframe every S seconds (default 1). The H.264 stream offers
 * RTCP PLI (a=rtcp-fb:96 nack pli): a client's PLI gets a keyframe at once,
 * and the request is logged (msg="keyframe requested").
 *
 * --record FILE: a second mount, /return, takes a stream published to it
 * (RTSP RECORD, H.264 and Opus) and writes it to FILE as MPEG-TS.
 *
 * --codec vp8 sends VP8 video instead: a source the bridge cannot pass
 * through, for the tests of that refusal.
 * --flash MS (bench/media, glass-to-glass latency): every MS milliseconds
 * two solid frames replace the pattern, white then red for odd flashes,
 * green then blue for even ones, and the wall-clock time (CLOCK_REALTIME,
 * microseconds) at which each leaves videotestsrc is printed on stdout:
 * flash n=K color=white|red|green|blue t_us=T. A page that sees the first
 * (or, if it missed it, the second) frame knows which frame it is, and a
 * latency up to twice MS cannot be taken for the next flash's.
 * Without --flash nothing changes.
 * --port 0 (the default) picks a free port. Once it serves, it logs
 * msg="listening" ... port=N url=rtsp://127.0.0.1:N/conf on stderr, the line
 * the test harness waits for. SIGINT/SIGTERM stop it.
 */
#include <gst/gst.h>
#include <gst/rtsp-server/rtsp-server.h>
#include <gst/video/video.h>

#include <glib-unix.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static gboolean
on_stop(gpointer loop)
{
	g_main_loop_quit(loop);
	return G_SOURCE_REMOVE;
}

static void
usage(void)
{
	fprintf(stderr, "usage: liandong-rtsp-source [--port N] [--path /conf] [--size WxH] [--fps N] [--codec h264|vp8] [--key-int S] [--flash MS] [--record FILE]\n");
	exit(2);
}

/* --flash: one per media, touched only by its video streaming thread. */
struct flash {
	gint64 interval_us, next_us;
	unsigned n;
	int phase; /* 0 pattern, 1 the next buffer is the first colour, 2 the second */
};

static const char *const flash_colours[2][2] = { { "green", "blue" }, { "white", "red" } };

/*
 * On every buffer leaving videotestsrc (its streaming thread, after the live
 * clock wait): the pattern set here takes effect from the next buffer, which
 * videotestsrc fills only once this push has returned.
 */
static GstPadProbeReturn
on_video_buffer(GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
	(void)info;
	struct flash *f = data;
	gint64 now = g_get_real_time();
	GstElement *src = GST_ELEMENT(gst_pad_get_parent(pad));
	if (src == NULL)
		return GST_PAD_PROBE_OK;
	const char *const *colour = flash_colours[f->n % 2];
	if (f->phase == 1) {
		printf("flash n=%u color=%s t_us=%" G_GINT64_FORMAT "\n", f->n, colour[0], now);
		gst_util_set_object_arg(G_OBJECT(src), "pattern", colour[1]);
		f->phase = 2;
	} else if (f->phase == 2) {
		printf("flash n=%u color=%s t_us=%" G_GINT64_FORMAT "\n", f->n, colour[1], now);
		fflush(stdout);
		gst_util_set_object_arg(G_OBJECT(src), "pattern", "ball");
		f->phase = 0;
		f->next_us += f->interval_us;
		if (f->next_us < now)
			f->next_us = now + f->interval_us;
	} else if (now >= f->next_us) {
		f->n++;
		gst_util_set_object_arg(G_OBJECT(src), "pattern", flash_colours[f->n % 2][0]);
		f->phase = 1;
	}
	gst_object_unref(src);
	return GST_PAD_PROBE_OK;
}

/*
 * An upstream force-key-unit at the encoder: a client's RTCP PLI, turned into
 * the event by the server's RTP session. x264enc makes the keyframe; the log
 * line shows the request arrived (the tests look for it).
 */
static GstPadProbeReturn
on_key_request(GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
	(void)pad;
	(void)data;
	if (gst_video_event_is_force_key_unit(GST_PAD_PROBE_INFO_EVENT(info)))
		fprintf(stderr, "level=info component=rtsp-source msg=\"keyframe requested\"\n");
	return GST_PAD_PROBE_OK;
}

/*
 * --record: a stream of the published feed appeared in one of the parsebins
 * (depay0, depay1: the SDP's streams in its own order); H.264 goes to the
 * muxer as byte-stream, Opus as it is, anything else nowhere.
 */
static void
on_record_pad(GstElement *parsebin, GstPad *pad, gpointer data)
{
	GstElement *mux = data;
	GstBin *bin = GST_BIN(gst_element_get_parent(parsebin));
	GstCaps *caps = gst_pad_get_current_caps(pad);
	if (caps == NULL)
		caps = gst_pad_query_caps(pad, NULL);
	const char *name = gst_structure_get_name(gst_caps_get_structure(caps, 0));
	GstElement *parse = strcmp(name, "video/x-h264") == 0
	    ? gst_parse_bin_from_description("h264parse ! capsfilter caps=video/x-h264,stream-format=byte-stream", TRUE, NULL)
	    : strcmp(name, "audio/x-opus") == 0 ? gst_element_factory_make("opusparse", NULL) : NULL;
	if (parse != NULL) {
		gst_bin_add(bin, parse);
		GstPad *in = gst_element_get_static_pad(parse, "sink");
		GstPad *out = gst_element_get_static_pad(parse, "src");
		/* The muxer's pads were asked for before any data: it takes no new stream once it runs. */
		GstPad *to = g_object_get_data(G_OBJECT(mux), strcmp(name, "video/x-h264") == 0 ? "video" : "audio");
		gst_object_ref(to);
		gst_pad_link(out, to);
		gst_element_sync_state_with_parent(parse);
		gst_pad_link(pad, in);
		gst_object_unref(in);
		gst_object_unref(out);
		gst_object_unref(to);
	}
	gst_caps_unref(caps);
	gst_object_unref(bin);
}

static void
on_record_configure(GstRTSPMediaFactory *factory, GstRTSPMedia *media, gpointer data)
{
	(void)factory;
	GstElement *bin = gst_rtsp_media_get_element(media);
	GstElement *mux = gst_bin_get_by_name(GST_BIN(bin), "mux");
	g_object_set_data_full(G_OBJECT(mux), "video", gst_element_request_pad_simple(mux, "sink_%d"),
	    gst_object_unref);
	g_object_set_data_full(G_OBJECT(mux), "audio", gst_element_request_pad_simple(mux, "sink_%d"),
	    gst_object_unref);
	for (int i = 0; i < 2; i++) {
		char name[16];
		snprintf(name, sizeof name, "depay%d", i);
		GstElement *pb = gst_bin_get_by_name(GST_BIN(bin), name);
		g_signal_connect_data(pb, "pad-added", G_CALLBACK(on_record_pad), gst_object_ref(mux),
		    (GClosureNotify)(void (*)(void))gst_object_unref, 0);
		gst_object_unref(pb);
	}
	gst_object_unref(mux);
	gst_object_unref(bin);
	(void)data;
}

static void
on_media_configure(GstRTSPMediaFactory *factory, GstRTSPMedia *media, gpointer data)
{
	(void)factory;
	int flash_ms = GPOINTER_TO_INT(data);
	GstElement *bin = gst_rtsp_media_get_element(media);
	GstElement *enc = gst_bin_get_by_name(GST_BIN(bin), "enc");
	if (enc != NULL) {
		GstPad *pad = gst_element_get_static_pad(enc, "src");
		gst_pad_add_probe(pad, GST_PAD_PROBE_TYPE_EVENT_UPSTREAM, on_key_request, NULL, NULL);
		gst_object_unref(pad);
		gst_object_unref(enc);
	}
	GstElement *vsrc = gst_bin_get_by_name(GST_BIN(bin), "vsrc");
	if (vsrc != NULL && flash_ms > 0) {
		GstPad *pad = gst_element_get_static_pad(vsrc, "src");
		struct flash *f = g_new0(struct flash, 1);
		f->interval_us = (gint64)flash_ms * 1000;
		f->next_us = g_get_real_time() + f->interval_us;
		gst_pad_add_probe(pad, GST_PAD_PROBE_TYPE_BUFFER, on_video_buffer, f, g_free);
		gst_object_unref(pad);
		gst_object_unref(vsrc);
	}
	gst_object_unref(bin);
}

int
main(int argc, char **argv)
{
	const char *port = "0", *path = "/conf";
	int width = 1280, height = 720, fps = 30;
	const char *codec = "h264";
	int flash_ms = 0, key_int = 1;
	const char *record_file = NULL;
	for (int i = 1; i < argc; i++) {
		if (i + 1 >= argc)
			usage();
		if (strcmp(argv[i], "--port") == 0)
			port = argv[++i];
		else if (strcmp(argv[i], "--path") == 0)
			path = argv[++i];
		else if (strcmp(argv[i], "--size") == 0) {
			if (sscanf(argv[++i], "%dx%d", &width, &height) != 2 || width < 16 || height < 16 ||
			    width > 3840 || height > 2160)
				usage();
		} else if (strcmp(argv[i], "--fps") == 0) {
			fps = atoi(argv[++i]);
			if (fps < 1 || fps > 60)
				usage();
		} else if (strcmp(argv[i], "--codec") == 0) {
			codec = argv[++i];
			if (strcmp(codec, "h264") != 0 && strcmp(codec, "vp8") != 0)
				usage();
		} else if (strcmp(argv[i], "--record") == 0) {
			record_file = argv[++i];
		} else if (strcmp(argv[i], "--key-int") == 0) {
			key_int = atoi(argv[++i]);
			if (key_int < 1 || key_int > 60)
				usage();
		} else if (strcmp(argv[i], "--flash") == 0) {
			flash_ms = atoi(argv[++i]);
			if (flash_ms < 100 || flash_ms > 60000)
				usage();
		} else
			usage();
	}
	if (path[0] != '/')
		usage();
	gst_init(NULL, NULL);

	GMainLoop *loop = g_main_loop_new(NULL, FALSE);
	GstRTSPServer *server = gst_rtsp_server_new();
	gst_rtsp_server_set_address(server, "127.0.0.1");
	gst_rtsp_server_set_service(server, port);
	GstRTSPMountPoints *mounts = gst_rtsp_server_get_mount_points(server);
	GstRTSPMediaFactory *factory = gst_rtsp_media_factory_new();
	/*
	 * A keyframe every --key-int seconds (1: a late joiner that cannot ask
	 * waits at most a second); h264parse config-interval=-1 puts SPS/PPS in
	 * front of every IDR. The H.264 stream offers RTCP PLI in its SDP
	 * (a=rtcp-fb:96 nack pli, from the caps of the element named pay0, here a
	 * capsfilter after the payloader): a client may ask for a keyframe at
	 * once, as provincial MCUs allow. (gst-rtsp-server then warns once that a
	 * capsfilter has no "pt" property; the SDP takes the payload type from
	 * the caps.)
	 */
	char *video = strcmp(codec, "vp8") == 0
	    ? g_strdup_printf("vp8enc deadline=1 keyframe-max-dist=%d ! rtpvp8pay name=pay0 pt=96",
		fps * key_int)
	    : g_strdup_printf("x264enc name=enc tune=zerolatency speed-preset=ultrafast key-int-max=%d "
		"bitrate=1500 ! video/x-h264,profile=constrained-baseline ! h264parse config-interval=-1 ! "
		"rtph264pay pt=96 config-interval=-1 ! "
		"capsfilter name=pay0 caps=application/x-rtp,rtcp-fb-nack-pli=(boolean)true", fps * key_int);
	char *launch = g_strdup_printf(
	    "( videotestsrc name=vsrc is-live=true pattern=ball ! "
	    "video/x-raw,width=%d,height=%d,framerate=%d/1 ! videoconvert ! video/x-raw,format=I420 ! "
	    "%s "
	    "audiotestsrc is-live=true wave=sine freq=440 volume=0.3 ! audioconvert ! audioresample ! "
	    "audio/x-raw,rate=48000,channels=2 ! opusenc bitrate=64000 ! rtpopuspay name=pay1 pt=97 )",
	    width, height, fps, video);
	g_free(video);
	gst_rtsp_media_factory_set_launch(factory, launch);
	g_free(launch);
	gst_rtsp_media_factory_set_shared(factory, TRUE);
	g_signal_connect(factory, "media-configure", G_CALLBACK(on_media_configure),
	    GINT_TO_POINTER(flash_ms));
	gst_rtsp_mount_points_add_factory(mounts, path, factory);
	if (record_file) {
		/*
		 * --record FILE: the mount /return takes a stream that a client
		 * publishes (RTSP ANNOUNCE + RECORD: H.264 and Opus, as the bridge's
		 * return feed sends them, in whatever order its SDP lists them) and
		 * writes it to FILE as MPEG-TS: the provincial side of a return feed
		 * over RTSP record, in the tests.
		 */
		GstRTSPMediaFactory *rec = gst_rtsp_media_factory_new();
		gst_rtsp_media_factory_set_transport_mode(rec, GST_RTSP_TRANSPORT_MODE_RECORD);
		char *rl = g_strdup_printf("( parsebin name=depay0 parsebin name=depay1 "
		    "mpegtsmux name=mux ! filesink location=\"%s\" )", record_file);
		gst_rtsp_media_factory_set_launch(rec, rl);
		g_free(rl);
		g_signal_connect(rec, "media-configure", G_CALLBACK(on_record_configure), NULL);
		gst_rtsp_mount_points_add_factory(mounts, "/return", rec);
	}
	g_object_unref(mounts);
	if (gst_rtsp_server_attach(server, NULL) == 0) {
		fprintf(stderr, "level=error component=rtsp-source msg=\"cannot listen\" port=%s\n", port);
		return 1;
	}
	int bound = gst_rtsp_server_get_bound_port(server);
	fprintf(stderr, "level=info component=rtsp-source msg=\"listening\" port=%d url=rtsp://127.0.0.1:%d%s size=%dx%d fps=%d codec=%s\n",
	    bound, bound, path, width, height, fps, codec);
	if (flash_ms > 0)
		fprintf(stderr, "level=info component=rtsp-source msg=\"flashing\" every_ms=%d\n", flash_ms);
	g_unix_signal_add(SIGINT, on_stop, loop);
	g_unix_signal_add(SIGTERM, on_stop, loop);
	g_main_loop_run(loop);
	g_object_unref(server);
	g_main_loop_unref(loop);
	fprintf(stderr, "level=info component=rtsp-source msg=\"stopped\"\n");
	return 0;
}
