/* cgroup managers behind one function table: v1 (legacy and hybrid layouts)
 * and v2 (unified). Container cgroups are created beneath the cgroup the
 * helper itself runs in: <own cgroup>/berth/<container id>. */
#ifndef BERTH_CGROUP_H
#define BERTH_CGROUP_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "error.h"
#include "spec.h"

enum cgroup_layout { CG_LAYOUT_UNIFIED, CG_LAYOUT_HYBRID, CG_LAYOUT_LEGACY };
const char *cgroup_layout_name(enum cgroup_layout l); /* "unified", "hybrid", "legacy" */

/* The controllers berth uses. On v1 each is its own hierarchy (cpu and
 * cpuacct may be co-mounted); on v2 they are all in one. */
enum cg_ctl { CG_MEMORY, CG_CPU, CG_CPUACCT, CG_PIDS, CG_FREEZER, CG_CTL_COUNT };

struct cgroup_env {
  enum cgroup_layout layout;
  /* Absolute directory under which container cgroups are made, per controller
   * (v2: all entries equal). NULL when a controller is not available. */
  char *parent[CG_CTL_COUNT];
};

/* Reads /proc/self/mountinfo and /proc/self/cgroup (below fs_root, normally
 * "/"; tests point it at a fake tree), finds the layout and the helper's own
 * cgroup, and prepares <own>/berth per controller. On v2 the helper first
 * moves itself into a leaf <own>/berthd so that <own> may enable controllers
 * for its children (no-internal-process rule); if <own> holds other
 * processes the error says so and suggests the systemd unit (Delegate=yes). */
int cgroup_env_init(struct cgroup_env *env, const char *fs_root, berr_t *err);
void cgroup_env_free(struct cgroup_env *env);
json_object *cgroup_env_to_json(const struct cgroup_env *env); /* {"layout","parent"} */

/* One container's cgroup: a directory per controller (v2: one). */
struct cgroup {
  enum cgroup_layout layout;
  char *path[CG_CTL_COUNT]; /* absolute dirs; NULL where unavailable */
};

int cgroup_create(const struct cgroup_env *env, const char *id, const struct limits *l,
                  struct cgroup *out, berr_t *err);
/* Moves pid into every controller's cgroup (writes cgroup.procs). */
int cgroup_add_pid(const struct cgroup *cg, pid_t pid, berr_t *err);
/* Moves the calling process into cg (made already) by itself: on v1 "0" to each
 * hierarchy's tasks file, which spares the RCU grace period a move by pid waits
 * for (cgroup-join.c). The caller must have one thread only. */
int cgroup_join_self(const struct cgroup *cg, berr_t *err);
/* The same in two halves, so that another process can open the files: the ones
 * to write, one per hierarchy, into fds (O_CLOEXEC); returns how many, or -1. */
int cgroup_join_open(const struct cgroup *cg, int fds[CG_CTL_COUNT], berr_t *err);
/* The caller moves itself: "0" on each of fds[0..n), all of which are closed. */
int cgroup_join_fds(int *fds, int n, berr_t *err);

struct cgroup_stats {
  int64_t mem_usage;   /* bytes */
  int64_t mem_limit;   /* bytes, -1 = unlimited */
  int64_t cpu_usage_ns;
  int64_t cpu_quota_us, cpu_period_us; /* quota -1 = unlimited */
  int64_t pids_current;
  int64_t pids_limit;  /* -1 = unlimited */
  int64_t oom_kills;   /* processes killed by the OOM killer in this cgroup */
};
int cgroup_stats(const struct cgroup *cg, struct cgroup_stats *out, berr_t *err);

/* PIDs (host view) of every process in the container's cgroup. */
int cgroup_pids(const struct cgroup *cg, pid_t **pids, size_t *n, berr_t *err);
/* Sends sig to every process in the cgroup (v2 cgroup.kill for SIGKILL;
 * v1 freezes, signals, thaws). Processes the helper did not start can't be in
 * a container's cgroup, so this never touches anything else. */
int cgroup_kill_all(const struct cgroup *cg, int sig, berr_t *err);
/* Freezes every process of the cgroup (a paused container: v1's freezer
 * controller, v2's cgroup.freeze) or thaws them; waits up to ~1 s for the
 * kernel to say the group is frozen. BERR_INVALID when the machine has no
 * freezer for it. */
int cgroup_freeze(const struct cgroup *cg, bool frozen, berr_t *err);
/* Removes the directories; waits briefly for exiting processes (EBUSY). */
int cgroup_destroy(const struct cgroup *cg, berr_t *err);

/* The cgroup that cgroup_create makes for id, without making or checking anything. */
int cgroup_for_id(const struct cgroup_env *env, const char *id, struct cgroup *out, berr_t *err);
/* Start-up: every container cgroup (named by a 64-hex id) below the parents that
 * keep(id) does not claim (a start berthd did not live to finish) has its processes
 * SIGKILLed and is removed; each one is logged. Returns how many were removed. */
int cgroup_sweep(const struct cgroup_env *env, bool (*keep)(const char *id, void *ctx), void *ctx);

json_object *cgroup_to_json(const struct cgroup *cg); /* {"layout","paths":{"memory":..}} */
int cgroup_from_json(struct cgroup *cg, json_object *o, berr_t *err);
void cgroup_free(struct cgroup *cg);

#endif
