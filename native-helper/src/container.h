/* Container records: the in-memory table loaded from <root>/containers/<id>/,
 * state.json, the lifecycle (create, start, stop, kill, remove), the
 * monitors watched through pidfds, and re-adoption after a restart. */
#ifndef BERTH_CONTAINER_H
#define BERTH_CONTAINER_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "cgroup.h"
#include "error.h"
#include "pty.h"
#include "server.h"
#include "spec.h"

struct ctr_store;
struct container;

struct ctr_store_config {
  const char *root;
  const struct cgroup_env *cg_env;
  int64_t log_max_bytes;
  struct server *srv; /* for pidfds and stop timers */
};

/* Loads every container, re-adopts the running ones (or records how they
 * ended), and starts watching their monitors. */
int ctr_store_open(struct ctr_store **out, const struct ctr_store_config *cfg, berr_t *err);
/* Forgets the table; containers keep running. Parked waiters are cancelled. */
void ctr_store_close(struct ctr_store *st);

/* A full id, a unique id prefix of at least 3 characters, or a name. */
int ctr_find(struct ctr_store *st, const char *ref, struct container **out, berr_t *err);
bool ctr_is_running(const struct container *c);

/* container.create params (docs/protocol.md ContainerSpec); with_attach also
 * accepts `attach` (container.run). */
int ctr_create(struct ctr_store *st, json_object *params, bool with_attach, struct container **out,
               berr_t *err);
/* Starts the monitor; attach_fd >= 0 hands that client connection to it.
 * *ctl_fd must go to runtime_release once the reply is written. */
int ctr_start(struct ctr_store *st, struct container *c, int attach_fd,
              const struct term_size *term, int *ctl_fd, berr_t *err);
/* SIGTERM now, SIGKILL after timeout_ms. The caller parks its reply with ctr_on_exit. */
int ctr_stop(struct ctr_store *st, struct container *c, int64_t timeout_ms, berr_t *err);
int ctr_kill(struct ctr_store *st, struct container *c, int sig, berr_t *err);
/* container.pause / container.unpause: freezes or thaws the container's
 * cgroup (docker pause); the container stays "running", with "paused": true,
 * which survives a restart of berthd. Stopping or killing a paused container thaws it first. */
int ctr_pause(struct ctr_store *st, struct container *c, bool pause, berr_t *err);
bool ctr_is_paused(const struct container *c);
/* A commit's pause (recorded as such), and its end: resumed unless someone
 * resumed or paused it meanwhile. A berthd that finds a container still
 * paused by a commit of the one before resumes it as it re-adopts it. */
int ctr_pause_for_commit(struct ctr_store *st, struct container *c, berr_t *err);
void ctr_resume_after_commit(struct ctr_store *st, struct container *c);
/* Unmounts, deletes the cgroup and the directory, and frees c. volumes (rm -v)
 * also deletes its anonymous volumes that no other container uses (anonvol.h). */
int ctr_remove(struct ctr_store *st, struct container *c, bool force, bool volumes, berr_t *err);

/* ContainerInfo (docs/protocol.md), with the resolved spec when with_spec. */
json_object *ctr_info(struct ctr_store *st, const struct container *c, bool with_spec);
json_object *ctr_list(struct ctr_store *st, bool all);
const char *ctr_id(const struct container *c);
/* The resolved spec; every container in turn (fn may not remove c). */
const struct container_spec *ctr_spec(const struct container *c);
void ctr_foreach(struct ctr_store *st, void (*fn)(struct container *c, void *ctx), void *ctx);

int ctr_stats(struct ctr_store *st, struct container *c, json_object **out, berr_t *err);
int ctr_top(struct ctr_store *st, struct container *c, json_object **out, berr_t *err);
/* exec params (cmd, env, workdir, user, tty, stdin; ref already used). */
int ctr_exec(struct ctr_store *st, struct container *c, json_object *params, int client_fd,
             pid_t *pid, int *ctl_fd, berr_t *err);
int ctr_logs(struct ctr_store *st, struct container *c, bool follow, long tail, int client_fd,
             int *ctl_fd, berr_t *err);

/* Called once when a running container has exited (c valid during the call,
 * it may be removed right after for autoRemove), or with c == NULL when the
 * store closes first. */
typedef void (*ctr_exit_fn)(void *ctx, struct ctr_store *st, struct container *c);
int ctr_on_exit(struct container *c, ctr_exit_fn fn, void *ctx, berr_t *err);

/* For image_remove: does any container use image_id? ctx is the store. */
bool ctr_image_in_use(const char *image_id, void *ctx);

/* Signal by name ("SIGTERM", "TERM", case-insensitive) or number. */
int ctr_parse_signal(json_object *v, int *sig, berr_t *err);
const char *ctr_signal_name(int sig, char buf[16]);

#endif
