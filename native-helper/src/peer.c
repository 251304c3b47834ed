#include "peer.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cleanup.h"
#include "util.h"

#ifndef SO_PEERPIDFD
#define SO_PEERPIDFD 77
#endif

int peer_id_from_socket(int sockfd, struct peer_id *out, berr_t *err) {
  memset(out, 0, sizeof *out);
  struct ucred cr;
  socklen_t len = sizeof cr;
  if (getsockopt(sockfd, SOL_SOCKET, SO_PEERCRED, &cr, &len) < 0)
    return berr_sys(err, errno, "getsockopt SO_PEERCRED");
  out->pid = cr.pid;
  out->uid = cr.uid;
  out->gid = cr.gid;
  len = sizeof out->groups;
  if (getsockopt(sockfd, SOL_SOCKET, SO_PEERGROUPS, out->groups, &len) == 0) {
    out->ngroups = (int)(len / sizeof out->groups[0]);
  } else {
    /* more groups than we keep (ERANGE), or an old kernel: fewer groups can
     * only mean fewer permissions, never more */
    out->groups[0] = cr.gid;
    out->ngroups = 1;
  }
  out->known = true;
  return 0;
}

bool peer_in_container(const struct cgroup_env *env, pid_t pid, char *what, size_t size) {
  if (pid <= 0)
    return false;
  struct cgroup all = {.layout = env->layout};
  for (int c = 0; c < CG_CTL_COUNT; c++)
    all.path[c] = env->parent[c];
  pid_t *pids = NULL;
  size_t n = 0;
  berr_t err;
  if (cgroup_pids(&all, &pids, &n, &err) < 0)
    return false; /* no container cgroups (yet): nobody is inside one */
  bool inside = false;
  for (size_t i = 0; i < n && !inside; i++)
    inside = pids[i] == pid;
  free(pids);
  if (!inside)
    return false;
  /* which container, for the message: the cgroup path names it */
  char path[64], id[13] = "?";
  snprintf(path, sizeof path, "/proc/%d/cgroup", (int)pid);
  cleanup_free char *text = NULL;
  if (read_file(path, 1 << 16, &text, NULL, &err) == 0) {
    const char *b = strstr(text, "/berth/");
    if (b)
      snprintf(id, sizeof id, "%.12s", b + 7);
  }
  snprintf(what, size, "client pid %d runs inside container %s", (int)pid, id);
  return true;
}

int peer_join_netns(int sockfd, berr_t *err) {
  int pidfd = -1;
  socklen_t len = sizeof pidfd;
  if (getsockopt(sockfd, SOL_SOCKET, SO_PEERPIDFD, &pidfd, &len) == 0 && pidfd >= 0) {
    /* the pidfd names the very process, never one that took over its pid */
    int r = setns(pidfd, CLONE_NEWNET);
    int e = errno;
    close(pidfd);
    if (r < 0)
      return berr_sys(err, e, "join the client's network namespace (setns on its pidfd)");
    return 0;
  }
  if (errno != ENOPROTOOPT && errno != EINVAL && errno != ENODATA)
    return berr_sys(err, errno, "getsockopt SO_PEERPIDFD");
  struct ucred cr;
  len = sizeof cr;
  if (getsockopt(sockfd, SOL_SOCKET, SO_PEERCRED, &cr, &len) < 0)
    return berr_sys(err, errno, "getsockopt SO_PEERCRED");
  if (cr.pid <= 0)
    return 0;
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/ns/net", (int)cr.pid);
  cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return berr_sys(err, errno, "open `%s` (the client's network namespace)", path);
  if (setns(fd, CLONE_NEWNET) < 0)
    return berr_sys(err, errno, "setns `%s`", path);
  return 0;
}
