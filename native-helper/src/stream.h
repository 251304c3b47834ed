/* The binary frames of attached connections (docs/protocol.md "Streams"):
 * 1 byte type, u32 big-endian length (at most 1 MiB), payload. A reader that
 * survives partial reads on non-blocking fds, an output queue, and the relay
 * shared by the monitor and exec sessions (container I/O <-> client frames). */
#ifndef BERTH_STREAM_H
#define BERTH_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "error.h"

enum frame_type {
  FRAME_STDIN = 0,
  FRAME_STDOUT = 1,
  FRAME_STDERR = 2,
  FRAME_EXIT = 3,
  FRAME_RESIZE = 4,
  FRAME_STDIN_EOF = 5,
  FRAME_LOG = 6,
  FRAME_ERROR = 7,
  FRAME_PROGRESS = 8, /* worker streams: JSON progress event */
  FRAME_RESULT = 9,   /* worker streams: JSON result, the last frame */
};
#define FRAME_HDR_LEN 5
#define FRAME_MAX_PAYLOAD (1u << 20)

/* frame_read results besides -1 (error, err filled). */
enum { FRAME_AGAIN = 0, FRAME_READY = 1, FRAME_EOF = 2 };

struct frame_reader {
  uint8_t hdr[FRAME_HDR_LEN];
  size_t hdr_got;
  uint8_t type;
  uint32_t len;
  uint8_t *payload;
  size_t cap, got;
};
void frame_reader_init(struct frame_reader *r);
void frame_reader_free(struct frame_reader *r);
/* Reads from fd until one frame is complete (FRAME_READY: *type, *payload and
 * *len are valid until the next call), the fd would block (FRAME_AGAIN), or the
 * peer closed between frames (FRAME_EOF). An oversized length is BERR_TOO_LARGE;
 * EOF inside a frame is an error. */
int frame_read(struct frame_reader *r, int fd, uint8_t *type, const uint8_t **payload,
               uint32_t *len, berr_t *err);

/* A byte queue, used for frames to a client and raw stdin bytes. */
struct outq {
  uint8_t *buf;
  size_t off, len, cap; /* pending bytes are buf[off..len) */
};
int outq_append(struct outq *q, const void *data, size_t n, berr_t *err);
/* Queues data as frames of type (split at FRAME_MAX_PAYLOAD; an empty payload
 * gives one empty frame). */
int outq_frame(struct outq *q, uint8_t type, const void *data, size_t n, berr_t *err);
static inline size_t outq_pending(const struct outq *q) { return q->len - q->off; }
/* Writes what fd takes: 0 = all written, 1 = more pending (EAGAIN), -1 = error. */
int outq_flush(struct outq *q, int fd, berr_t *err);
/* Keeps flushing, polling on EAGAIN, for at most timeout_ms. */
int outq_flush_wait(struct outq *q, int fd, int timeout_ms, berr_t *err);
void outq_free(struct outq *q);

/* One frame, written fully (polls on a non-blocking fd, at most timeout_ms). */
int frame_write(int fd, uint8_t type, const void *data, size_t n, int timeout_ms, berr_t *err);

/* After the last frame: shuts down our sending side and reads (discarding)
 * until the client closes, at most timeout_ms. Closing with unread input
 * would make the kernel reset the connection, and the client could lose the
 * last frame. */
void stream_linger(int fd, int timeout_ms);

/* The relay between a container process's stdio and an attached client. */
struct relay {
  int client;          /* attached connection, -1 when none or gone */
  int ctl;             /* the daemon's go-ahead comes here; -1 once seen */
  bool released;       /* frames may flow to the client */
  int out_fd[2];       /* read ends: stdout, stderr (a PTY: [0] = master, [1] = -1) */
  int in_fd;           /* stdin pipe write end or a dup of the PTY master; -1 when closed */
  bool tty;            /* out_fd[0] and in_fd are a PTY master */
  bool stdin_eof;      /* STDIN_EOF came: close in_fd once to_stdin is written */
  bool hangup_on_detach; /* a PTY whose client leaves is hung up (its session gets SIGHUP), as
                            a closed terminal is: exec sessions; a container's console lives on */
  struct outq to_client, to_stdin;
  struct frame_reader rd;
  /* every chunk of output also goes here (the container log); may be NULL */
  void (*on_output)(void *ctx, int stream, const uint8_t *data, size_t n);
  /* called once when the process has exited, before the output is drained */
  void (*on_exit)(void *ctx);
  void *ctx;
};
void relay_init(struct relay *r);
/* The stdio of the process to relay (child_io, dup'd onto its 0..2) and the
 * relay's ends of it: with tty a PTY (the slave for all three, its path in
 * slave_path; stdin is the master when open_stdin), else pipes for stdout and
 * stderr, and for stdin when open_stdin (child_io[0] stays as given otherwise).
 * On failure the caller is about to exit: what was opened is left to it. */
struct term_size;
int relay_stdio_open(struct relay *r, bool tty, bool open_stdin, const struct term_size *term,
                     int child_io[3], char *slave_path, size_t slave_cap, berr_t *err);
/* Serves until the process behind pidfd has exited and its output is drained
 * (or drain_ms passed after the exit); *status = its wait status (waitid). */
int relay_run(struct relay *r, int pidfd, pid_t pid, int drain_ms, int *status, berr_t *err);
/* Queues the EXIT frame, flushes to the client (bounded) and closes everything. */
void relay_finish(struct relay *r, const char *exit_json);

/* The EXIT frame object for a wait status: {"exitCode", "signal" ("SIGKILL"
 * or null), "reason" (exited | signaled | oom-killed), "oomKilled"}. */
struct json_object *exit_object(int status, bool oom);

#endif
