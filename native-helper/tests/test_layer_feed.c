/* layer-feed.c: a blob decompressed as it arrives, in pieces of any size:
 * plain, gzip (several members, trailing bytes), zstd (several frames);
 * cut, damaged and bzip2/xz input stop the feed and say why at the end; a
 * reader that went away (EPIPE) ends it quietly. */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include "layer-feed.h"
#include "tap.h"

static size_t gzip_into(const unsigned char *in, size_t n, unsigned char *out, size_t cap) {
  z_stream z = {0};
  if (deflateInit2(&z, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK)
    return 0;
  z.next_in = (unsigned char *)in;
  z.avail_in = (uInt)n;
  z.next_out = out;
  z.avail_out = (uInt)cap;
  int r = deflate(&z, Z_FINISH);
  size_t got = cap - z.avail_out;
  deflateEnd(&z);
  return r == Z_STREAM_END ? got : 0;
}

/* Feeds blob in pieces of `piece` bytes into a memfd; 0 and the decompressed
 * bytes in *out (malloc'd), or -1 and err. */
static int run(const unsigned char *blob, size_t n, size_t piece, unsigned char **out, size_t *out_len, berr_t *err) {
  int fd = memfd_create("feed", MFD_CLOEXEC);
  int keep = dup(fd);
  struct layer_feed f;
  int r = layer_feed_init(&f, fd, err);
  for (size_t off = 0; r == 0 && off < n; off += piece)
    r = layer_feed_write(&f, blob + off, n - off < piece ? n - off : piece, err);
  if (r == 0)
    r = layer_feed_end(&f, err);
  layer_feed_free(&f);
  off_t size = lseek(keep, 0, SEEK_END);
  *out = malloc((size_t)size + 1);
  *out_len = (size_t)pread(keep, *out, (size_t)size, 0);
  close(keep);
  return r;
}

int main(void) {
  TAP_PLAN(16);
  signal(SIGPIPE, SIG_IGN);
  size_t n = 3 * 1024 * 1024 + 17;
  unsigned char *tar = malloc(n);
  for (size_t i = 0; i < n; i++)
    tar[i] = (unsigned char)((i * 2654435761u) >> (i % 7)) ^ (unsigned char)(i / 4096);
  size_t cap = n + n / 2 + 1024;
  unsigned char *gz = malloc(2 * cap), *zs = malloc(2 * cap), *out;
  size_t out_len;
  berr_t err;

  TAP_OK(run(tar, n, 65536, &out, &out_len, &err) == 0 && out_len == n && !memcmp(out, tar, n),
         "a plain tar passes as it is");
  free(out);

  size_t gz_len = gzip_into(tar, n, gz, cap);
  TAP_OK(run(gz, gz_len, 1, &out, &out_len, &err) == 0 && out_len == n && !memcmp(out, tar, n),
         "gzip fed a byte at a time");
  free(out);
  TAP_OK(run(gz, gz_len, 300000, &out, &out_len, &err) == 0 && out_len == n && !memcmp(out, tar, n),
         "gzip fed in big pieces");
  free(out);

  /* two members (pigz, concatenated gzip files), then trailing zeros */
  size_t half = n / 2;
  size_t m1 = gzip_into(tar, half, gz, cap);
  size_t m2 = gzip_into(tar + half, n - half, gz + m1, 2 * cap - m1);
  memset(gz + m1 + m2, 0, 100);
  TAP_OK(run(gz, m1 + m2 + 100, 7, &out, &out_len, &err) == 0 && out_len == n && !memcmp(out, tar, n),
         "gzip of two members and trailing zeros: the whole tar");
  free(out);

  size_t zs_len = ZSTD_compress(zs, cap, tar, half, 3);
  size_t zs2 = ZSTD_compress(zs + zs_len, 2 * cap - zs_len, tar + half, n - half, 3);
  TAP_OK(!ZSTD_isError(zs_len) && !ZSTD_isError(zs2), "zstd frames made");
  zs_len += zs2;
  TAP_OK(run(zs, zs_len, 3, &out, &out_len, &err) == 0 && out_len == n && !memcmp(out, tar, n),
         "zstd of two frames, fed 3 bytes at a time");
  free(out);

  gz_len = gzip_into(tar, n, gz, cap);
  TAP_OK(run(gz, gz_len - 10, 4096, &out, &out_len, &err) < 0 && strstr(err.msg, "gzip stream ends early") &&
             err.kind == BERR_INVALID,
         "a cut gzip stream: %s", err.msg);
  free(out);
  TAP_OK(run(zs, zs_len - 10, 4096, &out, &out_len, &err) < 0 && strstr(err.msg, "zstd stream ends early"),
         "a cut zstd stream: %s", err.msg);
  free(out);

  gz[gz_len / 2] ^= 0xff;
  gz[gz_len / 2 + 1] ^= 0xff;
  gz[gz_len / 2 + 2] ^= 0xff;
  int r = run(gz, gz_len, 65536, &out, &out_len, &err);
  TAP_OK(r < 0 && strstr(err.msg, "gzip"), "a damaged gzip stream: %s", r < 0 ? err.msg : "accepted");
  TAP_OK(out_len < n, "a damaged gzip stream stops the feed (%zu of %zu bytes passed)", out_len, n);
  free(out);

  zs[zs_len / 2] ^= 0xff;
  zs[zs_len / 2 + 1] ^= 0xff;
  r = run(zs, zs_len, 65536, &out, &out_len, &err);
  TAP_OK(r < 0 && strstr(err.msg, "zstd"), "a damaged zstd stream: %s", r < 0 ? err.msg : "accepted");
  free(out);

  const unsigned char bz[] = "BZh91AY&SY";
  TAP_OK(run(bz, sizeof bz - 1, 1, &out, &out_len, &err) < 0 && strstr(err.msg, "bzip2") && out_len == 0,
         "bzip2 refused: %s", err.msg);
  free(out);
  const unsigned char xz[] = {0xfd, '7', 'z', 'X', 'Z', 0, 0, 0};
  TAP_OK(run(xz, sizeof xz, 2, &out, &out_len, &err) < 0 && strstr(err.msg, "xz"), "xz refused: %s", err.msg);
  free(out);

  const unsigned char tiny[] = {0x1f};
  TAP_OK(run(tiny, 1, 1, &out, &out_len, &err) == 0 && out_len == 1, "a one-byte blob passes as plain");
  free(out);

  /* the extractor stopped reading: writes go on without error, nothing more is passed */
  int p[2];
  TAP_OK(pipe(p) == 0, "pipe");
  close(p[0]);
  struct layer_feed f;
  gz_len = gzip_into(tar, n, gz, cap);
  r = layer_feed_init(&f, p[1], &err);
  for (size_t off = 0; r == 0 && off < gz_len; off += 65536)
    r = layer_feed_write(&f, gz + off, gz_len - off < 65536 ? gz_len - off : 65536, &err);
  int end = r == 0 ? layer_feed_end(&f, &err) : -1;
  TAP_OK(r == 0 && end == 0 && f.fd < 0, "a reader that went away (EPIPE) ends the feed quietly");
  layer_feed_free(&f);

  free(tar);
  free(gz);
  free(zs);
  TAP_DONE();
}
