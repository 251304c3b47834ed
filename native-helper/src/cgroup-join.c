/* A process moving itself into a container's cgroup (cgroup.h).
 *
 * Why not cgroup.procs with the pid, from outside: the kernel serialises every
 * move of a whole thread group with a global per-CPU rwsem, and taking it for
 * writing waits for an RCU grace period, which is half a millisecond on an idle
 * machine and several on a busy one, once per v1 hierarchy. A thread that moves
 * only itself ("0" written to v1's `tasks`) needs no such lock; for a process
 * with one thread that is the whole process. v2 has no per-thread move for
 * domain cgroups, so there the process writes "0" (itself) to cgroup.procs. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "cgroup-internal.h"
#include "cleanup.h"

int cgroup_join_open(const struct cgroup *cg, int fds[CG_CTL_COUNT], berr_t *err) {
  const char *file = cg->layout == CG_LAYOUT_UNIFIED ? "cgroup.procs" : "tasks";
  int n = 0;
  for (int c = 0; c < CG_CTL_COUNT; c++) {
    if (!cg->path[c])
      continue;
    bool dup = false; /* co-mounted controllers (cpu,cpuacct; all of v2) share a dir */
    for (int j = 0; j < c; j++)
      dup |= cg->path[j] && !strcmp(cg->path[j], cg->path[c]);
    if (dup)
      continue;
    cleanup_free char *p = cg_join(cg->path[c], file);
    int fd = p ? open(p, O_WRONLY | O_CLOEXEC) : -1;
    if (fd < 0) {
      int e = p ? errno : ENOMEM;
      for (int i = 0; i < n; i++)
        close(fds[i]);
      return berr_sys(err, e, "open `%s/%s` to join the %s cgroup", cg->path[c], file, cg_ctl_names[c]);
    }
    fds[n++] = fd;
  }
  if (n == 0)
    return berr_set(err, BERR_INTERNAL, "the container's cgroup has no directory to join");
  return n;
}

int cgroup_join_fds(int *fds, int n, berr_t *err) {
  int r = 0;
  for (int i = 0; i < n; i++) {
    ssize_t w;
    do
      w = write(fds[i], "0", 1);
    while (w < 0 && errno == EINTR);
    if (w < 0 && r == 0)
      r = berr_sys(err, errno, "join the container's cgroup (hierarchy %d of %d)", i + 1, n);
    close(fds[i]);
    fds[i] = -1;
  }
  return r;
}

int cgroup_join_self(const struct cgroup *cg, berr_t *err) {
  int fds[CG_CTL_COUNT];
  int n = cgroup_join_open(cg, fds, err);
  return n < 0 ? -1 : cgroup_join_fds(fds, n, err);
}
