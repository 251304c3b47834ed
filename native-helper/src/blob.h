/* The store side of registry pulls (docs/protocol.md "Images"):
 * image.blob.stat, image.blob.fetch (a worker stream: berthd downloads one
 * blob from the registry the client names, resumable, verified, extracted
 * when it is a layer), image.blob.put (the same with the bytes uploaded by
 * the client) and image.create
 * (records the pulled image from the registry's exact manifest and config).
 * Interrupted uploads live in <root>/tmp/partial/<hex> (image-internal.h). */
#ifndef BERTH_BLOB_H
#define BERTH_BLOB_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>

#include "blob-upload.h"
#include "digest.h"
#include "error.h"

struct worker;

/* image.blob.stat {"digest", "mediaType"?} -> {"present", "size"?, "partial"}. */
int blob_stat(const char *root, json_object *params, json_object **result, berr_t *err);

/* image.blob.put's params (struct blob_put_req, blob-upload.h), checked in the
 * daemon before the worker starts. */
int blob_put_parse(json_object *params, struct blob_put_req *req, berr_t *err);
/* Runs in the worker: receives the bytes, verifies, stores, extracts.
 * Result {"digest", "size", "diffId"?}. */
int blob_put(struct worker *w, const char *root, const struct blob_put_req *req,
             json_object **result, berr_t *err);

/* image.blob.fetch's params: a blob's fields as image.blob.put's (no offset:
 * the worker resumes from what is kept) and where to GET it. */
struct blob_fetch_req {
  struct blob_put_req blob;
  char url[4097];
  char authorization[8193]; /* "" for none */
  bool insecure;
};
int blob_fetch_parse(json_object *params, struct blob_fetch_req *req, berr_t *err);
/* Runs in the worker (blob-fetch.c): joins the client's network namespace,
 * downloads the blob (Range from what an interrupted upload kept), and
 * stores it as blob_put does. Result as blob_put's. */
int blob_fetch(struct worker *w, const char *root, const struct blob_fetch_req *req,
               json_object **result, berr_t *err);

/* image.lease: runs in a worker that creates a lease, sends its id as a
 * PROGRESS {"phase": "lease", "item": id} and holds it until the client
 * closes the connection. A pull passes the id to image.blob.stat and
 * image.blob.put, so a prune meanwhile keeps what it added. */
int blob_lease_hold(struct worker *w, const char *root, json_object **result, berr_t *err);

/* image.create {"manifest", "config", "ref"?, "extraRefs"?} -> ImageSummary. */
int blob_image_create(const char *root, json_object *params, json_object **result, berr_t *err);


#endif
