/* Container records and their lifecycle. Per container, under
 * <root>/containers/<id>/: config.json (spec_to_json, written once at
 * create), state.json (this file's, below), exit.json (the monitor's) and the
 * overlay dirs upper/ work/ merged/.
 *
 * state.json: {"status": "created"|"running"|"exited", "created", "startedAt",
 *   "finishedAt", "pid", "monitorPid", "initStarttime", "monitorStarttime",
 *   "exitCode", "exitSignal", "exitReason", "oomKilled", "startToExitUs",
 *   "requested": "stop"|"kill"|null, "cgroup": cgroup_to_json|null,
 *   "timeline": [{"step", "us", "atUs"?}],
 *   "starting": {"monitorPid", "monitorStarttime"} while a start is in flight} */
#include "container.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "events.h"
#include "image.h"
#include "names.h"
#include "network.h"
#include "procs.h"
#include "protocol.h"
#include "restart.h"
#include "runtime.h"
#include "spec.h"
#include "usermounts.h"
#include "anonvol.h"
#include "image-volumes.h"
#include "util.h"

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

#define DEFAULT_PATH "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#define FORCE_REMOVE_WAIT_MS 5000
#define V1_MIN_MEMORY (6 * 1024 * 1024)

enum ctr_status { ST_CREATED, ST_RUNNING, ST_EXITED };
static const char *const status_names[] = {"created", "running", "exited"};
enum ctr_request { REQ_NONE, REQ_STOP, REQ_KILL };
static const char *const request_names[] = {NULL, "stop", "kill"};

/* The protocol's keys for the namespaces, in enum ns_kind order. */
static const char *const ns_keys[NS_COUNT] = {"pid", "mount", "uts", "ipc", "net", "cgroup", "user"};

struct waiter {
  ctr_exit_fn fn;
  void *ctx;
  struct waiter *next;
};

struct container {
  struct container_spec spec;
  char dir[PATH_MAX];
  enum ctr_status status;
  char created[40], started_at[40], finished_at[40]; /* "" = null */
  pid_t init_pid, monitor_pid;
  uint64_t init_starttime, monitor_starttime;
  int pidfd;        /* the monitor, while running */
  int timer_fd;     /* stop: SIGKILL deadline; or a prompt re-check of a vanished monitor */
  bool has_cg;
  struct cgroup cg;
  bool has_timeline;
  int64_t step_us[TL_COUNT];
  int64_t step_at_us[TL_COUNT]; /* -1: not known (a start of an older berthd) */
  bool has_exit_code;
  int exit_code;
  char exit_signal[16], exit_reason[16];
  bool oom_killed;
  int64_t start_to_exit_us; /* -1 = null */
  enum ctr_request requested;
  /* the monitor of a start in flight, recorded before its report (recover_start) */
  pid_t starting_pid;
  uint64_t starting_starttime;
  bool removing;
  bool remove_volumes; /* destroy also deletes its anonymous volumes (rm -v) */
  bool paused;         /* running, its cgroup frozen (container.pause) */
  bool commit_paused;  /* paused by a commit, to be resumed when it ends */
  struct waiter *waiters;
  struct ctr_store *st; /* for the fd callbacks */
  struct container *next;
};

struct ctr_store {
  char root[PATH_MAX];
  const struct cgroup_env *cg_env;
  int64_t log_max_bytes;
  struct server *srv;
  struct container *list;
};

static bool container_exited(struct ctr_store *st, struct container *c, bool monitor_gone);
static int destroy(struct ctr_store *st, struct container *c, berr_t *err);

/* ---- small helpers ----------------------------------------------------------- */

const char *ctr_id(const struct container *c) { return c->spec.id; }
const struct container_spec *ctr_spec(const struct container *c) { return &c->spec; }
void ctr_foreach(struct ctr_store *st, void (*fn)(struct container *c, void *ctx), void *ctx) {
  for (struct container *c = st->list, *next; c; c = next) {
    next = c->next;
    fn(c, ctx);
  }
}
bool ctr_is_running(const struct container *c) { return c->status == ST_RUNNING; }

static int path_in(const struct container *c, const char *name, char out[PATH_MAX], berr_t *err) {
  if (snprintf(out, PATH_MAX, "%s/%s", c->dir, name) >= PATH_MAX)
    return berr_set(err, BERR_INTERNAL, "path too long under `%s`", c->dir);
  return 0;
}

static const struct {
  int sig;
  const char *name;
} signals[] = {
    {SIGHUP, "SIGHUP"},   {SIGINT, "SIGINT"},       {SIGQUIT, "SIGQUIT"}, {SIGILL, "SIGILL"},
    {SIGTRAP, "SIGTRAP"}, {SIGABRT, "SIGABRT"},     {SIGIOT, "SIGIOT"},   {SIGBUS, "SIGBUS"},
    {SIGFPE, "SIGFPE"},   {SIGKILL, "SIGKILL"},     {SIGUSR1, "SIGUSR1"}, {SIGSEGV, "SIGSEGV"},
    {SIGUSR2, "SIGUSR2"}, {SIGPIPE, "SIGPIPE"},     {SIGALRM, "SIGALRM"}, {SIGTERM, "SIGTERM"},
    {SIGSTKFLT, "SIGSTKFLT"}, {SIGCHLD, "SIGCHLD"}, {SIGCONT, "SIGCONT"}, {SIGSTOP, "SIGSTOP"},
    {SIGTSTP, "SIGTSTP"}, {SIGTTIN, "SIGTTIN"},     {SIGTTOU, "SIGTTOU"}, {SIGURG, "SIGURG"},
    {SIGXCPU, "SIGXCPU"}, {SIGXFSZ, "SIGXFSZ"},     {SIGVTALRM, "SIGVTALRM"}, {SIGPROF, "SIGPROF"},
    {SIGWINCH, "SIGWINCH"}, {SIGIO, "SIGIO"},       {SIGPWR, "SIGPWR"},   {SIGSYS, "SIGSYS"},
};

const char *ctr_signal_name(int sig, char buf[16]) {
  for (size_t i = 0; i < sizeof signals / sizeof signals[0]; i++)
    if (signals[i].sig == sig)
      return signals[i].name;
  if (sig >= SIGRTMIN && sig <= SIGRTMAX)
    snprintf(buf, 16, "SIGRTMIN+%d", sig - SIGRTMIN);
  else
    snprintf(buf, 16, "%d", sig);
  return buf;
}

int ctr_parse_signal(json_object *v, int *sig, berr_t *err) {
  if (!v) {
    *sig = SIGKILL;
    return 0;
  }
  if (json_object_is_type(v, json_type_int)) {
    int64_t n = json_object_get_int64(v);
    if (n < 1 || n > SIGRTMAX)
      return berr_set(err, BERR_INVALID, "bad signal %" PRId64 ": signals are 1..%d", n, SIGRTMAX);
    *sig = (int)n;
    return 0;
  }
  if (!json_string_is_clean(v))
    return berr_set(err, BERR_BAD_REQUEST, "`signal` must be a signal name or number");
  const char *s = json_object_get_string(v);
  const char *bare = strncasecmp(s, "SIG", 3) == 0 ? s + 3 : s;
  for (size_t i = 0; i < sizeof signals / sizeof signals[0]; i++)
    if (!strcasecmp(bare, signals[i].name + 3)) {
      *sig = signals[i].sig;
      return 0;
    }
  if (!strncasecmp(bare, "RTMIN+", 6) && isdigit((unsigned char)bare[6])) {
    long n = strtol(bare + 6, NULL, 10);
    if (n >= 0 && SIGRTMIN + n <= SIGRTMAX) {
      *sig = SIGRTMIN + (int)n;
      return 0;
    }
  }
  char *end;
  long n = strtol(s, &end, 10);
  if (*s && !*end && n >= 1 && n <= SIGRTMAX) {
    *sig = (int)n;
    return 0;
  }
  return berr_set(err, BERR_INVALID, "bad signal '%.32s': give a name such as SIGTERM or a number", s);
}

/* Signals init only while it is still the process we started (PID reuse). */
static int signal_init(struct container *c, int sig, berr_t *err) {
  if (c->init_pid <= 0 || proc_starttime(c->init_pid) != c->init_starttime)
    return 0; /* init is gone; the monitor will report it */
  if (kill(c->init_pid, sig) < 0 && errno != ESRCH)
    return berr_sys(err, errno, "kill init pid %d of container %.12s", (int)c->init_pid, c->spec.id);
  return 0;
}

/* SIGKILL to every process of the cgroup. Best effort: the monitor may have
 * removed the cgroup already when init was the last process. */
static void kill_cgroup(struct container *c) {
  berr_t err;
  if (c->has_cg && cgroup_kill_all(&c->cg, SIGKILL, &err) < 0 && err.errnum != ENOENT)
    berthd_log("container %.12s: %s", c->spec.id, err.msg);
}

static void timer_cancel(struct ctr_store *st, struct container *c) {
  if (c->timer_fd >= 0) {
    server_unwatch(st->srv, c->timer_fd);
    close(c->timer_fd);
    c->timer_fd = -1;
  }
}

static void pidfd_close(struct ctr_store *st, struct container *c) {
  if (c->pidfd >= 0) {
    server_unwatch(st->srv, c->pidfd);
    close(c->pidfd);
    c->pidfd = -1;
  }
}

/* ---- state.json ---------------------------------------------------------------- */

static json_object *str_or_null(const char *s) { return s && s[0] ? json_object_new_string(s) : NULL; }

static json_object *timeline_json(const struct container *c) {
  json_object *a = json_object_new_array();
  if (c->has_timeline)
    for (int i = 0; i < TL_COUNT; i++) {
      json_object *e = json_object_new_object();
      json_object_object_add(e, "step", json_object_new_string(timeline_step_name((enum timeline_step)i)));
      json_object_object_add(e, "us", json_object_new_int64(c->step_us[i]));
      if (c->step_at_us[i] >= 0)
        json_object_object_add(e, "atUs", json_object_new_int64(c->step_at_us[i]));
      json_object_array_add(a, e);
    }
  return a;
}

static int save_state(struct container *c, berr_t *err) {
  json_object *o = json_object_new_object();
  json_object_object_add(o, "status", json_object_new_string(status_names[c->status]));
  json_object_object_add(o, "created", str_or_null(c->created));
  json_object_object_add(o, "startedAt", str_or_null(c->started_at));
  json_object_object_add(o, "finishedAt", str_or_null(c->finished_at));
  json_object_object_add(o, "pid", json_object_new_int64(c->init_pid));
  json_object_object_add(o, "monitorPid", json_object_new_int64(c->monitor_pid));
  json_object_object_add(o, "initStarttime", json_object_new_int64((int64_t)c->init_starttime));
  json_object_object_add(o, "monitorStarttime", json_object_new_int64((int64_t)c->monitor_starttime));
  json_object_object_add(o, "exitCode", c->has_exit_code ? json_object_new_int(c->exit_code) : NULL);
  json_object_object_add(o, "exitSignal", str_or_null(c->exit_signal));
  json_object_object_add(o, "exitReason", str_or_null(c->exit_reason));
  json_object_object_add(o, "oomKilled", json_object_new_boolean(c->oom_killed));
  json_object_object_add(o, "paused", json_object_new_boolean(c->paused));
  json_object_object_add(o, "commitPaused", json_object_new_boolean(c->commit_paused));
  json_object_object_add(o, "startToExitUs",
                         c->start_to_exit_us >= 0 ? json_object_new_int64(c->start_to_exit_us) : NULL);
  json_object_object_add(o, "requested", str_or_null(request_names[c->requested]));
  json_object_object_add(o, "cgroup", c->has_cg ? cgroup_to_json(&c->cg) : NULL);
  json_object_object_add(o, "timeline", c->has_timeline ? timeline_json(c) : NULL);
  if (c->starting_pid > 0) {
    json_object *sm = json_object_new_object();
    json_object_object_add(sm, "monitorPid", json_object_new_int64(c->starting_pid));
    json_object_object_add(sm, "monitorStarttime", json_object_new_int64((int64_t)c->starting_starttime));
    json_object_object_add(o, "starting", sm);
  }
  char path[PATH_MAX];
  int r = path_in(c, CTR_STATE, path, err);
  /* rename keeps the file whole if we crash; no fsync on the start path: after
   * a power loss the containers are gone anyway and a restart re-reads /proc */
  if (r == 0)
    r = json_write_file(path, o, false, err);
  json_object_put(o);
  return r;
}

static void copy_str(json_object *o, const char *key, char *buf, size_t size) {
  json_object *v = NULL;
  buf[0] = '\0';
  if (json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string))
    snprintf(buf, size, "%s", json_object_get_string(v));
}

static int64_t get_i64(json_object *o, const char *key, int64_t def) {
  json_object *v = NULL;
  if (json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_int))
    return json_object_get_int64(v);
  return def;
}

static int load_state(struct container *c, json_object *o, berr_t *err) {
  char status[16];
  copy_str(o, "status", status, sizeof status);
  int s = 0;
  while (s < 3 && strcmp(status, status_names[s]))
    s++;
  if (s == 3)
    return berr_set(err, BERR_INTERNAL, "state.json of %.12s has no valid status", c->spec.id);
  c->status = (enum ctr_status)s;
  json_object *pv = NULL;
  c->paused = c->status == ST_RUNNING && json_object_object_get_ex(o, "paused", &pv) && json_object_get_boolean(pv);
  c->commit_paused = c->paused && json_object_object_get_ex(o, "commitPaused", &pv) && json_object_get_boolean(pv);
  copy_str(o, "created", c->created, sizeof c->created);
  copy_str(o, "startedAt", c->started_at, sizeof c->started_at);
  copy_str(o, "finishedAt", c->finished_at, sizeof c->finished_at);
  c->init_pid = (pid_t)get_i64(o, "pid", 0);
  c->monitor_pid = (pid_t)get_i64(o, "monitorPid", 0);
  c->init_starttime = (uint64_t)get_i64(o, "initStarttime", 0);
  c->monitor_starttime = (uint64_t)get_i64(o, "monitorStarttime", 0);
  json_object *v = NULL;
  c->has_exit_code = json_object_object_get_ex(o, "exitCode", &v) && json_object_is_type(v, json_type_int);
  c->exit_code = c->has_exit_code ? json_object_get_int(v) : 0;
  copy_str(o, "exitSignal", c->exit_signal, sizeof c->exit_signal);
  copy_str(o, "exitReason", c->exit_reason, sizeof c->exit_reason);
  c->oom_killed = json_object_object_get_ex(o, "oomKilled", &v) && json_object_get_boolean(v);
  c->start_to_exit_us = get_i64(o, "startToExitUs", -1);
  char req[16];
  copy_str(o, "requested", req, sizeof req);
  c->requested = !strcmp(req, "stop") ? REQ_STOP : !strcmp(req, "kill") ? REQ_KILL : REQ_NONE;
  if (json_object_object_get_ex(o, "cgroup", &v) && v) {
    if (cgroup_from_json(&c->cg, v, err) < 0)
      return berr_wrap(err, "state.json of %.12s", c->spec.id);
    c->has_cg = true;
  }
  if (json_object_object_get_ex(o, "timeline", &v) && json_object_is_type(v, json_type_array)) {
    /* by name: a state.json of an older berthd may lack steps */
    c->has_timeline = true;
    for (size_t i = 0; i < TL_COUNT; i++) {
      c->step_us[i] = 0;
      c->step_at_us[i] = -1;
    }
    for (size_t k = 0; k < json_object_array_length(v); k++) {
      json_object *e = json_object_array_get_idx(v, k), *name = NULL;
      if (!json_object_object_get_ex(e, "step", &name))
        continue;
      for (int i = 0; i < TL_COUNT; i++)
        if (!strcmp(json_object_get_string(name), timeline_step_name((enum timeline_step)i))) {
          c->step_us[i] = get_i64(e, "us", 0);
          c->step_at_us[i] = get_i64(e, "atUs", -1);
        }
    }
  }
  if (json_object_object_get_ex(o, "starting", &v) && json_object_is_type(v, json_type_object)) {
    c->starting_pid = (pid_t)get_i64(v, "monitorPid", 0);
    c->starting_starttime = (uint64_t)get_i64(v, "monitorStarttime", 0);
  }
  return 0;
}

/* ---- exit ------------------------------------------------------------------------ */

/* Reads exit.json into c; false when there is none. */
static bool read_exit(struct container *c) {
  char path[PATH_MAX];
  berr_t err;
  json_object *o = NULL;
  if (path_in(c, CTR_EXIT, path, &err) < 0 || access(path, F_OK) < 0 ||
      json_read_file(path, &o, &err) < 0) {
    if (access(path, F_OK) == 0)
      berthd_log("container %.12s: %s", c->spec.id, err.msg);
    return false;
  }
  json_object *v = NULL;
  c->has_exit_code = json_object_object_get_ex(o, "exitCode", &v) && json_object_is_type(v, json_type_int);
  c->exit_code = c->has_exit_code ? json_object_get_int(v) : 0;
  c->exit_signal[0] = '\0';
  if (json_object_object_get_ex(o, "signal", &v) && v) {
    if (json_object_is_type(v, json_type_int)) {
      char buf[16];
      snprintf(c->exit_signal, sizeof c->exit_signal, "%s", ctr_signal_name(json_object_get_int(v), buf));
    } else {
      copy_str(o, "signal", c->exit_signal, sizeof c->exit_signal);
    }
  }
  copy_str(o, "reason", c->exit_reason, sizeof c->exit_reason);
  if (!c->exit_reason[0])
    snprintf(c->exit_reason, sizeof c->exit_reason, "exited");
  c->oom_killed = json_object_object_get_ex(o, "oomKilled", &v) && json_object_get_boolean(v);
  copy_str(o, "finishedAt", c->finished_at, sizeof c->finished_at);
  c->start_to_exit_us = get_i64(o, "startToExitUs", -1);
  json_object_put(o);
  if (!c->finished_at[0])
    now_rfc3339(c->finished_at);
  return true;
}

/* No exit status was recorded: say so, and leave an exit.json behind so that
 * a `logs --follow` streamer ends too. */
static void mark_lost(struct container *c) {
  c->has_exit_code = false;
  c->exit_signal[0] = '\0';
  snprintf(c->exit_reason, sizeof c->exit_reason, "lost");
  c->oom_killed = false;
  c->start_to_exit_us = -1;
  now_rfc3339(c->finished_at);
  json_object *o = json_object_new_object();
  json_object_object_add(o, "exitCode", NULL);
  json_object_object_add(o, "signal", NULL);
  json_object_object_add(o, "reason", json_object_new_string("lost"));
  json_object_object_add(o, "oomKilled", json_object_new_boolean(false));
  json_object_object_add(o, "finishedAt", json_object_new_string(c->finished_at));
  json_object_object_add(o, "startToExitUs", NULL);
  char path[PATH_MAX];
  berr_t err;
  if (path_in(c, CTR_EXIT, path, &err) < 0 || json_write_file(path, o, true, &err) < 0)
    berthd_log("container %.12s: %s", c->spec.id, err.msg);
  json_object_put(o);
}

static void record_exit(struct container *c) {
  if (!read_exit(c)) {
    /* the monitor died without a word: do not leave its container running untracked */
    kill_cgroup(c);
    mark_lost(c);
  } else if (c->requested == REQ_STOP && strcmp(c->exit_reason, "oom-killed")) {
    snprintf(c->exit_reason, sizeof c->exit_reason, "stopped");
  } else if (c->requested == REQ_KILL && !strcmp(c->exit_reason, "signaled")) {
    snprintf(c->exit_reason, sizeof c->exit_reason, "killed");
  }
  c->status = ST_EXITED;
  c->paused = c->commit_paused = false;
}

static void fire_waiters(struct ctr_store *st, struct container *c) {
  while (c->waiters) {
    struct waiter *w = c->waiters;
    c->waiters = w->next;
    w->fn(w->ctx, st, c);
    free(w);
  }
}

static void reap_monitor(struct ctr_store *st, struct container *c) {
  if (c->pidfd >= 0) {
    siginfo_t si;
    /* reap it if it is our child (not after a restart); SIGCHLD may have already */
    syscall(SYS_waitid, P_PIDFD, c->pidfd, &si, WEXITED | WNOHANG, NULL);
  }
  pidfd_close(st, c);
}

/* The container has exited: record it, answer the waiters, and remove it
 * for autoRemove. monitor_gone is false when exit.json shows up before the
 * monitor has finished cleaning up; its pidfd stays watched to reap it.
 * Returns true when c was freed. */
static bool container_exited(struct ctr_store *st, struct container *c, bool monitor_gone) {
  if (monitor_gone)
    reap_monitor(st, c);
  timer_cancel(st, c);
  if (c->status != ST_RUNNING)
    return false;
  record_exit(c);
  net_stopped(c->spec.id); /* address, veth, proxy; the bridge after the last one */
  berr_t err;
  if (save_state(c, &err) < 0)
    berthd_log("container %.12s: %s", c->spec.id, err.msg);
  char code[16] = "null";
  if (c->has_exit_code)
    snprintf(code, sizeof code, "%d", c->exit_code);
  berthd_log("container %.12s (%s) exited: reason %s, exit code %s%s%s", c->spec.id, c->spec.name,
             c->exit_reason, code, c->exit_signal[0] ? ", signal " : "", c->exit_signal);
  events_emit("container", "exit", c->spec.id);
  fire_waiters(st, c);
  restart_on_exit(c, c->has_exit_code ? c->exit_code : -1);
  if (c->spec.auto_remove && !c->removing) {
    if (destroy(st, c, &err) == 0)
      return true;
    berthd_log("container %.12s: auto-remove failed: %s", c->spec.id, err.msg);
  }
  return false;
}

/* A client that got the EXIT frame may ask about the container before its
 * monitor is gone: exit.json is the monitor's last word, so it counts.
 * Returns true when c was freed (autoRemove). */
static bool refresh(struct ctr_store *st, struct container *c) {
  char path[PATH_MAX];
  berr_t err;
  if (c->status != ST_RUNNING || path_in(c, CTR_EXIT, path, &err) < 0 || access(path, F_OK) < 0)
    return false;
  return container_exited(st, c, false);
}

static void on_pidfd(void *ctx, int fd, uint32_t events) {
  (void)fd;
  (void)events;
  struct container *c = ctx;
  container_exited(c->st, c, true);
}

/* The stop deadline passed: SIGKILL init, and every process of the cgroup
 * too (a container sharing the host's PID namespace does not die with init). */
static void on_timer(void *ctx, int fd, uint32_t events) {
  (void)events;
  struct container *c = ctx;
  uint64_t n;
  (void)!read(fd, &n, sizeof n);
  timer_cancel(c->st, c);
  if (c->status != ST_RUNNING)
    return;
  if (c->pidfd < 0) {
    /* a monitor that could not be watched: it had already gone */
    container_exited(c->st, c, true);
    return;
  }
  berr_t err;
  berthd_log("container %.12s (%s): stop timeout, sending SIGKILL", c->spec.id, c->spec.name);
  if (signal_init(c, SIGKILL, &err) < 0)
    berthd_log("%s", err.msg);
  kill_cgroup(c);
}

static int timer_arm(struct ctr_store *st, struct container *c, int64_t ms, berr_t *err) {
  if (c->timer_fd < 0) {
    int fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (fd < 0)
      return berr_sys(err, errno, "timerfd_create");
    if (server_watch(st->srv, fd, on_timer, c, err) < 0) {
      close(fd);
      return -1;
    }
    c->timer_fd = fd;
  } else {
    /* a second stop with an earlier deadline wins */
    struct itimerspec cur;
    if (timerfd_gettime(c->timer_fd, &cur) == 0 &&
        (cur.it_value.tv_sec * 1000 + cur.it_value.tv_nsec / 1000000) <= ms)
      return 0;
  }
  if (ms <= 0)
    ms = 1; /* zero would disarm */
  struct itimerspec its = {.it_value = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000}};
  if (timerfd_settime(c->timer_fd, 0, &its, NULL) < 0)
    return berr_sys(err, errno, "timerfd_settime");
  return 0;
}

/* Watches the monitor; one that already vanished is handled from the loop. */
static int watch_monitor(struct ctr_store *st, struct container *c, berr_t *err) {
  int fd = (int)syscall(SYS_pidfd_open, c->monitor_pid, 0);
  if (fd < 0) {
    if (errno != ESRCH)
      return berr_sys(err, errno, "pidfd_open monitor pid %d", (int)c->monitor_pid);
    return timer_arm(st, c, 0, err);
  }
  /* the pid may have been reused between the check and the open */
  if (proc_starttime(c->monitor_pid) != c->monitor_starttime) {
    close(fd);
    return timer_arm(st, c, 0, err);
  }
  if (server_watch(st->srv, fd, on_pidfd, c, err) < 0) {
    close(fd);
    return -1;
  }
  c->pidfd = fd;
  return 0;
}

/* ---- the table --------------------------------------------------------------------- */

static void container_free(struct container *c) {
  restart_forget(c);
  while (c->waiters) {
    struct waiter *w = c->waiters;
    c->waiters = w->next;
    w->fn(w->ctx, c->st, NULL);
    free(w);
  }
  spec_free(&c->spec);
  if (c->has_cg)
    cgroup_free(&c->cg);
  free(c);
}

static struct container *container_new(struct ctr_store *st) {
  struct container *c = calloc(1, sizeof *c);
  if (!c)
    return NULL;
  c->pidfd = c->timer_fd = -1;
  c->start_to_exit_us = -1;
  c->st = st;
  return c;
}

static void link_container(struct ctr_store *st, struct container *c) {
  c->next = st->list;
  st->list = c;
}

static void unlink_container(struct ctr_store *st, struct container *c) {
  for (struct container **pp = &st->list; *pp; pp = &(*pp)->next)
    if (*pp == c) {
      *pp = c->next;
      return;
    }
}

static void umount_merged(struct container *c);

#define START_RECOVERY_MS 10000

/* berthd was killed while it started c (state.json still names the monitor it had
 * forked). Either the command runs (the monitor's start report is on disk): the
 * container is adopted as running. Or it does not (the start failed, or has not
 * finished after START_RECOVERY_MS): the monitor is ended and the container keeps
 * the state it had; the cgroup sweep of ctr_store_open takes what was made. */
static void recover_start(struct container *c) {
  pid_t mon = c->starting_pid;
  uint64_t mst = c->starting_starttime;
  c->starting_pid = 0;
  c->starting_starttime = 0;
  struct start_result res;
  berr_t err;
  int64_t deadline = mono_us() + (int64_t)START_RECOVERY_MS * 1000;
  int got;
  for (;;) {
    /* alive first: a monitor found gone before a missing report never writes one */
    bool alive = mst && proc_starttime(mon) == mst;
    got = runtime_read_start(c->dir, &res, &err);
    if (got == 0 || err.errnum != ENOENT || !alive || mono_us() > deadline)
      break;
    struct timespec ts = {.tv_sec = 0, .tv_nsec = 20 * 1000000};
    nanosleep(&ts, NULL);
  }
  if (got == 0) {
    if (c->has_cg)
      cgroup_free(&c->cg);
    c->cg = res.cg;
    c->has_cg = true;
    c->status = ST_RUNNING;
    c->monitor_pid = mon;
    c->monitor_starttime = mst;
    c->init_pid = res.init_pid;
    c->init_starttime = res.init_starttime;
    memcpy(c->step_us, res.step_us, sizeof c->step_us);
    memcpy(c->step_at_us, res.step_at_us, sizeof c->step_at_us);
    c->has_timeline = true;
    c->requested = REQ_NONE;
    c->has_exit_code = false;
    c->exit_code = 0;
    c->exit_signal[0] = c->exit_reason[0] = c->finished_at[0] = '\0';
    c->oom_killed = false;
    c->start_to_exit_us = -1;
    now_rfc3339(c->started_at);
    berthd_log("container %.12s (%s): a berthd restart cut its start short after the command ran: adopted",
               c->spec.id, c->spec.name);
    return;
  }
  /* still the monitor berthd forked (its start time says so): it may not go on */
  if (mst && proc_starttime(mon) == mst && kill(mon, SIGKILL) < 0 && errno != ESRCH)
    berthd_log("container %.12s: kill the monitor pid %d of its unfinished start: %s", c->spec.id,
               (int)mon, strerror(errno));
  berthd_log("container %.12s (%s): a berthd restart cut its start short before the command ran (%s); it stays %s",
             c->spec.id, c->spec.name, err.errnum == ENOENT ? "no start report" : err.msg,
             status_names[c->status]);
  char p[PATH_MAX];
  const char *stale[] = {CTR_START, CTR_EXIT};
  for (size_t i = 0; i < 2; i++)
    if (path_in(c, stale[i], p, &err) == 0 && unlink(p) < 0 && errno != ENOENT)
      berthd_log("container %.12s: unlink `%s`: %s", c->spec.id, p, strerror(errno));
  if (!c->spec.ns[NS_MNT])
    umount_merged(c);
}

static int load_one(struct ctr_store *st, const char *id, berr_t *err) {
  struct container *c = container_new(st);
  if (!c)
    return berr_sys(err, ENOMEM, "load container");
  json_object *cfg = NULL, *state = NULL;
  char path[PATH_MAX];
  snprintf(c->dir, sizeof c->dir, "%s/containers/%s", st->root, id);
  int r = -1;
  if (path_in(c, CTR_CONFIG, path, err) < 0 || json_read_file(path, &cfg, err) < 0 ||
      spec_from_json(&c->spec, cfg, err) < 0)
    goto out;
  if (strcmp(c->spec.id, id)) {
    berr_set(err, BERR_INTERNAL, "config.json in `%s` names another id", c->dir);
    goto out;
  }
  if (path_in(c, CTR_STATE, path, err) < 0 || json_read_file(path, &state, err) < 0 ||
      load_state(c, state, err) < 0)
    goto out;

  if (c->starting_pid > 0) {
    if (c->status != ST_RUNNING)
      recover_start(c);
    c->starting_pid = 0;
    if (save_state(c, err) < 0)
      goto out;
  }
  if (c->status == ST_RUNNING) {
    if (c->monitor_pid > 0 && c->monitor_starttime &&
        proc_starttime(c->monitor_pid) == c->monitor_starttime) {
      if (watch_monitor(st, c, err) < 0)
        goto out;
      berthd_log("container %.12s (%s): re-adopted, monitor pid %d, init pid %d", c->spec.id,
                 c->spec.name, (int)c->monitor_pid, (int)c->init_pid);
      if (c->commit_paused) {
        /* paused by a commit of the berthd before: nobody is left to resume it */
        berr_t e2;
        if (cgroup_freeze(&c->cg, false, &e2) < 0) {
          berthd_log("container %.12s: resume after an unfinished commit: %s", c->spec.id, e2.msg);
        } else {
          c->paused = c->commit_paused = false;
          if (save_state(c, &e2) < 0)
            berthd_log("container %.12s: %s", c->spec.id, e2.msg);
        }
      }
    } else {
      record_exit(c);
      berthd_log("container %.12s (%s): ended while berthd was away (%s)", c->spec.id,
                 c->spec.name, c->exit_reason);
      if (save_state(c, err) < 0)
        goto out;
    }
  }
  /* a mount a start or an exit of it left on the host (no mount namespace of its own) */
  if (c->status != ST_RUNNING && !c->spec.ns[NS_MNT])
    umount_merged(c);
  link_container(st, c);
  c = NULL;
  r = 0;
out:
  json_object_put(cfg);
  json_object_put(state);
  if (c)
    container_free(c);
  return r;
}

/* ctr_create writes state.json last, before it answers: a directory without one
 * is a create that berthd did not live to finish, never shown to anyone. */
static void drop_unfinished_create(const char *dir, const char *id) {
  char p[PATH_MAX];
  if (snprintf(p, sizeof p, "%s/%s/%s", dir, id, CTR_STATE) >= (int)sizeof p)
    return;
  struct stat sb;
  if (lstat(p, &sb) == 0 || errno != ENOENT)
    return;
  snprintf(p, sizeof p, "%s/%s", dir, id);
  berr_t e;
  if (rm_rf(p, &e) < 0)
    berthd_log("container %.12s: remove the directory of an unfinished create: %s", id, e.msg);
  else
    berthd_log("container %.12s: removed the directory of a create cut short", id);
}

/* Only containers of this store that are not running lose their cgroup: an id this
 * store does not know may be another berthd's (another store, the same cgroup). */
static bool keep_cgroup(const char *id, void *ctx) {
  struct ctr_store *st = ctx;
  for (struct container *c = st->list; c; c = c->next)
    if (!strcmp(c->spec.id, id))
      return c->status == ST_RUNNING;
  return true;
}

int ctr_store_open(struct ctr_store **out, const struct ctr_store_config *cfg, berr_t *err) {
  struct ctr_store *st = calloc(1, sizeof *st);
  if (!st)
    return berr_sys(err, ENOMEM, "container store");
  snprintf(st->root, sizeof st->root, "%s", cfg->root);
  st->cg_env = cfg->cg_env;
  st->log_max_bytes = cfg->log_max_bytes;
  st->srv = cfg->srv;
  restart_init(st, cfg->srv, st->root);
  char dir[PATH_MAX + 16];
  snprintf(dir, sizeof dir, "%s/containers", st->root);
  if (mkdir_p(dir, 0700, err) < 0) {
    free(st);
    return -1;
  }
  cleanup_dir DIR *d = opendir(dir);
  if (!d) {
    free(st);
    return berr_sys(err, errno, "opendir `%s`", dir);
  }
  struct dirent *de;
  while ((de = readdir(d))) {
    if (de->d_name[0] == '.')
      continue;
    berr_t e;
    if (!id_is_valid(de->d_name)) {
      berthd_log("ignoring `%s/%s`: not a container directory", dir, de->d_name);
      continue;
    }
    /* one broken container must not keep berthd from serving the others */
    if (load_one(st, de->d_name, &e) < 0) {
      berthd_log("container %.12s not loaded: %s", de->d_name, e.msg);
      drop_unfinished_create(dir, de->d_name);
    }
  }
  /* --rm containers that ended while berthd was away */
  for (struct container *c = st->list, *next; c; c = next) {
    next = c->next;
    restart_on_load(c, c->status == ST_EXITED, c->has_exit_code ? c->exit_code : -1);
    berr_t e;
    if (c->spec.auto_remove && c->status == ST_EXITED && destroy(st, c, &e) < 0)
      berthd_log("container %.12s: auto-remove failed: %s", c->spec.id, e.msg);
  }
  /* cgroups of containers that are not running: a start cut short, an exit unfinished */
  cgroup_sweep(st->cg_env, keep_cgroup, st);
  *out = st;
  return 0;
}

void ctr_store_close(struct ctr_store *st) {
  if (!st)
    return;
  while (st->list) {
    struct container *c = st->list;
    st->list = c->next;
    pidfd_close(st, c);
    timer_cancel(st, c);
    container_free(c);
  }
  free(st);
}

static struct container *lookup(struct ctr_store *st, const char *ref, berr_t *err) {
  for (struct container *c = st->list; c; c = c->next)
    if (!strcmp(c->spec.id, ref))
      return c;
  for (struct container *c = st->list; c; c = c->next)
    if (!strcmp(c->spec.name, ref))
      return c;
  size_t n = strlen(ref);
  if (n >= 3 && id_prefix_is_hex(ref)) {
    struct container *found = NULL;
    for (struct container *c = st->list; c; c = c->next)
      if (!strncmp(c->spec.id, ref, n)) {
        if (found) {
          berr_set(err, BERR_NOT_FOUND,
                   "id prefix '%s' matches several containers; give more of the id", ref);
          return NULL;
        }
        found = c;
      }
    if (found)
      return found;
  }
  berr_set(err, BERR_NOT_FOUND, "no container named or with id prefix '%.80s'", ref);
  return NULL;
}

int ctr_find(struct ctr_store *st, const char *ref, struct container **out, berr_t *err) {
  *out = NULL;
  if (!ref || !ref[0])
    return berr_set(err, BERR_BAD_REQUEST, "`ref` must name a container");
  struct container *c = lookup(st, ref, err);
  if (!c)
    return -1;
  if (refresh(st, c))
    return berr_set(err, BERR_NOT_FOUND, "no container named or with id prefix '%.80s'", ref);
  *out = c;
  return 0;
}

static bool name_taken(const char *name, void *ctx) {
  struct ctr_store *st = ctx;
  for (struct container *c = st->list; c; c = c->next)
    if (!strcmp(c->spec.name, name))
      return true;
  return false;
}

bool ctr_image_in_use(const char *image_id, void *ctx) {
  struct ctr_store *st = ctx;
  for (struct container *c = st->list; c; c = c->next)
    if (!strcmp(c->spec.image_id, image_id))
      return true;
  return false;
}

int ctr_on_exit(struct container *c, ctr_exit_fn fn, void *ctx, berr_t *err) {
  struct waiter *w = calloc(1, sizeof *w);
  if (!w)
    return berr_sys(err, ENOMEM, "wait");
  w->fn = fn;
  w->ctx = ctx;
  w->next = c->waiters;
  c->waiters = w;
  return 0;
}

/* ---- create ----------------------------------------------------------------------- */

static void strv_freep(char ***v) { strv_free(*v); }

/* The image's exec config: the "config" object of an OCI image config. */
static json_object *image_exec_config(json_object *config) {
  json_object *c = NULL;
  if (config && json_object_object_get_ex(config, "config", &c) && json_object_is_type(c, json_type_object))
    return c;
  return NULL;
}

static json_object *image_field(json_object *exec_cfg, const char *key, json_type type) {
  json_object *v = NULL;
  if (exec_cfg && json_object_object_get_ex(exec_cfg, key, &v) && json_object_is_type(v, type))
    return v;
  return NULL;
}

static bool env_key_eq(const char *a, const char *b) {
  size_t la = strcspn(a, "="), lb = strcspn(b, "=");
  return la == lb && !strncmp(a, b, la);
}

/* Appends entry to env, replacing an entry with the same key in place. */
static void env_set(json_object *env, const char *entry, bool only_if_missing) {
  for (size_t i = 0; i < json_object_array_length(env); i++) {
    const char *e = json_object_get_string(json_object_array_get_idx(env, i));
    if (e && env_key_eq(e, entry)) {
      if (!only_if_missing)
        json_object_array_put_idx(env, i, json_object_new_string(entry));
      return;
    }
  }
  json_object_array_add(env, json_object_new_string(entry));
}

static const char *const create_keys[] = {"image", "name", "cmd", "entrypoint", "env", "workdir",
                                          "user", "hostname", "tty", "stdin", "autoRemove",
                                          "namespaces", "limits", "mounts", "restart", "network", "ports",
                                          NULL};
static const char *const run_keys[] = {"image", "name", "cmd", "entrypoint", "env", "workdir",
                                       "user", "hostname", "tty", "stdin", "autoRemove",
                                       "namespaces", "limits", "attach", "rows", "cols", "mounts", "restart",
                                       "network", "ports", NULL};
static const char *const request_limit_keys[] = {"memory", "cpus", "cpuWeight", "pids", NULL};

/* Checks a request field that must be an array of clean strings, if given. */
static int check_strv_param(json_object *params, const char *key, json_object **out, berr_t *err) {
  char **v = NULL;
  if (param_strv_limited(params, key, &v, err) < 0)
    return -1;
  strv_free(v);
  *out = v ? json_object_object_get(params, key) : NULL;
  return 0;
}

/* The resolved spec (spec.c's shape) from the request and the image, the
 * way Docker merges them. */
static int resolve_spec(struct ctr_store *st, json_object *params, const struct image *img,
                        const char *id, const char *name, const char *image_ref,
                        json_object **out, berr_t *err) {
  json_object *cmd, *entrypoint, *env_req, *ns, *limits;
  const char *workdir, *user, *hostname;
  if (check_strv_param(params, "cmd", &cmd, err) < 0 ||
      check_strv_param(params, "entrypoint", &entrypoint, err) < 0 ||
      check_strv_param(params, "env", &env_req, err) < 0 ||
      param_string(params, "workdir", false, &workdir, err) < 0 ||
      param_string(params, "user", false, &user, err) < 0 ||
      param_string(params, "hostname", false, &hostname, err) < 0 ||
      param_object(params, "namespaces", &ns, err) < 0 ||
      param_object(params, "limits", &limits, err) < 0)
    return -1;
  if (limits && param_check_keys(limits, "limits", request_limit_keys, err) < 0)
    return -1;
  bool tty, open_stdin, auto_remove;
  if (param_bool(params, "tty", false, &tty, err) < 0 ||
      param_bool(params, "stdin", false, &open_stdin, err) < 0 ||
      param_bool(params, "autoRemove", false, &auto_remove, err) < 0)
    return -1;

  json_object *ic = image_exec_config(img->config);
  json_object *img_cmd = image_field(ic, "Cmd", json_type_array);
  json_object *img_ep = image_field(ic, "Entrypoint", json_type_array);
  json_object *img_env = image_field(ic, "Env", json_type_array);
  json_object *img_wd = image_field(ic, "WorkingDir", json_type_string);
  json_object *img_user = image_field(ic, "User", json_type_string);

  /* cmd replaces Cmd; entrypoint replaces Entrypoint and drops Cmd unless cmd is given */
  json_object *use_ep = entrypoint ? entrypoint : img_ep;
  json_object *use_cmd = cmd ? cmd : entrypoint ? NULL : img_cmd;
  json_object *argv = json_object_new_array();
  json_object *parts[2] = {use_ep, use_cmd};
  for (int p = 0; p < 2; p++)
    for (size_t i = 0; parts[p] && i < json_object_array_length(parts[p]); i++) {
      json_object *e = json_object_array_get_idx(parts[p], i);
      if (!json_string_is_clean(e)) {
        json_object_put(argv);
        return berr_set(err, BERR_INVALID, "the image's Entrypoint/Cmd holds a non-string");
      }
      json_object_array_add(argv, json_object_get(e));
    }

  json_object *env = json_object_new_array();
  for (size_t i = 0; img_env && i < json_object_array_length(img_env); i++) {
    json_object *e = json_object_array_get_idx(img_env, i);
    if (json_string_is_clean(e) && strchr(json_object_get_string(e), '='))
      env_set(env, json_object_get_string(e), false);
  }
  for (size_t i = 0; env_req && i < json_object_array_length(env_req); i++)
    env_set(env, json_object_get_string(json_object_array_get_idx(env_req, i)), false);
  env_set(env, DEFAULT_PATH, true);
  if (tty)
    env_set(env, "TERM=xterm", true);
  char host_env[80];
  if (hostname && hostname[0])
    snprintf(host_env, sizeof host_env, "HOSTNAME=%.64s", hostname);
  else
    snprintf(host_env, sizeof host_env, "HOSTNAME=%.12s", id); /* the default hostname: the short id */
  env_set(env, host_env, true);

  json_object *o = json_object_new_object();
  json_object_object_add(o, "id", json_object_new_string(id));
  json_object_object_add(o, "name", json_object_new_string(name));
  json_object_object_add(o, "image", json_object_new_string(image_ref));
  json_object_object_add(o, "imageId", json_object_new_string(img->id));
  json_object_object_add(o, "argv", argv);
  json_object_object_add(o, "env", env);
  const char *wd = workdir && workdir[0] ? workdir : img_wd ? json_object_get_string(img_wd) : "";
  json_object_object_add(o, "workdir", json_object_new_string(wd[0] ? wd : "/"));
  if (hostname && hostname[0])
    json_object_object_add(o, "hostname", json_object_new_string(hostname));
  const char *u = user && user[0] ? user : img_user ? json_object_get_string(img_user) : "";
  json_object_object_add(o, "user", json_object_new_string(u[0] ? u : "0:0"));
  json_object_object_add(o, "tty", json_object_new_boolean(tty));
  json_object_object_add(o, "stdin", json_object_new_boolean(open_stdin));
  json_object_object_add(o, "autoRemove", json_object_new_boolean(auto_remove));
  if (ns)
    json_object_object_add(o, "namespaces", json_object_get(ns));
  if (limits)
    json_object_object_add(o, "limits", json_object_get(limits));
  json_object_object_add(o, "lowerdirs", strv_to_json(img->layer_dirs));
  static const char *const storage_keys[] = {"mounts", "restart"}; /* checked by spec-storage.c */
  for (size_t i = 0; i < 2; i++)
    if (json_object_object_get(params, storage_keys[i]))
      json_object_object_add(o, storage_keys[i], json_object_get(json_object_object_get(params, storage_keys[i])));
  static const char *const net_keys[] = {"network", "ports"}; /* checked by network.c */
  for (size_t i = 0; i < 2; i++)
    if (json_object_object_get(params, net_keys[i]))
      json_object_object_add(o, net_keys[i], json_object_get(json_object_object_get(params, net_keys[i])));
  (void)st;
  *out = o;
  return 0;
}

static int make_dirs(struct container *c, berr_t *err) {
  if (mkdir(c->dir, 0700) < 0)
    return berr_sys(err, errno, "mkdir `%s`", c->dir);
  /* upper's mode becomes the container's / : it must be searchable by every user */
  static const struct {
    const char *name;
    mode_t mode;
  } dirs[] = {{CTR_UPPER, 0755}, {CTR_WORK, 0700}, {CTR_MERGED, 0755}};
  for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
    char p[PATH_MAX];
    if (path_in(c, dirs[i].name, p, err) < 0)
      return -1;
    if (mkdir(p, dirs[i].mode) < 0)
      return berr_sys(err, errno, "mkdir `%s`", p);
    if (chmod(p, dirs[i].mode) < 0) /* past the umask */
      return berr_sys(err, errno, "chmod `%s`", p);
  }
  return 0;
}

int ctr_create(struct ctr_store *st, json_object *params, bool with_attach, struct container **out,
               berr_t *err) {
  *out = NULL;
  if (param_check_keys(params, "the container spec", with_attach ? run_keys : create_keys, err) < 0)
    return -1;
  const char *image_ref, *name_req;
  if (param_string(params, "image", true, &image_ref, err) < 0 ||
      param_string(params, "name", false, &name_req, err) < 0)
    return -1;
  if (!image_ref[0] || strlen(image_ref) > 255)
    return berr_set(err, BERR_INVALID, "`image` must be an image reference of 1..255 characters");

  char name[65];
  if (name_req) {
    if (!name_is_valid(name_req))
      return name_invalid(err, name_req);
    if (name_taken(name_req, st))
      return berr_set(err, BERR_CONFLICT, "the container name '%s' is already in use", name_req);
    snprintf(name, sizeof name, "%s", name_req);
  } else if (name_generate(name, name_taken, st, err) < 0) {
    return -1;
  }

  char id[65];
  for (int tries = 0;; tries++) {
    if (id_generate(id, err) < 0)
      return -1;
    bool clash = false;
    for (struct container *o = st->list; o && !clash; o = o->next)
      clash = !strncmp(o->spec.id, id, 12) || !strcmp(o->spec.name, id);
    if (!clash)
      break;
    if (tries > 16)
      return berr_set(err, BERR_INTERNAL, "could not pick a unique container id");
  }

  struct image img;
  if (image_resolve(st->root, image_ref, &img, err) < 0)
    return -1;
  json_object *resolved = NULL;
  __attribute__((cleanup(strv_freep))) char **img_vols = NULL, **made_vols = NULL;
  int r = image_volumes_paths(img.config, image_ref, &img_vols, err);
  if (r == 0)
    r = resolve_spec(st, params, &img, id, name, image_ref, &resolved, err);
  image_free(&img);
  if (r < 0)
    return -1;

  struct container *c = container_new(st);
  if (!c) {
    json_object_put(resolved);
    return berr_sys(err, ENOMEM, "create container");
  }
  r = spec_from_json(&c->spec, resolved, err);
  json_object_put(resolved);
  if (r < 0) {
    free(c);
    return -1;
  }
  if (anonvol_add_image(&c->spec, img_vols, err) < 0 || net_check_spec(&c->spec, err) < 0) {
    container_free(c);
    return -1;
  }
  if (st->cg_env->layout != CG_LAYOUT_UNIFIED && c->spec.limits.memory_bytes > 0 &&
      c->spec.limits.memory_bytes < V1_MIN_MEMORY) {
    berr_set(err, BERR_INVALID,
             "memory limit %" PRId64 " bytes is below the minimum of %d bytes (6 MiB) on cgroup v1",
             c->spec.limits.memory_bytes, V1_MIN_MEMORY);
    container_free(c);
    return -1;
  }
  if (anonvol_create(st->root, &c->spec, &made_vols, err) < 0) {
    container_free(c);
    return -1;
  }
  if (usermounts_prepare(st->root, &c->spec, err) < 0) { /* bind sources exist, volumes made */
    anonvol_delete(st->root, made_vols);
    container_free(c);
    return -1;
  }
  c->status = ST_CREATED;
  now_rfc3339(c->created);
  if (snprintf(c->dir, sizeof c->dir, "%s/containers/%s", st->root, id) >= (int)sizeof c->dir) {
    berr_set(err, BERR_INTERNAL, "the store path is too long");
    container_free(c);
    return -1;
  }
  char cfg_path[PATH_MAX];
  json_object *cfg = spec_to_json(&c->spec);
  if (make_dirs(c, err) < 0 || path_in(c, CTR_CONFIG, cfg_path, err) < 0 ||
      json_write_file(cfg_path, cfg, false, err) < 0 || save_state(c, err) < 0) {
    json_object_put(cfg);
    berr_t e2;
    if (rm_rf(c->dir, &e2) < 0)
      berthd_log("cleaning up after a failed create: %s", e2.msg);
    anonvol_delete(st->root, made_vols);
    container_free(c);
    return -1;
  }
  json_object_put(cfg);
  link_container(st, c);
  berthd_log("container %.12s (%s) created from %s", c->spec.id, c->spec.name, c->spec.image_ref);
  events_emit("container", "create", c->spec.id);
  *out = c;
  return 0;
}

/* ---- start / stop / kill / remove ----------------------------------------------- */

static void umount_merged(struct container *c) {
  char merged[PATH_MAX];
  berr_t err;
  if (path_in(c, CTR_MERGED, merged, &err) < 0)
    return;
  if (umount2(merged, MNT_DETACH) < 0 && errno != EINVAL && errno != ENOENT)
    berthd_log("umount `%s`: %s", merged, strerror(errno));
}

/* An exited container starts again on the same upper dir. */
static int reset_for_restart(struct container *c, berr_t *err) {
  char p[PATH_MAX];
  if (path_in(c, CTR_EXIT, p, err) < 0)
    return -1;
  if (unlink(p) < 0 && errno != ENOENT)
    return berr_sys(err, errno, "unlink `%s`", p);
  if (!c->spec.ns[NS_MNT])
    umount_merged(c);
  if (c->has_cg) {
    if (cgroup_destroy(&c->cg, err) < 0)
      return berr_wrap(err, "remove the previous run's cgroup");
    cgroup_free(&c->cg);
    c->has_cg = false;
  }
  c->has_exit_code = false;
  c->exit_code = 0;
  c->exit_signal[0] = c->exit_reason[0] = c->finished_at[0] = '\0';
  c->oom_killed = false;
  c->start_to_exit_us = -1;
  c->has_timeline = false;
  return 0;
}

/* runtime_start forked the monitor: on disk before anything else, so that a
 * berthd killed before the monitor's report finds this start (recover_start). */
static void on_monitor_forked(void *ctx, pid_t pid, uint64_t starttime) {
  struct container *c = ctx;
  c->starting_pid = pid;
  c->starting_starttime = starttime;
  berr_t err;
  if (save_state(c, &err) < 0)
    berthd_log("container %.12s: %s", c->spec.id, err.msg);
}

int ctr_start(struct ctr_store *st, struct container *c, int attach_fd,
              const struct term_size *term, int *ctl_fd, berr_t *err) {
  *ctl_fd = -1;
  if (c->status == ST_RUNNING)
    return berr_set(err, BERR_CONFLICT, "container %s is already running", c->spec.name);
  if (c->pidfd >= 0) {
    /* the previous run's monitor is still cleaning up (cgroup, mounts): let it finish */
    struct pollfd p = {.fd = c->pidfd, .events = POLLIN};
    if (poll(&p, 1, FORCE_REMOVE_WAIT_MS) <= 0)
      return berr_set(err, BERR_CONFLICT, "container %s: the previous run's monitor (pid %d) is still busy",
                      c->spec.name, (int)c->monitor_pid);
    reap_monitor(st, c);
  }
  if (c->status == ST_EXITED && reset_for_restart(c, err) < 0)
    return -1;
  if (usermounts_prepare(st->root, &c->spec, err) < 0)
    return -1;
  char start_report[PATH_MAX];
  if (path_in(c, CTR_START, start_report, err) < 0)
    return -1;
  /* a report of an earlier run must not pass for this one's (recover_start) */
  if (unlink(start_report) < 0 && errno != ENOENT)
    return berr_sys(err, errno, "unlink `%s`", start_report);
  struct runtime_opts opts = {.cg_env = st->cg_env,
                              .log_max_bytes = st->log_max_bytes,
                              .attach_fd = attach_fd,
                              .on_monitor = on_monitor_forked,
                              .on_monitor_ctx = c};
  if (term)
    opts.term = *term;
  struct start_result res;
  memset(&res, 0, sizeof res);
  struct net_attach na;
  if (net_prepare(&c->spec, c->dir, &na, err) < 0)
    return -1;
  opts.net = &na;
  int started = runtime_start(&c->spec, c->dir, &opts, &res, ctl_fd, err);
  c->starting_pid = 0;
  c->starting_starttime = 0;
  if (started < 0) {
    *ctl_fd = -1;
    berr_t e2;
    if (save_state(c, &e2) < 0) /* no start in flight any more */
      berthd_log("container %.12s: %s", c->spec.id, e2.msg);
    net_abort(&c->spec, &na);
    berthd_log("container %.12s (%s) failed to start: %s", c->spec.id, c->spec.name, err->msg);
    return -1;
  }
  c->status = ST_RUNNING;
  c->init_pid = res.init_pid;
  c->monitor_pid = res.monitor_pid;
  c->init_starttime = res.init_starttime;
  c->monitor_starttime = res.monitor_starttime;
  net_started(&c->spec, &na, res.init_pid);
  c->cg = res.cg; /* ours now */
  c->has_cg = true;
  memcpy(c->step_us, res.step_us, sizeof c->step_us);
  memcpy(c->step_at_us, res.step_at_us, sizeof c->step_at_us);
  c->has_timeline = true;
  c->requested = REQ_NONE;
  now_rfc3339(c->started_at);
  berr_t e2;
  if (save_state(c, &e2) < 0)
    berthd_log("container %.12s: %s", c->spec.id, e2.msg);
  if (watch_monitor(st, c, &e2) < 0)
    berthd_log("container %.12s: %s", c->spec.id, e2.msg);
  berthd_log("container %.12s (%s) started: init pid %d, monitor pid %d", c->spec.id, c->spec.name,
             (int)c->init_pid, (int)c->monitor_pid);
  events_emit("container", "start", c->spec.id);
  restart_on_start(c);
  return 0;
}

/* A paused container is thawed before it is signalled: a frozen process acts
 * on no signal until it thaws (docker stops and kills a paused one too). */
static int thaw_for_signal(struct container *c, berr_t *err) {
  if (!c->paused)
    return 0;
  if (c->has_cg && cgroup_freeze(&c->cg, false, err) < 0)
    return berr_wrap(err, "resume container %s to signal it", c->spec.name);
  c->paused = c->commit_paused = false;
  events_emit("container", "unpause", c->spec.id);
  return 0;
}

int ctr_pause(struct ctr_store *st, struct container *c, bool pause, berr_t *err) {
  (void)st;
  if (c->status != ST_RUNNING)
    return berr_set(err, BERR_CONFLICT, "container %s is not running", c->spec.name);
  if (c->paused == pause)
    return berr_set(err, BERR_CONFLICT, "container %s is %s", c->spec.name, pause ? "already paused" : "not paused");
  if (!c->has_cg)
    return berr_set(err, BERR_INTERNAL, "container %s has no cgroup recorded", c->spec.name);
  if (cgroup_freeze(&c->cg, pause, err) < 0)
    return berr_wrap(err, "%s container %s", pause ? "pause" : "resume", c->spec.name);
  c->paused = pause;
  c->commit_paused = false;
  berr_t e2;
  if (save_state(c, &e2) < 0)
    berthd_log("container %.12s: %s", c->spec.id, e2.msg);
  events_emit("container", pause ? "pause" : "unpause", c->spec.id);
  return 0;
}

bool ctr_is_paused(const struct container *c) { return c->status == ST_RUNNING && c->paused; }

int ctr_pause_for_commit(struct ctr_store *st, struct container *c, berr_t *err) {
  if (ctr_pause(st, c, true, err) < 0)
    return -1;
  c->commit_paused = true;
  berr_t e2;
  if (save_state(c, &e2) < 0)
    berthd_log("container %.12s: %s", c->spec.id, e2.msg);
  return 0;
}

void ctr_resume_after_commit(struct ctr_store *st, struct container *c) {
  berr_t err;
  /* resumed (or paused again) by someone meanwhile: theirs to keep */
  if (ctr_is_paused(c) && c->commit_paused && ctr_pause(st, c, false, &err) < 0)
    berthd_log("resume container %.12s after its commit: %s", c->spec.id, err.msg);
}

int ctr_stop(struct ctr_store *st, struct container *c, int64_t timeout_ms, berr_t *err) {
  if (c->status != ST_RUNNING)
    return 0;
  if (thaw_for_signal(c, err) < 0)
    return -1;
  if (c->requested != REQ_STOP) {
    c->requested = REQ_STOP;
    berr_t e2;
    if (save_state(c, &e2) < 0)
      berthd_log("container %.12s: %s", c->spec.id, e2.msg);
  }
  if (timeout_ms > 0 && signal_init(c, SIGTERM, err) < 0)
    return -1;
  if (timeout_ms <= 0) {
    if (signal_init(c, SIGKILL, err) < 0)
      return -1;
    kill_cgroup(c);
    return 0;
  }
  return timer_arm(st, c, timeout_ms, err);
}

int ctr_kill(struct ctr_store *st, struct container *c, int sig, berr_t *err) {
  (void)st;
  if (restart_user_stop(c) && !ctr_is_running(c))
    return 0; /* it was waiting for a restart: ending that is the kill */
  if (c->status != ST_RUNNING)
    return berr_set(err, BERR_CONFLICT, "container %s is not running", c->spec.name);
  if (thaw_for_signal(c, err) < 0)
    return -1;
  if (c->requested == REQ_NONE) {
    c->requested = REQ_KILL;
    berr_t e2;
    if (save_state(c, &e2) < 0)
      berthd_log("container %.12s: %s", c->spec.id, e2.msg);
  }
  if (signal_init(c, sig, err) < 0)
    return -1;
  /* without its own PID namespace the others would outlive init */
  if (sig == SIGKILL && !c->spec.ns[NS_PID])
    kill_cgroup(c);
  return 0;
}

/* Unmounts, removes the cgroup and the directory; frees c on success. */
static int destroy(struct ctr_store *st, struct container *c, berr_t *err) {
  c->removing = true;
  pidfd_close(st, c);
  timer_cancel(st, c);
  if (!c->spec.ns[NS_MNT])
    umount_merged(c);
  if (c->has_cg && cgroup_destroy(&c->cg, err) < 0) {
    c->removing = false;
    return berr_wrap(err, "remove container %.12s", c->spec.id);
  }
  if (rm_rf(c->dir, err) < 0) {
    c->removing = false;
    return berr_wrap(err, "remove container %.12s", c->spec.id);
  }
  berthd_log("container %.12s (%s) removed", c->spec.id, c->spec.name);
  events_emit("container", "remove", c->spec.id);
  unlink_container(st, c);
  if (c->remove_volumes || c->spec.auto_remove) /* docker's rm -v, and --rm */
    anonvol_remove(st, st->root, &c->spec);
  container_free(c);
  return 0;
}

int ctr_remove(struct ctr_store *st, struct container *c, bool force, bool volumes, berr_t *err) {
  if (c->status == ST_RUNNING) {
    if (!force)
      return berr_set(err, BERR_CONFLICT,
                      "container %s is running: stop it first, or remove it with force", c->spec.name);
    c->removing = true;
    if (c->requested == REQ_NONE)
      c->requested = REQ_KILL;
    if (signal_init(c, SIGKILL, err) < 0) {
      c->removing = false;
      return -1;
    }
    kill_cgroup(c);
    if (c->pidfd >= 0) {
      struct pollfd p = {.fd = c->pidfd, .events = POLLIN};
      int64_t deadline = mono_us() + FORCE_REMOVE_WAIT_MS * 1000;
      for (;;) {
        int left = (int)((deadline - mono_us()) / 1000);
        int r = left > 0 ? poll(&p, 1, left) : 0;
        if (r > 0)
          break;
        if (r < 0 && errno == EINTR)
          continue;
        c->removing = false;
        return berr_set(err, BERR_INTERNAL,
                        "container %s: its monitor (pid %d) did not exit within %d s of SIGKILL",
                        c->spec.name, (int)c->monitor_pid, FORCE_REMOVE_WAIT_MS / 1000);
      }
    }
    container_exited(st, c, true);
  }
  c->remove_volumes = volumes;
  if (destroy(st, c, err) < 0) { /* c is freed when it succeeds */
    c->remove_volumes = false;
    return -1;
  }
  return 0;
}

/* ---- views ------------------------------------------------------------------------ */

static json_object *namespaces_json(const struct container *c) {
  json_object *o = json_object_new_object();
  bool running = c->status == ST_RUNNING && c->init_pid > 0 &&
                 proc_starttime(c->init_pid) == c->init_starttime;
  for (int k = 0; k < NS_COUNT; k++) {
    json_object *e = json_object_new_object();
    bool isolated = c->spec.ns[k];
    json_object *inode = NULL, *host = NULL;
    if (running) {
      char p[64];
      struct stat a, b;
      snprintf(p, sizeof p, "/proc/%d/ns/%s", (int)c->init_pid, ns_name((enum ns_kind)k));
      bool ha = stat(p, &a) == 0;
      snprintf(p, sizeof p, "/proc/self/ns/%s", ns_name((enum ns_kind)k));
      bool hb = stat(p, &b) == 0;
      if (ha)
        inode = json_object_new_int64((int64_t)a.st_ino);
      if (hb)
        host = json_object_new_int64((int64_t)b.st_ino);
      if (ha && hb)
        isolated = a.st_ino != b.st_ino;
    }
    json_object_object_add(e, "isolated", json_object_new_boolean(isolated));
    json_object_object_add(e, "inode", inode);
    json_object_object_add(e, "hostInode", host);
    json_object_object_add(o, ns_keys[k], e);
  }
  return o;
}

json_object *ctr_info(struct ctr_store *st, const struct container *c, bool with_spec) {
  (void)st;
  json_object *o = json_object_new_object();
  char shortid[13];
  snprintf(shortid, sizeof shortid, "%.12s", c->spec.id);
  bool running = c->status == ST_RUNNING;
  json_object_object_add(o, "id", json_object_new_string(c->spec.id));
  json_object_object_add(o, "shortId", json_object_new_string(shortid));
  json_object_object_add(o, "name", json_object_new_string(c->spec.name));
  json_object_object_add(o, "image", json_object_new_string(c->spec.image_ref));
  json_object_object_add(o, "imageId", json_object_new_string(c->spec.image_id));
  json_object_object_add(o, "command", strv_to_json(c->spec.argv));
  json_object_object_add(o, "status", json_object_new_string(restart_pending(c) ? "restarting" : status_names[c->status]));
  /* docker's State.Paused: still running, its processes frozen */
  json_object_object_add(o, "paused", json_object_new_boolean(ctr_is_paused(c)));
  json_object_object_add(o, "created", str_or_null(c->created));
  json_object_object_add(o, "startedAt", str_or_null(c->started_at));
  json_object_object_add(o, "finishedAt", running ? NULL : str_or_null(c->finished_at));
  json_object_object_add(o, "pid", json_object_new_int64(running ? c->init_pid : 0));
  json_object_object_add(o, "monitorPid", json_object_new_int64(running ? c->monitor_pid : 0));
  bool exited = c->status == ST_EXITED;
  json_object_object_add(o, "exitCode", exited && c->has_exit_code ? json_object_new_int(c->exit_code) : NULL);
  json_object_object_add(o, "exitSignal", exited ? str_or_null(c->exit_signal) : NULL);
  json_object_object_add(o, "exitReason", exited ? str_or_null(c->exit_reason) : NULL);
  json_object_object_add(o, "oomKilled", json_object_new_boolean(exited && c->oom_killed));
  json_object_object_add(o, "autoRemove", json_object_new_boolean(c->spec.auto_remove));
  json_object_object_add(o, "tty", json_object_new_boolean(c->spec.tty));
  if (with_spec)
    json_object_object_add(o, "spec", spec_to_json(&c->spec));
  json_object *rootfs = json_object_new_object();
  json_object_object_add(rootfs, "lower", strv_to_json(c->spec.lowerdirs));
  static const char *const parts[] = {CTR_UPPER, CTR_WORK, CTR_MERGED};
  static const char *const keys[] = {"upper", "work", "merged"};
  for (int i = 0; i < 3; i++) {
    char p[PATH_MAX];
    snprintf(p, sizeof p, "%s/%s", c->dir, parts[i]);
    json_object_object_add(rootfs, keys[i], json_object_new_string(p));
  }
  json_object_object_add(o, "rootfs", rootfs);
  json_object_object_add(o, "cgroup", c->has_cg ? cgroup_to_json(&c->cg) : NULL);
  json_object_object_add(o, "namespaces", namespaces_json(c));
  json_object_object_add(o, "timeline", timeline_json(c));
  json_object_object_add(o, "startToExitUs",
                         exited && c->start_to_exit_us >= 0 ? json_object_new_int64(c->start_to_exit_us) : NULL);
  json_object_object_add(o, "mounts", usermounts_info(st->root, &c->spec));
  json_object_object_add(o, "restart", restart_to_json(c));
  json_object_object_add(o, "network", net_container_json(&c->spec, c->status == ST_RUNNING));
  json_object_object_add(o, "ports", net_ports_json(&c->spec));
  return o;
}

static int by_created_desc(const void *a, const void *b) {
  const struct container *x = *(struct container *const *)a, *y = *(struct container *const *)b;
  int r = strcmp(y->created, x->created);
  return r ? r : strcmp(x->spec.id, y->spec.id);
}

json_object *ctr_list(struct ctr_store *st, bool all) {
  for (struct container *c = st->list, *next; c; c = next) {
    next = c->next;
    refresh(st, c);
  }
  size_t n = 0;
  for (struct container *c = st->list; c; c = c->next)
    n++;
  json_object *arr = json_object_new_array();
  struct container **v = n ? calloc(n, sizeof *v) : NULL;
  if (n && !v)
    return arr;
  size_t i = 0;
  for (struct container *c = st->list; c; c = c->next)
    v[i++] = c;
  if (n)
    qsort(v, n, sizeof *v, by_created_desc);
  for (i = 0; i < n; i++)
    if (all || v[i]->status == ST_RUNNING || restart_pending(v[i]))
      json_object_array_add(arr, ctr_info(st, v[i], false));
  free(v);
  return arr;
}

static int need_running(const struct container *c, berr_t *err) {
  if (c->status != ST_RUNNING)
    return berr_set(err, BERR_CONFLICT, "container %s is not running", c->spec.name);
  if (!c->has_cg)
    return berr_set(err, BERR_INTERNAL, "container %s has no cgroup recorded", c->spec.name);
  return 0;
}

static json_object *limit_or_null(int64_t v) { return v >= 0 ? json_object_new_int64(v) : NULL; }

int ctr_stats(struct ctr_store *st, struct container *c, json_object **out, berr_t *err) {
  (void)st;
  if (need_running(c, err) < 0)
    return -1;
  struct cgroup_stats s;
  if (cgroup_stats(&c->cg, &s, err) < 0)
    return -1;
  char now[40];
  now_rfc3339(now);
  json_object *o = json_object_new_object();
  json_object_object_add(o, "id", json_object_new_string(c->spec.id));
  json_object_object_add(o, "time", json_object_new_string(now));
  json_object *mem = json_object_new_object();
  json_object_object_add(mem, "usage", json_object_new_int64(s.mem_usage));
  json_object_object_add(mem, "limit", limit_or_null(s.mem_limit));
  json_object_object_add(o, "memory", mem);
  json_object *cpu = json_object_new_object();
  json_object_object_add(cpu, "usageNs", json_object_new_int64(s.cpu_usage_ns));
  json_object_object_add(cpu, "quotaCpus",
                         s.cpu_quota_us > 0 && s.cpu_period_us > 0
                             ? json_object_new_double((double)s.cpu_quota_us / (double)s.cpu_period_us)
                             : NULL);
  json_object_object_add(o, "cpu", cpu);
  json_object *pids = json_object_new_object();
  json_object_object_add(pids, "current", json_object_new_int64(s.pids_current));
  json_object_object_add(pids, "limit", limit_or_null(s.pids_limit));
  json_object_object_add(o, "pids", pids);
  json_object_object_add(o, "oomKills", json_object_new_int64(s.oom_kills));
  *out = o;
  return 0;
}

int ctr_top(struct ctr_store *st, struct container *c, json_object **out, berr_t *err) {
  (void)st;
  if (need_running(c, err) < 0)
    return -1;
  return procs_list(&c->cg, out, err);
}

static const char *const exec_keys[] = {"ref", "cmd", "env", "workdir", "user", "tty", "stdin",
                                        "rows", "cols", NULL};

int ctr_exec(struct ctr_store *st, struct container *c, json_object *params, int client_fd,
             pid_t *pid, int *ctl_fd, berr_t *err) {
  (void)st;
  *ctl_fd = -1;
  if (param_check_keys(params, "container.exec", exec_keys, err) < 0 || need_running(c, err) < 0)
    return -1;
  if (proc_starttime(c->init_pid) != c->init_starttime)
    return berr_set(err, BERR_CONFLICT, "container %s is exiting", c->spec.name);
  /* a process joining a frozen cgroup freezes too: it would hang */
  if (c->paused)
    return berr_set(err, BERR_CONFLICT, "container %s is paused; unpause it first", c->spec.name);
  struct exec_spec ex;
  memset(&ex, 0, sizeof ex);
  const char *workdir, *user;
  char **env_req = NULL;
  int r = -1;
  json_object *env = NULL;
  if (param_strv_limited(params, "cmd", &ex.argv, err) < 0 || param_strv_limited(params, "env", &env_req, err) < 0 ||
      param_string(params, "workdir", false, &workdir, err) < 0 ||
      param_string(params, "user", false, &user, err) < 0 ||
      param_bool(params, "tty", false, &ex.tty, err) < 0 ||
      param_bool(params, "stdin", false, &ex.open_stdin, err) < 0 ||
      term_size_param(params, &ex.term, err) < 0)
    goto out;
  if (!ex.argv || !ex.argv[0] || !ex.argv[0][0]) {
    berr_set(err, BERR_INVALID, "`cmd` must be a non-empty array of strings");
    goto out;
  }
  env = json_object_new_array();
  for (size_t i = 0; c->spec.env[i]; i++)
    env_set(env, c->spec.env[i], false);
  for (size_t i = 0; env_req && env_req[i]; i++) {
    const char *eq = strchr(env_req[i], '=');
    if (!eq || eq == env_req[i]) {
      berr_set(err, BERR_INVALID, "environment entry '%.64s' must be KEY=VALUE", env_req[i]);
      goto out;
    }
    env_set(env, env_req[i], false);
  }
  if (ex.tty)
    env_set(env, "TERM=xterm", true);
  if (strv_from_json(env, &ex.env, "env", err) < 0)
    goto out;
  if (workdir && workdir[0] && workdir[0] != '/') {
    berr_set(err, BERR_INVALID, "workdir '%.200s' must be an absolute path", workdir);
    goto out;
  }
  ex.workdir = (char *)(workdir && workdir[0] ? workdir : c->spec.workdir);
  ex.uid = c->spec.uid;
  ex.gid = c->spec.gid;
  snprintf(ex.user_name, sizeof ex.user_name, "%s", c->spec.user_name);
  if (user && user[0]) {
    /* the spec parser owns the uid[:gid] rules */
    json_object *probe = spec_to_json(&c->spec);
    json_object_object_add(probe, "user", json_object_new_string(user));
    struct container_spec tmp;
    int pr = spec_from_json(&tmp, probe, err);
    json_object_put(probe);
    if (pr < 0)
      goto out;
    ex.uid = tmp.uid;
    ex.gid = tmp.gid;
    snprintf(ex.user_name, sizeof ex.user_name, "%s", tmp.user_name);
    spec_free(&tmp);
  }
  r = runtime_exec(&c->spec, c->init_pid, &c->cg, &ex, client_fd, pid, ctl_fd, err);
  if (r < 0)
    *ctl_fd = -1;
out:
  json_object_put(env);
  strv_free(ex.argv);
  strv_free(ex.env);
  strv_free(env_req);
  return r;
}

int ctr_logs(struct ctr_store *st, struct container *c, bool follow, long tail, int client_fd,
             int *ctl_fd, berr_t *err) {
  (void)st;
  *ctl_fd = -1;
  if (runtime_logs(c->dir, client_fd, follow, tail, ctl_fd, err) < 0) {
    *ctl_fd = -1;
    return -1;
  }
  return 0;
}
