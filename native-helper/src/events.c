#include "events.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "protocol.h"
#include "stream.h"
#include "util.h"

/* FRAME_EVENT is 10 (stream.h's enum stops at RESULT; this file owns the type). */
#define FRAME_EVENT 10
/* A subscriber with bytes waiting (its socket buffer is full) is retried this often. */
#define RETRY_MS 100

struct subscriber {
  int fd; /* -1: free slot */
  struct outq q;
};

static struct {
  struct server *srv;
  struct subscriber subs[EVENTS_MAX_SUBSCRIBERS];
  int timer_fd;
  bool timer_armed;
  bool ready;
  pid_t owner; /* forked children (workers, monitors) hold stale fd numbers: never emit there */
} ev = {.timer_fd = -1};

void events_init(struct server *srv) {
  ev.srv = srv;
  for (int i = 0; i < EVENTS_MAX_SUBSCRIBERS; i++)
    ev.subs[i].fd = -1;
  ev.timer_fd = -1;
  ev.timer_armed = false;
  ev.owner = getpid();
  ev.ready = true;
}

static void drop(struct subscriber *s) {
  if (s->fd < 0)
    return;
  server_unwatch(ev.srv, s->fd);
  close(s->fd);
  s->fd = -1;
  outq_free(&s->q);
  memset(&s->q, 0, sizeof s->q);
}

void events_close(void) {
  if (!ev.ready || ev.owner != getpid())
    return;
  for (int i = 0; i < EVENTS_MAX_SUBSCRIBERS; i++)
    drop(&ev.subs[i]);
  if (ev.timer_fd >= 0) {
    server_unwatch(ev.srv, ev.timer_fd);
    close(ev.timer_fd);
    ev.timer_fd = -1;
  }
  ev.ready = false;
}

int events_subscribers(void) {
  int n = 0;
  for (int i = 0; i < EVENTS_MAX_SUBSCRIBERS; i++)
    n += ev.subs[i].fd >= 0;
  return n;
}

static struct subscriber *by_fd(int fd) {
  for (int i = 0; i < EVENTS_MAX_SUBSCRIBERS; i++)
    if (ev.subs[i].fd == fd)
      return &ev.subs[i];
  return NULL;
}

/* A subscriber sends nothing after its request: whatever comes is read and
 * dropped; EOF or an error means it has gone. */
static void on_readable(void *ctx, int fd, uint32_t events) {
  (void)ctx;
  (void)events;
  struct subscriber *s = by_fd(fd);
  if (!s)
    return;
  char buf[4096];
  for (;;) {
    ssize_t n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    if (n > 0)
      continue;
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
      return;
    drop(s);
    return;
  }
}

static void arm_timer(bool on);

/* Writes what each subscriber's socket takes; keeps the retry timer armed
 * while anything waits. */
static void flush_all(void) {
  bool waiting = false;
  for (int i = 0; i < EVENTS_MAX_SUBSCRIBERS; i++) {
    struct subscriber *s = &ev.subs[i];
    if (s->fd < 0 || !outq_pending(&s->q))
      continue;
    berr_t err;
    int r = outq_flush(&s->q, s->fd, &err);
    if (r < 0)
      drop(s);
    else if (r > 0)
      waiting = true;
  }
  arm_timer(waiting);
}

static void on_timer(void *ctx, int fd, uint32_t events) {
  (void)ctx;
  (void)events;
  uint64_t ticks;
  (void)!read(fd, &ticks, sizeof ticks);
  ev.timer_armed = false;
  flush_all();
}

static void arm_timer(bool on) {
  if (on == ev.timer_armed)
    return;
  if (ev.timer_fd < 0) {
    if (!on)
      return;
    ev.timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (ev.timer_fd < 0) {
      berthd_log("events: timerfd_create: %s", strerror(errno));
      return;
    }
    berr_t err;
    if (server_watch(ev.srv, ev.timer_fd, on_timer, NULL, &err) < 0) {
      berthd_log("events: %s", err.msg);
      close(ev.timer_fd);
      ev.timer_fd = -1;
      return;
    }
  }
  struct itimerspec its = {0};
  if (on)
    its.it_value.tv_nsec = RETRY_MS * 1000000L;
  if (timerfd_settime(ev.timer_fd, 0, &its, NULL) < 0) {
    berthd_log("events: timerfd_settime: %s", strerror(errno));
    return;
  }
  ev.timer_armed = on;
}

int events_subscribe(struct conn *c, json_object *id, berr_t *err) {
  if (!ev.ready)
    return berr_set(err, BERR_INTERNAL, "events.subscribe: the event table is not set up");
  struct subscriber *slot = NULL;
  for (int i = 0; i < EVENTS_MAX_SUBSCRIBERS && !slot; i++)
    if (ev.subs[i].fd < 0)
      slot = &ev.subs[i];
  if (!slot)
    return berr_set(err, BERR_LIMIT, "events.subscribe: already %d subscribers; close one first",
                    EVENTS_MAX_SUBSCRIBERS);
  /* our own copy of the socket: the server forgets its connection below */
  int fd = fcntl(conn_fd(c), F_DUPFD_CLOEXEC, 3);
  if (fd < 0)
    return berr_sys(err, errno, "events.subscribe: duplicate the connection");
  json_object *res = json_object_new_object();
  json_object_object_add(res, "stream", json_object_new_boolean(true));
  if (conn_send_sync(c, proto_reply_ok(id, res), err) < 0) {
    close(fd);
    return -1;
  }
  int fl = fcntl(fd, F_GETFL);
  if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) {
    int e = errno;
    close(fd);
    return berr_sys(err, e, "events.subscribe: make the connection non-blocking");
  }
  if (server_watch(ev.srv, fd, on_readable, NULL, err) < 0) {
    close(fd);
    return -1;
  }
  conn_release(c);
  slot->fd = fd;
  memset(&slot->q, 0, sizeof slot->q);
  return 0;
}

void events_emit(const char *type, const char *action, const char *id) {
  if (!ev.ready || ev.owner != getpid() || events_subscribers() == 0)
    return;
  char time[40];
  now_rfc3339(time);
  json_object *o = json_object_new_object();
  json_object_object_add(o, "type", json_object_new_string(type));
  json_object_object_add(o, "action", json_object_new_string(action));
  json_object_object_add(o, "id", json_object_new_string(id ? id : ""));
  json_object_object_add(o, "time", json_object_new_string(time));
  const char *s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
  size_t n = strlen(s);
  for (int i = 0; i < EVENTS_MAX_SUBSCRIBERS; i++) {
    struct subscriber *sub = &ev.subs[i];
    if (sub->fd < 0)
      continue;
    berr_t err;
    if (outq_pending(&sub->q) + FRAME_HDR_LEN + n > EVENTS_MAX_QUEUE) {
      berthd_log("events: dropping a subscriber that stopped reading (%zu bytes waiting)",
                 outq_pending(&sub->q));
      drop(sub);
      continue;
    }
    if (outq_frame(&sub->q, FRAME_EVENT, s, n, &err) < 0) {
      berthd_log("events: %s", err.msg);
      drop(sub);
    }
  }
  json_object_put(o);
  flush_all();
}
