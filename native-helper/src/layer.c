/* Layer extraction: libarchive with its secure-extraction flags, plus our own
 * checks on every entry, OCI whiteouts turned into overlay whiteouts, and a
 * cap on the unpacked size. Streaming: the file goes through two libarchive
 * readers chained by callbacks (raw+decompression, then tar), each hashing
 * the bytes it passes on, so nothing is held in memory and nothing is read
 * twice. */
#include "layer.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "cleanup.h"
#include "util.h"

#define IO_BUF (128 * 1024)
/* Memory the extractor and its decompressor may add to what they map at start. */
#define EXTRACT_MEM_BUDGET (256L << 20)
#define PATH_MAXLEN 4096

const char *layer_media_type(enum layer_compression c) {
  switch (c) {
  case LAYER_GZIP: return "application/vnd.oci.image.layer.v1.tar+gzip";
  case LAYER_ZSTD: return "application/vnd.oci.image.layer.v1.tar+zstd";
  case LAYER_BZIP2: return "application/vnd.oci.image.layer.v1.tar+bzip2";
  case LAYER_XZ: return "application/vnd.oci.image.layer.v1.tar+xz";
  case LAYER_PLAIN: break;
  }
  return "application/vnd.oci.image.layer.v1.tar";
}

/* ---- the two chained readers ------------------------------------------- */

struct source { /* the file as stored: blob digest, optional copy */
  int fd, copy_fd;
  struct digest blob;
  char *buf;
  bool failed; /* source_cb failed: err says why (libarchive's filters may say "truncated") */
  berr_t err;
};

/* Reads the next chunk of the file, hashing (and copying) it. */
static ssize_t source_next(struct source *s, const char **out, berr_t *err) {
  ssize_t r = read_retry(s->fd, s->buf, IO_BUF);
  if (r < 0)
    return berr_sys(err, errno, "read the layer tarball");
  if (r > 0) {
    if (digest_update(&s->blob, s->buf, (size_t)r, err) < 0)
      return -1;
    if (s->copy_fd >= 0 && write_all(s->copy_fd, s->buf, (size_t)r) < 0)
      return berr_sys(err, errno, "write the blob copy");
  }
  *out = s->buf;
  return r;
}

static la_ssize_t source_cb(struct archive *a, void *ud, const void **buf) {
  berr_t e;
  const char *p = NULL;
  ssize_t r = source_next(ud, &p, &e);
  if (r < 0) {
    struct source *s = ud;
    s->failed = true;
    s->err = e;
    archive_set_error(a, e.errnum ? e.errnum : EIO, "%s", e.msg);
    return -1;
  }
  *buf = p;
  return r;
}

struct stream { /* the uncompressed tar, from the decompressor's pipe: diffID */
  int fd;
  struct digest diff;
  uint64_t bytes; /* bytes of the uncompressed tar */
  uint64_t cap;   /* more than this is a decompression bomb (padding included) */
  char *buf;
};

static la_ssize_t stream_cb(struct archive *a, void *ud, const void **buf) {
  struct stream *m = ud;
  ssize_t r = read_retry(m->fd, m->buf, IO_BUF);
  if (r < 0) {
    archive_set_error(a, errno, "read the decompressed stream: %s", strerror(errno));
    return -1;
  }
  m->bytes += (uint64_t)r;
  if (m->bytes > m->cap) {
    archive_set_error(a, EFBIG, "the layer decompresses to more than %" PRIu64 " bytes", m->cap);
    return -1;
  }
  berr_t e;
  if (r > 0 && digest_update(&m->diff, m->buf, (size_t)r, &e) < 0) {
    archive_set_error(a, EIO, "%s", e.msg);
    return -1;
  }
  *buf = m->buf;
  return r;
}

/* ---- path checks (the child's working directory is the layer dir) ------ */

/* Cleans an archive path into a relative path without `.`, empty or `..`
 * components. Returns NULL or the reason for refusing it. */
static const char *clean_path(const char *in, char *out, size_t outlen) {
  if (!in || !*in)
    return "empty path";
  if (in[0] == '/')
    return "absolute path";
  size_t n = 0;
  for (const char *p = in; *p;) {
    size_t len = strcspn(p, "/");
    if (len == 2 && p[0] == '.' && p[1] == '.')
      return "path has a `..` component";
    if (len > 0 && !(len == 1 && p[0] == '.')) {
      if (n + len + 2 > outlen)
        return "path too long";
      if (n)
        out[n++] = '/';
      memcpy(out + n, p, len);
      n += len;
    }
    p += len;
    while (*p == '/')
      p++;
  }
  if (n == 0)
    out[n++] = '.';
  out[n] = '\0';
  return NULL;
}

/* The last parent directory check_parents walked and found made of
 * directories only, up to the layer dir. Entries of one directory follow each
 * other in a tar, and their walk is skipped while nothing has been written at
 * that directory or at one of its parents since (parents_written). The
 * extraction is the only writer in the layer dir. */
static char clean_dir[PATH_MAXLEN];
static size_t clean_len; /* 0: none */

/* Something is made, replaced or removed at path: a directory walked before
 * may now be a symlink or a file at or below it. */
static void parents_written(const char *path) {
  size_t n = strlen(path);
  if (!strcmp(path, ".") || (clean_len >= n && !memcmp(clean_dir, path, n) &&
                             (clean_dir[n] == '\0' || clean_dir[n] == '/')))
    clean_len = 0;
}

/* Refuses a path whose directories (all components but the last) go
 * through a symlink or a non-directory on disk; missing ones are fine
 * (they will be made as directories). */
static int check_parents(const char *path, const char *entry, berr_t *err) {
  const char *slash = strrchr(path, '/');
  size_t plen = slash ? (size_t)(slash - path) : 0;
  if (plen == 0)
    return 0;
  if (plen == clean_len && !memcmp(path, clean_dir, plen))
    return 0;
  char buf[PATH_MAXLEN];
  snprintf(buf, sizeof buf, "%s", path);
  for (char *p = strchr(buf, '/'); p; p = strchr(p + 1, '/')) {
    *p = '\0';
    struct stat st;
    if (lstat(buf, &st) < 0) {
      if (errno == ENOENT)
        return 0;
      return berr_sys(err, errno, "entry `%s`: lstat `%s`", entry, buf);
    }
    if (S_ISLNK(st.st_mode))
      return berr_set(err, BERR_INVALID, "entry `%s` refused: its path goes through the symlink `%s`",
                      entry, buf);
    if (!S_ISDIR(st.st_mode))
      return berr_set(err, BERR_INVALID, "entry `%s` refused: `%s` is not a directory", entry, buf);
    *p = '/';
  }
  memcpy(clean_dir, path, plen); /* every parent is a directory */
  clean_dir[plen] = '\0';
  clean_len = plen;
  return 0;
}

/* Makes the directories of a whiteout's path (an archive may list the
 * whiteout before, or without, its directory). */
static int make_parents(const char *path, const char *entry, berr_t *err) {
  char buf[PATH_MAXLEN];
  snprintf(buf, sizeof buf, "%s", path);
  for (char *p = strchr(buf, '/'); p; p = strchr(p + 1, '/')) {
    *p = '\0';
    if (mkdir(buf, 0755) < 0 && errno != EEXIST)
      return berr_sys(err, errno, "entry `%s`: mkdir `%s`", entry, buf);
    *p = '/';
  }
  return 0;
}

static const char *base_name(const char *path) {
  const char *s = strrchr(path, '/');
  return s ? s + 1 : path;
}

/* ---- entries ------------------------------------------------------------ */

#define WH_PREFIX ".wh."
#define WH_OPAQUE ".wh..wh..opq"

/* `.wh.NAME` -> character device 0/0 NAME; `.wh..wh..opq` -> the directory
 * gets trusted.overlay.opaque=y. Returns 1 when the entry was a whiteout. */
static int whiteout(const char *path, const char *entry, berr_t *err) {
  const char *base = base_name(path);
  if (strncmp(base, WH_PREFIX, strlen(WH_PREFIX)) != 0)
    return 0;
  char dir[PATH_MAXLEN];
  size_t dl = (size_t)(base - path);
  snprintf(dir, sizeof dir, "%.*s", dl ? (int)dl - 1 : 1, dl ? path : ".");
  if (check_parents(path, entry, err) < 0 || make_parents(path, entry, err) < 0)
    return -1;
  if (!strcmp(base, WH_OPAQUE)) {
    struct stat st;
    if (lstat(dir, &st) < 0 || !S_ISDIR(st.st_mode))
      return berr_set(err, BERR_INVALID, "entry `%s` refused: opaque marker outside a directory", entry);
    if (setxattr(dir, "trusted.overlay.opaque", "y", 1, 0) < 0)
      return berr_sys(err, errno, "entry `%s`: setxattr trusted.overlay.opaque on `%s`", entry, dir);
    return 1;
  }
  if (!strncmp(base, WH_PREFIX WH_PREFIX, 2 * strlen(WH_PREFIX)))
    return 1; /* other .wh..wh. names are aufs bookkeeping, meaningless here */
  const char *name = base + strlen(WH_PREFIX);
  if (!*name || !strcmp(name, ".") || !strcmp(name, ".."))
    return berr_set(err, BERR_INVALID, "entry `%s` refused: whiteout of an invalid name", entry);
  char target[PATH_MAXLEN];
  snprintf(target, sizeof target, "%.*s%s", (int)dl, path, name);
  parents_written(target);
  if (rm_rf(target, err) < 0)
    return berr_wrap(err, "entry `%s`", entry);
  if (mknod(target, S_IFCHR | 0000, makedev(0, 0)) < 0)
    return berr_sys(err, errno, "entry `%s`: mknod whiteout `%s`", entry, target);
  return 1;
}

/* overlayfs reads trusted.overlay.* on lower dirs (opaque, redirect,
 * metacopy); only our whiteout handling may set them, never the archive. */
static int drop_overlay_xattrs(struct archive_entry *e, berr_t *err) {
  if (archive_entry_xattr_reset(e) == 0)
    return 0;
  const char *name;
  const void *value;
  size_t size;
  bool found = false;
  while (archive_entry_xattr_next(e, &name, &value, &size) == ARCHIVE_OK)
    found |= !strncmp(name, "trusted.overlay.", 16);
  if (!found)
    return 0;
  int n = archive_entry_xattr_count(e);
  struct kept { char *name; void *value; size_t size; } *kept = calloc((size_t)n, sizeof *kept);
  if (!kept)
    return berr_sys(err, ENOMEM, "xattrs");
  int k = 0;
  archive_entry_xattr_reset(e);
  while (archive_entry_xattr_next(e, &name, &value, &size) == ARCHIVE_OK) {
    if (!strncmp(name, "trusted.overlay.", 16) || k >= n)
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
  return 0;
}

struct unpack {
  struct archive *tar, *disk;
  int64_t max_bytes;
  struct layer_result *res;
};

static int check_hardlink(const char *target_in, const char *entry, bool has_data, char *target, berr_t *err) {
  const char *why = clean_path(target_in, target, PATH_MAXLEN);
  if (why)
    return berr_set(err, BERR_INVALID, "entry `%s` refused: hardlink target `%s`: %s", entry,
                    target_in, why);
  if (check_parents(target, entry, err) < 0)
    return -1;
  struct stat st;
  if (lstat(target, &st) < 0)
    return berr_set(err, BERR_INVALID, "entry `%s` refused: hardlink target `%s` is not in the layer",
                    entry, target);
  if (S_ISDIR(st.st_mode))
    return berr_set(err, BERR_INVALID, "entry `%s` refused: hardlink to the directory `%s`", entry, target);
  /* a hardlink's data is written by opening the link: never through a symlink */
  if (S_ISLNK(st.st_mode) && has_data)
    return berr_set(err, BERR_INVALID, "entry `%s` refused: hardlink with data to the symlink `%s`", entry, target);
  return 0;
}

static int unpack_entry(struct unpack *u, struct archive_entry *e, berr_t *err) {
  const char *raw = archive_entry_pathname(e);
  char entry[256];
  snprintf(entry, sizeof entry, "%s", raw ? raw : "(unreadable name)");
  char path[PATH_MAXLEN];
  const char *why = clean_path(raw, path, sizeof path);
  if (why)
    return berr_set(err, BERR_INVALID, "entry `%s` refused: %s", entry, why);
  if (check_parents(path, entry, err) < 0)
    return -1;
  parents_written(path);
  int w = whiteout(path, entry, err);
  if (w != 0)
    return w < 0 ? -1 : 0;

  const char *link = archive_entry_hardlink(e);
  if (link) {
    char target[PATH_MAXLEN];
    bool has_data = archive_entry_size_is_set(e) && archive_entry_size(e) > 0;
    if (check_hardlink(link, entry, has_data, target, err) < 0)
      return -1;
    if (!strcmp(target, path))
      return berr_set(err, BERR_INVALID, "entry `%s` refused: hardlink to itself", entry);
    archive_entry_copy_hardlink(e, target);
  }
  archive_entry_copy_pathname(e, path);

  int64_t size = archive_entry_size_is_set(e) ? archive_entry_size(e) : 0;
  if (size < 0)
    return berr_set(err, BERR_INVALID, "entry `%s` refused: negative size", entry);
  if ((uint64_t)size > (uint64_t)u->max_bytes - u->res->unpacked_size)
    return berr_set(err, BERR_LIMIT,
                    "entry `%s`: layer unpacks to more than %" PRId64
                    " bytes (cap); raise --max-layer-size if it is trusted",
                    entry, u->max_bytes);
  u->res->unpacked_size += (uint64_t)size;

  /* An existing symlink in the entry's place is replaced, never followed. */
  struct stat st;
  if (strcmp(path, ".") && lstat(path, &st) == 0 && S_ISLNK(st.st_mode) && unlink(path) < 0)
    return berr_sys(err, errno, "entry `%s`: unlink the symlink in its place", entry);
  if (drop_overlay_xattrs(e, err) < 0)
    return -1;

  int r = archive_write_header(u->disk, e);
  if (r < ARCHIVE_WARN)
    return berr_set(err, BERR_INVALID, "entry `%s` refused: %s", entry,
                    archive_error_string(u->disk) ? archive_error_string(u->disk) : "cannot extract");
  if (size > 0 && r >= ARCHIVE_WARN) {
    const void *buf;
    size_t len;
    la_int64_t off;
    for (;;) {
      r = archive_read_data_block(u->tar, &buf, &len, &off);
      if (r == ARCHIVE_EOF)
        break;
      if (r < ARCHIVE_WARN)
        return berr_set(err, BERR_INVALID, "entry `%s`: read: %s", entry,
                        archive_error_string(u->tar) ? archive_error_string(u->tar) : "truncated archive");
      if (archive_write_data_block(u->disk, buf, len, off) < ARCHIVE_WARN)
        return berr_set(err, BERR_INTERNAL, "entry `%s`: write: %s", entry,
                        archive_error_string(u->disk) ? archive_error_string(u->disk) : "write failed");
    }
  }
  if (archive_write_finish_entry(u->disk) < ARCHIVE_WARN)
    return berr_set(err, BERR_INTERNAL, "entry `%s`: %s", entry,
                    archive_error_string(u->disk) ? archive_error_string(u->disk) : "finish failed");
  u->res->entries++;
  return 0;
}

/* ---- the child ---------------------------------------------------------- */

/* What the decompressor tells the extractor once its input is done. */
struct dreport {
  int rc;
  berr_t err;
  char blob_digest[DIGEST_STR_LEN + 1];
  uint64_t blob_size;
  enum layer_compression compression;
};

/* The decompressor: reads the file as stored (blob digest, blob copy),
 * decompresses it and writes the tar stream to out. A process of its own, so
 * decompression and hashing run beside the extraction, as tar and gzip do. */
static int decompress(int fd, int copy_fd, int out, struct dreport *rep, berr_t *err) {
  int ret = -1;
  struct source src = {.fd = fd, .copy_fd = copy_fd, .buf = malloc(IO_BUF)};
  char *buf = malloc(IO_BUF);
  struct archive *raw = archive_read_new();
  if (!src.buf || !buf || !raw) {
    berr_sys(err, ENOMEM, "layer decompression");
    goto out;
  }
  if (digest_init(&src.blob, err) < 0)
    goto out;
  archive_read_support_filter_gzip(raw);
  archive_read_support_filter_zstd(raw);
  archive_read_support_filter_bzip2(raw);
  archive_read_support_filter_xz(raw);
  archive_read_support_format_raw(raw);
  if (archive_read_open(raw, &src, NULL, source_cb, NULL) != ARCHIVE_OK) {
    berr_set(err, BERR_INVALID, "not a tarball: %s", archive_error_string(raw));
    goto out;
  }
  struct archive_entry *e;
  int r = archive_read_next_header(raw, &e);
  if (r != ARCHIVE_OK) {
    berr_set(err, BERR_INVALID, "not a tarball: %s",
             r == ARCHIVE_EOF ? "the file is empty" : archive_error_string(raw));
    goto out;
  }
  switch (archive_filter_code(raw, 0)) {
  case ARCHIVE_FILTER_NONE: rep->compression = LAYER_PLAIN; break;
  case ARCHIVE_FILTER_GZIP: rep->compression = LAYER_GZIP; break;
  case ARCHIVE_FILTER_ZSTD: rep->compression = LAYER_ZSTD; break;
  case ARCHIVE_FILTER_BZIP2: rep->compression = LAYER_BZIP2; break;
  case ARCHIVE_FILTER_XZ: rep->compression = LAYER_XZ; break;
  default:
    berr_set(err, BERR_INVALID, "unsupported compression `%s` (plain, gzip, zstd, bzip2 or xz tarballs only)",
             archive_filter_name(raw, 0));
    goto out;
  }
  for (;;) {
    la_ssize_t n = archive_read_data(raw, buf, IO_BUF);
    if (n < 0) {
      if (src.failed) /* reading or copying the file, not its contents: e.g. a full disk */
        *err = src.err;
      else
        berr_set(err, BERR_INVALID, "decompress: %s",
                 archive_error_string(raw) ? archive_error_string(raw) : "read error");
      goto out;
    }
    if (n == 0)
      break;
    if (write_all(out, buf, (size_t)n) < 0) {
      /* the extractor stopped reading: its own error says why */
      berr_sys(err, errno, "pass the decompressed stream on");
      goto out;
    }
  }
  /* the digest covers every byte, also anything after the compressed stream */
  for (;;) {
    const char *b;
    ssize_t n = source_next(&src, &b, err);
    if (n < 0)
      goto out;
    if (n == 0)
      break;
  }
  rep->blob_size = src.blob.bytes;
  if (digest_final(&src.blob, rep->blob_digest, err) < 0)
    goto out;
  ret = 0;
out:
  digest_free(&src.blob);
  if (raw)
    archive_read_free(raw);
  free(src.buf);
  free(buf);
  return ret;
}

/* Caps the memory this process (and the decompressor it forks) may add:
 * libarchive holds a sparse map or an xz dictionary in memory, sized by the
 * archive, so a hostile layer would otherwise grow the extractor without
 * bound. RLIMIT_DATA counts brk and private writable mappings; the cap is
 * what is mapped now plus the budget (a sanitizer's shadow is mapped already). */
static int cap_memory(berr_t *err) {
  cleanup_free char *status = NULL;
  if (read_file("/proc/self/status", 64 * 1024, &status, NULL, err) < 0)
    return -1;
  const char *vm = strstr(status, "\nVmData:");
  unsigned long long kib = 0;
  if (!vm || sscanf(vm + 8, "%llu", &kib) != 1)
    return berr_set(err, BERR_INTERNAL, "no VmData in /proc/self/status");
  struct rlimit rl;
  if (getrlimit(RLIMIT_DATA, &rl) < 0)
    return berr_sys(err, errno, "getrlimit RLIMIT_DATA");
  rlim_t want = (rlim_t)kib * 1024 + (rlim_t)EXTRACT_MEM_BUDGET;
  if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < want)
    want = rl.rlim_max; /* never raised: only lowered */
  rl.rlim_cur = rl.rlim_max = want;
  if (setrlimit(RLIMIT_DATA, &rl) < 0)
    return berr_sys(err, errno, "setrlimit RLIMIT_DATA");
  return 0;
}

/* The extractor (the child of layer_unpack): forks the decompressor and
 * unpacks the tar stream it sends; or, for a tar_stream fd (decompressed and
 * hashed by whoever writes it), unpacks that itself. */
static int unpack_in_child(int fd, int copy_fd, bool tar_stream, int64_t max_bytes, struct layer_result *res,
                           berr_t *err) {
  int ret = -1;
  int data[2] = {-1, -1}, rep_pipe[2] = {-1, -1};
  pid_t dec = -1;
  clean_len = 0; /* a new layer dir: nothing walked yet */
  struct stream mid = {.fd = -1, .buf = malloc(IO_BUF),
                       .cap = (uint64_t)max_bytes * 2 + (64u << 20)};
  struct archive *tar = archive_read_new(), *disk = archive_write_disk_new();
  if (!mid.buf || !tar || !disk) {
    berr_sys(err, ENOMEM, "layer extraction");
    goto out;
  }
  if (digest_init(&mid.diff, err) < 0)
    goto out;
  if (tar_stream) {
    mid.fd = fd;
    goto extract;
  }
  if (pipe2(data, O_CLOEXEC) < 0 || pipe2(rep_pipe, O_CLOEXEC) < 0) {
    berr_sys(err, errno, "pipe");
    goto out;
  }
  (void)fcntl(data[1], F_SETPIPE_SZ, 1 << 20); /* fewer wake-ups between the two */
  dec = fork();
  if (dec < 0) {
    berr_sys(err, errno, "fork the layer decompressor");
    goto out;
  }
  if (dec == 0) {
    signal(SIGPIPE, SIG_IGN);
    close(data[0]);
    close(rep_pipe[0]);
    struct dreport dr = {0};
    dr.rc = decompress(fd, copy_fd, data[1], &dr, &dr.err);
    if (dr.rc == 0 && copy_fd >= 0 && fsync(copy_fd) < 0)
      dr.rc = berr_sys(&dr.err, errno, "fsync the blob copy");
    close(data[1]);
    _exit(write_all(rep_pipe[1], &dr, sizeof dr) < 0 ? 2 : 0);
  }
  close(data[1]);
  close(rep_pipe[1]);
  data[1] = rep_pipe[1] = -1;
  mid.fd = data[0];

extract:
  archive_read_support_format_tar(tar);
  int r = archive_read_open(tar, &mid, NULL, stream_cb, NULL);
  struct archive_entry *e;
  if (r != ARCHIVE_OK) {
    berr_set(err, BERR_INVALID, "not a tar archive: %s", archive_error_string(tar));
    goto done;
  }
  archive_write_disk_set_options(
      disk, ARCHIVE_EXTRACT_SECURE_SYMLINKS | ARCHIVE_EXTRACT_SECURE_NODOTDOT |
                ARCHIVE_EXTRACT_SECURE_NOABSOLUTEPATHS | ARCHIVE_EXTRACT_OWNER |
                ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_TIME | ARCHIVE_EXTRACT_XATTR |
                ARCHIVE_EXTRACT_SPARSE);
  /* No archive_write_disk_set_standard_lookup: owners stay numeric, as the
   * image's /etc/passwd means nothing on the host. */
  struct unpack u = {.tar = tar, .disk = disk, .max_bytes = max_bytes, .res = res};
  for (;;) {
    r = archive_read_next_header(tar, &e);
    if (r == ARCHIVE_EOF)
      break;
    /* ARCHIVE_RETRY is a damaged header (bad checksum): refused, never skipped */
    if (r != ARCHIVE_OK && r != ARCHIVE_WARN) {
      if (archive_errno(tar) == ENOMEM)
        berr_set(err, BERR_LIMIT, "the layer's tar headers need more than the extractor's %ld MiB of memory "
                 "(a hostile sparse map?) after %" PRIu64 " entries: %s", EXTRACT_MEM_BUDGET >> 20,
                 res->entries, archive_error_string(tar) ? archive_error_string(tar) : "out of memory");
      else
        berr_set(err, BERR_INVALID, "%s after %" PRIu64 " entries: %s",
                 res->entries ? "broken tar archive" : "not a tar archive", res->entries,
                 archive_error_string(tar) ? archive_error_string(tar) : "read error");
      goto done;
    }
    if (unpack_entry(&u, e, err) < 0)
      goto done;
  }
  /* Directory modes and times are applied last (a 0555 dir stays writable
   * while its entries are extracted). */
  if (archive_write_close(disk) != ARCHIVE_OK) {
    berr_set(err, BERR_INTERNAL, "finish extraction: %s", archive_error_string(disk));
    goto done;
  }
  /* The diffID covers every byte: the tar's trailing padding too. */
  for (;;) {
    const void *b;
    la_ssize_t n = stream_cb(tar, &mid, &b);
    if (n < 0) {
      berr_set(err, BERR_INVALID, "broken archive: %s", archive_error_string(tar));
      goto done;
    }
    if (n == 0)
      break;
  }
  res->tar_size = mid.bytes;
  if (digest_final(&mid.diff, res->diff_id, err) < 0)
    goto done;
  ret = 0;
done:
  if (!tar_stream) {
    /* the decompressor's word: a broken or bombed input explains a broken tar */
    close(data[0]);
    data[0] = -1;
    struct dreport dr;
    bool have = read_full(rep_pipe[0], &dr, sizeof dr) == 0;
    int status = 0;
    while (waitpid(dec, &status, 0) < 0 && errno == EINTR)
      ;
    dec = -1;
    if (!have) {
      if (ret == 0)
        ret = berr_set(err, BERR_INTERNAL, "the layer decompressor ended without a report");
    } else if (dr.rc < 0 && dr.err.errnum != EPIPE) {
      *err = dr.err;
      err->msg[sizeof err->msg - 1] = '\0';
      ret = -1;
    } else if (ret == 0 && dr.rc < 0) {
      ret = berr_set(err, BERR_INTERNAL, "the layer decompressor stopped early: %s", dr.err.msg);
    } else if (ret == 0) {
      memcpy(res->blob_digest, dr.blob_digest, sizeof res->blob_digest);
      res->blob_size = dr.blob_size;
      res->compression = dr.compression;
    }
  }

out:
  digest_free(&mid.diff); /* a no-op after digest_final */
  for (int k = 0; k < 2; k++) {
    if (data[k] >= 0)
      close(data[k]);
    if (rep_pipe[k] >= 0)
      close(rep_pipe[k]);
  }
  if (dec > 0) {
    kill(dec, SIGKILL);
    while (waitpid(dec, NULL, 0) < 0 && errno == EINTR)
      ;
  }
  if (disk)
    archive_write_free(disk);
  if (tar)
    archive_read_free(tar);
  free(mid.buf);
  return ret;
}

int layer_unpack_cwd(int fd, int64_t max_bytes, struct layer_result *res, berr_t *err) {
  memset(res, 0, sizeof *res);
  return unpack_in_child(fd, -1, false, max_bytes > 0 ? max_bytes : LAYER_DEFAULT_MAX_BYTES, res, err);
}

struct report {
  int rc;
  berr_t err;
  struct layer_result res;
};

int layer_unpack_start(int fd, int close_in_child, bool tar_stream, const char *what, const char *dest,
                       const char *blob_copy, int64_t max_bytes, struct layer_unpacking *u,
                       berr_t *err) {
  u->pid = -1;
  u->report_fd = -1;
  snprintf(u->what, sizeof u->what, "%s", what);
  if (max_bytes <= 0)
    max_bytes = LAYER_DEFAULT_MAX_BYTES;
  cleanup_close int dfd = open(dest, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (dfd < 0)
    return berr_sys(err, errno, "open `%s`", dest);
  cleanup_close int copy_fd = -1;
  if (blob_copy) {
    copy_fd = open(blob_copy, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (copy_fd < 0)
      return berr_sys(err, errno, "create `%s`", blob_copy);
  }
  int pfd[2];
  if (pipe2(pfd, O_CLOEXEC) < 0)
    return berr_sys(err, errno, "pipe");
  pid_t pid = fork();
  if (pid < 0) {
    int e = errno;
    close(pfd[0]);
    close(pfd[1]);
    return berr_sys(err, e, "fork the layer extractor");
  }
  if (pid == 0) {
    close(pfd[0]);
    /* the feeder's end of a pipe: held here (and in the decompressor forked
     * from here) the stream would never end */
    if (close_in_child >= 0)
      close(close_in_child);
    struct report rep = {0};
    signal(SIGPIPE, SIG_DFL);
    umask(022);
    if (fchdir(dfd) < 0)
      rep.rc = berr_sys(&rep.err, errno, "chdir `%s`", dest);
    /* the cap is set here, not in unpack_in_child: layer_unpack_cwd runs that in its caller */
    else if ((rep.rc = cap_memory(&rep.err)) == 0)
      rep.rc = unpack_in_child(fd, copy_fd, tar_stream, max_bytes, &rep.res, &rep.err);
    int wr = write_all(pfd[1], &rep, sizeof rep);
    _exit(wr < 0 ? 2 : 0);
  }
  close(pfd[1]);
  u->pid = pid;
  u->report_fd = pfd[0];
  return 0;
}

int layer_unpack_finish(struct layer_unpacking *u, struct layer_result *res, berr_t *err) {
  memset(res, 0, sizeof *res);
  struct report rep;
  bool have = read_full(u->report_fd, &rep, sizeof rep) == 0;
  close(u->report_fd);
  u->report_fd = -1;
  int status = 0;
  pid_t w;
  do
    w = waitpid(u->pid, &status, 0);
  while (w < 0 && errno == EINTR);
  pid_t pid = u->pid;
  u->pid = -1;
  if (!have) {
    if (w == pid && WIFSIGNALED(status))
      return berr_set(err, BERR_INTERNAL, "the layer extractor for %s died of signal %d", u->what,
                      WTERMSIG(status));
    /* libarchive exits 1 itself when an allocation fails (its "No memory") */
    if (w == pid && WIFEXITED(status) && WEXITSTATUS(status) == 1)
      return berr_set(err, BERR_LIMIT,
                      "the layer extractor for %s stopped at its %ld MiB memory cap (libarchive: no memory; "
                      "a hostile sparse map or header?)",
                      u->what, EXTRACT_MEM_BUDGET >> 20);
    return berr_set(err, BERR_INTERNAL, "the layer extractor for %s ended without a report", u->what);
  }
  if (rep.rc < 0) {
    *err = rep.err;
    err->msg[sizeof err->msg - 1] = '\0';
    return berr_wrap(err, "unpack %s", u->what);
  }
  *res = rep.res;
  return 0;
}

int layer_unpack(const char *tar_path, const char *dest, const char *blob_copy, int64_t max_bytes,
                 struct layer_result *res, berr_t *err) {
  memset(res, 0, sizeof *res);
  cleanup_close int fd = open(tar_path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (fd < 0)
    return berr_sys(err, errno, "open `%s`", tar_path);
  struct stat st;
  if (fstat(fd, &st) < 0)
    return berr_sys(err, errno, "stat `%s`", tar_path);
  if (!S_ISREG(st.st_mode))
    return berr_set(err, BERR_INVALID, "`%s` is not a regular file", tar_path);
  char what[300];
  snprintf(what, sizeof what, "`%s`", tar_path);
  struct layer_unpacking u;
  if (layer_unpack_start(fd, -1, false, what, dest, blob_copy, max_bytes, &u, err) < 0)
    return -1;
  return layer_unpack_finish(&u, res, err);
}
