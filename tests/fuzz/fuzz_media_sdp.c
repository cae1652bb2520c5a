/* libFuzzer harness: the H.264 check on a browser's SDP (media_sdp_has_h264, on GstSDP). */
#include <stdint.h>
#include <stdlib.h>

#include "media.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int rc = media_sdp_has_h264((const char *)data, size);
	if (rc < -1 || rc > 1)
		__builtin_trap();
	return 0;
}
