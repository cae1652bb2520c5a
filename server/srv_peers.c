/*
 * srv_peers.c - open connections per client address: a chained hash table
 * whose buckets double when the addresses outnumber them.
 */
#include "srv_peers.h"
#include "srv_util.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct srv_peer {
	struct srv_peer *next;
	uint32_t hash;
	int count;
	char addr[]; /* numeric address, NUL-terminated */
};

struct srv_peers {
	struct srv_peer **bucket;
	size_t nbuckets; /* a power of two */
	int naddr;
};

static uint32_t
hash_addr(const char *s)
{
	uint32_t h = 2166136261u; /* FNV-1a */
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

struct srv_peers *
srv_peers_new(void)
{
	struct srv_peers *t = xcalloc(1, sizeof *t);
	t->nbuckets = 64;
	t->bucket = xcalloc(t->nbuckets, sizeof *t->bucket);
	return t;
}

void
srv_peers_free(struct srv_peers *t)
{
	if (t == NULL)
		return;
	for (size_t i = 0; i < t->nbuckets; i++)
		for (struct srv_peer *e = t->bucket[i], *next; e; e = next) {
			next = e->next;
			free(e);
		}
	free(t->bucket);
	free(t);
}

static void
grow(struct srv_peers *t)
{
	size_t n = t->nbuckets * 2;
	struct srv_peer **b = xcalloc(n, sizeof *b);
	for (size_t i = 0; i < t->nbuckets; i++)
		for (struct srv_peer *e = t->bucket[i], *next; e; e = next) {
			next = e->next;
			e->next = b[e->hash & (n - 1)];
			b[e->hash & (n - 1)] = e;
		}
	free(t->bucket);
	t->bucket = b;
	t->nbuckets = n;
}

struct srv_peer *
srv_peer_enter(struct srv_peers *t, const char *addr)
{
	uint32_t h = hash_addr(addr);
	for (struct srv_peer *e = t->bucket[h & (t->nbuckets - 1)]; e; e = e->next)
		if (e->hash == h && strcmp(e->addr, addr) == 0) {
			e->count++;
			return e;
		}
	size_t len = strlen(addr);
	struct srv_peer *e = xmalloc(sizeof *e + len + 1);
	memcpy(e->addr, addr, len + 1);
	e->hash = h;
	e->count = 1;
	if ((size_t)++t->naddr > t->nbuckets)
		grow(t);
	e->next = t->bucket[h & (t->nbuckets - 1)];
	t->bucket[h & (t->nbuckets - 1)] = e;
	return e;
}

void
srv_peer_leave(struct srv_peers *t, struct srv_peer *e)
{
	if (--e->count > 0)
		return;
	struct srv_peer **pp = &t->bucket[e->hash & (t->nbuckets - 1)];
	while (*pp != e)
		pp = &(*pp)->next;
	*pp = e->next;
	t->naddr--;
	free(e);
}

int
srv_peer_count(const struct srv_peer *e)
{
	return e->count;
}

const char *
srv_peer_addr(const struct srv_peer *e)
{
	return e->addr;
}

int
srv_peers_addresses(const struct srv_peers *t)
{
	return t->naddr;
}
