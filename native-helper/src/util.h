/* Small file, path and time helpers shared by every module. All return -1
 * with err filled on failure (see error.h). */
#ifndef BERTH_UTIL_H
#define BERTH_UTIL_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "error.h"

/* Reads a whole file (NUL-terminated; *len without the NUL). Fails past max bytes. */
int read_file(const char *path, size_t max, char **out, size_t *len, berr_t *err);
/* Writes all len bytes to fd (again after EINTR and short writes); -1 with errno. */
int write_all(int fd, const void *data, size_t len);
/* One read(2), again after EINTR. */
ssize_t read_retry(int fd, void *buf, size_t n);
/* Reads exactly n bytes (again after EINTR and short reads); -1 on an error or
 * an end before n (errno 0 then). */
int read_full(int fd, void *buf, size_t n);
/* Writes data to path via a temp file + rename (+ fsync when durable). */
int write_file_atomic(const char *path, const void *data, size_t len, mode_t mode, bool durable,
                      berr_t *err);
/* Writes a string into an existing file (cgroupfs, procfs): open O_WRONLY, one write. */
int write_string(const char *path, const char *s, berr_t *err);
/* Reads a small file (cgroupfs, procfs) and parses a signed 64-bit integer;
 * "max" gives -1. */
int read_int64(const char *path, int64_t *out, berr_t *err);

int mkdir_p(const char *path, mode_t mode, berr_t *err);
/* Removes a tree without following symlinks and without crossing into other
 * mounts (a mount point inside is an error, never a recursion). ENOENT is fine. */
int rm_rf(const char *path, berr_t *err);

/* JSON files. */
int json_read_file(const char *path, json_object **out, berr_t *err);
int json_write_file(const char *path, json_object *o, bool durable, berr_t *err);

/* Time: RFC 3339 with nanoseconds, UTC ("2026-11-25T05:40:00.123456789Z"). */
void format_rfc3339(const struct timespec *ts, char buf[40]);
void now_rfc3339(char buf[40]);
/* CLOCK_MONOTONIC in microseconds. */
int64_t mono_us(void);

/* NULL-terminated string vectors. */
size_t strv_len(char *const *v);
char **strv_dup(char *const *v);
void strv_free(char **v);
/* Builds a NULL-terminated vector from a JSON array of strings; NULL json gives an empty vector. */
int strv_from_json(json_object *arr, char ***out, const char *field, berr_t *err);
json_object *strv_to_json(char *const *v);

#endif
