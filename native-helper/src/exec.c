#include "exec.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cleanup.h"
#include "init.h"
#include "namespaces.h"
#include "pty.h"
#include "runtime.h"
#include "stream.h"
#include "util.h"

struct session {
  const struct container_spec *spec;
  pid_t init_pid;
  const struct cgroup *cg;
  const struct exec_spec *ex;
  int client, ctl;
};

static _Noreturn void session_fail(struct session *s, const berr_t *err) {
  char msg[SYNC_MSG_MAX];
  msg[0] = SYNC_ERR;
  msg[1] = (char)err->kind;
  int n = snprintf(msg + 2, sizeof msg - 2, "%s", err->msg);
  size_t len = 2 + (n < 0 ? 0 : (size_t)n >= sizeof msg - 2 ? sizeof msg - 3 : (size_t)n);
  (void)!send(s->ctl, msg, len, MSG_NOSIGNAL);
  _exit(1);
}

static _Noreturn void session_main(struct session *s) {
  const struct container_spec *spec = s->spec;
  const struct exec_spec *ex = s->ex;
  berr_t err;
  berr_clear(&err);
  int fds[NS_COUNT];
  enum ns_kind order[NS_COUNT];
  int nns = ns_open_all(s->init_pid, spec, fds, order, &err);
  if (nns < 0)
    session_fail(s, &err);
  int root_fd = -1;
  if (!spec->ns[NS_MNT]) {
    /* the init is chrooted in the host's mount namespace: share its root */
    char p[64];
    snprintf(p, sizeof p, "/proc/%d/root", (int)s->init_pid);
    if ((root_fd = open(p, O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0) {
      berr_sys(&err, errno, "open `%s`", p);
      session_fail(s, &err);
    }
  }
  /* the cgroup first: once in the container's cgroup namespace, its files are out of reach
   * (by itself: one thread, no RCU grace period to wait for, cgroup-join.c) */
  if (cgroup_join_self(s->cg, &err) < 0)
    session_fail(s, &err);
  /* the user namespace (joined last) is for the exec'd process only: this
   * session stays host root to relay */
  int userns_fd = -1;
  if (nns > 0 && order[nns - 1] == NS_USER) {
    userns_fd = fds[NS_USER];
    fds[NS_USER] = -1;
    nns--;
  }
  if (ns_join_all(fds, order, nns, &err) < 0)
    session_fail(s, &err);

  struct relay r;
  relay_init(&r);
  int child_io[3] = {0, -1, -1};
  char slave_path[64];
  if (relay_stdio_open(&r, ex->tty, ex->open_stdin, &ex->term, child_io, slave_path, sizeof slave_path, &err) < 0)
    session_fail(s, &err);
  r.hangup_on_detach = ex->tty;
  int sync[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sync) < 0) {
    berr_sys(&err, errno, "socketpair");
    session_fail(s, &err);
  }
  /* forked after setns: the child is inside the PID namespace */
  pid_t pid = fork();
  if (pid < 0) {
    berr_sys(&err, errno, "fork the exec process");
    session_fail(s, &err);
  }
  if (pid == 0) {
    close(sync[0]);
    proc_reset_signals();
    if (root_fd >= 0 && (fchdir(root_fd) < 0 || chroot(".") < 0)) {
      berr_sys(&err, errno, "chroot into the container's root");
      proc_fail(sync[1], "rootfs", &err);
    }
    if (userns_fd >= 0 && proc_join_userns(userns_fd, &err) < 0)
      proc_fail(sync[1], "user namespace", &err);
    if (proc_stdio(child_io, ex->tty, &err) < 0)
      proc_fail(sync[1], "stdio", &err);
    struct proc_final f = {.argv = ex->argv, .env = ex->env,
                           .workdir = ex->workdir ? ex->workdir : "/", .uid = ex->uid,
                           .gid = ex->gid, .user_name = ex->user_name,
                           .in_userns = spec->ns[NS_USER], .host_mounts = !spec->ns[NS_MNT],
                           .sync_fd = sync[1]};
    proc_exec(&f);
  }
  close(sync[1]);
  if (root_fd >= 0)
    close(root_fd);
  if (userns_fd >= 0)
    close(userns_fd);
  for (int i = 0; i < 3; i++)
    if (child_io[i] > 2 && (i == 0 || child_io[i] != child_io[i - 1]))
      close(child_io[i]);
  int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
  struct init_times times;
  if (pidfd < 0) {
    berr_sys(&err, errno, "pidfd_open %d", (int)pid);
    kill(pid, SIGKILL);
    session_fail(s, &err);
  }
  if (sync_wait_exec(sync[0], &times, &err) < 0) {
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
      ;
    session_fail(s, &err);
  }
  close(sync[0]);
  char ok[1 + sizeof(pid_t)];
  ok[0] = SYNC_OK;
  memcpy(ok + 1, &pid, sizeof pid);
  (void)!send(s->ctl, ok, sizeof ok, MSG_NOSIGNAL);

  r.client = s->client;
  r.ctl = s->ctl;
  int status = 0;
  if (relay_run(&r, pidfd, pid, 2000, &status, &err) < 0)
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
      ;
  json_object *o = exit_object(status, false);
  relay_finish(&r, json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
  json_object_put(o);
  _exit(0);
}

int runtime_exec(const struct container_spec *spec, pid_t init_pid, const struct cgroup *cg,
                 const struct exec_spec *ex, int client_fd, pid_t *pid, int *ctl_fd,
                 berr_t *err) {
  *ctl_fd = -1;
  *pid = 0;
  if (!ex->argv || !ex->argv[0] || !ex->argv[0][0])
    return berr_set(err, BERR_INVALID, "exec needs a command");
  if (init_pid <= 0)
    return berr_set(err, BERR_CONFLICT, "the container is not running");
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
    return berr_sys(err, errno, "socketpair");
  pid_t sp = fork();
  if (sp < 0) {
    int e = errno;
    close(sv[0]);
    close(sv[1]);
    return berr_sys(err, e, "fork the exec session");
  }
  if (sp == 0) {
    int keep[] = {sv[1], client_fd};
    runtime_close_fds_except(keep, 2);
    runtime_child_setup("berth-exec");
    if (client_fd >= 0)
      fcntl(client_fd, F_SETFD, FD_CLOEXEC);
    struct session s = {.spec = spec, .init_pid = init_pid, .cg = cg, .ex = ex,
                        .client = client_fd, .ctl = sv[1]};
    session_main(&s);
  }
  close(sv[1]);
  char msg[SYNC_MSG_MAX + 1];
  ssize_t n;
  do
    n = recv(sv[0], msg, sizeof msg - 1, 0);
  while (n < 0 && errno == EINTR);
  if (n == 1 + (ssize_t)sizeof(pid_t) && msg[0] == SYNC_OK) {
    memcpy(pid, msg + 1, sizeof *pid);
    *ctl_fd = sv[0];
    return 0;
  }
  if (n >= 2 && msg[0] == SYNC_ERR) {
    msg[n] = '\0';
    enum berr_kind kind = (unsigned char)msg[1] <= BERR_INVALID ? (enum berr_kind)msg[1] : BERR_INTERNAL;
    berr_set(err, kind, "exec in container %.12s: %s", spec->id, msg + 2);
  } else {
    berr_set(err, BERR_INTERNAL, "the exec session for container %.12s died while starting", spec->id);
  }
  close(sv[0]);
  while (waitpid(sp, NULL, 0) < 0 && errno == EINTR)
    ;
  return -1;
}
