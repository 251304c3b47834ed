/* Layer facts. A stack walk goes through the layer dirs base first and keeps
 * the visible view in a path table: one node per path (parent pointer +
 * name, hashed), with the size, type and layer of the entry that is visible
 * there. An entry that lands on a visible path replaces it; a whiteout or an
 * opaque dir removes what it hides; the bytes removed are the lower layer's
 * waste and the upper layer's shadow. Memory: one node per visible path. */
#include "layerfacts.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "cleanup.h"
#include "digest.h"
#include "image.h"
#include "util.h"

#define FACTS_MAX_DEPTH 256
#define FACTS_MAX_NODES 4000000
#define FACTS_PATH_MAX 4096
#define FACTS_CACHE_VERSION 1

enum ftype { FT_FILE, FT_DIR, FT_SYMLINK, FT_CHAR, FT_BLOCK, FT_FIFO, FT_SOCKET };
static const char *const ftype_names[] = {"file", "dir", "symlink", "char", "block", "fifo", "socket"};

static enum ftype ftype_of(mode_t m) {
  switch (m & S_IFMT) {
  case S_IFDIR: return FT_DIR;
  case S_IFLNK: return FT_SYMLINK;
  case S_IFCHR: return FT_CHAR;
  case S_IFBLK: return FT_BLOCK;
  case S_IFIFO: return FT_FIFO;
  case S_IFSOCK: return FT_SOCKET;
  default: return FT_FILE;
  }
}

static bool is_whiteout(const struct stat *st) {
  return S_ISCHR(st->st_mode) && st->st_rdev == makedev(0, 0);
}

/* trusted.overlay.opaque "y" (layer.c and overlayfs both write it). */
static bool is_opaque_fd(int fd) {
  char v[4];
  ssize_t n = fgetxattr(fd, "trusted.overlay.opaque", v, sizeof v);
  return n == 1 && v[0] == 'y';
}

/* ---- directory names -------------------------------------------------------- */

struct names {
  char **v;
  size_t n, cap;
};

static void names_free(struct names *ns) {
  for (size_t i = 0; i < ns->n; i++)
    free(ns->v[i]);
  free(ns->v);
  ns->v = NULL;
  ns->n = ns->cap = 0;
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every name in the directory (not . and ..); what stands for the directory
 * in messages is what. */
static int read_names(int dfd, const char *what, struct names *out, berr_t *err) {
  memset(out, 0, sizeof *out);
  int fd = dup(dfd);
  if (fd < 0)
    return berr_sys(err, errno, "dup the fd of `%s`", what);
  DIR *d = fdopendir(fd);
  if (!d) {
    int e = errno;
    close(fd);
    return berr_sys(err, e, "opendir `%s`", what);
  }
  rewinddir(d);
  for (;;) {
    errno = 0;
    struct dirent *de = readdir(d);
    if (!de) {
      if (errno) {
        int e = errno;
        closedir(d);
        names_free(out);
        return berr_sys(err, e, "readdir `%s`", what);
      }
      break;
    }
    if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
      continue;
    if (out->n == out->cap) {
      size_t cap = out->cap ? out->cap * 2 : 32;
      char **v = realloc(out->v, cap * sizeof *v);
      if (!v) {
        closedir(d);
        names_free(out);
        return berr_sys(err, ENOMEM, "read `%s`", what);
      }
      out->v = v;
      out->cap = cap;
    }
    if (!(out->v[out->n] = strdup(de->d_name))) {
      closedir(d);
      names_free(out);
      return berr_sys(err, ENOMEM, "read `%s`", what);
    }
    out->n++;
  }
  closedir(d);
  return 0;
}

/* ---- the path table ------------------------------------------------------------ */

struct fnode {
  struct fnode *parent, *child, *next, *prev; /* tree: children as a doubly linked list */
  struct fnode *hnext;                        /* hash chain */
  uint64_t size;
  int32_t layer; /* the layer whose entry is visible here */
  int32_t seen;  /* the last layer that had an entry here (-1: none yet) */
  uint8_t type;
  char name[];
};

struct ftable {
  struct fnode **buckets;
  size_t nbuckets, count;
  struct fnode *root;
};

static uint64_t hash_of(const struct fnode *parent, const char *name) {
  uint64_t h = 1469598103934665603ULL ^ ((uint64_t)(uintptr_t)parent * 0x9E3779B97F4A7C15ULL);
  for (const unsigned char *p = (const unsigned char *)name; *p; p++)
    h = (h ^ *p) * 1099511628211ULL;
  return h;
}

static int table_init(struct ftable *t, berr_t *err) {
  memset(t, 0, sizeof *t);
  t->nbuckets = 1024;
  t->buckets = calloc(t->nbuckets, sizeof *t->buckets);
  t->root = calloc(1, sizeof *t->root + 1);
  if (!t->buckets || !t->root) {
    free(t->buckets);
    free(t->root);
    return berr_sys(err, ENOMEM, "layer walk");
  }
  t->root->type = FT_DIR;
  t->root->layer = -1;
  t->root->seen = -1;
  return 0;
}

static void free_tree(struct fnode *n) {
  struct fnode *c = n->child;
  while (c) {
    struct fnode *next = c->next;
    free_tree(c);
    c = next;
  }
  free(n);
}

static void table_free(struct ftable *t) {
  if (t->root)
    free_tree(t->root);
  free(t->buckets);
  memset(t, 0, sizeof *t);
}

static struct fnode *table_get(struct ftable *t, struct fnode *parent, const char *name) {
  for (struct fnode *n = t->buckets[hash_of(parent, name) & (t->nbuckets - 1)]; n; n = n->hnext)
    if (n->parent == parent && !strcmp(n->name, name))
      return n;
  return NULL;
}

static int table_grow(struct ftable *t, berr_t *err) {
  size_t nb = t->nbuckets * 2;
  struct fnode **b = calloc(nb, sizeof *b);
  if (!b)
    return berr_sys(err, ENOMEM, "layer walk");
  for (size_t i = 0; i < t->nbuckets; i++) {
    struct fnode *n = t->buckets[i];
    while (n) {
      struct fnode *next = n->hnext;
      size_t k = hash_of(n->parent, n->name) & (nb - 1);
      n->hnext = b[k];
      b[k] = n;
      n = next;
    }
  }
  free(t->buckets);
  t->buckets = b;
  t->nbuckets = nb;
  return 0;
}

static struct fnode *table_add(struct ftable *t, struct fnode *parent, const char *name, berr_t *err) {
  if (t->count >= FACTS_MAX_NODES) {
    berr_set(err, BERR_LIMIT, "the layers hold more than %d paths; too many to analyse", FACTS_MAX_NODES);
    return NULL;
  }
  if (t->count + 1 > t->nbuckets / 4 * 3 && table_grow(t, err) < 0)
    return NULL;
  size_t len = strlen(name);
  struct fnode *n = calloc(1, sizeof *n + len + 1);
  if (!n) {
    berr_sys(err, ENOMEM, "layer walk");
    return NULL;
  }
  memcpy(n->name, name, len + 1);
  n->parent = parent;
  n->seen = -1;
  n->next = parent->child;
  if (n->next)
    n->next->prev = n;
  parent->child = n;
  size_t k = hash_of(parent, name) & (t->nbuckets - 1);
  n->hnext = t->buckets[k];
  t->buckets[k] = n;
  t->count++;
  return n;
}

/* Unlinks a node without children from the hash and its parent, and frees it. */
static void table_drop(struct ftable *t, struct fnode *n) {
  struct fnode **pp = &t->buckets[hash_of(n->parent, n->name) & (t->nbuckets - 1)];
  while (*pp && *pp != n)
    pp = &(*pp)->hnext;
  if (*pp)
    *pp = n->hnext;
  if (n->prev)
    n->prev->next = n->next;
  else
    n->parent->child = n->next;
  if (n->next)
    n->next->prev = n->prev;
  t->count--;
  free(n);
}

/* ---- the stack walk ------------------------------------------------------------ */

struct walk {
  struct ftable t;
  struct layer_facts *facts;
  int layer;             /* the layer being walked */
  json_object *changes;  /* the top layer's changes, or NULL */
  char path[FACTS_PATH_MAX];
  size_t plen;           /* path is "/a/b" ("" for the root) */
  const char *layer_dir; /* for messages */
};

static void record(struct walk *w, const char *change, uint64_t size) {
  if (!w->changes)
    return;
  json_object *o = json_object_new_object();
  json_object_object_add(o, "path", json_object_new_string(w->plen ? w->path : "/"));
  json_object_object_add(o, "change", json_object_new_string(change));
  json_object_object_add(o, "size", json_object_new_int64((int64_t)size));
  json_object_array_add(w->changes, o);
}

static int path_push(struct walk *w, const char *name, size_t *saved, berr_t *err) {
  *saved = w->plen;
  size_t len = strlen(name);
  if (w->plen + 1 + len + 1 > sizeof w->path)
    return berr_set(err, BERR_LIMIT, "`%s`: a path under `%.200s` is longer than %d bytes",
                    w->layer_dir, w->path, FACTS_PATH_MAX);
  w->path[w->plen++] = '/';
  memcpy(w->path + w->plen, name, len + 1);
  w->plen += len;
  return 0;
}

static void path_pop(struct walk *w, size_t saved) {
  w->plen = saved;
  w->path[saved] = '\0';
}

/* n's entry goes away (replaced or hidden) because of the current layer. */
static uint64_t account_gone(struct walk *w, const struct fnode *n) {
  if (n->type == FT_DIR || n->layer < 0)
    return 0;
  w->facts[w->layer].shadowed += n->size;
  w->facts[n->layer].wasted += n->size;
  return n->size;
}

static uint64_t remove_children(struct walk *w, struct fnode *n);

static uint64_t remove_subtree(struct walk *w, struct fnode *n) {
  uint64_t bytes = remove_children(w, n) + account_gone(w, n);
  table_drop(&w->t, n);
  return bytes;
}

static uint64_t remove_children(struct walk *w, struct fnode *n) {
  uint64_t bytes = 0;
  while (n->child)
    bytes += remove_subtree(w, n->child);
  return bytes;
}

/* After an opaque dir of the current layer was walked: whatever below it
 * the layer did not have itself is hidden. A hidden name counts as one
 * deletion, as if it had its own whiteout. */
static int sweep_opaque(struct walk *w, struct fnode *dir, berr_t *err) {
  struct fnode *c = dir->child;
  while (c) {
    struct fnode *next = c->next;
    size_t saved;
    if (path_push(w, c->name, &saved, err) < 0)
      return -1;
    if (c->seen != w->layer) {
      uint64_t bytes = remove_subtree(w, c);
      w->facts[w->layer].deleted++;
      record(w, "deleted", bytes);
    } else if (c->type == FT_DIR && sweep_opaque(w, c, err) < 0) {
      return -1;
    }
    path_pop(w, saved);
    c = next;
  }
  return 0;
}

static int walk_dir(struct walk *w, int dfd, struct fnode *dir, int depth, berr_t *err);

static int walk_entry(struct walk *w, int dfd, struct fnode *dir, const char *name, int depth,
                      berr_t *err) {
  struct stat st;
  if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
    if (errno == ENOENT) /* a running container's upper dir changes under us */
      return 0;
    return berr_sys(err, errno, "stat `%s%s`", w->layer_dir, w->path);
  }
  struct layer_facts *f = &w->facts[w->layer];
  struct fnode *n = table_get(&w->t, dir, name);
  if (is_whiteout(&st)) {
    if (n && n->seen != w->layer) {
      uint64_t bytes = remove_subtree(w, n);
      f->deleted++;
      record(w, "deleted", bytes);
    }
    return 0;
  }
  enum ftype type = ftype_of(st.st_mode);
  uint64_t size = S_ISREG(st.st_mode) ? (uint64_t)st.st_size : 0;
  f->unpacked += size;
  if (!n) {
    if (!(n = table_add(&w->t, dir, name, err)))
      return -1;
    f->added++;
    record(w, "added", size);
  } else if (n->type == FT_DIR && type == FT_DIR) {
    record(w, "modified", 0); /* docker diff lists the directories that hold changes */
  } else {
    if (n->type == FT_DIR)
      remove_children(w, n);
    account_gone(w, n);
    f->modified++;
    record(w, "modified", size);
  }
  if (!(n->type == FT_DIR && type == FT_DIR)) {
    n->type = (uint8_t)type;
    n->size = size;
    n->layer = w->layer;
  }
  n->seen = w->layer;
  if (type != FT_DIR)
    return 0;
  if (depth + 1 > FACTS_MAX_DEPTH)
    return berr_set(err, BERR_LIMIT, "`%s%s`: directories nest deeper than %d levels", w->layer_dir,
                    w->path, FACTS_MAX_DEPTH);
  cleanup_close int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT || errno == ELOOP || errno == ENOTDIR) /* replaced since the stat */
      return 0;
    return berr_sys(err, errno, "open `%s%s`", w->layer_dir, w->path);
  }
  if (walk_dir(w, fd, n, depth + 1, err) < 0)
    return -1;
  if (is_opaque_fd(fd) && sweep_opaque(w, n, err) < 0)
    return -1;
  return 0;
}

static int walk_dir(struct walk *w, int dfd, struct fnode *dir, int depth, berr_t *err) {
  struct names ns;
  char what[FACTS_PATH_MAX + 256];
  snprintf(what, sizeof what, "%s%s", w->layer_dir, w->path);
  if (read_names(dfd, what, &ns, err) < 0)
    return -1;
  int ret = 0;
  for (size_t i = 0; i < ns.n && ret == 0; i++) {
    size_t saved;
    if ((ret = path_push(w, ns.v[i], &saved, err)) < 0)
      break;
    ret = walk_entry(w, dfd, dir, ns.v[i], depth, err);
    path_pop(w, saved);
  }
  names_free(&ns);
  return ret;
}

int facts_walk(char *const *dirs, size_t n, struct layer_facts *facts, json_object *changes,
               berr_t *err) {
  memset(facts, 0, n * sizeof *facts);
  struct walk *w = calloc(1, sizeof *w);
  if (!w)
    return berr_sys(err, ENOMEM, "layer walk");
  int ret = table_init(&w->t, err);
  w->facts = facts;
  for (size_t i = 0; i < n && ret == 0; i++) {
    w->layer = (int)i;
    w->changes = i + 1 == n ? changes : NULL;
    w->layer_dir = dirs[i];
    w->plen = 0;
    w->path[0] = '\0';
    int fd = open(dirs[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
      ret = berr_sys(err, errno, "open the layer dir `%s`", dirs[i]);
      break;
    }
    ret = walk_dir(w, fd, w->t.root, 0, err);
    if (ret == 0 && is_opaque_fd(fd))
      ret = sweep_opaque(w, w->t.root, err);
    close(fd);
  }
  table_free(&w->t);
  free(w);
  return ret;
}

/* ---- image.layers ------------------------------------------------------------- */

static const char *str_field(json_object *o, const char *key) {
  json_object *v = o ? json_object_object_get(o, key) : NULL;
  return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : "";
}

static char *layer_path(const char *root, const char *diff_id) {
  char *p = NULL;
  if (!digest_is_valid(diff_id) || asprintf(&p, "%s/layers/sha256/%s", root, digest_hex(diff_id)) < 0)
    return NULL;
  return p;
}

static bool is_int(json_object *o, const char *key) {
  json_object *v = json_object_object_get(o, key);
  return v && json_object_is_type(v, json_type_int) && json_object_get_int64(v) >= 0;
}
static bool is_str(json_object *o, const char *key) {
  json_object *v = json_object_object_get(o, key);
  return v && json_object_is_type(v, json_type_string);
}

/* A cached result is used only when it has the shape this code writes. */
static bool cache_valid(json_object *c, const char *id, size_t nlayers) {
  if (!json_object_is_type(c, json_type_object))
    return false;
  json_object *v = json_object_object_get(c, "version");
  json_object *f = json_object_object_get(c, "facts");
  if (!v || !json_object_is_type(v, json_type_int) || json_object_get_int(v) != FACTS_CACHE_VERSION ||
      !json_object_is_type(f, json_type_object))
    return false;
  json_object *eff = json_object_object_get(f, "efficiency");
  if (!is_str(f, "id") || strcmp(json_object_get_string(json_object_object_get(f, "id")), id) ||
      !is_int(f, "size") || !is_int(f, "wastedBytes") ||
      !(json_object_is_type(eff, json_type_double) || json_object_is_type(eff, json_type_int)))
    return false;
  json_object *layers = json_object_object_get(f, "layers");
  json_object *hist = json_object_object_get(f, "history");
  if (!json_object_is_type(layers, json_type_array) || json_object_array_length(layers) != nlayers ||
      !json_object_is_type(hist, json_type_array))
    return false;
  static const char *const ints[] = {"index", "size", "unpackedSize", "shadowedBytes", "wastedBytes"};
  static const char *const strs[] = {"digest", "diffId", "createdBy", "created", "comment"};
  static const char *const counts[] = {"added", "modified", "deleted"};
  for (size_t i = 0; i < nlayers; i++) {
    json_object *l = json_object_array_get_idx(layers, i);
    if (!json_object_is_type(l, json_type_object))
      return false;
    for (size_t k = 0; k < 5; k++)
      if (!is_int(l, ints[k]) || !is_str(l, strs[k]))
        return false;
    json_object *files = json_object_object_get(l, "files");
    if (!json_object_is_type(files, json_type_object))
      return false;
    for (size_t k = 0; k < 3; k++)
      if (!is_int(files, counts[k]))
        return false;
  }
  for (size_t i = 0; i < json_object_array_length(hist); i++) {
    json_object *h = json_object_array_get_idx(hist, i);
    if (!json_object_is_type(h, json_type_object) || !is_str(h, "created") || !is_str(h, "createdBy") ||
        !is_str(h, "comment") || !json_object_is_type(json_object_object_get(h, "emptyLayer"), json_type_boolean))
      return false;
  }
  return true;
}

static json_object *files_json(const struct layer_facts *f) {
  json_object *o = json_object_new_object();
  json_object_object_add(o, "added", json_object_new_int64((int64_t)f->added));
  json_object_object_add(o, "modified", json_object_new_int64((int64_t)f->modified));
  json_object_object_add(o, "deleted", json_object_new_int64((int64_t)f->deleted));
  return o;
}

static json_object *build_layers(json_object *insp, json_object *ilayers, const struct layer_facts *facts,
                                 size_t n) {
  json_object *config = json_object_object_get(insp, "config");
  json_object *history = config ? json_object_object_get(config, "history") : NULL;
  if (!json_object_is_type(history, json_type_array))
    history = NULL;
  size_t nh = history ? json_object_array_length(history) : 0;

  /* history entries without empty_layer belong to the layers, in order */
  json_object **layer_hist = calloc(n ? n : 1, sizeof *layer_hist);
  json_object *hist_out = json_object_new_array();
  size_t next_layer = 0;
  for (size_t i = 0; i < nh; i++) {
    json_object *h = json_object_array_get_idx(history, i);
    if (!json_object_is_type(h, json_type_object))
      continue;
    json_object *el = json_object_object_get(h, "empty_layer");
    bool empty = el && json_object_get_boolean(el);
    json_object *o = json_object_new_object();
    json_object_object_add(o, "created", json_object_new_string(str_field(h, "created")));
    json_object_object_add(o, "createdBy", json_object_new_string(str_field(h, "created_by")));
    json_object_object_add(o, "comment", json_object_new_string(str_field(h, "comment")));
    json_object_object_add(o, "emptyLayer", json_object_new_boolean(empty));
    if (!empty && next_layer < n) {
      if (layer_hist)
        layer_hist[next_layer] = h;
      json_object_object_add(o, "layer", json_object_new_int64((int64_t)next_layer));
      next_layer++;
    } else {
      json_object_object_add(o, "layer", NULL);
    }
    json_object_array_add(hist_out, o);
  }

  uint64_t size = 0, wasted = 0;
  json_object *layers = json_object_new_array();
  for (size_t i = 0; i < n; i++) {
    json_object *il = json_object_array_get_idx(ilayers, i);
    json_object *h = layer_hist ? layer_hist[i] : NULL;
    json_object *o = json_object_new_object();
    json_object_object_add(o, "index", json_object_new_int64((int64_t)i));
    json_object_object_add(o, "digest", json_object_new_string(str_field(il, "digest")));
    json_object_object_add(o, "diffId", json_object_new_string(str_field(il, "diffId")));
    json_object *bs = json_object_object_get(il, "size");
    json_object_object_add(o, "size", json_object_new_int64(bs ? json_object_get_int64(bs) : 0));
    json_object_object_add(o, "unpackedSize", json_object_new_int64((int64_t)facts[i].unpacked));
    json_object_object_add(o, "createdBy", json_object_new_string(str_field(h, "created_by")));
    json_object_object_add(o, "created", json_object_new_string(str_field(h, "created")));
    json_object_object_add(o, "comment", json_object_new_string(str_field(h, "comment")));
    json_object_object_add(o, "files", files_json(&facts[i]));
    json_object_object_add(o, "shadowedBytes", json_object_new_int64((int64_t)facts[i].shadowed));
    json_object_object_add(o, "wastedBytes", json_object_new_int64((int64_t)facts[i].wasted));
    json_object_array_add(layers, o);
    size += facts[i].unpacked;
    wasted += facts[i].wasted;
  }
  free(layer_hist);
  json_object *out = json_object_new_object();
  json_object_object_add(out, "id", json_object_new_string(str_field(insp, "id")));
  json_object_object_add(out, "size", json_object_new_int64((int64_t)size));
  json_object_object_add(out, "wastedBytes", json_object_new_int64((int64_t)wasted));
  double eff = size ? 1.0 - (double)wasted / (double)size : 1.0;
  json_object_object_add(out, "efficiency", json_object_new_double(eff < 0 ? 0 : eff));
  json_object_object_add(out, "layers", layers);
  json_object_object_add(out, "history", hist_out);
  return out;
}

/* cached_only: answer from the cache or say that a walk is needed (1). */
static int image_layers(const char *root, const char *ref, bool cached_only, json_object **out, berr_t *err) {
  json_object *insp = NULL;
  if (image_inspect(root, ref, &insp, err) < 0)
    return -1;
  int ret = -1;
  char **dirs = NULL;
  struct layer_facts *facts = NULL;
  cleanup_free char *cache = NULL, *cache_dir = NULL;
  const char *id = str_field(insp, "id");
  json_object *ilayers = json_object_object_get(insp, "layers");
  size_t n = json_object_is_type(ilayers, json_type_array) ? json_object_array_length(ilayers) : 0;
  if (!digest_is_valid(id)) {
    berr_set(err, BERR_INTERNAL, "image '%s' has a malformed id", ref);
    goto out;
  }
  if (asprintf(&cache_dir, "%s/facts", root) < 0 || asprintf(&cache, "%s/%s.json", cache_dir, digest_hex(id)) < 0) {
    cache_dir = cache = NULL;
    berr_sys(err, ENOMEM, "image.layers");
    goto out;
  }
  /* an image's layers never change: a valid cached walk is the answer */
  json_object *cached = NULL;
  berr_t ignored;
  if (access(cache, F_OK) == 0 && json_read_file(cache, &cached, &ignored) == 0) {
    if (cache_valid(cached, id, n)) {
      *out = json_object_get(json_object_object_get(cached, "facts"));
      json_object_put(cached);
      ret = 0;
      goto out;
    }
    json_object_put(cached);
  }
  if (cached_only) {
    ret = 1;
    goto out;
  }
  dirs = calloc(n + 1, sizeof *dirs);
  facts = calloc(n ? n : 1, sizeof *facts);
  if (!dirs || !facts) {
    berr_sys(err, ENOMEM, "image.layers");
    goto out;
  }
  for (size_t i = 0; i < n; i++) {
    const char *diff = str_field(json_object_array_get_idx(ilayers, i), "diffId");
    if (!(dirs[i] = layer_path(root, diff))) {
      berr_set(err, BERR_INTERNAL, "image '%s': layer %zu has a malformed diffID", ref, i);
      goto out;
    }
  }
  if (facts_walk(dirs, n, facts, NULL, err) < 0) {
    berr_wrap(err, "image '%s'", ref);
    goto out;
  }
  *out = build_layers(insp, ilayers, facts, n);
  /* the cache only saves time: failing to write it is not the caller's failure */
  json_object *c = json_object_new_object();
  json_object_object_add(c, "version", json_object_new_int(FACTS_CACHE_VERSION));
  json_object_object_add(c, "facts", json_object_get(*out));
  if (mkdir_p(cache_dir, 0700, &ignored) == 0)
    json_write_file(cache, c, false, &ignored);
  json_object_put(c);
  ret = 0;
out:
  strv_free(dirs);
  free(facts);
  json_object_put(insp);
  return ret;
}

int facts_image_layers(const char *root, const char *ref, json_object **out, berr_t *err) {
  return image_layers(root, ref, false, out, err);
}

int facts_image_layers_cached(const char *root, const char *ref, json_object **out, berr_t *err) {
  return image_layers(root, ref, true, out, err);
}

/* ---- trees --------------------------------------------------------------------- */

/* The request's path as components (no empty, `.` or `..`), and its clean form. */
static int clean_request_path(const char *in, struct names *comps, char *clean, size_t cl, berr_t *err) {
  memset(comps, 0, sizeof *comps);
  if (!in || !*in)
    in = "/";
  if (strlen(in) >= FACTS_PATH_MAX)
    return berr_set(err, BERR_INVALID, "`path` is longer than %d bytes", FACTS_PATH_MAX - 1);
  size_t n = 0;
  clean[0] = '\0';
  for (const char *p = in; *p;) {
    size_t len = strcspn(p, "/");
    if (len == 2 && p[0] == '.' && p[1] == '.') {
      names_free(comps);
      return berr_set(err, BERR_INVALID, "`path` `%.200s` has a `..` component; give a path from the layer's root", in);
    }
    if (len > 0 && !(len == 1 && p[0] == '.')) {
      if (comps->n == comps->cap) {
        size_t cap = comps->cap ? comps->cap * 2 : 16;
        char **v = realloc(comps->v, cap * sizeof *v);
        if (!v) {
          names_free(comps);
          return berr_sys(err, ENOMEM, "path");
        }
        comps->v = v;
        comps->cap = cap;
      }
      if (!(comps->v[comps->n] = strndup(p, len))) {
        names_free(comps);
        return berr_sys(err, ENOMEM, "path");
      }
      comps->n++;
      n += (size_t)snprintf(clean + n, cl - n, "/%.*s", (int)len, p);
    }
    p += len;
    while (*p == '/')
      p++;
  }
  if (n == 0)
    snprintf(clean, cl, "/");
  return 0;
}

/* The lower dirs that show through at one directory: fds, topmost first. */
struct lower_view {
  int *fds;
  size_t n;
};

static void view_close(struct lower_view *v) {
  for (size_t i = 0; i < v->n; i++)
    close(v->fds[i]);
  free(v->fds);
  v->fds = NULL;
  v->n = 0;
}

/* Descends one component in every lower that shows through, stopping at
 * the first whiteout, non-directory or opaque directory (overlay's lookup). */
static int view_step(struct lower_view *v, const char *name, berr_t *err) {
  int *next = calloc(v->n ? v->n : 1, sizeof *next);
  if (!next)
    return berr_sys(err, ENOMEM, "tree");
  size_t k = 0;
  for (size_t i = 0; i < v->n; i++) {
    struct stat st;
    if (fstatat(v->fds[i], name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
      if (errno == ENOENT)
        continue;
      break;
    }
    if (!S_ISDIR(st.st_mode))
      break;
    int fd = openat(v->fds[i], name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
      break;
    next[k++] = fd;
    if (is_opaque_fd(fd))
      break;
  }
  view_close(v);
  v->fds = next;
  v->n = k;
  return 0;
}

/* What the lower dirs show at name: 1 and *st when something is there. */
static int view_lookup(const struct lower_view *v, const char *name, struct stat *st) {
  for (size_t i = 0; i < v->n; i++) {
    if (fstatat(v->fds[i], name, st, AT_SYMLINK_NOFOLLOW) < 0)
      continue;
    return is_whiteout(st) ? 0 : 1;
  }
  return 0;
}

static json_object *tree_entry(int dfd, const char *name, const struct lower_view *lower) {
  struct stat st, below;
  if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
    return NULL; /* gone since the listing (a running container) */
  bool has_below = view_lookup(lower, name, &below) == 1;
  const char *change;
  const struct stat *shown = &st;
  if (is_whiteout(&st)) {
    change = "deleted";
    if (has_below)
      shown = &below;
  } else if (S_ISDIR(st.st_mode)) {
    int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    bool opaque = fd >= 0 && is_opaque_fd(fd);
    if (fd >= 0)
      close(fd);
    change = opaque ? "opaque" : !has_below ? "added" : S_ISDIR(below.st_mode) ? "unchanged" : "modified";
  } else {
    change = has_below ? "modified" : "added";
  }
  json_object *o = json_object_new_object();
  json_object_object_add(o, "name", json_object_new_string(name));
  bool deleted_unknown = is_whiteout(&st) && !has_below;
  json_object_object_add(o, "type", json_object_new_string(deleted_unknown ? "file" : ftype_names[ftype_of(shown->st_mode)]));
  json_object_object_add(o, "size", json_object_new_int64(S_ISREG(shown->st_mode) ? (int64_t)shown->st_size : 0));
  json_object_object_add(o, "mode", json_object_new_int64(deleted_unknown ? 0 : (int64_t)(shown->st_mode & 07777)));
  json_object_object_add(o, "uid", json_object_new_int64((int64_t)shown->st_uid));
  json_object_object_add(o, "gid", json_object_new_int64((int64_t)shown->st_gid));
  if (S_ISLNK(st.st_mode)) {
    char target[FACTS_PATH_MAX];
    ssize_t n = readlinkat(dfd, name, target, sizeof target - 1);
    if (n >= 0) {
      target[n] = '\0';
      json_object_object_add(o, "linkTarget", json_object_new_string(target));
    }
  }
  json_object_object_add(o, "change", json_object_new_string(change));
  return o;
}

int facts_tree(const char *layer_dir, char *const *lowers, const char *path, int64_t offset,
               int64_t limit, json_object **out, berr_t *err) {
  if (limit <= 0)
    limit = FACTS_TREE_DEFAULT_LIMIT;
  if (limit > FACTS_TREE_MAX_LIMIT)
    return berr_set(err, BERR_INVALID, "`limit` is %" PRId64 "; at most %d", limit, FACTS_TREE_MAX_LIMIT);
  if (offset < 0)
    return berr_set(err, BERR_INVALID, "`offset` must not be negative");
  struct names comps;
  char clean[FACTS_PATH_MAX + 1];
  if (clean_request_path(path, &comps, clean, sizeof clean, err) < 0)
    return -1;
  int ret = -1;
  struct names ns = {0};
  struct lower_view lower = {0};
  int dfd = open(layer_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (dfd < 0) {
    berr_sys(err, errno, "open the layer dir `%s`", layer_dir);
    goto out;
  }
  size_t nl = strv_len(lowers);
  if (!(lower.fds = calloc(nl ? nl : 1, sizeof *lower.fds))) {
    berr_sys(err, ENOMEM, "tree");
    goto out;
  }
  for (size_t i = 0; i < nl; i++) {
    int fd = open(lowers[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
      berr_sys(err, errno, "open the layer dir `%s`", lowers[i]);
      goto out;
    }
    lower.fds[lower.n++] = fd;
  }
  /* component by component, never through a symlink */
  char sofar[FACTS_PATH_MAX + 1] = "";
  for (size_t i = 0; i < comps.n; i++) {
    size_t sl = strlen(sofar);
    snprintf(sofar + sl, sizeof sofar - sl, "/%s", comps.v[i]);
    struct stat st;
    if (fstatat(dfd, comps.v[i], &st, AT_SYMLINK_NOFOLLOW) < 0) {
      if (errno == ENOENT)
        berr_set(err, BERR_NOT_FOUND, "this layer has no `%s`", sofar);
      else
        berr_sys(err, errno, "stat `%s` in the layer", sofar);
      goto out;
    }
    if (S_ISLNK(st.st_mode)) {
      berr_set(err, BERR_INVALID, "`%s` is a symlink in this layer; symlinks are listed, not followed", sofar);
      goto out;
    }
    if (is_whiteout(&st)) {
      berr_set(err, BERR_NOT_FOUND, "`%s` is deleted in this layer (a whiteout)", sofar);
      goto out;
    }
    if (!S_ISDIR(st.st_mode)) {
      berr_set(err, BERR_INVALID, "`%s` is not a directory", sofar);
      goto out;
    }
    int next = openat(dfd, comps.v[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (next < 0) {
      berr_sys(err, errno, "open `%s` in the layer", sofar);
      goto out;
    }
    close(dfd);
    dfd = next;
    /* an opaque dir on the way hides the lowers for everything below it,
     * yet its entries are still compared with them (replaced = modified) */
    if (view_step(&lower, comps.v[i], err) < 0)
      goto out;
  }
  if (read_names(dfd, clean, &ns, err) < 0)
    goto out;
  qsort(ns.v, ns.n, sizeof *ns.v, cmp_str);
  json_object *entries = json_object_new_array();
  for (size_t i = (size_t)offset; i < ns.n && i < (size_t)offset + (size_t)limit; i++) {
    json_object *e = tree_entry(dfd, ns.v[i], &lower);
    if (e)
      json_object_array_add(entries, e);
  }
  *out = json_object_new_object();
  json_object_object_add(*out, "path", json_object_new_string(clean));
  json_object_object_add(*out, "total", json_object_new_int64((int64_t)ns.n));
  json_object_object_add(*out, "offset", json_object_new_int64(offset));
  json_object_object_add(*out, "entries", entries);
  ret = 0;
out:
  if (dfd >= 0)
    close(dfd);
  view_close(&lower);
  names_free(&ns);
  names_free(&comps);
  return ret;
}

int facts_image_tree(const char *root, const char *ref, int64_t layer, const char *path,
                     int64_t offset, int64_t limit, json_object **out, berr_t *err) {
  json_object *insp = NULL;
  if (image_inspect(root, ref, &insp, err) < 0)
    return -1;
  int ret = -1;
  char **lowers = NULL;
  cleanup_free char *dir = NULL;
  json_object *ilayers = json_object_object_get(insp, "layers");
  size_t n = json_object_is_type(ilayers, json_type_array) ? json_object_array_length(ilayers) : 0;
  if (layer < 0 || (uint64_t)layer >= n) {
    berr_set(err, BERR_INVALID, "image '%s' has %zu layers (0..%zu); there is no layer %" PRId64, ref, n,
             n ? n - 1 : 0, layer);
    goto out;
  }
  lowers = calloc((size_t)layer + 1, sizeof *lowers);
  if (!lowers) {
    berr_sys(err, ENOMEM, "image.tree");
    goto out;
  }
  dir = layer_path(root, str_field(json_object_array_get_idx(ilayers, (size_t)layer), "diffId"));
  for (int64_t i = 0; i < layer; i++) /* topmost first */
    lowers[i] = layer_path(root, str_field(json_object_array_get_idx(ilayers, (size_t)(layer - 1 - i)), "diffId"));
  bool ok = dir != NULL;
  for (int64_t i = 0; i < layer; i++)
    ok = ok && lowers[i];
  if (!ok) {
    berr_set(err, BERR_INTERNAL, "image '%s' has a malformed diffID", ref);
    goto out;
  }
  if (facts_tree(dir, lowers, path, offset, limit, out, err) < 0)
    goto out;
  ret = 0;
out:
  if (lowers) {
    for (int64_t i = 0; i < layer; i++)
      free(lowers[i]);
    free(lowers);
  }
  json_object_put(insp);
  return ret;
}

/* ---- container.diff ------------------------------------------------------------ */

/* The container's upper dir against the lower dirs as overlay shows them,
 * looked up on disk: the work is the size of the upper dir (plus what its
 * deletions hide), not the size of the image. Counts as facts_walk gives
 * them for a top layer (the unit tests hold the two to the same answers). */

struct mentry {
  char *name;
  struct stat st;
  size_t layer;
};

static int cmp_mentry(const void *a, const void *b) {
  const struct mentry *x = a, *y = b;
  int c = strcmp(x->name, y->name);
  return c ? c : (x->layer > y->layer) - (x->layer < y->layer);
}

static void mentries_free(struct mentry *m, size_t n) {
  for (size_t i = 0; i < n; i++)
    free(m[i].name);
  free(m);
}

/* What the lower dirs show in one directory: one entry per visible name
 * (the topmost layer's), whiteouts dropped, sorted by name. */
static int view_list(const struct lower_view *v, struct mentry **out, size_t *count, berr_t *err) {
  *out = NULL;
  *count = 0;
  struct mentry *m = NULL;
  size_t n = 0, cap = 0;
  for (size_t i = 0; i < v->n; i++) {
    struct names ns;
    if (read_names(v->fds[i], "a lower layer dir", &ns, err) < 0) {
      mentries_free(m, n);
      return -1;
    }
    for (size_t k = 0; k < ns.n; k++) {
      struct stat st;
      if (fstatat(v->fds[i], ns.v[k], &st, AT_SYMLINK_NOFOLLOW) < 0)
        continue;
      if (n == cap) {
        cap = cap ? cap * 2 : 32;
        struct mentry *nm = realloc(m, cap * sizeof *nm);
        if (!nm) {
          names_free(&ns);
          mentries_free(m, n);
          return berr_sys(err, ENOMEM, "container.diff");
        }
        m = nm;
      }
      m[n].name = ns.v[k];
      ns.v[k] = NULL;
      m[n].st = st;
      m[n].layer = i;
      n++;
    }
    names_free(&ns);
  }
  if (n)
    qsort(m, n, sizeof *m, cmp_mentry);
  bool *keep = calloc(n ? n : 1, sizeof *keep);
  if (!keep) {
    mentries_free(m, n);
    return berr_sys(err, ENOMEM, "container.diff");
  }
  for (size_t i = 0; i < n; i++) /* the topmost layer's entry of a name wins; a whiteout hides it */
    keep[i] = !(i > 0 && !strcmp(m[i - 1].name, m[i].name)) && !is_whiteout(&m[i].st);
  size_t k = 0;
  for (size_t i = 0; i < n; i++) {
    if (keep[i])
      m[k++] = m[i];
    else
      free(m[i].name);
  }
  free(keep);
  *out = m;
  *count = k;
  return 0;
}

/* The lower view one directory down (v stays open). */
static int view_child(const struct lower_view *v, const char *name, struct lower_view *out, berr_t *err) {
  out->fds = calloc(v->n ? v->n : 1, sizeof *out->fds);
  out->n = 0;
  if (!out->fds)
    return berr_sys(err, ENOMEM, "container.diff");
  for (size_t i = 0; i < v->n; i++) {
    struct stat st;
    if (fstatat(v->fds[i], name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
      if (errno == ENOENT)
        continue;
      break;
    }
    if (!S_ISDIR(st.st_mode))
      break;
    int fd = openat(v->fds[i], name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
      break;
    out->fds[out->n++] = fd;
    if (is_opaque_fd(fd))
      break;
  }
  return 0;
}

/* Bytes of the regular files the lower dirs show below name (a dir there)
 * or at it (a file). */
static int view_bytes(const struct lower_view *v, const char *name, const struct stat *st, int depth,
                      uint64_t *bytes, berr_t *err) {
  if (S_ISREG(st->st_mode)) {
    *bytes += (uint64_t)st->st_size;
    return 0;
  }
  if (!S_ISDIR(st->st_mode))
    return 0;
  if (depth > FACTS_MAX_DEPTH)
    return berr_set(err, BERR_LIMIT, "lower layer directories nest deeper than %d levels", FACTS_MAX_DEPTH);
  struct lower_view sub;
  if (view_child(v, name, &sub, err) < 0)
    return -1;
  struct mentry *m;
  size_t n;
  int r = view_list(&sub, &m, &n, err);
  for (size_t i = 0; r == 0 && i < n; i++)
    r = view_bytes(&sub, m[i].name, &m[i].st, depth + 1, bytes, err);
  mentries_free(m, n);
  view_close(&sub);
  return r;
}

struct dwalk {
  struct layer_facts f;
  json_object *changes;
  char path[FACTS_PATH_MAX];
  size_t plen;
  const char *upper;
};

static int dpath_push(struct dwalk *w, const char *name, size_t *saved, berr_t *err) {
  *saved = w->plen;
  size_t len = strlen(name);
  if (w->plen + 1 + len + 1 > sizeof w->path)
    return berr_set(err, BERR_LIMIT, "`%s`: a path under `%.200s` is longer than %d bytes", w->upper, w->path,
                    FACTS_PATH_MAX);
  w->path[w->plen++] = '/';
  memcpy(w->path + w->plen, name, len + 1);
  w->plen += len;
  return 0;
}

static void drecord(struct dwalk *w, const char *change, uint64_t size) {
  json_object *o = json_object_new_object();
  json_object_object_add(o, "path", json_object_new_string(w->plen ? w->path : "/"));
  json_object_object_add(o, "change", json_object_new_string(change));
  json_object_object_add(o, "size", json_object_new_int64((int64_t)size));
  json_object_array_add(w->changes, o);
}

static int diff_dir(struct dwalk *w, int ufd, const struct lower_view *lv, bool opaque_scope, int depth,
                    berr_t *err);

static int diff_entry(struct dwalk *w, int ufd, const struct lower_view *lv, const char *name, bool opaque_scope,
                      int depth, berr_t *err) {
  struct stat st, below;
  if (fstatat(ufd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
    if (errno == ENOENT) /* a running container's upper dir changes under us */
      return 0;
    return berr_sys(err, errno, "stat `%s%s`", w->upper, w->path);
  }
  bool has_below = view_lookup(lv, name, &below) == 1;
  if (is_whiteout(&st)) {
    if (has_below) {
      uint64_t bytes = 0;
      if (view_bytes(lv, name, &below, depth, &bytes, err) < 0)
        return -1;
      w->f.deleted++;
      w->f.shadowed += bytes;
      drecord(w, "deleted", bytes);
    }
    return 0;
  }
  uint64_t size = S_ISREG(st.st_mode) ? (uint64_t)st.st_size : 0;
  w->f.unpacked += size;
  bool dir_over_dir = has_below && S_ISDIR(st.st_mode) && S_ISDIR(below.st_mode);
  if (!has_below) {
    w->f.added++;
    drecord(w, "added", size);
  } else if (dir_over_dir) {
    drecord(w, "modified", 0); /* docker diff lists the directories that hold changes */
  } else {
    uint64_t bytes = 0;
    if (view_bytes(lv, name, &below, depth, &bytes, err) < 0)
      return -1;
    w->f.shadowed += bytes;
    w->f.modified++;
    drecord(w, "modified", size);
  }
  if (!S_ISDIR(st.st_mode))
    return 0;
  if (depth + 1 > FACTS_MAX_DEPTH)
    return berr_set(err, BERR_LIMIT, "`%s%s`: directories nest deeper than %d levels", w->upper, w->path,
                    FACTS_MAX_DEPTH);
  cleanup_close int fd = openat(ufd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT || errno == ELOOP || errno == ENOTDIR) /* replaced since the stat */
      return 0;
    return berr_sys(err, errno, "open `%s%s`", w->upper, w->path);
  }
  struct lower_view sub = {0};
  if (dir_over_dir && view_child(lv, name, &sub, err) < 0)
    return -1;
  int r = diff_dir(w, fd, &sub, opaque_scope || is_opaque_fd(fd), depth + 1, err);
  view_close(&sub);
  return r;
}

static int diff_dir(struct dwalk *w, int ufd, const struct lower_view *lv, bool opaque_scope, int depth,
                    berr_t *err) {
  struct names ns;
  char what[FACTS_PATH_MAX + 256];
  snprintf(what, sizeof what, "%s%s", w->upper, w->path);
  if (read_names(ufd, what, &ns, err) < 0)
    return -1;
  int r = 0;
  for (size_t i = 0; i < ns.n && r == 0; i++) {
    size_t saved;
    if ((r = dpath_push(w, ns.v[i], &saved, err)) < 0)
      break;
    r = diff_entry(w, ufd, lv, ns.v[i], opaque_scope, depth, err);
    w->plen = saved;
    w->path[saved] = '\0';
  }
  /* in an opaque dir, the lower names the upper dir does not have are hidden:
   * one deletion each, as if each had a whiteout */
  if (r == 0 && opaque_scope && lv->n) {
    qsort(ns.v, ns.n, sizeof *ns.v, cmp_str);
    struct mentry *m = NULL;
    size_t n = 0;
    r = view_list(lv, &m, &n, err);
    for (size_t i = 0; r == 0 && i < n; i++) {
      if (bsearch(&m[i].name, ns.v, ns.n, sizeof *ns.v, cmp_str))
        continue;
      size_t saved;
      if ((r = dpath_push(w, m[i].name, &saved, err)) < 0)
        break;
      uint64_t bytes = 0;
      r = view_bytes(lv, m[i].name, &m[i].st, depth, &bytes, err);
      if (r == 0) {
        w->f.deleted++;
        w->f.shadowed += bytes;
        drecord(w, "deleted", bytes);
      }
      w->plen = saved;
      w->path[saved] = '\0';
    }
    mentries_free(m, n);
  }
  names_free(&ns);
  return r;
}

static int by_path(const void *a, const void *b) {
  json_object *x = *(json_object *const *)a, *y = *(json_object *const *)b;
  return strcmp(json_object_get_string(json_object_object_get(x, "path")),
                json_object_get_string(json_object_object_get(y, "path")));
}

int facts_container_diff(const char *upper, char *const *lowers, json_object **out, berr_t *err) {
  struct dwalk *w = calloc(1, sizeof *w);
  if (!w)
    return berr_sys(err, ENOMEM, "container.diff");
  w->upper = upper;
  w->changes = json_object_new_array();
  struct lower_view lv = {0};
  int ret = -1;
  int ufd = open(upper, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (ufd < 0) {
    berr_sys(err, errno, "open the upper dir `%s`", upper);
    goto out;
  }
  size_t nl = strv_len(lowers);
  if (!(lv.fds = calloc(nl ? nl : 1, sizeof *lv.fds))) {
    berr_sys(err, ENOMEM, "container.diff");
    goto out;
  }
  for (size_t i = 0; i < nl; i++) {
    int fd = open(lowers[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
      berr_sys(err, errno, "open the layer dir `%s`", lowers[i]);
      goto out;
    }
    lv.fds[lv.n++] = fd;
  }
  if (diff_dir(w, ufd, &lv, is_opaque_fd(ufd), 0, err) < 0)
    goto out;
  json_object_array_sort(w->changes, by_path);
  size_t total = json_object_array_length(w->changes);
  if (total > FACTS_DIFF_MAX_CHANGES)
    json_object_array_del_idx(w->changes, FACTS_DIFF_MAX_CHANGES, total - FACTS_DIFF_MAX_CHANGES);
  *out = json_object_new_object();
  json_object_object_add(*out, "unpackedSize", json_object_new_int64((int64_t)w->f.unpacked));
  json_object_object_add(*out, "files", files_json(&w->f));
  json_object_object_add(*out, "shadowedBytes", json_object_new_int64((int64_t)w->f.shadowed));
  json_object_object_add(*out, "changes", json_object_get(w->changes));
  json_object_object_add(*out, "totalChanges", json_object_new_int64((int64_t)total));
  ret = 0;
out:
  if (ufd >= 0)
    close(ufd);
  view_close(&lv);
  json_object_put(w->changes);
  free(w);
  return ret;
}
