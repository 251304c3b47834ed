/* berthd's sealed copy of itself (selfexe.c) and the non-dumpable runtime
 * processes (runtime_child_setup): this test binary re-execs itself from a
 * sealed memfd (argv[1] == "--sealed-child") and reports what it sees. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "exec.h"
#include "selfexe.h"
#include "tap.h"

/* The re-exec'd child: one line, "sealed=S seals=N wopen=E exe=PATH". */
static int sealed_child(void) {
  char exe[512] = "";
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  exe[n > 0 ? n : 0] = '\0';
  int ro = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
  int seals = ro >= 0 ? fcntl(ro, F_GET_SEALS) : -1;
  int w = open("/proc/self/exe", O_WRONLY | O_CLOEXEC);
  int wopen = w >= 0 ? 0 : errno;
  /* and through the read-only fd's magic link, as CVE-2019-5736 does */
  char via[64];
  snprintf(via, sizeof via, "/proc/self/fd/%d", ro);
  int w2 = open(via, O_RDWR | O_CLOEXEC);
  int wrote = w2 >= 0 && write(w2, "x", 1) == 1;
  printf("sealed=%d seals=%d wopen=%d wrote=%d exe=%s\n", selfexe_is_sealed(), seals, wopen, wrote, exe);
  return 0;
}

/* runs fn in a child; its exit status, or -1 */
static int in_child(int (*fn)(void)) {
  pid_t p = fork();
  if (p == 0)
    _exit(fn());
  int st = 0;
  if (p < 0 || waitpid(p, &st, 0) < 0)
    return -1;
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int dumpable_after_setup(void) {
  runtime_child_setup("berth-test");
  int self = prctl(PR_GET_DUMPABLE, 0, 0, 0, 0);
  /* a fork of it (the init, an exec'd command before its execve) too */
  pid_t p = fork();
  if (p == 0)
    _exit(prctl(PR_GET_DUMPABLE, 0, 0, 0, 0));
  int st = 0;
  waitpid(p, &st, 0);
  return self * 10 + (WIFEXITED(st) ? WEXITSTATUS(st) : 9);
}

static int dumpable_plain(void) { return prctl(PR_GET_DUMPABLE, 0, 0, 0, 0); }

int main(int argc, char **argv) {
  if (argc > 1 && !strcmp(argv[1], "--sealed-child"))
    return sealed_child();
  TAP_PLAN(9);
  TAP_OK(!selfexe_is_sealed(), "a binary run from its file is not a sealed copy");

  int p[2];
  if (pipe(p) < 0)
    return 1;
  pid_t pid = fork();
  if (pid == 0) {
    close(p[0]);
    dup2(p[1], 1);
    char *args[] = {argv[0], "--sealed-child", NULL};
    berr_t err;
    selfexe_reexec_sealed(args, &err);
    fprintf(stderr, "re-exec failed: %s\n", err.msg);
    _exit(3);
  }
  close(p[1]);
  char line[1024] = "";
  ssize_t n = read(p[0], line, sizeof line - 1);
  line[n > 0 ? n : 0] = '\0';
  close(p[0]);
  int st = 0;
  waitpid(pid, &st, 0);
  line[strcspn(line, "\n")] = '\0';
  TAP_OK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the re-exec'd copy runs (%s)", line);
  int sealed = -1, seals = -1, wopen = -1, wrote = -1;
  char exe[512] = "";
  sscanf(line, "sealed=%d seals=%d wopen=%d wrote=%d exe=%511[^\n]", &sealed, &seals, &wopen, &wrote, exe);
  TAP_OK(sealed == 1, "it runs from a sealed copy");
  TAP_OK(!strncmp(exe, "/memfd:test_selfexe", 19), "/proc/self/exe is the memfd, named after the binary (%s)", exe);
  TAP_OK(seals >= 0 && (seals & (F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL)) ==
                           (F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL),
         "sealed against write, grow, shrink and more seals (%#x)", (unsigned)seals);
  TAP_OK(wopen != 0, "/proc/self/exe does not open for writing (%s)", strerror(wopen));
  TAP_OK(wrote == 0, "nor through a read-only fd's magic link");

  TAP_OK(in_child(dumpable_plain) == 1, "a plain forked process is dumpable (the check below can fail)");
  TAP_OK(in_child(dumpable_after_setup) == 0, "runtime_child_setup makes it and its forks non-dumpable");
  TAP_DONE();
}
