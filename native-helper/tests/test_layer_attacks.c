/* Layer extraction under attack (the ideas of containerd's archive breakout
 * tests): every tarball of tests/layer_attacks.py is unpacked into a fresh
 * directory beside `outside/`, which stands for the host. Each attack must be
 * refused with its reason, or unpacked harmlessly; either way `outside/secret`
 * keeps its bytes, mode, owner, times, link count and xattrs, nothing named
 * evil-* appears anywhere, and memory stays bounded on hostile headers. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "cleanup.h"
#include "layer.h"
#include "tap.h"
#include "util.h"

/* The extractor's memory budget (EXTRACT_MEM_BUDGET in layer.c). */
#define BUDGET_KIB (256 * 1024)

/* Under ASan, an allocation over the extractor's cap returns NULL (as malloc
 * does in the product) instead of aborting. */
const char *__asan_default_options(void);
const char *__asan_default_options(void) { return "allocator_may_return_null=1:detect_leaks=0"; }

static char base[256];
static struct stat secret0, outside0;

static void path_of(char *out, size_t n, const char *name) { snprintf(out, n, "%s/%s", base, name); }

static bool no_evil_in(const char *dir) {
  DIR *d = opendir(dir);
  struct dirent *de;
  bool ok = true;
  while (d && (de = readdir(d)))
    ok &= strncmp(de->d_name, "evil", 4) != 0;
  if (d)
    closedir(d);
  return ok;
}

/* The host side: outside/ and its secret exactly as made, nothing new. */
static bool outside_intact(char *why, size_t wn) {
  char p[512];
  path_of(p, sizeof p, "outside/secret");
  struct stat st;
  cleanup_free char *s = NULL;
  berr_t e;
  if (lstat(p, &st) < 0 || read_file(p, 4096, &s, NULL, &e) < 0)
    return snprintf(why, wn, "secret gone"), false;
  if (strcmp(s, "secret\n"))
    return snprintf(why, wn, "secret content changed to `%.20s`", s), false;
  if (st.st_mode != secret0.st_mode || st.st_uid != secret0.st_uid || st.st_gid != secret0.st_gid ||
      st.st_mtime != secret0.st_mtime || st.st_nlink != secret0.st_nlink || st.st_ino != secret0.st_ino)
    return snprintf(why, wn, "secret metadata changed: mode %o uid %u mtime %ld nlink %lu", st.st_mode,
                    st.st_uid, (long)st.st_mtime, (unsigned long)st.st_nlink), false;
  char v[8];
  if (getxattr(p, "user.pwned", v, sizeof v) >= 0)
    return snprintf(why, wn, "secret got an xattr"), false;
  path_of(p, sizeof p, "outside");
  if (lstat(p, &st) < 0 || st.st_mode != outside0.st_mode || st.st_uid != outside0.st_uid ||
      st.st_mtime != outside0.st_mtime)
    return snprintf(why, wn, "outside/ metadata changed: mode %o uid %u mtime %ld", st.st_mode, st.st_uid,
                    (long)st.st_mtime), false;
  DIR *d = opendir(p);
  int n = 0;
  struct dirent *de;
  while (d && (de = readdir(d)))
    n += strcmp(de->d_name, ".") && strcmp(de->d_name, "..");
  if (d)
    closedir(d);
  if (n != 1)
    return snprintf(why, wn, "outside/ holds %d entries", n), false;
  if (!no_evil_in(base) || !no_evil_in("/tmp") || !no_evil_in("/"))
    return snprintf(why, wn, "an evil-* file appeared"), false;
  snprintf(why, wn, "host side intact");
  return true;
}

static int counter;

static int unpack(const char *name, int64_t cap, char *dest, size_t dn, struct layer_result *res, berr_t *err) {
  char tarp[512];
  path_of(tarp, sizeof tarp, name);
  snprintf(dest, dn, "%s/t%d", base, ++counter);
  mkdir(dest, 0755);
  memset(err, 0, sizeof *err);
  return layer_unpack(tarp, dest, NULL, cap, res, err);
}

/* Refused with a message holding `reason`, the host side intact. */
static void refused(const char *name, int64_t cap, enum berr_kind kind, const char *reason) {
  char dest[512], why[160];
  struct layer_result res;
  berr_t err;
  int r = unpack(name, cap, dest, sizeof dest, &res, &err);
  bool intact = outside_intact(why, sizeof why);
  TAP_OK(r < 0 && err.kind == kind && strstr(err.msg, reason) && intact, "%s refused: %s (%s)", name,
         r < 0 ? err.msg : "UNPACKED", why);
}

/* Unpacked or refused, but never touching the host; returns the result. */
static int harmless(const char *name, char *dest, size_t dn) {
  char why[160];
  struct layer_result res;
  berr_t err;
  int r = unpack(name, 0, dest, dn, &res, &err);
  bool intact = outside_intact(why, sizeof why);
  TAP_OK(intact, "%s: %s; %s", name, r < 0 ? err.msg : "unpacked", why);
  return r;
}

/* Unpacks in a child process and reports the peak RSS (KiB) of the extractor
 * processes it forks (getrusage of waited-for children). */
static long peak_rss_kib(const char *name, int64_t cap, int *rc, char *msg, size_t mn) {
  int p[2];
  if (pipe(p) < 0)
    return -1;
  pid_t pid = fork();
  if (pid == 0) {
    close(p[0]);
    char dest[512];
    struct layer_result res;
    berr_t err;
    struct { int rc; long rss; char msg[400]; } out = {0};
    out.rc = unpack(name, cap, dest, sizeof dest, &res, &err);
    snprintf(out.msg, sizeof out.msg, "%s", out.rc < 0 ? err.msg : "unpacked");
    struct rusage ru;
    getrusage(RUSAGE_CHILDREN, &ru);
    out.rss = ru.ru_maxrss;
    _exit(write(p[1], &out, sizeof out) == sizeof out ? 0 : 1);
  }
  close(p[1]);
  struct { int rc; long rss; char msg[400]; } got = {0};
  ssize_t n = read(p[0], &got, sizeof got);
  close(p[0]);
  waitpid(pid, NULL, 0);
  if (n != (ssize_t)sizeof got)
    return -1;
  *rc = got.rc;
  snprintf(msg, mn, "%s", got.msg);
  return got.rss;
}

static void setup_outside(void) {
  char p[512];
  path_of(p, sizeof p, "outside");
  mkdir(p, 0755);
  path_of(p, sizeof p, "outside/secret");
  FILE *f = fopen(p, "w");
  fputs("secret\n", f);
  fclose(f);
  chmod(p, 0640);
  if (chown(p, 1234, 1234) < 0)
    perror("chown");
  struct timeval tv[2] = {{1000000, 0}, {1000000, 0}};
  utimes(p, tv);
  lstat(p, &secret0);
  path_of(p, sizeof p, "outside");
  struct timeval tv2[2] = {{2000000, 0}, {2000000, 0}};
  utimes(p, tv2);
  lstat(p, &outside0);
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  snprintf(base, sizeof base, "/tmp/berth-test-attacks-XXXXXX");
  if (!mkdtemp(base))
    return 2;
  setup_outside();
  /* the maker sits beside this file; make runs the tests from native-helper/ */
  const char *maker = getenv("LAYER_ATTACKS_PY") ? getenv("LAYER_ATTACKS_PY") : "tests/layer_attacks.py";
  char cmd[800];
  snprintf(cmd, sizeof cmd, "python3 '%s' '%s'", maker, base);
  if (system(cmd) != 0) {
    printf("Bail out! python3 %s could not make the attack tarballs\n", maker);
    return 1;
  }
  char dest[512], p[600];
  struct stat st;
  int r;

  /* path traversal and absolute paths */
  refused("a-dotdot.tar", 0, BERR_INVALID, "`..` component");
  refused("a-dotdot-deep.tar", 0, BERR_INVALID, "`..` component");
  refused("a-dotdot-gnu.tar", 0, BERR_INVALID, "`..` component");
  refused("a-abs.tar", 0, BERR_INVALID, "absolute path");
  refused("a-abs-pax.tar", 0, BERR_INVALID, "absolute path");

  /* symlink escapes */
  refused("a-symdir.tar", 0, BERR_INVALID, "goes through the symlink `out`");
  refused("a-symchain.tar", 0, BERR_INVALID, "goes through the symlink `b`");
  r = harmless("a-symreplace-dir.tar", dest, sizeof dest);
  snprintf(p, sizeof p, "%s/d/evil-h", dest);
  TAP_OK(r == 0 && lstat(p, &st) == 0 && S_ISREG(st.st_mode), "a directory replaces an earlier symlink; its file lands inside");
  refused("a-cached-dir-sym.tar", 0, BERR_INVALID, "goes through the symlink `c/sub`");
  refused("a-cached-dir-hard.tar", 0, BERR_INVALID, "goes through the symlink `c/sub`");

  /* hardlinks to host files */
  refused("a-hard-host.tar", 0, BERR_INVALID, "absolute path");
  refused("a-hard-dotdot.tar", 0, BERR_INVALID, "`..` component");
  refused("a-hard-via-sym.tar", 0, BERR_INVALID, "goes through the symlink `o`");
  /* a ustar hardlink with data: libarchive reads the data as a damaged header */
  refused("a-hard-to-sym-data.tar", 0, BERR_INVALID, "");
  refused("a-hard-to-sym-pax.tar", 0, BERR_INVALID, "hardlink with data to the symlink `s`");
  /* a plain hardlink to a symlink is a second symlink; a file then replaces it */
  r = harmless("a-hard-to-sym.tar", dest, sizeof dest);
  snprintf(p, sizeof p, "%s/h", dest);
  cleanup_free char *h = NULL;
  berr_t e0;
  TAP_OK(r == 0 && lstat(p, &st) == 0 && S_ISREG(st.st_mode) && read_file(p, 64, &h, NULL, &e0) == 0 && !strcmp(h, "pwned\n"),
         "the file replaces the hardlinked symlink, inside the layer");

  /* write through a symlink planted earlier */
  r = harmless("a-sym-write.tar", dest, sizeof dest);
  snprintf(p, sizeof p, "%s/s", dest);
  TAP_OK(r == 0 && lstat(p, &st) == 0 && S_ISREG(st.st_mode), "a file replaces the symlink in its place");
  r = harmless("a-sym-write-hdata.tar", dest, sizeof dest);

  /* chmod / chown / utime / xattrs through a symlink */
  r = harmless("a-meta-sym-entry.tar", dest, sizeof dest);
  snprintf(p, sizeof p, "%s/s", dest);
  TAP_OK(r == 0 && lstat(p, &st) == 0 && S_ISLNK(st.st_mode) && st.st_uid == 4321,
         "a symlink's own owner is set (lchown), not its target's");
  harmless("a-meta-dir-then-sym.tar", dest, sizeof dest);
  harmless("a-meta-dir-then-symdir.tar", dest, sizeof dest);
  harmless("a-meta-file-dir-sym.tar", dest, sizeof dest);
  harmless("a-meta-deep-dir-sym.tar", dest, sizeof dest);

  /* whiteouts */
  refused("a-wh-dot.tar", 0, BERR_INVALID, "whiteout of an invalid name");
  refused("a-wh-dotdot.tar", 0, BERR_INVALID, "whiteout of an invalid name");
  refused("a-wh-empty.tar", 0, BERR_INVALID, "whiteout of an invalid name");
  refused("a-wh-dir-dotdot.tar", 0, BERR_INVALID, "whiteout of an invalid name");
  refused("a-wh-symparent.tar", 0, BERR_INVALID, "goes through the symlink `o`");
  refused("a-wh-opq-symparent.tar", 0, BERR_INVALID, "goes through the symlink `o`");
  r = harmless("a-wh-of-symlink.tar", dest, sizeof dest);
  snprintf(p, sizeof p, "%s/o", dest);
  TAP_OK(r == 0 && lstat(p, &st) == 0 && S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0),
         "a whiteout of a symlink replaces the link, not its target");
  r = harmless("a-wh-opq-on-sym.tar", dest, sizeof dest);
  snprintf(p, sizeof p, "%s/o", dest);
  char v[4];
  TAP_OK(r == 0 && lstat(p, &st) == 0 && S_ISDIR(st.st_mode) && getxattr(p, "trusted.overlay.opaque", v, sizeof v) == 1,
         "an opaque marker lands on the directory that replaced a symlink");

  /* devices and setuid files: kept as the layer says (the store is root-only) */
  r = harmless("a-devices.tar", dest, sizeof dest);
  snprintf(p, sizeof p, "%s/dev/sda", dest);
  TAP_OK(r == 0 && lstat(p, &st) == 0 && S_ISBLK(st.st_mode) && st.st_rdev == makedev(8, 0) && (st.st_mode & 0777) == 0660,
         "block device 8:0 kept with mode 0660");
  snprintf(p, sizeof p, "%s/dev/mem", dest);
  TAP_OK(lstat(p, &st) == 0 && S_ISCHR(st.st_mode) && st.st_rdev == makedev(1, 1), "char device 1:1 kept");
  snprintf(p, sizeof p, "%s/bin/su", dest);
  TAP_OK(lstat(p, &st) == 0 && (st.st_mode & 07777) == 04755, "setuid mode kept (%o)", st.st_mode & 07777);
  snprintf(p, sizeof p, "%s/bin/sg", dest);
  TAP_OK(lstat(p, &st) == 0 && (st.st_mode & 07777) == 02755, "setgid mode kept (%o)", st.st_mode & 07777);
  snprintf(p, sizeof p, "%s/tmp", dest);
  TAP_OK(lstat(p, &st) == 0 && (st.st_mode & 07777) == 01777, "sticky dir kept (%o)", st.st_mode & 07777);

  /* one path as a file, then a dir, then a symlink */
  refused("a-repeat.tar", 0, BERR_INVALID, "goes through the symlink `p`");
  r = harmless("a-repeat-ok.tar", dest, sizeof dest);
  snprintf(p, sizeof p, "%s/p2", dest);
  TAP_OK(r == 0 && lstat(p, &st) == 0 && S_ISDIR(st.st_mode), "the last entry for a path wins (p2 is a dir)");

  /* bombs and hostile headers: refused, memory bounded */
  refused("a-sparse-huge.tar", 1 << 20, BERR_LIMIT, "layer unpacks to more than 1048576 bytes");
  refused("a-stream-bomb.tar.gz", 1 << 20, BERR_INVALID, "decompresses to more than");
  int rc = 0;
  char msg[400];
  long base_rss = peak_rss_kib("good.tar", 0, &rc, msg, sizeof msg);
  TAP_OK(base_rss > 0 && rc == 0, "baseline: good.tar peaks at %ld KiB (%s)", base_rss, msg);
  static const char *const heavy[] = {"a-pax-huge.tar", "a-sparse-map.tar", "a-sparse-map01.tar", "a-stream-bomb.tar.gz"};
  for (size_t i = 0; i < sizeof heavy / sizeof heavy[0]; i++) {
    long rss = peak_rss_kib(heavy[i], 1 << 20, &rc, msg, sizeof msg);
    path_of(p, sizeof p, heavy[i]);
    stat(p, &st);
    char why[160];
    bool intact = outside_intact(why, sizeof why);
    /* the budget, plus ASan's shadow of it (1/8) and slack */
    TAP_OK(rss > 0 && rss - base_rss < BUDGET_KIB + BUDGET_KIB / 8 + 32 * 1024 && rc < 0 && intact,
           "%s (%ld KiB): peak RSS %ld KiB, %+ld over the baseline: %s", heavy[i], (long)(st.st_size / 1024), rss,
           rss - base_rss, rc < 0 ? msg : "UNPACKED");
  }

  /* broken compression and tar checksums */
  refused("a-gz-truncated.tar.gz", 0, BERR_INVALID, "");
  refused("a-gz-corrupt.tar.gz", 0, BERR_INVALID, "");
  /* libarchive does not check a gzip trailer's CRC: the sha256 digests do */
  harmless("a-gz-badcrc.tar.gz", dest, sizeof dest);
  refused("a-cksum-first.tar", 0, BERR_INVALID, "");
  refused("a-cksum-later.tar", 0, BERR_INVALID, "");

  berr_t err;
  rm_rf(base, &err);
  printf("1..%d\n", tap_n);
  TAP_DONE();
}
