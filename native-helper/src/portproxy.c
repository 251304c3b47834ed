/* Published ports: a small process per container ("berth-proxy") that relays
 * the host sockets the daemon bound before the start to the container's
 * address. It is forked by the daemon and lives in a session of its own, so
 * a helper restart leaves it running, exactly like the container's monitor;
 * it is not the monitor's child, so nothing it does can take the monitor
 * down. It ends when the container's init does (a pidfd), or when the daemon
 * ends it at the container's stop. */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "exec.h"
#include "network.h"

#define RELAY_BUF 65536
#define MAX_TCP 1024
#define MAX_UDP 256
#define UDP_IDLE_S 60

enum tag_kind { T_PIDFD, T_LISTEN, T_UDP_LISTEN, T_TCP, T_UDP_FLOW };

struct tag {
  enum tag_kind kind;
  void *p;
  int idx;
};

struct side {
  int fd;
  char *buf; /* data read from this fd, waiting for the other side */
  size_t len, off;
  bool eof;     /* read side done */
  bool shut;    /* we shut the other side's write half */
};

struct tcp {
  struct side s[2]; /* 0: the client, 1: the container */
  bool connecting;
  struct tag tags[2];
  struct tcp *next;
};

struct udp_flow {
  int fd;       /* connected to the container */
  int listen;   /* the host socket it came in on */
  struct sockaddr_in client;
  time_t last;
  struct tag tag;
  struct udp_flow *next;
};

struct proxy {
  int ep;
  struct sockaddr_in target[SPEC_MAX_PORTS];
  struct tag ltags[SPEC_MAX_PORTS];
  int lfds[SPEC_MAX_PORTS];
  size_t n;
  struct tcp *tcps;
  int ntcp;
  struct udp_flow *flows;
  int nflows;
};

static void close_other_fds(const int *keep, size_t n) {
  DIR *d = opendir("/proc/self/fd");
  if (!d)
    return;
  int dfd = dirfd(d);
  int close_list[4096];
  size_t nc = 0;
  struct dirent *de;
  while ((de = readdir(d)) && nc < 4096) {
    int fd = atoi(de->d_name);
    if (de->d_name[0] == '.' || fd <= 2 || fd == dfd)
      continue;
    bool k = false;
    for (size_t i = 0; i < n && !k; i++)
      k = keep[i] == fd;
    if (!k)
      close_list[nc++] = fd;
  }
  closedir(d);
  for (size_t i = 0; i < nc; i++)
    close(close_list[i]);
}

static void watch(struct proxy *p, int fd, uint32_t ev, struct tag *t, int op) {
  struct epoll_event e = {.events = ev, .data.ptr = t};
  (void)epoll_ctl(p->ep, op, fd, &e);
}

static void tcp_close(struct proxy *p, struct tcp *c) {
  for (int i = 0; i < 2; i++) {
    if (c->s[i].fd >= 0)
      close(c->s[i].fd);
    free(c->s[i].buf);
  }
  for (struct tcp **pp = &p->tcps; *pp; pp = &(*pp)->next)
    if (*pp == c) {
      *pp = c->next;
      break;
    }
  p->ntcp--;
  free(c);
}

static void tcp_interest(struct proxy *p, struct tcp *c) {
  for (int i = 0; i < 2; i++) {
    uint32_t ev = 0;
    if (!(i == 1 && c->connecting) && !c->s[i].eof && c->s[i].len == 0)
      ev |= EPOLLIN;
    if ((i == 1 && c->connecting) || c->s[1 - i].len > c->s[1 - i].off)
      ev |= EPOLLOUT;
    watch(p, c->s[i].fd, ev, &c->tags[i], EPOLL_CTL_MOD);
  }
}

static void tcp_accept(struct proxy *p, int lfd, int idx) {
  for (;;) {
    int a = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (a < 0)
      return;
    if (p->ntcp >= MAX_TCP) {
      close(a);
      continue;
    }
    int b = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    struct tcp *c = calloc(1, sizeof *c);
    char *b0 = malloc(RELAY_BUF), *b1 = malloc(RELAY_BUF);
    if (b < 0 || !c || !b0 || !b1 ||
        (connect(b, (struct sockaddr *)&p->target[idx], sizeof p->target[idx]) < 0 && errno != EINPROGRESS)) {
      close(a);
      if (b >= 0)
        close(b);
      free(c);
      free(b0);
      free(b1);
      continue;
    }
    c->s[0] = (struct side){.fd = a, .buf = b0};
    c->s[1] = (struct side){.fd = b, .buf = b1};
    c->connecting = true;
    for (int i = 0; i < 2; i++) {
      c->tags[i] = (struct tag){.kind = T_TCP, .p = c, .idx = i};
      watch(p, c->s[i].fd, 0, &c->tags[i], EPOLL_CTL_ADD);
    }
    c->next = p->tcps;
    p->tcps = c;
    p->ntcp++;
    tcp_interest(p, c);
  }
}

/* Returns false when the connection is finished (closed). */
static bool tcp_event(struct proxy *p, struct tcp *c, int i, uint32_t ev) {
  struct side *me = &c->s[i], *other = &c->s[1 - i];
  if (i == 1 && c->connecting) {
    int soerr = 0;
    socklen_t l = sizeof soerr;
    if (!(ev & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
      return true;
    if (getsockopt(me->fd, SOL_SOCKET, SO_ERROR, &soerr, &l) < 0 || soerr)
      return false; /* the container refused: the client sees the connection close */
    c->connecting = false;
  }
  if (ev & EPOLLOUT) {
    /* flush what the other side sent */
    while (other->len > other->off) {
      ssize_t n = send(me->fd, other->buf + other->off, other->len - other->off, MSG_NOSIGNAL);
      if (n < 0) {
        if (errno == EAGAIN || errno == EINTR)
          break;
        return false;
      }
      other->off += (size_t)n;
    }
    if (other->off == other->len)
      other->len = other->off = 0;
  }
  if (ev & (EPOLLIN | EPOLLHUP | EPOLLERR) && !me->eof && me->len == 0) {
    ssize_t n = recv(me->fd, me->buf, RELAY_BUF, 0);
    if (n > 0) {
      me->len = (size_t)n;
      me->off = 0;
      ssize_t w = send(other->fd, me->buf, me->len, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (w > 0)
        me->off = (size_t)w;
      else if (w < 0 && errno != EAGAIN)
        return false;
      if (me->off == me->len)
        me->len = me->off = 0;
    } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
      if (n < 0 && errno != ECONNRESET)
        return false;
      me->eof = true;
    }
  }
  for (int k = 0; k < 2; k++)
    if (c->s[k].eof && c->s[k].len == 0 && !c->s[k].shut) {
      shutdown(c->s[1 - k].fd, SHUT_WR);
      c->s[k].shut = true;
    }
  if (c->s[0].shut && c->s[1].shut)
    return false;
  tcp_interest(p, c);
  return true;
}

static void udp_flow_close(struct proxy *p, struct udp_flow *f) {
  close(f->fd);
  for (struct udp_flow **pp = &p->flows; *pp; pp = &(*pp)->next)
    if (*pp == f) {
      *pp = f->next;
      break;
    }
  p->nflows--;
  free(f);
}

static void udp_in(struct proxy *p, int lfd, int idx, char *buf) {
  for (;;) {
    struct sockaddr_in from;
    socklen_t fl = sizeof from;
    ssize_t n = recvfrom(lfd, buf, RELAY_BUF, 0, (struct sockaddr *)&from, &fl);
    if (n < 0)
      return;
    struct udp_flow *f = p->flows;
    while (f && !(f->listen == lfd && f->client.sin_addr.s_addr == from.sin_addr.s_addr &&
                  f->client.sin_port == from.sin_port))
      f = f->next;
    if (!f) {
      if (p->nflows >= MAX_UDP)
        continue;
      int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
      if (fd < 0)
        continue;
      if (connect(fd, (struct sockaddr *)&p->target[idx], sizeof p->target[idx]) < 0 ||
          !(f = calloc(1, sizeof *f))) {
        close(fd);
        continue;
      }
      f->fd = fd;
      f->listen = lfd;
      f->client = from;
      f->tag = (struct tag){.kind = T_UDP_FLOW, .p = f};
      watch(p, fd, EPOLLIN, &f->tag, EPOLL_CTL_ADD);
      f->next = p->flows;
      p->flows = f;
      p->nflows++;
    }
    f->last = time(NULL);
    (void)send(f->fd, buf, (size_t)n, MSG_DONTWAIT);
  }
}

static void udp_back(struct udp_flow *f, char *buf) {
  for (;;) {
    ssize_t n = recv(f->fd, buf, RELAY_BUF, 0);
    if (n < 0)
      return;
    f->last = time(NULL);
    (void)sendto(f->listen, buf, (size_t)n, MSG_DONTWAIT, (struct sockaddr *)&f->client, sizeof f->client);
  }
}

static _Noreturn void proxy_main(const struct container_spec *s, const struct net_attach *na, int pidfd) {
  struct proxy p;
  memset(&p, 0, sizeof p);
  p.n = na->n_port_fds;
  static char udpbuf[RELAY_BUF];
  if ((p.ep = epoll_create1(EPOLL_CLOEXEC)) < 0)
    _exit(1);
  struct tag pt = {.kind = T_PIDFD};
  watch(&p, pidfd, EPOLLIN, &pt, EPOLL_CTL_ADD);
  for (size_t i = 0; i < p.n; i++) {
    p.target[i] = (struct sockaddr_in){.sin_family = AF_INET, .sin_port = htons(s->ports[i].container_port),
                                       .sin_addr = na->ip};
    p.lfds[i] = na->port_fds[i];
    p.ltags[i] = (struct tag){.kind = s->ports[i].udp ? T_UDP_LISTEN : T_LISTEN, .idx = (int)i};
    watch(&p, p.lfds[i], EPOLLIN, &p.ltags[i], EPOLL_CTL_ADD);
  }
  for (;;) {
    struct epoll_event evs[64];
    int n = epoll_wait(p.ep, evs, 64, 5000);
    if (n < 0 && errno != EINTR)
      _exit(1);
    for (int k = 0; k < n; k++) {
      struct tag *t = evs[k].data.ptr;
      switch (t->kind) {
      case T_PIDFD:
        _exit(0); /* the container has ended */
      case T_LISTEN:
        tcp_accept(&p, p.lfds[t->idx], t->idx);
        break;
      case T_UDP_LISTEN:
        udp_in(&p, p.lfds[t->idx], t->idx, udpbuf);
        break;
      case T_TCP: {
        struct tcp *c = t->p;
        bool alive = false;
        for (struct tcp *x = p.tcps; x && !alive; x = x->next)
          alive = x == c; /* closed earlier in this batch */
        if (alive && !tcp_event(&p, c, t->idx, evs[k].events))
          tcp_close(&p, c);
        break;
      }
      case T_UDP_FLOW:
        udp_back(t->p, udpbuf);
        break;
      }
    }
    time_t now = time(NULL);
    for (struct udp_flow *f = p.flows, *next; f; f = next) {
      next = f->next;
      if (now - f->last > UDP_IDLE_S)
        udp_flow_close(&p, f);
    }
  }
}

pid_t portproxy_start(const struct container_spec *s, const struct net_attach *na, int init_pidfd,
                      berr_t *err) {
  pid_t pid = fork();
  if (pid < 0)
    return berr_sys(err, errno, "fork the port proxy");
  if (pid > 0)
    return pid;
  int keep[SPEC_MAX_PORTS + 1];
  size_t nk = 0;
  keep[nk++] = init_pidfd;
  for (size_t i = 0; i < na->n_port_fds; i++)
    keep[nk++] = na->port_fds[i];
  close_other_fds(keep, nk);
  runtime_child_setup("berth-proxy");
  proxy_main(s, na, init_pidfd);
}
