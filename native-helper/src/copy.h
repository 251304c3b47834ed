/* berth cp: files into and out of a container, as tar streams over a worker
 * connection (container.copy.out sends STDOUT frames of a tar, container.copy.in
 * takes STDIN frames of one).
 *
 * The work runs in a child that enters the container's file system: a running
 * container's own root (its mount namespace, so its volumes too), or, for one
 * that is not running, its overlay mounted afresh in a private mount namespace
 * and chroot'ed into. From there no path, symlink or `..` can lead out of the
 * container: an absolute symlink resolves inside it. The child looks up no
 * user or group name: glibc would read the container's /etc/nsswitch.conf and
 * load libraries from the container (docker's CVE-2019-14271); owners travel
 * as numbers. */
#ifndef BERTH_COPY_H
#define BERTH_COPY_H

#include <json-c/json.h>
#include <sys/types.h>

#include "error.h"
#include "worker.h"

struct copy_target {
  const char *id;       /* the container's full id (its cgroup is named by it) */
  pid_t pid;            /* > 0: the running container's init */
  char *const *lowers;  /* else its overlay: image layers, topmost first, */
  const char *upper;    /* its writable layer */
  const char *work;     /* and overlay's work dir */
  const char *store;    /* the store's root: the overlay is mounted under its tmp/ */
};

/* Sends a tar of `path` (a file or a directory, not followed when a symlink),
 * its top entry named `name` (NULL: path's last component), as STDOUT frames. */
int copy_out(struct worker *w, const struct copy_target *t, const char *path, const char *name,
             json_object **result, berr_t *err);

/* Extracts the tar the client sends into the container: into `path` when it is
 * a directory, else as `path` (the tar's top entry renamed to its last
 * component, in its parent directory, which must exist). */
int copy_in(struct worker *w, const struct copy_target *t, const char *path, json_object **result, berr_t *err);

#endif
