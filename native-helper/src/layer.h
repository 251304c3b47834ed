/* Layer extraction (libarchive): a tarball, plain or compressed, unpacked
 * into a directory that becomes an overlay lower dir. The tarball is read
 * once, computing the blob digest (bytes as stored) and the diffID (the
 * uncompressed tar stream) on the way. Hostile input: every entry that could
 * land outside the directory is refused, naming the entry and the reason. */
#ifndef BERTH_LAYER_H
#define BERTH_LAYER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "digest.h"
#include "error.h"

#define LAYER_DEFAULT_MAX_BYTES (8LL << 30)

/* bzip2 and xz have no OCI media type (layer_media_type gives "tar+bzip2",
 * "tar+xz"): rootfs imports store such a tarball decompressed. */
enum layer_compression { LAYER_PLAIN, LAYER_GZIP, LAYER_ZSTD, LAYER_BZIP2, LAYER_XZ };

struct layer_result {
  char blob_digest[DIGEST_STR_LEN + 1]; /* sha256 of the file's bytes */
  char diff_id[DIGEST_STR_LEN + 1];     /* sha256 of the uncompressed tar */
  uint64_t blob_size;                   /* bytes of the file */
  uint64_t tar_size;                    /* bytes of the uncompressed tar */
  uint64_t unpacked_size;               /* sum of the entries' data sizes */
  uint64_t entries;
  enum layer_compression compression;
};

/* "application/vnd.oci.image.layer.v1.tar", "...tar+gzip", "...tar+zstd". */
const char *layer_media_type(enum layer_compression c);

/* Unpacks tar_path (a regular file) into dest, an existing directory that
 * should be empty. blob_copy, when not NULL, is a new file (it must not
 * exist) that receives a copy of the bytes read, so the store keeps the blob
 * without a second read. max_bytes caps the sum of the entries' data sizes
 * (<= 0: LAYER_DEFAULT_MAX_BYTES); going over fails with BERR_LIMIT. A
 * refused entry fails with BERR_INVALID. On failure dest may hold a partial
 * tree: the caller removes it.
 *
 * The work runs in a forked child that chdirs into dest (libarchive's secure
 * extraction works relative to the working directory, which must not change
 * under the daemon's feet); the caller blocks until it is done. */
int layer_unpack(const char *tar_path, const char *dest, const char *blob_copy, int64_t max_bytes,
                 struct layer_result *res, berr_t *err);

/* layer_unpack in two halves, for a tarball read from fd, a regular file or a
 * pipe: _start forks the extractor and returns; _finish waits for it and
 * gives its result. fd may be closed once _start returns; close_in_child
 * (>= 0: the pipe's write end) is closed in the extractor. what names the
 * input in messages. tar_stream: fd carries the uncompressed tar, decompressed
 * and hashed by its writer (a layer extracted while it downloads,
 * blob-upload.c with layer-feed.c); the result's blob fields are then left
 * for the caller to fill. */
struct layer_unpacking {
  pid_t pid;
  int report_fd;
  char what[300];
};
int layer_unpack_start(int fd, int close_in_child, bool tar_stream, const char *what, const char *dest,
                       const char *blob_copy, int64_t max_bytes, struct layer_unpacking *u,
                       berr_t *err);
int layer_unpack_finish(struct layer_unpacking *u, struct layer_result *res, berr_t *err);

/* What layer_unpack's child does, in this process: unpacks the tarball read
 * from fd into the current working directory (no blob copy; the decompressor
 * is still a forked process). For the fuzzer, which must see the extractor's
 * coverage and memory errors; the daemon uses layer_unpack. */
int layer_unpack_cwd(int fd, int64_t max_bytes, struct layer_result *res, berr_t *err);

#endif
