/* image.import: OCI layouts (a directory), OCI archives and docker-save
 * archives (tars, possibly compressed), and plain rootfs tarballs.
 *
 * An archive is read once, as a stream: every regular member is copied into
 * the import's work dir under <root>/tmp while it is hashed (a member under
 * blobs/sha256/ must hash to its name), so layer blobs then move into the
 * store by rename. A layout directory is read in place. Then every image's
 * manifest and config are verified against their digests, its layers added
 * (image_store_add_layer: a layer the store has is not extracted again) and
 * checked against the config's rootfs.diff_ids, and only when every image
 * is ready are they recorded (image_store_add). A failure takes back the
 * layers this import added that no image references. */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
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
#define DEFAULT_PATH "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#define MAX_MEMBERS 200000
#define MAX_IMAGES 1000
#define NAME_MAX_LEN 1024
#define LINK_HOPS 16
#define IO_BUF (128 * 1024)

/* ---- where the bytes are ---------------------------------------------------- */

struct member {
  char *name;  /* cleaned path inside the archive or layout */
  char *file;  /* staged copy (archives); /proc/self/fd/N of fd (layouts) */
  int fd;      /* layouts: the file, opened as the client; -1 */
  char *link;  /* symlink or hardlink target, cleaned */
  char digest[DIGEST_STR_LEN + 1];
  uint64_t size;
};

struct source {
  const char *path;   /* what the user gave (for messages) */
  const char *open_path; /* where it is read: /proc/self/fd/N of fd */
  int fd;             /* the file or directory, opened as the client (userpath.h) */
  bool is_dir;        /* a layout directory, read in place */
  char *work;         /* the import's work dir */
  struct member *m;
  size_t n, cap;
  image_progress_fn progress;
  void *pctx;
};

static void source_free(struct source *s) {
  for (size_t i = 0; i < s->n; i++) {
    free(s->m[i].name);
    free(s->m[i].file);
    free(s->m[i].link);
    if (s->m[i].fd >= 0)
      close(s->m[i].fd);
  }
  free(s->m);
  s->m = NULL;
  s->n = s->cap = 0;
}

static int progress(struct source *s, const char *phase, const char *item, int64_t done, int64_t total,
                    berr_t *err) {
  if (!s->progress)
    return 0;
  json_object *ev = json_object_new_object();
  json_object_object_add(ev, "phase", json_object_new_string(phase));
  if (item)
    json_object_object_add(ev, "item", json_object_new_string(item));
  if (done >= 0)
    json_object_object_add(ev, "done", json_object_new_int64(done));
  if (total >= 0)
    json_object_object_add(ev, "total", json_object_new_int64(total));
  return s->progress(s->pctx, ev, err);
}

/* A member path as a clean relative path: no empty, `.` or `..` parts.
 * base (may be NULL) is the directory a relative symlink target starts at. */
static int clean_name(const char *base, const char *in, char out[NAME_MAX_LEN]) {
  char buf[2 * NAME_MAX_LEN + 2];
  if (!in || !*in || strlen(in) >= NAME_MAX_LEN)
    return -1;
  if (in[0] == '/')
    snprintf(buf, sizeof buf, "%s", in + 1);
  else if (base && *base)
    snprintf(buf, sizeof buf, "%s/%s", base, in);
  else
    snprintf(buf, sizeof buf, "%s", in);
  size_t n = 0;
  for (char *p = buf; *p;) {
    size_t len = strcspn(p, "/");
    if (len == 2 && p[0] == '.' && p[1] == '.') {
      if (n == 0)
        return -1; /* above the top */
      while (n > 0 && out[n - 1] != '/')
        n--;
      if (n > 0)
        n--;
    } else if (len > 0 && !(len == 1 && p[0] == '.')) {
      if (n + len + 2 > NAME_MAX_LEN)
        return -1;
      if (n)
        out[n++] = '/';
      memcpy(out + n, p, len);
      n += len;
    }
    p += len;
    while (*p == '/')
      p++;
  }
  out[n] = '\0';
  return n ? 0 : -1;
}

static struct member *add_member(struct source *s, const char *name, berr_t *err) {
  for (size_t i = 0; i < s->n; i++)
    if (!strcmp(s->m[i].name, name)) { /* a later member of the same name wins */
      free(s->m[i].link);
      s->m[i].link = NULL;
      return &s->m[i];
    }
  if (s->n >= MAX_MEMBERS) {
    berr_set(err, BERR_LIMIT, "`%s` has more than %d members; not an image archive", s->path, MAX_MEMBERS);
    return NULL;
  }
  if (s->n == s->cap) {
    size_t cap = s->cap ? 2 * s->cap : 64;
    struct member *m = realloc(s->m, cap * sizeof *m);
    if (!m) {
      berr_sys(err, ENOMEM, "archive members");
      return NULL;
    }
    s->m = m;
    s->cap = cap;
  }
  struct member *m = &s->m[s->n];
  memset(m, 0, sizeof *m);
  m->fd = -1;
  m->name = strdup(name);
  if (!m->name) {
    berr_sys(err, ENOMEM, "archive members");
    return NULL;
  }
  s->n++;
  return m;
}

static struct member *find_member(struct source *s, const char *name) {
  char cur[NAME_MAX_LEN];
  snprintf(cur, sizeof cur, "%s", name);
  for (int hop = 0; hop < LINK_HOPS; hop++) {
    struct member *hit = NULL;
    for (size_t i = 0; i < s->n && !hit; i++)
      if (!strcmp(s->m[i].name, cur))
        hit = &s->m[i];
    if (!hit || !hit->link)
      return hit && hit->file ? hit : NULL;
    snprintf(cur, sizeof cur, "%s", hit->link);
  }
  return NULL;
}

/* Copies the current entry's data to file, hashing it. */
static int stage_entry(struct source *s, struct archive *a, struct member *m, const char *file,
                       int64_t total, berr_t *err) {
  cleanup_close int fd = open(file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0)
    return berr_sys(err, errno, "create `%s`", file);
  struct digest d;
  if (digest_init(&d, err) < 0)
    return -1;
  cleanup_free char *buf = malloc(IO_BUF);
  if (!buf) {
    digest_free(&d);
    return berr_sys(err, ENOMEM, "stage `%s`", m->name);
  }
  int64_t last = 0;
  for (;;) {
    la_ssize_t r = archive_read_data(a, buf, IO_BUF);
    if (r < 0) {
      digest_free(&d);
      return berr_set(err, BERR_INVALID, "`%s`: member `%s`: %s", s->path, m->name,
                      archive_error_string(a) ? archive_error_string(a) : "read error");
    }
    if (r == 0)
      break;
    if (digest_update(&d, buf, (size_t)r, err) < 0) {
      digest_free(&d);
      return -1;
    }
    for (la_ssize_t off = 0; off < r;) {
      ssize_t w = write(fd, buf + off, (size_t)(r - off));
      if (w < 0 && errno == EINTR)
        continue;
      if (w < 0) {
        int e = errno;
        digest_free(&d);
        return berr_sys(err, e, "write `%s`", file);
      }
      off += w;
    }
    int64_t done = archive_filter_bytes(a, -1);
    if (done - last >= (8 << 20)) { /* a frame every 8 MiB read */
      last = done;
      if (progress(s, "read", m->name, done, total, err) < 0) {
        digest_free(&d);
        return -1;
      }
    }
  }
  m->size = d.bytes;
  if (digest_final(&d, m->digest, err) < 0)
    return -1;
  return 0;
}

/* Reads the archive once, staging every regular member. */
static int stage_archive(struct source *s, berr_t *err) {
  struct stat st;
  if (stat(s->open_path, &st) < 0)
    return berr_sys(err, errno, "stat `%s`", s->path);
  struct archive *a = archive_read_new();
  if (!a)
    return berr_sys(err, ENOMEM, "archive");
  int ret = -1;
  cleanup_free char *dir = NULL; /* before the first goto: the cleanup must not free garbage */
  archive_read_support_filter_gzip(a);
  archive_read_support_filter_zstd(a);
  archive_read_support_filter_bzip2(a);
  archive_read_support_filter_xz(a);
  archive_read_support_format_tar(a);
  if (archive_read_open_filename(a, s->open_path, IO_BUF) != ARCHIVE_OK) {
    berr_set(err, BERR_INVALID, "`%s` is not a tar archive: %s", s->path, archive_error_string(a));
    goto out;
  }
  if (asprintf(&dir, "%s/members", s->work) < 0 || mkdir(dir, 0700) < 0) {
    berr_sys(err, dir ? errno : ENOMEM, "mkdir `%s/members`", s->work);
    goto out;
  }
  struct archive_entry *e;
  for (size_t count = 0;; count++) {
    int r = archive_read_next_header(a, &e);
    if (r == ARCHIVE_EOF)
      break;
    if (r < ARCHIVE_WARN) {
      berr_set(err, BERR_INVALID, "`%s`: %s after %zu members: %s", s->path,
               count ? "broken tar archive" : "not a tar archive", count,
               archive_error_string(a) ? archive_error_string(a) : "read error");
      goto out;
    }
    char name[NAME_MAX_LEN];
    if (clean_name(NULL, archive_entry_pathname(e), name) < 0)
      continue; /* nothing an image needs lives at such a name */
    const char *hl = archive_entry_hardlink(e);
    mode_t type = archive_entry_filetype(e);
    if (hl || type == AE_IFLNK) {
      char target[NAME_MAX_LEN], base[NAME_MAX_LEN];
      snprintf(base, sizeof base, "%s", name);
      char *slash = strrchr(base, '/');
      if (slash)
        *slash = '\0';
      else
        base[0] = '\0';
      /* a hardlink names a member; a symlink is relative to its directory */
      if (clean_name(hl ? NULL : base, hl ? hl : archive_entry_symlink(e), target) < 0)
        continue;
      struct member *m = add_member(s, name, err);
      if (!m || !(m->link = strdup(target))) {
        if (m)
          berr_sys(err, ENOMEM, "archive members");
        goto out;
      }
      continue;
    }
    if (type != AE_IFREG)
      continue;
    /* a blob is at most a layer's worth (plus tar overhead) */
    int64_t cap = image_max_layer_bytes() + (64 << 20);
    if (archive_entry_size_is_set(e) && archive_entry_size(e) > cap) {
      berr_set(err, BERR_LIMIT, "`%s`: member `%s` is %lld bytes, over the layer cap; raise --max-layer-size if it is trusted",
               s->path, name, (long long)archive_entry_size(e));
      goto out;
    }
    struct member *m = add_member(s, name, err);
    if (!m)
      goto out;
    if (!m->file && asprintf(&m->file, "%s/%zu", dir, count) < 0) {
      m->file = NULL;
      berr_sys(err, ENOMEM, "archive members");
      goto out;
    }
    if (stage_entry(s, a, m, m->file, (int64_t)st.st_size, err) < 0)
      goto out;
    /* a blob is named by its digest: check it at once */
    if (!strncmp(name, "blobs/sha256/", 13)) {
      char want[DIGEST_STR_LEN + 8];
      snprintf(want, sizeof want, "sha256:%s", name + 13);
      if (!digest_is_valid(want)) {
        berr_set(err, BERR_INVALID, "`%s`: member `%s` is not named by a sha256 digest", s->path, name);
        goto out;
      }
      if (strcmp(want, m->digest)) {
        berr_set(err, BERR_INVALID,
                 "`%s`: blob %s: digest mismatch: its content hashes to %s (the archive is corrupt)",
                 s->path, want, m->digest);
        goto out;
      }
    }
  }
  if (progress(s, "read", NULL, (int64_t)st.st_size, (int64_t)st.st_size, err) < 0)
    goto out;
  ret = 0;
out:
  archive_read_free(a);
  return ret;
}

/* The file holding member name (NULL and err when there is none). */
static const char *member_file(struct source *s, const char *name, struct member **out, berr_t *err) {
  if (s->is_dir) {
    char clean[NAME_MAX_LEN];
    if (clean_name(NULL, name, clean) < 0) {
      berr_set(err, BERR_INVALID, "`%s`: bad path `%.100s`", s->path, name);
      return NULL;
    }
    struct member *m = add_member(s, clean, err);
    if (!m)
      return NULL;
    /* a layout's files are the user's: opened with the client's permissions,
     * inside the layout (no symlink or `..` out of it), regular files only */
    if (m->fd < 0) {
      int fd = userpath_openat_beneath(userpath_client(), s->fd, clean, O_RDONLY | O_NONBLOCK | O_NOCTTY);
      if (fd < 0) {
        int e = errno;
        if (e == EXDEV || e == ELOOP) {
          berr_set(err, BERR_INVALID, "`%s`: `%s` leads out of the layout (a symlink?)", s->path, clean);
        } else if (e == ENOENT || e == ENOTDIR) {
          berr_sys(err, e, "`%s`: `%s` is missing from the layout", s->path, clean);
        } else {
          char full[PATH_MAX];
          snprintf(full, sizeof full, "%s/%s", s->path, clean);
          userpath_error(err, userpath_client(), e, "read", full);
        }
        return NULL;
      }
      struct stat st;
      if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        berr_set(err, BERR_INVALID, "`%s`: `%s` is not a regular file", s->path, clean);
        return NULL;
      }
      free(m->file);
      if (asprintf(&m->file, "/proc/self/fd/%d", fd) < 0) {
        m->file = NULL;
        close(fd);
        berr_sys(err, ENOMEM, "path");
        return NULL;
      }
      m->fd = fd;
      m->size = (uint64_t)st.st_size;
    }
    if (out)
      *out = m;
    return m->file;
  }
  char clean[NAME_MAX_LEN];
  struct member *m = clean_name(NULL, name, clean) == 0 ? find_member(s, clean) : NULL;
  if (!m) {
    berr_set(err, BERR_INVALID, "`%s`: the archive has no `%.200s`", s->path, name);
    return NULL;
  }
  if (out)
    *out = m;
  return m->file;
}

/* Reads a JSON member (at most IMAGE_JSON_MAX), checking its digest when
 * want is given. raw and len (may be NULL) receive the exact bytes. */
static int read_member_json(struct source *s, const char *name, const char *want, json_object **out,
                            char **raw, size_t *len, json_type type, berr_t *err) {
  const char *file = member_file(s, name, NULL, err);
  if (!file)
    return -1;
  cleanup_free char *data = NULL;
  size_t n = 0;
  if (read_file(file, IMAGE_JSON_MAX, &data, &n, err) < 0)
    return berr_wrap(err, "`%s`: `%s` (JSON files are at most %u bytes)", s->path, name, IMAGE_JSON_MAX);
  if (want) {
    char got[DIGEST_STR_LEN + 1];
    if (digest_buffer(data, n, got, err) < 0)
      return -1;
    if (strcmp(got, want))
      return berr_set(err, BERR_INVALID, "`%s`: blob %s: digest mismatch: its content hashes to %s (corrupt)",
                      s->path, want, got);
  }
  json_tokener *tok = json_tokener_new();
  json_object *o = tok ? json_tokener_parse_ex(tok, data, (int)n) : NULL;
  bool ok = o && json_tokener_get_error(tok) == json_tokener_success && json_object_is_type(o, type);
  if (tok)
    json_tokener_free(tok);
  if (!ok) {
    json_object_put(o);
    return berr_set(err, BERR_INVALID, "`%s`: `%s` is not a JSON %s", s->path, name,
                    type == json_type_array ? "array" : "object");
  }
  *out = o;
  if (raw) {
    *raw = take_ptr(data);
    *len = n;
  }
  return 0;
}

static const char *jstr(json_object *o, const char *k) {
  json_object *v = o ? json_object_object_get(o, k) : NULL;
  return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

/* ---- the images of one import ------------------------------------------------ */

struct pending {              /* an image ready to be recorded */
  char *manifest, *config;    /* exact bytes */
  size_t mlen, clen;
  char **refs;                /* normalized names */
};

struct added_layer {          /* taken back on failure when no image uses it */
  char blob[DIGEST_STR_LEN + 1], diff[DIGEST_STR_LEN + 1];
  bool blob_new, tree_new;
};

struct import {
  const char *root;
  struct source src;
  struct pending *img;
  size_t nimg;
  struct added_layer *layers;
  size_t nlayers;
};

static void import_free(struct import *im) {
  for (size_t i = 0; i < im->nimg; i++) {
    free(im->img[i].manifest);
    free(im->img[i].config);
    strv_free(im->img[i].refs);
  }
  free(im->img);
  free(im->layers);
  source_free(&im->src);
}

/* The diffID of a layer this import already added (two images sharing a
 * base layer, or a layer repeated). */
static const char *done_layer(struct import *im, const char *blob) {
  for (size_t i = 0; i < im->nlayers; i++)
    if (!strcmp(im->layers[i].blob, blob))
      return im->layers[i].diff;
  return NULL;
}

/* Adds the layer in file, promised to hash to blob (NULL: unknown). */
static int import_layer(struct import *im, size_t idx, const char *file, bool movable, const char *blob,
                        uint64_t size, const char *want_diff, struct layer_result *res, berr_t *err) {
  const char *known = blob ? done_layer(im, blob) : NULL;
  if (known) {
    memset(res, 0, sizeof *res);
    snprintf(res->blob_digest, sizeof res->blob_digest, "%s", blob);
    snprintf(res->diff_id, sizeof res->diff_id, "%s", known);
  } else {
    struct added_layer *grown = realloc(im->layers, (im->nlayers + 1) * sizeof *grown);
    if (!grown)
      return berr_sys(err, ENOMEM, "layers");
    im->layers = grown;
    struct added_layer *al = &im->layers[im->nlayers];
    memset(al, 0, sizeof *al);
    if (blob) {
      cleanup_free char *bp = image_blob_path(im->root, blob);
      struct stat st;
      al->blob_new = bp && lstat(bp, &st) < 0;
    }
    if (progress(&im->src, "extract", blob, 0, (int64_t)size, err) < 0)
      return -1;
    bool extracted = false;
    if (image_store_add_layer(im->root, file, movable, blob, res, &extracted, err) < 0)
      return berr_wrap(err, "layer %zu", idx);
    snprintf(al->blob, sizeof al->blob, "%s", res->blob_digest);
    snprintf(al->diff, sizeof al->diff, "%s", res->diff_id);
    al->tree_new = extracted;
    if (!blob)
      al->blob_new = true; /* unknown before: take it back if nothing uses it */
    im->nlayers++;
    if (progress(&im->src, "extract", res->blob_digest, (int64_t)res->blob_size, (int64_t)res->blob_size,
                 err) < 0)
      return -1;
  }
  if (want_diff && strcmp(res->diff_id, want_diff))
    return berr_set(err, BERR_INVALID,
                    "layer %zu (%s) unpacks to the diffID %s, but the config's rootfs.diff_ids[%zu] is %s "
                    "(the image is corrupt)",
                    idx, res->blob_digest, res->diff_id, idx, want_diff);
  return 0;
}

/* Takes back what the import added and no image references. */
static void import_rollback(struct import *im) {
  if (!im->nlayers)
    return;
  berr_t e;
  int lock = image_store_lock(im->root, LOCK_EX, &e);
  if (lock < 0)
    return;
  json_object *idx = NULL, *keep = json_object_new_object();
  if (image_index_load(im->root, &idx, &e) == 0 && image_referenced_set(im->root, idx, keep, &e) == 0) {
    for (size_t i = 0; i < im->nlayers; i++) {
      struct added_layer *al = &im->layers[i];
      if (al->blob_new && !json_object_object_get_ex(keep, al->blob, NULL)) {
        cleanup_free char *p = image_blob_path(im->root, al->blob);
        if (p)
          unlink(p);
      }
      if (al->tree_new && !json_object_object_get_ex(keep, al->diff, NULL)) {
        cleanup_free char *d = image_layer_dir(im->root, al->diff);
        cleanup_free char *m = image_layer_meta_path(im->root, al->diff);
        if (d && m) {
          unlink(m);
          rm_rf(d, &e);
        }
      }
    }
  }
  json_object_put(idx);
  json_object_put(keep);
  close(lock);
}

static int add_pending(struct import *im, char *manifest, size_t mlen, char *config, size_t clen,
                       char **refs, berr_t *err) {
  struct pending *grown = realloc(im->img, (im->nimg + 1) * sizeof *grown);
  if (!grown) {
    free(manifest);
    free(config);
    strv_free(refs);
    return berr_sys(err, ENOMEM, "images");
  }
  im->img = grown;
  im->img[im->nimg++] = (struct pending){manifest, config, mlen, clen, refs};
  return 0;
}

/* Records every pending image; *out gets {"images": [...]}. */
static int import_commit(struct import *im, json_object **out, berr_t *err) {
  json_object *arr = json_object_new_array();
  for (size_t i = 0; i < im->nimg; i++) {
    json_object *sum = NULL;
    struct pending *p = &im->img[i];
    if (image_store_add(im->root, p->manifest, p->mlen, p->config, p->clen, (const char *const *)p->refs, &sum,
                        NULL, err) < 0) {
      json_object_put(arr);
      return -1;
    }
    json_object_array_add(arr, sum);
  }
  *out = json_object_new_object();
  json_object_object_add(*out, "images", arr);
  return 0;
}

/* ---- names ------------------------------------------------------------------------ */

/* Whether a user's ref gave a tag or digest of its own ("a:1", "a@sha256:..."). */
static bool ref_has_tag(const char *ref) {
  const char *slash = strrchr(ref, '/');
  const char *colon = strrchr(ref, ':');
  return strchr(ref, '@') || (colon && (!slash || colon > slash));
}

/* A bare tag ("latest", "1.0"): a ref.name without a repository. */
static bool is_bare_tag(const char *s) {
  return s && *s && !strchr(s, '/') && !strchr(s, ':') && !strchr(s, '@');
}

struct candidate {
  char digest[DIGEST_STR_LEN + 1]; /* the image manifest */
  char *names[16];                 /* as the archive gives them (NULL: none) */
  int nnames;
};

/* Turns the archive's names and the user's ref into each image's refs. */
static int assign_names(struct source *s, struct candidate *c, size_t n, const char *ref, char ***refs_out,
                        berr_t *err) {
  char rname[IMAGE_REF_MAX] = "", rnorm[IMAGE_REF_MAX] = "";
  if (ref) {
    if (image_normalize_ref(ref, rnorm, err) < 0)
      return -1;
    image_ref_name(rnorm, rname);
  }
  for (size_t i = 0; i < n; i++) {
    char **refs = calloc(18, sizeof *refs);
    int k = 0;
    if (!refs)
      return berr_sys(err, ENOMEM, "names");
    refs_out[i] = refs;
    if (ref) {
      bool all_bare = c[i].nnames > 0;
      for (int j = 0; j < c[i].nnames; j++)
        all_bare &= is_bare_tag(c[i].names[j]);
      if (n > 1 && (!all_bare || ref_has_tag(ref)))
        return berr_set(err, BERR_INVALID,
                        "`%s` holds %zu images; a name given with it names one image (import it "
                        "without a name to keep the names the archive gives)",
                        s->path, n);
      if (all_bare && !ref_has_tag(ref)) {
        for (int j = 0; j < c[i].nnames; j++) {
          char full[2 * IMAGE_REF_MAX], norm[IMAGE_REF_MAX];
          snprintf(full, sizeof full, "%s:%s", rname, c[i].names[j]);
          if (image_normalize_ref(full, norm, err) < 0)
            return berr_wrap(err, "`%s`", s->path);
          refs[k++] = strdup(norm);
        }
      } else {
        refs[k++] = strdup(rnorm);
      }
      continue;
    }
    if (c[i].nnames == 0)
      return berr_set(err, BERR_INVALID,
                      "`%s`: the image %.19s has no name (no org.opencontainers.image.ref.name / RepoTags); "
                      "give a name to import it under",
                      s->path, c[i].digest);
    for (int j = 0; j < c[i].nnames; j++) {
      char norm[IMAGE_REF_MAX];
      if (is_bare_tag(c[i].names[j]))
        return berr_set(err, BERR_INVALID,
                        "`%s`: the image %.19s is named only by the tag `%.60s`; give a name to import it "
                        "under (NAME gives NAME:%.60s)",
                        s->path, c[i].digest, c[i].names[j], c[i].names[j]);
      if (image_normalize_ref(c[i].names[j], norm, err) < 0)
        return berr_wrap(err, "`%s`: the archive's name for image %.19s", s->path, c[i].digest);
      refs[k++] = strdup(norm);
    }
  }
  return 0;
}

/* ---- OCI ---------------------------------------------------------------------------- */

static bool is_index_type(const char *mt) {
  return mt && (!strcmp(mt, IMAGE_MEDIA_OCI_INDEX) || !strcmp(mt, IMAGE_MEDIA_DOCKER_LIST));
}
static bool is_manifest_type(const char *mt) {
  return !mt || !strcmp(mt, IMAGE_MEDIA_OCI_MANIFEST) || !strcmp(mt, IMAGE_MEDIA_DOCKER_MANIFEST);
}

static bool platform_ok(json_object *desc) {
  json_object *p = json_object_object_get(desc, "platform");
  if (!p)
    return true;
  const char *os = jstr(p, "os"), *arch = jstr(p, "architecture");
  return (!os || !strcmp(os, "linux")) && (!arch || !strcmp(arch, image_host_arch()));
}

static int blob_name(const char *digest, char out[NAME_MAX_LEN], const char *path, berr_t *err) {
  if (!digest_is_valid(digest))
    return berr_set(err, BERR_INVALID, "`%s`: `%.90s` is not a sha256:<64 lower-case hex> digest", path,
                    digest ? digest : "(missing)");
  snprintf(out, NAME_MAX_LEN, "blobs/sha256/%s", digest_hex(digest));
  return 0;
}

/* The host's image in a nested index. */
static int pick_platform(struct source *s, const char *index_digest, char out[DIGEST_STR_LEN + 1], berr_t *err) {
  char name[NAME_MAX_LEN];
  json_object *idx = NULL;
  if (blob_name(index_digest, name, s->path, err) < 0 ||
      read_member_json(s, name, index_digest, &idx, NULL, NULL, json_type_object, err) < 0)
    return -1;
  json_object *ms = json_object_object_get(idx, "manifests");
  char seen[256] = "";
  int r = -1;
  for (size_t i = 0; json_object_is_type(ms, json_type_array) && i < json_object_array_length(ms); i++) {
    json_object *d = json_object_array_get_idx(ms, i);
    json_object *p = json_object_object_get(d, "platform");
    const char *os = jstr(p, "os"), *arch = jstr(p, "architecture");
    if (p && os && arch && !strcmp(os, "linux") && !strcmp(arch, image_host_arch()) &&
        is_manifest_type(jstr(d, "mediaType")) && digest_is_valid(jstr(d, "digest"))) {
      snprintf(out, DIGEST_STR_LEN + 1, "%s", jstr(d, "digest"));
      r = 0;
      break;
    }
    if (os && arch && strlen(seen) < 200)
      snprintf(seen + strlen(seen), sizeof seen - strlen(seen), "%s%s/%s", seen[0] ? ", " : "", os, arch);
  }
  json_object_put(idx);
  if (r < 0)
    berr_set(err, BERR_INVALID, "`%s`: the index %.19s has no image for linux/%s (it has: %s)", s->path,
             index_digest, image_host_arch(), seen[0] ? seen : "nothing");
  return r;
}

/* Verifies one OCI image's manifest and config and adds its layers. */
static int oci_image(struct import *im, const char *manifest_digest, char **refs, berr_t *err) {
  struct source *s = &im->src;
  char name[NAME_MAX_LEN];
  json_object *man = NULL, *cfg = NULL;
  char *mraw = NULL, *craw = NULL;
  size_t mlen = 0, clen = 0;
  int ret = -1;
  if (blob_name(manifest_digest, name, s->path, err) < 0 ||
      read_member_json(s, name, manifest_digest, &man, &mraw, &mlen, json_type_object, err) < 0)
    goto out;
  json_object *cdesc = json_object_object_get(man, "config");
  const char *cdig = jstr(cdesc, "digest");
  const char *cmt = jstr(cdesc, "mediaType");
  if (cmt && strcmp(cmt, IMAGE_MEDIA_OCI_CONFIG) && strcmp(cmt, IMAGE_MEDIA_DOCKER_CONFIG)) {
    berr_set(err, BERR_INVALID, "`%s`: manifest %.19s is not a container image (config type `%.80s`)", s->path,
             manifest_digest, cmt);
    goto out;
  }
  if (blob_name(cdig, name, s->path, err) < 0 ||
      read_member_json(s, name, cdig, &cfg, &craw, &clen, json_type_object, err) < 0)
    goto out;
  json_object *layers = json_object_object_get(man, "layers");
  json_object *rootfs = json_object_object_get(cfg, "rootfs");
  json_object *diffs = rootfs ? json_object_object_get(rootfs, "diff_ids") : NULL;
  size_t n = json_object_is_type(layers, json_type_array) ? json_object_array_length(layers) : 0;
  if (n == 0 || !json_object_is_type(diffs, json_type_array) || json_object_array_length(diffs) != n) {
    berr_set(err, BERR_INVALID, "`%s`: image %.19s: the manifest's %zu layers do not match the config's rootfs.diff_ids",
             s->path, manifest_digest, n);
    goto out;
  }
  for (size_t i = 0; i < n; i++) {
    json_object *d = json_object_array_get_idx(layers, i);
    const char *ld = jstr(d, "digest");
    const char *want_diff = json_object_get_string(json_object_array_get_idx(diffs, i));
    struct member *m = NULL;
    const char *file;
    if (!digest_is_valid(want_diff)) {
      berr_set(err, BERR_INVALID, "`%s`: config %.19s: rootfs.diff_ids[%zu] is not a sha256 digest", s->path, cdig, i);
      goto out;
    }
    if (blob_name(ld, name, s->path, err) < 0 || !(file = member_file(s, name, &m, err)))
      goto out;
    struct layer_result res;
    /* a staged blob moves into the store; a layout's is copied */
    if (import_layer(im, i, file, !s->is_dir, ld, m->size, want_diff, &res, err) < 0)
      goto out;
  }
  if (add_pending(im, take_ptr(mraw), mlen, take_ptr(craw), clen, refs, err) < 0) {
    refs = NULL;
    goto out;
  }
  refs = NULL;
  ret = 0;
out:
  strv_free(refs);
  free(mraw);
  free(craw);
  json_object_put(man);
  json_object_put(cfg);
  return ret;
}

static int import_oci(struct import *im, const char *ref, berr_t *err) {
  struct source *s = &im->src;
  json_object *layout = NULL, *index = NULL;
  struct candidate *c = NULL;
  char **refs[MAX_IMAGES] = {0};
  size_t n = 0;
  int ret = -1;
  if (read_member_json(s, "oci-layout", NULL, &layout, NULL, NULL, json_type_object, err) < 0)
    goto out;
  if (!jstr(layout, "imageLayoutVersion")) {
    berr_set(err, BERR_INVALID, "`%s`: oci-layout has no imageLayoutVersion", s->path);
    goto out;
  }
  if (read_member_json(s, "index.json", NULL, &index, NULL, NULL, json_type_object, err) < 0)
    goto out;
  json_object *ms = json_object_object_get(index, "manifests");
  size_t total = json_object_is_type(ms, json_type_array) ? json_object_array_length(ms) : 0;
  if (total > MAX_IMAGES) {
    berr_set(err, BERR_LIMIT, "`%s`: index.json lists %zu manifests; at most %d", s->path, total, MAX_IMAGES);
    goto out;
  }
  c = calloc(total + 1, sizeof *c);
  if (!c) {
    berr_sys(err, ENOMEM, "index");
    goto out;
  }
  for (size_t i = 0; i < total; i++) {
    json_object *d = json_object_array_get_idx(ms, i);
    const char *mt = jstr(d, "mediaType"), *dg = jstr(d, "digest");
    char digest[DIGEST_STR_LEN + 1];
    if (!digest_is_valid(dg)) {
      berr_set(err, BERR_INVALID, "`%s`: index.json entry %zu has no valid sha256 digest", s->path, i);
      goto out;
    }
    if (is_index_type(mt)) {
      if (pick_platform(s, dg, digest, err) < 0)
        goto out;
    } else if (is_manifest_type(mt) && platform_ok(d)) {
      snprintf(digest, sizeof digest, "%s", dg);
    } else {
      continue; /* another platform, or not an image */
    }
    json_object *ann = json_object_object_get(d, "annotations");
    /* containerd and docker keep the full name here, the tag in ref.name */
    const char *nm = jstr(ann, "io.containerd.image.name");
    if (!nm)
      nm = jstr(ann, "org.opencontainers.image.ref.name");
    size_t k = 0;
    while (k < n && strcmp(c[k].digest, digest))
      k++;
    if (k == n)
      snprintf(c[n++].digest, sizeof c[k].digest, "%s", digest);
    if (nm && c[k].nnames < 16) {
      bool dup = false;
      for (int j = 0; j < c[k].nnames; j++)
        dup |= !strcmp(c[k].names[j], nm);
      if (!dup)
        c[k].names[c[k].nnames++] = (char *)nm;
    }
  }
  if (n == 0) {
    berr_set(err, BERR_INVALID, "`%s` holds no image for linux/%s", s->path, image_host_arch());
    goto out;
  }
  if (assign_names(s, c, n, ref, refs, err) < 0)
    goto out;
  for (size_t i = 0; i < n; i++) {
    char **r = refs[i];
    refs[i] = NULL;
    if (oci_image(im, c[i].digest, r, err) < 0)
      goto out;
  }
  ret = 0;
out:
  for (size_t i = 0; i < MAX_IMAGES && i < n; i++)
    strv_free(refs[i]);
  free(c);
  json_object_put(layout);
  json_object_put(index);
  return ret;
}

/* ---- docker save ------------------------------------------------------------------ */

static int docker_image(struct import *im, json_object *entry, size_t idx, char **refs, berr_t *err) {
  struct source *s = &im->src;
  const char *cfg_name = jstr(entry, "Config");
  json_object *layers = json_object_object_get(entry, "Layers");
  json_object *cfg = NULL, *man = NULL;
  char *craw = NULL;
  size_t clen = 0;
  int ret = -1;
  if (!cfg_name || !json_object_is_type(layers, json_type_array)) {
    berr_set(err, BERR_INVALID, "`%s`: manifest.json entry %zu needs Config and Layers", s->path, idx);
    goto out;
  }
  if (read_member_json(s, cfg_name, NULL, &cfg, &craw, &clen, json_type_object, err) < 0)
    goto out;
  char cdig[DIGEST_STR_LEN + 1];
  if (digest_buffer(craw, clen, cdig, err) < 0)
    goto out;
  /* docker names the config by its digest ("<hex>.json" or blobs/sha256/<hex>) */
  const char *base = strrchr(cfg_name, '/') ? strrchr(cfg_name, '/') + 1 : cfg_name;
  if (strlen(base) >= DIGEST_HEX_LEN && strncmp(base, digest_hex(cdig), DIGEST_HEX_LEN)) {
    char named[DIGEST_STR_LEN + 1];
    snprintf(named, sizeof named, "sha256:%.64s", base);
    if (digest_is_valid(named)) {
      berr_set(err, BERR_INVALID, "`%s`: config %s: digest mismatch: its content hashes to %s (corrupt)", s->path,
               named, cdig);
      goto out;
    }
  }
  json_object *rootfs = json_object_object_get(cfg, "rootfs");
  json_object *diffs = rootfs ? json_object_object_get(rootfs, "diff_ids") : NULL;
  size_t n = json_object_array_length(layers);
  if (n == 0 || !json_object_is_type(diffs, json_type_array) || json_object_array_length(diffs) != n) {
    berr_set(err, BERR_INVALID, "`%s`: image %.19s: %zu layers but the config's rootfs.diff_ids does not match",
             s->path, cdig, n);
    goto out;
  }
  man = json_object_new_object();
  json_object_object_add(man, "schemaVersion", json_object_new_int(2));
  json_object_object_add(man, "mediaType", json_object_new_string(IMAGE_MEDIA_OCI_MANIFEST));
  json_object *cdesc = json_object_new_object();
  json_object_object_add(cdesc, "mediaType", json_object_new_string(IMAGE_MEDIA_OCI_CONFIG));
  json_object_object_add(cdesc, "digest", json_object_new_string(cdig));
  json_object_object_add(cdesc, "size", json_object_new_int64((int64_t)clen));
  json_object_object_add(man, "config", cdesc);
  json_object *ldescs = json_object_new_array();
  json_object_object_add(man, "layers", ldescs);
  for (size_t i = 0; i < n; i++) {
    const char *lname = json_object_get_string(json_object_array_get_idx(layers, i));
    const char *want_diff = json_object_get_string(json_object_array_get_idx(diffs, i));
    struct member *m = NULL;
    const char *file = lname ? member_file(s, lname, &m, err) : NULL;
    if (!file) {
      if (!lname)
        berr_set(err, BERR_INVALID, "`%s`: manifest.json entry %zu: Layers[%zu] is not a string", s->path, idx, i);
      goto out;
    }
    if (!digest_is_valid(want_diff)) {
      berr_set(err, BERR_INVALID, "`%s`: config %.19s: rootfs.diff_ids[%zu] is not a sha256 digest", s->path, cdig, i);
      goto out;
    }
    struct layer_result res;
    if (import_layer(im, i, file, true, m->digest, m->size, want_diff, &res, err) < 0)
      goto out;
    json_object *d = json_object_new_object();
    json_object_object_add(d, "mediaType", json_object_new_string(layer_media_type(res.compression)));
    json_object_object_add(d, "digest", json_object_new_string(res.blob_digest));
    json_object_object_add(d, "size", json_object_new_int64((int64_t)m->size));
    json_object_array_add(ldescs, d);
  }
  size_t mlen = 0;
  const char *ms = json_object_to_json_string_length(man, JSON_FLAGS, &mlen);
  char *mraw = strndup(ms, mlen);
  if (!mraw) {
    berr_sys(err, ENOMEM, "manifest");
    goto out;
  }
  ret = add_pending(im, mraw, mlen, take_ptr(craw), clen, refs, err);
  refs = NULL;
out:
  strv_free(refs);
  free(craw);
  json_object_put(cfg);
  json_object_put(man);
  return ret;
}

static int import_docker(struct import *im, const char *ref, berr_t *err) {
  struct source *s = &im->src;
  json_object *list = NULL;
  struct candidate *c = NULL;
  char **refs[MAX_IMAGES] = {0};
  size_t n = 0;
  int ret = -1;
  if (read_member_json(s, "manifest.json", NULL, &list, NULL, NULL, json_type_array, err) < 0)
    goto out;
  n = json_object_array_length(list);
  if (n == 0 || n > MAX_IMAGES) {
    berr_set(err, BERR_INVALID, "`%s`: manifest.json lists %zu images (1..%d)", s->path, n, MAX_IMAGES);
    n = 0;
    goto out;
  }
  c = calloc(n, sizeof *c);
  if (!c) {
    n = 0;
    berr_sys(err, ENOMEM, "manifest.json");
    goto out;
  }
  for (size_t i = 0; i < n; i++) {
    json_object *e = json_object_array_get_idx(list, i);
    json_object *tags = json_object_object_get(e, "RepoTags");
    snprintf(c[i].digest, sizeof c[i].digest, "%s", jstr(e, "Config") ? jstr(e, "Config") : "?");
    for (size_t j = 0; json_object_is_type(tags, json_type_array) && j < json_object_array_length(tags) && j < 16; j++) {
      json_object *t = json_object_array_get_idx(tags, j);
      if (json_object_is_type(t, json_type_string))
        c[i].names[c[i].nnames++] = (char *)json_object_get_string(t);
    }
  }
  if (assign_names(s, c, n, ref, refs, err) < 0)
    goto out;
  for (size_t i = 0; i < n; i++) {
    char **r = refs[i];
    refs[i] = NULL;
    if (docker_image(im, json_object_array_get_idx(list, i), i, r, err) < 0)
      goto out;
  }
  ret = 0;
out:
  for (size_t i = 0; i < n; i++)
    strv_free(refs[i]);
  free(c);
  json_object_put(list);
  return ret;
}

/* ---- rootfs ------------------------------------------------------------------------ */

/* bzip2 and xz have no OCI layer media type: such a tarball is stored decompressed. */
static int needs_decompress(const char *path, bool *out, berr_t *err) {
  cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return berr_sys(err, errno, "open `%s`", path);
  unsigned char m[6] = {0};
  ssize_t r = read(fd, m, sizeof m);
  if (r < 0)
    return berr_sys(err, errno, "read `%s`", path);
  *out = (r >= 3 && !memcmp(m, "BZh", 3)) || (r >= 6 && !memcmp(m, "\xfd" "7zXZ\0", 6));
  return 0;
}

static int decompress_to(const char *src, const char *dst, berr_t *err) {
  struct archive *a = archive_read_new();
  if (!a)
    return berr_sys(err, ENOMEM, "archive");
  int ret = -1;
  cleanup_close int fd = -1;
  cleanup_free char *buf = malloc(IO_BUF);
  archive_read_support_filter_bzip2(a);
  archive_read_support_filter_xz(a);
  archive_read_support_format_raw(a);
  struct archive_entry *e;
  if (!buf || archive_read_open_filename(a, src, IO_BUF) != ARCHIVE_OK || archive_read_next_header(a, &e) != ARCHIVE_OK) {
    berr_set(err, BERR_INVALID, "`%s`: cannot decompress: %s", src, archive_error_string(a) ? archive_error_string(a) : "out of memory");
    goto out;
  }
  fd = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    berr_sys(err, errno, "create `%s`", dst);
    goto out;
  }
  uint64_t total = 0;
  for (;;) {
    la_ssize_t r = archive_read_data(a, buf, IO_BUF);
    if (r < 0) {
      berr_set(err, BERR_INVALID, "`%s`: broken compressed data: %s", src, archive_error_string(a));
      goto out;
    }
    if (r == 0)
      break;
    total += (uint64_t)r;
    if (total > (uint64_t)image_max_layer_bytes() + (1u << 30)) {
      berr_set(err, BERR_LIMIT, "`%s` decompresses to more than the layer cap; raise --max-layer-size if it is trusted", src);
      goto out;
    }
    for (la_ssize_t off = 0; off < r;) {
      ssize_t w = write(fd, buf + off, (size_t)(r - off));
      if (w < 0 && errno == EINTR)
        continue;
      if (w < 0) {
        berr_sys(err, errno, "write `%s`", dst);
        goto out;
      }
      off += w;
    }
  }
  ret = 0;
out:
  archive_read_free(a);
  return ret;
}

static int import_rootfs(struct import *im, const char *tar_path, const char *ref, json_object *config,
                         json_object **summary, berr_t *err) {
  char name[IMAGE_REF_MAX];
  if (!ref)
    return berr_set(err, BERR_BAD_REQUEST, "a rootfs tarball needs `ref`: the name to import it under");
  if (image_normalize_ref(ref, name, err) < 0)
    return -1;
  json_object *exec_cfg = json_object_new_object();
  if (image_apply_config(exec_cfg, config, err) < 0) {
    json_object_put(exec_cfg);
    return -1;
  }
  /* a PATH when the caller gave none, as docker import does */
  json_object *env = json_object_object_get(exec_cfg, "Env");
  bool has_path = false;
  for (size_t i = 0; env && i < json_object_array_length(env); i++)
    has_path |= !strncmp(json_object_get_string(json_object_array_get_idx(env, i)), "PATH=", 5);
  if (!has_path) {
    json_object *ne = json_object_new_array();
    json_object_array_add(ne, json_object_new_string(DEFAULT_PATH));
    for (size_t i = 0; env && i < json_object_array_length(env); i++)
      json_object_array_add(ne, json_object_get(json_object_array_get_idx(env, i)));
    json_object_object_add(exec_cfg, "Env", ne);
  }
  int ret = -1;
  json_object *cfg = NULL, *man = NULL;
  bool decompress = false;
  cleanup_free char *plain = NULL;
  const char *layer_file = tar_path;
  if (needs_decompress(tar_path, &decompress, err) < 0)
    goto out;
  if (decompress) {
    if (asprintf(&plain, "%s/rootfs.tar", im->src.work) < 0) {
      plain = NULL;
      berr_sys(err, ENOMEM, "import");
      goto out;
    }
    if (progress(&im->src, "read", im->src.path, -1, -1, err) < 0 || decompress_to(tar_path, plain, err) < 0)
      goto out;
    layer_file = plain;
  }
  struct stat st;
  if (stat(layer_file, &st) < 0) {
    berr_sys(err, errno, "stat `%s`", layer_file);
    goto out;
  }
  struct layer_result lr;
  if (import_layer(im, 0, layer_file, decompress, NULL, (uint64_t)st.st_size, NULL, &lr, err) < 0)
    goto out;

  char now[40];
  now_rfc3339(now);
  cfg = json_object_new_object();
  json_object_object_add(cfg, "created", json_object_new_string(now));
  json_object_object_add(cfg, "architecture", json_object_new_string(image_host_arch()));
  json_object_object_add(cfg, "os", json_object_new_string("linux"));
  json_object_object_add(cfg, "config", take_ptr(exec_cfg));
  json_object *rootfs_o = json_object_new_object();
  json_object_object_add(rootfs_o, "type", json_object_new_string("layers"));
  json_object *diffs = json_object_new_array();
  json_object_array_add(diffs, json_object_new_string(lr.diff_id));
  json_object_object_add(rootfs_o, "diff_ids", diffs);
  json_object_object_add(cfg, "rootfs", rootfs_o);
  json_object *hist = json_object_new_object();
  json_object_object_add(hist, "created", json_object_new_string(now));
  json_object_object_add(hist, "created_by", json_object_new_string("berth import"));
  json_object *history = json_object_new_array();
  json_object_array_add(history, hist);
  json_object_object_add(cfg, "history", history);
  size_t clen = 0;
  const char *cs = json_object_to_json_string_length(cfg, JSON_FLAGS, &clen);
  char cdig[DIGEST_STR_LEN + 1];
  if (digest_buffer(cs, clen, cdig, err) < 0)
    goto out;

  man = json_object_new_object();
  json_object_object_add(man, "schemaVersion", json_object_new_int(2));
  json_object_object_add(man, "mediaType", json_object_new_string(IMAGE_MEDIA_OCI_MANIFEST));
  json_object *cdesc = json_object_new_object();
  json_object_object_add(cdesc, "mediaType", json_object_new_string(IMAGE_MEDIA_OCI_CONFIG));
  json_object_object_add(cdesc, "digest", json_object_new_string(cdig));
  json_object_object_add(cdesc, "size", json_object_new_int64((int64_t)clen));
  json_object_object_add(man, "config", cdesc);
  json_object *ldesc = json_object_new_object();
  json_object_object_add(ldesc, "mediaType", json_object_new_string(layer_media_type(lr.compression)));
  json_object_object_add(ldesc, "digest", json_object_new_string(lr.blob_digest));
  json_object_object_add(ldesc, "size", json_object_new_int64((int64_t)lr.blob_size));
  json_object *layers = json_object_new_array();
  json_object_array_add(layers, ldesc);
  json_object_object_add(man, "layers", layers);
  size_t mlen = 0;
  const char *ms = json_object_to_json_string_length(man, JSON_FLAGS, &mlen);
  const char *refs[] = {name, NULL};
  ret = image_store_add(im->root, ms, mlen, cs, clen, refs, summary, NULL, err);
out:
  json_object_put(exec_cfg);
  json_object_put(cfg);
  json_object_put(man);
  return ret;
}

/* ---- detection and the entry points ------------------------------------------------ */

enum format { F_AUTO, F_OCI, F_OCI_ARCHIVE, F_DOCKER_ARCHIVE, F_ROOTFS };

/* A tarball holding oci-layout is an OCI archive, one holding manifest.json
 * a docker archive, anything else a rootfs: a pass over the headers only. */
static int detect_tar(const char *path, enum format *out, berr_t *err) {
  struct archive *a = archive_read_new();
  if (!a)
    return berr_sys(err, ENOMEM, "archive");
  archive_read_support_filter_gzip(a);
  archive_read_support_filter_zstd(a);
  archive_read_support_filter_bzip2(a);
  archive_read_support_filter_xz(a);
  archive_read_support_format_tar(a);
  *out = F_ROOTFS;
  if (archive_read_open_filename(a, path, IO_BUF) == ARCHIVE_OK) {
    struct archive_entry *e;
    bool manifest = false;
    while (archive_read_next_header(a, &e) >= ARCHIVE_WARN) {
      char name[NAME_MAX_LEN];
      if (clean_name(NULL, archive_entry_pathname(e), name) < 0)
        continue;
      if (!strcmp(name, "oci-layout")) {
        *out = F_OCI_ARCHIVE;
        break;
      }
      manifest |= !strcmp(name, "manifest.json");
    }
    if (*out == F_ROOTFS && manifest)
      *out = F_DOCKER_ARCHIVE;
  }
  archive_read_free(a);
  return 0;
}

static const char *format_name(enum format f) {
  switch (f) {
  case F_OCI: return "oci";
  case F_OCI_ARCHIVE: return "oci-archive";
  case F_DOCKER_ARCHIVE: return "docker-archive";
  case F_ROOTFS: return "rootfs";
  case F_AUTO: break;
  }
  return "auto";
}

static int run_import(const char *root, const char *path, enum format f, const char *ref, json_object *config,
                      image_progress_fn prog, void *pctx, json_object **out, bool summary_only, berr_t *err) {
  if (!path || path[0] != '/')
    return berr_set(err, BERR_BAD_REQUEST, "`path` must be an absolute path on the helper's machine");
  /* opened with the client's permissions, then read through that fd only (a
   * FIFO must not block: O_NONBLOCK, and it is neither a file nor a dir) */
  cleanup_close int src_fd = userpath_open(userpath_client(), path, O_RDONLY | O_NONBLOCK | O_NOCTTY, 0, "read", err);
  if (src_fd < 0)
    return -1;
  char src[32];
  userpath_fd_path(src_fd, src);
  struct stat st;
  if (fstat(src_fd, &st) < 0)
    return berr_sys(err, errno, "`%s`", path);
  if (f == F_AUTO) {
    if (S_ISDIR(st.st_mode)) {
      struct stat lst;
      if (fstatat(src_fd, "oci-layout", &lst, AT_SYMLINK_NOFOLLOW) < 0)
        return berr_set(err, BERR_INVALID,
                        "`%s` is a directory without an oci-layout file: not an OCI image layout (import "
                        "a tarball of a root filesystem instead)",
                        path);
      f = F_OCI;
    } else if (S_ISREG(st.st_mode)) {
      if (detect_tar(src, &f, err) < 0)
        return -1;
    } else {
      return berr_set(err, BERR_INVALID, "`%s` is neither a file nor a directory", path);
    }
  }
  if (f == F_OCI && !S_ISDIR(st.st_mode))
    return berr_set(err, BERR_INVALID, "`%s` is not a directory; an OCI archive (a tar) is format oci-archive", path);
  if (f != F_OCI && !S_ISREG(st.st_mode))
    return berr_set(err, BERR_INVALID, "`%s` is not a regular file; an OCI layout directory is format oci", path);
  if (config && f != F_ROOTFS)
    return berr_set(err, BERR_INVALID, "`config` applies to rootfs imports only; `%s` is %s", path, format_name(f));

  struct import im = {.root = root,
                      .src = {.path = path, .open_path = src, .fd = src_fd, .is_dir = f == F_OCI,
                              .progress = prog, .pctx = pctx}};
  cleanup_free char *work = NULL;
  cleanup_close int work_fd = image_tmp_create(root, "import", &work, err);
  if (work_fd < 0)
    return -1;
  im.src.work = work;
  int r = -1;
  json_object *sum = NULL;
  if (f == F_ROOTFS) {
    r = import_rootfs(&im, src, ref, config, &sum, err);
    if (r == 0 && summary_only) {
      *out = sum;
    } else if (r == 0) {
      *out = json_object_new_object();
      json_object *arr = json_object_new_array();
      json_object_array_add(arr, sum);
      json_object_object_add(*out, "images", arr);
    }
  } else {
    if (f != F_OCI && stage_archive(&im.src, err) < 0)
      goto out;
    if (f != F_OCI) {
      bool has_layout = find_member(&im.src, "oci-layout") != NULL;
      bool has_manifest = find_member(&im.src, "manifest.json") != NULL;
      if (f == F_OCI_ARCHIVE && !has_layout) {
        berr_set(err, BERR_INVALID, "`%s` holds no oci-layout: not an OCI archive%s", path,
                 has_manifest ? " (it looks like a docker archive)" : "");
        goto out;
      }
      if (f == F_DOCKER_ARCHIVE && !has_manifest) {
        berr_set(err, BERR_INVALID, "`%s` holds no manifest.json: not a docker save archive%s", path,
                 has_layout ? " (it looks like an OCI archive)" : "");
        goto out;
      }
    }
    r = f == F_DOCKER_ARCHIVE ? import_docker(&im, ref, err) : import_oci(&im, ref, err);
    if (r == 0)
      r = import_commit(&im, out, err);
  }
out:
  if (r < 0) {
    import_rollback(&im);
    /* messages name what the user gave, not the fds it is read through */
    for (size_t i = 0; i < im.src.n; i++)
      if (im.src.m[i].fd >= 0) {
        char full[PATH_MAX];
        snprintf(full, sizeof full, "%s/%s", path, im.src.m[i].name);
        userpath_unalias(err, im.src.m[i].file, full);
      }
    userpath_unalias(err, src, path);
  }
  import_free(&im);
  berr_t ignored;
  rm_rf(work, &ignored);
  /* the images now name what the lease kept (or the import failed): a prune
   * after the reply may take what is unreferenced, without waiting for this
   * worker to exit */
  image_lease_release(root);
  return r;
}

int image_import(const char *root, const char *path, const char *format, const char *ref, json_object *config,
                 image_progress_fn prog, void *pctx, json_object **out, berr_t *err) {
  static const struct { const char *name; enum format f; } formats[] = {
      {"auto", F_AUTO}, {"oci", F_OCI}, {"oci-archive", F_OCI_ARCHIVE}, {"docker-archive", F_DOCKER_ARCHIVE}, {"rootfs", F_ROOTFS}};
  enum format f = F_AUTO;
  bool known = !format;
  for (size_t i = 0; format && i < sizeof formats / sizeof formats[0]; i++)
    if (!strcmp(format, formats[i].name)) {
      f = formats[i].f;
      known = true;
    }
  if (!known)
    return berr_set(err, BERR_INVALID,
                    "unknown import format `%.32s` (auto, oci, oci-archive, docker-archive or rootfs)", format);
  return run_import(root, path, f, ref, config, prog, pctx, out, false, err);
}

int image_import_rootfs(const char *root, const char *tar_path, const char *ref, json_object *config,
                        json_object **summary, berr_t *err) {
  if (!ref)
    return berr_set(err, BERR_BAD_REQUEST, "`ref` is required");
  return run_import(root, tar_path, F_ROOTFS, ref, config, NULL, NULL, summary, true, err);
}
