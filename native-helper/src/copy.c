/* berth cp (copy.h): a child enters the container's file system and reads or
 * writes a tar there; the worker passes the bytes between it and the client. */
#include "copy.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cleanup.h"
#include "image-internal.h"
#include "mounts.h"
#include "stream.h"
#include "util.h"

/* A client that sends nothing for this long has gone. */
#define COPY_IDLE_MS 60000
#define COPY_WRITE_MS 30000
#define COPY_BUF (256u << 10)

/* What the child tells the worker at its end. */
struct report {
  int rc;
  berr_t err;
  uint64_t entries;
  uint64_t bytes;
};

/* ---- entering the container (in the child) ------------------------------------------ */

/* A running container: its root, seen from its own mount namespace (volumes
 * and other mounts included). Everything is opened through one fd of
 * /proc/PID, checked to be in the container's cgroup: a PID the init left
 * and another process took fails (ESRCH) or is refused, never entered. The
 * root is opened before the switch: PIDs are the host's, and the container's
 * /proc (if any) is not. */
static int enter_running(pid_t pid, const char *id, berr_t *err) {
  char p[64];
  snprintf(p, sizeof p, "/proc/%d", (int)pid);
  cleanup_close int proc = open(p, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (proc < 0)
    return errno == ENOENT ? berr_set(err, BERR_CONFLICT, "the container's init (PID %d) has exited", (int)pid)
                           : berr_sys(err, errno, "open `%s`", p);
  cleanup_close int cg = openat(proc, "cgroup", O_RDONLY | O_CLOEXEC);
  char text[4096];
  ssize_t n = cg < 0 ? -1 : read_retry(cg, text, sizeof text - 1);
  if (n < 0)
    return errno == ESRCH ? berr_set(err, BERR_CONFLICT, "the container's init (PID %d) has exited", (int)pid)
                          : berr_sys(err, errno, "read `%s/cgroup`", p);
  text[n] = '\0';
  if (!strstr(text, id))
    return berr_set(err, BERR_CONFLICT, "PID %d is no longer the container's init (it has exited)", (int)pid);
  cleanup_close int root = openat(proc, "root", O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (root < 0)
    return berr_sys(err, errno, "open `%s/root`", p);
  cleanup_close int ns = openat(proc, "ns/mnt", O_RDONLY | O_CLOEXEC);
  if (ns < 0)
    return berr_sys(err, errno, "open `%s/ns/mnt`", p);
  if (setns(ns, CLONE_NEWNS) < 0)
    return berr_sys(err, errno, "setns into the mount namespace of PID %d", (int)pid);
  if (fchdir(root) < 0 || chroot(".") < 0 || chdir("/") < 0)
    return berr_sys(err, errno, "chroot into the root of PID %d", (int)pid);
  return 0;
}

/* A container that is not running: its overlay, mounted in a mount namespace
 * of this child only (gone with it), read-only unless rw. */
static int enter_stopped(const struct copy_target *t, const char *mnt, bool rw, berr_t *err) {
  if (unshare(CLONE_NEWNS) < 0)
    return berr_sys(err, errno, "unshare a mount namespace");
  if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
    return berr_sys(err, errno, "make / private");
  cleanup_free char *opts = NULL, *dir = NULL;
  if (mounts_overlay_options(t->lowers, t->upper, t->work, &opts, &dir, err) < 0)
    return -1;
  if (dir && chdir(dir) < 0)
    return berr_sys(err, errno, "chdir `%s`", dir);
  unsigned long flags = MS_NODEV | MS_NOSUID | (rw ? 0 : MS_RDONLY);
  if (mount("overlay", mnt, "overlay", flags, opts) < 0)
    return berr_sys(err, errno, "mount the container's overlay on `%s`", mnt);
  if (chdir(mnt) < 0 || chroot(".") < 0 || chdir("/") < 0)
    return berr_sys(err, errno, "chroot into `%s`", mnt);
  return 0;
}

static int enter(const struct copy_target *t, const char *mnt, bool rw, berr_t *err) {
  return t->pid > 0 ? enter_running(t->pid, t->id, err) : enter_stopped(t, mnt, rw, err);
}

/* ---- the tar (in the child, inside the container) ------------------------------------ */

static int archive_fail(berr_t *err, struct archive *a, const char *what, const char *path) {
  int e = archive_errno(a);
  const char *m = archive_error_string(a);
  return berr_set(err, e == ENOSPC || e == EDQUOT ? BERR_LIMIT : BERR_INVALID, "%s `%s`: %s", what, path,
                  m ? m : strerror(e ? e : EIO));
}

static int tar_out(int out_fd, const char *path, const char *name, struct report *rep, berr_t *err) {
  struct stat st;
  if (lstat(path, &st) < 0)
    return errno == ENOENT || errno == ENOTDIR ? berr_set(err, BERR_NOT_FOUND, "no `%s` in the container", path)
                                               : berr_sys(err, errno, "lstat `%s`", path);
  struct archive *disk = archive_read_disk_new(), *tar = archive_write_new();
  struct archive_entry *e = archive_entry_new();
  cleanup_free char *buf = malloc(COPY_BUF);
  int ret = -1;
  if (!disk || !tar || !e || !buf) {
    berr_sys(err, ENOMEM, "copy");
    goto out;
  }
  /* no archive_read_disk_set_standard_lookup: owners as numbers (copy.h) */
  archive_read_disk_set_symlink_physical(disk);
  if (archive_write_set_format_pax_restricted(tar) != ARCHIVE_OK || archive_write_open_fd(tar, out_fd) != ARCHIVE_OK) {
    archive_fail(err, tar, "write a tar of", path);
    goto out;
  }
  if (archive_read_disk_open(disk, path) != ARCHIVE_OK) {
    archive_fail(err, disk, "read", path);
    goto out;
  }
  size_t plen = strlen(path);
  for (;;) {
    archive_entry_clear(e);
    int r = archive_read_next_header2(disk, e);
    if (r == ARCHIVE_EOF)
      break;
    /* the name in the container, for messages: the entry's own is replaced below */
    cleanup_free char *full = archive_entry_pathname(e) ? strdup(archive_entry_pathname(e)) : NULL;
    if ((r != ARCHIVE_OK && r != ARCHIVE_WARN) || !full || strncmp(full, path, plen)) {
      archive_fail(err, disk, "read", full ? full : path);
      goto out;
    }
    cleanup_free char *rel = NULL;
    if (asprintf(&rel, "%s%s", name, full + plen) < 0) {
      rel = NULL;
      berr_sys(err, ENOMEM, "copy");
      goto out;
    }
    archive_entry_set_pathname(e, rel);
    archive_read_disk_descend(disk);
    bool data = archive_entry_filetype(e) == AE_IFREG && archive_entry_size(e) > 0;
    if (archive_write_header(tar, e) < ARCHIVE_WARN) {
      archive_fail(err, tar, "write the tar entry for", full);
      goto out;
    }
    rep->entries++;
    while (data) {
      la_ssize_t n = archive_read_data(disk, buf, COPY_BUF);
      if (n < 0) {
        archive_fail(err, disk, "read", full);
        goto out;
      }
      if (n == 0)
        break;
      if (archive_write_data(tar, buf, (size_t)n) < 0) {
        archive_fail(err, tar, "write the data of", full);
        goto out;
      }
      rep->bytes += (uint64_t)n;
    }
  }
  if (archive_write_close(tar) != ARCHIVE_OK) {
    archive_fail(err, tar, "end the tar of", path);
    goto out;
  }
  ret = 0;
out:
  if (e)
    archive_entry_free(e);
  if (disk)
    archive_read_free(disk);
  if (tar)
    archive_write_free(tar);
  return ret;
}

/* The entry's name with its first component `top` replaced by `to` (NULL:
 * unchanged). *top is set from the first entry. */
static char *renamed(const char *p, char top[NAME_MAX + 1], const char *to) {
  while (p[0] == '.' && p[1] == '/')
    p += 2;
  if (!to)
    return strdup(p);
  size_t n = strcspn(p, "/");
  if (!top[0] && n > 0 && n <= NAME_MAX)
    snprintf(top, NAME_MAX + 1, "%.*s", (int)n, p);
  char *out = NULL;
  if (n == strlen(top) && !strncmp(p, top, n))
    return asprintf(&out, "%s%s", to, p + n) < 0 ? NULL : out;
  return strdup(p);
}

static int tar_in(int in_fd, const char *path, struct report *rep, berr_t *err) {
  /* into path when it is a directory, else as path */
  const char *to = NULL;
  struct stat st;
  if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
    if (chdir(path) < 0)
      return berr_sys(err, errno, "chdir `%s`", path);
  } else {
    const char *slash = strrchr(path, '/');
    to = slash + 1;
    cleanup_free char *parent = strndup(path, slash == path ? 1 : (size_t)(slash - path));
    if (!parent)
      return berr_sys(err, ENOMEM, "copy");
    if (stat(parent, &st) < 0 || !S_ISDIR(st.st_mode))
      return berr_set(err, BERR_NOT_FOUND, "no directory `%s` in the container to copy into", parent);
    if (chdir(parent) < 0)
      return berr_sys(err, errno, "chdir `%s`", parent);
  }
  struct archive *tar = archive_read_new(), *disk = archive_write_disk_new();
  cleanup_free char *buf = malloc(COPY_BUF);
  int ret = -1;
  char top[NAME_MAX + 1] = "";
  if (!tar || !disk || !buf) {
    berr_sys(err, ENOMEM, "copy");
    goto out;
  }
  archive_read_support_format_tar(tar);
  archive_read_support_format_gnutar(tar);
  /* no archive_write_disk_set_standard_lookup: owners as numbers (copy.h) */
  archive_write_disk_set_options(disk, ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_OWNER | ARCHIVE_EXTRACT_TIME |
                                           ARCHIVE_EXTRACT_XATTR | ARCHIVE_EXTRACT_SECURE_SYMLINKS |
                                           ARCHIVE_EXTRACT_SECURE_NODOTDOT |
                                           ARCHIVE_EXTRACT_SECURE_NOABSOLUTEPATHS);
  if (archive_read_open_fd(tar, in_fd, COPY_BUF) != ARCHIVE_OK) {
    archive_fail(err, tar, "read the tar for", path);
    goto out;
  }
  for (;;) {
    struct archive_entry *e;
    int r = archive_read_next_header(tar, &e);
    if (r == ARCHIVE_EOF)
      break;
    if (r < ARCHIVE_WARN) {
      archive_fail(err, tar, "read the tar for", path);
      goto out;
    }
    cleanup_free char *name = renamed(archive_entry_pathname(e), top, to);
    const char *link = archive_entry_hardlink(e);
    cleanup_free char *lname = link ? renamed(link, top, to) : NULL;
    if (!name || (link && !lname)) {
      berr_sys(err, ENOMEM, "copy");
      goto out;
    }
    if (!name[0])
      continue; /* "./": the directory copied into */
    archive_entry_set_pathname(e, name);
    if (lname)
      archive_entry_set_hardlink(e, lname);
    if (archive_write_header(disk, e) < ARCHIVE_WARN) {
      archive_fail(err, disk, "write", name);
      goto out;
    }
    rep->entries++;
    for (;;) {
      const void *block;
      size_t n;
      la_int64_t off;
      r = archive_read_data_block(tar, &block, &n, &off);
      if (r == ARCHIVE_EOF)
        break;
      if (r < ARCHIVE_WARN) {
        archive_fail(err, tar, "read the data of", name);
        goto out;
      }
      if (archive_write_data_block(disk, block, n, off) < ARCHIVE_WARN) {
        archive_fail(err, disk, "write", name);
        goto out;
      }
      rep->bytes += n;
    }
    if (archive_write_finish_entry(disk) < ARCHIVE_WARN) {
      archive_fail(err, disk, "write", name);
      goto out;
    }
  }
  /* directories' modes and times, set last */
  if (archive_write_close(disk) != ARCHIVE_OK) {
    archive_fail(err, disk, "finish the copy into", path);
    goto out;
  }
  ret = 0;
out:
  if (tar)
    archive_read_free(tar);
  if (disk)
    archive_write_free(disk);
  return ret;
}

/* ---- the worker's side -------------------------------------------------------------- */

/* `path`: absolute, clean of NUL (json), with no trailing slash (but "/"). */
static int check_path(const char *path, char **out, berr_t *err) {
  if (!path || path[0] != '/')
    return berr_set(err, BERR_INVALID, "`path` must be absolute inside the container, not \"%.200s\"", path ? path : "");
  if (strlen(path) >= PATH_MAX)
    return berr_set(err, BERR_INVALID, "`path` is longer than %d bytes", PATH_MAX - 1);
  char *p = strdup(path);
  if (!p)
    return berr_sys(err, ENOMEM, "copy");
  for (size_t n = strlen(p); n > 1 && p[n - 1] == '/'; n--)
    p[n - 1] = '\0';
  *out = p;
  return 0;
}

static bool one_name(const char *s) {
  return s && s[0] && strlen(s) <= NAME_MAX && !strchr(s, '/') && strcmp(s, ".") && strcmp(s, "..");
}

/* A container that is not running gets its overlay mounted on a fresh,
 * locked dir under the store's tmp/ (a prune meanwhile leaves it). */
struct mountpoint {
  char *work;
  int lock;
  char *mnt;
};

static int mountpoint_make(const struct copy_target *t, struct mountpoint *m, berr_t *err) {
  m->work = m->mnt = NULL;
  m->lock = -1;
  if (t->pid > 0)
    return 0;
  m->lock = image_tmp_create(t->store, "copy", &m->work, err);
  if (m->lock < 0)
    return -1;
  if (asprintf(&m->mnt, "%s/rootfs", m->work) < 0) {
    m->mnt = NULL;
    return berr_sys(err, ENOMEM, "copy");
  }
  if (mkdir(m->mnt, 0700) < 0)
    return berr_sys(err, errno, "mkdir `%s`", m->mnt);
  return 0;
}

static void mountpoint_free(struct mountpoint *m) {
  if (m->work) {
    berr_t ignored;
    rm_rf(m->work, &ignored); /* the mount went with the child's namespace */
  }
  if (m->lock >= 0)
    close(m->lock);
  free(m->work);
  free(m->mnt);
}

struct child {
  pid_t pid;
  int data; /* the worker's end of the tar pipe */
  int report;
  struct report rep; /* what it said at its end */
};

/* Forks the child: it enters the container and runs out (tar of path into the
 * pipe) or in (tar from the pipe into path). */
static int spawn(const struct copy_target *t, const char *mnt, bool in, const char *path, const char *name,
                 struct child *c, berr_t *err) {
  int data[2], rep[2];
  if (pipe2(data, O_CLOEXEC) < 0)
    return berr_sys(err, errno, "pipe");
  if (pipe2(rep, O_CLOEXEC) < 0) {
    int e = errno;
    close(data[0]);
    close(data[1]);
    return berr_sys(err, e, "pipe");
  }
  pid_t pid = fork();
  if (pid < 0) {
    int e = errno;
    close(data[0]);
    close(data[1]);
    close(rep[0]);
    close(rep[1]);
    return berr_sys(err, e, "fork the copier");
  }
  if (pid == 0) {
    close(rep[0]);
    close(in ? data[1] : data[0]);
    struct report r = {0};
    umask(0);
    r.rc = enter(t, mnt, in, &r.err);
    if (r.rc == 0)
      r.rc = in ? tar_in(data[0], path, &r, &r.err) : tar_out(data[1], path, name, &r, &r.err);
    close(in ? data[0] : data[1]);
    _exit(write_all(rep[1], &r, sizeof r) < 0 ? 2 : 0);
  }
  close(rep[1]);
  close(in ? data[0] : data[1]);
  c->pid = pid;
  c->data = in ? data[1] : data[0];
  c->report = rep[0];
  return 0;
}

/* Waits for the child (killed first when kill_it) and takes its report into c->rep. */
static int finish(struct child *c, bool kill_it, berr_t *err) {
  if (c->data >= 0)
    close(c->data);
  c->data = -1;
  if (kill_it)
    kill(c->pid, SIGKILL);
  bool have = read_full(c->report, &c->rep, sizeof c->rep) == 0;
  close(c->report);
  int status = 0;
  while (waitpid(c->pid, &status, 0) < 0 && errno == EINTR)
    ;
  if (kill_it)
    return -1;
  if (!have)
    return berr_set(err, BERR_INTERNAL, "the copier ended without a report (%s %d)",
                    WIFSIGNALED(status) ? "signal" : "status",
                    WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
  if (c->rep.rc < 0) {
    *err = c->rep.err;
    return -1;
  }
  return 0;
}

static json_object *summary(const struct report *r) {
  json_object *o = json_object_new_object();
  json_object_object_add(o, "entries", json_object_new_int64((int64_t)r->entries));
  json_object_object_add(o, "bytes", json_object_new_int64((int64_t)r->bytes));
  return o;
}

int copy_out(struct worker *w, const struct copy_target *t, const char *path, const char *name,
             json_object **result, berr_t *err) {
  cleanup_free char *p = NULL;
  if (check_path(path, &p, err) < 0)
    return -1;
  if (!strcmp(p, "/"))
    return berr_set(err, BERR_INVALID, "copy out of `/` is a copy of the whole root file system: berth export makes that tar");
  if (name && !one_name(name))
    return berr_set(err, BERR_INVALID, "`name` must be one file name (no `/`, not `.` or `..`), not \"%.200s\"", name);
  /* the tar's names must not climb out of where the client unpacks it */
  if (!name && !one_name(strrchr(p, '/') + 1))
    return berr_set(err, BERR_INVALID, "`%.200s` ends in `.` or `..`: name the directory itself", p);
  struct mountpoint m;
  struct child c;
  if (mountpoint_make(t, &m, err) < 0 || spawn(t, m.mnt, false, p, name ? name : strrchr(p, '/') + 1, &c, err) < 0) {
    mountpoint_free(&m);
    return -1;
  }
  cleanup_free char *buf = malloc(FRAME_MAX_PAYLOAD);
  bool broken = !buf;
  if (!buf)
    berr_sys(err, ENOMEM, "copy");
  while (!broken) {
    ssize_t n = read_retry(c.data, buf, FRAME_MAX_PAYLOAD);
    if (n == 0)
      break;
    if (n < 0) {
      broken = true;
      berr_sys(err, errno, "read from the copier");
    } else if (frame_write(w->fd, FRAME_STDOUT, buf, (size_t)n, COPY_WRITE_MS, err) < 0) {
      broken = true;
      berr_wrap(err, "the client went away");
    }
  }
  berr_t cerr;
  int ret = finish(&c, broken, broken ? &cerr : err);
  mountpoint_free(&m);
  if (ret < 0)
    return -1;
  *result = summary(&c.rep);
  return 0;
}

/* Passes the client's STDIN frames to the copier until STDIN_EOF; then c->rep
 * is the copier's report. */
static int copy_in_feed(struct worker *w, struct child *c, berr_t *err) {
  bool broken = false, child_ended = false;
  while (!broken) {
    uint8_t type;
    const uint8_t *payload;
    uint32_t len;
    int r = worker_read(w, &type, &payload, &len, COPY_IDLE_MS, err);
    if (r < 0) {
      broken = true;
    } else if (r == FRAME_EOF) {
      broken = true;
      berr_set(err, BERR_INVALID, "the client closed the connection before the end of the tar");
    } else if (type == FRAME_STDIN_EOF) {
      break;
    } else if (type != FRAME_STDIN) {
      broken = true;
      berr_set(err, BERR_BAD_REQUEST, "container.copy.in takes STDIN and STDIN_EOF frames, not type %u", type);
    } else if (!child_ended && write_all(c->data, payload, len) < 0) {
      /* the copier stopped reading: failed (its report says why), or done
       * with the tar before the padding after its end, which is skipped */
      child_ended = true;
      if (finish(c, false, err) < 0)
        return -1;
    }
  }
  berr_t cerr;
  if (!child_ended && finish(c, broken, broken ? &cerr : err) < 0)
    return -1;
  return broken ? -1 : 0;
}

int copy_in(struct worker *w, const struct copy_target *t, const char *path, json_object **result, berr_t *err) {
  cleanup_free char *p = NULL;
  if (check_path(path, &p, err) < 0)
    return -1;
  struct mountpoint m;
  struct child c;
  if (mountpoint_make(t, &m, err) < 0 || spawn(t, m.mnt, true, p, NULL, &c, err) < 0) {
    mountpoint_free(&m);
    return -1;
  }
  int ret = copy_in_feed(w, &c, err);
  mountpoint_free(&m);
  if (ret < 0)
    return -1;
  *result = summary(&c.rep);
  return 0;
}
