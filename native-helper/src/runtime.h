/* The runtime side of berthd: the per-container monitor (conmon's pattern),
 * the container's init setup, and exec sessions. The daemon calls these;
 * they fork, and the forked processes outlive the daemon. */
#ifndef BERTH_RUNTIME_H
#define BERTH_RUNTIME_H

#include <stdint.h>
#include <sys/types.h>

#include "cgroup.h"
#include "error.h"
#include "pty.h"
#include "spec.h"

enum timeline_step { TL_CGROUP, TL_CLONE, TL_MOUNTS, TL_PIVOT_ROOT, TL_MASK, TL_EXEC, TL_COUNT };
/* "cgroup", "clone", "mounts", "pivot_root", "mask", "exec" */
const char *timeline_step_name(enum timeline_step s);

struct start_result {
  pid_t monitor_pid;
  pid_t init_pid;                 /* host PID */
  uint64_t init_starttime;        /* /proc/PID/stat field 22, guards against PID reuse */
  uint64_t monitor_starttime;
  int64_t step_us[TL_COUNT];
  int64_t step_at_us[TL_COUNT];   /* when each began, from the start's beginning (-1: unknown) */
  struct cgroup cg;               /* the container's cgroup, owned by the caller */
};

/* Paths inside a container's state directory (dir = <root>/containers/<id>). */
#define CTR_CONFIG "config.json"   /* spec_to_json, written by the daemon at create */
#define CTR_STATE "state.json"     /* daemon-owned: status, pids, times, cgroup */
#define CTR_EXIT "exit.json"       /* written by the monitor when init has exited */
#define CTR_START "start.json"     /* the monitor's start report, written once the command runs */
#define CTR_LOG "ctr.log"          /* docs/protocol.md "The container log" */
#define CTR_UPPER "upper"
#define CTR_WORK "work"
#define CTR_MERGED "merged"

struct net_attach; /* network.h */
struct runtime_opts {
  const struct cgroup_env *cg_env;
  int64_t log_max_bytes;
  /* When >= 0: a client connection to hand to the monitor (attached start).
   * The monitor waits for the daemon's go-ahead (runtime_release) before
   * streaming frames on it, so that the daemon can write its reply line first. */
  int attach_fd;
  struct term_size term; /* the PTY's first size (tty containers) */
  /* bridge and user networks: the veth the monitor makes after clone and
   * the init configures (network.h); NULL or !active for none and host */
  const struct net_attach *net;
  /* Called in the daemon with the monitor about to be handed the start (before
   * it has been told anything): the caller records it, so that a daemon killed
   * meanwhile finds the start again. */
  void (*on_monitor)(void *ctx, pid_t monitor_pid, uint64_t monitor_starttime);
  void *on_monitor_ctx;
};

/* Forks a monitor ahead of need, while the daemon is idle (a no-op when one
 * waits already): the next runtime_start hands it the start instead of
 * forking then (a fork copies the daemon's page tables: ~0.3 ms and more of
 * the start). It ends with the daemon, or with runtime_prefork_drop. */
int runtime_prefork(berr_t *err);
void runtime_prefork_drop(void);

/* Hands the start to a monitor (the one forked ahead, else one forked now),
 * which creates the cgroup, clones the init process with the spec's
 * namespaces, sets up the rootfs and execs the command. Returns once
 * the command has been exec'd (out filled) or the start failed (err filled,
 * monitor gone, cgroup removed, nothing mounted). *ctl_fd receives the daemon's
 * end of a control socket to the monitor; pass it to runtime_release. */
int runtime_start(const struct container_spec *spec, const char *dir,
                  const struct runtime_opts *opts, struct start_result *out,
                  int *ctl_fd, berr_t *err);
/* Tells the monitor (or an exec session) that the reply has been written and
 * frames may flow on the attached connection; closes ctl_fd. */
void runtime_release(int ctl_fd);
/* The start report the monitor left in dir (CTR_START) once the command ran: init
 * pid and start time, steps, cgroup (out->monitor_* untouched). -1 when there is none
 * (err->errnum ENOENT) or it cannot be read. */
int runtime_read_start(const char *dir, struct start_result *out, berr_t *err);

/* The monitor writes exit.json: {"exitCode", "signal", "reason", "oomKilled",
 * "finishedAt", "startToExitUs"} ("reason": exited | signaled | oom-killed). */

struct exec_spec {
  char **argv;      /* NULL-terminated */
  char **env;       /* NULL-terminated; the container's env plus the request's */
  char *workdir;
  uid_t uid;
  gid_t gid;
  char user_name[72]; /* as in container_spec: resolved inside, or "" */
  bool tty;
  bool open_stdin;
  struct term_size term;
};

/* Forks an exec session that joins every namespace of init_pid (those the
 * spec isolates) and the container's cgroup, and runs argv; it streams frames
 * on client_fd after runtime_release(*ctl_fd). *pid = host PID of the process. */
int runtime_exec(const struct container_spec *spec, pid_t init_pid, const struct cgroup *cg,
                 const struct exec_spec *ex, int client_fd, pid_t *pid, int *ctl_fd,
                 berr_t *err);

/* Forks a log streamer for `container.logs` on client_fd (LOG frames). With
 * follow it ends (EXIT frame copied from exit.json) once exit.json exists and
 * everything is sent. tail < 0 = all lines. */
int runtime_logs(const char *dir, int client_fd, bool follow, long tail, int *ctl_fd,
                 berr_t *err);

/* /proc/PID/stat starttime of pid, 0 if it is gone. */
uint64_t proc_starttime(pid_t pid);

#endif
