#include "volumes.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "events.h"
#include "names.h"
#include "util.h"

#define VOLUME_META "volume.json"
#define VOLUME_DATA "_data"
#define VOLUME_MAX_DEPTH 256

static int volume_dir(const char *root, const char *name, char out[PATH_MAX], berr_t *err) {
  if (!name_is_valid(name))
    return berr_set(err, BERR_INVALID, "volume name '%.80s' must match [A-Za-z0-9][A-Za-z0-9_.-]{0,63}",
                    name);
  if (snprintf(out, PATH_MAX, "%s/volumes/%s", root, name) >= PATH_MAX)
    return berr_set(err, BERR_INVALID, "the store path is too long");
  return 0;
}

int volume_data_path(const char *root, const char *name, char out[PATH_MAX], berr_t *err) {
  char dir[PATH_MAX];
  if (volume_dir(root, name, dir, err) < 0)
    return -1;
  if (snprintf(out, PATH_MAX, "%s/" VOLUME_DATA, dir) >= PATH_MAX)
    return berr_set(err, BERR_INVALID, "the store path is too long");
  return 0;
}

bool volume_exists(const char *root, const char *name) {
  char dir[PATH_MAX], meta[PATH_MAX + 16];
  berr_t err;
  if (volume_dir(root, name, dir, &err) < 0)
    return false;
  snprintf(meta, sizeof meta, "%s/" VOLUME_META, dir);
  return access(meta, F_OK) == 0;
}

int volume_create(const char *root, const char *name, bool exists_ok, char out_name[65], bool *created,
                  berr_t *err) {
  return volume_create_ex(root, name, exists_ok, false, out_name, created, err);
}

int volume_create_ex(const char *root, const char *name, bool exists_ok, bool anonymous, char out_name[65],
                     bool *created, berr_t *err) {
  char gen[65];
  if (created)
    *created = false;
  if (!name) {
    if (id_generate(gen, err) < 0)
      return -1;
    name = gen;
  }
  if (out_name)
    snprintf(out_name, 65, "%s", name);
  char dir[PATH_MAX], base[PATH_MAX], data[PATH_MAX + 16], meta[PATH_MAX + 16];
  if (volume_dir(root, name, dir, err) < 0)
    return -1;
  snprintf(base, sizeof base, "%s/volumes", root);
  if (mkdir_p(base, 0700, err) < 0)
    return -1;
  snprintf(data, sizeof data, "%s/" VOLUME_DATA, dir);
  snprintf(meta, sizeof meta, "%s/" VOLUME_META, dir);
  if (mkdir(dir, 0700) < 0) {
    if (errno != EEXIST)
      return berr_sys(err, errno, "mkdir `%s`", dir);
    if (access(meta, F_OK) == 0) {
      if (exists_ok)
        return 0;
      return berr_set(err, BERR_CONFLICT, "a volume named '%s' already exists", name);
    }
    /* a create that died before its volume.json: finish it */
  }
  /* _data is what containers see: 0755 like docker's, so non-root users inside can enter */
  if (mkdir(data, 0755) < 0 && errno != EEXIST)
    return berr_sys(err, errno, "mkdir `%s`", data);
  if (chmod(data, 0755) < 0)
    return berr_sys(err, errno, "chmod `%s`", data);
  char now[40];
  now_rfc3339(now);
  json_object *o = json_object_new_object();
  json_object_object_add(o, "name", json_object_new_string(name));
  json_object_object_add(o, "created", json_object_new_string(now));
  if (anonymous)
    json_object_object_add(o, "anonymous", json_object_new_boolean(true));
  /* volume.json last: a volume exists once it is there */
  int r = json_write_file(meta, o, true, err);
  json_object_put(o);
  if (r < 0)
    return -1;
  if (created)
    *created = true;
  events_emit("volume", "create", name);
  return 0;
}

/* Bytes of the regular files below dirfd (each inode once per directory
 * walk is good enough: hard links inside a volume are rare). */
static int64_t tree_bytes(int dirfd, int depth) {
  if (depth > VOLUME_MAX_DEPTH)
    return 0;
  DIR *d = fdopendir(dirfd);
  if (!d) {
    close(dirfd);
    return 0;
  }
  int64_t total = 0;
  struct dirent *de;
  while ((de = readdir(d))) {
    if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
      continue;
    struct stat st;
    if (fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
      continue;
    if (S_ISREG(st.st_mode)) {
      total += (int64_t)st.st_blocks * 512;
    } else if (S_ISDIR(st.st_mode)) {
      int sub = openat(dirfd, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (sub >= 0)
        total += tree_bytes(sub, depth + 1);
    }
  }
  closedir(d);
  return total;
}

static int64_t data_bytes(const char *data) {
  int fd = open(data, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  return fd < 0 ? 0 : tree_bytes(fd, 0);
}

int volume_info(const char *root, const char *name, bool with_size, json_object **out, berr_t *err) {
  char dir[PATH_MAX], data[PATH_MAX + 16], meta[PATH_MAX + 16];
  if (volume_dir(root, name, dir, err) < 0)
    return -1;
  snprintf(data, sizeof data, "%s/" VOLUME_DATA, dir);
  snprintf(meta, sizeof meta, "%s/" VOLUME_META, dir);
  json_object *m = NULL;
  if (access(meta, F_OK) < 0)
    return berr_set(err, BERR_NOT_FOUND, "no volume named '%.80s'", name);
  if (json_read_file(meta, &m, err) < 0)
    return -1;
  json_object *created = NULL, *anon = NULL;
  json_object_object_get_ex(m, "created", &created);
  json_object_object_get_ex(m, "anonymous", &anon);
  json_object *o = json_object_new_object();
  json_object_object_add(o, "name", json_object_new_string(name));
  json_object_object_add(o, "mountpoint", json_object_new_string(data));
  json_object_object_add(o, "created", created ? json_object_get(created) : NULL);
  json_object_object_add(o, "anonymous",
                         json_object_new_boolean(anon && json_object_is_type(anon, json_type_boolean) &&
                                                 json_object_get_boolean(anon)));
  json_object_object_add(o, "sizeBytes", with_size ? json_object_new_int64(data_bytes(data)) : NULL);
  json_object_put(m);
  *out = o;
  return 0;
}

bool volume_is_anonymous(const char *root, const char *name) {
  char dir[PATH_MAX], meta[PATH_MAX + 16];
  berr_t err;
  if (volume_dir(root, name, dir, &err) < 0)
    return false;
  snprintf(meta, sizeof meta, "%s/" VOLUME_META, dir);
  json_object *m = NULL, *anon = NULL;
  if (access(meta, F_OK) < 0 || json_read_file(meta, &m, &err) < 0)
    return false;
  bool r = json_object_is_type(m, json_type_object) && json_object_object_get_ex(m, "anonymous", &anon) &&
           json_object_is_type(anon, json_type_boolean) && json_object_get_boolean(anon);
  json_object_put(m);
  return r;
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

int volume_names(const char *root, char ***out, berr_t *err) {
  char base[PATH_MAX];
  snprintf(base, sizeof base, "%s/volumes", root);
  size_t n = 0, cap = 16;
  char **v = calloc(cap + 1, sizeof *v);
  if (!v)
    return berr_sys(err, ENOMEM, "volume list");
  cleanup_dir DIR *d = opendir(base);
  if (!d) {
    if (errno == ENOENT) {
      *out = v;
      return 0;
    }
    free(v);
    return berr_sys(err, errno, "opendir `%s`", base);
  }
  struct dirent *de;
  while ((de = readdir(d))) {
    if (!name_is_valid(de->d_name) || !volume_exists(root, de->d_name))
      continue;
    if (n == cap) {
      char **nv = realloc(v, (cap * 2 + 1) * sizeof *v);
      if (!nv) {
        strv_free(v);
        return berr_sys(err, ENOMEM, "volume list");
      }
      v = nv;
      cap *= 2;
    }
    if (!(v[n] = strdup(de->d_name))) {
      strv_free(v);
      return berr_sys(err, ENOMEM, "volume list");
    }
    v[++n] = NULL;
  }
  qsort(v, n, sizeof *v, cmp_str);
  *out = v;
  return 0;
}

int volume_delete(const char *root, const char *name, int64_t *bytes, berr_t *err) {
  char dir[PATH_MAX], meta[PATH_MAX + 16], data[PATH_MAX + 16];
  if (volume_dir(root, name, dir, err) < 0)
    return -1;
  if (!volume_exists(root, name))
    return berr_set(err, BERR_NOT_FOUND, "no volume named '%.80s'", name);
  snprintf(meta, sizeof meta, "%s/" VOLUME_META, dir);
  snprintf(data, sizeof data, "%s/" VOLUME_DATA, dir);
  if (bytes)
    *bytes = data_bytes(data);
  /* volume.json first: a half-removed volume is no volume any more */
  if (unlink(meta) < 0)
    return berr_sys(err, errno, "unlink `%s`", meta);
  if (rm_rf(dir, err) < 0)
    return berr_wrap(err, "remove volume '%s'", name);
  events_emit("volume", "remove", name);
  return 0;
}
