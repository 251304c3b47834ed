/* spec_pack / spec_unpack (spec-pack.c): a full spec, the fields filled when
 * a container starts included, comes back field for field; a buffer cut short
 * anywhere or with a wrong count is refused and leaves nothing allocated. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spec-pack.h"
#include "tap.h"
#include "util.h"

static char *dup_or_die(const char *s) {
  char *d = strdup(s);
  if (!d)
    abort();
  return d;
}

static char **strv_of(const char *const *v) {
  size_t n = 0;
  while (v[n])
    n++;
  char **out = calloc(n + 1, sizeof *out);
  for (size_t i = 0; i < n; i++)
    out[i] = dup_or_die(v[i]);
  return out;
}

static bool strv_eq(char *const *a, char *const *b) {
  if (!a || !b)
    return a == b;
  size_t i = 0;
  for (; a[i] && b[i]; i++)
    if (strcmp(a[i], b[i]))
      return false;
  return !a[i] && !b[i];
}

static bool str_eq(const char *a, const char *b) { return (!a || !b) ? a == b : !strcmp(a, b); }

static void full_spec(struct container_spec *s) {
  memset(s, 0, sizeof *s);
  snprintf(s->id, sizeof s->id, "%s", "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef");
  snprintf(s->name, sizeof s->name, "web");
  snprintf(s->image_ref, sizeof s->image_ref, "busybox:latest");
  snprintf(s->hostname, sizeof s->hostname, "box");
  snprintf(s->user_name, sizeof s->user_name, "nobody:nogroup");
  snprintf(s->network, sizeof s->network, "bridge");
  static const char *const argv[] = {"sh", "-c", "echo 'a b' \"$X\"", NULL};
  static const char *const env[] = {"X=1", "EMPTY=", "UTF8=é", NULL};
  static const char *const lowers[] = {"/var/lib/berth/layers/sha256/ab", "/var/lib/berth/layers/sha256/cd", NULL};
  s->argv = strv_of(argv);
  s->env = strv_of(env);
  s->lowerdirs = strv_of(lowers);
  s->workdir = dup_or_die("/srv/app");
  s->uid = 1000;
  s->gid = 100;
  s->tty = true;
  s->ns[NS_PID] = s->ns[NS_NET] = s->ns[NS_USER] = true;
  s->limits.memory_bytes = 64 << 20;
  s->limits.cpu_quota_us = 50000;
  s->limits.cpu_period_us = 100000;
  s->n_ports = 1;
  snprintf(s->ports[0].host_ip, sizeof s->ports[0].host_ip, "127.0.0.1");
  s->ports[0].host_port = 8080;
  s->ports[0].container_port = 80;
  s->n_mounts = 3;
  s->mounts = calloc(3, sizeof *s->mounts);
  s->mounts[0] = (struct mount_spec){.kind = MOUNT_BIND, .source = dup_or_die("/srv/data"),
                                     .target = dup_or_die("/data"), .read_only = true,
                                     .host_path = dup_or_die("/srv/data"), .host_dev = 2049, .host_ino = 77};
  s->mounts[1] = (struct mount_spec){.kind = MOUNT_VOLUME, .source = NULL, .target = dup_or_die("/cache"),
                                     .anonymous = true, .host_path = NULL};
  s->mounts[2] = (struct mount_spec){.kind = MOUNT_TMPFS, .target = dup_or_die("/tmp"),
                                     .tmpfs_size = 1 << 20, .tmpfs_mode = 01777};
  s->restart.policy = RESTART_ON_FAILURE;
  s->restart.max_retries = 3;
}

static bool same(const struct container_spec *a, const struct container_spec *b) {
  if (strcmp(a->id, b->id) || strcmp(a->name, b->name) || strcmp(a->image_ref, b->image_ref) ||
      strcmp(a->hostname, b->hostname) || strcmp(a->user_name, b->user_name) || strcmp(a->network, b->network))
    return false;
  if (!strv_eq(a->argv, b->argv) || !strv_eq(a->env, b->env) || !strv_eq(a->lowerdirs, b->lowerdirs) ||
      !str_eq(a->workdir, b->workdir))
    return false;
  if (a->uid != b->uid || a->gid != b->gid || a->tty != b->tty || memcmp(a->ns, b->ns, sizeof a->ns) ||
      memcmp(&a->limits, &b->limits, sizeof a->limits) || a->n_ports != b->n_ports ||
      memcmp(a->ports, b->ports, sizeof a->ports) || a->restart.policy != b->restart.policy ||
      a->restart.max_retries != b->restart.max_retries || a->n_mounts != b->n_mounts)
    return false;
  for (size_t i = 0; i < a->n_mounts; i++) {
    const struct mount_spec *x = &a->mounts[i], *y = &b->mounts[i];
    if (x->kind != y->kind || !str_eq(x->source, y->source) || !str_eq(x->target, y->target) ||
        !str_eq(x->host_path, y->host_path) || x->read_only != y->read_only || x->anonymous != y->anonymous ||
        x->host_dev != y->host_dev || x->host_ino != y->host_ino || x->tmpfs_size != y->tmpfs_size ||
        x->tmpfs_mode != y->tmpfs_mode)
      return false;
  }
  return true;
}

int main(void) {
  TAP_PLAN(6);
  struct container_spec s, back;
  berr_t err;
  full_spec(&s);
  char *buf = NULL;
  size_t len = 0;
  TAP_OK(spec_pack(&s, &buf, &len, &err) == 0 && len > sizeof s, "packs a full spec (%zu bytes)", len);
  int r = spec_unpack(&back, buf, len, &err);
  TAP_OK(r == 0 && same(&s, &back), "unpacks it field for field, start-time mount fields too%s%s",
         r ? ": " : "", r ? err.msg : "");
  TAP_OK(r == 0 && back.argv != s.argv && back.mounts != s.mounts && back.mounts[0].host_path != s.mounts[0].host_path,
         "into memory of its own");
  if (r == 0)
    spec_free(&back);

  /* every cut is refused (the sanitizer build catches a read past the end) */
  bool all_refused = true;
  for (size_t cut = 0; cut < len; cut++) {
    if (spec_unpack(&back, buf, cut, &err) == 0) {
      printf("#   a buffer cut at %zu of %zu bytes was accepted\n", cut, len);
      spec_free(&back);
      all_refused = false;
    } else if (back.argv || back.mounts || back.workdir) {
      printf("#   a refused buffer (cut at %zu) left fields set\n", cut);
      all_refused = false;
    }
  }
  TAP_OK(all_refused, "a buffer cut short anywhere is refused, nothing left allocated");

  /* a mount count past the limit, in the struct's bytes */
  char *bad = malloc(len);
  memcpy(bad, buf, len);
  struct container_spec *raw = (struct container_spec *)(void *)(bad + sizeof(uint32_t));
  size_t huge = (size_t)SPEC_MAX_MOUNTS + 1;
  memcpy((char *)raw + offsetof(struct container_spec, n_mounts), &huge, sizeof huge);
  TAP_OK(spec_unpack(&back, bad, len, &err) < 0 && strstr(err.msg, "malformed"), "a mount count past the limit: %s",
         err.msg);
  memcpy(bad, "nope", 4);
  TAP_OK(spec_unpack(&back, bad, len, &err) < 0, "not a packed spec: %s", err.msg);
  free(bad);
  free(buf);
  spec_free(&s);
  TAP_DONE();
}
