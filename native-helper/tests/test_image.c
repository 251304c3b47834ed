/* The image store: import a rootfs tarball made with tar(1), resolve, list,
 * inspect (digests checked with sha256sum), dedupe a second import, remove,
 * and a broken import that leaves nothing visible. */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "image.h"
#include "tap.h"
#include "util.h"

static char base[256], store[300];

static void sh(const char *fmt, const char *arg) {
  char cmd[2048];
  snprintf(cmd, sizeof cmd, fmt, arg, arg, arg, arg);
  if (system(cmd) != 0) {
    printf("Bail out! command failed: %s\n", cmd);
    exit(1);
  }
}

static void sha256sum(const char *cmd, char out[72]) {
  out[0] = '\0';
  FILE *p = popen(cmd, "r");
  char hex[65] = "";
  if (p && fscanf(p, "%64s", hex) == 1)
    snprintf(out, 72, "sha256:%s", hex);
  if (p)
    pclose(p);
}

static int count_entries(const char *dir, int want_dirs) {
  DIR *d = opendir(dir);
  int n = 0;
  struct dirent *de;
  while (d && (de = readdir(d))) {
    if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
      continue;
    if (want_dirs < 0 || (want_dirs == 1) == (de->d_type == DT_DIR))
      n++;
  }
  if (d)
    closedir(d);
  return n;
}

/* Every file in blobs/sha256 hashes to its own name. */
static bool blobs_verify(void) {
  char dir[400];
  snprintf(dir, sizeof dir, "%s/blobs/sha256", store);
  DIR *d = opendir(dir);
  bool ok = d != NULL;
  struct dirent *de;
  while (ok && (de = readdir(d))) {
    if (de->d_name[0] == '.')
      continue;
    char cmd[800], got[72], want[72];
    snprintf(cmd, sizeof cmd, "sha256sum '%s/%s'", dir, de->d_name);
    sha256sum(cmd, got);
    snprintf(want, sizeof want, "sha256:%s", de->d_name);
    ok = !strcmp(got, want);
  }
  if (d)
    closedir(d);
  return ok;
}

static bool used_flag;
static bool in_use(const char *id, void *ctx) {
  (void)ctx;
  return used_flag && id && !strncmp(id, "sha256:", 7);
}

static const char *str(json_object *o, const char *k) {
  json_object *v = json_object_object_get(o, k);
  return v ? json_object_get_string(v) : "";
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  snprintf(base, sizeof base, "/tmp/berth-test-image-XXXXXX");
  if (!mkdtemp(base))
    return 2;
  snprintf(store, sizeof store, "%s/store", base);
  sh("mkdir -p %s/rootfs/etc %s/rootfs/bin %s/rootfs/empty && echo berth > %s/rootfs/etc/hostname", base);
  sh("printf '#!/bin/sh\\necho hi\\n' > %s/rootfs/bin/hello && chmod 755 %s/rootfs/bin/hello && ln -s hello %s/rootfs/bin/hi", base);
  sh("tar -C %s/rootfs -czf %s/rootfs.tar.gz . && tar -C %s/rootfs -cf %s/rootfs.tar .", base);
  sh("head -c 3000 /dev/urandom > %s/broken.tar", base);
  sh("printf 'not really a tarball' | gzip > %s/broken.tar.gz", base);

  berr_t err = {0};
  int r = image_store_init(store, &err);
  char p[600];
  struct stat st;
  snprintf(p, sizeof p, "%s/layers/sha256", store);
  TAP_OK(r == 0 && stat(p, &st) == 0 && (st.st_mode & 0777) == 0700, "store init makes 0700 dirs (%s)", r ? err.msg : "ok");
  snprintf(p, sizeof p, "%s/tmp/import-debris", store);
  mkdir(p, 0700);
  r = image_store_init(store, &err);
  TAP_OK(r == 0 && stat(p, &st) < 0, "store init clears tmp/");

  /* import */
  char tgz[400], tarp[400];
  snprintf(tgz, sizeof tgz, "%s/rootfs.tar.gz", base);
  snprintf(tarp, sizeof tarp, "%s/rootfs.tar", base);
  json_object *cfg = json_tokener_parse("{\"Cmd\": [\"/bin/hello\"], \"Env\": [\"GREETING=hi\"], \"WorkingDir\": \"/etc\"}");
  json_object *sum = NULL;
  r = image_import_rootfs(store, tgz, "busybox", cfg, &sum, &err);
  TAP_OK(r == 0, "import rootfs.tar.gz as busybox (%s)", r ? err.msg : json_object_to_json_string(sum));
  if (r < 0)
    return 1;
  char id[80];
  snprintf(id, sizeof id, "%s", str(sum, "id"));
  json_object *refs = json_object_object_get(sum, "refs");
  TAP_OK(json_object_array_length(refs) == 1 && !strcmp(json_object_get_string(json_object_array_get_idx(refs, 0)), "busybox:latest"),
         "summary refs = [busybox:latest]");
  TAP_OK(json_object_get_int64(json_object_object_get(sum, "size")) > 0 &&
             json_object_get_int(json_object_object_get(sum, "layers")) == 1 && strlen(str(sum, "created")) > 20,
         "summary size > 0, 1 layer, created set");
  json_object_put(sum);

  /* resolve */
  struct image img;
  r = image_resolve(store, "busybox:latest", &img, &err);
  TAP_OK(r == 0 && !strcmp(img.id, id) && img.layer_dirs && img.layer_dirs[0] && !img.layer_dirs[1],
         "resolve busybox:latest -> %s, one layer dir", r ? err.msg : img.id);
  if (r == 0) {
    snprintf(p, sizeof p, "%s/etc/hostname", img.layer_dirs[0]);
    cleanup_free char *h = NULL;
    TAP_OK(read_file(p, 100, &h, NULL, &err) == 0 && !strcmp(h, "berth\n"), "layer dir holds etc/hostname");
    snprintf(p, sizeof p, "%s/bin/hi", img.layer_dirs[0]);
    char l[32] = "";
    ssize_t n = readlink(p, l, sizeof l - 1);
    TAP_OK(n == 5 && !strcmp(l, "hello"), "layer dir holds the symlink bin/hi -> hello");
    snprintf(p, sizeof p, "%s/empty", img.layer_dirs[0]);
    TAP_OK(stat(p, &st) == 0 && S_ISDIR(st.st_mode), "layer dir holds the empty dir");
    json_object *c = json_object_object_get(img.config, "config");
    json_object *env = json_object_object_get(c, "Env");
    TAP_OK(!strcmp(str(img.config, "os"), "linux") && strlen(str(img.config, "architecture")) > 0 &&
               json_object_array_length(env) == 2 &&
               !strncmp(json_object_get_string(json_object_array_get_idx(env, 0)), "PATH=", 5) &&
               !strcmp(json_object_get_string(json_object_array_get_idx(env, 1)), "GREETING=hi") &&
               !strcmp(str(c, "WorkingDir"), "/etc") &&
               !strcmp(json_object_get_string(json_object_array_get_idx(json_object_object_get(c, "Cmd"), 0)), "/bin/hello"),
           "config: os, architecture %s, default PATH + Env, Cmd, WorkingDir", str(img.config, "architecture"));
    json_object *rootfs = json_object_object_get(img.config, "rootfs");
    json_object *hist = json_object_object_get(img.config, "history");
    TAP_OK(!strcmp(str(rootfs, "type"), "layers") && json_object_array_length(json_object_object_get(rootfs, "diff_ids")) == 1 &&
               !strcmp(str(json_object_array_get_idx(hist, 0), "created_by"), "berth import"),
           "config: rootfs.diff_ids and history");
    image_free(&img);
  }
  r = image_resolve(store, "busybox", &img, &err);
  TAP_OK(r == 0 && !strcmp(img.id, id), "resolve busybox (tag latest by default)");
  if (r == 0)
    image_free(&img);
  r = image_resolve(store, id, &img, &err);
  TAP_OK(r == 0, "resolve by full id");
  if (r == 0)
    image_free(&img);
  char prefix[16];
  snprintf(prefix, sizeof prefix, "%.12s", id + 7);
  r = image_resolve(store, prefix, &img, &err);
  TAP_OK(r == 0 && !strcmp(img.id, id), "resolve by 12-hex id prefix %s", prefix);
  if (r == 0)
    image_free(&img);
  r = image_resolve(store, "nope", &img, &err);
  TAP_OK(r < 0 && err.kind == BERR_NOT_FOUND &&
             !strcmp(err.msg, "no image 'nope': pull or import it first (berth images lists what is here)"),
         "unknown ref: %s", err.msg);
  r = image_resolve(store, "sha256:0123", &img, &err);
  TAP_OK(r < 0 && err.kind == BERR_NOT_FOUND, "malformed sha256 ref is not found");

  /* inspect: digests as sha256sum sees them */
  json_object *ins = NULL;
  r = image_inspect(store, "busybox", &ins, &err);
  TAP_OK(r == 0, "inspect (%s)", r ? err.msg : "ok");
  if (r == 0) {
    json_object *layer = json_object_array_get_idx(json_object_object_get(ins, "layers"), 0);
    char cmd[800], want[72];
    snprintf(cmd, sizeof cmd, "sha256sum '%s'", tgz);
    sha256sum(cmd, want);
    TAP_OK(!strcmp(str(layer, "digest"), want), "layer digest = sha256sum of the .tar.gz");
    snprintf(cmd, sizeof cmd, "gzip -dc '%s' | sha256sum", tgz);
    sha256sum(cmd, want);
    TAP_OK(!strcmp(str(layer, "diffId"), want), "diffId = sha256sum of the uncompressed tar");
    stat(tgz, &st);
    TAP_OK(json_object_get_int64(json_object_object_get(layer, "size")) == st.st_size &&
               json_object_get_int64(json_object_object_get(layer, "unpackedSize")) > 0 &&
               !strcmp(str(layer, "mediaType"), "application/vnd.oci.image.layer.v1.tar+gzip"),
           "layer size = file size, unpackedSize > 0, gzip media type");
    snprintf(cmd, sizeof cmd, "sha256sum '%s/blobs/sha256/%s'", store, str(ins, "manifestDigest") + 7);
    sha256sum(cmd, want);
    TAP_OK(!strcmp(want, str(ins, "manifestDigest")) && !strcmp(str(ins, "id"), id) &&
               json_object_get_int64(json_object_object_get(ins, "size")) > 0,
           "manifestDigest verifies, id and size");
    json_object_put(ins);
  }
  TAP_OK(blobs_verify(), "every blob's sha256sum equals its name");

  /* the same content under a second name: a new image, the same layer dir */
  snprintf(p, sizeof p, "%s/layers/sha256", store);
  r = image_import_rootfs(store, tgz, "other:1", NULL, &sum, &err);
  TAP_OK(r == 0 && count_entries(p, 1) == 1, "second import shares the layer dir (%d dirs)", count_entries(p, 1));
  char id2[80] = "";
  if (r == 0) {
    snprintf(id2, sizeof id2, "%s", str(sum, "id"));
    json_object_put(sum);
  }
  json_object *list = NULL;
  r = image_list(store, &list, &err);
  json_object *imgs = json_object_object_get(list, "images");
  TAP_OK(r == 0 && json_object_array_length(imgs) == 2 &&
             !strcmp(str(json_object_array_get_idx(imgs, 0), "id"), id2),
         "list: 2 images, newest first");
  json_object_put(list);
  r = image_resolve(store, "other:1", &img, &err);
  TAP_OK(r == 0 && img.config && !strncmp(json_object_get_string(json_object_array_get_idx(
                                   json_object_object_get(json_object_object_get(img.config, "config"), "Env"), 0)), "PATH=", 5),
         "an import without config gets a default PATH");
  if (r == 0)
    image_free(&img);

  /* remove */
  used_flag = true;
  json_object *out = NULL;
  r = image_remove(store, "busybox", false, in_use, NULL, &out, &err);
  TAP_OK(r < 0 && err.kind == BERR_CONFLICT && strstr(err.msg, "used by a container"), "remove in use: %s", err.msg);
  used_flag = false;
  r = image_remove(store, "busybox", false, in_use, NULL, &out, &err);
  TAP_OK(r == 0 && json_object_array_length(json_object_object_get(out, "removed")) == 1 &&
             !strcmp(json_object_get_string(json_object_array_get_idx(json_object_object_get(out, "removed"), 0)), id),
         "remove busybox -> removed [%s] (%s)", id, r ? err.msg : json_object_to_json_string(out));
  if (r == 0)
    json_object_put(out);
  TAP_OK(count_entries(p, 1) == 1, "layer dir kept: other:1 still uses it");
  r = image_resolve(store, "busybox", &img, &err);
  TAP_OK(r < 0 && err.kind == BERR_NOT_FOUND, "busybox is gone");
  r = image_remove(store, "other:1", false, NULL, NULL, &out, &err);
  if (r == 0)
    json_object_put(out);
  char bd[400];
  snprintf(bd, sizeof bd, "%s/blobs/sha256", store);
  TAP_OK(r == 0 && count_entries(p, -1) == 0 && count_entries(bd, -1) == 0,
         "removing the last image deletes its layer dir, meta and blobs (%s)", r ? err.msg : "ok");

  /* retagging leaves an untagged image, removable by id */
  r = image_import_rootfs(store, tarp, "x", NULL, &sum, &err);
  snprintf(id, sizeof id, "%s", r == 0 ? str(sum, "id") : "");
  if (r == 0)
    json_object_put(sum);
  r |= image_import_rootfs(store, tarp, "x", NULL, &sum, &err);
  if (r == 0)
    json_object_put(sum);
  r |= image_list(store, &list, &err);
  int untagged = 0;
  for (size_t i = 0; r == 0 && i < json_object_array_length(json_object_object_get(list, "images")); i++)
    untagged += json_object_array_length(json_object_object_get(
                    json_object_array_get_idx(json_object_object_get(list, "images"), i), "refs")) == 0;
  TAP_OK(r == 0 && untagged == 1, "re-import under the same name leaves one untagged image");
  if (r == 0)
    json_object_put(list);
  r = image_remove(store, id, false, NULL, NULL, &out, &err);
  TAP_OK(r == 0 && count_entries(p, 1) == 1, "untagged image removed by id; the shared layer stays (%s)", r ? err.msg : "ok");
  if (r == 0)
    json_object_put(out);
  r = image_remove(store, "x", false, NULL, NULL, &out, &err);
  if (r == 0)
    json_object_put(out);
  TAP_OK(r == 0 && count_entries(p, -1) == 0 && count_entries(bd, -1) == 0, "store empty again");

  /* registry host with a port, nested path, tag */
  r = image_import_rootfs(store, tarp, "localhost:5000/team/app:v1.2", NULL, &sum, &err);
  if (r == 0)
    json_object_put(sum);
  r |= image_resolve(store, "localhost:5000/team/app:v1.2", &img, &err);
  if (r == 0)
    image_free(&img);
  TAP_OK(r == 0 && image_resolve(store, "localhost:5000/team/app", &img, &err) < 0,
         "host:port/path:tag imported and resolved; no :latest alias (%s)", r ? err.msg : "ok");
  r = image_remove(store, "localhost:5000/team/app:v1.2", false, NULL, NULL, &out, &err);
  if (r == 0)
    json_object_put(out);

  /* failures leave nothing visible */
  char broken[400], tmpd[400];
  snprintf(tmpd, sizeof tmpd, "%s/tmp", store);
  const char *bad[] = {"broken.tar", "broken.tar.gz"};
  for (int i = 0; i < 2; i++) {
    snprintf(broken, sizeof broken, "%s/%s", base, bad[i]);
    r = image_import_rootfs(store, broken, "broken", NULL, &sum, &err);
    TAP_OK(r < 0 && image_resolve(store, "broken", &img, &err) < 0 && count_entries(p, -1) == 0 &&
               count_entries(bd, -1) == 0 && count_entries(tmpd, -1) == 0,
           "%s: import fails, no image, no blob, no layer, tmp/ empty", bad[i]);
  }
  image_set_max_layer_size(10); /* the rootfs holds 24 bytes */
  r = image_import_rootfs(store, tgz, "capped", NULL, &sum, &err);
  TAP_OK(r < 0 && err.kind == BERR_LIMIT && strstr(err.msg, "--max-layer-size"), "layer cap: %s", err.msg);
  image_set_max_layer_size(0);
  r = image_import_rootfs(store, tgz, "Bad Name", NULL, &sum, &err);
  TAP_OK(r < 0 && err.kind == BERR_INVALID, "bad ref refused: %s", err.msg);
  json_object *badcfg = json_tokener_parse("{\"Cmd\": \"sh\"}");
  r = image_import_rootfs(store, tgz, "ok", badcfg, &sum, &err);
  TAP_OK(r < 0 && err.kind == BERR_BAD_REQUEST, "Cmd not an array refused: %s", err.msg);
  json_object_put(badcfg);
  badcfg = json_tokener_parse("{\"Healthcheck\": {}}");
  r = image_import_rootfs(store, tgz, "ok", badcfg, &sum, &err);
  TAP_OK(r < 0 && err.kind == BERR_BAD_REQUEST, "unknown config field refused: %s", err.msg);
  json_object_put(badcfg);
  r = image_list(store, &list, &err);
  TAP_OK(r == 0 && json_object_array_length(json_object_object_get(list, "images")) == 0, "list is empty");
  if (r == 0)
    json_object_put(list);

  json_object_put(cfg);
  rm_rf(base, &err);
  printf("1..%d\n", tap_n);
  TAP_DONE();
}
