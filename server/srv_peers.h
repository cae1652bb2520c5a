/*
 * srv_peers.h - open connections counted per client address.
 *
 * Every accepted connection enters its peer's address and leaves when it is
 * destroyed; the count lets the HTTP layer refuse an address holding more
 * than http.max_conns_per_address connections (one client must not take
 * all of http.max_conns). An entry lives only while its address has a
 * connection, so the table never holds more entries than open sockets.
 */
#ifndef SRV_PEERS_H
#define SRV_PEERS_H

struct srv_peers;
struct srv_peer;

struct srv_peers *srv_peers_new(void);
void srv_peers_free(struct srv_peers *t);
/* Count one more connection from addr; returns its entry (never NULL). */
struct srv_peer *srv_peer_enter(struct srv_peers *t, const char *addr);
/* The connection that entered e is gone. */
void srv_peer_leave(struct srv_peers *t, struct srv_peer *e);
/* Open connections of e's address (including the caller's). */
int srv_peer_count(const struct srv_peer *e);
const char *srv_peer_addr(const struct srv_peer *e);
/* Distinct addresses with an open connection. */
int srv_peers_addresses(const struct srv_peers *t);

#endif
