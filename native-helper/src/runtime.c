/* The daemon's side of the runtime: it hands each start to a monitor
 * (monitor.c), forked ahead of need when it can be, reads the start report,
 * and holds what the monitor, exec sessions and log streamers share. */
#include "runtime.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <malloc.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cleanup.h"
#include "fdpass.h"
#include "init.h"
#include "monitor.h"
#include "namespaces.h"
#include "network.h"
#include "spec-pack.h"
#include "util.h"

#define START_REPORT_MAX 65536
#define PREFAULT_STACK_BYTES (192 << 10)
#define PREFAULT_HEAP_BYTES (96 << 10) /* under the mmap threshold: from the heap */

const char *timeline_step_name(enum timeline_step s) {
  static const char *const names[TL_COUNT] = {"cgroup", "clone", "mounts", "pivot_root", "mask", "exec"};
  return (unsigned)s < TL_COUNT ? names[s] : "?";
}

uint64_t proc_starttime(pid_t pid) {
  char path[64], buf[4096];
  snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return 0;
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0)
    return 0;
  buf[n] = '\0';
  /* the command name may hold spaces and ')': fields start after the last ')' */
  char *p = strrchr(buf, ')');
  if (!p)
    return 0;
  p++;
  for (int field = 2; field < 22; field++) {
    p = strchr(p, ' ');
    if (!p)
      return 0;
    p++;
  }
  return strtoull(p, NULL, 10);
}

/* ---- shared with exec.c / logs.c ------------------------------------------------ */

/* Entries < 0 in keep are ignored. */
void runtime_close_fds_except(const int *keep, size_t n) {
  int sorted[8];
  size_t m = 0;
  for (size_t i = 0; i < n && m < 8; i++)
    if (keep[i] > 2)
      sorted[m++] = keep[i];
  for (size_t i = 1; i < m; i++)
    for (size_t j = i; j > 0 && sorted[j - 1] > sorted[j]; j--) {
      int t = sorted[j];
      sorted[j] = sorted[j - 1];
      sorted[j - 1] = t;
    }
  unsigned lo = 3;
  for (size_t i = 0; i < m; i++) {
    if ((unsigned)sorted[i] > lo)
      close_range(lo, (unsigned)sorted[i] - 1, 0);
    lo = (unsigned)sorted[i] + 1;
  }
  close_range(lo, ~0U, 0);
}

void runtime_child_setup(const char *name) {
  setsid();
  int null = open("/dev/null", O_RDWR);
  if (null >= 0) {
    for (int i = 0; i < 3; i++)
      if (null != i)
        dup2(null, i);
    if (null > 2)
      close(null);
  }
  proc_reset_signals();
  signal(SIGPIPE, SIG_IGN);
  signal(SIGHUP, SIG_IGN);
  prctl(PR_SET_NAME, name, 0, 0, 0);
  /* Non-dumpable, and so are the container's init and an exec'd command,
   * forked from here, until their execve (which resets it): a process inside
   * the container that sees them in its PID namespace gets none of their
   * /proc/PID/exe, fd, cwd, root, environ or mem (that takes CAP_SYS_PTRACE
   * in berthd's user namespace, which containers never have). */
  prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
}

/* initPid, initStart, steps and cgroup of a successful start report. */
static int parse_report(json_object *rep, struct start_result *out, berr_t *err) {
  json_object *v;
  if (json_object_object_get_ex(rep, "initPid", &v))
    out->init_pid = json_object_get_int(v);
  if (json_object_object_get_ex(rep, "initStart", &v))
    out->init_starttime = json_object_get_uint64(v);
  if (json_object_object_get_ex(rep, "steps", &v) && json_object_is_type(v, json_type_array))
    for (size_t i = 0; i < TL_COUNT && i < json_object_array_length(v); i++)
      out->step_us[i] = json_object_get_int64(json_object_array_get_idx(v, i));
  for (size_t i = 0; i < TL_COUNT; i++)
    out->step_at_us[i] = -1;
  if (json_object_object_get_ex(rep, "stepsAt", &v) && json_object_is_type(v, json_type_array))
    for (size_t i = 0; i < TL_COUNT && i < json_object_array_length(v); i++)
      out->step_at_us[i] = json_object_get_int64(json_object_array_get_idx(v, i));
  if (out->init_pid <= 0)
    return berr_set(err, BERR_INTERNAL, "the monitor's start report names no init process");
  if (!json_object_object_get_ex(rep, "cgroup", &v) || cgroup_from_json(&out->cg, v, err) < 0)
    return berr_wrap(err, "the monitor's start report");
  return 0;
}

int runtime_read_start(const char *dir, struct start_result *out, berr_t *err) {
  memset(out, 0, sizeof *out);
  char path[4096];
  if (monitor_path(path, dir, CTR_START, err) < 0)
    return -1;
  json_object *rep = NULL;
  if (json_read_file(path, &rep, err) < 0)
    return -1;
  json_object *v;
  int r = json_object_object_get_ex(rep, "ok", &v) && json_object_get_boolean(v)
              ? parse_report(rep, out, err)
              : berr_set(err, BERR_INTERNAL, "`%s` is not a start report", path);
  json_object_put(rep);
  return r;
}

/* ---- handing a start to a monitor ------------------------------------------------- */

/* A forked monitor: before its job it waits (monitor_await_job); after it, it
 * is the container's monitor. */
struct monitor_proc {
  pid_t pid;
  uint64_t starttime;
  int sock;  /* the daemon's end: the job, then the start report and the control messages */
  int pidfd; /* to reap this process and no other; -1 on kernels before 5.3 */
};

/* The start a monitor is handed, in one message with the packed spec
 * (spec-pack.h, in a memfd) and the attached client, if any, as SCM_RIGHTS. */
struct monitor_job {
  uint32_t magic;
  int64_t t_begin; /* mono_us() as the daemon began the start */
  int64_t log_max_bytes;
  /* the daemon's, made before any monitor was forked: at the same address,
   * with the same contents, in the monitor's copy of its memory */
  const struct cgroup_env *cg_env;
  struct term_size term;
  bool has_attach, has_net;
  struct net_attach net;
  char dir[4096];
};
#define JOB_MAGIC 0x626f6a62u

/* The monitor forked ahead of need (runtime_prefork), or none (sock -1). */
static struct monitor_proc spare = {.sock = -1, .pidfd = -1};

/* The packed spec from the memfd fd (closed). */
static int read_job_spec(int fd, struct container_spec *spec, berr_t *err) {
  struct stat st;
  if (fstat(fd, &st) < 0) {
    berr_sys(err, errno, "fstat the packed spec");
    close(fd);
    return -1;
  }
  cleanup_free char *buf = malloc(st.st_size > 0 ? (size_t)st.st_size : 1);
  size_t len = (size_t)st.st_size, off = 0;
  while (buf && off < len) {
    ssize_t n = pread(fd, buf + off, len - off, (off_t)off);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      break;
    off += (size_t)n;
  }
  int e = errno;
  close(fd);
  if (!buf)
    return berr_sys(err, ENOMEM, "the packed spec");
  if (off != len)
    return berr_sys(err, e, "read the packed spec (%zu of %zu bytes)", off, len);
  return spec_unpack(spec, buf, len, err);
}

/* The pages a start writes first, made this process's own now: after the
 * fork they are the daemon's, shared until written, and each first write is a
 * fault and a copy. The stack below this frame (where the start's calls will
 * be) and some heap, kept (no trimming of the heap's top). */
static __attribute__((noinline)) void prefault(void) {
  volatile char stack[PREFAULT_STACK_BYTES];
  for (size_t i = 0; i < sizeof stack; i += 4096)
    stack[i] = 0;
  mallopt(M_TRIM_THRESHOLD, PREFAULT_HEAP_BYTES * 4);
  char *heap = malloc(PREFAULT_HEAP_BYTES);
  if (heap) {
    for (size_t i = 0; i < PREFAULT_HEAP_BYTES; i += 4096)
      ((volatile char *)heap)[i] = 0;
    free(heap);
  }
}

/* A forked monitor's life before its job. It goes with the daemon until the
 * job comes (its socket may live on in a worker the daemon forked, so the
 * socket's end alone would not tell it); then it is the container's monitor. */
static _Noreturn void monitor_await_job(int sock, pid_t daemon) {
  if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0 || getppid() != daemon)
    _exit(0);
  /* what can be done before the job is, while nothing waits for it */
  static struct ns_premade premade;
  ns_premake(&premade);
  prefault();
  struct monitor_job job;
  int fds[2] = {-1, -1};
  size_t got = 0;
  berr_t err;
  int n;
  do
    n = fdpass_recvmsg(sock, &job, sizeof job, &got, fds, 2, false, &err);
  while (n < 0 && err.errnum == EINTR);
  if (n < 1 || got != sizeof job || job.magic != JOB_MAGIC || (job.has_attach && n != 2))
    _exit(0); /* the daemon is gone (or is not one we know) */
  (void)prctl(PR_SET_PDEATHSIG, 0, 0, 0, 0);
  prctl(PR_SET_NAME, "berth-monitor", 0, 0, 0);
  struct container_spec spec;
  if (read_job_spec(fds[0], &spec, &err) < 0) {
    monitor_report_failure(sock, &err);
    _exit(1);
  }
  job.dir[sizeof job.dir - 1] = '\0';
  struct runtime_opts opts = {.cg_env = job.cg_env, .log_max_bytes = job.log_max_bytes,
                              .attach_fd = job.has_attach ? fds[1] : -1, .term = job.term,
                              .net = job.has_net ? &job.net : NULL};
  struct monitor_start ms = {.spec = &spec, .dir = job.dir, .opts = &opts, .ctl = sock,
                            .daemon = daemon, .t_begin = job.t_begin, .premade = &premade};
  monitor_main(&ms);
}

/* Forks a monitor that waits for its job. */
static int monitor_fork(struct monitor_proc *out, berr_t *err) {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
    return berr_sys(err, errno, "socketpair");
  pid_t daemon = getpid();
  pid_t pid = fork();
  if (pid < 0) {
    int e = errno;
    close(sv[0]);
    close(sv[1]);
    return berr_sys(err, e, "fork the monitor");
  }
  if (pid == 0) {
    runtime_close_fds_except(&sv[1], 1);
    runtime_child_setup("berth-spare");
    monitor_await_job(sv[1], daemon);
  }
  close(sv[1]);
  out->pid = pid;
  out->sock = sv[0];
  out->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
  out->starttime = proc_starttime(pid);
  return 0;
}

/* Lets go of a monitor that has no container (any more) and reaps it: closing
 * its socket ends one still waiting for its job. */
static void monitor_proc_close(struct monitor_proc *m) {
  if (m->sock >= 0)
    close(m->sock);
  m->sock = -1;
  if (m->pidfd >= 0) {
    struct pollfd p = {.fd = m->pidfd, .events = POLLIN};
    /* (the daemon's SIGCHLD reaping may get there first: ECHILD then) */
    if (poll(&p, 1, 10000) > 0) {
      siginfo_t si;
      (void)waitid((idtype_t)P_PIDFD, (id_t)m->pidfd, &si, WEXITED | WNOHANG);
    }
    close(m->pidfd);
    m->pidfd = -1;
  } else if (m->pid > 0) {
    while (waitpid(m->pid, NULL, 0) < 0 && errno == EINTR)
      ;
  }
  m->pid = 0;
}

int runtime_prefork(berr_t *err) {
  if (spare.sock >= 0)
    return 0;
  return monitor_fork(&spare, err);
}

void runtime_prefork_drop(void) {
  if (spare.sock >= 0)
    monitor_proc_close(&spare);
}

/* Hands the start to the spare monitor, or to one forked now: *out is the
 * monitor, which opts->on_monitor has recorded before it may make anything of
 * the container's. */
static int monitor_hand_start(const struct container_spec *spec, const char *dir,
                              const struct runtime_opts *opts, int64_t t_begin,
                              struct monitor_proc *out, berr_t *err) {
  /* static: the job is some 8 KiB, set in full each time */
  static struct monitor_job job;
  memset(&job, 0, sizeof job);
  job.magic = JOB_MAGIC;
  job.t_begin = t_begin;
  job.log_max_bytes = opts->log_max_bytes;
  job.cg_env = opts->cg_env;
  job.term = opts->term;
  job.has_attach = opts->attach_fd >= 0;
  if (opts->net) {
    job.has_net = true;
    job.net = *opts->net;
  }
  if (snprintf(job.dir, sizeof job.dir, "%s", dir) >= (int)sizeof job.dir)
    return berr_set(err, BERR_INVALID, "path too long: `%s`", dir);
  cleanup_free char *packed = NULL;
  size_t len = 0;
  if (spec_pack(spec, &packed, &len, err) < 0)
    return -1;
  cleanup_close int mfd = memfd_create("berth-spec", MFD_CLOEXEC);
  if (mfd < 0)
    return berr_sys(err, errno, "memfd_create for the spec of container %.12s", spec->id);
  if (write_all(mfd, packed, len) < 0)
    return berr_sys(err, errno, "write the spec of container %.12s to a memfd", spec->id);
  int fds[2] = {mfd, opts->attach_fd};
  for (;;) {
    bool forked_now = spare.sock < 0;
    struct monitor_proc m = spare;
    if (forked_now && monitor_fork(&m, err) < 0)
      return -1;
    spare = (struct monitor_proc){.sock = -1, .pidfd = -1};
    if (fdpass_sendmsg(m.sock, &job, sizeof job, fds, job.has_attach ? 2 : 1, err) == 0) {
      /* it gets ready (stdio, log) while the start is recorded, and makes
       * nothing of the container's before START_RECORDED */
      if (opts->on_monitor)
        opts->on_monitor(opts->on_monitor_ctx, m.pid, m.starttime);
      char recorded = START_RECORDED;
      (void)!send(m.sock, &recorded, 1, MSG_NOSIGNAL); /* one gone already: its report is missing */
      *out = m;
      return 0;
    }
    monitor_proc_close(&m);
    if (forked_now)
      return berr_wrap(err, "hand container %.12s to its monitor", spec->id);
    /* the spare is gone (killed, or at its pids limit): once more with a new one */
  }
}

int runtime_start(const struct container_spec *spec, const char *dir,
                  const struct runtime_opts *opts, struct start_result *out, int *ctl_fd,
                  berr_t *err) {
  memset(out, 0, sizeof *out);
  *ctl_fd = -1;
  if (!spec->argv || !spec->argv[0])
    return berr_set(err, BERR_INVALID, "the container has no command");
  int64_t t_begin = mono_us();
  struct monitor_proc mon;
  if (monitor_hand_start(spec, dir, opts, t_begin, &mon, err) < 0)
    return -1;
  int sv0 = mon.sock;
  pid_t pid = mon.pid;
  cleanup_free char *buf = malloc(START_REPORT_MAX);
  ssize_t n = -1;
  if (buf) {
    do
      n = recv(sv0, buf, START_REPORT_MAX - 1, 0);
    while (n < 0 && errno == EINTR);
  }
  json_object *rep = NULL;
  if (n > 0) {
    buf[n] = '\0';
    rep = json_tokener_parse(buf);
  }
  json_object *v;
  bool ok = rep && json_object_object_get_ex(rep, "ok", &v) && json_object_get_boolean(v);
  if (!ok) {
    if (rep && json_object_object_get_ex(rep, "message", &v)) {
      json_object *k = NULL, *en = NULL;
      json_object_object_get_ex(rep, "kind", &k);
      json_object_object_get_ex(rep, "errno", &en);
      berr_set(err, (enum berr_kind)json_object_get_int(k), "%s", json_object_get_string(v));
      err->errnum = json_object_get_int(en);
    } else {
      berr_set(err, BERR_INTERNAL, "the monitor of container %.12s died while starting it", spec->id);
    }
    json_object_put(rep);
    monitor_proc_close(&mon);
    return -1;
  }
  out->monitor_pid = pid;
  out->monitor_starttime = mon.starttime;
  int r = parse_report(rep, out, err);
  json_object_put(rep);
  if (r < 0) {
    /* cannot track it: stop it */
    kill(out->init_pid, SIGKILL);
    monitor_proc_close(&mon);
    return -1;
  }
  *ctl_fd = sv0;
  if (mon.pidfd >= 0)
    close(mon.pidfd);
  return 0;
}

void runtime_release(int ctl_fd) {
  if (ctl_fd < 0)
    return;
  char go = 'G';
  (void)!send(ctl_fd, &go, 1, MSG_NOSIGNAL);
  close(ctl_fd);
}
