/* image.blob.fetch: berthd downloads a blob itself, from the URL the client
 * resolved on its registry (with the client's Authorization header), so that
 * a pull's bytes cross no other process: one worker receives, hashes, keeps
 * and extracts them. It connects from the client's network namespace: the
 * registry the client reached (a loopback one too) is the one it reaches. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blob-upload.h"
#include "blob.h"
#include "cleanup.h"
#include "http.h"
#include "peer.h"
#include "worker.h"

struct fetch {
  struct blob_upload *u;
  const struct blob_fetch_req *req;
  int64_t asked;     /* the Range start asked for; 0: the whole blob */
  bool range_ignored; /* a 206 for another range: ask again for all */
};

/* The response's progress event: its status, and where the blob continues. */
static int tell_response(struct fetch *f, long status, int64_t offset, berr_t *err) {
  json_object *ev = blob_progress_event("response", f->req->blob.digest, -1, f->req->blob.size);
  if (status > 0)
    json_object_object_add(ev, "status", json_object_new_int64(status));
  json_object_object_add(ev, "offset", json_object_new_int64(offset));
  return worker_progress(f->u->w, ev, err);
}

static int on_response(void *ctx, const struct http_response *r, berr_t *err) {
  struct fetch *f = ctx;
  int64_t from = 0;
  if (r->status == 206) {
    if (f->asked <= 0 || r->range_start != f->asked) {
      f->range_ignored = true;
      return berr_set(err, BERR_REMOTE, "the registry answered a range from %" PRId64 ", not from %" PRId64,
                      r->range_start, f->asked);
    }
    from = f->asked;
  } else if (r->status != 200) {
    return berr_set(err, BERR_REMOTE, "the registry answered %ld for blob %s", r->status, f->req->blob.digest);
  }
  if (tell_response(f, r->status, from, err) < 0)
    return -1;
  return blob_upload_begin(f->u, from, err);
}

static int on_body(void *ctx, const void *buf, size_t len, berr_t *err) {
  struct fetch *f = ctx;
  return blob_upload_write(f->u, buf, len, err);
}

static bool client_gone(void *ctx) {
  struct fetch *f = ctx;
  return worker_client_gone(f->u->w);
}

/* The registry's own words from an error body ({"errors": [{"code",
 * "message"}]}), else the body's first line, into out. */
static void registry_message(const char *body, char *out, size_t size) {
  out[0] = '\0';
  if (!body)
    return;
  json_object *j = json_tokener_parse(body);
  json_object *errors = NULL, *e0 = NULL, *code = NULL, *msg = NULL;
  if (j && json_object_object_get_ex(j, "errors", &errors) && json_object_is_type(errors, json_type_array) &&
      (e0 = json_object_array_get_idx(errors, 0)) && json_object_is_type(e0, json_type_object)) {
    json_object_object_get_ex(e0, "code", &code);
    json_object_object_get_ex(e0, "message", &msg);
    const char *c = json_object_is_type(code, json_type_string) ? json_object_get_string(code) : NULL;
    const char *m = json_object_is_type(msg, json_type_string) ? json_object_get_string(msg) : NULL;
    snprintf(out, size, "%.100s%s%.200s", c ? c : "", c && m ? ": " : "", m ? m : "");
  } else {
    size_t n = strcspn(body, "\r\n");
    snprintf(out, size, "%.*s", (int)(n < 200 ? n : 200), body);
  }
  json_object_put(j);
  /* a message is one line of printable text */
  for (char *p = out; *p; p++)
    if ((unsigned char)*p < 0x20 || (unsigned char)*p == 0x7f)
      *p = ' ';
}

int blob_fetch(struct worker *w, const char *root, const struct blob_fetch_req *req,
               json_object **result, berr_t *err) {
  if (peer_join_netns(w->fd, err) < 0)
    return -1;
  const struct blob_put_req *blob = &req->blob;
  struct blob_upload u;
  int r = blob_upload_open(&u, w, root, blob, err);
  struct fetch f = {.u = &u, .req = req};
  if (r == 0 && u.kept == blob->size && blob->size > 0) {
    /* every byte was kept (an upload ended before its blob was stored) */
    r = tell_response(&f, 0, u.kept, err);
    if (r == 0)
      r = blob_upload_begin(&u, u.kept, err);
  } else if (r == 0) {
    /* a kept part is resumed with a Range; a registry that gives another
     * range or none (416) is asked again for the whole blob */
    f.asked = u.kept < blob->size ? u.kept : 0;
    for (;;) {
      struct http_get g = {
          .url = req->url,
          .authorization = req->authorization[0] ? req->authorization : NULL,
          .insecure = req->insecure,
          .range_from = f.asked,
          .on_response = on_response,
          .on_body = on_body,
          .stop = client_gone,
          .ctx = &f,
      };
      struct http_response resp;
      cleanup_free char *body = NULL;
      r = http_get(&g, &resp, &body, err);
      if (r < 0 && f.range_ignored && f.asked > 0) {
        f.asked = 0;
        f.range_ignored = false;
        continue;
      }
      if (r < 0)
        break;
      if (resp.status == 416 && f.asked > 0) {
        f.asked = 0;
        continue;
      }
      if (resp.status < 200 || resp.status >= 300) {
        char said[320];
        registry_message(body, said, sizeof said);
        if (tell_response(&f, resp.status, 0, err) < 0)
          r = -1;
        else
          r = berr_set(err, BERR_REMOTE, "the registry answered %ld for blob %s%s%s", resp.status, blob->digest,
                       said[0] ? ": " : "", said);
      }
      break;
    }
  }
  if (r == 0)
    r = blob_upload_end(&u, result, err);
  blob_upload_close(&u);
  return r;
}
