#include "layer-feed.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util.h"

/* Decompressed bytes are written on in pieces of at most this. */
#define FEED_OUT_BYTES (256 * 1024)
/* zstd frames asking for a bigger window than 2^27 (128 MiB) are refused
 * (zstd's own default limit): a hostile frame must not size our memory. */
#define FEED_ZSTD_WINDOW_LOG_MAX 27

int layer_feed_init(struct layer_feed *f, int fd, berr_t *err) {
  memset(f, 0, sizeof *f);
  f->fd = fd;
  f->out = malloc(FEED_OUT_BYTES);
  if (!f->out)
    return berr_sys(err, ENOMEM, "the layer feed's buffer");
  return 0;
}

static void stop(struct layer_feed *f) {
  if (f->fd >= 0)
    close(f->fd);
  f->fd = -1;
}

__attribute__((format(printf, 2, 3))) static void bad(struct layer_feed *f, const char *fmt, ...) {
  if (!f->bad) {
    f->bad = true;
    va_list ap;
    va_start(ap, fmt);
    char msg[BERR_MSG_MAX];
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    berr_set(&f->why, BERR_INVALID, "%s", msg);
  }
  stop(f);
}

/* Writes decompressed bytes on; a reader that stopped ends the feed. */
static int emit(struct layer_feed *f, const void *p, size_t n, berr_t *err) {
  if (f->fd < 0 || n == 0)
    return 0;
  if (write_all(f->fd, p, n) == 0)
    return 0;
  if (errno != EPIPE)
    return berr_sys(err, errno, "pass the layer's tar stream on to its extractor");
  stop(f);
  return 0;
}

/* Inflates what it can of p[0..n); *used says how much it took. */
static int inflate_some(struct layer_feed *f, const unsigned char *p, size_t n, size_t *used, berr_t *err) {
  f->z.next_in = (unsigned char *)p;
  f->z.avail_in = (uInt)n;
  *used = 0;
  do {
    f->z.next_out = f->out;
    f->z.avail_out = FEED_OUT_BYTES;
    int r = inflate(&f->z, Z_NO_FLUSH);
    if (emit(f, f->out, FEED_OUT_BYTES - f->z.avail_out, err) < 0)
      return -1;
    if (r == Z_STREAM_END) {
      f->z_between = true;
      break;
    }
    if (r == Z_BUF_ERROR) /* no progress: it wants more input */
      break;
    if (r != Z_OK) {
      bad(f, "the layer's gzip stream is damaged: %s", f->z.msg ? f->z.msg : "inflate failed");
      break;
    }
  } while (f->fd >= 0 && (f->z.avail_in > 0 || f->z.avail_out == 0));
  *used = n - f->z.avail_in;
  return 0;
}

/* gzip, member after member (pigz and others write several); whatever
 * follows the last member that is not another one is ignored. */
static int gzip_write(struct layer_feed *f, const unsigned char *p, size_t n, berr_t *err) {
  static const unsigned char magic0 = 0x1f;
  while (n > 0 && f->fd >= 0 && !f->trailing) {
    size_t used;
    if (f->z_between) {
      if (!f->gap) {
        if (p[0] != 0x1f) {
          f->trailing = true;
          break;
        }
        f->gap = 1;
        p++, n--;
        continue;
      }
      if (p[0] != 0x8b) {
        f->trailing = true;
        break;
      }
      if (inflateReset(&f->z) != Z_OK) {
        bad(f, "the layer's gzip stream is damaged: %s", f->z.msg ? f->z.msg : "inflateReset failed");
        break;
      }
      f->z_between = false;
      f->gap = 0;
      /* the magic's first byte went by already; the second is p[0] */
      if (inflate_some(f, &magic0, 1, &used, err) < 0)
        return -1;
      continue;
    }
    if (inflate_some(f, p, n, &used, err) < 0)
      return -1;
    if (used == 0 && !f->z_between)
      break; /* stopped */
    p += used, n -= used;
  }
  return 0;
}

static int zstd_write(struct layer_feed *f, const unsigned char *p, size_t n, berr_t *err) {
  ZSTD_inBuffer in = {p, n, 0};
  while (f->fd >= 0) {
    ZSTD_outBuffer out = {f->out, FEED_OUT_BYTES, 0};
    size_t r = ZSTD_decompressStream(f->zd, &out, &in);
    if (ZSTD_isError(r)) {
      bad(f, "the layer's zstd stream is damaged: %s", ZSTD_getErrorName(r));
      break;
    }
    f->zstd_left = r;
    if (emit(f, f->out, out.pos, err) < 0)
      return -1;
    if (in.pos == in.size && out.pos < out.size)
      break;
  }
  return 0;
}

static int process(struct layer_feed *f, const unsigned char *p, size_t n, berr_t *err) {
  if (f->fd < 0 || n == 0)
    return 0;
  switch (f->compression) {
  case LAYER_GZIP: return gzip_write(f, p, n, err);
  case LAYER_ZSTD: return zstd_write(f, p, n, err);
  default: return emit(f, p, n, err);
  }
}

/* The format from the first bytes (all of them when the blob is shorter). */
static int detect(struct layer_feed *f, berr_t *err) {
  const unsigned char *h = f->head;
  size_t n = f->head_len;
  f->detected = true;
  if (n >= 2 && h[0] == 0x1f && h[1] == 0x8b) {
    f->compression = LAYER_GZIP;
    if (inflateInit2(&f->z, 16 + MAX_WBITS) != Z_OK)
      return berr_set(err, BERR_INTERNAL, "inflateInit2 failed");
    f->z_live = true;
  } else if (n >= 4 && h[0] == 0x28 && h[1] == 0xb5 && h[2] == 0x2f && h[3] == 0xfd) {
    f->compression = LAYER_ZSTD;
    f->zd = ZSTD_createDCtx();
    if (!f->zd)
      return berr_sys(err, ENOMEM, "ZSTD_createDCtx");
    size_t r = ZSTD_DCtx_setParameter(f->zd, ZSTD_d_windowLogMax, FEED_ZSTD_WINDOW_LOG_MAX);
    if (ZSTD_isError(r))
      return berr_set(err, BERR_INTERNAL, "zstd windowLogMax: %s", ZSTD_getErrorName(r));
  } else if ((n >= 3 && h[0] == 'B' && h[1] == 'Z' && h[2] == 'h') ||
             (n >= 4 && h[0] == 0xfd && h[1] == '7' && h[2] == 'z' && h[3] == 'X')) {
    bad(f, "the layer is compressed with %s; a pulled layer is a plain, gzip or zstd tarball",
        h[0] == 'B' ? "bzip2" : "xz");
    return 0;
  } else {
    f->compression = LAYER_PLAIN;
  }
  return process(f, f->head, f->head_len, err);
}

int layer_feed_write(struct layer_feed *f, const void *data, size_t len, berr_t *err) {
  const unsigned char *p = data;
  if (!f->detected) {
    while (len > 0 && f->head_len < sizeof f->head) {
      f->head[f->head_len++] = *p++;
      len--;
    }
    bool gzip = f->head_len >= 2 && f->head[0] == 0x1f && f->head[1] == 0x8b;
    if (f->head_len < sizeof f->head && !gzip)
      return 0;
    if (detect(f, err) < 0)
      return -1;
  }
  return process(f, p, len, err);
}

int layer_feed_end(struct layer_feed *f, berr_t *err) {
  int ret = 0;
  if (!f->detected && f->head_len > 0)
    ret = detect(f, err);
  if (ret == 0 && f->fd >= 0) {
    if (f->compression == LAYER_GZIP && !f->z_between && !f->trailing)
      bad(f, "the layer's gzip stream ends early (a cut download?)");
    else if (f->compression == LAYER_ZSTD && f->zstd_left != 0)
      bad(f, "the layer's zstd stream ends early (a cut download?)");
  }
  stop(f);
  if (ret == 0 && f->bad) {
    *err = f->why;
    ret = -1;
  }
  return ret;
}

void layer_feed_free(struct layer_feed *f) {
  stop(f);
  if (f->z_live)
    inflateEnd(&f->z);
  if (f->zd)
    ZSTD_freeDCtx(f->zd);
  free(f->out);
  memset(f, 0, sizeof *f);
  f->fd = -1;
}
