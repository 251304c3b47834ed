/* What a process inside a container tries, to reach berthd's socket
 * (attacks-socket.test.ts runs it inside containers, built static):
 *
 *   sock-probe connect PATH...   connect() to each path; on success send a
 *                                hello and print the first reply line
 *   sock-probe abstract          every abstract socket name in /proc/net/unix
 *   sock-probe escape PATH       the classic chroot escape (chroot into a
 *                                subdirectory while the working directory stays
 *                                outside, climb with "..", chroot "."), then
 *                                connect to PATH from wherever it ended up
 *
 * One line per attempt: "PATH: connected: <reply>" or "PATH: <errno text>". */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

static void try_connect(const char *path) {
  struct sockaddr_un sa = {.sun_family = AF_UNIX};
  if (strlen(path) >= sizeof sa.sun_path) {
    printf("%s: path too long\n", path);
    return;
  }
  memcpy(sa.sun_path, path, strlen(path) + 1);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    printf("%s: socket: %s\n", path, strerror(errno));
    return;
  }
  if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
    printf("%s: %s\n", path, strerror(errno));
    close(fd);
    return;
  }
  static const char hello[] = "{\"v\":1,\"id\":1,\"method\":\"hello\"}\n";
  char buf[4096] = "";
  size_t n = 0;
  if (write(fd, hello, sizeof hello - 1) == (ssize_t)(sizeof hello - 1)) {
    while (n < sizeof buf - 1) {
      struct pollfd p = {.fd = fd, .events = POLLIN};
      if (poll(&p, 1, 5000) <= 0)
        break;
      ssize_t r = read(fd, buf + n, sizeof buf - 1 - n);
      if (r <= 0)
        break;
      n += (size_t)r;
      buf[n] = '\0';
      if (strchr(buf, '\n'))
        break;
    }
  }
  char *nl = strchr(buf, '\n');
  if (nl)
    *nl = '\0';
  printf("%s: connected: %s\n", path, buf);
  close(fd);
}

static int abstract_names(void) {
  FILE *f = fopen("/proc/net/unix", "r");
  if (!f) {
    printf("/proc/net/unix: %s\n", strerror(errno));
    return 1;
  }
  char line[4096];
  int entries = 0;
  while (fgets(line, sizeof line, f)) {
    /* Num RefCount Protocol Flags Type St Inode Path */
    char *p = line;
    for (int field = 0; field < 7 && p; field++) {
      p = strchr(p, ' ');
      while (p && *p == ' ')
        p++;
    }
    entries++;
    if (p && *p == '@')
      printf("abstract: %s", p);
    else if (p && *p && *p != '\n')
      printf("path: %s", p);
  }
  fclose(f);
  printf("entries: %d\n", entries - 1);
  return 0;
}

static int escape(const char *path) {
  if (mkdir("/.probe-escape", 0700) < 0 && errno != EEXIST) {
    printf("mkdir: %s\n", strerror(errno));
    return 1;
  }
  if (chroot("/.probe-escape") < 0) {
    printf("chroot: %s\n", strerror(errno));
    return 0;
  }
  for (int i = 0; i < 256; i++)
    if (chdir("..") < 0)
      break;
  if (chroot(".") < 0) {
    printf("chroot .: %s\n", strerror(errno));
    return 0;
  }
  struct stat st;
  printf("escaped: %s\n", stat(path, &st) == 0 ? "the socket path exists" : strerror(errno));
  try_connect(path);
  return 0;
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (argc >= 2 && !strcmp(argv[1], "connect")) {
    for (int i = 2; i < argc; i++)
      try_connect(argv[i]);
    return 0;
  }
  if (argc == 2 && !strcmp(argv[1], "abstract"))
    return abstract_names();
  if (argc == 3 && !strcmp(argv[1], "escape"))
    return escape(argv[2]);
  fprintf(stderr, "usage: sock-probe connect PATH... | abstract | escape PATH\n");
  return 2;
}
