/* Frame reader/writer: whole frames, frames split across reads, oversize
 * lengths, EOF inside a frame, and the output queue. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "stream.h"
#include "tap.h"

static void set_nonblock(int fd) { fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK); }

int main(void) {
  TAP_PLAN(17);
  int sv[2];
  TAP_OK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0, "socketpair");
  set_nonblock(sv[0]);
  berr_t err;
  struct frame_reader rd;
  frame_reader_init(&rd);
  uint8_t type;
  const uint8_t *p;
  uint32_t len;

  TAP_OK(frame_read(&rd, sv[0], &type, &p, &len, &err) == FRAME_AGAIN, "nothing to read: AGAIN");

  /* a whole frame */
  TAP_OK(frame_write(sv[1], FRAME_STDOUT, "hello", 5, 1000, &err) == 0, "frame_write");
  TAP_OK(frame_read(&rd, sv[0], &type, &p, &len, &err) == FRAME_READY && type == FRAME_STDOUT &&
             len == 5 && !memcmp(p, "hello", 5),
         "whole frame read back");

  /* byte by byte: header split, payload split */
  const uint8_t raw[] = {FRAME_STDIN, 0, 0, 0, 3, 'a', 'b', 'c'};
  int r = FRAME_AGAIN;
  for (size_t i = 0; i < sizeof raw; i++) {
    if (write(sv[1], raw + i, 1) != 1)
      break;
    r = frame_read(&rd, sv[0], &type, &p, &len, &err);
    if (i + 1 < sizeof raw && r != FRAME_AGAIN)
      break;
  }
  TAP_OK(r == FRAME_READY && type == FRAME_STDIN && len == 3 && !memcmp(p, "abc", 3),
         "frame assembled from single bytes");

  /* an empty frame and a resize */
  const uint8_t two[] = {FRAME_STDIN_EOF, 0, 0, 0, 0, FRAME_RESIZE, 0, 0, 0, 4, 0, 24, 0, 80};
  TAP_OK(write(sv[1], two, sizeof two) == (ssize_t)sizeof two, "two frames in one write");
  TAP_OK(frame_read(&rd, sv[0], &type, &p, &len, &err) == FRAME_READY && type == FRAME_STDIN_EOF &&
             len == 0,
         "empty frame");
  TAP_OK(frame_read(&rd, sv[0], &type, &p, &len, &err) == FRAME_READY && type == FRAME_RESIZE &&
             len == 4 && p[1] == 24 && p[3] == 80,
         "second frame of the same read");

  /* oversize */
  const uint8_t big[] = {FRAME_STDIN, 0, 0x10, 0, 1};
  TAP_OK(write(sv[1], big, sizeof big) == (ssize_t)sizeof big, "oversize header written");
  TAP_OK(frame_read(&rd, sv[0], &type, &p, &len, &err) == -1 && err.kind == BERR_TOO_LARGE,
         "1 MiB + 1 is rejected: %s", err.msg);
  frame_reader_free(&rd);

  /* exactly 1 MiB passes, through the queue, split when bigger */
  struct outq q = {0};
  static uint8_t data[(1u << 20) + 10];
  memset(data, 'x', sizeof data);
  TAP_OK(outq_frame(&q, FRAME_STDOUT, data, sizeof data, &err) == 0, "queue 1 MiB + 10");
  TAP_OK(outq_pending(&q) == sizeof data + 2 * FRAME_HDR_LEN, "split into two frames");
  int sv2[2];
  TAP_OK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv2) == 0, "socketpair 2");
  set_nonblock(sv2[0]);
  set_nonblock(sv2[1]);
  frame_reader_init(&rd);
  size_t got = 0;
  int frames = 0;
  for (int spins = 0; spins < 100000 && (outq_pending(&q) || frames < 2); spins++) {
    if (outq_pending(&q))
      outq_flush(&q, sv2[1], &err);
    int k = frame_read(&rd, sv2[0], &type, &p, &len, &err);
    if (k == FRAME_READY) {
      frames++;
      got += len;
    } else if (k < 0) {
      break;
    }
  }
  TAP_OK(frames == 2 && got == sizeof data, "non-blocking partial flush and read: %d frames, %zu bytes",
         frames, got);
  outq_free(&q);

  /* EOF between frames and inside one */
  close(sv2[1]);
  TAP_OK(frame_read(&rd, sv2[0], &type, &p, &len, &err) == FRAME_EOF, "EOF between frames");
  frame_reader_free(&rd);
  frame_reader_init(&rd);
  const uint8_t half[] = {FRAME_STDIN, 0, 0, 0, 9, 'x'};
  TAP_OK(write(sv[1], half, sizeof half) == (ssize_t)sizeof half, "half a frame written");
  close(sv[1]);
  int k = frame_read(&rd, sv[0], &type, &p, &len, &err);
  TAP_OK(k == -1, "EOF inside a frame is an error: %s", err.msg);
  frame_reader_free(&rd);
  close(sv[0]);
  close(sv2[0]);
  TAP_DONE();
}
