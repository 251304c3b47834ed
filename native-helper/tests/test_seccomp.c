/* The container's seccomp filter (seccomp.c): each check runs in a forked
 * child that installs the filter (as a container's process does just before
 * its execve) and reports the errno of each call through a pipe. */
#include <errno.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "seccomp.h"
#include "tap.h"

enum { R_INSTALL, R_UNSHARE_USER, R_CLONE_USER, R_CLONE3, R_SETNS, R_KEYCTL, R_ADD_KEY, R_REQUEST_KEY,
       R_X32_UNSHARE, R_I386_UNSHARE, R_UNSHARE_UTS, R_FORK, R_COUNT };

/* 0 for success, else the errno; -1: not run (killed, for the i386 ABI) */
static int res[R_COUNT];

static int err_of(long r) { return r < 0 ? errno : 0; }

#if defined(__x86_64__)
/* The i386 ABI from a 64-bit process: int $0x80 (-errno comes back in eax). */
static long int80(long nr, long a1) {
  long ret;
  __asm__ volatile("int $0x80" : "=a"(ret) : "a"(nr), "b"(a1) : "memory");
  return ret;
}
#endif

/* In a grandchild, so that a success (a new namespace) or a SIGSEGV (no
 * i386 emulation in this kernel) stays there; its exit code is the errno. */
static int in_grandchild(int which) {
  pid_t p = fork();
  if (p == 0) {
    long r = -1;
    switch (which) {
    case R_UNSHARE_USER:
      r = unshare(CLONE_NEWUSER);
      break;
    case R_CLONE_USER:
      r = syscall(SYS_clone, (unsigned long)(CLONE_NEWUSER | SIGCHLD), NULL, NULL, NULL, NULL);
      if (r == 0)
        _exit(0); /* the clone itself */
      break;
    case R_UNSHARE_UTS:
      r = unshare(CLONE_NEWUTS);
      break;
#if defined(__x86_64__)
    case R_X32_UNSHARE:
      r = syscall(0x40000000 | SYS_unshare, CLONE_NEWUSER);
      break;
    case R_I386_UNSHARE: {
      long k = int80(310, CLONE_NEWUSER);
      _exit(k < 0 ? (int)-k : 0);
    }
#endif
    default:
      _exit(ENOTSUP);
    }
    _exit(r < 0 ? errno : 0);
  }
  int st = 0;
  if (p < 0 || waitpid(p, &st, 0) < 0)
    return -2;
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void confined_child(int out) {
  berr_t err;
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 || seccomp_confine(&err) < 0) {
    res[R_INSTALL] = errno ? errno : 1;
  } else {
    res[R_INSTALL] = 0;
    res[R_UNSHARE_USER] = in_grandchild(R_UNSHARE_USER);
    res[R_CLONE_USER] = in_grandchild(R_CLONE_USER);
    struct clone_args ca;
    memset(&ca, 0, sizeof ca);
    ca.exit_signal = SIGCHLD;
    long c3 = syscall(SYS_clone3, &ca, sizeof ca);
    if (c3 == 0)
      _exit(0);
    res[R_CLONE3] = err_of(c3);
    if (c3 > 0)
      waitpid((pid_t)c3, NULL, 0);
    res[R_SETNS] = err_of(setns(0, 0));
    res[R_KEYCTL] = err_of(syscall(SYS_keyctl, 0 /* KEYCTL_GET_KEYRING_ID */, -3 /* session */, 0));
    res[R_ADD_KEY] = err_of(syscall(SYS_add_key, "user", "berth-test", "x", 1, -3));
    res[R_REQUEST_KEY] = err_of(syscall(SYS_request_key, "user", "berth-test", NULL, 0));
    res[R_X32_UNSHARE] = in_grandchild(R_X32_UNSHARE);
    res[R_I386_UNSHARE] = in_grandchild(R_I386_UNSHARE);
    res[R_UNSHARE_UTS] = in_grandchild(R_UNSHARE_UTS);
    res[R_FORK] = in_grandchild(-1) == ENOTSUP ? 0 : 1; /* a plain fork still works */
  }
  (void)!write(out, res, sizeof res);
  _exit(0);
}

int main(void) {
  TAP_PLAN(12);
  /* without the filter, as root: a user namespace can be made (the checks below can fail) */
  int baseline = getuid() == 0 ? in_grandchild(R_UNSHARE_USER) : -3;
  int p[2];
  if (pipe(p) < 0)
    return 1;
  pid_t pid = fork();
  if (pid == 0) {
    close(p[0]);
    confined_child(p[1]);
  }
  close(p[1]);
  for (int i = 0; i < R_COUNT; i++)
    res[i] = -9;
  ssize_t n = read(p[0], res, sizeof res);
  close(p[0]);
  waitpid(pid, NULL, 0);
  TAP_OK(n == (ssize_t)sizeof res && res[R_INSTALL] == 0, "the filter installs after no_new_privs (%d)", res[R_INSTALL]);
  TAP_OK(res[R_UNSHARE_USER] == EPERM, "unshare(CLONE_NEWUSER) is EPERM (%d; %d without the filter)",
         res[R_UNSHARE_USER], baseline);
  TAP_OK(res[R_CLONE_USER] == EPERM, "clone(CLONE_NEWUSER) is EPERM (%d)", res[R_CLONE_USER]);
  TAP_OK(res[R_CLONE3] == ENOSYS, "clone3 is ENOSYS, so libcs fall back to clone (%d)", res[R_CLONE3]);
  TAP_OK(res[R_SETNS] == EPERM, "setns is EPERM, before any fd check (%d)", res[R_SETNS]);
  TAP_OK(res[R_KEYCTL] == EPERM, "keyctl is EPERM (%d)", res[R_KEYCTL]);
  TAP_OK(res[R_ADD_KEY] == EPERM, "add_key is EPERM (%d)", res[R_ADD_KEY]);
  TAP_OK(res[R_REQUEST_KEY] == EPERM, "request_key is EPERM (%d)", res[R_REQUEST_KEY]);
#if defined(__x86_64__)
  TAP_OK(res[R_X32_UNSHARE] == EPERM, "the x32 ABI's unshare(CLONE_NEWUSER) is EPERM (%d)", res[R_X32_UNSHARE]);
  if (res[R_I386_UNSHARE] == -1)
    TAP_OK(1, "# SKIP no i386 emulation in this kernel");
  else
    TAP_OK(res[R_I386_UNSHARE] == EPERM, "the i386 ABI's unshare(CLONE_NEWUSER) is EPERM (%d)",
           res[R_I386_UNSHARE]);
#else
  TAP_OK(1, "# SKIP x32 is an x86-64 ABI");
  TAP_OK(1, "# SKIP i386 is an x86-64 ABI");
#endif
  if (getuid() == 0)
    TAP_OK(res[R_UNSHARE_UTS] == 0, "other namespaces are left to the capabilities: unshare(CLONE_NEWUTS) as root works (%d)",
           res[R_UNSHARE_UTS]);
  else
    TAP_OK(res[R_UNSHARE_UTS] == EPERM, "unshare(CLONE_NEWUTS) without root is EPERM (%d)", res[R_UNSHARE_UTS]);
  TAP_OK(res[R_FORK] == 0, "fork still works");
  TAP_DONE();
}
