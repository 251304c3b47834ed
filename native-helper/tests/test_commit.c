/* commit_write_layer on a hand-made upper dir: overlay whiteouts become
 * `.wh.NAME`, an opaque dir gets `.wh..wh..opq`, trusted.overlay.* is
 * dropped, other xattrs, hardlinks and symlinks are kept, and the digests
 * are right (checked by extracting the result with layer_unpack, which
 * recomputes both). Needs root (mknod, trusted.*). */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "commit.h"
#include "layer.h"
#include "tap.h"
#include "util.h"

static char base[256];

static void must(int r, const char *what) {
  if (r < 0) {
    perror(what);
    exit(2);
  }
}

static void put(const char *rel, const char *data) {
  char p[512];
  snprintf(p, sizeof p, "%s/upper/%s", base, rel);
  int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0640);
  must(fd, p);
  must((int)write(fd, data, strlen(data)), p);
  close(fd);
}

static char *up(const char *rel) {
  static char p[512];
  snprintf(p, sizeof p, "%s/upper/%s", base, rel);
  return p;
}

struct seen {
  char name[256];
  int type;
  int64_t size;
  char link[256], hardlink[256];
  bool user_x, trusted_overlay;
};

static int list_tar(const char *path, struct seen *out, int max) {
  struct archive *a = archive_read_new();
  archive_read_support_filter_gzip(a);
  archive_read_support_format_tar(a);
  if (archive_read_open_filename(a, path, 10240) != ARCHIVE_OK)
    return -1;
  struct archive_entry *e;
  int n = 0;
  while (n < max && archive_read_next_header(a, &e) == ARCHIVE_OK) {
    struct seen *s = &out[n++];
    memset(s, 0, sizeof *s);
    snprintf(s->name, sizeof s->name, "%s", archive_entry_pathname(e));
    s->type = (int)archive_entry_filetype(e);
    s->size = archive_entry_size(e);
    if (archive_entry_symlink(e))
      snprintf(s->link, sizeof s->link, "%s", archive_entry_symlink(e));
    if (archive_entry_hardlink(e))
      snprintf(s->hardlink, sizeof s->hardlink, "%s", archive_entry_hardlink(e));
    const char *name;
    const void *v;
    size_t sz;
    archive_entry_xattr_reset(e);
    while (archive_entry_xattr_next(e, &name, &v, &sz) == ARCHIVE_OK) {
      if (!strcmp(name, "user.x"))
        s->user_x = true;
      if (!strncmp(name, "trusted.overlay.", 16))
        s->trusted_overlay = true;
    }
  }
  archive_read_free(a);
  return n;
}

static struct seen *find(struct seen *s, int n, const char *name) {
  for (int i = 0; i < n; i++)
    if (!strcmp(s[i].name, name))
      return &s[i];
  return NULL;
}

int main(void) {
  TAP_PLAN(18);
  snprintf(base, sizeof base, "/tmp/berth-test-commit-%d", (int)getpid());
  must(mkdir(base, 0700), base);
  char p[512];
  snprintf(p, sizeof p, "%s/upper", base);
  must(mkdir(p, 0755), p);
  put("hello", "hello world\n");
  must(mknod(up("gone"), S_IFCHR | 0, makedev(0, 0)), "mknod");
  must(mkdir(up("etc"), 0755), "mkdir");
  must(mknod(up("etc/passwd-"), S_IFCHR | 0, makedev(0, 0)), "mknod");
  must(mkdir(up("op"), 0700), "mkdir");
  must(setxattr(up("op"), "trusted.overlay.opaque", "y", 1, 0), "setxattr");
  put("op/new", "n");
  must(setxattr(up("op/new"), "user.x", "1", 1, 0), "setxattr");
  must(setxattr(up("op/new"), "trusted.overlay.origin", "zz", 2, 0), "setxattr");
  char l2[512];
  snprintf(l2, sizeof l2, "%s", up("hello2"));
  must(link(up("hello"), l2), "link");
  must(symlink("/etc/shadow", up("sym")), "symlink");
  must(symlink("/etc", up("escape")), "symlink");

  char tar[512];
  snprintf(tar, sizeof tar, "%s/layer.tar.gz", base);
  struct layer_tar lt;
  berr_t err;
  int r = commit_write_layer(up(""), tar, &lt, NULL, NULL, &err);
  TAP_OK(r == 0, "write the layer (%s)", r ? err.msg : "ok");

  struct seen s[64];
  int n = list_tar(tar, s, 64);
  TAP_OK(n > 0, "the result is a gzip'd tar (%d entries)", n);
  struct seen *e = find(s, n, ".wh.gone");
  TAP_OK(e && e->type == AE_IFREG && e->size == 0, "whiteout `gone` -> `.wh.gone`, an empty file");
  e = find(s, n, "etc/.wh.passwd-");
  TAP_OK(e && e->type == AE_IFREG, "nested whiteout -> `etc/.wh.passwd-`");
  TAP_OK(!find(s, n, "gone") && !find(s, n, "etc/passwd-"), "no char device entries for whiteouts");
  e = find(s, n, "op/.wh..wh..opq");
  TAP_OK(e && e->type == AE_IFREG, "opaque dir -> `op/.wh..wh..opq`");
  e = find(s, n, "op/");
  TAP_OK(e && e->type == AE_IFDIR && !e->trusted_overlay, "op/ without trusted.overlay.opaque");
  e = find(s, n, "op/new");
  TAP_OK(e && e->user_x && !e->trusted_overlay, "user.x kept, trusted.overlay.origin dropped");
  e = find(s, n, "sym");
  TAP_OK(e && e->type == AE_IFLNK && !strcmp(e->link, "/etc/shadow"), "symlink kept as a symlink");
  bool leaked = false;
  for (int i = 0; i < n; i++)
    leaked |= !strncmp(s[i].name, "escape/", 7);
  TAP_OK(find(s, n, "escape") && find(s, n, "escape")->type == AE_IFLNK && !leaked,
         "a symlink to a host dir is archived as the symlink, nothing behind it");
  struct seen *h1 = find(s, n, "hello"), *h2 = find(s, n, "hello2");
  TAP_OK(h1 && h2 && ((h1->size == 12 && !strcmp(h2->hardlink, "hello")) ||
                      (h2->size == 12 && !strcmp(h1->hardlink, "hello2"))),
         "the second path of an inode is a hardlink entry");

  char digest[DIGEST_STR_LEN + 1];
  uint64_t size;
  r = digest_file(tar, digest, &size, &err);
  TAP_OK(r == 0 && !strcmp(digest, lt.blob_digest) && size == lt.blob_size, "blob digest and size");

  /* round trip through the extractor: same diffID, whiteouts back as overlay ones */
  char dest[512];
  snprintf(dest, sizeof dest, "%s/extracted", base);
  must(mkdir(dest, 0755), dest);
  struct layer_result lr;
  r = layer_unpack(tar, dest, NULL, 0, &lr, &err);
  TAP_OK(r == 0, "the layer extracts (%s)", r ? err.msg : "ok");
  TAP_OK(!strcmp(lr.diff_id, lt.diff_id) && !strcmp(lr.blob_digest, lt.blob_digest), "diffID matches");
  TAP_OK(lr.compression == LAYER_GZIP, "gzip");
  struct stat st;
  snprintf(p, sizeof p, "%s/gone", dest);
  TAP_OK(lstat(p, &st) == 0 && S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0), "extracted whiteout is char 0/0");
  snprintf(p, sizeof p, "%s/op", dest);
  char v[4] = {0};
  TAP_OK(getxattr(p, "trusted.overlay.opaque", v, sizeof v) == 1 && v[0] == 'y', "extracted op/ is opaque");

  r = commit_write_layer(up(""), tar, &lt, NULL, NULL, &err);
  TAP_OK(r < 0 && err.errnum == EEXIST, "an existing tar path is refused (%s)", err.msg);

  berr_t ignored;
  rm_rf(base, &ignored);
  TAP_DONE();
}
