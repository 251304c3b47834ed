/* Scope cleanup (GCC/Clang cleanup attribute), as crun does: a variable
 * declared `cleanup_free char *p = NULL;` is freed on every return path. */
#ifndef BERTH_CLEANUP_H
#define BERTH_CLEANUP_H

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static inline void cleanup_freep(void *p) {
  void **pp = (void **)p;
  free(*pp);
}
static inline void cleanup_closep(int *fd) {
  if (*fd >= 0) {
    int saved = errno;
    close(*fd);
    errno = saved;
  }
}
static inline void cleanup_fclosep(FILE **f) {
  if (*f)
    fclose(*f);
}
static inline void cleanup_closedirp(DIR **d) {
  if (*d)
    closedir(*d);
}

#define cleanup_free __attribute__((cleanup(cleanup_freep)))
#define cleanup_close __attribute__((cleanup(cleanup_closep)))
#define cleanup_fclose __attribute__((cleanup(cleanup_fclosep)))
#define cleanup_dir __attribute__((cleanup(cleanup_closedirp)))

/* Hands ownership out of a cleanup_* variable. */
static inline int take_fd(int *fd) {
  int r = *fd;
  *fd = -1;
  return r;
}
#define take_ptr(p) ({ __typeof__(p) _t = (p); (p) = NULL; _t; })

#endif
