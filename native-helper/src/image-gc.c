/* image.prune: the store's garbage collector. Under the store lock (so no
 * import commits meanwhile): images no one needs go from images.json first,
 * then every blob, layer tree and meta file that no image references and no
 * held lease names (image-lease.c: a pull, import or commit at work). Work
 * dirs in tmp/ whose owner still holds their flock stay; so do partial
 * uploads that are being written or that a held lease names (a pull that
 * may resume). Debris not named by a digest goes once IMAGE_GC_GRACE_SECONDS
 * old, or at once when it is a temp file whose writer is gone. */
#include <dirent.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "image-internal.h"
#include "util.h"

static uint64_t tree_bytes;
static int add_size(const char *p, const struct stat *st, int flag, struct FTW *f) {
  (void)p;
  (void)flag;
  (void)f;
  if (S_ISREG(st->st_mode) || S_ISLNK(st->st_mode))
    tree_bytes += (uint64_t)st->st_size;
  return 0;
}

/* Bytes of the files under path (not crossing mounts, not following links). */
static uint64_t du(const char *path) {
  struct stat st;
  if (lstat(path, &st) < 0)
    return 0;
  if (!S_ISDIR(st.st_mode))
    return (uint64_t)st.st_size;
  tree_bytes = 0;
  (void)nftw(path, add_size, 32, FTW_PHYS | FTW_MOUNT);
  return tree_bytes;
}

static bool stale(const char *path, time_t now, int grace) {
  struct stat st;
  return lstat(path, &st) == 0 && now - st.st_mtime >= grace;
}

/* Whether pid may still be the process that last wrote a file at mtime: it exists,
 * is not a zombie, and started before that write (PIDs come round again). */
static bool may_be_writer(long pid, time_t mtime) {
  char path[64], buf[1024];
  snprintf(path, sizeof path, "/proc/%ld/stat", pid);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return errno != ENOENT && errno != ESRCH;
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0)
    return false;
  buf[n] = '\0';
  char *p = strrchr(buf, ')'); /* the name may hold spaces and ')' */
  if (!p || p[1] != ' ' || p[2] == '\0')
    return true; /* unreadable: assume it is */
  if (p[2] == 'Z' || p[2] == 'X')
    return false; /* dead, not yet reaped */
  p += 2;
  for (int field = 3; field < 22 && p; field++) /* field 22: start time, in ticks since boot */
    if ((p = strchr(p, ' ')))
      p++;
  if (!p)
    return true;
  unsigned long long ticks = strtoull(p, NULL, 10);
  cleanup_free char *st = NULL;
  berr_t e;
  long hz = sysconf(_SC_CLK_TCK);
  if (hz <= 0 || read_file("/proc/stat", 1 << 20, &st, NULL, &e) < 0)
    return true;
  const char *bt = strstr(st, "\nbtime ");
  if (!bt)
    return true;
  time_t started = (time_t)strtoll(bt + 7, NULL, 10) + (time_t)(ticks / (unsigned long long)hz);
  return started <= mtime + 1;
}

/* `<name>.tmp.<pid>` (write_file_atomic's, a blob copy's) whose writer is gone: a
 * worker killed mid-write left it; debris at once, however young. */
static bool dead_writers_tmp(const char *dir, const char *name) {
  const char *t = strstr(name, ".tmp.");
  if (!t || !isdigit((unsigned char)t[5]))
    return false;
  char *end = NULL;
  errno = 0;
  long pid = strtol(t + 5, &end, 10);
  if (errno || *end || pid <= 0 || pid > INT_MAX)
    return false;
  struct stat sb;
  cleanup_free char *p = NULL;
  if (asprintf(&p, "%s/%s", dir, name) < 0 || lstat(p, &sb) < 0)
    return false;
  return !may_be_writer(pid, sb.st_mtime);
}

struct sweep {
  const char *root;
  json_object *keep;   /* referenced by a remaining image or named by a held lease */
  time_t now;
  int grace;
  uint64_t reclaimed;
};

static int remove_path(struct sweep *s, const char *p, berr_t *err) {
  uint64_t n = du(p);
  if (rm_rf(p, err) < 0)
    return -1;
  s->reclaimed += n;
  return 0;
}

/* Whether a digest's file may go: no image references it and no held lease names it. */
static bool may_go(struct sweep *s, const char *digest) { return !json_object_object_get_ex(s->keep, digest, NULL); }

static int sweep_blobs(struct sweep *s, berr_t *err) {
  cleanup_free char *dir = NULL;
  if (asprintf(&dir, "%s/blobs/sha256", s->root) < 0)
    return berr_sys(err, ENOMEM, "prune");
  cleanup_dir DIR *d = opendir(dir);
  if (!d)
    return berr_sys(err, errno, "opendir `%s`", dir);
  struct dirent *de;
  while ((de = readdir(d))) {
    if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
      continue;
    char digest[DIGEST_STR_LEN + 8];
    snprintf(digest, sizeof digest, "sha256:%.70s", de->d_name);
    cleanup_free char *p = NULL;
    if (asprintf(&p, "%s/%s", dir, de->d_name) < 0)
      return berr_sys(err, ENOMEM, "prune");
    /* not a digest: a temp file of an interrupted write */
    bool go = digest_is_valid(digest) ? may_go(s, digest)
                                      : dead_writers_tmp(dir, de->d_name) || stale(p, s->now, s->grace);
    if (go && remove_path(s, p, err) < 0)
      return -1;
  }
  return 0;
}

static int sweep_layers(struct sweep *s, berr_t *err) {
  cleanup_free char *dir = NULL;
  if (asprintf(&dir, "%s/layers/sha256", s->root) < 0)
    return berr_sys(err, ENOMEM, "prune");
  cleanup_dir DIR *d = opendir(dir);
  if (!d)
    return berr_sys(err, errno, "opendir `%s`", dir);
  struct dirent *de;
  while ((de = readdir(d))) {
    if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
      continue;
    char digest[DIGEST_STR_LEN + 8];
    snprintf(digest, sizeof digest, "sha256:%.64s", de->d_name);
    size_t n = strlen(de->d_name);
    bool tree = n == DIGEST_HEX_LEN, meta = n == DIGEST_HEX_LEN + 5 && !strcmp(de->d_name + DIGEST_HEX_LEN, ".json");
    cleanup_free char *p = NULL;
    if (asprintf(&p, "%s/%s", dir, de->d_name) < 0)
      return berr_sys(err, ENOMEM, "prune");
    bool go;
    if ((tree || meta) && digest_is_valid(digest)) {
      go = may_go(s, digest); /* a tree and its meta go together */
    } else {
      go = dead_writers_tmp(dir, de->d_name) || stale(p, s->now, s->grace);
    }
    if (go && remove_path(s, p, err) < 0)
      return -1;
  }
  return 0;
}

/* <root>/facts/<config hex>.json (image.layers' cache) of images that are gone. */
static int sweep_facts(struct sweep *s, berr_t *err) {
  cleanup_free char *dir = NULL;
  if (asprintf(&dir, "%s/facts", s->root) < 0)
    return berr_sys(err, ENOMEM, "prune");
  cleanup_dir DIR *d = opendir(dir);
  if (!d)
    return errno == ENOENT ? 0 : berr_sys(err, errno, "opendir `%s`", dir);
  struct dirent *de;
  while ((de = readdir(d))) {
    size_t n = strlen(de->d_name);
    if (de->d_name[0] == '.' || n != DIGEST_HEX_LEN + 5 || strcmp(de->d_name + DIGEST_HEX_LEN, ".json"))
      continue;
    char id[DIGEST_STR_LEN + 8];
    snprintf(id, sizeof id, "sha256:%.64s", de->d_name);
    if (json_object_object_get_ex(s->keep, id, NULL))
      continue;
    cleanup_free char *p = NULL;
    if (asprintf(&p, "%s/%s", dir, de->d_name) < 0)
      return berr_sys(err, ENOMEM, "prune");
    if (remove_path(s, p, err) < 0)
      return -1;
  }
  return 0;
}

/* Work dirs nobody holds, and stale partial uploads. */
static int sweep_tmp(struct sweep *s, berr_t *err) {
  cleanup_free char *dir = NULL, *partial = image_partial_dir(s->root);
  if (asprintf(&dir, "%s/tmp", s->root) < 0 || !partial)
    return berr_sys(err, ENOMEM, "prune");
  cleanup_dir DIR *d = opendir(dir);
  if (!d)
    return errno == ENOENT ? 0 : berr_sys(err, errno, "opendir `%s`", dir);
  struct dirent *de;
  while ((de = readdir(d))) {
    if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") || !strcmp(de->d_name, "partial"))
      continue;
    cleanup_free char *p = NULL;
    if (asprintf(&p, "%s/%s", dir, de->d_name) < 0)
      return berr_sys(err, ENOMEM, "prune");
    cleanup_close int fd = open(p, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    if (fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) < 0)
      continue; /* in use: an import, commit or pull is working there */
    if (remove_path(s, p, err) < 0)
      return -1;
  }
  cleanup_dir DIR *pd = opendir(partial);
  while (pd && (de = readdir(pd))) {
    if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
      continue;
    cleanup_free char *p = NULL;
    if (asprintf(&p, "%s/%s", partial, de->d_name) < 0)
      return berr_sys(err, ENOMEM, "prune");
    char digest[DIGEST_STR_LEN + 8];
    snprintf(digest, sizeof digest, "sha256:%.70s", de->d_name);
    if (digest_is_valid(digest) ? !may_go(s, digest) : !stale(p, s->now, s->grace))
      continue;
    /* an upload writing it holds its flock */
    cleanup_close int fd = open(p, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    if (fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) < 0)
      continue;
    if (remove_path(s, p, err) < 0)
      return -1;
  }
  return 0;
}

int image_prune_grace(const char *root, bool all, image_in_use_fn in_use, void *ctx, int grace,
                      json_object **out, berr_t *err) {
  cleanup_close int lock = image_store_lock(root, LOCK_EX, err);
  if (lock < 0)
    return -1;
  json_object *idx = NULL;
  if (image_index_load(root, &idx, err) < 0)
    return -1;
  int ret = -1;
  json_object *removed = json_object_new_array();
  struct sweep s = {.root = root, .keep = json_object_new_object(),
                    .now = time(NULL), .grace = grace};
  json_object *images = json_object_object_get(idx, "images");
  json_object *refs = json_object_object_get(idx, "refs");

  /* which images go */
  json_object *gone = json_object_new_array();
  json_object_object_foreach(images, m, rec) {
    (void)rec;
    bool tagged = false;
    json_object_object_foreach(refs, name, target) {
      (void)name;
      tagged |= json_object_is_type(target, json_type_string) && !strcmp(json_object_get_string(target), m);
    }
    struct image_record r;
    if (image_record_load_in(root, idx, m, &r, err) < 0) {
      json_object_put(gone);
      berr_wrap(err, "prune: image %.19s is unreadable; remove it by id first", m);
      goto out;
    }
    if ((all || !tagged) && !(in_use && in_use(r.id, ctx))) {
      json_object_array_add(gone, json_object_new_string(m));
      json_object_array_add(removed, json_object_new_string(r.id));
    }
    image_record_free(&r);
  }
  for (size_t i = 0; i < json_object_array_length(gone); i++) {
    const char *gm = json_object_get_string(json_object_array_get_idx(gone, i));
    json_object *dead = json_object_new_array();
    json_object_object_foreach(refs, rname, rtarget) {
      if (json_object_is_type(rtarget, json_type_string) && !strcmp(json_object_get_string(rtarget), gm))
        json_object_array_add(dead, json_object_new_string(rname));
    }
    for (size_t k = 0; k < json_object_array_length(dead); k++)
      json_object_object_del(refs, json_object_get_string(json_object_array_get_idx(dead, k)));
    json_object_put(dead);
    json_object_object_del(images, gm);
  }
  size_t ngone = json_object_array_length(gone);
  json_object_put(gone);
  if (ngone && image_index_save(root, idx, err) < 0)
    goto out;

  /* what the remaining images reference stays */
  if (image_referenced_set(root, idx, s.keep, err) < 0) {
    berr_wrap(err, "prune: an image is unreadable, so no content was removed");
    goto out;
  }
  /* and what pulls, imports and commits at work have added */
  if (image_leases_collect(root, s.keep, err) < 0)
    goto out;
  if (sweep_blobs(&s, err) < 0 || sweep_layers(&s, err) < 0 || sweep_facts(&s, err) < 0 ||
      sweep_tmp(&s, err) < 0)
    goto out;
  *out = json_object_new_object();
  json_object_object_add(*out, "removed", json_object_get(removed));
  json_object_object_add(*out, "reclaimedBytes", json_object_new_int64((int64_t)s.reclaimed));
  ret = 0;
out:
  json_object_put(removed);
  json_object_put(s.keep);
  json_object_put(idx);
  return ret;
}

int image_prune(const char *root, bool all, image_in_use_fn in_use, void *ctx, json_object **out, berr_t *err) {
  return image_prune_grace(root, all, in_use, ctx, IMAGE_GC_GRACE_SECONDS, out, err);
}
