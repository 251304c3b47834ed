/* Pseudo-terminals for `tty: true` containers and exec sessions: the monitor
 * (or the exec session) keeps the master, the process gets the slave. */
#ifndef BERTH_PTY_H
#define BERTH_PTY_H

#include <stddef.h>

#include "error.h"

/* Opens a new PTY pair (both O_CLOEXEC, the slave O_NOCTTY); slave_path gets
 * the slave's path (/dev/pts/N). */
int pty_open(int *master, int *slave, char *slave_path, size_t path_len, berr_t *err);
/* Makes the slave the controlling terminal of the caller (after setsid) and
 * its stdin/stdout/stderr. */
int pty_make_controlling(int slave, berr_t *err);

#endif
