#include "restart.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "protocol.h"
#include "runtime.h"
#include "spec.h"
#include "util.h"

#define RESTART_FILE "restart.json"

struct rs_entry {
  char id[65];
  int64_t count;          /* restarts made since the user's last start */
  bool stopped;           /* the user stopped or killed it */
  int64_t delay_ms;       /* the next backoff */
  int64_t started_us;     /* mono_us() of the last start; 0 = unknown */
  int timer_fd;           /* >= 0 while a restart is due */
  struct timespec due;    /* CLOCK_REALTIME of it, for nextAttempt */
  json_object *reply_id;  /* a container.restart waiting for the stop: its request id */
  uint64_t reply_conn;    /* and connection */
  struct rs_entry *next;
};

static struct ctr_store *store;
static struct server *server;
static char store_root[PATH_MAX];
static struct rs_entry *entries;
static bool auto_starting; /* ctr_start is ours, not the user's */

static void entry_path(const struct rs_entry *e, char out[PATH_MAX]) {
  snprintf(out, PATH_MAX, "%s/containers/%s/" RESTART_FILE, store_root, e->id);
}

static void entry_save(const struct rs_entry *e) {
  char path[PATH_MAX];
  entry_path(e, path);
  json_object *o = json_object_new_object();
  json_object_object_add(o, "count", json_object_new_int64(e->count));
  json_object_object_add(o, "stopped", json_object_new_boolean(e->stopped));
  berr_t err;
  if (json_write_file(path, o, false, &err) < 0)
    berthd_log("container %.12s: %s", e->id, err.msg);
  json_object_put(o);
}

static struct rs_entry *entry_find(const char *id) {
  for (struct rs_entry *e = entries; e; e = e->next)
    if (!strcmp(e->id, id))
      return e;
  return NULL;
}

/* The entry of c, read from restart.json the first time. */
static struct rs_entry *entry_get(const struct container *c) {
  const char *id = ctr_id(c);
  struct rs_entry *e = entry_find(id);
  if (e || !id[0])
    return e;
  if (!(e = calloc(1, sizeof *e)))
    return NULL;
  snprintf(e->id, sizeof e->id, "%s", id);
  e->timer_fd = -1;
  e->delay_ms = RESTART_BACKOFF_MIN_MS;
  char path[PATH_MAX];
  entry_path(e, path);
  json_object *o = NULL, *v;
  berr_t err;
  if (access(path, F_OK) == 0 && json_read_file(path, &o, &err) == 0) {
    if (json_object_object_get_ex(o, "count", &v))
      e->count = json_object_get_int64(v);
    if (json_object_object_get_ex(o, "stopped", &v))
      e->stopped = json_object_get_boolean(v);
    json_object_put(o);
  }
  e->next = entries;
  entries = e;
  return e;
}

static void timer_stop(struct rs_entry *e) {
  if (e->timer_fd >= 0) {
    server_unwatch(server, e->timer_fd);
    close(e->timer_fd);
    e->timer_fd = -1;
  }
}

static void schedule(struct rs_entry *e, int64_t ms);

/* Answers a parked container.restart: with err, or with the container. */
static void reply_parked(struct rs_entry *e, struct container *c, const berr_t *err) {
  struct conn *conn = server_conn(server, e->reply_conn);
  if (conn)
    conn_send(conn, c ? proto_reply_ok(e->reply_id, ctr_info(store, c, true))
                      : proto_reply_error(e->reply_id, err));
  json_object_put(e->reply_id);
  e->reply_id = NULL;
}

/* The user's start (count back to 0); 0 or -1 with err. */
static int user_start(struct container *c, berr_t *err) {
  int ctl = -1;
  if (ctr_start(store, c, -1, NULL, &ctl, err) < 0)
    return -1;
  runtime_release(ctl);
  return 0;
}

/* container.restart, second half: the container has stopped. */
static void user_restart_finish(struct rs_entry *e) {
  struct container *c;
  berr_t err;
  if (ctr_find(store, e->id, &c, &err) < 0) {
    reply_parked(e, NULL, &err);
    return;
  }
  if (!ctr_is_running(c) && user_start(c, &err) < 0) {
    reply_parked(e, NULL, &err);
    return;
  }
  reply_parked(e, c, NULL);
}

static void on_due(void *ctx, int fd, uint32_t events) {
  (void)events;
  struct rs_entry *e = ctx;
  uint64_t n;
  (void)!read(fd, &n, sizeof n);
  timer_stop(e);
  struct container *c;
  berr_t err;
  if (e->reply_id) {
    user_restart_finish(e);
    return;
  }
  if (ctr_find(store, e->id, &c, &err) < 0 || ctr_is_running(c))
    return; /* removed meanwhile, or started by the user */
  e->count++;
  entry_save(e);
  int ctl = -1;
  auto_starting = true;
  int r = ctr_start(store, c, -1, NULL, &ctl, &err);
  auto_starting = false;
  if (r == 0) {
    runtime_release(ctl);
    berthd_log("container %.12s (%s): restarted by its policy (%s), restart %lld", e->id,
               ctr_spec(c)->name, restart_policy_name(ctr_spec(c)->restart.policy),
               (long long)e->count);
    return;
  }
  berthd_log("container %.12s: restart %lld failed: %s", e->id, (long long)e->count, err.msg);
  /* a start that fails is a failed run: the policy decides again, with the backoff */
  e->started_us = 0;
  restart_on_exit(c, -1);
}

static void schedule(struct rs_entry *e, int64_t ms) {
  berr_t err;
  if (e->timer_fd < 0) {
    int fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (fd < 0) {
      berthd_log("container %.12s: timerfd_create: %s", e->id, strerror(errno));
      return;
    }
    if (server_watch(server, fd, on_due, e, &err) < 0) {
      berthd_log("container %.12s: %s", e->id, err.msg);
      close(fd);
      return;
    }
    e->timer_fd = fd;
  }
  if (ms < 1)
    ms = 1; /* zero would disarm */
  struct itimerspec its = {.it_value = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000}};
  if (timerfd_settime(e->timer_fd, 0, &its, NULL) < 0) {
    berthd_log("container %.12s: timerfd_settime: %s", e->id, strerror(errno));
    timer_stop(e);
    return;
  }
  clock_gettime(CLOCK_REALTIME, &e->due);
  e->due.tv_sec += ms / 1000;
  e->due.tv_nsec += (ms % 1000) * 1000000;
  if (e->due.tv_nsec >= 1000000000) {
    e->due.tv_sec++;
    e->due.tv_nsec -= 1000000000;
  }
}

/* Whether the policy starts c again after a run that ended with exit_code. */
static bool wanted(const struct restart_spec *p, const struct rs_entry *e, int exit_code) {
  switch (p->policy) {
  case RESTART_ON_FAILURE:
    return !e->stopped && exit_code != 0 && (p->max_retries == 0 || e->count < p->max_retries);
  case RESTART_ALWAYS:
  case RESTART_UNLESS_STOPPED:
    return !e->stopped;
  default:
    return false;
  }
}

void restart_init(struct ctr_store *st, struct server *srv, const char *root) {
  store = st;
  server = srv;
  snprintf(store_root, sizeof store_root, "%s", root);
}

void restart_on_exit(struct container *c, int exit_code) {
  const struct restart_spec *p = &ctr_spec(c)->restart;
  struct rs_entry *parked = entry_find(ctr_id(c));
  if (parked && parked->reply_id) {
    /* a container.restart stopped it: start it from the loop, not from inside the exit */
    schedule(parked, 1);
    return;
  }
  if (p->policy == RESTART_NO || !server)
    return;
  struct rs_entry *e = entry_get(c);
  if (!e || !wanted(p, e, exit_code))
    return;
  int64_t ran = e->started_us ? mono_us() - e->started_us : 0;
  if (ran >= RESTART_RESET_AFTER_US || e->delay_ms < RESTART_BACKOFF_MIN_MS)
    e->delay_ms = RESTART_BACKOFF_MIN_MS;
  int64_t ms = e->delay_ms;
  e->delay_ms = ms * 2 > RESTART_BACKOFF_MAX_MS ? RESTART_BACKOFF_MAX_MS : ms * 2;
  schedule(e, ms);
  berthd_log("container %.12s (%s): restarting in %lld ms (policy %s)", e->id, ctr_spec(c)->name,
             (long long)ms, restart_policy_name(p->policy));
}

void restart_on_load(struct container *c, bool exited, int exit_code) {
  const struct restart_spec *p = &ctr_spec(c)->restart;
  if (p->policy == RESTART_NO)
    return;
  struct rs_entry *e = entry_get(c);
  if (!e || !exited)
    return;
  if (p->policy == RESTART_ALWAYS && e->stopped) {
    /* `always` comes back with berthd even after a stop by the user */
    e->stopped = false;
    entry_save(e);
  }
  if (wanted(p, e, exit_code)) {
    e->delay_ms = RESTART_BACKOFF_MIN_MS;
    schedule(e, 1);
  }
}

void restart_on_start(struct container *c) {
  if (ctr_spec(c)->restart.policy == RESTART_NO && !entry_find(ctr_id(c)))
    return; /* nothing to count */
  struct rs_entry *e = entry_get(c);
  if (!e)
    return;
  timer_stop(e);
  e->started_us = mono_us();
  if (!auto_starting && (e->count || e->stopped)) {
    e->count = 0;
    e->stopped = false;
    e->delay_ms = RESTART_BACKOFF_MIN_MS;
    entry_save(e);
  }
}

bool restart_user_stop(struct container *c) {
  if (ctr_spec(c)->restart.policy == RESTART_NO)
    return false;
  struct rs_entry *e = entry_get(c);
  if (!e)
    return false;
  bool was_pending = e->timer_fd >= 0;
  timer_stop(e);
  if (!e->stopped) {
    e->stopped = true;
    entry_save(e);
  }
  return was_pending;
}

bool restart_pending(const struct container *c) {
  struct rs_entry *e = entry_find(ctr_id(c));
  return e && e->timer_fd >= 0 && !ctr_is_running(c);
}

json_object *restart_to_json(const struct container *c) {
  const struct restart_spec *p = &ctr_spec(c)->restart;
  struct rs_entry *e = entry_find(ctr_id(c));
  json_object *o = json_object_new_object();
  json_object_object_add(o, "policy", json_object_new_string(restart_policy_name(p->policy)));
  json_object_object_add(o, "maxRetries", json_object_new_int64(p->max_retries));
  json_object_object_add(o, "count", json_object_new_int64(e ? e->count : 0));
  char due[40];
  if (e && e->timer_fd >= 0)
    format_rfc3339(&e->due, due);
  json_object_object_add(o, "nextAttempt",
                         e && e->timer_fd >= 0 ? json_object_new_string(due) : NULL);
  return o;
}

void restart_forget(const struct container *c) {
  for (struct rs_entry **pp = &entries; *pp; pp = &(*pp)->next)
    if (!strcmp((*pp)->id, ctr_id(c))) {
      struct rs_entry *e = *pp;
      *pp = e->next;
      timer_stop(e);
      if (e->reply_id) {
        berr_t err;
        berr_set(&err, BERR_NOT_FOUND, "container %.12s was removed while it restarted", e->id);
        reply_parked(e, NULL, &err);
      }
      free(e);
      return;
    }
}

int restart_method(struct conn *conn, json_object *id, json_object *params, json_object **result,
                   berr_t *err) {
  static const char *const keys[] = {"ref", "timeout", NULL};
  const char *ref;
  double timeout;
  struct container *c;
  if (param_check_keys(params, "container.restart", keys, err) < 0 ||
      param_string(params, "ref", true, &ref, err) < 0 ||
      param_number(params, "timeout", 10, &timeout, NULL, err) < 0)
    return -1;
  if (timeout < 0 || timeout > 86400)
    return berr_set(err, BERR_INVALID, "`timeout` is %g; it must be 0..86400 seconds", timeout);
  if (ctr_find(store, ref, &c, err) < 0)
    return -1;
  struct rs_entry *e = entry_get(c);
  if (!e)
    return berr_sys(err, ENOMEM, "container.restart");
  if (e->reply_id)
    return berr_set(err, BERR_CONFLICT, "container %s is already being restarted", ctr_spec(c)->name);
  timer_stop(e); /* a restart the policy had planned is this one now */
  if (ctr_is_running(c)) {
    if (ctr_stop(store, c, (int64_t)(timeout * 1000), err) < 0)
      return -1;
    e->reply_id = json_object_get(id);
    e->reply_conn = conn_id(conn);
    return 1;
  }
  if (user_start(c, err) < 0)
    return -1;
  *result = ctr_info(store, c, true);
  return 0;
}
