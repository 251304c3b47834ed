/* Shared between cgroup.c and the two managers (cgroup-v1.c, cgroup-v2.c);
 * the unit test includes it for the fake-tree hooks. Not for other modules. */
#ifndef BERTH_CGROUP_INTERNAL_H
#define BERTH_CGROUP_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "cgroup.h"

/* What cgroup.c learnt from mountinfo and /proc/self/cgroup for one controller
 * (v1) or the unified hierarchy (v2): the directory of the helper's own cgroup. */
struct cgroup_own {
  char *dir[CG_CTL_COUNT]; /* v1: per controller, NULL when not mounted */
  char *unified_dir;       /* v2: the own cgroup's directory (unified layout only) */
};

/* One manager per cgroup version; cgroup.c dispatches on the layout. */
struct cgroup_ops {
  int (*env_init)(struct cgroup_env *env, const struct cgroup_own *own, berr_t *err);
  int (*create)(const struct cgroup_env *env, const char *id, const struct limits *l,
                struct cgroup *out, berr_t *err);
  int (*stats)(const struct cgroup *cg, struct cgroup_stats *out, berr_t *err);
  int (*kill_all)(const struct cgroup *cg, int sig, berr_t *err);
  int (*freeze)(const struct cgroup *cg, bool frozen, berr_t *err);
};
extern const struct cgroup_ops cgroup_v1_ops;
extern const struct cgroup_ops cgroup_v2_ops;

/* Fake-tree hooks for the unit tests. On a real cgroupfs the kernel creates
 * the control files in a new directory and rmdir ignores them; a test that
 * builds a tree of plain files sets these hooks to play the kernel's part
 * (create the control files it expects after mkdir, delete them before
 * rmdir). They are NULL in the product, so the managers never create a
 * control file themselves: a missing file there means a missing controller. */
struct cgroup_fs_hooks {
  /* ctl: the v1 controller whose hierarchy dir lives in, or CG_CTL_COUNT on v2. */
  void (*after_mkdir)(const char *dir, enum cg_ctl ctl);
  void (*before_rmdir)(const char *dir);
};
extern struct cgroup_fs_hooks cgroup_test_hooks;

extern const char *const cg_ctl_names[CG_CTL_COUNT]; /* "memory", "cpu", ... */

/* Helpers shared by the managers (cgroup.c). */
char *cg_join(const char *dir, const char *name); /* NULL on ENOMEM */
/* mkdir that calls the test hook when it made the directory; EEXIST is fine. */
int cg_mkdir(const char *dir, enum cg_ctl ctl, berr_t *err);
/* Removes dir and, first, any child cgroups below it; retries EBUSY for ~2 s. */
int cg_rmdir(const char *dir, berr_t *err);
int cg_write(const char *dir, const char *file, const char *value, berr_t *err);
int cg_write_int(const char *dir, const char *file, int64_t value, berr_t *err);
int cg_read_int(const char *dir, const char *file, int64_t *out, berr_t *err);
bool cg_has(const char *dir, const char *file);
/* Value of "key N" in a flat keyed file (memory.stat, cpu.stat, memory.events). */
int cg_read_key(const char *dir, const char *file, const char *key, int64_t *out, berr_t *err);
/* PIDs listed in dir/cgroup.procs and in every child cgroup below it. */
int cg_read_pids(const char *dir, pid_t **pids, size_t *n, berr_t *err);
/* Sends sig to each pid (ESRCH is fine: it exited meanwhile). */
int cg_signal_pids(const pid_t *pids, size_t n, int sig, berr_t *err);
/* cgroup v2 weight (1..10000) to v1 cpu.shares (cgroup-v1.c). */
int64_t cgroup_v1_shares_from_weight(int64_t weight);
/* Validates limits against the kernel's ranges; min_memory differs per version. */
int cg_check_limits(const struct limits *l, int64_t min_memory, berr_t *err);
/* Frees every path of a half-made cgroup and removes the dirs made. */
void cg_rollback(struct cgroup *cg);

#endif
