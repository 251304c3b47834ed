/* The image store: content-addressed blobs, extracted layers shared by every
 * image that has them, and a refs file naming images. Layout under <root>:
 *   blobs/sha256/<hex>          manifests, configs, layer tarballs
 *   layers/sha256/<diffid hex>/ extracted layer trees (overlay lower dirs)
 *   layers/sha256/<diffid hex>.json  {"digest", "size", "unpackedSize", "mediaType", "blobs"} of that layer
 *   images.json                 {"refs": {"busybox:latest": "sha256:<manifest>"},
 *                                "images": {"sha256:<manifest>": {"id": "sha256:<config>"}}}
 *                               ("images" lists untagged images too)
 *   images.lock                 flock(2) serialising changes to the store
 *   tmp/                        work dirs of imports in progress (cleared at start)
 *   tmp/partial/<hex>           interrupted blob uploads (kept at start; prune ages them out)
 * Internals shared by the modules that write the store: image-internal.h. */
#ifndef BERTH_IMAGE_H
#define BERTH_IMAGE_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>

#include "error.h"

struct image {
  char id[72];               /* "sha256:<config digest>" */
  char manifest_digest[72];
  json_object *config;       /* the OCI image config (owned) */
  char **layer_dirs;         /* NULL-terminated, topmost first (overlay lowerdir order) */
};

int image_store_init(const char *root, berr_t *err);
/* Cap on the bytes one layer may unpack to (berthd --max-layer-size);
 * <= 0 restores the default, 8 GiB. Imports over it fail with `limit`. */
void image_set_max_layer_size(int64_t bytes);
/* Resolves NAME[:TAG], sha256:HEX or a unique id prefix. */
int image_resolve(const char *root, const char *ref, struct image *out, berr_t *err);
void image_free(struct image *img);

/* The protocol's result objects (docs/protocol.md): image_list gives
 * {"images": [ImageSummary]}, image_inspect the inspect object,
 * image_import_rootfs an ImageSummary, image_remove {"removed", "untagged"}. */
int image_list(const char *root, json_object **out, berr_t *err);
int image_inspect(const char *root, const char *ref, json_object **out, berr_t *err);

/* Progress of a long operation: one PROGRESS event (docs/protocol.md
 * "Worker streams"); consumes ev. Failing (the client went away) cancels
 * the operation. */
typedef int (*image_progress_fn)(void *ctx, json_object *ev, berr_t *err);

/* Imports a plain rootfs tarball (plain, gzip, zstd, bzip2 or xz) as a
 * one-layer image. config: OCI config fields to set (Cmd, Entrypoint, Env,
 * WorkingDir, User, ExposedPorts, Labels, StopSignal), may be NULL. */
int image_import_rootfs(const char *root, const char *tar_path, const char *ref,
                        json_object *config, json_object **summary, berr_t *err);

/* image.import: format "auto" (NULL), "oci", "oci-archive", "docker-archive"
 * or "rootfs"; ref and config may be NULL (see docs/protocol.md). *out is
 * {"images": [ImageSummary]}. progress may be NULL. */
int image_import(const char *root, const char *path, const char *format, const char *ref,
                 json_object *config, image_progress_fn progress, void *pctx, json_object **out,
                 berr_t *err);

/* image.save: refs (NULL-terminated) written as an OCI archive to path
 * (must not exist). *out is {"path", "size"}. */
int image_save(const char *root, const char *const *refs, const char *path,
               image_progress_fn progress, void *pctx, json_object **out, berr_t *err);

/* image.tag: target (NAME[:TAG]) names the image ref names. *summary is its ImageSummary. */
int image_tag(const char *root, const char *ref, const char *target, json_object **summary,
              berr_t *err);

/* in_use(image_id, ctx) tells whether a container uses the image.
 * By name, remove drops that tag; by id, every tag. The content (manifest,
 * config, and blobs and layer dirs no other image references) is deleted
 * when no tag is left. A used image is refused with `conflict`; with force
 * its tags go but its files stay (an untagged image, listed with "refs": [])
 * so running containers keep their lower dirs; remove it by id later. */
typedef bool (*image_in_use_fn)(const char *image_id, void *ctx);
int image_remove(const char *root, const char *ref, bool force, image_in_use_fn in_use, void *ctx,
                 json_object **out, berr_t *err);

/* image.prune: removes untagged images no container uses (all: every image
 * no container uses), then blobs, layer trees and meta no image references
 * (those of the removed images at once, others once untouched for an hour:
 * a pull between its uploads and image.create keeps them), unlocked work
 * dirs in tmp/ and partial uploads untouched for an hour.
 * *out is {"removed": [ids], "reclaimedBytes": n}. */
int image_prune(const char *root, bool all, image_in_use_fn in_use, void *ctx, json_object **out,
                berr_t *err);

#endif
