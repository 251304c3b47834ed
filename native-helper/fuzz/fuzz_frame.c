/* The frame reader of attached connections (stream.c) on a non-blocking
 * socket, fed in chunks whose sizes come from the input (partial headers and
 * payloads, EAGAIN between them, EOF anywhere). Every complete frame is
 * encoded again with outq_frame and must give back the very bytes read; the
 * EXIT payload builder runs on a wait status taken from the input. */
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fuzz-util.h"
#include "stream.h"

/* The input: 1 byte chunk size (0: all at once), then the bytes a client sends. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1)
    return 0;
  size_t chunk = data[0] ? data[0] : size;
  const uint8_t *in = data + 1;
  size_t n = size - 1;

  int sv[2];
  FUZZ_ASSERT(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) == 0,
              "socketpair: %s", strerror(errno));
  struct frame_reader r;
  frame_reader_init(&r);
  struct outq q = {0};
  size_t sent = 0, consumed = 0; /* consumed: bytes of the complete frames handed out */
  bool failed = false, eof = false;
  while (!failed && !eof) {
    if (sent < n) {
      size_t k = n - sent < chunk ? n - sent : chunk;
      ssize_t w = write(sv[1], in + sent, k);
      FUZZ_ASSERT(w > 0 || errno == EAGAIN, "write: %s", strerror(errno));
      if (w > 0)
        sent += (size_t)w;
    } else if (sv[1] >= 0) {
      close(sv[1]);
      sv[1] = -1;
    }
    for (;;) {
      uint8_t type;
      const uint8_t *payload;
      uint32_t len;
      berr_t err;
      int k = frame_read(&r, sv[0], &type, &payload, &len, &err);
      if (k == FRAME_AGAIN) {
        FUZZ_ASSERT(sv[1] >= 0, "FRAME_AGAIN after the peer closed");
        break;
      }
      if (k == FRAME_EOF) {
        FUZZ_ASSERT(sv[1] < 0 && consumed == n, "EOF at %zu of %zu bytes", consumed, n);
        eof = true;
        break;
      }
      if (k < 0) {
        FUZZ_ASSERT(err.kind == BERR_TOO_LARGE || err.kind == BERR_BAD_REQUEST, "unexpected error: %s",
                    err.msg);
        failed = true;
        break;
      }
      FUZZ_ASSERT(k == FRAME_READY, "frame_read returned %d", k);
      FUZZ_ASSERT(len <= FRAME_MAX_PAYLOAD, "payload of %u bytes", len);
      FUZZ_ASSERT(consumed + FRAME_HDR_LEN + len <= n, "frame beyond the input");
      /* the same frame encoded again is byte for byte what came in */
      q.off = q.len = 0;
      FUZZ_ASSERT(outq_frame(&q, type, payload, len, &err) == 0, "outq_frame: %s", err.msg);
      FUZZ_ASSERT(outq_pending(&q) == FRAME_HDR_LEN + len &&
                      !memcmp(q.buf + q.off, in + consumed, FRAME_HDR_LEN + len),
                  "re-encoded frame differs");
      consumed += FRAME_HDR_LEN + len;
    }
  }
  outq_free(&q);
  frame_reader_free(&r);
  close(sv[0]);
  if (sv[1] >= 0)
    close(sv[1]);

  /* EXIT payload for a status made of the first bytes */
  int status = 0;
  memcpy(&status, data, size < sizeof status ? size : sizeof status);
  json_object *o = exit_object(status, data[0] & 1);
  FUZZ_ASSERT(o && json_object_is_type(o, json_type_object), "exit_object");
  json_object_put(o);
  return 0;
}
