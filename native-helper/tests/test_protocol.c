/* Request parsing and replies (docs/protocol.md): well-formed requests,
 * malformed JSON, oversized lines, wrong versions, ids kept for errors,
 * unknown methods, typed params. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol.h"
#include "tap.h"

static int parse(const char *line, struct request *req, berr_t *err) {
  berr_clear(err);
  return proto_parse_request(line, strlen(line), req, err);
}

static const char *reply_text(json_object *reply) {
  static char buf[2048];
  size_t len;
  char *line = proto_reply_line(reply, &len);
  snprintf(buf, sizeof buf, "%s", line ? line : "");
  free(line);
  json_object_put(reply);
  return buf;
}

int main(void) {
  TAP_PLAN(52);
  struct request req;
  berr_t err;

  TAP_OK(parse("{\"v\":1,\"id\":7,\"method\":\"container.list\",\"params\":{\"all\":true}}", &req, &err) == 0,
         "a well-formed request parses");
  TAP_OK(req.method && !strcmp(req.method, "container.list"), "method is read");
  TAP_OK(json_object_get_int(req.id) == 7, "numeric id is read");
  bool all = false;
  TAP_OK(param_bool(req.params, "all", false, &all, &err) == 0 && all, "params are read");
  TAP_OK(!strcmp(reply_text(proto_reply_ok(req.id, json_object_new_object())),
                 "{\"v\":1,\"id\":7,\"ok\":true,\"result\":{}}\n"),
         "ok reply echoes the id and ends with a newline");
  proto_request_free(&req);

  TAP_OK(parse("{\"v\":1,\"id\":\"abc\",\"method\":\"hello\"}", &req, &err) == 0 && req.params &&
             json_object_is_type(req.params, json_type_object),
         "params may be omitted: an empty object is supplied");
  TAP_OK(!strcmp(json_object_get_string(req.id), "abc"), "string id is read");
  proto_request_free(&req);

  TAP_OK(parse("not json", &req, &err) < 0 && err.kind == BERR_BAD_REQUEST && !req.id,
         "not JSON: bad_request with no id");
  {
    const char *t = reply_text(proto_reply_error(req.id, &err));
    TAP_OK(strstr(t, "\"id\":null,\"ok\":false,\"error\":{\"code\":\"bad_request\"") != NULL,
           "error reply carries id null and code bad_request: %.80s", t);
  }
  proto_request_free(&req);
  TAP_OK(parse("{\"v\":1,\"id\":1,\"method\":\"hello\"", &req, &err) < 0 && err.kind == BERR_BAD_REQUEST,
         "truncated JSON is bad_request");
  proto_request_free(&req);
  TAP_OK(parse("[1,2,3]", &req, &err) < 0 && err.kind == BERR_BAD_REQUEST, "an array is bad_request");
  proto_request_free(&req);
  TAP_OK(parse("{\"v\":1,\"id\":1,\"method\":\"hello\"} {}", &req, &err) < 0 && err.kind == BERR_BAD_REQUEST,
         "trailing data is bad_request");
  proto_request_free(&req);
  TAP_OK(parse("{\"v\":1,\"id\":1,\"method\":\"hello\",}", &req, &err) < 0, "trailing comma refused (strict)");
  proto_request_free(&req);
  TAP_OK(parse("{\"v\":1,\"id\":1,\"method\":\"hello\",\"params\":{\"x\":\"\xff\"}}", &req, &err) < 0 &&
             err.kind == BERR_BAD_REQUEST,
         "invalid UTF-8 refused");
  proto_request_free(&req);
  {
    char deep[200] = "{\"v\":1,\"id\":1,\"method\":\"hello\",\"params\":{\"a\":";
    for (int i = 0; i < 60; i++)
      strcat(deep, "[");
    TAP_OK(parse(deep, &req, &err) < 0 && err.kind == BERR_BAD_REQUEST, "deep nesting refused");
    proto_request_free(&req);
  }
  {
    const char line[] = "{\"v\":1,\"id\":1,\"method\":\"he\0llo\"}";
    berr_clear(&err);
    TAP_OK(proto_parse_request(line, sizeof line - 1, &req, &err) < 0 && err.kind == BERR_BAD_REQUEST,
           "a raw NUL byte in the line is bad_request");
    proto_request_free(&req);
  }
  TAP_OK(parse("{\"v\":1,\"id\":1,\"method\":\"he\\u0000llo\"}", &req, &err) < 0 && err.kind == BERR_BAD_REQUEST,
         "an escaped NUL in the method is bad_request");
  proto_request_free(&req);

  TAP_OK(parse("{\"v\":2,\"id\":9,\"method\":\"hello\"}", &req, &err) < 0 && err.kind == BERR_VERSION,
         "v 2 is a version error");
  TAP_OK(strstr(err.msg, "berthd speaks protocol 1; this client sent 2: update one of them") != NULL,
         "the version message says which versions: %s", err.msg);
  TAP_OK(req.id && json_object_get_int(req.id) == 9, "the version error keeps the id");
  TAP_OK(strstr(reply_text(proto_reply_error(req.id, &err)), "\"code\":\"version\""), "code is `version`");
  proto_request_free(&req);
  TAP_OK(parse("{\"id\":9,\"method\":\"hello\"}", &req, &err) < 0 && err.kind == BERR_BAD_REQUEST &&
             req.id,
         "missing v is bad_request, id kept");
  proto_request_free(&req);
  TAP_OK(parse("{\"v\":\"1\",\"id\":9,\"method\":\"hello\"}", &req, &err) < 0 && err.kind == BERR_BAD_REQUEST,
         "a string v is bad_request");
  proto_request_free(&req);
  TAP_OK(parse("{\"v\":1,\"method\":\"hello\"}", &req, &err) < 0 && err.kind == BERR_BAD_REQUEST && !req.id,
         "missing id is bad_request with id null");
  proto_request_free(&req);
  TAP_OK(parse("{\"v\":1,\"id\":[1],\"method\":\"hello\"}", &req, &err) < 0 && !req.id,
         "an array id is refused and not echoed");
  proto_request_free(&req);
  TAP_OK(parse("{\"v\":1,\"id\":3,\"method\":7}", &req, &err) < 0 && err.kind == BERR_BAD_REQUEST && req.id,
         "a non-string method is bad_request");
  proto_request_free(&req);
  TAP_OK(parse("{\"v\":1,\"id\":3,\"method\":\"hello\",\"params\":[]}", &req, &err) < 0 &&
             err.kind == BERR_BAD_REQUEST,
         "array params are bad_request");
  proto_request_free(&req);

  /* size: the limit counts the newline */
  size_t n = PROTO_MAX_LINE + 10;
  char *big = malloc(n);
  memset(big, ' ', n);
  memcpy(big, "{\"v\":1,\"id\":1,\"method\":\"hello\"}", 31);
  berr_clear(&err);
  TAP_OK(proto_parse_request(big, PROTO_MAX_LINE - 1, &req, &err) == 0, "a line of exactly 1 MiB with its newline is fine");
  proto_request_free(&req);
  berr_clear(&err);
  TAP_OK(proto_parse_request(big, PROTO_MAX_LINE, &req, &err) < 0 && err.kind == BERR_TOO_LARGE,
         "one byte more is too_large");
  proto_request_free(&req);
  free(big);

  const char *names[] = {"hello", "container.list"};
  proto_unknown_method(&err, "container.fly", names, 2);
  TAP_OK(err.kind == BERR_UNKNOWN_METHOD && strstr(err.msg, "container.fly") &&
             strstr(err.msg, "hello, container.list"),
         "unknown method lists the known ones: %s", err.msg);

  /* strict UTF-8: json-c's own check lets these through */
  {
    static const struct {
      const char *bytes, *what;
    } bad[] = {{"\xc0\xaf", "an overlong slash"},
               {"\xe0\x80\xaf", "an overlong three-byte form"},
               {"\xed\xa0\x80", "a UTF-16 surrogate"},
               {"\xf4\x90\x80\x80", "a code point above U+10FFFF"},
               {"\xf8\x88\x80\x80\x80", "a five-byte form"},
               {"\x80", "a lone continuation byte"}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
      char line[128];
      snprintf(line, sizeof line, "{\"v\":1,\"id\":1,\"method\":\"hel%slo\"}", bad[i].bytes);
      TAP_OK(parse(line, &req, &err) < 0 && err.kind == BERR_BAD_REQUEST && strcasestr(err.msg, "UTF-8"),
             "%s is refused: %s", bad[i].what, err.msg);
      proto_request_free(&req);
    }
    TAP_OK(parse("{\"v\":1,\"id\":\"\xf0\x9f\x98\x80 \xc3\xa9 \xe2\x82\xac \xf4\x8f\xbf\xbf\",\"method\":\"hello\"}", &req,
                 &err) == 0,
           "valid UTF-8 of every length passes");
    proto_request_free(&req);
  }
  TAP_OK(parse("{\"v\":1,\"id\":9,\"method\":\"hel\xed\xa0\x80lo\"}", &req, &err) < 0 && req.id &&
             json_object_get_int(req.id) == 9,
         "a bad line with a readable id keeps the id for the reply");
  proto_request_free(&req);
  /* json-c would cut the key at the NUL: "all\u0000x" must not become "all" */
  TAP_OK(parse("{\"v\":1,\"id\":3,\"method\":\"container.list\",\"params\":{\"all\\u0000x\":true}}", &req, &err) < 0 &&
             err.kind == BERR_BAD_REQUEST && strstr(err.msg, "NUL") && req.id,
         "an escaped NUL in a key is refused: %s", err.msg);
  proto_request_free(&req);
  TAP_OK(parse("{\"v\":1,\"id\":\"a\\\\u0000\",\"method\":\"hello\"}", &req, &err) == 0,
         "an escaped backslash before u0000 is just text");
  proto_request_free(&req);
  /* an id json-c would clamp could not be echoed as sent */
  TAP_OK(parse("{\"v\":1,\"id\":99999999999999999999,\"method\":\"hello\"}", &req, &err) < 0 &&
             err.kind == BERR_BAD_REQUEST && strstr(err.msg, "out of range"),
         "an id beyond 64 bits is refused: %s", err.msg);
  proto_request_free(&req);
  TAP_OK(parse("{\"v\":1,\"id\":-9223372036854775807,\"method\":\"hello\"}", &req, &err) == 0,
         "an id inside 64 bits is kept");
  proto_request_free(&req);

  /* typed params */
  json_object *p = json_tokener_parse(
      "{\"s\":\"x\",\"n\":5,\"d\":2.5,\"b\":true,\"a\":[\"x\",\"y\"],\"bad\":[1],\"nul\":\"a\\u0000b\",\"z\":null}");
  const char *s;
  int64_t i64;
  double d;
  char **v;
  TAP_OK(param_string(p, "s", true, &s, &err) == 0 && !strcmp(s, "x"), "string param");
  TAP_OK(param_string(p, "missing", true, &s, &err) < 0 && err.kind == BERR_BAD_REQUEST,
         "missing required string is bad_request");
  TAP_OK(param_string(p, "z", false, &s, &err) == 0 && s == NULL, "null means not given");
  TAP_OK(param_string(p, "nul", false, &s, &err) < 0, "a string with NUL is refused");
  TAP_OK(param_int(p, "n", 0, 1, 4, &i64, NULL, &err) < 0 && err.kind == BERR_INVALID,
         "int out of range is invalid");
  TAP_OK(param_int(p, "d", 0, 0, 10, &i64, NULL, &err) < 0 && err.kind == BERR_BAD_REQUEST,
         "a fraction is not an integer");
  TAP_OK(param_number(p, "d", 0, &d, NULL, &err) == 0 && d == 2.5, "number param");
  TAP_OK(param_strv(p, "a", &v, &err) == 0 && v && !strcmp(v[1], "y") && !v[2], "string array param");
  free(v[0]);
  free(v[1]);
  free(v);
  TAP_OK(param_strv(p, "bad", &v, &err) < 0 && err.kind == BERR_BAD_REQUEST, "array of numbers refused");
  static const char *const allowed[] = {"s", "n", NULL};
  TAP_OK(param_check_keys(p, "test", allowed, &err) < 0 && strstr(err.msg, "unknown field"),
         "unknown keys are named: %s", err.msg);
  json_object_put(p);
  TAP_DONE();
}
