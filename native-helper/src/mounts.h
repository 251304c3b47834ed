/* The container's filesystem: overlay rootfs, /proc, /dev, /sys, mqueue,
 * pivot_root (or chroot when the mount namespace is shared), and the OCI
 * default masked and read-only paths. Runs in the init process. */
#ifndef BERTH_MOUNTS_H
#define BERTH_MOUNTS_H

#include "error.h"
#include "spec.h"

struct rootfs_cfg {
  const struct container_spec *spec;
  const char *upper, *work, *merged; /* absolute */
  const char *console;               /* PTY slave to bind on /dev/console, or NULL */
  int userns_fd;                     /* >= 0: the image layers are idmapped to it */
};

/* Builds "lowerdir=..,upperdir=..,workdir=..". When that would not fit in a
 * page, the paths are made relative to their common parent, returned in
 * *chdir_to (the caller chdirs there before mount(2)); still too long fails. */
int mounts_overlay_options(char *const *lowerdirs, const char *upper, const char *work,
                           char **opts, char **chdir_to, berr_t *err);

/* Private (rslave) propagation when the mount namespace is new, the overlay on
 * merged, then proc, dev, sys and mqueue below it; leaves the cwd at merged. */
int mounts_setup(const struct rootfs_cfg *c, berr_t *err);
/* pivot_root(".", ".") + detach of the old root, or chroot when the mount
 * namespace is the host's. The cwd is "/" afterwards. */
int mounts_enter(const struct rootfs_cfg *c, berr_t *err);
/* OCI default masked paths and read-only paths; missing ones are skipped. */
int mounts_mask(berr_t *err);

#endif
