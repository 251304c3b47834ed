/* One HTTP(S) GET through libcurl, for image.blob.fetch: redirects followed
 * (at most 5; an Authorization header never follows to another host, port or
 * scheme, libcurl's rule since 7.83), a Range from an offset, the body handed
 * on as it arrives, and a stop asked for between reads. Certificates are
 * checked against the system's store unless the request is marked insecure;
 * an HTTPS URL is then never redirected to plain HTTP. No proxy: the same
 * direct connections as the client's registry requests. */
#ifndef BERTH_HTTP_H
#define BERTH_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

/* The final response (after redirects). */
struct http_response {
  long status;
  /* a 206's Content-Range start; -1 when there was none */
  int64_t range_start;
};

struct http_get {
  const char *url;
  const char *authorization; /* the header's value, or NULL */
  bool insecure;
  int64_t range_from; /* > 0: ask for the bytes from here on */
  /* Once the final response's headers are in, for a 2xx only (before any
   * body byte, or at the end when it had none): -1 (err set) ends the transfer. */
  int (*on_response)(void *ctx, const struct http_response *r, berr_t *err);
  /* Body bytes of a 2xx response; -1 (err set) ends the transfer. */
  int (*on_body)(void *ctx, const void *buf, size_t len, berr_t *err);
  /* Asked between reads and at least once a second: true ends the transfer. */
  bool (*stop)(void *ctx);
  void *ctx;
};

/* Up to this much of an error response's body is kept for its message. */
#define HTTP_ERROR_BODY_MAX (64 * 1024)

/* Runs the GET. 0: a response came whole (any status: *r says which; a
 * non-2xx body, up to HTTP_ERROR_BODY_MAX bytes, in *error_body, malloc'd,
 * NUL-terminated, NULL when there was none). -1: err says why: a callback's
 * error, "stopped", or BERR_REMOTE (no connection, cut off, TLS, a bad
 * redirect). */
int http_get(const struct http_get *g, struct http_response *r, char **error_body, berr_t *err);

/* Whether a URL may be fetched at all: http:// or https://, printable ASCII,
 * at most 4 KiB. */
bool http_url_is_acceptable(const char *url);
/* An Authorization header value: printable ASCII, no line breaks, at most 8 KiB. */
bool http_header_value_is_acceptable(const char *v);

#endif
