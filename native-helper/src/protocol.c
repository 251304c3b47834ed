#include "protocol.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

bool json_string_is_clean(json_object *s) {
  if (!json_object_is_type(s, json_type_string))
    return false;
  const char *p = json_object_get_string(s);
  return strlen(p) == (size_t)json_object_get_string_len(s);
}

static json_object *get(json_object *o, const char *key) {
  json_object *v = NULL;
  if (!o || !json_object_object_get_ex(o, key, &v))
    return NULL;
  return v; /* NULL too for a JSON null */
}

int proto_parse_request(const char *line, size_t len, struct request *req, berr_t *err) {
  memset(req, 0, sizeof *req);
  if (len + 1 > PROTO_MAX_LINE)
    return berr_set(err, BERR_TOO_LARGE, "the line is %zu bytes; the limit is %d including the newline",
                    len + 1, PROTO_MAX_LINE);
  if (memchr(line, '\0', len))
    return berr_set(err, BERR_BAD_REQUEST, "the line holds a NUL byte; it must be one JSON object");

  json_tokener *tok = json_tokener_new_ex(PROTO_MAX_DEPTH);
  if (!tok)
    return berr_sys(err, ENOMEM, "json_tokener_new");
  json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
  json_object *root = json_tokener_parse_ex(tok, line, (int)len);
  enum json_tokener_error jerr = json_tokener_get_error(tok);
  size_t used = tok->char_offset;
  json_tokener_free(tok);
  if (!root || jerr != json_tokener_success) {
    json_object_put(root);
    if (jerr == json_tokener_continue)
      return berr_set(err, BERR_BAD_REQUEST, "the line is not a complete JSON value");
    return berr_set(err, BERR_BAD_REQUEST, "the line is not JSON: %s at byte %zu",
                    json_tokener_error_desc(jerr), used);
  }
  for (size_t i = used; i < len; i++)
    if (line[i] != ' ' && line[i] != '\t' && line[i] != '\r') {
      json_object_put(root);
      return berr_set(err, BERR_BAD_REQUEST, "unexpected data after the JSON object at byte %zu", i);
    }
  req->root = root;
  if (!json_object_is_type(root, json_type_object))
    return berr_set(err, BERR_BAD_REQUEST, "a request must be a JSON object");

  json_object *id = get(root, "id");
  if (!id)
    return berr_set(err, BERR_BAD_REQUEST, "the request has no `id` (a number or a string)");
  if (json_object_is_type(id, json_type_string) ? !json_string_is_clean(id) || json_object_get_string_len(id) > 256
                                                : !json_object_is_type(id, json_type_int) &&
                                                      !json_object_is_type(id, json_type_double))
    return berr_set(err, BERR_BAD_REQUEST, "`id` must be a number or a string of at most 256 bytes");
  if (json_object_is_type(id, json_type_double) && !isfinite(json_object_get_double(id)))
    return berr_set(err, BERR_BAD_REQUEST, "`id` must be a finite number");
  req->id = id;

  json_object *v = get(root, "v");
  if (!v)
    return berr_set(err, BERR_BAD_REQUEST, "the request has no `v` (the protocol version, %d)",
                    PROTO_VERSION);
  if (!json_object_is_type(v, json_type_int) && !json_object_is_type(v, json_type_double))
    return berr_set(err, BERR_BAD_REQUEST, "`v` must be a number (the protocol version, %d)",
                    PROTO_VERSION);
  if (!json_object_is_type(v, json_type_int) || json_object_get_int64(v) != PROTO_VERSION)
    return berr_set(err, BERR_VERSION,
                    "berthd speaks protocol %d; this client sent %.32s: update one of them",
                    PROTO_VERSION, json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN));

  json_object *method = get(root, "method");
  if (!method || !json_string_is_clean(method))
    return berr_set(err, BERR_BAD_REQUEST, "`method` must be a string");
  req->method = json_object_get_string(method);

  json_object *params = get(root, "params");
  if (!params) {
    params = json_object_new_object();
    json_object_object_add(root, "params", params); /* root keeps it alive */
  } else if (!json_object_is_type(params, json_type_object)) {
    return berr_set(err, BERR_BAD_REQUEST, "`params` must be an object");
  }
  req->params = params;
  return 0;
}

void proto_request_free(struct request *req) {
  json_object_put(req->root);
  memset(req, 0, sizeof *req);
}

static json_object *reply_base(json_object *id, bool ok) {
  json_object *r = json_object_new_object();
  json_object_object_add(r, "v", json_object_new_int(PROTO_VERSION));
  json_object_object_add(r, "id", id ? json_object_get(id) : NULL);
  json_object_object_add(r, "ok", json_object_new_boolean(ok));
  return r;
}

json_object *proto_reply_ok(json_object *id, json_object *result) {
  json_object *r = reply_base(id, true);
  json_object_object_add(r, "result", result ? result : json_object_new_object());
  return r;
}

json_object *proto_reply_error(json_object *id, const berr_t *err) {
  json_object *r = reply_base(id, false);
  json_object *e = json_object_new_object();
  json_object_object_add(e, "code", json_object_new_string(berr_kind_name(err->kind)));
  json_object_object_add(e, "message", json_object_new_string(err->msg[0] ? err->msg : "error"));
  json_object_object_add(r, "error", e);
  return r;
}

char *proto_reply_line(json_object *reply, size_t *len) {
  size_t n = 0;
  const char *s = json_object_to_json_string_length(
      reply, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &n);
  char *line = malloc(n + 2);
  if (!line)
    return NULL;
  memcpy(line, s, n);
  line[n] = '\n';
  line[n + 1] = '\0';
  *len = n + 1;
  return line;
}

int proto_unknown_method(berr_t *err, const char *method, const char *const *names, size_t n) {
  char list[BERR_MSG_MAX] = "";
  size_t used = 0;
  for (size_t i = 0; i < n && used < sizeof list; i++)
    used += (size_t)snprintf(list + used, sizeof list - used, "%s%s", i ? ", " : "", names[i]);
  return berr_set(err, BERR_UNKNOWN_METHOD, "unknown method '%.64s'; berthd knows: %s", method,
                  list);
}

int param_check_keys(json_object *obj, const char *what, const char *const *allowed, berr_t *err) {
  json_object_object_foreach(obj, key, val) {
    (void)val;
    bool ok = false;
    for (size_t i = 0; allowed[i] && !ok; i++)
      ok = !strcmp(key, allowed[i]);
    if (!ok) {
      char list[300] = "";
      size_t used = 0;
      for (size_t i = 0; allowed[i] && used < sizeof list; i++)
        used += (size_t)snprintf(list + used, sizeof list - used, "%s%s", i ? ", " : "", allowed[i]);
      return berr_set(err, BERR_BAD_REQUEST, "unknown field `%.64s` in %s (known: %s)", key, what,
                      list);
    }
  }
  return 0;
}

int param_string(json_object *params, const char *key, bool required, const char **out,
                 berr_t *err) {
  json_object *v = get(params, key);
  *out = NULL;
  if (!v) {
    if (required)
      return berr_set(err, BERR_BAD_REQUEST, "`%s` is required (a string)", key);
    return 0;
  }
  if (!json_object_is_type(v, json_type_string))
    return berr_set(err, BERR_BAD_REQUEST, "`%s` must be a string", key);
  if (!json_string_is_clean(v))
    return berr_set(err, BERR_BAD_REQUEST, "`%s` must not contain a NUL character", key);
  *out = json_object_get_string(v);
  return 0;
}

int param_bool(json_object *params, const char *key, bool def, bool *out, berr_t *err) {
  json_object *v = get(params, key);
  *out = def;
  if (!v)
    return 0;
  if (!json_object_is_type(v, json_type_boolean))
    return berr_set(err, BERR_BAD_REQUEST, "`%s` must be true or false", key);
  *out = json_object_get_boolean(v);
  return 0;
}

int param_int(json_object *params, const char *key, int64_t def, int64_t min, int64_t max,
              int64_t *out, bool *given, berr_t *err) {
  json_object *v = get(params, key);
  *out = def;
  if (given)
    *given = v != NULL;
  if (!v)
    return 0;
  int64_t x;
  if (json_object_is_type(v, json_type_int)) {
    errno = 0;
    x = json_object_get_int64(v);
    /* json-c clamps values beyond int64 */
    if (x == INT64_MAX || x == INT64_MIN)
      return berr_set(err, BERR_INVALID, "`%s` is out of range (%" PRId64 "..%" PRId64 ")", key,
                      min, max);
  } else if (json_object_is_type(v, json_type_double)) {
    double d = json_object_get_double(v);
    if (!isfinite(d) || d < -9e18 || d > 9e18 || d != (double)(int64_t)d)
      return berr_set(err, BERR_BAD_REQUEST, "`%s` must be an integer", key);
    x = (int64_t)d;
  } else {
    return berr_set(err, BERR_BAD_REQUEST, "`%s` must be an integer", key);
  }
  if (x < min || x > max)
    return berr_set(err, BERR_INVALID, "`%s` is %" PRId64 "; it must be in %" PRId64 "..%" PRId64,
                    key, x, min, max);
  *out = x;
  return 0;
}

int param_number(json_object *params, const char *key, double def, double *out, bool *given,
                 berr_t *err) {
  json_object *v = get(params, key);
  *out = def;
  if (given)
    *given = v != NULL;
  if (!v)
    return 0;
  if (!json_object_is_type(v, json_type_int) && !json_object_is_type(v, json_type_double))
    return berr_set(err, BERR_BAD_REQUEST, "`%s` must be a number", key);
  double d = json_object_get_double(v);
  if (!isfinite(d))
    return berr_set(err, BERR_INVALID, "`%s` must be a finite number", key);
  *out = d;
  return 0;
}

int param_strv(json_object *params, const char *key, char ***out, berr_t *err) {
  json_object *v = get(params, key);
  *out = NULL;
  if (!v)
    return 0;
  if (!json_object_is_type(v, json_type_array))
    return berr_set(err, BERR_BAD_REQUEST, "`%s` must be an array of strings", key);
  size_t n = json_object_array_length(v);
  for (size_t i = 0; i < n; i++)
    if (!json_string_is_clean(json_object_array_get_idx(v, i)))
      return berr_set(err, BERR_BAD_REQUEST, "`%s[%zu]` must be a string without NUL characters",
                      key, i);
  return strv_from_json(v, out, key, err);
}

int param_object(json_object *params, const char *key, json_object **out, berr_t *err) {
  json_object *v = get(params, key);
  *out = NULL;
  if (!v)
    return 0;
  if (!json_object_is_type(v, json_type_object))
    return berr_set(err, BERR_BAD_REQUEST, "`%s` must be an object", key);
  *out = v;
  return 0;
}
