/* Unit tests for srv_config: defaults, files with line-numbered errors, --set. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "srv_config.h"
#include "srv_error.h"

static char *
write_tmp(const char *text)
{
	char *path = strdup("/tmp/liandong-cfg-XXXXXX");
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	return path;
}

static void
defaults_are_documented_values(void **state)
{
	struct srv_config c;
	srv_config_defaults(&c);
	assert_string_equal(c.listen_address, "127.0.0.1");
	assert_int_equal(c.port, 8080);
	assert_int_equal(c.http_max_body, 1024 * 1024);
	assert_int_equal(c.ws_max_message, 64 * 1024);
	srv_config_free(&c);
}

static void
file_overrides_and_comments(void **state)
{
	char *p = write_tmp("# a comment\n\nlisten.port = 9001  # trailing\nws.queue_bytes=512K\n"
			    "data.dir = /var/lib/liandong\n");
	struct srv_config c;
	char *cause = NULL;
	srv_config_defaults(&c);
	assert_int_equal(srv_config_load(&c, p, &cause), 0);
	assert_int_equal(c.port, 9001);
	assert_int_equal(c.ws_queue_bytes, 512 * 1024);
	assert_string_equal(c.data_dir, "/var/lib/liandong");
	srv_config_free(&c);
	unlink(p);
	free(p);
}

static void
errors_name_file_line_and_key(void **state)
{
	char *p = write_tmp("listen.port = 80\nlisten.prot = 81\n");
	struct srv_config c;
	char *cause = NULL;
	srv_config_defaults(&c);
	assert_int_equal(srv_config_load(&c, p, &cause), SRV_E_CONFIG);
	assert_non_null(strstr(cause, ":2: unknown key 'listen.prot'"));
	free(cause);
	cause = NULL;
	assert_int_equal(srv_config_set(&c, "listen.port=70000", &cause), SRV_E_CONFIG);
	assert_non_null(strstr(cause, "outside 0..65535"));
	free(cause);
	cause = NULL;
	assert_int_equal(srv_config_set(&c, "store.batch_max=lots", &cause), SRV_E_CONFIG);
	assert_non_null(strstr(cause, "not a whole number"));
	free(cause);
	cause = NULL;
	assert_int_equal(srv_config_set(&c, "log.level=loud", &cause), SRV_E_CONFIG);
	free(cause);
	cause = NULL;
	assert_int_equal(srv_config_set(&c, "no-equals-sign", &cause), SRV_E_CONFIG);
	free(cause);
	srv_config_free(&c);
	unlink(p);
	free(p);
}

static void
print_round_trips(void **state)
{
	struct srv_config a, b;
	char *cause = NULL;
	srv_config_defaults(&a);
	assert_int_equal(srv_config_set(&a, "hub.ring=99", &cause), 0);
	char *path = strdup("/tmp/liandong-cfgp-XXXXXX");
	int fd = mkstemp(path);
	FILE *f = fdopen(fd, "w");
	srv_config_print(&a, f);
	fclose(f);
	srv_config_defaults(&b);
	assert_int_equal(srv_config_load(&b, path, &cause), 0);
	assert_int_equal(b.hub_ring, 99);
	assert_int_equal(b.http_max_body, a.http_max_body);
	srv_config_free(&a);
	srv_config_free(&b);
	unlink(path);
	free(path);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(defaults_are_documented_values),
		cmocka_unit_test(file_overrides_and_comments),
		cmocka_unit_test(errors_name_file_line_and_key),
		cmocka_unit_test(print_round_trips),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
