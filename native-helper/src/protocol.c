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

/* Strict UTF-8 (RFC 3629): no overlong forms, no UTF-16 surrogates, nothing
 * above U+10FFFF, no cut sequence. json-c's own check only looks at the shape
 * of the bytes. Returns the offset of the first bad byte, or len. */
static size_t utf8_invalid_at(const unsigned char *s, size_t len) {
  size_t i = 0;
  while (i < len) {
    unsigned char c = s[i];
    if (c < 0x80) {
      i++;
      continue;
    }
    size_t n;
    unsigned char lo = 0x80, hi = 0xbf; /* the allowed range of the second byte */
    if (c >= 0xc2 && c <= 0xdf)
      n = 1;
    else if (c >= 0xe0 && c <= 0xef) {
      n = 2;
      if (c == 0xe0)
        lo = 0xa0; /* overlong */
      else if (c == 0xed)
        hi = 0x9f; /* surrogates */
    } else if (c >= 0xf0 && c <= 0xf4) {
      n = 3;
      if (c == 0xf0)
        lo = 0x90; /* overlong */
      else if (c == 0xf4)
        hi = 0x8f; /* above U+10FFFF */
    } else {
      return i; /* a continuation byte, 0xc0/0xc1 (overlong) or 0xf5.. */
    }
    if (i + n >= len)
      return i; /* cut short */
    if (s[i + 1] < lo || s[i + 1] > hi)
      return i;
    for (size_t k = 2; k <= n; k++)
      if (s[i + k] < 0x80 || s[i + k] > 0xbf)
        return i;
    i += n + 1;
  }
  return len;
}

/* json-c cuts an object key at an escaped NUL ("all\u0000x" becomes "all"),
 * so the escape is refused wherever it is (backslashes occur only in strings). */
static bool has_escaped_nul(const char *s, size_t len) {
  for (size_t i = 0; i + 5 < len; i++) {
    if (s[i] != '\\')
      continue;
    if (s[i + 1] == 'u' && !memcmp(s + i + 2, "0000", 4))
      return true;
    i++; /* the escaped character: "\\\\" is one backslash */
  }
  return false;
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
  /* json-c clamps integers beyond int64: such an id could not be echoed as sent */
  if (json_object_is_type(id, json_type_int) &&
      (json_object_get_int64(id) == INT64_MAX || json_object_get_int64(id) == INT64_MIN))
    return berr_set(err, BERR_BAD_REQUEST, "`id` is out of range: a number id must fit in 64 bits (or use a string)");
  /* the id is known from here on: the reply can carry it */
  if (!json_object_is_type(id, json_type_string) ||
      utf8_invalid_at((const unsigned char *)json_object_get_string(id), (size_t)json_object_get_string_len(id)) ==
          (size_t)json_object_get_string_len(id))
    req->id = id;
  if (has_escaped_nul(line, len))
    return berr_set(err, BERR_BAD_REQUEST, "the line holds \\u0000: no string or key may contain a NUL character");
  size_t bad = utf8_invalid_at((const unsigned char *)line, len);
  if (bad < len)
    return berr_set(err, BERR_BAD_REQUEST, "the line is not valid UTF-8 (byte %zu, 0x%02x); requests are UTF-8 JSON",
                    bad, (unsigned char)line[bad]);
  if (!req->id)
    return berr_set(err, BERR_BAD_REQUEST, "`id` is not valid UTF-8");

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

/* A message is printed to terminals as it is: the control characters a
 * client's own text (a name, a path) may have brought in are shown as \xNN,
 * so that an escape sequence or a newline in a name cannot act on the screen. */
static void printable(const char *in, char *out, size_t size) {
  size_t o = 0;
  for (const unsigned char *p = (const unsigned char *)in; *p && o + 5 < size; p++) {
    if (*p < 0x20 || *p == 0x7f)
      o += (size_t)snprintf(out + o, size - o, "\\x%02x", *p);
    else
      out[o++] = (char)*p;
  }
  out[o] = '\0';
}

json_object *proto_error_object(const berr_t *err) {
  json_object *e = json_object_new_object();
  char msg[4 * BERR_MSG_MAX + 1];
  printable(err->msg[0] ? err->msg : "error", msg, sizeof msg);
  json_object_object_add(e, "code", json_object_new_string(berr_kind_name(err->kind)));
  json_object_object_add(e, "message", json_object_new_string(msg));
  return e;
}

json_object *proto_reply_error(json_object *id, const berr_t *err) {
  json_object *r = reply_base(id, false);
  json_object *e = proto_error_object(err);
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

int param_strv_limited(json_object *params, const char *key, char ***out, berr_t *err) {
  json_object *v = get(params, key);
  *out = NULL;
  if (v && json_object_is_type(v, json_type_array)) {
    size_t n = json_object_array_length(v);
    if (n > PROTO_MAX_STRV)
      return berr_set(err, BERR_LIMIT, "`%s` has %zu entries; at most %d are accepted", key, n, PROTO_MAX_STRV);
    for (size_t i = 0; i < n; i++) {
      json_object *s = json_object_array_get_idx(v, i);
      if (json_object_is_type(s, json_type_string) && json_object_get_string_len(s) > PROTO_MAX_STRV_BYTES)
        return berr_set(err, BERR_LIMIT, "`%s[%zu]` is %d bytes; at most %d are accepted", key, i,
                        json_object_get_string_len(s), PROTO_MAX_STRV_BYTES);
    }
  }
  return param_strv(params, key, out, err);
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
