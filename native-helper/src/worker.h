/* Long operations (imports, pull uploads, saves, commits, exports, prunes)
 * run in a forked worker that owns the client's connection, so the daemon's
 * loop keeps serving everyone else. The reply line {"stream": true} opens a
 * stream; the worker sends PROGRESS frames while it works and ends with one
 * RESULT frame or one ERROR frame (docs/protocol.md "Worker streams"). The
 * client may send STDIN / STDIN_EOF frames (uploads). A client that closes
 * the connection cancels the operation: the next worker_progress or
 * worker_read fails, and fn cleans up and returns. */
#ifndef BERTH_WORKER_H
#define BERTH_WORKER_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "error.h"
#include "stream.h"

struct conn;

struct worker {
  int fd; /* the client's connection (blocking) */
  struct frame_reader rd;
};

/* Runs in the worker: fills *result (an object) or err. */
typedef int (*worker_fn)(struct worker *w, void *arg, json_object **result, berr_t *err);

/* Forks a worker for this request: the child sends the stream reply for
 * request id, runs fn(arg), sends RESULT or ERROR and exits; it keeps no fd
 * of the daemon's but the connection (and stderr). The parent forgets the
 * connection. arg is used in the child only (its copy of memory). */
int worker_spawn(struct conn *c, json_object *id, worker_fn fn, void *arg, berr_t *err);
/* In a child forked from the daemon: a plain process again (signals as
 * usual, SIGPIPE still ignored) that holds keep_fd, as fd 3, and stdio only.
 * -1 (errno) when the fds could not be arranged. */
int worker_child_reset(int keep_fd);
/* The pid of the worker the last successful worker_spawn forked (the daemon
 * tells image-changing workers' exits from other children's by it). */
pid_t worker_last_pid(void);

/* One PROGRESS frame (consumes ev). Fails when the client has gone. */
int worker_progress(struct worker *w, json_object *ev, berr_t *err);

/* The next frame from the client, waiting at most timeout_ms (< 0: no
 * limit). Returns FRAME_READY or FRAME_EOF (the client closed), or -1. */
int worker_read(struct worker *w, uint8_t *type, const uint8_t **payload, uint32_t *len,
                int timeout_ms, berr_t *err);

/* True once the client has closed its end (a cancel), without waiting: for
 * work that reads no frames, asked between its own steps. */
bool worker_client_gone(struct worker *w);

#endif
