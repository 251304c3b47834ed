/* cgroup v1 manager (legacy and hybrid layouts): one directory per
 * controller hierarchy; cpu and cpuacct may share one (co-mounted). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cgroup-internal.h"
#include "cleanup.h"
#include "util.h"

/* v1 needs a little more than v2: the kernel charges more to a fresh group. */
#define V1_MIN_MEMORY (6LL << 20)
/* memory.limit_in_bytes reads PAGE_COUNTER_MAX pages when unlimited. */
#define V1_UNLIMITED_ABOVE (1LL << 62)

static int v1_env_init(struct cgroup_env *env, const struct cgroup_own *own, berr_t *err) {
  bool any = false;
  for (int c = 0; c < CG_CTL_COUNT; c++) {
    if (!own->dir[c])
      continue;
    if (!(env->parent[c] = cg_join(own->dir[c], "berth")))
      return berr_sys(err, ENOMEM, "cgroup parent");
    if (cg_mkdir(env->parent[c], (enum cg_ctl)c, err) < 0)
      return berr_wrap(err, "prepare berth's %s cgroup", cg_ctl_names[c]);
    any = true;
  }
  if (!any)
    return berr_set(err, BERR_INTERNAL,
                    "none of the memory, cpu, cpuacct, pids, freezer cgroup v1 controllers is mounted");
  /* Limits of berth/<id> must count its children too. Kernels since 5.x
   * force this on; older ones refuse the write once children exist (EBUSY)
   * or when the parent is not hierarchical (EINVAL), which we can live with. */
  if (env->parent[CG_MEMORY]) {
    berr_t e;
    if (cg_write(env->parent[CG_MEMORY], "memory.use_hierarchy", "1", &e) < 0 &&
        e.errnum != EBUSY && e.errnum != EINVAL && e.errnum != ENOENT) {
      *err = e;
      return -1;
    }
  }
  return 0;
}

/* memory.memsw.limit_in_bytes (memory + swap) must never be below
 * memory.limit_in_bytes, so the order of the two writes depends on whether
 * the new limit is above the current memsw limit (raising) or not. Setting
 * both to the same value means no swap beyond the limit. */
static int v1_set_memory(const char *dir, int64_t bytes, berr_t *err) {
  if (!cg_has(dir, "memory.memsw.limit_in_bytes")) /* swap accounting off */
    return cg_write_int(dir, "memory.limit_in_bytes", bytes, err);
  int64_t cur_memsw = 0;
  if (cg_read_int(dir, "memory.memsw.limit_in_bytes", &cur_memsw, err) < 0)
    return -1;
  if (cur_memsw >= 0 && bytes > cur_memsw) {
    if (cg_write_int(dir, "memory.memsw.limit_in_bytes", bytes, err) < 0)
      return -1;
    return cg_write_int(dir, "memory.limit_in_bytes", bytes, err);
  }
  if (cg_write_int(dir, "memory.limit_in_bytes", bytes, err) < 0)
    return -1;
  return cg_write_int(dir, "memory.memsw.limit_in_bytes", bytes, err);
}

/* cgroup v2 weight (1..10000, default 100) to v1 shares (2..262144, default
 * 1024). runc's single line 2 + (w-1)*262142/9999 maps the ends but turns the
 * default weight 100 into 2597 shares, so a container with "cpuWeight": 100
 * would outweigh the host's default-1024 groups 2.5:1. Two linear pieces
 * keep both ends and the defaults: 1..100 -> 2..1024, 100..10000 -> 1024..262144. */
int64_t cgroup_v1_shares_from_weight(int64_t w) {
  if (w <= 1)
    return 2;
  if (w >= 10000)
    return 262144;
  if (w <= 100)
    return 2 + ((w - 1) * 1022) / 99;
  return 1024 + ((w - 100) * 261120) / 9900;
}

static int v1_create(const struct cgroup_env *env, const char *id, const struct limits *l,
                     struct cgroup *out, berr_t *err) {
  if (cg_check_limits(l, V1_MIN_MEMORY, err) < 0)
    return -1;
  if (l->memory_bytes > 0 && !env->parent[CG_MEMORY])
    return berr_set(err, BERR_INVALID, "a memory limit needs the v1 memory controller, which is not mounted");
  if ((l->cpu_quota_us > 0 || l->cpu_weight > 0) && !env->parent[CG_CPU])
    return berr_set(err, BERR_INVALID, "a cpu limit needs the v1 cpu controller, which is not mounted");
  if (l->pids_max > 0 && !env->parent[CG_PIDS])
    return berr_set(err, BERR_INVALID, "a pids limit needs the v1 pids controller, which is not mounted");

  out->layout = env->layout;
  for (int c = 0; c < CG_CTL_COUNT; c++) {
    if (!env->parent[c])
      continue;
    if (!(out->path[c] = cg_join(env->parent[c], id))) {
      cg_rollback(out);
      return berr_sys(err, ENOMEM, "cgroup path");
    }
    /* berth/ itself may have gone since start-up (someone removed it while
     * it was empty): make it again */
    if (cg_mkdir(out->path[c], (enum cg_ctl)c, err) < 0 &&
        (err->errnum != ENOENT || cg_mkdir(env->parent[c], (enum cg_ctl)c, err) < 0 ||
         cg_mkdir(out->path[c], (enum cg_ctl)c, err) < 0)) {
      cg_rollback(out);
      return -1;
    }
  }
  const char *mem = out->path[CG_MEMORY], *cpu = out->path[CG_CPU], *pids = out->path[CG_PIDS];
  if (l->memory_bytes > 0 && v1_set_memory(mem, l->memory_bytes, err) < 0)
    goto fail;
  if (l->cpu_quota_us > 0) {
    /* Period first: the kernel checks the quota against the period in force. */
    if (cg_write_int(cpu, "cpu.cfs_period_us", l->cpu_period_us ? l->cpu_period_us : 100000, err) < 0 ||
        cg_write_int(cpu, "cpu.cfs_quota_us", l->cpu_quota_us, err) < 0)
      goto fail;
  }
  if (l->cpu_weight > 0 &&
      cg_write_int(cpu, "cpu.shares", cgroup_v1_shares_from_weight(l->cpu_weight), err) < 0)
    goto fail;
  if (l->pids_max > 0 && cg_write_int(pids, "pids.max", l->pids_max, err) < 0)
    goto fail;
  return 0;
fail:
  berr_wrap(err, "set limits of cgroup `%s`", id);
  cg_rollback(out);
  return -1;
}

static int v1_stats(const struct cgroup *cg, struct cgroup_stats *out, berr_t *err) {
  const char *mem = cg->path[CG_MEMORY];
  if (mem) {
    int64_t usage = 0, inactive = 0, limit = 0, ooms = 0;
    if (cg_read_int(mem, "memory.usage_in_bytes", &usage, err) < 0 ||
        cg_read_int(mem, "memory.limit_in_bytes", &limit, err) < 0)
      return -1;
    /* As docker does: page cache that could be dropped is not "used". */
    berr_t ignored;
    if (cg_read_key(mem, "memory.stat", "total_inactive_file", &inactive, &ignored) == 0 &&
        inactive < usage)
      usage -= inactive;
    out->mem_usage = usage;
    out->mem_limit = limit >= V1_UNLIMITED_ABOVE || limit < 0 ? -1 : limit;
    /* oom_kill appeared in 4.13; older kernels leave the count at 0. */
    if (cg_read_key(mem, "memory.oom_control", "oom_kill", &ooms, &ignored) == 0)
      out->oom_kills = ooms;
  }
  if (cg->path[CG_CPUACCT] &&
      cg_read_int(cg->path[CG_CPUACCT], "cpuacct.usage", &out->cpu_usage_ns, err) < 0)
    return -1;
  if (cg->path[CG_CPU]) {
    if (cg_read_int(cg->path[CG_CPU], "cpu.cfs_quota_us", &out->cpu_quota_us, err) < 0 ||
        cg_read_int(cg->path[CG_CPU], "cpu.cfs_period_us", &out->cpu_period_us, err) < 0)
      return -1;
    if (out->cpu_quota_us < 0)
      out->cpu_quota_us = -1;
  }
  if (cg->path[CG_PIDS]) {
    if (cg_read_int(cg->path[CG_PIDS], "pids.current", &out->pids_current, err) < 0 ||
        cg_read_int(cg->path[CG_PIDS], "pids.max", &out->pids_limit, err) < 0)
      return -1;
  }
  return 0;
}

/* Writes a freezer state and waits (up to ~1 s) until the kernel reports it.
 * A group can stay FREEZING while a task sleeps uninterruptibly; the caller
 * goes on then, since signals are delivered once the group thaws. */
static int v1_freezer_set(const char *dir, const char *state, berr_t *err) {
  if (cg_write(dir, "freezer.state", state, err) < 0)
    return -1;
  cleanup_free char *p = cg_join(dir, "freezer.state");
  if (!p)
    return berr_sys(err, ENOMEM, "freezer");
  int64_t deadline = mono_us() + 1000000;
  for (;;) {
    cleanup_free char *cur = NULL;
    if (read_file(p, 256, &cur, NULL, err) < 0)
      return -1;
    if (!strncmp(cur, state, strlen(state)))
      return 0;
    if (mono_us() > deadline)
      return 0;
    struct timespec ts = {0, 5 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
}

static int v1_kill_all(const struct cgroup *cg, int sig, berr_t *err) {
  const char *freezer = cg->path[CG_FREEZER];
  const char *dir = freezer ? freezer
                    : cg->path[CG_PIDS] ? cg->path[CG_PIDS]
                    : cg->path[CG_MEMORY] ? cg->path[CG_MEMORY]
                    : cg->path[CG_CPU] ? cg->path[CG_CPU]
                    : cg->path[CG_CPUACCT];
  if (!dir)
    return berr_set(err, BERR_INTERNAL, "the cgroup has no directory");
  /* Frozen, the group cannot fork new processes between reading
   * cgroup.procs and signalling, so nothing escapes the signal. */
  if (freezer && v1_freezer_set(freezer, "FROZEN", err) < 0)
    return berr_wrap(err, "freeze the container");
  pid_t *pids = NULL;
  size_t n = 0;
  int ret = cg_read_pids(dir, &pids, &n, err);
  if (ret == 0)
    ret = cg_signal_pids(pids, n, sig, err);
  free(pids);
  if (freezer) {
    berr_t thaw_err;
    if (v1_freezer_set(freezer, "THAWED", &thaw_err) < 0 && ret == 0) {
      *err = thaw_err;
      ret = berr_wrap(err, "thaw the container");
    }
  }
  return ret;
}

static int v1_freeze(const struct cgroup *cg, bool frozen, berr_t *err) {
  const char *freezer = cg->path[CG_FREEZER];
  if (!freezer)
    return berr_set(err, BERR_INVALID, "pausing needs the freezer cgroup controller, which is not mounted here");
  return v1_freezer_set(freezer, frozen ? "FROZEN" : "THAWED", err);
}

const struct cgroup_ops cgroup_v1_ops = {
    .env_init = v1_env_init,
    .create = v1_create,
    .stats = v1_stats,
    .kill_all = v1_kill_all,
    .freeze = v1_freeze,
};
