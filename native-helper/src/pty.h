/* Pseudo-terminals for `tty: true` containers and exec sessions: the monitor
 * (or the exec session) keeps the master, the process gets the slave. */
#ifndef BERTH_PTY_H
#define BERTH_PTY_H

#include <json-c/json.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

/* A terminal's size; 0 means "not given" (24 x 80 then). */
struct term_size {
  uint16_t rows, cols;
};

/* The optional `rows` and `cols` of a request (1..65535 each, both or none). */
int term_size_param(json_object *params, struct term_size *out, berr_t *err);

/* Opens a new PTY pair (both O_CLOEXEC, the slave O_NOCTTY) of the given
 * size (NULL: 24 x 80, until the client's first RESIZE); slave_path gets
 * the slave's path (/dev/pts/N). */
int pty_open(int *master, int *slave, char *slave_path, size_t path_len,
             const struct term_size *size, berr_t *err);
/* Makes the slave the controlling terminal of the caller (after setsid) and
 * its stdin/stdout/stderr. */
int pty_make_controlling(int slave, berr_t *err);

#endif
