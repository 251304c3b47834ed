/* The container log: F/P records, stream names, timestamps, rotation at the cap. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "logfile.h"
#include "tap.h"
#include "util.h"

static char *slurp(const char *path) {
  char *buf = NULL;
  berr_t err;
  if (read_file(path, 1 << 20, &buf, NULL, &err) < 0)
    return NULL;
  return buf;
}

int main(void) {
  TAP_PLAN(14);
  berr_t err;
  struct timespec ts = {.tv_sec = 1795585200, .tv_nsec = 123456789}; /* 2026-11-25T05:40:00 */
  char *out = NULL;
  size_t len = 0;

  TAP_OK(logfile_format("stdout", "hello\nworld\n", 12, &ts, &out, &len, &err) == 0, "format");
  TAP_OK(!strcmp(out, "2026-11-25T05:40:00.123456789Z stdout F hello\n"
                      "2026-11-25T05:40:00.123456789Z stdout F world\n"),
         "two full lines");
  free(out);
  TAP_OK(logfile_format("stderr", "a\npartial", 9, &ts, &out, &len, &err) == 0 &&
             !strcmp(out, "2026-11-25T05:40:00.123456789Z stderr F a\n"
                          "2026-11-25T05:40:00.123456789Z stderr P partial\n"),
         "a trailing partial line is P");
  free(out);
  TAP_OK(logfile_format("stdout", "\n", 1, &ts, &out, &len, &err) == 0 &&
             !strcmp(out, "2026-11-25T05:40:00.123456789Z stdout F \n"),
         "an empty line");
  free(out);
  TAP_OK(logfile_format("stdout", "no newline", 10, &ts, &out, &len, &err) == 0 &&
             strstr(out, " stdout P no newline\n") && len == strlen(out),
         "a chunk without newline");
  free(out);

  char dir[] = "/tmp/berth-logfile-XXXXXX";
  TAP_OK(mkdtemp(dir) != NULL, "temp dir");
  char path[256], path1[256];
  snprintf(path, sizeof path, "%s/ctr.log", dir);
  snprintf(path1, sizeof path1, "%s/ctr.log.1", dir);
  struct logfile lf;
  /* each record for "0123456789\n" is 31 + 7 + 2 + 10 + 1 = 51 bytes */
  TAP_OK(logfile_open(&lf, path, 120, &err) == 0, "open with a 120 byte cap");
  TAP_OK(logfile_write(&lf, "stdout", "0123456789\n", 11, &ts, &err) == 0 &&
             logfile_write(&lf, "stdout", "0123456789\n", 11, &ts, &err) == 0,
         "two records");
  struct stat st;
  TAP_OK(stat(path, &st) == 0 && st.st_size == 102 && access(path1, F_OK) < 0, "102 bytes, no rotation");
  TAP_OK(logfile_write(&lf, "stderr", "third\n", 6, &ts, &err) == 0, "third record");
  char *cur = slurp(path), *old = slurp(path1);
  TAP_OK(old && cur && strlen(old) == 102 && !strcmp(cur, "2026-11-25T05:40:00.123456789Z stderr F third\n"),
         "rotated to ctr.log.1 before passing the cap");
  free(cur);
  free(old);
  TAP_OK(logfile_write(&lf, "stdout", "0123456789\n0123456789\n0123456789\n", 33, &ts, &err) == 0,
         "a chunk bigger than the cap");
  old = slurp(path1);
  cur = slurp(path);
  TAP_OK(old && !strcmp(old, "2026-11-25T05:40:00.123456789Z stderr F third\n") && cur &&
             strlen(cur) == 153,
         "older rotation replaced, the big chunk kept whole");
  free(cur);
  free(old);
  logfile_close(&lf);
  /* reopening appends and knows the size */
  TAP_OK(logfile_open(&lf, path, 120, &err) == 0 && lf.size == 153, "reopen knows the size");
  logfile_close(&lf);
  unlink(path);
  unlink(path1);
  rmdir(dir);
  TAP_DONE();
}
