/* cgroup managers: layout detection and the exact files written, on fake
 * trees of plain files (unified, hybrid with cpu,cpuacct co-mounted, legacy),
 * then a real cgroup on this machine when it has v1 controllers. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cgroup-internal.h"
#include "cgroup.h"
#include "cleanup.h"
#include "tap.h"
#include "util.h"

static char tmp_root[256];

static void put(const char *path, const char *fmt, ...) {
  char buf[4096];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  char dir[4096];
  snprintf(dir, sizeof dir, "%s", path);
  char *slash = strrchr(dir, '/');
  if (slash) {
    *slash = '\0';
    berr_t e;
    mkdir_p(dir, 0755, &e);
  }
  FILE *f = fopen(path, "w");
  if (!f) {
    perror(path);
    exit(2);
  }
  fputs(buf, f);
  fclose(f);
}

static void putf(const char *dir, const char *file, const char *value) {
  char p[4096];
  snprintf(p, sizeof p, "%s/%s", dir, file);
  put(p, "%s", value);
}

/* Content of dir/file without the trailing newline, "<missing>" when absent. */
static const char *get(const char *dir, const char *file) {
  static char out[4][4096];
  static int slot;
  char *o = out[slot++ % 4];
  char p[4096];
  snprintf(p, sizeof p, "%s/%s", dir, file);
  FILE *f = fopen(p, "r");
  if (!f)
    return "<missing>";
  size_t n = fread(o, 1, 4095, f);
  fclose(f);
  o[n] = '\0';
  while (n && o[n - 1] == '\n')
    o[--n] = '\0';
  return o;
}

static bool is_dir(const char *p) {
  struct stat st;
  return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

/* ---- the fake kernel --------------------------------------------------- */

static bool fake_has_kill = true;

static void fake_after_mkdir(const char *dir, enum cg_ctl ctl) {
  putf(dir, "cgroup.procs", "");
  if (ctl == CG_CTL_COUNT) {
    /* v2: a child offers what its parent enabled in cgroup.subtree_control. */
    char parent[4096];
    snprintf(parent, sizeof parent, "%s", dir);
    *strrchr(parent, '/') = '\0';
    const char *sc = get(parent, "cgroup.subtree_control");
    char avail[256] = "";
    for (const char *c = sc; *c;) {
      while (*c == '+' || *c == ' ')
        c++;
      size_t len = strcspn(c, " ");
      if (len)
        snprintf(avail + strlen(avail), sizeof avail - strlen(avail), "%s%.*s", *avail ? " " : "",
                 (int)len, c);
      c += len;
    }
    putf(dir, "cgroup.controllers", avail);
    putf(dir, "cgroup.subtree_control", "");
    putf(dir, "cgroup.freeze", "0");
    putf(dir, "cgroup.events", "populated 0\nfrozen 0\n");
    putf(dir, "cpu.stat", "usage_usec 0\nuser_usec 0\nsystem_usec 0\n");
    if (fake_has_kill)
      putf(dir, "cgroup.kill", "");
    if (strstr(avail, "memory")) {
      putf(dir, "memory.max", "max");
      putf(dir, "memory.swap.max", "max");
      putf(dir, "memory.current", "0");
      putf(dir, "memory.stat", "anon 0\ninactive_file 0\n");
      putf(dir, "memory.events", "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\n");
    }
    if (strstr(avail, "cpu")) {
      putf(dir, "cpu.max", "max 100000");
      putf(dir, "cpu.weight", "100");
    }
    if (strstr(avail, "pids")) {
      putf(dir, "pids.max", "max");
      putf(dir, "pids.current", "0");
    }
    return;
  }
  /* v1: the hierarchy's files; cpu,cpuacct co-mounted has both sets. */
  putf(dir, "tasks", "");
  if (ctl == CG_MEMORY) {
    putf(dir, "memory.limit_in_bytes", "9223372036854771712");
    putf(dir, "memory.memsw.limit_in_bytes", "9223372036854771712");
    putf(dir, "memory.use_hierarchy", "0");
    putf(dir, "memory.usage_in_bytes", "0");
    putf(dir, "memory.stat", "cache 0\ntotal_inactive_file 0\n");
    putf(dir, "memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 0\n");
  }
  if (ctl == CG_CPU) {
    putf(dir, "cpu.cfs_period_us", "100000");
    putf(dir, "cpu.cfs_quota_us", "-1");
    putf(dir, "cpu.shares", "1024");
  }
  if (ctl == CG_CPUACCT || (ctl == CG_CPU && strstr(dir, "cpu,cpuacct")))
    putf(dir, "cpuacct.usage", "0");
  if (ctl == CG_PIDS) {
    putf(dir, "pids.max", "max");
    putf(dir, "pids.current", "0");
  }
  if (ctl == CG_FREEZER)
    putf(dir, "freezer.state", "THAWED");
}

static void fake_before_rmdir(const char *dir) {
  DIR *d = opendir(dir);
  if (!d)
    return;
  struct dirent *de;
  while ((de = readdir(d)))
    if (de->d_type == DT_REG)
      unlinkat(dirfd(d), de->d_name, 0);
  closedir(d);
}

static void new_tree(const char *name, char *root, size_t len) {
  snprintf(root, len, "%s/%s", tmp_root, name);
  berr_t e;
  mkdir_p(root, 0755, &e);
}

static void write_proc(const char *root, const char *mountinfo, const char *self_cgroup) {
  char p[4096];
  snprintf(p, sizeof p, "%s/proc/self/mountinfo", root);
  put(p, "%s", mountinfo);
  snprintf(p, sizeof p, "%s/proc/self/cgroup", root);
  put(p, "%s", self_cgroup);
}

static pid_t spawn_sleeper(void) {
  pid_t pid = fork();
  if (pid == 0) {
    for (;;)
      pause();
  }
  return pid;
}

static int wait_signal(pid_t pid) {
  int st = 0;
  if (waitpid(pid, &st, 0) != pid)
    return -1;
  return WIFSIGNALED(st) ? WTERMSIG(st) : -2;
}

static const struct limits test_limits = {
    .memory_bytes = 64 << 20, .cpu_quota_us = 50000, .cpu_period_us = 100000,
    .cpu_weight = 200, .pids_max = 64};

/* ---- unified ----------------------------------------------------------- */

static void test_unified(void) {
  char root[512], own[1024], berth[1100], p[1200];
  berr_t err = {0};
  new_tree("unified", root, sizeof root);
  write_proc(root,
             "22 1 0:21 / /sys rw - sysfs sysfs rw\n"
             "30 22 0:27 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 "
             "rw,nsdelegate,memory_recursiveprot\n",
             "0::/system.slice/berthd.service\n");
  snprintf(own, sizeof own, "%s/sys/fs/cgroup/system.slice/berthd.service", root);
  putf(own, "cgroup.controllers", "cpuset cpu io memory hugetlb pids rdma misc");
  putf(own, "cgroup.subtree_control", "");
  putf(own, "cgroup.procs", "");
  snprintf(berth, sizeof berth, "%s/berth", own);

  struct cgroup_env env;
  int r = cgroup_env_init(&env, root, &err);
  TAP_OK(r == 0, "unified: env init (%s)", r ? err.msg : "ok");
  if (r < 0)
    return;
  TAP_OK(env.layout == CG_LAYOUT_UNIFIED, "unified: layout is %s", cgroup_layout_name(env.layout));
  bool all_equal = true;
  for (int c = 0; c < CG_CTL_COUNT; c++)
    all_equal &= env.parent[c] && !strcmp(env.parent[c], berth);
  TAP_OK(all_equal, "unified: every parent is <own>/berth");
  snprintf(p, sizeof p, "%s/berthd", own);
  char pidbuf[32];
  snprintf(pidbuf, sizeof pidbuf, "%d", (int)getpid());
  TAP_OK(!strcmp(get(p, "cgroup.procs"), pidbuf), "unified: helper moved itself into <own>/berthd");
  TAP_OK(!strcmp(get(own, "cgroup.subtree_control"), "+memory +cpu +pids"),
         "unified: <own>/cgroup.subtree_control = `%s`", get(own, "cgroup.subtree_control"));
  TAP_OK(!strcmp(get(berth, "cgroup.subtree_control"), "+memory +cpu +pids"),
         "unified: berth/cgroup.subtree_control = `%s`", get(berth, "cgroup.subtree_control"));
  json_object *ej = cgroup_env_to_json(&env);
  TAP_OK(!strcmp(json_object_get_string(json_object_object_get(ej, "parent")), berth) &&
             !strcmp(json_object_get_string(json_object_object_get(ej, "layout")), "unified"),
         "unified: env json %s", json_object_to_json_string(ej));
  json_object_put(ej);

  struct cgroup cg;
  r = cgroup_create(&env, "c1", &test_limits, &cg, &err);
  TAP_OK(r == 0, "unified: create (%s)", r ? err.msg : "ok");
  char dir[1200];
  snprintf(dir, sizeof dir, "%s/c1", berth);
  TAP_OK(cg.path[CG_MEMORY] && !strcmp(cg.path[CG_MEMORY], dir) && cg.path[CG_PIDS] &&
             !strcmp(cg.path[CG_PIDS], dir),
         "unified: one dir for all controllers");
  TAP_OK(!strcmp(get(dir, "memory.max"), "67108864"), "unified: memory.max = %s", get(dir, "memory.max"));
  TAP_OK(!strcmp(get(dir, "memory.swap.max"), "0"), "unified: memory.swap.max = %s", get(dir, "memory.swap.max"));
  TAP_OK(!strcmp(get(dir, "cpu.max"), "50000 100000"), "unified: cpu.max = `%s`", get(dir, "cpu.max"));
  TAP_OK(!strcmp(get(dir, "cpu.weight"), "200"), "unified: cpu.weight = %s", get(dir, "cpu.weight"));
  TAP_OK(!strcmp(get(dir, "pids.max"), "64"), "unified: pids.max = %s", get(dir, "pids.max"));
  int jfds[CG_CTL_COUNT];
  int nj = cgroup_join_open(&cg, jfds, &err);
  r = nj < 0 ? -1 : cgroup_join_fds(jfds, nj, &err);
  TAP_OK(r == 0 && nj == 1 && !strcmp(get(dir, "cgroup.procs"), "0"),
         "unified: joining by itself writes 0 to the one cgroup.procs (%d files, `%s`, %s)", nj,
         get(dir, "cgroup.procs"), r ? err.msg : "ok");
  putf(dir, "cgroup.procs", "");

  /* stats from files laid out as the kernel writes them */
  putf(dir, "memory.current", "1000000\n");
  putf(dir, "memory.stat", "anon 700000\nfile 300000\ninactive_file 200000\nactive_file 100000\n");
  putf(dir, "memory.events", "low 0\nhigh 0\nmax 7\noom 2\noom_kill 2\noom_group_kill 0\n");
  putf(dir, "cpu.stat", "usage_usec 1500\nuser_usec 1000\nsystem_usec 500\n");
  putf(dir, "pids.current", "3\n");
  struct cgroup_stats st;
  r = cgroup_stats(&cg, &st, &err);
  TAP_OK(r == 0 && st.mem_usage == 800000 && st.mem_limit == 64 << 20 && st.cpu_usage_ns == 1500000 &&
             st.cpu_quota_us == 50000 && st.cpu_period_us == 100000 && st.pids_current == 3 &&
             st.pids_limit == 64 && st.oom_kills == 2,
         "unified: stats usage=%" PRId64 " limit=%" PRId64 " cpu=%" PRId64 " quota=%" PRId64
         "/%" PRId64 " pids=%" PRId64 "/%" PRId64 " oom=%" PRId64,
         st.mem_usage, st.mem_limit, st.cpu_usage_ns, st.cpu_quota_us, st.cpu_period_us,
         st.pids_current, st.pids_limit, st.oom_kills);

  /* SIGKILL goes through cgroup.kill */
  r = cgroup_kill_all(&cg, SIGKILL, &err);
  TAP_OK(r == 0 && !strcmp(get(dir, "cgroup.kill"), "1"), "unified: SIGKILL writes cgroup.kill");

  /* other signals: freeze, signal what cgroup.procs lists, thaw */
  pid_t child = spawn_sleeper();
  char cb[32];
  snprintf(cb, sizeof cb, "%d\n", (int)child);
  putf(dir, "cgroup.procs", cb);
  putf(dir, "cgroup.events", "populated 1\nfrozen 1\n");
  pid_t *pids = NULL;
  size_t n = 0;
  r = cgroup_pids(&cg, &pids, &n, &err);
  TAP_OK(r == 0 && n == 1 && pids[0] == child, "unified: cgroup_pids reads cgroup.procs");
  free(pids);
  r = cgroup_kill_all(&cg, SIGTERM, &err);
  TAP_OK(r == 0 && wait_signal(child) == SIGTERM && !strcmp(get(dir, "cgroup.freeze"), "0"),
         "unified: SIGTERM reaches the listed process, group thawed after (%s)", r ? err.msg : "ok");
  putf(dir, "cgroup.procs", "");

  json_object *j = cgroup_to_json(&cg);
  struct cgroup back;
  r = cgroup_from_json(&back, j, &err);
  TAP_OK(r == 0 && back.layout == CG_LAYOUT_UNIFIED && back.path[CG_CPU] && !strcmp(back.path[CG_CPU], dir),
         "unified: json round trip %s", json_object_to_json_string(j));
  json_object_put(j);

  r = cgroup_destroy(&back, &err);
  TAP_OK(r == 0 && !is_dir(dir), "unified: destroy removes the dir (%s)", r ? err.msg : "ok");
  cgroup_free(&back);
  cgroup_free(&cg);

  /* limits out of range */
  struct limits bad = {.memory_bytes = 1 << 20};
  r = cgroup_create(&env, "c2", &bad, &cg, &err);
  TAP_OK(r < 0 && err.kind == BERR_INVALID, "unified: 1 MiB memory refused: %s", err.msg);
  r = cgroup_create(&env, "../escape", &test_limits, &cg, &err);
  TAP_OK(r < 0 && err.kind == BERR_INVALID, "unified: bad cgroup name refused: %s", err.msg);
  cgroup_env_free(&env);

  /* A restarted helper already inside <own>/berthd keeps the same parent;
   * a parent without memory offers no memory limit. */
  new_tree("unified2", root, sizeof root);
  write_proc(root, "30 22 0:27 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n", "0::/svc/berthd\n");
  snprintf(own, sizeof own, "%s/sys/fs/cgroup/svc", root);
  putf(own, "cgroup.controllers", "cpu pids");
  putf(own, "cgroup.subtree_control", "");
  r = cgroup_env_init(&env, root, &err);
  snprintf(berth, sizeof berth, "%s/berth", own);
  TAP_OK(r == 0 && !strcmp(env.parent[CG_MEMORY], berth), "unified: restart from <own>/berthd keeps <own>/berth (%s)",
         r ? err.msg : env.parent[CG_MEMORY]);
  TAP_OK(!strcmp(get(own, "cgroup.subtree_control"), "+cpu +pids"),
         "unified: only offered controllers enabled: `%s`", get(own, "cgroup.subtree_control"));
  r = cgroup_create(&env, "c3", &test_limits, &cg, &err);
  snprintf(dir, sizeof dir, "%s/c3", berth);
  TAP_OK(r < 0 && err.kind == BERR_INVALID && strstr(err.msg, "memory") && !is_dir(dir),
         "unified: memory limit without the controller refused, nothing left: %s", err.msg);
  cgroup_env_free(&env);
}

/* ---- hybrid (cpu,cpuacct co-mounted) ----------------------------------- */

static void test_hybrid(void) {
  char root[512], mem[1024], cpu[1024], pidsd[1024], frz[1024], dir[1200];
  berr_t err = {0};
  new_tree("hybrid", root, sizeof root);
  write_proc(root,
             "30 22 0:27 / /sys/fs/cgroup ro,nosuid - tmpfs tmpfs ro,mode=755\n"
             "31 30 0:28 / /sys/fs/cgroup/unified rw,nosuid shared:10 - cgroup2 cgroup2 rw,nsdelegate\n"
             "32 30 0:29 / /sys/fs/cgroup/systemd rw shared:11 - cgroup cgroup rw,xattr,name=systemd\n"
             "33 30 0:30 / /sys/fs/cgroup/cpu,cpuacct rw shared:12 - cgroup cgroup rw,cpu,cpuacct\n"
             "34 30 0:31 / /sys/fs/cgroup/memory rw shared:13 - cgroup cgroup rw,memory\n"
             "35 30 0:32 / /sys/fs/cgroup/pids rw shared:14 - cgroup cgroup rw,pids\n"
             "36 30 0:33 / /sys/fs/cgroup/freezer rw shared:15 - cgroup cgroup rw,freezer\n"
             "37 30 0:34 / /sys/fs/cgroup/net_cls,net_prio rw - cgroup cgroup rw,net_cls,net_prio\n",
             "12:pids:/\n11:freezer:/\n6:net_cls,net_prio:/\n5:memory:/process_api/abc\n"
             "4:cpu,cpuacct:/\n1:name=systemd:/\n0::/\n");
  snprintf(mem, sizeof mem, "%s/sys/fs/cgroup/memory/process_api/abc/berth", root);
  snprintf(cpu, sizeof cpu, "%s/sys/fs/cgroup/cpu,cpuacct/berth", root);
  snprintf(pidsd, sizeof pidsd, "%s/sys/fs/cgroup/pids/berth", root);
  snprintf(frz, sizeof frz, "%s/sys/fs/cgroup/freezer/berth", root);
  char p[1200];
  snprintf(p, sizeof p, "%s/sys/fs/cgroup/memory/process_api/abc/x", root);
  put(p, "");
  snprintf(p, sizeof p, "%s/sys/fs/cgroup/cpu,cpuacct/x", root);
  put(p, "");
  snprintf(p, sizeof p, "%s/sys/fs/cgroup/pids/x", root);
  put(p, "");
  snprintf(p, sizeof p, "%s/sys/fs/cgroup/freezer/x", root);
  put(p, "");

  struct cgroup_env env;
  int r = cgroup_env_init(&env, root, &err);
  TAP_OK(r == 0 && env.layout == CG_LAYOUT_HYBRID, "hybrid: detected (%s)", r ? err.msg : cgroup_layout_name(env.layout));
  if (r < 0)
    return;
  TAP_OK(!strcmp(env.parent[CG_MEMORY], mem), "hybrid: memory parent below own cgroup: %s", env.parent[CG_MEMORY]);
  TAP_OK(!strcmp(env.parent[CG_CPU], cpu) && !strcmp(env.parent[CG_CPUACCT], cpu),
         "hybrid: cpu and cpuacct share the co-mounted dir");
  TAP_OK(!strcmp(env.parent[CG_PIDS], pidsd) && !strcmp(env.parent[CG_FREEZER], frz), "hybrid: pids and freezer parents");
  TAP_OK(!strcmp(get(mem, "memory.use_hierarchy"), "1"), "hybrid: memory.use_hierarchy = 1 in berth/");

  struct limits l = test_limits;
  l.cpu_weight = 100;
  struct cgroup cg;
  r = cgroup_create(&env, "c1", &l, &cg, &err);
  TAP_OK(r == 0, "hybrid: create (%s)", r ? err.msg : "ok");
  snprintf(dir, sizeof dir, "%s/c1", mem);
  TAP_OK(!strcmp(get(dir, "memory.limit_in_bytes"), "67108864") &&
             !strcmp(get(dir, "memory.memsw.limit_in_bytes"), "67108864"),
         "hybrid: memory.limit_in_bytes and memsw = 64 MiB");
  snprintf(dir, sizeof dir, "%s/c1", cpu);
  TAP_OK(!strcmp(get(dir, "cpu.cfs_period_us"), "100000") && !strcmp(get(dir, "cpu.cfs_quota_us"), "50000"),
         "hybrid: cfs period 100000 quota 50000");
  TAP_OK(!strcmp(get(dir, "cpu.shares"), "1024"), "hybrid: weight 100 -> cpu.shares %s", get(dir, "cpu.shares"));
  TAP_OK(cg.path[CG_CPU] && cg.path[CG_CPUACCT] && !strcmp(cg.path[CG_CPU], cg.path[CG_CPUACCT]),
         "hybrid: container's cpu and cpuacct dirs are one");
  snprintf(dir, sizeof dir, "%s/c1", pidsd);
  TAP_OK(!strcmp(get(dir, "pids.max"), "64"), "hybrid: pids.max = %s", get(dir, "pids.max"));
  {
    /* joining by itself: "0" to each hierarchy's tasks, the co-mounted cpu,cpuacct once */
    int jfds[CG_CTL_COUNT];
    int nj = cgroup_join_open(&cg, jfds, &err);
    r = nj < 0 ? -1 : cgroup_join_fds(jfds, nj, &err);
    bool all = true;
    const char *parents[] = {mem, cpu, pidsd, frz};
    for (int i = 0; i < 4; i++) {
      snprintf(dir, sizeof dir, "%s/c1", parents[i]);
      all &= !strcmp(get(dir, "tasks"), "0") && !strcmp(get(dir, "cgroup.procs"), "");
      putf(dir, "tasks", "");
    }
    TAP_OK(r == 0 && nj == 4 && all, "hybrid: joining by itself writes 0 to tasks once per hierarchy (%d files, %s)",
           nj, r ? err.msg : "ok");
    snprintf(dir, sizeof dir, "%s/c1", pidsd);
    char keep[1300];
    snprintf(keep, sizeof keep, "%s/tasks", dir);
    unlink(keep);
    nj = cgroup_join_open(&cg, jfds, &err);
    TAP_OK(nj < 0 && err.errnum == ENOENT && strstr(err.msg, "pids") && strstr(err.msg, "/c1/tasks"),
           "hybrid: a missing tasks file is an error naming it (%s)", err.msg);
    putf(dir, "tasks", "");
  }

  snprintf(dir, sizeof dir, "%s/c1", mem);
  putf(dir, "memory.usage_in_bytes", "5000000\n");
  putf(dir, "memory.stat", "cache 2000000\nrss 3000000\ninactive_file 9\ntotal_cache 2000000\ntotal_inactive_file 1000000\n");
  putf(dir, "memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 4\n");
  snprintf(dir, sizeof dir, "%s/c1", cpu);
  putf(dir, "cpuacct.usage", "123456789\n");
  snprintf(dir, sizeof dir, "%s/c1", pidsd);
  putf(dir, "pids.current", "2\n");
  struct cgroup_stats st;
  r = cgroup_stats(&cg, &st, &err);
  TAP_OK(r == 0 && st.mem_usage == 4000000 && st.mem_limit == 64 << 20 && st.cpu_usage_ns == 123456789 &&
             st.cpu_quota_us == 50000 && st.cpu_period_us == 100000 && st.pids_current == 2 &&
             st.pids_limit == 64 && st.oom_kills == 4,
         "hybrid: stats usage=%" PRId64 " limit=%" PRId64 " cpu=%" PRId64 " pids=%" PRId64 "/%" PRId64
         " oom=%" PRId64 " (%s)",
         st.mem_usage, st.mem_limit, st.cpu_usage_ns, st.pids_current, st.pids_limit, st.oom_kills,
         r ? err.msg : "ok");

  struct cgroup open;
  r = cgroup_create(&env, "c2", NULL, &open, &err);
  r |= cgroup_stats(&open, &st, &err);
  TAP_OK(r == 0 && st.mem_limit == -1 && st.cpu_quota_us == -1 && st.pids_limit == -1,
         "hybrid: no limits reads as unlimited (-1)");

  /* freezer: FROZEN, signal, THAWED */
  pid_t child = spawn_sleeper();
  char cb[32];
  snprintf(cb, sizeof cb, "%d\n", (int)child);
  snprintf(dir, sizeof dir, "%s/c1", frz);
  putf(dir, "cgroup.procs", cb);
  r = cgroup_kill_all(&cg, SIGTERM, &err);
  TAP_OK(r == 0 && wait_signal(child) == SIGTERM && !strcmp(get(dir, "freezer.state"), "THAWED"),
         "hybrid: kill_all signals the frozen group's pids, then thaws");
  putf(dir, "cgroup.procs", "");

  json_object *j = cgroup_to_json(&cg);
  struct cgroup back;
  r = cgroup_from_json(&back, j, &err);
  bool same = r == 0 && back.layout == CG_LAYOUT_HYBRID;
  for (int c = 0; same && c < CG_CTL_COUNT; c++)
    same = back.path[c] && !strcmp(back.path[c], cg.path[c]);
  TAP_OK(same, "hybrid: json round trip");
  json_object_put(j);
  r = cgroup_destroy(&back, &err);
  bool gone = r == 0;
  for (int c = 0; c < CG_CTL_COUNT; c++)
    gone &= !is_dir(cg.path[c]);
  TAP_OK(gone, "hybrid: destroy removes every controller dir (%s)", r ? err.msg : "ok");
  cgroup_destroy(&open, &err);
  cgroup_free(&open);
  cgroup_free(&back);
  cgroup_free(&cg);

  json_object *evil = json_tokener_parse(
      "{\"layout\":\"legacy\",\"paths\":{\"memory\":\"/sys/fs/cgroup/memory/berth/../../etc\"}}");
  r = cgroup_from_json(&back, evil, &err);
  TAP_OK(r < 0, "from_json refuses a path with ..: %s", err.msg);
  json_object_put(evil);

  /* berth/ removed behind the helper's back (it was empty): the next create
   * makes it again instead of failing every start */
  berr_t ignored;
  (void)rm_rf(env.parent[CG_FREEZER], &ignored);
  struct cgroup again;
  r = cgroup_create(&env, "c4", NULL, &again, &err);
  TAP_OK(r == 0 && is_dir(again.path[CG_FREEZER]), "hybrid: a removed berth/ parent is made again (%s)",
         r ? err.msg : "ok");
  if (r == 0) {
    cgroup_destroy(&again, &err);
    cgroup_free(&again);
  }
  cgroup_env_free(&env);
}

/* ---- legacy ------------------------------------------------------------ */

static void test_legacy(void) {
  char root[512], p[1200];
  berr_t err = {0};
  new_tree("legacy", root, sizeof root);
  /* memory's mount shows the hierarchy from /ctr down (as in a container),
   * and a mount point with an escaped space */
  write_proc(root,
             "31 30 0:28 / /sys/fs/cgroup/cpu rw - cgroup cgroup rw,cpu\n"
             "32 30 0:29 / /sys/fs/cgroup/cpuacct rw - cgroup cgroup rw,cpuacct\n"
             "34 30 0:31 /ctr /sys/fs/cgroup/mem\\040ory rw - cgroup cgroup rw,memory\n"
             "38 30 0:35 / /sys/fs/cgroup/pids rw - cgroup cgroup rw,pids\n",
             "8:pids:/a\n4:memory:/ctr/inner\n2:cpuacct:/\n1:cpu:/\n");
  snprintf(p, sizeof p, "%s/sys/fs/cgroup/mem ory/inner/x", root);
  put(p, "");
  snprintf(p, sizeof p, "%s/sys/fs/cgroup/cpu/x", root);
  put(p, "");
  snprintf(p, sizeof p, "%s/sys/fs/cgroup/cpuacct/x", root);
  put(p, "");
  snprintf(p, sizeof p, "%s/sys/fs/cgroup/pids/a/x", root);
  put(p, "");
  struct cgroup_env env;
  int r = cgroup_env_init(&env, root, &err);
  TAP_OK(r == 0 && env.layout == CG_LAYOUT_LEGACY, "legacy: detected (%s)", r ? err.msg : cgroup_layout_name(env.layout));
  if (r < 0)
    return;
  snprintf(p, sizeof p, "%s/sys/fs/cgroup/mem ory/inner/berth", root);
  TAP_OK(!strcmp(env.parent[CG_MEMORY], p), "legacy: mount root /ctr is stripped: %s", env.parent[CG_MEMORY]);
  TAP_OK(strcmp(env.parent[CG_CPU], env.parent[CG_CPUACCT]) != 0, "legacy: separate cpu and cpuacct");
  snprintf(p, sizeof p, "%s/sys/fs/cgroup/pids/a/berth", root);
  TAP_OK(!strcmp(env.parent[CG_PIDS], p), "legacy: pids parent below /a");
  TAP_OK(env.parent[CG_FREEZER] == NULL, "legacy: no freezer mounted -> NULL");
  struct limits l = {.memory_bytes = 5 << 20};
  struct cgroup cg;
  r = cgroup_create(&env, "c1", &l, &cg, &err);
  TAP_OK(r < 0 && err.kind == BERR_INVALID, "legacy: 5 MiB is below the v1 minimum: %s", err.msg);
  l = (struct limits){.cpu_weight = 10000, .memory_bytes = 6 << 20};
  r = cgroup_create(&env, "c1", &l, &cg, &err);
  snprintf(p, sizeof p, "%s/c1", env.parent[CG_CPU]);
  TAP_OK(r == 0 && !strcmp(get(p, "cpu.shares"), "262144"), "legacy: weight 10000 -> shares %s", get(p, "cpu.shares"));
  TAP_OK(cgroup_v1_shares_from_weight(1) == 2 && cgroup_v1_shares_from_weight(100) == 1024 &&
             cgroup_v1_shares_from_weight(10000) == 262144,
         "weight 1/100/10000 -> shares 2/1024/262144");
  if (r == 0) {
    r = cgroup_destroy(&cg, &err);
    TAP_OK(r == 0 && !is_dir(p), "legacy: destroy");
    cgroup_free(&cg);
  }
  cgroup_env_free(&env);
}

/* ---- start-up: container cgroups nothing explains ---------------------- */

static bool keep_first(const char *id, void *ctx) { return !strcmp(id, (const char *)ctx); }

static void test_sweep(void) {
  char root[512], p[1200];
  berr_t err = {0};
  new_tree("sweep", root, sizeof root);
  write_proc(root,
             "31 30 0:28 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n"
             "34 30 0:31 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n"
             "38 30 0:35 / /sys/fs/cgroup/pids rw - cgroup cgroup rw,pids\n",
             "8:pids:/h\n4:memory:/h\n2:cpu,cpuacct:/h\n");
  const char *ctl_dirs[] = {"cpu,cpuacct", "memory", "pids"};
  for (size_t i = 0; i < 3; i++) {
    snprintf(p, sizeof p, "%s/sys/fs/cgroup/%s/h/x", root, ctl_dirs[i]);
    put(p, "");
  }
  struct cgroup_env env;
  int r = cgroup_env_init(&env, root, &err);
  TAP_OK(r == 0, "sweep: env (%s)", r ? err.msg : "ok");
  if (r < 0)
    return;
  char keep[65], stray[65];
  memset(keep, 'a', 64);
  memset(stray, 'b', 64);
  keep[64] = stray[64] = '\0';
  struct cgroup a, b;
  r = cgroup_create(&env, keep, NULL, &a, &err);
  r |= cgroup_create(&env, stray, NULL, &b, &err);
  TAP_OK(r == 0, "sweep: two container cgroups made");
  /* a directory someone else made there, not named like a container */
  snprintf(p, sizeof p, "%s/other", env.parent[CG_MEMORY]);
  mkdir(p, 0755);
  struct cgroup stray_paths;
  TAP_OK(cgroup_for_id(&env, stray, &stray_paths, &err) == 0 &&
             !strcmp(stray_paths.path[CG_MEMORY], b.path[CG_MEMORY]) &&
             !strcmp(stray_paths.path[CG_PIDS], b.path[CG_PIDS]) &&
             !strcmp(stray_paths.path[CG_CPU], b.path[CG_CPU]),
         "sweep: cgroup_for_id names the dirs cgroup_create made");
  cgroup_free(&stray_paths);
  struct cgroup bad;
  TAP_OK(cgroup_for_id(&env, "../x", &bad, &err) < 0 || (cgroup_free(&bad), false),
         "sweep: cgroup_for_id refuses a bad name");
  int n = cgroup_sweep(&env, keep_first, keep);
  TAP_OK(n == 1, "sweep: one removed (%d)", n);
  bool gone = true, kept = true;
  for (int c = 0; c < CG_CTL_COUNT; c++) {
    if (b.path[c])
      gone &= !is_dir(b.path[c]);
    if (a.path[c])
      kept &= is_dir(a.path[c]);
  }
  TAP_OK(gone, "sweep: the stray container cgroup is gone from every hierarchy");
  TAP_OK(kept, "sweep: the kept one stays");
  TAP_OK(is_dir(p), "sweep: a directory not named like a container stays");
  rmdir(p);
  cgroup_destroy(&a, &err);
  cgroup_free(&a);
  cgroup_free(&b);
  cgroup_env_free(&env);
}

/* ---- the real cgroups of this machine ---------------------------------- */

static bool read_has(const char *path, const char *needle) {
  cleanup_free char *buf = NULL;
  berr_t e;
  return read_file(path, 1 << 20, &buf, NULL, &e) == 0 && strstr(buf, needle);
}

static void test_real(void) {
  berr_t err = {0};
  struct cgroup_env env;
  cgroup_test_hooks.after_mkdir = NULL;
  cgroup_test_hooks.before_rmdir = NULL;
  /* Remember which berth/ parents exist so the test removes only its own. */
  struct cgroup_env probe;
  int r = cgroup_env_init(&probe, "/", &err);
  if (r < 0 || probe.layout == CG_LAYOUT_UNIFIED || !probe.parent[CG_MEMORY]) {
    printf("ok %d - # SKIP real cgroup v1 test: %s\n", ++tap_n, r < 0 ? err.msg : "not a v1 machine");
    if (r == 0)
      cgroup_env_free(&probe);
    return;
  }
  cgroup_env_free(&probe);
  r = cgroup_env_init(&env, "/", &err);
  TAP_OK(r == 0, "real: env init (%s)", r ? err.msg : cgroup_layout_name(env.layout));

  char id[64];
  snprintf(id, sizeof id, "berthtest%d", (int)getpid());
  struct limits l = {.memory_bytes = 32 << 20, .cpu_quota_us = 50000, .cpu_period_us = 100000,
                     .cpu_weight = 100, .pids_max = 16};
  struct cgroup cg;
  r = cgroup_create(&env, id, &l, &cg, &err);
  TAP_OK(r == 0, "real: create %s (%s)", id, r ? err.msg : cg.path[CG_MEMORY]);
  if (r < 0)
    return;
  TAP_OK(!strcmp(get(cg.path[CG_MEMORY], "memory.limit_in_bytes"), "33554432"), "real: memory.limit_in_bytes");
  if (cg_has(cg.path[CG_MEMORY], "memory.memsw.limit_in_bytes"))
    TAP_OK(!strcmp(get(cg.path[CG_MEMORY], "memory.memsw.limit_in_bytes"), "33554432"), "real: memsw limit");
  TAP_OK(!strcmp(get(cg.path[CG_CPU], "cpu.cfs_quota_us"), "50000") &&
             !strcmp(get(cg.path[CG_CPU], "cpu.shares"), "1024"),
         "real: cfs quota and shares");
  TAP_OK(!strcmp(get(cg.path[CG_PIDS], "pids.max"), "16"), "real: pids.max");

  int gate[2];
  if (pipe(gate) < 0)
    return;
  pid_t child = fork();
  if (child == 0) {
    char c;
    close(gate[1]);
    if (read(gate[0], &c, 1) < 0)
      _exit(1);
    for (;;)
      pause();
  }
  close(gate[0]);
  r = cgroup_add_pid(&cg, child, &err);
  if (write(gate[1], "x", 1) < 0)
    r = -1;
  close(gate[1]);
  char procf[64];
  snprintf(procf, sizeof procf, "/proc/%d/cgroup", (int)child);
  char want[160];
  snprintf(want, sizeof want, "/berth/%s", id);
  TAP_OK(r == 0 && read_has(procf, want), "real: child moved into the container cgroup (%s)", r ? err.msg : "ok");
  pid_t *pids = NULL;
  size_t n = 0;
  r = cgroup_pids(&cg, &pids, &n, &err);
  TAP_OK(r == 0 && n == 1 && pids[0] == child, "real: cgroup_pids lists the child");
  free(pids);
  struct cgroup_stats st;
  r = cgroup_stats(&cg, &st, &err);
  TAP_OK(r == 0 && st.pids_current == 1 && st.pids_limit == 16 && st.mem_limit == 32 << 20 &&
             st.cpu_quota_us == 50000 && st.cpu_period_us == 100000 && st.mem_usage >= 0 && st.oom_kills == 0,
         "real: stats pids=%" PRId64 "/%" PRId64 " mem=%" PRId64 "/%" PRId64 " cpu=%" PRId64 "ns (%s)",
         st.pids_current, st.pids_limit, st.mem_usage, st.mem_limit, st.cpu_usage_ns, r ? err.msg : "ok");
  pid_t joiner = -1;
  {
    /* a second child joins by itself, with the files its parent opened */
    int jfds[CG_CTL_COUNT];
    int nj = cgroup_join_open(&cg, jfds, &err);
    int gate3[2], done3[2];
    if (nj < 0 || pipe(gate3) < 0 || pipe(done3) < 0) {
      TAP_OK(false, "real: join by itself: %s", nj < 0 ? err.msg : "pipe");
    } else {
      joiner = fork();
      if (joiner == 0) {
        char c;
        close(gate3[1]);
        close(done3[0]);
        berr_t e;
        if (read(gate3[0], &c, 1) < 0 || cgroup_join_fds(jfds, nj, &e) < 0)
          _exit(1);
        if (write(done3[1], "j", 1) < 0)
          _exit(1);
        for (;;)
          pause();
      }
      for (int i = 0; i < nj; i++)
        close(jfds[i]);
      close(gate3[0]);
      close(done3[1]);
      char c = 0;
      bool joined = write(gate3[1], "x", 1) == 1 && read(done3[0], &c, 1) == 1 && c == 'j';
      close(gate3[1]);
      close(done3[0]);
      snprintf(procf, sizeof procf, "/proc/%d/cgroup", (int)joiner);
      cleanup_free char *cgs = NULL;
      int in = 0;
      if (joined && read_file(procf, 65536, &cgs, NULL, &err) == 0)
        for (const char *q = cgs; (q = strstr(q, want)); q++)
          in++;
      pids = NULL;
      n = 0;
      r = cgroup_pids(&cg, &pids, &n, &err);
      bool listed = false;
      for (size_t i = 0; r == 0 && i < n; i++)
        listed |= pids[i] == joiner;
      free(pids);
      TAP_OK(joined && in == nj && listed,
             "real: a child joins by itself, %d of %d hierarchies in /proc/PID/cgroup, listed: %d", in, nj, listed);
    }
  }
  r = cgroup_kill_all(&cg, SIGKILL, &err);
  int sig = wait_signal(child);
  if (joiner > 0)
    wait_signal(joiner);
  TAP_OK(r == 0 && sig == SIGKILL, "real: kill_all SIGKILL kills the child (sig %d, %s)", sig, r ? err.msg : "ok");
  if (cg.path[CG_FREEZER])
    TAP_OK(!strncmp(get(cg.path[CG_FREEZER], "freezer.state"), "THAWED", 6), "real: freezer thawed again");

  /* OOM: a child touching 64 MiB in an 8 MiB group is killed and counted. */
  struct cgroup small;
  struct limits sl = {.memory_bytes = 8 << 20};
  char id2[80];
  snprintf(id2, sizeof id2, "%s-oom", id);
  r = cgroup_create(&env, id2, &sl, &small, &err);
  TAP_OK(r == 0, "real: create small cgroup (%s)", r ? err.msg : "ok");
  if (r == 0) {
    int gate2[2];
    if (pipe(gate2) < 0)
      return;
    pid_t hog = fork();
    if (hog == 0) {
      char c;
      close(gate2[1]);
      if (read(gate2[0], &c, 1) < 0)
        _exit(1);
      size_t sz = 64 << 20;
      volatile char *m = mmap(NULL, sz, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      if (m == MAP_FAILED)
        _exit(3);
      for (size_t i = 0; i < sz; i += 4096)
        m[i] = 1;
      _exit(0);
    }
    close(gate2[0]);
    r = cgroup_add_pid(&small, hog, &err);
    if (write(gate2[1], "x", 1) < 0)
      r = -1;
    close(gate2[1]);
    sig = wait_signal(hog);
    r |= cgroup_stats(&small, &st, &err);
    TAP_OK(r == 0 && sig == SIGKILL && st.oom_kills >= 1, "real: OOM kill seen (sig %d, oom_kills %" PRId64 ")",
           sig, st.oom_kills);
    r = cgroup_destroy(&small, &err);
    TAP_OK(r == 0, "real: destroy small (%s)", r ? err.msg : "ok");
    cgroup_free(&small);
  }

  r = cgroup_destroy(&cg, &err);
  bool gone = r == 0;
  for (int c = 0; c < CG_CTL_COUNT; c++)
    gone &= !cg.path[c] || !is_dir(cg.path[c]);
  TAP_OK(gone, "real: destroy leaves nothing (%s)", r ? err.msg : "ok");
  cgroup_free(&cg);
  /* berth/ parents: removed when empty (a running berthd keeps its own) */
  for (int c = 0; c < CG_CTL_COUNT; c++)
    if (env.parent[c])
      rmdir(env.parent[c]);
  cgroup_env_free(&env);
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  snprintf(tmp_root, sizeof tmp_root, "/tmp/berth-test-cgroup-XXXXXX");
  if (!mkdtemp(tmp_root)) {
    perror("mkdtemp");
    return 2;
  }
  cgroup_test_hooks.after_mkdir = fake_after_mkdir;
  cgroup_test_hooks.before_rmdir = fake_before_rmdir;
  test_unified();
  fake_has_kill = false;
  test_hybrid();
  test_legacy();
  test_sweep();
  test_real();
  berr_t e;
  rm_rf(tmp_root, &e);
  printf("1..%d\n", tap_n);
  TAP_DONE();
}
