/* Anonymous volumes: docker's `-v /data` (a volume mount without a source)
 * and one per entry of the image's config.Volumes that no mount of the user
 * covers. At create each gets a volume with a generated 64-hex name, marked
 * anonymous in its volume.json, and the spec keeps that name ("source") with
 * "anonymous": true, so every start of the container mounts the same one. It
 * starts with a copy of the image's directory like any new volume.
 *
 * Lifetime (docker's): the volume outlives `container.remove` unless the
 * removal asks for `volumes` (rm -v) or the container is autoRemove (--rm);
 * then each volume the spec marks anonymous, that is anonymous in its own
 * volume.json and that no other container mounts, is deleted. volume.prune
 * deletes unused anonymous volumes (and named ones only with `all`). */
#ifndef BERTH_ANONVOL_H
#define BERTH_ANONVOL_H

#include "container.h"
#include "error.h"
#include "spec.h"

/* Adds an anonymous volume mount for each of paths (image_volumes_paths) on
 * which the spec has no mount yet. More than SPEC_MAX_MOUNTS in all is a
 * `limit` error. */
int anonvol_add_image(struct container_spec *s, char *const *paths, berr_t *err);

/* Makes a volume for each anonymous mount that has no source yet and names
 * it in the spec. *made (strv) gets the names made, for anonvol_delete when
 * the create fails later; on an error nothing made is left. */
int anonvol_create(const char *root, struct container_spec *s, char ***made, berr_t *err);
/* Deletes the volumes named (a create that failed after anonvol_create). */
void anonvol_delete(const char *root, char *const *names);

/* After the container of s left st's table: deletes its anonymous volumes
 * that no container in st mounts (each failure goes to berthd's log). */
void anonvol_remove(struct ctr_store *st, const char *root, const struct container_spec *s);

#endif
