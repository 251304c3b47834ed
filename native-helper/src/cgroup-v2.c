/* cgroup v2 manager (unified layout): one directory per container, the
 * controllers enabled from above through cgroup.subtree_control. */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cgroup-internal.h"
#include "cleanup.h"
#include "util.h"

#define V2_MIN_MEMORY (4LL << 20)

static const char *const wanted_ctls[] = {"memory", "cpu", "pids"};
#define N_WANTED (sizeof wanted_ctls / sizeof wanted_ctls[0])

static bool word_in(const char *list, const char *word) {
  size_t wl = strlen(word);
  for (const char *p = list; *p;) {
    while (*p == ' ' || *p == '\n' || *p == '+')
      p++;
    size_t len = strcspn(p, " \n");
    if (len == wl && !strncmp(p, word, wl))
      return true;
    p += len;
  }
  return false;
}

/* Enables memory, cpu and pids (those dir/cgroup.controllers offers) for
 * dir's children. */
static int enable_controllers(const char *dir, const char *own_dir, berr_t *err) {
  cleanup_free char *avail_p = cg_join(dir, "cgroup.controllers");
  cleanup_free char *enabled_p = cg_join(dir, "cgroup.subtree_control");
  cleanup_free char *avail = NULL, *enabled = NULL;
  if (!avail_p || !enabled_p)
    return berr_sys(err, ENOMEM, "enable controllers");
  if (read_file(avail_p, 4096, &avail, NULL, err) < 0 ||
      read_file(enabled_p, 4096, &enabled, NULL, err) < 0)
    return -1;
  char want[64] = "";
  bool missing = false;
  for (size_t i = 0; i < N_WANTED; i++) {
    if (!word_in(avail, wanted_ctls[i]))
      continue;
    missing |= !word_in(enabled, wanted_ctls[i]);
    snprintf(want + strlen(want), sizeof want - strlen(want), "%s+%s", *want ? " " : "",
             wanted_ctls[i]);
  }
  if (!missing)
    return 0;
  berr_t e;
  if (write_string(enabled_p, want, &e) == 0)
    return 0;
  if (e.errnum == EBUSY)
    return berr_set(err, BERR_INTERNAL,
                    "berthd's cgroup %s holds other processes; run berthd as a systemd service "
                    "with Delegate=yes (assets/berthd.service) or in a cgroup of its own "
                    "(write `%s` to `%s`: Device or resource busy)",
                    own_dir, want, enabled_p);
  /* One refused controller (cpu with realtime tasks, say) should not cost
   * the others: enable one at a time; create() reports a limit whose
   * controller is missing. */
  for (size_t i = 0; i < N_WANTED; i++) {
    char one[32];
    snprintf(one, sizeof one, "+%s", wanted_ctls[i]);
    if (word_in(avail, wanted_ctls[i]))
      write_string(enabled_p, one, &e);
  }
  return 0;
}

static int v2_env_init(struct cgroup_env *env, const struct cgroup_own *own, berr_t *err) {
  cleanup_free char *own_dir = strdup(own->unified_dir);
  if (!own_dir)
    return berr_sys(err, ENOMEM, "cgroup env");
  /* A helper started again from within its leaf (by hand, or a monitor's
   * child) must not nest another berthd/berth below the old leaf. */
  size_t n = strlen(own_dir);
  if (n > 7 && !strcmp(own_dir + n - 7, "/berthd"))
    own_dir[n - 7] = '\0';

  /* No-internal-process rule: a cgroup with processes of its own cannot hand
   * controllers to children, so the helper moves itself into a leaf first. */
  cleanup_free char *leaf = cg_join(own_dir, "berthd");
  cleanup_free char *berth = cg_join(own_dir, "berth");
  if (!leaf || !berth)
    return berr_sys(err, ENOMEM, "cgroup env");
  if (cg_mkdir(leaf, CG_CTL_COUNT, err) < 0)
    return -1;
  if (cg_write_int(leaf, "cgroup.procs", (int64_t)getpid(), err) < 0)
    return berr_wrap(err, "move berthd into its leaf cgroup");
  if (enable_controllers(own_dir, own_dir, err) < 0)
    return -1;
  if (cg_mkdir(berth, CG_CTL_COUNT, err) < 0)
    return -1;
  if (enable_controllers(berth, own_dir, err) < 0)
    return -1;
  for (int c = 0; c < CG_CTL_COUNT; c++)
    if (!(env->parent[c] = strdup(berth)))
      return berr_sys(err, ENOMEM, "cgroup env");
  return 0;
}

static int need_file(const char *dir, const char *file, const char *what, berr_t *err) {
  if (cg_has(dir, file))
    return 0;
  return berr_set(err, BERR_INVALID,
                  "a %s limit needs the %s controller, which berth's cgroup does not have "
                  "(`%s` is missing; is it delegated?)",
                  what, what, file);
}

static int v2_create(const struct cgroup_env *env, const char *id, const struct limits *l,
                     struct cgroup *out, berr_t *err) {
  if (cg_check_limits(l, V2_MIN_MEMORY, err) < 0)
    return -1;
  if (!env->parent[CG_MEMORY])
    return berr_set(err, BERR_INTERNAL, "cgroup v2 environment is not initialised");
  out->layout = CG_LAYOUT_UNIFIED;
  cleanup_free char *dir = cg_join(env->parent[CG_MEMORY], id);
  if (!dir)
    return berr_sys(err, ENOMEM, "cgroup path");
  for (int c = 0; c < CG_CTL_COUNT; c++)
    if (!(out->path[c] = strdup(dir))) {
      cgroup_free(out);
      return berr_sys(err, ENOMEM, "cgroup path");
    }
  /* berth/ may have gone since start-up (removed while empty): make it again,
   * with its controllers */
  if (cg_mkdir(dir, CG_CTL_COUNT, err) < 0 &&
      (err->errnum != ENOENT || cg_mkdir(env->parent[CG_MEMORY], CG_CTL_COUNT, err) < 0 ||
       enable_controllers(env->parent[CG_MEMORY], env->parent[CG_MEMORY], err) < 0 ||
       cg_mkdir(dir, CG_CTL_COUNT, err) < 0)) {
    cgroup_free(out);
    return -1;
  }
  if (l->memory_bytes > 0) {
    if (need_file(dir, "memory.max", "memory", err) < 0 ||
        cg_write_int(dir, "memory.max", l->memory_bytes, err) < 0)
      goto fail;
    /* No swap beyond the limit (the file is absent when swap accounting is off). */
    if (cg_has(dir, "memory.swap.max") && cg_write(dir, "memory.swap.max", "0", err) < 0)
      goto fail;
  }
  if (l->cpu_quota_us > 0) {
    char buf[64];
    snprintf(buf, sizeof buf, "%" PRId64 " %" PRId64, l->cpu_quota_us,
             l->cpu_period_us ? l->cpu_period_us : 100000);
    if (need_file(dir, "cpu.max", "cpu", err) < 0 || cg_write(dir, "cpu.max", buf, err) < 0)
      goto fail;
  }
  if (l->cpu_weight > 0 && (need_file(dir, "cpu.weight", "cpu", err) < 0 ||
                            cg_write_int(dir, "cpu.weight", l->cpu_weight, err) < 0))
    goto fail;
  if (l->pids_max > 0 && (need_file(dir, "pids.max", "pids", err) < 0 ||
                          cg_write_int(dir, "pids.max", l->pids_max, err) < 0))
    goto fail;
  return 0;
fail:
  if (err->kind == BERR_INTERNAL)
    berr_wrap(err, "set limits of cgroup `%s`", id);
  cg_rollback(out);
  return -1;
}

static int v2_stats(const struct cgroup *cg, struct cgroup_stats *out, berr_t *err) {
  const char *dir = cg->path[CG_MEMORY];
  berr_t ignored;
  if (!dir)
    return berr_set(err, BERR_INTERNAL, "the cgroup has no directory");
  if (cg_has(dir, "memory.current")) {
    int64_t usage = 0, inactive = 0, ooms = 0;
    if (cg_read_int(dir, "memory.current", &usage, err) < 0 ||
        cg_read_int(dir, "memory.max", &out->mem_limit, err) < 0)
      return -1;
    /* As docker does: page cache that could be dropped is not "used". */
    if (cg_read_key(dir, "memory.stat", "inactive_file", &inactive, &ignored) == 0 &&
        inactive < usage)
      usage -= inactive;
    out->mem_usage = usage;
    if (cg_read_key(dir, "memory.events", "oom_kill", &ooms, &ignored) == 0)
      out->oom_kills = ooms;
  }
  int64_t usec = 0;
  if (cg_read_key(dir, "cpu.stat", "usage_usec", &usec, err) < 0)
    return -1;
  out->cpu_usage_ns = usec * 1000;
  if (cg_has(dir, "cpu.max")) {
    cleanup_free char *p = cg_join(dir, "cpu.max");
    cleanup_free char *buf = NULL;
    if (!p || read_file(p, 256, &buf, NULL, err) < 0)
      return p ? -1 : berr_sys(err, ENOMEM, "cpu.max");
    long long q = -1, period = 0;
    if (strncmp(buf, "max", 3) == 0) {
      if (sscanf(buf + 3, "%lld", &period) != 1)
        return berr_set(err, BERR_INTERNAL, "`%s`: cannot parse `%.40s`", p, buf);
    } else if (sscanf(buf, "%lld %lld", &q, &period) != 2) {
      return berr_set(err, BERR_INTERNAL, "`%s`: cannot parse `%.40s`", p, buf);
    }
    out->cpu_quota_us = q;
    out->cpu_period_us = period;
  }
  if (cg_has(dir, "pids.current") &&
      (cg_read_int(dir, "pids.current", &out->pids_current, err) < 0 ||
       cg_read_int(dir, "pids.max", &out->pids_limit, err) < 0))
    return -1;
  return 0;
}

/* Freezes or thaws and, when freezing, waits (up to ~1 s) for cgroup.events
 * to say "frozen 1"; tasks in uninterruptible sleep can delay it, and the
 * signals still arrive once the group thaws. */
static int v2_freeze(const char *dir, bool freeze, berr_t *err) {
  if (cg_write(dir, "cgroup.freeze", freeze ? "1" : "0", err) < 0)
    return -1;
  if (!freeze)
    return 0;
  int64_t deadline = mono_us() + 1000000;
  for (;;) {
    int64_t frozen = 0;
    berr_t ignored;
    if (cg_read_key(dir, "cgroup.events", "frozen", &frozen, &ignored) == 0 && frozen == 1)
      return 0;
    if (mono_us() > deadline)
      return 0;
    struct timespec ts = {0, 5 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
}

static int v2_kill_all(const struct cgroup *cg, int sig, berr_t *err) {
  const char *dir = cg->path[CG_MEMORY];
  if (!dir)
    return berr_set(err, BERR_INTERNAL, "the cgroup has no directory");
  /* cgroup.kill (5.14+) kills the whole subtree atomically, forks included. */
  if (sig == SIGKILL && cg_has(dir, "cgroup.kill"))
    return cg_write(dir, "cgroup.kill", "1", err);
  bool can_freeze = cg_has(dir, "cgroup.freeze");
  if (can_freeze && v2_freeze(dir, true, err) < 0)
    return berr_wrap(err, "freeze the container");
  pid_t *pids = NULL;
  size_t n = 0;
  int ret = cg_read_pids(dir, &pids, &n, err);
  if (ret == 0)
    ret = cg_signal_pids(pids, n, sig, err);
  free(pids);
  if (can_freeze) {
    berr_t thaw_err;
    if (v2_freeze(dir, false, &thaw_err) < 0 && ret == 0) {
      *err = thaw_err;
      ret = berr_wrap(err, "thaw the container");
    }
  }
  return ret;
}

static int v2_freeze_group(const struct cgroup *cg, bool frozen, berr_t *err) {
  const char *dir = cg->path[CG_MEMORY];
  if (!dir)
    return berr_set(err, BERR_INTERNAL, "the cgroup has no directory");
  if (!cg_has(dir, "cgroup.freeze"))
    return berr_set(err, BERR_INVALID, "pausing needs cgroup.freeze (Linux 5.2 or later)");
  return v2_freeze(dir, frozen, err);
}

const struct cgroup_ops cgroup_v2_ops = {
    .env_init = v2_env_init,
    .create = v2_create,
    .stats = v2_stats,
    .kill_all = v2_kill_all,
    .freeze = v2_freeze_group,
};
