/* Image formats and housekeeping: OCI layouts made with umoci (two images
 * sharing a base layer), OCI archives (plain and gzip), docker archives made
 * by skopeo, a nested index picking the host platform, corrupted blobs, the
 * store primitives (image_store_add_layer / image_store_add), save → import
 * round trips, tag, prune, and bzip2/xz rootfs tarballs. */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cleanup.h"
#include "image-internal.h"
#include "tap.h"
#include "util.h"

static char base[256], store[300], store2[300];

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...) {
  char cmd[4096];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(cmd, sizeof cmd, fmt, ap);
  va_end(ap);
  int r = system(cmd);
  if (r != 0)
    printf("# command failed (%d): %s\n", r, cmd);
  return r;
}

static int count(const char *dir, int want_dirs) {
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

static int count_in(const char *root, const char *sub, int want_dirs) {
  char p[600];
  snprintf(p, sizeof p, "%s/%s", root, sub);
  return count(p, want_dirs);
}

static const char *str(json_object *o, const char *k) {
  json_object *v = o ? json_object_object_get(o, k) : NULL;
  return v ? json_object_get_string(v) : "";
}

static json_object *images_of(json_object *res) { return json_object_object_get(res, "images"); }

static bool has_ref(json_object *summary, const char *ref) {
  json_object *refs = json_object_object_get(summary, "refs");
  for (size_t i = 0; i < json_object_array_length(refs); i++)
    if (!strcmp(json_object_get_string(json_object_array_get_idx(refs, i)), ref))
      return true;
  return false;
}

static int progress_frames;
static int count_progress(void *ctx, json_object *ev, berr_t *err) {
  (void)ctx;
  (void)err;
  if (json_object_object_get(ev, "phase"))
    progress_frames++;
  json_object_put(ev);
  return 0;
}

static int cancel_progress(void *ctx, json_object *ev, berr_t *err) {
  (void)ctx;
  json_object_put(ev);
  return berr_set(err, BERR_INTERNAL, "the client went away");
}

static const char *used_id;
static bool in_use(const char *id, void *ctx) {
  (void)ctx;
  return used_id && !strcmp(id, used_id);
}

static ino_t inode_of(const char *root, const char *diff_id) {
  cleanup_free char *d = image_layer_dir(root, diff_id);
  struct stat st;
  return d && stat(d, &st) == 0 ? st.st_ino : 0;
}

static int import(const char *root, const char *path, const char *format, const char *ref, json_object **out,
                  berr_t *err) {
  *out = NULL;
  return image_import(root, path, format, ref, NULL, count_progress, NULL, out, err);
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  snprintf(base, sizeof base, "/tmp/berth-test-image-oci-XXXXXX");
  if (!mkdtemp(base))
    return 2;
  snprintf(store, sizeof store, "%s/store", base);
  snprintf(store2, sizeof store2, "%s/store2", base);
  berr_t err = {0};
  json_object *res = NULL;
  char p[700], p2[700];

  /* two images sharing a base layer, made with umoci */
  if (sh("cd %s && umoci init --layout oci && umoci new --image oci:base && "
         "umoci unpack --image oci:base b1 >/dev/null && mkdir -p b1/rootfs/etc && echo one > b1/rootfs/etc/one && "
         "head -c 100000 /dev/urandom > b1/rootfs/blob && umoci repack --image oci:base b1 && "
         "umoci config --image oci:base --config.cmd /bin/true && "
         "umoci tag --image oci:base app && umoci unpack --image oci:app b2 >/dev/null && "
         "echo two > b2/rootfs/etc/two && rm b2/rootfs/etc/one && umoci repack --image oci:app b2",
         base) != 0) {
    printf("Bail out! umoci failed\n");
    return 1;
  }
  TAP_OK(image_store_init(store, &err) == 0 && image_store_init(store2, &err) == 0, "stores init");

  /* names: umoci writes bare tags */
  snprintf(p, sizeof p, "%s/oci", base);
  int r = import(store, p, NULL, NULL, &res, &err);
  TAP_OK(r < 0 && err.kind == BERR_INVALID && strstr(err.msg, "named only by the tag") && strstr(err.msg, "give a name"),
         "bare tags without ref refused: %s", err.msg);
  TAP_OK(count_in(store, "blobs/sha256", -1) == 0 && count_in(store, "layers/sha256", -1) == 0 &&
             count_in(store, "tmp", -1) == 0,
         "refused import leaves nothing");
  r = import(store, p, "oci", "demo:v1", &res, &err);
  TAP_OK(r < 0 && err.kind == BERR_INVALID && strstr(err.msg, "holds 2 images"), "ref with a tag for 2 images: %s", err.msg);

  progress_frames = 0;
  r = import(store, p, NULL, "demo", &res, &err);
  TAP_OK(r == 0 && json_object_array_length(images_of(res)) == 2, "layout with ref `demo` imports both images (%s)",
         r ? err.msg : "ok");
  TAP_OK(progress_frames >= 4, "progress frames sent (%d)", progress_frames);
  json_object *app = NULL;
  for (size_t i = 0; r == 0 && i < 2; i++) {
    json_object *s = json_object_array_get_idx(images_of(res), i);
    if (has_ref(s, "demo:app"))
      app = s;
  }
  TAP_OK(app && json_object_get_int(json_object_object_get(app, "layers")) == 2, "demo:app has 2 layers");
  json_object_put(res);
  TAP_OK(count_in(store, "layers/sha256", 1) == 2, "2 layer trees (base's is shared): %d",
         count_in(store, "layers/sha256", 1));

  /* digests as the layout has them */
  json_object *ins = NULL;
  r = image_inspect(store, "demo:app", &ins, &err);
  char app_manifest[80] = "", app_id[80] = "", base_diff[80] = "";
  if (r == 0) {
    snprintf(app_manifest, sizeof app_manifest, "%s", str(ins, "manifestDigest"));
    snprintf(app_id, sizeof app_id, "%s", str(ins, "id"));
    snprintf(base_diff, sizeof base_diff, "%s", str(json_object_array_get_idx(json_object_object_get(ins, "layers"), 1), "diffId"));
    json_object_put(ins);
  }
  snprintf(p2, sizeof p2, "grep -q '%s' %s/oci/index.json", app_manifest, base);
  TAP_OK(r == 0 && sh("%s", p2) == 0, "manifest digest kept from the layout (%s)", app_manifest);
  struct image img;
  r = image_resolve(store, "demo:app", &img, &err);
  if (r == 0) {
    snprintf(p2, sizeof p2, "%s/etc/two", img.layer_dirs[0]);
    struct stat st;
    TAP_OK(stat(p2, &st) == 0, "top layer holds etc/two");
    snprintf(p2, sizeof p2, "%s/etc/one", img.layer_dirs[0]);
    TAP_OK(lstat(p2, &st) == 0 && S_ISCHR(st.st_mode) && st.st_rdev == 0, "the deletion is an overlay whiteout");
    image_free(&img);
  } else {
    TAP_OK(0, "resolve demo:app: %s", err.msg);
  }

  /* dedupe: the same layers under a new name extract nothing */
  ino_t before = inode_of(store, base_diff);
  int trees = count_in(store, "layers/sha256", 1);
  r = import(store, p, NULL, "again", &res, &err);
  json_object_put(res);
  TAP_OK(r == 0 && inode_of(store, base_diff) == before && before != 0 && count_in(store, "layers/sha256", 1) == trees,
         "re-import: same layer dir inode, no new trees (%s)", r ? err.msg : "ok");

  /* save → import round trip */
  snprintf(p, sizeof p, "%s/out.tar", base);
  const char *refs[] = {"demo:app", "demo:base", NULL};
  progress_frames = 0;
  r = image_save(store, refs, p, count_progress, NULL, &res, &err);
  struct stat st;
  TAP_OK(r == 0 && stat(p, &st) == 0 && json_object_get_int64(json_object_object_get(res, "size")) == st.st_size,
         "save 2 images to out.tar (%s)", r ? err.msg : str(res, "size"));
  json_object_put(res);
  snprintf(p2, sizeof p2, "%s/.out.tar", base);
  TAP_OK(count(base, -1) > 0 && sh("ls -a %s | grep -q '\\.tmp$'", base) != 0, "no temp file left beside it");
  r = image_save(store, refs, p, NULL, NULL, &res, &err);
  TAP_OK(r < 0 && err.kind == BERR_CONFLICT, "save refuses an existing path: %s", err.msg);
  TAP_OK(sh("tar tf %s | grep -qx oci-layout && tar tf %s | grep -qx index.json && tar tf %s | grep -qx manifest.json", p, p, p) == 0,
         "archive holds oci-layout, index.json, manifest.json");
  TAP_OK(sh("tar xOf %s index.json | grep -q '\"org.opencontainers.image.ref.name\":\"demo:app\"'", p) == 0,
         "index.json names demo:app in full");
  TAP_OK(sh("skopeo inspect oci-archive:%s:demo:app >/dev/null 2>&1", p) == 0, "skopeo inspect oci-archive:FILE:demo:app");
  r = import(store2, p, NULL, NULL, &res, &err);
  TAP_OK(r == 0 && json_object_array_length(images_of(res)) == 2, "import the saved archive into a new store (%s)",
         r ? err.msg : "ok");
  json_object_put(res);
  r = image_inspect(store2, "demo:app", &ins, &err);
  TAP_OK(r == 0 && !strcmp(str(ins, "manifestDigest"), app_manifest) && !strcmp(str(ins, "id"), app_id),
         "round trip keeps the manifest digest and id");
  if (r == 0)
    json_object_put(ins);
  TAP_OK(count_in(store2, "tmp", -1) == 0, "tmp/ empty after an archive import");

  /* a gzip'd OCI archive */
  snprintf(p, sizeof p, "%s/oci.tar.gz", base);
  sh("tar -C %s/oci -czf %s .", base, p);
  r = import(store2, p, "oci-archive", "gz", &res, &err);
  TAP_OK(r == 0 && json_object_array_length(images_of(res)) == 2 && has_ref(json_object_array_get_idx(images_of(res), 0), "gz:base"),
         "gzip'd oci-archive, bare tags named gz:TAG (%s)", r ? err.msg : "ok");
  json_object_put(res);
  r = import(store2, p, "docker-archive", "x", &res, &err);
  TAP_OK(r < 0 && strstr(err.msg, "looks like an OCI archive"), "wrong explicit format: %s", err.msg);

  /* docker archive from skopeo (symlinked layer.tar files) */
  snprintf(p, sizeof p, "%s/docker.tar", base);
  TAP_OK(sh("skopeo copy -q oci:%s/oci:app docker-archive:%s:web:1.0 >/dev/null 2>&1", base, p) == 0, "skopeo writes a docker archive");
  progress_frames = 0;
  r = import(store2, p, NULL, NULL, &res, &err);
  TAP_OK(r == 0 && has_ref(json_object_array_get_idx(images_of(res), 0), "web:1.0"), "docker-archive imports as web:1.0 (%s)",
         r ? err.msg : json_object_to_json_string(res));
  json_object_put(res);
  r = image_inspect(store2, "web:1.0", &ins, &err);
  TAP_OK(r == 0 && json_object_array_length(json_object_object_get(ins, "layers")) == 2 &&
             !strcmp(str(json_object_array_get_idx(json_object_object_get(ins, "layers"), 1), "diffId"), base_diff),
         "web:1.0: 2 layers, the same diffIDs");
  if (r == 0)
    json_object_put(ins);

  /* nested index: the host's platform is picked */
  sh("cp -a %s/oci %s/multi", base, base);
  {
    char idx[1200];
    snprintf(idx, sizeof idx,
             "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.index.v1+json\",\"manifests\":["
             "{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"sha256:%064d\",\"size\":1,"
             "\"platform\":{\"os\":\"linux\",\"architecture\":\"s390x\"}},"
             "{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"%s\",\"size\":503,"
             "\"platform\":{\"os\":\"linux\",\"architecture\":\"%s\"}}]}",
             0, app_manifest, image_host_arch());
    char dg[DIGEST_STR_LEN + 1];
    digest_buffer(idx, strlen(idx), dg, &err);
    snprintf(p, sizeof p, "%s/multi/blobs/sha256/%s", base, digest_hex(dg));
    write_file_atomic(p, idx, strlen(idx), 0644, false, &err);
    char top[600];
    snprintf(top, sizeof top,
             "{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"application/vnd.oci.image.index.v1+json\","
             "\"digest\":\"%s\",\"size\":%zu,\"annotations\":{\"org.opencontainers.image.ref.name\":\"multi:1\"}}]}",
             dg, strlen(idx));
    snprintf(p, sizeof p, "%s/multi/index.json", base);
    write_file_atomic(p, top, strlen(top), 0644, false, &err);
  }
  snprintf(p, sizeof p, "%s/multi", base);
  r = import(store2, p, NULL, NULL, &res, &err);
  TAP_OK(r == 0 && has_ref(json_object_array_get_idx(images_of(res), 0), "multi:1"), "nested index: host platform picked (%s)",
         r ? err.msg : "ok");
  json_object_put(res);
  r = image_inspect(store2, "multi:1", &ins, &err);
  TAP_OK(r == 0 && !strcmp(str(ins, "manifestDigest"), app_manifest), "multi:1 is the %s manifest", image_host_arch());
  if (r == 0)
    json_object_put(ins);

  /* a corrupted layer blob: digest error, no image, no new blob */
  char fresh[300];
  snprintf(fresh, sizeof fresh, "%s/store3", base);
  image_store_init(fresh, &err);
  sh("cp -a %s/oci %s/bad && cd %s/bad/blobs/sha256 && for f in *; do if [ $(stat -c %%s $f) -gt 10000 ]; then "
     "printf 'XXXX' | dd of=$f bs=1 seek=100 conv=notrunc 2>/dev/null; fi; done",
     base, base, base);
  snprintf(p, sizeof p, "%s/bad", base);
  r = import(fresh, p, NULL, "bad", &res, &err);
  TAP_OK(r < 0 && err.kind == BERR_INVALID && strstr(err.msg, "digest mismatch"), "corrupt layer in a layout: %s", err.msg);
  TAP_OK(count_in(fresh, "blobs/sha256", -1) == 0 && count_in(fresh, "layers/sha256", -1) == 0 && count_in(fresh, "tmp", -1) == 0,
         "nothing left: blobs %d, layers %d, tmp %d", count_in(fresh, "blobs/sha256", -1), count_in(fresh, "layers/sha256", -1),
         count_in(fresh, "tmp", -1));
  snprintf(p, sizeof p, "%s/bad.tar", base);
  sh("tar -C %s/bad -cf %s .", base, p);
  r = import(fresh, p, NULL, "bad", &res, &err);
  TAP_OK(r < 0 && strstr(err.msg, "digest mismatch") && count_in(fresh, "blobs/sha256", -1) == 0 && count_in(fresh, "tmp", -1) == 0,
         "corrupt blob in an archive: %s", err.msg);
  /* a hostile index: a digest that would be a path */
  sh("cp -a %s/oci %s/evil && printf '%%s' '{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
     "\"digest\":\"sha256:../../../etc/passwd\",\"size\":1}]}' > %s/evil/index.json",
     base, base, base);
  snprintf(p, sizeof p, "%s/evil", base);
  r = import(fresh, p, NULL, "evil", &res, &err);
  TAP_OK(r < 0 && err.kind == BERR_INVALID && strstr(err.msg, "no valid sha256 digest"), "path-like digest refused: %s", err.msg);
  r = image_import(fresh, p, NULL, "evil", NULL, cancel_progress, NULL, &res, &err);
  snprintf(p, sizeof p, "%s/oci", base);
  r = image_import(fresh, p, NULL, "cancelled", NULL, cancel_progress, NULL, &res, &err);
  TAP_OK(r < 0 && count_in(fresh, "blobs/sha256", -1) == 0 && count_in(fresh, "layers/sha256", -1) == 0 && count_in(fresh, "tmp", -1) == 0,
         "a cancelled import leaves nothing (%s)", err.msg);

  /* the primitives: add_layer dedupes, store_add checks diffIDs */
  {
    snprintf(p, sizeof p, "%s/layer.tar", base);
    sh("mkdir -p %s/lt/x && echo hi > %s/lt/x/f && tar -C %s/lt -cf %s .", base, base, base, p);
    struct layer_result lr, lr2;
    bool ex1 = false, ex2 = true;
    r = image_store_add_layer(fresh, p, false, NULL, &lr, &ex1, &err);
    int r2 = image_store_add_layer(fresh, p, false, lr.blob_digest, &lr2, &ex2, &err);
    TAP_OK(r == 0 && r2 == 0 && ex1 && !ex2 && !strcmp(lr.diff_id, lr2.diff_id) && !strcmp(lr.blob_digest, lr.diff_id),
           "add_layer: first extracts, second (known blob) does not (%s)", r || r2 ? err.msg : "ok");
    char bad[DIGEST_STR_LEN + 1];
    snprintf(bad, sizeof bad, "sha256:%064d", 7);
    r = image_store_add_layer(fresh, p, false, bad, &lr2, NULL, &err);
    TAP_OK(r < 0 && strstr(err.msg, "digest mismatch"), "add_layer with a wrong promised digest: %s", err.msg);
    char cfg[600], man[900];
    snprintf(cfg, sizeof cfg, "{\"architecture\":\"amd64\",\"os\":\"linux\",\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"%s\"]}}",
             bad);
    char cd[DIGEST_STR_LEN + 1];
    digest_buffer(cfg, strlen(cfg), cd, &err);
    snprintf(man, sizeof man,
             "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"config\":{\"mediaType\":"
             "\"application/vnd.oci.image.config.v1+json\",\"digest\":\"%s\",\"size\":%zu},\"layers\":[{\"mediaType\":"
             "\"application/vnd.oci.image.layer.v1.tar\",\"digest\":\"%s\",\"size\":%" PRIu64 "}]}",
             cd, strlen(cfg), lr.blob_digest, lr.blob_size);
    const char *tags[] = {"prim:1", "prim@sha256:0000000000000000000000000000000000000000000000000000000000000000", NULL};
    r = image_store_add(fresh, man, strlen(man), cfg, strlen(cfg), tags, &res, NULL, &err);
    TAP_OK(r < 0 && strstr(err.msg, "does not unpack to"), "store_add: diffID mismatch refused: %s", err.msg);
    snprintf(cfg, sizeof cfg, "{\"architecture\":\"amd64\",\"os\":\"linux\",\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"%s\"]}}",
             lr.diff_id);
    digest_buffer(cfg, strlen(cfg), cd, &err);
    snprintf(man, sizeof man,
             "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"config\":{\"mediaType\":"
             "\"application/vnd.oci.image.config.v1+json\",\"digest\":\"%s\",\"size\":%zu},\"layers\":[{\"mediaType\":"
             "\"application/vnd.oci.image.layer.v1.tar\",\"digest\":\"%s\",\"size\":%" PRIu64 "}]}",
             cd, strlen(cfg), lr.blob_digest, lr.blob_size);
    char md[DIGEST_STR_LEN + 1] = "";
    r = image_store_add(fresh, man, strlen(man), cfg, strlen(cfg), tags, &res, md, &err);
    TAP_OK(r == 0 && has_ref(res, "prim:1") && !strcmp(str(res, "id"), cd), "store_add records prim:1 and a digest ref (%s)",
           r ? err.msg : "ok");
    json_object_put(res);
    char dref[200];
    snprintf(dref, sizeof dref, "prim@%s", md);
    r = image_resolve(fresh, dref, &img, &err);
    TAP_OK(r == 0 && !strcmp(img.id, cd), "resolve NAME@<manifest digest> (%s)", r ? err.msg : "ok");
    if (r == 0)
      image_free(&img);

    /* tag, then prune */
    r = image_tag(fresh, "prim:1", "prim:2", &res, &err);
    TAP_OK(r == 0 && has_ref(res, "prim:2") && has_ref(res, "prim:1"), "tag prim:1 as prim:2 (%s)", r ? err.msg : "ok");
    json_object_put(res);
    r = image_tag(fresh, "nope", "x:1", &res, &err);
    TAP_OK(r < 0 && err.kind == BERR_NOT_FOUND, "tag of an unknown image: %s", err.msg);
  }

  /* prune: untagged & unused go; used stays; dangling content goes */
  {
    json_object *out = NULL;
    r = image_remove(fresh, "prim:1", false, NULL, NULL, &out, &err);
    json_object_put(out);
    r |= image_remove(fresh, "prim:2", false, NULL, NULL, &out, &err);
    json_object_put(out);
    TAP_OK(r == 0 && count_in(fresh, "layers/sha256", 1) == 1,
           "prim removed; its layer stays while this process's lease names it (a writer at work counts on it)");
    image_lease_release(fresh); /* as an import does once its images are recorded */
    r = image_prune(fresh, false, NULL, NULL, &out, &err);
    json_object_put(out);
    r |= image_remove(fresh, "prim@sha256:0000000000000000000000000000000000000000000000000000000000000000", false, NULL, NULL, &out, &err);
    json_object_put(out);
    TAP_OK(r == 0 && count_in(fresh, "layers/sha256", -1) == 0, "the next prune takes that layer, the lease let go (%s)", r ? err.msg : "ok");
    snprintf(p, sizeof p, "%s/oci", base);
    r = import(fresh, p, NULL, "keep", &res, &err);
    json_object_put(res);
    /* retag keep:app away: untagged */
    r |= image_tag(fresh, "keep:base", "keep:app", &res, &err);
    json_object_put(res);
    r |= image_import_rootfs(fresh, "/nonexistent", "x", NULL, &res, &err) < 0 ? 0 : 1;
    snprintf(p, sizeof p, "%s/layer.tar", base);
    struct layer_result lr;
    r |= image_store_add_layer(fresh, p, false, NULL, &lr, NULL, &err); /* dangling, fresh */
    sh("mkdir -p %s/tmp/import-dead && touch %s/tmp/partial-not && mkdir -p %s/tmp/partial && touch -d '2 hours ago' %s/tmp/partial/old && touch %s/tmp/partial/new",
       fresh, fresh, fresh, fresh, fresh);
    char *held = NULL;
    int held_fd = image_tmp_create(fresh, "import", &held, &err);
    TAP_OK(r == 0 && held_fd >= 0, "setup: an untagged image, a dangling layer, tmp debris (%s)", r ? err.msg : "ok");
    /* temp files of blob writes: one whose writer is gone (a worker killed mid-write), one of a live writer */
    pid_t gone = fork();
    if (gone == 0)
      _exit(0);
    waitpid(gone, NULL, 0);
    char dead_tmp[1200], live_tmp[1200], reused_tmp[1200];
    snprintf(dead_tmp, sizeof dead_tmp, "%s/blobs/sha256/%064d.tmp.%d", fresh, 7, (int)gone);
    snprintf(live_tmp, sizeof live_tmp, "%s/blobs/sha256/%064d.tmp.%d", fresh, 8, (int)getpid());
    /* written half an hour before this process (its PID) started: another writer's */
    snprintf(reused_tmp, sizeof reused_tmp, "%s/blobs/sha256/%064d.tmp.%d", fresh, 9, (int)getpid());
    sh("touch %s %s && touch -d '30 minutes ago' %s", dead_tmp, live_tmp, reused_tmp);

    used_id = app_id; /* a container uses the untagged app image */
    int trees_before = count_in(fresh, "layers/sha256", 1);
    r = image_prune(fresh, false, in_use, NULL, &out, &err);
    TAP_OK(r == 0 && json_object_array_length(json_object_object_get(out, "removed")) == 0, "prune keeps the untagged image a container uses");
    json_object_put(out);
    TAP_OK(count_in(fresh, "layers/sha256", 1) == trees_before, "... and the dangling layer, which this process's lease holds");
    snprintf(p, sizeof p, "%s/tmp/import-dead", fresh);
    TAP_OK(stat(p, &st) < 0 && stat(held, &st) == 0, "tmp debris removed, a held work dir kept");
    snprintf(p, sizeof p, "%s/tmp/partial/old", fresh);
    snprintf(p2, sizeof p2, "%s/tmp/partial/new", fresh);
    TAP_OK(stat(p, &st) < 0 && stat(p2, &st) == 0, "stale partial upload removed, a fresh one kept");
    TAP_OK(stat(dead_tmp, &st) < 0 && stat(live_tmp, &st) == 0,
           "a blob temp file whose writer is gone removed at once, a live writer's kept");
    TAP_OK(stat(reused_tmp, &st) < 0, "... and one whose PID a later process took");

    used_id = NULL;
    image_lease_release(fresh); /* the writer is done without an image: what it added may go */
    r = image_prune_grace(fresh, false, in_use, NULL, 0, &out, &err);
    TAP_OK(r == 0 && json_object_array_length(json_object_object_get(out, "removed")) == 1 &&
               !strcmp(json_object_get_string(json_object_array_get_idx(json_object_object_get(out, "removed"), 0)), app_id) &&
               json_object_get_int64(json_object_object_get(out, "reclaimedBytes")) > 0,
           "no container: prune removes the untagged app (%s)", r ? err.msg : json_object_to_json_string(out));
    json_object_put(out);
    r = image_resolve(fresh, "keep:app", &img, &err);
    TAP_OK(r == 0, "keep:app (the base image) still resolves");
    if (r == 0)
      image_free(&img);
    json_object *list = NULL;
    image_list(fresh, &list, &err);
    TAP_OK(json_object_array_length(images_of(list)) == 1 && count_in(fresh, "layers/sha256", 1) == 1,
           "one image left, its layer tree only (%d)", count_in(fresh, "layers/sha256", 1));
    json_object_put(list);
    snprintf(p2, sizeof p2, "%s/leases", fresh);
    TAP_OK(count(p2, -1) == 0, "a lease nobody holds is deleted by prune");

    /* another process adding a layer: a prune meanwhile keeps it; once that
     * process is gone without recording an image, the next prune removes it */
    snprintf(p, sizeof p, "%s/layer.tar", base);
    int up[2], down[2];
    if (pipe(up) < 0 || pipe(down) < 0)
      return 1;
    pid_t child = fork();
    if (child == 0) {
      close(up[0]);
      close(down[1]); /* so the parent's close is our EOF */
      struct layer_result clr;
      berr_t cerr;
      char c = image_store_add_layer(fresh, p, false, NULL, &clr, NULL, &cerr) == 0 ? 'y' : 'n';
      if (write(up[1], &c, 1) != 1 || read(down[0], &c, 1) < 0)
        _exit(1);
      _exit(0);
    }
    char c = 'n';
    TAP_OK(child > 0 && read(up[0], &c, 1) == 1 && c == 'y', "setup: another process adds a layer no image names");
    r = image_prune(fresh, false, in_use, NULL, &out, &err);
    json_object_put(out);
    TAP_OK(r == 0 && count_in(fresh, "layers/sha256", 1) == 2, "a prune while it works keeps that layer (its lease is held)");
    close(down[1]);
    int status;
    waitpid(child, &status, 0);
    close(up[0]);
    close(up[1]);
    close(down[0]);
    sh("touch %s/tmp/partial/%s", fresh, "a5f1c0ffee00000000000000000000000000000000000000000000000000beef");
    r = image_prune(fresh, false, in_use, NULL, &out, &err);
    json_object_put(out);
    TAP_OK(r == 0 && count_in(fresh, "layers/sha256", 1) == 1 && count(p2, -1) == 0,
           "the writer gone without an image: the next prune removes its layer and its lease");
    snprintf(p2, sizeof p2, "%s/tmp/partial", fresh);
    TAP_OK(count(p2, -1) == 0, "... and a partial upload no lease names");
    r = image_prune_grace(fresh, true, NULL, NULL, 0, &out, &err);
    json_object_put(out);
    TAP_OK(r == 0 && count_in(fresh, "blobs/sha256", -1) == 0 && count_in(fresh, "layers/sha256", -1) == 0,
           "prune all: store empty");
    close(held_fd);
    rm_rf(held, &err);
    free(held);
  }

  /* bzip2 and xz rootfs tarballs (stored decompressed) */
  sh("mkdir -p %s/rf/etc && echo x > %s/rf/etc/x && tar -C %s/rf -cjf %s/rf.tar.bz2 . && tar -C %s/rf -cJf %s/rf.tar.xz . && tar -C %s/rf -cf %s/rf.tar .",
     base, base, base, base, base, base, base, base);
  const char *comp[] = {"rf.tar.bz2", "rf.tar.xz"};
  char want[200];
  snprintf(p, sizeof p, "sha256sum %s/rf.tar", base);
  FILE *f = popen(p, "r");
  char hex[65] = "";
  if (f && fscanf(f, "%64s", hex) != 1)
    hex[0] = '\0';
  if (f)
    pclose(f);
  snprintf(want, sizeof want, "sha256:%s", hex);
  for (int i = 0; i < 2; i++) {
    snprintf(p, sizeof p, "%s/%s", base, comp[i]);
    r = import(fresh, p, NULL, "rf", &res, &err);
    json_object_put(res);
    r |= image_inspect(fresh, "rf", &ins, &err);
    json_object *l0 = json_object_array_get_idx(json_object_object_get(ins, "layers"), 0);
    TAP_OK(r == 0 && !strcmp(str(l0, "diffId"), want) && !strcmp(str(l0, "digest"), want) &&
               !strcmp(str(l0, "mediaType"), "application/vnd.oci.image.layer.v1.tar"),
           "%s: a plain tar layer, digest = diffID = sha256 of the tar (%s)", comp[i], r ? err.msg : "ok");
    if (r == 0)
      json_object_put(ins);
  }

  rm_rf(base, &err);
  printf("1..%d\n", tap_n);
  TAP_DONE();
}
