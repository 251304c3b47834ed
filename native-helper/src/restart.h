/* Restart policies (ContainerSpec.restart), applied by berthd: when a
 * container exits, `on-failure` (a non-zero exit, at most maxRetries times
 * unless 0), `always` and `unless-stopped` start it again after a backoff
 * (100 ms, doubling, at most 60 s; back to 100 ms after a run of 10 s or
 * more). While it waits the container is `restarting`. A stop or kill by the
 * user ends the restarts until the user starts it again; on berthd start,
 * `always` containers that are not running are started again, `unless-stopped`
 * ones too unless the user stopped them, and `on-failure` ones whose last run
 * failed and that have retries left.
 *
 * Per container, <dir>/restart.json: {"count": n, "stopped": bool} (the
 * restarts made since the user's last start; whether the user stopped it).
 * The timers run in the daemon's event loop. */
#ifndef BERTH_RESTART_H
#define BERTH_RESTART_H

#include <json-c/json.h>
#include <stdbool.h>

#include "container.h"
#include "server.h"

#define RESTART_BACKOFF_MIN_MS 100
#define RESTART_BACKOFF_MAX_MS 60000
#define RESTART_RESET_AFTER_US (10 * 1000000LL)

/* Before the containers are loaded. */
void restart_init(struct ctr_store *st, struct server *srv, const char *root);
/* A container as berthd found it at start (exited: not running now;
 * exit_code < 0: none recorded). */
void restart_on_load(struct container *c, bool exited, int exit_code);
/* The container has exited (exit_code < 0: none recorded). */
void restart_on_exit(struct container *c, int exit_code);
/* The container has started: by the user (count back to 0, stop forgotten)
 * or by a restart timer. */
void restart_on_start(struct container *c);
/* The user stops or kills c: no more restarts. True when c was waiting for
 * one (it is `exited` now, nothing else to do). */
bool restart_user_stop(struct container *c);
bool restart_pending(const struct container *c);
/* ContainerInfo.restart: {"policy", "maxRetries", "count", "nextAttempt"}. */
json_object *restart_to_json(const struct container *c);
/* c is going away (removed, or the table closes). */
void restart_forget(const struct container *c);

/* container.restart {"ref", "timeout"?}: stop (as container.stop) when
 * running, then start, as the user's start (restart.count back to 0).
 * Returns 0 with *result (it was not running), 1 when the reply goes out on
 * conn once it has stopped and started again, -1 with err. */
int restart_method(struct conn *conn, json_object *id, json_object *params, json_object **result,
                   berr_t *err);

#endif
