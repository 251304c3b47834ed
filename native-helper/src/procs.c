#include "procs.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "util.h"

/* "Key:\tvalue" → value, or NULL. */
static const char *status_field(const char *status, const char *key, char *buf, size_t size) {
  size_t klen = strlen(key);
  for (const char *p = status; p && *p;) {
    const char *eol = strchr(p, '\n');
    size_t len = eol ? (size_t)(eol - p) : strlen(p);
    if (len > klen && !strncmp(p, key, klen) && p[klen] == ':') {
      const char *v = p + klen + 1;
      while (*v == ' ' || *v == '\t')
        v++;
      size_t vlen = len - (size_t)(v - p);
      if (vlen >= size)
        vlen = size - 1;
      memcpy(buf, v, vlen);
      buf[vlen] = '\0';
      return buf;
    }
    p = eol ? eol + 1 : NULL;
  }
  return NULL;
}

json_object *procs_describe(const char *proc_root, pid_t pid) {
  char path[256];
  snprintf(path, sizeof path, "%s/%d/status", proc_root, (int)pid);
  cleanup_free char *status = NULL;
  berr_t err;
  if (read_file(path, 1 << 16, &status, NULL, &err) < 0)
    return NULL;

  char buf[512];
  json_object *o = json_object_new_object();
  json_object_object_add(o, "pid", json_object_new_int64(pid));
  const char *v = status_field(status, "PPid", buf, sizeof buf);
  json_object_object_add(o, "ppid", json_object_new_int64(v ? strtoll(v, NULL, 10) : 0));

  json_object *nspid = json_object_new_array();
  if ((v = status_field(status, "NSpid", buf, sizeof buf))) {
    char *save = NULL, *tok, copy[512];
    snprintf(copy, sizeof copy, "%s", v);
    for (tok = strtok_r(copy, " \t", &save); tok; tok = strtok_r(NULL, " \t", &save))
      json_object_array_add(nspid, json_object_new_int64(strtoll(tok, NULL, 10)));
  } else {
    json_object_array_add(nspid, json_object_new_int64(pid));
  }
  json_object_object_add(o, "nspid", nspid);

  v = status_field(status, "State", buf, sizeof buf);
  json_object_object_add(o, "state", json_object_new_string(v ? v : "?"));
  v = status_field(status, "Name", buf, sizeof buf);
  json_object_object_add(o, "name", json_object_new_string(v ? v : ""));

  json_object *cmdline = json_object_new_array();
  snprintf(path, sizeof path, "%s/%d/cmdline", proc_root, (int)pid);
  cleanup_free char *cl = NULL;
  size_t len = 0;
  if (read_file(path, 1 << 16, &cl, &len, &err) == 0)
    for (size_t i = 0; i < len;) {
      size_t n = strnlen(cl + i, len - i);
      json_object_array_add(cmdline, json_object_new_string_len(cl + i, (int)n));
      i += n + 1;
    }
  json_object_object_add(o, "cmdline", cmdline);

  int64_t rss = 0;
  if ((v = status_field(status, "VmRSS", buf, sizeof buf)))
    rss = strtoll(v, NULL, 10) * 1024; /* "1234 kB" */
  json_object_object_add(o, "rssBytes", json_object_new_int64(rss));
  v = status_field(status, "Uid", buf, sizeof buf);
  json_object_object_add(o, "uid", json_object_new_int64(v ? strtoll(v, NULL, 10) : -1));
  return o;
}

static int by_pid(const void *a, const void *b) {
  pid_t x = *(const pid_t *)a, y = *(const pid_t *)b;
  return (x > y) - (x < y);
}

int procs_list(const struct cgroup *cg, json_object **out, berr_t *err) {
  cleanup_free pid_t *pids = NULL;
  size_t n = 0;
  if (cgroup_pids(cg, &pids, &n, err) < 0)
    return -1;
  if (n)
    qsort(pids, n, sizeof *pids, by_pid);
  json_object *arr = json_object_new_array();
  for (size_t i = 0; i < n; i++) {
    if (i > 0 && pids[i] == pids[i - 1])
      continue;
    json_object *p = procs_describe("/proc", pids[i]);
    if (p) /* a process that exited meanwhile is simply not listed */
      json_object_array_add(arr, p);
  }
  *out = json_object_new_object();
  json_object_object_add(*out, "processes", arr);
  return 0;
}
