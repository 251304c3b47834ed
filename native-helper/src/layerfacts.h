/* The facts behind a layer stack (image.layers, image.tree, container.diff,
 * container.tree in docs/protocol.md): what each layer adds, replaces and
 * deletes, and the bytes later layers waste. Layer dirs are extracted layers
 * as layer.c writes them (overlay whiteouts = char device 0/0, opaque dirs =
 * trusted.overlay.opaque "y"), and a container's upper dir is the same form.
 * Walks never follow a symlink: every directory is opened with O_NOFOLLOW
 * relative to its parent's fd. */
#ifndef BERTH_LAYERFACTS_H
#define BERTH_LAYERFACTS_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

#define FACTS_TREE_DEFAULT_LIMIT 500
#define FACTS_TREE_MAX_LIMIT 5000
#define FACTS_DIFF_MAX_CHANGES 10000

/* Per layer results of a stack walk. */
struct layer_facts {
  uint64_t added, modified, deleted;
  uint64_t unpacked;  /* bytes of the layer's regular files */
  uint64_t shadowed;  /* bytes of lower files this layer replaces or deletes */
  uint64_t wasted;    /* bytes of this layer's files later layers replace or delete */
};

/* Walks layer dirs base first (dirs[0] is the base) through an in-memory
 * path table and fills facts[n]. When changes is not NULL, the top layer's
 * changes are appended as {"path", "change", "size"} (docker diff style:
 * a directory of a lower layer that the top layer holds is "modified"),
 * unsorted and unbounded. */
int facts_walk(char *const *dirs, size_t n, struct layer_facts *facts, json_object *changes,
               berr_t *err);

/* image.layers {"ref"}: the result object; cached in <root>/facts/<config hex>.json. */
int facts_image_layers(const char *root, const char *ref, json_object **out, berr_t *err);
/* The same from the cache only: 0 and *out, or 1 when the layers must be
 * walked first (facts_image_layers, off the request loop: layers-walk.c). */
int facts_image_layers_cached(const char *root, const char *ref, json_object **out, berr_t *err);

/* One directory of layer_dir's own tree, classified against the lower dirs
 * (topmost first, NULL-terminated). path is the request's (hostile) path. */
int facts_tree(const char *layer_dir, char *const *lowers, const char *path, int64_t offset,
               int64_t limit, json_object **out, berr_t *err);

/* image.tree {"ref", "layer", "path", "offset", "limit"}. */
int facts_image_tree(const char *root, const char *ref, int64_t layer, const char *path,
                     int64_t offset, int64_t limit, json_object **out, berr_t *err);

/* container.diff: upper over the container's lower dirs (topmost first),
 * looked up on disk (the cost is the upper dir's size, not the image's);
 * the same counts and changes as facts_walk's top layer. */
int facts_container_diff(const char *upper, char *const *lowers, json_object **out, berr_t *err);

#endif
