#include "image-volumes.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server.h"
#include "spec.h"
#include "util.h"

#define SKIP_LOG_LINES 4

/* One entry: its normalised path in *out, or why it cannot be a volume. */
static int entry(const char *path, json_object *val, char **out, berr_t *err) {
  if (!json_object_is_type(val, json_type_object))
    return berr_set(err, BERR_INVALID, "config.Volumes[`%.200s`] must be an object, {}", path);
  return spec_mount_target(path, "config.Volumes entry", out, err);
}

int image_volumes_check(json_object *v, berr_t *err) {
  if (!json_object_is_type(v, json_type_object))
    return berr_set(err, BERR_INVALID, "config.Volumes must be an object such as {\"/data\": {}}");
  if (json_object_object_length(v) > IMAGE_MAX_VOLUMES)
    return berr_set(err, BERR_LIMIT, "config.Volumes has %d entries; at most %d are accepted",
                    json_object_object_length(v), IMAGE_MAX_VOLUMES);
  json_object_object_foreach(v, path, val) {
    char *norm;
    if (!json_object_is_type(val, json_type_object) || json_object_object_length(val) > 0)
      return berr_set(err, BERR_INVALID, "config.Volumes[`%.200s`] must be an empty object ({})", path);
    if (entry(path, val, &norm, err) < 0)
      return -1;
    free(norm);
  }
  return 0;
}

int image_volumes_paths(json_object *config, const char *image_ref, char ***out, berr_t *err) {
  *out = calloc(1, sizeof **out);
  if (!*out)
    return berr_sys(err, ENOMEM, "image volumes");
  json_object *exec = NULL, *v = NULL;
  if (!config || !json_object_object_get_ex(config, "config", &exec) ||
      !json_object_object_get_ex(exec, "Volumes", &v) || !v)
    return 0;
  if (!json_object_is_type(v, json_type_object)) {
    berthd_log("image %.200s: config.Volumes is not an object: ignored", image_ref);
    return 0;
  }
  size_t n = 0, skipped = 0;
  json_object_object_foreach(v, path, val) {
    char *norm;
    berr_t e;
    if (entry(path, val, &norm, &e) < 0) {
      /* a few lines, not one per entry of a config made to flood the log */
      if (skipped++ < SKIP_LOG_LINES)
        berthd_log("image %.200s: %s: skipped, no volume made there", image_ref, e.msg);
      continue;
    }
    bool dup = false;
    for (size_t i = 0; i < n && !dup; i++)
      dup = !strcmp((*out)[i], norm);
    if (dup) {
      free(norm);
      continue;
    }
    if (n == IMAGE_MAX_VOLUMES) {
      free(norm);
      strv_free(*out);
      *out = NULL;
      return berr_set(err, BERR_LIMIT, "image %.200s declares over %d volumes (config.Volumes)", image_ref,
                      IMAGE_MAX_VOLUMES);
    }
    char **nv = realloc(*out, (n + 2) * sizeof **out);
    if (!nv) {
      free(norm);
      strv_free(*out);
      *out = NULL;
      return berr_sys(err, ENOMEM, "image volumes");
    }
    *out = nv;
    nv[n++] = norm;
    nv[n] = NULL;
  }
  if (skipped > SKIP_LOG_LINES)
    berthd_log("image %.200s: %zu more config.Volumes entries skipped", image_ref, skipped - SKIP_LOG_LINES);
  return 0;
}
