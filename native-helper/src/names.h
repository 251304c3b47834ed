/* Container ids (64 hex from getrandom) and names: the user's, validated, or
 * a generated adjective_noun that no other container has. */
#ifndef BERTH_NAMES_H
#define BERTH_NAMES_H

#include <stdbool.h>
#include <stddef.h>

#include "error.h"

#define NAME_MAX_LEN 64

/* [A-Za-z0-9][A-Za-z0-9_.-]{0,63} (docs/protocol.md "Names and references"). */
bool name_is_valid(const char *name);
/* Sets an `invalid` error explaining the rule. Returns -1. */
int name_invalid(berr_t *err, const char *name);

/* 64 lowercase hex characters. */
bool id_is_valid(const char *id);
/* True when s is 1..64 lowercase hex characters (a possible id prefix). */
bool id_prefix_is_hex(const char *s);
int id_generate(char out[65], berr_t *err);

/* Picks adjective_noun that taken() rejects for no container; after many
 * collisions a numeric suffix makes it unique. */
typedef bool (*name_taken_fn)(const char *name, void *ctx);
int name_generate(char out[65], name_taken_fn taken, void *ctx, berr_t *err);

#endif
