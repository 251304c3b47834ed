/* `mounts` and `restart` of the container spec (docs/protocol.md,
 * ContainerSpec), the same shape in a create request and in config.json:
 *
 *   "mounts": [{"type": "bind", "source": "/abs/host/path", "target": "/x", "readOnly": false},
 *              {"type": "volume", "source": "<volume name>", "target": "/data"},
 *              {"type": "volume", "target": "/cache"},   (anonymous: named at create, then
 *                  "source": "<64 hex>", "anonymous": true in config.json)
 *              {"type": "tmpfs", "target": "/tmp", "size": bytes, "mode": 1023}],
 *   "restart": {"policy": "no" | "on-failure" | "always" | "unless-stopped", "maxRetries": n}
 *
 * Only the shape is checked here (config.json is read again at every berthd
 * start, when a bind source may be gone): whether a source exists and may be
 * mounted is usermounts_prepare's job, at create and at every start. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "names.h"
#include "protocol.h"
#include "spec.h"

static const char *const restart_names[] = {"no", "on-failure", "always", "unless-stopped"};
static const char *const kind_names[] = {"bind", "volume", "tmpfs"};
static const char *const mount_keys[] = {"type", "source", "target", "readOnly", "size", "mode", "anonymous", NULL};
static const char *const restart_keys[] = {"policy", "maxRetries", NULL};

const char *restart_policy_name(enum restart_policy p) {
  return (unsigned)p < sizeof restart_names / sizeof restart_names[0] ? restart_names[p] : "no";
}

/* An absolute path with `.` and repeated slashes dropped; `..` is refused
 * (it means nothing certain before symlinks are resolved). */
static int normalise_path(const char *in, const char *what, char **out, berr_t *err) {
  size_t n = strlen(in);
  if (in[0] != '/' || n >= 4096)
    return berr_set(err, BERR_INVALID, "%s `%.200s` must be an absolute path (under 4096 bytes)", what,
                    in);
  char *s = malloc(n + 1);
  if (!s)
    return berr_sys(err, ENOMEM, "mount %s", what);
  size_t len = 0;
  for (const char *p = in; *p;) {
    while (*p == '/')
      p++;
    if (!*p)
      break;
    size_t c = strcspn(p, "/");
    if (c == 2 && p[0] == '.' && p[1] == '.') {
      free(s);
      return berr_set(err, BERR_INVALID, "%s `%.200s` must not contain `..`", what, in);
    }
    if (!(c == 1 && p[0] == '.')) {
      s[len++] = '/';
      memcpy(s + len, p, c);
      len += c;
    }
    p += c;
  }
  if (len == 0)
    s[len++] = '/';
  s[len] = '\0';
  *out = s;
  return 0;
}

/* Whether path is dir or below it (both normalised). */
static bool path_under(const char *path, const char *dir) {
  size_t n = strlen(dir);
  return !strncmp(path, dir, n) && (path[n] == '\0' || path[n] == '/');
}

int spec_mount_target(const char *in, const char *what, char **out, berr_t *err) {
  char *t;
  if (normalise_path(in, what, &t, err) < 0)
    return -1;
  if (!strcmp(t, "/") || path_under(t, "/proc") || path_under(t, "/sys")) {
    berr_set(err, BERR_INVALID, "%s `%.200s` is not allowed: not `/`, nor in /proc or /sys", what, t);
    free(t);
    return -1;
  }
  *out = t;
  return 0;
}

static int parse_mount(struct mount_spec *m, json_object *o, size_t i, berr_t *err) {
  if (!json_object_is_type(o, json_type_object))
    return berr_set(err, BERR_BAD_REQUEST, "`mounts[%zu]` must be an object", i);
  char what[32];
  snprintf(what, sizeof what, "mounts[%zu]", i);
  if (param_check_keys(o, what, mount_keys, err) < 0)
    return -1;
  const char *type, *source, *target;
  if (param_string(o, "type", true, &type, err) < 0 || param_string(o, "source", false, &source, err) < 0 ||
      param_string(o, "target", true, &target, err) < 0)
    return berr_wrap(err, "%s", what);
  size_t k = 0;
  while (k < 3 && strcmp(type, kind_names[k]))
    k++;
  if (k == 3)
    return berr_set(err, BERR_INVALID, "%s: type '%.32s' must be bind, volume or tmpfs", what, type);
  m->kind = (enum mount_kind)k;
  if (param_bool(o, "readOnly", false, &m->read_only, err) < 0)
    return berr_wrap(err, "%s", what);
  if (spec_mount_target(target, "mount target", &m->target, err) < 0)
    return -1;
  bool has_anon = json_object_object_get(o, "anonymous") != NULL;
  if (param_bool(o, "anonymous", false, &m->anonymous, err) < 0)
    return berr_wrap(err, "%s", what);
  if (has_anon && m->kind != MOUNT_VOLUME)
    return berr_set(err, BERR_INVALID, "%s: anonymous is for volume mounts only", what);
  bool has_size = json_object_object_get(o, "size") != NULL,
       has_mode = json_object_object_get(o, "mode") != NULL;
  if (m->kind == MOUNT_TMPFS) {
    if (source && source[0])
      return berr_set(err, BERR_INVALID, "%s: a tmpfs mount takes no source", what);
    int64_t mode;
    if (param_int(o, "size", 0, 0, INT64_MAX / 2, &m->tmpfs_size, NULL, err) < 0 ||
        param_int(o, "mode", 01777, 0, 07777, &mode, NULL, err) < 0)
      return berr_wrap(err, "%s", what);
    m->tmpfs_mode = (uint32_t)mode;
    return 0;
  }
  if (has_size || has_mode)
    return berr_set(err, BERR_INVALID, "%s: size and mode are for tmpfs mounts only", what);
  if (m->kind == MOUNT_VOLUME && (!source || !source[0])) {
    /* docker's `-v /data`: a volume of its own, named when the container is created */
    if (has_anon && !m->anonymous)
      return berr_set(err, BERR_INVALID, "%s: a volume mount with `anonymous: false` needs a source", what);
    m->anonymous = true;
    return 0;
  }
  if (!source || !source[0])
    return berr_set(err, BERR_INVALID, "%s: a %s mount needs a source", what, type);
  if (m->kind == MOUNT_VOLUME) {
    if (!name_is_valid(source))
      return berr_set(err, BERR_INVALID,
                      "%s: volume name '%.80s' must match [A-Za-z0-9][A-Za-z0-9_.-]{0,63} (a host "
                      "path must be absolute)",
                      what, source);
    if (!(m->source = strdup(source)))
      return berr_sys(err, ENOMEM, "%s", what);
    return 0;
  }
  return normalise_path(source, "mount source", &m->source, err);
}

static int parse_restart(struct restart_spec *r, json_object *o, bool auto_remove, berr_t *err) {
  memset(r, 0, sizeof *r);
  if (!o)
    return 0;
  if (!json_object_is_type(o, json_type_object))
    return berr_set(err, BERR_BAD_REQUEST, "`restart` must be an object");
  if (param_check_keys(o, "restart", restart_keys, err) < 0)
    return -1;
  const char *policy;
  if (param_string(o, "policy", false, &policy, err) < 0)
    return berr_wrap(err, "restart");
  size_t k = 0;
  if (policy && policy[0]) {
    while (k < 4 && strcmp(policy, restart_names[k]))
      k++;
    if (k == 4)
      return berr_set(err, BERR_INVALID,
                      "restart policy '%.32s' must be no, on-failure, always or unless-stopped", policy);
  }
  r->policy = (enum restart_policy)k;
  bool given;
  if (param_int(o, "maxRetries", 0, 0, INT32_MAX, &r->max_retries, &given, err) < 0)
    return berr_wrap(err, "restart");
  if (given && r->max_retries > 0 && r->policy != RESTART_ON_FAILURE)
    return berr_set(err, BERR_INVALID, "maxRetries goes with the on-failure restart policy only");
  if (auto_remove && r->policy != RESTART_NO)
    return berr_set(err, BERR_INVALID,
                    "autoRemove (--rm) and the restart policy '%s' cannot be used together",
                    restart_names[r->policy]);
  return 0;
}

int spec_storage_from_json(struct container_spec *s, json_object *o, berr_t *err) {
  s->mounts = NULL;
  s->n_mounts = 0;
  json_object *arr = json_object_object_get(o, "mounts");
  if (arr) {
    if (!json_object_is_type(arr, json_type_array))
      return berr_set(err, BERR_BAD_REQUEST, "`mounts` must be an array");
    size_t n = json_object_array_length(arr);
    if (n > SPEC_MAX_MOUNTS)
      return berr_set(err, BERR_LIMIT, "%zu mounts: at most %d", n, SPEC_MAX_MOUNTS);
    if (n && !(s->mounts = calloc(n, sizeof *s->mounts)))
      return berr_sys(err, ENOMEM, "mounts");
    for (size_t i = 0; i < n; i++) {
      s->n_mounts = i + 1; /* so spec_storage_free sees what is half parsed */
      if (parse_mount(&s->mounts[i], json_object_array_get_idx(arr, i), i, err) < 0)
        return -1;
      for (size_t j = 0; j < i; j++)
        if (!strcmp(s->mounts[j].target, s->mounts[i].target))
          return berr_set(err, BERR_INVALID, "two mounts on `%.200s`", s->mounts[i].target);
    }
  }
  return parse_restart(&s->restart, json_object_object_get(o, "restart"), s->auto_remove, err);
}

void spec_storage_to_json(const struct container_spec *s, json_object *o) {
  json_object *arr = json_object_new_array();
  for (size_t i = 0; i < s->n_mounts; i++) {
    const struct mount_spec *m = &s->mounts[i];
    json_object *e = json_object_new_object();
    json_object_object_add(e, "type", json_object_new_string(kind_names[m->kind]));
    if (m->source)
      json_object_object_add(e, "source", json_object_new_string(m->source));
    json_object_object_add(e, "target", json_object_new_string(m->target));
    json_object_object_add(e, "readOnly", json_object_new_boolean(m->read_only));
    if (m->anonymous)
      json_object_object_add(e, "anonymous", json_object_new_boolean(true));
    if (m->kind == MOUNT_TMPFS) {
      if (m->tmpfs_size > 0)
        json_object_object_add(e, "size", json_object_new_int64(m->tmpfs_size));
      json_object_object_add(e, "mode", json_object_new_int((int)m->tmpfs_mode));
    }
    json_object_array_add(arr, e);
  }
  json_object_object_add(o, "mounts", arr);
  json_object *r = json_object_new_object();
  json_object_object_add(r, "policy", json_object_new_string(restart_policy_name(s->restart.policy)));
  json_object_object_add(r, "maxRetries", json_object_new_int64(s->restart.max_retries));
  json_object_object_add(o, "restart", r);
}

void spec_storage_free(struct container_spec *s) {
  for (size_t i = 0; i < s->n_mounts && s->mounts; i++) {
    free(s->mounts[i].source);
    free(s->mounts[i].target);
    free(s->mounts[i].host_path);
  }
  free(s->mounts);
  s->mounts = NULL;
  s->n_mounts = 0;
}
