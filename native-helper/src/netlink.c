#include "netlink.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/if.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define NL_BUF 8192
#define DUMP_BUF 32768

struct req {
  struct nlmsghdr *h;
  char buf[NL_BUF];
};

static void *req_init(struct req *r, int type, int flags, size_t payload) {
  memset(r->buf, 0, sizeof r->buf);
  r->h = (struct nlmsghdr *)r->buf;
  r->h->nlmsg_len = NLMSG_LENGTH(payload);
  r->h->nlmsg_type = (uint16_t)type;
  r->h->nlmsg_flags = (uint16_t)(NLM_F_REQUEST | flags);
  return NLMSG_DATA(r->h);
}

static struct rtattr *attr(struct req *r, int type, const void *data, size_t len) {
  size_t at = NLMSG_ALIGN(r->h->nlmsg_len);
  if (at + RTA_SPACE(len) > sizeof r->buf)
    abort(); /* fixed-size messages: a bug, not an input */
  struct rtattr *a = (struct rtattr *)(r->buf + at);
  a->rta_type = (uint16_t)type;
  a->rta_len = (uint16_t)RTA_LENGTH(len);
  if (len)
    memcpy(RTA_DATA(a), data, len);
  r->h->nlmsg_len = (uint32_t)(at + RTA_SPACE(len));
  return a;
}

static struct rtattr *nest(struct req *r, int type) { return attr(r, type, NULL, 0); }
static void nest_end(struct req *r, struct rtattr *a) {
  a->rta_len = (uint16_t)((char *)r->h + r->h->nlmsg_len - (char *)a);
}

int nl_open(berr_t *err) {
  int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  if (fd < 0)
    return berr_sys(err, errno, "socket AF_NETLINK NETLINK_ROUTE");
  struct sockaddr_nl sa = {.nl_family = AF_NETLINK};
  if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
    int e = errno;
    close(fd);
    return berr_sys(err, e, "bind netlink socket");
  }
  return fd;
}

/* Sends r and reads its ACK; *kerr gets the kernel's errno (0 = success). */
static int talk(int nl, struct req *r, int *kerr, const char *what, berr_t *err) {
  static uint32_t seq;
  r->h->nlmsg_seq = ++seq;
  r->h->nlmsg_flags |= NLM_F_ACK;
  struct sockaddr_nl to = {.nl_family = AF_NETLINK};
  if (sendto(nl, r->buf, r->h->nlmsg_len, 0, (struct sockaddr *)&to, sizeof to) < 0)
    return berr_sys(err, errno, "netlink send (%s)", what);
  char buf[NL_BUF];
  for (;;) {
    ssize_t n = recv(nl, buf, sizeof buf, 0);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      return berr_sys(err, errno, "netlink receive (%s)", what);
    }
    for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)n); h = NLMSG_NEXT(h, n)) {
      if (h->nlmsg_seq != r->h->nlmsg_seq)
        continue;
      if (h->nlmsg_type == NLMSG_ERROR) {
        struct nlmsgerr *e = NLMSG_DATA(h);
        *kerr = -e->error;
        return 0;
      }
    }
  }
}

static int do_req(int nl, struct req *r, const int *ok_errnos, const char *what, berr_t *err) {
  int kerr = 0;
  if (talk(nl, r, &kerr, what, err) < 0)
    return -1;
  if (kerr == 0)
    return 0;
  for (const int *o = ok_errnos; o && *o; o++)
    if (*o == kerr)
      return 0;
  return berr_sys(err, kerr, "netlink: %s", what);
}

int nl_link_index(int nl, const char *name, int *index, berr_t *err) {
  *index = 0;
  struct req r;
  struct ifinfomsg *ifi = req_init(&r, RTM_GETLINK, 0, sizeof *ifi);
  ifi->ifi_family = AF_UNSPEC;
  attr(&r, IFLA_IFNAME, name, strlen(name) + 1);
  static uint32_t seq = 1u << 30;
  r.h->nlmsg_seq = ++seq;
  struct sockaddr_nl to = {.nl_family = AF_NETLINK};
  if (sendto(nl, r.buf, r.h->nlmsg_len, 0, (struct sockaddr *)&to, sizeof to) < 0)
    return berr_sys(err, errno, "netlink send (get link `%s`)", name);
  char buf[NL_BUF];
  for (;;) {
    ssize_t n = recv(nl, buf, sizeof buf, 0);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      return berr_sys(err, errno, "netlink receive (get link `%s`)", name);
    }
    for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)n); h = NLMSG_NEXT(h, n)) {
      if (h->nlmsg_seq != r.h->nlmsg_seq)
        continue;
      if (h->nlmsg_type == NLMSG_ERROR) {
        struct nlmsgerr *e = NLMSG_DATA(h);
        if (e->error == -ENODEV || e->error == 0)
          return 0;
        return berr_sys(err, -e->error, "netlink: get link `%s`", name);
      }
      if (h->nlmsg_type == RTM_NEWLINK) {
        *index = ((struct ifinfomsg *)NLMSG_DATA(h))->ifi_index;
        return 0;
      }
    }
  }
}

int nl_bridge_create(int nl, const char *name, berr_t *err) {
  struct req r;
  struct ifinfomsg *ifi = req_init(&r, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, sizeof *ifi);
  ifi->ifi_family = AF_UNSPEC;
  ifi->ifi_flags = ifi->ifi_change = IFF_UP;
  attr(&r, IFLA_IFNAME, name, strlen(name) + 1);
  struct rtattr *li = nest(&r, IFLA_LINKINFO);
  attr(&r, IFLA_INFO_KIND, "bridge", 6);
  nest_end(&r, li);
  char what[64];
  snprintf(what, sizeof what, "create bridge `%s`", name);
  static const int ok[] = {EEXIST, 0};
  if (do_req(nl, &r, ok, what, err) < 0)
    return -1;
  int index;
  if (nl_link_index(nl, name, &index, err) < 0)
    return -1;
  return nl_link_up(nl, index, err);
}

int nl_link_delete(int nl, const char *name, berr_t *err) {
  struct req r;
  struct ifinfomsg *ifi = req_init(&r, RTM_DELLINK, 0, sizeof *ifi);
  ifi->ifi_family = AF_UNSPEC;
  attr(&r, IFLA_IFNAME, name, strlen(name) + 1);
  char what[64];
  snprintf(what, sizeof what, "delete link `%s`", name);
  static const int ok[] = {ENODEV, 0};
  return do_req(nl, &r, ok, what, err);
}

int nl_link_up(int nl, int index, berr_t *err) {
  struct req r;
  struct ifinfomsg *ifi = req_init(&r, RTM_NEWLINK, 0, sizeof *ifi);
  ifi->ifi_family = AF_UNSPEC;
  ifi->ifi_index = index;
  ifi->ifi_flags = ifi->ifi_change = IFF_UP;
  char what[64];
  snprintf(what, sizeof what, "set link %d up", index);
  return do_req(nl, &r, NULL, what, err);
}

int nl_addr_add(int nl, int index, struct in_addr addr, int prefix, berr_t *err) {
  struct req r;
  struct ifaddrmsg *ifa = req_init(&r, RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, sizeof *ifa);
  ifa->ifa_family = AF_INET;
  ifa->ifa_prefixlen = (uint8_t)prefix;
  ifa->ifa_index = (uint32_t)index;
  attr(&r, IFA_LOCAL, &addr, sizeof addr);
  attr(&r, IFA_ADDRESS, &addr, sizeof addr);
  if (prefix < 31) {
    uint32_t mask = prefix ? htonl(~0u << (32 - prefix)) : 0;
    struct in_addr bcast = {.s_addr = addr.s_addr | ~mask};
    attr(&r, IFA_BROADCAST, &bcast, sizeof bcast);
  }
  char what[96], a[INET_ADDRSTRLEN];
  inet_ntop(AF_INET, &addr, a, sizeof a);
  snprintf(what, sizeof what, "add address %s/%d to link %d", a, prefix, index);
  static const int ok[] = {EEXIST, 0};
  return do_req(nl, &r, ok, what, err);
}

int nl_route_default(int nl, struct in_addr gw, int oif, berr_t *err) {
  struct req r;
  struct rtmsg *rt = req_init(&r, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL, sizeof *rt);
  rt->rtm_family = AF_INET;
  rt->rtm_table = RT_TABLE_MAIN;
  rt->rtm_protocol = RTPROT_BOOT;
  rt->rtm_scope = RT_SCOPE_UNIVERSE;
  rt->rtm_type = RTN_UNICAST;
  uint32_t o = (uint32_t)oif;
  attr(&r, RTA_GATEWAY, &gw, sizeof gw);
  attr(&r, RTA_OIF, &o, sizeof o);
  char what[96], a[INET_ADDRSTRLEN];
  inet_ntop(AF_INET, &gw, a, sizeof a);
  snprintf(what, sizeof what, "add default route via %s", a);
  return do_req(nl, &r, NULL, what, err);
}

int nl_veth_create(int nl, const char *host, int master, const char *peer, pid_t peer_pid,
                   const uint8_t mac[6], berr_t *err) {
  struct req r;
  /* no IFF_UP at creation: a veth cannot open before its peer is linked (ENOTCONN) */
  struct ifinfomsg *ifi = req_init(&r, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, sizeof *ifi);
  ifi->ifi_family = AF_UNSPEC;
  attr(&r, IFLA_IFNAME, host, strlen(host) + 1);
  uint32_t m = (uint32_t)master;
  if (master > 0)
    attr(&r, IFLA_MASTER, &m, sizeof m);
  struct rtattr *li = nest(&r, IFLA_LINKINFO);
  attr(&r, IFLA_INFO_KIND, "veth", 4);
  struct rtattr *data = nest(&r, IFLA_INFO_DATA);
  struct rtattr *pe = nest(&r, VETH_INFO_PEER);
  /* the peer's own ifinfomsg, then its attributes */
  struct ifinfomsg pifi = {.ifi_family = AF_UNSPEC};
  size_t at = r.h->nlmsg_len;
  memcpy(r.buf + at, &pifi, sizeof pifi);
  r.h->nlmsg_len = (uint32_t)(at + NLMSG_ALIGN(sizeof pifi));
  attr(&r, IFLA_IFNAME, peer, strlen(peer) + 1);
  uint32_t pid = (uint32_t)peer_pid;
  attr(&r, IFLA_NET_NS_PID, &pid, sizeof pid);
  attr(&r, IFLA_ADDRESS, mac, 6);
  nest_end(&r, pe);
  nest_end(&r, data);
  nest_end(&r, li);
  char what[96];
  snprintf(what, sizeof what, "create veth `%s` (peer `%s` in the netns of pid %d)", host, peer,
           (int)peer_pid);
  int index;
  if (do_req(nl, &r, NULL, what, err) < 0 || nl_link_index(nl, host, &index, err) < 0)
    return -1;
  return nl_link_up(nl, index, err);
}

/* ---- dumps --------------------------------------------------------------------- */

typedef int (*dump_fn)(struct nlmsghdr *h, void *ctx);

static int dump(int nl, int type, int family, dump_fn fn, void *ctx, berr_t *err) {
  struct req r;
  struct rtgenmsg *g = req_init(&r, type, NLM_F_DUMP, sizeof(struct ifinfomsg));
  g->rtgen_family = (unsigned char)family;
  static uint32_t seq = 1u << 29;
  r.h->nlmsg_seq = ++seq;
  struct sockaddr_nl to = {.nl_family = AF_NETLINK};
  if (sendto(nl, r.buf, r.h->nlmsg_len, 0, (struct sockaddr *)&to, sizeof to) < 0)
    return berr_sys(err, errno, "netlink send (dump %d)", type);
  char *buf = malloc(DUMP_BUF);
  if (!buf)
    return berr_sys(err, ENOMEM, "netlink dump");
  int ret = 0;
  for (;;) {
    ssize_t n = recv(nl, buf, DUMP_BUF, 0);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      ret = berr_sys(err, errno, "netlink receive (dump %d)", type);
      break;
    }
    bool done = false;
    for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)n); h = NLMSG_NEXT(h, n)) {
      if (h->nlmsg_seq != r.h->nlmsg_seq)
        continue;
      if (h->nlmsg_type == NLMSG_DONE) {
        done = true;
        break;
      }
      if (h->nlmsg_type == NLMSG_ERROR) {
        struct nlmsgerr *e = NLMSG_DATA(h);
        ret = berr_sys(err, -e->error, "netlink dump %d", type);
        done = true;
        break;
      }
      if (ret == 0 && fn(h, ctx) < 0)
        ret = berr_sys(err, ENOMEM, "netlink dump");
    }
    if (done)
      break;
  }
  free(buf);
  return ret;
}

struct vec {
  void *items;
  size_t n, cap, size;
};

static void *vec_push(struct vec *v) {
  if (v->n == v->cap) {
    size_t cap = v->cap ? v->cap * 2 : 16;
    void *p = realloc(v->items, cap * v->size);
    if (!p)
      return NULL;
    v->items = p;
    v->cap = cap;
  }
  void *e = (char *)v->items + v->n++ * v->size;
  memset(e, 0, v->size);
  return e;
}

static void parse_attrs(struct rtattr **tb, int max, struct rtattr *a, int len) {
  memset(tb, 0, sizeof(struct rtattr *) * (size_t)(max + 1));
  for (; RTA_OK(a, len); a = RTA_NEXT(a, len))
    if (a->rta_type <= max)
      tb[a->rta_type] = a;
}

static int on_link(struct nlmsghdr *h, void *ctx) {
  if (h->nlmsg_type != RTM_NEWLINK)
    return 0;
  struct ifinfomsg *ifi = NLMSG_DATA(h);
  struct rtattr *tb[IFLA_MAX + 1];
  parse_attrs(tb, IFLA_MAX, IFLA_RTA(ifi), (int)IFLA_PAYLOAD(h));
  struct nl_link *l = vec_push(ctx);
  if (!l)
    return -1;
  l->index = ifi->ifi_index;
  l->up = ifi->ifi_flags & IFF_UP;
  if (tb[IFLA_IFNAME])
    snprintf(l->name, sizeof l->name, "%s", (char *)RTA_DATA(tb[IFLA_IFNAME]));
  if (tb[IFLA_MTU])
    l->mtu = (int)*(uint32_t *)RTA_DATA(tb[IFLA_MTU]);
  if (tb[IFLA_MASTER])
    l->master = (int)*(uint32_t *)RTA_DATA(tb[IFLA_MASTER]);
  if (tb[IFLA_ADDRESS] && RTA_PAYLOAD(tb[IFLA_ADDRESS]) == 6) {
    memcpy(l->mac, RTA_DATA(tb[IFLA_ADDRESS]), 6);
    l->has_mac = true;
  }
  if (tb[IFLA_STATS64] && RTA_PAYLOAD(tb[IFLA_STATS64]) >= sizeof(struct rtnl_link_stats64)) {
    struct rtnl_link_stats64 st;
    memcpy(&st, RTA_DATA(tb[IFLA_STATS64]), sizeof st);
    l->rx_bytes = st.rx_bytes;
    l->tx_bytes = st.tx_bytes;
  }
  snprintf(l->kind, sizeof l->kind, "%s", ifi->ifi_flags & IFF_LOOPBACK ? "loopback" : "device");
  if (tb[IFLA_LINKINFO]) {
    struct rtattr *li[IFLA_INFO_MAX + 1];
    parse_attrs(li, IFLA_INFO_MAX, RTA_DATA(tb[IFLA_LINKINFO]), (int)RTA_PAYLOAD(tb[IFLA_LINKINFO]));
    if (li[IFLA_INFO_KIND])
      snprintf(l->kind, sizeof l->kind, "%.*s", (int)RTA_PAYLOAD(li[IFLA_INFO_KIND]),
               (char *)RTA_DATA(li[IFLA_INFO_KIND]));
  }
  return 0;
}

static int on_addr(struct nlmsghdr *h, void *ctx) {
  if (h->nlmsg_type != RTM_NEWADDR)
    return 0;
  struct ifaddrmsg *ifa = NLMSG_DATA(h);
  struct rtattr *tb[IFA_MAX + 1];
  parse_attrs(tb, IFA_MAX, IFA_RTA(ifa), (int)IFA_PAYLOAD(h));
  struct rtattr *a = tb[IFA_LOCAL] ? tb[IFA_LOCAL] : tb[IFA_ADDRESS];
  if (!a || (ifa->ifa_family != AF_INET && ifa->ifa_family != AF_INET6))
    return 0;
  struct nl_addr *o = vec_push(ctx);
  if (!o)
    return -1;
  o->index = (int)ifa->ifa_index;
  o->family = ifa->ifa_family;
  o->prefix = ifa->ifa_prefixlen;
  inet_ntop(ifa->ifa_family, RTA_DATA(a), o->addr, sizeof o->addr);
  return 0;
}

static int on_route(struct nlmsghdr *h, void *ctx) {
  if (h->nlmsg_type != RTM_NEWROUTE)
    return 0;
  struct rtmsg *rt = NLMSG_DATA(h);
  if (rt->rtm_table != RT_TABLE_MAIN || (rt->rtm_family != AF_INET && rt->rtm_family != AF_INET6) ||
      rt->rtm_type != RTN_UNICAST)
    return 0;
  struct rtattr *tb[RTA_MAX + 1];
  parse_attrs(tb, RTA_MAX, RTM_RTA(rt), (int)RTM_PAYLOAD(h));
  struct nl_route *o = vec_push(ctx);
  if (!o)
    return -1;
  if (tb[RTA_DST]) {
    char a[48];
    inet_ntop(rt->rtm_family, RTA_DATA(tb[RTA_DST]), a, sizeof a);
    snprintf(o->dst, sizeof o->dst, "%s/%d", a, rt->rtm_dst_len);
  } else {
    snprintf(o->dst, sizeof o->dst, "default");
  }
  if (tb[RTA_GATEWAY])
    inet_ntop(rt->rtm_family, RTA_DATA(tb[RTA_GATEWAY]), o->gw, sizeof o->gw);
  if (tb[RTA_OIF])
    o->oif = (int)*(uint32_t *)RTA_DATA(tb[RTA_OIF]);
  return 0;
}

static int dump_into(int nl, int type, int family, dump_fn fn, size_t size, void **out, size_t *n,
                     berr_t *err) {
  struct vec v = {.size = size};
  if (dump(nl, type, family, fn, &v, err) < 0) {
    free(v.items);
    return -1;
  }
  *out = v.items;
  *n = v.n;
  return 0;
}

int nl_dump_links(int nl, struct nl_link **out, size_t *n, berr_t *err) {
  return dump_into(nl, RTM_GETLINK, AF_UNSPEC, on_link, sizeof **out, (void **)out, n, err);
}
int nl_dump_addrs(int nl, struct nl_addr **out, size_t *n, berr_t *err) {
  return dump_into(nl, RTM_GETADDR, AF_UNSPEC, on_addr, sizeof **out, (void **)out, n, err);
}
int nl_dump_routes(int nl, struct nl_route **out, size_t *n, berr_t *err) {
  return dump_into(nl, RTM_GETROUTE, AF_UNSPEC, on_route, sizeof **out, (void **)out, n, err);
}
