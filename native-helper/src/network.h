/* Networks: the store under <root>/networks/ (one JSON file per network, the
 * builtin "bridge" network with bridge berth0 among them), address
 * allocation that survives helper restarts (a running container's address is
 * an endpoint in its network's file), and each network's bridge and NAT
 * rules, which exist only while a container on it runs. The daemon calls
 * net_prepare / net_started / net_stopped around a start; the monitor calls
 * net_attach_veth after clone; the container's init calls netfiles_bind and
 * net_configure_inside before execve. */
#ifndef BERTH_NETWORK_H
#define BERTH_NETWORK_H

#include <json-c/json.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "error.h"
#include "spec.h"

#define NET_DEFAULT_SUBNET "10.89.0.0/16"
#define NET_USER_POOL "10.90.0.0/16" /* user networks get /24s from here */
#define NET_BRIDGE "bridge"           /* the builtin network's name */
#define NET_BRIDGE_IF "berth0"        /* and its Linux bridge */
#define NET_IFACE "eth0"              /* the container's side */
#define NET_HOSTS "hosts"             /* files in the container's state dir, bind-mounted */
#define NET_RESOLV "resolv.conf"
#define NET_HOSTNAME "hostname"

/* One start's network (bridge and user networks), built by net_prepare in the
 * daemon and read by the monitor and the init after fork. */
struct net_attach {
  bool active;              /* false: "none" or "host", nothing to do */
  char network_id[65];
  char bridge[16];          /* the network's Linux bridge */
  char veth[16];            /* host side: "veth" + 8 hex */
  uint8_t mac[6];
  struct in_addr ip, gateway;
  int prefix;
  char dir[4096];           /* the container's state dir (hosts, resolv.conf, hostname) */
  int port_fds[SPEC_MAX_PORTS]; /* bound host sockets, in spec->ports order */
  size_t n_port_fds;
};

/* Loads <root>/networks, makes or updates the builtin network (subnet as
 * `berthd --subnet` gives it, NULL for the default). srv carries the timer
 * that removes a bridge a moment after its last container. */
struct server;
int net_init(const char *root, const char *default_subnet, struct server *srv, berr_t *err);
/* After the containers are loaded: releases what containers that are no
 * longer running held, removes stray bridges, veths and NAT of earlier runs,
 * and keeps what running (re-adopted) containers need. running: the
 * container.list array of running containers. */
void net_reconcile(json_object *running);
void net_close(void);

/* container.create: the spec's network exists (a user network named by id
 * becomes its name), ports only with a bridge network. */
int net_check_spec(struct container_spec *s, berr_t *err);
/* Before runtime_start: the bridge, NAT, an address, the state dir's network
 * files and the published ports' host sockets. A port in use is `conflict`. */
int net_prepare(const struct container_spec *s, const char *dir, struct net_attach *na, berr_t *err);
/* The start failed: give everything back. */
void net_abort(const struct container_spec *s, struct net_attach *na);
/* The container runs: the port proxy starts (it ends with init_pid) and the
 * daemon's copies of the port sockets are closed. */
void net_started(const struct container_spec *s, struct net_attach *na, pid_t init_pid);
/* The container has stopped: its address, veth and proxy go, and the bridge
 * and NAT a second after the last one on the network (unless another starts
 * meanwhile). Unknown ids are fine. */
void net_stopped(const char *ctr_id);

/* ContainerInfo.network and .ports. */
json_object *net_container_json(const struct container_spec *s, bool running);
json_object *net_ports_json(const struct container_spec *s);
/* The veth host name of a running container's endpoint ("" when none). */
void net_container_veth(const char *ctr_id, char out[16]);

/* network.create / list / inspect / remove. ctrs: container.list's array of
 * every container (a network in use cannot go; NetworkInfo lists them). */
int net_create(json_object *params, json_object **out, berr_t *err);
int net_list(json_object *ctrs, json_object **out, berr_t *err);
int net_inspect(json_object *params, json_object *ctrs, json_object **out, berr_t *err);
int net_remove(json_object *params, json_object *ctrs, json_object **out, berr_t *err);
/* container.interfaces (netinfo.c): the container's and berthd's links and routes. */
struct ctr_store;
int net_interfaces(struct ctr_store *st, json_object *params, json_object **out, berr_t *err);

/* Monitor, after clone: the veth pair, its far end as eth0 in the init's netns. */
int net_attach_veth(const struct net_attach *na, pid_t init_pid, berr_t *err);
/* Init, in its netns: eth0's address and the default route. */
int net_configure_inside(const struct net_attach *na, berr_t *err);

/* netfiles.c: the state dir's hosts, resolv.conf and hostname. */
int netfiles_write(const char *dir, const struct container_spec *s, const char *ip, berr_t *err);
/* Rewrites a hosts file in place (the bind mount holds its inode): the
 * container's own lines, then `extra` ("IP\tname hostname\n" lines). */
int netfiles_hosts(const char *dir, const struct container_spec *s, const char *ip, const char *extra,
                   berr_t *err);
/* Init, cwd = the rootfs: binds the three files over /etc/... of the rootfs. */
int netfiles_bind(const struct net_attach *na, berr_t *err);

/* portproxy.c: forks the proxy relaying the bound sockets to ip; it exits
 * when the process behind init_pidfd does. Returns its pid (> 0) or -1. */
pid_t portproxy_start(const struct container_spec *s, const struct net_attach *na, int init_pidfd,
                      berr_t *err);

/* CIDR helpers (unit-tested). "10.90.1.0/24" -> network address and prefix;
 * host bits set, or a prefix outside min..max, is `invalid`. */
int cidr_parse(const char *s, int min_prefix, int max_prefix, struct in_addr *net, int *prefix,
               berr_t *err);
bool cidr_overlap(struct in_addr a, int pa, struct in_addr b, int pb);
/* The lowest free host address of net/prefix: not the network or broadcast
 * address, not gw, and not one of used[n]. -1 (`limit`) when the subnet is full. */
int ipam_pick(struct in_addr net, int prefix, struct in_addr gw, const struct in_addr *used, size_t n,
              struct in_addr *out, berr_t *err);

#endif
