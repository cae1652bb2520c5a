/* libFuzzer harness: the 120 line adapter's parser (gateways/gw_line120.c). */
#include "fuzz_adapter.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct gw_report rep;
	if (fuzz_adapter_parse("line120", data, size, &rep)) {
		/* A line's form is always a plain report of that line. */
		if (rep.inc.line != INC_LINE_120 || rep.action != GW_REPORT)
			__builtin_trap();
		gw_report_clear(&rep);
	}
	return 0;
}
