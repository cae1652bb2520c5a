/* gw_registry.c - the adapter registry; see gw_adapter.h. */
#include "gw_adapter.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

extern const struct gw_adapter gw_json;
extern const struct gw_adapter gw_cap;
extern const struct gw_adapter gw_eido;
extern const struct gw_adapter gw_line110;
extern const struct gw_adapter gw_line119;
extern const struct gw_adapter gw_line120;
extern const struct gw_adapter gw_line122;

const struct gw_adapter *const gw_builtin[] = {
	&gw_json,
	&gw_cap,
	&gw_eido,
	&gw_line110,
	&gw_line119,
	&gw_line120,
	&gw_line122,
	NULL,
};

static int
fail(char **cause, const char *fmt, const char *name)
{
	if (cause != NULL && *cause == NULL) {
		size_t n = strlen(fmt) + (name ? strlen(name) : 6) + 1;
		*cause = malloc(n);
		if (*cause)
			snprintf(*cause, n, fmt, name ? name : "(null)");
	}
	return -1;
}

static int
url_safe(const char *s)
{
	if (*s == '\0' || strlen(s) > 32)
		return 0;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '-' || *s == '_'))
			return 0;
	return 1;
}

int
gw_registry_check(const struct gw_adapter *const *list, char **cause)
{
	for (size_t i = 0; list[i] != NULL; i++) {
		const struct gw_adapter *a = list[i];
		if (a->api_version != GW_API_VERSION)
			return fail(cause, "adapter %s: api_version does not match the core", a->name);
		if (a->name == NULL || !url_safe(a->name))
			return fail(cause, "adapter name '%s' must be 1-32 of a-z 0-9 - _", a->name);
		if (a->parse == NULL)
			return fail(cause, "adapter %s: missing parse hook", a->name);
		if (a->content_types == NULL || a->content_types[0] == NULL)
			return fail(cause, "adapter %s: missing content type", a->name);
		for (size_t j = 0; j < i; j++)
			if (strcmp(list[j]->name, a->name) == 0)
				return fail(cause, "adapter %s is registered twice", a->name);
	}
	return 0;
}

int
gw_accepts(const struct gw_adapter *a, const char *ct)
{
	for (size_t i = 0; a->content_types[i]; i++) {
		size_t n = strlen(a->content_types[i]);
		if (strncasecmp(ct, a->content_types[i], n) == 0 &&
		    (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' '))
			return 1;
	}
	return 0;
}

void
gw_report_clear(struct gw_report *r)
{
	if (r == NULL)
		return;
	inc_clear(&r->inc);
	for (int i = 0; i < r->ntargets; i++)
		free(r->targets[i]);
	free(r->targets);
	memset(r, 0, sizeof *r);
}

void
gw_report_add_target(struct gw_report *r, const char *ext_ref)
{
	char **t = realloc(r->targets, sizeof *t * (size_t)(r->ntargets + 1));
	char *copy = strdup(ext_ref);
	if (t == NULL || copy == NULL)
		abort();
	r->targets = t;
	r->targets[r->ntargets++] = copy;
}

const struct gw_adapter *
gw_registry_find(const struct gw_adapter *const *list, const char *name)
{
	for (size_t i = 0; list[i] != NULL; i++)
		if (strcmp(list[i]->name, name) == 0)
			return list[i];
	return NULL;
}
