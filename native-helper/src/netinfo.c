/* container.interfaces: what `ip addr` and `ip route` show inside a
 * container's network namespace and in berthd's own. A short-lived child
 * joins the container's netns (through a pidfd of its init) and hands back a
 * netlink socket opened there; the dumps then run in the daemon. Nothing of
 * the container's rootfs is touched. */
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cleanup.h"
#include "container.h"
#include "network.h"
#include "netlink.h"
#include "protocol.h"

static int recv_fd(int sock, int *fd, berr_t *err) {
  char c;
  struct iovec iov = {.iov_base = &c, .iov_len = 1};
  union {
    struct cmsghdr h;
    char buf[CMSG_SPACE(sizeof(int))];
  } u;
  struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof u.buf};
  ssize_t n;
  do
    n = recvmsg(sock, &m, MSG_CMSG_CLOEXEC);
  while (n < 0 && errno == EINTR);
  if (n < 0)
    return berr_sys(err, errno, "receive the container's netlink socket");
  struct cmsghdr *h = CMSG_FIRSTHDR(&m);
  if (n == 0 || !h || h->cmsg_type != SCM_RIGHTS)
    return berr_set(err, BERR_INTERNAL, "could not enter the container's network namespace");
  memcpy(fd, CMSG_DATA(h), sizeof *fd);
  return 0;
}

/* A netlink socket inside the network namespace of the process behind pidfd. */
static int netlink_in(int pidfd, int *out, berr_t *err) {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
    return berr_sys(err, errno, "socketpair");
  pid_t pid = fork();
  if (pid < 0) {
    int e = errno;
    close(sv[0]);
    close(sv[1]);
    return berr_sys(err, e, "fork");
  }
  if (pid == 0) {
    close(sv[0]);
    berr_t e;
    int nl = -1;
    if (setns(pidfd, CLONE_NEWNET) == 0)
      nl = nl_open(&e);
    char c = 'N';
    struct iovec iov = {.iov_base = &c, .iov_len = 1};
    union {
      struct cmsghdr h;
      char buf[CMSG_SPACE(sizeof(int))];
    } u;
    memset(&u, 0, sizeof u);
    struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};
    if (nl >= 0) {
      m.msg_control = u.buf;
      m.msg_controllen = sizeof u.buf;
      struct cmsghdr *h = CMSG_FIRSTHDR(&m);
      h->cmsg_level = SOL_SOCKET;
      h->cmsg_type = SCM_RIGHTS;
      h->cmsg_len = CMSG_LEN(sizeof(int));
      memcpy(CMSG_DATA(h), &nl, sizeof nl);
    }
    (void)!sendmsg(sv[1], &m, MSG_NOSIGNAL);
    _exit(0);
  }
  close(sv[1]);
  int r = recv_fd(sv[0], out, err);
  close(sv[0]);
  /* reap it if SIGCHLD has not already */
  (void)waitpid(pid, NULL, 0);
  return r;
}

static const char *link_name(const struct nl_link *l, size_t n, int index) {
  for (size_t i = 0; i < n; i++)
    if (l[i].index == index)
      return l[i].name;
  return NULL;
}

/* peer_of: for veths, the other end's name as its namespace knows it. */
static int side_json(int nl, bool container_side, const char *veth, json_object **out, berr_t *err) {
  struct nl_link *links = NULL;
  struct nl_addr *addrs = NULL;
  struct nl_route *routes = NULL;
  size_t nl_n = 0, na = 0, nr = 0;
  if (nl_dump_links(nl, &links, &nl_n, err) < 0 || nl_dump_addrs(nl, &addrs, &na, err) < 0 ||
      nl_dump_routes(nl, &routes, &nr, err) < 0) {
    free(links);
    free(addrs);
    return -1;
  }
  json_object *ifs = json_object_new_array();
  for (size_t i = 0; i < nl_n; i++) {
    const struct nl_link *l = &links[i];
    json_object *o = json_object_new_object();
    json_object_object_add(o, "name", json_object_new_string(l->name));
    json_object_object_add(o, "index", json_object_new_int(l->index));
    json_object_object_add(o, "kind", json_object_new_string(l->kind));
    char mac[18];
    snprintf(mac, sizeof mac, "%02x:%02x:%02x:%02x:%02x:%02x", l->mac[0], l->mac[1], l->mac[2], l->mac[3],
             l->mac[4], l->mac[5]);
    json_object_object_add(o, "mac", l->has_mac && strcmp(l->kind, "loopback") ? json_object_new_string(mac) : NULL);
    json_object_object_add(o, "mtu", json_object_new_int(l->mtu));
    json_object_object_add(o, "up", json_object_new_boolean(l->up));
    json_object *as = json_object_new_array();
    for (size_t k = 0; k < na; k++) {
      if (addrs[k].index != l->index)
        continue;
      json_object *a = json_object_new_object();
      json_object_object_add(a, "family", json_object_new_string(addrs[k].family == AF_INET ? "inet" : "inet6"));
      json_object_object_add(a, "address", json_object_new_string(addrs[k].addr));
      json_object_object_add(a, "prefixLen", json_object_new_int(addrs[k].prefix));
      json_object_array_add(as, a);
    }
    json_object_object_add(o, "addresses", as);
    json_object *peer = NULL;
    if (!strcmp(l->kind, "veth") && veth && veth[0]) {
      char p[40];
      if (container_side && !strcmp(l->name, NET_IFACE))
        snprintf(p, sizeof p, "%s@host", veth);
      else if (!container_side && !strcmp(l->name, veth))
        snprintf(p, sizeof p, "%s@container", NET_IFACE);
      else
        p[0] = '\0';
      if (p[0])
        peer = json_object_new_string(p);
    }
    json_object_object_add(o, "peer", peer);
    const char *master = l->master ? link_name(links, nl_n, l->master) : NULL;
    json_object_object_add(o, "master", master ? json_object_new_string(master) : NULL);
    json_object_object_add(o, "rxBytes", json_object_new_int64((int64_t)l->rx_bytes));
    json_object_object_add(o, "txBytes", json_object_new_int64((int64_t)l->tx_bytes));
    json_object_array_add(ifs, o);
  }
  json_object *rs = json_object_new_array();
  for (size_t k = 0; k < nr; k++) {
    json_object *r = json_object_new_object();
    const char *dev = link_name(links, nl_n, routes[k].oif);
    json_object_object_add(r, "destination", json_object_new_string(routes[k].dst));
    json_object_object_add(r, "gateway", routes[k].gw[0] ? json_object_new_string(routes[k].gw) : NULL);
    json_object_object_add(r, "device", json_object_new_string(dev ? dev : ""));
    json_object_array_add(rs, r);
  }
  free(links);
  free(addrs);
  free(routes);
  *out = json_object_new_object();
  json_object_object_add(*out, "interfaces", ifs);
  json_object_object_add(*out, "routes", rs);
  return 0;
}

static const char *const keys[] = {"ref", NULL};

int net_interfaces(struct ctr_store *st, json_object *params, json_object **out, berr_t *err) {
  const char *ref;
  struct container *c;
  if (param_check_keys(params, "container.interfaces", keys, err) < 0 ||
      param_string(params, "ref", true, &ref, err) < 0 || ctr_find(st, ref, &c, err) < 0)
    return -1;
  json_object *info = ctr_info(st, c, false);
  json_object *v, *ns, *net, *iso;
  pid_t pid = json_object_object_get_ex(info, "pid", &v) ? json_object_get_int(v) : 0;
  bool isolated = json_object_object_get_ex(info, "namespaces", &ns) &&
                  json_object_object_get_ex(ns, "net", &net) && json_object_object_get_ex(net, "isolated", &iso) &&
                  json_object_get_boolean(iso);
  json_object_put(info);
  char veth[16];
  net_container_veth(ctr_id(c), veth);

  json_object *host = NULL, *inside = NULL;
  int hnl = nl_open(err);
  if (hnl < 0)
    return -1;
  int r = side_json(hnl, false, veth, &host, err);
  close(hnl);
  if (r < 0)
    return -1;
  if (ctr_is_running(c) && pid > 0 && isolated) {
    int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
    int cnl = -1;
    if (pidfd < 0)
      r = berr_sys(err, errno, "pidfd_open the init (pid %d)", (int)pid);
    else
      r = netlink_in(pidfd, &cnl, err);
    if (pidfd >= 0)
      close(pidfd);
    if (r == 0) {
      r = side_json(cnl, true, veth, &inside, err);
      close(cnl);
    }
    if (r < 0) {
      json_object_put(host);
      return -1;
    }
  } else if (ctr_is_running(c) && !isolated) {
    inside = json_object_get(host); /* the same namespace */
  } else {
    inside = json_object_new_object();
    json_object_object_add(inside, "interfaces", json_object_new_array());
    json_object_object_add(inside, "routes", json_object_new_array());
  }
  *out = json_object_new_object();
  json_object_object_add(*out, "isolated", json_object_new_boolean(isolated));
  json_object_object_add(*out, "container", inside);
  json_object_object_add(*out, "host", host);
  return 0;
}
