/* libFuzzer harness: source and return-feed URI checks (media_uri_check, media_return_check, on GLib's GUri). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "media.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	memcpy(s, data, size);
	s[size] = '\0';
	const char *why = NULL;
	int rc = media_uri_check(s, &why);
	/*
	 * A refusal always says why; an accepted URI is short, printable and rtsp,
	 * srt or rtp (any case: RFC 3986), and media_uri_kind agrees.
	 */
	if (rc != 0 && why == NULL)
		__builtin_trap();
	if (rc == 0) {
		enum media_uri_kind k = media_uri_kind(s);
		if (strlen(s) > 1024 || strchr(s, ' ') ||
		    (k == MEDIA_URI_RTSP && strncasecmp(s, "rtsp", 4) != 0) ||
		    (k == MEDIA_URI_SRT && strncasecmp(s, "srt://", 6) != 0) ||
		    (k == MEDIA_URI_RTP && strncasecmp(s, "rtp://", 6) != 0))
			__builtin_trap();
	}
	why = NULL;
	rc = media_return_check(s, &why);
	if (rc != 0 && why == NULL)
		__builtin_trap();
	if (rc == 0 && strncasecmp(s, "rtp://", 6) != 0 && strncasecmp(s, "srt://", 6) != 0 &&
	    strncasecmp(s, "rtsp", 4) != 0)
		__builtin_trap();
	free(s);
	return 0;
}
