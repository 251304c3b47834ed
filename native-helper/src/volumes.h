/* Named volumes: <root>/volumes/<name>/_data (what containers see) beside
 * <root>/volumes/<name>/volume.json ({"name", "created", "anonymous"?}).
 * An anonymous volume (docker's `-v /data`, an image's Volumes) has a
 * generated name and belongs to the container it was made for (anonvol.c). Names follow the
 * container name rule. A volume outlives containers; which containers use it
 * is the container table's business (volume-methods.c asks it). */
#ifndef BERTH_VOLUMES_H
#define BERTH_VOLUMES_H

#include <json-c/json.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#include "error.h"

/* <root>/volumes/<name>/_data; -1 (invalid) for a bad name. */
int volume_data_path(const char *root, const char *name, char out[PATH_MAX], berr_t *err);
bool volume_exists(const char *root, const char *name);
/* Makes the volume. name NULL: a random 64-hex name (*out_name gets it, 65
 * bytes). exists_ok: an existing volume is fine (*created false), else it is a
 * `conflict`. Emits the "volume" "create" event when it made one. */
int volume_create(const char *root, const char *name, bool exists_ok, char out_name[65], bool *created,
                  berr_t *err);
/* The same, and a volume it makes is marked anonymous when `anonymous`. */
int volume_create_ex(const char *root, const char *name, bool exists_ok, bool anonymous, char out_name[65],
                     bool *created, berr_t *err);
/* Whether the volume's volume.json marks it anonymous (false when there is none). */
bool volume_is_anonymous(const char *root, const char *name);
/* VolumeInfo without usedBy: {"name", "mountpoint", "created", "anonymous", "sizeBytes"}
 * (sizeBytes null unless with_size). */
int volume_info(const char *root, const char *name, bool with_size, json_object **out, berr_t *err);
/* Every volume's name, sorted (NULL-terminated, strv_free). */
int volume_names(const char *root, char ***out, berr_t *err);
/* Deletes the volume and its data; *bytes (may be NULL) gets what it held.
 * The caller checks that no container uses it. Emits "volume" "remove". */
int volume_delete(const char *root, const char *name, int64_t *bytes, berr_t *err);

#endif
