#include "mounts.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cleanup.h"
#include "util.h"

/* ---- overlay options ------------------------------------------------------------ */

static bool overlay_safe(const char *p) {
  /* ',' separates options and ':' lower dirs; a backslash would be an escape */
  return !strpbrk(p, ",:\\");
}

static size_t common_parent_len(char *const *lowers, const char *upper, const char *work) {
  /* length of the longest "/a/b" prefix ending at a '/' shared by every path */
  size_t n = strlen(upper);
  const char *all[3] = {upper, work, NULL};
  for (int pass = 0; pass < 2; pass++) {
    char *const *v = pass == 0 ? (char *const *)all : lowers;
    for (size_t i = 0; v[i]; i++) {
      size_t k = 0;
      while (k < n && v[i][k] && v[i][k] == upper[k])
        k++;
      n = k;
    }
  }
  while (n > 0 && upper[n - 1] != '/')
    n--;
  return n; /* includes the trailing '/'; 1 means only "/" is shared */
}

static int build_opts(char *const *lowers, const char *upper, const char *work, size_t strip,
                      char **out, size_t *len, berr_t *err) {
  size_t cap = 64 + strlen(upper) + strlen(work);
  for (size_t i = 0; lowers[i]; i++)
    cap += strlen(lowers[i]) + 1;
  char *s = malloc(cap);
  if (!s)
    return berr_sys(err, ENOMEM, "overlay options");
  size_t n = (size_t)snprintf(s, cap, "lowerdir=");
  for (size_t i = 0; lowers[i]; i++)
    n += (size_t)snprintf(s + n, cap - n, "%s%s", i ? ":" : "", lowers[i] + strip);
  n += (size_t)snprintf(s + n, cap - n, ",upperdir=%s,workdir=%s", upper + strip, work + strip);
  *out = s;
  *len = n;
  return 0;
}

int mounts_overlay_options(char *const *lowerdirs, const char *upper, const char *work,
                           char **opts, char **chdir_to, berr_t *err) {
  *opts = *chdir_to = NULL;
  if (!lowerdirs || !lowerdirs[0])
    return berr_set(err, BERR_INVALID, "the image has no layers");
  const char *check[] = {upper, work};
  for (size_t i = 0; i < 2; i++)
    if (check[i][0] != '/' || !overlay_safe(check[i]))
      return berr_set(err, BERR_INVALID, "overlay path `%s` must be absolute, without , : or \\",
                      check[i]);
  for (size_t i = 0; lowerdirs[i]; i++)
    if (lowerdirs[i][0] != '/' || !overlay_safe(lowerdirs[i]))
      return berr_set(err, BERR_INVALID, "layer path `%s` must be absolute, without , : or \\",
                      lowerdirs[i]);
  long page = sysconf(_SC_PAGESIZE);
  size_t limit = (size_t)(page > 0 ? page : 4096) - 1;
  char *s;
  size_t len;
  if (build_opts(lowerdirs, upper, work, 0, &s, &len, err) < 0)
    return -1;
  if (len <= limit) {
    *opts = s;
    return 0;
  }
  free(s);
  size_t strip = common_parent_len(lowerdirs, upper, work);
  if (strip > 1) {
    if (build_opts(lowerdirs, upper, work, strip, &s, &len, err) < 0)
      return -1;
    if (len <= limit) {
      if (!(*chdir_to = strndup(upper, strip))) {
        free(s);
        return berr_sys(err, ENOMEM, "overlay options");
      }
      *opts = s;
      return 0;
    }
    free(s);
  }
  return berr_set(err, BERR_LIMIT,
                  "overlay options for %zu layers are %zu bytes, over the %zu byte limit of one page",
                  strv_len(lowerdirs), len, limit);
}

/* ---- helpers -------------------------------------------------------------------- */

static int do_mount(const char *src, const char *target, const char *type, unsigned long flags,
                    const char *data, berr_t *err) {
  if (mount(src, target, type, flags, data) < 0)
    return berr_sys(err, errno, "mount %s on `%s`", type ? type : src, target);
  return 0;
}

/* A directory the rootfs must have: made when missing, refused when it is a
 * symlink (it would point the mount outside the rootfs). */
static int ensure_dir(const char *rel, berr_t *err) {
  struct stat st;
  if (fstatat(AT_FDCWD, rel, &st, AT_SYMLINK_NOFOLLOW) == 0) {
    if (S_ISLNK(st.st_mode))
      return berr_set(err, BERR_INVALID,
                      "`/%s` in the image is a symlink; it must be a directory (a mount there "
                      "could land outside the container)",
                      rel);
    if (!S_ISDIR(st.st_mode))
      return berr_set(err, BERR_INVALID, "`/%s` in the image is not a directory", rel);
    return 0;
  }
  if (errno != ENOENT)
    return berr_sys(err, errno, "stat `/%s`", rel);
  if (mkdirat(AT_FDCWD, rel, 0755) < 0 && errno != EEXIST)
    return berr_sys(err, errno, "mkdir `/%s`", rel);
  return 0;
}

static int bind_file(const char *src, const char *rel, berr_t *err) {
  if (mknodat(AT_FDCWD, rel, S_IFREG | 0666, 0) < 0 && errno != EEXIST)
    return berr_sys(err, errno, "create `/%s`", rel);
  return do_mount(src, rel, NULL, MS_BIND, NULL, err);
}

static int make_readonly(const char *path, berr_t *err) {
  struct mount_attr attr = {.attr_set = MOUNT_ATTR_RDONLY};
  if (mount_setattr(AT_FDCWD, path, AT_RECURSIVE, &attr, sizeof attr) < 0)
    return berr_sys(err, errno, "mount_setattr read-only `%s`", path);
  return 0;
}

/* ---- setup ------------------------------------------------------------------------ */

/* With a user namespace the image's files (owned by host ids) must appear
 * owned by the container's ids: each layer is an idmapped clone of its
 * directory, attached under a tmpfs on `merged`, and the overlay is mounted
 * over that tmpfs from them. The layer directories on disk stay as they are
 * (other containers share them). */
static int idmap_layers(const struct rootfs_cfg *c, char ***out, berr_t *err) {
  char *const *lowers = c->spec->lowerdirs;
  size_t n = strv_len(lowers);
  if (do_mount("tmpfs", c->merged, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=700", err) < 0)
    return -1;
  char **v = calloc(n + 1, sizeof *v);
  if (!v)
    return berr_sys(err, ENOMEM, "layer list");
  *out = v;
  struct mount_attr attr = {.attr_set = MOUNT_ATTR_IDMAP, .userns_fd = (uint64_t)c->userns_fd};
  for (size_t i = 0; i < n; i++) {
    char dir[4200];
    snprintf(dir, sizeof dir, "%s/%zu", c->merged, i);
    if (!(v[i] = strdup(dir)))
      return berr_sys(err, ENOMEM, "layer list");
    if (mkdir(dir, 0700) < 0)
      return berr_sys(err, errno, "mkdir `%s`", dir);
    cleanup_close int t = open_tree(AT_FDCWD, lowers[i], OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
    if (t < 0)
      return berr_sys(err, errno, "open_tree `%s`", lowers[i]);
    if (mount_setattr(t, "", AT_EMPTY_PATH, &attr, sizeof attr) < 0)
      return berr_sys(err, errno, "idmap the layer `%s`", lowers[i]);
    if (move_mount(t, "", AT_FDCWD, dir, MOVE_MOUNT_F_EMPTY_PATH) < 0)
      return berr_sys(err, errno, "attach the idmapped layer `%s` on `%s`", lowers[i], dir);
  }
  return 0;
}

static int mount_overlay(const struct rootfs_cfg *c, berr_t *err) {
  cleanup_free char *opts = NULL, *cd = NULL;
  char **idmapped = NULL;
  char *const *lowers = c->spec->lowerdirs;
  if (c->userns_fd >= 0) {
    if (idmap_layers(c, &idmapped, err) < 0) {
      strv_free(idmapped);
      return -1;
    }
    lowers = idmapped;
  }
  int r = mounts_overlay_options(lowers, c->upper, c->work, &opts, &cd, err);
  strv_free(idmapped);
  if (r < 0)
    return -1;
  if (cd && chdir(cd) < 0)
    return berr_sys(err, errno, "chdir `%s`", cd);
  if (mount("overlay", c->merged, "overlay", 0, opts) < 0)
    return berr_sys(err, errno, "mount overlay on `%s` (%zu layers)", c->merged,
                    strv_len(c->spec->lowerdirs));
  if (chdir(c->merged) < 0)
    return berr_sys(err, errno, "chdir `%s`", c->merged);
  return 0;
}

static int mount_dev(const struct rootfs_cfg *c, berr_t *err) {
  static const char *const devices[] = {"null", "zero", "full", "random", "urandom", "tty"};
  static const struct {
    const char *target, *link;
  } links[] = {{"/proc/self/fd", "dev/fd"},
               {"/proc/self/fd/0", "dev/stdin"},
               {"/proc/self/fd/1", "dev/stdout"},
               {"/proc/self/fd/2", "dev/stderr"},
               {"pts/ptmx", "dev/ptmx"}};
  if (ensure_dir("dev", err) < 0 ||
      do_mount("tmpfs", "dev", "tmpfs", MS_NOSUID | MS_STRICTATIME, "mode=755,size=65536k", err) < 0)
    return -1;
  for (size_t i = 0; i < sizeof devices / sizeof devices[0]; i++) {
    char host[32], rel[32];
    snprintf(host, sizeof host, "/dev/%s", devices[i]);
    snprintf(rel, sizeof rel, "dev/%s", devices[i]);
    /* bind, not mknod: works in a user namespace too */
    if (bind_file(host, rel, err) < 0)
      return -1;
  }
  if (mkdirat(AT_FDCWD, "dev/pts", 0755) < 0)
    return berr_sys(err, errno, "mkdir `/dev/pts`");
  if (do_mount("devpts", "dev/pts", "devpts", MS_NOSUID | MS_NOEXEC,
               "newinstance,ptmxmode=0666,mode=0620,gid=5", err) < 0)
    return -1;
  for (size_t i = 0; i < sizeof links / sizeof links[0]; i++)
    if (symlinkat(links[i].target, AT_FDCWD, links[i].link) < 0)
      return berr_sys(err, errno, "symlink `/%s`", links[i].link);
  if (mkdirat(AT_FDCWD, "dev/shm", 01777) < 0)
    return berr_sys(err, errno, "mkdir `/dev/shm`");
  if (do_mount("shm", "dev/shm", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=1777,size=65536k",
               err) < 0)
    return -1;
  if (c->spec->ns[NS_IPC]) {
    if (mkdirat(AT_FDCWD, "dev/mqueue", 0755) < 0)
      return berr_sys(err, errno, "mkdir `/dev/mqueue`");
    if (do_mount("mqueue", "dev/mqueue", "mqueue", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL, err) < 0)
      return -1;
  }
  if (c->console && bind_file(c->console, "dev/console", err) < 0)
    return -1;
  return 0;
}

int mounts_setup(const struct rootfs_cfg *c, berr_t *err) {
  const struct container_spec *s = c->spec;
  /* nothing we mount may leak back to the host; host unmounts still reach us */
  if (s->ns[NS_MNT] && mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) < 0)
    return berr_sys(err, errno, "make `/` rslave");
  if (mount_overlay(c, err) < 0)
    return -1;
  if (ensure_dir("proc", err) < 0)
    return -1;
  if (s->ns[NS_PID]) {
    if (do_mount("proc", "proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL, err) < 0)
      return -1;
  } else if (do_mount("/proc", "proc", NULL, MS_BIND | MS_REC, NULL, err) < 0) {
    return -1;
  }
  if (mount_dev(c, err) < 0 || ensure_dir("sys", err) < 0)
    return -1;
  /* a fresh sysfs shows the container's own network devices (host root
   * mounts it: the user namespace, if any, is joined later) */
  return do_mount("sysfs", "sys", "sysfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL, err);
}

int mounts_enter(const struct rootfs_cfg *c, berr_t *err) {
  if (c->spec->ns[NS_MNT]) {
    if (syscall(SYS_pivot_root, ".", ".") < 0)
      return berr_sys(err, errno, "pivot_root `%s`", c->merged);
    /* the old root is now stacked on "/": detach it */
    if (umount2(".", MNT_DETACH) < 0)
      return berr_sys(err, errno, "detach the old root");
  } else if (chroot(".") < 0) {
    return berr_sys(err, errno, "chroot `%s`", c->merged);
  }
  if (chdir("/") < 0)
    return berr_sys(err, errno, "chdir `/`");
  return 0;
}

int mounts_mask(berr_t *err) {
  static const char *const masked_files[] = {"/proc/kcore",        "/proc/keys",
                                             "/proc/latency_stats", "/proc/timer_list",
                                             "/proc/timer_stats",  "/proc/sched_debug"};
  static const char *const masked_dirs[] = {"/proc/acpi", "/proc/asound", "/proc/scsi",
                                            "/sys/firmware", "/sys/devices/virtual/powercap"};
  static const char *const readonly[] = {"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys",
                                         "/proc/sysrq-trigger"};
  /* no stat first: ENOENT from mount(2) itself says the path is not there */
  for (size_t i = 0; i < sizeof masked_files / sizeof masked_files[0]; i++)
    if (mount("/dev/null", masked_files[i], NULL, MS_BIND, NULL) < 0 && errno != ENOENT)
      return berr_sys(err, errno, "mask `%s`", masked_files[i]);
  for (size_t i = 0; i < sizeof masked_dirs / sizeof masked_dirs[0]; i++)
    if (mount("tmpfs", masked_dirs[i], "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
              NULL) < 0 && errno != ENOENT)
      return berr_sys(err, errno, "mask `%s`", masked_dirs[i]);
  for (size_t i = 0; i < sizeof readonly / sizeof readonly[0]; i++) {
    if (mount(readonly[i], readonly[i], NULL, MS_BIND | MS_REC, NULL) < 0) {
      if (errno == ENOENT)
        continue;
      return berr_sys(err, errno, "bind `%s`", readonly[i]);
    }
    if (make_readonly(readonly[i], err) < 0)
      return -1;
  }
  return 0;
}
