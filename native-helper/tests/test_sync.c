/* The monitor <-> init sync socket (SOCK_SEQPACKET): descriptors passed with a
 * tag (fdpass.h), and the start report read even when the child failed with
 * the parent's messages to it unread (the kernel then reports ECONNRESET once,
 * before what the child sent). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fdpass.h"
#include "init.h"
#include "tap.h"

static int open_fds(void) {
  int n = 0;
  struct stat st;
  for (int fd = 0; fd < 256; fd++)
    n += fstat(fd, &st) == 0;
  return n;
}

static void test_fdpass(void) {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
    TAP_OK(false, "socketpair: %s", strerror(errno));
    return;
  }
  berr_t err;
  int p[2][2];
  if (pipe(p[0]) < 0 || pipe(p[1]) < 0)
    return;
  int send_fds[2] = {p[0][1], p[1][1]};
  int r = fdpass_send(sv[0], 'C', send_fds, 2, &err);
  int got[FDPASS_MAX];
  char tag = 0;
  int n = r < 0 ? -1 : fdpass_recv(sv[1], &tag, got, FDPASS_MAX, false, &err);
  bool cloexec = n == 2 && (fcntl(got[0], F_GETFD) & FD_CLOEXEC) && (fcntl(got[1], F_GETFD) & FD_CLOEXEC);
  bool through = n == 2 && write(got[0], "a", 1) == 1 && write(got[1], "b", 1) == 1;
  char a = 0, b = 0;
  through = through && read(p[0][0], &a, 1) == 1 && read(p[1][0], &b, 1) == 1 && a == 'a' && b == 'b';
  TAP_OK(n == 2 && tag == 'C' && cloexec && through, "two descriptors pass with their tag, close-on-exec, and work (%d)", n);
  for (int i = 0; i < n; i++)
    close(got[i]);

  r = fdpass_send(sv[0], 'G', NULL, 0, &err);
  n = r < 0 ? -1 : fdpass_recv(sv[1], &tag, got, FDPASS_MAX, false, &err);
  TAP_OK(n == 0 && tag == 'G', "a tag alone passes as 0 descriptors");

  int before = open_fds();
  r = fdpass_send(sv[0], 'C', send_fds, 2, &err);
  n = r < 0 ? 0 : fdpass_recv(sv[1], &tag, got, 1, false, &err);
  TAP_OK(n == -1 && strstr(err.msg, "more descriptors") && open_fds() == before,
         "more descriptors than expected: refused, none of them left open (%s)", err.msg);

  n = fdpass_recv(sv[1], &tag, got, FDPASS_MAX, true, &err);
  TAP_OK(n == -1 && err.errnum == EAGAIN, "dontwait with nothing queued: EAGAIN");

  TAP_OK(fdpass_send(sv[0], 'C', send_fds, FDPASS_MAX + 1, &err) < 0, "more than FDPASS_MAX at once is refused");

  close(sv[0]);
  n = fdpass_recv(sv[1], &tag, got, FDPASS_MAX, false, &err);
  TAP_OK(n == -1 && strstr(err.msg, "closed"), "the other end gone: an error (%s)", err.msg);
  close(sv[1]);
  for (int i = 0; i < 2; i++) {
    close(p[i][0]);
    close(p[i][1]);
  }
}

/* The child fails after the parent queued a message for it that it never reads. */
static void test_report_after_unread(void) {
  int sv[2], gate[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0 || pipe(gate) < 0) {
    TAP_OK(false, "socketpair: %s", strerror(errno));
    return;
  }
  pid_t pid = fork();
  if (pid == 0) {
    close(sv[0]);
    close(gate[1]);
    char c;
    if (read(gate[0], &c, 1) != 1)
      _exit(2);
    berr_t e;
    berr_set(&e, BERR_INVALID, "the image's /etc is a symlink");
    proc_fail(sv[1], "network files", &e);
  }
  close(sv[1]);
  close(gate[0]);
  berr_t err;
  /* queued before the child goes on: it exits with it unread */
  int r = fdpass_send(sv[0], SYNC_CGROUP, NULL, 0, &err);
  if (write(gate[1], "x", 1) != 1)
    r = -1;
  close(gate[1]);
  int st = 0;
  waitpid(pid, &st, 0);
  struct init_times times;
  berr_clear(&err);
  int w = sync_wait_exec(sv[0], &times, &err);
  TAP_OK(r == 0 && WIFEXITED(st) && WEXITSTATUS(st) == 127 && w < 0 && err.kind == BERR_INVALID &&
             strstr(err.msg, "network files: the image's /etc is a symlink"),
         "the child's report is read although it exited with our message unread (%s)", err.msg);
  close(sv[0]);
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  signal(SIGPIPE, SIG_IGN);
  test_fdpass();
  test_report_after_unread();
  printf("1..%d\n", tap_n);
  TAP_DONE();
}
