/* Layer facts on hand-made layer dirs: files, whiteouts (char 0/0 made with
 * mknod), an opaque dir (trusted.overlay.opaque), a whiteout of a dir,
 * symlinks; the tree listing and its refusals. Needs root (mknod, trusted.*). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "layerfacts.h"
#include "tap.h"
#include "util.h"

static char base[256];

static void put(const char *layer, const char *rel, size_t size) {
  char p[512];
  snprintf(p, sizeof p, "%s/%s/%s", base, layer, rel);
  int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) {
    perror(p);
    exit(2);
  }
  char buf[256] = {0};
  while (size > 0) {
    size_t n = size < sizeof buf ? size : sizeof buf;
    if (write(fd, buf, n) != (ssize_t)n)
      exit(2);
    size -= n;
  }
  close(fd);
}

static void dir(const char *layer, const char *rel) {
  char p[512];
  snprintf(p, sizeof p, "%s/%s/%s", base, layer, rel);
  if (mkdir(p, 0755) < 0 && errno != EEXIST) {
    perror(p);
    exit(2);
  }
}

static void wh(const char *layer, const char *rel) {
  char p[512];
  snprintf(p, sizeof p, "%s/%s/%s", base, layer, rel);
  if (mknod(p, S_IFCHR | 0, makedev(0, 0)) < 0) {
    perror(p);
    exit(2);
  }
}

static void opaque(const char *layer, const char *rel) {
  char p[512];
  snprintf(p, sizeof p, "%s/%s/%s", base, layer, rel);
  if (setxattr(p, "trusted.overlay.opaque", "y", 1, 0) < 0) {
    perror(p);
    exit(2);
  }
}

static void link_to(const char *layer, const char *rel, const char *target) {
  char p[512];
  snprintf(p, sizeof p, "%s/%s/%s", base, layer, rel);
  if (symlink(target, p) < 0) {
    perror(p);
    exit(2);
  }
}

static char *ldir(const char *layer) {
  char *p;
  if (asprintf(&p, "%s/%s", base, layer) < 0)
    exit(2);
  return p;
}

static json_object *entry(json_object *tree, const char *name) {
  json_object *es = json_object_object_get(tree, "entries");
  for (size_t i = 0; i < json_object_array_length(es); i++) {
    json_object *e = json_object_array_get_idx(es, i);
    if (!strcmp(json_object_get_string(json_object_object_get(e, "name")), name))
      return e;
  }
  return NULL;
}

static const char *field(json_object *o, const char *k) {
  json_object *v = o ? json_object_object_get(o, k) : NULL;
  return v ? json_object_get_string(v) : "(none)";
}

static bool has_change(json_object *changes, const char *path, const char *change) {
  for (size_t i = 0; i < json_object_array_length(changes); i++) {
    json_object *c = json_object_array_get_idx(changes, i);
    if (!strcmp(field(c, "path"), path) && !strcmp(field(c, "change"), change))
      return true;
  }
  return false;
}

static int by_path(const void *a, const void *b) {
  json_object *x = *(json_object *const *)a, *y = *(json_object *const *)b;
  return strcmp(field(x, "path"), field(y, "path"));
}

/* The map walk (facts_walk) and the on-disk diff must agree on a top layer. */
static bool engines_agree(char **base_first, size_t n) {
  struct layer_facts f[8];
  json_object *walked = json_object_new_array();
  berr_t err;
  if (facts_walk(base_first, n, f, walked, &err) < 0)
    return false;
  json_object_array_sort(walked, by_path);
  char *lowers[8] = {0};
  for (size_t i = 0; i + 1 < n; i++)
    lowers[i] = base_first[n - 2 - i];
  json_object *diff = NULL;
  if (facts_container_diff(base_first[n - 1], lowers, &diff, &err) < 0)
    return false;
  json_object *files = json_object_object_get(diff, "files");
  bool same = !strcmp(json_object_to_json_string(walked), json_object_to_json_string(json_object_object_get(diff, "changes"))) &&
              json_object_get_int64(json_object_object_get(files, "added")) == (int64_t)f[n - 1].added &&
              json_object_get_int64(json_object_object_get(files, "modified")) == (int64_t)f[n - 1].modified &&
              json_object_get_int64(json_object_object_get(files, "deleted")) == (int64_t)f[n - 1].deleted &&
              json_object_get_int64(json_object_object_get(diff, "shadowedBytes")) == (int64_t)f[n - 1].shadowed &&
              json_object_get_int64(json_object_object_get(diff, "unpackedSize")) == (int64_t)f[n - 1].unpacked;
  if (!same)
    printf("# walk: %s\n# diff: %s\n", json_object_to_json_string(walked), json_object_to_json_string(diff));
  json_object_put(walked);
  json_object_put(diff);
  return same;
}

int main(void) {
  TAP_PLAN(37);
  snprintf(base, sizeof base, "/tmp/berth-test-layerfacts-%d", (int)getpid());
  if (mkdir(base, 0700) < 0)
    return perror(base), 2;
  const char *layers[] = {"l0", "l1", "l2"};
  for (int i = 0; i < 3; i++)
    dir(layers[i], "");

  /* l0: the base */
  put("l0", "a", 100);
  put("l0", "b", 50);
  dir("l0", "d");
  put("l0", "d/x", 10);
  put("l0", "d/y", 20);
  dir("l0", "e");
  put("l0", "e/k", 5);
  put("l0", "keep", 7);
  /* l1: replaces a, deletes b, makes d opaque (x hidden, y replaced), adds new, deletes dir e */
  put("l1", "a", 30);
  wh("l1", "b");
  dir("l1", "d");
  opaque("l1", "d");
  put("l1", "d/y", 25);
  put("l1", "new", 3);
  wh("l1", "e");
  /* l2: deletes new, adds symlinks (one pointing out of the layer) */
  wh("l2", "new");
  link_to("l2", "a2", "a");
  link_to("l2", "esc", "/etc");

  char *dirs[4] = {ldir("l0"), ldir("l1"), ldir("l2"), NULL};
  struct layer_facts f[3];
  berr_t err;
  int r = facts_walk(dirs, 3, f, NULL, &err);
  TAP_OK(r == 0, "walk three layers (%s)", r ? err.msg : "ok");
  TAP_OK(f[0].added == 8 && f[0].modified == 0 && f[0].deleted == 0, "l0: 8 added (%lu/%lu/%lu)",
         (unsigned long)f[0].added, (unsigned long)f[0].modified, (unsigned long)f[0].deleted);
  TAP_OK(f[0].unpacked == 192, "l0 unpacks to 192 bytes (%lu)", (unsigned long)f[0].unpacked);
  TAP_OK(f[1].added == 1 && f[1].modified == 2 && f[1].deleted == 3,
         "l1: 1 added, 2 modified, 3 deleted (%lu/%lu/%lu)", (unsigned long)f[1].added,
         (unsigned long)f[1].modified, (unsigned long)f[1].deleted);
  TAP_OK(f[1].shadowed == 185, "l1 shadows 100+50+10+20+5 bytes (%lu)", (unsigned long)f[1].shadowed);
  TAP_OK(f[0].wasted == 185, "l0 wastes 185 bytes (%lu)", (unsigned long)f[0].wasted);
  TAP_OK(f[1].wasted == 3, "l1 wastes the 3 bytes l2 deletes (%lu)", (unsigned long)f[1].wasted);
  TAP_OK(f[2].added == 2 && f[2].deleted == 1 && f[2].shadowed == 3 && f[2].wasted == 0,
         "l2: 2 added, 1 deleted, shadows 3");

  /* the top layer as a container's upper dir */
  char *lowers[] = {dirs[1], dirs[0], NULL};
  json_object *diff = NULL;
  r = facts_container_diff(dirs[2], lowers, &diff, &err);
  TAP_OK(r == 0, "container diff (%s)", r ? err.msg : "ok");
  json_object *changes = json_object_object_get(diff, "changes");
  TAP_OK(json_object_array_length(changes) == 3, "3 changes (%s)", json_object_to_json_string(changes));
  TAP_OK(has_change(changes, "/new", "deleted") && has_change(changes, "/a2", "added") &&
             has_change(changes, "/esc", "added"),
         "deleted /new, added /a2 and /esc");
  TAP_OK(!strcmp(field(json_object_array_get_idx(changes, 0), "path"), "/a2"), "sorted by path");
  json_object_put(diff);

  /* docker diff semantics on l1 over l0 */
  char *l0only[] = {dirs[0], NULL};
  r = facts_container_diff(dirs[1], l0only, &diff, &err);
  changes = json_object_object_get(diff, "changes");
  TAP_OK(r == 0 && has_change(changes, "/d", "modified") && has_change(changes, "/d/x", "deleted") &&
             has_change(changes, "/d/y", "modified") && has_change(changes, "/e", "deleted") &&
             has_change(changes, "/b", "deleted") && has_change(changes, "/a", "modified") &&
             has_change(changes, "/new", "added") && json_object_array_length(changes) == 7,
         "l1's changes: %s", json_object_to_json_string(changes));
  TAP_OK(json_object_get_int64(json_object_object_get(diff, "shadowedBytes")) == 185, "diff shadowedBytes");
  json_object_put(diff);

  TAP_OK(engines_agree(dirs, 2), "walk and diff agree: l1 over l0");
  TAP_OK(engines_agree(dirs, 3), "walk and diff agree: l2 over l1, l0");

  /* trees */
  json_object *t = NULL;
  r = facts_tree(dirs[1], l0only, "/", 0, 0, &t, &err);
  TAP_OK(r == 0, "tree of l1 / (%s)", r ? err.msg : "ok");
  TAP_OK(json_object_get_int(json_object_object_get(t, "total")) == 5, "5 entries");
  TAP_OK(!strcmp(field(entry(t, "a"), "change"), "modified"), "a modified");
  TAP_OK(!strcmp(field(entry(t, "b"), "change"), "deleted") && !strcmp(field(entry(t, "b"), "type"), "file") &&
             json_object_get_int(json_object_object_get(entry(t, "b"), "size")) == 50,
         "b deleted, listed as the 50-byte file it deletes");
  TAP_OK(!strcmp(field(entry(t, "d"), "change"), "opaque"), "d opaque");
  TAP_OK(!strcmp(field(entry(t, "e"), "change"), "deleted") && !strcmp(field(entry(t, "e"), "type"), "dir"),
         "e: a deleted dir");
  TAP_OK(!strcmp(field(entry(t, "new"), "change"), "added"), "new added");
  TAP_OK(!strcmp(field(json_object_array_get_idx(json_object_object_get(t, "entries"), 0), "name"), "a"),
         "sorted by name");
  json_object_put(t);

  r = facts_tree(dirs[1], l0only, "d/", 0, 0, &t, &err);
  TAP_OK(r == 0 && !strcmp(field(t, "path"), "/d") && json_object_get_int(json_object_object_get(t, "total")) == 1 &&
             !strcmp(field(entry(t, "y"), "change"), "modified"),
         "tree of l1 /d: y modified");
  json_object_put(t);

  r = facts_tree(dirs[1], l0only, "/", 1, 2, &t, &err);
  TAP_OK(r == 0 && json_object_array_length(json_object_object_get(t, "entries")) == 2 &&
             !strcmp(field(json_object_array_get_idx(json_object_object_get(t, "entries"), 0), "name"), "b"),
         "paged: offset 1 limit 2 starts at b");
  json_object_put(t);

  char *l1l0[] = {dirs[1], dirs[0], NULL};
  r = facts_tree(dirs[2], l1l0, "/", 0, 0, &t, &err);
  TAP_OK(r == 0 && !strcmp(field(entry(t, "esc"), "type"), "symlink") &&
             !strcmp(field(entry(t, "esc"), "linkTarget"), "/etc") &&
             !strcmp(field(entry(t, "new"), "change"), "deleted"),
         "l2: symlink listed with its target, new deleted");
  json_object_put(t);

  /* unchanged: a dir of l0 that l2 holds changes in */
  dir("l2", "d");
  put("l2", "d/z", 1);
  r = facts_tree(dirs[2], l1l0, "/", 0, 0, &t, &err);
  TAP_OK(r == 0 && !strcmp(field(entry(t, "d"), "change"), "unchanged"), "a dir holding only changes is unchanged");
  json_object_put(t);

  /* an opaque dir in l2 over a dir l1 only merges into (l0's d/x is already hidden by l1) */
  dir("l2", "d/deep");
  put("l2", "d/deep/f", 2);
  wh("l2", "keep");
  TAP_OK(engines_agree(dirs, 3), "walk and diff agree after more changes");

  /* an opaque dir re-creating a subdir: everything lower below it is hidden */
  dir("m0", "");
  dir("m0", "o");
  dir("m0", "o/s");
  put("m0", "o/s/t", 9);
  put("m0", "o/u", 4);
  dir("m1", "");
  dir("m1", "o");
  opaque("m1", "o");
  dir("m1", "o/s");
  put("m1", "o/s/v", 1);
  char *mdirs[3] = {ldir("m0"), ldir("m1"), NULL};
  TAP_OK(engines_agree(mdirs, 2), "walk and diff agree: opaque dir with a re-created subdir");
  struct layer_facts mf[2];
  r = facts_walk(mdirs, 2, mf, NULL, &err);
  TAP_OK(r == 0 && mf[1].deleted == 2 && mf[1].shadowed == 13 && mf[1].added == 1 && mf[0].wasted == 13,
         "o/u and o/s/t hidden: 2 deleted, 13 bytes");
  free(mdirs[0]);
  free(mdirs[1]);

  /* hostile paths */
  r = facts_tree(dirs[2], l1l0, "/esc", 0, 0, &t, &err);
  TAP_OK(r < 0 && err.kind == BERR_INVALID && strstr(err.msg, "symlink"), "a symlink is not followed (%s)", err.msg);
  r = facts_tree(dirs[2], l1l0, "/d/../../etc", 0, 0, &t, &err);
  TAP_OK(r < 0 && err.kind == BERR_INVALID && strstr(err.msg, ".."), "`..` refused (%s)", err.msg);
  r = facts_tree(dirs[2], l1l0, "/nope", 0, 0, &t, &err);
  TAP_OK(r < 0 && err.kind == BERR_NOT_FOUND, "missing dir: not_found (%s)", err.msg);
  r = facts_tree(dirs[2], l1l0, "/new", 0, 0, &t, &err);
  TAP_OK(r < 0 && err.kind == BERR_NOT_FOUND && strstr(err.msg, "whiteout"), "a whiteout is not a dir (%s)", err.msg);
  r = facts_tree(dirs[2], l1l0, "/a2/x", 0, 0, &t, &err);
  TAP_OK(r < 0 && err.kind == BERR_INVALID, "through a symlink refused (%s)", err.msg);
  r = facts_tree(dirs[2], l1l0, "/", 0, 6000, &t, &err);
  TAP_OK(r < 0 && err.kind == BERR_INVALID, "limit over 5000 refused (%s)", err.msg);

  for (int i = 0; i < 3; i++)
    free(dirs[i]);
  berr_t ignored;
  rm_rf(base, &ignored);
  TAP_DONE();
}
