/* image.layers off the request loop. An image's layer facts are walked once
 * and cached (layerfacts.c); that first walk reads every file of every layer,
 * seconds for a big image, so it runs in a forked child while the daemon
 * serves everyone else, and the request's reply waits, parked by connection
 * id, until the child ends. A client that went away meanwhile is not
 * answered; the walk still fills the cache. */
#ifndef BERTH_LAYERS_WALK_H
#define BERTH_LAYERS_WALK_H

#include <json-c/json.h>
#include <stdbool.h>
#include <sys/types.h>

#include "error.h"

struct server;
struct conn;

/* Forks the walk of ref's layers; the reply to request id on c comes from
 * layers_walk_reaped. */
int layers_walk_start(struct server *srv, struct conn *c, json_object *id, const char *root,
                      const char *ref, berr_t *err);

/* A child of the daemon ended: when it was a walk, sends its reply and
 * returns true. */
bool layers_walk_reaped(pid_t pid, int status);

#endif
