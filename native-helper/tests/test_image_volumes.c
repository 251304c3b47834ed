/* An image config's Volumes (what a user may give, what an image in the
 * store yields, hostile entries) and anonymous volumes: added for the
 * image's paths no mount covers, made with generated names marked anonymous
 * in volume.json, and deleted again. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "anonvol.h"
#include "image-volumes.h"
#include "spec.h"
#include "tap.h"
#include "util.h"
#include "volumes.h"

static bool check_refused(const char *json, enum berr_kind kind, const char *needle) {
  json_object *v = json_tokener_parse(json);
  berr_t err;
  berr_clear(&err);
  int r = image_volumes_check(v, &err);
  json_object_put(v);
  bool ok = r < 0 && err.kind == kind && (!needle || strstr(err.msg, needle));
  if (!ok)
    printf("#   %s -> %d %s: %s\n", json, r, berr_kind_name(err.kind), err.msg);
  return ok;
}

static char **paths_of(const char *config_json, berr_t *err, int *r) {
  json_object *c = json_tokener_parse(config_json);
  char **p = NULL;
  *r = image_volumes_paths(c, "test:latest", &p, err);
  json_object_put(c);
  return p;
}

int main(void) {
  TAP_PLAN(14);
  berr_t err;
  json_object *ok = json_tokener_parse("{\"/data\": {}, \"/var/lib/db/\": {}}");
  TAP_OK(image_volumes_check(ok, &err) == 0, "a user's Volumes of empty objects on clean paths");
  json_object_put(ok);
  TAP_OK(check_refused("[\"/data\"]", BERR_INVALID, "must be an object") &&
             check_refused("{\"/data\": \"yes\"}", BERR_INVALID, "empty object") &&
             check_refused("{\"/data\": {\"x\": 1}}", BERR_INVALID, "empty object"),
         "not an object, or values that are not {}, refused");
  TAP_OK(check_refused("{\"data\": {}}", BERR_INVALID, "absolute") &&
             check_refused("{\"/a/../../etc\": {}}", BERR_INVALID, "..") &&
             check_refused("{\"/\": {}}", BERR_INVALID, "not allowed") &&
             check_refused("{\"/proc/sys\": {}}", BERR_INVALID, "not allowed") &&
             check_refused("{\"/sys\": {}}", BERR_INVALID, "not allowed"),
         "relative, `..`, /, /proc and /sys paths refused");
  char big[8192];
  size_t n = (size_t)snprintf(big, sizeof big, "{");
  for (int i = 0; i <= IMAGE_MAX_VOLUMES; i++)
    n += (size_t)snprintf(big + n, sizeof big - n, "%s\"/v%d\": {}", i ? "," : "", i);
  snprintf(big + n, sizeof big - n, "}");
  TAP_OK(check_refused(big, BERR_LIMIT, "at most"), "over %d entries refused", IMAGE_MAX_VOLUMES);

  int r;
  char **p = paths_of("{\"config\": {\"Volumes\": {\"/data/\": {}, \"//data\": {}, \"rel\": {}, \"/proc/x\": {},"
                      " \"/a/../b\": {}, \"/cache\": {}, \"/odd\": 5}}}",
                      &err, &r);
  TAP_OK(r == 0 && p && strv_len(p) == 2 && !strcmp(p[0], "/data") && !strcmp(p[1], "/cache"),
         "an image's Volumes: bad entries skipped, paths normalised and deduplicated (%zu)", p ? strv_len(p) : 0);
  strv_free(p);
  p = paths_of("{\"config\": {\"Volumes\": [\"/data\"]}}", &err, &r);
  TAP_OK(r == 0 && p && !p[0], "Volumes that is not an object: ignored");
  strv_free(p);
  p = paths_of("{\"config\": {}}", &err, &r);
  char **p2 = NULL;
  int r2 = image_volumes_paths(NULL, "x", &p2, &err);
  TAP_OK(r == 0 && p && !p[0] && r2 == 0 && p2 && !p2[0], "no Volumes, no config: none");
  strv_free(p);
  strv_free(p2);
  n = (size_t)snprintf(big, sizeof big, "{\"config\": {\"Volumes\": {");
  for (int i = 0; i <= IMAGE_MAX_VOLUMES; i++)
    n += (size_t)snprintf(big + n, sizeof big - n, "%s\"/v%d\": {}", i ? "," : "", i);
  snprintf(big + n, sizeof big - n, "}}}");
  p = paths_of(big, &err, &r);
  TAP_OK(r < 0 && err.kind == BERR_LIMIT && !p, "an image with over %d volumes: limit (%s)", IMAGE_MAX_VOLUMES,
         err.msg);

  /* a spec with a user mount on /data: the image's /data is replaced, /cache added */
  struct container_spec s;
  memset(&s, 0, sizeof s);
  json_object *mj = json_tokener_parse("{\"mounts\": [{\"type\": \"tmpfs\", \"target\": \"/data\"},"
                                       " {\"type\": \"volume\", \"target\": \"/anon\"}]}");
  r = spec_storage_from_json(&s, mj, &err);
  json_object_put(mj);
  char *img[] = {"/data", "/cache", NULL};
  TAP_OK(r == 0 && anonvol_add_image(&s, img, &err) == 0 && s.n_mounts == 3 && s.mounts[2].kind == MOUNT_VOLUME &&
             s.mounts[2].anonymous && !s.mounts[2].source && !strcmp(s.mounts[2].target, "/cache"),
         "the image's volume on a mounted path is replaced, the other added");

  char root[] = "/tmp/berth-test-anonvol-XXXXXX";
  if (!mkdtemp(root))
    return 1;
  char **made = NULL;
  r = anonvol_create(root, &s, &made, &err);
  TAP_OK(r == 0 && made && strv_len(made) == 2 && s.mounts[1].source && s.mounts[2].source &&
             strlen(s.mounts[1].source) == 64 && strspn(s.mounts[1].source, "0123456789abcdef") == 64 &&
             strcmp(s.mounts[1].source, s.mounts[2].source),
         "each anonymous mount gets a volume with a 64-hex name: %s", r ? err.msg : s.mounts[1].source);
  TAP_OK(r == 0 && volume_exists(root, s.mounts[1].source) && volume_is_anonymous(root, s.mounts[1].source) &&
             volume_is_anonymous(root, s.mounts[2].source),
         "marked anonymous in volume.json");
  json_object *info = NULL;
  TAP_OK(r == 0 && volume_info(root, s.mounts[1].source, false, &info, &err) == 0 &&
             json_object_get_boolean(json_object_object_get(info, "anonymous")),
         "VolumeInfo says anonymous");
  json_object_put(info);
  bool created = false;
  TAP_OK(volume_create(root, "named", false, NULL, &created, &err) == 0 && created &&
             !volume_is_anonymous(root, "named") && !volume_is_anonymous(root, "missing"),
         "a named volume is not anonymous");
  char *names[] = {s.mounts[1].source, s.mounts[2].source, NULL};
  anonvol_delete(root, names);
  TAP_OK(!volume_exists(root, names[0]) && !volume_exists(root, names[1]) && volume_exists(root, "named"),
         "anonvol_delete takes what the create made, nothing else");
  strv_free(made);
  spec_storage_free(&s);
  rm_rf(root, &err);
  TAP_DONE();
}
