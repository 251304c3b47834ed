#include "fdpass.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

union fdpass_cmsg {
  char buf[CMSG_SPACE(sizeof(int) * FDPASS_MAX)];
  struct cmsghdr align;
};

int fdpass_send(int sock, char tag, const int *fds, int n, berr_t *err) {
  if (fdpass_sendmsg(sock, &tag, 1, fds, n, err) < 0)
    return berr_wrap(err, "send '%c'", tag);
  return 0;
}

int fdpass_sendmsg(int sock, const void *data, size_t len, const int *fds, int n, berr_t *err) {
  if (n < 0 || n > FDPASS_MAX)
    return berr_set(err, BERR_INTERNAL, "cannot pass %d descriptors at once", n);
  struct iovec iov = {.iov_base = (void *)data, .iov_len = len};
  union fdpass_cmsg u;
  memset(&u, 0, sizeof u);
  struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
  if (n > 0) {
    msg.msg_control = u.buf;
    msg.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)n);
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)n);
    memcpy(CMSG_DATA(c), fds, sizeof(int) * (size_t)n);
  }
  ssize_t w;
  do
    w = sendmsg(sock, &msg, MSG_NOSIGNAL);
  while (w < 0 && errno == EINTR);
  if (w < 0)
    return berr_sys(err, errno, "send %zu bytes with %d descriptors", len, n);
  return 0;
}

int fdpass_recv(int sock, char *tag, int *fds, int max, bool dontwait, berr_t *err) {
  size_t got;
  return fdpass_recvmsg(sock, tag, 1, &got, fds, max, dontwait, err);
}

int fdpass_recvmsg(int sock, void *buf, size_t cap, size_t *got, int *fds, int max, bool dontwait,
                   berr_t *err) {
  *got = 0;
  if (max < 0 || max > FDPASS_MAX)
    return berr_set(err, BERR_INTERNAL, "cannot take %d descriptors at once", max);
  struct iovec iov = {.iov_base = buf, .iov_len = cap};
  union fdpass_cmsg u;
  memset(&u, 0, sizeof u);
  struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf,
                       .msg_controllen = sizeof u.buf};
  ssize_t r;
  do
    r = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC | (dontwait ? MSG_DONTWAIT : 0));
  while (r < 0 && errno == EINTR);
  if (r < 0)
    return berr_sys(err, errno, "receive descriptors");
  int n = 0;
  bool extra = false;
  for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
      continue;
    size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < k; i++) {
      int fd;
      memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
      if (n < max) {
        fds[n++] = fd;
      } else {
        close(fd);
        extra = true;
      }
    }
  }
  if (r == 0) {
    for (int i = 0; i < n; i++)
      close(fds[i]);
    return berr_set(err, BERR_INTERNAL, "the other end closed the socket");
  }
  if ((msg.msg_flags & (MSG_CTRUNC | MSG_TRUNC)) || extra) {
    for (int i = 0; i < n; i++)
      close(fds[i]);
    if (msg.msg_flags & MSG_TRUNC)
      return berr_set(err, BERR_INTERNAL, "a message came longer than the %zu bytes expected", cap);
    return berr_set(err, BERR_INTERNAL, "a message came with more descriptors than the %d expected", max);
  }
  *got = (size_t)r;
  return n;
}
