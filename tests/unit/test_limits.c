/* Unit tests for the limit helpers: srv_json_depth and srv_peers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "srv_peers.h"
#include "srv_util.h"

static int
depth(const char *s)
{
	return srv_json_depth(s, strlen(s), SRV_JSON_MAX_DEPTH);
}

static void
json_depth_counts_nesting(void **state)
{
	(void)state;
	assert_int_equal(depth(""), 0);
	assert_int_equal(depth("42"), 0);
	assert_int_equal(depth("{}"), 1);
	assert_int_equal(depth("{\"a\":[1,{\"b\":[]}]}"), 4);
	assert_int_equal(depth("[[],[[]],[]]"), 3);
	/* Siblings do not add up: depth is the deepest path, not the count. */
	assert_int_equal(depth("[[1],[2],[3],[4],[5]]"), 2);
}

static void
json_depth_skips_strings_and_escapes(void **state)
{
	(void)state;
	assert_int_equal(depth("{\"[[[[{{{{\":\"]]]]}}}}[[[[\"}"), 1);
	/* An escaped quote does not end the string; an escaped backslash does not escape the quote. */
	assert_int_equal(depth("[\"\\\"[[[[\"]"), 1);
	assert_int_equal(depth("[\"\\\\\",[[1]]]"), 3);
}

static void
json_depth_stops_past_the_limit(void **state)
{
	(void)state;
	size_t n = 1000000;
	char *s = malloc(n);
	memset(s, '[', n);
	/* Counting stops at limit + 1, however long the text. */
	assert_int_equal(srv_json_depth(s, n, 32), 33);
	assert_int_equal(srv_json_depth(s, 32, 32), 32);
	free(s);
	/* Unbalanced closers never go below zero. */
	assert_int_equal(depth("]]]]{}"), 1);
}

static void
peers_count_per_address(void **state)
{
	(void)state;
	struct srv_peers *t = srv_peers_new();
	struct srv_peer *a1 = srv_peer_enter(t, "10.0.0.1");
	struct srv_peer *a2 = srv_peer_enter(t, "10.0.0.1");
	struct srv_peer *b1 = srv_peer_enter(t, "2001:db8::1");
	assert_ptr_equal(a1, a2);
	assert_int_equal(srv_peer_count(a1), 2);
	assert_int_equal(srv_peer_count(b1), 1);
	assert_string_equal(srv_peer_addr(b1), "2001:db8::1");
	assert_int_equal(srv_peers_addresses(t), 2);
	srv_peer_leave(t, a1);
	assert_int_equal(srv_peer_count(a2), 1);
	srv_peer_leave(t, a2); /* the last one: the entry goes */
	assert_int_equal(srv_peers_addresses(t), 1);
	/* The address comes back as a fresh entry counting from one. */
	struct srv_peer *a3 = srv_peer_enter(t, "10.0.0.1");
	assert_int_equal(srv_peer_count(a3), 1);
	srv_peers_free(t); /* frees what is still entered */
}

static void
peers_survive_growth(void **state)
{
	(void)state;
	struct srv_peers *t = srv_peers_new();
	enum { N = 5000 };
	static struct srv_peer *e[N];
	char addr[32];
	for (int i = 0; i < N; i++) {
		snprintf(addr, sizeof addr, "10.%d.%d.%d", i >> 16, (i >> 8) & 255, i & 255);
		e[i] = srv_peer_enter(t, addr);
		srv_peer_enter(t, addr);
	}
	assert_int_equal(srv_peers_addresses(t), N);
	for (int i = 0; i < N; i++) {
		snprintf(addr, sizeof addr, "10.%d.%d.%d", i >> 16, (i >> 8) & 255, i & 255);
		assert_string_equal(srv_peer_addr(e[i]), addr);
		assert_int_equal(srv_peer_count(e[i]), 2);
		/* Entering again finds the same entry after the table grew. */
		assert_ptr_equal(srv_peer_enter(t, addr), e[i]);
	}
	for (int i = 0; i < N; i++)
		for (int k = 0; k < 3; k++)
			srv_peer_leave(t, e[i]);
	assert_int_equal(srv_peers_addresses(t), 0);
	srv_peers_free(t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(json_depth_counts_nesting),
		cmocka_unit_test(json_depth_skips_strings_and_escapes),
		cmocka_unit_test(json_depth_stops_past_the_limit),
		cmocka_unit_test(peers_count_per_address),
		cmocka_unit_test(peers_survive_growth),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
