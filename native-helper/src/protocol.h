/* The JSON-lines wire format of docs/protocol.md: request parsing (version,
 * size and type checks), reply building, and typed access to request params
 * that treats every field as hostile input. */
#ifndef BERTH_PROTOCOL_H
#define BERTH_PROTOCOL_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

#define PROTO_VERSION 1
#define PROTO_MAX_LINE 1048576 /* bytes, including the newline */
#define PROTO_MAX_DEPTH 32     /* JSON nesting a request may use */

struct request {
  json_object *root;   /* the parsed line (owned) */
  json_object *id;     /* borrowed from root; NULL when it could not be read */
  const char *method;  /* borrowed from root */
  json_object *params; /* borrowed from root; an empty object when omitted */
};

/* Parses one line (without its newline). On failure err says why (bad_request
 * or version) and req->id is still set when the id could be read, so that the
 * error reply can carry it. Always call proto_request_free. */
int proto_parse_request(const char *line, size_t len, struct request *req, berr_t *err);
void proto_request_free(struct request *req);

/* Replies. id may be NULL (JSON null); both take ownership of result. */
json_object *proto_reply_ok(json_object *id, json_object *result);
/* {"code", "message"} of an error, control characters in the message shown
 * as \xNN (for reply lines and ERROR frames). */
json_object *proto_error_object(const berr_t *err);
json_object *proto_reply_error(json_object *id, const berr_t *err);
/* The reply as one line, "\n" included (malloc'd). */
char *proto_reply_line(json_object *reply, size_t *len);

/* Fills err with `unknown_method`, listing the known methods. Returns -1. */
int proto_unknown_method(berr_t *err, const char *method, const char *const *names, size_t n);

/* Typed params. An absent key or a JSON null means "not given". Wrong types
 * give `bad_request` naming the field. Strings with an embedded NUL are refused. */
int param_check_keys(json_object *obj, const char *what, const char *const *allowed, berr_t *err);
int param_string(json_object *params, const char *key, bool required, const char **out,
                 berr_t *err);
int param_bool(json_object *params, const char *key, bool def, bool *out, berr_t *err);
/* An integer in [min, max]; out of range is `invalid`. *given (may be NULL) tells presence. */
int param_int(json_object *params, const char *key, int64_t def, int64_t min, int64_t max,
              int64_t *out, bool *given, berr_t *err);
/* Any JSON number. */
int param_number(json_object *params, const char *key, double def, double *out, bool *given,
                 berr_t *err);
/* An array of strings (NULL-terminated copy in *out), NULL when not given. */
int param_strv(json_object *params, const char *key, char ***out, berr_t *err);
/* As param_strv, for what a client asks a process to get (cmd, entrypoint,
 * env): at most PROTO_MAX_STRV strings of at most PROTO_MAX_STRV_BYTES each
 * (execve itself takes 128 KiB per string and 2 MiB in all); more is `limit`. */
#define PROTO_MAX_STRV 4096
#define PROTO_MAX_STRV_BYTES 65536
int param_strv_limited(json_object *params, const char *key, char ***out, berr_t *err);
/* An object, NULL (borrowed) when not given. */
int param_object(json_object *params, const char *key, json_object **out, berr_t *err);

/* A JSON string without embedded NULs. */
bool json_string_is_clean(json_object *s);

#endif
