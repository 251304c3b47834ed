/* The container's init side, from clone to execve, and the last steps it
 * shares with exec sessions (ids, capabilities, workdir, PATH lookup).
 * Every failure goes back over the sync socket as "step: message" and the
 * process exits 127; a successful execve closes the (CLOEXEC) sync socket. */
#ifndef BERTH_INIT_H
#define BERTH_INIT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "error.h"
#include "spec.h"

/* Sync socket messages (SOCK_SEQPACKET). */
#define SYNC_CGROUP 'C' /* parent -> child: the cgroup's files to join it by (fdpass.h) */
#define SYNC_GO 'G'    /* parent -> child: set up outside (cgroup, network): go on */
#define SYNC_OK 'O'    /* child -> parent: struct init_times follows; execve is next */
#define SYNC_ERR 'E'   /* child -> parent: "step: message" follows */
#define SYNC_MNTNS 'N' /* child -> parent, on mntns_fd: its mount namespace (fdpass.h) */
#define SYNC_MSG_MAX (BERR_MSG_MAX + 64)

struct init_times {
  int64_t mounts_us, pivot_root_us, mask_us;
  int64_t cgroup_us;   /* joining the cgroup (cgroup_join_fds) */
  int64_t mounts_start, pivot_root_start, mask_start; /* mono_us() as they began */
  int64_t exec_start;  /* mono_us() just before execve */
};

struct net_attach; /* network.h */
struct init_args {
  const struct container_spec *spec;
  const char *upper, *work, *merged;
  const char *console;   /* PTY slave path (tty), else NULL */
  int stdio[3];          /* dup2'd onto 0, 1, 2 */
  bool tty;              /* stdio[0] is a PTY slave: make it the controlling terminal */
  int sync_fd;
  int userns_fd;         /* >= 0: the user namespace to join once set up */
  const struct net_attach *net; /* eth0 and the network files (network.h), or NULL */
  int mntns_fd;          /* >= 0: where to send the mount namespace once set up */
  bool lo_up;            /* its network namespace was made ready (ns_premake): lo is up */
};

/* The init process after clone: never returns. It may run in the monitor's
 * memory (runtime.c clone_init_vm: CLONE_VM | CLONE_VFORK, the monitor
 * suspended until the execve or the exit), on a stack of INIT_STACK_BYTES: it
 * must change nothing the monitor keeps (no globals, nothing reached through
 * `a` but its own fields' targets it was given to use), start no thread, and
 * end in execve or _exit. */
#define INIT_STACK_BYTES (1 << 20)
_Noreturn void init_main(const struct init_args *a);

/* What the init and exec sessions share after their setup. */
struct proc_final {
  char *const *argv;
  char *const *env;
  const char *workdir;
  uid_t uid;
  gid_t gid;
  const char *user_name; /* "name[:group]" to look up in the container, or NULL / "" */
  bool in_userns;
  bool host_mounts; /* the host's mount namespace (chrooted): no CAP_SYS_CHROOT */
  int sync_fd;
  struct init_times times;
};
/* Dispositions back to default, signal mask empty (the daemon blocks and
 * ignores some, and ignored ones would survive execve). */
void proc_reset_signals(void);
/* stdio onto 0..2; with tty, a new session with stdio[0] as controlling terminal. */
int proc_stdio(const int stdio[3], bool tty, berr_t *err);
/* chdir, capabilities and ids, SYNC_OK, execve with a PATH lookup in env. */
_Noreturn void proc_exec(struct proc_final *f);
/* setns into the user namespace, then root inside it (host root up to here). */
int proc_join_userns(int userns_fd, berr_t *err);
/* Reports "step: message" on sync_fd and exits 127. */
_Noreturn void proc_fail(int sync_fd, const char *step, const berr_t *err);

/* Reads the child's report: 0 once execve succeeded (*times filled), -1 with
 * err = the child's "step: message" (or that it died without one). */
int sync_wait_exec(int sync_fd, struct init_times *times, berr_t *err);

#endif
