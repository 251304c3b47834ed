/* The image store (layout in image.h, primitives in image-internal.h).
 * Writers take images.lock; an import extracts into tmp/ without the lock
 * and takes it only to move things in: blobs and layer dirs first, the layer
 * meta after its tree, images.json last, so a failed import never shows. */
#include "image-internal.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "cleanup.h"
#include "digest.h"
#include "image-volumes.h"
#include "layer.h"
#include "server.h"
#include "util.h"

#define JSON_FLAGS (JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)

static int64_t max_layer_bytes = LAYER_DEFAULT_MAX_BYTES;

void image_set_max_layer_size(int64_t bytes) {
  max_layer_bytes = bytes > 0 ? bytes : LAYER_DEFAULT_MAX_BYTES;
}

int64_t image_max_layer_bytes(void) { return max_layer_bytes; }

/* ---- paths ---------------------------------------------------------------- */

static char *pathf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *pathf(const char *fmt, ...) {
  char *p = NULL;
  va_list ap;
  va_start(ap, fmt);
  if (vasprintf(&p, fmt, ap) < 0)
    p = NULL;
  va_end(ap);
  return p;
}

char *image_blob_path(const char *root, const char *digest) {
  return pathf("%s/blobs/sha256/%s", root, digest_hex(digest));
}
char *image_layer_dir(const char *root, const char *diff_id) {
  return pathf("%s/layers/sha256/%s", root, digest_hex(diff_id));
}
char *image_layer_meta_path(const char *root, const char *diff_id) {
  return pathf("%s/layers/sha256/%s.json", root, digest_hex(diff_id));
}
char *image_partial_dir(const char *root) { return pathf("%s/tmp/partial", root); }

static int random_hex(char *out, size_t bytes, berr_t *err) {
  unsigned char buf[32];
  if (bytes > sizeof buf)
    bytes = sizeof buf;
  if (getrandom(buf, bytes, 0) != (ssize_t)bytes)
    return berr_sys(err, errno, "getrandom");
  for (size_t i = 0; i < bytes; i++)
    sprintf(out + 2 * i, "%02x", buf[i]);
  return 0;
}

int image_tmp_create(const char *root, const char *prefix, char **path, berr_t *err) {
  char rnd[33];
  if (random_hex(rnd, 16, err) < 0)
    return -1;
  char *p = pathf("%s/tmp/%s-%s", root, prefix, rnd);
  if (!p)
    return berr_sys(err, ENOMEM, "work dir");
  if (mkdir(p, 0700) < 0) {
    int e = errno;
    berr_sys(err, e, "mkdir `%s`", p);
    free(p);
    return -1;
  }
  int fd = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0 || flock(fd, LOCK_EX) < 0) {
    int e = errno;
    berr_sys(err, e, "lock `%s`", p);
    if (fd >= 0)
      close(fd);
    rmdir(p);
    free(p);
    return -1;
  }
  *path = p;
  return fd;
}

/* ---- lock and index ------------------------------------------------------- */

int image_store_lock(const char *root, int how, berr_t *err) {
  cleanup_free char *p = pathf("%s/images.lock", root);
  if (!p)
    return berr_sys(err, ENOMEM, "lock the image store");
  int fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0)
    return berr_sys(err, errno, "open `%s`", p);
  while (flock(fd, how) < 0) {
    if (errno != EINTR) {
      int e = errno;
      close(fd);
      return berr_sys(err, e, "flock `%s`", p);
    }
  }
  return fd;
}

int image_index_load(const char *root, json_object **out, berr_t *err) {
  cleanup_free char *p = pathf("%s/images.json", root);
  if (!p)
    return berr_sys(err, ENOMEM, "images.json");
  json_object *idx = NULL;
  if (access(p, F_OK) < 0 && errno == ENOENT)
    idx = json_object_new_object();
  else if (json_read_file(p, &idx, err) < 0)
    return -1;
  if (!json_object_is_type(idx, json_type_object)) {
    json_object_put(idx);
    return berr_set(err, BERR_INTERNAL, "`%s` is not a JSON object", p);
  }
  const char *keys[] = {"refs", "images"};
  for (int i = 0; i < 2; i++) {
    json_object *o = NULL;
    if (!json_object_object_get_ex(idx, keys[i], &o))
      json_object_object_add(idx, keys[i], json_object_new_object());
    else if (!json_object_is_type(o, json_type_object)) {
      json_object_put(idx);
      return berr_set(err, BERR_INTERNAL, "`%s`: `%s` is not an object", p, keys[i]);
    }
  }
  *out = idx;
  return 0;
}

int image_index_save(const char *root, json_object *idx, berr_t *err) {
  cleanup_free char *p = pathf("%s/images.json", root);
  if (!p)
    return berr_sys(err, ENOMEM, "images.json");
  size_t len = 0;
  const char *s = json_object_to_json_string_length(idx, JSON_FLAGS, &len);
  return write_file_atomic(p, s, len, 0600, true, err);
}

static json_object *idx_refs(json_object *idx) { return json_object_object_get(idx, "refs"); }
static json_object *idx_images(json_object *idx) { return json_object_object_get(idx, "images"); }

static const char *image_id_of(json_object *idx, const char *manifest) {
  json_object *rec = json_object_object_get(idx_images(idx), manifest);
  json_object *id = rec ? json_object_object_get(rec, "id") : NULL;
  return id && json_object_is_type(id, json_type_string) ? json_object_get_string(id) : NULL;
}

/* ---- references ----------------------------------------------------------- */

/* host[:port]: dot-separated labels of letters, digits and inner `-`, and a
 * port of 1..5 digits (never `..`, an empty label or a `:..` port). */
static bool registry_ok(const char *s, size_t n) {
  const char *colon = memchr(s, ':', n);
  size_t hl = colon ? (size_t)(colon - s) : n;
  if (colon) {
    size_t pl = n - hl - 1;
    if (pl < 1 || pl > 5)
      return false;
    for (size_t i = hl + 1; i < n; i++)
      if (!isdigit((unsigned char)s[i]))
        return false;
  }
  size_t start = 0;
  for (size_t i = 0; i <= hl; i++) {
    if (i < hl && s[i] != '.') {
      if (!isalnum((unsigned char)s[i]) && s[i] != '-')
        return false;
      continue;
    }
    size_t ll = i - start;
    if (ll == 0 || ll > 63 || s[start] == '-' || s[i - 1] == '-')
      return false;
    start = i + 1;
  }
  return true;
}

static bool name_component_ok(const char *s, size_t n, bool registry) {
  if (n == 0)
    return false;
  if (registry)
    return registry_ok(s, n);
  if (!registry) {
    if (!islower((unsigned char)s[0]) && !isdigit((unsigned char)s[0]))
      return false;
    if (!islower((unsigned char)s[n - 1]) && !isdigit((unsigned char)s[n - 1]))
      return false;
    for (size_t i = 0; i < n; i++)
      if (!islower((unsigned char)s[i]) && !isdigit((unsigned char)s[i]) && !strchr("._-", s[i]))
        return false;
  }
  return true;
}

static bool is_hex(const char *s, size_t min, size_t max) {
  size_t n = strlen(s);
  if (n < min || n > max)
    return false;
  for (size_t i = 0; i < n; i++)
    if (!isdigit((unsigned char)s[i]) && !(s[i] >= 'a' && s[i] <= 'f'))
      return false;
  return true;
}

static int check_name(const char *in, const char *name, size_t name_len, berr_t *err) {
  bool ok = name_len > 0;
  size_t start = 0, comp = 0;
  for (size_t i = 0; ok && i <= name_len; i++) {
    if (i == name_len || name[i] == '/') {
      bool more = i < name_len;
      /* the first of several components may be a registry host */
      bool registry = comp == 0 && more &&
                      (memchr(name + start, '.', i - start) || memchr(name + start, ':', i - start) ||
                       (i - start == 9 && !strncmp(name + start, "localhost", 9)));
      ok = name_component_ok(name + start, i - start, registry);
      start = i + 1;
      comp++;
    }
  }
  if (!ok)
    return berr_set(err, BERR_INVALID,
                    "image reference `%s`: a name is lower-case letters, digits and . _ - "
                    "separated by /",
                    in);
  if (name_len == 64) {
    char tmp[65];
    snprintf(tmp, sizeof tmp, "%.*s", (int)name_len, name);
    if (is_hex(tmp, 64, 64))
      return berr_set(err, BERR_INVALID, "image reference `%s`: a 64-hex name would read as an id", in);
  }
  return 0;
}

int image_normalize_ref(const char *in, char out[IMAGE_REF_MAX], berr_t *err) {
  /* Docker Hub names in their familiar form, as docker lists them:
   * docker.io/library/busybox -> busybox, docker.io/user/app -> user/app */
  static const char *const hub[] = {"docker.io/library/", "index.docker.io/library/", "docker.io/",
                                    "index.docker.io/"};
  for (size_t i = 0; in && i < sizeof hub / sizeof hub[0]; i++)
    if (!strncmp(in, hub[i], strlen(hub[i])) && in[strlen(hub[i])]) {
      in += strlen(hub[i]);
      break;
    }
  size_t n = in ? strlen(in) : 0;
  if (n == 0 || n >= IMAGE_REF_MAX - 8)
    return berr_set(err, BERR_INVALID, "image reference must be 1..%d characters", IMAGE_REF_MAX - 9);
  const char *at = strchr(in, '@');
  if (at) {
    if (!digest_is_valid(at + 1))
      return berr_set(err, BERR_INVALID,
                      "image reference `%s`: a digest reference is NAME@sha256:<64 lower-case hex>", in);
    if (memchr(in, ':', (size_t)(at - in)) && strrchr(in, ':') < at &&
        (!strchr(in, '/') || strrchr(in, ':') > strrchr(in, '/')))
      return berr_set(err, BERR_INVALID, "image reference `%s`: give a tag or a digest, not both", in);
    if (check_name(in, in, (size_t)(at - in), err) < 0)
      return -1;
    snprintf(out, IMAGE_REF_MAX, "%s", in);
    return 0;
  }
  const char *slash = strrchr(in, '/');
  const char *colon = strrchr(in, ':');
  if (colon && slash && colon < slash)
    colon = NULL;
  size_t name_len = colon ? (size_t)(colon - in) : n;
  const char *tag = colon ? colon + 1 : "latest";
  size_t tl = strlen(tag);
  bool tag_ok = tl > 0 && tl <= 128 && (isalnum((unsigned char)tag[0]) || tag[0] == '_');
  for (size_t i = 0; tag_ok && i < tl; i++)
    tag_ok = isalnum((unsigned char)tag[i]) || strchr("_.-", tag[i]);
  if (!tag_ok)
    return berr_set(err, BERR_INVALID, "image reference `%s`: bad tag `%s`", in, tag);
  if (check_name(in, in, name_len, err) < 0)
    return -1;
  snprintf(out, IMAGE_REF_MAX, "%.*s:%s", (int)name_len, in, tag);
  return 0;
}

void image_ref_name(const char *normalized, char out[IMAGE_REF_MAX]) {
  const char *at = strchr(normalized, '@');
  const char *colon = strrchr(normalized, ':');
  const char *slash = strrchr(normalized, '/');
  size_t n = strlen(normalized);
  if (at)
    n = (size_t)(at - normalized);
  else if (colon && (!slash || colon > slash))
    n = (size_t)(colon - normalized);
  snprintf(out, IMAGE_REF_MAX, "%.*s", (int)n, normalized);
}

static int not_found(berr_t *err, const char *ref) {
  return berr_set(err, BERR_NOT_FOUND,
                  "no image '%s': pull or import it first (berth images lists what is here)", ref);
}

/* ref -> manifest digest. *by_name says whether a tag matched (remove then
 * drops only that tag). */
static int resolve_in(json_object *idx, const char *ref, char manifest[DIGEST_STR_LEN + 1],
                      char name_out[IMAGE_REF_MAX], bool *by_name, berr_t *err) {
  *by_name = false;
  if (!ref || !*ref)
    return berr_set(err, BERR_BAD_REQUEST, "image reference is empty");
  if (!strncmp(ref, "sha256:", 7)) {
    if (!digest_is_valid(ref))
      return not_found(err, ref);
    json_object_object_foreach(idx_images(idx), m, rec) {
      (void)rec;
      const char *id = image_id_of(idx, m);
      if ((id && !strcmp(id, ref)) || !strcmp(m, ref)) {
        snprintf(manifest, DIGEST_STR_LEN + 1, "%s", m);
        return 0;
      }
    }
    return not_found(err, ref);
  }
  char name[IMAGE_REF_MAX];
  berr_t ignored;
  if (image_normalize_ref(ref, name, &ignored) == 0) {
    json_object *m = json_object_object_get(idx_refs(idx), name);
    if (m && json_object_is_type(m, json_type_string) && digest_is_valid(json_object_get_string(m)) &&
        json_object_object_get_ex(idx_images(idx), json_object_get_string(m), NULL)) {
      snprintf(manifest, DIGEST_STR_LEN + 1, "%s", json_object_get_string(m));
      if (name_out)
        snprintf(name_out, IMAGE_REF_MAX, "%s", name);
      *by_name = true;
      return 0;
    }
    /* NAME@sha256:<manifest> names the image with that manifest even untagged */
    const char *at = strchr(name, '@');
    if (at && json_object_object_get_ex(idx_images(idx), at + 1, NULL)) {
      snprintf(manifest, DIGEST_STR_LEN + 1, "%s", at + 1);
      return 0;
    }
  }
  if (is_hex(ref, 3, 64)) {
    int matches = 0;
    json_object_object_foreach(idx_images(idx), m, rec) {
      (void)rec;
      const char *id = image_id_of(idx, m);
      if (id && !strncmp(id + 7, ref, strlen(ref))) {
        if (matches++ == 0)
          snprintf(manifest, DIGEST_STR_LEN + 1, "%s", m);
      }
    }
    if (matches == 1)
      return 0;
    if (matches > 1)
      return berr_set(err, BERR_INVALID, "image id prefix '%s' is ambiguous: give more characters", ref);
  }
  return not_found(err, ref);
}

/* ---- reading an image ----------------------------------------------------- */

void image_record_free(struct image_record *l) {
  json_object_put(l->manifest);
  json_object_put(l->config);
  json_object_put(l->refs);
  l->manifest = l->config = l->refs = NULL;
  l->layers = l->diff_ids = NULL;
}

static int read_blob_json(const char *root, const char *digest, json_object **out, berr_t *err) {
  cleanup_free char *p = image_blob_path(root, digest);
  if (!p)
    return berr_sys(err, ENOMEM, "blob path");
  if (json_read_file(p, out, err) < 0)
    return berr_wrap(err, "read blob %s", digest);
  return 0;
}

static int by_string(const void *a, const void *b) {
  return strcmp(json_object_get_string(*(json_object *const *)a), json_object_get_string(*(json_object *const *)b));
}

static json_object *refs_of(json_object *idx, const char *manifest) {
  json_object *a = json_object_new_array();
  json_object_object_foreach(idx_refs(idx), name, m) {
    if (json_object_is_type(m, json_type_string) && !strcmp(json_object_get_string(m), manifest))
      json_object_array_add(a, json_object_new_string(name));
  }
  json_object_array_sort(a, by_string);
  return a;
}

int image_record_load_in(const char *root, json_object *idx, const char *manifest_digest,
                         struct image_record *l, berr_t *err) {
  memset(l, 0, sizeof *l);
  if (!digest_is_valid(manifest_digest))
    return berr_set(err, BERR_INTERNAL, "images.json names the malformed manifest `%.80s`", manifest_digest);
  snprintf(l->manifest_digest, sizeof l->manifest_digest, "%s", manifest_digest);
  if (read_blob_json(root, manifest_digest, &l->manifest, err) < 0)
    return -1;
  json_object *cfg = json_object_object_get(l->manifest, "config");
  json_object *cd = cfg ? json_object_object_get(cfg, "digest") : NULL;
  l->layers = json_object_object_get(l->manifest, "layers");
  if (!cd || !digest_is_valid(json_object_get_string(cd)) ||
      !json_object_is_type(l->layers, json_type_array)) {
    image_record_free(l);
    return berr_set(err, BERR_INTERNAL, "manifest %s is malformed", manifest_digest);
  }
  snprintf(l->id, sizeof l->id, "%s", json_object_get_string(cd));
  if (read_blob_json(root, l->id, &l->config, err) < 0) {
    image_record_free(l);
    return -1;
  }
  json_object *rootfs = json_object_object_get(l->config, "rootfs");
  l->diff_ids = rootfs ? json_object_object_get(rootfs, "diff_ids") : NULL;
  size_t n = json_object_array_length(l->layers);
  if (!json_object_is_type(l->diff_ids, json_type_array) || json_object_array_length(l->diff_ids) != n) {
    image_record_free(l);
    return berr_set(err, BERR_INTERNAL, "config %s: rootfs.diff_ids does not match the manifest's layers", l->id);
  }
  for (size_t i = 0; i < n; i++)
    if (!digest_is_valid(json_object_get_string(json_object_array_get_idx(l->diff_ids, i))) ||
        !digest_is_valid(json_object_get_string(
            json_object_object_get(json_object_array_get_idx(l->layers, i), "digest")))) {
      image_record_free(l);
      return berr_set(err, BERR_INTERNAL, "image %s: layer %zu has a malformed digest", l->id, i);
    }
  l->refs = refs_of(idx, manifest_digest);
  return 0;
}

int image_record_load(const char *root, const char *ref, struct image_record *rec, berr_t *err) {
  memset(rec, 0, sizeof *rec);
  cleanup_close int lock = image_store_lock(root, LOCK_SH, err);
  if (lock < 0)
    return -1;
  json_object *idx = NULL;
  if (image_index_load(root, &idx, err) < 0)
    return -1;
  char manifest[DIGEST_STR_LEN + 1];
  bool by_name;
  int r = resolve_in(idx, ref, manifest, NULL, &by_name, err);
  if (r == 0)
    r = image_record_load_in(root, idx, manifest, rec, err);
  json_object_put(idx);
  return r;
}

int64_t image_layer_unpacked_size(const char *root, const char *diff_id) {
  cleanup_free char *p = image_layer_meta_path(root, diff_id);
  json_object *meta = NULL;
  berr_t ignored;
  if (!p || json_read_file(p, &meta, &ignored) < 0)
    return -1;
  json_object *v = json_object_object_get(meta, "unpackedSize");
  int64_t n = v ? json_object_get_int64(v) : -1;
  json_object_put(meta);
  return n;
}

static const char *created_of(const struct image_record *l) {
  json_object *c = json_object_object_get(l->config, "created");
  return c && json_object_is_type(c, json_type_string) ? json_object_get_string(c) : "";
}

/* Image size: what its layers unpack to (the blob sizes when unknown). */
static int64_t size_of(const char *root, const struct image_record *l) {
  int64_t total = 0;
  size_t n = json_object_array_length(l->layers);
  for (size_t i = 0; i < n; i++) {
    int64_t u = image_layer_unpacked_size(root, json_object_get_string(json_object_array_get_idx(l->diff_ids, i)));
    if (u < 0)
      u = json_object_get_int64(json_object_object_get(json_object_array_get_idx(l->layers, i), "size"));
    total += u;
  }
  return total;
}

json_object *image_record_summary(const char *root, const struct image_record *l) {
  json_object *o = json_object_new_object();
  json_object_object_add(o, "id", json_object_new_string(l->id));
  json_object_object_add(o, "refs", l->refs ? json_object_get(l->refs) : json_object_new_array());
  json_object_object_add(o, "created", json_object_new_string(created_of(l)));
  json_object_object_add(o, "size", json_object_new_int64(size_of(root, l)));
  json_object_object_add(o, "layers", json_object_new_int64((int64_t)json_object_array_length(l->layers)));
  return o;
}

/* ---- public: read side ----------------------------------------------------- */

int image_resolve(const char *root, const char *ref, struct image *out, berr_t *err) {
  memset(out, 0, sizeof *out);
  struct image_record l;
  if (image_record_load(root, ref, &l, err) < 0)
    return -1;
  size_t n = json_object_array_length(l.diff_ids);
  char **dirs = calloc(n + 1, sizeof *dirs);
  if (!dirs) {
    image_record_free(&l);
    return berr_sys(err, ENOMEM, "resolve image");
  }
  for (size_t i = 0; i < n; i++) {
    /* overlay wants the topmost layer first */
    const char *diff = json_object_get_string(json_object_array_get_idx(l.diff_ids, n - 1 - i));
    dirs[i] = image_layer_dir(root, diff);
    struct stat st;
    if (!dirs[i] || stat(dirs[i], &st) < 0 || !S_ISDIR(st.st_mode)) {
      int e = dirs[i] ? errno : ENOMEM;
      char what[DIGEST_STR_LEN + 1];
      snprintf(what, sizeof what, "%s", diff);
      strv_free(dirs);
      image_record_free(&l);
      return berr_sys(err, e, "image '%s': layer %s is missing from the store; remove and import it again",
                      ref, what);
    }
  }
  snprintf(out->id, sizeof out->id, "%s", l.id);
  snprintf(out->manifest_digest, sizeof out->manifest_digest, "%s", l.manifest_digest);
  out->config = json_object_get(l.config);
  out->layer_dirs = dirs;
  image_record_free(&l);
  return 0;
}

void image_free(struct image *img) {
  json_object_put(img->config);
  strv_free(img->layer_dirs);
  img->config = NULL;
  img->layer_dirs = NULL;
}

static int by_created_desc(const void *a, const void *b) {
  json_object *x = *(json_object *const *)a, *y = *(json_object *const *)b;
  int c = strcmp(json_object_get_string(json_object_object_get(y, "created")),
                 json_object_get_string(json_object_object_get(x, "created")));
  return c ? c : strcmp(json_object_get_string(json_object_object_get(x, "id")),
                        json_object_get_string(json_object_object_get(y, "id")));
}

int image_list(const char *root, json_object **out, berr_t *err) {
  cleanup_close int lock = image_store_lock(root, LOCK_SH, err);
  if (lock < 0)
    return -1;
  json_object *idx = NULL;
  if (image_index_load(root, &idx, err) < 0)
    return -1;
  json_object *arr = json_object_new_array();
  json_object_object_foreach(idx_images(idx), m, rec) {
    (void)rec;
    struct image_record l;
    if (image_record_load_in(root, idx, m, &l, err) < 0) {
      json_object_put(arr);
      json_object_put(idx);
      return -1;
    }
    json_object_array_add(arr, image_record_summary(root, &l));
    image_record_free(&l);
  }
  json_object_put(idx);
  json_object_array_sort(arr, by_created_desc);
  *out = json_object_new_object();
  json_object_object_add(*out, "images", arr);
  return 0;
}

int image_inspect(const char *root, const char *ref, json_object **out, berr_t *err) {
  struct image_record l;
  if (image_record_load(root, ref, &l, err) < 0)
    return -1;
  json_object *o = json_object_new_object();
  json_object_object_add(o, "id", json_object_new_string(l.id));
  json_object_object_add(o, "refs", json_object_get(l.refs));
  json_object_object_add(o, "manifestDigest", json_object_new_string(l.manifest_digest));
  json_object_object_add(o, "created", json_object_new_string(created_of(&l)));
  json_object_object_add(o, "size", json_object_new_int64(size_of(root, &l)));
  json_object_object_add(o, "config", json_object_get(l.config));
  json_object *layers = json_object_new_array();
  size_t n = json_object_array_length(l.layers);
  for (size_t i = 0; i < n; i++) {
    json_object *desc = json_object_array_get_idx(l.layers, i);
    const char *diff = json_object_get_string(json_object_array_get_idx(l.diff_ids, i));
    json_object *e = json_object_new_object();
    json_object_object_add(e, "digest", json_object_get(json_object_object_get(desc, "digest")));
    json_object_object_add(e, "diffId", json_object_new_string(diff));
    json_object_object_add(e, "size", json_object_new_int64(json_object_get_int64(json_object_object_get(desc, "size"))));
    json_object_object_add(e, "mediaType", json_object_get(json_object_object_get(desc, "mediaType")));
    int64_t u = image_layer_unpacked_size(root, diff);
    json_object_object_add(e, "unpackedSize", u >= 0 ? json_object_new_int64(u) : NULL);
    json_object_array_add(layers, e);
  }
  json_object_object_add(o, "layers", layers);
  image_record_free(&l);
  *out = o;
  return 0;
}

/* ---- store init ----------------------------------------------------------- */

int image_store_init(const char *root, berr_t *err) {
  const char *subdirs[] = {"", "/blobs", "/blobs/sha256", "/layers", "/layers/sha256", "/tmp"};
  for (size_t i = 0; i < sizeof subdirs / sizeof subdirs[0]; i++) {
    cleanup_free char *p = pathf("%s%s", root, subdirs[i]);
    if (!p)
      return berr_sys(err, ENOMEM, "image store");
    if (mkdir_p(p, 0700, err) < 0)
      return -1;
    struct stat st;
    if (lstat(p, &st) < 0)
      return berr_sys(err, errno, "stat `%s`", p);
    if (!S_ISDIR(st.st_mode))
      return berr_set(err, BERR_INTERNAL, "`%s` is not a directory", p);
    /* the store holds every image's files: root's alone */
    if ((st.st_mode & 077) && chmod(p, 0700) < 0)
      return berr_sys(err, errno, "chmod `%s`", p);
  }
  cleanup_free char *tmp = pathf("%s/tmp", root);
  if (!tmp)
    return berr_sys(err, ENOMEM, "image store");
  cleanup_close int lock = image_store_lock(root, LOCK_EX, err);
  if (lock < 0)
    return -1;
  /* Work dirs nobody holds are debris (a worker of a previous berthd may
   * still hold its own). Interrupted uploads stay (a pull resumes from them;
   * prune ages them out). */
  cleanup_dir DIR *d = opendir(tmp);
  if (!d)
    return berr_sys(err, errno, "opendir `%s`", tmp);
  struct dirent *de;
  while ((de = readdir(d))) {
    if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") || !strcmp(de->d_name, "partial"))
      continue;
    cleanup_free char *p = pathf("%s/%s", tmp, de->d_name);
    if (!p)
      return berr_sys(err, ENOMEM, "image store");
    cleanup_close int fd = open(p, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) < 0)
      continue;
    if (rm_rf(p, err) < 0)
      return berr_wrap(err, "clear the import area");
  }
  json_object *idx = NULL;
  if (image_index_load(root, &idx, err) < 0)
    return berr_wrap(err, "image store `%s`", root);
  cleanup_free char *ip = pathf("%s/images.json", root);
  int r = 0;
  if (ip && access(ip, F_OK) < 0)
    r = image_index_save(root, idx, err);
  json_object_put(idx);
  return r;
}

/* ---- config fields ---------------------------------------------------------- */

/* Env, Cmd and Entrypoint of an image config: at most this many strings of at
 * most this many bytes (execve takes 128 KiB per string, 2 MiB in all). */
#define CONFIG_MAX_STRINGS 4096
#define CONFIG_MAX_STRING_BYTES 65536

static int check_strings(json_object *v, const char *field, bool env, berr_t *err) {
  if (!v)
    return 0;
  if (!json_object_is_type(v, json_type_array))
    return berr_set(err, BERR_BAD_REQUEST, "config.%s must be an array of strings", field);
  if (json_object_array_length(v) > CONFIG_MAX_STRINGS)
    return berr_set(err, BERR_LIMIT, "config.%s has %zu entries; at most %d are accepted", field,
                    json_object_array_length(v), CONFIG_MAX_STRINGS);
  for (size_t i = 0; i < json_object_array_length(v); i++) {
    json_object *s = json_object_array_get_idx(v, i);
    if (!json_object_is_type(s, json_type_string))
      return berr_set(err, BERR_BAD_REQUEST, "config.%s[%zu] must be a string", field, i);
    if (json_object_get_string_len(s) > CONFIG_MAX_STRING_BYTES)
      return berr_set(err, BERR_LIMIT, "config.%s[%zu] is %d bytes; at most %d are accepted", field, i,
                      json_object_get_string_len(s), CONFIG_MAX_STRING_BYTES);
    const char *str = json_object_get_string(s);
    if (env && (!strchr(str, '=') || str[0] == '='))
      return berr_set(err, BERR_BAD_REQUEST, "config.Env[%zu] `%.60s` is not KEY=VALUE", i, str);
  }
  return 0;
}

/* {"80/tcp": {}, ...}: a port 1..65535 with /tcp, /udp or /sctp (tcp when none). */
static int check_ports(json_object *v, json_object **norm, berr_t *err) {
  if (!json_object_is_type(v, json_type_object) && !json_object_is_type(v, json_type_array))
    return berr_set(err, BERR_BAD_REQUEST, "config.ExposedPorts must be an object such as {\"80/tcp\": {}}");
  json_object *out = json_object_new_object();
  size_t n = json_object_is_type(v, json_type_array) ? json_object_array_length(v) : 0;
  const char **keys = NULL;
  size_t nk = 0;
  if (json_object_is_type(v, json_type_object)) {
    nk = (size_t)json_object_object_length(v);
    keys = calloc(nk + 1, sizeof *keys);
    size_t i = 0;
    json_object_object_foreach(v, k, val) {
      (void)val;
      if (keys)
        keys[i++] = k;
    }
  } else {
    nk = n;
    keys = calloc(nk + 1, sizeof *keys);
    for (size_t i = 0; keys && i < n; i++)
      keys[i] = json_object_get_string(json_object_array_get_idx(v, i));
  }
  if (!keys) {
    json_object_put(out);
    return berr_sys(err, ENOMEM, "ExposedPorts");
  }
  for (size_t i = 0; i < nk; i++) {
    const char *k = keys[i] ? keys[i] : "";
    char *end = NULL;
    long port = strtol(k, &end, 10);
    const char *proto = *end == '/' ? end + 1 : (*end ? NULL : "tcp");
    if (end == k || port < 1 || port > 65535 || !proto ||
        (strcmp(proto, "tcp") && strcmp(proto, "udp") && strcmp(proto, "sctp"))) {
      free(keys);
      json_object_put(out);
      return berr_set(err, BERR_BAD_REQUEST, "config.ExposedPorts: `%.40s` is not PORT[/tcp|udp|sctp]", k);
    }
    char key[32];
    snprintf(key, sizeof key, "%ld/%s", port, proto);
    json_object_object_add(out, key, json_object_new_object());
  }
  free(keys);
  *norm = out;
  return 0;
}

int image_apply_config(json_object *c, json_object *req, berr_t *err) {
  if (!req)
    return 0;
  if (!json_object_is_type(req, json_type_object))
    return berr_set(err, BERR_BAD_REQUEST, "`config` must be an object");
  json_object_object_foreach(req, key, val) {
    int r = 0;
    json_object *set = val ? json_object_get(val) : NULL;
    if (!strcmp(key, "Cmd") || !strcmp(key, "Entrypoint")) {
      r = check_strings(val, key, false, err);
    } else if (!strcmp(key, "Env")) {
      r = check_strings(val, key, true, err);
    } else if (!strcmp(key, "WorkingDir")) {
      if (val && (!json_object_is_type(val, json_type_string) ||
                  (json_object_get_string(val)[0] != '/' && json_object_get_string_len(val) > 0)))
        r = berr_set(err, BERR_BAD_REQUEST, "config.WorkingDir must be an absolute path");
    } else if (!strcmp(key, "User")) {
      if (val && (!json_object_is_type(val, json_type_string) || json_object_get_string_len(val) > 256))
        r = berr_set(err, BERR_BAD_REQUEST, "config.User must be a string such as `1000:1000`");
    } else if (!strcmp(key, "StopSignal")) {
      if (val && (!json_object_is_type(val, json_type_string) || json_object_get_string_len(val) > 32 ||
                  json_object_get_string_len(val) == 0))
        r = berr_set(err, BERR_BAD_REQUEST, "config.StopSignal must be a signal name such as `SIGTERM`");
    } else if (!strcmp(key, "Labels")) {
      if (val && (!json_object_is_type(val, json_type_object) || json_object_object_length(val) > 4096))
        r = berr_set(err, BERR_BAD_REQUEST, "config.Labels must be an object of strings");
      /* only an object has entries: foreach on anything else reads a NULL table */
      if (r == 0 && val) {
        json_object_object_foreach(val, lk, lv) {
          if (r == 0 && (!json_object_is_type(lv, json_type_string) || strlen(lk) > 4096 ||
                         json_object_get_string_len(lv) > 65536))
            r = berr_set(err, BERR_BAD_REQUEST, "config.Labels[`%.60s`] must be a string", lk);
        }
      }
    } else if (!strcmp(key, "Volumes")) {
      if (val)
        r = image_volumes_check(val, err);
    } else if (!strcmp(key, "ExposedPorts")) {
      json_object_put(set);
      set = NULL;
      if (val)
        r = check_ports(val, &set, err);
    } else {
      r = berr_set(err, BERR_BAD_REQUEST,
                   "config: unknown field `%.60s` (Cmd, Entrypoint, Env, WorkingDir, User, "
                   "ExposedPorts, Volumes, Labels, StopSignal)",
                   key);
    }
    if (r < 0) {
      json_object_put(set);
      return -1;
    }
    json_object_object_add(c, key, set);
  }
  return 0;
}

const char *image_host_arch(void) {
  static char arch[65];
  if (arch[0])
    return arch;
  struct utsname u;
  snprintf(arch, sizeof arch, "amd64");
  if (uname(&u) < 0)
    return arch;
  static const struct { const char *machine, *arch; } map[] = {
      {"x86_64", "amd64"}, {"aarch64", "arm64"}, {"armv7l", "arm"},  {"armv6l", "arm"},
      {"i686", "386"},     {"i386", "386"},      {"ppc64le", "ppc64le"}, {"s390x", "s390x"},
      {"riscv64", "riscv64"}, {"loongarch64", "loong64"}, {"mips64", "mips64"}};
  for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
    if (!strcmp(u.machine, map[i].machine)) {
      snprintf(arch, sizeof arch, "%s", map[i].arch);
      return arch;
    }
  snprintf(arch, sizeof arch, "%s", u.machine);
  return arch;
}

/* ---- adding layers ------------------------------------------------------------- */

static bool path_exists(const char *p, bool want_dir) {
  struct stat st;
  return p && lstat(p, &st) == 0 && (want_dir ? S_ISDIR(st.st_mode) : S_ISREG(st.st_mode));
}

/* Whether meta says blob unpacks to its layer. */
static bool meta_has_blob(json_object *meta, const char *blob) {
  json_object *d = json_object_object_get(meta, "digest");
  if (d && json_object_is_type(d, json_type_string) && !strcmp(json_object_get_string(d), blob))
    return true;
  json_object *blobs = json_object_object_get(meta, "blobs");
  return blobs && json_object_is_type(blobs, json_type_object) &&
         json_object_object_get_ex(blobs, blob, NULL);
}

static json_object *read_meta(const char *root, const char *diff_id) {
  cleanup_free char *p = image_layer_meta_path(root, diff_id);
  json_object *meta = NULL;
  berr_t ignored;
  if (!p || json_read_file(p, &meta, &ignored) < 0)
    return NULL;
  if (!json_object_is_type(meta, json_type_object)) {
    json_object_put(meta);
    return NULL;
  }
  return meta;
}

/* The diffID of a blob the store knows (its meta lists it), tree present. */
static bool find_layer_by_blob(const char *root, const char *blob, char diff_id[DIGEST_STR_LEN + 1],
                               json_object **meta_out) {
  /* an uncompressed layer's blob digest is its diffID: try that first */
  json_object *meta = read_meta(root, blob);
  if (meta && meta_has_blob(meta, blob)) {
    snprintf(diff_id, DIGEST_STR_LEN + 1, "%s", blob);
  } else {
    json_object_put(meta);
    meta = NULL;
    cleanup_free char *dir = pathf("%s/layers/sha256", root);
    cleanup_dir DIR *d = dir ? opendir(dir) : NULL;
    struct dirent *de;
    while (d && !meta && (de = readdir(d))) {
      size_t n = strlen(de->d_name);
      if (n != DIGEST_HEX_LEN + 5 || strcmp(de->d_name + DIGEST_HEX_LEN, ".json"))
        continue;
      char cand[DIGEST_STR_LEN + 1];
      snprintf(cand, sizeof cand, "sha256:%.*s", DIGEST_HEX_LEN, de->d_name);
      if (!digest_is_valid(cand))
        continue;
      json_object *m = read_meta(root, cand);
      if (m && meta_has_blob(m, blob)) {
        meta = m;
        snprintf(diff_id, DIGEST_STR_LEN + 1, "%s", cand);
      } else {
        json_object_put(m);
      }
    }
  }
  if (!meta)
    return false;
  cleanup_free char *tree = image_layer_dir(root, diff_id);
  if (!path_exists(tree, true)) {
    json_object_put(meta);
    return false;
  }
  *meta_out = meta;
  return true;
}

static enum layer_compression compression_of(const char *media_type) {
  if (!media_type)
    return LAYER_PLAIN;
  if (strstr(media_type, "gzip"))
    return LAYER_GZIP;
  if (strstr(media_type, "zstd"))
    return LAYER_ZSTD;
  if (strstr(media_type, "bzip2"))
    return LAYER_BZIP2;
  if (strstr(media_type, "+xz"))
    return LAYER_XZ;
  return LAYER_PLAIN;
}

static bool same_file(const char *a, const char *b) {
  struct stat sa, sb;
  return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

static int copy_file(const char *src, const char *dst, berr_t *err) {
  cleanup_close int in = open(src, O_RDONLY | O_CLOEXEC);
  if (in < 0)
    return berr_sys(err, errno, "open `%s`", src);
  cleanup_close int out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (out < 0)
    return berr_sys(err, errno, "create `%s`", dst);
  char buf[65536];
  for (;;) {
    ssize_t r = read(in, buf, sizeof buf);
    if (r < 0 && errno == EINTR)
      continue;
    if (r < 0)
      return berr_sys(err, errno, "read `%s`", src);
    if (r == 0)
      break;
    for (ssize_t off = 0; off < r;) {
      ssize_t w = write(out, buf + off, (size_t)(r - off));
      if (w < 0 && errno == EINTR)
        continue;
      if (w < 0)
        return berr_sys(err, errno, "write `%s`", dst);
      off += w;
    }
  }
  if (fsync(out) < 0)
    return berr_sys(err, errno, "fsync `%s`", dst);
  return 0;
}

static int digest_mismatch(berr_t *err, const char *what, const char *want, const char *got) {
  return berr_set(err, BERR_INVALID,
                  "%s: digest mismatch: expected %s, the content hashes to %s (the file is "
                  "corrupt or was changed; fetch it again)",
                  what, want, got);
}

/* Adds blob to the meta's "blobs" (creating the meta when missing). */
static int record_meta(const char *root, const struct layer_result *res, const char *media_type,
                       berr_t *err) {
  cleanup_free char *p = image_layer_meta_path(root, res->diff_id);
  if (!p)
    return berr_sys(err, ENOMEM, "layer meta");
  json_object *meta = read_meta(root, res->diff_id);
  if (!meta) {
    meta = json_object_new_object();
    json_object_object_add(meta, "digest", json_object_new_string(res->blob_digest));
    json_object_object_add(meta, "size", json_object_new_int64((int64_t)res->blob_size));
    json_object_object_add(meta, "unpackedSize", json_object_new_int64((int64_t)res->unpacked_size));
    json_object_object_add(meta, "mediaType", json_object_new_string(media_type));
  }
  json_object *blobs = json_object_object_get(meta, "blobs");
  if (!blobs || !json_object_is_type(blobs, json_type_object)) {
    blobs = json_object_new_object();
    json_object_object_add(meta, "blobs", blobs);
  }
  json_object *b = json_object_new_object();
  json_object_object_add(b, "size", json_object_new_int64((int64_t)res->blob_size));
  json_object_object_add(b, "mediaType", json_object_new_string(media_type));
  json_object_object_add(blobs, res->blob_digest, b);
  int r = json_write_file(p, meta, true, err);
  json_object_put(meta);
  return r;
}

/* A blob the store already has unpacked (expect_digest in some meta's "blobs",
 * blob and tree present): checks tar_path's bytes, notes it in the lease, and
 * *done. Else *done is false and nothing happened. */
/* Whether the store has blob digest unpacked: its file and a layer meta naming
 * it (diff and *meta filled then), looked at under the shared lock. */
static int known_layer(const char *root, const char *digest, char diff[DIGEST_STR_LEN + 1], json_object **meta,
                       bool *known, berr_t *err) {
  *known = false;
  *meta = NULL;
  cleanup_free char *blob = image_blob_path(root, digest);
  cleanup_close int lock = image_store_lock(root, LOCK_SH, err);
  if (lock < 0)
    return -1;
  *known = blob && path_exists(blob, false) && find_layer_by_blob(root, digest, diff, meta);
  return 0;
}

static int add_known_layer(const char *root, const char *tar_path, const char *expect_digest,
                           struct layer_result *res, bool *done, berr_t *err) {
  *done = false;
  char diff[DIGEST_STR_LEN + 1];
  json_object *meta = NULL;
  cleanup_free char *blob_dst = image_blob_path(root, expect_digest);
  bool known;
  /* the hashing below runs without the lock (the daemon takes it to resolve) */
  if (known_layer(root, expect_digest, diff, &meta, &known, err) < 0)
    return -1;
  if (!known)
    return 0;
  char got[DIGEST_STR_LEN + 1];
  uint64_t size = 0;
  int r = digest_file(tar_path, got, &size, err);
  if (r == 0 && strcmp(got, expect_digest))
    r = digest_mismatch(err, "layer", expect_digest, got);
  /* ours now, even if no image names it yet: prune must keep it */
  if (r == 0 && (image_lease_note(root, expect_digest, err) < 0 || image_lease_note(root, diff, err) < 0))
    r = -1;
  cleanup_close int lock = r == 0 ? image_store_lock(root, LOCK_EX, err) : -1;
  cleanup_free char *tree = image_layer_dir(root, diff);
  cleanup_free char *mp = image_layer_meta_path(root, diff);
  if (r == 0 && lock < 0)
    r = -1;
  /* still there (a prune may have run meanwhile)? then it is done */
  if (r == 0 && path_exists(blob_dst, false) && path_exists(tree, true) && path_exists(mp, false)) {
    snprintf(res->blob_digest, sizeof res->blob_digest, "%s", expect_digest);
    snprintf(res->diff_id, sizeof res->diff_id, "%s", diff);
    res->blob_size = size;
    res->unpacked_size = (uint64_t)json_object_get_int64(json_object_object_get(meta, "unpackedSize"));
    json_object *b = json_object_object_get(json_object_object_get(meta, "blobs"), expect_digest);
    res->compression = compression_of(json_object_get_string(json_object_object_get(b ? b : meta, "mediaType")));
    *done = true;
  }
  json_object_put(meta);
  return r;
}

/* The tree extracted into work/tree and its blob into the store: blob_src (a
 * copy made in work/, or the caller's file when move) is renamed into blobs/
 * (copied first when on another file system), the tree into layers/ unless
 * one is there, the meta recorded. */
static int store_extracted(const char *root, const char *work, const char *tree, const char *blob_src,
                           bool is_copy, struct layer_result *res, bool *extracted, berr_t *err) {
  /* noted before it becomes visible: a prune meanwhile keeps it */
  if (image_lease_note(root, res->blob_digest, err) < 0 || image_lease_note(root, res->diff_id, err) < 0)
    return -1;
  cleanup_close int lock = image_store_lock(root, LOCK_EX, err);
  if (lock < 0)
    return -1;
  cleanup_free char *blob_dst = image_blob_path(root, res->blob_digest);
  cleanup_free char *tree_dst = image_layer_dir(root, res->diff_id);
  if (!blob_dst || !tree_dst)
    return berr_sys(err, ENOMEM, "layer");
  if (!path_exists(blob_dst, false) && rename(blob_src, blob_dst) < 0) {
    if (errno != EXDEV || is_copy)
      return berr_sys(err, errno, "rename `%s` to `%s`", blob_src, blob_dst);
    cleanup_free char *tmpb = pathf("%s/blob", work);
    if (!tmpb)
      return berr_sys(err, ENOMEM, "layer");
    if (copy_file(blob_src, tmpb, err) < 0)
      return -1;
    if (rename(tmpb, blob_dst) < 0)
      return berr_sys(err, errno, "rename `%s` to `%s`", tmpb, blob_dst);
  }
  /* an existing tree wins: it may be a lower dir of a running container */
  if (!path_exists(tree_dst, true)) {
    if (rename(tree, tree_dst) < 0)
      return berr_sys(err, errno, "rename `%s` to `%s`", tree, tree_dst);
    if (extracted)
      *extracted = true;
  }
  return record_meta(root, res, layer_media_type(res->compression), err);
}

/* A work dir under tmp/ with an empty tree/ in it. */
static int make_layer_work(const char *root, char **work, char **tree, berr_t *err) {
  *work = *tree = NULL;
  int work_fd = image_tmp_create(root, "layer", work, err);
  if (work_fd < 0)
    return -1;
  if (!(*tree = pathf("%s/tree", *work))) {
    berr_sys(err, ENOMEM, "layer");
  } else if (mkdir(*tree, 0755) < 0) {
    berr_sys(err, errno, "mkdir `%s`", *tree);
  } else {
    return work_fd;
  }
  berr_t ignored;
  rm_rf(*work, &ignored);
  close(work_fd);
  free(*work);
  free(*tree);
  *work = *tree = NULL;
  return -1;
}

/* A corrupt blob fails to unpack before its digest is known: say why. */
static void explain_unpack_failure(const char *tar_path, const char *expect_digest, berr_t *err) {
  char got[DIGEST_STR_LEN + 1];
  berr_t e2;
  if (expect_digest && digest_file(tar_path, got, NULL, &e2) == 0 && strcmp(got, expect_digest))
    digest_mismatch(err, "layer", expect_digest, got);
}

int image_store_add_layer(const char *root, const char *tar_path, bool move_blob,
                          const char *expect_digest, struct layer_result *res, bool *extracted,
                          berr_t *err) {
  memset(res, 0, sizeof *res);
  if (extracted)
    *extracted = false;
  if (expect_digest && !digest_is_valid(expect_digest))
    return berr_set(err, BERR_INVALID, "layer digest `%.80s` is not sha256:<64 lower-case hex>", expect_digest);
  if (expect_digest) {
    bool done;
    if (add_known_layer(root, tar_path, expect_digest, res, &done, err) < 0 || done)
      return done ? 0 : -1;
  }
  cleanup_free char *work = NULL, *tree = NULL, *copy = NULL;
  cleanup_close int work_fd = make_layer_work(root, &work, &tree, err);
  if (work_fd < 0)
    return -1;
  int ret = -1;
  if (!move_blob && !(expect_digest && ({
                        cleanup_free char *bp = image_blob_path(root, expect_digest);
                        bp && same_file(bp, tar_path);
                      }))) {
    copy = pathf("%s/blob", work);
    if (!copy) {
      berr_sys(err, ENOMEM, "layer");
      goto out;
    }
  }
  if (layer_unpack(tar_path, tree, copy, max_layer_bytes, res, err) < 0) {
    explain_unpack_failure(tar_path, expect_digest, err);
    goto out;
  }
  if (expect_digest && strcmp(res->blob_digest, expect_digest)) {
    digest_mismatch(err, "layer", expect_digest, res->blob_digest);
    goto out;
  }
  ret = store_extracted(root, work, tree, copy ? copy : tar_path, copy != NULL, res, extracted, err);
out:
  {
    berr_t ignored;
    rm_rf(work, &ignored);
  }
  return ret;
}

bool image_layer_blob_known(const char *root, const char *digest) {
  char diff[DIGEST_STR_LEN + 1];
  json_object *meta = NULL;
  berr_t ignored;
  bool known = false;
  int r = known_layer(root, digest, diff, &meta, &known, &ignored);
  json_object_put(meta);
  return r == 0 && known;
}

int image_layer_stream_begin(const char *root, int fd, int close_in_child, const char *digest,
                             struct image_layer_stream *s, berr_t *err) {
  memset(s, 0, sizeof *s);
  s->work_fd = -1;
  s->u.pid = -1;
  if (!digest_is_valid(digest))
    return berr_set(err, BERR_INVALID, "layer digest `%.80s` is not sha256:<64 lower-case hex>", digest);
  if ((s->work_fd = make_layer_work(root, &s->work, &s->tree, err)) < 0)
    return -1;
  char what[DIGEST_STR_LEN + 16];
  snprintf(what, sizeof what, "layer %s", digest);
  if (layer_unpack_start(fd, close_in_child, true, what, s->tree, NULL, max_layer_bytes, &s->u, err) < 0) {
    image_layer_stream_abort(s);
    return -1;
  }
  return 0;
}

void image_layer_stream_abort(struct image_layer_stream *s) {
  if (s->u.pid > 0) {
    kill(s->u.pid, SIGKILL);
    struct layer_result ignored_res;
    berr_t ignored;
    (void)layer_unpack_finish(&s->u, &ignored_res, &ignored);
  }
  if (s->work) {
    berr_t ignored;
    rm_rf(s->work, &ignored);
  }
  if (s->work_fd >= 0)
    close(s->work_fd);
  free(s->work);
  free(s->tree);
  memset(s, 0, sizeof *s);
  s->work_fd = -1;
  s->u.pid = -1;
}

int image_layer_stream_end(const char *root, struct image_layer_stream *s, const char *blob_path,
                           const char *digest, int64_t blob_size, enum layer_compression compression,
                           struct layer_result *res, bool *extracted, berr_t *err) {
  if (extracted)
    *extracted = false;
  int ret = layer_unpack_finish(&s->u, res, err);
  if (ret == 0) {
    /* the blob's digest was checked by the writer of the stream */
    snprintf(res->blob_digest, sizeof res->blob_digest, "%s", digest);
    res->blob_size = (uint64_t)blob_size;
    res->compression = compression;
    ret = store_extracted(root, s->work, s->tree, blob_path, false, res, extracted, err);
  }
  image_layer_stream_abort(s); /* the work dir goes; the extractor is done */
  return ret;
}

/* ---- adding images ---------------------------------------------------------------- */

static int parse_json(const char *what, const char *s, size_t len, json_object **out, berr_t *err) {
  if (len > IMAGE_JSON_MAX)
    return berr_set(err, BERR_LIMIT, "%s is %zu bytes; at most %u are accepted", what, len, IMAGE_JSON_MAX);
  json_tokener *tok = json_tokener_new();
  if (!tok)
    return berr_sys(err, ENOMEM, "json");
  json_object *o = json_tokener_parse_ex(tok, s, (int)len);
  enum json_tokener_error je = json_tokener_get_error(tok);
  size_t used = tok->char_offset;
  json_tokener_free(tok);
  while (o && used < len && isspace((unsigned char)s[used]))
    used++;
  if (!o || je != json_tokener_success || used != len || !json_object_is_type(o, json_type_object)) {
    json_object_put(o);
    return berr_set(err, BERR_INVALID, "%s is not a JSON object%s%s", what, je != json_tokener_success ? ": " : "",
                    je != json_tokener_success ? json_tokener_error_desc(je) : "");
  }
  *out = o;
  return 0;
}

static const char *jstr(json_object *o, const char *k) {
  json_object *v = o ? json_object_object_get(o, k) : NULL;
  return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

static int write_blob(const char *root, const char *digest, const char *data, size_t len, berr_t *err) {
  cleanup_free char *p = image_blob_path(root, digest);
  if (!p)
    return berr_sys(err, ENOMEM, "blob");
  if (path_exists(p, false))
    return 0;
  return write_file_atomic(p, data, len, 0600, true, err);
}

/* Sets refs[name] = manifest for every ref (normalized first, all or none). */
static int tag_refs(json_object *idx, const char *const *refs, const char *manifest, berr_t *err) {
  for (size_t i = 0; refs && refs[i]; i++) {
    char name[IMAGE_REF_MAX];
    if (image_normalize_ref(refs[i], name, err) < 0)
      return -1;
  }
  for (size_t i = 0; refs && refs[i]; i++) {
    char name[IMAGE_REF_MAX];
    image_normalize_ref(refs[i], name, err);
    json_object_object_add(idx_refs(idx), name, json_object_new_string(manifest));
  }
  return 0;
}

int image_store_add(const char *root, const char *manifest_json, size_t mlen,
                    const char *config_json, size_t clen, const char *const *refs,
                    json_object **summary, char manifest_digest[DIGEST_STR_LEN + 1], berr_t *err) {
  cleanup_close int lock = -1; /* before the first goto: every exit closes it */
  json_object *man = NULL, *cfg = NULL, *idx = NULL;
  int ret = -1;
  char mdig[DIGEST_STR_LEN + 1], cdig[DIGEST_STR_LEN + 1];
  if (parse_json("the manifest", manifest_json, mlen, &man, err) < 0 ||
      parse_json("the image config", config_json, clen, &cfg, err) < 0)
    goto out;
  if (digest_buffer(manifest_json, mlen, mdig, err) < 0 || digest_buffer(config_json, clen, cdig, err) < 0)
    goto out;
  const char *mt = jstr(man, "mediaType");
  json_object *sv = json_object_object_get(man, "schemaVersion");
  if (mt && (!strcmp(mt, IMAGE_MEDIA_OCI_INDEX) || !strcmp(mt, IMAGE_MEDIA_DOCKER_LIST))) {
    berr_set(err, BERR_INVALID, "manifest %s is an image index, not an image: give the manifest of one platform", mdig);
    goto out;
  }
  if (!sv || json_object_get_int(sv) != 2 ||
      (mt && strcmp(mt, IMAGE_MEDIA_OCI_MANIFEST) && strcmp(mt, IMAGE_MEDIA_DOCKER_MANIFEST))) {
    berr_set(err, BERR_INVALID,
             "manifest %s: not an OCI image manifest or a Docker schema 2 manifest (mediaType `%.80s`)",
             mdig, mt ? mt : "none");
    goto out;
  }
  json_object *cdesc = json_object_object_get(man, "config");
  const char *want_cfg = jstr(cdesc, "digest");
  if (!want_cfg || strcmp(want_cfg, cdig)) {
    berr_set(err, BERR_INVALID, "manifest %s names the config %.80s, but the config given hashes to %s",
             mdig, want_cfg ? want_cfg : "(none)", cdig);
    goto out;
  }
  json_object *csize = json_object_object_get(cdesc, "size");
  if (csize && json_object_get_int64(csize) != (int64_t)clen) {
    berr_set(err, BERR_INVALID, "manifest %s: config size %" PRId64 " but the config is %zu bytes", mdig,
             json_object_get_int64(csize), clen);
    goto out;
  }
  /* what a container would exec: the same limits as image.import's `config` */
  json_object *exec_cfg = json_object_object_get(cfg, "config");
  if (json_object_is_type(exec_cfg, json_type_object)) {
    static const char *const fields[] = {"Env", "Cmd", "Entrypoint"};
    for (size_t f = 0; f < 3; f++) {
      json_object *v = json_object_object_get(exec_cfg, fields[f]);
      if (v && !json_object_is_type(v, json_type_null) && check_strings(v, fields[f], false, err) < 0) {
        berr_wrap(err, "image config %s", cdig);
        err->kind = err->kind == BERR_LIMIT ? BERR_LIMIT : BERR_INVALID;
        goto out;
      }
    }
  }
  json_object *layers = json_object_object_get(man, "layers");
  json_object *rootfs = json_object_object_get(cfg, "rootfs");
  json_object *diffs = rootfs ? json_object_object_get(rootfs, "diff_ids") : NULL;
  if (!json_object_is_type(layers, json_type_array) || json_object_array_length(layers) == 0) {
    berr_set(err, BERR_INVALID, "manifest %s has no layers: nothing to run", mdig);
    goto out;
  }
  size_t n = json_object_array_length(layers);
  if (!json_object_is_type(diffs, json_type_array) || json_object_array_length(diffs) != n) {
    berr_set(err, BERR_INVALID, "config %s: rootfs.diff_ids has %zu entries for the manifest's %zu layers", cdig,
             json_object_is_type(diffs, json_type_array) ? json_object_array_length(diffs) : 0, n);
    goto out;
  }
  if (n > 1000) {
    berr_set(err, BERR_LIMIT, "manifest %s has %zu layers; at most 1000 are supported", mdig, n);
    goto out;
  }

  lock = image_store_lock(root, LOCK_EX, err);
  if (lock < 0)
    goto out;
  for (size_t i = 0; i < n; i++) {
    json_object *desc = json_object_array_get_idx(layers, i);
    const char *blob = jstr(desc, "digest");
    const char *diff = json_object_get_string(json_object_array_get_idx(diffs, i));
    if (!digest_is_valid(blob) || !digest_is_valid(diff)) {
      berr_set(err, BERR_INVALID, "image %s: layer %zu has a malformed digest (sha256:<64 hex> expected)", cdig, i);
      goto out;
    }
    cleanup_free char *bp = image_blob_path(root, blob);
    cleanup_free char *tree = image_layer_dir(root, diff);
    struct stat st;
    if (!bp || !tree || lstat(bp, &st) < 0 || !S_ISREG(st.st_mode)) {
      berr_set(err, BERR_INVALID, "layer %zu (%s) is not in the store: upload it first", i, blob);
      goto out;
    }
    json_object *dsize = json_object_object_get(desc, "size");
    if (!dsize || json_object_get_int64(dsize) != (int64_t)st.st_size) {
      berr_set(err, BERR_INVALID, "layer %zu (%s): the manifest says %" PRId64 " bytes, the blob has %" PRId64, i,
               blob, dsize ? json_object_get_int64(dsize) : -1, (int64_t)st.st_size);
      goto out;
    }
    json_object *meta = read_meta(root, diff);
    bool ok = meta && meta_has_blob(meta, blob) && path_exists(tree, true);
    json_object_put(meta);
    if (!ok) {
      berr_set(err, BERR_INVALID,
               "layer %zu (%s) does not unpack to %s, the config's rootfs.diff_ids[%zu] (or it is not extracted)",
               i, blob, diff, i);
      goto out;
    }
  }
  if (write_blob(root, cdig, config_json, clen, err) < 0 || write_blob(root, mdig, manifest_json, mlen, err) < 0)
    goto out;
  if (image_index_load(root, &idx, err) < 0)
    goto out;
  if (tag_refs(idx, refs, mdig, err) < 0)
    goto out;
  json_object *rec = json_object_new_object();
  json_object_object_add(rec, "id", json_object_new_string(cdig));
  json_object_object_add(idx_images(idx), mdig, rec);
  if (image_index_save(root, idx, err) < 0)
    goto out;
  if (summary) {
    struct image_record l;
    if (image_record_load_in(root, idx, mdig, &l, err) < 0)
      goto out;
    *summary = image_record_summary(root, &l);
    image_record_free(&l);
  }
  if (manifest_digest)
    snprintf(manifest_digest, DIGEST_STR_LEN + 1, "%s", mdig);
  ret = 0;
out:
  json_object_put(man);
  json_object_put(cfg);
  json_object_put(idx);
  return ret;
}

/* ---- tag ------------------------------------------------------------------- */

int image_tag(const char *root, const char *ref, const char *target, json_object **summary, berr_t *err) {
  char name[IMAGE_REF_MAX];
  if (!target || image_normalize_ref(target, name, err) < 0)
    return target ? -1 : berr_set(err, BERR_BAD_REQUEST, "`target` is required");
  if (strchr(name, '@'))
    return berr_set(err, BERR_INVALID, "`%s`: tag with NAME[:TAG]; a digest reference is given by the content", target);
  cleanup_close int lock = image_store_lock(root, LOCK_EX, err);
  if (lock < 0)
    return -1;
  json_object *idx = NULL;
  if (image_index_load(root, &idx, err) < 0)
    return -1;
  int ret = -1;
  char manifest[DIGEST_STR_LEN + 1];
  bool by_name;
  struct image_record l = {0};
  if (resolve_in(idx, ref, manifest, NULL, &by_name, err) < 0)
    goto out;
  json_object_object_add(idx_refs(idx), name, json_object_new_string(manifest));
  if (image_index_save(root, idx, err) < 0 || image_record_load_in(root, idx, manifest, &l, err) < 0)
    goto out;
  *summary = image_record_summary(root, &l);
  image_record_free(&l);
  ret = 0;
out:
  json_object_put(idx);
  return ret;
}

/* ---- remove --------------------------------------------------------------- */

static bool in_list(json_object *set, const char *s) {
  return json_object_object_get_ex(set, s, NULL);
}

int image_referenced_set(const char *root, json_object *idx, json_object *keep, berr_t *err) {
  json_object_object_foreach(idx_images(idx), m, rec) {
    (void)rec;
    struct image_record o;
    json_object_object_add(keep, m, NULL);
    if (image_record_load_in(root, idx, m, &o, err) < 0)
      return -1;
    json_object_object_add(keep, o.id, NULL);
    for (size_t i = 0; i < json_object_array_length(o.layers); i++) {
      json_object_object_add(keep, json_object_get_string(json_object_object_get(json_object_array_get_idx(o.layers, i), "digest")), NULL);
      json_object_object_add(keep, json_object_get_string(json_object_array_get_idx(o.diff_ids, i)), NULL);
    }
    image_record_free(&o);
  }
  return 0;
}

int image_remove(const char *root, const char *ref, bool force, image_in_use_fn in_use, void *ctx,
                 json_object **out, berr_t *err) {
  cleanup_close int lock = image_store_lock(root, LOCK_EX, err);
  if (lock < 0)
    return -1;
  json_object *idx = NULL;
  if (image_index_load(root, &idx, err) < 0)
    return -1;
  int ret = -1;
  char manifest[DIGEST_STR_LEN + 1], name[IMAGE_REF_MAX];
  bool by_name;
  struct image_record l = {0};
  json_object *keep = NULL, *removed = json_object_new_array(), *untagged = json_object_new_array();
  if (resolve_in(idx, ref, manifest, name, &by_name, err) < 0 || image_record_load_in(root, idx, manifest, &l, err) < 0)
    goto out;

  /* By name: drop that tag. By id: drop every tag. The content goes when no
   * tag is left and no container uses it. */
  json_object *names = l.refs;
  size_t nnames = json_object_array_length(names);
  bool last = !by_name || nnames <= 1;
  bool used = last && in_use && in_use(l.id, ctx);
  if (used && !force) {
    berr_set(err, BERR_CONFLICT,
             "image '%s' (%.19s) is used by a container; remove the container first, or force to "
             "untag it (its files stay until the container is gone)",
             ref, l.id);
    goto out;
  }
  for (size_t i = 0; i < nnames; i++) {
    const char *n = json_object_get_string(json_object_array_get_idx(names, i));
    if (!by_name || !strcmp(n, name)) {
      json_object_array_add(untagged, json_object_new_string(n));
      json_object_object_del(idx_refs(idx), n);
    }
  }
  bool delete_content = last && !used;
  if (delete_content)
    json_object_object_del(idx_images(idx), manifest);
  if (image_index_save(root, idx, err) < 0)
    goto out;
  if (delete_content) {
    json_object_array_add(removed, json_object_new_string(l.id));
    /* Everything the remaining images still reference stays, and what a
     * pull, import or commit at work has noted in its lease (a layer it found
     * in the store and counts on). */
    keep = json_object_new_object();
    berr_t e2;
    if (image_referenced_set(root, idx, keep, &e2) < 0) {
      /* an unreadable image could share anything: keep all rather than guess */
      ret = 0;
      goto reply;
    }
    if (image_leases_collect(root, keep, &e2) < 0) {
      berthd_log("image.remove %.19s: %s; its files stay for image prune", l.id, e2.msg);
      ret = 0;
      goto reply;
    }
    const char *blobs[2] = {manifest, l.id};
    for (int i = 0; i < 2; i++)
      if (!in_list(keep, blobs[i])) {
        cleanup_free char *p = image_blob_path(root, blobs[i]);
        if (p && unlink(p) < 0 && errno != ENOENT) {
          berr_sys(err, errno, "unlink `%s`", p);
          goto out;
        }
      }
    for (size_t i = 0; i < json_object_array_length(l.layers); i++) {
      const char *blob = json_object_get_string(json_object_object_get(json_object_array_get_idx(l.layers, i), "digest"));
      const char *diff = json_object_get_string(json_object_array_get_idx(l.diff_ids, i));
      if (!in_list(keep, blob)) {
        cleanup_free char *p = image_blob_path(root, blob);
        if (p && unlink(p) < 0 && errno != ENOENT) {
          berr_sys(err, errno, "unlink `%s`", p);
          goto out;
        }
      }
      if (!in_list(keep, diff)) {
        cleanup_free char *d = image_layer_dir(root, diff);
        cleanup_free char *meta = image_layer_meta_path(root, diff);
        if (!d || !meta || rm_rf(d, err) < 0)
          goto out;
        if (unlink(meta) < 0 && errno != ENOENT) {
          berr_sys(err, errno, "unlink `%s`", meta);
          goto out;
        }
      }
    }
  }
  ret = 0;
reply:
  *out = json_object_new_object();
  json_object_object_add(*out, "removed", json_object_get(removed));
  json_object_object_add(*out, "untagged", json_object_get(untagged));
out:
  json_object_put(keep);
  json_object_put(removed);
  json_object_put(untagged);
  image_record_free(&l);
  json_object_put(idx);
  return ret;
}
