#include "daemon.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "blob.h"
#include "cgroup.h"
#include "commit.h"
#include "container.h"
#include "copy.h"
#include "events.h"
#include "image.h"
#include "layerfacts.h"
#include "layers-walk.h"
#include "network.h"
#include "peer.h"
#include "protocol.h"
#include "runtime.h"
#include "server.h"
#include "util.h"
#include "worker.h"
#include "restart.h"
#include "usermounts.h"
#include "userpath.h"
#include "volume-methods.h"

struct daemon {
  const struct daemon_opts *opts;
  struct cgroup_env cg_env;
  struct server *srv;
  struct ctr_store *store;
};

/* One request being answered. */
struct call {
  struct daemon *d;
  struct conn *conn;
  json_object *id;
  json_object *params;
};

/* A handler's outcome: a result to send, an error, or "already answered"
 * (a parked reply, or a connection handed over to a stream). */
enum outcome { REPLY, FAIL, DONE };

typedef enum outcome (*method_fn)(struct call *c, json_object **result, berr_t *err);

/* ---- helpers -------------------------------------------------------------------- */

static enum outcome check_keys(struct call *c, const char *method, const char *const *keys,
                               berr_t *err) {
  return param_check_keys(c->params, method, keys, err) < 0 ? FAIL : REPLY;
}

static int find(struct call *c, struct container **out, berr_t *err) {
  const char *ref;
  if (param_string(c->params, "ref", true, &ref, err) < 0)
    return -1;
  return ctr_find(c->d->store, ref, out, err);
}

/* Sends the reply that opens a stream, lets the child go ahead, and forgets
 * the connection: from here on it belongs to the child. */
static enum outcome hand_over(struct call *c, json_object *result, int ctl_fd) {
  json_object_object_add(result, "stream", json_object_new_boolean(true));
  berr_t e;
  if (conn_send_sync(c->conn, proto_reply_ok(c->id, result), &e) < 0)
    berthd_log("stream reply: %s", e.msg);
  runtime_release(ctl_fd);
  conn_release(c->conn);
  return DONE;
}

struct parked {
  struct daemon *d;
  uint64_t conn_id;
  json_object *id;
};

static void parked_fire(void *ctx, struct ctr_store *st, struct container *ctr) {
  struct parked *p = ctx;
  struct conn *conn = ctr ? server_conn(p->d->srv, p->conn_id) : NULL;
  if (conn)
    conn_send(conn, proto_reply_ok(p->id, ctr_info(st, ctr, true)));
  json_object_put(p->id);
  free(p);
}

static enum outcome park(struct call *c, struct container *ctr, berr_t *err) {
  struct parked *p = calloc(1, sizeof *p);
  if (!p) {
    berr_sys(err, ENOMEM, "park a reply");
    return FAIL;
  }
  p->d = c->d;
  p->conn_id = conn_id(c->conn);
  p->id = json_object_get(c->id);
  if (ctr_on_exit(ctr, parked_fire, p, err) < 0) {
    json_object_put(p->id);
    free(p);
    return FAIL;
  }
  return DONE;
}

/* ---- methods -------------------------------------------------------------------- */

/* The handshake: whatever the client says about itself in params is fine. */
static enum outcome m_hello(struct call *c, json_object **result, berr_t *err) {
  (void)err;
  json_object *o = json_object_new_object();
  json_object_object_add(o, "protocol", json_object_new_int(PROTO_VERSION));
  json_object_object_add(o, "version", json_object_new_string(BERTHD_VERSION));
  json_object_object_add(o, "pid", json_object_new_int64(getpid()));
  json_object_object_add(o, "root", json_object_new_string(c->d->opts->root));
  json_object_object_add(o, "cgroup", cgroup_env_to_json(&c->d->cg_env));
  *result = o;
  return REPLY;
}

static enum outcome m_image_list(struct call *c, json_object **result, berr_t *err) {
  static const char *const keys[] = {NULL};
  if (check_keys(c, "image.list", keys, err) == FAIL)
    return FAIL;
  return image_list(c->d->opts->root, result, err) < 0 ? FAIL : REPLY;
}

static enum outcome m_image_inspect(struct call *c, json_object **result, berr_t *err) {
  static const char *const keys[] = {"ref", NULL};
  const char *ref;
  if (check_keys(c, "image.inspect", keys, err) == FAIL ||
      param_string(c->params, "ref", true, &ref, err) < 0)
    return FAIL;
  return image_inspect(c->d->opts->root, ref, result, err) < 0 ? FAIL : REPLY;
}

/* Refuses an output path that exists, as the client sees it (with its
 * permissions: berthd does not tell it about files it cannot see). */
static int output_path_free(struct call *c, const char *method, const char *path, berr_t *err) {
  struct peer_id who;
  struct stat st;
  if (peer_id_from_socket(conn_fd(c->conn), &who, err) < 0)
    return -1;
  if (userpath_lstat(&who, path, &st) == 0)
    return berr_set(err, BERR_CONFLICT, "%s: `%s` exists; give a new path", method, path);
  if (errno != ENOENT)
    return userpath_error(err, &who, errno, "write", path);
  return 0;
}

/* What a worker gets: the daemon (a copy, read-only in the child) and the
 * request's params. */
struct work {
  struct daemon *d;
  json_object *params;
};

/* Hands the request to a forked worker (worker.h) running fn. */
static enum outcome spawn_worker(struct call *c, worker_fn fn, berr_t *err) {
  static struct work w; /* read in the child only, right after the fork */
  w.d = c->d;
  w.params = c->params;
  return worker_spawn(c->conn, c->id, fn, &w, err) < 0 ? FAIL : DONE;
}

/* image_progress_fn for a worker: PROGRESS frames to its client. */
static int worker_image_progress(void *ctx, json_object *ev, berr_t *err) {
  return worker_progress(ctx, ev, err);
}

static int w_image_import(struct worker *wk, void *arg, json_object **result, berr_t *err) {
  struct work *w = arg;
  const char *path, *ref, *format;
  json_object *config;
  if (param_string(w->params, "path", true, &path, err) < 0 ||
      param_string(w->params, "ref", false, &ref, err) < 0 ||
      param_string(w->params, "format", false, &format, err) < 0 ||
      param_object(w->params, "config", &config, err) < 0)
    return -1;
  return image_import(w->d->opts->root, path, format, ref, config, worker_image_progress, wk, result, err);
}

static enum outcome m_image_import(struct call *c, json_object **result, berr_t *err) {
  static const char *const keys[] = {"path", "format", "ref", "config", NULL};
  static const char *const formats[] = {"auto", "oci", "oci-archive", "docker-archive", "rootfs", NULL};
  const char *path, *format, *ref;
  json_object *config;
  (void)result;
  if (check_keys(c, "image.import", keys, err) == FAIL ||
      param_string(c->params, "path", true, &path, err) < 0 ||
      param_string(c->params, "format", false, &format, err) < 0 ||
      param_string(c->params, "ref", false, &ref, err) < 0 ||
      param_object(c->params, "config", &config, err) < 0)
    return FAIL;
  bool known = !format;
  for (size_t i = 0; format && formats[i]; i++)
    known |= !strcmp(format, formats[i]);
  if (!known) {
    berr_set(err, BERR_INVALID,
             "image.import: unknown format \"%.32s\" (auto, oci, oci-archive, docker-archive or rootfs)", format);
    return FAIL;
  }
  if (path[0] != '/') {
    berr_set(err, BERR_BAD_REQUEST, "image.import: `path` must be an absolute path on the helper's machine");
    return FAIL;
  }
  return spawn_worker(c, w_image_import, err);
}

static int w_image_save(struct worker *wk, void *arg, json_object **result, berr_t *err) {
  struct work *w = arg;
  const char *path;
  char **refs = NULL;
  if (param_string(w->params, "path", true, &path, err) < 0 || param_strv(w->params, "refs", &refs, err) < 0)
    return -1;
  int r = image_save(w->d->opts->root, (const char *const *)refs, path, worker_image_progress, wk, result, err);
  strv_free(refs);
  return r;
}

static enum outcome m_image_save(struct call *c, json_object **result, berr_t *err) {
  static const char *const keys[] = {"refs", "path", "format", NULL};
  const char *path, *format;
  char **refs = NULL;
  (void)result;
  if (check_keys(c, "image.save", keys, err) == FAIL ||
      param_string(c->params, "path", true, &path, err) < 0 ||
      param_string(c->params, "format", false, &format, err) < 0 ||
      param_strv(c->params, "refs", &refs, err) < 0)
    return FAIL;
  size_t n = strv_len(refs);
  strv_free(refs);
  if (format && strcmp(format, "oci-archive")) {
    berr_set(err, BERR_INVALID, "image.save: unknown format \"%.32s\" (oci-archive)", format);
    return FAIL;
  }
  if (n == 0) {
    berr_set(err, BERR_BAD_REQUEST, "image.save: `refs` must name at least one image");
    return FAIL;
  }
  if (path[0] != '/') {
    berr_set(err, BERR_BAD_REQUEST, "image.save: `path` must be an absolute path on the helper's machine");
    return FAIL;
  }
  if (output_path_free(c, "image.save", path, err) < 0)
    return FAIL;
  return spawn_worker(c, w_image_save, err);
}

static enum outcome m_image_tag(struct call *c, json_object **result, berr_t *err) {
  static const char *const keys[] = {"ref", "target", NULL};
  const char *ref, *target;
  if (check_keys(c, "image.tag", keys, err) == FAIL || param_string(c->params, "ref", true, &ref, err) < 0 ||
      param_string(c->params, "target", true, &target, err) < 0)
    return FAIL;
  return image_tag(c->d->opts->root, ref, target, result, err) < 0 ? FAIL : REPLY;
}

static enum outcome m_image_prune(struct call *c, json_object **result, berr_t *err) {
  static const char *const keys[] = {"all", NULL};
  bool all;
  if (check_keys(c, "image.prune", keys, err) == FAIL || param_bool(c->params, "all", false, &all, err) < 0)
    return FAIL;
  return image_prune(c->d->opts->root, all, ctr_image_in_use, c->d->store, result, err) < 0 ? FAIL : REPLY;
}

/* ---- registry pulls (blob.c, blob-fetch.c): the client resolves, berthd fetches (or is
 * sent the bytes), verifies and stores */
static enum outcome m_image_blob_stat(struct call *c, json_object **result, berr_t *err) {
  return blob_stat(c->d->opts->root, c->params, result, err) < 0 ? FAIL : REPLY;
}

static struct blob_put_req put_req; /* read in the worker only, right after the fork */

static int w_image_blob_put(struct worker *wk, void *arg, json_object **result, berr_t *err) {
  struct work *w = arg;
  return blob_put(wk, w->d->opts->root, &put_req, result, err);
}

static enum outcome m_image_blob_put(struct call *c, json_object **result, berr_t *err) {
  (void)result;
  if (blob_put_parse(c->params, &put_req, err) < 0)
    return FAIL;
  return spawn_worker(c, w_image_blob_put, err);
}

static struct blob_fetch_req fetch_req; /* read in the worker only, right after the fork */

static int w_image_blob_fetch(struct worker *wk, void *arg, json_object **result, berr_t *err) {
  struct work *w = arg;
  return blob_fetch(wk, w->d->opts->root, &fetch_req, result, err);
}

static enum outcome m_image_blob_fetch(struct call *c, json_object **result, berr_t *err) {
  (void)result;
  if (blob_fetch_parse(c->params, &fetch_req, err) < 0)
    return FAIL;
  return spawn_worker(c, w_image_blob_fetch, err);
}

static int w_image_lease(struct worker *wk, void *arg, json_object **result, berr_t *err) {
  struct work *w = arg;
  return blob_lease_hold(wk, w->d->opts->root, result, err);
}

static enum outcome m_image_lease(struct call *c, json_object **result, berr_t *err) {
  static const char *const keys[] = {NULL};
  (void)result;
  if (check_keys(c, "image.lease", keys, err) == FAIL)
    return FAIL;
  return spawn_worker(c, w_image_lease, err);
}

static enum outcome m_image_create(struct call *c, json_object **result, berr_t *err) {
  return blob_image_create(c->d->opts->root, c->params, result, err) < 0 ? FAIL : REPLY;
}

static enum outcome m_image_remove(struct call *c, json_object **result, berr_t *err) {
  static const char *const keys[] = {"ref", "force", NULL};
  const char *ref;
  bool force;
  if (check_keys(c, "image.remove", keys, err) == FAIL ||
      param_string(c->params, "ref", true, &ref, err) < 0 ||
      param_bool(c->params, "force", false, &force, err) < 0)
    return FAIL;
  return image_remove(c->d->opts->root, ref, force, ctr_image_in_use, c->d->store, result, err) < 0
             ? FAIL
             : REPLY;
}

static enum outcome m_create(struct call *c, json_object **result, berr_t *err) {
  struct container *ctr;
  if (ctr_create(c->d->store, c->params, false, &ctr, err) < 0)
    return FAIL;
  *result = ctr_info(c->d->store, ctr, true);
  return REPLY;
}

static enum outcome start(struct call *c, struct container *ctr, bool attach, const struct term_size *term,
                          bool remove_on_fail, json_object **result, berr_t *err) {
  int ctl = -1;
  if (ctr_start(c->d->store, ctr, attach ? conn_fd(c->conn) : -1, term, &ctl, err) < 0) {
    if (remove_on_fail) {
      berr_t e2;
      /* nothing of it is left: its anonymous volumes are new too */
      if (ctr_remove(c->d->store, ctr, true, true, &e2) < 0)
        berthd_log("removing a container that failed to start: %s", e2.msg);
    }
    return FAIL;
  }
  json_object *info = ctr_info(c->d->store, ctr, true);
  if (attach)
    return hand_over(c, info, ctl);
  runtime_release(ctl);
  *result = info;
  return REPLY;
}

static enum outcome m_start(struct call *c, json_object **result, berr_t *err) {
  static const char *const keys[] = {"ref", "attach", "rows", "cols", NULL};
  struct container *ctr;
  struct term_size term;
  bool attach;
  if (check_keys(c, "container.start", keys, err) == FAIL ||
      param_bool(c->params, "attach", false, &attach, err) < 0 || term_size_param(c->params, &term, err) < 0 ||
      find(c, &ctr, err) < 0)
    return FAIL;
  return start(c, ctr, attach, &term, false, result, err);
}

static enum outcome m_run(struct call *c, json_object **result, berr_t *err) {
  struct container *ctr;
  struct term_size term;
  bool attach;
  /* everything that can be refused before the container exists */
  if (param_bool(c->params, "attach", false, &attach, err) < 0 || term_size_param(c->params, &term, err) < 0 ||
      ctr_create(c->d->store, c->params, true, &ctr, err) < 0)
    return FAIL;
  return start(c, ctr, attach, &term, true, result, err);
}

static enum outcome m_stop(struct call *c, json_object **result, berr_t *err) {
  static const char *const keys[] = {"ref", "timeout", NULL};
  struct container *ctr;
  double timeout;
  if (check_keys(c, "container.stop", keys, err) == FAIL ||
      param_number(c->params, "timeout", 10, &timeout, NULL, err) < 0 || find(c, &ctr, err) < 0)
    return FAIL;
  if (timeout < 0 || timeout > 86400) {
    berr_set(err, BERR_INVALID, "`timeout` is %g; it must be 0..86400 seconds", timeout);
    return FAIL;
  }
  restart_user_stop(ctr); /* a stop by the user ends the restart policy's restarts */
  if (!ctr_is_running(ctr)) {
    *result = ctr_info(c->d->store, ctr, true);
    return REPLY;
  }
  if (ctr_stop(c->d->store, ctr, (int64_t)(timeout * 1000), err) < 0)
    return FAIL;
  return park(c, ctr, err);
}

static enum outcome m_kill(struct call *c, json_object **result, berr_t *err) {
  static const char *const keys[] = {"ref", "signal", NULL};
  struct container *ctr;
  int sig;
  if (check_keys(c, "container.kill", keys, err) == FAIL ||
      ctr_parse_signal(json_object_object_get(c->params, "signal"), &sig, err) < 0 ||
      find(c, &ctr, err) < 0 || ctr_kill(c->d->store, ctr, sig, err) < 0)
    return FAIL;
  *result = ctr_info(c->d->store, ctr, false);
  return REPLY;
}

static enum outcome pause_method(struct call *c, const char *method, bool pause, json_object **result, berr_t *err) {
  static const char *const keys[] = {"ref", NULL};
  struct container *ctr;
  if (check_keys(c, method, keys, err) == FAIL || find(c, &ctr, err) < 0 || ctr_pause(c->d->store, ctr, pause, err) < 0)
    return FAIL;
  *result = ctr_info(c->d->store, ctr, false);
  return REPLY;
}

static enum outcome m_pause(struct call *c, json_object **result, berr_t *err) {
  return pause_method(c, "container.pause", true, result, err);
}

static enum outcome m_unpause(struct call *c, json_object **result, berr_t *err) {
  return pause_method(c, "container.unpause", false, result, err);
}

static enum outcome m_remove(struct call *c, json_object **result, berr_t *err) {
  static const char *const keys[] = {"ref", "force", "volumes", NULL};
  struct container *ctr;
  bool force, volumes;
  if (check_keys(c, "container.remove", keys, err) == FAIL ||
      param_bool(c->params, "force", false, &force, err) < 0 ||
      param_bool(c->params, "volumes", false, &volumes, err) < 0 || find(c, &ctr, err) < 0)
    return FAIL;
  char id[65];
  snprintf(id, sizeof id, "%s", ctr_id(ctr));
  if (ctr_remove(c->d->store, ctr, force, volumes, err) < 0)
    return FAIL;
  *result = json_object_new_object();
  json_object_object_add(*result, "id", json_object_new_string(id));
  return REPLY;
}

static enum outcome m_list(struct call *c, json_object **result, berr_t *err) {
  static const char *const keys[] = {"all", NULL};
  bool all;
  if (check_keys(c, "container.list", keys, err) == FAIL ||
      param_bool(c->params, "all", false, &all, err) < 0)
    return FAIL;
  *result = json_object_new_object();
  json_object_object_add(*result, "containers", ctr_list(c->d->store, all));
  return REPLY;
}

static enum outcome m_inspect(struct call *c, json_object **result, berr_t *err) {
  static const char *const keys[] = {"ref", NULL};
  struct container *ctr;
  if (check_keys(c, "container.inspect", keys, err) == FAIL || find(c, &ctr, err) < 0)
    return FAIL;
  *result = ctr_info(c->d->store, ctr, true);
  return REPLY;
}

static enum outcome m_wait(struct call *c, json_object **result, berr_t *err) {
  static const char *const keys[] = {"ref", NULL};
  struct container *ctr;
  if (check_keys(c, "container.wait", keys, err) == FAIL || find(c, &ctr, err) < 0)
    return FAIL;
  if (!ctr_is_running(ctr)) {
    *result = ctr_info(c->d->store, ctr, true);
    return REPLY;
  }
  return park(c, ctr, err);
}

static enum outcome m_exec(struct call *c, json_object **result, berr_t *err) {
  struct container *ctr;
  pid_t pid = 0;
  int ctl = -1;
  (void)result;
  if (find(c, &ctr, err) < 0 ||
      ctr_exec(c->d->store, ctr, c->params, conn_fd(c->conn), &pid, &ctl, err) < 0)
    return FAIL;
  json_object *o = json_object_new_object();
  json_object_object_add(o, "pid", json_object_new_int64(pid));
  return hand_over(c, o, ctl);
}

static enum outcome m_logs(struct call *c, json_object **result, berr_t *err) {
  static const char *const keys[] = {"ref", "follow", "tail", NULL};
  struct container *ctr;
  bool follow;
  int64_t tail;
  int ctl = -1;
  (void)result;
  if (check_keys(c, "container.logs", keys, err) == FAIL ||
      param_bool(c->params, "follow", false, &follow, err) < 0 ||
      param_int(c->params, "tail", -1, 0, INT32_MAX, &tail, NULL, err) < 0 || find(c, &ctr, err) < 0 ||
      ctr_logs(c->d->store, ctr, follow, (long)tail, conn_fd(c->conn), &ctl, err) < 0)
    return FAIL;
  return hand_over(c, json_object_new_object(), ctl);
}

static enum outcome m_stats(struct call *c, json_object **result, berr_t *err) {
  static const char *const keys[] = {"ref", NULL};
  struct container *ctr;
  if (check_keys(c, "container.stats", keys, err) == FAIL || find(c, &ctr, err) < 0)
    return FAIL;
  return ctr_stats(c->d->store, ctr, result, err) < 0 ? FAIL : REPLY;
}

static enum outcome m_top(struct call *c, json_object **result, berr_t *err) {
  static const char *const keys[] = {"ref", NULL};
  struct container *ctr;
  if (check_keys(c, "container.top", keys, err) == FAIL || find(c, &ctr, err) < 0)
    return FAIL;
  return ctr_top(c->d->store, ctr, result, err) < 0 ? FAIL : REPLY;
}

/* ---- layer facts, commit, export (layerfacts.h, commit.h) ---------------------- */

static enum outcome m_image_layers(struct call *c, json_object **result, berr_t *err) {
  static const char *const keys[] = {"ref", NULL};
  const char *ref;
  if (check_keys(c, "image.layers", keys, err) == FAIL ||
      param_string(c->params, "ref", true, &ref, err) < 0)
    return FAIL;
  int r = facts_image_layers_cached(c->d->opts->root, ref, result, err);
  if (r <= 0)
    return r < 0 ? FAIL : REPLY;
  /* the first walk of an image: in a child, the reply parked until it ends */
  return layers_walk_start(c->d->srv, c->conn, c->id, c->d->opts->root, ref, err) < 0 ? FAIL : DONE;
}

static int tree_params(struct call *c, const char **path, int64_t *offset, int64_t *limit, berr_t *err) {
  if (param_string(c->params, "path", false, path, err) < 0 ||
      param_int(c->params, "offset", 0, 0, INT32_MAX, offset, NULL, err) < 0 ||
      param_int(c->params, "limit", FACTS_TREE_DEFAULT_LIMIT, 1, FACTS_TREE_MAX_LIMIT, limit, NULL, err) < 0)
    return -1;
  return 0;
}

static enum outcome m_image_tree(struct call *c, json_object **result, berr_t *err) {
  static const char *const keys[] = {"ref", "layer", "path", "offset", "limit", NULL};
  const char *ref, *path;
  int64_t layer, offset, limit;
  bool given;
  if (check_keys(c, "image.tree", keys, err) == FAIL ||
      param_string(c->params, "ref", true, &ref, err) < 0 ||
      param_int(c->params, "layer", 0, 0, INT32_MAX, &layer, &given, err) < 0 ||
      tree_params(c, &path, &offset, &limit, err) < 0)
    return FAIL;
  if (!given) {
    berr_set(err, BERR_BAD_REQUEST, "image.tree: `layer` (the layer's index, base 0) is required");
    return FAIL;
  }
  return facts_image_tree(c->d->opts->root, ref, layer, path, offset, limit, result, err) < 0 ? FAIL : REPLY;
}

/* A container's overlay dirs, from its ContainerInfo. */
struct ctr_dirs {
  json_object *info;
  const char *upper, *image_id;
  char **lowers;
};

static void ctr_dirs_free(struct ctr_dirs *d) {
  strv_free(d->lowers);
  json_object_put(d->info);
  memset(d, 0, sizeof *d);
}

static int ctr_dirs_of(struct ctr_store *st, const char *ref, struct ctr_dirs *d, berr_t *err) {
  memset(d, 0, sizeof *d);
  struct container *ctr;
  if (ctr_find(st, ref, &ctr, err) < 0)
    return -1;
  d->info = ctr_info(st, ctr, false);
  json_object *rootfs = json_object_object_get(d->info, "rootfs");
  json_object *upper = rootfs ? json_object_object_get(rootfs, "upper") : NULL;
  json_object *image = json_object_object_get(d->info, "imageId");
  if (!upper || !image || strv_from_json(json_object_object_get(rootfs, "lower"), &d->lowers, "lower", err) < 0) {
    ctr_dirs_free(d);
    return berr_set(err, BERR_INTERNAL, "container %.12s has no overlay dirs on record", ref);
  }
  d->upper = json_object_get_string(upper);
  d->image_id = json_object_get_string(image);
  return 0;
}

static enum outcome m_container_diff(struct call *c, json_object **result, berr_t *err) {
  static const char *const keys[] = {"ref", NULL};
  const char *ref;
  struct ctr_dirs d;
  if (check_keys(c, "container.diff", keys, err) == FAIL ||
      param_string(c->params, "ref", true, &ref, err) < 0 || ctr_dirs_of(c->d->store, ref, &d, err) < 0)
    return FAIL;
  int r = facts_container_diff(d.upper, d.lowers, result, err);
  ctr_dirs_free(&d);
  return r < 0 ? FAIL : REPLY;
}

static enum outcome m_container_tree(struct call *c, json_object **result, berr_t *err) {
  static const char *const keys[] = {"ref", "path", "offset", "limit", NULL};
  const char *ref, *path;
  int64_t offset, limit;
  struct ctr_dirs d;
  if (check_keys(c, "container.tree", keys, err) == FAIL ||
      param_string(c->params, "ref", true, &ref, err) < 0 || tree_params(c, &path, &offset, &limit, err) < 0 ||
      ctr_dirs_of(c->d->store, ref, &d, err) < 0)
    return FAIL;
  int r = facts_tree(d.upper, d.lowers, path, offset, limit, result, err);
  ctr_dirs_free(&d);
  return r < 0 ? FAIL : REPLY;
}

static int worker_progress_cb(void *ctx, json_object *ev, berr_t *err) {
  return worker_progress(ctx, ev, err);
}

static int w_container_commit(struct worker *wk, void *arg, json_object **result, berr_t *err) {
  struct work *w = arg;
  const char *ref, *image, *message, *author;
  json_object *config;
  struct ctr_dirs d;
  if (param_string(w->params, "ref", true, &ref, err) < 0 ||
      param_string(w->params, "image", false, &image, err) < 0 ||
      param_string(w->params, "message", false, &message, err) < 0 ||
      param_string(w->params, "author", false, &author, err) < 0 ||
      param_object(w->params, "config", &config, err) < 0 || ctr_dirs_of(w->d->store, ref, &d, err) < 0)
    return -1;
  struct commit_request req = {.image_id = d.image_id, .upper = d.upper, .ref = image,
                               .message = message, .author = author, .config = config};
  int r = commit_container(w->d->opts->root, &req, result, worker_progress_cb, wk, err);
  ctr_dirs_free(&d);
  return r;
}

/* A running container is paused while its commit reads its upper dir (as
 * docker commit does by default), and resumed when the commit's worker ends. */
#define MAX_COMMIT_PAUSES 64
static struct {
  pid_t pid;
  char id[65];
} commit_pauses[MAX_COMMIT_PAUSES];

static bool note_commit_pause(pid_t pid, const char *id) {
  for (int i = 0; i < MAX_COMMIT_PAUSES; i++)
    if (!commit_pauses[i].pid) {
      commit_pauses[i].pid = pid;
      snprintf(commit_pauses[i].id, sizeof commit_pauses[i].id, "%s", id);
      return true;
    }
  return false;
}

static void resume_after_commit(struct daemon *d, pid_t pid) {
  for (int i = 0; i < MAX_COMMIT_PAUSES; i++) {
    if (commit_pauses[i].pid != pid)
      continue;
    struct container *ctr;
    berr_t err;
    if (ctr_find(d->store, commit_pauses[i].id, &ctr, &err) == 0) /* not removed meanwhile */
      ctr_resume_after_commit(d->store, ctr);
    commit_pauses[i].pid = 0;
    return;
  }
}

static enum outcome m_container_commit(struct call *c, json_object **result, berr_t *err) {
  static const char *const keys[] = {"ref", "image", "message", "author", "config", "pause", NULL};
  const char *ref, *image, *message, *author;
  json_object *config;
  struct container *ctr;
  bool pause;
  (void)result;
  if (check_keys(c, "container.commit", keys, err) == FAIL ||
      param_string(c->params, "ref", true, &ref, err) < 0 ||
      param_string(c->params, "image", false, &image, err) < 0 ||
      param_string(c->params, "message", false, &message, err) < 0 ||
      param_string(c->params, "author", false, &author, err) < 0 ||
      param_object(c->params, "config", &config, err) < 0 || param_bool(c->params, "pause", true, &pause, err) < 0 ||
      ctr_find(c->d->store, ref, &ctr, err) < 0 || commit_check_params(image, config, err) < 0)
    return FAIL;
  if ((message && strlen(message) > 65536) || (author && strlen(author) > 1024)) {
    berr_set(err, BERR_INVALID, "container.commit: `message` is at most 65536 bytes, `author` 1024");
    return FAIL;
  }
  bool paused_here = pause && ctr_is_running(ctr) && !ctr_is_paused(ctr);
  if (paused_here && ctr_pause_for_commit(c->d->store, ctr, err) < 0)
    return FAIL;
  char id[65];
  snprintf(id, sizeof id, "%s", ctr_id(ctr));
  enum outcome o = spawn_worker(c, w_container_commit, err);
  if (paused_here && (o == FAIL || !note_commit_pause(worker_last_pid(), id))) {
    /* no worker, or no room to remember it: resume now */
    ctr_resume_after_commit(c->d->store, ctr);
  }
  return o;
}

static int w_container_export(struct worker *wk, void *arg, json_object **result, berr_t *err) {
  struct work *w = arg;
  const char *ref, *path;
  struct ctr_dirs d;
  if (param_string(w->params, "ref", true, &ref, err) < 0 ||
      param_string(w->params, "path", true, &path, err) < 0 || ctr_dirs_of(w->d->store, ref, &d, err) < 0)
    return -1;
  int r = export_rootfs(w->d->opts->root, d.lowers, d.upper, path, result, worker_progress_cb, wk, err);
  ctr_dirs_free(&d);
  return r;
}

static enum outcome m_container_export(struct call *c, json_object **result, berr_t *err) {
  static const char *const keys[] = {"ref", "path", NULL};
  const char *ref, *path;
  struct container *ctr;
  (void)result;
  if (check_keys(c, "container.export", keys, err) == FAIL ||
      param_string(c->params, "ref", true, &ref, err) < 0 ||
      param_string(c->params, "path", true, &path, err) < 0 || ctr_find(c->d->store, ref, &ctr, err) < 0)
    return FAIL;
  if (path[0] != '/') {
    berr_set(err, BERR_BAD_REQUEST, "container.export: `path` must be an absolute path on the helper's machine");
    return FAIL;
  }
  if (output_path_free(c, "container.export", path, err) < 0)
    return FAIL;
  return spawn_worker(c, w_container_export, err);
}

/* ---- berth cp (copy.c) --------------------------------------------------------- */

/* Where a copy goes: a running container's init, else its overlay dirs. */
static int copy_target_of(struct daemon *d, const char *ref, struct ctr_dirs *dirs, struct copy_target *t,
                          berr_t *err) {
  memset(t, 0, sizeof *t);
  if (ctr_dirs_of(d->store, ref, dirs, err) < 0)
    return -1;
  json_object *status = json_object_object_get(dirs->info, "status");
  json_object *rootfs = json_object_object_get(dirs->info, "rootfs");
  json_object *work = rootfs ? json_object_object_get(rootfs, "work") : NULL;
  if (status && !strcmp(json_object_get_string(status), "running"))
    t->pid = (pid_t)json_object_get_int(json_object_object_get(dirs->info, "pid"));
  if (t->pid <= 0 && !work) {
    ctr_dirs_free(dirs);
    return berr_set(err, BERR_INTERNAL, "container %.12s has no overlay work dir on record", ref);
  }
  t->id = json_object_get_string(json_object_object_get(dirs->info, "id"));
  t->lowers = dirs->lowers;
  t->upper = dirs->upper;
  t->work = work ? json_object_get_string(work) : NULL;
  t->store = d->opts->root;
  return 0;
}

static int w_container_copy(struct worker *wk, void *arg, json_object **result, berr_t *err, bool in) {
  struct work *w = arg;
  const char *ref, *path, *name = NULL;
  struct ctr_dirs dirs;
  struct copy_target t;
  if (param_string(w->params, "ref", true, &ref, err) < 0 || param_string(w->params, "path", true, &path, err) < 0 ||
      (!in && param_string(w->params, "name", false, &name, err) < 0) ||
      copy_target_of(w->d, ref, &dirs, &t, err) < 0)
    return -1;
  int r = in ? copy_in(wk, &t, path, result, err) : copy_out(wk, &t, path, name, result, err);
  ctr_dirs_free(&dirs);
  return r;
}

static int w_container_copy_out(struct worker *wk, void *arg, json_object **result, berr_t *err) {
  return w_container_copy(wk, arg, result, err, false);
}

static int w_container_copy_in(struct worker *wk, void *arg, json_object **result, berr_t *err) {
  return w_container_copy(wk, arg, result, err, true);
}

static enum outcome m_container_copy(struct call *c, const char *method, const char *const *keys, worker_fn fn,
                                     berr_t *err) {
  const char *ref, *path, *name;
  struct container *ctr;
  if (check_keys(c, method, keys, err) == FAIL || param_string(c->params, "ref", true, &ref, err) < 0 ||
      param_string(c->params, "path", true, &path, err) < 0 ||
      (keys[2] && param_string(c->params, "name", false, &name, err) < 0) || ctr_find(c->d->store, ref, &ctr, err) < 0)
    return FAIL;
  if (path[0] != '/') {
    berr_set(err, BERR_INVALID, "%s: `path` must be absolute inside the container", method);
    return FAIL;
  }
  return spawn_worker(c, fn, err);
}

static enum outcome m_container_copy_out(struct call *c, json_object **result, berr_t *err) {
  static const char *const keys[] = {"ref", "path", "name", NULL};
  (void)result;
  return m_container_copy(c, "container.copy.out", keys, w_container_copy_out, err);
}

static enum outcome m_container_copy_in(struct call *c, json_object **result, berr_t *err) {
  static const char *const keys[] = {"ref", "path", NULL};
  (void)result;
  return m_container_copy(c, "container.copy.in", keys, w_container_copy_in, err);
}

/* ---- networks (network.c, netinfo.c) ---------------------------------------- */

static enum outcome m_network_create(struct call *c, json_object **result, berr_t *err) {
  return net_create(c->params, result, err) < 0 ? FAIL : REPLY;
}
/* the container list: NetworkInfo names the containers on a network */
#define NET_WITH_CTRS(call) ({ json_object *all_ = ctr_list(c->d->store, true); \
  int r_ = (call); json_object_put(all_); r_ < 0 ? FAIL : REPLY; })
static enum outcome m_network_list(struct call *c, json_object **result, berr_t *err) {
  return NET_WITH_CTRS(net_list(all_, result, err));
}
static enum outcome m_network_inspect(struct call *c, json_object **result, berr_t *err) {
  return NET_WITH_CTRS(net_inspect(c->params, all_, result, err));
}
static enum outcome m_network_remove(struct call *c, json_object **result, berr_t *err) {
  return NET_WITH_CTRS(net_remove(c->params, all_, result, err));
}
static enum outcome m_container_interfaces(struct call *c, json_object **result, berr_t *err) {
  return net_interfaces(c->d->store, c->params, result, err) < 0 ? FAIL : REPLY;
}

/* ---- change events (events.h) ------------------------------------------------ */

static enum outcome m_events_subscribe(struct call *c, json_object **result, berr_t *err) {
  static const char *const keys[] = {NULL};
  (void)result;
  if (check_keys(c, "events.subscribe", keys, err) == FAIL || events_subscribe(c->conn, c->id, err) < 0)
    return FAIL;
  return DONE;
}

/* Workers whose successful end changes the image list; told apart from the
 * other children (monitors, exec sessions, log streamers) by pid. */
#define MAX_IMAGE_WORKERS 64
static pid_t image_workers[MAX_IMAGE_WORKERS];

static void note_image_worker(const char *method) {
  if (strcmp(method, "image.import") && strcmp(method, "container.commit"))
    return;
  pid_t pid = worker_last_pid();
  for (int i = 0; i < MAX_IMAGE_WORKERS; i++)
    if (!image_workers[i]) {
      image_workers[i] = pid;
      return;
    }
  /* full: this worker's end shows up at the subscribers' next resync instead */
}

static void on_child(void *ctx, pid_t pid, int status) {
  if (layers_walk_reaped(pid, status))
    return;
  resume_after_commit(ctx, pid);
  for (int i = 0; i < MAX_IMAGE_WORKERS; i++)
    if (image_workers[i] == pid) {
      image_workers[i] = 0;
      if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        events_emit("image", "change", NULL);
      return;
    }
}

/* Image events for the methods that change the image list in the daemon itself. */
static void image_events_after(const char *method, json_object *result) {
  json_object *id = result ? json_object_object_get(result, "id") : NULL;
  if (!strcmp(method, "image.remove")) {
    json_object *removed = json_object_object_get(result, "removed");
    size_t n = removed && json_object_is_type(removed, json_type_array) ? json_object_array_length(removed) : 0;
    for (size_t i = 0; i < n; i++)
      events_emit("image", "remove", json_object_get_string(json_object_array_get_idx(removed, i)));
    if (n == 0)
      events_emit("image", "change", NULL); /* only untagged */
  } else if (!strcmp(method, "image.tag")) {
    events_emit("image", "change", id ? json_object_get_string(id) : NULL);
  } else if (!strcmp(method, "image.create")) {
    events_emit("image", "create", id ? json_object_get_string(id) : NULL);
  } else if (!strcmp(method, "image.prune")) {
    events_emit("image", "change", NULL);
  }
}

/* ---- volumes (volume-methods.c) and container.restart (restart.c) ------------ */

#define VOLUME_METHOD(fn)                                                                          \
  static enum outcome m_##fn(struct call *c, json_object **result, berr_t *err) {                 \
    return fn(c->d->store, c->d->opts->root, c->params, result, err) < 0 ? FAIL : REPLY;           \
  }
VOLUME_METHOD(volume_create_method)
VOLUME_METHOD(volume_list_method)
VOLUME_METHOD(volume_inspect_method)
VOLUME_METHOD(volume_remove_method)
VOLUME_METHOD(volume_prune_method)

static enum outcome m_restart(struct call *c, json_object **result, berr_t *err) {
  int r = restart_method(c->conn, c->id, c->params, result, err);
  return r < 0 ? FAIL : r > 0 ? DONE : REPLY;
}

static const struct {
  const char *name;
  method_fn fn;
} methods[] = {
    {"hello", m_hello},
    {"image.list", m_image_list},
    {"image.inspect", m_image_inspect},
    {"image.import", m_image_import},
    {"image.remove", m_image_remove},
    {"image.save", m_image_save},
    {"image.tag", m_image_tag},
    {"image.prune", m_image_prune},
    {"image.blob.stat", m_image_blob_stat},
    {"image.blob.put", m_image_blob_put},
    {"image.blob.fetch", m_image_blob_fetch},
    {"image.lease", m_image_lease},
    {"image.create", m_image_create},
    {"container.create", m_create},
    {"container.start", m_start},
    {"container.run", m_run},
    {"container.stop", m_stop},
    {"container.kill", m_kill},
    {"container.pause", m_pause},
    {"container.unpause", m_unpause},
    {"container.remove", m_remove},
    {"container.list", m_list},
    {"container.inspect", m_inspect},
    {"container.wait", m_wait},
    {"container.exec", m_exec},
    {"container.logs", m_logs},
    {"container.stats", m_stats},
    {"container.top", m_top},
    {"image.layers", m_image_layers},
    {"image.tree", m_image_tree},
    {"container.diff", m_container_diff},
    {"container.tree", m_container_tree},
    {"container.commit", m_container_commit},
    {"container.export", m_container_export},
    {"container.copy.out", m_container_copy_out},
    {"container.copy.in", m_container_copy_in},
    {"events.subscribe", m_events_subscribe},
    {"network.create", m_network_create},
    {"network.list", m_network_list},
    {"network.inspect", m_network_inspect},
    {"network.remove", m_network_remove},
    {"container.interfaces", m_container_interfaces},
    {"container.restart", m_restart},
    {"volume.create", m_volume_create_method},
    {"volume.list", m_volume_list_method},
    {"volume.inspect", m_volume_inspect_method},
    {"volume.remove", m_volume_remove_method},
    {"volume.prune", m_volume_prune_method},
};
#define N_METHODS (sizeof methods / sizeof methods[0])

static void on_line(void *ctx, struct conn *conn, const char *line, size_t len) {
  struct daemon *d = ctx;
  struct request req;
  berr_t err;
  berr_clear(&err);
  if (proto_parse_request(line, len, &req, &err) < 0) {
    conn_send(conn, proto_reply_error(req.id, &err));
    proto_request_free(&req);
    return;
  }
  method_fn fn = NULL;
  for (size_t i = 0; i < N_METHODS && !fn; i++)
    if (!strcmp(req.method, methods[i].name))
      fn = methods[i].fn;
  if (!fn) {
    const char *names[N_METHODS];
    for (size_t i = 0; i < N_METHODS; i++)
      names[i] = methods[i].name;
    proto_unknown_method(&err, req.method, names, N_METHODS);
    conn_send(conn, proto_reply_error(req.id, &err));
    proto_request_free(&req);
    return;
  }
  struct call call = {.d = d, .conn = conn, .id = req.id, .params = req.params};
  json_object *result = NULL;
  switch (fn(&call, &result, &err)) {
  case REPLY:
    image_events_after(req.method, result);
    conn_send(conn, proto_reply_ok(req.id, result));
    break;
  case FAIL:
    json_object_put(result);
    conn_send(conn, proto_reply_error(req.id, &err));
    break;
  case DONE:
    note_image_worker(req.method);
    json_object_put(result);
    break;
  }
  proto_request_free(&req);
}

/* One berthd per store: a POSIX record lock on <root>/berthd.lock. Unlike
 * flock(2) it is not shared with the monitors this process forks, so it
 * goes away with the daemon even while its containers run on. */
static int lock_store(const char *root, int *fd_out, berr_t *err) {
  if (mkdir_p(root, 0700, err) < 0)
    return berr_wrap(err, "create the store");
  char path[4200];
  snprintf(path, sizeof path, "%s/berthd.lock", root);
  int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0)
    return berr_sys(err, errno, "open `%s`", path);
  struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
  if (fcntl(fd, F_SETLK, &fl) < 0) {
    int e = errno;
    struct flock who = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
    pid_t other = fcntl(fd, F_GETLK, &who) == 0 && who.l_type != F_UNLCK ? who.l_pid : 0;
    close(fd);
    if (e == EACCES || e == EAGAIN)
      return berr_set(err, BERR_CONFLICT, "another berthd (pid %d) is using the store `%s`",
                      (int)other, root);
    return berr_sys(err, e, "lock `%s`", path);
  }
  *fd_out = fd;
  return 0;
}

/* The next start's monitor, forked while nobody waits (runtime_prefork). A
 * failure (at the pids limit, say) is said once; the start forks its own then. */
static void on_idle(void *ctx) {
  (void)ctx;
  static bool failing;
  berr_t err;
  if (runtime_prefork(&err) < 0) {
    if (!failing)
      berthd_log("cannot fork a monitor ahead of the next start: %s", err.msg);
    failing = true;
  } else {
    failing = false;
  }
}

static bool in_container(void *ctx, pid_t pid, char *what, size_t size) {
  struct daemon *d = ctx;
  return peer_in_container(&d->cg_env, pid, what, size);
}

int daemon_run(const struct daemon_opts *opts, berr_t *err) {
  struct daemon d = {.opts = opts};
  int ret = -1, lock_fd = -1;
  if (lock_store(opts->root, &lock_fd, err) < 0)
    return -1;
  if (cgroup_env_init(&d.cg_env, "/", err) < 0) {
    close(lock_fd);
    return berr_wrap(err, "cgroups");
  }
  if (image_store_init(opts->root, err) < 0) {
    berr_wrap(err, "image store");
    goto out;
  }
  struct server_config sc = {
      .socket_path = opts->socket_path,
      .has_serve_uid = opts->has_serve_uid,
      .serve_uid = opts->serve_uid,
      .has_serve_gid = opts->has_serve_gid,
      .serve_gid = opts->serve_gid,
      .on_line = on_line,
      .peer_in_container = in_container,
      .ctx = &d,
  };
  /* the socket first: it refuses to start next to a running berthd, which
   * must keep its containers to itself */
  if (server_open(&d.srv, &sc, err) < 0)
    goto out;
  events_init(d.srv);
  server_on_child(d.srv, on_child, &d);
  usermounts_configure(opts->root, opts->socket_path); /* refused as bind sources */
  if (net_init(opts->root, opts->subnet, d.srv, err) < 0) {
    berr_wrap(err, "networks");
    goto out;
  }
  struct ctr_store_config cc = {
      .root = opts->root, .cg_env = &d.cg_env, .log_max_bytes = opts->log_max_bytes, .srv = d.srv};
  if (ctr_store_open(&d.store, &cc, err) < 0) {
    berr_wrap(err, "containers");
    goto out;
  }
  json_object *running = ctr_list(d.store, false);
  net_reconcile(running); /* leftovers of earlier runs; what re-adopted containers need */
  json_object_put(running);
  berthd_log("serving %s (store %s, cgroup layout %s, pid %d)", opts->socket_path, opts->root,
             cgroup_layout_name(d.cg_env.layout), (int)getpid());
  if (opts->ready_fd >= 0) {
    (void)!write(opts->ready_fd, "R", 1);
    close(opts->ready_fd);
  }
  server_on_idle(d.srv, on_idle, &d);
  ret = server_run(d.srv, err);
  runtime_prefork_drop();
out:
  events_close();
  ctr_store_close(d.store);
  net_close();
  server_close(d.srv);
  cgroup_env_free(&d.cg_env);
  close(lock_fd);
  return ret;
}
