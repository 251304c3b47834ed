#include "volume-methods.h"

#include <stdio.h>
#include <string.h>

#include "protocol.h"
#include "usermounts.h"
#include "util.h"
#include "volumes.h"

struct users {
  const char *name;
  json_object *ids; /* array of container ids */
};

static void collect_user(struct container *c, void *ctx) {
  struct users *u = ctx;
  if (usermounts_uses_volume(ctr_spec(c), u->name))
    json_object_array_add(u->ids, json_object_new_string(ctr_id(c)));
}

/* Ids of the containers (running or not) whose spec names the volume. */
static json_object *used_by(struct ctr_store *st, const char *name) {
  struct users u = {.name = name, .ids = json_object_new_array()};
  ctr_foreach(st, collect_user, &u);
  return u.ids;
}

static int info(struct ctr_store *st, const char *root, const char *name, bool with_size,
                json_object **out, berr_t *err) {
  if (volume_info(root, name, with_size, out, err) < 0)
    return -1;
  json_object_object_add(*out, "usedBy", used_by(st, name));
  return 0;
}

int volume_create_method(struct ctr_store *st, const char *root, json_object *params,
                         json_object **result, berr_t *err) {
  static const char *const keys[] = {"name", NULL};
  const char *name;
  char made[65];
  if (param_check_keys(params, "volume.create", keys, err) < 0 ||
      param_string(params, "name", false, &name, err) < 0)
    return -1;
  if (name && !name[0])
    name = NULL;
  if (volume_create(root, name, false, made, NULL, err) < 0)
    return -1;
  return info(st, root, made, false, result, err);
}

int volume_list_method(struct ctr_store *st, const char *root, json_object *params,
                       json_object **result, berr_t *err) {
  static const char *const keys[] = {NULL};
  char **names;
  if (param_check_keys(params, "volume.list", keys, err) < 0 || volume_names(root, &names, err) < 0)
    return -1;
  json_object *arr = json_object_new_array();
  for (size_t i = 0; names[i]; i++) {
    json_object *o;
    berr_t e;
    /* one removed meanwhile is simply not listed */
    if (info(st, root, names[i], false, &o, &e) == 0)
      json_object_array_add(arr, o);
  }
  strv_free(names);
  *result = json_object_new_object();
  json_object_object_add(*result, "volumes", arr);
  return 0;
}

int volume_inspect_method(struct ctr_store *st, const char *root, json_object *params,
                          json_object **result, berr_t *err) {
  static const char *const keys[] = {"name", NULL};
  const char *name;
  if (param_check_keys(params, "volume.inspect", keys, err) < 0 ||
      param_string(params, "name", true, &name, err) < 0)
    return -1;
  return info(st, root, name, true, result, err);
}

int volume_remove_method(struct ctr_store *st, const char *root, json_object *params,
                         json_object **result, berr_t *err) {
  static const char *const keys[] = {"name", "force", NULL};
  const char *name;
  bool force;
  if (param_check_keys(params, "volume.remove", keys, err) < 0 ||
      param_string(params, "name", true, &name, err) < 0 ||
      param_bool(params, "force", false, &force, err) < 0)
    return -1;
  if (!volume_exists(root, name)) /* the name's rule first, then whether it is there */
    return volume_delete(root, name, NULL, err);
  json_object *ids = used_by(st, name);
  size_t n = json_object_array_length(ids);
  if (n) {
    berr_set(err, BERR_CONFLICT, "volume '%s' is in use by %zu container%s (%.12s%s): remove %s first",
             name, n, n == 1 ? "" : "s", json_object_get_string(json_object_array_get_idx(ids, 0)),
             n > 1 ? ", ..." : "", n == 1 ? "it" : "them");
    json_object_put(ids);
    return -1;
  }
  json_object_put(ids);
  if (volume_delete(root, name, NULL, err) < 0)
    return -1;
  *result = json_object_new_object();
  json_object_object_add(*result, "name", json_object_new_string(name));
  return 0;
}

int volume_prune_method(struct ctr_store *st, const char *root, json_object *params,
                        json_object **result, berr_t *err) {
  static const char *const keys[] = {"all", NULL};
  char **names;
  bool all;
  /* docker's rule since 23.0: only anonymous volumes unless all */
  if (param_check_keys(params, "volume.prune", keys, err) < 0 || param_bool(params, "all", false, &all, err) < 0 ||
      volume_names(root, &names, err) < 0)
    return -1;
  json_object *removed = json_object_new_array();
  int64_t total = 0;
  for (size_t i = 0; names[i]; i++) {
    if (!all && !volume_is_anonymous(root, names[i]))
      continue;
    json_object *ids = used_by(st, names[i]);
    bool used = json_object_array_length(ids) > 0;
    json_object_put(ids);
    int64_t bytes = 0;
    berr_t e;
    if (used)
      continue;
    if (volume_delete(root, names[i], &bytes, &e) < 0) {
      berthd_log("volume.prune: %s", e.msg);
      continue;
    }
    total += bytes;
    json_object_array_add(removed, json_object_new_string(names[i]));
  }
  strv_free(names);
  *result = json_object_new_object();
  json_object_object_add(*result, "removed", removed);
  json_object_object_add(*result, "reclaimedBytes", json_object_new_int64(total));
  return 0;
}
