#include "rootfs-path.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cleanup.h"

void rootfs_fd_path(int fd, char buf[32]) { snprintf(buf, 32, "/proc/self/fd/%d", fd); }

/* A failed lookup's kind: what the path names is wrong, not the system. */
static int path_error(berr_t *err, int errnum, const char *what, const char *path) {
  berr_sys(err, errnum, "%s `%s` in the container's rootfs", what, path);
  if (errnum == ENOENT)
    err->kind = BERR_NOT_FOUND;
  else if (errnum == ELOOP || errnum == ENOTDIR || errnum == ENAMETOOLONG || errnum == EXDEV)
    err->kind = BERR_INVALID;
  return -1;
}

static int check_type(int fd, int flags, const char *path, berr_t *err) {
  struct stat st;
  if (fstat(fd, &st) < 0)
    return berr_sys(err, errno, "fstat `%s` in the container's rootfs", path);
  if ((flags & ROOTFS_MKDIR) && !S_ISDIR(st.st_mode))
    return berr_set(err, BERR_INVALID, "`%s` in the container is not a directory", path);
  if ((flags & ROOTFS_MKFILE) && S_ISDIR(st.st_mode))
    return berr_set(err, BERR_INVALID, "`%s` in the container is a directory, not a file", path);
  return 0;
}

static int check_path(const char *path, berr_t *err) {
  if (!path || !path[0])
    return berr_set(err, BERR_INVALID, "an empty path in the container");
  if (strnlen(path, PATH_MAX) >= PATH_MAX)
    return berr_set(err, BERR_INVALID, "a path in the container is over %d bytes", PATH_MAX);
  return 0;
}

/* ---- the walk ------------------------------------------------------------------- */

/* The directories from the rootfs' top down to where the walk is. */
struct dir_stack {
  int *fd;
  size_t n, cap;
};

static void stack_free(struct dir_stack *s) {
  for (size_t i = 0; i < s->n; i++)
    close(s->fd[i]);
  free(s->fd);
  s->fd = NULL;
  s->n = s->cap = 0;
}

static int stack_push(struct dir_stack *s, int fd, berr_t *err) {
  if (s->n == s->cap) {
    size_t cap = s->cap ? s->cap * 2 : 16;
    int *v = realloc(s->fd, cap * sizeof *v);
    if (!v) {
      close(fd);
      return berr_sys(err, ENOMEM, "path walk");
    }
    s->fd = v;
    s->cap = cap;
  }
  s->fd[s->n++] = fd;
  return 0;
}

/* Back to the top only (an absolute symlink starts again there). */
static void stack_to_top(struct dir_stack *s) {
  while (s->n > 1)
    close(s->fd[--s->n]);
}

/* Makes the missing component `name` in dir: a directory, or (the last
 * component of a ROOTFS_MKFILE walk) an empty file. Someone else making it
 * first is fine: the caller opens it again with O_NOFOLLOW. */
static int make_missing(int dir, const char *name, bool as_file, const char *path, berr_t *err) {
  if (as_file) {
    int fd = openat(dir, name, O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0 && errno != EEXIST)
      return path_error(err, errno, "create the file", path);
    if (fd >= 0)
      close(fd);
    return 0;
  }
  if (mkdirat(dir, name, 0755) < 0 && errno != EEXIST)
    return path_error(err, errno, "mkdir", path);
  return 0;
}

int rootfs_open_walk(int root_fd, const char *path, int flags, berr_t *err) {
  if (check_path(path, err) < 0)
    return -1;
  struct dir_stack st = {0};
  int top = openat(root_fd, ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (top < 0)
    return berr_sys(err, errno, "open the container's rootfs");
  if (stack_push(&st, top, err) < 0)
    return -1;
  cleanup_free char *rest = strdup(path);
  if (!rest) {
    stack_free(&st);
    return berr_sys(err, ENOMEM, "path walk");
  }
  char *p = rest;
  int links = 0, result = -1;
  bool create = flags & (ROOTFS_MKDIR | ROOTFS_MKFILE);
  for (;;) {
    while (*p == '/')
      p++;
    if (!*p)
      break; /* the path ends on a directory: the top of the stack */
    char *end = strchrnul(p, '/');
    char *next = end;
    while (*next == '/')
      next++;
    bool last = !*next;
    bool trailing_slash = *end == '/';
    char name[NAME_MAX + 1];
    size_t len = (size_t)(end - p);
    if (len > NAME_MAX) {
      stack_free(&st);
      return path_error(err, ENAMETOOLONG, "look up", path);
    }
    memcpy(name, p, len);
    name[len] = '\0';
    p = next;
    if (!strcmp(name, "."))
      continue;
    if (!strcmp(name, "..")) {
      if (st.n > 1) {
        close(st.fd[--st.n]);
      } else if (flags & ROOTFS_NO_ESCAPE) {
        stack_free(&st);
        return berr_set(err, BERR_INVALID, "`%s` leads out of the container's rootfs (`..` above `/`)",
                        path);
      }
      continue;
    }
    int dir = st.fd[st.n - 1];
    int fd = openat(dir, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT && create) {
      bool as_file = last && !trailing_slash && (flags & ROOTFS_MKFILE);
      if (make_missing(dir, name, as_file, path, err) < 0) {
        stack_free(&st);
        return -1;
      }
      fd = openat(dir, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
    }
    if (fd < 0) {
      int e = errno;
      stack_free(&st);
      return path_error(err, e, "look up", path);
    }
    struct stat sb;
    if (fstat(fd, &sb) < 0) {
      int e = errno;
      close(fd);
      stack_free(&st);
      return berr_sys(err, e, "fstat a component of `%s` in the container's rootfs", path);
    }
    if (S_ISLNK(sb.st_mode)) {
      char target[PATH_MAX];
      ssize_t n = ++links > ROOTFS_MAX_SYMLINKS ? -1 : readlinkat(fd, "", target, sizeof target);
      int e = links > ROOTFS_MAX_SYMLINKS ? ELOOP : errno;
      close(fd);
      if (n < 0 || (size_t)n >= sizeof target) {
        stack_free(&st);
        return path_error(err, n < 0 ? e : ENAMETOOLONG, "follow a symlink of", path);
      }
      target[n] = '\0';
      /* the rest of the walk is the link's target, then what followed the link */
      size_t tl = (size_t)n, rl = strlen(p);
      if (tl + 1 + rl >= PATH_MAX) {
        stack_free(&st);
        return path_error(err, ENAMETOOLONG, "follow a symlink of", path);
      }
      char *joined = malloc(tl + rl + 3);
      if (!joined) {
        stack_free(&st);
        return berr_sys(err, ENOMEM, "path walk");
      }
      /* a trailing slash after the link still asks for a directory */
      snprintf(joined, tl + rl + 3, "%s%s%s", target, rl || trailing_slash ? "/" : "", p);
      free(rest);
      rest = p = joined;
      if (target[0] == '/')
        stack_to_top(&st); /* rooted: an absolute link starts at the rootfs' top */
      continue;
    }
    if (S_ISDIR(sb.st_mode)) {
      if (stack_push(&st, fd, err) < 0) {
        stack_free(&st);
        return -1;
      }
      continue;
    }
    if (!last || trailing_slash) {
      close(fd);
      stack_free(&st);
      return path_error(err, ENOTDIR, "look up", path);
    }
    result = fd;
    break;
  }
  if (result < 0) {
    result = st.fd[st.n - 1];
    st.n--; /* handed out, not closed */
  }
  stack_free(&st);
  if (check_type(result, flags, path, err) < 0) {
    close(result);
    return -1;
  }
  return result;
}

/* ---- openat2 -------------------------------------------------------------------- */

int rootfs_open(int root_fd, const char *path, int flags, berr_t *err) {
  if (check_path(path, err) < 0)
    return -1;
  if (flags & ROOTFS_NO_ESCAPE) /* openat2 clamps `..` at the top silently: walk to see it */
    return rootfs_open_walk(root_fd, path, flags, err);
  struct open_how how = {.flags = O_PATH | O_CLOEXEC,
                         .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS};
  for (int tries = 0; tries < 8; tries++) {
    int fd = (int)syscall(SYS_openat2, root_fd, path, &how, sizeof how);
    if (fd >= 0) {
      if (check_type(fd, flags, path, err) < 0) {
        close(fd);
        return -1;
      }
      return fd;
    }
    /* EAGAIN: a rename raced the in-root `..` check; the kernel asks for a retry */
    if (errno == EAGAIN)
      continue;
    /* missing openat2 (ENOSYS; EPERM from a seccomp filter), or something to make */
    if (errno == ENOSYS || errno == EPERM || errno == E2BIG ||
        (errno == ENOENT && (flags & (ROOTFS_MKDIR | ROOTFS_MKFILE))))
      break;
    return path_error(err, errno, "look up", path);
  }
  return rootfs_open_walk(root_fd, path, flags, err);
}
