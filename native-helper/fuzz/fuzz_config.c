/* The JSON documents berthd takes from images and clients besides the
 * request envelope: the config fields of image.import / container.commit
 * (image_apply_config: Cmd, Entrypoint, Env, WorkingDir, User, ExposedPorts,
 * Labels, StopSignal) and the container spec (spec_from_json, which also reads
 * a container's state from disk at start-up). A spec that parses must
 * serialise and parse back to the same JSON (the contract in spec.c). */
#include <stdint.h>
#include <string.h>

#include "fuzz-util.h"
#include "image-internal.h"
#include "protocol.h"
#include "spec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > PROTO_MAX_LINE)
    return 0;
  json_tokener *tok = json_tokener_new_ex(PROTO_MAX_DEPTH);
  FUZZ_ASSERT(tok, "json_tokener_new_ex");
  json_object *in = json_tokener_parse_ex(tok, (const char *)data, (int)size);
  json_tokener_free(tok);
  if (!in)
    return 0;
  berr_t err;

  /* the config a user gives image.import, applied on an image's config */
  json_object *exec_cfg = json_object_new_object();
  json_object_object_add(exec_cfg, "Env", json_object_new_array());
  if (image_apply_config(exec_cfg, in, &err) < 0)
    FUZZ_ASSERT(err.msg[0], "a refused config needs a message");
  else
    FUZZ_ASSERT(json_object_to_json_string(exec_cfg), "config does not serialise");
  json_object_put(exec_cfg);

  /* a container spec: accepted ones survive the round trip */
  struct container_spec s;
  if (spec_from_json(&s, in, &err) == 0) {
    json_object *out = spec_to_json(&s);
    spec_free(&s);
    struct container_spec s2;
    const char *once = json_object_to_json_string_ext(out, JSON_C_TO_STRING_PLAIN);
    FUZZ_ASSERT(spec_from_json(&s2, out, &err) == 0, "a serialised spec does not parse: %s\n%s", err.msg,
                once);
    json_object *again = spec_to_json(&s2);
    spec_free(&s2);
    FUZZ_ASSERT(!strcmp(once, json_object_to_json_string_ext(again, JSON_C_TO_STRING_PLAIN)),
                "spec round trip differs:\n%s\n%s", once,
                json_object_to_json_string_ext(again, JSON_C_TO_STRING_PLAIN));
    json_object_put(again);
    json_object_put(out);
  } else {
    FUZZ_ASSERT(err.msg[0], "a refused spec needs a message");
  }
  json_object_put(in);
  return 0;
}
