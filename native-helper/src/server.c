#include "server.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <poll.h>
#include <stdarg.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cleanup.h"
#include "protocol.h"
#include "util.h"

#define READ_CHUNK 65536
#define OUT_PAUSE (4 << 20)   /* stop reading requests from a client this far behind */
#define OUT_RESUME (1 << 20)
#define OUT_MAX (64 << 20)    /* then cut it off */
#define MAX_CONNS 1024
#define SYNC_WRITE_MS 5000
#define MAX_LINGER 64
#define LINGER_MS 2000

#ifndef SO_PEERPIDFD
#define SO_PEERPIDFD 77 /* Linux 6.5 */
#endif

enum watch_kind { W_LISTEN, W_SIGNAL, W_CONN, W_USER };

struct watch {
  enum watch_kind kind;
  int fd;
  bool dead;
  server_fd_fn fn;
  void *ctx;
  struct watch *next; /* user watches, or the dead list */
};

struct conn {
  struct watch w; /* first: epoll data points here */
  struct server *srv;
  uint64_t id;
  pid_t peer_pid;
  uid_t peer_uid;
  char *in;
  size_t in_len, in_cap;
  bool discarding; /* inside an oversized line: drop bytes up to the next newline */
  char *out;
  size_t out_off, out_len, out_cap;
  bool paused, eof;
  int64_t linger_until; /* denied: drained and closed by this time (mono us); 0 = served */
  struct conn *next, *prev;
};

struct server {
  struct server_config cfg;
  int epfd;
  struct watch listen_w, signal_w;
  struct conn *conns;
  size_t nconns, nlinger;
  uint64_t next_id;
  struct watch *user;
  struct watch *dead; /* freed after each round of events */
  dev_t sock_dev;
  ino_t sock_ino;
  bool bound, stop;
  server_child_fn on_child;
  void *on_child_ctx;
  server_idle_fn on_idle;
  void *on_idle_ctx;
};

void berthd_log(const char *fmt, ...) {
  char ts[40];
  now_rfc3339(ts);
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  fprintf(stderr, "%s berthd: %s\n", ts, msg);
}

static int ep_mod(struct server *s, int op, struct watch *w, uint32_t events) {
  struct epoll_event ev = {.events = events, .data.ptr = w};
  return epoll_ctl(s->epfd, op, w->fd, &ev);
}

/* ---- socket set-up ------------------------------------------------------- */

/* True when a berthd answers a hello on path within a second or two. A
 * socket whose listener is gone refuses; one whose fd merely lingers in
 * some child accepts the connect but never answers. */
static bool another_daemon_answers(const char *path, char *who, size_t size) {
  cleanup_close int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return false;
  struct sockaddr_un sa = {.sun_family = AF_UNIX};
  snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
  if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0)
    return false;
  static const char hello[] = "{\"v\":1,\"id\":\"probe\",\"method\":\"hello\"}\n";
  if (send(fd, hello, sizeof hello - 1, MSG_NOSIGNAL) < 0)
    return false;
  char buf[4096];
  size_t n = 0;
  int64_t deadline = mono_us() + 2000000;
  while (n < sizeof buf - 1) {
    int64_t left = (deadline - mono_us()) / 1000;
    if (left <= 0)
      return false;
    struct pollfd p = {.fd = fd, .events = POLLIN};
    int r = poll(&p, 1, (int)left);
    if (r < 0 && errno == EINTR)
      continue;
    if (r <= 0)
      return false;
    ssize_t got = recv(fd, buf + n, sizeof buf - 1 - n, 0);
    if (got <= 0)
      return n > 0;
    n += (size_t)got;
    buf[n] = '\0';
    if (strchr(buf, '\n'))
      break;
  }
  json_object *reply = json_tokener_parse(buf);
  json_object *result = NULL, *pid = NULL;
  if (reply && json_object_object_get_ex(reply, "result", &result) &&
      json_object_object_get_ex(result, "pid", &pid))
    snprintf(who, size, "berthd pid %d", (int)json_object_get_int(pid));
  else
    snprintf(who, size, "a process that answers (%.60s)", buf);
  json_object_put(reply);
  return true;
}

static int bind_socket(struct server *s, berr_t *err) {
  const char *path = s->cfg.socket_path;
  struct sockaddr_un sa = {.sun_family = AF_UNIX};
  if (!path || path[0] != '/')
    return berr_set(err, BERR_INVALID, "the socket path must be absolute");
  if (strlen(path) >= sizeof sa.sun_path)
    return berr_set(err, BERR_INVALID, "socket path `%s` is longer than %zu bytes", path,
                    sizeof sa.sun_path - 1);
  memcpy(sa.sun_path, path, strlen(path) + 1);

  char dir[sizeof sa.sun_path];
  snprintf(dir, sizeof dir, "%s", path);
  char *slash = strrchr(dir, '/');
  if (slash != dir) {
    *slash = '\0';
    struct stat st;
    if (stat(dir, &st) < 0) {
      if (errno != ENOENT)
        return berr_sys(err, errno, "stat `%s`", dir);
      if (mkdir_p(dir, 0755, err) < 0)
        return berr_wrap(err, "create the socket directory");
      if (chmod(dir, 0755) < 0)
        return berr_sys(err, errno, "chmod `%s`", dir);
    } else if (!S_ISDIR(st.st_mode)) {
      return berr_set(err, BERR_INVALID, "`%s` is not a directory", dir);
    } else if ((st.st_mode & S_IWOTH) && !(st.st_mode & S_ISVTX)) {
      return berr_set(err, BERR_INVALID,
                      "the socket directory `%s` is world-writable: anyone could replace the "
                      "socket; use a directory only root can write",
                      dir);
    }
  }

  struct stat st;
  if (lstat(path, &st) == 0) {
    if (!S_ISSOCK(st.st_mode))
      return berr_set(err, BERR_CONFLICT, "`%s` exists and is not a socket; not touching it", path);
    char who[128] = "";
    if (another_daemon_answers(path, who, sizeof who))
      return berr_set(err, BERR_CONFLICT, "another berthd is already serving `%s` (%s)", path, who);
    if (unlink(path) < 0 && errno != ENOENT)
      return berr_sys(err, errno, "unlink stale socket `%s`", path);
  } else if (errno != ENOENT) {
    return berr_sys(err, errno, "lstat `%s`", path);
  }

  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return berr_sys(err, errno, "socket AF_UNIX");
  s->listen_w = (struct watch){.kind = W_LISTEN, .fd = fd};
  /* born 0660: never a moment where others could connect */
  mode_t old = umask(0117);
  int r = bind(fd, (struct sockaddr *)&sa, sizeof sa);
  int e = errno;
  umask(old);
  if (r < 0)
    return berr_sys(err, e, "bind `%s`", path);
  s->bound = true;
  if (stat(path, &st) < 0)
    return berr_sys(err, errno, "stat `%s`", path);
  s->sock_dev = st.st_dev;
  s->sock_ino = st.st_ino;
  if (chmod(path, 0660) < 0)
    return berr_sys(err, errno, "chmod `%s`", path);
  if (s->cfg.has_serve_gid && chown(path, 0, s->cfg.serve_gid) < 0)
    return berr_sys(err, errno, "chown `%s` to root:%u", path, (unsigned)s->cfg.serve_gid);
  if (listen(fd, 128) < 0)
    return berr_sys(err, errno, "listen `%s`", path);
  if (ep_mod(s, EPOLL_CTL_ADD, &s->listen_w, EPOLLIN) < 0)
    return berr_sys(err, errno, "epoll_ctl add the listening socket");
  return 0;
}

int server_open(struct server **out, const struct server_config *cfg, berr_t *err) {
  struct server *s = calloc(1, sizeof *s);
  if (!s)
    return berr_sys(err, ENOMEM, "server");
  s->cfg = *cfg;
  s->epfd = -1;
  s->listen_w.fd = s->signal_w.fd = -1;
  s->next_id = 1;

  signal(SIGPIPE, SIG_IGN);
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGCHLD);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  if (sigprocmask(SIG_BLOCK, &set, NULL) < 0) {
    berr_sys(err, errno, "sigprocmask");
    goto fail;
  }
  int sfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
  if (sfd < 0) {
    berr_sys(err, errno, "signalfd");
    goto fail;
  }
  s->signal_w = (struct watch){.kind = W_SIGNAL, .fd = sfd};
  if ((s->epfd = epoll_create1(EPOLL_CLOEXEC)) < 0) {
    berr_sys(err, errno, "epoll_create1");
    goto fail;
  }
  if (ep_mod(s, EPOLL_CTL_ADD, &s->signal_w, EPOLLIN) < 0) {
    berr_sys(err, errno, "epoll_ctl add the signalfd");
    goto fail;
  }
  if (bind_socket(s, err) < 0)
    goto fail;
  *out = s;
  return 0;
fail:
  server_close(s);
  return -1;
}

/* ---- connections ----------------------------------------------------------- */

uint64_t conn_id(const struct conn *c) { return c->id; }
int conn_fd(const struct conn *c) { return c->w.fd; }

struct conn *server_conn(struct server *s, uint64_t id) {
  for (struct conn *c = s->conns; c; c = c->next)
    if (c->id == id && !c->w.dead && !c->linger_until)
      return c;
  return NULL;
}

static void conn_drop(struct conn *c) {
  struct server *s = c->srv;
  if (c->w.dead)
    return;
  c->w.dead = true;
  /* the fd may live on in a child: take it out of the epoll set explicitly */
  epoll_ctl(s->epfd, EPOLL_CTL_DEL, c->w.fd, NULL);
  /* after a hand-over this closes our copy only: the child holds its own */
  close(c->w.fd);
  c->in_len = 0; /* bytes sent after a streaming request are the client's bug */
  c->w.fd = -1;
  if (c->prev)
    c->prev->next = c->next;
  else
    s->conns = c->next;
  if (c->next)
    c->next->prev = c->prev;
  if (c->linger_until)
    s->nlinger--;
  else
    s->nconns--;
  c->w.next = s->dead;
  s->dead = &c->w;
}

void conn_release(struct conn *c) { conn_drop(c); }

static void conn_update_events(struct conn *c) {
  uint32_t ev = 0;
  size_t pending = c->out_len - c->out_off;
  if (c->paused && pending <= OUT_RESUME)
    c->paused = false;
  else if (!c->paused && pending > OUT_PAUSE)
    c->paused = true;
  if (!c->paused && !c->eof)
    ev |= EPOLLIN | EPOLLRDHUP;
  if (pending)
    ev |= EPOLLOUT;
  ep_mod(c->srv, EPOLL_CTL_MOD, &c->w, ev);
}

/* Writes what it can; -1 when the peer is gone. */
static int conn_flush(struct conn *c) {
  while (c->out_off < c->out_len) {
    ssize_t w = send(c->w.fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
    if (w < 0) {
      if (errno == EINTR)
        continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK)
        break;
      return -1;
    }
    c->out_off += (size_t)w;
  }
  if (c->out_off == c->out_len)
    c->out_off = c->out_len = 0;
  return 0;
}

static bool conn_queue(struct conn *c, const char *data, size_t len) {
  if (c->out_off > 0 && c->out_off == c->out_len)
    c->out_off = c->out_len = 0;
  if (c->out_len - c->out_off + len > OUT_MAX) {
    berthd_log("client pid %d reads too slowly (%d MiB of replies waiting); closing it",
             (int)c->peer_pid, OUT_MAX >> 20);
    return false;
  }
  if (c->out_off > 0 && c->out_len + len > c->out_cap) {
    memmove(c->out, c->out + c->out_off, c->out_len - c->out_off);
    c->out_len -= c->out_off;
    c->out_off = 0;
  }
  if (c->out_len + len > c->out_cap) {
    size_t cap = c->out_cap ? c->out_cap : 4096;
    while (cap < c->out_len + len)
      cap *= 2;
    char *nb = realloc(c->out, cap);
    if (!nb)
      return false;
    c->out = nb;
    c->out_cap = cap;
  }
  memcpy(c->out + c->out_len, data, len);
  c->out_len += len;
  return true;
}

void conn_send(struct conn *c, json_object *reply) {
  size_t len = 0;
  char *line = reply ? proto_reply_line(reply, &len) : NULL;
  json_object_put(reply);
  if (!line || c->w.dead) {
    free(line);
    return;
  }
  bool ok = conn_queue(c, line, len);
  free(line);
  if (!ok || conn_flush(c) < 0) {
    conn_drop(c);
    return;
  }
  conn_update_events(c);
}

int conn_send_sync(struct conn *c, json_object *reply, berr_t *err) {
  if (c->w.dead) {
    json_object_put(reply);
    return berr_set(err, BERR_INTERNAL, "the client has gone");
  }
  size_t len = 0;
  char *line = reply ? proto_reply_line(reply, &len) : NULL;
  json_object_put(reply);
  if (!line)
    return berr_sys(err, ENOMEM, "reply");
  bool ok = conn_queue(c, line, len);
  free(line);
  if (!ok)
    return berr_set(err, BERR_LIMIT, "the client is not reading its replies");
  int64_t deadline = mono_us() + SYNC_WRITE_MS * 1000;
  while (c->out_off < c->out_len) {
    if (conn_flush(c) < 0)
      return berr_sys(err, errno, "send the reply to client pid %d", (int)c->peer_pid);
    if (c->out_off >= c->out_len)
      break;
    int64_t left = (deadline - mono_us()) / 1000;
    if (left <= 0)
      return berr_set(err, BERR_INTERNAL, "client pid %d did not read its reply within %d s",
                      (int)c->peer_pid, SYNC_WRITE_MS / 1000);
    struct pollfd p = {.fd = c->w.fd, .events = POLLOUT};
    if (poll(&p, 1, (int)left) < 0 && errno != EINTR)
      return berr_sys(err, errno, "poll client pid %d", (int)c->peer_pid);
  }
  return 0;
}

static void send_error_now(int fd, enum berr_kind kind, const char *msg) {
  berr_t e;
  berr_set(&e, kind, "%s", msg);
  json_object *r = proto_reply_error(NULL, &e);
  size_t len;
  char *line = proto_reply_line(r, &len);
  json_object_put(r);
  if (line)
    (void)!send(fd, line, len, MSG_NOSIGNAL | MSG_DONTWAIT);
  free(line);
}

/* Root, --serve-uid, or a process whose primary or supplementary groups
 * include --serve-gid (read from /proc/PID/status, as the kernel sees them). */
static bool peer_allowed(const struct server *s, const struct ucred *cr) {
  if (cr->uid == 0)
    return true;
  if (s->cfg.has_serve_uid && cr->uid == s->cfg.serve_uid)
    return true;
  if (!s->cfg.has_serve_gid)
    return false;
  if (cr->gid == s->cfg.serve_gid)
    return true;
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/status", (int)cr->pid);
  cleanup_free char *status = NULL;
  berr_t err;
  if (cr->pid <= 0 || read_file(path, 1 << 16, &status, NULL, &err) < 0)
    return false;
  /* the pid could have been reused by now: the status must still be that uid's */
  const char *uid = strstr(status, "\nUid:");
  if (!uid || strtoul(uid + 5, NULL, 10) != cr->uid)
    return false;
  const char *g = strstr(status, "\nGroups:");
  if (!g)
    return false;
  g += 8;
  while (*g && *g != '\n') {
    char *end;
    unsigned long v = strtoul(g, &end, 10);
    if (end == g) {
      g++;
      continue;
    }
    if (v == s->cfg.serve_gid)
      return true;
    g = end;
  }
  return false;
}

/* A process inside a container never gets in, even as root: should it ever
 * reach the socket (a bind mount, a way out of a chroot), it still holds
 * nothing. The pidfd of the connecting process (where the kernel has
 * SO_PEERPIDFD) tells whether the pid still is that process after the look,
 * or was reused meanwhile. */
static bool peer_in_container(struct server *s, int fd, pid_t pid, char *what, size_t size) {
  if (!s->cfg.peer_in_container || pid <= 0)
    return false;
  int pidfd = -1;
  socklen_t len = sizeof pidfd;
  if (getsockopt(fd, SOL_SOCKET, SO_PEERPIDFD, &pidfd, &len) < 0)
    pidfd = -1;
  bool inside = s->cfg.peer_in_container(s->cfg.ctx, pid, what, size);
  if (!inside && pidfd >= 0 && syscall(SYS_pidfd_send_signal, pidfd, 0, NULL, 0) < 0 && errno == ESRCH) {
    inside = true;
    snprintf(what, size, "client pid %d exited before berthd could check where it runs", (int)pid);
  }
  if (pidfd >= 0)
    close(pidfd);
  return inside;
}

static void accept_one(struct server *s) {
  int fd = accept4(s->listen_w.fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
  if (fd < 0) {
    if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
      berthd_log("accept: %s", strerror(errno));
    return;
  }
  struct ucred cr;
  socklen_t len = sizeof cr;
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) < 0) {
    berthd_log("getsockopt SO_PEERCRED: %s", strerror(errno));
    close(fd);
    return;
  }
  bool denied = !peer_allowed(s, &cr);
  char inside[160] = "";
  if (!denied && peer_in_container(s, fd, cr.pid, inside, sizeof inside))
    denied = true;
  if (denied) {
    berthd_log("denied a client: pid %d uid %u gid %u%s%s", (int)cr.pid, (unsigned)cr.uid,
               (unsigned)cr.gid, inside[0] ? ": " : "", inside);
    char msg[260];
    if (inside[0])
      snprintf(msg, sizeof msg, "%s: processes inside containers may not use berthd", inside);
    else
      snprintf(msg, sizeof msg,
               "uid %u may not use berthd: it serves root%s%s", (unsigned)cr.uid,
               s->cfg.has_serve_uid ? ", its user" : "", s->cfg.has_serve_gid ? " and its group" : "");
    send_error_now(fd, BERR_DENIED, msg);
    shutdown(fd, SHUT_WR);
    /* Closing now, with its request unread, would reset the connection and
     * could cost the client the reply: drain it for a moment instead. */
    if (s->nlinger >= MAX_LINGER) {
      close(fd);
      return;
    }
  }
  if (!denied && s->nconns >= MAX_CONNS) {
    send_error_now(fd, BERR_LIMIT, "berthd has too many connections open");
    close(fd);
    return;
  }
  struct conn *c = calloc(1, sizeof *c);
  if (!c) {
    close(fd);
    return;
  }
  c->w = (struct watch){.kind = W_CONN, .fd = fd};
  c->srv = s;
  c->id = s->next_id++;
  c->peer_pid = cr.pid;
  c->peer_uid = cr.uid;
  if (denied) {
    c->linger_until = mono_us() + LINGER_MS * 1000;
    s->nlinger++;
  }
  if (ep_mod(s, EPOLL_CTL_ADD, &c->w, EPOLLIN | EPOLLRDHUP) < 0) {
    berthd_log("epoll_ctl add a client: %s", strerror(errno));
    close(fd);
    free(c);
    return;
  }
  c->next = s->conns;
  if (s->conns)
    s->conns->prev = c;
  s->conns = c;
  if (!denied)
    s->nconns++;
}

static void too_large(struct conn *c) {
  berr_t e;
  berr_set(&e, BERR_TOO_LARGE, "the line is over %d bytes (1 MiB, newline included); it was discarded",
           PROTO_MAX_LINE);
  conn_send(c, proto_reply_error(NULL, &e));
}

/* Hands every complete line to the daemon; keeps a partial one. */
static void process_input(struct conn *c) {
  struct server *s = c->srv;
  size_t start = 0;
  while (!c->w.dead && start < c->in_len) {
    char *nl = memchr(c->in + start, '\n', c->in_len - start);
    if (c->discarding) {
      if (!nl) {
        start = c->in_len;
        break;
      }
      c->discarding = false;
      start = (size_t)(nl - c->in) + 1;
      continue;
    }
    if (!nl) {
      if (c->in_len - start >= PROTO_MAX_LINE) {
        too_large(c);
        c->discarding = true;
        start = c->in_len;
      }
      break;
    }
    size_t len = (size_t)(nl - (c->in + start));
    if (len + 1 > PROTO_MAX_LINE) {
      too_large(c);
    } else {
      size_t l = len;
      if (l > 0 && c->in[start + l - 1] == '\r')
        l--;
      if (l > 0) {
        c->in[start + l] = '\0';
        s->cfg.on_line(s->cfg.ctx, c, c->in + start, l);
      }
    }
    start += len + 1;
  }
  if (c->w.dead)
    return;
  memmove(c->in, c->in + start, c->in_len - start);
  c->in_len -= start;
}

static void conn_readable(struct conn *c) {
  if (c->in_cap < c->in_len + READ_CHUNK + 1) {
    size_t cap = c->in_len + READ_CHUNK + 1;
    char *nb = realloc(c->in, cap);
    if (!nb) {
      conn_drop(c);
      return;
    }
    c->in = nb;
    c->in_cap = cap;
  }
  ssize_t r = recv(c->w.fd, c->in + c->in_len, READ_CHUNK, 0);
  if (r < 0) {
    if (errno != EAGAIN && errno != EINTR)
      conn_drop(c);
    return;
  }
  if (r == 0) {
    /* The client is done sending. A half-closed client may still wait for
     * replies (a parked wait); a closed one shows up as EPOLLHUP. */
    c->eof = true;
    c->in_len = 0;
    return;
  }
  if (c->linger_until)
    return; /* a denied client: its bytes are dropped */
  c->in_len += (size_t)r;
  process_input(c);
  /* after a big line, an idle connection gives its buffer back */
  if (!c->w.dead && c->in_cap > 4 * READ_CHUNK && c->in_len < READ_CHUNK) {
    char *nb = realloc(c->in, READ_CHUNK + 1);
    if (nb) {
      c->in = nb;
      c->in_cap = READ_CHUNK + 1;
    }
  }
}

static void conn_event(struct conn *c, uint32_t e) {
  if (e & EPOLLERR) {
    conn_drop(c);
    return;
  }
  if ((e & EPOLLOUT) && conn_flush(c) < 0) {
    conn_drop(c);
    return;
  }
  if ((e & (EPOLLIN | EPOLLRDHUP | EPOLLHUP)) && !c->paused && !c->eof)
    conn_readable(c);
  if (c->w.dead)
    return;
  /* fully closed: once its input is read (or can't be, while paused) it is gone */
  if ((e & EPOLLHUP) && (c->eof || c->paused)) {
    conn_drop(c);
    return;
  }
  conn_update_events(c);
}

/* ---- user watches ---------------------------------------------------------- */

int server_watch(struct server *s, int fd, server_fd_fn fn, void *ctx, berr_t *err) {
  struct watch *w = calloc(1, sizeof *w);
  if (!w)
    return berr_sys(err, ENOMEM, "watch");
  *w = (struct watch){.kind = W_USER, .fd = fd, .fn = fn, .ctx = ctx, .next = s->user};
  if (ep_mod(s, EPOLL_CTL_ADD, w, EPOLLIN) < 0) {
    int e = errno;
    free(w);
    return berr_sys(err, e, "epoll_ctl add fd %d", fd);
  }
  s->user = w;
  return 0;
}

void server_unwatch(struct server *s, int fd) {
  for (struct watch **pp = &s->user; *pp; pp = &(*pp)->next) {
    struct watch *w = *pp;
    if (w->fd != fd)
      continue;
    epoll_ctl(s->epfd, EPOLL_CTL_DEL, fd, NULL);
    *pp = w->next;
    w->dead = true;
    w->next = s->dead;
    s->dead = w;
    return;
  }
}

/* ---- the loop ---------------------------------------------------------------- */

void server_on_child(struct server *s, server_child_fn fn, void *ctx) {
  s->on_child = fn;
  s->on_child_ctx = ctx;
}

void server_on_idle(struct server *s, server_idle_fn fn, void *ctx) {
  s->on_idle = fn;
  s->on_idle_ctx = ctx;
}

static void reap_children(struct server *s) {
  /* Monitors are also watched through pidfds; whoever gets there first reaps. */
  for (;;) {
    int status;
    pid_t p = waitpid(-1, &status, WNOHANG);
    if (p <= 0)
      break;
    if (s->on_child)
      s->on_child(s->on_child_ctx, p, status);
  }
}

static void handle_signals(struct server *s) {
  struct signalfd_siginfo si;
  for (;;) {
    ssize_t r = read(s->signal_w.fd, &si, sizeof si);
    if (r != (ssize_t)sizeof si)
      break;
    switch (si.ssi_signo) {
    case SIGCHLD:
      reap_children(s);
      break;
    case SIGTERM:
    case SIGINT:
      berthd_log("%s: closing the socket; containers keep running",
               si.ssi_signo == SIGTERM ? "SIGTERM" : "SIGINT");
      s->stop = true;
      break;
    default:
      break; /* SIGHUP: a closed terminal must not take berthd down */
    }
  }
}

static void free_dead(struct server *s) {
  while (s->dead) {
    struct watch *w = s->dead;
    s->dead = w->next;
    if (w->kind == W_CONN) {
      struct conn *c = (struct conn *)w;
      free(c->in);
      free(c->out);
    }
    free(w);
  }
}

int server_run(struct server *s, berr_t *err) {
  struct epoll_event evs[64];
  while (!s->stop) {
    if (s->on_idle)
      s->on_idle(s->on_idle_ctx);
    int n = epoll_wait(s->epfd, evs, 64, s->nlinger ? 500 : -1);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      return berr_sys(err, errno, "epoll_wait");
    }
    for (int i = 0; i < n && !s->stop; i++) {
      struct watch *w = evs[i].data.ptr;
      if (w->dead)
        continue;
      uint32_t e = evs[i].events;
      switch (w->kind) {
      case W_LISTEN:
        accept_one(s);
        break;
      case W_SIGNAL:
        handle_signals(s);
        break;
      case W_USER:
        w->fn(w->ctx, w->fd, e);
        break;
      case W_CONN:
        conn_event((struct conn *)w, e);
        break;
      }
    }
    if (s->nlinger) {
      int64_t now = mono_us();
      for (struct conn *c = s->conns, *next; c; c = next) {
        next = c->next;
        if (c->linger_until && now >= c->linger_until)
          conn_drop(c);
      }
    }
    free_dead(s);
  }
  return 0;
}

void server_close(struct server *s) {
  if (!s)
    return;
  while (s->conns)
    conn_drop(s->conns);
  while (s->user) {
    struct watch *w = s->user;
    s->user = w->next;
    free(w);
  }
  free_dead(s);
  if (s->listen_w.fd >= 0)
    close(s->listen_w.fd);
  /* unlink only our own socket, not one a newer berthd bound meanwhile */
  struct stat st;
  if (s->bound && stat(s->cfg.socket_path, &st) == 0 && st.st_dev == s->sock_dev &&
      st.st_ino == s->sock_ino)
    unlink(s->cfg.socket_path);
  if (s->signal_w.fd >= 0)
    close(s->signal_w.fd);
  if (s->epfd >= 0)
    close(s->epfd);
  free(s);
}
