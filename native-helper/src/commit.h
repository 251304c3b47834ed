/* container.commit and container.export (docs/protocol.md): a container's
 * upper dir as an OCI layer (overlay whiteouts back to `.wh.` entries) on
 * top of its image, and its merged root filesystem as a tar. Both run in a
 * worker process; both write with libarchive and never follow a symlink. */
#ifndef BERTH_COMMIT_H
#define BERTH_COMMIT_H

#include <json-c/json.h>
#include <stdint.h>

#include "digest.h"
#include "error.h"

/* Reports one PROGRESS event (consumes ev); fails when the client has gone. */
typedef int (*commit_progress_fn)(void *ctx, json_object *ev, berr_t *err);

struct layer_tar {
  char blob_digest[DIGEST_STR_LEN + 1]; /* sha256 of the gzip file */
  char diff_id[DIGEST_STR_LEN + 1];     /* sha256 of the tar inside */
  uint64_t blob_size, tar_size, entries;
};

/* Writes the upper dir as a gzip'd OCI layer tarball at tar_path (a new
 * file): char 0/0 whiteouts become `.wh.NAME`, opaque dirs get a
 * `.wh..wh..opq` entry, ownership, modes and xattrs are kept except
 * trusted.overlay.*. Renamed dirs (overlay redirects) and metacopy files
 * are refused: their data lives in a lower layer. */
int commit_write_layer(const char *upper, const char *tar_path, struct layer_tar *res,
                       commit_progress_fn progress, void *ctx, berr_t *err);

struct commit_request {
  const char *image_id;   /* the container's image, "sha256:..." */
  const char *upper;      /* the container's upper dir */
  const char *ref;        /* tag for the new image, or NULL */
  const char *message;    /* history comment, or NULL */
  const char *author;     /* or NULL */
  json_object *config;    /* image.import-style config changes, or NULL */
};

/* Checks the request's ref and config before any work (the daemon answers
 * malformed ones with an ordinary error). */
int commit_check_params(const char *ref, json_object *config, berr_t *err);

/* The new layer and image; *summary is its ImageSummary. */
int commit_container(const char *root, const struct commit_request *req, json_object **summary,
                     commit_progress_fn progress, void *ctx, berr_t *err);

/* Writes the merged view of upper over lowers (topmost first) as a tar at
 * path (which must not exist: BERR_CONFLICT), through a read-only overlay
 * mounted in a new mount namespace of the calling process (call it in a
 * worker: the namespace stays). /proc, /sys and /dev are written empty.
 * *result: {"path", "size"}. */
int export_rootfs(const char *root, char *const *lowers, const char *upper, const char *path,
                  json_object **result, commit_progress_fn progress, void *ctx, berr_t *err);

#endif
