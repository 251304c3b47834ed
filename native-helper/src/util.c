#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"

int read_file(const char *path, size_t max, char **out, size_t *len, berr_t *err) {
  cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return berr_sys(err, errno, "open `%s`", path);
  size_t cap = 4096, n = 0;
  cleanup_free char *buf = malloc(cap);
  if (!buf)
    return berr_sys(err, ENOMEM, "read `%s`", path);
  for (;;) {
    if (n + 1 >= cap) {
      if (cap > max + 1)
        return berr_set(err, BERR_LIMIT, "read `%s`: file is larger than %zu bytes", path, max);
      char *nb = realloc(buf, cap * 2);
      if (!nb)
        return berr_sys(err, ENOMEM, "read `%s`", path);
      buf = nb;
      cap *= 2;
    }
    ssize_t r = read(fd, buf + n, cap - n - 1);
    if (r < 0) {
      if (errno == EINTR)
        continue;
      return berr_sys(err, errno, "read `%s`", path);
    }
    if (r == 0)
      break;
    n += (size_t)r;
    if (n > max)
      return berr_set(err, BERR_LIMIT, "read `%s`: file is larger than %zu bytes", path, max);
  }
  buf[n] = '\0';
  if (len)
    *len = n;
  *out = take_ptr(buf);
  return 0;
}

ssize_t read_retry(int fd, void *buf, size_t n) {
  ssize_t r;
  do
    r = read(fd, buf, n);
  while (r < 0 && errno == EINTR);
  return r;
}

int read_full(int fd, void *buf, size_t n) {
  size_t got = 0;
  while (got < n) {
    ssize_t r = read_retry(fd, (char *)buf + got, n - got);
    if (r <= 0) {
      if (r == 0)
        errno = 0;
      return -1;
    }
    got += (size_t)r;
  }
  return 0;
}

int write_all(int fd, const void *data, size_t len) {
  const char *p = data;
  while (len > 0) {
    ssize_t w = write(fd, p, len);
    if (w < 0) {
      if (errno == EINTR)
        continue;
      return -1;
    }
    p += w;
    len -= (size_t)w;
  }
  return 0;
}

int write_file_atomic(const char *path, const void *data, size_t len, mode_t mode, bool durable,
                      berr_t *err) {
  char tmp[4096];
  if (snprintf(tmp, sizeof tmp, "%s.tmp.%d", path, (int)getpid()) >= (int)sizeof tmp)
    return berr_set(err, BERR_INVALID, "path too long: `%s`", path);
  cleanup_close int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0)
    return berr_sys(err, errno, "open `%s`", tmp);
  if (write_all(fd, data, len) < 0) {
    int e = errno;
    unlink(tmp);
    return berr_sys(err, e, "write `%s`", tmp);
  }
  if (durable && fsync(fd) < 0) {
    int e = errno;
    unlink(tmp);
    return berr_sys(err, e, "fsync `%s`", tmp);
  }
  if (rename(tmp, path) < 0) {
    int e = errno;
    unlink(tmp);
    return berr_sys(err, e, "rename `%s` to `%s`", tmp, path);
  }
  return 0;
}

int write_string(const char *path, const char *s, berr_t *err) {
  cleanup_close int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0)
    return berr_sys(err, errno, "open `%s`", path);
  size_t len = strlen(s);
  ssize_t w;
  do
    w = write(fd, s, len);
  while (w < 0 && errno == EINTR);
  if (w < 0)
    return berr_sys(err, errno, "write `%s` to `%s`", s, path);
  if ((size_t)w != len)
    return berr_sys(err, EIO, "short write of `%s` to `%s`", s, path);
  return 0;
}

int read_int64(const char *path, int64_t *out, berr_t *err) {
  cleanup_free char *buf = NULL;
  if (read_file(path, 4096, &buf, NULL, err) < 0)
    return -1;
  if (strncmp(buf, "max", 3) == 0) {
    *out = -1;
    return 0;
  }
  char *end = NULL;
  errno = 0;
  long long v = strtoll(buf, &end, 10);
  if (errno || end == buf)
    return berr_set(err, BERR_INTERNAL, "`%s` does not hold a number: `%.40s`", path, buf);
  *out = v;
  return 0;
}

int mkdir_p(const char *path, mode_t mode, berr_t *err) {
  char buf[4096];
  size_t len = strlen(path);
  if (len == 0 || len >= sizeof buf)
    return berr_set(err, BERR_INVALID, "bad directory path `%s`", path);
  memcpy(buf, path, len + 1);
  for (char *p = buf + 1; *p; p++) {
    if (*p != '/')
      continue;
    *p = '\0';
    if (mkdir(buf, mode) < 0 && errno != EEXIST)
      return berr_sys(err, errno, "mkdir `%s`", buf);
    *p = '/';
  }
  if (mkdir(buf, mode) < 0 && errno != EEXIST)
    return berr_sys(err, errno, "mkdir `%s`", buf);
  return 0;
}

static int rm_rf_at(int parent_fd, const char *name, const char *path, dev_t dev, berr_t *err) {
  struct stat st;
  if (fstatat(parent_fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
    if (errno == ENOENT)
      return 0;
    return berr_sys(err, errno, "stat `%s`", path);
  }
  if (!S_ISDIR(st.st_mode)) {
    if (unlinkat(parent_fd, name, 0) < 0 && errno != ENOENT)
      return berr_sys(err, errno, "unlink `%s`", path);
    return 0;
  }
  if (st.st_dev != dev)
    return berr_set(err, BERR_CONFLICT, "`%s` is a mount point; refusing to remove it", path);
  int fd = openat(parent_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0)
    return berr_sys(err, errno, "open `%s`", path);
  cleanup_dir DIR *d = fdopendir(fd);
  if (!d) {
    close(fd);
    return berr_sys(err, errno, "opendir `%s`", path);
  }
  struct dirent *de;
  while ((de = readdir(d))) {
    if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
      continue;
    /* on the heap: a layer can nest ~2000 dirs, and 4 KiB a level overflowed the stack */
    cleanup_free char *child = NULL;
    if (asprintf(&child, "%s/%s", path, de->d_name) < 0)
      return berr_sys(err, ENOMEM, "remove `%s`", path);
    if (rm_rf_at(dirfd(d), de->d_name, child, dev, err) < 0)
      return -1;
  }
  if (unlinkat(parent_fd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
    return berr_sys(err, errno, "rmdir `%s`", path);
  return 0;
}

int rm_rf(const char *path, berr_t *err) {
  struct stat st;
  if (lstat(path, &st) < 0) {
    if (errno == ENOENT)
      return 0;
    return berr_sys(err, errno, "stat `%s`", path);
  }
  return rm_rf_at(AT_FDCWD, path, path, st.st_dev, err);
}

int json_read_file(const char *path, json_object **out, berr_t *err) {
  cleanup_free char *buf = NULL;
  if (read_file(path, 16 << 20, &buf, NULL, err) < 0)
    return -1;
  json_object *o = json_tokener_parse(buf);
  if (!o)
    return berr_set(err, BERR_INTERNAL, "`%s` is not valid JSON", path);
  *out = o;
  return 0;
}

int json_write_file(const char *path, json_object *o, bool durable, berr_t *err) {
  size_t len = 0;
  const char *s = json_object_to_json_string_length(o, JSON_C_TO_STRING_PLAIN, &len);
  return write_file_atomic(path, s, len, 0600, durable, err);
}

void format_rfc3339(const struct timespec *ts, char buf[40]) {
  struct tm tm;
  gmtime_r(&ts->tv_sec, &tm);
  size_t n = strftime(buf, 40, "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(buf + n, 40 - n, ".%09ldZ", ts->tv_nsec);
}

void now_rfc3339(char buf[40]) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  format_rfc3339(&ts, buf);
}

int64_t mono_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

size_t strv_len(char *const *v) {
  size_t n = 0;
  while (v && v[n])
    n++;
  return n;
}

char **strv_dup(char *const *v) {
  size_t n = strv_len(v);
  char **r = calloc(n + 1, sizeof *r);
  if (!r)
    return NULL;
  for (size_t i = 0; i < n; i++) {
    r[i] = strdup(v[i]);
    if (!r[i]) {
      strv_free(r);
      return NULL;
    }
  }
  return r;
}

void strv_free(char **v) {
  if (!v)
    return;
  for (size_t i = 0; v[i]; i++)
    free(v[i]);
  free(v);
}

int strv_from_json(json_object *arr, char ***out, const char *field, berr_t *err) {
  size_t n = 0;
  if (arr) {
    if (!json_object_is_type(arr, json_type_array))
      return berr_set(err, BERR_BAD_REQUEST, "`%s` must be an array of strings", field);
    n = json_object_array_length(arr);
  }
  char **v = calloc(n + 1, sizeof *v);
  if (!v)
    return berr_sys(err, ENOMEM, "allocate `%s`", field);
  for (size_t i = 0; i < n; i++) {
    json_object *e = json_object_array_get_idx(arr, i);
    if (!json_object_is_type(e, json_type_string)) {
      strv_free(v);
      return berr_set(err, BERR_BAD_REQUEST, "`%s[%zu]` must be a string", field, i);
    }
    v[i] = strdup(json_object_get_string(e));
    if (!v[i]) {
      strv_free(v);
      return berr_sys(err, ENOMEM, "allocate `%s`", field);
    }
  }
  *out = v;
  return 0;
}

json_object *strv_to_json(char *const *v) {
  json_object *a = json_object_new_array();
  for (size_t i = 0; v && v[i]; i++)
    json_object_array_add(a, json_object_new_string(v[i]));
  return a;
}
