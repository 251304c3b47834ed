/* The layer extractor (layer.c) on one tarball (plain, gzip, zstd, bzip2 or
 * xz: the input is the file as stored), unpacked into a fresh directory with
 * a 1 MiB cap, which is then removed as the daemon removes a failed layer.
 * After every input nothing outside that directory may have changed: the
 * directories above it hold canary files whose type, mode, owner, size,
 * links and mtime are compared with a snapshot taken before the first input,
 * and no overlay xattr may have appeared on them. No fd may leak and a
 * decompressor that died (a crash in the forked half) is a crash here too.
 *
 * Runs as root like berthd (owners, device nodes and trusted.* xattrs are
 * really applied), in a work dir under /tmp ($BERTH_FUZZ_DIR to choose). */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "fuzz-util.h"
#include "layer.h"
#include "util.h"

#define CAP_BYTES (1 << 20)

static char work[256];      /* W: canary, a/canary, a/b/canary, a/b/d = the layer dir */
static char dest[300];
static int home_fd = -1;    /* the working directory to come back to */
static char *snapshot;      /* the tree of W without dest, as text */
static size_t snap_len, snap_cap;

static int snap_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
  if (!strncmp(path, dest, strlen(dest)) && (path[strlen(dest)] == '\0' || path[strlen(dest)] == '/'))
    return FTW_SKIP_SUBTREE;
  char line[600];
  /* a directory's own times and size change when dest comes and goes */
  bool dir = S_ISDIR(st->st_mode);
  int n = snprintf(line, sizeof line, "%s %o %u:%u %lu %lld %lld.%ld\n", path, st->st_mode, st->st_uid,
                   st->st_gid, (unsigned long)st->st_nlink, dir ? 0LL : (long long)st->st_size,
                   dir ? 0LL : (long long)st->st_mtim.tv_sec, dir ? 0L : st->st_mtim.tv_nsec);
  char x[8];
  if (dir && getxattr(path, "trusted.overlay.opaque", x, sizeof x) >= 0)
    n += snprintf(line + n, sizeof line - (size_t)n, "  opaque\n");
  if (snap_len + (size_t)n + 1 > snap_cap) {
    snap_cap = (snap_len + (size_t)n + 1) * 2;
    snapshot = realloc(snapshot, snap_cap);
    FUZZ_ASSERT(snapshot, "realloc");
  }
  memcpy(snapshot + snap_len, line, (size_t)n + 1);
  snap_len += (size_t)n;
  return FTW_CONTINUE;
}

static char *take_snapshot(void) {
  snap_len = 0;
  snapshot = NULL;
  snap_cap = 0;
  FUZZ_ASSERT(nftw(work, snap_entry, 16, FTW_PHYS | FTW_ACTIONRETVAL) == 0, "nftw `%s`: %s", work,
              strerror(errno));
  return snapshot;
}

static void write_canary(const char *rel, const char *text) {
  char p[400];
  snprintf(p, sizeof p, "%s/%s", work, rel);
  FILE *f = fopen(p, "w");
  FUZZ_ASSERT(f, "create `%s`: %s", p, strerror(errno));
  fputs(text, f);
  fclose(f);
}

static char *before;
static int lowest_fd;
static bool verbose;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  const char *base = getenv("BERTH_FUZZ_DIR");
  snprintf(work, sizeof work, "%s/berth-fuzz-layer.XXXXXX", base && *base ? base : "/tmp");
  FUZZ_ASSERT(mkdtemp(work), "mkdtemp `%s`: %s", work, strerror(errno));
  char p[400];
  snprintf(p, sizeof p, "%s/a/b", work);
  berr_t err;
  FUZZ_ASSERT(mkdir_p(p, 0755, &err) == 0, "%s", err.msg);
  write_canary("canary", "outside the layer\n");
  write_canary("a/canary", "outside the layer\n");
  write_canary("a/b/canary", "outside the layer\n");
  snprintf(p, sizeof p, "%s/a/b/link-up", work);
  FUZZ_ASSERT(symlink("../..", p) == 0, "symlink: %s", strerror(errno));
  snprintf(dest, sizeof dest, "%s/a/b/d", work);
  home_fd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  FUZZ_ASSERT(home_fd >= 0, "open .: %s", strerror(errno));
  umask(022); /* as layer_unpack's child */
  verbose = getenv("BERTH_FUZZ_VERBOSE") != NULL;
  before = take_snapshot();
  lowest_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  close(lowest_fd);
  fprintf(stderr, "fuzz_layer: work dir %s\n", work);
  return 0;
}

static void cleanup_work(void) {
  /* libFuzzer exits through exit() at the end of a run: leave nothing behind */
  berr_t err;
  if (work[0])
    rm_rf(work, &err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static bool registered;
  if (!registered) {
    atexit(cleanup_work);
    registered = true;
  }
  int fd = memfd_create("layer", MFD_CLOEXEC);
  FUZZ_ASSERT(fd >= 0, "memfd_create: %s", strerror(errno));
  FUZZ_ASSERT(size == 0 || write(fd, data, size) == (ssize_t)size, "write memfd");
  FUZZ_ASSERT(lseek(fd, 0, SEEK_SET) == 0, "lseek");
  FUZZ_ASSERT(mkdir(dest, 0755) == 0, "mkdir `%s`: %s", dest, strerror(errno));
  FUZZ_ASSERT(chdir(dest) == 0, "chdir: %s", strerror(errno));

  struct layer_result res;
  berr_t err;
  berr_clear(&err);
  int r = layer_unpack_cwd(fd, CAP_BYTES, &res, &err);

  FUZZ_ASSERT(fchdir(home_fd) == 0, "fchdir: %s", strerror(errno));
  close(fd);
  if (verbose) /* BERTH_FUZZ_VERBOSE=1: what became of each input (reproducers, seeds) */
    fprintf(stderr, "fuzz_layer: %s\n", r < 0 ? err.msg : "unpacked");
  if (r < 0) {
    FUZZ_ASSERT(err.msg[0], "a refused layer needs a message");
    FUZZ_ASSERT(!strstr(err.msg, "without a report"), "the decompressor died: %s", err.msg);
  } else {
    FUZZ_ASSERT(res.unpacked_size <= CAP_BYTES, "unpacked %llu bytes over the cap",
                (unsigned long long)res.unpacked_size);
    FUZZ_ASSERT(res.blob_size == size, "blob size %llu for %zu bytes", (unsigned long long)res.blob_size,
                size);
    FUZZ_ASSERT(digest_is_valid(res.blob_digest) && digest_is_valid(res.diff_id), "bad digests");
  }
  /* the daemon removes a layer dir (failed or pruned) with rm_rf */
  berr_t rm;
  FUZZ_ASSERT(rm_rf(dest, &rm) == 0, "remove the layer dir: %s", rm.msg);
  struct stat st;
  FUZZ_ASSERT(lstat(dest, &st) < 0 && errno == ENOENT, "the layer dir is still there");

  char *after = take_snapshot();
  if (strcmp(before, after)) {
    fprintf(stderr, "before:\n%s\nafter:\n%s\n", before, after);
    FUZZ_ASSERT(0, "something outside the layer dir changed (%s)", err.msg);
  }
  free(after);
  int probe = open("/dev/null", O_RDONLY | O_CLOEXEC);
  close(probe);
  FUZZ_ASSERT(probe == lowest_fd, "an fd leaked (next free fd %d, was %d)", probe, lowest_fd);
  return 0;
}
