/* One blob coming into the store, whoever brings its bytes (image.blob.put:
 * the client's STDIN frames; image.blob.fetch: a registry, through http.c).
 * Every byte is hashed and goes to <root>/tmp/partial/<hex>, kept for a
 * resume; a layer the store lacks is also decompressed as it comes and its
 * tar passed down a pipe to its extractor (layer-feed.c). The blob becomes
 * the store's only once its digest checks out.
 *
 *   blob_upload_open   the partial file, locked (one upload of a blob at a time)
 *   blob_upload_begin  from an offset: the kept bytes before it replayed
 *   blob_upload_write  the next bytes (progress frames now and then)
 *   blob_upload_end    verify, store, extract: the result
 *   blob_upload_close  always; undoes what was not ended */
#ifndef BERTH_BLOB_UPLOAD_H
#define BERTH_BLOB_UPLOAD_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>

#include "digest.h"
#include "error.h"
#include "image-internal.h"
#include "layer-feed.h"

struct worker;

/* A blob as a client announces it (image.blob.put's and image.blob.fetch's
 * params); offset: image.blob.put's only. */
struct blob_put_req {
  char digest[DIGEST_STR_LEN + 1];
  char media_type[128];
  int64_t size;
  int64_t offset;
  char lease[33]; /* "" when the client holds none */
};

/* A layer media type (OCI tar, +gzip, +zstd, their nondistributable forms,
 * docker's rootfs.diff.tar.gzip and foreign.diff.tar.gzip). */
bool blob_is_layer_media_type(const char *media_type);

struct blob_upload {
  struct worker *w;
  const char *root;
  const struct blob_put_req *req; /* digest, size, mediaType, lease; offset unused */
  char *path;
  int fd;
  int64_t kept; /* the partial file's size when opened */
  bool layer;
  bool begun;
  bool streaming; /* a layer the store lacks: extracted as it comes */
  bool feeding;   /* feed is live */
  struct layer_feed feed; /* decompresses it into the extractor's pipe */
  struct image_layer_stream ls;
  bool digest_live;
  struct digest d; /* a known layer is hashed by its extraction instead */
  int64_t have;
  int64_t progress_us;
};

/* <root>/tmp/partial/<hex> (malloc'd). */
char *blob_partial_path(const char *root, const char *digest);
/* A PROGRESS event {"phase", "item", "done"?, "total"?} (negatives left out). */
json_object *blob_progress_event(const char *phase, const char *item, int64_t done, int64_t total);

int blob_upload_open(struct blob_upload *u, struct worker *w, const char *root,
                     const struct blob_put_req *req, berr_t *err);
/* offset <= u->kept: the partial is cut there and its bytes before it are
 * the blob's first ones. */
int blob_upload_begin(struct blob_upload *u, int64_t offset, berr_t *err);
int blob_upload_write(struct blob_upload *u, const void *data, size_t len, berr_t *err);
/* Result {"digest", "size", "diffId"?}. A wrong size or digest removes the
 * partial (nothing to resume from); the error says which. */
int blob_upload_end(struct blob_upload *u, json_object **result, berr_t *err);
void blob_upload_close(struct blob_upload *u);

#endif
