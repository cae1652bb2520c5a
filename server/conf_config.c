/*
 * conf_config.c - the media.conferences setting: conferences defined in the
 * configuration, "name=uri[,uri...][;name=uri...]". The whole value is checked
 * before any conference is handed on, so a typo starts nothing.
 */
#include "conf.h"
#include "media.h"
#include "srv_util.h"

#include <stdlib.h>
#include <string.h>

struct entry {
	char *name;
	char *uris[CONF_MAX_SOURCES];
	int n;
};

static char *
trim(char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	size_t n = strlen(s);
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		s[--n] = '\0';
	return s;
}

static void
free_entries(struct entry *e, int n)
{
	for (int i = 0; i < n; i++) {
		free(e[i].name);
		for (int k = 0; k < e[i].n; k++)
			free(e[i].uris[k]);
	}
	free(e);
}

int
conf_config_parse(const char *text, int (*each)(const char *, char **, int, void *), void *ctx,
    char **cause)
{
	struct entry *e = xcalloc(CONF_MAX, sizeof *e);
	int n = 0, rc = 0;
	char *copy = xstrdup(text ? text : "");
	char *save = NULL;
	for (char *part = strtok_r(copy, ";", &save); part && rc == 0;
	     part = strtok_r(NULL, ";", &save)) {
		part = trim(part);
		if (*part == '\0')
			continue;
		char *eq = strchr(part, '=');
		if (eq == NULL) {
			*cause = xasprintf("media.conferences: '%s' is not name=uri", part);
			rc = -1;
			break;
		}
		*eq = '\0';
		char *name = trim(part);
		size_t nlen = strlen(name);
		if (nlen == 0 || nlen > 120 || !srv_utf8_valid(name, nlen)) {
			*cause = xstrdup("media.conferences: a name must be 1-120 bytes of UTF-8");
			rc = -1;
			break;
		}
		if (n == CONF_MAX) {
			*cause = xasprintf("media.conferences: more than %d conferences", CONF_MAX);
			rc = -1;
			break;
		}
		for (int i = 0; i < n; i++)
			if (strcmp(e[i].name, name) == 0) {
				*cause = xasprintf("media.conferences: '%s' is named twice", name);
				rc = -1;
			}
		if (rc)
			break;
		struct entry *cur = &e[n++];
		cur->name = xstrdup(name);
		char *usave = NULL;
		for (char *u = strtok_r(eq + 1, ",", &usave); u; u = strtok_r(NULL, ",", &usave)) {
			u = trim(u);
			const char *why;
			if (cur->n == CONF_MAX_SOURCES) {
				*cause = xasprintf("media.conferences: '%s' has more than %d sources", name,
				    CONF_MAX_SOURCES);
				rc = -1;
				break;
			}
			if (media_uri_check(u, &why) != 0) {
				*cause = xasprintf("media.conferences: '%s': %s", u, why);
				rc = -1;
				break;
			}
			cur->uris[cur->n++] = xstrdup(u);
		}
		if (rc == 0 && cur->n == 0) {
			*cause = xasprintf("media.conferences: '%s' has no source URI", name);
			rc = -1;
		}
	}
	free(copy);
	for (int i = 0; i < n && rc == 0; i++)
		rc = each(e[i].name, e[i].uris, e[i].n, ctx);
	free_entries(e, n);
	return rc;
}
