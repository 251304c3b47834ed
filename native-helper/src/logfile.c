#include "logfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "util.h"

int logfile_open(struct logfile *lf, const char *path, int64_t max_bytes, berr_t *err) {
  memset(lf, 0, sizeof *lf);
  lf->fd = -1;
  lf->max_bytes = max_bytes;
  if (!(lf->path = strdup(path)))
    return berr_sys(err, ENOMEM, "log path");
  lf->fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0640);
  if (lf->fd < 0) {
    int e = errno;
    logfile_close(lf);
    return berr_sys(err, e, "open `%s`", path);
  }
  struct stat st;
  if (fstat(lf->fd, &st) < 0) {
    int e = errno;
    logfile_close(lf);
    return berr_sys(err, e, "stat `%s`", path);
  }
  lf->size = st.st_size;
  return 0;
}

void logfile_close(struct logfile *lf) {
  if (lf->fd >= 0)
    close(lf->fd);
  lf->fd = -1;
  free(lf->path);
  lf->path = NULL;
}

int logfile_format(const char *stream, const void *data, size_t n, const struct timespec *ts,
                   char **out, size_t *out_len, berr_t *err) {
  char stamp[40];
  format_rfc3339(ts, stamp);
  size_t prefix = strlen(stamp) + 1 + strlen(stream) + 3; /* "TS stream F " */
  size_t lines = 1;
  const char *p = data, *end = p + n;
  for (const char *q = p; q < end; q++)
    lines += *q == '\n';
  size_t cap = n + lines * (prefix + 1) + 1;
  char *buf = malloc(cap);
  if (!buf)
    return berr_sys(err, ENOMEM, "log record");
  size_t len = 0;
  while (p < end) {
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    size_t text = nl ? (size_t)(nl - p) : (size_t)(end - p);
    len += (size_t)snprintf(buf + len, cap - len, "%s %s %c ", stamp, stream, nl ? 'F' : 'P');
    memcpy(buf + len, p, text);
    len += text;
    buf[len++] = '\n';
    p += text + (nl ? 1 : 0);
  }
  buf[len] = '\0';
  *out = buf;
  *out_len = len;
  return 0;
}

static int rotate(struct logfile *lf, berr_t *err) {
  char old[4096];
  if (snprintf(old, sizeof old, "%s.1", lf->path) >= (int)sizeof old)
    return berr_set(err, BERR_INTERNAL, "log path too long: `%s`", lf->path);
  if (rename(lf->path, old) < 0)
    return berr_sys(err, errno, "rename `%s` to `%s`", lf->path, old);
  int fd = open(lf->path, O_WRONLY | O_APPEND | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0640);
  if (fd < 0)
    return berr_sys(err, errno, "open `%s`", lf->path);
  close(lf->fd);
  lf->fd = fd;
  lf->size = 0;
  return 0;
}

int logfile_write(struct logfile *lf, const char *stream, const void *data, size_t n,
                  const struct timespec *ts, berr_t *err) {
  if (n == 0)
    return 0;
  struct timespec now;
  if (!ts) {
    clock_gettime(CLOCK_REALTIME, &now);
    ts = &now;
  }
  cleanup_free char *rec = NULL;
  size_t len = 0;
  if (logfile_format(stream, data, n, ts, &rec, &len, err) < 0)
    return -1;
  /* rotate before a record would take the file past the cap, so each file stays
   * within it (a single record larger than the cap still goes in whole) */
  if (lf->max_bytes > 0 && lf->size > 0 && lf->size + (int64_t)len > lf->max_bytes &&
      rotate(lf, err) < 0)
    return -1;
  size_t off = 0;
  while (off < len) {
    ssize_t w = write(lf->fd, rec + off, len - off);
    if (w < 0) {
      if (errno == EINTR)
        continue;
      return berr_sys(err, errno, "write `%s`", lf->path);
    }
    off += (size_t)w;
  }
  lf->size += (int64_t)len;
  return 0;
}
