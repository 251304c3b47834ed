/* The resolved container spec: config.json in a container's directory, the
 * "spec" of container.inspect, and what the daemon builds from a create
 * request plus the image. spec_from_json(spec_to_json(s)) gives s back.
 *
 *   {"id": "<64 hex>", "name": "web", "image": "busybox:latest", "imageId": "sha256:…",
 *    "argv": ["sh", "-c", "echo hi"],          entrypoint + cmd, non-empty
 *    "env": ["PATH=…", "K=V"],
 *    "workdir": "/", "hostname": "web", "user": "1000:1000",
 *    "tty": false, "stdin": false, "autoRemove": false,
 *    "namespaces": {"pid": true, "mount": true, "uts": true, "ipc": true,
 *                   "net": true, "cgroup": true, "user": false},
 *    "limits": {"memory": bytes | null, "cpus": 0.5 | null,
 *               "cpuQuotaUs": 50000 | null, "cpuPeriodUs": 100000 | null,
 *               "cpuWeight": 1..10000 | null, "pids": n | null},
 *    "lowerdirs": ["/…/layers/sha256/…"]}     topmost first
 *
 * Absent keys take defaults: namespaces all on but user, no limits, workdir
 * "/", hostname the short id, user 0:0. In limits, cpuQuotaUs (with
 * cpuPeriodUs, 100000 by default) wins over cpus; spec_to_json writes both. */
#include "spec.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "names.h"
#include "protocol.h"
#include "util.h"

#define MIB (1024 * 1024)
#define SPEC_MIN_MEMORY (4 * MIB)
#define CPU_PERIOD_US 100000

/* The protocol's keys for the namespaces (NS_MNT is "mount" on the wire). */
static const char *const ns_keys[NS_COUNT] = {"pid", "mount", "uts", "ipc", "net", "cgroup", "user"};

static const char *const spec_keys[] = {"id", "name", "image", "imageId", "argv", "env", "workdir",
                                        "hostname", "user", "tty", "stdin", "autoRemove",
                                        "namespaces", "limits", "lowerdirs", "network", "ports", "mounts",
                                        "restart", NULL};
static const char *const limit_keys[] = {"memory", "cpus", "cpuQuotaUs", "cpuPeriodUs", "cpuWeight",
                                         "pids", NULL};

static long online_cpus(void) {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0)
    return CPU_COUNT(&set);
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? n : 1;
}

static bool hostname_is_valid(const char *h) {
  size_t n = strlen(h);
  if (n == 0 || n > 64)
    return false;
  size_t label = 0;
  for (size_t i = 0; i < n; i++) {
    char c = h[i];
    if (c == '.') {
      if (label == 0 || h[i - 1] == '-')
        return false;
      label = 0;
      continue;
    }
    bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    if (!alnum && c != '-' && c != '_')
      return false;
    if (c == '-' && label == 0)
      return false;
    label++;
  }
  return h[n - 1] != '-' && h[n - 1] != '.';
}

/* "uid[:gid]", both decimal, below 2^32-1 (the kernel's invalid id). */
/* A user or group name as useradd takes it. */
static bool user_name_ok(const char *s, size_t n) {
  if (n == 0 || n > 32 || !(isalpha((unsigned char)s[0]) || s[0] == '_'))
    return false;
  for (size_t i = 1; i < n; i++)
    if (!(isalnum((unsigned char)s[i]) || s[i] == '_' || s[i] == '-' || s[i] == '.'))
      return false;
  return true;
}

/* "uid[:gid]" numeric, or "name[:group]" (either part a name) to resolve in
 * the container: *name gets the string then. */
static int parse_user(const char *s, uid_t *uid, gid_t *gid, char name[72], berr_t *err) {
  name[0] = '\0';
  const char *colon = strchr(s, ':');
  size_t ulen = colon ? (size_t)(colon - s) : strlen(s);
  const char *g = colon ? colon + 1 : NULL;
  bool user_named = ulen > 0 && !isdigit((unsigned char)s[0]);
  bool group_named = g && *g && !isdigit((unsigned char)g[0]);
  if (user_named || group_named) {
    bool ok = (user_named ? user_name_ok(s, ulen) : ulen > 0 && strspn(s, "0123456789") == ulen) &&
              (!g || (group_named ? user_name_ok(g, strlen(g)) : *g && strspn(g, "0123456789") == strlen(g)));
    if (!ok)
      return berr_set(err, BERR_INVALID,
                      "user '%.64s' must be uid[:gid] (numbers) or name[:group] (from the image's "
                      "/etc/passwd and /etc/group)",
                      s);
    snprintf(name, 72, "%s", s);
    *uid = 0;
    *gid = 0;
    return 0;
  }
  unsigned long long v[2] = {0, 0};
  const char *p = s;
  int n = 0;
  for (;;) {
    if (*p < '0' || *p > '9')
      break;
    char *end;
    errno = 0;
    v[n] = strtoull(p, &end, 10);
    if (errno || end - p > 10 || v[n] >= 4294967295ULL)
      break;
    n++;
    p = end;
    if (*p == '\0') {
      *uid = (uid_t)v[0];
      *gid = (gid_t)(n == 2 ? v[1] : 0);
      return 0;
    }
    if (*p != ':' || n == 2)
      break;
    p++;
  }
  return berr_set(err, BERR_INVALID, "user '%.64s' must be uid[:gid] such as 1000:1000, or name[:group]", s);
}

static int get_string(json_object *o, const char *key, bool required, char *buf, size_t size,
                      berr_t *err) {
  const char *s;
  if (param_string(o, key, required, &s, err) < 0)
    return -1;
  if (!s)
    return 0;
  if (strlen(s) >= size)
    return berr_set(err, BERR_INVALID, "`%s` is longer than %zu bytes", key, size - 1);
  memcpy(buf, s, strlen(s) + 1);
  return 0;
}

static int parse_limits(struct limits *l, json_object *o, berr_t *err) {
  memset(l, 0, sizeof *l);
  if (!o)
    return 0;
  if (!json_object_is_type(o, json_type_object))
    return berr_set(err, BERR_BAD_REQUEST, "`limits` must be an object");
  if (param_check_keys(o, "limits", limit_keys, err) < 0)
    return -1;
  bool given;
  if (param_int(o, "memory", 0, INT64_MIN + 1, INT64_MAX - 1, &l->memory_bytes, &given, err) < 0)
    return -1;
  if (given && l->memory_bytes < SPEC_MIN_MEMORY)
    return berr_set(err, BERR_INVALID,
                    "memory limit %" PRId64 " bytes is below the minimum of %d bytes (4 MiB; "
                    "6 MiB on cgroup v1)",
                    l->memory_bytes, SPEC_MIN_MEMORY);

  long ncpu = online_cpus();
  bool quota_given;
  if (param_int(o, "cpuQuotaUs", 0, 1000, INT64_MAX - 1, &l->cpu_quota_us, &quota_given, err) < 0)
    return -1;
  if (quota_given) {
    if (param_int(o, "cpuPeriodUs", CPU_PERIOD_US, 1000, 1000000, &l->cpu_period_us, NULL, err) < 0)
      return -1;
    if (l->cpu_quota_us > (int64_t)ncpu * l->cpu_period_us)
      return berr_set(err, BERR_INVALID,
                      "cpu quota %" PRId64 "/%" PRId64 " us is more than the %ld CPUs this machine has",
                      l->cpu_quota_us, l->cpu_period_us, ncpu);
  } else {
    double cpus;
    if (param_number(o, "cpus", 0, &cpus, &given, err) < 0)
      return -1;
    if (given) {
      if (!(cpus > 0) || cpus > (double)ncpu)
        return berr_set(err, BERR_INVALID, "cpus %g is out of range: it must be more than 0 and at most %ld (the CPUs of this machine)",
                        cpus, ncpu);
      l->cpu_period_us = CPU_PERIOD_US;
      l->cpu_quota_us = (int64_t)(cpus * CPU_PERIOD_US + 0.5); /* no libm: round by hand */
      if (l->cpu_quota_us < 1000)
        return berr_set(err, BERR_INVALID, "cpus %g is below the kernel's minimum of 0.01", cpus);
    }
  }
  if (param_int(o, "cpuWeight", 0, 1, 10000, &l->cpu_weight, NULL, err) < 0)
    return -1;
  if (param_int(o, "pids", 0, 1, INT64_MAX - 1, &l->pids_max, NULL, err) < 0)
    return -1;
  return 0;
}

static int parse_namespaces(bool ns[NS_COUNT], json_object *o, berr_t *err) {
  for (int k = 0; k < NS_COUNT; k++)
    ns[k] = k != NS_USER;
  if (!o)
    return 0;
  if (!json_object_is_type(o, json_type_object))
    return berr_set(err, BERR_BAD_REQUEST, "`namespaces` must be an object");
  const char *keys[NS_COUNT + 1];
  for (int k = 0; k < NS_COUNT; k++)
    keys[k] = ns_keys[k];
  keys[NS_COUNT] = NULL;
  if (param_check_keys(o, "namespaces", keys, err) < 0)
    return -1;
  for (int k = 0; k < NS_COUNT; k++)
    if (param_bool(o, ns_keys[k], ns[k], &ns[k], err) < 0)
      return berr_wrap(err, "namespaces");
  if (ns[NS_USER] && !ns[NS_MNT])
    return berr_set(err, BERR_INVALID,
                    "a user namespace needs the mount namespace (its layers are idmapped mounts): "
                    "turn the mount namespace on, or the user namespace off");
  return 0;
}

static int check_env(char **env, berr_t *err) {
  for (size_t i = 0; env[i]; i++) {
    const char *eq = strchr(env[i], '=');
    if (!eq || eq == env[i])
      return berr_set(err, BERR_INVALID, "environment entry '%.64s' must be KEY=VALUE", env[i]);
  }
  return 0;
}

/* Paths that go into overlay mount options, where ':' and ',' are separators. */
static int check_layer_dir(const char *p, berr_t *err) {
  if (p[0] != '/' || strpbrk(p, ":,") || strstr(p, "/../") || strlen(p) > 1024)
    return berr_set(err, BERR_INVALID, "layer directory `%.200s` must be an absolute path without : or ,", p);
  return 0;
}

int spec_from_json(struct container_spec *s, json_object *o, berr_t *err) {
  memset(s, 0, sizeof *s);
  if (!json_object_is_type(o, json_type_object))
    return berr_set(err, BERR_BAD_REQUEST, "the container spec must be an object");
  if (param_check_keys(o, "the container spec", spec_keys, err) < 0)
    return -1;

  if (get_string(o, "id", true, s->id, sizeof s->id, err) < 0)
    return -1;
  if (!id_is_valid(s->id))
    return berr_set(err, BERR_INVALID, "container id '%.70s' is not 64 lowercase hex characters", s->id);
  if (get_string(o, "name", true, s->name, sizeof s->name, err) < 0)
    return -1;
  if (!name_is_valid(s->name))
    return name_invalid(err, s->name);
  if (get_string(o, "image", true, s->image_ref, sizeof s->image_ref, err) < 0 ||
      get_string(o, "imageId", true, s->image_id, sizeof s->image_id, err) < 0)
    return -1;

  if (param_strv(o, "argv", &s->argv, err) < 0)
    goto fail;
  if (!s->argv || !s->argv[0]) {
    berr_set(err, BERR_INVALID, "no command: the image has no Cmd/Entrypoint and none was given");
    goto fail;
  }
  if (!s->argv[0][0]) {
    berr_set(err, BERR_INVALID, "the command's first word is empty");
    goto fail;
  }
  if (param_strv(o, "env", &s->env, err) < 0)
    goto fail;
  if (!s->env && !(s->env = calloc(1, sizeof *s->env))) {
    berr_sys(err, ENOMEM, "spec env");
    goto fail;
  }
  if (check_env(s->env, err) < 0)
    goto fail;

  const char *workdir;
  if (param_string(o, "workdir", false, &workdir, err) < 0)
    goto fail;
  if (!workdir || !workdir[0])
    workdir = "/";
  if (workdir[0] != '/' || strlen(workdir) > 4096) {
    berr_set(err, BERR_INVALID, "workdir '%.200s' must be an absolute path", workdir);
    goto fail;
  }
  if (!(s->workdir = strdup(workdir))) {
    berr_sys(err, ENOMEM, "spec workdir");
    goto fail;
  }

  if (get_string(o, "hostname", false, s->hostname, sizeof s->hostname, err) < 0)
    goto fail;
  if (!s->hostname[0])
    snprintf(s->hostname, sizeof s->hostname, "%.12s", s->id);
  if (!hostname_is_valid(s->hostname)) {
    berr_set(err, BERR_INVALID,
             "hostname '%.64s' is not valid: at most 64 of letters, digits, - _ and ., in labels "
             "that do not start or end with -",
             s->hostname);
    goto fail;
  }

  const char *user;
  if (param_string(o, "user", false, &user, err) < 0)
    goto fail;
  if (user && user[0] && parse_user(user, &s->uid, &s->gid, s->user_name, err) < 0)
    goto fail;

  if (param_bool(o, "tty", false, &s->tty, err) < 0 ||
      param_bool(o, "stdin", false, &s->open_stdin, err) < 0 ||
      param_bool(o, "autoRemove", false, &s->auto_remove, err) < 0)
    goto fail;

  if (parse_namespaces(s->ns, json_object_object_get(o, "namespaces"), err) < 0 ||
      parse_limits(&s->limits, json_object_object_get(o, "limits"), err) < 0)
    goto fail;

  if (param_strv(o, "lowerdirs", &s->lowerdirs, err) < 0)
    goto fail;
  if (!s->lowerdirs || !s->lowerdirs[0]) {
    berr_set(err, BERR_INVALID, "the spec has no `lowerdirs` (the image's layers)");
    goto fail;
  }
  for (size_t i = 0; s->lowerdirs[i]; i++)
    if (check_layer_dir(s->lowerdirs[i], err) < 0)
      goto fail;
  if (spec_net_from_json(s, o, err) < 0) /* network.c */
    goto fail;
  if (spec_storage_from_json(s, o, err) < 0) /* spec-storage.c */
    goto fail;
  return 0;

fail:
  spec_free(s);
  return -1;
}

static json_object *int_or_null(int64_t v) { return v > 0 ? json_object_new_int64(v) : NULL; }

json_object *spec_to_json(const struct container_spec *s) {
  json_object *o = json_object_new_object();
  json_object_object_add(o, "id", json_object_new_string(s->id));
  json_object_object_add(o, "name", json_object_new_string(s->name));
  json_object_object_add(o, "image", json_object_new_string(s->image_ref));
  json_object_object_add(o, "imageId", json_object_new_string(s->image_id));
  json_object_object_add(o, "argv", strv_to_json(s->argv));
  json_object_object_add(o, "env", strv_to_json(s->env));
  json_object_object_add(o, "workdir", json_object_new_string(s->workdir ? s->workdir : "/"));
  json_object_object_add(o, "hostname", json_object_new_string(s->hostname));
  char user[72];
  if (s->user_name[0])
    snprintf(user, sizeof user, "%s", s->user_name);
  else
    snprintf(user, sizeof user, "%u:%u", (unsigned)s->uid, (unsigned)s->gid);
  json_object_object_add(o, "user", json_object_new_string(user));
  json_object_object_add(o, "tty", json_object_new_boolean(s->tty));
  json_object_object_add(o, "stdin", json_object_new_boolean(s->open_stdin));
  json_object_object_add(o, "autoRemove", json_object_new_boolean(s->auto_remove));

  json_object *ns = json_object_new_object();
  for (int k = 0; k < NS_COUNT; k++)
    json_object_object_add(ns, ns_keys[k], json_object_new_boolean(s->ns[k]));
  json_object_object_add(o, "namespaces", ns);

  const struct limits *l = &s->limits;
  json_object *lim = json_object_new_object();
  json_object_object_add(lim, "memory", int_or_null(l->memory_bytes));
  json_object_object_add(lim, "cpus",
                         l->cpu_quota_us > 0 && l->cpu_period_us > 0
                             ? json_object_new_double((double)l->cpu_quota_us / (double)l->cpu_period_us)
                             : NULL);
  json_object_object_add(lim, "cpuQuotaUs", int_or_null(l->cpu_quota_us));
  json_object_object_add(lim, "cpuPeriodUs", l->cpu_quota_us > 0 ? int_or_null(l->cpu_period_us) : NULL);
  json_object_object_add(lim, "cpuWeight", int_or_null(l->cpu_weight));
  json_object_object_add(lim, "pids", int_or_null(l->pids_max));
  json_object_object_add(o, "limits", lim);

  json_object_object_add(o, "lowerdirs", strv_to_json(s->lowerdirs));
  spec_net_to_json(s, o); /* network.c */
  spec_storage_to_json(s, o); /* spec-storage.c */
  return o;
}

void spec_free(struct container_spec *s) {
  strv_free(s->argv);
  strv_free(s->env);
  free(s->workdir);
  strv_free(s->lowerdirs);
  spec_storage_free(s);
  s->argv = s->env = s->lowerdirs = NULL;
  s->workdir = NULL;
}
