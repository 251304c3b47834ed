/* berthd: arguments, then the daemon (daemon.c). Without --foreground it
 * detaches once the socket is ready, so the launcher's wait ends exactly
 * when clients can connect (or with the start-up error). */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <unistd.h>

#include "daemon.h"
#include "selfexe.h"

static const char usage[] =
    "usage: berthd [--root DIR] [--socket PATH] [--serve-uid UID] [--serve-gid GID]\n"
    "              [--log-max BYTES] [--subnet CIDR] [--foreground] | --version | --help\n"
    "  --root DIR       the store of images and containers (default /var/lib/berth)\n"
    "  --socket PATH    the Unix socket to serve (default /run/berth/berthd.sock)\n"
    "  --serve-uid UID  also serve this user (root is always served)\n"
    "  --serve-gid GID  also serve members of this group; the socket's group\n"
    "  --log-max BYTES  rotate a container's log past this size (default 8388608)\n"
    "  --subnet CIDR    the default bridge network's subnet (default 10.89.0.0/16)\n"
    "  --foreground     stay attached; otherwise detach once the socket is ready\n";

static int bad_usage(const char *fmt, const char *arg) {
  fprintf(stderr, "berthd: ");
  fprintf(stderr, fmt, arg);
  fprintf(stderr, "\n%s", usage);
  return 2;
}

static bool parse_u32(const char *s, unsigned long max, unsigned long *out) {
  if (!s || !*s || *s == '-' || *s == '+')
    return false;
  char *end;
  errno = 0;
  unsigned long long v = strtoull(s, &end, 10);
  if (errno || *end || v > max)
    return false;
  *out = (unsigned long)v;
  return true;
}

/* Forks; the parent waits for the child's ready byte and exits 0, or with
 * the child's status when start-up failed. Returns the write end in the child. */
static int detach(void) {
  int p[2];
  if (pipe2(p, O_CLOEXEC) < 0) {
    perror("berthd: pipe2");
    exit(1);
  }
  pid_t pid = fork();
  if (pid < 0) {
    perror("berthd: fork");
    exit(1);
  }
  if (pid > 0) {
    close(p[1]);
    char c;
    ssize_t r;
    do
      r = read(p[0], &c, 1);
    while (r < 0 && errno == EINTR);
    if (r == 1)
      exit(0);
    int status = 0;
    waitpid(pid, &status, 0);
    exit(WIFEXITED(status) && WEXITSTATUS(status) ? WEXITSTATUS(status) : 1);
  }
  close(p[0]);
  setsid();
  if (chdir("/") < 0) {
    perror("berthd: chdir /");
    exit(1);
  }
  int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (null >= 0) {
    dup2(null, STDIN_FILENO);
    close(null);
  }
  return p[1];
}

/* After the re-exec the kernel named us after the memfd's fd ("3"): the
 * name a plain exec of argv[0] would have given. */
static void set_own_name(const char *argv0) {
  const char *base = argv0 ? strrchr(argv0, '/') : NULL;
  base = base ? base + 1 : argv0;
  char name[16];
  snprintf(name, sizeof name, "%s", base && base[0] ? base : "berthd");
  prctl(PR_SET_NAME, name, 0, 0, 0);
}

int main(int argc, char **argv) {
  struct daemon_opts o = {
      .root = "/var/lib/berth",
      .socket_path = "/run/berth/berthd.sock",
      .log_max_bytes = 8 << 20,
      .ready_fd = -1,
  };
  bool foreground = false;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    unsigned long n;
    if (!strcmp(a, "--version")) {
      printf("berthd %s (protocol 1)\n", BERTHD_VERSION);
      return 0;
    } else if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
      fputs(usage, stdout);
      return 0;
    } else if (!strcmp(a, "--foreground")) {
      foreground = true;
      continue;
    }
    if (strcmp(a, "--root") && strcmp(a, "--socket") && strcmp(a, "--serve-uid") &&
        strcmp(a, "--serve-gid") && strcmp(a, "--log-max") && strcmp(a, "--subnet"))
      return bad_usage("unknown option '%s'", a);
    if (!v)
      return bad_usage("%s needs a value", a);
    i++;
    if (!strcmp(a, "--root")) {
      /* the store's paths go into overlay options, where : and , separate */
      if (v[0] != '/' || strpbrk(v, ":,") || strlen(v) > 512)
        return bad_usage("--root must be an absolute path without ':' or ',' (got '%s')", v);
      o.root = v;
    } else if (!strcmp(a, "--socket")) {
      if (v[0] != '/' || strlen(v) > 107)
        return bad_usage("--socket must be an absolute path of at most 107 bytes (got '%s')", v);
      o.socket_path = v;
    } else if (!strcmp(a, "--subnet")) {
      o.subnet = v; /* checked by net_init */
    } else if (!strcmp(a, "--serve-uid")) {
      if (!parse_u32(v, 4294967294UL, &n))
        return bad_usage("--serve-uid must be a numeric uid (got '%s')", v);
      o.has_serve_uid = true;
      o.serve_uid = (uid_t)n;
    } else if (!strcmp(a, "--serve-gid")) {
      if (!parse_u32(v, 4294967294UL, &n))
        return bad_usage("--serve-gid must be a numeric gid (got '%s')", v);
      o.has_serve_gid = true;
      o.serve_gid = (gid_t)n;
    } else {
      if (!parse_u32(v, (unsigned long)INT64_MAX, &n) || n < 65536)
        return bad_usage("--log-max must be a number of bytes, at least 65536 (got '%s')", v);
      o.log_max_bytes = (int64_t)n;
    }
  }
  if (geteuid() != 0)
    fprintf(stderr, "berthd: warning: not running as root; containers will not start\n");
  berr_t err;
  berr_clear(&err);
  /* from here on berthd runs from a sealed in-memory copy of its binary, so
   * no container can reach the file on disk through /proc/PID/exe (selfexe.h) */
  if (!selfexe_is_sealed() && selfexe_reexec_sealed(argv, &err) < 0)
    fprintf(stderr, "berthd: warning: %s; running from the binary's file\n", err.msg);
  if (selfexe_is_sealed())
    set_own_name(argv[0]);
  /* children (monitors, containers) inherit it: the usual 022, not the caller's */
  umask(022);
  if (!foreground)
    o.ready_fd = detach();
  if (daemon_run(&o, &err) < 0) {
    fprintf(stderr, "berthd: %s\n", err.msg);
    return 1;
  }
  return 0;
}
