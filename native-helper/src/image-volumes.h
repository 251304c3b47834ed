/* config.Volumes of an OCI image config: {"/data": {}, ...}, the directories
 * where a container of the image gets an anonymous volume each (anonvol.c),
 * unless the user mounts something at that path (docker's rule).
 *
 * An entry is a mount target like any other (spec_mount_target: absolute,
 * no `..`, not `/`, nothing in /proc or /sys) whose value is an object (the
 * OCI spec's empty object). Where the config comes from decides what a bad
 * entry does:
 *  - given by the user (image.import's and container.commit's `config`): the
 *    request is refused with `invalid`, saying which entry and why;
 *  - read from an image already in the store (pulled, loaded from an archive),
 *    when a container is created: that entry alone is skipped, with a line in
 *    berthd's log, and the container gets the others. */
#ifndef BERTH_IMAGE_VOLUMES_H
#define BERTH_IMAGE_VOLUMES_H

#include <json-c/json.h>

#include "error.h"

/* At most this many entries (the spec's mount limit). */
#define IMAGE_MAX_VOLUMES 64

/* A user's config.Volumes: refuses a value that is not an object, more than
 * IMAGE_MAX_VOLUMES entries, or a bad entry. */
int image_volumes_check(json_object *volumes, berr_t *err);

/* The usable, normalised and deduplicated paths of image_config's
 * config.Volumes (NULL-terminated, strv_free; empty when there are none).
 * image_ref names the image in the log lines of skipped entries. More than
 * IMAGE_MAX_VOLUMES usable paths is a `limit` error. */
int image_volumes_paths(json_object *image_config, const char *image_ref, char ***out, berr_t *err);

#endif
