/* One error type threaded through every call (crun's libcrun_error_t idea):
 * functions return a negative value on failure and fill *err with the errno
 * and a message naming the syscall and the path involved. */
#ifndef BERTH_ERROR_H
#define BERTH_ERROR_H

#include <stddef.h>

#define BERR_MSG_MAX 512

/* Protocol error codes (docs/protocol.md). */
enum berr_kind {
  BERR_INTERNAL = 0, /* a syscall or library call failed */
  BERR_BAD_REQUEST,  /* malformed JSON, missing or mistyped field */
  BERR_TOO_LARGE,    /* message over the size limit */
  BERR_VERSION,      /* protocol version mismatch */
  BERR_UNKNOWN_METHOD,
  BERR_NOT_FOUND,    /* no such container / image */
  BERR_CONFLICT,     /* name in use, wrong state for the operation */
  BERR_DENIED,       /* peer not allowed */
  BERR_LIMIT,        /* a configured limit was hit (size cap, ...) */
  BERR_INVALID,      /* a value is out of range (memory limit, cpus, ...) */
  BERR_REMOTE,       /* a server fetched from for the client failed or refused (image.blob.fetch) */
};

typedef struct berr {
  enum berr_kind kind;
  int errnum;              /* errno, 0 when not from a syscall */
  char msg[BERR_MSG_MAX];  /* "mount overlay on `/x/merged`: Permission denied" */
} berr_t;

/* Sets err from errno-style errnum; appends ": strerror(errnum)" when errnum != 0.
 * Always returns -1 so callers can `return berr_sys(err, errno, "open `%s`", p);` */
int berr_sys(berr_t *err, int errnum, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Sets a non-syscall error of the given kind. Returns -1. */
int berr_set(berr_t *err, enum berr_kind kind, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prefixes the existing message: "context: old message". Returns -1. */
int berr_wrap(berr_t *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The protocol's string for a kind: "internal", "bad_request", ... */
const char *berr_kind_name(enum berr_kind kind);

void berr_clear(berr_t *err);

#endif
