/* Safe resolution of a path inside a container's rootfs, for the init side
 * (before pivot_root, as host root): a path is looked up as if the rootfs were
 * "/" — `..` at the top stays at the top, an absolute symlink starts again at
 * the rootfs, no symlink (and no /proc magic link) can lead out of it.
 *
 * Uses openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS) where the kernel has
 * it; elsewhere (and to create what is missing) it walks one component at a
 * time with O_NOFOLLOW, reading each symlink and resolving its target itself,
 * and keeping its own stack of directory fds so `..` never asks the kernel.
 *
 * Mounting onto the result: the fd is O_PATH, so mount through its magic link,
 *
 *     cleanup_close int fd = rootfs_open(root_fd, "/etc/hosts", ROOTFS_MKFILE, err);
 *     char at[32];
 *     rootfs_fd_path(fd, at);              // "/proc/self/fd/N"
 *     mount(src, at, NULL, MS_BIND, NULL);  // lands on the file the fd holds
 *
 * (or move_mount(..., fd, "", MOVE_MOUNT_T_EMPTY_PATH)). Whatever is swapped
 * into the path after the lookup, the mount lands on what the fd holds. */
#ifndef BERTH_ROOTFS_PATH_H
#define BERTH_ROOTFS_PATH_H

#include "error.h"

enum rootfs_open_flags {
  ROOTFS_LOOKUP = 0,     /* the path must exist (ENOENT: not_found) */
  ROOTFS_MKDIR = 1 << 0, /* a directory: missing components are made (0755, owned by the caller);
                          * an existing target that is not a directory is `invalid` */
  ROOTFS_MKFILE = 1 << 1, /* a file to mount a file over: missing parents are made (0755), a
                           * missing target is an empty 0644 file; an existing directory is `invalid` */
  ROOTFS_NO_ESCAPE = 1 << 2 /* a `..` (of the path or of a symlink) that would climb above the
                             * top is `invalid` ("leads out of the rootfs") instead of staying at
                             * the top: for user-given paths, where such a link is an attack */
};

#define ROOTFS_MAX_SYMLINKS 40 /* as the kernel's ELOOP limit */

/* Opens `path` (absolute or relative; both are taken from the rootfs' top)
 * inside the rootfs whose top directory is root_fd (any fd of that
 * directory, O_PATH is enough). Symlinks on the way, the last component's
 * too, are followed as if chrooted into root_fd. Returns an O_PATH|O_CLOEXEC
 * fd of what the path names, or -1 with err: `not_found` for a missing
 * component without a create flag, `invalid` for a type mismatch, a path
 * that is empty, longer than PATH_MAX, or holds a NUL, too many symlinks,
 * a magic link (openat2), or a component below a non-directory. */
int rootfs_open(int root_fd, const char *path, int flags, berr_t *err);

/* The component-by-component walk rootfs_open falls back to; the same
 * contract. Exposed so the tests can check both ways on one kernel. */
int rootfs_open_walk(int root_fd, const char *path, int flags, berr_t *err);

/* "/proc/self/fd/N" for an fd, to mount onto (buf of at least 32 bytes). */
void rootfs_fd_path(int fd, char buf[32]);

#endif
