#include "worker.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "peer.h"
#include "protocol.h"
#include "server.h"
#include "userpath.h"
#include "util.h"

/* Frames to a client that has stopped reading give up after this long. */
#define WORKER_WRITE_MS 30000

static int send_json_frame(int fd, uint8_t type, json_object *o, berr_t *err) {
  const char *s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
  return frame_write(fd, type, s, strlen(s), WORKER_WRITE_MS, err);
}

/* A full disk (also as a pipeline process or libarchive reported it) says what to do. */
static void hint_full_disk(berr_t *err) {
  if (err->errnum != ENOSPC && err->errnum != EDQUOT && !strstr(err->msg, strerror(ENOSPC)) &&
      !strstr(err->msg, strerror(EDQUOT)))
    return;
  static const char hint[] = " (the disk is full: free space on it, e.g. with `berth image prune`, "
                             "and try again)";
  size_t n = strlen(err->msg);
  if (n + sizeof hint > sizeof err->msg)
    n = sizeof err->msg - sizeof hint;
  memcpy(err->msg + n, hint, sizeof hint);
}

int worker_child_reset(int keep_fd) {
  /* keep fd as 3 and nothing else of the daemon's: another client's
   * connection held open here would never see its EOF */
  if ((keep_fd != 3 && dup2(keep_fd, 3) < 0) || close_range(4, ~0U, 0) < 0)
    return -1;
  (void)fcntl(3, F_SETFD, FD_CLOEXEC);
  /* signals as usual (SIGPIPE stays ignored so a gone client is an EPIPE) */
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
  signal(SIGTERM, SIG_DFL);
  signal(SIGINT, SIG_DFL);
  signal(SIGHUP, SIG_DFL);
  return 0;
}

static void child(int fd, json_object *id, worker_fn fn, void *arg) {
  /* a blocking socket */
  int fl = fcntl(fd, F_GETFL);
  if (fl >= 0)
    (void)fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);

  json_object *res = json_object_new_object();
  json_object_object_add(res, "stream", json_object_new_boolean(true));
  json_object *reply = proto_reply_ok(id, res);
  size_t len;
  char *line = proto_reply_line(reply, &len);
  json_object_put(reply);
  if (!line || write_all(fd, line, len) < 0)
    _exit(1);
  free(line);

  /* host paths this request names are opened with the client's permissions */
  struct peer_id who;
  berr_t perr;
  if (peer_id_from_socket(fd, &who, &perr) < 0)
    berthd_log("worker %d: %s; the paths it names are opened as nobody", (int)getpid(), perr.msg);
  userpath_set_client(&who);

  struct worker w = {.fd = fd};
  frame_reader_init(&w.rd);
  json_object *result = NULL;
  berr_t err;
  berr_clear(&err);
  int rc = fn(&w, arg, &result, &err);
  berr_t werr;
  if (rc == 0) {
    if (!result)
      result = json_object_new_object();
    rc = send_json_frame(fd, FRAME_RESULT, result, &werr);
  } else {
    hint_full_disk(&err);
    json_object *o = proto_error_object(&err);
    (void)send_json_frame(fd, FRAME_ERROR, o, &werr);
    json_object_put(o);
    berthd_log("worker %d: %s", (int)getpid(), err.msg);
  }
  json_object_put(result);
  frame_reader_free(&w.rd);
  stream_linger(fd, 2000);
  _exit(rc == 0 ? 0 : 1);
}

static pid_t last_pid;
pid_t worker_last_pid(void) { return last_pid; }

int worker_spawn(struct conn *c, json_object *id, worker_fn fn, void *arg, berr_t *err) {
  pid_t pid = fork();
  if (pid < 0)
    return berr_sys(err, errno, "fork a worker");
  if (pid == 0) {
    if (worker_child_reset(conn_fd(c)) < 0)
      _exit(1);
    child(3, id, fn, arg);
  }
  last_pid = pid;
  conn_release(c);
  return 0;
}

int worker_progress(struct worker *w, json_object *ev, berr_t *err) {
  int r = send_json_frame(w->fd, FRAME_PROGRESS, ev, err);
  json_object_put(ev);
  return r < 0 ? berr_wrap(err, "the client went away") : 0;
}

int worker_read(struct worker *w, uint8_t *type, const uint8_t **payload, uint32_t *len,
                int timeout_ms, berr_t *err) {
  for (;;) {
    struct pollfd p = {.fd = w->fd, .events = POLLIN};
    int n = poll(&p, 1, timeout_ms);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return berr_sys(err, errno, "poll the client connection");
    if (n == 0)
      return berr_set(err, BERR_INVALID, "the client sent nothing for %d ms", timeout_ms);
    int r = frame_read(&w->rd, w->fd, type, payload, len, err);
    if (r != FRAME_AGAIN)
      return r;
  }
}

bool worker_client_gone(struct worker *w) {
  /* a closed end shows as RDHUP (the client's shutdown or close) or HUP;
   * frames the client may have sent are left unread */
  struct pollfd p = {.fd = w->fd, .events = POLLRDHUP};
  return poll(&p, 1, 0) > 0 && (p.revents & (POLLHUP | POLLRDHUP | POLLERR));
}
