/* Paths inside a rootfs: `..` and symlinks (relative and absolute) never lead
 * out of it, missing targets are made inside it; openat2 and the fallback
 * walk both. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rootfs-path.h"
#include "tap.h"
#include "util.h"

static char root[256];
static int root_fd;

static void mk(const char *rel, bool dir) {
  char p[512];
  snprintf(p, sizeof p, "%s/%s", root, rel);
  if (dir) {
    mkdir(p, 0755);
  } else {
    int fd = open(p, O_CREAT | O_WRONLY, 0644);
    if (fd >= 0)
      close(fd);
  }
}

static void ln(const char *target, const char *rel) {
  char p[512];
  snprintf(p, sizeof p, "%s/%s", root, rel);
  if (symlink(target, p) < 0)
    perror("symlink");
}

/* whether fd is the file at root/rel */
static bool same(int fd, const char *rel) {
  char p[512];
  struct stat a, b;
  snprintf(p, sizeof p, "%s/%s", root, rel);
  if (fd < 0 || fstat(fd, &a) < 0 || lstat(p, &b) < 0)
    return false;
  return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

static bool exists_in_root(const char *rel) {
  char p[512];
  struct stat b;
  snprintf(p, sizeof p, "%s/%s", root, rel);
  return lstat(p, &b) == 0;
}

typedef int (*open_fn)(int, const char *, int, berr_t *);

static void run(const char *how, open_fn op) {
  berr_t err;
  int fd;
  fd = op(root_fd, "/etc/hosts", ROOTFS_LOOKUP, &err);
  TAP_OK(same(fd, "etc/hosts"), "%s: plain absolute path", how);
  close(fd);
  fd = op(root_fd, "etc/./hosts", ROOTFS_LOOKUP, &err);
  TAP_OK(same(fd, "etc/hosts"), "%s: relative path with .", how);
  close(fd);
  fd = op(root_fd, "/../../../etc/hosts", ROOTFS_LOOKUP, &err);
  TAP_OK(same(fd, "etc/hosts"), "%s: `..` above the top stays at the top", how);
  close(fd);
  fd = op(root_fd, "/", ROOTFS_MKDIR, &err);
  TAP_OK(same(fd, "."), "%s: `/` is the rootfs itself", how);
  close(fd);
  fd = op(root_fd, "/abs/hosts", ROOTFS_LOOKUP, &err);
  TAP_OK(same(fd, "etc/hosts"), "%s: absolute symlink is rooted at the rootfs", how);
  close(fd);
  fd = op(root_fd, "/esc/etc/hosts", ROOTFS_LOOKUP, &err);
  TAP_OK(same(fd, "etc/hosts"), "%s: relative symlink with `..` cannot climb out", how);
  close(fd);
  fd = op(root_fd, "/etc/hostslink", ROOTFS_MKFILE, &err);
  TAP_OK(same(fd, "etc/hosts"), "%s: the last component's symlink is followed in the rootfs", how);
  close(fd);
  fd = op(root_fd, "/escfile", ROOTFS_LOOKUP, &err);
  TAP_OK(fd < 0 && err.kind == BERR_NOT_FOUND, "%s: symlink to ../../etc/shadow is not the host's: %s",
         how, err.msg);
  fd = op(root_fd, "/dangling/sub", ROOTFS_MKDIR, &err);
  TAP_OK(fd >= 0 && same(fd, "outside/made/sub") && access("/outside/made", F_OK) < 0,
         "%s: a dangling absolute symlink's target is made inside the rootfs", how);
  close(fd);
  fd = op(root_fd, "/new/a/b/", ROOTFS_MKDIR, &err);
  TAP_OK(fd >= 0 && same(fd, "new/a/b"), "%s: missing directories made", how);
  close(fd);
  fd = op(root_fd, "/new/c/file", ROOTFS_MKFILE, &err);
  struct stat sb;
  TAP_OK(fd >= 0 && same(fd, "new/c/file") && fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) &&
             sb.st_size == 0,
         "%s: missing file made empty", how);
  close(fd);
  fd = op(root_fd, "/loop/x", ROOTFS_LOOKUP, &err);
  TAP_OK(fd < 0 && err.kind == BERR_INVALID, "%s: symlink loop refused: %s", how, err.msg);
  fd = op(root_fd, "/etc/hosts/x", ROOTFS_MKDIR, &err);
  TAP_OK(fd < 0 && err.kind == BERR_INVALID, "%s: a file in the middle refused: %s", how, err.msg);
  fd = op(root_fd, "/etc/hosts", ROOTFS_MKDIR, &err);
  TAP_OK(fd < 0 && err.kind == BERR_INVALID, "%s: a file where a directory is asked refused", how);
  fd = op(root_fd, "/etc", ROOTFS_MKFILE, &err);
  TAP_OK(fd < 0 && err.kind == BERR_INVALID, "%s: a directory where a file is asked refused", how);
  fd = op(root_fd, "", ROOTFS_LOOKUP, &err);
  TAP_OK(fd < 0 && err.kind == BERR_INVALID, "%s: empty path refused", how);
  fd = op(root_fd, "/missing", ROOTFS_LOOKUP, &err);
  TAP_OK(fd < 0 && err.kind == BERR_NOT_FOUND && strstr(err.msg, "/missing"),
         "%s: missing without create is not_found: %s", how, err.msg);
  fd = op(root_fd, "/proclink/1", ROOTFS_LOOKUP, &err);
  TAP_OK(fd < 0, "%s: /proc/self/root link does not reach the host's root", how);
}

int main(void) {
  TAP_PLAN(2 * 18 + 5);
  snprintf(root, sizeof root, "/tmp/berth-rootfs-path-XXXXXX");
  if (!mkdtemp(root)) {
    perror("mkdtemp");
    return 1;
  }
  mk("etc", true);
  mk("etc/hosts", false);
  ln("hosts", "etc/hostslink");
  ln("/etc", "abs");
  ln("../../..", "esc");
  ln("../../../../../../etc/shadow", "escfile");
  ln("/outside/made", "dangling");
  ln("loop", "loop");
  ln("/proc/self/root", "proclink");
  root_fd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
  run("openat2", rootfs_open);
  run("walk", rootfs_open_walk);
  berr_t err;
  int fd = rootfs_open(root_fd, "/escfile", ROOTFS_MKFILE, &err);
  TAP_OK(fd >= 0 && same(fd, "etc/shadow") && exists_in_root("etc/shadow"),
         "creating through an escaping symlink creates inside the rootfs");
  close(fd);
  fd = rootfs_open(root_fd, "/esc/etc", ROOTFS_MKDIR | ROOTFS_NO_ESCAPE, &err);
  TAP_OK(fd < 0 && err.kind == BERR_INVALID && strstr(err.msg, "leads out"),
         "NO_ESCAPE: a symlink climbing above the top refused: %s", err.msg);
  fd = rootfs_open(root_fd, "/../etc", ROOTFS_MKDIR | ROOTFS_NO_ESCAPE, &err);
  TAP_OK(fd < 0 && err.kind == BERR_INVALID, "NO_ESCAPE: `/..` refused");
  fd = rootfs_open(root_fd, "/abs/../etc/hosts", ROOTFS_MKFILE | ROOTFS_NO_ESCAPE, &err);
  TAP_OK(same(fd, "etc/hosts"), "NO_ESCAPE: absolute symlinks and `..` inside still work");
  close(fd);
  char at[32];
  rootfs_fd_path(7, at);
  TAP_OK(!strcmp(at, "/proc/self/fd/7"), "fd path");
  close(root_fd);
  rm_rf(root, &err);
  TAP_DONE();
}
