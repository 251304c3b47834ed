/* One request line, handled as daemon.c's on_line does before it calls a
 * method: parse and check (size, NUL, JSON, id, version, method, params),
 * look the method up, build the error or ok reply and serialise it. Then the
 * typed param readers every method uses, on every key of params, and the
 * image reference check that image methods run on their `ref`-like fields. */
#include <stdint.h>
#include <string.h>

#include "fuzz-util.h"
#include "image-internal.h"
#include "protocol.h"
#include "util.h"

/* A sample of daemon.c's method names: which one matches changes nothing in
 * the parser, only whether the unknown_method reply is built. */
static const char *const methods[] = {"helper.info",     "container.create", "container.start",
                                      "container.list",  "image.pull",       "image.import",
                                      "network.create",  "volume.create",    "events.subscribe"};
#define N_METHODS (sizeof methods / sizeof methods[0])

static void check_reply(json_object *reply) {
  size_t len = 0;
  char *line = proto_reply_line(reply, &len);
  FUZZ_ASSERT(line, "no reply line");
  FUZZ_ASSERT(len > 1 && line[len - 1] == '\n' && !memchr(line, '\n', len - 1),
              "a reply must be exactly one line");
  /* what we send must parse back as one JSON object */
  json_object *back = json_tokener_parse(line);
  FUZZ_ASSERT(back && json_object_is_type(back, json_type_object), "reply is not JSON: %s", line);
  json_object_put(back);
  free(line);
  json_object_put(reply);
}

static void exercise_params(json_object *params) {
  static const char *const allowed[] = {"id", "name", "ref", "image", "force", "signal", NULL};
  berr_t err;
  (void)param_check_keys(params, "params", allowed, &err);
  json_object_object_foreach(params, key, val) {
    (void)val;
    const char *s;
    bool b;
    int64_t i;
    double d;
    char **v = NULL;
    json_object *o;
    if (param_string(params, key, true, &s, &err) == 0) {
      FUZZ_ASSERT(s && strlen(s) == (size_t)json_object_get_string_len(val), "string with a NUL");
      char ref[IMAGE_REF_MAX];
      if (image_normalize_ref(s, ref, &err) == 0) {
        FUZZ_ASSERT(ref[0] && strlen(ref) < IMAGE_REF_MAX, "empty or overlong ref");
        char name[IMAGE_REF_MAX];
        image_ref_name(ref, name);
      }
    }
    (void)param_bool(params, key, false, &b, &err);
    if (param_int(params, key, 0, -1000, 1000, &i, NULL, &err) == 0)
      FUZZ_ASSERT(i >= -1000 && i <= 1000, "param_int out of range: %lld", (long long)i);
    (void)param_number(params, key, 0, &d, NULL, &err);
    if (param_strv(params, key, &v, &err) == 0 && v)
      strv_free(v);
    (void)param_object(params, key, &o, &err);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct request req;
  berr_t err;
  berr_clear(&err);
  if (proto_parse_request((const char *)data, size, &req, &err) < 0) {
    FUZZ_ASSERT(err.msg[0], "a refused request needs a message");
    check_reply(proto_reply_error(req.id, &err));
    proto_request_free(&req);
    return 0;
  }
  FUZZ_ASSERT(req.method && req.params && req.id, "accepted request without method/params/id");
  bool known = false;
  for (size_t i = 0; i < N_METHODS && !known; i++)
    known = !strcmp(req.method, methods[i]);
  if (!known) {
    proto_unknown_method(&err, req.method, methods, N_METHODS);
    check_reply(proto_reply_error(req.id, &err));
  } else {
    check_reply(proto_reply_ok(req.id, json_object_get(req.params)));
  }
  exercise_params(req.params);
  proto_request_free(&req);
  return 0;
}
