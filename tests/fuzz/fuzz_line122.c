/* libFuzzer harness: the 122 line adapter's parser (gateways/gw_line122.c). */
#include "fuzz_adapter.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct gw_report rep;
	if (fuzz_adapter_parse("line122", data, size, &rep)) {
		/* A line's form is always a plain report of that line. */
		if (rep.inc.line != INC_LINE_122 || rep.action != GW_REPORT)
			__builtin_trap();
		gw_report_clear(&rep);
	}
	return 0;
}
