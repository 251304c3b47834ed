/* The image store's primitives, shared by the modules that write to it:
 * image.c (index, refs, remove), image-oci.c (import), image-save.c (save),
 * image-gc.c (prune), and the container commit and registry pull code.
 * Layout: image.h. Every function returns -1 with err filled on failure.
 *
 * How a writer adds an image (imports, pulls and commits share this path):
 *   1. image_tmp_create: a private, locked work dir under <root>/tmp/;
 *   2. image_store_add_layer for every layer tarball (extracts into tmp and
 *      moves the tree into layers/sha256/<diffid>/, unless it is there);
 *   3. image_store_add with the manifest and config texts: verifies them
 *      against the store and records the image, images.json last.
 * Content added in step 2 that no image references yet is noted in the
 * writer's lease first (image_lease_note; a pull's blob.put workers join the
 * client's lease), so prune keeps it while the writer lives and removes it
 * once the writer is gone without recording an image. An import or commit
 * ends its lease itself before it replies (its image names the content now),
 * so a prune right after the reply need not wait for the worker to exit. */
#ifndef BERTH_IMAGE_INTERNAL_H
#define BERTH_IMAGE_INTERNAL_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "digest.h"
#include "error.h"
#include "image.h"
#include "layer.h"

/* Longest normalized reference ("name:tag" or "name@sha256:<hex>"), with NUL. */
#define IMAGE_REF_MAX 256
/* Cap on a manifest, config, index or any other JSON read from an archive. */
#define IMAGE_JSON_MAX (4u << 20)
/* Debris (temp files of interrupted writes, not named by a digest) younger
 * than this stays: its writer may still be at work. */
#define IMAGE_GC_GRACE_SECONDS 3600

#define IMAGE_MEDIA_OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define IMAGE_MEDIA_OCI_INDEX "application/vnd.oci.image.index.v1+json"
#define IMAGE_MEDIA_OCI_CONFIG "application/vnd.oci.image.config.v1+json"
#define IMAGE_MEDIA_DOCKER_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"
#define IMAGE_MEDIA_DOCKER_LIST "application/vnd.docker.distribution.manifest.list.v2+json"
#define IMAGE_MEDIA_DOCKER_CONFIG "application/vnd.docker.container.image.v1+json"
#define IMAGE_MEDIA_DOCKER_LAYER "application/vnd.docker.image.rootfs.diff.tar.gzip"

/* ---- paths (malloc'd; NULL only when out of memory). digest must be valid
 * (digest_is_valid): check hostile input before it becomes a path. */
char *image_blob_path(const char *root, const char *digest);        /* blobs/sha256/<hex> */
char *image_layer_dir(const char *root, const char *diff_id);       /* layers/sha256/<hex> */
char *image_layer_meta_path(const char *root, const char *diff_id); /* layers/sha256/<hex>.json */
/* <root>/tmp/partial: interrupted uploads (image.blob.put), one file per
 * blob named by its digest's hex, flock'ed while an upload writes it; prune
 * removes the ones nobody writes and no held lease names; berthd's start
 * keeps them. */
char *image_partial_dir(const char *root);

/* A fresh work dir <root>/tmp/<prefix>-<random> (mode 0700). Returns an fd
 * of it holding flock(LOCK_EX): prune leaves a locked dir alone, so keep the
 * fd open while working; *path is malloc'd. The caller removes the dir
 * (rm_rf) and closes the fd when done, on success or failure. */
int image_tmp_create(const char *root, const char *prefix, char **path, berr_t *err);

/* ---- lock and index ------------------------------------------------------
 * images.lock: LOCK_SH to read images.json and the blobs it names, LOCK_EX to
 * change anything. Returns the fd holding the lock (close it to unlock). */
int image_store_lock(const char *root, int how, berr_t *err);
/* images.json, with its "refs" and "images" objects present (an empty index
 * when the file does not exist). Hold the lock. */
int image_index_load(const char *root, json_object **idx, berr_t *err);
/* Writes images.json atomically (temp file, fsync, rename). Hold LOCK_EX. */
int image_index_save(const char *root, json_object *idx, berr_t *err);

/* NAME[:TAG] -> "name:tag" (latest by default) or NAME@sha256:<hex> ->
 * "name@sha256:<hex>", docker's grammar; Docker Hub names in docker's
 * familiar form ("docker.io/library/busybox" -> "busybox:latest",
 * "docker.io/user/app" -> "user/app:latest"). BERR_INVALID with a message
 * that names the reference and says what is wrong. */
int image_normalize_ref(const char *in, char out[IMAGE_REF_MAX], berr_t *err);
/* The name part of a normalized reference ("a/b:1" -> "a/b"), into out. */
void image_ref_name(const char *normalized, char out[IMAGE_REF_MAX]);

/* ---- content --------------------------------------------------------------
 * Adds one layer tarball (plain, gzip, zstd, bzip2 or xz) to the store:
 * blob at blobs/sha256/<blob digest> (tar_path is copied while it is read,
 * or renamed into place when move_blob is true and it is on the same file
 * system), tree at layers/sha256/<diffid>/, meta at layers/sha256/<diffid>.json
 * ({"digest", "size", "unpackedSize", "mediaType", "blobs": {"sha256:...":
 * {"size", "mediaType"}}}: every blob digest known to unpack to this diffID).
 * expect_digest (may be NULL) is the blob digest the caller was promised:
 * a different one fails with BERR_INVALID ("digest mismatch") and stores
 * nothing. A layer whose blob is already known (expect_digest in some meta's
 * "blobs", tree present) is only hashed, not extracted; one whose diffID is
 * already there is extracted into tmp and the copy discarded: the existing
 * tree is kept (an overlay lower dir in use must not change). *extracted
 * (may be NULL) tells whether a new tree was moved in. Takes the store lock
 * itself (LOCK_EX, briefly, to move things in); do not hold it. */
int image_store_add_layer(const char *root, const char *tar_path, bool move_blob,
                          const char *expect_digest, struct layer_result *res, bool *extracted,
                          berr_t *err);

/* The same for a layer extracted while its blob arrives (blob-upload.c, a
 * pull): _begin starts the extractor on fd (a pipe the caller feeds with the
 * layer's uncompressed tar as it comes, layer-feed.c; close_in_child is its
 * write end) in a new work dir; _end, once the feed is closed, the whole blob
 * is at blob_path and the caller has checked that its bytes hash to digest,
 * waits for the extractor and stores blob and tree as image_store_add_layer
 * does (blob_path is moved into blobs/); _abort stops the extractor and
 * removes the work dir. _end aborts too: s is done with after either. A blob
 * the store already has unpacked (image_layer_blob_known) goes through
 * image_store_add_layer instead. */
struct image_layer_stream {
  char *work, *tree;
  int work_fd;
  struct layer_unpacking u;
};
bool image_layer_blob_known(const char *root, const char *digest);
int image_layer_stream_begin(const char *root, int fd, int close_in_child, const char *digest,
                             struct image_layer_stream *s, berr_t *err);
int image_layer_stream_end(const char *root, struct image_layer_stream *s, const char *blob_path,
                           const char *digest, int64_t blob_size, enum layer_compression compression,
                           struct layer_result *res, bool *extracted, berr_t *err);
void image_layer_stream_abort(struct image_layer_stream *s);

/* Records an image whose layer blobs and trees are already in the store:
 * manifest_json/config_json are the exact bytes (an OCI image manifest or a
 * Docker schema 2 manifest; the config named by sha256 of config_json).
 * Checks: the manifest names the config's digest (and size); every layer's
 * blob is present with the manifest's size; every layer's tree and meta
 * exist; config rootfs.diff_ids[i] is the diffID of layer i's blob (per the
 * meta files), in order. Writes both blobs (content-addressed), then tags
 * refs (NULL-terminated, may be NULL; each NAME[:TAG] or NAME@sha256:...; a
 * tag naming another image moves, leaving that one untagged), images.json
 * last, under LOCK_EX taken here. Adding an image already present just adds
 * the refs. *summary (may be NULL): the ImageSummary. *manifest_digest (may
 * be NULL): receives the manifest's digest. */
int image_store_add(const char *root, const char *manifest_json, size_t mlen,
                    const char *config_json, size_t clen, const char *const *refs,
                    json_object **summary, char manifest_digest[DIGEST_STR_LEN + 1], berr_t *err);

/* ---- reading images -------------------------------------------------------- */
struct image_record {
  char manifest_digest[DIGEST_STR_LEN + 1];
  char id[DIGEST_STR_LEN + 1];  /* the config digest */
  json_object *manifest;        /* owned */
  json_object *config;          /* owned */
  json_object *layers;          /* borrowed: manifest.layers, base first */
  json_object *diff_ids;        /* borrowed: config.rootfs.diff_ids, base first */
  json_object *refs;            /* owned: the names it has, sorted (may be empty) */
};
/* Resolves ref (as image_resolve does) and loads the image, checking its
 * digests' syntax. Takes LOCK_SH itself. */
int image_record_load(const char *root, const char *ref, struct image_record *rec, berr_t *err);
/* The same with the index already loaded and the lock held by the caller;
 * manifest_digest must be a key of idx.images. */
int image_record_load_in(const char *root, json_object *idx, const char *manifest_digest,
                         struct image_record *rec, berr_t *err);
void image_record_free(struct image_record *rec);
/* Adds every digest (manifests, configs, layer blobs, diffIDs) the images
 * of idx reference to keep (an object used as a set). -1 when an image
 * cannot be read: then delete nothing, it could share anything. */
int image_referenced_set(const char *root, json_object *idx, json_object *keep, berr_t *err);
/* The ImageSummary of a loaded record. */
json_object *image_record_summary(const char *root, const struct image_record *rec);
/* Unpacked size of a layer from its meta file, -1 when unknown. */
int64_t image_layer_unpacked_size(const char *root, const char *diff_id);

/* ---- leases (image-lease.c): content added that no image names yet ------------
 * <root>/leases/<id>, one digest per line, flock(LOCK_EX)'d by its owner;
 * prune keeps what a held lease lists and deletes leases nobody holds. */
#define IMAGE_LEASE_ID_LEN 32
bool image_lease_id_is_valid(const char *id);
/* A new lease, held by the returned fd (close it, or exit, to let go). */
int image_lease_create(const char *root, char id[IMAGE_LEASE_ID_LEN + 1], berr_t *err);
/* Makes a held lease (a client's, from image.lease) this process's lease:
 * BERR_NOT_FOUND when it is gone or no longer held. */
int image_lease_join(const char *root, const char *id, berr_t *err);
/* Notes a digest in this process's lease, creating one for the process on
 * first use (held until it exits: call it in workers, not in the daemon).
 * Call BEFORE making the content visible. Invalid digests are ignored. */
int image_lease_note(const char *root, const char *digest, berr_t *err);
/* Ends this process's lease (import and commit, once their image is
 * recorded or they failed; a joined lease is only let go, not removed). */
void image_lease_release(const char *root);
/* Notes a digest in the lease id without joining it (the daemon, blob.stat). */
int image_lease_note_to(const char *root, const char *id, const char *digest, berr_t *err);
/* Adds every digest of the held leases to keep and deletes dead leases.
 * Hold LOCK_EX. */
int image_leases_collect(const char *root, json_object *keep, berr_t *err);

/* image_prune with another grace period in seconds (0: every unreferenced
 * file goes; tests). */
int image_prune_grace(const char *root, bool all, image_in_use_fn in_use, void *ctx, int grace,
                      json_object **out, berr_t *err);

/* ---- small shared helpers ------------------------------------------------------ */
/* The host's OCI architecture (GOARCH names: amd64, arm64, ...). */
const char *image_host_arch(void);
/* The max bytes one layer may unpack to (image_set_max_layer_size). */
int64_t image_max_layer_bytes(void);
/* Validates the config fields of image.import / container.commit (Cmd,
 * Entrypoint, Env, WorkingDir, User, ExposedPorts, Labels, StopSignal) and
 * sets them on exec_cfg (the OCI config's "config" object), in place. req
 * may be NULL. BERR_BAD_REQUEST naming the field. */
int image_apply_config(json_object *exec_cfg, json_object *req, berr_t *err);

#endif
