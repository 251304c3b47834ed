/* The container log (docs/protocol.md "The container log"): one record per
 * line of each chunk the container wrote,
 *   2026-11-25T05:40:00.123456789Z stdout F hello world
 * F = a full line (newline removed), P = partial (goes on in the next record).
 * Past the cap the file is renamed to <path>.1 and a new one is started. */
#ifndef BERTH_LOGFILE_H
#define BERTH_LOGFILE_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "error.h"

struct logfile {
  int fd;
  int64_t size;
  int64_t max_bytes; /* <= 0: no cap */
  char *path;
};

/* Opens (appends to) path. */
int logfile_open(struct logfile *lf, const char *path, int64_t max_bytes, berr_t *err);
/* Writes one chunk of stream ("stdout" / "stderr") stamped with ts (NULL = now). */
int logfile_write(struct logfile *lf, const char *stream, const void *data, size_t n,
                  const struct timespec *ts, berr_t *err);
void logfile_close(struct logfile *lf);

/* Formats the records for a chunk into a new NUL-terminated buffer. */
int logfile_format(const char *stream, const void *data, size_t n, const struct timespec *ts,
                   char **out, size_t *out_len, berr_t *err);

#endif
