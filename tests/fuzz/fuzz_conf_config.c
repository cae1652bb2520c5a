/* libFuzzer harness: the media.conferences setting (conf_config_parse). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "conf.h"
#include "media.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
each(const char *name, char **uris, int n, void *ctx)
{
	/* Only checked conferences come out: a name and 1..8 sources. */
	if (name[0] == '\0' || n < 1 || n > CONF_MAX_SOURCES)
		__builtin_trap();
	/*
	 * Each source passed the bridge's own URI check and is one of the kinds it
	 * pulls (rtsp*, srt, rtp; schemes are case-insensitive: RFC 3986).
	 */
	const char *why;
	for (int i = 0; i < n; i++) {
		enum media_uri_kind k = media_uri_kind(uris[i]);
		if (media_uri_check(uris[i], &why) != 0 ||
		    (k == MEDIA_URI_RTSP && strncasecmp(uris[i], "rtsp", 4) != 0))
			__builtin_trap();
	}
	(*(int *)ctx)++;
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	memcpy(s, data, size);
	s[size] = '\0';
	char *cause = NULL;
	int calls = 0;
	int rc = conf_config_parse(s, each, &calls, &cause);
	/* An error says why and hands nothing on. */
	if (rc != 0 && (cause == NULL || calls != 0))
		__builtin_trap();
	free(cause);
	free(s);
	return 0;
}
