/* The network store and the daemon's side of a container's network.
 *
 * <root>/networks/<id>.json: {"id", "name", "subnet", "gateway", "bridge",
 *   "builtin", "created", "endpoints": {"<container id>": {"ip", "mac", "veth",
 *   "name", "hostname", "proxyPid", "proxyStart"}}}
 * An endpoint is a running container's address: written before its start,
 * removed when it stops, so the allocation survives a helper restart. */
#include "network.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cleanup.h"
#include "events.h"
#include "nat.h"
#include "names.h"
#include "netlink.h"
#include "protocol.h"
#include "runtime.h"
#include "server.h"
#include "util.h"

struct endpoint {
  char ctr[65];
  char name[65];
  char hostname[65];
  struct in_addr ip;
  uint8_t mac[6];
  char veth[16];
  pid_t proxy_pid;
  uint64_t proxy_start;
  struct endpoint *next;
};

struct network {
  char id[65];
  char name[65];
  char bridge[16];
  char created[40];
  struct in_addr subnet, gateway;
  int prefix;
  bool builtin;
  bool active; /* the bridge is up */
  int64_t linger_until; /* mono_us: the bridge goes then, when still no container is on it */
  struct endpoint *eps;
  struct network *next;
};

static struct {
  char root[PATH_MAX];
  struct network *list;
  int nl; /* rtnetlink in berthd's own network namespace */
  struct server *srv;
  int timer; /* timerfd: the next lingering bridge to remove */
} G = {.nl = -1, .timer = -1};

/* A bridge stays this long after its last container: back-to-back runs (scripts,
 * `run --rm` loops) neither make it again nor wait for its deletion. */
#define NET_LINGER_US (1000 * 1000)

static void teardowns_wait(void);
static void bridge_down(struct network *n, bool async);

/* ---- CIDR and IPAM ------------------------------------------------------------ */

static uint32_t mask_of(int prefix) { return prefix <= 0 ? 0 : ~0u << (32 - prefix); }

int cidr_parse(const char *s, int min_prefix, int max_prefix, struct in_addr *net, int *prefix,
               berr_t *err) {
  char buf[32];
  const char *slash = s ? strchr(s, '/') : NULL;
  if (!slash || (size_t)(slash - s) >= sizeof buf || !slash[1] || strlen(slash + 1) > 2)
    return berr_set(err, BERR_INVALID, "subnet '%.40s' must be CIDR, e.g. 10.90.1.0/24", s ? s : "");
  memcpy(buf, s, (size_t)(slash - s));
  buf[slash - s] = '\0';
  char *end;
  long p = strtol(slash + 1, &end, 10);
  struct in_addr a;
  if (*end || slash[1] < '0' || slash[1] > '9' || inet_pton(AF_INET, buf, &a) != 1)
    return berr_set(err, BERR_INVALID, "subnet '%.40s' must be CIDR, e.g. 10.90.1.0/24", s);
  if (p < min_prefix || p > max_prefix)
    return berr_set(err, BERR_INVALID, "subnet '%.40s': the prefix length must be %d..%d", s,
                    min_prefix, max_prefix);
  if (ntohl(a.s_addr) & ~mask_of((int)p)) {
    char nb[INET_ADDRSTRLEN];
    struct in_addr n = {.s_addr = htonl(ntohl(a.s_addr) & mask_of((int)p))};
    inet_ntop(AF_INET, &n, nb, sizeof nb);
    return berr_set(err, BERR_INVALID, "subnet '%.40s' has host bits set (the network address is %s)", s, nb);
  }
  *net = a;
  *prefix = (int)p;
  return 0;
}

bool cidr_overlap(struct in_addr a, int pa, struct in_addr b, int pb) {
  uint32_t m = mask_of(pa < pb ? pa : pb);
  return (ntohl(a.s_addr) & m) == (ntohl(b.s_addr) & m);
}

int ipam_pick(struct in_addr net, int prefix, struct in_addr gw, const struct in_addr *used, size_t n,
              struct in_addr *out, berr_t *err) {
  uint32_t base = ntohl(net.s_addr) & mask_of(prefix);
  uint32_t size = prefix >= 32 ? 1 : 1u << (32 - prefix);
  for (uint32_t i = 1; i + 1 < size; i++) {
    uint32_t a = htonl(base + i);
    if (a == gw.s_addr)
      continue;
    bool taken = false;
    for (size_t k = 0; k < n && !taken; k++)
      taken = used[k].s_addr == a;
    if (!taken) {
      out->s_addr = a;
      return 0;
    }
  }
  char nb[INET_ADDRSTRLEN];
  inet_ntop(AF_INET, &net, nb, sizeof nb);
  return berr_set(err, BERR_LIMIT, "no free address left in %s/%d", nb, prefix);
}

static void ip_str(struct in_addr a, char out[INET_ADDRSTRLEN]) { inet_ntop(AF_INET, &a, out, INET_ADDRSTRLEN); }

static void mac_str(const uint8_t m[6], char out[18]) {
  snprintf(out, 18, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
}

static void cidr_str(const struct network *n, char out[24]) {
  char a[INET_ADDRSTRLEN];
  ip_str(n->subnet, a);
  snprintf(out, 24, "%s/%d", a, n->prefix);
}

/* ---- the store -------------------------------------------------------------------- */

static struct network *find_net(const char *ref) {
  for (struct network *n = G.list; n; n = n->next)
    if (!strcmp(n->name, ref) || !strcmp(n->id, ref))
      return n;
  size_t len = strlen(ref);
  if (len < 3 || !id_prefix_is_hex(ref))
    return NULL;
  struct network *found = NULL;
  for (struct network *n = G.list; n; n = n->next)
    if (!strncmp(n->id, ref, len)) {
      if (found)
        return NULL;
      found = n;
    }
  return found;
}

static int lookup_net(const char *ref, struct network **out, berr_t *err) {
  *out = find_net(ref);
  if (!*out)
    return berr_set(err, BERR_NOT_FOUND, "no network named or with id prefix '%.64s'", ref);
  return 0;
}

static struct endpoint *find_ep(const char *ctr, struct network **net_out) {
  for (struct network *n = G.list; n; n = n->next)
    for (struct endpoint *e = n->eps; e; e = e->next)
      if (!strcmp(e->ctr, ctr)) {
        if (net_out)
          *net_out = n;
        return e;
      }
  return NULL;
}

static int net_path(const struct network *n, char out[PATH_MAX], berr_t *err) {
  if (snprintf(out, PATH_MAX, "%s/networks/%s.json", G.root, n->id) >= PATH_MAX)
    return berr_set(err, BERR_INTERNAL, "the store path is too long");
  return 0;
}

static json_object *net_file_json(const struct network *n) {
  json_object *o = json_object_new_object();
  char cidr[24], gw[INET_ADDRSTRLEN];
  cidr_str(n, cidr);
  ip_str(n->gateway, gw);
  json_object_object_add(o, "id", json_object_new_string(n->id));
  json_object_object_add(o, "name", json_object_new_string(n->name));
  json_object_object_add(o, "subnet", json_object_new_string(cidr));
  json_object_object_add(o, "gateway", json_object_new_string(gw));
  json_object_object_add(o, "bridge", json_object_new_string(n->bridge));
  json_object_object_add(o, "builtin", json_object_new_boolean(n->builtin));
  json_object_object_add(o, "created", json_object_new_string(n->created));
  json_object *eps = json_object_new_object();
  for (const struct endpoint *e = n->eps; e; e = e->next) {
    json_object *x = json_object_new_object();
    char ip[INET_ADDRSTRLEN], mac[18];
    ip_str(e->ip, ip);
    mac_str(e->mac, mac);
    json_object_object_add(x, "ip", json_object_new_string(ip));
    json_object_object_add(x, "mac", json_object_new_string(mac));
    json_object_object_add(x, "veth", json_object_new_string(e->veth));
    json_object_object_add(x, "name", json_object_new_string(e->name));
    json_object_object_add(x, "hostname", json_object_new_string(e->hostname));
    json_object_object_add(x, "proxyPid", json_object_new_int(e->proxy_pid));
    json_object_object_add(x, "proxyStart", json_object_new_uint64(e->proxy_start));
    json_object_object_add(eps, e->ctr, x);
  }
  json_object_object_add(o, "endpoints", eps);
  return o;
}

static int save_net(const struct network *n, berr_t *err) {
  char p[PATH_MAX];
  if (net_path(n, p, err) < 0)
    return -1;
  json_object *o = net_file_json(n);
  int r = json_write_file(p, o, false, err);
  json_object_put(o);
  return r;
}

static void save_net_logged(const struct network *n) {
  berr_t e;
  if (save_net(n, &e) < 0)
    berthd_log("network %s: %s", n->name, e.msg);
}

static const char *jstr(json_object *o, const char *key) {
  json_object *v;
  if (o && json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string))
    return json_object_get_string(v);
  return "";
}

static bool veth_name_ok(const char *s) {
  if (strlen(s) != 12 || strncmp(s, "veth", 4))
    return false;
  for (int i = 4; i < 12; i++)
    if (!strchr("0123456789abcdef", s[i]))
      return false;
  return true;
}

static void free_net(struct network *n) {
  while (n->eps) {
    struct endpoint *e = n->eps;
    n->eps = e->next;
    free(e);
  }
  free(n);
}

static int load_net(const char *path, berr_t *err) {
  json_object *o = NULL;
  if (json_read_file(path, &o, err) < 0)
    return -1;
  struct network *n = calloc(1, sizeof *n);
  if (!n) {
    json_object_put(o);
    return berr_sys(err, ENOMEM, "network");
  }
  int r = -1;
  snprintf(n->id, sizeof n->id, "%s", jstr(o, "id"));
  snprintf(n->name, sizeof n->name, "%s", jstr(o, "name"));
  snprintf(n->bridge, sizeof n->bridge, "%s", jstr(o, "bridge"));
  snprintf(n->created, sizeof n->created, "%s", jstr(o, "created"));
  json_object *v;
  n->builtin = json_object_object_get_ex(o, "builtin", &v) && json_object_get_boolean(v);
  if (!id_is_valid(n->id) || !name_is_valid(n->name) || !n->bridge[0] ||
      cidr_parse(jstr(o, "subnet"), 8, 30, &n->subnet, &n->prefix, err) < 0 ||
      inet_pton(AF_INET, jstr(o, "gateway"), &n->gateway) != 1) {
    if (!err->msg[0] || err->kind != BERR_INVALID)
      berr_set(err, BERR_INVALID, "`%s` is not a network file", path);
    goto out;
  }
  json_object *eps;
  if (json_object_object_get_ex(o, "endpoints", &eps) && json_object_is_type(eps, json_type_object)) {
    json_object_object_foreach(eps, ctr, x) {
      struct endpoint *e = calloc(1, sizeof *e);
      if (!e) {
        berr_sys(err, ENOMEM, "network");
        goto out;
      }
      snprintf(e->ctr, sizeof e->ctr, "%s", ctr);
      snprintf(e->veth, sizeof e->veth, "%s", jstr(x, "veth"));
      snprintf(e->name, sizeof e->name, "%s", jstr(x, "name"));
      snprintf(e->hostname, sizeof e->hostname, "%s", jstr(x, "hostname"));
      unsigned m[6];
      if (!id_is_valid(e->ctr) || !veth_name_ok(e->veth) || inet_pton(AF_INET, jstr(x, "ip"), &e->ip) != 1 ||
          sscanf(jstr(x, "mac"), "%x:%x:%x:%x:%x:%x", &m[0], &m[1], &m[2], &m[3], &m[4], &m[5]) != 6) {
        free(e);
        continue;
      }
      for (int i = 0; i < 6; i++)
        e->mac[i] = (uint8_t)m[i];
      json_object *pv;
      if (json_object_object_get_ex(x, "proxyPid", &pv))
        e->proxy_pid = json_object_get_int(pv);
      if (json_object_object_get_ex(x, "proxyStart", &pv))
        e->proxy_start = json_object_get_uint64(pv);
      e->next = n->eps;
      n->eps = e;
    }
  }
  n->next = G.list;
  G.list = n;
  n = NULL;
  r = 0;
out:
  if (n)
    free_net(n);
  json_object_put(o);
  return r;
}

static int new_net_id(char id[65], berr_t *err) {
  for (int tries = 0; tries < 16; tries++) {
    if (id_generate(id, err) < 0)
      return -1;
    bool clash = false;
    for (struct network *n = G.list; n && !clash; n = n->next)
      clash = !strncmp(n->id, id, 8);
    if (!clash)
      return 0;
  }
  return berr_set(err, BERR_INTERNAL, "could not pick a unique network id");
}

int net_init(const char *root, const char *default_subnet, struct server *srv, berr_t *err) {
  snprintf(G.root, sizeof G.root, "%s", root);
  G.srv = srv;
  struct in_addr sub;
  int prefix;
  if (cidr_parse(default_subnet ? default_subnet : NET_DEFAULT_SUBNET, 8, 30, &sub, &prefix, err) < 0)
    return berr_wrap(err, "--subnet");
  if ((G.nl = nl_open(err)) < 0)
    return -1;
  char dir[PATH_MAX + 16];
  snprintf(dir, sizeof dir, "%s/networks", root);
  if (mkdir_p(dir, 0700, err) < 0)
    return -1;
  cleanup_dir DIR *d = opendir(dir);
  if (!d)
    return berr_sys(err, errno, "opendir `%s`", dir);
  struct dirent *de;
  while ((de = readdir(d))) {
    size_t l = strlen(de->d_name);
    if (de->d_name[0] == '.' || l < 6 || strcmp(de->d_name + l - 5, ".json"))
      continue;
    char p[PATH_MAX + 300];
    snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
    berr_t e;
    if (load_net(p, &e) < 0)
      berthd_log("network file `%s` not loaded: %s", p, e.msg);
  }
  struct network *b = NULL;
  for (struct network *n = G.list; n; n = n->next)
    if (n->builtin)
      b = n;
  if (!b) {
    if (!(b = calloc(1, sizeof *b)))
      return berr_sys(err, ENOMEM, "network");
    if (new_net_id(b->id, err) < 0) {
      free(b);
      return -1;
    }
    snprintf(b->name, sizeof b->name, "%s", NET_BRIDGE);
    snprintf(b->bridge, sizeof b->bridge, "%s", NET_BRIDGE_IF);
    b->builtin = true;
    now_rfc3339(b->created);
    b->next = G.list;
    G.list = b;
  }
  /* --subnet changed: takes effect when no container holds an address there */
  if ((b->subnet.s_addr != sub.s_addr || b->prefix != prefix) && !b->eps) {
    b->subnet = sub;
    b->prefix = prefix;
    b->gateway.s_addr = htonl(ntohl(sub.s_addr) + 1);
  }
  return save_net(b, err);
}

void net_close(void) {
  /* bridges that only linger go now; the daemon is stopping */
  for (struct network *n = G.list; n; n = n->next)
    if (!n->eps && n->active)
      bridge_down(n, false);
  teardowns_wait(); /* leave nothing half-deleted behind */
  if (G.timer >= 0) {
    if (G.srv)
      server_unwatch(G.srv, G.timer);
    close(G.timer);
    G.timer = -1;
  }
  while (G.list) {
    struct network *n = G.list;
    G.list = n->next;
    free_net(n);
  }
  if (G.nl >= 0)
    close(G.nl);
  G.nl = -1;
}

/* ---- bridges and NAT -------------------------------------------------------------- */

static int nat_refresh(berr_t *err) {
  char *subnets[256];
  char bufs[256][24];
  size_t n = 0;
  for (struct network *x = G.list; x && n < 256; x = x->next)
    if (x->active) {
      cidr_str(x, bufs[n]);
      subnets[n] = bufs[n];
      n++;
    }
  return nat_apply(subnets, n, err);
}

static void links_delete_async(char names[][16], size_t n);
static void teardowns_wait_for(const char *name);

/* The NAT rule at once; the bridge itself by a child (async) or here. */
static void bridge_down(struct network *n, bool async) {
  berr_t e;
  bool was = n->active;
  n->active = false;
  n->linger_until = 0;
  if (nat_refresh(&e) < 0)
    berthd_log("network %s: %s", n->name, e.msg);
  char names[1][16];
  snprintf(names[0], sizeof names[0], "%s", n->bridge);
  if (async)
    links_delete_async(names, 1);
  else if (nl_link_delete(G.nl, n->bridge, &e) < 0)
    berthd_log("network %s: %s", n->name, e.msg);
  if (was) {
    berthd_log("network %s: bridge %s removed", n->name, n->bridge);
    events_emit("network", "change", n->id);
  }
}

static bool lingering(const struct network *n) { return !n->eps && n->active && n->linger_until; }

static void linger_arm(void);

static void on_linger(void *ctx, int fd, uint32_t events) {
  (void)ctx;
  (void)events;
  uint64_t x;
  (void)!read(fd, &x, sizeof x);
  int64_t now = mono_us();
  for (struct network *n = G.list; n; n = n->next)
    if (lingering(n) && n->linger_until <= now)
      bridge_down(n, true);
  linger_arm();
}

/* The timer to the earliest lingering bridge's time; without a timer, at once. */
static void linger_arm(void) {
  int64_t next = 0;
  for (struct network *n = G.list; n; n = n->next)
    if (lingering(n) && (!next || n->linger_until < next))
      next = n->linger_until;
  berr_t err;
  if (G.timer < 0 && next) {
    int fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (fd >= 0 && G.srv && server_watch(G.srv, fd, on_linger, NULL, &err) == 0) {
      G.timer = fd;
    } else {
      if (fd >= 0)
        close(fd);
      for (struct network *n = G.list; n; n = n->next)
        if (lingering(n))
          bridge_down(n, true);
      return;
    }
  }
  if (G.timer < 0)
    return;
  int64_t us = next ? next - mono_us() : 0;
  if (next && us < 1)
    us = 1;
  struct itimerspec its = {.it_value = {.tv_sec = us / 1000000, .tv_nsec = (us % 1000000) * 1000}};
  (void)timerfd_settime(G.timer, 0, &its, NULL);
}

static int bridge_up(struct network *n, berr_t *err) {
  n->linger_until = 0;
  if (n->active)
    return 0;
  teardowns_wait_for(n->bridge); /* its deletion of a moment ago */
  int index = 0;
  if (nl_bridge_create(G.nl, n->bridge, err) < 0 || nl_link_index(G.nl, n->bridge, &index, err) < 0)
    goto fail;
  if (!index) {
    berr_set(err, BERR_INTERNAL, "bridge `%s` vanished after its creation", n->bridge);
    goto fail;
  }
  if (nl_addr_add(G.nl, index, n->gateway, n->prefix, err) < 0 || nat_ip_forward(err) < 0)
    goto fail;
  n->active = true;
  if (nat_refresh(err) < 0) {
    n->active = false;
    goto fail;
  }
  berthd_log("network %s: bridge %s up", n->name, n->bridge);
  events_emit("network", "change", n->id);
  return 0;
fail:
  berr_wrap(err, "network %s", n->name);
  berr_t e;
  if (!n->eps) /* never under running (re-adopted) containers */
    (void)nl_link_delete(G.nl, n->bridge, &e);
  return -1;
}

/* ---- spec ------------------------------------------------------------------------- */

static bool is_keyword(const char *s) { return !strcmp(s, "none") || !strcmp(s, "host") || !strcmp(s, NET_BRIDGE); }

static const char *const port_keys[] = {"hostIp", "hostPort", "containerPort", "protocol", NULL};

int spec_net_from_json(struct container_spec *s, json_object *o, berr_t *err) {
  const char *network;
  if (param_string(o, "network", false, &network, err) < 0)
    return -1;
  json_object *ns = json_object_object_get(o, "namespaces"), *netv = NULL;
  bool net_explicit = ns && json_object_is_type(ns, json_type_object) &&
                      json_object_object_get_ex(ns, "net", &netv) && netv;
  if (!network || !network[0])
    network = s->ns[NS_NET] ? NET_BRIDGE : "host";
  if (strlen(network) > 64 || (!is_keyword(network) && !name_is_valid(network)))
    return berr_set(err, BERR_INVALID, "network '%.64s' is not a valid network name", network);
  if (!strcmp(network, "host")) {
    if (net_explicit && s->ns[NS_NET])
      return berr_set(err, BERR_INVALID, "network host shares berthd's network namespace: it cannot go with namespaces.net true");
    s->ns[NS_NET] = false;
  } else if (!s->ns[NS_NET]) {
    return berr_set(err, BERR_INVALID,
                    "network %s needs a network namespace of the container's own: namespaces.net false is network host",
                    network);
  }
  snprintf(s->network, sizeof s->network, "%s", network);

  json_object *ports = json_object_object_get(o, "ports");
  s->n_ports = 0;
  if (!ports)
    return 0;
  if (!json_object_is_type(ports, json_type_array))
    return berr_set(err, BERR_BAD_REQUEST, "`ports` must be an array");
  size_t n = json_object_array_length(ports);
  if (n > SPEC_MAX_PORTS)
    return berr_set(err, BERR_LIMIT, "at most %d published ports", SPEC_MAX_PORTS);
  if (n && (!strcmp(network, "none") || !strcmp(network, "host")))
    return berr_set(err, BERR_INVALID, "ports are published on bridge networks only, not on network %s", network);
  for (size_t i = 0; i < n; i++) {
    json_object *p = json_object_array_get_idx(ports, i);
    struct port_map *m = &s->ports[i];
    if (!json_object_is_type(p, json_type_object))
      return berr_set(err, BERR_BAD_REQUEST, "`ports[%zu]` must be an object", i);
    if (param_check_keys(p, "ports[]", port_keys, err) < 0)
      return -1;
    const char *host_ip, *proto;
    int64_t hp, cp;
    if (param_string(p, "hostIp", false, &host_ip, err) < 0 || param_string(p, "protocol", false, &proto, err) < 0 ||
        param_int(p, "hostPort", 0, 1, 65535, &hp, NULL, err) < 0 ||
        param_int(p, "containerPort", 0, 1, 65535, &cp, NULL, err) < 0)
      return berr_wrap(err, "ports[%zu]", i);
    if (!hp || !cp)
      return berr_set(err, BERR_BAD_REQUEST, "ports[%zu] needs hostPort and containerPort", i);
    if (!host_ip || !host_ip[0])
      host_ip = "127.0.0.1";
    struct in_addr a;
    if (strlen(host_ip) >= sizeof m->host_ip || inet_pton(AF_INET, host_ip, &a) != 1)
      return berr_set(err, BERR_INVALID, "ports[%zu]: hostIp '%.40s' is not an IPv4 address", i, host_ip);
    if (proto && proto[0] && strcmp(proto, "tcp") && strcmp(proto, "udp"))
      return berr_set(err, BERR_INVALID, "ports[%zu]: protocol '%.16s' must be tcp or udp", i, proto);
    inet_ntop(AF_INET, &a, m->host_ip, sizeof m->host_ip);
    m->host_port = (uint16_t)hp;
    m->container_port = (uint16_t)cp;
    m->udp = proto && !strcmp(proto, "udp");
    for (size_t k = 0; k < i; k++) {
      const struct port_map *q = &s->ports[k];
      bool any = !strcmp(q->host_ip, "0.0.0.0") || !strcmp(m->host_ip, "0.0.0.0");
      if (q->udp == m->udp && q->host_port == m->host_port && (any || !strcmp(q->host_ip, m->host_ip)))
        return berr_set(err, BERR_INVALID, "host port %s:%u/%s is published twice", m->host_ip,
                        m->host_port, m->udp ? "udp" : "tcp");
    }
    s->n_ports = i + 1;
  }
  return 0;
}

static json_object *port_json(const struct port_map *m) {
  json_object *x = json_object_new_object();
  json_object_object_add(x, "hostIp", json_object_new_string(m->host_ip));
  json_object_object_add(x, "hostPort", json_object_new_int(m->host_port));
  json_object_object_add(x, "containerPort", json_object_new_int(m->container_port));
  json_object_object_add(x, "protocol", json_object_new_string(m->udp ? "udp" : "tcp"));
  return x;
}

json_object *net_ports_json(const struct container_spec *s) {
  json_object *a = json_object_new_array();
  for (size_t i = 0; i < s->n_ports; i++)
    json_object_array_add(a, port_json(&s->ports[i]));
  return a;
}

void spec_net_to_json(const struct container_spec *s, json_object *o) {
  json_object_object_add(o, "network", json_object_new_string(s->network[0] ? s->network : NET_BRIDGE));
  json_object_object_add(o, "ports", net_ports_json(s));
}

int net_check_spec(struct container_spec *s, berr_t *err) {
  if (!strcmp(s->network, "none") || !strcmp(s->network, "host"))
    return 0;
  struct network *n;
  if (lookup_net(s->network, &n, err) < 0)
    return -1;
  snprintf(s->network, sizeof s->network, "%s", n->name);
  return 0;
}

static bool mode_bridge(const struct container_spec *s) {
  return s->network[0] && strcmp(s->network, "none") && strcmp(s->network, "host");
}

json_object *net_container_json(const struct container_spec *s, bool running) {
  json_object *o = json_object_new_object();
  const char *mode = !strcmp(s->network, "none") ? "none" : !strcmp(s->network, "host") ? "host" : "bridge";
  json_object_object_add(o, "mode", json_object_new_string(mode));
  json_object_object_add(o, "name", mode_bridge(s) ? json_object_new_string(s->network) : NULL);
  struct network *n = NULL;
  struct endpoint *e = running ? find_ep(s->id, &n) : NULL;
  char ip[INET_ADDRSTRLEN], gw[INET_ADDRSTRLEN], mac[18];
  if (e) {
    ip_str(e->ip, ip);
    ip_str(n->gateway, gw);
    mac_str(e->mac, mac);
  }
  json_object_object_add(o, "ip", e ? json_object_new_string(ip) : NULL);
  json_object_object_add(o, "prefixLen", e ? json_object_new_int(n->prefix) : NULL);
  json_object_object_add(o, "gateway", e ? json_object_new_string(gw) : NULL);
  json_object_object_add(o, "mac", e ? json_object_new_string(mac) : NULL);
  return o;
}

void net_container_veth(const char *ctr_id, char out[16]) {
  struct endpoint *e = find_ep(ctr_id, NULL);
  snprintf(out, 16, "%s", e ? e->veth : "");
}

/* ---- hosts files of a user network ------------------------------------------------- */

/* Every container on a user network names all the others; the default bridge
 * network names only the container itself (as docker's does). */
static void rewrite_hosts(struct network *n, const char *skip) {
  if (n->builtin)
    return;
  size_t cap = 256;
  for (struct endpoint *e = n->eps; e; e = e->next)
    cap += 160;
  char *all = malloc(cap);
  if (!all)
    return;
  for (struct endpoint *self = n->eps; self; self = self->next) {
    if (skip && !strcmp(self->ctr, skip))
      continue;
    size_t len = 0;
    all[0] = '\0';
    for (struct endpoint *e = n->eps; e; e = e->next) {
      if (e == self)
        continue;
      char ip[INET_ADDRSTRLEN];
      ip_str(e->ip, ip);
      len += (size_t)snprintf(all + len, cap - len, "%s\t%s %s\n", ip, e->name, e->hostname);
    }
    char dir[PATH_MAX + 80], ip[INET_ADDRSTRLEN];
    snprintf(dir, sizeof dir, "%s/containers/%s", G.root, self->ctr);
    ip_str(self->ip, ip);
    struct container_spec s;
    memset(&s, 0, sizeof s);
    snprintf(s.name, sizeof s.name, "%s", self->name);
    snprintf(s.hostname, sizeof s.hostname, "%s", self->hostname);
    berr_t e;
    if (netfiles_hosts(dir, &s, ip, all, &e) < 0)
      berthd_log("network %s: hosts of %.12s: %s", n->name, self->ctr, e.msg);
  }
  free(all);
}

/* ---- a container's start and stop ---------------------------------------------------- */

static bool proxy_alive(const struct endpoint *e) {
  return e->proxy_pid > 0 && e->proxy_start && proc_starttime(e->proxy_pid) == e->proxy_start;
}

/* Ends the proxy and waits (briefly) until it is gone, so its ports are free again. */
static void proxy_stop(struct endpoint *e) {
  if (!proxy_alive(e))
    return;
  int fd = (int)syscall(SYS_pidfd_open, e->proxy_pid, 0);
  if (fd < 0)
    return;
  if (proc_starttime(e->proxy_pid) == e->proxy_start && syscall(SYS_pidfd_send_signal, fd, SIGKILL, NULL, 0) == 0) {
    struct pollfd p = {.fd = fd, .events = POLLIN};
    while (poll(&p, 1, 1000) < 0 && errno == EINTR)
      ;
  }
  close(fd);
  e->proxy_pid = 0;
  e->proxy_start = 0;
}

/* ---- link deletions off the event loop ------------------------------------------------
 * Deleting a veth or a bridge waits in the kernel for RCU grace periods (25-50 ms
 * here), which berthd's event loop should not: a short-lived child deletes them.
 * Whatever needs one of those names again (a start) waits for it first. */

#define MAX_TEARDOWNS 32
static struct teardown {
  int pidfd; /* the deleting child */
  char names[2][16];
  size_t n;
} teardowns[MAX_TEARDOWNS];
static size_t n_teardowns;

/* Waits for the deletions of name (NULL: all) that are in flight; drops finished ones. */
static void teardowns_wait_for(const char *name) {
  size_t keep = 0;
  for (size_t i = 0; i < n_teardowns; i++) {
    struct teardown *t = &teardowns[i];
    bool mine = !name;
    for (size_t k = 0; k < t->n && !mine; k++)
      mine = !strcmp(t->names[k], name);
    struct pollfd p = {.fd = t->pidfd, .events = POLLIN};
    int r;
    while ((r = poll(&p, 1, mine ? 5000 : 0)) < 0 && errno == EINTR)
      ;
    if (r == 1 || mine)
      close(t->pidfd);
    else
      teardowns[keep++] = *t;
  }
  n_teardowns = keep;
}

static void teardowns_wait(void) { teardowns_wait_for(NULL); }

static void links_delete_async(char names[][16], size_t n) {
  teardowns_wait_for(""); /* drops the finished ones */
  if (n_teardowns == MAX_TEARDOWNS)
    teardowns_wait();
  pid_t pid = fork();
  if (pid == 0) {
    close_range(3, ~0U, 0);
    berr_t e;
    int nl = nl_open(&e);
    for (size_t i = 0; nl >= 0 && i < n; i++)
      (void)nl_link_delete(nl, names[i], &e);
    _exit(0);
  }
  /* SIGCHLD is handled in the event loop, so the child cannot have been reaped yet */
  int fd = pid > 0 ? (int)syscall(SYS_pidfd_open, pid, 0) : -1;
  if (fd >= 0) {
    struct teardown *t = &teardowns[n_teardowns++];
    t->pidfd = fd;
    t->n = n;
    for (size_t i = 0; i < n; i++)
      snprintf(t->names[i], sizeof t->names[i], "%s", names[i]);
    return;
  }
  if (pid > 0) {
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
      ;
    return;
  }
  berr_t err;
  for (size_t i = 0; i < n; i++)
    if (nl_link_delete(G.nl, names[i], &err) < 0)
      berthd_log("%s", err.msg);
}

static void release(struct network *n, struct endpoint *e, bool rewrite) {
  proxy_stop(e);
  /* the kernel drops a veth with its netns, but later, in a work queue: delete it now */
  char names[2][16];
  size_t nn = 0;
  snprintf(names[nn++], 16, "%s", e->veth);
  for (struct endpoint **pp = &n->eps; *pp; pp = &(*pp)->next)
    if (*pp == e) {
      *pp = e->next;
      break;
    }
  free(e);
  save_net_logged(n);
  if (rewrite)
    rewrite_hosts(n, NULL);
  links_delete_async(names, nn);
  if (!n->eps && n->active) {
    n->linger_until = mono_us() + NET_LINGER_US;
    linger_arm();
  }
}

static void close_ports(struct net_attach *na) {
  for (size_t i = 0; i < na->n_port_fds; i++)
    if (na->port_fds[i] >= 0)
      close(na->port_fds[i]);
  na->n_port_fds = 0;
}

static int bind_port(const struct port_map *m, int *out, berr_t *err) {
  int fd = socket(AF_INET, (m->udp ? SOCK_DGRAM : SOCK_STREAM) | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0)
    return berr_sys(err, errno, "socket for port %u", m->host_port);
  int one = 1;
  if (!m->udp && setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0) {
    int e = errno;
    close(fd);
    return berr_sys(err, e, "setsockopt SO_REUSEADDR");
  }
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(m->host_port)};
  inet_pton(AF_INET, m->host_ip, &sa.sin_addr);
  if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
    int e = errno;
    close(fd);
    if (e == EADDRINUSE)
      return berr_set(err, BERR_CONFLICT, "port %s:%u/%s is already in use", m->host_ip, m->host_port,
                      m->udp ? "udp" : "tcp");
    if (e == EADDRNOTAVAIL)
      return berr_set(err, BERR_INVALID, "hostIp %s is not an address of this machine", m->host_ip);
    return berr_sys(err, e, "bind %s:%u/%s", m->host_ip, m->host_port, m->udp ? "udp" : "tcp");
  }
  if (!m->udp && listen(fd, 128) < 0) {
    int e = errno;
    close(fd);
    return berr_sys(err, e, "listen on %s:%u", m->host_ip, m->host_port);
  }
  *out = fd;
  return 0;
}

int net_prepare(const struct container_spec *s, const char *dir, struct net_attach *na, berr_t *err) {
  memset(na, 0, sizeof *na);
  if (!mode_bridge(s))
    return 0;
  struct network *n;
  if (lookup_net(s->network, &n, err) < 0)
    return -1;
  struct network *old_net;
  struct endpoint *old = find_ep(s->id, &old_net);
  if (old)
    release(old_net, old, true);
  /* this container's previous veth must be gone before the monitor makes it again:
   * a deletion still in flight would take the new one */
  char veth[16];
  snprintf(veth, sizeof veth, "veth%.8s", s->id);
  teardowns_wait_for(veth);
  /* the ports first: a port in use must leave nothing behind */
  for (size_t i = 0; i < s->n_ports; i++) {
    if (bind_port(&s->ports[i], &na->port_fds[i], err) < 0) {
      close_ports(na);
      return -1;
    }
    na->n_port_fds = i + 1;
  }
  struct endpoint *e = calloc(1, sizeof *e);
  size_t nused = 0;
  for (struct endpoint *x = n->eps; x; x = x->next)
    nused++;
  struct in_addr *used = calloc(nused + 1, sizeof *used);
  if (!e || !used) {
    free(e);
    free(used);
    close_ports(na);
    return berr_sys(err, ENOMEM, "network endpoint");
  }
  nused = 0;
  for (struct endpoint *x = n->eps; x; x = x->next)
    used[nused++] = x->ip;
  int r = ipam_pick(n->subnet, n->prefix, n->gateway, used, nused, &e->ip, err);
  free(used);
  if (r < 0) {
    free(e);
    close_ports(na);
    return -1;
  }
  snprintf(e->ctr, sizeof e->ctr, "%s", s->id);
  snprintf(e->name, sizeof e->name, "%s", s->name);
  snprintf(e->hostname, sizeof e->hostname, "%s", s->hostname);
  snprintf(e->veth, sizeof e->veth, "veth%.8s", s->id);
  /* locally administered, derived from the address as docker does */
  uint32_t h = ntohl(e->ip.s_addr);
  uint8_t mac[6] = {0x02, 0x42, (uint8_t)(h >> 24), (uint8_t)(h >> 16), (uint8_t)(h >> 8), (uint8_t)h};
  memcpy(e->mac, mac, 6);
  if (bridge_up(n, err) < 0) {
    free(e);
    close_ports(na);
    return -1;
  }
  berr_t e2;
  if (nl_link_delete(G.nl, e->veth, &e2) < 0) /* a leftover of a crashed run */
    berthd_log("%s", e2.msg);
  e->next = n->eps;
  n->eps = e;
  char ip[INET_ADDRSTRLEN];
  ip_str(e->ip, ip);
  if (save_net(n, err) < 0 || netfiles_write(dir, s, ip, err) < 0) {
    close_ports(na);
    release(n, e, false); /* and the bridge, when it was made for this start */
    return -1;
  }
  rewrite_hosts(n, NULL);
  na->active = true;
  snprintf(na->network_id, sizeof na->network_id, "%s", n->id);
  snprintf(na->bridge, sizeof na->bridge, "%s", n->bridge);
  snprintf(na->veth, sizeof na->veth, "%s", e->veth);
  memcpy(na->mac, e->mac, 6);
  na->ip = e->ip;
  na->gateway = n->gateway;
  na->prefix = n->prefix;
  snprintf(na->dir, sizeof na->dir, "%s", dir);
  return 0;
}

void net_abort(const struct container_spec *s, struct net_attach *na) {
  close_ports(na);
  if (na->active)
    net_stopped(s->id);
  na->active = false;
}

void net_started(const struct container_spec *s, struct net_attach *na, pid_t init_pid) {
  if (!na->active || !na->n_port_fds) {
    close_ports(na);
    return;
  }
  struct network *n;
  struct endpoint *e = find_ep(s->id, &n);
  int pidfd = (int)syscall(SYS_pidfd_open, init_pid, 0);
  berr_t err;
  if (pidfd < 0) {
    berthd_log("container %.12s: pidfd_open %d for the port proxy: %s", s->id, (int)init_pid, strerror(errno));
  } else {
    pid_t pid = portproxy_start(s, na, pidfd, &err);
    if (pid < 0) {
      berthd_log("container %.12s: port proxy: %s", s->id, err.msg);
    } else if (e) {
      e->proxy_pid = pid;
      e->proxy_start = proc_starttime(pid);
      save_net_logged(n);
    }
    close(pidfd);
  }
  close_ports(na);
}

void net_stopped(const char *ctr_id) {
  struct network *n;
  struct endpoint *e = find_ep(ctr_id, &n);
  if (e)
    release(n, e, true);
}

/* ---- reconcile ---------------------------------------------------------------------- */

static bool bridge_name_ours(const char *s) {
  if (!strcmp(s, NET_BRIDGE_IF))
    return true;
  if (strlen(s) != 14 || strncmp(s, "berth-", 6))
    return false;
  for (int i = 6; i < 14; i++)
    if (!strchr("0123456789abcdef", s[i]))
      return false;
  return true;
}

void net_reconcile(json_object *running) {
  teardowns_wait();
  size_t nr = running && json_object_is_type(running, json_type_array) ? json_object_array_length(running) : 0;
  for (struct network *n = G.list; n; n = n->next) {
    for (struct endpoint *e = n->eps, *next; e; e = next) {
      next = e->next;
      bool alive = false;
      for (size_t i = 0; i < nr && !alive; i++)
        alive = !strcmp(jstr(json_object_array_get_idx(running, i), "id"), e->ctr);
      if (!alive) {
        berthd_log("network %s: releasing %s of container %.12s (no longer running)", n->name, e->veth, e->ctr);
        release(n, e, false);
      }
    }
  }
  teardowns_wait();
  for (struct network *n = G.list; n; n = n->next) {
    save_net_logged(n);
    int index = 0;
    berr_t err;
    if (nl_link_index(G.nl, n->bridge, &index, &err) < 0)
      berthd_log("network %s: %s", n->name, err.msg);
    if (n->eps) {
      /* a re-adopted container's bridge is still there; its address and NAT are made again when missing */
      n->active = false;
      if (bridge_up(n, &err) < 0)
        berthd_log("%s", err.msg);
      rewrite_hosts(n, NULL);
    } else if (index) {
      berthd_log("network %s: removing bridge %s left by an earlier run", n->name, n->bridge);
      if (nl_link_delete(G.nl, n->bridge, &err) < 0)
        berthd_log("%s", err.msg);
    }
  }
  /* veths and bridges of ours that no network knows of */
  struct nl_link *links = NULL;
  size_t nl = 0;
  berr_t err;
  if (nl_dump_links(G.nl, &links, &nl, &err) < 0) {
    berthd_log("reconcile: %s", err.msg);
  } else {
    for (size_t i = 0; i < nl; i++) {
      const char *name = links[i].name;
      bool known = false;
      if (veth_name_ok(name)) {
        for (struct network *n = G.list; n && !known; n = n->next)
          for (struct endpoint *e = n->eps; e && !known; e = e->next)
            known = !strcmp(e->veth, name);
      } else if (bridge_name_ours(name)) {
        for (struct network *n = G.list; n && !known; n = n->next)
          known = n->active && !strcmp(n->bridge, name);
      } else {
        continue;
      }
      if (!known) {
        berthd_log("reconcile: removing link %s left by an earlier run", name);
        if (nl_link_delete(G.nl, name, &err) < 0)
          berthd_log("%s", err.msg);
      }
    }
    free(links);
  }
  if (nat_refresh(&err) < 0)
    berthd_log("reconcile: %s", err.msg);
}

/* ---- network.* methods --------------------------------------------------------------- */

static json_object *info_json(const struct network *n, json_object *ctrs) {
  json_object *o = net_file_json(n);
  json_object_object_del(o, "endpoints");
  json_object_object_add(o, "driver", json_object_new_string("bridge"));
  json_object_object_add(o, "active", json_object_new_boolean(n->active));
  json_object *list = json_object_new_array();
  size_t nc = ctrs && json_object_is_type(ctrs, json_type_array) ? json_object_array_length(ctrs) : 0;
  for (size_t i = 0; i < nc; i++) {
    json_object *c = json_object_array_get_idx(ctrs, i), *net = NULL;
    if (!json_object_object_get_ex(c, "network", &net) || strcmp(jstr(net, "name"), n->name))
      continue;
    const char *id = jstr(c, "id");
    struct endpoint *e = NULL;
    for (struct endpoint *x = n->eps; x && !e; x = x->next)
      if (!strcmp(x->ctr, id))
        e = x;
    json_object *x = json_object_new_object();
    char ip[INET_ADDRSTRLEN], mac[18];
    if (e) {
      ip_str(e->ip, ip);
      mac_str(e->mac, mac);
    }
    json_object_object_add(x, "id", json_object_new_string(id));
    json_object_object_add(x, "name", json_object_new_string(jstr(c, "name")));
    json_object_object_add(x, "ip", e ? json_object_new_string(ip) : NULL);
    json_object_object_add(x, "mac", e ? json_object_new_string(mac) : NULL);
    json_object_array_add(list, x);
  }
  json_object_object_add(o, "containers", list);
  return o;
}

static const char *const create_keys[] = {"name", "subnet", "gateway", NULL};

int net_create(json_object *params, json_object **out, berr_t *err) {
  const char *name, *subnet, *gateway;
  if (param_check_keys(params, "network.create", create_keys, err) < 0 ||
      param_string(params, "name", true, &name, err) < 0 || param_string(params, "subnet", false, &subnet, err) < 0 ||
      param_string(params, "gateway", false, &gateway, err) < 0)
    return -1;
  if (!name_is_valid(name))
    return berr_set(err, BERR_INVALID,
                    "invalid network name '%.80s': use 1 to 64 of A-Z a-z 0-9 _ . -, starting with a letter or digit",
                    name);
  if (is_keyword(name))
    return berr_set(err, BERR_INVALID, "'%s' is reserved: pick another network name", name);
  if (find_net(name) && !strcmp(find_net(name)->name, name))
    return berr_set(err, BERR_CONFLICT, "a network named '%s' already exists", name);
  struct network *n = calloc(1, sizeof *n);
  if (!n)
    return berr_sys(err, ENOMEM, "network");
  if (subnet && subnet[0]) {
    if (cidr_parse(subnet, 8, 30, &n->subnet, &n->prefix, err) < 0)
      goto fail;
    for (struct network *x = G.list; x; x = x->next)
      if (cidr_overlap(x->subnet, x->prefix, n->subnet, n->prefix)) {
        char c[24];
        cidr_str(x, c);
        berr_set(err, BERR_CONFLICT, "subnet %s overlaps network %s (%s)", subnet, x->name, c);
        goto fail;
      }
  } else {
    struct in_addr pool;
    int pp;
    cidr_parse(NET_USER_POOL, 8, 30, &pool, &pp, err);
    bool found = false;
    for (uint32_t i = 0; i < 256 && !found; i++) {
      struct in_addr cand = {.s_addr = htonl(ntohl(pool.s_addr) + (i << 8))};
      found = true;
      for (struct network *x = G.list; x && found; x = x->next)
        found = !cidr_overlap(x->subnet, x->prefix, cand, 24);
      if (found) {
        n->subnet = cand;
        n->prefix = 24;
      }
    }
    if (!found) {
      berr_set(err, BERR_LIMIT, "no free /24 left in %s: give a subnet", NET_USER_POOL);
      goto fail;
    }
  }
  uint32_t base = ntohl(n->subnet.s_addr), size = 1u << (32 - n->prefix);
  if (gateway && gateway[0]) {
    if (inet_pton(AF_INET, gateway, &n->gateway) != 1) {
      berr_set(err, BERR_INVALID, "gateway '%.40s' is not an IPv4 address", gateway);
      goto fail;
    }
    uint32_t g = ntohl(n->gateway.s_addr);
    if ((g & mask_of(n->prefix)) != base || g == base || g == base + size - 1) {
      berr_set(err, BERR_INVALID, "gateway %s is not a host address of the subnet", gateway);
      goto fail;
    }
  } else {
    n->gateway.s_addr = htonl(base + 1);
  }
  if (new_net_id(n->id, err) < 0)
    goto fail;
  snprintf(n->name, sizeof n->name, "%s", name);
  snprintf(n->bridge, sizeof n->bridge, "berth-%.8s", n->id);
  now_rfc3339(n->created);
  if (save_net(n, err) < 0)
    goto fail;
  n->next = G.list;
  G.list = n;
  berthd_log("network %s created (%.12s)", n->name, n->id);
  events_emit("network", "create", n->id);
  *out = info_json(n, NULL);
  return 0;
fail:
  free_net(n);
  return -1;
}

static int by_name(const void *a, const void *b) {
  const struct network *x = *(struct network *const *)a, *y = *(struct network *const *)b;
  return strcmp(x->name, y->name);
}

int net_list(json_object *ctrs, json_object **out, berr_t *err) {
  size_t n = 0;
  for (struct network *x = G.list; x; x = x->next)
    n++;
  struct network **v = calloc(n + 1, sizeof *v);
  if (!v)
    return berr_sys(err, ENOMEM, "network.list");
  n = 0;
  for (struct network *x = G.list; x; x = x->next)
    v[n++] = x;
  qsort(v, n, sizeof *v, by_name);
  json_object *arr = json_object_new_array();
  for (size_t i = 0; i < n; i++)
    json_object_array_add(arr, info_json(v[i], ctrs));
  free(v);
  *out = json_object_new_object();
  json_object_object_add(*out, "networks", arr);
  return 0;
}

static const char *const ref_keys[] = {"ref", NULL};

int net_inspect(json_object *params, json_object *ctrs, json_object **out, berr_t *err) {
  const char *ref;
  struct network *n;
  if (param_check_keys(params, "network.inspect", ref_keys, err) < 0 ||
      param_string(params, "ref", true, &ref, err) < 0 || lookup_net(ref, &n, err) < 0)
    return -1;
  *out = info_json(n, ctrs);
  return 0;
}

int net_remove(json_object *params, json_object *ctrs, json_object **out, berr_t *err) {
  const char *ref;
  struct network *n;
  if (param_check_keys(params, "network.remove", ref_keys, err) < 0 ||
      param_string(params, "ref", true, &ref, err) < 0 || lookup_net(ref, &n, err) < 0)
    return -1;
  if (n->builtin)
    return berr_set(err, BERR_INVALID, "the default network '%s' cannot be removed", n->name);
  json_object *info = info_json(n, ctrs);
  size_t users = json_object_array_length(json_object_object_get(info, "containers"));
  json_object_put(info);
  if (users || n->eps)
    return berr_set(err, BERR_CONFLICT, "network %s is in use by %zu container(s): remove them first", n->name,
                    users ? users : 1);
  char p[PATH_MAX];
  if (net_path(n, p, err) < 0)
    return -1;
  if (unlink(p) < 0 && errno != ENOENT)
    return berr_sys(err, errno, "unlink `%s`", p);
  if (n->active)
    bridge_down(n, false);
  for (struct network **pp = &G.list; *pp; pp = &(*pp)->next)
    if (*pp == n) {
      *pp = n->next;
      break;
    }
  *out = json_object_new_object();
  json_object_object_add(*out, "id", json_object_new_string(n->id));
  berthd_log("network %s removed", n->name);
  events_emit("network", "remove", n->id);
  free_net(n);
  return 0;
}

/* ---- the monitor's and the init's part ------------------------------------------------ */

int net_attach_veth(const struct net_attach *na, pid_t init_pid, berr_t *err) {
  int nl = nl_open(err);
  if (nl < 0)
    return -1;
  int master = 0;
  int r = nl_link_index(nl, na->bridge, &master, err);
  if (r == 0 && !master)
    r = berr_set(err, BERR_INTERNAL, "bridge `%s` is gone", na->bridge);
  if (r == 0)
    r = nl_veth_create(nl, na->veth, master, NET_IFACE, init_pid, na->mac, err);
  close(nl);
  return r;
}

int net_configure_inside(const struct net_attach *na, berr_t *err) {
  int nl = nl_open(err);
  if (nl < 0)
    return -1;
  int index = 0;
  int r = nl_link_index(nl, NET_IFACE, &index, err);
  if (r == 0 && !index)
    r = berr_set(err, BERR_INTERNAL, "no %s in the container's network namespace", NET_IFACE);
  if (r == 0)
    r = nl_link_up(nl, index, err);
  if (r == 0)
    r = nl_addr_add(nl, index, na->ip, na->prefix, err);
  if (r == 0)
    r = nl_route_default(nl, na->gateway, index, err);
  close(nl);
  return r;
}
