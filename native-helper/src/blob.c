/* Registry pulls, the store's side: the client (electron/core/registry) talks
 * to the registry and streams each blob here; berthd trusts nothing it is
 * sent: digests are checked before they become paths, every byte is hashed,
 * and layers are extracted by the same code as imports. */
#include "blob.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "image-internal.h"
#include "protocol.h"
#include "server.h"
#include "stream.h"
#include "util.h"
#include "worker.h"

/* A client that sends nothing for this long is taken as gone (the registry it
 * downloads from may stall for a while; the partial upload stays for resume). */
#define PUT_IDLE_MS (5 * 60 * 1000)
/* How long an upload waits for another upload of the same blob to end. */
#define PUT_LOCK_WAIT_MS 5000
/* Progress frames at most this often while bytes arrive. */
#define PROGRESS_EVERY_US 100000
/* More refs than this on one image.create is not a pull. */
#define CREATE_MAX_REFS 16

bool blob_is_layer_media_type(const char *mt) {
  static const char *const types[] = {
      "application/vnd.oci.image.layer.v1.tar",
      "application/vnd.oci.image.layer.v1.tar+gzip",
      "application/vnd.oci.image.layer.v1.tar+zstd",
      "application/vnd.oci.image.layer.nondistributable.v1.tar",
      "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
      "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",
      IMAGE_MEDIA_DOCKER_LAYER,
      "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
  };
  for (size_t i = 0; mt && i < sizeof types / sizeof types[0]; i++)
    if (!strcmp(mt, types[i]))
      return true;
  return false;
}

static int param_digest(json_object *params, const char *key, const char **out, berr_t *err) {
  if (param_string(params, key, true, out, err) < 0)
    return -1;
  if (!digest_is_valid(*out))
    return berr_set(err, BERR_INVALID, "`%s` must be sha256: and 64 lowercase hex digits, not \"%.80s\"",
                    key, *out);
  return 0;
}

/* <root>/tmp/partial/<hex> (malloc'd). */
static char *partial_path(const char *root, const char *digest) {
  cleanup_free char *dir = image_partial_dir(root);
  if (!dir)
    return NULL;
  char *p = NULL;
  if (asprintf(&p, "%s/%s", dir, digest_hex(digest)) < 0)
    return NULL;
  return p;
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
  cleanup_free char *partial = partial_path(root, digest);
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

int blob_put_parse(json_object *params, struct blob_put_req *req, berr_t *err) {
  static const char *const keys[] = {"digest", "size", "mediaType", "offset", "lease", NULL};
  const char *digest, *mt, *lease;
  if (param_check_keys(params, "image.blob.put", keys, err) < 0 ||
      param_digest(params, "digest", &digest, err) < 0 ||
      param_string(params, "lease", false, &lease, err) < 0 ||
      param_string(params, "mediaType", true, &mt, err) < 0 ||
      param_int(params, "size", 0, 0, INT64_MAX - 1, &req->size, NULL, err) < 0 ||
      param_int(params, "offset", 0, 0, INT64_MAX - 1, &req->offset, NULL, err) < 0)
    return -1;
  if (!json_object_object_get_ex(params, "size", NULL))
    return berr_set(err, BERR_BAD_REQUEST, "image.blob.put needs `size`");
  if (strlen(mt) >= sizeof req->media_type)
    return berr_set(err, BERR_INVALID, "`mediaType` is longer than %zu bytes", sizeof req->media_type - 1);
  int64_t cap = image_max_layer_bytes();
  if (req->size > cap)
    return berr_set(err, BERR_LIMIT, "blob %s is %" PRId64 " bytes, over the limit of %" PRId64, digest,
                    req->size, cap);
  if (req->offset > req->size)
    return berr_set(err, BERR_INVALID, "`offset` %" PRId64 " is past the blob's size %" PRId64,
                    req->offset, req->size);
  if (lease && !image_lease_id_is_valid(lease))
    return berr_set(err, BERR_INVALID, "`lease` must be 32 lowercase hex digits (from image.lease)");
  snprintf(req->digest, sizeof req->digest, "%s", digest);
  snprintf(req->media_type, sizeof req->media_type, "%s", mt);
  snprintf(req->lease, sizeof req->lease, "%s", lease ? lease : "");
  return 0;
}

static json_object *progress(const char *phase, const char *item, int64_t done, int64_t total) {
  json_object *ev = json_object_new_object();
  json_object_object_add(ev, "phase", json_object_new_string(phase));
  json_object_object_add(ev, "item", json_object_new_string(item));
  if (done >= 0)
    json_object_object_add(ev, "done", json_object_new_int64(done));
  if (total >= 0)
    json_object_object_add(ev, "total", json_object_new_int64(total));
  return ev;
}

/* Passes bytes on to a layer's extractor. One that stopped reading (EPIPE)
 * has failed on what it got, and says why when it is waited for: the rest of
 * the blob is still received and kept, so that a digest mismatch is told as one. */
static int feed_extractor(int *feed, const void *data, size_t len, berr_t *err) {
  if (*feed < 0)
    return 0;
  if (write_all(*feed, data, len) == 0)
    return 0;
  if (errno != EPIPE)
    return berr_sys(err, errno, "pass the layer on to its extractor");
  close(*feed);
  *feed = -1;
  return 0;
}

/* The first n bytes of fd (what an earlier upload kept) into the digest d
 * (other blobs) or down the feed (a layer's extractor), before what comes now. */
static int replay_kept(int fd, int64_t n, const char *path, struct digest *d, int *feed, berr_t *err) {
  static uint8_t buf[256 * 1024];
  for (int64_t off = 0; off < n && (d || *feed >= 0);) {
    size_t want = (size_t)(n - off < (int64_t)sizeof buf ? n - off : (int64_t)sizeof buf);
    ssize_t r = pread(fd, buf, want, off);
    if (r < 0 && errno == EINTR)
      continue;
    if (r < 0)
      return berr_sys(err, errno, "read `%s`", path);
    if (r == 0)
      return berr_set(err, BERR_INTERNAL, "`%s` shrank while it was read", path);
    if ((d && digest_update(d, buf, (size_t)r, err) < 0) || feed_extractor(feed, buf, (size_t)r, err) < 0)
      return -1;
    off += r;
  }
  return 0;
}

/* Receives STDIN frames into fd (positioned at the end of the kept bytes)
 * until STDIN_EOF, and down *feed (>= 0: a layer's extractor) too. Fails on a
 * closed connection (the partial stays). */
static int receive(struct worker *w, const struct blob_put_req *req, int fd, const char *path,
                   struct digest *d, int *feed, int64_t *have, berr_t *err) {
  /* d is NULL for layers: their extraction hashes every byte anyway */
  int64_t last_us = 0;
  for (;;) {
    uint8_t type;
    const uint8_t *payload;
    uint32_t len;
    int r = worker_read(w, &type, &payload, &len, PUT_IDLE_MS, err);
    if (r < 0)
      return -1;
    if (r == FRAME_EOF)
      return berr_set(err, BERR_INVALID, "the client closed the upload of %s after %" PRId64 " of %" PRId64 " bytes (kept for resume)",
                      req->digest, *have, req->size);
    if (type == FRAME_STDIN_EOF)
      return 0;
    if (type != FRAME_STDIN)
      return berr_set(err, BERR_BAD_REQUEST, "image.blob.put takes STDIN and STDIN_EOF frames, not type %u", type);
    if ((int64_t)len > req->size - *have)
      return berr_set(err, BERR_INVALID, "blob %s: more than the announced %" PRId64 " bytes came", req->digest, req->size);
    if (write_all(fd, payload, len) < 0)
      return berr_sys(err, errno, "write `%s`", path);
    if (d && digest_update(d, payload, len, err) < 0)
      return -1;
    if (feed_extractor(feed, payload, len, err) < 0)
      return -1;
    *have += len;
    int64_t now = mono_us();
    if (now - last_us >= PROGRESS_EVERY_US || *have == req->size) {
      last_us = now;
      if (worker_progress(w, progress("write", req->digest, *have, req->size), err) < 0)
        return -1;
    }
  }
}

/* A verified blob that is not a layer: renamed into blobs/ under the lock. */
static int store_plain_blob(const char *root, const char *path, const char *digest, berr_t *err) {
  cleanup_free char *blob = image_blob_path(root, digest);
  if (!blob)
    return berr_sys(err, ENOMEM, "blob path");
  cleanup_free char *dir = strdup(blob);
  if (!dir)
    return berr_sys(err, ENOMEM, "blob path");
  *strrchr(dir, '/') = '\0';
  cleanup_close int lock = image_store_lock(root, LOCK_EX, err);
  if (lock < 0 || mkdir_p(dir, 0700, err) < 0)
    return -1;
  if (rename(path, blob) < 0)
    return berr_sys(err, errno, "rename `%s` to `%s`", path, blob);
  return 0;
}

int blob_put(struct worker *w, const char *root, const struct blob_put_req *req,
             json_object **result, berr_t *err) {
  cleanup_free char *dir = image_partial_dir(root);
  cleanup_free char *path = partial_path(root, req->digest);
  if (!dir || !path)
    return berr_sys(err, ENOMEM, "partial upload path");
  if (mkdir_p(dir, 0700, err) < 0)
    return -1;
  /* the client's lease keeps the partial upload and then the blob until image.create */
  if (req->lease[0] && (image_lease_join(root, req->lease, err) < 0 || image_lease_note(root, req->digest, err) < 0))
    return -1;
  cleanup_close int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0)
    return berr_sys(err, errno, "open `%s`", path);
  /* one upload of a blob at a time: two writers would interleave their bytes.
   * A cancelled upload's worker lets go within moments, so wait a little. */
  for (int64_t until = mono_us() + PUT_LOCK_WAIT_MS * 1000;;) {
    if (flock(fd, LOCK_EX | LOCK_NB) == 0)
      break;
    if (errno != EWOULDBLOCK && errno != EINTR)
      return berr_sys(err, errno, "flock `%s`", path);
    if (mono_us() > until)
      return berr_set(err, BERR_CONFLICT, "another upload of blob %s is in progress", req->digest);
    usleep(20000);
  }
  struct stat st, at_path;
  if (fstat(fd, &st) < 0)
    return berr_sys(err, errno, "fstat `%s`", path);
  /* an upload that finished between our open and flock moved this very file
   * into blobs/: never truncate a stored blob */
  if (stat(path, &at_path) < 0 || at_path.st_ino != st.st_ino || at_path.st_dev != st.st_dev)
    return berr_set(err, BERR_CONFLICT, "another upload of blob %s finished meanwhile", req->digest);
  if (req->offset > st.st_size)
    return berr_set(err, BERR_INVALID, "`offset` %" PRId64 " is past the %" PRId64 " bytes kept of blob %s",
                    req->offset, (int64_t)st.st_size, req->digest);
  if (ftruncate(fd, req->offset) < 0)
    return berr_sys(err, errno, "truncate `%s`", path);
  if (lseek(fd, req->offset, SEEK_SET) < 0)
    return berr_sys(err, errno, "lseek `%s`", path);

  /* A layer is hashed by its extraction (the digest checked against
   * req->digest before anything is stored); hashing it here too would cost a
   * pass over every byte. Other blobs: here. A layer the store lacks is
   * extracted while it comes: every byte goes to the partial file (kept for a
   * resume) and down a pipe to the extractor, so that what is left at the
   * last byte is the extraction of the last bytes. */
  bool layer = blob_is_layer_media_type(req->media_type);
  struct digest d;
  if (!layer && digest_init(&d, err) < 0)
    return -1;
  struct image_layer_stream ls;
  int feed = -1;
  bool streaming = layer && !image_layer_blob_known(root, req->digest);
  if (streaming) {
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0)
      return berr_sys(err, errno, "pipe");
    (void)fcntl(p[1], F_SETPIPE_SZ, 1 << 20); /* fewer wake-ups between the two */
    int r = image_layer_stream_begin(root, p[0], p[1], req->digest, &ls, err);
    close(p[0]);
    if (r < 0) {
      close(p[1]);
      return -1;
    }
    feed = p[1];
  }
  int64_t have = req->offset;
  int r = 0;
  if (!layer || streaming)
    r = replay_kept(fd, req->offset, path, layer ? NULL : &d, &feed, err);
  if (r == 0)
    r = receive(w, req, fd, path, layer ? NULL : &d, &feed, &have, err);
  if (feed >= 0)
    close(feed); /* the end of the stream, for the extractor */
  if (streaming && (r < 0 || have != req->size))
    image_layer_stream_abort(&ls);
  if (r < 0) {
    if (!layer)
      digest_free(&d);
    return -1;
  }
  char got[DIGEST_STR_LEN + 1] = "";
  if (!layer && digest_final(&d, got, err) < 0)
    return -1;
  if (have != req->size || (!layer && strcmp(got, req->digest))) {
    if (unlink(path) < 0)
      berthd_log("remove `%s`: %s", path, strerror(errno));
    if (have != req->size)
      return berr_set(err, BERR_INVALID, "blob %s: %" PRId64 " bytes came, %" PRId64 " were announced",
                      req->digest, have, req->size);
    return berr_set(err, BERR_INVALID, "digest mismatch: the bytes sent for %s hash to %s", req->digest, got);
  }

  json_object *res = json_object_new_object();
  json_object_object_add(res, "digest", json_object_new_string(req->digest));
  json_object_object_add(res, "size", json_object_new_int64(req->size));
  if (!layer) {
    if (store_plain_blob(root, path, req->digest, err) < 0) {
      json_object_put(res);
      return -1;
    }
    *result = res;
    return 0;
  }
  if (worker_progress(w, progress("extract", req->digest, 0, req->size), err) < 0) {
    if (streaming)
      image_layer_stream_abort(&ls);
    json_object_put(res);
    return -1;
  }
  struct layer_result lr;
  bool extracted = false;
  if ((streaming ? image_layer_stream_end(root, &ls, path, req->digest, &lr, &extracted, err)
                 : image_store_add_layer(root, path, true, req->digest, &lr, &extracted, err)) < 0) {
    /* wrong bytes (digest mismatch) or a bad tarball: nothing to resume */
    if (unlink(path) < 0 && errno != ENOENT)
      berthd_log("remove `%s`: %s", path, strerror(errno));
    json_object_put(res);
    return berr_wrap(err, "layer %s", req->digest);
  }
  /* moved into blobs/ unless it was on another file system and copied */
  if (unlink(path) < 0 && errno != ENOENT)
    berthd_log("remove `%s`: %s", path, strerror(errno));
  json_object_object_add(res, "diffId", json_object_new_string(lr.diff_id));
  if (worker_progress(w, progress("extract", req->digest, req->size, req->size), err) < 0) {
    json_object_put(res);
    return -1;
  }
  *result = res;
  return 0;
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
  int ret = worker_progress(w, progress("lease", id, -1, -1), err);
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
