/* rtnetlink, spoken directly (no `ip` exec on the start path): bridges, veth
 * pairs with their far end made inside a container's network namespace,
 * addresses, routes, and the dumps behind container.interfaces. Every call
 * takes a NETLINK_ROUTE socket from nl_open, which works in the network
 * namespace it was opened in. */
#ifndef BERTH_NETLINK_H
#define BERTH_NETLINK_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "error.h"

int nl_open(berr_t *err);

/* The ifindex of a link, 0 when there is none by that name. */
int nl_link_index(int nl, const char *name, int *index, berr_t *err);
/* A bridge, up. An existing link of that name is fine. */
int nl_bridge_create(int nl, const char *name, berr_t *err);
/* Deletes a link; one that does not exist is fine. */
int nl_link_delete(int nl, const char *name, berr_t *err);
int nl_link_up(int nl, int index, berr_t *err);
/* IPv4 address on a link; one already there is fine. */
int nl_addr_add(int nl, int index, struct in_addr addr, int prefix, berr_t *err);
/* The default route through gw on the link oif. */
int nl_route_default(int nl, struct in_addr gw, int oif, berr_t *err);
/* A veth pair: `host` (up, a port of the bridge `master`) here, and `peer`
 * (with mac, still down) made directly inside the network namespace of peer_pid. */
int nl_veth_create(int nl, const char *host, int master, const char *peer, pid_t peer_pid,
                   const uint8_t mac[6], berr_t *err);

struct nl_link {
  int index;
  char name[16];
  char kind[16];     /* IFLA_INFO_KIND ("veth", "bridge"), "loopback", or "device" */
  bool has_mac;
  uint8_t mac[6];
  int mtu;
  bool up;
  int master;        /* ifindex of the bridge it is a port of, 0 = none */
  uint64_t rx_bytes, tx_bytes;
};
struct nl_addr {
  int index;
  int family;        /* AF_INET, AF_INET6 */
  char addr[48];
  int prefix;
};
struct nl_route {
  char dst[64];      /* CIDR or "default" */
  char gw[48];       /* "" = none */
  int oif;
};
/* Dumps (free the arrays with free()). Routes: IPv4 and IPv6, the main table. */
int nl_dump_links(int nl, struct nl_link **out, size_t *n, berr_t *err);
int nl_dump_addrs(int nl, struct nl_addr **out, size_t *n, berr_t *err);
int nl_dump_routes(int nl, struct nl_route **out, size_t *n, berr_t *err);

#endif
