#include "spec-pack.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

/* The layout: the struct's bytes (its pointers meaningless), then each
 * pointer's data in a fixed order: argv, env and lowerdirs as a count and
 * strings, workdir as a string, then the mount_spec array's bytes and each
 * mount's source, target and host_path. A string is a u32 length and its
 * bytes; NO_STRING stands for NULL. */
#define NO_STRING UINT32_MAX
#define PACK_MAGIC 0x6b637062u /* "bpck" */

struct packer {
  char *buf;
  size_t len, cap;
  bool oom;
};

static void put(struct packer *p, const void *data, size_t n) {
  if (p->oom)
    return;
  if (p->len + n > p->cap) {
    size_t cap = p->cap ? p->cap : 1024;
    while (cap < p->len + n)
      cap *= 2;
    char *b = realloc(p->buf, cap);
    if (!b) {
      p->oom = true;
      return;
    }
    p->buf = b;
    p->cap = cap;
  }
  memcpy(p->buf + p->len, data, n);
  p->len += n;
}

static void put_u32(struct packer *p, uint32_t v) { put(p, &v, sizeof v); }

static void put_str(struct packer *p, const char *s) {
  if (!s) {
    put_u32(p, NO_STRING);
    return;
  }
  size_t n = strlen(s);
  put_u32(p, (uint32_t)n);
  put(p, s, n);
}

static void put_strv(struct packer *p, char *const *v) {
  if (!v) {
    put_u32(p, NO_STRING);
    return;
  }
  size_t n = strv_len(v);
  put_u32(p, (uint32_t)n);
  for (size_t i = 0; i < n; i++)
    put_str(p, v[i]);
}

int spec_pack(const struct container_spec *s, char **out, size_t *len, berr_t *err) {
  struct packer p = {0};
  put_u32(&p, PACK_MAGIC);
  put(&p, s, sizeof *s);
  put_strv(&p, s->argv);
  put_strv(&p, s->env);
  put_strv(&p, s->lowerdirs);
  put_str(&p, s->workdir);
  if (s->n_mounts && s->mounts)
    put(&p, s->mounts, s->n_mounts * sizeof *s->mounts);
  for (size_t i = 0; i < s->n_mounts && s->mounts; i++) {
    put_str(&p, s->mounts[i].source);
    put_str(&p, s->mounts[i].target);
    put_str(&p, s->mounts[i].host_path);
  }
  if (p.oom) {
    free(p.buf);
    return berr_sys(err, ENOMEM, "pack the spec of container %.12s", s->id);
  }
  *out = p.buf;
  *len = p.len;
  return 0;
}

struct reader {
  const char *buf;
  size_t len, off;
  bool bad;
};

static bool take(struct reader *r, void *out, size_t n) {
  if (r->bad || n > r->len - r->off) {
    r->bad = true;
    return false;
  }
  memcpy(out, r->buf + r->off, n);
  r->off += n;
  return true;
}

/* *out = NULL for NO_STRING; false when cut short or out of memory */
static bool take_str(struct reader *r, char **out) {
  *out = NULL;
  uint32_t n;
  if (!take(r, &n, sizeof n))
    return false;
  if (n == NO_STRING)
    return true;
  if (n > r->len - r->off || !(*out = strndup(r->buf + r->off, n))) {
    r->bad = true;
    return false;
  }
  r->off += n;
  return true;
}

static bool take_strv(struct reader *r, char ***out) {
  *out = NULL;
  uint32_t n;
  if (!take(r, &n, sizeof n))
    return false;
  if (n == NO_STRING)
    return true;
  /* each string takes at least its length's 4 bytes */
  if (n > (r->len - r->off) / sizeof(uint32_t) || !(*out = calloc((size_t)n + 1, sizeof **out))) {
    r->bad = true;
    return false;
  }
  for (uint32_t i = 0; i < n; i++)
    if (!take_str(r, &(*out)[i]) || !(*out)[i]) {
      r->bad = true;
      return false;
    }
  return true;
}

int spec_unpack(struct container_spec *s, const char *buf, size_t len, berr_t *err) {
  struct reader r = {.buf = buf, .len = len};
  uint32_t magic = 0;
  memset(s, 0, sizeof *s);
  if (!take(&r, &magic, sizeof magic) || magic != PACK_MAGIC || !take(&r, s, sizeof *s)) {
    memset(s, 0, sizeof *s);
    return berr_set(err, BERR_INTERNAL, "a packed spec of %zu bytes is not one", len);
  }
  /* the pointers in the struct's bytes are the packer's: none is ours yet */
  size_t n_mounts = s->n_mounts;
  s->argv = s->env = s->lowerdirs = NULL;
  s->workdir = NULL;
  s->mounts = NULL;
  s->n_mounts = 0;
  take_strv(&r, &s->argv);
  take_strv(&r, &s->env);
  take_strv(&r, &s->lowerdirs);
  take_str(&r, &s->workdir);
  if (!r.bad && n_mounts) {
    if (n_mounts > SPEC_MAX_MOUNTS || !(s->mounts = calloc(n_mounts, sizeof *s->mounts)) ||
        !take(&r, s->mounts, n_mounts * sizeof *s->mounts)) {
      r.bad = true;
    } else {
      for (size_t i = 0; i < n_mounts; i++)
        s->mounts[i].source = s->mounts[i].target = s->mounts[i].host_path = NULL;
      s->n_mounts = n_mounts;
      for (size_t i = 0; i < n_mounts && !r.bad; i++) {
        take_str(&r, &s->mounts[i].source);
        take_str(&r, &s->mounts[i].target);
        take_str(&r, &s->mounts[i].host_path);
      }
    }
  }
  if (r.bad || r.off != r.len) {
    spec_free(s);
    memset(s, 0, sizeof *s);
    return berr_set(err, BERR_INTERNAL, "a packed spec of %zu bytes is cut short or malformed", len);
  }
  return 0;
}
