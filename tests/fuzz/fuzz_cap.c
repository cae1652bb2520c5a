/* libFuzzer harness: the OASIS CAP 1.2 adapter (XML alerts). */
#include "fuzz_adapter.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct gw_report rep;
	if (fuzz_adapter_parse("cap", data, size, &rep)) {
		/* An alert always keeps its CAP envelope and blocks in details. */
		if (rep.inc.details == NULL)
			__builtin_trap();
		gw_report_clear(&rep);
	}
	return 0;
}
