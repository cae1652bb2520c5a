/* libFuzzer harness: configuration lines (key = value), as from a file or --set. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "srv_config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	memcpy(s, data, size);
	s[size] = '\0';
	struct srv_config c;
	srv_config_defaults(&c);
	char *save = NULL;
	for (char *line = strtok_r(s, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *cause = NULL;
		if (srv_config_set(&c, line, &cause) != 0 && cause == NULL)
			__builtin_trap();
		free(cause);
	}
	srv_config_free(&c);
	free(s);
	return 0;
}
