/* A container's /etc/hosts, /etc/resolv.conf and /etc/hostname on bridge and
 * user networks: written in its state dir by the daemon and bind-mounted over
 * the rootfs's files by the init (so the image's own files stay untouched). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "network.h"
#include "util.h"

#define RESOLV_MAX 65536

static int file_in(const char *dir, const char *name, char out[PATH_MAX], berr_t *err) {
  if (snprintf(out, PATH_MAX, "%s/%s", dir, name) >= PATH_MAX)
    return berr_set(err, BERR_INTERNAL, "path too long under `%s`", dir);
  return 0;
}

/* In place (O_TRUNC, not a rename): a running container's bind mount holds the inode. */
static int write_in_place(const char *path, const char *data, berr_t *err) {
  cleanup_close int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
  if (fd < 0)
    return berr_sys(err, errno, "open `%s`", path);
  size_t len = strlen(data);
  for (size_t off = 0; off < len;) {
    ssize_t n = write(fd, data + off, len - off);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      return berr_sys(err, errno, "write `%s`", path);
    }
    off += (size_t)n;
  }
  if (fchmod(fd, 0644) < 0)
    return berr_sys(err, errno, "chmod `%s`", path);
  return 0;
}

int netfiles_hosts(const char *dir, const struct container_spec *s, const char *ip, const char *extra,
                   berr_t *err) {
  char path[PATH_MAX];
  if (file_in(dir, NET_HOSTS, path, err) < 0)
    return -1;
  size_t cap = 512 + (extra ? strlen(extra) : 0);
  cleanup_free char *buf = malloc(cap);
  if (!buf)
    return berr_sys(err, ENOMEM, "hosts");
  bool same = !strcmp(s->name, s->hostname);
  snprintf(buf, cap,
           "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"
           "%s\t%s%s%s\n%s",
           ip, s->hostname, same ? "" : " ", same ? "" : s->name, extra ? extra : "");
  return write_in_place(path, buf, err);
}

/* The host's resolv.conf, unless its servers are a local stub (127.x, as
 * systemd-resolved's 127.0.0.53), which a container cannot reach: then the
 * stub's upstream list, or public resolvers when there is none. */
static int resolv_conf(char **out, berr_t *err) {
  char *host = NULL;
  size_t len;
  berr_t e;
  if (read_file("/etc/resolv.conf", RESOLV_MAX, &host, &len, &e) < 0)
    host = NULL;
  bool usable = false, stub = false;
  for (char *line = host; line && *line;) {
    char *nl = strchr(line, '\n');
    size_t l = nl ? (size_t)(nl - line) : strlen(line);
    if (l > 11 && !strncmp(line, "nameserver", 10) && (line[10] == ' ' || line[10] == '\t')) {
      const char *a = line + 11;
      while (*a == ' ' || *a == '\t')
        a++;
      if (!strncmp(a, "127.", 4) || !strncmp(a, "::1", 3))
        stub = true;
      else
        usable = true;
    }
    line = nl ? nl + 1 : NULL;
  }
  if (host && (usable || !stub)) {
    *out = host;
    return 0;
  }
  free(host);
  char *up = NULL;
  if (read_file("/run/systemd/resolve/resolv.conf", RESOLV_MAX, &up, &len, &e) == 0) {
    *out = up;
    return 0;
  }
  if (!(*out = strdup("nameserver 1.1.1.1\nnameserver 8.8.8.8\n")))
    return berr_sys(err, ENOMEM, "resolv.conf");
  return 0;
}

int netfiles_write(const char *dir, const struct container_spec *s, const char *ip, berr_t *err) {
  char path[PATH_MAX];
  cleanup_free char *resolv = NULL;
  if (netfiles_hosts(dir, s, ip, NULL, err) < 0 || resolv_conf(&resolv, err) < 0 ||
      file_in(dir, NET_RESOLV, path, err) < 0 || write_in_place(path, resolv, err) < 0)
    return -1;
  char host[80];
  snprintf(host, sizeof host, "%s\n", s->hostname);
  if (file_in(dir, NET_HOSTNAME, path, err) < 0 || write_in_place(path, host, err) < 0)
    return -1;
  return 0;
}

/* etc/NAME below the cwd (the rootfs) as a regular file to bind over: made when
 * missing; a symlink is replaced, since following it could lead out of the rootfs. */
static int bind_target(const char *name, berr_t *err) {
  char rel[64];
  snprintf(rel, sizeof rel, "etc/%s", name);
  struct stat st;
  if (lstat("etc", &st) < 0) {
    if (errno != ENOENT)
      return berr_sys(err, errno, "lstat the rootfs's /etc");
    if (mkdir("etc", 0755) < 0)
      return berr_sys(err, errno, "mkdir the rootfs's /etc");
  } else if (S_ISLNK(st.st_mode)) {
    return berr_set(err, BERR_INVALID,
                    "the image's /etc is a symlink; it must be a directory for the network's "
                    "hosts, resolv.conf and hostname (or use --network none)");
  } else if (!S_ISDIR(st.st_mode)) {
    return berr_set(err, BERR_INVALID, "the image's /etc is not a directory");
  }
  if (lstat(rel, &st) == 0) {
    if (S_ISREG(st.st_mode))
      return 0;
    if (!S_ISLNK(st.st_mode))
      return berr_set(err, BERR_INVALID, "the image's /%s is not a file", rel);
    if (unlink(rel) < 0)
      return berr_sys(err, errno, "unlink the image's symlink /%s", rel);
  } else if (errno != ENOENT) {
    return berr_sys(err, errno, "lstat /%s of the rootfs", rel);
  }
  int fd = open(rel, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
  if (fd < 0)
    return berr_sys(err, errno, "create /%s in the rootfs", rel);
  close(fd);
  return 0;
}

int netfiles_bind(const struct net_attach *na, berr_t *err) {
  static const char *const files[] = {NET_HOSTS, NET_RESOLV, NET_HOSTNAME};
  for (size_t i = 0; i < 3; i++) {
    char src[PATH_MAX], dst[64];
    if (file_in(na->dir, files[i], src, err) < 0 || bind_target(files[i], err) < 0)
      return -1;
    snprintf(dst, sizeof dst, "etc/%s", files[i]);
    if (mount(src, dst, NULL, MS_BIND, NULL) < 0)
      return berr_sys(err, errno, "bind `%s` on /%s of the rootfs", src, dst);
  }
  return 0;
}
