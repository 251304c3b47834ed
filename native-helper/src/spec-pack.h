/* A container spec as one flat buffer, and back: how the daemon hands a start
 * to a monitor it forked before the start was asked for (runtime.c). Unlike
 * config.json it carries every field, those filled when the container starts
 * (mount_spec.host_path, host_dev, host_ino) included, and it needs no
 * parsing. Only the binary that packed a buffer unpacks it. */
#ifndef BERTH_SPEC_PACK_H
#define BERTH_SPEC_PACK_H

#include <stddef.h>

#include "error.h"
#include "spec.h"

/* *out (malloc'd, *len bytes) holds s. */
int spec_pack(const struct container_spec *s, char **out, size_t *len, berr_t *err);
/* Fills s (free it with spec_free) from what spec_pack made; a buffer cut short
 * or otherwise malformed is refused and s left empty. */
int spec_unpack(struct container_spec *s, const char *buf, size_t len, berr_t *err);

#endif
