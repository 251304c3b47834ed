/* image.save: images as an OCI archive (oci-layout, index.json with
 * org.opencontainers.image.ref.name annotations, blobs/sha256/...) plus
 * docker's manifest.json, so skopeo, podman and docker load take it.
 * The blobs are opened under the store lock and read after it is
 * released, so a long save blocks no one; the archive is written to a
 * temp file beside path and renamed into place (never over a file). */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "image-internal.h"
#include "userpath.h"
#include "util.h"

#define JSON_FLAGS (JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)
#define MAX_SAVE_REFS 1000
#define IO_BUF (128 * 1024)

struct blob {
  char digest[DIGEST_STR_LEN + 1];
  int fd;
  uint64_t size;
};

struct save {
  struct blob *b;
  size_t n, cap;
  json_object *index_entries; /* index.json manifests */
  json_object *docker;        /* manifest.json */
  uint64_t total, done;
  image_progress_fn progress;
  void *pctx;
};

static void save_free(struct save *s) {
  for (size_t i = 0; i < s->n; i++)
    if (s->b[i].fd >= 0)
      close(s->b[i].fd);
  free(s->b);
  json_object_put(s->index_entries);
  json_object_put(s->docker);
}

/* Opens a blob once (held open: a remove meanwhile does not take it away). */
static int add_blob(struct save *s, const char *root, const char *digest, berr_t *err) {
  for (size_t i = 0; i < s->n; i++)
    if (!strcmp(s->b[i].digest, digest))
      return 0;
  if (s->n == s->cap) {
    size_t cap = s->cap ? 2 * s->cap : 16;
    struct blob *nb = realloc(s->b, cap * sizeof *nb);
    if (!nb)
      return berr_sys(err, ENOMEM, "save");
    s->b = nb;
    s->cap = cap;
  }
  cleanup_free char *p = image_blob_path(root, digest);
  if (!p)
    return berr_sys(err, ENOMEM, "save");
  int fd = open(p, O_RDONLY | O_CLOEXEC);
  struct stat st;
  if (fd < 0 || fstat(fd, &st) < 0) {
    int e = errno;
    if (fd >= 0)
      close(fd);
    return berr_sys(err, e, "blob %s: open `%s` (the store is damaged: remove the image and pull or import it again)",
                    digest, p);
  }
  struct blob *b = &s->b[s->n++];
  snprintf(b->digest, sizeof b->digest, "%s", digest);
  b->fd = fd;
  b->size = (uint64_t)st.st_size;
  s->total += b->size;
  return 0;
}

/* Every image of refs: its blobs opened, its index.json and manifest.json entries. */
static int collect(struct save *s, const char *root, const char *const *refs, berr_t *err) {
  cleanup_close int lock = image_store_lock(root, LOCK_SH, err);
  if (lock < 0)
    return -1;
  s->index_entries = json_object_new_array();
  s->docker = json_object_new_array();
  for (size_t i = 0; refs[i]; i++) {
    struct image_record rec;
    /* the lock is held: image_record_load takes its own shared lock, which flock allows */
    if (image_record_load(root, refs[i], &rec, err) < 0)
      return -1;
    char name[IMAGE_REF_MAX] = "";
    berr_t ignored;
    bool named = image_normalize_ref(refs[i], name, &ignored) == 0 && !strchr(name, '@');
    if (named) {
      named = false;
      for (size_t k = 0; k < json_object_array_length(rec.refs); k++)
        named |= !strcmp(json_object_get_string(json_object_array_get_idx(rec.refs, k)), name);
    }
    int r = add_blob(s, root, rec.manifest_digest, err);
    r = r < 0 ? r : add_blob(s, root, rec.id, err);
    for (size_t k = 0; r == 0 && k < json_object_array_length(rec.layers); k++)
      r = add_blob(s, root, json_object_get_string(json_object_object_get(json_object_array_get_idx(rec.layers, k), "digest")), err);
    if (r < 0) {
      image_record_free(&rec);
      return -1;
    }
    /* index.json: one entry per name (an image saved by id has none) */
    bool dup = false;
    for (size_t k = 0; k < json_object_array_length(s->index_entries); k++) {
      json_object *e = json_object_array_get_idx(s->index_entries, k);
      json_object *ann = json_object_object_get(e, "annotations");
      const char *en = ann ? json_object_get_string(json_object_object_get(ann, "org.opencontainers.image.ref.name")) : NULL;
      dup |= !strcmp(json_object_get_string(json_object_object_get(e, "digest")), rec.manifest_digest) &&
             (named ? en && !strcmp(en, name) : !en);
    }
    if (!dup) {
      json_object *e = json_object_new_object();
      json_object *mt = json_object_object_get(rec.manifest, "mediaType");
      json_object_object_add(e, "mediaType", json_object_new_string(mt ? json_object_get_string(mt) : IMAGE_MEDIA_OCI_MANIFEST));
      json_object_object_add(e, "digest", json_object_new_string(rec.manifest_digest));
      uint64_t msize = 0;
      for (size_t k = 0; k < s->n; k++)
        if (!strcmp(s->b[k].digest, rec.manifest_digest))
          msize = s->b[k].size;
      json_object_object_add(e, "size", json_object_new_int64((int64_t)msize));
      if (named) {
        json_object *ann = json_object_new_object();
        json_object_object_add(ann, "org.opencontainers.image.ref.name", json_object_new_string(name));
        json_object_object_add(e, "annotations", ann);
      }
      json_object_array_add(s->index_entries, e);
    }
    /* manifest.json: one entry per image, its RepoTags the names saved */
    json_object *de = NULL;
    for (size_t k = 0; k < json_object_array_length(s->docker) && !de; k++) {
      json_object *e = json_object_array_get_idx(s->docker, k);
      char cfg[NAME_MAX];
      snprintf(cfg, sizeof cfg, "blobs/sha256/%s", digest_hex(rec.id));
      if (!strcmp(json_object_get_string(json_object_object_get(e, "Config")), cfg))
        de = e;
    }
    if (!de) {
      de = json_object_new_object();
      char cfg[NAME_MAX];
      snprintf(cfg, sizeof cfg, "blobs/sha256/%s", digest_hex(rec.id));
      json_object_object_add(de, "Config", json_object_new_string(cfg));
      json_object_object_add(de, "RepoTags", json_object_new_array());
      json_object *layers = json_object_new_array();
      for (size_t k = 0; k < json_object_array_length(rec.layers); k++) {
        char lp[NAME_MAX];
        snprintf(lp, sizeof lp, "blobs/sha256/%s",
                 digest_hex(json_object_get_string(json_object_object_get(json_object_array_get_idx(rec.layers, k), "digest"))));
        json_object_array_add(layers, json_object_new_string(lp));
      }
      json_object_object_add(de, "Layers", layers);
      json_object_array_add(s->docker, de);
    }
    json_object *tags = json_object_object_get(de, "RepoTags");
    bool have = false;
    for (size_t k = 0; named && k < json_object_array_length(tags); k++)
      have |= !strcmp(json_object_get_string(json_object_array_get_idx(tags, k)), name);
    if (named && !have)
      json_object_array_add(tags, json_object_new_string(name));
    image_record_free(&rec);
  }
  return 0;
}

static int write_member(struct archive *a, const char *name, const void *data, size_t len, int fd,
                        uint64_t size, struct save *s, berr_t *err) {
  struct archive_entry *e = archive_entry_new();
  if (!e)
    return berr_sys(err, ENOMEM, "archive entry");
  archive_entry_set_pathname(e, name);
  archive_entry_set_filetype(e, AE_IFREG);
  archive_entry_set_perm(e, 0644);
  archive_entry_set_size(e, (la_int64_t)(data ? len : size));
  archive_entry_set_mtime(e, 0, 0);
  int r = archive_write_header(a, e);
  archive_entry_free(e);
  if (r != ARCHIVE_OK)
    return berr_set(err, BERR_INTERNAL, "write `%s` into the archive: %s", name, archive_error_string(a));
  if (data)
    return archive_write_data(a, data, len) == (la_ssize_t)len
               ? 0
               : berr_set(err, BERR_INTERNAL, "write `%s`: %s", name, archive_error_string(a));
  cleanup_free char *buf = malloc(IO_BUF);
  if (!buf)
    return berr_sys(err, ENOMEM, "save");
  uint64_t left = size, last = s->done;
  off_t off = 0;
  while (left > 0) {
    ssize_t n = pread(fd, buf, left < IO_BUF ? left : IO_BUF, off);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return berr_sys(err, errno, "read blob for `%s`", name);
    if (n == 0)
      return berr_set(err, BERR_INTERNAL, "blob for `%s` shrank while being saved", name);
    if (archive_write_data(a, buf, (size_t)n) != n)
      return berr_set(err, BERR_INTERNAL, "write `%s`: %s", name, archive_error_string(a));
    off += n;
    left -= (uint64_t)n;
    s->done += (uint64_t)n;
    if (s->progress && (s->done - last >= (8u << 20) || left == 0)) {
      last = s->done;
      json_object *ev = json_object_new_object();
      json_object_object_add(ev, "phase", json_object_new_string("write"));
      json_object_object_add(ev, "item", json_object_new_string(name));
      json_object_object_add(ev, "done", json_object_new_int64((int64_t)s->done));
      json_object_object_add(ev, "total", json_object_new_int64((int64_t)s->total));
      if (s->progress(s->pctx, ev, err) < 0)
        return -1;
    }
  }
  return 0;
}

static int write_dir(struct archive *a, const char *name, berr_t *err) {
  struct archive_entry *e = archive_entry_new();
  if (!e)
    return berr_sys(err, ENOMEM, "archive entry");
  archive_entry_set_pathname(e, name);
  archive_entry_set_filetype(e, AE_IFDIR);
  archive_entry_set_perm(e, 0755);
  archive_entry_set_mtime(e, 0, 0);
  int r = archive_write_header(a, e);
  archive_entry_free(e);
  return r == ARCHIVE_OK ? 0 : berr_set(err, BERR_INTERNAL, "write `%s`: %s", name, archive_error_string(a));
}

static int write_json_member(struct archive *a, const char *name, json_object *o, struct save *s, berr_t *err) {
  size_t len = 0;
  const char *str = json_object_to_json_string_length(o, JSON_FLAGS, &len);
  return write_member(a, name, str, len, -1, 0, s, err);
}

int image_save(const char *root, const char *const *refs, const char *path, image_progress_fn prog, void *pctx,
               json_object **out, berr_t *err) {
  size_t nrefs = 0;
  while (refs && refs[nrefs])
    nrefs++;
  if (nrefs == 0)
    return berr_set(err, BERR_BAD_REQUEST, "`refs` must name at least one image");
  if (nrefs > MAX_SAVE_REFS)
    return berr_set(err, BERR_LIMIT, "`refs` names %zu images; at most %d", nrefs, MAX_SAVE_REFS);
  if (!path || path[0] != '/' || strlen(path) > 4000)
    return berr_set(err, BERR_BAD_REQUEST, "`path` must be an absolute path on the helper's machine");
  /* the archive is the client's: made, renamed and removed with its permissions */
  const struct peer_id *who = userpath_client();
  struct stat st;
  if (userpath_lstat(who, path, &st) == 0)
    return berr_set(err, BERR_CONFLICT, "`%s` exists; give a new path (berth never overwrites a file)", path);
  if (errno != ENOENT)
    return userpath_error(err, who, errno, "write", path);
  cleanup_free char *dcopy = strdup(path), *bcopy = strdup(path);
  if (!dcopy || !bcopy)
    return berr_sys(err, ENOMEM, "save");
  const char *dir = dirname(dcopy), *base = basename(bcopy);
  if (userpath_lstat(who, dir, &st) < 0)
    return userpath_error(err, who, errno, "write into", dir);

  struct save s = {.progress = prog, .pctx = pctx};
  int ret = -1;
  struct archive *a = NULL;
  cleanup_free char *tmp = NULL;
  cleanup_close int fd = -1;
  if (collect(&s, root, refs, err) < 0)
    goto out;
  char rnd[17];
  {
    unsigned char r8[8];
    int rfd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (rfd < 0 || read(rfd, r8, sizeof r8) != (ssize_t)sizeof r8) {
      berr_sys(err, errno, "read /dev/urandom");
      if (rfd >= 0)
        close(rfd);
      goto out;
    }
    close(rfd);
    for (int i = 0; i < 8; i++)
      sprintf(rnd + 2 * i, "%02x", r8[i]);
  }
  if (asprintf(&tmp, "%s/.%s.%s.tmp", dir, base, rnd) < 0) {
    tmp = NULL;
    berr_sys(err, ENOMEM, "save");
    goto out;
  }
  fd = userpath_open(who, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0644, "create", err);
  if (fd < 0) {
    userpath_unalias(err, tmp, path);
    free(tmp);
    tmp = NULL;
    goto out;
  }
  a = archive_write_new();
  if (!a || archive_write_set_format_pax_restricted(a) != ARCHIVE_OK || archive_write_open_fd(a, fd) != ARCHIVE_OK) {
    berr_set(err, BERR_INTERNAL, "start the archive `%s`: %s", tmp, a ? archive_error_string(a) : "out of memory");
    goto out;
  }
  json_object *layout = json_object_new_object();
  json_object_object_add(layout, "imageLayoutVersion", json_object_new_string("1.0.0"));
  int r = write_json_member(a, "oci-layout", layout, &s, err);
  json_object_put(layout);
  if (r < 0 || write_dir(a, "blobs", err) < 0 || write_dir(a, "blobs/sha256", err) < 0)
    goto out;
  for (size_t i = 0; i < s.n; i++) {
    char name[NAME_MAX];
    snprintf(name, sizeof name, "blobs/sha256/%s", digest_hex(s.b[i].digest));
    if (write_member(a, name, NULL, 0, s.b[i].fd, s.b[i].size, &s, err) < 0)
      goto out;
  }
  json_object *index = json_object_new_object();
  json_object_object_add(index, "schemaVersion", json_object_new_int(2));
  json_object_object_add(index, "mediaType", json_object_new_string(IMAGE_MEDIA_OCI_INDEX));
  json_object_object_add(index, "manifests", json_object_get(s.index_entries));
  r = write_json_member(a, "index.json", index, &s, err);
  json_object_put(index);
  if (r < 0 || write_json_member(a, "manifest.json", s.docker, &s, err) < 0)
    goto out;
  if (archive_write_close(a) != ARCHIVE_OK) {
    berr_set(err, BERR_INTERNAL, "finish `%s`: %s", tmp, archive_error_string(a));
    goto out;
  }
  if (fsync(fd) < 0 || fstat(fd, &st) < 0) {
    berr_sys(err, errno, "fsync `%s`", tmp);
    goto out;
  }
  if (userpath_rename_noreplace(who, tmp, path) < 0) {
    if (errno == EEXIST)
      berr_set(err, BERR_CONFLICT, "`%s` appeared while the archive was written; give a new path", path);
    else
      userpath_error(err, who, errno, "rename the archive to", path);
    goto out;
  }
  free(tmp);
  tmp = NULL;
  *out = json_object_new_object();
  json_object_object_add(*out, "path", json_object_new_string(path));
  json_object_object_add(*out, "size", json_object_new_int64((int64_t)st.st_size));
  ret = 0;
out:
  if (a)
    archive_write_free(a);
  if (tmp)
    userpath_unlink(who, tmp);
  save_free(&s);
  return ret;
}
