#include "digest.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"

int digest_init(struct digest *d, berr_t *err) {
  d->bytes = 0;
  EVP_MD_CTX *ctx = EVP_MD_CTX_new();
  if (!ctx)
    return berr_sys(err, ENOMEM, "EVP_MD_CTX_new");
  if (EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
    EVP_MD_CTX_free(ctx);
    return berr_set(err, BERR_INTERNAL, "EVP_DigestInit_ex(sha256) failed");
  }
  d->ctx = ctx;
  return 0;
}

int digest_update(struct digest *d, const void *buf, size_t len, berr_t *err) {
  if (len == 0)
    return 0;
  if (EVP_DigestUpdate(d->ctx, buf, len) != 1)
    return berr_set(err, BERR_INTERNAL, "EVP_DigestUpdate failed");
  d->bytes += len;
  return 0;
}

int digest_final(struct digest *d, char out[DIGEST_STR_LEN + 1], berr_t *err) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int mdlen = 0;
  int ok = EVP_DigestFinal_ex(d->ctx, md, &mdlen) == 1 && mdlen == 32;
  digest_free(d);
  if (!ok)
    return berr_set(err, BERR_INTERNAL, "EVP_DigestFinal_ex failed");
  static const char hex[] = "0123456789abcdef";
  memcpy(out, "sha256:", 7);
  for (unsigned i = 0; i < 32; i++) {
    out[7 + 2 * i] = hex[md[i] >> 4];
    out[8 + 2 * i] = hex[md[i] & 15];
  }
  out[DIGEST_STR_LEN] = '\0';
  return 0;
}

void digest_free(struct digest *d) {
  if (d->ctx)
    EVP_MD_CTX_free(d->ctx);
  d->ctx = NULL;
}

int digest_buffer(const void *buf, size_t len, char out[DIGEST_STR_LEN + 1], berr_t *err) {
  struct digest d;
  if (digest_init(&d, err) < 0)
    return -1;
  if (digest_update(&d, buf, len, err) < 0) {
    digest_free(&d);
    return -1;
  }
  return digest_final(&d, out, err);
}

int digest_file(const char *path, char out[DIGEST_STR_LEN + 1], uint64_t *size, berr_t *err) {
  cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return berr_sys(err, errno, "open `%s`", path);
  struct digest d;
  if (digest_init(&d, err) < 0)
    return -1;
  char buf[65536];
  for (;;) {
    ssize_t r = read(fd, buf, sizeof buf);
    if (r < 0 && errno == EINTR)
      continue;
    if (r < 0) {
      int e = errno;
      digest_free(&d);
      return berr_sys(err, e, "read `%s`", path);
    }
    if (r == 0)
      break;
    if (digest_update(&d, buf, (size_t)r, err) < 0) {
      digest_free(&d);
      return -1;
    }
  }
  if (size)
    *size = d.bytes;
  return digest_final(&d, out, err);
}

bool digest_is_valid(const char *s) {
  if (!s || strncmp(s, "sha256:", 7) != 0 || strlen(s) != DIGEST_STR_LEN)
    return false;
  for (const char *p = s + 7; *p; p++)
    if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
      return false;
  return true;
}

const char *digest_hex(const char *digest) { return digest + 7; }
