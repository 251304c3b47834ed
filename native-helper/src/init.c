#include "init.h"

#include <ctype.h>
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "caps.h"
#include "cgroup.h"
#include "cleanup.h"
#include "exec.h"
#include "fdpass.h"
#include "mounts.h"
#include "namespaces.h"
#include "network.h"
#include "pty.h"
#include "rootfs-path.h"
#include "seccomp.h"
#include "usermounts.h"
#include "util.h"

#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#define DB_MAX (16 << 20) /* bytes of /etc/passwd or /etc/group read at most */

_Noreturn void proc_fail(int sync_fd, const char *step, const berr_t *err) {
  char msg[SYNC_MSG_MAX];
  msg[0] = SYNC_ERR;
  msg[1] = (char)err->kind;
  int n = snprintf(msg + 2, sizeof msg - 2, "%s: %s", step, err->msg);
  size_t len = 2 + (n < 0 ? 0 : (size_t)n >= sizeof msg - 2 ? sizeof msg - 3 : (size_t)n);
  (void)!send(sync_fd, msg, len, MSG_NOSIGNAL);
  _exit(127);
}

void proc_reset_signals(void) {
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
  /* handlers reset themselves at execve; only SIG_IGN would survive */
  for (int sig = 1; sig < 32; sig++)
    if (sig != SIGKILL && sig != SIGSTOP)
      signal(sig, SIG_DFL);
}

int proc_stdio(const int stdio[3], bool tty, berr_t *err) {
  if (tty && pty_make_controlling(stdio[0], err) < 0)
    return -1;
  for (int i = 0; i < 3; i++)
    if (stdio[i] != i && dup2(stdio[i], i) < 0)
      return berr_sys(err, errno, "dup2 %d", i);
  return 0;
}

static const char *env_get(char *const *env, const char *key) {
  size_t k = strlen(key);
  for (size_t i = 0; env && env[i]; i++)
    if (!strncmp(env[i], key, k) && env[i][k] == '=')
      return env[i] + k + 1;
  return NULL;
}

/* execvpe, but with the container's PATH (glibc's looks at our own environ). */
static int exec_path(char *const *argv, char *const *env, berr_t *err) {
  const char *file = argv[0];
  if (!file || !file[0])
    return berr_set(err, BERR_INVALID, "the command is empty");
  if (strchr(file, '/')) {
    execve(file, argv, env);
    return berr_sys(err, errno, "execve `%s`", file);
  }
  const char *path = env_get(env, "PATH");
  if (!path)
    path = DEFAULT_PATH;
  size_t flen = strlen(file);
  bool denied = false;
  for (const char *p = path;;) {
    const char *colon = strchrnul(p, ':');
    size_t dlen = (size_t)(colon - p);
    char full[4096];
    if (dlen + flen + 2 <= sizeof full) {
      if (dlen == 0) {
        memcpy(full, file, flen + 1); /* an empty entry is the cwd */
      } else {
        memcpy(full, p, dlen);
        full[dlen] = '/';
        memcpy(full + dlen + 1, file, flen + 1);
      }
      execve(full, argv, env);
      if (errno == EACCES)
        denied = true;
      else if (errno != ENOENT && errno != ENOTDIR && errno != ESTALE && errno != ENODEV &&
               errno != ETIMEDOUT)
        return berr_sys(err, errno, "execve `%s`", full);
    }
    if (!*colon)
      break;
    p = colon + 1;
  }
  if (denied)
    return berr_sys(err, EACCES, "execve `%s` (found in PATH `%s`)", file, path);
  return berr_set(err, BERR_INVALID, "executable file `%s` not found in PATH `%s`", file, path);
}

/* Field 2 (uid or gid) and field 3 (gid, passwd only) of the line in a
 * colon-separated database file (/etc/passwd, /etc/group) whose field 0 is
 * name, or whose field 2 is name when it is numeric. Read inside the
 * container, after pivot_root: its own files, never the host's. */
static int db_lookup(const char *file, const char *name, unsigned long *f2, unsigned long *f3,
                     berr_t *err) {
  /* The container may have made it anything: a FIFO or a device would block
   * or never end (and the start or exec waits for us), so a regular file
   * only, read up to DB_MAX bytes. */
  int fd = open(file, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
  if (fd < 0)
    return berr_sys(err, errno, "open the image's `%s` to look up `%s`", file, name);
  struct stat st;
  if (fstat(fd, &st) < 0) {
    int e = errno;
    close(fd);
    return berr_sys(err, e, "fstat the image's `%s`", file);
  }
  if (!S_ISREG(st.st_mode)) {
    close(fd);
    return berr_set(err, BERR_INVALID, "the image's `%s` is not a regular file; cannot look up `%s` in it",
                    file, name);
  }
  FILE *fp = fdopen(fd, "r");
  if (!fp) {
    int e = errno;
    close(fd);
    return berr_sys(err, e, "fdopen the image's `%s`", file);
  }
  char line[1024];
  size_t read_bytes = 0;
  int r = berr_set(err, BERR_INVALID, "no `%s` in the image's %s", name, file);
  while (read_bytes < DB_MAX && fgets(line, sizeof line, fp)) {
    read_bytes += strlen(line) + 1;
    char *fields[4] = {0};
    char *p = line;
    for (int i = 0; i < 4 && p; i++) {
      fields[i] = p;
      p = strchr(p, ':');
      if (p)
        *p++ = '\0';
    }
    if (!fields[0] || !fields[2] || strcmp(fields[0], name))
      continue;
    char *end;
    errno = 0;
    *f2 = strtoul(fields[2], &end, 10);
    if (errno || end == fields[2])
      break;
    *f3 = fields[3] ? strtoul(fields[3], NULL, 10) : 0;
    r = 0;
    break;
  }
  fclose(fp);
  return r;
}

/* "name[:group]" (either part may be numeric) to ids, as docker does: the
 * user's primary group unless a group is given. */
static int resolve_user(const char *spec, uid_t *uid, gid_t *gid, berr_t *err) {
  char buf[72];
  snprintf(buf, sizeof buf, "%s", spec);
  char *group = strchr(buf, ':');
  if (group)
    *group++ = '\0';
  unsigned long u = 0, g = 0, ignored = 0;
  if (isdigit((unsigned char)buf[0])) {
    u = strtoul(buf, NULL, 10);
  } else if (db_lookup("/etc/passwd", buf, &u, &g, err) < 0) {
    return -1;
  }
  if (group && isdigit((unsigned char)group[0]))
    g = strtoul(group, NULL, 10);
  else if (group && db_lookup("/etc/group", group, &g, &ignored, err) < 0)
    return -1;
  *uid = (uid_t)u;
  *gid = (gid_t)g;
  return 0;
}

/* The working directory, looked up inside the container's root: no symlink
 * leads out of it and no /proc magic link (/proc/self/fd/N, /proc/1/cwd)
 * reaches a file berthd holds or a directory of the host. */
static int chdir_inside(const char *workdir, berr_t *err) {
  cleanup_close int root = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (root < 0)
    return berr_sys(err, errno, "open the container's `/`");
  cleanup_close int dir = rootfs_open(root, workdir, ROOTFS_LOOKUP, err);
  if (dir < 0) {
    if (err->errnum == ELOOP)
      return berr_set(err, BERR_INVALID,
                      "the working directory `%s` goes through a /proc magic link or too many "
                      "symlinks; give a directory of the container",
                      workdir);
    if (err->kind == BERR_NOT_FOUND)
      err->kind = BERR_INVALID;
    return berr_wrap(err, "the working directory");
  }
  if (fchdir(dir) < 0) {
    int e = errno;
    berr_sys(err, e, "chdir to the working directory `%s`", workdir);
    if (e == ENOTDIR)
      err->kind = BERR_INVALID;
    return -1;
  }
  return 0;
}

_Noreturn void proc_exec(struct proc_final *f) {
  berr_t err;
  berr_clear(&err);
  /* nothing of the runtime's reaches the command: no fd but its stdio (and
   * the sync socket, closed by the execve) */
  int keep[] = {f->sync_fd};
  runtime_close_fds_except(keep, 1);
  /* before the switch to the user: a workdir only root may enter still works */
  if (chdir_inside(f->workdir, &err) < 0)
    proc_fail(f->sync_fd, "workdir", &err);
  if (f->user_name && f->user_name[0] && resolve_user(f->user_name, &f->uid, &f->gid, &err) < 0)
    proc_fail(f->sync_fd, "user", &err);
  if (caps_apply(f->uid, f->gid, f->in_userns, f->host_mounts, &err) < 0)
    proc_fail(f->sync_fd, "capabilities", &err);
  if (seccomp_confine(&err) < 0)
    proc_fail(f->sync_fd, "seccomp", &err);
  char msg[1 + sizeof f->times];
  msg[0] = SYNC_OK;
  f->times.exec_start = mono_us();
  memcpy(msg + 1, &f->times, sizeof f->times);
  if (send(f->sync_fd, msg, sizeof msg, MSG_NOSIGNAL) < 0)
    _exit(127); /* the parent is gone */
  exec_path(f->argv, f->env, &err);
  proc_fail(f->sync_fd, "exec", &err);
}

int proc_join_userns(int userns_fd, berr_t *err) {
  if (setns(userns_fd, CLONE_NEWUSER) < 0)
    return berr_sys(err, errno, "setns user namespace");
  close(userns_fd);
  /* host root is unmapped inside: become the namespace's root (host uid 100000) */
  if (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0)
    return berr_sys(err, errno, "become root in the user namespace");
  return 0;
}

/* Waits for the monitor's message `want` (SYNC_GO). */
static void wait_for(int sync_fd, char want) {
  char c = 0;
  ssize_t n;
  do
    n = recv(sync_fd, &c, 1, 0);
  while (n < 0 && errno == EINTR);
  if (n != 1 || c != want)
    _exit(127); /* the monitor is gone or gave up on us */
}

_Noreturn void init_main(const struct init_args *a) {
  const struct container_spec *s = a->spec;
  berr_t err;
  berr_clear(&err);
  proc_reset_signals();
  if (s->ns[NS_UTS] && s->hostname[0] && sethostname(s->hostname, strlen(s->hostname)) < 0) {
    berr_sys(&err, errno, "sethostname `%s`", s->hostname);
    proc_fail(a->sync_fd, "hostname", &err);
  }
  struct rootfs_cfg rc = {
      .spec = s, .upper = a->upper, .work = a->work, .merged = a->merged, .console = a->console,
      .userns_fd = a->userns_fd};
  struct proc_final f = {.argv = s->argv, .env = s->env, .workdir = s->workdir ? s->workdir : "/",
                         .uid = s->uid, .gid = s->gid, .user_name = s->user_name,
                         .in_userns = s->ns[NS_USER], .host_mounts = !s->ns[NS_MNT],
                         .sync_fd = a->sync_fd};
  int64_t t0 = mono_us();
  if (mounts_setup(&rc, &err) < 0)
    proc_fail(a->sync_fd, "mounts", &err);
  if (usermounts_apply(s, &err) < 0) /* -v, volumes, tmpfs: before pivot_root */
    proc_fail(a->sync_fd, "mounts", &err);
  if (a->net && netfiles_bind(a->net, &err) < 0)
    proc_fail(a->sync_fd, "network files", &err);
  int64_t t1 = mono_us();
  if (mounts_enter(&rc, &err) < 0)
    proc_fail(a->sync_fd, "pivot_root", &err);
  int64_t t2 = mono_us();
  if (mounts_mask(&err) < 0)
    proc_fail(a->sync_fd, "mounts", &err);
  if (a->mntns_fd >= 0) {
    /* the monitor holds it past our exit (runtime.c) */
    int ns = open("/proc/self/ns/mnt", O_RDONLY | O_CLOEXEC);
    if (ns < 0) {
      berr_sys(&err, errno, "open `/proc/self/ns/mnt`");
      proc_fail(a->sync_fd, "mounts", &err);
    }
    int sent = fdpass_send(a->mntns_fd, SYNC_MNTNS, &ns, 1, &err);
    close(ns);
    close(a->mntns_fd);
    if (sent < 0)
      proc_fail(a->sync_fd, "mounts", &err);
  }
  int64_t t3 = mono_us();
  f.times.mounts_us = t1 - t0;
  f.times.pivot_root_us = t2 - t1;
  f.times.mask_us = t3 - t2;
  f.times.mounts_start = t0;
  f.times.pivot_root_start = t1;
  f.times.mask_start = t2;
  /* the monitor made the cgroup meanwhile and sends the files to join it by
   * (SYNC_CGROUP): joined before anything of the image's runs */
  int cg_fds[FDPASS_MAX];
  char tag = 0;
  berr_t gone;
  int n_cg = fdpass_recv(a->sync_fd, &tag, cg_fds, FDPASS_MAX, false, &gone);
  if (n_cg < 0 || tag != SYNC_CGROUP)
    _exit(127); /* the monitor is gone or gave up on us */
  int64_t tc = mono_us();
  if (cgroup_join_fds(cg_fds, n_cg, &err) < 0)
    proc_fail(a->sync_fd, "cgroup", &err);
  f.times.cgroup_us = mono_us() - tc;
  /* the network is set up outside (veth) before we go on; the cgroup namespace
   * is made after the join, so its root is the container's cgroup */
  wait_for(a->sync_fd, SYNC_GO);
  if (s->ns[NS_CGROUP] && unshare(CLONE_NEWCGROUP) < 0) {
    berr_sys(&err, errno, "unshare cgroup namespace");
    proc_fail(a->sync_fd, "cgroup namespace", &err);
  }
  if (s->ns[NS_NET] && !a->lo_up && ns_loopback_up(&err) < 0)
    proc_fail(a->sync_fd, "network", &err);
  if (a->net && net_configure_inside(a->net, &err) < 0)
    proc_fail(a->sync_fd, "network", &err);
  if (a->userns_fd >= 0 && proc_join_userns(a->userns_fd, &err) < 0)
    proc_fail(a->sync_fd, "user namespace", &err);
  if (proc_stdio(a->stdio, a->tty, &err) < 0)
    proc_fail(a->sync_fd, "stdio", &err);
  proc_exec(&f);
}

int sync_wait_exec(int sync_fd, struct init_times *times, berr_t *err) {
  bool ok = false;
  for (;;) {
    char msg[SYNC_MSG_MAX + 1];
    ssize_t n = recv(sync_fd, msg, sizeof msg - 1, 0);
    if (n < 0) {
      /* ECONNRESET: the child exited with our messages to it unread; the
       * kernel says so once, and what it sent before is still queued */
      if (errno == EINTR || errno == ECONNRESET)
        continue;
      return berr_sys(err, errno, "read the start report");
    }
    if (n == 0) {
      if (ok)
        return 0;
      return berr_set(err, BERR_INTERNAL, "the container process died during its setup");
    }
    if (msg[0] == SYNC_OK && (size_t)n == 1 + sizeof *times) {
      memcpy(times, msg + 1, sizeof *times);
      ok = true;
    } else if (msg[0] == SYNC_ERR && n >= 2) {
      msg[n] = '\0';
      enum berr_kind kind = (unsigned char)msg[1] <= BERR_INVALID ? (enum berr_kind)msg[1] : BERR_INTERNAL;
      return berr_set(err, kind, "%s", msg + 2);
    } else {
      return berr_set(err, BERR_INTERNAL, "unexpected start report of %zd bytes", n);
    }
  }
}
