/* sha256 digests (OpenSSL EVP), streaming, in the OCI "sha256:<hex>" form. */
#ifndef BERTH_DIGEST_H
#define BERTH_DIGEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

#define DIGEST_HEX_LEN 64
#define DIGEST_STR_LEN (7 + DIGEST_HEX_LEN) /* "sha256:" + hex, without the NUL */

struct digest {
  void *ctx;      /* EVP_MD_CTX */
  uint64_t bytes; /* bytes fed so far */
};

int digest_init(struct digest *d, berr_t *err);
int digest_update(struct digest *d, const void *buf, size_t len, berr_t *err);
/* Writes "sha256:<64 hex>" (NUL-terminated) and frees the context. */
int digest_final(struct digest *d, char out[DIGEST_STR_LEN + 1], berr_t *err);
/* Frees the context without a result (error paths); safe to call twice. */
void digest_free(struct digest *d);

/* One-shot helpers. */
int digest_buffer(const void *buf, size_t len, char out[DIGEST_STR_LEN + 1], berr_t *err);
int digest_file(const char *path, char out[DIGEST_STR_LEN + 1], uint64_t *size, berr_t *err);

/* "sha256:" followed by exactly 64 lowercase hex characters. */
bool digest_is_valid(const char *s);
/* The hex part of a valid digest ("sha256:abc…" -> "abc…"). */
const char *digest_hex(const char *digest);

#endif
