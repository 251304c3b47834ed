/* Commit and export. Both walk a tree that a running container may be
 * changing, so the walk is our own, not libarchive's read_disk (which
 * reopens names and follows a symlink swapped in meanwhile): every name is
 * opened O_PATH|O_NOFOLLOW relative to its directory's fd, data is read by
 * reopening that fd, and the entries go to a pax tar. A commit's
 * tar goes through a raw gzip writer, hashing the tar stream (diffID) and
 * the gzip bytes (blob digest) on the way, so the file is written once;
 * the store then takes it as any imported layer (image-internal.h). An
 * export reads the merged view through a private read-only overlay mount. */
#include "commit.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <linux/limits.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "cleanup.h"
#include "image-internal.h"
#include "userpath.h"
#include "util.h"

#define IO_BUF (128 * 1024)
#define PROGRESS_EVERY_BYTES (4u << 20)
#define JSON_FLAGS (JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)
#define WH_PREFIX ".wh."
#define WH_OPAQUE ".wh..wh..opq"
#define WALK_PATH_MAX 4096
#define WALK_MAX_DEPTH 512

/* ---- the output chain ----------------------------------------------------------- */

struct sink {
  int fd;
  struct archive *gz;   /* raw+gzip writer, or NULL for a plain tar */
  struct digest diff;   /* the tar stream */
  struct digest blob;   /* the bytes of the file */
  bool hashing;
  uint64_t file_bytes;
};

static la_ssize_t file_cb(struct archive *a, void *ud, const void *buf, size_t len) {
  struct sink *s = ud;
  berr_t e;
  if (s->hashing && digest_update(&s->blob, buf, len, &e) < 0) {
    archive_set_error(a, EIO, "%s", e.msg);
    return -1;
  }
  if (write_all(s->fd, buf, len) < 0) {
    archive_set_error(a, errno, "write the tarball");
    return -1;
  }
  s->file_bytes += len;
  return (la_ssize_t)len;
}

/* The tar writer's output: hashed, then compressed or written out. */
static la_ssize_t tar_cb(struct archive *a, void *ud, const void *buf, size_t len) {
  struct sink *s = ud;
  berr_t e;
  if (s->hashing && digest_update(&s->diff, buf, len, &e) < 0) {
    archive_set_error(a, EIO, "%s", e.msg);
    return -1;
  }
  if (!s->gz)
    return file_cb(a, ud, buf, len);
  for (size_t off = 0; off < len;) {
    la_ssize_t w = archive_write_data(s->gz, (const char *)buf + off, len - off);
    if (w <= 0) {
      archive_set_error(a, archive_errno(s->gz) > 0 ? archive_errno(s->gz) : EIO, "compress: %s",
                        archive_error_string(s->gz) ? archive_error_string(s->gz) : "write error");
      return -1;
    }
    off += (size_t)w;
  }
  return (la_ssize_t)len;
}

static int archive_fail(berr_t *err, struct archive *a, const char *what) {
  int e = archive_errno(a);
  return berr_set(err, BERR_INTERNAL, "%s: %s%s%s", what, archive_error_string(a) ? archive_error_string(a) : "failed",
                  e > 0 ? ": " : "", e > 0 ? strerror(e) : "");
}

/* Opens the chain on s->fd: a pax tar, gzip'd when gzip. */
static int sink_open(struct sink *s, bool gzip, bool hashing, struct archive **tar_out, berr_t *err) {
  s->hashing = hashing;
  if (hashing && (digest_init(&s->diff, err) < 0 || digest_init(&s->blob, err) < 0))
    return -1;
  if (gzip) {
    s->gz = archive_write_new();
    if (!s->gz)
      return berr_sys(err, ENOMEM, "archive writer");
    struct archive_entry *e = archive_entry_new();
    archive_entry_set_pathname(e, "layer.tar");
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0644);
    if (archive_write_set_format_raw(s->gz) != ARCHIVE_OK || archive_write_add_filter_gzip(s->gz) != ARCHIVE_OK ||
        archive_write_set_bytes_in_last_block(s->gz, 1) != ARCHIVE_OK ||
        archive_write_open(s->gz, s, NULL, file_cb, NULL) != ARCHIVE_OK ||
        archive_write_header(s->gz, e) != ARCHIVE_OK) {
      archive_entry_free(e);
      return archive_fail(err, s->gz, "start the gzip stream");
    }
    archive_entry_free(e);
  }
  struct archive *tar = archive_write_new();
  if (!tar)
    return berr_sys(err, ENOMEM, "archive writer");
  *tar_out = tar;
  if (archive_write_set_format_pax_restricted(tar) != ARCHIVE_OK ||
      archive_write_set_bytes_per_block(tar, 0) != ARCHIVE_OK ||
      archive_write_open(tar, s, NULL, tar_cb, NULL) != ARCHIVE_OK)
    return archive_fail(err, tar, "start the tar stream");
  return 0;
}

static int sink_close(struct sink *s, struct archive *tar, berr_t *err) {
  if (tar && archive_write_close(tar) != ARCHIVE_OK)
    return archive_fail(err, tar, "finish the tar stream");
  if (s->gz && archive_write_close(s->gz) != ARCHIVE_OK)
    return archive_fail(err, s->gz, "finish the gzip stream");
  return 0;
}

static void sink_free(struct sink *s, struct archive *tar) {
  if (tar)
    archive_write_free(tar);
  if (s->gz)
    archive_write_free(s->gz);
  s->gz = NULL;
  digest_free(&s->diff);
  digest_free(&s->blob);
}

/* ---- the tree walk ---------------------------------------------------------------- */

enum walk_mode { WALK_LAYER, WALK_ROOTFS };

struct tree_out {
  struct archive *tar;
  struct archive_entry_linkresolver *links;
  enum walk_mode mode;
  commit_progress_fn progress;
  void *ctx;
  uint64_t entries, data_bytes, next_report;
  char *buf;
};

static int report(struct tree_out *t, const char *item, berr_t *err) {
  if (!t->progress)
    return 0;
  json_object *ev = json_object_new_object();
  json_object_object_add(ev, "phase", json_object_new_string("write"));
  if (item)
    json_object_object_add(ev, "item", json_object_new_string(item));
  json_object_object_add(ev, "done", json_object_new_int64((int64_t)t->data_bytes));
  json_object_object_add(ev, "entries", json_object_new_int64((int64_t)t->entries));
  return t->progress(t->ctx, ev, err);
}

/* Drops trusted.overlay.* (overlay's own bookkeeping); tells whether the
 * dir was opaque and refuses what a layer tar cannot carry. */
static int filter_xattrs(struct archive_entry *e, const char *rel, bool *opaque, berr_t *err) {
  *opaque = false;
  if (archive_entry_xattr_reset(e) == 0)
    return 0;
  const char *name;
  const void *value;
  size_t size;
  int n = archive_entry_xattr_count(e), k = 0;
  struct kept { char *name; void *value; size_t size; } *kept = calloc((size_t)n, sizeof *kept);
  if (!kept)
    return berr_sys(err, ENOMEM, "xattrs");
  int ret = 0;
  while (archive_entry_xattr_next(e, &name, &value, &size) == ARCHIVE_OK) {
    if (!strncmp(name, "trusted.overlay.", 16)) {
      const char *what = name + 16;
      if (!strcmp(what, "opaque") && size >= 1 && ((const char *)value)[0] == 'y')
        *opaque = true;
      if (!strcmp(what, "redirect") && ret == 0)
        ret = berr_set(err, BERR_INVALID, "`/%s` is a renamed directory (overlay redirect): its files live in a lower layer; berth cannot commit it", rel);
      if (!strcmp(what, "metacopy") && ret == 0)
        ret = berr_set(err, BERR_INVALID, "`/%s` is a metadata-only copy (overlay metacopy): its data lives in a lower layer; berth cannot commit it", rel);
      continue;
    }
    if (k >= n)
      continue;
    kept[k].name = strdup(name);
    kept[k].value = malloc(size ? size : 1);
    if (kept[k].value && size)
      memcpy(kept[k].value, value, size);
    kept[k].size = size;
    k++;
  }
  archive_entry_xattr_clear(e);
  for (int i = 0; i < k; i++) {
    if (kept[i].name && kept[i].value)
      archive_entry_xattr_add_entry(e, kept[i].name, kept[i].value, kept[i].size);
    free(kept[i].name);
    free(kept[i].value);
  }
  free(kept);
  return ret;
}

static int write_entry(struct tree_out *t, struct archive_entry *e, int data_fd, berr_t *err) {
  const char *path = archive_entry_pathname(e);
  int r = archive_write_header(t->tar, e);
  if (r < ARCHIVE_WARN)
    return berr_set(err, BERR_INTERNAL, "write `/%s` into the tar: %s", path,
                    archive_error_string(t->tar) ? archive_error_string(t->tar) : "failed");
  int64_t left = data_fd >= 0 ? archive_entry_size(e) : 0;
  while (left > 0) {
    ssize_t n = read(data_fd, t->buf, left < IO_BUF ? (size_t)left : IO_BUF);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return berr_sys(err, errno, "read `/%s`", path);
    if (n == 0)
      break; /* shrank since its stat (a running container): the tar pads it */
    if (archive_write_data(t->tar, t->buf, (size_t)n) < 0)
      return archive_fail(err, t->tar, "write into the tar");
    left -= n;
    t->data_bytes += (uint64_t)n;
    if (t->data_bytes >= t->next_report) {
      t->next_report = t->data_bytes + PROGRESS_EVERY_BYTES;
      if (report(t, path, err) < 0)
        return -1;
    }
  }
  if (archive_write_finish_entry(t->tar) < ARCHIVE_WARN)
    return archive_fail(err, t->tar, "finish a tar entry");
  t->entries++;
  return 0;
}

/* A regular empty file standing for a whiteout or an opaque marker. */
static int write_marker(struct tree_out *t, const char *path, const struct stat *like, berr_t *err) {
  struct archive_entry *m = archive_entry_new();
  if (!m)
    return berr_sys(err, ENOMEM, "tar entry");
  archive_entry_set_pathname(m, path);
  archive_entry_set_filetype(m, AE_IFREG);
  archive_entry_set_perm(m, 0644);
  archive_entry_set_size(m, 0);
  archive_entry_set_uid(m, 0);
  archive_entry_set_gid(m, 0);
  archive_entry_set_mtime(m, like->st_mtim.tv_sec, like->st_mtim.tv_nsec);
  int r = write_entry(t, m, -1, err);
  archive_entry_free(m);
  return r;
}

/* Hands an entry through the hardlink resolver: a second path to an inode
 * becomes a hardlink entry without data. */
static int write_linked(struct tree_out *t, struct archive_entry *e, int data_fd, berr_t *err) {
  struct archive_entry *spare = NULL;
  struct archive_entry *cur = e;
  archive_entry_linkify(t->links, &cur, &spare);
  int r = 0;
  if (cur)
    r = write_entry(t, cur, cur == e && archive_entry_hardlink(cur) == NULL ? data_fd : -1, err);
  if (r == 0 && spare)
    r = write_entry(t, spare, -1, err);
  if (spare)
    archive_entry_free(spare);
  if (cur && cur != e)
    archive_entry_free(cur);
  return r;
}

static int cmp_name(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static void free_names(char **v, size_t n) {
  for (size_t i = 0; i < n; i++)
    free(v[i]);
  free(v);
}

/* The names in a directory, sorted (the same tree gives the same tar). */
static int dir_names(int dfd, const char *rel, char ***out, size_t *count, berr_t *err) {
  *out = NULL;
  *count = 0;
  int fd = dup(dfd);
  if (fd < 0)
    return berr_sys(err, errno, "dup the fd of `/%s`", rel);
  DIR *d = fdopendir(fd);
  if (!d) {
    int e = errno;
    close(fd);
    return berr_sys(err, e, "opendir `/%s`", rel);
  }
  char **v = NULL;
  size_t n = 0, cap = 0;
  for (;;) {
    errno = 0;
    struct dirent *de = readdir(d);
    if (!de) {
      if (errno) {
        int e = errno;
        closedir(d);
        free_names(v, n);
        return berr_sys(err, e, "readdir `/%s`", rel);
      }
      break;
    }
    if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
      continue;
    if (n == cap) {
      cap = cap ? cap * 2 : 32;
      char **nv = realloc(v, cap * sizeof *nv);
      if (!nv) {
        closedir(d);
        free_names(v, n);
        return berr_sys(err, ENOMEM, "read `/%s`", rel);
      }
      v = nv;
    }
    if (!(v[n] = strdup(de->d_name))) {
      closedir(d);
      free_names(v, n);
      return berr_sys(err, ENOMEM, "read `/%s`", rel);
    }
    n++;
  }
  closedir(d);
  if (n)
    qsort(v, n, sizeof *v, cmp_name);
  *out = v;
  *count = n;
  return 0;
}

/* The inode's xattrs onto the entry, read through the O_PATH fd's magic
 * link (the inode itself, whatever its name has become since). */
static int read_xattrs(int pfd, struct archive_entry *e, const char *rel, berr_t *err) {
  char proc[64];
  snprintf(proc, sizeof proc, "/proc/self/fd/%d", pfd);
  ssize_t len = listxattr(proc, NULL, 0);
  if (len < 0 && (errno == ENOTSUP || errno == ENOENT))
    return 0;
  if (len < 0)
    return berr_sys(err, errno, "listxattr `/%s`", rel);
  if (len == 0)
    return 0;
  cleanup_free char *names = malloc((size_t)len + 1);
  cleanup_free char *val = malloc(XATTR_SIZE_MAX);
  if (!names || !val)
    return berr_sys(err, ENOMEM, "xattrs");
  len = listxattr(proc, names, (size_t)len);
  if (len < 0)
    return errno == ERANGE ? 0 : berr_sys(err, errno, "listxattr `/%s`", rel);
  for (char *nm = names; nm < names + len; nm += strlen(nm) + 1) {
    ssize_t vl = getxattr(proc, nm, val, XATTR_SIZE_MAX);
    if (vl < 0) {
      if (errno == ENODATA || errno == ENOTSUP)
        continue;
      return berr_sys(err, errno, "getxattr `/%s` %s", rel, nm);
    }
    archive_entry_xattr_add_entry(e, nm, val, (size_t)vl);
  }
  return 0;
}

static int walk_dir(struct tree_out *t, int dfd, char *rel, size_t rlen, int depth, berr_t *err);

/* One name in a directory: opened O_PATH|O_NOFOLLOW relative to its
 * directory's fd, so a name the container swaps for a symlink meanwhile is
 * archived as that symlink, never followed to the host's files. */
static int walk_one(struct tree_out *t, int dfd, const char *name, char *rel, size_t rlen, int depth,
                    berr_t *err) {
  size_t nl = strlen(name);
  if (rlen + nl + 2 > WALK_PATH_MAX)
    return berr_set(err, BERR_LIMIT, "`/%.200s/%s`: path longer than %d bytes", rel, name, WALK_PATH_MAX);
  size_t saved = rlen;
  if (rlen)
    rel[rlen++] = '/';
  memcpy(rel + rlen, name, nl + 1);
  rlen += nl;
  int ret = -1;
  struct archive_entry *e = NULL;
  int data_fd = -1;
  int pfd = openat(dfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
  if (pfd < 0) {
    ret = errno == ENOENT ? 0 : berr_sys(err, errno, "open `/%s`", rel); /* gone: a running container */
    goto out;
  }
  struct stat st;
  if (fstat(pfd, &st) < 0) {
    berr_sys(err, errno, "stat `/%s`", rel);
    goto out;
  }
  if (S_ISSOCK(st.st_mode)) { /* a running process's, not a file: tar cannot carry it either */
    ret = 0;
    goto out;
  }
  if (t->mode == WALK_LAYER && S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0)) {
    char wh[WALK_PATH_MAX + 8];
    const char *slash = strrchr(rel, '/');
    if (slash)
      snprintf(wh, sizeof wh, "%.*s/" WH_PREFIX "%s", (int)(slash - rel), rel, slash + 1);
    else
      snprintf(wh, sizeof wh, WH_PREFIX "%s", rel);
    ret = write_marker(t, wh, &st, err);
    goto out;
  }
  if (!(e = archive_entry_new())) {
    berr_sys(err, ENOMEM, "tar entry");
    goto out;
  }
  archive_entry_copy_stat(e, &st);
  archive_entry_unset_atime(e);
  archive_entry_unset_ctime(e);
  archive_entry_unset_birthtime(e);
  archive_entry_set_pathname(e, rel);
  if (!S_ISREG(st.st_mode))
    archive_entry_set_size(e, 0);
  if (S_ISLNK(st.st_mode)) {
    char target[WALK_PATH_MAX];
    ssize_t n = readlinkat(pfd, "", target, sizeof target - 1);
    if (n < 0) {
      berr_sys(err, errno, "readlink `/%s`", rel);
      goto out;
    }
    target[n] = '\0';
    archive_entry_set_symlink(e, target);
  } else if (read_xattrs(pfd, e, rel, err) < 0) {
    goto out;
  }
  bool opaque = false;
  if (filter_xattrs(e, rel, &opaque, err) < 0)
    goto out;
  if (S_ISREG(st.st_mode)) {
    char proc[64];
    snprintf(proc, sizeof proc, "/proc/self/fd/%d", pfd);
    data_fd = open(proc, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (data_fd < 0) {
      berr_sys(err, errno, "open `/%s`", rel);
      goto out;
    }
  }
  if (write_linked(t, e, data_fd, err) < 0)
    goto out;
  if (!S_ISDIR(st.st_mode)) {
    ret = 0;
    goto out;
  }
  if (opaque && t->mode == WALK_LAYER) {
    char m[WALK_PATH_MAX + 16];
    snprintf(m, sizeof m, "%s/" WH_OPAQUE, rel);
    if (write_marker(t, m, &st, err) < 0)
      goto out;
  }
  /* the container's kernel file systems: the dirs only */
  if (t->mode == WALK_ROOTFS && depth == 0 && (!strcmp(name, "proc") || !strcmp(name, "sys") || !strcmp(name, "dev"))) {
    ret = 0;
    goto out;
  }
  if (depth + 1 > WALK_MAX_DEPTH) {
    berr_set(err, BERR_LIMIT, "`/%s`: directories nest deeper than %d levels", rel, WALK_MAX_DEPTH);
    goto out;
  }
  int sub = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (sub < 0) {
    ret = errno == ENOENT || errno == ELOOP || errno == ENOTDIR ? 0 : berr_sys(err, errno, "open `/%s`", rel);
    goto out;
  }
  ret = walk_dir(t, sub, rel, rlen, depth + 1, err);
  close(sub);
out:
  if (e)
    archive_entry_free(e);
  if (data_fd >= 0)
    close(data_fd);
  if (pfd >= 0)
    close(pfd);
  rel[saved] = '\0';
  return ret;
}

static int walk_dir(struct tree_out *t, int dfd, char *rel, size_t rlen, int depth, berr_t *err) {
  char **names;
  size_t n;
  if (dir_names(dfd, rel, &names, &n, err) < 0)
    return -1;
  int r = 0;
  for (size_t i = 0; i < n && r == 0; i++)
    r = walk_one(t, dfd, names[i], rel, rlen, depth, err);
  free_names(names, n);
  return r;
}

static int walk_tree(struct tree_out *t, const char *dir, berr_t *err) {
  cleanup_close int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (dfd < 0)
    return berr_sys(err, errno, "open `%s`", dir);
  char rel[WALK_PATH_MAX + 1] = "";
  if (t->mode == WALK_LAYER) { /* the root's own opaque marker (a whole-tree replacement) */
    char v[4];
    ssize_t n = fgetxattr(dfd, "trusted.overlay.opaque", v, sizeof v);
    struct stat st;
    if (n == 1 && v[0] == 'y' && fstat(dfd, &st) == 0 && write_marker(t, WH_OPAQUE, &st, err) < 0)
      return -1;
  }
  if (walk_dir(t, dfd, rel, 0, 0, err) < 0)
    return -1;
  /* entries the resolver still holds (formats that defer; none for pax, but drain) */
  for (;;) {
    struct archive_entry *cur = NULL, *spare = NULL;
    archive_entry_linkify(t->links, &cur, &spare);
    if (!cur)
      break;
    int r = write_entry(t, cur, -1, err);
    archive_entry_free(cur);
    if (r < 0)
      return -1;
  }
  return 0;
}

/* Writes the tree at dir into the open tar. */
static int archive_tree(struct archive *tar, const char *dir, enum walk_mode mode, commit_progress_fn progress,
                        void *ctx, uint64_t *entries, berr_t *err) {
  struct tree_out t = {.tar = tar, .mode = mode, .progress = progress, .ctx = ctx,
                       .next_report = PROGRESS_EVERY_BYTES, .buf = malloc(IO_BUF)};
  t.links = archive_entry_linkresolver_new();
  if (!t.buf || !t.links) {
    free(t.buf);
    if (t.links)
      archive_entry_linkresolver_free(t.links);
    return berr_sys(err, ENOMEM, "archive");
  }
  archive_entry_linkresolver_set_strategy(t.links, ARCHIVE_FORMAT_TAR_PAX_RESTRICTED);
  int r = walk_tree(&t, dir, err);
  if (r == 0)
    r = report(&t, NULL, err);
  *entries = t.entries;
  archive_entry_linkresolver_free(t.links);
  free(t.buf);
  return r;
}

/* ---- commit ---------------------------------------------------------------------- */

int commit_write_layer(const char *upper, const char *tar_path, struct layer_tar *res,
                       commit_progress_fn progress, void *ctx, berr_t *err) {
  memset(res, 0, sizeof *res);
  struct stat st;
  if (lstat(upper, &st) < 0)
    return berr_sys(err, errno, "stat the upper dir `%s`", upper);
  if (!S_ISDIR(st.st_mode))
    return berr_set(err, BERR_INTERNAL, "the upper dir `%s` is not a directory", upper);
  struct sink s = {.fd = open(tar_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)};
  if (s.fd < 0)
    return berr_sys(err, errno, "create `%s`", tar_path);
  struct archive *tar = NULL;
  int ret = -1;
  if (sink_open(&s, true, true, &tar, err) < 0 ||
      archive_tree(tar, upper, WALK_LAYER, progress, ctx, &res->entries, err) < 0 ||
      sink_close(&s, tar, err) < 0)
    goto out;
  if (fsync(s.fd) < 0) {
    berr_sys(err, errno, "fsync `%s`", tar_path);
    goto out;
  }
  res->tar_size = s.diff.bytes;
  res->blob_size = s.blob.bytes;
  if (digest_final(&s.diff, res->diff_id, err) < 0 || digest_final(&s.blob, res->blob_digest, err) < 0)
    goto out;
  ret = 0;
out:
  sink_free(&s, tar);
  close(s.fd);
  if (ret < 0)
    unlink(tar_path);
  return ret;
}

int commit_check_params(const char *ref, json_object *config, berr_t *err) {
  if (ref) {
    char norm[IMAGE_REF_MAX];
    if (image_normalize_ref(ref, norm, err) < 0)
      return -1;
    if (strchr(norm, '@'))
      return berr_set(err, BERR_INVALID, "`image` `%s`: a commit is named NAME[:TAG], not by digest", ref);
  }
  json_object *scratch = json_object_new_object();
  int r = image_apply_config(scratch, config, err);
  json_object_put(scratch);
  return r;
}

static const char *jstr(json_object *o, const char *key) {
  json_object *v = o ? json_object_object_get(o, key) : NULL;
  return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

/* The new config: the image's, plus the layer's diffID, a history entry
 * and the requested changes. */
static int new_config(json_object *old, const struct commit_request *req, const char *diff_id,
                      json_object **out, berr_t *err) {
  json_object *cfg = NULL;
  if (json_object_deep_copy(old, &cfg, NULL) < 0 || !cfg)
    return berr_sys(err, ENOMEM, "image config");
  char now[40];
  now_rfc3339(now);
  json_object_object_add(cfg, "created", json_object_new_string(now));
  if (req->author)
    json_object_object_add(cfg, "author", json_object_new_string(req->author));
  json_object *exec = json_object_object_get(cfg, "config");
  if (!json_object_is_type(exec, json_type_object)) {
    exec = json_object_new_object();
    json_object_object_add(cfg, "config", exec);
  }
  if (image_apply_config(exec, req->config, err) < 0) {
    json_object_put(cfg);
    return -1;
  }
  json_object *rootfs = json_object_object_get(cfg, "rootfs");
  json_object *diffs = rootfs ? json_object_object_get(rootfs, "diff_ids") : NULL;
  if (!json_object_is_type(diffs, json_type_array)) {
    json_object_put(cfg);
    return berr_set(err, BERR_INTERNAL, "image %s: config has no rootfs.diff_ids", req->image_id);
  }
  json_object_array_add(diffs, json_object_new_string(diff_id));
  json_object *history = json_object_object_get(cfg, "history");
  if (!json_object_is_type(history, json_type_array)) {
    history = json_object_new_array();
    json_object_object_add(cfg, "history", history);
  }
  json_object *h = json_object_new_object();
  json_object_object_add(h, "created", json_object_new_string(now));
  json_object_object_add(h, "created_by", json_object_new_string("berth commit"));
  if (req->author)
    json_object_object_add(h, "author", json_object_new_string(req->author));
  if (req->message)
    json_object_object_add(h, "comment", json_object_new_string(req->message));
  json_object_array_add(history, h);
  *out = cfg;
  return 0;
}

static json_object *descriptor(const char *media, const char *digest, int64_t size) {
  json_object *d = json_object_new_object();
  json_object_object_add(d, "mediaType", json_object_new_string(media));
  json_object_object_add(d, "digest", json_object_new_string(digest));
  json_object_object_add(d, "size", json_object_new_int64(size));
  return d;
}

int commit_container(const char *root, const struct commit_request *req, json_object **summary,
                     commit_progress_fn progress, void *ctx, berr_t *err) {
  if (commit_check_params(req->ref, req->config, err) < 0)
    return -1;
  struct image_record rec;
  if (image_record_load(root, req->image_id, &rec, err) < 0)
    return berr_wrap(err, "the container's image");
  int ret = -1;
  json_object *cfg = NULL, *man = NULL;
  cleanup_free char *work = NULL, *tar_path = NULL;
  cleanup_close int work_fd = image_tmp_create(root, "commit", &work, err);
  if (work_fd < 0)
    goto out;
  if (asprintf(&tar_path, "%s/layer.tar.gz", work) < 0) {
    tar_path = NULL;
    berr_sys(err, ENOMEM, "commit");
    goto out;
  }
  struct layer_tar lt;
  if (commit_write_layer(req->upper, tar_path, &lt, progress, ctx, err) < 0)
    goto out;
  if (progress) {
    json_object *ev = json_object_new_object();
    json_object_object_add(ev, "phase", json_object_new_string("extract"));
    json_object_object_add(ev, "item", json_object_new_string(lt.blob_digest));
    json_object_object_add(ev, "total", json_object_new_int64((int64_t)lt.blob_size));
    if (progress(ctx, ev, err) < 0)
      goto out;
  }
  struct layer_result lr;
  if (image_store_add_layer(root, tar_path, true, NULL, &lr, NULL, err) < 0)
    goto out;
  if (strcmp(lr.diff_id, lt.diff_id) || strcmp(lr.blob_digest, lt.blob_digest)) {
    berr_set(err, BERR_INTERNAL, "the store read the new layer as %s (diffID %s), written as %s (diffID %s)",
             lr.blob_digest, lr.diff_id, lt.blob_digest, lt.diff_id);
    goto out;
  }
  if (new_config(rec.config, req, lt.diff_id, &cfg, err) < 0)
    goto out;
  size_t clen = 0;
  const char *cfg_s = json_object_to_json_string_length(cfg, JSON_FLAGS, &clen);
  char cfg_digest[DIGEST_STR_LEN + 1];
  if (digest_buffer(cfg_s, clen, cfg_digest, err) < 0)
    goto out;

  man = json_object_new_object();
  json_object_object_add(man, "schemaVersion", json_object_new_int(2));
  json_object_object_add(man, "mediaType", json_object_new_string(IMAGE_MEDIA_OCI_MANIFEST));
  json_object_object_add(man, "config", descriptor(IMAGE_MEDIA_OCI_CONFIG, cfg_digest, (int64_t)clen));
  json_object *layers = json_object_new_array();
  for (size_t i = 0; i < json_object_array_length(rec.layers); i++) {
    json_object *l = json_object_array_get_idx(rec.layers, i);
    const char *mt = jstr(l, "mediaType");
    /* the same bytes under the OCI name: one manifest, one vocabulary */
    if (!mt || !strcmp(mt, IMAGE_MEDIA_DOCKER_LAYER))
      mt = layer_media_type(LAYER_GZIP);
    json_object_array_add(layers, descriptor(mt, jstr(l, "digest"),
                                             json_object_get_int64(json_object_object_get(l, "size"))));
  }
  json_object_array_add(layers, descriptor(layer_media_type(LAYER_GZIP), lt.blob_digest, (int64_t)lt.blob_size));
  json_object_object_add(man, "layers", layers);
  size_t mlen = 0;
  const char *man_s = json_object_to_json_string_length(man, JSON_FLAGS, &mlen);
  const char *refs[2] = {req->ref, NULL};
  if (image_store_add(root, man_s, mlen, cfg_s, clen, req->ref ? refs : NULL, summary, NULL, err) < 0)
    goto out;
  ret = 0;
out:
  if (work) {
    berr_t ignored;
    rm_rf(work, &ignored);
  }
  json_object_put(cfg);
  json_object_put(man);
  image_record_free(&rec);
  image_lease_release(root); /* the new image names its layer now (or the commit failed) */
  return ret;
}

/* ---- export ---------------------------------------------------------------------- */

/* Mounts upper-over-lowers read-only at mnt (the caller's private namespace). */
static int mount_view(char *const *lowers, const char *upper, const char *mnt, berr_t *err) {
  size_t len = strlen("lowerdir=") + strlen(upper) + 1;
  for (size_t i = 0; lowers[i]; i++)
    len += strlen(lowers[i]) + 1;
  for (size_t i = 0; lowers[i]; i++)
    if (strpbrk(lowers[i], ",:\\"))
      return berr_set(err, BERR_INVALID, "layer path `%s` has a , : or \\ overlay cannot take", lowers[i]);
  if (strpbrk(upper, ",:\\"))
    return berr_set(err, BERR_INVALID, "upper dir `%s` has a , : or \\ overlay cannot take", upper);
  if (len >= (size_t)getpagesize())
    return berr_set(err, BERR_LIMIT, "the overlay options for %zu layers do not fit in a page", strv_len(lowers) + 1);
  cleanup_free char *opts = malloc(len);
  if (!opts)
    return berr_sys(err, ENOMEM, "overlay options");
  size_t n = (size_t)snprintf(opts, len, "lowerdir=%s", upper);
  for (size_t i = 0; lowers[i]; i++)
    n += (size_t)snprintf(opts + n, len - n, ":%s", lowers[i]);
  if (mount("overlay", mnt, "overlay", MS_RDONLY | MS_NODEV | MS_NOSUID | MS_NOEXEC, opts) < 0)
    return berr_sys(err, errno, "mount the read-only overlay on `%s` (%zu layers)", mnt, strv_len(lowers) + 1);
  return 0;
}

int export_rootfs(const char *root, char *const *lowers, const char *upper, const char *path,
                  json_object **result, commit_progress_fn progress, void *ctx, berr_t *err) {
  if (!path || path[0] != '/')
    return berr_set(err, BERR_BAD_REQUEST, "`path` must be an absolute path on the helper's machine");
  /* the tar is the client's: made, renamed and removed with its permissions */
  const struct peer_id *who = userpath_client();
  struct stat st;
  if (userpath_lstat(who, path, &st) == 0)
    return berr_set(err, BERR_CONFLICT, "`%s` exists; give a new path", path);
  if (errno != ENOENT)
    return userpath_error(err, who, errno, "write", path);
  cleanup_free char *tmp_path = NULL, *work = NULL, *mnt = NULL;
  unsigned char rnd[6];
  if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd)
    return berr_sys(err, errno, "getrandom");
  if (asprintf(&tmp_path, "%s.berth-%02x%02x%02x%02x%02x%02x.tmp", path, rnd[0], rnd[1], rnd[2], rnd[3], rnd[4],
               rnd[5]) < 0) {
    tmp_path = NULL;
    return berr_sys(err, ENOMEM, "export");
  }
  /* the overlay lives in a mount namespace of this process only */
  if (unshare(CLONE_NEWNS) < 0)
    return berr_sys(err, errno, "unshare a mount namespace for the export");
  if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
    return berr_sys(err, errno, "make / private in the export's mount namespace");
  cleanup_close int work_fd = image_tmp_create(root, "export", &work, err);
  if (work_fd < 0)
    return -1;
  int ret = -1, fd = -1;
  bool mounted = false;
  struct archive *tar = NULL;
  struct sink s = {.fd = -1};
  if (asprintf(&mnt, "%s/rootfs", work) < 0) {
    mnt = NULL;
    berr_sys(err, ENOMEM, "export");
    goto out;
  }
  if (mkdir(mnt, 0700) < 0) {
    berr_sys(err, errno, "mkdir `%s`", mnt);
    goto out;
  }
  if (mount_view(lowers, upper, mnt, err) < 0)
    goto out;
  mounted = true;
  fd = userpath_open(who, tmp_path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0600, "create", err);
  if (fd < 0) {
    userpath_unalias(err, tmp_path, path);
    goto out;
  }
  s.fd = fd;
  uint64_t entries = 0;
  if (sink_open(&s, false, false, &tar, err) < 0 ||
      archive_tree(tar, mnt, WALK_ROOTFS, progress, ctx, &entries, err) < 0 || sink_close(&s, tar, err) < 0)
    goto out;
  if (fsync(fd) < 0) {
    berr_sys(err, errno, "fsync `%s`", tmp_path);
    goto out;
  }
  if (userpath_rename_noreplace(who, tmp_path, path) < 0) {
    if (errno == EEXIST)
      berr_set(err, BERR_CONFLICT, "`%s` appeared while the export ran", path);
    else
      userpath_error(err, who, errno, "rename the export to", path);
    goto out;
  }
  *result = json_object_new_object();
  json_object_object_add(*result, "path", json_object_new_string(path));
  json_object_object_add(*result, "size", json_object_new_int64((int64_t)s.file_bytes));
  ret = 0;
out:
  sink_free(&s, tar);
  if (fd >= 0) {
    close(fd);
    if (ret < 0)
      userpath_unlink(who, tmp_path);
  }
  if (mounted && umount2(mnt, MNT_DETACH) < 0 && ret == 0)
    ret = berr_sys(err, errno, "unmount `%s`", mnt);
  if (work) {
    berr_t ignored;
    rm_rf(work, &ignored);
  }
  return ret;
}
