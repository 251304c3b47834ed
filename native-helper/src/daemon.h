/* The daemon: start-up (cgroups, image store, containers, socket) and the
 * method table of docs/protocol.md, mapping requests to container and image
 * operations. */
#ifndef BERTH_DAEMON_H
#define BERTH_DAEMON_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "error.h"

#define BERTHD_VERSION "0.1.0"

struct daemon_opts {
  const char *root;        /* the store, /var/lib/berth */
  const char *socket_path; /* /run/berth/berthd.sock */
  bool has_serve_uid;
  uid_t serve_uid;
  bool has_serve_gid;
  gid_t serve_gid;
  int64_t log_max_bytes;
  const char *subnet;      /* the default bridge network's CIDR (NULL: 10.89.0.0/16) */
  int ready_fd;            /* >= 0: write one byte and close once serving */
};

/* Runs until SIGTERM/SIGINT; containers keep running after it returns. */
int daemon_run(const struct daemon_opts *opts, berr_t *err);

#endif
