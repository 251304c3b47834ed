/* The image store (layout in image.h). Writers take images.lock; an import
 * extracts into tmp/ without the lock and takes it only to commit: blobs and
 * the layer dir are moved in first, images.json is written last, so a failed
 * import never shows and leaves nothing but tmp/ debris. */
#include "image.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
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
#include "layer.h"
#include "util.h"

#define REF_MAX 256
#define MEDIA_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define MEDIA_CONFIG "application/vnd.oci.image.config.v1+json"
#define DEFAULT_PATH "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#define JSON_FLAGS (JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)

static int64_t max_layer_bytes = LAYER_DEFAULT_MAX_BYTES;

void image_set_max_layer_size(int64_t bytes) {
  max_layer_bytes = bytes > 0 ? bytes : LAYER_DEFAULT_MAX_BYTES;
}

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

static char *blob_path(const char *root, const char *digest) {
  return pathf("%s/blobs/sha256/%s", root, digest_hex(digest));
}
static char *layer_dir(const char *root, const char *diff_id) {
  return pathf("%s/layers/sha256/%s", root, digest_hex(diff_id));
}
static char *layer_meta_path(const char *root, const char *diff_id) {
  return pathf("%s/layers/sha256/%s.json", root, digest_hex(diff_id));
}

/* ---- lock and index ------------------------------------------------------- */

static int lock_store(const char *root, int how, berr_t *err) {
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

/* images.json with both objects present. */
static int load_index(const char *root, json_object **out, berr_t *err) {
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

static int save_index(const char *root, json_object *idx, berr_t *err) {
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

static bool name_component_ok(const char *s, size_t n, bool registry) {
  if (n == 0)
    return false;
  if (registry) /* host[:port] */
    for (size_t i = 0; i < n; i++)
      if (!isalnum((unsigned char)s[i]) && s[i] != '.' && s[i] != '-' && s[i] != ':')
        return false;
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

/* NAME[:TAG] -> "name:tag" (tag latest by default), docker's grammar: lower
 * case path components, an optional registry host[:port] first. */
static int normalize_ref(const char *in, char out[REF_MAX], berr_t *err) {
  size_t n = strlen(in);
  if (n == 0 || n >= REF_MAX - 8)
    return berr_set(err, BERR_INVALID, "image reference must be 1..%d characters", REF_MAX - 9);
  if (strchr(in, '@'))
    return berr_set(err, BERR_INVALID, "image reference `%s`: digest references are not supported here", in);
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
  bool ok = name_len > 0;
  size_t start = 0, comp = 0;
  for (size_t i = 0; ok && i <= name_len; i++) {
    if (i == name_len || in[i] == '/') {
      bool more = i < name_len;
      /* the first of several components may be a registry host */
      bool registry = comp == 0 && more &&
                      (memchr(in + start, '.', i - start) || memchr(in + start, ':', i - start) ||
                       (i - start == 9 && !strncmp(in + start, "localhost", 9)));
      ok = name_component_ok(in + start, i - start, registry);
      start = i + 1;
      comp++;
    }
  }
  if (!ok)
    return berr_set(err, BERR_INVALID,
                    "image reference `%s`: a name is lower-case letters, digits and . _ - "
                    "separated by /",
                    in);
  char name[REF_MAX];
  snprintf(name, sizeof name, "%.*s", (int)name_len, in);
  if (is_hex(name, 64, 64))
    return berr_set(err, BERR_INVALID, "image reference `%s`: a 64-hex name would read as an id", in);
  snprintf(out, REF_MAX, "%s:%s", name, tag);
  return 0;
}

static int not_found(berr_t *err, const char *ref) {
  return berr_set(err, BERR_NOT_FOUND,
                  "no image '%s': pull or import it first (berth images lists what is here)", ref);
}

/* ref -> manifest digest. *by_name says whether a tag matched (remove then
 * drops only that tag). */
static int resolve_in(json_object *idx, const char *ref, char manifest[DIGEST_STR_LEN + 1],
                      char name_out[REF_MAX], bool *by_name, berr_t *err) {
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
  char name[REF_MAX];
  berr_t ignored;
  if (normalize_ref(ref, name, &ignored) == 0) {
    json_object *m = json_object_object_get(idx_refs(idx), name);
    if (m && json_object_is_type(m, json_type_string) && digest_is_valid(json_object_get_string(m))) {
      snprintf(manifest, DIGEST_STR_LEN + 1, "%s", json_object_get_string(m));
      if (name_out)
        snprintf(name_out, REF_MAX, "%s", name);
      *by_name = true;
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

struct loaded {
  char manifest_digest[DIGEST_STR_LEN + 1];
  char id[DIGEST_STR_LEN + 1];
  json_object *manifest, *config;
  json_object *layers;   /* manifest.layers, base first */
  json_object *diff_ids; /* config.rootfs.diff_ids, base first */
};

static void loaded_free(struct loaded *l) {
  json_object_put(l->manifest);
  json_object_put(l->config);
  l->manifest = l->config = NULL;
}

static int read_blob_json(const char *root, const char *digest, json_object **out, berr_t *err) {
  cleanup_free char *p = blob_path(root, digest);
  if (!p)
    return berr_sys(err, ENOMEM, "blob path");
  if (json_read_file(p, out, err) < 0)
    return berr_wrap(err, "read blob %s", digest);
  return 0;
}

static int load_image(const char *root, const char *manifest_digest, struct loaded *l, berr_t *err) {
  memset(l, 0, sizeof *l);
  snprintf(l->manifest_digest, sizeof l->manifest_digest, "%s", manifest_digest);
  if (read_blob_json(root, manifest_digest, &l->manifest, err) < 0)
    return -1;
  json_object *cfg = json_object_object_get(l->manifest, "config");
  json_object *cd = cfg ? json_object_object_get(cfg, "digest") : NULL;
  l->layers = json_object_object_get(l->manifest, "layers");
  if (!cd || !digest_is_valid(json_object_get_string(cd)) ||
      !json_object_is_type(l->layers, json_type_array)) {
    loaded_free(l);
    return berr_set(err, BERR_INTERNAL, "manifest %s is malformed", manifest_digest);
  }
  snprintf(l->id, sizeof l->id, "%s", json_object_get_string(cd));
  if (read_blob_json(root, l->id, &l->config, err) < 0) {
    loaded_free(l);
    return -1;
  }
  json_object *rootfs = json_object_object_get(l->config, "rootfs");
  l->diff_ids = rootfs ? json_object_object_get(rootfs, "diff_ids") : NULL;
  size_t n = json_object_array_length(l->layers);
  if (!json_object_is_type(l->diff_ids, json_type_array) || json_object_array_length(l->diff_ids) != n) {
    loaded_free(l);
    return berr_set(err, BERR_INTERNAL, "config %s: rootfs.diff_ids does not match the manifest's layers", l->id);
  }
  for (size_t i = 0; i < n; i++)
    if (!digest_is_valid(json_object_get_string(json_object_array_get_idx(l->diff_ids, i))) ||
        !digest_is_valid(json_object_get_string(
            json_object_object_get(json_object_array_get_idx(l->layers, i), "digest")))) {
      loaded_free(l);
      return berr_set(err, BERR_INTERNAL, "image %s: layer %zu has a malformed digest", l->id, i);
    }
  return 0;
}

static int64_t layer_unpacked_size(const char *root, const char *diff_id) {
  cleanup_free char *p = layer_meta_path(root, diff_id);
  json_object *meta = NULL;
  berr_t ignored;
  if (!p || json_read_file(p, &meta, &ignored) < 0)
    return -1;
  json_object *v = json_object_object_get(meta, "unpackedSize");
  int64_t n = v ? json_object_get_int64(v) : -1;
  json_object_put(meta);
  return n;
}

static json_object *refs_of(json_object *idx, const char *manifest) {
  json_object *a = json_object_new_array();
  json_object_object_foreach(idx_refs(idx), name, m) {
    if (json_object_is_type(m, json_type_string) && !strcmp(json_object_get_string(m), manifest))
      json_object_array_add(a, json_object_new_string(name));
  }
  json_object_array_sort(a, NULL);
  return a;
}

static const char *created_of(const struct loaded *l) {
  json_object *c = json_object_object_get(l->config, "created");
  return c && json_object_is_type(c, json_type_string) ? json_object_get_string(c) : "";
}

/* Image size: what its layers unpack to (the blob sizes when unknown). */
static int64_t size_of(const char *root, const struct loaded *l) {
  int64_t total = 0;
  size_t n = json_object_array_length(l->layers);
  for (size_t i = 0; i < n; i++) {
    int64_t u = layer_unpacked_size(root, json_object_get_string(json_object_array_get_idx(l->diff_ids, i)));
    if (u < 0)
      u = json_object_get_int64(json_object_object_get(json_object_array_get_idx(l->layers, i), "size"));
    total += u;
  }
  return total;
}

static json_object *summary_of(const char *root, json_object *idx, const struct loaded *l) {
  json_object *o = json_object_new_object();
  json_object_object_add(o, "id", json_object_new_string(l->id));
  json_object_object_add(o, "refs", refs_of(idx, l->manifest_digest));
  json_object_object_add(o, "created", json_object_new_string(created_of(l)));
  json_object_object_add(o, "size", json_object_new_int64(size_of(root, l)));
  json_object_object_add(o, "layers", json_object_new_int64((int64_t)json_object_array_length(l->layers)));
  return o;
}

/* ---- public: read side ----------------------------------------------------- */

int image_resolve(const char *root, const char *ref, struct image *out, berr_t *err) {
  memset(out, 0, sizeof *out);
  cleanup_close int lock = lock_store(root, LOCK_SH, err);
  if (lock < 0)
    return -1;
  json_object *idx = NULL;
  if (load_index(root, &idx, err) < 0)
    return -1;
  char manifest[DIGEST_STR_LEN + 1];
  bool by_name;
  struct loaded l;
  int r = resolve_in(idx, ref, manifest, NULL, &by_name, err);
  json_object_put(idx);
  if (r < 0 || load_image(root, manifest, &l, err) < 0)
    return -1;
  size_t n = json_object_array_length(l.diff_ids);
  char **dirs = calloc(n + 1, sizeof *dirs);
  if (!dirs) {
    loaded_free(&l);
    return berr_sys(err, ENOMEM, "resolve image");
  }
  for (size_t i = 0; i < n; i++) {
    /* overlay wants the topmost layer first */
    const char *diff = json_object_get_string(json_object_array_get_idx(l.diff_ids, n - 1 - i));
    dirs[i] = layer_dir(root, diff);
    struct stat st;
    if (!dirs[i] || stat(dirs[i], &st) < 0 || !S_ISDIR(st.st_mode)) {
      int e = dirs[i] ? errno : ENOMEM;
      char what[DIGEST_STR_LEN + 1];
      snprintf(what, sizeof what, "%s", diff);
      strv_free(dirs);
      loaded_free(&l);
      return berr_sys(err, e, "image '%s': layer %s is missing from the store; remove and import it again",
                      ref, what);
    }
  }
  snprintf(out->id, sizeof out->id, "%s", l.id);
  snprintf(out->manifest_digest, sizeof out->manifest_digest, "%s", l.manifest_digest);
  out->config = json_object_get(l.config);
  out->layer_dirs = dirs;
  loaded_free(&l);
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
  cleanup_close int lock = lock_store(root, LOCK_SH, err);
  if (lock < 0)
    return -1;
  json_object *idx = NULL;
  if (load_index(root, &idx, err) < 0)
    return -1;
  json_object *arr = json_object_new_array();
  json_object_object_foreach(idx_images(idx), m, rec) {
    (void)rec;
    struct loaded l;
    if (!digest_is_valid(m) || load_image(root, m, &l, err) < 0) {
      json_object_put(arr);
      json_object_put(idx);
      return -1;
    }
    json_object_array_add(arr, summary_of(root, idx, &l));
    loaded_free(&l);
  }
  json_object_put(idx);
  json_object_array_sort(arr, by_created_desc);
  *out = json_object_new_object();
  json_object_object_add(*out, "images", arr);
  return 0;
}

int image_inspect(const char *root, const char *ref, json_object **out, berr_t *err) {
  cleanup_close int lock = lock_store(root, LOCK_SH, err);
  if (lock < 0)
    return -1;
  json_object *idx = NULL;
  if (load_index(root, &idx, err) < 0)
    return -1;
  char manifest[DIGEST_STR_LEN + 1];
  bool by_name;
  struct loaded l;
  if (resolve_in(idx, ref, manifest, NULL, &by_name, err) < 0 || load_image(root, manifest, &l, err) < 0) {
    json_object_put(idx);
    return -1;
  }
  json_object *o = json_object_new_object();
  json_object_object_add(o, "id", json_object_new_string(l.id));
  json_object_object_add(o, "refs", refs_of(idx, manifest));
  json_object_object_add(o, "manifestDigest", json_object_new_string(manifest));
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
    int64_t u = layer_unpacked_size(root, diff);
    json_object_object_add(e, "unpackedSize", u >= 0 ? json_object_new_int64(u) : NULL);
    json_object_array_add(layers, e);
  }
  json_object_object_add(o, "layers", layers);
  loaded_free(&l);
  json_object_put(idx);
  *out = o;
  return 0;
}

/* ---- store init ----------------------------------------------------------- */

int image_store_init(const char *root, berr_t *err) {
  const char *subdirs[] = {"", "/blobs", "/blobs/sha256", "/layers", "/layers/sha256"};
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
  cleanup_close int lock = lock_store(root, LOCK_EX, err);
  if (lock < 0)
    return -1;
  if (rm_rf(tmp, err) < 0)
    return berr_wrap(err, "clear the import area");
  if (mkdir(tmp, 0700) < 0)
    return berr_sys(err, errno, "mkdir `%s`", tmp);
  json_object *idx = NULL;
  if (load_index(root, &idx, err) < 0)
    return berr_wrap(err, "image store `%s`", root);
  cleanup_free char *ip = pathf("%s/images.json", root);
  int r = 0;
  if (ip && access(ip, F_OK) < 0)
    r = save_index(root, idx, err);
  json_object_put(idx);
  return r;
}

/* ---- import --------------------------------------------------------------- */

static int check_strings(json_object *v, const char *field, bool env, berr_t *err) {
  if (!v)
    return 0;
  if (!json_object_is_type(v, json_type_array) || json_object_array_length(v) > 4096)
    return berr_set(err, BERR_BAD_REQUEST, "config.%s must be an array of strings", field);
  for (size_t i = 0; i < json_object_array_length(v); i++) {
    json_object *s = json_object_array_get_idx(v, i);
    if (!json_object_is_type(s, json_type_string) || json_object_get_string_len(s) > 65536)
      return berr_set(err, BERR_BAD_REQUEST, "config.%s[%zu] must be a string", field, i);
    const char *str = json_object_get_string(s);
    if (env && (!strchr(str, '=') || str[0] == '='))
      return berr_set(err, BERR_BAD_REQUEST, "config.Env[%zu] `%.60s` is not KEY=VALUE", i, str);
  }
  return 0;
}

/* The OCI config's "config" object from the request's fields. */
static int build_exec_config(json_object *req, json_object **out, berr_t *err) {
  if (req && !json_object_is_type(req, json_type_object))
    return berr_set(err, BERR_BAD_REQUEST, "`config` must be an object");
  json_object *c = json_object_new_object();
  if (req) {
    json_object_object_foreach(req, key, val) {
      int r = 0;
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
      } else {
        r = berr_set(err, BERR_BAD_REQUEST,
                     "config: unknown field `%.60s` (Cmd, Entrypoint, Env, WorkingDir, User)", key);
      }
      if (r < 0) {
        json_object_put(c);
        return -1;
      }
      if (val)
        json_object_object_add(c, key, json_object_get(val));
    }
  }
  /* A PATH when the caller gave none, as docker import does. */
  json_object *env = json_object_object_get(c, "Env");
  bool has_path = false;
  for (size_t i = 0; env && i < json_object_array_length(env); i++)
    has_path |= !strncmp(json_object_get_string(json_object_array_get_idx(env, i)), "PATH=", 5);
  if (!has_path) {
    json_object *ne = json_object_new_array();
    json_object_array_add(ne, json_object_new_string(DEFAULT_PATH));
    for (size_t i = 0; env && i < json_object_array_length(env); i++)
      json_object_array_add(ne, json_object_get(json_object_array_get_idx(env, i)));
    json_object_object_add(c, "Env", ne);
  }
  *out = c;
  return 0;
}

static const char *oci_arch(void) {
  struct utsname u;
  if (uname(&u) < 0)
    return "amd64";
  static const struct { const char *machine, *arch; } map[] = {
      {"x86_64", "amd64"}, {"aarch64", "arm64"}, {"armv7l", "arm"},  {"armv6l", "arm"},
      {"i686", "386"},     {"i386", "386"},      {"ppc64le", "ppc64le"}, {"s390x", "s390x"},
      {"riscv64", "riscv64"}, {"loongarch64", "loong64"}};
  for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
    if (!strcmp(u.machine, map[i].machine))
      return map[i].arch;
  static char other[sizeof u.machine];
  snprintf(other, sizeof other, "%s", u.machine);
  return other;
}

static int write_new_file(const char *path, const char *data, size_t len, berr_t *err) {
  cleanup_close int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0)
    return berr_sys(err, errno, "create `%s`", path);
  for (size_t off = 0; off < len;) {
    ssize_t w = write(fd, data + off, len - off);
    if (w < 0 && errno == EINTR)
      continue;
    if (w < 0)
      return berr_sys(err, errno, "write `%s`", path);
    off += (size_t)w;
  }
  if (fsync(fd) < 0)
    return berr_sys(err, errno, "fsync `%s`", path);
  return 0;
}

/* What the commit added, so a failure can take it back. */
struct added {
  char *paths[8];
  int n;
};

static void added_push(struct added *a, char *p) {
  if (a->n < 8)
    a->paths[a->n++] = p;
  else
    free(p);
}

static void added_rollback(struct added *a, bool remove) {
  for (int i = 0; i < a->n; i++) {
    if (remove) {
      berr_t ignored;
      rm_rf(a->paths[i], &ignored);
    }
    free(a->paths[i]);
  }
  a->n = 0;
}

/* Moves tmp_path to dst unless dst exists (content-addressed: same bytes). */
static int move_in(const char *tmp_path, const char *dst, struct added *a, berr_t *err) {
  struct stat st;
  if (lstat(dst, &st) == 0) {
    berr_t ignored;
    rm_rf(tmp_path, &ignored);
    return 0;
  }
  if (rename(tmp_path, dst) < 0)
    return berr_sys(err, errno, "rename `%s` to `%s`", tmp_path, dst);
  added_push(a, strdup(dst));
  return 0;
}

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

int image_import_rootfs(const char *root, const char *tar_path, const char *ref,
                        json_object *config, json_object **summary, berr_t *err) {
  char name[REF_MAX];
  if (!tar_path || tar_path[0] != '/')
    return berr_set(err, BERR_BAD_REQUEST, "`path` must be an absolute path on the helper's machine");
  if (!ref || normalize_ref(ref, name, err) < 0)
    return ref ? -1 : berr_set(err, BERR_BAD_REQUEST, "`ref` is required");
  json_object *exec_cfg = NULL;
  if (build_exec_config(config, &exec_cfg, err) < 0)
    return -1;

  int ret = -1;
  struct added added = {0};
  json_object *cfg = NULL, *manifest = NULL, *idx = NULL;
  int lock = -1;
  char rnd[33];
  cleanup_free char *work = NULL, *rootfs = NULL, *blob_tmp = NULL, *cfg_tmp = NULL, *man_tmp = NULL,
                    *meta_tmp = NULL;
  if (random_hex(rnd, 16, err) < 0)
    goto out;
  work = pathf("%s/tmp/import-%s", root, rnd);
  rootfs = pathf("%s/rootfs", work);
  blob_tmp = pathf("%s/layer.blob", work);
  cfg_tmp = pathf("%s/config.json", work);
  man_tmp = pathf("%s/manifest.json", work);
  meta_tmp = pathf("%s/layer.json", work);
  if (!work || !rootfs || !blob_tmp || !cfg_tmp || !man_tmp || !meta_tmp) {
    berr_sys(err, ENOMEM, "import");
    goto out;
  }
  if (mkdir(work, 0700) < 0) {
    berr_sys(err, errno, "mkdir `%s`", work);
    goto out;
  }
  if (mkdir(rootfs, 0755) < 0) {
    berr_sys(err, errno, "mkdir `%s`", rootfs);
    goto out;
  }

  struct layer_result lr;
  if (layer_unpack(tar_path, rootfs, blob_tmp, max_layer_bytes, &lr, err) < 0)
    goto out;

  /* config and manifest */
  char now[40];
  now_rfc3339(now);
  cfg = json_object_new_object();
  json_object_object_add(cfg, "created", json_object_new_string(now));
  json_object_object_add(cfg, "architecture", json_object_new_string(oci_arch()));
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
  size_t cfg_len = 0;
  const char *cfg_s = json_object_to_json_string_length(cfg, JSON_FLAGS, &cfg_len);
  char cfg_digest[DIGEST_STR_LEN + 1];
  if (digest_buffer(cfg_s, cfg_len, cfg_digest, err) < 0 || write_new_file(cfg_tmp, cfg_s, cfg_len, err) < 0)
    goto out;

  manifest = json_object_new_object();
  json_object_object_add(manifest, "schemaVersion", json_object_new_int(2));
  json_object_object_add(manifest, "mediaType", json_object_new_string(MEDIA_MANIFEST));
  json_object *cdesc = json_object_new_object();
  json_object_object_add(cdesc, "mediaType", json_object_new_string(MEDIA_CONFIG));
  json_object_object_add(cdesc, "digest", json_object_new_string(cfg_digest));
  json_object_object_add(cdesc, "size", json_object_new_int64((int64_t)cfg_len));
  json_object_object_add(manifest, "config", cdesc);
  json_object *ldesc = json_object_new_object();
  json_object_object_add(ldesc, "mediaType", json_object_new_string(layer_media_type(lr.compression)));
  json_object_object_add(ldesc, "digest", json_object_new_string(lr.blob_digest));
  json_object_object_add(ldesc, "size", json_object_new_int64((int64_t)lr.blob_size));
  json_object *layers = json_object_new_array();
  json_object_array_add(layers, ldesc);
  json_object_object_add(manifest, "layers", layers);
  size_t man_len = 0;
  const char *man_s = json_object_to_json_string_length(manifest, JSON_FLAGS, &man_len);
  char man_digest[DIGEST_STR_LEN + 1];
  if (digest_buffer(man_s, man_len, man_digest, err) < 0 || write_new_file(man_tmp, man_s, man_len, err) < 0)
    goto out;

  json_object *meta = json_object_new_object();
  json_object_object_add(meta, "digest", json_object_new_string(lr.blob_digest));
  json_object_object_add(meta, "size", json_object_new_int64((int64_t)lr.blob_size));
  json_object_object_add(meta, "unpackedSize", json_object_new_int64((int64_t)lr.unpacked_size));
  json_object_object_add(meta, "mediaType", json_object_new_string(layer_media_type(lr.compression)));
  size_t meta_len = 0;
  const char *meta_s = json_object_to_json_string_length(meta, JSON_FLAGS, &meta_len);
  int mr = write_new_file(meta_tmp, meta_s, meta_len, err);
  json_object_put(meta);
  if (mr < 0)
    goto out;

  /* commit: content first, the name last */
  if ((lock = lock_store(root, LOCK_EX, err)) < 0)
    goto out;
  {
    cleanup_free char *b_layer = blob_path(root, lr.blob_digest);
    cleanup_free char *b_cfg = blob_path(root, cfg_digest);
    cleanup_free char *b_man = blob_path(root, man_digest);
    cleanup_free char *l_meta = layer_meta_path(root, lr.diff_id);
    cleanup_free char *l_dir = layer_dir(root, lr.diff_id);
    if (!b_layer || !b_cfg || !b_man || !l_meta || !l_dir) {
      berr_sys(err, ENOMEM, "import");
      goto out;
    }
    if (move_in(blob_tmp, b_layer, &added, err) < 0 || move_in(cfg_tmp, b_cfg, &added, err) < 0 ||
        move_in(man_tmp, b_man, &added, err) < 0 || move_in(meta_tmp, l_meta, &added, err) < 0 ||
        move_in(rootfs, l_dir, &added, err) < 0) /* an existing layer dir wins: dedupe */
      goto out;
  }
  if (load_index(root, &idx, err) < 0)
    goto out;
  json_object_object_add(idx_refs(idx), name, json_object_new_string(man_digest));
  json_object *rec = json_object_new_object();
  json_object_object_add(rec, "id", json_object_new_string(cfg_digest));
  json_object_object_add(idx_images(idx), man_digest, rec);
  if (save_index(root, idx, err) < 0)
    goto out;
  added_rollback(&added, false); /* committed: keep everything */

  if (summary) {
    struct loaded l;
    if (load_image(root, man_digest, &l, err) < 0)
      goto out;
    *summary = summary_of(root, idx, &l);
    loaded_free(&l);
  }
  ret = 0;
out:
  added_rollback(&added, true);
  if (lock >= 0)
    close(lock);
  if (work) {
    berr_t ignored;
    rm_rf(work, &ignored);
  }
  json_object_put(exec_cfg);
  json_object_put(cfg);
  json_object_put(manifest);
  json_object_put(idx);
  return ret;
}

/* ---- remove --------------------------------------------------------------- */

static bool in_list(json_object *set, const char *s) {
  return json_object_object_get_ex(set, s, NULL);
}

int image_remove(const char *root, const char *ref, bool force, image_in_use_fn in_use, void *ctx,
                 json_object **out, berr_t *err) {
  cleanup_close int lock = lock_store(root, LOCK_EX, err);
  if (lock < 0)
    return -1;
  json_object *idx = NULL;
  if (load_index(root, &idx, err) < 0)
    return -1;
  int ret = -1;
  char manifest[DIGEST_STR_LEN + 1], name[REF_MAX];
  bool by_name;
  struct loaded l = {0};
  json_object *keep = NULL, *removed = json_object_new_array(), *untagged = json_object_new_array();
  if (resolve_in(idx, ref, manifest, name, &by_name, err) < 0 || load_image(root, manifest, &l, err) < 0)
    goto out;

  /* By name: drop that tag. By id: drop every tag. The content goes when no
   * tag is left and no container uses it. */
  json_object *names = refs_of(idx, manifest);
  size_t nnames = json_object_array_length(names);
  bool last = !by_name || nnames <= 1;
  bool used = last && in_use && in_use(l.id, ctx);
  if (used && !force) {
    json_object_put(names);
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
  json_object_put(names);
  bool delete_content = last && !used;
  if (delete_content)
    json_object_object_del(idx_images(idx), manifest);
  if (save_index(root, idx, err) < 0)
    goto out;
  if (delete_content) {
    json_object_array_add(removed, json_object_new_string(l.id));
    /* Everything the remaining images still reference stays. */
    keep = json_object_new_object();
    json_object_object_foreach(idx_images(idx), m, rec) {
      (void)rec;
      struct loaded o;
      json_object_object_add(keep, m, NULL);
      if (load_image(root, m, &o, err) < 0) {
        /* an unreadable image could share anything: keep all rather than guess */
        json_object_put(keep);
        keep = NULL;
        ret = 0;
        goto reply;
      }
      json_object_object_add(keep, o.id, NULL);
      for (size_t i = 0; i < json_object_array_length(o.layers); i++) {
        json_object_object_add(keep, json_object_get_string(json_object_object_get(json_object_array_get_idx(o.layers, i), "digest")), NULL);
        json_object_object_add(keep, json_object_get_string(json_object_array_get_idx(o.diff_ids, i)), NULL);
      }
      loaded_free(&o);
    }
    const char *blobs[2] = {manifest, l.id};
    for (int i = 0; i < 2; i++)
      if (!in_list(keep, blobs[i])) {
        cleanup_free char *p = blob_path(root, blobs[i]);
        if (p && unlink(p) < 0 && errno != ENOENT) {
          berr_sys(err, errno, "unlink `%s`", p);
          goto out;
        }
      }
    for (size_t i = 0; i < json_object_array_length(l.layers); i++) {
      const char *blob = json_object_get_string(json_object_object_get(json_object_array_get_idx(l.layers, i), "digest"));
      const char *diff = json_object_get_string(json_object_array_get_idx(l.diff_ids, i));
      if (!in_list(keep, blob)) {
        cleanup_free char *p = blob_path(root, blob);
        if (p && unlink(p) < 0 && errno != ENOENT) {
          berr_sys(err, errno, "unlink `%s`", p);
          goto out;
        }
      }
      if (!in_list(keep, diff)) {
        cleanup_free char *d = layer_dir(root, diff);
        cleanup_free char *meta = layer_meta_path(root, diff);
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
  loaded_free(&l);
  json_object_put(idx);
  return ret;
}
