#include "usermounts.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <linux/magic.h>
#include <unistd.h>

#include "cleanup.h"
#include "namespaces.h"
#include "rootfs-path.h"
#include "volumes.h"

#define COPY_MAX_DEPTH 128

static char store_root[PATH_MAX], socket_path[PATH_MAX];

static void real_or_same(const char *in, char out[PATH_MAX]) {
  if (!in || !in[0] || !realpath(in, out))
    snprintf(out, PATH_MAX, "%s", in ? in : "");
}

void usermounts_configure(const char *root, const char *sock) {
  real_or_same(root, store_root);
  real_or_same(sock, socket_path);
}

static bool path_under(const char *path, const char *dir) {
  size_t n = strlen(dir);
  if (n == 1 && dir[0] == '/')
    return true;
  return n > 0 && !strncmp(path, dir, n) && (path[n] == '\0' || path[n] == '/');
}

/* Refuses what no container may get from the host, by the path the fd really has. */
static int check_source(const char *given, const char *real, berr_t *err) {
  static const char *const exact[] = {"/", "/dev"};
  static const char *const below[] = {"/proc", "/sys"};
  for (size_t i = 0; i < sizeof exact / sizeof exact[0]; i++)
    if (!strcmp(real, exact[i]))
      return berr_set(err, BERR_INVALID, "bind source `%s` (`%s`) is not allowed", given, real);
  for (size_t i = 0; i < sizeof below / sizeof below[0]; i++)
    if (path_under(real, below[i]))
      return berr_set(err, BERR_INVALID, "bind source `%s` (`%s`) is not allowed: nothing of %s",
                      given, real, below[i]);
  const char *own[] = {store_root, socket_path};
  for (size_t i = 0; i < 2; i++)
    if (own[i][0] && (path_under(real, own[i]) || path_under(own[i], real)))
      return berr_set(err, BERR_INVALID,
                      "bind source `%s` (`%s`) is not allowed: it would show berthd's %s `%s`", given,
                      real, i == 0 ? "store" : "socket", own[i]);
  return 0;
}

/* The kernel's own views go nowhere, whatever path they are mounted at (a
 * second mount of /proc, a cgroup tree, the host's terminals). */
static int check_source_fs(const char *given, int fd, berr_t *err) {
  static const struct {
    unsigned long magic;
    const char *name;
  } views[] = {{PROC_SUPER_MAGIC, "proc"},      {SYSFS_MAGIC, "sysfs"},       {CGROUP_SUPER_MAGIC, "cgroup"},
               {CGROUP2_SUPER_MAGIC, "cgroup2"}, {DEVPTS_SUPER_MAGIC, "devpts"}, {SECURITYFS_MAGIC, "securityfs"},
               {DEBUGFS_MAGIC, "debugfs"},      {TRACEFS_MAGIC, "tracefs"},    {BPF_FS_MAGIC, "bpf"}};
  struct statfs sf;
  if (fstatfs(fd, &sf) < 0)
    return berr_sys(err, errno, "statfs the mount source `%s`", given);
  for (size_t i = 0; i < sizeof views / sizeof views[0]; i++)
    if ((unsigned long)sf.f_type == views[i].magic)
      return berr_set(err, BERR_INVALID, "bind source `%s` is not allowed: it is on a %s filesystem", given,
                      views[i].name);
  return 0;
}

/* ---- daemon side ------------------------------------------------------------------ */

static int prepare_one(const char *root, struct mount_spec *m, berr_t *err) {
  free(m->host_path);
  m->host_path = NULL;
  if (m->kind == MOUNT_TMPFS)
    return 0;
  char path[PATH_MAX];
  if (m->kind == MOUNT_VOLUME) {
    if (!m->source)
      return berr_set(err, BERR_INTERNAL, "the anonymous volume on `%s` was not made", m->target);
    if (volume_create_ex(root, m->source, true, m->anonymous, NULL, NULL, err) < 0 ||
        volume_data_path(root, m->source, path, err) < 0)
      return -1;
  } else if (check_source(m->source, m->source, err) < 0) {
    return -1; /* as written, then as resolved below */
  } else if (!realpath(m->source, path)) {
    int e = errno;
    berr_sys(err, e, "bind source `%s`", m->source);
    if (e == ENOENT || e == ENOTDIR) {
      err->kind = BERR_NOT_FOUND;
      snprintf(err->msg, sizeof err->msg, "bind source `%.3000s` does not exist on the host",
               m->source);
    }
    return -1;
  }
  /* what is checked is the fd: a symlink swapped in after realpath is not followed */
  cleanup_close int fd = open(path, O_PATH | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0)
    return berr_sys(err, errno, "open the mount source `%s`", path);
  char fdpath[32], real[PATH_MAX];
  rootfs_fd_path(fd, fdpath);
  ssize_t n = readlink(fdpath, real, sizeof real - 1);
  if (n < 0)
    return berr_sys(err, errno, "readlink `%s` (the mount source `%s`)", fdpath, path);
  real[n] = '\0';
  struct stat st;
  if (fstat(fd, &st) < 0)
    return berr_sys(err, errno, "fstat the mount source `%s`", path);
  if (m->kind == MOUNT_BIND) {
    if (check_source(m->source, real, err) < 0 || check_source_fs(m->source, fd, err) < 0)
      return -1;
    if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode))
      return berr_set(err, BERR_INVALID, "bind source `%s` is neither a directory nor a file",
                      m->source);
  }
  if (!(m->host_path = strdup(real)))
    return berr_sys(err, ENOMEM, "mount source");
  m->host_dev = st.st_dev;
  m->host_ino = st.st_ino;
  return 0;
}

int usermounts_prepare(const char *root, struct container_spec *s, berr_t *err) {
  for (size_t i = 0; i < s->n_mounts; i++)
    if (prepare_one(root, &s->mounts[i], err) < 0)
      return -1;
  return 0;
}

bool usermounts_uses_volume(const struct container_spec *s, const char *name) {
  for (size_t i = 0; i < s->n_mounts; i++)
    if (s->mounts[i].kind == MOUNT_VOLUME && s->mounts[i].source && !strcmp(s->mounts[i].source, name))
      return true;
  return false;
}

json_object *usermounts_info(const char *root, const struct container_spec *s) {
  static const char *const kinds[] = {"bind", "volume", "tmpfs"};
  json_object *arr = json_object_new_array();
  for (size_t i = 0; i < s->n_mounts; i++) {
    const struct mount_spec *m = &s->mounts[i];
    json_object *e = json_object_new_object();
    char data[PATH_MAX];
    berr_t err;
    const char *source = m->kind == MOUNT_TMPFS ? "tmpfs" : m->source;
    if (m->kind == MOUNT_VOLUME && volume_data_path(root, m->source, data, &err) == 0)
      source = data;
    json_object_object_add(e, "type", json_object_new_string(kinds[m->kind]));
    json_object_object_add(e, "source", json_object_new_string(source));
    json_object_object_add(e, "target", json_object_new_string(m->target));
    json_object_object_add(e, "readOnly", json_object_new_boolean(m->read_only));
    if (m->kind == MOUNT_VOLUME) {
      json_object_object_add(e, "name", json_object_new_string(m->source ? m->source : ""));
      json_object_object_add(e, "anonymous", json_object_new_boolean(m->anonymous));
    }
    json_object_array_add(arr, e);
  }
  return arr;
}

/* ---- init side: the copy into a new volume ------------------------------------------ */

static bool dir_is_empty(int dirfd) {
  int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    return false;
  DIR *d = fdopendir(fd);
  if (!d) {
    close(fd);
    return false;
  }
  struct dirent *de;
  bool empty = true;
  while (empty && (de = readdir(d)))
    empty = !strcmp(de->d_name, ".") || !strcmp(de->d_name, "..");
  closedir(d);
  return empty;
}

static void copy_meta(int fd, const struct stat *st) {
  /* best effort, as cp -a: ownership first, since chown clears set-id bits */
  (void)!fchown(fd, st->st_uid, st->st_gid);
  (void)!fchmod(fd, st->st_mode & 07777);
  struct timespec t[2] = {st->st_atim, st->st_mtim};
  (void)futimens(fd, t);
}

static int copy_file(int sfd, int dfd, const char *name, const struct stat *st, berr_t *err) {
  cleanup_close int in = openat(sfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (in < 0)
    return berr_sys(err, errno, "open `%s` of the image to copy it into the volume", name);
  cleanup_close int out = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (out < 0)
    return berr_sys(err, errno, "create `%s` in the volume", name);
  for (;;) {
    ssize_t n = copy_file_range(in, NULL, out, NULL, 1 << 30, 0);
    if (n == 0)
      break;
    if (n < 0) {
      if (errno != EXDEV && errno != EINVAL && errno != ENOSYS && errno != EOPNOTSUPP)
        return berr_sys(err, errno, "copy `%s` into the volume", name);
      char buf[65536];
      ssize_t r;
      while ((r = read(in, buf, sizeof buf)) > 0)
        for (ssize_t off = 0; off < r;) {
          ssize_t w = write(out, buf + off, (size_t)(r - off));
          if (w < 0)
            return berr_sys(err, errno, "write `%s` into the volume", name);
          off += w;
        }
      if (r < 0)
        return berr_sys(err, errno, "read `%s` of the image", name);
      break;
    }
  }
  copy_meta(out, st);
  return 0;
}

/* Copies the directory sfd's entries into dfd, never following a symlink
 * (both fds were opened without following one). */
static int copy_tree(int sfd, int dfd, int depth, berr_t *err) {
  if (depth > COPY_MAX_DEPTH)
    return berr_set(err, BERR_LIMIT, "the image directory is nested over %d levels deep", COPY_MAX_DEPTH);
  int lfd = openat(sfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (lfd < 0)
    return berr_sys(err, errno, "open an image directory to copy it");
  cleanup_dir DIR *d = fdopendir(lfd);
  if (!d) {
    close(lfd);
    return berr_sys(err, errno, "opendir an image directory");
  }
  struct dirent *de;
  while ((de = readdir(d))) {
    const char *name = de->d_name;
    if (!strcmp(name, ".") || !strcmp(name, ".."))
      continue;
    struct stat st;
    if (fstatat(sfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
      return berr_sys(err, errno, "stat `%s` of the image", name);
    if (S_ISDIR(st.st_mode)) {
      if (mkdirat(dfd, name, 0700) < 0)
        return berr_sys(err, errno, "mkdir `%s` in the volume", name);
      cleanup_close int s2 = openat(sfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      cleanup_close int d2 = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (s2 < 0 || d2 < 0)
        return berr_sys(err, errno, "open `%s` to copy it into the volume", name);
      if (copy_tree(s2, d2, depth + 1, err) < 0)
        return -1;
      copy_meta(d2, &st);
    } else if (S_ISREG(st.st_mode)) {
      if (copy_file(sfd, dfd, name, &st, err) < 0)
        return -1;
    } else if (S_ISLNK(st.st_mode)) {
      char target[PATH_MAX];
      ssize_t n = readlinkat(sfd, name, target, sizeof target - 1);
      if (n < 0)
        return berr_sys(err, errno, "readlink `%s` of the image", name);
      target[n] = '\0';
      if (symlinkat(target, dfd, name) < 0)
        return berr_sys(err, errno, "symlink `%s` in the volume", name);
      (void)fchownat(dfd, name, st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW);
    } else if (S_ISFIFO(st.st_mode)) {
      /* no device nodes: a volume is host-side data that outlives the container */
      if (mknodat(dfd, name, st.st_mode, 0) < 0)
        return berr_sys(err, errno, "mknod `%s` in the volume", name);
      (void)fchownat(dfd, name, st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW);
    }
  }
  return 0;
}

/* ---- init side: mounting ------------------------------------------------------------- */

/* The host side again, and it must be what the daemon checked. */
static int open_source(const struct mount_spec *m, berr_t *err) {
  if (!m->host_path)
    return berr_set(err, BERR_INTERNAL, "mount on `%s`: the source was not prepared", m->target);
  int fd = open(m->host_path, O_PATH | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0)
    return berr_sys(err, errno, "open the mount source `%s`", m->host_path);
  struct stat st;
  if (fstat(fd, &st) < 0) {
    int e = errno;
    close(fd);
    return berr_sys(err, e, "fstat the mount source `%s`", m->host_path);
  }
  if (st.st_dev != m->host_dev || st.st_ino != m->host_ino) {
    close(fd);
    return berr_set(err, BERR_CONFLICT, "the mount source `%s` was replaced while the container started",
                    m->host_path);
  }
  return fd;
}

/* mount(2)'s flags that a read-only remount of a bind must keep (the kernel
 * refuses to drop locked ones, and dropping the others would loosen them). */
static unsigned long kept_flags(int fd) {
  struct statvfs sv;
  unsigned long f = 0;
  if (fstatvfs(fd, &sv) < 0)
    return 0;
  if (sv.f_flag & ST_NOSUID)
    f |= MS_NOSUID;
  if (sv.f_flag & ST_NODEV)
    f |= MS_NODEV;
  if (sv.f_flag & ST_NOEXEC)
    f |= MS_NOEXEC;
  if (sv.f_flag & ST_NOATIME)
    f |= MS_NOATIME;
  if (sv.f_flag & ST_NODIRATIME)
    f |= MS_NODIRATIME;
  if (sv.f_flag & ST_RELATIME)
    f |= MS_RELATIME;
  return f;
}

/* Where open_tree/mount_setattr are missing: bind through the fds' magic
 * links, then remount read-only (MS_REMOUNT|MS_BIND|MS_RDONLY) what now
 * sits on the target, found again through the rootfs. */
static int bind_legacy(int root_fd, int src, int dst, const struct mount_spec *m, berr_t *err) {
  char from[32], to[32];
  rootfs_fd_path(src, from);
  rootfs_fd_path(dst, to);
  if (mount(from, to, NULL, MS_BIND | MS_REC, NULL) < 0)
    return berr_sys(err, errno, "bind `%s` on `%s`", m->host_path, m->target);
  if (!m->read_only)
    return 0;
  cleanup_close int top = rootfs_open(root_fd, m->target, ROOTFS_LOOKUP, err);
  if (top < 0)
    return -1;
  rootfs_fd_path(top, to);
  if (mount(NULL, to, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | kept_flags(top), NULL) < 0)
    return berr_sys(err, errno, "remount `%s` read-only", m->target);
  return 0;
}

static int bind_one(int root_fd, int src, int dst, const struct mount_spec *m, berr_t *err) {
  cleanup_close int tree =
      open_tree(src, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH | AT_RECURSIVE);
  if (tree < 0) {
    if (errno == ENOSYS)
      return bind_legacy(root_fd, src, dst, m, err);
    return berr_sys(err, errno, "open_tree `%s`", m->host_path);
  }
  if (m->read_only) {
    /* read-only before it is attached, submounts too: nothing inside ever sees it writable */
    struct mount_attr attr = {.attr_set = MOUNT_ATTR_RDONLY};
    if (mount_setattr(tree, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof attr) < 0) {
      if (errno == ENOSYS)
        return bind_legacy(root_fd, src, dst, m, err);
      return berr_sys(err, errno, "mount_setattr read-only `%s`", m->host_path);
    }
  }
  if (move_mount(tree, "", dst, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
    return berr_sys(err, errno, "attach `%s` on `%s`", m->host_path, m->target);
  return 0;
}

static int tmpfs_one(int dst, const struct mount_spec *m, bool userns, berr_t *err) {
  char opts[128], to[32];
  int n = snprintf(opts, sizeof opts, "mode=%o", (unsigned)m->tmpfs_mode);
  if (m->tmpfs_size > 0)
    n += snprintf(opts + n, sizeof opts - (size_t)n, ",size=%" PRId64, m->tmpfs_size);
  if (userns) /* root inside owns it */
    snprintf(opts + n, sizeof opts - (size_t)n, ",uid=%d,gid=%d", NS_HOST_ID_BASE, NS_HOST_ID_BASE);
  rootfs_fd_path(dst, to);
  unsigned long flags = MS_NOSUID | MS_NODEV | (m->read_only ? MS_RDONLY : 0);
  if (mount("tmpfs", to, "tmpfs", flags, opts) < 0)
    return berr_sys(err, errno, "mount tmpfs (%s) on `%s`", opts, m->target);
  return 0;
}

static int apply_one(int root_fd, const struct container_spec *s, const struct mount_spec *m,
                     berr_t *err) {
  if (m->kind == MOUNT_TMPFS) {
    cleanup_close int dst = rootfs_open(root_fd, m->target, ROOTFS_MKDIR | ROOTFS_NO_ESCAPE, err);
    if (dst < 0)
      return berr_wrap(err, "tmpfs on `%s`", m->target);
    return tmpfs_one(dst, m, s->ns[NS_USER], err);
  }
  cleanup_close int src = open_source(m, err);
  if (src < 0)
    return -1;
  struct stat st;
  if (fstat(src, &st) < 0)
    return berr_sys(err, errno, "fstat `%s`", m->host_path);
  int how = (S_ISDIR(st.st_mode) ? ROOTFS_MKDIR : ROOTFS_MKFILE) | ROOTFS_NO_ESCAPE;
  cleanup_close int dst = rootfs_open(root_fd, m->target, how, err);
  if (dst < 0)
    return berr_wrap(err, "mount `%s`", m->source);
  if (m->kind == MOUNT_VOLUME) {
    cleanup_close int vol = open(m->host_path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (vol < 0)
      return berr_sys(err, errno, "open the volume `%s`", m->host_path);
    bool empty = dir_is_empty(vol);
    /* an unused volume belongs to the container's root, also when that is a mapped id */
    if (empty && s->ns[NS_USER] && fchown(vol, NS_HOST_ID_BASE, NS_HOST_ID_BASE) < 0)
      return berr_sys(err, errno, "chown the volume `%s` to %d", m->host_path, NS_HOST_ID_BASE);
    if (empty && !dir_is_empty(dst)) {
      /* as docker: a volume seen for the first time starts with what the image had there */
      if (copy_tree(dst, vol, 0, err) < 0)
        return berr_wrap(err, "copy `%s` of the image into the volume '%s'", m->target, m->source);
      struct stat ts;
      if (fstat(dst, &ts) == 0)
        copy_meta(vol, &ts);
    }
  }
  return bind_one(root_fd, src, dst, m, err);
}

static size_t depth_of(const char *p) {
  size_t n = 0;
  for (; *p; p++)
    n += *p == '/';
  return n;
}

int usermounts_apply(const struct container_spec *s, berr_t *err) {
  if (!s->n_mounts)
    return 0;
  cleanup_close int root_fd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (root_fd < 0)
    return berr_sys(err, errno, "open the rootfs");
  size_t order[SPEC_MAX_MOUNTS];
  size_t n = s->n_mounts < SPEC_MAX_MOUNTS ? s->n_mounts : SPEC_MAX_MOUNTS;
  for (size_t i = 0; i < n; i++)
    order[i] = i;
  /* insertion sort, stable: parents before what is mounted inside them */
  for (size_t i = 1; i < n; i++)
    for (size_t j = i; j > 0 && depth_of(s->mounts[order[j - 1]].target) >
                                    depth_of(s->mounts[order[j]].target); j--) {
      size_t t = order[j];
      order[j] = order[j - 1];
      order[j - 1] = t;
    }
  for (size_t i = 0; i < n; i++)
    if (apply_one(root_fd, s, &s->mounts[order[i]], err) < 0)
      return -1;
  return 0;
}
