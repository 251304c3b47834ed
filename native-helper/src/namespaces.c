#include "namespaces.h"

#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util.h"

static const struct {
  const char *name;
  int flag;
} ns_table[NS_COUNT] = {
    [NS_PID] = {"pid", CLONE_NEWPID},   [NS_MNT] = {"mnt", CLONE_NEWNS},
    [NS_UTS] = {"uts", CLONE_NEWUTS},   [NS_IPC] = {"ipc", CLONE_NEWIPC},
    [NS_NET] = {"net", CLONE_NEWNET},   [NS_CGROUP] = {"cgroup", CLONE_NEWCGROUP},
    [NS_USER] = {"user", CLONE_NEWUSER},
};

const char *ns_name(enum ns_kind k) { return (unsigned)k < NS_COUNT ? ns_table[k].name : "?"; }
int ns_clone_flag(enum ns_kind k) { return (unsigned)k < NS_COUNT ? ns_table[k].flag : 0; }

int ns_clone_flags(const struct container_spec *spec) {
  int flags = 0;
  for (int k = 0; k < NS_COUNT; k++)
    if (spec->ns[k] && k != NS_CGROUP && k != NS_USER)
      flags |= ns_table[k].flag;
  return flags;
}

int ns_loopback_up(berr_t *err) {
  int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0)
    return berr_sys(err, errno, "socket");
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  memcpy(ifr.ifr_name, "lo", 3);
  int r = 0;
  if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0) {
    r = berr_sys(err, errno, "ioctl SIOCGIFFLAGS lo");
  } else {
    ifr.ifr_flags |= IFF_UP;
    if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0)
      r = berr_sys(err, errno, "ioctl SIOCSIFFLAGS lo up");
  }
  close(s);
  return r;
}

/* The namespaces ns_premake makes: those whose making is measurable and that a
 * thread may enter while others run (a mount namespace needs a process of one
 * thread; a PID namespace would hold the monitor's children, not it). */
static const enum ns_kind premade_kinds[] = {NS_NET, NS_IPC, NS_UTS};
#define N_PREMADE (sizeof premade_kinds / sizeof premade_kinds[0])

static int open_own_ns(enum ns_kind k) {
  char path[64];
  snprintf(path, sizeof path, "/proc/thread-self/ns/%s", ns_table[k].name);
  return open(path, O_RDONLY | O_CLOEXEC);
}

void ns_premake(struct ns_premade *p) {
  for (int k = 0; k < NS_COUNT; k++)
    p->fd[k] = p->host[k] = -1;
  for (size_t i = 0; i < N_PREMADE; i++) {
    enum ns_kind k = premade_kinds[i];
    berr_t ignored;
    if ((p->host[k] = open_own_ns(k)) < 0)
      continue;
    if (unshare(ns_table[k].flag) < 0)
      continue;
    if (k != NS_NET || ns_loopback_up(&ignored) == 0)
      p->fd[k] = open_own_ns(k);
    if (setns(p->host[k], ns_table[k].flag) < 0) {
      /* stuck in the new one: nothing premade is usable (nor are we) */
      ns_premade_close(p);
      _exit(1);
    }
  }
}

int ns_premade_enter(struct ns_premade *p, const struct container_spec *spec, int *clone_flags,
                     berr_t *err) {
  for (size_t i = 0; i < N_PREMADE; i++) {
    enum ns_kind k = premade_kinds[i];
    if (!spec->ns[k] || p->fd[k] < 0 || p->host[k] < 0)
      continue;
    if (setns(p->fd[k], ns_table[k].flag) < 0) {
      int e = errno;
      ns_premade_leave(p, err);
      return berr_sys(err, e, "setns into the premade %s namespace", ns_table[k].name);
    }
    close(p->fd[k]);
    p->fd[k] = -2; /* entered: leave goes back */
    *clone_flags &= ~ns_table[k].flag;
  }
  return 0;
}

int ns_premade_leave(struct ns_premade *p, berr_t *err) {
  int r = 0;
  for (size_t i = 0; i < N_PREMADE; i++) {
    enum ns_kind k = premade_kinds[i];
    if (p->fd[k] != -2)
      continue;
    if (setns(p->host[k], ns_table[k].flag) < 0 && r == 0)
      r = berr_sys(err, errno, "setns back into our own %s namespace", ns_table[k].name);
    p->fd[k] = -1;
  }
  return r;
}

void ns_premade_close(struct ns_premade *p) {
  for (int k = 0; k < NS_COUNT; k++) {
    if (p->fd[k] >= 0)
      close(p->fd[k]);
    if (p->host[k] >= 0)
      close(p->host[k]);
    p->fd[k] = p->host[k] = -1;
  }
}

int ns_write_id_maps(pid_t pid, berr_t *err) {
  char path[64], map[64];
  snprintf(map, sizeof map, "0 %d %d\n", NS_HOST_ID_BASE, NS_ID_COUNT);
  /* no setgroups inside: dropping a group could get around a group-deny
   * permission on a host file */
  snprintf(path, sizeof path, "/proc/%d/setgroups", (int)pid);
  if (write_string(path, "deny", err) < 0)
    return -1;
  snprintf(path, sizeof path, "/proc/%d/uid_map", (int)pid);
  if (write_string(path, map, err) < 0)
    return -1;
  snprintf(path, sizeof path, "/proc/%d/gid_map", (int)pid);
  return write_string(path, map, err);
}

int ns_userns_create(int *fd_out, berr_t *err) {
  *fd_out = -1;
  int ready[2], hold[2];
  if (pipe2(ready, O_CLOEXEC) < 0)
    return berr_sys(err, errno, "pipe");
  if (pipe2(hold, O_CLOEXEC) < 0) {
    int e = errno;
    close(ready[0]);
    close(ready[1]);
    return berr_sys(err, e, "pipe");
  }
  pid_t pid = fork();
  if (pid < 0) {
    int e = errno;
    close(ready[0]), close(ready[1]), close(hold[0]), close(hold[1]);
    return berr_sys(err, e, "fork the user namespace holder");
  }
  if (pid == 0) {
    /* only lives until the parent holds the namespace by an fd */
    close(ready[0]);
    close(hold[1]);
    char c = unshare(CLONE_NEWUSER) < 0 ? 'E' : 'R';
    (void)!write(ready[1], &c, 1);
    (void)!read(hold[0], &c, 1);
    _exit(0);
  }
  close(ready[1]);
  close(hold[0]);
  char c = 0;
  ssize_t n;
  do
    n = read(ready[0], &c, 1);
  while (n < 0 && errno == EINTR);
  close(ready[0]);
  int r = -1;
  if (n != 1 || c != 'R') {
    berr_set(err, BERR_INTERNAL, "could not create a user namespace (unshare CLONE_NEWUSER failed)");
  } else if (ns_write_id_maps(pid, err) == 0) {
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/ns/user", (int)pid);
    *fd_out = open(path, O_RDONLY | O_CLOEXEC);
    r = *fd_out < 0 ? berr_sys(err, errno, "open `%s`", path) : 0;
  }
  close(hold[1]);
  while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
    ;
  return r;
}

int ns_open_all(pid_t pid, const struct container_spec *spec, int fds[NS_COUNT],
                enum ns_kind order[NS_COUNT], berr_t *err) {
  /* the others are owned by the host's user namespace: join them while we
   * still are host root, the user namespace last */
  static const enum ns_kind join_order[NS_COUNT] = {NS_PID, NS_UTS,    NS_IPC, NS_NET,
                                                    NS_CGROUP, NS_MNT, NS_USER};
  int n = 0;
  for (int k = 0; k < NS_COUNT; k++)
    fds[k] = -1;
  for (int i = 0; i < NS_COUNT; i++) {
    enum ns_kind k = join_order[i];
    if (!spec->ns[k])
      continue;
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/ns/%s", (int)pid, ns_table[k].name);
    fds[k] = open(path, O_RDONLY | O_CLOEXEC);
    if (fds[k] < 0) {
      int e = errno;
      ns_close_all(fds);
      return berr_sys(err, e, "open `%s`", path);
    }
    order[n++] = k;
  }
  return n;
}

int ns_join_all(int fds[NS_COUNT], const enum ns_kind order[NS_COUNT], int n, berr_t *err) {
  for (int i = 0; i < n; i++) {
    enum ns_kind k = order[i];
    if (setns(fds[k], ns_table[k].flag) < 0) {
      int e = errno;
      ns_close_all(fds);
      return berr_sys(err, e, "setns %s namespace", ns_table[k].name);
    }
    close(fds[k]);
    fds[k] = -1;
  }
  return 0;
}

void ns_close_all(int fds[NS_COUNT]) {
  for (int k = 0; k < NS_COUNT; k++)
    if (fds[k] >= 0) {
      close(fds[k]);
      fds[k] = -1;
    }
}
