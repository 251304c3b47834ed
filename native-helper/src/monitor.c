/* The per-container monitor (conmon's pattern), forked by the daemon
 * (runtime.c): it makes the cgroup and the stdio, clones the init, reports the
 * start, then relays output to the log and an attached client, and records the
 * exit status. */
#include "monitor.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <linux/sched.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cleanup.h"
#include "fdpass.h"
#include "init.h"
#include "logfile.h"
#include "namespaces.h"
#include "network.h"
#include "pty.h"
#include "stream.h"
#include "util.h"

#ifdef __SANITIZE_ADDRESS__
#include <sanitizer/common_interface_defs.h>
#endif

#define OUTSIDE_STACK_BYTES (256 << 10)

struct monitor {
  const struct container_spec *spec;
  const char *dir;
  const struct runtime_opts *opts;
  int ctl;
  pid_t daemon;
  int64_t t_begin;
  char upper[4096], work[4096], merged[4096];
  struct cgroup cg;
  bool has_cg;
  struct logfile log;
  bool has_log;
  pid_t init_pid;
  int pidfd;
  int mntns;   /* the container's mount namespace, let go in monitor_cleanup */
  struct ns_premade *premade; /* made before the start came, or NULL */
  int64_t cgroup_began;       /* mono_us() as make_outside began */
};

static void report_json(int ctl, json_object *o) {
  size_t len = 0;
  const char *s = json_object_to_json_string_length(o, JSON_C_TO_STRING_PLAIN, &len);
  (void)!send(ctl, s, len, MSG_NOSIGNAL);
}

static void monitor_cleanup(struct monitor *m) {
  berr_t e;
  if (m->mntns >= 0) {
    /* the namespace goes now: its mounts are unmounted, and overlayfs syncs
     * the upper dir's filesystem as its last mount goes */
    close(m->mntns);
    m->mntns = -1;
  }
  if (!m->spec->ns[NS_MNT])
    (void)umount2(m->merged, MNT_DETACH); /* EINVAL when nothing was mounted */
  if (m->has_cg) {
    /* exec sessions may still be leaving the cgroup (each try waits up to 2 s) */
    for (int i = 0; i < 3 && cgroup_destroy(&m->cg, &e) < 0; i++)
      ;
  }
  if (m->has_log)
    logfile_close(&m->log);
}

static _Noreturn void monitor_fail(struct monitor *m, const berr_t *err) {
  if (m->init_pid > 0) {
    kill(m->init_pid, SIGKILL);
    while (waitpid(m->init_pid, NULL, 0) < 0 && errno == EINTR)
      ;
  }
  monitor_cleanup(m);
  monitor_report_failure(m->ctl, err);
  _exit(1);
}

static void on_output(void *ctx, int stream, const uint8_t *data, size_t n) {
  struct monitor *m = ctx;
  berr_t e;
  /* a full disk must not stop the relay to an attached client */
  if (m->has_log)
    (void)logfile_write(&m->log, stream == 2 ? "stderr" : "stdout", data, n, NULL, &e);
}

static void on_init_exit(void *ctx) {
  struct monitor *m = ctx;
  berr_t e;
  /* without a PID namespace the init's children do not die with it */
  if (!m->spec->ns[NS_PID] && m->has_cg)
    (void)cgroup_kill_all(&m->cg, SIGKILL, &e);
}

static pid_t clone_init(int flags, int *pidfd) {
  struct clone_args args;
  memset(&args, 0, sizeof args);
  args.flags = (uint64_t)flags | CLONE_PIDFD;
  args.pidfd = (uint64_t)(uintptr_t)pidfd;
  args.exit_signal = SIGCHLD;
  pid_t pid = (pid_t)syscall(SYS_clone3, &args, sizeof args);
  if (pid < 0 && errno == ENOSYS) {
    /* before 5.3: plain clone, then a pidfd */
    pid = (pid_t)syscall(SYS_clone, (unsigned long)flags | SIGCHLD, NULL, NULL, NULL, NULL);
    if (pid > 0)
      *pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
  }
  return pid;
}

/* The init's first steps: in our memory (clone_init_vm) or in a copy of it (clone_init). */
struct vm_child {
  const struct init_args *a;
  int close_fds[2];         /* our ends of its sockets, -1: none */
  volatile int64_t started; /* mono_us() once it runs; 0 in a copy of our memory */
  const void *asan_stack;   /* (AddressSanitizer builds) our stack, to switch back to */
  size_t asan_stack_size;
};

static _Noreturn int vm_child_main(void *arg) {
  struct vm_child *c = arg;
#ifdef __SANITIZE_ADDRESS__
  if (c->started == -1) /* on the stack clone_init_vm gave it: tell the sanitizer */
    __sanitizer_finish_switch_fiber(NULL, &c->asan_stack, &c->asan_stack_size);
#endif
  c->started = mono_us();
  for (int i = 0; i < 2; i++)
    if (c->close_fds[i] >= 0)
      close(c->close_fds[i]); /* its own descriptor table: ours stay open */
  init_main(c->a);
}

/* The init in our memory, we suspended until its execve or exit (CLONE_VM |
 * CLONE_VFORK, as posix_spawn does): no copy of the address space to make at
 * the clone, and none for the execve to tear down, ~0.4 ms less. Nothing of
 * the image's runs before the execve, and the execve gives it a memory of its
 * own. -1 with errno on failure (EINVAL: a kernel without CLONE_PIDFD). */
static pid_t clone_init_vm(int flags, int *pidfd, struct vm_child *c) {
  size_t sz = INIT_STACK_BYTES;
  void *stack = mmap(NULL, sz, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
  if (stack == MAP_FAILED)
    return -1;
#ifdef __SANITIZE_ADDRESS__
  /* the child runs on another stack in our memory: a fiber switch, to the sanitizer */
  void *fake = NULL;
  c->started = -1;
  __sanitizer_start_switch_fiber(&fake, stack, sz);
#endif
  pid_t pid = clone(vm_child_main, (char *)stack + sz,
                    flags | CLONE_VM | CLONE_VFORK | CLONE_PIDFD | SIGCHLD, c, pidfd);
  int e = errno;
#ifdef __SANITIZE_ADDRESS__
  if (c->started == -1) { /* it never ran: still on our stack */
    __sanitizer_finish_switch_fiber(fake, NULL, NULL);
  } else {
    __sanitizer_start_switch_fiber(NULL, c->asan_stack, c->asan_stack_size);
    __sanitizer_finish_switch_fiber(fake, NULL, NULL);
  }
#endif
  munmap(stack, sz); /* it has left the stack: exec'd or exited */
  errno = e;
  return pid;
}

/* Made outside before the init may run anything of the image's: the cgroup
 * and the files to join it by, sent as SYNC_CGROUP (then SYNC_GO, with go,
 * when nothing else is to be done outside). -1 with err: nothing sent. */
static int make_outside(struct monitor *m, int sync_fd, bool go, int64_t *cgroup_us, berr_t *err) {
  const struct container_spec *s = m->spec;
  const struct runtime_opts *o = m->opts;
  int64_t t = mono_us();
  m->cgroup_began = t;
  if (cgroup_create(o->cg_env, s->id, &s->limits, &m->cg, err) < 0)
    return -1;
  m->has_cg = true;
  _Static_assert(CG_CTL_COUNT <= FDPASS_MAX, "one SYNC_CGROUP carries every hierarchy's file");
  int cg_fds[CG_CTL_COUNT];
  int n_cg = cgroup_join_open(&m->cg, cg_fds, err);
  if (n_cg < 0)
    return -1;
  int sent = fdpass_send(sync_fd, SYNC_CGROUP, cg_fds, n_cg, err);
  for (int i = 0; i < n_cg; i++)
    close(cg_fds[i]);
  if (sent == 0 && go)
    sent = fdpass_send(sync_fd, SYNC_GO, NULL, 0, err);
  if (sent < 0)
    return -1;
  *cgroup_us = mono_us() - t;
  return 0;
}

/* make_outside in a thread of ours while the init, cloned into our memory,
 * sets up its mounts (the clone suspends only the thread that called it). */
struct outside_job {
  struct monitor *m;
  int sync_fd;
  int64_t cgroup_us;
  int r;
  berr_t err;
};

static void *outside_thread(void *arg) {
  struct outside_job *j = arg;
  j->r = make_outside(j->m, j->sync_fd, true, &j->cgroup_us, &j->err);
  if (j->r < 0)
    shutdown(j->sync_fd, SHUT_WR); /* the init, waiting for SYNC_CGROUP, gives up */
  return NULL;
}

/* Nothing of the container's (its cgroup, its init) before the daemon has
 * recorded this monitor: a daemon killed before that leaves a monitor that
 * ends here, never an untracked container. */
static void wait_recorded(struct monitor *m) {
  char recorded = 0;
  ssize_t got;
  do
    got = recv(m->ctl, &recorded, 1, 0);
  while (got < 0 && errno == EINTR);
  if (got != 1 || recorded != START_RECORDED) {
    monitor_cleanup(m);
    _exit(1);
  }
}

/* A step on the init failed: when the init has already reported a failure of
 * its own (its exit is why the step failed), that report is the error to give. */
static void prefer_init_report(int sync_fd, berr_t *err) {
  char c;
  ssize_t n = recv(sync_fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
  if (n < 0 && errno == ECONNRESET) /* reported once (see sync_wait_exec): its report may follow */
    n = recv(sync_fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
  if (n == 1 && c == SYNC_ERR) {
    struct init_times ignored;
    berr_t reported;
    if (sync_wait_exec(sync_fd, &ignored, &reported) < 0)
      *err = reported;
  }
}

int monitor_path(char out[4096], const char *dir, const char *name, berr_t *err) {
  if (snprintf(out, 4096, "%s/%s", dir, name) >= 4096)
    return berr_set(err, BERR_INVALID, "path too long under `%s`", dir);
  return 0;
}

_Noreturn void monitor_main(const struct monitor_start *ms) {
  struct monitor mm = {.spec = ms->spec, .dir = ms->dir, .opts = ms->opts, .ctl = ms->ctl,
                       .daemon = ms->daemon, .t_begin = ms->t_begin, .pidfd = -1, .mntns = -1,
                       .premade = ms->premade};
  struct monitor *m = &mm;
  const struct container_spec *s = m->spec;
  const struct runtime_opts *o = m->opts;
  berr_t err;
  berr_clear(&err);
  int64_t steps[TL_COUNT] = {0}, began[TL_COUNT] = {0};
  char logpath[4096];
  if (monitor_path(m->upper, m->dir, CTR_UPPER, &err) < 0 ||
      monitor_path(m->work, m->dir, CTR_WORK, &err) < 0 ||
      monitor_path(m->merged, m->dir, CTR_MERGED, &err) < 0 ||
      monitor_path(logpath, m->dir, CTR_LOG, &err) < 0)
    monitor_fail(m, &err);

  int64_t t;

  /* stdio: the init's ends and ours */
  int child_io[3] = {0, -1, -1}; /* fd 0 is /dev/null here */
  struct relay r;
  relay_init(&r);
  char slave_path[64] = "";
  if (relay_stdio_open(&r, s->tty, s->open_stdin, &o->term, child_io, slave_path, sizeof slave_path, &err) < 0)
    monitor_fail(m, &err);
  int sync[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sync) < 0) {
    berr_sys(&err, errno, "socketpair");
    monitor_fail(m, &err);
  }
  int userns_fd = -1;
  if (s->ns[NS_USER]) {
    /* root in the container is host uid 100000: it must own what it writes to */
    const char *owned[] = {m->upper, m->work};
    for (int i = 0; i < 2; i++)
      if (chown(owned[i], NS_HOST_ID_BASE, NS_HOST_ID_BASE) < 0) {
        berr_sys(&err, errno, "chown `%s` to %d", owned[i], NS_HOST_ID_BASE);
        monitor_fail(m, &err);
      }
    if (ns_userns_create(&userns_fd, &err) < 0)
      monitor_fail(m, &err);
  }

  /* The container's mount namespace, sent by the init once it is set up, is
   * held here until the exit is recorded. Without a holder it goes with the
   * init's exit, and the exit is noticed (pidfd) only once its ~25 mounts are
   * unmounted, the last of them the overlay, whose unmount syncs the whole
   * upper filesystem: milliseconds on a quiet disk, far more on a busy one.
   * Held, that is the clean-up after the exit (monitor_cleanup), as for a
   * runtime that mounts the rootfs from outside and unmounts it once the
   * container is gone. */
  int nsref[2] = {-1, -1};
  if (s->ns[NS_MNT] && socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, nsref) < 0) {
    berr_sys(&err, errno, "socketpair");
    monitor_fail(m, &err);
  }
  /* With nothing to do between the clone and the init's go-ahead (no veth to
   * attach) and no user namespace to join (setns into one needs a memory of
   * its own), the init runs in our memory while this thread waits
   * (clone_init_vm), and what it needs from us is made by another thread
   * meanwhile (outside_thread). Else it is made once the clone returns, while
   * the init sets up its mounts. Either way the cgroup is made while the init
   * makes its mounts, and joined before anything of the image's runs. */
  bool in_our_memory = !(o->net && o->net->active) && !s->ns[NS_USER];
  /* the log is made while the daemon records this monitor: nothing is written
   * to it before the command runs */
  if (logfile_open(&m->log, logpath, o->log_max_bytes, &err) < 0)
    monitor_fail(m, &err);
  m->has_log = true;
  wait_recorded(m);
  int64_t cgroup_made_us = 0;
  struct outside_job outside = {.m = m, .sync_fd = sync[0]};
  pthread_t outside_tid;
  bool outside_threaded = false;
  if (in_our_memory) {
    pthread_attr_t attr;
    if (pthread_attr_init(&attr) == 0) {
      outside_threaded = pthread_attr_setstacksize(&attr, OUTSIDE_STACK_BYTES) == 0 &&
                         pthread_create(&outside_tid, &attr, outside_thread, &outside) == 0;
      pthread_attr_destroy(&attr);
    }
    if (!outside_threaded) { /* then before the clone */
      if (make_outside(m, sync[0], true, &cgroup_made_us, &err) < 0)
        monitor_fail(m, &err);
    }
  }

  struct init_args a = {.spec = s, .upper = m->upper, .work = m->work, .merged = m->merged,
                        .console = s->tty ? slave_path : NULL,
                        .stdio = {child_io[0], child_io[1], child_io[2]}, .tty = s->tty,
                        .sync_fd = sync[1], .userns_fd = userns_fd,
                        .net = o->net && o->net->active ? o->net : NULL, .mntns_fd = nsref[1]};
  struct vm_child vc = {.a = &a, .close_fds = {sync[0], nsref[0]}};
  t = mono_us();
  /* the namespaces made before the job came: entered here, so that the init
   * is cloned into them (the other thread stays where it is) */
  int flags = ns_clone_flags(s);
  if (m->premade) {
    if (ns_premade_enter(m->premade, s, &flags, &err) < 0) {
      if (outside_threaded) /* its cgroup is removed by monitor_fail: let it finish first */
        pthread_join(outside_tid, NULL);
      monitor_fail(m, &err);
    }
    a.lo_up = s->ns[NS_NET] && !(flags & CLONE_NEWNET);
  }
  pid_t pid = -1;
  if (in_our_memory)
    pid = clone_init_vm(flags, &m->pidfd, &vc);
  if (!in_our_memory || (pid < 0 && (errno == EINVAL || errno == ENOSYS))) {
    /* a copy of our memory (or a kernel without CLONE_PIDFD): made with the
     * other thread done, so that no lock it held is copied held */
    if (outside_threaded) {
      pthread_join(outside_tid, NULL);
      outside_threaded = false;
      cgroup_made_us = outside.cgroup_us;
      if (outside.r < 0)
        monitor_fail(m, &outside.err);
    }
    vc.started = 0;
    pid = clone_init(flags, &m->pidfd);
    if (pid == 0)
      vm_child_main(&vc);
  }
  int clone_errno = errno;
  if (outside_threaded) {
    pthread_join(outside_tid, NULL);
    cgroup_made_us = outside.cgroup_us;
  }
  if (m->premade) {
    berr_t left;
    if (ns_premade_leave(m->premade, &left) < 0) {
      m->init_pid = pid;
      monitor_fail(m, &left);
    }
    ns_premade_close(m->premade);
  }
  if (pid < 0) {
    berr_sys(&err, clone_errno, "clone the init process (namespaces %#x)", flags);
    monitor_fail(m, &err);
  }
  m->init_pid = pid;
  if (outside_threaded && outside.r < 0) {
    /* an init that failed in its setup is gone already: its report says why */
    prefer_init_report(sync[0], &outside.err);
    monitor_fail(m, &outside.err);
  }
  close(sync[1]);
  if (nsref[1] >= 0)
    close(nsref[1]);
  for (int i = 0; i < 3; i++)
    if (child_io[i] > 2 && (i == 0 || child_io[i] != child_io[i - 1]))
      close(child_io[i]);
  if (userns_fd >= 0)
    close(userns_fd);
  /* in our memory the init has run its whole setup by now: its step ended when it began */
  steps[TL_CLONE] = (vc.started ? vc.started : mono_us()) - t;
  began[TL_CLONE] = t;
  if (!in_our_memory) {
    if (make_outside(m, sync[0], false, &cgroup_made_us, &err) < 0) {
      prefer_init_report(sync[0], &err);
      monitor_fail(m, &err);
    }
    /* eth0 appears in the init's netns while it is still busy with its mounts */
    if (o->net && o->net->active && net_attach_veth(o->net, pid, &err) < 0) {
      prefer_init_report(sync[0], &err);
      monitor_fail(m, &err);
    }
    char go = SYNC_GO;
    if (send(sync[0], &go, 1, MSG_NOSIGNAL) < 0) {
      int e = errno;
      struct init_times ignored;
      /* an init that failed in its setup is gone already: its report says why */
      if (sync_wait_exec(sync[0], &ignored, &err) == 0)
        berr_sys(&err, e, "release the init process");
      monitor_fail(m, &err);
    }
  }
  uint64_t init_start = proc_starttime(pid); /* while it is sure to exist */
  struct init_times times;
  if (sync_wait_exec(sync[0], &times, &err) < 0)
    monitor_fail(m, &err);
  int64_t t_exec = mono_us();
  close(sync[0]);
  if (nsref[0] >= 0) {
    char tag = 0;
    berr_t none;
    /* sent before its SYNC_OK: queued by now */
    if (fdpass_recv(nsref[0], &tag, &m->mntns, 1, true, &none) != 1 || tag != SYNC_MNTNS) {
      if (m->mntns >= 0)
        close(m->mntns);
      m->mntns = -1;
    }
    close(nsref[0]);
  }
  steps[TL_CGROUP] = cgroup_made_us + times.cgroup_us;
  steps[TL_MOUNTS] = times.mounts_us;
  steps[TL_PIVOT_ROOT] = times.pivot_root_us;
  steps[TL_MASK] = times.mask_us;
  steps[TL_EXEC] = t_exec - times.exec_start;
  began[TL_CGROUP] = m->cgroup_began;
  began[TL_MOUNTS] = times.mounts_start;
  began[TL_PIVOT_ROOT] = times.pivot_root_start;
  began[TL_MASK] = times.mask_start;
  began[TL_EXEC] = times.exec_start;

  json_object *rep = json_object_new_object();
  json_object_object_add(rep, "ok", json_object_new_boolean(true));
  json_object_object_add(rep, "initPid", json_object_new_int(pid));
  json_object_object_add(rep, "initStart", json_object_new_uint64(init_start));
  json_object *st = json_object_new_array();
  for (int i = 0; i < TL_COUNT; i++)
    json_object_array_add(st, json_object_new_int64(steps[i]));
  json_object_object_add(rep, "steps", st);
  json_object *at = json_object_new_array();
  for (int i = 0; i < TL_COUNT; i++)
    json_object_array_add(at, json_object_new_int64(began[i] > 0 ? began[i] - m->t_begin : -1));
  json_object_object_add(rep, "stepsAt", at);
  json_object_object_add(rep, "cgroup", cgroup_to_json(&m->cg));
  /* the same on disk first: a daemon killed before it reads the report finds
   * the running command there when it comes back (runtime_read_start) */
  char start_path[4096];
  if (monitor_path(start_path, m->dir, CTR_START, &err) == 0) {
    size_t len = 0;
    const char *body = json_object_to_json_string_length(rep, JSON_C_TO_STRING_PLAIN, &len);
    (void)write_file_atomic(start_path, body, len, 0600, false, &err);
  }
  report_json(m->ctl, rep);
  json_object_put(rep);

  /* relay until the init has exited and its output is drained */
  r.client = o->attach_fd;
  r.ctl = m->ctl;
  r.on_output = on_output;
  r.on_exit = on_init_exit;
  r.ctx = m;
  int status = 0;
  if (relay_run(&r, m->pidfd, pid, 5000, &status, &err) < 0) {
    /* the relay broke: still reap and record the init */
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
      ;
  }
  int64_t start_to_exit = mono_us() - m->t_begin;
  struct cgroup_stats cs;
  bool oom = WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL &&
             cgroup_stats(&m->cg, &cs, &err) == 0 && cs.oom_kills > 0;
  json_object *ex = exit_object(status, oom);
  const char *frame = json_object_to_json_string_ext(ex, JSON_C_TO_STRING_PLAIN);
  cleanup_free char *frame_copy = strdup(frame);
  char now[40];
  now_rfc3339(now);
  json_object_object_add(ex, "finishedAt", json_object_new_string(now));
  json_object_object_add(ex, "startToExitUs", json_object_new_int64(start_to_exit));
  char exit_path[4096];
  if (monitor_path(exit_path, m->dir, CTR_EXIT, &err) == 0) {
    size_t len = 0;
    const char *body = json_object_to_json_string_length(ex, JSON_C_TO_STRING_PLAIN, &len);
    (void)write_file_atomic(exit_path, body, len, 0600, false, &err);
  }
  json_object_put(ex);
  relay_finish(&r, frame_copy ? frame_copy : "{}");
  monitor_cleanup(m);
  /* the daemon removes --rm containers itself once it has read exit.json;
   * only when it is gone does that fall to us */
  if (s->auto_remove && getppid() != m->daemon)
    (void)rm_rf(m->dir, &err);
  _exit(0);
}

void monitor_report_failure(int ctl, const berr_t *err) {
  json_object *o = json_object_new_object();
  json_object_object_add(o, "ok", json_object_new_boolean(false));
  json_object_object_add(o, "kind", json_object_new_int(err->kind));
  json_object_object_add(o, "errno", json_object_new_int(err->errnum));
  json_object_object_add(o, "message", json_object_new_string(err->msg));
  report_json(ctl, o);
  json_object_put(o);
}
