/* The mounts a user asks for (ContainerSpec.mounts): bind mounts, named
 * volumes and tmpfs.
 *
 * Daemon side, at create and at every start (usermounts_prepare): a bind
 * source must exist and must not be `/`, /proc, /sys, /dev (or below /proc
 * and /sys), the store, or berthd's socket (or a directory holding either);
 * it is opened O_PATH|O_NOFOLLOW after resolving its symlinks once, checked
 * through that fd, and its device and inode are recorded in the spec. A
 * missing volume is made.
 *
 * Init side, after the overlay, /proc, /dev and /sys and before pivot_root
 * (usermounts_apply, cwd at the rootfs): each source is opened again and
 * must be the same inode the daemon checked; each target is resolved inside
 * the rootfs with rootfs-path.c (made when missing; a symlink climbing out is
 * refused); an empty volume over a non-empty image directory gets a copy of
 * it first; read-only mounts are made read-only (recursively) before they are
 * attached. Mounts go on in order of target depth, so /a comes before /a/b. */
#ifndef BERTH_USERMOUNTS_H
#define BERTH_USERMOUNTS_H

#include <json-c/json.h>
#include <stdbool.h>

#include "error.h"
#include "spec.h"

/* The store and the socket, refused as bind sources (berthd start-up). */
void usermounts_configure(const char *root, const char *socket_path);

/* Checks the sources and fills each mount's host_path/host_dev/host_ino;
 * makes missing volumes. Errors: `not_found` (a bind source that is not
 * there), `invalid` (a refused source). */
int usermounts_prepare(const char *root, struct container_spec *s, berr_t *err);

/* In the container's init, cwd at the merged rootfs (see above). */
int usermounts_apply(const struct container_spec *s, berr_t *err);

/* ContainerInfo.mounts: [{"type", "source", "target", "readOnly", "name"?}]. */
json_object *usermounts_info(const char *root, const struct container_spec *s);

/* Whether the spec mounts the volume `name`. */
bool usermounts_uses_volume(const struct container_spec *s, const char *name);

#endif
