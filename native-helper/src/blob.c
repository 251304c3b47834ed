/* Registry pulls, the store's side: the client (electron/core/registry) talks
 * to the registry and streams each blob here; berthd trusts nothing it is
 * sent: digests are checked before they become paths, every byte is hashed,
 * and layers are extracted by the same code as imports. */
#include "blob.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "blob-upload.h"
#include "cleanup.h"
#include "http.h"
#include "image-internal.h"
#include "protocol.h"
#include "server.h"
#include "stream.h"
#include "util.h"
#include "worker.h"

/* A client that sends nothing for this long is taken as gone (the registry it
 * downloads from may stall for a while; the partial upload stays for resume). */
#define PUT_IDLE_MS (5 * 60 * 1000)
/* More refs than this on one image.create is not a pull. */
#define CREATE_MAX_REFS 16

static int param_digest(json_object *params, const char *key, const char **out, berr_t *err) {
  if (param_string(params, key, true, out, err) < 0)
    return -1;
  if (!digest_is_valid(*out))
    return berr_set(err, BERR_INVALID, "`%s` must be sha256: and 64 lowercase hex digits, not \"%.80s\"",
                    key, *out);
  return 0;
}

/* The diffID whose layer meta lists digest among its blobs: 1 found, 0 not. */
static int find_layer_of_blob(const char *root, const char *digest, char diff_id[DIGEST_STR_LEN + 1],
                              berr_t *err) {
  char any[4200];
  snprintf(any, sizeof any, "%s/layers/sha256", root);
  cleanup_dir DIR *d = opendir(any);
  if (!d) {
    if (errno == ENOENT)
      return 0;
    return berr_sys(err, errno, "open `%s`", any);
  }
  struct dirent *de;
  while ((errno = 0, de = readdir(d))) {
    size_t n = strlen(de->d_name);
    if (n != DIGEST_HEX_LEN + 5 || strcmp(de->d_name + DIGEST_HEX_LEN, ".json"))
      continue;
    char cand[DIGEST_STR_LEN + 1];
    snprintf(cand, sizeof cand, "sha256:%.*s", DIGEST_HEX_LEN, de->d_name);
    if (!digest_is_valid(cand))
      continue;
    cleanup_free char *path = image_layer_meta_path(root, cand);
    if (!path)
      return berr_sys(err, ENOMEM, "layer meta path");
    json_object *meta = NULL;
    berr_t e;
    if (json_read_file(path, &meta, &e) < 0)
      continue; /* being written or damaged: not evidence of this blob */
    json_object *blobs = NULL, *dg = NULL;
    bool hit = (json_object_object_get_ex(meta, "blobs", &blobs) &&
                json_object_is_type(blobs, json_type_object) &&
                json_object_object_get_ex(blobs, digest, NULL)) ||
               (json_object_object_get_ex(meta, "digest", &dg) &&
                json_object_is_type(dg, json_type_string) &&
                !strcmp(json_object_get_string(dg), digest));
    json_object_put(meta);
    if (hit) {
      memcpy(diff_id, cand, sizeof cand);
      return 1;
    }
  }
  if (errno)
    return berr_sys(err, errno, "read the directory `%s`", any);
  return 0;
}

static bool is_dir(const char *p) {
  struct stat st;
  return lstat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

int blob_stat(const char *root, json_object *params, json_object **result, berr_t *err) {
  static const char *const keys[] = {"digest", "mediaType", "lease", NULL};
  const char *digest, *media_type, *lease;
  if (param_check_keys(params, "image.blob.stat", keys, err) < 0 ||
      param_digest(params, "digest", &digest, err) < 0 ||
      param_string(params, "mediaType", false, &media_type, err) < 0 ||
      param_string(params, "lease", false, &lease, err) < 0)
    return -1;
  cleanup_free char *blob = image_blob_path(root, digest);
  cleanup_free char *partial = blob_partial_path(root, digest);
  if (!blob || !partial)
    return berr_sys(err, ENOMEM, "blob paths");

  /* no store lock: this runs in the daemon's loop, which must not wait for a
   * writer; the answer is a snapshot either way */
  struct stat st;
  bool present = false;
  int64_t size = -1;
  int sr = stat(blob, &st);
  if (sr < 0 && errno != ENOENT && errno != ENOTDIR)
    return berr_sys(err, errno, "stat `%s`", blob);
  if (sr == 0 && S_ISREG(st.st_mode)) {
    size = st.st_size;
    char diff_id[DIGEST_STR_LEN + 1];
    int found = find_layer_of_blob(root, digest, diff_id, err);
    if (found < 0)
      return -1;
    if (found) {
      /* a layer counts only with its tree: pulls skip what is present */
      cleanup_free char *dir = image_layer_dir(root, diff_id);
      if (!dir)
        return berr_sys(err, ENOMEM, "layer dir path");
      present = is_dir(dir);
      /* the pull will skip it: from now on its lease keeps it for image.create */
      if (present && lease &&
          (image_lease_note_to(root, lease, digest, err) < 0 || image_lease_note_to(root, lease, diff_id, err) < 0))
        return -1;
    } else {
      /* a blob no layer meta names: a config or manifest, unless the caller
       * says it is a layer (then it was left half-added) */
      present = !blob_is_layer_media_type(media_type);
      if (present && lease && image_lease_note_to(root, lease, digest, err) < 0)
        return -1;
    }
  }
  int64_t partial_size = 0;
  sr = stat(partial, &st);
  if (sr < 0 && errno != ENOENT && errno != ENOTDIR)
    return berr_sys(err, errno, "stat `%s`", partial);
  if (sr == 0 && S_ISREG(st.st_mode))
    partial_size = st.st_size;

  json_object *o = json_object_new_object();
  json_object_object_add(o, "present", json_object_new_boolean(present));
  if (present)
    json_object_object_add(o, "size", json_object_new_int64(size));
  json_object_object_add(o, "partial", json_object_new_int64(partial_size));
  *result = o;
  return 0;
}

/* The fields image.blob.put and image.blob.fetch share. */
static int parse_blob(json_object *params, struct blob_put_req *req, berr_t *err) {
  const char *digest, *mt, *lease;
  if (param_digest(params, "digest", &digest, err) < 0 ||
      param_string(params, "lease", false, &lease, err) < 0 ||
      param_string(params, "mediaType", true, &mt, err) < 0 ||
      param_int(params, "size", 0, 0, INT64_MAX - 1, &req->size, NULL, err) < 0)
    return -1;
  if (!json_object_object_get_ex(params, "size", NULL))
    return berr_set(err, BERR_BAD_REQUEST, "the blob's `size` is missing");
  if (strlen(mt) >= sizeof req->media_type)
    return berr_set(err, BERR_INVALID, "`mediaType` is longer than %zu bytes", sizeof req->media_type - 1);
  int64_t cap = image_max_layer_bytes();
  if (req->size > cap)
    return berr_set(err, BERR_LIMIT, "blob %s is %" PRId64 " bytes, over the limit of %" PRId64, digest,
                    req->size, cap);
  if (lease && !image_lease_id_is_valid(lease))
    return berr_set(err, BERR_INVALID, "`lease` must be 32 lowercase hex digits (from image.lease)");
  snprintf(req->digest, sizeof req->digest, "%s", digest);
  snprintf(req->media_type, sizeof req->media_type, "%s", mt);
  snprintf(req->lease, sizeof req->lease, "%s", lease ? lease : "");
  req->offset = 0;
  return 0;
}

int blob_put_parse(json_object *params, struct blob_put_req *req, berr_t *err) {
  static const char *const keys[] = {"digest", "size", "mediaType", "offset", "lease", NULL};
  if (param_check_keys(params, "image.blob.put", keys, err) < 0 || parse_blob(params, req, err) < 0 ||
      param_int(params, "offset", 0, 0, INT64_MAX - 1, &req->offset, NULL, err) < 0)
    return -1;
  if (req->offset > req->size)
    return berr_set(err, BERR_INVALID, "`offset` %" PRId64 " is past the blob's size %" PRId64,
                    req->offset, req->size);
  return 0;
}

int blob_fetch_parse(json_object *params, struct blob_fetch_req *req, berr_t *err) {
  static const char *const keys[] = {"digest", "size", "mediaType", "lease", "url", "authorization", "insecure", NULL};
  const char *url, *auth;
  if (param_check_keys(params, "image.blob.fetch", keys, err) < 0 || parse_blob(params, &req->blob, err) < 0 ||
      param_string(params, "url", true, &url, err) < 0 ||
      param_string(params, "authorization", false, &auth, err) < 0 ||
      param_bool(params, "insecure", false, &req->insecure, err) < 0)
    return -1;
  if (!http_url_is_acceptable(url))
    return berr_set(err, BERR_INVALID, "`url` must be an http:// or https:// URL of printable ASCII, at most 4096 bytes");
  if (auth && (!http_header_value_is_acceptable(auth) || strlen(auth) >= sizeof req->authorization))
    return berr_set(err, BERR_INVALID, "`authorization` must be one line of printable ASCII, at most 8192 bytes");
  snprintf(req->url, sizeof req->url, "%s", url);
  snprintf(req->authorization, sizeof req->authorization, "%s", auth ? auth : "");
  return 0;
}

/* Receives STDIN frames until STDIN_EOF. Fails on a closed connection (the
 * partial stays). */
static int receive(struct blob_upload *u, berr_t *err) {
  for (;;) {
    uint8_t type;
    const uint8_t *payload;
    uint32_t len;
    int r = worker_read(u->w, &type, &payload, &len, PUT_IDLE_MS, err);
    if (r < 0)
      return -1;
    if (r == FRAME_EOF)
      return berr_set(err, BERR_INVALID, "the client closed the upload of %s after %" PRId64 " of %" PRId64 " bytes (kept for resume)",
                      u->req->digest, u->have, u->req->size);
    if (type == FRAME_STDIN_EOF)
      return 0;
    if (type != FRAME_STDIN)
      return berr_set(err, BERR_BAD_REQUEST, "image.blob.put takes STDIN and STDIN_EOF frames, not type %u", type);
    if (blob_upload_write(u, payload, len, err) < 0)
      return -1;
  }
}

int blob_put(struct worker *w, const char *root, const struct blob_put_req *req,
             json_object **result, berr_t *err) {
  struct blob_upload u;
  int r = blob_upload_open(&u, w, root, req, err);
  if (r == 0)
    r = blob_upload_begin(&u, req->offset, err);
  if (r == 0)
    r = receive(&u, err);
  if (r == 0)
    r = blob_upload_end(&u, result, err);
  blob_upload_close(&u);
  return r;
}

static int add_ref(const char **refs, size_t *n, json_object *v, const char *field, berr_t *err) {
  if (!json_object_is_type(v, json_type_string) || !json_string_is_clean(v))
    return berr_set(err, BERR_BAD_REQUEST, "`%s` must hold strings", field);
  if (*n >= CREATE_MAX_REFS)
    return berr_set(err, BERR_INVALID, "at most %d refs on one image", CREATE_MAX_REFS);
  refs[(*n)++] = json_object_get_string(v);
  return 0;
}

int blob_image_create(const char *root, json_object *params, json_object **result, berr_t *err) {
  static const char *const keys[] = {"manifest", "config", "ref", "extraRefs", NULL};
  if (param_check_keys(params, "image.create", keys, err) < 0)
    return -1;
  json_object *mv = json_object_object_get(params, "manifest");
  json_object *cv = json_object_object_get(params, "config");
  if (!mv || !cv || !json_object_is_type(mv, json_type_string) || !json_object_is_type(cv, json_type_string) ||
      !json_string_is_clean(mv) || !json_string_is_clean(cv))
    return berr_set(err, BERR_BAD_REQUEST, "image.create needs `manifest` and `config` as JSON texts (strings)");
  const char *manifest = json_object_get_string(mv), *config = json_object_get_string(cv);
  size_t mlen = (size_t)json_object_get_string_len(mv), clen = (size_t)json_object_get_string_len(cv);

  const char *refs[CREATE_MAX_REFS + 1];
  size_t n = 0;
  json_object *ref = json_object_object_get(params, "ref");
  if (ref && add_ref(refs, &n, ref, "ref", err) < 0)
    return -1;
  json_object *extra = json_object_object_get(params, "extraRefs");
  if (extra) {
    if (!json_object_is_type(extra, json_type_array))
      return berr_set(err, BERR_BAD_REQUEST, "`extraRefs` must be an array of strings");
    for (size_t i = 0; i < json_object_array_length(extra); i++)
      if (add_ref(refs, &n, json_object_array_get_idx(extra, i), "extraRefs", err) < 0)
        return -1;
  }
  refs[n] = NULL;

  /* the manifest must name exactly these config bytes */
  json_object *m = json_tokener_parse(manifest);
  if (!m || !json_object_is_type(m, json_type_object)) {
    json_object_put(m);
    return berr_set(err, BERR_INVALID, "`manifest` is not a JSON object");
  }
  json_object *cfg = NULL, *cd = NULL;
  const char *named = NULL;
  if (json_object_object_get_ex(m, "config", &cfg) && json_object_object_get_ex(cfg, "digest", &cd) &&
      json_object_is_type(cd, json_type_string))
    named = json_object_get_string(cd);
  char have[DIGEST_STR_LEN + 1];
  int rc = 0;
  if (!named || !digest_is_valid(named))
    rc = berr_set(err, BERR_INVALID, "the manifest names no sha256 config digest");
  else if (digest_buffer(config, clen, have, err) < 0)
    rc = -1;
  else if (strcmp(have, named))
    rc = berr_set(err, BERR_INVALID, "digest mismatch: the manifest names config %s, the config text hashes to %s",
                  named, have);
  json_object_put(m);
  if (rc < 0)
    return -1;
  return image_store_add(root, manifest, mlen, config, clen, n ? refs : NULL, result, NULL, err);
}

int blob_lease_hold(struct worker *w, const char *root, json_object **result, berr_t *err) {
  char id[IMAGE_LEASE_ID_LEN + 1];
  cleanup_close int fd = image_lease_create(root, id, err);
  if (fd < 0)
    return -1;
  cleanup_free char *path = NULL;
  if (asprintf(&path, "%s/leases/%s", root, id) < 0)
    return berr_sys(err, ENOMEM, "lease path");
  int ret = worker_progress(w, blob_progress_event("lease", id, -1, -1), err);
  /* held until the client closes the connection; what it sends is ignored */
  while (ret == 0) {
    uint8_t type;
    const uint8_t *payload;
    uint32_t len;
    int r = worker_read(w, &type, &payload, &len, -1, err);
    if (r < 0)
      ret = -1;
    else if (r == FRAME_EOF)
      break;
  }
  /* ended: what it listed is no longer protected */
  if (unlink(path) < 0 && errno != ENOENT)
    berthd_log("remove lease `%s`: %s", path, strerror(errno));
  if (ret == 0)
    *result = json_object_new_object();
  return ret;
}
