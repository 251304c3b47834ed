#include "error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static void vset(berr_t *err, enum berr_kind kind, int errnum, const char *fmt, va_list ap) {
  if (!err)
    return;
  err->kind = kind;
  err->errnum = errnum;
  int n = vsnprintf(err->msg, sizeof err->msg, fmt, ap);
  if (n < 0)
    n = 0;
  if (errnum && (size_t)n < sizeof err->msg)
    snprintf(err->msg + n, sizeof err->msg - (size_t)n, ": %s", strerror(errnum));
}

int berr_sys(berr_t *err, int errnum, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vset(err, BERR_INTERNAL, errnum, fmt, ap);
  va_end(ap);
  return -1;
}

int berr_set(berr_t *err, enum berr_kind kind, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vset(err, kind, 0, fmt, ap);
  va_end(ap);
  return -1;
}

int berr_wrap(berr_t *err, const char *fmt, ...) {
  if (!err)
    return -1;
  char prefix[BERR_MSG_MAX];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(prefix, sizeof prefix, fmt, ap);
  va_end(ap);
  char old[BERR_MSG_MAX];
  memcpy(old, err->msg, sizeof old);
  snprintf(err->msg, sizeof err->msg, "%s: %s", prefix, old);
  return -1;
}

const char *berr_kind_name(enum berr_kind kind) {
  switch (kind) {
  case BERR_INTERNAL: return "internal";
  case BERR_BAD_REQUEST: return "bad_request";
  case BERR_TOO_LARGE: return "too_large";
  case BERR_VERSION: return "version";
  case BERR_UNKNOWN_METHOD: return "unknown_method";
  case BERR_NOT_FOUND: return "not_found";
  case BERR_CONFLICT: return "conflict";
  case BERR_DENIED: return "denied";
  case BERR_LIMIT: return "limit";
  case BERR_INVALID: return "invalid";
  case BERR_REMOTE: return "remote";
  }
  return "internal";
}

void berr_clear(berr_t *err) {
  if (!err)
    return;
  err->kind = BERR_INTERNAL;
  err->errnum = 0;
  err->msg[0] = '\0';
}
