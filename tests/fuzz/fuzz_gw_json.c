/* libFuzzer harness: the generic JSON gateway adapter (intake payloads). */
#include "fuzz_adapter.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct gw_report rep;
	if (fuzz_adapter_parse("json", data, size, &rep))
		gw_report_clear(&rep);
	return 0;
}
