#include "stream.h"

#include "pty.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

/* ---- reader ---------------------------------------------------------------- */

void frame_reader_init(struct frame_reader *r) { memset(r, 0, sizeof *r); }

void frame_reader_free(struct frame_reader *r) {
  free(r->payload);
  memset(r, 0, sizeof *r);
}

int frame_read(struct frame_reader *r, int fd, uint8_t *type, const uint8_t **payload,
               uint32_t *len, berr_t *err) {
  for (;;) {
    bool in_hdr = r->hdr_got < FRAME_HDR_LEN;
    if (!in_hdr && r->got == r->len) {
      /* complete: hand it out and reset for the next one */
      *type = r->type;
      *payload = r->payload;
      *len = r->len;
      r->hdr_got = 0;
      r->got = 0;
      return FRAME_READY;
    }
    uint8_t *dst = in_hdr ? r->hdr + r->hdr_got : r->payload + r->got;
    size_t want = in_hdr ? FRAME_HDR_LEN - r->hdr_got : r->len - r->got;
    ssize_t n = read(fd, dst, want);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK)
        return FRAME_AGAIN;
      return berr_sys(err, errno, "read frame");
    }
    if (n == 0) {
      if (in_hdr && r->hdr_got == 0)
        return FRAME_EOF;
      return berr_set(err, BERR_BAD_REQUEST, "connection closed inside a frame");
    }
    if (in_hdr) {
      r->hdr_got += (size_t)n;
      if (r->hdr_got == FRAME_HDR_LEN) {
        r->type = r->hdr[0];
        r->len = (uint32_t)r->hdr[1] << 24 | (uint32_t)r->hdr[2] << 16 | (uint32_t)r->hdr[3] << 8 |
                 (uint32_t)r->hdr[4];
        if (r->len > FRAME_MAX_PAYLOAD)
          return berr_set(err, BERR_TOO_LARGE, "frame of %u bytes is over the %u byte limit",
                          r->len, FRAME_MAX_PAYLOAD);
        if (r->len + 1 > r->cap) {
          uint8_t *nb = realloc(r->payload, r->len + 1);
          if (!nb)
            return berr_sys(err, ENOMEM, "frame buffer");
          r->payload = nb;
          r->cap = r->len + 1;
        }
        r->got = 0;
      }
    } else {
      r->got += (size_t)n;
    }
  }
}

/* ---- output queue -------------------------------------------------------------- */

int outq_append(struct outq *q, const void *data, size_t n, berr_t *err) {
  if (q->off > 0 && q->off == q->len)
    q->off = q->len = 0;
  if (q->len + n > q->cap) {
    if (q->off > 0) {
      /* reclaim the consumed front before growing */
      memmove(q->buf, q->buf + q->off, q->len - q->off);
      q->len -= q->off;
      q->off = 0;
    }
    if (q->len + n > q->cap) {
      size_t cap = q->cap ? q->cap : 4096;
      while (cap < q->len + n)
        cap *= 2;
      uint8_t *nb = realloc(q->buf, cap);
      if (!nb)
        return berr_sys(err, ENOMEM, "output queue");
      q->buf = nb;
      q->cap = cap;
    }
  }
  if (n)
    memcpy(q->buf + q->len, data, n);
  q->len += n;
  return 0;
}

int outq_frame(struct outq *q, uint8_t type, const void *data, size_t n, berr_t *err) {
  const uint8_t *p = data;
  do {
    uint32_t part = n > FRAME_MAX_PAYLOAD ? FRAME_MAX_PAYLOAD : (uint32_t)n;
    uint8_t hdr[FRAME_HDR_LEN] = {type, (uint8_t)(part >> 24), (uint8_t)(part >> 16),
                                  (uint8_t)(part >> 8), (uint8_t)part};
    if (outq_append(q, hdr, sizeof hdr, err) < 0 || outq_append(q, p, part, err) < 0)
      return -1;
    p += part;
    n -= part;
  } while (n > 0);
  return 0;
}

int outq_flush(struct outq *q, int fd, berr_t *err) {
  while (q->off < q->len) {
    ssize_t w = write(fd, q->buf + q->off, q->len - q->off);
    if (w < 0) {
      if (errno == EINTR)
        continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK)
        return 1;
      return berr_sys(err, errno, "write to the attached client");
    }
    q->off += (size_t)w;
  }
  q->off = q->len = 0;
  return 0;
}

int outq_flush_wait(struct outq *q, int fd, int timeout_ms, berr_t *err) {
  int64_t deadline = mono_us() + (int64_t)timeout_ms * 1000;
  for (;;) {
    int r = outq_flush(q, fd, err);
    if (r <= 0)
      return r;
    int64_t left = (deadline - mono_us()) / 1000;
    if (left <= 0)
      return berr_set(err, BERR_INTERNAL, "the client does not read its stream");
    struct pollfd p = {.fd = fd, .events = POLLOUT};
    if (poll(&p, 1, (int)left) < 0 && errno != EINTR)
      return berr_sys(err, errno, "poll client");
  }
}

void outq_free(struct outq *q) {
  free(q->buf);
  memset(q, 0, sizeof *q);
}

int frame_write(int fd, uint8_t type, const void *data, size_t n, int timeout_ms, berr_t *err) {
  struct outq q = {0};
  int r = outq_frame(&q, type, data, n, err);
  if (r == 0)
    r = outq_flush_wait(&q, fd, timeout_ms, err);
  outq_free(&q);
  return r;
}

void stream_linger(int fd, int timeout_ms) {
  if (fd < 0 || shutdown(fd, SHUT_WR) < 0)
    return;
  struct timespec t0;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  char buf[4096];
  for (;;) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    long left = timeout_ms - ((now.tv_sec - t0.tv_sec) * 1000 + (now.tv_nsec - t0.tv_nsec) / 1000000);
    if (left <= 0)
      return;
    struct pollfd p = {.fd = fd, .events = POLLIN};
    int n = poll(&p, 1, (int)left);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return;
    ssize_t r = read(fd, buf, sizeof buf);
    if (r < 0 && (errno == EINTR || errno == EAGAIN))
      continue;
    if (r <= 0)
      return;
  }
}

/* ---- EXIT payload --------------------------------------------------------------- */

struct json_object *exit_object(int status, bool oom) {
  json_object *o = json_object_new_object();
  int code = 0, sig = 0;
  const char *reason = "exited";
  if (WIFSIGNALED(status)) {
    sig = WTERMSIG(status);
    code = 128 + sig;
    reason = sig == SIGKILL && oom ? "oom-killed" : "signaled";
  } else {
    code = WEXITSTATUS(status);
  }
  json_object_object_add(o, "exitCode", json_object_new_int(code));
  if (sig) {
    char name[32];
    const char *abbrev = sigabbrev_np(sig);
    if (abbrev)
      snprintf(name, sizeof name, "SIG%s", abbrev);
    else
      snprintf(name, sizeof name, "%d", sig);
    json_object_object_add(o, "signal", json_object_new_string(name));
  } else {
    json_object_object_add(o, "signal", NULL);
  }
  json_object_object_add(o, "reason", json_object_new_string(reason));
  json_object_object_add(o, "oomKilled", json_object_new_boolean(sig == SIGKILL && oom));
  return o;
}

/* ---- relay ----------------------------------------------------------------------- */

/* Output waiting for a slow (or not yet released) client: past this, the
 * container's output is not read until the client catches up. */
#define RELAY_CLIENT_CAP (4u << 20)
#define RELAY_STDIN_CAP (1u << 20)
#define RELAY_CHUNK 65536

int relay_stdio_open(struct relay *r, bool tty, bool open_stdin, const struct term_size *term,
                     int child_io[3], char *slave_path, size_t slave_cap, berr_t *err) {
  if (tty) {
    int master, slave;
    if (pty_open(&master, &slave, slave_path, slave_cap, term, err) < 0)
      return -1;
    child_io[0] = child_io[1] = child_io[2] = slave;
    r->tty = true;
    r->out_fd[0] = master;
    if (open_stdin && (r->in_fd = fcntl(master, F_DUPFD_CLOEXEC, 3)) < 0)
      return berr_sys(err, errno, "dup the PTY master");
    return 0;
  }
  int out[2], errp[2], in[2];
  if (pipe2(out, O_CLOEXEC) < 0 || pipe2(errp, O_CLOEXEC) < 0 || (open_stdin && pipe2(in, O_CLOEXEC) < 0))
    return berr_sys(err, errno, "pipe");
  child_io[1] = out[1];
  child_io[2] = errp[1];
  r->out_fd[0] = out[0];
  r->out_fd[1] = errp[0];
  if (open_stdin) {
    child_io[0] = in[0];
    r->in_fd = in[1];
  }
  return 0;
}

void relay_init(struct relay *r) {
  memset(r, 0, sizeof *r);
  r->client = r->ctl = r->in_fd = -1;
  r->out_fd[0] = r->out_fd[1] = -1;
  frame_reader_init(&r->rd);
}

static void relay_detach(struct relay *r) {
  if (r->client >= 0)
    close(r->client);
  r->client = -1;
  outq_free(&r->to_client);
  /* no re-attach exists: a client that leaves ends the process's stdin (stdin_once) */
  if (r->in_fd >= 0 && (!r->tty || r->hangup_on_detach)) {
    close(r->in_fd);
    r->in_fd = -1;
    outq_free(&r->to_stdin);
  }
  /* the last master fd closed hangs the terminal up: SIGHUP to its session,
   * EIO to its readers, so a shell nobody can reach again does not live on */
  if (r->tty && r->hangup_on_detach && r->out_fd[0] >= 0) {
    close(r->out_fd[0]);
    r->out_fd[0] = -1;
  }
}

static void close_stdin(struct relay *r) {
  if (r->in_fd < 0)
    return;
  if (r->tty) {
    /* a PTY has no half-close: send the EOF character (VEOF, ^D) */
    static const uint8_t eot = 4;
    berr_t e;
    outq_append(&r->to_stdin, &eot, 1, &e);
    return;
  }
  if (outq_pending(&r->to_stdin)) {
    r->stdin_eof = true; /* after what is still queued */
    return;
  }
  close(r->in_fd);
  r->in_fd = -1;
  outq_free(&r->to_stdin);
}

static void handle_frame(struct relay *r, uint8_t type, const uint8_t *p, uint32_t len) {
  berr_t e;
  switch (type) {
  case FRAME_STDIN:
    if (r->in_fd >= 0 && !r->stdin_eof && outq_append(&r->to_stdin, p, len, &e) < 0)
      relay_detach(r);
    break;
  case FRAME_STDIN_EOF:
    close_stdin(r);
    break;
  case FRAME_RESIZE:
    if (r->tty && r->out_fd[0] >= 0 && len == 4) {
      struct winsize ws = {.ws_row = (unsigned short)(p[0] << 8 | p[1]),
                           .ws_col = (unsigned short)(p[2] << 8 | p[3])};
      (void)ioctl(r->out_fd[0], TIOCSWINSZ, &ws); /* a bad size only affects this PTY */
    }
    break;
  default:
    break; /* server-to-client types and unknown ones are ignored */
  }
}

static void read_client(struct relay *r) {
  for (int i = 0; i < 64 && r->client >= 0; i++) {
    uint8_t type;
    const uint8_t *p;
    uint32_t len;
    berr_t e;
    int k = frame_read(&r->rd, r->client, &type, &p, &len, &e);
    if (k == FRAME_AGAIN)
      return;
    if (k != FRAME_READY) {
      relay_detach(r);
      return;
    }
    handle_frame(r, type, p, len);
    if (outq_pending(&r->to_stdin) > RELAY_STDIN_CAP)
      return;
  }
}

/* Returns false at EOF. */
static bool read_output(struct relay *r, int idx) {
  uint8_t buf[RELAY_CHUNK];
  ssize_t n = read(r->out_fd[idx], buf, sizeof buf);
  if (n < 0 && (errno == EINTR || errno == EAGAIN))
    return true;
  if (n <= 0) /* EOF, or EIO from a PTY master once every slave is closed */
    return false;
  int stream = r->tty ? 1 : idx + 1;
  if (r->on_output)
    r->on_output(r->ctx, stream, buf, (size_t)n);
  berr_t e;
  if (r->client >= 0 && outq_frame(&r->to_client, (uint8_t)(stream == 1 ? FRAME_STDOUT : FRAME_STDERR),
                                   buf, (size_t)n, &e) < 0)
    relay_detach(r);
  return true;
}

static void read_ctl(struct relay *r) {
  char c;
  ssize_t n;
  do
    n = read(r->ctl, &c, 1);
  while (n < 0 && errno == EINTR);
  if (n < 0 && errno == EAGAIN)
    return;
  if (n == 1)
    r->released = true;
  else if (!r->released)
    relay_detach(r); /* the daemon went away without replying: the client never got a reply */
  close(r->ctl);
  r->ctl = -1;
}

static void set_nonblock(int fd) {
  int fl = fcntl(fd, F_GETFL);
  if (fl >= 0 && !(fl & O_NONBLOCK))
    fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

int relay_run(struct relay *r, int pidfd, pid_t pid, int drain_ms, int *status, berr_t *err) {
  bool exited = false;
  int64_t drain_deadline = 0;
  for (int i = 0; i < 2; i++)
    if (r->out_fd[i] >= 0)
      set_nonblock(r->out_fd[i]);
  if (r->in_fd >= 0)
    set_nonblock(r->in_fd);
  if (r->client >= 0)
    set_nonblock(r->client);
  if (r->ctl >= 0 && r->client < 0) {
    /* nothing to release */
    close(r->ctl);
    r->ctl = -1;
  }
  for (;;) {
    bool outputs_open = r->out_fd[0] >= 0 || r->out_fd[1] >= 0;
    if (exited && !outputs_open)
      break;
    int timeout = -1;
    if (exited) {
      int64_t left = (drain_deadline - mono_us()) / 1000;
      if (left <= 0)
        break;
      timeout = (int)left + 1;
    }
    enum { P_PID, P_CTL, P_CLIENT, P_OUT0, P_OUT1, P_IN, P_N };
    struct pollfd p[P_N];
    for (int i = 0; i < P_N; i++)
      p[i] = (struct pollfd){.fd = -1};
    if (!exited)
      p[P_PID] = (struct pollfd){.fd = pidfd, .events = POLLIN};
    if (r->ctl >= 0)
      p[P_CTL] = (struct pollfd){.fd = r->ctl, .events = POLLIN};
    if (r->client >= 0) {
      short ev = 0;
      if (r->released && outq_pending(&r->to_stdin) <= RELAY_STDIN_CAP)
        ev |= POLLIN;
      if (r->released && outq_pending(&r->to_client))
        ev |= POLLOUT;
      p[P_CLIENT] = (struct pollfd){.fd = r->client, .events = ev};
    }
    bool room = r->client < 0 || outq_pending(&r->to_client) < RELAY_CLIENT_CAP;
    for (int i = 0; i < 2; i++)
      if (r->out_fd[i] >= 0 && room)
        p[P_OUT0 + i] = (struct pollfd){.fd = r->out_fd[i], .events = POLLIN};
    if (r->in_fd >= 0 && r->stdin_eof && !outq_pending(&r->to_stdin))
      close_stdin(r);
    if (r->in_fd >= 0 && outq_pending(&r->to_stdin))
      p[P_IN] = (struct pollfd){.fd = r->in_fd, .events = POLLOUT};
    if (poll(p, P_N, timeout) < 0) {
      if (errno == EINTR)
        continue;
      return berr_sys(err, errno, "poll");
    }
    if (p[P_CTL].revents)
      read_ctl(r);
    for (int i = 0; i < 2; i++)
      if (p[P_OUT0 + i].revents && !read_output(r, i)) {
        close(r->out_fd[i]);
        r->out_fd[i] = -1;
      }
    if (p[P_CLIENT].revents && r->client >= 0) {
      if (p[P_CLIENT].revents & POLLOUT) {
        berr_t e;
        if (outq_flush(&r->to_client, r->client, &e) < 0)
          relay_detach(r);
      }
      if (r->client >= 0 && p[P_CLIENT].revents & (POLLIN | POLLHUP | POLLERR))
        read_client(r);
    }
    if (p[P_IN].revents && r->in_fd >= 0) {
      berr_t e;
      if (outq_flush(&r->to_stdin, r->in_fd, &e) < 0) {
        close(r->in_fd);
        r->in_fd = -1;
        outq_free(&r->to_stdin);
      }
    }
    if (p[P_PID].revents) {
      siginfo_t si;
      memset(&si, 0, sizeof si);
      if (waitid((idtype_t)P_PID, (id_t)pid, &si, WEXITED | WNOHANG) < 0)
        return berr_sys(err, errno, "waitid %d", (int)pid);
      if (si.si_pid == pid) {
        exited = true;
        *status = si.si_code == CLD_EXITED ? W_EXITCODE(si.si_status, 0) : si.si_status & 0x7f;
        drain_deadline = mono_us() + (int64_t)drain_ms * 1000;
        if (r->on_exit)
          r->on_exit(r->ctx);
        /* nothing goes to stdin any more */
        if (r->in_fd >= 0)
          close(r->in_fd);
        r->in_fd = -1;
        outq_free(&r->to_stdin);
      }
    }
  }
  return 0;
}

void relay_finish(struct relay *r, const char *exit_json) {
  berr_t e;
  if (r->ctl >= 0) {
    /* the process ended before the go-ahead: wait for it, briefly */
    struct pollfd p = {.fd = r->ctl, .events = POLLIN};
    if (poll(&p, 1, 5000) > 0)
      read_ctl(r);
    else
      relay_detach(r);
  }
  if (r->client >= 0 && outq_frame(&r->to_client, FRAME_EXIT, exit_json, strlen(exit_json), &e) == 0)
    (void)outq_flush_wait(&r->to_client, r->client, 5000, &e);
  if (r->client >= 0) {
    stream_linger(r->client, 1000);
    close(r->client);
  }
  r->client = -1;
  for (int i = 0; i < 2; i++)
    if (r->out_fd[i] >= 0)
      close(r->out_fd[i]);
  if (r->in_fd >= 0)
    close(r->in_fd);
  r->in_fd = r->out_fd[0] = r->out_fd[1] = -1;
  outq_free(&r->to_client);
  outq_free(&r->to_stdin);
  frame_reader_free(&r->rd);
}
