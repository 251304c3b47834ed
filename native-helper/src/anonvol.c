#include "anonvol.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "server.h"
#include "usermounts.h"
#include "util.h"
#include "volumes.h"

int anonvol_add_image(struct container_spec *s, char *const *paths, berr_t *err) {
  for (size_t i = 0; paths && paths[i]; i++) {
    bool covered = false;
    for (size_t j = 0; j < s->n_mounts && !covered; j++)
      covered = !strcmp(s->mounts[j].target, paths[i]);
    if (covered) /* the user's mount replaces the image's volume */
      continue;
    if (s->n_mounts >= SPEC_MAX_MOUNTS)
      return berr_set(err, BERR_LIMIT, "%zu mounts and the image's volume on `%.200s`: at most %d", s->n_mounts,
                      paths[i], SPEC_MAX_MOUNTS);
    struct mount_spec *nm = realloc(s->mounts, (s->n_mounts + 1) * sizeof *nm);
    if (!nm)
      return berr_sys(err, ENOMEM, "image volumes");
    s->mounts = nm;
    struct mount_spec *m = &nm[s->n_mounts];
    memset(m, 0, sizeof *m);
    if (!(m->target = strdup(paths[i])))
      return berr_sys(err, ENOMEM, "image volumes");
    m->kind = MOUNT_VOLUME;
    m->anonymous = true;
    s->n_mounts++;
  }
  return 0;
}

static int push(char ***v, size_t *n, const char *s) {
  char **nv = realloc(*v, (*n + 2) * sizeof *nv);
  if (!nv)
    return -1;
  *v = nv;
  if (!(nv[*n] = strdup(s)))
    return -1;
  nv[++*n] = NULL;
  return 0;
}

void anonvol_delete(const char *root, char *const *names) {
  for (size_t i = 0; names && names[i]; i++) {
    berr_t e;
    if (volume_exists(root, names[i]) && volume_delete(root, names[i], NULL, &e) < 0)
      berthd_log("anonymous volume %.12s: %s", names[i], e.msg);
  }
}

int anonvol_create(const char *root, struct container_spec *s, char ***made, berr_t *err) {
  size_t n = 0;
  if (!(*made = calloc(1, sizeof **made)))
    return berr_sys(err, ENOMEM, "anonymous volumes");
  for (size_t i = 0; i < s->n_mounts; i++) {
    struct mount_spec *m = &s->mounts[i];
    if (m->kind != MOUNT_VOLUME || !m->anonymous || m->source)
      continue;
    char name[65];
    if (volume_create_ex(root, NULL, false, true, name, NULL, err) < 0) {
      berr_wrap(err, "anonymous volume on `%.200s`", m->target);
      goto fail;
    }
    if (push(made, &n, name) < 0 || !(m->source = strdup(name))) {
      anonvol_delete(root, (char *const[]){name, NULL});
      berr_sys(err, ENOMEM, "anonymous volumes");
      goto fail;
    }
  }
  return 0;
fail:
  anonvol_delete(root, *made);
  strv_free(*made);
  *made = NULL;
  return -1;
}

struct user_probe {
  const char *name;
  bool used;
};

static void probe(struct container *c, void *ctx) {
  struct user_probe *p = ctx;
  if (!p->used && usermounts_uses_volume(ctr_spec(c), p->name))
    p->used = true;
}

void anonvol_remove(struct ctr_store *st, const char *root, const struct container_spec *s) {
  for (size_t i = 0; i < s->n_mounts; i++) {
    const struct mount_spec *m = &s->mounts[i];
    if (m->kind != MOUNT_VOLUME || !m->anonymous || !m->source || !volume_exists(root, m->source))
      continue;
    if (!volume_is_anonymous(root, m->source)) {
      berthd_log("container %.12s: volume '%s' is named, not anonymous: kept", s->id, m->source);
      continue;
    }
    struct user_probe p = {.name = m->source};
    ctr_foreach(st, probe, &p);
    if (p.used) {
      berthd_log("container %.12s: anonymous volume %.12s is still used by another container: kept", s->id,
                 m->source);
      continue;
    }
    berr_t e;
    if (volume_delete(root, m->source, NULL, &e) < 0)
      berthd_log("container %.12s: remove its anonymous volume %.12s: %s", s->id, m->source, e.msg);
  }
}
