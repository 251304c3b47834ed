#include "userpath.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fsuid.h>
#include <sys/syscall.h>
#include <unistd.h>

static struct peer_id client;
static bool have_client;

void userpath_set_client(const struct peer_id *who) {
  have_client = who != NULL;
  if (who)
    client = *who;
}

const struct peer_id *userpath_client(void) { return have_client ? &client : NULL; }

static bool as_root(const struct peer_id *who) { return !who || (who->known && who->uid == 0); }

/* ---- the switch ------------------------------------------------------------------ */

struct saved {
  uid_t fsuid;
  gid_t fsgid;
  int ngroups;
  gid_t groups[PEER_MAX_GROUPS + 1];
};

/* Takes who's filesystem identity; 0, or -1 with errno and nothing changed.
 * A client berthd cannot name (no credentials) gets the overflow ids. */
static int become(const struct peer_id *who, struct saved *sv) {
  uid_t uid = who->known ? who->uid : 65534;
  gid_t gid = who->known ? who->gid : 65534;
  sv->ngroups = getgroups(PEER_MAX_GROUPS + 1, sv->groups);
  if (sv->ngroups < 0)
    return -1;
  sv->fsuid = (uid_t)setfsuid((uid_t)-1);
  sv->fsgid = (gid_t)setfsgid((gid_t)-1);
  if (setgroups(who->known ? (size_t)who->ngroups : 0, who->groups) < 0)
    return -1;
  setfsgid(gid);
  setfsuid(uid);
  /* setfsuid says nothing about failure: read the ids back */
  if ((uid_t)setfsuid((uid_t)-1) != uid || (gid_t)setfsgid((gid_t)-1) != gid) {
    int e = errno ? errno : EPERM;
    setfsuid(sv->fsuid);
    setfsgid(sv->fsgid);
    (void)!setgroups((size_t)sv->ngroups, sv->groups);
    errno = e;
    return -1;
  }
  return 0;
}

static void unbecome(const struct saved *sv) {
  int e = errno;
  setfsuid(sv->fsuid);
  setfsgid(sv->fsgid);
  /* going on with another identity than root's would be wrong either way */
  if ((uid_t)setfsuid((uid_t)-1) != sv->fsuid || (gid_t)setfsgid((gid_t)-1) != sv->fsgid ||
      setgroups((size_t)sv->ngroups, sv->groups) < 0)
    abort();
  errno = e;
}

/* Runs op(args) as who; op returns -1 with errno on failure. */
#define AS(who, call)                                                                              \
  ({                                                                                               \
    int r_;                                                                                        \
    if (as_root(who)) {                                                                            \
      r_ = (call);                                                                                 \
    } else {                                                                                       \
      struct saved sv_;                                                                            \
      if (become(who, &sv_) < 0) {                                                                 \
        r_ = -1;                                                                                   \
      } else {                                                                                     \
        r_ = (call);                                                                               \
        unbecome(&sv_);                                                                            \
      }                                                                                            \
    }                                                                                              \
    r_;                                                                                            \
  })

/* ---- operations ---------------------------------------------------------------------- */

int userpath_error(berr_t *err, const struct peer_id *who, int errnum, const char *what, const char *path) {
  if ((errnum == EACCES || errnum == EPERM) && !as_root(who))
    return berr_set(err, BERR_DENIED,
                    "permission denied: `%s`: uid %u may not %s it (berthd opens the paths a client names "
                    "with the client's own permissions)",
                    path, who->known ? (unsigned)who->uid : 65534u, what);
  berr_sys(err, errnum, "%s `%s`", what, path);
  if (errnum == ENOENT)
    err->kind = BERR_NOT_FOUND;
  return -1;
}

int userpath_open(const struct peer_id *who, const char *path, int flags, mode_t mode, const char *what,
                  berr_t *err) {
  int fd = AS(who, open(path, flags | O_CLOEXEC, mode));
  if (fd < 0)
    return userpath_error(err, who, errno, what, path);
  return fd;
}

static int openat_beneath(int dirfd, const char *rel, int flags) {
  struct open_how how = {.flags = (uint64_t)(flags | O_CLOEXEC),
                         .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS};
  int fd = (int)syscall(SYS_openat2, dirfd, rel, &how, sizeof how);
  if (fd >= 0 || errno != ENOSYS)
    return fd;
  /* no openat2 (before Linux 5.6): no `..`, no symlink at the end, and the
   * file found must lie below the directory */
  for (const char *p = rel; *p;) {
    size_t n = strcspn(p, "/");
    if (n == 2 && p[0] == '.' && p[1] == '.') {
      errno = EXDEV;
      return -1;
    }
    p += n;
    while (*p == '/')
      p++;
  }
  fd = openat(dirfd, rel, flags | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0)
    return -1;
  char a[32], b[32], top[PATH_MAX], got[PATH_MAX];
  userpath_fd_path(dirfd, a);
  userpath_fd_path(fd, b);
  ssize_t na = readlink(a, top, sizeof top - 1), nb = readlink(b, got, sizeof got - 1);
  if (na <= 0 || nb <= na || strncmp(top, got, (size_t)na) || got[na] != '/') {
    close(fd);
    errno = EXDEV;
    return -1;
  }
  return fd;
}

int userpath_openat_beneath(const struct peer_id *who, int dirfd, const char *rel, int flags) {
  return AS(who, openat_beneath(dirfd, rel, flags));
}

int userpath_lstat(const struct peer_id *who, const char *path, struct stat *st) {
  return AS(who, lstat(path, st));
}

int userpath_rename_noreplace(const struct peer_id *who, const char *from, const char *to) {
  return AS(who, renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE));
}

int userpath_unlink(const struct peer_id *who, const char *path) { return AS(who, unlink(path)); }

void userpath_fd_path(int fd, char out[32]) { snprintf(out, 32, "/proc/self/fd/%d", fd); }

void userpath_unalias(berr_t *err, const char *alias, const char *path) {
  size_t na = strlen(alias);
  char out[BERR_MSG_MAX];
  size_t o = 0;
  bool changed = false;
  for (const char *p = err->msg; *p && o + 1 < sizeof out;) {
    /* an alias followed by a digit is another fd's ("/proc/self/fd/1" in "/proc/self/fd/12") */
    if (!strncmp(p, alias, na) && !(p[na] >= '0' && p[na] <= '9')) {
      size_t n = strlen(path);
      if (o + n >= sizeof out - 1)
        n = sizeof out - 1 - o;
      memcpy(out + o, path, n);
      o += n;
      p += na;
      changed = true;
    } else {
      out[o++] = *p++;
    }
  }
  out[o] = '\0';
  if (changed)
    memcpy(err->msg, out, o + 1);
}
