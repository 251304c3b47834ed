/* cgroup layout detection, the helper's own cgroup, and the dispatch to the
 * v1 or v2 manager (cgroup-v1.c, cgroup-v2.c). */
#include "cgroup.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cgroup-internal.h"
#include "cleanup.h"
#include "server.h"
#include "util.h"

struct cgroup_fs_hooks cgroup_test_hooks;

const char *const cg_ctl_names[CG_CTL_COUNT] = {
    [CG_MEMORY] = "memory", [CG_CPU] = "cpu",         [CG_CPUACCT] = "cpuacct",
    [CG_PIDS] = "pids",     [CG_FREEZER] = "freezer",
};

const char *cgroup_layout_name(enum cgroup_layout l) {
  switch (l) {
  case CG_LAYOUT_UNIFIED: return "unified";
  case CG_LAYOUT_HYBRID: return "hybrid";
  case CG_LAYOUT_LEGACY: return "legacy";
  }
  return "unknown";
}

static int layout_from_name(const char *s, enum cgroup_layout *out) {
  for (int l = CG_LAYOUT_UNIFIED; l <= CG_LAYOUT_LEGACY; l++)
    if (!strcmp(s, cgroup_layout_name((enum cgroup_layout)l))) {
      *out = (enum cgroup_layout)l;
      return 0;
    }
  return -1;
}

static const struct cgroup_ops *ops_for(enum cgroup_layout l) {
  return l == CG_LAYOUT_UNIFIED ? &cgroup_v2_ops : &cgroup_v1_ops;
}

/* ---- shared helpers ---------------------------------------------------- */

char *cg_join(const char *dir, const char *name) {
  char *p = NULL;
  size_t dl = strlen(dir);
  while (dl > 1 && dir[dl - 1] == '/')
    dl--;
  while (*name == '/')
    name++;
  if (!*name)
    return strndup(dir, dl);
  if (asprintf(&p, "%.*s/%s", (int)dl, dl == 1 && dir[0] == '/' ? "" : dir, name) < 0)
    return NULL;
  return p;
}

int cg_mkdir(const char *dir, enum cg_ctl ctl, berr_t *err) {
  if (mkdir(dir, 0755) < 0) {
    if (errno == EEXIST)
      return 0;
    return berr_sys(err, errno, "mkdir cgroup `%s`", dir);
  }
  if (cgroup_test_hooks.after_mkdir)
    cgroup_test_hooks.after_mkdir(dir, ctl);
  return 0;
}

static int cg_rmdir_depth(const char *dir, int depth, berr_t *err) {
  if (depth > 32)
    return berr_set(err, BERR_INTERNAL, "cgroup `%s` is nested too deeply to remove", dir);
  /* Child cgroups (a container may make its own below its cgroup) go first. */
  cleanup_dir DIR *d = opendir(dir);
  if (!d) {
    if (errno == ENOENT)
      return 0;
    return berr_sys(err, errno, "opendir `%s`", dir);
  }
  struct dirent *de;
  while ((de = readdir(d))) {
    if (de->d_type != DT_DIR || !strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
      continue;
    cleanup_free char *child = cg_join(dir, de->d_name);
    if (!child)
      return berr_sys(err, ENOMEM, "remove cgroup `%s`", dir);
    if (cg_rmdir_depth(child, depth + 1, err) < 0)
      return -1;
  }
  if (cgroup_test_hooks.before_rmdir)
    cgroup_test_hooks.before_rmdir(dir);
  /* Processes that were just killed leave the cgroup a moment later. */
  int64_t deadline = mono_us() + 2000000;
  for (;;) {
    if (rmdir(dir) == 0 || errno == ENOENT)
      return 0;
    if (errno != EBUSY || mono_us() > deadline)
      return berr_sys(err, errno, "rmdir cgroup `%s`", dir);
    struct timespec ts = {0, 20 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
}

int cg_rmdir(const char *dir, berr_t *err) { return cg_rmdir_depth(dir, 0, err); }

int cg_write(const char *dir, const char *file, const char *value, berr_t *err) {
  cleanup_free char *p = cg_join(dir, file);
  if (!p)
    return berr_sys(err, ENOMEM, "write `%s`", file);
  /* Never O_CREAT: a missing control file means a missing controller. O_TRUNC
   * is what a shell's `>` does; kernfs ignores it, and on the test's plain
   * files it keeps the value exact. One write(2): the kernel parses it whole. */
  cleanup_close int fd = open(p, O_WRONLY | O_TRUNC | O_CLOEXEC);
  if (fd < 0)
    return berr_sys(err, errno, "open `%s`", p);
  size_t len = strlen(value);
  ssize_t w;
  do
    w = write(fd, value, len);
  while (w < 0 && errno == EINTR);
  if (w < 0)
    return berr_sys(err, errno, "write `%s` to `%s`", value, p);
  if ((size_t)w != len)
    return berr_sys(err, EIO, "short write of `%s` to `%s`", value, p);
  return 0;
}

int cg_write_int(const char *dir, const char *file, int64_t value, berr_t *err) {
  char buf[32];
  snprintf(buf, sizeof buf, "%" PRId64, value);
  return cg_write(dir, file, buf, err);
}

int cg_read_int(const char *dir, const char *file, int64_t *out, berr_t *err) {
  cleanup_free char *p = cg_join(dir, file);
  if (!p)
    return berr_sys(err, ENOMEM, "read `%s`", file);
  return read_int64(p, out, err);
}

bool cg_has(const char *dir, const char *file) {
  cleanup_free char *p = cg_join(dir, file);
  return p && access(p, F_OK) == 0;
}

int cg_read_key(const char *dir, const char *file, const char *key, int64_t *out, berr_t *err) {
  cleanup_free char *p = cg_join(dir, file);
  cleanup_free char *buf = NULL;
  if (!p)
    return berr_sys(err, ENOMEM, "read `%s`", file);
  if (read_file(p, 1 << 20, &buf, NULL, err) < 0)
    return -1;
  size_t kl = strlen(key);
  for (char *line = buf; line && *line;) {
    char *nl = strchr(line, '\n');
    if (nl)
      *nl = '\0';
    if (!strncmp(line, key, kl) && line[kl] == ' ') {
      char *end = NULL;
      errno = 0;
      long long v = strtoll(line + kl + 1, &end, 10);
      if (errno || end == line + kl + 1)
        return berr_set(err, BERR_INTERNAL, "`%s`: bad value for `%s`", p, key);
      *out = v;
      return 0;
    }
    line = nl ? nl + 1 : NULL;
  }
  return berr_set(err, BERR_NOT_FOUND, "`%s` has no `%s` line", p, key);
}

static int read_pids_depth(const char *dir, int depth, pid_t **pids, size_t *n, size_t *cap,
                           berr_t *err) {
  if (depth > 32)
    return 0;
  cleanup_free char *p = cg_join(dir, "cgroup.procs");
  cleanup_free char *buf = NULL;
  if (!p)
    return berr_sys(err, ENOMEM, "read pids of `%s`", dir);
  if (read_file(p, 16 << 20, &buf, NULL, err) < 0)
    return -1;
  for (char *s = buf; *s;) {
    char *end = NULL;
    long v = strtol(s, &end, 10);
    if (end == s)
      break;
    if (v > 0) {
      if (*n == *cap) {
        size_t nc = *cap ? *cap * 2 : 32;
        pid_t *np = realloc(*pids, nc * sizeof *np);
        if (!np)
          return berr_sys(err, ENOMEM, "read pids of `%s`", dir);
        *pids = np;
        *cap = nc;
      }
      (*pids)[(*n)++] = (pid_t)v;
    }
    s = end;
    while (*s == '\n' || *s == ' ')
      s++;
  }
  cleanup_dir DIR *d = opendir(dir);
  if (!d)
    return berr_sys(err, errno, "opendir `%s`", dir);
  struct dirent *de;
  while ((de = readdir(d))) {
    if (de->d_type != DT_DIR || !strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
      continue;
    cleanup_free char *child = cg_join(dir, de->d_name);
    if (!child)
      return berr_sys(err, ENOMEM, "read pids of `%s`", dir);
    if (read_pids_depth(child, depth + 1, pids, n, cap, err) < 0)
      return -1;
  }
  return 0;
}

int cg_read_pids(const char *dir, pid_t **pids, size_t *n, berr_t *err) {
  pid_t *v = NULL;
  size_t len = 0, cap = 0;
  if (read_pids_depth(dir, 0, &v, &len, &cap, err) < 0) {
    free(v);
    return -1;
  }
  *pids = v;
  *n = len;
  return 0;
}

int cg_signal_pids(const pid_t *pids, size_t n, int sig, berr_t *err) {
  for (size_t i = 0; i < n; i++)
    if (kill(pids[i], sig) < 0 && errno != ESRCH)
      return berr_sys(err, errno, "kill pid %d with signal %d", (int)pids[i], sig);
  return 0;
}

int cg_check_limits(const struct limits *l, int64_t min_memory, berr_t *err) {
  if (l->memory_bytes < 0 || (l->memory_bytes > 0 && l->memory_bytes < min_memory))
    return berr_set(err, BERR_INVALID, "memory limit %" PRId64 " is below the minimum of %" PRId64
                    " bytes (%" PRId64 " MiB) for this cgroup version",
                    l->memory_bytes, min_memory, min_memory >> 20);
  if (l->cpu_quota_us < 0 || (l->cpu_quota_us > 0 && l->cpu_quota_us < 1000))
    return berr_set(err, BERR_INVALID, "cpu quota %" PRId64 " us is below the kernel's 1000 us",
                    l->cpu_quota_us);
  if (l->cpu_quota_us > 0 && (l->cpu_period_us < 1000 || l->cpu_period_us > 1000000))
    return berr_set(err, BERR_INVALID, "cpu period %" PRId64 " us is outside 1000..1000000",
                    l->cpu_period_us);
  if (l->cpu_weight < 0 || l->cpu_weight > 10000)
    return berr_set(err, BERR_INVALID, "cpu weight %" PRId64 " is outside 1..10000",
                    l->cpu_weight);
  if (l->pids_max < 0)
    return berr_set(err, BERR_INVALID, "pids limit %" PRId64 " is negative", l->pids_max);
  return 0;
}

static bool seen_before(char *const *paths, int i) {
  for (int j = 0; j < i; j++)
    if (paths[j] && !strcmp(paths[j], paths[i]))
      return true;
  return false;
}

void cg_rollback(struct cgroup *cg) {
  for (int i = 0; i < CG_CTL_COUNT; i++)
    if (cg->path[i] && !seen_before(cg->path, i)) {
      berr_t ignored;
      cg_rmdir(cg->path[i], &ignored);
    }
  cgroup_free(cg);
}

/* ---- detection --------------------------------------------------------- */

/* mountinfo escapes space, tab, newline and backslash as \ooo. */
static void unescape_octal(char *s) {
  char *w = s;
  for (char *r = s; *r;) {
    if (r[0] == '\\' && r[1] >= '0' && r[1] <= '7' && r[2] >= '0' && r[2] <= '7' && r[3] >= '0' &&
        r[3] <= '7') {
      *w++ = (char)(((r[1] - '0') << 6) | ((r[2] - '0') << 3) | (r[3] - '0'));
      r += 4;
    } else {
      *w++ = *r++;
    }
  }
  *w = '\0';
}

static bool has_token(const char *list, const char *tok) {
  size_t tl = strlen(tok);
  for (const char *p = list; p && *p;) {
    const char *c = strchr(p, ',');
    size_t len = c ? (size_t)(c - p) : strlen(p);
    if (len == tl && !strncmp(p, tok, tl))
      return true;
    p = c ? c + 1 : NULL;
  }
  return false;
}

struct cg_mount {
  char *root;       /* the hierarchy's directory shown at the mount point ("/" mostly) */
  char *mountpoint; /* as seen by the helper, before fs_root is prefixed */
};

struct detected {
  struct cg_mount v1[CG_CTL_COUNT];
  struct cg_mount v2;
  bool v2_at_sys_fs_cgroup;
  char *own_v1[CG_CTL_COUNT]; /* from /proc/self/cgroup */
  char *own_v2;
};

static void detected_free(struct detected *d) {
  for (int i = 0; i < CG_CTL_COUNT; i++) {
    free(d->v1[i].root);
    free(d->v1[i].mountpoint);
    free(d->own_v1[i]);
  }
  free(d->v2.root);
  free(d->v2.mountpoint);
  free(d->own_v2);
}

static int set_mount(struct cg_mount *m, const char *root, const char *mp) {
  if (m->mountpoint)
    return 0; /* the first mount of a hierarchy wins */
  m->root = strdup(root);
  m->mountpoint = strdup(mp);
  return m->root && m->mountpoint ? 0 : -1;
}

static int parse_mountinfo(const char *path, struct detected *d, berr_t *err) {
  cleanup_free char *buf = NULL;
  if (read_file(path, 16 << 20, &buf, NULL, err) < 0)
    return -1;
  for (char *line = buf; line && *line;) {
    char *nl = strchr(line, '\n');
    if (nl)
      *nl = '\0';
    char *fields[64];
    int nf = 0;
    for (char *save = NULL, *tok = strtok_r(line, " ", &save); tok && nf < 64;
         tok = strtok_r(NULL, " ", &save))
      fields[nf++] = tok;
    int sep = -1;
    for (int i = 6; i < nf; i++)
      if (!strcmp(fields[i], "-")) {
        sep = i;
        break;
      }
    if (sep > 0 && sep + 2 < nf) {
      const char *fstype = fields[sep + 1];
      const char *superopts = sep + 3 < nf ? fields[sep + 3] : "";
      char *root = fields[3], *mp = fields[4];
      unescape_octal(root);
      unescape_octal(mp);
      if (!strcmp(fstype, "cgroup2")) {
        if (!strcmp(mp, "/sys/fs/cgroup")) {
          free(d->v2.root);
          free(d->v2.mountpoint);
          d->v2.root = d->v2.mountpoint = NULL;
          d->v2_at_sys_fs_cgroup = true;
        }
        if (set_mount(&d->v2, root, mp) < 0)
          return berr_sys(err, ENOMEM, "parse `%s`", path);
      } else if (!strcmp(fstype, "cgroup")) {
        for (int c = 0; c < CG_CTL_COUNT; c++)
          if (has_token(superopts, cg_ctl_names[c]) && set_mount(&d->v1[c], root, mp) < 0)
            return berr_sys(err, ENOMEM, "parse `%s`", path);
      }
    }
    line = nl ? nl + 1 : NULL;
  }
  return 0;
}

/* /proc/self/cgroup: "hierarchy-id:controller,list:/path"; "0::/path" is v2. */
static int parse_self_cgroup(const char *path, struct detected *d, berr_t *err) {
  cleanup_free char *buf = NULL;
  if (read_file(path, 1 << 20, &buf, NULL, err) < 0)
    return -1;
  for (char *line = buf; line && *line;) {
    char *nl = strchr(line, '\n');
    if (nl)
      *nl = '\0';
    char *c1 = strchr(line, ':');
    char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
    if (c2 && c2[1] == '/') {
      *c1 = *c2 = '\0';
      const char *ctls = c1 + 1, *cgpath = c2 + 1;
      if (!*ctls && !strcmp(line, "0")) {
        free(d->own_v2);
        if (!(d->own_v2 = strdup(cgpath)))
          return berr_sys(err, ENOMEM, "parse `%s`", path);
      } else {
        for (int c = 0; c < CG_CTL_COUNT; c++)
          if (has_token(ctls, cg_ctl_names[c]) && !d->own_v1[c] &&
              !(d->own_v1[c] = strdup(cgpath)))
            return berr_sys(err, ENOMEM, "parse `%s`", path);
      }
    }
    line = nl ? nl + 1 : NULL;
  }
  return 0;
}

/* fs_root + mount point + the own cgroup path relative to the mount's root. */
static char *own_dir(const char *fs_root, const struct cg_mount *m, const char *cgpath,
                     berr_t *err) {
  const char *rel = cgpath;
  size_t rl = strlen(m->root);
  if (strcmp(m->root, "/") != 0) {
    if (strncmp(cgpath, m->root, rl) != 0 || (cgpath[rl] != '\0' && cgpath[rl] != '/')) {
      berr_set(err, BERR_INTERNAL,
               "own cgroup `%s` is not below the hierarchy root `%s` mounted at `%s`", cgpath,
               m->root, m->mountpoint);
      return NULL;
    }
    rel = cgpath + rl;
  }
  if (strstr(rel, "/../") || (strlen(rel) >= 3 && !strcmp(rel + strlen(rel) - 3, "/.."))) {
    berr_set(err, BERR_INTERNAL, "own cgroup `%s` lies outside this cgroup namespace", cgpath);
    return NULL;
  }
  cleanup_free char *mp = cg_join(fs_root, m->mountpoint);
  char *dir = mp ? cg_join(mp, rel) : NULL;
  if (!dir)
    berr_sys(err, ENOMEM, "cgroup dir for `%s`", cgpath);
  return dir;
}

int cgroup_env_init(struct cgroup_env *env, const char *fs_root, berr_t *err) {
  memset(env, 0, sizeof *env);
  if (!fs_root || !*fs_root)
    fs_root = "/";
  struct detected d = {0};
  struct cgroup_own own = {0};
  int ret = -1;
  cleanup_free char *mi = cg_join(fs_root, "proc/self/mountinfo");
  cleanup_free char *sc = cg_join(fs_root, "proc/self/cgroup");
  if (!mi || !sc) {
    berr_sys(err, ENOMEM, "cgroup detection");
    goto out;
  }
  if (parse_mountinfo(mi, &d, err) < 0 || parse_self_cgroup(sc, &d, err) < 0)
    goto out;

  bool any_v1 = false;
  for (int c = 0; c < CG_CTL_COUNT; c++)
    any_v1 |= d.v1[c].mountpoint != NULL;

  if (d.v2_at_sys_fs_cgroup || (d.v2.mountpoint && !any_v1)) {
    env->layout = CG_LAYOUT_UNIFIED;
    if (!d.own_v2) {
      berr_set(err, BERR_INTERNAL, "`%s` has no cgroup v2 line (0::/path)", sc);
      goto out;
    }
    if (!(own.unified_dir = own_dir(fs_root, &d.v2, d.own_v2, err)))
      goto out;
  } else if (any_v1) {
    env->layout = d.v2.mountpoint ? CG_LAYOUT_HYBRID : CG_LAYOUT_LEGACY;
    for (int c = 0; c < CG_CTL_COUNT; c++) {
      if (!d.v1[c].mountpoint)
        continue;
      if (!d.own_v1[c]) {
        berr_set(err, BERR_INTERNAL, "`%s` does not name the %s controller's cgroup", sc,
                 cg_ctl_names[c]);
        goto out;
      }
      if (!(own.dir[c] = own_dir(fs_root, &d.v1[c], d.own_v1[c], err)))
        goto out;
    }
  } else {
    berr_set(err, BERR_INTERNAL, "no cgroup filesystem is mounted (read `%s`)", mi);
    goto out;
  }
  ret = ops_for(env->layout)->env_init(env, &own, err);
out:
  for (int c = 0; c < CG_CTL_COUNT; c++)
    free(own.dir[c]);
  free(own.unified_dir);
  detected_free(&d);
  if (ret < 0)
    cgroup_env_free(env);
  return ret;
}

void cgroup_env_free(struct cgroup_env *env) {
  for (int c = 0; c < CG_CTL_COUNT; c++) {
    free(env->parent[c]);
    env->parent[c] = NULL;
  }
}

json_object *cgroup_env_to_json(const struct cgroup_env *env) {
  json_object *o = json_object_new_object();
  json_object_object_add(o, "layout", json_object_new_string(cgroup_layout_name(env->layout)));
  /* "parent" is one path for the protocol's hello (memory's, the one people
   * look for); "parents" has every controller's. */
  const char *first = env->parent[CG_MEMORY];
  json_object *parents = json_object_new_object();
  for (int c = 0; c < CG_CTL_COUNT; c++) {
    if (!first)
      first = env->parent[c];
    json_object_object_add(parents, cg_ctl_names[c],
                           env->parent[c] ? json_object_new_string(env->parent[c]) : NULL);
  }
  json_object_object_add(o, "parent", first ? json_object_new_string(first) : NULL);
  json_object_object_add(o, "parents", parents);
  return o;
}

/* ---- one container's cgroup -------------------------------------------- */

static int check_id(const char *id, berr_t *err) {
  size_t n = id ? strlen(id) : 0;
  if (n == 0 || n > 128)
    return berr_set(err, BERR_INVALID, "cgroup name must be 1..128 characters");
  for (size_t i = 0; i < n; i++)
    if (!isalnum((unsigned char)id[i]) && id[i] != '-' && id[i] != '_')
      return berr_set(err, BERR_INVALID, "cgroup name `%s` may hold only letters, digits, - and _",
                      id);
  return 0;
}

int cgroup_create(const struct cgroup_env *env, const char *id, const struct limits *l,
                  struct cgroup *out, berr_t *err) {
  memset(out, 0, sizeof *out);
  static const struct limits none;
  if (check_id(id, err) < 0)
    return -1;
  return ops_for(env->layout)->create(env, id, l ? l : &none, out, err);
}

int cgroup_add_pid(const struct cgroup *cg, pid_t pid, berr_t *err) {
  char buf[32];
  snprintf(buf, sizeof buf, "%d", (int)pid);
  for (int c = 0; c < CG_CTL_COUNT; c++)
    if (cg->path[c] && !seen_before(cg->path, c) && cg_write(cg->path[c], "cgroup.procs", buf, err) < 0)
      return berr_wrap(err, "move pid %d into the %s cgroup", (int)pid, cg_ctl_names[c]);
  return 0;
}

int cgroup_stats(const struct cgroup *cg, struct cgroup_stats *out, berr_t *err) {
  *out = (struct cgroup_stats){.mem_limit = -1, .cpu_quota_us = -1, .pids_limit = -1};
  return ops_for(cg->layout)->stats(cg, out, err);
}

/* The directory whose cgroup.procs lists the container's processes. */
static const char *procs_dir(const struct cgroup *cg) {
  static const enum cg_ctl order[] = {CG_PIDS, CG_MEMORY, CG_FREEZER, CG_CPU, CG_CPUACCT};
  for (size_t i = 0; i < sizeof order / sizeof order[0]; i++)
    if (cg->path[order[i]])
      return cg->path[order[i]];
  return NULL;
}

int cgroup_pids(const struct cgroup *cg, pid_t **pids, size_t *n, berr_t *err) {
  const char *dir = procs_dir(cg);
  *pids = NULL;
  *n = 0;
  if (!dir)
    return berr_set(err, BERR_INTERNAL, "the cgroup has no directory");
  return cg_read_pids(dir, pids, n, err);
}

int cgroup_freeze(const struct cgroup *cg, bool frozen, berr_t *err) {
  return ops_for(cg->layout)->freeze(cg, frozen, err);
}

int cgroup_kill_all(const struct cgroup *cg, int sig, berr_t *err) {
  if (sig <= 0 || sig >= NSIG)
    return berr_set(err, BERR_INVALID, "bad signal %d", sig);
  return ops_for(cg->layout)->kill_all(cg, sig, err);
}

int cgroup_destroy(const struct cgroup *cg, berr_t *err) {
  int ret = 0;
  for (int c = 0; c < CG_CTL_COUNT; c++)
    if (cg->path[c] && !seen_before(cg->path, c) && cg_rmdir(cg->path[c], err) < 0)
      ret = -1; /* keep going: remove what can be removed, report the last failure */
  return ret;
}

int cgroup_for_id(const struct cgroup_env *env, const char *id, struct cgroup *out, berr_t *err) {
  memset(out, 0, sizeof *out);
  if (check_id(id, err) < 0)
    return -1;
  out->layout = env->layout;
  for (int c = 0; c < CG_CTL_COUNT; c++)
    if (env->parent[c] && !(out->path[c] = cg_join(env->parent[c], id))) {
      cgroup_free(out);
      return berr_sys(err, ENOMEM, "cgroup path");
    }
  return 0;
}

static bool is_container_id(const char *s) {
  size_t n = strlen(s);
  if (n != 64)
    return false;
  for (size_t i = 0; i < n; i++)
    if (!isdigit((unsigned char)s[i]) && !(s[i] >= 'a' && s[i] <= 'f'))
      return false;
  return true;
}

int cgroup_sweep(const struct cgroup_env *env, bool (*keep)(const char *id, void *ctx), void *ctx) {
  int removed = 0;
  for (int c = 0; c < CG_CTL_COUNT; c++) {
    if (!env->parent[c] || seen_before(env->parent, c))
      continue;
    DIR *d = opendir(env->parent[c]);
    if (!d) {
      if (errno != ENOENT)
        berthd_log("cgroup sweep: opendir `%s`: %s", env->parent[c], strerror(errno));
      continue;
    }
    struct dirent *de;
    while ((de = readdir(d))) {
      /* only what berth names: a container id, never a cgroup someone else made here */
      if (de->d_type != DT_DIR || !is_container_id(de->d_name) || keep(de->d_name, ctx))
        continue;
      struct cgroup cg;
      berr_t err;
      if (cgroup_for_id(env, de->d_name, &cg, &err) < 0) {
        berthd_log("cgroup sweep: %s", err.msg);
        continue;
      }
      if (cgroup_kill_all(&cg, SIGKILL, &err) < 0 && err.errnum != ENOENT)
        berthd_log("cgroup sweep: %s", err.msg);
      if (cgroup_destroy(&cg, &err) < 0)
        berthd_log("cgroup sweep: leftover cgroup of container %.12s not removed: %s", de->d_name, err.msg);
      else {
        berthd_log("cgroup sweep: removed the leftover cgroup of container %.12s", de->d_name);
        removed++;
      }
      cgroup_free(&cg);
    }
    closedir(d);
  }
  return removed;
}

json_object *cgroup_to_json(const struct cgroup *cg) {
  json_object *o = json_object_new_object();
  json_object_object_add(o, "layout", json_object_new_string(cgroup_layout_name(cg->layout)));
  json_object *paths = json_object_new_object();
  for (int c = 0; c < CG_CTL_COUNT; c++)
    if (cg->path[c])
      json_object_object_add(paths, cg_ctl_names[c], json_object_new_string(cg->path[c]));
  json_object_object_add(o, "paths", paths);
  return o;
}

/* state.json is ours, but a path read back must still be one we could have
 * made: absolute, no dot components, a container dir below a berth/ dir. */
static bool path_is_ours(const char *p) {
  if (p[0] != '/' || strstr(p, "/../") || strstr(p, "/./") || strstr(p, "//") ||
      !strstr(p, "/berth/"))
    return false;
  size_t n = strlen(p);
  return !(n >= 3 && (!strcmp(p + n - 3, "/..") || !strcmp(p + n - 2, "/.")));
}

int cgroup_from_json(struct cgroup *cg, json_object *o, berr_t *err) {
  memset(cg, 0, sizeof *cg);
  json_object *layout = NULL, *paths = NULL;
  if (!json_object_is_type(o, json_type_object) || !json_object_object_get_ex(o, "layout", &layout) ||
      !json_object_is_type(layout, json_type_string) ||
      layout_from_name(json_object_get_string(layout), &cg->layout) < 0)
    return berr_set(err, BERR_BAD_REQUEST, "cgroup: `layout` must be unified, hybrid or legacy");
  if (!json_object_object_get_ex(o, "paths", &paths) || !json_object_is_type(paths, json_type_object))
    return berr_set(err, BERR_BAD_REQUEST, "cgroup: `paths` must be an object");
  bool any = false;
  json_object_object_foreach(paths, key, val) {
    int c = 0;
    while (c < CG_CTL_COUNT && strcmp(key, cg_ctl_names[c]))
      c++;
    if (c == CG_CTL_COUNT || !val)
      continue;
    const char *s = json_object_get_string(val);
    if (!json_object_is_type(val, json_type_string) || !path_is_ours(s)) {
      cgroup_free(cg);
      return berr_set(err, BERR_BAD_REQUEST, "cgroup: bad path for %s: `%.200s`", key,
                      json_object_get_string(val));
    }
    free(cg->path[c]);
    if (!(cg->path[c] = strdup(s))) {
      cgroup_free(cg);
      return berr_sys(err, ENOMEM, "cgroup_from_json");
    }
    any = true;
  }
  if (!any)
    return berr_set(err, BERR_BAD_REQUEST, "cgroup: `paths` is empty");
  return 0;
}

void cgroup_free(struct cgroup *cg) {
  for (int c = 0; c < CG_CTL_COUNT; c++) {
    free(cg->path[c]);
    cg->path[c] = NULL;
  }
}
