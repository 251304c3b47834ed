#include "logs.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cleanup.h"
#include "exec.h"
#include "protocol.h"
#include "runtime.h"
#include "stream.h"
#include "util.h"

#define LOG_FRAME_TARGET 65536
#define CLIENT_TIMEOUT_MS 30000

size_t logs_tail_offset(const char *buf, size_t len, long n) {
  if (n < 0)
    return 0;
  size_t i = len;
  if (i > 0 && buf[i - 1] == '\n')
    i--; /* the last line's own newline */
  long seen = 0;
  while (i > 0) {
    if (buf[i - 1] == '\n' && ++seen == n)
      return i;
    i--;
  }
  return n == 0 ? len : 0;
}

struct streamer {
  int client;
  char log[4096], log1[4096], exit_path[4096];
  int fd;           /* the log file being followed */
  ino_t ino;
  struct outq pend; /* bytes read but not yet ended by a newline */
};

/* Sends the whole lines of data (keeping a partial last line in s->pend). */
static int send_lines(struct streamer *s, const char *data, size_t n, berr_t *err) {
  if (outq_append(&s->pend, data, n, err) < 0)
    return -1;
  const char *p = (const char *)s->pend.buf + s->pend.off;
  size_t avail = outq_pending(&s->pend);
  size_t sent = 0;
  while (sent < avail) {
    /* up to ~64 KiB of whole lines per frame */
    size_t limit = avail - sent > LOG_FRAME_TARGET ? LOG_FRAME_TARGET : avail - sent;
    const char *nl = memrchr(p + sent, '\n', limit);
    if (!nl) {
      /* one line longer than the target: send it whole if it is complete */
      nl = memchr(p + sent, '\n', avail - sent);
      if (!nl || (size_t)(nl - (p + sent)) + 1 > FRAME_MAX_PAYLOAD)
        break;
    }
    size_t len = (size_t)(nl - (p + sent)) + 1;
    if (frame_write(s->client, FRAME_LOG, p + sent, len, CLIENT_TIMEOUT_MS, err) < 0)
      return -1;
    sent += len;
  }
  s->pend.off += sent;
  if (outq_pending(&s->pend) > FRAME_MAX_PAYLOAD) {
    /* a "line" that never ends is not from our writer: drop it */
    s->pend.off = s->pend.len = 0;
  }
  return 0;
}

/* Sends what fd has from its current offset to EOF. */
static int drain_fd(struct streamer *s, int fd, berr_t *err) {
  char buf[65536];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      return berr_sys(err, errno, "read the log");
    }
    if (n == 0)
      return 0;
    if (send_lines(s, buf, (size_t)n, err) < 0)
      return -1;
  }
}

static int send_existing(struct streamer *s, long tail, berr_t *err) {
  cleanup_free char *old = NULL, *cur = NULL;
  size_t old_len = 0, cur_len = 0;
  berr_t ignore;
  if (read_file(s->log1, 64 << 20, &old, &old_len, &ignore) < 0)
    old_len = 0;
  /* ctr.log is followed by its fd from where this read ended */
  s->fd = open(s->log, O_RDONLY | O_CLOEXEC);
  if (s->fd >= 0) {
    struct stat st;
    if (fstat(s->fd, &st) == 0)
      s->ino = st.st_ino;
    size_t cap = 65536;
    cur = malloc(cap);
    while (cur) {
      if (cur_len == cap) {
        char *nb = realloc(cur, cap * 2);
        if (!nb)
          break;
        cur = nb;
        cap *= 2;
      }
      ssize_t n = read(s->fd, cur + cur_len, cap - cur_len);
      if (n <= 0)
        break;
      cur_len += (size_t)n;
    }
    if (!cur)
      return berr_sys(err, ENOMEM, "read the log");
  }
  /* complete lines only; the rest stays for the follower */
  size_t cur_whole = cur_len;
  while (cur_whole > 0 && cur[cur_whole - 1] != '\n')
    cur_whole--;
  size_t cur_from = logs_tail_offset(cur, cur_whole, tail), old_from = old_len;
  if (tail < 0) {
    old_from = 0;
  } else {
    long in_cur = 0;
    for (size_t i = cur_from; i < cur_whole; i++)
      in_cur += cur[i] == '\n';
    if (in_cur < tail)
      old_from = logs_tail_offset(old, old_len, tail - in_cur);
  }
  if (old && old_from < old_len && send_lines(s, old + old_from, old_len - old_from, err) < 0)
    return -1;
  s->pend.off = s->pend.len = 0; /* a torn last line of the old file ends there */
  if (cur && send_lines(s, cur + cur_from, cur_len - cur_from, err) < 0)
    return -1;
  return 0;
}

/* Reads new data; follows a rotation (ctr.log renamed, a new one made). */
static int follow_step(struct streamer *s, berr_t *err) {
  if (s->fd >= 0 && drain_fd(s, s->fd, err) < 0)
    return -1;
  struct stat st;
  if (stat(s->log, &st) == 0 && (s->fd < 0 || st.st_ino != s->ino)) {
    int fd = open(s->log, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
      if (s->fd >= 0)
        close(s->fd);
      s->fd = fd;
      s->ino = st.st_ino;
      s->pend.off = s->pend.len = 0;
      if (drain_fd(s, s->fd, err) < 0)
        return -1;
    }
  }
  return 0;
}

static _Noreturn void streamer_main(struct streamer *s, int ctl, bool follow, long tail,
                                    const char *dir) {
  berr_t err;
  /* the daemon's reply line goes first */
  char go;
  ssize_t n;
  do
    n = recv(ctl, &go, 1, 0);
  while (n < 0 && errno == EINTR);
  close(ctl);
  if (n != 1)
    _exit(1);
  int fl = fcntl(s->client, F_GETFL);
  if (fl >= 0)
    fcntl(s->client, F_SETFL, fl | O_NONBLOCK);
  int ino = -1;
  if (follow) {
    /* watch before reading so nothing written in between is missed */
    ino = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
    if (ino < 0 || inotify_add_watch(ino, dir, IN_MODIFY | IN_CREATE | IN_MOVED_TO |
                                                    IN_CLOSE_WRITE | IN_DELETE_SELF) < 0) {
      berr_sys(&err, errno, "inotify on `%s`", dir);
      goto fail;
    }
  }
  if (send_existing(s, tail, &err) < 0)
    goto fail;
  if (!follow)
    _exit(0);
  for (;;) {
    bool done = access(s->exit_path, F_OK) == 0;
    if (follow_step(s, &err) < 0)
      goto fail;
    if (done) {
      cleanup_free char *body = NULL;
      size_t len = 0;
      if (read_file(s->exit_path, 65536, &body, &len, &err) < 0)
        goto fail;
      while (len > 0 && (body[len - 1] == '\n' || body[len - 1] == ' '))
        len--;
      (void)frame_write(s->client, FRAME_EXIT, body, len, CLIENT_TIMEOUT_MS, &err);
      _exit(0);
    }
    struct pollfd p[2] = {{.fd = ino, .events = POLLIN}, {.fd = s->client, .events = POLLIN}};
    if (poll(p, 2, 1000) < 0 && errno != EINTR) {
      berr_sys(&err, errno, "poll");
      goto fail;
    }
    if (p[0].revents) {
      char ev[4096];
      while (read(ino, ev, sizeof ev) > 0)
        ;
    }
    if (p[1].revents) {
      /* the client sends nothing here: data or EOF both mean it is done */
      char junk[256];
      ssize_t k = read(s->client, junk, sizeof junk);
      if (k == 0 || (k < 0 && errno != EAGAIN && errno != EINTR))
        _exit(0);
    }
    if (access(s->log, F_OK) < 0 && access(dir, F_OK) < 0)
      _exit(0); /* the container was removed */
  }
fail: {
  char msg[BERR_MSG_MAX + 64];
  json_object *o = proto_error_object(&err);
  snprintf(msg, sizeof msg, "%s", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
  json_object_put(o);
  (void)frame_write(s->client, FRAME_ERROR, msg, strlen(msg), 5000, &err);
  stream_linger(s->client, 1000);
  _exit(1);
}
}

int runtime_logs(const char *dir, int client_fd, bool follow, long tail, int *ctl_fd,
                 berr_t *err) {
  *ctl_fd = -1;
  struct streamer s = {.client = client_fd, .fd = -1};
  if (snprintf(s.log, sizeof s.log, "%s/%s", dir, CTR_LOG) >= (int)sizeof s.log ||
      snprintf(s.log1, sizeof s.log1, "%s/%s.1", dir, CTR_LOG) >= (int)sizeof s.log1 ||
      snprintf(s.exit_path, sizeof s.exit_path, "%s/%s", dir, CTR_EXIT) >= (int)sizeof s.exit_path)
    return berr_set(err, BERR_INVALID, "path too long under `%s`", dir);
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
    return berr_sys(err, errno, "socketpair");
  pid_t pid = fork();
  if (pid < 0) {
    int e = errno;
    close(sv[0]);
    close(sv[1]);
    return berr_sys(err, e, "fork the log streamer");
  }
  if (pid == 0) {
    int keep[] = {sv[1], client_fd};
    runtime_close_fds_except(keep, 2);
    runtime_child_setup("berth-logs");
    streamer_main(&s, sv[1], follow, tail, dir);
  }
  close(sv[1]);
  *ctl_fd = sv[0];
  return 0;
}
