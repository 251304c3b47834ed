#include "blob-upload.h"

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
#include "server.h"
#include "util.h"
#include "worker.h"

/* How long an upload waits for another upload of the same blob to end. */
#define PUT_LOCK_WAIT_MS 5000
/* Progress frames at most this often while bytes arrive. */
#define PROGRESS_EVERY_US 100000

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

char *blob_partial_path(const char *root, const char *digest) {
  cleanup_free char *dir = image_partial_dir(root);
  if (!dir)
    return NULL;
  char *p = NULL;
  if (asprintf(&p, "%s/%s", dir, digest_hex(digest)) < 0)
    return NULL;
  return p;
}

json_object *blob_progress_event(const char *phase, const char *item, int64_t done, int64_t total) {
  json_object *ev = json_object_new_object();
  json_object_object_add(ev, "phase", json_object_new_string(phase));
  json_object_object_add(ev, "item", json_object_new_string(item));
  if (done >= 0)
    json_object_object_add(ev, "done", json_object_new_int64(done));
  if (total >= 0)
    json_object_object_add(ev, "total", json_object_new_int64(total));
  return ev;
}

int blob_upload_open(struct blob_upload *u, struct worker *w, const char *root,
                     const struct blob_put_req *req, berr_t *err) {
  *u = (struct blob_upload){.w = w, .root = root, .req = req, .fd = -1};
  cleanup_free char *dir = image_partial_dir(root);
  u->path = blob_partial_path(root, req->digest);
  if (!dir || !u->path)
    return berr_sys(err, ENOMEM, "partial upload path");
  if (mkdir_p(dir, 0700, err) < 0)
    return -1;
  /* the client's lease keeps the partial upload and then the blob until image.create */
  if (req->lease[0] && (image_lease_join(root, req->lease, err) < 0 || image_lease_note(root, req->digest, err) < 0))
    return -1;
  u->fd = open(u->path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (u->fd < 0)
    return berr_sys(err, errno, "open `%s`", u->path);
  /* one upload of a blob at a time: two writers would interleave their bytes.
   * A cancelled upload's worker lets go within moments, so wait a little. */
  for (int64_t until = mono_us() + PUT_LOCK_WAIT_MS * 1000;;) {
    if (flock(u->fd, LOCK_EX | LOCK_NB) == 0)
      break;
    if (errno != EWOULDBLOCK && errno != EINTR)
      return berr_sys(err, errno, "flock `%s`", u->path);
    if (mono_us() > until)
      return berr_set(err, BERR_CONFLICT, "another upload of blob %s is in progress", req->digest);
    usleep(20000);
  }
  struct stat st, at_path;
  if (fstat(u->fd, &st) < 0)
    return berr_sys(err, errno, "fstat `%s`", u->path);
  /* an upload that finished between our open and flock moved this very file
   * into blobs/: never truncate a stored blob */
  if (stat(u->path, &at_path) < 0 || at_path.st_ino != st.st_ino || at_path.st_dev != st.st_dev)
    return berr_set(err, BERR_CONFLICT, "another upload of blob %s finished meanwhile", req->digest);
  u->kept = st.st_size;
  u->layer = blob_is_layer_media_type(req->media_type);
  return 0;
}

/* Passes bytes on to a layer's extractor, decompressed (layer-feed.c). */
static int feed_extractor(struct blob_upload *u, const void *data, size_t len, berr_t *err) {
  return u->feeding ? layer_feed_write(&u->feed, data, len, err) : 0;
}

/* The first n bytes kept (what an earlier upload wrote) into the digest and
 * down the feed (a layer's extractor), before what comes now. */
static int replay_kept(struct blob_upload *u, int64_t n, berr_t *err) {
  static uint8_t buf[256 * 1024];
  for (int64_t off = 0; off < n && u->digest_live;) {
    size_t want = (size_t)(n - off < (int64_t)sizeof buf ? n - off : (int64_t)sizeof buf);
    ssize_t r = pread(u->fd, buf, want, off);
    if (r < 0 && errno == EINTR)
      continue;
    if (r < 0)
      return berr_sys(err, errno, "read `%s`", u->path);
    if (r == 0)
      return berr_set(err, BERR_INTERNAL, "`%s` shrank while it was read", u->path);
    if ((u->digest_live && digest_update(&u->d, buf, (size_t)r, err) < 0) || feed_extractor(u, buf, (size_t)r, err) < 0)
      return -1;
    off += r;
  }
  return 0;
}

int blob_upload_begin(struct blob_upload *u, int64_t offset, berr_t *err) {
  if (offset > u->kept)
    return berr_set(err, BERR_INVALID, "`offset` %" PRId64 " is past the %" PRId64 " bytes kept of blob %s",
                    offset, u->kept, u->req->digest);
  /* only when something is to be cut: on ext4 a truncate to 0 makes the
   * file's close start writing it back (auto_da_alloc), a wait per blob */
  if (offset < u->kept && ftruncate(u->fd, offset) < 0)
    return berr_sys(err, errno, "truncate `%s`", u->path);
  if (lseek(u->fd, offset, SEEK_SET) < 0)
    return berr_sys(err, errno, "lseek `%s`", u->path);
  u->begun = true;
  u->have = offset;
  /* Every byte is hashed here, but those of a layer the store has extracted
   * already: its extraction (image_store_add_layer) hashes them. A layer the
   * store lacks is extracted while it comes, so that what is left at the
   * last byte is the extraction of the last bytes. */
  bool known = u->layer && image_layer_blob_known(u->root, u->req->digest);
  if (!known) {
    if (digest_init(&u->d, err) < 0)
      return -1;
    u->digest_live = true;
  }
  if (u->layer && !known) {
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0)
      return berr_sys(err, errno, "pipe");
    (void)fcntl(p[1], F_SETPIPE_SZ, 1 << 20); /* fewer wake-ups between the two */
    int r = image_layer_stream_begin(u->root, p[0], p[1], u->req->digest, &u->ls, err);
    close(p[0]);
    if (r < 0) {
      close(p[1]);
      return -1;
    }
    u->streaming = true;
    if (layer_feed_init(&u->feed, p[1], err) < 0) {
      close(p[1]);
      return -1;
    }
    u->feeding = true;
  }
  return replay_kept(u, offset, err);
}

int blob_upload_write(struct blob_upload *u, const void *data, size_t len, berr_t *err) {
  const struct blob_put_req *req = u->req;
  if ((int64_t)len > req->size - u->have)
    return berr_set(err, BERR_INVALID, "blob %s: more than the announced %" PRId64 " bytes came", req->digest, req->size);
  if (write_all(u->fd, data, len) < 0)
    return berr_sys(err, errno, "write `%s`", u->path);
  if (u->digest_live && digest_update(&u->d, data, len, err) < 0)
    return -1;
  if (feed_extractor(u, data, len, err) < 0)
    return -1;
  u->have += (int64_t)len;
  int64_t now = mono_us();
  if (now - u->progress_us >= PROGRESS_EVERY_US || u->have == req->size) {
    u->progress_us = now;
    if (worker_progress(u->w, blob_progress_event("write", req->digest, u->have, req->size), err) < 0)
      return -1;
  }
  return 0;
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

static void remove_partial(struct blob_upload *u) {
  if (unlink(u->path) < 0 && errno != ENOENT)
    berthd_log("remove `%s`: %s", u->path, strerror(errno));
}

int blob_upload_end(struct blob_upload *u, json_object **result, berr_t *err) {
  const struct blob_put_req *req = u->req;
  /* the end of the stream, for the extractor; a broken one is told after the digest */
  berr_t feed_err;
  int fed = u->feeding ? layer_feed_end(&u->feed, &feed_err) : 0;
  char got[DIGEST_STR_LEN + 1] = "";
  if (u->digest_live) {
    u->digest_live = false;
    if (digest_final(&u->d, got, err) < 0)
      return -1;
  }
  if (u->have != req->size || (got[0] && strcmp(got, req->digest))) {
    remove_partial(u);
    if (u->have != req->size)
      return berr_set(err, BERR_INVALID, "blob %s: %" PRId64 " bytes came, %" PRId64 " were announced",
                      req->digest, u->have, req->size);
    return berr_set(err, BERR_INVALID, "digest mismatch: the bytes sent for %s hash to %s", req->digest, got);
  }
  if (fed < 0) {
    remove_partial(u); /* the right bytes, but no layer in them: nothing to resume */
    *err = feed_err;
    return berr_wrap(err, "layer %s", req->digest);
  }

  json_object *res = json_object_new_object();
  json_object_object_add(res, "digest", json_object_new_string(req->digest));
  json_object_object_add(res, "size", json_object_new_int64(req->size));
  if (!u->layer) {
    if (store_plain_blob(u->root, u->path, req->digest, err) < 0) {
      json_object_put(res);
      return -1;
    }
    *result = res;
    return 0;
  }
  if (worker_progress(u->w, blob_progress_event("extract", req->digest, 0, req->size), err) < 0) {
    json_object_put(res);
    return -1;
  }
  struct layer_result lr;
  bool extracted = false;
  bool streaming = u->streaming;
  u->streaming = false; /* ended here, whatever the outcome */
  if ((streaming ? image_layer_stream_end(u->root, &u->ls, u->path, req->digest, req->size, u->feed.compression,
                                          &lr, &extracted, err)
                 : image_store_add_layer(u->root, u->path, true, req->digest, &lr, &extracted, err)) < 0) {
    /* a bad tarball, or (a known layer) wrong bytes: nothing to resume */
    remove_partial(u);
    json_object_put(res);
    return berr_wrap(err, "layer %s", req->digest);
  }
  /* moved into blobs/ unless it was on another file system and copied */
  remove_partial(u);
  json_object_object_add(res, "diffId", json_object_new_string(lr.diff_id));
  if (worker_progress(u->w, blob_progress_event("extract", req->digest, req->size, req->size), err) < 0) {
    json_object_put(res);
    return -1;
  }
  *result = res;
  return 0;
}

void blob_upload_close(struct blob_upload *u) {
  if (u->feeding)
    layer_feed_free(&u->feed);
  if (u->streaming)
    image_layer_stream_abort(&u->ls);
  if (u->digest_live)
    digest_free(&u->d);
  if (u->fd >= 0) {
    /* nothing kept (a refused download, an upload that sent nothing): no
     * partial either, while the lock is still ours */
    struct stat st;
    if (fstat(u->fd, &st) == 0 && st.st_size == 0 && u->path)
      remove_partial(u);
    close(u->fd);
  }
  free(u->path);
  *u = (struct blob_upload){.fd = -1};
}
