/* A layer's blob as it arrives (plain tar, gzip or zstd: told by its first
 * bytes), decompressed on the spot and written on to a layer extractor's pipe
 * (layer_unpack_start's tar_stream). It runs in the process that receives
 * the blob, which hashes the bytes as stored anyway: no process and no pipe
 * between the download and the extraction but this one.
 *
 * Bad input never fails layer_feed_write: the feed stops (its fd is closed,
 * so the extractor sees a cut tar) and layer_feed_end tells why, so that the
 * caller, which goes on hashing the rest of the blob, can report a digest
 * mismatch first when there is one. A reader that stopped (EPIPE) ends the
 * feed the same way; its own error says why. */
#ifndef BERTH_LAYER_FEED_H
#define BERTH_LAYER_FEED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <zlib.h>
#include <zstd.h>

#include "error.h"
#include "layer.h"

struct layer_feed {
  int fd; /* -1 once stopped or ended */
  enum layer_compression compression;
  bool detected;
  unsigned char head[4]; /* the first bytes, until the format is known */
  size_t head_len;
  /* gzip: the member being inflated; between members, the next one's magic */
  z_stream z;
  bool z_live;
  bool z_between;
  bool trailing; /* after the last member: bytes ignored (still hashed by the caller) */
  unsigned char gap; /* between members: 1 when the first magic byte was seen */
  ZSTD_DCtx *zd;
  size_t zstd_left; /* ZSTD_decompressStream's last hint: 0 at a frame's end */
  unsigned char *out;
  bool bad;    /* the input was not a layer: why in why */
  berr_t why;
};

int layer_feed_init(struct layer_feed *f, int fd, berr_t *err);
/* -1 only for the feed's own failures (memory, a write error other than EPIPE). */
int layer_feed_write(struct layer_feed *f, const void *data, size_t len, berr_t *err);
/* The end of the blob: closes the fd. -1 when the input was bad or cut short. */
int layer_feed_end(struct layer_feed *f, berr_t *err);
void layer_feed_free(struct layer_feed *f);

#endif
