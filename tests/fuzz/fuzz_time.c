/* libFuzzer harness: RFC 3339 timestamps; what parses must format and parse back equal. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "srv_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 64)
		return 0;
	char s[65];
	memcpy(s, data, size);
	s[size] = '\0';
	int64_t t, t2;
	if (srv_parse_time(s, &t) != 0)
		return 0;
	if (t < -62135596800LL * 1000000 || t > 253402300799LL * 1000000)
		return 0; /* outside years 1-9999 the formatter's output is not RFC 3339 */
	char buf[40];
	srv_fmt_time(t, 1, buf, sizeof buf);
	if (srv_parse_time(buf, &t2) != 0 || t2 != t)
		__builtin_trap();
	return 0;
}
