#include "pty.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include "cleanup.h"
#include "protocol.h"

int term_size_param(json_object *params, struct term_size *out, berr_t *err) {
  int64_t rows, cols;
  bool has_rows, has_cols;
  out->rows = out->cols = 0;
  if (param_int(params, "rows", 0, 1, 65535, &rows, &has_rows, err) < 0 ||
      param_int(params, "cols", 0, 1, 65535, &cols, &has_cols, err) < 0)
    return -1;
  if (has_rows != has_cols)
    return berr_set(err, BERR_BAD_REQUEST, "`rows` and `cols` go together: give both or neither");
  out->rows = (uint16_t)rows;
  out->cols = (uint16_t)cols;
  return 0;
}

int pty_open(int *master, int *slave, char *slave_path, size_t path_len,
             const struct term_size *size, berr_t *err) {
  cleanup_close int m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (m < 0)
    return berr_sys(err, errno, "open `/dev/ptmx`");
  if (unlockpt(m) < 0)
    return berr_sys(err, errno, "unlockpt");
  int e = ptsname_r(m, slave_path, path_len);
  if (e)
    return berr_sys(err, e, "ptsname");
  int s = open(slave_path, O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (s < 0)
    return berr_sys(err, errno, "open `%s`", slave_path);
  /* the client's size, or a usable one until its first RESIZE */
  struct winsize ws = {.ws_row = 24, .ws_col = 80};
  if (size && size->rows && size->cols) {
    ws.ws_row = size->rows;
    ws.ws_col = size->cols;
  }
  (void)ioctl(s, TIOCSWINSZ, &ws);
  *slave = s;
  *master = take_fd(&m);
  return 0;
}

int pty_make_controlling(int slave, berr_t *err) {
  if (setsid() < 0 && errno != EPERM)
    return berr_sys(err, errno, "setsid");
  if (ioctl(slave, TIOCSCTTY, 0) < 0)
    return berr_sys(err, errno, "ioctl TIOCSCTTY");
  return 0;
}
