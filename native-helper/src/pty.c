#include "pty.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include "cleanup.h"

int pty_open(int *master, int *slave, char *slave_path, size_t path_len, berr_t *err) {
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
  /* a usable size until the client's first RESIZE */
  struct winsize ws = {.ws_row = 24, .ws_col = 80};
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
