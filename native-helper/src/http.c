#include "http.h"

#include <curl/curl.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define HTTP_MAX_REDIRECTS 5L
#define HTTP_CONNECT_TIMEOUT_MS 30000L
/* A download that moves less than a byte a second for this long is dropped
 * (the partial stays for a resume). */
#define HTTP_STALL_SECONDS 60L
/* Bigger reads than libcurl's 16 KiB: fewer callbacks, fewer writes downstream. */
#define HTTP_BUFFER_BYTES (256L * 1024)

struct transfer {
  const struct http_get *g;
  CURL *curl;
  struct http_response resp;
  bool answered; /* on_response was called */
  bool failed;   /* a callback set err */
  bool stopped;
  char *body; /* non-2xx */
  size_t body_len;
  berr_t *err;
};

bool http_header_value_is_acceptable(const char *v) {
  size_t n = 0;
  for (const unsigned char *p = (const unsigned char *)v; *p; p++, n++)
    if (*p < 0x20 || *p > 0x7e)
      return false;
  return n <= 8192;
}

bool http_url_is_acceptable(const char *url) {
  if (strncmp(url, "http://", 7) && strncmp(url, "https://", 8))
    return false;
  return strlen(url) <= 4096 && http_header_value_is_acceptable(url) && !strchr(url, ' ');
}

/* "bytes START-END/TOTAL" -> START, or -1. */
static int64_t content_range_start(const char *v) {
  while (*v == ' ' || *v == '\t')
    v++;
  if (strncasecmp(v, "bytes ", 6))
    return -1;
  char *end;
  errno = 0;
  long long start = strtoll(v + 6, &end, 10);
  if (errno || end == v + 6 || *end != '-' || start < 0)
    return -1;
  return start;
}

static size_t on_header(char *line, size_t size, size_t n, void *ctx) {
  struct transfer *t = ctx;
  size_t len = size * n;
  /* every response (a redirect's too) starts with its status line */
  if (len >= 5 && !strncmp(line, "HTTP/", 5))
    t->resp.range_start = -1;
  static const char name[] = "content-range:";
  if (len > sizeof name - 1 && !strncasecmp(line, name, sizeof name - 1)) {
    char v[128];
    size_t vl = len - (sizeof name - 1);
    if (vl >= sizeof v)
      vl = sizeof v - 1;
    memcpy(v, line + sizeof name - 1, vl);
    v[vl] = '\0';
    t->resp.range_start = content_range_start(v);
  }
  return len;
}

static bool is_2xx(long status) { return status >= 200 && status < 300; }

/* The final response is known once its body starts, or once the transfer is
 * over (no body at all). */
static int answer(struct transfer *t) {
  if (t->answered)
    return 0;
  t->answered = true;
  long status = 0;
  curl_easy_getinfo(t->curl, CURLINFO_RESPONSE_CODE, &status);
  t->resp.status = status;
  if (!is_2xx(status))
    return 0;
  if (t->g->on_response && t->g->on_response(t->g->ctx, &t->resp, t->err) < 0) {
    t->failed = true;
    return -1;
  }
  return 0;
}

static size_t on_write(char *data, size_t size, size_t n, void *ctx) {
  struct transfer *t = ctx;
  size_t len = size * n;
  if (answer(t) < 0)
    return 0;
  if (!is_2xx(t->resp.status)) {
    size_t room = HTTP_ERROR_BODY_MAX - t->body_len;
    size_t take = len < room ? len : room;
    if (take > 0) {
      char *b = realloc(t->body, t->body_len + take + 1);
      if (!b) {
        t->failed = true;
        berr_sys(t->err, ENOMEM, "an error response's body");
        return 0;
      }
      memcpy(b + t->body_len, data, take);
      t->body = b;
      t->body_len += take;
      t->body[t->body_len] = '\0';
    }
    return len;
  }
  if (t->g->on_body(t->g->ctx, data, len, t->err) < 0) {
    t->failed = true;
    return 0;
  }
  return len;
}

static int on_xferinfo(void *ctx, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow) {
  (void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
  struct transfer *t = ctx;
  if (t->g->stop && t->g->stop(t->g->ctx)) {
    t->stopped = true;
    return 1;
  }
  return 0;
}

static int setup(struct transfer *t, struct curl_slist **headers, char *errbuf, berr_t *err) {
  const struct http_get *g = t->g;
  CURL *c = t->curl;
  bool https = !strncmp(g->url, "https://", 8);
  char range[32] = "";
  if (g->range_from > 0)
    snprintf(range, sizeof range, "%" PRId64 "-", g->range_from);
  if (g->authorization) {
    char *h = NULL;
    if (asprintf(&h, "Authorization: %s", g->authorization) < 0)
      return berr_sys(err, ENOMEM, "the Authorization header");
    struct curl_slist *l = curl_slist_append(NULL, h);
    free(h);
    if (!l)
      return berr_sys(err, ENOMEM, "the Authorization header");
    *headers = l;
  }
  CURLcode rc = CURLE_OK;
#define SET(opt, val)                                                                              \
  do {                                                                                             \
    if (rc == CURLE_OK)                                                                            \
      rc = curl_easy_setopt(c, opt, val);                                                          \
  } while (0)
  SET(CURLOPT_URL, g->url);
  SET(CURLOPT_PROTOCOLS_STR, "http,https");
  /* an HTTPS registry never hands us to plain HTTP unless the user said it is insecure */
  SET(CURLOPT_REDIR_PROTOCOLS_STR, https && !g->insecure ? "https" : "http,https");
  SET(CURLOPT_FOLLOWLOCATION, 1L);
  SET(CURLOPT_MAXREDIRS, HTTP_MAX_REDIRECTS);
  SET(CURLOPT_USERAGENT, "berth");
  SET(CURLOPT_NOSIGNAL, 1L);
  SET(CURLOPT_PROXY, "");
  SET(CURLOPT_CONNECTTIMEOUT_MS, HTTP_CONNECT_TIMEOUT_MS);
  SET(CURLOPT_LOW_SPEED_LIMIT, 1L);
  SET(CURLOPT_LOW_SPEED_TIME, HTTP_STALL_SECONDS);
  SET(CURLOPT_BUFFERSIZE, HTTP_BUFFER_BYTES);
  SET(CURLOPT_SSL_VERIFYPEER, g->insecure ? 0L : 1L);
  SET(CURLOPT_SSL_VERIFYHOST, g->insecure ? 0L : 2L);
  SET(CURLOPT_ERRORBUFFER, errbuf);
  SET(CURLOPT_HEADERFUNCTION, on_header);
  SET(CURLOPT_HEADERDATA, t);
  SET(CURLOPT_WRITEFUNCTION, on_write);
  SET(CURLOPT_WRITEDATA, t);
  SET(CURLOPT_XFERINFOFUNCTION, on_xferinfo);
  SET(CURLOPT_XFERINFODATA, t);
  SET(CURLOPT_NOPROGRESS, 0L);
  if (*headers)
    SET(CURLOPT_HTTPHEADER, *headers);
  if (range[0])
    SET(CURLOPT_RANGE, range);
#undef SET
  if (rc != CURLE_OK)
    return berr_set(err, BERR_INTERNAL, "set up the download: %s", curl_easy_strerror(rc));
  return 0;
}

/* scheme://host[:port] of a URL, for messages (never its path or query: a
 * redirect's may carry a signature). */
static void url_origin(const char *url, char *out, size_t size) {
  const char *p = strstr(url, "://");
  size_t n = p ? (size_t)(strcspn(p + 3, "/?#") + (size_t)(p + 3 - url)) : strlen(url);
  snprintf(out, size, "%.*s", (int)n, url);
}

int http_get(const struct http_get *g, struct http_response *r, char **error_body, berr_t *err) {
  *error_body = NULL;
  static bool ready;
  if (!ready) {
    CURLcode rc = curl_global_init(CURL_GLOBAL_DEFAULT);
    if (rc != CURLE_OK)
      return berr_set(err, BERR_INTERNAL, "curl_global_init: %s", curl_easy_strerror(rc));
    ready = true;
  }
  struct transfer t = {.g = g, .resp = {.range_start = -1}, .err = err};
  t.curl = curl_easy_init();
  if (!t.curl)
    return berr_set(err, BERR_INTERNAL, "curl_easy_init failed");
  struct curl_slist *headers = NULL;
  char errbuf[CURL_ERROR_SIZE] = "";
  int ret = setup(&t, &headers, errbuf, err);
  if (ret == 0) {
    CURLcode rc = curl_easy_perform(t.curl);
    char where[256];
    char *last = NULL;
    if (curl_easy_getinfo(t.curl, CURLINFO_EFFECTIVE_URL, &last) != CURLE_OK || !last)
      last = (char *)g->url;
    url_origin(last, where, sizeof where);
    if (t.failed)
      ret = -1;
    else if (t.stopped)
      ret = berr_set(err, BERR_INTERNAL, "cancelled: the client went away");
    else if (rc != CURLE_OK)
      ret = berr_set(err, BERR_REMOTE, "%s: %s", where, errbuf[0] ? errbuf : curl_easy_strerror(rc));
    else if (answer(&t) < 0)
      ret = -1;
    else if (t.resp.status >= 300 && t.resp.status < 400)
      ret = berr_set(err, BERR_REMOTE, "%s answered %ld without a place to go (or past %ld redirects)", where,
                     t.resp.status, HTTP_MAX_REDIRECTS);
  }
  curl_slist_free_all(headers);
  curl_easy_cleanup(t.curl);
  if (ret < 0) {
    free(t.body);
    return -1;
  }
  *r = t.resp;
  *error_body = t.body;
  return 0;
}
