/* `mounts` and `restart` of the container spec: what is accepted, what is
 * refused, and that spec_storage_to_json gives back what was parsed. */
#include <stdio.h>
#include <string.h>

#include "spec.h"
#include "tap.h"

static int parse(const char *json, struct container_spec *s, berr_t *err) {
  memset(s, 0, sizeof *s);
  json_object *o = json_tokener_parse(json);
  if (!o)
    return -2;
  json_object *ar = json_object_object_get(o, "autoRemove");
  s->auto_remove = ar && json_object_get_boolean(ar);
  int r = spec_storage_from_json(s, o, err);
  json_object_put(o);
  return r;
}

static bool refused(const char *json, enum berr_kind kind, const char *needle) {
  struct container_spec s;
  berr_t err;
  berr_clear(&err);
  int r = parse(json, &s, &err);
  spec_storage_free(&s);
  bool ok = r == -1 && err.kind == kind && (!needle || strstr(err.msg, needle));
  if (!ok)
    printf("#   %s -> %d %s: %s\n", json, r, berr_kind_name(err.kind), err.msg);
  return ok;
}

int main(void) {
  TAP_PLAN(26);
  struct container_spec s;
  berr_t err;
  TAP_OK(parse("{}", &s, &err) == 0 && s.n_mounts == 0 && s.restart.policy == RESTART_NO, "nothing given");
  spec_storage_free(&s);

  const char *full =
      "{\"mounts\": [{\"type\": \"bind\", \"source\": \"/srv//data/./x/\", \"target\": \"/data/\", \"readOnly\": true},"
      " {\"type\": \"volume\", \"source\": \"cache_1\", \"target\": \"/var/cache\"},"
      " {\"type\": \"tmpfs\", \"target\": \"/tmp\", \"size\": 1048576, \"mode\": 448}],"
      " \"restart\": {\"policy\": \"on-failure\", \"maxRetries\": 3}}";
  int r = parse(full, &s, &err);
  TAP_OK(r == 0 && s.n_mounts == 3, "three mounts parsed: %s", r ? err.msg : "");
  TAP_OK(r == 0 && s.mounts[0].kind == MOUNT_BIND && !strcmp(s.mounts[0].source, "/srv/data/x") &&
             !strcmp(s.mounts[0].target, "/data") && s.mounts[0].read_only,
         "bind: paths normalised, read-only");
  TAP_OK(r == 0 && s.mounts[1].kind == MOUNT_VOLUME && !strcmp(s.mounts[1].source, "cache_1") &&
             !s.mounts[1].read_only,
         "volume by name");
  TAP_OK(r == 0 && s.mounts[2].kind == MOUNT_TMPFS && !s.mounts[2].source && s.mounts[2].tmpfs_size == 1048576 &&
             s.mounts[2].tmpfs_mode == 0700,
         "tmpfs size and mode");
  TAP_OK(s.restart.policy == RESTART_ON_FAILURE && s.restart.max_retries == 3, "on-failure:3");
  json_object *o = json_object_new_object();
  spec_storage_to_json(&s, o);
  struct container_spec back;
  memset(&back, 0, sizeof back);
  int r2 = spec_storage_from_json(&back, o, &err);
  TAP_OK(r2 == 0 && back.n_mounts == 3 && !strcmp(back.mounts[0].source, "/srv/data/x") &&
             back.mounts[2].tmpfs_mode == 0700 && back.restart.max_retries == 3 &&
             !strcmp(json_object_get_string(json_object_object_get(json_object_object_get(o, "restart"), "policy")),
                     "on-failure"),
         "round trip through JSON");
  json_object_put(o);
  spec_storage_free(&back);
  spec_storage_free(&s);

  TAP_OK(parse("{\"mounts\": [{\"type\": \"tmpfs\", \"target\": \"/t\"}]}", &s, &err) == 0 &&
             s.mounts[0].tmpfs_mode == 01777 && s.mounts[0].tmpfs_size == 0,
         "tmpfs defaults: mode 1777, the kernel's size");
  spec_storage_free(&s);
  TAP_OK(parse("{\"restart\": {\"policy\": \"unless-stopped\"}}", &s, &err) == 0 &&
             s.restart.policy == RESTART_UNLESS_STOPPED && !strcmp(restart_policy_name(s.restart.policy), "unless-stopped"),
         "unless-stopped");
  spec_storage_free(&s);

  TAP_OK(refused("{\"mounts\": [{\"type\": \"bind\", \"source\": \"rel/path\", \"target\": \"/x\"}]}", BERR_INVALID,
                 "absolute"),
         "relative bind source refused");
  TAP_OK(refused("{\"mounts\": [{\"type\": \"bind\", \"source\": \"/x\", \"target\": \"x\"}]}", BERR_INVALID, "absolute"),
         "relative target refused");
  TAP_OK(refused("{\"mounts\": [{\"type\": \"bind\", \"source\": \"/x\", \"target\": \"/a/../etc\"}]}", BERR_INVALID, ".."),
         "`..` in a target refused");
  TAP_OK(refused("{\"mounts\": [{\"type\": \"tmpfs\", \"target\": \"//\"}]}", BERR_INVALID, "not allowed") &&
             refused("{\"mounts\": [{\"type\": \"tmpfs\", \"target\": \"/proc/sys\"}]}", BERR_INVALID, "not allowed") &&
             refused("{\"mounts\": [{\"type\": \"tmpfs\", \"target\": \"/sys\"}]}", BERR_INVALID, "not allowed"),
         "targets /, /proc/..., /sys refused");
  TAP_OK(refused("{\"mounts\": [{\"type\": \"tmpfs\", \"target\": \"/t\"}, {\"type\": \"tmpfs\", \"target\": \"/t/\"}]}",
                 BERR_INVALID, "two mounts"),
         "two mounts on one target refused");
  TAP_OK(refused("{\"mounts\": [{\"type\": \"volume\", \"source\": \"-bad\", \"target\": \"/t\"}]}", BERR_INVALID,
                 "volume name"),
         "bad volume name refused");
  TAP_OK(refused("{\"mounts\": [{\"type\": \"tmpfs\", \"source\": \"x\", \"target\": \"/t\"}]}", BERR_INVALID, "no source"),
         "tmpfs with a source refused");
  TAP_OK(refused("{\"mounts\": [{\"type\": \"bind\", \"source\": \"/x\", \"target\": \"/t\", \"size\": 5}]}", BERR_INVALID,
                 "tmpfs"),
         "size on a bind refused");
  TAP_OK(refused("{\"mounts\": [{\"type\": \"nfs\", \"source\": \"/x\", \"target\": \"/t\"}]}", BERR_INVALID, "type"),
         "unknown type refused");
  TAP_OK(refused("{\"mounts\": [{\"type\": \"bind\", \"source\": \"/x\", \"target\": \"/t\", \"rw\": true}]}",
                 BERR_BAD_REQUEST, "rw"),
         "unknown key refused");
  TAP_OK(refused("{\"restart\": {\"policy\": \"sometimes\"}}", BERR_INVALID, "sometimes") &&
             refused("{\"restart\": {\"policy\": \"always\", \"maxRetries\": 2}}", BERR_INVALID, "on-failure") &&
             refused("{\"restart\": {\"policy\": \"on-failure\", \"maxRetries\": -1}}", BERR_INVALID, NULL),
         "bad restart policies refused");
  TAP_OK(refused("{\"autoRemove\": true, \"restart\": {\"policy\": \"always\"}}", BERR_INVALID, "autoRemove"),
         "autoRemove with a restart policy refused");
  TAP_OK(parse("{\"autoRemove\": true, \"restart\": {\"policy\": \"no\"}}", &s, &err) == 0, "autoRemove with policy no is fine");
  spec_storage_free(&s);

  /* anonymous volumes: no source (docker's -v /data), named later by the create */
  r = parse("{\"mounts\": [{\"type\": \"volume\", \"target\": \"/data/\"}, {\"type\": \"volume\", \"source\": \"\", "
            "\"target\": \"/b\"}]}",
            &s, &err);
  TAP_OK(r == 0 && s.n_mounts == 2 && s.mounts[0].kind == MOUNT_VOLUME && s.mounts[0].anonymous && !s.mounts[0].source &&
             !strcmp(s.mounts[0].target, "/data") && s.mounts[1].anonymous && !s.mounts[1].source,
         "a volume mount without a source is anonymous: %s", r ? err.msg : "");
  spec_storage_free(&s);
  r = parse("{\"mounts\": [{\"type\": \"volume\", \"source\": \"0123abc\", \"target\": \"/d\", \"anonymous\": true},"
            " {\"type\": \"volume\", \"source\": \"named\", \"target\": \"/n\"}]}",
            &s, &err);
  o = json_object_new_object();
  spec_storage_to_json(&s, o);
  memset(&back, 0, sizeof back);
  r2 = spec_storage_from_json(&back, o, &err);
  json_object *m0 = json_object_array_get_idx(json_object_object_get(o, "mounts"), 0),
              *m1 = json_object_array_get_idx(json_object_object_get(o, "mounts"), 1);
  TAP_OK(r == 0 && r2 == 0 && back.mounts[0].anonymous && !strcmp(back.mounts[0].source, "0123abc") &&
             !back.mounts[1].anonymous && json_object_get_boolean(json_object_object_get(m0, "anonymous")) &&
             !json_object_object_get(m1, "anonymous"),
         "a named anonymous volume round-trips (config.json), a named one has no anonymous key");
  json_object_put(o);
  spec_storage_free(&back);
  spec_storage_free(&s);
  TAP_OK(refused("{\"mounts\": [{\"type\": \"tmpfs\", \"target\": \"/t\", \"anonymous\": true}]}", BERR_INVALID,
                 "volume mounts only") &&
             refused("{\"mounts\": [{\"type\": \"bind\", \"source\": \"/x\", \"target\": \"/t\", \"anonymous\": false}]}",
                     BERR_INVALID, "volume mounts only"),
         "anonymous on a tmpfs or a bind refused");
  TAP_OK(refused("{\"mounts\": [{\"type\": \"volume\", \"target\": \"/t\", \"anonymous\": false}]}", BERR_INVALID,
                 "needs a source") &&
             refused("{\"mounts\": [{\"type\": \"bind\", \"target\": \"/t\"}]}", BERR_INVALID, "needs a source") &&
             refused("{\"mounts\": [{\"type\": \"volume\", \"target\": \"/t\", \"anonymous\": 1}]}", BERR_BAD_REQUEST,
                     NULL),
         "a bind still needs a source; anonymous false without a source, or not a boolean, refused");
  TAP_DONE();
}
