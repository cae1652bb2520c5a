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
 *                        [--flash MS]
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
	fprintf(stderr, "usage: liandong-rtsp-source [--port N] [--path /conf] [--size WxH] [--fps N] [--codec h264|vp8] [--flash MS]\n");
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

static void
on_media_configure(GstRTSPMediaFactory *factory, GstRTSPMedia *media, gpointer data)
{
	(void)factory;
	int flash_ms = GPOINTER_TO_INT(data);
	GstElement *bin = gst_rtsp_media_get_element(media);
	GstElement *vsrc = gst_bin_get_by_name(GST_BIN(bin), "vsrc");
	if (vsrc != NULL) {
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
	int flash_ms = 0;
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
	 * key-int-max = fps: a late joiner waits at most a second for a picture;
	 * h264parse config-interval=-1 puts SPS/PPS in front of every IDR.
	 */
	char *video = strcmp(codec, "vp8") == 0
	    ? g_strdup_printf("vp8enc deadline=1 keyframe-max-dist=%d ! rtpvp8pay name=pay0 pt=96", fps)
	    : g_strdup_printf("x264enc tune=zerolatency speed-preset=ultrafast key-int-max=%d bitrate=1500 ! "
		"video/x-h264,profile=constrained-baseline ! h264parse config-interval=-1 ! "
		"rtph264pay name=pay0 pt=96 config-interval=-1", fps);
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
	if (flash_ms > 0)
		g_signal_connect(factory, "media-configure", G_CALLBACK(on_media_configure), GINT_TO_POINTER(flash_ms));
	gst_rtsp_mount_points_add_factory(mounts, path, factory);
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
