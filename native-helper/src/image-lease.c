/* Leases: content a writer has added, or is adding, that no image names yet.
 * <root>/leases/<32 hex> lists one digest per line (blob digests and layer
 * diffIDs). Its owner holds flock(LOCK_EX) on it for as long as the content
 * must stay: a worker for its own import or commit (the lock goes when the
 * worker exits, however it exits), or an image.lease worker on behalf of a
 * client's pull, until that client closes the connection. image.prune keeps
 * every digest of a held lease and deletes the leases nobody holds, so an
 * interrupted pull, import or commit leaves nothing behind after the next
 * prune, and a running one loses nothing to a prune at the same time.
 *
 * Order: a writer notes a digest BEFORE it makes the content visible under
 * the store lock, and prune reads the leases while holding that lock; so
 * whatever prune can see of a live writer, it also sees in the lease. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "image-internal.h"
#include "server.h"
#include "util.h"

/* This process's lease: created on first use (or joined), never closed, so
 * the lock lasts until the process exits. */
static int cur_fd = -1;
static char *cur_root; /* the store cur_fd's lease is in */
static bool cur_owned; /* created here (else joined: the client's to end) */
static char *pathf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *pathf(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char *p = NULL;
  int n = vasprintf(&p, fmt, ap);
  va_end(ap);
  return n < 0 ? NULL : p;
}

static char cur_id[IMAGE_LEASE_ID_LEN + 1];

bool image_lease_id_is_valid(const char *id) {
  if (!id || strlen(id) != IMAGE_LEASE_ID_LEN)
    return false;
  for (const char *p = id; *p; p++)
    if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
      return false;
  return true;
}

static char *lease_path(const char *root, const char *id) { return pathf("%s/leases/%s", root, id); }

int image_lease_create(const char *root, char id[IMAGE_LEASE_ID_LEN + 1], berr_t *err) {
  unsigned char rnd[IMAGE_LEASE_ID_LEN / 2];
  if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd)
    return berr_sys(err, errno, "getrandom");
  for (size_t i = 0; i < sizeof rnd; i++)
    sprintf(id + 2 * i, "%02x", rnd[i]);
  cleanup_free char *dir = pathf("%s/leases", root);
  cleanup_free char *p = lease_path(root, id);
  if (!dir || !p)
    return berr_sys(err, ENOMEM, "lease path");
  if (mkdir_p(dir, 0700, err) < 0)
    return -1;
  /* prune (LOCK_EX) must not find the file before it is locked */
  cleanup_close int store = image_store_lock(root, LOCK_SH, err);
  if (store < 0)
    return -1;
  int fd = open(p, O_RDWR | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0)
    return berr_sys(err, errno, "create lease `%s`", p);
  if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
    int e = errno;
    close(fd);
    unlink(p);
    return berr_sys(err, e, "lock lease `%s`", p);
  }
  return fd;
}

int image_lease_join(const char *root, const char *id, berr_t *err) {
  if (!image_lease_id_is_valid(id))
    return berr_set(err, BERR_INVALID, "`lease` must be 32 lowercase hex digits (from image.lease), not \"%.40s\"", id);
  cleanup_free char *p = lease_path(root, id);
  if (!p)
    return berr_sys(err, ENOMEM, "lease path");
  int fd = open(p, O_WRONLY | O_APPEND | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) {
    if (errno == ENOENT)
      return berr_set(err, BERR_NOT_FOUND, "lease %s is gone (its image.lease connection was closed): start the pull again", id);
    return berr_sys(err, errno, "open lease `%s`", p);
  }
  /* A lease whose holder let go is dead: prune may delete it and what it lists. */
  if (flock(fd, LOCK_SH | LOCK_NB) == 0) {
    close(fd);
    return berr_set(err, BERR_NOT_FOUND, "lease %s is no longer held: start the pull again", id);
  }
  image_lease_release(cur_root);
  if (!(cur_root = strdup(root))) {
    close(fd);
    return berr_sys(err, ENOMEM, "lease");
  }
  cur_fd = fd;
  cur_owned = false;
  snprintf(cur_id, sizeof cur_id, "%s", id);
  return 0;
}

static int append_digest(int fd, const char *digest, berr_t *err) {
  char line[DIGEST_STR_LEN + 2];
  int n = snprintf(line, sizeof line, "%s\n", digest);
  /* one write under PIPE_BUF with O_APPEND: lines of several writers never mix */
  if (write(fd, line, (size_t)n) != n)
    return berr_sys(err, errno ? errno : EIO, "write lease %s", cur_id);
  return 0;
}

int image_lease_note(const char *root, const char *digest, berr_t *err) {
  if (!digest_is_valid(digest))
    return 0;
  if (cur_fd >= 0 && strcmp(cur_root, root))
    image_lease_release(cur_root); /* a process writing to two stores: tests */
  if (cur_fd < 0) {
    char id[IMAGE_LEASE_ID_LEN + 1];
    int fd = image_lease_create(root, id, err);
    if (fd < 0)
      return -1;
    if (!(cur_root = strdup(root))) {
      close(fd);
      return berr_sys(err, ENOMEM, "lease");
    }
    cur_fd = fd;
    cur_owned = true;
    snprintf(cur_id, sizeof cur_id, "%s", id);
  }
  return append_digest(cur_fd, digest, err);
}

void image_lease_release(const char *root) {
  if (cur_fd < 0 || !root || strcmp(root, cur_root))
    return;
  cleanup_free char *p = cur_owned ? lease_path(cur_root, cur_id) : NULL;
  if (p && unlink(p) < 0 && errno != ENOENT)
    berthd_log("remove lease `%s`: %s", p, strerror(errno));
  close(cur_fd);
  cur_fd = -1;
  cur_id[0] = '\0';
  free(cur_root);
  cur_root = NULL;
}

int image_lease_note_to(const char *root, const char *id, const char *digest, berr_t *err) {
  if (!image_lease_id_is_valid(id))
    return berr_set(err, BERR_INVALID, "`lease` must be 32 lowercase hex digits (from image.lease), not \"%.40s\"", id);
  cleanup_free char *p = lease_path(root, id);
  if (!p)
    return berr_sys(err, ENOMEM, "lease path");
  cleanup_close int fd = open(p, O_WRONLY | O_APPEND | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0)
    return errno == ENOENT ? berr_set(err, BERR_NOT_FOUND, "lease %s is gone: start the pull again", id)
                           : berr_sys(err, errno, "open lease `%s`", p);
  char line[DIGEST_STR_LEN + 2];
  int n = snprintf(line, sizeof line, "%s\n", digest);
  if (write(fd, line, (size_t)n) != n)
    return berr_sys(err, errno ? errno : EIO, "write lease `%s`", p);
  return 0;
}

int image_leases_collect(const char *root, json_object *keep, berr_t *err) {
  cleanup_free char *dir = pathf("%s/leases", root);
  if (!dir)
    return berr_sys(err, ENOMEM, "lease path");
  cleanup_dir DIR *d = opendir(dir);
  if (!d)
    return errno == ENOENT ? 0 : berr_sys(err, errno, "opendir `%s`", dir);
  struct dirent *de;
  while ((de = readdir(d))) {
    if (de->d_name[0] == '.')
      continue;
    cleanup_free char *p = pathf("%s/%s", dir, de->d_name);
    if (!p)
      return berr_sys(err, ENOMEM, "lease path");
    cleanup_close int fd = open(p, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    if (fd < 0) {
      if (errno == ENOENT)
        continue;
      return berr_sys(err, errno, "open lease `%s`", p);
    }
    if (!image_lease_id_is_valid(de->d_name) || flock(fd, LOCK_EX | LOCK_NB) == 0) {
      /* nobody holds it (or it is not a lease): what it protected may go */
      if (unlink(p) < 0 && errno != ENOENT)
        return berr_sys(err, errno, "remove lease `%s`", p);
      continue;
    }
    if (errno != EWOULDBLOCK)
      return berr_sys(err, errno, "flock lease `%s`", p);
    cleanup_free char *text = NULL;
    size_t len = 0;
    /* a lease lists the digests of one operation: a few hundred lines at most */
    if (read_file(p, 4u << 20, &text, &len, err) < 0) {
      if (err->errnum == ENOENT)
        continue;
      return -1;
    }
    for (char *line = text, *nl; line && *line; line = nl ? nl + 1 : NULL) {
      nl = strchr(line, '\n');
      if (nl)
        *nl = '\0';
      if (digest_is_valid(line))
        json_object_object_add(keep, line, NULL);
    }
  }
  return 0;
}
