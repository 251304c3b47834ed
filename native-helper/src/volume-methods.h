/* The volume.* methods of docs/protocol.md: the volume store (volumes.c)
 * joined with the container table (which containers name a volume). Each
 * takes the request's params and fills *result, or fails with err. */
#ifndef BERTH_VOLUME_METHODS_H
#define BERTH_VOLUME_METHODS_H

#include <json-c/json.h>

#include "container.h"
#include "error.h"

typedef int volume_method_fn(struct ctr_store *st, const char *root, json_object *params,
                             json_object **result, berr_t *err);

volume_method_fn volume_create_method, volume_list_method, volume_inspect_method,
    volume_remove_method, volume_prune_method;

#endif
