/* The layer feed (layer-feed.c): a blob as a registry might send it, plain,
 * gzip, zstd or anything else, cut into pieces whose size comes from the
 * input, decompressed into /dev/null. Bad input must never fail a write
 * (only the feed's own failures do) and must end in a one-line `invalid`
 * reason; a plain tarball passes byte for byte. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz-util.h"
#include "layer-feed.h"

/* The input: 1 byte piece size (0: all at once), then the blob. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1)
    return 0;
  size_t piece = data[0] ? data[0] : size;
  const uint8_t *blob = data + 1;
  size_t n = size - 1;
  int fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
  FUZZ_ASSERT(fd >= 0, "open /dev/null: %s", strerror(errno));
  struct layer_feed f;
  berr_t err;
  FUZZ_ASSERT(layer_feed_init(&f, fd, &err) == 0, "init: %s", err.msg);
  for (size_t off = 0; off < n; off += piece) {
    int r = layer_feed_write(&f, blob + off, n - off < piece ? n - off : piece, &err);
    FUZZ_ASSERT(r == 0, "a write failed: %s", err.msg);
  }
  if (layer_feed_end(&f, &err) < 0) {
    FUZZ_ASSERT(err.kind == BERR_INVALID, "kind %d: %s", (int)err.kind, err.msg);
    FUZZ_ASSERT(err.msg[0] && !strchr(err.msg, '\n'), "a reason of one line: %s", err.msg);
  }
  FUZZ_ASSERT(f.fd < 0, "the feed's fd is closed at its end");
  layer_feed_free(&f);
  return 0;
}
